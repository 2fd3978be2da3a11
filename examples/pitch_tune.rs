//! Tunes the pitch tracker's voicing and octave settings against Praat on
//! the development speakers only, and reports the held-out speakers.
//!
//! `cargo run --release --example pitch_tune -- PRAAT_CSV EMODB_DIR`
//! where PRAAT_CSV has `file,t,f0` rows from Praat's `To Pitch (ac)`
//! (75-600 Hz, 10 ms), e.g. from `scripts/praat_reference.py`.

use std::collections::HashMap;

use shoutcue::features::{FeatureConfig, FeatureExtractor, Features, PitchConfig};
use shoutcue::frames::Framer;
use shoutcue::resample::Resampler;
use shoutcue::source::{ChannelChoice, WavSource};

const DEV: [&str; 4] = ["03", "08", "10", "13"];

fn load(path: &std::path::Path) -> Vec<f32> {
    let mut src = WavSource::open(path, ChannelChoice::Default).expect("readable");
    let mut rs = Resampler::new(src.spec().sample_rate, 4096).unwrap();
    let (mut a, mut b) = (vec![0.0; 4096], vec![0.0; 4096]);
    let mut out = vec![0.0; rs.max_output()];
    let mut all = Vec::new();
    loop {
        let n = src.read(&mut a, &mut b).unwrap();
        if n == 0 {
            break;
        }
        let m = rs.process(&a[..n], &mut out).unwrap();
        all.extend_from_slice(&out[..m]);
    }
    let m = rs.flush(&mut out).unwrap();
    all.extend_from_slice(&out[..m]);
    all
}

#[derive(Default, Clone, Copy)]
struct Score {
    frames: usize,
    agree: usize,
    both: usize,
    gross: usize,
}

fn score(cfg: PitchConfig, clips: &[(String, Vec<f32>, Vec<(f64, f32)>)], dev: bool) -> Score {
    let mut s = Score::default();
    for (name, audio, praat) in clips {
        if DEV.contains(&&name[..2]) != dev {
            continue;
        }
        let mut fx = FeatureExtractor::new(FeatureConfig {
            pitch: cfg,
            ..Default::default()
        });
        let mut fr = Framer::new();
        let mut rows = Vec::new();
        let mut cur = Features::default();
        fr.process(audio, |f| {
            fx.process(&f, &mut cur);
            rows.push(cur.f0_hz);
        });
        fr.flush(|f| {
            fx.process(&f, &mut cur);
            rows.push(cur.f0_hz);
        });
        for &(t, p) in praat {
            let i = (t / 0.01).round() as usize;
            let Some(&ours) = rows.get(i) else { continue };
            s.frames += 1;
            if (ours > 0.0) == (p > 0.0) {
                s.agree += 1;
            }
            if ours > 0.0 && p > 0.0 {
                s.both += 1;
                if ((ours - p) / p).abs() > 0.2 {
                    s.gross += 1;
                }
            }
        }
    }
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let praat_csv = std::fs::read_to_string(&args[1]).expect("praat csv");
    let emodb = std::path::PathBuf::from(&args[2]);
    let mut praat: HashMap<String, Vec<(f64, f32)>> = HashMap::new();
    for line in praat_csv.lines().skip(1) {
        let mut it = line.split(',');
        let (f, t, v) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        praat
            .entry(f.to_string())
            .or_default()
            .push((t.parse().unwrap(), v.parse().unwrap()));
    }
    let mut names: Vec<_> = praat.keys().cloned().collect();
    names.sort();
    let clips: Vec<_> = names
        .into_iter()
        .map(|n| {
            let audio = load(&emodb.join(&n));
            let p = praat.remove(&n).unwrap();
            (n, audio, p)
        })
        .collect();
    let base = PitchConfig::default();
    let mut results = Vec::new();
    for oc in [0.03, 0.045, 0.06] {
        for jc in [0.0, 0.05, 0.1] {
            for vt in [0.55, 0.6, 0.65, 0.7] {
                for vuc in [0.0, 0.07] {
                    let cfg = PitchConfig {
                        octave_cost: oc,
                        octave_jump_cost: jc,
                        voicing_threshold: vt,
                        voiced_unvoiced_cost: vuc,
                        ..base
                    };
                    let s = score(cfg, &clips, true);
                    let agree = s.agree as f64 / s.frames as f64;
                    let gpe = s.gross as f64 / s.both as f64;
                    // Objective: both targets matter; GPE counts double.
                    results.push((agree - 2.0 * gpe, cfg, agree, gpe));
                }
            }
        }
    }
    results.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (obj, c, a, g) in results.iter().take(5) {
        println!(
            "dev: obj {obj:.4} agree {:.2}% gpe {:.2}%  oc {} jc {} vt {} vuc {}",
            a * 100.0,
            g * 100.0,
            c.octave_cost,
            c.octave_jump_cost,
            c.voicing_threshold,
            c.voiced_unvoiced_cost
        );
    }
    for (label, cfg) in [("default", base), ("best", results[0].1)] {
        for dev in [true, false] {
            let s = score(cfg, &clips, dev);
            println!(
                "{label} {}: frames {} voicing agreement {:.2}% GPE {:.2}%",
                if dev {
                    "dev (03 08 10 13)"
                } else {
                    "held-out (09 11)"
                },
                s.frames,
                s.agree as f64 * 100.0 / s.frames as f64,
                s.gross as f64 * 100.0 / s.both as f64
            );
        }
    }
}
