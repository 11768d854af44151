"""Billing for a signed-in user (docs/contract.md §8): packages, admin editing of
packages, checkout through Stripe's API (the fake, over HTTP), the user's
payments, and the whole purchase: checkout -> the customer pays -> signed
webhook -> credits -> refund -> balance reduced -> ledger consistent."""

import concurrent.futures
import os
import time
import urllib.parse
import uuid

import pytest

from fakes.stripe_fake import StripeFake
from lib import auth, billing
from lib.errors import assert_error
from lib.server import free_port

ADMIN = "boss@example.com"


@pytest.fixture
def fake():
    f = StripeFake()
    yield f
    f.stop()


@pytest.fixture
def srv(tollgate, fake):
    env = dict(fake.env(), TOLLGATE_ADMIN_EMAILS=ADMIN)
    return tollgate(env=env)


def login(srv, email=None):
    return auth.bearer(auth.dev_login(srv, email or
                                      "%s@example.com" % uuid.uuid4().hex[:8]))


def checkout(srv, who, package_id):
    return srv.post("/api/billing/checkout", headers=who,
                    json={"package_id": package_id})


def first_package(srv, who):
    r = srv.get("/api/billing/packages", headers=who)
    assert r.status_code == 200, r.text
    return r.json()["data"][0]


def available(srv, who):
    """What the user can spend, as the UI shows it."""
    r = srv.get("/api/credits", headers=who)
    if r.status_code != 404 or r.json()["error"]["code"] != "not_found":
        assert r.status_code == 200, r.text
        return r.json()["available_micros"]
    r = srv.get("/api/me", headers=who)      # until /api/credits lands
    assert r.status_code == 200, r.text
    return r.json()["available_micros"]


# --- packages ----------------------------------------------------------

def test_packages_are_listed_in_the_contract_shape(srv):
    r = srv.get("/api/billing/packages", headers=login(srv))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["next_cursor"] is None
    assert len(body["data"]) >= 1          # seeded: a fresh install sells
    for p in body["data"]:
        assert set(p) == {"id", "name", "price_minor", "currency",
                          "credits_micros"}
        assert isinstance(p["price_minor"], int) and p["price_minor"] > 0
        assert isinstance(p["credits_micros"], int)
        assert len(p["currency"]) == 3
        uuid.UUID(p["id"])


def test_packages_need_a_session(srv):
    r = srv.get("/api/billing/packages")
    assert r.status_code == 401
    r = srv.get("/api/billing/packages",
                headers=auth.bearer(auth.forge({"sub": "x"})))
    assert r.status_code == 401


def test_admin_edits_packages_and_others_cannot(db, srv):
    admin = login(srv, ADMIN)
    user = login(srv)
    pid = str(uuid.uuid4())
    body = {"name": "Tiny", "price_minor": 300, "currency": "EUR",
            "credits_micros": 2500000}

    for r in (srv.get("/api/admin/packages", headers=user),
              srv.get("/api/admin/packages/%s" % pid, headers=user),
              srv.put("/api/admin/packages/%s" % pid, headers=user,
                      json=body),
              srv.put("/api/admin/packages/%s" % pid, headers=user,
                      json={"name": ""})):
        assert_error(r, 403, "not_admin")
    assert db.query("SELECT count(*) FROM billing_packages WHERE id = %s",
                    pid)[0][0] == 0

    r = srv.put("/api/admin/packages/%s" % pid, headers=admin, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"] == pid and created["currency"] == "eur"
    assert created["active"] is True
    assert {p["id"] for p in srv.get("/api/billing/packages",
                                     headers=user).json()["data"]} >= {pid}

    # Send back what GET shows, changed: an update (200), not a new one.
    got = srv.get("/api/admin/packages/%s" % pid, headers=admin).json()
    got.update(price_minor=400, active=False)
    r = srv.put("/api/admin/packages/%s" % pid, headers=admin, json=got)
    assert r.status_code == 200, r.text
    assert r.json()["price_minor"] == 400 and r.json()["active"] is False
    # Inactive: not for sale, not listed; admins still see it.
    assert pid not in {p["id"] for p in srv.get(
        "/api/billing/packages", headers=user).json()["data"]}
    assert pid in {p["id"] for p in srv.get(
        "/api/admin/packages", headers=admin).json()["data"]}
    assert_error(checkout(srv, user, pid), 404, "not_found")

    assert_error(srv.get("/api/admin/packages/%s" % uuid.uuid4(),
                         headers=admin), 404, "not_found")
    assert_error(srv.get("/api/admin/packages/nope", headers=admin), 404,
                 "not_found")


@pytest.mark.parametrize("body,code,param", [
    ({"price_minor": 1, "currency": "usd", "credits_micros": 1},
     "missing_field", "name"),
    ({"name": "x", "price_minor": 0, "currency": "usd",
      "credits_micros": 1}, "invalid_value", "price_minor"),
    ({"name": "x", "price_minor": 1.5, "currency": "usd",
      "credits_micros": 1}, "invalid_value", "price_minor"),
    ({"name": "x", "price_minor": "100", "currency": "usd",
      "credits_micros": 1}, "invalid_value", "price_minor"),
    ({"name": "x", "price_minor": 1, "currency": "usd",
      "credits_micros": 2 ** 62}, "invalid_value", "credits_micros"),
    ({"name": "x", "price_minor": 1, "currency": "dollars",
      "credits_micros": 1}, "invalid_value", "currency"),
    ({"name": "x", "price_minor": 1, "currency": "usd",
      "credits_micros": 1, "credit_micros": 1}, "invalid_value",
     "credit_micros"),
    ({"id": str(uuid.uuid4()), "name": "x", "price_minor": 1,
      "currency": "usd", "credits_micros": 1}, "invalid_value", "id"),
])
def test_admin_package_validation(db, srv, body, code, param):
    admin = login(srv, ADMIN)
    pid = str(uuid.uuid4())
    r = srv.put("/api/admin/packages/%s" % pid, headers=admin, json=body)
    assert_error(r, 400, code, param)
    assert db.query("SELECT count(*) FROM billing_packages WHERE id = %s",
                    pid)[0][0] == 0


def test_admin_package_put_bad_json_and_bad_id(srv):
    admin = login(srv, ADMIN)
    r = srv.put("/api/admin/packages/%s" % uuid.uuid4(), headers=dict(
        admin, **{"content-type": "application/json"}), data=b"{nope")
    assert_error(r, 400, "invalid_json")
    r = srv.put("/api/admin/packages/%s" % uuid.uuid4(), headers=admin,
                json={"name": "x", "price_minor": 1, "currency": "usd",
                      "credits_micros": 2 ** 63})
    assert_error(r, 400, "invalid_json")
    r = srv.put("/api/admin/packages/not-a-uuid", headers=admin,
                json={"name": "x"})
    assert_error(r, 400, "invalid_value", "id")


# --- checkout ----------------------------------------------------------

def test_checkout_opens_a_stripe_session_for_a_pending_payment(db, srv,
                                                               fake):
    who = login(srv)
    pkg = first_package(srv, who)
    r = checkout(srv, who, pkg["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"checkout_url", "payment_id"}
    assert body["checkout_url"].startswith("https://checkout.stripe.com/")

    reqs = fake.checkout_requests()
    assert len(reqs) == 1
    req = reqs[0]
    h = {k.lower(): v for k, v in req["headers"].items()}
    assert h["authorization"] == "Bearer " + fake.secret_key
    assert h["content-type"] == "application/x-www-form-urlencoded"
    assert h["idempotency-key"] == "tollgate-checkout-" + body["payment_id"]
    f = req["form"]
    assert f["mode"] == "payment"
    assert f["client_reference_id"] == body["payment_id"]
    assert f["line_items[0][price_data][unit_amount]"] == \
        str(pkg["price_minor"])
    assert f["line_items[0][price_data][currency]"] == pkg["currency"]
    assert f["line_items[0][price_data][product_data][name]"] == pkg["name"]
    assert f["line_items[0][quantity]"] == "1"
    ui = srv.env["TOLLGATE_UI_URL"]
    for kind in ("success", "cancel"):
        u = urllib.parse.urlsplit(f[kind + "_url"])
        assert "%s://%s" % (u.scheme, u.netloc) == ui
        assert u.path == "/billing/" + kind
        assert urllib.parse.parse_qs(u.query) == {
            "payment_id": [body["payment_id"]]}

    session = [s for s in fake.sessions.values()
               if s["client_reference_id"] == body["payment_id"]][0]
    row = billing.payment(db, body["payment_id"])
    assert row["status"] == "pending" and row["checkout_ref"] == \
        session["id"]
    r = srv.get("/api/billing/payments/%s" % body["payment_id"],
                headers=who)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["status"] == "pending" and p["credited_micros"] == 0
    assert p["checkout_url"] == body["checkout_url"]
    assert p["amount_minor"] == pkg["price_minor"]
    assert p["credits_micros"] == pkg["credits_micros"]


@pytest.mark.parametrize("body,status,code,param", [
    ({}, 400, "missing_field", "package_id"),
    ({"package_id": 5}, 400, "invalid_value", "package_id"),
    ({"package_id": "not-a-package"}, 404, "not_found", "package_id"),
    ({"package_id": str(uuid.uuid4())}, 404, "not_found", "package_id"),
])
def test_checkout_bad_requests_change_nothing(db, srv, fake, body, status,
                                              code, param):
    who = login(srv)
    r = srv.post("/api/billing/checkout", headers=who, json=body)
    assert_error(r, status, code, param)
    assert db.query("SELECT count(*) FROM billing_payments")[0][0] == 0
    assert fake.checkout_requests() == []


def test_checkout_bad_json_and_no_session(db, srv, fake):
    r = srv.post("/api/billing/checkout", headers=dict(
        login(srv), **{"content-type": "application/json"}), data=b"[1,")
    assert_error(r, 400, "invalid_json")
    r = srv.post("/api/billing/checkout", json={"package_id": str(
        uuid.uuid4())})
    assert r.status_code == 401
    assert fake.checkout_requests() == []


@pytest.mark.parametrize("status,message", [
    (400, "Invalid currency: xyz. Stripe currently supports these "
     "currencies: usd, eur"),
    (402, "Your account cannot currently make live charges."),
    (500, "An unknown error occurred"),
])
def test_stripe_refusing_is_502_and_the_payment_failed(db, srv, fake,
                                                         status, message):
    who = login(srv)
    pkg = first_package(srv, who)
    fake.fail = (status, message)
    r = checkout(srv, who, pkg["id"])
    err = assert_error(r, 502, "upstream_error")
    assert err["type"] == "upstream_error"
    assert str(status) in err["message"] and message in err["message"]
    assert fake.secret_key not in r.text
    rows = db.query("SELECT status, failure FROM billing_payments")
    assert len(rows) == 1 and rows[0][0] == "failed"
    assert message in rows[0][1]
    listed = srv.get("/api/billing/payments", headers=who).json()["data"]
    assert [p["status"] for p in listed] == ["failed"]
    assert listed[0]["checkout_url"] is None


def test_stripe_error_text_never_carries_a_secret(db, srv, fake):
    """Stripe (or a proxy in front of it) echoing our secret key, a
    webhook secret, another key and terminal escapes in its error: the
    client's 502, the tollgate log and the payment row carry none of it."""
    other = "rk_live_" + "Z9" * 20
    fake.fail = (401, "Invalid API Key provided: %s (also %s, %s)\x1b[2J"
                 "\r\nInjected: yes" % (fake.secret_key, other,
                                         fake.webhook_secret))
    who = login(srv)
    r = checkout(srv, who, first_package(srv, who)["id"])
    err = assert_error(r, 502, "upstream_error")
    assert "Invalid API Key provided: *** (also ***, ***)" in err["message"]
    assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in err["message"])
    (failure,), = db.query("SELECT failure FROM billing_payments")
    for text in (r.text, srv.log(), failure):
        for secret in (fake.secret_key, fake.webhook_secret, other,
                       fake.secret_key[:20], "\x1b", "\r\nInjected"):
            assert secret not in text


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="needs root for a private /etc/hosts")
def test_checkout_through_a_hostname_under_seccomp(db, tollgate, fake):
    """curl's resolver starts a thread (clone3, rseq): the sandbox must
    allow it, or the worker dies on the first checkout (docs/kore.md, "Seccomp").
    The name resolves from the test server's private /etc/hosts."""
    env = dict(fake.env(), TOLLGATE_STRIPE_API_URL=fake.url.replace(
        "127.0.0.1", "stripe.tollgate.test"))
    srv = tollgate(env=env, hosts={"stripe.tollgate.test": "127.0.0.1"})
    who = login(srv)
    r = checkout(srv, who, first_package(srv, who)["id"])
    assert r.status_code == 200, r.text
    assert "seccomp sandbox enabled" in srv.log()
    assert "sandbox violation" not in srv.log()


def test_stripe_down_is_502_and_the_payment_failed(db, tollgate, fake):
    env = dict(fake.env(), TOLLGATE_STRIPE_API_URL="http://127.0.0.1:%d" %
               free_port())
    srv = tollgate(env=env)
    who = login(srv)
    r = checkout(srv, who, first_package(srv, who)["id"])
    assert_error(r, 502, "upstream_error")
    assert db.query("SELECT status FROM billing_payments") == [("failed",)]


def test_stripe_too_slow_is_504_and_the_payment_failed(db, srv, fake):
    who = login(srv)
    pkg = first_package(srv, who)
    fake.delay = 17
    t0 = time.time()
    r = checkout(srv, who, pkg["id"])
    assert_error(r, 504, "upstream_timeout")
    assert time.time() - t0 < 17
    assert db.query("SELECT status FROM billing_payments") == [("failed",)]


def test_billing_off_says_so(db, server):
    who = login(server)
    pkg = first_package(server, who)         # the catalogue stays readable
    r = checkout(server, who, pkg["id"])
    err = assert_error(r, 404, "billing_disabled")
    assert "TOLLGATE_STRIPE_SECRET_KEY" in err["message"]
    assert db.query("SELECT count(*) FROM billing_payments")[0][0] == 0


def test_checkouts_are_rate_limited_per_user(db, srv, fake):
    who = login(srv)
    pkg = first_package(srv, who)
    for _ in range(30):
        assert checkout(srv, who, pkg["id"]).status_code == 200
    r = checkout(srv, who, pkg["id"])
    assert_error(r, 429, "rate_limited")
    assert r.headers["retry-after"]
    assert len(fake.checkout_requests()) == 30
    # Someone else is not affected.
    assert checkout(srv, login(srv), pkg["id"]).status_code == 200


def test_concurrent_checkouts_each_get_their_own_payment(db, tollgate, fake):
    srv = tollgate(env=fake.env(), workers=2)
    who = login(srv)
    pkg = first_package(srv, who)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda _: checkout(srv, who, pkg["id"]),
                           range(8)))
    assert all(r.status_code == 200 for r in rs), [r.text for r in rs]
    ids = {r.json()["payment_id"] for r in rs}
    urls = {r.json()["checkout_url"] for r in rs}
    assert len(ids) == len(urls) == 8
    keys = {r["headers"]["Idempotency-Key"]
            for r in fake.checkout_requests()}
    assert len(keys) == 8


# --- payments ------------------------------------------------------------

def test_payments_are_private_and_paginated(db, srv, fake):
    alice, bob = login(srv), login(srv)
    pkg = first_package(srv, alice)
    mine = [checkout(srv, alice, pkg["id"]).json()["payment_id"]
            for _ in range(5)]
    theirs = checkout(srv, bob, pkg["id"]).json()["payment_id"]

    r = srv.get("/api/billing/payments/%s" % theirs, headers=alice)
    assert_error(r, 404, "not_found")
    assert_error(srv.get("/api/billing/payments/x", headers=alice), 404,
                 "not_found")

    seen, cursor = [], None
    while True:
        q = "?limit=2" + ("&cursor=%s" % cursor if cursor else "")
        r = srv.get("/api/billing/payments" + q, headers=alice)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["object"] == "list" and len(page["data"]) <= 2
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(mine) and len(seen) == 5
    assert theirs not in seen
    # Bob's cursor means nothing to Alice.
    r = srv.get("/api/billing/payments?cursor=%s" % theirs, headers=alice)
    assert r.status_code == 200 and r.json()["data"] == []

    for q, param in (("?limit=0", "limit"), ("?limit=101", "limit"),
                     ("?limit=x", "limit"), ("?cursor=nope", "cursor")):
        assert_error(srv.get("/api/billing/payments" + q, headers=alice),
                     400, "invalid_value", param)


# --- the whole purchase ---------------------------------------------------

def test_full_flow_checkout_pay_credit_refund(db, srv, fake):
    who = login(srv)
    user = auth.user_id(srv, who["Authorization"][7:])
    pkg = first_package(srv, who)
    start = available(srv, who)

    r = checkout(srv, who, pkg["id"])
    assert r.status_code == 200, r.text
    pay_id = r.json()["payment_id"]
    session_id = r.json()["checkout_url"].split("/pay/")[1].split("#")[0]

    # The customer pays on Stripe's page; Stripe sends the webhook.
    s = fake.pay(session_id)
    completed = fake.session_completed(s)
    r = fake.send(srv, completed)
    assert r.status_code == 200 and r.json()["outcome"] == "processed"
    assert available(srv, who) == start + pkg["credits_micros"]
    p = srv.get("/api/billing/payments/%s" % pay_id, headers=who).json()
    assert p["status"] == "paid"
    assert p["credited_micros"] == pkg["credits_micros"]
    assert p["paid_at"] is not None

    # Stripe retries the same event: nothing more.
    r = fake.send(srv, completed)
    assert r.status_code == 200 and r.json()["outcome"] == "duplicate"
    assert available(srv, who) == start + pkg["credits_micros"]

    # A refund of half: half the credits go.
    half = pkg["price_minor"] // 2
    r = fake.send(srv, fake.charge_refunded(s, half))
    assert r.status_code == 200 and r.json()["outcome"] == "processed"
    clawed = -(-pkg["credits_micros"] * half // pkg["price_minor"])
    assert available(srv, who) == start + pkg["credits_micros"] - clawed
    p = srv.get("/api/billing/payments/%s" % pay_id, headers=who).json()
    assert p["status"] == "partially_refunded"
    assert p["refunded_minor"] == half
    assert p["credited_micros"] == pkg["credits_micros"] - clawed
    assert billing.balance(db, user)[0] == start + pkg["credits_micros"] - \
        clawed
    billing.check_ledger(db)
