"""Stripe webhooks (docs/contract.md §8, docs/billing.md): signatures checked
over the raw body before anything is written, events recorded once by id,
payments credited exactly once from our own payment row, refunds and
disputes clawed back, any delivery order converging on the same balance.

Webhooks need no signed-in user: payments are started in the database the
way a checkout starts them (tests/lib/billing.py); the checkout route
itself is covered by test_billing_checkout.py."""

import concurrent.futures
import json
import os
import subprocess
import time

import pytest

from fakes.stripe_fake import StripeFake, signature_header, stripe_id
from lib import billing
from lib.server import ROOT


@pytest.fixture
def fake():
    f = StripeFake()
    yield f
    f.stop()


@pytest.fixture
def srv(tollgate, fake):
    return tollgate(env=fake.env())


def started(db, fake, package=None):
    """A user, a pending payment, its Checkout Session at the fake."""
    user = billing.seed_user(db)
    p = billing.seed_payment(db, user, package)
    sid = fake.new_session(p["payment_id"], p["price_minor"], p["currency"])
    billing.attach_session(db, p["payment_id"], sid)
    return p, sid


def paid(db, fake, package=None, delayed=False):
    p, sid = started(db, fake, package)
    return p, fake.pay(sid, delayed=delayed)


def assert_ok(r, outcome=None):
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["received"] is True
    if outcome is not None:
        assert body["outcome"] == outcome, body
    return body


def assert_rejected(r, db, before):
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/json"
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    assert err["code"] == "invalid_signature"
    assert billing.counts(db) == before


# --- signatures --------------------------------------------------------

def test_valid_signature_credits_the_package(db, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    assert_ok(fake.send(srv, ev), "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]
    row = billing.payment(db, p["payment_id"])
    assert row["status"] == "paid" and row["granted"]
    assert row["payment_ref"] == s["payment_intent"]
    assert billing.event(db, ev["id"])["status"] == "processed"
    billing.check_ledger(db)


def _bad_deliveries(fake, ev):
    body = fake.payload(ev)
    now = int(time.time())
    mac = signature_header(body, fake.webhook_secret, now).split(",")[1]
    changed = body.replace(b'"paid"', b'"paiD"')
    assert len(changed) == len(body) and changed != body
    return {
        "wrong secret": dict(secret="whsec_not_the_configured_one_000000"),
        "body changed by one byte": dict(payload=changed,
                                         header=fake.header(body)),
        "t 301 s old": dict(t=now - 301),
        "t in the future": dict(t=now + 305),
        "missing header": dict(header=False),
        "no t": dict(header=mac),
        "duplicate t": dict(header="t=%d,t=%d,%s" % (now, now, mac)),
        "non-hex v1": dict(header="t=%d,v1=%s" % (now, "zz" * 32)),
        "short v1": dict(header="t=%d,%s" % (now, mac[:-1])),
        "non-numeric t": dict(header="t=now,%s" % mac),
        "huge t": dict(header="t=99999999999999999999,%s" % mac),
        "only v0": dict(header="t=%d,v0=%s" % (now, mac[3:])),
        "empty": dict(header=""),
        "spaces": dict(header="t=%d, %s" % (now, mac)),
        "thousands of pairs": dict(header="t=%d," % now +
                                   "v0=abc," * 1000 + mac),
        "signed for another t": dict(header="t=%d,%s" % (now - 1, mac)),
    }


@pytest.mark.parametrize("case", [
    "wrong secret", "body changed by one byte", "t 301 s old",
    "t in the future", "missing header", "no t", "duplicate t",
    "non-hex v1", "short v1", "non-numeric t", "huge t", "only v0", "empty",
    "spaces", "thousands of pairs", "signed for another t"])
def test_bad_signature_is_400_and_writes_nothing(db, srv, fake, case):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    before = billing.counts(db)
    r = fake.send(srv, ev, **_bad_deliveries(fake, ev)[case])
    if case == "empty":
        # Kore itself refuses any header with an empty value (a bare 400
        # before routing); nothing reaches us, nothing is written.
        assert r.status_code == 400
        assert billing.counts(db) == before
    else:
        assert_rejected(r, db, before)
    assert billing.balance(db, p["user_id"]) == (0, 0, 0)
    # The genuine delivery still works afterwards.
    assert_ok(fake.send(srv, ev), "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]


def test_tolerance_edges(db, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    assert_ok(fake.send(srv, ev, t=int(time.time()) - 290), "processed")
    ev2 = fake.async_succeeded(s)
    assert_ok(fake.send(srv, ev2, t=int(time.time()) + 290), "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]


def test_two_v1_one_valid(db, srv, fake):
    p, s = paid(db, fake)
    t = int(time.time())
    for ev in (fake.session_completed(s), fake.async_succeeded(s)):
        body = fake.payload(ev)
        good = fake.header(body, t=t).split(",")[1]
        bad = signature_header(body, "whsec_someone_else_0000000000000",
                               t).split(",")[1]
        order = (bad, good) if ev["type"].endswith("completed") else \
            (good, bad)
        r = fake.send(srv, ev, header="t=%d,%s,%s" % ((t,) + order))
        assert_ok(r, "processed")
        assert billing.event(db, ev["id"])["status"] == "processed"
    assert billing.ledger_txns(db, p["user_id"]) == [
        ("purchase", p["credits_micros"])]


def test_a_malformed_v1_beside_a_valid_one_is_skipped(db, srv, fake):
    """Stripe's own libraries compare every v1 and skip one that cannot
    match; a delivery with one valid v1 is Stripe's, whatever else sits
    beside it (short, non-hex, too long, before or after)."""
    p, s = paid(db, fake)
    t = int(time.time())
    first = fake.session_completed(s)
    events = (first, fake.async_succeeded(s), first)
    junk = ("v1=abc", "v1=" + "zz" * 32, "v1=" + "0" * 65)
    for i, (ev, bad) in enumerate(zip(events, junk)):
        body = fake.payload(ev)
        good = fake.header(body, t=t).split(",")[1]
        order = (bad, good) if i % 2 == 0 else (good, bad)
        r = fake.send(srv, ev, header="t=%d,%s,%s" % ((t,) + order))
        assert_ok(r, "processed" if i < 2 else None)
    assert billing.ledger_txns(db, p["user_id"]) == [
        ("purchase", p["credits_micros"])]
    # Alone, a malformed v1 is still no signature at all.
    before = billing.counts(db)
    ev = fake.charge_refunded(s, 100)
    assert_rejected(fake.send(srv, ev, header="t=%d,v1=abc" % t), db, before)


def test_rotated_secrets_old_and_new_both_accepted(db, tollgate, fake):
    old = fake.webhook_secret
    new = stripe_id("whsec_", 32)
    srv = tollgate(env=fake.env([new, old]))
    p1, s1 = paid(db, fake)
    p2, s2 = paid(db, fake)
    assert_ok(fake.send(srv, fake.session_completed(s1), secret=old),
              "processed")
    assert_ok(fake.send(srv, fake.session_completed(s2), secret=new),
              "processed")
    # During a roll Stripe signs with both: one header, two v1.
    p3, s3 = paid(db, fake)
    ev = fake.session_completed(s3)
    body = fake.payload(ev)
    t = int(time.time())
    both = "t=%d,%s,%s" % (t, signature_header(body, new, t).split(",")[1],
                           signature_header(body, old, t).split(",")[1])
    assert_ok(fake.send(srv, ev, header=both), "processed")
    for p in (p1, p2, p3):
        assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]
    # A secret that was rotated away no longer works.
    srv2 = tollgate(env=fake.env([new]))
    p4, s4 = paid(db, fake)
    before = billing.counts(db)
    assert_rejected(fake.send(srv2, fake.session_completed(s4), secret=old),
                    db, before)


NODE_SIGN = """
const Stripe = require('stripe');
const fs = require('fs');
const stripe = new Stripe('sk_test_unused');
const payload = fs.readFileSync(0, 'utf8');
const args = {payload: payload, secret: process.argv[1]};
if (process.argv[2]) args.timestamp = Number(process.argv[2]);
process.stdout.write(stripe.webhooks.generateTestHeaderString(args));
"""


def node_header(payload, secret, timestamp=None):
    argv = ["node", "-e", NODE_SIGN, secret]
    if timestamp is not None:
        argv.append(str(timestamp))
    r = subprocess.run(argv, input=payload, capture_output=True,
                       cwd=os.path.join(ROOT, "tests", "node"), timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def test_signatures_from_stripes_own_library_verify(db, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    body = fake.payload(ev)
    header = node_header(body, fake.webhook_secret)
    assert header.startswith("t=") and ",v1=" in header
    assert_ok(fake.send(srv, ev, header=header, payload=body), "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]

    # The library's signature of an old timestamp is refused as stale.
    p2, s2 = paid(db, fake)
    ev2 = fake.session_completed(s2)
    body2 = fake.payload(ev2)
    old = node_header(body2, fake.webhook_secret, int(time.time()) - 301)
    before = billing.counts(db)
    assert_rejected(fake.send(srv, ev2, header=old, payload=body2), db,
                    before)


def test_body_over_the_webhook_cap_is_413_before_signature_work(db, srv,
                                                                fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    ev["data"]["object"]["metadata"]["pad"] = "x" * (300 * 1024)
    before = billing.counts(db)
    r = fake.send(srv, ev)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"
    assert billing.counts(db) == before


def test_large_event_within_the_cap_verifies(db, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    ev["data"]["object"]["metadata"]["pad"] = "x" * (200 * 1024)
    assert_ok(fake.send(srv, ev), "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]


def test_signed_garbage_is_400_and_writes_nothing(db, srv, fake):
    before = billing.counts(db)
    for body in (b"not json", b"[]", b'{"id":"evt_1"}',
                 b'{"id":"e","id":"f","type":"x","data":{"object":{}}}'):
        r = fake.send(srv, None, payload=body)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_json"
    assert billing.counts(db) == before


def test_billing_off_has_no_webhook_endpoint(db, server, fake):
    p, s = paid(db, fake)
    r = fake.send(server, fake.session_completed(s))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "billing_disabled"
    assert billing.events(db) == []


# --- exactly once ------------------------------------------------------

def test_same_event_twice_credits_once(db, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    assert_ok(fake.send(srv, ev), "processed")
    before = billing.counts(db)
    assert_ok(fake.send(srv, ev), "duplicate")
    assert billing.counts(db) == before
    assert billing.ledger_txns(db, p["user_id"]) == [
        ("purchase", p["credits_micros"])]
    # Completed and async_payment_succeeded for the same payment: once.
    assert_ok(fake.send(srv, fake.async_succeeded(s)), "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]
    assert len(billing.ledger_txns(db, p["user_id"])) == 1
    billing.check_ledger(db)


def test_same_event_concurrently_credits_once(db, tollgate, fake):
    srv = tollgate(env=fake.env(), workers=2)
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    body = fake.payload(ev)
    header = fake.header(body)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        rs = list(pool.map(lambda _: fake.send(srv, ev, header=header,
                                               payload=body), range(20)))
    outcomes = sorted(assert_ok(r)["outcome"] for r in rs)
    assert outcomes == ["duplicate"] * 19 + ["processed"]
    assert billing.ledger_txns(db, p["user_id"]) == [
        ("purchase", p["credits_micros"])]
    assert len(billing.events(db)) == 1
    billing.check_ledger(db)


def test_different_events_for_one_payment_concurrently(db, tollgate, fake):
    """completed, async_succeeded and a refund racing: one grant, the
    refund applied once, whatever wins."""
    srv = tollgate(env=fake.env(), workers=2)
    for _ in range(5):
        p, s = paid(db, fake)
        evs = [fake.session_completed(s), fake.async_succeeded(s),
               fake.charge_refunded(s, p["price_minor"] // 2)] * 3
        with concurrent.futures.ThreadPoolExecutor(9) as pool:
            rs = list(pool.map(lambda e: fake.send(srv, e), evs))
        for r in rs:
            assert_ok(r)
        half = p["credits_micros"] // 2
        assert billing.balance(db, p["user_id"])[0] == \
            p["credits_micros"] - half
        assert billing.ledger_txns(db, p["user_id"]) == [
            ("purchase", p["credits_micros"]), ("refund", -half)]
    billing.check_ledger(db)


# --- refunds, disputes, order -----------------------------------------

def test_partial_and_full_refund_claw_back_pro_rata(db, srv, fake):
    p, s = paid(db, fake)
    user, c, a = p["user_id"], p["credits_micros"], p["price_minor"]
    assert_ok(fake.send(srv, fake.session_completed(s)), "processed")
    assert_ok(fake.send(srv, fake.charge_refunded(s, a * 3 // 10)),
              "processed")
    assert billing.balance(db, user)[0] == c - c * 3 // 10
    row = billing.payment(db, p["payment_id"])
    assert row["status"] == "partially_refunded"
    assert row["credited_micros"] == c - c * 3 // 10
    # amount_refunded is cumulative: an older partial event is a no-op.
    assert_ok(fake.send(srv, fake.charge_refunded(s, a)), "processed")
    assert_ok(fake.send(srv, fake.charge_refunded(s, a // 10)), "processed")
    assert billing.balance(db, user) == (0, 0, 0)
    row = billing.payment(db, p["payment_id"])
    assert row["status"] == "refunded" and row["credited_micros"] == 0
    billing.check_ledger(db)


def test_refund_after_credits_were_spent_leaves_debt(db, srv, fake):
    p, s = paid(db, fake)
    user, c = p["user_id"], p["credits_micros"]
    assert_ok(fake.send(srv, fake.session_completed(s)), "processed")
    # Spend most of it (as the router's settlement would).
    r = db.query("SELECT result FROM credits_grant(%s, %s, 'usage', 'test', "
                 "'spend-1', false)", user, -(c - 1000))
    assert r[0][0] == "ok"
    assert_ok(fake.send(srv, fake.charge_refunded(s, p["price_minor"])),
              "processed")
    bal, avail, debt = billing.balance(db, user)
    assert bal == 1000 - c and debt == 1000 - c and avail < 0
    # Buying again repays the debt first.
    p2, s2 = paid(db, fake, p)
    db.query("UPDATE billing_payments SET user_id = %s WHERE id = %s", user,
             p2["payment_id"])
    assert_ok(fake.send(srv, fake.session_completed(s2)), "processed")
    assert billing.balance(db, user) == (1000, 1000, 0)
    billing.check_ledger(db)


ORDERS = {
    "in order": ["completed", "refund_part", "refund_full"],
    "refund first": ["refund_full", "completed"],
    "refunds reversed before payment": ["refund_full", "refund_part",
                                        "completed"],
    "refund between": ["refund_part", "completed", "refund_full"],
}


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_any_delivery_order_converges(db, srv, fake, order):
    p, s = paid(db, fake)
    a = p["price_minor"]
    evs = {"completed": fake.session_completed(s),
           "refund_part": fake.charge_refunded(s, a // 4),
           "refund_full": fake.charge_refunded(s, a // 2)}
    for name in ORDERS[order]:
        assert_ok(fake.send(srv, evs[name]))
    c = p["credits_micros"]
    assert billing.balance(db, p["user_id"])[0] == c - c // 2
    row = billing.payment(db, p["payment_id"])
    assert row["status"] == "partially_refunded"
    assert row["refunded_minor"] == a // 2
    assert all(e[2] == "processed" for e in billing.events(db))
    billing.check_ledger(db)


def test_refund_before_completion_same_balance_as_in_order(db, srv, fake):
    a_p, a_s = paid(db, fake)
    b_p, b_s = paid(db, fake)
    amount = a_p["price_minor"]
    # a: in order; b: refund delivered before the payment's completion.
    assert_ok(fake.send(srv, fake.session_completed(a_s)), "processed")
    assert_ok(fake.send(srv, fake.charge_refunded(a_s, amount)), "processed")
    r = fake.send(srv, fake.charge_refunded(b_s, amount))
    assert_ok(r, "unmatched")
    assert billing.balance(db, b_p["user_id"]) == (0, 0, 0)
    assert_ok(fake.send(srv, fake.session_completed(b_s)), "processed")
    assert billing.balance(db, a_p["user_id"]) == \
        billing.balance(db, b_p["user_id"]) == (0, 0, 0)
    assert billing.payment(db, b_p["payment_id"])["status"] == "refunded"
    assert billing.ledger_txns(db, a_p["user_id"]) == \
        billing.ledger_txns(db, b_p["user_id"])
    billing.check_ledger(db)


def test_dispute_claws_back_and_a_won_dispute_gives_back(db, srv, fake):
    p, s = paid(db, fake)
    user, c = p["user_id"], p["credits_micros"]
    assert_ok(fake.send(srv, fake.session_completed(s)), "processed")
    assert_ok(fake.send(srv, fake.dispute_created(s)), "processed")
    assert billing.balance(db, user)[0] == 0
    assert billing.payment(db, p["payment_id"])["status"] == "disputed"
    assert_ok(fake.send(srv, fake.dispute_closed(s, "won")), "processed")
    assert billing.balance(db, user)[0] == c
    assert billing.payment(db, p["payment_id"])["status"] == "paid"
    # A late duplicate "created" does not reopen a closed dispute.
    assert_ok(fake.send(srv, fake.dispute_created(s)), "processed")
    assert billing.balance(db, user)[0] == c
    assert [k for k, _ in billing.ledger_txns(db, user)] == [
        "purchase", "dispute", "dispute_won"]
    billing.check_ledger(db)


def test_lost_dispute_stays_clawed_back(db, srv, fake):
    p, s = paid(db, fake)
    assert_ok(fake.send(srv, fake.dispute_closed(s, "lost")), "unmatched")
    assert_ok(fake.send(srv, fake.session_completed(s)), "processed")
    assert billing.balance(db, p["user_id"])[0] == 0
    assert billing.payment(db, p["payment_id"])["status"] == "disputed"
    billing.check_ledger(db)


def test_delayed_payment_credits_only_when_it_succeeds(db, srv, fake):
    p, s = paid(db, fake, delayed=True)
    assert_ok(fake.send(srv, fake.session_completed(s)), "processed")
    assert billing.payment(db, p["payment_id"])["status"] == "processing"
    assert billing.balance(db, p["user_id"]) == (0, 0, 0)
    s = fake.settle_delayed(s["id"])
    assert_ok(fake.send(srv, fake.async_succeeded(s)), "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]

    q, t = paid(db, fake, delayed=True)
    assert_ok(fake.send(srv, fake.session_completed(t)), "processed")
    assert_ok(fake.send(srv, fake.async_failed(t)), "processed")
    row = billing.payment(db, q["payment_id"])
    assert row["status"] == "failed" and not row["granted"]
    assert billing.balance(db, q["user_id"]) == (0, 0, 0)


def test_expired_checkout(db, srv, fake):
    p, sid = started(db, fake)
    s = dict(fake.sessions[sid])
    assert_ok(fake.send(srv, fake.session_expired(s)), "processed")
    assert billing.payment(db, p["payment_id"])["status"] == "expired"


# --- events that must not credit --------------------------------------

def test_unknown_payment_is_recorded_without_credits(db, srv, fake):
    user = billing.seed_user(db)
    for ref in ("00000000-0000-4000-8000-000000000000", "not-ours", None):
        sid = fake.new_session(ref, 1000)
        s = fake.pay(sid)
        ev = fake.session_completed(s)
        assert_ok(fake.send(srv, ev), "unmatched")
        row = billing.event(db, ev["id"])
        assert row["status"] == "unmatched" and row["payment_id"] is None
    assert db.query("SELECT count(*) FROM ledger_transactions")[0][0] == 0
    assert billing.balance(db, user) == (0, 0, 0)


@pytest.mark.parametrize("field,value", [
    ("amount_total", 999), ("amount_total", 100000), ("currency", "eur"),
    ("amount_total", None)])
def test_amount_or_currency_mismatch_is_flagged_not_credited(
        db, srv, fake, field, value):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    ev["data"]["object"][field] = value
    assert_ok(fake.send(srv, ev), "flagged")
    row = billing.payment(db, p["payment_id"])
    assert row["status"] == "flagged" and not row["granted"]
    assert row["flag"]
    assert billing.balance(db, p["user_id"]) == (0, 0, 0)
    assert billing.event(db, ev["id"])["status"] == "flagged"
    # A correct event later does not credit a flagged payment by itself.
    assert_ok(fake.send(srv, fake.async_succeeded(s)), "flagged")
    assert billing.balance(db, p["user_id"]) == (0, 0, 0)
    assert "NEEDS REVIEW" in srv.log()


def test_metadata_never_decides_what_is_credited(db, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    ev["data"]["object"]["metadata"] = {"credits_micros": "999999999999",
                                        "tollgate_package_id": "x"}
    assert_ok(fake.send(srv, ev), "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]


def test_session_of_another_payment_is_flagged(db, srv, fake):
    p, s = paid(db, fake)
    q, t = paid(db, fake)
    ev = fake.session_completed(dict(t, client_reference_id=p["payment_id"]))
    assert_ok(fake.send(srv, ev), "flagged")
    assert billing.balance(db, p["user_id"]) == (0, 0, 0)
    assert billing.balance(db, q["user_id"]) == (0, 0, 0)


def test_unknown_event_types_are_recorded_and_ignored(db, srv, fake):
    ev = fake.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert_ok(fake.send(srv, ev), "ignored")
    assert billing.event(db, ev["id"])["status"] == "ignored"
    p, s = paid(db, fake)
    ev = fake.event("payment_intent.succeeded",
                    {"id": s["payment_intent"], "object": "payment_intent",
                     "amount": 1000, "currency": "usd"})
    assert_ok(fake.send(srv, ev), "ignored")
    ev = fake.session_completed(s)
    ev["data"]["object"]["payment_status"] = "no_payment_required"
    assert_ok(fake.send(srv, ev), "flagged")
    assert db.query("SELECT count(*) FROM ledger_transactions")[0][0] == 0


def test_live_event_on_a_test_key_is_ignored(db, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s, livemode=True)
    assert_ok(fake.send(srv, ev), "ignored")
    assert billing.balance(db, p["user_id"]) == (0, 0, 0)
    assert "mode" in billing.event(db, ev["id"])["detail"]


def test_database_down_is_5xx_so_stripe_retries(db, pg, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    pg.stop()
    try:
        r = fake.send(srv, ev)
        assert r.status_code in (500, 503), r.text
    finally:
        pg.start()
    deadline = time.time() + 10
    while True:
        r = fake.send(srv, ev)
        if r.status_code == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert_ok(r, "processed")
    assert billing.balance(db, p["user_id"])[0] == p["credits_micros"]


def test_webhook_metrics(db, srv, fake):
    p, s = paid(db, fake)
    ev = fake.session_completed(s)
    fake.send(srv, ev)
    fake.send(srv, ev)
    fake.send(srv, ev, secret="whsec_wrong_wrong_wrong_wrong_00")
    text = srv.get("/metrics").text
    for outcome in ("processed", "duplicate", "rejected"):
        assert ('tollgate_billing_webhook_events_total{outcome="%s"} 1' %
                outcome) in text
