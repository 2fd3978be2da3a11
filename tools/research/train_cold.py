#!/usr/bin/env python3
"""Trains the cold-start part of the shout model and writes it into the model file.

The cold start decides before a caller's own baseline exists, so it sees
only level-free cues: absolute F0 (semitones re 100 Hz), the alpha ratio
and the spectral centroid (semitones), measured by the real `shoutcue
features` on the training renders of tools/data/make_cremad.py (CREMA-D at
random line gains, 8 kHz mu-law, and through WebRTC's AGC). Each cue is
averaged over the voiced hops of a stretch of speech exactly as the
detector does (a running mean, exponential after WINDOW_S; reset at every
pause), and a class-balanced quadratic logistic regression with a small
L2 penalty tells raised clips (>= 10 dB above the actor's neutral median)
from calm ones (< 3 dB above).

The threshold is chosen on the training actors alone: the lowest score
(0.01 steps) at which at most MAX_CALM_CLIP_RATE of their calm clips would
be detected by the detector's rule (MIN_ON_S of voiced hops at or above it).
`calm_below` (the evidence reset, and the gate for teaching the baseline)
sits 0.25 under it, as the relative path's off threshold does.

Reports clip-level figures cross-validated by actor (three folds of the
training actors) and on the held-out actors, and stores them in the
model's `cold.provenance`.

    .venv/bin/python tools/research/train_cold.py [--bin target/release/shoutcue]
        [--data out/cremad/train] [--model models/shout-v1.json] [--out models/shout-v1.json]
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

HOP_S = 0.01
WINDOW_S = 1.0
MIN_ON_S = 0.5  # the shipped model's min_on_voiced_s
END_PAUSE_S = 0.35  # the shipped model's end_pause_s
MAX_CALM_CLIP_RATE = 0.002
L2 = 1e-2
RENDERS = ("mulaw", "agc")
TERMS = ["f0_st", "alpha_db", "centroid_st", "f0_st^2/10", "alpha_db^2/10", "centroid_st^2/10",
         "f0_st*alpha_db/10", "f0_st*centroid_st/10", "alpha_db*centroid_st/10"]


def features(bin_: str, wav: Path) -> np.ndarray:
    out = subprocess.run([bin_, "features", str(wav), "--format", "csv"], check=True,
                         capture_output=True, text=True).stdout
    return np.genfromtxt(io.StringIO(out), delimiter=",", names=True)


def averaged(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per hop: the averaged cues (NaN outside speech), voiced, speech: as the detector."""
    raw = np.stack([12 * np.log2(np.maximum(d["f0_hz"], 1) / 100), d["alpha_ratio_db"],
                    12 * np.log2(np.maximum(d["centroid_hz"], 1) / 100)], 1)
    voiced = (d["voiced"] > 0) & (d["f0_hz"] > 0)
    speech = d["speech"] > 0
    cap = max(WINDOW_S / HOP_S, 1.0)
    out = np.full_like(raw, np.nan)
    s, k = np.zeros(3), 0.0
    for i in range(len(raw)):
        if voiced[i]:
            k = min(k + 1, cap)
            s = s + (raw[i] - s) / k
        elif not speech[i]:
            k = 0.0
        if k > 0:
            out[i] = s
    return out, voiced, speech


def terms(x: np.ndarray) -> np.ndarray:
    f, a, c = x[:, 0], x[:, 1], x[:, 2]
    return np.stack([f, a, c, f * f / 10, a * a / 10, c * c / 10, f * a / 10, f * c / 10, a * c / 10], 1)


def fit(x: np.ndarray, y: np.ndarray):
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    sw = np.where(y == 1, 0.5 / np.sum(y == 1), 0.5 / np.sum(y == 0))

    def loss(w):
        p = 1 / (1 + np.exp(-(z @ w[1:] + w[0])))
        ll = -np.sum(sw * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))) + L2 * np.sum(w[1:] ** 2)
        g = z.T @ (sw * (p - y))
        return ll, np.concatenate([[np.sum(sw * (p - y))], g + 2 * L2 * w[1:]])

    w = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return mu, sd, w


def score(model, x: np.ndarray) -> np.ndarray:
    mu, sd, w = model
    with np.errstate(invalid="ignore"):
        return 1 / (1 + np.exp(-(((terms(x) - mu) / sd) @ w[1:] + w[0])))


def detected(p: np.ndarray, voiced: np.ndarray, speech: np.ndarray, on: float) -> bool:
    """The detector's rule: MIN_ON_S of voiced hops at or above `on`, reset by a pause or a fall below on - 0.25."""
    ev = sil = 0.0
    for i in range(len(p)):
        s = 0.0 if np.isnan(p[i]) else p[i]
        sil = 0.0 if speech[i] else sil + HOP_S
        if voiced[i] and s >= on:
            ev += HOP_S
            if ev >= MIN_ON_S - 1e-9:
                return True
        elif sil >= END_PAUSE_S or s < on - 0.25:
            ev = 0.0
    return False


def label(c: dict, raised_db: float, calm_db: float) -> int:
    return 1 if c["rise"] >= raised_db else 0 if c["rise"] < calm_db else -1


def kind(c: dict, raised_db: float) -> str:
    if c["emotion"] == "NEU":
        return "neutral"
    return c["emotion"].lower() + ("_raised" if c["rise"] >= raised_db else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/shoutcue")
    ap.add_argument("--data", type=Path, default=Path("out/cremad/train"))
    ap.add_argument("--model", type=Path, default=Path("models/shout-v1.json"))
    ap.add_argument("--out", type=Path, default=None, help="default: --model")
    ap.add_argument("--min-cv-raised", type=float, default=None,
                    help="fail (exit 1) if, cross-validated by actor, fewer raised anger clips than this share are detected in any render")
    ap.add_argument("--max-cv-neutral", type=float, default=None,
                    help="fail (exit 1) if, cross-validated by actor, more neutral clips than this share are detected in any render")
    a = ap.parse_args()
    meta = json.load(open(a.data / "clips.json"))
    raised_db, calm_db, held = meta["raised_db"], meta["calm_db"], set(meta["heldout"])
    actors = sorted({c["actor"] for c in meta["clips"]})
    train_actors = [x for x in actors if x not in held]
    folds = [set(train_actors[i::3]) for i in range(3)]

    jobs = [(r, x) for r in RENDERS for x in actors]
    with ThreadPoolExecutor(2) as ex:
        feats = dict(zip(jobs, ex.map(lambda j: features(a.bin, a.data / f"{j[0]}_{j[1]}.wav"), jobs)))
    clips = []  # (clip, render, averaged cues, voiced, speech)
    for (r, x), d in feats.items():
        avg, v, sp = averaged(d)
        t = d["t"]
        for c in (c for c in meta["clips"] if c["actor"] == x):
            i = (t >= c["t0"]) & (t < c["t1"] + 0.3)
            clips.append((c, r, avg[i], v[i], sp[i]))

    def training(actor_set):
        xs, ys = [], []
        for c, _, avg, v, _ in clips:
            lab = label(c, raised_db, calm_db)
            if c["actor"] in actor_set and lab >= 0:
                k = v & ~np.isnan(avg[:, 0])
                xs.append(terms(avg[k]))
                ys.append(np.full(k.sum(), lab))
        return np.concatenate(xs), np.concatenate(ys)

    def threshold(model, actor_set) -> float:
        calm = [(score(model, avg), v, sp) for c, _, avg, v, sp in clips
                if c["actor"] in actor_set and label(c, raised_db, calm_db) == 0]
        for on in np.arange(0.5, 0.991, 0.01):
            rate = sum(detected(p, v, sp, on) for p, v, sp in calm) / len(calm)
            if rate <= MAX_CALM_CLIP_RATE:
                return round(float(on), 2)
        return 0.99

    def rates(model, on, actor_set) -> Counter:
        n = Counter()
        for c, r, avg, v, sp in clips:
            if c["actor"] in actor_set:
                k = f"{r}:{kind(c, raised_db)}"
                n[k + ":n"] += 1
                n[k + ":hit"] += detected(score(model, avg), v, sp, on)
        return n

    cv = Counter()
    for f in folds:
        m = fit(*training(set(train_actors) - f))
        cv += rates(m, threshold(m, set(train_actors) - f), f)
    model = fit(*training(set(train_actors)))
    on = threshold(model, set(train_actors))
    ho = rates(model, on, held)

    metrics = {}
    print(f"train_cold: threshold {on} (training actors' calm clips detected <= {MAX_CALM_CLIP_RATE:.1%})")
    for name, n in (("cv", cv), ("heldout", ho)):
        for key in sorted({k.rsplit(':', 1)[0] for k in n}):
            share = n[key + ":hit"] / n[key + ":n"]
            metrics[f"{name}:{key}:detected"] = round(share, 4)
            if key.split(":")[1] in ("neutral", "ang_raised", "hap_raised", "fea_raised"):
                print(f"  {name:8s} {key:22s} {n[key + ':hit']:4d}/{n[key + ':n']:<4d} = {share:.3f}")
    mu, sd, w = model
    cold = {
        "terms": TERMS,
        "mean": [float(v) for v in mu], "scale": [float(v) for v in sd],
        "weights": [float(v) for v in w[1:]], "bias": float(w[0]),
        "window_s": WINDOW_S, "on_threshold": on, "calm_below": round(on - 0.25, 2),
        "provenance": {
            "trained_on": (f"CREMA-D (Cao et al. 2014, ODbL 1.0 / DbCL 1.0; credit: CREMA-D, "
                           f"github.com/CheyneyComputerScience/CREMA-D): {len(train_actors)} actors, "
                           f"{sum(1 for c in meta['clips'] if c['actor'] not in held)} clips, each at a random "
                           "line gain (-12..+6 dB), 8 kHz mu-law, and through WebRTC's AGC "
                           "(tools/data/make_cremad.py); raised = >= 10 dB over the actor's neutral median"),
            "evaluated_on": f"CREMA-D actors {', '.join(sorted(held))} (held out); three actor folds of the training actors (cv:)",
            "date": datetime.date.today().isoformat(),
            "command": " ".join(sys.argv),
            "metrics": metrics,
        },
    }
    doc = json.load(open(a.model))
    doc["cold"] = cold
    out = a.out or a.model
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"train_cold: wrote the cold start into {out}")
    failures = []
    for r in RENDERS:
        raised, neutral = metrics[f"cv:{r}:ang_raised:detected"], metrics[f"cv:{r}:neutral:detected"]
        if a.min_cv_raised is not None and raised < a.min_cv_raised:
            failures.append(f"{r}: cross-validated raised anger detected {raised:.3f} < {a.min_cv_raised}")
        if a.max_cv_neutral is not None and neutral > a.max_cv_neutral:
            failures.append(f"{r}: cross-validated neutral clips detected {neutral:.4f} > {a.max_cv_neutral}")
    for f in failures:
        print(f"train_cold: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
