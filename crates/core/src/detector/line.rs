//! Line calibration: what a site's line does to the cold start's cues,
//! learnt from the line's own calls.
//!
//! Before a caller's own baseline exists, the cold start judges absolute
//! cues. F0 is the voice's own, but the alpha ratio and the spectral
//! centroid move with the recording chain: a headset's or a trunk's EQ
//! shifts every caller on the line alike, and a brighter line reads as a
//! more raised voice. The model knows where calm voices sit on the chain it
//! was trained on ([`ColdStart::line_reference`]); a line's calls say where
//! its calm voices sit. The difference is subtracted before scoring.
//!
//! A call's sample is the customer's own baseline at its end (the medians
//! of their calm voiced speech); the line's value is the median over calls,
//! so the few callers who shout throughout do not move it. Measured before
//! it was built in `tools/research/line_calibration.py`
//! (docs/experiments/2026-12-07-cold-start.md, "Fourth pass").

use serde::{Deserialize, Serialize};

use super::baseline::BaselineValues;
use super::model::ColdStart;

/// Fewest calls whose median is trusted as the line's.
pub const MIN_CALLS: usize = 20;

/// Largest shift applied, dB of alpha ratio or semitones of centroid: a
/// line further off than this is a different channel altogether, and the
/// calibration says so rather than stretching the model.
pub const MAX_SHIFT: f32 = 8.0;

/// Narrowest spread of the callers' F0 (interquartile range over calls,
/// semitones) taken for a line. Calls of one voice spread 0.5-1.7 st (each
/// calm-corpus voice); a line of many callers 4.8-7.9 st (CREMA-D's actors,
/// as calls). Calibrating from one voice's calls shifts the cold start by
/// that voice's timbre, not the line's: the Italian prompt voice's own
/// calls made 4 false cues in 54 calls that way.
pub const MIN_F0_IQR_ST: f32 = 3.0;

/// The version of the calibration file format.
pub const LINE_FORMAT: u32 = 1;

/// A line's calibration: where its callers' calm voices sit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineCalibration {
    /// File format version ([`LINE_FORMAT`]).
    pub v: u32,
    /// Median over the line's calls of each customer's calm alpha ratio, dB.
    pub alpha_db: f32,
    /// Median over the line's calls of each customer's calm centroid,
    /// semitones re 100 Hz.
    pub centroid_st: f32,
    /// How many calls gave a sample.
    pub calls: usize,
    /// The spread of the callers' F0 (interquartile range over calls,
    /// semitones): a line's callers are many voices, men and women; a
    /// narrow spread is one voice, which is not a line.
    #[serde(default)]
    pub f0_iqr_st: f32,
    /// What the calls were (a directory, a listener).
    #[serde(default)]
    pub source: String,
}

/// Why a line cannot be calibrated, or a calibration cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    /// Too few calls had a customer with their own baseline.
    #[error("too few calls to calibrate the line: expected at least {expected} with a calm customer voice, got {got}")]
    TooFewCalls {
        /// [`MIN_CALLS`].
        expected: usize,
        /// Calls that gave a sample.
        got: usize,
    },
    /// The calls are one voice, or nearly: their calibration would be that
    /// voice's, not the line's.
    #[error("the calls sound like one voice, not a line's callers: their F0 spreads {got:.1} semitones (interquartile), a line's at least {expected:.1}")]
    OneVoice {
        /// [`MIN_F0_IQR_ST`].
        expected: f32,
        /// The calls' spread.
        got: f32,
    },
    /// The model has no cold start, or no reference to measure a line from.
    #[error("the model cannot be calibrated: it has no cold start with a line_reference")]
    NoReference,
    /// The line sits further from the model's reference than [`MAX_SHIFT`].
    #[error("the line is {got:.1} {unit} from the model's reference, more than the {expected:.0} a calibration may shift: a different kind of channel, not calibrated")]
    TooFar {
        /// Which cue.
        unit: &'static str,
        /// [`MAX_SHIFT`].
        expected: f32,
        /// The shift the line would need.
        got: f32,
    },
    /// The file is not a calibration of a known format.
    #[error("not a line calibration: {0}")]
    Format(String),
}

impl LineCalibration {
    /// The line's calibration from one sample per call (each customer's
    /// baseline at the call's end; samples without an own baseline are
    /// skipped).
    pub fn from_calls<I>(samples: I, source: impl Into<String>) -> Result<Self, LineError>
    where
        I: IntoIterator<Item = BaselineValues>,
    {
        let own: Vec<BaselineValues> = samples
            .into_iter()
            .filter(|b| {
                b.own && b.alpha_db.is_finite() && b.centroid_st.is_finite() && b.f0_st.is_finite()
            })
            .collect();
        let mut alpha: Vec<f32> = own.iter().map(|b| b.alpha_db).collect();
        let mut centroid: Vec<f32> = own.iter().map(|b| b.centroid_st).collect();
        let mut f0: Vec<f32> = own.iter().map(|b| b.f0_st).collect();
        if alpha.len() < MIN_CALLS {
            return Err(LineError::TooFewCalls {
                expected: MIN_CALLS,
                got: alpha.len(),
            });
        }
        f0.sort_by(f32::total_cmp);
        let q = |p: f32| f0[((f0.len() - 1) as f32 * p).round() as usize];
        let f0_iqr_st = q(0.75) - q(0.25);
        if f0_iqr_st < MIN_F0_IQR_ST {
            return Err(LineError::OneVoice {
                expected: MIN_F0_IQR_ST,
                got: f0_iqr_st,
            });
        }
        Ok(Self {
            v: LINE_FORMAT,
            alpha_db: median(&mut alpha),
            centroid_st: median(&mut centroid),
            calls: alpha.len(),
            f0_iqr_st,
            source: source.into(),
        })
    }

    /// Reads a calibration from JSON, checking its format.
    pub fn from_json(text: &str) -> Result<Self, LineError> {
        let c: Self = serde_json::from_str(text).map_err(|e| LineError::Format(e.to_string()))?;
        if c.v != LINE_FORMAT {
            return Err(LineError::Format(format!(
                "format version: expected {LINE_FORMAT}, got {}",
                c.v
            )));
        }
        if !(c.alpha_db.is_finite() && c.centroid_st.is_finite()) {
            return Err(LineError::Format(
                "alpha_db and centroid_st must be finite".into(),
            ));
        }
        Ok(c)
    }

    /// The shift this line needs against a cold start's reference: alpha
    /// (dB) and centroid (st) to subtract before scoring.
    pub fn shift(&self, cold: &ColdStart) -> Result<[f32; 2], LineError> {
        let r = cold.line_reference.ok_or(LineError::NoReference)?;
        let s = [self.alpha_db - r[0], self.centroid_st - r[1]];
        for (unit, got) in [("dB of alpha ratio", s[0]), ("semitones of centroid", s[1])] {
            if got.abs() > MAX_SHIFT {
                return Err(LineError::TooFar {
                    unit,
                    expected: MAX_SHIFT,
                    got,
                });
            }
        }
        Ok(s)
    }
}

fn median(v: &mut [f32]) -> f32 {
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller; F0 spread over men's and women's registers by `i`.
    fn caller(i: usize, alpha_db: f32, centroid_st: f32, own: bool) -> BaselineValues {
        BaselineValues {
            f0_st: [2.0, 6.0, 10.0, 14.0, 18.0][i % 5],
            alpha_db,
            level_db: -26.0,
            centroid_st,
            own,
        }
    }

    #[test]
    fn the_line_is_the_median_of_its_calls_and_a_few_shouting_callers_do_not_move_it() {
        let mut calls: Vec<_> = (0..25)
            .map(|i| caller(i, -17.0 + 0.1 * (i % 5) as f32, 25.0, true))
            .collect();
        // three callers who shouted throughout, and two with no baseline
        calls.extend([
            caller(0, -3.0, 40.0, true),
            caller(1, -2.0, 41.0, true),
            caller(2, -4.0, 39.0, true),
        ]);
        calls.extend([caller(3, 50.0, 90.0, false), caller(4, 50.0, 90.0, false)]);
        let line = LineCalibration::from_calls(calls, "test").unwrap();
        assert_eq!(line.calls, 28);
        assert!((line.alpha_db - -16.8).abs() < 0.15, "{line:?}");
        assert!((line.centroid_st - 25.0).abs() < 1e-6, "{line:?}");
    }

    #[test]
    fn too_few_calls_say_how_many_were_needed_and_found() {
        let calls = (0..30).map(|i| caller(i, -17.0, 25.0, i < 7));
        let e = LineCalibration::from_calls(calls, "x").unwrap_err();
        assert_eq!(
            e,
            LineError::TooFewCalls {
                expected: MIN_CALLS,
                got: 7
            }
        );
        assert!(e.to_string().contains("at least 20"), "{e}");
    }

    #[test]
    fn the_calls_of_one_voice_are_not_a_line() {
        let one = (0..40).map(|i| BaselineValues {
            f0_st: 20.0 + 0.1 * (i % 7) as f32,
            ..caller(0, -17.0, 25.0, true)
        });
        let e = LineCalibration::from_calls(one, "one").unwrap_err();
        assert!(
            matches!(e, LineError::OneVoice { got, .. } if got < 1.0),
            "{e}"
        );
        assert!(e.to_string().contains("one voice"), "{e}");
    }

    #[test]
    fn the_shift_is_against_the_models_reference_and_refuses_a_different_channel() {
        let mut cold = crate::detector::ShoutModel::builtin().cold.unwrap();
        cold.line_reference = Some([-17.0, 25.0]);
        let line = |a, c| LineCalibration {
            v: 1,
            alpha_db: a,
            centroid_st: c,
            calls: 30,
            f0_iqr_st: 5.0,
            source: String::new(),
        };
        assert_eq!(line(-14.0, 23.0).shift(&cold).unwrap(), [3.0, -2.0]);
        assert!(matches!(
            line(-5.0, 25.0).shift(&cold),
            Err(LineError::TooFar { .. })
        ));
        cold.line_reference = None;
        assert_eq!(line(-14.0, 23.0).shift(&cold), Err(LineError::NoReference));
    }

    #[test]
    fn a_file_of_another_format_is_refused_by_name() {
        let e = LineCalibration::from_json(r#"{"v":2,"alpha_db":1,"centroid_st":2,"calls":30}"#)
            .unwrap_err();
        assert!(e.to_string().contains("expected 1, got 2"), "{e}");
        assert!(LineCalibration::from_json("[]").is_err());
        let ok =
            LineCalibration::from_json(r#"{"v":1,"alpha_db":-16,"centroid_st":25,"calls":30}"#)
                .unwrap();
        assert_eq!(ok.calls, 30);
    }
}
