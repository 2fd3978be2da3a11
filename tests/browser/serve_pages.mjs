// The telephony server's pages in the system's headless Chromium while two
// calls stream in over the FreeSWITCH fork protocol: the supervisor console
// lists both, shows the ladder, the alert and the incident note; agent 7's
// page shows their cue and that the supervisor was alerted; agent 8's page
// shows their private nudge, which never reaches the console. Screenshots
// of each page go to SCREENSHOT_DIR. An agent desktop (a page served here on
// http://localhost:PORT, listed in embed_ancestors) frames agent 7's cue
// view from a signed --embed-link; the same page on http://127.0.0.1:PORT,
// another origin, is refused the frame.
//
//   SHOUTCUE_BIN=target/debug/shoutcue node --experimental-websocket tests/browser/serve_pages.mjs
//
// Prints "N passed, M failed" and exits non-zero on any failure.
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:http";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const bin = process.env.SHOUTCUE_BIN || join(repo, "target", "debug", "shoutcue");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const work = mkdtempSync(join(tmpdir(), "shoutcue-serve-pages-"));
const outDir = process.env.SCREENSHOT_DIR || join(here, "out");
mkdirSync(outDir, { recursive: true });
// Pace: 2x real time keeps the run short while each state lasts long
// enough to see (the server analyses audio as it arrives, at any pace).
const SPEED = Number(process.env.SPEED || 2);

let passed = 0, failed = 0;
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`ok - ${name}`); }
  else { failed++; console.log(`FAIL - ${name} ${String(detail).slice(0, 400)}`); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const shout = join(repo, "fixtures", "continued_shout.wav");
const raised = join(repo, "fixtures", "agent_raised.wav");
for (const p of [bin, browserPath, shout, raised]) {
  if (!existsSync(p)) { console.log(`FAIL - missing ${p}`); console.log("0 passed, 1 failed"); process.exit(1); }
}
if (typeof WebSocket !== "function") {
  console.log("FAIL - no WebSocket in this node: run with --experimental-websocket (node 20) or node >= 22");
  process.exit(1);
}

// The agent desktop: a page that frames the link it is given.
const desktop = createServer((req, res) => {
  const src = new URL(req.url, "http://x").searchParams.get("src") || "";
  const esc = src.replace(/[&"<>]/g, (c) => ({ "&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;" })[c]);
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><title>desktop</title><body style="margin:0;display:flex;background:#dde">
<div style="flex:1;padding:12px;font:14px sans-serif">Softphone · call in progress</div>
<iframe id="cue" src="${esc}" style="width:420px;height:740px;border:0;background:#fff"></iframe></body>`);
});
await new Promise((r) => desktop.listen(0, "127.0.0.1", r));
const deskPort = desktop.address().port;

const cfg = join(work, "serve.toml");
writeFileSync(cfg, `http = "127.0.0.1:0"
events_dir = "${join(work, "events")}"
embed_ancestors = ["http://localhost:${deskPort}"]
[freeswitch]
listen = "127.0.0.1:0"
rate = 8000
channels = 2
customer_channel = 1
`);
const env = { ...process.env, SHOUTCUE_PAGES_SECRET: "pages-secret-for-the-browser-test" };
const server = spawn(bin, ["serve", "--config", cfg], { env, stdio: ["ignore", "ignore", "pipe"] });
let stderr = "";
server.stderr.on("data", (d) => { stderr += d; });
const exited = new Promise((res) => server.on("exit", (code, sig) => res({ code, sig })));

async function started() {
  for (let i = 0; i < 100; i++) {
    const fs = stderr.match(/freeswitch (ws:\/\/\S+)/), con = stderr.match(/console (http:\/\/\S+)/);
    if (fs && con) return { fs: fs[1], console: con[1] };
    await sleep(100);
  }
  return null;
}

/** Reads a 16-bit PCM WAV's interleaved samples (the fixtures are plain). */
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

/** Streams a stereo 8 kHz fixture (agent left, customer right, as the
 *  config says) as one FreeSWITCH fork, 20 ms frames. */
async function stream(url, path, callId, agentId) {
  const data = pcm(path);
  const ws = new WebSocket(url + "fork");
  ws.binaryType = "arraybuffer";
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error("ws error")); });
  ws.send(JSON.stringify({ callId, agentId }));
  const frame = 8000 * 0.02 * 2 * 2;
  const t0 = Date.now();
  for (let i = 0, n = 0; i < data.length; i += frame, n++) {
    ws.send(data.subarray(i, Math.min(i + frame, data.length)));
    const due = t0 + (n * 20) / SPEED;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
  }
  ws.close();
}

// Polls `fn` in the page until it holds or `timeout` ms pass. Not
// waitForFunction: that evaluates with eval, which the pages'
// Content-Security-Policy forbids (as it should); page.evaluate does not.
async function until(p, fn, timeout, every = 50) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (await p.evaluate(fn).catch(() => false)) return true;
    await sleep(every);
  }
  return false;
}

let browser;
// What the pages logged as errors (a script or style the policy blocked
// shows here as a "Content Security Policy" error).
const pageErrors = [];
// Each page in a context (a window) of its own: a background tab is
// throttled and would miss short states.
async function open(url, width, height, errorsExpected = false) {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const p = await ctx.newPage();
  // (A missing favicon is no script error.)
  if (!errorsExpected) p.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(`${url.split("?")[0]}: ${m.text()}`); });
  if (!errorsExpected) p.on("pageerror", (e) => pageErrors.push(`${url.split("?")[0]}: ${e}`));
  // Every text the cue area shows, in order, so a state that lasts half a
  // second is not missed between two polls.
  await p.addInitScript(() => {
    window.__states = [];
    new MutationObserver(() => {
      const s = document.getElementById("state");
      if (s && window.__states[window.__states.length - 1] !== s.textContent) window.__states.push(s.textContent);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await p.goto(url);
  return p;
}
try {
  const urls = await started();
  check("server started", !!urls, stderr);
  if (!urls) throw new Error("no server");
  const con = new URL(urls.console);
  const port = con.port;
  const link = (id) => execFileSync(bin, ["serve", "--config", cfg, "--http", `127.0.0.1:${port}`, "--agent-link", id], { env }).toString().trim();
  const a7 = link("agent-7"), a8 = link("agent-8");
  check("agent links carry the agent, and a token in the fragment (never sent to a server)", /agent=agent-7#token=\S{20,}/.test(a7), a7);
  check("the console's link carries its token in the fragment", /\/#token=\S{20,}/.test(urls.console), urls.console);

  // What no token opens: every stream of data. (The pages themselves are
  // static; each reads its token from the fragment and sends it in a header.)
  const tokenOf = (u) => new URLSearchParams(new URL(u).hash.slice(1)).get("token");
  const status = async (u, token) => (await fetch(u, token ? { headers: { "X-Shoutcue-Token": token } } : {})).status;
  check("the console's events without its token: 401", (await status(`${con.origin}/console/events`)) === 401);
  check("agent 7's token does not open agent 8's events: 401",
    (await status(`${con.origin}/agent/events?agent=agent-8`, tokenOf(a7))) === 401);
  check("the console's token does not open an agent's events: 401",
    (await status(`${con.origin}/agent/events?agent=agent-7`, tokenOf(urls.console))) === 401);

  browser = await chromium.launch({
    executablePath: browserPath, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
  const consolePage = await open(urls.console, 1280, 820);
  const p7 = await open(a7, 420, 760);
  const p8 = await open(a8, 420, 760);
  for (const [name, p] of [["console", consolePage], ["agent 7", p7], ["agent 8", p8]]) {
    check(`${name} page connected`, await p.locator("#conn", { hasText: "live" }).waitFor({ timeout: 5000 }).then(() => true, () => false));
  }
  await consolePage.screenshot({ path: join(outDir, "console-empty.png") });

  // Agent 7's desktop frames the cue view of their call, by the platform's call id.
  const embed = execFileSync(bin, ["serve", "--config", cfg, "--http", `127.0.0.1:${port}`,
    "--embed-link", "call-shout", "--embed-agent", "agent-7"], { env }).toString().trim();
  check("the embed link names the call and agent, with an expiry and a signature",
    /\/embed\?call=call-shout&agent=agent-7&exp=\d+&sig=\S{20,}$/.test(embed), embed);
  const viaDesk = (origin) => `${origin}/desk?src=${encodeURIComponent(embed)}`;
  const desk = await open(viaDesk(`http://localhost:${deskPort}`), 900, 760);
  const deskFrame = () => desk.frames().find((f) => f.url().includes("/embed?"));
  check("the listed desktop frames the cue view",
    await desk.frameLocator("#cue").locator("#conn", { hasText: "live" }).waitFor({ timeout: 5000 }).then(() => true, () => false));
  const foreign = await open(viaDesk(`http://127.0.0.1:${deskPort}`), 900, 760, true);
  await sleep(1000);
  check("a desktop on another origin is refused the frame",
    (await foreign.frameLocator("#cue").locator("#conn").count()) === 0);
  await foreign.screenshot({ path: join(outDir, "embed-refused.png") });

  const calls = Promise.all([
    stream(urls.fs, shout, "call-shout", "agent-7"),
    stream(urls.fs, raised, "call-raised", "agent-8"),
  ]);
  check("console lists both calls", await consolePage.locator("#calls tr").nth(1).waitFor({ timeout: 15000 }).then(() => true, () => false));

  // Agent 7: the first line, at the customer's pause.
  const cue = await until(p7, () => window.__states.includes("SAY IT NOW"), 30000);
  check("agent 7 sees 'SAY IT NOW'", cue, await p7.evaluate(() => window.__states.join(" | ")));
  const text = await p7.locator("#text").textContent();
  check("agent 7 sees the first line", text.includes("shouting at me"), text);
  await p7.screenshot({ path: join(outDir, "agent-cue.png") });
  const framed = deskFrame();
  check("the framed view says the line too",
    !!framed && await until(framed, () => window.__states.includes("SAY IT NOW"), 10000) &&
    ((await framed.locator("#text").textContent()) || "").includes("shouting at me"));
  await desk.screenshot({ path: join(outDir, "embed-desktop.png") });

  // Agent 8's own raised voice: a nudge on their page, never on the console.
  const nudge = await p8.locator("#nudge").filter({ hasText: /\S/ }).waitFor({ timeout: 30000 }).then(() => true, () => false);
  check("agent 8 sees a private nudge", nudge);
  const nudgeText = (await p8.locator("#nudge").textContent()) || "";
  await p8.screenshot({ path: join(outDir, "agent-nudge.png") });

  // The ladder on the console, then the alert on both.
  check("console shows the ladder step", await consolePage.locator("td.step", { hasText: /[2-4]/ }).first().waitFor({ timeout: 30000 }).then(() => true, () => false));
  await consolePage.screenshot({ path: join(outDir, "console-ladder.png") });
  check("console shows the supervisor alert", await consolePage.locator("#alerts li").first().waitFor({ timeout: 30000 }).then(() => true, () => false));
  check("agent 7 is told the supervisor was alerted",
    await p7.locator("#sup", { hasText: "alerted" }).waitFor({ timeout: 5000 }).then(() => true, () => false));
  await calls;
  check("console shows the incident note", await consolePage.locator("details.note .md").first().waitFor({ timeout: 10000 }).then(() => true, () => false));
  const note = (await consolePage.locator("details.note .md").first().textContent()) || "";
  check("the note names the alert", /supervisor/i.test(note), note);
  // Rendered, not raw Markdown (issue 26): a table and bold labels, no "**" or "| ---".
  check("the note is rendered, not raw Markdown",
    (await consolePage.locator("details.note .md table").count()) > 0 &&
    (await consolePage.locator("details.note .md strong").count()) > 0 &&
    !note.includes("**") && !note.includes("| ---"), note);
  const summaryText = (await consolePage.locator("#summary").textContent()) || "";
  check("the summary counts alerts in words (no '1 alerts')", !/\b1 alerts\b/.test(summaryText), summaryText);
  check("both calls ended on the console",
    await until(consolePage, () => [...document.querySelectorAll("#calls tr")].filter((r) => r.textContent.includes("ended")).length === 2, 10000));
  await consolePage.screenshot({ path: join(outDir, "console-ended.png"), fullPage: true });
  await p7.screenshot({ path: join(outDir, "agent-ended.png") });

  const seen = await consolePage.locator("body").textContent();
  check("the console never shows the agent's nudge", nudgeText.length > 0 && !seen.includes(nudgeText.slice(0, 30)), nudgeText);
  check("agent 8 never hears of agent 7's alert",
    ((await p8.locator("#sup").textContent()) || "") === "");

  // A late console (a supervisor who opens it now) sees the same picture.
  const late = await open(urls.console, 1280, 820);
  check("a late console sees the ended calls and the alert",
    await late.locator("#alerts li").first().waitFor({ timeout: 5000 }).then(() => true, () => false));
  check("no page logged an error (none blocked by its Content-Security-Policy)", pageErrors.length === 0, pageErrors.join("\n"));
} catch (e) {
  check("run", false, e.stack || e);
} finally {
  if (browser) await browser.close();
  desktop.close();
  server.kill("SIGTERM");
  const r = await Promise.race([exited, sleep(10000).then(() => null)]);
  check("server stops on SIGTERM", r && r.code === 0, JSON.stringify(r));
  console.log(`screenshots in ${outDir}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
