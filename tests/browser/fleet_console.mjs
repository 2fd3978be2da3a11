// The fleet console in the system's headless Chromium: a real nats-server
// (JetStream), two `shoutcue serve` nodes publishing to it, and
// `shoutcue console --nats` showing both nodes' calls on one page. A
// shouting call streams to node A and climbs the ladder to the supervisor
// alert; a second call streams to node B, which is killed (SIGKILL) mid-call:
// the console must mark B's call ended with its node lost, from the missing
// heartbeats, while A's call goes on to its alert and incident note.
// Screenshots go to SCREENSHOT_DIR.
//
//   SHOUTCUE_BIN=target/debug/shoutcue node --experimental-websocket tests/browser/fleet_console.mjs
//
// Prints "N passed, M failed" and exits non-zero on any failure.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const bin = process.env.SHOUTCUE_BIN || join(repo, "target", "debug", "shoutcue");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const natsBin = process.env.NATS_SERVER || "/usr/sbin/nats-server";
const work = mkdtempSync(join(tmpdir(), "shoutcue-fleet-console-"));
const outDir = process.env.SCREENSHOT_DIR || join(here, "out");
mkdirSync(outDir, { recursive: true });
const SPEED = Number(process.env.SPEED || 2);

let passed = 0, failed = 0;
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`ok - ${name}`); }
  else { failed++; console.log(`FAIL - ${name} ${String(detail).slice(0, 400)}`); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const shout = join(repo, "fixtures", "continued_shout.wav");
const calm = join(repo, "fixtures", "calm_call.wav");
for (const p of [bin, browserPath, natsBin, shout, calm]) {
  if (!existsSync(p)) { console.log(`FAIL - missing ${p}`); console.log("0 passed, 1 failed"); process.exit(1); }
}

const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
const procs = [];
function run(cmd, args, env) {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  p.err = "";
  p.stderr.on("data", (d) => { p.err += d; });
  p.exited = new Promise((res) => p.on("exit", (code, sig) => res({ code, sig })));
  procs.push(p);
  return p;
}
async function waitFor(p, re) {
  for (let i = 0; i < 200; i++) { const m = p.err.match(re); if (m) return m[1]; await sleep(50); }
  return null;
}

/** Reads a 16-bit PCM WAV's interleaved samples. */
function pcm(path) {
  const b = readFileSync(path);
  let off = 12;
  while (off + 8 <= b.length) {
    const id = b.toString("ascii", off, off + 4), size = b.readUInt32LE(off + 4);
    if (id === "data") return b.subarray(off + 8, off + 8 + size);
    off += 8 + size + (size & 1);
  }
  throw new Error(`${path}: no data chunk`);
}

/** Streams a stereo 8 kHz fixture as one FreeSWITCH fork, 20 ms frames;
 *  stops quietly when the node goes away. */
async function stream(url, path, callId, agentId) {
  const data = pcm(path);
  const ws = new WebSocket(url + "fork");
  ws.binaryType = "arraybuffer";
  let open = true;
  ws.onclose = () => { open = false; };
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error("ws error")); });
  ws.onerror = () => { open = false; };
  ws.send(JSON.stringify({ callId, agentId }));
  const frame = 8000 * 0.02 * 2 * 2;
  const t0 = Date.now();
  for (let i = 0, n = 0; i < data.length && open; i += frame, n++) {
    ws.send(data.subarray(i, Math.min(i + frame, data.length)));
    const wait = t0 + (n * 20) / SPEED - Date.now();
    if (wait > 0) await sleep(wait);
  }
  if (open) ws.close();
}

let browser;
try {
  const natsPort = await freePort();
  mkdirSync(join(work, "js"));
  run(natsBin, ["-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", join(work, "js")]);
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((res) => { const s = connect(natsPort, "127.0.0.1", () => { s.end(); res(true); }); s.on("error", () => res(false)); });
    if (ok) break;
    await sleep(50);
  }
  const nats = `nats://127.0.0.1:${natsPort}`;
  const cfg = join(work, "node.toml");
  writeFileSync(cfg, `nats_heartbeat_s = 0.3
[freeswitch]
listen = "127.0.0.1:0"
rate = 8000
channels = 2
customer_channel = 1
`);
  const node = (id) => run(bin, ["serve", "--config", cfg, "--nats", nats, "--site", "pages", "--node-id", id]);
  const a = node("node-a"), b = node("node-b");
  const console_ = run(bin, ["console", "--nats", nats, "--site", "pages", "--http", "127.0.0.1:0", "--node-timeout", "1.5"],
    { SHOUTCUE_PAGES_SECRET: "pages-secret-for-the-fleet-test" });
  const [fsA, fsB, conUrl] = [await waitFor(a, /freeswitch (ws:\/\/\S+)/), await waitFor(b, /freeswitch (ws:\/\/\S+)/), await waitFor(console_, /console (http:\/\/\S+)/)];
  check("two nodes and the console started", fsA && fsB && conUrl, a.err + b.err + console_.err);
  if (!(fsA && fsB && conUrl)) throw new Error("not started");
  check("the console's events need its token: 401", (await fetch(new URL(conUrl).origin + "/console/events")).status === 401);

  browser = await chromium.launch({
    executablePath: browserPath, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  const page = await ctx.newPage();
  await page.goto(conUrl);
  check("console connected", await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 5000 }).then(() => true, () => false));

  const callA = stream(fsA, shout, "call-on-a", "agent-7");
  const callB = stream(fsB, calm, "call-on-b", "agent-8").catch(() => {});
  const row = (id) => page.locator("#calls tr", { hasText: id });
  check("console lists node A's call, with its node",
    await row("call-on-a").filter({ hasText: "@ node-a" }).waitFor({ timeout: 10000 }).then(() => true, () => false));
  check("console lists node B's call, with its node",
    await row("call-on-b").filter({ hasText: "@ node-b" }).waitFor({ timeout: 10000 }).then(() => true, () => false));
  await page.screenshot({ path: join(outDir, "fleet-two-nodes.png") });

  // Node B dies mid-call.
  await sleep(1500);
  const killed = Date.now();
  b.kill("SIGKILL");
  const lost = await row("call-on-b").filter({ hasText: "node node-b lost" }).waitFor({ timeout: 8000 }).then(() => true, () => false);
  check("node B's call is ended as lost", lost, await row("call-on-b").textContent().catch(() => ""));
  const lostAfter = Date.now() - killed;
  console.log(`# node B's call ended on the console ${lostAfter} ms after the kill (node timeout 1.5 s)`);
  check("within the node timeout and a heartbeat or two", lostAfter < 4000, `${lostAfter} ms`);
  await page.screenshot({ path: join(outDir, "fleet-node-lost.png") });

  // Node A's call goes on: ladder, alert, note.
  check("node A's call climbs the ladder",
    await row("call-on-a").locator("td.step", { hasText: /[2-4]/ }).waitFor({ timeout: 30000 }).then(() => true, () => false));
  check("the supervisor alert from node A",
    await page.locator("#alerts li", { hasText: "call-on-a" }).waitFor({ timeout: 30000 }).then(() => true, () => false));
  await callA;
  await callB;
  check("node A's call ends with its incident note",
    await page.locator("details.note", { hasText: "call-on-a" }).waitFor({ timeout: 10000 }).then(() => true, () => false));
  check("node A's call ended as a hangup, not lost",
    await row("call-on-a").filter({ hasText: "ended (hangup)" }).waitFor({ timeout: 5000 }).then(() => true, () => false),
    await row("call-on-a").textContent().catch(() => ""));
  await page.screenshot({ path: join(outDir, "fleet-ended.png"), fullPage: true });

  // A console opened now (a supervisor arriving late) reads the same from the stream.
  const late = await ctx.newPage();
  await late.goto(conUrl);
  check("a late console sees both calls and the alert",
    await late.locator("#alerts li").first().waitFor({ timeout: 5000 }).then(() => true, () => false)
      && (await late.locator("#calls tr").count()) === 2);
} catch (e) {
  check("run", false, e.stack || e);
} finally {
  if (browser) await browser.close();
  for (const p of procs) p.kill("SIGTERM");
  await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(10000)]);
  for (const p of procs) p.kill("SIGKILL");
  console.log(`screenshots in ${outDir}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
