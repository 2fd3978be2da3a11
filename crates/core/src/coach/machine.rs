//! The ladder state machine, driven once per hop.

use crate::detector::{HopReport, SegmentEvent};
use crate::Speaker;
use crate::{ANALYSIS_RATE, HOP};

use super::config::{CoachConfig, ConfigError};
use super::events::{AlertSummary, CoachEvent, CoachEvents, Delivery, NudgeKind, Rung, LADDER};

/// Seconds per hop.
const HOP_S: f64 = HOP as f64 / ANALYSIS_RATE as f64;

/// Whole hops in `s` seconds (the config is validated to at most an hour).
fn hops(s: f64) -> u32 {
    (s / HOP_S).round() as u32
}

/// Where the current cue is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CueState {
    /// No cue on screen or waiting.
    Idle,
    /// Decided; shown at the customer's next pause.
    Pending { rung: usize, recue: bool },
    /// Shown; the delivery window is open.
    Awaiting {
        rung: usize,
        elapsed: u32,
        speech: u32,
    },
    /// Shown, window passed unsaid: stays up until a new shout re-cues it.
    Unsaid { rung: usize },
}

/// The de-escalation coach: decides which script line to cue, and when.
///
/// Built once per call with all its state sized up front; [`process`]
/// then runs once per hop without allocating, locking or logging.
///
/// Decisions worth knowing (the tests hold each of them):
/// - A customer `ShoutStart` while a cue is shown and its delivery window
///   is still open does not cue anything: the agent has not had their turn.
/// - After step 4 counts (delivered, or shown on a mono call) the coach
///   advises ending the call, alerts the supervisor once, and the ladder
///   stops: no more cues or calm events, only the agent's nudges.
/// - A calm period closes an open delivery window without a verdict: the
///   customer has moved on, and so does the overlay.
/// - Nudges are private: they never change the ladder or the supervisor's
///   summary, and the incident note leaves them out.
///
/// [`process`]: Coach::process
#[derive(Debug, Clone)]
pub struct Coach {
    cfg: CoachConfig,
    pause_hops: u32,
    window_hops: u32,
    delivery_hops: u32,
    calm_hops: u32,
    calm_speech_hops: u32,
    overtalk_hops: u32,
    cooldown_hops: u64,

    /// Hops processed so far.
    hop: u64,
    /// Index into [`LADDER`] of the next rung to cue.
    rung: usize,
    /// Step 4 has counted: the ladder is over.
    ended: bool,
    /// When the supervisor was last alerted, s.
    last_alert_t: Option<f64>,
    /// Least time between two supervisor alerts after the ladder's end, s.
    realert_after_s: f64,
    cue: CueState,
    /// A cue has been shown and no calm period has answered it yet.
    calm_armed: bool,

    /// Consecutive hops without customer speech.
    cust_silence: u32,
    /// Hop at which the customer's current speech run began.
    cust_run_start: Option<u64>,
    /// Hops since the customer last shouted (or since the last cue).
    calm_run: u32,
    /// Calm customer speech hops within `calm_run`.
    calm_speech: u32,

    /// Hop at which the agent's current speech run began.
    agent_run_start: Option<u64>,
    /// Consecutive hops of the agent talking over the customer.
    overtalk_run: u32,
    /// The current overtalk run already produced (or was denied) a nudge.
    overtalk_done: bool,
    /// Hop of the last nudge of each kind.
    last_nudge: [Option<u64>; 2],

    episodes: u32,
    shouting_closed_s: f64,
    open_shout_start: Option<f64>,
    steps_given: u8,
    cues_shown: u32,
}

impl Coach {
    /// A coach for one call; checks the config first.
    pub fn new(cfg: CoachConfig) -> Result<Self, ConfigError> {
        cfg.validate("<CoachConfig>")?;
        Ok(Self {
            cfg,
            pause_hops: hops(cfg.pause_s).max(1),
            window_hops: hops(cfg.delivery_window_s).max(1),
            delivery_hops: hops(cfg.delivery_min_speech_s).max(1),
            calm_hops: hops(cfg.calm_after_s).max(1),
            calm_speech_hops: hops(cfg.calm_min_speech_s),
            overtalk_hops: hops(cfg.overtalk_s),
            cooldown_hops: u64::from(hops(cfg.nudge_cooldown_s)),
            hop: 0,
            rung: 0,
            ended: false,
            last_alert_t: None,
            realert_after_s: cfg.realert_after_s,
            cue: CueState::Idle,
            calm_armed: false,
            cust_silence: 0,
            cust_run_start: None,
            calm_run: 0,
            calm_speech: 0,
            agent_run_start: None,
            overtalk_run: 0,
            overtalk_done: false,
            last_nudge: [None; 2],
            episodes: 0,
            shouting_closed_s: 0.0,
            open_shout_start: None,
            steps_given: 0,
            cues_shown: 0,
        })
    }

    /// Forgets the call, ready for the next one; allocates nothing.
    pub fn reset(&mut self) {
        // `new` only fails on a bad config, and this one was checked.
        if let Ok(fresh) = Self::new(self.cfg) {
            *self = fresh;
        }
    }

    /// The timing constants in use.
    pub fn config(&self) -> &CoachConfig {
        &self.cfg
    }

    /// The rung the next customer shouting will be cued at, or `None` once
    /// the ladder has ended.
    pub fn next_rung(&self) -> Option<Rung> {
        if self.ended {
            None
        } else {
            LADDER.get(self.rung).copied()
        }
    }

    /// True once step 4 has counted and the end of the call was advised.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Advances one hop: reads the detector's report and the segment events
    /// decided in this hop, and replaces `out`'s contents with what the
    /// coach decides now.
    pub fn process(&mut self, hop: &HopReport, segments: &[SegmentEvent], out: &mut CoachEvents) {
        out.clear();
        let n = self.hop;
        self.hop += 1;
        let t = hop.t;
        let cust = hop.customer;
        let agent_speech = hop.agent.is_some_and(|a| a.speech);

        // Speech runs.
        if cust.speech {
            self.cust_silence = 0;
            self.cust_run_start.get_or_insert(n);
        } else {
            self.cust_silence = self.cust_silence.saturating_add(1);
            self.cust_run_start = None;
        }
        if agent_speech {
            self.agent_run_start.get_or_insert(n);
        } else {
            self.agent_run_start = None;
        }

        for seg in segments {
            match *seg {
                SegmentEvent::ShoutStart {
                    t: start,
                    speaker: Speaker::Customer,
                    ..
                } => {
                    self.episodes = self.episodes.saturating_add(1);
                    self.open_shout_start = Some(start);
                    self.calm_run = 0;
                    self.calm_speech = 0;
                    self.on_customer_shout(t, out);
                }
                SegmentEvent::ShoutEnd {
                    speaker: Speaker::Customer,
                    duration,
                    ..
                } => {
                    if duration.is_finite() && duration > 0.0 {
                        self.shouting_closed_s += duration;
                    }
                    self.open_shout_start = None;
                }
                SegmentEvent::ShoutStart {
                    speaker: Speaker::Agent,
                    ..
                } => self.nudge(NudgeKind::RaisedVoice, n, t, out),
                SegmentEvent::ShoutEnd {
                    speaker: Speaker::Agent,
                    ..
                } => {}
            }
        }

        // Delivery of a cue shown in an earlier hop.
        if let CueState::Awaiting {
            rung,
            elapsed,
            speech,
        } = self.cue
        {
            let elapsed = elapsed + 1;
            let speech = speech + u32::from(agent_speech);
            if speech >= self.delivery_hops {
                out.push(CoachEvent::CueDelivered {
                    t,
                    rung: LADDER[rung],
                });
                self.cue = CueState::Idle;
                self.climb(t, out);
            } else if elapsed >= self.window_hops {
                out.push(CoachEvent::CueUndelivered {
                    t,
                    rung: LADDER[rung],
                });
                self.cue = CueState::Unsaid { rung };
            } else {
                self.cue = CueState::Awaiting {
                    rung,
                    elapsed,
                    speech,
                };
            }
        }

        // A pending cue is shown at the customer's pause, never over them.
        if let CueState::Pending { rung, recue } = self.cue {
            if self.cust_silence >= self.pause_hops {
                self.show(t, rung, recue, hop.agent.is_some(), out);
            }
        }

        // Calm-down.
        if cust.shouting {
            self.calm_run = 0;
            self.calm_speech = 0;
        } else {
            self.calm_run = self.calm_run.saturating_add(1);
            self.calm_speech = self.calm_speech.saturating_add(u32::from(cust.speech));
        }
        if self.calm_armed
            && !self.ended
            && !matches!(self.cue, CueState::Pending { .. })
            && self.calm_run >= self.calm_hops
            && self.calm_speech >= self.calm_speech_hops
        {
            self.rung = self.rung.saturating_sub(1);
            self.cue = CueState::Idle;
            self.calm_run = 0;
            self.calm_speech = 0;
            self.calm_armed = self.rung > 0;
            out.push(CoachEvent::Calm {
                t,
                next: LADDER[self.rung],
            });
        }

        // Overtalk: the agent talking over a customer who was talking first.
        match (self.cust_run_start, self.agent_run_start) {
            (Some(c), Some(a)) if c < a => {
                self.overtalk_run = self.overtalk_run.saturating_add(1);
                if self.overtalk_run > self.overtalk_hops && !self.overtalk_done {
                    self.overtalk_done = true;
                    self.nudge(NudgeKind::Overtalk, n, t, out);
                }
            }
            _ => {
                self.overtalk_run = 0;
                self.overtalk_done = false;
            }
        }
    }

    fn on_customer_shout(&mut self, t: f64, out: &mut CoachEvents) {
        if self.ended {
            // The ladder is over, the shouting is not: say again what to
            // do, and tell the supervisor again on the configured schedule.
            out.push(CoachEvent::AdviseEndCall { t });
            if self
                .last_alert_t
                .is_none_or(|a| t - a >= self.realert_after_s)
            {
                self.alert(t, out);
            }
            return;
        }
        let (rung, recue) = match self.cue {
            CueState::Idle => (self.rung, false),
            CueState::Unsaid { rung } => (rung, true),
            // Already waiting for a pause, or the agent has not had their turn.
            CueState::Pending { .. } | CueState::Awaiting { .. } => return,
        };
        self.cue = CueState::Pending { rung, recue };
        out.push(CoachEvent::CuePending {
            t,
            rung: LADDER[rung],
        });
    }

    fn show(&mut self, t: f64, rung: usize, recue: bool, stereo: bool, out: &mut CoachEvents) {
        self.cues_shown = self.cues_shown.saturating_add(1);
        self.calm_armed = true;
        self.calm_run = 0;
        self.calm_speech = 0;
        out.push(CoachEvent::Cue {
            t,
            rung: LADDER[rung],
            recue,
            delivery: if stereo {
                Delivery::Awaiting
            } else {
                Delivery::Unknown
            },
        });
        if stereo {
            self.cue = CueState::Awaiting {
                rung,
                elapsed: 0,
                speech: 0,
            };
        } else {
            self.cue = CueState::Idle;
            self.climb(t, out);
        }
    }

    /// The current rung counted: move up, or end the ladder after step 4.
    fn climb(&mut self, t: f64, out: &mut CoachEvents) {
        self.steps_given = self.steps_given.saturating_add(1);
        self.rung += 1;
        if self.rung >= LADDER.len() {
            self.rung = LADDER.len() - 1;
            self.ended = true;
            out.push(CoachEvent::AdviseEndCall { t });
            self.alert(t, out);
        }
    }

    fn alert(&mut self, t: f64, out: &mut CoachEvents) {
        let open = self.open_shout_start.map_or(0.0, |s| (t - s).max(0.0));
        self.last_alert_t = Some(t);
        out.push(CoachEvent::SupervisorAlert {
            t,
            summary: AlertSummary {
                episodes: self.episodes,
                shouting_s: self.shouting_closed_s + open,
                steps_given: self.steps_given,
                cues_shown: self.cues_shown,
            },
        });
    }

    fn nudge(&mut self, kind: NudgeKind, n: u64, t: f64, out: &mut CoachEvents) {
        let slot = &mut self.last_nudge[kind.index()];
        if slot.is_none_or(|last| n.saturating_sub(last) >= self.cooldown_hops) {
            *slot = Some(n);
            out.push(CoachEvent::AgentNudge { t, kind });
        }
    }
}
