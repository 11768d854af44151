"""Identity in a real browser: headless Chromium (Debian's /usr/bin/chromium)
driven by playwright-core from tests/node signs in with the fake GitHub's
HTML sign-in page and ends on the UI URL with a working session: the
refresh cookie (HttpOnly, SameSite=Lax, Path=/auth) in the browser, an
access token from POST /auth/refresh, and GET /api/me with it.

No browser is downloaded: playwright-core launches the system Chromium."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fakes.github import FakeGitHub
from lib.browser import NODE_DIR, needed

pytestmark = needed

SCRIPT = r"""
const { chromium } = require('playwright-core');

(async () => {
  const [tollgate, ui, profile] = process.argv.slice(2);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
           '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const out = {};
  try {
    const page = context.pages()[0] || await context.newPage();
    await page.goto(tollgate + '/auth/github/start?return_to=' +
                    encodeURIComponent('/welcome?from=login'));
    out.provider_title = await page.title();
    await page.fill('#login', 'octocat');
    await Promise.all([
      page.waitForURL(ui + '/welcome?from=login', { timeout: 20000 }),
      page.click('#authorize'),
    ]);
    out.final_url = page.url();
    out.ui_heading = await page.textContent('h1');
    out.page_cookies = await page.evaluate(() => document.cookie);
    out.cookies = await context.cookies(tollgate + '/auth/refresh');

    const r = await context.request.post(tollgate + '/auth/refresh', {
      headers: { 'X-Tollgate-CSRF': '1' } });
    out.refresh_status = r.status();
    const tok = await r.json();
    out.token_type = tok.token_type;
    const me = await context.request.get(tollgate + '/api/me', {
      headers: { Authorization: 'Bearer ' + tok.access_token } });
    out.me_status = me.status();
    out.me = await me.json();

    // Without the CSRF header (a cross-site form could send the cookie,
    // not the header) the refresh is refused.
    const bad = await context.request.post(tollgate + '/auth/refresh', {
      headers: { Origin: 'https://evil.example' } });
    out.csrf_status = bad.status();
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""


class _UI(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        body = ("<!doctype html><title>Tollgate UI</title>"
                "<h1>Tollgate UI</h1><p>%s</p>" % self.path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def ui_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _UI)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_github_login_in_chromium(tollgate, db, ui_server):
    gh = FakeGitHub().start()
    try:
        gh.login_page = True
        t = tollgate(env=dict(gh.env(), TOLLGATE_UI_URL=ui_server))
        work = tempfile.mkdtemp(prefix="tg-browser-")
        try:
            script = os.path.join(work, "login.js")
            with open(script, "w") as f:
                f.write(SCRIPT)
            profile = os.path.join(work, "profile")
            env = dict(os.environ, NODE_PATH=os.path.join(
                NODE_DIR, "node_modules"), HOME=work)
            p = subprocess.run(["node", script, t.url, ui_server, profile],
                               cwd=NODE_DIR, env=env, capture_output=True,
                               text=True, timeout=120)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        assert p.returncode == 0, p.stdout + p.stderr
        out = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        gh.stop()

    assert out["provider_title"] == "Sign in to github"
    assert out["final_url"] == ui_server + "/welcome?from=login"
    assert out["ui_heading"] == "Tollgate UI"
    cookies = {c["name"]: c for c in out["cookies"]}
    assert "tg_oauth" not in cookies                 # spent
    rt = cookies["tg_refresh"]
    assert rt["httpOnly"] is True and rt["sameSite"] == "Lax"
    assert rt["path"] == "/auth" and rt["secure"] is False
    assert "tg_refresh" not in out["page_cookies"]   # HttpOnly
    assert out["refresh_status"] == 200 and out["token_type"] == "Bearer"
    assert out["me_status"] == 200
    me = out["me"]
    assert me["identities"] == [{"provider": "github", "subject": "583231",
                                 "email": "octocat@example.com"}]
    assert me["profile"]["display_name"] == "The Octocat"
    assert out["csrf_status"] == 403
    assert db.query("SELECT count(*) FROM sessions WHERE revoked_at IS NULL"
                    ) == [(1,)]
