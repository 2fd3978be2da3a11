//! Cost of one 10 ms hop of one channel: the whole feature path, and the bare
//! FFT work (one forward and one inverse 512-point real FFT) for comparison.
//! Budget: ≤ 2 µs per hop (5,000× real time), within 2× of the bare FFTs.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use criterion::{criterion_group, criterion_main, Criterion};
use realfft::RealFftPlanner;
use shoutcue_core::features::{FeatureConfig, FeatureExtractor, Features, FFT_LEN};
use shoutcue_core::frames::Framer;
use shoutcue_core::{HOP, WINDOW};
use std::hint::black_box;

/// A voiced, speech-like test signal: a 140 Hz harmonic complex with a slow
/// vibrato and a little noise, so the pitch search sees real peaks.
fn voice(n: usize) -> Vec<f32> {
    let mut seed = 12345u32;
    (0..n)
        .map(|i| {
            let t = i as f32 / 8000.0;
            let f0 = 140.0 * (1.0 + 0.05 * (2.0 * std::f32::consts::PI * 3.0 * t).sin());
            let mut s = 0.0;
            for k in 1..20 {
                s += (2.0 * std::f32::consts::PI * f0 * k as f32 * t).sin() / k as f32;
            }
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            s * 0.2 + (seed >> 16) as f32 / 65536.0 * 0.01
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let signal = voice(8000 * 4);
    // Pre-cut frames so the bench times the per-hop work only.
    let mut frames: Vec<(u64, Vec<f32>)> = Vec::new();
    Framer::new().process(&signal, |f| frames.push((f.index, f.window.to_vec())));

    let mut fx = FeatureExtractor::new(FeatureConfig::default());
    let mut out = Features::default();
    let mut i = 0;
    c.bench_function("features_per_hop", |b| {
        b.iter(|| {
            let (index, w) = &frames[i % frames.len()];
            i += 1;
            let frame = shoutcue_core::frames::Frame {
                index: *index,
                window: w,
                hop: &w[(WINDOW - HOP) / 2..(WINDOW + HOP) / 2],
            };
            fx.process(&frame, &mut out);
            black_box(&out);
        })
    });

    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(FFT_LEN);
    let inv = planner.plan_fft_inverse(FFT_LEN);
    let mut time = fwd.make_input_vec();
    let mut spec = fwd.make_output_vec();
    let mut back = inv.make_output_vec();
    let mut s1 = fwd.make_scratch_vec();
    let mut s2 = inv.make_scratch_vec();
    let mut j = 0;
    c.bench_function("realfft_pair_per_hop", |b| {
        b.iter(|| {
            let w = &frames[j % frames.len()].1;
            j += 1;
            time[..WINDOW].copy_from_slice(w);
            time[WINDOW..].fill(0.0);
            fwd.process_with_scratch(&mut time, &mut spec, &mut s1)
                .unwrap();
            inv.process_with_scratch(&mut spec, &mut back, &mut s2)
                .unwrap();
            black_box(&back);
        })
    });
    // The same pair through shoutcue's own transforms (power out, real even in).
    let mut fwd = shoutcue_core::features::spectrum::PowerSpectrum::new(FFT_LEN);
    let mut inv = shoutcue_core::features::spectrum::Autocorrelation::new(FFT_LEN);
    let mut power = vec![0.0f32; FFT_LEN / 2 + 1];
    c.bench_function("spectrum_pair_per_hop", |b| {
        b.iter(|| {
            let w = &frames[j % frames.len()].1;
            j += 1;
            time[..WINDOW].copy_from_slice(w);
            time[WINDOW..].fill(0.0);
            fwd.process(&time, &mut power).unwrap();
            inv.process(&power, &mut back).unwrap();
            black_box(&back);
        })
    });
}

/// Detector and coach on one hop of both speakers, fed features computed beforehand.
fn bench_decide(c: &mut Criterion) {
    use shoutcue_core::coach::{Coach, CoachConfig, CoachEvents};
    use shoutcue_core::detector::{Detector, ShoutModel};
    let signal = voice(8000 * 20);
    let mut fx = FeatureExtractor::new(FeatureConfig::default());
    let mut feats = Vec::new();
    let mut cur = Features::default();
    Framer::new().process(&signal, |f| {
        fx.process(&f, &mut cur);
        feats.push(cur);
    });
    let model = ShoutModel::builtin();
    let mut det = Detector::new(&model, 0.01, true);
    let mut coach = Coach::new(CoachConfig::default()).unwrap();
    let mut out = CoachEvents::new();
    let mut i = 0;
    c.bench_function("detector_and_coach_per_hop", |b| {
        b.iter(|| {
            let f = &feats[i % feats.len()];
            i += 1;
            let (report, segs) = det.process(f, Some(f));
            let segs: arrayvec::ArrayVec<_, 2> = segs.into_iter().flatten().collect();
            out.clear();
            coach.process(&report, &segs, &mut out);
            black_box(&out);
        })
    });
}

criterion_group!(benches, bench, bench_decide);
criterion_main!(benches);
