//! Mirrors of Xen's public headers (Debian `libxen-dev`, Xen 4.17).
//!
//! `#[repr(C)]` structs with explicit padding, constants under their C names,
//! a compile-time size assertion per struct, no logic and no `unsafe`.
//! `tests/abi_oracle.rs` compiles a C program against `/usr/include/xen` and
//! checks every size, offset and constant here against it.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod console;
pub mod errno;
pub mod event_channel;
pub mod grant_table;
pub mod hvm;
pub mod memory;
pub mod ring;
pub mod sched;
pub mod shared_info;
pub mod sndif;
pub mod start_info;
pub mod vcpu;
pub mod xen;
pub mod xenbus;
pub mod xs_wire;
