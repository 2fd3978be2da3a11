//! Shout detection: per-speaker baselines, per-hop scores, and hysteresis
//! that turns scores into shouting segments.
//!
//! This module knows the features of each hop and nothing of the coach or
//! the sinks that follow it.

pub mod baseline;
pub mod line;
pub mod model;

use crate::features::Features;
pub use crate::Speaker;
use baseline::{semitones, Baseline};
pub use line::{LineCalibration, LineError};
pub use model::{ColdStart, ShoutModel, N_CUES};

/// How far a voice sits above the speaker's own baseline, cue by cue.
///
/// Relative cues, because phone lines apply AGC and handsets differ: the
/// absolute level says little, the rise against the same voice says a lot.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cues {
    /// F0 above the baseline median, in semitones.
    pub f0_st: f32,
    /// Alpha ratio (1-4 kHz against 50 Hz-1 kHz) above the baseline, in dB.
    pub tilt_db: f32,
    /// Level above the baseline, in dB (weak alone: AGC flattens it).
    pub level_db: f32,
    /// Fraction of clipped samples in the hop, 0 to 1.
    pub clip_frac: f32,
    /// Spectral centroid above the baseline, in semitones: a raised voice
    /// opens the mouth and lifts the first formant, so the spectrum brightens
    /// even through AGC. The cue that best tells shouting from cheerfulness.
    #[serde(default)]
    pub centroid_st: f32,
}

/// What the detector says about one speaker for one hop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeakerHop {
    /// The speaker is talking in this hop (voice activity, with hangover).
    pub speech: bool,
    /// The speaker is inside a shouting segment (after hysteresis).
    pub shouting: bool,
    /// The smoothed shout score, 0 to 1.
    pub score: f32,
    /// The cues of this hop relative to the baseline.
    pub cues: Cues,
}

/// The detector's output for one hop of the call, both speakers together.
///
/// `agent` is `None` for a mono recording: there is no agent channel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HopReport {
    /// Time of the hop's centre, in seconds from the start of the call.
    pub t: f64,
    /// The customer's state.
    pub customer: SpeakerHop,
    /// The agent's state, if there is an agent channel.
    pub agent: Option<SpeakerHop>,
}

/// A change in a speaker's shouting state.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SegmentEvent {
    /// A shouting segment began (hysteresis and minimum duration passed).
    ///
    /// `t` is the segment's start, which is earlier than the hop that decided it.
    ShoutStart {
        /// Start of the segment, seconds.
        t: f64,
        /// Who is shouting.
        speaker: Speaker,
        /// Score at the decision, 0 to 1.
        score: f32,
        /// The cues that carried the decision.
        cues: Cues,
        /// The hop that decided it, seconds: how late the detection was.
        decided_t: f64,
        /// What the voice was measured against: the speaker's own
        /// baseline, or (a cold start) the priors, calibrated to the line
        /// or not.
        baseline: Yardstick,
    },
    /// A shouting segment ended.
    ShoutEnd {
        /// End of the segment, seconds.
        t: f64,
        /// Who was shouting.
        speaker: Speaker,
        /// Length of the segment, seconds.
        duration: f64,
        /// Peak score in the segment.
        peak_score: f32,
        /// Cues at the peak.
        peak_cues: Cues,
        /// The hop that decided the end, seconds.
        decided_t: f64,
    },
}

/// What a shouting decision was measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Yardstick {
    /// The speaker's own calm voice.
    Own,
    /// A cold start, with the model's priors calibrated to this line's
    /// callers ([`LineCalibration`]).
    Line,
    /// A cold start against the model's priors alone.
    Priors,
}

impl Yardstick {
    /// The name used in events (`shout_start.baseline`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Line => "line",
            Self::Priors => "priors",
        }
    }
}

/// Evidence state of one speaker's segmenter.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Calm,
    Shouting,
}

/// Scores one speaker's hops against their own baseline and cuts shouting
/// segments with hysteresis.
#[derive(Debug, Clone)]
pub struct SpeakerDetector {
    speaker: Speaker,
    model: ShoutModel,
    baseline: Baseline,
    hop_s: f32,
    alpha: f32,
    smooth: [f32; N_CUES],
    have_smooth: bool,
    score: f32,
    state: State,
    /// Voiced time above `on_threshold` in the current run of speech, s.
    evidence_s: f32,
    /// Start of the evidence run (first hop above `on_threshold`).
    evidence_start: f64,
    /// Whether this speaker has had a shouting segment in the call: then
    /// `rearm_f0_rise_st` applies instead of `min_f0_rise_st`.
    shouted: bool,
    /// Running mean of the absolute cold-start cues (F0 st, alpha dB,
    /// centroid st) over the voiced hops of the current stretch of speech.
    cold_mean: [f32; 3],
    /// Voiced hops in that mean (capped at the window: then it is an
    /// exponential mean).
    cold_n: f32,
    /// Hops in the cold-start window (`ColdStart::window_s / hop_s`).
    cold_window: f32,
    /// The cold-start score of the current stretch, 0 to 1.
    cold_score: f32,
    /// Whether the open segment (or the evidence for one) was decided by
    /// the cold start rather than the relative cues.
    by_cold: bool,
    /// Speech time below `off_threshold` while shouting, s.
    low_s: f32,
    silence_s: f32,
    last_speech_t: f64,
    seg_start: f64,
    peak_score: f32,
    peak_cues: Cues,
    cues: Cues,
}

impl SpeakerDetector {
    /// A detector for one speaker; `hop_s` is the hop length in seconds.
    pub fn new(speaker: Speaker, model: &ShoutModel, hop_s: f32) -> Self {
        let tau = model.smoothing_s.max(hop_s);
        Self {
            speaker,
            baseline: Baseline::new(model.baseline, hop_s),
            model: model.clone(),
            hop_s,
            alpha: 1.0 - (-hop_s / tau).exp(),
            smooth: [0.0; N_CUES],
            have_smooth: false,
            score: 0.0,
            state: State::Calm,
            evidence_s: 0.0,
            evidence_start: 0.0,
            shouted: false,
            cold_mean: [0.0; 3],
            cold_n: 0.0,
            cold_window: model
                .cold
                .as_ref()
                .map_or(1.0, |c| (c.window_s / hop_s).max(1.0)),
            cold_score: 0.0,
            by_cold: false,
            low_s: 0.0,
            silence_s: 0.0,
            last_speech_t: 0.0,
            seg_start: 0.0,
            peak_score: 0.0,
            peak_cues: Cues::default(),
            cues: Cues::default(),
        }
    }

    /// The baseline as it stands.
    pub fn baseline(&self) -> &baseline::BaselineValues {
        self.baseline.values()
    }

    /// The logistic score of (smoothed) raw cue rises.
    pub fn score_of(model: &ShoutModel, rises: &[f32; N_CUES]) -> f32 {
        let mut z = model.bias;
        for (((x, w), m), s) in rises
            .iter()
            .zip(&model.weights)
            .zip(&model.mean)
            .zip(&model.scale)
        {
            z += w * (x - m) / s;
        }
        1.0 / (1.0 + (-z).exp())
    }

    /// This hop's cue rises against the baseline (voiced hops only).
    pub fn rises(&self, f: &Features) -> [f32; N_CUES] {
        let b = self.baseline.values();
        let c = self.model.f0_clamp_st;
        [
            (semitones(f.f0_hz) - b.f0_st).clamp(-c, c),
            f.alpha_ratio_db - b.alpha_db,
            (f.rms_dbfs - b.level_db).clamp(-self.model.level_clamp_db, self.model.level_clamp_db),
            f.clip_frac,
            semitones(f.centroid_hz.max(1.0)) - b.centroid_st,
        ]
    }

    /// Processes one hop; returns this speaker's state and, when a segment
    /// starts or ends, the event.
    pub fn process(&mut self, f: &Features) -> (SpeakerHop, Option<SegmentEvent>) {
        let m = &self.model;
        if f.voiced && f.f0_hz > 0.0 {
            let r = self.rises(f);
            if self.have_smooth {
                for (s, x) in self.smooth.iter_mut().zip(r) {
                    *s += self.alpha * (x - *s);
                }
            } else {
                self.smooth = r;
                self.have_smooth = true;
            }
            self.score = Self::score_of(m, &self.smooth);
            if let Some(cold) = &m.cold {
                let x = [
                    semitones(f.f0_hz),
                    f.alpha_ratio_db,
                    semitones(f.centroid_hz.max(1.0)),
                ];
                self.cold_n = (self.cold_n + 1.0).min(self.cold_window);
                for (s, x) in self.cold_mean.iter_mut().zip(x) {
                    *s += (x - *s) / self.cold_n;
                }
                let [f0, a, c] = self.cold_mean;
                self.cold_score = cold.score(f0, a, c);
            }
            self.cues = Cues {
                f0_st: self.smooth[0],
                tilt_db: self.smooth[1],
                level_db: self.smooth[2],
                clip_frac: self.smooth[3],
                centroid_st: self.smooth[4],
            };
            // Before the caller's own baseline exists, the cold start says
            // whether a hop is calm enough to teach it: a raised opening
            // never becomes the caller's normal voice.
            let cold_raised = match &m.cold {
                Some(c) if !self.baseline.values().own => self.cold_score >= c.calm_below,
                _ => false,
            };
            // With a cold start, neither a raised hop nor a shouting one is
            // ever offered, so `prior_max_s` cannot make them the normal
            // voice either; without one, as before.
            let offer = m.cold.is_none() || (self.state != State::Shouting && !cold_raised);
            if offer {
                self.baseline.learn(
                    semitones(f.f0_hz),
                    f.alpha_ratio_db,
                    f.rms_dbfs,
                    semitones(f.centroid_hz.max(1.0)),
                    if self.state == State::Shouting {
                        1.0
                    } else if m.cold.is_some() && !self.baseline.values().own {
                        // The cold start has judged this hop calm: a better
                        // judge than the relative cues against the priors,
                        // which are a handful of studio voices. So a calm
                        // voice far from them gets its own baseline within
                        // `min_voiced_s`, and the cold start steps aside.
                        0.0
                    } else {
                        self.score
                    },
                );
            }
        } else if !f.speech {
            // In silence the voice is not raised: let the score fade.
            self.score *= 1.0 - self.alpha;
            self.have_smooth = false;
            // A pause ends the stretch the cold start averages over.
            self.cold_n = 0.0;
            self.cold_score *= 1.0 - self.alpha;
        }
        // Which score decides: the cold start until the caller's own
        // baseline exists (if the model has one), then the relative cues.
        let cold = m
            .cold
            .as_ref()
            .filter(|_| !self.baseline.values().own || self.by_cold)
            .map(|c| (c.on_threshold, c.calm_below));
        let (min_on_voiced_s, end_pause_s) = (m.min_on_voiced_s, m.end_pause_s);

        if f.speech {
            self.silence_s = 0.0;
            self.last_speech_t = f.t;
        } else {
            self.silence_s += self.hop_s;
        }

        let mut event = None;
        match self.state {
            State::Calm if cold.is_some() => {
                let (cold_on, cold_off) = cold.unwrap_or_default();
                if f.voiced && self.cold_score >= cold_on {
                    if self.evidence_s == 0.0 {
                        self.evidence_start = f.t;
                    }
                    self.evidence_s += self.hop_s;
                    self.by_cold = true;
                } else if self.silence_s >= end_pause_s || self.cold_score < cold_off {
                    self.evidence_s = 0.0;
                    self.by_cold = false;
                }
                if self.evidence_s >= min_on_voiced_s {
                    let line = m.cold.as_ref().is_some_and(|c| c.line_shift.is_some());
                    let by = if line {
                        Yardstick::Line
                    } else {
                        Yardstick::Priors
                    };
                    event = Some(self.start_segment(f.t, self.cold_score, by));
                }
            }
            State::Calm => {
                let on = if self.baseline.values().own {
                    m.on_threshold
                } else {
                    m.prior_on_threshold.unwrap_or(m.on_threshold)
                };
                // A prior threshold of 1 means the priors never decide:
                // calm voices from other corpora reach any lower one.
                let may_decide = on < 1.0;
                // Shouting raises F0: a voice well below its yardstick is
                // brighter or odder, not raised (a line, a new speaker).
                let floor = if self.shouted {
                    m.rearm_f0_rise_st.unwrap_or(m.min_f0_rise_st)
                } else {
                    m.min_f0_rise_st
                };
                let f0_ok = self.cues.f0_st >= floor;
                if may_decide && f.voiced && self.score >= on && f0_ok {
                    if self.evidence_s == 0.0 {
                        self.evidence_start = f.t;
                    }
                    self.evidence_s += self.hop_s;
                } else if self.silence_s >= m.end_pause_s || self.score < m.off_threshold {
                    self.evidence_s = 0.0;
                }
                if self.evidence_s >= min_on_voiced_s {
                    let by = if self.baseline.values().own {
                        Yardstick::Own
                    } else {
                        Yardstick::Priors
                    };
                    event = Some(self.start_segment(f.t, self.score, by));
                }
            }
            State::Shouting => {
                // A segment the cold start opened fades on the cold score.
                let (score, off) = match cold {
                    Some((_, cold_off)) if self.by_cold => (self.cold_score, cold_off),
                    _ => (self.score, m.off_threshold),
                };
                if score > self.peak_score {
                    self.peak_score = score;
                    self.peak_cues = self.cues;
                }
                if f.speech && score < off {
                    self.low_s += self.hop_s;
                } else if f.speech {
                    self.low_s = 0.0;
                }
                if self.silence_s >= m.end_pause_s || self.low_s >= m.min_off_s {
                    let end = if self.silence_s >= m.end_pause_s {
                        self.last_speech_t
                    } else {
                        f.t
                    };
                    self.state = State::Calm;
                    self.evidence_s = 0.0;
                    self.by_cold = false;
                    event = Some(SegmentEvent::ShoutEnd {
                        t: end,
                        speaker: self.speaker,
                        duration: (end - self.seg_start).max(0.0),
                        peak_score: self.peak_score,
                        peak_cues: self.peak_cues,
                        decided_t: f.t,
                    });
                }
            }
        }
        (
            SpeakerHop {
                speech: f.speech,
                shouting: self.state == State::Shouting,
                score: if cold.is_some() {
                    self.cold_score
                } else {
                    self.score
                },
                cues: self.cues,
            },
            event,
        )
    }

    /// Opens a shouting segment decided at `t` with `score`.
    fn start_segment(&mut self, t: f64, score: f32, baseline: Yardstick) -> SegmentEvent {
        self.state = State::Shouting;
        self.shouted = true;
        self.seg_start = self.evidence_start;
        self.peak_score = score;
        self.peak_cues = self.cues;
        self.low_s = 0.0;
        SegmentEvent::ShoutStart {
            t: self.seg_start,
            speaker: self.speaker,
            score,
            cues: self.cues,
            decided_t: t,
            baseline,
        }
    }

    /// Closes an open segment at the end of the call.
    pub fn finish(&mut self, t_end: f64) -> Option<SegmentEvent> {
        if self.state != State::Shouting {
            return None;
        }
        self.state = State::Calm;
        let end = self.last_speech_t.max(self.seg_start).min(t_end);
        Some(SegmentEvent::ShoutEnd {
            t: end,
            speaker: self.speaker,
            duration: (end - self.seg_start).max(0.0),
            peak_score: self.peak_score,
            peak_cues: self.peak_cues,
            decided_t: t_end,
        })
    }
}

/// Both speakers' detectors for one call.
#[derive(Debug, Clone)]
pub struct Detector {
    customer: SpeakerDetector,
    agent: Option<SpeakerDetector>,
}

/// Segment events of one hop: at most one per speaker, so two slots.
pub type HopEvents = [Option<SegmentEvent>; 2];

impl Detector {
    /// A detector for a call with or without an agent channel.
    pub fn new(model: &ShoutModel, hop_s: f32, has_agent: bool) -> Self {
        Self {
            customer: SpeakerDetector::new(Speaker::Customer, model, hop_s),
            agent: has_agent.then(|| SpeakerDetector::new(Speaker::Agent, model, hop_s)),
        }
    }

    /// Processes one hop of both channels. `agent` is ignored without an agent channel.
    pub fn process(
        &mut self,
        customer: &Features,
        agent: Option<&Features>,
    ) -> (HopReport, HopEvents) {
        let (c, ce) = self.customer.process(customer);
        let (a, ae) = match (&mut self.agent, agent) {
            (Some(d), Some(f)) => {
                let (h, e) = d.process(f);
                (Some(h), e)
            }
            _ => (None, None),
        };
        (
            HopReport {
                t: customer.t,
                customer: c,
                agent: a,
            },
            [ce, ae],
        )
    }

    /// Closes open segments at the end of the call.
    pub fn finish(&mut self, t_end: f64) -> HopEvents {
        [
            self.customer.finish(t_end),
            self.agent.as_mut().and_then(|a| a.finish(t_end)),
        ]
    }

    /// The customer's detector (for baselines and plots).
    pub fn customer(&self) -> &SpeakerDetector {
        &self.customer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(t: f64, f0: f32, alpha: f32, level: f32, speech: bool) -> Features {
        Features {
            t,
            rms_dbfs: level,
            loudness_lufs: level,
            f0_hz: if speech { f0 } else { 0.0 },
            voicing: 0.9,
            voiced: speech,
            alpha_ratio_db: alpha,
            centroid_hz: 350.0,
            clip_frac: 0.0,
            speech,
        }
    }

    /// Feeds `secs` of one voice, returns the events.
    fn feed(
        d: &mut SpeakerDetector,
        t: &mut f64,
        secs: f64,
        f0: f32,
        alpha: f32,
        speech: bool,
    ) -> Vec<SegmentEvent> {
        let mut out = Vec::new();
        let n = (secs / 0.01).round() as usize;
        for _ in 0..n {
            let mut h = hop(*t, f0, alpha, -32.0, speech);
            if alpha > -20.0 {
                // A raised voice: also louder and brighter, as the cues go together.
                h.rms_dbfs += 6.0;
                h.centroid_hz *= 1.6;
            }
            let (_, e) = d.process(&h);
            out.extend(e);
            *t += 0.01;
        }
        out
    }

    #[test]
    fn sustained_rise_is_shouting_and_a_short_one_is_not() {
        let model = ShoutModel::builtin();
        let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
        let mut t = 0.0;
        // Calm voice, with pauses: the baseline forms.
        for _ in 0..5 {
            assert!(feed(&mut d, &mut t, 1.5, 120.0, -20.0, true).is_empty());
            assert!(feed(&mut d, &mut t, 0.6, 0.0, 0.0, false).is_empty());
        }
        assert!(d.baseline().own);
        // One loud word: 0.2 s, an octave up and 10 dB flatter.
        assert!(feed(&mut d, &mut t, 0.2, 240.0, -10.0, true).is_empty());
        assert!(feed(&mut d, &mut t, 0.6, 0.0, 0.0, false).is_empty());
        // A shouted sentence.
        let start_t = t;
        let ev = feed(&mut d, &mut t, 1.5, 240.0, -10.0, true);
        assert!(
            matches!(ev[..], [SegmentEvent::ShoutStart { t: s, .. }] if (s - start_t).abs() < 0.3),
            "{ev:?}"
        );
        let ev = feed(&mut d, &mut t, 0.8, 0.0, 0.0, false);
        assert!(
            matches!(ev[..], [SegmentEvent::ShoutEnd { duration, .. }] if duration > 1.2),
            "{ev:?}"
        );
        // The baseline did not learn the shouting.
        assert!((d.baseline().f0_st - semitones(120.0)).abs() < 1.0);
    }

    /// Five calm turns, so that the speaker's own baseline exists.
    fn calm_start(d: &mut SpeakerDetector, t: &mut f64) {
        for _ in 0..5 {
            assert!(feed(d, t, 1.5, 120.0, -20.0, true).is_empty());
            assert!(feed(d, t, 0.6, 0.0, 0.0, false).is_empty());
        }
        assert!(d.baseline().own);
    }

    #[test]
    fn after_a_first_shout_a_smaller_pitch_rise_is_enough() {
        let starts = |ev: &[SegmentEvent]| {
            ev.iter()
                .filter(|e| matches!(e, SegmentEvent::ShoutStart { .. }))
                .count()
        };
        let modest = 120.0 * 2f32.powf(3.5 / 12.0); // +3.5 st
        let strong = 120.0 * 2f32.powf(8.0 / 12.0); // +8 st
        for (rearm, second) in [(Some(3.0), 1), (None, 0)] {
            let mut model = ShoutModel::builtin();
            model.min_f0_rise_st = 4.5;
            model.rearm_f0_rise_st = rearm;
            assert!(model.validate().is_ok());
            let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
            let mut t = 0.0;
            calm_start(&mut d, &mut t);
            // Bright and loud with a modest pitch rise: a calm voice's new
            // prompt, or a shout that has not yet been heard as one.
            assert_eq!(starts(&feed(&mut d, &mut t, 2.0, modest, 0.0, true)), 0);
            feed(&mut d, &mut t, 1.0, 0.0, 0.0, false);
            calm_start(&mut d, &mut t);
            assert_eq!(starts(&feed(&mut d, &mut t, 2.0, strong, 0.0, true)), 1);
            feed(&mut d, &mut t, 1.0, 0.0, 0.0, false);
            calm_start(&mut d, &mut t);
            // The same modest rise now counts, if the model re-arms.
            let ev = feed(&mut d, &mut t, 2.0, modest, 0.0, true);
            assert_eq!(starts(&ev), second, "rearm {rearm:?}: {ev:?}");
        }
        let mut bad = ShoutModel::builtin();
        bad.min_f0_rise_st = 3.0;
        bad.rearm_f0_rise_st = Some(4.0);
        assert!(
            bad.validate().is_err(),
            "a re-armed floor above the first one"
        );
    }

    #[test]
    fn a_brighter_louder_voice_with_f0_well_down_is_not_shouting() {
        // Louder and much brighter, but 8 semitones *lower*: a new line or
        // another speaker, not a raised voice.
        for (gate, expect_shout) in [(-6.0, false), (f32::NEG_INFINITY, true)] {
            let mut model = ShoutModel::builtin();
            model.min_f0_rise_st = gate;
            model.weights[0] = 0.0; // F0 alone must not already hold it down
            let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
            let mut t = 0.0;
            calm_start(&mut d, &mut t);
            let ev = feed(&mut d, &mut t, 2.0, 75.0, 0.0, true);
            let shout = ev
                .iter()
                .any(|e| matches!(e, SegmentEvent::ShoutStart { .. }));
            assert_eq!(shout, expect_shout, "gate {gate}: {ev:?}");
        }
    }

    #[test]
    fn before_the_own_baseline_only_a_clearer_rise_counts() {
        // A call that opens with shouting: scored against the priors alone
        // (a model without a cold start, as models before it were).
        let shout_at_once = |prior_on: Option<f32>| {
            let mut model = ShoutModel::builtin();
            model.cold = None;
            model.prior_on_threshold = prior_on;
            let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
            let mut t = 0.0;
            let ev = feed(&mut d, &mut t, 2.0, 400.0, 0.0, true);
            assert!(!d.baseline().own);
            ev.iter()
                .any(|e| matches!(e, SegmentEvent::ShoutStart { .. }))
        };
        assert!(shout_at_once(None));
        assert!(shout_at_once(Some(0.9)));
        // No score reaches an impossible threshold: nothing starts.
        assert!(!shout_at_once(Some(1.0)));
        // Once the caller's own baseline exists, the stricter threshold is
        // out of the way.
        let mut model = ShoutModel::builtin();
        model.prior_on_threshold = Some(1.0);
        let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
        let mut t = 0.0;
        calm_start(&mut d, &mut t);
        let ev = feed(&mut d, &mut t, 2.0, 240.0, -10.0, true);
        assert!(
            ev.iter()
                .any(|e| matches!(e, SegmentEvent::ShoutStart { .. })),
            "{ev:?}"
        );
    }

    /// A cold start that hears only F0: above about 14 st (250 Hz) raised.
    fn cold_model() -> ShoutModel {
        let mut model = ShoutModel::builtin();
        let mut weights = [0.0; model::N_COLD];
        weights[0] = 1.0;
        let mut mean = [0.0; model::N_COLD];
        mean[0] = 14.0;
        model.cold = Some(ColdStart {
            terms: model::COLD_TERMS.iter().map(|s| s.to_string()).collect(),
            mean,
            scale: [1.0; model::N_COLD],
            weights,
            bias: 0.0,
            window_s: 1.0,
            on_threshold: 0.8,
            calm_below: 0.55,
            provenance: Default::default(),
            line_reference: None,
            line_shift: None,
        });
        assert!(model.validate().is_ok());
        model
    }

    fn starts(ev: &[SegmentEvent]) -> Vec<(f64, f64, bool)> {
        ev.iter()
            .filter_map(|e| match e {
                SegmentEvent::ShoutStart {
                    t,
                    decided_t,
                    baseline,
                    ..
                } => Some((*t, *decided_t, *baseline == Yardstick::Own)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_call_that_opens_raised_is_decided_by_the_cold_start() {
        let model = cold_model();
        let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
        let mut t = 0.0;
        let ev = feed(&mut d, &mut t, 2.0, 400.0, -10.0, true);
        let s = starts(&ev);
        assert_eq!(s.len(), 1, "{ev:?}");
        let (start, decided, own) = s[0];
        assert!(!own, "judged before any baseline: {ev:?}");
        assert!(start < 0.1 && decided < 0.8, "{ev:?}");
        // A calm opening of the same length: nothing, and the caller's own
        // baseline takes over within about its 1.5 s of calm voice.
        let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
        let mut t = 0.0;
        assert!(starts(&feed(&mut d, &mut t, 2.0, 120.0, -20.0, true)).is_empty());
        assert!(d.baseline().own);
        // Without a cold start the priors never decide (threshold 1).
        let mut no_cold = ShoutModel::builtin();
        no_cold.cold = None;
        let mut d2 = SpeakerDetector::new(Speaker::Customer, &no_cold, 0.01);
        let mut t2 = 0.0;
        assert!(starts(&feed(&mut d2, &mut t2, 2.0, 400.0, -10.0, true)).is_empty());
    }

    /// A cold start that hears only the alpha ratio: above -15 dB raised.
    fn bright_cold_model() -> ShoutModel {
        let mut model = cold_model();
        let c = model.cold.as_mut().unwrap();
        c.weights = [0.0; model::N_COLD];
        c.weights[1] = 1.0;
        c.mean = [0.0; model::N_COLD];
        c.mean[1] = -15.0;
        c.line_reference = Some([-18.0, 24.0]);
        model
    }

    fn calibrated(model: &ShoutModel, alpha_db: f32) -> ShoutModel {
        let line = LineCalibration {
            v: line::LINE_FORMAT,
            alpha_db,
            centroid_st: 24.0,
            calls: 50,
            f0_iqr_st: 5.0,
            source: "test".into(),
        };
        model.calibrated(&line).unwrap()
    }

    #[test]
    fn a_bright_line_is_not_taken_for_raised_voices_once_calibrated_and_a_dull_one_is_heard() {
        let model = bright_cold_model();
        // A calm voice on a line 6 dB brighter than the training chain:
        // raised, uncalibrated; calm once the line's own callers say where
        // calm voices sit on it.
        let opening = |m: &ShoutModel, alpha| {
            let mut d = SpeakerDetector::new(Speaker::Customer, m, 0.01);
            let mut t = 0.0;
            starts(&feed(&mut d, &mut t, 1.2, 180.0, alpha, true))
        };
        assert_eq!(opening(&model, -12.0).len(), 1);
        assert!(opening(&calibrated(&model, -12.0), -12.0).is_empty());
        // A raised voice on a line 6 dB duller than the training chain:
        // missed, uncalibrated; heard against the line.
        assert!(opening(&model, -16.0).is_empty());
        let mut d = SpeakerDetector::new(Speaker::Customer, &calibrated(&model, -24.0), 0.01);
        let mut t = 0.0;
        let ev = feed(&mut d, &mut t, 1.2, 180.0, -16.0, true);
        assert!(
            matches!(
                ev[..],
                [SegmentEvent::ShoutStart {
                    baseline: Yardstick::Line,
                    ..
                }]
            ),
            "decided against the line: {ev:?}"
        );
        // Uncalibrated, the same decision says it stood on the priors.
        let ev = {
            let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
            let mut t = 0.0;
            feed(&mut d, &mut t, 1.2, 180.0, -12.0, true)
        };
        assert!(
            matches!(
                ev[..],
                [SegmentEvent::ShoutStart {
                    baseline: Yardstick::Priors,
                    ..
                }]
            ),
            "{ev:?}"
        );
    }

    #[test]
    fn a_long_raised_opening_never_becomes_the_callers_normal_voice() {
        let model = cold_model();
        let mut d = SpeakerDetector::new(Speaker::Customer, &model, 0.01);
        let mut t = 0.0;
        // Twelve seconds of raised voice in four turns: longer than
        // prior_max_s, after which the baseline used to learn anything.
        let mut ev = Vec::new();
        for _ in 0..4 {
            ev.extend(feed(&mut d, &mut t, 3.0, 400.0, -10.0, true));
            ev.extend(feed(&mut d, &mut t, 0.6, 0.0, 0.0, false));
        }
        assert!(!starts(&ev).is_empty(), "{ev:?}");
        assert!(!d.baseline().own, "{:?}", d.baseline());
        // The caller calms down: their own baseline is the calm voice.
        calm_start(&mut d, &mut t);
        assert!(
            (d.baseline().f0_st - semitones(120.0)).abs() < 1.0,
            "{:?}",
            d.baseline()
        );
        // And the next outburst is found, against that baseline.
        let s = starts(&feed(&mut d, &mut t, 2.0, 400.0, -10.0, true));
        assert!(matches!(s[..], [(_, _, true)]), "{s:?}");
    }

    #[test]
    fn a_cold_start_with_its_thresholds_inverted_is_refused() {
        let mut model = cold_model();
        if let Some(c) = model.cold.as_mut() {
            c.calm_below = 0.9;
        }
        let e = model.validate().unwrap_err();
        assert!(e.contains("cold.calm_below"), "{e}");
    }
}
