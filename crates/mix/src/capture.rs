//! [`CaptureFanout`]: one captured block to every capture client.

use alloc::vec;
use alloc::vec::Vec;

use xensnd_pcm::StreamConfig;

use crate::layout::{convert_frames, Layout, MAX_CHANNELS};
use crate::queue::BoundedQueue;
use crate::{ClientId, MixError};

/// One capture client's counters since it was added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames delivered into its queue.
    pub delivered_frames: u64,
    /// Frames dropped because its queue was full (an overrun: it did not
    /// read in time).
    pub overrun_frames: u64,
    /// Bytes it read.
    pub read_bytes: u64,
}

#[derive(Debug, Clone)]
struct CaptureClient {
    id: ClientId,
    layout: Layout,
    queue: BoundedQueue,
    stats: CaptureStats,
}

/// Converts captured blocks (in the capture device's format) into each
/// capture client's format and bounded queue, by the crate's conversion
/// and [channel mapping](crate#channel-mapping); clients read their own
/// queue ([`CaptureFanout::read`], what a guest's READ returns).
///
/// ```
/// use xensnd_mix::{CaptureFanout, ClientId, StreamConfig};
/// use xensnd_pcm::format::SampleFormat;
///
/// let config = |format, channels| StreamConfig {
///     format,
///     rate: 48_000,
///     channels,
///     period_frames: 0,
///     buffer_frames: 0,
/// };
/// let mut fanout = CaptureFanout::new(&config(SampleFormat::S16Le, 1)).unwrap();
/// fanout.add_client(ClientId(7), &config(SampleFormat::U8, 2), 16).unwrap();
/// fanout.deliver(&[0x00, 0x40]).unwrap(); // 0.5
/// let mut out = [0u8; 2];
/// assert_eq!(fanout.read(ClientId(7), &mut out), Ok(2));
/// assert_eq!(out, [192, 192]);
/// ```
#[derive(Debug, Clone)]
pub struct CaptureFanout {
    source: Layout,
    rate: u32,
    clients: Vec<CaptureClient>,
    /// One frame in a client's format.
    frame: Vec<u8>,
}

impl CaptureFanout {
    /// A fan-out of blocks in `source`'s format, rate and channels.
    pub fn new(source: &StreamConfig) -> Result<Self, MixError> {
        Ok(Self {
            source: Layout::new(source)?,
            rate: source.rate,
            clients: Vec::new(),
            frame: vec![0; usize::from(MAX_CHANNELS) * 8],
        })
    }

    /// Add a capture client in `config`'s format and channels at the
    /// source's rate, its queue holding `queue_frames` of its frames.
    pub fn add_client(
        &mut self,
        id: ClientId,
        config: &StreamConfig,
        queue_frames: u32,
    ) -> Result<(), MixError> {
        let existing = self.clients.iter().map(|client| client.id);
        let (layout, bound) = Layout::for_client(id, existing, config, self.rate, queue_frames)?;
        self.clients.push(CaptureClient {
            id,
            layout,
            queue: BoundedQueue::new(bound),
            stats: CaptureStats::default(),
        });
        Ok(())
    }

    /// Remove a capture client (what it did not read is dropped); returns
    /// its counters.
    pub fn remove_client(&mut self, id: ClientId) -> Result<CaptureStats, MixError> {
        let index = self.index(id)?;
        Ok(self.clients.remove(index).stats)
    }

    fn index(&self, id: ClientId) -> Result<usize, MixError> {
        self.clients
            .iter()
            .position(|client| client.id == id)
            .ok_or(MixError::UnknownClient(id))
    }

    /// Convert the whole frames of `block` (in the source's format) into
    /// every client's queue; a client whose queue is full loses the
    /// frames that do not fit (counted). Returns the frames in `block`.
    pub fn deliver(&mut self, block: &[u8]) -> Result<usize, MixError> {
        let frames = block.len() / self.source.frame_bytes;
        for client in &mut self.clients {
            let frame = &mut self.frame[..client.layout.frame_bytes];
            let room = (client.queue.bound() - client.queue.len()) / client.layout.frame_bytes;
            let fits = frames.min(room);
            for frame_in in block.chunks_exact(self.source.frame_bytes).take(fits) {
                convert_frames(&self.source, frame_in, &client.layout, frame, 1);
                client.queue.push(frame);
            }
            client.stats.delivered_frames += fits as u64;
            client.stats.overrun_frames += (frames - fits) as u64;
        }
        Ok(frames)
    }

    /// Move a client's queued whole frames into `out`, as many as fit;
    /// returns the bytes moved.
    pub fn read(&mut self, id: ClientId, out: &mut [u8]) -> Result<usize, MixError> {
        let index = self.index(id)?;
        let client = &mut self.clients[index];
        let frame_bytes = client.layout.frame_bytes;
        let frames = (client.queue.len() / frame_bytes).min(out.len() / frame_bytes);
        let bytes = frames * frame_bytes;
        client.queue.pop_into(&mut out[..bytes]);
        client.stats.read_bytes += bytes as u64;
        Ok(bytes)
    }

    /// Bytes a client has queued.
    pub fn queued_bytes(&self, id: ClientId) -> Result<usize, MixError> {
        Ok(self.clients[self.index(id)?].queue.len())
    }

    /// A client's counters.
    pub fn client_stats(&self, id: ClientId) -> Result<CaptureStats, MixError> {
        Ok(self.clients[self.index(id)?].stats)
    }
}
