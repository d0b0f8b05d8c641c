//! Charts as PNG (plotters, bitmap backend): axes with units, titles and
//! legends. Text uses DejaVu Sans from the `dejavu` crate through
//! plotters' `ab_glyph` renderer, so nothing depends on the system's fonts
//! (no fontconfig, no freetype).
//!
//! - [`waveform_and_spectrum`]: what `wavtool plot` draws.
//! - [`underruns`]: underruns against buffer size, one line per system
//!   (`wavtool underruns`, for `make bench`); input schema in
//!   [`UnderrunRow`] / [`read_underrun_rows`].
#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

/// The font family every chart uses.
const FONT: &str = "sans-serif";

/// Register the bundled font with plotters (once per process).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Registering only fails for bytes that are not a font; these are
        // the crate's own TTF.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn failed<E: std::error::Error + Send + Sync>(
    what: &str,
) -> impl Fn(DrawingAreaErrorKind<E>) -> String + '_ {
    move |e| format!("drawing {what}: {e}")
}

/// Series colours, in order (colour-blind friendly: blue, orange, green,
/// purple, brown).
const PALETTE: [RGBColor; 5] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(120, 80, 40),
];

/// Time axis: milliseconds below 2 s, seconds above.
fn time_unit(seconds: f64) -> (&'static str, f64) {
    if seconds < 2.0 {
        ("ms", 1000.0)
    } else {
        ("s", 1.0)
    }
}

/// Frequency tick label: Hz below 1 kHz, kHz above.
fn frequency_label(hz: &f64) -> String {
    if hz.abs() >= 1000.0 {
        format!("{:.1} kHz", hz / 1000.0)
    } else {
        format!("{hz:.0} Hz")
    }
}

/// Amplitude tick label (no "-0.0" for a tick a rounding error below 0).
fn amplitude_label(v: &f64) -> String {
    format!("{:.1}", if v.abs() < 1e-6 { 0.0 } else { *v })
}

/// What [`waveform_and_spectrum`] draws.
pub struct Waveform<'a> {
    /// Title of the whole picture (e.g. the file name).
    pub title: &'a str,
    /// Frames per second.
    pub rate: u32,
    /// The start (the first 20 ms), one series per channel: (name, samples in full scale).
    pub start: Vec<(String, Vec<f32>)>,
    /// The whole file, mono: samples in full scale.
    pub mono: &'a [f32],
    /// Spectrum of the mono signal: level in dBFS per bin, bins from 0 to rate/2.
    pub spectrum: &'a [f32],
    /// The dominant frequency in Hz (marked on the spectrum).
    pub dominant_hz: f32,
}

/// Three panels: the start sample by sample (per channel), the envelope of
/// the whole file (peak and RMS per column) and the spectrum.
pub fn waveform_and_spectrum(picture: &Waveform, out: &Path) -> Result<(), String> {
    register_font();
    let (width, height) = (1200u32, 1000u32);
    let root = BitMapBackend::new(out, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(failed("background"))?;
    let root = root
        .titled(picture.title, (FONT, 24))
        .map_err(failed("title"))?;
    let panels = root.split_evenly((3, 1));
    start_panel(&panels[0], picture)?;
    envelope_panel(&panels[1], picture)?;
    spectrum_panel(&panels[2], picture)?;
    root.present().map_err(failed(&out.display().to_string()))?;
    Ok(())
}

fn start_panel(area: &DrawingArea<BitMapBackend, Shift>, p: &Waveform) -> Result<(), String> {
    let frames = p
        .start
        .iter()
        .map(|(_, s)| s.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let seconds = frames as f64 / f64::from(p.rate.max(1));
    let (unit, scale) = time_unit(seconds);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Start: first {:.0} ms, sample by sample", seconds * 1000.0),
            (FONT, 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..seconds * scale, -1.05f64..1.05f64)
        .map_err(failed("start panel"))?;
    chart
        .configure_mesh()
        .x_desc(format!("time ({unit})"))
        .y_desc("amplitude (full scale)")
        .y_label_formatter(&amplitude_label)
        .label_style((FONT, 13))
        .draw()
        .map_err(failed("start axes"))?;
    let dt = scale / f64::from(p.rate.max(1));
    for (index, (name, samples)) in p.start.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                samples
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (i as f64 * dt, f64::from(v))),
                colour.stroke_width(2),
            ))
            .map_err(failed("start series"))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    if p.start.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(failed("start legend"))?;
    }
    Ok(())
}

fn envelope_panel(area: &DrawingArea<BitMapBackend, Shift>, p: &Waveform) -> Result<(), String> {
    let columns = 1000usize;
    let seconds = p.mono.len() as f64 / f64::from(p.rate.max(1));
    let (unit, scale) = time_unit(seconds);
    let per_column = p.mono.len().div_ceil(columns).max(1);
    let column_time = per_column as f64 / f64::from(p.rate.max(1)) * scale;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Envelope of the whole file ({seconds:.2} s)"),
            (FONT, 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..(seconds * scale).max(1e-9), -1.05f64..1.05f64)
        .map_err(failed("envelope panel"))?;
    chart
        .configure_mesh()
        .x_desc(format!("time ({unit})"))
        .y_desc("amplitude (full scale)")
        .y_label_formatter(&amplitude_label)
        .label_style((FONT, 13))
        .draw()
        .map_err(failed("envelope axes"))?;
    let peak = PALETTE[0];
    chart
        .draw_series(p.mono.chunks(per_column).enumerate().map(|(i, column)| {
            let lo = column.iter().copied().fold(f32::MAX, f32::min);
            let hi = column.iter().copied().fold(f32::MIN, f32::max);
            let x = i as f64 * column_time;
            // A filled bar as wide as the column: one-pixel lines left
            // empty pixel columns between them, which read as aliasing.
            Rectangle::new(
                [(x, f64::from(hi)), (x + column_time, f64::from(lo))],
                peak.filled(),
            )
        }))
        .map_err(failed("envelope"))?
        .label("min..max per column")
        .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 20, y + 4)], peak.filled()));
    let rms = PALETTE[1];
    let rms_of = |column: &[f32]| {
        let sum: f64 = column.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        (sum / column.len().max(1) as f64).sqrt()
    };
    chart
        .draw_series(LineSeries::new(
            p.mono
                .chunks(per_column)
                .enumerate()
                .map(|(i, column)| (i as f64 * column_time, rms_of(column))),
            rms.stroke_width(2),
        ))
        .map_err(failed("rms"))?
        .label("RMS per column")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], rms.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(failed("envelope legend"))?;
    Ok(())
}

fn spectrum_panel(area: &DrawingArea<BitMapBackend, Shift>, p: &Waveform) -> Result<(), String> {
    let nyquist = f64::from(p.rate.max(2)) / 2.0;
    let bins = p.spectrum.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Spectrum (Hann window, {} points), dominant {}",
                2 * bins,
                frequency_label(&f64::from(p.dominant_hz))
            ),
            (FONT, 18),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..nyquist, -120f64..6f64)
        .map_err(failed("spectrum panel"))?;
    chart
        .configure_mesh()
        .x_desc("frequency")
        .y_desc("level (dBFS)")
        .x_label_formatter(&frequency_label)
        .label_style((FONT, 13))
        .draw()
        .map_err(failed("spectrum axes"))?;
    let colour = RGBColor(200, 60, 40);
    chart
        .draw_series(LineSeries::new(
            p.spectrum.iter().enumerate().map(|(k, &db)| {
                (
                    k as f64 * nyquist / bins as f64,
                    f64::from(db).clamp(-120.0, 6.0),
                )
            }),
            colour.stroke_width(1),
        ))
        .map_err(failed("spectrum"))?;
    Ok(())
}

/// One measurement of the underrun bench: `system` played `seconds` of
/// audio through a `buffer_ms` buffer and the backend counted `underruns`.
///
/// The input of [`read_underrun_rows`] is JSON, either an array of rows or
/// an object with the rows under `"rows"` and an optional `"title"`:
/// ```json
/// { "title": "underruns under a dom0 CPU hog, 30 s each",
///   "rows": [ { "system": "xensnd", "buffer_ms": 5, "period_ms": 2.5,
///               "underruns": 12, "seconds": 30, "load": "dom0 hog" },
///             { "system": "linux", "buffer_ms": 5, "underruns": 40 } ] }
/// ```
/// `system` (string), `buffer_ms` (a number above 0) and `underruns` (a
/// number, 0 or more) are required; `period_ms`, `seconds` (numbers) and `load`
/// (string) are optional. One line is drawn per distinct `system` and
/// `load` (the legend says which), points sorted by buffer size; a run
/// that did not complete can be left out or given `"underruns": null`
/// (skipped).
#[derive(Debug, Clone, PartialEq)]
pub struct UnderrunRow {
    /// Who played: `xensnd`, `linux`, ...
    pub system: String,
    /// The load the run was under, if the rows say.
    pub load: Option<String>,
    /// Buffer size in milliseconds.
    pub buffer_ms: f64,
    /// Period size in milliseconds, if known.
    pub period_ms: Option<f64>,
    /// Underruns counted.
    pub underruns: f64,
    /// Seconds played, if known.
    pub seconds: Option<f64>,
}

/// Parse the rows (schema at [`UnderrunRow`]); returns the title (if any)
/// and the rows.
pub fn read_underrun_rows(text: &str) -> Result<(Option<String>, Vec<UnderrunRow>), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("underrun rows: {e}"))?;
    let (title, rows) = match &value {
        serde_json::Value::Array(rows) => (None, rows),
        serde_json::Value::Object(object) => (
            object
                .get("title")
                .and_then(|t| t.as_str())
                .map(str::to_string),
            object
                .get("rows")
                .and_then(|r| r.as_array())
                .ok_or("underrun rows: an object needs an array \"rows\"")?,
        ),
        _ => return Err("underrun rows: expected an array or an object".to_string()),
    };
    let mut parsed = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let field = |name: &str| row.get(name).filter(|v| !v.is_null());
        let system = field("system")
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("row {index}: \"system\" (string) missing"))?;
        let buffer_ms = field("buffer_ms")
            .and_then(|v| v.as_f64())
            .filter(|v| *v > 0.0 && v.is_finite())
            .ok_or_else(|| format!("row {index}: \"buffer_ms\" (number > 0) missing"))?;
        let Some(underruns) = field("underruns") else {
            continue;
        };
        let underruns = underruns
            .as_f64()
            .filter(|v| *v >= 0.0 && v.is_finite())
            .ok_or_else(|| format!("row {index}: \"underruns\" is not a number >= 0"))?;
        parsed.push(UnderrunRow {
            system: system.to_string(),
            load: field("load").and_then(|v| v.as_str()).map(str::to_string),
            buffer_ms,
            period_ms: field("period_ms").and_then(|v| v.as_f64()),
            underruns,
            seconds: field("seconds").and_then(|v| v.as_f64()),
        });
    }
    if parsed.is_empty() {
        return Err("underrun rows: no row with a count".to_string());
    }
    Ok((title, parsed))
}

/// The series of [`underruns`]: (legend name, points sorted by buffer size).
pub fn underrun_series(rows: &[UnderrunRow]) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for row in rows {
        let name = match &row.load {
            Some(load) => format!("{} ({load})", row.system),
            None => row.system.clone(),
        };
        let point = (row.buffer_ms, row.underruns);
        match series.iter_mut().find(|(n, _)| *n == name) {
            Some((_, points)) => points.push(point),
            None => series.push((name, vec![point])),
        }
    }
    for (_, points) in &mut series {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

/// The y axis's label: the run length to the second (runs differ by a
/// fraction of a second: a guest's last period, its drain), or the range
/// when the runs were of different lengths.
pub fn underrun_axis_label(rows: &[UnderrunRow]) -> String {
    let seconds = rows.iter().filter_map(|r| r.seconds).map(f64::round);
    let shortest = seconds.clone().reduce(f64::min);
    let longest = seconds.reduce(f64::max);
    match (shortest, longest) {
        (Some(s), Some(l)) if s == l => format!("underruns in {s:.0} s"),
        (Some(s), Some(l)) => format!("underruns in {s:.0}-{l:.0} s"),
        _ => "underruns".to_string(),
    }
}

/// Draw underruns against buffer size (log scale, ms), one line with
/// markers per system, into a `width` x `height` PNG.
pub fn underruns(
    title: Option<&str>,
    rows: &[UnderrunRow],
    out: &Path,
    (width, height): (u32, u32),
) -> Result<(), String> {
    register_font();
    let series = underrun_series(rows);
    let smallest = rows.iter().map(|r| r.buffer_ms).fold(f64::MAX, f64::min);
    let largest = rows.iter().map(|r| r.buffer_ms).fold(f64::MIN, f64::max);
    let most = rows.iter().map(|r| r.underruns).fold(0.0, f64::max);
    let y_desc = underrun_axis_label(rows);
    // One x tick per buffer size measured: a log axis's own ticks skip some.
    let mut sizes: Vec<f64> = rows.iter().map(|r| r.buffer_ms).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let root = BitMapBackend::new(out, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(failed("background"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title.unwrap_or("Underruns against buffer size"), (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(
            ((smallest * 0.8)..(largest * 1.25))
                .log_scale()
                .with_key_points(sizes),
            0f64..(most * 1.15).max(1.0),
        )
        .map_err(failed("underrun chart"))?;
    chart
        .configure_mesh()
        .x_desc("buffer size (ms, log scale)")
        .y_desc(y_desc)
        .x_label_formatter(&|ms| format!("{ms}"))
        .y_label_formatter(&|n| format!("{n:.0}"))
        .label_style((FONT, 14))
        .draw()
        .map_err(failed("underrun axes"))?;
    for (index, (name, points)) in series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(failed("underrun line"))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&point| Circle::new(point, 4, colour.filled())),
            )
            .map_err(failed("underrun points"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(failed("underrun legend"))?;
    root.present().map_err(failed(&out.display().to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"{ "title": "fixture",
      "rows": [
        { "system": "xensnd", "buffer_ms": 10, "period_ms": 5, "underruns": 0, "seconds": 30 },
        { "system": "xensnd", "buffer_ms": 5, "period_ms": 2.5, "underruns": 3, "seconds": 30 },
        { "system": "linux", "buffer_ms": 5, "underruns": 41, "seconds": 30 },
        { "system": "linux", "buffer_ms": 20, "underruns": 2, "seconds": 30 },
        { "system": "linux", "buffer_ms": 10, "underruns": 17, "seconds": 30 },
        { "system": "linux", "buffer_ms": 40, "underruns": null }
      ] }"#;

    /// Width, height and whether any pixel of `rgb` is in the PNG.
    fn decode(path: &Path, rgb: RGBColor) -> (u32, u32, bool) {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let stride = info.line_size / info.width as usize;
        let found = pixels[..info.buffer_size()]
            .chunks(stride)
            .any(|p| p[..3] == [rgb.0, rgb.1, rgb.2]);
        (info.width, info.height, found)
    }

    #[test]
    fn rows_parse_with_series_per_system_sorted_by_buffer() {
        let (title, rows) = read_underrun_rows(FIXTURE).unwrap();
        assert_eq!(title.as_deref(), Some("fixture"));
        assert_eq!(rows.len(), 5, "the null count is skipped");
        let series = underrun_series(&rows);
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].0, "xensnd");
        assert_eq!(series[0].1, vec![(5.0, 3.0), (10.0, 0.0)]);
        assert_eq!(series[1].1, vec![(5.0, 41.0), (10.0, 17.0), (20.0, 2.0)]);
        // A bare array works too; a load splits the series.
        let (_, rows) = read_underrun_rows(
            r#"[{"system":"xensnd","buffer_ms":5,"underruns":1,"load":"dom0 hog"},
                {"system":"xensnd","buffer_ms":5,"underruns":2,"load":"busy guest"}]"#,
        )
        .unwrap();
        let names: Vec<String> = underrun_series(&rows).into_iter().map(|s| s.0).collect();
        assert_eq!(names, ["xensnd (dom0 hog)", "xensnd (busy guest)"]);
    }

    #[test]
    fn bad_rows_are_refused_with_the_row_named() {
        for (text, needle) in [
            ("{}", "rows"),
            ("[]", "no row"),
            (r#"[{"buffer_ms":5,"underruns":1}]"#, "row 0: \"system\""),
            (
                r#"[{"system":"x","buffer_ms":0,"underruns":1}]"#,
                "buffer_ms",
            ),
            (
                r#"[{"system":"x","buffer_ms":5,"underruns":-1}]"#,
                "underruns",
            ),
            ("3", "array or an object"),
        ] {
            let error = read_underrun_rows(text).unwrap_err();
            assert!(error.contains(needle), "{text}: {error}");
        }
    }

    #[test]
    fn the_axis_label_gives_the_run_length_to_the_second() {
        let row = |seconds: Option<f64>| UnderrunRow {
            system: "xensnd".to_string(),
            load: None,
            buffer_ms: 10.0,
            period_ms: None,
            underruns: 0.0,
            seconds,
        };
        for (lengths, label) in [
            (
                vec![Some(30.0), Some(30.02), Some(30.4)],
                "underruns in 30 s",
            ),
            (vec![Some(10.0), None, Some(29.8)], "underruns in 10-30 s"),
            (vec![None, None], "underruns"),
        ] {
            let rows: Vec<UnderrunRow> = lengths.into_iter().map(row).collect();
            assert_eq!(underrun_axis_label(&rows), label);
        }
    }

    #[test]
    fn underrun_chart_decodes_at_its_size_with_both_lines() {
        let dir = std::env::temp_dir().join(format!("wavtool-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (title, rows) = read_underrun_rows(FIXTURE).unwrap();
        for size in [(640, 400), (1000, 600)] {
            let out = dir.join(format!("underruns-{}x{}.png", size.0, size.1));
            underruns(title.as_deref(), &rows, &out, size).unwrap();
            for colour in [PALETTE[0], PALETTE[1]] {
                let (width, height, found) = decode(&out, colour);
                assert_eq!((width, height), size);
                assert!(found, "series colour {colour:?} drawn");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn waveform_picture_decodes_with_every_panel() {
        let dir = std::env::temp_dir().join(format!("wavtool-wave-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rate = 8000;
        let mono: Vec<f32> = (0..rate)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin() * 0.5)
            .collect();
        let spectrum: Vec<f32> = (0..512)
            .map(|k| if k == 56 { -6.0 } else { -100.0 })
            .collect();
        let out = dir.join("wave.png");
        waveform_and_spectrum(
            &Waveform {
                title: "test",
                rate,
                start: vec![
                    ("left".into(), mono[..160].to_vec()),
                    ("right".into(), mono[..160].iter().map(|v| -v).collect()),
                ],
                mono: &mono,
                spectrum: &spectrum,
                dominant_hz: 437.5,
            },
            &out,
        )
        .unwrap();
        for colour in [PALETTE[0], PALETTE[1], RGBColor(200, 60, 40)] {
            let (width, height, found) = decode(&out, colour);
            assert_eq!((width, height), (1200, 1000));
            assert!(found, "{colour:?} drawn");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
