//! Tunes the pitch tracker's voicing and octave settings against Praat on
//! the development speakers only, and reports the held-out speakers.
//!
//! `cargo run --release --example pitch_tune -- PRAAT_CSV EMODB_DIR [TEL_DIR]`
//! where PRAAT_CSV has `file,t,f0` rows from Praat's `To Pitch (ac)`
//! (75-600 Hz, 10 ms) on the clean clips, and TEL_DIR holds the same clips
//! band-limited to 300-3400 Hz as 8 kHz mu-law (scored against the same
//! clean-clip Praat reference).
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::collections::HashMap;

use shoutcue_core::features::{FeatureConfig, FeatureExtractor, Features, PitchConfig};
use shoutcue_core::frames::Framer;
use shoutcue_core::resample::Resampler;
use shoutcue_core::source::{ChannelChoice, WavSource};

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

type Clip = (String, Vec<f32>, Vec<(f64, f32)>);

fn score(cfg: PitchConfig, clips: &[Clip], dev: bool) -> Score {
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
    let tel_dir = args.get(3).map(std::path::PathBuf::from);
    let mut clips: Vec<Clip> = Vec::new();
    let mut tel: Vec<Clip> = Vec::new();
    for n in names {
        let p = praat.remove(&n).unwrap();
        if let Some(d) = &tel_dir {
            tel.push((n.clone(), load(&d.join(&n)), p.clone()));
        }
        clips.push((n.clone(), load(&emodb.join(&n)), p));
    }
    let base = PitchConfig::default();
    let rate = |s: Score| {
        (
            s.agree as f64 / s.frames as f64,
            s.gross as f64 / s.both.max(1) as f64,
        )
    };
    let mut results = Vec::new();
    for st in [0.05f32, 0.08, 0.12] {
        for vt in [0.2, 0.225, 0.25] {
            for pf in [0.02, 0.05, 0.1] {
                for vuc in [0.03, 0.07, 0.1] {
                    let cfg = PitchConfig {
                        silence_threshold: st,
                        peak_floor: pf,
                        voicing_threshold: vt,
                        voiced_unvoiced_cost: vuc,
                        ..base
                    };
                    let (agree, gpe) = rate(score(cfg, &clips, true));
                    let (tagree, tgpe) = if tel.is_empty() {
                        (0.0, 0.0)
                    } else {
                        rate(score(cfg, &tel, true))
                    };
                    // Gross errors must stay well inside their limits (clean 2 %,
                    // telephone 3 %); among those, the best voicing agreement.
                    let obj = if gpe < 0.02 && tgpe < 0.03 {
                        agree
                    } else {
                        agree - 1.0
                    };
                    results.push((obj, cfg, agree, gpe, tagree, tgpe));
                }
            }
        }
    }
    results.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (obj, c, a, g, ta, tg) in results.iter().take(6) {
        println!(
            "dev: obj {obj:.4} clean agree {:.2}% gpe {:.2}% | tel agree {:.2}% gpe {:.2}% | silence {} peak floor {} vt {} vuc {}",
            a * 100.0, g * 100.0, ta * 100.0, tg * 100.0,
            c.silence_threshold, c.peak_floor, c.voicing_threshold, c.voiced_unvoiced_cost
        );
    }
    for (label, cfg) in [("default", base), ("best", results[0].1)] {
        for (set, cl) in [("clean", &clips), ("telephone", &tel)] {
            if cl.is_empty() {
                continue;
            }
            for dev in [true, false] {
                let s = score(cfg, cl, dev);
                let (a, g) = rate(s);
                println!(
                    "{label} {set} {}: frames {} voicing agreement {:.2}% GPE {:.2}%",
                    if dev {
                        "dev (03 08 10 13)"
                    } else {
                        "held-out (09 11)"
                    },
                    s.frames,
                    a * 100.0,
                    g * 100.0
                );
            }
        }
    }
}
