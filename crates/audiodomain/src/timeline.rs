//! Where each client's audio went in the output: the runs of a client's
//! frames that lie back to back in the mix, as (output frame, client
//! frame, length).
//!
//! The mixer takes a client's queued frames from the start of each mix
//! call and fills the rest of the call with silence when the queue runs
//! dry ([`xensnd_mix::Mixer::mix`]); a paused client gives nothing. So a
//! client's frames continue the previous call's run when that call took
//! every frame it asked for and nothing was dropped from its queue in
//! between (a guest's STOP drops what it queued: the mixer's
//! [`Consumed::first_frame`] then jumps), and start a new run at the call's
//! first output frame otherwise. A run's client frame counts everything
//! the client delivered, dropped frames included: the frame of its input
//! (a guest plays its file in order). From these runs (the audio domain
//! logs them) and the clients' own inputs, the output can be rebuilt
//! exactly on the host (`wavtool mix`), whatever the clients' timing was.
#![forbid(unsafe_code)]

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use xensnd_mix::{ClientId, Consumed};

/// One run of a client's frames in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The client.
    pub client: ClientId,
    /// The output frame (from the first frame ever mixed) where it starts.
    pub output_frame: u64,
    /// The client's frame (from the first frame it ever gave) where it
    /// starts.
    pub client_frame: u64,
    /// Its length in frames.
    pub frames: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Track {
    /// The run still growing, if any.
    open: Option<Segment>,
}

/// The runs of every client, as mix calls report them; finished runs wait
/// in a bounded list until taken.
#[derive(Debug, Default)]
pub struct Timeline {
    /// Output frames mixed so far.
    mixed: u64,
    tracks: BTreeMap<ClientId, Track>,
    finished: Vec<Segment>,
    /// Finished runs dropped because nobody took them in time.
    dropped: u64,
}

/// Finished runs kept at most before the oldest are dropped (and counted).
pub const FINISHED_KEPT: usize = 256;

impl Timeline {
    /// Nothing mixed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A mix call produced `frames` output frames and took `report` (one
    /// entry per client present at the call, [`xensnd_mix::Mixer::mix`]).
    /// Clients absent from the report left: their runs end.
    pub fn record(&mut self, frames: u64, report: &[Consumed]) {
        let start = self.mixed;
        let mut ended = Vec::new();
        for (client, track) in &mut self.tracks {
            if !report.iter().any(|entry| entry.id == *client) {
                ended.extend(track.open.take());
            }
        }
        self.tracks
            .retain(|client, _| report.iter().any(|entry| entry.id == *client));
        for entry in report {
            let track = self.tracks.entry(entry.id).or_default();
            let took = u64::from(entry.frames);
            if took > 0 {
                match &mut track.open {
                    Some(open)
                        if open.output_frame + open.frames == start
                            && open.client_frame + open.frames == entry.first_frame =>
                    {
                        open.frames += took
                    }
                    open => {
                        ended.extend(open.take());
                        *open = Some(Segment {
                            client: entry.id,
                            output_frame: start,
                            client_frame: entry.first_frame,
                            frames: took,
                        });
                    }
                }
            }
            if took < frames {
                ended.extend(track.open.take());
            }
        }
        self.mixed = start + frames;
        for segment in ended {
            self.finish(segment);
        }
    }

    fn finish(&mut self, segment: Segment) {
        if self.finished.len() >= FINISHED_KEPT {
            self.finished.remove(0);
            self.dropped += 1;
        }
        self.finished.push(segment);
    }

    /// The runs that ended since the last call, oldest first.
    pub fn take_finished(&mut self) -> Vec<Segment> {
        core::mem::take(&mut self.finished)
    }

    /// End every open run (the output stops) and return every run not yet
    /// taken.
    pub fn close(&mut self) -> Vec<Segment> {
        let open: Vec<Segment> = self
            .tracks
            .values_mut()
            .filter_map(|track| track.open.take())
            .collect();
        for segment in open {
            self.finish(segment);
        }
        self.take_finished()
    }

    /// Output frames mixed so far.
    pub fn mixed_frames(&self) -> u64 {
        self.mixed
    }

    /// Finished runs dropped because they were not taken in time.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A report entry; `first` is the client's frame the call starts at.
    fn took_at(id: u32, first: u64, frames: u32, underrun_frames: u32) -> Consumed {
        Consumed {
            id: ClientId(id),
            frames,
            underrun_frames,
            first_frame: first,
        }
    }

    /// Each client's delivered frames so far, as the mixer counts them
    /// when nothing is dropped.
    #[derive(Default)]
    struct Clients(BTreeMap<u32, u64>);

    impl Clients {
        fn took(&mut self, id: u32, frames: u32, underrun_frames: u32) -> Consumed {
            let first = self.0.entry(id).or_default();
            let entry = took_at(id, *first, frames, underrun_frames);
            *first += u64::from(frames);
            entry
        }
    }

    fn run(client: u32, output_frame: u64, client_frame: u64, frames: u64) -> Segment {
        Segment {
            client: ClientId(client),
            output_frame,
            client_frame,
            frames,
        }
    }

    #[test]
    fn runs_continue_across_full_calls_and_break_at_a_dry_or_paused_call() {
        let mut timeline = Timeline::new();
        let mut c = Clients::default();
        let mut took = |id, frames, under| c.took(id, frames, under);
        // Client 1 plays from the start; client 2 joins paused, then
        // starts in the second call short (its first WRITE half a call).
        timeline.record(100, &[took(1, 100, 0), took(2, 0, 0)]);
        timeline.record(100, &[took(1, 100, 0), took(2, 50, 50)]);
        assert_eq!(timeline.take_finished(), vec![run(2, 100, 0, 50)]);
        // Client 1 runs dry in the third call; client 2 is full again.
        timeline.record(100, &[took(1, 30, 70), took(2, 100, 0)]);
        assert_eq!(timeline.take_finished(), vec![run(1, 0, 0, 230)]);
        // Client 1 nothing (paused), client 2 full; then client 1 back.
        timeline.record(100, &[took(1, 0, 0), took(2, 100, 0)]);
        timeline.record(100, &[took(1, 100, 0), took(2, 100, 0)]);
        assert!(timeline.take_finished().is_empty());
        // Client 2 leaves (absent from the report): its run ends.
        timeline.record(100, &[took(1, 100, 0)]);
        assert_eq!(timeline.take_finished(), vec![run(2, 200, 50, 300)]);
        assert_eq!(timeline.close(), vec![run(1, 400, 230, 200)]);
        assert_eq!(timeline.mixed_frames(), 600);
        assert_eq!(timeline.dropped(), 0);
    }

    #[test]
    fn the_runs_rebuild_every_clients_frames_in_order_and_never_overlap() {
        // A client with every pattern of short calls, over sizes.
        for call in [1u32, 7, 64, 480] {
            let mut timeline = Timeline::new();
            let mut c = Clients::default();
            let mut took = |id, frames, under| c.took(id, frames, under);
            let mut expected_given = 0u64;
            let mut runs = Vec::new();
            for step in 0..200u32 {
                let frames = match step % 5 {
                    0 => call,
                    1 => call / 2,
                    2 => 0,
                    3 => call,
                    _ => call.saturating_sub(1),
                };
                timeline.record(u64::from(call), &[took(9, frames, call - frames)]);
                expected_given += u64::from(frames);
                runs.extend(timeline.take_finished());
            }
            runs.extend(timeline.close());
            let mut given = 0;
            let mut last_end = 0;
            for segment in &runs {
                assert_eq!(segment.client_frame, given, "call {call}: in order");
                assert!(segment.output_frame >= last_end, "call {call}: no overlap");
                assert!(segment.frames > 0);
                given += segment.frames;
                last_end = segment.output_frame + segment.frames;
            }
            assert_eq!(given, expected_given, "call {call}: every frame placed");
        }
    }

    #[test]
    fn finished_runs_are_bounded_and_the_dropped_counted() {
        let mut timeline = Timeline::new();
        let mut c = Clients::default();
        let mut took = |id, frames, under| c.took(id, frames, under);
        for _ in 0..(FINISHED_KEPT + 10) {
            timeline.record(10, &[took(1, 5, 5)]);
        }
        assert_eq!(timeline.take_finished().len(), FINISHED_KEPT);
        assert_eq!(timeline.dropped(), 10);
    }

    /// A guest's STOP drops what it queued: the next frames mixed are
    /// further on in its input, so a new run starts there even when the
    /// output frames are back to back.
    #[test]
    fn frames_dropped_from_the_queue_start_a_new_run_at_the_right_input_frame() {
        let mut timeline = Timeline::new();
        timeline.record(100, &[took_at(1, 0, 100, 0)]);
        // 2431 frames delivered, then dropped from the queue unplayed.
        timeline.record(100, &[took_at(1, 100 + 2431, 100, 0)]);
        timeline.record(100, &[took_at(1, 200 + 2431, 100, 0)]);
        assert_eq!(timeline.take_finished(), vec![run(1, 0, 0, 100)]);
        assert_eq!(timeline.close(), vec![run(1, 100, 2531, 200)]);
    }
}
