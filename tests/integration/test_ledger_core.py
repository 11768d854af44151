"""The ledger core (sql/0300_ledger.sql): idempotent, balanced,
append-only money movements, exact under concurrency."""

import threading
import uuid

import psycopg2
import pytest

from lib.credits import balances, check_ledger, grant


def new_user(db):
    uid = str(uuid.uuid4())
    db.query("INSERT INTO users (id, email) VALUES (%s, %s)", uid,
             uid + "@example.com")
    return uid


def test_grant_is_idempotent_and_conflicts_on_other_amount(db):
    u = new_user(db)
    r1 = grant(db, u, 5000000, "grant-1")
    assert r1[0] == "ok" and r1[2] == 5000000
    r2 = grant(db, u, 5000000, "grant-1")
    assert r2[0] == "duplicate" and r2[1] == r1[1]
    r3 = grant(db, u, 6000000, "grant-1")
    assert r3[0] == "conflict"
    assert balances(db, u)[0] == 5000000
    check_ledger(db)


def test_debit_refused_without_debt_and_debt_repaid_first(db):
    u = new_user(db)
    grant(db, u, 1000, "g")
    assert grant(db, u, -5000, "refund-1", kind="refund")[0] == "insufficient"
    assert balances(db, u) == (1000, 0, 1000, 0)
    r = grant(db, u, -5000, "refund-2", kind="refund", allow_debt=True)
    assert r[0] == "ok" and r[2] == -4000
    assert balances(db, u) == (-4000, 0, -4000, -4000)
    r = grant(db, u, 7000, "purchase-1", kind="purchase")
    assert r[2] == 3000
    assert balances(db, u) == (3000, 0, 3000, 0)
    check_ledger(db)


def test_entries_are_append_only(db):
    u = new_user(db)
    grant(db, u, 100, "g")
    for sql in ("UPDATE ledger_entries SET amount = 1",
                "DELETE FROM ledger_entries",
                "TRUNCATE ledger_entries CASCADE",
                "UPDATE ledger_transactions SET amount = 1",
                "DELETE FROM ledger_transactions"):
        with pytest.raises(psycopg2.Error):
            db.query(sql)
    check_ledger(db)


def test_unbalanced_transaction_cannot_commit(db):
    u = new_user(db)
    grant(db, u, 100, "g")
    conn = db.connect()
    conn.autocommit = False
    cur = conn.cursor()
    cur.execute("INSERT INTO ledger_transactions (idempotency_key, kind, "
                "user_id, amount) VALUES ('bad', 'admin_grant', %s, 5) "
                "RETURNING id", (u,))
    txn = cur.fetchone()[0]
    cur.execute("SELECT ledger_post(%s, (ledger_user_accounts(%s)).account_id,"
                " 5)", (txn, u))
    with pytest.raises(psycopg2.Error):
        conn.commit()
    conn.close()
    assert balances(db, u)[0] == 100
    check_ledger(db)


def test_balance_cannot_go_below_reserved(db):
    u = new_user(db)
    grant(db, u, 100, "g")
    with pytest.raises(psycopg2.Error):
        db.query("UPDATE ledger_accounts SET reserved = 101 WHERE "
                 "user_id = %s AND kind = 'user'", u)


def test_concurrent_same_key_credits_once_and_distinct_keys_all(db):
    u = new_user(db)
    results = []

    def worker(key):
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT result FROM credits_grant(%s, 1000, "
                            "'admin_grant', 't', %s, false)", (u, key))
                results.append((key, cur.fetchone()[0]))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=("same",))
               for _ in range(20)]
    threads += [threading.Thread(target=worker, args=("k%d" % i,))
                for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    same = [r for k, r in results if k == "same"]
    assert same.count("ok") == 1 and same.count("duplicate") == 19
    assert balances(db, u)[0] == 21 * 1000
    check_ledger(db)


def test_concurrent_debits_never_overdraw(db):
    u = new_user(db)
    grant(db, u, 10000, "g")
    results = []

    def worker(i):
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT result FROM credits_grant(%s, -300, "
                            "'admin_adjust', 't', %s, false)", (u, "d%d" % i))
                results.append(cur.fetchone()[0])
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 33 and results.count("insufficient") == 17
    assert balances(db, u)[0] == 10000 - 33 * 300
    check_ledger(db)
