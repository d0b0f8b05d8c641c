//! How the engine behaves where `io/sndif.h` leaves room: plain-data knobs.
//!
//! sndif.h says what a backend must answer, not how it maps the buffer,
//! how it numbers its events across a reopen, when it sends them, or how
//! its device rounds the period it was asked for. The real peers differ
//! there, and a frontend has to survive all of them. [`Behaviour`] collects
//! those choices per stream; [`Behaviour::default`] is what `sndback` does,
//! [`Behaviour::SND_BE_LIKE`] approximates xen-troops `snd_be` on libxenbe
//! (read from its `CommandHandler.cpp`, `AlsaPcm.cpp` and libxenbe's
//! `XenGnttabBuffer`), so the simulator can run our frontend against it.
#![forbid(unsafe_code)]

/// How event ids (`xensnd_evt.id`) are numbered across OPENs of one
/// connected stream. A new connection (new event page) always starts at 0.
///
/// Linux's frontend (`sound/xen/xen_snd_front_evtchnl.c`, from its first
/// version in 4.18 through v6.1, Debian 12's kernel) expects
/// `event->id == channel->evt_id++` and skips every other event. `evt_id`
/// is zeroed only when the channel is allocated at connect
/// (`evtchnl_alloc` memsets it); `xen_snd_front_evtchnl_pair_clear`, called
/// at every ALSA open and `hw_params`, resets `evt_next_id`, the *request*
/// id, not `evt_id`. So the ids must keep counting across OPENs, or every
/// position event of the second stream is skipped and ALSA times out
/// ("playback write timeout"). snd_be counts per command handler (created at
/// connect) too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventIds {
    /// Keep counting across OPEN (Linux up to at least v6.1, snd_be).
    #[default]
    ContinueAcrossOpen,
    /// Start again at 0 at every OPEN (what later Linux patches expect).
    ResetAtOpen,
}

/// When `XENSND_EVT_CUR_POS` events are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventTiming {
    /// When the position passes a period boundary by one frame (Linux's
    /// frontend counts a period only when *more* than a period's frames
    /// arrived), plus once where a playback stream runs dry; see
    /// [`super::pacing`].
    #[default]
    PeriodBoundary,
    /// From a timer once per period (snd_be: `period_frames * 1000 / rate`
    /// whole milliseconds, started at TRIGGER START), carrying the position
    /// of a snd_be-like device at that moment (see [`super::pacing`]).
    Timer,
}

/// How the device period is derived from OPEN's `period_sz`.
///
/// snd_be sets its ALSA period with `snd_pcm_hw_params_set_period_size_near`
/// to `period_sz / frame` frames, and its device rounds: dmix, the default
/// ALSA device on most Linux systems, runs in periods of a power of two
/// frames (1024 by default), and DMA engines commonly want a multiple of
/// some granule. The rounded period is what the position events follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeriodRounding {
    /// The period asked for (whole frames).
    #[default]
    Exact,
    /// The nearest power of two frames (the lower one on a tie).
    PowerOfTwo,
    /// The nearest multiple of this many frames (the lower one on a tie),
    /// at least one multiple.
    MultipleOf(u32),
}

impl PeriodRounding {
    /// The device period for an asked `frames` (≥ 1), never above
    /// `buffer_frames` (≥ 1) and never 0.
    pub fn apply(self, frames: u32, buffer_frames: u32) -> u32 {
        let frames = frames.max(1);
        let buffer_frames = buffer_frames.max(1);
        let rounded = match self {
            PeriodRounding::Exact => frames,
            PeriodRounding::PowerOfTwo => {
                let lower = 1u32 << (31 - frames.leading_zeros());
                match lower.checked_mul(2) {
                    Some(upper) if upper - frames < frames - lower => upper,
                    _ => lower,
                }
            }
            PeriodRounding::MultipleOf(granule) => {
                let granule = granule.max(1);
                let lower = frames / granule * granule;
                let upper = lower.saturating_add(granule);
                if lower == 0 || upper - frames < frames - lower {
                    upper
                } else {
                    lower
                }
            }
        };
        if rounded <= buffer_frames {
            return rounded.max(1);
        }
        // Too long for the buffer: the largest rounded value that fits.
        match self {
            PeriodRounding::Exact => buffer_frames,
            PeriodRounding::PowerOfTwo => 1u32 << (31 - buffer_frames.leading_zeros()),
            PeriodRounding::MultipleOf(granule) => {
                let granule = granule.max(1);
                (buffer_frames / granule * granule).max(buffer_frames.min(granule))
            }
        }
    }
}

/// The per-stream behaviour of the engine (plain data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Behaviour {
    /// Map the page-directory pages read-write. Ours reads them only, so it
    /// maps them read-only; libxenbe maps every grant read-write
    /// (`XenGnttabBuffer` ignores the protection asked for), which fails
    /// when the frontend granted the directory read-only.
    pub directory_writable: bool,
    /// Serve SET_VOLUME, GET_VOLUME, MUTE and UNMUTE. snd_be's command
    /// table has no handler for them: it answers `-EINVAL`.
    pub volume: bool,
    /// Event ids across OPEN.
    pub event_ids: EventIds,
    /// When position events are sent.
    pub events: EventTiming,
    /// How OPEN's `period_sz` becomes the device period.
    pub period: PeriodRounding,
}

impl Behaviour {
    /// What `sndback` does (see the field docs).
    pub const SNDBACK: Behaviour = Behaviour {
        directory_writable: false,
        volume: true,
        event_ids: EventIds::ContinueAcrossOpen,
        events: EventTiming::PeriodBoundary,
        period: PeriodRounding::Exact,
    };

    /// An approximation of xen-troops snd_be over ALSA's default device:
    /// directory mapped read-write, no volume or mute, event ids counting
    /// across OPEN, position events from a per-period timer, period rounded
    /// to a power of two frames. The device buffer is `buffer_sz / frame`
    /// frames, as snd_be asks ALSA (and as this engine always does).
    ///
    /// Its positions follow `AlsaPcm.cpp` (see [`super::pacing`]): the
    /// device's pointer plus the frames written at the last underrun; the
    /// tick that finds a playback device dry reports past the data written,
    /// later ticks exactly the data written (ALSA is in XRUN); a WRITE
    /// recovers and positions continue from the data written; after STOP
    /// and START the position restarts at the frames written at the last
    /// underrun (0 if none), below what was reported before.
    pub const SND_BE_LIKE: Behaviour = Behaviour {
        directory_writable: true,
        volume: false,
        event_ids: EventIds::ContinueAcrossOpen,
        events: EventTiming::Timer,
        period: PeriodRounding::PowerOfTwo,
    };
}

impl Default for Behaviour {
    /// [`Behaviour::SNDBACK`].
    fn default() -> Self {
        Behaviour::SNDBACK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_rounding() {
        use PeriodRounding::*;
        assert_eq!(Exact.apply(960, 4096), 960);
        assert_eq!(Exact.apply(0, 4096), 1);
        assert_eq!(Exact.apply(5000, 4096), 4096);
        assert_eq!(PowerOfTwo.apply(960, 4096), 1024);
        assert_eq!(PowerOfTwo.apply(700, 4096), 512);
        assert_eq!(PowerOfTwo.apply(768, 4096), 512, "a tie goes down");
        assert_eq!(PowerOfTwo.apply(1, 4096), 1);
        assert_eq!(PowerOfTwo.apply(3000, 3000), 2048, "never above the buffer");
        assert_eq!(PowerOfTwo.apply(u32::MAX, u32::MAX), 1 << 31);
        assert_eq!(MultipleOf(64).apply(960, 4096), 960);
        assert_eq!(MultipleOf(64).apply(1000, 4096), 1024);
        assert_eq!(MultipleOf(64).apply(10, 4096), 64, "at least one granule");
        assert_eq!(MultipleOf(64).apply(100, 90), 64);
        assert_eq!(MultipleOf(64).apply(100, 30), 30);
        assert_eq!(MultipleOf(0).apply(7, 10), 7);
    }
}
