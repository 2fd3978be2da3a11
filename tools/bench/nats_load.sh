#!/usr/bin/env bash
# NATS JetStream under load, on this machine, with a real nats-server
# (JetStream on, a temp store, loopback).
#
#   bash tools/bench/nats_load.sh publish SECONDS CALLS RATE...
#       One node (examples/nats_bench.rs) with CALLS real stereo AudioSocket
#       calls (examples/loadgen.rs) while RATE extra event lines per second
#       are pushed through its hub to NATS; one JSON line per RATE: lines
#       published and dropped, the deepest queue, the calls' frame latency
#       p99 and the client's late frames.
#   bash tools/bench/nats_load.sh fleet SECONDS N...
#       Two `shoutcue serve` nodes publishing to one nats-server, N stereo
#       calls split over them (one loadgen per node); one JSON line per N:
#       late frames, each node's frame latency p99 and CPU, nats-server's
#       CPU, lines published.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?publish or fleet}; shift
secs=${1:-30}; shift || true
cargo build --release -p shoutcue --quiet
cargo build --release -p shoutcue-serve --example loadgen --example nats_bench --quiet
nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

start_nats() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$work/js"; mkdir -p "$work/js"
  "$nats_bin" -a 127.0.0.1 -p "$port" -js -sd "$work/js" >/dev/null 2>&1 &
  nats_pid=$!
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
  url="nats://127.0.0.1:$port"
}
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

if [ "$mode" = publish ]; then
  calls=${1:?CALLS}; shift
  for rate in "$@"; do
    start_nats
    target/release/examples/nats_bench "$url" "$rate" "$secs" > "$work/bench.out" &
    bench=$!
    for _ in $(seq 100); do grep -q "^audiosocket " "$work/bench.out" && break; sleep 0.05; done
    addr=$(sed -n 's/^audiosocket //p' "$work/bench.out")
    n0=$(ticks $nats_pid); w0=$(date +%s%N)
    client=$(target/release/examples/loadgen "$addr" "$calls" "$secs" --stereo)
    n1=$(ticks $nats_pid); w1=$(date +%s%N)
    wait $bench || true
    result=$(grep '^{' "$work/bench.out")
    kill $nats_pid; wait $nats_pid 2>/dev/null || true
    python3 - "$client" "$result" "$calls" "$n0" "$n1" "$w0" "$w1" "$hz" <<'PY'
import json, sys
c, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])
calls, n0, n1, w0, w1, hz = map(int, sys.argv[3:9])
r.update({"calls": calls, "late_frames": c["late_frames"], "client_frames": c["frames"],
          "nats_server_cpu_cores": round((n1 - n0) / hz / ((w1 - w0) / 1e9), 3)})
print(json.dumps(r))
PY
  done
elif [ "$mode" = fleet ]; then
  for n in "$@"; do
    start_nats
    pids=(); addrs=(); healths=()
    for node in a b; do
      target/release/shoutcue serve --audiosocket 127.0.0.1:0 --http 127.0.0.1:0 --max-calls 5000 \
        --drain-grace 1 --nats "$url" --site bench --node-id "node-$node" 2> "$work/serve-$node.log" &
      pids+=($!)
    done
    for node in a b; do
      for _ in $(seq 100); do grep -q "audiosocket tcp://" "$work/serve-$node.log" && break; sleep 0.1; done
      addrs+=("$(grep -o 'tcp://[^ ]*' "$work/serve-$node.log" | head -n1 | sed 's|tcp://||')")
      healths+=("$(grep -o 'http://[^ ]*healthz' "$work/serve-$node.log" | head -n1)")
    done
    sleep 1
    a0=$(ticks ${pids[0]}); b0=$(ticks ${pids[1]}); n0=$(ticks $nats_pid); w0=$(date +%s%N)
    half=$((n / 2))
    target/release/examples/loadgen "${addrs[0]}" "$half" "$secs" --stereo --id-base 0 > "$work/client-a.json" &
    ca=$!
    target/release/examples/loadgen "${addrs[1]}" "$((n - half))" "$secs" --stereo --id-base 1000000 > "$work/client-b.json" &
    cb=$!
    wait $ca $cb
    a1=$(ticks ${pids[0]}); b1=$(ticks ${pids[1]}); n1=$(ticks $nats_pid); w1=$(date +%s%N)
    sleep 2
    ha=$(curl -s "${healths[0]}"); hb=$(curl -s "${healths[1]}")
    kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
    kill $nats_pid; wait $nats_pid 2>/dev/null || true
    python3 - "$(cat "$work/client-a.json")" "$(cat "$work/client-b.json")" "$ha" "$hb" "$n" \
      "$a0" "$a1" "$b0" "$b1" "$n0" "$n1" "$w0" "$w1" "$hz" <<'PY'
import json, sys
ca, cb, ha, hb = (json.loads(x) for x in sys.argv[1:5])
n, a0, a1, b0, b1, n0, n1, w0, w1, hz = map(int, sys.argv[5:15])
wall = (w1 - w0) / 1e9
cpu = lambda t0, t1: round((t1 - t0) / hz / wall, 3)
print(json.dumps({"calls": n, "late_frames": ca["late_frames"] + cb["late_frames"],
  "frames": ca["frames"] + cb["frames"], "failed_legs": ca["failed_legs"] + cb["failed_legs"],
  "worst_send_lateness_ms": max(ca["worst_send_lateness_ms"], cb["worst_send_lateness_ms"]),
  "node_p99_us_at_most": [ha["frame_latency_p99_us_at_most"], hb["frame_latency_p99_us_at_most"]],
  "node_cpu_cores": [cpu(a0, a1), cpu(b0, b1)], "nats_server_cpu_cores": cpu(n0, n1),
  "published": [ha["nats"]["published"], hb["nats"]["published"]],
  "dropped": [ha["nats"]["dropped"], hb["nats"]["dropped"]]}))
PY
  done
else
  echo "nats_load.sh: publish or fleet, got $mode" >&2; exit 2
fi
