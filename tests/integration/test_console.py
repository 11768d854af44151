"""The console's answers over HTTP (app/core/console.c): index.html at /
and at every page path of console/app.js, the files of console/ as they
are in the checkout, the Content-Security-Policy and the other headers on
each, ETag revalidation, and the settings the sign-in page reads. The
pages themselves are driven in Chromium by test_console_browser.py."""

import os
import re

import requests

from lib.errors import assert_error
from lib.server import ROOT

CONSOLE = os.path.join(ROOT, "console")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def read(name):
    with open(os.path.join(CONSOLE, name), "rb") as f:
        return f.read()


def app_pages():
    """The page paths console/app.js routes (its PAGES table)."""
    text = read("app.js").decode()
    table = re.search(r"const PAGES = \{(.*?)\};", text, re.S).group(1)
    return re.findall(r'"(/[^"]*)":', table)


def assert_console_headers(r):
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"


def test_every_page_path_is_the_index(server):
    index = read("index.html")
    pages = app_pages()
    assert "/" in pages and "/billing/success" in pages and len(pages) >= 9
    for path in pages + ["/admin", "/admin/users/42",
                         "/billing/success?payment_id=x",
                         "/signin?return_to=%2Fkeys"]:
        r = requests.get(server.url + path, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.headers["cache-control"] == "no-cache"
        assert r.content == index, path
        assert_console_headers(r)


def test_files_are_served_as_in_the_checkout(server):
    types = {".js": "text/javascript; charset=utf-8",
             ".css": "text/css; charset=utf-8",
             ".svg": "image/svg+xml"}
    names = [n for n in sorted(os.listdir(CONSOLE))
             if os.path.splitext(n)[1] in types]
    assert "app.js" in names and "console.css" in names
    for name in names:
        r = requests.get(server.url + "/console/" + name, timeout=30)
        assert r.status_code == 200, (name, r.text)
        assert r.content == read(name), name
        assert r.headers["content-type"] == types[os.path.splitext(name)[1]]
        assert r.headers["cache-control"] == "public, max-age=300"
        assert re.fullmatch(r'"[0-9a-f]{32}"', r.headers["etag"])
        assert_console_headers(r)


def test_etag_revalidation_and_head(server):
    r = requests.get(server.url + "/console/app.js", timeout=30)
    etag = r.headers["etag"]
    other = requests.get(server.url + "/console/ui.js", timeout=30)
    assert other.headers["etag"] != etag

    for inm in (etag, "W/" + etag, '"nope", ' + etag):
        r = requests.get(server.url + "/console/app.js", timeout=30,
                         headers={"If-None-Match": inm})
        assert r.status_code == 304, inm
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert_console_headers(r)
    r = requests.get(server.url + "/console/app.js", timeout=30,
                     headers={"If-None-Match": '"nope"'})
    assert r.status_code == 200 and r.content == read("app.js")

    r = requests.head(server.url + "/", timeout=30)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert_console_headers(r)


def test_no_inline_script_or_style_in_the_index():
    html = read("index.html").decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert re.search(r"\sstyle\s*=", html) is None
    assert "<style" not in html
    assert re.search(r"\son[a-z]+\s*=", html) is None


def test_unknown_files_and_pages_are_404(server):
    for path in ("/console/nope.js", "/console/", "/console/a/b.js",
                 "/keys/", "/admin/", "/index.html"):
        r = requests.get(server.url + path, timeout=30)
        assert_error(r, 404, "not_found")
    r = requests.post(server.url + "/keys", timeout=30)
    assert_error(r, 405, "method_not_allowed")


def test_settings_say_whether_the_dev_login_is_on(tollgate):
    on = tollgate()
    r = requests.get(on.url + "/console/config.json", timeout=30)
    assert r.status_code == 200 and r.json() == {"dev_login": True}
    assert r.headers["cache-control"] == "no-store"
    assert_console_headers(r)
    off = tollgate(env={"TOLLGATE_DEV_LOGIN": "0"})
    r = requests.get(off.url + "/console/config.json", timeout=30)
    assert r.json() == {"dev_login": False}
