"""Shared helpers for the outside references (Praat pitch, BS.1770 loudness).

Used by praat_reference.py, compare_reference.py and speed_compare.py; never
shipped. Everything here is deterministic so the committed reference data can
be regenerated bit for bit from the same EmoDB copy and package versions.
"""

from __future__ import annotations

import csv
import os
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import parselmouth
import pyloudnorm
import soundfile
from scipy import signal

REPO = Path(__file__).resolve().parents[2]
REFERENCE_DIR = REPO / "tests" / "reference"

# Praat settings the shoutcue pitch tracker is compared against. Everything
# not named here is Praat's default for "To Pitch (ac)...".
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 600.0
TIME_STEP_S = 0.01

# Telephone channel model: the classic 300-3400 Hz voice band at 8 kHz, G.711 mu-law.
TEL_RATE = 8000
TEL_BAND_HZ = (300.0, 3400.0)
TEL_FILTER_ORDER = 4  # per edge; Butterworth, applied forward-backward (zero phase)

# Acceptance thresholds (same as tests/reference.rs).
GPE_RELATIVE = 0.20  # a frame is a gross error if |f0 - praat| / praat > 20 %
MAX_GPE_FULL = 0.03
MIN_VOICING_AGREEMENT = 0.90
MAX_GPE_TELEPHONE = 0.06
MAX_LOUDNESS_GAP_LU = 0.5
MAX_MATCH_DT_S = 0.005

# The reference subset: for each speaker, and for each of these emotions, the
# first clip in file-name order. Chosen by rule, before looking at any result.
SUBSET_EMOTIONS = ("neutral", "anger", "happiness", "sadness")


def emodb_dir() -> Path:
    """EmoDB location: $SHOUTCUE_EMODB, else ../shared/data/emodb beside the repo."""
    env = os.environ.get("SHOUTCUE_EMODB")
    d = Path(env) if env else REPO.parent / "shared" / "data" / "emodb"
    if not (d / "labels.csv").is_file():
        raise SystemExit(
            f"EmoDB not found: {d}/labels.csv is missing (set SHOUTCUE_EMODB to the folder)"
        )
    return d


@dataclass(frozen=True)
class Clip:
    file: str
    speaker: str
    sex: str
    emotion: str


def load_labels(d: Path) -> list[Clip]:
    with open(d / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    clips = [Clip(r["file"], r["speaker"], r["sex"], r["emotion"]) for r in rows]
    return sorted(clips, key=lambda c: c.file)


def reference_subset(clips: list[Clip]) -> list[Clip]:
    """First clip (by file name) per speaker x emotion in SUBSET_EMOTIONS."""
    chosen = {}
    for c in clips:  # already sorted by file name
        key = (c.speaker, c.emotion)
        if c.emotion in SUBSET_EMOTIONS and key not in chosen:
            chosen[key] = c
    return sorted(chosen.values(), key=lambda c: c.file)


def praat_pitch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Praat autocorrelation pitch: (frame times in s, f0 in Hz with 0 = unvoiced)."""
    snd = parselmouth.Sound(str(path))
    pitch = snd.to_pitch_ac(
        time_step=TIME_STEP_S,
        pitch_floor=PITCH_FLOOR_HZ,
        pitch_ceiling=PITCH_CEILING_HZ,
    )
    f0 = pitch.selected_array["frequency"].astype(np.float64)
    return np.asarray(pitch.xs(), dtype=np.float64), f0


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    x, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    return x[:, 0], rate


def to_8k(x: np.ndarray, rate: int) -> np.ndarray:
    """Polyphase resampling to 8 kHz (scipy's default Kaiser FIR)."""
    g = np.gcd(int(rate), TEL_RATE)
    return signal.resample_poly(x, TEL_RATE // g, int(rate) // g)


def telephone(x: np.ndarray, rate: int) -> np.ndarray:
    """Band-limit to 300-3400 Hz at 8 kHz, ready for mu-law encoding."""
    y = to_8k(x, rate)
    sos = signal.butter(
        TEL_FILTER_ORDER, TEL_BAND_HZ, btype="bandpass", fs=TEL_RATE, output="sos"
    )
    y = signal.sosfiltfilt(sos, y)
    peak = np.max(np.abs(y))
    if peak > 1.0:  # resampling/filter overshoot would clip in the codec
        y = y / peak
    return y


def mulaw_encode(x: np.ndarray) -> bytes:
    """ITU-T G.711 mu-law encoder (the reference segment/bias algorithm).

    Hand-rolled because it is 15 lines and libsndfile's ULAW writer is not
    guaranteed to emit a plain format-tag-7 WAV; numpy has no G.711.
    """
    bias, clip = 0x84, 32635
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    mag = np.minimum(np.abs(pcm), clip) + bias
    # Segment = position of the highest set bit above bit 7 (0..7).
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    code = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return code.astype(np.uint8).tobytes()


def mulaw_decode(codes: bytes) -> np.ndarray:
    """Inverse of mulaw_encode, for round-trip checks (float in -1..1)."""
    u = ~np.frombuffer(codes, dtype=np.uint8).astype(np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -mag, mag).astype(np.float64) / 32768.0


def write_mulaw_wav(path: Path, x: np.ndarray, rate: int = TEL_RATE) -> None:
    """Mono G.711 mu-law WAV: fmt tag 7, 8 bits, with the fact chunk non-PCM WAVs carry."""
    data = mulaw_encode(x)
    fmt = struct.pack("<HHIIHHH", 7, 1, rate, rate, 1, 8, 0)  # cbSize = 0
    fact = struct.pack("<I", len(data))
    pad = b"\x00" if len(data) % 2 else b""
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", len(fact))
        + fact
        + b"data"
        + struct.pack("<I", len(data))
        + data
        + pad
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def integrated_lufs(x: np.ndarray, rate: int, design: str = "K-weighting") -> float:
    """BS.1770-4 gated integrated loudness (pyloudnorm; 400 ms blocks, 75 % overlap).

    design "K-weighting" is pyloudnorm's default: a 1500 Hz / +4 dB shelf that
    approximates the BS.1770 filter. "DeMan" is Brecht De Man's exact fit of
    the BS.1770 48 kHz coefficients, the design libebur128 (and the ebur128
    crate) re-derives for any rate. The two drift apart at low rates: about
    0.2 LU at 8 kHz on EmoDB speech.
    """
    return float(pyloudnorm.Meter(rate, filter_class=design).integrated_loudness(x))


def shoutcue_bin() -> Path:
    """The release binary; $SHOUTCUE_BIN overrides. Builds it if missing."""
    env = os.environ.get("SHOUTCUE_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    exe = target / "release" / "shoutcue"
    if not exe.is_file():
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=REPO, check=True)
    return exe


def shoutcue_features(exe: Path, path: Path) -> dict[str, np.ndarray]:
    """Runs `shoutcue features --format csv` and returns columns by name."""
    out = subprocess.run(
        [str(exe), "features", str(path), "--format", "csv"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"shoutcue features {path} failed: {out.stderr.strip()}")
    lines = out.stdout.strip().splitlines()
    header = lines[0].split(",")
    rows = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    if rows.ndim != 2 or rows.shape[1] != len(header):
        raise SystemExit(f"shoutcue features {path}: malformed CSV output")
    return {name: rows[:, i] for i, name in enumerate(header)}


def shoutcue_loudness(exe: Path, path: Path) -> float:
    import json

    out = subprocess.run(
        [str(exe), "loudness", str(path)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"shoutcue loudness {path} failed: {out.stderr.strip()}")
    v = json.loads(out.stdout)["integrated_lufs"]
    return float("-inf") if v is None else float(v)


@dataclass
class PitchMatch:
    """Praat frames matched to the nearest shoutcue frame (|dt| <= 5 ms)."""

    praat: np.ndarray  # f0, 0 = unvoiced
    ours: np.ndarray  # f0, 0 = unvoiced
    unmatched: int = 0


def match_frames(
    praat_t: np.ndarray, praat_f0: np.ndarray, t: np.ndarray, f0: np.ndarray
) -> PitchMatch:
    idx = np.clip(np.searchsorted(t, praat_t), 1, len(t) - 1)
    left, right = t[idx - 1], t[idx]
    idx = np.where(np.abs(praat_t - left) <= np.abs(praat_t - right), idx - 1, idx)
    ok = np.abs(t[idx] - praat_t) <= MAX_MATCH_DT_S + 1e-9
    return PitchMatch(praat_f0[ok], f0[idx[ok]], int((~ok).sum()))


@dataclass
class PitchStats:
    frames: int
    both_voiced: int
    gross: int
    voicing_agree: int
    fine_errors: list  # relative errors on gross-correct frames
    praat_voiced: int = 0
    ours_voiced: int = 0

    @classmethod
    def empty(cls) -> "PitchStats":
        return cls(0, 0, 0, 0, [])

    def add(self, m: PitchMatch) -> None:
        pv, ov = m.praat > 0, m.ours > 0
        both = pv & ov
        rel = np.abs(m.ours[both] - m.praat[both]) / m.praat[both]
        self.frames += len(m.praat)
        self.both_voiced += int(both.sum())
        self.gross += int((rel > GPE_RELATIVE).sum())
        self.voicing_agree += int((pv == ov).sum())
        self.fine_errors.extend(rel[rel <= GPE_RELATIVE].tolist())
        self.praat_voiced += int(pv.sum())
        self.ours_voiced += int(ov.sum())

    def merge(self, o: "PitchStats") -> None:
        self.frames += o.frames
        self.both_voiced += o.both_voiced
        self.gross += o.gross
        self.voicing_agree += o.voicing_agree
        self.fine_errors.extend(o.fine_errors)
        self.praat_voiced += o.praat_voiced
        self.ours_voiced += o.ours_voiced

    @property
    def gpe(self) -> float:
        return self.gross / self.both_voiced if self.both_voiced else float("nan")

    @property
    def voicing(self) -> float:
        return self.voicing_agree / self.frames if self.frames else float("nan")

    @property
    def fine_pct(self) -> float:
        return 100 * float(np.median(self.fine_errors)) if self.fine_errors else float("nan")
