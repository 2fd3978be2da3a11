"""Utterances placed on a call's channels, and the variants rendered from them.

A call is a list of utterances (which clip, which channel, when, at what
gain). Every variant is rendered from the same list, so labels, clips and
timing are identical across clean / AGC / mu-law / noisy / levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import (db_to_gain, fade, pink_noise, pitch_shift, real_agc, rms, rms_db, telephone_band, write_labels,
                    write_mulaw_wav, write_pcm16)
from .corpus import Clip

#: Pause between utterances (customer to customer, or agent back to customer), seconds.
PAUSE_S = (0.6, 1.5)
#: The agent answers this long after the customer stops: a realistic reaction
#: time, after the coach's cue (~0.35 s), so it counts as saying the cue.
REACT_S = (0.8, 1.0)
#: Gap between the sentences of one run (a continuous outburst, or one long
#: turn), below the coach's 0.25 s pause so the run is one stretch of speech.
RUN_GAP_S = (0.10, 0.22)
#: Silence before the first and after the last utterance of a call.
LEAD_S = (0.5, 0.8)
TAIL_S = 1.0

#: Level of each utterance in the clean render, RMS dBFS: every anger sentence
#: 12 dB above every other one, the loudness step the peak-normalised clips
#: hide. -22 leaves room for the peakiest clip (crest factor 20 dB).
SHOUT_DB = -22.0
CALM_DB = -34.0
#: No utterance peaks above this (leaves headroom for band-limiting and noise).
PEAK_CEILING = 0.9
#: AGC variant: every utterance to this RMS, the gain slewing over AGC_RAMP_S.
AGC_TARGET_DB = -20.0
AGC_RAMP_S = 0.050
#: AGC variant: peak ceiling (limiter), linear.
AGC_PEAK = 0.95
#: Noisy variant: pink noise this many dB below the mean power of the speech.
NOISE_SNR_DB = 20.0

#: Levels variant: each calm utterance this many dB about CALM_DB (uniform),
#: each shouted one this far above CALM_DB: some shouting is no louder than
#: calm speech (a distant or AGC-levelled caller), calm speech wanders.
LEVELS_CALM_DB = (-4.0, 4.0)
LEVELS_SHOUT_DB = (0.0, 12.0)

#: Peak variant: every utterance peaks here, dBFS, whatever its loudness:
#: the clips as EmoDB ships them (peak-normalised), no level step at all.
PEAK_DB = -3.0

#: Step variant: the peak-normalised clips again, every anger sentence this
#: many dB louder (uniform, seeded): the data README's recipe taken literally.
STEP_DB = (10.0, 20.0)

VARIANTS = ("clean", "agc", "mulaw8k", "noisy", "levels", "peak", "step", "webrtc_agc", "speex_agc",
            "voice_up", "voice_down")
#: Pitch and formant shift of the voice_up / voice_down renders, cents.
VOICE_SHIFT_CENTS = 150


@dataclass
class Utt:
    """One sentence (or slice of one) on one channel."""

    channel: str  # "customer" or "agent"
    start: float  # seconds; rendered at round(start * rate)
    clip: Clip
    level_db: float  # RMS of the utterance in the clean render, dBFS
    label: str | None = None  # "shout" for customer anger
    piece: tuple[float, float] | None = None  # slice of the trimmed clip, seconds

    def audio(self, rate: int) -> np.ndarray:
        y = self.clip.audio(rate)
        if self.piece is not None:
            a, b = (int(round(t * rate)) for t in self.piece)
            y = fade(y[a:b], rate)
        return y

    def seconds(self) -> float:
        """Length in seconds, independent of the render rate (used for timing)."""
        if self.piece is not None:
            return self.piece[1] - self.piece[0]
        return self.clip.seconds

    def gain(self, rate: int) -> float:
        """Linear gain that puts this utterance at ``level_db`` RMS, or less if
        its peak would pass ``PEAK_CEILING`` (a handful of very peaky clips)."""
        y = self.audio(rate)
        return min(db_to_gain(self.level_db - rms_db(y)), PEAK_CEILING / float(np.max(np.abs(y))))

    def capped(self, rate: int) -> bool:
        """True when the peak ceiling, not the level, set the gain."""
        return self.gain(rate) < db_to_gain(self.level_db - rms_db(self.audio(rate))) - 1e-12

    def span(self, rate: int) -> tuple[int, int]:
        n0 = int(round(self.start * rate))
        return n0, n0 + len(self.audio(rate))


class Call:
    """A call: its channels (in file order) and the utterances on them."""

    def __init__(self, channels: tuple[str, ...]):
        self.channels = channels
        self.utts: list[Utt] = []
        self.tail = TAIL_S

    def add(self, utt: Utt) -> Utt:
        if utt.channel not in self.channels:
            raise ValueError(f"channel {utt.channel!r} not in {self.channels}")
        self.utts.append(utt)
        return utt

    def length(self, rate: int) -> int:
        end = max((u.span(rate)[1] for u in self.utts), default=0)
        return end + int(round(self.tail * rate))

    def duration(self, rate: int) -> float:
        return self.length(rate) / rate

    def labels(self, rate: int) -> list[tuple[float, float, str]]:
        """Labelled spans (customer only), in time order, at the sample positions used for ``rate``."""
        out = []
        for u in sorted(self.utts, key=lambda u: u.start):
            if u.label and u.channel == "customer":
                a, b = u.span(rate)
                out.append((a / rate, b / rate, u.label))
        return out

    def shout_seconds(self, rate: int) -> float:
        return sum(b - a for a, b, lab in self.labels(rate) if lab == "shout")

    # --- rendering ----------------------------------------------------------

    def _clean(self, ch: str, rate: int, n: int) -> np.ndarray:
        y = np.zeros(n)
        for u in self.utts:
            if u.channel == ch:
                a, b = u.span(rate)
                y[a:b] += u.gain(rate) * u.audio(rate)
        return y

    def _levels(self, ch: str, rate: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Each utterance at a level drawn around its role: calm ones scattered
        about ``CALM_DB``, shouted ones anywhere from ``CALM_DB`` up to the
        clean render's step, so that level alone cannot tell them apart."""
        y = np.zeros(n)
        for u in sorted((u for u in self.utts if u.channel == ch), key=lambda u: u.start):
            a, b = u.span(rate)
            lo, hi = LEVELS_SHOUT_DB if u.label == "shout" else LEVELS_CALM_DB
            x = u.audio(rate)
            level = CALM_DB + float(rng.uniform(lo, hi))
            g = min(db_to_gain(level - rms_db(x)), PEAK_CEILING / float(np.max(np.abs(x))))
            y[a:b] += g * x
        return y

    def _peak(self, ch: str, rate: int, n: int) -> np.ndarray:
        """Each utterance scaled to peak at ``PEAK_DB``: a shouted sentence,
        peakier than a calm one, ends up with less power than it."""
        y = np.zeros(n)
        for u in self.utts:
            if u.channel == ch:
                a, b = u.span(rate)
                x = u.audio(rate)
                y[a:b] += db_to_gain(PEAK_DB) / float(np.max(np.abs(x))) * x
        return y

    def _step(self, ch: str, rate: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """The ``peak`` render with every shouted utterance ``STEP_DB`` louder
        (calm ones turned down by as much, so nothing clips)."""
        y = np.zeros(n)
        for u in sorted((u for u in self.utts if u.channel == ch), key=lambda u: u.start):
            a, b = u.span(rate)
            x = u.audio(rate)
            down = 0.0 if u.label == "shout" else float(rng.uniform(*STEP_DB))
            y[a:b] += db_to_gain(PEAK_DB - down) / float(np.max(np.abs(x))) * x
        return y

    def _agc(self, ch: str, rate: int, n: int, stats: dict) -> np.ndarray:
        """Each utterance to ``AGC_TARGET_DB`` RMS; the gain ramps from the
        previous utterance's value over ``AGC_RAMP_S``, as a line AGC slews."""
        y = np.zeros(n)
        target = db_to_gain(AGC_TARGET_DB)
        ramp = int(round(AGC_RAMP_S * rate))
        prev = None
        levels = []
        for u in sorted((u for u in self.utts if u.channel == ch), key=lambda u: u.start):
            a, b = u.span(rate)
            x = u.gain(rate) * u.audio(rate)
            g = target / rms(x)
            gains = np.full(len(x), g)
            if prev is not None:
                k = min(ramp, len(x))
                gains[:k] = prev + (g - prev) * (np.arange(k) + 1) / ramp
            # The line's peak limiter: a few clips have a crest factor near 20 dB
            # and would clip at -20 dBFS RMS; turn the whole utterance down instead.
            peak = float(np.max(np.abs(gains * x)))
            if peak > AGC_PEAK:
                gains *= AGC_PEAK / peak
                stats["agc_limited"] = stats.get("agc_limited", 0) + 1
            y[a:b] += gains * x
            levels.append(rms_db(y[a:b]))
            prev = float(gains[-1])
        if levels:
            stats.setdefault("agc_utt_rms_db", []).extend(levels)
        return y

    def render(self, rate: int, variant: str, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
        """The variant's samples, (channels, n) float, and figures about it."""
        n = self.length(rate)
        stats: dict = {}
        if variant == "agc":
            chans = [self._agc(ch, rate, n, stats) for ch in self.channels]
        elif variant == "step":
            if rng is None:
                raise ValueError("step variant needs an rng")
            chans = [self._step(ch, rate, n, rng) for ch in self.channels]
        elif variant == "peak":
            chans = [self._peak(ch, rate, n) for ch in self.channels]
        elif variant == "levels":
            if rng is None:
                raise ValueError("levels variant needs an rng")
            chans = [self._levels(ch, rate, n, rng) for ch in self.channels]
        else:
            chans = [self._clean(ch, rate, n) for ch in self.channels]
        x = np.vstack(chans)
        if variant == "mulaw8k":
            x = telephone_band(x, rate)
        elif variant in ("voice_up", "voice_down"):
            c = VOICE_SHIFT_CENTS if variant == "voice_up" else -VOICE_SHIFT_CENTS
            x = np.vstack([pitch_shift(ch, rate, c) for ch in x])
        elif variant in ("webrtc_agc", "speex_agc"):
            x = np.vstack([real_agc(ch, rate, variant.split("_")[0]) for ch in x])
        elif variant == "noisy":
            if rng is None:
                raise ValueError("noisy variant needs an rng")
            for i, ch in enumerate(self.channels):
                spans = [u.span(rate) for u in self.utts if u.channel == ch]
                if not spans:
                    continue
                speech = np.concatenate([x[i, a:b] for a, b in spans])
                noise_rms = rms(speech) * db_to_gain(-NOISE_SNR_DB)
                x[i] += noise_rms * pink_noise(n, rng)
                calm = [u.span(rate) for u in self.utts if u.channel == ch and u.label != "shout"]
                if calm:
                    calm_rms = rms(np.concatenate([chans[i][a:b] for a, b in calm]))
                    stats.setdefault("snr_calm_db", []).append(20 * math.log10(calm_rms / noise_rms))
        return x, stats

    def write(self, path: Path, rate: int, variant: str, rng: np.random.Generator | None = None) -> dict:
        """Render and write ``path`` (.wav) and its labels (.txt). Returns figures for the manifest."""
        x, stats = self.render(rate, variant, rng)
        if x.shape[0] == 1:
            x = x[0]
        if variant == "mulaw8k":
            clipped = write_mulaw_wav(path, x, rate)
        else:
            clipped = write_pcm16(path, x, rate)
        write_labels(path.with_suffix(".txt"), self.labels(rate))
        stats["clipped_samples"] = clipped
        return stats

    def utterance_table(self, rate: int) -> list[dict]:
        """Every utterance, for manifests: channel, clip, emotion, times, gain."""
        rows = []
        for u in sorted(self.utts, key=lambda u: (u.start, u.channel)):
            a, b = u.span(rate)
            row = {"channel": u.channel, "clip": u.clip.name, "speaker": u.clip.speaker,
                   "emotion": u.clip.emotion, "start": round(a / rate, 6), "end": round(b / rate, 6),
                   "level_db": round(u.level_db, 2),
                   "gain_db_re_peak": round(20 * math.log10(u.gain(rate)), 2)}
            if u.piece:
                row["piece"] = [round(t, 3) for t in u.piece]
            if u.label:
                row["label"] = u.label
            if u.capped(rate):
                row["peak_capped"] = True
            rows.append(row)
        return rows


class Conversation:
    """Places utterances one after another with realistic timing.

    ``t`` is where the last utterance ended. The customer speaks after a
    pause of ``PAUSE_S``; the agent answers ``REACT_S`` after the customer
    stops, so the agent only ever talks in the customer's pauses (overtalk
    scenarios add utterances to the ``Call`` directly).
    """

    def __init__(self, call: Call, rng: np.random.Generator):
        self.call, self.rng = call, rng
        self.t = float(rng.uniform(*LEAD_S))
        self.first = True

    def _u(self, lo_hi: tuple[float, float]) -> float:
        return float(self.rng.uniform(*lo_hi))

    def customer(self, clip: Clip, level_db: float, label: str | None = None,
                 gap: tuple[float, float] = PAUSE_S, piece: tuple[float, float] | None = None) -> Utt:
        start = self.t if self.first else self.t + self._u(gap)
        u = self.call.add(Utt("customer", start, clip, level_db, label, piece))
        self.first = False
        self.t = start + u.seconds()
        return u

    def agent(self, clip: Clip, level_db: float, react: tuple[float, float] = REACT_S,
              piece: tuple[float, float] | None = None) -> Utt:
        start = self.t if self.first else self.t + self._u(react)
        u = self.call.add(Utt("agent", start, clip, level_db, piece=piece))
        self.first = False
        self.t = start + u.seconds()
        return u
