//! WAV files for every sndif sample format: how each is stored, a writer
//! that never writes a corrupt file, and a reader.
//!
//! # Where each sndif format goes (lossless)
//!
//! | sndif format | WAV storage | sample bytes |
//! |---|---|---|
//! | `u8` | PCM 8 bit | as they are (WAV's 8-bit PCM is unsigned) |
//! | `s8` | PCM 8 bit | sign bit flipped |
//! | `s16_le`, `s16_be` | PCM 16 bit | little-endian |
//! | `u16_le`, `u16_be` | PCM 16 bit | little-endian, sign bit flipped |
//! | `s24_le`, `s24_be` | PCM 24 bit (3 bytes) | the 24 significant bits of the 4-byte container |
//! | `u24_le`, `u24_be` | PCM 24 bit | the same, sign bit flipped |
//! | `s32_le`, `s32_be` | PCM 32 bit | little-endian |
//! | `u32_le`, `u32_be` | PCM 32 bit | little-endian, sign bit flipped |
//! | `iec958_subframe_le/be` | PCM 32 bit | the subframe word, little-endian (raw, not audio) |
//! | `float_le`, `float_be` | IEEE float 32 bit (tag 3) | little-endian |
//! | `float64_le`, `float64_be` | IEEE float 64 bit (tag 3) | little-endian |
//! | `mu_law` | G.711 μ-law (tag 7) | as they are |
//! | `a_law` | G.711 A-law (tag 6) | as they are |
//!
//! Unsigned PCM is stored as signed (WAV knows only unsigned 8-bit and
//! signed wider PCM), by flipping the sign bit: a bijection, so
//! [`from_wav`] restores every byte. The 24-bit formats keep their 24
//! significant bits (ALSA's `S24_LE`: the container's top byte is not part
//! of the sample); reading back gives the sign-extended (`s24`) or
//! zero-extended (`u24`) container. The compressed formats (IMA ADPCM,
//! MPEG, GSM) have no frame size: a stream never opens with them.
//!
//! Headers: `WAVE_FORMAT_PCM` or `WAVE_FORMAT_IEEE_FLOAT` with the 16-byte
//! `fmt ` chunk for 1 or 2 channels of at most 16-bit integers or 32-bit
//! floats (what hound writes, so every reader knows them),
//! `WAVE_FORMAT_EXTENSIBLE` (channel mask: the first channels' speakers, as
//! hound does) for more channels or wider integers, and `WAVEFORMATEX` with
//! a `fact` chunk for 64-bit floats and G.711 (the non-PCM formats, as the
//! RIFF spec asks).
//!
//! # Why not hound
//! hound writes and reads only integer PCM and 32-bit floats (no 64-bit
//! float, no μ-law/A-law tags), and its writer keeps the data size in a
//! `u32` that overflows past 4 GiB instead of stopping. The RIFF container
//! cannot describe more than 4 GiB - 1 bytes: [`WavWriter`] refuses bytes
//! past [`max_data_bytes`] (whole frames), and the sink starts a new file.
//! hound stays a dev-dependency: the tests read what we write with it.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use xensnd_backend::sample::{alaw_decode, alaw_encode, mulaw_decode, mulaw_encode};
use xensnd_pcm::format::{Encoding, Endianness, SampleFormat};

/// `WAVE_FORMAT_PCM`.
const TAG_PCM: u16 = 1;
/// `WAVE_FORMAT_IEEE_FLOAT`.
const TAG_FLOAT: u16 = 3;
/// `WAVE_FORMAT_ALAW`.
const TAG_ALAW: u16 = 6;
/// `WAVE_FORMAT_MULAW`.
const TAG_MULAW: u16 = 7;
/// `WAVE_FORMAT_EXTENSIBLE`.
const TAG_EXTENSIBLE: u16 = 0xfffe;
/// The `KSDATAFORMAT_SUBTYPE_*` GUIDs after their first two bytes (the tag).
const SUBTYPE_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

/// How WAV samples are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    /// Linear PCM: unsigned at 8 bits, signed above.
    Pcm,
    /// IEEE float.
    Float,
    /// G.711 μ-law.
    MuLaw,
    /// G.711 A-law.
    ALaw,
}

impl WavEncoding {
    fn tag(self) -> u16 {
        match self {
            WavEncoding::Pcm => TAG_PCM,
            WavEncoding::Float => TAG_FLOAT,
            WavEncoding::MuLaw => TAG_MULAW,
            WavEncoding::ALaw => TAG_ALAW,
        }
    }

    fn from_tag(tag: u16) -> Option<Self> {
        match tag {
            TAG_PCM => Some(WavEncoding::Pcm),
            TAG_FLOAT => Some(WavEncoding::Float),
            TAG_MULAW => Some(WavEncoding::MuLaw),
            TAG_ALAW => Some(WavEncoding::ALaw),
            _ => None,
        }
    }
}

/// What a WAV file's `fmt ` chunk says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavLayout {
    /// Sample encoding.
    pub encoding: WavEncoding,
    /// Bytes per sample in the file.
    pub sample_bytes: u16,
    /// Channels.
    pub channels: u16,
    /// Frames per second.
    pub rate: u32,
}

impl WavLayout {
    /// Bytes per frame (`nBlockAlign`).
    pub fn block_align(&self) -> u32 {
        u32::from(self.sample_bytes) * u32::from(self.channels)
    }

    fn bits(&self) -> u16 {
        self.sample_bytes * 8
    }

    fn extensible(&self) -> bool {
        matches!(self.encoding, WavEncoding::Pcm | WavEncoding::Float)
            && (self.channels > 2
                || (self.encoding == WavEncoding::Pcm && self.bits() > 16)
                || (self.encoding == WavEncoding::Float && self.bits() > 32))
    }

    /// Non-PCM data wants a `fact` chunk (the sample count per channel).
    fn has_fact(&self) -> bool {
        self.encoding != WavEncoding::Pcm && (self.extensible() || self.cb_size_field())
    }

    /// `WAVEFORMATEX` (18 bytes with `cbSize`) rather than the plain 16.
    fn cb_size_field(&self) -> bool {
        matches!(self.encoding, WavEncoding::MuLaw | WavEncoding::ALaw)
            || (self.encoding == WavEncoding::Float && self.bits() == 64)
    }

    /// The `fmt ` chunk (header and body) and, if needed, the `fact` chunk
    /// with a zero count.
    fn header_chunks(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let extensible = self.extensible();
        let body_len: u32 = if extensible {
            40
        } else if self.cb_size_field() {
            18
        } else {
            16
        };
        out.extend_from_slice(b"fmt ");
        out.extend_from_slice(&body_len.to_le_bytes());
        let tag = if extensible {
            TAG_EXTENSIBLE
        } else {
            self.encoding.tag()
        };
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&self.channels.to_le_bytes());
        out.extend_from_slice(&self.rate.to_le_bytes());
        let bytes_per_second = self.rate.saturating_mul(self.block_align());
        out.extend_from_slice(&bytes_per_second.to_le_bytes());
        // At most 255 channels of 8 bytes: fits.
        out.extend_from_slice(&(self.block_align() as u16).to_le_bytes());
        out.extend_from_slice(&self.bits().to_le_bytes());
        if extensible {
            out.extend_from_slice(&22u16.to_le_bytes());
            out.extend_from_slice(&self.bits().to_le_bytes());
            let mask =
                (0..u32::from(self.channels.min(18))).fold(0u32, |mask, bit| mask | 1 << bit);
            out.extend_from_slice(&mask.to_le_bytes());
            out.extend_from_slice(&self.encoding.tag().to_le_bytes());
            out.extend_from_slice(&SUBTYPE_TAIL);
        } else if self.cb_size_field() {
            out.extend_from_slice(&0u16.to_le_bytes());
        }
        if self.has_fact() {
            out.extend_from_slice(b"fact");
            out.extend_from_slice(&4u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        out
    }
}

/// Significant bits of an integer format's sample, its container bytes,
/// whether it is unsigned, and whether it is big-endian.
fn integer_shape(format: SampleFormat) -> Option<(u32, usize, bool, bool)> {
    let big = format.endianness() == Some(Endianness::Big);
    let container = format.bytes_per_sample()? as usize;
    match format.encoding() {
        Encoding::SignedInteger => Some((format.significant_bits()?, container, false, big)),
        Encoding::UnsignedInteger => Some((format.significant_bits()?, container, true, big)),
        Encoding::Iec958Subframe => Some((32, container, false, big)),
        _ => None,
    }
}

/// The WAV layout that stores `format` losslessly (see the module docs);
/// `None` for the compressed formats.
pub fn layout_for(format: SampleFormat, channels: u8, rate: u32) -> Option<WavLayout> {
    let (encoding, sample_bytes) = match format.encoding() {
        Encoding::SignedInteger | Encoding::UnsignedInteger | Encoding::Iec958Subframe => {
            let (bits, _, _, _) = integer_shape(format)?;
            (WavEncoding::Pcm, (bits / 8) as u16)
        }
        Encoding::Float => (WavEncoding::Float, format.bytes_per_sample()? as u16),
        Encoding::MuLaw => (WavEncoding::MuLaw, 1),
        Encoding::ALaw => (WavEncoding::ALaw, 1),
        Encoding::Compressed => return None,
    };
    Some(WavLayout {
        encoding,
        sample_bytes,
        channels: u16::from(channels),
        rate,
    })
}

/// Read a container of `bytes` in the format's byte order as an unsigned
/// little-endian value.
fn read_container(bytes: &[u8], big_endian: bool) -> u64 {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().enumerate() {
        let shift = if big_endian {
            8 * (bytes.len() - 1 - index)
        } else {
            8 * index
        };
        value |= u64::from(*byte) << shift;
    }
    value
}

fn write_container(value: u64, out: &mut [u8], big_endian: bool) {
    let length = out.len();
    for (index, byte) in out.iter_mut().enumerate() {
        let shift = if big_endian {
            8 * (length - 1 - index)
        } else {
            8 * index
        };
        *byte = (value >> shift) as u8;
    }
}

/// Append the WAV bytes of one sample of `format` (`sample` is one
/// sample's bytes as on the wire).
pub fn to_wav(format: SampleFormat, sample: &[u8], out: &mut Vec<u8>) {
    if let Some((bits, _, unsigned, big)) = integer_shape(format) {
        let mut value = read_container(sample, big);
        // WAV: unsigned at 8 bits, signed above.
        if unsigned != (bits == 8) {
            value ^= 1 << (bits - 1);
        }
        out.extend_from_slice(&value.to_le_bytes()[..(bits / 8) as usize]);
    } else if format.encoding() == Encoding::Float {
        let big = format.endianness() == Some(Endianness::Big);
        let mut bytes = sample.to_vec();
        if big {
            bytes.reverse();
        }
        out.extend_from_slice(&bytes);
    } else {
        out.extend_from_slice(sample);
    }
}

/// The inverse of [`to_wav`]: one sample of `format` into `out` from its
/// WAV bytes `wav` (of [`layout_for`]`(format)`).
pub fn from_wav(format: SampleFormat, wav: &[u8], out: &mut [u8]) {
    if let Some((bits, _, unsigned, big)) = integer_shape(format) {
        let mut value = read_container(wav, false);
        if unsigned != (bits == 8) {
            value ^= 1 << (bits - 1);
        }
        if !unsigned && bits < 64 && value & (1 << (bits - 1)) != 0 {
            // Sign-extend into the container (s24 in 4 bytes).
            value |= u64::MAX << bits;
        }
        write_container(value, out, big);
    } else if format.encoding() == Encoding::Float {
        out.copy_from_slice(wav);
        if format.endianness() == Some(Endianness::Big) {
            out.reverse();
        }
    } else {
        out.copy_from_slice(wav);
    }
}

/// The most data bytes a file with `header_len` bytes before its data can
/// hold in whole frames of `block_align` bytes: the RIFF size field
/// (`u32`, the file size minus 8, counting the pad byte after odd data)
/// and the data chunk's size field must both fit.
pub fn max_data_bytes(header_len: u64, block_align: u32) -> u64 {
    let block = u64::from(block_align.max(1));
    let room = u64::from(u32::MAX) + 8 - header_len - 1;
    room.min(u64::from(u32::MAX)) / block * block
}

/// Where a [`WavWriter`] writes: a file, or a test's stand-in.
pub trait Output: Write + Seek {
    /// Cut the output to `length` bytes.
    fn truncate(&mut self, length: u64) -> io::Result<()>;
}

impl Output for File {
    fn truncate(&mut self, length: u64) -> io::Result<()> {
        self.set_len(length)
    }
}

/// A WAV file being written. Sizes in the header are brought up to date by
/// [`WavWriter::flush`] and when it is dropped; it refuses data past its
/// limit, so the file is never corrupt.
///
/// # Write errors (a full disk)
/// After a failed write the writer is *failed*: it drops the bytes it
/// had not written yet, writes the header for the data it had counted (the
/// bytes that reached the file before the error, whole frames), cuts the
/// file after them, and refuses further data with an error. The file stays
/// a valid WAV file of the audio before the error (cutting and overwriting
/// the header need no new space). When even the pad byte after odd data
/// cannot be written, the last frame is left out instead.
pub struct WavWriter {
    file: Option<BufWriter<Box<dyn Output>>>,
    layout: WavLayout,
    header_len: u64,
    fact_offset: Option<u64>,
    data_bytes: u64,
    /// Data bytes in the file at the last successful flush.
    flushed_bytes: u64,
    limit: u64,
}

impl WavWriter {
    /// Create `path` for `layout`; at most `limit` data bytes (whole
    /// frames; `None`: what RIFF allows, [`max_data_bytes`]).
    #[cfg(test)]
    pub fn create(path: &Path, layout: WavLayout, limit: Option<u64>) -> io::Result<Self> {
        Self::to_output(Box::new(File::create(path)?), layout, limit)
    }

    /// The same over any [`Output`].
    pub fn to_output(
        output: Box<dyn Output>,
        layout: WavLayout,
        limit: Option<u64>,
    ) -> io::Result<Self> {
        let chunks = layout.header_chunks();
        let header_len = 12 + chunks.len() as u64 + 8;
        let fact_offset = layout.has_fact().then(|| header_len - 8 - 4);
        let mut file = BufWriter::new(output);
        file.write_all(b"RIFF")?;
        file.write_all(&0u32.to_le_bytes())?;
        file.write_all(b"WAVE")?;
        file.write_all(&chunks)?;
        file.write_all(b"data")?;
        file.write_all(&0u32.to_le_bytes())?;
        let block = u64::from(layout.block_align().max(1));
        let most = max_data_bytes(header_len, layout.block_align());
        let limit = limit.map_or(most, |limit| limit / block * block).min(most);
        let mut writer = Self {
            file: Some(file),
            layout,
            header_len,
            fact_offset,
            data_bytes: 0,
            flushed_bytes: 0,
            limit,
        };
        writer.flush()?;
        Ok(writer)
    }

    /// The layout written.
    pub fn layout(&self) -> WavLayout {
        self.layout
    }

    /// Data bytes written so far.
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }

    /// Data bytes that still fit (whole frames).
    pub fn room(&self) -> u64 {
        self.limit - self.data_bytes
    }

    /// Whether a write failed (see "Write errors"): nothing more is written.
    #[cfg(test)]
    pub fn failed(&self) -> bool {
        self.file.is_none()
    }

    /// Append whole frames of WAV data; returns how many bytes fit (whole
    /// frames, maybe 0 when the file is full). On an error the writer is
    /// failed and the file finalised with the data before it.
    pub fn write_frames(&mut self, data: &[u8]) -> io::Result<usize> {
        let block = self.layout.block_align().max(1) as usize;
        let fits = (data
            .len()
            .min(usize::try_from(self.room()).unwrap_or(usize::MAX))
            / block)
            * block;
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("an earlier write failed"));
        };
        match file.write_all(&data[..fits]) {
            Ok(()) => {
                self.data_bytes += fits as u64;
                Ok(fits)
            }
            Err(error) => {
                self.recover(self.data_bytes + fits as u64);
                Err(error)
            }
        }
    }

    /// After a write error: drop what is not written, find how many whole
    /// frames (of at most `attempted` data bytes) reached the file, and
    /// finalise it with them.
    fn recover(&mut self, attempted: u64) {
        let Some(file) = self.file.take() else {
            return;
        };
        // `into_parts` hands the output back without flushing the buffer;
        // the output's position is the end of what it took (we seek only
        // in `flush`, which returns to the end).
        let (mut output, _unwritten) = file.into_parts();
        let block = u64::from(self.layout.block_align().max(1));
        let reached = output
            .stream_position()
            .map_or(self.flushed_bytes, |end| {
                end.saturating_sub(self.header_len)
            })
            .min(attempted)
            .max(self.flushed_bytes.min(attempted));
        self.data_bytes = reached / block * block;
        if let Err(error) = self.finalise(&mut *output) {
            log::error!("finalising WAV after a write error: {error}");
        }
    }

    /// Write the header's sizes for `data_bytes` directly to `output` and
    /// cut it after the data.
    fn finalise(&mut self, output: &mut dyn Output) -> io::Result<()> {
        let block = u64::from(self.layout.block_align().max(1));
        if self.data_bytes % 2 == 1 {
            let end = self.header_len + self.data_bytes;
            let padded = output
                .seek(SeekFrom::Start(end))
                .and_then(|_| output.write_all(&[0]))
                .and_then(|()| output.flush());
            if padded.is_err() {
                // No room for the pad byte: leave the last (odd) frame out.
                self.data_bytes -= block;
            }
        }
        write_sizes(
            output,
            self.header_len,
            self.fact_offset,
            self.data_bytes,
            block,
        )?;
        let pad = self.data_bytes % 2;
        output.truncate(self.header_len + self.data_bytes + pad)?;
        output.flush()
    }

    /// Bring the header's sizes up to date and flush to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let result = (|| {
            let pad = self.data_bytes % 2;
            let end = self.header_len + self.data_bytes;
            if pad == 1 {
                file.write_all(&[0])?;
            }
            // Every data byte is in the file once the buffer is flushed.
            file.flush()?;
            write_sizes(
                file,
                self.header_len,
                self.fact_offset,
                self.data_bytes,
                u64::from(self.layout.block_align().max(1)),
            )?;
            // Further data overwrites the pad byte.
            file.seek(SeekFrom::Start(end))?;
            file.flush()
        })();
        match result {
            Ok(()) => {
                self.flushed_bytes = self.data_bytes;
                Ok(())
            }
            Err(error) => {
                self.recover(self.data_bytes);
                Err(error)
            }
        }
    }
}

/// The RIFF size, the `fact` frame count and the data size for
/// `data_bytes` of data (the pad byte after odd data counted in RIFF's).
fn write_sizes<W: Write + Seek + ?Sized>(
    output: &mut W,
    header_len: u64,
    fact_offset: Option<u64>,
    data_bytes: u64,
    block: u64,
) -> io::Result<()> {
    let pad = data_bytes % 2;
    // The limit keeps both within u32.
    let riff = u32::try_from(header_len - 8 + data_bytes + pad).unwrap_or(u32::MAX);
    let data = u32::try_from(data_bytes).unwrap_or(u32::MAX);
    output.seek(SeekFrom::Start(4))?;
    output.write_all(&riff.to_le_bytes())?;
    if let Some(offset) = fact_offset {
        let frames = data_bytes / block;
        output.seek(SeekFrom::Start(offset))?;
        output.write_all(&u32::try_from(frames).unwrap_or(u32::MAX).to_le_bytes())?;
    }
    output.seek(SeekFrom::Start(header_len - 4))?;
    output.write_all(&data.to_le_bytes())
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        if let Err(error) = self.flush() {
            log::error!("finalising WAV: {error}");
        }
    }
}

/// A WAV file read into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavFile {
    /// What its `fmt ` chunk says.
    pub layout: WavLayout,
    /// The `data` chunk, whole frames.
    pub data: Vec<u8>,
}

fn bad(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_string())
}

fn u16_at(bytes: &[u8], at: usize) -> io::Result<u16> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| bad("truncated fmt chunk"))
}

fn u32_at(bytes: &[u8], at: usize) -> io::Result<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("truncated chunk"))
}

/// Parse a WAV file: PCM (8, 16, 24, 32 bit), IEEE float (32, 64), μ-law,
/// A-law, plain or `WAVE_FORMAT_EXTENSIBLE`.
pub fn parse(bytes: &[u8]) -> io::Result<WavFile> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let mut at = 12;
    let mut layout = None;
    let mut repack_24_in_32 = false;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let length = u32_at(bytes, at + 4)? as usize;
        let body_start = at + 8;
        let body_end = body_start.saturating_add(length).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " => {
                let mut tag = u16_at(body, 0)?;
                let channels = u16_at(body, 2)?;
                let rate = u32_at(body, 4)?;
                let block_align = u16_at(body, 12)?;
                let mut bits = u16_at(body, 14)?;
                // Valid bits (of `bits` per container, or of `block_align /
                // channels` bytes): only 24 in 4 bytes differs from the
                // container, and is repacked below.
                let mut valid_bits = bits;
                if tag == TAG_EXTENSIBLE {
                    valid_bits = u16_at(body, 18)?;
                    tag = u16_at(body, 24)?;
                    if body.get(26..40) != Some(&SUBTYPE_TAIL[..]) {
                        return Err(bad("unknown WAVE_FORMAT_EXTENSIBLE subformat"));
                    }
                }
                let container_bits = if channels > 0 && block_align % channels == 0 {
                    (block_align / channels).saturating_mul(8)
                } else {
                    bits
                };
                if tag == TAG_PCM && valid_bits == 24 && container_bits == 32 {
                    repack_24_in_32 = true;
                    bits = 24;
                } else if valid_bits != bits && valid_bits != 0 {
                    return Err(bad("unsupported valid bits per sample"));
                }
                let encoding =
                    WavEncoding::from_tag(tag).ok_or_else(|| bad("unsupported WAV format tag"))?;
                let supported = match encoding {
                    WavEncoding::Pcm => matches!(bits, 8 | 16 | 24 | 32),
                    WavEncoding::Float => matches!(bits, 32 | 64),
                    WavEncoding::MuLaw | WavEncoding::ALaw => bits == 8,
                };
                if !supported || channels == 0 {
                    return Err(bad("unsupported sample size or no channels"));
                }
                layout = Some(WavLayout {
                    encoding,
                    sample_bytes: bits / 8,
                    channels,
                    rate,
                });
            }
            b"data" => {
                let layout = layout.ok_or_else(|| bad("data before fmt"))?;
                if repack_24_in_32 {
                    // 24 significant bits in 4-byte containers, the value in
                    // the low three bytes (ALSA's S24_LE as arecord and hound
                    // write it): kept as packed 24-bit samples.
                    let samples = body.len() / 4 / usize::from(layout.channels)
                        * usize::from(layout.channels);
                    let mut data = Vec::with_capacity(samples * 3);
                    for sample in body.chunks_exact(4).take(samples) {
                        data.extend_from_slice(&sample[..3]);
                    }
                    return Ok(WavFile { layout, data });
                }
                let block = layout.block_align() as usize;
                let whole = body.len() / block * block;
                return Ok(WavFile {
                    layout,
                    data: body[..whole].to_vec(),
                });
            }
            _ => {}
        }
        // Chunks are padded to even lengths.
        at = body_start.saturating_add(length).saturating_add(length % 2);
    }
    Err(bad("no data chunk"))
}

/// Read a WAV file from `path`.
pub fn read(path: &Path) -> io::Result<WavFile> {
    parse(&std::fs::read(path)?)
}

/// A sample on its way between formats: a left-justified 32-bit integer
/// or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Linear {
    Int(i32),
    Float(f64),
}

/// One WAV sample of `layout` as a [`Linear`] value.
fn decode(layout: &WavLayout, sample: &[u8]) -> Linear {
    match layout.encoding {
        WavEncoding::Pcm if layout.sample_bytes == 1 => {
            Linear::Int(i32::from(sample[0] as i8 ^ i8::MIN) << 24)
        }
        WavEncoding::Pcm => {
            let bits = u32::from(layout.sample_bytes) * 8;
            let raw = read_container(sample, false) as u32;
            Linear::Int((raw << (32 - bits)) as i32)
        }
        WavEncoding::Float if layout.sample_bytes == 8 => {
            Linear::Float(f64::from_le_bytes(sample.try_into().unwrap_or([0; 8])))
        }
        WavEncoding::Float => Linear::Float(f64::from(f32::from_le_bytes(
            sample.try_into().unwrap_or([0; 4]),
        ))),
        WavEncoding::MuLaw => Linear::Int(i32::from(mulaw_decode(sample[0])) << 16),
        WavEncoding::ALaw => Linear::Int(i32::from(alaw_decode(sample[0])) << 16),
    }
}

/// An integer of `bits` significant bits from a [`Linear`] value: the top
/// bits of an integer (as ALSA's linear conversions), a float scaled by
/// 2^(bits-1), rounded half away from zero and clamped.
fn to_integer(value: Linear, bits: u32) -> i64 {
    match value {
        Linear::Int(value) => i64::from(value) >> (32 - bits),
        Linear::Float(value) => {
            let full = (1i64 << (bits - 1)) as f64;
            let scaled = (value * full).round();
            if scaled.is_nan() {
                0
            } else {
                scaled.clamp(-full, full - 1.0) as i64
            }
        }
    }
}

/// Encode a [`Linear`] value as one sample of `format` into `out`.
fn encode(format: SampleFormat, value: Linear, out: &mut [u8]) {
    let big = format.endianness() == Some(Endianness::Big);
    if let Some((bits, _, unsigned, _)) = integer_shape(format) {
        let mut integer = to_integer(value, bits) as u64;
        if unsigned {
            integer ^= 1 << (bits - 1);
            integer &= if bits == 64 {
                u64::MAX
            } else {
                (1 << bits) - 1
            };
        }
        write_container(integer, out, big);
        return;
    }
    let float = match value {
        Linear::Int(value) => f64::from(value) / 2_147_483_648.0,
        Linear::Float(value) => value,
    };
    match format.encoding() {
        Encoding::Float if out.len() == 8 => write_container(float.to_bits(), out, big),
        Encoding::Float => write_container(u64::from((float as f32).to_bits()), out, big),
        Encoding::MuLaw => out[0] = mulaw_encode(to_integer(value, 16) as i16),
        Encoding::ALaw => out[0] = alaw_encode(to_integer(value, 16) as i16),
        _ => {}
    }
}

/// One sample of the WAV file's `layout` as one sample of `format`: bit
/// for bit when the file stores `format` ([`layout_for`]), otherwise
/// converted (integers by their top bits, floats scaled by 2^(bits-1) and
/// rounded, G.711 through 16-bit linear).
pub fn convert(layout: &WavLayout, sample: &[u8], format: SampleFormat, out: &mut [u8]) {
    let own = layout_for(format, 1, 0).is_some_and(|own| {
        own.encoding == layout.encoding && own.sample_bytes == layout.sample_bytes
    });
    if own {
        from_wav(format, sample, out);
    } else {
        encode(format, decode(layout, sample), out);
    }
}
