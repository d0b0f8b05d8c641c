//! Stopping the guest: power off on success, crash status on failure.
//!
//! Under Xen: `SCHEDOP_shutdown` with `SHUTDOWN_poweroff` or `SHUTDOWN_crash`
//! (`sched.h`), which the toolstack sees as the domain's exit reason. In plain
//! QEMU: the `isa-debug-exit` device ([`super::debug_exit`]), so QEMU exits
//! with 33 (success) or 35 (failure). If neither works the CPU halts forever.

use super::hypercall::{self, ShutdownReason};
use super::{console, cpu, debug_exit};

/// Stop the guest after a successful run.
pub fn poweroff() -> ! {
    stop(ShutdownReason::PowerOff, debug_exit::VALUE_SUCCESS)
}

/// Reboot (what `xl reboot` asks for): `SHUTDOWN_reboot` under Xen; in
/// plain QEMU the same exit as [`poweroff`].
pub fn reboot() -> ! {
    stop(ShutdownReason::Reboot, debug_exit::VALUE_SUCCESS)
}

/// Stop the guest with a crash status.
pub fn crash() -> ! {
    stop(ShutdownReason::Crash, debug_exit::VALUE_FAILURE)
}

fn stop(reason: ShutdownReason, exit_value: u32) -> ! {
    cpu::disable_interrupts();
    if hypercall::is_available() {
        let error = hypercall::sched_shutdown(reason);
        console::write_fmt(format_args!(
            "SCHEDOP_shutdown({reason:?}) failed: {error:?}\n"
        ));
    } else {
        debug_exit::exit(exit_value);
    }
    cpu::stop()
}
