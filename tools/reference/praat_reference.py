#!/usr/bin/env python3
"""Writes the committed outside-reference data used by tests/reference.rs.

    .venv/bin/python tools/reference/praat_reference.py

Subset (chosen by rule, before looking at any result): for each of the six
EmoDB speakers and each of neutral, anger, happiness, sadness, the first clip
in file-name order -> 24 clips.

Outputs (all under tests/reference/):
  praat_pitch.csv   file,t,f0_hz   Praat "To Pitch (ac)" on the original 22.05 kHz
                    files: floor 75 Hz, ceiling 600 Hz, time step 10 ms, other
                    settings Praat's defaults; Praat's own frame times; 0 = unvoiced.
  loudness.csv      file,lufs_orig,lufs_8k   pyloudnorm BS.1770-4 integrated
                    loudness of the original and of the same audio resampled to
                    8 kHz with scipy.signal.resample_poly.
  telephone/*.wav   the same clips band-limited to 300-3400 Hz, 8 kHz, G.711
                    mu-law WAV (format tag 7), ~16 KB each.
"""

from __future__ import annotations

import sys
from importlib.metadata import version

import numpy as np
import parselmouth

import refcommon as r

CMD = "# regenerate: .venv/bin/python tools/reference/praat_reference.py"


def main() -> int:
    src = r.emodb_dir()
    subset = r.reference_subset(r.load_labels(src))
    if len(subset) != 6 * len(r.SUBSET_EMOTIONS):
        print(f"expected 24 clips, the subset rule gave {len(subset)}", file=sys.stderr)
        return 1
    out = r.REFERENCE_DIR
    tel = out / "telephone"
    tel.mkdir(parents=True, exist_ok=True)
    for old in tel.glob("*.wav"):
        old.unlink()

    versions = (
        f"# parselmouth {parselmouth.__version__} (Praat {parselmouth.PRAAT_VERSION}), "
        f"pyloudnorm {version('pyloudnorm')}, scipy {version('scipy')}, numpy {np.__version__}"
    )
    pitch_lines = [CMD, versions, "file,t,f0_hz"]
    loud_lines = [CMD, versions, "file,speaker,emotion,lufs_orig,lufs_8k"]
    for c in subset:
        path = src / c.file
        t, f0 = r.praat_pitch(path)
        pitch_lines += [f"{c.file},{ti:.6f},{fi:.3f}" for ti, fi in zip(t, f0)]

        x, rate = r.read_mono(path)
        lufs_orig = r.integrated_lufs(x, rate)
        lufs_8k = r.integrated_lufs(r.to_8k(x, rate), r.TEL_RATE)
        loud_lines.append(f"{c.file},{c.speaker},{c.emotion},{lufs_orig:.3f},{lufs_8k:.3f}")

        r.write_mulaw_wav(tel / c.file, r.telephone(x, rate))
        voiced = int((f0 > 0).sum())
        print(f"{c.file}  {c.emotion:9s}  frames {len(f0):3d}  voiced {voiced:3d}  "
              f"LUFS {lufs_orig:6.2f} / 8k {lufs_8k:6.2f}")

    (out / "praat_pitch.csv").write_text("\n".join(pitch_lines) + "\n")
    (out / "loudness.csv").write_text("\n".join(loud_lines) + "\n")
    size = sum(p.stat().st_size for p in tel.glob("*.wav"))
    print(f"wrote {len(subset)} clips; telephone WAVs {size / 1024:.0f} KiB total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
