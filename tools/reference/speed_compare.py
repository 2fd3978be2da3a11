#!/usr/bin/env python3
"""Times shoutcue against Praat (parselmouth) and openSMILE on the same 10-minute file.

    .venv/bin/python tools/reference/speed_compare.py [--minutes 10] [--repeat 3] [--bin PATH]

Builds a 10-minute WAV by concatenating EmoDB clips in file-name order
(22.05 kHz mono, 16-bit) into a temp dir, then times on that one file:
  shoutcue   `shoutcue features FILE --format csv > /dev/null` (release build;
             `cargo build --release` first; honours CARGO_TARGET_DIR / $SHOUTCUE_BIN)
  Praat      parselmouth: read + To Pitch (ac) (75-600 Hz, 10 ms) + To Intensity
  openSMILE  eGeMAPSv02 LowLevelDescriptors on the file (research-only licence;
             used here only to compare, never shipped)
Each is run --repeat times and the best wall time is kept (least disturbed by
other load on the machine). Prints wall time, x-real-time and the ratios;
targets: shoutcue >= 10x faster than parselmouth, >= 100x faster than openSMILE.
Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import parselmouth
import soundfile

import refcommon as r

TARGET_VS_PRAAT = 10.0
TARGET_VS_OPENSMILE = 100.0


def build_long_wav(path: Path, minutes: float) -> float:
    src = r.emodb_dir()
    clips = r.load_labels(src)
    want, parts, have, rate = None, [], 0, None
    for c in clips:
        x, sr = soundfile.read(str(src / c.file), dtype="int16")
        if rate is None:
            rate = sr
            want = int(minutes * 60 * sr)
        if sr != rate or x.ndim != 1:
            raise SystemExit(f"{c.file}: expected mono {rate} Hz, got {sr} Hz, shape {x.shape}")
        parts.append(x)
        have += len(x)
        if have >= want:
            break
    if have < want:  # EmoDB is ~10 min; loop over it again if asked for more
        reps = -(-want // have)
        parts = parts * reps
    audio = np.concatenate(parts)[:want]
    soundfile.write(str(path), audio, rate, subtype="PCM_16")
    return len(audio) / rate


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bin", type=Path, help="shoutcue release binary")
    args = ap.parse_args()
    if args.bin:
        os.environ["SHOUTCUE_BIN"] = str(args.bin)
    exe = r.shoutcue_bin()
    if not os.environ.get("SHOUTCUE_BIN"):
        # Make sure the release binary is current, not a stale one.
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=r.REPO, check=True)

    import opensmile  # research-only licence: comparison only, never shipped

    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
    )

    with tempfile.TemporaryDirectory(prefix="shoutcue-speed-") as tmp:
        wav = Path(tmp) / "emodb_long.wav"
        dur = build_long_wav(wav, args.minutes)
        print(f"test file: {dur:.1f} s, 22.05 kHz mono 16-bit ({wav.stat().st_size / 1e6:.1f} MB)")

        def run_shoutcue():
            subprocess.run(
                [str(exe), "features", str(wav), "--format", "csv"],
                stdout=subprocess.DEVNULL,
                check=True,
            )

        def run_praat():
            snd = parselmouth.Sound(str(wav))
            snd.to_pitch_ac(
                time_step=r.TIME_STEP_S,
                pitch_floor=r.PITCH_FLOOR_HZ,
                pitch_ceiling=r.PITCH_CEILING_HZ,
            )
            snd.to_intensity(minimum_pitch=r.PITCH_FLOOR_HZ, time_step=r.TIME_STEP_S)

        def run_opensmile():
            smile.process_file(str(wav))

        results = [
            ("shoutcue features (csv)", best_of(args.repeat, run_shoutcue)),
            ("parselmouth pitch_ac+intensity", best_of(args.repeat, run_praat)),
            ("openSMILE eGeMAPSv02 LLD", best_of(args.repeat, run_opensmile)),
        ]

    print(f"{'tool':32s} {'wall s':>8s} {'x real time':>12s}")
    for name, t in results:
        print(f"{name:32s} {t:8.3f} {dur / t:12.0f}")
    ours = results[0][1]
    vs_praat = results[1][1] / ours
    vs_smile = results[2][1] / ours
    print(f"shoutcue vs parselmouth: {vs_praat:6.1f}x faster (target >= {TARGET_VS_PRAAT:.0f}x)")
    print(f"shoutcue vs openSMILE:   {vs_smile:6.1f}x faster (target >= {TARGET_VS_OPENSMILE:.0f}x)")
    ok = vs_praat >= TARGET_VS_PRAAT and vs_smile >= TARGET_VS_OPENSMILE
    print("PASS" if ok else "FAIL: a speed target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
