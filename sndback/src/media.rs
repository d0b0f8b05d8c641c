//! Sinks and sources backed by files: WAV output per stream, WAV input for capture.
//!
//! A playback stream's sink is `<out-dir>/dom<domid>-<unique-id>.wav`.
//! Consecutive OPENs with the same format append to the same file; an OPEN
//! with a different format starts `...-2.wav`, `...-3.wav`, and so does a
//! file that reached the most a WAV file can hold (4 GiB: logged, the
//! full file stays valid, nothing is lost). The header is brought up to
//! date at every CLOSE and the file finalised at teardown. Every sndif
//! format with a frame size is stored, losslessly ([`crate::wav`]).
//!
//! A write error (a full disk) is logged once; the file is finalised with
//! the audio before the error (a valid WAV file) and the stream goes on
//! being served, its audio discarded until its next OPEN, which starts a
//! new file. An OPEN whose file cannot be created fails with `-EIO`
//! (logged once while it keeps failing).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::rc::Rc;

use xensnd_backend::hw::PcmParams;
use xensnd_backend::io::IoError;
use xensnd_backend::{Sink, Source};
use xensnd_pcm::format::SampleFormat;

use crate::wav::{self, WavFile, WavLayout, WavWriter};

/// Characters safe in a file name; the rest of a unique-id becomes `_`.
pub fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || "._-".contains(character) {
                character
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() || cleaned.starts_with('.') {
        format!("_{cleaned}")
    } else {
        cleaned
    }
}

/// How many files each sink path has started in this process, so a
/// frontend that reconnects continues with `-2.wav` instead of overwriting.
pub type FileRegistry = Rc<std::cell::RefCell<std::collections::HashMap<PathBuf, u32>>>;

/// Writes playback audio to WAV files, every sndif format in the WAV
/// representation [`crate::wav`] documents.
pub struct WavSink {
    registry: FileRegistry,
    base: PathBuf,
    writer: Option<WavWriter>,
    format: Option<SampleFormat>,
    files: u32,
    /// Data bytes per file at most (`None`: what RIFF allows).
    limit: Option<u64>,
    /// Bytes of a frame cut by the end of the last WRITE.
    pending: Vec<u8>,
    /// A write failed since the last OPEN: audio is discarded.
    failed: bool,
    /// Creating the last file failed (logged once until one succeeds).
    create_failed: bool,
    /// Where files are created (tests inject failing outputs).
    opener: Opener,
}

/// Creates a sink's files.
pub type Opener = Rc<dyn Fn(&Path) -> std::io::Result<Box<dyn wav::Output>>>;

fn open_file_output(path: &Path) -> std::io::Result<Box<dyn wav::Output>> {
    Ok(Box::new(std::fs::File::create(path)?))
}

impl WavSink {
    /// A sink writing `<directory>/<stem>.wav` (created at the first OPEN).
    pub fn new(registry: &FileRegistry, directory: &Path, stem: &str) -> Self {
        Self::with_limit(registry, directory, stem, None)
    }

    /// The same with at most `limit` data bytes per file (tests of the
    /// 4 GiB rotation).
    pub fn with_limit(
        registry: &FileRegistry,
        directory: &Path,
        stem: &str,
        limit: Option<u64>,
    ) -> Self {
        Self {
            registry: Rc::clone(registry),
            base: directory.join(stem),
            writer: None,
            format: None,
            files: 0,
            limit,
            pending: Vec::new(),
            failed: false,
            create_failed: false,
            opener: Rc::new(open_file_output),
        }
    }

    /// Create files with `opener` instead (tests of write errors).
    #[cfg(test)]
    pub fn with_opener(mut self, opener: Opener) -> Self {
        self.opener = opener;
        self
    }

    fn path(&self) -> PathBuf {
        let mut name = self.base.as_os_str().to_owned();
        if self.files > 1 {
            name.push(format!("-{}", self.files));
        }
        name.push(".wav");
        PathBuf::from(name)
    }

    /// Start the next file of this sink with `layout`.
    fn open_file(&mut self, layout: WavLayout) -> Result<(), IoError> {
        self.writer = None;
        self.files = {
            let mut registry = self.registry.borrow_mut();
            let used = registry.entry(self.base.clone()).or_insert(0);
            *used += 1;
            *used
        };
        let path = self.path();
        let created = (self.opener)(&path)
            .and_then(|output| WavWriter::to_output(output, layout, self.limit));
        let writer = match created {
            Ok(writer) => writer,
            Err(error) => {
                if !self.create_failed {
                    log::error!(
                        "{}: {error}: OPEN fails (logged once until a file can be created)",
                        path.display()
                    );
                }
                self.create_failed = true;
                return Err(IoError);
            }
        };
        log::info!("writing {}", path.display());
        self.create_failed = false;
        self.failed = false;
        self.writer = Some(writer);
        Ok(())
    }

    /// Write WAV frames, starting a new file whenever one is full.
    fn write_wav(&mut self, mut data: &[u8]) -> Result<(), IoError> {
        while !data.is_empty() {
            let path = self.path();
            let Some(writer) = self.writer.as_mut() else {
                return Err(IoError);
            };
            let written = match writer.write_frames(data) {
                Ok(written) => written,
                Err(error) => {
                    log::error!(
                        "{}: {error}: the file keeps the {} data bytes before it; this stream's audio is discarded until its next OPEN",
                        path.display(),
                        writer.data_bytes()
                    );
                    self.writer = None;
                    self.failed = true;
                    return Ok(());
                }
            };
            data = &data[written..];
            if data.is_empty() {
                break;
            }
            let (layout, full) = (writer.layout(), writer.data_bytes());
            if full == 0 {
                log::error!("{}: not even one frame fits", path.display());
                return Err(IoError);
            }
            log::warn!(
                "{}: full ({full} data bytes, the most this WAV file may hold): continuing in a new file",
                path.display()
            );
            self.open_file(layout)?;
        }
        Ok(())
    }
}

impl Sink for WavSink {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        let format = params.sample_format();
        let Some(layout) =
            format.and_then(|format| wav::layout_for(format, params.channels, params.rate))
        else {
            log::error!(
                "WAV sink cannot store format {} (compressed formats have no frames)",
                format.map_or("?", SampleFormat::name)
            );
            return Err(IoError);
        };
        self.pending.clear();
        if !self.failed
            && self
                .writer
                .as_ref()
                .is_some_and(|writer| writer.layout() == layout)
            && self.format == format
        {
            return Ok(());
        }
        self.format = format;
        self.open_file(layout)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        if self.failed {
            // Served, discarded (see the module docs).
            return Ok(());
        }
        let (Some(format), Some(writer)) = (self.format, self.writer.as_ref()) else {
            return Err(IoError);
        };
        let sample = format.bytes_per_sample().unwrap_or(1) as usize;
        let frame = sample * usize::from(writer.layout().channels);
        self.pending.extend_from_slice(bytes);
        let whole = self.pending.len() / frame * frame;
        let mut converted = Vec::with_capacity(whole);
        for sample_bytes in self.pending[..whole].chunks_exact(sample) {
            wav::to_wav(format, sample_bytes, &mut converted);
        }
        self.pending.drain(..whole);
        self.write_wav(&converted)
    }

    fn finish(&mut self) -> Result<(), IoError> {
        if let Some(writer) = self.writer.as_mut() {
            if let Err(error) = writer.flush() {
                log::error!(
                    "{}: {error}: the file keeps the {} data bytes before it; this stream's audio is discarded until its next OPEN",
                    self.base.display(),
                    writer.data_bytes()
                );
                self.writer = None;
                self.failed = true;
            }
        }
        Ok(())
    }
}

/// Load a WAV file for capture (shared by every stream using it).
pub fn load_wav(path: &Path) -> Result<Rc<WavFile>, String> {
    let file = wav::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    if file.data.is_empty() {
        return Err(format!("{}: no samples", path.display()));
    }
    Ok(Rc::new(file))
}

/// Plays a WAV file (looping, from its frame 0 at every OPEN) into capture
/// streams in the stream's format and channel count: channel `i` takes file
/// channel `i % file channels`; the file's rate is not converted. A file
/// storing the stream's own format ([`wav::layout_for`], e.g. what the
/// sink wrote for it) gives its samples back bit for bit; another format is
/// converted ([`wav::convert`]).
pub struct WavSource {
    data: Rc<WavFile>,
    params: Option<PcmParams>,
    frame: usize,
    pending: Vec<u8>,
}

impl WavSource {
    /// A source over a loaded file.
    pub fn new(data: Rc<WavFile>) -> Self {
        Self {
            data,
            params: None,
            frame: 0,
            pending: Vec::new(),
        }
    }

    /// Queue the next frame's bytes in `pending`.
    fn next_frame(&mut self, params: &PcmParams, format: SampleFormat) {
        let layout = self.data.layout;
        let file_channels = usize::from(layout.channels.max(1));
        let file_sample = usize::from(layout.sample_bytes);
        let block = file_channels * file_sample;
        let frames = (self.data.data.len() / block).max(1);
        let base = (self.frame % frames) * block;
        let size = format.bytes_per_sample().unwrap_or(1) as usize;
        for channel in 0..usize::from(params.channels) {
            let at = base + (channel % file_channels) * file_sample;
            let mut sample = [0u8; 8];
            match self.data.data.get(at..at + file_sample) {
                Some(bytes) => wav::convert(&layout, bytes, format, &mut sample[..size]),
                None => {
                    format.fill_silence(&mut sample[..size]);
                }
            }
            self.pending.extend_from_slice(&sample[..size]);
        }
        self.frame += 1;
    }
}

impl Source for WavSource {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        if params.sample_format().is_none() {
            return Err(IoError);
        }
        if params.rate != self.data.layout.rate {
            log::warn!(
                "capture at {} Hz from a {} Hz WAV file: played at the stream's rate",
                params.rate,
                self.data.layout.rate
            );
        }
        self.params = Some(*params);
        self.frame = 0;
        self.pending.clear();
        Ok(())
    }

    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        let params = self.params.ok_or(IoError)?;
        let format = params.sample_format().ok_or(IoError)?;
        let mut done = 0;
        while done < out.len() {
            if self.pending.is_empty() {
                self.next_frame(&params, format);
            }
            let take = self.pending.len().min(out.len() - done);
            out[done..done + take].copy_from_slice(&self.pending[..take]);
            self.pending.drain(..take);
            done += take;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{SampleFormat as HoundFormat, WavReader, WavSpec, WavWriter as HoundWriter};

    fn params(format: SampleFormat, channels: u8) -> PcmParams {
        PcmParams {
            format: format.code(),
            channels,
            rate: 8000,
            buffer_bytes: 4096,
            buffer_frames: 1024,
            period_frames: 0,
        }
    }

    /// A directory of its own for one test.
    fn scratch(name: &str) -> PathBuf {
        let directory = std::env::temp_dir().join(format!("sndback-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        directory
    }

    /// Deterministic pseudo-random bytes.
    fn noise(seed: u64, length: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..length)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 33) as u8
            })
            .collect()
    }

    /// `frames` frames of `format`: any bit pattern, except that the 24-bit
    /// formats carry 24 significant bits in their container (sign-extended
    /// for s24, a zero top byte for u24, as ALSA defines them).
    fn samples(format: SampleFormat, channels: u8, frames: usize, seed: u64) -> Vec<u8> {
        let size = format.bytes_per_sample().unwrap() as usize;
        let mut bytes = noise(seed, size * usize::from(channels) * frames);
        if format.significant_bits() == Some(24) {
            let big = format.endianness() == Some(xensnd_pcm::format::Endianness::Big);
            for sample in bytes.chunks_exact_mut(4) {
                let mut value = u32::from_le_bytes(sample.try_into().unwrap()) & 0x00ff_ffff;
                if format.is_signed() && value & 0x0080_0000 != 0 {
                    value |= 0xff00_0000;
                }
                let stored = if big {
                    value.to_be_bytes()
                } else {
                    value.to_le_bytes()
                };
                sample.copy_from_slice(&stored);
            }
        }
        bytes
    }

    fn files_of(directory: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn sanitized_names_stay_in_the_directory() {
        assert_eq!(sanitize("spk"), "spk");
        assert_eq!(sanitize("../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("a b/c"), "a_b_c");
    }

    #[test]
    fn wav_sink_and_source_round_trip_every_format_and_channel_count() {
        let directory = scratch("round-trip");
        let registry = FileRegistry::default();
        let mut checked = 0;
        for format in SampleFormat::ALL {
            if format.bytes_per_sample().is_none() {
                continue;
            }
            for channels in [1u8, 2, 3, 6, 8] {
                let stem = format!("{format}-{channels}");
                let data = samples(
                    format,
                    channels,
                    301,
                    u64::from(format.code()) * 16 + u64::from(channels),
                );
                let mut sink = WavSink::new(&registry, &directory, &stem);
                sink.start(&params(format, channels)).unwrap();
                // WRITEs cut inside samples and frames.
                for chunk in data.chunks(37) {
                    sink.write(chunk).unwrap();
                }
                sink.finish().unwrap();
                drop(sink);
                let path = directory.join(format!("{stem}.wav"));
                let file = load_wav(&path).unwrap();
                assert_eq!(
                    file.layout,
                    wav::layout_for(format, channels, 8000).unwrap(),
                    "{stem}"
                );
                let mut source = WavSource::new(file);
                source.start(&params(format, channels)).unwrap();
                let mut read = vec![0u8; data.len()];
                for chunk in read.chunks_mut(29) {
                    source.read(chunk).unwrap();
                }
                assert!(read == data, "{stem}: sample-exact round trip");
                checked += 1;
            }
        }
        assert_eq!(checked, 22 * 5, "every format with a frame size");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn wav_files_read_by_hound_hold_the_stream_values() {
        let directory = scratch("hound");
        let registry = FileRegistry::default();
        // (format, what hound reads for the first two samples)
        let values: [(SampleFormat, [u8; 8], [i32; 2]); 8] = [
            (
                SampleFormat::U8,
                [0x00, 0xff, 0, 0, 0, 0, 0, 0],
                [-128, 127],
            ),
            (
                SampleFormat::S8,
                [0x80, 0x7f, 0, 0, 0, 0, 0, 0],
                [-128, 127],
            ),
            (
                SampleFormat::S16Be,
                [0x80, 0x00, 0x12, 0x34, 0, 0, 0, 0],
                [-32768, 0x1234],
            ),
            (
                SampleFormat::U16Le,
                [0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0],
                [-32768, 32767],
            ),
            (
                SampleFormat::S24Le,
                [0x00, 0x00, 0x80, 0xff, 0x01, 0x00, 0x00, 0x00],
                [-8_388_608, 1],
            ),
            (
                SampleFormat::U24Be,
                [0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff],
                [-8_388_608, 8_388_607],
            ),
            (
                SampleFormat::S32Le,
                [0x00, 0x00, 0x00, 0x80, 0xff, 0xff, 0xff, 0x7f],
                [i32::MIN, i32::MAX],
            ),
            (
                SampleFormat::U32Be,
                [0x80, 0x00, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff],
                [1, -1],
            ),
        ];
        for (format, bytes, expected) in values {
            let size = format.bytes_per_sample().unwrap() as usize;
            for channels in [2u8, 6] {
                let stem = format!("{format}-{channels}");
                let mut sink = WavSink::new(&registry, &directory, &stem);
                sink.start(&params(format, channels)).unwrap();
                let mut frame = bytes[..2 * size].to_vec();
                frame.resize(size * usize::from(channels), 0);
                if format.is_unsigned() {
                    // Silence in the other channels.
                    for sample in frame[2 * size..].chunks_exact_mut(size) {
                        format.fill_silence(sample);
                    }
                }
                sink.write(&frame).unwrap();
                drop(sink);
                let mut reader = WavReader::open(directory.join(format!("{stem}.wav"))).unwrap();
                assert_eq!(reader.spec().channels, u16::from(channels));
                let read: Vec<i32> = reader.samples::<i32>().map(Result::unwrap).collect();
                assert_eq!(&read[..2], &expected, "{stem}");
                assert!(read[2..].iter().all(|&value| value == 0), "{stem}");
            }
        }
        // Floats: hound reads 32-bit ones.
        let mut sink = WavSink::new(&registry, &directory, "float");
        sink.start(&params(SampleFormat::F32Be, 2)).unwrap();
        let mut frame = 0.25f32.to_be_bytes().to_vec();
        frame.extend_from_slice(&(-1.0f32).to_be_bytes());
        sink.write(&frame).unwrap();
        drop(sink);
        let mut reader = WavReader::open(directory.join("float.wav")).unwrap();
        let read: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
        assert_eq!(read, vec![0.25, -1.0]);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    fn hound_file(
        path: &Path,
        bits: u16,
        sample_format: HoundFormat,
        write: impl FnOnce(&mut HoundWriter<std::io::BufWriter<std::fs::File>>),
    ) {
        let spec = WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: bits,
            sample_format,
        };
        let mut writer = HoundWriter::create(path, spec).unwrap();
        write(&mut writer);
        writer.finalize().unwrap();
    }

    fn capture(file: &Rc<WavFile>, format: SampleFormat, frames: usize) -> Vec<u8> {
        let mut source = WavSource::new(Rc::clone(file));
        source.start(&params(format, 1)).unwrap();
        let mut out = vec![0u8; frames * format.bytes_per_sample().unwrap() as usize];
        source.read(&mut out).unwrap();
        out
    }

    #[test]
    fn u8_capture_from_an_8_bit_wav_is_bit_exact() {
        // An 8-bit WAV of 8000 samples (every byte value, over and over):
        // the float path used to be off by one in 3980 of them.
        let directory = scratch("u8");
        let path = directory.join("eight.wav");
        let bytes: Vec<u8> = (0..8000u32).map(|index| (index * 7 % 256) as u8).collect();
        hound_file(&path, 8, HoundFormat::Int, |writer| {
            for &byte in &bytes {
                writer.write_sample(byte as i8 ^ i8::MIN).unwrap();
            }
        });
        let file = load_wav(&path).unwrap();
        assert_eq!(capture(&file, SampleFormat::U8, 8000), bytes);
        let signed: Vec<u8> = bytes.iter().map(|byte| byte ^ 0x80).collect();
        assert_eq!(capture(&file, SampleFormat::S8, 8000), signed);
        let wide: Vec<u8> = bytes
            .iter()
            .flat_map(|&byte| ((i16::from(byte) - 128) << 8).to_le_bytes())
            .collect();
        assert_eq!(capture(&file, SampleFormat::S16Le, 8000), wide);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn s24_capture_from_24_bits_in_4_byte_containers_is_bit_exact() {
        // 24 valid bits in 4-byte containers, the value in the low three
        // bytes: WAVE_FORMAT_EXTENSIBLE as hound (and so wavtool) writes it,
        // and plain PCM with 24 bits and a 4-byte block as arecord -f S24_LE
        // writes it. linux-sndback's s24 capture read the first as 32-bit
        // and came back shifted by 8 bits.
        let directory = scratch("s24in32");
        let values: [i32; 6] = [0, 1, -1, 0x7f_ffff, -0x80_0000, 0x7e_e388];
        let wire: Vec<u8> = values
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        let extensible = directory.join("extensible.wav");
        let spec = WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 24,
            sample_format: HoundFormat::Int,
        };
        let spec = hound::WavSpecEx {
            spec,
            bytes_per_sample: 4,
        };
        let mut writer = hound::WavWriter::new_with_spec_ex(
            std::io::BufWriter::new(std::fs::File::create(&extensible).unwrap()),
            spec,
        )
        .unwrap();
        for &value in &values {
            writer.write_sample(value).unwrap();
        }
        writer.finalize().unwrap();
        let file = load_wav(&extensible).unwrap();
        assert_eq!(capture(&file, SampleFormat::S24Le, values.len()), wire);
        // arecord's header: PCM tag, 24 bits, block align 4.
        let mut plain = Vec::new();
        let data_len = (values.len() * 4) as u32;
        plain.extend_from_slice(b"RIFF");
        plain.extend_from_slice(&(36 + data_len).to_le_bytes());
        plain.extend_from_slice(b"WAVEfmt ");
        plain.extend_from_slice(&16u32.to_le_bytes());
        plain.extend_from_slice(&1u16.to_le_bytes());
        plain.extend_from_slice(&1u16.to_le_bytes());
        plain.extend_from_slice(&8000u32.to_le_bytes());
        plain.extend_from_slice(&32_000u32.to_le_bytes());
        plain.extend_from_slice(&4u16.to_le_bytes());
        plain.extend_from_slice(&24u16.to_le_bytes());
        plain.extend_from_slice(b"data");
        plain.extend_from_slice(&data_len.to_le_bytes());
        plain.extend_from_slice(&wire);
        let path = directory.join("plain.wav");
        std::fs::write(&path, &plain).unwrap();
        let file = load_wav(&path).unwrap();
        assert_eq!(capture(&file, SampleFormat::S24Le, values.len()), wire);
        // The 16-bit stream gets the top 16 of the 24 bits.
        let narrow: Vec<u8> = values
            .iter()
            .flat_map(|&value| ((value >> 8) as i16).to_le_bytes())
            .collect();
        assert_eq!(capture(&file, SampleFormat::S16Le, values.len()), narrow);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn capture_converts_a_file_of_another_format() {
        let directory = scratch("convert");
        let path = directory.join("sixteen.wav");
        let values: [i16; 6] = [0, 1, -1, 32767, -32768, 12345];
        hound_file(&path, 16, HoundFormat::Int, |writer| {
            for &value in &values {
                writer.write_sample(value).unwrap();
            }
        });
        let file = load_wav(&path).unwrap();
        let wide: Vec<u8> = values
            .iter()
            .flat_map(|&value| (i32::from(value) << 16).to_be_bytes())
            .collect();
        assert_eq!(
            capture(&file, SampleFormat::S32Be, 6),
            wide,
            "by the top bits"
        );
        let unsigned: Vec<u8> = values
            .iter()
            .flat_map(|&value| (value as u16 ^ 0x8000).to_le_bytes())
            .collect();
        assert_eq!(capture(&file, SampleFormat::U16Le, 6), unsigned);
        let narrow: Vec<u8> = values
            .iter()
            .map(|&value| (value >> 8) as u8 ^ 0x80)
            .collect();
        assert_eq!(capture(&file, SampleFormat::U8, 6), narrow);
        let floats: Vec<u8> = values
            .iter()
            .flat_map(|&value| (f64::from(value) / 32768.0).to_le_bytes())
            .collect();
        assert_eq!(capture(&file, SampleFormat::F64Le, 6), floats);
        let mulaw: Vec<u8> = values
            .iter()
            .map(|&value| xensnd_backend::sample::mulaw_encode(value))
            .collect();
        assert_eq!(capture(&file, SampleFormat::MuLaw, 6), mulaw);
        // A float file to integers: scaled by 2^(bits-1), rounded, clamped.
        let path = directory.join("float.wav");
        let floats = [0.0f32, 0.5, -0.5, 1.0, -1.0, 2.0, 1.0 / 65536.0];
        hound_file(&path, 32, HoundFormat::Float, |writer| {
            for &value in &floats {
                writer.write_sample(value).unwrap();
            }
        });
        let file = load_wav(&path).unwrap();
        let expected: Vec<u8> = [0i16, 16384, -16384, 32767, -32768, 32767, 1]
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        assert_eq!(capture(&file, SampleFormat::S16Le, 7), expected);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn wav_sink_starts_a_new_file_at_the_size_limit_and_every_file_stays_valid() {
        let directory = scratch("limit");
        let registry = FileRegistry::default();
        // At most 1000 data bytes per file (the real limit is 4 GiB).
        let mut sink = WavSink::with_limit(&registry, &directory, "dom1-spk", Some(1000));
        sink.start(&params(SampleFormat::S16Le, 2)).unwrap();
        let data = noise(7, 2500);
        for chunk in data.chunks(333) {
            sink.write(chunk).unwrap();
        }
        sink.finish().unwrap();
        drop(sink);
        let files = files_of(&directory);
        let names: Vec<String> = files
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["dom1-spk-2.wav", "dom1-spk-3.wav", "dom1-spk.wav"]);
        let order = [&files[2], &files[0], &files[1]];
        let mut joined = Vec::new();
        for (path, expected) in order.iter().zip([1000usize, 1000, 500]) {
            let mut reader = WavReader::open(path).unwrap();
            assert_eq!(reader.len() as usize * 2, expected, "{}", path.display());
            for sample in reader.samples::<i16>() {
                joined.extend_from_slice(&sample.unwrap().to_le_bytes());
            }
        }
        assert!(joined == data, "nothing lost, nothing doubled");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn wav_files_stop_at_the_riff_limit() {
        // The header sizes are u32: data stops at whole frames below 4 GiB.
        let pcm = wav::layout_for(SampleFormat::S16Le, 2, 48_000).unwrap();
        let most = wav::max_data_bytes(44, pcm.block_align());
        assert_eq!(most, 4_294_967_256);
        assert!(44 - 8 + most <= u64::from(u32::MAX));
        // An odd block needs room for the pad byte.
        let odd = wav::max_data_bytes(58, 3);
        assert_eq!(odd % 3, 0);
        assert!(58 - 8 + odd + odd % 2 <= u64::from(u32::MAX));
        let directory = scratch("riff");
        let path = directory.join("mulaw.wav");
        let layout = wav::layout_for(SampleFormat::MuLaw, 3, 8000).unwrap();
        let writer = wav::WavWriter::create(&path, layout, None).unwrap();
        assert_eq!(writer.room(), wav::max_data_bytes(58, 3), "fmt 18 + fact");
        drop(writer);
        let mut writer = wav::WavWriter::create(&path, layout, Some(7)).unwrap();
        assert_eq!(
            writer.write_frames(&[1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap(),
            6
        );
        assert_eq!(writer.write_frames(&[1, 2, 3]).unwrap(), 0, "full");
        drop(writer);
        let file = wav::read(&path).unwrap();
        assert_eq!(file.data, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(file.layout.encoding, wav::WavEncoding::MuLaw);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 58 + 6);
        assert_eq!(
            u32::from_le_bytes(bytes[4..8].try_into().unwrap()),
            58 - 8 + 6
        );
        assert_eq!(&bytes[38..42], b"fact");
        assert_eq!(
            u32::from_le_bytes(bytes[46..50].try_into().unwrap()),
            2,
            "frames"
        );
        assert_eq!(&bytes[50..54], b"data");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn wav_sink_appends_the_same_format_and_starts_a_file_for_another() {
        let directory = scratch("reopen");
        let registry = FileRegistry::default();
        let mut sink = WavSink::new(&registry, &directory, "dom1-spk");
        sink.start(&params(SampleFormat::S16Le, 2)).unwrap();
        let first = noise(1, 400);
        sink.write(&first).unwrap();
        sink.finish().unwrap();
        // Valid after CLOSE, before teardown.
        let read = wav::read(&directory.join("dom1-spk.wav")).unwrap();
        assert_eq!(read.data, first);
        sink.start(&params(SampleFormat::S16Le, 2)).unwrap();
        sink.write(&first[..4]).unwrap();
        sink.start(&params(SampleFormat::S32Le, 1)).unwrap();
        sink.write(&7i32.to_le_bytes()).unwrap();
        drop(sink);
        assert_eq!(
            wav::read(&directory.join("dom1-spk.wav"))
                .unwrap()
                .data
                .len(),
            404
        );
        let second = wav::read(&directory.join("dom1-spk-2.wav")).unwrap();
        assert_eq!(second.layout.sample_bytes, 4);
        assert_eq!(second.data, 7i32.to_le_bytes());
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn source_maps_channels_and_loops() {
        let file = Rc::new(WavFile {
            layout: wav::layout_for(SampleFormat::S16Le, 2, 8000).unwrap(),
            data: [100i16, -100, 200, -200]
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect(),
        });
        let mut source = WavSource::new(file);
        source.start(&params(SampleFormat::S16Le, 3)).unwrap();
        let mut out = [0u8; 2 * 3 * 3];
        source.read(&mut out).unwrap();
        let values: Vec<i16> = out
            .chunks_exact(2)
            .map(|bytes| i16::from_le_bytes([bytes[0], bytes[1]]))
            .collect();
        assert_eq!(values, vec![100, -100, 100, 200, -200, 200, 100, -100, 100]);
    }

    /// A disk of `capacity` bytes: writes that would grow the file past it
    /// fail with ENOSPC after writing what fits (overwriting is free).
    #[derive(Clone)]
    struct SmallDisk {
        bytes: Rc<std::cell::RefCell<Vec<u8>>>,
        position: u64,
        capacity: usize,
    }

    impl SmallDisk {
        fn new(capacity: usize) -> Self {
            Self {
                bytes: Rc::default(),
                position: 0,
                capacity,
            }
        }
    }

    impl std::io::Write for SmallDisk {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let mut bytes = self.bytes.borrow_mut();
            let at = self.position as usize;
            let fits = data.len().min(self.capacity.saturating_sub(at));
            if fits == 0 && !data.is_empty() {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            if bytes.len() < at + fits {
                bytes.resize(at + fits, 0);
            }
            bytes[at..at + fits].copy_from_slice(&data[..fits]);
            self.position += fits as u64;
            Ok(fits)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl std::io::Seek for SmallDisk {
        fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
            let at = match to {
                std::io::SeekFrom::Start(at) => Some(at),
                std::io::SeekFrom::Current(by) => self.position.checked_add_signed(by),
                std::io::SeekFrom::End(by) => {
                    (self.bytes.borrow().len() as u64).checked_add_signed(by)
                }
            };
            self.position = at.ok_or_else(|| std::io::Error::other("before the start"))?;
            Ok(self.position)
        }
    }

    impl wav::Output for SmallDisk {
        fn truncate(&mut self, length: u64) -> std::io::Result<()> {
            self.bytes.borrow_mut().truncate(length as usize);
            Ok(())
        }
    }

    /// A file's bytes are a valid WAV file holding a prefix of `sent` in
    /// whole frames, with every size field consistent.
    fn assert_valid_prefix(bytes: &[u8], sent: &[u8], block: usize, what: &str) -> usize {
        let file = wav::parse(bytes).unwrap_or_else(|error| panic!("{what}: {error}"));
        let data = file.data.len();
        assert_eq!(data % block, 0, "{what}");
        assert!(
            sent.starts_with(&file.data),
            "{what}: data is what was sent"
        );
        let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, bytes.len(), "{what}: RIFF size is the file's");
        let declared = u32::from_le_bytes(
            bytes[bytes.len() - data - data % 2 - 4..][..4]
                .try_into()
                .unwrap(),
        );
        assert_eq!(declared as usize, data, "{what}: data size");
        data
    }

    #[test]
    fn wav_writer_stays_valid_when_the_disk_fills_at_any_byte() {
        let mut checked = 0;
        // Odd and even frames, with and without a fact chunk.
        for (format, channels) in [
            (SampleFormat::S16Le, 2u8),
            (SampleFormat::U8, 3),
            (SampleFormat::MuLaw, 1),
            (SampleFormat::F64Le, 1),
        ] {
            let layout = wav::layout_for(format, channels, 8000).unwrap();
            let block = layout.block_align() as usize;
            let sent = noise(u64::from(format.code()), block * 300);
            for capacity in 0..=(sent.len() + 120) {
                let disk = SmallDisk::new(capacity);
                let Ok(mut writer) =
                    wav::WavWriter::to_output(Box::new(disk.clone()), layout, None)
                else {
                    // Not even the header fits: nothing to be valid.
                    continue;
                };
                let mut failed = false;
                for (index, chunk) in sent.chunks(block * 7).enumerate() {
                    match writer.write_frames(chunk) {
                        Ok(written) => assert_eq!(written, chunk.len()),
                        Err(_) => {
                            failed = true;
                            assert!(writer.failed());
                            assert!(writer.write_frames(chunk).is_err(), "refused after");
                            break;
                        }
                    }
                    if index % 9 == 8 {
                        let _ = writer.flush();
                    }
                }
                if !failed {
                    let flushed = writer.flush().is_ok();
                    assert_eq!(flushed, !writer.failed());
                    failed = !flushed;
                }
                drop(writer);
                let what = format!("{format} x{channels} on a {capacity}-byte disk");
                let data = assert_valid_prefix(&disk.bytes.borrow(), &sent, block, &what);
                if !failed {
                    assert_eq!(data, sent.len(), "{what}");
                }
                checked += 1;
            }
        }
        assert!(checked > 4 * 1000, "{checked}");
    }

    #[test]
    fn wav_sink_survives_a_full_disk_logs_once_and_keeps_serving() {
        let directory = scratch("disk-full");
        let registry = FileRegistry::default();
        let disks: Rc<std::cell::RefCell<Vec<SmallDisk>>> = Rc::default();
        let capacity = Rc::new(std::cell::Cell::new(1000usize));
        let opener: Opener = {
            let (disks, capacity) = (Rc::clone(&disks), Rc::clone(&capacity));
            Rc::new(move |_path: &Path| {
                if capacity.get() == 0 {
                    return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
                }
                let disk = SmallDisk::new(capacity.get());
                disks.borrow_mut().push(disk.clone());
                Ok(Box::new(disk) as Box<dyn wav::Output>)
            })
        };
        let mut sink = WavSink::new(&registry, &directory, "dom1-spk").with_opener(opener);
        let stream = params(SampleFormat::S16Le, 2);
        sink.start(&stream).unwrap();
        let sent = noise(3, 4000);
        for chunk in sent.chunks(100) {
            sink.write(chunk)
                .expect("the stream is served whatever the disk does");
        }
        sink.finish().unwrap();
        let first = disks.borrow()[0].bytes.borrow().clone();
        let kept = assert_valid_prefix(&first, &sent, 4, "first file");
        assert!(kept > 0 && kept < sent.len());
        // The next OPEN with no room at all fails cleanly (EIO) ...
        capacity.set(0);
        assert_eq!(sink.start(&stream), Err(IoError));
        assert_eq!(sink.start(&stream), Err(IoError));
        // ... and once there is room again, a new file starts.
        capacity.set(1 << 20);
        sink.start(&stream).unwrap();
        sink.write(&sent).unwrap();
        drop(sink);
        let disks = disks.borrow();
        assert_eq!(disks.len(), 2);
        let second = disks[1].bytes.borrow().clone();
        assert_eq!(
            assert_valid_prefix(&second, &sent, 4, "second file"),
            sent.len()
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn wav_riff_limit_holds_for_every_header_and_frame_size() {
        // Every header a layout writes, every frame size sndif allows.
        let mut headers = std::collections::BTreeSet::new();
        for format in SampleFormat::ALL {
            for channels in [1u8, 2, 3, 8, 255] {
                if let Some(layout) = wav::layout_for(format, channels, 8000) {
                    let disk = SmallDisk::new(usize::MAX);
                    drop(wav::WavWriter::to_output(Box::new(disk.clone()), layout, None).unwrap());
                    headers.insert(disk.bytes.borrow().len() as u64);
                }
            }
        }
        assert!(headers.len() >= 4, "{headers:?}");
        for &header in &headers {
            for block in 1..=255u32 * 8 {
                let most = wav::max_data_bytes(header, block);
                let block = u64::from(block);
                assert_eq!(most % block, 0);
                let riff = |data: u64| header - 8 + data + data % 2;
                assert!(riff(most) <= u64::from(u32::MAX), "{header} {block}");
                assert!(most <= u64::from(u32::MAX));
                // One more frame would not fit.
                let next = most + block;
                assert!(riff(next) > u64::from(u32::MAX) || next > u64::from(u32::MAX));
            }
        }
    }
}
