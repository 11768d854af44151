"""Users in the admin surface: search, detail, suspension, and sign-outs
and suspensions that count in every process within a second (two
tollgate processes on one database, as in test_keys_auth.py)."""

import time

from lib import admin, auth
from lib.errors import assert_error
from lib.keys import auth as key_auth
from lib.keys import seed_key


# Processes behind one load balancer share their public URL (the tokens'
# issuer); the UI origin follows it.
SHARED = dict(admin.ENV, TOLLGATE_PUBLIC_URL="http://tollgate.test",
              TOLLGATE_UI_URL="http://tollgate.test")


def poll(fn, deadline_s=1.0):
    """fn() until it is true; returns the seconds it took (or raises)."""
    t0 = time.time()
    while True:
        if fn():
            return time.time() - t0
        if time.time() - t0 > deadline_s:
            raise AssertionError("not within %.1f s" % deadline_s)
        time.sleep(0.02)


def test_search_and_detail(db, tollgate):
    s = tollgate(env=admin.ENV)
    h = auth.bearer(admin.sign_in(s))
    alice = auth.sign_in(s, "alice@example.com").user_id
    r = s.patch("/api/me/profile", json={"display_name": "Alice Liddell"},
                headers=auth.bearer(auth.dev_login(s, "alice@example.com")))
    assert r.status_code == 200, r.text
    for i in range(3):
        auth.dev_login(s, "user%d@example.org" % i)
    key, _, kid = seed_key(db, user_id=alice)

    r = s.get("/api/admin/users?q=LIDDELL", headers=h)
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["data"]] == [alice]
    r = s.get("/api/admin/users?q=alice@", headers=h)
    assert [u["email"] for u in r.json()["data"]] == ["alice@example.com"]
    # A LIKE wildcard in q is a plain character.
    assert s.get("/api/admin/users?q=%25", headers=h).json()["data"] == []

    # Pages of two over the four example.org and example.com users.
    seen, cursor = [], None
    while True:
        r = s.get("/api/admin/users?q=example&limit=2" +
                  ("&cursor=" + cursor if cursor else ""), headers=h)
        assert r.status_code == 200, r.text
        seen += [u["email"] for u in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(["alice@example.com", "admin@example.com"]
                                  + ["user%d@example.org" % i
                                     for i in range(3)])

    r = s.get("/api/admin/users/%s" % alice, headers=h)
    assert r.status_code == 200, r.text
    u = r.json()
    assert u["email"] == "alice@example.com"
    assert u["display_name"] == "Alice Liddell"
    assert u["status"] == "active"
    assert u["last_sign_in_at"] is not None
    assert [i["provider"] for i in u["identities"]] == ["dev"]
    assert isinstance(u["balance_micros"], int)
    assert isinstance(u["reserved_micros"], int)
    assert [k["id"] for k in u["keys"]] == [kid]
    assert "digest" not in u["keys"][0]

    assert_error(s.get("/api/admin/users/00000000-0000-4000-8000-"
                       "00000000beef", headers=h), 404, "not_found")
    assert_error(s.get("/api/admin/users/nope", headers=h), 404, "not_found")
    assert_error(s.get("/api/admin/users?cursor=x", headers=h), 400,
                 "invalid_value", "cursor")
    user = auth.bearer(auth.dev_login(s, "alice@example.com"))
    assert_error(s.get("/api/admin/users", headers=user), 403, "not_admin")
    assert_error(s.get("/api/admin/users/%s" % alice, headers=user), 403,
                 "not_admin")


def test_patch_checks_its_body(db, tollgate):
    s = tollgate(env=admin.ENV)
    h = auth.bearer(admin.sign_in(s))
    bob = auth.sign_in(s, "bob@example.com").user_id
    for body, code in (({}, "missing_field"),
                       ({"status": "deleted"}, "invalid_value"),
                       ({"status": 1}, "invalid_value")):
        assert_error(s.patch("/api/admin/users/%s" % bob, json=body,
                             headers=h), 400, code, "status")
    assert db.query("SELECT status FROM users WHERE id = %s",
                    bob)[0][0] == "active"
    user = auth.bearer(auth.dev_login(s, "carol@example.com"))
    assert_error(s.patch("/api/admin/users/%s" % bob,
                         json={"status": "suspended"}, headers=user),
                 403, "not_admin")
    assert db.query("SELECT status FROM users WHERE id = %s",
                    bob)[0][0] == "active"


def test_suspension_counts_in_every_process_within_a_second(db, tollgate):
    a = tollgate(env=SHARED, workers=2)
    b = tollgate(env=SHARED, workers=2)
    h = auth.bearer(admin.sign_in(a))
    victim = auth.sign_in(b, "victim@example.com")
    key, _, _ = seed_key(db, user_id=victim.user_id)
    for s in (a, b):
        assert auth.me(s, victim.access_token).status_code == 200
        assert s.get("/v1/models", headers=key_auth(key)).status_code == 200

    r = a.patch("/api/admin/users/%s" % victim.user_id,
                json={"status": "suspended"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended"

    def refused_everywhere():
        for s in (a, b):
            for _ in range(4):     # every worker, whichever answers
                for r in (s.get("/api/credits",
                                headers=auth.bearer(victim.access_token)),
                          s.get("/v1/models", headers=key_auth(key))):
                    if r.status_code != 403:
                        return False
                    assert r.json()["error"]["code"] == "account_suspended"
        return True
    poll(refused_everywhere)

    assert_error(auth.refresh(b, victim.refresh_token), 403,
                 "account_suspended")
    r = b.post("/auth/dev/login", json={"email": "victim@example.com"})
    assert_error(r, 403, "account_suspended")

    # Reinstated: the same keys, tokens and refresh cookie work again.
    r = b.patch("/api/admin/users/%s" % victim.user_id,
                json={"status": "active"}, headers=h)
    assert r.status_code == 200, r.text

    def allowed_everywhere():
        for s in (a, b):
            for _ in range(4):
                if (s.get("/api/credits", headers=auth.bearer(
                        victim.access_token)).status_code != 200 or
                        s.get("/v1/models",
                              headers=key_auth(key)).status_code != 200):
                    return False
        return True
    poll(allowed_everywhere)
    assert auth.refresh(a, victim.refresh_token).status_code == 200


def test_sign_out_counts_on_every_session_route_of_every_process(
        db, tollgate):
    a = tollgate(env=SHARED, workers=2)
    b = tollgate(env=SHARED, workers=2)
    adm = auth.sign_in(a, admin.ADMIN_EMAIL)
    h = auth.bearer(adm.access_token)
    target = auth.sign_in(a, "target@example.com").user_id
    for s in (a, b):
        assert s.get("/api/credits", headers=h).status_code == 200
        assert s.get("/api/admin/users", headers=h).status_code == 200

    assert auth.logout(a, token=adm.access_token).status_code == 204

    def refused_on_b():
        for _ in range(4):
            for path in ("/api/credits", "/api/usage", "/api/admin/users",
                         "/api/billing/payments"):
                if b.get(path, headers=h).status_code != 401:
                    return False
        return True
    poll(refused_on_b)
    # A signed-out admin token can't grant credits on the other process.
    r = b.post("/api/admin/users/%s/credits" % target, headers=h,
               json={"amount_micros": 1000, "reason": "x",
                     "idempotency_key": "after-logout"})
    assert_error(r, 401, "invalid_token")


def test_a_worker_started_later_knows_earlier_suspensions(db, tollgate):
    a = tollgate(env=SHARED)
    h = auth.bearer(admin.sign_in(a))
    victim = auth.sign_in(a, "late@example.com")
    r = a.patch("/api/admin/users/%s" % victim.user_id,
                json={"status": "suspended"}, headers=h)
    assert r.status_code == 200, r.text
    out = auth.sign_in(a, "out@example.com")
    assert auth.logout(a, token=out.access_token).status_code == 204

    b = tollgate(env=SHARED, workers=2)
    poll(lambda: b.get("/api/credits", headers=auth.bearer(
        victim.access_token)).status_code == 403, 3.0)
    for _ in range(4):
        assert_error(b.get("/api/credits",
                           headers=auth.bearer(victim.access_token)),
                     403, "account_suspended")
        assert_error(b.get("/api/credits",
                           headers=auth.bearer(out.access_token)),
                     401, "invalid_token")
