"""Usage and ledger in the admin surface, as JSON and as CSV (parsed with
Python's csv module, as a spreadsheet or a script would)."""

import csv
import io
import uuid

from lib import admin, auth
from lib.credits import cost, grant, set_price
from lib.errors import assert_error
from lib.keys import seed_key

MODEL = "testprov:model-a"
OTHER = "testprov:model-b"


def call(db, user, key=None, model=MODEL, prompt=100, completion=50):
    """One settled call, as the router's meter makes it; returns its cost."""
    h = str(uuid.uuid4())
    r = db.query("SELECT result FROM credits_reserve(%s, %s, %s, %s, 'chat', "
                 "%s, '{4096}', %s, 1000, 1, 1, 600)", h, user, key,
                 "req-" + h[:8], [model], prompt)[0]
    assert r[0] == "ok"
    c = cost(prompt, 0, completion, 1000000, 1000000, 2000000)
    db.query("SELECT * FROM credits_settle(%s, 0, 'ok', 'provider', %s, 0, "
             "0, %s, 0, %s, NULL, 200, 42, NULL)", h, prompt, completion, c)
    return c


def csv_rows(r):
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


def test_usage_grouped_as_json_and_csv(db, tollgate):
    s = tollgate(env=admin.ENV)
    h = auth.bearer(admin.sign_in(s))
    set_price(db, MODEL, 1000000, 2000000)
    set_price(db, OTHER, 1000000, 2000000)
    alice = auth.sign_in(s, "alice@example.com").user_id
    # An email a spreadsheet would take for a formula, with a comma and
    # a quote in it (as a provider might report it).
    bob = auth.sign_in(s, "bob@example.com").user_id
    db.query("UPDATE users SET email = %s WHERE id = %s",
             "=cmd,\"x\"@example.com", bob)
    for u in (alice, bob):
        grant(db, u, 10 ** 8)
    _, _, key = seed_key(db, user_id=alice, name='lap,"top"')
    spent = {alice: 0, bob: 0}
    for _ in range(3):
        spent[alice] += call(db, alice, key=key)
    spent[alice] += call(db, alice, model=OTHER, completion=10)
    spent[bob] += call(db, bob, prompt=7, completion=3)

    r = s.get("/api/admin/usage?group_by=user", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    by_user = {d["user_id"]: d for d in body["data"]}
    assert by_user[alice]["requests"] == 4
    assert by_user[alice]["cost_micros"] == spent[alice]
    assert by_user[bob]["email"] == "=cmd,\"x\"@example.com"
    assert by_user[bob]["prompt_tokens"] == 7

    rows = csv_rows(s.get("/api/admin/usage?group_by=user",
                          headers=dict(h, Accept="text/csv")))
    assert list(rows[0]) == ["user_id", "email", "requests",
                             "prompt_tokens", "cached_tokens",
                             "completion_tokens", "cost_micros"]
    csv_by_user = {x["user_id"]: x for x in rows}
    assert int(csv_by_user[alice]["cost_micros"]) == spent[alice]
    assert int(csv_by_user[alice]["requests"]) == 4
    # Quoted and defused: the apostrophe keeps it from being a formula.
    assert csv_by_user[bob]["email"] == "'=cmd,\"x\"@example.com"

    rows = csv_rows(s.get("/api/admin/usage?group_by=key",
                          headers=dict(h, Accept="text/csv")))
    keyed = [x for x in rows if x["key_id"] == key]
    assert keyed[0]["key_name"] == 'lap,"top"'
    assert keyed[0]["user_id"] == alice
    assert int(keyed[0]["requests"]) == 3

    by_model = {d["model"]: d for d in s.get(
        "/api/admin/usage?group_by=model", headers=h).json()["data"]}
    assert by_model[MODEL]["requests"] == 4
    assert by_model[OTHER]["completion_tokens"] == 10

    days = csv_rows(s.get("/api/admin/usage",
                          headers=dict(h, Accept="text/csv")))
    assert sum(int(x["cost_micros"]) for x in days) == sum(spent.values())

    # One user's usage; nothing outside the window.
    mine = s.get("/api/admin/users/%s/usage?group_by=model" % bob,
                 headers=h).json()["data"]
    assert [(d["model"], d["requests"]) for d in mine] == [(MODEL, 1)]
    r = s.get("/api/admin/usage?from=2020-01-01&to=2020-01-02", headers=h)
    assert r.json()["data"] == []

    for q, param in (("group_by=week", "group_by"), ("from=yesterday", "from"),
                     ("from=2026-01-02&to=2026-01-01", "from")):
        assert_error(s.get("/api/admin/usage?" + q, headers=h), 400,
                     "invalid_value", param)
    assert_error(s.get("/api/admin/users/00000000-0000-4000-8000-"
                       "00000000beef/usage", headers=h), 404, "not_found")
    user = auth.bearer(auth.dev_login(s, "alice@example.com"))
    assert_error(s.get("/api/admin/usage", headers=user), 403, "not_admin")


def test_user_ledger_as_json_and_csv(db, tollgate):
    s = tollgate(env=admin.ENV)
    h = auth.bearer(admin.sign_in(s))
    set_price(db, MODEL, 1000000, 2000000)
    carol = auth.sign_in(s, "carol@example.com").user_id
    grant(db, carol, 5000000)
    c = call(db, carol)
    grant(db, carol, 1000)

    r = s.get("/api/admin/users/%s/ledger?limit=2" % carol, headers=h)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [e["amount_micros"] for e in page["data"]] == [1000, -c]
    assert page["data"][0]["balance_after_micros"] == 5000000 - c + 1000
    older = s.get("/api/admin/users/%s/ledger?limit=2&cursor=%s" %
                  (carol, page["next_cursor"]), headers=h).json()
    assert [e["amount_micros"] for e in older["data"]] == [5000000]

    rows = csv_rows(s.get("/api/admin/users/%s/ledger" % carol,
                          headers=dict(h, Accept="text/csv")))
    assert list(rows[0]) == ["id", "kind", "amount_micros",
                             "balance_after_micros", "reference",
                             "created_at"]
    assert [int(x["amount_micros"]) for x in rows] == [1000, -c, 5000000]


def test_payments_of_every_user_in_any_state(db, tollgate):
    from lib.billing import seed_payment
    s = tollgate(env=admin.ENV)
    h = auth.bearer(admin.sign_in(s))
    dave = auth.sign_in(s, "dave@example.com").user_id
    erin = auth.sign_in(s, "erin@example.com").user_id
    p1 = seed_payment(db, dave)["payment_id"]
    p2 = seed_payment(db, erin)["payment_id"]
    p3 = seed_payment(db, erin)["payment_id"]
    db.query("UPDATE billing_payments SET status = 'failed' WHERE id = %s",
             p2)

    r = s.get("/api/admin/payments?limit=2", headers=h)
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["data"]) == 2 and page["next_cursor"]
    rest = s.get("/api/admin/payments?limit=2&cursor=" + page["next_cursor"],
                 headers=h).json()
    ids = [p["id"] for p in page["data"] + rest["data"]]
    assert sorted(ids) == sorted([p1, p2, p3])
    assert rest["next_cursor"] is None

    failed = s.get("/api/admin/payments?status=failed", headers=h).json()
    assert [(p["id"], p["email"]) for p in failed["data"]] == \
        [(p2, "erin@example.com")]
    assert_error(s.get("/api/admin/payments?status=lost", headers=h), 400,
                 "invalid_value", "status")
    user = auth.bearer(auth.dev_login(s, "dave@example.com"))
    assert_error(s.get("/api/admin/payments", headers=user), 403,
                 "not_admin")
