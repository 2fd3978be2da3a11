//! What a server that dies mid-call leaves behind: `shoutcue serve` as a
//! real process, a call streamed over AudioSocket at real time, and a
//! SIGKILL (no drain, no goodbye) once the call's first cue was shown.
//! The events file must already hold every line up to that cue, each
//! whole: the pages and NATS had shown them.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{addr_after, audiosocket_call, start};

#[test]
fn a_killed_server_leaves_every_line_it_had_shown_and_no_torn_one() {
    let dir = shoutcue_testkit::TempDir::new("durability");
    let events = dir.join("events");
    let (mut server, line, _log) = start(
        &[
            "serve",
            "--audiosocket",
            "127.0.0.1:0",
            "--events-dir",
            events.to_str().unwrap(),
        ],
        "audiosocket tcp://",
    );
    let addr = addr_after(&line, "tcp://").parse().unwrap();
    let _call = audiosocket_call(addr, 0x55, "sustained_shout.wav", None);
    let file = events.join("55000000-0000-0000-0000-000000000007.jsonl");
    // The cue is shown at the customer's first pause, a few seconds in.
    let t0 = Instant::now();
    let seen_cue = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.lines().any(|l| l.contains("\"type\":\"cue\"")) {
            break true;
        }
        if t0.elapsed() > Duration::from_secs(25) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        seen_cue,
        "no cue in the file after 25 s of a shouting call (lines held back?):\n{text}"
    );
    assert!(text.ends_with('\n'), "a torn last line: {text:?}");
    let types: Vec<String> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
            v["type"].as_str().unwrap().to_string()
        })
        .collect();
    for want in ["call_start", "shout_start", "cue_pending", "cue"] {
        assert!(types.iter().any(|t| t == want), "no {want} in {types:?}");
    }
}

#[test]
fn an_events_folder_that_takes_no_files_stops_the_server_at_start() {
    // /proc/self exists and takes no new files, even for root.
    let out = std::process::Command::new(support::BIN)
        .args([
            "serve",
            "--audiosocket",
            "127.0.0.1:0",
            "--events-dir",
            "/proc/self",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started anyway: {err}");
    assert!(
        err.contains("/proc/self") && err.contains("does not take new files"),
        "{err}"
    );
}

#[test]
fn a_call_limit_the_open_file_limit_cannot_carry_stops_the_server_at_start() {
    // A hard limit of 256 open files carries (256 - 96) / 3 = 53 calls.
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            r#"ulimit -n 256 && exec "$0" serve --audiosocket 127.0.0.1:0 --max-calls 500"#,
            support::BIN,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started anyway: {err}");
    assert!(
        err.contains("max_calls 500") && err.contains("at most 53"),
        "{err}"
    );
}
