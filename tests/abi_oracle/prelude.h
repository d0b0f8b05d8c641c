/*
 * Prelude of the ABI oracle (tests/abi_oracle.rs): the real Xen public headers
 * and the print helpers. The test appends a main() that prints, for every item
 * src/abi mirrors, one line "<key> <value>" computed by the C compiler from
 * these headers, and compares it with the Rust value.
 *
 * Compiled for an x86_64 guest with the latest interface version of the
 * installed headers (Xen 4.17: 0x00040e00).
 */
#include <errno.h>   /* xs_wire.h only defines xsd_errors[] when EINVAL exists */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/version.h>
#include <xen/features.h>
#include <xen/memory.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/io/ring.h>
#include <xen/io/sndif.h>
#include <xen/io/xs_wire.h>
#include <xen/io/console.h>
#include <xen/io/xenbus.h>

#if !defined(__x86_64__)
#error "the oracle describes the x86_64 ABI"
#endif

/* An integer of any type, printed exactly (negative values with a sign). */
#define ORACLE_INT(key, expr)                                                   \
    do {                                                                        \
        if ((expr) < 0)                                                         \
            printf("%s -%llu\n", key, -(unsigned long long)(expr));             \
        else                                                                    \
            printf("%s %llu\n", key, (unsigned long long)(expr));               \
    } while (0)

/* A string constant, printed between double quotes. */
#define ORACLE_STR(key, expr) printf("%s \"%s\"\n", key, (expr))

/*
 * Every error number errno.h gives a guest, listed by expanding the header's
 * XEN_ERRNO(name, value) list (the test checks each is mirrored in Rust).
 */
static void oracle_errno_list(void)
{
#define XEN_ERRNO(name, value) ORACLE_INT("errno XEN_" #name, value);
#include <xen/errno.h>
}
