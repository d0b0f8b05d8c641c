//! `errno.h`: Xen's error numbers.
//!
//! Every `XEN_ERRNO(name, value)` that Xen's public `errno.h` exposes to
//! guests (`EINTR` and `ERESTART` are internal to Xen and not listed).
//! Hypercalls and sndif responses return these negated.
#![forbid(unsafe_code)]

/// `XEN_EPERM` (1): Operation not permitted.
pub const XEN_EPERM: i32 = 1;
/// `XEN_ENOENT` (2): No such file or directory.
pub const XEN_ENOENT: i32 = 2;
/// `XEN_ESRCH` (3): No such process.
pub const XEN_ESRCH: i32 = 3;
/// `XEN_EIO` (5): I/O error.
pub const XEN_EIO: i32 = 5;
/// `XEN_ENXIO` (6): No such device or address.
pub const XEN_ENXIO: i32 = 6;
/// `XEN_E2BIG` (7): Arg list too long.
pub const XEN_E2BIG: i32 = 7;
/// `XEN_ENOEXEC` (8): Exec format error.
pub const XEN_ENOEXEC: i32 = 8;
/// `XEN_EBADF` (9): Bad file number.
pub const XEN_EBADF: i32 = 9;
/// `XEN_ECHILD` (10): No child processes.
pub const XEN_ECHILD: i32 = 10;
/// `XEN_EAGAIN` (11): Try again.
pub const XEN_EAGAIN: i32 = 11;
/// `XEN_EWOULDBLOCK` (11): Operation would block (aliases EAGAIN).
pub const XEN_EWOULDBLOCK: i32 = 11;
/// `XEN_ENOMEM` (12): Out of memory.
pub const XEN_ENOMEM: i32 = 12;
/// `XEN_EACCES` (13): Permission denied.
pub const XEN_EACCES: i32 = 13;
/// `XEN_EFAULT` (14): Bad address.
pub const XEN_EFAULT: i32 = 14;
/// `XEN_EBUSY` (16): Device or resource busy.
pub const XEN_EBUSY: i32 = 16;
/// `XEN_EEXIST` (17): File exists.
pub const XEN_EEXIST: i32 = 17;
/// `XEN_EXDEV` (18): Cross-device link.
pub const XEN_EXDEV: i32 = 18;
/// `XEN_ENODEV` (19): No such device.
pub const XEN_ENODEV: i32 = 19;
/// `XEN_ENOTDIR` (20): Not a directory.
pub const XEN_ENOTDIR: i32 = 20;
/// `XEN_EISDIR` (21): Is a directory.
pub const XEN_EISDIR: i32 = 21;
/// `XEN_EINVAL` (22): Invalid argument.
pub const XEN_EINVAL: i32 = 22;
/// `XEN_ENFILE` (23): File table overflow.
pub const XEN_ENFILE: i32 = 23;
/// `XEN_EMFILE` (24): Too many open files.
pub const XEN_EMFILE: i32 = 24;
/// `XEN_ENOSPC` (28): No space left on device.
pub const XEN_ENOSPC: i32 = 28;
/// `XEN_EROFS` (30): Read-only file system.
pub const XEN_EROFS: i32 = 30;
/// `XEN_EMLINK` (31): Too many links.
pub const XEN_EMLINK: i32 = 31;
/// `XEN_EDOM` (33): Math argument out of domain of func.
pub const XEN_EDOM: i32 = 33;
/// `XEN_ERANGE` (34): Math result not representable.
pub const XEN_ERANGE: i32 = 34;
/// `XEN_EDEADLK` (35): Resource deadlock would occur.
pub const XEN_EDEADLK: i32 = 35;
/// `XEN_EDEADLOCK` (35): Resource deadlock would occur (aliases EDEADLK).
pub const XEN_EDEADLOCK: i32 = 35;
/// `XEN_ENAMETOOLONG` (36): File name too long.
pub const XEN_ENAMETOOLONG: i32 = 36;
/// `XEN_ENOLCK` (37): No record locks available.
pub const XEN_ENOLCK: i32 = 37;
/// `XEN_ENOSYS` (38): Function not implemented.
pub const XEN_ENOSYS: i32 = 38;
/// `XEN_ENOTEMPTY` (39): Directory not empty.
pub const XEN_ENOTEMPTY: i32 = 39;
/// `XEN_ENODATA` (61): No data available.
pub const XEN_ENODATA: i32 = 61;
/// `XEN_ETIME` (62): Timer expired.
pub const XEN_ETIME: i32 = 62;
/// `XEN_EBADMSG` (74): Not a data message.
pub const XEN_EBADMSG: i32 = 74;
/// `XEN_EOVERFLOW` (75): Value too large for defined data type.
pub const XEN_EOVERFLOW: i32 = 75;
/// `XEN_EILSEQ` (84): Illegal byte sequence.
pub const XEN_EILSEQ: i32 = 84;
/// `XEN_ENOTSOCK` (88): Socket operation on non-socket.
pub const XEN_ENOTSOCK: i32 = 88;
/// `XEN_EMSGSIZE` (90): Message too large.
pub const XEN_EMSGSIZE: i32 = 90;
/// `XEN_EOPNOTSUPP` (95): Operation not supported on transport endpoint.
pub const XEN_EOPNOTSUPP: i32 = 95;
/// `XEN_EADDRINUSE` (98): Address already in use.
pub const XEN_EADDRINUSE: i32 = 98;
/// `XEN_EADDRNOTAVAIL` (99): Cannot assign requested address.
pub const XEN_EADDRNOTAVAIL: i32 = 99;
/// `XEN_ENOBUFS` (105): No buffer space available.
pub const XEN_ENOBUFS: i32 = 105;
/// `XEN_EISCONN` (106): Transport endpoint is already connected.
pub const XEN_EISCONN: i32 = 106;
/// `XEN_ENOTCONN` (107): Transport endpoint is not connected.
pub const XEN_ENOTCONN: i32 = 107;
/// `XEN_ETIMEDOUT` (110): Connection timed out.
pub const XEN_ETIMEDOUT: i32 = 110;
/// `XEN_ECONNREFUSED` (111): Connection refused.
pub const XEN_ECONNREFUSED: i32 = 111;
