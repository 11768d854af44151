/*
 * /: the balance, how to call the API with a key, and the latest calls.
 */

import { formatCount, formatDate, formatMicros, h, table } from "/console/ui.js";

export async function mount(root, ctx) {
  const [credits, calls] = await Promise.all([
    ctx.api("/api/credits"),
    ctx.api("/api/usage/requests?limit=5"),
  ]);
  const name = ctx.me.profile.display_name || ctx.me.email;

  root.append(
    h("h1", {}, "Overview"),
    h("p", {}, "Signed in as ", h("strong", {}, name), "."),
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("h2", {}, "Available"),
        h("p", { class: "big num", id: "available" },
          formatMicros(credits.available_micros)),
        h("p", {}, h("a", { href: "/buy" }, "Buy credits"))),
      h("div", { class: "card" }, h("h2", {}, "API keys"),
        h("p", {}, "Create a key, then call ",
          h("code", {}, location.origin + "/v1"),
          " with any OpenAI client."),
        h("p", {}, h("a", { href: "/keys" }, "Manage keys")))),
    h("h2", {}, "Latest calls"),
    table(null, [
      ["When", (r) => formatDate(r.created_at)],
      ["Model", (r) => r.model],
      ["Tokens", (r) => formatCount(r.prompt_tokens + r.completion_tokens),
       "num"],
      ["Cost", (r) => formatMicros(r.cost_micros), "num"],
    ], calls.data, "No calls yet."),
    h("p", {}, h("a", { href: "/usage" }, "All usage")));
}
