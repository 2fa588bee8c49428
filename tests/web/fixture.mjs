// What the browser tests share: `tandem-sim web-fixture` as a child process
// (a coordinator with bj-01 and gz-01 on simulated boards, the HTTP API and
// operator accounts) spoken to over its stdin/stdout, headless Chromium, and
// small waiting and logging helpers.
//
// Environment: TANDEM_SIM (fixture binary; default target/debug/tandem-sim),
// CHROMIUM (default /usr/bin/chromium), ARTIFACTS (default target/web-e2e).

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdirSync, createWriteStream } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const artifacts = resolve(process.env.ARTIFACTS || `${root}/target/web-e2e`);
export const LONG = 30_000;
mkdirSync(artifacts, { recursive: true });

const started = Date.now();
export const step = (what) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);

export async function waitFor(what, probe, limit = LONG) {
  const end = Date.now() + limit;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Starts the fixture; `log` names its log file in ARTIFACTS. Resolves to
// { url, accounts, command(line), stop() } once it is serving.
export async function startFixture(log) {
  const sim = process.env.TANDEM_SIM || `${root}/target/debug/tandem-sim`;
  const child = spawn(sim, ["web-fixture", "--http", "127.0.0.1:0"], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { RUST_LOG: "info", ...process.env },
  });
  child.stderr.pipe(createWriteStream(`${artifacts}/${log}`));
  const replies = [];
  let waiting = null;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const value = JSON.parse(line);
    if (waiting) { const w = waiting; waiting = null; w(value); } else replies.push(value);
  });
  child.on("exit", (code) => { if (code) console.error(`fixture exited with ${code}`); });
  const reply = (limit = LONG) => {
    if (replies.length) return Promise.resolve(replies.shift());
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error("the fixture did not answer")), limit);
      waiting = (v) => { clearTimeout(timer); ok(v); };
    });
  };
  const info = await reply(120_000);
  return {
    url: info.url,
    accounts: info.accounts,
    async command(line) {
      child.stdin.write(`${line}\n`);
      const r = await reply();
      if (!r.ok) throw new Error(`fixture: ${line}: ${r.error}`);
      return r;
    },
    stop() {
      child.stdin.end("quit\n");
      return new Promise((r) => {
        const t = setTimeout(() => { child.kill(); r(); }, 10_000);
        child.on("exit", () => { clearTimeout(t); r(); });
      });
    },
  };
}

// Runs the browser test `name`: starts the fixture and Chromium, hands them to `body`
// with `watch(page, name)` (a script error on a watched page fails the test),
// saves a screenshot of every page on failure, always shuts down, and exits
// with the verdict.
export async function run(name, body) {
  let fixture = null;
  let browser = null;
  let failed = false;
  const watch = (page, name) => {
    page.on("pageerror", (e) => {
      console.error(`${name}: page error: ${e.message}`);
      failed = true;
    });
    // Something the page's Content-Security-Policy blocked: the policy and the
    // page disagree.
    page.on("console", (msg) => {
      if (msg.type() === "error" && msg.text().includes("Content Security Policy")) {
        console.error(`${name}: ${msg.text()}`);
        failed = true;
      }
    });
  };
  try {
    fixture = await startFixture(`${name}-fixture.log`);
    step(`fixture up at ${fixture.url}`);
    browser = await launchBrowser();
    await body({ fixture, browser, watch });
    if (failed) throw new Error("a page threw an error");
    step("passed");
  } catch (err) {
    failed = true;
    console.error(`FAILED: ${err.stack || err}`);
    for (const [i, context] of (browser?.contexts() ?? []).entries()) {
      for (const [j, page] of context.pages().entries()) {
        await page.screenshot({ path: `${artifacts}/${name}-failure-${i}-${j}.png`, fullPage: true }).catch(() => {});
      }
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (fixture) await fixture.stop();
  }
  process.exit(failed ? 1 : 0);
}

export function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
}

export async function logIn(page, account, landing) {
  await page.goto("/login");
  await page.fill("input[name=username]", account.username);
  await page.fill("input[name=password]", account.password);
  await page.click("button.primary");
  await page.waitForURL(`**${landing}`);
}
