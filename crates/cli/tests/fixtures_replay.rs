//! The bundled call fixtures, replayed through the built binary with the
//! shipped model: each must produce the events its manifest expects
//! (`fixtures/manifest.json`, written by `tools/data/make_calls.py` from the
//! scenario, not from shoutcue's output), and every cue must land in the
//! customer's pause: after the shouting bout ends, within 0.5 s.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Fixtures where the shipped model is known to fall short of the full
/// expectation, with the number of leading cues it does get right. Kept
/// here in plain sight (and in the README) rather than bent out of the test.
/// Empty since the model trained on six renders (2026-12-01): before it,
/// `mulaw_shout` reached step 3 once, two bouts having 0.53-0.57 s of voiced
/// speech through the 300-3400 Hz band against 0.6 s needed.
const KNOWN_SHORT: &[(&str, usize)] = &[];

fn replay(wav: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_shoutcue"))
        .arg("replay")
        .arg(wav)
        .output()
        .expect("shoutcue runs");
    assert!(
        out.status.success(),
        "{}: {}",
        wav.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn pairs(v: &Value) -> Vec<(u64, u64)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_fixture_gives_its_expected_events() {
    let root = shoutcue_testkit::repo_root().join("fixtures");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    let fixtures = manifest["fixtures"].as_array().unwrap();
    assert!(
        fixtures.len() >= 11,
        "manifest lists {} fixtures",
        fixtures.len()
    );
    let mut failures = Vec::new();
    for fx in fixtures {
        let name = fx["name"].as_str().unwrap();
        let expect = &fx["expect"];
        let wav = root.join(format!("{name}.wav"));
        let events = replay(&wav);
        let of = |ty: &'static str| events.iter().filter(move |e| e["type"] == ty);

        // Cues shown for the first time (re-cues of an unsaid step excluded).
        let cues: Vec<(u64, u64)> = of("cue")
            .filter(|e| e["recue"] == false)
            .map(|e| (e["step"].as_u64().unwrap(), e["repeat"].as_u64().unwrap()))
            .collect();
        let want = pairs(&expect["cues"]);
        let short = KNOWN_SHORT
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k);
        let cues_ok = match short {
            Some(k) => cues.len() >= k && want.starts_with(&cues),
            None => cues == want,
        };
        if !cues_ok {
            failures.push(format!("{name}: cues {cues:?}, expected {want:?}"));
        }
        if short.is_none() {
            let calm = of("calm").count() as u64;
            if calm != expect["calm"].as_u64().unwrap() {
                failures.push(format!(
                    "{name}: {calm} calm events, expected {}",
                    expect["calm"]
                ));
            }
            for ty in ["advise_end_call", "supervisor_alert"] {
                let got = of(ty).count() > 0;
                if got != expect[ty].as_bool().unwrap() {
                    failures.push(format!("{name}: {ty} {got}, expected {}", expect[ty]));
                }
            }
            if let Some(d) = expect.get("delivered") {
                let delivered: Vec<(u64, u64)> = of("cue_delivered")
                    .map(|e| (e["step"].as_u64().unwrap(), e["repeat"].as_u64().unwrap()))
                    .collect();
                if delivered != pairs(d) {
                    failures.push(format!(
                        "{name}: delivered {delivered:?}, expected {:?}",
                        pairs(d)
                    ));
                }
            }
        }
        let nudges: Vec<&str> = of("agent_nudge")
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        let want_nudges: Vec<&str> = expect["nudges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        if nudges != want_nudges {
            failures.push(format!(
                "{name}: nudges {nudges:?}, expected {want_nudges:?}"
            ));
        }
        if let Some(mode) = expect.get("delivery") {
            for e in of("cue") {
                if e["delivery"] != *mode {
                    failures.push(format!(
                        "{name}: cue delivery {}, expected {mode}",
                        e["delivery"]
                    ));
                }
            }
        }
        // Timing: each cue comes after a bout has ended, within 0.5 s of its end.
        let bouts: Vec<(f64, f64)> = fx["shout_bouts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b[0].as_f64().unwrap(), b[1].as_f64().unwrap()))
            .collect();
        for e in of("cue") {
            let t = e["t"].as_f64().unwrap();
            let after = bouts
                .iter()
                .filter(|b| b.1 <= t)
                .map(|b| t - b.1)
                .fold(f64::INFINITY, f64::min);
            let inside = bouts.iter().any(|b| t > b.0 && t < b.1);
            if inside || after > 0.5 {
                failures.push(format!("{name}: cue at {t:.2} s is not in a pause within 0.5 s of a bout's end (gap {after:.2} s)"));
            }
        }
        // Private nudges stay private.
        for e in of("agent_nudge") {
            if e["private"] != true {
                failures.push(format!("{name}: agent_nudge not marked private"));
            }
        }
        assert_eq!(
            events.last().map(|e| e["type"].clone()),
            Some(Value::from("call_end")),
            "{name}: call_end last"
        );
    }
    assert!(
        failures.is_empty(),
        "fixture expectations not met:\n{}",
        failures.join("\n")
    );
}

/// `--pretty` runs the clock forwards; the JSON Lines stream, in decision
/// order, does not (a cue at the pause is decided before the shout's end,
/// which is stamped back at the last shouted word).
#[test]
fn pretty_timeline_is_in_time_order_where_the_stream_is_not() {
    let wav = shoutcue_testkit::repo_root().join("fixtures/continued_shout.wav");
    let stream: Vec<f64> = replay(&wav)
        .iter()
        .map(|e| e["t"].as_f64().unwrap())
        .collect();
    assert!(stream.windows(2).any(|w| w[1] < w[0]), "{stream:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_shoutcue"))
        .args(["replay", "--pretty"])
        .arg(&wav)
        .output()
        .expect("shoutcue runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let t: Vec<f64> = text
        .lines()
        .map(|l| l[..2].parse::<f64>().unwrap() * 60.0 + l[3..7].parse::<f64>().unwrap())
        .collect();
    assert_eq!(t.len(), stream.len(), "{text}");
    assert!(t.windows(2).all(|w| w[1] >= w[0]), "{text}");
}
