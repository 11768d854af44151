"""The credits endpoints (docs/contract.md §6): balance, ledger, usage, admin
grants and prices, seen as a user and an admin see them; another user's
ids are 404; bad input is a 400 that changes nothing."""

import uuid

import pytest

from lib import auth
from lib.credits import balances, check_ledger, cost, grant, set_price
from lib.errors import assert_error
from lib.keys import seed_key

ADMIN = "admin@example.com"
MODEL = "testprov:model-a"


@pytest.fixture
def srv(tollgate):
    return tollgate(env={"TOLLGATE_ADMIN_EMAILS": ADMIN})


def login(srv, email):
    s = auth.sign_in(srv, email)
    return s.user_id, auth.bearer(s.access_token)


def call(db, user, key=None, model=MODEL, prompt=100, completion=50,
         p_in=1000000, p_out=2000000):
    """One settled call, as the router's meter makes it."""
    h = str(uuid.uuid4())
    r = db.query("SELECT result FROM credits_reserve(%s, %s, %s, %s, 'chat', "
                 "%s, '{4096}', %s, 1000, 1, 1, 600)", h, user, key,
                 "req-" + h[:8], [model], prompt)[0]
    assert r[0] == "ok"
    c = cost(prompt, 0, completion, p_in, p_in, p_out)
    db.query("SELECT * FROM credits_settle(%s, 0, 'ok', 'provider', %s, 0, "
             "0, %s, 0, %s, NULL, 200, 42, NULL)", h, prompt, completion, c)
    return h, c


def test_balance(srv, db):
    uid, h = login(srv, "alice@example.com")
    r = srv.get("/api/credits", headers=h)
    assert r.status_code == 200
    assert r.json() == {"balance_micros": 0, "reserved_micros": 0,
                        "available_micros": 0}
    grant(db, uid, 5000000)
    set_price(db, MODEL, 1000000, 2000000)
    db.query("SELECT * FROM credits_reserve(gen_random_uuid(), %s, NULL, "
             "'r', 'chat', %s, '{4096}', 100, 200, 1, 1, 600)", uid, [MODEL])
    assert srv.get("/api/credits", headers=h).json() == {
        "balance_micros": 5000000, "reserved_micros": 500,
        "available_micros": 4999500}
    assert_error(srv.get("/api/credits"), 401)


def test_ledger_pages_newest_first_with_net_balance(srv, db):
    uid, h = login(srv, "bob@example.com")
    set_price(db, MODEL, 1000000, 2000000)
    grant(db, uid, 1000, kind="signup_grant")
    grant(db, uid, -3000, kind="refund", allow_debt=True)    # debt 2000
    grant(db, uid, 5000, kind="purchase")                    # repays it
    _, c = call(db, uid)
    r = srv.get("/api/credits/ledger?limit=2", headers=h)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["object"] == "list" and len(page["data"]) == 2
    assert [e["kind"] for e in page["data"]] == ["usage", "purchase"]
    assert page["data"][0]["amount_micros"] == -c
    assert page["data"][0]["balance_after_micros"] == 3000 - c
    assert page["data"][1]["amount_micros"] == 5000
    assert page["data"][1]["balance_after_micros"] == 3000
    assert page["next_cursor"]
    r = srv.get("/api/credits/ledger?limit=2&cursor=" + page["next_cursor"],
                headers=h)
    rest = r.json()
    assert [e["kind"] for e in rest["data"]] == ["refund", "signup_grant"]
    assert rest["data"][0]["amount_micros"] == -3000
    assert rest["data"][0]["balance_after_micros"] == -2000
    assert rest["data"][1]["balance_after_micros"] == 1000
    assert rest["next_cursor"] is None
    e = rest["data"][0]
    assert set(e) == {"id", "kind", "amount_micros", "balance_after_micros",
                      "reference", "created_at"}
    assert e["created_at"].endswith("Z")
    one = srv.get("/api/credits/ledger/" + e["id"], headers=h)
    assert one.status_code == 200 and one.json() == e

    # Another user sees none of it.
    _, h2 = login(srv, "eve@example.com")
    assert_error(srv.get("/api/credits/ledger/" + e["id"], headers=h2), 404,
                 "not_found")
    assert srv.get("/api/credits/ledger", headers=h2).json()["data"] == []
    for bad in ("0", "abc", "-1", "1.5", "x" * 80):
        assert_error(srv.get("/api/credits/ledger?cursor=" + bad, headers=h),
                     400, "invalid_value")
    for bad in ("0", "101", "x", "-3"):
        assert_error(srv.get("/api/credits/ledger?limit=" + bad, headers=h),
                     400, "invalid_value")
    assert_error(srv.get("/api/credits/ledger/not-a-uuid", headers=h), 404)


def test_usage_requests_and_aggregates(srv, db):
    uid, h = login(srv, "carol@example.com")
    grant(db, uid, 10 ** 7)
    set_price(db, MODEL, 1000000, 2000000)
    set_price(db, "other:m", 1000000, 2000000)
    _, _, key = seed_key(db, user_id=uid, name="laptop")
    calls = [call(db, uid, key=key) for _ in range(3)]
    calls.append(call(db, uid, model="other:m", completion=10))
    r = srv.get("/api/usage/requests?limit=3", headers=h)
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["data"]) == 3 and page["next_cursor"]
    first = page["data"][0]
    assert first["id"] == calls[-1][0] and first["model"] == "other:m"
    assert first["cost_micros"] == calls[-1][1]
    assert first["status"] == "ok" and first["latency_ms"] == 42
    assert first["settlement"] == "provider"
    assert page["data"][1]["key_id"] == key
    assert page["data"][1]["key_name"] == "laptop"
    rest = srv.get("/api/usage/requests?limit=3&cursor=" +
                   page["next_cursor"], headers=h).json()
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None
    seen = [d["id"] for d in page["data"] + rest["data"]]
    assert sorted(seen) == sorted(c[0] for c in calls)
    one = srv.get("/api/usage/requests/" + calls[0][0], headers=h)
    assert one.status_code == 200 and one.json()["id"] == calls[0][0]

    by_model = srv.get("/api/usage?group_by=model", headers=h).json()
    rows = {d["model"]: d for d in by_model["data"]}
    assert rows[MODEL]["requests"] == 3
    assert rows[MODEL]["prompt_tokens"] == 300
    assert rows[MODEL]["completion_tokens"] == 150
    assert rows[MODEL]["cost_micros"] == sum(c[1] for c in calls[:3])
    assert rows["other:m"]["requests"] == 1
    by_key = srv.get("/api/usage?group_by=key", headers=h).json()["data"]
    assert {(d["key_id"], d["key_name"], d["requests"]) for d in by_key} == {
        (key, "laptop", 3), (None, None, 1)}
    by_day = srv.get("/api/usage", headers=h).json()
    assert by_day["group_by"] == "day" and len(by_day["data"]) == 1
    assert by_day["data"][0]["requests"] == 4
    old = srv.get("/api/usage?from=2020-01-01&to=2020-02-01T00:00:00Z",
                  headers=h).json()
    assert old["data"] == []

    for q in ("group_by=week", "from=yesterday", "from=2024-02-30",
              "to=2024-01-01T10:00:00", "from=2024-03-01&to=2024-02-01",
              "from=2020-01-01&to=2024-01-01", "cursor=1_x"):
        path = "/api/usage" if "cursor" not in q else "/api/usage/requests"
        assert_error(srv.get(path + "?" + q, headers=h), 400, "invalid_value")

    # Another user: nothing, and 404 for the ids.
    _, h2 = login(srv, "mallory@example.com")
    assert srv.get("/api/usage/requests", headers=h2).json()["data"] == []
    assert srv.get("/api/usage?group_by=model", headers=h2).json()[
        "data"] == []
    assert_error(srv.get("/api/usage/requests/" + calls[0][0], headers=h2),
                 404, "not_found")
    check_ledger(db)


def test_usage_grouped_by_two_keys(srv, db):
    """group_by=day,model (and the other pairs): one row per pair of keys,
    sorted by the first key then the second, each row's sums those of
    its records as /api/usage/requests lists them."""
    uid, h = login(srv, "erin@example.com")
    grant(db, uid, 10 ** 8)
    set_price(db, MODEL, 1000000, 2000000)
    set_price(db, "other:m", 3000000, 5000000)
    _, _, k1 = seed_key(db, user_id=uid, name="laptop")
    _, _, k2 = seed_key(db, user_id=uid, name="ci")
    ids = [call(db, uid, key=k1, prompt=100, completion=50)[0],
           call(db, uid, key=k1, model="other:m", prompt=70, completion=9,
                p_in=3000000, p_out=5000000)[0],
           call(db, uid, key=k2, prompt=300, completion=1)[0],
           call(db, uid, key=k2, model="other:m", prompt=20, completion=7,
                p_in=3000000, p_out=5000000)[0],
           call(db, uid, prompt=11, completion=3)[0]]
    # Two of the calls two days ago, one a day ago: three days in all.
    # (The records are append-only; a superuser session moves them.)
    for rid, days in ((ids[0], 2), (ids[3], 2), (ids[2], 1)):
        db.query("SET session_replication_role = replica; "
                 "UPDATE usage_records SET started_at = started_at - "
                 "%s * interval '1 day' WHERE id = %s::uuid", days, rid)
    recs = srv.get("/api/usage/requests?limit=100", headers=h).json()["data"]
    assert len(recs) == 5

    names = {"day": "day", "model": "model", "key": "key_id"}

    def key_of(rec, g):
        return rec["created_at"][:10] if g == "day" else rec[names[g]]

    def expected(g1, g2):
        rows = {}
        for rec in recs:
            k = (key_of(rec, g1), key_of(rec, g2))
            row = rows.setdefault(k, dict.fromkeys(
                ("requests", "prompt_tokens", "cached_tokens",
                 "cache_write_tokens", "completion_tokens",
                 "cost_micros"), 0))
            row["requests"] += 1
            for f in ("prompt_tokens", "cached_tokens", "cache_write_tokens",
                      "completion_tokens", "cost_micros"):
                row[f] += rec[f]
        return rows

    def sort_key(k):
        # NULLS LAST, as the rows come.
        return tuple((v is None, v or "") for v in k)

    for g1, g2 in (("day", "model"), ("model", "day"), ("day", "key"),
                   ("key", "model"), ("model", "key")):
        r = srv.get("/api/usage?group_by=%s,%s" % (g1, g2), headers=h)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["group_by"] == "%s,%s" % (g1, g2)
        want = expected(g1, g2)
        got = [((d[names[g1]], d[names[g2]]), d) for d in doc["data"]]
        assert [k for k, _ in got] == sorted(want, key=sort_key)
        for k, d in got:
            for f, v in want[k].items():
                assert d[f] == v, (g1, g2, k, f)
            if "key" in (g1, g2):
                assert d["key_name"] == {k1: "laptop", k2: "ci",
                                         None: None}[d["key_id"]]
            else:
                assert "key_name" not in d and "key_id" not in d
    by_pair = srv.get("/api/usage?group_by=day,model", headers=h).json()
    assert len(by_pair["data"]) >= 5      # three days, one or two models
    assert sum(d["cost_micros"] for d in by_pair["data"]) == sum(
        rec["cost_micros"] for rec in recs)

    before = srv.get("/api/usage?group_by=day,model", headers=h).json()
    for bad in ("day,day", "day,", ",model", "day,model,key", "day,,model",
                "day,%20model", "model,user", "week,day", ""):
        assert_error(srv.get("/api/usage?group_by=" + bad, headers=h), 400,
                     "invalid_value", "group_by")
    assert srv.get("/api/usage?group_by=day,model", headers=h).json() == before
    check_ledger(db)


def test_admin_grant_is_idempotent(srv, db):
    uid, _ = login(srv, "dave@example.com")
    _, ah = login(srv, ADMIN)
    _, uh = login(srv, "notadmin@example.com")
    path = "/api/admin/users/%s/credits" % uid
    body = {"amount_micros": 2500000, "reason": "welcome",
            "idempotency_key": "grant-1"}

    assert_error(srv.post(path, json=body, headers=uh), 403, "not_admin")
    assert balances(db, uid)[0] == 0

    r = srv.post(path, json=body, headers=ah)
    assert r.status_code == 201, r.text
    j = r.json()
    assert j["duplicate"] is False and j["balance_micros"] == 2500000
    r2 = srv.post(path, json=body, headers=ah)
    assert r2.status_code == 200 and r2.json()["duplicate"] is True
    assert r2.json()["transaction_id"] == j["transaction_id"]
    assert balances(db, uid)[0] == 2500000

    other = dict(body, amount_micros=2600000)
    assert_error(srv.post(path, json=other, headers=ah), 409,
                 "idempotency_conflict")
    assert balances(db, uid)[0] == 2500000

    adj = {"amount_micros": -500000, "reason": "correction",
           "idempotency_key": "adj-1"}
    r = srv.post(path, json=adj, headers=ah)
    assert r.status_code == 201 and r.json()["balance_micros"] == 2000000
    too_much = {"amount_micros": -9000000, "reason": "x",
                "idempotency_key": "adj-2"}
    assert_error(srv.post(path, json=too_much, headers=ah), 409,
                 "insufficient_balance")

    for bad in ({"amount_micros": 0}, {"amount_micros": 1.5},
                {"amount_micros": "100"}, {"amount_micros": 2 ** 63},
                {"amount_micros": 10 ** 16}, {"reason": ""},
                {"idempotency_key": ""}, {"extra": 1}):
        b = dict(body, idempotency_key="bad-" + str(uuid.uuid4()))
        b.update(bad)
        assert_error(srv.post(path, json=b, headers=ah), 400)
    r = srv.post(path, data=b'{"amount_micros": 1e3, "reason": "r", '
                 b'"idempotency_key": "k-e"}', headers=ah)
    assert_error(r, 400, "invalid_value")
    assert_error(srv.post(path, data=b"{nope", headers=ah), 400,
                 "invalid_json")
    assert_error(srv.post("/api/admin/users/%s/credits" % uuid.uuid4(),
                          json=body, headers=ah), 404, "not_found")
    assert_error(srv.post("/api/admin/users/xyz/credits", json=body,
                          headers=ah), 404)
    assert balances(db, uid)[0] == 2000000
    ledger = srv.get("/api/credits/ledger", headers=login(
        srv, "dave@example.com")[1]).json()["data"]
    assert [(e["kind"], e["amount_micros"], e["reference"])
            for e in ledger] == [("admin_adjustment", -500000, "correction"),
                                 ("admin_grant", 2500000, "welcome")]
    check_ledger(db)


def test_admin_prices_with_history(srv, db):
    _, ah = login(srv, ADMIN)
    _, uh = login(srv, "user@example.com")
    path = "/api/admin/prices/openrouter:openai%2Fgpt-4o"
    body = {"input_micros_per_mtok": 2500000,
            "output_micros_per_mtok": 10000000}
    assert_error(srv.put(path, json=body, headers=uh), 403, "not_admin")
    assert_error(srv.get(path, headers=ah), 404, "not_found")

    r = srv.put(path, json=body, headers=ah)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["model"] == "openrouter:openai/gpt-4o" and p["changed"] is True
    assert p["cached_input_micros_per_mtok"] == 2500000
    assert p["request_fee_micros"] == 0
    r = srv.put(path, json=body, headers=ah)
    assert r.json()["changed"] is False
    assert r.json()["price_id"] == p["price_id"]

    newer = dict(body, cached_input_micros_per_mtok=1250000,
                 request_fee_micros=7)
    assert srv.put(path, json=newer, headers=ah).json()["changed"] is True
    g = srv.get(path, headers=ah).json()
    assert g["cached_input_micros_per_mtok"] == 1250000
    assert g["request_fee_micros"] == 7
    assert [h["cached_input_micros_per_mtok"] for h in g["history"]] == [
        1250000, 2500000]
    lst = srv.get("/api/admin/prices", headers=ah).json()["data"]
    assert [x for x in lst if x["model"] == "openrouter:openai/gpt-4o"][0][
        "request_fee_micros"] == 7
    assert_error(srv.get("/api/admin/prices", headers=uh), 403, "not_admin")

    for bad in ({"input_micros_per_mtok": 1},
                {"input_micros_per_mtok": -1, "output_micros_per_mtok": 1},
                {"input_micros_per_mtok": 1.5, "output_micros_per_mtok": 1},
                {"input_micros_per_mtok": 1, "output_micros_per_mtok": 1,
                 "cached_input_micros_per_mtok": 2},
                {"input_micros_per_mtok": 1, "output_micros_per_mtok": 1,
                 "typo": 1}):
        assert_error(srv.put(path, json=bad, headers=ah), 400)
    for badpath in ("gpt-4o", "Open:x", "a:b%20c", "a:%00"):
        assert_error(srv.put("/api/admin/prices/" + badpath, json=body,
                             headers=ah), 400, "invalid_value")
    assert len(srv.get(path, headers=ah).json()["history"]) == 2
