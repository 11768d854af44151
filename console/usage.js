/*
 * /usage: cost and tokens per day (the last 30 days, UTC days as
 * /api/usage counts them), cost and tokens by model and by key, as SVG
 * charts drawn here (no chart library), each followed by its numbers in
 * a table; then the recent calls with their cost, a page at a time.
 * Each chart comes from one grouping (group_by=day, model, key) of
 * /api/usage. Every bar is a <rect> with data-label (the day, model or
 * key name) and data-series, and a <title>.
 */

import { formatCount, formatDate, formatMicros, h, showError, svg,
         table } from "/console/ui.js";

const DAYS = 30;
const PAGE = 20;

export async function mount(root, ctx) {
  const [byDay, byModel, byKey] = await Promise.all([
    ctx.api("/api/usage?group_by=day"),
    ctx.api("/api/usage?group_by=model"),
    ctx.api("/api/usage?group_by=key"),
  ]);
  const days = lastDays(DAYS);
  const day = new Map(byDay.data.map((r) => [r.day, r]));
  const pick = (f) => days.map((d) => (day.has(d) ? f(day.get(d)) : 0));

  root.append(h("h1", {}, "Usage"),
    h("p", { class: "muted" }, "The last " + DAYS + " days (UTC)."),
    h("div", { class: "charts" },
      chartCard("Cost per day", "chart-cost-day", columns(days, [
        { name: "cost", values: pick((r) => r.cost_micros) }],
        formatMicros)),
      chartCard("Tokens per day", "chart-tokens-day", columns(days, [
        { name: "input", values: pick((r) => r.prompt_tokens) },
        { name: "output", values: pick((r) => r.completion_tokens) }],
        formatCount)),
      chartCard("Cost by model", "chart-cost-model",
        bars(byModel.data.map((r) => ({ label: r.model,
          value: r.cost_micros })), formatMicros)),
      chartCard("Cost by key", "chart-cost-key",
        bars(byKey.data.map((r) => ({ label: r.key_name || "(deleted key)",
          value: r.cost_micros })), formatMicros))),
    h("h2", {}, "By model"), totals(byModel.data, (r) => r.model),
    h("h2", {}, "By key"),
    totals(byKey.data, (r) => r.key_name || "(deleted key)"));

  root.append(h("h2", {}, "Recent calls"));
  const box = h("div", { id: "calls" });
  const more = h("button", { type: "button", hidden: true }, "Older calls");
  root.append(box, more);
  const rows = [];
  let cursor = null;
  const load = async () => {
    const page = await ctx.api("/api/usage/requests?limit=" + PAGE +
      (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    rows.push(...page.data);
    cursor = page.next_cursor;
    more.hidden = cursor === null;
    box.replaceChildren(table(null, [
      ["When", (r) => formatDate(r.created_at)],
      ["Model", (r) => r.model],
      ["Key", (r) => r.key_name || ""],
      ["Input", (r) => formatCount(r.prompt_tokens), "num"],
      ["Output", (r) => formatCount(r.completion_tokens), "num"],
      ["Status", (r) => r.status],
      ["Cost", (r) => h("span", { "data-request": r.request_id || r.id },
                        formatMicros(r.cost_micros)), "num"],
    ], rows, "No calls yet."));
  };
  more.addEventListener("click", () => load().catch(showError));
  await load();
}

/* The last n UTC days, oldest first, as "YYYY-MM-DD". */
function lastDays(n) {
  const out = [];
  const now = Date.now();
  for (let i = n - 1; i >= 0; i--)
    out.push(new Date(now - i * 86400000).toISOString().slice(0, 10));
  return out;
}

function chartCard(title, id, chart) {
  return h("figure", { class: "card chart", id },
           h("figcaption", {}, title), chart);
}

function totals(rows, label) {
  return table(null, [
    ["Name", label],
    ["Calls", (r) => formatCount(r.requests), "num"],
    ["Input tokens", (r) => formatCount(r.prompt_tokens), "num"],
    ["Output tokens", (r) => formatCount(r.completion_tokens), "num"],
    ["Cost", (r) => formatMicros(r.cost_micros), "num"],
  ], rows, "No usage in these days.");
}

/*
 * Stacked columns, one per label (day); series stacked bottom up. Each
 * rect carries data-label and data-series, and a <title> the browser
 * shows on hover and screen readers read.
 */
function columns(labels, series, fmt) {
  const W = 600, H = 200, PAD = 24;
  const sums = labels.map((_, i) =>
    series.reduce((s, x) => s + x.values[i], 0));
  const max = Math.max(1, ...sums);
  const bw = (W - PAD) / labels.length;
  const chart = svg("svg", { viewBox: "0 0 " + W + " " + (H + PAD),
                             role: "img", class: "columns",
                             "aria-label": series.map((s) => s.name)
                               .join(" and ") + " per day, up to " +
                               fmt(max) });
  chart.append(svg("line", { x1: PAD, y1: H, x2: W, y2: H,
                             class: "axis" }));
  chart.append(svg("text", { x: 0, y: 12, class: "tick" }, fmt(max)));
  labels.forEach((label, i) => {
    let y = H;
    series.forEach((s, j) => {
      const v = s.values[i];
      if (v <= 0) return;
      const bh = Math.max(1, (v / max) * (H - 16));
      y -= bh;
      chart.append(svg("rect", { x: PAD + i * bw + 1, y, width:
        Math.max(1, bw - 2), height: bh, class: "s" + j,
        "data-label": label, "data-series": s.name },
        svg("title", {}, label + " " + s.name + ": " + fmt(v))));
    });
    if (i % 7 === labels.length % 7)
      chart.append(svg("text", { x: PAD + i * bw, y: H + 16,
                                 class: "tick" }, label.slice(5)));
  });
  if (series.length > 1)
    return h("div", {}, chart, legend(series.map((s) => s.name)));
  return chart;
}

/* Horizontal bars, largest first. */
function bars(items, fmt) {
  if (items.length === 0)
    return h("p", { class: "muted" }, "No usage in these days.");
  items = items.slice().sort((a, b) => b.value - a.value);
  const W = 600, ROW = 28, LABEL = 200;
  const max = Math.max(1, ...items.map((x) => x.value));
  const chart = svg("svg", { viewBox: "0 0 " + W + " " + items.length * ROW,
                             role: "img", class: "bars",
                             "aria-label": items.map((x) =>
                               x.label + " " + fmt(x.value)).join(", ") });
  items.forEach((x, i) => {
    const y = i * ROW;
    const bw = Math.max(1, (x.value / max) * (W - LABEL - 90));
    chart.append(
      svg("text", { x: 0, y: y + 18, class: "label" },
          x.label.length > 28 ? x.label.slice(0, 27) + "…" : x.label),
      svg("rect", { x: LABEL, y: y + 5, width: bw, height: ROW - 10,
                    class: "s0", "data-label": x.label },
          svg("title", {}, x.label + ": " + fmt(x.value))),
      svg("text", { x: LABEL + bw + 6, y: y + 18, class: "tick" },
          fmt(x.value)));
  });
  return chart;
}

function legend(names) {
  return h("ul", { class: "legend" }, names.map((n, j) =>
    h("li", {}, h("span", { class: "swatch s" + j, "aria-hidden": "true" }),
      n)));
}
