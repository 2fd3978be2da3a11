//! The shout model: everything the detector decides with, as data
//! (`models/shout-v1.json`), so that retraining never means recompiling.

use serde::{Deserialize, Serialize};

use super::baseline::BaselineConfig;

/// How many cues the model weighs.
pub const N_CUES: usize = 5;
/// Cue order in [`ShoutModel::mean`], [`ShoutModel::scale`] and [`ShoutModel::weights`].
pub const CUE_NAMES: [&str; N_CUES] = ["f0_st", "tilt_db", "level_db", "clip_frac", "centroid_st"];

/// How many terms the cold-start score weighs: three absolute cues (F0,
/// alpha ratio, centroid) and their six second-order products.
pub const N_COLD: usize = 9;
/// Term order in [`ColdStart::mean`], [`ColdStart::scale`] and [`ColdStart::weights`].
pub const COLD_TERMS: [&str; N_COLD] = [
    "f0_st",
    "alpha_db",
    "centroid_st",
    "f0_st^2/10",
    "alpha_db^2/10",
    "centroid_st^2/10",
    "f0_st*alpha_db/10",
    "f0_st*centroid_st/10",
    "alpha_db*centroid_st/10",
];

/// The cold-start decision: is this voice raised, judged on its own,
/// before the caller's baseline exists?
///
/// The caller who opens shouting has no calm voice to compare with, and
/// the line's gain is unknown (AGC, handsets), so only level-free cues
/// count: absolute F0, the alpha ratio and the spectral centroid, averaged
/// over the voiced hops of the current stretch of speech. A quadratic
/// logistic over them is learnt speaker-independently from CREMA-D actors
/// at random line gains, mu-law and through WebRTC's AGC
/// (`tools/research/train_cold.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColdStart {
    /// Term order of the vectors below ([`COLD_TERMS`]).
    pub terms: Vec<String>,
    /// Term normalisation: subtract `mean`...
    pub mean: [f32; N_COLD],
    /// ...then divide by `scale`.
    pub scale: [f32; N_COLD],
    /// Logistic weights on the normalised terms.
    pub weights: [f32; N_COLD],
    /// Logistic bias.
    pub bias: f32,
    /// Voiced time over which the cues are averaged, s: the running mean
    /// of a stretch of speech, then an exponential one with this time
    /// constant. Reset at every pause.
    pub window_s: f32,
    /// Score that counts towards a shouting segment while the caller's own
    /// baseline does not exist.
    pub on_threshold: f32,
    /// Before the caller's own baseline exists, a hop teaches it only while
    /// the cold-start score is below this: a raised opening never becomes
    /// the caller's normal voice. Also the score under which a stretch of
    /// evidence (or a segment the cold start decided) fades.
    pub calm_below: f32,
    /// Where this part of the model came from (its own data and licences:
    /// it is trained apart from the relative cues).
    #[serde(default)]
    pub provenance: Provenance,
    /// Where calm voices sit on the training chain: the median over the
    /// training actors' calm clips of each clip's median alpha ratio (dB)
    /// and centroid (st) over its voiced hops. A line calibration is
    /// measured against it ([`super::line`]); `None`: no calibration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_reference: Option<[f32; 2]>,
    /// The line's shift of alpha (dB) and centroid (st), subtracted before
    /// scoring: zero unless [`ShoutModel::calibrated`] applied a line. Never
    /// in the model file: a calibration belongs to a line, not to a model.
    #[serde(skip)]
    pub line_shift: Option<[f32; 2]>,
}

impl ColdStart {
    /// The terms of the logistic from the three averaged cues.
    #[inline]
    pub fn terms(f0_st: f32, alpha_db: f32, centroid_st: f32) -> [f32; N_COLD] {
        let (f, a, c) = (f0_st, alpha_db, centroid_st);
        [
            f,
            a,
            c,
            f * f / 10.0,
            a * a / 10.0,
            c * c / 10.0,
            f * a / 10.0,
            f * c / 10.0,
            a * c / 10.0,
        ]
    }

    /// The score, 0 to 1, of the three averaged cues.
    #[inline]
    pub fn score(&self, f0_st: f32, alpha_db: f32, centroid_st: f32) -> f32 {
        let [da, dc] = self.line_shift.unwrap_or_default();
        let x = Self::terms(f0_st, alpha_db - da, centroid_st - dc);
        let mut z = self.bias;
        for (((x, w), m), s) in x.iter().zip(&self.weights).zip(&self.mean).zip(&self.scale) {
            z += w * (x - m) / s;
        }
        1.0 / (1.0 + (-z).exp())
    }

    fn validate(&self) -> Result<(), String> {
        if self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!(
                "cold.scale must be positive and finite, got {:?}",
                self.scale
            ));
        }
        if self
            .weights
            .iter()
            .chain(&self.mean)
            .chain([&self.bias])
            .any(|w| !w.is_finite())
        {
            return Err("cold.weights, cold.mean and cold.bias must be finite".into());
        }
        if !(0.0..=1.0).contains(&self.on_threshold)
            || !(0.0..=1.0).contains(&self.calm_below)
            || self.calm_below > self.on_threshold
        {
            return Err(format!(
                "need 0 <= cold.calm_below <= cold.on_threshold <= 1, got {} and {}",
                self.calm_below, self.on_threshold
            ));
        }
        if !(self.window_s.is_finite() && self.window_s > 0.0) {
            return Err(format!("cold.window_s must be > 0, got {}", self.window_s));
        }
        Ok(())
    }
}

/// Where a model came from and what it reached: kept in the file itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// What data trained it.
    pub trained_on: String,
    /// What it was evaluated on (held out from training).
    pub evaluated_on: String,
    /// When (UTC date).
    pub date: String,
    /// The command that made it.
    pub command: String,
    /// Figures it reached, by name.
    pub metrics: std::collections::BTreeMap<String, f64>,
}

/// Detector parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShoutModel {
    /// Model name and version, e.g. `shout-v1`.
    pub name: String,
    /// Cue order of the vectors below.
    pub cues: Vec<String>,
    /// Cue normalisation: subtract `mean`...
    pub mean: [f32; N_CUES],
    /// ...then divide by `scale`.
    pub scale: [f32; N_CUES],
    /// Logistic weights on the normalised cues.
    pub weights: [f32; N_CUES],
    /// Logistic bias.
    pub bias: f32,
    /// Per-hop F0 rise is clamped to ± this many semitones (octave errors).
    pub f0_clamp_st: f32,
    /// The level change counts up to ± this many dB and no more: level is a weak
    /// cue (AGC removes it, a closer handset fakes it), so it may support
    /// F0 and tilt but never carry a decision alone.
    #[serde(default = "default_level_clamp")]
    pub level_clamp_db: f32,
    /// Time constant of the cue smoothing over voiced hops, s.
    pub smoothing_s: f32,
    /// Score that starts counting towards a shouting segment.
    pub on_threshold: f32,
    /// Score that starts counting while the caller's own baseline does not
    /// exist yet (the first 1.5 s of their calm voice), when the cues are
    /// measured against population priors: a rougher yardstick, off by a
    /// whole voice for a high voice or a bright line, so only a clearer
    /// rise counts. `None`: the same as `on_threshold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_on_threshold: Option<f32>,
    /// A hop counts towards a shouting segment only if its (smoothed) F0
    /// rise is at least this, semitones. Shouting raises F0 by many
    /// semitones; a voice half an octave *below* its yardstick that still
    /// scores high is bright for another reason (a tinny line, an HF radio,
    /// another speaker). Deep enough not to block a man shouting at the
    /// start of a call, measured against priors nearer a woman's voice.
    #[serde(default = "default_min_f0_rise")]
    pub min_f0_rise_st: f32,
    /// Once this speaker has had a shouting segment in the call, later
    /// segments need only this F0 rise, semitones. The first decision in a
    /// call is the one a calm voice can trigger (a louder, brighter prompt
    /// with little rise in pitch), so `min_f0_rise_st` is set high enough
    /// that calm voices never reach it; a caller who has already shouted
    /// and goes on shouting with less pitch is still heard. `None`: the
    /// same as `min_f0_rise_st`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rearm_f0_rise_st: Option<f32>,
    /// Score below which shouting fades.
    pub off_threshold: f32,
    /// Voiced time above `on_threshold` needed to start a segment, s:
    /// a single loud word is shorter than this.
    pub min_on_voiced_s: f32,
    /// Speech time below `off_threshold` that ends a segment, s.
    pub min_off_s: f32,
    /// Silence that ends a segment (and resets the evidence), s.
    pub end_pause_s: f32,
    /// Baseline learning and priors.
    pub baseline: BaselineConfig,
    /// The cold-start decision before the caller's own baseline exists.
    /// `None` (older models): before the baseline, the relative cues are
    /// measured against the priors and `prior_on_threshold` decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold: Option<ColdStart>,
    /// Where this model came from.
    pub provenance: Provenance,
}

/// `min_f0_rise_st` of a model that sets none: half an octave down, so no
/// rising voice is ever held back by it.
pub const NO_F0_FLOOR_ST: f32 = -6.0;

fn default_min_f0_rise() -> f32 {
    NO_F0_FLOOR_ST
}

fn default_level_clamp() -> f32 {
    6.0
}

/// The model shipped with shoutcue.
pub const BUILTIN_MODEL_JSON: &str = include_str!("../../../../models/shout-v1.json");

impl ShoutModel {
    /// The model shipped with shoutcue (`models/shout-v1.json`).
    pub fn builtin() -> Self {
        // The file is checked by a test, so this cannot fail in a release.
        serde_json::from_str(BUILTIN_MODEL_JSON).expect("models/shout-v1.json is valid")
    }

    /// Reads a model file.
    pub fn load(path: &std::path::Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let m: Self = serde_json::from_str(&text).map_err(|e| ModelError::Parse {
            path: path.display().to_string(),
            source: e,
        })?;
        m.validate().map_err(|problem| ModelError::Invalid {
            path: path.display().to_string(),
            problem,
        })?;
        Ok(m)
    }

    /// This model with a line's calibration applied to its cold start.
    pub fn calibrated(
        &self,
        line: &super::line::LineCalibration,
    ) -> Result<Self, super::line::LineError> {
        let mut m = self.clone();
        let cold = m.cold.as_mut().ok_or(super::line::LineError::NoReference)?;
        cold.line_shift = Some(line.shift(cold)?);
        Ok(m)
    }

    /// Checks the values are usable (positive scales, ordered thresholds).
    pub fn validate(&self) -> Result<(), String> {
        if self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!(
                "scale must be positive and finite, got {:?}",
                self.scale
            ));
        }
        if self
            .weights
            .iter()
            .chain([&self.bias])
            .any(|w| !w.is_finite())
        {
            return Err("weights and bias must be finite".into());
        }
        if !(0.0..=1.0).contains(&self.off_threshold)
            || !(0.0..=1.0).contains(&self.on_threshold)
            || self.off_threshold > self.on_threshold
        {
            return Err(format!(
                "need 0 <= off_threshold <= on_threshold <= 1, got off {} on {}",
                self.off_threshold, self.on_threshold
            ));
        }
        if !self.min_f0_rise_st.is_finite() {
            return Err(format!(
                "min_f0_rise_st must be finite, got {}",
                self.min_f0_rise_st
            ));
        }
        if let Some(r) = self.rearm_f0_rise_st {
            if !(r.is_finite() && r <= self.min_f0_rise_st) {
                return Err(format!(
                    "need rearm_f0_rise_st <= min_f0_rise_st, finite, got {r} with {}",
                    self.min_f0_rise_st
                ));
            }
        }
        if let Some(p) = self.prior_on_threshold {
            if !(self.on_threshold..=1.0).contains(&p) {
                return Err(format!(
                    "need on_threshold <= prior_on_threshold <= 1, got {p} with on {}",
                    self.on_threshold
                ));
            }
        }
        if let Some(c) = &self.cold {
            c.validate()?;
        }
        for (name, v) in [
            ("smoothing_s", self.smoothing_s),
            ("min_on_voiced_s", self.min_on_voiced_s),
            ("min_off_s", self.min_off_s),
            ("end_pause_s", self.end_pause_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be >= 0, got {v}"));
            }
        }
        Ok(())
    }
}

/// A model file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file cannot be read.
    #[error("{path}: cannot read model: {source}")]
    Io {
        /// The model file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a model.
    #[error("{path}: not a shout model: {source}")]
    Parse {
        /// The model file.
        path: String,
        /// What serde found.
        source: serde_json::Error,
    },
    /// The values are out of range.
    #[error("{path}: invalid model: {problem}")]
    Invalid {
        /// The model file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}
