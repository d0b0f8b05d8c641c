//! An independent model of `xensnd_pcm::convert`, shared by the tests
//! (`tests/pcm_convert.rs` bit for bit, `tests/app_formats.rs` end to end).
//!
//! Written from the rule in the module docs, not from the
//! implementation: values as `f64` fractions of full scale, `std`'s
//! `round_ties_even`, byte orders by reversing `to_le_bytes`, and G.711
//! from the standard's description (Table 1a/2a: segments, their step
//! sizes, decision levels and decoder outputs, the code word layout), with
//! a linear search over the decision levels for encoding.
#![allow(dead_code)]

use std::sync::OnceLock;

use xensnd_pcm::format::SampleFormat;

/// How the model sees a format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    Int {
        signed: bool,
        bits: u32,
        bytes: usize,
    },
    Float {
        bytes: usize,
    },
    MuLaw,
    ALaw,
}

/// Every convertible format: name, layout, big-endian.
pub const FORMATS: [(&str, Layout, bool); 20] = {
    use Layout::*;
    [
        (
            "s8",
            Int {
                signed: true,
                bits: 8,
                bytes: 1,
            },
            false,
        ),
        (
            "u8",
            Int {
                signed: false,
                bits: 8,
                bytes: 1,
            },
            false,
        ),
        (
            "s16_le",
            Int {
                signed: true,
                bits: 16,
                bytes: 2,
            },
            false,
        ),
        (
            "s16_be",
            Int {
                signed: true,
                bits: 16,
                bytes: 2,
            },
            true,
        ),
        (
            "u16_le",
            Int {
                signed: false,
                bits: 16,
                bytes: 2,
            },
            false,
        ),
        (
            "u16_be",
            Int {
                signed: false,
                bits: 16,
                bytes: 2,
            },
            true,
        ),
        (
            "s24_le",
            Int {
                signed: true,
                bits: 24,
                bytes: 4,
            },
            false,
        ),
        (
            "s24_be",
            Int {
                signed: true,
                bits: 24,
                bytes: 4,
            },
            true,
        ),
        (
            "u24_le",
            Int {
                signed: false,
                bits: 24,
                bytes: 4,
            },
            false,
        ),
        (
            "u24_be",
            Int {
                signed: false,
                bits: 24,
                bytes: 4,
            },
            true,
        ),
        (
            "s32_le",
            Int {
                signed: true,
                bits: 32,
                bytes: 4,
            },
            false,
        ),
        (
            "s32_be",
            Int {
                signed: true,
                bits: 32,
                bytes: 4,
            },
            true,
        ),
        (
            "u32_le",
            Int {
                signed: false,
                bits: 32,
                bytes: 4,
            },
            false,
        ),
        (
            "u32_be",
            Int {
                signed: false,
                bits: 32,
                bytes: 4,
            },
            true,
        ),
        ("float_le", Float { bytes: 4 }, false),
        ("float_be", Float { bytes: 4 }, true),
        ("float64_le", Float { bytes: 8 }, false),
        ("float64_be", Float { bytes: 8 }, true),
        ("mu_law", MuLaw, false),
        ("a_law", ALaw, false),
    ]
};

pub fn format(name: &str) -> SampleFormat {
    SampleFormat::from_name(name).expect(name)
}

pub fn formats() -> impl Iterator<Item = (SampleFormat, Layout, bool)> {
    FORMATS
        .iter()
        .map(|&(name, layout, big)| (format(name), layout, big))
}

pub fn bytes_of(layout: Layout) -> usize {
    match layout {
        Layout::Int { bytes, .. } | Layout::Float { bytes } => bytes,
        Layout::MuLaw | Layout::ALaw => 1,
    }
}

/// The low `bytes` bytes of `word` in the byte order.
pub fn layout_bytes(word: u64, bytes: usize, big: bool) -> Vec<u8> {
    let mut out = word.to_le_bytes()[..bytes].to_vec();
    if big {
        out.reverse();
    }
    out
}

pub fn word_of(bytes: &[u8], big: bool) -> u64 {
    let mut le = [0u8; 8];
    le[..bytes.len()].copy_from_slice(bytes);
    if big {
        le[..bytes.len()].reverse();
    }
    u64::from_le_bytes(le)
}

/// NaN → 0, clamp to [-1, 1].
pub fn clean(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-1.0, 1.0)
    }
}

/// `x` (cleaned) as a signed `bits`-bit integer: round half to even, clip.
pub fn quantize(x: f64, bits: u32) -> i64 {
    let full = (1u64 << (bits - 1)) as f64;
    (clean(x) * full).round_ties_even().clamp(-full, full - 1.0) as i64
}

// --- G.711 from the standard's description ---------------------------------

/// μ-law (G.711 Table 2a), in the standard's 14-bit scale: segment `k`
/// (0..=7) has 16 intervals of width `2^(k+1)`; the decoder output of
/// interval `m` is `33 * 2^k - 33 + m * 2^(k+1)` (0, 2, ..., 30; 33, 37, ...;
/// ...; up to 8031) and its lower decision level is the output minus half a
/// width (interval 0 starts at 0). Returns (lower decision level, output).
pub fn mulaw_levels(index: u32) -> (f64, f64) {
    let (k, m) = (index >> 4, index & 15);
    let output = f64::from(33 * (1 << k) - 33 + m * (2 << k));
    let lower = if index == 0 {
        0.0
    } else {
        output - f64::from(1 << k)
    };
    (lower, output)
}

/// A-law (G.711 Table 1a), in the standard's 13-bit scale: segments 0 and
/// 1 have intervals of width 2, segment `k >= 1` of width `2^k` starting
/// at `2^(k+4)`; the output is the middle of the interval (1, 3, ..., 31;
/// 33, ..., 63; 66, ...; up to 4032).
pub fn alaw_levels(index: u32) -> (f64, f64) {
    let (k, m) = (index >> 4, index & 15);
    let (lower, width) = match k {
        0 => (2 * m, 2),
        _ => ((16 + m) << k, 1 << k),
    };
    (f64::from(lower), f64::from(lower) + f64::from(width) / 2.0)
}

/// Code words: polarity bit (1 = positive), 3 segment bits, 4 interval
/// bits; μ-law transmits the 7 magnitude bits inverted, A-law the even bits
/// (XOR 0x55).
pub fn mulaw_code(positive: bool, index: u32) -> u8 {
    (u8::from(positive) << 7) | (!(index as u8) & 0x7f)
}

pub fn alaw_code(positive: bool, index: u32) -> u8 {
    ((u8::from(positive) << 7) | index as u8) ^ 0x55
}

/// Encode by search: the last interval whose lower decision level is at
/// or below the magnitude (16-bit magnitude / `scale`).
pub fn law_encode(
    value: i16,
    scale: f64,
    levels: fn(u32) -> (f64, f64),
    code: fn(bool, u32) -> u8,
) -> u8 {
    let magnitude = f64::from(value).abs() / scale;
    let index = (0..128).rev().find(|&n| levels(n).0 <= magnitude).unwrap();
    code(value >= 0, index)
}

/// The 256-entry decoding table (16-bit values).
pub fn law_table(
    scale: f64,
    levels: fn(u32) -> (f64, f64),
    code: fn(bool, u32) -> u8,
) -> [i16; 256] {
    let mut table = [i16::MIN; 256];
    for index in 0..128 {
        let output = levels(index).1 * scale;
        table[usize::from(code(true, index))] = output as i16;
        table[usize::from(code(false, index))] = -output as i16;
    }
    table
}

pub fn model_mulaw_table() -> &'static [i16; 256] {
    static TABLE: OnceLock<[i16; 256]> = OnceLock::new();
    TABLE.get_or_init(|| law_table(4.0, mulaw_levels, mulaw_code))
}

pub fn model_alaw_table() -> &'static [i16; 256] {
    static TABLE: OnceLock<[i16; 256]> = OnceLock::new();
    TABLE.get_or_init(|| law_table(8.0, alaw_levels, alaw_code))
}

/// The search for every i16, done once.
pub fn encoded_by_search(
    levels: fn(u32) -> (f64, f64),
    code: fn(bool, u32) -> u8,
    scale: f64,
) -> Vec<u8> {
    (i16::MIN..=i16::MAX)
        .map(|v| law_encode(v, scale, levels, code))
        .collect()
}

pub fn model_mulaw(value: i16) -> u8 {
    static CODES: OnceLock<Vec<u8>> = OnceLock::new();
    CODES.get_or_init(|| encoded_by_search(mulaw_levels, mulaw_code, 4.0))
        [(i32::from(value) + 32768) as usize]
}

pub fn model_alaw(value: i16) -> u8 {
    static CODES: OnceLock<Vec<u8>> = OnceLock::new();
    CODES.get_or_init(|| encoded_by_search(alaw_levels, alaw_code, 8.0))
        [(i32::from(value) + 32768) as usize]
}

// --- the model ---------------------------------------------------------------

/// The bytes of value `x` (a fraction of full scale, or an `i16` for the
/// G.711 formats) in a format.
pub fn model_encode(layout: Layout, big: bool, x: f64, law: impl Fn() -> i16) -> Vec<u8> {
    match layout {
        Layout::Int {
            signed,
            bits,
            bytes,
        } => {
            let q = quantize(x, bits);
            let word = if signed {
                q as u64 // sign extension into the container
            } else {
                (q + (1i64 << (bits - 1))) as u64
            };
            layout_bytes(word, bytes, big)
        }
        Layout::Float { bytes: 4 } => layout_bytes(u64::from((clean(x) as f32).to_bits()), 4, big),
        Layout::Float { .. } => layout_bytes(clean(x).to_bits(), 8, big),
        Layout::MuLaw => vec![model_mulaw(law())],
        Layout::ALaw => vec![model_alaw(law())],
    }
}

/// The value of a sample's bytes as a fraction of full scale (floats not cleaned).
pub fn model_value(layout: Layout, big: bool, bytes: &[u8]) -> f64 {
    let word = word_of(bytes, big);
    match layout {
        Layout::Int { signed, bits, .. } => {
            let low = word & ((1u64 << bits) - 1);
            let value = if signed {
                ((low << (64 - bits)) as i64 >> (64 - bits)) as f64
            } else {
                low as f64 - (1u64 << (bits - 1)) as f64
            };
            value / (1u64 << (bits - 1)) as f64
        }
        Layout::Float { bytes: 4 } => f64::from(f32::from_bits(word as u32)),
        Layout::Float { .. } => f64::from_bits(word),
        Layout::MuLaw => f64::from(model_mulaw_table()[bytes[0] as usize]) / 32768.0,
        Layout::ALaw => f64::from(model_alaw_table()[bytes[0] as usize]) / 32768.0,
    }
}

pub fn model_from_i16(layout: Layout, big: bool, v: i16) -> Vec<u8> {
    model_encode(layout, big, f64::from(v) / 32768.0, || v)
}

pub fn model_to_i16(layout: Layout, big: bool, bytes: &[u8]) -> i16 {
    quantize(model_value(layout, big, bytes), 16) as i16
}

pub fn model_from_f32(layout: Layout, big: bool, x: f32) -> Vec<u8> {
    model_encode(layout, big, f64::from(x), || {
        quantize(f64::from(x), 16) as i16
    })
}

pub fn model_to_f32(layout: Layout, big: bool, bytes: &[u8]) -> f32 {
    match layout {
        // Nearest f32 of the (exact) f64 value.
        Layout::Int { .. } | Layout::MuLaw | Layout::ALaw => model_value(layout, big, bytes) as f32,
        _ => clean(model_value(layout, big, bytes) as f32 as f64) as f32,
    }
}

/// Byte patterns to decode: every pattern of 1- and 2-byte formats; for
/// wider ones every `i16` step of the format, with the values around its
/// rounding tie, plus the extremes, NaN, infinities and the like.
pub fn patterns(layout: Layout, big: bool) -> Vec<Vec<u8>> {
    patterns_every(layout, big, 1)
}

/// [`patterns`] with only every `stride`-th `i16` step of the wide formats.
pub fn patterns_every(layout: Layout, big: bool, stride: usize) -> Vec<Vec<u8>> {
    let bytes = bytes_of(layout);
    if bytes <= 2 {
        return (0..1u32 << (8 * bytes))
            .map(|word| layout_bytes(u64::from(word), bytes, big))
            .collect();
    }
    let mut words: Vec<u64> = Vec::new();
    match layout {
        Layout::Int { bits, signed, .. } => {
            let step = 1i64 << (bits - 16);
            let offset = if signed { 0 } else { 1i64 << (bits - 1) };
            for v in (i16::MIN..=i16::MAX).step_by(stride) {
                let base = i64::from(v) * step;
                for delta in [0, 1, step / 2 - 1, step / 2, step / 2 + 1, step - 1] {
                    let value = base + delta;
                    let tops: &[u64] = if bits == 24 { &[0, 0xff, 0x5a] } else { &[0] };
                    for &top in tops {
                        let mut word = (value + offset) as u64 & ((1u64 << bits) - 1);
                        if bits == 24 {
                            word |= top << 24;
                        } else if signed && value < 0 {
                            word |= !((1u64 << bits) - 1) & 0xffff_ffff;
                        }
                        words.push(word & 0xffff_ffff);
                    }
                }
            }
        }
        Layout::Float { bytes } => {
            for v in (i16::MIN..=i16::MAX).step_by(stride) {
                let x = f64::from(v) / 32768.0;
                let half = 0.5 / 32768.0;
                // The value, the tie above it (the one below is the
                // previous value's), each with its neighbours one unit in
                // the last place away.
                for y in [x, x + half] {
                    if bytes == 4 {
                        let f = y as f32;
                        for bits in [f.to_bits(), f.to_bits() + 1, f.to_bits().wrapping_sub(1)] {
                            words.push(u64::from(bits));
                        }
                    } else {
                        for bits in [y.to_bits(), y.to_bits() + 1, y.to_bits().wrapping_sub(1)] {
                            words.push(bits);
                        }
                    }
                }
                // float64 just off the tie by far less than an f32 could
                // tell apart (no rounding through f32 on the way).
                if bytes == 8 {
                    words.extend([(x + half + 1e-12).to_bits(), (x + half - 1e-12).to_bits()]);
                }
            }
            let specials = [
                0.0,
                -0.0,
                1.0,
                -1.0,
                1.5,
                -1.5,
                1e30,
                -1e30,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                -f64::NAN,
                f64::MIN_POSITIVE,
                -f64::MIN_POSITIVE,
                1e-40,
                1e-320,
                f64::MAX,
                f64::MIN,
                32767.5 / 32768.0,
                -32768.5 / 32768.0,
            ];
            for x in specials {
                words.push(if bytes == 4 {
                    u64::from((x as f32).to_bits())
                } else {
                    x.to_bits()
                });
            }
            // Every power of two (and its neighbours) from the smallest
            // subnormal up, both signs: every exponent of the format.
            for k in -1074..=4 {
                let x = 2f64.powi(k);
                for y in [x, -x, x * 1.5, -x * 1.5] {
                    let bits = if bytes == 4 {
                        u64::from((y as f32).to_bits())
                    } else {
                        y.to_bits()
                    };
                    words.extend([bits, bits + 1, bits.wrapping_sub(1)]);
                }
            }
            // NaN payloads.
            words.extend(if bytes == 4 {
                [0x7fc0_0001u64, 0xffc0_0000, 0x7f80_0001, 0xff80_0001]
            } else {
                [
                    0x7ff8_0000_0000_0001,
                    0xfff8_0000_0000_0000,
                    0x7ff0_0000_0000_0001,
                    0xfff0_0000_0000_0001,
                ]
            });
        }
        _ => unreachable!(),
    }
    words
        .into_iter()
        .map(|word| layout_bytes(word, bytes, big))
        .collect()
}
