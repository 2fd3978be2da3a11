//! `shoutcue calibrate` and `--line`: a line's calibration from its own
//! calls, refused where the calls cannot say where a line's callers sit,
//! and marked on every cold-start decision it shapes.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use shoutcue_testkit::TempDir;

fn shoutcue(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shoutcue"));
    for a in args {
        c.arg(a);
    }
    c.output().expect("shoutcue runs")
}

/// The customer's side of the bundled calm call (an EmoDB speaker, CC0),
/// at 16 kHz; made once.
fn calm_voice() -> &'static [i16] {
    static VOICE: std::sync::OnceLock<Vec<i16>> = std::sync::OnceLock::new();
    VOICE.get_or_init(make_calm_voice)
}

fn make_calm_voice() -> Vec<i16> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/calm_call.wav");
    let mut r = hound::WavReader::open(root).unwrap();
    let all: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    // Its first 10 s: enough calm voice for a baseline, and quick to analyse.
    let right: Vec<f32> = all
        .chunks(2)
        .take(80_000)
        .map(|lr| f32::from(lr[1]))
        .collect();
    // At 16 kHz, so that it can be slowed down (a WAV under 8 kHz is not
    // read): zeros between the samples, then a windowed-sinc low-pass at
    // 4 kHz, so that no image of the voice lands in the band.
    const TAPS: i32 = 63;
    let h: Vec<f32> = (-TAPS / 2..=TAPS / 2)
        .map(|k| {
            let x = k as f32 * 0.5;
            let sinc = if k == 0 {
                1.0
            } else {
                (std::f32::consts::PI * x).sin() / (std::f32::consts::PI * x)
            };
            let hann =
                0.5 + 0.5 * (2.0 * std::f32::consts::PI * k as f32 / (TAPS + 1) as f32).cos();
            sinc * hann
        })
        .collect();
    let up: Vec<f32> = right.iter().flat_map(|&x| [x, 0.0]).collect();
    (0..up.len())
        .map(|n| {
            let y: f32 = h
                .iter()
                .enumerate()
                .filter_map(|(j, c)| {
                    let i = n as i64 + j as i64 - i64::from(TAPS / 2);
                    up.get(usize::try_from(i).ok()?).map(|x| c * x)
                })
                .sum();
            y.clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// A caller: the calm voice played at `speed` (a WAV header that says
/// 16000 * speed Hz: F0 and formants move together, as between speakers),
/// brightened by a first-difference filter of strength `bright` (0: none):
/// the line's EQ.
fn caller(path: &Path, voice: &[i16], speed: f32, bright: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: (16000.0 * speed).round() as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut prev = 0.0f32;
    for &x in voice {
        let x = f32::from(x);
        let y = (x - bright * prev) / (1.0 + bright);
        prev = x;
        w.write_sample(y.clamp(-32768.0, 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// 24 callers, the voice (a woman's, 206 Hz) from 12 semitones lower to
/// 2 higher: men's registers and women's, on one line.
fn line(dir: &Path, bright: f32) {
    std::fs::create_dir_all(dir).unwrap();
    let voice = calm_voice();
    for i in 0..24 {
        let speed = 0.55 + 0.025 * i as f32;
        caller(&dir.join(format!("call{i:02}.wav")), voice, speed, bright);
    }
}

fn calibration(dir: &Path, out: &Path) -> Value {
    let o = shoutcue(&[&"calibrate", &dir, &"--out", &out, &"--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

#[test]
fn a_line_is_where_its_callers_sit_and_a_brighter_line_sits_brighter() {
    let tmp = TempDir::new("line");
    line(&tmp.join("dark"), 0.0);
    line(&tmp.join("bright"), 0.5);
    let dark = calibration(&tmp.join("dark"), &tmp.join("dark.json"));
    let bright = calibration(&tmp.join("bright"), &tmp.join("bright.json"));
    assert_eq!(dark["v"], 1);
    assert_eq!(dark["calls"], 24, "{dark}");
    assert!(dark["f0_iqr_st"].as_f64().unwrap() >= 3.0, "{dark}");
    let alpha = |v: &Value| v["alpha_db"].as_f64().unwrap();
    assert!(
        alpha(&bright) > alpha(&dark) + 2.0,
        "the brighter line's callers sit brighter: {bright} against {dark}"
    );
    let centroid = |v: &Value| v["centroid_st"].as_f64().unwrap();
    assert!(
        centroid(&bright) > centroid(&dark) + 1.0,
        "and their spectrum's centre higher: {bright} against {dark}"
    );
}

#[test]
fn calls_that_cannot_say_where_a_lines_callers_sit_are_refused_with_why() {
    let tmp = TempDir::new("line-refused");
    // Ten calls: too few.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let o = shoutcue(&[&"calibrate", &fixtures, &"--out", &tmp.join("x.json")]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("expected at least 20") && err.contains("got "),
        "{err}"
    );
    assert!(!tmp.join("x.json").exists());
    // Thirty calls of one voice: not a line.
    let one = tmp.join("one");
    std::fs::create_dir_all(&one).unwrap();
    let voice = calm_voice();
    for i in 0..30 {
        caller(
            &one.join(format!("c{i}.wav")),
            voice,
            0.9 + 0.001 * i as f32,
            0.0,
        );
    }
    let o = shoutcue(&[&"calibrate", &one, &"--out", &tmp.join("y.json")]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("one voice"), "{err}");
    // A file that is not a calibration, named.
    std::fs::write(tmp.join("bad.json"), "{\"v\":7}").unwrap();
    let o = shoutcue(&[
        &"replay",
        &fixtures.join("calm_call.wav"),
        &"--line",
        &tmp.join("bad.json"),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.json") && err.contains("not a line calibration"),
        "{err}"
    );
}

#[test]
fn a_cold_start_judged_against_the_line_says_so_and_a_line_at_the_reference_changes_nothing_else() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../");
    let model: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("models/shout-v1.json")).unwrap())
            .unwrap();
    let reference = &model["cold"]["line_reference"];
    let tmp = TempDir::new("line-ref");
    let line = tmp.join("line.json");
    std::fs::write(
        &line,
        serde_json::json!({"v": 1, "alpha_db": reference[0], "centroid_st": reference[1], "calls": 50, "f0_iqr_st": 5.0})
            .to_string(),
    )
    .unwrap();
    let call = root.join("testdata/cold/cold_open.wav");
    let events = |extra: &[&dyn AsRef<std::ffi::OsStr>]| -> Vec<Value> {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"replay", &call];
        args.extend_from_slice(extra);
        let o = shoutcue(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let plain = events(&[]);
    let lined = events(&[&"--line", &line]);
    let starts = |ev: &[Value]| -> Vec<(f64, String)> {
        ev.iter()
            .filter(|e| e["type"] == "shout_start")
            .map(|e| {
                (
                    e["decided_t"].as_f64().unwrap(),
                    e["baseline"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (p, l) = (starts(&plain), starts(&lined));
    assert!(!p.is_empty() && p[0].1 == "priors", "{p:?}");
    assert_eq!(p.len(), l.len(), "{p:?} {l:?}");
    for (a, b) in p.iter().zip(&l) {
        assert_eq!(a.0, b.0, "same decisions: {p:?} {l:?}");
        let expect = if a.1 == "priors" {
            "line"
        } else {
            a.1.as_str()
        };
        assert_eq!(b.1, expect, "{p:?} {l:?}");
    }
}
