//! The guest image of `hello`: the runtime calls `app`, which plays on the
//! stream `speaker=` names (default `spk`) and records from `mic=` (`mic`).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

xensnd::main!(app);

#[cfg(target_os = "none")]
fn app(rt: &mut xensnd::rt::Runtime) -> xensnd::rt::AppResult {
    let speaker = rt.option("speaker").unwrap_or("spk");
    let peak = hello::hello(rt.sound(), speaker, rt.option("mic").unwrap_or("mic"))?;
    log::info!("HELLO played {speaker}, recorded 1 s, peak {peak}");
    Ok(())
}
