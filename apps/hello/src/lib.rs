//! hello: a small xensnd application. It plays an embedded sound on the
//! playback stream its caller names, then records a second from a capture
//! stream and returns the recording's peak level.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use xensnd::pcm::{format::SampleFormat, Capture, Playback, Stream};
use xensnd::sndif::pcm::{PcmError, SndCapture, SndPlayback};
use xensnd::sndif::{frontend::Frontend, negotiate::StreamRequest};

/// 300 ms of 880 Hz at -6 dBFS: 48 kHz, mono, `s16_le`.
pub const SOUND: &[u8] = include_bytes!("ding-48k-mono-s16.raw");

/// Play [`SOUND`] on `speaker`, record a second from `mic`; the peak of
/// the recording (0..=32768).
pub fn hello<X>(sound: &Frontend<X>, speaker: &str, mic: &str) -> Result<u32, PcmError>
where
    X: xensnd::xen::Platform,
{
    let mono = StreamRequest::layout(SampleFormat::S16Le, 48_000, 1);
    let mut out = SndPlayback::open_unique_id(sound, speaker, &mono)?;
    out.prepare()?;
    let mut rest = SOUND;
    while !rest.is_empty() {
        rest = &rest[2 * out.write(rest)?..];
    }
    out.drain()?;
    out.close()?;
    let mut input = SndCapture::open_unique_id(sound, mic, &mono)?;
    input.prepare()?;
    input.start()?;
    let mut second = alloc::vec![0u8; 2 * 48_000];
    let mut got = 0;
    while got < second.len() {
        got += 2 * input.read(&mut second[got..])?;
    }
    input.close()?;
    let samples = second
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]));
    Ok(samples
        .map(|s| u32::from(s.unsigned_abs()))
        .max()
        .unwrap_or(0))
}
