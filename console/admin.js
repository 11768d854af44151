/*
 * The console's admin pages (docs/admin.md for the routes they call),
 * mounted by the shell (console/app.js) for /admin and every path under
 * it once /api/me says is_admin; the server checks again on every call
 * (403 not_admin), so these pages decide nothing about who may do what.
 *
 *   /admin, /admin/users   ?q=&cursor=  search users, a page at a time
 *   /admin/users/{id}      profile, balance, suspend or reactivate, the
 *                          last 30 days' usage by model, the ledger, and
 *                          a form granting credits (shows the new balance)
 *   /admin/prices          every current price; edit one, or add a model
 *   /admin/packages        every package; edit one, or add one
 *   /admin/payments        ?status=&cursor=  payments, flagged ones
 *                          highlighted, a refund button on refundable ones
 *
 * Money is integer micro-credits on the wire, shown and typed as decimal
 * credits (ui.js formatMicros and parseCredits: no floating point). Every
 * write that could be sent twice (a double click, a retry) carries an
 * idempotency key made once per form, so it lands once. Elements are
 * built with h() only: no markup is ever parsed from data.
 */

import { field, formatCount, formatDate, formatMicros, formatMoney, h,
         parseCredits, showError, table } from "/console/ui.js";

const PAYMENT_STATES = ["pending", "processing", "paid", "partially_refunded",
                        "refunded", "disputed", "failed", "expired",
                        "flagged"];
const REFUNDABLE = new Set(["paid", "partially_refunded"]);
const PRICE_FIELDS = [
  ["input_micros_per_mtok", "Input"],
  ["cached_input_micros_per_mtok", "Cached input"],
  ["cache_write_input_micros_per_mtok", "Cache write"],
  ["output_micros_per_mtok", "Output"],
  ["request_fee_micros", "Fee per request"],
];

export async function mountAdmin(root, ctx, route) {
  stylesheet();
  const rest = route.path.replace(/^\/admin\/?/, "");
  const [section, id] = rest.split("/");
  root.append(subnav(section || "users"));
  if ((section === "" || section === "users") && !id)
    return usersPage(root, ctx, route.query);
  if (section === "users" && id)
    return userPage(root, ctx, decodeURIComponent(id));
  if (section === "prices")
    return pricesPage(root, ctx);
  if (section === "packages")
    return packagesPage(root, ctx);
  if (section === "payments")
    return paymentsPage(root, ctx, route.query);
  root.append(h("h1", {}, "Not found"),
              h("p", {}, h("a", { href: "/admin" }, "To the admin pages")));
}

/* console/admin.css, once: the CSP allows stylesheets of this origin. */
function stylesheet() {
  if (document.querySelector('link[href="/console/admin.css"]')) return;
  document.head.append(h("link", { rel: "stylesheet",
                                   href: "/console/admin.css" }));
}

function subnav(current) {
  const items = [["users", "Users"], ["prices", "Prices"],
                 ["packages", "Packages"], ["payments", "Payments"]];
  return h("nav", { class: "subnav", "aria-label": "Admin" },
    h("ul", {}, items.map(([s, label]) => h("li", {},
      h("a", { href: "/admin/" + s,
               "aria-current": s === current ? "page" : null }, label)))));
}

/* A link to another page of the same list (a filter or a cursor). */
function pageLink(path, params, label, attrs) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v) qs.set(k, v);
  const s = qs.toString();
  return h("a", { ...attrs, href: path + (s ? "?" + s : "") }, label);
}

function pager(path, params, next) {
  const links = [];
  if (params.cursor)
    links.push(pageLink(path, { ...params, cursor: null }, "First page"));
  if (next)
    links.push(pageLink(path, { ...params, cursor: next }, "Next page",
                        { id: "next-page" }));
  return links.length ? h("p", { class: "actions" }, links) : null;
}

/* An idempotency key for one form: the same for every send of it. */
function newKey(prefix) {
  return prefix + "-" + crypto.randomUUID();
}

/* A status line of a form, read out when it changes. */
function statusLine(id) {
  return h("p", { id, class: "muted", role: "status", "aria-live": "polite" });
}

/* Runs a form's action with its button disabled; errors to the area. */
function onSubmit(form, action) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await action();
    } catch (e) {
      showError(e);
    } finally {
      button.disabled = false;
    }
  });
}

/* Users: a search box and a page of matches. */
async function usersPage(root, ctx, query) {
  const q = query.get("q") || "";
  const cursor = query.get("cursor") || "";
  root.append(h("h1", {}, "Users"));

  const search = field("Email or name contains", { type: "search", name: "q",
                                                    value: q });
  const form = h("form", { id: "user-search", role: "search",
                           class: "card" }, search.el,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Search")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = search.input.value.trim();
    ctx.navigate("/admin/users" + (v ? "?q=" + encodeURIComponent(v) : ""));
  });
  root.append(form);

  const qs = new URLSearchParams({ limit: "20" });
  if (q) qs.set("q", q);
  if (cursor) qs.set("cursor", cursor);
  const list = await ctx.api("/api/admin/users?" + qs);
  root.append(h("div", { id: "user-list" }, table(
    q ? "Users matching “" + q + "”" : "All users", [
      ["Email", (u) => h("a", { href: "/admin/users/" + u.id },
                         u.email || u.id)],
      ["Name", (u) => u.display_name || "—"],
      ["Status", (u) => u.status],
      ["Admin", (u) => (u.is_admin ? "yes" : "")],
      ["Created", (u) => formatDate(u.created_at)],
      ["Last sign-in", (u) => formatDate(u.last_sign_in_at)],
    ], list.data, "No user matches.")),
    pager("/admin/users", { q, cursor }, list.next_cursor));
}

/* One user: who, their money, their usage, and the admin's actions. */
async function userPage(root, ctx, id) {
  const base = "/api/admin/users/" + encodeURIComponent(id);
  const [user, usage, ledger] = await Promise.all([
    ctx.api(base),
    ctx.api(base + "/usage?group_by=model"),
    ctx.api(base + "/ledger?limit=20"),
  ]);

  root.append(h("h1", {}, user.email || user.id),
              h("p", {}, h("a", { href: "/admin/users" }, "All users")));
  root.append(profileCard(user));
  const balance = h("dl", { class: "cards", id: "user-balance" });
  showBalance(balance, user);
  root.append(h("h2", {}, "Credits"), balance);
  root.append(statusCard(ctx, base, user));
  root.append(grantForm(ctx, base, balance));

  root.append(h("h2", {}, "API keys"), table(null, [
    ["Name", (k) => k.name],
    ["Key", (k) => h("code", {}, k.prefix + "…" + (k.last4 || ""))],
    ["State", (k) => (k.revoked ? "revoked" : k.disabled ? "disabled" :
                      "active")],
  ], user.keys || [], "No keys."));

  root.append(h("h2", {}, "Usage, last 30 days"), table(null, [
    ["Model", (r) => r.model],
    ["Calls", (r) => formatCount(r.requests), "num"],
    ["Prompt tokens", (r) => formatCount(r.prompt_tokens), "num"],
    ["Completion tokens", (r) => formatCount(r.completion_tokens), "num"],
    ["Cost (credits)", (r) => formatMicros(r.cost_micros), "num"],
  ], usage.data, "No calls in the last 30 days."));

  root.append(h("h2", {}, "Ledger"), h("div", { id: "user-ledger" },
    table(null, ledgerColumns(), ledger.data, "No movements.")));
}

function ledgerColumns() {
  return [
    ["When", (e) => formatDate(e.created_at)],
    ["Kind", (e) => e.kind],
    ["Amount", (e) => formatMicros(e.amount_micros), "num"],
    ["Balance after", (e) => formatMicros(e.balance_after_micros), "num"],
    ["Reference", (e) => e.reference || ""],
  ];
}

function profileCard(user) {
  const facts = [
    ["Name", user.display_name || "—"],
    ["User id", h("code", {}, user.id)],
    ["Status", h("span", { id: "user-status" }, user.status)],
    ["Admin", user.is_admin ? "yes" : "no"],
    ["Created", formatDate(user.created_at)],
    ["Last sign-in", formatDate(user.last_sign_in_at)],
    ["Sign-ins", (user.identities || []).map((i) => i.provider + " (" +
      (i.email || i.subject) + ")").join(", ") || "—"],
  ];
  return h("div", { class: "card" }, h("dl", { class: "facts" },
    facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}

function showBalance(dl, b) {
  const item = (label, micros, id) => h("div", {}, h("dt", {}, label),
    h("dd", { class: "big", id, "data-micros": micros },
      formatMicros(micros)));
  dl.replaceChildren(
    h("div", { class: "card" }, item("Balance", b.balance_micros,
                                     "balance")),
    h("div", { class: "card" }, item("Reserved", b.reserved_micros,
                                     "reserved")),
    h("div", { class: "card" }, item("Available", b.available_micros,
                                     "available")));
}

/* Suspend or reactivate: PATCH {"status"}, after a confirmation. */
function statusCard(ctx, base, user) {
  const line = statusLine("status-result");
  const button = h("button", { type: "button", id: "user-status-toggle" });
  const label = (s) => (s === "suspended" ? "Reactivate" : "Suspend");
  let status = user.status;
  button.textContent = label(status);
  button.className = status === "suspended" ? "primary" : "danger";
  button.addEventListener("click", async () => {
    const want = status === "suspended" ? "active" : "suspended";
    if (!confirm((want === "suspended" ? "Suspend " : "Reactivate ") +
                 (user.email || user.id) + "?"))
      return;
    button.disabled = true;
    try {
      const u = await ctx.api(base, { method: "PATCH",
                                      body: { status: want } });
      status = u.status;
      document.getElementById("user-status").textContent = status;
      button.textContent = label(status);
      button.className = status === "suspended" ? "primary" : "danger";
      line.textContent = status === "suspended" ?
        "Suspended: their sessions and keys are refused." : "Reactivated.";
    } catch (e) {
      showError(e);
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "card" }, h("h2", {}, "Account"),
           h("div", { class: "actions" }, button), line);
}

/* "-1.5" -> -1500000: parseCredits with an optional minus sign. */
function parseSignedCredits(text) {
  const m = /^\s*(-?)\s*(.*)$/.exec(text);
  const n = parseCredits(m[2]);
  return n === null ? null : m[1] ? -n : n;
}

/*
 * Grant credits (or take some back, with a minus): the amount typed in
 * credits and sent in micro-credits; the answer's balance is shown.
 */
function grantForm(ctx, base, balance) {
  const amount = field("Amount (credits)", { name: "amount",
    inputmode: "decimal", required: true, autocomplete: "off" },
    "Up to 6 decimals; a minus sign takes credits back.");
  const reason = field("Reason", { name: "reason", required: true,
                                   maxlength: 500 });
  const line = statusLine("grant-result");
  const form = h("form", { id: "grant", class: "card" },
    h("h2", {}, "Grant credits"), amount.el, reason.el,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Grant")), line);
  let key = newKey("console-grant");
  let sent = null;

  onSubmit(form, async () => {
    const micros = parseSignedCredits(amount.input.value);
    if (micros === null || micros === 0) {
      amount.input.setAttribute("aria-invalid", "true");
      amount.input.focus();
      throw new Error("Amount: a non-zero number of credits, such as 2.5.");
    }
    amount.input.removeAttribute("aria-invalid");
    const body = { amount_micros: micros, reason: reason.input.value.trim(),
                   idempotency_key: key };
    /* Another amount or reason is another grant: a key of its own. */
    if (sent !== null && (sent.amount_micros !== body.amount_micros ||
                          sent.reason !== body.reason))
      body.idempotency_key = key = newKey("console-grant");
    sent = body;
    const g = await ctx.api(base + "/credits", { method: "POST", body });
    showBalance(balance, g);
    line.textContent = (g.duplicate ? "Already granted: " : "Granted ") +
      formatMicros(g.amount_micros) + " credits. New balance: " +
      formatMicros(g.balance_micros) + ".";
    key = newKey("console-grant");
    sent = null;
    form.reset();
    const ledger = await ctx.api(base + "/ledger?limit=20");
    const area = document.getElementById("user-ledger");
    if (area) area.replaceChildren(table(null, ledgerColumns(), ledger.data,
                                         "No movements."));
  });
  return form;
}

/* Prices: the list, and one form to edit a model's or add one. */
async function pricesPage(root, ctx) {
  root.append(h("h1", {}, "Prices"),
              h("p", { class: "muted" }, "Micro-credits per million " +
                "tokens (1 credit = 1,000,000 micro-credits). A new price " +
                "applies to calls that start after it; past charges " +
                "never change."));
  const form = priceForm(ctx, () => pricesPage(clear(root), ctx));
  const list = await ctx.api("/api/admin/prices");
  root.append(h("div", { id: "price-list" }, table(null, [
    ["Model", (p) => h("code", {}, p.model)],
    ...PRICE_FIELDS.map(([k, label]) => [label, (p) => formatCount(p[k]),
                                         "num"]),
    ["Since", (p) => formatDate(p.effective_from)],
    ["", (p) => h("button", { type: "button", "data-model": p.model,
                              "aria-label": "Edit the price of " + p.model,
                              onclick: () => form.edit(p) }, "Edit")],
  ], list.data, "No prices.")), form.el);
}

/* The page again from the top (after a change): the sub-navigation stays. */
function clear(root) {
  while (root.children.length > 1) root.lastChild.remove();
  return root;
}

function priceForm(ctx, reload) {
  const model = field("Model (provider:model)", { name: "model",
    required: true, autocomplete: "off", spellcheck: "false" });
  const inputs = PRICE_FIELDS.map(([k, label]) => [k, field(label,
    { name: k, type: "number", min: 0, step: 1, inputmode: "numeric",
      required: k === "input_micros_per_mtok" ||
                k === "output_micros_per_mtok" },
    k === "request_fee_micros" ? "Micro-credits per call" :
    k.startsWith("cache") ? "Empty: the input price" : null)]);
  const line = statusLine("price-result");
  const heading = h("h2", {}, "Add a price");
  const el = h("form", { id: "price-form", class: "card" }, heading,
    model.el, inputs.map(([, f]) => f.el),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Save price")), line);

  onSubmit(el, async () => {
    const body = {};
    for (const [k, f] of inputs) {
      const v = f.input.value.trim();
      if (v === "") continue;
      if (!/^\d{1,13}$/.test(v))
        throw new Error(f.el.querySelector("label").textContent +
                        ": a whole number of micro-credits.");
      body[k] = Number(v);
    }
    const name = model.input.value.trim();
    const p = await ctx.api("/api/admin/prices/" + modelPath(name),
                            { method: "PUT", body });
    await reload();
    const again = document.getElementById("price-result");
    if (again) again.textContent = (p.changed ? "Saved the price of " :
      "No change to the price of ") + p.model + ".";
  });

  return {
    el,
    edit(p) {
      heading.textContent = "Edit the price of " + p.model;
      model.input.value = p.model;
      for (const [k, f] of inputs)
        f.input.value = p[k] === undefined || p[k] === null ? "" : p[k];
      line.textContent = "";
      inputs[0][1].input.focus();
    },
  };
}

/* A model id in a path: its slashes (openrouter:a/b) percent-encoded. */
function modelPath(model) {
  return encodeURIComponent(model).replace(/%3A/gi, ":");
}

/* Packages: the list, and a form to edit one or add one. */
async function packagesPage(root, ctx) {
  root.append(h("h1", {}, "Packages"),
              h("p", { class: "muted" }, "What buyers see on the Buy " +
                "credits page. Packages are never deleted: make one " +
                "inactive to stop selling it."));
  const form = packageForm(ctx, () => packagesPage(clear(root), ctx));
  const list = await ctx.api("/api/admin/packages");
  root.append(h("div", { id: "package-list" }, table(null, [
    ["Name", (p) => p.name],
    ["Price", (p) => formatMoney(p.price_minor, p.currency), "num"],
    ["Credits", (p) => formatMicros(p.credits_micros), "num"],
    ["Active", (p) => (p.active ? "yes" : "no")],
    ["Updated", (p) => formatDate(p.updated_at)],
    ["", (p) => h("button", { type: "button", "data-package": p.id,
                              "aria-label": "Edit " + p.name,
                              onclick: () => form.edit(p) }, "Edit")],
  ], list.data, "No packages yet.")), form.el);
}

function packageForm(ctx, reload) {
  const name = field("Name", { name: "name", required: true,
                               maxlength: 100 });
  const price = field("Price, in the currency's minor unit", {
    name: "price_minor", type: "number", min: 1, max: 99999999, step: 1,
    required: true }, "Cents for usd: 1000 is $10.00");
  const currency = field("Currency", { name: "currency", required: true,
    minlength: 3, maxlength: 3, value: "usd", autocomplete: "off" });
  const credits = field("Credits", { name: "credits", required: true,
    inputmode: "decimal", autocomplete: "off" }, "Up to 6 decimals");
  const active = h("input", { type: "checkbox", name: "active", id:
                              "package-active", checked: true });
  const line = statusLine("package-result");
  const heading = h("h2", {}, "Add a package");
  const el = h("form", { id: "package-form", class: "card" }, heading,
    name.el, price.el, currency.el, credits.el,
    h("div", { class: "field check" }, active,
      h("label", { for: "package-active" }, "Active (for sale)")),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Save package")),
    line);
  let id = crypto.randomUUID();

  onSubmit(el, async () => {
    const micros = parseCredits(credits.input.value);
    if (micros === null || micros === 0)
      throw new Error("Credits: a positive number, such as 10 or 2.5.");
    if (!/^\d{1,8}$/.test(price.input.value.trim()))
      throw new Error("Price: a whole number of minor units (cents).");
    const body = { name: name.input.value.trim(),
                   price_minor: Number(price.input.value.trim()),
                   currency: currency.input.value.trim().toLowerCase(),
                   credits_micros: micros, active: active.checked };
    const p = await ctx.api("/api/admin/packages/" + id,
                            { method: "PUT", body });
    await reload();
    const again = document.getElementById("package-result");
    if (again) again.textContent = "Saved " + p.name + ".";
  });

  return {
    el,
    edit(p) {
      id = p.id;
      heading.textContent = "Edit " + p.name;
      name.input.value = p.name;
      price.input.value = p.price_minor;
      currency.input.value = p.currency;
      credits.input.value = formatMicros(p.credits_micros).replace(/,/g, "");
      active.checked = p.active;
      line.textContent = "";
      name.input.focus();
    },
  };
}

/* Payments: a status filter, flagged ones marked, refunds. */
async function paymentsPage(root, ctx, query) {
  const status = query.get("status") || "";
  const cursor = query.get("cursor") || "";
  root.append(h("h1", {}, "Payments"));

  const select = field("Status", { tag: "select", name: "status" });
  select.input.append(h("option", { value: "" }, "Any"),
    ...PAYMENT_STATES.map((s) => h("option", { value: s,
                                                selected: s === status }, s)));
  select.input.addEventListener("change", () => ctx.navigate(
    "/admin/payments" + (select.input.value ? "?status=" +
                         select.input.value : "")));
  root.append(h("form", { id: "payment-filter", class: "card" }, select.el));

  const qs = new URLSearchParams({ limit: "50" });
  if (status) qs.set("status", status);
  if (cursor) qs.set("cursor", cursor);
  const list = await ctx.api("/api/admin/payments?" + qs);
  const line = statusLine("refund-result");
  root.append(line);
  if (list.data.length === 0) {
    root.append(h("p", { class: "muted" }, "No payments."));
    return;
  }
  const rows = list.data.map((p) => h("tr", {
    class: p.status === "flagged" || p.flag ? "flagged" : null,
    "data-payment": p.id },
    h("td", {}, formatDate(p.created_at)),
    h("td", {}, p.user_id ? h("a", { href: "/admin/users/" + p.user_id },
                              p.email || p.user_id) : p.email || "—"),
    h("td", {}, p.package_name),
    h("td", { class: "num" }, formatMoney(p.amount_minor, p.currency)),
    h("td", { class: "num" }, formatMicros(p.credits_micros)),
    h("td", {}, h("span", { class: "state" }, p.status),
      p.flag ? h("span", { class: "flag" }, " ⚑ " + p.flag) : null,
      p.refunded_minor > 0 ? h("span", { class: "muted" }, " (refunded " +
        formatMoney(p.refunded_minor, p.currency) + ")") : null),
    h("td", {}, REFUNDABLE.has(p.status) ?
      refundButton(ctx, p, line, () => paymentsPage(clear(root), ctx, query))
      : null)));
  root.append(h("div", { class: "scroll", id: "payment-list" },
    h("table", { class: "list" },
      h("thead", {}, h("tr", {}, ["Created", "User", "Package", "Amount",
        "Credits", "Status", ""].map((t, i) => h("th", { scope: "col",
          class: i === 3 || i === 4 ? "num" : null }, t)))),
      h("tbody", {}, rows))),
    pager("/admin/payments", { status, cursor }, list.next_cursor));
}

/* Refund what is left of a payment, once (one key per button). */
function refundButton(ctx, p, line, reload) {
  const key = newKey("console-refund");
  const left = p.amount_minor - (p.refunded_minor || 0);
  const b = h("button", { type: "button", class: "danger refund",
                          "aria-label": "Refund " + p.package_name + " of " +
                            (p.email || p.user_id) });
  b.textContent = "Refund";
  b.addEventListener("click", async () => {
    if (!confirm("Refund " + formatMoney(left, p.currency) + " to " +
                 (p.email || p.user_id) + "? The credits are taken back " +
                 "when Stripe confirms it."))
      return;
    b.disabled = true;
    try {
      const r = await ctx.api("/api/admin/payments/" + p.id + "/refund", {
        method: "POST", headers: { "Idempotency-Key": key }, body: {} });
      await reload();
      const again = document.getElementById("refund-result");
      (again || line).textContent = "Refund of " +
        formatMoney(r.amount_minor, r.currency) + ": " + r.status + ".";
    } catch (e) {
      b.disabled = false;
      showError(e);
    }
  });
  return b;
}
