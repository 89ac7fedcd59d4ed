/* Dead letters: messages a service gave up on, with why; replay (operator) or discard (admin), each
   after confirming, one by one or all a filter selects (counted first by a dry run, then confirmed
   with that count). */
"use strict";

function payloadText(payload) {
  return typeof payload === "string" ? payload : JSON.stringify(payload, null, 2);
}

App.screens["dead-letters"] = async () => {
  const subject = h("input", { id: "dl-subject", placeholder: t("common.all") });
  const list = h("div", { id: "dl-list" });
  const group = h("input", { id: "dl-group", placeholder: t("common.all"), maxLength: 128 });
  const reason = h("input", { id: "dl-reason", maxLength: 200 });
  const since = h("input", { id: "dl-since", type: "datetime-local" });
  const until = h("input", { id: "dl-until", type: "datetime-local" });
  function selection() {
    const chosen = {};
    const given = [["subject", subject.value.trim()], ["group", group.value.trim()], ["reason_contains", reason.value.trim()]];
    for (const [key, value] of given) if (value) chosen[key] = value;
    if (since.value) chosen.since = new Date(since.value).toISOString(); // local time in, UTC out
    if (until.value) chosen.until = new Date(until.value).toISOString();
    return chosen;
  }
  async function bulk(action) {
    const path = `/api/v1/dead-letters/bulk/${action}`;
    try {
      const counted = await api("POST", path, { ...selection(), dry_run: true });
      if (!counted.matched) { toast(t("deadLetters.noneMatch")); return; }
      const key = action === "replay" ? "deadLetters.confirmBulkReplay" : "deadLetters.confirmBulkDiscard";
      if (!(await confirmDialog(t(key, { count: counted.matched })))) return;
      const outcome = await api("POST", path, selection());
      const failedCount = Object.keys(outcome.failed).length;
      const doneKey = action === "replay" ? "deadLetters.bulkReplayed" : "deadLetters.bulkDiscarded";
      toast(t(doneKey, { done: outcome.done.length }) + (failedCount ? ` · ${t("deadLetters.bulkFailed", { failed: failedCount })}` : ""), failedCount > 0);
      load();
    } catch (err) { failed(err); }
  }
  async function act(letter, action) {
    const vars = { seq: letter.seq, subject: letter.subject };
    if (!(await confirmDialog(t(action === "replay" ? "deadLetters.confirmReplay" : "deadLetters.confirmDiscard", vars)))) return;
    try {
      if (action === "replay") await api("POST", `/api/v1/dead-letters/${letter.seq}/replay`);
      else await api("DELETE", `/api/v1/dead-letters/${letter.seq}`);
      toast(t(action === "replay" ? "deadLetters.replayed" : "deadLetters.discarded", vars));
      load();
    } catch (err) { failed(err); }
  }
  async function load() {
    const q = new URLSearchParams({ limit: "200" });
    if (subject.value.trim()) q.set("subject", subject.value.trim());
    const found = await api("GET", `/api/v1/dead-letters?${q}`).catch((e) => e);
    if (found instanceof Error) { list.replaceChildren(unavailable(found)); return; }
    list.replaceChildren(
      found.total ? h("p.muted", {}, t("deadLetters.count", { shown: found.letters.length, total: found.total })) : "",
      table([t("deadLetters.seq"), t("deadLetters.subject"), t("deadLetters.service"), t("deadLetters.reason"), t("deadLetters.deliveries"), t("deadLetters.at"), t("common.actions")],
        found.letters.map((x) => h("tr", { dataset: { seq: x.seq } },
          h("td.num", {}, x.seq), h("td.mono", {}, x.subject), h("td", {}, x.service || "—"),
          h("td", {}, h("div", {}, x.reason), h("details", {}, h("summary", {}, t("deadLetters.payload")), h("pre.payload.mono", {}, payloadText(x.payload)))),
          h("td.num", {}, x.deliveries), h("td", {}, fmtTime(x.dead_lettered_at)),
          h("td", {}, h("div.row", {},
            h("button.small", { type: "button", disabled: !can("operator"), onclick: () => act(x, "replay") }, t("deadLetters.replay")),
            h("button.danger.small", { type: "button", disabled: !can("admin"), onclick: () => act(x, "discard") }, t("deadLetters.discard")))))),
        t("deadLetters.none")));
  }
  subject.addEventListener("change", load);
  await load();
  const byFilter = h("div.card", { id: "dl-bulk" }, h("h2", {}, t("deadLetters.byFilter")),
    h("p.muted", {}, t("deadLetters.byFilterSub")),
    h("div.row", {}, field("deadLetters.filterGroup", group), field("deadLetters.filterReason", reason),
      field("deadLetters.filterSince", since), field("deadLetters.filterUntil", until)),
    h("div.row", {},
      h("button", { id: "dl-bulk-replay", type: "button", disabled: !can("operator"), onclick: () => bulk("replay") }, t("deadLetters.replayMatching")),
      h("button.danger", { id: "dl-bulk-discard", type: "button", disabled: !can("admin"), onclick: () => bulk("discard") }, t("deadLetters.discardMatching"))));
  return page("deadLetters.title", "deadLetters.sub",
    h("div.card", {}, h("div.row", {}, field("deadLetters.filterSubject", subject), h("span.spacer"), refreshButton()), list),
    byFilter);
};
