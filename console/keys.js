/*
 * /keys: create a key (its secret shown once, with a copy button: the
 * server never shows it again), list the keys, edit one (name, spend
 * limit, allowed models, disabled) and revoke it (two clicks, no
 * dialog).
 */

import { field, formatDate, formatMicros, h, parseCredits, showError,
         table } from "/console/ui.js";

export async function mount(root, ctx) {
  root.append(h("h1", {}, "API keys"));
  const secret = h("div", { id: "key-secret", "aria-live": "polite" });
  const list = h("div", { id: "key-list" });
  const editor = h("div", { id: "key-editor" });
  root.append(createForm(ctx, secret, () => load(ctx, list, editor)),
              secret, list, editor);
  await load(ctx, list, editor);
}

/* "a, b" -> ["a", "b"]; "" -> null (every model). */
function models(text) {
  const v = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return v.length ? v : null;
}

/* "" -> null (no limit); a bad amount throws, naming the field. */
function limit(text) {
  if (text.trim() === "") return null;
  const v = parseCredits(text);
  if (v === null)
    throw new Error("The spend limit is an amount of credits, such as 2.5.");
  return v;
}

function keyFields(k) {
  const f = {
    name: field("Name", { name: "name", required: true, maxlength: 100,
                          value: k ? k.name : "" }),
    limit: field("Spend limit (credits)", { name: "spend_limit",
      inputmode: "decimal", value: k && k.spend_limit_micros !== null ?
        formatMicros(k.spend_limit_micros).replace(/,/g, "") : "" },
      "Empty: no limit."),
    models: field("Allowed models", { name: "allowed_models",
      value: k ? k.allowed_models.join(", ") : "" },
      "Comma-separated, * wildcards allowed; empty: every model."),
  };
  return f;
}

function createForm(ctx, secret, reload) {
  const f = keyFields(null);
  const form = h("form", { class: "card", id: "key-create" },
    h("h2", {}, "New key"), f.name.el, f.limit.el, f.models.el,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Create key")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const body = { name: f.name.input.value,
                     spend_limit_micros: limit(f.limit.input.value),
                     allowed_models: models(f.models.input.value) };
      const k = await ctx.api("/api/keys", { method: "POST", body });
      form.reset();
      showSecret(secret, k);
      await reload();
    } catch (e) {
      showError(e);
    }
  });
  return form;
}

function showSecret(box, k) {
  const value = h("input", { id: "new-key", readonly: true, value: k.key,
                             "aria-label": "The new key", class: "mono" });
  const status = h("span", { class: "muted", "aria-live": "polite" });
  const copy = h("button", { type: "button", id: "copy-key" }, "Copy");
  copy.addEventListener("click", async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(k.key);
      status.textContent = "Copied.";
    } catch (e) {
      status.textContent = "Select the key and copy it.";
    }
  });
  box.replaceChildren(h("div", { class: "card notice" },
    h("h2", {}, "Your new key “" + k.name + "”"),
    h("p", {}, "Copy it now: it is shown this once."),
    h("div", { class: "copy" }, value, copy), status));
  value.focus();
  value.select();
}

function state(k) {
  if (k.revoked) return "revoked";
  if (k.expired) return "expired";
  if (k.disabled) return "disabled";
  return "active";
}

async function load(ctx, list, editor) {
  const keys = [];
  let cursor = null;
  do {
    const page = await ctx.api("/api/keys?limit=100" +
      (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    keys.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);

  const reload = () => load(ctx, list, editor);
  list.replaceChildren(h("h2", {}, "Your keys"), table(null, [
    ["Name", (k) => k.name],
    ["Key", (k) => h("code", {}, k.prefix + "…" + k.last4)],
    ["Created", (k) => formatDate(k.created_at)],
    ["Last used", (k) => formatDate(k.last_used_at)],
    ["Spent", (k) => formatMicros(k.spent_micros) +
      (k.spend_limit_micros !== null ?
        " / " + formatMicros(k.spend_limit_micros) : ""), "num"],
    ["Models", (k) => k.allowed_models.length ?
      k.allowed_models.join(", ") : "all"],
    ["State", (k) => state(k)],
    ["", (k) => k.revoked ? "" : h("div", { class: "actions" },
      h("button", { type: "button", "data-key": k.id, class: "edit",
                    onclick: () => edit(ctx, editor, k, reload) }, "Edit"),
      revokeButton(ctx, k, reload))],
  ], keys, "No keys yet."));
}

function revokeButton(ctx, k, reload) {
  const b = h("button", { type: "button", class: "danger revoke",
                          "data-key": k.id }, "Revoke");
  b.addEventListener("click", async () => {
    if (b.dataset.armed !== "1") {
      b.dataset.armed = "1";
      b.textContent = "Revoke for good?";
      return;
    }
    try {
      await ctx.api("/api/keys/" + encodeURIComponent(k.id),
                    { method: "DELETE" });
      await reload();
    } catch (e) {
      showError(e);
    }
  });
  return b;
}

function edit(ctx, editor, k, reload) {
  const f = keyFields(k);
  const disabled = h("input", { type: "checkbox", id: "key-disabled",
                                checked: k.disabled });
  const form = h("form", { class: "card", id: "key-edit" },
    h("h2", {}, "Edit “" + k.name + "”"), f.name.el, f.limit.el,
    f.models.el,
    h("div", { class: "field check" }, disabled,
      h("label", { for: "key-disabled" }, "Disabled (calls refused)")),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button",
                    onclick: () => editor.replaceChildren() }, "Cancel")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const body = { name: f.name.input.value,
                     spend_limit_micros: limit(f.limit.input.value),
                     allowed_models: models(f.models.input.value),
                     disabled: disabled.checked };
      await ctx.api("/api/keys/" + encodeURIComponent(k.id),
                    { method: "PATCH", body });
      editor.replaceChildren();
      await reload();
    } catch (e) {
      showError(e);
    }
  });
  editor.replaceChildren(form);
  f.name.input.focus();
}
