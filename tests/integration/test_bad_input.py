"""Bad input everywhere (issue 13): on the main JSON route of every
module, JSON nested 100,000 deep (or as deep as the route's body limit
allows), numbers out of range, invalid UTF-8, NUL bytes (escaped and
raw), huge bodies, duplicate keys and a lying Content-Type each get a
clear 4xx in the contract's error shape (Anthropic's on /v1/messages),
the worker lives (same processes, /healthz answers) and nothing is
written (the tables' contents before and after are the same).

The body decides, not the Content-Type: a form body labelled
application/json is invalid JSON; JSON labelled text/plain is read as
JSON like any other (the contract has no 415), so a bad one is refused
for what it is. Oversized headers and a bad OAuth callback query are
checked once each at the end.

test_router_errors.py has the router's own field-by-field validation."""

import json
import socket
import uuid

import pytest

from fakes.stripe_fake import StripeFake
from lib.auth import bearer, sign_in
from lib.credits import grant, set_price
from lib.errors import assert_error
from lib.keys import auth, seed_key
from lib.router import assert_error as assert_router_error
from lib.router import catalog, fake, router_env  # noqa: F401

ADMIN = "admin-bad-input@example.com"
BIG = 2 ** 63
# /v1 routes' limit in this test (TOLLGATE_V1_BODY_MAX_BYTES; 20 MiB by
# default). Small, so that "huge" (twice the limit) fits in the socket
# buffers: Kore refuses a body from its Content-Length and closes without
# reading it, and a client still writing megabytes then gets a reset
# instead of the 413 (test_router_errors.py sends a large one).
V1_MAX = 65536

# Tables and what of them a refused request must leave alone (columns a
# request touches anyway, such as a key's last use, are left out).
SNAPSHOT = {
    "users": "id, email, is_admin",
    "identities": "*",
    "profiles": "*",
    "api_keys": "id, name, disabled, allowed_models, spend_limit_micros, "
                "revoked_at, expires_at",
    "ledger_accounts": "*",
    "ledger_transactions": "*",
    "ledger_entries": "*",
    "model_prices": "*",
    "credit_holds": "*",
    "usage_records": "*",
    "credit_leases": "id, user_id",
    "billing_packages": "*",
    "billing_payments": "*",
    "billing_events": "*",
    "oauth_flows": "*",
}


def snapshot(db):
    out = {}
    for table, cols in SNAPSHOT.items():
        out[table] = db.query(
            "SELECT count(*), md5(coalesce(string_agg(r::text, ',' ORDER BY "
            "r::text), '')) FROM (SELECT %s FROM %s) r" % (cols, table))[0]
    return out


class World:
    """A tollgate with every module on, an admin, a user with a key, a
    price, credits and a package."""

    def __init__(self, tollgate, db, fake, stripe):
        set_price(db, "echo:echo-1", 1000000, 2000000)
        set_price(db, "echo:echo-embed", 1000000, 0)
        env = router_env(catalog(fake))
        env.update(stripe.env())
        env.update({"TOLLGATE_ADMIN_EMAILS": ADMIN,
                    "TOLLGATE_V1_BODY_MAX_BYTES": str(V1_MAX),
                    "TOLLGATE_GITHUB_CLIENT_ID": "gh-client",
                    "TOLLGATE_GITHUB_CLIENT_SECRET": "gh-secret-0123456789"})
        self.t = tollgate(env=env)
        self.admin = bearer(sign_in(self.t, ADMIN).access_token)
        s = sign_in(self.t, "user-%s@example.com" % uuid.uuid4().hex[:8])
        self.user = bearer(s.access_token)
        self.uid = s.user_id
        self.key, _, self.key_id = seed_key(db, user_id=s.user_id)
        grant(db, s.user_id, 10 ** 9)
        r = self.t.get("/api/billing/packages", headers=self.user)
        assert r.status_code == 200, r.text
        self.package = r.json()["data"][0]["id"]
        self.pids = self.t.pids()


@pytest.fixture
def stripe():
    f = StripeFake()
    yield f
    f.stop()


# One entry per route: method, path (w: World), headers, a valid body
# (never sent whole), body limit, out-of-range numbers (field, raw JSON
# number text), anthropic error shape.
ROUTES = {
    "chat": ("POST", lambda w: "/v1/chat/completions",
             lambda w: auth(w.key),
             {"model": "echo:echo-1",
              "messages": [{"role": "user", "content": "hi"}]},
             V1_MAX,
             [("max_tokens", "1e400"), ("max_tokens", str(BIG)),
              ("max_tokens", str(2 ** 64)), ("max_tokens", "-0"),
              ("max_tokens", "1" + "0" * 400), ("temperature", "1e400"),
              ("n", str(BIG))], False),
    "messages": ("POST", lambda w: "/v1/messages", lambda w: {
                 "x-api-key": w.key, "anthropic-version": "2023-06-01"},
                 {"model": "echo:echo-1", "max_tokens": 10,
                  "messages": [{"role": "user", "content": "hi"}]},
                 V1_MAX,
                 [("max_tokens", "1e400"), ("max_tokens", str(BIG)),
                  ("max_tokens", "-0"), ("max_tokens", str(2 ** 64)),
                  ("temperature", "-1e400")], True),
    "embeddings": ("POST", lambda w: "/v1/embeddings",
                   lambda w: auth(w.key),
                   {"model": "echo:echo-embed", "input": "hello"},
                   V1_MAX,
                   [("dimensions", "1e400"), ("dimensions", str(BIG)),
                    ("dimensions", "-0")], False),
    "keys_create": ("POST", lambda w: "/api/keys", lambda w: w.user,
                    {"name": "k"}, 16384,
                    [("spend_limit_micros", "1e400"),
                     ("spend_limit_micros", str(BIG)),
                     ("spend_limit_micros", str(2 ** 64)),
                     ("spend_limit_micros", "-1"),
                     ("spend_limit_micros", "1.5")], False),
    "keys_update": ("PATCH", lambda w: "/api/keys/" + w.key_id,
                    lambda w: w.user, {"name": "k2"}, 16384,
                    [("spend_limit_micros", "1e400"),
                     ("spend_limit_micros", str(BIG)),
                     ("spend_limit_micros", "-0.0"),
                     ("disabled", "1e400")], False),
    "me_profile": ("PATCH", lambda w: "/api/me/profile", lambda w: w.user,
                   {"display_name": "Bo"}, 16384,
                   [("display_name", "1e400"), ("locale", str(BIG))],
                   False),
    "admin_grant": ("POST",
                    lambda w: "/api/admin/users/%s/credits" % w.uid,
                    lambda w: w.admin,
                    {"amount_micros": 5, "reason": "r",
                     "idempotency_key": "bad-input-1"}, 16384,
                    [("amount_micros", "1e400"), ("amount_micros", str(BIG)),
                     ("amount_micros", str(-BIG - 1)),
                     ("amount_micros", str(2 ** 64)),
                     ("amount_micros", "-0"), ("amount_micros", "5.0"),
                     ("amount_micros", "1e3")], False),
    "admin_price": ("PUT", lambda w: "/api/admin/prices/echo:echo-1",
                    lambda w: w.admin,
                    {"input_micros_per_mtok": 1,
                     "output_micros_per_mtok": 2}, 16384,
                    [("input_micros_per_mtok", "1e400"),
                     ("input_micros_per_mtok", str(BIG)),
                     ("output_micros_per_mtok", str(2 ** 64)),
                     ("output_micros_per_mtok", "-1"),
                     ("request_fee_micros", "1e18"),
                     ("input_micros_per_mtok", "0.5")], False),
    "checkout": ("POST", lambda w: "/api/billing/checkout",
                 lambda w: w.user, {"package_id": "x"}, 4096,
                 [("package_id", str(BIG)), ("package_id", "1e400")],
                 False),
    "webhook": ("POST", lambda w: "/webhooks/stripe",
                lambda w: {"stripe-signature": "t=1,v1=00"},
                {"id": "evt_1", "type": "checkout.session.completed"},
                256 * 1024,
                [("created", "1e400"), ("created", str(2 ** 64))], False),
    "dev_login": ("POST", lambda w: "/auth/dev/login", lambda w: {},
                  {"email": "x@example.com"}, 4096,
                  [("email", "1e400")], False),
}


def bad_bodies(valid, limit, numbers):
    """(name, raw body, content type, statuses allowed) for a route."""
    field = next(iter(valid))
    text = json.dumps(valid)
    depth = min(100000, (limit - 16) // 2)
    odepth = min(100000, (limit - 16) // 6)
    out = [
        ("deep_array", b"[" * depth + b"]" * depth, None, (400,)),
        ("deep_object", b'{"a":' * odepth + b"1" + b"}" * odepth, None,
         (400,)),
        ("bad_utf8", text.replace('"%s"' % field, '"%s"' % field, 1)
         .encode()[:-1] + b',"zz":"\xff\xfe\xc3\x28"}', None, (400,)),
        ("bad_utf8_value", json.dumps(dict(valid, **{field: "@@"})).encode()
         .replace(b"@@", b"a\xc3\x28\xed\xa0\x80b"), None, (400,)),
        ("nul_escaped", json.dumps(dict(valid, **{field: "a\u0000b"}))
         .encode(), None, (400,)),
        ("nul_raw", text.encode()[:-1] + b',"zz":"a\x00b"}', None, (400,)),
        ("nul_outside", b"\x00" + text.encode(), None, (400,)),
        ("duplicate", (text[:-1] + ', "%s": %s}' % (
            field, json.dumps(valid[field]))).encode(), None, (400,)),
        ("form_as_json", b"model=echo%3Aecho-1&name=a&amount_micros=5",
         None, (400,)),
        ("bad_json_as_text", text.encode()[:-1], "text/plain", (400,)),
        ("top_level_number", b"1e400", None, (400,)),
        ("top_level_string", b'"\\ud800"', None, (400,)),
        ("empty", b"", None, (400,)),
        ("huge", b'{"a":"' + b"x" * (2 * limit) + b'"}', None, (413,)),
    ]
    # Past jansson's depth limit (2048) inside a valid object, where the
    # route's limit leaves room for it.
    levels = (limit - len(text) - 16) // 2
    if levels > 2100:
        levels = min(levels, 100000)
        out.append(("deep_in_field", (text[:-1] + ',"x":' + "[" * levels +
                                      "]" * levels + "}").encode(), None,
                    (400,)))
    for f, num in numbers:
        body = dict(valid)
        body[f] = "@@NUM@@"
        out.append(("number_%s_%s" % (f, num[:12]),
                    json.dumps(body).replace('"@@NUM@@"', num).encode(),
                    None, (400,)))
    return out


def check_refused(r, statuses, anthropic):
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    if anthropic:
        err = assert_router_error(r, r.status_code, anthropic=True)
    else:
        err = assert_error(r, r.status_code)
    assert err["message"]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_bad_input_is_refused_and_changes_nothing(tollgate, db, fake,
                                                  stripe, route):
    method, path, headers, valid, limit, numbers, anthropic = ROUTES[route]
    w = World(tollgate, db, fake, stripe)
    before = snapshot(db)
    failures = []
    for name, body, ctype, statuses in bad_bodies(valid, limit, numbers):
        h = dict(headers(w))
        h["content-type"] = ctype or "application/json"
        try:
            r = w.t.request(method, path(w), data=body, headers=h,
                            timeout=10)
            check_refused(r, statuses, anthropic)
        except Exception as e:      # report every case at once
            failures.append("%s: %s" % (name, str(e)[:400]))
            if not w.t.alive():
                break
    assert not failures, "\n".join(failures)
    assert w.t.alive(), w.t.log()
    assert w.t.pids() == w.pids
    assert w.t.get("/healthz", timeout=5).status_code == 200
    assert snapshot(db) == before


def test_huge_headers_and_bad_callback_queries(tollgate, db, fake, stripe):
    w = World(tollgate, db, fake, stripe)
    before = snapshot(db)
    # A header over Kore's http_header_max (16 KiB): refused or closed,
    # never served, and the worker lives.
    s = socket.create_connection(("127.0.0.1", w.t.port), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
              b"X-Big: " + b"a" * 70000 + b"\r\nContent-Length: 2\r\n\r\n{}")
    try:
        got = s.recv(4096)
    except ConnectionResetError:
        got = b""
    s.close()
    assert got == b"" or got.split(b" ")[1][:1] == b"4", got[:200]
    many = {"X-H%d" % i: "v" * 100 for i in range(100)}
    r = w.t.get("/api/me", headers=dict(w.user, **many), timeout=10)
    assert r.status_code == 200, r.status_code
    # OAuth callbacks with NUL, invalid UTF-8 and huge values.
    for q in ("code=%00&state=%00", "code=a&state=%ff%fe%c3%28",
              "code=" + "x" * 5000 + "&state=" + "y" * 5000,
              "code=a&state=a&state=b", "error=%00%ff"):
        r = w.t.get("/auth/github/callback?" + q, timeout=10,
                    allow_redirects=False)
        assert r.status_code in (400, 413, 414), (q[:40], r.status_code,
                                                  r.text[:200])
        if r.status_code == 400:
            assert_error(r, 400)
    assert w.t.alive() and w.t.pids() == w.pids
    assert w.t.get("/healthz", timeout=5).status_code == 200
    assert snapshot(db) == before
