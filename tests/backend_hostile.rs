//! The backend against a hostile guest, one regression test per defect of
//! issue #13 item 4 (the random run is `tests/backend_chaos.rs`): guest
//! strings escaped and cut in logs, warnings rate-limited per stream,
//! per-domain and total caps on streams and mapped pages (a clean error,
//! visible to the guest, logged once, nothing leaked). Everything runs in
//! the simulator against the engine and XenBus state machine `sndback`
//! runs, driven by `xensnd_sim::back_chaos::HostileFrontend`.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::cell::RefCell;
use std::sync::Once;

use xen_abi::sndif::*;
use xensnd_backend::quota::{Caps, Usage};
use xensnd_backend::status;
use xensnd_sim::back_chaos::{HostileFrontend, GUEST};
use zerocopy::IntoBytes;

// ---- a logger that keeps each test thread's lines ----

thread_local! {
    static LINES: RefCell<Vec<(log::Level, String)>> = const { RefCell::new(Vec::new()) };
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        LINES.with(|lines| lines.borrow_mut().push((record.level(), line)));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;
static INSTALL: Once = Once::new();

/// Start capturing this thread's log lines (from scratch).
fn capture() {
    INSTALL.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    LINES.with(|lines| lines.borrow_mut().clear());
}

/// The lines logged at `level` or more severe since [`capture`].
fn lines(level: log::Level) -> Vec<String> {
    LINES.with(|lines| {
        lines
            .borrow()
            .iter()
            .filter(|(at, _)| *at <= level)
            .map(|(_, line)| line.clone())
            .collect()
    })
}

// ---- requests ----

fn request(id: u16, operation: u8, payload: &[u8]) -> Request {
    Request::new(id, operation, payload)
}

fn open(frontend: &HostileFrontend, id: u16, buffer_sz: u32) -> Request {
    let open = OpenRequest {
        pcm_rate: 48_000,
        pcm_format: XENSND_PCM_FORMAT_S16_LE,
        pcm_channels: 2,
        reserved: 0,
        buffer_sz,
        gref_directory: frontend.directory_ref(),
        period_sz: 1024,
    };
    request(id, XENSND_OP_OPEN, open.as_bytes())
}

fn write(id: u16) -> Request {
    let rw = RwRequest {
        offset: 0,
        length: 64,
    };
    request(id, XENSND_OP_WRITE, rw.as_bytes())
}

fn unlimited() -> Caps {
    Caps::UNLIMITED
}

/// A connected frontend of domain `GUEST` against a backend with `caps`.
fn connected(caps: Caps) -> HostileFrontend {
    let (sim, view, ledger) = HostileFrontend::backend(caps, false);
    let mut frontend = HostileFrontend::attach(&sim, &view, &ledger, GUEST);
    frontend.settle();
    frontend
}

fn backend_state(frontend: &HostileFrontend) -> String {
    let path = format!("/local/domain/0/backend/vsnd/{}/0/state", frontend.domid());
    String::from_utf8(frontend.sim().store_read(&path).unwrap()).unwrap()
}

fn backend_error(frontend: &HostileFrontend) -> Option<String> {
    let path = format!(
        "/local/domain/0/error/backend/vsnd/{}/0/error",
        frontend.domid()
    );
    frontend
        .sim()
        .store_read(&path)
        .ok()
        .map(|bytes| String::from_utf8(bytes).unwrap())
}

// ---- the tests ----

#[test]
fn unique_id_is_escaped_in_logs() {
    capture();
    let (sim, view, ledger) = HostileFrontend::backend(unlimited(), false);
    let frontend = HostileFrontend::attach(&sim, &view, &ledger, GUEST);
    let forged = format!(
        "spk\n2026-01-01T00:00:00.000Z sndback ERROR forged\u{1b}[2J\u{202e}{}",
        "x".repeat(180)
    );
    frontend.write(&format!("{}/unique-id", frontend.stream_path(0)), &forged);
    let mut frontend = frontend;
    frontend.settle();
    // A request that fails (WRITE before OPEN) logs a warning naming the stream.
    frontend.send(0, &[write(1)]);
    frontend.settle();
    let all = lines(log::Level::Trace);
    let naming: Vec<&String> = all.iter().filter(|line| line.contains("spk")).collect();
    assert!(naming.len() >= 2, "{all:#?}");
    for line in &all {
        assert!(!line.contains('\n'), "a raw newline: {line:?}");
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{202e}'),
            "{line:?}"
        );
        assert!(line.len() < 1024, "cut: {} bytes", line.len());
    }
    assert!(naming
        .iter()
        .any(|line| line.contains("spk\\n2026") && line.contains("bytes)")));
    frontend.finish();
}

#[test]
fn frontend_error_text_is_escaped_in_logs_and_in_the_backend_error_node() {
    capture();
    let mut frontend = connected(unlimited());
    assert_eq!(backend_state(&frontend), "4");
    // The frontend fails after connecting (xenbus_dev_fatal) with a hostile message.
    let error_path = format!(
        "/local/domain/{}/error/device/vsnd/0/error",
        frontend.domid()
    );
    frontend.write(
        &error_path,
        &format!("22 bad\nERROR forged {}", "y".repeat(5000)),
    );
    frontend.write_state("5");
    frontend.settle();
    let published = backend_error(&frontend).expect("the device settled with an error");
    assert!(!published.contains('\n'), "{published:?}");
    assert!(published.len() < 512, "{}", published.len());
    assert!(published.contains("bad\\nERROR forged"), "{published}");
    for line in lines(log::Level::Trace) {
        assert!(!line.contains('\n') && line.len() < 1024, "{line:?}");
    }
    frontend.finish();
}

#[test]
fn warnings_are_rate_limited_per_stream() {
    capture();
    let mut frontend = connected(unlimited());
    // 200 failing requests on spk, 5 on mic, at one instant.
    let bad: Vec<Request> = (0..200).map(|id| write(id as u16)).collect();
    for chunk in bad.chunks(20) {
        frontend.send(0, chunk);
        frontend.settle();
    }
    frontend.send(1, &bad[..5]);
    frontend.settle();
    let warnings = |id: &str| -> Vec<String> {
        lines(log::Level::Warn)
            .into_iter()
            .filter(|line| line.contains(&format!("({id})")))
            .collect()
    };
    let spk = warnings("spk");
    assert_eq!(spk.len(), 10, "the first 10 of 200: {spk:#?}");
    assert_eq!(
        warnings("mic").len(),
        5,
        "another stream has its own budget"
    );
    // Every request was still answered, with its error.
    let answers = frontend.last_responses(0, 20);
    assert!(answers.iter().all(|answer| answer.status == status::EINVAL));
    // The next interval: the first line says how many were suppressed.
    let now = frontend.sim().now_ns();
    frontend.sim().advance_to(now + 10_000_000_000);
    frontend.send(0, &[write(999)]);
    frontend.settle();
    let spk = warnings("spk");
    assert_eq!(spk.len(), 12, "{spk:#?}");
    assert!(spk[10].contains("190 log lines"), "{}", spk[10]);
    // The stream going away reports what was suppressed since.
    for chunk in bad.chunks(20) {
        frontend.send(0, chunk);
        frontend.settle();
    }
    frontend.write_state("6");
    frontend.settle();
    let spk = warnings("spk");
    assert!(spk.last().unwrap().contains("191 log lines"), "{spk:#?}");
    frontend.finish();
}

#[test]
fn stream_cap_per_domain_settles_the_device_with_an_error_node() {
    capture();
    // Two streams, one allowed.
    let frontend = connected(Caps {
        streams_per_domain: 1,
        ..Caps::UNLIMITED
    });
    assert_eq!(backend_state(&frontend), "6", "Closed, not Connected");
    let error = backend_error(&frontend).unwrap();
    assert!(error.starts_with("28 "), "ENOSPC: {error}");
    assert!(
        error.contains("more than 1 streams for this domain"),
        "{error}"
    );
    assert_eq!(frontend.mappings(), 0, "the first stream's pages went back");
    assert_eq!(frontend.bound_ports(), 0);
    // Logged once, however often the frontend pokes it.
    let mut frontend = frontend;
    for state in ["1", "3", "4", "3"] {
        frontend.write_state(state);
        frontend.settle();
    }
    let settled: Vec<String> = lines(log::Level::Error)
        .into_iter()
        .filter(|line| line.contains("cannot connect"))
        .collect();
    assert_eq!(settled.len(), 1, "{settled:#?}");
    frontend.finish();
}

#[test]
fn stream_cap_total_refuses_a_second_domain() {
    capture();
    let (sim, view, ledger) = HostileFrontend::backend(
        Caps {
            streams_total: 3,
            ..Caps::UNLIMITED
        },
        false,
    );
    let mut first = HostileFrontend::attach(&sim, &view, &ledger, GUEST);
    first.settle();
    let mut second = HostileFrontend::attach(&sim, &view, &ledger, GUEST + 1);
    second.settle();
    assert_eq!(backend_state(&first), "4");
    assert_eq!(backend_state(&second), "6");
    assert!(backend_error(&second)
        .unwrap()
        .contains("more than 3 streams in all"));
    assert_eq!(ledger.total().streams, 2);
    first.check();
    second.check();
    // Once the first goes, the second connects when it tries again.
    first.finish();
    for state in ["6", "1", "3"] {
        second.write_state(state);
        second.settle();
    }
    second.write_state("3");
    second.settle();
    assert_eq!(backend_state(&second), "4");
    second.check();
    second.finish();
    assert_eq!(ledger.total(), Usage::default());
}

#[test]
fn page_cap_per_domain_refuses_open_with_enomem() {
    capture();
    // Rings: 2 streams x 2 pages; then 4 more pages.
    let mut frontend = connected(Caps {
        pages_per_domain: 8,
        ..Caps::UNLIMITED
    });
    assert_eq!(frontend.mappings(), 4);
    frontend.send(0, &[open(&frontend, 1, 16_384)]);
    frontend.settle();
    assert_eq!(frontend.last_responses(0, 1)[0].status, 0);
    assert_eq!(frontend.mappings(), 8);
    // One more page is too many: refused before anything is mapped.
    for id in 2..50 {
        frontend.send(1, &[open(&frontend, id, 4096)]);
        frontend.settle();
        let answer = frontend.last_responses(1, 1)[0];
        assert_eq!((answer.id, answer.status), (id, status::ENOMEM));
        assert_eq!(frontend.mappings(), 8);
        frontend.check();
    }
    let refusals: Vec<String> = lines(log::Level::Warn)
        .into_iter()
        .filter(|line| line.contains("mapped pages for this domain"))
        .collect();
    assert_eq!(refusals.len(), 10, "rate-limited: {refusals:#?}");
    // Reopening the first stream smaller frees room for the second.
    frontend.send(0, &[open(&frontend, 60, 4096)]);
    frontend.send(1, &[open(&frontend, 61, 8192)]);
    frontend.settle();
    assert_eq!(frontend.last_responses(0, 1)[0].status, 0);
    assert_eq!(frontend.last_responses(1, 1)[0].status, 0);
    assert_eq!(frontend.mappings(), 4 + 1 + 2);
    frontend.check();
    frontend.finish();
}

#[test]
fn page_cap_total_refuses_open_across_domains() {
    capture();
    let (sim, view, ledger) = HostileFrontend::backend(
        Caps {
            pages_total: 12,
            ..Caps::UNLIMITED
        },
        false,
    );
    let mut first = HostileFrontend::attach(&sim, &view, &ledger, GUEST);
    let mut second = HostileFrontend::attach(&sim, &view, &ledger, GUEST + 1);
    first.settle();
    second.settle();
    assert_eq!(ledger.total().pages, 8, "both connected");
    first.send(0, &[open(&first, 1, 16_384)]);
    first.settle();
    assert_eq!(first.last_responses(0, 1)[0].status, 0);
    second.send(0, &[open(&second, 1, 4096)]);
    second.settle();
    assert_eq!(second.last_responses(0, 1)[0].status, status::ENOMEM);
    assert_eq!(ledger.total().pages, 12);
    first.check();
    second.check();
    first.finish();
    second.send(0, &[open(&second, 2, 4096)]);
    second.settle();
    assert_eq!(second.last_responses(0, 1)[0].status, 0);
    second.finish();
    assert_eq!(ledger.total(), Usage::default());
    assert_eq!(ledger.domains(), 0);
}
