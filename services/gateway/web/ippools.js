/* IP pools: list with usage, create / edit / delete (refused while a group uses it, the groups named),
   and the lease table (address, group, VM, state). Routes: #/ip-pools, #/ip-pools/<name>, #/ip-pools/new. */
"use strict";

function poolSpec(form) {
  const words = (text) => text.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  const ranges = words(form.elements.ranges.value).map((r) => { const [start, end] = r.split("-"); return { start, end: end || start }; });
  const spec = { network: form.elements.network.value.trim(), ranges, dns: words(form.elements.dns.value),
    exclusions: words(form.elements.exclusions.value), ping_check: form.elements.ping_check.checked };
  const gateway = form.elements.gateway.value.trim();
  if (gateway) spec.gateway = gateway;
  return spec;
}

function poolForm(existing, onSaved) {
  const v = existing || { name: "", network: "", gateway: "", dns: [], ranges: [], exclusions: [], ping_check: false };
  const input = (name, value, attrs) => h("input", { id: `pool-${name}`, name, value: value ?? "", "aria-describedby": `pool-${name}-help`, ...(attrs || {}) });
  const fieldOf = (name, labelKey, control, required) => h("div.field", { dataset: { field: name } },
    h("label", { for: control.id }, t(labelKey) + (required ? " *" : "")), control, h("div.help", { id: `pool-${name}-help` }, t(`pools.h.${name}`)), h("div.error", { role: "alert" }));
  const summary = h("div.notice.error", { id: "pool-summary", role: "alert", hidden: true });
  const ranges = h("textarea", { id: "pool-ranges", name: "ranges", rows: 2, "aria-describedby": "pool-ranges-help" }, v.ranges.join("\n"));
  const ping = h("input", { id: "pool-ping_check", name: "ping_check", type: "checkbox", checked: v.ping_check ? true : undefined });
  const form = h("form.card", { id: "pool-form", novalidate: true }, h("h2", {}, existing ? `${t("common.edit")}: ${existing.name}` : t("pools.new")), summary,
    h("div.cols", {}, fieldOf("name", "pools.name", input("name", v.name, { readonly: existing ? true : undefined }), true),
      fieldOf("network", "pools.network", input("network", v.network, { placeholder: "127.0.50.0/24" }), true),
      fieldOf("gateway", "pools.gateway", input("gateway", v.gateway, { placeholder: "127.0.50.1" }))),
    h("div.cols", {}, fieldOf("ranges", "pools.ranges", ranges, true), fieldOf("dns", "pools.dns", input("dns", v.dns.join(", "))),
      fieldOf("exclusions", "pools.exclusions", input("exclusions", v.exclusions.join(", ")))),
    h("label.check", { for: "pool-ping_check" }, ping, t("pools.pingCheck")),
    h("div.row.end", {}, existing ? h("button.ghost", { type: "button", onclick: () => { location.hash = "#/ip-pools"; } }, t("common.cancel")) : null,
      h("button", { type: "submit", id: "pool-save", disabled: !can("admin") }, existing ? t("common.save") : t("common.create"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    form.querySelectorAll(".field").forEach((f) => { f.classList.remove("invalid"); f.querySelector(".error").textContent = ""; });
    summary.hidden = true;
    const name = form.elements.name.value.trim();
    const problems = [];
    if (!name) problems.push({ field: "name", message: t("groups.required") });
    if (!form.elements.network.value.trim()) problems.push({ field: "network", message: t("groups.required") });
    if (!form.elements.ranges.value.trim()) problems.push({ field: "ranges", message: t("groups.required") });
    try {
      if (problems.length) throw new ApiError(422, { errors: problems });
      await api("PUT", `/api/v1/ip-pools/${encodeURIComponent(name)}`, poolSpec(form));
      toast(t("pools.saved", { name }));
      onSaved(name);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status === 401) { failed(err); return; }
      const unmatched = [];
      for (const { field, message } of err.problem.errors || []) {
        const box = form.querySelector(`.field[data-field="${CSS.escape(field.split(".")[0])}"]`);
        if (box && field) { box.classList.add("invalid"); box.querySelector(".error").textContent = message; } else unmatched.push(message);
      }
      summary.hidden = false;
      summary.textContent = unmatched.length ? unmatched.join(" · ") : (err.problem.errors || []).length ? t("groups.fix") : err.message;
    }
  });
  return form;
}

App.screens["ip-pools"] = async (args) => {
  const [pools, groups] = await Promise.all([api("GET", "/api/v1/ip-pools"), api("GET", "/api/v1/groups").catch(() => [])]);
  const usersOf = (pool) => groups.filter((g) => g.spec.ip_pool === pool).map((g) => g.name);
  const selected = args[0] && args[0] !== "new" ? pools.find((p) => p.name === args[0]) : null;
  const rows = pools.map((p) => {
    const used = p.capacity - p.free;
    const percent = p.capacity ? Math.round((100 * used) / p.capacity) : 0;
    const bar = meter(percent, t("pools.usage", { used, capacity: p.capacity }));
    if (percent >= 90) bar.set(percent, t("pools.usage", { used, capacity: p.capacity }), "bad");
    const users = usersOf(p.name);
    return h("tr", { dataset: { pool: p.name } }, h("td", {}, h("a", { href: `#/ip-pools/${encodeURIComponent(p.name)}` }, p.name)),
      h("td.mono", {}, p.network), h("td.mono", {}, p.ranges.join(", ")), h("td", { style: "width:26%" }, bar),
      h("td", {}, users.length ? users.map((u) => h("a.dash", { href: `#/group/${encodeURIComponent(u)}` }, u)) : h("span.muted", {}, t("pools.unused"))),
      h("td", {}, h("div.row", {}, h("a.button.ghost.small", { href: `#/ip-pools/${encodeURIComponent(p.name)}`, hidden: !can("admin") }, t("common.edit")),
        h("button.danger.small", { type: "button", hidden: !can("admin"), dataset: { action: "delete" }, onclick: async () => {
          if (!(await confirmDialog(t("pools.confirmDelete", { name: p.name })))) return;
          try { await api("DELETE", `/api/v1/ip-pools/${encodeURIComponent(p.name)}`); toast(t("common.deleted")); location.hash = "#/ip-pools"; route(); }
          catch (err) { if (err instanceof ApiError && err.status === 409) toast(t("pools.inUse", { detail: err.message }), true); else failed(err); } } }, t("common.delete")))));
  });
  const list = h("div.card", { id: "pool-list" }, h("div.row", {}, h("h2", {}, t("pools.list")), h("span.spacer"),
    can("admin") ? h("a.button", { href: "#/ip-pools/new", id: "new-pool" }, t("pools.new")) : null),
    pools.length ? table([t("pools.name"), t("pools.network"), t("pools.ranges"), t("pools.usageTitle"), t("pools.groups"), t("common.actions")], rows)
      : h("div.empty", {}, t("pools.empty")));
  const content = [list];
  if (args[0] === "new" || selected) content.unshift(poolForm(selected, (name) => { location.hash = `#/ip-pools/${encodeURIComponent(name)}`; route(); }));
  if (selected) {
    content.push(h("div.card", { id: "pool-leases" }, h("h2", {}, t("pools.leases", { name: selected.name })),
      table([t("pools.address"), t("dashboard.group"), "VM", t("common.status"), t("pools.updated")], selected.leases.map((l) => h("tr", { dataset: { address: l.address } },
        h("td.mono", {}, l.address), h("td", {}, h("a", { href: `#/group/${encodeURIComponent(l.group)}` }, l.group)), h("td", {}, l.vm_name),
        h("td", {}, badge(t(`pools.state.${l.state}`), l.state === "confirmed" ? "ok" : "info")), h("td", {}, fmtTime(l.updated_at)))), t("pools.noLeases"))));
  }
  return page("pools.title", "pools.sub", ...content);
};
