//! Sample-exact comparison of WAV files and the guest's CRC-32 of a signal.
#![forbid(unsafe_code)]

use std::path::Path;

use xensnd_demo::signal::Crc32;

use crate::audio::{Audio, WavFormat};

/// What `compare` allows besides "equal, sample for sample, same length".
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowance {
    /// The actual file may go on after the expected frames with fewer than
    /// this many frames, all silence (ALSA's padding of the last period).
    pub trailing_zero_frames_below: usize,
    /// The actual file equals the expected one from this frame on.
    pub expected_from: u64,
    /// The actual file may stop before the expected one ends (not empty).
    pub may_end_early: bool,
}

/// Compare `actual` with `expected` sample for sample (bit for bit, floats
/// included), within `allow`. Prints the verdict; `Ok(false)` when they differ.
pub fn compare(expected: &Path, actual: &Path, allow: Allowance) -> Result<bool, String> {
    let verdict = compare_audio(&Audio::load(expected)?, &Audio::load(actual)?, allow)?;
    println!("{}", verdict.1);
    Ok(verdict.0)
}

/// [`compare`] on loaded audio: (equal, the verdict line).
pub fn compare_audio(
    expected: &Audio,
    actual: &Audio,
    allow: Allowance,
) -> Result<(bool, String), String> {
    if !expected.same_layout(actual) {
        return Ok((
            false,
            format!(
                "DIFFERENT format: expected {}, got {}",
                expected.layout(),
                actual.layout()
            ),
        ));
    }
    let channels = usize::from(expected.channels);
    let mut a = expected.samples.as_slice();
    let b = actual.samples.as_slice();
    let mut from = String::new();
    if allow.expected_from > 0 {
        let skip = usize::try_from(allow.expected_from)
            .ok()
            .and_then(|frames| frames.checked_mul(channels))
            .filter(|&skip| skip <= a.len())
            .ok_or_else(|| {
                format!(
                    "--expected-from {}: the expected file has only {} frames",
                    allow.expected_from,
                    expected.frames()
                )
            })?;
        a = &a[skip..];
        from = format!(" (expected file from frame {} on)", allow.expected_from);
    }
    let what = format!(
        "{} frames x {}{from}",
        a.len() / channels,
        expected.layout()
    );
    if let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) {
        return Ok((
            false,
            format!(
                "DIFFERENT at frame {} channel {}: expected {}, got {} ({} of {} frames equal before it){from}",
                i / channels,
                i % channels,
                expected.show(a[i]),
                actual.show(b[i]),
                i / channels,
                a.len() / channels
            ),
        ));
    }
    if b.len() > a.len() && allow.trailing_zero_frames_below > 0 {
        let tail = &b[a.len()..];
        let extra = tail.len() / channels;
        if extra >= allow.trailing_zero_frames_below {
            return Ok((
                false,
                format!(
                    "DIFFERENT length: {extra} frames after the {} expected ones (allowed: fewer than {} zero frames)",
                    a.len() / channels,
                    allow.trailing_zero_frames_below
                ),
            ));
        }
        if let Some(i) = tail.iter().position(|&s| s != 0) {
            return Ok((
                false,
                format!(
                    "DIFFERENT: frame {} (after the {} expected frames) is {}, not silence",
                    (a.len() + i) / channels,
                    a.len() / channels,
                    actual.show(tail[i])
                ),
            ));
        }
        if tail.len() % channels != 0 {
            return Ok((
                false,
                "DIFFERENT: a partial frame after the expected frames".into(),
            ));
        }
        return Ok((
            true,
            format!(
                "EQUAL: {what}: sample for sample, then {extra} zero frames (allowed: fewer than {})",
                allow.trailing_zero_frames_below
            ),
        ));
    }
    if allow.may_end_early && !b.is_empty() && b.len() < a.len() {
        if b.len() % channels != 0 {
            return Ok((false, "DIFFERENT: a partial frame at the end".into()));
        }
        return Ok((
            true,
            format!(
                "EQUAL: the first {} of {what}: sample for sample (ends early)",
                b.len() / channels
            ),
        ));
    }
    if a.len() != b.len() {
        return Ok((
            false,
            format!(
                "DIFFERENT length: expected {} frames, got {} (the common part is equal){from}",
                a.len() / channels,
                b.len() / channels
            ),
        ));
    }
    Ok((true, format!("EQUAL: {what}: sample for sample")))
}

/// Linear gain of a volume in 0.001 dB (sndif SET_VOLUME units); -120 dB
/// and below is silence.
fn gain_of(millidb: i32) -> f64 {
    if millidb <= -120_000 {
        0.0
    } else {
        10f64.powf(f64::from(millidb) / 20_000.0)
    }
}

/// `actual` must be `expected` with every sample multiplied by the gain of
/// `gain_mdb` (rounded), each within `tolerance`; same format and length.
/// Integer formats only.
pub fn compare_scaled(
    expected: &Path,
    actual: &Path,
    gain_mdb: i32,
    tolerance: i32,
) -> Result<bool, String> {
    let a = Audio::load(expected)?;
    let b = Audio::load(actual)?;
    if !a.same_layout(&b) {
        println!(
            "DIFFERENT format: expected {}, got {}",
            a.layout(),
            b.layout()
        );
        return Ok(false);
    }
    if a.format == WavFormat::F32 {
        return Err("--gain-mdb: integer formats only".into());
    }
    let channels = usize::from(a.channels);
    if a.samples.len() != b.samples.len() {
        println!(
            "DIFFERENT length: expected {} frames, got {}",
            a.frames(),
            b.frames()
        );
        return Ok(false);
    }
    let gain = gain_of(gain_mdb);
    let mut worst = 0i64;
    for (i, (x, y)) in a.samples.iter().zip(&b.samples).enumerate() {
        let want = (f64::from(*x) * gain).round() as i64;
        let difference = (want - i64::from(*y)).abs();
        if difference > i64::from(tolerance) {
            println!(
                "DIFFERENT at frame {} channel {}: expected {want} ({x} x {gain:.6}), got {y}",
                i / channels,
                i % channels
            );
            return Ok(false);
        }
        worst = worst.max(difference);
    }
    let peak = |samples: &[i32]| samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    let (peak_expected, peak_actual) = (peak(&a.samples), peak(&b.samples));
    let ratio = if peak_expected == 0 {
        0.0
    } else {
        f64::from(peak_actual) / f64::from(peak_expected)
    };
    println!(
        "SCALED: {} frames x {channels} channels = reference x {gain:.6} ({gain_mdb} mdB) within {worst} LSB; peak {peak_actual} / {peak_expected} = {ratio:.5}",
        a.frames()
    );
    Ok(true)
}

/// CRC-32 of the sample bytes of `path` as they travel over sndif (see
/// [`Audio::wire_bytes`]), or of its first `frames` frames (repeating the
/// file from its start when `repeat`, as sndback's `wav:` capture source does).
pub fn crc32(path: &Path, frames: Option<u64>, repeat: bool) -> Result<u32, String> {
    let audio = Audio::load(path)?;
    let bytes = audio.wire_bytes();
    let Some(frames) = frames else {
        return Ok(Crc32::of(&bytes));
    };
    let frame_bytes = audio.format.wire_bytes() * usize::from(audio.channels);
    let wanted = frames as usize * frame_bytes;
    if bytes.is_empty() || (wanted > bytes.len() && !repeat) {
        return Err(format!(
            "{}: {} frames, fewer than {frames} (use --loop to repeat it)",
            path.display(),
            audio.frames()
        ));
    }
    let mut crc = Crc32::new();
    let mut left = wanted;
    while left > 0 {
        let take = left.min(bytes.len());
        crc.update(&bytes[..take]);
        left -= take;
    }
    Ok(crc.value())
}

/// Where `expected` lies, sample for sample, inside `actual`: the first
/// frame offset at which all of `expected` follows (`None` if nowhere).
/// Same layout required.
pub fn locate(expected: &Audio, actual: &Audio) -> Result<Option<usize>, String> {
    if !expected.same_layout(actual) {
        return Err(format!(
            "locate: expected {}, actual {}",
            expected.layout(),
            actual.layout()
        ));
    }
    let channels = usize::from(expected.channels);
    let (a, b) = (&expected.samples, &actual.samples);
    if a.is_empty() || a.len() > b.len() {
        return Ok(None);
    }
    Ok((0..=(b.len() - a.len()) / channels).find(|&frame| {
        let at = frame * channels;
        b[at..at + a.len()] == a[..]
    }))
}

/// The integer mix of `parts` (each at its frame offset) over `frames`
/// frames: the samples summed and clipped to the format's range, as the
/// audio domain's mixer does at unity gain when the output format is the
/// inputs' (silence where nothing plays). Every part must have the first
/// part's layout; floats are refused.
pub fn mix(parts: &[(Audio, usize)], frames: usize) -> Result<Audio, String> {
    let (first, _) = parts.first().ok_or("mix: no input")?;
    if first.format == WavFormat::F32 {
        return Err("mix: float inputs are not supported".into());
    }
    let channels = usize::from(first.channels);
    let bits = first.format.bits();
    let (low, high) = if first.format == WavFormat::U8 {
        (-128i64, 127i64)
    } else {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    };
    let mut sum = vec![0i64; frames * channels];
    for (part, offset) in parts {
        if !part.same_layout(first) {
            return Err(format!(
                "mix: {} differs from {}",
                part.layout(),
                first.layout()
            ));
        }
        for (index, &sample) in part.samples.iter().enumerate() {
            if let Some(total) = sum.get_mut(offset * channels + index) {
                *total += i64::from(sample);
            }
        }
    }
    Ok(Audio {
        samples: sum.iter().map(|&v| v.clamp(low, high) as i32).collect(),
        ..first.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{concat, noise};

    fn verdict(expected: &Audio, actual: &Audio, allow: Allowance) -> bool {
        compare_audio(expected, actual, allow).unwrap().0
    }

    fn below(n: usize) -> Allowance {
        Allowance {
            trailing_zero_frames_below: n,
            ..Allowance::default()
        }
    }

    #[test]
    fn compare_allows_only_a_bounded_zero_tail() {
        for format in [
            WavFormat::U8,
            WavFormat::S16,
            WavFormat::S24,
            WavFormat::S32,
            WavFormat::F32,
        ] {
            let expected = noise(format, 3, 100, 2, 48_000);
            let with_tail = |tail: &[i32]| {
                let mut a = expected.clone();
                a.samples.extend_from_slice(tail);
                a
            };
            assert!(verdict(&expected, &expected, below(0)));
            assert!(verdict(&expected, &with_tail(&[0; 20]), below(11)));
            assert!(
                !verdict(&expected, &with_tail(&[0; 20]), below(10)),
                "tail not below the limit"
            );
            assert!(
                !verdict(&expected, &with_tail(&[0; 20]), below(0)),
                "no tail allowed"
            );
            assert!(
                !verdict(&expected, &with_tail(&[0, 1]), below(11)),
                "non-zero tail"
            );
            // One sample off by one LSB (float: one ulp) is a difference.
            let mut off = expected.clone();
            off.samples[57] ^= 1;
            assert!(!verdict(&expected, &off, below(0)), "{format:?}");
        }
    }

    #[test]
    fn compare_checks_the_layout() {
        let a = noise(WavFormat::S32, 3, 100, 2, 48_000);
        let mut b = a.clone();
        b.rate = 44_100;
        assert!(!verdict(&a, &b, below(0)));
        let mut b = a.clone();
        b.format = WavFormat::S24;
        assert!(!verdict(&a, &b, below(0)));
        let mut b = a.clone();
        b.channels = 1;
        assert!(!verdict(&a, &b, below(0)));
    }

    #[test]
    fn compare_from_a_frame_checks_the_phase() {
        let expected = noise(WavFormat::S16, 5, 200, 2, 48_000);
        let part = |from: usize, to: usize| Audio {
            samples: expected.samples[from * 2..to * 2].to_vec(),
            ..expected.clone()
        };
        let from = |n: u64, early: bool| Allowance {
            expected_from: n,
            may_end_early: early,
            ..Allowance::default()
        };
        let actual = part(73, 200);
        assert!(verdict(&expected, &actual, from(73, false)));
        assert!(
            !verdict(&expected, &actual, from(72, false)),
            "one frame off"
        );
        assert!(
            !verdict(&expected, &actual, from(74, false)),
            "one frame off"
        );
        assert!(!verdict(&expected, &actual, from(0, false)));
        assert!(
            compare_audio(&expected, &actual, from(201, false)).is_err(),
            "past the end"
        );
        let actual = part(73, 150);
        assert!(!verdict(&expected, &actual, from(73, false)));
        assert!(verdict(&expected, &actual, from(73, true)));
        assert!(
            !verdict(&expected, &actual, from(72, true)),
            "one frame off"
        );
        assert!(!verdict(&expected, &part(0, 0), from(73, true)), "empty");
    }

    #[test]
    fn repeated_takes_compare_with_their_padding() {
        // Three aplay runs of 10, 7 and 10 frames with 4-frame periods.
        let takes = [
            noise(WavFormat::F32, 1, 10, 6, 48_000),
            noise(WavFormat::F32, 2, 7, 6, 48_000),
            noise(WavFormat::F32, 3, 10, 6, 48_000),
        ];
        let expected = concat(&takes, 4).unwrap();
        assert_eq!(expected.frames(), 12 + 8 + 12);
        let mut played = expected.clone();
        assert!(verdict(&expected, &played, below(0)));
        // A take that lost its padding shifts everything after it.
        let unpadded = concat(&takes, 0).unwrap();
        assert!(!verdict(&expected, &unpadded, below(0)));
        played.samples[12 * 6] ^= 1;
        assert!(!verdict(&expected, &played, below(0)));
    }

    #[test]
    fn crc_is_over_the_wire_bytes() {
        let path = std::env::temp_dir().join(format!("wavtool-crc-{}.wav", std::process::id()));
        let audio = noise(WavFormat::S24, 8, 300, 2, 48_000);
        audio.write(&path).unwrap();
        assert_eq!(
            crc32(&path, None, false).unwrap(),
            Crc32::of(&audio.wire_bytes())
        );
        let mut twice = audio.wire_bytes();
        twice.extend_from_slice(&audio.wire_bytes()[..100 * 8]);
        assert_eq!(crc32(&path, Some(400), true).unwrap(), Crc32::of(&twice));
        assert!(crc32(&path, Some(400), false).is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn locate_finds_a_signal_inside_silence_and_mix_rebuilds_it() {
        for format in [WavFormat::S16, WavFormat::S32, WavFormat::U8] {
            let signal = noise(format, 7, 300, 2, 48_000);
            for offset in [0usize, 1, 257, 1000] {
                let file = mix(&[(signal.clone(), offset)], offset + 300 + 40).unwrap();
                assert_eq!(locate(&signal, &file).unwrap(), Some(offset), "{format:?}");
                assert_eq!(file.frames(), offset + 340);
                let other = noise(format, 8, 300, 2, 48_000);
                assert_eq!(locate(&other, &file).unwrap(), None);
            }
        }
        let mono = noise(WavFormat::S16, 7, 10, 1, 48_000);
        assert!(locate(&mono, &noise(WavFormat::S16, 7, 10, 2, 48_000)).is_err());
    }

    #[test]
    fn mix_sums_and_clips_like_the_mixer() {
        let loud = Audio {
            format: WavFormat::S16,
            channels: 1,
            rate: 48_000,
            samples: vec![30_000, -30_000, 100, 5],
        };
        let mixed = mix(&[(loud.clone(), 0), (loud.clone(), 1)], 6).unwrap();
        assert_eq!(mixed.samples, vec![30_000, 0, -29_900, 105, 5, 0]);
        let doubled = mix(&[(loud.clone(), 0), (loud.clone(), 0)], 4).unwrap();
        assert_eq!(doubled.samples, vec![32_767, -32_768, 200, 10]);
        let float = Audio {
            format: WavFormat::F32,
            ..loud.clone()
        };
        assert!(mix(&[(float, 0)], 4).is_err());
        assert!(mix(&[], 4).is_err());
    }
}
