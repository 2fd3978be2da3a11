#!/usr/bin/env python3
"""Can formant frequencies, or how periodic the voice is above 1 kHz, tell a shouting
man from a calm woman on any line?

The third pass of the cold-start work (docs/experiments/2026-12-07-cold-start.md)
found the cold start misses men: a man who shouts lifts his F0 to where women
speak calmly, and with the speaker's sex given (an oracle) the same three
cues find 0.69 of raised clips, not 0.37. A cepstral register named the sex
well but followed the recording chain (a line's EQ reshapes the spectral
envelope). Formant *frequencies* are where the envelope peaks, not how high
they stand: a tilt or a broad peak on the line moves them little, while the
vocal tract's length sets F2 and F3 (about 15-20 % higher in women). This
script measures whether they travel:

* the sex named from each clip's median F1-F3 (Praat's Burg formants, an
  outside tracker), on the held-out actors through the training chain and
  through random lines (the fifth pass's, other seeds), and on the calm
  corpus's voices;
* cold-start models with the formants beside F0, alpha ratio and centroid,
  by the fifth pass's rule (each clip judged on its first voiced hops, the
  threshold at 0.2 % of the training actors' calm clips), on held-out
  raised anger (men, women), held-out neutral on other lines, and the calm
  corpus cut into 2.5 s windows.

With `--cues fine` the three extra cues are instead the voice's periodicity
at the F0 period (Pohjalainen et al. 2013 detect shouts from the spectral
fine structure): of the 1-3.4 kHz band, of that band's envelope, and of the
0.3-1 kHz band. Each is gain-free, and a line's EQ scales a narrow band's
harmonics and noise alike, so it should travel where the cepstra did not.

    .venv/bin/python tools/research/formants_periodicity.py [--cues formants|fine]
        [--bin target/release/shoutcue] [--cremad out/cremad] [--calm out/eval/calm]
        [--chains 3] [--first-voiced-s 0.5 (0: the whole clip)]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import parselmouth
import scipy.signal as ss
import soundfile as sf
from parselmouth.praat import call

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from chain_augmentation import RATE, Model, calm_window_rows, clip_rows, hops  # noqa: E402

MAX_CALM_CLIP_RATE = 0.002
RAISED_DB, CALM_DB = 10.0, 3.0
NAMES = ["f0", "alpha", "centroid", "f1", "f2", "f3"]


def formants(wav: Path, n_hops: int) -> np.ndarray:
    """F1-F3 in semitones re 100 Hz per 10 ms hop (NaN where Praat finds none)."""
    snd = parselmouth.Sound(str(wav))
    fm = snd.to_formant_burg(time_step=0.01, max_number_of_formants=4, maximum_formant=4000,
                             window_length=0.025, pre_emphasis_from=50)
    t = np.array(fm.xs())
    out = np.full((n_hops, 3), np.nan)
    centres = np.arange(n_hops) * 0.01 + 0.016
    for k in range(3):
        m = call(fm, "To Matrix", k + 1)
        v = np.array(m.values)[0]
        v[v <= 0] = np.nan
        out[:, k] = np.interp(centres, t, v, left=np.nan, right=np.nan)
    return 12 * np.log2(out / 100)


def fine_structure(wav: Path, f0_st: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Per voiced hop, how periodic the voice is above 1 kHz, where a line's EQ cannot reach
    within a band: the normalised autocorrelation at the F0 period of the 1-3.4 kHz band
    (harmonics), of that band's envelope (glottal pulses), and of the 0.3-1 kHz band.
    Gain-free, and a linear filter scales a narrow band's harmonic and noise parts alike."""
    x, _ = sf.read(str(wav))
    bands = [ss.sosfilt(ss.butter(4, [1000, 3400], "bandpass", fs=RATE, output="sos"), x)]
    env = np.abs(ss.hilbert(bands[0]))
    bands.append(ss.sosfilt(ss.butter(2, 1000, "lowpass", fs=RATE, output="sos"), env))
    bands.append(ss.sosfilt(ss.butter(4, [300, 1000], "bandpass", fs=RATE, output="sos"), x))
    n = len(voiced)
    out = np.full((n, 3), np.nan)
    f0 = 100 * 2 ** (f0_st / 12)
    for i in np.flatnonzero(voiced):
        a = i * 80 - 128
        if a < 0 or a + 256 > len(x):
            continue
        period = RATE / f0[i]
        for k, y in enumerate(bands):
            fr = y[a:a + 256]
            if k == 1:
                fr = fr - fr.mean()
            best = 0.0
            for lag in (int(np.floor(period)), int(np.ceil(period))):
                if lag < 2 or lag > 200:
                    continue
                u, w = fr[:-lag], fr[lag:]
                den = np.sqrt((u @ u) * (w @ w)) + 1e-12
                best = max(best, (u @ w) / den)
            out[i, k] = best
    return out


CUES = "formants"


def features(bin_: str, wav: Path) -> dict[str, np.ndarray]:
    h = hops(bin_, wav)
    if CUES == "formants":
        h["fm"] = formants(wav, len(h["voiced"]))
    else:
        h["fm"] = fine_structure(wav, h["f0"], h["voiced"])
    return h


FIRST_VOICED: int | None = None


def row(h: dict[str, np.ndarray], a: int, b: int) -> np.ndarray | None:
    v = np.zeros(len(h["voiced"]), bool)
    v[a:b] = h["voiced"][a:b] & np.isfinite(h["fm"][a:b]).all(axis=1)
    if v.sum() < 20:
        return None
    if FIRST_VOICED is not None:
        idx = np.flatnonzero(v)
        v[idx[FIRST_VOICED:]] = False
    fm = np.median(h["fm"][v], axis=0)
    return np.concatenate([[np.median(h["f0"][v]), h["alpha"][v].mean(), h["centroid"][v].mean()], fm])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/shoutcue")
    ap.add_argument("--cremad", type=Path, default=Path("out/cremad"))
    ap.add_argument("--calm", type=Path, default=Path("out/eval/calm"))
    ap.add_argument("--chains", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("out/chain"))
    ap.add_argument("--first-voiced-s", type=float, default=0.5)
    ap.add_argument("--cues", choices=["formants", "fine"], default="formants",
                    help="formants: Praat's F1-F3; fine: periodicity above 1 kHz (harmonics, envelope) and at 0.3-1 kHz")
    a = ap.parse_args()
    global FIRST_VOICED, CUES
    CUES = a.cues
    FIRST_VOICED = None if a.first_voiced_s <= 0 else int(round(a.first_voiced_s * 100))
    rows, held = clip_rows(a.cremad, a.work, a.chains, lambda p: features(a.bin, p), row)
    x = np.array([r[3] for r in rows])
    actor = np.array([r[0] for r in rows])
    render = np.array([r[1] for r in rows])
    rise = np.array([r[2]["rise"] for r in rows])
    emo = np.array([r[2]["emotion"] for r in rows])
    male = np.array([r[2]["sex"] == "Male" for r in rows])
    is_held = np.isin(actor, sorted(held))
    raised, calm = rise >= RAISED_DB, rise < CALM_DB
    keep = raised | calm

    calm_rows = calm_window_rows(a.calm, lambda p: features(a.bin, p), row)
    cx = np.array([r[1] for r in calm_rows])
    cvoice = np.array([r[0] for r in calm_rows])
    print(f"{len(rows)} clip renders, {len(calm_rows)} calm windows over {len(set(cvoice))} voices; "
          f"judged on the first {a.first_voiced_s} s of voiced hops\n")

    # Per-class medians: does a raised voice move F2/F3 as much as sex does?
    c1, c2, c3 = ("F1", "F2", "F3") if CUES == "formants" else ("r_hi", "r_env", "r_lo")
    print(f"| group (held-out, mu-law) | F0 | {c1} | {c2} | {c3} (medians) |")
    print("| --- | --- | --- | --- | --- |")
    for name, sel in [("men neutral", male & (emo == "NEU")), ("men raised anger", male & raised & (emo == "ANG")),
                      ("women neutral", ~male & (emo == "NEU")), ("women raised anger", ~male & raised & (emo == "ANG"))]:
        s = sel & is_held & (render == "mulaw")
        med = np.median(x[s], axis=0)
        print(f"| {name} ({s.sum()}) | {med[0]:.1f} | {med[3]:.3f} | {med[4]:.3f} | {med[5]:.3f} |")
    print()
    for v in sorted(set(cvoice)):
        med = np.median(cx[cvoice == v], axis=0)
        print(f"calm voice {v}: F0 {med[0]:.1f} {c1} {med[3]:.3f} {c2} {med[4]:.3f} {c3} {med[5]:.3f}")
    print()

    # The sex from the formants alone (F1-F3), trained on the training actors' every render.
    tr = ~is_held
    for cols, name in [([4, 5], "F2, F3"), ([3, 4, 5], "F1-F3"), ([0, 4, 5], "F0, F2, F3")]:
        sx = Model(cols, False).fit(x[tr], male[tr])
        p = sx.score(x) >= 0.5
        acc = [f"{(p[is_held & (render == r)] == male[is_held & (render == r)]).mean():.2f}" for r in ("mulaw", "agc")]
        oth = is_held & np.char.startswith(render.astype(str), "chain")
        ang = is_held & raised & (emo == "ANG")
        print(f"sex from {name}: held-out accuracy mu-law {acc[0]}, AGC {acc[1]}, other lines {(p[oth] == male[oth]).mean():.2f}; "
              f"raised-anger men named men {p[ang & male].mean():.2f}, calm-corpus windows named men {sx.score(cx).__ge__(0.5).mean():.2f}")
    print()

    variants = [("F0, alpha, centroid, quadratic (shipped kind)", [0, 1, 2], True),
                ("+ F1, quadratic", [0, 1, 2, 3], True),
                ("+ F2, F3, quadratic", [0, 1, 2, 4, 5], True),
                ("+ F1-F3, quadratic", [0, 1, 2, 3, 4, 5], True),
                ("F0, F1, F3 only, quadratic (no spectral level cue)", [0, 3, 5], True),
                ("F0 - F3 and F1 - F3 (register-normalised), alpha, centroid, quadratic", "norm", True)]
    xn = np.column_stack([x[:, 0] - x[:, 5], x[:, 1], x[:, 2], x[:, 3] - x[:, 5]])
    cxn = np.column_stack([cx[:, 0] - cx[:, 5], cx[:, 1], cx[:, 2], cx[:, 3] - cx[:, 5]])
    print("| cues | threshold | held-out raised anger found, mu-law / AGC / other lines (men, women on mu-law) "
          "| held-out neutral found, mu-law / other lines | happy / fear raised, mu-law | calm windows over (worst voice) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for vname, cols, quad in variants:
        xx, cc = (xn, cxn) if cols == "norm" else (x, cx)
        cols = list(range(4)) if cols == "norm" else cols
        m = keep & ~is_held
        model = Model(cols, quad).fit(xx[m], raised[m])
        thr = next(t for t in np.arange(0.01, 1.0, 0.005) if (model.score(xx[m & calm]) >= t).mean() <= MAX_CALM_CLIP_RATE)
        s = model.score(xx) >= thr
        ang = is_held & raised & (emo == "ANG")
        oth = np.char.startswith(render.astype(str), "chain")
        found = [f"{s[ang & (render == r)].mean():.2f}" for r in ("mulaw", "agc")] + [f"{s[ang & oth].mean():.2f}"]
        mw = ang & (render == "mulaw")
        neu = is_held & (emo == "NEU")
        hf = [f"{s[is_held & raised & (emo == e) & (render == 'mulaw')].mean():.2f}" for e in ("HAP", "FEA")]
        cs = model.score(cc) >= thr
        worst = max((cs[cvoice == v].mean(), v) for v in set(cvoice))
        vname = vname.replace("F1", c1).replace("F2", c2).replace("F3", c3)
        print(f"| {vname} | {thr:.3f} | {' / '.join(found)} ({s[mw & male].mean():.2f}, {s[mw & ~male].mean():.2f}) | "
              f"{s[neu & (render == 'mulaw')].mean():.3f} / {s[neu & oth].mean():.3f} | {' / '.join(hf)} | "
              f"{cs.mean():.3f} ({worst[1]} {worst[0]:.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
