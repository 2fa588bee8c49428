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

// A table from an array of flat objects; nested values shown as JSON.
export function table(rows, columns = rows.length ? Object.keys(rows[0]) : []) {
  const cell = (v) => escape(typeof v === "object" && v !== null ? JSON.stringify(v) : v);
  return `<table><thead><tr>${columns.map((c) => `<th>${escape(c)}</th>`).join("")}</tr></thead>
    <tbody>${rows.map((r) => `<tr>${columns.map((c) => `<td>${cell(r[c])}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}
