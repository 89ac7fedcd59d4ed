/* Notifications: the configured channels (name, type, host and routing; never a URL or secret),
   the newest deliveries (sent, failed and why, deduplicated, rate-limited), and a "send test"
   button per channel (admin) that answers with what became of the test. */
"use strict";

App.screens.notifications = async () => {
  const channels = h("div", { id: "nt-channels" });
  const deliveries = h("div", { id: "nt-deliveries" });
  const outcomeKind = { sent: "ok", failed: "bad", deduplicated: "", rate_limited: "warn" };
  async function sendTest(name) {
    try {
      const found = await api("POST", `/api/v1/notifications/test?${new URLSearchParams({ channel: name })}`);
      const outcome = found.deliveries.length ? found.deliveries[0].outcome : "failed";
      toast(t("notifications.tested", { channel: name, outcome: t(`notifications.outcome.${outcome}`) }), outcome !== "sent");
      loadDeliveries();
    } catch (err) { failed(err); }
  }
  async function loadChannels() {
    const found = await api("GET", "/api/v1/notifications/channels").catch((e) => e);
    if (found instanceof Error) { channels.replaceChildren(unavailable(found)); return; }
    channels.replaceChildren(table(
      [t("notifications.channel"), t("notifications.type"), t("notifications.host"), t("notifications.routing"), t("notifications.rate"), t("common.actions")],
      found.map((c) => h("tr", { dataset: { channel: c.name } },
        h("td.mono", {}, c.name), h("td", {}, c.type + (c.signed ? ` · ${t("notifications.signed")}` : "")), h("td.mono", {}, c.host || "—"),
        h("td", {}, `${t("notifications.groups")}: ${c.groups.length && !c.groups.includes("*") ? c.groups.join(", ") : t("common.all")} · ${t("notifications.minSeverity")}: ${c.min_severity}`
          + (c.kinds.length ? ` · ${c.kinds.join(", ")}` : "")),
        h("td.num", {}, c.rate_per_min),
        h("td", {}, h("button.small", { type: "button", disabled: !can("admin"), onclick: () => sendTest(c.name) }, t("notifications.sendTest"))))),
      t("notifications.noChannels")));
  }
  async function loadDeliveries() {
    const found = await api("GET", "/api/v1/notifications/deliveries?limit=100").catch((e) => e);
    if (found instanceof Error) { deliveries.replaceChildren(unavailable(found)); return; }
    deliveries.replaceChildren(table(
      [t("notifications.at"), t("notifications.channel"), t("notifications.title.col"), t("notifications.outcome"), t("notifications.attempts"), t("notifications.reason")],
      found.deliveries.map((d) => h("tr", {},
        h("td", {}, fmtTime(d.at)), h("td.mono", {}, d.channel), h("td", {}, d.title),
        h("td", {}, badge(t(`notifications.outcome.${d.outcome}`), outcomeKind[d.outcome])),
        h("td.num", {}, d.attempts), h("td", {}, d.reason || "—"))),
      t("notifications.noDeliveries")));
  }
  await Promise.all([loadChannels(), loadDeliveries()]);
  return page("notifications.title", "notifications.sub",
    h("div.card", {}, h("div.row", {}, h("h2", {}, t("notifications.channels")), h("span.spacer"), refreshButton()), channels),
    h("div.card", {}, h("h2", {}, t("notifications.deliveries")), deliveries));
};
