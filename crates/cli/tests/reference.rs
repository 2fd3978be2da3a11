//! shoutcue against outside references: Praat's pitch and BS.1770 loudness.
//!
//! The reference data in `tests/reference/` was made by
//! `tools/reference/praat_reference.py` (see `tests/reference/README.md`) on 24 EmoDB
//! clips chosen by rule (per speaker, the first neutral, anger, happiness and
//! sadness clip by file name). The pitch tracker's costs were tuned on
//! speakers 03, 08, 10 and 13 (`crates/core/examples/pitch_tune.rs`), so besides the pooled
//! figures the held-out speakers 09 and 11 are checked on their own.
//!
//! Full-band clips are read from `../shared/data/emodb` (or `$SHOUTCUE_EMODB`);
//! the full-band and loudness tests are ignored, with what they need, unless
//! `--features outside-tests` (CI runs every feature).
//! `cargo test --test reference -- --nocapture` prints the figures.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A frame is a gross pitch error if it is further than this from Praat (relative).
const GROSS_RELATIVE: f64 = 0.20;
/// A Praat frame is matched to the shoutcue frame with the nearest t within this.
const MAX_DT_S: f64 = 0.005;
const MAX_GPE_FULL: f64 = 0.03;
const MIN_VOICING_AGREEMENT: f64 = 0.90;
const MAX_GPE_TELEPHONE: f64 = 0.06;
const MAX_LOUDNESS_GAP_LU: f64 = 0.5;
/// Speakers the pitch settings were never tuned on.
const HELD_OUT: [&str; 2] = ["09", "11"];
/// Clips in the reference subset: 6 speakers x 4 emotions.
const CLIPS: usize = 24;

fn reference_dir() -> PathBuf {
    shoutcue_testkit::repo_root().join("tests/reference")
}

/// Data rows of one of our reference CSVs, `#` comment lines and the header
/// skipped. Hand-split rather than pulling in a CSV crate: these files are our
/// own, with plain file names and numbers, no quoting.
fn reference_rows(name: &str, header: &str) -> Vec<Vec<String>> {
    let path = reference_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    assert_eq!(
        lines.next(),
        Some(header),
        "{}: unexpected header",
        path.display()
    );
    lines
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
        .inspect(|r| {
            assert_eq!(
                r.len(),
                header.split(',').count(),
                "{}: bad row {r:?}",
                path.display()
            )
        })
        .collect()
}

fn num(s: &str, what: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|e| panic!("{what}: {s:?} is not a number: {e}"))
}

/// Praat frames per clip, in file order: (t, f0 with 0 = unvoiced).
fn praat_pitch() -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut clips: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in reference_rows("praat_pitch.csv", "file,t,f0_hz") {
        let frame = (num(&r[1], "praat t"), num(&r[2], "praat f0"));
        clips.entry(r[0].clone()).or_default().push(frame);
    }
    assert_eq!(
        clips.len(),
        CLIPS,
        "praat_pitch.csv should cover the 24-clip subset"
    );
    clips
}

fn run_shoutcue(args: &[&str], file: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_shoutcue"))
        .args(args)
        .arg(file)
        .output()
        .expect("shoutcue binary runs");
    assert!(
        out.status.success(),
        "shoutcue {} {} failed: {}",
        args.join(" "),
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("shoutcue prints UTF-8")
}

/// shoutcue's per-hop (t, f0) for one file, via `features --format csv`.
fn shoutcue_pitch(file: &Path) -> Vec<(f64, f64)> {
    let csv = run_shoutcue(&["features", "--format", "csv"], file);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header line").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("{}: no {name} column in {header:?}", file.display()))
    };
    let (ti, fi) = (col("t"), col("f0_hz"));
    lines
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            assert_eq!(
                v.len(),
                header.len(),
                "{}: ragged row {l:?}",
                file.display()
            );
            (num(v[ti], "shoutcue t"), num(v[fi], "shoutcue f0"))
        })
        .collect()
}

/// Counts pooled over clips.
#[derive(Default, Clone, Copy)]
struct PitchScore {
    frames: usize,
    voicing_agree: usize,
    both_voiced: usize,
    gross: usize,
}

impl PitchScore {
    /// Matches each Praat frame to the nearest shoutcue frame; every Praat
    /// frame must find one within 5 ms, else the frame times are off.
    fn add(&mut self, clip: &str, praat: &[(f64, f64)], ours: &[(f64, f64)]) {
        assert!(!ours.is_empty(), "{clip}: shoutcue printed no frames");
        for &(t, f_ref) in praat {
            let i = ours.partition_point(|&(u, _)| u < t);
            let best = [i.saturating_sub(1), i.min(ours.len() - 1)]
                .into_iter()
                .min_by(|&a, &b| (ours[a].0 - t).abs().total_cmp(&(ours[b].0 - t).abs()))
                .expect("two candidates");
            let (u, f) = ours[best];
            assert!(
                (u - t).abs() <= MAX_DT_S + 1e-9,
                "{clip}: Praat frame t={t:.3} has no shoutcue frame within 5 ms (nearest t={u:.3})"
            );
            self.frames += 1;
            let (pv, ov) = (f_ref > 0.0, f > 0.0);
            self.voicing_agree += usize::from(pv == ov);
            if pv && ov {
                self.both_voiced += 1;
                self.gross += usize::from((f - f_ref).abs() / f_ref > GROSS_RELATIVE);
            }
        }
    }

    fn merge(&mut self, o: PitchScore) {
        self.frames += o.frames;
        self.voicing_agree += o.voicing_agree;
        self.both_voiced += o.both_voiced;
        self.gross += o.gross;
    }

    fn gpe(&self) -> f64 {
        self.gross as f64 / self.both_voiced as f64
    }

    fn voicing(&self) -> f64 {
        self.voicing_agree as f64 / self.frames as f64
    }

    fn print(&self, label: &str) {
        println!(
            "{label:28} frames {:5}  both voiced {:5}  GPE {:5.2}%  voicing agreement {:5.2}%",
            self.frames,
            self.both_voiced,
            100.0 * self.gpe(),
            100.0 * self.voicing()
        );
    }
}

/// Scores every reference clip read from `dir`: (all speakers, held-out speakers).
fn score(dir: &Path, label: &str) -> (PitchScore, PitchScore) {
    let (mut all, mut held_out) = (PitchScore::default(), PitchScore::default());
    for (clip, praat) in praat_pitch() {
        let path = dir.join(&clip);
        assert!(path.is_file(), "{}: reference clip missing", path.display());
        let mut s = PitchScore::default();
        s.add(&clip, &praat, &shoutcue_pitch(&path));
        all.merge(s);
        if HELD_OUT.iter().any(|h| clip.starts_with(h)) {
            held_out.merge(s);
        }
    }
    all.print(&format!("{label}, all 6 speakers"));
    held_out.print(&format!("{label}, held-out 09 11"));
    assert!(
        all.both_voiced > 500,
        "{label}: too few voiced frames to judge"
    );
    (all, held_out)
}

#[test]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs EmoDB at ../shared/data/emodb or $SHOUTCUE_EMODB (cargo test --all-features)"
)]
fn full_band_pitch_agrees_with_praat() {
    let emodb = shoutcue_testkit::emodb();
    let (all, held_out) = score(&emodb, "full band");
    for (s, who) in [(all, "all speakers"), (held_out, "held-out speakers")] {
        assert!(
            s.gpe() <= MAX_GPE_FULL,
            "full band, {who}: gross pitch error {:.2}% > {:.0}%",
            100.0 * s.gpe(),
            100.0 * MAX_GPE_FULL
        );
        assert!(
            s.voicing() >= MIN_VOICING_AGREEMENT,
            "full band, {who}: voicing agreement {:.2}% < {:.0}%",
            100.0 * s.voicing(),
            100.0 * MIN_VOICING_AGREEMENT
        );
    }
}

#[test]
fn telephone_pitch_agrees_with_praat_on_clean_originals() {
    let (all, held_out) = score(&reference_dir().join("telephone"), "telephone mu-law");
    for (s, who) in [(all, "all speakers"), (held_out, "held-out speakers")] {
        assert!(
            s.gpe() <= MAX_GPE_TELEPHONE,
            "telephone, {who}: gross pitch error {:.2}% > {:.0}% against Praat on the clean clips",
            100.0 * s.gpe(),
            100.0 * MAX_GPE_TELEPHONE
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs EmoDB at ../shared/data/emodb or $SHOUTCUE_EMODB (cargo test --all-features)"
)]
fn loudness_agrees_with_bs1770_reference() {
    let emodb = shoutcue_testkit::emodb();
    let rows = reference_rows("loudness.csv", "file,speaker,emotion,lufs_orig,lufs_8k");
    assert_eq!(
        rows.len(),
        CLIPS,
        "loudness.csv should cover the 24-clip subset"
    );
    let (mut worst, mut sum_8k, mut sum_full) = (0.0f64, 0.0, 0.0);
    let mut failures = Vec::new();
    for r in &rows {
        let path = emodb.join(&r[0]);
        let json = run_shoutcue(&["loudness"], &path);
        let v: serde_json::Value = serde_json::from_str(json.trim())
            .unwrap_or_else(|e| panic!("{}: loudness output {json:?} is not JSON: {e}", r[0]));
        let ours = v["integrated_lufs"]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: no numeric integrated_lufs in {json:?}", r[0]));
        let (full, at_8k) = (num(&r[3], "lufs_orig"), num(&r[4], "lufs_8k"));
        let gap = ours - at_8k;
        worst = worst.max(gap.abs());
        sum_8k += gap;
        sum_full += ours - full;
        if gap.abs() > MAX_LOUDNESS_GAP_LU {
            failures.push(format!(
                "{}: {ours:.2} LUFS vs {at_8k:.2} (gap {gap:+.2} LU)",
                r[0]
            ));
        }
    }
    let n = rows.len() as f64;
    println!(
        "loudness vs pyloudnorm at 8 kHz: mean gap {:+.3} LU, worst |gap| {worst:.3} LU ({} clips)",
        sum_8k / n,
        rows.len()
    );
    println!(
        "loudness vs pyloudnorm full band (what the 8 kHz band costs): mean gap {:+.3} LU",
        sum_full / n
    );
    assert!(
        failures.is_empty(),
        "integrated loudness more than {MAX_LOUDNESS_GAP_LU} LU from BS.1770 at 8 kHz:\n{}",
        failures.join("\n")
    );
}
