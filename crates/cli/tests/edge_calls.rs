//! Edge cases of whole calls: a call that starts with shouting (no baseline
//! yet, and the shipped model's priors never decide), and a stereo call whose agent channel
//! is silent. (A three-hour call in bounded memory: `tests/long_call_memory.rs`.)
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    shoutcue_testkit::repo_root().join("fixtures").join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shoutcue-edge-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Every event `replay` writes for `wav`.
fn replay_events(wav: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_shoutcue"))
        .arg("replay")
        .arg(wav)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn replay_types(wav: &Path) -> Vec<String> {
    replay_events(wav)
        .iter()
        .map(|v| format!("{}:{}", v["type"].as_str().unwrap(), v["step"]))
        .collect()
}

/// Copies `src` from `from_s` seconds on, optionally silencing the agent (left).
fn cut(src: &Path, dst: &Path, from_s: f32, silence_agent: bool) {
    let mut r = hound::WavReader::open(src).unwrap();
    let spec = r.spec();
    let skip = (from_s * spec.sample_rate as f32) as usize * spec.channels as usize;
    let mut w = hound::WavWriter::create(dst, spec).unwrap();
    for (i, s) in r.samples::<i16>().enumerate().skip(skip) {
        let s = s.unwrap();
        let agent = spec.channels == 2 && i % 2 == 0;
        w.write_sample(if silence_agent && agent { 0 } else { s })
            .unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn a_call_that_starts_with_shouting_is_judged_by_the_cold_start() {
    // sustained_shout: calm until ~12 s, then shouting. Cut at 12 s, the
    // caller has no baseline of their own: the cold start (the voice judged
    // on its own, docs/EVALUATION.md "Cold starts") decides, and says so.
    let dst = tmp("starts_shouting.wav");
    cut(&fixture("sustained_shout.wav"), &dst, 12.0, false);
    let cut_events = replay_events(&dst);
    let first = cut_events
        .iter()
        .find(|e| e["type"] == "shout_start" && e["speaker"] == "customer")
        .expect("the opening shout is detected");
    assert_eq!(first["baseline"], "priors", "{first}");
    assert!(
        cut_events
            .iter()
            .any(|e| e["type"] == "cue" && e["step"] == 1),
        "{cut_events:?}"
    );
    // The whole call, calm opening first: cued, on the caller's own
    // baseline, and the event says when it was decided.
    let events = replay_events(&fixture("sustained_shout.wav"));
    let start = events
        .iter()
        .find(|e| e["type"] == "shout_start" && e["speaker"] == "customer")
        .expect("a customer shout_start");
    assert_eq!(start["baseline"], "own", "{start}");
    let (t, decided) = (
        start["t"].as_f64().unwrap(),
        start["decided_t"].as_f64().unwrap(),
    );
    assert!(
        decided > t && decided - t < 3.0,
        "t {t} decided_t {decided}"
    );
    let end = events.iter().find(|e| e["type"] == "shout_end").unwrap();
    assert!(end["decided_t"].as_f64().unwrap() >= end["t"].as_f64().unwrap());
    assert!(events.iter().any(|e| e["type"] == "cue"));
}

#[test]
fn a_silent_agent_channel_still_gets_cues_but_no_delivery_or_nudge() {
    let dst = tmp("silent_agent.wav");
    cut(&fixture("sustained_shout.wav"), &dst, 0.0, true);
    let types = replay_types(&dst);
    assert!(types.iter().any(|t| t == "cue:1"), "{types:?}");
    // Nobody spoke the line: it is never counted as delivered.
    assert!(
        !types.iter().any(|t| t.starts_with("cue_delivered")),
        "{types:?}"
    );
    assert!(
        !types.iter().any(|t| t.starts_with("agent_nudge")),
        "{types:?}"
    );
}
