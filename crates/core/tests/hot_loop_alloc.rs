//! Proves the per-hop path allocates nothing: resampling, framing, features,
//! detector and coach, driven through the same `CallEngine` that `replay`
//! and `live` use, with a global allocator that counts.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_core::engine::Sink;

#[global_allocator]
static A: shoutcue_testkit::alloc::Counting = shoutcue_testkit::alloc::Counting;

/// A voice that is calm for 6 s, then an octave up with more high-frequency
/// energy for 3 s, then pauses: enough to drive baselines, segments and cues.
fn call(rate: u32, secs: f32) -> (Vec<f32>, Vec<f32>) {
    let n = (rate as f32 * secs) as usize;
    let mut cust = Vec::with_capacity(n);
    let mut agent = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f32 / rate as f32;
        let cycle = t % 12.0;
        let (f0, bright, on) = match cycle {
            c if c < 6.0 => (120.0, 1.0, (c % 2.0) < 1.5),
            c if c < 9.0 => (240.0, 0.4, true),
            _ => (0.0, 1.0, false),
        };
        let mut s = 0.0;
        if on {
            for k in 1..16 {
                s += (2.0 * std::f32::consts::PI * f0 * k as f32 * t).sin()
                    / (k as f32).powf(bright + 0.5);
            }
        }
        cust.push(0.2 * s);
        agent.push(if (9.5..11.0).contains(&cycle) {
            0.1 * (2.0 * std::f32::consts::PI * 150.0 * t).sin()
        } else {
            0.0
        });
    }
    (cust, agent)
}

#[test]
fn engine_process_allocates_nothing_per_block() {
    for (rate, line_sampler) in [
        (8000u32, false),
        (22050, false),
        (48000, false),
        (8000, true),
    ] {
        let block = 1024;
        let mut engine = shoutcue_testkit::engine(rate, block, true);
        if line_sampler {
            // serve's `line_learning`: a second customer detector.
            engine = engine.with_line_sampler(&shoutcue_core::detector::ShoutModel::builtin());
        }
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        let (cust, agent) = call(rate, 40.0);
        // Count events seen, so the run is known to exercise the detector and coach.
        struct Count(usize);
        impl shoutcue_core::engine::Observer for Count {
            fn event(&mut self, _: f64, _: &shoutcue_core::engine::Event) {
                self.0 += 1;
            }
        }
        let mut obs = Count(0);
        let before = shoutcue_testkit::alloc::thread_allocations();
        for (c, a) in cust.chunks(block).zip(agent.chunks(block)) {
            engine.process(c, a, &mut sinks, &mut obs).unwrap();
        }
        let during = shoutcue_testkit::alloc::thread_allocations() - before;
        assert_eq!(
            during, 0,
            "{during} allocations in the per-block path at {rate} Hz (line sampler: {line_sampler})"
        );
        assert!(obs.0 > 0, "the test signal produced no events at {rate} Hz");
    }
}
