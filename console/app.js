/*
 * The console's shell: path routing (History API), the session (the
 * access token in memory only, refreshed through the HttpOnly refresh
 * cookie on load and once on token_expired, docs/frontend.md), the api()
 * helper, the navigation and the page modules.
 *
 * Pages are paths, because the places tollgate sends a browser back to
 * are paths on TOLLGATE_UI_URL: return_to after sign-in, and
 * /billing/success and /billing/cancel ?payment_id= after Stripe.
 * app/core/console.c serves index.html for every page path below and the
 * assets under /console/<file>.
 *
 *   /                  overview: balance, the latest calls
 *   /signin            providers, the dev login when it is on
 *   /keys              API keys
 *   /credits           balance, reserved, the ledger
 *   /usage             charts by day, model and key; recent calls
 *   /buy               packages, Stripe Checkout
 *   /billing/success   ?payment_id=: pending until credited, then balance
 *   /billing/cancel    ?payment_id=
 *   /profile           the profile, sign-out
 *   /admin, /admin/... admin pages (console/admin.js, below)
 *
 * The admin pages' contract (console/admin.js, written separately):
 *
 *   export async function mountAdmin(root, ctx, route)
 *
 *   - Called for every path that is /admin or starts with /admin/, after
 *     the user is signed in and /api/me says is_admin; the shell shows an
 *     "Admin" entry (href /admin) in the navigation only then. The module
 *     is loaded with import("/console/admin.js") on the first such path.
 *   - root: an empty <section> inside <main>; the module owns its content
 *     (including its own <h1>); the shell empties it on the next
 *     navigation. Nothing to clean up (a returned value is ignored).
 *   - route: { path, query } where path is location.pathname (e.g.
 *     "/admin/users/0b6f…") and query a URLSearchParams of location.search.
 *   - ctx.me: the /api/me object. ctx.navigate(path): go to a page of the
 *     console (pushState, then the page is mounted). Plain
 *     <a href="/admin/users/ID"> links work too: the shell intercepts
 *     same-origin link clicks.
 *   - ctx.api(path, init): fetch with the access token; init as fetch's
 *     (method, headers) but body may be an object (sent as JSON).
 *     Resolves to the parsed JSON, null for 204, or the text when the
 *     answer is not JSON (Accept: text/csv). Rejects with an Error having
 *     status, type, code, param, message and requestId (X-Request-Id);
 *     token_expired is handled inside (one refresh, one retry).
 *   - A rejection of mountAdmin, or an error passed to showError from
 *     /console/ui.js, is shown in the page's aria-live error area with
 *     its request id.
 *   - Helpers shared by every page: import { h, showError, formatMicros,
 *     formatDate } from "/console/ui.js". h(tag, attrs, ...children)
 *     builds an element (attrs: properties or attributes; "on*" are
 *     listeners; never a style attribute, which the CSP forbids).
 *   - Styles: the classes of console.css (table.list, .card, .actions,
 *     button.primary, button.danger, .muted, .num, .field); more in
 *     console/admin.css, which mountAdmin links itself
 *     (<link rel="stylesheet" href="/console/admin.css">) if it needs it.
 *   - Every file in console/ is embedded by make and served as
 *     /console/<name>: admin.js and admin.css need no build change.
 */

import { clearErrors, h, showError } from "/console/ui.js";

/* Pages that need no session. */
const PUBLIC = new Set(["/signin"]);

/* The page modules, loaded when first shown. */
const PAGES = {
  "/": "/console/overview.js",
  "/signin": "/console/signin.js",
  "/keys": "/console/keys.js",
  "/credits": "/console/credits.js",
  "/usage": "/console/usage.js",
  "/buy": "/console/buy.js",
  "/billing/success": "/console/buy.js",
  "/billing/cancel": "/console/buy.js",
  "/profile": "/console/profile.js",
};

let token = null;       /* the access token: in memory only */
let refreshing = null;  /* the refresh in flight, shared by every caller */
let me = null;          /* /api/me, once signed in */
let generation = 0;     /* bumped on each navigation: stale pages stop */

class ApiError extends Error {
  constructor(status, err, requestId) {
    super((err && err.message) || "HTTP " + status);
    Object.assign(this, { status, type: err && err.type,
                          code: err && err.code, param: err && err.param,
                          requestId });
  }
}

/* POST /auth/refresh: one at a time (the cookie rotates on each). */
function refresh() {
  refreshing ??= fetch("/auth/refresh", { method: "POST",
                                          credentials: "same-origin" })
    .then(async (r) => {
      if (!r.ok) {
        token = null;
        throw await errorOf(r);
      }
      token = (await r.json()).access_token;
    })
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function errorOf(r) {
  let err = null;
  try {
    err = (await r.json()).error;
  } catch (e) {
    /* not the contract's shape (a proxy's page): keep the status */
  }
  return new ApiError(r.status, err, r.headers.get("X-Request-Id"));
}

/*
 * fetch with the access token; body may be an object (sent as JSON).
 * token_expired: one refresh, one retry. Any other 401 means signed out.
 */
export async function api(path, init = {}) {
  if (token === null) await refresh();
  let body = init.body;
  const headers = { ...init.headers };
  if (body !== undefined && typeof body !== "string") {
    body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(path, { ...init, body, credentials: "same-origin",
      headers: { ...headers, Authorization: "Bearer " + token } });
    if (r.ok) {
      if (r.status === 204) return null;
      const type = r.headers.get("Content-Type") || "";
      return type.startsWith("application/json") ? r.json() : r.text();
    }
    const err = await errorOf(r);
    if (r.status === 401 && err.code === "token_expired" && attempt === 0) {
      await refresh();
      continue;
    }
    if (r.status === 401) signedOut();
    throw err;
  }
}

/* The session ended under us: back to the sign-in page. */
function signedOut() {
  token = null;
  me = null;
  if (!PUBLIC.has(location.pathname))
    navigate("/signin?return_to=" + encodeURIComponent(here()), true);
}

export async function signOut() {
  try {
    await fetch("/auth/logout", { method: "POST", credentials: "same-origin",
      headers: token ? { Authorization: "Bearer " + token } : {} });
  } finally {
    token = null;
    me = null;
    navigate("/signin", true);
  }
}

/* After the dev login: the token came in its answer. */
export async function signedIn(accessToken, next) {
  token = accessToken;
  me = null;
  navigate(next || "/", true);
}

function here() {
  return location.pathname + location.search;
}

export function navigate(path, replace) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  show();
}

/* A link to one of our pages is followed without reloading. */
function isPage(path) {
  return path in PAGES || path === "/admin" || path.startsWith("/admin/");
}

function onClick(ev) {
  const a = ev.target.closest("a[href]");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey ||
      ev.ctrlKey || ev.shiftKey || ev.altKey || a.target || a.download)
    return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || !isPage(url.pathname)) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
}

/* Who is signed in, or null (no or an ended session). */
async function whoami() {
  if (me !== null) return me;
  try {
    me = await api("/api/me");
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
  return me;
}

async function show() {
  const gen = ++generation;
  const path = location.pathname;
  const query = new URLSearchParams(location.search);
  const main = document.getElementById("main");
  clearErrors();

  let user = null;
  try {
    user = await whoami();
  } catch (e) {
    showError(e);
  }
  if (gen !== generation) return;

  const nav = document.getElementById("nav");
  nav.hidden = user === null;
  document.getElementById("nav-admin").hidden = !(user && user.is_admin);
  for (const a of nav.querySelectorAll("a")) {
    const cur = a.getAttribute("href") === path ||
      (a.getAttribute("href") === "/buy" && path.startsWith("/billing/"));
    if (cur) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }

  if (user === null && !PUBLIC.has(path)) {
    history.replaceState(null, "", "/signin?return_to=" +
                         encodeURIComponent(path + location.search));
    return show();
  }

  const root = h("section", {});
  main.replaceChildren(root);
  const ctx = { api, me: user, navigate, signOut, signedIn,
                live: () => gen === generation };
  const route = { path, query };
  try {
    if (path === "/admin" || path.startsWith("/admin/")) {
      if (!user.is_admin) throw new Error("This page is for admins.");
      const m = await import("/console/admin.js");
      await m.mountAdmin(root, ctx, route);
    } else if (path in PAGES) {
      const m = await import(PAGES[path]);
      await m.mount(root, ctx, route);
    } else {
      root.append(h("h1", {}, "Not found"),
                  h("p", {}, h("a", { href: "/" }, "To the overview")));
    }
  } catch (e) {
    if (gen === generation) showError(e);
  }
  if (gen === generation) {
    /* A screen reader follows a navigation to the new page. */
    if (gen > 1) main.focus();
    const h1 = root.querySelector("h1");
    document.title = (h1 ? h1.textContent + " · " : "") + "Tollgate";
  }
}

document.addEventListener("click", onClick);
document.getElementById("sign-out").addEventListener("click",
  () => signOut().catch(showError));
window.addEventListener("popstate", show);
show();
