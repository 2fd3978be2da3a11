#!/usr/bin/env python3
"""A bounded soak of `shoutcue serve` under attack, while a real call runs.

Issue 27 asks that the server under slowloris, churn and amplification keep
a real call's events equal to `replay`'s, and another call's frame latency
within its p99. This starts the release binary with the AudioSocket,
FreeSWITCH and Twilio listeners and the pages on loopback, measures the
frame latency p99 and CPU of a quiet call first, then runs, for the length
of one real two-leg AudioSocket call streamed at real time:

* slowloris: idle sockets on every listener (more than each one's budget),
  opened again as soon as the server closes them;
* churn: connect and close on every listener, as fast as the server takes;
* an endless WebSocket message of empty continuation frames (FreeSWITCH);
* a ping flood (Twilio);
* Twilio media whose timestamps claim years of gap.

Slowloris and churn come from 127.0.0.2, the floods from 127.0.0.3, the
call and `/healthz` from 127.0.0.1: three hosts, as the server sees them. Then it checks, and exits non-zero when one fails:

* the call's events equal `shoutcue replay`'s for the same audio (types in
  order, times within one 10 ms hop) and the call ended on its hangup;
* `/healthz` answered during the attack;
* the server's frame latency p99 during the attack stayed within
  `--max-p99-ms` (the quiet call's p99 is printed beside it);
* the server's CPU during the attack stayed within `--max-cpu` seconds per
  second (each attack may cost a bounded amount of work).

Standard library only.

    python3 tools/soak/soak.py [--bin target/release/shoutcue]
        [--fixture fixtures/continued_shout.wav] [--seconds 22] [--max-p99-ms 20] [--max-cpu 0.6]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from pathlib import Path

HOP_S = 0.01
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICKS  # utime, stime


def health(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + struct.pack(">H", len(payload)) + payload


def ws_frame(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    """A masked client frame (RFC 6455 section 5.2); payloads under 126 bytes or 16-bit lengths."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


#: The attackers' address: another host, as far as the server can tell (Linux
#: answers on all of 127.0.0.0/8). The real call and /healthz come from 127.0.0.1.
ATTACKER = ("127.0.0.2", 0)
#: The floods' address: a third host, so the slowloris host's share of the
#: waiting budget does not keep them out (they must get in to be measured).
FLOODER = ("127.0.0.3", 0)


async def ws_open(host: str, port: int, path: str):
    r, w = await asyncio.open_connection(host, port, local_addr=FLOODER)
    key = base64.b64encode(os.urandom(16)).decode()
    w.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await w.drain()
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"upgrade refused: {head[:80]!r}")
    return r, w


def trimmed(fixture: Path, seconds: float, out: Path) -> Path:
    """The first `seconds` of a WAV, as a WAV (what the call streams and replay reads)."""
    with wave.open(str(fixture)) as f, wave.open(str(out), "wb") as g:
        g.setparams(f.getparams())
        g.writeframes(f.readframes(int(seconds * f.getframerate())))
    return out


async def real_call(host: str, port: int, fixture: Path, uuid: bytes) -> None:
    """Both legs of one call over AudioSocket, a 20 ms frame each per 20 ms."""
    with wave.open(str(fixture)) as f:
        assert f.getframerate() == 8000 and f.getnchannels() == 2 and f.getsampwidth() == 2, fixture
        pcm = f.readframes(f.getnframes())
    agent = b"".join(pcm[i:i + 2] for i in range(0, len(pcm), 4))
    cust = b"".join(pcm[i + 2:i + 4] for i in range(0, len(pcm), 4))
    legs = []
    for role in (0, 1):
        _, w = await asyncio.open_connection(host, port)
        w.write(frame(0x01, uuid[:15] + bytes([role])))
        legs.append(w)
    t0 = time.monotonic()
    for k, off in enumerate(range(0, min(len(cust), len(agent)) - 319, 320)):
        for w, x in zip(legs, (cust, agent)):
            w.write(frame(0x10, x[off:off + 320]))
        await asyncio.gather(*(w.drain() for w in legs))
        await asyncio.sleep(max(0.0, t0 + (k + 1) * 0.02 - time.monotonic()))
        if os.environ.get("SOAK_DEBUG") and k % 250 == 0:
            print(f"call frame {k} at {time.monotonic() - t0:.1f} s", flush=True)
    for w in reversed(legs):
        w.write(frame(0x00, b""))
        await w.drain()
        w.close()


async def idle_socket(host: str, port: int, stop: asyncio.Event, counts: dict) -> None:
    """One socket that never says anything, opened again whenever the server closes it."""
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection(host, port, local_addr=ATTACKER)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        counts["idle_opened"] = counts.get("idle_opened", 0) + 1
        try:
            await r.read(1024)  # until the server closes it (the task is cancelled at the end)
        except OSError:
            pass
        finally:
            w.close()
        await asyncio.sleep(0.05)


async def churn(host: str, port: int, stop: asyncio.Event, counts: dict) -> None:
    while not stop.is_set():
        try:
            _, w = await asyncio.open_connection(host, port, local_addr=ATTACKER)
            w.close()
            counts["churn"] = counts.get("churn", 0) + 1
        except OSError:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)


async def upgraded(host: str, port: int, path: str, stop: asyncio.Event, counts: dict, what: str):
    """A WebSocket, retried until the server lets one in (or the soak ends); refusals counted."""
    while not stop.is_set():
        try:
            return await ws_open(host, port, path)
        except (OSError, RuntimeError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            counts[f"{what}_refused"] = counts.get(f"{what}_refused", 0) + 1
            await asyncio.sleep(0.1)
    return None, None


async def flood(host: str, port: int, path: str, first: bytes, burst: bytes, what: str,
                stop: asyncio.Event, counts: dict) -> None:
    """`first`, then `burst` again and again as fast as the server reads, on a WebSocket
    opened again whenever the server closes it; anything the server sends is read and dropped."""
    while not stop.is_set():
        r, w = await upgraded(host, port, path, stop, counts, what)
        if w is None:
            return

        async def discard(r=r):
            while await r.read(65536):
                pass
        reader = asyncio.ensure_future(discard())
        w.write(first)
        while not stop.is_set():
            w.write(burst)
            try:
                await w.drain()  # cancelled at the end
            except OSError:
                break
            counts[f"{what}_bytes"] = counts.get(f"{what}_bytes", 0) + len(burst)
        reader.cancel()
        w.close()


def continuation_flood(host: str, port: int, stop: asyncio.Event, counts: dict):
    """One text message that never ends: a first fragment, then empty continuation frames."""
    return flood(host, port, "/fork", ws_frame(0x1, b"{", fin=False), ws_frame(0x0, b"", fin=False) * 2000,
                 "continuation", stop, counts)


def ping_flood(host: str, port: int, stop: asyncio.Event, counts: dict):
    """Pings of 125 bytes, each owed a pong."""
    return flood(host, port, "/media", b"", ws_frame(0x9, b"p" * 125) * 200, "ping", stop, counts)


async def twilio_gaps(host: str, port: int, stop: asyncio.Event, counts: dict) -> None:
    k = 0
    while not stop.is_set():
        _, w = await upgraded(host, port, "/media", stop, counts, "gap")
        if w is None:
            return
        sid = f"CA-soak-gap-{k}"
        start = {"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
                 "start": {"streamSid": "MZ1", "callSid": sid, "tracks": ["inbound"],
                           "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}
        w.write(ws_frame(0x1, json.dumps(start).encode()))
        payload = base64.b64encode(b"\xff" * 160).decode()
        for j in range(50):
            m = {"event": "media", "streamSid": "MZ1",
                 "media": {"track": "inbound", "chunk": str(j), "timestamp": str(j * 10**12), "payload": payload}}
            w.write(ws_frame(0x1, json.dumps(m).encode()))
        w.write(ws_frame(0x1, json.dumps({"event": "stop", "streamSid": "MZ1"}).encode()))
        try:
            await asyncio.wait_for(w.drain(), 2)
        except (asyncio.TimeoutError, OSError):
            pass
        w.close()
        counts["gap_calls"] = counts.get("gap_calls", 0) + 1
        k += 1
        await asyncio.sleep(0.05)


async def attack(addrs: dict, idle: int, stop_file: Path, counts_file: Path) -> None:
    stop = asyncio.Event()
    counts: dict = {}
    tasks = [asyncio.ensure_future(idle_socket(*addrs[k], stop, counts))
             for k in ("http", "audiosocket", "freeswitch", "twilio") for _ in range(idle)]
    tasks += [asyncio.ensure_future(x) for x in (
        churn(*addrs["audiosocket"], stop, counts),
        churn(*addrs["freeswitch"], stop, counts),
        churn(*addrs["http"], stop, counts),
        continuation_flood(*addrs["freeswitch"], stop, counts),
        ping_flood(*addrs["twilio"], stop, counts),
        twilio_gaps(*addrs["twilio"], stop, counts),
    )]
    while not stop_file.exists():
        await asyncio.sleep(0.2)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    counts_file.write_text(json.dumps(counts))


def attacker(addrs: dict, idle: int, stop_file: Path, counts_file: Path) -> None:
    """The attacks, in a process of their own, so that they cannot starve the real call's pacing."""
    import logging
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    asyncio.run(attack(addrs, idle, stop_file, counts_file))


def events(lines: list[str]) -> list[tuple[str, float]]:
    out = []
    for line in lines:
        v = json.loads(line)
        if v["type"] not in ("call_start", "call_end", "progress"):
            out.append((v["type"], float(v.get("t", 0.0))))
    return out


async def main_async(a) -> int:
    work = Path(tempfile.mkdtemp(prefix="shoutcue-soak-"))
    log = open(work / "serve.log", "w+")
    proc = subprocess.Popen([a.bin, "serve", "--audiosocket", "127.0.0.1:0", "--freeswitch", "127.0.0.1:0",
                             "--twilio", "127.0.0.1:0", "--http", "127.0.0.1:0", "--events-dir", str(work / "events"),
                             "--max-calls", "40", "--drain-grace", "2"], stderr=log, stdout=subprocess.DEVNULL)
    try:
        addrs = {}
        for _ in range(100):
            text = open(work / "serve.log").read()
            for name, pat in (("audiosocket", r"audiosocket tcp://([\d.]+):(\d+)"),
                              ("freeswitch", r"freeswitch ws://([\d.]+):(\d+)"),
                              ("twilio", r"twilio ws://([\d.]+):(\d+)"),
                              ("http", r"http://([\d.]+):(\d+)/healthz")):
                m = re.search(pat, text)
                if m:
                    addrs[name] = (m.group(1), int(m.group(2)))
            if len(addrs) == 4:
                break
            time.sleep(0.1)
        if len(addrs) != 4:
            print(open(work / "serve.log").read(), file=sys.stderr)
            print(f"soak: the server did not print its four listeners ({sorted(addrs)})", file=sys.stderr)
            return 1
        hurl = "http://%s:%d/healthz" % addrs["http"]
        print(f"soak: server {proc.pid}, listeners {addrs}")

        # A quiet call first: the latency and CPU to compare with.
        c0 = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        await real_call(*addrs["audiosocket"], trimmed(a.fixture, 3.0, work / "quiet.wav"), b"\x11" * 16)
        quiet_cpu = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
        await asyncio.sleep(0.5)
        quiet = health(hurl)
        print(f"quiet call: frame latency p99 <= {quiet['frame_latency_p99_us_at_most']} us, "
              f"server CPU {quiet_cpu:.2f} s/s")

        import multiprocessing
        stop_file, counts_file = work / "stop", work / "counts.json"
        child = multiprocessing.Process(target=attacker, args=(addrs, a.idle, stop_file, counts_file))
        child.start()
        await asyncio.sleep(1.0)
        c0 = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        fixture = trimmed(a.fixture, a.seconds, work / "call.wav")
        call = asyncio.ensure_future(real_call(*addrs["audiosocket"], fixture, b"\x22" * 16))
        health_ok = 0
        health_tries = 0
        while not call.done():
            await asyncio.sleep(1.0)
            health_tries += 1
            try:
                await asyncio.get_running_loop().run_in_executor(None, health, hurl)
                health_ok += 1
            except Exception as e:  # noqa: BLE001 (counted, and the figure says it)
                print(f"/healthz during the attack: {e}")
        try:
            await call
            call_error = None
        except OSError as e:
            call_error = e
        attack_s = time.monotonic() - t0
        attack_cpu = (cpu_seconds(proc.pid) - c0) / attack_s
        stop_file.touch()
        child.join(30)
        if child.is_alive():
            child.kill()
        counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
        under = None
        for _ in range(20):
            await asyncio.sleep(0.5)
            try:
                under = health(hurl)
                break
            except OSError:
                pass
        if under is None:
            print("soak: FAILED: /healthz did not answer after the attack", file=sys.stderr)
            return 1
        p99 = under["frame_latency_p99_us_at_most"]
        print(f"under attack ({attack_s:.1f} s): server CPU {attack_cpu:.2f} s/s, frame latency p99 <= {p99} us "
              f"(all calls so far), /healthz {health_ok}/{health_tries}; "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

        # The call's events against replay's.
        stem = "22222222-2222-2222-2222-222222222200"
        for _ in range(200):
            if (work / "events" / f"{stem}.note.json").exists():
                break
            await asyncio.sleep(0.05)
        failures = []
        if call_error is not None:
            failures.append(f"the real call was cut off: {call_error}")
        path = work / "events" / f"{stem}.jsonl"
        got_lines = open(path).read().splitlines() if path.exists() else ['{"type": "none"}']
        want = events(subprocess.run([a.bin, "replay", str(fixture)], check=True, capture_output=True,
                                     text=True).stdout.splitlines())
        got = events(got_lines)
        end = json.loads(got_lines[-1])
        if [t for t, _ in got] != [t for t, _ in want] or any(abs(x - y) > HOP_S + 1e-6 for (_, x), (_, y) in zip(got, want)):
            failures.append(f"the call's events differ from replay's:\n  got  {got}\n  want {want}")
        if end.get("type") != "call_end" or end.get("reason") != "hangup":
            failures.append(f"the call did not end on its hangup: {got_lines[-1]}")
        if health_ok < health_tries:
            failures.append(f"/healthz answered {health_ok} of {health_tries} times during the attack")
        if p99 > a.max_p99_ms * 1000:
            failures.append(f"frame latency p99 {p99} us over {a.max_p99_ms} ms")
        if attack_cpu > a.max_cpu:
            failures.append(f"server CPU {attack_cpu:.2f} s/s over {a.max_cpu}")
        if proc.poll() is not None:
            failures.append(f"the server exited ({proc.returncode})")
        if not failures:
            print(f"the call: {len(got)} events, as replay's; ended on its hangup")
        for f in failures:
            print(f"soak: FAILED: {f}", file=sys.stderr)
        return 1 if failures else 0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/shoutcue")
    ap.add_argument("--fixture", type=Path, default=Path("fixtures/continued_shout.wav"))
    ap.add_argument("--seconds", type=float, default=22.0, help="the call under attack: this much of the fixture")
    ap.add_argument("--idle", type=int, default=300, help="idle sockets per listener")
    ap.add_argument("--max-p99-ms", type=float, default=20.0)
    ap.add_argument("--max-cpu", type=float, default=0.6, help="server CPU seconds per second under attack")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
