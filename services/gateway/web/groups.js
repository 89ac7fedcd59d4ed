/* Screen 4 (autoscaling groups: list; the form is groupform.js) and the group page. */
"use strict";

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
      h("td.num", {}, th.cpu_high ?? "—"), h("td.num", {}, th.memory_high ?? "—"), h("td.num", {}, `${g.min_size} ~ ${g.max_size}`),
      h("td.num", {}, g.size, g.size < g.min_size ? [" ", badge(t("groups.belowMin"), "bad")] : g.size > g.max_size ? [" ", badge(t("groups.aboveMax"), "bad")] : null),
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

/* A group's problems as banners: what fails, what vmscale does about it, where the details are. */
function healthBanners(health) {
  if (health instanceof Error) return [h("div.notice.error", { dataset: { kind: "health" } }, `${t("health.unavailable")}: ${health.message}`)];
  // the message and what vmscale does, in the operator's language from the problem's facts (the API's English otherwise)
  const say = (key, fallback, facts) => (key in window.I18N.en ? t(key, facts) : fallback);
  const out = health.problems.map((p) => h("div.notice" + (p.severity === "error" ? ".error" : ""), { role: "alert", dataset: { kind: p.kind } },
    h("strong", {}, t(`health.${p.kind}`)), " ", say(`health.msg.${p.kind}`, p.message, p.facts),
    p.doing || p.link ? h("div.muted", {}, p.doing ? `${t("health.doing")}: ${say(`health.do.${p.doing_code}`, p.doing, p.facts)}` : "",
      p.link ? h("a.details", { href: p.link }, t("health.details")) : null) : null));
  if (!health.dead_letters_checked) out.push(h("div.notice", { dataset: { kind: "unchecked" } }, t("health.lettersUnchecked")));
  return out;
}

function lastDone(health, activities) {
  const d = health instanceof Error ? null : health.last_allowed;
  const a = activities.find((x) => x.status !== "running");
  if (!d && !a) return h("div.empty", {}, t("group.neverScaled"));
  return h("dl.facts", {},
    d ? [h("dt", {}, t("group.lastDecision")), h("dd", {}, `${fmtTime(d.at)} · ${d.trigger} · Δ${d.delta > 0 ? "+" : ""}${d.delta} · ${d.message}`)] : null,
    a ? [h("dt", {}, t("group.lastActivity")), h("dd", {}, badge(a.status, a.status === "succeeded" ? "ok" : "bad"), ` ${a.kind} · ${fmtTime(a.finished_at || a.created_at)}`,
      a.reason ? ` · ${a.failed_step || ""} ${a.reason}` : "")] : null);
}

App.screens.group = async (args, onCleanup) => {
  const name = args[0];
  const path = `/api/v1/groups/${encodeURIComponent(name)}`;
  const [reply, decisions, pools, preview, health] = await Promise.all([api("GET", path),
    api("GET", `/api/v1/decisions?group=${encodeURIComponent(name)}&limit=20`).catch(() => []), api("GET", "/api/v1/ip-pools").catch(() => []),
    api("POST", `${path}/dry-run`).catch(() => null), api("GET", `${path}/health`).catch((e) => e)]);
  const g = reply.group;
  const scale = async (body, text) => {
    if (!(await confirmDialog(text))) return;
    try { const r = await api("POST", `${path}/scale`, body);
      toast(r.decision ? `${r.decision.reason}: ${r.decision.message}` : t("common.saved"), r.decision && !r.decision.allowed); route(); } catch (err) { failed(err); }
  };
  const desired = h("input", { id: "desired", name: "desired", type: "number", min: g.min_size, max: g.max_size, step: 1, value: Math.min(g.max_size, Math.max(g.min_size, g.size)), "aria-describedby": "desired-help" });
  const reason = h("input", { id: "scale-reason", name: "reason", maxlength: 200, placeholder: t("group.reasonPlaceholder") });
  const desiredError = h("div.error", { id: "desired-error", role: "alert" });
  const setDesired = h("form", { id: "set-desired", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const n = Number(desired.value);
    desiredError.textContent = "";
    if (!Number.isInteger(n) || n < g.min_size || n > g.max_size) { desiredError.textContent = t("group.desiredRange", { min: g.min_size, max: g.max_size }); return; }
    if (!reason.value.trim()) { desiredError.textContent = t("group.reasonRequired"); reason.focus(); return; }
    await scale({ desired: n, reason: reason.value.trim() }, t("group.confirmDesired", { name, n, size: g.size }));
  } }, h("div.cols", {},
    h("div.field", { dataset: { field: "desired" } }, h("label", { for: "desired" }, t("group.desired")), desired,
      h("div.help", { id: "desired-help" }, t("group.desiredHelp", { min: g.min_size, max: g.max_size }))),
    h("div.field", { dataset: { field: "reason" } }, h("label", { for: "scale-reason" }, t("group.reason")), reason)),
    desiredError, h("div.row", {}, h("button", { type: "submit", id: "set-desired-go", disabled: !can("operator") }, t("group.setDesired")),
      h("button.ghost", { type: "button", id: "scale-out", disabled: !can("operator"), onclick: () => scale({ delta: 1, reason: reason.value.trim() }, t("group.confirmScale", { name, delta: "+1" })) }, t("group.scaleOut")),
      h("button.ghost", { type: "button", id: "scale-in", disabled: !can("operator"), onclick: () => scale({ delta: -1, reason: reason.value.trim() }, t("group.confirmScale", { name, delta: -1 })) }, t("group.scaleIn"))));
  // the processes and their state come from the API: exactly what the scaler can suspend
  const processes = health instanceof Error ? [] : health.processes;
  const suspendRow = h("div.row", { id: "processes" }, processes.map((p) => h("button.small" + (p.suspended ? ".danger" : ".ghost"),
    { type: "button", disabled: !can("operator"), dataset: { process: p.name }, "aria-pressed": p.suspended ? "true" : "false", title: t(`process.help.${p.name}`),
      onclick: async () => {
        try { await api("POST", `${path}/${p.suspended ? "resume" : "suspend"}`, { processes: [p.name] }); route(); } catch (err) { failed(err); } } },
    `${p.suspended ? t("group.resume") : t("group.suspend")}: ${t(`process.${p.name}`)}`)));
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
  const used = pool ? pool.capacity - pool.free : 0;
  return [h("div.row", {}, h("h1", {}, name), badge(g.enabled ? t("common.enabled") : t("common.disabled"), g.enabled ? "ok" : null), h("span.spacer"),
      h("a.button.ghost", { href: `#/groups/edit/${encodeURIComponent(name)}`, hidden: !can("admin") }, t("common.edit"))),
    h("p.sub", { id: "group-summary" }, t("group.summary", { size: g.size, inService: g.in_service, min: g.min_size, max: g.max_size, alerts: g.alerts_status })),
    h("div", { id: "health" }, healthBanners(health)),
    h("div.grid.two", {},
      h("div.card", {}, h("h2", {}, t("group.manual")), setDesired,
        h("h2", { style: "margin-top:16px" }, t("group.processes")), h("p.help", {}, t("group.processesHelp")), suspendRow),
      h("div.card", {}, h("h2", {}, t("group.ipPool")), pool ? [h("div.row", {}, h("a", { href: `#/ip-pools/${encodeURIComponent(pool.name)}` }, pool.name),
        h("span", {}, t("pools.usage", { used, capacity: pool.capacity }))), meter(pool.capacity ? Math.round((100 * used) / pool.capacity) : 0, `${used}/${pool.capacity}`)]
        : h("div.empty", {}, g.spec.ip_pool ? t("pools.missing", { name: g.spec.ip_pool }) : "—"))),
    h("div.card", {}, h("h2", {}, t("group.instances")), table(["VM", "IP", t("common.status"), "", t("common.created"), t("common.actions")],
      reply.instances.map((i) => h("tr", {}, h("td", {}, i.vm_name), h("td.mono", {}, i.address || "—"), h("td", {}, badge(i.state)),
        h("td", {}, i.protected ? badge(t("group.protected"), "warn") : "", i.base ? badge(t("group.base")) : ""), h("td", {}, fmtTime(i.created_at)),
        h("td", {}, h("button.ghost.small", { type: "button", disabled: !can("operator"), onclick: async () => {
          try { await api("POST", `${path}/instances/${encodeURIComponent(i.vm_name)}/${i.protected ? "unprotect" : "protect"}`); route(); } catch (err) { failed(err); } } },
          i.protected ? t("group.unprotect") : t("group.protect"))))))),
    sizeHistoryCard(g),
    h("div.grid.two", {},
      h("div.card", { id: "dry-run" }, h("h2", {}, t("group.dryRun")), preview ? table([t("events.cause"), t("common.status"), "Δ", ""],
        preview.outcomes.map((o) => h("tr", {}, h("td", {}, o.trigger), h("td", {}, badge(o.allowed ? t("group.wouldScale") : t("events.blocked"), o.allowed ? "ok" : "warn")),
          h("td.num", {}, o.delta), h("td", {}, `${o.reason}: ${o.message}`)))) : h("div.empty", {}, "—")),
      h("div.card", { id: "last-done" }, h("h2", {}, t("group.lastDone")), lastDone(health, activities))),
    h("div.card", { id: "group-activities" }, h("h2", {}, t("group.activities")),
      table([t("audit.at"), t("group.kind"), t("common.status"), "VM", t("group.progressOrOutcome")], activityRows)),
    h("div.card", {}, h("h2", {}, t("group.decisions")), table([t("audit.at"), t("common.status"), "Δ", t("events.cause"), ""],
      decisions.map((d) => h("tr", {}, h("td", {}, fmtTime(d.at)), h("td", {}, badge(d.allowed ? t("events.allowed") : t("events.blocked"), d.allowed ? "ok" : "warn")),
        h("td.num", {}, d.delta), h("td", {}, `${d.trigger} · ${d.rule}`), h("td", {}, `${d.reason}: ${d.message}`)))))];
};
Object.assign(window, { healthBanners });
