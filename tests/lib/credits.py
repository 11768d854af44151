"""Credits helpers for tests: prices, grants, balances, the cost formula
(docs/contract.md §6, independently of the C code) and the ledger check.

Other modules' tests may use these to give a test user money
(grant(db, user, micros)) and a model a price (set_price(db, model, ...))
without going through the admin API."""

import os
import subprocess
import time
import uuid

from lib.server import ROOT

MTOK = 1000000


def cost(prompt, cached, completion, inp, cached_in, out, fee=0,
         cache_write=0, cache_write_in=None):
    """ceil(((prompt - cached - cache_write) * in + cached * cached_in
    + cache_write * cache_write_in + completion * out) / 1e6) + fee, in
    exact integers; prompt counts cached and cache_write tokens once;
    cache_write_in defaults to the input price."""
    if cache_write_in is None:
        cache_write_in = inp
    total = ((prompt - cached - cache_write) * inp + cached * cached_in +
             cache_write * cache_write_in + completion * out)
    return -(-total // MTOK) + fee


def set_price(db, model, inp, out, cached=None, fee=0, cache_write=None):
    """Appends a price row (what the admin PUT does); returns its id.
    cache_write (micros per Mtok of prompt cache writes) defaults to
    inp."""
    return db.query(
        "INSERT INTO model_prices (model, input_micros_per_mtok, "
        "cached_input_micros_per_mtok, output_micros_per_mtok, "
        "request_fee_micros, cache_write_input_micros_per_mtok) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        model, inp, inp if cached is None else cached, out, fee,
        inp if cache_write is None else cache_write)[0][0]


def grant(db, user, amount, key=None, kind="admin_grant", allow_debt=False):
    return db.query("SELECT result, txn_id, balance_after FROM "
                    "credits_grant(%s, %s, %s, 'test', %s, %s)",
                    user, amount, kind, key or str(uuid.uuid4()),
                    allow_debt)[0]


def balances(db, user):
    """(balance, reserved, available, debt) in micros."""
    rows = db.query("SELECT balance_micros, reserved_micros, "
                    "available_micros, debt_micros FROM ledger_user_balances "
                    "WHERE user_id = %s", user)
    return tuple(rows[0])


def leased(db, user):
    """What the user's open balance leases park (micros)."""
    return db.query("SELECT coalesce(sum(amount), 0) FROM credit_leases "
                    "WHERE user_id = %s AND status = 'open'", user)[0][0]


def unleased_balances(db, user):
    """balances() as they are without the open leases, which park credit
    for calls to come: (balance, reserved by holds, available + leased,
    debt). A whole lease is money the user still has."""
    b, r, a, d = balances(db, user)
    x = leased(db, user)
    return (b, r - x, a + x, d)


def settled(db, user, n=1, timeout=10):
    """Waits for n usage records: settlement is written after the answer
    (within a flush); returns usage(db, user)."""
    deadline = time.time() + timeout
    while time.time() < deadline and len(usage(db, user)) < n:
        time.sleep(0.02)
    return usage(db, user)


def usage_requests(t, headers, n=1, timeout=10):
    """The user's calls from GET /api/usage/requests (newest first, up to
    100), once n are there or timeout seconds passed: settlement is
    written after the answer."""
    deadline = time.time() + timeout
    while True:
        r = t.get("/api/usage/requests?limit=100", headers=headers)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        if len(data) >= n or time.time() > deadline:
            return data
        time.sleep(0.05)


def ledger_problems(db):
    return [r[0] for r in db.query("SELECT problem FROM ledger_check()")]


def check_ledger(db):
    """make check-ledger's script against db; fails the test on problems."""
    env = dict(os.environ, TOLLGATE_DATABASE_URL=db.url)
    r = subprocess.run([os.path.join(ROOT, "scripts/check-ledger.sh")],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ledger_problems(db) == []


def holds(db, user, status=None):
    sql = ("SELECT id, status, amount, charged, max_tokens FROM credit_holds "
           "WHERE user_id = %s")
    args = [user]
    if status is not None:
        sql += " AND status = %s"
        args.append(status)
    return db.query(sql + " ORDER BY created_at", *args)


def usage(db, user):
    return db.query("SELECT id, status, settlement, prompt_tokens, "
                    "cached_tokens, completion_tokens, cost_micros, "
                    "loss_micros, model FROM usage_records WHERE user_id = %s "
                    "ORDER BY started_at", user)
