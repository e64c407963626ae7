//! Figures: scatter and line plots with confidence intervals, written as PNG
//! and SVG (plotters) with a CSV of exactly the plotted points beside them.
//!
//! Text is drawn with an embedded DejaVu Sans (analysis/assets, its licence
//! beside it), so figures render the same on a machine without fonts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Failures writing a figure.
#[derive(Debug, Error)]
pub enum FigureError {
    /// Drawing failed (backend error).
    #[error("drawing {file}: {message}")]
    Draw {
        /// The file being drawn.
        file: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Writing the CSV failed.
    #[error("writing {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Nothing to plot.
    #[error("figure {0} has no finite points")]
    Empty(String),
}

/// One plotted point; `lo`/`hi` draw an error bar (a confidence interval);
/// `note` is a short label drawn beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// x value.
    pub x: f64,
    /// y value.
    pub y: f64,
    /// Lower end of the interval, if any.
    pub lo: Option<f64>,
    /// Upper end of the interval, if any.
    pub hi: Option<f64>,
    /// A label drawn beside the point.
    #[serde(default)]
    pub note: Option<String>,
}

impl Point {
    /// A point without an interval.
    pub fn at(x: f64, y: f64) -> Self {
        Point {
            x,
            y,
            lo: None,
            hi: None,
            note: None,
        }
    }

    /// A point with its interval.
    pub fn with_ci(x: f64, y: f64, lo: f64, hi: f64) -> Self {
        Point {
            x,
            y,
            lo: Some(lo),
            hi: Some(hi),
            note: None,
        }
    }

    /// The point with `note` drawn beside it.
    pub fn noted(self, note: impl Into<String>) -> Self {
        Point {
            note: Some(note.into()),
            ..self
        }
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Style {
    /// Markers with error bars.
    Points,
    /// A line through the points (an analytic curve), with a shaded band
    /// where the points carry intervals.
    Line,
    /// A dashed reference line.
    Dashed,
}

/// A named series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Drawing style.
    pub style: Style,
    /// Its points.
    pub points: Vec<Point>,
}

/// A figure: axes with labels and units, series, and a caption for the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// File stem (`<name>.png`, `.svg`, `.csv`).
    pub name: String,
    /// Title drawn above the plot.
    pub title: String,
    /// Caption (for the report; says what the bars are).
    pub caption: String,
    /// x-axis label, with units.
    pub x_label: String,
    /// y-axis label, with units.
    pub y_label: String,
    /// The series.
    pub series: Vec<Series>,
}

/// The files a figure was written to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Written {
    /// The raster figure.
    pub png: PathBuf,
    /// The vector figure.
    pub svg: PathBuf,
    /// The plotted points.
    pub csv: PathBuf,
}

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The embedded font is a valid TrueType file; failing here would be
        // a build defect, and plotters then falls back to drawing no text.
        let ok = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok();
        assert!(ok, "embedded DejaVu Sans failed to load");
    });
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(90, 90, 90),
];

/// Writes `fig` into `dir` as PNG, SVG and CSV.
pub fn write(fig: &Figure, dir: &Path) -> Result<Written, FigureError> {
    register_font();
    let out = Written {
        png: dir.join(format!("{}.png", fig.name)),
        svg: dir.join(format!("{}.svg", fig.name)),
        csv: dir.join(format!("{}.csv", fig.name)),
    };
    let size = (900u32, 600u32);
    render(
        &BitMapBackend::new(&out.png, size).into_drawing_area(),
        fig,
        &out.png,
    )?;
    render(
        &SVGBackend::new(&out.svg, size).into_drawing_area(),
        fig,
        &out.svg,
    )?;
    std::fs::write(&out.csv, csv(fig)).map_err(|source| FigureError::Io {
        file: out.csv.clone(),
        source,
    })?;
    Ok(out)
}

/// Draws `fig` on `root` and writes it out (`file` names it in errors).
fn render<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    file: &Path,
) -> Result<(), FigureError> {
    let fail = |message: String| FigureError::Draw {
        file: file.to_owned(),
        message,
    };
    draw(root, fig).map_err(fail)?;
    root.present().map_err(|e| fail(e.to_string()))
}

/// The plotted points as CSV: `series,x,y,lo,hi,note`.
pub fn csv(fig: &Figure) -> String {
    let mut s = String::from("series,x,y,lo,hi,note\n");
    for series in &fig.series {
        for p in &series.points {
            let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            let _ = writeln!(
                s,
                "\"{}\",{},{},{},{},{}",
                series.label.replace('"', "'"),
                p.x,
                p.y,
                opt(p.lo),
                opt(p.hi),
                p.note
                    .as_ref()
                    .map(|n| format!("\"{}\"", n.replace('"', "'")))
                    .unwrap_or_default()
            );
        }
    }
    s
}

/// Axis ranges covering every point and interval, padded by 5%; with point
/// labels, the x axis gets 35% more on the right and the y axis 15% more
/// on top, so labels and the legend stay inside the plot.
fn ranges(fig: &Figure) -> Option<((f64, f64), (f64, f64))> {
    let pts = fig.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in pts {
        for x in [p.x] {
            if x.is_finite() {
                x0 = x0.min(x);
                x1 = x1.max(x);
            }
        }
        for y in [Some(p.y), p.lo, p.hi].into_iter().flatten() {
            if y.is_finite() {
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    if x0 > x1 || y0 > y1 {
        return None;
    }
    let pad = |a: f64, b: f64| {
        let d = if b > a {
            (b - a) * 0.05
        } else {
            a.abs().max(1.0) * 0.05
        };
        (a - d, b + d)
    };
    let (xr, yr) = (pad(x0, x1), pad(y0, y1));
    let noted = fig
        .series
        .iter()
        .any(|s| s.points.iter().any(|p| p.note.is_some()));
    if noted {
        let (w, h) = (xr.1 - xr.0, yr.1 - yr.0);
        return Some(((xr.0, xr.1 + 0.35 * w), (yr.0, yr.1 + 0.15 * h)));
    }
    Some((xr, yr))
}

/// Samples along each drawn segment of a line series, so that a legend
/// is not placed over a line that has no point under it.
const SEGMENT_SAMPLES: usize = 16;

/// What a legend box would cover, as weighted positions: a point weighs
/// [`SEGMENT_SAMPLES`] (a noted one three times that), each sample along a
/// line or dashed segment one.
fn covered_positions(fig: &Figure) -> Vec<(f64, f64, usize)> {
    let mut out = Vec::new();
    for s in &fig.series {
        for p in &s.points {
            let weight = if p.note.is_some() { 3 } else { 1 };
            out.push((p.x, p.y, weight * SEGMENT_SAMPLES));
        }
        if matches!(s.style, Style::Line | Style::Dashed) {
            for pair in s.points.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                for k in 0..SEGMENT_SAMPLES {
                    let t = (k as f64 + 0.5) / SEGMENT_SAMPLES as f64;
                    out.push((a.x + t * (b.x - a.x), a.y + t * (b.y - a.y), 1));
                }
            }
        }
    }
    out
}

/// The place the legend covers fewest points, labels and line segments
/// in: a corner, or the middle of a side, each a box of 40% of the width
/// and 30% of the height; ties go to the earlier (upper left first).
fn legend_corner(fig: &Figure, (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> SeriesLabelPosition {
    let (w, h) = (x1 - x0, y1 - y0);
    let corners = [
        (SeriesLabelPosition::UpperLeft, x0, y1 - 0.3 * h),
        (SeriesLabelPosition::UpperRight, x1 - 0.4 * w, y1 - 0.3 * h),
        (SeriesLabelPosition::LowerRight, x1 - 0.4 * w, y0),
        (SeriesLabelPosition::LowerLeft, x0, y0),
        (
            SeriesLabelPosition::MiddleRight,
            x1 - 0.4 * w,
            y0 + 0.35 * h,
        ),
        (SeriesLabelPosition::MiddleLeft, x0, y0 + 0.35 * h),
    ];
    let inside = |bx: f64, by: f64, x: f64, y: f64| {
        x >= bx && x <= bx + 0.4 * w && y >= by && y <= by + 0.3 * h
    };
    let positions = covered_positions(fig);
    let covered = |bx: f64, by: f64| {
        positions
            .iter()
            .filter(|(x, y, _)| inside(bx, by, *x, *y))
            .map(|(_, _, weight)| weight)
            .sum::<usize>()
    };
    let mut best = (usize::MAX, SeriesLabelPosition::UpperLeft);
    for (pos, bx, by) in corners {
        let n = covered(bx, by);
        if n < best.0 {
            best = (n, pos);
        }
    }
    best.1
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let ((x0, x1), (y0, y1)) = ranges(fig).ok_or_else(|| format!("{}: no points", fig.name))?;
    let mut chart = ChartBuilder::on(root)
        .caption(&fig.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(fig.y_label.as_str())
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;
    for (i, s) in fig.series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.x.is_finite() && p.y.is_finite())
            .map(|p| (p.x, p.y))
            .collect();
        let anno = match s.style {
            Style::Points => {
                for p in &s.points {
                    if let (Some(lo), Some(hi)) = (p.lo, p.hi)
                        && lo.is_finite()
                        && hi.is_finite()
                    {
                        let cap = (x1 - x0) * 0.006;
                        chart
                            .draw_series([
                                PathElement::new(vec![(p.x, lo), (p.x, hi)], c.stroke_width(2)),
                                PathElement::new(vec![(p.x - cap, lo), (p.x + cap, lo)], c),
                                PathElement::new(vec![(p.x - cap, hi), (p.x + cap, hi)], c),
                            ])
                            .map_err(e)?;
                    }
                }
                chart
                    .draw_series(s.points.iter().filter_map(|p| {
                        let n = p.note.as_ref()?;
                        Some(Text::new(
                            n.clone(),
                            (p.x, p.y),
                            ("sans-serif", 13).into_font().color(&BLACK),
                        ))
                    }))
                    .map_err(e)?;
                chart
                    .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 4, c.filled())))
                    .map_err(e)?
            }
            Style::Line | Style::Dashed => {
                let band: Vec<(f64, f64, f64)> = s
                    .points
                    .iter()
                    .filter_map(|p| Some((p.x, p.lo?, p.hi?)))
                    .collect();
                if band.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> =
                        band.iter().map(|&(x, lo, _)| (x, lo)).collect();
                    poly.extend(band.iter().rev().map(|&(x, _, hi)| (x, hi)));
                    chart
                        .draw_series([Polygon::new(poly, c.mix(0.18).filled())])
                        .map_err(e)?;
                }
                if s.style == Style::Dashed {
                    chart
                        .draw_series(DashedLineSeries::new(pts.clone(), 8, 5, c.stroke_width(2)))
                        .map_err(e)?
                } else {
                    chart
                        .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                        .map_err(e)?
                }
            }
        };
        anno.label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(legend_corner(fig, (x0, x1), (y0, y1)))
        .draw()
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Figure {
        Figure {
            name: "t".into(),
            title: "A test".into(),
            caption: "Bars are 95% CIs.".into(),
            x_label: "m·g".into(),
            y_label: "P(link)".into(),
            series: vec![
                Series {
                    label: "measured".into(),
                    style: Style::Points,
                    points: vec![
                        Point::with_ci(0.1, 0.12, 0.08, 0.15).noted("a"),
                        Point::at(0.2, 0.2),
                    ],
                },
                Series {
                    label: "y = x".into(),
                    style: Style::Dashed,
                    points: vec![Point::at(0.0, 0.0), Point::at(0.3, 0.3)],
                },
            ],
        }
    }

    #[test]
    fn csv_holds_exactly_the_plotted_points() {
        let c = csv(&sample());
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines[0], "series,x,y,lo,hi,note");
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[1], "\"measured\",0.1,0.12,0.08,0.15,\"a\"");
        assert_eq!(lines[2], "\"measured\",0.2,0.2,,,");
    }

    #[test]
    fn the_legend_avoids_lines_that_have_no_point_under_it() {
        // A line across the top and a dashed target along the bottom, as in
        // the scaling study's memory figure: every corner holds a segment.
        let line = |label: &str, style, y0: f64, y1: f64| Series {
            label: label.into(),
            style,
            points: vec![Point::at(0.0, y0), Point::at(10.0, y1)],
        };
        let fig = Figure {
            series: vec![
                line("measured", Style::Line, 170.0, 185.0),
                line("target", Style::Dashed, 50.0, 50.0),
            ],
            ..sample()
        };
        let pos = legend_corner(&fig, (-0.5, 10.5), (40.0, 190.0));
        assert!(
            matches!(
                pos,
                SeriesLabelPosition::MiddleLeft | SeriesLabelPosition::MiddleRight
            ),
            "{pos:?}"
        );
        // With the middle band taken, a free corner still wins.
        let mut busy = fig;
        busy.series.push(line("middle", Style::Line, 110.0, 110.0));
        busy.series[0].points = vec![Point::at(0.0, 170.0), Point::at(5.0, 175.0)];
        let pos = legend_corner(&busy, (-0.5, 10.5), (40.0, 190.0));
        assert!(matches!(pos, SeriesLabelPosition::UpperRight), "{pos:?}");
    }

    #[test]
    fn an_empty_figure_is_an_error_not_a_panic() {
        let mut f = sample();
        f.series.clear();
        let dir = std::env::temp_dir().join(format!("p2p-fig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or(());
        assert!(write(&f, &dir).is_err());
    }
}
