//! `Coach::process` must not allocate: it runs once per 10 ms hop on the
//! real-time path. A counting global allocator proves it over a whole call
//! that exercises every branch (ladder to the end, re-cues, calm-down,
//! both nudges, mono and stereo).
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_testkit::coach_sim as sim;

use shoutcue_core::coach::{Coach, CoachConfig, CoachEvent, CoachEvents};
use sim::{shouting_turns, Voice};

#[global_allocator]
static A: shoutcue_testkit::alloc::Counting = shoutcue_testkit::alloc::Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    shoutcue_testkit::alloc::counted(f).1.count
}

#[test]
fn coach_process_allocates_nothing() {
    // The counter itself works: a Vec allocates.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);

    // Stereo: agent answers (ladder climbs to the end), cuts in and raises
    // their voice; then calm talking; plus a stretch of undelivered cues.
    let mut stereo = shouting_turns(1.0, 8.0, 6, Some(1.0));
    let agent = stereo.agent.as_mut().unwrap();
    agent.speech.push((2.0, 3.5));
    agent.shout.push((2.2, 3.5));
    let mut unsaid = shouting_turns(1.0, 9.0, 3, Some(0.0));
    let mut calm = shouting_turns(1.0, 8.0, 2, Some(1.0));
    for k in 0..6 {
        let c = 20.0 + k as f64 * 5.0;
        calm.customer.speech.push((c, c + 2.5));
    }
    calm.dur = 60.0;
    unsaid.customer.speech.push((40.0, 45.0));
    unsaid.dur = 50.0;
    let mono = shouting_turns(1.0, 8.0, 6, None);
    let silent = sim::Call {
        dur: 5.0,
        customer: Voice::default(),
        agent: None,
    };

    let mut total = [0usize; 8];
    for call in [stereo, unsaid, calm, mono, silent] {
        let hops = call.hops();
        let mut coach = Coach::new(CoachConfig::default()).unwrap();
        let mut out = CoachEvents::new();
        let mut seen = [0usize; 8];
        let n = allocations_in(|| {
            for (hop, segs) in &hops {
                coach.process(hop, segs, &mut out);
                for e in &out {
                    seen[match e {
                        CoachEvent::CuePending { .. } => 0,
                        CoachEvent::Cue { .. } => 1,
                        CoachEvent::CueDelivered { .. } => 2,
                        CoachEvent::CueUndelivered { .. } => 3,
                        CoachEvent::Calm { .. } => 4,
                        CoachEvent::AdviseEndCall { .. } => 5,
                        CoachEvent::SupervisorAlert { .. } => 6,
                        CoachEvent::AgentNudge { .. } => 7,
                    }] += 1;
                }
            }
            coach.reset();
        });
        assert_eq!(
            n, 0,
            "Coach::process allocated {n} times; events seen {seen:?}"
        );
        // The run did real work (the silent call apart).
        if call_has_speech(&hops) {
            assert!(seen[1] > 0, "{seen:?}");
        }
        for (t, s) in total.iter_mut().zip(seen) {
            *t += s;
        }
    }
    // Every kind of event was produced somewhere under the counter.
    assert!(total.iter().all(|&n| n > 0), "{total:?}");
}

type Hops = [(
    shoutcue_core::detector::HopReport,
    Vec<shoutcue_core::detector::SegmentEvent>,
)];

fn call_has_speech(hops: &Hops) -> bool {
    hops.iter().any(|(h, _)| h.customer.speech)
}
