#!/usr/bin/env python3
"""Compares shoutcue against outside references on all of EmoDB.

    .venv/bin/python tools/reference/compare_reference.py [--subset] [--bin PATH] [--worst N]

For every EmoDB clip (or only the 24-clip reference subset with --subset):
  * pitch: Praat "To Pitch (ac)" (floor 75, ceiling 600, step 10 ms, other
    defaults) computed live on the clean original is the reference. Each Praat
    frame is matched to the shoutcue frame with the nearest t (|dt| <= 5 ms).
    Full band = the original 22.05 kHz file; telephone = the same clip
    band-limited to 300-3400 Hz, 8 kHz, G.711 mu-law (made in a temp dir),
    still scored against Praat on the clean original.
    GPE = share of frames voiced by both with |f0 - praat| / praat > 20 %;
    voicing agreement = share of frames where both agree voiced/unvoiced;
    fine error = median |f0 - praat| / praat on the gross-correct frames.
  * loudness: `shoutcue loudness` vs pyloudnorm (BS.1770-4) of the original
    resampled to 8 kHz (asserted) and of the original itself (printed).

Prints per speaker and pooled figures; exits 1 if a threshold fails:
full-band GPE <= 3 %, voicing agreement >= 90 %, telephone GPE <= 6 %,
every clip's loudness within 0.5 LU of the 8 kHz reference.
The shoutcue binary is target/release/shoutcue (built if missing; honours
CARGO_TARGET_DIR) unless --bin or $SHOUTCUE_BIN says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

import refcommon as r

# Speakers crates/core/examples/pitch_tune.rs never tuned the pitch costs on.
HELD_OUT = ("09", "11")


def against_praat(exe, path, pt, pf0):
    """shoutcue's pitch track of `path` matched frame by frame to Praat's (pt, pf0)."""
    ours = r.shoutcue_features(exe, path)
    m = r.match_frames(pt, pf0, ours["t"], ours["f0_hz"])
    stats = r.PitchStats.empty()
    stats.add(m)
    return m, stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", action="store_true", help="only the 24 reference clips")
    ap.add_argument("--bin", type=Path, help="shoutcue binary to test")
    ap.add_argument("--worst", type=int, default=5, help="list the N worst clips per check")
    args = ap.parse_args()
    if args.bin:
        os.environ["SHOUTCUE_BIN"] = str(args.bin)
    exe = r.shoutcue_bin()
    src = r.emodb_dir()
    clips = r.load_labels(src)
    if args.subset:
        clips = r.reference_subset(clips)
    missing = [c.file for c in clips if not (src / c.file).is_file()]
    if missing:
        print(f"EmoDB clips listed in labels.csv but missing: {missing[:5]}", file=sys.stderr)
        return 1

    full = defaultdict(r.PitchStats.empty)  # speaker -> stats; "all" pooled
    tel = defaultdict(r.PitchStats.empty)
    praat_tel = r.PitchStats.empty()  # yardstick: Praat itself on the phone-line copy
    per_clip = []  # (file, gpe_full, voicing_full, gpe_tel)
    loud = []  # (file, speaker, ours, ref_8k, ref_orig, ref_8k_deman)
    unmatched = 0
    with tempfile.TemporaryDirectory(prefix="shoutcue-ref-") as tmp:
        for n, c in enumerate(clips, 1):
            path = src / c.file
            pt, pf0 = r.praat_pitch(path)

            m, s_full = against_praat(exe, path, pt, pf0)
            unmatched += m.unmatched

            x, rate = r.read_mono(path)
            tel_path = Path(tmp) / c.file
            r.write_mulaw_wav(tel_path, r.telephone(x, rate))
            mt, s_tel = against_praat(exe, tel_path, pt, pf0)
            unmatched += mt.unmatched
            tt, tf0 = r.praat_pitch(tel_path)
            praat_tel.add(r.match_frames(pt, pf0, tt, tf0))
            tel_path.unlink()

            group = "held-out" if c.speaker in HELD_OUT else "dev"
            for key in (c.speaker, group, "all"):
                full[key].merge(s_full)
                tel[key].merge(s_tel)
            per_clip.append((c.file, s_full.gpe, s_full.voicing, s_tel.gpe))

            loud.append((
                c.file,
                c.speaker,
                r.shoutcue_loudness(exe, path),
                r.integrated_lufs(r.to_8k(x, rate), r.TEL_RATE),
                r.integrated_lufs(x, rate),
                r.integrated_lufs(r.to_8k(x, rate), r.TEL_RATE, design="DeMan"),
            ))
            if n % 50 == 0:
                print(f"  {n}/{len(clips)} clips", file=sys.stderr)

    groups = ("dev", "held-out", "all")
    speakers = sorted(k for k in full if k not in groups) + [g for g in groups if g in full]
    print(f"shoutcue vs Praat to_pitch_ac on {len(clips)} EmoDB clips ({exe})")
    print(f"{'speaker':8s} {'frames':>7s} {'bothV':>6s} {'GPE%':>6s} {'Vagree%':>8s} "
          f"{'fine%':>6s} {'praatV':>7s} {'oursV':>6s} | {'telGPE%':>8s} {'telVagr%':>9s} {'telfine%':>9s}")
    for k in speakers:
        f, t = full[k], tel[k]
        print(f"{k:8s} {f.frames:7d} {f.both_voiced:6d} {100 * f.gpe:6.2f} {100 * f.voicing:8.2f} "
              f"{f.fine_pct:6.2f} {f.praat_voiced:7d} {f.ours_voiced:6d} | {100 * t.gpe:8.2f} "
              f"{100 * t.voicing:9.2f} {t.fine_pct:9.2f}")
    print(f"yardstick: Praat on the telephone copies vs Praat clean: GPE {100 * praat_tel.gpe:.2f}%  "
          f"voicing agreement {100 * praat_tel.voicing:.2f}%  fine {praat_tel.fine_pct:.2f}%")
    print(f"(dev = speakers the pitch costs were tuned on, 03 08 10 13; held-out = {' '.join(HELD_OUT)})")
    if unmatched:
        print(f"note: {unmatched} Praat frames had no shoutcue frame within 5 ms (skipped)")

    gaps_8k = np.array([o - ref8 for _, _, o, ref8, *_ in loud])
    gaps_orig = np.array([o - orig for _, _, o, _, orig, _ in loud])
    gaps_deman = np.array([o - dm for _, _, o, *_, dm in loud])
    print("\nloudness: shoutcue - pyloudnorm (LU)")
    by_spk = defaultdict(list)
    for (_, spk, *_), g8, go in zip(loud, gaps_8k, gaps_orig):
        by_spk[spk].append((g8, go))
    for spk in sorted(by_spk) + ["all"]:
        v = np.array(by_spk[spk] if spk != "all" else list(zip(gaps_8k, gaps_orig)))
        print(f"{spk:8s} vs 8 kHz ref: mean {v[:, 0].mean():+.3f}  max|.| {np.abs(v[:, 0]).max():.3f}"
              f"   vs full band: mean {v[:, 1].mean():+.3f}  max|.| {np.abs(v[:, 1]).max():.3f}")

    print(f"(not asserted) vs the De Man / libebur128 K-filter design at 8 kHz: mean {gaps_deman.mean():+.3f}"
          f"  max|.| {np.abs(gaps_deman).max():.3f} LU")

    w = args.worst
    if w:
        print(f"\nworst {w} clips, full-band GPE:")
        for f, g, v, _ in sorted(per_clip, key=lambda p: -np.nan_to_num(p[1]))[:w]:
            print(f"  {f}  GPE {100 * g:5.1f}%  Vagree {100 * v:5.1f}%")
        print(f"worst {w} clips, voicing agreement:")
        for f, g, v, _ in sorted(per_clip, key=lambda p: p[2])[:w]:
            print(f"  {f}  Vagree {100 * v:5.1f}%  GPE {100 * g:5.1f}%")
        print(f"worst {w} clips, telephone GPE:")
        for f, _, _, gt in sorted(per_clip, key=lambda p: -np.nan_to_num(p[3]))[:w]:
            print(f"  {f}  telGPE {100 * gt:5.1f}%")
        print(f"worst {w} clips, loudness vs 8 kHz ref:")
        for i in np.argsort(-np.abs(gaps_8k))[:w]:
            print(f"  {loud[i][0]}  ours {loud[i][2]:7.2f}  ref8k {loud[i][3]:7.2f}  gap {gaps_8k[i]:+.2f}")

    a, ta = full["all"], tel["all"]
    failures = []
    if not a.gpe <= r.MAX_GPE_FULL:
        failures.append(f"full-band GPE {100 * a.gpe:.2f}% > {100 * r.MAX_GPE_FULL:.0f}%")
    if not a.voicing >= r.MIN_VOICING_AGREEMENT:
        failures.append(f"voicing agreement {100 * a.voicing:.2f}% < {100 * r.MIN_VOICING_AGREEMENT:.0f}%")
    if not ta.gpe <= r.MAX_GPE_TELEPHONE:
        failures.append(f"telephone GPE {100 * ta.gpe:.2f}% > {100 * r.MAX_GPE_TELEPHONE:.0f}%")
    bad_loud = int((np.abs(gaps_8k) > r.MAX_LOUDNESS_GAP_LU).sum())
    if bad_loud or not np.all(np.isfinite(gaps_8k)):
        failures.append(f"{bad_loud} clips with loudness > {r.MAX_LOUDNESS_GAP_LU} LU from the 8 kHz reference")
    print()
    if failures:
        for f in failures:
            print(f"FAIL: {f}")
        return 1
    print("PASS: all reference thresholds met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
