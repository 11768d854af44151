"""Refunds by an admin (docs/admin.md "Refunds", docs/billing.md):
POST /api/admin/payments/{id}/refund calls Stripe's Refunds API (the fake,
over real HTTP) with an Idempotency-Key per refund request; the
charge.refunded webhook then takes the credits back, once. Balances are
checked to the micro-credit and the ledger check stays clean."""

import concurrent.futures
import re

import pytest
import requests

from fakes.stripe_fake import StripeFake
from lib import admin, auth, billing
from lib.errors import assert_error

CREDITS = 10000000	# the cheapest seeded package: 10 credits for 1000


@pytest.fixture
def fake():
    f = StripeFake()
    yield f
    f.stop()


@pytest.fixture
def srv(tollgate, fake):
    return tollgate(env=dict(fake.env(), **admin.ENV))


@pytest.fixture
def tok(srv):
    return admin.sign_in(srv)


def paid(db, srv, fake):
    """A user's payment, paid at the fake and credited by its webhook."""
    user = billing.seed_user(db)
    p = billing.seed_payment(db, user)
    sid = fake.new_session(p["payment_id"], p["price_minor"], p["currency"])
    billing.attach_session(db, p["payment_id"], sid)
    s = fake.pay(sid)
    r = fake.send(srv, fake.session_completed(s))
    assert r.status_code == 200 and r.json()["outcome"] == "processed"
    assert p["price_minor"] == 1000 and p["credits_micros"] == CREDITS
    assert billing.balance(db, user)[0] == CREDITS
    return p, s


def refund(srv, token, payment_id, body=None, headers=None):
    h = dict(auth.bearer(token), **(headers or {}))
    return requests.post(srv.url + "/api/admin/payments/%s/refund" %
                         payment_id, json=body, headers=h, timeout=30)


def refunds(db, payment_id):
    return db.query("SELECT status, amount_minor, provider_ref FROM "
                    "billing_refunds WHERE payment_id = %s ORDER BY "
                    "created_at", payment_id)


def book(srv, fake, refund_id):
    """Stripe's webhook for a refund made through the API."""
    r = fake.send(srv, fake.refund_event(refund_id))
    assert r.status_code == 200, r.text
    return r.json()["outcome"]


def test_full_refund_goes_through_stripe_and_is_booked_once(db, srv, fake,
                                                            tok):
    p, s = paid(db, srv, fake)
    r = refund(srv, tok, p["payment_id"])
    assert r.status_code == 200, r.text
    rf = r.json()
    assert rf["object"] == "refund" and rf["status"] == "succeeded"
    assert rf["payment_id"] == p["payment_id"]
    assert rf["amount_minor"] == 1000 and rf["currency"] == "usd"
    assert re.fullmatch(r"re_\w+", rf["provider_ref"])

    # Stripe got one form-encoded refund with our idempotency key.
    [sent] = fake.refund_requests()
    assert sent["form"]["payment_intent"] == s["payment_intent"]
    assert sent["form"]["amount"] == "1000"
    assert sent["headers"]["Content-Type"] == \
        "application/x-www-form-urlencoded"
    assert sent["headers"]["Idempotency-Key"] == "tollgate-refund-" + rf["id"]
    assert fake.refunds[rf["provider_ref"]]["amount"] == 1000

    # Stripe's answer stored again (a statement resent after a lost
    # connection) is no second action: no second audit row.
    n = db.query("SELECT count(*) FROM admin_audit")
    again = db.query("SELECT body FROM billing_refund_finish(%s, NULL, %s, "
                     "'made', %s, 'succeeded', NULL)", rf["requested_by"],
                     rf["id"], rf["provider_ref"])[0][0]
    assert again["status"] == "succeeded" and again["id"] == rf["id"]
    assert db.query("SELECT count(*) FROM admin_audit") == n

    # Nothing is booked before Stripe's webhook says so ...
    assert billing.balance(db, p["user_id"])[0] == CREDITS
    assert billing.payment(db, p["payment_id"])["status"] == "paid"
    # ... which takes back exactly what was granted, once.
    ev = fake.refund_event(rf["provider_ref"])
    assert fake.send(srv, ev).json()["outcome"] == "processed"
    assert fake.send(srv, ev).json()["outcome"] == "duplicate"
    assert book(srv, fake, rf["provider_ref"]) == "processed"
    assert billing.balance(db, p["user_id"])[0] == 0
    row = billing.payment(db, p["payment_id"])
    assert row["status"] == "refunded" and row["refunded_minor"] == 1000
    assert row["credited_micros"] == 0
    assert billing.ledger_txns(db, p["user_id"]) == [
        ("purchase", CREDITS), ("refund", -CREDITS)]
    billing.check_ledger(db)

    # Nothing is left to refund.
    assert_error(refund(srv, tok, p["payment_id"]), 409, "not_refundable")
    assert len(fake.refund_requests()) == 1


def test_partial_refunds_and_over_refund(db, srv, fake, tok):
    p, s = paid(db, srv, fake)
    r = refund(srv, tok, p["payment_id"], {"amount_minor": 300})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["amount_minor"] == 300
    assert fake.refund_requests()[0]["form"]["amount"] == "300"

    # More than is left (700) is refused before Stripe hears of it, and
    # changes nothing, before and after the webhook.
    for _ in range(2):
        before = (billing.counts(db), refunds(db, p["payment_id"]),
                  db.query("SELECT count(*) FROM admin_audit"))
        err = assert_error(refund(srv, tok, p["payment_id"],
                                  {"amount_minor": 701}), 400,
                           "amount_exceeds_refundable", "amount_minor")
        assert "700" in err["message"]
        assert (billing.counts(db), refunds(db, p["payment_id"]),
                db.query("SELECT count(*) FROM admin_audit")) == before
        assert len(fake.refund_requests()) == 1
        if billing.balance(db, p["user_id"])[0] == CREDITS:
            assert book(srv, fake, first["provider_ref"]) == "processed"
    # 300 of 1000 takes back 3 of the 10 credits.
    assert billing.balance(db, p["user_id"])[0] == 7000000
    assert billing.payment(db, p["payment_id"])["status"] == \
        "partially_refunded"

    # The rest, by default.
    r = refund(srv, tok, p["payment_id"])
    assert r.status_code == 200, r.text
    assert r.json()["amount_minor"] == 700
    assert book(srv, fake, r.json()["provider_ref"]) == "processed"
    assert billing.balance(db, p["user_id"])[0] == 0
    assert billing.payment(db, p["payment_id"])["status"] == "refunded"
    assert [x[1] for x in refunds(db, p["payment_id"])] == [300, 700]
    billing.check_ledger(db)


def test_bad_requests_change_nothing(db, srv, fake, tok):
    p, _ = paid(db, srv, fake)
    pid = p["payment_id"]
    pending = billing.seed_payment(db, billing.seed_user(db))
    before = (billing.counts(db), db.query("SELECT count(*) FROM admin_audit"))
    for body in ({"amount_minor": 0}, {"amount_minor": -5},
                 {"amount_minor": "5"}, {"amount_minor": 1.5},
                 {"amount_minor": 100000000}):
        assert_error(refund(srv, tok, pid, body), 400, "invalid_value",
                     "amount_minor")
    assert_error(refund(srv, tok, pid, {"amount": 5}), 400, "invalid_value",
                 "amount")
    r = requests.post(srv.url + "/api/admin/payments/%s/refund" % pid,
                      data="{", headers=auth.bearer(tok), timeout=30)
    assert_error(r, 400, "invalid_json")
    assert_error(refund(srv, tok, pid, headers={"Idempotency-Key": "a b"}),
                 400, "invalid_value", "Idempotency-Key")
    assert_error(refund(srv, tok, "00000000-0000-4000-8000-00000000dead"),
                 404, "not_found")
    assert_error(refund(srv, tok, "nope"), 404, "not_found")

    # A payment not paid (still pending) cannot be refunded.
    assert_error(refund(srv, tok, pending["payment_id"]), 409,
                 "not_refundable")

    # Not an admin: 403, whoever's payment it is.
    user = auth.dev_login(srv, "bob@example.com")
    assert_error(refund(srv, user, pid), 403, "not_admin")
    assert_error(refund(srv, "tga_" + "A" * 43, pid), 401, "invalid_token")

    assert (billing.counts(db),
            db.query("SELECT count(*) FROM admin_audit")) == before
    assert refunds(db, pid) == [] and fake.refund_requests() == []


def test_double_click_refunds_once(db, srv, fake, tok):
    p, _ = paid(db, srv, fake)
    fake.delay = 1.0
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        rs = list(ex.map(lambda _: refund(srv, tok, p["payment_id"]),
                         range(2)))
    fake.delay = 0
    ok = [r for r in rs if r.status_code == 200]
    assert len(ok) == 1, [r.text for r in rs]
    other = [r for r in rs if r.status_code != 200][0]
    # The second found the first in flight (or, if it came after it was
    # made, nothing left to refund).
    assert_error(other, 409)
    assert other.json()["error"]["code"] in ("refund_in_progress",
                                             "not_refundable")
    assert len(fake.refund_requests()) == 1 and len(fake.refunds) == 1
    assert book(srv, fake, ok[0].json()["provider_ref"]) == "processed"
    assert billing.balance(db, p["user_id"])[0] == 0
    billing.check_ledger(db)


def test_idempotency_key_answers_the_same_refund(db, srv, fake, tok):
    p, _ = paid(db, srv, fake)
    h = {"Idempotency-Key": "click-1"}
    a = refund(srv, tok, p["payment_id"], {"amount_minor": 400}, h)
    assert a.status_code == 200, a.text
    b = refund(srv, tok, p["payment_id"], {"amount_minor": 400}, h)
    assert b.status_code == 200, b.text
    assert b.json() == a.json()
    assert len(fake.refund_requests()) == 1
    # The same key for another amount is a conflict; a new key refunds.
    assert_error(refund(srv, tok, p["payment_id"], {"amount_minor": 500}, h),
                 409, "idempotency_conflict", "Idempotency-Key")
    c = refund(srv, tok, p["payment_id"], {"amount_minor": 500},
               {"Idempotency-Key": "click-2"})
    assert c.status_code == 200 and c.json()["id"] != a.json()["id"]

    # Concurrent requests with one key: one refund.
    fake.delay = 1.0
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        rs = list(ex.map(lambda _: refund(
            srv, tok, p["payment_id"], {"amount_minor": 100},
            {"Idempotency-Key": "click-3"}), range(2)))
    fake.delay = 0
    codes = sorted(r.status_code for r in rs)
    assert codes in ([200, 200], [200, 409]), [r.text for r in rs]
    assert len({r.json()["id"] for r in rs if r.status_code == 200}) == 1
    assert len(fake.refund_requests()) == 3

    for re_id in fake.refunds:
        assert book(srv, fake, re_id) == "processed"
    assert billing.balance(db, p["user_id"])[0] == 0
    billing.check_ledger(db)


def test_admin_token_refund_is_audited_as_the_token(db, srv, fake, tok):
    p, _ = paid(db, srv, fake)
    admin_id = auth.user_id(srv, tok)
    t = admin.create_token(srv, tok, "back office")
    r = refund(srv, t["token"], p["payment_id"], {"amount_minor": 250})
    assert r.status_code == 200, r.text
    rf = r.json()
    assert rf["requested_by"] == admin_id
    assert rf["requested_token"] == t["id"]

    a = requests.get(srv.url + "/api/admin/audit?limit=1",
                     headers=auth.bearer(tok), timeout=30).json()["data"][0]
    assert a["action"] == "payment.refund"
    assert a["target"] == p["payment_id"]
    assert a["actor"] == {"user_id": admin_id, "email": admin.ADMIN_EMAIL,
                          "token_id": t["id"], "token_name": "back office"}
    assert a["before"] == {"status": "paid", "refunded_minor": 0}
    assert a["after"]["id"] == rf["id"] and a["after"]["amount_minor"] == 250
    assert a["after"]["status"] == "succeeded"


def test_stripe_refusal_is_502_redacted_and_books_nothing(db, srv, fake,
                                                          tok):
    p, _ = paid(db, srv, fake)
    before = billing.counts(db)
    fake.fail = (400, "This charge cannot be refunded (%s)" % fake.secret_key)
    err = assert_error(refund(srv, tok, p["payment_id"]), 502,
                       "upstream_error")
    assert "Stripe answered 400" in err["message"]
    assert fake.secret_key not in err["message"] and "***" in err["message"]
    assert billing.counts(db) == before
    assert billing.balance(db, p["user_id"])[0] == CREDITS
    assert refunds(db, p["payment_id"]) == [("refused", 1000, None)]
    a = requests.get(srv.url + "/api/admin/audit?limit=1",
                     headers=auth.bearer(tok), timeout=30).json()["data"][0]
    assert a["action"] == "payment.refund"
    assert a["after"]["status"] == "refused"
    assert fake.secret_key not in a["after"]["failure"]

    # A refusal made nothing: the next request is a new refund.
    fake.fail = None
    r = refund(srv, tok, p["payment_id"])
    assert r.status_code == 200, r.text
    assert len(fake.refunds) == 1


def test_stripe_error_without_answer_is_sent_again_with_its_key(db, srv,
                                                                fake, tok):
    p, _ = paid(db, srv, fake)
    before = billing.counts(db)
    fake.fail = (500, "An unknown error occurred")
    assert_error(refund(srv, tok, p["payment_id"], {"amount_minor": 600}),
                 502, "upstream_error")
    [(status, amount, ref)] = refunds(db, p["payment_id"])
    assert (status, amount, ref) == ("requested", 600, None)
    assert billing.counts(db) == before

    # Stripe may or may not have made it: the next request sends the same
    # refund again, with the same key, and answers it.
    fake.fail = None
    r = refund(srv, tok, p["payment_id"], {"amount_minor": 100})
    assert r.status_code == 200, r.text
    assert r.json()["amount_minor"] == 600
    keys = [x["headers"]["Idempotency-Key"] for x in fake.refund_requests()]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(fake.refunds) == 1
    assert book(srv, fake, r.json()["provider_ref"]) == "processed"
    assert billing.balance(db, p["user_id"])[0] == 4000000
    billing.check_ledger(db)


def test_refund_needs_billing(db, tollgate):
    s = tollgate(env=admin.ENV)
    assert_error(refund(s, admin.sign_in(s),
                        "00000000-0000-4000-8000-00000000dead"), 404,
                 "billing_disabled")
