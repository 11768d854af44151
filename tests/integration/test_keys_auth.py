"""API-key authentication of the router routes (docs/contract.md §3, §4, §7).

Keys are seeded straight into the database here (lib.keys.seed_key) or
changed with SQL, which is what the key-management API does underneath;
the API's own tests are in test_keys_api.py. GET /v1/key answers for the
calling key, so it exercises exactly the authentication the router's
routes get."""

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2

from lib.errors import assert_error
from lib.keys import (StatementLog, auth, flip, fresh_get, make_key,
                      poll_until_refused, seed_key, seed_user, warm,
                      with_secret)


def assert_refused(r, status=401, code="invalid_api_key"):
    err = assert_error(r, status, code)
    assert err["type"] == ("authentication_error" if status == 401
                           else "permission_error")
    return err


def metric_values(server):
    out = {}
    for line in server.get("/metrics").text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


# --- the front door ---------------------------------------------------

def test_valid_key_authenticates_and_carries_its_limits(db, server):
    key, uid, kid = seed_key(db, allowed_models=["anthropic:*", "fast"],
                             spend_limit_micros=5000000)
    r = server.get("/v1/key", headers=auth(key))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == kid
    assert doc["prefix"] == key[:15]
    assert doc["allowed_models"] == ["anthropic:*", "fast"]
    assert doc["spend_limit_micros"] == 5000000
    assert key not in r.text
    # The same through x-api-key (Anthropic SDKs) and a lowercase scheme.
    assert fresh_get(server, "/v1/key", key, header="x-api-key") \
        .status_code == 200
    assert server.get("/v1/key", headers={
        "authorization": "bearer " + key}).status_code == 200


def test_missing_and_malformed_keys_are_401(db, server):
    key, _, _ = seed_key(db)
    bad = [None, "", "tg_", key[:-1], key + "x", "sk-" + key[3:],
           key.replace("_", "-", 1), key[:20] + "!" + key[21:],
           "Bearer", "tg_" + "a" * 100, flip(key, 5), flip(key, 30)]
    for k in bad:
        assert_refused(fresh_get(server, "/v1/key", k))
    # A key in the query string is not a key.
    assert_refused(server.get("/v1/key?api_key=" + key))
    # A Basic header with the key is not a bearer token either.
    assert_refused(server.get("/v1/key",
                              headers={"authorization": "Basic " + key}))


def test_unknown_revoked_expired_wrong_secret_and_deleted_user(db, server):
    unknown, _ = make_key()
    assert_refused(server.get("/v1/key", headers=auth(unknown)))

    revoked, _, _ = seed_key(db, revoked=True)
    assert_refused(server.get("/v1/key", headers=auth(revoked)))

    expired, _, _ = seed_key(db, expires_at="2001-01-01T00:00:00Z")
    assert_refused(server.get("/v1/key", headers=auth(expired)))

    # Right public id, wrong secret (valid checksum): cold and warm.
    good, _, _ = seed_key(db)
    other = with_secret(good[3:15])
    assert_refused(server.get("/v1/key", headers=auth(other)))
    assert server.get("/v1/key", headers=auth(good)).status_code == 200
    assert_refused(server.get("/v1/key", headers=auth(other)))

    # The same message for every one of them: no hint of which.
    msgs = {server.get("/v1/key", headers=auth(k)).json()["error"]["message"]
            for k in (unknown, revoked, expired, other)}
    assert len(msgs) == 1

    uid = seed_user(db)
    gone, _, _ = seed_key(db, user_id=uid)
    db.query("UPDATE users SET status = 'deleted', deleted_at = now() "
             "WHERE id = %s", uid)
    assert_refused(server.get("/v1/key", headers=auth(gone)))


def test_disabled_key_is_403(db, server):
    key, _, _ = seed_key(db, disabled=True)
    err = assert_refused(server.get("/v1/key", headers=auth(key)), 403,
                         "key_disabled")
    assert "disabled" in err["message"]
    # Wrong secret for a disabled key: still 401, not a hint.
    assert_refused(server.get("/v1/key", headers=auth(with_secret(key[3:15]))))


def test_expiry_applies_to_cached_keys(db, server):
    key, _, _ = seed_key(db)
    db.query("UPDATE api_keys SET expires_at = now() + interval '2 seconds'")
    assert server.get("/v1/key", headers=auth(key)).status_code == 200
    time.sleep(2.2)
    # No change was announced: the cached entry itself knows its expiry.
    assert_refused(server.get("/v1/key", headers=auth(key)))


# --- no database work for malformed keys ------------------------------

def test_flipped_checksum_is_refused_without_a_query(pg, db, tollgate):
    log = StatementLog(pg, db)
    server = tollgate()
    key, _, _ = seed_key(db)       # never used yet: not in any cache

    log.mark()
    for i in range(len(key) - 6, len(key)):
        assert_refused(server.get("/v1/key", headers=auth(flip(key, i))))
    time.sleep(0.3)
    assert log.lookups() == 0

    # The control: the same key, intact, costs exactly one lookup.
    log.mark()
    assert server.get("/v1/key", headers=auth(key)).status_code == 200
    time.sleep(0.3)
    assert log.lookups() == 1


def test_malformed_key_needs_no_database_at_all(pg, db, tollgate):
    server = tollgate()
    key, _, _ = seed_key(db)
    unknown, _ = make_key()
    pg.stop()
    try:
        # A well-formed key must be looked up: the database is away.
        r = server.get("/v1/key", headers=auth(unknown))
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable"
        assert r.headers.get("retry-after")
        # A flipped checksum never gets that far.
        assert_refused(server.get("/v1/key", headers=auth(flip(key, -1))))
        assert_refused(server.get("/v1/key", headers=auth("tg_nonsense")))
    finally:
        pg.start()
    # And back: the next requests succeed without a restart of tollgate.
    deadline = time.time() + 10
    while time.time() < deadline:
        if server.get("/v1/key", headers=auth(key)).status_code == 200:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("key not accepted after PostgreSQL came back")


# --- forged keys: the same work for an unknown id and a wrong secret --

DB = 'tollgate_api_key_auth_total{source="database"}'
NEG = 'tollgate_api_key_auth_total{source="negative_cache"}'
VERIFY = "tollgate_api_key_verifications_total"


def feed_ready(server, key):
    """Until the worker's change feed listens (its caches are used only
    then): a known key answered from the cache shows it."""
    deadline = time.time() + 10
    while time.time() < deadline:
        before = metric_values(server)['tollgate_api_key_auth_total'
                                       '{source="cache"}']
        assert server.get("/v1/key", headers=auth(key)).status_code == 200
        if metric_values(server)['tollgate_api_key_auth_total'
                                 '{source="cache"}'] > before:
            return
        time.sleep(0.1)
    raise AssertionError("the key feed never became ready")


def work(server, key):
    """(database lookups, negative-cache hits, digest comparisons) one
    request with key cost, and its answer."""
    m0 = metric_values(server)
    r = server.get("/v1/key", headers=auth(key))
    m1 = metric_values(server)
    return tuple(int(m1[k] - m0[k]) for k in (DB, NEG, VERIFY)), r


def test_unknown_id_and_wrong_secret_do_the_same_work(pg, db, tollgate):
    log = StatementLog(pg, db)      # before the server's connections
    server = tollgate()
    known, _, _ = seed_key(db)
    feed_ready(server, known)
    unknown, _ = make_key()
    wrong = with_secret(known[3:15])

    log.mark()
    # A forged, well-formed key with an unknown id: one lookup and one
    # comparison (against a dummy digest), then, within 10 s, no lookup.
    cost, r1 = work(server, unknown)
    assert cost == (1, 0, 1)
    cost, r2 = work(server, unknown)
    assert cost == (0, 1, 1)
    # A wrong secret for a known (cached) id: one comparison.
    cost, r3 = work(server, wrong)
    assert cost == (0, 0, 1)
    # All three refusals look the same.
    for r in (r1, r2, r3):
        assert_refused(r)
    assert r1.json() == r2.json() == r3.json()
    # PostgreSQL's own count agrees.
    time.sleep(0.3)
    assert log.lookups() == 1

    # The control: a valid key costs one comparison too.
    cost, r = work(server, known)
    assert cost == (0, 0, 1) and r.status_code == 200


def test_negative_cache_expires(db, server):
    known, _, _ = seed_key(db)
    feed_ready(server, known)
    unknown, _ = make_key()
    assert work(server, unknown)[0] == (1, 0, 1)
    time.sleep(10.2)
    assert work(server, unknown)[0] == (1, 0, 1)


def test_key_created_after_a_forged_try_works_at_once(db, tollgate):
    # Two processes have an id in their negative caches; creating a key
    # with that id announces it (NOTIFY), so both accept it at once, not
    # after the cache's 10 s.
    a = tollgate(workers=1)
    b = tollgate(workers=1)
    known, _, _ = seed_key(db)
    for s in (a, b):
        feed_ready(s, known)
    key, _ = make_key()
    for s in (a, b):
        assert work(s, key)[0] == (1, 0, 1)
        assert work(s, key)[0] == (0, 1, 1)
    start = time.time()
    seed_key(db, key=key)
    for s in (a, b):
        while True:
            r = s.get("/v1/key", headers=auth(key))
            if r.status_code == 200:
                break
            assert_refused(r)
            assert time.time() - start < 2, "not found 2 s after creation"
            time.sleep(0.02)


# --- the cache and its invalidation -----------------------------------

def test_cache_spares_the_database(pg, db, tollgate):
    log = StatementLog(pg, db)
    server = tollgate(workers=2)
    key, _, _ = seed_key(db)
    warm([server], key, 2)
    log.mark()
    warm([server], key, 2)      # again: every worker, all from cache
    time.sleep(0.3)
    assert log.lookups() == 0
    m = metric_values(server)
    assert m['tollgate_api_key_auth_total{source="cache"}'] >= 48
    assert m['tollgate_api_key_auth_total{source="database"}'] >= 2


def test_revocation_reaches_every_worker_of_every_process(pg, db, tollgate):
    log = StatementLog(pg, db)
    a = tollgate(workers=3)
    b = tollgate(workers=3)
    key, uid, kid = seed_key(db)
    warm([a, b], key, 3)

    # Cached everywhere: no more lookups while it is used.
    log.mark()
    warm([a, b], key, 3)
    time.sleep(0.2)
    assert log.lookups() == 0

    db.query("UPDATE api_keys SET revoked_at = now() WHERE id = %s", kid)
    poll_until_refused([a, b], key, time.time(), 3)
    for s in (a, b):        # one notice per worker
        assert metric_values(s)["tollgate_api_key_notices_total"] >= 3


def test_disable_and_user_deletion_reach_cached_workers(db, tollgate):
    a = tollgate(workers=2)
    b = tollgate(workers=2)
    key, uid, kid = seed_key(db)
    key2, _, _ = seed_key(db, user_id=uid)
    warm([a, b], key, 2)
    warm([a, b], key2, 2)

    db.query("UPDATE api_keys SET disabled = true WHERE id = %s", kid)
    poll_until_refused([a, b], key, time.time(), 2, status=403)

    # Closing the account (what DELETE /api/me does) revokes every key.
    db.query("UPDATE users SET status = 'deleted', deleted_at = now() "
             "WHERE id = %s", uid)
    assert db.query("SELECT count(*) FROM api_keys WHERE user_id = %s "
                    "AND revoked_at IS NULL", uid)[0][0] == 0
    poll_until_refused([a, b], key2, time.time(), 2)


def test_feed_recovers_after_postgresql_restart(pg, db, tollgate):
    server = tollgate(workers=2)
    key, _, kid = seed_key(db)
    warm([server], key, 2)

    pg.stop()
    time.sleep(0.5)
    pg.start()
    # Every worker notices, turns its cache off, and listens again.
    deadline = time.time() + 15
    while time.time() < deadline:
        if server.log().count("keys listener: listening again") >= 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("listeners did not come back:\n" + server.log())

    warm([server], key, 2, tolerate_503=True)
    db.query("UPDATE api_keys SET revoked_at = now() WHERE id = %s", kid)
    poll_until_refused([server], key, time.time(), 2)


def test_cache_is_off_while_the_feed_is_down(pg, db, tollgate):
    """Notices sent while a worker is not listening are lost; the cache
    must not outlive them. The listener is cut off here by terminating
    its backend, and the key revoked before it reconnects."""
    server = tollgate(workers=1)
    key, _, kid = seed_key(db)
    warm([server], key, 1)
    c = psycopg2.connect(host=pg.sock, dbname=db.name, user="postgres")
    try:
        c.autocommit = True
        cur = c.cursor()
        # Revoke and kill the listener in one go: its notice is sent at
        # COMMIT, when nobody listens any more.
        cur.execute("BEGIN")
        cur.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s",
                    (kid,))
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM "
                    "pg_stat_activity WHERE application_name = "
                    "'tollgate-keys-listener' AND datname = %s",
                    (db.name,))
        assert cur.fetchone()[0] == 1
        cur.execute("COMMIT")
    finally:
        c.close()
    poll_until_refused([server], key, time.time(), 1)


# --- last_used_at -----------------------------------------------------

def add_touch_log(db):
    db.query("CREATE TABLE touch_log (key_id uuid, at timestamptz "
             "DEFAULT clock_timestamp())")
    db.query("ALTER TABLE touch_log OWNER TO tollgate")
    db.query("""CREATE FUNCTION log_touch() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN INSERT INTO touch_log (key_id) VALUES (NEW.id);
                RETURN NULL; END $$""")
    db.query("CREATE TRIGGER log_touch AFTER UPDATE ON api_keys FOR EACH ROW "
             "WHEN (OLD.last_used_at IS DISTINCT FROM NEW.last_used_at) "
             "EXECUTE FUNCTION log_touch()")


def test_last_used_at_is_written_at_most_once_a_minute(db, tollgate):
    add_touch_log(db)
    a = tollgate(workers=2)
    b = tollgate(workers=2)
    key, _, kid = seed_key(db)
    assert db.query("SELECT last_used_at FROM api_keys WHERE id = %s",
                    kid)[0][0] is None

    t0 = time.time()
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda s: fresh_get(s, "/v1/key", key)
                              .status_code, [a, b] * 150))
    assert set(codes) == {200}
    time.sleep(1.0)
    rows = db.query("SELECT count(*), max(at) FROM touch_log")
    assert rows[0][0] == 1
    last = db.query("SELECT extract(epoch FROM now() - last_used_at) "
                    "FROM api_keys WHERE id = %s", kid)[0][0]
    assert 0 <= float(last) < time.time() - t0 + 1


def test_locked_key_row_holds_back_neither_requests_nor_notices(
        pg, db, tollgate):
    server = tollgate(workers=1)
    key, _, kid = seed_key(db)
    other, _, other_id = seed_key(db)
    warm([server], other, 1)

    c = psycopg2.connect(host=pg.sock, dbname=db.name, user="postgres")
    try:
        cur = c.cursor()
        cur.execute("SELECT 1 FROM api_keys WHERE id = %s FOR UPDATE",
                    (kid,))
        # First use of key: lookup, then a touch of a locked row.
        t = time.time()
        for _ in range(3):
            assert server.get("/v1/key", headers=auth(key),
                              timeout=3).status_code == 200
        assert time.time() - t < 2
        # The feed is not stuck behind that row: a revoke still lands.
        db.query("UPDATE api_keys SET revoked_at = now() WHERE id = %s",
                 other_id)
        poll_until_refused([server], other, time.time(), 1)
    finally:
        c.rollback()
        c.close()
