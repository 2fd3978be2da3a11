//! `shoutcue replay`: a recorded call through detector and coach, as events.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use shoutcue_core::detector::HopReport;
use shoutcue_core::engine::{replay_call, CallError, Event, Observer, Pace, Sink, SinkError};
use shoutcue_core::features::Features;
use shoutcue_core::sinks::{AudacityLabels, CallInfo, IncidentRecorder, JsonlSink, PrettySink};
use shoutcue_core::source::ChannelChoice;
use shoutcue_live::overlay::{OverlayFeed, OverlayOptions, Publisher, ServedCall};

use super::{create, open_source, stop_on_ctrl_c, warn_non_finite};
use crate::args::ChannelArgs;
use crate::args::{CoachArgs, Setup};
use crate::AnyError;

/// Options of `shoutcue replay`.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The recording (stereo: agent left, customer right; mono: customer).
    pub file: PathBuf,
    /// Print a human timeline instead of JSON Lines, in time order (with
    /// --realtime, line by line as decided).
    #[arg(long)]
    pub pretty: bool,
    /// Write detections and cues as an Audacity label track.
    #[arg(long, value_name = "FILE.txt")]
    pub labels_out: Option<PathBuf>,
    /// Write the incident note for the line manager as PREFIX.json and PREFIX.md.
    #[arg(long, value_name = "PREFIX")]
    pub note_out: Option<PathBuf>,
    /// Pace the replay at real time (for demos and the overlay).
    #[arg(long)]
    pub realtime: bool,
    /// Serve the agent's overlay page on http://127.0.0.1:PORT/ while
    /// replaying (needs --realtime); keeps serving after the call until Ctrl-C.
    #[arg(long, value_name = "PORT", requires = "realtime")]
    pub serve: Option<u16>,
    /// Append the agent's marks from the overlay ("said", "dismiss") to this JSON Lines file.
    #[arg(long, value_name = "FILE.jsonl", requires = "serve")]
    pub feedback: Option<PathBuf>,
    #[command(flatten)]
    pub setup: CoachArgs,
    #[command(flatten)]
    pub channels: ChannelArgs,
}

/// Runs `shoutcue replay`.
pub fn run(a: ReplayArgs) -> Result<(), AnyError> {
    replay(
        &a.file,
        &ReplayOpts {
            pretty: a.pretty,
            labels_out: a.labels_out,
            note_out: a.note_out,
            realtime: a.realtime,
            serve: a.serve,
            feedback: a.feedback,
            setup: a.setup,
            choice: a.channels.choice(),
        },
    )
}

/// What `replay` was asked to do besides printing events.
struct ReplayOpts {
    /// A human timeline instead of JSON Lines.
    pub pretty: bool,
    /// Audacity label track to write.
    pub labels_out: Option<PathBuf>,
    /// Incident note prefix.
    pub note_out: Option<PathBuf>,
    /// Pace at real time.
    pub realtime: bool,
    /// Serve the overlay on this port.
    pub serve: Option<u16>,
    /// Marks file for the overlay.
    pub feedback: Option<PathBuf>,
    /// Model, coach timing, script.
    pub setup: CoachArgs,
    /// Which channel is whose.
    pub choice: ChannelChoice,
}

/// Replays `file`; Ctrl-C ends the call early, cleanly, with its note.
fn replay(file: &Path, o: &ReplayOpts) -> Result<(), AnyError> {
    let setup = o.setup.load()?;
    let mut src = open_source(file, o.choice)?;
    let name = file.display().to_string();
    let stdout: Box<dyn Write> = Box::new(std::io::LineWriter::new(std::io::stdout()));
    let events: Box<dyn Sink> = if o.pretty {
        let mut s = PrettySink::new(stdout, setup.script.clone());
        if let Some(n) = &o.setup.name {
            s = s.with_name(n.clone());
        }
        if !o.realtime {
            s = s.time_ordered();
        }
        Box::new(s)
    } else {
        let mut s = JsonlSink::new(stdout, setup.script.clone());
        if let Some(n) = &o.setup.name {
            s = s.with_name(n.clone());
        }
        Box::new(s)
    };
    let mut sinks = ReplaySinks {
        events,
        labels: match &o.labels_out {
            Some(p) => Some(AudacityLabels::new(create(p)?)),
            None => None,
        },
        // The recorder is read after the replay, so it is held by type, not boxed.
        recorder: o.note_out.is_some().then(|| {
            IncidentRecorder::new(CallInfo {
                source: name.clone(),
                started_at: o.setup.started_at.clone(),
            })
        }),
        labels_failed: false,
    };
    let pace = if o.realtime {
        Pace::RealTime
    } else {
        Pace::Fast
    };
    let stop = stop_on_ctrl_c()?;
    let (served, feed) = match o.serve {
        Some(port) => {
            let (s, f) = serve(port, &name, o, &setup)?;
            (Some(s), Some(f))
        }
        None => (None, None),
    };
    let mut observer = OptFeed(feed);
    let result = replay_call(
        &name,
        &mut src,
        &setup.model,
        setup.coach,
        &mut sinks,
        pace,
        &mut observer,
        Some(&stop),
    );
    let interrupted = stop.load(Ordering::Relaxed);
    if let Some(served) = served {
        let duration = match &result {
            Ok(st) if !interrupted => Some(st.duration_s),
            _ => None,
        };
        if let Some(mut f) = observer.0.take() {
            if let Some(d) = duration {
                f.end(d);
            }
        }
        let (overlay, report) = served.join()?;
        // Keep serving until Ctrl-C: the agent may still mark the last cue.
        if !stop.load(Ordering::Relaxed) {
            eprintln!(
                "shoutcue: call over; overlay still at {} (Ctrl-C to quit)",
                overlay.url()
            );
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        if let Some(prefix) = &o.note_out {
            shoutcue_live::overlay::write_note(prefix, &report.note, &overlay.marks())?;
        }
    } else if let (Some(prefix), Some(rec)) = (&o.note_out, &sinks.recorder) {
        // The note is written even when the recording broke off: nothing processed is lost.
        for (ext, markdown) in [("json", false), ("md", true)] {
            let path = prefix.with_extension(ext);
            let w = create(&path)?;
            let written = if markdown {
                rec.note().write_markdown(w)
            } else {
                rec.note().write_json(w)
            };
            written.map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    warn_non_finite(&name, &src);
    match result {
        Err(CallError::Sink { source, .. }) if is_broken_pipe(&source) => Ok(()),
        Err(CallError::Sink { source, .. }) => {
            Err(name_output(source, sinks.labels_failed, o).into())
        }
        r => r.map(|_| ()).map_err(Into::into),
    }
}

/// A failed output, named by where it goes (stdout or the file), which is
/// what the user can fix (a full disk), rather than by the input.
fn name_output(e: SinkError, labels_failed: bool, o: &ReplayOpts) -> String {
    let place = match (&o.labels_out, labels_failed) {
        (Some(p), true) => p.display().to_string(),
        _ => "stdout".to_string(),
    };
    format!("{place}: {e}")
}

/// The overlay server and publisher for `replay --realtime --serve`.
fn serve(
    port: u16,
    name: &str,
    o: &ReplayOpts,
    setup: &Setup,
) -> Result<(ServedCall, OverlayFeed), AnyError> {
    let mut opts = OverlayOptions::loopback(port, name);
    opts.feedback = o.feedback.clone();
    let publisher = Publisher::new(
        setup.script.clone(),
        o.setup.name.clone(),
        CallInfo {
            source: name.to_string(),
            started_at: o.setup.started_at.clone(),
        },
    );
    let (served, feed) = ServedCall::start(opts, publisher)?;
    eprintln!("shoutcue: overlay at {}", served.overlay().url());
    eprintln!(
        "shoutcue: to mark the cue shown last from a desktop hotkey: {}",
        served.overlay().hotkey_command()
    );
    Ok((served, feed))
}

fn is_broken_pipe(e: &SinkError) -> bool {
    matches!(e, SinkError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The replay's outputs. Like `Vec<S>` as a sink: every output is tried,
/// the first error is returned, so one broken output does not silence the others.
struct ReplaySinks {
    events: Box<dyn Sink>,
    labels: Option<AudacityLabels<std::io::BufWriter<std::fs::File>>>,
    recorder: Option<IncidentRecorder>,
    /// The label track failed first (so its path is named, not stdout's).
    labels_failed: bool,
}

impl Sink for ReplaySinks {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        let a = self.events.event(ev);
        let b = self.labels.as_mut().map_or(Ok(()), |s| s.event(ev));
        let c = self.recorder.as_mut().map_or(Ok(()), |s| s.event(ev));
        self.labels_failed |= a.is_ok() && b.is_err();
        a.and(b).and(c)
    }
    fn finish(&mut self, t: f64) -> Result<(), SinkError> {
        let a = self.events.finish(t);
        let b = self.labels.as_mut().map_or(Ok(()), |s| s.finish(t));
        let c = self.recorder.as_mut().map_or(Ok(()), |s| s.finish(t));
        self.labels_failed |= a.is_ok() && b.is_err();
        a.and(b).and(c)
    }
}

/// The overlay feed when serving, nothing otherwise.
struct OptFeed(Option<OverlayFeed>);

impl Observer for OptFeed {
    fn hop(&mut self, r: &HopReport, c: &Features, a: Option<&Features>) {
        if let Some(f) = &mut self.0 {
            f.hop(r, c, a);
        }
    }
    fn event(&mut self, decided_at: f64, ev: &Event) {
        if let Some(f) = &mut self.0 {
            f.event(decided_at, ev);
        }
    }
}
