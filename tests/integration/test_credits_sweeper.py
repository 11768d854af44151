"""The sweeper: holds left pending by a dead process are settled once,
by whichever tollgate process gets there first, and the configuration
of the hold TTL is checked at start."""

import time
import uuid

from lib.credits import balances, check_ledger, grant, set_price, usage
from lib.keys import seed_user
from lib.server import Tollgate

MODEL = "testprov:model-a"


def orphan_holds(db, user, n, ttl=1):
    """n pending holds, as a killed process would leave them."""
    ids = []
    for _ in range(n):
        h = str(uuid.uuid4())
        r = db.query("SELECT result, amount FROM credits_reserve(%s, %s, "
                     "NULL, 'req-x', 'chat', %s, '{100}', 10, 100, 1, 1, "
                     "%s)", h, user, [MODEL], ttl)[0]
        assert r[0] == "ok"
        ids.append(h)
    return ids


def wait_for(pred, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_two_processes_sweep_each_hold_once(db, tollgate):
    set_price(db, MODEL, 1000000, 1000000)
    u = seed_user(db)
    grant(db, u, 10 ** 6)
    ids = orphan_holds(db, u, 40)
    assert balances(db, u)[1] == 40 * 110
    env = {"TOLLGATE_HOLD_TTL_SECONDS": "1"}
    a = tollgate(env=env, workers=2)
    b = tollgate(env=env, workers=2)
    assert wait_for(lambda: db.query(
        "SELECT count(*) FROM credit_holds WHERE status = 'pending'")[0][0]
        == 0)
    rows = db.query("SELECT id, status, charged FROM credit_holds")
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert all(r[1] == "expired" and r[2] == 110 for r in rows)
    assert balances(db, u) == (10 ** 6 - 40 * 110, 0, 10 ** 6 - 40 * 110, 0)
    assert all(r[2] == "expired" for r in usage(db, u))
    log = a.log() + b.log()
    assert "expired" in log and "unsettled hold" in log
    m = a.get("/metrics").text + b.get("/metrics").text
    assert "tollgate_credits_settlements_total{kind=\"expired\"}" in m
    check_ledger(db)


def test_bad_hold_ttl_refuses_to_start(db):
    for bad in ("0", "-5", "abc", "86401", "1.5"):
        t = Tollgate(db.url, env={"TOLLGATE_HOLD_TTL_SECONDS": bad})
        rc, out = t.run_to_exit()
        assert rc != 0
        assert "TOLLGATE_HOLD_TTL_SECONDS" in out
