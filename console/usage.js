/*
 * /usage: cost and tokens per day (the last 30 days, UTC days as
 * /api/usage counts them), cost and tokens by model and by key, as SVG
 * charts drawn here (no chart library), each followed by its numbers in
 * a table; then the recent calls with their cost, a page at a time.
 * The day and model charts come from one grouping of /api/usage by two
 * keys (group_by=day,model): cost per day is stacked by model, and the
 * per-day and per-model sums are added up here; the key chart from
 * group_by=key. Every bar is a <rect> with data-label (the day, model
 * or key name) and data-series, and a <title>.
 */

import { formatCount, formatDate, formatMicros, h, pagedTable, svg,
         table } from "/console/ui.js";

const DAYS = 30;

export async function mount(root, ctx) {
  const [byDayModel, byKey] = await Promise.all([
    ctx.api("/api/usage?group_by=day,model"),
    ctx.api("/api/usage?group_by=key"),
  ]);
  const days = lastDays(DAYS);
  const day = sumBy(byDayModel.data, (r) => r.day);
  const byModel = { data: [...sumBy(byDayModel.data, (r) => r.model)
    .values()] };
  const pick = (f) => days.map((d) => (day.has(d) ? f(day.get(d)) : 0));
  const models = byModel.data.slice().sort((a, b) =>
    b.cost_micros - a.cost_micros).map((r) => r.model);
  const cell = new Map(byDayModel.data.map((r) => [r.day + " " + r.model,
                                                  r]));
  const costOf = (d, m) => (cell.has(d + " " + m) ?
    cell.get(d + " " + m).cost_micros : 0);
  /* Four colours (console.css .s0-.s3): the top three, then the rest. */
  const shown = models.length > 4 ? models.slice(0, 3) : models;
  const perModel = shown.map((m) => ({ name: m, values: days.map((d) =>
    costOf(d, m)) }));
  if (shown.length < models.length)
    perModel.push({ name: "other models", values: days.map((d) =>
      models.slice(3).reduce((s, m) => s + costOf(d, m), 0)) });

  root.append(h("h1", {}, "Usage"),
    h("p", { class: "muted" }, "The last " + DAYS + " days (UTC)."),
    h("div", { class: "charts" },
      chartCard("Cost per day, by model", "chart-cost-day",
        columns(days, perModel.length ? perModel :
          [{ name: "cost", values: pick((r) => r.cost_micros) }],
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

  const calls = pagedTable(ctx.api, "calls", "/api/usage/requests", [
    ["When", (r) => formatDate(r.created_at)],
    ["Model", (r) => r.model],
    ["Key", (r) => r.key_name || ""],
    ["Input", (r) => formatCount(r.prompt_tokens), "num"],
    ["Output", (r) => formatCount(r.completion_tokens), "num"],
    ["Status", (r) => r.status],
    ["Cost", (r) => h("span", { "data-request": r.request_id || r.id },
                      formatMicros(r.cost_micros)), "num"],
  ], "No calls yet.", "Older calls");
  root.append(h("h2", {}, "Recent calls"), calls.el);
  await calls.load();
}

/*
 * Rows of a two-key grouping added up by one key: a Map from that key to
 * a row with it and the sums of calls, tokens and cost.
 */
function sumBy(rows, key) {
  const out = new Map();
  for (const r of rows) {
    const k = key(r);
    if (!out.has(k))
      out.set(k, { day: r.day, model: r.model, requests: 0,
                   prompt_tokens: 0, completion_tokens: 0, cost_micros: 0 });
    const t = out.get(k);
    t.requests += r.requests;
    t.prompt_tokens += r.prompt_tokens;
    t.completion_tokens += r.completion_tokens;
    t.cost_micros += r.cost_micros;
  }
  return out;
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
