"""Holds, settlement, expiry and prices at the SQL level (sql/030x):
one function call per operation, exact and idempotent, and safe under
concurrency (psycopg2 threads, each its own connection)."""

import threading
import uuid

import psycopg2
import pytest

from lib.credits import (balances, check_ledger, cost, grant, holds,
                         ledger_problems, set_price, usage)
from lib.keys import seed_key, seed_user

MODEL = "testprov:model-a"
P_IN, P_OUT, FEE = 1000000, 2000000, 10     # 1 and 2 micros per token


def reserve(db, user, bound, max_tokens, cap=None, key=None, hold=None,
            model=MODEL, min_tokens=1, ttl=600, endpoint="chat", n=1,
            targets=None):
    """credits_reserve with one target (or several: targets=[(model,
    cap)...]); returns (hold, first row in the order: result, max_tokens,
    amount, price_id, in, cached_in, out, fee, available, key_available,
    debt)."""
    hold = hold or str(uuid.uuid4())
    if targets is None:
        targets = [(model, cap or 0)]
    rows = db.query(
        "SELECT result, max_tokens, amount, price_id, input_price, "
        "cached_input_price, output_price, request_fee, available, "
        "key_available, debt, target, model FROM credits_reserve(%s, %s, "
        "%s, 'req-1', %s, %s, %s, %s, %s, %s, %s, %s)", hold, user, key,
        endpoint, [t[0] for t in targets], [t[1] for t in targets], bound,
        max_tokens if max_tokens is not None else (cap or 0), min_tokens,
        n, ttl)
    return hold, rows[0][:11]


def settle(db, hold, prompt, cached, completion, cost_micros,
           settlement="provider", status="ok", reasoning=0, target=0,
           cache_write=0):
    return db.query(
        "SELECT result, charged, loss, txn_id, hold_status FROM "
        "credits_settle(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'served', "
        "200, 12, NULL)", hold, target, status, settlement, prompt, cached,
        cache_write, completion, reasoning, cost_micros)[0]


@pytest.fixture
def priced(db):
    set_price(db, MODEL, P_IN, P_OUT, fee=FEE)
    return db


def test_reserve_full_hold_then_settle_for_less(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 1000)
    hold, r = reserve(db, u, bound=100, max_tokens=200, cap=4096)
    assert r[0] == "ok"
    assert r[1] == 200
    assert r[2] == 100 + 400 + FEE
    assert balances(db, u) == (1000, 510, 490, 0)

    c = cost(60, 0, 150, P_IN, P_IN, P_OUT, FEE)
    s = settle(db, hold, 60, 0, 150, c)
    assert s[0] == "ok" and s[1] == c and s[2] == 0
    assert balances(db, u) == (1000 - c, 0, 1000 - c, 0)
    rec = usage(db, u)[0]
    assert rec[1:8] == ("ok", "provider", 60, 0, 150, c, 0)
    check_ledger(db)


def test_clamps_max_tokens_to_the_balance(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 300)
    # 100 prompt micros + 10 fee leave 190 micros = 95 output tokens.
    hold, r = reserve(db, u, bound=100, max_tokens=4096, cap=4096)
    assert r[0] == "ok" and r[1] == 95 and r[2] == 300
    assert balances(db, u)[2] == 0
    # Nothing left: not even one token.
    _, r = reserve(db, u, bound=1, max_tokens=10, cap=4096)
    assert r[0] == "insufficient" and r[8] == 0
    check_ledger(db)


def test_insufficient_when_prompt_alone_is_unaffordable(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 111)
    _, r = reserve(db, u, bound=100, max_tokens=50, cap=4096)
    # 101 left after the fee: the prompt (100) and not one token (2).
    assert r[0] == "insufficient" and r[1] == 0 and r[8] == 111
    _, r = reserve(db, u, bound=200, max_tokens=50, cap=4096)
    assert r[0] == "insufficient" and r[1] == -1
    assert balances(db, u) == (111, 0, 111, 0)
    assert holds(db, u) == []


def test_cap_bounds_the_request_and_a_missing_max_tokens(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 10 ** 9)
    # The target gets min(max_tokens, its cap): the hold is sized so.
    _, r = reserve(db, u, bound=10, max_tokens=10 ** 12, cap=4096)
    assert r[0] == "ok" and r[2] == 10 + 4096 * 2 + FEE
    _, r = reserve(db, u, bound=10, max_tokens=5, cap=None)
    assert r[0] == "ok" and r[1] == 5 and r[2] == 10 + 10 + FEE
    with pytest.raises(psycopg2.Error):
        db.query("SELECT * FROM credits_reserve(gen_random_uuid(), %s, "
                 "NULL, 'r', 'chat', %s, '{0}', 1, NULL, 1, 1, 60)", u,
                 [MODEL])
    with pytest.raises(psycopg2.Error):
        reserve(db, u, bound=-1, max_tokens=5, cap=None)


def test_no_price_debt_and_free_models(priced):
    db = priced
    u = seed_user(db)
    _, r = reserve(db, u, bound=1, max_tokens=1, model="testprov:unpriced")
    assert r[0] == "no_price"
    set_price(db, "testprov:free", 0, 0)
    hold, r = reserve(db, u, bound=10 ** 6, max_tokens=10 ** 6,
                      model="testprov:free")
    assert r[0] == "ok" and r[2] == 0           # free with no credits
    assert settle(db, hold, 5, 0, 5, 0)[0] == "ok"
    grant(db, u, 100)
    grant(db, u, -500, kind="refund", allow_debt=True)
    _, r = reserve(db, u, bound=1, max_tokens=1)
    assert r[0] == "debt" and r[10] == -400
    _, r = reserve(db, u, bound=1, max_tokens=1, model="testprov:free")
    assert r[0] == "debt"
    check_ledger(db)


def test_key_spend_limit_counts_spent_and_pending(priced):
    db = priced
    _, u, key = seed_key(db, spend_limit_micros=600)
    grant(db, u, 10 ** 6)
    h1, r = reserve(db, u, bound=100, max_tokens=200, key=key)
    assert r[0] == "ok" and r[2] == 510 and r[9] == 90
    # 90 left on the key: clamped to (90 - 10 - 0) / 2 = 40 tokens
    h2, r = reserve(db, u, bound=0, max_tokens=200, key=key)
    assert r[0] == "ok" and r[1] == 40 and r[2] == 90
    _, r = reserve(db, u, bound=0, max_tokens=1, key=key)
    assert r[0] == "insufficient" and r[9] == 0
    settle(db, h1, 100, 0, 100, cost(100, 0, 100, P_IN, P_IN, P_OUT, FEE))
    assert db.query("SELECT spent_micros FROM api_keys WHERE id = %s",
                    key)[0][0] == 310
    settle(db, h2, 0, 0, 0, 0, settlement="void", status="upstream_error")
    _, r = reserve(db, u, bound=0, max_tokens=1000, key=key)
    assert r[0] == "ok" and r[2] == 290 and r[1] == 140
    # Another user's key is refused outright.
    other = seed_user(db)
    grant(db, other, 1000)
    with pytest.raises(psycopg2.Error):
        reserve(db, other, bound=1, max_tokens=1, key=key)
    check_ledger(db)


def test_reserve_and_settle_are_idempotent(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 1000)
    hold, r1 = reserve(db, u, bound=10, max_tokens=10)
    _, r2 = reserve(db, u, bound=10, max_tokens=10, hold=hold)
    assert r1[0] == "ok" and r2[0] == "duplicate" and r2[2] == r1[2]
    assert balances(db, u)[1] == r1[2]
    c = cost(5, 0, 5, P_IN, P_IN, P_OUT, FEE)
    assert settle(db, hold, 5, 0, 5, c)[0] == "ok"
    again = settle(db, hold, 9, 0, 9, 999)
    assert again[0] == "duplicate" and again[1] == c
    voided = settle(db, hold, 0, 0, 0, 0, settlement="void")
    assert voided[0] == "duplicate" and voided[1] == c
    assert balances(db, u) == (1000 - c, 0, 1000 - c, 0)
    assert len(usage(db, u)) == 1
    assert settle(db, str(uuid.uuid4()), 1, 0, 1, 1)[0] == "unknown"
    # Another user cannot take over a hold id.
    other = seed_user(db)
    with pytest.raises(psycopg2.Error):
        reserve(db, other, bound=1, max_tokens=1, hold=hold)
    check_ledger(db)


def test_void_releases_everything(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 1000)
    hold, _ = reserve(db, u, bound=10, max_tokens=10)
    s = settle(db, hold, 0, 0, 0, 0, settlement="void",
               status="upstream_error")
    assert s[0] == "ok" and s[1] == 0 and s[4] == "voided"
    assert balances(db, u) == (1000, 0, 1000, 0)
    assert usage(db, u)[0][1:3] == ("upstream_error", "void")
    with pytest.raises(psycopg2.Error):
        hold2, _ = reserve(db, u, bound=10, max_tokens=10)
        settle(db, hold2, 1, 0, 0, 1, settlement="void")
    check_ledger(db)


def test_usage_beyond_the_hold_is_charged_the_hold_and_a_loss(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 1000)
    hold, r = reserve(db, u, bound=10, max_tokens=10)
    c = cost(500, 0, 100, P_IN, P_IN, P_OUT, FEE)
    s = settle(db, hold, 500, 0, 100, c)
    assert s[1] == r[2] and s[2] == c - r[2]
    assert balances(db, u) == (1000 - r[2], 0, 1000 - r[2], 0)
    loss = db.query("SELECT sum(e.amount) FROM ledger_entries e JOIN "
                    "ledger_accounts a ON a.id = e.account_id WHERE "
                    "a.name = 'loss'")[0][0]
    assert loss == -(c - r[2])
    check_ledger(db)


def test_cached_tokens_and_rounding_up_once(db):
    set_price(db, MODEL, 3, 7, cached=1, fee=0)
    u = seed_user(db)
    grant(db, u, 10 ** 6)
    hold, r = reserve(db, u, bound=1000, max_tokens=1000)
    assert r[2] == 1                      # 10000 / 1e6, rounded up
    c = cost(1000, 400, 10, 3, 1, 7)      # 1800 + 400 + 70 -> 1 micro
    assert c == 1
    assert settle(db, hold, 1000, 400, 10, c)[1] == 1
    check_ledger(db)


def test_expired_holds_are_settled_once_for_the_whole_hold(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 10000)
    h1, r1 = reserve(db, u, bound=10, max_tokens=10)
    h2, r2 = reserve(db, u, bound=10, max_tokens=20)
    h3, _ = reserve(db, u, bound=10, max_tokens=30)
    db.query("UPDATE credit_holds SET expires_at = now() - "
             "interval '2 minutes' WHERE id IN (%s, %s)", h1, h2)
    assert any("after its expiry" in p for p in ledger_problems(db))

    results = []

    def sweep():
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT expired, charged, pending FROM "
                            "credits_expire_holds(100)")
                results.append(cur.fetchone())
        finally:
            conn.close()

    threads = [threading.Thread(target=sweep) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r[0] for r in results) == 2
    assert sum(r[1] for r in results) == r1[2] + r2[2]
    st = {h[0]: h[1] for h in holds(db, u)}
    assert st[h1] == "expired" and st[h3] == "pending"
    # A late settle of an expired hold changes nothing.
    late = settle(db, h1, 1, 0, 1, 3)
    assert late[0] == "duplicate" and late[4] == "expired"
    assert balances(db, u)[0] == 10000 - r1[2] - r2[2]
    rec = [x for x in usage(db, u) if x[0] == h1][0]
    assert rec[1:3] == ("expired", "expired")
    check_ledger(db)


def test_concurrent_reserves_never_overdraw(priced):
    db = priced
    u = seed_user(db)
    hold_amount = 10 + 100 + 2 * 50
    grant(db, u, 37 * hold_amount)
    results = []

    def worker():
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT result, amount FROM credits_reserve(%s, "
                            "%s, NULL, 'r', 'chat', %s, '{4096}', 100, 50, "
                            "50, 1, 600)", (str(uuid.uuid4()), u, [MODEL]))
                results.append(cur.fetchone())
                cur.execute("SELECT available_micros FROM "
                            "ledger_user_balances WHERE user_id = %s", (u,))
                assert cur.fetchone()[0] >= 0
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(120)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results].count("ok") == 37
    assert [r[0] for r in results].count("insufficient") == 83
    assert all(r[1] == hold_amount for r in results if r[0] == "ok")
    assert balances(db, u) == (37 * hold_amount, 37 * hold_amount, 0, 0)
    check_ledger(db)


def test_concurrent_mixed_traffic_keeps_the_ledger_consistent(priced):
    """Reserves, settles, voids, grants, claw-backs and sweeps at once."""
    db = priced
    users = [seed_user(db) for _ in range(3)]
    for u in users:
        grant(db, u, 20000)
    errors = []

    def caller(u, n):
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                for i in range(n):
                    h = str(uuid.uuid4())
                    cur.execute("SELECT result, max_tokens FROM "
                                "credits_reserve(%s, %s, NULL, 'r', 'chat', "
                                "%s, '{4096}', 20, 40, 1, 1, 600)",
                                (h, u, [MODEL]))
                    res, m = cur.fetchone()
                    if res != "ok":
                        continue
                    if i % 5 == 0:
                        cur.execute("SELECT result FROM credits_settle(%s, "
                                    "NULL, 'upstream_error', 'void', 0, 0, 0,"
                                    " 0, 0, 0, NULL, 502, 1, NULL)", (h,))
                    elif i % 7 == 0:
                        continue                # left for the sweeper
                    else:
                        c = cost(20, 5, m, P_IN, P_IN, P_OUT, FEE)
                        cur.execute("SELECT result FROM credits_settle(%s, "
                                    "0, 'ok', 'provider', 20, 5, 0, %s, 0, "
                                    "%s, NULL, 200, 1, NULL)", (h, m, c))
                    # The sweeper below may have expired it first.
                    assert cur.fetchone()[0] in ("ok", "duplicate")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            conn.close()

    def granter(u):
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                for i in range(10):
                    cur.execute("SELECT result FROM credits_grant(%s, %s, "
                                "'admin_grant', 't', %s, %s)",
                                (u, 300 if i % 2 else -200,
                                 str(uuid.uuid4()), True))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            conn.close()

    def sweeper():
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                for _ in range(20):
                    cur.execute("UPDATE credit_holds SET expires_at = now() "
                                "WHERE status = 'pending' AND created_at < "
                                "now() - interval '50 milliseconds'")
                    cur.execute("SELECT * FROM credits_expire_holds(50)")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            conn.close()

    threads = []
    for u in users:
        threads += [threading.Thread(target=caller, args=(u, 30))
                    for _ in range(4)]
        threads.append(threading.Thread(target=granter, args=(u,)))
    threads += [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.query("UPDATE credit_holds SET expires_at = now() - interval '1s' "
             "WHERE status = 'pending'")
    db.query("SELECT * FROM credits_expire_holds(1000)")
    for u in users:
        b = balances(db, u)
        assert b[1] == 0
    check_ledger(db)


def test_price_history_and_snapshot(db):
    a = set_price(db, MODEL, 1000000, 1000000)
    u = seed_user(db)
    grant(db, u, 10 ** 6)
    hold, r = reserve(db, u, bound=10, max_tokens=10)
    assert r[3] == a and r[2] == 20
    b = set_price(db, MODEL, 5000000, 5000000)
    assert b > a
    # The in-flight call keeps its snapshot; the check verifies the cost
    # against the hold's prices, not the current ones.
    settle(db, hold, 10, 0, 10, cost(10, 0, 10, 1000000, 1000000, 1000000))
    check_ledger(db)
    _, r = reserve(db, u, bound=10, max_tokens=10)
    assert r[3] == b and r[2] == 100
    with pytest.raises(psycopg2.Error):
        db.query("UPDATE model_prices SET input_micros_per_mtok = 0")
    with pytest.raises(psycopg2.Error):
        db.query("DELETE FROM model_prices")
    with pytest.raises(psycopg2.Error):
        set_price(db, MODEL, 1, 1, cached=2)      # cached dearer
    with pytest.raises(psycopg2.Error):
        set_price(db, "no-colon", 1, 1)


def test_price_set_is_admin_only_and_idempotent(db):
    admin = seed_user(db, is_admin=True)
    plain = seed_user(db)
    q = "SELECT result, price_id FROM credits_price_set(%s, %s, 1, 1, 2, 0, NULL)"
    assert db.query(q, plain, MODEL)[0][0] == "not_admin"
    r1 = db.query(q, admin, MODEL)[0]
    r2 = db.query(q, admin, MODEL)[0]
    assert r1[0] == "created" and r2 == ("unchanged", r1[1])
    assert db.query("SELECT count(*) FROM model_prices WHERE model = %s",
                    MODEL)[0][0] == 1


def test_usage_records_are_append_only(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 1000)
    hold, _ = reserve(db, u, bound=1, max_tokens=1)
    settle(db, hold, 1, 0, 1, cost(1, 0, 1, P_IN, P_IN, P_OUT, FEE))
    for sql in ("UPDATE usage_records SET cost_micros = 0",
                "DELETE FROM usage_records"):
        with pytest.raises(psycopg2.Error):
            db.query(sql)


def test_check_finds_tampering(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 1000)
    hold, _ = reserve(db, u, bound=1, max_tokens=1)
    db.query("UPDATE ledger_accounts SET reserved = 0 WHERE user_id = %s "
             "AND kind = 'user'", u)
    assert any("pending holds" in p for p in ledger_problems(db))
    db.query("UPDATE ledger_accounts SET reserved = (SELECT amount FROM "
             "credit_holds WHERE id = %s) WHERE user_id = %s AND "
             "kind = 'user'", hold, u)
    assert ledger_problems(db) == []
    # A settled hold without a usage record (written behind the
    # functions' back) is found.
    db.query("ALTER TABLE usage_records DISABLE TRIGGER "
             "usage_records_append_only")
    settle(db, hold, 1, 0, 1, cost(1, 0, 1, P_IN, P_IN, P_OUT, FEE))
    db.query("DELETE FROM usage_records WHERE id = %s", hold)
    problems = ledger_problems(db)
    assert any("without a usage record" in p for p in problems)


def test_several_choices_multiply_the_output_part(priced):
    db = priced
    u = seed_user(db)
    grant(db, u, 10 ** 6)
    hold, r = reserve(db, u, bound=100, max_tokens=50, n=3)
    assert r[0] == "ok" and r[1] == 50 and r[2] == 100 + 3 * 50 * 2 + FEE
    db.query("UPDATE credit_holds SET expires_at = now() - interval '1s' "
             "WHERE id = %s", hold)
    db.query("SELECT * FROM credits_expire_holds(10)")
    assert usage(db, u)[0][5] == 150       # completion: 3 x 50
    # Clamped per choice: (400 - 10 - 100) / (3 * 2) = 48 tokens each.
    u2 = seed_user(db)
    grant(db, u2, 400)
    _, r = reserve(db, u2, bound=100, max_tokens=50, n=3)
    assert r[0] == "ok" and r[1] == 48 and r[2] == 100 + 288 + FEE
    check_ledger(db)


def test_a_fallback_chain_holds_for_its_dearest_target(db):
    set_price(db, "a:cheap", 1000000, 1000000)
    set_price(db, "b:dear", 2000000, 10000000, fee=5)
    u = seed_user(db)
    grant(db, u, 10 ** 6)
    chain = [("a:cheap", 4096), ("b:dear", 100)]
    hold, r = reserve(db, u, bound=50, max_tokens=4096, targets=chain)
    # cheap: 50 + 4096 = 4146; dear: 100 + 100 * 10 + 5 = 1105
    assert r[0] == "ok" and r[1] == 4096 and r[2] == 4146
    rows = db.query("SELECT target, model, output_price FROM "
                    "credits_reserve(%s, %s, NULL, 'r', 'chat', %s, %s, 50, "
                    "4096, 1, 1, 60)", hold, u, [c[0] for c in chain],
                    [c[1] for c in chain])
    assert rows == [(0, "a:cheap", 1000000), (1, "b:dear", 10000000)]
    # Served by the second target: charged at its snapshot.
    c = cost(40, 0, 90, 2000000, 2000000, 10000000, 5)
    s = settle(db, hold, 40, 0, 90, c, target=1)
    assert s[0] == "ok" and s[1] == c
    assert usage(db, u)[0][8] == "b:dear"
    check_ledger(db)

    # Clamped by whichever target the balance pays least output on.
    u2 = seed_user(db)
    grant(db, u2, 605)
    _, r = reserve(db, u2, bound=50, max_tokens=4096, targets=chain)
    # dear: (605 - 5 - 100) / 10 = 50 tokens; cheap: 555 fits 50 too.
    assert r[0] == "ok" and r[1] == 50 and r[2] == 605
    # An unpriced member refuses the whole chain, naming it.
    rows = db.query("SELECT result, model FROM credits_reserve("
                    "gen_random_uuid(), %s, NULL, 'r', 'chat', "
                    "'{a:cheap,c:none}', '{0,0}', 1, 1, 1, 1, 60)", u2)
    assert rows == [("no_price", "c:none")]
    # Expired: charged the whole hold at the dearest target's prices.
    u3 = seed_user(db)
    grant(db, u3, 10 ** 6)
    h3, r3 = reserve(db, u3, bound=50, max_tokens=4096,
                     targets=[("b:dear", 100), ("a:cheap", 0)])
    db.query("UPDATE credit_holds SET expires_at = now() - interval '1s' "
             "WHERE id = %s", h3)
    db.query("SELECT * FROM credits_expire_holds(10)")
    rec = usage(db, u3)[0]
    assert rec[6] == r3[2] == 50 + 4096 and rec[8] == "a:cheap"
    check_ledger(db)


def test_a_void_before_its_reservation_cancels_it(priced):
    """The client left while the reservation was on its way: the void
    (settle of an unknown hold) lands first; the reservation then holds
    nothing."""
    db = priced
    u = seed_user(db)
    grant(db, u, 1000)
    h = str(uuid.uuid4())
    s = settle(db, h, 0, 0, 0, 0, settlement="void", status="not_started")
    assert s[0] == "unknown"
    _, r = reserve(db, u, bound=10, max_tokens=10, hold=h)
    assert r[0] == "cancelled"
    assert balances(db, u) == (1000, 0, 1000, 0) and holds(db, u) == []
    check_ledger(db)
