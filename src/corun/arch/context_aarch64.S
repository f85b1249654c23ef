// context_aarch64.S: context switch for AArch64 (AAPCS64).
// Saves only the callee-saved state: x19-x28, fp (x29), lr (x30), sp and the
// low halves of v8-v15 (d8-d15). As on x86-64, the floating-point control
// register (FPCR) is not switched: it belongs to the worker thread.
        .text

// void corun_context_switch(void** save_sp, void* load_sp)
        .globl  corun_context_switch
        .type   corun_context_switch,%function
        .p2align 4
corun_context_switch:
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .size   corun_context_switch,.-corun_context_switch

// corun_context_start: where a fresh context's first `ret` lands;
// context_make() left the entry function in x20 and its argument in x19.
        .globl  corun_context_start
        .type   corun_context_start,%function
        .p2align 4
corun_context_start:
        .cfi_startproc
        .cfi_undefined x30      // no caller: unwinders and debuggers stop here
        mov     x0, x19
        blr     x20
        brk     #0
        .cfi_endproc
        .size   corun_context_start,.-corun_context_start

        .section .note.GNU-stack,"",%progbits
