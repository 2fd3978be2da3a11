#!/usr/bin/env bash
# The held-out CREMA-D evaluation calls (tools/data/make_cremad.py) through
# synthetic line EQs, for line calibration (docs/EVALUATION.md, "Line
# calibration"): sox applies the EQ, then re-encodes as 8 kHz mu-law, with
# repeatable dither (-R: the same calls on every machine); the labels are
# copied. Calls already made are kept.
#
#   bash tools/data/make_line_eq.sh OUT_DIR "bright dull boomy" "mulaw agc"
#
# bright: +8 dB at 2.5 kHz (a headset's presence peak); dull: treble -8 dB
# from 1.5 kHz; boomy: bass +8 dB under 300 Hz. Writes OUT_DIR/CHAIN_RENDER/.
set -euo pipefail
out=${1:?OUT_DIR}
chains=${2:-bright dull boomy}
renders=${3:-mulaw agc}
declare -A fx=([bright]="equalizer 2500 1.0q +8" [dull]="treble -8 1500" [boomy]="bass +8 300")
for chain in $chains; do
  [ -n "${fx[$chain]:-}" ] || { echo "make_line_eq: unknown chain $chain (bright, dull, boomy)" >&2; exit 2; }
  for r in $renders; do
    src=out/cremad/calls/$r
    [ -d "$src" ] || { echo "make_line_eq: $src not found: run tools/data/make_cremad.py first" >&2; exit 1; }
    d=$out/${chain}_$r
    mkdir -p "$d"
    for f in "$src"/*.wav; do
      b=$(basename "$f" .wav)
      [ -f "$d/$b.wav" ] && continue
      # shellcheck disable=SC2086 # the effect is words
      sox -R -V1 "$f" -t wav -e floating-point -b 32 "$d/$b.f.wav" ${fx[$chain]} 2>/dev/null
      sox -R -V1 "$d/$b.f.wav" -e u-law -b 8 "$d/$b.wav"
      rm "$d/$b.f.wav"
      cp "$src/$b.txt" "$d/"
    done
  done
done
