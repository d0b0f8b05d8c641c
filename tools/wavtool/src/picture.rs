//! Looking at a WAV file: statistics (peak, RMS, dominant frequency, CRC-32)
//! and a PNG with its waveform and spectrum.
#![forbid(unsafe_code)]

use std::path::Path;

use xensnd_demo::signal::Crc32;

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

/// Names of the channels in the legend.
fn channel_name(channel: usize, channels: usize) -> String {
    match (channels, channel) {
        (1, _) => "mono".to_string(),
        (2, 0) => "left".to_string(),
        (2, 1) => "right".to_string(),
        _ => format!("channel {}", channel + 1),
    }
}

/// Draw the waveform (first 20 ms per channel, envelope of the whole file)
/// and the spectrum of a WAV file into a PNG with axes, units, titles and
/// legends (see [`crate::chart`]).
pub fn plot(path: &Path, out: &Path) -> Result<(), String> {
    let audio = Audio::load(path)?;
    let m = mono(&audio);
    let channels = usize::from(audio.channels).max(1);
    // The first 20 ms, sample by sample, per channel.
    let first = (audio.rate as usize / 50).min(audio.frames()).max(1);
    let start = (0..channels)
        .map(|c| {
            let samples = (0..first.min(audio.frames()))
                .map(|frame| audio.normalized(frame * channels + c) as f32)
                .collect();
            (channel_name(c, channels), samples)
        })
        .collect();
    let n = 4096.min(m.len().next_power_of_two()).max(16);
    let spec = spectrum(&m, n);
    let dominant = dominant_frequency(&audio);
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let title = format!(
        "{name}: {} Hz, {} ch, {}, {:.2} s",
        audio.rate,
        audio.channels,
        audio.format.sample_format(),
        m.len() as f64 / f64::from(audio.rate.max(1))
    );
    crate::chart::waveform_and_spectrum(
        &crate::chart::Waveform {
            title: &title,
            rate: audio.rate,
            start,
            mono: &m,
            spectrum: &spec,
            dominant_hz: dominant,
        },
        out,
    )?;
    println!(
        "wrote {}: first 20 ms, envelope of {:.2} s, spectrum 0..{} Hz (dominant {:.1} Hz)",
        out.display(),
        m.len() as f64 / f64::from(audio.rate.max(1)),
        audio.rate / 2,
        dominant
    );
    Ok(())
}
