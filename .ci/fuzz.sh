#!/usr/bin/env bash
# Fuzz the WAV reader (fuzz target `wav_reader`) for a bounded time.
#
#   .ci/fuzz.sh [SECONDS]      default 60
#
# Installs cargo-fuzz if missing, writes a small seed corpus of valid and
# near-valid WAVs (PCM, float, mu-law, A-law, EXTENSIBLE, odd chunks,
# streaming size, truncation), runs libFuzzer, and prints the execution
# count. The toolchain is stable, so RUSTC_BOOTSTRAP=1 unlocks the
# sanitizer flags cargo-fuzz needs. Crashes land in fuzz/artifacts/.
# FUZZ_TARGET_DIR overrides the build dir (default fuzz/target).
set -euo pipefail

secs="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io ..." >&2
    cargo install cargo-fuzz
fi

corpus="$root/fuzz/corpus/wav_reader"
mkdir -p "$corpus"

# Little-endian fields as raw bytes.
le16() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $((($1 >> 16) & 65535)); }

# seed NAME TAG CHANNELS RATE BITS NFRAMES [extensible] [datasize-override] [extra-chunk]
seed() {
    local name=$1 tag=$2 ch=$3 rate=$4 bits=$5 frames=$6 ext=${7:-0} dsize=${8:-} extra=${9:-0}
    local ba=$((ch * bits / 8)) nbytes=$((frames * ch * bits / 8))
    {
        printf 'RIFF'; le32 $((4 + 8 + (ext ? 40 : 16) + 8 + nbytes)); printf 'WAVE'
        printf 'fmt '
        if [ "$ext" = 1 ]; then
            le32 40; le16 65534
        else
            le32 16; le16 "$tag"
        fi
        le16 "$ch"; le32 "$rate"; le32 $((rate * ba)); le16 "$ba"; le16 "$bits"
        if [ "$ext" = 1 ]; then
            le16 22; le16 "$bits"; le32 3; le16 "$tag"
            printf '\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71'
        fi
        if [ "$extra" = 1 ]; then printf 'LIST'; le32 5; printf 'INFOx\x00'; fi
        printf 'data'; le32 "${dsize:-$nbytes}"
        head -c "$nbytes" /dev/urandom
    } > "$corpus/$name"
}

seed pcm8_mono      1 1  8000  8 64
seed pcm16_stereo   1 2 16000 16 64
seed pcm24_ext      1 2 48000 24 32 1
seed pcm32_ext      1 1 44100 32 32 1
seed float32        3 1 22050 32 32
seed float32_ext    3 2 11025 32 16 1
seed mulaw_stereo   7 2  8000  8 64 0 "" 1
seed alaw_mono      6 1  8000  8 64
seed mulaw_ext      7 2  8000  8 32 1
seed streaming      7 2  8000  8 40 0 4294967295
seed truncated      1 2  8000 16 16 0 4000
seed quad_pcm16     1 4  8000 16 16 1
seed adpcm          2 1  8000  4 16

cd "$root/fuzz"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo fuzz run --target-dir "${FUZZ_TARGET_DIR:-$root/fuzz/target}" wav_reader "$corpus" -- \
    -max_total_time="$secs" -max_len=8192 -print_final_stats=1 2>&1 | tee "$log" | grep -E 'Done|ERROR|panicked|SUMMARY|DONE' 
status=${PIPESTATUS[0]}
set -e
execs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)"
echo "executions: ${execs:-unknown} in ${secs} s; exit status ${status}"
if [ "$status" -ne 0 ]; then
    echo "fuzzing found a problem; see fuzz/artifacts/wav_reader/ and the log above" >&2
fi
exit "$status"
