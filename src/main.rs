//! The xensnd guest image (PVH entry lives in `boot/`, wired up by the boot issue).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("xensnd is a Xen guest image: build it with --target x86_64-unknown-none");
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
