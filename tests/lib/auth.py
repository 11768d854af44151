"""Signing in from tests (identity module, docs/auth.md).

Every test server started by tests/lib/server.py has TOLLGATE_DEV_LOGIN=1
(outside production), so any test can get a session:

    from lib import auth
    token = auth.dev_login(server, "alice@example.com")
    r = server.get("/api/me", headers=auth.bearer(token))

Helpers:
  dev_login(server, email)          -> access token (str)
  sign_in(server, email)            -> SignIn(access_token, refresh_token,
                                       user_id, session_id, response)
  bearer(token)                     -> {"Authorization": "Bearer <token>"}
  refresh(server, refresh_token, csrf=True, origin=None)
                                    -> requests.Response of POST /auth/refresh
  logout(server, token=None, refresh_token=None)
                                    -> requests.Response of POST /auth/logout
  refresh_cookie_name(server)       -> "tg_refresh" (or "__Secure-tg_refresh")
  set_cookies(response)             -> {name: (value, {attr: value})}
  claims(token)                     -> the token's payload (not verified)
  forge(payload, secret=..., header=None)
                                    -> an HS256 token over any header/payload
  me(server, token)                 -> requests.Response of GET /api/me
  user_id(server, token)            -> the caller's user id (GET /api/me)

Requests here never use server.http's cookie jar: cookies are sent
explicitly, so one test's sign-in cannot leak into another request.
"""

import base64
import hashlib
import hmac
import json
from collections import namedtuple

import requests

from lib.server import TEST_JWT_SECRET

SignIn = namedtuple("SignIn", "access_token refresh_token user_id session_id "
                    "response")


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def bearer(token):
    return {"Authorization": "Bearer " + token}


def refresh_cookie_name(server):
    secure = (server.env.get("TOLLGATE_PUBLIC_URL", "").startswith("https:")
              or server.env.get("TOLLGATE_ENV") == "production")
    return "__Secure-tg_refresh" if secure else "tg_refresh"


def set_cookies(response):
    """Every Set-Cookie of a response: {name: (value, {attr: value})}."""
    out = {}
    for line in response.raw.headers.getlist("Set-Cookie"):
        parts = [p.strip() for p in line.split(";")]
        name, _, value = parts[0].partition("=")
        attrs = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            attrs[k.lower()] = v
        out[name] = (value, attrs)
    return out


def claims(token):
    return json.loads(b64url_decode(token.split(".")[1]))


def forge(payload, secret=TEST_JWT_SECRET, header=None):
    """header.payload.HMAC-SHA256 with any header, payload and key."""
    if header is None:
        header = {"alg": "HS256", "typ": "JWT"}
    h = header if isinstance(header, str) else json.dumps(
        header, separators=(",", ":"))
    p = payload if isinstance(payload, str) else json.dumps(
        payload, separators=(",", ":"))
    signing = b64url(h) + "." + b64url(p)
    key = secret.encode() if isinstance(secret, str) else secret
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def sign_in(server, email):
    r = requests.post(server.url + "/auth/dev/login", json={"email": email},
                      timeout=30)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    cookie = set_cookies(r)[refresh_cookie_name(server)][0]
    c = claims(token)
    return SignIn(token, cookie, c["sub"], c["sid"], r)


def dev_login(server, email):
    return sign_in(server, email).access_token


def refresh(server, refresh_token, csrf=True, origin=None, headers=None):
    h = dict(headers or {})
    if csrf:
        h["X-Tollgate-CSRF"] = "1"
    if origin is not None:
        h["Origin"] = origin
    if refresh_token is not None:
        h["Cookie"] = "%s=%s" % (refresh_cookie_name(server), refresh_token)
    return requests.post(server.url + "/auth/refresh", headers=h, timeout=30)


def logout(server, token=None, refresh_token=None, csrf=True):
    h = {}
    if token is not None:
        h.update(bearer(token))
    if refresh_token is not None:
        h["Cookie"] = "%s=%s" % (refresh_cookie_name(server), refresh_token)
    if csrf:
        h["X-Tollgate-CSRF"] = "1"
    return requests.post(server.url + "/auth/logout", headers=h, timeout=30)


def me(server, token):
    return requests.get(server.url + "/api/me", headers=bearer(token),
                        timeout=30)


def user_id(server, token):
    r = me(server, token)
    assert r.status_code == 200, r.text
    return r.json()["id"]
