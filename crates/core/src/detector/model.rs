//! The shout model: everything the detector decides with, as data
//! (`models/shout-v1.json`), so that retraining never means recompiling.

use serde::{Deserialize, Serialize};

use super::baseline::BaselineConfig;

/// How many cues the model weighs.
pub const N_CUES: usize = 5;
/// Cue order in [`ShoutModel::mean`], [`ShoutModel::scale`] and [`ShoutModel::weights`].
pub const CUE_NAMES: [&str; N_CUES] = ["f0_st", "tilt_db", "level_db", "clip_frac", "centroid_st"];

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
