"""The bundled scenario calls under fixtures/: stereo (left = agent, right = customer), 8 kHz.

Each scenario is a small function that places EmoDB sentences on a
``Call`` and states the coach events it should produce. The README and
manifest.json in fixtures/ are written from the same data, so they cannot
drift from the audio.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import write_labels, write_pcm16
from .corpus import SEX, EmoDB, Pool
from .timeline import (CALM_DB, RUN_GAP_S, SHOUT_DB, Call, Conversation, Utt)

SEED = 20240611
RATE = 8000
STEREO = ("agent", "customer")  # file channel order: left = agent, right = customer
#: Gap inside a customer's long turn (overtalk scenario): a breath, not a pause.
BREATH_S = RUN_GAP_S
#: The single loud word: length of the anger slice and its level above calm speech.
EXCLAMATION_S = 0.35
EXCLAMATION_DB = 12.0
#: Overtalk: the agent cuts in this long after the customer starts, for two sentences.
OVERTALK_AFTER_S = 0.5
#: Agent answers: the first part of a calm sentence, this long (seconds).
REPLY_S = (1.0, 1.4)
#: Overtalk: the agent's cut-in sentence is at least this long (the nudge needs > 1 s over the customer).
OVERTALK_MIN_S = 1.8
#: Least time between the two overtalk episodes (the nudge cooldown is 20 s).
OVERTALK_APART_S = 26.0
#: calm_down: customer calm speech after the shouting, at least this long.
CALM_STRETCH_S = 14.5
#: agent_raised: neutral agent turns before the agent's voice rises.
AGENT_CALM_TURNS = 4

REGEN = ".venv/bin/python tools/data/make_calls.py --emodb ../shared/data/emodb --only fixtures"


@dataclass
class Fixture:
    """One fixture: the call, how to render it, and what the coach should do."""

    name: str
    call: Call
    customer: str | None
    agent: str | None
    variant: str = "clean"
    expect: dict = field(default_factory=dict)
    expect_text: str = ""
    how: str = ""
    bouts: list = field(default_factory=list)  # customer shouting stretches [start, end], seconds
    reused: int = 0


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def _calm_pool(db: EmoDB, spk: str, rng, label: str) -> Pool:
    """Neutral sentences first (the opening), then boredom; all calm."""
    return Pool([db.of(spk, "neutral"), db.of(spk, "boredom")], rng, f"{label} calm {spk}")


def _short_reply(clip, rng) -> tuple[float, float] | None:
    """The first 1.0-1.4 s of a calm sentence, cut at its quietest 10 ms there
    (between syllables): a short answer like "I see, yes". Keeps the fixtures
    small; the coach only needs 0.4 s of agent speech to count a cue as said."""
    y = clip.audio(RATE)
    hop = RATE // 100
    lo, hi = int(REPLY_S[0] * 100), min(int(REPLY_S[1] * 100), len(y) // hop - 1)
    if hi <= lo:
        return None
    e = [float(np.sum(np.square(y[k * hop:(k + 1) * hop]))) for k in range(lo, hi)]
    return (0.0, (lo + int(np.argmin(e)) + 0.5) * hop / RATE)


def _talk(conv: Conversation, pattern: str, cust: Pool, agent: Pool | None) -> None:
    """``C``: a calm customer sentence after a pause; ``A``: a short calm agent answer."""
    for ch in pattern:
        if ch == "C":
            conv.customer(cust.take(), CALM_DB)
        elif ch == "A" and agent is not None:
            clip = agent.take()
            conv.agent(clip, CALM_DB, piece=_short_reply(clip, conv.rng))


def _bout(conv: Conversation, anger: Pool, n: int) -> tuple[float, float]:
    """``n`` anger sentences back to back (gaps under 0.25 s): one shouting stretch."""
    first = conv.customer(anger.take(), SHOUT_DB, "shout")
    last = first
    for _ in range(n - 1):
        last = conv.customer(anger.take(), SHOUT_DB, "shout", gap=RUN_GAP_S)
    return (first.start, last.start + last.seconds())


NO_EVENTS = {"cues": [], "calm": 0, "advise_end_call": False, "supervisor_alert": False, "nudges": []}


def _expect(**kw) -> dict:
    return {**NO_EVENTS, **kw}


def _two_party(db: EmoDB, name: str, c: str, a: str, channels=STEREO, anger: bool = True):
    """A call's common start: its generator, the call, both calm pools and the
    customer's anger pool (drawn in this order, so each fixture is what it was)."""
    rng = _rng(name)
    call = Call(channels)
    conv = Conversation(call, rng)
    cust, agent = _calm_pool(db, c, rng, "customer"), _calm_pool(db, a, rng, "agent")
    angry = Pool([db.of(c, "anger")], rng, f"anger {c}") if anger else None
    return rng, call, conv, cust, agent, angry


def calm_call(db: EmoDB) -> Fixture:
    c, a = "08", "13"
    rng, call, conv, cust, agent, _ = _two_party(db, "calm_call", c, a, anger=False)
    _talk(conv, "CCACCAC", cust, agent)
    return Fixture("calm_call", call, c, a, expect=_expect(), expect_text="nothing (no cue, no nudge)",
                   how="5 neutral customer sentences, 2 short calm agent answers, all at -34 dBFS RMS",
                   reused=cust.reused + agent.reused)


def one_exclamation(db: EmoDB) -> Fixture:
    c, a = "10", "08"
    rng, call, conv, cust, agent, anger = _two_party(db, "one_exclamation", c, a)
    _talk(conv, "CCCCA", cust, agent)
    # The loudest 0.35 s of one of the customer's anger sentences: one loud word.
    clip = anger.take()
    y = clip.audio(RATE)
    w = int(EXCLAMATION_S * RATE)
    energy = np.convolve(np.square(y), np.ones(w), mode="valid")
    k = int(np.argmax(energy))
    piece = (k / RATE, (k + w) / RATE)
    conv.customer(clip, CALM_DB + EXCLAMATION_DB, "exclamation", piece=piece)
    _talk(conv, "CA", cust, agent)
    return Fixture("one_exclamation", call, c, a, expect=_expect(), expect_text="nothing (a single loud word is not shouting)",
                   how=f"4 neutral sentences, a short agent answer, then one {EXCLAMATION_S:.2f} s slice (loudest part) of {clip.name} at "
                       f"+{EXCLAMATION_DB:.0f} dB RMS over the calm sentences (at the shouting level), "
                       f"labelled `exclamation` (not `shout`)",
                   reused=cust.reused + agent.reused)


def sustained_shout(db: EmoDB, name: str = "sustained_shout", channels=STEREO) -> Fixture:
    c, a = "13", "10"
    rng, call, conv, cust, agent, anger = _two_party(db, "sustained_shout", c, a, channels)
    _talk(conv, "CCCC", cust, agent)
    bout = _bout(conv, anger, 2)
    _talk(conv, "A", cust, agent)
    return Fixture(name, call, c, a, bouts=[bout],
                   expect=_expect(cues=[[1, 1]], delivered=[[1, 1]]),
                   expect_text="step 1 cue at the pause after the shouting (≤ 0.5 s after it ends), delivered",
                   how="4 neutral sentences, 2 anger sentences back to back (gap < 0.25 s), "
                       "agent answers 0.8-1.0 s after; calm -34, anger -22 dBFS RMS",
                   reused=cust.reused + agent.reused + anger.reused)


def continued_shout(db: EmoDB) -> Fixture:
    c, a = "03", "08"
    rng, call, conv, cust, agent, anger = _two_party(db, "continued_shout", c, a)
    _talk(conv, "CCCC", cust, agent)
    bouts = []
    for n in (2, 1, 2, 1, 2):
        bouts.append(_bout(conv, anger, n))
        _talk(conv, "A", cust, agent)
    ladder = [[1, 1], [2, 1], [3, 1], [3, 2], [4, 1]]
    return Fixture("continued_shout", call, c, a, bouts=bouts,
                   expect=_expect(cues=ladder, delivered=ladder, advise_end_call=True, supervisor_alert=True),
                   expect_text="steps 1, 2, 3, 3 (repeat), 4, each at the pause after a bout and delivered; "
                               "advise_end_call and supervisor_alert after step 4",
                   how="4 neutral sentences, then 5 bouts of 2, 1, 2, 1, 2 anger sentences, the agent answering "
                       "0.8-1.0 s after each; calm -34, anger -22 dBFS RMS",
                   reused=cust.reused + agent.reused + anger.reused)


def calm_down(db: EmoDB) -> Fixture:
    c, a = "08", "03"
    rng, call, conv, cust, agent, anger = _two_party(db, "calm_down", c, a)
    _talk(conv, "CCCC", cust, agent)
    bout = _bout(conv, anger, 2)
    _talk(conv, "A", cust, agent)
    pattern = "CCA"
    i = 0
    while conv.t - bout[1] < CALM_STRETCH_S:
        _talk(conv, pattern[i % 3], cust, agent)
        i += 1
    return Fixture("calm_down", call, c, a, bouts=[bout],
                   expect=_expect(cues=[[1, 1]], delivered=[[1, 1]], calm=1),
                   expect_text="step 1 cue (delivered), then one `calm` (next step 1) about 10 s later",
                   how=f"4 neutral sentences, 2 anger sentences, agent answers, then ≥ {CALM_STRETCH_S:.1f} s of "
                       "calm customer sentences with agent turns; calm -34, anger -22 dBFS RMS",
                   reused=cust.reused + agent.reused + anger.reused)


def agent_raised(db: EmoDB) -> Fixture:
    rng, c, a = _rng("agent_raised"), "13", "03"
    call = Call(STEREO)
    conv = Conversation(call, rng)
    cust = _calm_pool(db, c, rng, "customer")
    agent = Pool([db.of(a, "neutral")], rng, f"agent neutral {a}")
    agent_anger = Pool([db.of(a, "anger")], rng, f"agent anger {a}")
    for _ in range(AGENT_CALM_TURNS):
        conv.customer(cust.take(), CALM_DB)
        conv.agent(agent.take(), CALM_DB)
    conv.customer(cust.take(), CALM_DB)
    conv.agent(agent_anger.take(), SHOUT_DB)
    conv.agent(agent_anger.take(), SHOUT_DB, react=RUN_GAP_S)
    conv.customer(cust.take(), CALM_DB)
    return Fixture("agent_raised", call, c, a,
                   expect=_expect(nudges=["raised_voice"]),
                   expect_text="one private `agent_nudge` raised_voice (cooldown 20 s); no customer cue",
                   how=f"calm customer throughout; the agent answers with {AGENT_CALM_TURNS} neutral sentences, then "
                       "one angry turn of 2 anger sentences back to back; calm -34, agent anger -22 dBFS RMS",
                   reused=cust.reused + agent.reused + agent_anger.reused)


def overtalk(db: EmoDB) -> Fixture:
    rng, c, a = _rng("overtalk"), "03", "10"
    call = Call(STEREO)
    conv = Conversation(call, rng)
    cust = _calm_pool(db, c, rng, "customer")
    # Two long agent sentences for the cut-ins; the ordinary answers use the rest.
    long_ones = [x for x in db.of(a, ("neutral", "boredom")) if x.seconds >= OVERTALK_MIN_S]
    cut_ins = [long_ones[i] for i in rng.permutation(len(long_ones))[:2]]
    agent = Pool([[x for x in db.of(a, g) if x not in cut_ins] for g in ("neutral", "boredom")], rng, f"agent {a}")

    def long_turn_with_cut_in(n: int, cut_into: int) -> tuple[float, float]:
        """``n`` customer sentences with breaths between; the agent cuts into
        sentence ``cut_into`` with one long sentence of its own."""
        starts = [conv.customer(cust.take(), CALM_DB).start]
        for _ in range(n - 1):
            starts.append(conv.customer(cust.take(), CALM_DB, gap=BREATH_S).start)
        at = starts[cut_into] + OVERTALK_AFTER_S
        u = call.add(Utt("agent", at, cut_ins.pop(), CALM_DB))
        end = u.start + u.seconds()
        assert end < conv.t, "the agent must stop before the customer's turn ends"
        return at, end

    # The opening turn: 4 neutral sentences; the agent cuts into the third.
    episodes = [long_turn_with_cut_in(4, 2)]
    # Ordinary turn-taking until the second episode can come far enough after the first.
    while True:
        _talk(conv, "AC", cust, agent)
        if conv.t + 2.0 + OVERTALK_AFTER_S >= episodes[0][0] + OVERTALK_APART_S:
            break
    episodes.append(long_turn_with_cut_in(3, 1))
    return Fixture("overtalk", call, c, a,
                   expect=_expect(nudges=["overtalk", "overtalk"]),
                   expect_text="two private `agent_nudge` overtalk, one per episode; nothing else",
                   how=f"calm customer with long turns (3-4 sentences, breaths < 0.25 s); twice the agent cuts in "
                       f"{OVERTALK_AFTER_S} s into a customer sentence with a sentence of ≥ {OVERTALK_MIN_S} s "
                       f"(at {episodes[0][0]:.1f} s for {episodes[0][1] - episodes[0][0]:.1f} s, at {episodes[1][0]:.1f} s "
                       f"for {episodes[1][1] - episodes[1][0]:.1f} s); otherwise normal turn-taking; all -34 dBFS RMS",
                   reused=cust.reused + agent.reused)


def mono_shout(db: EmoDB) -> Fixture:
    rng, c = _rng("mono_shout"), "10"
    call = Call(("customer",))
    conv = Conversation(call, rng)
    cust = _calm_pool(db, c, rng, "customer")
    anger = Pool([db.of(c, "anger")], rng, f"anger {c}")
    _talk(conv, "CCCC", cust, None)
    bout = _bout(conv, anger, 2)
    _talk(conv, "C", cust, None)
    return Fixture("mono_shout", call, c, None, bouts=[bout],
                   expect=_expect(cues=[[1, 1]], delivery="unknown"),
                   expect_text="step 1 cue at the pause after the shouting, delivery `unknown` (mono)",
                   how="customer only: 4 neutral sentences, 2 anger sentences back to back, 1 calm; "
                       "calm -34, anger -22 dBFS RMS",
                   reused=cust.reused + anger.reused)


def build(db: EmoDB) -> list[Fixture]:
    """All fixtures, in README order."""
    sus = sustained_shout(db)
    cont = continued_shout(db)
    agc = Fixture("agc_shout", sus.call, sus.customer, sus.agent, variant="agc", bouts=sus.bouts,
                  expect=sus.expect, expect_text="as sustained_shout: step 1 cue, delivered (level carries nothing)",
                  how="sustained_shout with every utterance (both channels) at -20 dBFS RMS, gain ramped over 50 ms")
    mulaw = Fixture("mulaw_shout", cont.call, cont.customer, cont.agent, variant="mulaw8k", bouts=cont.bouts,
                    expect=cont.expect, expect_text="as continued_shout",
                    how="continued_shout band-limited 300-3400 Hz (4th-order Butterworth, zero-phase), "
                        "G.711 mu-law WAV (format 7, stereo, fact chunk)")
    silence = Call(STEREO)
    silence.tail = 10.0
    sil = Fixture("silence", silence, None, None, expect=_expect(),
                  expect_text="nothing but `call_end` (10 s)", how="10 s of digital silence, stereo")
    return [calm_call(db), one_exclamation(db), sus, cont, calm_down(db), agc, mulaw,
            agent_raised(db), overtalk(db), mono_shout(db), sil]


def _check_turns(fx: Fixture) -> None:
    """Outside overtalk, the agent only speaks in the customer's pauses."""
    if fx.name == "overtalk":
        return
    cust = [u.span(RATE) for u in fx.call.utts if u.channel == "customer"]
    for u in fx.call.utts:
        if u.channel == "agent":
            a, b = u.span(RATE)
            if any(a < cb and ca < b for ca, cb in cust):
                raise AssertionError(f"{fx.name}: agent {u.clip.name} at {a / RATE:.2f} s overlaps the customer")


def write(fixtures: list[Fixture], out: Path) -> list[dict]:
    """Write every fixture (.wav + .txt), manifest.json and README.md into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for fx in fixtures:
        _check_turns(fx)
        path = out / f"{fx.name}.wav"
        if not fx.call.utts:
            n = fx.call.length(RATE)
            write_pcm16(path, np.zeros((len(fx.call.channels), n)), RATE)
            write_labels(path.with_suffix(".txt"), [])
            stats = {"clipped_samples": 0}
        else:
            stats = fx.call.write(path, RATE, fx.variant)
        labels = fx.call.labels(RATE)
        rows.append({
            "name": fx.name,
            "file": path.name,
            "labels": path.with_suffix(".txt").name,
            "rate": RATE,
            "channels": list(fx.call.channels),
            "encoding": "mulaw" if fx.variant == "mulaw8k" else "pcm16",
            "variant": fx.variant,
            "duration_s": round(fx.call.duration(RATE), 3),
            "bytes": path.stat().st_size,
            "customer_speaker": fx.customer,
            "agent_speaker": fx.agent,
            "shout_spans": [[round(a, 6), round(b, 6)] for a, b, lab in labels if lab == "shout"],
            "other_labels": [[round(a, 6), round(b, 6), lab] for a, b, lab in labels if lab != "shout"],
            "shout_bouts": [[round(a, 3), round(b, 3)] for a, b in fx.bouts],
            "expect": fx.expect,
            "expect_text": fx.expect_text,
            "how": fx.how,
            "clips_reused": fx.reused,
            "clipped_samples": stats["clipped_samples"],
            "utterances": fx.call.utterance_table(RATE),
        })
    manifest = {
        "generator": "tools/data/make_calls.py --only fixtures",
        "seed": SEED,
        "channel_order": "stereo files: left (channel 0) = agent, right (channel 1) = customer",
        "utterance_rms_dbfs": {"calm": CALM_DB, "shout": SHOUT_DB},
        "fixtures": rows,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (out / "README.md").write_text(_readme(rows))
    return rows


def _who(spk: str | None) -> str:
    return f"{spk} ({SEX[spk]})" if spk else "-"


def _readme(rows: list[dict]) -> str:
    lines = [
        "# Fixtures: call-like audio built from EmoDB",
        "",
        "Generated, do not edit by hand: everything here except `bad/` is written by",
        "`tools/data/make_calls.py` (this README and `manifest.json` included), deterministically",
        "(fixed seeds), from the EmoDB copy in `../shared/data/emodb`. Regenerate with:",
        "",
        "```sh",
        REGEN,
        "```",
        "",
        "Conventions:",
        "",
        "- Stereo files: **left = agent, right = customer**; 16-bit PCM, 8 kHz, unless the table says otherwise.",
        "- Customer = one EmoDB speaker; agent = a *different* speaker. All fixture speakers come from the",
        "  **dev** split (03, 08, 10, 13); 09 and 11 are held out for evaluation and never appear here.",
        "- Anger stands in for shouting. Each clip is trimmed to its speech (energy gate: 10 ms frames within",
        "  35 dB of the loudest, 30 ms kept either side, 10 ms fades), then set to an RMS of",
        f"  **{CALM_DB:.0f} dBFS** (calm: neutral, boredom) or **{SHOUT_DB:.0f} dBFS** (anger), a 12 dB step",
        "  that the peak-normalised corpus hides (acted anger is much louder than calm speech).",
        "- Pauses between utterances 0.6-1.5 s; the agent answers 0.8-1.0 s after the customer stops (after",
        "  the coach's cue, which comes ≤ 0.5 s after), only in the customer's pauses, except in `overtalk`.",
        "  Sentences of one shouting bout follow each other with gaps of 0.10-0.22 s.",
        "- Customer calls open with 4-6 neutral sentences so the detector can learn the speaker's normal voice.",
        "- Labels: `<name>.txt` is an Audacity label track (`start<TAB>end<TAB>label`, seconds, 6 decimals),",
        "  one `shout` line per customer anger sentence (the trimmed utterance). Agent speech is never labelled.",
        "  `one_exclamation` also has one `exclamation` line for its single loud word (not a shout).",
        "- `manifest.json` has, per fixture, the expected coach events (`expect`: cue rungs `[step, repeat]`,",
        "  delivered rungs, `calm` count, `advise_end_call`, `supervisor_alert`, agent `nudges`), the shouting",
        "  bouts (`shout_bouts`: a cue is due at the pause after each), and every utterance with clip and gain.",
        "",
        "| fixture | format | duration | customer | agent | how it was built | shout spans (s) | expected events |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        fmt = ("mu-law" if r["encoding"] == "mulaw" else "PCM16") + f", {r['rate'] // 1000} kHz, " + (
            "stereo" if len(r["channels"]) == 2 else "mono")
        spans = ", ".join(f"{a:.2f}-{b:.2f}" for a, b in r["shout_spans"]) or "none"
        lines.append(f"| `{r['name']}` | {fmt} | {r['duration_s']:.1f} s | {_who(r['customer_speaker'])} | "
                     f"{_who(r['agent_speaker'])} | {r['how']} | {spans} | {r['expect_text']} |")
    lines += ["", "## Clips used", "",
              "Per fixture, in time order. Levels, gains and exact times are in `manifest.json`.", ""]
    for r in rows:
        if not r["utterances"] or r["variant"] != "clean":
            continue
        used = ", ".join(f"{'A' if u['channel'] == 'agent' else 'C'}:{u['clip'][:-4]}"
                         f"{'*' if u.get('label') == 'shout' else ''}" for u in r["utterances"])
        lines.append(f"- `{r['name']}` (C = customer, A = agent, * = shout): {used}")
    lines.append("- `agc_shout` and `mulaw_shout` reuse the clips and timing of `sustained_shout` and `continued_shout`.")
    total = sum(r["bytes"] for r in rows)
    lines += ["", f"Total size of the audio: {total / 1e6:.1f} MB. There is no 48 kHz fixture: even a short",
              "stereo one would cost ~2-3 MB; the resampler has its own tests.", ""]
    lines += EVAL_DOC
    lines += ["",
              "## Licence", "",
              "The speech is from the Berlin Database of Emotional Speech (EmoDB), CC0; see",
              "[LICENSE-EmoDB.txt](LICENSE-EmoDB.txt). The derived audio here is CC0 as well.", ""]
    return "\n".join(lines)


EVAL_DOC = """## Evaluation sets (`out/eval/`, generated, not committed)

Built by the same script from `../shared/data/emodb` (CI regenerates them):

```sh
.venv/bin/python tools/data/make_calls.py --emodb ../shared/data/emodb --fixtures fixtures --eval out/eval \\
    --asterisk /usr/share/asterisk/sounds/en_US_f_Allison      # --only fixtures|eval|asterisk to build one part
```

- **Speaker split, fixed**: `dev` = 03, 08, 10, 13 (train and tune on these); `heldout` = 11 (m), 09 (f):
  never used to fit or tune anything, only to report.
- **Calls**: per speaker, every one of their clips is used exactly once, spread over calls of ~60-90 s
  (customer only, mono, 8 kHz; speaker 10 has two calls of ~55 s, as one would be 105 s). Each call
  opens with 4-6 neutral sentences (speaker 10, with only 4 neutral clips, gets 2 neutral + 2 boredom
  per call), then a seeded mix of all other clips: anger in runs of 1-3 sentences (gaps 0.10-0.22 s),
  every other clip alone with pauses of 0.6-1.5 s. Each emotion is dealt evenly over a speaker's
  calls, so every call has its share of happiness, the hard negative (F0 up, tilt much less).
- **Labels**: `<speaker>_<n>.txt` next to each WAV, one `shout` line per anger sentence.
- **Variants** of every call, same clips and timing:
  - `clean`: 16-bit PCM, every anger sentence at -22 dBFS RMS, every other one at -34 (a 12 dB step;
    four very peaky anger clips of speaker 10 are held to a 0.9 peak, 0.4-2.7 dB below that level);
  - `agc`: every utterance at -20 dBFS RMS, the gain ramping over 50 ms from one utterance's value
    to the next (a line AGC), with a peak limit at 0.95: level carries nothing, F0 and tilt must;
  - `mulaw8k`: `clean` band-limited 300-3400 Hz, stored as G.711 mu-law WAV (format tag 7);
  - `noisy`: `clean` plus stationary pink noise at 20 dB SNR against the mean power of all the
    speech (so 12.5-14 dB against the calm sentences).
  - `levels`: 16-bit PCM, every calm sentence at -34 dBFS ± 4 dB and every anger sentence 0 to
    12 dB above -34 (uniform, seeded): shouting that is sometimes no louder than calm speech, which
    wanders, so level tells them apart only in part.
  - `peak`: 16-bit PCM, every utterance scaled to peak at -3 dBFS, as EmoDB ships its clips: no
    level step at all, and a shouted sentence, peakier, carries less power than a calm one.
  - `step`: the `peak` render with every calm sentence 10 to 20 dB (uniform, seeded) below the
    shouted ones: the data README's "level step of +10 to +20 dB" on the clips as EmoDB ships them.
- **Layout**: `out/eval/<split>/<variant>/<speaker>_<n>.wav` + `.txt`; `out/eval/manifest.json` lists
  every file with split, variant, speaker, duration, shout seconds, emotion counts and (for `clean`)
  every utterance with its clip, times and level, plus a per split/variant summary.
- **Calm telephone speech** (`out/eval/asterisk/asterisk_<n>.wav`, empty labels): the Asterisk English
  prompts (`apt-get install -y asterisk-core-sounds-en-wav`, CC-BY-SA-3.0, never committed), trimmed
  and concatenated in sorted path order with 0.5-1.0 s pauses into ~5-minute mono calls. Any cue on
  them is a false alarm.
""".splitlines()
