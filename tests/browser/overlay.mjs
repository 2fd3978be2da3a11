// The agent's overlay in the system's headless Chromium while a fixture
// replays in real time: the cue appears, the "S" shortcut lands in the
// feedback file and the incident note, and a 360 px screenshot is taken.
//
//   SHOUTCUE_BIN=target/debug/shoutcue node tests/browser/overlay.mjs
//
// Prints "N passed, M failed" and exits non-zero on any failure.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const bin = process.env.SHOUTCUE_BIN || join(repo, "target", "debug", "shoutcue");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const fixture = join(repo, "fixtures", "sustained_shout.wav");
const work = mkdtempSync(join(tmpdir(), "shoutcue-overlay-"));
const outDir = process.env.SCREENSHOT_DIR || join(here, "out");
mkdirSync(outDir, { recursive: true });
const feedback = join(work, "feedback.jsonl");
const note = join(work, "note");

let passed = 0, failed = 0;
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`ok - ${name}`); }
  else { failed++; console.log(`FAIL - ${name} ${detail}`); }
}

for (const p of [bin, browserPath, fixture]) {
  if (!existsSync(p)) { console.log(`FAIL - missing ${p}`); console.log("0 passed, 1 failed"); process.exit(1); }
}

const server = spawn(bin, ["replay", fixture, "--realtime", "--serve", "0",
  "--feedback", feedback, "--note-out", note], { stdio: ["ignore", "pipe", "pipe"] });
let stdout = "", stderr = "";
server.stdout.on("data", (d) => { stdout += d; });
server.stderr.on("data", (d) => { stderr += d; });
const exited = new Promise((res) => server.on("exit", (code, sig) => res({ code, sig })));

// Port 0: the OS picks a free port; the printed address has it, and the
// session's token, which every request for data needs.
let url = "";
async function waitForServer() {
  for (let i = 0; i < 100; i++) {
    const m = stderr.match(/overlay at (http:\/\/\S+)/);
    if (m) { url = m[1]; return true; }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const userDataDir = mkdtempSync(join(tmpdir(), "shoutcue-chromium-"));
let browser;
try {
  check("server started", await waitForServer(), stderr);
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: browserPath,
    headless: true,
    viewport: { width: 360, height: 760 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const u = new URL(url);
  const token = new URLSearchParams(u.hash.slice(1)).get("token") || "";
  check("printed address has a real port and a token in its fragment (never sent to a server)", u.port !== "0" && token.length >= 20 && !u.search, url);
  // Without the token the page opens (it is static) but gets no events.
  const bare = await page.goto(`${u.origin}/`);
  check("the page alone holds nothing (200)", bare.status() === 200, String(bare.status()));
  check("without the token it never goes live",
    await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 1500 }).then(() => false, () => true));
  const guess = await (await fetch(`${u.origin}/events`, { headers: { "X-Shoutcue-Token": "guess" } })).status;
  check("a guessed token gets no events (401)", guess === 401, String(guess));
  // (From "/" to "/#token=" alone would be a move within the same page.)
  await page.goto("about:blank");
  await page.goto(url);
  check("connected", await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 5000 }).then(() => true, () => false));

  // Before the shouting (about 12 s in), the meter moves and no cue shows.
  await page.waitForTimeout(3000);
  const lvl = await page.locator("#lvl-t").textContent();
  check("meter shows a level", /LUFS|silent/.test(lvl), lvl);
  check("no cue before shouting", (await page.locator("#cue-state").textContent()) === "Listening");

  // Get ready (cue_pending), then the cue at the pause.
  const ready = await page.locator("#cue.ready").waitFor({ timeout: 20000 }).then(() => true, () => false);
  check("get-ready state shown while the customer shouts", ready);
  await page.locator("#cue.now").waitFor({ timeout: 20000 });
  const text = await page.locator("#cue-text").textContent();
  check("cue text appears", text.includes("shouting at me"), text);
  check("cue says 'now' in words", (await page.locator("#cue-state").textContent()) === "SAY IT NOW");
  check("step shown", (await page.locator("#cue-step").textContent()).startsWith("Step 1 of 4"));
  const live = await page.locator("#cue-live").getAttribute("aria-live");
  check("cue region is an ARIA live region", live === "assertive");
  check("timer runs", (await page.locator("#timer").textContent()) >= "00:12");
  await page.screenshot({ path: join(outDir, "overlay-cue.png") });

  await page.keyboard.press("s");
  const ack = await page.locator("#ack", { hasText: "Marked" }).waitFor({ timeout: 5000 }).then(() => true, () => false);
  check("S shortcut acknowledged", ack, await page.locator("#ack").textContent());

  await page.locator("#cue-state", { hasText: "CALL ENDED" }).waitFor({ timeout: 15000 });
  check("call end shown", true);
  await page.screenshot({ path: join(outDir, "overlay-end.png") });
} catch (e) {
  check("browser run", false, String(e && e.stack || e));
} finally {
  if (browser) await browser.close();
  server.kill("SIGINT");
}

const { code } = await exited;
check("replay exits cleanly on Ctrl-C", code === 0, `code ${code}: ${stderr}`);
const fb = existsSync(feedback) ? readFileSync(feedback, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
check("feedback file has the said mark", fb.length === 1 && fb[0].action === "said" && fb[0].step === 1, JSON.stringify(fb));
const noteJson = existsSync(note + ".json") ? JSON.parse(readFileSync(note + ".json", "utf8")) : {};
check("incident note records the mark", (noteJson.agent_marks || []).some((m) => m.action === "said" && m.step === 1), JSON.stringify(noteJson.agent_marks));
check("note has the cue", (noteJson.cues || []).some((c) => c.step === 1));
const md = existsSync(note + ".md") ? readFileSync(note + ".md", "utf8") : "";
check("markdown note lists the mark", md.includes("## Agent marks") && md.includes("said"));

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
