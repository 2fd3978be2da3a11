//! One live call, whatever protocol brought it: a [`CallEngine`] exactly as
//! `replay` runs it, its JSON Lines events and its incident note. Protocol
//! handlers decode their frames into samples and push them here.

use shoutcue_core::pair::{PairPolicy, PairStats, Pairing, Queued};
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoutcue_core::coach::CoachEvent;
use shoutcue_core::engine::{CallEngine, Event, Sink, SinkError};
use shoutcue_core::sinks::{CallInfo, IncidentRecorder, JsonlSink};

use crate::bus::{self, CallStartLine, IncidentNoteLine, Kind};
use crate::events_file::{self, EventsFile};
use crate::hub::Tap;
use crate::Shared;

/// Which front door a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Genesys Cloud AudioHook Monitor.
    AudioHook,
    /// Asterisk AudioSocket.
    AudioSocket,
    /// FreeSWITCH `mod_audio_fork` / `mod_audio_stream`.
    FreeSwitch,
    /// Twilio Media Streams.
    Twilio,
}

impl Protocol {
    /// Every protocol, in index order.
    pub const ALL: [Protocol; 4] = [
        Protocol::AudioHook,
        Protocol::AudioSocket,
        Protocol::FreeSwitch,
        Protocol::Twilio,
    ];

    /// The name used in events, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::AudioHook => "audiohook",
            Protocol::AudioSocket => "audiosocket",
            Protocol::FreeSwitch => "freeswitch",
            Protocol::Twilio => "twilio",
        }
    }

    /// Index into per-protocol counters.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a call ended, as `call_end` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The platform ended it (hangup, `close`, `stop`).
    Hangup,
    /// The connection went away without a goodbye.
    Disconnect,
    /// A malformed frame or a protocol error ended it.
    Error,
    /// The server was shutting down and the grace period ran out.
    Drained,
}

impl EndReason {
    /// The word in `call_end`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Hangup => "hangup",
            EndReason::Disconnect => "disconnect",
            EndReason::Error => "error",
            EndReason::Drained => "drained",
        }
    }
}

/// What the platform told us about the call.
#[derive(Debug, Clone)]
pub struct CallMeta {
    /// The platform's id of the call (conversation id, call SID, UUID...).
    pub call_id: String,
    /// The front door.
    pub protocol: Protocol,
    /// The agent, when the platform says who it is.
    pub agent_id: Option<String>,
}

/// Largest block handed to the engine at once, samples per channel. The
/// engine's buffers are sized for it, per call: a frame is 160-960 samples,
/// and a burst is cut into blocks of this size (the events are the same
/// for any block size), so 1,024 rather than 4,096 saves 27 kB a call.
pub const MAX_BLOCK: usize = 1024;

/// A running call.
pub struct CallSession {
    meta: CallMeta,
    /// The events file's path without `.jsonl`, if the server writes one:
    /// the incident notes go beside it.
    stem: Option<PathBuf>,
    engine: CallEngine,
    sinks: CallSinks,
    rate: u32,
    samples: u64,
    pace: Pace,
    shared: Arc<Shared>,
    /// When the call started, for [`CallSession::silence_allowance`].
    started: std::time::Instant,
    /// Silence inserted for gaps so far, samples.
    silence: u64,
    /// Whether a gap was cut short already (logged once per call).
    silence_cut: bool,
}

/// Slack, s, over the wall-clock time since a call started that the
/// silence inserted for gaps may reach. A platform's stream is real time:
/// its gaps (lost packets, a pause the client `discarded`) can never add up
/// to more than the time that passed. Without this bound one 300-byte
/// message claiming an hour's gap cost 0.7 s of CPU, and a few hundred
/// stalled every other call (issue 27, item 10).
pub const SILENCE_SLACK_S: f64 = 10.0;

/// From connect to a media stream's first audio, at most (FreeSWITCH,
/// Twilio): a socket that never brings audio is closed, whatever else it
/// sends.
pub const FIRST_AUDIO_TIMEOUT: Duration = Duration::from_secs(10);
/// Between two audio messages of a running stream, at most.
pub const AUDIO_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// When a media stream must next bring audio. Only audio moves it: a
/// WebSocket ping, a text event or a keep-alive never does, so an idle
/// socket cannot keep itself open (2,100 pinging FreeSWITCH sockets held
/// 337 MB, issue 27 item 9).
#[derive(Debug, Clone, Copy)]
pub struct AudioDeadline {
    at: tokio::time::Instant,
    heard: bool,
}

impl Default for AudioDeadline {
    fn default() -> Self {
        Self {
            at: tokio::time::Instant::now() + FIRST_AUDIO_TIMEOUT,
            heard: false,
        }
    }
}

impl AudioDeadline {
    /// Audio came: the next must come within [`AUDIO_IDLE_TIMEOUT`].
    pub fn heard(&mut self) {
        self.heard = true;
        self.at = tokio::time::Instant::now() + AUDIO_IDLE_TIMEOUT;
    }

    /// The instant to wait until.
    pub fn at(&self) -> tokio::time::Instant {
        self.at
    }

    /// What to say when it passes.
    pub fn expired(&self) -> String {
        if self.heard {
            format!(
                "no audio for {} s: the stream stalled",
                AUDIO_IDLE_TIMEOUT.as_secs()
            )
        } else {
            format!(
                "no audio within {} s of connecting",
                FIRST_AUDIO_TIMEOUT.as_secs()
            )
        }
    }
}

/// Audio more than this behind the call's own clock is late.
pub const LATE_AFTER: Duration = Duration::from_millis(100);

/// A call's audio clock against the wall clock: whether each block came
/// when its audio said it was due. The clock starts at the first block and
/// starts again at a late block (one stall counts once, not for every
/// block after it) and when the audio runs more than a second ahead (a
/// platform catching up in a burst, or sending faster than real time).
#[derive(Debug, Default)]
pub struct Pace {
    /// The wall time the call's audio time 0 fell on.
    zero: Option<Instant>,
}

impl Pace {
    /// Audio up to `audio_end_s` arrived at `now`: whether it was late.
    pub fn arrived(&mut self, audio_end_s: f64, now: Instant) -> bool {
        let at = Duration::from_secs_f64(audio_end_s.max(0.0));
        let Some(zero) = self.zero else {
            self.zero = now.checked_sub(at);
            return false;
        };
        let due = zero + at;
        let late = now > due + LATE_AFTER;
        if late || due > now + Duration::from_secs(1) {
            self.zero = now.checked_sub(at);
        }
        late
    }
}

/// Room for one call: taken before a call starts, given back when it ends,
/// so the limit on concurrent calls holds whatever path a call ends by.
pub struct Slot {
    shared: Arc<Shared>,
    protocol: Protocol,
}

impl Slot {
    /// A slot if the server has room and is not draining; counts a refusal otherwise.
    pub fn take(shared: &Arc<Shared>, protocol: Protocol) -> Option<Slot> {
        if shared.draining.load(Ordering::Relaxed) {
            shared.stats.refused[protocol.index()].fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let max = shared.cfg.max_calls;
        // The listener's own limit first, so that a call it refuses never
        // held a global slot, even for an instant.
        let own = shared.cfg.protocol_max_calls(protocol);
        let mine = &shared.stats.active_by[protocol.index()];
        let own_ok = own.is_none_or(|m| {
            mine.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < m).then_some(n + 1)
            })
            .is_ok()
        });
        let got = own_ok
            && shared
                .stats
                .active
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_ok();
        if got {
            if own.is_none() {
                mine.fetch_add(1, Ordering::AcqRel);
            }
            Some(Slot {
                shared: shared.clone(),
                protocol,
            })
        } else {
            if own_ok && own.is_some() {
                mine.fetch_sub(1, Ordering::AcqRel);
            }
            shared.stats.refused[protocol.index()].fetch_add(1, Ordering::Relaxed);
            if own_ok {
                tracing::warn!(
                    protocol = protocol.as_str(),
                    max_calls = max,
                    "call refused: at the server's limit of concurrent calls"
                );
            } else {
                tracing::warn!(
                    protocol = protocol.as_str(),
                    max_calls = own.unwrap_or(max),
                    "call refused: at this listener's limit of concurrent calls"
                );
            }
            None
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.stats.active.fetch_sub(1, Ordering::AcqRel);
        self.shared.stats.active_by[self.protocol.index()].fetch_sub(1, Ordering::AcqRel);
        self.shared.stats.ended[self.protocol.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a call could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The engine refused the rate.
    #[error("call {call}: {source}")]
    Engine {
        /// The call id.
        call: String,
        /// What the engine said.
        source: shoutcue_core::engine::EngineError,
    },
    /// The events file cannot be created. The message names the call, not
    /// the server's folder: it may reach the platform (AudioHook
    /// `disconnect`); the log line names the folder.
    #[error("call {call}: the server cannot store this call's events")]
    Events {
        /// The call id.
        call: String,
        /// The events folder.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl CallSession {
    /// Starts a call at `rate` Hz, with or without the agent's voice, and
    /// writes its `call_start` line.
    pub fn start(
        shared: &Arc<Shared>,
        meta: CallMeta,
        rate: u32,
        has_agent: bool,
    ) -> Result<Self, StartError> {
        let line_model = shared
            .lines
            .as_ref()
            .and_then(|l| l.model_for(meta.protocol));
        let model = line_model.as_deref().unwrap_or(&shared.model);
        let mut engine =
            CallEngine::new(rate, MAX_BLOCK, has_agent, model, shared.coach).map_err(|source| {
                StartError::Engine {
                    call: meta.call_id.clone(),
                    source,
                }
            })?;
        // The server reports no call's integrated loudness.
        engine = engine.without_call_loudness();
        if shared.lines.is_some() {
            engine = engine.with_line_sampler(&shared.model);
        }
        let (file, stem) = match &shared.cfg.events_dir {
            Some(dir) => {
                let (f, stem) =
                    events_file::create_unique(dir, &meta.call_id).map_err(|source| {
                        StartError::Events {
                            call: meta.call_id.clone(),
                            path: dir.display().to_string(),
                            source,
                        }
                    })?;
                (Some(EventsFile::new(f)), Some(stem))
            }
            None => (None, None),
        };
        let mut tap = Tap {
            file,
            hub: shared.hub.clone(),
            call_id: Arc::from(meta.call_id.as_str()),
            agent_id: meta.agent_id.as_deref().map(Arc::from),
            shared: shared.clone(),
        };
        let start_line = bus::render(&CallStartLine {
            v: bus::V,
            t: 0.0,
            kind: Kind::CallStart.as_str(),
            call_id: &meta.call_id,
            protocol: meta.protocol.as_str(),
            agent_id: meta.agent_id.as_deref(),
            has_agent,
            rate,
        });
        tap.line(Kind::CallStart, false, start_line.as_bytes());
        let started_at =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let sinks = CallSinks {
            events: JsonlSink::new(Vec::with_capacity(1024), shared.script.clone())
                .with_call_id(&meta.call_id),
            tap,
            recorder: IncidentRecorder::new(CallInfo {
                source: format!("{} call {}", meta.protocol.as_str(), meta.call_id),
                started_at: Some(started_at),
            }),
            failed: false,
            shared: shared.clone(),
        };
        shared.stats.started[meta.protocol.index()].fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            call = %meta.call_id,
            protocol = meta.protocol.as_str(),
            agent = meta.agent_id.as_deref().unwrap_or("-"),
            rate,
            has_agent,
            "call started"
        );
        Ok(Self {
            meta,
            stem,
            engine,
            sinks,
            rate,
            samples: 0,
            pace: Pace::default(),
            shared: shared.clone(),
            started: std::time::Instant::now(),
            silence: 0,
            silence_cut: false,
        })
    }

    /// How many of `want` samples of silence a gap may insert now: all of
    /// them while the call's inserted silence stays within the wall-clock
    /// time since it started plus [`SILENCE_SLACK_S`]; the rest is not
    /// analysed (the call's clock then runs behind the platform's by it),
    /// which is logged once per call. The allowed part is counted as the
    /// call's own: callers add it to `dropped_frames` with [`Self::filled`].
    pub fn silence_allowance(&mut self, want: usize) -> usize {
        let budget =
            (self.started.elapsed().as_secs_f64() + SILENCE_SLACK_S) * f64::from(self.rate);
        let left = (budget as u64).saturating_sub(self.silence);
        let allowed = (want as u64).min(left);
        self.silence += allowed;
        if allowed < want as u64 && !self.silence_cut {
            self.silence_cut = true;
            tracing::warn!(
                call = %self.meta.call_id,
                "a gap of {:.1} s claimed more silence than the time the call has run: {:.1} s of it not analysed (the call's clock now runs behind the platform's)",
                want as f64 / f64::from(self.rate),
                (want as u64 - allowed) as f64 / f64::from(self.rate)
            );
        }
        allowed as usize
    }

    /// The call's input rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Analyses a block of both voices (`agent` ignored on a call without
    /// one; otherwise as long as `customer`). Any length: cut into engine blocks.
    pub fn push(&mut self, customer: &[f32], agent: &[f32]) {
        let end = (self.samples + customer.len() as u64) as f64 / f64::from(self.rate);
        if self.pace.arrived(end, Instant::now()) {
            self.shared
                .stats
                .late_frames
                .fetch_add(1, Ordering::Relaxed);
        }
        let mut i = 0;
        while i < customer.len() {
            let n = (customer.len() - i).min(MAX_BLOCK);
            let a = agent.get(i..i + n).unwrap_or(&[]);
            // The rate was accepted at construction and blocks are bounded, so
            // the engine cannot refuse them; a refusal would be a bug, logged.
            if let Err(e) = self
                .engine
                .process(&customer[i..i + n], a, &mut self.sinks, &mut ())
            {
                tracing::error!(call = %self.meta.call_id, "engine: {e}");
            }
            i += n;
        }
        self.samples += customer.len() as u64;
        self.shared
            .stats
            .samples
            .fetch_add(customer.len() as u64, Ordering::Relaxed);
    }

    /// Counts `samples` of this call's audio that never came and are filled
    /// with silence (the server's `dropped_frames`).
    pub fn filled(&self, samples: usize) {
        self.shared.stats.filled(samples, self.rate);
    }

    /// Seconds of audio analysed so far.
    pub fn duration_s(&self) -> f64 {
        self.samples as f64 / f64::from(self.rate)
    }

    /// Ends the call: closes open segments, writes `call_end` with `reason`
    /// and the incident note. Nothing already analysed is lost.
    pub fn end(mut self, reason: EndReason) {
        self.sinks.events.set_end_reason(reason.as_str());
        if let Err(e) = self.engine.finish(&mut self.sinks, &mut ()) {
            tracing::error!(call = %self.meta.call_id, "engine: {e}");
        }
        if let Some(e) = self.engine.take_sink_error() {
            tracing::error!(call = %self.meta.call_id, "events: {e}");
        }
        if let (Some(lines), Some(sample)) = (&self.shared.lines, self.engine.line_sample()) {
            lines.learn(self.meta.protocol, sample);
        }
        let note = self.sinks.recorder.note();
        if let Some(dir) = &self.shared.cfg.events_dir {
            let stem = self
                .stem
                .clone()
                .unwrap_or_else(|| dir.join(events_file::escape_id(&self.meta.call_id)))
                .with_extension("note");
            for (path, json) in [
                (stem.with_extension("note.json"), true),
                (stem.with_extension("note.md"), false),
            ] {
                let r = File::create(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|f| {
                        let w = BufWriter::new(f);
                        let written = if json {
                            note.write_json(w)
                        } else {
                            note.write_markdown(w)
                        };
                        written.map_err(|e| e.to_string())
                    });
                if let Err(e) = r {
                    // No half note: a reader would take it for the whole.
                    let _ = std::fs::remove_file(&path);
                    tracing::error!(call = %self.meta.call_id, "{}: cannot write the incident note: {e}", path.display());
                }
            }
        }
        let alert = note.supervisor_alert.is_some();
        // The console shows the note of a call that had shouting (pages
        // only: it is not an event of the call's schema-v1 stream). The
        // note holds nothing of the agent's own voice.
        if alert || !note.episodes.is_empty() {
            let line = bus::render(&IncidentNoteLine {
                v: bus::V,
                t: self.duration_s(),
                call_id: &self.meta.call_id,
                kind: Kind::IncidentNote.as_str(),
                markdown: note.to_markdown(),
            });
            self.shared.hub.publish(
                &Arc::from(self.meta.call_id.as_str()),
                &self.meta.agent_id.as_deref().map(Arc::from),
                Kind::IncidentNote,
                false,
                line,
            );
        }
        tracing::info!(
            call = %self.meta.call_id,
            protocol = self.meta.protocol.as_str(),
            reason = reason.as_str(),
            seconds = format!("{:.1}", self.duration_s()),
            episodes = note.episodes.len(),
            cues = note.cues.len(),
            supervisor_alert = alert,
            "call ended"
        );
    }
}

/// The call's outputs: events for the stream, the record for the note.
struct CallSinks {
    /// Renders each event into its buffer, which [`CallSinks::pass_on`]
    /// empties into the tap with the event's kind and privacy.
    events: JsonlSink<Vec<u8>>,
    tap: Tap,
    recorder: IncidentRecorder,
    failed: bool,
    /// For the counts of cues and alerts.
    shared: Arc<Shared>,
}

impl CallSinks {
    /// Hands the line just rendered to the file and the hub.
    fn pass_on(&mut self, kind: Kind, private: bool) {
        let buf = self.events.get_mut();
        if let Some(line) = buf.strip_suffix(b"\n") {
            self.tap.line(kind, private, line);
        }
        buf.clear();
    }
}

impl Sink for CallSinks {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        match ev {
            Event::Coach(CoachEvent::Cue { rung, .. }) => {
                if let Some(c) = self
                    .shared
                    .stats
                    .cues
                    .get(usize::from(rung.step).wrapping_sub(1))
                {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
            Event::Coach(CoachEvent::SupervisorAlert { .. }) => {
                self.shared.stats.alerts.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        let r = if self.failed {
            Ok(())
        } else {
            self.events.event(ev)
        };
        self.pass_on(Kind::of(ev), ev.is_private());
        self.failed |= r.is_err();
        self.recorder.event(ev)?;
        r
    }
    fn finish(&mut self, t: f64) -> Result<(), SinkError> {
        let r = self.events.finish(t);
        self.pass_on(Kind::CallEnd, false);
        self.recorder.finish(t)?;
        r
    }
}

/// Keeps two voices that arrive separately (two sockets, two tracks) in
/// step by the one pairing rule ([`shoutcue_core::pair`], policy
/// [`PairPolicy::LEGS`]): samples leave in pairs, the customer's audio waits
/// for a lagging agent leg at most the policy's wait, then the agent's part
/// is silence. A voice that is gone is silence from then on.
pub struct Lockstep {
    c: Vec<f32>,
    a: Vec<f32>,
    c_gone: bool,
    a_gone: bool,
    /// (customer samples pushed up to the end of a push, when it came), for
    /// the age of the oldest customer sample still waiting.
    stamps: VecDeque<(u64, Instant)>,
    c_pushed: u64,
    c_taken: u64,
    pairing: Pairing,
    out_c: Vec<f32>,
    out_a: Vec<f32>,
}

impl Lockstep {
    /// For voices at `rate`.
    pub fn new(rate: u32) -> Self {
        // What waits is a frame or two; a lagging leg grows them (memory per
        // call, docs/PERFORMANCE.md), up to the policy's lead.
        let cap = (rate as usize / 25).min(MAX_BLOCK);
        Self {
            c: Vec::with_capacity(cap),
            a: Vec::with_capacity(cap),
            c_gone: false,
            a_gone: false,
            stamps: VecDeque::new(),
            c_pushed: 0,
            c_taken: 0,
            pairing: Pairing::new(PairPolicy::LEGS, rate),
            out_c: Vec::with_capacity(cap),
            out_a: Vec::with_capacity(cap),
        }
    }

    /// Adds the customer's samples, which arrived `at`.
    pub fn push_customer(&mut self, s: &[f32], at: Instant) {
        self.c.extend_from_slice(s);
        self.c_pushed += s.len() as u64;
        self.stamps.push_back((self.c_pushed, at));
    }

    /// Adds the agent's samples.
    pub fn push_agent(&mut self, s: &[f32]) {
        self.a.extend_from_slice(s);
    }

    /// The customer's voice ended.
    pub fn customer_gone(&mut self) {
        self.c_gone = true;
    }

    /// The agent's voice ended.
    pub fn agent_gone(&mut self) {
        self.a_gone = true;
    }

    /// Samples the customer's voice is ahead of the agent's (negative: behind).
    pub fn lead(&self) -> i64 {
        self.c.len() as i64 - self.a.len() as i64
    }

    /// What the pairing did so far.
    pub fn stats(&self) -> PairStats {
        self.pairing.stats()
    }

    /// Hands the samples that may leave `now`, in pairs, to `f`. Returns the
    /// agent samples stood in for by silence (the caller counts them in
    /// `dropped_frames` with [`CallSession::filled`]).
    pub fn drain(&mut self, now: Instant, f: impl FnOnce(&[f32], &[f32])) -> usize {
        let (lc, la) = (self.c.len(), self.a.len());
        if self.a_gone && lc > la {
            self.a.resize(lc, 0.0);
        }
        if self.c_gone && la > lc {
            self.c.resize(la, 0.0);
        }
        while self
            .stamps
            .front()
            .is_some_and(|&(end, _)| end <= self.c_taken)
        {
            self.stamps.pop_front();
        }
        let customer = Queued {
            samples: self.c.len(),
            oldest: self.stamps.front().map(|&(_, at)| at),
        };
        let take = self
            .pairing
            .decide(Some(customer), Some(self.a.len()), usize::MAX, now);
        if take.drop_agent > 0 {
            self.a.drain(..take.drop_agent);
        }
        if take.len == 0 {
            return 0;
        }
        self.out_c.clear();
        self.out_a.clear();
        self.out_c.extend(self.c.drain(..take.customer));
        self.out_c.resize(take.len, 0.0);
        self.out_a.extend(self.a.drain(..take.agent));
        self.out_a.resize(take.len, 0.0);
        self.c_taken += take.customer as u64;
        f(&self.out_c, &self.out_a);
        take.len - take.agent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_counts_a_stall_once_and_forgives_a_burst() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = Pace::default();
        // 20 ms frames on time, with 90 ms of jitter: none late.
        assert!(!p.arrived(0.02, at(20)));
        assert!(!p.arrived(0.04, at(130)));
        assert!(!p.arrived(0.06, at(60)));
        // A 300 ms stall: the frame after it is late, the next on time
        // again against the restarted clock.
        assert!(p.arrived(0.08, at(380)));
        assert!(!p.arrived(0.10, at(400)));
        // The platform bursts 2 s of audio at once, then goes on in real
        // time from there: the burst restarts the clock, nothing is late.
        assert!(!p.arrived(2.10, at(410)));
        assert!(!p.arrived(2.12, at(430)));
        // Without restarting at a burst, this frame would count.
        let mut q = Pace::default();
        assert!(!q.arrived(0.02, at(20)));
        assert!(q.arrived(0.04, at(200)));
    }

    #[test]
    fn lockstep_pairs_waits_for_a_lagging_agent_only_so_long_and_pads() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let wait = PairPolicy::LEGS.max_wait.as_millis() as u64;
        let mut l = Lockstep::new(100);
        let mut got = Vec::new();
        l.push_customer(&[1.0; 30], ms(0));
        let pad = l.drain(ms(0), |c, a| got.push((c.len(), a.len())));
        assert_eq!(
            (got.len(), pad),
            (0, 0),
            "nothing leaves before the agent is heard"
        );
        l.push_agent(&[2.0; 10]);
        l.drain(ms(20), |c, a| got.push((c.len(), a.len())));
        assert_eq!(got, vec![(10, 10)]);
        l.push_customer(&[1.0; 60], ms(40));
        assert_eq!(l.lead(), 80);
        l.drain(ms(wait - 1), |c, a| got.push((c.len(), a.len())));
        assert_eq!(got.len(), 1, "a lagging agent is waited for");
        // The oldest customer sample has waited the policy's limit: on.
        let pad = l.drain(ms(wait), |c, a| {
            assert!(a.iter().all(|&x| x == 0.0));
            got.push((c.len(), a.len()))
        });
        assert_eq!((got[1], pad), ((80, 80), 80));
        assert_eq!(l.stats().agent_padded, 80);
        l.agent_gone();
        l.push_customer(&[1.0; 5], ms(wait + 20));
        let pad = l.drain(ms(wait + 20), |c, _| got.push((c.len(), 0)));
        assert_eq!(
            (got[2], pad),
            ((5, 0), 0),
            "a gone voice is not counted as padded"
        );
    }
}
