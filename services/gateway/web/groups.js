/* Screen 4 (autoscaling groups: list and the original's form) and the group page. */
"use strict";

const GROUP_FIELDS = [
  ["groups.basic", [["name", "groups.name", "text", ""], ["vm_prefix", "groups.vmPrefix", "text", "", "groups.vmPrefixHelp"], ["template", "groups.template", "template", ""]]],
  ["groups.monitoring", [["thresholds.cpu_high", "groups.cpuHigh", "number", 80], ["thresholds.memory_high", "groups.memHigh", "number", 80],
    ["thresholds.out_for_min", "groups.duration", "number", 5], ["prometheus_job", "groups.job", "job", ""]]],
  ["groups.scaleIn", [["thresholds.cpu_low", "groups.cpuLow", "number", 30], ["thresholds.memory_low", "groups.memLow", "number", 30],
    ["thresholds.in_for_min", "groups.inDuration", "number", 10]]],
  ["groups.scaling", [["min_size", "groups.min", "number", ""], ["max_size", "groups.max", "number", ""], ["scale_out_step", "groups.outStep", "number", 1],
    ["scale_in_step", "groups.inStep", "number", 1], ["scale_out_cooldown_s", "groups.cooldown", "number", 300]]],
  ["groups.lb", [["pool", "groups.pool", "pool", ""], ["vip", "groups.vip", "vip", ""], ["vip_port", "groups.vipPort", "number", 80],
    ["member_port", "groups.memberPort", "number", 80], ["health_path", "groups.health", "text", "/"]]],
  ["groups.vcenter", [["placement.resource_pool", "groups.resourcePool", "text", ""], ["placement.datastore", "groups.datastore", "text", ""],
    ["network", "groups.network", "text", ""], ["ip_pool", "groups.ipPool", "text", ""]]],
];
const REQUIRED = new Set(["name", "vm_prefix", "template", "prometheus_job", "min_size", "max_size", "pool", "vip", "ip_pool"]);

function getPath(obj, path) { return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj); }
function setPath(obj, path, value) {
  const keys = path.split("."); let o = obj;
  keys.slice(0, -1).forEach((k) => { o = o[k] = o[k] || {}; });
  o[keys[keys.length - 1]] = value;
}

function toSpec(form) {
  const spec = {};
  for (const [, fields] of GROUP_FIELDS) for (const [path, , kind] of fields) {
    const raw = form.elements[path].value;
    if (raw === "") continue;
    setPath(spec, path, kind === "number" ? Number(raw) : raw);
  }
  const th = spec.thresholds || {};
  if (th.out_for_min !== undefined) { th.out_for_s = Math.round(th.out_for_min * 60); delete th.out_for_min; }
  if (th.in_for_min !== undefined) { th.in_for_s = Math.round(th.in_for_min * 60); delete th.in_for_min; }
  if (spec.scale_out_cooldown_s !== undefined) spec.scale_in_cooldown_s = spec.scale_out_cooldown_s;
  return spec;
}

function fromSpec(spec) {
  const flat = JSON.parse(JSON.stringify(spec || {}));
  if (flat.thresholds) {
    if (flat.thresholds.out_for_s) flat.thresholds.out_for_min = flat.thresholds.out_for_s / 60;
    if (flat.thresholds.in_for_s) flat.thresholds.in_for_min = flat.thresholds.in_for_s / 60;
  }
  return flat;
}

/* Attach "field: message; field: message" (the scaler's reasons) or problem.errors to the inputs. */
function showErrors(form, problem) {
  form.querySelectorAll(".field").forEach((f) => { f.classList.remove("invalid"); f.querySelector(".error").textContent = ""; });
  const pairs = (problem.errors || []).map((e) => [e.field, e.message]);
  String(problem.detail || "").split(/;\s*/).forEach((part) => {
    const m = part.match(/^([a-z_.]+(?:\.[a-z_]+)*):\s*(.+)$/i); if (m) pairs.push([m[1], m[2]]);
  });
  let unmatched = [];
  for (const [name, message] of pairs) {
    const key = name.replace(/^spec\./, "").replace(/^thresholds\.(out|in)_for_s$/, "thresholds.$1_for_min");
    const box = form.querySelector(`.field[data-field="${CSS.escape(key)}"]`);
    if (box) { box.classList.add("invalid"); box.querySelector(".error").textContent = message; } else unmatched.push(`${name}: ${message}`);
  }
  const summary = form.querySelector("#form-summary");
  summary.hidden = false;
  summary.textContent = unmatched.length || !pairs.length ? `${t("groups.fix")}: ${unmatched.join("; ") || problem.detail}` : t("groups.fix");
}

async function groupForm(existing) {
  const [templates, jobs, pools, vips] = await Promise.all([
    api("GET", "/api/v1/templates").catch(() => []), api("GET", "/api/v1/prometheus/jobs").catch(() => ({ jobs: {} })),
    api("GET", "/api/v1/lb/pools").catch(() => ({ pools: [] })), api("GET", "/api/v1/lb/virtual-servers").catch(() => ({ virtual_servers: [] }))]);
  const values = fromSpec(existing && existing.spec);
  const listFor = (kind) => ({
    template: templates.map((x) => x.vm.name), job: Object.entries(jobs.jobs).map(([n]) => n),
    pool: pools.pools.map((p) => p.name), vip: vips.virtual_servers.map((v) => v.address) }[kind]);
  const datalists = [];
  const form = h("form.card", { id: "group-form", novalidate: true });
  form.append(h("div.notice.error", { id: "form-summary", role: "alert", hidden: true }));
  for (const [legend, fields] of GROUP_FIELDS) {
    const cols = h("div.cols");
    for (const [path, label, kind, def, help] of fields) {
      const id = `g-${path.replace(/\./g, "-")}`;
      const value = getPath(values, path) ?? def;
      const input = h("input", { id, name: path, value, type: kind === "number" ? "number" : "text", step: kind === "number" ? "any" : undefined,
        list: listFor(kind) ? `${id}-list` : undefined, readonly: existing && path === "name" ? true : undefined });
      if (listFor(kind)) datalists.push(h("datalist", { id: `${id}-list` }, listFor(kind).map((x) => h("option", { value: x }))));
      if (kind === "vip") input.addEventListener("change", () => {
        const vs = vips.virtual_servers.find((v) => v.address === input.value);
        if (vs) { form.elements.vip_port.value = vs.port; if (vs.pool && !form.elements.pool.value) form.elements.pool.value = vs.pool; }
      });
      if (kind === "text") input.addEventListener("blur", () => { input.value = input.value.trim(); });
      cols.append(h("div.field", { dataset: { field: path } }, h("label", { for: id }, t(label) + (REQUIRED.has(path) ? " *" : "")), input,
        help ? h("div.help", {}, t(help)) : null, h("div.error")));
    }
    form.append(h("fieldset", {}, h("legend", {}, t(legend)), cols));
  }
  const explain = h("p.muted", { id: "explain" });
  const updateExplain = () => {
    const v = (p) => form.elements[p].value || "?";
    explain.textContent = t("groups.explain", { cpu: v("thresholds.cpu_high"), mem: v("thresholds.memory_high"), out: v("thresholds.out_for_min"),
      cpuLow: v("thresholds.cpu_low"), memLow: v("thresholds.memory_low"), in: v("thresholds.in_for_min"), min: v("min_size") });
  };
  form.addEventListener("input", updateExplain);
  form.append(explain, ...datalists, h("div.row.end", {}, h("button.ghost", { type: "button", onclick: () => { location.hash = "#/groups"; } }, t("common.cancel")),
    h("button", { type: "submit", id: "group-save" }, existing ? t("common.save") : t("common.create"))));
  updateExplain();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const missing = [...REQUIRED].filter((p) => !String(form.elements[p].value).trim()).map((p) => ({ field: p, message: t("groups.required") }));
    if (missing.length) { showErrors(form, { errors: missing }); return; }
    const spec = toSpec(form);
    try {
      if (existing) await api("PUT", `/api/v1/groups/${encodeURIComponent(existing.name)}`, { ...existing.spec, ...spec });
      else await api("POST", "/api/v1/groups", spec);
      toast(existing ? t("common.saved") : t("groups.created", { name: spec.name }));
      location.hash = `#/group/${encodeURIComponent(spec.name)}`;
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) showErrors(form, err.problem); else failed(err);
    }
  });
  return form;
}

App.screens.groups = async (args) => {
  if (args[0] === "new") return [h("h1", {}, t("groups.new")), await groupForm(null)];
  if (args[0] === "edit") {
    const reply = await api("GET", `/api/v1/groups/${encodeURIComponent(args[1])}`);
    return [h("h1", {}, `${t("common.edit")}: ${args[1]}`), await groupForm(reply.group)];
  }
  const groups = await api("GET", "/api/v1/groups");
  const rows = groups.map((g) => {
    const th = g.spec.thresholds || {};
    const toggle = h("button.small" + (g.enabled ? ".ghost" : ""), { type: "button", dataset: { action: "toggle", group: g.name }, disabled: !can("operator"),
      onclick: async () => {
        if (g.enabled && !(await confirmDialog(t("groups.confirmDisable", { group: g.name })))) return;
        try { await api("POST", `/api/v1/groups/${encodeURIComponent(g.name)}/${g.enabled ? "disable" : "enable"}`);
          toast(t(g.enabled ? "groups.disabledToast" : "groups.enabledToast", { name: g.name })); route(); } catch (err) { failed(err); } } },
      g.enabled ? t("groups.disable") : t("groups.enable"));
    return h("tr", { dataset: { group: g.name } }, h("td", {}, h("a", { href: `#/group/${encodeURIComponent(g.name)}` }, g.name)), h("td", {}, g.spec.template || "—"),
      h("td", {}, badge(g.enabled ? t("common.enabled") : t("common.disabled"), g.enabled ? "ok" : null)),
      h("td.num", {}, th.cpu_high ?? "—"), h("td.num", {}, th.memory_high ?? "—"), h("td.num", {}, `${g.min_size} ~ ${g.max_size}`), h("td.num", {}, g.size),
      h("td", {}, fmtTime(g.created_at)),
      h("td", {}, h("div.row", {}, toggle, h("a.button.ghost.small", { href: `#/groups/edit/${encodeURIComponent(g.name)}`, hidden: !can("admin") }, t("common.edit")),
        h("button.danger.small", { type: "button", hidden: !can("admin"), onclick: async () => {
          if (!(await confirmDialog(t("groups.confirmDelete", { name: g.name })))) return;
          try { await api("DELETE", `/api/v1/groups/${encodeURIComponent(g.name)}`); toast(t("common.deleted")); route(); } catch (err) { failed(err); } } }, t("common.delete")))));
  });
  return page("groups.title", "groups.sub", h("div.card", {}, h("div.row", {}, h("span.spacer"),
    h("a.button.ghost", { href: "/api/v1/export/groups" }, "YAML ⤓"),
    can("admin") ? h("a.button", { href: "#/groups/new", id: "new-group" }, t("groups.new")) : null),
    table([t("groups.name"), t("groups.template"), t("common.status"), t("groups.cpu"), t("groups.memory"), t("groups.range"), t("groups.size"), t("common.created"), t("common.actions")], rows)));
};

App.screens.group = async (args, onCleanup) => {
  const name = args[0];
  const [reply, decisions, pools, preview] = await Promise.all([api("GET", `/api/v1/groups/${encodeURIComponent(name)}`),
    api("GET", `/api/v1/decisions?group=${encodeURIComponent(name)}&limit=20`).catch(() => []), api("GET", "/api/v1/ip-pools").catch(() => []),
    api("POST", `/api/v1/groups/${encodeURIComponent(name)}/dry-run`).catch(() => null)]);
  const g = reply.group;
  const scale = async (delta) => {
    if (!(await confirmDialog(t("group.confirmScale", { name, delta: delta > 0 ? `+${delta}` : delta })))) return;
    try { const r = await api("POST", `/api/v1/groups/${encodeURIComponent(name)}/scale`, { delta });
      toast(r.decision ? `${r.decision.reason}: ${r.decision.message}` : t("common.saved"), r.decision && !r.decision.allowed); route(); } catch (err) { failed(err); }
  };
  const processes = ["launch", "terminate", "alerts", "pool"];
  const suspendRow = h("div.row", {}, processes.map((p) => {
    const on = g.suspended.includes(p);
    return h("button.small" + (on ? ".danger" : ".ghost"), { type: "button", disabled: !can("operator"), onclick: async () => {
      try { await api("POST", `/api/v1/groups/${encodeURIComponent(name)}/${on ? "resume" : "suspend"}`, { processes: [p] }); route(); } catch (err) { failed(err); } } },
      `${on ? t("group.resume") : t("group.suspend")} ${p}`);
  }));
  const pool = pools.find((p) => p.name === g.spec.ip_pool);
  const clones = new Map(), meters = new Map();
  const activities = (reply.activities || []).slice().sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, 10);
  const activityRows = activities.map((a) => {
    let bar = "";
    if (a.status === "running") { bar = meter(...activityProgress(a, clones)); meters.set(a.id, { activity: a, meter: bar }); }
    const kind = a.status === "succeeded" ? "ok" : a.status === "running" ? "info" : "bad";
    return h("tr", { dataset: { activity: a.id } }, h("td", {}, fmtTime(a.created_at)), h("td", {}, a.kind), h("td", {}, badge(a.status, kind)),
      h("td", {}, (a.vm_names || []).join(", ") || "—"), h("td", { style: "width:35%" }, bar || (a.reason ? `${a.failed_step || ""} ${a.reason}`.trim() : fmtDuration(a.created_at, a.finished_at))));
  });
  onCleanup(onLive((event) => {
    if (event.subject === "vm.progress") { if (event.data.group === name) moveActivityMeter(event.data, clones, meters); return; }
    if (event.group === name && event.type === "activity") route();
  }));
  return [h("div.row", {}, h("h1", {}, name), badge(g.enabled ? t("common.enabled") : t("common.disabled"), g.enabled ? "ok" : null), h("span.spacer"),
      h("a.button.ghost", { href: `#/groups/edit/${encodeURIComponent(name)}`, hidden: !can("admin") }, t("common.edit"))),
    h("p.sub", {}, `${g.size} VMs · ${g.min_size} ~ ${g.max_size} · ${g.alerts_status}`),
    h("div.grid.two", {},
      h("div.card", {}, h("h2", {}, t("group.manual")), h("div.row", {},
        h("button", { type: "button", id: "scale-out", disabled: !can("operator"), onclick: () => scale(1) }, t("group.scaleOut")),
        h("button.ghost", { type: "button", disabled: !can("operator"), onclick: () => scale(-1) }, t("group.scaleIn"))),
        h("h2", { style: "margin-top:16px" }, t("group.processes")), suspendRow),
      h("div.card", {}, h("h2", {}, t("group.ipPool")), pool ? [h("div.row", {}, h("span", {}, `${pool.name} · ${pool.capacity - pool.free}/${pool.capacity}`)),
        h("div.progress", {}, h("span", { style: `width:${pool.capacity ? (100 * (pool.capacity - pool.free)) / pool.capacity : 0}%` }))] : h("div.empty", {}, g.spec.ip_pool || "—"))),
    h("div.card", {}, h("h2", {}, t("group.instances")), table(["VM", "IP", t("common.status"), "", t("common.created"), t("common.actions")],
      reply.instances.map((i) => h("tr", {}, h("td", {}, i.vm_name), h("td.mono", {}, i.address || "—"), h("td", {}, badge(i.state)),
        h("td", {}, i.protected ? badge("protected", "warn") : "", i.base ? badge("base") : ""), h("td", {}, fmtTime(i.created_at)),
        h("td", {}, h("button.ghost.small", { type: "button", disabled: !can("operator"), onclick: async () => {
          try { await api("POST", `/api/v1/groups/${encodeURIComponent(name)}/instances/${encodeURIComponent(i.vm_name)}/${i.protected ? "unprotect" : "protect"}`); route(); } catch (err) { failed(err); } } },
          i.protected ? t("group.unprotect") : t("group.protect"))))))),
    h("div.card", { id: "group-activities" }, h("h2", {}, t("group.activities")),
      table([t("audit.at"), t("group.kind"), t("common.status"), "VM", t("group.progressOrOutcome")], activityRows)),
    h("div.card", { id: "dry-run" }, h("h2", {}, t("group.dryRun")), preview ? table([t("events.cause"), t("common.status"), "Δ", ""],
      preview.outcomes.map((o) => h("tr", {}, h("td", {}, o.trigger), h("td", {}, badge(o.allowed ? t("group.wouldScale") : t("events.blocked"), o.allowed ? "ok" : "warn")),
        h("td.num", {}, o.delta), h("td", {}, `${o.reason}: ${o.message}`)))) : h("div.empty", {}, "—")),
    h("div.card", {}, h("h2", {}, t("group.decisions")), table([t("audit.at"), t("common.status"), "Δ", t("events.cause"), ""],
      decisions.map((d) => h("tr", {}, h("td", {}, fmtTime(d.at)), h("td", {}, badge(d.allowed ? t("events.allowed") : t("events.blocked"), d.allowed ? "ok" : "warn")),
        h("td.num", {}, d.delta), h("td", {}, `${d.trigger} · ${d.rule}`), h("td", {}, `${d.reason}: ${d.message}`)))))];
};
