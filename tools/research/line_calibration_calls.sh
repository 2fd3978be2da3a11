#!/usr/bin/env bash
# Line calibration at the level of calls (issue 22): the held-out CREMA-D
# evaluation calls (tools/data/make_cremad.py) as they are and through three
# synthetic line EQs (sox, re-encoded as mu-law), each line calibrated from
# its own calls (`shoutcue calibrate`, as `qa --calibrate-line` does with a
# batch), then `shoutcue eval` without and with `--line`. Then every calm
# voice (out/eval/calm) calibrated from its own calls (one voice each: each
# should be refused), and all of them pooled.
#
#   bash tools/research/line_calibration_calls.sh [target/release/shoutcue]
set -euo pipefail
bin=${1:-target/release/shoutcue}
out=out/line_cal/calls
bash tools/data/make_line_eq.sh "$out" "bright dull boomy" "mulaw agc"
cold() { sed -n 's/.*openings found \([0-9/]*\).*later outbursts found \([0-9/]*\) | after a calm start \([0-9/]*\) | calm calls cued \([0-9/]*\).*/\1 | \2 | \3 | \4/p'; }
echo "| line | shift (alpha, centroid) | openings | later outbursts | after a calm start | calm calls cued |"
echo "| --- | --- | --- | --- | --- | --- |"
for d in out/cremad/calls/mulaw out/cremad/calls/agc $out/*_mulaw $out/*_agc; do
  n=$(basename "$d")
  shift=$("$bin" calibrate "$d" --out "$out/$n.json" --force 2>&1 | sed -n 's/.*voices: \(.*\) alpha ratio, \(.*\) centroid/\1, \2/p')
  echo "| $n, as is | | $("$bin" eval "$d" 2>&1 | cold) |"
  echo "| $n, calibrated | $shift | $("$bin" eval "$d" --line "$out/$n.json" 2>&1 | cold) |"
done
echo
echo "| calm voice | false cues as is | calibrated from its own calls |"
echo "| --- | --- | --- |"
for v in out/eval/calm/*/; do
  n=$(basename "$v")
  own=$("$bin" calibrate "$v" --out "$out/calm_$n.json" --force 2>&1 | grep -o "too few calls\|one voice" || true)
  [ -z "$own" ] && own=$("$bin" eval "$v" --line "$out/calm_$n.json" 2>&1 | grep -o "false cues [0-9]* ([0-9.]*/h)")
  echo "| $n | $("$bin" eval "$v" 2>&1 | grep -o "false cues [0-9]* ([0-9.]*/h)") | $own |"
done
echo
echo "all calm voices pooled as one line: $("$bin" calibrate out/eval/calm --out "$out/calm_pooled.json" --force 2>&1 | tail -1 || true)"
