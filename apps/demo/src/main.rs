//! The xensnd demo image: an application on the xensnd runtime, like a
//! user's own (see `apps/hello` for the smallest one).
//!
//! The runtime (`xensnd::rt`) brings the platform, XenStore, the shutdown
//! watch and the vsnd cards up and calls [`demo`]. It runs the demo chosen
//! by the command line (`xensnd_demo::run`: `demo=tone|chime|record|
//! loopback|list|idle|cycles`, ...), prints the `XENSND-TIMING` figures the
//! benchmark reads, and returns: the runtime prints `XENSND-DONE ok` or
//! `XENSND-DONE failed: <why>` and powers off (crash status on failure;
//! `demo=idle` waits for `xl shutdown` / `xl reboot`).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
extern crate alloc;

xensnd::main!(guest::demo);

#[cfg(target_os = "none")]
mod guest {
    use alloc::format;
    use alloc::string::String;

    use xensnd::rt::{AppResult, Runtime};
    use xensnd_demo::run::{run, Options};

    /// The demo: options from the command line, the demo they name, the
    /// timing report; then the cards that failed to connect make it fail.
    pub fn demo(rt: &mut Runtime) -> AppResult {
        let options = Options::parse(rt.command_line().options())?;
        let demo_given = rt.option("demo").is_some();
        let outcome = if !demo_given && rt.streams().is_empty() && rt.failed_cards().is_empty() {
            log::info!("no vsnd device and no demo= option: nothing to play");
            Ok(())
        } else if options.demo == "idle" {
            let outcome = run(rt.sound(), rt.clock(), &options);
            if outcome.is_ok() {
                log::info!("idle: waiting for xl shutdown / xl reboot (control/shutdown)");
                rt.wait_for_shutdown();
            }
            outcome
        } else {
            run(rt.sound(), rt.clock(), &options)
        };
        rt.report_timing();
        outcome?;
        if let Some((path, error)) = rt.failed_cards().first() {
            let failed: String = format!(
                "{} vsnd device(s) failed, first: {path}: {error}",
                rt.failed_cards().len()
            );
            return Err(failed.into());
        }
        Ok(())
    }
}
