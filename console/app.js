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
