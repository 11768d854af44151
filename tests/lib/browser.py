"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium,
driven by playwright-core from tests/node (no browser is downloaded).

A test writes the body of an async function in JavaScript that gets
`page` (a Page of a fresh profile), `tollgate` (the server's URL), `out`
(an object it fills), `text(selector)` (an element's trimmed text),
`sideways(paths)` (how far each page of tollgate scrolls sideways at the
current viewport: 0 fits), `ask(question)` (the answer of run()'s
answer callback, for what happens outside the browser) and `signedOut` (true: a 401 from /auth/refresh
is expected; set it to false once signed in), and calls
run(body, tollgate_url). The prelude around it watches every
page of tollgate for console errors, uncaught exceptions and
Content-Security-Policy violations (out["problems"]); an exception in the
body ends it with out["failure"] (its stack), out["failure_url"] and
out["failure_page"] (the page's text). run() returns out.

Under TOLLGATE_TESTS_STRICT=1 (CI) a skip is a failure (conftest.py), so
`pytestmark = browser.needed` cannot hide a missing browser there."""

import json
import os
import shutil
import subprocess
import tempfile
import threading

import pytest

from lib.server import ROOT

CHROMIUM = "/usr/bin/chromium"
NODE_DIR = os.path.join(ROOT, "tests", "node")

needed = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) or shutil.which("node") is None or
    not os.path.isdir(os.path.join(NODE_DIR, "node_modules",
                                   "playwright-core")),
    reason="needs /usr/bin/chromium, node and tests/node/node_modules")

PRELUDE = r"""
const { chromium } = require('playwright-core');
const readline = require('readline');

// ask(question): the test's answer (run()'s answer callback) to what
// happens outside the browser, over stdout ("ASK {json}") and stdin.
const lines = readline.createInterface({ input: process.stdin });
const answers = [];
let waiting = null;
lines.on('line', (l) => { if (waiting) { const w = waiting; waiting = null;
  w(JSON.parse(l)); } else answers.push(JSON.parse(l)); });
function ask(q) {
  process.stdout.write('ASK ' + JSON.stringify(q) + '\n');
  return new Promise((resolve) => {
    if (answers.length) resolve(answers.shift()); else waiting = resolve;
  });
}

(async () => {
  const [tollgate, profile] = process.argv.slice(2);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
           '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  // Every CSP violation becomes a console error of its page.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error('CSP violation: ' + e.violatedDirective + ' ' +
                    e.blockedURI));
  });
  const out = { problems: [] };
  let signedOut = true;
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if ((m.type() !== 'error' && m.type() !== 'warning') ||
        !page.url().startsWith(tollgate))
      return;
    // The one expected: while nobody is signed in (until the body sets
    // signedOut = false), the refresh the console tries first answers
    // 401, which Chromium logs as a failed load.
    if (m.location().url === tollgate + '/auth/refresh' &&
        m.text().includes('status of 401') && signedOut)
      return;
    out.problems.push(page.url() + ': ' + m.text() + ' ' +
                      m.location().url);
  });
  page.on('pageerror', (e) => out.problems.push(page.url() + ': ' + e));
  const text = async (sel) => (await page.textContent(sel)).trim();
  // How far each page scrolls sideways at the viewport's width (0: not).
  const sideways = async (paths) => {
    const seen = {};
    for (const p of paths) {
      await page.goto(tollgate + p);
      await page.waitForSelector('main h1');
      await page.waitForLoadState('networkidle');
      seen[p] = await page.evaluate(() =>
        document.documentElement.scrollWidth -
        document.documentElement.clientWidth);
    }
    return seen;
  };

  try {
    await (async () => {
%s
    })();
  } catch (e) {
    out.failure = String(e.stack || e);
    out.failure_url = page.url();
    out.failure_page = await page.evaluate(() => document.body.innerText)
      .catch(() => null);
  } finally {
    await context.close();
  }
  process.stdout.write('RESULT ' + JSON.stringify(out) + '\n');
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
"""


def run(body, tollgate_url, timeout=150, answer=None):
    """Runs body (see above) in Chromium against tollgate_url; answer(q)
    answers the body's ask(q) (what happens outside the browser)."""
    work = tempfile.mkdtemp(prefix="tg-browser-")
    try:
        script = os.path.join(work, "run.js")
        with open(script, "w") as f:
            f.write(PRELUDE % body)
        env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR,
                                                      "node_modules"),
                   HOME=work)
        p = subprocess.Popen(["node", script, tollgate_url,
                              os.path.join(work, "profile")],
                             cwd=NODE_DIR, env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        result = None
        try:
            for line in p.stdout:
                if line.startswith("ASK ") and answer is not None:
                    p.stdin.write(json.dumps(answer(json.loads(line[4:]))) +
                                  "\n")
                    p.stdin.flush()
                elif line.startswith("RESULT "):
                    result = json.loads(line[7:])
            p.wait()
        finally:
            timer.cancel()
        if result is None:
            raise AssertionError("no result from the browser: %s" %
                                 p.stderr.read())
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def assert_clean(out):
    """The run reached its end with no console error or CSP violation."""
    assert "failure" not in out, (out.get("failure_url"), out["failure"],
                                  out.get("failure_page"), out["problems"])
    assert out["problems"] == []


def credits_text(micros):
    """As console/ui.js formatMicros writes it: 2500000 -> "2.50"."""
    whole, frac = divmod(abs(micros), 1000000)
    frac = ("%06d" % frac).rstrip("0").ljust(2, "0")
    return ("\u2212" if micros < 0 else "") + "{:,}.{}".format(whole, frac)
