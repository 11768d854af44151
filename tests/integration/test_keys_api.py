"""The key-management API (docs/contract.md §3, §7): create, list, get, update,
revoke, through HTTP with a real session (tests/lib/auth.py)."""

import hashlib
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from lib import auth
from lib.errors import assert_error
from lib.keys import StatementLog, burst, poll_until_refused, warm

KEY_RE = re.compile(r"^tg_[0-9A-Za-z]{12}_[0-9A-Za-z]{46}$")
LIST_FIELDS = {"id", "name", "prefix", "last4", "created_at", "last_used_at",
               "expires_at", "allowed_models", "spend_limit_micros",
               "spent_micros", "disabled", "revoked"}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class User:
    """A signed-in user of one server."""

    def __init__(self, server, email=None):
        self.server = server
        self.email = email or "u%s@example.com" % uuid.uuid4().hex[:8]
        s = auth.sign_in(server, self.email)
        self.token = s.access_token
        self.id = s.user_id
        self.h = auth.bearer(self.token)

    def create(self, **body):
        body.setdefault("name", "key")
        return self.server.post("/api/keys", json=body, headers=self.h)

    def new_key(self, **body):
        r = self.create(**body)
        assert r.status_code == 201, r.text
        return r.json()

    def list(self, query=""):
        return self.server.get("/api/keys" + query, headers=self.h)

    def get(self, kid):
        return self.server.get("/api/keys/" + kid, headers=self.h)

    def patch(self, kid, body):
        return self.server.patch("/api/keys/" + kid, json=body,
                                 headers=self.h)

    def delete(self, kid):
        return self.server.delete("/api/keys/" + kid, headers=self.h)


def use(server, key):
    return requests.get(server.url + "/v1/key",
                        headers={"authorization": "Bearer " + key,
                                 "connection": "close"}, timeout=10)


# --- lifecycle ---------------------------------------------------------

def test_create_shows_the_key_once(server, db):
    u = User(server)
    r = u.create(name="ci", allowed_models=["anthropic:*"],
                 spend_limit_micros=2500000)
    assert r.status_code == 201, r.text
    doc = r.json()
    key = doc["key"]
    assert KEY_RE.match(key), key
    assert doc["prefix"] == key[:15]
    assert doc["last4"] == key[-4:]
    assert doc["name"] == "ci"
    assert TIME_RE.match(doc["created_at"])
    assert doc["allowed_models"] == ["anthropic:*"]
    assert doc["spend_limit_micros"] == 2500000
    assert doc["spent_micros"] == 0
    assert doc["disabled"] is False and doc["revoked"] is False
    assert doc["last_used_at"] is None and doc["expires_at"] is None
    assert uuid.UUID(doc["id"])

    # It works at once, with what it was created with.
    r = use(server, key)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == doc["id"]
    assert r.json()["allowed_models"] == ["anthropic:*"]
    assert r.json()["spend_limit_micros"] == 2500000

    # Never again: listing and fetching show the prefix and last4 only.
    lst = u.list()
    assert lst.status_code == 200
    body = lst.json()
    assert body["object"] == "list" and body["next_cursor"] is None
    assert len(body["data"]) == 1
    item = body["data"][0]
    assert LIST_FIELDS <= set(item)
    assert "key" not in item and "digest" not in item
    assert item["prefix"] == key[:15] and item["last4"] == key[-4:]
    one = u.get(doc["id"])
    assert one.status_code == 200
    assert "key" not in one.json()
    secret = key[16:]
    for text in (lst.text, one.text):
        assert key not in text and secret[:20] not in text


def test_the_secret_is_never_stored_or_logged(pg, db, tollgate):
    log = StatementLog(pg, db)      # every statement the database sees
    server = tollgate()
    u = User(server)
    keys = [u.new_key(name="k%d" % i)["key"] for i in range(3)]
    for k in keys:
        assert use(server, k).status_code == 200
    u.patch(u.list().json()["data"][0]["id"], {"name": "renamed"})
    time.sleep(0.5)

    rows = db.query("SELECT t::text, encode(digest, 'hex') FROM api_keys t")
    assert len(rows) == 3
    dump = "\n".join(r[0] for r in rows)
    digests = {r[1] for r in rows}
    for k in keys:
        secret = k[16:-6]
        # Not the key, not its secret, not a sizeable piece of it.
        for text, where in ((dump, "api_keys"), (log.text(), "pg log"),
                            (server.log(), "tollgate log")):
            assert k not in text, where
            for i in range(0, len(secret) - 12, 4):
                assert secret[i:i + 12] not in text, where
        # Nor an unkeyed hash of it.
        for h in (hashlib.sha256(k.encode()).hexdigest(),
                  hashlib.blake2b(k.encode(), digest_size=32).hexdigest()):
            assert h not in digests


def test_update_disable_enable_and_revoke(server, db):
    u = User(server)
    doc = u.new_key(name="first")
    kid, key = doc["id"], doc["key"]

    r = u.patch(kid, {"name": "second", "allowed_models": ["openai:*", "fast"],
                      "spend_limit_micros": 100})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "second"
    assert r.json()["allowed_models"] == ["openai:*", "fast"]
    assert r.json()["spend_limit_micros"] == 100
    assert "key" not in r.json()
    time.sleep(0.3)
    me = use(server, key).json()
    assert me["allowed_models"] == ["openai:*", "fast"]
    assert me["spend_limit_micros"] == 100

    # Clearing: null limit, empty list = every model; untouched fields stay.
    r = u.patch(kid, {"spend_limit_micros": None, "allowed_models": []})
    assert r.status_code == 200
    assert r.json()["spend_limit_micros"] is None
    assert r.json()["allowed_models"] == []
    assert r.json()["name"] == "second"
    r = u.patch(kid, {})
    assert r.status_code == 200 and r.json()["name"] == "second"

    r = u.patch(kid, {"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    time.sleep(0.3)
    assert_error(use(server, key), 403, "key_disabled")
    r = u.patch(kid, {"disabled": False})
    assert r.status_code == 200 and r.json()["disabled"] is False
    time.sleep(0.3)
    assert use(server, key).status_code == 200

    r = u.delete(kid)
    assert r.status_code == 200, r.text
    assert r.json()["revoked"] is True
    revoked_at = r.json()["revoked_at"]
    assert TIME_RE.match(revoked_at)
    assert_error(use(server, key), 401, "invalid_api_key")

    # Permanent: shown as revoked, cannot be changed or re-enabled;
    # revoking again changes nothing.
    assert u.get(kid).json()["revoked"] is True
    assert_error(u.patch(kid, {"disabled": False}), 409, "key_revoked")
    assert_error(u.patch(kid, {"name": "zombie"}), 409, "key_revoked")
    again = u.delete(kid)
    assert again.status_code == 200
    assert again.json()["revoked_at"] == revoked_at
    assert u.get(kid).json()["name"] == "second"
    assert_error(use(server, key), 401, "invalid_api_key")


def test_expiry_set_at_creation(server, db):
    u = User(server)
    doc = u.new_key(name="short", expires_at=int(time.time()) + 2)
    assert TIME_RE.match(doc["expires_at"])
    assert use(server, doc["key"]).status_code == 200
    time.sleep(3.1)
    assert_error(use(server, doc["key"]), 401, "invalid_api_key")
    assert u.get(doc["id"]).json()["expired"] is True

    doc = u.new_key(name="rfc", expires_at="2099-01-02T03:04:05+01:00")
    assert doc["expires_at"] == "2099-01-02T02:04:05Z"


# --- isolation ---------------------------------------------------------

def test_another_users_key_is_404_and_untouched(server, db):
    alice = User(server)
    bob = User(server)
    doc = alice.new_key(name="alice's")
    kid, key = doc["id"], doc["key"]

    for r in (bob.get(kid), bob.patch(kid, {"name": "mine now"}),
              bob.patch(kid, {"disabled": True}), bob.delete(kid)):
        assert_error(r, 404, "not_found")
    assert bob.list().json()["data"] == []

    # Unknown and malformed ids look exactly the same.
    for bad in (str(uuid.uuid4()), "nope", "1", "' OR 1=1 --",
                kid.upper() + "0", "%00"):
        assert_error(bob.get(bad), 404, "not_found")
        assert_error(alice.delete(bad), 404, "not_found")

    after = alice.get(kid).json()
    assert after["name"] == "alice's"
    assert after["disabled"] is False and after["revoked"] is False
    assert use(server, key).status_code == 200


# Two processes behind one public URL (one deployment): a session token
# from one is good on the other.
SHARED = {"TOLLGATE_PUBLIC_URL": "http://tollgate.test"}


def test_needs_a_live_session(tollgate, db):
    a = tollgate(env=SHARED)
    b = tollgate(env=SHARED)
    assert_error(a.get("/api/keys"), 401, "invalid_token")
    assert_error(a.post("/api/keys", json={"name": "x"}), 401,
                 "invalid_token")
    assert_error(a.get("/api/keys", headers=auth.bearer("not.a.jwt")), 401,
                 "invalid_token")

    # Signed out on one host: the other one refuses the still-unexpired
    # access token too (session_is_active in every statement).
    u = User(a)
    kid = u.new_key()["id"]
    assert b.get("/api/keys", headers=u.h).status_code == 200
    assert auth.logout(a, token=u.token).status_code == 204
    for r in (b.get("/api/keys", headers=u.h),
              b.post("/api/keys", json={"name": "x"}, headers=u.h),
              b.get("/api/keys/" + kid, headers=u.h),
              b.patch("/api/keys/" + kid, json={"name": "y"}, headers=u.h),
              b.delete("/api/keys/" + kid, headers=u.h)):
        assert_error(r, 401, "invalid_token")
    assert db.query("SELECT count(*), bool_and(revoked_at IS NULL) "
                    "FROM api_keys")[0] == (1, True)


# --- input -------------------------------------------------------------

BAD_CREATE = [
    ({}, "missing_field", "name"),
    ({"name": ""}, "invalid_value", "name"),
    ({"name": "x" * 101}, "invalid_value", "name"),
    ({"name": "a\nb"}, "invalid_value", "name"),
    ({"name": 5}, "invalid_value", "name"),
    ({"name": "a", "expires_at": "2001-01-01T00:00:00Z"}, "invalid_value",
     "expires_at"),
    ({"name": "a", "expires_at": "soon"}, "invalid_value", "expires_at"),
    ({"name": "a", "allowed_models": "openai:*"}, "invalid_value",
     "allowed_models"),
    ({"name": "a", "allowed_models": ["has space"]}, "invalid_value",
     "allowed_models"),
    ({"name": "a", "allowed_models": ["*x"]}, "invalid_value",
     "allowed_models"),
    ({"name": "a", "allowed_models": ["m%d" % i for i in range(33)]},
     "invalid_value", "allowed_models"),
    ({"name": "a", "spend_limit_micros": -1}, "invalid_value",
     "spend_limit_micros"),
    ({"name": "a", "spend_limit_micros": 1.5}, "invalid_value",
     "spend_limit_micros"),
    ({"name": "a", "spend_limit_micros": "100"}, "invalid_value",
     "spend_limit_micros"),
    ({"name": "a", "disabled": True}, "unknown_parameter", "disabled"),
    ({"name": "a", "key": "tg_mine"}, "unknown_parameter", "key"),
]


def test_bad_input_is_400_and_changes_nothing(server, db):
    u = User(server)
    kid = u.new_key(name="keep")["id"]
    for body, code, param in BAD_CREATE:
        assert_error(u.create(**body) if body else
                     server.post("/api/keys", json={}, headers=u.h),
                     400, code, param)
    for raw in (b"", b"{", b"[]", b"null", b'{"name":"a","name":"b"}',
                b"\xff\xfe"):
        assert_error(server.post("/api/keys", data=raw, headers=dict(
            u.h, **{"content-type": "application/json"})), 400,
            "invalid_json")
    for body, param in (({"expires_at": None}, "expires_at"),
                        ({"disabled": "yes"}, "disabled"),
                        ({"name": None}, "name"),
                        ({"allowed_models": [1]}, "allowed_models")):
        err = assert_error(u.patch(kid, body), 400,
                           "unknown_parameter" if param == "expires_at"
                           else "invalid_value", param)
        assert err["type"] == "invalid_request_error"
    assert_error(u.list("?limit=0"), 400, "invalid_value", "limit")
    assert_error(u.list("?limit=abc"), 400, "invalid_value", "limit")
    assert_error(u.list("?cursor=xyz"), 400, "invalid_value", "cursor")
    assert_error(server.post("/api/keys", json={"name": "x" * 20000},
                             headers=u.h), 413, "body_too_large")

    rows = db.query("SELECT name FROM api_keys")
    assert rows == [("keep",)]


# --- listing -----------------------------------------------------------

def test_listing_is_newest_first_with_cursor_pages(server, db):
    u = User(server)
    other = User(server)
    other.new_key(name="not mine")
    made = [u.new_key(name="k%d" % i)["id"] for i in range(7)]
    # Same created_at for several keys must not lose or repeat any.
    db.query("UPDATE api_keys SET created_at = date_trunc('second', now()) "
             "WHERE name IN ('k2', 'k3', 'k4')")

    seen, cursor, pages = [], None, 0
    while True:
        r = u.list("?limit=3" + ("&cursor=" + cursor if cursor else ""))
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= 3
        seen += [k["id"] for k in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(made) and len(set(seen)) == 7
    full = u.list("?limit=100").json()["data"]
    assert [k["id"] for k in full] == seen
    stamps = [(k["created_at"], k["id"]) for k in full]
    assert [s[0] for s in stamps] == sorted((s[0] for s in stamps),
                                            reverse=True)
    assert len(u.list().json()["data"]) == 7


# --- the per-user limit ------------------------------------------------

def test_live_key_limit_is_enforced_atomically(tollgate, db):
    server = tollgate(env={"TOLLGATE_MAX_KEYS_PER_USER": "3"}, workers=2)
    u = User(server)
    ids = [u.new_key(name="k%d" % i)["id"] for i in range(3)]
    err = assert_error(u.create(name="one too many"), 400,
                       "key_limit_reached")
    assert "3" in err["message"]

    # Revoked (and expired) keys do not count.
    assert u.delete(ids[0]).status_code == 200
    u.new_key(name="replacement")
    assert_error(u.create(name="again"), 400, "key_limit_reached")

    # Concurrent creations for one user: exactly the room left is used.
    v = User(server)
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda i: v.create(name="c%d" % i)
                              .status_code, range(12)))
    assert sorted(codes) == [201] * 3 + [400] * 9
    assert db.query("SELECT count(*) FROM api_keys WHERE user_id = %s "
                    "AND revoked_at IS NULL", v.id)[0][0] == 3


# --- changes through the API reach every worker -------------------------

def test_api_revocation_reaches_every_worker_of_two_processes(db, tollgate):
    a = tollgate(workers=3, env=SHARED)
    b = tollgate(workers=3, env=SHARED)
    u = User(a)
    doc = u.new_key(name="shared")
    warm([a, b], doc["key"], 3)
    start = time.time()
    r = requests.delete(b.url + "/api/keys/" + doc["id"], headers=u.h,
                        timeout=10)
    assert r.status_code == 200
    poll_until_refused([a, b], doc["key"], start, 3)


def test_api_changes_reach_cached_workers(db, tollgate):
    a = tollgate(workers=2, env=SHARED)
    b = tollgate(workers=2, env=SHARED)
    u = User(a)
    doc = u.new_key(name="m", allowed_models=["openai:*"])
    warm([a, b], doc["key"], 2)
    start = time.time()
    r = requests.patch(b.url + "/api/keys/" + doc["id"], headers=u.h,
                       json={"allowed_models": ["anthropic:*"],
                             "spend_limit_micros": 7}, timeout=10)
    assert r.status_code == 200
    time.sleep(max(0.0, start + 1.0 - time.time()))
    seen = {a.url: set(), b.url: set()}
    while any(len(v) < 2 for v in seen.values()):
        assert time.time() - start < 10, seen
        for s in (a, b):
            for ans in burst(s, "/v1/key", doc["key"], 32):
                assert ans.status == 200
                got = json.loads(ans.body)
                assert got["allowed_models"] == ["anthropic:*"], got
                assert got["spend_limit_micros"] == 7
                seen[s.url].add(ans.worker)
