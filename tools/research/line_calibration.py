#!/usr/bin/env python3
"""Line calibration, measured per clip before anything is built (issue 22).

The cold start's cues other than F0 (the alpha ratio and the spectral
centroid) move with the recording chain: a headset's EQ or a trunk's
filters shift every caller's values alike. *Line calibration* learns that
shift from the line's own calls: the median, over a line's calls, of each
call's mean alpha ratio and centroid over its voiced hops, minus the same
median over the training actors' clips. The cold start then scores
`alpha - shift`, `centroid - shift`. F0 is left alone (a line does not
move it, and its spread across callers is the voices' own).

Lines here:
- the held-out CREMA-D actors' renders (mu-law and AGC) as they are, and
  through synthetic chains (sox EQ, re-encoded as mu-law), every clip of
  the line's calm clips (< 3 dB over the actor's neutral median; a site's
  calls are mostly calm) feeding the median, as the training actors' calm
  clips feed the reference;
- each calm-corpus voice (out/eval/calm/VOICE): one speaker per line
  except codec2 and pyannote, so the shift also takes out the speaker's
  own timbre there: optimistic for false cues, and said so;
- the calm corpus pooled as one line.

With --write-reference, also measures where calm voices sit on the
training chain the way the product measures a line (`shoutcue calibrate`:
each customer's baseline at a call's end, the median over calls): the
training actors' neutral clips, six to a call with 0.6 s pauses, in both
training renders, become calls; their calibration is written into the
model as `cold.line_reference`.

Prints, per line, raised-anger and neutral clips found (the detector's
rule on each clip) at the shipped threshold, with and without the shift,
and for the calm corpus the calls with a cue in their first 15 s.

    .venv/bin/python tools/research/line_calibration.py [--bin target/release/shoutcue]
        [--write-reference models/shout-v1.json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import train_cold as tc  # noqa: E402

CHAINS = {
    "none": None,
    "bright": ["equalizer", "2500", "1.0q", "+8"],
    "dull": ["treble", "-8", "1500"],
    "boomy": ["bass", "+8", "300"],
}
OPENING_S = 15.0


def cold_model(path: Path):
    c = json.load(open(path))["cold"]
    return (np.array(c["mean"]), np.array(c["scale"]), np.concatenate([[c["bias"]], c["weights"]])), c["on_threshold"]


def feats(bin_: str, wav: Path, cache: Path):
    cache.parent.mkdir(parents=True, exist_ok=True)
    if not cache.exists():
        cache.write_text(subprocess.run([bin_, "features", str(wav), "--format", "csv"], check=True,
                                        capture_output=True, text=True).stdout)
    import io
    return np.genfromtxt(io.StringIO(cache.read_text()), delimiter=",", names=True)


def chained(src: Path, chain, tmp: Path) -> Path:
    if chain is None:
        return src
    out = tmp / (src.stem + "_" + "_".join(chain).replace(".", "") + ".wav")
    if not out.exists():
        subprocess.run(["sox", str(src), "-b", "32", "-e", "floating-point", "-t", "wav", "-", *chain],
                       check=True, stdout=open(out.with_suffix(".f.wav"), "wb"))
        subprocess.run(["sox", str(out.with_suffix(".f.wav")), "-e", "u-law", "-b", "8", str(out)], check=True)
        out.with_suffix(".f.wav").unlink()
    return out


def clip_mean(d) -> np.ndarray | None:
    v = (d["voiced"] > 0) & (d["f0_hz"] > 0)
    if v.sum() < 20:
        return None
    return np.array([np.median(d["alpha_ratio_db"][v]), np.median(12 * np.log2(np.maximum(d["centroid_hz"][v], 1) / 100))])


def shifted(avg: np.ndarray, shift: np.ndarray) -> np.ndarray:
    out = avg.copy()
    out[:, 1] -= shift[0]
    out[:, 2] -= shift[1]
    return out


def write_reference(a, meta, held) -> None:
    import soundfile as sf
    out = a.tmp / "reference"
    if out.exists():
        for f in out.glob("*.wav"):
            f.unlink()
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for render in tc.RENDERS:
        for actor in sorted({c["actor"] for c in meta["clips"]} - held):
            x, rate = sf.read(a.data / f"{render}_{actor}.wav", dtype="float32")
            # Neutral readings, as a calm caller speaks (and as the
            # evaluation calls' calm parts are): the calm clips of other
            # emotions (sad, a quiet disgust) sit darker than callers do.
            calm = [c for c in meta["clips"] if c["actor"] == actor and c["emotion"] == "NEU"]
            for k in range(0, len(calm) - 5, 6):
                parts = []
                for c in calm[k:k + 6]:
                    parts += [x[int(c["t0"] * rate):int(c["t1"] * rate)], np.zeros(int(0.6 * rate), np.float32)]
                sf.write(out / f"{render}_{actor}_{k // 6}.wav", np.concatenate(parts), rate, subtype="PCM_16")
                n += 1
    line = out / "line.json"
    subprocess.run([a.bin, "calibrate", str(out), "--out", str(line), "--force"], check=True)
    ref = json.load(open(line))
    m = json.load(open(a.write_reference))
    m["cold"]["line_reference"] = [round(ref["alpha_db"], 3), round(ref["centroid_st"], 3)]
    prov = m["cold"]["provenance"]
    prov["command"] = prov["command"].split("; line_reference")[0] + (
        f"; line_reference: tools/research/line_calibration.py --write-reference (`shoutcue calibrate` over "
        f"{ref['calls']} calls of the training actors' neutral clips, six to a call, both renders)")
    json.dump(m, open(a.write_reference, "w"), indent=2)
    open(a.write_reference, "a").write("\n")
    print(f"line_reference {m['cold']['line_reference']} from {n} calls written to {a.write_reference}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/shoutcue")
    ap.add_argument("--data", type=Path, default=Path("out/cremad/train"))
    ap.add_argument("--calm", type=Path, default=Path("out/eval/calm"))
    ap.add_argument("--model", type=Path, default=Path("models/shout-v1.json"))
    ap.add_argument("--tmp", type=Path, default=Path("out/line_cal"))
    ap.add_argument("--write-reference", type=Path, default=None, metavar="MODEL",
                    help="measure the training chain's calm voices as `shoutcue calibrate` does and store them in MODEL")
    a = ap.parse_args()
    model, on = cold_model(a.model)
    meta = json.load(open(a.data / "clips.json"))
    raised_db, held = meta["raised_db"], set(meta["heldout"])
    a.tmp.mkdir(parents=True, exist_ok=True)
    if a.write_reference:
        write_reference(a, meta, held)
        return 0

    def clips_of(render: str, actor: str, chain):
        wav = chained(a.data / f"{render}_{actor}.wav", CHAINS[chain], a.tmp)
        d = feats(a.bin, wav, a.tmp / "csv" / f"{chain}_{render}_{actor}.csv")
        avg, v, sp = tc.averaged(d)
        t = d["t"]
        for c in (c for c in meta["clips"] if c["actor"] == actor):
            i = (t >= c["t0"]) & (t < c["t1"] + 0.3)
            yield c, avg[i], v[i], sp[i], clip_mean(d[i])

    # The reference: the training actors' calm clips as recorded (mu-law render): a site's
    # calls are mostly calm, and a line's median over them is what the shift compares.
    train_actors = sorted({c["actor"] for c in meta["clips"]} - held)
    calm = lambda c: c["rise"] < meta["calm_db"]
    ref = np.median([m for x in train_actors for c, *_, m in clips_of("mulaw", x, "none")
                     if m is not None and calm(c)], 0)
    print(f"reference (training actors, mu-law): alpha {ref[0]:.2f} dB, centroid {ref[1]:.2f} st")

    print("\nheld-out CREMA-D actors: raised anger found / neutral found (of n), threshold", on)
    print("| chain | render | shift alpha, centroid | raised anger: as is | calibrated | neutral: as is | calibrated |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for chain in CHAINS:
        for render in tc.RENDERS:
            rows = [r for x in sorted(held) for r in clips_of(render, x, chain)]
            shift = np.median([m for c, *_, m in rows if m is not None and calm(c)], 0) - ref
            n = {"ang": [0, 0, 0], "neu": [0, 0, 0]}
            for c, avg, v, sp, _ in rows:
                k = "ang" if c["emotion"] == "ANG" and c["rise"] >= raised_db else "neu" if c["emotion"] == "NEU" else None
                if k is None:
                    continue
                n[k][0] += 1
                n[k][1] += tc.detected(tc.score(model, avg), v, sp, on)
                n[k][2] += tc.detected(tc.score(model, shifted(avg, shift)), v, sp, on)
            print(f"| {chain} | {render} | {shift[0]:+.1f} dB, {shift[1]:+.1f} st | {n['ang'][1]}/{n['ang'][0]} | "
                  f"{n['ang'][2]}/{n['ang'][0]} | {n['neu'][1]}/{n['neu'][0]} | {n['neu'][2]}/{n['neu'][0]} |")

    print("\ncalm corpus: calls with a cue in their first 15 s (of n)")
    print("| voice | calls | shift (own line) | as is | own line | pooled line |")
    print("| --- | --- | --- | --- | --- | --- |")
    voices = {}
    for vdir in sorted(p for p in a.calm.iterdir() if p.is_dir()):
        calls = []
        for wav in sorted(vdir.glob("*.wav")):
            d = feats(a.bin, wav, a.tmp / "csv" / f"calm_{vdir.name}_{wav.stem}.csv")
            k = d["t"] < OPENING_S
            avg, v, sp = tc.averaged(d[k])
            calls.append((avg, v, sp, clip_mean(d[k])))
        voices[vdir.name] = calls
    pooled = np.median([m for cs in voices.values() for *_, m in cs if m is not None], 0) - ref
    tot = [0, 0, 0, 0]
    for name, calls in voices.items():
        own = np.median([m for *_, m in calls if m is not None], 0) - ref
        r = [sum(tc.detected(tc.score(model, f(avg)), v, sp, on) for avg, v, sp, _ in calls)
             for f in (lambda x: x, lambda x: shifted(x, own), lambda x: shifted(x, pooled))]
        tot = [t + x for t, x in zip(tot, [len(calls), *r])]
        print(f"| {name} | {len(calls)} | {own[0]:+.1f} dB, {own[1]:+.1f} st | {r[0]} | {r[1]} | {r[2]} |")
    print(f"| all (pooled shift {pooled[0]:+.1f} dB, {pooled[1]:+.1f} st) | {tot[0]} | | {tot[1]} | {tot[2]} | {tot[3]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
