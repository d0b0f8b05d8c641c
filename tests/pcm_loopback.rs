//! The in-memory loopback stream against the PCM trait contract, used generically.

use xensnd_pcm::format::SampleFormat;
use xensnd_pcm::mock::LoopbackStream;
use xensnd_pcm::{
    Capture, CaptureBuffer, Error, ErrorKind, Playback, PlaybackBuffer, Stream, StreamConfig,
    StreamState,
};

/// s16_le stereo: 4 bytes per frame, 8 frames of buffer.
fn config() -> StreamConfig {
    StreamConfig {
        format: SampleFormat::S16Le,
        rate: 48000,
        channels: 2,
        period_frames: 2,
        buffer_frames: 8,
    }
}

fn running() -> LoopbackStream {
    let mut stream = LoopbackStream::new(config()).unwrap();
    stream.prepare().unwrap();
    stream.start().unwrap();
    stream
}

/// `count` frames numbered from `first`: frame n is [n, n, n, n].
fn frames(first: u8, count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|index| [first.wrapping_add(index as u8); 4])
        .collect()
}

#[test]
fn invalid_configs_are_refused() {
    let base = config();
    for bad in [
        StreamConfig {
            channels: 0,
            ..base
        },
        StreamConfig { rate: 0, ..base },
        StreamConfig {
            period_frames: 0,
            ..base
        },
        StreamConfig {
            period_frames: 9,
            ..base
        },
        StreamConfig {
            buffer_frames: 0,
            period_frames: 0,
            ..base
        },
        StreamConfig {
            format: SampleFormat::Mpeg,
            ..base
        },
        StreamConfig {
            buffer_frames: u32::MAX,
            ..base
        },
    ] {
        assert_eq!(
            LoopbackStream::new(bad).unwrap_err(),
            ErrorKind::InvalidConfig,
            "{bad:?}"
        );
    }
}

#[test]
fn config_byte_sizes() {
    let config = config();
    assert_eq!(config.frame_bytes(), Some(4));
    assert_eq!(config.buffer_bytes(), Some(32));
    assert_eq!(config.period_bytes(), Some(8));
    assert!(config.is_valid());
}

#[test]
fn written_frames_come_back_in_order_across_the_wrap() {
    let mut stream = running();
    assert_eq!(stream.write(&frames(0, 6)).unwrap(), 6);
    let mut out = vec![0; 4 * 4];
    assert_eq!(stream.read(&mut out).unwrap(), 4);
    assert_eq!(out, frames(0, 4));
    // 2 queued, room 6: this write wraps around the end of the ring.
    assert_eq!(stream.write(&frames(6, 6)).unwrap(), 6);
    let mut out = vec![0; 8 * 4];
    assert_eq!(stream.read(&mut out).unwrap(), 8);
    assert_eq!(out, frames(4, 8));
    assert_eq!(stream.position(), 12);
    assert_eq!(stream.delay(), 0);
}

#[test]
fn counts_are_frames_and_partial_frames_are_refused() {
    let mut stream = running();
    assert_eq!(stream.write(&[]).unwrap(), 0);
    assert_eq!(
        stream.write(&[1, 2, 3]).unwrap_err(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        stream.try_write(&[1; 5]).unwrap_err(),
        ErrorKind::InvalidInput
    );
    let mut odd = [0; 6];
    assert_eq!(stream.read(&mut odd).unwrap_err(), ErrorKind::InvalidInput);
    assert_eq!(stream.available(), 8);
    assert_eq!(stream.write(&frames(0, 3)).unwrap(), 3);
    assert_eq!(stream.available(), 5);
    assert_eq!(stream.delay(), 3);
    assert_eq!(stream.queued_frames(), 3);
}

#[test]
fn try_write_never_blocks_and_write_never_returns_zero() {
    let mut stream = running();
    assert!(stream.write_ready().unwrap());
    assert_eq!(stream.try_write(&frames(0, 10)).unwrap(), 8);
    assert!(!stream.write_ready().unwrap());
    assert_eq!(
        stream.try_write(&frames(0, 1)).unwrap_err(),
        ErrorKind::WouldBlock
    );
    // Blocking write on a full running stream waits for the device: the
    // oldest frames are played to make room, and it moves at least one frame.
    assert_eq!(stream.write(&frames(100, 3)).unwrap(), 3);
    assert_eq!(stream.position(), 3);
    let mut out = vec![0; 8 * 4];
    assert_eq!(stream.read(&mut out).unwrap(), 8);
    let mut expected = frames(3, 5);
    expected.extend(frames(100, 3));
    assert_eq!(out, expected);
}

#[test]
fn write_when_nothing_can_drain_is_an_invalid_state() {
    let mut stream = LoopbackStream::new(config()).unwrap();
    assert_eq!(
        stream.write(&frames(0, 1)).unwrap_err(),
        ErrorKind::InvalidState
    );
    stream.prepare().unwrap();
    // Pre-filling a prepared stream is fine until it is full.
    assert_eq!(stream.write(&frames(0, 8)).unwrap(), 8);
    assert_eq!(
        stream.write(&frames(0, 1)).unwrap_err(),
        ErrorKind::InvalidState
    );
    stream.start().unwrap();
    stream.pause().unwrap();
    assert_eq!(
        stream.write(&frames(0, 1)).unwrap_err(),
        ErrorKind::InvalidState
    );
    assert_eq!(
        stream.try_write(&frames(0, 1)).unwrap_err(),
        ErrorKind::WouldBlock
    );
}

#[test]
fn reads_without_data() {
    let mut stream = running();
    let mut out = vec![0; 4];
    assert!(!stream.read_ready().unwrap());
    assert_eq!(
        stream.try_read(&mut out).unwrap_err(),
        ErrorKind::WouldBlock
    );
    assert_eq!(stream.read(&mut out).unwrap_err(), ErrorKind::Timeout);
    assert_eq!(stream.read(&mut []).unwrap(), 0);
    stream.pause().unwrap();
    assert_eq!(stream.read(&mut out).unwrap_err(), ErrorKind::InvalidState);
    let mut prepared = LoopbackStream::new(config()).unwrap();
    prepared.prepare().unwrap();
    assert_eq!(
        prepared.read(&mut out).unwrap_err(),
        ErrorKind::InvalidState
    );
}

#[test]
fn play_out_advances_only_while_running() {
    let mut stream = LoopbackStream::new(config()).unwrap();
    stream.prepare().unwrap();
    stream.write(&frames(0, 5)).unwrap();
    assert_eq!(stream.play_out(2), 0);
    stream.start().unwrap();
    assert_eq!(stream.play_out(2), 2);
    assert_eq!(stream.position(), 2);
    assert_eq!(stream.delay(), 3);
    stream.pause().unwrap();
    assert_eq!(stream.play_out(2), 0);
    stream.resume().unwrap();
    assert_eq!(stream.play_out(100), 3);
    assert_eq!(stream.position(), 5);
}

#[test]
fn drain_plays_everything_and_stop_drops_it() {
    let mut stream = running();
    stream.write(&frames(0, 6)).unwrap();
    stream.drain().unwrap();
    assert_eq!(stream.state(), StreamState::Drained);
    assert_eq!(stream.position(), 6);
    assert_eq!(stream.delay(), 0);
    assert_eq!(stream.available(), 0);

    stream.prepare().unwrap();
    assert_eq!(stream.position(), 0);
    stream.write(&frames(0, 6)).unwrap();
    stream.start().unwrap();
    stream.stop().unwrap();
    assert_eq!(stream.state(), StreamState::Stopped);
    assert_eq!(stream.position(), 0);
    assert_eq!(stream.delay(), 0);
}

#[test]
fn refused_operations_change_nothing() {
    let mut stream = running();
    stream.write(&frames(0, 4)).unwrap();
    stream.pause().unwrap();
    assert_eq!(stream.drain().unwrap_err(), ErrorKind::InvalidState);
    assert_eq!(stream.start().unwrap_err(), ErrorKind::InvalidState);
    assert_eq!(stream.state(), StreamState::Paused);
    assert_eq!(stream.delay(), 4);
    stream.close().unwrap();
    assert_eq!(stream.close().unwrap_err(), ErrorKind::InvalidState);
    assert_eq!(stream.prepare().unwrap_err(), ErrorKind::InvalidState);
    assert_eq!(
        stream.write(&frames(0, 1)).unwrap_err(),
        ErrorKind::InvalidState
    );
}

#[test]
fn zero_copy_write_and_read() {
    let mut stream = running();
    stream.write(&frames(0, 6)).unwrap();
    let mut out = vec![0; 5 * 4];
    stream.read(&mut out).unwrap();
    // Ring: read at frame 5, one queued, write at frame 6: two contiguous free frames.
    let mut slice = stream.begin_write().unwrap();
    assert_eq!(slice.frames(), 2);
    assert_eq!(slice.frame_bytes(), 4);
    slice.bytes_mut().copy_from_slice(&frames(50, 2));
    stream.commit_write(2).unwrap();
    // Then the free part at the start of the ring.
    let mut slice = stream.begin_write().unwrap();
    assert_eq!(slice.frames(), 5);
    slice.bytes_mut()[..4].copy_from_slice(&frames(52, 1));
    assert_eq!(stream.commit_write(6).unwrap_err(), ErrorKind::InvalidInput);
    stream.commit_write(1).unwrap();
    // Committing again without a new begin offers nothing.
    assert_eq!(stream.commit_write(1).unwrap_err(), ErrorKind::InvalidInput);
    assert_eq!(stream.delay(), 4);

    let slice = stream.begin_read().unwrap();
    assert_eq!(slice.frames(), 3);
    let mut expected = frames(5, 1);
    expected.extend(frames(50, 2));
    assert_eq!(slice.bytes(), expected.as_slice());
    stream.commit_read(3).unwrap();
    let slice = stream.begin_read().unwrap();
    assert_eq!(slice.bytes(), frames(52, 1).as_slice());
    assert_eq!(stream.commit_read(2).unwrap_err(), ErrorKind::InvalidInput);
    stream.commit_read(1).unwrap();
    assert_eq!(stream.begin_read().unwrap_err(), ErrorKind::WouldBlock);
    assert_eq!(stream.position(), 9);

    stream.write(&frames(0, 8)).unwrap();
    assert_eq!(stream.begin_write().unwrap_err(), ErrorKind::WouldBlock);
}

#[test]
fn uncommitted_zero_copy_write_queues_nothing() {
    let mut stream = running();
    let mut slice = stream.begin_write().unwrap();
    assert_eq!(slice.frames(), 8);
    slice.bytes_mut().fill(7);
    assert_eq!(stream.delay(), 0);
    stream.write(&frames(1, 1)).unwrap();
    // The write invalidated the earlier offer.
    assert_eq!(stream.commit_write(1).unwrap_err(), ErrorKind::InvalidInput);
    let mut out = vec![0; 4];
    stream.read(&mut out).unwrap();
    assert_eq!(out, frames(1, 1));
}

#[test]
fn volume_and_mute_are_recorded() {
    let mut stream = LoopbackStream::new(config()).unwrap();
    assert_eq!(
        stream.set_volume(&[0, 0]).unwrap_err(),
        ErrorKind::InvalidState
    );
    stream.prepare().unwrap();
    assert_eq!(
        stream.set_volume(&[-3000]).unwrap_err(),
        ErrorKind::InvalidInput
    );
    stream.set_volume(&[-3000, -6000]).unwrap();
    let mut volume = [1; 3];
    assert_eq!(stream.volume(&mut volume).unwrap(), 2);
    assert_eq!(volume, [-3000, -6000, 1]);
    assert_eq!(stream.volume_millidb(), [-3000, -6000]);
    stream.set_mute(true).unwrap();
    assert!(stream.is_muted());
    stream.set_mute(false).unwrap();
    assert!(!stream.is_muted());
}

#[test]
fn injected_faults_surface_once() {
    let mut stream = running();
    stream.fail_next(ErrorKind::Disconnected);
    assert_eq!(
        stream.write(&frames(0, 1)).unwrap_err(),
        ErrorKind::Disconnected
    );
    assert_eq!(stream.write(&frames(0, 1)).unwrap(), 1);
    stream.fail_next(ErrorKind::Backend(-5));
    let error = stream.pause().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Backend(-5));
    assert_eq!(stream.state(), StreamState::Running);
}

/// Generic code sees only the traits, through `&mut T` too.
fn copy_through<S: Playback + Capture>(stream: &mut S, data: &[u8]) -> Result<Vec<u8>, S::Error> {
    let frame = stream.config().frame_bytes().unwrap() as usize;
    let mut sent = 0;
    let mut received = Vec::new();
    let mut buffer = vec![0; 3 * frame];
    while received.len() < data.len() {
        if sent < data.len() && stream.write_ready()? {
            let end = (sent + 5 * frame).min(data.len());
            sent += stream.try_write(&data[sent..end])? * frame;
        }
        if stream.read_ready()? {
            let count = stream.try_read(&mut buffer)?;
            received.extend_from_slice(&buffer[..count * frame]);
        }
    }
    Ok(received)
}

#[test]
fn generic_code_through_mutable_references() {
    let mut stream = running();
    let data = frames(0, 40);
    let mut by_reference = &mut stream;
    let received = copy_through(&mut by_reference, &data).unwrap();
    assert_eq!(received, data);
    assert_eq!(Stream::position(&by_reference), 40);
    assert_eq!(stream.position(), 40);
}

#[test]
fn works_for_other_formats() {
    for (format, channels, frame) in [
        (SampleFormat::U8, 1u8, 1usize),
        (SampleFormat::S24Le, 2, 8),
        (SampleFormat::F64Be, 6, 48),
        (SampleFormat::MuLaw, 2, 2),
    ] {
        let mut stream = LoopbackStream::new(StreamConfig {
            format,
            rate: 8000,
            channels,
            period_frames: 4,
            buffer_frames: 16,
        })
        .unwrap();
        stream.prepare().unwrap();
        stream.start().unwrap();
        let data: Vec<u8> = (0..frame * 10).map(|byte| byte as u8).collect();
        assert_eq!(stream.write(&data).unwrap(), 10);
        let mut out = vec![0; frame * 10];
        assert_eq!(stream.read(&mut out).unwrap(), 10);
        assert_eq!(out, data);
    }
}
