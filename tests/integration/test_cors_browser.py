"""CORS in a real browser: headless Chromium (Debian's /usr/bin/chromium,
driven by playwright-core from tests/node) loads a page from a second
origin listed in TOLLGATE_CORS_ORIGINS, and that page, with fetch() and
credentials, signs in (dev login), refreshes with the cookie and reads
/api/me: every call passes the browser's preflight and CORS checks. The
same script on a page from an origin not listed is blocked by the
browser, and tollgate's answer never reaches it."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lib.browser import NODE_DIR, needed

pytestmark = needed

SCRIPT = r"""
const { chromium } = require('playwright-core');

// What a UI's page does (docs/frontend.md), run in the page's origin.
async function ui(tollgate) {
  const out = {};
  try {
    const login = await fetch(tollgate + '/auth/dev/login', {
      method: 'POST', credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'browser@example.com' }) });
    out.login = login.status;
    out.request_id = login.headers.get('X-Request-Id');
    const r = await fetch(tollgate + '/auth/refresh', {
      method: 'POST', credentials: 'include' });
    out.refresh = r.status;
    const token = (await r.json()).access_token;
    const me = await fetch(tollgate + '/api/me', {
      credentials: 'include', headers: { Authorization: 'Bearer ' + token } });
    out.me = me.status;
    out.email = (await me.json()).email;
    const bad = await fetch(tollgate + '/api/me', {
      credentials: 'include', headers: { Authorization: 'Bearer nope' } });
    out.error_status = bad.status;
    out.error_code = (await bad.json()).error.code;
  } catch (e) {
    out.blocked = String(e);
  }
  return out;
}

(async () => {
  const [tollgate, listed, unlisted, profile] = process.argv.slice(2);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
           '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const result = {};
  try {
    const page = context.pages()[0] || await context.newPage();
    const console_errors = [];
    page.on('console', (m) => { if (m.type() === 'error')
      console_errors.push(m.text()); });
    await page.goto(listed + '/');
    result.listed = await page.evaluate(ui, tollgate);
    result.cookies = await context.cookies(tollgate + '/auth/refresh');
    await page.goto(unlisted + '/');
    result.unlisted = await page.evaluate(ui, tollgate);
    result.console_errors = console_errors;
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(result));
})().catch((e) => { console.error(e); process.exit(1); });
"""


class _Page(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        body = b"<!doctype html><title>UI</title><h1>UI</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _origin():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, "http://127.0.0.1:%d" % httpd.server_address[1]


def test_a_listed_origin_calls_the_api_and_another_is_blocked(tollgate, db):
    (a, listed), (b, unlisted) = _origin(), _origin()
    try:
        t = tollgate(env={"TOLLGATE_CORS_ORIGINS": listed,
                          "TOLLGATE_UI_URL": listed})
        work = tempfile.mkdtemp(prefix="tg-cors-browser-")
        try:
            script = os.path.join(work, "cors.js")
            with open(script, "w") as f:
                f.write(SCRIPT)
            env = dict(os.environ, NODE_PATH=os.path.join(
                NODE_DIR, "node_modules"), HOME=work)
            p = subprocess.run(["node", script, t.url, listed, unlisted,
                                os.path.join(work, "profile")],
                               cwd=NODE_DIR, env=env, capture_output=True,
                               text=True, timeout=120)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        for httpd in (a, b):
            httpd.shutdown()
            httpd.server_close()
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])

    ok = out["listed"]
    assert "blocked" not in ok, ok
    assert ok["login"] == 200 and ok["refresh"] == 200 and ok["me"] == 200
    assert ok["email"] == "browser@example.com"
    assert ok["request_id"]                       # an exposed header
    assert (ok["error_status"], ok["error_code"]) == (401, "invalid_token")
    rt = {c["name"]: c for c in out["cookies"]}["tg_refresh"]
    assert rt["httpOnly"] is True and rt["sameSite"] == "Lax"

    # The unlisted origin: the browser refuses the preflight, the page
    # sees a network error and nothing of tollgate's answer.
    bad = out["unlisted"]
    assert set(bad) == {"blocked"}, bad
    assert "Failed to fetch" in bad["blocked"]
    assert db.query("SELECT count(*) FROM users WHERE email = "
                    "'browser@example.com'") == [(1,)]
