// Browser test of the administrator's configuration forms on /admin, in
// headless Chromium against `tandem-sim web-fixture`: an administrator adds an
// agent with a seat and a skill through the agent form, gives a part-time
// agent their shifts in a group, sees a refused change
// marked on the field that caused it (opening hours that end before they
// start), adds a blacklist rule, saves an IVR flow through its form without
// losing anything, and reads the forms in Chinese. Each saved
// change is checked through the REST API: it is what the coordinator now runs.

import { artifacts, run, step, waitFor } from "./fixture.mjs";

await run("admin", async ({ fixture, browser, watch }) => {
  const context = await browser.newContext({ baseURL: fixture.url, viewport: { width: 1400, height: 1000 }, locale: "en-US" });
  const page = await context.newPage();
  watch(page, "admin");
  const api = context.request;
  const login = await api.post("/api/v1/auth/login", {
    data: { username: fixture.accounts.admin.username, password: fixture.accounts.admin.password },
  });
  if (!login.ok()) throw new Error(`admin login: ${login.status()}`);
  const section = async (name) => (await (await api.get(`/api/v1/config/${name}`)).json());
  const message = () => page.textContent("#cfgMsg");

  await page.goto("/admin");
  await waitFor("the agents tab", async () => (await page.locator("#cfgBody tr").count()) > 5);
  await page.screenshot({ path: `${artifacts}/admin-01-agents.png`, fullPage: true });
  step("agents listed");

  // A new agent: home branch gz-01, the free FXS phone there, card skill level 5.
  await page.click("#cfgBody button[data-new]");
  const form = page.locator("#cfgForm");
  await form.locator('[data-f="agent.name"]').fill("Zhou Xin");
  await form.locator('[data-f="agent.site"]').fill("gz-01");
  await form.locator('[data-f="seat.site"]').fill("gz-01");
  await form.locator('[data-f="seat.endpoint"]').fill("fxs1");
  await form.locator('button[data-add="memberships"]').click();
  const skill = form.locator('table[data-f="memberships"] tr').last();
  await skill.locator('[data-f="group"]').selectOption("2");
  await skill.locator('[data-f="proficiency"]').fill("5");
  // (A full-page screenshot here resizes the page under the next click.)
  await page.locator("#cfgEditor").screenshot({ path: `${artifacts}/admin-02-agent-form.png` });
  await form.locator("button.primary").click();
  await waitFor("saved", async () => (await message()).startsWith("Saved"));
  const agents = (await section("agents")).items;
  const zhou = agents.find((a) => a.agent.name === "Zhou Xin");
  if (!zhou) throw new Error("the new agent is not in the configuration");
  if (zhou.seat?.endpoint !== "fxs1" || zhou.agent.site?.Branch !== "gz-01") throw new Error(`seat: ${JSON.stringify(zhou)}`);
  if (!zhou.memberships.some((m) => m.group === 2 && m.proficiency === 5)) throw new Error(`skills: ${JSON.stringify(zhou)}`);
  await waitFor("listed", async () => (await page.textContent("#cfgBody")).includes("Zhou Xin"));
  step(`agent ${zhou.agent.id} added with seat gz-01/fxs1 and card skill 5`);

  // A part-time shift on a group membership; a shift the form cannot read is
  // marked before anything is sent.
  await page.click('#cfgTabs button[data-tab="groups"]');
  await page.click('#cfgBody button[data-edit="1"]');
  const members = form.locator('table[data-f="members"] tr');
  const wang = members.filter({ has: page.locator('[data-f="agent"] option[value="9"]:checked') });
  await wang.locator('[data-f="windows"]').fill("Someday 9");
  await form.locator("button.primary").click();
  await waitFor("shift refused", async () => (await message()).includes("Mon-Fri"));
  if (!(await wang.locator('[data-f="windows"]').evaluate((el) => el.classList.contains("bad")))) {
    throw new Error("the unreadable shift is not marked");
  }
  await wang.locator('[data-f="windows"]').fill("Mon-Fri 09:00-13:00; Sat 22:00-02:00");
  await form.locator("button.primary").click();
  await waitFor("saved", async () => (await message()).startsWith("Saved"));
  const team = (await section("groups")).items.find((g) => g.id === 1);
  const shifts = team.members.find((m) => m.agent === 9).windows.map((w) => `${w.days} ${w.start_minute}-${w.end_minute}`);
  if (shifts.join(", ") !== "31 540-780, 32 1320-120") throw new Error(`shifts: ${JSON.stringify(shifts)}`);
  step("part-time shifts saved on agent 9's membership");

  // Opening hours that end before they start: refused, the field marked,
  // nothing changed.
  const before = await section("calendars");
  await page.click('#cfgTabs button[data-tab="calendars"]');
  await page.click('#cfgBody button[data-edit="always"]');
  await form.locator('[data-f="weekly.mon"]').fill("18:00-09:00");
  await form.locator("button.primary").click();
  await waitFor("refusal", async () => (await message()).includes("weekly.mon"));
  if (!(await form.locator('[data-f="weekly.mon"]').evaluate((el) => el.classList.contains("bad")))) {
    throw new Error("the refused field is not marked");
  }
  const after = await section("calendars");
  if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error("a refused change was applied");
  await page.screenshot({ path: `${artifacts}/admin-03-refused.png`, fullPage: true });
  step(`refused and marked: ${await message()}`);

  // A blacklist rule.
  await page.click('#cfgTabs button[data-tab="blacklist"]');
  await page.click('#cfgForm button[data-add="."]');
  const rule = page.locator('#cfgForm table[data-f="."] tr').last();
  await rule.locator('[data-f="kind"]').selectOption("Exact");
  await rule.locator('[data-f="digits"]').fill("+8613999999999");
  await page.click("#cfgForm button.primary");
  await waitFor("saved", async () => (await message()).startsWith("Saved"));
  const blacklist = (await section("blacklist")).items;
  if (!blacklist.some((r) => r.pattern.Exact === "+8613999999999" && r.action === "Reject")) {
    throw new Error(`blacklist: ${JSON.stringify(blacklist)}`);
  }
  step(`blacklist has ${blacklist.length} rules`);

  // An IVR flow saved through its form unchanged comes back identical: the
  // form keeps every setting it does not show.
  const flowBefore = (await section("flows")).items.branch;
  await page.click('#cfgTabs button[data-tab="flows"]');
  await page.click('#cfgBody button[data-edit="branch"]');
  await page.click("#cfgForm button.primary");
  await waitFor("saved", async () => (await message()).startsWith("Saved"));
  const flowAfter = (await section("flows")).items.branch;
  if (JSON.stringify(flowAfter) !== JSON.stringify(flowBefore)) {
    throw new Error(`the flow changed: ${JSON.stringify(flowBefore)} → ${JSON.stringify(flowAfter)}`);
  }
  await page.locator("#cfgEditor").screenshot({ path: `${artifacts}/admin-04-ivr-flow.png` });
  step("IVR flow round-trips through its form");

  // Chinese.
  await page.click("#lang");
  await waitFor("Chinese tabs", async () => (await page.textContent("#cfgTabs")).includes("坐席组与技能"));
  await page.click('#cfgTabs button[data-tab="queues"]');
  await page.click('#cfgBody button[data-edit="2"]');
  await waitFor("Chinese form", async () => (await page.textContent("#cfgForm")).includes("依次分配的坐席组"));
  await page.screenshot({ path: `${artifacts}/admin-05-queue-zh.png`, fullPage: true });
  step("forms in Chinese");
});
