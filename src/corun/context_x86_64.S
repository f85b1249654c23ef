// context_x86_64.S: context switch for x86-64 System V.
// Saves only what the ABI says a callee must preserve: rbx, rbp, r12-r15, the
// stack pointer, the return address (on the stack), MXCSR and the x87
// control word.
        .text

// void corun_context_switch(void** save_sp, void* load_sp)
        .globl  corun_context_switch
        .type   corun_context_switch,@function
        .p2align 4
corun_context_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   corun_context_switch,.-corun_context_switch

// corun_context_start: the first "return address" of a fresh context.
// context_make() left the entry function in r13 and its argument in r12.
        .globl  corun_context_start
        .type   corun_context_start,@function
        .p2align 4
corun_context_start:
        .cfi_startproc
        .cfi_undefined rip
        movq    %r12, %rdi
        callq   *%r13
        ud2
        .cfi_endproc
        .size   corun_context_start,.-corun_context_start

        .section .note.GNU-stack,"",@progbits
