//! Recordings as recorders write them, through the built binary: a FLAC
//! call replays exactly as its WAV does, the lossy ones still find its
//! shouting, and `qa` lists what it does not read instead of dropping it.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_shoutcue");

fn replay(file: &Path) -> Vec<Value> {
    let o = Command::new(BIN).arg("replay").arg(file).output().unwrap();
    assert!(
        o.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn kinds(ev: &[Value]) -> Vec<String> {
    ev.iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_flac_call_replays_as_its_wav_and_lossy_ones_find_the_shouting() {
    let wav = replay(&shoutcue_testkit::fixture("mono_shout.wav"));
    let flac = replay(&shoutcue_testkit::format_fixture("mono_shout.flac"));
    assert_eq!(flac, wav, "FLAC events differ from the WAV's");
    // Lossy codecs change the spectrum a little, so their decisions may
    // move; each must still fall on the labelled shouting, and only there.
    let labels: Vec<(f64, f64)> =
        std::fs::read_to_string(shoutcue_testkit::fixture("mono_shout.txt"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Some((f.first()?.parse().ok()?, f.get(1)?.parse().ok()?))
            })
            .collect();
    for f in ["mono_shout.mp3", "mono_shout.ogg"] {
        let ev = replay(&shoutcue_testkit::format_fixture(f));
        let starts: Vec<f64> = ev
            .iter()
            .filter(|e| e["type"] == "shout_start")
            .filter_map(|e| e["t"].as_f64())
            .collect();
        assert!(
            !starts.is_empty(),
            "{f}: no shouting found: {:?}",
            kinds(&ev)
        );
        for t in &starts {
            assert!(
                labels.iter().any(|&(a, b)| *t >= a - 0.5 && *t <= b),
                "{f}: shouting at {t} s, outside the labels {labels:?}"
            );
        }
        assert!(
            kinds(&ev).contains(&"cue".to_string()),
            "{f}: no cue: {:?}",
            kinds(&ev)
        );
        eprintln!("{f}: shouting starts at {starts:?} (labels {labels:?})");
    }
}

#[test]
fn qa_reads_the_formats_and_lists_what_it_does_not() {
    let dir = shoutcue_testkit::TempDir::new("qa-formats");
    let calls = dir.path().join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    for f in ["mono_shout.flac", "mono_shout.mp3", "excerpt_gsm.wav"] {
        std::fs::copy(shoutcue_testkit::format_fixture(f), calls.join(f)).unwrap();
    }
    std::fs::write(calls.join("voicemail.opus"), b"OggS not really opus").unwrap();
    std::fs::write(calls.join("notes.txt"), b"not audio, not a call").unwrap();
    let out = dir.path().join("report");
    let o = Command::new(BIN)
        .arg("qa")
        .arg(&calls)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The GSM call fails (named); the run says so with its exit status.
    assert!(!o.status.success());
    assert!(
        stderr.contains("voicemail.opus") && stderr.contains("Opus is not read"),
        "{stderr}"
    );
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let row = |name: &str| {
        csv.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not in:\n{csv}"))
            .to_string()
    };
    assert!(
        row("mono_shout.flac").contains(",ok,"),
        "{}",
        row("mono_shout.flac")
    );
    assert!(
        row("mono_shout.mp3").contains(",ok,"),
        "{}",
        row("mono_shout.mp3")
    );
    assert!(
        row("voicemail.opus").contains("skipped"),
        "{}",
        row("voicemail.opus")
    );
    assert!(
        row("excerpt_gsm.wav").contains("GSM"),
        "{}",
        row("excerpt_gsm.wav")
    );
    assert!(!csv.contains("notes.txt"));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("Opus is not read"));
}
