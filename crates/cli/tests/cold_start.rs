//! A call that opens with a raised voice, before any calm voice of the
//! caller has been heard: the cold start decides, and the agent gets the
//! step-1 line at the caller's first pause (testdata/cold/README.md).
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[test]
fn a_call_that_opens_shouting_gets_step_one_at_the_first_pause() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cold");
    let out = Command::new(env!("CARGO_BIN_EXE_shoutcue"))
        .arg("replay")
        .arg(root.join("cold_open.wav"))
        .output()
        .expect("shoutcue runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let labels: Vec<(f64, f64)> = std::fs::read_to_string(root.join("cold_open.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<f64> = l.split('\t').take(2).map(|x| x.parse().unwrap()).collect();
            (f[0], f[1])
        })
        .collect();
    let (first_word, opening_end) = (labels[0].0, labels[1].1);

    let start = events
        .iter()
        .find(|e| e["type"] == "shout_start" && e["speaker"] == "customer")
        .expect("the opening is detected");
    assert_eq!(
        start["baseline"], "priors",
        "no calm voice heard yet: {start}"
    );
    let decided = start["decided_t"].as_f64().unwrap();
    assert!(
        decided - first_word <= 1.5,
        "decided {decided:.2} s, {:.2} s after the first raised word",
        decided - first_word
    );

    let cue = events
        .iter()
        .find(|e| e["type"] == "cue")
        .expect("a cue is shown");
    assert_eq!(cue["step"], 1, "{cue}");
    let t = cue["t"].as_f64().unwrap();
    // At a pause of the opening outburst: after a raised sentence ends and
    // before the next one starts, never over the caller.
    let in_pause = labels.windows(2).any(|w| t >= w[0].1 && t < w[1].0);
    assert!(
        in_pause,
        "cue at {t:.2} s is not in a pause; labels {labels:?}"
    );
    assert!(t <= opening_end + 0.5, "cue at {t:.2} s, after the opening");
}
