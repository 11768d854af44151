"""Admin service tokens and the audit trail (docs/admin.md)."""

import re

from lib import admin, auth
from lib.errors import assert_error
from lib.keys import seed_user


def test_token_is_shown_once_stored_hashed_and_works_on_admin_routes(
        db, tollgate):
    s = tollgate(env=admin.ENV)
    tok = admin.sign_in(s)
    t = admin.create_token(s, tok, "deploy bot")
    assert set(t) >= {"id", "name", "token", "created_at"}
    assert t["name"] == "deploy bot"
    assert re.fullmatch(r"tga_[A-Za-z0-9_-]{43}", t["token"])

    # Only a keyed hash is stored: the token appears nowhere in the row.
    row = db.query("SELECT token_hash, prefix FROM admin_tokens "
                   "WHERE id = %s", t["id"])[0]
    assert len(bytes(row[0])) == 32
    assert t["token"].encode() not in bytes(row[0])
    assert t["token"].startswith(row[1])

    # The listing never shows the token.
    r = s.get("/api/admin/tokens", headers=auth.bearer(t["token"]))
    assert r.status_code == 200, r.text
    listed = r.json()
    assert listed["object"] == "list"
    assert [x["id"] for x in listed["data"]] == [t["id"]]
    assert "token" not in listed["data"][0]
    assert listed["data"][0]["last_used_at"] is not None

    # Every admin route of every module takes it.
    h = auth.bearer(t["token"])
    assert s.get("/api/admin/users", headers=h).status_code == 200
    assert s.get("/api/admin/audit", headers=h).status_code == 200
    assert s.get("/api/admin/prices", headers=h).status_code == 200
    assert s.get("/api/admin/packages", headers=h).status_code == 200
    uid = seed_user(db)
    r = s.post("/api/admin/users/%s/credits" % uid, headers=h,
               json={"amount_micros": 5, "reason": "t",
                     "idempotency_key": "k1"})
    assert r.status_code in (200, 201), r.text


def test_token_is_refused_outside_admin_routes(db, tollgate):
    s = tollgate(env=admin.ENV)
    t = admin.create_token(s, admin.sign_in(s))
    h = auth.bearer(t["token"])
    for path in ("/api/me", "/api/keys", "/api/credits",
                 "/api/billing/payments"):
        assert_error(s.get(path, headers=h), 401, "invalid_token")
    r = s.post("/v1/chat/completions", headers=h,
               json={"model": "echo:echo-1", "messages": []})
    assert_error(r, 401, "invalid_api_key")


def test_bad_revoked_and_non_admin_tokens(db, tollgate):
    s = tollgate(env=admin.ENV)
    tok = admin.sign_in(s)
    t = admin.create_token(s, tok)
    h = auth.bearer(t["token"])

    bad = t["token"][:-1] + ("A" if t["token"][-1] != "A" else "B")
    assert_error(s.get("/api/admin/users", headers=auth.bearer(bad)), 401,
                 "invalid_token")
    assert_error(s.get("/api/admin/users",
                       headers=auth.bearer("tga_short")), 401,
                 "invalid_token")

    # A non-admin can neither create nor list tokens.
    user = auth.dev_login(s, "bob@example.com")
    assert_error(s.post("/api/admin/tokens", json={"name": "x"},
                        headers=auth.bearer(user)), 403, "not_admin")
    assert_error(s.get("/api/admin/tokens", headers=auth.bearer(user)),
                 403, "not_admin")

    # Bad names change nothing.
    for body, code in (({}, "missing_field"), ({"name": ""}, "invalid_value"),
                       ({"name": 5}, "invalid_value"),
                       ({"name": "x" * 101}, "invalid_value")):
        assert_error(s.post("/api/admin/tokens", json=body,
                            headers=auth.bearer(tok)), 400, code, "name")
    assert db.query("SELECT count(*) FROM admin_tokens")[0][0] == 1

    r = s.delete("/api/admin/tokens/%s" % t["id"], headers=auth.bearer(tok))
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None
    assert_error(s.get("/api/admin/users", headers=h), 401, "invalid_token")
    assert_error(s.delete("/api/admin/tokens/00000000-0000-4000-8000-"
                          "00000000dead", headers=auth.bearer(tok)), 404,
                 "not_found")
    assert s.get("/api/admin/tokens",
                 headers=auth.bearer(tok)).json()["data"] == []


def test_token_stops_when_its_creator_stops_being_admin(db, tollgate):
    a = tollgate(env=admin.ENV)
    t = admin.create_token(a, admin.sign_in(a))
    h = auth.bearer(t["token"])
    assert a.get("/api/admin/users", headers=h).status_code == 200

    # The admin list changes; the creator signs in again and is no admin.
    b = tollgate(env={"TOLLGATE_ADMIN_EMAILS": "someone@example.com"})
    admin.sign_in(b)
    assert_error(b.get("/api/admin/users", headers=h), 401, "invalid_token")
    assert_error(a.get("/api/admin/users", headers=h), 401, "invalid_token")


def test_cli_token_bootstraps_a_fresh_install(db, tollgate):
    s = tollgate()
    raw = admin.cli_token(s, "bootstrap")
    assert re.fullmatch(r"tga_[A-Za-z0-9_-]{43}", raw)
    h = auth.bearer(raw)
    r = s.get("/api/admin/tokens", headers=h)
    assert r.status_code == 200, r.text
    assert [x["name"] for x in r.json()["data"]] == ["bootstrap"]
    # With it a first admin token for a script, and a price.
    r = s.post("/api/admin/tokens", json={"name": "script"}, headers=h)
    assert r.status_code == 201, r.text
    r = s.put("/api/admin/prices/echo:echo-2", headers=h,
              json={"input_micros_per_mtok": 1, "output_micros_per_mtok": 2})
    assert r.status_code in (200, 201), r.text

    p = admin.cli(s, "admin-token", "create")
    assert p.returncode != 0 and "usage" in p.stderr
    p = admin.cli(s, "admin-token", "create", "")
    assert p.returncode != 0


def test_audit_names_who_did_what(db, tollgate):
    s = tollgate(env=admin.ENV)
    tok = admin.sign_in(s)
    admin_id = auth.user_id(s, tok)
    t = admin.create_token(s, tok, "ops")
    h = auth.bearer(t["token"])
    victim = auth.sign_in(s, "mallory@example.com").user_id

    r = s.patch("/api/admin/users/%s" % victim, json={"status": "suspended"},
                headers=h)
    assert r.status_code == 200, r.text
    r = s.put("/api/admin/prices/echo:echo-9", headers=auth.bearer(tok),
              json={"input_micros_per_mtok": 3, "output_micros_per_mtok": 4})
    assert r.status_code in (200, 201), r.text

    r = s.get("/api/admin/audit?limit=2", headers=h)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["object"] == "list" and len(page["data"]) == 2
    price, suspend = page["data"]
    assert price["action"] == "price.set"
    assert price["target"] == "echo:echo-9"
    assert price["actor"]["user_id"] == admin_id
    assert price["after"]["output_micros_per_mtok"] == 4
    assert suspend["action"] == "user.suspend"
    assert suspend["target"] == victim
    assert suspend["actor"] == {"user_id": admin_id,
                                "email": admin.ADMIN_EMAIL,
                                "token_id": t["id"], "token_name": "ops"}
    assert suspend["before"] == {"status": "active"}
    assert suspend["after"] == {"status": "suspended"}

    # The next page has the token's creation, made with the session.
    r = s.get("/api/admin/audit?limit=2&cursor=" + page["next_cursor"],
              headers=h)
    older = r.json()["data"]
    assert older[0]["action"] == "admin_token.create"
    assert older[0]["actor"]["token_id"] is None
    assert older[0]["target"] == t["id"]

    assert_error(s.get("/api/admin/audit?cursor=abc", headers=h), 400,
                 "invalid_value", "cursor")
    assert_error(s.get("/api/admin/audit?limit=0", headers=h), 400,
                 "invalid_value", "limit")
    # Audit rows are append-only.
    try:
        db.query("DELETE FROM admin_audit")
        raise AssertionError("audit rows could be deleted")
    except Exception as e:
        assert "append" in str(e).lower() or "not allowed" in str(e).lower() \
            or "permission" in str(e).lower(), e
