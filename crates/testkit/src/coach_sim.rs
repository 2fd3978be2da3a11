//! A stand-in for the detector, for the coach and sink tests.
//!
//! Each test describes a call as time intervals (who speaks, who shouts);
//! the simulator turns that into per-hop `HopReport`s and segment events
//! the way the detector's contract says: `shouting` is true from the hop
//! that decided a segment (a decision latency after its start) to its end,
//! and `ShoutStart.t` is the segment's start, earlier than that hop.
//!
//! Used by the coach and sink tests of `shoutcue-core`.

use shoutcue_core::coach::{Coach, CoachConfig, CoachEvent, CoachEvents};
use shoutcue_core::detector::{Cues, HopReport, SegmentEvent, SpeakerHop};
use shoutcue_core::Speaker;

/// Seconds per hop (10 ms).
pub const DT: f64 = 0.01;
/// Delay between a segment's start and the hop that decides it.
pub const DECIDE_S: f64 = 0.3;

/// Intervals in seconds, `[start, end)`.
pub type Spans = Vec<(f64, f64)>;

/// One voice of the call.
#[derive(Debug, Clone, Default)]
pub struct Voice {
    /// When the speaker talks.
    pub speech: Spans,
    /// When the speaker shouts (should lie inside `speech`).
    pub shout: Spans,
}

/// A call: its length, the customer, and the agent (None: mono).
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// Call length, seconds.
    pub dur: f64,
    /// The customer's voice.
    pub customer: Voice,
    /// The agent's voice; None for a mono call.
    pub agent: Option<Voice>,
}

/// What the detector and the coach said at one hop.
#[derive(Debug, Clone)]
pub struct Step {
    /// Hop index.
    pub i: usize,
    /// The hop report given to the coach.
    pub hop: HopReport,
    /// Segment events of this hop.
    pub segments: Vec<SegmentEvent>,
    /// What the coach decided.
    pub events: Vec<CoachEvent>,
}

fn h(t: f64) -> usize {
    (t / DT).round() as usize
}

fn inside(spans: &Spans, i: usize) -> bool {
    spans.iter().any(|&(a, b)| i >= h(a) && i < h(b))
}

/// Cues the simulated detector reports for a shout: F0 and tilt rise grow
/// with the segment's index so each episode is distinguishable.
pub fn shout_cues(k: usize) -> Cues {
    Cues {
        f0_st: 4.0 + k as f32,
        tilt_db: 3.0 + 0.5 * k as f32,
        level_db: 2.0,
        clip_frac: 0.0,
        centroid_st: 2.0,
    }
}

fn segments_of(spans: &Spans, speaker: Speaker, i: usize, out: &mut Vec<SegmentEvent>) {
    for (k, &(a, b)) in spans.iter().enumerate() {
        if i == h(a + DECIDE_S) {
            out.push(SegmentEvent::ShoutStart {
                t: h(a) as f64 * DT,
                speaker,
                score: 0.8,
                cues: shout_cues(k),
                decided_t: i as f64 * DT,
                baseline: shoutcue_core::detector::Yardstick::Own,
            });
        }
        if i == h(b) {
            out.push(SegmentEvent::ShoutEnd {
                t: h(b) as f64 * DT,
                speaker,
                duration: (h(b) - h(a)) as f64 * DT,
                peak_score: 0.9,
                peak_cues: shout_cues(k),
                decided_t: i as f64 * DT,
            });
        }
    }
}

fn speaker_hop(v: &Voice, i: usize) -> SpeakerHop {
    let shouting = v
        .shout
        .iter()
        .any(|&(a, b)| i >= h(a + DECIDE_S) && i < h(b));
    SpeakerHop {
        speech: inside(&v.speech, i),
        shouting,
        score: if shouting { 0.8 } else { 0.1 },
        cues: Cues::default(),
    }
}

impl Call {
    /// The detector's output, hop by hop.
    pub fn hops(&self) -> Vec<(HopReport, Vec<SegmentEvent>)> {
        (0..h(self.dur))
            .map(|i| {
                let mut segs = Vec::new();
                segments_of(&self.customer.shout, Speaker::Customer, i, &mut segs);
                if let Some(a) = &self.agent {
                    segments_of(&a.shout, Speaker::Agent, i, &mut segs);
                }
                let hop = HopReport {
                    t: i as f64 * DT,
                    customer: speaker_hop(&self.customer, i),
                    agent: self.agent.as_ref().map(|a| speaker_hop(a, i)),
                };
                (hop, segs)
            })
            .collect()
    }

    /// Runs the coach over the call with `cfg`.
    pub fn run_with(&self, cfg: CoachConfig) -> Vec<Step> {
        let mut coach = Coach::new(cfg).expect("valid config");
        let mut out = CoachEvents::new();
        self.hops()
            .into_iter()
            .enumerate()
            .map(|(i, (hop, segments))| {
                coach.process(&hop, &segments, &mut out);
                assert_eq!(out.dropped(), 0, "event buffer overflowed at hop {i}");
                Step {
                    i,
                    hop,
                    segments,
                    events: out.iter().copied().collect(),
                }
            })
            .collect()
    }

    /// Runs the coach with the default config.
    pub fn run(&self) -> Vec<Step> {
        self.run_with(CoachConfig::default())
    }
}

/// All coach events of a run, in order.
pub fn events(steps: &[Step]) -> Vec<CoachEvent> {
    steps
        .iter()
        .flat_map(|s| s.events.iter().copied())
        .collect()
}

/// The ladder part of a run (everything but the agent's nudges).
pub fn ladder(steps: &[Step]) -> Vec<CoachEvent> {
    events(steps)
        .into_iter()
        .filter(|e| !matches!(e, CoachEvent::AgentNudge { .. }))
        .collect()
}

/// A customer who shouts in the middle of each turn, the agent answering
/// after each turn for `agent_answer_s` (0: the agent stays silent).
///
/// Turn k: customer speaks `[c, c+3)`, shouts `[c+0.5, c+2.5)`, the agent
/// speaks `[c+3.6, c+3.6+answer)`, with `c = start + k*period`.
pub fn shouting_turns(start: f64, period: f64, turns: usize, agent_answer_s: Option<f64>) -> Call {
    let mut customer = Voice::default();
    let mut agent = Voice::default();
    for k in 0..turns {
        let c = start + k as f64 * period;
        customer.speech.push((c, c + 3.0));
        customer.shout.push((c + 0.5, c + 2.5));
        if let Some(a) = agent_answer_s {
            if a > 0.0 {
                agent.speech.push((c + 3.6, c + 3.6 + a));
            }
        }
    }
    Call {
        dur: start + turns as f64 * period + 2.0,
        customer,
        agent: agent_answer_s.map(|_| agent),
    }
}

#[cfg(test)]
#[test]
fn simulator_follows_the_detector_contract() {
    let call = shouting_turns(1.0, 8.0, 2, Some(1.0));
    let hops = call.hops();
    let starts: Vec<(usize, f64)> = hops
        .iter()
        .enumerate()
        .flat_map(|(i, (_, s))| {
            s.iter().filter_map(move |e| match e {
                SegmentEvent::ShoutStart { t, .. } => Some((i, *t)),
                _ => None,
            })
        })
        .collect();
    assert_eq!(starts.len(), 2);
    for (i, t) in starts {
        // Decided later than the segment's start, and shouting from then on.
        assert!((i as f64 * DT - t - DECIDE_S).abs() < 1e-9);
        assert!(hops[i].0.customer.shouting && !hops[i - 1].0.customer.shouting);
        assert!(hops[i].0.customer.speech);
    }
    assert!(hops.iter().all(|(h, _)| h.agent.is_some()));
}
