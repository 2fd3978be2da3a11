//! Wires the stages together: source → resample → frames → features, per
//! channel, in lockstep for a two-channel call.
//!
//! Everything is sized at construction for the largest block the caller
//! will pass; the per-block path allocates nothing.

use crate::features::{FeatureConfig, FeatureExtractor, Features};
use crate::frames::Framer;
use crate::resample::{ResampleError, Resampler};
use crate::HOP;

/// One channel from input samples to per-hop features.
pub struct ChannelFeatures {
    resampler: Resampler,
    framer: Framer,
    fx: FeatureExtractor,
    resampled: Vec<f32>,
    current: Features,
}

impl ChannelFeatures {
    /// A channel at `input_rate` Hz, fed blocks of at most `max_block` samples.
    pub fn new(
        input_rate: u32,
        max_block: usize,
        cfg: FeatureConfig,
    ) -> Result<Self, ResampleError> {
        let resampler = Resampler::new(input_rate, max_block)?;
        let resampled = vec![0.0; resampler.max_output()];
        Ok(Self {
            resampler,
            framer: Framer::new(),
            fx: FeatureExtractor::new(cfg),
            resampled,
            current: Features::default(),
        })
    }

    /// Most hops one block can produce, for sizing the caller's buffers.
    pub fn max_hops_per_block(&self) -> usize {
        self.resampled.len() / HOP + 2
    }

    /// Pushes one block and calls `on` with the features of each hop it completes.
    pub fn process<F: FnMut(&Features)>(
        &mut self,
        input: &[f32],
        mut on: F,
    ) -> Result<(), ResampleError> {
        let n = self.resampler.process(input, &mut self.resampled)?;
        let (fx, cur) = (&mut self.fx, &mut self.current);
        self.framer.process(&self.resampled[..n], |frame| {
            fx.process(&frame, cur);
            on(cur);
        });
        Ok(())
    }

    /// Ends the stream: drains the resampler and the framer.
    pub fn finish<F: FnMut(&Features)>(&mut self, mut on: F) -> Result<(), ResampleError> {
        let n = self.resampler.flush(&mut self.resampled)?;
        let (fx, cur) = (&mut self.fx, &mut self.current);
        self.framer.process(&self.resampled[..n], |frame| {
            fx.process(&frame, cur);
            on(cur);
        });
        self.framer.flush(|frame| {
            fx.process(&frame, cur);
            on(cur);
        });
        Ok(())
    }

    /// BS.1770 integrated loudness of the channel so far, LUFS.
    pub fn integrated_loudness(&self) -> Option<f64> {
        self.fx.integrated_loudness()
    }
}

/// Both channels of a call, hop by hop in lockstep.
pub struct CallFeatures {
    customer: ChannelFeatures,
    agent: Option<ChannelFeatures>,
    cust_hops: Vec<Features>,
    agent_hops: Vec<Features>,
}

impl CallFeatures {
    /// A call at `input_rate`, with or without an agent channel.
    pub fn new(
        input_rate: u32,
        max_block: usize,
        has_agent: bool,
        cfg: FeatureConfig,
    ) -> Result<Self, ResampleError> {
        let customer = ChannelFeatures::new(input_rate, max_block, cfg)?;
        let agent = if has_agent {
            Some(ChannelFeatures::new(input_rate, max_block, cfg)?)
        } else {
            None
        };
        // Room for a block's hops plus the flush of the framer's last window.
        let cap = customer.max_hops_per_block() + crate::WINDOW / HOP + 2;
        Ok(Self {
            customer,
            agent,
            cust_hops: Vec::with_capacity(cap),
            agent_hops: Vec::with_capacity(cap),
        })
    }

    /// Pushes one block of each channel (`agent` ignored without an agent
    /// channel) and calls `on(customer, agent)` for each hop.
    pub fn process<F: FnMut(&Features, Option<&Features>)>(
        &mut self,
        customer: &[f32],
        agent: &[f32],
        on: F,
    ) -> Result<(), ResampleError> {
        self.cust_hops.clear();
        self.agent_hops.clear();
        let ch = &mut self.cust_hops;
        self.customer.process(customer, |f| ch.push(*f))?;
        if let Some(a) = &mut self.agent {
            let ah = &mut self.agent_hops;
            a.process(agent, |f| ah.push(*f))?;
        }
        self.emit(on);
        Ok(())
    }

    /// Ends the call: drains both channels.
    pub fn finish<F: FnMut(&Features, Option<&Features>)>(
        &mut self,
        on: F,
    ) -> Result<(), ResampleError> {
        self.cust_hops.clear();
        self.agent_hops.clear();
        let ch = &mut self.cust_hops;
        self.customer.finish(|f| ch.push(*f))?;
        if let Some(a) = &mut self.agent {
            let ah = &mut self.agent_hops;
            a.finish(|f| ah.push(*f))?;
        }
        self.emit(on);
        Ok(())
    }

    fn emit<F: FnMut(&Features, Option<&Features>)>(&self, mut on: F) {
        // Both channels share rate and block sizes, so their hops pair up.
        for (i, c) in self.cust_hops.iter().enumerate() {
            on(c, self.agent_hops.get(i));
        }
    }

    /// The customer channel (for its integrated loudness).
    pub fn customer(&self) -> &ChannelFeatures {
        &self.customer
    }

    /// The agent channel, if any.
    pub fn agent(&self) -> Option<&ChannelFeatures> {
        self.agent.as_ref()
    }
}

use crate::coach::{Coach, CoachConfig, CoachEvents};
use crate::detector::{Detector, HopReport, ShoutModel};
use crate::sinks::{Event, Sink, SinkError};
use crate::source::{SourceError, WavSource};

/// Why a call could not be replayed to its end.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The recording could not be read (the events up to the fault were still written).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The resampler refused the input.
    #[error("{file}: {source}")]
    Resample {
        /// The recording.
        file: String,
        /// What the resampler said.
        source: ResampleError,
    },
    /// An output could not be written.
    #[error("{file}: {source}")]
    Sink {
        /// The recording.
        file: String,
        /// What failed.
        source: SinkError,
    },
}

/// What a replayed call amounted to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallStats {
    /// Length of the call, s.
    pub duration_s: f64,
    /// Whether the file had an agent channel.
    pub has_agent: bool,
    /// Integrated loudness of the customer channel, LUFS.
    pub customer_lufs: Option<f64>,
}

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the machine goes.
    Fast,
    /// At the speed of the recording, for demos and the overlay.
    RealTime,
}

/// Watches a replay from the side: per-hop measures (for plots) and every
/// event with the time of the hop that decided it. Both default to nothing.
pub trait Observer {
    /// One hop: the detector's report and the features it came from.
    fn hop(&mut self, _report: &HopReport, _customer: &Features, _agent: Option<&Features>) {}
    /// One event, decided at `decided_at` (a `shout_start`'s own `t` is the
    /// segment start, which is earlier).
    fn event(&mut self, _decided_at: f64, _event: &Event) {}
}

/// Watches nothing.
impl Observer for () {}

/// Replays one recorded call through detector and coach into `sinks`.
///
/// `observe` sees every hop and every event as they are decided.
/// On a read fault mid-file, everything before the fault is analysed and
/// written, the sinks are finished at the fault, and the error is returned.
pub fn replay_call<S: Sink + ?Sized>(
    name: &str,
    src: &mut WavSource,
    model: &ShoutModel,
    coach_cfg: CoachConfig,
    sinks: &mut S,
    pace: Pace,
    observe: &mut impl Observer,
) -> Result<CallStats, CallError> {
    let name = name.to_string();
    let rate = src.spec().sample_rate;
    let has_agent = src.has_agent();
    // Small blocks in real time, so events leave within ~20 ms of their audio.
    let block = match pace {
        Pace::Fast => 4096,
        Pace::RealTime => (rate as usize / 50).max(1),
    };
    let hop_s = crate::HOP as f32 / crate::ANALYSIS_RATE as f32;
    let resample_err = |source| CallError::Resample {
        file: name.clone(),
        source,
    };
    let mut feats = CallFeatures::new(rate, block, has_agent, FeatureConfig::default())
        .map_err(resample_err)?;
    let coach = Coach::new(coach_cfg).map_err(|e| CallError::Sink {
        file: name.clone(),
        source: SinkError::Io {
            sink: "coach configuration",
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
        },
    })?;
    let mut call = CallState {
        detector: Detector::new(model, hop_s, has_agent),
        coach,
        coach_out: CoachEvents::new(),
        sink_err: None,
        last_t: 0.0,
    };
    let (mut cust, mut agent) = (vec![0.0f32; block], vec![0.0f32; block]);
    let start = std::time::Instant::now();
    let mut samples_in = 0u64;

    let mut read_err = None;
    loop {
        match src.read(&mut cust, &mut agent) {
            Ok(0) => break,
            Ok(n) => {
                feats
                    .process(&cust[..n], &agent[..n], |c, a| {
                        call.hop(c, a, sinks, observe)
                    })
                    .map_err(resample_err)?;
                samples_in += n as u64;
                if pace == Pace::RealTime {
                    let due = std::time::Duration::from_secs_f64(samples_in as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
            }
            Err(e) => {
                read_err = Some(e);
                break;
            }
        }
        if call.sink_err.is_some() {
            break;
        }
    }
    feats
        .finish(|c, a| call.hop(c, a, sinks, observe))
        .map_err(resample_err)?;
    let duration_s = samples_in as f64 / rate as f64;
    let last_t = call.last_t;
    for s in call.detector.finish(last_t).into_iter().flatten() {
        call.emit(Event::Segment(s), last_t, sinks, observe);
    }
    let mut sink_err = call.sink_err.take();
    if let Err(e) = sinks.finish(duration_s) {
        sink_err.get_or_insert(e);
    }
    if let Some(e) = read_err {
        return Err(e.into());
    }
    if let Some(source) = sink_err {
        return Err(CallError::Sink { file: name, source });
    }
    Ok(CallStats {
        duration_s,
        has_agent,
        customer_lufs: feats.customer().integrated_loudness(),
    })
}

/// The per-call state behind [`replay_call`]: detector, coach and the first
/// sink error.
struct CallState {
    detector: Detector,
    coach: Coach,
    coach_out: CoachEvents,
    sink_err: Option<SinkError>,
    last_t: f64,
}

impl CallState {
    fn hop<S: Sink + ?Sized>(
        &mut self,
        c: &Features,
        a: Option<&Features>,
        sinks: &mut S,
        observe: &mut impl Observer,
    ) {
        let (report, segs) = self.detector.process(c, a);
        observe.hop(&report, c, a);
        self.last_t = report.t;
        let segs: arrayvec::ArrayVec<_, 2> = segs.into_iter().flatten().collect();
        self.coach_out.clear();
        self.coach.process(&report, &segs, &mut self.coach_out);
        for s in &segs {
            self.emit(Event::Segment(*s), report.t, sinks, observe);
        }
        for i in 0..self.coach_out.len() {
            let ev = Event::Coach(self.coach_out.as_slice()[i]);
            self.emit(ev, report.t, sinks, observe);
        }
    }

    fn emit<S: Sink + ?Sized>(
        &mut self,
        ev: Event,
        decided_at: f64,
        sinks: &mut S,
        observe: &mut impl Observer,
    ) {
        observe.event(decided_at, &ev);
        if let Err(e) = sinks.event(&ev) {
            self.sink_err.get_or_insert(e);
        }
    }
}
