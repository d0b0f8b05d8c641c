//! Typed PCM sample formats: the 25 `XENSND_PCM_FORMAT_*` codes and sets of them.
//!
//! Implements the format list of `io/sndif.h` ("PCM FORMATS", the
//! `XENSND_PCM_FORMAT_*` codes and their `*_STR` XenStore strings) and the
//! `formats` bit mask of `struct xensnd_query_hw_param` (`1 << code`).
//!
//! Sample sizes follow the ALSA formats the Linux frontend maps these codes
//! to one-for-one: `s24_le`/`u24_le`/... are 24 significant bits in a 4-byte
//! container, `iec958_subframe_*` is 4 bytes, `mu_law`/`a_law` are 1 byte.
//! The three compressed formats (`ima_adpcm`, `mpeg`, `gsm`) have no fixed
//! number of bytes per sample: [`SampleFormat::bytes_per_sample`] returns
//! `None` for them, so no frame size, buffer size or position in frames can
//! be computed and negotiation never picks them.
#![forbid(unsafe_code)]

use core::fmt;

/// Number of format codes defined by `io/sndif.h` (codes `0..=24`).
pub const SAMPLE_FORMAT_COUNT: usize = 25;

/// The formats' names, indexed by code: sndif's `XENSND_PCM_FORMAT_*_STR`
/// (the test `codes_and_names_round_trip` checks them against `xen-abi`'s
/// mirror of the header; this crate does not depend on Xen's).
const NAMES: [&str; SAMPLE_FORMAT_COUNT] = [
    "s8",
    "u8",
    "s16_le",
    "s16_be",
    "u16_le",
    "u16_be",
    "s24_le",
    "s24_be",
    "u24_le",
    "u24_be",
    "s32_le",
    "s32_be",
    "u32_le",
    "u32_be",
    "float_le",
    "float_be",
    "float64_le",
    "float64_be",
    "iec958_subframe_le",
    "iec958_subframe_be",
    "mu_law",
    "a_law",
    "ima_adpcm",
    "mpeg",
    "gsm",
];

/// The float formats as `xl` names them (Xen's `libxl_types.idl`,
/// `libxl_vsnd_pcm_format`: `F32_LE`, `F32_BE`, `F64_LE`, `F64_BE`, written
/// lower-case into XenStore by `libxl_vsnd.c`), in code order from
/// `XENSND_PCM_FORMAT_F32_LE` (14). `xl` refuses sndif.h's `float_le`;
/// every other format name is the same in both.
pub const XL_FLOAT_NAMES: [&str; 4] = ["f32_le", "f32_be", "f64_le", "f64_be"];

/// One `XENSND_PCM_FORMAT_*` sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum SampleFormat {
    /// `XENSND_PCM_FORMAT_S8`: signed 8 bit.
    S8 = 0,
    /// `XENSND_PCM_FORMAT_U8`: unsigned 8 bit.
    U8 = 1,
    /// `XENSND_PCM_FORMAT_S16_LE`: signed 16 bit little-endian.
    S16Le = 2,
    /// `XENSND_PCM_FORMAT_S16_BE`: signed 16 bit big-endian.
    S16Be = 3,
    /// `XENSND_PCM_FORMAT_U16_LE`: unsigned 16 bit little-endian.
    U16Le = 4,
    /// `XENSND_PCM_FORMAT_U16_BE`: unsigned 16 bit big-endian.
    U16Be = 5,
    /// `XENSND_PCM_FORMAT_S24_LE`: signed 24 bit in 4 bytes, little-endian.
    S24Le = 6,
    /// `XENSND_PCM_FORMAT_S24_BE`: signed 24 bit in 4 bytes, big-endian.
    S24Be = 7,
    /// `XENSND_PCM_FORMAT_U24_LE`: unsigned 24 bit in 4 bytes, little-endian.
    U24Le = 8,
    /// `XENSND_PCM_FORMAT_U24_BE`: unsigned 24 bit in 4 bytes, big-endian.
    U24Be = 9,
    /// `XENSND_PCM_FORMAT_S32_LE`: signed 32 bit little-endian.
    S32Le = 10,
    /// `XENSND_PCM_FORMAT_S32_BE`: signed 32 bit big-endian.
    S32Be = 11,
    /// `XENSND_PCM_FORMAT_U32_LE`: unsigned 32 bit little-endian.
    U32Le = 12,
    /// `XENSND_PCM_FORMAT_U32_BE`: unsigned 32 bit big-endian.
    U32Be = 13,
    /// `XENSND_PCM_FORMAT_F32_LE`: IEEE 754 single, little-endian.
    #[doc(alias = "float_le")]
    F32Le = 14,
    /// `XENSND_PCM_FORMAT_F32_BE`: IEEE 754 single, big-endian.
    #[doc(alias = "float_be")]
    F32Be = 15,
    /// `XENSND_PCM_FORMAT_F64_LE`: IEEE 754 double, little-endian.
    #[doc(alias = "float64_le")]
    F64Le = 16,
    /// `XENSND_PCM_FORMAT_F64_BE`: IEEE 754 double, big-endian.
    #[doc(alias = "float64_be")]
    F64Be = 17,
    /// `XENSND_PCM_FORMAT_IEC958_SUBFRAME_LE`: 32-bit IEC 958 subframe, little-endian.
    Iec958SubframeLe = 18,
    /// `XENSND_PCM_FORMAT_IEC958_SUBFRAME_BE`: 32-bit IEC 958 subframe, big-endian.
    Iec958SubframeBe = 19,
    /// `XENSND_PCM_FORMAT_MU_LAW`: 8-bit G.711 mu-law.
    MuLaw = 20,
    /// `XENSND_PCM_FORMAT_A_LAW`: 8-bit G.711 A-law.
    ALaw = 21,
    /// `XENSND_PCM_FORMAT_IMA_ADPCM`: IMA ADPCM (4 bits per sample, compressed).
    ImaAdpcm = 22,
    /// `XENSND_PCM_FORMAT_MPEG`: MPEG audio (compressed).
    Mpeg = 23,
    /// `XENSND_PCM_FORMAT_GSM`: GSM (compressed).
    Gsm = 24,
}

/// How the bits of a sample encode its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Linear two's-complement integer.
    SignedInteger,
    /// Linear unsigned integer, silence at half scale.
    UnsignedInteger,
    /// IEEE 754 floating point (linear, signed).
    Float,
    /// IEC 958 (S/PDIF) subframe.
    Iec958Subframe,
    /// G.711 mu-law companding.
    MuLaw,
    /// G.711 A-law companding.
    ALaw,
    /// Compressed: IMA ADPCM, MPEG or GSM.
    Compressed,
}

/// Byte order of a multi-byte sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endianness {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

impl SampleFormat {
    /// Every format, in code order.
    pub const ALL: [SampleFormat; SAMPLE_FORMAT_COUNT] = [
        SampleFormat::S8,
        SampleFormat::U8,
        SampleFormat::S16Le,
        SampleFormat::S16Be,
        SampleFormat::U16Le,
        SampleFormat::U16Be,
        SampleFormat::S24Le,
        SampleFormat::S24Be,
        SampleFormat::U24Le,
        SampleFormat::U24Be,
        SampleFormat::S32Le,
        SampleFormat::S32Be,
        SampleFormat::U32Le,
        SampleFormat::U32Be,
        SampleFormat::F32Le,
        SampleFormat::F32Be,
        SampleFormat::F64Le,
        SampleFormat::F64Be,
        SampleFormat::Iec958SubframeLe,
        SampleFormat::Iec958SubframeBe,
        SampleFormat::MuLaw,
        SampleFormat::ALaw,
        SampleFormat::ImaAdpcm,
        SampleFormat::Mpeg,
        SampleFormat::Gsm,
    ];

    /// The format with wire code `code` (`XENSND_PCM_FORMAT_*`), if defined.
    pub const fn from_code(code: u8) -> Option<SampleFormat> {
        if (code as usize) < SAMPLE_FORMAT_COUNT {
            Some(Self::ALL[code as usize])
        } else {
            None
        }
    }

    /// The wire code (`pcm_format` of `XENSND_OP_OPEN`).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The XenStore string (`XENSND_PCM_FORMAT_*_STR`), e.g. `"s16_le"`.
    pub const fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// Parse a XenStore format string, ignoring ASCII case (as Linux does).
    /// Both spellings of the float formats are accepted: sndif.h's
    /// `float_le`/`float_be`/`float64_le`/`float64_be` and the names `xl`
    /// accepts and writes into XenStore (libxl's `libxl_vsnd_pcm_format`:
    /// `f32_le`/`f32_be`/`f64_le`/`f64_be`, see [`XL_FLOAT_NAMES`]).
    pub fn from_name(name: &str) -> Option<SampleFormat> {
        NAMES
            .iter()
            .position(|text| text.eq_ignore_ascii_case(name))
            .map(|code| code as u8)
            .or_else(|| {
                XL_FLOAT_NAMES
                    .iter()
                    .position(|text| text.eq_ignore_ascii_case(name))
                    .map(|index| SampleFormat::F32Le.code() + index as u8)
            })
            .and_then(Self::from_code)
    }

    /// The bit of this format in a `formats` mask: `1 << code`.
    pub const fn bit(self) -> u64 {
        1u64 << (self as u8)
    }

    /// How sample values are encoded.
    pub const fn encoding(self) -> Encoding {
        use SampleFormat::*;
        match self {
            S8 | S16Le | S16Be | S24Le | S24Be | S32Le | S32Be => Encoding::SignedInteger,
            U8 | U16Le | U16Be | U24Le | U24Be | U32Le | U32Be => Encoding::UnsignedInteger,
            F32Le | F32Be | F64Le | F64Be => Encoding::Float,
            Iec958SubframeLe | Iec958SubframeBe => Encoding::Iec958Subframe,
            MuLaw => Encoding::MuLaw,
            ALaw => Encoding::ALaw,
            ImaAdpcm | Mpeg | Gsm => Encoding::Compressed,
        }
    }

    /// Bytes one sample occupies in the buffer; `None` for the compressed
    /// formats (`ima_adpcm`, `mpeg`, `gsm`), which have no fixed size.
    #[inline]
    pub const fn bytes_per_sample(self) -> Option<u32> {
        use SampleFormat::*;
        match self {
            S8 | U8 | MuLaw | ALaw => Some(1),
            S16Le | S16Be | U16Le | U16Be => Some(2),
            S24Le | S24Be | U24Le | U24Be | S32Le | S32Be | U32Le | U32Be => Some(4),
            F32Le | F32Be | Iec958SubframeLe | Iec958SubframeBe => Some(4),
            F64Le | F64Be => Some(8),
            ImaAdpcm | Mpeg | Gsm => None,
        }
    }

    /// Significant bits of a linear sample (24 for the 24-in-32 formats);
    /// `None` for the non-linear formats.
    pub const fn significant_bits(self) -> Option<u32> {
        use SampleFormat::*;
        match self {
            S8 | U8 => Some(8),
            S16Le | S16Be | U16Le | U16Be => Some(16),
            S24Le | S24Be | U24Le | U24Be => Some(24),
            S32Le | S32Be | U32Le | U32Be | F32Le | F32Be => Some(32),
            F64Le | F64Be => Some(64),
            _ => None,
        }
    }

    /// Bytes of one frame (one sample for each of `channels` channels);
    /// `None` for a compressed format or if it would overflow `u32`.
    pub const fn frame_bytes(self, channels: u32) -> Option<u32> {
        match self.bytes_per_sample() {
            Some(bytes) => bytes.checked_mul(channels),
            None => None,
        }
    }

    /// Linear PCM: signed, unsigned or floating point samples.
    pub const fn is_linear(self) -> bool {
        matches!(
            self.encoding(),
            Encoding::SignedInteger | Encoding::UnsignedInteger | Encoding::Float
        )
    }

    /// Signed linear samples (the signed integers and the floats).
    pub const fn is_signed(self) -> bool {
        matches!(self.encoding(), Encoding::SignedInteger | Encoding::Float)
    }

    /// Unsigned linear integer samples.
    pub const fn is_unsigned(self) -> bool {
        matches!(self.encoding(), Encoding::UnsignedInteger)
    }

    /// Byte order; `None` for single-byte and compressed formats.
    pub const fn endianness(self) -> Option<Endianness> {
        use SampleFormat::*;
        match self {
            S16Le | U16Le | S24Le | U24Le | S32Le | U32Le | F32Le | F64Le | Iec958SubframeLe => {
                Some(Endianness::Little)
            }
            S16Be | U16Be | S24Be | U24Be | S32Be | U32Be | F32Be | F64Be | Iec958SubframeBe => {
                Some(Endianness::Big)
            }
            S8 | U8 | MuLaw | ALaw | ImaAdpcm | Mpeg | Gsm => None,
        }
    }

    /// The bytes of one silent sample, or `None` if this format has no fixed
    /// sample size. The returned array holds `bytes_per_sample` meaningful
    /// bytes at its start.
    pub const fn silence(self) -> Option<[u8; 8]> {
        use SampleFormat::*;
        let pattern = match self {
            U8 => [0x80, 0, 0, 0, 0, 0, 0, 0],
            U16Le => [0x00, 0x80, 0, 0, 0, 0, 0, 0],
            U16Be => [0x80, 0x00, 0, 0, 0, 0, 0, 0],
            U24Le => [0x00, 0x00, 0x80, 0x00, 0, 0, 0, 0],
            U24Be => [0x00, 0x80, 0x00, 0x00, 0, 0, 0, 0],
            U32Le => [0x00, 0x00, 0x00, 0x80, 0, 0, 0, 0],
            U32Be => [0x80, 0x00, 0x00, 0x00, 0, 0, 0, 0],
            // G.711 code words for a zero amplitude.
            MuLaw => [0xff, 0, 0, 0, 0, 0, 0, 0],
            ALaw => [0xd5, 0, 0, 0, 0, 0, 0, 0],
            ImaAdpcm | Mpeg | Gsm => return None,
            _ => [0; 8],
        };
        Some(pattern)
    }

    /// Fill `buffer` with silence. Bytes after the last whole sample are
    /// zeroed. Returns `false` (and leaves `buffer` unchanged) for a
    /// compressed format.
    pub fn fill_silence(self, buffer: &mut [u8]) -> bool {
        let (Some(pattern), Some(size)) = (self.silence(), self.bytes_per_sample()) else {
            return false;
        };
        let size = size as usize;
        let mut chunks = buffer.chunks_exact_mut(size);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&pattern[..size]);
        }
        chunks.into_remainder().fill(0);
        true
    }
}

impl fmt::Display for SampleFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A set of sample formats: the `formats` bit mask of `HW_PARAM_QUERY`
/// (`1 << XENSND_PCM_FORMAT_*`). Bits above code 24 are never set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FormatSet(u64);

impl FormatSet {
    /// Mask of every defined format bit.
    pub const ALL_BITS: u64 = (1u64 << SAMPLE_FORMAT_COUNT) - 1;
    /// The empty set.
    pub const EMPTY: FormatSet = FormatSet(0);
    /// Every defined format.
    pub const ALL: FormatSet = FormatSet(Self::ALL_BITS);
    /// The linear formats (signed, unsigned, float).
    pub const LINEAR: FormatSet = {
        let mut bits = 0u64;
        let mut index = 0;
        while index < SAMPLE_FORMAT_COUNT {
            if SampleFormat::ALL[index].is_linear() {
                bits |= 1u64 << index;
            }
            index += 1;
        }
        FormatSet(bits)
    };
    /// The formats with a fixed sample size (everything but the compressed ones).
    pub const SIZED: FormatSet = {
        let mut bits = 0u64;
        let mut index = 0;
        while index < SAMPLE_FORMAT_COUNT {
            if SampleFormat::ALL[index].bytes_per_sample().is_some() {
                bits |= 1u64 << index;
            }
            index += 1;
        }
        FormatSet(bits)
    };

    /// The set with exactly the defined bits of `bits`; undefined bits
    /// (codes 25..63) are dropped.
    pub const fn from_bits_truncate(bits: u64) -> FormatSet {
        FormatSet(bits & Self::ALL_BITS)
    }

    /// The set with the given bits, or `None` if an undefined bit is set.
    pub const fn from_bits(bits: u64) -> Option<FormatSet> {
        if bits & !Self::ALL_BITS == 0 {
            Some(FormatSet(bits))
        } else {
            None
        }
    }

    /// The bit mask.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// A set of one format.
    pub const fn single(format: SampleFormat) -> FormatSet {
        FormatSet(format.bit())
    }

    /// Whether `format` is in the set.
    pub const fn contains(self, format: SampleFormat) -> bool {
        self.0 & format.bit() != 0
    }

    /// Add `format`.
    pub fn insert(&mut self, format: SampleFormat) {
        self.0 |= format.bit();
    }

    /// Remove `format`.
    pub fn remove(&mut self, format: SampleFormat) {
        self.0 &= !format.bit();
    }

    /// Formats in both sets.
    pub const fn intersection(self, other: FormatSet) -> FormatSet {
        FormatSet(self.0 & other.0)
    }

    /// Formats in either set.
    pub const fn union(self, other: FormatSet) -> FormatSet {
        FormatSet(self.0 | other.0)
    }

    /// Formats in `self` but not in `other`.
    pub const fn difference(self, other: FormatSet) -> FormatSet {
        FormatSet(self.0 & !other.0)
    }

    /// Whether every format of `self` is in `other`.
    pub const fn is_subset(self, other: FormatSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of formats in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The format with the lowest code, if any.
    pub fn first(self) -> Option<SampleFormat> {
        self.iter().next()
    }

    /// The formats in code order.
    pub fn iter(self) -> FormatSetIter {
        FormatSetIter { remaining: self.0 }
    }
}

impl FromIterator<SampleFormat> for FormatSet {
    fn from_iter<I: IntoIterator<Item = SampleFormat>>(iter: I) -> Self {
        let mut set = FormatSet::EMPTY;
        for format in iter {
            set.insert(format);
        }
        set
    }
}

impl IntoIterator for FormatSet {
    type Item = SampleFormat;
    type IntoIter = FormatSetIter;
    fn into_iter(self) -> FormatSetIter {
        self.iter()
    }
}

/// Writes the XenStore form: names separated by `,` (empty for the empty set).
impl fmt::Display for FormatSet {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, format) in self.iter().enumerate() {
            if index > 0 {
                formatter.write_str(",")?;
            }
            formatter.write_str(format.name())?;
        }
        Ok(())
    }
}

/// Iterator over a [`FormatSet`], lowest code first.
#[derive(Debug, Clone)]
pub struct FormatSetIter {
    remaining: u64,
}

impl Iterator for FormatSetIter {
    type Item = SampleFormat;
    fn next(&mut self) -> Option<SampleFormat> {
        if self.remaining == 0 {
            return None;
        }
        let code = self.remaining.trailing_zeros();
        self.remaining &= self.remaining - 1;
        SampleFormat::from_code(code as u8)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let count = self.remaining.count_ones() as usize;
        (count, Some(count))
    }
}

impl ExactSizeIterator for FormatSetIter {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        use xen_abi::sndif::XENSND_PCM_FORMATS;
        assert_eq!(NAMES.len(), XENSND_PCM_FORMATS.len());
        for (code, name) in XENSND_PCM_FORMATS {
            let format = SampleFormat::from_code(code).unwrap();
            assert_eq!(format.code(), code);
            assert_eq!(format.name(), name);
            assert_eq!(SampleFormat::from_name(name), Some(format));
            assert_eq!(
                SampleFormat::from_name(&name.to_ascii_uppercase()),
                Some(format)
            );
        }
        assert_eq!(SampleFormat::from_code(25), None);
        assert_eq!(SampleFormat::from_code(255), None);
        assert_eq!(SampleFormat::from_name("s16"), None);
        assert_eq!(SampleFormat::from_name("f32_le"), Some(SampleFormat::F32Le));
        assert_eq!(SampleFormat::from_name("F32_BE"), Some(SampleFormat::F32Be));
        assert_eq!(SampleFormat::from_name("f64_le"), Some(SampleFormat::F64Le));
        assert_eq!(SampleFormat::from_name("f64_be"), Some(SampleFormat::F64Be));
        assert_eq!(SampleFormat::from_name("f16_le"), None);
        assert_eq!(SampleFormat::from_name(""), None);
    }

    #[test]
    fn constants_match_abi() {
        use xen_abi::sndif::*;
        assert_eq!(SampleFormat::S16Le.code(), XENSND_PCM_FORMAT_S16_LE);
        assert_eq!(SampleFormat::F64Be.code(), XENSND_PCM_FORMAT_F64_BE);
        assert_eq!(SampleFormat::ALaw.code(), XENSND_PCM_FORMAT_A_LAW);
        assert_eq!(SampleFormat::Gsm.code(), XENSND_PCM_FORMAT_GSM);
    }
}
