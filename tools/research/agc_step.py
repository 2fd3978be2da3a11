#!/usr/bin/env python3
"""Time constants of the real AGCs the webrtc_agc and speex_agc renders use.

Calm EmoDB speech (speaker 03's neutral sentences, back to back) at
-40 dBFS for 12 s, then the same speech 20 dB louder for 12 s, then back
down for 12 s, through `calls.audio.real_agc`. Prints, per AGC, how much
of the 20 dB step is left at the output 0.5 s, 2 s and 10 s after each
step, and the time until the output level settles within 3 dB of where it
ends. The level is the RMS of voiced-ish 100 ms windows (above -60 dBFS).

    .venv/bin/python tools/research/agc_step.py [--emodb ../shared/data/emodb]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from calls.audio import db_to_gain, real_agc, resample, rms  # noqa: E402

RATE = 8000
SEG_S = 12.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--emodb", type=Path, default=Path("../shared/data/emodb"))
    a = ap.parse_args()
    clips = sorted(a.emodb.glob("03*N*.wav"))
    if not clips:
        print(f"agc_step: no neutral clips of speaker 03 under {a.emodb}", file=sys.stderr)
        return 1
    parts = []
    for c in clips:
        x, r = sf.read(str(c))
        parts += [resample(x, r, RATE), np.zeros(int(0.3 * RATE))]
    speech = np.concatenate(parts)
    n = int(SEG_S * RATE)
    speech = np.tile(speech, int(np.ceil(3 * n / len(speech))))[: 3 * n]
    speech *= db_to_gain(-40.0) / rms(speech[np.abs(speech) > 1e-4])
    gain = np.concatenate([np.ones(n), np.full(n, db_to_gain(20.0)), np.ones(n)])
    x = speech * gain
    win = int(0.1 * RATE)
    print("| AGC | step | left of the 20 dB after 0.5 s | after 2 s | after 10 s | settled within 3 dB after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in ("webrtc", "speex"):
        y = real_agc(x, RATE, kind)

        def level(sig: np.ndarray, t0: float, t1: float) -> float:
            w = [sig[i:i + win] for i in range(int(t0 * RATE), int(t1 * RATE) - win, win)]
            v = [rms(s) for s in w if rms(s) > db_to_gain(-60.0)]
            return 20 * np.log10(np.mean(v)) if v else float("nan")

        for name, t in (("up", SEG_S), ("down", 2 * SEG_S)):
            before = level(y, t - 3.0, t)
            end = level(y, t + SEG_S - 3.0, t + SEG_S)
            sign = 1.0 if name == "up" else -1.0
            left = [sign * (level(y, t + d, t + d + 0.5) - before) for d in (0.5, 2.0, 10.0)]
            settled = next((d for d in np.arange(0.0, SEG_S - 0.5, 0.1)
                            if all(abs(level(y, t + e, t + e + 0.5) - end) <= 3.0
                                   for e in np.arange(d, SEG_S - 0.5, 0.5))), float("nan"))
            print(f"| {kind} | {name} 20 dB | {left[0]:.1f} dB | {left[1]:.1f} dB | {left[2]:.1f} dB | {settled:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
