//! Timing constants of the coach, loadable from TOML.
//!
//! Every constant is a duration in seconds. The coach turns each into a
//! whole number of hops once, at construction, so the per-hop path only
//! counts integers.
//!
//! The table of keys and defaults is in the [module docs](super).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a coach configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read coach config {path}: {source}")]
    Read {
        /// The file asked for.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a [`CoachConfig`].
    #[error("coach config {path} is not valid: {source}")]
    Parse {
        /// The file asked for (`<inline>` for text given directly).
        path: PathBuf,
        /// What the TOML parser said, with line and column.
        source: Box<toml::de::Error>,
    },
    /// A duration is out of range.
    #[error("coach config {path}: `{key}` must be {expected}, got {got}")]
    Invalid {
        /// The file asked for (`<inline>` for text or values given directly).
        path: PathBuf,
        /// The offending key.
        key: &'static str,
        /// The range it must lie in.
        expected: &'static str,
        /// The value found.
        got: f64,
    },
}

/// The coach's timing constants, in seconds (table in the [module docs](super)).
///
/// Kept apart from the script text so a trainer can retune the timing of a
/// site without touching the sentences, and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoachConfig {
    /// Customer silence that counts as a pause, before a pending cue is shown.
    pub pause_s: f64,
    /// How long after a cue is shown the agent has to say it.
    pub delivery_window_s: f64,
    /// Cumulative agent speech inside the window that counts as saying the cue.
    pub delivery_min_speech_s: f64,
    /// Time after a cue with no customer shouting before the ladder steps down.
    pub calm_after_s: f64,
    /// Calm customer speech needed within that time.
    pub calm_min_speech_s: f64,
    /// Continuous agent speech over a customer who spoke first, before a nudge.
    pub overtalk_s: f64,
    /// Least time between two agent nudges of the same kind.
    pub nudge_cooldown_s: f64,
    /// After the ladder's end, a new shouting episode at least this long
    /// after the last supervisor alert alerts again (each one repeats the
    /// advice to end the call).
    pub realert_after_s: f64,
}

impl Default for CoachConfig {
    fn default() -> Self {
        Self {
            pause_s: 0.25,
            delivery_window_s: 6.0,
            delivery_min_speech_s: 0.4,
            calm_after_s: 10.0,
            calm_min_speech_s: 1.5,
            overtalk_s: 1.0,
            nudge_cooldown_s: 20.0,
            realert_after_s: 120.0,
        }
    }
}

/// Longest duration accepted, so hop counts stay far inside `u32`.
const MAX_S: f64 = 3600.0;

impl CoachConfig {
    /// Reads and checks a config file; keys left out keep their defaults.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let origin = origin.as_ref();
        let cfg: Self = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: origin.to_path_buf(),
            source: Box::new(source),
        })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Checks every duration is finite and in range; `origin` names the source in errors.
    pub fn validate(&self, origin: impl AsRef<Path>) -> Result<(), ConfigError> {
        let origin = origin.as_ref();
        let fields: [(&'static str, f64, f64); 8] = [
            // (key, value, smallest allowed)
            ("pause_s", self.pause_s, 0.0),
            ("delivery_window_s", self.delivery_window_s, 0.01),
            ("delivery_min_speech_s", self.delivery_min_speech_s, 0.01),
            ("calm_after_s", self.calm_after_s, 0.01),
            ("calm_min_speech_s", self.calm_min_speech_s, 0.0),
            ("overtalk_s", self.overtalk_s, 0.0),
            ("nudge_cooldown_s", self.nudge_cooldown_s, 0.0),
            ("realert_after_s", self.realert_after_s, 0.0),
        ];
        for (key, got, min) in fields {
            if !(got.is_finite() && got >= min && got <= MAX_S) {
                return Err(ConfigError::Invalid {
                    path: origin.to_path_buf(),
                    key,
                    expected: if min > 0.0 {
                        "a number of seconds from 0.01 to 3600"
                    } else {
                        "a number of seconds from 0 to 3600"
                    },
                    got,
                });
            }
        }
        if self.delivery_min_speech_s > self.delivery_window_s {
            return Err(ConfigError::Invalid {
                path: origin.to_path_buf(),
                key: "delivery_min_speech_s",
                expected: "no longer than delivery_window_s",
                got: self.delivery_min_speech_s,
            });
        }
        if self.calm_min_speech_s > self.calm_after_s {
            return Err(ConfigError::Invalid {
                path: origin.to_path_buf(),
                key: "calm_min_speech_s",
                expected: "no longer than calm_after_s",
                got: self.calm_min_speech_s,
            });
        }
        Ok(())
    }
}
