//! Backend engine tests: hand-built sndif requests in plain memory pages,
//! served by the engine through an in-test grant mapper.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use xen_abi::sndif::*;
use xen_guest::ring::{EventConsumer, FrontRing};
use xen_guest::{SharedPage, XenError, PAGE_SIZE};
use xensnd_backend::io::{IoError, MemorySink, NullSink, SilenceSource, ToneSource, Trigger};
use xensnd_backend::status;
use xensnd_backend::{
    Behaviour, Direction, EventIds, GrantMapper, Limits, ProtocolState, Sink, Source, Stream,
    StreamChannel, StreamSetup,
};
use xensnd_pcm::format::SampleFormat;
use zerocopy::IntoBytes;

/// A page in host memory; clones share the bytes. Counts live mappings.
#[derive(Clone)]
struct TestPage {
    bytes: Rc<RefCell<Vec<u8>>>,
    live: Option<Rc<Cell<i64>>>,
}

impl TestPage {
    fn new() -> Self {
        Self {
            bytes: Rc::new(RefCell::new(vec![0; PAGE_SIZE])),
            live: None,
        }
    }
}

impl Drop for TestPage {
    fn drop(&mut self) {
        if let Some(live) = &self.live {
            live.set(live.get() - 1);
        }
    }
}

impl SharedPage for TestPage {
    fn gfn(&self) -> u64 {
        0
    }
    fn load_u32(&self, offset: usize) -> u32 {
        let bytes = self.bytes.borrow();
        u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
    }
    fn store_u32(&self, offset: usize, value: u32) {
        self.bytes.borrow_mut()[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }
    fn read(&self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self.bytes.borrow()[offset..offset + out.len()]);
    }
    fn write(&self, offset: usize, data: &[u8]) {
        self.bytes.borrow_mut()[offset..offset + data.len()].copy_from_slice(data);
    }
}

/// The "frontend's grant table": gref -> page. Mapping hands out a clone
/// that counts as a live mapping until dropped.
#[derive(Default)]
struct TestMapper {
    grants: HashMap<u32, TestPage>,
    /// Grants given read-only: a read-write mapping is refused, as Xen does.
    read_only: std::collections::HashSet<u32>,
    next_gref: u32,
    live: Rc<Cell<i64>>,
    maps: usize,
}

impl TestMapper {
    fn new() -> Self {
        Self {
            next_gref: 8,
            ..Self::default()
        }
    }

    fn grant(&mut self, page: &TestPage) -> u32 {
        let gref = self.next_gref;
        self.next_gref += 1;
        self.grants.insert(
            gref,
            TestPage {
                bytes: page.bytes.clone(),
                live: None,
            },
        );
        gref
    }

    fn grant_read_only(&mut self, page: &TestPage) -> u32 {
        let gref = self.grant(page);
        self.read_only.insert(gref);
        gref
    }
}

impl GrantMapper for TestMapper {
    type Page = TestPage;
    fn map(&mut self, gref: u32, writable: bool) -> Result<TestPage, XenError> {
        if writable && self.read_only.contains(&gref) {
            return Err(XenError::Hypercall(-1));
        }
        let page = self.grants.get(&gref).ok_or(XenError::Invalid)?;
        self.live.set(self.live.get() + 1);
        self.maps += 1;
        Ok(TestPage {
            bytes: page.bytes.clone(),
            live: Some(self.live.clone()),
        })
    }
}

/// The frontend's view of a shared buffer: its pages and the directory.
struct FrontBuffer {
    pages: Vec<TestPage>,
    directory: u32,
    directory_pages: Vec<TestPage>,
    directory_grefs: Vec<u32>,
}

impl FrontBuffer {
    fn new(mapper: &mut TestMapper, size: usize) -> Self {
        Self::with_directory(mapper, size, false)
    }

    /// A buffer whose directory pages are granted read-only (`read_only`),
    /// as xensnd did before, or read-write, as Linux does.
    fn with_directory(mapper: &mut TestMapper, size: usize, read_only: bool) -> Self {
        let count = size.div_ceil(PAGE_SIZE);
        let pages: Vec<TestPage> = (0..count).map(|_| TestPage::new()).collect();
        let grefs: Vec<u32> = pages.iter().map(|page| mapper.grant(page)).collect();
        let per_directory = XENSND_PAGE_DIRECTORY_GREFS_PER_PAGE;
        let directory_count = count.div_ceil(per_directory);
        let directory_pages: Vec<TestPage> =
            (0..directory_count).map(|_| TestPage::new()).collect();
        let directory_grefs: Vec<u32> = directory_pages
            .iter()
            .map(|page| {
                if read_only {
                    mapper.grant_read_only(page)
                } else {
                    mapper.grant(page)
                }
            })
            .collect();
        for (index, page) in directory_pages.iter().enumerate() {
            let next = directory_grefs.get(index + 1).copied().unwrap_or(0);
            page.store_u32(0, next);
            for (slot, gref) in grefs
                .iter()
                .skip(index * per_directory)
                .take(per_directory)
                .enumerate()
            {
                page.store_u32(4 + slot * 4, *gref);
            }
        }
        Self {
            pages,
            directory: directory_grefs[0],
            directory_pages,
            directory_grefs,
        }
    }

    fn write(&self, offset: usize, data: &[u8]) {
        for (index, byte) in data.iter().enumerate() {
            let at = offset + index;
            self.pages[at / PAGE_SIZE].bytes.borrow_mut()[at % PAGE_SIZE] = *byte;
        }
    }

    fn read(&self, offset: usize, length: usize) -> Vec<u8> {
        (offset..offset + length)
            .map(|at| self.pages[at / PAGE_SIZE].bytes.borrow()[at % PAGE_SIZE])
            .collect()
    }
}

fn request(id: u16, operation: u8, payload: &[u8]) -> [u8; 64] {
    let mut entry = [0u8; 64];
    entry[..2].copy_from_slice(&id.to_le_bytes());
    entry[2] = operation;
    entry[8..8 + payload.len()].copy_from_slice(payload);
    entry
}

fn open_request(
    id: u16,
    format: u8,
    channels: u8,
    rate: u32,
    buffer: u32,
    directory: u32,
    period: u32,
) -> [u8; 64] {
    let open = OpenRequest {
        pcm_rate: rate,
        pcm_format: format,
        pcm_channels: channels,
        reserved: 0,
        buffer_sz: buffer,
        gref_directory: directory,
        period_sz: period,
    };
    request(id, XENSND_OP_OPEN, open.as_bytes())
}

fn rw_request(id: u16, operation: u8, offset: u32, length: u32) -> [u8; 64] {
    request(id, operation, RwRequest { offset, length }.as_bytes())
}

fn trigger_request(id: u16, trigger: u8) -> [u8; 64] {
    request(id, XENSND_OP_TRIGGER, &[trigger])
}

struct Reply {
    id: u16,
    operation: u8,
    status: i32,
    payload: [u8; 56],
}

fn reply(entry: [u8; 64]) -> Reply {
    let mut payload = [0u8; 56];
    payload.copy_from_slice(&entry[8..]);
    Reply {
        id: u16::from_le_bytes([entry[0], entry[1]]),
        operation: entry[2],
        status: i32::from_le_bytes(entry[4..8].try_into().unwrap()),
        payload,
    }
}

fn playback(limits: Limits) -> (Stream<TestPage>, MemorySink) {
    let sink = MemorySink::new();
    let mut config = StreamSetup::new(Direction::Playback);
    config.limits = limits;
    let stream = Stream::new(
        config,
        Box::new(sink.clone()),
        Box::new(SilenceSource::default()),
        "test/p",
    );
    (stream, sink)
}

/// A device that plays only s16_le and s32_le.
fn s16_s32_limits() -> Limits {
    Limits {
        formats: [SampleFormat::S16Le, SampleFormat::S32Le]
            .into_iter()
            .collect(),
        ..Limits::default()
    }
}

fn wide_limits() -> Limits {
    Limits {
        buffer_frames: Interval {
            min: 1,
            max: 1 << 24,
        },
        period_frames: Interval {
            min: 1,
            max: 1 << 24,
        },
        ..Limits::default()
    }
}

#[test]
fn open_with_two_directory_pages_then_write_arrives_exactly() {
    let mut mapper = TestMapper::new();
    // 1030 pages: more than one directory page (1023 grefs each).
    let size = 1030 * PAGE_SIZE;
    let buffer = FrontBuffer::new(&mut mapper, size);
    assert_eq!(buffer.directory_pages.len(), 2);
    let (mut stream, sink) = playback(wide_limits());
    let response = reply(stream.handle(
        &open_request(
            7,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            size as u32,
            buffer.directory,
            0,
        ),
        &mut mapper,
        0,
    ));
    assert_eq!(
        (response.id, response.operation, response.status),
        (7, XENSND_OP_OPEN, 0)
    );
    assert_eq!(stream.state(), ProtocolState::Open);
    assert_eq!(
        mapper.live.get(),
        1030,
        "directory pages unmapped, buffer pages mapped"
    );

    // Bytes crossing the first directory's last page into the second's.
    let offset = 1022 * PAGE_SIZE + 4000;
    let data: Vec<u8> = (0..9000u32).map(|i| (i * 7 + 3) as u8).collect();
    buffer.write(offset, &data);
    let response = reply(stream.handle(
        &rw_request(8, XENSND_OP_WRITE, offset as u32, data.len() as u32),
        &mut mapper,
        5,
    ));
    assert_eq!(response.status, 0);
    // The very last byte of the buffer too.
    buffer.write(size - 3, &[1, 2, 3]);
    let response = reply(stream.handle(
        &rw_request(9, XENSND_OP_WRITE, (size - 3) as u32, 3),
        &mut mapper,
        6,
    ));
    assert_eq!(response.status, 0);
    let mut expected = data.clone();
    expected.extend_from_slice(&[1, 2, 3]);
    assert_eq!(sink.bytes(), expected);
    assert_eq!(stream.counters().bytes_written, 9003);
    assert_eq!(stream.counters().first_write_ns, Some(5));
    assert_eq!(stream.counters().requests[XENSND_OP_WRITE as usize], 2);

    let response = reply(stream.handle(&request(10, XENSND_OP_CLOSE, &[]), &mut mapper, 7));
    assert_eq!(response.status, 0);
    assert_eq!(stream.state(), ProtocolState::Closed);
    assert_eq!(mapper.live.get(), 0, "CLOSE unmaps every page");
}

struct CountingSource(u8);
impl Source for CountingSource {
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        for byte in out {
            *byte = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

#[test]
fn read_fills_the_buffer_from_the_source() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 16384);
    let mut stream: Stream<TestPage> = Stream::new(
        StreamSetup::new(Direction::Capture),
        Box::new(NullSink),
        Box::new(CountingSource(5)),
        "test/c",
    );
    let response = reply(stream.handle(
        &open_request(
            1,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            44_100,
            16384,
            buffer.directory,
            4096,
        ),
        &mut mapper,
        0,
    ));
    assert_eq!(response.status, 0);
    let response = reply(stream.handle(&rw_request(2, XENSND_OP_READ, 4000, 300), &mut mapper, 1));
    assert_eq!(response.status, 0);
    let expected: Vec<u8> = (0..300u32).map(|i| (5 + i) as u8).collect();
    assert_eq!(buffer.read(4000, 300), expected);
    assert_eq!(buffer.read(3999, 1), vec![0], "nothing before the range");
    assert_eq!(buffer.read(4300, 1), vec![0], "nothing after the range");
    // WRITE on a capture stream is refused.
    let response = reply(stream.handle(&rw_request(3, XENSND_OP_WRITE, 0, 4), &mut mapper, 2));
    assert_eq!(response.status, status::EINVAL);
    assert_eq!(stream.counters().bytes_read, 300);
}

#[test]
fn tone_source_produces_a_sine_in_the_stream_format() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 4 * 480);
    let mut stream: Stream<TestPage> = Stream::new(
        StreamSetup::new(Direction::Capture),
        Box::new(NullSink),
        Box::new(ToneSource::new(1000.0, 0.5)),
        "test/tone",
    );
    assert_eq!(
        reply(stream.handle(
            &open_request(
                1,
                XENSND_PCM_FORMAT_S16_LE,
                2,
                48_000,
                4 * 480,
                buffer.directory,
                0
            ),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    assert_eq!(
        reply(stream.handle(&rw_request(2, XENSND_OP_READ, 0, 4 * 480), &mut mapper, 0)).status,
        0
    );
    let bytes = buffer.read(0, 4 * 480);
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // Both channels equal; 1 kHz at 48 kHz: frame 12 is the peak (quarter period).
    for frame in samples.chunks_exact(2) {
        assert_eq!(frame[0], frame[1]);
    }
    assert_eq!(samples[0], 0);
    assert!((samples[24] - 16384).abs() <= 1, "peak {}", samples[24]);
    assert!((samples[72] + 16384).abs() <= 1, "trough {}", samples[72]);
}

#[test]
fn trigger_state_machine() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 8192);
    let (mut stream, _sink) = playback(Limits::default());
    // Trigger before OPEN.
    assert_eq!(
        reply(stream.handle(&trigger_request(1, XENSND_OP_TRIGGER_START), &mut mapper, 0)).status,
        status::EINVAL
    );
    assert_eq!(
        reply(stream.handle(
            &open_request(
                2,
                XENSND_PCM_FORMAT_S16_LE,
                2,
                48_000,
                8192,
                buffer.directory,
                1024
            ),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    let steps = [
        (XENSND_OP_TRIGGER_PAUSE, status::EINVAL, ProtocolState::Open),
        (
            XENSND_OP_TRIGGER_RESUME,
            status::EINVAL,
            ProtocolState::Open,
        ),
        (XENSND_OP_TRIGGER_STOP, status::EINVAL, ProtocolState::Open),
        (XENSND_OP_TRIGGER_START, 0, ProtocolState::Running),
        (
            XENSND_OP_TRIGGER_START,
            status::EINVAL,
            ProtocolState::Running,
        ),
        (
            XENSND_OP_TRIGGER_RESUME,
            status::EINVAL,
            ProtocolState::Running,
        ),
        (XENSND_OP_TRIGGER_PAUSE, 0, ProtocolState::Paused),
        (
            XENSND_OP_TRIGGER_PAUSE,
            status::EINVAL,
            ProtocolState::Paused,
        ),
        (XENSND_OP_TRIGGER_RESUME, 0, ProtocolState::Running),
        (XENSND_OP_TRIGGER_STOP, 0, ProtocolState::Stopped),
        (
            XENSND_OP_TRIGGER_STOP,
            status::EINVAL,
            ProtocolState::Stopped,
        ),
        (XENSND_OP_TRIGGER_START, 0, ProtocolState::Running),
        (XENSND_OP_TRIGGER_PAUSE, 0, ProtocolState::Paused),
        (XENSND_OP_TRIGGER_STOP, 0, ProtocolState::Stopped),
        (9, status::EINVAL, ProtocolState::Stopped),
    ];
    for (index, (trigger, expected, state)) in steps.into_iter().enumerate() {
        let response = reply(stream.handle(
            &trigger_request(100 + index as u16, trigger),
            &mut mapper,
            index as u64,
        ));
        assert_eq!(
            (response.status, stream.state()),
            (expected, state),
            "step {index}"
        );
        assert_eq!(response.id, 100 + index as u16);
        assert_eq!(response.operation, XENSND_OP_TRIGGER);
    }
    // CLOSE from anywhere; twice is harmless.
    assert_eq!(
        reply(stream.handle(&request(50, XENSND_OP_CLOSE, &[]), &mut mapper, 0)).status,
        0
    );
    assert_eq!(
        reply(stream.handle(&request(51, XENSND_OP_CLOSE, &[]), &mut mapper, 0)).status,
        0
    );
    assert_eq!(stream.state(), ProtocolState::Closed);
}

#[test]
fn bad_requests_get_error_statuses() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 8192);
    let (mut stream, sink) = playback(s16_s32_limits());
    let check = |stream: &mut Stream<TestPage>,
                 mapper: &mut TestMapper,
                 entry: [u8; 64],
                 expected: i32,
                 what: &str| {
        let response = reply(stream.handle(&entry, mapper, 0));
        assert_eq!(response.status, expected, "{what}");
        assert_eq!(
            response.id,
            u16::from_le_bytes([entry[0], entry[1]]),
            "{what}: id echoed"
        );
        assert_eq!(response.operation, entry[2], "{what}: operation echoed");
    };
    check(
        &mut stream,
        &mut mapper,
        rw_request(1, XENSND_OP_WRITE, 0, 4),
        status::EINVAL,
        "WRITE before OPEN",
    );
    check(
        &mut stream,
        &mut mapper,
        rw_request(1, XENSND_OP_SET_VOLUME, 0, 8),
        status::EINVAL,
        "SET_VOLUME before OPEN",
    );
    check(
        &mut stream,
        &mut mapper,
        request(2, 200, &[]),
        status::EOPNOTSUPP,
        "unknown operation",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(3, XENSND_PCM_FORMAT_S16_LE, 2, 48_000, 8192, 9999, 0),
        status::EFAULT,
        "directory gref not granted",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(3, XENSND_PCM_FORMAT_S16_LE, 2, 48_000, 8192, 0, 0),
        status::EINVAL,
        "directory gref 0",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            4,
            XENSND_PCM_FORMAT_MPEG,
            2,
            48_000,
            8192,
            buffer.directory,
            0,
        ),
        status::EINVAL,
        "format without sample size",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            4,
            XENSND_PCM_FORMAT_U8,
            2,
            48_000,
            8192,
            buffer.directory,
            0,
        ),
        status::EINVAL,
        "format outside limits",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(4, 77, 2, 48_000, 8192, buffer.directory, 0),
        status::EINVAL,
        "format code beyond 63",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            5,
            XENSND_PCM_FORMAT_S16_LE,
            0,
            48_000,
            8192,
            buffer.directory,
            0,
        ),
        status::EINVAL,
        "zero channels",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            5,
            XENSND_PCM_FORMAT_S16_LE,
            9,
            48_000,
            8192,
            buffer.directory,
            0,
        ),
        status::EINVAL,
        "too many channels",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(6, XENSND_PCM_FORMAT_S16_LE, 2, 1, 8192, buffer.directory, 0),
        status::EINVAL,
        "rate too low",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            7,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            0,
            buffer.directory,
            0,
        ),
        status::EINVAL,
        "empty buffer",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            7,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            u32::MAX,
            buffer.directory,
            0,
        ),
        status::EINVAL,
        "buffer above the cap",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            7,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            252,
            buffer.directory,
            0,
        ),
        status::EINVAL,
        "buffer below the device's 64 frames",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            7,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            8192,
            buffer.directory,
            8196,
        ),
        status::EINVAL,
        "period above buffer",
    );
    check(
        &mut stream,
        &mut mapper,
        open_request(
            7,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            8192,
            buffer.directory,
            6,
        ),
        status::EINVAL,
        "period shorter than the device's 16 frames",
    );
    // The directory promises fewer pages than buffer_sz needs: the chain
    // ends early, found by the walk before any buffer page is mapped.
    check(
        &mut stream,
        &mut mapper,
        open_request(
            8,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            4 << 20,
            buffer.directory,
            0,
        ),
        status::EINVAL,
        "page directory chain ends early",
    );
    assert_eq!(stream.state(), ProtocolState::Closed);
    assert_eq!(mapper.live.get(), 0, "failed OPENs leave nothing mapped");

    check(
        &mut stream,
        &mut mapper,
        open_request(
            9,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            8192,
            buffer.directory,
            1024,
        ),
        0,
        "good OPEN",
    );
    check(
        &mut stream,
        &mut mapper,
        rw_request(10, XENSND_OP_WRITE, u32::MAX - 1, 4),
        status::EINVAL,
        "offset + length overflows",
    );
    check(
        &mut stream,
        &mut mapper,
        rw_request(10, XENSND_OP_WRITE, 8190, 4),
        status::EINVAL,
        "past the end",
    );
    check(
        &mut stream,
        &mut mapper,
        rw_request(10, XENSND_OP_WRITE, 0, u32::MAX),
        status::EINVAL,
        "huge length",
    );
    check(
        &mut stream,
        &mut mapper,
        rw_request(11, XENSND_OP_READ, 0, 4),
        status::EINVAL,
        "READ on playback",
    );
    check(
        &mut stream,
        &mut mapper,
        rw_request(12, XENSND_OP_SET_VOLUME, 0, 4),
        status::EINVAL,
        "volume table of the wrong length",
    );
    check(
        &mut stream,
        &mut mapper,
        rw_request(12, XENSND_OP_MUTE, 8188, 8),
        status::EINVAL,
        "mute table past the end",
    );
    check(
        &mut stream,
        &mut mapper,
        rw_request(13, XENSND_OP_WRITE, 8188, 4),
        0,
        "last frame",
    );
    assert_eq!(sink.bytes().len(), 4);
    assert_eq!(stream.counters().errors, 23);
}

#[test]
fn directory_loop_and_short_chain_are_refused() {
    let mut mapper = TestMapper::new();
    let size = 1100 * PAGE_SIZE;
    let buffer = FrontBuffer::new(&mut mapper, size);
    let (mut stream, _sink) = playback(wide_limits());
    // Second directory page points back at the first.
    let first = buffer.directory_grefs[0];
    let second = &buffer.directory_pages[1];
    second.store_u32(0, first);
    // Only two directory pages are needed, so a loop at the end is ignored...
    let open = open_request(
        1,
        XENSND_PCM_FORMAT_S16_LE,
        2,
        48_000,
        size as u32,
        buffer.directory,
        0,
    );
    assert_eq!(reply(stream.handle(&open, &mut mapper, 0)).status, 0);
    stream.close().unwrap();
    // ...but a first page that points at itself loops before the end.
    buffer.directory_pages[0].store_u32(0, first);
    assert_eq!(
        reply(stream.handle(&open, &mut mapper, 0)).status,
        status::EINVAL
    );
    // A chain that ends early.
    buffer.directory_pages[0].store_u32(0, 0);
    assert_eq!(
        reply(stream.handle(&open, &mut mapper, 0)).status,
        status::EINVAL
    );
    assert_eq!(mapper.live.get(), 0);
    assert_eq!(stream.state(), ProtocolState::Closed);
}

#[test]
fn hw_param_query_answers_the_intersection() {
    let mut mapper = TestMapper::new();
    let (mut stream, _sink) = playback(s16_s32_limits());
    let query = HwParam {
        formats: (1 << XENSND_PCM_FORMAT_S16_LE) | (1 << XENSND_PCM_FORMAT_U8),
        rates: Interval {
            min: 44_100,
            max: 384_000,
        },
        channels: Interval { min: 2, max: 16 },
        buffer: Interval { min: 1, max: 4096 },
        period: Interval {
            min: 1,
            max: 1 << 30,
        },
    };
    let response = reply(stream.handle(
        &request(3, XENSND_OP_HW_PARAM_QUERY, query.as_bytes()),
        &mut mapper,
        0,
    ));
    assert_eq!(response.status, 0);
    let answer: HwParam = zerocopy::FromBytes::read_from_prefix(&response.payload[..])
        .unwrap()
        .0;
    assert_eq!(answer.formats, 1 << XENSND_PCM_FORMAT_S16_LE);
    assert_eq!(
        answer.rates,
        Interval {
            min: 44_100,
            max: 192_000
        }
    );
    assert_eq!(answer.channels, Interval { min: 2, max: 8 });
    assert_eq!(answer.buffer, Interval { min: 64, max: 4096 });
    assert_eq!(answer.period, Interval { min: 16, max: 4096 });
    // No common format.
    let none = HwParam {
        formats: 1 << XENSND_PCM_FORMAT_U8,
        ..query
    };
    let response = reply(stream.handle(
        &request(4, XENSND_OP_HW_PARAM_QUERY, none.as_bytes()),
        &mut mapper,
        0,
    ));
    assert_eq!(response.status, status::EINVAL);
    assert_eq!(response.payload, [0; 56]);
}

fn samples_s16(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[test]
fn volume_and_mute_are_applied_and_recorded() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 8192);
    let (mut stream, sink) = playback(Limits::default());
    assert_eq!(
        reply(stream.handle(
            &open_request(
                1,
                XENSND_PCM_FORMAT_S16_LE,
                2,
                48_000,
                8192,
                buffer.directory,
                0
            ),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    // Left -6.0206 dB (x0.5), right +6.0206 dB (x2, saturating).
    let mut table = Vec::new();
    table.extend_from_slice(&(-6021i32).to_le_bytes());
    table.extend_from_slice(&6021i32.to_le_bytes());
    buffer.write(4096, &table);
    assert_eq!(
        reply(stream.handle(
            &rw_request(2, XENSND_OP_SET_VOLUME, 4096, 8),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    assert_eq!(stream.mixer().volumes, vec![-6021, 6021]);
    let frames: Vec<i16> = vec![1000, 1000, -2000, 20000, 32767, -32768];
    let bytes: Vec<u8> = frames.iter().flat_map(|s| s.to_le_bytes()).collect();
    buffer.write(0, &bytes);
    assert_eq!(
        reply(stream.handle(
            &rw_request(3, XENSND_OP_WRITE, 0, bytes.len() as u32),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    assert_eq!(
        samples_s16(&sink.bytes()),
        vec![500, 2000, -1000, 32767, 16383, -32768]
    );
    // GET_VOLUME writes the table back into the buffer.
    buffer.write(4096, &[0xee; 8]);
    assert_eq!(
        reply(stream.handle(
            &rw_request(4, XENSND_OP_GET_VOLUME, 4096, 8),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    assert_eq!(buffer.read(4096, 8), table);
    // Mute the right channel only.
    let mut flags = Vec::new();
    flags.extend_from_slice(&0u32.to_le_bytes());
    flags.extend_from_slice(&1u32.to_le_bytes());
    buffer.write(4096, &flags);
    assert_eq!(
        reply(stream.handle(&rw_request(5, XENSND_OP_MUTE, 4096, 8), &mut mapper, 0)).status,
        0
    );
    assert_eq!(stream.mixer().muted, vec![false, true]);
    assert_eq!(
        reply(stream.handle(
            &rw_request(6, XENSND_OP_WRITE, 0, bytes.len() as u32),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    assert_eq!(
        samples_s16(&sink.bytes()[12..]),
        vec![500, 0, -1000, 0, 16383, 0]
    );
    assert_eq!(
        reply(stream.handle(&rw_request(7, XENSND_OP_UNMUTE, 4096, 8), &mut mapper, 0)).status,
        0
    );
    assert_eq!(stream.mixer().muted, vec![false, false]);
    // Back to 0 dB: bytes pass through unchanged.
    buffer.write(4096, &[0; 8]);
    assert_eq!(
        reply(stream.handle(
            &rw_request(8, XENSND_OP_SET_VOLUME, 4096, 8),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    assert_eq!(
        reply(stream.handle(
            &rw_request(9, XENSND_OP_WRITE, 0, bytes.len() as u32),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    assert_eq!(&sink.bytes()[24..], &bytes[..]);
}

/// A frontend's side of one stream over shared test pages.
struct Front {
    ring: FrontRing<TestPage>,
    events: EventConsumer<TestPage>,
}

fn connected_channel(
    mapper: &mut TestMapper,
    stream: Stream<TestPage>,
) -> (Front, StreamChannel<TestPage>) {
    let ring_page = TestPage::new();
    let event_page = TestPage::new();
    let front = Front {
        ring: FrontRing::init(ring_page.clone()),
        events: EventConsumer::init(event_page.clone()),
    };
    let ring_gref = mapper.grant(&ring_page);
    let event_gref = mapper.grant(&event_page);
    let channel = StreamChannel::new(
        mapper.map(ring_gref, true).unwrap(),
        mapper.map(event_gref, true).unwrap(),
        stream,
    );
    (front, channel)
}

fn call(
    front: &mut Front,
    channel: &mut StreamChannel<TestPage>,
    mapper: &mut TestMapper,
    entry: [u8; 64],
    now: u64,
) -> Reply {
    front.ring.push_request(&entry).unwrap();
    let notify = front.ring.push_requests_and_check_notify();
    assert!(notify, "the backend always waits for the next request");
    channel.note_notification();
    let result = channel.service(mapper, now);
    assert!(
        result.notify_ring,
        "the frontend asked for a response notification"
    );
    let response = front.ring.take_response().unwrap().unwrap();
    assert!(front.ring.take_response().unwrap().is_none());
    front.ring.final_check_for_responses().unwrap();
    reply(response)
}

fn events(front: &mut Front) -> Vec<(u16, u64)> {
    let mut seen = Vec::new();
    while let Some(event) = front.events.take_event().unwrap() {
        assert_eq!(event[2], XENSND_EVT_CUR_POS);
        seen.push((
            u16::from_le_bytes([event[0], event[1]]),
            u64::from_le_bytes(event[8..16].try_into().unwrap()),
        ));
    }
    seen
}

const MS: u64 = 1_000_000;

#[test]
fn cur_pos_events_are_paced_in_real_time_and_stop_while_paused() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 19_200);
    let (stream, _sink) = playback(Limits::default());
    let (mut front, mut channel) = connected_channel(&mut mapper, stream);
    // 48 kHz s16 stereo: 192 bytes per ms; period 4800 bytes = 25 ms.
    let response = call(
        &mut front,
        &mut channel,
        &mut mapper,
        open_request(
            1,
            XENSND_PCM_FORMAT_S16_LE,
            2,
            48_000,
            19_200,
            buffer.directory,
            4800,
        ),
        0,
    );
    assert_eq!(response.status, 0);
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            rw_request(2, XENSND_OP_WRITE, 0, 19_200),
            0
        )
        .status,
        0
    );
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            trigger_request(3, XENSND_OP_TRIGGER_START),
            10 * MS
        )
        .status,
        0
    );
    // Due once the position is one frame (4 bytes) past the boundary:
    // 1201 frames after START, rounded up to the nanosecond.
    let first = 10 * MS + 25_020_834;
    assert_eq!(
        channel.service(&mut mapper, 10 * MS).next_deadline_ns,
        Some(first)
    );
    let on_boundary = channel.service(&mut mapper, 35 * MS);
    assert!(
        !on_boundary.notify_events,
        "exactly on the boundary is not past it"
    );
    let early = channel.service(&mut mapper, first - 1);
    assert!(!early.notify_events);
    assert!(events(&mut front).is_empty());
    let due = channel.service(&mut mapper, first);
    assert!(due.notify_events);
    assert_eq!(events(&mut front), vec![(0, 4804)]);
    assert_eq!(due.next_deadline_ns, Some(first + 25 * MS));
    // Pause at 40 ms (position 5760), nothing while paused.
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            trigger_request(4, XENSND_OP_TRIGGER_PAUSE),
            40 * MS
        )
        .status,
        0
    );
    let paused = channel.service(&mut mapper, 500 * MS);
    assert_eq!(paused.next_deadline_ns, None);
    assert!(!paused.notify_events);
    assert!(events(&mut front).is_empty());
    assert_eq!(channel.stream().position(), Some(5760));
    // Resume at 1000 ms: the next boundary (9600) + 1 frame is 961 frames away.
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            trigger_request(5, XENSND_OP_TRIGGER_RESUME),
            1000 * MS
        )
        .status,
        0
    );
    assert_eq!(
        channel.service(&mut mapper, 1000 * MS).next_deadline_ns,
        Some(1000 * MS + 20_020_834)
    );
    // A late wake-up covering two periods gives one event with the current position.
    assert!(channel.service(&mut mapper, 1050 * MS).notify_events);
    assert_eq!(events(&mut front), vec![(1, 15_360)]);
    // Underrun: only 19200 bytes were written, ending on a period boundary.
    // The device reports where the data ends, then keeps playing (silence)
    // one frame past it, so the period completes for a frontend that counts
    // one only when more than a period's frames arrived, and holds there.
    let starved = channel.service(&mut mapper, 2000 * MS);
    assert_eq!(
        starved.next_deadline_ns,
        Some(2000 * MS),
        "one more due now"
    );
    let held = channel.service(&mut mapper, 2000 * MS);
    assert_eq!(events(&mut front), vec![(2, 19_200), (3, 19_204)]);
    assert_eq!(held.next_deadline_ns, None);
    assert_eq!(channel.stream().position(), Some(19_204));
    // New data: the device resumes from where it holds, when it arrived.
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            rw_request(6, XENSND_OP_WRITE, 0, 9600),
            3000 * MS
        )
        .status,
        0
    );
    assert_eq!(
        channel.service(&mut mapper, 3000 * MS).next_deadline_ns,
        Some(3000 * MS + 25 * MS)
    );
    channel.service(&mut mapper, 3000 * MS + 25 * MS);
    assert_eq!(events(&mut front), vec![(4, 24_004)]);
    let counters = channel.stream().counters();
    assert_eq!(counters.events_sent, 5);
    assert_eq!(counters.requests[XENSND_OP_TRIGGER as usize], 3);
    assert_eq!(counters.notifications_in, 6);
    assert!(counters.notifications_out >= 6);
    assert_eq!(counters.event_notifications_out, 5);
    // STOP then CLOSE then OPEN again: the position restarts at 0, the event
    // ids go on (Linux's frontend expects the next id; see EventIds).
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            trigger_request(7, XENSND_OP_TRIGGER_STOP),
            3030 * MS
        )
        .status,
        0
    );
    assert_eq!(channel.stream().position(), Some(19_204 + 30 * 192));
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            request(8, XENSND_OP_CLOSE, &[]),
            3031 * MS
        )
        .status,
        0
    );
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            open_request(
                9,
                XENSND_PCM_FORMAT_S16_LE,
                2,
                48_000,
                19_200,
                buffer.directory,
                4800
            ),
            4000 * MS
        )
        .status,
        0
    );
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            rw_request(10, XENSND_OP_WRITE, 0, 4800),
            4000 * MS
        )
        .status,
        0
    );
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            trigger_request(11, XENSND_OP_TRIGGER_START),
            4000 * MS
        )
        .status,
        0
    );
    channel.service(&mut mapper, 4100 * MS);
    channel.service(&mut mapper, 4100 * MS);
    assert_eq!(events(&mut front), vec![(5, 4800), (6, 4804)]);
}

#[test]
fn capture_position_runs_freely_and_full_event_page_keeps_ids_in_step() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 8000);
    let stream: Stream<TestPage> = Stream::new(
        StreamSetup::new(Direction::Capture),
        Box::new(NullSink),
        Box::new(SilenceSource::default()),
        "test/c",
    );
    let (mut front, mut channel) = connected_channel(&mut mapper, stream);
    // 8 kHz mono s16: 16 bytes per ms; period 160 bytes = 10 ms.
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            open_request(
                1,
                XENSND_PCM_FORMAT_S16_LE,
                1,
                8000,
                8000,
                buffer.directory,
                160
            ),
            0
        )
        .status,
        0
    );
    assert_eq!(
        call(
            &mut front,
            &mut channel,
            &mut mapper,
            trigger_request(2, XENSND_OP_TRIGGER_START),
            0
        )
        .status,
        0
    );
    // The frontend does not consume: after 63 events the page is full.
    for period in 1..=70u64 {
        channel.service(&mut mapper, period * 10 * MS + MS);
    }
    let counters = channel.stream().counters();
    assert_eq!(counters.events_sent, 63);
    assert_eq!(counters.events_dropped, 7);
    let seen = events(&mut front);
    assert_eq!(seen.len(), 63);
    for (index, (id, position)) in seen.iter().enumerate() {
        assert_eq!(*id as usize, index);
        assert_eq!(*position, 160 * (index as u64 + 1) + 16);
    }
    channel.service(&mut mapper, 711 * MS);
    assert_eq!(
        events(&mut front),
        vec![(63, 160 * 71 + 16)],
        "next id follows the last published one"
    );
}

#[test]
fn corrupted_ring_breaks_only_that_channel() {
    let mut mapper = TestMapper::new();
    let (stream, _sink) = playback(Limits::default());
    let (front, mut channel) = connected_channel(&mut mapper, stream);
    // The frontend claims 1000 requests.
    front.ring.page().store_u32(0, 1000);
    let result = channel.service(&mut mapper, 0);
    assert!(channel.is_broken());
    assert!(!result.notify_ring);
    assert_eq!(channel.stream().counters().total_requests(), 0);
}

/// A tiny deterministic generator (xorshift) for the garbage test.
struct Garbage(u64);
impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_requests_never_panic_and_always_answer() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 3 * PAGE_SIZE);
    let (mut stream, _sink) = playback(wide_limits());
    let mut garbage = Garbage(0x9e37_79b9_7f4a_7c15);
    let mut now = 0;
    for round in 0..20_000u32 {
        let mut entry = [0u8; 64];
        for chunk in entry.chunks_exact_mut(8) {
            chunk.copy_from_slice(&garbage.next().to_le_bytes());
        }
        // Bias toward real operations and plausible fields.
        entry[2] %= 12;
        match garbage.next() % 4 {
            0 => {
                let open = open_request(
                    round as u16,
                    (garbage.next() % 26) as u8,
                    (garbage.next() % 4) as u8,
                    48_000,
                    (garbage.next() % 20_000) as u32 & !3,
                    buffer.directory,
                    (garbage.next() % 5000) as u32,
                );
                entry = open;
            }
            1 => entry[8..16].copy_from_slice(
                RwRequest {
                    offset: (garbage.next() % 13_000) as u32,
                    length: (garbage.next() % 5000) as u32,
                }
                .as_bytes(),
            ),
            2 => entry[8] %= 5,
            _ => {}
        }
        now += garbage.next() % (5 * MS);
        let response = reply(stream.handle(&entry, &mut mapper, now));
        assert_eq!(response.id, u16::from_le_bytes([entry[0], entry[1]]));
        assert_eq!(response.operation, entry[2]);
        assert!(response.status <= 0);
        let _ = stream.due_event(now);
    }
    stream.close().unwrap();
    assert_eq!(mapper.live.get(), 0);
    assert!(stream.counters().total_requests() == 20_000);
}

struct FailingSink;
impl Sink for FailingSink {
    fn write(&mut self, _bytes: &[u8]) -> Result<(), IoError> {
        Err(IoError)
    }
}

#[test]
fn sink_failure_is_eio() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 4096);
    let mut stream: Stream<TestPage> = Stream::new(
        StreamSetup::new(Direction::Playback),
        Box::new(FailingSink),
        Box::new(NullSource),
        "test/fail",
    );
    assert_eq!(
        reply(stream.handle(
            &open_request(
                1,
                XENSND_PCM_FORMAT_S16_LE,
                2,
                48_000,
                4096,
                buffer.directory,
                0
            ),
            &mut mapper,
            0
        ))
        .status,
        0
    );
    assert_eq!(
        reply(stream.handle(&rw_request(2, XENSND_OP_WRITE, 0, 64), &mut mapper, 0)).status,
        status::EIO
    );
}

struct NullSource;
impl Source for NullSource {
    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        out.fill(0);
        Ok(())
    }
}

fn playback_with(behaviour: Behaviour) -> Stream<TestPage> {
    let mut config = StreamSetup::new(Direction::Playback);
    config.behaviour = behaviour;
    Stream::new(
        config,
        Box::new(MemorySink::new()),
        Box::new(SilenceSource::default()),
        "test/p",
    )
}

/// What Linux's snd-xen-front does with position events (v6.1, Debian 12's
/// kernel: `sound/xen/xen_snd_front_evtchnl.c` `evtchnl_interrupt_evt`, and
/// `xen_snd_front_alsa.c` `xen_snd_front_alsa_handle_cur_pos`), and what the
/// ALSA core makes of them during a drain.
#[derive(Default)]
struct LinuxFrontend {
    /// `channel->evt_id`: zeroed when the channel is allocated (connect),
    /// never at OPEN.
    evt_id: u16,
    skipped: usize,
    frame_bytes: u64,
    period_frames: u64,
    be_cur_frame: u64,
    out_frames: u64,
    /// The hardware pointer (frames, not wrapped at the buffer size).
    hw_ptr: u64,
    /// The pointer as ALSA last read it: only at `snd_pcm_period_elapsed`.
    alsa_hw_ptr: u64,
}

impl LinuxFrontend {
    /// `alsa_open`/`hw_params` → `stream_clear`: positions restart, the
    /// event id does not (`xen_snd_front_evtchnl_pair_clear` resets the
    /// request id `evt_next_id`, not `evt_id`).
    fn open(&mut self, frame_bytes: u64, period_frames: u64) {
        self.frame_bytes = frame_bytes;
        self.period_frames = period_frames;
        self.be_cur_frame = 0;
        self.out_frames = 0;
        self.hw_ptr = 0;
        self.alsa_hw_ptr = 0;
    }

    fn event(&mut self, id: u16, position: u64) {
        // `if (unlikely(event->id != channel->evt_id++)) continue;`
        let expected = self.evt_id;
        self.evt_id = self.evt_id.wrapping_add(1);
        if id != expected {
            self.skipped += 1;
            return;
        }
        let cur_frame = position / self.frame_bytes;
        let delta = cur_frame.wrapping_sub(self.be_cur_frame);
        self.be_cur_frame = cur_frame;
        self.hw_ptr += delta;
        self.out_frames += delta;
        if self.out_frames > self.period_frames {
            self.out_frames %= self.period_frames;
            // snd_pcm_period_elapsed: ALSA reads the pointer.
            self.alsa_hw_ptr = self.hw_ptr;
        }
    }

    /// ALSA's drain is done once the pointer it read reached the
    /// application's (avail >= stop_threshold = the buffer size).
    fn drained(&self, appl_ptr_frames: u64) -> bool {
        self.alsa_hw_ptr >= appl_ptr_frames
    }
}

/// Serve the channel at every deadline it asks for up to `until`, handing
/// each event to `linux`; returns the time ALSA's drain of `appl_ptr`
/// frames completed, if it did.
fn run_linux_drain(
    channel: &mut StreamChannel<TestPage>,
    front: &mut Front,
    mapper: &mut TestMapper,
    linux: &mut LinuxFrontend,
    from: u64,
    until: u64,
    appl_ptr: u64,
) -> Option<u64> {
    let mut now = from;
    while now <= until {
        let result = channel.service(mapper, now);
        for (id, position) in events(front) {
            linux.event(id, position);
        }
        if linux.drained(appl_ptr) {
            return Some(now);
        }
        now = result.next_deadline_ns?.max(now);
    }
    None
}

/// OPEN (48 kHz s16 stereo, 1200-frame periods, a 4-period buffer), write
/// the whole buffer, START at `start`: what aplay does with a short file.
fn linux_plays_four_periods(
    channel: &mut StreamChannel<TestPage>,
    front: &mut Front,
    mapper: &mut TestMapper,
    buffer: &FrontBuffer,
    first_id: u16,
    start: u64,
) {
    let open = open_request(
        first_id,
        XENSND_PCM_FORMAT_S16_LE,
        2,
        48_000,
        19_200,
        buffer.directory,
        4800,
    );
    assert_eq!(call(front, channel, mapper, open, start).status, 0);
    let write = rw_request(first_id + 1, XENSND_OP_WRITE, 0, 19_200);
    assert_eq!(call(front, channel, mapper, write, start).status, 0);
    let trigger = trigger_request(first_id + 2, XENSND_OP_TRIGGER_START);
    assert_eq!(call(front, channel, mapper, trigger, start).status, 0);
}

fn linux_stops_and_closes(
    channel: &mut StreamChannel<TestPage>,
    front: &mut Front,
    mapper: &mut TestMapper,
    first_id: u16,
    now: u64,
) {
    let stop = trigger_request(first_id, XENSND_OP_TRIGGER_STOP);
    assert_eq!(call(front, channel, mapper, stop, now).status, 0);
    let close = request(first_id + 1, XENSND_OP_CLOSE, &[]);
    assert_eq!(call(front, channel, mapper, close, now).status, 0);
}

#[test]
fn linux_frontend_drain_completes_one_frame_after_the_data() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 19_200);
    let stream = playback_with(Behaviour::SNDBACK);
    let (mut front, mut channel) = connected_channel(&mut mapper, stream);
    let mut linux = LinuxFrontend::default();
    linux.open(4, 1200);
    linux_plays_four_periods(&mut channel, &mut front, &mut mapper, &buffer, 1, 0);
    // 4800 frames = 100 ms. The position stopped dead at 19200 bytes before
    // (out_frames == period_size, never > it): ALSA's drain timed out.
    let drained = run_linux_drain(
        &mut channel,
        &mut front,
        &mut mapper,
        &mut linux,
        0,
        10_000 * MS,
        4800,
    );
    let drained = drained.expect("ALSA's drain completes");
    assert!(
        (100 * MS..=100 * MS + 21_000).contains(&drained),
        "within a frame of the data's end: {drained} ns"
    );
    assert_eq!(linux.skipped, 0);
    assert_eq!(channel.stream().position(), Some(19_204));
}

#[test]
fn event_ids_keep_counting_across_reopen_so_linux_plays_twice() {
    for (behaviour, second_play_works) in [
        (Behaviour::SNDBACK, true),
        (Behaviour::SND_BE_LIKE, true),
        (
            Behaviour {
                event_ids: EventIds::ResetAtOpen,
                ..Behaviour::SNDBACK
            },
            false,
        ),
    ] {
        let mut mapper = TestMapper::new();
        let buffer = FrontBuffer::new(&mut mapper, 19_200);
        let stream = playback_with(behaviour);
        let (mut front, mut channel) = connected_channel(&mut mapper, stream);
        let mut linux = LinuxFrontend::default();
        let mut first_ids = Vec::new();
        for (play, start) in [(0u16, 0u64), (1, 1000 * MS)] {
            linux.open(4, 1200);
            linux_plays_four_periods(
                &mut channel,
                &mut front,
                &mut mapper,
                &buffer,
                10 * play + 1,
                start,
            );
            let sent_before = channel.stream().counters().events_sent;
            let drained = run_linux_drain(
                &mut channel,
                &mut front,
                &mut mapper,
                &mut linux,
                start,
                start + 500 * MS,
                4800,
            );
            first_ids.push(sent_before);
            let expected = play == 0 || second_play_works;
            assert_eq!(drained.is_some(), expected, "{behaviour:?}, play {play}");
            linux_stops_and_closes(
                &mut channel,
                &mut front,
                &mut mapper,
                10 * play + 4,
                start + 600 * MS,
            );
        }
        if second_play_works {
            assert_eq!(linux.skipped, 0, "{behaviour:?}");
        } else {
            assert!(linux.skipped > 0, "{behaviour:?}: Linux skips every event");
        }
        assert!(first_ids[1] > 0, "events were sent in the first play");
    }
}

/// OPEN 48 kHz s16 stereo over an 8192-byte `buffer`, 1024-byte
/// periods; the response's status.
fn open_stereo_8192(
    stream: &mut Stream<TestPage>,
    mapper: &mut TestMapper,
    buffer: &FrontBuffer,
) -> i32 {
    let open = open_request(
        1,
        XENSND_PCM_FORMAT_S16_LE,
        2,
        48_000,
        8192,
        buffer.directory,
        1024,
    );
    reply(stream.handle(&open, mapper, 0)).status
}

#[test]
fn volume_and_mute_are_refused_without_volume_support() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 8192);
    let mut stream = playback_with(Behaviour::SND_BE_LIKE);
    assert_eq!(open_stereo_8192(&mut stream, &mut mapper, &buffer), 0);
    for (id, operation) in [
        XENSND_OP_SET_VOLUME,
        XENSND_OP_GET_VOLUME,
        XENSND_OP_MUTE,
        XENSND_OP_UNMUTE,
    ]
    .into_iter()
    .enumerate()
    {
        let entry = rw_request(2 + id as u16, operation, 0, 8);
        assert_eq!(
            reply(stream.handle(&entry, &mut mapper, 0)).status,
            status::EINVAL,
            "snd_be's command table has no handler for operation {operation}"
        );
    }
    assert!(stream.mixer().is_identity());
}

#[test]
fn a_read_only_directory_cannot_be_mapped_read_write() {
    for (behaviour, directory_read_only, expected) in [
        (Behaviour::SNDBACK, true, 0),
        (Behaviour::SNDBACK, false, 0),
        (Behaviour::SND_BE_LIKE, false, 0),
        (Behaviour::SND_BE_LIKE, true, status::EFAULT),
    ] {
        let mut mapper = TestMapper::new();
        let buffer = FrontBuffer::with_directory(&mut mapper, 8192, directory_read_only);
        let mut stream = playback_with(behaviour);
        assert_eq!(
            open_stereo_8192(&mut stream, &mut mapper, &buffer),
            expected,
            "{behaviour:?}, directory read-only: {directory_read_only}"
        );
        drop(stream);
        assert_eq!(mapper.live.get(), 0);
    }
}

#[test]
fn snd_be_like_period_is_rounded_and_positions_come_from_a_timer() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 15_360);
    let stream = playback_with(Behaviour::SND_BE_LIKE);
    let (mut front, mut channel) = connected_channel(&mut mapper, stream);
    // 960-frame periods asked, a 3840-frame buffer: the device runs 1024.
    let open = open_request(
        1,
        XENSND_PCM_FORMAT_S16_LE,
        2,
        48_000,
        15_360,
        buffer.directory,
        3840,
    );
    assert_eq!(
        call(&mut front, &mut channel, &mut mapper, open, 0).status,
        0
    );
    let params = channel.stream().params().unwrap();
    assert_eq!((params.buffer_frames, params.period_frames), (3840, 1024));
    let write = rw_request(2, XENSND_OP_WRITE, 0, 7680);
    assert_eq!(
        call(&mut front, &mut channel, &mut mapper, write, 0).status,
        0
    );
    let start = trigger_request(3, XENSND_OP_TRIGGER_START);
    assert_eq!(
        call(&mut front, &mut channel, &mut mapper, start, 0).status,
        0
    );
    // A tick every 1024 * 1000 / 48000 = 21 ms (whole ms, as snd_be's timer).
    let mut now = 0;
    let mut seen = Vec::new();
    for _ in 0..5 {
        now = channel.service(&mut mapper, now).next_deadline_ns.unwrap();
        channel.service(&mut mapper, now);
        seen.extend(events(&mut front));
    }
    // 1008 frames a tick: 4032 bytes, then 8064 (past the 7680 written:
    // the tick that finds the device dry), then ALSA is in XRUN and snd_be
    // reports the frames written.
    let expected: Vec<(u16, u64)> = vec![(0, 4032), (1, 8064), (2, 7680), (3, 7680), (4, 7680)];
    assert_eq!(seen, expected);
}

/// `--whole-frames` holds READ/WRITE to whole frames, not the volume and
/// mute tables (4 bytes per channel): with it, every format and channel
/// count still takes SET_VOLUME, GET_VOLUME, MUTE and UNMUTE anywhere in the
/// buffer (float64 has 8-byte samples, so its table was never whole frames
/// and volume was refused), while a WRITE cut inside a frame is refused.
#[test]
fn whole_frames_apply_to_audio_not_to_volume_tables() {
    let mut checked = 0;
    for format in SampleFormat::ALL {
        let Some(sample) = format.bytes_per_sample() else {
            continue;
        };
        for channels in [1u8, 2, 3, 8] {
            let mut mapper = TestMapper::new();
            let buffer = FrontBuffer::new(&mut mapper, 8192);
            let mut config = StreamSetup::new(Direction::Playback);
            config.limits = wide_limits();
            config.require_whole_frames = true;
            let mut stream = Stream::new(
                config,
                Box::new(NullSink),
                Box::new(SilenceSource::default()),
                "test/whole",
            );
            let frame = sample * u32::from(channels);
            let open = open_request(
                1,
                format.code(),
                channels,
                48_000,
                8192,
                buffer.directory,
                0,
            );
            let what = format!("{format} x{channels}");
            assert_eq!(
                reply(stream.handle(&open, &mut mapper, 0)).status,
                0,
                "{what}"
            );
            let table = 4 * u32::from(channels);
            for (id, operation) in [
                XENSND_OP_SET_VOLUME,
                XENSND_OP_GET_VOLUME,
                XENSND_OP_MUTE,
                XENSND_OP_UNMUTE,
            ]
            .into_iter()
            .enumerate()
            {
                for offset in [0u32, 4, 8188 - table] {
                    let answer = reply(stream.handle(
                        &rw_request(10 + id as u16, operation, offset, table),
                        &mut mapper,
                        0,
                    ));
                    assert_eq!(answer.status, 0, "{what}: op {operation} at {offset}");
                }
            }
            // A WRITE of one frame is fine; one byte less is not.
            let whole =
                reply(stream.handle(&rw_request(20, XENSND_OP_WRITE, 0, frame), &mut mapper, 0));
            assert_eq!(whole.status, 0, "{what}");
            if frame > 1 {
                let cut = reply(stream.handle(
                    &rw_request(21, XENSND_OP_WRITE, 0, frame - 1),
                    &mut mapper,
                    0,
                ));
                assert_eq!(cut.status, status::EINVAL, "{what}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 22 * 4);
}

/// A sink whose output plays when the test says (`frames`), recording the
/// TRIGGERs it is told of and refusing them when `refuse` is set.
#[derive(Clone, Default)]
struct OutputSink {
    frames: Rc<Cell<u64>>,
    triggers: Rc<RefCell<Vec<Trigger>>>,
    refuse: Rc<Cell<bool>>,
}

impl Sink for OutputSink {
    fn write(&mut self, _bytes: &[u8]) -> Result<(), IoError> {
        Ok(())
    }
    fn trigger(&mut self, trigger: Trigger) -> Result<(), IoError> {
        if self.refuse.get() {
            return Err(IoError);
        }
        self.triggers.borrow_mut().push(trigger);
        Ok(())
    }
    fn output_frames(&self) -> Option<u64> {
        Some(self.frames.get())
    }
}

#[test]
fn an_output_paced_sink_paces_cur_pos_and_hears_every_trigger() {
    let mut mapper = TestMapper::new();
    let buffer = FrontBuffer::new(&mut mapper, 19_200);
    let sink = OutputSink::default();
    // Frames the output played before OPEN are not the stream's.
    sink.frames.set(7);
    let stream = Stream::new(
        StreamSetup::new(Direction::Playback),
        Box::new(sink.clone()),
        Box::new(SilenceSource::default()),
        "test/out",
    );
    let (mut front, mut channel) = connected_channel(&mut mapper, stream);
    let (front, channel, mapper) = (&mut front, &mut channel, &mut mapper);
    // 48 kHz s16 stereo (4-byte frames); period 4800 bytes (1200 frames).
    let open = open_request(
        1,
        XENSND_PCM_FORMAT_S16_LE,
        2,
        48_000,
        19_200,
        buffer.directory,
        4800,
    );
    assert_eq!(call(front, channel, mapper, open, 0).status, 0);
    let write = rw_request(2, XENSND_OP_WRITE, 0, 19_200);
    assert_eq!(call(front, channel, mapper, write, 0).status, 0);
    let start = trigger_request(3, XENSND_OP_TRIGGER_START);
    assert_eq!(call(front, channel, mapper, start, 0).status, 0);
    assert_eq!(*sink.triggers.borrow(), [Trigger::Start]);
    // A second of wall time, the output stalled: nothing moves, the host
    // is asked to look again.
    let result = channel.service(mapper, 1000 * MS);
    assert!(events(front).is_empty());
    assert_eq!(channel.stream().position(), Some(0));
    assert!(result.next_deadline_ns.is_some());
    // The output plays a period and a frame: one event, there.
    sink.frames.set(7 + 1201);
    channel.service(mapper, 1001 * MS);
    assert_eq!(events(front), [(0, 4804)]);
    // PAUSE reaches the sink; what the output says meanwhile is not the
    // stream's; RESUME goes on from where it paused.
    let pause = trigger_request(4, XENSND_OP_TRIGGER_PAUSE);
    assert_eq!(call(front, channel, mapper, pause, 1002 * MS).status, 0);
    sink.frames.set(5000);
    let resume = trigger_request(5, XENSND_OP_TRIGGER_RESUME);
    assert_eq!(call(front, channel, mapper, resume, 1003 * MS).status, 0);
    assert_eq!(channel.stream().position(), Some(4804));
    sink.frames.set(5000 + 1200);
    channel.service(mapper, 2000 * MS);
    assert_eq!(events(front), [(1, 9604)]);
    // A sink that refuses a TRIGGER fails it: -EIO, nothing changed.
    sink.refuse.set(true);
    let stop = trigger_request(6, XENSND_OP_TRIGGER_STOP);
    assert_eq!(
        call(front, channel, mapper, stop, 2001 * MS).status,
        status::EIO
    );
    assert_eq!(channel.stream().state(), ProtocolState::Running);
    sink.refuse.set(false);
    let stop = trigger_request(7, XENSND_OP_TRIGGER_STOP);
    assert_eq!(call(front, channel, mapper, stop, 2002 * MS).status, 0);
    assert_eq!(
        *sink.triggers.borrow(),
        [
            Trigger::Start,
            Trigger::Pause,
            Trigger::Resume,
            Trigger::Stop
        ]
    );
}
