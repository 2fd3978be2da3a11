#!/usr/bin/env python3
"""How well can anger be told from the other emotions with level removed?

The AGC evaluation variant puts every sentence at the same RMS, so only
level-free cues are left. This script measures, per *sentence* and with
outside tools, how far such cues can go on the EmoDB speakers, to tell a
detector shortfall from a limit of the data:

1. Praat cue set: median F0 (parselmouth `To Pitch (ac)`), the alpha ratio
   and Hammarberg index of the voiced long-term spectrum, and the spectral
   centroid, each relative to the speaker's own neutral sentences.
2. openSMILE eGeMAPS v02 functionals (88 features; 76 once every feature
   that moves with gain is dropped), z-scored per speaker. openSMILE's
   licence is research-only: it is used here to compare, never shipped.

Both at 8 kHz (the evaluation calls' rate). Each speaker is scored by a
class-balanced ridge logistic regression trained on the other five
(leave-one-speaker-out). The baselines are oracles (all of the speaker's
neutral sentences, or all of their sentences for the z-score), which the
live detector does not have, and "best F1" picks its threshold on the
pooled test scores, so both figures are upper bounds for a sentence-level
detector using these cues.

    .venv/bin/python tools/research/level_free_ceiling.py [--emodb ../shared/data/emodb]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np
import parselmouth
import scipy.signal as ss
import soundfile as sf

RATE = 8000


def read_8k(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float64")
    if x.ndim > 1:
        x = x.mean(axis=1)
    g = np.gcd(RATE, sr)
    return ss.resample_poly(x, RATE // g, sr // g)


def praat_cues(x: np.ndarray) -> dict[str, float] | None:
    """Median F0 (st re 100 Hz) and long-term spectral shape of the voiced frames."""
    pitch = parselmouth.Sound(x, RATE).to_pitch(time_step=0.01, pitch_floor=75, pitch_ceiling=600)
    f0 = pitch.selected_array["frequency"]
    n = 320
    win = np.hanning(n)
    spectra, voiced_f0 = [], []
    for t, f in zip(pitch.xs(), f0):
        a = int(t * RATE) - n // 2
        if f <= 0 or a < 0 or a + n > len(x):
            continue
        spectra.append(np.abs(np.fft.rfft(x[a:a + n] * win, 512)) ** 2)
        voiced_f0.append(f)
    if len(spectra) < 5:
        return None
    s = np.array(spectra)
    freqs = np.fft.rfftfreq(512, 1 / RATE)
    level = 10 * np.log10(s.sum(axis=1) + 1e-20)
    s = s[level > np.median(level) - 10]  # the voiced frames that carry the energy
    ltas = s.sum(axis=0)

    def band(lo: float, hi: float) -> float:
        return float(ltas[(freqs >= lo) & (freqs < hi)].sum())

    peak_lo = s[:, freqs < 2000].max(axis=1).mean()
    peak_hi = s[:, freqs >= 2000].max(axis=1).mean()
    return {
        "f0_st": float(np.median(12 * np.log2(np.array(voiced_f0) / 100))),
        "alpha_db": 10 * np.log10(band(1000, 4000) / band(50, 1000)),
        "hammarberg_db": 10 * np.log10(peak_hi / peak_lo),
        "centroid_st": float(12 * np.log2((ltas * freqs).sum() / ltas.sum() / 100)),
    }


#: eGeMAPS functionals that scale with gain: dropped, since AGC removes level.
def gain_dependent(name: str) -> bool:
    keep = ("loudness_sma3_stddevNorm", "loudnessPeaksPerSec")
    return (name.startswith("loudness") or name.startswith("equivalentSoundLevel")) and name not in keep


def auc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUC, ties counted half."""
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Class-balanced ridge logistic regression by Newton's method; returns weights with the bias last."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum())
    beta = np.zeros(xb.shape[1])
    ridge = l2 * np.eye(xb.shape[1])
    ridge[-1, -1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-xb @ beta))
        grad = xb.T @ (w * (p - y)) + ridge @ beta
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + ridge
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def loso(x: np.ndarray, y: np.ndarray, spk: np.ndarray, l2: float) -> np.ndarray:
    scores = np.zeros(len(y))
    for s in np.unique(spk):
        test = spk == s
        mu, sd = x[~test].mean(axis=0), x[~test].std(axis=0) + 1e-9
        beta = fit_logistic((x[~test] - mu) / sd, y[~test], l2)
        scores[test] = 1 / (1 + np.exp(-(np.hstack([(x[test] - mu) / sd, np.ones((test.sum(), 1))]) @ beta)))
    return scores


def f1_at(y: np.ndarray, s: np.ndarray, t: float) -> float:
    tp = int((y & (s >= t)).sum())
    fp = int((~y & (s >= t)).sum())
    fn = int((y & (s < t)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def report(name: str, x: np.ndarray, y: np.ndarray, spk: np.ndarray, emo: np.ndarray, l2: float) -> None:
    s = loso(x, y, spk, l2)
    hap = y | (emo == "happiness")
    best = max((f1_at(y, s, t), t) for t in np.linspace(0.05, 0.95, 91))
    fp = {e: int(((s >= best[1]) & (emo == e)).sum()) for e in sorted(set(emo)) if e != "anger"}
    per = " ".join(f"{k}:{auc(y[spk == k], s[spk == k]):.2f}" for k in np.unique(spk))
    print(f"{name}: {x.shape[1]} inputs | AUC anger vs rest {auc(y, s):.3f}, vs happiness {auc(y[hap], s[hap]):.3f} | "
          f"F1 at 0.5 {f1_at(y, s, 0.5):.3f}, best F1 {best[0]:.3f} (threshold {best[1]:.2f})")
    print(f"    per speaker AUC {per}; false positives at the best threshold: "
          + ", ".join(f"{e} {n}" for e, n in fp.items() if n))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emodb", default=os.environ.get("SHOUTCUE_EMODB", "../shared/data/emodb"), type=Path)
    ap.add_argument("--l2", default=0.01, type=float, help="ridge strength on standardised inputs")
    a = ap.parse_args()
    labels = a.emodb / "labels.csv"
    if not labels.is_file():
        sys.exit(f"{labels}: not found (EmoDB folder with labels.csv expected)")
    import opensmile  # research-only licence: comparison only

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    rows = []
    for r in csv.DictReader(labels.open()):
        x = read_8k(a.emodb / r["file"])
        cues = praat_cues(x)
        if cues is None:
            print(f"{r['file']}: fewer than 5 voiced frames, skipped", file=sys.stderr)
            continue
        ge = smile.process_signal(x, RATE)
        rows.append((r["speaker"], r["emotion"], cues, ge.iloc[0]))
    spk = np.array([r[0] for r in rows])
    emo = np.array([r[1] for r in rows])
    y = emo == "anger"
    print(f"{len(rows)} sentences, {int(y.sum())} anger, speakers {', '.join(np.unique(spk))}; 8 kHz; "
          "leave-one-speaker-out, oracle baselines (upper bounds)")

    names = list(rows[0][2])
    praat = np.array([[r[2][k] for k in names] for r in rows])
    for s in np.unique(spk):  # relative to the speaker's neutral sentences
        m = spk == s
        praat[m] -= np.median(praat[m & (emo == "neutral")], axis=0)
    report("Praat F0 + alpha", praat[:, [names.index("f0_st"), names.index("alpha_db")]], y, spk, emo, a.l2)
    report("Praat F0 + alpha + Hammarberg + centroid", praat, y, spk, emo, a.l2)

    cols = [c for c in rows[0][3].index if not gain_dependent(c)]
    ge = np.array([[float(r[3][c]) for c in cols] for r in rows])
    ge = np.nan_to_num(ge)
    for s in np.unique(spk):  # z-scored per speaker (all of their sentences)
        m = spk == s
        ge[m] = (ge[m] - ge[m].mean(axis=0)) / (ge[m].std(axis=0) + 1e-9)
    report(f"eGeMAPS without gain-dependent functionals ({88 - len(cols)} dropped)", ge, y, spk, emo, a.l2)
    report("eGeMAPS, stronger ridge", ge, y, spk, emo, a.l2 * 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
