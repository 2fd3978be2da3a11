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
use shoutcue_core::pair::{PairPolicy, Pairing, Queued, Take};
use shoutcue_core::resample::ResampleError;

/// How long the analysis thread sleeps when no audio is waiting.
const IDLE: Duration = Duration::from_millis(2);

/// How the two devices are kept in step: the customer waits for a lagging
/// agent device at most this long (see [`shoutcue_core::pair`]).
pub const PAIRING: PairPolicy = PairPolicy::DEVICES;

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
    /// Agent samples dropped to bring two devices back in line after a
    /// stalled agent device handed over its backlog at once.
    pub resync_dropped: u64,
    /// Silence stood in for the agent while its device lagged (the
    /// customer's audio is never held back for it for long); its late audio
    /// is analysed after that silence.
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
    /// Who waits for whom, and for how long.
    pairing: Pairing,
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
            pairing: Pairing::new(PAIRING, rate),
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
        let avail = |v: &VoiceInput| (!v.was_lost).then(|| v.input.available());
        let c_av = avail(&self.customer);
        let a_av = self.agent.as_ref().and_then(avail);
        let max_block = self.cbuf.len();
        // The one pairing rule (shoutcue_core::pair): the customer's audio
        // waits at most PairPolicy::DEVICES.max_wait for a lagging agent
        // device, then the agent's part is silence and its late audio is
        // analysed late; the customer's audio is never thrown away.
        let take = match (c_av, a_av) {
            (None, None) => {
                // Every device is gone: keep call time running on the wall clock.
                let since = self.last_feed.map_or(Duration::ZERO, |l| now - l);
                if since < Duration::from_millis(20) {
                    if self.last_feed.is_none() {
                        self.last_feed = Some(now);
                    }
                    return Ok(0);
                }
                let n = ((since.as_secs_f64() * f64::from(self.rate)) as usize).min(max_block);
                Take {
                    len: n,
                    ..Take::default()
                }
            }
            // Without an agent device `a_av` is None: the customer alone.
            _ => {
                let customer = c_av.map(|samples| Queued {
                    samples,
                    oldest: self.customer.input.oldest_unread_arrival(),
                });
                self.pairing.decide(customer, a_av, max_block, now)
            }
        };
        let n = take.len;
        if let Some(ag) = &mut self.agent {
            if take.drop_agent > 0 {
                ag.input.discard(take.drop_agent);
            }
        }
        let pair = self.pairing.stats();
        self.stats.agent_padded = pair.agent_padded;
        self.stats.resync_dropped = pair.agent_dropped;
        if n == 0 {
            return Ok(0);
        }
        let born = match (c_av, &mut self.agent) {
            (Some(_), _) => self.customer.input.oldest_unread_arrival(),
            (None, Some(a)) if a_av.is_some() => a.input.oldest_unread_arrival(),
            _ => None,
        };
        feed.set_born(born);
        self.customer
            .input
            .read_into(&mut self.cbuf[..take.customer]);
        self.cbuf[take.customer..n].fill(0.0);
        if let Some(a) = &mut self.agent {
            a.input.read_into(&mut self.abuf[..take.agent]);
        }
        self.abuf[take.agent..n].fill(0.0);
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
