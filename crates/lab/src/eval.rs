//! Scoring the detector and coach against labelled recordings.
//!
//! Labels are Audacity label tracks: a `.txt` beside each WAV with
//! `start<TAB>end<TAB>label` lines; `shout` marks a span of customer
//! shouting. A WAV without a label file is a call without shouting (it
//! counts for false cues). A detected span is correct if it overlaps a
//! labelled one; a labelled span is found if any detection overlaps it.

use std::path::{Path, PathBuf};

use shoutcue_core::coach::{CoachConfig, CoachEvent};
use shoutcue_core::detector::{SegmentEvent, ShoutModel};
use shoutcue_core::engine::{replay_call, CallError, Event, Observer, Pace};
use shoutcue_core::source::{ChannelChoice, WavSource};
use shoutcue_core::stats::{overlaps, quantile, Prf};
use shoutcue_core::Speaker;

pub use crate::dataset::{find_wavs, read_shout_labels, DirError, LabelError};

/// What one call produced, for scoring.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallResult {
    /// The recording.
    pub file: PathBuf,
    /// Length, s.
    pub duration_s: f64,
    /// Labelled shout spans.
    pub labels: Vec<(f64, f64)>,
    /// Detected customer segments: (start, end, decided_at).
    pub detections: Vec<(f64, f64, f64)>,
    /// Times at which cues were shown.
    pub cues: Vec<f64>,
    /// For each cue, when the customer's speech had stopped before it (the pause start), if known.
    pub cue_after_pause: Vec<f64>,
    /// When the customer first spoke, s (None: never).
    pub first_speech_t: Option<f64>,
}

#[derive(Default)]
struct Collect {
    open: Option<(f64, f64)>,
    detections: Vec<(f64, f64, f64)>,
    cues: Vec<f64>,
    cue_after_pause: Vec<f64>,
    last_speech_t: f64,
    speaking: bool,
    first_speech_t: Option<f64>,
}

impl Observer for Collect {
    fn hop(
        &mut self,
        report: &shoutcue_core::detector::HopReport,
        _: &shoutcue_core::features::Features,
        _: Option<&shoutcue_core::features::Features>,
    ) {
        if report.customer.speech {
            self.last_speech_t = report.t;
            self.first_speech_t.get_or_insert(report.t);
        }
        self.speaking = report.customer.speech;
    }

    fn event(&mut self, decided_at: f64, ev: &Event) {
        match ev {
            Event::Segment(SegmentEvent::ShoutStart {
                t,
                speaker: Speaker::Customer,
                ..
            }) => self.open = Some((*t, decided_at)),
            Event::Segment(SegmentEvent::ShoutEnd {
                t,
                speaker: Speaker::Customer,
                ..
            }) => {
                if let Some((s, d)) = self.open.take() {
                    self.detections.push((s, *t, d));
                }
            }
            Event::Coach(CoachEvent::Cue { t, .. }) => {
                self.cues.push(*t);
                // The hop's speech flag carries a short hangover; the pause
                // is measured from the last hop with customer speech.
                self.cue_after_pause.push(*t - self.last_speech_t);
            }
            _ => {}
        }
    }
}

/// Replays one recording and collects what scoring needs.
pub fn run_call(
    wav: &Path,
    model: &ShoutModel,
    coach: CoachConfig,
    channels: ChannelChoice,
) -> Result<CallResult, EvalError> {
    let label_path = wav.with_extension("txt");
    let labels = if label_path.exists() {
        read_shout_labels(&label_path)?
    } else {
        Vec::new()
    };
    let mut src = WavSource::open(wav, channels)?;
    let mut obs = Collect::default();
    let name = wav.display().to_string();
    let stats = replay_call(
        &name,
        &mut src,
        model,
        coach,
        &mut Vec::<Box<dyn shoutcue_core::engine::Sink>>::new(),
        Pace::Fast,
        &mut obs,
        None,
    )?;
    Ok(CallResult {
        file: wav.to_path_buf(),
        duration_s: stats.duration_s,
        labels,
        detections: obs.detections,
        cues: obs.cues,
        cue_after_pause: obs.cue_after_pause,
        first_speech_t: obs.first_speech_t,
    })
}

/// Why a call could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The labels are unreadable.
    #[error(transparent)]
    Labels(#[from] LabelError),
    /// The audio is unreadable.
    #[error(transparent)]
    Source(#[from] shoutcue_core::source::SourceError),
    /// The replay failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The folder cannot be listed.
    #[error(transparent)]
    Dir(#[from] DirError),
    /// A channel could not be analysed (training reads one voice).
    #[error(transparent)]
    Channel(#[from] shoutcue_core::engine::ChannelError),
}

/// A cue counts as justified if it comes within this long after a labelled
/// span ends (the cue waits for the pause, and the agent's turn).
pub const CUE_GRACE_S: f64 = 8.0;

/// Scores over a set of calls.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Calls scored.
    pub calls: usize,
    /// Total audio, hours.
    pub hours: f64,
    /// Labelled shout spans.
    pub labelled: usize,
    /// Labelled spans overlapped by a detection.
    pub found: usize,
    /// Detections.
    pub detected: usize,
    /// Detections overlapping a label.
    pub correct: usize,
    /// correct / detected.
    pub precision: f64,
    /// found / labelled.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Cues shown with no labelled shouting before them (within the grace).
    pub false_cues: usize,
    /// false_cues per hour of audio.
    pub false_cues_per_hour: f64,
    /// Decision time minus the onset of each detected outburst (labelled
    /// spans less than [`ONSET_GAP_S`] apart are one outburst), median, s.
    pub latency_p50_s: f64,
    /// The same, 90th percentile, s.
    pub latency_p90_s: f64,
    /// Every outburst's latency, s, sorted (for pooling across folders).
    pub latencies_s: Vec<f64>,
    /// Cue time after the customer's speech stopped, median, s.
    pub cue_after_pause_p50_s: f64,
    /// Cue time after the customer's speech stopped, 90th percentile, s.
    pub cue_after_pause_p90_s: f64,
    /// Cold starts: calls whose first outburst is the customer's first
    /// speech (it starts within [`OPENING_SLACK_S`] of it).
    pub opening_calls: usize,
    /// Of those, the openings a detection overlaps.
    pub opening_found: usize,
    /// opening_found / opening_calls (NaN without such calls).
    pub opening_recall: f64,
    /// Decision time minus the first raised word, median over the found
    /// openings, s.
    pub opening_latency_p50_s: f64,
    /// Outbursts after the opening one in those calls.
    pub later_outbursts: usize,
    /// Of those, the ones a detection overlaps.
    pub later_found: usize,
    /// Outbursts in calls that open calm (the baseline is the caller's own).
    pub calm_start_outbursts: usize,
    /// Of those, the ones a detection overlaps.
    pub calm_start_found: usize,
    /// Calls with no labelled shouting.
    pub calm_calls: usize,
    /// Of those, calls that got any cue.
    pub calm_calls_cued: usize,
}

/// An outburst that starts within this long of the customer's first
/// speech opens the call, s (the speech flag's onset and a label's edge
/// differ by a hop or two).
pub const OPENING_SLACK_S: f64 = 0.3;

/// Ratio, NaN for an empty denominator (a figure that does not exist is
/// not 0 or 1).
fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        f64::NAN
    } else {
        n as f64 / d as f64
    }
}

/// Labelled spans closer than this are one outburst for latency, s: a
/// breath between shouted sentences is not a new onset.
pub const ONSET_GAP_S: f64 = 0.5;

/// Index ranges of `labels` (in time order) that form one outburst each.
fn onset_runs(labels: &[(f64, f64)]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=labels.len() {
        if i == labels.len() || labels[i].0 - labels[i - 1].1 >= ONSET_GAP_S {
            if i > start {
                runs.push(start..i);
            }
            start = i;
        }
    }
    runs
}

/// Pools the scores of many calls.
pub fn score(calls: &[CallResult]) -> Metrics {
    let mut m = Metrics {
        calls: calls.len(),
        ..Default::default()
    };
    let mut latencies = Vec::new();
    let mut pauses = Vec::new();
    let mut opening_latencies = Vec::new();
    for c in calls {
        cold_starts(c, &mut m, &mut opening_latencies);
        m.hours += c.duration_s / 3600.0;
        m.labelled += c.labels.len();
        m.detected += c.detections.len();
        for &l in &c.labels {
            if c.detections.iter().any(|d| overlaps((d.0, d.1), l)) {
                m.found += 1;
            }
        }
        // Latency counts once per outburst, from its onset: a sentence that
        // continues a shout already detected is not a new detection, and
        // its (negative) decision-minus-start would flatter the figure.
        for run in onset_runs(&c.labels) {
            if let Some(first) = first_decision(c, &run) {
                latencies.push(first - c.labels[run.start].0);
            }
        }
        m.correct += c
            .detections
            .iter()
            .filter(|d| c.labels.iter().any(|&l| overlaps((d.0, d.1), l)))
            .count();
        for &t in &c.cues {
            if !c
                .labels
                .iter()
                .any(|&(s, e)| t >= s && t <= e + CUE_GRACE_S)
            {
                m.false_cues += 1;
            }
        }
        pauses.extend_from_slice(&c.cue_after_pause);
    }
    let prf = Prf::from_counts(m.correct, m.detected, m.found, m.labelled);
    (m.precision, m.recall, m.f1) = (prf.precision, prf.recall, prf.f1);
    m.false_cues_per_hour = if m.hours > 0.0 {
        m.false_cues as f64 / m.hours
    } else {
        0.0
    };
    let q = |v: &mut [f64], p| quantile(v, p).unwrap_or(f64::NAN);
    m.latency_p50_s = q(&mut latencies, 0.5);
    m.latency_p90_s = q(&mut latencies, 0.9);
    m.latencies_s = latencies;
    m.cue_after_pause_p50_s = q(&mut pauses, 0.5);
    m.cue_after_pause_p90_s = q(&mut pauses, 0.9);
    m.opening_recall = ratio(m.opening_found, m.opening_calls);
    m.opening_latency_p50_s = q(&mut opening_latencies, 0.5);
    m
}

/// When the first detection overlapping the outburst `run` (indices into
/// the call's labels) was decided, if any overlaps it.
fn first_decision(c: &CallResult, run: &std::ops::Range<usize>) -> Option<f64> {
    c.detections
        .iter()
        .filter(|d| {
            c.labels[run.clone()]
                .iter()
                .any(|&l| overlaps((d.0, d.1), l))
        })
        .map(|d| d.2)
        .min_by(|a, b| a.total_cmp(b))
}

/// Counts one call's cold-start figures: its opening outburst, the ones
/// after it, or, in a call that opens calm, every outburst.
fn cold_starts(c: &CallResult, m: &mut Metrics, opening_latencies: &mut Vec<f64>) {
    let runs = onset_runs(&c.labels);
    if runs.is_empty() {
        m.calm_calls += 1;
        m.calm_calls_cued += usize::from(!c.cues.is_empty());
        return;
    }
    let found = |run: &std::ops::Range<usize>| first_decision(c, run);
    let opens = c
        .first_speech_t
        .is_some_and(|t| c.labels[runs[0].start].0 <= t + OPENING_SLACK_S);
    if opens {
        m.opening_calls += 1;
        if let Some(d) = found(&runs[0]) {
            m.opening_found += 1;
            opening_latencies.push(d - c.labels[runs[0].start].0);
        }
        m.later_outbursts += runs.len() - 1;
        m.later_found += runs[1..].iter().filter(|r| found(r).is_some()).count();
    } else {
        m.calm_start_outbursts += runs.len();
        m.calm_start_found += runs.iter().filter(|r| found(r).is_some()).count();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(
        labels: Vec<(f64, f64)>,
        detections: Vec<(f64, f64, f64)>,
        cues: Vec<f64>,
    ) -> CallResult {
        CallResult {
            duration_s: 3600.0,
            labels,
            detections,
            cues,
            ..Default::default()
        }
    }

    #[test]
    fn overlap_rules_give_precision_recall_and_latency() {
        let calls = [
            call(
                vec![(10.0, 12.0), (30.0, 32.0)],
                vec![(10.5, 12.0, 11.0), (50.0, 51.0, 50.5)],
                vec![12.5, 51.5],
            ),
            call(vec![], vec![], vec![100.0]),
        ];
        let m = score(&calls);
        assert_eq!((m.labelled, m.found, m.detected, m.correct), (2, 1, 2, 1));
        assert!((m.precision - 0.5).abs() < 1e-9 && (m.recall - 0.5).abs() < 1e-9);
        assert!((m.f1 - 0.5).abs() < 1e-9);
        assert_eq!(m.false_cues, 2); // 51.5 (after an unlabelled detection) and 100.0
        assert!((m.false_cues_per_hour - 1.0).abs() < 1e-9);
        assert!((m.latency_p50_s - 1.0).abs() < 1e-9);
    }

    #[test]
    fn latency_counts_each_outburst_once_from_its_onset() {
        // Three shouted sentences 0.2 s apart, one detection decided 1.2 s
        // into the first; then a lone sentence detected 0.8 s in.
        let labels = vec![(10.0, 12.0), (12.2, 14.0), (14.2, 16.0), (30.0, 32.0)];
        let m = score(&[call(
            labels,
            vec![(10.3, 16.0, 11.2), (30.2, 32.0, 30.8)],
            vec![],
        )]);
        assert_eq!((m.labelled, m.found), (4, 4));
        // Two latencies (1.2 and 0.8), not four with two negative ones.
        assert!((m.latency_p50_s - 1.2).abs() < 1e-9, "{}", m.latency_p50_s);
        assert!((m.latency_p90_s - 1.2).abs() < 1e-9);
        assert_eq!(
            onset_runs(&[(0.0, 1.0), (1.4, 2.0), (2.6, 3.0)]),
            vec![0..2, 2..3]
        );
    }

    #[test]
    fn cold_start_figures_split_openings_later_outbursts_and_calm_calls() {
        let with_speech = |mut c: CallResult, t: f64| {
            c.first_speech_t = Some(t);
            c
        };
        let calls = [
            // Opens shouting (decided 1.2 s in), then a later outburst missed.
            with_speech(
                call(
                    vec![(0.5, 2.0), (10.0, 12.0)],
                    vec![(0.6, 2.0, 1.7)],
                    vec![2.5],
                ),
                0.45,
            ),
            // Opens shouting, never found; its later outburst is found.
            with_speech(
                call(
                    vec![(0.2, 2.0), (10.0, 12.0)],
                    vec![(10.2, 12.0, 10.9)],
                    vec![],
                ),
                0.2,
            ),
            // Opens calm: its outburst counts as after a calm start.
            with_speech(call(vec![(8.0, 9.0)], vec![(8.1, 9.0, 8.7)], vec![]), 0.3),
            // Calm calls, one of them cued.
            with_speech(call(vec![], vec![], vec![4.0]), 0.3),
            with_speech(call(vec![], vec![], vec![]), 0.3),
        ];
        let m = score(&calls);
        assert_eq!((m.opening_calls, m.opening_found), (2, 1));
        assert!((m.opening_recall - 0.5).abs() < 1e-9);
        assert!(
            (m.opening_latency_p50_s - 1.2).abs() < 1e-9,
            "{}",
            m.opening_latency_p50_s
        );
        assert_eq!((m.later_outbursts, m.later_found), (2, 1));
        assert_eq!((m.calm_start_outbursts, m.calm_start_found), (1, 1));
        assert_eq!((m.calm_calls, m.calm_calls_cued), (2, 1));
        // Without calls that open shouting there is no opening recall.
        assert!(score(&calls[2..]).opening_recall.is_nan());
    }

    #[test]
    fn label_files_parse_and_bad_lines_name_the_file_and_line() {
        let dir = std::env::temp_dir().join(format!("shoutcue-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.txt");
        std::fs::write(&good, "1.0\t2.5\tshout\n3\t3\tcue:1\n\\\t0\t0\n").unwrap();
        assert_eq!(read_shout_labels(&good).unwrap(), vec![(1.0, 2.5)]);
        let bad = dir.join("bad.txt");
        std::fs::write(&bad, "1.0\t2.5\tshout\n4.0\tx\tshout\n").unwrap();
        let e = read_shout_labels(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.txt:2"), "{e}");
    }
}
