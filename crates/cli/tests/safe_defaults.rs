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
