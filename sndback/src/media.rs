//! Sinks and sources backed by files: WAV output per stream, WAV input for capture.
//!
//! A playback stream's sink is `<out-dir>/dom<domid>-<unique-id>.wav`.
//! Consecutive OPENs with the same format append to the same file; an OPEN
//! with a different format starts `...-2.wav`, `...-3.wav`. The header is
//! brought up to date at every CLOSE and the file finalised at teardown.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};
use xensnd::backend::hw::{format_name, PcmParams};
use xensnd::backend::io::IoError;
use xensnd::backend::sample::encode;
use xensnd::backend::{Sink, Source};

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

fn spec_for(params: &PcmParams) -> Option<WavSpec> {
    let (bits, sample_format) = match params.format {
        0 | 1 => (8, SampleFormat::Int),
        2 => (16, SampleFormat::Int),
        6 => (24, SampleFormat::Int),
        10 => (32, SampleFormat::Int),
        14 => (32, SampleFormat::Float),
        _ => return None,
    };
    Some(WavSpec {
        channels: u16::from(params.channels),
        sample_rate: params.rate,
        bits_per_sample: bits,
        sample_format,
    })
}

/// How many files each sink path has started in this process, so a
/// frontend that reconnects continues with `-2.wav` instead of overwriting.
pub type FileRegistry = std::rc::Rc<std::cell::RefCell<std::collections::HashMap<PathBuf, u32>>>;

/// Writes playback audio to WAV files.
pub struct WavSink {
    registry: FileRegistry,
    base: PathBuf,
    writer: Option<WavWriter<BufWriter<File>>>,
    spec: Option<WavSpec>,
    format: u8,
    files: u32,
    /// Bytes of a sample cut by the end of the last WRITE.
    pending: Vec<u8>,
}

impl WavSink {
    /// A sink writing `<directory>/<stem>.wav` (created at the first OPEN).
    pub fn new(registry: &FileRegistry, directory: &Path, stem: &str) -> Self {
        Self {
            registry: std::rc::Rc::clone(registry),
            base: directory.join(stem),
            writer: None,
            spec: None,
            format: 0,
            files: 0,
            pending: Vec::new(),
        }
    }

    fn path(&self) -> PathBuf {
        let mut name = self.base.as_os_str().to_owned();
        if self.files > 1 {
            name.push(format!("-{}", self.files));
        }
        name.push(".wav");
        PathBuf::from(name)
    }

    fn finalize(&mut self) {
        if let Some(writer) = self.writer.take() {
            if let Err(error) = writer.finalize() {
                log::error!("{}: finalising WAV: {error}", self.base.display());
            }
        }
    }

    fn write_sample(&mut self, sample: &[u8]) -> Result<(), hound::Error> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        match self.format {
            0 => writer.write_sample(sample[0] as i8),
            1 => writer.write_sample((i16::from(sample[0]) - 128) as i8),
            2 => writer.write_sample(i16::from_le_bytes([sample[0], sample[1]])),
            6 => {
                // Low 24 bits of a 4-byte container, sign-extended.
                let raw = i32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]);
                writer.write_sample((raw << 8) >> 8)
            }
            10 => writer.write_sample(i32::from_le_bytes([
                sample[0], sample[1], sample[2], sample[3],
            ])),
            14 => writer.write_sample(f32::from_le_bytes([
                sample[0], sample[1], sample[2], sample[3],
            ])),
            _ => Ok(()),
        }
    }
}

impl Sink for WavSink {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        let Some(spec) = spec_for(params) else {
            log::error!(
                "WAV sink cannot store format {} (use s8, u8, s16_le, s24_le, s32_le or float_le, or --sink null)",
                format_name(params.format).unwrap_or("?")
            );
            return Err(IoError);
        };
        self.pending.clear();
        if self.writer.is_some() && self.spec == Some(spec) {
            return Ok(());
        }
        self.finalize();
        self.files = {
            let mut registry = self.registry.borrow_mut();
            let used = registry.entry(self.base.clone()).or_insert(0);
            *used += 1;
            *used
        };
        let path = self.path();
        let writer = WavWriter::create(&path, spec).map_err(|error| {
            log::error!("{}: {error}", path.display());
            IoError
        })?;
        log::info!("writing {}", path.display());
        self.writer = Some(writer);
        self.spec = Some(spec);
        self.format = params.format;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        let size = params_sample_bytes(self.format);
        self.pending.extend_from_slice(bytes);
        let whole = self.pending.len() / size * size;
        let samples: Vec<u8> = self.pending.drain(..whole).collect();
        for sample in samples.chunks_exact(size) {
            self.write_sample(sample).map_err(|error| {
                log::error!("{}: {error}", self.base.display());
                IoError
            })?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), IoError> {
        if let Some(writer) = self.writer.as_mut() {
            writer.flush().map_err(|error| {
                log::error!("{}: {error}", self.base.display());
                IoError
            })?;
        }
        Ok(())
    }
}

fn params_sample_bytes(format: u8) -> usize {
    xensnd::backend::hw::sample_bytes(format).unwrap_or(1) as usize
}

impl Drop for WavSink {
    fn drop(&mut self) {
        self.finalize();
    }
}

/// A WAV file loaded for capture, shared by every stream using it.
#[derive(Debug)]
pub struct WavData {
    /// Interleaved samples, normalised to -1..1.
    pub samples: Vec<f32>,
    /// The integer samples as stored, for integer files (8/16/24/32 bit).
    pub integers: Option<Vec<i32>>,
    /// Bits per sample in the file.
    pub bits: u16,
    /// Channels in the file.
    pub channels: usize,
    /// The file's sample rate.
    pub rate: u32,
}

/// Plays a WAV file (looping) into capture streams, converted to the
/// stream's format and channel count (channel `i` takes file channel
/// `i % file channels`); the file's rate is not converted. When the stream's
/// format is the file's own signed little-endian integer format (s8, s16_le,
/// s24_le, s32_le), the samples are copied bit for bit.
pub struct WavSource {
    data: std::rc::Rc<WavData>,
    params: Option<PcmParams>,
    frame: usize,
    pending: Vec<u8>,
}

/// Load a WAV file (shared by every stream using it).
pub fn load_wav(path: &Path) -> Result<std::rc::Rc<WavData>, String> {
    let mut reader =
        WavReader::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let spec = reader.spec();
    let context = |error: hound::Error| format!("{}: {error}", path.display());
    let (samples, integers) = match spec.sample_format {
        SampleFormat::Float => (
            reader
                .samples::<f32>()
                .collect::<Result<Vec<f32>, _>>()
                .map_err(context)?,
            None,
        ),
        SampleFormat::Int => {
            let integers = reader
                .samples::<i32>()
                .collect::<Result<Vec<i32>, _>>()
                .map_err(context)?;
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            let samples = integers.iter().map(|&value| value as f32 / scale).collect();
            (samples, Some(integers))
        }
    };
    if samples.is_empty() || spec.channels == 0 {
        return Err(format!("{}: no samples", path.display()));
    }
    Ok(std::rc::Rc::new(WavData {
        samples,
        integers,
        bits: spec.bits_per_sample,
        channels: usize::from(spec.channels),
        rate: spec.sample_rate,
    }))
}

/// The bits of a signed little-endian integer sndif format, and its container bytes.
fn exact_integer_format(format: u8) -> Option<(u16, usize)> {
    match format {
        0 => Some((8, 1)),
        2 => Some((16, 2)),
        6 => Some((24, 4)),
        10 => Some((32, 4)),
        _ => None,
    }
}

impl WavSource {
    /// A source over a loaded file.
    pub fn new(data: std::rc::Rc<WavData>) -> Self {
        Self {
            data,
            params: None,
            frame: 0,
            pending: Vec::new(),
        }
    }

    /// Queue the next frame's bytes in `pending`.
    fn next_frame(&mut self, params: &PcmParams) {
        let file_channels = self.data.channels.max(1);
        let frames = self.data.samples.len() / file_channels;
        let base = (self.frame % frames.max(1)) * file_channels;
        let exact = exact_integer_format(params.format)
            .filter(|&(bits, _)| bits == self.data.bits)
            .and_then(|(_, size)| self.data.integers.as_ref().map(|values| (values, size)));
        let size = params.sample_bytes() as usize;
        for channel in 0..usize::from(params.channels) {
            let index = base + channel % file_channels;
            if let Some((values, container)) = exact {
                let value = values.get(index).copied().unwrap_or(0);
                self.pending
                    .extend_from_slice(&value.to_le_bytes()[..container]);
            } else {
                let value = self.data.samples.get(index).copied().unwrap_or(0.0);
                let mut sample = [0u8; 8];
                encode(params.format, value, &mut sample[..size]);
                self.pending.extend_from_slice(&sample[..size]);
            }
        }
        self.frame += 1;
    }
}

impl Source for WavSource {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        if params.rate != self.data.rate {
            log::warn!(
                "capture at {} Hz from a {} Hz WAV file: played at the stream's rate",
                params.rate,
                self.data.rate
            );
        }
        self.params = Some(*params);
        self.frame = 0;
        self.pending.clear();
        Ok(())
    }

    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        let params = self.params.ok_or(IoError)?;
        let mut done = 0;
        while done < out.len() {
            if self.pending.is_empty() {
                self.next_frame(&params);
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

    fn params(format: u8, channels: u8) -> PcmParams {
        PcmParams {
            format,
            channels,
            rate: 8000,
            buffer_bytes: 4096,
            buffer_frames: 1024,
            period_frames: 0,
        }
    }

    #[test]
    fn sanitized_names_stay_in_the_directory() {
        assert_eq!(sanitize("spk"), "spk");
        assert_eq!(sanitize("../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("a b/c"), "a_b_c");
    }

    #[test]
    fn wav_sink_round_trip_with_split_samples_and_reopen() {
        let directory = std::env::temp_dir().join(format!("sndback-test-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let registry = FileRegistry::default();
        let mut sink = WavSink::new(&registry, &directory, "dom1-spk");
        sink.start(&params(2, 2)).unwrap();
        let samples: Vec<i16> = (0..100).map(|i| i * 300 - 15000).collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        // Split in the middle of a sample.
        sink.write(&bytes[..51]).unwrap();
        sink.write(&bytes[51..]).unwrap();
        sink.finish().unwrap();
        // Header is valid after CLOSE, before teardown.
        let read: Vec<i16> = WavReader::open(directory.join("dom1-spk.wav"))
            .unwrap()
            .samples::<i16>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read, samples);
        // Same format again: appended; different format: a second file.
        sink.start(&params(2, 2)).unwrap();
        sink.write(&bytes[..4]).unwrap();
        sink.start(&params(10, 1)).unwrap();
        sink.write(&7i32.to_le_bytes()).unwrap();
        drop(sink);
        let first = WavReader::open(directory.join("dom1-spk.wav")).unwrap();
        assert_eq!(first.len(), 102);
        let mut second = WavReader::open(directory.join("dom1-spk-2.wav")).unwrap();
        assert_eq!(second.spec().bits_per_sample, 32);
        assert_eq!(
            second
                .samples::<i32>()
                .map(Result::unwrap)
                .collect::<Vec<_>>(),
            vec![7]
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn wav_sink_refuses_formats_it_cannot_store() {
        let mut sink = WavSink::new(&FileRegistry::default(), &std::env::temp_dir(), "never");
        assert!(sink.start(&params(3, 2)).is_err());
    }

    #[test]
    fn wav_source_maps_channels_and_loops() {
        let data = std::rc::Rc::new(WavData {
            samples: vec![0.5, -0.5, 0.25, -0.25],
            integers: None,
            bits: 32,
            channels: 2,
            rate: 8000,
        });
        let mut source = WavSource::new(data);
        source.start(&params(2, 1)).unwrap();
        let mut out = [0u8; 8];
        source.read(&mut out).unwrap();
        let values: Vec<i16> = out
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(values, vec![16384, 8192, 16384, 8192]);
    }

    #[test]
    fn wav_source_copies_integer_samples_bit_for_bit() {
        // Full-scale values the float path would round (32767 * 32767 / 32768).
        let path = std::env::temp_dir().join(format!("sndback-src-{}.wav", std::process::id()));
        let spec = WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let values: Vec<i16> = vec![32767, -32768, 1, -1, 20000, -20001, 0];
        let mut writer = WavWriter::create(&path, spec).unwrap();
        for &value in &values {
            writer.write_sample(value).unwrap();
        }
        writer.finalize().unwrap();
        let data = load_wav(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut source = WavSource::new(data);
        source.start(&params(2, 1)).unwrap();
        // Read across a sample boundary and past the end (the file loops).
        let mut out = [0u8; 2 * 7 + 3];
        source.read(&mut out[..5]).unwrap();
        source.read(&mut out[5..]).unwrap();
        let read: Vec<i16> = out
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(&read[..7], &values[..]);
        assert_eq!(read[7], 32767);
        // Another format still converts (s32_le from a 16-bit file).
        let mut source = WavSource::new(load_wav_values(&values));
        source.start(&params(10, 1)).unwrap();
        let mut wide = [0u8; 4];
        source.read(&mut wide).unwrap();
        assert_eq!(i32::from_le_bytes(wide), expected_s32(32767.0 / 32768.0));
    }

    fn load_wav_values(values: &[i16]) -> std::rc::Rc<WavData> {
        std::rc::Rc::new(WavData {
            samples: values.iter().map(|&v| f32::from(v) / 32768.0).collect(),
            integers: Some(values.iter().map(|&v| i32::from(v)).collect()),
            bits: 16,
            channels: 1,
            rate: 8000,
        })
    }

    fn expected_s32(value: f64) -> i32 {
        (value * f64::from(i32::MAX)).round() as i32
    }
}
