#!/usr/bin/env bash
# Checks the service packaging (issue 26): the systemd unit with
# `systemd-analyze verify`, and the container image: built and run with
# docker where an engine runs, and otherwise its steps run here without one
# (the same cargo command, the same runtime libraries, the same unprivileged
# user with nothing but the binary and the image's environment).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
chmod 0755 "$tmp"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# The Dockerfile's build stage, word for word.
cargo build --release --locked -p shoutcue
bin=$PWD/target/release/shoutcue

# 1. The unit, pointed at this build (verify checks that ExecStart exists).
sed "s|/usr/local/bin/shoutcue|$bin|" packaging/shoutcue.service > "$tmp/shoutcue.service"
out=$(systemd-analyze verify "$tmp/shoutcue.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "systemd-analyze verify complained: $out"; exit 1; fi
echo "ok - packaging/shoutcue.service passes systemd-analyze verify"

# 2. The image.
if docker info >/dev/null 2>&1; then
  docker build -f packaging/Dockerfile -t shoutcue:ci .
  docker run --rm shoutcue:ci --print-config | grep -q '^max_calls = 1000$'
  echo "ok - the image builds and runs"
  exit 0
fi
echo "# no Docker engine here: the Dockerfile's runtime steps without one"
libs=$(ldd "$bin" | awk '{print $1}' | grep -v -E '^(linux-vdso|/lib64/ld-linux)' | sort | tr '\n' ' ')
if [ "$libs" != "libc.so.6 libgcc_s.so.1 libm.so.6 " ]; then
  echo "the binary links more than debian:bookworm-slim has: $libs"; exit 1
fi
echo "ok - links only libc, libm and libgcc_s (all in debian:bookworm-slim)"

mkdir "$tmp/bin" "$tmp/state"
cp "$bin" "$tmp/bin/shoutcue"
chown nobody "$tmp/state"
# USER 10001 in the image: here `nobody`, as unprivileged; env -i: only the
# image's own environment.
# (An array, not a function: a function run with & is a subshell, and the
# SIGTERM below must reach the server itself.)
as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs
  env -i HOME=/nonexistent SHOUTCUE_SERVE__EVENTS_DIR="$tmp/state")
"${as_user[@]}" "$tmp/bin/shoutcue" serve --print-config | grep -q '^max_calls = 1000$'
echo "ok - --print-config as an unprivileged user"

"${as_user[@]}" "$tmp/bin/shoutcue" serve --audiosocket 127.0.0.1:0 --http 127.0.0.1:0 > "$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'http http://' "$tmp/log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*/healthz' "$tmp/log" | head -1)
[ -n "$url" ] || { cat "$tmp/log"; echo "serve did not start"; exit 1; }
curl -fsS "$url" | grep -q '"status":"ok"' || { curl -sS "$url"; cat "$tmp/log"; exit 1; }
echo "ok - serve runs as an unprivileged user, events in its own directory, /healthz ok"
kill -TERM "$pid"
wait "$pid"
pid=
echo "ok - SIGTERM drains and exits 0"
