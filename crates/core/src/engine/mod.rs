//! Wires the stages together: source → resample → frames → features, per
//! channel, in lockstep for a two-channel call; then detector and coach,
//! whose decisions leave as [`Event`]s for any [`Sink`].
//!
//! Everything is sized at construction for the largest block the caller
//! will pass; the per-block path allocates nothing.

use crate::features::{FeatureConfig, FeatureExtractor, Features};
use crate::frames::Framer;
use crate::resample::{ResampleError, Resampler};
use crate::HOP;

mod event;
pub use event::{Event, Sink, SinkError};

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
            let mut a = ChannelFeatures::new(input_rate, max_block, cfg)?;
            // Nothing reports the agent's integrated loudness: its 90 kB go.
            a.fx.drop_integrated_loudness();
            Some(a)
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

    /// The agent channel, if any (its integrated loudness is not kept).
    pub fn agent(&self) -> Option<&ChannelFeatures> {
        self.agent.as_ref()
    }
}

use crate::coach::{Coach, CoachConfig, CoachEvents};
use crate::detector::{Detector, HopReport, ShoutModel};
use crate::source::{SourceError, WavSource};
use crate::Speaker;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// The coach configuration is invalid.
    #[error(transparent)]
    Coach(#[from] crate::coach::ConfigError),
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
    /// The customer's calm voice as the detector learnt it, at the end of
    /// the call: a line calibration's sample of this call.
    pub customer_baseline: Option<crate::detector::baseline::BaselineValues>,
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

/// One call's analysis from blocks of samples to events: features of both
/// channels, detector and coach, in lockstep. The same engine serves
/// `replay` (blocks from a file) and `live` (blocks from a ring filled by
/// the audio callback). Sized at construction; [`CallEngine::process`]
/// allocates nothing (the sinks it drives may, unless they are real-time ones).
///
/// # Push samples, get events
///
/// Any front door (a sound card, a telephony socket, a test) owns the
/// blocks; the engine only sees slices. Here a synthetic voice talks calmly,
/// then an octave up and brighter for a while: a raised voice.
///
/// ```
/// use shoutcue_core::coach::CoachConfig;
/// use shoutcue_core::detector::{SegmentEvent, ShoutModel};
/// use shoutcue_core::engine::{CallEngine, Event, Sink, SinkError};
///
/// /// Keeps every event.
/// struct Keep(Vec<Event>);
/// impl Sink for Keep {
///     fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
///         self.0.push(*ev);
///         Ok(())
///     }
///     fn finish(&mut self, _t: f64) -> Result<(), SinkError> {
///         Ok(())
///     }
/// }
///
/// let rate = 8000;
/// let block = 160; // 20 ms, as a telephony packet might bring
/// let mut engine =
///     CallEngine::new(rate, block, false, &ShoutModel::builtin(), CoachConfig::default())?;
/// let mut events = Keep(Vec::new());
/// let voice = |t: f32| {
///     // calm for 8 s (talking 1.5 s of every 2 s), then raised for 4 s
///     let (f0, tilt, on) = if t < 8.0 { (120.0, 1.0, t % 2.0 < 1.5) } else { (260.0, 0.3, true) };
///     if !on {
///         return 0.0;
///     }
///     (1..16)
///         .map(|k| (2.0 * std::f32::consts::PI * f0 * k as f32 * t).sin() / (k as f32).powf(tilt))
///         .sum::<f32>()
///         * if t < 8.0 { 0.05 } else { 0.2 }
/// };
/// let mut buf = vec![0.0f32; block];
/// for b in 0..(14 * rate as usize / block) {
///     for (i, s) in buf.iter_mut().enumerate() {
///         *s = voice((b * block + i) as f32 / rate as f32);
///     }
///     engine.process(&buf, &[], &mut events, &mut ())?;
/// }
/// let duration = engine.finish(&mut events, &mut ())?;
/// assert!((duration - 14.0).abs() < 0.01);
/// let shouts = events.0.iter().filter(|e| matches!(e, Event::Segment(SegmentEvent::ShoutStart { .. })));
/// assert_eq!(shouts.count(), 1, "one raised-voice segment: {:?}", events.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CallEngine {
    feats: CallFeatures,
    decide: Decide,
    samples_in: u64,
    rate: u32,
}

/// Why a [`CallEngine`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input rate cannot be resampled.
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// The coach configuration is invalid.
    #[error(transparent)]
    Coach(#[from] crate::coach::ConfigError),
}

impl CallEngine {
    /// An engine for blocks of at most `max_block` samples per channel at `input_rate`.
    pub fn new(
        input_rate: u32,
        max_block: usize,
        has_agent: bool,
        model: &ShoutModel,
        coach_cfg: CoachConfig,
    ) -> Result<Self, EngineError> {
        let hop_s = crate::HOP as f32 / crate::ANALYSIS_RATE as f32;
        Ok(Self {
            feats: CallFeatures::new(input_rate, max_block, has_agent, FeatureConfig::default())?,
            decide: Decide {
                detector: Detector::new(model, hop_s, has_agent),
                coach: Coach::new(coach_cfg)?,
                coach_out: CoachEvents::new(),
                sink_err: None,
                last_t: 0.0,
                line_sampler: None,
            },
            samples_in: 0,
            rate: input_rate,
        })
    }

    /// This engine, also taking the call's sample for a line calibration
    /// ([`CallEngine::line_sample`]): the customer's calm voice as a
    /// detector without the cold start learns it, the same sample `shoutcue
    /// calibrate` takes from a recording. A second customer detector, built
    /// here; it costs a few tens of nanoseconds per hop and decides nothing.
    pub fn with_line_sampler(mut self, model: &ShoutModel) -> Self {
        let mut m = model.clone();
        m.cold = None;
        let hop_s = crate::HOP as f32 / crate::ANALYSIS_RATE as f32;
        self.decide.line_sampler = Some(crate::detector::SpeakerDetector::new(
            crate::Speaker::Customer,
            &m,
            hop_s,
        ));
        self
    }

    /// This engine, without the customer's integrated loudness
    /// ([`CallEngine::customer_lufs`] then says `None`): a server that runs a
    /// thousand calls and never reports it saves 90 kB a call.
    pub fn without_call_loudness(mut self) -> Self {
        self.feats.customer.fx.drop_integrated_loudness();
        self
    }

    /// The call's sample for a line calibration, if [`CallEngine::with_line_sampler`]
    /// asked for one (`own` false: the customer's calm voice never formed).
    pub fn line_sample(&self) -> Option<crate::detector::baseline::BaselineValues> {
        self.decide.line_sampler.as_ref().map(|s| *s.baseline())
    }

    /// Analyses one block of each channel (`agent` ignored without an agent
    /// channel), handing every event to `sinks` and `observe`.
    pub fn process<S: Sink + ?Sized, O: Observer>(
        &mut self,
        customer: &[f32],
        agent: &[f32],
        sinks: &mut S,
        observe: &mut O,
    ) -> Result<(), ResampleError> {
        self.samples_in += customer.len() as u64;
        let Self { feats, decide, .. } = self;
        feats.process(customer, agent, |c, a| decide.hop(c, a, sinks, observe))
    }

    /// Ends the call: drains the channels, closes open segments, finishes the
    /// sinks. Returns the call's length in seconds.
    pub fn finish<S: Sink + ?Sized, O: Observer>(
        &mut self,
        sinks: &mut S,
        observe: &mut O,
    ) -> Result<f64, ResampleError> {
        let Self { feats, decide, .. } = self;
        feats.finish(|c, a| decide.hop(c, a, sinks, observe))?;
        let t = decide.last_t;
        for s in decide.detector.finish(t).into_iter().flatten() {
            decide.emit(Event::Segment(s), t, sinks, observe);
        }
        let duration_s = self.samples_in as f64 / self.rate as f64;
        if let Err(e) = sinks.finish(duration_s) {
            self.decide.sink_err.get_or_insert(e);
        }
        Ok(duration_s)
    }

    /// The first error any sink returned, taken (so it is reported once).
    pub fn take_sink_error(&mut self) -> Option<SinkError> {
        self.decide.sink_err.take()
    }

    /// Whether a sink has failed (stop feeding: the output is broken).
    pub fn sink_failed(&self) -> bool {
        self.decide.sink_err.is_some()
    }

    /// Integrated loudness of the customer channel so far, LUFS.
    pub fn customer_lufs(&self) -> Option<f64> {
        self.feats.customer().integrated_loudness()
    }

    /// The customer's calm voice as learnt so far (medians of their calm
    /// voiced speech; `own` false while only the priors stand). At a call's
    /// end, this call's sample for a line calibration.
    pub fn customer_baseline(&self) -> crate::detector::baseline::BaselineValues {
        *self.decide.detector.customer().baseline()
    }
}

/// The deciding half of the engine: detector, coach, and the first sink error.
/// Kept apart from the features so the feature callback can drive it.
struct Decide {
    detector: Detector,
    coach: Coach,
    coach_out: CoachEvents,
    sink_err: Option<SinkError>,
    last_t: f64,
    /// The customer's voice without the cold start, for a line's sample.
    line_sampler: Option<crate::detector::SpeakerDetector>,
}

impl Decide {
    fn hop<S: Sink + ?Sized, O: Observer>(
        &mut self,
        c: &Features,
        a: Option<&Features>,
        sinks: &mut S,
        observe: &mut O,
    ) {
        let (report, segs) = self.detector.process(c, a);
        if let Some(s) = &mut self.line_sampler {
            // Its events are not the call's: only its baseline is read.
            let _ = s.process(c);
        }
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

    fn emit<S: Sink + ?Sized, O: Observer>(
        &mut self,
        ev: Event,
        decided_at: f64,
        sinks: &mut S,
        observe: &mut O,
    ) {
        observe.event(decided_at, &ev);
        if let Err(e) = sinks.event(&ev) {
            self.sink_err.get_or_insert(e);
        }
    }
}

/// Replays one recorded call through detector and coach into `sinks`.
///
/// `observe` sees every hop and every event as they are decided.
/// On a read fault mid-file, everything before the fault is analysed and
/// written, the sinks are finished at the fault, and the error is returned.
/// When `stop` is set (Ctrl-C), the call ends at the next block, as if the
/// recording ended there: the sinks are finished and nothing is lost.
#[allow(clippy::too_many_arguments)] // each is one concern of a replay; a struct would only rename them
pub fn replay_call<S: Sink + ?Sized, O: Observer>(
    name: &str,
    src: &mut WavSource,
    model: &ShoutModel,
    coach_cfg: CoachConfig,
    sinks: &mut S,
    pace: Pace,
    observe: &mut O,
    stop: Option<&AtomicBool>,
) -> Result<CallStats, CallError> {
    let rate = src.spec().sample_rate;
    let has_agent = src.has_agent();
    // Small blocks in real time, so events leave within ~20 ms of their audio.
    let block = match pace {
        Pace::Fast => 4096,
        Pace::RealTime => (rate as usize / 50).max(1),
    };
    let resample_err = |source| CallError::Resample {
        file: name.to_string(),
        source,
    };
    let mut engine =
        CallEngine::new(rate, block, has_agent, model, coach_cfg).map_err(|e| match e {
            EngineError::Resample(r) => resample_err(r),
            EngineError::Coach(c) => CallError::Coach(c),
        })?;
    let (mut cust, mut agent) = (vec![0.0f32; block], vec![0.0f32; block]);
    let start = std::time::Instant::now();
    let mut samples_in = 0u64;
    let mut read_err = None;
    loop {
        match src.read(&mut cust, &mut agent) {
            Ok(0) => break,
            Ok(n) => {
                engine
                    .process(&cust[..n], &agent[..n], sinks, observe)
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
        if engine.sink_failed() || stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
    }
    let duration_s = engine.finish(sinks, observe).map_err(resample_err)?;
    if let Some(e) = read_err {
        return Err(e.into());
    }
    if let Some(source) = engine.take_sink_error() {
        return Err(CallError::Sink {
            file: name.to_string(),
            source,
        });
    }
    Ok(CallStats {
        duration_s,
        has_agent,
        customer_lufs: engine.customer_lufs(),
        customer_baseline: Some(engine.customer_baseline()),
    })
}

/// Why one channel could not be analysed to its end.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The recording could not be read (the hops before the fault were delivered).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The resampler refused the input.
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// The agent's channel was asked of a mono recording.
    #[error("{file}: no agent channel (mono file: it is the customer)")]
    NoAgent {
        /// The recording.
        file: String,
    },
    /// The consumer of the hops failed (its own error, passed through).
    #[error(transparent)]
    Output(std::io::Error),
}

/// Samples per channel read from a file at a time by [`analyse_channel`].
pub const FILE_BLOCK: usize = 4096;

/// Streams one voice of a recording through the feature chain, calling `on`
/// per hop: the one read loop behind `features`, `loudness` and training.
///
/// Hops already computed are delivered before a read error is returned, so
/// nothing processed is lost; the first error `on` returns stops the loop.
/// Returns the chain, for its integrated loudness.
pub fn analyse_channel(
    name: &str,
    src: &mut WavSource,
    speaker: Speaker,
    mut on: impl FnMut(&Features) -> std::io::Result<()>,
) -> Result<ChannelFeatures, ChannelError> {
    if speaker == Speaker::Agent && !src.has_agent() {
        return Err(ChannelError::NoAgent {
            file: name.to_string(),
        });
    }
    let mut chain =
        ChannelFeatures::new(src.spec().sample_rate, FILE_BLOCK, FeatureConfig::default())?;
    let mut cust = vec![0.0f32; FILE_BLOCK];
    let mut agent = vec![0.0f32; FILE_BLOCK];
    // A Cell, so the loop can take the error while `deliver` still holds it.
    let out_err = std::cell::Cell::new(None);
    let mut deliver = |f: &Features| {
        let e = out_err.take();
        out_err.set(if e.is_none() { on(f).err() } else { e });
    };
    loop {
        let n = match src.read(&mut cust, &mut agent) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                // Deliver what was read before the fault, then report it.
                chain.finish(&mut deliver)?;
                return Err(e.into());
            }
        };
        let input = if speaker == Speaker::Agent {
            &agent[..n]
        } else {
            &cust[..n]
        };
        chain.process(input, &mut deliver)?;
        if let Some(e) = out_err.take() {
            return Err(ChannelError::Output(e));
        }
    }
    chain.finish(&mut deliver)?;
    match out_err.take() {
        Some(e) => Err(ChannelError::Output(e)),
        None => Ok(chain),
    }
}
