//! Defaults that cannot hurt: training never overwrites the model built
//! into the next build by accident, and a call's start time is a time.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_shoutcue");

fn shipped() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/shout-v1.json")
}

#[test]
fn train_needs_out_and_refuses_the_shipped_model_without_force() {
    let fixtures = shoutcue_testkit::fixture("calm_call.wav");
    let dir = fixtures.parent().unwrap().to_str().unwrap().to_string();
    let o = Command::new(BIN).args(["train", &dir]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));

    let before = std::fs::read(shipped()).unwrap();
    // Named through a different spelling of the same file, from another folder.
    let o = Command::new(BIN)
        .current_dir(shipped().parent().unwrap())
        .args(["train", &dir, "--out", "./shout-v1.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("built into shoutcue") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(shipped()).unwrap(),
        before,
        "the shipped model was touched"
    );
}

#[test]
fn started_at_must_be_a_time() {
    let f = shoutcue_testkit::fixture("silence.wav");
    let f = f.to_str().unwrap();
    let o = Command::new(BIN)
        .args(["replay", f, "--started-at", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--started-at") && err.contains("RFC 3339"),
        "{err}"
    );
    let o = Command::new(BIN)
        .args(["replay", f, "--started-at", "2026-12-03T09:30:00Z"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn train_sets_the_cold_start_from_calm_voices_and_the_f0_floor_from_its_detections() {
    let tmp = shoutcue_testkit::TempDir::new("train-calm");
    let calm = tmp.join("calm");
    std::fs::create_dir_all(&calm).unwrap();
    for f in ["calm_call.wav", "calm_call.txt"] {
        std::fs::copy(shoutcue_testkit::fixture(f), calm.join(f)).unwrap();
    }
    let fixtures = shoutcue_testkit::fixture("calm_call.wav");
    let dir = fixtures.parent().unwrap();
    let out = tmp.join("m.json");
    let o = Command::new(BIN)
        .args([
            "train",
            dir.to_str().unwrap(),
            "--calm",
            calm.to_str().unwrap(),
        ])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cold start: 1 calm calls reach"));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let metrics = &m["provenance"]["metrics"];
    assert_eq!(metrics["calm_calls"], 1.0);
    let reach = metrics["calm_max_prior_score"].as_f64().unwrap();
    let prior_on = m["prior_on_threshold"].as_f64().unwrap();
    // Above every calm score, with the margin, or the priors never decide.
    assert!(
        prior_on == 1.0 || prior_on >= reach + 0.029,
        "{prior_on} vs {reach}"
    );
    // The floor comes from the fitted model's own detections: a real
    // gate, on the half-semitone grid.
    let floor = m["min_f0_rise_st"].as_f64().unwrap();
    assert!(floor > -6.0 && (floor * 2.0).fract() == 0.0, "{floor}");
}

/// A default build lists `devices` and `live` with how to get them,
/// rather than letting a user find out only by running them.
#[cfg(not(feature = "live"))]
#[test]
fn help_says_how_to_get_live_capture() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for cmd in ["devices", "live"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(cmd))
            .unwrap_or_else(|| panic!("no {cmd} in {help}"));
        assert!(line.contains("--features live"), "{line}");
    }
}

#[test]
fn serve_offers_no_per_call_flags_and_replay_still_does() {
    let help = |cmd: &str| {
        let o = Command::new(BIN).args([cmd, "--help"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let serve = help("serve");
    for flag in ["--name", "--started-at"] {
        assert!(
            !serve.contains(flag),
            "serve --help offers {flag}:\n{serve}"
        );
    }
    assert!(
        serve.contains("--model") && serve.contains("--script"),
        "{serve}"
    );
    let replay = help("replay");
    assert!(replay.contains("--name") && replay.contains("--started-at"));
}
