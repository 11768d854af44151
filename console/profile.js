/*
 * /profile: the account (email, sign-in identities), the profile form
 * (PATCH /api/me/profile; an empty field clears it), and sign-out.
 */

import { field, h, showError } from "/console/ui.js";

const FIELDS = [
  ["display_name", "Display name", {}],
  ["avatar_url", "Avatar URL", { type: "url" }, "https only."],
  ["locale", "Locale", {}, "A language tag, such as en-US."],
  ["timezone", "Time zone", {}, "Such as Europe/Paris."],
  ["default_model", "Default model", {}],
];

export async function mount(root, ctx) {
  const me = await ctx.api("/api/me");
  const inputs = {};
  const saved = h("p", { class: "muted", "aria-live": "polite" });
  const form = h("form", { class: "card", id: "profile" },
    h("h2", {}, "Profile"),
    FIELDS.map(([name, label, attrs, hint]) => {
      const f = field(label, { name, value: me.profile[name] || "",
                               ...attrs }, hint);
      inputs[name] = f.input;
      return f.el;
    }),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Save")), saved);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [name] of FIELDS)
      body[name] = inputs[name].value.trim() || null;
    try {
      await ctx.api("/api/me/profile", { method: "PATCH", body });
      saved.textContent = "Saved.";
    } catch (e) {
      showError(e);
    }
  });

  root.append(h("h1", {}, "Profile"),
    h("dl", { class: "facts" },
      h("dt", {}, "Email"), h("dd", {}, me.email || "—"),
      h("dt", {}, "Signed in with"),
      h("dd", {}, me.identities.map((i) => i.provider).join(", ") || "—")),
    form,
    h("div", { class: "actions" },
      h("button", { type: "button",
                    onclick: () => ctx.signOut().catch(showError) },
        "Sign out")));
}
