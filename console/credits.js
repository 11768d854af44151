/*
 * /credits: balance, reserved (held by calls in flight) and available;
 * the ledger, newest first, a page at a time ("Older entries").
 */

import { formatDate, formatMicros, h, showError, table } from "/console/ui.js";

const PAGE = 25;

export async function mount(root, ctx) {
  const c = await ctx.api("/api/credits");
  root.append(h("h1", {}, "Credits"),
    h("dl", { class: "cards", id: "credits" },
      stat("Balance", c.balance_micros, "balance"),
      stat("Reserved", c.reserved_micros, "reserved"),
      stat("Available", c.available_micros, "available")),
    h("p", {}, h("a", { href: "/buy" }, "Buy credits")),
    h("h2", {}, "Ledger"));

  const rows = [];
  const box = h("div", { id: "ledger" });
  const more = h("button", { type: "button", hidden: true },
                 "Older entries");
  root.append(box, more);
  let cursor = null;

  const load = async () => {
    const page = await ctx.api("/api/credits/ledger?limit=" + PAGE +
      (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    rows.push(...page.data);
    cursor = page.next_cursor;
    more.hidden = cursor === null;
    box.replaceChildren(table(null, [
      ["When", (e) => formatDate(e.created_at)],
      ["What", (e) => e.kind.replace(/_/g, " ")],
      ["Amount", (e) => formatMicros(e.amount_micros), "num"],
      ["Balance after", (e) => formatMicros(e.balance_after_micros), "num"],
      ["Reference", (e) => e.reference || ""],
    ], rows, "No entries yet."));
  };
  more.addEventListener("click", () => load().catch(showError));
  await load();
}

function stat(label, micros, id) {
  return h("div", { class: "card" }, h("dt", {}, label),
           h("dd", { class: "big num", id }, formatMicros(micros)));
}
