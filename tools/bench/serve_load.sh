#!/usr/bin/env bash
# Load on `shoutcue serve`: N concurrent AudioSocket calls at real-time pace
# (examples/loadgen.rs in crates/serve), for each N given; prints one JSON
# line per N with the client's late frames, the server's frame latency
# (arrival to events written, from /healthz), and the server's CPU and
# memory per call.
#   bash tools/bench/serve_load.sh [SECONDS] [N...]     e.g. 30 100 250 500 1000
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}; shift || true
ns=${*:-100 250 500 1000}
cargo build --release -p shoutcue --quiet
cargo build --release -p shoutcue-serve --example loadgen --quiet
work=$(mktemp -d)
for n in $ns; do
  target/release/shoutcue serve --audiosocket 127.0.0.1:0 --http 127.0.0.1:0 --events-dir "$work/ev-$n" \
    --max-calls 5000 --drain-grace 1 2> "$work/serve-$n.log" &
  pid=$!
  for _ in $(seq 100); do grep -q "audiosocket tcp://" "$work/serve-$n.log" && break; sleep 0.1; done
  addr=$(grep -o 'tcp://[^ ]*' "$work/serve-$n.log" | head -n1 | sed 's|tcp://||')
  health=$(grep -o 'http://[^ ]*healthz' "$work/serve-$n.log" | head -n1)
  ticks() { awk '{print $14+$15}' /proc/$pid/stat; }
  t0=$(ticks); w0=$(date +%s%N)
  client=$(target/release/examples/loadgen "$addr" "$n" "$secs" --stereo)
  t1=$(ticks); w1=$(date +%s%N)
  rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  h=$(curl -s "$health")
  kill -TERM $pid; wait $pid || true
  python3 - "$client" "$h" "$t0" "$t1" "$w0" "$w1" "$rss_kb" "$n" <<'PY'
import json, os, sys
c, h = json.loads(sys.argv[1]), json.loads(sys.argv[2])
t0, t1, w0, w1, rss, n = map(int, sys.argv[3:9])
hz = os.sysconf("SC_CLK_TCK")
cpu = (t1 - t0) / hz / ((w1 - w0) / 1e9)
print(json.dumps({"calls": n, "late_frames": c["late_frames"], "frames": c["frames"], "failed_legs": c["failed_legs"],
  "worst_send_lateness_ms": c["worst_send_lateness_ms"], "server_p50_us_at_most": h["frame_latency_p50_us_at_most"],
  "server_p99_us_at_most": h["frame_latency_p99_us_at_most"], "server_cpu_cores": round(cpu, 3),
  "cpu_percent_of_a_core_per_call": round(100 * cpu / n, 4), "peak_rss_mb": round(rss / 1024, 1),
  "rss_kb_per_call": round(rss / n, 1)}))
PY
done
