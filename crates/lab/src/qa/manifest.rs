//! `qa --manifest calls.csv`: per-call settings from the CSV of call
//! metadata that recorders export. One row per recording, named by its
//! path under the batch folder; columns in any order, others ignored:
//!
//! | column | meaning |
//! | --- | --- |
//! | `file` (required) | the recording, relative to the batch folder (`/` or `\`) |
//! | `customer_channel` | `left`, `right`, or a zero-based index |
//! | `agent_channel` | the same; with `customer_channel` only |
//! | `agent_id` | the agent, shown on the index and the call's page |
//! | `started_at` | the call's start, RFC 3339, for the incident note |
//! | `labels` | free text (a queue, a case number), shown beside the call |
//!
//! Calls without a row use the batch's defaults. Every bad row is reported
//! with its line number before anything is analysed: a wrong channel would
//! otherwise make a whole report wrong.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use shoutcue_core::source::ChannelChoice;

/// One call's settings from the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Which channel is whose, if the row says.
    pub channels: Option<ChannelChoice>,
    /// The agent's id.
    pub agent_id: Option<String>,
    /// The call's start, RFC 3339 (checked).
    pub started_at: Option<String>,
    /// Free text shown beside the call.
    pub labels: Option<String>,
    /// The row's line in the file (the header is line 1).
    pub line: u64,
}

/// The manifest, by recording.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// The file it came from.
    pub path: PathBuf,
    by_file: HashMap<String, Entry>,
}

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file cannot be read.
    #[error("{path}: cannot read the manifest: {source}")]
    Io {
        /// The manifest.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// No `file` column.
    #[error("{path}: the manifest has no `file` column (its header: {header})")]
    NoFileColumn {
        /// The manifest.
        path: String,
        /// The header as read.
        header: String,
    },
    /// Rows that cannot be used, each with its line number.
    #[error("{path}: {} bad row{}:\n  {}", problems.len(), if problems.len() == 1 { "" } else { "s" }, problems.join("\n  "))]
    Rows {
        /// The manifest.
        path: String,
        /// `line N: what is wrong`.
        problems: Vec<String>,
    },
}

/// A recording's name as the batch names it: `/`-separated, no leading `./`.
pub fn normalise(name: &str) -> String {
    let s = name.trim().replace('\\', "/");
    let mut s = s.as_str();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s.to_string()
}

fn channel(column: &str, v: &str) -> Result<u16, String> {
    match v.to_ascii_lowercase().as_str() {
        "left" | "l" => Ok(0),
        "right" | "r" => Ok(1),
        s => s.parse::<u16>().map_err(|_| {
            format!("{column}: expected left, right or a channel index (0, 1, ...), got {v:?}")
        }),
    }
}

impl Manifest {
    /// Reads and checks a manifest.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| ManifestError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Checks a manifest's bytes (named `path` in errors).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, ManifestError> {
        let shown = path.display().to_string();
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let header: Vec<String> = match r.headers() {
            Ok(h) => h
                .iter()
                .map(|c| c.trim_start_matches('\u{feff}').to_ascii_lowercase())
                .collect(),
            Err(e) => {
                return Err(ManifestError::Rows {
                    path: shown,
                    problems: vec![format!("line 1: {e}")],
                })
            }
        };
        let col = |name: &str| header.iter().position(|h| h == name);
        let Some(file_col) = col("file") else {
            return Err(ManifestError::NoFileColumn {
                path: shown,
                header: header.join(","),
            });
        };
        let (cc, ac, id, start, labels) = (
            col("customer_channel"),
            col("agent_channel"),
            col("agent_id"),
            col("started_at"),
            col("labels"),
        );
        let mut by_file: HashMap<String, Entry> = HashMap::new();
        let mut problems = Vec::new();
        for rec in r.records() {
            let rec = match rec {
                Ok(rec) => rec,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    problems.push(format!("line {line}: {e}"));
                    continue;
                }
            };
            let line = rec.position().map_or(0, |p| p.line());
            let get = |c: Option<usize>| {
                c.and_then(|c| rec.get(c))
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            let Some(file) = get(Some(file_col)).map(|f| normalise(&f)) else {
                problems.push(format!("line {line}: no file named"));
                continue;
            };
            let mut bad = Vec::new();
            let customer = get(cc).map(|v| channel("customer_channel", &v)).transpose();
            let agent = get(ac).map(|v| channel("agent_channel", &v)).transpose();
            let channels = match (customer, agent) {
                (Err(e), _) | (_, Err(e)) => {
                    bad.push(e);
                    None
                }
                (Ok(None), Ok(Some(_))) => {
                    bad.push("agent_channel: given without customer_channel".to_string());
                    None
                }
                (Ok(None), Ok(None)) => None,
                // A stereo recording named by one side: the other is the agent.
                (Ok(Some(1)), Ok(None)) | (Ok(Some(1)), Ok(Some(0))) => {
                    Some(ChannelChoice::Default)
                }
                (Ok(Some(0)), Ok(None)) | (Ok(Some(0)), Ok(Some(1))) => {
                    Some(ChannelChoice::Swapped)
                }
                (Ok(Some(c)), Ok(a)) if Some(c) == a => {
                    bad.push(format!("customer_channel and agent_channel are both {c}"));
                    None
                }
                (Ok(Some(c)), Ok(a)) => Some(ChannelChoice::Explicit {
                    customer: c,
                    agent: a,
                }),
            };
            let started_at = get(start);
            if let Some(s) = &started_at {
                if let Err(e) = humantime::parse_rfc3339_weak(s) {
                    bad.push(format!(
                        "started_at: expected an RFC 3339 time such as 2026-12-03T09:30:00Z, got {s:?} ({e})"
                    ));
                }
            }
            if !bad.is_empty() {
                problems.push(format!("line {line} ({file}): {}", bad.join("; ")));
                continue;
            }
            if let Some(first) = by_file.get(&file) {
                problems.push(format!(
                    "line {line}: {file} is already given on line {}",
                    first.line
                ));
                continue;
            }
            by_file.insert(
                file,
                Entry {
                    channels,
                    agent_id: get(id),
                    started_at,
                    labels: get(labels),
                    line,
                },
            );
        }
        if !problems.is_empty() {
            return Err(ManifestError::Rows {
                path: shown,
                problems,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            by_file,
        })
    }

    /// The row for the recording the batch names `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.by_file.get(name)
    }

    /// Rows naming no recording of the batch, by line: a typo, or a call
    /// not exported.
    pub fn unmatched<'a>(
        &'a self,
        names: &std::collections::HashSet<String>,
    ) -> Vec<(u64, &'a str)> {
        let mut v: Vec<(u64, &str)> = self
            .by_file
            .iter()
            .filter(|(f, _)| !names.contains(*f))
            .map(|(f, e)| (e.line, f.as_str()))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text.as_bytes(), Path::new("calls.csv"))
    }

    #[test]
    fn rows_give_each_call_its_channels_agent_start_and_labels() {
        let m = parse(
            "\u{feff}Agent_ID,file,customer_channel,started_at,labels,queue\n\
             1234,./a/x.wav,left,2026-12-03T09:30:00Z,\"billing, case 7\",q1\n\
             77,a\\y.wav,,,,\n\
             5,z.wav,2,,,\n",
        )
        .unwrap();
        let x = m.get("a/x.wav").unwrap();
        assert_eq!(x.channels, Some(ChannelChoice::Swapped));
        assert_eq!(x.agent_id.as_deref(), Some("1234"));
        assert_eq!(x.started_at.as_deref(), Some("2026-12-03T09:30:00Z"));
        assert_eq!(x.labels.as_deref(), Some("billing, case 7"));
        assert_eq!(x.line, 2);
        let y = m.get("a/y.wav").unwrap();
        assert_eq!((y.channels, y.agent_id.as_deref()), (None, Some("77")));
        assert_eq!(
            m.get("z.wav").unwrap().channels,
            Some(ChannelChoice::Explicit {
                customer: 2,
                agent: None
            })
        );
        let names = ["a/x.wav".to_string(), "a/y.wav".to_string()]
            .into_iter()
            .collect();
        assert_eq!(m.unmatched(&names), vec![(4, "z.wav")]);
    }

    #[test]
    fn every_bad_row_is_named_by_its_line_before_anything_runs() {
        let e = parse(
            "file,customer_channel,agent_channel,started_at\n\
             ok.wav,right,,\n\
             b.wav,middle,,\n\
             c.wav,,1,\n\
             d.wav,1,,yesterday\n\
             ok.wav,1,,\n\
             ,1,,\n",
        )
        .unwrap_err();
        let text = e.to_string();
        for want in [
            "5 bad rows",
            "line 3 (b.wav): customer_channel: expected left, right or a channel index",
            "line 4 (c.wav): agent_channel: given without customer_channel",
            "line 5 (d.wav): started_at: expected an RFC 3339 time",
            "line 6: ok.wav is already given on line 2",
            "line 7: no file named",
        ] {
            assert!(text.contains(want), "{want:?} not in {text}");
        }
        let e = parse("name,agent\nx.wav,1\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("no `file` column (its header: name,agent)"),
            "{e}"
        );
    }
}
