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

/// Plays a WAV file (looping) into capture streams, converted to the
/// stream's format and channel count (channel `i` takes file channel
/// `i % file channels`); the file's rate is not converted.
pub struct WavSource {
    samples: std::rc::Rc<Vec<f32>>,
    file_channels: usize,
    file_rate: u32,
    params: Option<PcmParams>,
    frame: usize,
    pending: Vec<u8>,
}

/// Load a WAV file as normalised samples (shared by every stream using it).
pub fn load_wav(path: &Path) -> Result<(std::rc::Rc<Vec<f32>>, usize, u32), String> {
    let mut reader =
        WavReader::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let spec = reader.spec();
    let samples: Result<Vec<f32>, hound::Error> = match spec.sample_format {
        SampleFormat::Float => reader.samples::<f32>().collect(),
        SampleFormat::Int => {
            // The inverse of `encode` (which scales by 2^(bits-1) - 1), so a
            // 16-bit file captured as s16 comes out sample for sample.
            let scale = ((1u64 << (spec.bits_per_sample - 1)) - 1) as f32;
            reader
                .samples::<i32>()
                .map(|sample| sample.map(|value| value as f32 / scale))
                .collect()
        }
    };
    let samples = samples.map_err(|error| format!("{}: {error}", path.display()))?;
    if samples.is_empty() || spec.channels == 0 {
        return Err(format!("{}: no samples", path.display()));
    }
    Ok((
        std::rc::Rc::new(samples),
        usize::from(spec.channels),
        spec.sample_rate,
    ))
}

impl WavSource {
    /// A source over loaded samples.
    pub fn new(samples: std::rc::Rc<Vec<f32>>, file_channels: usize, file_rate: u32) -> Self {
        Self {
            samples,
            file_channels: file_channels.max(1),
            file_rate,
            params: None,
            frame: 0,
            pending: Vec::new(),
        }
    }
}

impl Source for WavSource {
    fn start(&mut self, params: &PcmParams) -> Result<(), IoError> {
        if params.rate != self.file_rate {
            log::warn!(
                "capture at {} Hz from a {} Hz WAV file: played at the stream's rate",
                params.rate,
                self.file_rate
            );
        }
        self.params = Some(*params);
        self.frame = 0;
        self.pending.clear();
        Ok(())
    }

    fn read(&mut self, out: &mut [u8]) -> Result<(), IoError> {
        let params = self.params.ok_or(IoError)?;
        let size = params.sample_bytes() as usize;
        let frames = self.samples.len() / self.file_channels;
        let mut done = 0;
        while done < out.len() {
            if self.pending.is_empty() {
                let base = (self.frame % frames.max(1)) * self.file_channels;
                let mut sample = [0u8; 8];
                for channel in 0..usize::from(params.channels) {
                    let value = self
                        .samples
                        .get(base + channel % self.file_channels)
                        .copied()
                        .unwrap_or(0.0);
                    encode(params.format, value, &mut sample[..size]);
                    self.pending.extend_from_slice(&sample[..size]);
                }
                self.frame += 1;
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
            period_bytes: 0,
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
    fn wav_source_s16_file_captured_as_s16_is_exact() {
        let path = std::env::temp_dir().join(format!("sndback-src-{}.wav", std::process::id()));
        let spec = WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let written: Vec<i16> = vec![0, 1, -1, 16384, 16385, 16422, -16422, 32767, -32767, 12345];
        let mut writer = WavWriter::create(&path, spec).unwrap();
        for sample in &written {
            writer.write_sample(*sample).unwrap();
        }
        writer.finalize().unwrap();
        let (samples, channels, rate) = load_wav(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut source = WavSource::new(samples, channels, rate);
        source.start(&params(2, 1)).unwrap();
        let mut out = vec![0u8; 2 * written.len()];
        source.read(&mut out).unwrap();
        let read: Vec<i16> = out
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(read, written);
    }

    #[test]
    fn wav_sink_refuses_formats_it_cannot_store() {
        let mut sink = WavSink::new(&FileRegistry::default(), &std::env::temp_dir(), "never");
        assert!(sink.start(&params(3, 2)).is_err());
    }

    #[test]
    fn wav_source_maps_channels_and_loops() {
        let samples = std::rc::Rc::new(vec![0.5, -0.5, 0.25, -0.25]);
        let mut source = WavSource::new(samples, 2, 8000);
        source.start(&params(2, 1)).unwrap();
        let mut out = [0u8; 8];
        source.read(&mut out).unwrap();
        let values: Vec<i16> = out
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(values, vec![16384, 8192, 16384, 8192]);
    }
}
