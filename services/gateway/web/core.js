/* Core of the operator UI: language, API client (session cookie + CSRF header), router, toasts,
   confirmation, live events over SSE. No third-party code. */
"use strict";
const App = (window.App = {
  lang: localStorage.getItem("vmscale.lang") || "en",
  me: null,
  csrf: null,
  screens: {},
  listeners: new Set(),
  source: null,
});

function t(key, vars) {
  const table = window.I18N[App.lang] || window.I18N.en;
  let text = table[key] ?? window.I18N.en[key] ?? key;
  for (const [name, value] of Object.entries(vars || {})) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

function applyI18n(root) {
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.documentElement.lang = App.lang;
  document.getElementById("lang").textContent = App.lang === "en" ? "한국어" : "English";
}

function setLang(lang) {
  App.lang = lang;
  localStorage.setItem("vmscale.lang", lang);
  applyI18n();
  route();
}

/* h("tag.class", {attrs}, children...) builds DOM; text children are escaped by construction. */
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") el.style.cssText = value;  // through the CSSOM: the CSP (style-src 'self') drops style attributes
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function api(method, path, body, options) {
  const headers = { Accept: "application/json" };
  if (App.csrf && method !== "GET") headers["X-CSRF-Token"] = App.csrf;
  let payload;
  if (body !== undefined) {
    if (typeof body === "string") { payload = body; headers["Content-Type"] = (options && options.type) || "application/yaml"; }
    else { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 401 && !(options && options.quiet401)) { showLogin(); throw new ApiError(401, {}); }
  const text = await response.text();
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const data = isJson && text ? JSON.parse(text) : text;
  if (!response.ok) throw new ApiError(response.status, isJson ? data : { detail: text });
  return data;
}

function toast(message, bad) {
  const el = h("div.toast" + (bad ? ".bad" : ""), { role: "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), bad ? 8000 : 4000);
}

function failed(error) {
  if (error instanceof ApiError && error.status === 401) return;
  toast(`${t("common.failed")}: ${error.message}`, true);
}

function confirmDialog(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  applyI18n(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

function badge(text, kind) { return h("span.badge" + (kind ? "." + kind : ""), {}, text); }
function fmtTime(value) {
  if (!value) return "—";
  return new Date(value).toLocaleString(App.lang === "ko" ? "ko-KR" : "en-GB", { hour12: false });
}
function fmtDuration(start, end) {
  if (!start || !end) return "—";
  const s = Math.max(0, (new Date(end) - new Date(start)) / 1000);
  return s < 90 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`;
}
function table(headers, rows, empty) {
  if (!rows.length) return h("div.empty", {}, empty || t("common.none"));
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}
/* A progress bar with its label; .set(percent, label, kind) moves it (kind "bad" paints it red). */
function meter(percent, label) {
  const fill = h("span", { style: `width:${percent}%` });
  const bar = h("div.progress", { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": percent }, fill);
  const text = h("span.meter-label", {}, label ?? `${percent}%`);
  const el = h("div.meter", {}, bar, text);
  el.percent = percent;
  el.set = (value, caption, kind) => {
    el.percent = value;
    fill.style.width = `${value}%`;
    bar.setAttribute("aria-valuenow", value);
    bar.classList.toggle("bad", kind === "bad");
    bar.classList.toggle("ok", kind === "ok");
    text.textContent = caption ?? `${value}%`;
  };
  return el;
}
/* How far an activity has got: its plan's forward steps done (or skipped), plus a running clone's own
   percent from vm.progress (``clones``: VM name → latest progress). [percent, caption]. */
function activityProgress(a, clones) {
  const forward = a.steps.filter((s) => s.phase === "forward");
  const done = forward.filter((s) => s.status === "done" || s.status === "skipped").length;
  let partial = 0, clone = null;
  for (const s of forward) {
    const p = s.status === "running" && s.step === "clone" ? clones.get(s.vm_name) : null;
    if (p) { partial += p.percent / 100; clone = p; }
  }
  const percent = forward.length ? Math.min(100, Math.round((100 * (done + partial)) / forward.length)) : 0;
  const caption = t("events.stepsDone", { done, total: forward.length }) + (clone ? ` · ${t("events.cloneAt", { percent: clone.percent })}` : "");
  return [percent, caption];
}
/* A clone's vm.progress moves its activity's bar (``meters``: activity id → { activity, meter }); never back. */
function moveActivityMeter(progress, clones, meters) {
  if (progress.operation !== "clone") return;
  clones.set(progress.vm_name, progress);
  const running = meters.get(progress.activity_id);
  if (!running) return;
  const [percent, caption] = activityProgress(running.activity, clones);
  if (percent >= running.meter.percent) running.meter.set(percent, caption);
}
function page(titleKey, subKey, ...content) {
  return [h("h1", {}, t(titleKey)), h("p.sub", {}, t(subKey)), ...content];
}
function unavailable(error) {
  return h("div.notice.error", {}, `${t("common.unavailable")}: ${error.message}`);
}

/* -- live events -------------------------------------------------------------------------- */
function startLive() {
  if (App.source) return;
  App.source = new EventSource("/api/v1/events/stream");
  const dot = document.getElementById("live");
  App.source.onopen = () => dot.classList.add("on");
  App.source.onerror = () => dot.classList.remove("on");
  App.source.onmessage = () => {};
  const deliver = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch (_) { return; }
    App.listeners.forEach((listener) => listener(event));
  };
  for (const name of ["activity", "decision", "alert", "pool", "vm", "template", "monitoring", "audit"]) {
    ["started", "step_completed", "succeeded", "rolled_back", "recorded", "fired", "resolved", "updated",
      "member_added", "member_removed", "cloned", "destroyed", "created", "deleted", "operation_failed",
      "agent_progress", "agents_installed", "registered", "deregistered", "failed", "progress", "job_deleted"].forEach((verb) =>
      App.source.addEventListener(`${name}.${verb}`, deliver));
  }
}
function stopLive() { if (App.source) { App.source.close(); App.source = null; } }
function onLive(listener) { App.listeners.add(listener); return () => App.listeners.delete(listener); }

/* -- auth and routing --------------------------------------------------------------------- */
function showLogin() {
  App.me = null; App.csrf = null; stopLive();
  document.getElementById("menu").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("whoami").textContent = "";
  const error = h("div.error", { id: "login-error", role: "alert" });
  const form = h("form.card.login", { id: "login-form" },
    h("h1", {}, t("auth.title")),
    h("div.field", {}, h("label", { for: "username" }, t("auth.username")),
      h("input", { id: "username", name: "username", autocomplete: "username", required: true })),
    h("div.field", {}, h("label", { for: "password" }, t("auth.password")),
      h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true })),
    error,
    h("button", { type: "submit" }, t("auth.login")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const me = await api("POST", "/api/v1/auth/login",
        { username: form.username.value, password: form.password.value }, { quiet401: true });
      signedIn(me);
      if (!location.hash || location.hash === "#/login") location.hash = "#/groups"; else route();
    } catch (err) {
      error.textContent = err.status === 401 ? t("auth.failed") : err.message;
    }
  });
  document.getElementById("main").replaceChildren(form);
  form.username.focus();
}

function signedIn(me) {
  App.me = me; App.csrf = me.csrf_token;
  document.getElementById("menu").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("whoami").textContent = `${me.name} · ${me.role}`;
  const rank = { viewer: 0, operator: 1, admin: 2 };
  document.querySelectorAll("[data-role]").forEach((el) => { el.hidden = rank[me.role] < rank[el.dataset.role]; });
  startLive();
}

function can(role) {
  const rank = { viewer: 0, operator: 1, admin: 2 };
  return App.me && rank[App.me.role] >= rank[role];
}

let cleanup = [];
let routing = 0;  // only the newest navigation may draw: a slower earlier screen must not replace it
async function route() {
  if (!App.me) return;
  const mine = ++routing;
  cleanup.forEach((fn) => fn()); cleanup = [];
  const [, name, ...rest] = (location.hash || "#/groups").split("/");
  const screen = App.screens[name] || App.screens.groups;
  document.querySelectorAll(".menu a").forEach((a) => a.classList.toggle("active", a.getAttribute("href") === `#/${name}`));
  const main = document.getElementById("main");
  main.replaceChildren(h("div.empty", {}, t("common.loading")));
  const registered = [];
  try {
    const nodes = await screen(rest.map(decodeURIComponent), (fn) => registered.push(fn));
    if (mine !== routing) { registered.forEach((fn) => fn()); return; }
    cleanup.push(...registered);
    main.replaceChildren(...[].concat(nodes));
  } catch (error) {
    if (mine !== routing) { registered.forEach((fn) => fn()); return; }
    cleanup.push(...registered);
    if (error instanceof ApiError && error.status === 401) return;
    const link = document.querySelector(`.menu a[href="#/${name}"]`);
    main.replaceChildren(h("h1", {}, link ? link.textContent : name), unavailable(error));
  }
}

Object.assign(window, { t, h, api, ApiError, toast, failed, confirmDialog, badge, fmtTime, fmtDuration, table, page,
  unavailable, onLive, route, can, showLogin, signedIn, setLang, applyI18n });
