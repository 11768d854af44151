"""Profiles: GET /api/me, PATCH /api/me/profile (validation, partial
updates, nothing written on a refusal) and DELETE /api/me (sessions
revoked, personal data erased, ledger kept under an anonymised user)."""

import requests

from lib import auth
from lib.auth import me
from lib.errors import assert_error as err


def patch(server, token, body=None, data=None):
    return requests.patch(server.url + "/api/me/profile", json=body,
                          data=data, headers=dict(
                              auth.bearer(token),
                              **({"Content-Type": "application/json"}
                                 if data is not None else {})),
                          timeout=30)


def profile_row(db):
    return db.query("SELECT display_name, avatar_url, locale, timezone, "
                    "default_model FROM profiles")


def test_me_needs_a_session(server):
    err(requests.get(server.url + "/api/me", timeout=30), 401,
        "invalid_token")
    err(requests.patch(server.url + "/api/me/profile", json={},
                       timeout=30), 401, "invalid_token")
    err(requests.delete(server.url + "/api/me", timeout=30), 401,
        "invalid_token")


def test_patch_sets_clears_and_keeps(server, db):
    t = auth.dev_login(server, "pat@example.com")
    r = patch(server, t, {"display_name": "Pat Kim", "locale": "ko-KR",
                          "timezone": "Asia/Seoul",
                          "avatar_url": "https://cdn.example.com/p.png",
                          "default_model": "anthropic:claude-sonnet-4-5"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["display_name"] == "Pat Kim" and p["locale"] == "ko-KR"
    assert p["timezone"] == "Asia/Seoul"
    assert p["default_model"] == "anthropic:claude-sonnet-4-5"
    assert me(server, t).json()["profile"] == {
        "display_name": "Pat Kim", "avatar_url":
        "https://cdn.example.com/p.png", "locale": "ko-KR",
        "timezone": "Asia/Seoul",
        "default_model": "anthropic:claude-sonnet-4-5"}

    # Partial: only what is named changes; null clears.
    r = patch(server, t, {"locale": "en-US", "avatar_url": None})
    assert r.status_code == 200, r.text
    assert profile_row(db) == [("Pat Kim", None, "en-US", "Asia/Seoul",
                                "anthropic:claude-sonnet-4-5")]
    assert patch(server, t, {}).status_code == 200
    assert profile_row(db)[0][0] == "Pat Kim"


BAD = [
    ({"display_name": ""}, "display_name"),
    ({"display_name": "   "}, "display_name"),
    ({"display_name": "x" * 81}, "display_name"),
    ({"display_name": "a\u0000b"}, None),
    ({"display_name": "line\nbreak"}, "display_name"),
    ({"display_name": "evil\u202egnp.exe"}, "display_name"),
    ({"display_name": 5}, "display_name"),
    ({"display_name": ["a"]}, "display_name"),
    ({"avatar_url": "http://cdn.example.com/a.png"}, "avatar_url"),
    ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
    ({"avatar_url": "https://u:p@example.com/"}, "avatar_url"),
    ({"avatar_url": "https://example.com/" + "a" * 2100}, "avatar_url"),
    ({"locale": "en_US"}, "locale"),
    ({"locale": "english language"}, "locale"),
    ({"locale": "en-"}, "locale"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"timezone": "asia/seoul"}, "timezone"),
    ({"timezone": "posix/Asia/Seoul"}, "timezone"),
    ({"default_model": "openai:"}, "default_model"),
    ({"default_model": "open ai:gpt"}, "default_model"),
    ({"default_model": "openai:*"}, "default_model"),
    ({"nickname": "x"}, "nickname"),
    ({"display_name": "ok", "is_admin": True}, "is_admin"),
]


def test_patch_refuses_bad_values_and_writes_nothing(server, db):
    t = auth.dev_login(server, "val@example.com")
    assert patch(server, t, {"display_name": "Before",
                             "timezone": "UTC"}).status_code == 200
    before = profile_row(db)
    for body, param in BAD:
        r = patch(server, t, body)
        if param is None:          # \u0000: jansson refuses the JSON
            err(r, 400, "invalid_json")
        else:
            err(r, 400, "invalid_value", param)
        assert profile_row(db) == before, body
    assert db.query("SELECT is_admin FROM users") == [(False,)]


def test_patch_body_shapes(server, db):
    t = auth.dev_login(server, "shape@example.com")
    err(patch(server, t, data="{"), 400, "invalid_json")
    err(patch(server, t, data="[1]"), 400, "invalid_json")
    err(patch(server, t, data=b'{"display_name":"\xff"}'), 400,
        "invalid_json")
    err(patch(server, t, data='{"display_name":"a","display_name":"b"}'),
        400, "invalid_json")
    err(patch(server, t, data="[" * 8000 + "]" * 8000), 400, "invalid_json")
    err(patch(server, t, data="[" * 100000 + "]" * 100000), 413,
        "body_too_large")
    err(patch(server, t, data='{"display_name":"' + "x" * 20000 + '"}'),
        413, "body_too_large")


def test_hostile_strings_are_stored_verbatim_and_escaped(server, db):
    t = auth.dev_login(server, "inj@example.com")
    for name in ("' OR 1=1 --", "<script>alert(1)</script>",
                 "Robert'); DROP TABLE users;--"):
        r = patch(server, t, {"display_name": name})
        assert r.status_code == 200, r.text
        m = me(server, t)
        assert m.headers["content-type"] == "application/json"
        assert m.headers["x-content-type-options"] == "nosniff"
        assert m.json()["profile"]["display_name"] == name
    assert db.query("SELECT count(*) FROM users") == [(1,)]


def test_delete_closes_the_account(tollgate, db):
    t = tollgate(env={"TOLLGATE_SIGNUP_CREDITS_MICROS": "3000000"})
    a = auth.sign_in(t, "leaver@example.com")
    b = auth.sign_in(t, "leaver@example.com")       # a second session
    assert patch(t, a.access_token, {"display_name": "Leaver"}) \
        .status_code == 200
    other = auth.sign_in(t, "stayer@example.com")

    r = requests.delete(t.url + "/api/me", headers=auth.bearer(
        a.access_token), timeout=30)
    assert r.status_code == 204, r.text
    assert auth.set_cookies(r)["tg_refresh"][1]["max-age"] == "0"

    # Every session of the user is over, at once.
    for s in (a, b):
        err(me(t, s.access_token), 401, "invalid_token")
        err(auth.refresh(t, s.refresh_token), 401, "invalid_token")
    err(requests.delete(t.url + "/api/me", headers=auth.bearer(
        b.access_token), timeout=30), 401, "invalid_token")
    assert me(t, other.access_token).status_code == 200

    # Personal data erased; the row stays for the ledger.
    assert db.query("SELECT status, email, email_verified, is_admin, "
                    "deleted_at IS NOT NULL FROM users WHERE id = %s",
                    a.user_id) == [("deleted", None, False, False, True)]
    assert db.query("SELECT subject, email FROM identities WHERE "
                    "user_id = %s", a.user_id) == [(None, None)]
    assert db.query("SELECT count(*) FROM profiles WHERE user_id = %s",
                    a.user_id) == [(0,)]
    assert db.query("SELECT count(*) FROM sessions WHERE user_id = %s "
                    "AND revoke_reason = 'account_closed'",
                    a.user_id) == [(2,)]
    assert db.query("SELECT count(*) FROM refresh_tokens rt JOIN sessions "
                    "s ON s.id = rt.session_id WHERE s.user_id = %s",
                    a.user_id) == [(0,)]
    dump = str(db.query("SELECT * FROM users")) + str(
        db.query("SELECT * FROM identities"))
    assert "leaver@example.com" not in dump
    assert db.query("SELECT count(*) FROM ledger_transactions WHERE "
                    "user_id = %s", a.user_id) == [(1,)]
    assert db.query("SELECT * FROM ledger_check()") == []

    # The same person signing up again is a new user, without a second
    # signup grant.
    c = auth.sign_in(t, "leaver@example.com")
    assert c.user_id != a.user_id
    assert me(t, c.access_token).json()["available_micros"] == 0
    assert me(t, other.access_token).json()["available_micros"] == 3000000
