// The agent's overlay over a whole de-escalation ladder, in the system's
// headless Chromium: `shoutcue replay fixtures/continued_shout.wav
// --realtime --serve 0` (43 s). Checks that the page shows the state as it
// is and never misleads:
//  - the customer's voice reads "rising" before the detector has decided,
//    never "normal voice" while it is already well up;
//  - a said line turns from "SAY IT NOW" into "SAID · WATCHING";
//  - what to do (end the call) is in its own "do this" box, never in the
//    large "say this" type, and the page does not claim a supervisor was
//    alerted (nothing on an agent's desk contacts one);
//  - a due line flashes the page (and chimes when the agent turned it on).
// Screenshots go to SCREENSHOT_DIR.
//
//   SHOUTCUE_BIN=target/debug/shoutcue node tests/browser/overlay_states.mjs
//
// Prints "N passed, M failed" and exits non-zero on any failure.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const bin = process.env.SHOUTCUE_BIN || join(repo, "target", "debug", "shoutcue");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const outDir = process.env.SCREENSHOT_DIR || join(here, "out");
mkdirSync(outDir, { recursive: true });
const fixture = join(repo, "fixtures", "continued_shout.wav");

let passed = 0, failed = 0;
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`ok - ${name}`); }
  else { failed++; console.log(`FAIL - ${name} ${String(detail).slice(0, 400)}`); }
}
for (const p of [bin, browserPath, fixture]) {
  if (!existsSync(p)) { console.log(`FAIL - missing ${p}`); console.log("0 passed, 1 failed"); process.exit(1); }
}

const server = spawn(bin, ["replay", fixture, "--realtime", "--serve", "0"], { stdio: ["ignore", "ignore", "pipe"] });
let stderr = "";
server.stderr.on("data", (d) => { stderr += d; });
const exited = new Promise((res) => server.on("exit", (code, sig) => res({ code, sig })));
async function address() {
  for (let i = 0; i < 100; i++) {
    const m = stderr.match(/overlay at (http:\/\/\S+)/);
    if (m) return m[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

const userDataDir = mkdtempSync(join(tmpdir(), "shoutcue-chromium-"));
let browser;
try {
  const url = await address();
  check("server started", !!url, stderr);
  if (!url) throw new Error("no server");
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: browserPath, headless: true, viewport: { width: 380, height: 900 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });
  const page = browser.pages()[0] || await browser.newPage();
  // Errors the page logs (a script or style its policy blocked among them).
  const pageErrors = [];
  // (A missing favicon is no script error.)
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text()); });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  // Every text the voice line and the cue state show, in order, with the
  // voice line's state at each cue change.
  await page.addInitScript(() => {
    window.__voice = []; window.__states = [];
    new MutationObserver(() => {
      const v = document.getElementById("voice"), s = document.getElementById("cue-state");
      if (v && window.__voice[window.__voice.length - 1] !== v.textContent) window.__voice.push(v.textContent);
      if (s && window.__states[window.__states.length - 1] !== s.textContent) window.__states.push(s.textContent);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.goto(url);
  // The agent turns the chime on (kept in this browser).
  await page.locator("#o-chime").check();
  check("connected", await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 5000 }).then(() => true, () => false));

  await page.locator("#cue.now").waitFor({ timeout: 25000 });
  const voiceBefore = await page.evaluate(() => window.__voice.slice());
  const iShout = voiceBefore.findIndex((t) => t.startsWith("Shouting"));
  const iRise = voiceBefore.findIndex((t) => t.startsWith("Voice rising"));
  check("the voice read 'rising' before the detector said 'shouting'", iRise >= 0 && (iShout < 0 || iRise < iShout), voiceBefore.join(" | "));
  const att = await page.evaluate(() => window.__attention.slice());
  check("a due line flashes and chimes (chime turned on)", att.length === 1 && att[0].step === 1 && att[0].flash && att[0].chime, JSON.stringify(att));
  await page.screenshot({ path: join(outDir, "overlay-say-now.png") });

  // A desktop hotkey marks the cue, the page not focused (what
  // `shoutcue` prints for it: a POST with the token in a header).
  const u = new URL(url);
  const r = await fetch(`${u.origin}/api/mark/latest`, { method: "POST",
    headers: { "X-Shoutcue-Token": new URLSearchParams(u.hash.slice(1)).get("token"), "Content-Type": "application/json" },
    body: JSON.stringify({ action: "said" }) });
  check("a hotkey's mark is taken", r.status === 200, `${r.status} ${await r.text()}`);
  check("and the page says so", await page.locator("#ack", { hasText: "Marked: you said step 1" }).waitFor({ timeout: 3000 }).then(() => true, () => false),
    await page.locator("#ack").textContent());

  await page.locator("#cue.said").waitFor({ timeout: 10000 });
  check("a said line reads 'SAID · WATCHING', no longer 'SAY IT NOW'",
    (await page.locator("#cue-state").textContent()) === "SAID · WATCHING");
  await page.screenshot({ path: join(outDir, "overlay-said.png") });

  await page.locator("#do:not([hidden])").waitFor({ timeout: 35000 });
  await page.waitForTimeout(300);
  const instr = (await page.locator("#do-instr").textContent()) || "";
  const sup = (await page.locator("#do-sup").textContent()) || "";
  const sayText = (await page.locator("#cue-text").textContent()) || "";
  check("end-the-call is an instruction in the 'do this' box", /end the call/i.test(instr), instr);
  check("the 'say this' box still holds the last script line, not the instruction",
    sayText.includes("call back") && !/end the call/i.test(sayText), sayText);
  check("the page does not claim a supervisor was alerted", !/has been (alerted|informed)/i.test(sup + instr) && /does not contact your supervisor/.test(sup), sup);
  const sizes = await page.evaluate(() => [getComputedStyle(document.getElementById("cue-text")).fontSize, getComputedStyle(document.getElementById("do-instr")).fontSize].map(parseFloat));
  check("what to do is set smaller than what to say", sizes[1] < sizes[0], JSON.stringify(sizes));
  await page.screenshot({ path: join(outDir, "overlay-do-this.png"), fullPage: true });
  const states = await page.evaluate(() => window.__states.slice());
  check("every line due flashed (5 cues: 1, 2, 3, 3b, 4)", (await page.evaluate(() => window.__attention.length)) === 5, JSON.stringify(states));
  check("chime choice kept for the next page", (await page.evaluate(() => localStorage.getItem("shoutcue.chime"))) === "1");
  check("the page logged no error (nothing blocked by its Content-Security-Policy)", pageErrors.length === 0, pageErrors.join("\n"));
} catch (e) {
  check("browser run", false, String(e && e.stack || e));
} finally {
  if (browser) await browser.close();
  server.kill("SIGINT");
}
const { code } = await exited;
check("replay exits cleanly on Ctrl-C", code === 0, `code ${code}: ${stderr.slice(-400)}`);
console.log(`screenshots in ${outDir}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
