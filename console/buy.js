/*
 * /buy: the packages; "Buy" starts a Stripe Checkout (POST
 * /api/billing/checkout) and sends the browser to Stripe's page. Stripe
 * returns to /billing/success or /billing/cancel ?payment_id= (the URLs
 * tollgate gives it, on TOLLGATE_UI_URL). The success page shows the
 * payment as pending until Stripe's webhook credits it (it asks again
 * every 2 s, for at most 10 minutes), then the new balance.
 */

import { formatDate, formatMicros, formatMoney, h, showError,
         table } from "/console/ui.js";

const POLL_MS = 2000;
const POLL_MAX = 300;

/* Payment states that will not change to credited by waiting. */
const FINAL = new Set(["failed", "expired", "refunded", "flagged",
                       "disputed"]);

export async function mount(root, ctx, route) {
  if (route.path === "/billing/success") return success(root, ctx, route);
  if (route.path === "/billing/cancel") return cancel(root, ctx, route);
  return buy(root, ctx);
}

async function buy(root, ctx) {
  const [packages, payments] = await Promise.all([
    ctx.api("/api/billing/packages"),
    ctx.api("/api/billing/payments?limit=10"),
  ]);
  root.append(h("h1", {}, "Buy credits"),
    h("ul", { class: "cards packages" }, packages.data.map((p) =>
      h("li", { class: "card" },
        h("h2", {}, p.name),
        h("p", { class: "big num" }, formatMicros(p.credits_micros),
          h("span", { class: "muted" }, " credits")),
        h("p", {}, formatMoney(p.price_minor, p.currency)),
        h("button", { type: "button", class: "primary buy",
                      "data-package": p.id,
                      onclick: (ev) => checkout(ctx, p, ev.target) },
          "Buy " + p.name)))),
    h("h2", {}, "Your payments"),
    table(null, [
      ["When", (p) => formatDate(p.created_at)],
      ["Package", (p) => p.package_name],
      ["Price", (p) => formatMoney(p.amount_minor, p.currency), "num"],
      ["Credits", (p) => formatMicros(p.credited_micros), "num"],
      ["Status", (p) => p.status],
    ], payments.data, "No payments yet."));
}

async function checkout(ctx, p, button) {
  button.disabled = true;
  try {
    const r = await ctx.api("/api/billing/checkout",
                            { method: "POST", body: { package_id: p.id } });
    location.assign(r.checkout_url);
  } catch (e) {
    button.disabled = false;
    showError(e);
  }
}

function paymentId(route) {
  const id = route.query.get("payment_id");
  if (!id) throw new Error("This page needs a payment_id.");
  return id;
}

async function success(root, ctx, route) {
  const id = paymentId(route);
  const status = h("p", { id: "payment-status", "aria-live": "polite" },
                   "Checking your payment…");
  root.append(h("h1", {}, "Thank you"), status);

  for (let i = 0; i < POLL_MAX && ctx.live(); i++) {
    const p = await ctx.api("/api/billing/payments/" +
                            encodeURIComponent(id));
    if (p.credited_micros > 0) {
      const c = await ctx.api("/api/credits");
      status.dataset.state = "credited";
      status.replaceChildren(formatMicros(p.credited_micros) +
        " credits were added. Your balance is ",
        h("strong", { id: "new-balance" },
          formatMicros(c.available_micros)), " credits.");
      root.append(h("p", {}, h("a", { href: "/" }, "To the overview")));
      return;
    }
    if (FINAL.has(p.status)) {
      status.dataset.state = p.status;
      status.textContent = "The payment is " + p.status +
        "; no credits were added.";
      return;
    }
    status.dataset.state = "pending";
    status.textContent = "Your payment is " + p.status + ": the credits " +
      "appear here as soon as Stripe confirms it.";
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function cancel(root, ctx, route) {
  const id = paymentId(route);
  root.append(h("h1", {}, "Payment cancelled"),
    h("p", {}, "Nothing was charged for this checkout."),
    h("p", {}, h("a", { href: "/buy" }, "Back to the packages")));
  const p = await ctx.api("/api/billing/payments/" + encodeURIComponent(id));
  root.append(h("p", { class: "muted" }, p.package_name + ", " +
                formatMoney(p.amount_minor, p.currency) + ": " + p.status));
}
