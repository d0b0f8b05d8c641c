//! Volume amounts in 0.001 dB (`io/sndif.h`'s stream volume unit, and the
//! audio domain's ducking) as linear gains: the one conversion, in `f64`
//! for the backend's volume and in fixed point (Q30) for the mixer, which
//! runs in the soft-float guest and converts once per duck, not per sample.

/// Amounts at or below this (0.001 dB) are silence (gain 0): -120 dB.
pub const SILENT_MILLIDB: i32 = -120_000;

/// Gain 1.0 (0 dB) in Q30: `2^30`.
pub const UNITY_Q30: u32 = 1 << 30;

/// The linear gain of `millidb` (0.001 dB; 0 is 1.0): `10^(millidb / 20000)`,
/// `0.0` at or below [`SILENT_MILLIDB`].
pub fn gain(millidb: i32) -> f64 {
    if millidb <= SILENT_MILLIDB {
        return 0.0;
    }
    libm::pow(10.0, f64::from(millidb) / 20_000.0)
}

/// [`gain`] in Q30 fixed point (`2^30` is 1.0): rounded to the nearest
/// integer, saturating at `u32::MAX` (about +12 dB); 0 at or below
/// [`SILENT_MILLIDB`]. 0 dB is exactly [`UNITY_Q30`].
///
/// ```
/// use xensnd_pcm::gain::{gain_q30, UNITY_Q30};
/// assert_eq!(gain_q30(0), UNITY_Q30);
/// assert_eq!(gain_q30(-20_000), 107_374_182); // 0.1 * 2^30
/// assert_eq!(gain_q30(-120_000), 0);
/// assert_eq!(gain_q30(20_000), u32::MAX);
/// ```
pub fn gain_q30(millidb: i32) -> u32 {
    let scaled = libm::round(gain(millidb) * f64::from(UNITY_Q30));
    if scaled >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        scaled as u32
    }
}
