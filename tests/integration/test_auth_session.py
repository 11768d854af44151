"""Identity: dev login, access tokens, rotating refresh tokens, logout.

Attacks on access tokens and refresh tokens (forged, expired, replayed,
rotated, reused; docs/auth.md "Security notes"): each is answered 401/403 in the contract's error shape and
leaves the database as it was."""

import concurrent.futures
import time

import pytest
import requests

from lib import auth
from lib.auth import me
from lib.errors import assert_error as err
from lib.server import TEST_JWT_SECRET


def count(db, table, where="true", *args):
    return db.query("SELECT count(*) FROM %s WHERE %s" % (table, where),
                    *args)[0][0]


# --- dev login ------------------------------------------------------------

def test_dev_login_opens_a_session(server, db):
    s = auth.sign_in(server, "Alice@Example.com")
    body = s.response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 900

    c = auth.claims(s.access_token)
    assert c["exp"] - c["iat"] == body["expires_in"]
    assert c["aud"] == "tollgate-ui" and c["iss"] == server.url

    # The refresh cookie: HttpOnly, SameSite=Lax, Path=/auth, and no
    # Secure on a dev server over plain http.
    value, attrs = auth.set_cookies(s.response)["tg_refresh"]
    assert len(value) == 43
    assert "httponly" in attrs and attrs["samesite"] == "Lax"
    assert attrs["path"] == "/auth" and "secure" not in attrs
    assert "domain" not in attrs
    assert int(attrs["max-age"]) > 86400

    r = me(server, s.access_token)
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["id"] == s.user_id
    assert m["email"] == "alice@example.com"
    assert m["is_admin"] is False
    assert m["available_micros"] == 0
    assert set(m["profile"]) >= {"display_name", "avatar_url", "locale",
                                 "timezone", "default_model"}
    assert m["identities"] == [{"provider": "dev",
                                "subject": "alice@example.com",
                                "email": "alice@example.com"}]

    # Stored: the session, and the refresh token only as a 32-byte hash.
    assert count(db, "sessions", "user_id = %s", s.user_id) == 1
    rows = db.query("SELECT token_hash FROM refresh_tokens")
    assert len(rows) == 1 and len(bytes(rows[0][0])) == 32
    assert s.refresh_token.encode() not in bytes(rows[0][0])
    dump = str(db.query("SELECT * FROM sessions")) + str(
        db.query("SELECT encode(token_hash, 'escape') FROM refresh_tokens"))
    assert s.refresh_token not in dump


def test_same_email_is_same_user_new_session(server, db):
    a = auth.sign_in(server, "bob@example.com")
    b = auth.sign_in(server, "BOB@example.com")
    assert a.user_id == b.user_id and a.session_id != b.session_id
    assert count(db, "users") == 1 and count(db, "sessions") == 2


@pytest.mark.parametrize("body,code", [
    ({}, "missing_field"),
    ({"email": None}, "missing_field"),
    ({"email": 5}, "invalid_value"),
    ({"email": "no-at-sign"}, "invalid_value"),
    ({"email": "a@b@c"}, "invalid_value"),
    ({"email": "a b@example.com"}, "invalid_value"),
    ({"email": "x@" + "a" * 300 + ".com"}, "invalid_value"),
    ({"email": "' OR 1=1 --@x.com"}, "invalid_value"),
])
def test_dev_login_bad_input(server, db, body, code):
    r = requests.post(server.url + "/auth/dev/login", json=body, timeout=30)
    err(r, 400, code)
    assert count(db, "users") == 0 and count(db, "sessions") == 0


def test_dev_login_bad_json(server, db):
    r = requests.post(server.url + "/auth/dev/login", data="{nope",
                      headers={"Content-Type": "application/json"},
                      timeout=30)
    err(r, 400, "invalid_json")
    assert count(db, "users") == 0


def test_dev_login_off_unless_enabled(tollgate, db):
    t = tollgate(env={"TOLLGATE_DEV_LOGIN": None})
    r = requests.post(t.url + "/auth/dev/login", json={"email": "a@b.co"},
                      timeout=30)
    err(r, 404, "not_found")
    assert count(db, "users") == 0


def test_admin_flag_from_admin_emails(tollgate, db):
    t = tollgate(env={"TOLLGATE_ADMIN_EMAILS": "root@example.com, "
                      "Ops@Example.com"})
    assert me(t, auth.dev_login(t, "ops@example.com")).json()["is_admin"]
    assert me(t, auth.dev_login(t, "ROOT@example.com")).json()["is_admin"]
    assert not me(t, auth.dev_login(t, "dev@example.com")).json()[
        "is_admin"]
    assert count(db, "users", "is_admin") == 2


# --- access tokens --------------------------------------------------------

def good_claims(s):
    return auth.claims(s.access_token)


def forged_cases(s, server):
    c = good_claims(s)
    now = int(time.time())
    other = dict(c, sub="00000000-0000-4000-8000-000000000000")
    tampered = s.access_token.split(".")
    tampered[1] = auth.b64url(__import__("json").dumps(other))
    cases = {
        "alg_none": auth.forge(c, header={"alg": "none", "typ": "JWT"})
        .rsplit(".", 1)[0] + ".",
        "hs512": auth.forge(c, header={"alg": "HS512", "typ": "JWT"}),
        "kid_header": auth.forge(c, header={"alg": "HS256", "typ": "JWT",
                                             "kid": "../../x"}),
        "jku_header": auth.forge(c, header={"alg": "HS256", "typ": "JWT",
                                             "jku": "https://evil/jwks"}),
        "other_key": auth.forge(c, secret="another-secret-" * 4),
        "empty_key": auth.forge(c, secret=""),
        "tampered_sub": ".".join(tampered),
        "no_exp": auth.forge({k: v for k, v in c.items() if k != "exp"}),
        "no_aud": auth.forge({k: v for k, v in c.items() if k != "aud"}),
        "no_sid": auth.forge({k: v for k, v in c.items() if k != "sid"}),
        "no_iss": auth.forge({k: v for k, v in c.items() if k != "iss"}),
        "wrong_aud": auth.forge(dict(c, aud="someone-else")),
        "wrong_iss": auth.forge(dict(c, iss="https://evil.example")),
        "typ_refresh": auth.forge(dict(c, typ="refresh")),
        "nbf_future": auth.forge(dict(c, nbf=now + 120)),
        "iat_future": auth.forge(dict(c, iat=now + 300, exp=now + 600)),
        "too_long_lived": auth.forge(dict(c, exp=c["iat"] + 3600)),
        "dup_sub": auth.forge(
            '{"iss":"%s","aud":"tollgate-ui","sub":"%s","sid":"%s",'
            '"typ":"access","iat":%d,"exp":%d,"sub":"%s"}' % (
                c["iss"], c["sub"], c["sid"], c["iat"], c["exp"],
                "00000000-0000-4000-8000-000000000000")),
        "garbage": "not-a-token",
        "four_parts": s.access_token + ".x",
    }
    return cases


def test_forged_access_tokens_are_refused(server, db):
    s = auth.sign_in(server, "carol@example.com")
    assert me(server, s.access_token).status_code == 200
    # A token forged with the right key and claims is accepted (the
    # cases below differ from it in one thing each).
    assert me(server, auth.forge(good_claims(s))).status_code == 200
    for name, token in forged_cases(s, server).items():
        r = me(server, token)
        e = err(r, 401, "invalid_token")
        assert "invalid_token" in r.headers.get("www-authenticate", ""), name


def test_expired_access_token(server):
    s = auth.sign_in(server, "dave@example.com")
    c = good_claims(s)
    now = int(time.time())
    token = auth.forge(dict(c, iat=now - 700, exp=now - 100))
    err(me(server, token), 401, "token_expired")


def test_missing_or_malformed_authorization(server):
    for h in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
              {"Authorization": "Basic dXNlcjpwYXNz"},
              {"Authorization": "Bearer " + "A" * 5000}):
        r = requests.get(server.url + "/api/me", headers=h, timeout=30)
        err(r, 401, "invalid_token")


# --- refresh --------------------------------------------------------------

def test_refresh_rotates_and_old_token_reuse_revokes(server, db):
    s = auth.sign_in(server, "erin@example.com")
    r1 = auth.refresh(server, s.refresh_token)
    assert r1.status_code == 200, r1.text
    assert set(r1.json()) == {"access_token", "token_type", "expires_in"}
    rt1 = auth.set_cookies(r1)["tg_refresh"][0]
    assert rt1 != s.refresh_token and len(rt1) == 43
    assert auth.claims(r1.json()["access_token"])["sid"] == s.session_id
    assert me(server, r1.json()["access_token"]).status_code == 200

    r2 = auth.refresh(server, rt1)
    assert r2.status_code == 200, r2.text
    rt2 = auth.set_cookies(r2)["tg_refresh"][0]

    # The first token again, outside the grace window: the whole session
    # ends, the newest token too, and its access tokens stop working.
    db.query("UPDATE sessions SET rotated_at = now() - interval '1 minute'")
    r = auth.refresh(server, s.refresh_token)
    err(r, 401, "invalid_token")
    assert auth.set_cookies(r)["tg_refresh"][1]["max-age"] == "0"
    assert db.query("SELECT revoke_reason FROM sessions WHERE id = %s",
                    s.session_id) == [("refresh_reuse",)]
    err(auth.refresh(server, rt2), 401, "invalid_token")
    err(me(server, r2.json()["access_token"]), 401, "invalid_token")
    err(me(server, s.access_token), 401, "invalid_token")


def test_refresh_grace_for_two_tabs(server, db):
    s = auth.sign_in(server, "frank@example.com")
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        rs = list(ex.map(lambda _: auth.refresh(server, s.refresh_token),
                         range(4)))
    assert [r.status_code for r in rs] == [200] * 4, [r.text for r in rs]
    # One rotation, the others are siblings of the new generation.
    assert db.query("SELECT generation FROM sessions") == [(2,)]
    toks = {auth.set_cookies(r)["tg_refresh"][0] for r in rs}
    assert len(toks) == 4
    # Any of them works next (the browser keeps whichever came last).
    last = sorted(toks)[0]
    r = auth.refresh(server, last)
    assert r.status_code == 200, r.text
    assert db.query("SELECT generation, revoked_at IS NULL FROM sessions") \
        == [(3, True)]


def test_refresh_statement_repeated_after_a_lost_answer(server, db):
    """tollgate sends auth_refresh() again, with the same two hashes, when
    its connection drops before the answer (TG_DB_RETRY). If the first
    one had committed, the repeat falls into the grace window and must
    answer ok (the client then gets the token the first one stored), not
    fail on the token it inserted already."""
    s = auth.sign_in(server, "lost.answer@example.com")
    old = db.query("SELECT encode(token_hash, 'hex') FROM refresh_tokens "
                   "WHERE session_id = %s", s.session_id)[0][0]
    new = "ab" * 32
    call = ("SELECT result, session_id::text FROM auth_refresh("
            "decode(%s, 'hex'), decode(%s, 'hex'))")
    assert db.query(call, old, new) == [("ok", s.session_id)]
    assert db.query(call, old, new) == [("ok", s.session_id)]
    assert db.query("SELECT generation, revoked_at IS NULL FROM sessions") \
        == [(2, True)]
    assert db.query("SELECT generation FROM refresh_tokens WHERE token_hash "
                    "= decode(%s, 'hex')", new) == [(2,)]


def test_refresh_needs_csrf_guard(server, db):
    s = auth.sign_in(server, "grace@example.com")
    ui = server.env["TOLLGATE_UI_URL"]
    err(auth.refresh(server, s.refresh_token, csrf=False), 403,
        "csrf_failed")
    err(auth.refresh(server, s.refresh_token, csrf=False,
                     origin="https://evil.example"), 403, "csrf_failed")
    err(auth.refresh(server, s.refresh_token, csrf=True,
                     origin="https://evil.example"), 403, "csrf_failed")
    err(auth.refresh(server, s.refresh_token, csrf=False, origin="null"),
        403, "csrf_failed")
    err(auth.refresh(server, s.refresh_token, csrf=False,
                     headers={"X-Tollgate-CSRF": "true"}), 403, "csrf_failed")
    # Nothing was rotated by the refused attempts.
    assert db.query("SELECT generation FROM sessions") == [(1,)]
    r = auth.refresh(server, s.refresh_token, csrf=False, origin=ui)
    assert r.status_code == 200, r.text


def test_refresh_without_or_with_bad_cookie(server, db):
    auth.sign_in(server, "heidi@example.com")
    err(auth.refresh(server, None), 401, "invalid_token")
    err(auth.refresh(server, "x" * 43), 401, "invalid_token")
    err(auth.refresh(server, "short"), 401, "invalid_token")
    # An unknown but well-formed token changes nothing.
    err(auth.refresh(server, "A" * 42 + "E"), 401, "invalid_token")
    assert db.query("SELECT generation, revoked_at FROM sessions") == \
        [(1, None)]


def test_refresh_after_lifetime_or_idle_timeout(server, db):
    a = auth.sign_in(server, "ivan@example.com")
    b = auth.sign_in(server, "ivan@example.com")
    db.query("UPDATE sessions SET expires_at = now() - interval '1 s' "
             "WHERE id = %s", a.session_id)
    db.query("UPDATE sessions SET idle_expires_at = now() - interval '1 s' "
             "WHERE id = %s", b.session_id)
    err(auth.refresh(server, a.refresh_token), 401, "token_expired")
    err(auth.refresh(server, b.refresh_token), 401, "token_expired")
    assert count(db, "sessions", "revoke_reason = 'expired'") == 2


# --- logout ---------------------------------------------------------------

def test_logout_with_bearer_ends_session_at_once(server, db):
    s = auth.sign_in(server, "judy@example.com")
    r = auth.logout(server, token=s.access_token)
    assert r.status_code == 204
    assert auth.set_cookies(r)["tg_refresh"][1]["max-age"] == "0"
    assert db.query("SELECT revoke_reason FROM sessions") == [("logout",)]
    err(me(server, s.access_token), 401, "invalid_token")
    err(auth.refresh(server, s.refresh_token), 401, "invalid_token")


def test_logout_with_cookie_needs_csrf(server, db):
    s = auth.sign_in(server, "ken@example.com")
    r = auth.logout(server, refresh_token=s.refresh_token, csrf=False)
    err(r, 403, "csrf_failed")
    assert db.query("SELECT revoked_at FROM sessions") == [(None,)]
    r = auth.logout(server, refresh_token=s.refresh_token)
    assert r.status_code == 204
    err(me(server, s.access_token), 401, "invalid_token")
    err(auth.refresh(server, s.refresh_token), 401, "invalid_token")


def test_logout_without_credentials_is_harmless(server, db):
    s = auth.sign_in(server, "leo@example.com")
    assert auth.logout(server).status_code == 204
    err(auth.logout(server, token="garbage"), 401, "invalid_token")
    assert me(server, s.access_token).status_code == 200


def test_logout_reaches_every_worker(tollgate, db):
    t = tollgate(workers=2)
    s = auth.sign_in(t, "mallory@example.com")
    assert auth.logout(t, token=s.access_token).status_code == 204
    # Fresh connections land on either worker; none accepts the token.
    for _ in range(20):
        r = requests.get(t.url + "/api/me", headers=dict(
            auth.bearer(s.access_token), Connection="close"), timeout=30)
        err(r, 401, "invalid_token")


def test_revoked_elsewhere_refused_by_db_check(server, db):
    # Revoked by another host (only the database knows): /api/me re-checks.
    s = auth.sign_in(server, "nia@example.com")
    db.query("UPDATE sessions SET revoked_at = now(), "
             "revoke_reason = 'admin'")
    err(me(server, s.access_token), 401, "invalid_token")


# --- signup grant ----------------------------------------------------------

def test_signup_grant_once_through_the_ledger(tollgate, db):
    t = tollgate(env={"TOLLGATE_SIGNUP_CREDITS_MICROS": "5000000"})
    s = auth.sign_in(t, "olivia@example.com")
    assert me(t, s.access_token).json()["available_micros"] == 5000000
    # Signing in again grants nothing more.
    s2 = auth.sign_in(t, "olivia@example.com")
    assert me(t, s2.access_token).json()["available_micros"] == 5000000
    rows = db.query("SELECT kind, amount, idempotency_key, user_id::text "
                    "FROM ledger_transactions")
    assert rows == [("signup_grant", 5000000, "signup:" + s.user_id,
                     s.user_id)]
    assert db.query("SELECT * FROM ledger_check()") == []


def test_no_grant_when_zero(server, db):
    s = auth.sign_in(server, "pat@example.com")
    assert me(server, s.access_token).json()["available_micros"] == 0
    assert count(db, "ledger_transactions") == 0


def test_concurrent_first_logins_make_one_user(tollgate, db):
    t = tollgate(workers=2, env={"TOLLGATE_SIGNUP_CREDITS_MICROS": "1000"})
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda _: auth.sign_in(t, "quinn@example.com"),
                         range(8)))
    assert len({r.user_id for r in rs}) == 1
    assert count(db, "users") == 1 and count(db, "sessions") == 8
    assert count(db, "ledger_transactions") == 1
    assert db.query("SELECT * FROM ledger_check()") == []
