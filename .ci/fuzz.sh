#!/usr/bin/env bash
# Fuzz every parser that takes bytes from outside, each for a bounded time.
#
#   .ci/fuzz.sh [READER_SECONDS] [OTHER_SECONDS]      defaults 60 and 20
#
# Targets (fuzz/fuzz_targets/): the WAV reader (`wav_reader`, READER_SECONDS),
# and for OTHER_SECONDS each: the script and coach timing files
# (`script_toml`, `coach_config`), the overlay's mark body (`mark_body`),
# and each telephony framing (`audiosocket_frames`, `audiohook_message`,
# `twilio_message`, `freeswitch_metadata`).
#
# Installs cargo-fuzz if missing, writes a small seed corpus of valid and
# near-valid inputs per target under fuzz/corpus/<target>/, builds all
# targets once, runs libFuzzer on each, and prints the execution count per
# target. The toolchain is stable, so RUSTC_BOOTSTRAP=1 unlocks the
# sanitizer flags cargo-fuzz needs. Targets are built with debug assertions
# and overflow checks (--debug-assertions), as the tests are: an overflow on
# outside bytes is a crash here, not a silently wrong number. Crashes land in fuzz/artifacts/<target>/;
# the script fails if any target found one.
# FUZZ_TARGET_DIR overrides the build dir (default fuzz/target).
# FUZZ_TARGETS (space-separated) runs only those targets.
set -euo pipefail

reader_secs="${1:-60}"
other_secs="${2:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
target_dir="${FUZZ_TARGET_DIR:-$root/fuzz/target}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io ..." >&2
    cargo install cargo-fuzz
fi

all_targets=(wav_reader script_toml coach_config mark_body audiosocket_frames audiohook_message twilio_message freeswitch_metadata)
read -r -a targets <<< "${FUZZ_TARGETS:-${all_targets[*]}}"

# --- wav_reader: valid and near-valid WAVs (PCM, float, mu-law, A-law,
# EXTENSIBLE, odd chunks, streaming size, truncation).
corpus="$root/fuzz/corpus/wav_reader"
mkdir -p "$corpus"
# A Sun .au call (the walk reads .au too).
cp "$root/testdata/formats/excerpt.au" "$corpus/seed_au_mulaw.au"

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

# --- Text seeds: one file per input.
# put TARGET NAME TEXT
put() {
    mkdir -p "$root/fuzz/corpus/$1"
    printf '%s' "$3" > "$root/fuzz/corpus/$1/$2"
}

# --- script_toml
put script_toml en "$(cat "$root/models/script-en.toml")"
put script_toml de "$(cat "$root/models/script-de.toml")"
put script_toml three_steps 'lang = "xx"
steps = ["a", "b", "c"]
calm = "c"
end_call = "e"
[nudges]
raised_voice = "r"
overtalk = "o"'
put script_toml brace 'lang = "xx"
steps = ["{name}, a", "b {nam}", "c", "d"]
calm = "c"
end_call = "e"
[nudges]
raised_voice = "r"
overtalk = "o"'
put script_toml empty_line 'lang = "xx"
steps = ["{name}", " ", "c", "d"]
calm = ""
end_call = "e"
nudges = { raised_voice = "r", overtalk = "o", extra = 1 }'

# --- coach_config
put coach_config defaults 'pause_s = 0.25
delivery_window_s = 6.0
delivery_min_speech_s = 0.4
calm_after_s = 10.0
calm_min_speech_s = 1.5
overtalk_s = 1.0
nudge_cooldown_s = 20.0'
put coach_config partial 'pause_s = 0
nudge_cooldown_s = 3600'
put coach_config bad 'delivery_window_s = 0.2
delivery_min_speech_s = 0.4
calm_after_s = nan
overtalk_s = -1
pause = 1'
put coach_config empty ''

# --- mark_body: the page's marks, and near misses.
put mark_body said '{"action":"said","step":1,"cue_t":5.5}'
put mark_body dismiss_repeat '{"action":"dismiss","step":3,"repeat":2,"cue_t":12.25}'
put mark_body bad_step '{"action":"said","step":5,"repeat":0,"cue_t":1}'
put mark_body bad_time '{"action":"said","step":2,"cue_t":-1e309}'
put mark_body bad_action '{"action":"maybe","step":2,"cue_t":1,"extra":[1,{"x":null}]}'

# --- audiosocket_frames: a stream of frames (kind, big-endian length, payload).
as_dir="$root/fuzz/corpus/audiosocket_frames"
mkdir -p "$as_dir"
uuid='\x01\x00\x10\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\x00'
{ printf "$uuid"; printf '\x10\x00\x08'; head -c 8 /dev/urandom; printf '\x03\x00\x015\x00\x00\x00'; } > "$as_dir/call"
{ printf "$uuid"; printf '\x12\x01\x40'; head -c 320 /dev/urandom; printf '\x18\x00\x04'; head -c 4 /dev/urandom; } > "$as_dir/rates"
{ printf '\x01\x00\x0f'; head -c 15 /dev/urandom; printf '\x10\x00\x03abc\xff\x00\x01\x02\x42\x00\x01x'; } > "$as_dir/bad"
{ printf "$uuid"; printf '\x10\x00\x00\x10\x01\x00ab'; } > "$as_dir/cut"

# --- audiohook_message: `V` + key, signature-input, signature, target, clock
# (lines), or any other byte + one client message.
sig_params='("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" "audiohook-correlation-id" "x-api-key");keyid="KEY";nonce="abc";alg="hmac-sha256";created=1760000000;expires=1760000030'
put audiohook_message sig_wrong "V
KEY
sig1=$sig_params
sig1=:q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=:
/api/v1/audiohook/ws
1760000005"
put audiohook_message sig_far "V
KEY
sig1=${sig_params/expires=1760000030/expires=9223372036854775807}
sig1=:AA==:
/api/v1/audiohook/ws
9223372036854775807"
put audiohook_message sig_partial 'V
KEY
sig1=("@request-target" "x-api-key");keyid="KEY";expires=9223372036854775807, sig2=("a\"b")
sig2=:AAAA:, sig1=:AA==:
/
-9223372036854775808'
put audiohook_message sig_other_key "V
OTHER
sig1=$sig_params
sig1=:AA==:"
put audiohook_message open 'M{"version":"2","id":"e160e428-53e2-487c-977d-96989bf5c99d","type":"open","seq":1,"position":"PT0S","parameters":{"organizationId":"d7934305-0972-4844-938e-9060eef73d05","conversationId":"090eaa2f-72fa-480a-83e0-8667ff89c0ec","participant":{"id":"883efee8-3d6c-4537-b500-6d7ca4b92fa0","ani":"+1-555-555-1234","aniName":"John Doe","dnis":"+1-800-555-6789"},"media":[{"type":"audio","format":"PCMU","channels":["external","internal"],"rate":8000},{"type":"audio","format":"L16","channels":["external"],"rate":8000}],"language":"en-US"}}'
put audiohook_message probe 'M{"version":"2","id":"x","type":"open","seq":1,"parameters":{"conversationId":"00000000-0000-0000-0000-000000000000","media":[{"type":"audio","format":"L16","channels":["internal","external"],"rate":16000}]}}'
put audiohook_message ping 'M{"version":"2","id":"x","type":"ping","seq":1,"parameters":{"rtt":"PT0.025S"}}'
put audiohook_message discarded 'M{"version":"2","id":"x","type":"discarded","seq":1,"parameters":{"start":"PT1S","discarded":"PT1.25S"}}'
put audiohook_message bad_seq 'M{"version":"1","id":"x","type":"close","seq":2,"parameters":null}'

# --- twilio_message: one Media Streams message each.
put twilio_message connected '{"event":"connected","protocol":"Call","version":"1.0.0"}'
put twilio_message start '{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound","outbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"agent_id":"a7"}},"streamSid":"MZ1"}'
put twilio_message start_bad '{"event":"start","start":{"mediaFormat":{"encoding":"audio/l16","sampleRate":16000},"tracks":"both_tracks"}}'
put twilio_message media "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{\"track\":\"outbound\",\"chunk\":\"1\",\"timestamp\":\"5\",\"payload\":\"$(head -c 160 /dev/urandom | base64 -w0)\"},\"streamSid\":\"MZ1\"}"
put twilio_message media_bad '{"event":"media","media":{"track":"both","timestamp":"-1","payload":"not base64!"}}'
put twilio_message mark '{"event":"mark","streamSid":"MZ1","mark":{"name":"m1"}}'
put twilio_message dtmf '{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"1"}}'
put twilio_message stop '{"event":"stop","stop":{"accountSid":"AC1","callSid":"CA1"}}'

# --- freeswitch_metadata: the first text frame of an audio fork.
put freeswitch_metadata full '{"callId":"abc","agentId":"a7","sampleRate":16000,"channels":2,"customerChannel":1}'
put freeswitch_metadata uuid '{"uuid":"9b1f","agent_id":"a9"}'
put freeswitch_metadata empty '{}'
put freeswitch_metadata wide '{"sampleRate":4294975296,"channels":65537,"customerChannel":65536}'
put freeswitch_metadata mono '{"channels":1,"customerChannel":1}'
put freeswitch_metadata array '[1,2,3]'

cd "$root/fuzz"
# One build of every target; each run below then finds it up to date.
echo "building the fuzz targets ..." >&2
cargo fuzz build --debug-assertions --target-dir "$target_dir" >&2

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
    secs="$other_secs"
    max_len=4096
    if [ "$t" = wav_reader ]; then
        secs="$reader_secs"
        max_len=8192
    fi
    mkdir -p "$root/fuzz/corpus/$t"
    echo "== $t (${secs} s)"
    set +e
    cargo fuzz run --debug-assertions --target-dir "$target_dir" "$t" "$root/fuzz/corpus/$t" -- \
        -max_total_time="$secs" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
        > "$log" 2>&1
    status=$?
    set -e
    grep -E 'Done|ERROR|panicked|SUMMARY|DONE' "$log" || true
    execs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)"
    line="$t: executions: ${execs:-unknown} in ${secs} s; exit status ${status}"
    echo "$line"
    summary+=("$line")
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        echo "fuzzing $t found a problem; see fuzz/artifacts/$t/ and the log above" >&2
        failed+=("$t")
    fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz targets that failed: ${failed[*]}" >&2
    exit 1
fi
