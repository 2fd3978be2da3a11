#!/usr/bin/env python3
"""Does training through random line EQs make richer cold-start cues travel?

The third pass of the cold-start work (docs/experiments/2026-12-07-cold-start.md)
found that every cue richer than F0, alpha ratio and centroid (cepstra above
all) separates CREMA-D's raised clips from its calm ones nearly perfectly,
and then fires on most of the calm voices recorded through other chains:
the cues learn CREMA-D's studio. This script measures the obvious remedy
that was not tried: train through many random chains (a high-pass, a
low-pass, a spectral tilt and a peaking filter, each drawn per actor
render, before mu-law), so that what the line's EQ moves stops carrying
the decision, and check the result on

* the held-out actors through the training chain (mu-law, AGC) and through
  chains drawn with other seeds, and
* the calm corpus (`tools/data/make_calm.py`), cut into 2.5 s windows of
  speech, whose voices and chains nothing here was fitted to.

Per clip (the mean over its voiced hops), like the third pass; the
threshold by the shipped rule: the lowest at which at most 0.2 % of the
training clips that are calm would be detected. The cues per hop come from
the real `shoutcue features` (F0, voicing, alpha ratio, centroid) and a
log-mel spectrum (20 bands, 250-3600 Hz) computed here on the same hops,
whose DCT gives the cepstra.

    .venv/bin/python tools/research/chain_augmentation.py [--bin target/release/shoutcue]
        [--cremad out/cremad] [--calm out/eval/calm] [--chains 3]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.signal as ss
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from calls import audio  # noqa: E402
from level_free_ceiling import fit_logistic  # noqa: E402  (same folder: the class-balanced ridge fit)

RATE = 8000
HOP = 80
N_FFT = 256
N_MEL = 20
N_CEP = 8
MAX_CALM_CLIP_RATE = 0.002
RAISED_DB, CALM_DB = 10.0, 3.0
WINDOW_S = 2.5


def mel_matrix() -> np.ndarray:
    def mel(f):
        return 2595 * np.log10(1 + f / 700)

    edges = 700 * (10 ** (np.linspace(mel(250), mel(3600), N_MEL + 2) / 2595) - 1)
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    m = np.zeros((N_MEL, len(freqs)))
    for i in range(N_MEL):
        lo, c, hi = edges[i], edges[i + 1], edges[i + 2]
        m[i] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0, None)
    return m


MEL = mel_matrix()
DCT = np.cos(np.pi / N_MEL * (np.arange(N_MEL) + 0.5)[None, :] * np.arange(1, N_CEP + 1)[:, None])


def log_mel(x: np.ndarray, n_hops: int) -> np.ndarray:
    """Per hop (10 ms), the log-mel spectrum of the 32 ms around the hop's start."""
    pad = np.concatenate([np.zeros(N_FFT // 2), x, np.zeros(N_FFT)])
    idx = np.arange(n_hops)[:, None] * HOP + np.arange(N_FFT)[None, :]
    frames = pad[idx] * np.hanning(N_FFT)
    p = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return 10 * np.log10(p @ MEL.T + 1e-10)


def random_chain(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One line: a high-pass, a low-pass, a tilt and a peak, drawn once for the whole render."""
    hp = rng.uniform(100, 400)
    lp = rng.uniform(2900, 3700)
    y = ss.sosfilt(ss.butter(2, hp, "highpass", fs=RATE, output="sos"), x)
    y = ss.sosfilt(ss.butter(4, lp, "lowpass", fs=RATE, output="sos"), y)
    # Tilt: a first-order shelf, +-6 dB at the top relative to the bottom.
    tilt = rng.uniform(-6, 6)
    g = 10 ** (tilt / 20)
    fc = 1000.0
    k = np.tan(np.pi * fc / RATE)
    # H(s) = (g s/wc + 1) / (s/wc + 1), bilinear with the cutoff prewarped.
    b = np.array([g + k, k - g])
    a = np.array([1 + k, k - 1])
    y = ss.lfilter(b / a[0], a / a[0], y)
    # A peaking filter (RBJ cookbook).
    f0, gain, q = rng.uniform(400, 3000), rng.uniform(-6, 6), rng.uniform(0.7, 2.0)
    A = 10 ** (gain / 40)
    w = 2 * np.pi * f0 / RATE
    al = np.sin(w) / (2 * q)
    b = np.array([1 + al * A, -2 * np.cos(w), 1 - al * A])
    a = np.array([1 + al / A, -2 * np.cos(w), 1 - al / A])
    y = ss.lfilter(b / a[0], a / a[0], y)
    return y / max(1e-9, np.abs(y).max()) * np.abs(x).max()


def hops(bin_: str, wav: Path) -> dict[str, np.ndarray]:
    out = subprocess.run([bin_, "features", str(wav), "--format", "csv"], check=True,
                         capture_output=True, text=True).stdout
    d = np.genfromtxt(io.StringIO(out), delimiter=",", names=True)
    x, rate = sf.read(str(wav))
    assert rate == RATE, wav
    n = len(d)
    return {
        "f0": 12 * np.log2(np.maximum(d["f0_hz"], 1) / 100),
        "alpha": d["alpha_ratio_db"],
        "centroid": 12 * np.log2(np.maximum(d["centroid_hz"], 1) / 100),
        "voiced": (d["voiced"] > 0) & (d["f0_hz"] > 0),
        "speech": d["speech"] > 0,
        "mel": log_mel(x, n),
    }


#: Only the first this many voiced hops of a clip or window count (None: all):
#: what a cold start has seen when it must decide.
FIRST_VOICED: int | None = None


def clip_row(h: dict[str, np.ndarray], a: int, b: int) -> np.ndarray | None:
    v = np.zeros(len(h["voiced"]), bool)
    v[a:b] = h["voiced"][a:b]
    if v.sum() < 20:
        return None
    if FIRST_VOICED is not None:
        idx = np.flatnonzero(v)
        v[idx[FIRST_VOICED:]] = False
    mel = h["mel"][v]
    cep = (mel - mel.mean(axis=1, keepdims=True)) @ DCT.T  # c1..c8 per hop, gain removed
    cm = cep.mean(axis=0)
    dyn = cep.std(axis=0)[:4]  # within-clip spread: an LTI line cancels out of it
    return np.concatenate([[np.median(h["f0"][v]), h["alpha"][v].mean(), h["centroid"][v].mean()],
                           cm, dyn, [h["f0"][v].std()]])


NAMES = ["f0", "alpha", "centroid"] + [f"c{i}" for i in range(1, N_CEP + 1)] + \
        [f"sd_c{i}" for i in range(1, 5)] + ["sd_f0"]


def expand(x: np.ndarray, quadratic: bool) -> np.ndarray:
    if not quadratic:
        return x
    iu = np.triu_indices(x.shape[1])
    return np.hstack([x, (x[:, :, None] * x[:, None, :])[:, iu[0], iu[1]] / 10])


class Model:
    def __init__(self, cols: list[int], quadratic: bool, l2: float = 1e-2):
        self.cols, self.quadratic, self.l2 = cols, quadratic, l2

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Model":
        z = x[:, self.cols]
        self.mu, self.sd = z.mean(0), z.std(0) + 1e-9
        e = expand((z - self.mu) / self.sd, self.quadratic)
        self.beta = fit_logistic(e, y, self.l2)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        e = expand((x[:, self.cols] - self.mu) / self.sd, self.quadratic)
        return 1 / (1 + np.exp(-np.clip(np.hstack([e, np.ones((len(e), 1))]) @ self.beta, -40, 40)))


def clip_rows(cremad: Path, work: Path, chains: int, features, row) -> tuple[list, set]:
    """Per clip of every actor and render, `row(features(wav), first_hop, end_hop)`: the
    training chain's two renders (mu-law, AGC) and `chains` random lines over the mu-law
    render's audio, re-encoded to mu-law. Held-out actors get lines of other seeds, so
    no test line is a training line. Returns (actor, render, clip, row) rows and the
    held-out actors."""
    meta = json.load(open(cremad / "train" / "clips.json"))
    held = set(meta["heldout"])
    by_actor: dict[str, list[dict]] = {}
    for c in meta["clips"]:
        by_actor.setdefault(c["actor"], []).append(c)
    work.mkdir(parents=True, exist_ok=True)
    jobs = []
    for actor in sorted(by_actor):
        for r in ("mulaw", "agc"):
            jobs.append((actor, r, cremad / "train" / f"{r}_{actor}.wav"))
        x, _ = sf.read(str(cremad / "train" / f"mulaw_{actor}.wav"))
        for k in range(chains):
            seed = int(actor) * 100 + k + (50 if actor in held else 0)
            p = work / f"chain{k}_{actor}.wav"
            if not p.exists():
                audio.write_mulaw_wav(p, np.clip(random_chain(x, np.random.default_rng(seed)), -1, 1), RATE)
            jobs.append((actor, f"chain{k}", p))

    def run(job):
        actor, render, path = job
        h = features(path)
        out = []
        for c in by_actor[actor]:
            r = row(h, int(c["t0"] * 100), int(c["t1"] * 100))
            if r is not None:
                out.append((actor, render, c, r))
        return out

    with ThreadPoolExecutor(2) as ex:
        return [r for rs in ex.map(run, jobs) for r in rs], held


def calm_window_rows(calm: Path, features, row) -> list:
    """The calm corpus cut into windows of WINDOW_S of speech: (voice, row) each."""
    out = []
    for voice in sorted(p for p in calm.iterdir() if p.is_dir()):
        for wav in sorted(voice.glob("*.wav")):
            h = features(wav)
            sp = np.flatnonzero(h["speech"])
            n = int(WINDOW_S * 100)
            i = 0
            while i < len(sp):
                start = sp[i]
                j = np.searchsorted(sp, start + n)
                r = row(h, start, start + n)
                if r is not None:
                    out.append((voice.name, r))
                i = max(j, i + 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/shoutcue")
    ap.add_argument("--cremad", type=Path, default=Path("out/cremad"))
    ap.add_argument("--calm", type=Path, default=Path("out/eval/calm"))
    ap.add_argument("--chains", type=int, default=3, help="random chains per actor render for training")
    ap.add_argument("--work", type=Path, default=Path("out/chain"))
    ap.add_argument("--first-voiced-s", type=float, help="judge each clip on its first seconds of voiced hops only")
    a = ap.parse_args()
    global FIRST_VOICED
    FIRST_VOICED = None if a.first_voiced_s is None else int(round(a.first_voiced_s * 100))
    rows, held = clip_rows(a.cremad, a.work, a.chains, lambda p: hops(a.bin, p), clip_row)
    x = np.array([r[3] for r in rows])
    actor = np.array([r[0] for r in rows])
    render = np.array([r[1] for r in rows])
    rise = np.array([r[2]["rise"] for r in rows])
    emo = np.array([r[2]["emotion"] for r in rows])
    sex = np.array([r[2]["sex"] for r in rows])
    is_held = np.isin(actor, sorted(held))
    raised, calm = rise >= RAISED_DB, rise < CALM_DB
    keep = raised | calm

    calm_rows = calm_window_rows(a.calm, lambda p: hops(a.bin, p), clip_row)
    cx = np.array([r[1] for r in calm_rows])
    cvoice = np.array([r[0] for r in calm_rows])
    print(f"{len(rows)} clip renders ({(keep & ~is_held).sum()} for training), "
          f"{len(calm_rows)} calm-corpus windows of {WINDOW_S} s over {len(set(cvoice))} voices\n")

    base = [0, 1, 2]
    cep = list(range(3, 3 + N_CEP))
    dyn = list(range(3 + N_CEP, len(NAMES)))
    variants = [
        ("F0, alpha, centroid (shipped kind), quadratic", base, True),
        ("+ c1-c8, linear", base + cep, False),
        ("+ c4-c8 (formant scale, not tilt), linear", base + cep[3:], False),
        ("+ within-clip spread (sd c1-c4, sd F0), linear", base + dyn, False),
        ("+ c1-c8 + spread, linear", base + cep + dyn, False),
    ]
    train_sets = [("training chain only (mu-law, AGC)", np.isin(render, ["mulaw", "agc"])),
                  (f"+ {a.chains} random chains per actor", np.ones(len(render), bool))]
    test_renders = [("mulaw", ["mulaw"]), ("agc", ["agc"]), ("other chains", [f"chain{k}" for k in range(a.chains)])]
    print("| train | cues | threshold | held-out raised anger found, mu-law / AGC / other chains (men, women on mu-law) "
          "| held-out neutral found, mu-law / AGC / other chains | calm windows over (worst voice) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for tname, tmask in train_sets:
        m = keep & ~is_held & tmask
        for vname, cols, quad in variants:
            model = Model(cols, quad).fit(x[m], raised[m])
            s_train = model.score(x[m & calm])
            thr = next(t for t in np.arange(0.01, 1.0, 0.01) if (s_train >= t).mean() <= MAX_CALM_CLIP_RATE)
            s = model.score(x)
            found = []
            for _, rs in test_renders:
                sel = is_held & np.isin(render, rs) & raised & (emo == "ANG")
                found.append(f"{(s[sel] >= thr).mean():.2f}")
            sel = is_held & (render == "mulaw") & raised & (emo == "ANG")
            men = (s[sel & (sex == "Male")] >= thr).mean()
            women = (s[sel & (sex == "Female")] >= thr).mean()
            neu = [is_held & (emo == "NEU") & np.isin(render, rs) for _, rs in test_renders]
            cs = model.score(cx) >= thr
            worst = max(((cs[cvoice == v].mean(), v) for v in set(cvoice)))
            print(f"| {tname} | {vname} | {thr:.2f} | {' / '.join(found)} ({men:.2f}, {women:.2f}) | "
                  f"{' / '.join(f'{(s[n] >= thr).mean():.3f}' for n in neu)} | {cs.mean():.3f} ({worst[1]} {worst[0]:.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
