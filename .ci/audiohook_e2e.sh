#!/usr/bin/env bash
# AudioHook end to end against the outside peer: the Genesys reference test
# client (../shared/peers/audiohook-client, MIT; run, never copied) streams a
# bundled call into `shoutcue serve` at real time.
#  1. one session: the call's events equal `replay`'s for the same audio
#     (types in order, times within one 10 ms hop), call_end reason hangup;
#  2. --session-count 50: 50 concurrent sessions, every one ends cleanly with
#     the same events, none refused, none in error;
#  3. a client with the wrong secret is refused (401) and starts no call;
#  4. SIGTERM: the server exits promptly;
#  5. over wss:// (the only scheme Genesys uses): a server with --tls-cert,
#     the client trusting that certificate, one session with replay's events.
# Needs node/npm (the client's dependencies install once, from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
peer=../shared/peers/audiohook-client
bin=${SHOUTCUE_BIN:-target/release/shoutcue}
[ -x "$bin" ] || cargo build --release -p shoutcue --quiet
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

# The client sends channel 0 as external (the customer), channel 1 as
# internal (the agent); the fixture has the agent on the left, so swap the
# two mu-law bytes of every frame (the samples stay bit for bit the same).
python3 - "fixtures/mulaw_shout.wav" "$work/call.wav" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
i = 12
while i + 8 <= len(b):
    n = struct.unpack_from("<I", b, i + 4)[0]
    if b[i:i+4] == b"data":
        d = b[i+8:i+8+n]
        d[0::2], d[1::2] = d[1::2], d[0::2]
        b[i+8:i+8+n] = d
        break
    i += 8 + n + (n & 1)
open(sys.argv[2], "wb").write(b)
EOF

export SHOUTCUE_AUDIOHOOK_API_KEY=ci-audiohook-key
export SHOUTCUE_AUDIOHOOK_CLIENT_SECRET=$(head -c 32 /dev/urandom | base64)
"$bin" serve --audiohook 127.0.0.1:0 --http 127.0.0.1:0 --events-dir "$work/events" \
  --max-calls 60 --drain-grace 5 2> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do grep -q "audiohook ws://" "$work/serve.log" && break; sleep 0.1; done
uri=$(grep -o 'ws://[^ ]*' "$work/serve.log" | head -n 1)
health=$(grep -o 'http://[^ ]*healthz' "$work/serve.log" | head -n 1)
[ -n "$uri" ] || { cat "$work/serve.log"; echo "serve did not start" >&2; exit 1; }
echo "serve: $uri"

"$bin" replay fixtures/mulaw_shout.wav > "$work/replay.jsonl"

check() { # check DIR WANT_COUNT
  python3 - "$work/replay.jsonl" "$1" "$2" <<'EOF'
import json, pathlib, sys
def events(p):
    out = []
    for line in open(p):
        v = json.loads(line)
        if v["type"] != "call_start":
            out.append(v)
    return out
want = events(sys.argv[1])
files = sorted(pathlib.Path(sys.argv[2]).glob("*.jsonl"))
n = int(sys.argv[3])
assert len(files) == n, f"{len(files)} calls, expected {n}"
for f in files:
    got = events(f)
    gt, wt = [e["type"] for e in got], [e["type"] for e in want]
    assert gt == wt, f"{f.name}: types {gt} != replay {wt}"
    worst = max(abs(g["t"] - w["t"]) for g, w in zip(got, want))
    assert worst <= 0.0101, f"{f.name}: times differ from replay by up to {worst:.3f} s"
    assert got[-1].get("reason") == "hangup", f"{f.name}: ended {got[-1]}"
    assert pathlib.Path(str(f)[:-len(".jsonl")] + ".note.json").exists(), f"{f.name}: no note"
cues = [e["step"] for e in want if e["type"] == "cue"]
print(f"{len(files)} call(s): events equal replay's ({len(want)} events, cues at steps {cues}), all ended by hangup with a note")
EOF
}

wait_idle() {
  for _ in $(seq 300); do
    active=$(curl -s "$health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["active_calls"])')
    [ "$active" = 0 ] && return 0
    sleep 0.2
  done
  echo "calls still active" >&2; return 1
}

echo "== 1 session"
bash "$peer/run.sh" --uri "$uri" --api-key "$SHOUTCUE_AUDIOHOOK_API_KEY" \
  --client-secret "$SHOUTCUE_AUDIOHOOK_CLIENT_SECRET" --wavfile "$work/call.wav" > "$work/client1.log" 2>&1
wait_idle
check "$work/events" 1

echo "== 50 concurrent sessions"
mkdir -p "$work/one" && mv "$work/events"/* "$work/one/"
bash "$peer/run.sh" --uri "$uri" --api-key "$SHOUTCUE_AUDIOHOOK_API_KEY" \
  --client-secret "$SHOUTCUE_AUDIOHOOK_CLIENT_SECRET" --wavfile "$work/call.wav" \
  --session-count 50 > "$work/client50.log" 2>&1
wait_idle
check "$work/events" 50
curl -s "$health" | python3 -c '
import json, sys
h = json.load(sys.stdin)
assert h["calls_refused"]["audiohook"] == 0, h
assert h["calls_started"]["audiohook"] == 51, h
print("healthz:", h["calls_started"]["audiohook"], "started,", h["calls_ended"]["audiohook"], "ended, 0 refused")'
if grep -E "ERROR|panicked" "$work/serve.log"; then echo "errors in the server log" >&2; exit 1; fi

echo "== wrong secret"
mv "$work/events" "$work/fifty"
bash "$peer/run.sh" --uri "$uri" --api-key "$SHOUTCUE_AUDIOHOOK_API_KEY" \
  --client-secret "$(head -c 32 /dev/urandom | base64)" --wavfile "$work/call.wav" \
  --max-stream-duration 2 > "$work/client-bad.log" 2>&1 || true
grep -q "upgrade refused (401)" "$work/serve.log" || { echo "a wrong signature was not refused" >&2; exit 1; }
[ -z "$(ls "$work/events" 2>/dev/null)" ] || { echo "a refused client started a call" >&2; exit 1; }
echo "refused with 401, no call started"

echo "== SIGTERM"
start=$(date +%s%N)
kill -TERM "$serve_pid"
wait "$serve_pid"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "serve exited ${ms} ms after SIGTERM"
[ "$ms" -lt 3000 ]

echo "== wss://"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
"$bin" serve --audiohook 127.0.0.1:0 --http 127.0.0.1:0 --events-dir "$work/tls-events" \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" 2> "$work/serve-tls.log" &
tls_pid=$!
for _ in $(seq 100); do grep -q "audiohook wss://" "$work/serve-tls.log" && break; sleep 0.1; done
uri=$(grep -o 'wss://[^ ]*' "$work/serve-tls.log" | head -n 1)
health=$(grep -o 'https://[^ ]*healthz' "$work/serve-tls.log" | head -n 1)
[ -n "$uri" ] && [ -n "$health" ] || { cat "$work/serve-tls.log"; echo "serve with TLS did not start" >&2; exit 1; }
echo "serve: $uri"
curl() { command curl --cacert "$work/cert.pem" "$@"; }
NODE_EXTRA_CA_CERTS="$work/cert.pem" bash "$peer/run.sh" --uri "$uri" --api-key "$SHOUTCUE_AUDIOHOOK_API_KEY" \
  --client-secret "$SHOUTCUE_AUDIOHOOK_CLIENT_SECRET" --wavfile "$work/call.wav" > "$work/client-tls.log" 2>&1
wait_idle
check "$work/tls-events" 1
kill -TERM "$tls_pid"
wait "$tls_pid"
echo "AudioHook e2e passed"
