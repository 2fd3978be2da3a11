#!/usr/bin/env python3
"""Per sentence, how well does each of the detector's cues tell anger apart?

Runs the real detector (`crates/lab/examples/score_dump.rs`) over the evaluation calls
with the speaker-fold models that `tools/research/crossval.py` leaves in out/cv/,
so every call is scored by a model that never saw its speaker. For each
sentence of the call (from out/eval/manifest.json) it takes the median of
each smoothed cue over the voiced hops, and the peak score, then prints the
AUC of anger against all other sentences and against happiness alone.

    cargo build --release --example score_dump
    python3 tools/research/crossval.py
    python3 tools/research/utterance_cues.py [--variants clean,agc,mulaw8k]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from level_free_ceiling import auc  # same Mann-Whitney AUC as the ceiling figures

FOLDS = [("03", "08"), ("10", "13"), ("09", "11")]
CUES = ["f0_st", "tilt_db", "centroid_st", "level_db"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", default="out/eval", type=Path)
    ap.add_argument("--cv", default="out/cv", type=Path, help="where crossval.py left model_f0..2.json")
    ap.add_argument("--bin", default="target/release/examples/score_dump")
    ap.add_argument("--variants", default="clean,agc,mulaw8k")
    a = ap.parse_args()
    man = json.loads((a.eval / "manifest.json").read_text())
    models = [a.cv / f"model_f{k}.json" for k in range(len(FOLDS))]
    for m in models + [Path(a.bin)]:
        if not m.exists():
            sys.exit(f"{m}: missing; run tools/research/crossval.py and cargo build --release --example score_dump")
    utts = {Path(c["path"]).name: c["utterances"] for c in man["calls"] if "utterances" in c}
    print("AUC of anger against every other sentence / against happiness; per-sentence medians "
          "over voiced hops, peak for the score; fold models (speaker never seen)")
    print(f"{'variant':8s} {'sentences':>9s}  " + "  ".join(f"{c:>13s}" for c in ["score"] + CUES))
    for variant in a.variants.split(","):
        rows = []
        for c in man["calls"]:
            if c["variant"] != variant:
                continue
            fold = next(k for k, f in enumerate(FOLDS) if c["speaker"] in f)
            out = subprocess.run([a.bin, str(models[fold]), str(a.eval / c["path"])],
                                 capture_output=True, text=True, check=True).stdout
            h = np.genfromtxt(io.StringIO(out), delimiter=",", names=True)
            for u in utts[Path(c["path"]).name]:
                m = (h["t"] >= u["start"]) & (h["t"] <= u["end"]) & (h["voiced"] == 1)
                if m.sum() < 5:
                    continue
                rows.append((u["emotion"], h["score"][m].max(), *[np.median(h[k][m]) for k in CUES]))
        emo = np.array([r[0] for r in rows])
        x = np.array([r[1:] for r in rows], dtype=float)
        y = emo == "anger"
        hap = y | (emo == "happiness")
        cells = [f"{auc(y, x[:, j]):.2f} / {auc(y[hap], x[hap, j]):.2f}" for j in range(x.shape[1])]
        print(f"{variant:8s} {len(rows):9d}  " + "  ".join(f"{s:>13s}" for s in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
