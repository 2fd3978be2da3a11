//! The call's timeline plot: where the shouting was, at a glance.
//!
//! Three panels over one time axis: both voices' loudness, both voices' F0,
//! and lanes for customer shouting, the cues (step number and whether the
//! agent said it) and, with private events included, the agent's own
//! shouting and nudges. Customer and agent differ in colour *and* in the
//! legend and lane names, so the plot reads without colour too.
//!
//! The series are decimated to one point per 100 ms while the call runs
//! (loudness: the bucket's maximum, F0: the mean of its voiced hops), so a
//! plot costs the same few milliseconds however fine the analysis is.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::row::CueCell;
use super::QaError;
use shoutcue_core::coach::{CoachEvent, NudgeKind};
use shoutcue_core::detector::{HopReport, SegmentEvent, Speaker};
use shoutcue_core::engine::Event;
use shoutcue_core::engine::Observer;
use shoutcue_core::features::Features;

/// Width of the PNG plot, pixels.
pub const PLOT_WIDTH: u32 = 1200;
/// Height of the PNG plot, pixels.
pub const PLOT_HEIGHT: u32 = 600;

/// Hops per plotted point: 10 × 10 ms = 100 ms.
const HOPS_PER_POINT: u32 = 10;
/// Loudness axis floor, LUFS; quieter hops (and silence's -inf) sit on it.
const LUFS_FLOOR: f32 = -60.0;
/// F0 axis top, Hz (a shouting soprano stays below).
const F0_TOP: f64 = 500.0;
/// Width of the y label area, the same in every panel so the time axes line up.
const Y_LABELS_W: u32 = 170;
/// Right margin of every panel.
const MARGIN_R: u32 = 16;
/// Where the time axis starts and ends in the plot, pixels from the left:
/// the call page maps a click on the plot to a time with these.
pub const PLOT_X0: u32 = Y_LABELS_W;
/// See [`PLOT_X0`].
pub const PLOT_X1: u32 = PLOT_WIDTH - MARGIN_R;

const CUSTOMER: RGBColor = RGBColor(200, 30, 30);
const AGENT: RGBColor = RGBColor(30, 90, 200);
const CUE: RGBColor = RGBColor(20, 20, 20);

/// One plotted point; NaN where there is nothing to draw.
#[derive(Debug, Clone, Copy)]
struct Point {
    t: f64,
    c_lufs: f32,
    c_f0: f32,
    a_lufs: f32,
    a_f0: f32,
}

/// Running bucket of [`HOPS_PER_POINT`] hops.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    n: u32,
    t0: f64,
    c_lufs: f32,
    c_f0_sum: f32,
    c_f0_n: u32,
    a_lufs: f32,
    a_f0_sum: f32,
    a_f0_n: u32,
}

impl Bucket {
    fn point(&self, has_agent: bool) -> Point {
        let mean = |s: f32, n: u32| if n > 0 { s / n as f32 } else { f32::NAN };
        // Silence (at the floor) is a gap, not a line along the axis.
        let level = |l: f32| if l > LUFS_FLOOR { l } else { f32::NAN };
        Point {
            t: self.t0 + 0.5 * (self.n.saturating_sub(1)) as f64 * 0.01,
            c_lufs: level(self.c_lufs),
            c_f0: mean(self.c_f0_sum, self.c_f0_n),
            a_lufs: if has_agent {
                level(self.a_lufs)
            } else {
                f32::NAN
            },
            a_f0: mean(self.a_f0_sum, self.a_f0_n),
        }
    }
}

/// Collects what the plot needs while the call is replayed (an [`Observer`]).
///
/// Sized from the call's declared length up front, so the per-hop path
/// only adds to a bucket and, every tenth hop, to a reserved vector.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    has_agent: bool,
    include_private: bool,
    points: Vec<Point>,
    bucket: Bucket,
    cust_spans: Vec<(f64, f64)>,
    agent_spans: Vec<(f64, f64)>,
    open_cust: Option<f64>,
    open_agent: Option<f64>,
    cues: Vec<f64>,
    nudges: Vec<(f64, NudgeKind)>,
    end_s: f64,
    /// Hops of speech on each side (customer, agent): who holds the floor.
    speech_hops: (u64, u64),
}

impl Timeline {
    /// A timeline for a call of about `expected_s` seconds.
    pub fn new(expected_s: f64, has_agent: bool, include_private: bool) -> Self {
        let points = (expected_s.max(0.0) * 10.0) as usize + 16;
        Self {
            has_agent,
            include_private,
            points: Vec::with_capacity(points.min(1 << 22)),
            bucket: Bucket::default(),
            cust_spans: Vec::with_capacity(32),
            agent_spans: Vec::with_capacity(32),
            open_cust: None,
            open_agent: None,
            cues: Vec::with_capacity(16),
            nudges: Vec::with_capacity(16),
            end_s: 0.0,
            speech_hops: (0, 0),
        }
    }

    /// The call ended at `end_s`: flush the last bucket, close open spans.
    pub fn finish(&mut self, end_s: f64) {
        if self.bucket.n > 0 {
            self.points.push(self.bucket.point(self.has_agent));
            self.bucket = Bucket::default();
        }
        self.end_s = end_s.max(self.points.last().map_or(0.0, |p| p.t));
        if let Some(s) = self.open_cust.take() {
            self.cust_spans.push((s, self.end_s));
        }
        if let Some(s) = self.open_agent.take() {
            self.agent_spans.push((s, self.end_s));
        }
    }

    /// The agent's nudges (empty unless private events are included).
    pub fn nudges(&self) -> &[(f64, NudgeKind)] {
        &self.nudges
    }

    /// Seconds of speech on each side (customer, agent), for the
    /// swapped-channels check; the agent's figure never reaches a report.
    pub fn speech_s(&self) -> (f64, f64) {
        let hop_s = shoutcue_core::HOP as f64 / shoutcue_core::ANALYSIS_RATE as f64;
        (
            self.speech_hops.0 as f64 * hop_s,
            self.speech_hops.1 as f64 * hop_s,
        )
    }

    /// The agent's shouting spans (empty unless private events are included).
    pub fn agent_spans(&self) -> &[(f64, f64)] {
        &self.agent_spans
    }
}

fn lufs(f: &Features) -> f32 {
    if f.loudness_lufs.is_finite() {
        f.loudness_lufs.max(LUFS_FLOOR)
    } else {
        LUFS_FLOOR
    }
}

impl Observer for Timeline {
    fn hop(&mut self, _report: &HopReport, c: &Features, a: Option<&Features>) {
        let b = &mut self.bucket;
        if b.n == 0 {
            *b = Bucket {
                t0: c.t,
                c_lufs: LUFS_FLOOR,
                a_lufs: LUFS_FLOOR,
                ..Bucket::default()
            };
        }
        b.n += 1;
        self.speech_hops.0 += u64::from(c.speech);
        self.speech_hops.1 += u64::from(a.is_some_and(|a| a.speech));
        b.c_lufs = b.c_lufs.max(lufs(c));
        if c.voiced && c.f0_hz > 0.0 {
            b.c_f0_sum += c.f0_hz;
            b.c_f0_n += 1;
        }
        if let Some(a) = a {
            b.a_lufs = b.a_lufs.max(lufs(a));
            if a.voiced && a.f0_hz > 0.0 {
                b.a_f0_sum += a.f0_hz;
                b.a_f0_n += 1;
            }
        }
        if b.n == HOPS_PER_POINT {
            let p = b.point(self.has_agent);
            self.points.push(p);
            self.bucket.n = 0;
        }
    }

    fn event(&mut self, _decided_at: f64, ev: &Event) {
        match *ev {
            Event::Segment(SegmentEvent::ShoutStart { t, speaker, .. }) => match speaker {
                Speaker::Customer => self.open_cust = Some(t),
                Speaker::Agent if self.include_private => self.open_agent = Some(t),
                Speaker::Agent => {}
            },
            Event::Segment(SegmentEvent::ShoutEnd {
                t,
                speaker,
                duration,
                ..
            }) => match speaker {
                Speaker::Customer => {
                    let s = self.open_cust.take().unwrap_or(t - duration);
                    self.cust_spans.push((s, t));
                }
                Speaker::Agent if self.include_private => {
                    let s = self.open_agent.take().unwrap_or(t - duration);
                    self.agent_spans.push((s, t));
                }
                Speaker::Agent => {}
            },
            Event::Coach(CoachEvent::Cue { t, .. }) => self.cues.push(t),
            Event::Coach(CoachEvent::AgentNudge { t, kind }) if self.include_private => {
                self.nudges.push((t, kind))
            }
            _ => {}
        }
    }
}

/// Registers a TrueType font for the labels, once per process.
///
/// plotters is built without its system-font feature (no fontconfig or
/// freetype to install); it renders with `ab_glyph` from a font we hand it:
/// `SHOUTCUE_FONT`, else Debian's DejaVu Sans (`fonts-dejavu-core`).
pub(crate) fn load_font() -> Result<(), QaError> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    let r = FONT.get_or_init(|| {
        let mut tried = Vec::new();
        let candidates = std::env::var_os("SHOUTCUE_FONT")
            .map(std::path::PathBuf::from)
            .into_iter()
            .chain(
                [
                    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/TTF/DejaVuSans.ttf",
                    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
                ]
                .map(std::path::PathBuf::from),
            );
        for p in candidates {
            tried.push(p.display().to_string());
            if let Ok(bytes) = std::fs::read(&p) {
                // plotters keeps fonts for the whole process: leak the one copy.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(tried.join(", "))
    });
    r.clone().map_err(|tried| QaError::NoFont { tried })
}

/// Draws the timeline as PNG ([`PLOT_WIDTH`] × [`PLOT_HEIGHT`]) and SVG.
pub(crate) fn draw(
    tl: &Timeline,
    cues: &[CueCell],
    title: &str,
    png: &Path,
    svg: &Path,
) -> Result<(), String> {
    let size = (PLOT_WIDTH, PLOT_HEIGHT);
    let mut rgb = vec![0u8; PLOT_WIDTH as usize * PLOT_HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        render(&root, tl, cues, title).map_err(|e| format!("{}: plot: {e}", png.display()))?;
        root.present()
            .map_err(|e| format!("{}: plot: {e}", png.display()))?;
    }
    write_png(png, &rgb).map_err(|e| format!("{}: cannot write plot: {e}", png.display()))?;
    let root = SVGBackend::new(svg, size).into_drawing_area();
    render(&root, tl, cues, title).map_err(|e| format!("{}: plot: {e}", svg.display()))?;
    root.present()
        .map_err(|e| format!("{}: cannot write plot: {e}", svg.display()))
}

/// Encodes the RGB buffer with fast deflate and the `Sub` row filter only.
/// The `image` crate's defaults (adaptive filters, default compression)
/// made PNG encoding over half the cost of a plot; measured on 140 calls:
/// 2.09 s CPU and ~180 kB per plot against 3.3-3.6 s and ~50 kB for
/// default compression (no filter: 1.2 MB).
fn write_png(path: &Path, rgb: &[u8]) -> Result<(), png::EncodingError> {
    let w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(w, PLOT_WIDTH, PLOT_HEIGHT);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    enc.set_filter(png::FilterType::Sub);
    enc.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()
}

/// Splits a series at its NaN gaps, so lines do not bridge silence.
fn runs(points: &[Point], y: impl Fn(&Point) -> f32) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for p in points {
        let v = y(p);
        if v.is_finite() {
            cur.push((p.t, v as f64));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn render<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    tl: &Timeline,
    cues: &[CueCell],
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let font = |px: u32| ("sans-serif", px).into_font();
    let (title_area, rest) = root.split_vertically(34);
    title_area.draw(&Text::new(
        title.to_string(),
        (12, 8),
        font(18).color(&BLACK),
    ))?;
    legend(&title_area, tl)?;
    let (loud_area, rest) = rest.split_vertically(200);
    let (f0_area, lane_area) = rest.split_vertically(180);
    let end = tl.end_s.max(1.0);
    let cue_times: Vec<f64> = tl.cues.clone();

    let panel = |area,
                 y: (f64, f64),
                 y_labels,
                 name: &[&str],
                 cust: fn(&Point) -> f32,
                 agent: fn(&Point) -> f32| {
        measure_panel(area, tl, &cue_times, end, y, y_labels, name, cust, agent)
    };
    panel(
        &loud_area,
        (LUFS_FLOOR as f64, 0.0),
        4,
        &["loudness", "(LUFS, 400 ms)"],
        |p| p.c_lufs,
        |p| p.a_lufs,
    )?;
    panel(
        &f0_area,
        (0.0, F0_TOP),
        5,
        &["pitch F0", "(Hz)"],
        |p| p.c_f0,
        |p| p.a_f0,
    )?;

    // Lanes, top to bottom.
    let mut lanes: Vec<&str> = vec!["customer shouting", "cues (✓ said, ✗ not)"];
    if tl.include_private {
        lanes.push("agent shouting (private)");
        lanes.push("agent nudges (private)");
    }
    let n = lanes.len() as i32;
    // Lane i (from the top) sits at segment n-1-i.
    let seg = |i: i32| n - 1 - i;
    let mut ch = ChartBuilder::on(&lane_area)
        .margin_right(MARGIN_R)
        .margin_top(4)
        .margin_bottom(6)
        .y_label_area_size(Y_LABELS_W)
        .x_label_area_size(40)
        .build_cartesian_2d(0f64..end, (0..n - 1).into_segmented())?;
    let lane_names = lanes.clone();
    ch.configure_mesh()
        .x_desc("time (s)")
        .x_labels(12)
        .y_labels(n as usize)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => lane_names
                .get((n - 1 - *i) as usize)
                .map_or_else(String::new, |s| s.to_string()),
            _ => String::new(),
        })
        .label_style(font(13))
        .axis_desc_style(font(14))
        .light_line_style(WHITE)
        .draw()?;
    let lane_rect = |s: f64, e: f64, i: i32| {
        [
            (s, SegmentValue::Exact(seg(i))),
            (e, SegmentValue::Exact(seg(i) + 1)),
        ]
    };
    ch.draw_series(
        tl.cust_spans
            .iter()
            .map(|&(s, e)| Rectangle::new(lane_rect(s, e, 0), CUSTOMER.mix(0.75).filled())),
    )?;
    for &t in &cue_times {
        ch.draw_series(std::iter::once(PathElement::new(
            vec![(t, SegmentValue::Exact(0)), (t, SegmentValue::Exact(n))],
            CUE.mix(0.35),
        )))?;
    }
    // On a long call the labels would pile up ("1223b4"): each goes on the
    // first of three rows where it clears the one before; a cue with no
    // room keeps its dot (the table lists every cue).
    let px_per_s = f64::from(PLOT_X1 - PLOT_X0) / end.max(1.0);
    let mut row_end = [f64::NEG_INFINITY; 3];
    for c in cues {
        let mark = match c.said.as_str() {
            "yes" => "✓",
            "no" => "✗",
            _ => "?",
        };
        let at = (c.shown_s, SegmentValue::CenterOf(seg(1)));
        // Marker and label as one element, the label offset in pixels
        // (SVG collapses leading spaces, so spaces cannot do it).
        let label = format!("{} {mark}", c.rung().label());
        let x = c.shown_s * px_per_s;
        let width = 9.0 + 10.0 * label.chars().count() as f64;
        let row = row_end.iter().position(|&e| x - 6.0 > e);
        let style = font(15).color(&CUE).pos(Pos::new(HPos::Left, VPos::Center));
        match row {
            Some(r) => {
                row_end[r] = x + width;
                let dy = [0, -14, 14][r];
                ch.draw_series(std::iter::once(
                    EmptyElement::at(at)
                        + Circle::new((0, 0), 4, CUE.filled())
                        + Text::new(label, (9, dy), style),
                ))?;
            }
            None => {
                ch.draw_series(std::iter::once(
                    EmptyElement::at(at) + Circle::new((0, 0), 4, CUE.filled()),
                ))?;
            }
        }
    }
    if tl.include_private {
        ch.draw_series(
            tl.agent_spans
                .iter()
                .map(|&(s, e)| Rectangle::new(lane_rect(s, e, 2), AGENT.mix(0.75).filled())),
        )?;
        for &(t, kind) in &tl.nudges {
            let at = (t, SegmentValue::CenterOf(seg(3)));
            let what = match kind {
                NudgeKind::RaisedVoice => "raised voice",
                NudgeKind::Overtalk => "overtalk",
            };
            let style = font(13)
                .color(&AGENT)
                .pos(Pos::new(HPos::Left, VPos::Center));
            ch.draw_series(std::iter::once(
                EmptyElement::at(at)
                    + TriangleMarker::new((0, 0), 6, AGENT.filled())
                    + Text::new(what, (10, 0), style),
            ))?;
        }
    }
    Ok(())
}

/// The key, in the title row (over the panels it would hide data).
fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, tl: &Timeline) -> DrawResult<DB> {
    let mut x = 470;
    let y = 17;
    let text = |area: &DrawingArea<DB, Shift>, x: i32, s: &str| {
        area.draw(&Text::new(
            s.to_string(),
            (x + 20, y),
            ("sans-serif", 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
    };
    let mut items: Vec<(&str, ShapeStyle, bool)> = vec![
        ("customer voice", CUSTOMER.stroke_width(2), true),
        ("customer shouting", CUSTOMER.mix(0.3).filled(), false),
    ];
    if tl.has_agent {
        items.insert(1, ("agent voice", AGENT.stroke_width(1), true));
    }
    if tl.include_private {
        items.push(("agent shouting (private)", AGENT.mix(0.3).filled(), false));
    }
    for (label, style, line) in items {
        if line {
            area.draw(&PathElement::new(vec![(x, y), (x + 16, y)], style))?;
        } else {
            area.draw(&Rectangle::new([(x, y - 6), (x + 16, y + 6)], style))?;
        }
        text(area, x, label)?;
        x += 28 + 8 * label.len() as i32;
    }
    Ok(())
}

/// Names a panel in its y label area, horizontally (rotated axis titles
/// get clipped at the image edge).
/// One panel of a measure over time: its axes and name, the shouting
/// shaded, the cues as lines, and each voice as a series.
#[allow(clippy::too_many_arguments)] // the panel's own settings, each used once
fn measure_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    tl: &Timeline,
    cue_times: &[f64],
    end: f64,
    (lo, hi): (f64, f64),
    y_labels: usize,
    name: &[&str],
    cust: fn(&Point) -> f32,
    agent: fn(&Point) -> f32,
) -> DrawResult<DB> {
    let font = |px: u32| ("sans-serif", px).into_font();
    let mut ch = ChartBuilder::on(area)
        .margin_right(MARGIN_R)
        .margin_top(4)
        .y_label_area_size(Y_LABELS_W)
        .x_label_area_size(4)
        .build_cartesian_2d(0f64..end, lo..hi)?;
    ch.configure_mesh()
        .y_labels(y_labels)
        .x_labels(12)
        .x_label_formatter(&|_| String::new())
        .label_style(font(13))
        .axis_desc_style(font(14))
        .light_line_style(WHITE)
        .draw()?;
    panel_name(area, name)?;
    shade(&mut ch, tl, lo, hi)?;
    cue_lines(&mut ch, cue_times, lo, hi)?;
    series(&mut ch, &runs(&tl.points, cust), CUSTOMER, "customer voice")?;
    if tl.has_agent {
        series(&mut ch, &runs(&tl.points, agent), AGENT, "agent voice")?;
    }
    Ok(())
}

fn panel_name<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, lines: &[&str]) -> DrawResult<DB> {
    let (_, h) = area.dim_in_pixel();
    let top = h as i32 / 2 - 10 * lines.len() as i32;
    for (i, l) in lines.iter().enumerate() {
        area.draw(&Text::new(
            l.to_string(),
            (10, top + 20 * i as i32),
            ("sans-serif", 14).into_font().color(&BLACK),
        ))?;
    }
    Ok(())
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Shades shouting spans across a panel: customer red, agent blue (private only).
fn shade<DB: DrawingBackend>(
    ch: &mut Chart<'_, DB>,
    tl: &Timeline,
    lo: f64,
    hi: f64,
) -> DrawResult<DB> {
    ch.draw_series(
        tl.cust_spans
            .iter()
            .map(|&(s, e)| Rectangle::new([(s, lo), (e, hi)], CUSTOMER.mix(0.15).filled())),
    )?
    .label("customer shouting")
    .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], CUSTOMER.mix(0.3).filled()));
    if tl.include_private && !tl.agent_spans.is_empty() {
        ch.draw_series(
            tl.agent_spans
                .iter()
                .map(|&(s, e)| Rectangle::new([(s, lo), (e, hi)], AGENT.mix(0.15).filled())),
        )?
        .label("agent shouting (private)")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], AGENT.mix(0.3).filled()));
    }
    Ok(())
}

fn cue_lines<DB: DrawingBackend>(
    ch: &mut Chart<'_, DB>,
    cues: &[f64],
    lo: f64,
    hi: f64,
) -> DrawResult<DB> {
    ch.draw_series(
        cues.iter()
            .map(|&t| PathElement::new(vec![(t, lo), (t, hi)], CUE.mix(0.35))),
    )?;
    Ok(())
}

fn series<DB: DrawingBackend>(
    ch: &mut Chart<'_, DB>,
    runs: &[Vec<(f64, f64)>],
    colour: RGBColor,
    label: &str,
) -> DrawResult<DB> {
    let style = ShapeStyle::from(&colour).stroke_width(if colour == AGENT { 1 } else { 2 });
    for (i, r) in runs.iter().enumerate() {
        let s = ch.draw_series(LineSeries::new(r.iter().copied(), style))?;
        if i == 0 {
            s.label(label.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], style));
        }
    }
    Ok(())
}
