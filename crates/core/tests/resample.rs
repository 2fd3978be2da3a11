//! Resampler: amplitude, frequency, alias rejection, timing, length and
//! block-size invariance at every supported input rate.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::f64::consts::PI;

use shoutcue_core::resample::{ResampleError, Resampler};
use shoutcue_core::ANALYSIS_RATE;

const RATES: [u32; 5] = [11025, 16000, 22050, 44100, 48000];
const OUT: f64 = ANALYSIS_RATE as f64;

fn tone(rate: u32, freq: f64, amp: f64, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// Runs `input` through a fresh resampler in blocks of `block`, then flushes.
fn run(rate: u32, input: &[f32], block: usize) -> Vec<f32> {
    let mut r = Resampler::new(rate, block).unwrap();
    assert_eq!(r.output_rate(), ANALYSIS_RATE);
    let mut out = vec![0.0f32; r.max_output()];
    let mut all = Vec::new();
    for chunk in input.chunks(block) {
        let n = r.process(chunk, &mut out).unwrap();
        assert!(n <= r.max_output());
        all.extend_from_slice(&out[..n]);
    }
    let n = r.flush(&mut out).unwrap();
    assert!(n <= r.max_output());
    all.extend_from_slice(&out[..n]);
    all
}

/// Least-squares fit of sin/cos at `freq` over `y`: returns (amplitude,
/// phase of the sine, residual RMS).
fn fit(y: &[f32], freq: f64, start: usize) -> (f64, f64, f64) {
    let (mut s, mut c) = (0.0, 0.0);
    for (k, &v) in y.iter().enumerate() {
        let w = 2.0 * PI * freq * (start + k) as f64 / OUT;
        s += f64::from(v) * w.sin();
        c += f64::from(v) * w.cos();
    }
    let n = y.len() as f64;
    let (a, b) = (2.0 * s / n, 2.0 * c / n);
    let mut res = 0.0;
    for (k, &v) in y.iter().enumerate() {
        let w = 2.0 * PI * freq * (start + k) as f64 / OUT;
        let e = f64::from(v) - (a * w.sin() + b * w.cos());
        res += e * e;
    }
    ((a * a + b * b).sqrt(), b.atan2(a), (res / n).sqrt())
}

fn rms(y: &[f32]) -> f64 {
    (y.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / y.len() as f64).sqrt()
}

#[test]
fn sine_1k_keeps_amplitude_frequency_and_phase() {
    for rate in RATES {
        let input = tone(rate, 1000.0, 0.5, rate as usize); // 1 s
        let out = run(rate, &input, 1000);
        // Skip 50 ms at each end (edge transients); 7200 samples = 900 periods.
        let span = &out[400..7600];
        let (amp, phase, resid) = fit(span, 1000.0, 400);
        let db = 20.0 * (amp / 0.5).log10();
        eprintln!("{rate} Hz: 1 kHz gain {db:+.4} dB, phase {phase:+.4} rad, residual {resid:.2e}");
        assert!(db.abs() < 0.2, "{rate} Hz: gain {db:.3} dB");
        // Delay compensated: the output sine starts where the input's did.
        assert!(phase.abs() < 0.05, "{rate} Hz: phase {phase:.4} rad");
        // Nothing but a 1 kHz sine is left: the frequency is right.
        assert!(resid < 0.005, "{rate} Hz: residual {resid:.5}");
        // Zero crossings agree: 2 per period.
        let crossings = span
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        let f = crossings as f64 / 2.0 / (span.len() as f64 / OUT);
        assert!((f - 1000.0).abs() < 2.0, "{rate} Hz: {f:.1} Hz");
    }
}

#[test]
fn tones_above_4k_are_rejected() {
    for rate in RATES {
        // Highest test tone well inside the input band for every rate.
        let freqs: &[f64] = if rate == 11025 {
            &[4600.0, 5000.0]
        } else {
            &[4600.0, 5500.0, 7000.0]
        };
        for &f in freqs {
            let input = tone(rate, f, 0.5, rate as usize);
            let out = run(rate, &input, 512);
            let level = rms(&out[400..7600]) / rms(&input);
            let db = 20.0 * level.log10();
            eprintln!("{rate} Hz: {f} Hz tone at {db:.1} dB");
            assert!(db < -40.0, "{rate} Hz input, {f} Hz tone: {db:.1} dB");
        }
    }
}

#[test]
fn click_lands_at_the_right_time() {
    for rate in RATES {
        let frames = rate as usize / 2;
        for at in [0.1234f64, 0.3071] {
            let mut input = vec![0.0f32; frames];
            let k = (at * f64::from(rate)).round() as usize;
            input[k] = 1.0;
            let out = run(rate, &input, 777);
            let (peak, _) = out
                .iter()
                .enumerate()
                .fold((0, 0.0f32), |(bi, bv), (i, &v)| {
                    if v.abs() > bv {
                        (i, v.abs())
                    } else {
                        (bi, bv)
                    }
                });
            let expect = k as f64 / f64::from(rate) * OUT;
            let err_ms = (peak as f64 - expect).abs() / OUT * 1000.0;
            eprintln!("{rate} Hz: click expected at {expect:.2}, peak at {peak} ({err_ms:.3} ms)");
            assert!(
                err_ms <= 1.0,
                "{rate} Hz: click at {expect:.1}, peak at {peak}"
            );
        }
    }
}

#[test]
fn total_length_matches_ratio() {
    for rate in RATES {
        for n in [1usize, 79, 4410, 12345, 48000] {
            let input = tone(rate, 300.0, 0.1, n);
            let out = run(rate, &input, 1024);
            let expect = (n as f64 * OUT / f64::from(rate)).round() as i64;
            assert!(
                (out.len() as i64 - expect).abs() <= 1,
                "{rate} Hz, {n} frames: {} out, expected {expect}",
                out.len()
            );
        }
    }
}

#[test]
fn block_sizes_do_not_change_the_result() {
    for rate in RATES {
        let input: Vec<f32> = tone(rate, 440.0, 0.3, 20_000)
            .iter()
            .zip(tone(rate, 2900.0, 0.2, 20_000))
            .map(|(a, b)| a + b)
            .collect();
        let reference = run(rate, &input, input.len());
        for block in [1usize, 7, 80, 333, 4097] {
            let got = run(rate, &input, block);
            assert_eq!(got.len(), reference.len(), "{rate} Hz block {block}");
            let worst = got
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-6, "{rate} Hz block {block}: diff {worst}");
        }
    }
}

#[test]
fn rate_8000_passes_through_exactly() {
    let input = tone(8000, 1234.0, 0.7, 1001);
    let out = run(8000, &input, 100);
    assert_eq!(out, input);
}

#[test]
fn reset_and_reuse_give_identical_output() {
    let input = tone(44100, 700.0, 0.4, 9000);
    let mut r = Resampler::new(44100, 500).unwrap();
    let mut out = vec![0.0; r.max_output()];
    let mut first = Vec::new();
    for c in input.chunks(500) {
        let n = r.process(c, &mut out).unwrap();
        first.extend_from_slice(&out[..n]);
    }
    r.reset();
    let mut second = Vec::new();
    for c in input.chunks(500) {
        let n = r.process(c, &mut out).unwrap();
        second.extend_from_slice(&out[..n]);
    }
    assert!(!first.is_empty());
    assert_eq!(first, second);
}

#[test]
fn misuse_is_a_typed_error() {
    assert!(matches!(
        Resampler::new(0, 100),
        Err(ResampleError::ZeroRate)
    ));
    assert!(matches!(
        Resampler::new(48000, 0),
        Err(ResampleError::ZeroMaxInput)
    ));
    let mut r = Resampler::new(48000, 480).unwrap();
    let mut out = vec![0.0; r.max_output()];
    let e = r.process(&[0.0; 481], &mut out).unwrap_err();
    assert!(matches!(
        e,
        ResampleError::InputTooLong { max: 480, got: 481 }
    ));
    assert!(e.to_string().contains("481"));
    // With no room, blocks are accepted until one would complete a chunk;
    // that one is refused rather than overrunning or dropping output.
    let mut refused = None;
    for _ in 0..1000 {
        match r.process(&[0.1; 480], &mut []) {
            Ok(n) => assert_eq!(n, 0, "wrote into an empty slice"),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("an empty output slice must be refused eventually");
    assert!(
        matches!(e, ResampleError::OutputTooShort { got: 0, .. }),
        "{e}"
    );
}
