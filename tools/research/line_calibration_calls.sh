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
declare -A fx=([bright]="equalizer 2500 1.0q +8" [dull]="treble -8 1500" [boomy]="bass +8 300")
for chain in bright dull boomy; do
  for r in mulaw agc; do
    d=$out/${chain}_$r
    mkdir -p "$d"
    for f in out/cremad/calls/$r/*.wav; do
      b=$(basename "$f" .wav)
      [ -f "$d/$b.wav" ] && continue
      # shellcheck disable=SC2086 # the effect is words
      sox -q "$f" -t wav -e floating-point -b 32 "$d/$b.f.wav" ${fx[$chain]} 2>/dev/null
      sox -q "$d/$b.f.wav" -e u-law -b 8 "$d/$b.wav" && rm "$d/$b.f.wav"
      cp "out/cremad/calls/$r/$b.txt" "$d/"
    done
  done
done
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
