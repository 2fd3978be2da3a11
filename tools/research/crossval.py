#!/usr/bin/env python3
"""Speaker-fold cross-validation of `shoutcue train`: a steadier figure than
one held-out split of two speakers.

The six EmoDB speakers are split into three folds of two (03+08, 10+13,
09+11). For each fold the model is trained, with the real `shoutcue train`,
on the other four speakers' calls in every variant, then scored with
`shoutcue eval` on the fold's calls and on the calm asterisk prompts.
Counts are pooled over the folds, so each variant's F1 rests on 72 shout
spans instead of 24. Folders of symlinks go to out/cv/ (gitignored).

Needs out/eval from tools/data/make_calls.py (--only eval and --only asterisk)
and a release build.

    python3 tools/research/crossval.py [--init MODEL] [--train-variants clean,agc,...] [--cues f0_st,tilt_db,...]
        [--floors clean=0.90,agc=0.62]   # exit 1 if a pooled F1 falls below its floor
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

FOLDS = [("03", "08"), ("10", "13"), ("09", "11")]
VARIANTS = ["clean", "agc", "mulaw8k", "noisy", "levels", "peak", "step", "webrtc_agc", "speex_agc", "voice_up", "voice_down"]
COUNTS = ["labelled", "found", "detected", "correct", "false_cues", "hours"]


def make_folds(eval_dir: Path, out: Path) -> None:
    for k, test in enumerate(FOLDS):
        for v in VARIANTS:
            for f in sorted(eval_dir.glob(f"*/{v}/*")):
                if f.suffix not in (".wav", ".txt"):
                    continue
                part = "test" if f.name[:2] in test else "train"
                dst = out / f"f{k}" / part / v / f.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                if not dst.exists():
                    dst.symlink_to(f.resolve())


def median(v: list[float]) -> float:
    """Same rule as `shoutcue eval`: the element at round((n - 1) / 2)."""
    if not v:
        return float("nan")
    s = sorted(v)
    return s[int((len(s) - 1) * 0.5 + 0.5)]


def run_json(cmd: list[str]) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", default="out/eval", type=Path)
    ap.add_argument("--out", default="out/cv", type=Path)
    ap.add_argument("--bin", default="target/release/shoutcue")
    ap.add_argument("--init", default="models/init/shout-v1-2026-11-22.json",
                    help="model to start from (train --init; default: the one the shipped model was trained from)")
    ap.add_argument("--cues", help="cues the model may weigh (train --cues)")
    ap.add_argument("--calm", default="out/eval/calm/en,out/eval/calm/fr",
                    help="calm-voice folders for the cold start (train --calm), comma-separated; "
                         "the shipped model's (tools/data/make_calm.py); '' for none")
    ap.add_argument("--floors", default="",
                    help="VARIANT=F1,...: fail (exit 1) when a variant's pooled F1 is below its floor")
    ap.add_argument("--train-variants", default="clean,agc,mulaw8k,noisy,levels,peak",
                    help="variants to train on, comma-separated (default: the six the shipped model was trained on)")
    a = ap.parse_args()
    if not (a.eval / "asterisk").is_dir():
        sys.exit(f"{a.eval}: no eval sets; run tools/data/make_calls.py --only eval and --only asterisk")
    make_folds(a.eval, a.out)
    agg = {v: dict.fromkeys(COUNTS, 0.0) for v in VARIANTS + ["asterisk"]}
    lat: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for k in range(len(FOLDS)):
        model = a.out / f"model_f{k}.json"
        train_on = a.train_variants.split(",")
        cmd = [a.bin, "train", *[str(a.out / f"f{k}" / "train" / v) for v in train_on], "--out", str(model)]
        if a.init:
            cmd += ["--init", a.init]
        if a.cues:
            cmd += ["--cues", a.cues]
        for d in filter(None, a.calm.split(",")):
            if not Path(d).is_dir():
                sys.exit(f"--calm: {d}: not a folder (run tools/data/make_calm.py)")
            cmd += ["--calm", d]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"fold {k}: train failed:\n{r.stderr}")
        for v in VARIANTS:
            j = run_json([a.bin, "eval", str(a.out / f"f{k}" / "test" / v), "--model", str(model), "--json"])
            for c in COUNTS:
                agg[v][c] += j[c]
            lat[v] += j["latencies_s"]
        j = run_json([a.bin, "eval", str(a.eval / "asterisk"), "--model", str(model), "--json"])
        for c in COUNTS:
            agg["asterisk"][c] += j[c]
    floors = {}
    for item in filter(None, a.floors.split(",")):
        name, _, value = item.partition("=")
        if name not in VARIANTS or not value:
            sys.exit(f"--floors: expected VARIANT=F1 with a variant of {', '.join(VARIANTS)}, got {item!r}")
        floors[name] = float(value)
    print(f"speaker folds {', '.join('+'.join(f) for f in FOLDS)}; counts pooled over the folds")
    failed = []
    for v in VARIANTS:
        s = agg[v]
        p = s["correct"] / s["detected"] if s["detected"] else 1.0
        r = s["found"] / s["labelled"] if s["labelled"] else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        print(f"  {v:8s} F1 {f1:.3f}  P {p:.3f}  R {r:.3f}  spans {int(s['labelled'])}  "
              f"false cues {s['false_cues'] / s['hours']:.1f}/h  latency p50 {median(lat[v]):.2f} s")
        if v in floors and f1 < floors[v]:
            failed.append(f"{v} F1 {f1:.3f} < floor {floors[v]:.3f}")
    s = agg["asterisk"]
    print(f"  asterisk calm prompts: {int(s['false_cues'])} false cues in {len(FOLDS)} models x "
          f"{s['hours'] / len(FOLDS) * 60:.1f} min ({s['false_cues'] / s['hours']:.2f}/h)")
    for f in failed:
        print(f"crossval: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
