// The admin forms for the center configuration: one tab per section (agents,
// groups and skills, queues, IVR flows, business hours, sites, blacklist, VIPs).
// A form edits one item on top of what the server returned, so settings the
// form does not show are kept. Saving sends the item with the version it was
// loaded at; the server validates the whole configuration and names the field
// at fault, which the form then marks.
import { api, escape, describe } from "/static/app.js";
import { t } from "/static/i18n.js";

const at = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
function put(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (o[k] == null || typeof o[k] !== "object") o[k] = {};
    o = o[k];
  }
  if (value === undefined) delete o[keys.at(-1)];
  else o[keys.at(-1)] = value;
}
const copy = (v) => (v === undefined ? undefined : structuredClone(v));
const attr = (v) => escape(v ?? "");

// ---------------------------------------------------------------- field kinds
// Each kind turns a model value into inputs and reads it back. `f.to`/`f.from`
// convert between the model and what the input shows.
const blank = (f) => (f.optional ? null : undefined);
const KINDS = {
  text: {
    html: (f, v) => `<input data-f="${f.path}" value="${attr(v)}" ${f.width ? `style="width:${f.width}"` : ""}>`,
    read: (f, el) => (el.value.trim() === "" ? blank(f) : el.value.trim()),
  },
  int: {
    html: (f, v) => `<input data-f="${f.path}" type="number" step="any" value="${attr(v)}" style="width:${f.width || "6rem"}">`,
    read: (f, el) => (el.value === "" ? blank(f) : Number(el.value)),
  },
  bool: {
    html: (f, v) => `<input data-f="${f.path}" type="checkbox" ${v ? "checked" : ""}>`,
    read: (f, el) => el.checked,
  },
  select: {
    html: (f, v) => `<select data-f="${f.path}">${options(f).map(([value, label]) =>
      `<option value="${attr(value)}" ${String(value) === String(v ?? "") ? "selected" : ""}>${escape(label)}</option>`).join("")}</select>`,
    read: (f, el) => (el.value === "" ? blank(f) : f.numeric ? Number(el.value) : el.value),
  },
};
// Text shown and parsed: comma lists, digit maps, prompts, seconds.
const listOf = (parse) => ({
  to: (v) => (v ?? []).join(", "),
  from: (s) => (s == null ? [] : s.split(",").map((x) => x.trim()).filter(Boolean).map(parse)),
});
const ints = listOf(Number);
const strings = listOf(String);
const digitMap = {
  to: (v) => Object.entries(v ?? {}).map(([k, n]) => `${k}=${n}`).join(", "),
  from: (s) => Object.fromEntries((s ?? "").split(",").map((p) => p.split("=").map((x) => x.trim())).filter((p) => p[0])),
};
// A prompt is an audio file name, or "tone:697+1209/200" (frequencies/ms).
function promptText(p) {
  if (p == null) return "";
  if (p.file != null) return p.file;
  return `tone:${p.tone.frequencies_hz.join("+")}/${p.tone.duration_ms}`;
}
function promptValue(s) {
  if (s == null) return null;
  const tone = /^tone:([\d+]+)\/(\d+)$/.exec(s);
  if (!tone) return { file: s };
  return { tone: { frequencies_hz: tone[1].split("+").map(Number), duration_ms: Number(tone[2]) } };
}
const prompt = { to: promptText, from: promptValue };
const prompts = { to: (v) => (v ?? []).map(promptText).join(", "), from: (s) => strings.from(s).map(promptValue) };
// Shifts of a part-time membership: "Mon-Fri 09:00-13:00; Sat 10:00-14:00"
// (an end at or before the start runs past midnight).
const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const clock = (m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
function windowText(w) {
  const runs = [];
  for (let d = 0; d < 7; d++) {
    if (!(w.days & (1 << d))) continue;
    const last = runs.at(-1);
    if (last && last[1] === d - 1) last[1] = d; else runs.push([d, d]);
  }
  const days = runs.map(([a, b]) => (a === b ? DAY_NAMES[a] : `${DAY_NAMES[a]}-${DAY_NAMES[b]}`)).join(",");
  return `${days} ${clock(w.start_minute)}-${clock(w.end_minute)}`;
}
function windowValue(text) {
  const m = /^([A-Za-z,-]+)\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(text);
  const day = (name) => DAY_NAMES.findIndex((d) => d.toLowerCase() === name.toLowerCase());
  if (!m) throw new Error(`"${text}": write a shift as Mon-Fri 09:00-13:00`);
  let days = 0;
  for (const part of m[1].split(",")) {
    const [a, b = a] = part.split("-").map(day);
    if (a < 0 || b < 0 || b < a) throw new Error(`"${part}": days are Mon, Tue, Wed, Thu, Fri, Sat, Sun`);
    for (let d = a; d <= b; d++) days |= 1 << d;
  }
  const [sh, sm, eh, em] = m.slice(2).map(Number);
  if (sh > 23 || sm > 59 || eh > 24 || em > 59 || (eh === 24 && em > 0)) throw new Error(`"${text}": no such time`);
  return { days, start_minute: sh * 60 + sm, end_minute: eh * 60 + em };
}
const shifts = {
  to: (v) => (v ?? []).map(windowText).join("; "),
  from: (s) => (s ?? "").split(";").map((x) => x.trim()).filter(Boolean).map(windowValue),
};
const seconds = { to: (v) => (v == null ? "" : v / 1000), from: (n) => (n == null ? n : Math.round(n * 1000)) };

function options(f) {
  const list = typeof f.options === "function" ? f.options() : f.options;
  return (f.optional || f.none ? [["", t(f.none || "none")]] : []).concat(
    list.map((o) => (Array.isArray(o) ? [o[0], t(o[1])] : [o, o])));
}

// ---------------------------------------------------------------- rendering
// Fields of one level live in an element with data-level; nested rows and
// variants have their own, so the same name can appear at several levels.
function fieldsHtml(fields, value) {
  return fields.map((f) => {
    const raw = f.path === "." ? value : at(value, f.path);
    if (f.type === "rows") return `<div class="field wide"><span>${escape(t(f.label))}</span>${rowsHtml(f, raw)}</div>`;
    if (f.type === "variant") return variantHtml(f, raw);
    const shown = f.to ? f.to(raw) : raw;
    return `<label class="field"><span>${escape(t(f.label))}</span>${KINDS[f.type || "text"].html(f, shown)}</label>`;
  }).join("");
}

function rowsHtml(f, list) {
  const rows = (list ?? []).map((item) => rowHtml(f, item)).join("");
  return `<table class="rows" data-f="${f.path}"><tbody>${rows}</tbody></table>
    <button type="button" data-add="${f.path}">+ ${escape(t("add"))}</button>`;
}

function rowHtml(f, item) {
  const row = f.toRow ? f.toRow(item) : item;
  return `<tr data-level data-base="${attr(JSON.stringify(item ?? {}))}"><td>${fieldsHtml(f.fields, row ?? {})}</td>
    <td><button type="button" data-remove>×</button></td></tr>`;
}

// Externally tagged enums ({ play: {...} } or "hangup"): a kind select and the
// kind's own fields.
function variantHtml(f, value) {
  const tag = typeof value === "string" ? value : Object.keys(value ?? {})[0] ?? Object.keys(f.variants)[0];
  const inner = typeof value === "object" && value ? value[tag] : {};
  const select = `<select data-variant="${f.path}">${Object.keys(f.variants).map((k) =>
    `<option value="${k}" ${k === tag ? "selected" : ""}>${escape(t(k))}</option>`).join("")}</select>`;
  return `<span class="variant" data-level data-variant-of="${f.path}" data-base="${attr(JSON.stringify(inner ?? {}))}">${select}
    ${fieldsHtml(f.variants[tag] ?? [], inner ?? {})}</span>`;
}

const own = (level, selector) =>
  [...level.querySelectorAll(selector)].filter((el) => el.parentElement.closest("[data-level]") === level);

function readFields(level, fields, base) {
  const out = copy(base) ?? {};
  for (const f of fields) {
    if (f.type === "rows") {
      const table = own(level, `table[data-f="${f.path}"]`)[0];
      const rows = [...table.tBodies[0].rows].map((tr) => {
        const row = readFields(tr, f.fields, f.toRow ? {} : JSON.parse(tr.dataset.base));
        return f.fromRow ? f.fromRow(row, JSON.parse(tr.dataset.base)) : row;
      });
      if (f.path === ".") return rows;
      put(out, f.path, rows);
    } else if (f.type === "variant") {
      const span = own(level, `[data-variant-of="${f.path}"]`)[0];
      const tag = span.querySelector("select[data-variant]").value;
      const fields = f.variants[tag];
      const value = fields ? { [tag]: readFields(span, fields, JSON.parse(span.dataset.base)) } : tag;
      if (f.path === ".") return value;
      put(out, f.path, value);
    } else {
      const el = own(level, `[data-f="${f.path}"]`)[0];
      const raw = KINDS[f.type || "text"].read(f, el);
      try {
        put(out, f.path, f.from ? f.from(raw) : raw);
      } catch (err) {
        err.element = el; // marked by save()
        throw err;
      }
    }
  }
  return out;
}

// Add and remove rows, switch a variant's kind.
function wire(root, spec) {
  // `spec()` is the fields of the section on screen.
  root.addEventListener("click", (e) => {
    const add = e.target.closest("[data-add]");
    if (add) {
      const f = findField(spec(), add.dataset.add);
      add.previousElementSibling.tBodies[0].insertAdjacentHTML("beforeend", rowHtml(f, f.fresh ? f.fresh() : {}));
    }
    if (e.target.closest("[data-remove]")) e.target.closest("tr").remove();
  });
  root.addEventListener("change", (e) => {
    const select = e.target.closest("select[data-variant]");
    if (!select) return;
    const span = select.parentElement;
    const f = findField(spec(), span.dataset.variantOf);
    const fields = f.variants[select.value] ?? [];
    span.dataset.base = "{}";
    for (const el of [...span.children].slice(1)) el.remove();
    span.insertAdjacentHTML("beforeend", fieldsHtml(fields, {}));
  });
}

function findField(fields, path) {
  for (const f of fields) {
    if (f.path === path && (f.type === "rows" || f.type === "variant")) return f;
    const inner = [f.fields ?? [], ...Object.values(f.variants ?? {}).map((v) => v ?? [])].flat();
    const found = inner.length ? findField(inner, path) : null;
    if (found) return found;
  }
  return null;
}

// ---------------------------------------------------------------- sections
const cache = {};
const ids = (section, key = "id") => () => (cache[section] ?? []).map((x) => [x[key] ?? x.agent?.id, `${x[key] ?? x.agent?.id} ${x.name ?? x.agent?.name ?? ""}`]);
const names = (section) => () => Object.keys(cache[section] ?? {});
const STRATEGIES = [["Linear", "s_linear"], ["Circular", "s_circular"], ["FewestAnswered", "s_fewest"],
  ["LongestIdle", "s_longest_idle"], ["AgentPriority", "s_priority"], ["CallerNumber", "s_caller"], ["RingAll", "s_ring_all"],
  ["Random", "s_random"], ["ProficiencyWeighted", "s_proficiency"]];
const label = (pairs, value) => t(pairs.find((p) => p[0] === value)?.[1] ?? String(value ?? ""));
const KINDS_OF_GROUP = [["Team", "team"], ["Skill", "skill"], ["ExpertPool", "expert_pool"]];
const ROLES = [["team-lead", "team_lead"], ["duty-manager", "duty_manager"]];
const member = (who) => [
  { path: who, label: who === "agent" ? "agent" : "group", type: "select", numeric: true, options: ids(who === "agent" ? "agents" : "groups") },
  { path: "priority", label: "priority", type: "int", width: "4rem" },
  { path: "proficiency", label: "proficiency", type: "int", width: "4rem" },
  { path: "windows", label: "shifts", width: "18rem", ...shifts },
];
const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const prompted = (extra) => [{ path: "prompt", label: "prompt", ...prompt }, ...extra];
const NODES = {
  play: [{ path: "prompts", label: "prompts", ...prompts }, { path: "barge_in", label: "barge_in", type: "bool" }, { path: "next", label: "next" }],
  menu: prompted([{ path: "options", label: "options", ...digitMap }, { path: "timeout_ms", label: "timeout_s", type: "int", ...seconds },
    { path: "max_retries", label: "retries", type: "int" }, { path: "on_exhausted", label: "on_exhausted" }]),
  collect: prompted([{ path: "variable", label: "variable" }, { path: "min_len", label: "min_len", type: "int" }, { path: "max_len", label: "max_len", type: "int" },
    { path: "first_digit_timeout_ms", label: "timeout_s", type: "int", ...seconds }, { path: "inter_digit_timeout_ms", label: "inter_digit_s", type: "int", ...seconds },
    { path: "next", label: "next" }, { path: "on_exhausted", label: "on_exhausted" }]),
  hours: [{ path: "calendar", label: "calendar", type: "select", options: names("calendars") }, { path: "open", label: "when_open" }, { path: "closed", label: "when_closed" }],
  queue: [{ path: "queue", label: "queue", type: "select", numeric: true, options: ids("queues") }, { path: "priority", label: "priority", type: "int" }],
  callback_offer: prompted([{ path: "queue", label: "queue", type: "select", numeric: true, options: ids("queues") },
    { path: "timeout_ms", label: "timeout_s", type: "int", ...seconds }, { path: "accepted", label: "accepted" }, { path: "declined", label: "declined" }]),
  closed_message: [{ path: "prompt", label: "prompt", ...prompt }],
  hangup: null,
};
const pattern = {
  kind: { path: "kind", label: "match", type: "select", options: [["Exact", "exact"], ["Prefix", "prefix"]] },
  digits: { path: "digits", label: "number" },
  toRow: (p) => ({ kind: Object.keys(p ?? { Prefix: "" })[0], digits: Object.values(p ?? { Prefix: "" })[0] }),
  fromRow: (r) => ({ [r.kind]: r.digits ?? "" }),
};

export const SECTIONS = {
  agents: {
    label: "agents",
    key: (x) => x.agent.id,
    fresh: () => ({ agent: { id: nextId("agents"), name: "" }, memberships: [] }),
    columns: (x) => [x.agent.id, x.agent.name, x.agent.site?.Branch ?? t("home"),
      x.seat ? `${x.seat.site}/${x.seat.endpoint}` : "–", x.supervisor ? label(ROLES, x.supervisor.role) : "",
      x.memberships.map((m) => m.group).join(", ")],
    heads: ["id", "name", "site", "seat", "role", "groups"],
    fields: [
      { path: "agent.id", label: "id", type: "int" },
      { path: "agent.name", label: "name", width: "14rem" },
      { path: "agent.site", label: "works_at", to: (v) => v?.Branch ?? "", from: (s) => (s ? { Branch: s } : "Home") },
      { path: "agent.max_missed_offers", label: "max_missed", type: "int" },
      { path: "seat.site", label: "seat_node" },
      { path: "seat.endpoint", label: "seat_endpoint" },
      { path: "supervisor.role", label: "role", type: "select", none: "not_supervisor", options: ROLES },
      { path: "supervisor.groups", label: "leads_groups", ...ints },
      { path: "memberships", label: "memberships", type: "rows", fields: member("group") },
    ],
    // A seat or supervision left blank means none.
    tidy: (x) => {
      if (!x.seat?.site && !x.seat?.endpoint) x.seat = null;
      if (!x.supervisor?.role) x.supervisor = null;
      return x;
    },
  },
  groups: {
    label: "groups_skills",
    key: (x) => x.id,
    fresh: () => ({ id: nextId("groups"), name: "", kind: "Team", members: [] }),
    columns: (x) => [x.id, x.name, label(KINDS_OF_GROUP, x.kind), x.strategy ? label(STRATEGIES, x.strategy) : "",
      x.members.map((m) => m.agent).join(", ")],
    heads: ["id", "name", "kind", "strategy", "members"],
    fields: [
      { path: "id", label: "id", type: "int" },
      { path: "name", label: "name", width: "14rem" },
      { path: "kind", label: "kind", type: "select", options: KINDS_OF_GROUP },
      { path: "strategy", label: "strategy", type: "select", optional: true, none: "from_queue", options: STRATEGIES },
      { path: "members", label: "members", type: "rows", fields: member("agent") },
    ],
  },
  queues: {
    label: "queues",
    key: (x) => x.id,
    fresh: () => ({ id: nextId("queues"), name: "", priority: 10, targets: [], offer_timeout_ms: 15000 }),
    columns: (x) => [x.id, x.name, x.priority, label(STRATEGIES, x.strategy), x.targets.map((s) => s.group).join(" → "), x.business_hours ?? ""],
    heads: ["id", "name", "priority", "strategy", "targets", "calendar"],
    fields: [
      { path: "id", label: "id", type: "int" },
      { path: "name", label: "name", width: "14rem" },
      { path: "priority", label: "priority", type: "int" },
      { path: "strategy", label: "strategy", type: "select", options: STRATEGIES },
      { path: "service_level.percent", label: "sl_percent", type: "int" },
      { path: "service_level.threshold_ms", label: "sl_seconds", type: "int", ...seconds },
      { path: "max_waiting", label: "max_waiting", type: "int", optional: true },
      { path: "business_hours", label: "calendar", type: "select", optional: true, options: names("calendars") },
      { path: "offer_timeout_ms", label: "offer_timeout_s", type: "int", ...seconds },
      { path: "wrap_up.mode", label: "wrapup", type: "select",
        options: [["None", "w_none"], ["Mandatory", "w_mandatory"], ["Optional", "w_optional"], ["Manual", "w_manual"]] },
      { path: "wrap_up.duration_ms", label: "wrapup_s", type: "int", ...seconds },
      { path: "announce_every_ms", label: "announce_s", type: "int", optional: true, ...seconds },
      { path: "callback_when_ewt_over_ms", label: "callback_ewt_s", type: "int", optional: true, ...seconds },
      { path: "targets", label: "targets", type: "rows", fresh: () => ({}), fields: [
        { path: "group", label: "group", type: "select", numeric: true, options: ids("groups") },
        { path: "after_ms", label: "after_s", type: "int", ...seconds },
        { path: "min_proficiency", label: "min_proficiency", type: "int" },
      ] },
      { path: "overflow", label: "overflow", type: "rows", fields: [
        { path: "when", label: "when", type: "select", options: [["Full", "when_full"], ["NoReadyAgents", "when_no_agents"], ["WaitExceedsMs", "when_wait"]] },
        { path: "wait_s", label: "after_s", type: "int" },
        { path: "target", label: "to_queue", type: "select", numeric: true, options: ids("queues") },
      ],
      toRow: (o) => ({ when: typeof o?.when === "object" ? "WaitExceedsMs" : o?.when ?? "Full",
        wait_s: typeof o?.when === "object" ? o.when.WaitExceedsMs / 1000 : null, target: o?.target }),
      fromRow: (r) => ({ when: r.when === "WaitExceedsMs" ? { WaitExceedsMs: Math.round((r.wait_s ?? 0) * 1000) } : r.when, target: r.target }) },
    ],
  },
  flows: {
    label: "ivr_flows",
    byName: true,
    fresh: () => ({ start: "welcome", nodes: { welcome: "hangup" } }),
    columns: (x, name) => [name, x.start, Object.keys(x.nodes).length],
    heads: ["name", "start", "nodes"],
    fields: [
      { path: "start", label: "start" },
      { path: "nodes", label: "nodes", type: "rows",
        toRow: (n) => n, fromRow: (r) => r,
        fields: [{ path: "name", label: "node" }, { path: "step", label: "kind", type: "variant", variants: NODES }] },
    ],
    // Nodes are a map by name; the form shows them as rows.
    load: (x) => ({ ...x, nodes: Object.entries(x.nodes).map(([name, step]) => ({ name, step })) }),
    tidy: (x) => ({ ...x, nodes: Object.fromEntries(x.nodes.map((n) => [n.name, n.step])) }),
  },
  calendars: {
    label: "business_hours",
    byName: true,
    fresh: () => ({ utc_offset_minutes: 480, weekly: {}, holidays: [], special_days: [] }),
    columns: (x, name) => [name, days.map((d) => `${t(d)} ${(x.weekly[d] ?? []).join(" ") || "–"}`).join(" · ")],
    heads: ["name", "weekly"],
    fields: [
      { path: "utc_offset_minutes", label: "utc_offset", type: "int" },
      ...days.map((d) => ({ path: `weekly.${d}`, label: d, width: "16rem", ...strings })),
      { path: "holidays", label: "holidays", width: "20rem", ...strings },
      { path: "special_days", label: "special_days", type: "rows", fields: [
        { path: "date", label: "date" }, { path: "hours", label: "hours", ...strings }] },
    ],
  },
  sites: {
    label: "sites",
    key: (x) => x.site,
    fresh: () => ({ site: "", flow: Object.keys(cache.flows ?? {})[0] ?? "", record: false }),
    columns: (x) => [x.site, x.flow, digitMap.to(x.lines), x.record ? "✓" : ""],
    heads: ["site", "ivr_flow", "line_flows", "record"],
    fields: [
      { path: "site", label: "site" },
      { path: "flow", label: "ivr_flow", type: "select", options: names("flows") },
      { path: "lines", label: "line_flows", ...digitMap },
      { path: "record", label: "record", type: "bool" },
    ],
  },
  blacklist: {
    label: "blacklist",
    list: true,
    fields: [{ path: ".", label: "blacklist", type: "rows", fields: [
      pattern.kind, pattern.digits,
      { path: "action", label: "action", type: "select", options: [["Reject", "reject"], ["RouteTo", "route_to"]] },
      { path: "queue", label: "queue", type: "select", optional: true, numeric: true, options: ids("queues") },
    ],
    toRow: (r) => ({ ...pattern.toRow(r?.pattern), action: typeof r?.action === "object" ? "RouteTo" : "Reject", queue: r?.action?.RouteTo }),
    fromRow: (r) => ({ pattern: pattern.fromRow(r), action: r.action === "RouteTo" ? { RouteTo: r.queue } : "Reject" }) }],
  },
  vips: {
    label: "vips",
    list: true,
    fields: [{ path: ".", label: "vips", type: "rows", fields: [
      pattern.kind, pattern.digits,
      { path: "priority", label: "priority", type: "int" },
      { path: "agents", label: "agents", ...ints },
    ],
    toRow: (r) => ({ ...pattern.toRow(r?.pattern), priority: r?.priority, agents: r?.agents }),
    fromRow: (r) => ({ pattern: pattern.fromRow(r), priority: r.priority ?? 0, agents: r.agents }) }],
  },
};

function nextId(section) {
  return Math.max(0, ...(cache[section] ?? []).map((x) => x.id ?? x.agent?.id ?? 0)) + 1;
}

// ---------------------------------------------------------------- the editor
export async function mountConfigEditor(root) {
  let current = "agents";
  let version = 0;
  let editing = null; // { key, item } or null
  const msg = (text, ok) => {
    const p = root.querySelector("#cfgMsg");
    p.className = ok ? "ok" : "error";
    p.textContent = text;
  };

  async function refresh() {
    // Other sections feed the selects (groups, queues, flows, calendars).
    const all = await Promise.all(Object.keys(SECTIONS).map((s) => api("GET", `/config/${s}`)));
    Object.keys(SECTIONS).forEach((s, i) => { cache[s] = all[i].items; });
    version = all[0].version;
  }

  function draw() {
    const spec = SECTIONS[current];
    const tabs = Object.entries(SECTIONS).map(([name, s]) =>
      `<button type="button" data-tab="${name}" class="${name === current ? "primary" : ""}">${escape(t(s.label))}</button>`).join("");
    let body;
    if (spec.list) {
      body = formHtml(spec, cache[current], null);
    } else {
      const items = spec.byName ? Object.entries(cache[current]) : cache[current].map((x) => [spec.key(x), x]);
      body = `<table><tr>${spec.heads.map((h) => `<th>${escape(t(h))}</th>`).join("")}<th></th></tr>
        ${items.map(([key, x]) => `<tr>${spec.columns(x, key).map((c) => `<td>${escape(c)}</td>`).join("")}
          <td><button type="button" data-edit="${attr(key)}">${escape(t("edit"))}</button>
          <button type="button" data-del="${attr(key)}">${escape(t("delete"))}</button></td></tr>`).join("")}</table>
        <div class="row"><button type="button" data-new>${escape(t("new"))}</button></div>
        ${editing ? formHtml(spec, editing.item, editing.key) : ""}`;
    }
    root.querySelector("#cfgTabs").innerHTML = tabs;
    root.querySelector("#cfgBody").innerHTML = `<p class="muted">${escape(t("version"))} ${version}</p>${body}`;
  }

  function formHtml(spec, item, key) {
    const shown = spec.load ? spec.load(item) : item;
    const name = spec.byName ? `<label class="field"><span>${escape(t("name"))}</span><input data-key value="${attr(key ?? "")}" ${key ? "readonly" : ""}></label>` : "";
    return `<form id="cfgForm" class="cfg" data-level>${name}${fieldsHtml(spec.fields, shown)}
      <div class="row"><button class="primary">${escape(t("save"))}</button>
      ${spec.list ? "" : `<button type="button" data-cancel>${escape(t("cancel"))}</button>`}</div></form>`;
  }

  async function save(form) {
    const spec = SECTIONS[current];
    const base = editing?.item ?? cache[current];
    let item;
    try {
      item = readFields(form, spec.fields, spec.load ? spec.load(base) : base);
    } catch (err) {
      mark(form, null);
      err.element?.classList.add("bad");
      msg(`${t("error")}: ${err.message}`);
      return;
    }
    if (spec.tidy) item = spec.tidy(item);
    const key = spec.list ? null : spec.byName ? form.querySelector("[data-key]").value.trim() : spec.key(item);
    const path = spec.list ? `/config/${current}` : `/config/${current}/${encodeURIComponent(key)}`;
    try {
      const r = await api("PUT", `${path}?version=${version}`, item);
      editing = null;
      await refresh();
      draw();
      msg(`${t("saved")} (v${r.version})`, true);
    } catch (err) {
      msg(describe(err));
      mark(form, err.field);
    }
  }

  root.addEventListener("click", async (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    const spec = SECTIONS[current];
    try {
      if (b.dataset.tab) { current = b.dataset.tab; editing = null; msg(""); draw(); }
      else if (b.dataset.new !== undefined) { editing = { key: null, item: spec.fresh() }; draw(); }
      else if (b.dataset.cancel !== undefined) { editing = null; draw(); }
      else if (b.dataset.edit) {
        const r = await api("GET", `/config/${current}/${encodeURIComponent(b.dataset.edit)}`);
        editing = { key: b.dataset.edit, item: r.item };
        version = r.version;
        draw();
      } else if (b.dataset.del && confirm(`${t("delete")} ${b.dataset.del}?`)) {
        const r = await api("DELETE", `/config/${current}/${encodeURIComponent(b.dataset.del)}?version=${version}`);
        await refresh(); draw(); msg(`${t("saved")} (v${r.version})`, true);
      }
    } catch (err) { msg(describe(err)); }
  });
  root.addEventListener("submit", (e) => { e.preventDefault(); save(e.target); });
  wire(root, () => SECTIONS[current].fields);
  window.addEventListener("tandem-lang", draw);
  await refresh();
  draw();
}

// Marks the input the server named: "agent.name", or "memberships[1].group"
// for a row's field.
function mark(form, field) {
  for (const el of form.querySelectorAll(".bad")) el.classList.remove("bad");
  if (!field) return;
  const row = /^(.*?)\[(\d+)\]\.(.+)$/.exec(field);
  let el = null;
  if (row) {
    const table = own(form, `table[data-f="${row[1]}"]`)[0];
    const tr = table?.tBodies[0].rows[Number(row[2])];
    el = tr && own(tr, `[data-f="${row[3]}"]`)[0];
  } else {
    // "weekly.mon[0]": the input holding the whole list.
    el = own(form, `[data-f="${field.replace(/\[\d+\]$/, "")}"]`)[0];
  }
  if (el) { el.classList.add("bad"); el.focus(); }
}
