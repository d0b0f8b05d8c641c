//! Sample format conversion: the application's samples (`i16`, `i32`, `f32`) to and
//! from every PCM format of `io/sndif.h` ("PCM FORMATS") that has a sample
//! value, both directions, exactly specified; and [`ConvertingStream`], the
//! adapter that puts it between an application and any [`Playback`] /
//! [`Capture`] stream (no Xen dependency: the tests run it over the
//! in-memory mock and over the simulated backend; the guest's demo uses
//! [`Converter`] directly, which is less code in the image).
//!
//! # The rule
//! Every linear sample stands for a value `x` in full-scale units:
//! - a signed `N`-bit integer `s`: `x = s / 2^(N-1)` (so `x` is in `[-1, 1)`);
//! - an unsigned `N`-bit integer `u` (offset binary): `x = (u - 2^(N-1)) / 2^(N-1)`;
//! - a float: the float itself.
//!
//! An application `i16` is the signed 16-bit case, an application `i32` the
//! signed 32-bit case (what the audio domain's mixer works in); an
//! application `f32` is a float. Converting `x` into a format:
//! - first, NaN becomes 0 and `x` is clamped to `[-1, 1]` (an integer format
//!   is always in range; the floats are the only source of either);
//! - into an `N`-bit integer: `round_half_even(x * 2^(N-1))`, clipped to
//!   `[-2^(N-1), 2^(N-1) - 1]` (only `x >= 1 - 2^-N` clips: `+1.0` is the
//!   largest value);
//! - into a float: `x` itself, to the nearest representable value (ties to
//!   even; only `float64` → `f32` rounds, everything else is exact).
//!
//! Round-half-to-even rather than truncation: the error is at most half a
//! step and has no bias (truncation shifts every narrowed sample down by
//! half a step on average, a DC offset), it is IEEE 754's default rounding,
//! so the integer and float paths agree (an `s32` sample and a float of the
//! same value narrow to the same `i16`), and it is what SoX and
//! libsamplerate's `lrint` do. Widening is exact, so every round trip
//! through a format at least as wide is the identity:
//! `i16 → s16/u16/s24/u24/s32/u32/float/float64 → i16` in both byte orders,
//! `f32 → float/float64 → f32` (for `x` in `[-1, 1]`), `s8/u8 → i16 → s8/u8`,
//! `s16/s24 → f32 → s16/s24`.
//!
//! | stream format | bytes | from `i16` `v` | to `i16` | from `f32` `x` | to `f32` |
//! |---|---|---|---|---|---|
//! | `s8`, `u8` | 1 | `round_half_even(v / 2^8)`, clipped to `[-128, 127]` (`u8`: + 128) | `s * 2^8` | `round_half_even(x * 2^7)`, clipped | `s / 2^7` |
//! | `s16_*`, `u16_*` | 2 | `v` (`u16`: `v + 2^15`) | `s` | `round_half_even(x * 2^15)`, clipped | `s / 2^15` |
//! | `s24_*`, `u24_*` | 4 | `v * 2^8` | `round_half_even(s / 2^8)`, clipped to 32767 | `round_half_even(x * 2^23)`, clipped | `s / 2^23` |
//! | `s32_*`, `u32_*` | 4 | `v * 2^16` | `round_half_even(s / 2^16)`, clipped to 32767 | `round_half_even(x * 2^31)`, clipped | nearest `f32` to `s / 2^31` |
//! | `float_*` | 4 | `v / 32768` (exact) | `round_half_even(x * 32768)`, clipped to `[-32768, 32767]` | `x` | `x` |
//! | `float64_*` | 8 | `v / 32768` (exact) | as `float` (computed in `f64`) | `x` (exact) | nearest `f32` |
//! | `mu_law` | 1 | G.711 μ-law of `v` (below) | G.711 μ-law decoding | via `i16` | `i16 / 32768` |
//! | `a_law` | 1 | G.711 A-law of `v` (below) | G.711 A-law decoding | via `i16` | `i16 / 32768` |
//!
//! An `i32` `s` (`x = s / 2^31`) by the same rule, in integer arithmetic
//! only (no float operation: the soft-float guest's mixer runs on it):
//! into an `N`-bit integer `round_half_even(s / 2^(32-N))`, clipped; from
//! one `s * 2^(32-N)` (exact); into `float` the nearest `f32` (only values
//! with more than 24 significant bits round), into `float64` exact; from a
//! float `round_half_even(x * 2^31)`, clipped to `[-2^31, 2^31 - 1]` (a
//! `float` of magnitude at least `2^-8` is exact, `float64` keeps 31 bits
//! below full scale); G.711 through `i16` (`round_half_even(s / 2^16)`
//! clipped, and `i16 * 2^16` back).
//!
//! Every `f32` input and every float read from a stream is first cleaned:
//! NaN → 0, then clamped to `[-1, 1]` (so ±∞ → ±1). Reading a float stream
//! into `f32` also cleans, so an application never sees NaN or a value
//! outside `[-1, 1]`.
//!
//! Byte layout: `*_le` least significant byte first, `*_be` most significant
//! first. The 24-bit formats use a 4-byte container as ALSA's `S24_LE` /
//! `S24_BE` do ("low three bytes in a 32-bit word"): reading ignores the top
//! byte; writing fills it with the sign extension (`s24`) or zero (`u24`),
//! so the whole 32-bit word, read as an integer of the same signedness, is
//! the sample value as well (a reader that does not mask still gets it right).
//! Unsigned formats are offset binary: `u = s + 2^(N-1)` (silence is half scale).
//!
//! # G.711
//! ITU-T G.711 μ-law and A-law, as Linux (`sound/core/oss/mulaw.c`) and
//! alsa-lib convert 16-bit PCM: sign and magnitude, the magnitude quantised
//! by G.711's decision levels scaled to 16 bits (μ-law's 14-bit levels × 4,
//! A-law's 13-bit levels × 8), i.e. the standard segment search on the
//! biased magnitude (`|v| + 132` for μ-law), the bits below the 4-bit
//! mantissa dropped. Encoding is symmetric: `code(-v)` is `code(v)` with the
//! sign bit flipped; 0 encodes as the positive zero (μ-law `0xff`, A-law
//! `0xd5`); magnitudes past the last decision level (μ-law 32635, A-law
//! 32767; −32768 counts as 32767 for A-law) give the largest code. Decoding
//! gives each code's output value (the middle of its decision interval):
//! μ-law `±(((2m + 33) << e) − 33) * 4` (−0 and +0 both 0, maximum 32124),
//! A-law `±(2m + 1) * 8` in the first segment and `±((2m + 33) << (e − 1)) * 8`
//! above (maximum 32256), for exponent `e` and mantissa `m`. Decoding then
//! encoding gives the same code back, except μ-law `0x7f` (−0) → `0xff`.
//!
//! The IEC 958 subframe formats and the compressed formats (`ima_adpcm`,
//! `mpeg`, `gsm`) have no sample value to convert: [`Converter::new`] refuses
//! them.
#![forbid(unsafe_code)]

use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use super::{Capture, ErrorKind, ErrorType, Playback, Stream, StreamConfig, StreamState};
use crate::format::SampleFormat;

/// How a stream format stores a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Signed,
    Unsigned,
    Float,
    MuLaw,
    ALaw,
}

/// Converts samples between the application's type ([`AppSample`]: `i16`,
/// `f32`) and one stream format, by the rule in the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converter {
    format: SampleFormat,
    kind: Kind,
    /// Bytes of the container (1, 2, 4 or 8).
    bytes: u8,
    /// Significant bits of an integer format (8, 16, 24, 32).
    bits: u8,
    big_endian: bool,
}

/// A stream format [`Converter::new`] cannot convert to (IEC 958 subframes,
/// compressed formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unconvertible(pub SampleFormat);

impl fmt::Display for Unconvertible {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "no sample conversion for format {}", self.0)
    }
}

impl core::error::Error for Unconvertible {}

impl Converter {
    /// A converter for `format`; [`Unconvertible`] for the IEC 958 and
    /// compressed formats.
    pub const fn new(format: SampleFormat) -> Result<Converter, Unconvertible> {
        use SampleFormat::*;
        // One table for the guest (format.rs's per-property matches cost more).
        let (kind, bytes, bits) = match format {
            S8 => (Kind::Signed, 1, 8),
            U8 => (Kind::Unsigned, 1, 8),
            S16Le | S16Be => (Kind::Signed, 2, 16),
            U16Le | U16Be => (Kind::Unsigned, 2, 16),
            S24Le | S24Be => (Kind::Signed, 4, 24),
            U24Le | U24Be => (Kind::Unsigned, 4, 24),
            S32Le | S32Be => (Kind::Signed, 4, 32),
            U32Le | U32Be => (Kind::Unsigned, 4, 32),
            F32Le | F32Be => (Kind::Float, 4, 32),
            F64Le | F64Be => (Kind::Float, 8, 64),
            MuLaw => (Kind::MuLaw, 1, 8),
            ALaw => (Kind::ALaw, 1, 8),
            Iec958SubframeLe | Iec958SubframeBe | ImaAdpcm | Mpeg | Gsm => {
                return Err(Unconvertible(format))
            }
        };
        Ok(Converter {
            format,
            kind,
            bytes,
            bits,
            // sndif numbers each multi-byte format little-endian first:
            // the big-endian ones are the odd codes 3..=17.
            big_endian: bytes > 1 && format as u8 % 2 == 1,
        })
    }

    /// The stream format.
    pub const fn format(&self) -> SampleFormat {
        self.format
    }

    /// Bytes of one sample in the stream format.
    pub const fn sample_bytes(&self) -> usize {
        self.bytes as usize
    }

    /// Convert `samples` into the stream format in `out`: as many samples as
    /// both hold (`min(samples.len(), out.len() / sample_bytes)`); returns
    /// that count. Bytes after them are left alone.
    pub fn encode<T: AppSample>(&self, samples: &[T], out: &mut [u8]) -> usize {
        let mut count = 0;
        for (sample, bytes) in samples
            .iter()
            .zip(out.chunks_exact_mut(self.sample_bytes()))
        {
            self.store(sample.to_word(self), bytes);
            count += 1;
        }
        count
    }

    /// Convert stream-format `bytes` into `out`: as many samples as both
    /// hold; returns that count.
    pub fn decode<T: AppSample>(&self, bytes: &[u8], out: &mut [T]) -> usize {
        let mut count = 0;
        for (sample, bytes) in out.iter_mut().zip(bytes.chunks_exact(self.sample_bytes())) {
            *sample = T::from_word(self.load(bytes), self);
            count += 1;
        }
        count
    }

    /// Write the low `bytes` bytes of `word` in the format's byte order.
    fn store(&self, word: u64, out: &mut [u8]) {
        let last = out.len() - 1;
        for (index, byte) in out.iter_mut().enumerate() {
            let shift = if self.big_endian { last - index } else { index };
            *byte = (word >> (8 * shift)) as u8;
        }
    }

    /// Read a sample's bytes (in the format's byte order) as an integer.
    fn load(&self, bytes: &[u8]) -> u64 {
        let fold = |word: u64, byte: &u8| word << 8 | u64::from(*byte);
        if self.big_endian {
            bytes.iter().fold(0, fold)
        } else {
            bytes.iter().rev().fold(0, fold)
        }
    }

    /// The container word of the signed `bits`-bit value `value`: offset
    /// binary for unsigned formats; sign-extended for signed ones (so the
    /// top byte of a 24-bit container is the sign extension).
    fn integer_word(&self, value: i64) -> u64 {
        match self.kind {
            Kind::Unsigned => (value + (1 << (self.bits - 1))) as u64,
            _ => value as u64,
        }
    }

    /// The signed value of an integer format's word (bits above `bits` ignored).
    fn integer_value(&self, word: u64) -> i64 {
        let unused = 64 - u32::from(self.bits);
        match self.kind {
            Kind::Unsigned => ((word << unused) >> unused) as i64 - (1 << (self.bits - 1)),
            _ => ((word << unused) as i64) >> unused,
        }
    }

    /// The largest signed value of the integer format.
    fn integer_max(&self) -> i64 {
        (1 << (self.bits - 1)) - 1
    }

    // Out of line: the per-format match is not copied into every loop.
    #[inline(never)]
    fn word_from_i16(&self, value: i16) -> u64 {
        let wide = i64::from(value);
        match self.kind {
            Kind::Signed | Kind::Unsigned if self.bits >= 16 => {
                self.integer_word(wide << (self.bits - 16))
            }
            Kind::Signed | Kind::Unsigned => self
                .integer_word(shift_round(wide, u32::from(16 - self.bits)).min(self.integer_max())),
            Kind::Float => i16_to_float_bits(value, self.float_layout()),
            Kind::MuLaw => u64::from(mulaw_encode(value)),
            Kind::ALaw => u64::from(alaw_encode(value)),
        }
    }

    // Out of line: the per-format match is not copied into every loop.
    #[inline(never)]
    fn i16_from_word(&self, word: u64) -> i16 {
        match self.kind {
            Kind::Signed | Kind::Unsigned => {
                let value = self.integer_value(word);
                if self.bits >= 16 {
                    shift_round(value, u32::from(self.bits - 16)).min(32767) as i16
                } else {
                    (value << (16 - self.bits)) as i16
                }
            }
            Kind::Float => float_bits_to_i16(word, self.float_layout()),
            Kind::MuLaw => mulaw_decode(word as u8),
            Kind::ALaw => alaw_decode(word as u8),
        }
    }

    /// (mantissa bits, exponent bits) of a float format.
    fn float_layout(&self) -> (u32, u32) {
        if self.bytes == 4 {
            (23, 8)
        } else {
            (52, 11)
        }
    }

    fn word_from_f32(&self, value: f32) -> u64 {
        let x = clean_f32(value);
        match self.kind {
            Kind::Signed | Kind::Unsigned => {
                let scaled = f64::from(x) * (1u64 << (self.bits - 1)) as f64;
                self.integer_word((round_half_even_f64(scaled) as i64).min(self.integer_max()))
            }
            Kind::Float if self.bytes == 4 => u64::from(x.to_bits()),
            Kind::Float => f64::from(x).to_bits(),
            Kind::MuLaw | Kind::ALaw => self.word_from_i16(f32_to_i16(x)),
        }
    }

    fn f32_from_word(&self, word: u64) -> f32 {
        match self.kind {
            Kind::Signed | Kind::Unsigned => {
                // `as f32` rounds to nearest, ties to even; the power of two is exact.
                self.integer_value(word) as f32 / (1u64 << (self.bits - 1)) as f32
            }
            Kind::Float if self.bytes == 4 => clean_f32(f32::from_bits(word as u32)),
            Kind::Float => clean_f32(f64::from_bits(word) as f32),
            Kind::MuLaw | Kind::ALaw => f32::from(self.i16_from_word(word)) / 32768.0,
        }
    }

    // Integer arithmetic only (the mixer's path in the soft-float guest).
    fn word_from_i32(&self, value: i32) -> u64 {
        let wide = i64::from(value);
        match self.kind {
            Kind::Signed | Kind::Unsigned => self
                .integer_word(shift_round(wide, u32::from(32 - self.bits)).min(self.integer_max())),
            Kind::Float => int_to_float_bits(wide, 32, self.float_layout()),
            Kind::MuLaw | Kind::ALaw => self.word_from_i16(shift_round(wide, 16).min(32767) as i16),
        }
    }

    // Integer arithmetic only (the mixer's path in the soft-float guest).
    fn i32_from_word(&self, word: u64) -> i32 {
        match self.kind {
            Kind::Signed | Kind::Unsigned => (self.integer_value(word) << (32 - self.bits)) as i32,
            Kind::Float => float_bits_to_int(word, self.float_layout(), 32) as i32,
            Kind::MuLaw | Kind::ALaw => i32::from(self.i16_from_word(word)) << 16,
        }
    }
}

/// `value / 2^shift` rounded to the nearest integer, ties to even.
#[inline(never)]
fn shift_round(value: i64, shift: u32) -> i64 {
    let floor = value >> shift;
    let rest = value - (floor << shift);
    let half = (1i64 << shift) >> 1;
    if rest > half || (rest == half && half > 0 && floor & 1 == 1) {
        floor + 1
    } else {
        floor
    }
}

/// NaN → 0, then clamped to `[-1, 1]`.
fn clean_f32(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-1.0, 1.0)
    }
}

/// The IEEE 754 bits of `value / 2^(bits - 1)` (a signed `bits`-bit
/// value, `bits <= 32`) in a binary format with `mantissa` fraction bits
/// and `exponent` exponent bits: exact when the value's significant bits
/// fit the mantissa (every `i16`), else rounded to nearest, ties to even
/// (an `i32` into `float`). Integer arithmetic only: the guest has no FPU
/// code (soft float), and this keeps the `i16` and `i32` paths free of it.
fn int_to_float_bits(value: i64, bits: u32, (mantissa, exponent): (u32, u32)) -> u64 {
    let magnitude = value.unsigned_abs();
    if magnitude == 0 {
        return 0;
    }
    let sign = u64::from(value < 0) << (mantissa + exponent);
    let top = magnitude.ilog2();
    // |value| = significand * 2^(top - mantissa), the significand in
    // [2^mantissa, 2^(mantissa + 1)); a rounding carry moves the top up.
    let (significand, top) = if top <= mantissa {
        (magnitude << (mantissa - top), top)
    } else {
        let rounded = shift_round(magnitude as i64, top - mantissa) as u64;
        if rounded >> (mantissa + 1) != 0 {
            (rounded >> 1, top + 1)
        } else {
            (rounded, top)
        }
    };
    // value / 2^(bits-1) = 1.f * 2^(top - (bits - 1)); the bias is 2^(exponent - 1) - 1.
    let biased = u64::from(top) + (1 << (exponent - 1)) - 1 - u64::from(bits - 1);
    sign | biased << mantissa | (significand & ((1 << mantissa) - 1))
}

/// The IEEE 754 bits of `value / 32768` (exact).
fn i16_to_float_bits(value: i16, layout: (u32, u32)) -> u64 {
    int_to_float_bits(i64::from(value), 16, layout)
}

/// `round_half_even(x * 32768)` clipped to `i16` for the float `x` whose
/// IEEE 754 bits are `bits`; see [`float_bits_to_int`].
fn float_bits_to_i16(bits: u64, layout: (u32, u32)) -> i16 {
    float_bits_to_int(bits, layout, 16) as i16
}

/// `round_half_even(x * 2^(out - 1))` clipped to a signed `out`-bit integer
/// (`out <= 32`) for the float `x` whose IEEE 754 bits are `bits`
/// (`mantissa` fraction bits, `exponent` exponent bits); NaN gives 0,
/// infinities clip. Integer arithmetic only, and exact (no rounding before
/// the final one).
fn float_bits_to_int(bits: u64, (mantissa, exponent): (u32, u32), out: u32) -> i64 {
    let max_exponent = (1u64 << exponent) - 1;
    let biased = (bits >> mantissa) & max_exponent;
    let fraction = bits & ((1 << mantissa) - 1);
    let negative = bits >> (mantissa + exponent) & 1 == 1;
    if biased == max_exponent && fraction != 0 {
        return 0; // NaN
    }
    // |x| * 2^(out-1) = significand * 2^(biased - bias - mantissa + out - 1),
    // with the implicit one for normal numbers (subnormals use biased = 1).
    let (significand, biased) = match biased {
        0 => (fraction, 1),
        _ => (fraction | 1 << mantissa, biased),
    };
    let full = 1i64 << (out - 1);
    let scale =
        biased as i64 - ((1 << (exponent - 1)) - 1) - i64::from(mantissa) + i64::from(out) - 1;
    let magnitude = if scale >= 32 {
        // At least 2^32: far past full scale.
        full
    } else if scale >= 0 {
        // Capped first: no overflow, and past full scale either way.
        ((significand as i64).min(full) << scale).min(full)
    } else if scale > -63 {
        shift_round(significand as i64, (-scale) as u32).min(full)
    } else {
        0
    };
    if negative {
        -magnitude
    } else {
        magnitude.min(full - 1)
    }
}

/// `y` rounded to the nearest integer, ties to even, for `|y| <= 2^22`:
/// adding 1.5 * 2^23 leaves no fraction bits, and IEEE 754 addition rounds
/// to nearest even (core has no `round_ties_even` without `std`).
fn round_half_even_f32(y: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (y + MAGIC) - MAGIC
}

/// `y` rounded to the nearest integer, ties to even, for `|y| <= 2^51`.
fn round_half_even_f64(y: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    (y + MAGIC) - MAGIC
}

/// An `f32` sample to `i16`: cleaned, `round_half_even(x * 32768)`, clipped.
fn f32_to_i16(x: f32) -> i16 {
    round_half_even_f32(clean_f32(x) * 32768.0).min(32767.0) as i16
}

/// G.711 μ-law code of a 16-bit sample (sign and magnitude; see the module docs).
pub fn mulaw_encode(sample: i16) -> u8 {
    // The magnitude plus the bias 33 (14-bit units) = 132 (16-bit units),
    // limited to 15 bits: the leading one gives the segment.
    let biased = (i32::from(sample).unsigned_abs() + 132).min(0x7fff);
    let segment = (biased >> 7).ilog2();
    let mantissa = (biased >> (segment + 3)) & 0xf;
    let sign = if sample < 0 { 0x80 } else { 0 };
    // Transmitted inverted: positive codes have the top bit set.
    !((segment << 4 | mantissa | sign) as u8)
}

/// The 16-bit value of a G.711 μ-law code.
pub fn mulaw_decode(code: u8) -> i16 {
    let code = !code;
    let segment = (code >> 4) & 7;
    let mantissa = i32::from(code & 0xf);
    let magnitude = (((mantissa << 3) + 132) << segment) - 132;
    (if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }) as i16
}

/// G.711 A-law code of a 16-bit sample (sign and magnitude; see the module docs).
pub fn alaw_encode(sample: i16) -> u8 {
    let magnitude = i32::from(sample).unsigned_abs().min(0x7fff);
    let code = if magnitude < 256 {
        magnitude >> 4
    } else {
        let segment = (magnitude >> 7).ilog2();
        segment << 4 | ((magnitude >> (segment + 3)) & 0xf)
    };
    let sign = if sample >= 0 { 0x80 } else { 0 };
    // Transmitted with the even bits inverted.
    (code | sign) as u8 ^ 0x55
}

/// The 16-bit value of a G.711 A-law code.
pub fn alaw_decode(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = (code >> 4) & 7;
    let step = (i32::from(code & 0xf) << 4) + 8;
    let magnitude = match segment {
        0 => step,
        _ => (step + 256) << (segment - 1),
    };
    (if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }) as i16
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for i16 {}
    impl Sealed for i32 {}
    impl Sealed for f32 {}
}

/// A sample type an application works in: `i16`, `i32` or `f32`, interleaved.
pub trait AppSample: Copy + Default + PartialEq + fmt::Debug + sealed::Sealed {
    /// The stream format whose samples are this type's little-endian bytes
    /// (`s16_le`, `float_le`).
    const FORMAT: SampleFormat;
    /// The container word of `self` in the converter's format.
    #[doc(hidden)]
    fn to_word(self, converter: &Converter) -> u64;
    /// The sample a container word of the converter's format stands for.
    #[doc(hidden)]
    fn from_word(word: u64, converter: &Converter) -> Self;
}

impl AppSample for i16 {
    const FORMAT: SampleFormat = SampleFormat::S16Le;
    fn to_word(self, converter: &Converter) -> u64 {
        converter.word_from_i16(self)
    }
    fn from_word(word: u64, converter: &Converter) -> Self {
        converter.i16_from_word(word)
    }
}

impl AppSample for i32 {
    const FORMAT: SampleFormat = SampleFormat::S32Le;
    fn to_word(self, converter: &Converter) -> u64 {
        converter.word_from_i32(self)
    }
    fn from_word(word: u64, converter: &Converter) -> Self {
        converter.i32_from_word(word)
    }
}

impl AppSample for f32 {
    const FORMAT: SampleFormat = SampleFormat::F32Le;
    fn to_word(self, converter: &Converter) -> u64 {
        converter.word_from_f32(self)
    }
    fn from_word(word: u64, converter: &Converter) -> Self {
        converter.f32_from_word(word)
    }
}

fn converter_for<E>(config: &StreamConfig) -> Result<Converter, ConvertError<E>> {
    Converter::new(config.format)
        .map_err(|Unconvertible(format)| ConvertError::Unconvertible(format))
}

/// An error of a [`ConvertingStream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvertError<E> {
    /// The stream failed.
    Stream(E),
    /// The samples are not a whole number of frames ([`ErrorKind::InvalidInput`]).
    NotWholeFrames,
    /// The stream's format has no conversion ([`ErrorKind::Unsupported`]).
    Unconvertible(SampleFormat),
}

impl<E: super::Error> super::Error for ConvertError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            ConvertError::Stream(error) => error.kind(),
            ConvertError::NotWholeFrames => ErrorKind::InvalidInput,
            ConvertError::Unconvertible(_) => ErrorKind::Unsupported,
        }
    }
}

impl<E: fmt::Display> fmt::Display for ConvertError<E> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::Stream(error) => error.fmt(formatter),
            ConvertError::NotWholeFrames => formatter.write_str("not a whole number of frames"),
            ConvertError::Unconvertible(format) => Unconvertible(*format).fmt(formatter),
        }
    }
}

/// A stream the application writes or reads `T` samples on (interleaved
/// frames of [`StreamConfig::channels`] samples) while the stream itself
/// carries its own format: every transfer goes through a [`Converter`] and
/// a scratch buffer of one period.
///
/// Works over anything implementing the PCM traits: [`Stream`] is passed
/// through (so [`Stream::config`] is the stream's own configuration, in its
/// format); `write`/`try_write` exist when `S: Playback`, `read`/`try_read`
/// when `S: Capture`, with the same contracts as the traits' byte methods
/// but in samples (counts are frames). A write converts at most one period
/// and passes it on; if the stream takes fewer frames, the rest is converted
/// again on the next call (nothing is lost or sent twice). After a
/// `prepare` that changed the stream's format or channel count, the
/// converter follows.
///
/// ```
/// use xensnd_pcm::convert::ConvertingStream;
/// use xensnd_pcm::mock::LoopbackStream;
/// use xensnd_pcm::{Capture, Stream, StreamConfig};
/// use xensnd_pcm::format::SampleFormat;
///
/// let config = StreamConfig {
///     format: SampleFormat::S32Le,
///     rate: 48_000,
///     channels: 2,
///     period_frames: 256,
///     buffer_frames: 1024,
/// };
/// let mut stream = ConvertingStream::<_, i16>::new(LoopbackStream::new(config).unwrap()).unwrap();
/// stream.prepare().unwrap();
/// assert_eq!(stream.write(&[1, -1, 0x4000, -0x8000]).unwrap(), 2);
/// // What the stream got: the samples as s32_le (v * 2^16).
/// assert_eq!(&stream.wire()[..8], &[0, 0, 1, 0, 0, 0, 0xff, 0xff]);
/// let mut bytes = [0u8; 16];
/// stream.get_mut().start().unwrap();
/// assert_eq!(stream.get_mut().read(&mut bytes).unwrap(), 2);
/// assert_eq!(i32::from_le_bytes(bytes[8..12].try_into().unwrap()), 0x4000_0000);
/// ```
#[derive(Debug)]
pub struct ConvertingStream<S, T: AppSample = i16> {
    stream: S,
    converter: Converter,
    channels: usize,
    scratch: Vec<u8>,
    /// Bytes of `scratch` the last transfer moved.
    moved: usize,
    sample: PhantomData<T>,
}

impl<S: Stream, T: AppSample> ConvertingStream<S, T> {
    /// Convert for `stream` (in whatever state it is); fails with
    /// [`ConvertError::Unconvertible`] if its format has no conversion.
    pub fn new(stream: S) -> Result<Self, ConvertError<S::Error>> {
        let mut adapter = ConvertingStream {
            converter: converter_for(stream.config())?,
            stream,
            channels: 0,
            scratch: Vec::new(),
            moved: 0,
            sample: PhantomData,
        };
        adapter.follow_config()?;
        Ok(adapter)
    }

    /// Set the converter and scratch buffer (one period) up for the
    /// stream's configuration.
    fn follow_config(&mut self) -> Result<(), ConvertError<S::Error>> {
        let config = *self.stream.config();
        self.converter = converter_for(&config)?;
        self.channels = usize::from(config.channels.max(1));
        let frame = self.channels * self.converter.sample_bytes();
        self.scratch
            .resize(config.period_frames.max(1) as usize * frame, 0);
        self.moved = 0;
        Ok(())
    }

    /// The converter in use (the stream's format).
    pub fn converter(&self) -> &Converter {
        &self.converter
    }

    /// Samples per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, e.g. to transfer bytes in its own format directly.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream back.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// The bytes, in the stream's format, that the last `write`/`try_write`
    /// passed to the stream or the last `read`/`try_read` took from it
    /// (what travelled); empty after a failed or empty transfer.
    pub fn wire(&self) -> &[u8] {
        &self.scratch[..self.moved]
    }

    /// Frames in `samples` samples, or [`ConvertError::NotWholeFrames`];
    /// at most one scratch buffer full.
    fn chunk_frames(&mut self, samples: usize) -> Result<usize, ConvertError<S::Error>> {
        self.moved = 0;
        if samples % self.channels != 0 {
            return Err(ConvertError::NotWholeFrames);
        }
        let frame_bytes = self.channels * self.converter.sample_bytes();
        Ok((samples / self.channels).min(self.scratch.len() / frame_bytes))
    }
}

impl<S: Playback, T: AppSample> ConvertingStream<S, T> {
    fn put(&mut self, samples: &[T], blocking: bool) -> Result<usize, ConvertError<S::Error>> {
        let frames = self.chunk_frames(samples.len())?;
        let bytes = frames * self.channels * self.converter.sample_bytes();
        let scratch = &mut self.scratch[..bytes];
        self.converter
            .encode(&samples[..frames * self.channels], scratch);
        let written = if blocking {
            self.stream.write(scratch)
        } else {
            self.stream.try_write(scratch)
        }
        .map_err(ConvertError::Stream)?;
        self.moved = written.min(frames) * self.channels * self.converter.sample_bytes();
        Ok(written)
    }

    /// [`Playback::write`] in samples: queue interleaved frames, blocking
    /// until at least one was accepted; returns the frames accepted.
    pub fn write(&mut self, samples: &[T]) -> Result<usize, ConvertError<S::Error>> {
        self.put(samples, true)
    }

    /// [`Playback::try_write`] in samples: never blocks.
    pub fn try_write(&mut self, samples: &[T]) -> Result<usize, ConvertError<S::Error>> {
        self.put(samples, false)
    }

    /// [`Playback::write_ready`].
    pub fn write_ready(&mut self) -> Result<bool, ConvertError<S::Error>> {
        self.stream.write_ready().map_err(ConvertError::Stream)
    }
}

impl<S: Capture, T: AppSample> ConvertingStream<S, T> {
    fn take(&mut self, samples: &mut [T], blocking: bool) -> Result<usize, ConvertError<S::Error>> {
        let frames = self.chunk_frames(samples.len())?;
        let frame_bytes = self.channels * self.converter.sample_bytes();
        let scratch = &mut self.scratch[..frames * frame_bytes];
        let read = if blocking {
            self.stream.read(scratch)
        } else {
            self.stream.try_read(scratch)
        }
        .map_err(ConvertError::Stream)?
        .min(frames);
        self.moved = read * frame_bytes;
        self.converter.decode(
            &self.scratch[..self.moved],
            &mut samples[..read * self.channels],
        );
        Ok(read)
    }

    /// [`Capture::read`] in samples: take captured frames, blocking until
    /// at least one is available; returns the frames read.
    pub fn read(&mut self, samples: &mut [T]) -> Result<usize, ConvertError<S::Error>> {
        self.take(samples, true)
    }

    /// [`Capture::try_read`] in samples: never blocks.
    pub fn try_read(&mut self, samples: &mut [T]) -> Result<usize, ConvertError<S::Error>> {
        self.take(samples, false)
    }

    /// [`Capture::read_ready`].
    pub fn read_ready(&mut self) -> Result<bool, ConvertError<S::Error>> {
        self.stream.read_ready().map_err(ConvertError::Stream)
    }
}

impl<S: Stream, T: AppSample> ErrorType for ConvertingStream<S, T> {
    type Error = ConvertError<S::Error>;
}

impl<S: Stream, T: AppSample> Stream for ConvertingStream<S, T> {
    fn config(&self) -> &StreamConfig {
        self.stream.config()
    }
    fn state(&self) -> StreamState {
        self.stream.state()
    }
    fn prepare(&mut self) -> Result<(), Self::Error> {
        self.stream.prepare().map_err(ConvertError::Stream)?;
        self.follow_config()
    }
    fn start(&mut self) -> Result<(), Self::Error> {
        self.stream.start().map_err(ConvertError::Stream)
    }
    fn pause(&mut self) -> Result<(), Self::Error> {
        self.stream.pause().map_err(ConvertError::Stream)
    }
    fn resume(&mut self) -> Result<(), Self::Error> {
        self.stream.resume().map_err(ConvertError::Stream)
    }
    fn stop(&mut self) -> Result<(), Self::Error> {
        self.stream.stop().map_err(ConvertError::Stream)
    }
    fn drain(&mut self) -> Result<(), Self::Error> {
        self.stream.drain().map_err(ConvertError::Stream)
    }
    fn close(&mut self) -> Result<(), Self::Error> {
        self.stream.close().map_err(ConvertError::Stream)
    }
    fn position(&self) -> u64 {
        self.stream.position()
    }
    fn delay(&self) -> usize {
        self.stream.delay()
    }
    fn available(&self) -> usize {
        self.stream.available()
    }
    fn set_volume(&mut self, millidb: &[i32]) -> Result<(), Self::Error> {
        self.stream
            .set_volume(millidb)
            .map_err(ConvertError::Stream)
    }
    fn volume(&mut self, millidb: &mut [i32]) -> Result<usize, Self::Error> {
        self.stream.volume(millidb).map_err(ConvertError::Stream)
    }
    fn set_mute(&mut self, mute: bool) -> Result<(), Self::Error> {
        self.stream.set_mute(mute).map_err(ConvertError::Stream)
    }
}

#[cfg(test)]
mod tests {
    use super::Converter;
    use crate::format::SampleFormat;
    use std::vec::Vec;

    /// Every convertible format.
    fn formats() -> Vec<SampleFormat> {
        (0..=24u8)
            .filter_map(SampleFormat::from_code)
            .filter(|format| Converter::new(*format).is_ok())
            .collect()
    }

    /// `round_half_even(y)` clipped to a signed `bits`-bit integer, in `f64`
    /// (exact for the values used here).
    fn clip(y: f64, bits: u32) -> i64 {
        let full = (1i64 << (bits - 1)) as f64;
        y.round_ties_even().clamp(-full, full - 1.0) as i64
    }

    #[test]
    fn i32_samples_follow_the_rule_with_integer_arithmetic() {
        let mut rng = fastrand::Rng::with_seed(16);
        for format in formats() {
            let converter = Converter::new(format).unwrap();
            let size = converter.sample_bytes();
            // An i16 shifted up is the i16 itself, both ways.
            for value in (i16::MIN..=i16::MAX).step_by(7).chain([i16::MAX]) {
                let (mut wide, mut narrow) = ([0u8; 8], [0u8; 8]);
                converter.encode(&[i32::from(value) << 16], &mut wide[..size]);
                converter.encode(&[value], &mut narrow[..size]);
                assert_eq!(wide, narrow, "{format} {value}");
                let mut back = [0i32];
                converter.decode(&narrow[..size], &mut back);
                let mut back16 = [0i16];
                converter.decode(&narrow[..size], &mut back16);
                if converter.bits <= 16 {
                    assert_eq!(back[0], i32::from(back16[0]) << 16, "{format} {value}");
                }
            }
            // Random i32: against the rule computed in f64.
            for _ in 0..20_000 {
                let value = rng.i32(..) >> rng.u32(0..31);
                let mut bytes = [0u8; 8];
                converter.encode(&[value], &mut bytes[..size]);
                let x = f64::from(value) / 2_147_483_648.0;
                let mut expected = [0u8; 8];
                match format {
                    SampleFormat::F32Le | SampleFormat::F32Be => {
                        converter.encode(&[x as f32], &mut expected[..size])
                    }
                    SampleFormat::F64Le | SampleFormat::F64Be => {
                        let bits = x.to_bits();
                        let le = bits.to_le_bytes();
                        let be = bits.to_be_bytes();
                        expected.copy_from_slice(if format == SampleFormat::F64Le {
                            &le
                        } else {
                            &be
                        });
                        size
                    }
                    SampleFormat::MuLaw | SampleFormat::ALaw => {
                        converter.encode(&[clip(x * 32768.0, 16) as i16], &mut expected[..size])
                    }
                    _ => {
                        let bits = u32::from(converter.bits);
                        let narrow = clip(x * (1i64 << (bits - 1)) as f64, bits);
                        // Through i32 at full scale: exact for bits <= 32.
                        converter.encode(&[(narrow << (32 - bits)) as i32], &mut expected[..size])
                    }
                };
                assert_eq!(bytes, expected, "{format} {value}");
            }
        }
    }

    #[test]
    fn floats_decode_to_i32_rounded_half_even_and_clipped() {
        let mut rng = fastrand::Rng::with_seed(61);
        let f32_converter = Converter::new(SampleFormat::F32Le).unwrap();
        let f64_converter = Converter::new(SampleFormat::F64Be).unwrap();
        let specials = [
            0.0f64,
            -0.0,
            1.0,
            -1.0,
            1.5,
            -7.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            0.5 / 2_147_483_648.0,
            1.5 / 2_147_483_648.0,
            -2.5 / 2_147_483_648.0,
            1.0 - 0.5 / 2_147_483_648.0,
            f64::MIN_POSITIVE,
            1e-300,
        ];
        let randoms = (0..50_000).map(|_| (rng.f64() * 2.2 - 1.1) * 0.5f64.powi(rng.i32(0..40)));
        for x in specials.into_iter().chain(randoms) {
            let expected = |x: f64| -> i32 {
                if x.is_nan() {
                    0
                } else {
                    clip(x.clamp(-1.0, 1.0) * 2_147_483_648.0, 32) as i32
                }
            };
            let mut out = [0i32];
            f64_converter.decode(&x.to_be_bytes(), &mut out);
            assert_eq!(out[0], expected(x), "{x:e}");
            let single = x as f32;
            f32_converter.decode(&single.to_le_bytes(), &mut out);
            assert_eq!(out[0], expected(f64::from(single)), "{single:e}");
        }
    }
}
