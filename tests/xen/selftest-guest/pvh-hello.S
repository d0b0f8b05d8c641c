/*
 * Harness self-test guest: the smallest PVH kernel that proves a domU runs.
 * Xen enters at pvh_start in 32-bit protected mode, paging off, %ebx = physical
 * address of struct hvm_start_info. It prints to I/O port 0xe9 (shown in
 * `xl dmesg` with guest_loglvl=all):
 *   HARNESS-SELFTEST-HELLO
 *   HARNESS-SELFTEST-CMDLINE <extra= string from the xl config>
 *   HARNESS-SELFTEST-HYPERCALL-PAGE
 * then powers itself off with sched_op(SCHEDOP_shutdown, SHUTDOWN_poweroff)
 * through the hypercall page (32-bit guest: compat ABI, arguments in ebx, ecx).
 */
        .set XEN_ELFNOTE_PHYS32_ENTRY, 18
        .set HYPERVISOR_sched_op, 29
        .set SCHEDOP_shutdown, 2
        .set SHUTDOWN_poweroff, 0
        .set START_INFO_MAGIC, 0x336ec578

        .section .note.Xen, "a", @note
        .balign 4
        .long 4                          /* name size: "Xen\0" */
        .long 4                          /* descriptor size */
        .long XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .long pvh_start

        .text
        .code32
        .globl pvh_start
pvh_start:
        cli
        movl $stack_top, %esp
        movl %ebx, %edi                  /* keep the start_info pointer */

        movl $msg_hello, %esi
        call puts

        movl $msg_cmdline, %esi
        call puts
        cmpl $START_INFO_MAGIC, (%edi)
        jne 1f
        movl 24(%edi), %esi              /* cmdline_paddr (low 32 bits) */
        testl %esi, %esi
        jz 1f
        call puts
1:      movl $msg_newline, %esi
        call puts

        /* find Xen's CPUID leaves: "XenVMMXenVMM" at 0x40000000 + n * 0x100 */
        movl $0x40000000, %ebp
2:      movl %ebp, %eax
        cpuid
        cmpl $0x566e6558, %ebx           /* "XenV" */
        jne 3f
        cmpl $0x65584d4d, %ecx           /* "MMXe" */
        jne 3f
        cmpl $0x4d4d566e, %edx           /* "nVMM" */
        je 4f
3:      addl $0x100, %ebp
        cmpl $0x40010000, %ebp
        jb 2b
        movl $msg_no_xen, %esi
        call puts
        jmp halt

        /* leaf base+2: ebx = MSR that installs the hypercall page */
4:      leal 2(%ebp), %eax
        cpuid
        movl %ebx, %ecx
        movl $hypercall_page, %eax
        xorl %edx, %edx
        wrmsr
        movl $msg_hypercall, %esi
        call puts

        movl $SCHEDOP_shutdown, %ebx
        movl $shutdown_reason, %ecx
        call hypercall_page + HYPERVISOR_sched_op * 32
        movl $msg_still_alive, %esi
        call puts
halt:   hlt
        jmp halt

/* puts: write the NUL-terminated string at %esi to port 0xe9 */
puts:
        lodsb
        testb %al, %al
        jz 5f
        outb %al, $0xe9
        jmp puts
5:      ret

        .section .rodata
msg_hello:       .asciz "HARNESS-SELFTEST-HELLO\n"
msg_cmdline:     .asciz "HARNESS-SELFTEST-CMDLINE "
msg_newline:     .asciz "\n"
msg_hypercall:   .asciz "HARNESS-SELFTEST-HYPERCALL-PAGE\n"
msg_no_xen:      .asciz "HARNESS-SELFTEST-NO-XEN-CPUID\n"
msg_still_alive: .asciz "HARNESS-SELFTEST-SHUTDOWN-FAILED\n"

        .data
        .balign 4
shutdown_reason: .long SHUTDOWN_poweroff

        .bss
        .balign 4096
hypercall_page:  .skip 4096
stack:           .skip 4096
stack_top:
