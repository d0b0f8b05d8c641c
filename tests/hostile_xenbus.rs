//! Hostile backend, XenBus and XenStore: switching to Closing mid-stream,
//! vanishing from XenStore, garbage in its state node, never reaching
//! InitWait, keeping the pages mapped at teardown, and malformed vsnd
//! nodes (non-numeric, huge or negative backend-id, negative and huge
//! numbers, missing nodes, a bad sample-rates in one stream). Every case
//! ends in an error naming the XenStore node, or a clean disconnect; no
//! grant stays behind.

mod hostile_common;

use hostile_common::*;
use xensnd_pcm::{ErrorKind, Stream, StreamState};
use xensnd_sim::hostile::HostileBackend;
use xensnd_sim::vsnd::SimVsndSpec;
use xensnd_sndif::frontend::{FrontendError, FrontendOptions};
use xensnd_sndif::pcm::SndPlayback;

fn quick() -> FrontendOptions {
    FrontendOptions {
        connect_timeout_ns: 200_000_000,
        request_timeout_ns: 100_000_000,
        ..FrontendOptions::default()
    }
}

#[test]
fn hostile_backend_switching_to_closing_mid_stream_disconnects_then_reconnects() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    world.hostile.borrow_mut().reconnect = true;
    world
        .sim
        .store_write(&format!("{}/state", be_path()), b"5")
        .unwrap();
    world.sim.run_until_idle(100);
    let error = play(&mut pcm, 2400).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Disconnected, "{error}");
    assert_eq!(pcm.state(), StreamState::Open);
    // The hostile backend went back to InitWait; the frontend reconnected.
    world.frontend.poll();
    world.sim.run_until_idle(100);
    world.frontend.poll();
    assert_eq!(world.frontend.connected_devices(), 1);
    assert_eq!(world.hostile.borrow().connections, 2);
    pcm.prepare().unwrap();
    pcm.start().unwrap();
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_backend_vanishing_from_xenstore_disconnects_cleanly() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    // The backend process dies (its mappings go with it) and the toolstack
    // removes its directory.
    {
        let mut state = world.hostile.borrow_mut();
        state.vanished = true;
        world
            .sim
            .with_core(|core| HostileBackend::release(&mut state, core));
    }
    world.sim.store_rm(&be_path()).unwrap();
    world.sim.run_until_idle(100);
    let error = play(&mut pcm, 2400).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Disconnected, "{error}");
    assert_eq!(world.frontend.connected_devices(), 0);
    // Shutdown must not wait for a backend that is gone.
    assert_clean_teardown(&world);
}

#[test]
fn hostile_backend_state_garbage_disconnects() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    world
        .sim
        .store_write(&format!("{}/state", be_path()), b"banana\0\xff")
        .unwrap();
    world.sim.run_until_idle(100);
    let error = play(&mut pcm, 2400).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::Disconnected, "{error}");
    assert_clean_teardown(&world);
}

#[test]
fn hostile_backend_keeping_pages_mapped_leaves_them_revoked_later_never_reused() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    world.hostile.borrow_mut().keep_mappings = true;
    let handles: Vec<u32> = world
        .hostile
        .borrow()
        .streams
        .iter()
        .flat_map(|s| s.handles.iter().chain(&s.buffer_handles).copied())
        .collect();
    world.frontend.shutdown();
    world.sim.run_until_idle(100);
    let stuck = world.frontend.leftover_grants();
    assert_eq!(
        stuck,
        handles.len(),
        "ring and event pages of both streams, spk's buffer and directory"
    );
    assert_eq!(world.sim.granted_refs(GUEST).len(), stuck);
    // The backend finally lets go: the next poll revokes them.
    for handle in handles {
        world.sim.unmap_grant(handle).unwrap();
    }
    world.frontend.poll();
    assert_eq!(world.frontend.leftover_grants(), 0);
    assert_eq!(world.sim.granted_refs(GUEST), Vec::<u32>::new());
}

#[test]
fn hostile_backend_never_reaching_initwait_times_out_naming_the_node() {
    let (sim, probe, _hostile) = probe_vanished();
    assert_eq!(probe.failed.len(), 1);
    let (path, error) = &probe.failed[0];
    assert_eq!(path, &fe_path());
    match error {
        FrontendError::BackendTimeout { path, .. } => {
            assert_eq!(path, &format!("{}/state", be_path()))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(error.to_string().contains("is the backend running"));
    assert_eq!(sim.granted_refs(GUEST), Vec::<u32>::new());
}

fn probe_vanished() -> (
    xensnd_sim::SimXen,
    xensnd_sndif::frontend::Probe<xensnd_sim::SimGuest>,
    xensnd_sim::hostile::Hostile,
) {
    use xensnd_sim::vsnd::add_vsnd_device;
    let sim = xensnd_sim::SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
    let (backend, hostile) = HostileBackend::new(GUEST, 0);
    hostile.borrow_mut().vanished = true;
    sim.add_peer(Box::new(backend));
    let store = guest.xenstore().unwrap();
    let probe = xensnd_sndif::frontend::Frontend::probe(guest, store, quick()).unwrap();
    (sim, probe, hostile)
}

fn probe_failure(edit: impl FnOnce(&xensnd_sim::SimXen)) -> (String, FrontendError) {
    let (sim, probe, _hostile) = probe_with(&SimVsndSpec::simple(), quick(), edit);
    assert_eq!(probe.failed.len(), 1, "{:?}", probe.failed);
    assert_eq!(probe.frontend.connected_devices(), 0);
    assert_eq!(sim.granted_refs(GUEST), Vec::<u32>::new());
    probe.failed.into_iter().next().unwrap()
}

fn assert_bad_node(error: &FrontendError, node: &str, value: &str) {
    match error {
        FrontendError::BadNode { path, value: v } => {
            assert_eq!(path, node);
            assert_eq!(v, value);
        }
        other => panic!("expected BadNode, got {other:?}"),
    }
    assert!(error.to_string().contains(node), "{error}");
}

#[test]
fn hostile_xenstore_non_numeric_backend_id_is_a_bad_node() {
    let node = format!("{}/backend-id", fe_path());
    let (_, error) = probe_failure(|sim| sim.store_write(&node, b"dom0").unwrap());
    assert_bad_node(&error, &node, "dom0");
}

#[test]
fn hostile_xenstore_huge_backend_id_is_a_bad_node() {
    let node = format!("{}/backend-id", fe_path());
    let huge = "18446744073709551616";
    let (_, error) = probe_failure(|sim| sim.store_write(&node, huge.as_bytes()).unwrap());
    assert_bad_node(&error, &node, huge);
    let (_, error) = probe_failure(|sim| sim.store_write(&node, b"65536").unwrap());
    assert_bad_node(&error, &node, "65536");
}

#[test]
fn hostile_xenstore_negative_backend_id_is_a_bad_node() {
    let node = format!("{}/backend-id", fe_path());
    let (_, error) = probe_failure(|sim| sim.store_write(&node, b"-1").unwrap());
    assert_bad_node(&error, &node, "-1");
}

#[test]
fn hostile_xenstore_missing_backend_node_names_it() {
    let node = format!("{}/backend", fe_path());
    let (_, error) = probe_failure(|sim| sim.store_rm(&node).unwrap());
    match &error {
        FrontendError::Store { path, .. } => assert_eq!(path, &node),
        other => panic!("expected Store, got {other:?}"),
    }
}

/// The frontend does not wait for an InitWait before it writes its nodes
/// and Initialised, so the backend at the usual place (which we do not
/// watch) maps the rings; it lets them go when the frontend gives up
/// (Initialising), and the grants are revoked at the next poll.
#[test]
fn hostile_xenstore_backend_path_pointing_nowhere_times_out() {
    let node = format!("{}/backend", fe_path());
    let (sim, probe, _hostile) = probe_with(&SimVsndSpec::simple(), quick(), |sim| {
        sim.store_write(&node, b"/local/domain/0/nowhere").unwrap()
    });
    assert_eq!(probe.failed.len(), 1, "{:?}", probe.failed);
    assert_eq!(probe.frontend.connected_devices(), 0);
    let (_, error) = &probe.failed[0];
    assert!(
        error.to_string().contains("/local/domain/0/nowhere"),
        "{error}"
    );
    sim.run_until_idle(1000);
    probe.frontend.poll();
    assert_eq!(probe.frontend.leftover_grants(), 0);
    assert_eq!(sim.granted_refs(GUEST), Vec::<u32>::new());
}

/// Probe with a spoiled spec; both streams' results and the errors.
fn with_spec(spec: &SimVsndSpec) -> (World, Vec<String>) {
    let (sim, probe, hostile) = probe_with(spec, quick(), |_| {});
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    let world = World {
        sim,
        frontend: probe.frontend,
        hostile,
    };
    let errors = world.frontend.config_errors();
    (world, errors)
}

#[test]
fn hostile_xenstore_bad_sample_rates_in_one_stream_names_the_full_path() {
    let mut spec = SimVsndSpec::simple();
    spec.pcms[0].streams[1]
        .nodes
        .push(("sample-rates".into(), "48000,banana,-5".into()));
    let (world, errors) = with_spec(&spec);
    let node = format!("{}/0/1/sample-rates", fe_path());
    assert!(
        errors.iter().any(|e| e.contains(&node)),
        "errors {errors:?} should name {node}"
    );
    // The other stream comes up and plays.
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_xenstore_negative_and_huge_card_numbers_name_their_nodes() {
    let mut spec = SimVsndSpec::simple();
    spec.card
        .retain(|(k, _)| k != "channels-max" && k != "buffer-size");
    spec.card.push(("channels-max".into(), "-2".into()));
    spec.card
        .push(("buffer-size".into(), "99999999999999999999999".into()));
    let (world, errors) = with_spec(&spec);
    for name in ["channels-max", "buffer-size"] {
        let node = format!("{}/{name}", fe_path());
        assert!(
            errors.iter().any(|e| e.contains(&node)),
            "errors {errors:?} should name {node}"
        );
    }
    // A card level that does not parse offers no streams: the app gets a
    // clear error, nothing is granted for them.
    assert!(world.frontend.streams().is_empty());
    let error = SndPlayback::open_unique_id(&world.frontend, "spk", &request()).unwrap_err();
    assert_eq!(kind(&error), ErrorKind::InvalidInput, "{error}");
    assert_clean_teardown(&world);
}

#[test]
fn hostile_xenstore_negative_number_in_one_stream_drops_only_that_stream() {
    let mut spec = SimVsndSpec::simple();
    spec.pcms[0].streams[1]
        .nodes
        .push(("channels-max".into(), "-2".into()));
    let (world, errors) = with_spec(&spec);
    let node = format!("{}/0/1/channels-max", fe_path());
    assert!(errors.iter().any(|e| e.contains(&node)), "{errors:?}");
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_backend_offering_initwait_after_shutdown_is_not_reconnected() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    world.hostile.borrow_mut().reconnect = true;
    world.frontend.shutdown();
    world.sim.run_until_idle(100);
    // The backend is back in InitWait; the app keeps polling.
    for _ in 0..3 {
        world.frontend.poll();
        world.sim.run_until_idle(100);
    }
    assert_eq!(world.hostile.borrow().connections, 1);
    assert_eq!(world.frontend.connected_devices(), 0);
    assert_eq!(world.sim.granted_refs(GUEST), Vec::<u32>::new());
}

#[test]
fn hostile_xenstore_missing_stream_type_drops_only_that_stream() {
    let (world, errors) = with_spec(&SimVsndSpec::simple());
    drop(world);
    assert!(errors.is_empty(), "{errors:?}");
    let node = format!("{}/0/1/type", fe_path());
    let (sim, probe, hostile) = probe_with(&SimVsndSpec::simple(), quick(), |sim| {
        sim.store_rm(&node).unwrap();
    });
    assert!(probe.failed.is_empty(), "{:?}", probe.failed);
    let world = World {
        sim,
        frontend: probe.frontend,
        hostile,
    };
    let errors = world.frontend.config_errors();
    assert!(errors.iter().any(|e| e.contains(&node)), "{errors:?}");
    let ids: Vec<String> = world
        .frontend
        .streams()
        .iter()
        .map(|s| s.config.unique_id.clone())
        .collect();
    assert_eq!(ids, ["spk"]);
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}

#[test]
fn hostile_backend_keeping_the_buffer_mapped_after_close_never_gets_it_reused() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    world.hostile.borrow_mut().keep_buffer_mapped = true;
    let mapped_before = world.sim.with_core(|core| core.mapped_refs(GUEST));
    pcm.close().unwrap();
    let kept: Vec<u32> = world.hostile.borrow().streams[0].abandoned_handles.clone();
    assert!(kept.len() >= 3, "directory and buffer pages mapped");
    // The backend still maps the old buffer: those grants stay (stuck),
    // and a new OPEN gets fresh pages.
    world.hostile.borrow_mut().keep_buffer_mapped = false;
    let mut pcm = running_speaker(&world);
    let new_buffer: Vec<u32> = world.hostile.borrow().streams[0].buffer_handles.clone();
    let mapped_now = world.sim.with_core(|core| core.mapped_refs(GUEST));
    for gref in &mapped_before {
        assert!(mapped_now.contains(gref), "old grant {gref} still mapped");
    }
    assert_eq!(mapped_now.len(), mapped_before.len() + new_buffer.len());
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    pcm.close().unwrap();
    // The backend lets go of the old buffer at last; teardown is clean.
    for handle in kept {
        world.sim.unmap_grant(handle).unwrap();
    }
    assert_clean_teardown(&world);
}

#[test]
fn hostile_backend_skipping_initwait_times_out_naming_the_node() {
    use xensnd_sim::vsnd::add_vsnd_device;
    let sim = xensnd_sim::SimXen::new();
    let guest = sim.add_guest(GUEST);
    sim.with_core(|core| add_vsnd_device(core, GUEST, 0, &SimVsndSpec::simple()));
    // Connected straight away, without InitWait and without mapping anything.
    sim.store_write(&format!("{}/state", be_path()), b"4")
        .unwrap();
    let store = guest.xenstore().unwrap();
    let probe = xensnd_sndif::frontend::Frontend::probe(guest, store, quick()).unwrap();
    assert_eq!(probe.failed.len(), 1);
    let (_, error) = &probe.failed[0];
    assert!(
        matches!(error, FrontendError::BackendTimeout { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(&be_path()), "{error}");
    assert_eq!(sim.granted_refs(GUEST), Vec::<u32>::new());
}

#[test]
fn hostile_backend_flooding_its_state_node_is_bounded_work() {
    let world = setup();
    let mut pcm = running_speaker(&world);
    let node = format!("{}/state", be_path());
    for _ in 0..20_000 {
        world.sim.store_write(&node, b"4").unwrap();
    }
    world.sim.run_until_idle(1000);
    for _ in 0..5 {
        world.frontend.poll();
        world.sim.run_until_idle(1000);
    }
    // Still Connected (the value never changed) and usable.
    assert_eq!(world.frontend.connected_devices(), 1);
    play(&mut pcm, 2400).unwrap();
    pcm.drain().unwrap();
    assert_clean_teardown(&world);
}
