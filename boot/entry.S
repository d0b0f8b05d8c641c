/*
 * PVH entry of the xensnd guest (Xen's "HVM direct boot ABI", see
 * xen/include/public/arch-x86/hvm/start_info.h and docs/misc/pvh.pandoc).
 *
 * Xen (and QEMU's -kernel PVH loader) enter at xensnd_pvh_start in 32-bit
 * protected mode with paging off, flat 4 GiB segments, interrupts off and
 * %ebx = physical address of struct hvm_start_info. From there:
 *   1. keep %ebx, zero .bss (the page tables and stacks live there);
 *   2. build identity page tables for the low 4 GiB: 2 MiB pages, except the
 *      first 2 MiB, which use 4 KiB pages so that the guard page below the
 *      boot stack stays unmapped (and src/arch/x86_64/paging.rs can unmap
 *      page 0 once the start info, which firmware may put there, is read);
 *   3. enable PAE (+ FXSR/XMM exception bits), load CR3, set EFER.LME,
 *      enable paging (+ write protection), load a boot GDT and far-jump
 *      into 64-bit code;
 *   4. load data segments and the boot stack, and call
 *      kernel_main(start_info_paddr) (src/main.rs), which never returns.
 *
 * Included by src/arch/x86_64/mod.rs with global_asm!(..., options(att_syntax)).
 */

/* ELF note "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (18): the 32-bit entry. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                         /* namesz ("Xen\0") */
    .long 4                         /* descsz */
    .long 18                        /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long xensnd_pvh_start
    .balign 4

    .section .text.xensnd_boot, "ax", @progbits
    .code32
    .global xensnd_pvh_start
xensnd_pvh_start:
    cli
    cld
    mov %ebx, %ebp                  /* hvm_start_info paddr, kept until kernel_main */

    /* Zero .bss: loaders zero it too, but the boot ABI does not promise it. */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    mov $xensnd_boot_stack_top, %esp

    /* PML4[0] -> PDPT */
    mov $xensnd_pdpt, %eax
    or $0x3, %eax                   /* present | writable */
    mov %eax, xensnd_pml4

    /* PDPT[0..4] -> the four page directories (4 x 1 GiB) */
    mov $xensnd_page_directories, %eax
    or $0x3, %eax
    xor %ecx, %ecx
1:  mov %eax, xensnd_pdpt(,%ecx,8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jne 1b

    /* 2048 x 2 MiB identity pages (present | writable | page size) */
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, xensnd_page_directories(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    /* The first 2 MiB through a page table of 4 KiB pages instead */
    mov $xensnd_low_page_table, %eax
    or $0x3, %eax
    mov %eax, xensnd_page_directories
    xor %ecx, %ecx
3:  mov %ecx, %eax
    shl $12, %eax
    or $0x3, %eax
    mov %eax, xensnd_low_page_table(,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jne 3b

    /* Unmap the boot stack's guard page */
    mov $xensnd_stack_guard, %eax
    shr $12, %eax
    movl $0, xensnd_low_page_table(,%eax,8)

    /* CR4: PAE (5), OSFXSR (9), OSXMMEXCPT (10) */
    mov %cr4, %eax
    or $0x620, %eax
    mov %eax, %cr4

    mov $xensnd_pml4, %eax
    mov %eax, %cr3

    /* EFER.LME */
    mov $0xc0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr

    /* CR0: PE (0), MP (1), clear EM (2), WP (16), PG (31) */
    mov %cr0, %eax
    and $0xfffffffb, %eax
    or $0x80010003, %eax
    mov %eax, %cr0

    lgdt xensnd_boot_gdt_pointer
    ljmp $0x08, $xensnd_long_mode_entry

    .code64
xensnd_long_mode_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $xensnd_boot_stack_top, %rsp
    mov %ebp, %edi                  /* zero-extends: start_info_paddr */
    xor %ebp, %ebp                  /* end of frame-pointer chain */
    call kernel_main
4:  cli
    hlt
    jmp 4b

/* Boot GDT: null, 64-bit code (0x08), data (0x10). src/arch/x86_64/gdt.rs
 * replaces it with one that also holds the TSS, keeping these selectors. */
    .section .rodata.xensnd_boot, "a", @progbits
    .balign 16
xensnd_boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
xensnd_boot_gdt_end:
    .balign 4
    .word 0
xensnd_boot_gdt_pointer:
    .word xensnd_boot_gdt_end - xensnd_boot_gdt - 1
    .long xensnd_boot_gdt

/* Page tables, the hypercall page and the stacks. */
    .section .bss.xensnd_boot, "aw", @nobits
    .balign 4096
xensnd_pml4:
    .skip 4096
xensnd_pdpt:
    .skip 4096
xensnd_page_directories:
    .skip 4 * 4096
    .global xensnd_low_page_table
xensnd_low_page_table:
    .skip 4096

    .global xensnd_hypercall_page
xensnd_hypercall_page:
    .skip 4096

    /* Unmapped: a stack overflow faults here instead of corrupting memory. */
    .global xensnd_stack_guard
xensnd_stack_guard:
    .skip 4096
    .global xensnd_boot_stack_bottom
xensnd_boot_stack_bottom:
    .skip 128 * 1024
    .global xensnd_boot_stack_top
xensnd_boot_stack_top:

    /* Separate stack for the double-fault handler (IST 1 in the TSS). */
    .balign 4096
    .global xensnd_double_fault_stack_bottom
xensnd_double_fault_stack_bottom:
    .skip 16 * 1024
    .global xensnd_double_fault_stack_top
xensnd_double_fault_stack_top:

    .text
