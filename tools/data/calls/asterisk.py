"""Calm telephone speech for false-alarm runs: the Asterisk English prompts.

``apt-get install asterisk-core-sounds-en-wav`` installs ~25 minutes of calm,
professionally read 8 kHz prompts as many short WAVs. They are trimmed like
the EmoDB clips, concatenated in sorted path order with 0.5-1.0 s pauses,
and cut into ~5-minute mono calls with empty label files: any cue on them
is a false alarm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from . import InputError
from .audio import fade, gate_bounds, resample, write_labels, write_pcm16

SEED = 20240613
RATE = 8000
CALL_S = 300.0
PAUSE_S = (0.5, 1.0)
LEAD_S = 0.5
#: Prompts that are not calm speech, left out of the false-alarm set. The
#: one there is: ``tt-monkeys.wav`` is 16 s of screeching monkeys (Asterisk's
#: joke "all circuits busy" prompt); the detector cues on it, which is no
#: false alarm on calm speech. Both figures are in the README.
NOT_CALM_SPEECH = {"tt-monkeys.wav": "screeching monkeys, not speech"}


def build(root: Path, out: Path) -> dict:
    """Write out/asterisk_<n>.wav (+ empty .txt). Returns the manifest section."""
    root = Path(root)
    every = sorted(p for p in root.rglob("*.wav") if p.is_file())
    files = [p for p in every if p.name not in NOT_CALM_SPEECH]
    excluded = {p.name: NOT_CALM_SPEECH[p.name] for p in every if p.name in NOT_CALM_SPEECH}
    if not files:
        raise InputError(f"{root}: no .wav prompts found (apt-get install -y asterisk-core-sounds-en-wav)")
    rng = np.random.default_rng(SEED)
    prompts, skipped = [], []
    for p in files:
        try:
            x, rate = sf.read(str(p), dtype="float64", always_2d=True)
        except Exception as err:  # soundfile raises several types; name the file either way
            raise InputError(f"{p}: cannot read WAV ({err})") from err
        x = x.mean(axis=1)
        if not np.any(x):
            skipped.append(str(p.relative_to(root)))
            continue
        a, b = gate_bounds(x, rate)
        prompts.append(fade(resample(x[a:b], rate, RATE), RATE))
    # Split evenly into calls of about CALL_S (no short leftover call at the end).
    total_speech = sum(len(y) for y in prompts) + len(prompts) * np.mean(PAUSE_S) * RATE
    n_calls = max(1, int(round(total_speech / (CALL_S * RATE))))
    per_call = total_speech / n_calls
    calls, cur, done = [], [], 0.0
    for y in prompts:
        if cur and done >= per_call * (len(calls) + 1) and len(calls) < n_calls - 1:
            calls.append(cur)
            cur = []
        cur += [np.zeros(int(round((LEAD_S if not cur else rng.uniform(*PAUSE_S)) * RATE))), y]
        done += len(y) + np.mean(PAUSE_S) * RATE
    calls.append(cur)
    entries, total = [], 0.0
    for i, parts in enumerate(calls, start=1):
        x = np.concatenate(parts + [np.zeros(int(LEAD_S * RATE))])
        path = out / f"asterisk_{i}.wav"
        clipped = write_pcm16(path, x, RATE)
        write_labels(path.with_suffix(".txt"), [])
        dur = len(x) / RATE
        total += dur
        entries.append({"path": str(Path("asterisk") / path.name), "labels": str(Path("asterisk") / path.with_suffix(".txt").name),
                        "rate": RATE, "channels": 1, "encoding": "pcm16", "duration_s": round(dur, 3),
                        "shout_s": 0.0, "clipped_samples": clipped})
    return {"source": str(root), "prompts": len(files) - len(skipped), "skipped_silent": skipped,
            "excluded_not_calm_speech": excluded,
            "calls": entries, "total_minutes": round(total / 60, 2)}
