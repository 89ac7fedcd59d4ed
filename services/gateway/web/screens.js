/* Screens 1–3 and 5–7 of the original's menu, plus users, audit and system status. */
"use strict";

function field(labelKey, input, help) {
  return h("div.field", { dataset: { field: input.name || "" } }, h("label", { for: input.id }, t(labelKey)), input,
    help ? h("div.help", {}, help) : null, h("div.error"));
}
function refreshButton() { return h("button.ghost.small", { type: "button", onclick: route }, t("common.refresh")); }

/* 1. Templates: creation with a progress bar per template being made (live from vCenter's task) */
App.screens.templates = async (_, onCleanup) => {
  const vms = await api("GET", "/api/v1/vms").catch(() => ({ vms: [] }));
  const source = h("select", { id: "tpl-source", name: "vm_name" }, vms.vms.map((vm) => h("option", { value: vm.name }, vm.name)));
  const name = h("input", { id: "tpl-name", name: "template_name", required: true });
  name.addEventListener("input", () => { name.value = name.value.replace(/^\s+/, ""); });
  name.addEventListener("blur", () => { name.value = name.value.trim(); });
  const making = new Map();  // template name → its row's meter and state
  const makingBody = h("tbody");
  const makingCard = h("div.card", { id: "tpl-making", hidden: true }, h("h2", {}, t("templates.making")),
    h("table", {}, h("thead", {}, h("tr", {}, [t("templates.name"), t("templates.source"), t("common.status"), t("agents.progress")].map((x) => h("th", {}, x)))), makingBody));
  function track(template, from) {
    if (making.has(template)) return making.get(template);
    const row = { meter: meter(0, t("templates.queued")), state: h("span", {}, badge(t("common.running"), "info")) };
    makingBody.prepend(h("tr", { dataset: { template } }, h("td", {}, template), h("td", {}, from || "—"), h("td", {}, row.state), h("td", { style: "width:45%" }, row.meter)));
    making.set(template, row); makingCard.hidden = false;
    return row;
  }
  const form = h("form.card", {}, h("h2", {}, t("templates.create")), h("div.notice", {}, t("templates.warning")),
    h("div.cols", {}, field("templates.source", source), field("templates.name", name)),
    field("templates.description", h("textarea", { id: "tpl-desc", name: "description", rows: 2 })),
    h("div.row.end", {}, h("button", { type: "submit", disabled: !can("operator") }, t("templates.create"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/api/v1/templates", { vm_name: source.value, template_name: name.value, description: form.description.value });
      track(name.value, source.value);
      toast(t("templates.queued")); form.reset();
    } catch (err) { failed(err); }
  });
  const list = h("div");
  /* Deleting is admin only. A refusal shows the API's own reason; for a template vmscale did not
     make (no created_at) and no group uses (the problem names none), an admin may delete anyway. */
  const refusal = h("div", { id: "tpl-refusal" });
  async function remove(tpl, force) {
    const name = tpl.vm.name;
    if (!(await confirmDialog(t(force ? "templates.confirmForce" : "templates.confirmDelete", { name })))) return;
    try {
      await api("DELETE", `/api/v1/templates/${encodeURIComponent(name)}${force ? "?force=true" : ""}`);
      refusal.replaceChildren(); toast(t(force ? "templates.forcedDeleted" : "common.deleted", { name })); load();
    } catch (err) {
      if (!(err instanceof ApiError) || ![403, 409].includes(err.status)) { failed(err); return; }
      const groups = err.problem.groups || [];
      const forcible = err.status === 409 && !tpl.created_at && !groups.length;
      refusal.replaceChildren(h("div.notice.error.refusal", { role: "alert", dataset: { template: name } },
        h("strong", {}, t("templates.refused", { name })), " ", h("span.reason", {}, err.message),
        groups.length ? h("div.help", {}, t("templates.inUseNext")) : null,
        forcible && can("admin") ? h("div.row", {}, h("span.help", {}, t("templates.forceOffer")), h("span.spacer"),
          h("button.danger.small", { type: "button", id: "tpl-force", onclick: () => remove(tpl, true) }, t("templates.forceDelete"))) : null,
        forcible && !can("admin") ? h("div.help", {}, t("templates.forceAdminOnly")) : null));
    }
  }
  async function load() {
    const templates = await api("GET", "/api/v1/templates").catch((e) => e);
    list.replaceChildren(templates instanceof Error ? unavailable(templates) : !templates.length ? h("div.empty", { id: "tpl-empty" }, t("templates.emptyNext")) : table(
      [t("common.name"), t("templates.source"), t("templates.description"), t("common.created"), t("common.actions")],
      templates.map((tpl) => h("tr", { dataset: { name: tpl.vm.name } }, h("td", {}, tpl.vm.name), h("td", {}, tpl.source_vm || "—"), h("td", {}, tpl.description),
        h("td", {}, tpl.created_at ? fmtTime(tpl.created_at) : h("span.muted", {}, t("templates.notOurs"))),
        h("td", {}, h("button.danger.small", { type: "button", disabled: !can("admin"), title: can("admin") ? undefined : t("templates.adminOnly"),
          onclick: () => remove(tpl, false) }, t("common.delete")))))));
  }
  onCleanup(onLive((event) => {
    const data = event.data || {};
    if (event.subject === "vm.progress" && data.operation === "template") {
      const row = track(data.vm_name, data.source);
      if (data.percent >= row.meter.percent) row.meter.set(data.percent, `${data.percent}% · ${t(`progress.${data.step}`)}`);
    } else if (event.subject === "template.created" && making.has(data.template_name)) {
      making.get(data.template_name).meter.set(100, t("templates.done"), "ok");
      making.get(data.template_name).state.replaceChildren(badge(t("templates.done"), "ok"));
      load();
    } else if (event.subject === "vm.operation_failed" && data.operation === "template_create" && making.has(data.vm_name)) {
      const row = making.get(data.vm_name);
      row.meter.set(row.meter.percent, data.detail || data.reason, "bad");
      row.state.replaceChildren(badge(t("common.failed"), "bad"));
    } else if (event.subject === "template.deleted") load();
  }));
  await load();
  return page("templates.title", "templates.sub", form, makingCard,
    h("div.card", {}, h("div.row", {}, h("h2", {}, t("nav.templates")), h("span.spacer"), refreshButton()), refusal, list,
      can("admin") ? null : h("p.help", { id: "tpl-admin-only" }, t("templates.adminOnly"))));
};

/* VMs to pick from (vCLS hidden, natural order), each with a checkbox and its IP: a choice when it has several */
function vmChoices(vms) {
  return vms.filter((vm) => !vm.name.startsWith("vCLS-")).sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })).map((vm) => {
    const ips = [...new Set([vm.ip, ...vm.nics.flatMap((n) => n.ips || [])].filter(Boolean))];
    const label = `${t("agents.ip")}: ${vm.name}`;
    const ip = ips.length > 1 ? h("select", { "aria-label": label }, ips.map((x) => h("option", { value: x }, x))) : h("input", { value: ips[0] || "", placeholder: "10.0.0.10", "aria-label": label });
    return { vm, ip, check: h("input", { type: "checkbox", dataset: { vm: vm.name }, "aria-label": vm.name }) };
  });
}
function checkAll(rows) {
  return h("input", { type: "checkbox", "aria-label": t("common.all"), onchange: (e) => rows.forEach((r) => { r.check.checked = e.target.checked; }) });
}

/* 2. Node Exporter install: batch with per-host progress; several IPs to choose from */
App.screens.agents = async (_, onCleanup) => {
  const { vms } = await api("GET", "/api/v1/vms");
  const tool = h("select", { id: "agent-tool", name: "tool" }, ["node_exporter", "promtail", "jmx_exporter"].map((x) => h("option", { value: x }, x)));
  const progress = new Map();
  const rows = vmChoices(vms).map((r) => {
    const bar = h("span", { style: "width:0%" });
    const state = h("span.muted", {}, "—");
    progress.set(r.vm.name, { bar, state });
    return { ...r, bar, state };
  });
  const body = rows.map((r) => h("tr", {}, h("td", {}, r.check), h("td", {}, r.vm.name), h("td", {}, r.ip),
    h("td", {}, r.state), h("td", { style: "width:160px" }, h("div.progress", {}, r.bar))));
  async function run(action) {
    const hosts = rows.filter((r) => r.check.checked).map((r) => ({ vm_name: r.vm.name, address: r.ip.value }));
    if (!hosts.length) { toast(t("agents.select"), true); return; }
    if (action === "uninstall" && !(await confirmDialog(t("agents.confirmUninstall", { tool: tool.value, n: hosts.length })))) return;
    try {
      const res = await api("POST", "/api/v1/agents", { tool: tool.value, action, hosts });
      hosts.forEach((x) => { const p = progress.get(x.vm_name); p.bar.style.width = "10%"; p.state.replaceChildren(badge(action, "info")); });
      toast(t("agents.queued", { n: res.hosts }));
    } catch (err) { failed(err); }
  }
  onCleanup(onLive((event) => {
    if (event.subject !== "monitoring.agent_progress") return;
    const p = progress.get(event.data.vm_name); if (!p) return;
    p.bar.style.width = "100%";
    p.state.replaceChildren(badge(event.data.ok ? "ok" : event.data.reason || "failed", event.data.ok ? "ok" : "bad"));
  }));
  const all = checkAll(rows);
  if (!rows.length) return page("agents.title", "agents.sub", h("div.card.empty", { id: "agents-empty" }, t("agents.emptyNext")));
  return page("agents.title", "agents.sub", h("div.card", {},
    h("div.row", {}, field("agents.tool", tool), h("span.spacer"),
      h("button.ghost", { type: "button", onclick: () => run("status") }, t("agents.check")),
      h("button.ghost", { type: "button", disabled: !can("operator"), onclick: () => run("uninstall") }, t("agents.uninstall")),
      h("button", { type: "button", disabled: !can("operator"), onclick: () => run("install") }, t("agents.install"))),
    table([all, t("agents.server"), t("agents.ip"), t("common.status"), t("agents.progress")], body)));
};

/* 3. Monitoring registration: register VMs in a job (grouped, as autoscaling needs), jobs with their
   Grafana dashboards, targets with health; deregister and delete with confirmation */
App.screens.monitoring = async (_, onCleanup) => {
  const vms = await api("GET", "/api/v1/vms").catch(() => ({ vms: [] }));
  const jobName = h("input", { id: "mon-job", name: "job", required: true, pattern: "[a-zA-Z_][a-zA-Z0-9_:\\-]*", placeholder: "web" });
  const service = h("input", { id: "mon-service", name: "service", value: "node-exporter" });
  const environment = h("input", { id: "mon-environment", name: "environment", value: "production" });
  const port = h("input", { id: "mon-port", name: "port", type: "number", min: 1, max: 65535, value: 9100 });
  const install = h("input", { id: "mon-install", type: "checkbox" });
  const choices = vmChoices(vms.vms);
  const form = h("form.card", { id: "mon-register" }, h("h2", {}, t("monitoring.register")), h("div.notice", {}, t("monitoring.registerHelp")),
    h("div.cols", {}, field("monitoring.jobName", jobName), field("monitoring.port", port)),
    h("div.cols", {}, field("monitoring.service", service), field("monitoring.environment", environment)),
    h("label.check", {}, install, t("monitoring.installFirst")),
    table([checkAll(choices), t("agents.server"), t("agents.ip")], choices.map((r) => h("tr", {}, h("td", {}, r.check), h("td", {}, r.vm.name), h("td", {}, r.ip)))),
    h("div.row.end", {}, h("button", { type: "submit", disabled: !can("operator") }, t("monitoring.registerButton"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const labels = Object.fromEntries([["service", service.value.trim()], ["environment", environment.value.trim()]].filter(([, v]) => v));
    const targets = choices.filter((r) => r.check.checked).map((r) => ({ vm_name: r.vm.name, address: r.ip.value.trim(), port: Number(port.value), labels, install_exporter: install.checked }));
    if (!targets.length) { toast(t("agents.select"), true); return; }
    try {
      const res = await api("POST", `/api/v1/prometheus/jobs/${encodeURIComponent(jobName.value.trim())}/targets`, targets);
      toast(t("monitoring.queued", { n: res.queued, job: res.job }));
    } catch (err) { failed(err); }
  });
  const jobsBox = h("div");
  const targetsBox = h("div");
  let shown = null;
  function dashboardLinks(job, list) {
    const links = (list.dashboards || {})[job] || [];
    return links.length ? links.map((d) => h("a.dash", { href: d.url, target: "_blank", rel: "noopener noreferrer", title: d.title }, t(`monitoring.dashboard.${d.kind}`))) : "—";
  }
  async function loadJobs() {
    const list = await api("GET", "/api/v1/prometheus/jobs").catch((err) => err);
    if (list instanceof Error) { jobsBox.replaceChildren(unavailable(list)); return; }
    jobsBox.replaceChildren(
      list.dashboards_error ? h("div.notice", {}, `${t("monitoring.noDashboards")}: ${list.dashboards_error}`) : "",
      !Object.keys(list.jobs).length ? h("div.empty", { id: "jobs-empty" }, t("monitoring.emptyNext")) : table([t("monitoring.job"), t("monitoring.targets"), t("monitoring.dashboards"), t("common.actions")],
        Object.entries(list.jobs).map(([job, count]) => h("tr", { dataset: { job } },
          h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); show(job); } }, job)), h("td.num", {}, count),
          h("td", {}, dashboardLinks(job, list)),
          h("td", {}, h("button.danger.small", { type: "button", disabled: !can("admin"), onclick: async () => {
            if (!(await confirmDialog(t("monitoring.confirmDelete", { job })))) return;
            try { await api("DELETE", `/api/v1/prometheus/jobs/${encodeURIComponent(job)}`); toast(t("monitoring.deleteQueued", { job })); } catch (err) { failed(err); } } },
          t("common.delete")))))));
  }
  async function show(job) {
    shown = job;
    try {
      const { targets } = await api("GET", `/api/v1/prometheus/targets?job=${encodeURIComponent(job)}`);
      targetsBox.replaceChildren(h("h2", {}, `${t("monitoring.targets")}: ${job}`), table(
        ["Instance", t("agents.server"), t("monitoring.health"), t("monitoring.lastError"), t("monitoring.lastScrape"), t("common.actions")],
        targets.map((x) => h("tr", {}, h("td.mono", {}, x.target), h("td", {}, x.vm_name || "—"), h("td", {}, badge(x.health, x.health === "up" ? "ok" : "bad")),
          h("td", {}, x.last_error || "—"), h("td", {}, fmtTime(x.last_scrape)),
          h("td", {}, h("button.ghost.small", { type: "button", disabled: !can("operator") || !x.vm_name, onclick: async () => {
            if (!(await confirmDialog(t("monitoring.confirmDeregister", { vm: x.vm_name, job })))) return;
            const [address, portText] = x.target.split(":");
            try {
              await api("DELETE", `/api/v1/prometheus/jobs/${encodeURIComponent(job)}/targets/${encodeURIComponent(x.vm_name)}?address=${encodeURIComponent(address)}&port=${encodeURIComponent(portText || "9100")}`);
              toast(t("monitoring.deregisterQueued", { vm: x.vm_name }));
            } catch (err) { failed(err); } } }, t("monitoring.deregister")))))));
    } catch (err) { targetsBox.replaceChildren(unavailable(err)); }
  }
  onCleanup(onLive((event) => {
    if (event.subject === "monitoring.registered") {
      toast(t("monitoring.registered", { vm: event.data.vm_name, job: event.data.job }));
      loadJobs(); if (shown === event.data.job) show(shown);
    } else if (event.subject === "monitoring.failed" && event.data.operation === "register") {
      toast(`${t("monitoring.failed")}: ${event.data.reason}`, true);
    } else if (["monitoring.deregistered", "monitoring.job_deleted"].includes(event.subject)) {
      loadJobs(); if (shown) show(shown);
    }
  }));
  await loadJobs();
  const first = jobsBox.querySelector("tr[data-job]");
  if (first) await show(first.dataset.job);
  else targetsBox.replaceChildren(h("div.empty", {}, t("monitoring.pickJob")));
  return page("monitoring.title", "monitoring.sub", form, h("div.grid.two", {},
    h("div.card", {}, h("div.row", {}, h("h2", {}, t("monitoring.jobs")), h("span.spacer"), refreshButton()), jobsBox),
    h("div.card", {}, targetsBox)));
};

/* 5. Alertmanager routing: each group's two routes to the gateway webhook, and the silences */
App.screens.routing = async () => {
  const [routes, silences] = await Promise.all([api("GET", "/api/v1/alertmanager/routes").catch((e) => e), api("GET", "/api/v1/alertmanager/silences").catch(() => ({ silences: [] }))]);
  const matcherText = (m) => (typeof m === "string" ? m : `${m.name}${m.isEqual === false ? "!" : ""}${m.isRegex ? "=~" : "="}"${m.value}"`);
  const alertOf = (r) => (r.matchers || []).map(matcherText).find((m) => m.startsWith("alertname")) || "—";
  const toGateway = (url) => /\/api\/webhook\/autoscale\//.test(url || "");
  const rows = routes instanceof Error ? [] : routes.routes.map((r) => h("tr", { dataset: { group: r.group, direction: r.direction } },
    h("td", {}, h("a", { href: `#/group/${encodeURIComponent(r.group)}` }, r.group)),
    h("td", {}, badge(t(`routing.direction.${r.direction}`), r.direction === "out" ? "info" : "")),
    h("td.mono", {}, alertOf(r)), h("td.mono", {}, r.receiver),
    h("td", {}, toGateway(r.url) ? badge(t("routing.toGateway"), "ok") : badge(t("routing.elsewhere"), "bad"), h("div.mono.muted", {}, r.url || "—")),
    h("td", {}, r.direction === "out" ? h("button.ghost.small", { type: "button", disabled: !can("operator"), onclick: async () => {
      if (!(await confirmDialog(t("groups.confirmDisable", { group: r.group })))) return;
      try { await api("POST", `/api/v1/groups/${encodeURIComponent(r.group)}/disable`); toast(t("routing.disabled", { group: r.group })); route(); } catch (err) { failed(err); } } },
    t("routing.disable")) : "")));
  const srows = silences.silences.map((x) => h("tr", {}, h("td.mono", {}, (x.matchers || []).map(matcherText).join(", ")),
    h("td", {}, badge((x.status || {}).state || "—", (x.status || {}).state === "active" ? "warn" : "")), h("td", {}, fmtTime(x.endsAt)),
    h("td", {}, x.createdBy || "—"), h("td", {}, x.comment || "")));
  return page("routing.title", "routing.sub", h("div.card", {}, h("div.notice", {}, t("routing.help")),
    routes instanceof Error ? unavailable(routes) : table([t("groups.name"), t("routing.direction"), t("routing.alert"), t("routing.receiver"), t("routing.target"), t("common.actions")], rows)),
    h("div.card", {}, h("h2", {}, t("routing.silences")), table([t("routing.matchers"), t("common.status"), t("routing.ends"), t("routing.by"), t("routing.comment")], srows)));
};

/* 6. Monitoring dashboard and 7. scaling events: history.js */

/* Users and API keys (admin) */
App.screens.users = async () => {
  const [users, keys] = await Promise.all([api("GET", "/api/v1/users"), api("GET", "/api/v1/api-keys")]);
  const roleSelect = (id) => h("select", { id, name: "role", "aria-label": t("users.role") }, ["viewer", "operator", "admin"].map((r) => h("option", { value: r }, r)));
  const userForm = h("form.row", {}, h("input", { name: "username", placeholder: t("auth.username"), "aria-label": t("auth.username"), required: true }),
    h("input", { name: "password", type: "password", placeholder: t("auth.password"), "aria-label": t("auth.password"), minlength: 12, required: true, autocomplete: "new-password" }),
    roleSelect("new-role"), h("button", { type: "submit" }, t("users.add")));
  userForm.addEventListener("submit", async (e) => { e.preventDefault();
    try { await api("POST", "/api/v1/users", { username: userForm.username.value, password: userForm.password.value, role: userForm.role.value }); toast(t("common.saved")); route(); } catch (err) { failed(err); } });
  const once = h("div");
  const keyForm = h("form.row", {}, h("input", { name: "name", placeholder: t("common.name"), "aria-label": t("common.name"), required: true }), roleSelect("key-role"), h("button", { type: "submit" }, t("users.addKey")));
  keyForm.addEventListener("submit", async (e) => { e.preventDefault();
    try { const k = await api("POST", "/api/v1/api-keys", { name: keyForm.name.value, role: keyForm.role.value });
      once.replaceChildren(h("p", {}, t("users.keyOnce")), h("div.key-once.mono", {}, k.key)); } catch (err) { failed(err); } });
  return page("users.title", "users.sub",
    h("div.card", {}, h("h2", {}, t("nav.users")), table([t("common.name"), t("users.role"), t("common.status"), t("common.created"), t("common.actions")],
      users.map((u) => h("tr", {}, h("td", {}, u.username), h("td", {}, u.role), h("td", {}, u.disabled ? badge(t("common.disabled"), "bad") : badge(t("common.enabled"), "ok")),
        h("td", {}, fmtTime(u.created_at)), h("td", {}, h("button.ghost.small", { type: "button", onclick: async () => {
          try { await api("PATCH", `/api/v1/users/${u.id}`, { disabled: !u.disabled }); route(); } catch (err) { failed(err); } } }, u.disabled ? t("users.enable") : t("users.disable")))))), userForm),
    h("div.card", {}, h("h2", {}, t("users.keys")), once, table([t("common.name"), t("users.prefix"), t("users.role"), t("users.lastUsed"), t("common.actions")],
      keys.map((k) => h("tr", {}, h("td", {}, k.name), h("td.mono", {}, k.prefix), h("td", {}, k.role), h("td", {}, fmtTime(k.last_used_at)),
        h("td", {}, k.revoked ? badge(t("users.revoked"), "bad") : h("button.danger.small", { type: "button", onclick: async () => {
          if (await confirmDialog(`${t("users.revoke")} ${k.name}?`)) { try { await api("POST", `/api/v1/api-keys/${k.id}/revoke`); route(); } catch (err) { failed(err); } } } }, t("users.revoke")))))), keyForm));
};

/* Audit log */
App.screens.audit = async () => {
  const entries = await api("GET", "/api/v1/audit?limit=200");
  return page("audit.title", "audit.sub", h("div.card", {}, table(
    [t("audit.at"), t("audit.actor"), t("audit.action"), t("audit.target"), t("audit.source"), t("audit.outcome")],
    entries.map((e) => h("tr", {}, h("td", {}, fmtTime(e.at)), h("td", {}, e.actor), h("td.mono", {}, e.action), h("td", {}, e.target),
      h("td.mono", {}, e.source), h("td", {}, badge(e.outcome, e.outcome === "ok" ? "ok" : "warn")))))));
};

/* System status */
App.screens.status = async () => {
  const s = await api("GET", "/api/v1/system/status");
  const vc = s.vcenter;
  const systemNames = { vcenter: "vCenter", f5: "F5 BIG-IP", haproxy: "HAProxy", prometheus: "Prometheus", alertmanager: "Alertmanager",
    grafana: "Grafana", jenkins: "Jenkins", config_files: "Prometheus/Alertmanager files", "load balancer": "Load balancer" };
  const tones = { ok: "ok", failing: "bad", unknown: "warn", "not configured": "" };
  const letters = Object.entries(s.dead_letters || {});
  const waiting = letters.reduce((sum, [, n]) => sum + n, 0);
  return page("status.title", "status.sub",
    waiting ? h("div.notice.error", { id: "status-dead-letters" },
      t("status.deadLetters", { n: waiting, subjects: letters.map(([subject, n]) => `${subject} ${n}`).join(" · ") }), " ",
      h("a", { href: "#/dead-letters" }, t("status.reviewDeadLetters"))) : "",
    h("div.card", {}, h("h2", {}, t("status.systems")), table([t("status.system"), t("common.status"), t("status.latency"), t("status.owner"), t("status.detail")],
      s.systems.map((x) => h("tr", {}, h("td", {}, systemNames[x.name] || x.name), h("td", {}, badge(t(`status.state.${x.state}`), tones[x.state])),
        h("td.num", {}, x.latency_ms == null ? "—" : `${x.latency_ms} ms`), h("td", {}, x.owner), h("td.mono", {}, x.detail || ""))))),
    h("div.card", {}, h("h2", {}, t("status.services")), table([t("status.service"), t("common.status"), t("status.latency"), t("status.heartbeat"), t("status.checks")],
      s.services.map((x) => h("tr", {}, h("td", {}, x.service), h("td", {}, badge(x.healthy ? "healthy" : "down", x.healthy ? "ok" : "bad")),
        h("td.num", {}, x.latency_ms == null ? "—" : `${x.latency_ms} ms`), h("td.num", {}, x.heartbeat_age_s == null ? "—" : `${x.heartbeat_age_s} s`),
        h("td.mono", {}, x.error || Object.entries(x.checks).map(([k, v]) => `${k}: ${v}`).join(" · ")))))),
    h("div.card", {}, h("h2", {}, t("status.vcenter")), vc ? h("div.row", {}, badge(vc.connected ? "connected" : "disconnected", vc.connected ? "ok" : "bad"),
      h("span", {}, vc.vcenter || ""), h("span.muted", {}, vc.vcenter_version || ""), h("span.muted", {}, fmtTime(vc.last_success))) : h("div.empty", {}, t("common.unavailable"))));
};
