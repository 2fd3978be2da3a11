"""The EmoDB clips: labels checked, audio trimmed, cached per sample rate."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from . import InputError
from .audio import fade, gate_bounds, resample

#: The sample rate of the copy in ../shared/data/emodb.
EMODB_RATE = 22050
EMOTIONS = ("anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness")
#: Calm material: what a customer's (or agent's) normal voice is built from.
CALM = ("neutral", "boredom")

#: Speaker split, fixed: dev speakers may be used to tune anything, held-out never.
SPLITS = {"dev": ("03", "08", "10", "13"), "heldout": ("11", "09")}
SEX = {"03": "m", "10": "m", "11": "m", "08": "f", "09": "f", "13": "f"}


@dataclass
class Clip:
    """One EmoDB sentence, trimmed to its speech and peak-normalised to 0 dBFS.

    Peak-normalised again after trimming because a few clips in this copy sit
    up to 15 dB below full scale; every gain in the generator is then relative
    to a clip peak of 1.0.
    """

    name: str
    speaker: str
    sex: str
    emotion: str
    trim_s: tuple[float, float]  # kept part of the original 2.0 s clip
    _native: np.ndarray = field(repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def audio(self, rate: int) -> np.ndarray:
        """The trimmed, faded, peak-normalised clip at ``rate`` (cached)."""
        if rate not in self._cache:
            y = fade(resample(self._native, EMODB_RATE, rate), rate)
            self._cache[rate] = y / np.max(np.abs(y))
        return self._cache[rate]

    @property
    def seconds(self) -> float:
        """Trimmed length in seconds (rate-independent, for placing utterances)."""
        return len(self._native) / EMODB_RATE


class EmoDB:
    """All clips of the corpus directory, loaded once."""

    def __init__(self, root: Path):
        self.root = Path(root)
        labels = self.root / "labels.csv"
        if not labels.is_file():
            raise InputError(f"{labels}: EmoDB labels file not found (pass --emodb DIR or set SHOUTCUE_EMODB)")
        with labels.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        need = {"file", "speaker", "emotion"}
        if not rows or not need <= set(rows[0]):
            raise InputError(f"{labels}: expected columns {sorted(need)}, got {sorted(rows[0]) if rows else 'no rows'}")
        self.clips: dict[str, Clip] = {}
        for i, row in enumerate(rows, start=2):
            name, spk, emo = row["file"], row["speaker"].zfill(2), row["emotion"]
            if emo not in EMOTIONS:
                raise InputError(f"{labels}:{i}: unknown emotion {emo!r}, expected one of {EMOTIONS}")
            path = self.root / name
            try:
                x, rate = sf.read(str(path), dtype="float64", always_2d=True)
            except Exception as err:  # soundfile raises several types; name the file either way
                raise InputError(f"{path}: cannot read WAV ({err})") from err
            if rate != EMODB_RATE or x.shape[1] != 1:
                raise InputError(f"{path}: expected {EMODB_RATE} Hz mono, got {rate} Hz with {x.shape[1]} channels")
            x = x[:, 0]
            if len(x) < rate // 2:
                raise InputError(f"{path}: clip is {len(x) / rate:.3f} s long, expected about 2.0 s (truncated file?)")
            if not np.any(x):
                raise InputError(f"{path}: clip is all zeros")
            s, e = gate_bounds(x, rate)
            self.clips[name] = Clip(name, spk, SEX.get(spk, row.get("sex", "?")), emo,
                                    (s / rate, e / rate), x[s:e])

    def of(self, speaker: str, emotions: tuple[str, ...] | str) -> list[Clip]:
        """The speaker's clips of the given emotion(s), sorted by name (stable input for seeded shuffles)."""
        if isinstance(emotions, str):
            emotions = (emotions,)
        out = sorted((c for c in self.clips.values() if c.speaker == speaker and c.emotion in emotions),
                     key=lambda c: c.name)
        return out


class Pool:
    """Draws clips without replacement in a seeded order.

    ``groups`` are shuffled one by one and drawn in order (say neutral before
    boredom, so a call's opening gets the neutral sentences). Only when the
    pool runs dry does it start over, and ``reused`` counts that, so a call
    never silently repeats a sentence.
    """

    def __init__(self, groups: list[list[Clip]], rng: np.random.Generator, label: str):
        self.all = [c for g in groups for c in g]
        if not self.all:
            raise InputError(f"EmoDB: no clips for {label}")
        self.rng, self.label = rng, label
        self.order = [g[i] for g in groups for i in rng.permutation(len(g))]
        self.drawn = 0

    @property
    def reused(self) -> int:
        """How many draws repeated a clip already drawn."""
        return max(0, self.drawn - len(self.all))

    def take(self) -> Clip:
        if not self.order:
            self.order = [self.all[i] for i in self.rng.permutation(len(self.all))]
        self.drawn += 1
        return self.order.pop(0)
