/* 6. Monitoring dashboard and 7. scaling events, each over a time range (issue 16 item 6): the
   dashboard's picker (15 m … 7 d) sets the group's metrics, observed values and size over time;
   the events screen's range (a preset or from/to) reads the scaler's stored activities and
   decisions when it reaches back before what this gateway saw live. */
"use strict";

const RANGES = ["15m", "1h", "6h", "24h", "7d"];
const RANGE_MS = { "15m": 9e5, "1h": 36e5, "6h": 216e5, "24h": 864e5, "7d": 6048e5 };
const svgEl = (tag, attrs) => { const el = document.createElementNS("http://www.w3.org/2000/svg", tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); return el; };
const svgText = (attrs, text) => { const el = svgEl("text", attrs); el.textContent = text; return el; };
function remembered(key, fallback) { const v = sessionStorage.getItem(key); return RANGES.includes(v) ? v : fallback; }
/* a time on a chart's axis: the hour for a day or less, the date too beyond */
function axisTime(ms, range) {
  const opts = range === "7d" ? { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false } : { hour: "2-digit", minute: "2-digit", hour12: false };
  return new Date(ms).toLocaleString(App.lang === "ko" ? "ko-KR" : "en-GB", opts);
}
/* One button per preset; the pressed one is the range shown. onPick(range) on a change. */
function rangePicker(id, current, onPick) {
  const buttons = RANGES.map((r) => h("button.ghost.small", { type: "button", dataset: { range: r }, "aria-pressed": String(r === current), title: t("range.last", { range: t(`range.${r}`) }) }, t(`range.${r}`)));
  buttons.forEach((b) => b.addEventListener("click", () => {
    buttons.forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
    onPick(b.dataset.range);
  }));
  return h("div.range-picker", { id, role: "group", "aria-label": t("range.label") }, h("span.muted", {}, t("range.label")), buttons);
}

/* CPU and memory (percent, evenly spaced points) with the scaling thresholds; the range's ends under it */
function lineChart(points, thresholds, ends) {
  const w = 600, hgt = 200, pad = 28;
  const root = svgEl("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "chart", role: "img" });
  const x = (i) => pad + (i * (w - 2 * pad)) / Math.max(1, points.length - 1);
  const y = (v) => hgt - pad - (Math.min(100, Math.max(0, v)) * (hgt - 2 * pad)) / 100;
  [0, 50, 100].forEach((v) => { root.append(svgEl("line", { x1: pad, x2: w - pad, y1: y(v), y2: y(v), stroke: "#2a3643" }), svgText({ x: 2, y: y(v) + 4 }, `${v}%`)); });
  for (const [value, color] of thresholds) root.append(svgEl("line", { x1: pad, x2: w - pad, y1: y(value), y2: y(value), stroke: color, "stroke-dasharray": "6 4" }));
  for (const [key, color] of [["cpu", "#4fa3ff"], ["memory", "#3ccf8e"]]) {
    const pts = points.map((p, i) => (typeof p[key] === "number" ? `${x(i)},${y(p[key])}` : null)).filter(Boolean);
    if (pts.length) root.append(svgEl("polyline", { points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
  }
  if (ends) root.append(svgText({ x: pad, y: hgt - 6 }, ends[0]), svgText({ x: w - pad, y: hgt - 6, "text-anchor": "end" }, ends[1]));
  return root;
}

/* The group's size as steps over [since, until], with its minimum and maximum dashed */
function sizeChart(history, g, range) {
  const w = 600, hgt = 200, pad = 28;
  const since = Date.parse(history.since), until = Date.parse(history.until);
  const top = Math.max(1, g.max_size, ...history.points.map((p) => p.size));
  const root = svgEl("svg", { viewBox: `0 0 ${w} ${hgt}`, class: "chart", role: "img", "aria-label": t("dashboard.sizeOverTime") });
  const x = (ms) => pad + ((Math.min(until, Math.max(since, ms)) - since) * (w - 2 * pad)) / Math.max(1, until - since);
  const y = (v) => hgt - pad - (v * (hgt - 2 * pad)) / top;
  [0, top].forEach((v) => root.append(svgEl("line", { x1: pad, x2: w - pad, y1: y(v), y2: y(v), stroke: "#2a3643" }), svgText({ x: 2, y: y(v) + 4 }, v)));
  for (const [value, color] of [[g.max_size, "#ff6b6b"], [g.min_size, "#f2b84b"]]) {
    root.append(svgEl("line", { x1: pad, x2: w - pad, y1: y(value), y2: y(value), stroke: color, "stroke-dasharray": "6 4" }), svgText({ x: 2, y: y(value) + 4 }, value));
  }
  const pts = [];
  history.points.forEach((p, i) => {
    if (i) pts.push(`${x(Date.parse(p.at))},${y(history.points[i - 1].size)}`);
    pts.push(`${x(Date.parse(p.at))},${y(p.size)}`);
  });
  root.append(svgEl("polyline", { points: pts.join(" "), fill: "none", stroke: "#4fa3ff", "stroke-width": 2 }));
  root.append(svgText({ x: pad, y: hgt - 6 }, axisTime(since, range)), svgText({ x: w - pad, y: hgt - 6, "text-anchor": "end" }, axisTime(until, range)));
  return root;
}

/* The group page's card: its size over a range picked on the card (the dashboard's choice to start) */
function sizeHistoryCard(g) {
  let range = remembered("vmscale.dashRange", "24h");
  const heading = h("h2"), body = h("div");
  const key = (color, text) => h("span.key", {}, h("i", { style: `border-top:2px ${color === "#4fa3ff" ? "solid" : "dashed"} ${color}` }), text);
  async function draw() {
    const shown = range;
    heading.textContent = `${t("dashboard.sizeOverTime")} · ${t("range.last", { range: t(`range.${range}`) })}`;
    const sizes = await api("GET", `/api/v1/groups/${encodeURIComponent(g.name)}/size-history?range=${range}`).catch((e) => e);
    if (shown !== range) return;
    body.replaceChildren(...(sizes instanceof Error ? [unavailable(sizes)] : [sizeChart(sizes, g, range),
      h("div.legend", {}, key("#4fa3ff", t("dashboard.size")), key("#ff6b6b", t("dashboard.maxLine")), key("#f2b84b", t("dashboard.minLine"))),
      sizes.complete ? "" : h("div.help", {}, t("dashboard.sizePartial"))]));
  }
  draw();
  return h("div.card", { id: "group-size" }, h("div.row", {}, heading, h("span.spacer"), rangePicker("group-size-range", range, (r) => { range = r; draw(); })), body);
}

App.screens.dashboard = async (args, onCleanup) => {
  const groups = (await api("GET", "/api/v1/groups")).filter((g) => g.enabled);
  if (!groups.length) return page("dashboard.title", "dashboard.sub", h("div.card.empty", {}, t("dashboard.noGroups")));
  const select = h("select", { id: "dash-group" }, groups.map((g) => h("option", { value: g.name }, g.name)));
  let range = remembered("vmscale.dashRange", "15m");
  const body = h("div");
  async function draw() {
    const g = groups.find((x) => x.name === select.value) || groups[0];
    const th = g.spec.thresholds || {};
    const name = encodeURIComponent(g.name), shown = range;
    const since = new Date(Date.now() - RANGE_MS[range]).toISOString();
    const [decisions, alerts, usage, health, sizes] = await Promise.all([
      api("GET", `/api/v1/decisions?group=${name}&since=${encodeURIComponent(since)}&limit=300`).catch(() => []),
      api("GET", "/api/v1/alerts").catch(() => ({ alerts: [] })),
      api("GET", `/api/v1/prometheus/usage?job=${encodeURIComponent(g.spec.prometheus_job || g.name)}&range=${range}`).catch(() => ({ series: [] })),
      api("GET", `/api/v1/groups/${name}/health`).catch((e) => e),
      api("GET", `/api/v1/groups/${name}/size-history?range=${range}`).catch((e) => e)]);
    if (shown !== range) return;  // picked another range meanwhile: that draw wins
    // what each decision read: the loop's condition (cpu, memory) or, for an alert-era decision, its own values
    const reading = (o) => ({ cpu: (o.condition || {}).cpu ?? o.cpu, memory: (o.condition || {}).memory ?? o.memory });
    const observed = decisions.slice().reverse().map((d) => reading(d.observed || {}))
      .filter((p) => typeof p.cpu === "number" || typeof p.memory === "number");
    const cpuHigh = th.cpu_high ?? 80, memHigh = th.memory_high ?? 80, cpuLow = th.cpu_low ?? 30, memLow = th.memory_low ?? 30;
    // now = the highest latest value over the group's instances, as Prometheus reports them
    const latest = (key) => Math.max(...usage.series.map((s) => { const v = (s[key][s[key].length - 1] || [])[1]; return typeof v === "number" ? v : -1; }), -1);
    const cpuNow = latest("cpu"), memNow = latest("memory");
    const pct = (v) => (v >= 0 ? `${v.toFixed(1)}%` : "—");
    // scale-out above the high line, scale-in below the low one: CPU red/amber, memory violet/teal
    const thresholds = [[cpuHigh, "#ff6b6b"], [cpuLow, "#f2b84b"], ...(memHigh !== cpuHigh || memLow !== cpuLow ? [[memHigh, "#b48cff"], [memLow, "#56c7c7"]] : [])];
    const key = (color, text, dashed) => h("span.key", {}, h("i", { style: `${dashed ? "border-top:2px dashed" : "border-top:2px solid"} ${color}` }), text);
    const legend = () => h("div.legend", {}, key("#4fa3ff", "CPU"), key("#3ccf8e", t("dashboard.memory")),
      key("#ff6b6b", t("dashboard.scaleOutLine"), true), key("#f2b84b", t("dashboard.scaleInLine"), true),
      ...(thresholds.length > 2 ? [key("#b48cff", `${t("dashboard.memory")} ↑`, true), key("#56c7c7", `${t("dashboard.memory")} ↓`, true)] : []));
    const stat = (label, value, bad) => h("div.card", {}, h("div.stat-label", {}, label), h("div.stat" + (bad ? ".bad" : ""), {}, value));
    const mine = alerts.alerts.filter((a) => ((a.labels || {}).service === g.name) && (!a.status || (a.status.state || "active") === "active"));
    const over = t("range.last", { range: t(`range.${range}`) });
    const ends = (s) => (s.cpu.length ? [axisTime(s.cpu[0][0] * 1000, range), axisTime(s.cpu[s.cpu.length - 1][0] * 1000, range)] : null);
    body.replaceChildren(
      h("div", { id: "dash-health" }, healthBanners(health), h("a.details", { href: `#/group/${name}` }, `${g.name} →`)),
      h("div.grid.four", { id: "dash-stats" }, stat(t("dashboard.size"), `${g.size} / ${g.min_size}–${g.max_size}`),
        stat(t("dashboard.cpuNow"), pct(cpuNow), cpuNow > cpuHigh), stat(t("dashboard.memNow"), pct(memNow), memNow > memHigh),
        stat(t("dashboard.cpuThreshold"), `${cpuHigh}% / ${cpuLow}%`),
        stat(t("dashboard.memThreshold"), `${memHigh}% / ${memLow}%`)),
      h("div.card", { id: "size-chart", dataset: { range } }, h("h2", {}, `${t("dashboard.sizeOverTime")} · ${over}`),
        sizes instanceof Error ? unavailable(sizes) : [sizeChart(sizes, g, range),
          h("div.legend", {}, key("#4fa3ff", t("dashboard.size")), key("#ff6b6b", t("dashboard.maxLine"), true), key("#f2b84b", t("dashboard.minLine"), true)),
          sizes.complete ? null : h("div.help", {}, t("dashboard.sizePartial"))]),
      h("div.grid.two", { id: "instance-charts", dataset: { range } }, usage.series.map((s) => {
        const points = s.cpu.map(([, cpu], i) => ({ cpu, memory: (s.memory[i] || [])[1] }));
        const now = points[points.length - 1] || {};
        return h("div.card.instance-chart", { dataset: { points: points.length } }, h("h2", {}, `${s.instance} · CPU ${typeof now.cpu === "number" ? now.cpu.toFixed(1) : "—"}% · ${t("groups.memory").replace(/\s*%$/, "")} ${typeof now.memory === "number" ? now.memory.toFixed(1) : "—"}%`),
          lineChart(points, thresholds, ends(s)), legend());
      })),
      h("div.card", { id: "observed-chart", dataset: { points: observed.length } }, h("h2", {}, `${t("dashboard.chart")} · ${over}`), observed.length ? [lineChart(observed, thresholds), legend()] : h("div.empty", {}, t("dashboard.noDecisions"))),
      h("div.card", {}, h("h2", {}, t("dashboard.alerts")), table(["alertname", t("common.status"), "severity", "summary", t("common.created")],
        mine.map((a) => h("tr", {}, h("td", {}, a.labels.alertname), h("td", {}, badge("firing", "bad")), h("td", {}, a.labels.severity || ""),
          h("td", {}, (a.annotations || {}).summary || ""), h("td", {}, fmtTime(a.startsAt)))))));
  }
  select.addEventListener("change", draw);
  const picker = rangePicker("dash-range", range, (r) => { range = r; sessionStorage.setItem("vmscale.dashRange", r); draw(); });
  await draw();
  const timer = setInterval(draw, 10000);
  onCleanup(() => clearInterval(timer));
  return page("dashboard.title", "dashboard.sub", h("div.row.dash-controls", {}, field("dashboard.group", select), h("span.spacer"), picker), body);
};

/* what makes two listed events the same one: the ring's id, else the stored fact */
const eventKey = (e) => (e.id ? `r${e.id}` : `${e.subject}|${(e.data || {}).activity_id || (e.data || {}).message_id || e.at}`);
function eventItem(event) {
  return h("li." + (event.status === "failed" || event.status === "blocked" ? "bad" : "ok"), { dataset: { subject: event.subject, key: eventKey(event), stored: event.id ? undefined : "1" } },
    h("div.row", {}, h("strong", {}, event.subject), event.group ? badge(event.group, "info") : null, event.status ? badge(event.status) : null,
      event.id ? null : h("span.muted", { title: t("events.storedHelp") }, t("events.stored")), h("span.muted", {}, fmtTime(event.at))),
    (event.data || {}).reason ? h("div.muted", {}, event.data.reason) : null);
}

/* 7. Scaling events: activities of the range with per-step status and the decision behind each; the
   range's events (live ones added as they happen while the range ends now), older ones on demand */
App.screens.events = async (_, onCleanup) => {
  const group = h("input", { id: "ev-group", placeholder: t("common.all") });
  const status = h("select", { id: "ev-status" }, ["", "running", "succeeded", "rolled_back", "failed"].map((s) => h("option", { value: s }, s || t("common.all"))));
  const range = h("select", { id: "ev-range", name: "range" }, [...RANGES, "custom"].map((r) => h("option", { value: r }, t(`range.${r}`))));
  range.value = sessionStorage.getItem("vmscale.eventsRange") || "24h";
  const from = h("input", { id: "ev-from", name: "from", type: "datetime-local" });
  const to = h("input", { id: "ev-to", name: "to", type: "datetime-local" });
  const custom = h("div.cols.custom-range", { hidden: range.value !== "custom" }, field("events.from", from), field("events.to", to));
  const rangeError = h("div.error", { id: "ev-range-error", role: "alert" });
  const timeline = h("ul.timeline", { id: "timeline" });
  const live = h("ul.timeline", { id: "live-events" });
  const waiting = h("div.empty", {}, t("events.waiting"));
  const more = h("button.ghost.small", { type: "button", id: "ev-more", hidden: true }, t("events.more"));
  const clones = new Map();  // VM name → its latest vm.progress
  const meters = new Map();  // running activity id → { activity, meter }
  const shown = new Set();  // eventKey of every listed event
  let bounds = null, oldest = null, generation = 0;  // a newer load's answers win over an older one's
  const progressOf = (a) => activityProgress(a, clones);
  /* [since, until|null] as ISO strings, or null with the reason shown when from/to are wrong */
  function chosen() {
    rangeError.textContent = "";
    if (range.value !== "custom") return [new Date(Date.now() - RANGE_MS[range.value]).toISOString(), null];
    const start = Date.parse(from.value), end = to.value ? Date.parse(to.value) : Date.now();
    if (Number.isNaN(start)) { rangeError.textContent = t("events.fromRequired"); return null; }
    if (Number.isNaN(end) || start >= end) { rangeError.textContent = t("events.fromBeforeTo"); return null; }
    return [new Date(start).toISOString(), to.value ? new Date(end).toISOString() : null];
  }
  function query(extra) {
    const q = new URLSearchParams(); if (group.value.trim()) q.set("group", group.value.trim());
    q.set("since", bounds[0]); if (bounds[1]) q.set("until", bounds[1]);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q;
  }
  async function loadActivities() {
    const q = query({ limit: 100 }), mine = generation; if (status.value) q.set("status", status.value);
    const [acts, decs] = await Promise.all([api("GET", `/api/v1/activities?${q}`).catch((e) => e), api("GET", `/api/v1/decisions?${query({ limit: 1000 })}`).catch(() => [])]);
    if (mine !== generation) return;
    if (acts instanceof Error) { timeline.replaceChildren(unavailable(acts)); return; }
    const byId = new Map(decs.map((d) => [d.id, d]));
    meters.clear();
    timeline.replaceChildren(...(acts.length ? acts.map((a) => {
      const d = byId.get(a.decision_id);
      const cls = a.status === "succeeded" ? "ok" : a.status === "running" ? "run" : "bad";
      let bar = null;
      if (a.status === "running") {
        bar = meter(...progressOf(a));
        meters.set(a.id, { activity: a, meter: bar });
      }
      return h("li." + cls, { dataset: { activity: a.id } }, h("div.row", {}, h("strong", {}, `${a.group} · ${a.kind}`), badge(a.status, cls === "ok" ? "ok" : cls === "run" ? "info" : "bad"),
        h("span.muted", {}, fmtTime(a.created_at)), h("span.muted", {}, `${t("events.duration")}: ${fmtDuration(a.created_at, a.finished_at)}`)),
        h("div.muted", {}, `${t("events.cause")}: ${a.cause}${d ? ` — ${d.reason}: ${d.message}` : ""}${a.reason ? ` — ${a.reason}` : ""}`),
        bar,
        h("ul.steps", {}, a.steps.map((s) => h("li", {}, badge(`${s.step} ${s.status}`, s.status === "done" ? "ok" : s.status === "failed" ? "bad" : "info")))));
    }) : [h("div.empty", {}, t("events.noneInRange"))]));
  }
  const PAGE = 50;
  async function loadEvents(older) {
    const q = query({ limit: PAGE }), mine = generation; if (older) q.set("until", oldest);
    const found = await api("GET", `/api/v1/events?${q}`).catch((e) => e);
    if (mine !== generation) return;
    if (found instanceof Error) { live.replaceChildren(unavailable(found)); return; }
    if (!older) { live.replaceChildren(); shown.clear(); }
    for (const event of found) {
      if (shown.has(eventKey(event))) continue;
      shown.add(eventKey(event)); live.append(eventItem(event));
    }
    if (found.length) oldest = found[found.length - 1].at;
    waiting.hidden = live.children.length > 0;
    more.hidden = found.length < PAGE;
  }
  async function load() {
    generation += 1;
    bounds = chosen();
    if (!bounds) { timeline.replaceChildren(); live.replaceChildren(); shown.clear(); more.hidden = true; waiting.hidden = false; return; }
    await Promise.all([loadActivities(), loadEvents(false)]);
  }
  onCleanup(onLive((event) => {
    if (event.subject === "vm.progress") { moveActivityMeter(event.data, clones, meters); return; }  // too frequent for the list
    if (group.value && event.group !== group.value.trim()) return;
    if (!bounds || bounds[1] || shown.has(eventKey(event))) return;  // a range that ended in the past takes no new events
    waiting.hidden = true; shown.add(eventKey(event));
    live.prepend(eventItem(event));
    if (event.type === "activity") loadActivities();
  }));
  more.addEventListener("click", () => loadEvents(true));
  const local = (ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000); return d.toISOString().slice(0, 16); };
  if (range.value === "custom") from.value = local(Date.now() - RANGE_MS["24h"]);
  range.addEventListener("change", () => {
    custom.hidden = range.value !== "custom"; sessionStorage.setItem("vmscale.eventsRange", range.value);
    if (range.value === "custom" && !from.value) from.value = local(Date.now() - RANGE_MS["24h"]);
    load();
  });
  for (const input of [group, status, from, to]) input.addEventListener("change", load);
  await load();
  return page("events.title", "events.sub", h("div.row", {}, field("events.filterGroup", group), field("events.filterStatus", status), field("events.range", range)),
    custom, rangeError,
    h("div.grid.two", {}, h("div.card", {}, h("h2", {}, t("events.activities")), timeline),
      h("div.card", {}, h("h2", {}, t("events.inRange")), waiting, live, h("div.row.end", {}, more))));
};
