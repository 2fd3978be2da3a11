//! Pitch on synthetic harmonic complexes with known F0 (80-400 Hz), with and
//! without the fundamental (everything below 300 Hz removed, as on a phone
//! line), at 8 and 16 kHz through the full pipeline (resampling included).
//! Gross error (> 20 % off) must stay under 1 % and the median fine error
//! under 1 %.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_core::engine::ChannelFeatures;
use shoutcue_core::features::FeatureConfig;

/// 1.5 s of a harmonic complex with a 1/k spectrum up to 3.4 kHz, random-ish
/// phases, optionally without the partials below 300 Hz.
fn complex(rate: u32, f0: f64, drop_below_300: bool) -> Vec<f32> {
    let n = (rate as f64 * 1.5) as usize;
    let mut x = vec![0.0f32; n];
    let mut k = 1;
    while k as f64 * f0 < 3400.0 {
        let f = k as f64 * f0;
        if !(drop_below_300 && f < 300.0) {
            let phase = (k * k) as f64 * 0.7;
            for (i, s) in x.iter_mut().enumerate() {
                let t = i as f64 / rate as f64;
                *s += (0.3 / k as f64 * (2.0 * std::f64::consts::PI * f * t + phase).sin()) as f32;
            }
        }
        k += 1;
    }
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    x.iter_mut().for_each(|v| *v *= 0.5 / peak);
    x
}

#[test]
fn harmonic_complexes_with_and_without_fundamental() {
    for rate in [8000u32, 16000] {
        for missing in [false, true] {
            let (mut frames, mut gross) = (0usize, 0usize);
            let mut fine = Vec::new();
            for f0 in (80..=400).step_by(10) {
                let f0 = f0 as f64;
                let x = complex(rate, f0, missing);
                let mut ch = ChannelFeatures::new(rate, 1024, FeatureConfig::default()).unwrap();
                let mut rows = Vec::new();
                for block in x.chunks(1024) {
                    ch.process(block, |f| rows.push(*f)).unwrap();
                }
                ch.finish(|f| rows.push(*f)).unwrap();
                // Skip the edges, where the window reaches past the signal.
                for r in rows.iter().filter(|r| r.t > 0.1 && r.t < 1.4) {
                    frames += 1;
                    let err = (r.f0_hz as f64 - f0).abs() / f0;
                    if !r.voiced || err > 0.2 {
                        gross += 1;
                    } else {
                        fine.push(err);
                    }
                }
            }
            fine.sort_by(|a, b| a.total_cmp(b));
            let gpe = gross as f64 / frames as f64;
            let median = fine[fine.len() / 2];
            println!(
                "{rate} Hz, fundamental {}: {frames} frames, gross {:.2}%, median fine {:.3}%",
                if missing { "missing" } else { "present" },
                gpe * 100.0,
                median * 100.0
            );
            assert!(
                gpe < 0.01,
                "gross pitch error {:.2}% at {rate} Hz (missing fundamental: {missing})",
                gpe * 100.0
            );
            assert!(
                median < 0.01,
                "median fine error {:.3}% at {rate} Hz",
                median * 100.0
            );
        }
    }
}
