//! The outside audit's findings, each run against the built binary on real
//! files in a temp dir: a crashed recorder's 0-byte data size, signals,
//! FIFOs and devices, `--jobs`, symlink loops, `live`'s options, closed
//! pipes and full disks, piped input, NaN files.
//!
//! Every child runs under a timeout, so a hang fails the test instead of
//! hanging the suite.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use shoutcue_testkit::{fixture, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_shoutcue");

/// Waits for `child` at most `secs`; kills it and fails the test past that.
fn wait_within(mut child: Child, secs: f64, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs_f64(secs) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: still running after {secs} s; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary with `args`, stdin closed, output captured, under a timeout.
fn run(args: &[&str], secs: f64) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_within(child, secs, &args.join(" "))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `calm_call.wav` with its data size field set to `size`, written to `to`.
fn with_data_size(size: u32, to: &Path) {
    let mut bytes = std::fs::read(fixture("calm_call.wav")).unwrap();
    let at = shoutcue_testkit::wav_data_size_offset(&bytes);
    bytes[at..at + 4].copy_from_slice(&size.to_le_bytes());
    std::fs::write(to, bytes).unwrap();
}

/// `summary.csv`'s rows as (name, status, the whole line).
fn summary_rows(out: &Path) -> Vec<(String, String, String)> {
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (
                f.next().unwrap().to_string(),
                f.next().unwrap().to_string(),
                l.to_string(),
            )
        })
        .collect()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success(), "mkfifo {}", path.display());
}

/// Sends `sig` (INT, TERM) to `pid` with kill(1).
fn kill(sig: &str, pid: u32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

// ------------------------------------------------ 2: declared data sizes

#[test]
fn zero_data_size_is_analysed_whole_with_a_warning() {
    let tmp = TempDir::new("hard-zero");
    let dir = tmp.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    with_data_size(0, &dir.join("crashed.wav"));
    with_data_size(4000, &dir.join("short.wav"));

    // replay: the whole call, and the warning on stderr.
    let o = run(&["loudness", s(&dir.join("crashed.wav"))], 60.0);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("declares 0 bytes"), "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(line["duration_s"].as_f64().unwrap() > 15.0, "{line}");

    let out = tmp.join("report");
    let o = run(&["qa", s(&dir), "--out", s(&out), "--jobs", "1"], 120.0);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("crashed.wav: warning: data chunk declares 0 bytes"),
        "{err}"
    );
    assert!(
        err.contains("short.wav: warning: data chunk declares 4000 bytes"),
        "{err}"
    );
    let rows = summary_rows(&out);
    let crashed = rows.iter().find(|r| r.0 == "crashed.wav").unwrap();
    assert_eq!(crashed.1, "ok");
    let duration: f64 = crashed.2.split(',').nth(3).unwrap().parse().unwrap();
    assert!(
        duration > 15.0,
        "a crashed recorder's call is not empty: {}",
        crashed.2
    );
    assert!(crashed.2.contains("declares 0 bytes"), "{}", crashed.2);
    let short = rows.iter().find(|r| r.0 == "short.wav").unwrap();
    assert!(short.2.contains("not analysed"), "{}", short.2);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("declares 0 bytes"));
}

// ---------------------------------------------------------- 3: signals

#[test]
fn a_signal_ends_a_realtime_replay_promptly_with_its_note() {
    let tmp = TempDir::new("hard-signal");
    let port = (20_000 + std::process::id() % 20_000).to_string();
    for (sig, serve) in [
        ("INT", false),
        ("TERM", false),
        ("INT", true),
        ("TERM", true),
    ] {
        let note = tmp.join(format!("note-{sig}-{serve}"));
        let mut args = vec![
            "replay".to_string(),
            s(&fixture("calm_call.wav")).to_string(),
            "--realtime".into(),
            "--note-out".into(),
            s(&note).into(),
        ];
        if serve {
            args.extend(["--serve".into(), port.clone()]);
        }
        let child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        let pid = child.id();
        let sent = Instant::now();
        kill(sig, pid);
        let o = wait_within(child, 10.0, &format!("replay --realtime, SIG{sig}"));
        let took = sent.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "SIG{sig} (serve {serve}): exit took {took:?}"
        );
        assert!(o.status.success(), "SIG{sig}: {}", stderr(&o));
        assert!(note.with_extension("json").is_file(), "SIG{sig}: no note");
        assert!(note.with_extension("md").is_file(), "SIG{sig}: no note");
    }
}

#[test]
fn qa_stops_between_calls_on_a_signal_and_resumes() {
    let tmp = TempDir::new("hard-qa-stop");
    let dir = tmp.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    let n = 16;
    for i in 0..n {
        std::fs::copy(fixture("calm_call.wav"), dir.join(format!("c{i:02}.wav"))).unwrap();
    }
    let out = tmp.join("report");
    let child = Command::new(BIN)
        .args(["qa", s(&dir), "--out", s(&out), "--jobs", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the first call is done (its NAME.done.json is written),
    // however slow the machine: a fixed sleep flaked under load.
    let first_done = Instant::now();
    while first_done.elapsed() < Duration::from_secs(60) {
        let any = std::fs::read_dir(out.join("calls")).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".done.json"))
        });
        if any {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Instant::now();
    kill("INT", child.id());
    let o = wait_within(child, 30.0, "qa, SIGINT");
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert!(!o.status.success(), "an interrupted batch is not complete");
    assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
    // The index holds what was done, and only that.
    let done = summary_rows(&out);
    assert!(
        !done.is_empty() && done.len() < n,
        "expected some calls done: {done:?}"
    );
    assert!(done.iter().all(|r| r.1 == "ok"), "{done:?}");

    // The same command again resumes: what was done is not redone.
    let o = run(&["qa", s(&dir), "--out", s(&out), "--jobs", "1"], 120.0);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(
        line.contains(&format!("{n} calls ({} skipped as up to date)", done.len())),
        "{line}"
    );
    assert_eq!(summary_rows(&out).len(), n);
}

// ------------------------------------------ 4: FIFOs and other devices

#[cfg(unix)]
#[test]
fn a_fifo_or_device_is_refused_not_waited_on() {
    let tmp = TempDir::new("hard-fifo");
    let dir = tmp.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("x.wav");
    mkfifo(&fifo);
    std::fs::copy(fixture("calm_call.wav"), dir.join("good.wav")).unwrap();

    for cmd in ["replay", "features", "loudness"] {
        let o = run(&[cmd, s(&fifo)], 20.0);
        assert!(!o.status.success(), "{cmd}");
        let err = stderr(&o);
        assert!(
            err.contains("x.wav") && err.contains("not a regular file") && err.contains("FIFO"),
            "{cmd}: {err}"
        );
    }
    let o = run(&["replay", "/dev/zero"], 20.0);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("character device"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("empty"), "{}", stderr(&o));

    // qa lists the FIFO as skipped, with why, and analyses the rest.
    let out = tmp.join("report");
    let o = run(&["qa", s(&dir), "--out", s(&out), "--jobs", "1"], 60.0);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("skipped"), "{}", stderr(&o));
    let rows = summary_rows(&out);
    let x = rows.iter().find(|r| r.0 == "x.wav").unwrap();
    assert_eq!(x.1, "skipped", "{}", x.2);
    assert!(x.2.contains("FIFO"), "{}", x.2);
    assert_eq!(rows.iter().find(|r| r.0 == "good.wav").unwrap().1, "ok");
}

// ------------------------------------------------------------- 5: jobs

#[test]
fn qa_jobs_is_bounded() {
    let tmp = TempDir::new("hard-jobs");
    let dir = tmp.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("calm_call.wav"), dir.join("a.wav")).unwrap();
    let out = tmp.join("report");

    let o = run(&["qa", s(&dir), "--out", s(&out), "--jobs", "100000"], 20.0);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--jobs") && stderr(&o).contains("1..=1024"),
        "{}",
        stderr(&o)
    );
    let o = run(&["qa", s(&dir), "--out", s(&out), "--jobs", "0"], 20.0);
    assert!(!o.status.success());

    // Within the bound but above 4 per core: lowered, and said so.
    let cores = std::thread::available_parallelism().unwrap().get();
    let o = run(&["qa", s(&dir), "--out", s(&out), "--jobs", "1024"], 60.0);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("using {}", 4 * cores)),
        "{}",
        stderr(&o)
    );
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(
        line.contains(&format!("on {} threads", 4 * cores)),
        "{line}"
    );
}

// --------------------------------------------------- 6: symlink loops

#[cfg(unix)]
#[test]
fn qa_lists_each_call_once_through_a_symlink_loop() {
    let tmp = TempDir::new("hard-loop");
    let dir = tmp.join("calls");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::copy(fixture("calm_call.wav"), dir.join("a.wav")).unwrap();
    std::fs::copy(fixture("calm_call.wav"), dir.join("sub/b.wav")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    let out = tmp.join("report");
    let o = run(&["qa", s(&dir), "--out", s(&out), "--jobs", "2"], 60.0);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut names: Vec<String> = summary_rows(&out).into_iter().map(|r| r.0).collect();
    names.sort();
    assert_eq!(names, ["a.wav", "sub/b.wav"]);
}

// --------------------------------------------------- 7: live's options

#[test]
fn live_options_are_checked_before_any_device() {
    for (opt, value) in [
        ("--rate", "4000000000"),
        ("--rate", "1"),
        ("--rate", "7999"),
        ("--rate", "192001"),
        ("--duration", "inf"),
        ("--duration", "NaN"),
        ("--duration", "0"),
        ("--duration", "-5"),
        ("--duration", "1e300"),
        ("--channel-map", "65535,0"),
        ("--channel-map", "256,0"),
        ("--channel-map", "0,0"),
        ("--channel-map", "1"),
    ] {
        let arg = format!("{opt}={value}"); // `=`: so `-5` is a value, not an option
        let o = run(&["live", "--customer-device", "nope", &arg], 20.0);
        assert_eq!(o.status.code(), Some(2), "{opt} {value}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(opt) && err.contains(value),
            "{opt} {value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

// ------------------------------------- 8: closed pipes and full disks

/// The subcommands that print to stdout, each on a short real input.
fn printing_commands(tmp: &TempDir) -> Vec<Vec<String>> {
    let call = s(&fixture("calm_call.wav")).to_string();
    let dir = tmp.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("calm_call.wav"), dir.join("a.wav")).unwrap();
    let out = s(&tmp.join("report")).to_string();
    let labelled = tmp.join("labelled");
    std::fs::create_dir_all(&labelled).unwrap();
    for f in [
        "calm_call.wav",
        "calm_call.txt",
        "sustained_shout.wav",
        "sustained_shout.txt",
    ] {
        std::fs::copy(fixture(f), labelled.join(f)).unwrap();
    }
    vec![
        vec!["eval".into(), s(&labelled).into()],
        vec!["eval".into(), s(&labelled).into(), "--json".into()],
        vec!["replay".into(), call.clone()],
        vec!["replay".into(), call.clone(), "--pretty".into()],
        vec!["features".into(), call.clone()],
        vec![
            "features".into(),
            call.clone(),
            "--format".into(),
            "jsonl".into(),
        ],
        vec!["loudness".into(), call],
        vec![
            "qa".into(),
            s(&dir).into(),
            "--out".into(),
            out,
            "--force".into(),
        ],
    ]
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let tmp = TempDir::new("hard-pipe");
    for args in printing_commands(&tmp) {
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the first line.
        drop(child.stdout.take());
        let o = wait_within(child, 60.0, &args.join(" "));
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_an_error_naming_the_output() {
    let tmp = TempDir::new("hard-full");
    for args in printing_commands(&tmp) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::from(full))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = wait_within(child, 60.0, &args.join(" "));
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("stdout") && err.contains("No space left"),
            "{args:?}: {err}"
        );
    }
    // An output path on the full disk is named (a call with labels to write).
    let o = run(
        &[
            "replay",
            s(&fixture("sustained_shout.wav")),
            "--labels-out",
            "/dev/full",
        ],
        60.0,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/dev/full") && stderr(&o).contains("No space left"),
        "{}",
        stderr(&o)
    );
}

// ------------------------------------------------ 9: the file's parts

#[test]
fn a_wav_piped_to_stdin_reads_as_a_stream() {
    let call = fixture("calm_call.wav");
    let want = run(&["replay", s(&call)], 60.0);
    assert!(want.status.success());

    let mut child = Command::new(BIN)
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let bytes = std::fs::read(&call).unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let o = wait_within(child, 60.0, "replay -");
    writer.join().unwrap().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("Illegal seek"), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).replace("\"stdin\"", "X"),
        String::from_utf8_lossy(&want.stdout).replace(&format!("{:?}", s(&call)), "X"),
        "the same events from a pipe as from the file"
    );

    // A pipe given by its /dev path: a clear error pointing at `-`.
    let mut child = Command::new(BIN)
        .args(["replay", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let o = wait_within(child, 20.0, "replay /dev/stdin");
    drop(stdin);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a regular file") && stderr(&o).contains("`-`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn features_prints_nothing_for_a_file_it_cannot_open() {
    let tmp = TempDir::new("hard-features");
    let missing = tmp.join("missing.wav");
    let o = run(&["features", s(&missing)], 20.0);
    assert!(!o.status.success());
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(stderr(&o).contains("missing.wav"), "{}", stderr(&o));
}

#[test]
fn an_all_nan_call_is_noted_in_qa_and_on_stderr() {
    let tmp = TempDir::new("hard-nan");
    let dir = tmp.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(dir.join("nan.wav"), spec).unwrap();
    for _ in 0..2 * 8000 * 3 {
        w.write_sample(f32::NAN).unwrap();
    }
    w.finalize().unwrap();
    let out = tmp.join("report");
    let o = run(&["qa", s(&dir), "--out", s(&out)], 60.0);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nan.wav: warning: 48000 NaN/Inf samples replaced by silence"),
        "{}",
        stderr(&o)
    );
    let rows = summary_rows(&out);
    assert!(rows[0].2.contains("48000 NaN/Inf samples"), "{}", rows[0].2);
}
