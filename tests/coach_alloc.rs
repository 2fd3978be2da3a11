//! `Coach::process` must not allocate: it runs once per 10 ms hop on the
//! real-time path. A counting global allocator proves it over a whole call
//! that exercises every branch (ladder to the end, re-cues, calm-down,
//! both nudges, mono and stereo).

#[path = "coach_sim.rs"]
mod sim;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use shoutcue::coach::{Coach, CoachConfig, CoachEvent, CoachEvents};
use sim::{shouting_turns, Voice};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only count on the thread under test, not the harness's own threads.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.load(Ordering::Relaxed) - before
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
    shoutcue::detector::HopReport,
    Vec<shoutcue::detector::SegmentEvent>,
)];

fn call_has_speech(hops: &Hops) -> bool {
    hops.iter().any(|(h, _)| h.customer.speech)
}
