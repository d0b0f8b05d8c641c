//! The duck gain: linear ramps, one step per output frame.

/// Amounts at or below this (0.001 dB) are silence (gain 0): -120 dB, the
/// backend's volume floor too.
pub const SILENT_MILLIDB: i32 = -120_000;

/// The linear gain of `millidb` (0.001 dB; 0 is 1.0); `0.0` at or below
/// [`SILENT_MILLIDB`].
pub fn gain_from_millidb(millidb: i32) -> f32 {
    if millidb <= SILENT_MILLIDB {
        return 0.0;
    }
    libm::powf(10.0, millidb as f32 / 20_000.0)
}

/// A gain moving linearly from `from` to `to` over `length` frames.
///
/// Frame `k` of the ramp (`1..=length`) has the gain
/// `from + (to - from) * (k / length)`, the last exactly `to`: each is the
/// rounding of a value between `from` and `to`, and rounding is monotonic,
/// so the gain never steps back within a ramp (no zipper) and never
/// overshoots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ramp {
    from: f32,
    to: f32,
    length: u32,
    done: u32,
}

impl Ramp {
    /// Constant `gain`.
    pub const fn constant(gain: f32) -> Self {
        Self {
            from: gain,
            to: gain,
            length: 0,
            done: 0,
        }
    }

    /// The gain of the last frame produced.
    pub fn current(&self) -> f32 {
        if self.done >= self.length {
            self.to
        } else {
            self.at(self.done)
        }
    }

    /// The target.
    pub fn target(&self) -> f32 {
        self.to
    }

    /// Whether a ramp is under way.
    pub fn ramping(&self) -> bool {
        self.done < self.length
    }

    fn at(&self, frame: u32) -> f32 {
        if frame == 0 {
            self.from
        } else {
            self.from + (self.to - self.from) * (frame as f32 / self.length as f32)
        }
    }

    /// Ramp from the current gain to `to` over `length` frames (at once
    /// when 0).
    pub fn retarget(&mut self, to: f32, length: u32) {
        *self = Self {
            from: self.current(),
            to,
            length,
            done: 0,
        };
    }

    /// The gain of the next frame, and advance.
    #[inline]
    pub fn next_gain(&mut self) -> f32 {
        if self.done >= self.length {
            return self.to;
        }
        self.done += 1;
        if self.done == self.length {
            self.to
        } else {
            self.at(self.done)
        }
    }
}
