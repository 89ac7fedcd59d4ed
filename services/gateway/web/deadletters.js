/* Dead letters: messages a service gave up on, with why; replay (operator) or discard (admin), each
   after confirming. */
"use strict";

function payloadText(payload) {
  return typeof payload === "string" ? payload : JSON.stringify(payload, null, 2);
}

App.screens["dead-letters"] = async () => {
  const subject = h("input", { id: "dl-subject", placeholder: t("common.all") });
  const list = h("div", { id: "dl-list" });
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
  return page("deadLetters.title", "deadLetters.sub",
    h("div.card", {}, h("div.row", {}, field("deadLetters.filterSubject", subject), h("span.spacer"), refreshButton()), list));
};
