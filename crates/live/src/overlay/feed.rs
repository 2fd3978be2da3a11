//! From the analysis thread to the page: a wait-free feed of `Copy`
//! messages, and the publisher thread that turns them into text.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::server::CueShown;
use super::Overlay;
use shoutcue_core::coach::Script;
use shoutcue_core::detector::{HopReport, Speaker};
use shoutcue_core::engine::Observer;
use shoutcue_core::engine::{Event, Sink};
use shoutcue_core::features::Features;
use shoutcue_core::sinks::{CallInfo, IncidentNote, IncidentRecorder, JsonlSink};

/// Messages the feed holds; at ~20 meters a second plus events this is
/// many seconds of slack if the publisher stalls.
pub const FEED_CAPACITY: usize = 1024;

/// One meter update every this many 10 ms hops (20 per second): smooth
/// enough for a bar, cheap enough for a browser left open all shift.
pub const METER_EVERY_HOPS: u32 = 5;

/// How often the publisher looks at the feed when it was empty. Polling
/// (rather than blocking) keeps the analysis thread's side wait-free: it
/// never has to wake anybody.
const POLL: Duration = Duration::from_millis(2);

/// The customer's voice for the meter, one hop's worth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Meter {
    /// Hop time, s from call start.
    pub t: f64,
    /// Momentary loudness, LUFS.
    pub lufs: f32,
    /// F0, Hz (0 when unvoiced).
    pub f0_hz: f32,
    /// F0 above the customer's own baseline, semitones.
    pub f0_st: f32,
    /// The customer is talking.
    pub speech: bool,
    /// The customer is inside a shouting segment.
    pub shouting: bool,
    /// Smoothed shout score, 0-1.
    pub score: f32,
}

/// The live capture's health, sent as events so nothing is lost silently.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    /// The capture ring was full: samples were dropped.
    Overrun {
        /// Call time it was noticed, s.
        t: f64,
        /// Which voice.
        channel: Speaker,
        /// Samples dropped since the last report.
        samples: u64,
    },
    /// The device stopped (unplugged, server gone); silence is fed for it.
    DeviceLost {
        /// Call time, s.
        t: f64,
        /// Which voice.
        channel: Speaker,
    },
    /// The device is capturing again.
    DeviceBack {
        /// Call time, s.
        t: f64,
        /// Which voice.
        channel: Speaker,
    },
}

/// One message from the analysis thread; `Copy`, so sending never allocates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeedMsg {
    /// Customer voice meter.
    Meter(Meter),
    /// An event, with the hop time that decided it and, in live capture,
    /// when the audio that triggered it reached the callback.
    Event {
        /// Hop time of the decision, s.
        decided_at: f64,
        /// The event.
        event: Event,
        /// Arrival of the triggering audio at the capture callback.
        born: Option<Instant>,
    },
    /// Capture health.
    Status(Status),
    /// The call is over after this many seconds.
    End {
        /// Call length, s.
        duration_s: f64,
    },
}

/// The analysis thread's end of the feed: an [`Observer`] for the engine.
/// Never blocks, locks or allocates; full means dropped and counted.
pub struct OverlayFeed {
    tx: rtrb::Producer<FeedMsg>,
    dropped: Arc<AtomicU64>,
    hops: u32,
    born: Option<Instant>,
}

/// The publisher's end of the feed.
pub struct FeedReceiver {
    rx: rtrb::Consumer<FeedMsg>,
    dropped: Arc<AtomicU64>,
}

impl FeedReceiver {
    /// The next message, if one is waiting (for callers that publish
    /// elsewhere than [`Publisher`], e.g. tests).
    pub fn pop(&mut self) -> Option<FeedMsg> {
        self.rx.pop().ok()
    }
}

/// A feed holding up to `capacity` messages.
pub fn feed_channel(capacity: usize) -> (OverlayFeed, FeedReceiver) {
    let (tx, rx) = rtrb::RingBuffer::new(capacity.max(2));
    let dropped = Arc::new(AtomicU64::new(0));
    (
        OverlayFeed {
            tx,
            dropped: dropped.clone(),
            hops: 0,
            born: None,
        },
        FeedReceiver { rx, dropped },
    )
}

impl OverlayFeed {
    /// When the audio now being analysed reached the capture callback; the
    /// events of the next block carry it, for the latency figures.
    pub fn set_born(&mut self, born: Option<Instant>) {
        self.born = born;
    }

    /// Sends a capture-health message (dropped and counted if full).
    pub fn status(&mut self, s: Status) {
        self.send(FeedMsg::Status(s));
    }

    /// Messages dropped because the publisher fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Ends the call. Not on the real-time path: waits (up to a second) for
    /// room, since the end must arrive.
    pub fn end(&mut self, duration_s: f64) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.tx.push(FeedMsg::End { duration_s }).is_err() {
            if Instant::now() > deadline || self.tx.is_abandoned() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            std::thread::sleep(POLL);
        }
    }

    fn send(&mut self, m: FeedMsg) {
        if self.tx.push(m).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Observer for OverlayFeed {
    fn hop(&mut self, report: &HopReport, customer: &Features, _agent: Option<&Features>) {
        self.hops = self.hops.wrapping_add(1);
        if !self.hops.is_multiple_of(METER_EVERY_HOPS) {
            return;
        }
        let c = &report.customer;
        self.send(FeedMsg::Meter(Meter {
            t: report.t,
            lufs: customer.loudness_lufs,
            f0_hz: customer.f0_hz,
            f0_st: c.cues.f0_st,
            speech: c.speech,
            shouting: c.shouting,
            score: c.score,
        }));
    }

    fn event(&mut self, decided_at: f64, event: &Event) {
        self.send(FeedMsg::Event {
            decided_at,
            event: *event,
            born: self.born,
        });
    }
}

/// What a call's publishing amounted to.
#[derive(Debug, Clone)]
pub struct PublisherReport {
    /// The incident note (customer shouting and the script; no nudges).
    pub note: IncidentNote,
    /// Per event with a capture time: callback → event sent to the pages, ms.
    pub latency_ms: Vec<f64>,
    /// Events published.
    pub events: u64,
    /// Feed messages the analysis thread had to drop.
    pub feed_dropped: u64,
    /// Overrun samples reported, per channel (customer, agent).
    pub overrun_samples: [u64; 2],
    /// Device losses reported, per channel (customer, agent).
    pub device_lost: [u32; 2],
}

/// The non-real-time end: renders events as schema-v1 lines (with the same
/// [`JsonlSink`] as `replay`), keeps the incident note, writes the lines to
/// an optional output (stdout) and sends them to the overlay.
pub struct Publisher {
    /// Renders each event into its buffer, emptied at once.
    jsonl: JsonlSink<Vec<u8>>,
    recorder: IncidentRecorder,
    overlay: Option<Arc<Overlay>>,
    out: Option<Box<dyn Write + Send>>,
    report: PublisherReport,
    last_t: f64,
}

#[derive(Serialize)]
struct StatusLine {
    v: u8,
    t: f64,
    #[serde(rename = "type")]
    kind: &'static str,
    channel: Speaker,
    #[serde(skip_serializing_if = "Option::is_none")]
    samples: Option<u64>,
}

impl Publisher {
    /// A publisher rendering texts from `script` (with `{name}` filled in if given).
    pub fn new(script: Script, name: Option<String>, call: CallInfo) -> Self {
        let mut jsonl = JsonlSink::new(Vec::with_capacity(1024), script);
        if let Some(n) = name {
            jsonl = jsonl.with_name(n);
        }
        let recorder = IncidentRecorder::new(call);
        Self {
            jsonl,
            report: PublisherReport {
                note: recorder.note().clone(),
                latency_ms: Vec::new(),
                events: 0,
                feed_dropped: 0,
                overrun_samples: [0; 2],
                device_lost: [0; 2],
            },
            recorder,
            overlay: None,
            out: None,
            last_t: 0.0,
        }
    }

    /// Also sends every line to this overlay.
    pub fn with_overlay(mut self, overlay: Arc<Overlay>) -> Self {
        self.overlay = Some(overlay);
        self
    }

    /// Also writes every line (JSON Lines) to `out`, e.g. stdout.
    pub fn with_output(mut self, out: Box<dyn Write + Send>) -> Self {
        self.out = Some(out);
        self
    }

    /// Publishes until the feed ends (an `End` message, or the analysis
    /// side gone), then returns what the call amounted to.
    pub fn run(mut self, mut rx: FeedReceiver) -> std::io::Result<PublisherReport> {
        loop {
            match rx.rx.pop() {
                Ok(m) => {
                    if let Some(d) = self.handle(m)? {
                        return self.finish(d, &rx);
                    }
                }
                Err(_) if rx.rx.is_abandoned() => {
                    let t = self.last_t;
                    return self.finish(t, &rx);
                }
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    /// Handles one message; `Some(duration)` when the call ended.
    fn handle(&mut self, m: FeedMsg) -> std::io::Result<Option<f64>> {
        match m {
            FeedMsg::Meter(meter) => {
                self.last_t = meter.t;
                if let Some(o) = &self.overlay {
                    let json = serde_json::to_string(&meter).map_err(std::io::Error::other)?;
                    o.publish_meter(meter.t, &json);
                }
            }
            FeedMsg::Event {
                decided_at,
                event,
                born,
            } => {
                self.last_t = self.last_t.max(decided_at);
                self.recorder.event(&event).map_err(super::sink_err)?;
                self.jsonl.event(&event).map_err(super::sink_err)?;
                self.flush_lines(decided_at, CueShown::of(&event))?;
                self.report.events += 1;
                if let Some(b) = born {
                    self.report
                        .latency_ms
                        .push(b.elapsed().as_secs_f64() * 1000.0);
                }
            }
            FeedMsg::Status(s) => {
                let (t, kind, channel, samples) = match s {
                    Status::Overrun {
                        t,
                        channel,
                        samples,
                    } => (t, "overrun", channel, Some(samples)),
                    Status::DeviceLost { t, channel } => (t, "device_lost", channel, None),
                    Status::DeviceBack { t, channel } => (t, "device_back", channel, None),
                };
                let i = usize::from(channel == Speaker::Agent);
                match s {
                    Status::Overrun { samples, .. } => self.report.overrun_samples[i] += samples,
                    Status::DeviceLost { .. } => self.report.device_lost[i] += 1,
                    Status::DeviceBack { .. } => {}
                }
                let line = serde_json::to_string(&StatusLine {
                    v: 1, // same schema version as the JSON Lines sink
                    t: shoutcue_core::sinks::round_ms(t),
                    kind,
                    channel,
                    samples,
                })
                .map_err(std::io::Error::other)?;
                self.send_line(t, None, &line)?;
            }
            FeedMsg::End { duration_s } => return Ok(Some(duration_s)),
        }
        Ok(None)
    }

    /// Takes the line the sink just wrote (one per event) and sends it on,
    /// with the cue it shows.
    fn flush_lines(&mut self, t: f64, cue: Option<CueShown>) -> std::io::Result<()> {
        let mut bytes = std::mem::take(self.jsonl.get_mut());
        let sent = String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.is_empty())
            .try_for_each(|line| self.send_line(t, cue, line));
        // The buffer goes back, so its room is kept.
        bytes.clear();
        *self.jsonl.get_mut() = bytes;
        sent
    }

    fn send_line(&mut self, t: f64, cue: Option<CueShown>, line: &str) -> std::io::Result<()> {
        if let Some(o) = &self.overlay {
            o.publish_event(t, cue, line);
        }
        if let Some(out) = &mut self.out {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
        Ok(())
    }

    fn finish(mut self, duration_s: f64, rx: &FeedReceiver) -> std::io::Result<PublisherReport> {
        self.recorder.finish(duration_s).map_err(super::sink_err)?;
        self.jsonl.finish(duration_s).map_err(super::sink_err)?;
        self.flush_lines(duration_s, None)?;
        self.report.note = self.recorder.note().clone();
        self.report.feed_dropped = rx.dropped.load(Ordering::Relaxed);
        Ok(self.report)
    }
}

/// Percentile (0-100) of `xs` by the one rule of
/// [`stats::quantile`](shoutcue_core::stats::quantile); `None` when empty.
pub fn percentile(xs: &[f64], p: f64) -> Option<f64> {
    shoutcue_core::stats::quantile(&mut xs.to_vec(), p / 100.0)
}
