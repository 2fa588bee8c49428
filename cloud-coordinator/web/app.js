// Shared by every page: API calls (the session cookie is sent automatically),
// the live event stream, and the header (language switch, logout).
import { applyLabels, toggleLang, t } from "/static/i18n.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(body.error || `HTTP ${status}`);
    this.status = status;
    this.field = body.field;
  }
}

export async function api(method, path, body, type = "application/json") {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = type;
    init.body = type === "application/json" ? JSON.stringify(body) : body;
  }
  const res = await fetch(`/api/v1${path}`, init);
  if (res.status === 401 && !path.startsWith("/auth/login")) {
    location.href = "/login";
    throw new ApiError(401, {});
  }
  const text = await res.text();
  const ctype = res.headers.get("content-type") || "";
  const data = ctype.includes("json") && text ? JSON.parse(text) : text;
  if (!res.ok) throw new ApiError(res.status, typeof data === "object" ? data : { error: text });
  return data;
}

export function describe(err) {
  return err.field ? `${t("error")}: ${err.field}: ${err.message}` : `${t("error")}: ${err.message}`;
}

// Calls onEvent(name, data) for each live event the account may see.
export function listen(onEvent) {
  const source = new EventSource("/api/v1/events");
  for (const name of ["agent", "call", "queue", "node_online", "node_offline", "lagged"]) {
    source.addEventListener(name, (e) => {
      let data = e.data;
      try { data = JSON.parse(e.data); } catch { /* plain text */ }
      onEvent(name, data);
    });
  }
  return source;
}

// Fills the page header and returns the logged-in account.
export async function start() {
  applyLabels();
  const me = await api("GET", "/auth/me");
  const header = document.querySelector("header");
  if (header) {
    header.insertAdjacentHTML("beforeend",
      `<span class="who">${escape(me.username)} (${escape(me.role)})</span>
       <button id="lang" data-i18n="lang"></button>
       <button id="logout" data-i18n="logout"></button>`);
    applyLabels(header);
    document.getElementById("lang").onclick = toggleLang;
    document.getElementById("logout").onclick = async () => {
      await api("POST", "/auth/logout").catch(() => {});
      location.href = "/login";
    };
  }
  return me;
}

export function escape(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// A duration that keeps counting between refreshes (time in state, longest
// wait): `ms` as the server measured it when answering. As a table() cell it
// shows mm:ss and tick() moves it on with the page's monotonic clock, so the
// figure runs on without polling and without trusting the browser's wall clock.
export class Elapsed {
  constructor(ms) { this.since = performance.now() - ms; }
}

export function mmss(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

// Moves every Elapsed cell under `root` on to now.
export function tick(root = document) {
  for (const el of root.querySelectorAll("[data-since]")) el.textContent = mmss(performance.now() - Number(el.dataset.since));
}

// A table from an array of flat objects; nested values shown as JSON,
// Elapsed values as ticking mm:ss.
export function table(rows, columns = rows.length ? Object.keys(rows[0]) : []) {
  const cell = (v) => v instanceof Elapsed
    ? `<td data-since="${v.since}">${mmss(performance.now() - v.since)}</td>`
    : `<td>${escape(typeof v === "object" && v !== null ? JSON.stringify(v) : v)}</td>`;
  return `<table><thead><tr>${columns.map((c) => `<th>${escape(c)}</th>`).join("")}</tr></thead>
    <tbody>${rows.map((r) => `<tr>${columns.map((c) => cell(r[c])).join("")}</tr>`).join("")}</tbody></table>`;
}
