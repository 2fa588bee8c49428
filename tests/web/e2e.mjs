// Browser end-to-end test of the coordinator's web pages in headless Chromium
// (Debian's chromium driven by playwright-core).
//
// It spawns `tandem-sim web-fixture` (a coordinator with bj-01 and gz-01 on
// simulated boards, the HTTP API and operator accounts), then: an agent logs in
// on /login and starts work on /desk (not ready); a simulated caller rings bj-01,
// presses 1 and waits; the agent goes ready, answers, hangs up and wraps up
// ("resolved"). The same caller rings again: the screen pop shows the number
// and the earlier call with its disposition; the agent answers and transfers to the expert pool (queue 3),
// where the expert (agent 6 at gz-01, driven through the API as admin) answers.
// A duty manager's wallboard in a second browser context shows the counts change,
// and, while the first call waits for the agent to go ready, the queue's longest
// wait and the agent's time in state ticking (mm:ss).
//
// Environment: see fixture.mjs. Screenshots and the fixture's log go to ARTIFACTS.

import { artifacts, LONG, logIn, run, step, waitFor } from "./fixture.mjs";

const NUMBER = "+8613800000001";

await run("e2e", async ({ fixture, browser, watch }) => {
  const { url, accounts } = fixture;
  const fixtureCommand = (line) => fixture.command(line);

  // The administrator drives the expert through the REST API.
  const admin = await (await browser.newContext({ baseURL: url })).request;
  const login = await admin.post("/api/v1/auth/login", { data: { username: accounts.admin.username, password: accounts.admin.password } });
  if (!login.ok()) throw new Error(`admin login: ${login.status()}`);
  // A script, not a page: it sends its session as a bearer token (the cookie
  // alone is refused for changes without a same-origin Origin, against CSRF).
  const bearer = { authorization: `Bearer ${(await login.json()).token}` };
  const expert = (cmd) => admin.post("/api/v1/agents/6/commands", { data: JSON.stringify(cmd), headers: { ...bearer, "content-type": "application/json" } });
  const expertView = async () => (await (await admin.get("/api/v1/agents/6")).json());
  // An account for the expert, through the account API.
  const created = await admin.post("/api/v1/accounts", {
    headers: bearer,
    data: { username: "zhao", password: "expert-pass-1", role: "agent", agent: 6 },
  });
  if (created.status() !== 201) throw new Error(`account create: ${created.status()} ${await created.text()}`);

  // ------------------------------------------------------------ the pages
  const agentContext = await browser.newContext({ baseURL: url, viewport: { width: 1280, height: 900 }, locale: "en-US" });
  const desk = await agentContext.newPage();
  const managerContext = await browser.newContext({ baseURL: url, viewport: { width: 1280, height: 900 }, locale: "en-US" });
  const board = await managerContext.newPage();
  watch(desk, "desk");
  watch(board, "wallboard");

  await logIn(desk, accounts.agent, "/desk");
  await desk.screenshot({ path: `${artifacts}/01-desk-logged-in.png` });
  await logIn(board, accounts.duty_manager, "/wallboard");
  step("agent on /desk, duty manager on /wallboard");

  const state = () => desk.textContent("#state");
  const stateIs = (s) => waitFor(`desk state ${s}`, async () => (await state()) === s);

  // Wallboard figures: a table as objects keyed by its first column (English labels).
  const rows = (id) => board.evaluate((id) => {
    const t = document.querySelector(`#${id} table`);
    if (!t) return {};
    const heads = [...t.querySelectorAll("thead th")].map((th) => th.textContent);
    const out = {};
    for (const tr of t.querySelectorAll("tbody tr")) {
      const row = Object.fromEntries([...tr.children].map((td, i) => [heads[i], td.textContent]));
      out[Object.values(row)[0]] = row;
    }
    return out;
  }, id);
  const queues = () => rows("queues");
  const figure = async (queue, field) => Number((await queues())[queue]?.[field] ?? NaN);
  await waitFor("wallboard queues", async () => !Number.isNaN(await figure(1, "Offered")));
  const before = { offered1: await figure(1, "Offered"), answered1: await figure(1, "Answered"),
    offered3: await figure(3, "Offered"), answered3: await figure(3, "Answered") };
  await board.screenshot({ path: `${artifacts}/02-wallboard-before.png`, fullPage: true });

  await desk.click("button[data-cmd=Login]");
  await waitFor("logged in", async () => !["—", "LoggedOut"].includes(await state()));

  // ------------------------------------------------------------ first call
  // It waits while the agent is not ready yet: the wallboard shows the queue's
  // longest wait and the agent's time in state, both ticking (mm:ss).
  await fixtureCommand(`call ${NUMBER} 1`);
  const MMSS = /^\d{2,}:\d{2}$/;
  const live = async (what, read) => {
    const first = await waitFor(what, async () => { const v = await read(); return MMSS.test(v ?? "") && v; });
    await waitFor(`${what} ticking`, async () => { const v = await read(); return MMSS.test(v ?? "") && v !== first; }, 5_000);
    return first;
  };
  const longest = await live("queue 1's longest wait", async () => (await queues())[1]?.["Longest wait"]);
  const inState = await live("agent 1's time in state", async () => (await rows("agents"))[1]?.["Time in state"]);
  await board.screenshot({ path: `${artifacts}/02b-wallboard-waiting.png`, fullPage: true });
  step(`wallboard: queue 1 longest wait ${longest}, agent 1 in state ${inState}`);
  await desk.click("button[data-cmd=Ready]");
  await desk.waitForSelector("#incoming:not(.hidden)", { timeout: LONG });
  await waitFor("caller shown", async () => (await desk.textContent("#caller")) === NUMBER);
  await desk.click("button[data-cmd=Answer]");
  await stateIs("OnCall");
  // The gateway's call ids exceed 2^53 (its clock in ms, shifted 16 bits): the
  // desk must show the id exactly, as the CDR names it (checked below).
  const shownCall = (await desk.textContent("#callid")).trim();
  step(`first call answered (call ${shownCall})`);
  await desk.click("button[data-cmd=Hangup]");
  await waitFor("wrap-up or ready", async () => ["WrapUp", "Ready"].includes(await state()));
  await desk.selectOption("#disposition", "resolved");
  await desk.fill("#note", "asked about opening hours");
  await desk.click("#wrapup");
  await stateIs("Ready");
  step("first call wrapped up");
  // Its CDR reaches the coordinator.
  let cdrCall = null;
  await waitFor("the first call's CDR with its disposition", async () => {
    const r = await admin.get(`/api/v1/history?number=${encodeURIComponent(NUMBER)}`);
    const rows = r.ok() ? await r.json() : [];
    cdrCall = rows[0]?.call;
    return rows.length >= 1 && rows[0].disposition === "resolved";
  });
  if (typeof cdrCall !== "string" || !/^\d+$/.test(cdrCall)) throw new Error(`CDR call id not a decimal string: ${JSON.stringify(cdrCall)}`);
  if (BigInt(cdrCall) <= 2n ** 53n) throw new Error(`call id ${cdrCall} is not above 2^53: the test proves nothing`);
  if (shownCall !== cdrCall) throw new Error(`the desk showed call ${shownCall}, the CDR says ${cdrCall}`);
  step(`the desk showed call id ${shownCall} exactly (above 2^53)`);

  // ------------------------------------------------------------ second call
  await fixtureCommand(`call ${NUMBER} 1`);
  await desk.waitForSelector("#incoming:not(.hidden)", { timeout: LONG });
  await waitFor("caller shown", async () => (await desk.textContent("#caller")) === NUMBER);
  await waitFor("history in the screen pop", async () => (await desk.textContent("#history")).includes("resolved"));
  await desk.screenshot({ path: `${artifacts}/03-screen-pop.png`, fullPage: true });
  step("screen pop shows the caller and the earlier call");
  await desk.click("button[data-cmd=Answer]");
  await stateIs("OnCall");

  // The expert gets ready (through the API, as admin).
  for (const cmd of ["Login", "Ready"]) {
    const r = await expert(cmd);
    if (!r.ok()) throw new Error(`expert ${cmd}: ${r.status()} ${await r.text()}`);
  }
  await waitFor("expert ready", async () => (await expertView()).state === "Ready");

  // Transfer to the expert pool.
  await desk.selectOption("#kind", "Queue");
  await desk.fill("#target", "3");
  await desk.click("#transfer");
  await waitFor("the agent is off the call", async () => ["WrapUp", "Ready"].includes(await state()));
  await desk.screenshot({ path: `${artifacts}/04-desk-transferred.png`, fullPage: true });
  step("transferred to the expert pool");
  await waitFor("the expert is offered the call", async () => (await expertView()).state === "Reserved");
  const answered = await expert("Answer");
  if (!answered.ok()) throw new Error(`expert answer: ${answered.status()} ${await answered.text()}`);
  await waitFor("the expert is on the call", async () => (await expertView()).state === "OnCall");
  step("expert answered");

  // ------------------------------------------------------------ the wallboard
  await waitFor("wallboard counts change", async () =>
    (await figure(1, "Offered")) >= before.offered1 + 2 &&
    (await figure(1, "Answered")) >= before.answered1 + 2 &&
    (await figure(1, "Transferred")) >= 1 &&
    (await figure(3, "Offered")) >= before.offered3 + 1 &&
    (await figure(3, "Answered")) >= before.answered3 + 1);
  await waitFor("the expert on the call on the wallboard", async () =>
    (await board.textContent("#agents")).includes("OnCall"));
  await board.screenshot({ path: `${artifacts}/05-wallboard-after.png`, fullPage: true });
  const after = await queues();
  step(`wallboard: queue 1 offered ${after[1].Offered} answered ${after[1].Answered} transferred ${after[1].Transferred}; queue 3 offered ${after[3].Offered} answered ${after[3].Answered}`);

  // Chinese labels: the language switch relabels the page and the tables.
  await board.click("#lang");
  await waitFor("Chinese labels", async () => (await board.textContent("header h1")) === "监控大屏");
  await waitFor("Chinese table headings", async () => (await board.textContent("#queues")).includes("接通"), 3_000);
  await board.screenshot({ path: `${artifacts}/06-wallboard-zh.png`, fullPage: true });
  step("wallboard in Chinese");

  await fixtureCommand("hangup");
});
