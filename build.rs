//! The runtime's link map comes with the crate: an application that depends
//! on `xensnd` and builds for `x86_64-unknown-none` gets it without a
//! `.cargo/config.toml` or a build script of its own.
//!
//! `linker.ld` is copied to `OUT_DIR` as `xensnd.ld`, `OUT_DIR` joins the
//! library search path, and the script is named as a library (`-l:xensnd.ld`,
//! not bundled into the rlib): the linker (rust-lld) reads an input that is
//! neither an object nor an archive as a linker script. Cargo passes a
//! dependency's `rustc-link-lib`/`rustc-link-search` on to the final link of
//! the application's binary (a `rustc-link-arg=-T...` would reach only this
//! package's own binaries).
use std::path::PathBuf;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    fs::copy(manifest.join("linker.ld"), out.join("xensnd.ld")).expect("copy linker.ld to OUT_DIR");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static:-bundle,+verbatim=xensnd.ld");
}
