//! The duck gain: Q30 fixed point ([`xensnd_pcm::gain::gain_q30`]), moved
//! along linear ramps in integer steps, one per output frame.

/// A Q30 gain moving linearly from `from` to `to` over `length` frames.
///
/// Frame `k` of the ramp (`1..=length`) has the gain
/// `from + floor((to - from) * k / length)`, computed incrementally (a
/// quotient step every frame plus one more whenever the remainders add up
/// to `length`, as a line is drawn: no division per frame). The floor of
/// a monotonic sequence is monotonic, so the gain never steps back within
/// a ramp (no zipper), never overshoots, and frame `length` is exactly
/// `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ramp {
    /// The gain of the last frame produced.
    gain: u32,
    to: u32,
    /// Frames of the ramp left.
    left: u32,
    /// `floor((to - from) / length)`, added every frame.
    step: i64,
    /// `(to - from) mod length` (in `0..length`), accumulated in `error`.
    remainder: u64,
    length: u64,
    error: u64,
}

impl Ramp {
    /// Constant `gain`.
    pub const fn constant(gain: u32) -> Self {
        Self {
            gain,
            to: gain,
            left: 0,
            step: 0,
            remainder: 0,
            length: 1,
            error: 0,
        }
    }

    /// The gain of the last frame produced.
    pub fn current(&self) -> u32 {
        self.gain
    }

    /// The target.
    pub fn target(&self) -> u32 {
        self.to
    }

    /// Whether a ramp is under way.
    pub fn ramping(&self) -> bool {
        self.left > 0
    }

    /// Ramp from the current gain to `to` over `length` frames (at once
    /// when 0).
    pub fn retarget(&mut self, to: u32, length: u32) {
        if length == 0 {
            *self = Self::constant(to);
            return;
        }
        let distance = i64::from(to) - i64::from(self.gain);
        let frames = i64::from(length);
        *self = Self {
            gain: self.gain,
            to,
            left: length,
            step: distance.div_euclid(frames),
            remainder: distance.rem_euclid(frames) as u64,
            length: u64::from(length),
            error: 0,
        };
    }

    /// The gain of the next frame, and advance.
    #[inline]
    pub fn next_gain(&mut self) -> u32 {
        if self.left == 0 {
            return self.gain;
        }
        self.left -= 1;
        if self.left == 0 {
            self.gain = self.to;
            return self.gain;
        }
        self.error += self.remainder;
        let mut gain = i64::from(self.gain) + self.step;
        if self.error >= self.length {
            self.error -= self.length;
            gain += 1;
        }
        // Between `from` and `to`, both u32.
        self.gain = gain as u32;
        self.gain
    }
}
