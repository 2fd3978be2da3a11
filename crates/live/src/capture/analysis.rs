//! The analysis thread: takes both voices from their rings in lockstep and
//! drives the [`CallEngine`], feeding silence for a lost device so the other
//! voice keeps working and call time keeps running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ring::{ChannelHealth, ChannelInput};
use crate::overlay::{OverlayFeed, Status};
use shoutcue_core::detector::Speaker;
use shoutcue_core::engine::CallEngine;
use shoutcue_core::engine::{Event, Sink, SinkError};
use shoutcue_core::resample::ResampleError;

/// How long the analysis thread sleeps when no audio is waiting.
const IDLE: Duration = Duration::from_millis(2);

/// Longest the customer's audio waits for a lagging agent device, s. Two
/// devices differ in latency, and under load a PulseAudio monitor can run
/// more than half a second behind for the whole call: the customer's audio
/// waits that long (its cues come that much later) rather than the agent's
/// speech being lost, which would hide every delivered line from the coach.
/// Past this the agent's device counts as stalled and gets silence.
pub const MAX_AGENT_WAIT_S: f32 = 2.0;

/// Least time between two overrun reports for one voice, so a stalled
/// machine yields one event a second, not one per callback.
const OVERRUN_REPORT_EVERY: Duration = Duration::from_secs(1);

/// One voice as the analysis thread sees it: its ring, its health, and a
/// slot through which the device thread hands over a new ring after a
/// reconnect (a cpal stream owns its callback, so a new stream needs a new
/// ring).
pub struct VoiceInput {
    speaker: Speaker,
    input: ChannelInput,
    health: Arc<ChannelHealth>,
    updates: rtrb::Consumer<ChannelInput>,
    was_lost: bool,
    overrun_seen: u64,
    last_overrun_report: Option<Instant>,
}

/// A voice's input, and the producer end for replacement rings.
pub fn voice_input(
    speaker: Speaker,
    input: ChannelInput,
    health: Arc<ChannelHealth>,
) -> (VoiceInput, rtrb::Producer<ChannelInput>) {
    let (tx, updates) = rtrb::RingBuffer::new(2);
    (
        VoiceInput {
            speaker,
            input,
            health,
            updates,
            was_lost: false,
            overrun_seen: 0,
            last_overrun_report: None,
        },
        tx,
    )
}

/// What the analysis loop did over a call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LiveStats {
    /// Samples per voice analysed (silence for a lost device included).
    pub samples: u64,
    /// Samples dropped to bring two devices' clocks back in line.
    pub resync_dropped: u64,
    /// Agent samples replaced by silence because the agent's device lagged
    /// (the customer's audio is never held back for it for long).
    pub agent_padded: u64,
    /// Call length, s.
    pub duration_s: f64,
}

/// Events go to the feed (the observer); the engine needs a sink, and on
/// the real-time thread that sink must do nothing.
struct NoSinks;

impl Sink for NoSinks {
    fn event(&mut self, _ev: &Event) -> Result<(), SinkError> {
        Ok(())
    }
    fn finish(&mut self, _t: f64) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The live call's analysis: rings in, engine, feed out. Sized at
/// construction; [`LiveAnalysis::step`] allocates nothing.
pub struct LiveAnalysis {
    engine: CallEngine,
    customer: VoiceInput,
    agent: Option<VoiceInput>,
    rate: u32,
    cbuf: Vec<f32>,
    abuf: Vec<f32>,
    last_feed: Option<Instant>,
    started: bool,
    stats: LiveStats,
    /// Agent samples owed: the agent's device lagged, the customer's audio
    /// went on with silence in the agent's place, so this many late agent
    /// samples are dropped when they come, to keep the voices aligned.
    agent_debt: usize,
}

impl LiveAnalysis {
    /// `engine` must have been built for `rate` and blocks of `max_block`.
    pub fn new(
        engine: CallEngine,
        rate: u32,
        max_block: usize,
        customer: VoiceInput,
        agent: Option<VoiceInput>,
    ) -> Self {
        Self {
            engine,
            customer,
            agent,
            rate,
            cbuf: vec![0.0; max_block],
            abuf: vec![0.0; max_block],
            last_feed: None,
            started: false,
            stats: LiveStats::default(),
            agent_debt: 0,
        }
    }

    /// Call time so far, s.
    pub fn call_time(&self) -> f64 {
        self.stats.samples as f64 / f64::from(self.rate)
    }

    /// Analyses what is waiting in the rings; returns the samples fed per
    /// voice (0: nothing to do, sleep a little).
    pub fn step(&mut self, feed: &mut OverlayFeed, now: Instant) -> Result<usize, ResampleError> {
        let t = self.call_time();
        let Self {
            customer,
            agent,
            started,
            ..
        } = self;
        for v in std::iter::once(customer).chain(agent.as_mut()) {
            if let Ok(fresh) = v.updates.pop() {
                v.input = fresh;
            }
            let lost = v.health.lost.load(Ordering::Acquire);
            if lost != v.was_lost {
                v.was_lost = lost;
                let channel = v.speaker;
                feed.status(if lost {
                    Status::DeviceLost { t, channel }
                } else {
                    Status::DeviceBack { t, channel }
                });
                if lost {
                    let stale = v.input.available();
                    v.input.discard(stale);
                }
            }
            let over = v.health.overrun.load(Ordering::Relaxed);
            let due = v
                .last_overrun_report
                .is_none_or(|at| now.duration_since(at) >= OVERRUN_REPORT_EVERY);
            if *started && over > v.overrun_seen && due {
                feed.status(Status::Overrun {
                    t,
                    channel: v.speaker,
                    samples: over - v.overrun_seen,
                });
                v.overrun_seen = over;
                v.last_overrun_report = Some(now);
            }
        }

        if !self.started && !self.customer.was_lost {
            // The call starts when analysis does: audio queued while the
            // devices were opened one after the other would put the voices
            // out of step, so both start from "now".
            let c = self.customer.input.available();
            let a = self.agent.as_ref().map(|a| a.input.available());
            if c > 0 && a.is_none_or(|a| a > 0) {
                self.customer.input.discard(c);
                if let (Some(ag), Some(a)) = (&mut self.agent, a) {
                    ag.input.discard(a);
                }
                // Overruns before the call started lost nothing of the call.
                for v in std::iter::once(&mut self.customer).chain(self.agent.as_mut()) {
                    v.overrun_seen = v.health.overrun.load(Ordering::Relaxed);
                }
                self.started = true;
            }
            return Ok(0);
        }
        if self.agent_debt > 0 {
            if let Some(ag) = &mut self.agent {
                if !ag.was_lost {
                    let paid = ag.input.discard(self.agent_debt.min(ag.input.available()));
                    self.agent_debt -= paid;
                }
            }
        }
        let avail = |v: &VoiceInput| (!v.was_lost).then(|| v.input.available());
        let c_av = avail(&self.customer);
        let a_av = self.agent.as_ref().and_then(avail);
        let max_block = self.cbuf.len();
        // Devices differ in latency, so the voices are taken in lockstep and
        // the earlier one waits, but never longer than MAX_AGENT_WAIT_S: past
        // that, the customer's audio goes on and the agent's missing part is
        // silence (paid back from the agent's late samples, so after a stall
        // the voices line up again; a device that runs more than that behind
        // all the time would stay silent, as good as lost). The customer's
        // audio is never thrown away; an agent ahead of it is trimmed.
        let slack = (self.rate as f32 * MAX_AGENT_WAIT_S) as usize;
        let mut agent_pad = 0usize;
        let n = match (c_av, a_av, self.agent.is_some()) {
            (Some(c), Some(a), _) => {
                if a > c + slack {
                    if let Some(ag) = &mut self.agent {
                        self.stats.resync_dropped += ag.input.discard(a - c) as u64;
                    }
                    c
                } else if c > a + slack {
                    let n = c.min(max_block);
                    agent_pad = n.saturating_sub(a);
                    n
                } else {
                    c.min(a)
                }
            }
            (Some(c), None, _) => c,
            (None, Some(a), _) => a,
            (None, None, _) => {
                // Every device is gone: keep call time running on the wall clock.
                let since = self.last_feed.map_or(Duration::ZERO, |l| now - l);
                if since < Duration::from_millis(20) {
                    if self.last_feed.is_none() {
                        self.last_feed = Some(now);
                    }
                    0
                } else {
                    (since.as_secs_f64() * f64::from(self.rate)) as usize
                }
            }
        }
        .min(max_block);
        if n == 0 {
            return Ok(0);
        }
        let born = match (c_av, &mut self.agent) {
            (Some(_), _) => self.customer.input.oldest_unread_arrival(),
            (None, Some(a)) if a_av.is_some() => a.input.oldest_unread_arrival(),
            _ => None,
        };
        feed.set_born(born);
        if c_av.is_some() {
            self.customer.input.read_into(&mut self.cbuf[..n]);
        } else {
            self.cbuf[..n].fill(0.0);
        }
        if let Some(a) = &mut self.agent {
            if a_av.is_some() {
                let real = n - agent_pad;
                a.input.read_into(&mut self.abuf[..real]);
                self.abuf[real..n].fill(0.0);
                self.agent_debt += agent_pad;
                self.stats.agent_padded += agent_pad as u64;
            } else {
                self.abuf[..n].fill(0.0);
            }
        }
        self.engine
            .process(&self.cbuf[..n], &self.abuf[..n], &mut NoSinks, feed)?;
        self.stats.samples += n as u64;
        self.last_feed = Some(now);
        Ok(n)
    }

    /// Runs until `stop` is set, then ends the call (drains the engine and
    /// sends the call's end to the feed).
    pub fn run(
        mut self,
        feed: &mut OverlayFeed,
        stop: &AtomicBool,
    ) -> Result<LiveStats, ResampleError> {
        while !stop.load(Ordering::Relaxed) {
            if self.step(feed, Instant::now())? == 0 {
                std::thread::sleep(IDLE);
            }
        }
        self.finish(feed)
    }

    /// Ends the call now.
    pub fn finish(mut self, feed: &mut OverlayFeed) -> Result<LiveStats, ResampleError> {
        feed.set_born(None);
        let d = self.engine.finish(&mut NoSinks, feed)?;
        self.stats.duration_s = d;
        feed.end(d);
        Ok(self.stats)
    }
}
