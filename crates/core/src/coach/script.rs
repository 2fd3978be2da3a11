//! The words of the script, per language, loaded from TOML.
//!
//! The coach only decides *which* line and *when*; the sinks ask the
//! [`Script`] for the words. English is built in (`models/script-en.toml`,
//! embedded at compile time); other languages are files of the same shape.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::events::{NudgeKind, Rung};

/// The built-in English script, as text.
pub const SCRIPT_EN: &str = include_str!("../../../../models/script-en.toml");

/// The one placeholder a line may hold.
const NAME: &str = "{name}";

/// Why a script file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The file could not be read.
    #[error("cannot read script {path}: {source}")]
    Read {
        /// The file asked for.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a script.
    #[error("script {path} is not valid: {source}")]
    Parse {
        /// The file asked for.
        path: PathBuf,
        /// What the TOML parser said, with line and column.
        source: Box<toml::de::Error>,
    },
    /// `steps` does not hold one sentence per step.
    #[error("script {path}: `steps` must hold {expected} sentences, got {got}")]
    StepCount {
        /// The file asked for.
        path: PathBuf,
        /// Sentences needed.
        expected: usize,
        /// Sentences found.
        got: usize,
    },
    /// A line is empty.
    #[error("script {path}: `{key}` is empty")]
    Empty {
        /// The file asked for.
        path: PathBuf,
        /// The empty line's key.
        key: String,
    },
    /// A line holds a brace that is not the `{name}` placeholder.
    #[error("script {path}: `{key}` may only use the placeholder {{name}}, got {got:?}")]
    Placeholder {
        /// The file asked for.
        path: PathBuf,
        /// The offending line's key.
        key: String,
        /// The line as written.
        got: String,
    },
}

/// Which line of the script to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A ladder step, 1 to 4 (step 3's repeat uses step 3's sentence).
    Step(u8),
    /// The customer has stopped shouting: acknowledge, summarise.
    Calm,
    /// The ladder is at its end: end the call.
    EndCall,
    /// A private nudge about the agent's voice.
    Nudge(NudgeKind),
}

impl From<Rung> for Line {
    fn from(r: Rung) -> Self {
        Line::Step(r.step)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNudges {
    raised_voice: String,
    overtalk: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    lang: String,
    steps: Vec<String>,
    calm: String,
    end_call: String,
    #[serde(default)]
    disclosure: Option<String>,
    nudges: RawNudges,
}

/// The sentences of one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    lang: String,
    steps: [String; 4],
    calm: String,
    end_call: String,
    disclosure: Option<String>,
    raised_voice: String,
    overtalk: String,
}

impl Default for Script {
    /// The built-in English script.
    fn default() -> Self {
        Self::english()
    }
}

impl Script {
    /// The built-in English script (`models/script-en.toml`).
    pub fn english() -> Self {
        // The embedded file is fixed at compile time and parsed by the tests
        // (tests/coach_script.rs), so this cannot fail at run time.
        Self::parse(SCRIPT_EN, "models/script-en.toml (built in)")
            .unwrap_or_else(|e| unreachable!("built-in English script is invalid: {e}"))
    }

    /// Reads and checks a script file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScriptError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks script TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: impl AsRef<Path>) -> Result<Self, ScriptError> {
        let path = origin.as_ref().to_path_buf();
        let raw: RawScript = toml::from_str(text).map_err(|source| ScriptError::Parse {
            path: path.clone(),
            source: Box::new(source),
        })?;
        let got = raw.steps.len();
        let steps: [String; 4] = raw.steps.try_into().map_err(|_| ScriptError::StepCount {
            path: path.clone(),
            expected: 4,
            got,
        })?;
        let script = Script {
            lang: raw.lang,
            steps,
            calm: raw.calm,
            end_call: raw.end_call,
            disclosure: raw.disclosure,
            raised_voice: raw.nudges.raised_voice,
            overtalk: raw.nudges.overtalk,
        };
        script.check(&path)?;
        Ok(script)
    }

    fn check(&self, path: &Path) -> Result<(), ScriptError> {
        let mut lines: Vec<(String, &str)> = vec![("lang".into(), self.lang.as_str())];
        for (i, s) in self.steps.iter().enumerate() {
            lines.push((format!("steps[{i}]"), s));
        }
        lines.push(("calm".into(), &self.calm));
        lines.push(("end_call".into(), &self.end_call));
        if let Some(d) = &self.disclosure {
            lines.push(("disclosure".into(), d));
        }
        lines.push(("nudges.raised_voice".into(), &self.raised_voice));
        lines.push(("nudges.overtalk".into(), &self.overtalk));
        for (key, text) in lines {
            if text.trim().is_empty() {
                return Err(ScriptError::Empty {
                    path: path.to_path_buf(),
                    key,
                });
            }
            if text.replace(NAME, "").contains(['{', '}']) {
                return Err(ScriptError::Placeholder {
                    path: path.to_path_buf(),
                    key,
                    got: text.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The script's language tag, e.g. `en`.
    pub fn lang(&self) -> &str {
        &self.lang
    }

    /// The notice that tells callers a system listens for raised voices
    /// (for the IVR or the agent's greeting; the EU AI Act, art. 50,
    /// expects people to be told), if the script has one.
    pub fn disclosure(&self) -> Option<&str> {
        self.disclosure.as_deref()
    }

    /// The line as written, placeholder included.
    ///
    /// A step outside 1-4 gets step 4's sentence rather than a panic.
    pub fn template(&self, line: Line) -> &str {
        match line {
            Line::Step(s) => &self.steps[usize::from(s.clamp(1, 4)) - 1],
            Line::Calm => &self.calm,
            Line::EndCall => &self.end_call,
            Line::Nudge(NudgeKind::RaisedVoice) => &self.raised_voice,
            Line::Nudge(NudgeKind::Overtalk) => &self.overtalk,
        }
    }

    /// The line ready to show: `{name}` filled in, or dropped with its
    /// comma when no name is known.
    pub fn render(&self, line: Line, name: Option<&str>) -> Cow<'_, str> {
        let text = self.template(line);
        if !text.contains(NAME) {
            return Cow::Borrowed(text);
        }
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => Cow::Owned(text.replace(NAME, n)),
            None => Cow::Owned(drop_placeholder(text)),
        }
    }
}

/// Removes `{name}` and tidies the punctuation it leaves behind, so
/// "{name}, please wait." reads "Please wait." and
/// "I am happy to help you, {name}, but ..." reads
/// "I am happy to help you, but ...". Hand-rolled: a template engine would be far more than
/// one optional word needs.
fn drop_placeholder(text: &str) -> String {
    let starts_with_name = text.trim_start().starts_with(NAME);
    let mut s = text.replace(NAME, "");
    for (from, to) in [
        (", ,", ","),
        (" ,", ","),
        (",,", ","),
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (",.", "."),
        (",?", "?"),
        (",!", "!"),
        ("  ", " "),
    ] {
        while s.contains(from) {
            s = s.replace(from, to);
        }
    }
    let s = s.trim_start_matches([',', ' ']).trim_end();
    if starts_with_name {
        let mut chars = s.chars();
        match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    } else {
        s.to_string()
    }
}
