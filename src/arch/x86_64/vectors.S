/*
 * Interrupt and exception entry stubs (Intel SDM vol. 3, 6.12 and 6.14).
 *
 * Each stub makes the stack look the same: it pushes a zero error code when
 * the CPU does not push one, then its vector number, then jumps to
 * xensnd_interrupt_common, which saves the caller-saved registers and calls
 * xensnd_interrupt_dispatch(&InterruptFrame) (src/arch/x86_64/idt.rs).
 * Exceptions never come back; other vectors return through iretq.
 *
 * xensnd_vector_table lists the stub for vectors 0..31, then the stub of the
 * event-channel upcall vector (EVENT_CALLBACK_VECTOR in idt.rs).
 */
    .text
    .code64

.macro XENSND_STUB_NO_ERROR vector
xensnd_vector_\vector:
    pushq $0
    pushq $\vector
    jmp xensnd_interrupt_common
.endm

.macro XENSND_STUB_ERROR vector
xensnd_vector_\vector:
    pushq $\vector
    jmp xensnd_interrupt_common
.endm

.irp vector, 0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 31, 243
    XENSND_STUB_NO_ERROR \vector
.endr
.irp vector, 8, 10, 11, 12, 13, 14, 17, 21, 29, 30
    XENSND_STUB_ERROR \vector
.endr

xensnd_interrupt_common:
    /* The CPU pushed ss, rsp, rflags, cs, rip on a 16-byte aligned stack;
     * with the error code, the vector and these nine registers the stack is
     * 16-byte aligned again at the call. */
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    mov %rsp, %rdi
    cld
    call xensnd_interrupt_dispatch
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    add $16, %rsp                   /* vector and error code */
    iretq

    .section .rodata.xensnd_vectors, "a", @progbits
    .balign 8
    .global xensnd_vector_table
xensnd_vector_table:
.irp vector, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 243
    .quad xensnd_vector_\vector
.endr

    .text
