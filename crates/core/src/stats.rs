//! Small shared arithmetic of the figures every report states, written once:
//! quantiles, precision/recall/F1 of spans, and pairing shout starts with
//! their ends.

use crate::detector::SegmentEvent;
use crate::Speaker;

/// Floats that sort totally (NaN last), so one quantile rule serves both.
pub trait TotalOrd: Copy {
    /// `f64::total_cmp` / `f32::total_cmp`.
    fn total_cmp_(&self, other: &Self) -> std::cmp::Ordering;
}

impl TotalOrd for f64 {
    fn total_cmp_(&self, other: &Self) -> std::cmp::Ordering {
        self.total_cmp(other)
    }
}

impl TotalOrd for f32 {
    fn total_cmp_(&self, other: &Self) -> std::cmp::Ordering {
        self.total_cmp(other)
    }
}

/// Quantile `q` (0 to 1) of `v`, which it sorts: the element at the rounded
/// index `(n - 1) q`, never an interpolation (so a median of latencies is a
/// latency that happened). `None` when `v` is empty. The Python tools in
/// `tools/` use the same rule (`crossval.py`).
///
/// ```
/// let mut v = [3.0, 1.0, 2.0, 10.0];
/// assert_eq!(shoutcue_core::stats::quantile(&mut v, 0.5), Some(3.0));
/// assert_eq!(shoutcue_core::stats::quantile(&mut [] as &mut [f64], 0.5), None);
/// ```
pub fn quantile<T: TotalOrd>(v: &mut [T], q: f64) -> Option<T> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp_(b));
    let i = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    Some(v[i])
}

/// Whether two closed spans `[start, end]` (seconds) overlap.
pub fn overlaps(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// Precision, recall and F1 of detected spans against labelled ones.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prf {
    /// Detections that overlap a label, over detections (1 with no detection).
    pub precision: f64,
    /// Labels that some detection overlaps, over labels (1 with no label).
    pub recall: f64,
    /// Their harmonic mean (0 when both are 0).
    pub f1: f64,
}

impl Prf {
    /// From the counts: `correct` of `detected` detections overlap a label,
    /// `found` of `labelled` labels are overlapped by a detection.
    pub fn from_counts(correct: usize, detected: usize, found: usize, labelled: usize) -> Self {
        let precision = if detected > 0 {
            correct as f64 / detected as f64
        } else {
            1.0
        };
        let recall = if labelled > 0 {
            found as f64 / labelled as f64
        } else {
            1.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            precision,
            recall,
            f1,
        }
    }
}

/// Turns the detector's `shout_start`/`shout_end` events into closed
/// segments, per speaker: the one place starts are paired with their ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanPairer {
    open: [Option<f64>; 2],
}

/// A shouting segment with its speaker, as paired by [`SpanPairer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Whose voice.
    pub speaker: Speaker,
    /// Segment start, s.
    pub start: f64,
    /// Segment end, s.
    pub end: f64,
}

impl SpanPairer {
    fn slot(s: Speaker) -> usize {
        match s {
            Speaker::Customer => 0,
            Speaker::Agent => 1,
        }
    }

    /// Takes one segment event; returns the segment it closes, if any.
    pub fn push(&mut self, ev: &SegmentEvent) -> Option<Span> {
        match *ev {
            SegmentEvent::ShoutStart { speaker, t, .. } => {
                self.open[Self::slot(speaker)] = Some(t);
                None
            }
            SegmentEvent::ShoutEnd { speaker, t, .. } => {
                self.open[Self::slot(speaker)].take().map(|start| Span {
                    speaker,
                    start,
                    end: t,
                })
            }
        }
    }

    /// Where `speaker`'s open segment started, if one is open.
    pub fn open_since(&self, speaker: Speaker) -> Option<f64> {
        self.open[Self::slot(speaker)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_picks_the_rounded_rank() {
        let mut v = vec![5.0f64, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&mut v, 0.0), Some(1.0));
        assert_eq!(quantile(&mut v, 0.5), Some(3.0));
        assert_eq!(quantile(&mut v, 0.9), Some(5.0));
        assert_eq!(quantile(&mut v, 0.74), Some(4.0));
        let mut w = vec![2.0f32, 1.0];
        assert_eq!(quantile(&mut w, 0.5), Some(2.0));
    }

    #[test]
    fn prf_from_counts() {
        let m = Prf::from_counts(3, 4, 2, 4);
        assert_eq!(m.precision, 0.75);
        assert_eq!(m.recall, 0.5);
        assert!((m.f1 - 0.6).abs() < 1e-12);
        assert_eq!(Prf::from_counts(0, 0, 0, 0).f1, 1.0);
        assert_eq!(Prf::from_counts(0, 3, 0, 2).f1, 0.0);
    }

    #[test]
    fn spans_pair_per_speaker() {
        let mut p = SpanPairer::default();
        let cues = Default::default();
        let start = |speaker, t| SegmentEvent::ShoutStart {
            speaker,
            t,
            score: 0.9,
            cues,
            decided_t: t,
            baseline: crate::detector::Yardstick::Own,
        };
        let end = |speaker, t| SegmentEvent::ShoutEnd {
            speaker,
            t,
            duration: 0.0,
            peak_score: 0.9,
            peak_cues: cues,
            decided_t: t,
        };
        assert_eq!(p.push(&start(Speaker::Customer, 1.0)), None);
        assert_eq!(p.push(&start(Speaker::Agent, 1.5)), None);
        assert_eq!(p.open_since(Speaker::Agent), Some(1.5));
        let c = p.push(&end(Speaker::Customer, 2.0));
        assert_eq!(
            c,
            Some(Span {
                speaker: Speaker::Customer,
                start: 1.0,
                end: 2.0
            })
        );
        assert_eq!(p.push(&end(Speaker::Customer, 3.0)), None);
        assert_eq!(
            p.push(&end(Speaker::Agent, 3.0)).map(|s| s.start),
            Some(1.5)
        );
    }
}
