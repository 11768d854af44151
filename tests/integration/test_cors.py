"""CORS for a UI on another origin (docs/frontend.md): preflights answered
from the route tables, the same CORS headers on every answer to an origin
of TOLLGATE_CORS_ORIGINS (errors, Kore's own early answers and streams
included) and none for any other origin, the Origin check of the cookie
routes, TOLLGATE_COOKIE_SAMESITE."""

import socket

import pytest
import requests

from lib import auth
from lib.errors import assert_error
from lib.router import seed_key

UI = "https://app.example.com"
UI2 = "http://127.0.0.1:5173"
EVIL = "https://evil.example"
EXPOSED = {"x-request-id", "retry-after", "x-tollgate-cost-micros",
           "www-authenticate"}


def cors_env(**kw):
    env = {"TOLLGATE_CORS_ORIGINS": " %s, %s ," % (UI, UI2)}
    env.update(kw)
    return env


@pytest.fixture
def cors(tollgate):
    return tollgate(env=cors_env())


def preflight(server, path, method, origin=UI, headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(server.url + path, headers=h, timeout=30)


def methods(r):
    return {m.strip() for m in
            r.headers["access-control-allow-methods"].split(",")}


def assert_cors(r, origin=UI):
    assert r.headers["access-control-allow-origin"] == origin, r.headers
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in r.headers["vary"]
    exposed = {h.strip().lower() for h in
               r.headers["access-control-expose-headers"].split(",")}
    assert EXPOSED <= exposed


def assert_no_cors(r):
    assert not [h for h in r.headers if h.lower().startswith(
        "access-control-")], r.headers


@pytest.mark.parametrize("path,expected", [
    ("/api/keys", {"GET", "HEAD", "POST"}),
    ("/api/keys/some-id", {"GET", "HEAD", "PATCH", "DELETE"}),
    ("/api/me", {"GET", "HEAD", "DELETE"}),
    ("/api/me/profile", {"PATCH"}),
    ("/api/admin/prices/echo:echo-1", {"GET", "HEAD", "PUT"}),
    ("/auth/refresh", {"POST"}),
    ("/auth/logout", {"POST"}),
    ("/auth/providers", {"GET", "HEAD"}),
    ("/v1/chat/completions", {"POST"}),
    ("/v1/models", {"GET", "HEAD"}),
    ("/v1/messages", {"POST"}),
])
def test_preflight_answers_the_methods_of_the_route(cors, path, expected):
    r = preflight(cors, path, sorted(expected)[0],
                  headers="authorization,content-type")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert methods(r) == expected
    assert_cors(r)
    allowed = {h.strip() for h in
               r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key",
            "x-request-id", "x-tollgate-csrf"} <= allowed
    assert 0 < int(r.headers["access-control-max-age"]) <= 7200


def test_preflight_allows_the_sdk_headers(cors):
    asked = ("x-stainless-os, X-Stainless-Retry-Count, openai-beta, "
             "anthropic-version, anthropic-beta, x-api-key, "
             "anthropic-dangerous-direct-browser-access, x-forbidden, "
             "x-stainless-bad;name")
    r = preflight(cors, "/v1/messages", "POST", headers=asked)
    assert r.status_code == 204
    allowed = {h.strip() for h in
               r.headers["access-control-allow-headers"].split(",")}
    assert {"x-stainless-os", "x-stainless-retry-count", "openai-beta",
            "anthropic-version", "anthropic-beta", "x-api-key",
            "anthropic-dangerous-direct-browser-access"} <= allowed
    assert "x-forbidden" not in allowed
    assert not [h for h in allowed if ";" in h]


def test_preflight_from_an_unlisted_origin_is_refused(cors):
    for origin in (EVIL, UI + ".evil", "null", UI + ":443", "http://app."
                   "example.com"):
        r = preflight(cors, "/api/me", "GET", origin=origin)
        assert_error(r, 403, "origin_not_allowed")
        assert_no_cors(r)
    # A second listed origin is fine.
    r = preflight(cors, "/api/me", "GET", origin=UI2)
    assert r.status_code == 204
    assert_cors(r, UI2)


def test_preflight_of_no_route_and_outside_the_api(cors):
    r = preflight(cors, "/api/nope", "GET")
    assert_error(r, 404, "not_found")
    assert_cors(r)
    # The operations routes take no part: no preflight, no CORS headers.
    r = preflight(cors, "/healthz", "GET")
    assert_error(r, 405, "method_not_allowed")
    assert_no_cors(r)
    assert "vary" not in r.headers
    # Without Access-Control-Request-Method an OPTIONS is no preflight.
    r = requests.options(cors.url + "/api/me", headers={"Origin": UI},
                         timeout=30)
    assert_error(r, 405, "method_not_allowed")
    assert_cors(r)


def test_no_cors_without_the_setting(server):
    r = preflight(server, "/api/me", "GET")
    assert_error(r, 403, "origin_not_allowed")
    assert_no_cors(r)
    r = server.get("/api/me", headers={"Origin": UI})
    assert_no_cors(r)


def test_answers_and_errors_carry_cors_for_a_listed_origin(cors, db):
    token = auth.dev_login(cors, "cors@example.com")
    h = dict(auth.bearer(token), Origin=UI)
    r = cors.get("/api/me", headers=h)
    assert r.status_code == 200
    assert_cors(r)
    for r, status, code in (
            (cors.get("/api/me", headers={"Origin": UI}), 401,
             "invalid_token"),
            (cors.get("/api/nope", headers=h), 404, "not_found"),
            (cors.put("/api/me", headers=h), 405, "method_not_allowed"),
            (cors.post("/api/keys", headers=h, data="{"), 400,
             "invalid_json"),
            (cors.get("/v1/models", headers={"Origin": UI}), 401,
             "invalid_api_key")):
        assert_error(r, status, code)
        assert_cors(r)
    # Another origin: the same answers, without CORS headers.
    for r in (cors.get("/api/me", headers=dict(h, Origin=EVIL)),
              cors.get("/api/me", headers={"Origin": EVIL}),
              cors.get("/api/me", headers=auth.bearer(token))):
        assert r.status_code in (200, 401)
        assert_no_cors(r)
        assert "Origin" in r.headers["vary"]


def test_rate_limited_answers_carry_cors(tollgate, db):
    t = tollgate(env=cors_env(TOLLGATE_RATE_LIMIT_IP="1"))
    login = {"email": "rl@example.com"}
    assert requests.post(t.url + "/auth/dev/login", json=login,
                         timeout=30).status_code == 200
    r = requests.post(t.url + "/auth/dev/login", json=login,
                      headers={"Origin": UI}, timeout=30)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0
    assert_cors(r)


def test_kores_early_answer_carries_cors(tollgate):
    """Over Kore's own body limit (TOLLGATE_BODY_MAX_BYTES sets both), the
    413 Kore writes before any handler runs carries CORS too."""
    t = tollgate(env=cors_env(TOLLGATE_BODY_MAX_BYTES="1024"))
    for origin, listed in ((UI, True), (EVIL, False)):
        with socket.create_connection(("127.0.0.1", t.port), 10) as s:
            s.sendall(("POST /api/keys HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 100000\r\n\r\n" % origin).encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n")[0].decode().lower()
        assert head.startswith("http/1.1 413"), head
        assert ("access-control-allow-origin: %s" % origin in head) == listed
        assert ("access-control-allow-credentials: true" in head) == listed


def test_a_stream_carries_cors(cors, db):
    key, _, _ = seed_key(db)
    r = requests.post(cors.url + "/v1/chat/completions", stream=True,
                      headers={"Authorization": "Bearer " + key,
                               "Origin": UI}, timeout=30,
                      json={"model": "echo:echo-1", "stream": True,
                            "messages": [{"role": "user",
                                          "content": "hi"}]})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    assert_cors(r)
    assert b"[DONE]" in r.content
    r = requests.post(cors.url + "/v1/chat/completions",
                      headers={"Authorization": "Bearer " + key,
                               "Origin": UI}, timeout=30,
                      json={"model": "echo:echo-1", "messages": [
                          {"role": "user", "content": "hi"}]})
    assert r.status_code == 200
    assert_cors(r)
    assert "x-tollgate-cost-micros" in r.headers


def test_cookie_routes_accept_a_listed_origin(cors, db):
    s = auth.sign_in(cors, "cookie@example.com")
    for origin in (UI, UI2):
        r = auth.refresh(cors, s.refresh_token, csrf=False, origin=origin)
        assert r.status_code == 200, r.text
        assert_cors(r, origin)
        s = s._replace(refresh_token=auth.set_cookies(r)[
            auth.refresh_cookie_name(cors)][0])
    # TOLLGATE_UI_URL's origin still passes; others do not.
    r = auth.refresh(cors, s.refresh_token, csrf=False, origin=cors.url)
    assert r.status_code == 200, r.text
    s = s._replace(refresh_token=auth.set_cookies(r)[
        auth.refresh_cookie_name(cors)][0])
    r = auth.refresh(cors, s.refresh_token, csrf=True, origin=EVIL)
    assert_error(r, 403, "csrf_failed")
    assert_no_cors(r)


def test_bad_settings_are_refused_at_start(tollgate):
    for env, words in (
            ({"TOLLGATE_CORS_ORIGINS": "*"}, '"*" is refused'),
            ({"TOLLGATE_CORS_ORIGINS": UI + ", " + UI + "/"},
             "is not an origin"),
            ({"TOLLGATE_CORS_ORIGINS": "app.example.com"},
             "is not an origin"),
            ({"TOLLGATE_COOKIE_SAMESITE": "strict"}, "must be"),
            ({"TOLLGATE_COOKIE_SAMESITE": "none"}, "must be https")):
        t = tollgate(env=env, wait=False)
        with pytest.raises(Exception):
            t.start(timeout=5)
        assert words in t.log(), t.log()


def test_samesite_of_the_refresh_cookie(tollgate, server):
    r = requests.post(server.url + "/auth/dev/login",
                      json={"email": "lax@example.com"}, timeout=30)
    assert "SameSite=Lax" in r.headers["set-cookie"]

    # none needs https: the public URL says so, tollgate itself still
    # listens on plain http behind the (here absent) TLS proxy.
    t = tollgate(env={"TOLLGATE_COOKIE_SAMESITE": "none",
                      "TOLLGATE_PUBLIC_URL": "https://api.example.com"})
    r = requests.post(t.url + "/auth/dev/login",
                      json={"email": "none@example.com"}, timeout=30)
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Secure-tg_refresh=")
    assert "SameSite=None" in cookie and "; Secure" in cookie
    assert "HttpOnly" in cookie
