//! `shoutcue qa`: the batch review, run as the built binary over a folder
//! made in a temp dir (good call, shouting call, mu-law call, a corrupt and
//! an empty file), then the report opened in headless Chromium.
//!
//! The calls are copies of `fixtures/` (built from EmoDB dev speakers); the
//! detector's thresholds were never fitted to them for this test, and the
//! assertions are about the report matching its inputs, not exact figures.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use shoutcue_core::source::{ChannelChoice, WavSource};

const BIN: &str = env!("CARGO_BIN_EXE_shoutcue");

fn fixture(name: &str) -> PathBuf {
    let p = shoutcue_testkit::repo_root().join("fixtures").join(name);
    assert!(
        p.is_file(),
        "{}: fixture missing (run tools/data/make_calls.py)",
        p.display()
    );
    p
}

/// A fresh, empty temp folder for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!("shoutcue-qa-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The five-call folder the brief asks for, one call in a subfolder.
fn make_calls(root: &Path) -> PathBuf {
    let dir = root.join("calls");
    std::fs::create_dir_all(dir.join("monday")).unwrap();
    std::fs::copy(fixture("calm_call.wav"), dir.join("good.wav")).unwrap();
    std::fs::copy(
        fixture("sustained_shout.wav"),
        dir.join("monday/shouting.wav"),
    )
    .unwrap();
    std::fs::copy(fixture("mulaw_shout.wav"), dir.join("mulaw.wav")).unwrap();
    // A text file with a .wav name, as a misnamed export would be.
    std::fs::write(
        dir.join("corrupt.wav"),
        b"this is not audio at all, just text\n",
    )
    .unwrap();
    std::fs::write(dir.join("empty.wav"), b"").unwrap();
    dir
}

fn qa(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    let o = Command::new(BIN)
        .arg("qa")
        .arg(dir)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run shoutcue");
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses RFC 4180 CSV into rows of fields (quoted fields may hold commas and quotes).
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}

/// The CSV as (header, rows keyed by the `name` column).
fn read_summary(out: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let csv = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv written");
    let mut rows = parse_csv(&csv);
    let header = rows.remove(0);
    for r in &rows {
        assert_eq!(r.len(), header.len(), "ragged CSV row {r:?}");
    }
    (header, rows)
}

fn cell<'a>(header: &[String], rows: &'a [Vec<String>], name: &str, col: &str) -> &'a str {
    let c = header
        .iter()
        .position(|h| h == col)
        .unwrap_or_else(|| panic!("no column {col} in {header:?}"));
    let row = rows
        .iter()
        .find(|r| r[0] == name)
        .unwrap_or_else(|| panic!("no row for {name}"));
    &row[c]
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
    (w, h)
}

/// The call's length as the WAV header declares it.
fn declared_s(path: &Path) -> f64 {
    let src = WavSource::open(path, ChannelChoice::Default).unwrap();
    let spec = src.spec();
    spec.declared_frames.unwrap() as f64 / spec.sample_rate as f64
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn batch_report_rows_errors_exit_code_plot_and_resume() {
    let root = temp_dir("batch");
    let dir = make_calls(&root);
    let out = root.join("report");

    let o = qa(&dir, &out, &["--jobs", "2"]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(
        !o.status.success(),
        "two unreadable files must fail the run"
    );
    assert!(
        stderr.contains("2 of 5 calls failed"),
        "stderr should count the failures: {stderr}"
    );
    assert!(
        stdout.contains("5 calls (0 skipped") && stdout.contains("2 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("x real time"), "{stdout}");

    let (h, rows) = read_summary(&out);
    let mut names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "corrupt.wav",
            "empty.wav",
            "good.wav",
            "monday/shouting.wav",
            "mulaw.wav"
        ]
    );
    // The agent's private nudges are not QA's by default.
    assert!(!h.iter().any(|c| c.contains("nudge")), "{h:?}");

    // Error rows name the file and the problem.
    assert_eq!(cell(&h, &rows, "corrupt.wav", "status"), "error");
    let e = cell(&h, &rows, "corrupt.wav", "error");
    assert!(
        e.contains("corrupt.wav") && e.contains("not a recording shoutcue can read"),
        "{e}"
    );
    let e = cell(&h, &rows, "empty.wav", "error");
    assert!(e.contains("empty.wav") && e.contains("empty file"), "{e}");
    assert_eq!(cell(&h, &rows, "empty.wav", "plot"), "");

    // Good rows: the whole call analysed, as long as its header says.
    for (name, src) in [
        ("good.wav", dir.join("good.wav")),
        ("monday/shouting.wav", dir.join("monday/shouting.wav")),
        ("mulaw.wav", dir.join("mulaw.wav")),
    ] {
        assert_eq!(cell(&h, &rows, name, "status"), "ok", "{name}");
        let d: f64 = cell(&h, &rows, name, "duration_s").parse().unwrap();
        assert!((d - declared_s(&src)).abs() < 0.02, "{name}: {d} s");
    }
    // The calm call has no shouting and no cue; the shouting calls have both,
    // and the cues column matches the counts.
    let num = |name: &str, col: &str| -> f64 { cell(&h, &rows, name, col).parse().unwrap() };
    assert_eq!(num("good.wav", "shouting_s"), 0.0);
    assert_eq!(num("good.wav", "highest_step"), 0.0);
    assert_eq!(cell(&h, &rows, "good.wav", "cues"), "");
    for name in ["monday/shouting.wav", "mulaw.wav"] {
        assert!(num(name, "shouting_s") > 1.0, "{name}");
        assert!(num(name, "episodes") >= 1.0, "{name}");
        assert!(num(name, "highest_step") >= 1.0, "{name}");
        let cues = cell(&h, &rows, name, "cues");
        assert_eq!(
            cues.split(' ').count() as f64,
            num(name, "cues_shown"),
            "{name}: {cues}"
        );
        assert_eq!(
            cues.matches(":yes").count() as f64,
            num(name, "cues_said"),
            "{name}: {cues}"
        );
        assert!(
            cues.starts_with("1:"),
            "the ladder starts at step 1: {cues}"
        );
    }
    // The shouting span in the label track lies inside the call.
    let labels = std::fs::read_to_string(out.join("calls/monday/shouting.txt")).unwrap();
    assert!(labels.lines().any(|l| l.ends_with("\tshout")), "{labels}");

    // Per-call outputs exist; the plot has the documented size.
    let stem = out.join("calls/monday/shouting");
    for ext in ["jsonl", "txt", "md", "json", "png", "svg", "done.json"] {
        let p = PathBuf::from(format!("{}.{ext}", stem.display()));
        assert!(p.is_file(), "{} missing", p.display());
    }
    let png = out.join(cell(&h, &rows, "monday/shouting.wav", "plot"));
    assert_eq!(
        png_size(&png),
        (shoutcue_lab::qa::PLOT_WIDTH, shoutcue_lab::qa::PLOT_HEIGHT)
    );
    let svg = std::fs::read_to_string(format!("{}.svg", stem.display())).unwrap();
    assert!(
        svg.contains("customer shouting"),
        "SVG lacks the lane label"
    );
    let events = std::fs::read_to_string(format!("{}.jsonl", stem.display())).unwrap();
    assert!(events.contains("\"type\":\"cue\""), "{events}");
    assert!(
        !events.contains("\"private\":true"),
        "private lines leaked: {events}"
    );

    // index.html: a row per call, errors shown, relative links that resolve.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(html.matches("<tr").count(), 1 + 5, "header row + 5 calls");
    assert!(html.contains("not a recording shoutcue can read") && html.contains("empty file"));
    for href in html.split("href=\"").skip(1) {
        let link = &href[..href.find('"').unwrap()];
        assert!(!link.starts_with('/') && !link.contains("://"), "{link}");
        assert!(out.join(link).is_file(), "broken link {link}");
    }

    // Second run: everything readable is skipped, outputs untouched.
    let png_time = mtime(&png);
    std::thread::sleep(Duration::from_millis(20));
    let o = qa(&dir, &out, &["--jobs", "2"]);
    let stdout = text(&o.stdout);
    assert!(stdout.contains("5 calls (3 skipped"), "{stdout}");
    assert!(!o.status.success(), "the failures still count");
    assert_eq!(mtime(&png), png_time, "a skipped call was redrawn");
    let (_, rows2) = read_summary(&out);
    assert_eq!(rows2, rows, "resumed rows differ from computed ones");

    // A changed recording is redone; the others still skipped.
    let f = std::fs::File::options()
        .write(true)
        .open(dir.join("good.wav"))
        .unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(f);
    let stdout = text(&qa(&dir, &out, &[]).stdout);
    assert!(stdout.contains("5 calls (2 skipped"), "{stdout}");

    // --force redoes every call.
    let o = qa(&dir, &out, &["--force", "--jobs", "1"]);
    let stdout = text(&o.stdout);
    assert!(stdout.contains("5 calls (0 skipped"), "{stdout}");
    assert!(mtime(&png) > png_time, "--force did not redraw");

    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn private_agent_events_only_with_the_flag() {
    let root = temp_dir("private");
    let dir = root.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("agent_raised.wav"), dir.join("agent.wav")).unwrap();

    let out = root.join("default");
    let o = qa(&dir, &out, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (h, _) = read_summary(&out);
    assert!(!h.iter().any(|c| c.starts_with("agent_")), "{h:?}");
    let events = std::fs::read_to_string(out.join("calls/agent.jsonl")).unwrap();
    assert!(!events.contains("agent_nudge") && !events.contains("\"private\":true"));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("nudge"));

    let out = root.join("private");
    let o = qa(&dir, &out, &["--include-private"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (h, rows) = read_summary(&out);
    let events = std::fs::read_to_string(out.join("calls/agent.jsonl")).unwrap();
    let nudges = events.matches("\"type\":\"agent_nudge\"").count();
    assert!(
        nudges >= 1,
        "the agent's raised voice should be nudged: {events}"
    );
    assert_eq!(
        cell(&h, &rows, "agent.wav", "agent_nudges"),
        nudges.to_string()
    );
    let agent_s: f64 = cell(&h, &rows, "agent.wav", "agent_shouting_s")
        .parse()
        .unwrap();
    assert!(agent_s > 0.0);
    assert!(std::fs::read_to_string(out.join("calls/agent.svg"))
        .unwrap()
        .contains("agent nudges (private)"));
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_calm_customer_with_a_raised_agent_is_not_called_swapped_and_nothing_tells_qa_of_the_agent() {
    // Issue 26: `agent_raised` (a calm customer, an agent who raises their
    // voice for a sentence) was flagged "channels swapped? (4.1 s vs -0.0 s)",
    // which is wrong, prints -0.0, and tells QA how long the agent shouted.
    let root = temp_dir("raised-agent");
    let dir = root.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("agent_raised.wav"), dir.join("agent.wav")).unwrap();
    let out = root.join("out");
    let o = qa(&dir, &out, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (h, rows) = read_summary(&out);
    let notes = cell(&h, &rows, "agent.wav", "notes");
    assert!(!notes.contains("swapped"), "{notes}");
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    for (what, body) in [
        ("stderr", text(&o.stderr)),
        ("stdout", text(&o.stdout)),
        ("index.html", index),
        ("summary.csv", summary),
    ] {
        assert!(!body.contains("-0.0"), "{what} prints -0.0: {body}");
        assert!(!body.contains("swapped"), "{what}: {body}");
    }
    std::fs::remove_dir_all(&root).ok();
}

/// Issue 26: each call's page and the index say what happened to that
/// call: a calm call is not headed "customer shouting", a mono call has no
/// "3b" footnote it does not use, a call cut short says so on its own page,
/// and the index tells a call read in part from one not read at all.
#[test]
fn each_page_and_the_index_say_what_happened_to_that_call() {
    let root = temp_dir("pages-say");
    let dir = root.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("calm_call.wav"), dir.join("calm.wav")).unwrap();
    std::fs::copy(fixture("mono_shout.wav"), dir.join("mono.wav")).unwrap();
    std::fs::write(dir.join("text.wav"), b"not audio, only text\n").unwrap();
    // continued_shout cut off 60 % of the way into its data: read in part.
    let whole = std::fs::read(fixture("continued_shout.wav")).unwrap();
    std::fs::write(dir.join("cut.wav"), &whole[..whole.len() * 6 / 10]).unwrap();
    let out = root.join("out");
    let o = qa(&dir, &out, &[]);
    assert!(
        !o.status.success(),
        "a call that failed must fail the batch"
    );
    let page = |name: &str| std::fs::read_to_string(out.join("calls").join(name)).unwrap();

    let calm = page("calm.html");
    assert!(!calm.contains("customer shouting</h1>"), "{calm}");
    assert!(calm.contains("no customer shouting"), "{calm}");
    assert!(!page("mono.html").contains("3b:"));
    let cut = page("cut.html");
    assert!(
        cut.contains("could not be read to its end") && cut.contains("truncated"),
        "{cut}"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        index.contains("1 could not be read") && index.contains("1 read only in part"),
        "{index}"
    );
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn the_swap_warning_gives_the_agent_sides_figures_only_with_include_private() {
    let root = temp_dir("swap-private");
    let calls = root.join("calls");
    swapped_call(&calls);
    let out = root.join("default");
    let o = qa(&calls, &out, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (h, rows) = read_summary(&out);
    let notes = cell(&h, &rows, "left_customer.wav", "notes");
    assert!(notes.contains("channels swapped"), "{notes}");
    // No seconds of the agent side anywhere QA reads.
    assert!(!notes.contains(" s "), "{notes}");
    assert!(!text(&o.stderr).contains(" s vs "), "{}", text(&o.stderr));
    let out = root.join("private");
    let o = qa(&calls, &out, &["--include-private"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (h, rows) = read_summary(&out);
    let notes = cell(&h, &rows, "left_customer.wav", "notes");
    assert!(
        notes.contains("channels swapped") && notes.contains(" s vs "),
        "{notes}"
    );
    std::fs::remove_dir_all(&root).ok();
}

/// Headless Chromium. The test that needs it runs only when asked
/// (`--features outside-tests`), so a missing browser is a failure.
fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("no /usr/bin/chromium (apt-get install -y chromium)")
}

fn chromium_run(bin: &Path, profile: &Path, args: &[&str], url: &str) -> Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium")
}

/// Call names in the order the rendered table shows them.
fn dom_row_names(dom: &str) -> Vec<String> {
    let body = &dom[dom.find("<tbody>").expect("table body in the DOM")..];
    body.split("<tr")
        .skip(1)
        .map(|r| {
            let td = &r[r.find("<td>").expect("first cell") + 4..];
            let cell = &td[..td.find("</td>").unwrap()];
            // The name, without the link to the call's page around it.
            match (cell.find('>'), cell.rfind("</a>")) {
                (Some(a), Some(b)) if cell.starts_with("<a ") => cell[a + 1..b].to_string(),
                _ => cell.to_string(),
            }
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs chromium, apt-get install chromium (cargo test --all-features)"
)]
fn index_renders_and_sorts_in_chromium() {
    let bin = chromium();
    let root = temp_dir("browser");
    let dir = make_calls(&root);
    let out = root.join("report");
    qa(&dir, &out, &[]);
    let index = out.join("index.html").canonicalize().unwrap();
    let url = format!("file://{}", index.display());

    // The rows are in the rendered DOM, failed calls first.
    let o = chromium_run(&bin, &root.join("profile1"), &["--dump-dom"], &url);
    let dom = text(&o.stdout);
    let names = dom_row_names(&dom);
    assert_eq!(
        names.len(),
        5,
        "rows in the DOM: {names:?}\n{}",
        text(&o.stderr)
    );
    assert!(names[..2].contains(&"corrupt.wav".to_string()), "{names:?}");
    assert!(dom.contains("not a recording shoutcue can read"));

    // The inline script sorts: #sort=2 is the duration column, ascending.
    let o = chromium_run(
        &bin,
        &root.join("profile2"),
        &["--dump-dom"],
        &format!("{url}#sort=2"),
    );
    let dom = text(&o.stdout);
    assert!(
        dom.contains("aria-sort=\"ascending\""),
        "the script did not run"
    );
    let names = dom_row_names(&dom);
    assert_eq!(names.len(), 5);
    let (h, rows) = read_summary(&out);
    let mut expected: Vec<(f64, String)> = rows
        .iter()
        .map(|r| {
            let name = r[0].clone();
            (cell(&h, &rows, &name, "duration_s").parse().unwrap(), name)
        })
        .collect();
    expected.sort_by(|a, b| a.0.total_cmp(&b.0));
    let durations: Vec<f64> = names
        .iter()
        .map(|n| cell(&h, &rows, n, "duration_s").parse().unwrap())
        .collect();
    assert!(
        durations.windows(2).all(|w| w[0] <= w[1]),
        "not sorted by duration: {names:?} {durations:?}"
    );
    assert_eq!(names.last(), Some(&expected.last().unwrap().1));

    // A screenshot renders at the asked size.
    let shot = root.join("index.png");
    chromium_run(
        &bin,
        &root.join("profile3"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,800",
        ],
        &url,
    );
    assert_eq!(png_size(&shot), (1200, 800));

    // Filters: the error rows only (the rest hidden, still in the page).
    let o = chromium_run(
        &bin,
        &root.join("profile4"),
        &["--dump-dom"],
        &format!("{url}#status=error"),
    );
    let dom = text(&o.stdout);
    let body = &dom[dom.find("<tbody>").unwrap()..];
    let shown: Vec<&str> = body
        .split("<tr")
        .skip(1)
        .filter(|r| !r.split('>').next().unwrap_or("").contains("hidden"))
        .collect();
    assert_eq!(
        shown.len(),
        2,
        "rows shown for status=error: {}",
        shown.len()
    );
    assert!(shown.iter().all(|r| r.contains("data-status=\"error\"")));
    assert!(
        dom.contains("2 of 5 calls shown"),
        "the filter script did not run"
    );
    assert!(dom.contains("href=\"summary.csv\""));

    // A call's page: its recording to play (where it lies), the plot, the
    // note as HTML.
    let page = out
        .join("calls/monday/shouting.html")
        .canonicalize()
        .unwrap();
    let o = chromium_run(
        &bin,
        &root.join("profile5"),
        &["--dump-dom"],
        &format!("file://{}", page.display()),
    );
    let dom = text(&o.stdout);
    let src = dom
        .split("<audio")
        .nth(1)
        .and_then(|a| a.split("src=\"").nth(1))
        .and_then(|a| a.split('"').next())
        .expect("an audio element with a source");
    let heard = page.parent().unwrap().join(src).canonicalize().unwrap();
    assert_eq!(
        heard,
        dir.join("monday/shouting.wav").canonicalize().unwrap()
    );
    assert!(dom.contains("<h1>Incident note"), "note not rendered");
    assert!(dom.contains("shouting.png"));
    assert!(
        !out.join("calls/monday/shouting.wav").exists(),
        "the report copied audio"
    );
    std::fs::remove_dir_all(&root).ok();
}

/// A recorder that puts the customer on the left: `sustained_shout` with
/// its channels swapped, and its label track beside it.
fn swapped_call(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let src = fixture("sustained_shout.wav");
    let mut r = hound::WavReader::open(&src).unwrap();
    let spec = r.spec();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let dst = dir.join("left_customer.wav");
    let mut w = hound::WavWriter::create(&dst, spec).unwrap();
    for pair in s.chunks(2) {
        w.write_sample(pair[1]).unwrap();
        w.write_sample(pair[0]).unwrap();
    }
    w.finalize().unwrap();
    std::fs::copy(src.with_extension("txt"), dst.with_extension("txt")).unwrap();
    dst
}

#[test]
fn swapped_channels_are_warned_about_and_swap_channels_reads_them() {
    let root = temp_dir("swapped");
    let calls = root.join("calls");
    swapped_call(&calls);
    // Read as recorded: the shouting lands on the "agent" side; QA hides
    // it, so the call looks clean, but the report says why to doubt it.
    let out = root.join("as-is");
    let o = qa(&calls, &out, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (h, rows) = read_summary(&out);
    assert_eq!(cell(&h, &rows, "left_customer.wav", "shouting_s"), "0.000");
    let notes = cell(&h, &rows, "left_customer.wav", "notes");
    assert!(notes.contains("channels swapped"), "{notes}");
    assert!(
        text(&o.stderr).contains("--swap-channels"),
        "{}",
        text(&o.stderr)
    );
    // With the option, the customer's shouting is found and no warning.
    let out = root.join("swapped");
    let o = qa(&calls, &out, &["--swap-channels"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (h, rows) = read_summary(&out);
    let shout: f64 = cell(&h, &rows, "left_customer.wav", "shouting_s")
        .parse()
        .unwrap();
    assert!(shout > 1.0, "{shout}");
    assert!(!cell(&h, &rows, "left_customer.wav", "notes").contains("swapped"));
    // eval takes the same option: recall 0 as recorded, the shout found swapped.
    let recall = |extra: &[&str]| {
        let o = Command::new(BIN)
            .args(["eval", calls.to_str().unwrap(), "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["found"].as_f64().unwrap()
    };
    assert_eq!(recall(&[]), 0.0);
    assert!(recall(&["--swap-channels"]) >= 1.0);
}

/// A team's own script and model in batch review: `qa --script` writes the
/// German lines, and a row made with one script is redone with another;
/// `eval --model` scores the model it is given.
#[test]
fn qa_and_eval_take_the_teams_model_timing_and_script() {
    let root = temp_dir("setup");
    let dir = root.join("calls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("continued_shout.wav"), dir.join("heated.wav")).unwrap();
    let out = root.join("report");
    let de = shoutcue_testkit::repo_root().join("models/script-de.toml");
    let o = qa(&dir, &out, &["--script", de.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let events = std::fs::read_to_string(out.join("calls/heated.jsonl")).unwrap();
    assert!(
        events.contains("anschreien"),
        "German step 1 missing:\n{events}"
    );
    assert!(!events.contains("shouting at me"));

    // Same call, the default script: not "up to date", redone in English.
    let o = qa(&dir, &out, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("(0 skipped as up to date)"),
        "{}",
        text(&o.stdout)
    );
    let events = std::fs::read_to_string(out.join("calls/heated.jsonl")).unwrap();
    assert!(events.contains("shouting at me"), "{events}");
    // And again with nothing changed: skipped.
    let o = qa(&dir, &out, &[]);
    assert!(
        text(&o.stdout).contains("(1 skipped as up to date)"),
        "{}",
        text(&o.stdout)
    );

    // A model that can never decide: eval finds nothing with it, and the
    // built-in model finds the labelled shouting.
    std::fs::copy(fixture("continued_shout.txt"), dir.join("heated.txt")).unwrap();
    let mut m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(shoutcue_testkit::repo_root().join("models/shout-v1.json")).unwrap(),
    )
    .unwrap();
    // Weights zeroed and a very negative bias: its score stays near 0.
    for w in m["weights"].as_array_mut().unwrap() {
        *w = 0.0.into();
    }
    m["bias"] = (-50.0).into();
    let deaf = root.join("deaf.json");
    std::fs::write(&deaf, m.to_string()).unwrap();
    let eval = |extra: &[&str]| {
        let o = Command::new(BIN)
            .arg("eval")
            .arg(&dir)
            .arg("--json")
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    assert_eq!(eval(&["--model", deaf.to_str().unwrap()])["detected"], 0);
    assert!(eval(&[])["detected"].as_u64().unwrap() > 0);
    let _ = std::fs::remove_dir_all(&root);
}

/// `qa --manifest`: one recorder's export fixes one swapped call without
/// touching the others, names the agent and the start, and a bad row stops
/// the run by its line number before anything is analysed.
#[test]
fn a_manifest_sets_each_calls_channels_agent_start_and_labels() {
    let root = temp_dir("manifest");
    let calls = root.join("calls");
    swapped_call(&calls.join("sub"));
    std::fs::copy(
        fixture("sustained_shout.wav"),
        calls.join("right_customer.wav"),
    )
    .unwrap();
    let manifest = root.join("calls.csv");
    std::fs::write(
        &manifest,
        "Recording ID,file,agent_id,customer_channel,started_at,labels\n\
         9,sub/left_customer.wav,4711,left,2026-12-03T09:30:00Z,\"billing, case 7\"\n\
         10,right_customer.wav,4712,,,\n\
         11,not_here.wav,1,,,\n",
    )
    .unwrap();
    let out = root.join("report");
    let m = manifest.to_str().unwrap();
    let o = qa(&calls, &out, &["--manifest", m]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("manifest line 4: not_here.wav"), "{err}");
    assert!(
        !err.contains("--swap-channels"),
        "the manifest said which side: {err}"
    );
    let (h, rows) = read_summary(&out);
    for name in ["sub/left_customer.wav", "right_customer.wav"] {
        let shout: f64 = cell(&h, &rows, name, "shouting_s").parse().unwrap();
        assert!(shout > 1.0, "{name}: {shout}");
    }
    assert_eq!(cell(&h, &rows, "sub/left_customer.wav", "agent_id"), "4711");
    assert_eq!(
        cell(&h, &rows, "sub/left_customer.wav", "labels"),
        "billing, case 7"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("<th scope=\"col\">agent</th>") && index.contains("<td>4712</td>"));
    let page = std::fs::read_to_string(out.join("calls/sub/left_customer.html")).unwrap();
    assert!(page.contains("Agent 4711 · billing, case 7"), "{page}");
    let note = std::fs::read_to_string(out.join("calls/sub/left_customer.md")).unwrap();
    assert!(note.contains("2026-12-03T09:30:00Z"), "{note}");

    // The same again: up to date. Another agent id on one row: that call is redone.
    let o = qa(&calls, &out, &["--manifest", m]);
    assert!(
        text(&o.stdout).contains("(2 skipped as up to date)"),
        "{}",
        text(&o.stdout)
    );
    let edited = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("4712", "4713");
    std::fs::write(&manifest, edited).unwrap();
    let o = qa(&calls, &out, &["--manifest", m]);
    assert!(
        text(&o.stdout).contains("(1 skipped as up to date)"),
        "{}",
        text(&o.stdout)
    );
    let (h, rows) = read_summary(&out);
    assert_eq!(cell(&h, &rows, "right_customer.wav", "agent_id"), "4713");

    // A bad row: the run stops before any call, naming the line.
    std::fs::write(
        &manifest,
        "file,customer_channel\nright_customer.wav,middle\n",
    )
    .unwrap();
    let fresh = root.join("report2");
    let o = qa(&calls, &fresh, &["--manifest", m]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("calls.csv") && err.contains("line 2 (right_customer.wav): customer_channel"),
        "{err}"
    );
    assert!(!fresh.join("index.html").exists());
    std::fs::remove_dir_all(&root).ok();
}
