// context_x86_64.S: context switch for x86-64 System V.
// Saves only the callee-saved general registers: rbx, rbp, r12-r15, the stack
// pointer and the return address (on the stack). The floating-point control
// words (MXCSR, x87 CW) are not switched, as in Go and marl: restoring them
// costs ~9 ns per switch, half of a yield. The FP environment belongs to the
// worker thread; a coroutine that changes the rounding mode or exception
// masks must restore them before it yields or blocks.
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
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
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
