/* The group form: the whole group model in sections. Editing starts from the saved settings and
   changes only what the form shows, so nothing it does not show is overwritten. Server-side
   validation errors (the problem's ``errors``: field path + message) land on their fields; the
   flapping lint and the other checks of /groups/validate are shown before saving. */
"use strict";

/* [path, label key, kind, default, help key]; kinds: text, number, minutes, select:<a|b>, list:<source>, check */
const GROUP_SECTIONS = [
  ["basics", "gf.basics", [["name", "groups.name", "text", "", "gf.h.name"], ["vm_prefix", "groups.vmPrefix", "text", "", "groups.vmPrefixHelp"],
    ["template", "groups.template", "list:template", "", "gf.h.template"]]],
  ["thresholds", "gf.thresholds", [["thresholds.cpu_high", "groups.cpuHigh", "number", 80, "gf.h.cpuHigh"], ["thresholds.memory_high", "groups.memHigh", "number", 80, "gf.h.memHigh"],
    ["thresholds.out_for_s", "gf.outFor", "minutes", 5, "gf.h.outFor"], ["thresholds.cpu_low", "groups.cpuLow", "number", 30, "gf.h.cpuLow"],
    ["thresholds.memory_low", "groups.memLow", "number", 30, "gf.h.memLow"], ["thresholds.in_for_s", "gf.inFor", "minutes", 10, "gf.h.inFor"]]],
  ["scaling", "gf.scaling", [["min_size", "groups.min", "number", "", "gf.h.min"], ["max_size", "groups.max", "number", "", "gf.h.max"],
    ["scale_out_step", "groups.outStep", "number", 1, "gf.h.outStep"], ["scale_in_step", "groups.inStep", "number", 1, "gf.h.inStep"],
    ["scale_out_cooldown_s", "gf.outCooldown", "number", 300, "gf.h.outCooldown"], ["scale_in_cooldown_s", "gf.inCooldown", "number", 300, "gf.h.inCooldown"]]],
  ["placement", "gf.placement", [["placement.datacenter", "gf.datacenter", "text", "", "gf.h.sameAsTemplate"], ["placement.cluster", "gf.cluster", "text", "", "gf.h.sameAsTemplate"],
    ["placement.host", "gf.host", "text", "", "gf.h.sameAsTemplate"], ["placement.resource_pool", "groups.resourcePool", "text", "", "gf.h.sameAsTemplate"],
    ["placement.folder", "gf.folder", "text", "", "gf.h.sameAsTemplate"], ["placement.datastore", "groups.datastore", "text", "", "gf.h.sameAsTemplate"],
    ["network", "groups.network", "text", "", "gf.h.network"], ["ip_pool", "groups.ipPool", "list:ipPool", "", "gf.h.ipPool"]]],
  ["lb", "groups.lb", [["pool", "groups.pool", "list:pool", "", "gf.h.pool"], ["vip", "groups.vip", "list:vip", "", "gf.h.vip"],
    ["vip_port", "groups.vipPort", "number", 80, "gf.h.vipPort"], ["member_port", "groups.memberPort", "number", 80, "gf.h.memberPort"],
    ["health_path", "groups.health", "text", "/", "gf.h.health"], ["drain_timeout_s", "gf.drain", "number", 300, "gf.h.drain"]]],
  ["scaleIn", "gf.victims", [["victim_order", "gf.victimOrder", "select:newest|oldest|least_busy", "newest", "gf.h.victimOrder"]]],
  ["monitoring", "gf.monitoring", [["prometheus_job", "groups.job", "list:job", "", "gf.h.job"], ["monitoring_port", "gf.monitoringPort", "number", 9100, "gf.h.monitoringPort"],
    ["alert_fresh_s", "gf.alertFresh", "number", 120, "gf.h.alertFresh"]]],
];
const GROUP_REQUIRED = new Set(["name", "vm_prefix", "template", "prometheus_job", "min_size", "max_size", "pool", "vip", "ip_pool"]);
const NULLABLE = new Set(["network", "placement.datacenter", "placement.cluster", "placement.host", "placement.resource_pool", "placement.folder", "placement.datastore"]);
const TT_FIELDS = [["metric", "gf.ttMetric", "select:cpu|memory|custom", "cpu", "gf.h.ttMetric"], ["query", "gf.ttQuery", "text", "", "gf.h.ttQuery"],
  ["target", "gf.ttTarget", "number", 60, "gf.h.ttTarget"], ["tolerance", "gf.ttTolerance", "number", 0.1, "gf.h.ttTolerance"],
  ["up_stabilization_s", "gf.ttUp", "number", 0, "gf.h.ttUp"], ["down_stabilization_s", "gf.ttDown", "number", 300, "gf.h.ttDown"],
  ["interval_s", "gf.ttInterval", "number", 15, "gf.h.ttInterval"]];
const HOOKS = [["post_provision_hook", "gf.postHook", "gf.h.postHook"], ["pre_termination_hook", "gf.preHook", "gf.h.preHook"]];

function getAt(obj, path) { return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj); }
function setAt(obj, path, value) {
  const keys = path.split("."); let o = obj;
  keys.slice(0, -1).forEach((k) => { if (o[k] == null || typeof o[k] !== "object") o[k] = {}; o = o[k]; });
  if (value === undefined) delete o[keys[keys.length - 1]]; else o[keys[keys.length - 1]] = value;
}
/* A hook target with credentials or a query string is shown masked, never put back in an input. */
function maskTarget(target) {
  try {
    const url = new URL(target);
    if (url.username || url.password || url.search) return `${url.protocol}//${url.username ? "***@" : ""}${url.host}${url.pathname}${url.search ? "?***" : ""}`;
  } catch (_) { /* a Jenkins job name */ }
  return null;
}

/* One labelled control with its help line and an error slot; ``key`` is what errors are matched on. */
function control(key, id, labelKey, input, helpKey, required) {
  return h("div.field", { dataset: { field: key } }, h("label", { for: id }, t(labelKey) + (required ? " *" : "")), input,
    helpKey ? h("div.help", { id: `${id}-help` }, t(helpKey)) : null, h("div.error", { id: `${id}-error`, role: "alert" }));
}
function makeInput(id, kind, value, lists) {
  if (kind.startsWith("select:")) {
    return h("select", { id, "aria-describedby": `${id}-help` }, kind.slice(7).split("|").map((o) => h("option", { value: o, selected: String(value) === o ? true : undefined }, t(`gf.opt.${o}`))));
  }
  if (kind === "check") return h("input", { id, type: "checkbox", checked: value ? true : undefined });
  const list = kind.startsWith("list:") ? lists[kind.slice(5)] : null;
  return h("input", { id, value: value ?? "", type: kind === "number" || kind === "minutes" ? "number" : "text", step: kind === "number" || kind === "minutes" ? "any" : undefined,
    list: list ? `${id}-list` : undefined, "aria-describedby": `${id}-help` });
}
function readValue(input, kind) {
  if (kind === "check") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return undefined;
  if (kind === "number") return Number.isFinite(Number(raw)) ? Number(raw) : raw;
  if (kind === "minutes") return Number.isFinite(Number(raw)) ? Math.round(Number(raw) * 60) : raw;
  return raw;
}

/* A scheduled action's row: name, cron, time zone, desired, and the next three runs from the API. */
function scheduleRow(action, onRemove) {
  const n = scheduleRow.count = (scheduleRow.count || 0) + 1;
  const id = (k) => `gf-sched-${n}-${k}`;
  const inputs = { name: h("input", { id: id("name"), value: action.name || "" }), cron: h("input", { id: id("cron"), value: action.cron || "", placeholder: "0 8 * * 1-5" }),
    timezone: h("input", { id: id("timezone"), value: action.timezone || "UTC", list: "gf-timezones" }),
    desired: h("input", { id: id("desired"), type: "number", min: 0, value: action.desired ?? "" }) };
  const runs = h("div.help.runs", { id: id("runs") });
  const box = h("div.schedule", { dataset: { schedule: n } },
    h("div.cols", {}, control("name", id("name"), "gf.schedName", inputs.name, "gf.h.schedName"), control("cron", id("cron"), "gf.schedCron", inputs.cron, "gf.h.schedCron"),
      control("timezone", id("timezone"), "gf.schedZone", inputs.timezone, "gf.h.schedZone"), control("desired", id("desired"), "gf.schedDesired", inputs.desired, "gf.h.schedDesired")),
    h("div.row", {}, h("span.muted", {}, t("gf.nextRuns")), runs, h("span.spacer"),
      h("button.ghost.small", { type: "button", onclick: () => { box.remove(); onRemove(); } }, t("gf.removeSchedule"))),
    h("div.error.row-error", { role: "alert" }));
  let timer = null;
  const preview = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!inputs.cron.value.trim()) { runs.textContent = "—"; return; }
      try {
        const r = await api("POST", "/api/v1/schedules/next-runs", { cron: inputs.cron.value.trim(), timezone: inputs.timezone.value.trim() || "UTC" });
        runs.textContent = r.local.map((x) => x.replace("T", " ").slice(0, 16)).join(" · ") + ` (${inputs.timezone.value.trim() || "UTC"})`;
      } catch (err) { runs.textContent = err.message; }
    }, 300);
  };
  inputs.cron.addEventListener("input", preview); inputs.timezone.addEventListener("input", preview);
  preview();
  box.base = action;
  box.read = () => ({ ...action, kind: "scheduled", name: inputs.name.value.trim(), cron: inputs.cron.value.trim(), timezone: inputs.timezone.value.trim() || "UTC",
    desired: inputs.desired.value === "" ? undefined : Number(inputs.desired.value) });
  return box;
}

/* The group's two alert rules as Prometheus has loaded them (the PromQL the monitoring service
   generated from the saved thresholds); a new group's are generated when it is enabled. */
function promql(existing, rules) {
  const box = h("details", { id: "gf-promql" }, h("summary", {}, t("gf.promql")));
  if (rules instanceof Error) { box.append(h("div.help", {}, `${t("common.unavailable")}: ${rules.message}`)); return box; }
  const mine = existing ? (rules.groups || []).find((g) => g.name === `${existing.name}-autoscale`) : null;
  if (!mine) { box.append(h("div.help", {}, t(existing ? "gf.promqlNotLoaded" : "gf.promqlNew"))); return box; }
  for (const rule of mine.rules || []) {
    box.append(h("div.help", {}, `${rule.name} · for ${rule.duration ?? "?"} s`), h("pre.payload", {}, rule.query));
  }
  box.append(h("div.help", {}, t("gf.promqlSaved")));
  return box;
}

async function groupForm(existing) {
  const [templates, jobs, pools, vips, ipPools, rules] = await Promise.all([
    api("GET", "/api/v1/templates").catch(() => []), api("GET", "/api/v1/prometheus/jobs").catch(() => ({ jobs: {} })),
    api("GET", "/api/v1/lb/pools").catch(() => ({ pools: [] })), api("GET", "/api/v1/lb/virtual-servers").catch(() => ({ virtual_servers: [] })),
    api("GET", "/api/v1/ip-pools").catch(() => []), api("GET", "/api/v1/prometheus/rules").catch((e) => e)]);
  const saved = existing ? JSON.parse(JSON.stringify(existing.spec)) : {};
  const lists = { template: templates.map((x) => x.vm.name), job: Object.keys(jobs.jobs), pool: pools.pools.map((p) => p.name),
    vip: vips.virtual_servers.map((v) => v.address), ipPool: ipPools.map((p) => p.name) };
  const form = h("form.card", { id: "group-form", novalidate: true });
  const summary = h("div.notice.error", { id: "form-summary", role: "alert", hidden: true });
  form.append(summary);
  const simple = [];  // { path, kind, input }
  for (const [section, legend, fields] of GROUP_SECTIONS) {
    const cols = h("div.cols");
    for (const [path, label, kind, def, help] of fields) {
      const id = `g-${path.replace(/\./g, "-")}`;
      let value = getAt(saved, path);
      if (kind === "minutes" && typeof value === "number") value = Number((value / 60).toFixed(4));  // whole seconds survive the round trip
      const input = makeInput(id, kind, value ?? (existing ? "" : def), lists);
      input.name = path;
      if (existing && path === "name") input.readOnly = true;
      if (kind.startsWith("list:")) cols.append(h("datalist", { id: `${id}-list` }, lists[kind.slice(5)].map((x) => h("option", { value: x }))));
      if (kind === "list:vip") input.addEventListener("change", () => {
        const vs = vips.virtual_servers.find((v) => v.address === input.value);
        if (vs) { form.elements.vip_port.value = vs.port; if (vs.pool && !form.elements.pool.value) form.elements.pool.value = vs.pool; }
      });
      simple.push({ path, kind, input });
      cols.append(control(path, id, label, input, help, GROUP_REQUIRED.has(path)));
    }
    const extra = section === "thresholds" ? [h("p.muted", { id: "explain" }), promql(existing, rules)] : [];
    form.append(h("fieldset", { dataset: { section } }, h("legend", {}, t(legend)), cols, ...extra));
  }

  // policies: target tracking (one) and scheduled actions (any number); kept in their saved order
  const policies = (saved.policies || []);
  const tt = policies.find((p) => p.kind === "target_tracking");
  const ttOn = h("input", { id: "gf-tt-on", type: "checkbox", checked: tt ? true : undefined });
  const ttInputs = {};
  const ttCols = h("div.cols", { id: "gf-tt" }, TT_FIELDS.map(([key, label, kind, def, help]) => {
    const id = `gf-tt-${key}`;
    ttInputs[key] = { kind, input: makeInput(id, kind, tt ? tt[key] ?? "" : def, lists) };
    return control(`tt.${key}`, id, label, ttInputs[key].input, help);
  }));
  const syncTt = () => { ttCols.hidden = !ttOn.checked; };
  ttOn.addEventListener("change", syncTt); syncTt();
  const schedules = h("div", { id: "gf-schedules" });
  const addSchedule = (action) => schedules.append(scheduleRow(action, () => {}));
  policies.filter((p) => p.kind === "scheduled").forEach(addSchedule);
  form.append(h("fieldset", { dataset: { section: "policies" } }, h("legend", {}, t("gf.policies")),
    h("p.help", {}, t("gf.h.policies")),
    h("label.check", { for: "gf-tt-on" }, ttOn, t("gf.ttOn")), ttCols,
    h("h3", {}, t("gf.schedules")), schedules,
    h("datalist", { id: "gf-timezones" }, ["UTC", "Asia/Seoul", "Europe/London", "America/New_York"].map((z) => h("option", { value: z }))),
    h("button.ghost.small", { type: "button", id: "gf-add-schedule", onclick: () => addSchedule({ timezone: "Asia/Seoul" }) }, t("gf.addSchedule"))));

  // hooks: a Jenkins job or an HTTP URL; a target holding credentials is never shown back
  const hookInputs = {};
  form.append(h("fieldset", { dataset: { section: "hooks" } }, h("legend", {}, t("gf.hooks")), HOOKS.map(([key, label, help]) => {
    const hook = saved[key];
    const masked = hook ? maskTarget(hook.target) : null;
    const kind = makeInput(`gf-${key}-kind`, "select:none|jenkins|http", hook ? hook.kind : "none", lists);
    const target = h("input", { id: `gf-${key}-target`, value: hook && !masked ? hook.target : "", placeholder: masked || "", "aria-describedby": `gf-${key}-target-help` });
    const timeout = h("input", { id: `gf-${key}-timeout`, type: "number", step: "any", value: hook ? hook.timeout_s : 600 });
    const params = h("textarea", { id: `gf-${key}-params`, rows: 2 }, Object.entries((hook && hook.parameters) || {}).map(([k, v]) => `${k}=${v}`).join("\n"));
    // a reference (env:NAME / file:NAME) the scaler resolves at call time: the name, never the secret
    const secret = h("input", { id: `gf-${key}-secret`, value: (hook && hook.secret_ref) || "", placeholder: "env:DEPLOY_TOKEN",
      autocomplete: "off", spellcheck: "false", "aria-describedby": `gf-${key}-secret-help` });
    const secretField = control(`${key}.secret_ref`, secret.id, "gf.hookSecret", secret, "gf.h.hookSecret");
    // HTTP only; for another kind the cell keeps its place, so both hooks' fields line up
    const syncSecret = () => { secretField.style.visibility = kind.value === "http" ? "" : "hidden"; };
    kind.addEventListener("change", syncSecret); syncSecret();
    hookInputs[key] = { kind, target, timeout, params, secret, hook, masked };
    return h("div", { dataset: { hook: key } }, h("h3", {}, t(label)), h("p.help", {}, t(help)), h("div.cols", {},
      control(`${key}.kind`, kind.id, "gf.hookKind", kind, "gf.h.hookKind"),
      control(`${key}.target`, target.id, "gf.hookTarget", target, masked ? "gf.h.hookMasked" : "gf.h.hookTarget"),
      secretField,
      control(`${key}.timeout_s`, timeout.id, "gf.hookTimeout", timeout, "gf.h.hookTimeout"),
      control(`${key}.parameters`, params.id, "gf.hookParams", params, "gf.h.hookParams")));
  })));

  const lint = h("div", { id: "gf-lint", "aria-live": "polite" });
  form.append(lint, h("div.row.end", {}, h("button.ghost", { type: "button", onclick: () => { location.hash = "#/groups"; } }, t("common.cancel")),
    h("button", { type: "submit", id: "group-save" }, existing ? t("common.save") : t("common.create"))));

  /* The settings to send: the saved ones with what the form shows put on top. ``order`` maps each
     policy's index to where its inputs are, so an error on policies.N lands there. */
  function toSpec() {
    const spec = JSON.parse(JSON.stringify(saved));
    for (const { path, kind, input } of simple) {
      const value = readValue(input, kind);
      setAt(spec, path, value === undefined && NULLABLE.has(path) && getAt(saved, path) !== undefined ? null : value);
    }
    const order = [];
    const out = [];
    const pushTt = () => {
      const policy = { ...(tt || { name: "target" }), kind: "target_tracking" };
      for (const [key, { kind, input }] of Object.entries(ttInputs)) {
        const v = readValue(input, kind);
        if (v !== undefined) policy[key] = v; else if (key === "query" && tt && tt.query === null) policy.query = null; else delete policy[key];
      }
      out.push(policy); order.push({ tt: true });
    };
    const pushRow = (row) => { const a = row.read(); if (a.desired === undefined) delete a.desired; out.push(a); order.push({ row }); };
    const rows = [...schedules.children];
    const before = saved.policies || [];
    for (const p of before) {  // the saved order is kept
      if (p.kind === "target_tracking") { if (ttOn.checked) pushTt(); } else { const row = rows.find((r) => r.base === p); if (row) pushRow(row); }
    }
    if (ttOn.checked && !tt) pushTt();
    rows.filter((r) => !before.includes(r.base)).forEach(pushRow);
    if (out.length || saved.policies) spec.policies = out;
    for (const [key, { kind, target, timeout, params, secret, hook }] of Object.entries(hookInputs)) {
      if (kind.value === "none") { if (hook !== undefined) spec[key] = null; continue; }
      const parameters = Object.fromEntries(params.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => { const i = l.indexOf("="); return i < 0 ? [l, ""] : [l.slice(0, i).trim(), l.slice(i + 1).trim()]; }));
      spec[key] = { ...(hook || {}), kind: kind.value, target: target.value.trim() || (hook ? hook.target : ""), timeout_s: readValue(timeout, "number") ?? 600, parameters };
      const ref = secret.value.trim();  // HTTP only; the saved spec's own null is kept as it was
      if (kind.value === "http" && ref) spec[key].secret_ref = ref;
      else if (hook && "secret_ref" in hook) spec[key].secret_ref = null;
      else delete spec[key].secret_ref;
    }
    return [spec, order];
  }

  function clearErrors() {
    form.querySelectorAll(".field").forEach((f) => { f.classList.remove("invalid"); f.querySelector(".error").textContent = ""; });
    form.querySelectorAll(".row-error").forEach((e) => { e.textContent = ""; });
    summary.hidden = true; summary.textContent = "";
  }
  /* problem.errors → the field each names; what matches no field goes to the summary with its path. */
  function showErrors(problem, order) {
    clearErrors();
    const unmatched = [];
    for (const { field, message } of problem.errors || []) {
      let box = null;
      const m = field.match(/^policies\.(\d+)(?:\.(.+))?$/);
      if (m && order[Number(m[1])]) {
        const where = order[Number(m[1])];
        if (where.tt) box = form.querySelector(`#gf-tt .field[data-field="tt.${CSS.escape(m[2] || "target")}"]`);
        else if (m[2]) box = where.row.querySelector(`.field[data-field="${CSS.escape(m[2])}"]`);
        else { where.row.querySelector(".row-error").textContent = message; continue; }
      } else if (field) {
        box = form.querySelector(`.field[data-field="${CSS.escape(field)}"]`);
        // an error of a whole hook (the model's own check) lands on the input it is about
        if (!box && HOOKS.some(([key]) => key === field)) box = form.querySelector(`.field[data-field="${CSS.escape(`${field}.${/secret_ref/.test(message) ? "secret_ref" : "target"}`)}"]`);
      }
      if (box) { box.classList.add("invalid"); box.querySelector(".error").textContent = message; } else unmatched.push(field ? `${field}: ${message}` : message);
    }
    summary.hidden = false;
    summary.textContent = unmatched.length ? `${t("groups.fix")}: ${unmatched.join(" · ")}` : (problem.errors || []).length ? t("groups.fix") : problem.detail || t("groups.fix");
    const first = form.querySelector(".field.invalid input, .field.invalid select");
    if (first) first.focus();
  }

  const explain = form.querySelector("#explain");
  let lintTimer = null;
  const refresh = () => {
    const v = (p) => { const e = form.elements[p]; return (e && e.value) || "?"; };
    explain.textContent = t("groups.explain", { cpu: v("thresholds.cpu_high"), mem: v("thresholds.memory_high"), out: v("thresholds.out_for_s"),
      cpuLow: v("thresholds.cpu_low"), memLow: v("thresholds.memory_low"), in: v("thresholds.in_for_s"), min: v("min_size") });
    clearTimeout(lintTimer);
    lintTimer = setTimeout(async () => {
      if (!can("operator")) return;
      try {
        const r = await api("POST", "/api/v1/groups/validate", toSpec()[0]);
        lint.replaceChildren(...r.problems.map((p) => h("div.notice.error.lint", {}, p)), ...r.warnings.map((w) => h("div.notice.lint", {}, w)));
      } catch (_) { lint.replaceChildren(); }
    }, 400);
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const [spec, order] = toSpec();
    const missing = [...GROUP_REQUIRED].filter((p) => getAt(spec, p) === undefined || getAt(spec, p) === "").map((p) => ({ field: p, message: t("groups.required") }));
    if (missing.length) { showErrors({ errors: missing }, order); return; }
    try {
      if (existing) await api("PUT", `/api/v1/groups/${encodeURIComponent(existing.name)}`, spec);
      else await api("POST", "/api/v1/groups", spec);
      toast(existing ? t("common.saved") : t("groups.created", { name: spec.name }));
      location.hash = `#/group/${encodeURIComponent(spec.name)}`;
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) showErrors(err.problem, order); else failed(err);
    }
  });
  return form;
}
window.groupForm = groupForm;
