//! `io/xs_wire.h`: the XenStore wire protocol and the domain's ring page.
//!
//! Implements the message types (`enum xsd_sockmsg_type`), the 16-byte
//! message header, the error strings, and `struct xenstore_domain_interface`
//! (the page at `HVM_PARAM_STORE_PFN`) of Xen 4.17: that version has no
//! `evtchn_port` field (added in later Xen releases).
#![forbid(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `XS_CONTROL`: control commands (was DEBUG).
pub const XS_CONTROL: u32 = 0;
/// `XS_DIRECTORY`: list the children of a node.
pub const XS_DIRECTORY: u32 = 1;
/// `XS_READ`: read a node.
pub const XS_READ: u32 = 2;
/// `XS_GET_PERMS`: read a node's permissions.
pub const XS_GET_PERMS: u32 = 3;
/// `XS_WATCH`: watch a path: payload `path\0token\0`.
pub const XS_WATCH: u32 = 4;
/// `XS_UNWATCH`: remove a watch.
pub const XS_UNWATCH: u32 = 5;
/// `XS_TRANSACTION_START`: start a transaction; the reply is its id.
pub const XS_TRANSACTION_START: u32 = 6;
/// `XS_TRANSACTION_END`: end a transaction: payload `T\0` (commit) or `F\0` (abort).
pub const XS_TRANSACTION_END: u32 = 7;
/// `XS_INTRODUCE`: introduce a domain (dom0).
pub const XS_INTRODUCE: u32 = 8;
/// `XS_RELEASE`: release a domain (dom0).
pub const XS_RELEASE: u32 = 9;
/// `XS_GET_DOMAIN_PATH`: the home path of a domain.
pub const XS_GET_DOMAIN_PATH: u32 = 10;
/// `XS_WRITE`: write a node: payload `path\0value` (no NUL after the value).
pub const XS_WRITE: u32 = 11;
/// `XS_MKDIR`: create a node.
pub const XS_MKDIR: u32 = 12;
/// `XS_RM`: remove a node and its children.
pub const XS_RM: u32 = 13;
/// `XS_SET_PERMS`: set a node's permissions.
pub const XS_SET_PERMS: u32 = 14;
/// `XS_WATCH_EVENT`: a watch fired (unsolicited): payload `path\0token\0`.
pub const XS_WATCH_EVENT: u32 = 15;
/// `XS_ERROR`: error reply: payload an errno name such as `ENOENT\0`.
pub const XS_ERROR: u32 = 16;
/// `XS_IS_DOMAIN_INTRODUCED`: whether a domain is introduced.
pub const XS_IS_DOMAIN_INTRODUCED: u32 = 17;
/// `XS_RESUME`: resume a domain (dom0).
pub const XS_RESUME: u32 = 18;
/// `XS_SET_TARGET`: set a domain's target (dom0).
pub const XS_SET_TARGET: u32 = 19;
/// `XS_RESET_WATCHES`: remove all watches of the connection.
pub const XS_RESET_WATCHES: u32 = 21;
/// `XS_DIRECTORY_PART`: list children in parts.
pub const XS_DIRECTORY_PART: u32 = 22;
/// `XS_TYPE_COUNT`: number of valid types.
pub const XS_TYPE_COUNT: u32 = 23;
/// `XS_INVALID`: guaranteed invalid type.
pub const XS_INVALID: u32 = 65535;
/// `XS_DEBUG`: old name of [`XS_CONTROL`].
pub const XS_DEBUG: u32 = XS_CONTROL;

/// `XS_WATCH_PATH`: index of the path in a `XS_WATCH_EVENT` payload.
pub const XS_WATCH_PATH: u32 = 0;
/// `XS_WATCH_TOKEN`: index of the token in a `XS_WATCH_EVENT` payload.
pub const XS_WATCH_TOKEN: u32 = 1;

/// `XS_WRITE_NONE`.
pub const XS_WRITE_NONE: &str = "NONE";
/// `XS_WRITE_CREATE`.
pub const XS_WRITE_CREATE: &str = "CREATE";
/// `XS_WRITE_CREATE_EXCL`.
pub const XS_WRITE_CREATE_EXCL: &str = "CREATE|EXCL";

/// `xsd_errors[]`: the errors XenStore sends as strings in `XS_ERROR`
/// replies, in the header's order, with their Xen errno values.
#[doc(alias = "xsd_errors")]
pub const XSD_ERRORS: [(i32, &str); 16] = [
    (crate::errno::XEN_EINVAL, "EINVAL"),
    (crate::errno::XEN_EACCES, "EACCES"),
    (crate::errno::XEN_EEXIST, "EEXIST"),
    (crate::errno::XEN_EISDIR, "EISDIR"),
    (crate::errno::XEN_ENOENT, "ENOENT"),
    (crate::errno::XEN_ENOMEM, "ENOMEM"),
    (crate::errno::XEN_ENOSPC, "ENOSPC"),
    (crate::errno::XEN_EIO, "EIO"),
    (crate::errno::XEN_ENOTEMPTY, "ENOTEMPTY"),
    (crate::errno::XEN_ENOSYS, "ENOSYS"),
    (crate::errno::XEN_EROFS, "EROFS"),
    (crate::errno::XEN_EBUSY, "EBUSY"),
    (crate::errno::XEN_EAGAIN, "EAGAIN"),
    (crate::errno::XEN_EISCONN, "EISCONN"),
    (crate::errno::XEN_E2BIG, "E2BIG"),
    (crate::errno::XEN_EPERM, "EPERM"),
];

/// `struct xsd_sockmsg`: the header of every XenStore message; `len` payload
/// bytes follow.
#[doc(alias = "xsd_sockmsg")]
#[repr(C)]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct XsdSockmsg {
    /// `type`: `XS_*`.
    #[doc(alias = "type")]
    pub message_type: u32,
    /// `req_id`: chosen by the client, echoed in the reply.
    pub req_id: u32,
    /// `tx_id`: transaction id, 0 outside a transaction.
    pub tx_id: u32,
    /// `len`: payload bytes (at most [`XENSTORE_PAYLOAD_MAX`]).
    pub len: u32,
}
const _: () = assert!(core::mem::size_of::<XsdSockmsg>() == 16);

/// `XENSTORE_RING_SIZE`: bytes of each ring; indices are masked with `size - 1`.
pub const XENSTORE_RING_SIZE: usize = 1024;

/// `struct xenstore_domain_interface`: the XenStore ring page (Xen 4.17).
#[doc(alias = "xenstore_domain_interface")]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct XenstoreDomainInterface {
    /// `req`: requests to the XenStore daemon.
    pub req: [u8; XENSTORE_RING_SIZE],
    /// `rsp`: replies and watch events.
    pub rsp: [u8; XENSTORE_RING_SIZE],
    /// `req_cons`: written by the daemon.
    pub req_cons: u32,
    /// `req_prod`: written by the guest.
    pub req_prod: u32,
    /// `rsp_cons`: written by the guest.
    pub rsp_cons: u32,
    /// `rsp_prod`: written by the daemon.
    pub rsp_prod: u32,
    /// `server_features`: `XENSTORE_SERVER_FEATURE_*`.
    pub server_features: u32,
    /// `connection`: `XENSTORE_CONNECTED` or `XENSTORE_RECONNECT`.
    pub connection: u32,
    /// `error`: `XENSTORE_ERROR_*`.
    pub error: u32,
}
const _: () = assert!(core::mem::size_of::<XenstoreDomainInterface>() == 2076);

/// `XENSTORE_PAYLOAD_MAX`: the largest payload of one message.
pub const XENSTORE_PAYLOAD_MAX: usize = 4096;
/// `XENSTORE_ABS_PATH_MAX`: the longest absolute path.
pub const XENSTORE_ABS_PATH_MAX: usize = 3072;
/// `XENSTORE_REL_PATH_MAX`: the longest relative path.
pub const XENSTORE_REL_PATH_MAX: usize = 2048;

/// `XENSTORE_SERVER_FEATURE_RECONNECTION`: the ring can be reconnected.
pub const XENSTORE_SERVER_FEATURE_RECONNECTION: u32 = 1;
/// `XENSTORE_SERVER_FEATURE_ERROR`: the `error` field exists.
pub const XENSTORE_SERVER_FEATURE_ERROR: u32 = 2;

/// `XENSTORE_CONNECTED`: steady state.
pub const XENSTORE_CONNECTED: u32 = 0;
/// `XENSTORE_RECONNECT`: reconnection in progress.
pub const XENSTORE_RECONNECT: u32 = 1;

/// `XENSTORE_ERROR_NONE`: no error.
pub const XENSTORE_ERROR_NONE: u32 = 0;
/// `XENSTORE_ERROR_COMM`: communication problem.
pub const XENSTORE_ERROR_COMM: u32 = 1;
/// `XENSTORE_ERROR_RINGIDX`: invalid ring index.
pub const XENSTORE_ERROR_RINGIDX: u32 = 2;
/// `XENSTORE_ERROR_PROTO`: protocol violation (payload too long).
pub const XENSTORE_ERROR_PROTO: u32 = 3;
