#!/usr/bin/env python3
"""CREMA-D as telephone calls: training renders and cold-start evaluation calls.

CREMA-D (Cao et al. 2014; ODbL 1.0 / DbCL 1.0, see ../shared/data/crema-d)
has its levels as recorded, so a raised voice is defined on the studio
recording, as the outside evaluation does: a clip at least RAISED_DB above
the same actor's neutral median active level. Calm clips are those under
CALM_DB above it. Clips in between are left out of training.

Actors are split once, by sorted id: every fourth (``actors[3::4]``) is held
out and never trained on; the rest train (and are cross-validated by actor
in tools/research/train_cold.py).

Writes, under --out (default out/cremad):

* ``train/{mulaw,agc}_<actor>.wav``: every clip of the actor in a random
  order with 0.8 s gaps, each at a random line gain (-12 to +6 dB), 8 kHz
  mu-law; ``agc`` puts the same audio through WebRTC's AGC first.
  ``train/clips.json`` says where each clip is, with its level rise.
* ``calls/{mulaw,agc}/<actor>_<kind><n>.wav`` with Audacity labels
  (``shout`` on each raised clip's speech), held-out actors only, one line
  gain per call (-12 to +6 dB):
  ``open``: two raised anger clips, three neutral, one raised anger, one
  neutral (a caller who comes in shouting, calms, shouts again);
  ``calmstart``: three neutral, raised anger, two neutral, raised anger;
  ``calm``: six neutral (any cue is false).
* ``calls/other_{mulaw,agc}/``: three neutral then a raised happy or
  fearful clip, labelled: how often those are cued (no goal).

    .venv/bin/python tools/data/make_cremad.py [--crema ../shared/data/crema-d] [--out out/cremad]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calls import audio  # noqa: E402

RATE = 8000
RAISED_DB = 10.0
CALM_DB = 3.0
GAIN_DB = (-12.0, 6.0)
#: Into the AGC at a lower level than the line, so it has gain to apply.
AGC_IN = 0.3


def heldout(actors: list[str]) -> set[str]:
    return set(sorted(actors)[3::4])


def active_level(x: np.ndarray, rate: int) -> float:
    """Mean power of the 10 ms frames within 30 dB of the loudest, dB."""
    h = int(0.01 * rate)
    n = len(x) // h
    e = np.mean(x[: n * h].reshape(n, h) ** 2, axis=1)
    db = 10 * np.log10(e + 1e-20)
    return float(10 * np.log10(np.mean(e[db > db.max() - 30]) + 1e-20))


def read_clips(root: Path) -> dict[str, list[dict]]:
    rows = list(csv.DictReader(open(root / "labels.csv")))
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        x, rate = sf.read(root / r["file"])
        if x.ndim > 1:
            x = x[:, 0]
        r["level"] = active_level(x, rate)
        by[r["actor"]].append(r)
    for clips in by.values():
        neu = float(np.median([c["level"] for c in clips if c["emotion"] == "NEU"]))
        for c in clips:
            c["rise"] = c["level"] - neu
    return by


def load8k(root: Path, c: dict) -> np.ndarray:
    x, rate = sf.read(root / c["file"])
    if x.ndim > 1:
        x = x[:, 0]
    return audio.resample(x, rate, RATE)


def render(z: np.ndarray, path_mulaw: Path, path_agc: Path) -> None:
    audio.write_mulaw_wav(path_mulaw, np.clip(z, -1, 1), RATE)
    w = audio.real_agc(np.clip(z, -1, 1) * AGC_IN, RATE, "webrtc")
    audio.write_mulaw_wav(path_agc, np.clip(w, -1, 1), RATE)


def train_actor(args) -> list[dict]:
    root, out, actor, clips = args
    rng = np.random.default_rng(int(actor))
    order = list(clips)
    rng.shuffle(order)
    gap = np.zeros(int(0.8 * RATE))
    xs, meta, t = [], [], 0.0
    for c in order:
        y = load8k(root, c) * audio.db_to_gain(rng.uniform(*GAIN_DB))
        meta.append({k: c[k] for k in ("file", "actor", "sex", "emotion", "intensity", "level", "rise")}
                    | {"t0": t, "t1": t + len(y) / RATE})
        xs += [y, gap]
        t += (len(y) + len(gap)) / RATE
    render(np.concatenate(xs), out / f"mulaw_{actor}.wav", out / f"agc_{actor}.wav")
    return meta


def call_actor(args) -> int:
    root, out, actor, clips = args
    rng = np.random.default_rng(int(actor) + 7)
    raised = [c for c in clips if c["emotion"] == "ANG" and c["rise"] >= RAISED_DB]
    neutral = [c for c in clips if c["emotion"] == "NEU"]
    other = [c for c in clips if c["emotion"] in ("HAP", "FEA") and c["rise"] >= RAISED_DB]
    if not raised or len(neutral) < 6:
        return 0
    rng.shuffle(raised)
    rng.shuffle(neutral)
    pick = {"r": 0, "n": 0}

    def take(kind: str) -> dict:
        pool = raised if kind == "r" else neutral
        c = pool[pick[kind] % len(pool)]
        pick[kind] += 1
        return c

    plans = []
    for n in range(2):
        plans.append((f"open{n}", "rrnnnrn"))
        plans.append((f"calmstart{n}", "nnnrnnr"))
        plans.append((f"calm{n}", "nnnnnn"))
    for n, c in enumerate(other[:2]):
        plans.append((f"other{n}", c))
    written = 0
    for name, plan in plans:
        items = [("r", plan)] if isinstance(plan, dict) else [(k, take(k)) for k in plan]
        if isinstance(plan, dict):
            items = [("n", take("n")) for _ in range(3)] + [("r", plan)]
        xs, spans, t = [np.zeros(int(0.5 * RATE))], [], 0.5
        for k, c in items:
            y = load8k(root, c)
            if k == "r":
                a, b = audio.gate_bounds(y, RATE)
                spans.append((t + a / RATE, t + b / RATE, "shout"))
            gap = np.zeros(int(rng.uniform(0.6, 1.2) * RATE))
            xs += [y, gap]
            t += (len(y) + len(gap)) / RATE
        z = np.concatenate(xs) * audio.db_to_gain(rng.uniform(*GAIN_DB))
        sub = "other_" if name.startswith("other") else ""
        paths = [out / f"{sub}{r}" / f"{actor}_{name}.wav" for r in ("mulaw", "agc")]
        render(z, *paths)
        for p in paths:
            audio.write_labels(p.with_suffix(".txt"), spans)
        written += 1
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crema", type=Path, default=Path("../shared/data/crema-d"))
    ap.add_argument("--out", type=Path, default=Path("out/cremad"))
    a = ap.parse_args()
    if not (a.crema / "labels.csv").exists():
        print(f"make_cremad: {a.crema}/labels.csv not found", file=sys.stderr)
        return 1
    by = read_clips(a.crema)
    held = heldout(list(by))
    (a.out / "train").mkdir(parents=True, exist_ok=True)
    for d in ("mulaw", "agc", "other_mulaw", "other_agc"):
        (a.out / "calls" / d).mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(2) as ex:
        metas = list(ex.map(train_actor, [(a.crema, a.out / "train", k, v) for k, v in sorted(by.items())]))
        calls = list(ex.map(call_actor, [(a.crema, a.out / "calls", k, by[k]) for k in sorted(held)]))
    json.dump({"heldout": sorted(held), "raised_db": RAISED_DB, "calm_db": CALM_DB,
               "clips": [m for ms in metas for m in ms]}, open(a.out / "train" / "clips.json", "w"))
    print(f"make_cremad: {len(by)} actors ({len(held)} held out), {sum(len(m) for m in metas)} clips rendered "
          f"twice for training; {sum(calls)} calls per render from the held-out actors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
