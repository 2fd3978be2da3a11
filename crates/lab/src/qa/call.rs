//! One call of the batch: replay it into its per-call outputs and sum it up
//! as a row, or skip it if its outputs are up to date.

use std::ffi::OsString;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plot::Timeline;
use super::row::{CallRow, CueCell, Outputs};
use super::QaOptions;
use shoutcue_core::coach::{CoachConfig, Script};
use shoutcue_core::detector::{SegmentEvent, ShoutModel};
use shoutcue_core::engine::{replay_call, Pace};
use shoutcue_core::engine::{Event, Sink, SinkError};
use shoutcue_core::sinks::{
    round_ms, AudacityLabels, CallInfo, CueOutcome, IncidentRecorder, JsonlSink,
};
use shoutcue_core::source::{ChannelChoice, WavSource};
use shoutcue_core::Speaker;

/// One call's settings: the batch's, or its manifest row's.
struct Settings {
    channels: ChannelChoice,
    entry: super::manifest::Entry,
    /// What the done marker keeps of them: a row made with others is redone.
    key: String,
}

/// Marks a call done: its row, and the source it was made from.
#[derive(Serialize, Deserialize)]
struct Done {
    v: u8,
    source_size: u64,
    source_mtime_ns: u128,
    include_private: bool,
    /// The channel choice and manifest row the row was made with (rows
    /// made with others are redone).
    #[serde(default)]
    channels: String,
    /// The model, timing and script it was made with ([`super::Setup::fingerprint`]).
    #[serde(default)]
    setup: String,
    row: CallRow,
}

/// 2: rows made before a 0-byte data size was read to the end said such a
/// call was empty and "ok"; they are redone.
const DONE_VERSION: u8 = 2;

/// What happened to one call.
pub(crate) struct Outcome {
    pub row: CallRow,
    pub skipped: bool,
}

/// Why `process` gave no outcome: the run was stopped (Ctrl-C) first.
pub(crate) struct Interrupted;

/// What every call shares.
pub(crate) struct Ctx {
    dir: PathBuf,
    calls_dir: PathBuf,
    force: bool,
    include_private: bool,
    channels: ChannelChoice,
    manifest: Option<std::sync::Arc<super::manifest::Manifest>>,
    stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    model: ShoutModel,
    coach: CoachConfig,
    script: Script,
    setup: String,
}

impl Ctx {
    pub fn new(opts: &QaOptions) -> Self {
        Self {
            dir: opts.dir.clone(),
            calls_dir: opts.out.join("calls"),
            force: opts.force,
            include_private: opts.include_private,
            channels: opts.channels,
            manifest: opts.manifest.clone(),
            stop: opts.stop.clone(),
            model: opts.setup.model.clone(),
            coach: opts.setup.coach,
            script: opts.setup.script.clone(),
            setup: opts.setup.fingerprint(),
        }
    }

    /// Whether the run was asked to stop.
    pub fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Analyses `wav`, or takes its row from the done marker if up to date;
    /// `Interrupted` when the run was stopped before or during the call
    /// (nothing is marked done, so the next run does it).
    pub fn process(&self, wav: &Path) -> Result<Outcome, Interrupted> {
        if self.stopped() {
            return Err(Interrupted);
        }
        let rel = wav.strip_prefix(&self.dir).unwrap_or(wav);
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        // `x.wav` gives `calls/x.*`; any other format keeps its extension
        // (`calls/x.mp3.*`), so `x.wav` and `x.mp3` side by side never
        // overwrite each other's report.
        let is_wav = rel
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        let stem = if is_wav {
            self.calls_dir.join(rel.with_extension(""))
        } else {
            self.calls_dir.join(rel)
        };
        let done_path = with_suffix(&stem, ".done.json");
        let entry = self
            .manifest
            .as_ref()
            .and_then(|m| m.get(&name))
            .cloned()
            .unwrap_or_default();
        let channels = entry.channels.unwrap_or(self.channels);
        let settings = Settings {
            key: format!(
                "{channels:?}|{:?}|{:?}|{:?}",
                entry.started_at, entry.agent_id, entry.labels
            ),
            channels,
            entry,
        };
        let meta = std::fs::metadata(wav);
        if let Ok(m) = &meta {
            if !m.is_file() {
                // A FIFO would hang the open, /dev/zero never end.
                let reason = match WavSource::open(wav, settings.channels) {
                    Err(e) => e.to_string(),
                    Ok(_) => format!("{}: not a regular file", wav.display()),
                };
                return Ok(Outcome {
                    row: CallRow::skipped(name, reason),
                    skipped: false,
                });
            }
        }
        let stamp = meta.ok().map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            (m.len(), mtime)
        });
        if !self.force {
            if let Some(row) = self.up_to_date(&done_path, stamp, &settings.key) {
                return Ok(Outcome { row, skipped: true });
            }
        }
        let row = self.analyse(wav, name, &stem, &settings);
        if self.stopped() {
            // Cut short: its outputs are partial and it is not marked done.
            return Err(Interrupted);
        }
        if let (None, Some((size, mtime))) = (&row.error, stamp) {
            let done = Done {
                v: DONE_VERSION,
                source_size: size,
                source_mtime_ns: mtime,
                include_private: self.include_private,
                channels: settings.key.clone(),
                setup: self.setup.clone(),
                row: row.clone(),
            };
            // Written last: a call interrupted before this is redone next time.
            // If it cannot be written, the call is simply redone next time.
            if let Ok(text) = serde_json::to_string_pretty(&done) {
                let _ = std::fs::write(&done_path, text + "\n");
            }
        }
        Ok(Outcome {
            row,
            skipped: false,
        })
    }

    fn up_to_date(
        &self,
        done_path: &Path,
        stamp: Option<(u64, u128)>,
        key: &str,
    ) -> Option<CallRow> {
        let (size, mtime) = stamp?;
        let done: Done = serde_json::from_slice(&std::fs::read(done_path).ok()?).ok()?;
        let fresh = done.v == DONE_VERSION
            && done.source_size == size
            && done.source_mtime_ns == mtime
            && done.include_private == self.include_private
            && done.channels == key
            && done.setup == self.setup;
        let outputs = done.row.outputs.as_ref()?;
        let report = self.calls_dir.parent()?;
        let all_there = [
            &outputs.plot_png,
            &outputs.plot_svg,
            &outputs.note_md,
            &outputs.note_json,
            &outputs.events,
            &outputs.labels,
            &outputs.page,
        ]
        .iter()
        .all(|p| report.join(p).is_file());
        (fresh && all_there).then_some(done.row)
    }

    fn analyse(&self, wav: &Path, name: String, stem: &Path, settings: &Settings) -> CallRow {
        let from_manifest = |mut row: CallRow| {
            row.agent_id = settings.entry.agent_id.clone();
            row.labels = settings.entry.labels.clone();
            row
        };
        let mut src = match WavSource::open(wav, settings.channels) {
            Ok(s) => s,
            Err(e) => return from_manifest(CallRow::failed(name, e.to_string())),
        };
        if let Some(parent) = stem.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return from_manifest(CallRow::failed(
                    name,
                    format!("{}: cannot create: {e}", parent.display()),
                ));
            }
        }
        let files = Files::new(stem);
        let (events, labels) = match (create(&files.events), create(&files.labels)) {
            (Ok(e), Ok(l)) => (e, l),
            (Err(e), _) | (_, Err(e)) => return from_manifest(CallRow::failed(name, e)),
        };
        let has_agent = src.has_agent();
        let mut sinks = CallSinks {
            events: JsonlSink::new(events, self.script.clone()),
            labels: AudacityLabels::new(labels),
            recorder: IncidentRecorder::new(CallInfo {
                source: name.clone(),
                started_at: settings.entry.started_at.clone(),
            }),
            include_private: self.include_private,
            agent_shout_s: 0.0,
        };
        let spec = *src.spec();
        let expected_s = spec
            .declared_frames
            .map_or(0.0, |f| f as f64 / spec.sample_rate as f64);
        let mut timeline = Timeline::new(expected_s, has_agent, self.include_private);
        let result = replay_call(
            &wav.display().to_string(),
            &mut src,
            &self.model,
            self.coach,
            &mut sinks,
            Pace::Fast,
            &mut timeline,
            self.stop.as_deref(),
        );
        let mut error = result.err().map(|e| e.to_string());
        let mut warnings: Vec<String> = src.warnings().iter().map(|w| w.to_string()).collect();
        if src.non_finite_samples() > 0 {
            warnings.push(format!(
                "{} NaN/Inf samples replaced by silence",
                src.non_finite_samples()
            ));
        }
        let note = sinks.recorder.note();
        let duration_s = note.duration_s;
        // `+ 0.0`: a float sum starts at -0.0, which would print as "-0.0".
        let customer_shout_s = note.episodes.iter().map(|e| e.duration_s).sum::<f64>() + 0.0;
        let swap = SwapCheck {
            has_agent,
            customer_shout_s,
            agent_shout_s: sinks.agent_shout_s,
            speech_s: timeline.speech_s(),
        };
        if let Some(w) = swap.warning(self.include_private) {
            warnings.push(w);
        }
        timeline.finish(duration_s);

        let cues: Vec<CueCell> = note
            .cues
            .iter()
            .map(|c| CueCell {
                shown_s: c.shown_s,
                step: c.step,
                repeat: c.repeat,
                said: match c.outcome {
                    CueOutcome::Delivered => "yes",
                    CueOutcome::NotDelivered => "no",
                    CueOutcome::Unknown => "unknown",
                    CueOutcome::NoVerdict => "no verdict",
                }
                .to_string(),
            })
            .collect();

        let mut keep = |r: Result<(), String>| {
            if let Err(e) = r {
                error.get_or_insert(e);
            }
        };
        keep(create(&files.note_json).and_then(|w| {
            note.write_json(w)
                .map_err(|e| format!("{}: {e}", files.note_json.display()))
        }));
        let note_md = note.to_markdown();
        keep(
            std::fs::write(&files.note_md, &note_md)
                .map_err(|e| format!("{}: cannot write: {e}", files.note_md.display())),
        );
        let title = format!("{name}  ({:.1} s)", duration_s);
        keep(super::plot::draw(
            &timeline,
            &cues,
            &title,
            &files.plot_png,
            &files.plot_svg,
        ));

        let link = |p: &Path| {
            let r = p
                .strip_prefix(self.calls_dir.parent().unwrap_or(Path::new("")))
                .unwrap_or(p);
            r.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        };
        let mut row = CallRow {
            name,
            error,
            skipped: None,
            warnings,
            duration_s,
            has_agent,
            episodes: note.episodes.len() as u32,
            shouting_s: round_ms(note.episodes.iter().map(|e| e.duration_s).sum::<f64>() + 0.0),
            highest_step: note.cues.iter().map(|c| c.step).max().unwrap_or(0),
            ladder_ended: note.ladder_ended,
            agent_nudges: self
                .include_private
                .then_some(timeline.nudges().len() as u32),
            agent_shouting_s: self.include_private.then(|| {
                round_ms(
                    timeline
                        .agent_spans()
                        .iter()
                        .map(|s| s.1 - s.0)
                        .sum::<f64>()
                        + 0.0,
                )
            }),
            cues,
            agent_id: settings.entry.agent_id.clone(),
            labels: settings.entry.labels.clone(),
            outputs: Some(Outputs {
                plot_png: link(&files.plot_png),
                plot_svg: link(&files.plot_svg),
                note_md: link(&files.note_md),
                note_json: link(&files.note_json),
                events: link(&files.events),
                labels: link(&files.labels),
                page: link(&files.page),
            }),
        };
        let page = super::page::write(&files.page, &row, wav, &note_md, &files.plot_png);
        if let Err(e) = page {
            row.error.get_or_insert(e);
        }
        row
    }
}

/// `stem` + `suffix`, without `Path::with_extension` eating a dotted name's tail.
fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = stem.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn create(path: &Path) -> Result<BufWriter<File>, String> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| format!("{}: cannot create: {e}", path.display()))
}

/// The per-call output paths.
struct Files {
    events: PathBuf,
    labels: PathBuf,
    note_md: PathBuf,
    note_json: PathBuf,
    plot_png: PathBuf,
    plot_svg: PathBuf,
    page: PathBuf,
}

impl Files {
    fn new(stem: &Path) -> Self {
        Self {
            events: with_suffix(stem, ".jsonl"),
            labels: with_suffix(stem, ".txt"),
            note_md: with_suffix(stem, ".md"),
            note_json: with_suffix(stem, ".json"),
            plot_png: with_suffix(stem, ".png"),
            plot_svg: with_suffix(stem, ".svg"),
            page: with_suffix(stem, ".html"),
        }
    }
}

/// The call's sinks, held by value so the note can be read after the run.
struct CallSinks {
    events: JsonlSink<BufWriter<File>>,
    labels: AudacityLabels<BufWriter<File>>,
    recorder: IncidentRecorder,
    include_private: bool,
    /// Seconds the "agent" channel shouted, for the swapped-channels check
    /// (counted even when QA may not see the agent's events).
    agent_shout_s: f64,
}

/// Least agent-side shouting, s, before [`SwapCheck::warning`] speaks.
const SWAP_MIN_AGENT_S: f64 = 2.0;
/// How many times the customer side's shouting the agent side must reach.
const SWAP_RATIO: f64 = 3.0;
/// How many times the customer side's speech the agent side must hold.
/// Shouting alone cannot tell a miswired recorder from an agent who
/// raises their voice: both put seconds of shouting on the agent side (the
/// `sustained_shout` fixture swapped: 3.7 s; `agent_raised`: 4.1 s). Who
/// holds the floor can: a shouting caller does most of the talking (the
/// shouting fixtures' customers speak 3.6 and 10 times as long as their
/// agents), while an agent who snaps does so in a conversation (in
/// `agent_raised` both sides speak about 11 s).
const SWAP_SPEECH_RATIO: f64 = 1.5;

/// What the swapped-channels check weighs, per call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SwapCheck {
    /// The call has an agent channel.
    pub has_agent: bool,
    /// Customer-side shouting, s.
    pub customer_shout_s: f64,
    /// Agent-side shouting, s (private).
    pub agent_shout_s: f64,
    /// Speech on each side (customer, agent), s.
    pub speech_s: (f64, f64),
}

impl SwapCheck {
    /// A warning when the side read as the agent's shouts far more than the
    /// customer's and holds the floor: most likely the recorder put the
    /// customer on the other channel, and the shouting would otherwise be
    /// filed as the agent's private events and the call reported clean.
    ///
    /// The seconds are the agent side's figures, so they are given only with
    /// `--include-private`: without it, QA learns that the call looks swapped
    /// and nothing of how the agent sounded.
    pub(crate) fn warning(&self, include_private: bool) -> Option<String> {
        let (c, a) = (self.customer_shout_s, self.agent_shout_s);
        let suspect = self.has_agent
            && a >= SWAP_MIN_AGENT_S
            && a >= SWAP_RATIO * c
            && self.speech_s.1 >= SWAP_SPEECH_RATIO * self.speech_s.0;
        suspect.then(|| {
            let figures = if include_private {
                format!(" ({a:.1} s vs {c:.1} s)")
            } else {
                String::new()
            };
            format!(
                "the agent channel shouts far more than the customer channel{figures}: are the channels swapped? try --swap-channels"
            )
        })
    }
}

impl Sink for CallSinks {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        // Like `Vec<S>`: every sink is tried, the first error is returned.
        let a = if self.include_private || !ev.is_private() {
            self.events.event(ev)
        } else {
            Ok(())
        };
        if let Event::Segment(SegmentEvent::ShoutEnd {
            speaker: Speaker::Agent,
            duration,
            ..
        }) = *ev
        {
            if duration.is_finite() && duration > 0.0 {
                self.agent_shout_s += duration;
            }
        }
        let b = self.labels.event(ev);
        let c = self.recorder.event(ev);
        a.and(b).and(c)
    }

    fn finish(&mut self, call_end_t: f64) -> Result<(), SinkError> {
        let a = self.events.finish(call_end_t);
        let b = self.labels.finish(call_end_t);
        let c = self.recorder.finish(call_end_t);
        a.and(b).and(c)
    }
}
