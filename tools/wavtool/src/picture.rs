//! Looking at a WAV file: statistics (peak, RMS, dominant frequency, CRC-32)
//! and a PNG with its waveform and spectrum.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use xensnd::app::signal::Crc32;

use crate::audio::Audio;

/// Magnitude spectrum (dB) of a Hann-windowed block of `n` mono samples.
fn spectrum(mono: &[f32], n: usize) -> Vec<f32> {
    let block: Vec<f32> = (0..n)
        .map(|i| {
            let w = 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / (n - 1) as f32).cos();
            mono.get(i).copied().unwrap_or(0.0) * w
        })
        .collect();
    (0..n / 2)
        .map(|k| {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (i, &x) in block.iter().enumerate() {
                let angle = -2.0 * std::f64::consts::PI * (k * i) as f64 / n as f64;
                re += x as f64 * angle.cos();
                im += x as f64 * angle.sin();
            }
            let magnitude = (re * re + im * im).sqrt() / (n as f64 / 4.0);
            (20.0 * magnitude.max(1e-9).log10()) as f32
        })
        .collect()
}

fn mono(audio: &Audio) -> Vec<f32> {
    let channels = usize::from(audio.channels);
    (0..audio.frames())
        .map(|frame| {
            let sum: f64 = (0..channels)
                .map(|c| audio.normalized(frame * channels + c))
                .sum();
            (sum / channels as f64) as f32
        })
        .collect()
}

fn dominant_frequency(audio: &Audio) -> f32 {
    let m = mono(audio);
    let n = 4096.min(m.len().next_power_of_two()).max(16);
    let spec = spectrum(&m, n);
    let (bin, _) =
        spec.iter().enumerate().skip(1).fold(
            (0, f32::MIN),
            |best, (i, &v)| if v > best.1 { (i, v) } else { best },
        );
    bin as f32 * audio.rate as f32 / n as f32
}

/// Print frames, layout, length, peak, RMS, dominant frequency and CRC-32 of a WAV file.
pub fn stats(path: &Path) -> Result<(), String> {
    let audio = Audio::load(path)?;
    let count = audio.samples.len().max(1) as f64;
    let (mut peak, mut squares) = (0f64, 0f64);
    for i in 0..audio.samples.len() {
        let v = audio.normalized(i);
        peak = peak.max(v.abs());
        squares += v * v;
    }
    println!(
        "{}: {} frames, {} ch, {} Hz, {}, {:.3} s, peak {:.5} ({:.2} dBFS), rms {:.5}, dominant {:.1} Hz, crc32 {:08x}",
        path.display(),
        audio.frames(),
        audio.channels,
        audio.rate,
        audio.format.sample_format(),
        audio.frames() as f64 / f64::from(audio.rate.max(1)),
        peak,
        20.0 * peak.max(1e-12).log10(),
        (squares / count).sqrt(),
        dominant_frequency(&audio),
        Crc32::of(&audio.wire_bytes())
    );
    Ok(())
}

struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![255; width * height * 3],
        }
    }
    fn set(&mut self, x: usize, y: usize, rgb: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.pixels[i..i + 3].copy_from_slice(&rgb);
        }
    }
    fn vline(&mut self, x: usize, y0: usize, y1: usize, rgb: [u8; 3]) {
        for y in y0.min(y1)..=y0.max(y1) {
            self.set(x, y, rgb);
        }
    }
    fn frame(&mut self, top: usize, bottom: usize) {
        for x in 0..self.width {
            self.set(x, top, [160, 160, 160]);
            self.set(x, bottom, [160, 160, 160]);
        }
    }
}

/// Draw the waveform (first 20 ms and envelope) and the spectrum of a WAV file into a PNG.
pub fn plot(path: &Path, out: &Path) -> Result<(), String> {
    let audio = Audio::load(path)?;
    let m = mono(&audio);
    let (width, panel) = (1000usize, 200usize);
    let mut c = Canvas::new(width, panel * 3 + 40);
    let blue = [30, 80, 200];
    // Panel 1: the first 20 ms, sample by sample.
    let first = (audio.rate as usize / 50).min(m.len()).max(1);
    c.frame(0, panel);
    let y_of = |v: f32, top: usize| {
        top + ((1.0 - v.clamp(-1.0, 1.0)) * (panel as f32 / 2.0 - 2.0)) as usize + 1
    };
    let mut previous = None;
    for x in 0..width {
        let v = m.get(x * first / width).copied().unwrap_or(0.0);
        let y = y_of(v, 0);
        c.vline(x, previous.unwrap_or(y), y, blue);
        previous = Some(y);
    }
    // Panel 2: the envelope of the whole file.
    let top = panel + 20;
    c.frame(top, top + panel);
    let per_column = m.len().div_ceil(width).max(1);
    for (x, column) in m.chunks(per_column).enumerate() {
        let lo = column.iter().copied().fold(f32::MAX, f32::min);
        let hi = column.iter().copied().fold(f32::MIN, f32::max);
        c.vline(x, y_of(hi, top), y_of(lo, top), blue);
    }
    // Panel 3: spectrum, 0 .. rate/2 linear, -120 .. 0 dB.
    let top = 2 * (panel + 20);
    c.frame(top, top + panel);
    let n = 4096.min(m.len().next_power_of_two()).max(16);
    let spec = spectrum(&m, n);
    for x in 0..width {
        let db = spec[x * spec.len() / width];
        let v = ((db + 120.0) / 120.0).clamp(0.0, 1.0);
        let y = top + panel - (v * (panel - 2) as f32) as usize;
        c.vline(x, y, top + panel - 1, [200, 60, 40]);
    }
    let file = File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width as u32, c.height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&c.pixels)
        .map_err(|e| e.to_string())?;
    println!(
        "wrote {}: first 20 ms, envelope of {:.2} s, spectrum 0..{} Hz (dominant {:.1} Hz)",
        out.display(),
        m.len() as f64 / f64::from(audio.rate.max(1)),
        audio.rate / 2,
        dominant_frequency(&audio)
    );
    Ok(())
}
