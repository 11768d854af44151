"""Billing helpers for tests (sql/0400_billing.sql, docs/billing.md).

seed_payment() starts a payment straight in the database the way
POST /api/billing/checkout does (billing_checkout_begin), for tests that
need one without a session or a checkout; the rest read what a user or an
operator would look at: balances, payments, recorded events, the ledger.
"""

from lib.credits import check_ledger  # noqa: F401  (re-exported)
from lib.keys import seed_user  # noqa: F401  (re-exported for billing tests)


def packages(db):
    rows = db.query("SELECT id, name, price_minor, currency, credits_micros "
                    "FROM billing_packages WHERE active "
                    "ORDER BY price_minor, name")
    return [dict(zip(("id", "name", "price_minor", "currency",
                      "credits_micros"), (str(r[0]),) + tuple(r[1:])))
            for r in rows]


def seed_payment(db, user, package=None):
    """A pending payment (as a started checkout leaves it)."""
    pkg = package or packages(db)[0]
    row = db.query("SELECT result, payment_id FROM "
                   "billing_checkout_begin(%s, %s, 'stripe')", user,
                   pkg["id"])[0]
    assert row[0] == "ok", row
    return dict(pkg, payment_id=str(row[1]), user_id=user)


def attach_session(db, payment_id, session_id):
    db.query("UPDATE billing_payments SET checkout_ref = %s WHERE id = %s",
             session_id, payment_id)


def payment(db, payment_id):
    cols = ("status", "credited_micros", "refunded_minor", "granted", "flag",
            "payment_ref", "checkout_ref", "failure", "disputed_minor",
            "dispute_state")
    rows = db.query("SELECT %s FROM billing_payments WHERE id = %%s" %
                    ", ".join(cols), payment_id)
    return dict(zip(cols, rows[0])) if rows else None


def balance(db, user):
    """(balance, available, debt) in micros; zeros for a new user."""
    rows = db.query("SELECT balance_micros, available_micros, debt_micros "
                    "FROM ledger_user_balances WHERE user_id = %s", user)
    return tuple(int(x) for x in rows[0]) if rows else (0, 0, 0)


def events(db):
    return db.query("SELECT event_id, event_type, status, payment_id, "
                    "detail FROM billing_events ORDER BY id")


def event(db, event_id):
    rows = db.query("SELECT status, payment_id, detail FROM billing_events "
                    "WHERE event_id = %s", event_id)
    return dict(zip(("status", "payment_id", "detail"), rows[0])) \
        if rows else None


def counts(db):
    """What a webhook may write: events, payments' state, the ledger."""
    return db.query(
        "SELECT (SELECT count(*) FROM billing_events), "
        "(SELECT count(*) FROM ledger_transactions), "
        "(SELECT count(*) FROM ledger_entries), "
        "(SELECT string_agg(id || status || credited_micros, ',' "
        "ORDER BY id) FROM billing_payments)")[0]


def ledger_txns(db, user):
    """(kind, amount) of a user's ledger transactions, in posting order."""
    return db.query("SELECT t.kind, t.amount FROM ledger_transactions t "
                    "WHERE t.user_id = %s ORDER BY (SELECT min(e.id) FROM "
                    "ledger_entries e WHERE e.txn_id = t.id)", user)
