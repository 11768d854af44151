/*
 * /signin?return_to=<page>: a button per sign-in provider (a top-level
 * navigation to /auth/<p>/start?return_to=..., which comes back to that
 * page with the refresh cookie set), and the dev login form when this
 * server has it on (console/config.json).
 */

import { field, h, showError } from "/console/ui.js";

/* Only a path of this origin; anything else returns to the overview. */
function returnTo(query) {
  const r = query.get("return_to") || "/";
  return /^\/(?![/\\])/.test(r) && !r.startsWith("/signin") ? r : "/";
}

export async function mount(root, ctx, route) {
  const next = returnTo(route.query);
  const [providers, config] = await Promise.all([
    fetch("/auth/providers").then((r) => r.json()),
    fetch("/console/config.json").then((r) => r.json()),
  ]);

  root.append(h("h1", {}, "Sign in"));
  const list = h("ul", { class: "providers" },
    providers.data.map((p) => h("li", {},
      h("a", { class: "button primary", id: "signin-" + p.id,
               href: p.start_url + "?return_to=" + encodeURIComponent(next) },
        "Sign in with " + p.name))));
  if (providers.data.length > 0) root.append(list);

  if (config.dev_login) root.append(devLogin(ctx, next));
  if (providers.data.length === 0 && !config.dev_login)
    root.append(h("p", {}, "No sign-in provider is configured on this " +
                  "server (docs/auth.md)."));
}

function devLogin(ctx, next) {
  const email = field("Email", { type: "email", name: "email",
                                 required: true, autocomplete: "email" },
                      "The dev login (TOLLGATE_DEV_LOGIN=1): any address, " +
                      "no password.");
  const form = h("form", { class: "card", id: "dev-login" },
    h("h2", {}, "Dev login"), email.el,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Sign in")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await fetch("/auth/dev/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: email.input.value }) });
      const doc = await r.json();
      if (!r.ok)
        throw Object.assign(new Error(doc.error.message),
                            { requestId: r.headers.get("X-Request-Id") });
      await ctx.signedIn(doc.access_token, next);
    } catch (e) {
      showError(e);
    }
  });
  return form;
}
