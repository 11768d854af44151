"""Rate limits (429 rate_limited with Retry-After): per user on the
key-management API, per client address on the login endpoints and on
failed API-key authentications (TOLLGATE_KEY_FAIL_LIMIT).

Limits are per worker; these servers run one worker, so the numbers are
exact."""

import time

import requests

from lib import auth
from lib.errors import assert_error
from lib.keys import auth as key_auth
from lib.keys import make_key, seed_key, with_secret


def assert_429(r):
    err = assert_error(r, 429, "rate_limited")
    assert err["type"] == "rate_limit_error"
    retry = int(r.headers["retry-after"])
    assert retry >= 1
    return retry


def login(server, email="rl@example.com", headers=None):
    return requests.post(server.url + "/auth/dev/login",
                         json={"email": email}, headers=headers or {},
                         timeout=10)


def test_key_management_is_limited_per_user(tollgate, db):
    server = tollgate(env={"TOLLGATE_RATE_LIMIT_USER": "5"})
    alice = auth.bearer(auth.dev_login(server, "alice@example.com"))
    bob = auth.bearer(auth.dev_login(server, "bob@example.com"))

    assert server.post("/api/keys", json={"name": "a"},
                       headers=alice).status_code == 201
    for _ in range(4):
        assert server.get("/api/keys", headers=alice).status_code == 200
    # The sixth request within the minute, whatever the route.
    retry = assert_429(server.get("/api/keys", headers=alice))
    assert retry <= 12                      # one request per 12 s
    assert_429(server.post("/api/keys", json={"name": "b"}, headers=alice))
    assert_429(server.delete("/api/keys/nope", headers=alice))
    # Nothing was done for the refused ones.
    assert db.query("SELECT count(*) FROM api_keys")[0][0] == 1

    # Bob has his own bucket; other routes are not limited.
    assert server.get("/api/keys", headers=bob).status_code == 200
    assert server.get("/healthz").status_code == 200
    assert server.get("/api/me", headers=alice).status_code == 200


def test_login_endpoints_are_limited_per_address(tollgate, db):
    server = tollgate(env={"TOLLGATE_RATE_LIMIT_IP": "3"})
    for i in range(3):
        assert login(server, "u%d@example.com" % i).status_code == 200
    assert_429(login(server, "late@example.com"))
    # The refresh endpoint shares the address's budget.
    assert_429(auth.refresh(server, "whatever"))
    # The refused login created nobody.
    assert db.query("SELECT count(*) FROM users WHERE email = "
                    "'late@example.com'")[0][0] == 0
    # X-Forwarded-For is not believed without TOLLGATE_TRUST_PROXY.
    assert_429(login(server, headers={"x-forwarded-for": "203.0.113.9"}))


def test_oauth_start_and_callback_are_limited_per_address(tollgate, db):
    server = tollgate(env={"TOLLGATE_RATE_LIMIT_IP": "2"})
    first = [server.get("/auth/github/start?return_to=/",
                        allow_redirects=False).status_code,
             server.get("/auth/github/callback?code=x&state=y",
                        allow_redirects=False).status_code]
    assert 429 not in first
    assert_429(server.get("/auth/github/start?return_to=/",
                          allow_redirects=False))
    assert_429(server.get("/auth/google/callback?code=x&state=y",
                          allow_redirects=False))
    # Not the provider list, not other routes.
    assert server.get("/auth/providers").status_code == 200
    assert server.get("/healthz").status_code == 200


def test_forwarded_address_counts_behind_a_trusted_proxy(tollgate, db):
    server = tollgate(env={"TOLLGATE_RATE_LIMIT_IP": "2",
                           "TOLLGATE_TRUST_PROXY": "1"})
    a = {"x-forwarded-for": "198.51.100.1"}
    b = {"x-forwarded-for": "10.0.0.1, 198.51.100.2"}
    assert login(server, headers=a).status_code == 200
    assert login(server, headers=a).status_code == 200
    assert_429(login(server, headers=a))
    assert login(server, headers=b).status_code == 200


def test_retry_after_is_honest(tollgate, db):
    server = tollgate(env={"TOLLGATE_RATE_LIMIT_IP": "60"})
    for i in range(80):
        r = login(server)
        if r.status_code == 429:
            break
        assert r.status_code == 200
    else:
        raise AssertionError("never limited")
    assert i >= 60
    retry = assert_429(r)
    assert retry == 1
    time.sleep(retry + 0.05)
    assert login(server).status_code == 200


def test_default_limits(tollgate, db):
    server = tollgate(env={"TOLLGATE_RATE_LIMIT_IP": None,
                           "TOLLGATE_RATE_LIMIT_USER": None})
    for i in range(40):
        r = login(server)
        if r.status_code == 429:
            break
    assert 30 <= i <= 34, i
    assert_429(r)


def v1_key(server, key, headers=None):
    h = dict(headers or {})
    if key is not None:
        h.update(key_auth(key))
    return requests.get(server.url + "/v1/key", headers=h, timeout=10)


def test_failed_key_authentications_are_limited_per_address(tollgate, db):
    server = tollgate(env={"TOLLGATE_KEY_FAIL_LIMIT": "30",
                           "TOLLGATE_TRUST_PROXY": "1"})
    key, _, _ = seed_key(db)
    a = {"x-forwarded-for": "198.51.100.7"}
    b = {"x-forwarded-for": "198.51.100.8"}
    # Successes do not count.
    for _ in range(40):
        assert v1_key(server, key, a).status_code == 200
    # 30 failures of every kind are answered 401...
    unknown, _ = make_key()
    bad = [None, "tg_nonsense", unknown, with_secret(key[3:15])]
    for i in range(30):
        assert_error(v1_key(server, bad[i % len(bad)], a), 401,
                     "invalid_api_key")
    # ...then this address is refused, a valid key included, with an
    # honest Retry-After (one failure every 2 s).
    retry = assert_429(v1_key(server, unknown, a))
    assert retry in (1, 2)
    r = v1_key(server, key, a)
    assert "at most 30 a minute" in assert_error(r, 429)["message"]
    assert_429(r)
    # Another address is not.
    assert v1_key(server, key, b).status_code == 200
    assert_error(v1_key(server, unknown, b), 401, "invalid_api_key")
    # One interval later, one more attempt.
    time.sleep(retry + 0.1)
    assert v1_key(server, key, a).status_code == 200
    assert v1_key(server, key, a).status_code == 200
    m = server.get("/metrics").text
    assert 'tollgate_api_key_auth_total{source="limited"} 2' in m


def test_key_fail_limit_default_and_off(tollgate, db):
    server = tollgate(env={"TOLLGATE_KEY_FAIL_LIMIT": None})
    for i in range(30):
        r = v1_key(server, "tg_nonsense")
        if r.status_code == 429:
            break
        assert r.status_code == 401
    assert i == 20, i
    assert_429(r)

    server = tollgate(env={"TOLLGATE_KEY_FAIL_LIMIT": "0"})
    for i in range(50):
        assert v1_key(server, "tg_nonsense").status_code == 401


def test_bad_limit_settings_refuse_to_start(db):
    from lib.server import Tollgate
    for var, value in (("TOLLGATE_RATE_LIMIT_IP", "-1"),
                       ("TOLLGATE_RATE_LIMIT_USER", "many"),
                       ("TOLLGATE_KEY_FAIL_LIMIT", "-5")):
        rc, out = Tollgate(db.url, env={var: value}).run_to_exit()
        assert rc != 0
        assert var in out
