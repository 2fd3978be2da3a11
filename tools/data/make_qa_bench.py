#!/usr/bin/env python3
"""Build a folder of stereo recorded calls, over an hour in all, to measure
`shoutcue qa` throughput (issue: >= 2,000x real time on one core, decoding
and resampling included).

Each call pairs a customer track from out/eval (EmoDB sentences, shouting
included) with an agent track cut from the calm asterisk prompt calls, agent
left and customer right, and is written in the formats recorded calls come
in, in turn: 8 kHz G.711 mu-law, 8 kHz 16-bit PCM, 16 kHz 16-bit PCM and
44.1 kHz 16-bit PCM (the last two are resampled by shoutcue to 8 kHz).
Needs `tools/data/make_calls.py --only eval` and `--only asterisk` first.

    .venv/bin/python tools/data/make_qa_bench.py [--eval out/eval] [--out out/qa-bench] [--copies 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calls.audio import write_mulaw_wav, write_pcm16  # noqa: E402

FORMATS = [("mulaw8k", 8000), ("pcm8k", 8000), ("pcm16k", 16000), ("pcm44k", 44100)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", default="out/eval", type=Path)
    ap.add_argument("--out", default="out/qa-bench", type=Path)
    ap.add_argument("--copies", default=3, type=int, help="times each customer track is used (new agent cut, new format)")
    a = ap.parse_args()
    customers = sorted(p for v in ("clean", "noisy") for p in a.eval.glob(f"*/{v}/*.wav"))
    agents = sorted(a.eval.glob("asterisk/*.wav"))
    if not customers or not agents:
        print(f"{a.eval}: no eval or asterisk calls; run tools/data/make_calls.py first", file=sys.stderr)
        return 1
    agent = np.concatenate([sf.read(str(p), dtype="float32")[0] for p in agents])
    a.out.mkdir(parents=True, exist_ok=True)
    total, pos, k = 0.0, 0, 0
    for copy in range(a.copies):
        for c in customers:
            cust, rate = sf.read(str(c), dtype="float32")
            assert rate == 8000, f"{c}: expected 8 kHz"
            n = len(cust)
            if pos + n > len(agent):
                pos = 0
            ag = 0.5 * agent[pos : pos + n]
            pos += n
            stereo = np.stack([ag, cust])
            name, out_rate = FORMATS[k % len(FORMATS)]
            if out_rate != 8000:
                stereo = resample_poly(stereo, out_rate, 8000, axis=1).astype(np.float32)
            path = a.out / f"{k:03d}_{c.parent.parent.name}_{c.parent.name}_{c.stem}_{name}.wav"
            (write_mulaw_wav if name.startswith("mulaw") else write_pcm16)(path, np.clip(stereo, -1, 1), out_rate)
            total += n / 8000
            k += 1
    print(f"{a.out}: {k} stereo calls, {total / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
