/*
 * /credits: balance, reserved (held by calls in flight) and available;
 * the ledger, newest first, a page at a time ("Older entries").
 */

import { formatDate, formatMicros, h, pagedTable } from "/console/ui.js";

export async function mount(root, ctx) {
  const c = await ctx.api("/api/credits");
  root.append(h("h1", {}, "Credits"),
    h("dl", { class: "cards", id: "credits" },
      stat("Balance", c.balance_micros, "balance"),
      stat("Reserved", c.reserved_micros, "reserved"),
      stat("Available", c.available_micros, "available")),
    h("p", {}, h("a", { href: "/buy" }, "Buy credits")),
    h("h2", {}, "Ledger"));

  const ledger = pagedTable(ctx.api, "ledger", "/api/credits/ledger", [
    ["When", (e) => formatDate(e.created_at)],
    ["What", (e) => e.kind.replace(/_/g, " ")],
    ["Amount", (e) => formatMicros(e.amount_micros), "num"],
    ["Balance after", (e) => formatMicros(e.balance_after_micros), "num"],
    ["Reference", (e) => e.reference || ""],
  ], "No entries yet.", "Older entries");
  root.append(ledger.el);
  await ledger.load();
}

function stat(label, micros, id) {
  return h("div", { class: "card" }, h("dt", {}, label),
           h("dd", { class: "big num", id }, formatMicros(micros)));
}
