"""Speaker-split evaluation calls (customer only, mono, 8 kHz) under out/eval/.

Per speaker, all of their clips are spread over a few ~60-90 s calls. Each
call opens with 4-6 calm sentences (neutral; topped up with boredom only
for a speaker with too few neutral clips), then a seeded mix of every
other clip, anger grouped in runs of 1-3 sentences, each anger sentence
labelled ``shout``. The same call is rendered in every variant.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from .corpus import CALM, EMOTIONS, SEX, SPLITS, Clip, EmoDB
from .timeline import CALM_DB, RUN_GAP_S, SHOUT_DB, VARIANTS, Call, Conversation

SEED = 20240612
RATE = 8000
TARGET_CALL_S = 75.0
MAX_CALL_S = 90.0
OPENING = (4, 6)
VARIANT_NOTES = {
    "clean": "16-bit PCM; every non-anger sentence 12 dB below anger (-34 vs -22 dBFS RMS per utterance)",
    "agc": "16-bit PCM; every utterance at -20 dBFS RMS, gain ramped over 50 ms (line AGC): level carries nothing",
    "mulaw8k": "the clean call band-limited 300-3400 Hz, G.711 mu-law WAV (format tag 7)",
    "noisy": "clean + stationary pink noise at 20 dB SNR vs the mean power of all speech",
    "levels": "16-bit PCM; calm sentences at -34 dBFS +-4 dB, anger sentences 0 to 12 dB above -34 (uniform): level no longer tells them apart",
    "peak": "16-bit PCM; every utterance peaking at -3 dBFS, as the peak-normalised clips come: no level step, anger's power below calm",
    "step": "16-bit PCM; the peak render with every calm sentence 10 to 20 dB (uniform) below the anger ones: the data README's level step on the clips as shipped",
    "webrtc_agc": "16-bit PCM; the clean call through WebRTC's AGC (webrtc-noise-gain, target -3 dBFS, noise suppression off) at 16 kHz: a softphone's or browser's gain",
    "voice_up": "16-bit PCM; the clean call with pitch and formants 150 cents up (sox pitch; duration kept): augmentation, a voice the speaker does not have",
    "voice_down": "16-bit PCM; the clean call with pitch and formants 150 cents down",
    "speex_agc": "16-bit PCM; the clean call through Speex's AGC (pyspeex-noise, target RMS 8000, noise suppression 0 dB) at 16 kHz",
}


def _rng(*parts: str) -> np.random.Generator:
    return np.random.default_rng([SEED] + [zlib.crc32(p.encode()) for p in parts])


def _plan(db: EmoDB, spk: str) -> list[tuple[list[Clip], list[list[Clip]]]]:
    """Per call: (opening clips, body items); a body item is one clip or an anger run."""
    rng = _rng("plan", spk)
    clips = [c for e in EMOTIONS for c in db.of(spk, e)]
    mean_gap = 1.05
    est = sum(c.seconds + mean_gap for c in clips)
    n_calls = max(1, int(round(est / TARGET_CALL_S)), int(np.ceil(est / MAX_CALL_S)))
    neutral = [db.of(spk, "neutral")[i] for i in rng.permutation(len(db.of(spk, "neutral")))]
    boredom = [db.of(spk, "boredom")[i] for i in rng.permutation(len(db.of(spk, "boredom")))]
    # Each call's opening gets at most its fair share of the neutral clips;
    # a speaker short of them (10 has 4) is topped up with boredom to 4.
    share = len(neutral) // n_calls
    openings = []
    for _ in range(n_calls):
        k = int(rng.integers(OPENING[0], OPENING[1] + 1))
        take = [neutral.pop() for _ in range(min(k, share))]
        while len(take) < OPENING[0] and boredom:
            take.append(boredom.pop())
        openings.append(take)
    rest = {e: [] for e in EMOTIONS}
    for c in neutral + boredom:
        rest[c.emotion].append(c)
    for e in EMOTIONS:
        if e not in CALM:
            pool = db.of(spk, e)
            rest[e] = [pool[i] for i in rng.permutation(len(pool))]
    # Deal every emotion round-robin so each call gets its share of anger and happiness.
    bodies: list[list[Clip]] = [[] for _ in range(n_calls)]
    deal = 0
    for e in EMOTIONS:
        for c in rest[e]:
            bodies[deal % n_calls].append(c)
            deal += 1
    plans = []
    for opening, body in zip(openings, bodies):
        anger = [c for c in body if c.emotion == "anger"]
        others = [c for c in body if c.emotion != "anger"]
        others = [others[i] for i in rng.permutation(len(others))]
        runs = []
        while anger:
            n = int(rng.integers(1, 4))
            runs.append(anger[:n])
            anger = anger[n:]
        # Each run goes into its own slot between the other sentences, so runs never merge.
        slots = sorted(rng.choice(len(others) + 1, size=min(len(runs), len(others) + 1), replace=False))
        if len(runs) > len(slots):  # more runs than slots: merge the surplus into the last run
            runs[len(slots) - 1:] = [[c for r in runs[len(slots) - 1:] for c in r]]
        items: list[list[Clip]] = []
        j = 0
        for i in range(len(others) + 1):
            if j < len(slots) and slots[j] == i:
                items.append(runs[j])
                j += 1
            if i < len(others):
                items.append([others[i]])
        plans.append((opening, items))
    return plans


def _call(spk: str, n: int, opening: list[Clip], items: list[list[Clip]]) -> Call:
    call = Call(("customer",))
    conv = Conversation(call, _rng("timing", spk, str(n)))
    for c in opening:
        conv.customer(c, CALM_DB)
    for item in items:
        for i, c in enumerate(item):
            shout = c.emotion == "anger"
            conv.customer(c, SHOUT_DB if shout else CALM_DB, "shout" if shout else None,
                          **({"gap": RUN_GAP_S} if i else {}))
    return call


def build(db: EmoDB) -> list[dict]:
    """Every eval call: split, speaker, index and the ``Call``."""
    calls = []
    for split, speakers in SPLITS.items():
        for spk in speakers:
            for n, (opening, items) in enumerate(_plan(db, spk), start=1):
                calls.append({"split": split, "speaker": spk, "n": n, "call": _call(spk, n, opening, items),
                              "opening": [c.name for c in opening]})
    return calls


def write(calls: list[dict], out: Path) -> dict:
    """Render every call in every variant; returns the manifest section and a summary."""
    entries, summary = [], {}
    for item in calls:
        call: Call = item["call"]
        emotions = {}
        for u in call.utts:
            emotions[u.clip.emotion] = emotions.get(u.clip.emotion, 0) + 1
        for variant in VARIANTS:
            rel = Path(item["split"]) / variant / f"{item['speaker']}_{item['n']}.wav"
            rng = _rng("noise" if variant == "noisy" else variant, item["speaker"], str(item["n"])) if variant in ("noisy", "levels", "step") else None
            stats = call.write(out / rel, RATE, variant, rng)
            dur, shout = call.duration(RATE), call.shout_seconds(RATE)
            e = {"path": str(rel), "labels": str(rel.with_suffix(".txt")), "split": item["split"],
                 "variant": variant, "speaker": item["speaker"], "sex": SEX[item["speaker"]],
                 "rate": RATE, "channels": 1, "encoding": "mulaw" if variant == "mulaw8k" else "pcm16",
                 "duration_s": round(dur, 3), "shout_s": round(shout, 3),
                 "n_shout": sum(1 for *_, lab in call.labels(RATE) if lab == "shout"),
                 "emotions": emotions, "opening": item["opening"],
                 "clipped_samples": stats["clipped_samples"]}
            if "snr_calm_db" in stats:
                e["snr_calm_db"] = round(stats["snr_calm_db"][0], 2)
            if "agc_utt_rms_db" in stats:
                lv = stats["agc_utt_rms_db"]
                e["agc_utt_rms_db"] = [round(min(lv), 2), round(max(lv), 2)]
            if variant == "clean":
                e["utterances"] = call.utterance_table(RATE)
            entries.append(e)
            s = summary.setdefault(item["split"], {}).setdefault(variant, {"calls": 0, "minutes": 0.0, "shout_s": 0.0})
            s["calls"] += 1
            s["minutes"] += dur / 60
            s["shout_s"] += shout
    for v in summary.values():
        for s in v.values():
            s["minutes"], s["shout_s"] = round(s["minutes"], 2), round(s["shout_s"], 1)
    return {"calls": entries, "summary": summary}
