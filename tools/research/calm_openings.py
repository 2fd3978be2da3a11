#!/usr/bin/env python3
"""False cues on calm voices, per voice and per call opening.

Replays every call under out/eval/calm/<voice>/ (tools/data/make_calm.py)
with the real `shoutcue replay` and counts, per voice: calls (each one a
cold start), minutes, openings with a false cue (a cue in the call's first
15 s), calls with any false cue, false cues, false cues per hour, and
customer shout detections. Any cue on these calls is a false alarm.

    .venv/bin/python tools/research/calm_openings.py [--bin target/release/shoutcue]
        [--calm out/eval/calm] [--model MODEL.json] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

OPENING_S = 15.0


def replay(bin_: str, wav: Path, model: str | None) -> tuple[list[dict], float]:
    cmd = [bin_, "replay", str(wav)]
    if model:
        cmd += ["--model", model]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    dur = next((e.get("duration", 0.0) for e in events if e["type"] == "call_end"), 0.0)
    return events, dur


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/shoutcue")
    ap.add_argument("--calm", type=Path, default=Path("out/eval/calm"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--max-per-hour", type=float, default=None,
                    help="fail (exit 1) when the pooled false cues per hour exceed this")
    ap.add_argument("--max-per-hour-per-voice", type=float, default=None,
                    help="fail (exit 1) when any one voice's false cues per hour exceed this "
                         "(on a voice shorter than an hour, one false cue is already more than 1/h)")
    ap.add_argument("--per-voice-min-minutes", type=float, default=0.0,
                    help="apply --max-per-hour-per-voice only to voices with at least this many minutes "
                         "(one false cue in a minute is not a rate; shorter voices still count in the pool)")
    ap.add_argument("--max-openings-share", type=float, default=None,
                    help="fail (exit 1) when more than this share of the calls (each a cold start) get a false cue in their opening")
    ap.add_argument("--min-minutes", type=float, default=None,
                    help="fail (exit 1) when the calm speech scored is shorter than this (a set that did not build)")
    ap.add_argument("--min-voices", type=int, default=None,
                    help="fail (exit 1) when fewer voices than this were scored")
    a = ap.parse_args()
    voices = sorted(d for d in a.calm.iterdir() if d.is_dir()) if a.calm.is_dir() else []
    if not voices:
        print(f"calm_openings: no voices under {a.calm} (run tools/data/make_calm.py)", file=sys.stderr)
        return 1
    rows, pooled = [], {"calls": 0, "seconds": 0.0, "cues": 0, "open_cues": 0}
    for v in voices:
        wavs = sorted(v.glob("*.wav"))
        with ThreadPoolExecutor(max_workers=2) as ex:
            results = list(ex.map(lambda w: replay(a.bin, w, a.model), wavs))
        secs = sum(d for _, d in results)
        cues = [[e for e in ev if e["type"] == "cue"] for ev, _ in results]
        shouts = sum(1 for ev, _ in results for e in ev if e["type"] == "shout_start" and e.get("speaker") == "customer")
        first = [e for ev, _ in results for e in ev if e["type"] == "shout_start" and e.get("speaker") == "customer"]
        row = {"voice": v.name, "calls": len(wavs), "minutes": round(secs / 60, 1),
               "openings_with_false_cue": sum(1 for c in cues if any(e["t"] <= OPENING_S for e in c)),
               "calls_with_false_cue": sum(1 for c in cues if c),
               "false_cues": sum(len(c) for c in cues),
               "false_cues_per_hour": round(sum(len(c) for c in cues) / (secs / 3600), 2) if secs else 0.0,
               "shout_detections": shouts,
               "detections_by_baseline": {b: sum(1 for e in first if e.get("baseline", "?") == b)
                                          for b in sorted({e.get("baseline", "?") for e in first})}}
        rows.append(row)
        pooled["calls"] += len(wavs)
        pooled["seconds"] += secs
        pooled["cues"] += row["false_cues"]
        pooled["open_cues"] += row["openings_with_false_cue"]
    per_hour = pooled["cues"] / (pooled["seconds"] / 3600)
    if a.json:
        print(json.dumps({"voices": rows, "pooled_false_cues_per_hour": per_hour,
                          "pooled_openings_with_false_cue": pooled["open_cues"], "pooled_calls": pooled["calls"],
                          "pooled_minutes": pooled["seconds"] / 60}, indent=1))
    else:
        print("| voice | calls (openings) | minutes | openings with a false cue | false cues | per hour | customer shout detections |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['voice']} | {r['calls']} | {r['minutes']} | {r['openings_with_false_cue']} | "
                  f"{r['false_cues']} | {r['false_cues_per_hour']} | {r['shout_detections']} {r['detections_by_baseline']} |")
        print(f"| pooled | {pooled['calls']} | {pooled['seconds'] / 60:.1f} | {pooled['open_cues']} | "
              f"{pooled['cues']} | {per_hour:.2f} | |")
    failed = []
    if a.max_per_hour is not None and per_hour > a.max_per_hour:
        failed.append(f"pooled: {per_hour:.2f} false cues per hour > {a.max_per_hour}")
    if a.max_per_hour_per_voice is not None:
        failed += [f"{r['voice']}: {r['false_cues_per_hour']} false cues per hour > {a.max_per_hour_per_voice}"
                   for r in rows if r["false_cues_per_hour"] > a.max_per_hour_per_voice
                   and r["minutes"] >= a.per_voice_min_minutes]
    if a.max_openings_share is not None and pooled["open_cues"] > a.max_openings_share * pooled["calls"]:
        failed.append(f"pooled: {pooled['open_cues']} of {pooled['calls']} openings with a false cue > {a.max_openings_share:.1%}")
    if a.min_minutes is not None and pooled["seconds"] / 60 < a.min_minutes:
        failed.append(f"only {pooled['seconds'] / 60:.1f} min of calm speech < {a.min_minutes}")
    if a.min_voices is not None and len(rows) < a.min_voices:
        failed.append(f"only {len(rows)} voices < {a.min_voices}")
    for f in failed:
        print(f"calm_openings: {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
