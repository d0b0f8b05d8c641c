//! The [`Mixer`]: clients' queues summed into the output stream.

use alloc::vec;
use alloc::vec::Vec;

use xensnd_pcm::StreamConfig;

use xensnd_pcm::gain::{gain_q30, UNITY_Q30};

use crate::duck::Ramp;
use crate::layout::{remap, Layout, MAX_CHANNELS};
use crate::queue::BoundedQueue;
use crate::{ClientId, MixError};

/// Frames [`Mixer::mix`] works on at a time (its scratch buffers hold this
/// many, allocated once by [`Mixer::new`]; any `frames` is accepted).
pub const BLOCK_FRAMES: usize = 256;

/// How a client is mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// The queue's bound, in the client's frames (e.g. the guest's buffer).
    pub queue_frames: u32,
    /// A priority client (the audio domain's own alerts): never ducked.
    pub priority: bool,
}

/// When a client counts as misbehaving ([`Mixer::misbehaving`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Consecutive pushes refused (in part or whole) that make a flood.
    pub flood_pushes: u32,
    /// Consecutive mix calls that found no frame of an unpaused client
    /// that make a stall.
    pub stall_mixes: u32,
}

impl Default for Policy {
    /// A flood after 8 refused pushes in a row, a stall after 64 empty
    /// mixes in a row.
    fn default() -> Self {
        Self {
            flood_pushes: 8,
            stall_mixes: 64,
        }
    }
}

/// A misbehaving client, by [`Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Its pushes were refused (queue full) this many times in a row.
    Flood(u32),
    /// Mix found nothing of it this many times in a row.
    Stall(u32),
}

/// One client's counters since it was added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Bytes its pushes delivered into the queue.
    pub accepted_bytes: u64,
    /// Bytes refused: the queue was full.
    pub refused_bytes: u64,
    /// Pushes that had bytes refused.
    pub refused_pushes: u64,
    /// Frames mixed from its queue.
    pub consumed_frames: u64,
    /// Mix calls that ran its queue dry before the frames asked for.
    pub underruns: u64,
    /// Frames it was short of (mixed as silence).
    pub underrun_frames: u64,
    /// Pushes refused in a row (0 after an accepted one).
    pub refused_streak: u32,
    /// Mix calls in a row that found nothing of it.
    pub empty_streak: u32,
}

/// What one [`Mixer::mix`] took from one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    /// The client.
    pub id: ClientId,
    /// Frames taken from its queue (what its position advances by).
    pub frames: u32,
    /// Frames it was short of, mixed as silence (0 when paused).
    pub underrun_frames: u32,
    /// Where the frames taken start in everything the client's pushes
    /// delivered (frames since it was added): the frames taken are its
    /// frames `first_frame..first_frame + frames`. Frames dropped from its
    /// queue ([`Mixer::clear_queue`]) are never mixed, so the next call's
    /// `first_frame` jumps past them.
    pub first_frame: u64,
}

/// The mixer's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixStats {
    /// Output frames produced.
    pub mixed_frames: u64,
    /// Output samples whose mix lay outside `[-1, 1]` (clipped).
    pub clipped_samples: u64,
}

#[derive(Debug, Clone)]
struct Client {
    id: ClientId,
    layout: Layout,
    queue: BoundedQueue,
    priority: bool,
    muted: bool,
    paused: bool,
    stats: ClientStats,
}

/// Mixes clients' streams into one output stream; see the
/// [crate docs](crate) for the arithmetic and the channel mapping.
///
/// ```
/// use xensnd_mix::{ClientId, ClientOptions, Mixer, StreamConfig};
/// use xensnd_pcm::format::SampleFormat;
///
/// let config = |format, channels| StreamConfig {
///     format,
///     rate: 48_000,
///     channels,
///     period_frames: 0,
///     buffer_frames: 0,
/// };
/// let mut mixer = Mixer::new(&config(SampleFormat::S16Le, 2)).unwrap();
/// let options = ClientOptions { queue_frames: 1024, priority: false };
/// mixer.add_client(ClientId(1), &config(SampleFormat::S16Le, 1), options).unwrap();
/// mixer.add_client(ClientId(2), &config(SampleFormat::U8, 2), options).unwrap();
/// // Client 1: two mono frames; client 2: one stereo frame.
/// mixer.push(ClientId(1), &[0x00, 0x10, 0x00, 0x10]).unwrap();
/// mixer.push(ClientId(2), &[0x90, 0x70]).unwrap();
/// let mut out = [0u8; 8];
/// let consumed = mixer.mix(2, &mut out).unwrap();
/// assert_eq!((consumed[0].frames, consumed[0].underrun_frames), (2, 0));
/// assert_eq!((consumed[1].frames, consumed[1].underrun_frames), (1, 1));
/// let samples: Vec<i16> = out.chunks(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
/// assert_eq!(samples, [0x1000 + 0x1000, 0x1000 - 0x1000, 0x1000, 0x1000]);
/// ```
#[derive(Debug, Clone)]
pub struct Mixer {
    output: Layout,
    rate: u32,
    clients: Vec<Client>,
    policy: Policy,
    duck: Ramp,
    stats: MixStats,
    /// The last mix's report, one entry per client in client order.
    report: Vec<Consumed>,
    /// Ordinary clients' sum (a block).
    sum: Vec<i64>,
    /// Priority clients' sum (a block).
    priority_sum: Vec<i64>,
    /// The output samples (a block).
    mixed: Vec<i32>,
    /// A client's bytes (a block of at most [`MAX_CHANNELS`] × 8 bytes a frame).
    bytes: Vec<u8>,
    /// A client's decoded samples (a block).
    decoded: Vec<i32>,
}

impl Mixer {
    /// A mixer producing `output` (its format, rate and channels; the
    /// period and buffer are not looked at), no clients, not ducked,
    /// [`Policy::default`].
    pub fn new(output: &StreamConfig) -> Result<Self, MixError> {
        let layout = Layout::new(output)?;
        let most = usize::from(MAX_CHANNELS);
        Ok(Self {
            output: layout,
            rate: output.rate,
            clients: Vec::new(),
            policy: Policy::default(),
            duck: Ramp::constant(UNITY_Q30),
            stats: MixStats::default(),
            report: Vec::new(),
            sum: vec![0; BLOCK_FRAMES * layout.channels],
            priority_sum: vec![0; BLOCK_FRAMES * layout.channels],
            mixed: vec![0; BLOCK_FRAMES * layout.channels],
            bytes: vec![0; BLOCK_FRAMES * most * 8],
            decoded: vec![0; BLOCK_FRAMES * most],
        })
    }

    /// Set when a client counts as misbehaving.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// The output's bytes per frame.
    pub fn output_frame_bytes(&self) -> usize {
        self.output.frame_bytes
    }

    /// Add a client whose bytes are in `config`'s format and channels, at
    /// `config.rate`, which must be the output's; its queue holds
    /// `options.queue_frames` frames and is allocated now. Unmuted,
    /// unpaused.
    pub fn add_client(
        &mut self,
        id: ClientId,
        config: &StreamConfig,
        options: ClientOptions,
    ) -> Result<(), MixError> {
        let existing = self.clients.iter().map(|client| client.id);
        let (layout, bound) =
            Layout::for_client(id, existing, config, self.rate, options.queue_frames)?;
        self.clients.push(Client {
            id,
            layout,
            queue: BoundedQueue::new(bound),
            priority: options.priority,
            muted: false,
            paused: false,
            stats: ClientStats::default(),
        });
        self.report.reserve(1);
        Ok(())
    }

    /// Remove a client, mid-stream or not: what it queued is dropped, the
    /// next mix goes on without it. Returns its counters.
    pub fn remove_client(&mut self, id: ClientId) -> Result<ClientStats, MixError> {
        let index = self.index(id)?;
        Ok(self.clients.remove(index).stats)
    }

    /// The clients, in mixing order.
    pub fn clients(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.clients.iter().map(|client| client.id)
    }

    fn index(&self, id: ClientId) -> Result<usize, MixError> {
        self.clients
            .iter()
            .position(|client| client.id == id)
            .ok_or(MixError::UnknownClient(id))
    }

    fn client_mut(&mut self, id: ClientId) -> Result<&mut Client, MixError> {
        let index = self.index(id)?;
        Ok(&mut self.clients[index])
    }

    /// Queue `bytes` a client delivered (a guest's WRITE; need not be
    /// whole frames: a cut frame waits for the rest). What does not fit in
    /// the queue is refused and counted; returns the bytes taken.
    pub fn push(&mut self, id: ClientId, bytes: &[u8]) -> Result<usize, MixError> {
        let client = self.client_mut(id)?;
        let taken = client.queue.push(bytes);
        let stats = &mut client.stats;
        stats.accepted_bytes += taken as u64;
        if taken < bytes.len() {
            stats.refused_bytes += (bytes.len() - taken) as u64;
            stats.refused_pushes += 1;
            stats.refused_streak = stats.refused_streak.saturating_add(1);
        } else {
            stats.refused_streak = 0;
        }
        Ok(taken)
    }

    /// Bytes a client has queued.
    pub fn queued_bytes(&self, id: ClientId) -> Result<usize, MixError> {
        Ok(self.clients[self.index(id)?].queue.len())
    }

    /// Bytes a client's queue holds at most.
    pub fn queue_bound(&self, id: ClientId) -> Result<usize, MixError> {
        Ok(self.clients[self.index(id)?].queue.bound())
    }

    /// Drop what a client has queued (e.g. its stream was stopped).
    pub fn clear_queue(&mut self, id: ClientId) -> Result<(), MixError> {
        self.client_mut(id)?.queue.clear();
        Ok(())
    }

    /// Mute (its samples are silence, its queue is still consumed at the
    /// output's pace) or unmute a client.
    pub fn set_muted(&mut self, id: ClientId, muted: bool) -> Result<(), MixError> {
        self.client_mut(id)?.muted = muted;
        Ok(())
    }

    /// Pause (not mixed, nothing consumed, no underrun, no stall) or
    /// resume a client, e.g. its stream is stopped or paused.
    pub fn set_paused(&mut self, id: ClientId, paused: bool) -> Result<(), MixError> {
        let client = self.client_mut(id)?;
        client.paused = paused;
        client.stats.empty_streak = 0;
        Ok(())
    }

    /// A client's counters.
    pub fn client_stats(&self, id: ClientId) -> Result<ClientStats, MixError> {
        Ok(self.clients[self.index(id)?].stats)
    }

    /// The mixer's counters.
    pub fn stats(&self) -> MixStats {
        self.stats
    }

    /// The first client that misbehaves by the [`Policy`] (a flood before a
    /// stall), for the caller to mute or remove. Its streaks go on
    /// counting until it behaves, is paused or removed.
    pub fn misbehaving(&self) -> Option<(ClientId, Misbehaviour)> {
        self.clients.iter().find_map(|client| {
            let stats = &client.stats;
            if stats.refused_streak >= self.policy.flood_pushes {
                Some((client.id, Misbehaviour::Flood(stats.refused_streak)))
            } else if stats.empty_streak >= self.policy.stall_mixes {
                Some((client.id, Misbehaviour::Stall(stats.empty_streak)))
            } else {
                None
            }
        })
    }

    /// Duck the ordinary clients to `millidb` (0.001 dB, e.g. -20 000 for
    /// -20 dB; positive amounts count as 0 dB) over `ramp_ms` milliseconds
    /// of output (at once when 0), from the gain they have now: a linear
    /// ramp of the gain ([`gain_q30`]: Q30 fixed point), one integer step
    /// per frame. Priority clients are never ducked.
    pub fn duck(&mut self, millidb: i32, ramp_ms: u32) {
        self.duck
            .retarget(gain_q30(millidb.min(0)), self.ramp_frames(ramp_ms));
    }

    /// Ramp the ordinary clients back to 0 dB over `ramp_ms` milliseconds.
    pub fn unduck(&mut self, ramp_ms: u32) {
        self.duck.retarget(UNITY_Q30, self.ramp_frames(ramp_ms));
    }

    /// The gain of the last frame mixed (1.0 when not ducked): the Q30
    /// gain divided by `2^30`, to the nearest `f32` (for reports; the mix
    /// uses the integer).
    pub fn duck_gain(&self) -> f32 {
        q30_to_f32(self.duck.current())
    }

    /// The gain the ducking is at or going to (as [`Mixer::duck_gain`]).
    pub fn duck_target(&self) -> f32 {
        q30_to_f32(self.duck.target())
    }

    /// Whether a duck or unduck ramp is under way.
    pub fn duck_ramping(&self) -> bool {
        self.duck.ramping()
    }

    fn ramp_frames(&self, ramp_ms: u32) -> u32 {
        let frames = u64::from(ramp_ms) * u64::from(self.rate) / 1000;
        u32::try_from(frames).unwrap_or(u32::MAX)
    }

    /// Produce exactly `frames` frames of the output format into the start
    /// of `out`: every unpaused client's next frames, converted, mapped and
    /// summed (see the [crate docs](crate#the-arithmetic)). A client with
    /// fewer frames queued contributes them and then silence (an underrun
    /// of that client only). Returns what was taken from each client, in
    /// client order.
    pub fn mix(&mut self, frames: usize, out: &mut [u8]) -> Result<&[Consumed], MixError> {
        u32::try_from(frames).map_err(|_| MixError::TooLarge)?;
        let needed = self.output.bytes(frames)?;
        if out.len() < needed {
            return Err(MixError::OutputTooShort {
                needed,
                given: out.len(),
            });
        }
        self.report.clear();
        self.report.extend(self.clients.iter().map(|client| {
            let frame_bytes = client.layout.frame_bytes.max(1) as u64;
            let queued = client.queue.len() as u64;
            Consumed {
                id: client.id,
                frames: 0,
                underrun_frames: 0,
                first_frame: client.stats.accepted_bytes.saturating_sub(queued) / frame_bytes,
            }
        }));
        let channels = self.output.channels;
        let mut done = 0;
        while done < frames {
            let block = (frames - done).min(BLOCK_FRAMES);
            self.sum[..block * channels].fill(0);
            self.priority_sum[..block * channels].fill(0);
            for (client, report) in self.clients.iter_mut().zip(self.report.iter_mut()) {
                if client.paused {
                    continue;
                }
                let layout = client.layout;
                let take = (client.queue.len() / layout.frame_bytes).min(block);
                let bytes = &mut self.bytes[..take * layout.frame_bytes];
                client.queue.pop_into(bytes);
                report.frames += take as u32;
                report.underrun_frames += (block - take) as u32;
                if client.muted {
                    continue;
                }
                let decoded = &mut self.decoded[..take * layout.channels];
                layout.converter.decode(bytes, decoded);
                let sum = if client.priority {
                    &mut self.priority_sum
                } else {
                    &mut self.sum
                };
                let mut mapped = [0i32; MAX_CHANNELS as usize];
                let mapped = &mut mapped[..channels];
                for (frame_in, frame_sum) in decoded
                    .chunks_exact(layout.channels)
                    .zip(sum.chunks_exact_mut(channels))
                {
                    remap(frame_in, mapped);
                    for (total, sample) in frame_sum.iter_mut().zip(mapped.iter()) {
                        *total += i64::from(*sample);
                    }
                }
            }
            let sums = self.sum[..block * channels].chunks_exact(channels);
            let priority = self.priority_sum.chunks_exact(channels);
            let mixed = self.mixed.chunks_exact_mut(channels);
            for ((frame, priority), mixed) in sums.zip(priority).zip(mixed) {
                let gain = self.duck.next_gain();
                for ((sum, alert), mixed) in frame.iter().zip(priority).zip(mixed.iter_mut()) {
                    let value = apply_gain(*sum, gain) + *alert;
                    let clipped = value.clamp(-FULL_SCALE, FULL_SCALE);
                    if clipped != value {
                        self.stats.clipped_samples += 1;
                    }
                    // +1.0 (2^31) is i32::MAX, as the conversion rule clips it.
                    *mixed = clipped.min(i64::from(i32::MAX)) as i32;
                }
            }
            let start = done * self.output.frame_bytes;
            let end = start + block * self.output.frame_bytes;
            self.output
                .converter
                .encode(&self.mixed[..block * channels], &mut out[start..end]);
            done += block;
        }
        self.stats.mixed_frames += frames as u64;
        for (client, report) in self.clients.iter_mut().zip(self.report.iter()) {
            let stats = &mut client.stats;
            stats.consumed_frames += u64::from(report.frames);
            if report.underrun_frames > 0 {
                stats.underruns += 1;
                stats.underrun_frames += u64::from(report.underrun_frames);
            }
            if frames > 0 && !client.paused {
                if report.frames == 0 {
                    stats.empty_streak = stats.empty_streak.saturating_add(1);
                } else {
                    stats.empty_streak = 0;
                }
            }
        }
        Ok(&self.report)
    }
}

/// Full scale (1.0) of the mix's samples: `2^31`.
const FULL_SCALE: i64 = 1 << 31;

/// `sum * gain / 2^30` (`gain` in Q30) rounded to the nearest integer, ties
/// to even, in `i64` without overflow for any sum of `i32` samples: with
/// `sum = high * 2^30 + low` (`0 <= low < 2^30`), `high * gain` is exact
/// (at most `|sum| * 2^2`) and only `low * gain < 2^62` is rounded.
#[inline]
pub(crate) fn apply_gain(sum: i64, gain: u32) -> i64 {
    if gain == UNITY_Q30 {
        return sum;
    }
    let gain = i64::from(gain);
    let high = sum >> 30;
    let low = sum & ((1 << 30) - 1);
    let scaled = low * gain;
    let floor = high * gain + (scaled >> 30);
    let rest = scaled & ((1 << 30) - 1);
    let half = 1 << 29;
    let up = rest > half || (rest == half && floor & 1 == 1);
    floor + i64::from(up)
}

/// A Q30 gain as the nearest `f32`.
fn q30_to_f32(gain: u32) -> f32 {
    // `as` rounds to nearest; the power of two divides exactly.
    gain as f32 / UNITY_Q30 as f32
}
