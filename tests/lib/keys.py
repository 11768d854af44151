"""API keys for tests.

seed_key() writes a user and a key straight into the database in the
storage format of docs/contract.md §4 (public id + keyed BLAKE2b-256 digest, the
hashing key being BLAKE2b-256 of TOLLGATE_KEY_PEPPER), for tests of other
subsystems that need a working key before or without the key-management
API. Tests of the keys API itself create keys through the API."""

import collections
import hashlib
import http.client
import re
import secrets
import time
import uuid
import zlib

import requests

from lib.server import TEST_KEY_PEPPER

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _rand62(n):
    return "".join(secrets.choice(B62) for _ in range(n))


def checksum(s):
    crc = zlib.crc32(s.encode())
    out = ""
    for _ in range(6):
        out = B62[crc % 62] + out
        crc //= 62
    return out


def make_key():
    """A fresh well-formed key and its public id."""
    public_id = _rand62(12)
    body = "tg_%s_%s" % (public_id, _rand62(40))
    return body + checksum(body), public_id


def digest(key, pepper=TEST_KEY_PEPPER):
    hashkey = hashlib.blake2b(pepper.encode(), digest_size=32).digest()
    return hashlib.blake2b(key.encode(), key=hashkey, digest_size=32).digest()


def seed_user(db, email=None, is_admin=False):
    uid = str(uuid.uuid4())
    db.query("INSERT INTO users (id, email, email_verified, is_admin) "
             "VALUES (%s, %s, true, %s)", uid,
             email or ("%s@example.com" % uid[:8]), is_admin)
    return uid


def seed_key(db, user_id=None, name="test", allowed_models=None,
             spend_limit_micros=None, disabled=False, expires_at=None,
             revoked=False, pepper=TEST_KEY_PEPPER, key=None):
    """Returns (key, user_id, key_id). key: a key from make_key() to
    store (default: a new one)."""
    if user_id is None:
        user_id = seed_user(db)
    if key is None:
        key, public_id = make_key()
    else:
        public_id = key[3:15]
    rows = db.query(
        "INSERT INTO api_keys (user_id, public_id, digest, name, last4, "
        "allowed_models, spend_limit_micros, disabled, expires_at, "
        "revoked_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "CASE WHEN %s THEN now() END) RETURNING id",
        user_id, public_id, digest(key, pepper), name, key[-4:],
        list(allowed_models or []), spend_limit_micros, disabled,
        expires_at, revoked)
    return key, user_id, str(rows[0][0])


def auth(key):
    return {"authorization": "Bearer " + key}


def flip(key, i):
    """key with its i-th character changed (still base62)."""
    c = key[i]
    return key[:i] + ("b" if c == "a" else "a") + key[i + 1:]


def with_secret(public_id):
    """A well-formed key (valid checksum) for public_id, random secret."""
    body = "tg_%s_%s" % (public_id, _rand62(40))
    return body + checksum(body)


# --- observing a running tollgate -------------------------------------

LOOKUP_SQL = "FROM api_keys k JOIN users u ON u.id = k.user_id"


class StatementLog:
    """Counts the key lookups PostgreSQL executes for one database.

    Turns on log_statement=all for that database only (new sessions
    pick it up: start tollgate afterwards) and reads the cluster's log
    from a mark onwards. Tests in one session run one after another, so
    the lines after the mark are this test's."""

    def __init__(self, pg, db):
        self.pg = pg
        pg.admin("ALTER DATABASE %s SET log_statement = 'all'" % db.name)
        self.pos = 0
        self.mark()

    def mark(self):
        with open(self.pg.log, "rb") as f:
            f.seek(0, 2)
            self.pos = f.tell()

    def text(self):
        with open(self.pg.log, "rb") as f:
            f.seek(self.pos)
            return f.read().decode(errors="replace")

    def lookups(self):
        return sum(1 for line in self.text().splitlines()
                   if "execute" in line and LOOKUP_SQL in line)


def _worker_in(log, request_id):
    m = re.search(r"\[wrk (\d+)\]: access rid=%s " % re.escape(request_id),
                  log)
    return int(m.group(1)) if m else None


def worker_of(server, request_id):
    """The worker number that answered request_id (from its log), or None."""
    return _worker_in(server.log(), request_id)


Answer = collections.namedtuple("Answer", "worker status body")


def fresh_get(server, path, key, rid=None, header="authorization"):
    """One request on its own connection (so any worker may take it)."""
    h = {"connection": "close"}
    if rid:
        h["x-request-id"] = rid
    if key is not None:
        if header == "authorization":
            h["authorization"] = "Bearer " + key
        else:
            h[header] = key
    return requests.get(server.url + path, headers=h, timeout=10)


def burst(server, path, key, n=48):
    """n requests on n connections that are all open before any request
    is sent. Kore's accept lock hands over to the next worker after 16
    accepts in one wakeup, so a burst of connections reaches several
    workers. Returns [Answer(worker, status, body)]."""
    conns = []
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        c.connect()
        conns.append(c)
    out = []
    rids = []
    for c in conns:
        rid = "burst-" + uuid.uuid4().hex
        rids.append(rid)
        c.request("GET", path, headers={"authorization": "Bearer " + key,
                                        "x-request-id": rid})
    statuses, bodies = [], []
    for c in conns:
        r = c.getresponse()
        bodies.append(r.read().decode(errors="replace"))
        statuses.append(r.status)
        c.close()
    log = server.log()
    for rid, st, body in zip(rids, statuses, bodies):
        out.append(Answer(_worker_in(log, rid), st, body))
    return out


def warm(servers, key, workers, timeout=15, tolerate_503=False,
         path="/v1/key"):
    """Use key on every worker of every server (so each caches it).
    After a PostgreSQL restart, pooled connections fail once each (503)
    before the pool is fresh again: tolerate_503."""
    seen = {s.url: set() for s in servers}
    deadline = time.time() + timeout
    while time.time() < deadline:
        for s in servers:
            for w, st, _ in burst(s, path, key):
                if st == 503 and tolerate_503:
                    continue
                assert st == 200, (st, _)
                seen[s.url].add(w)
        if all(len(v) == workers for v in seen.values()):
            return
    raise AssertionError("not every worker served the key: %r" % seen)


def poll_until_refused(servers, key, start, workers, deadline_s=1.0,
                       status=401, timeout=10, path="/v1/key"):
    """Bursts at every server from `start` on. Every request answered
    after deadline_s must be refused (status), and the test goes on until
    such answers have come from every worker of every server (workers:
    the count of each, or a list in the order of servers)."""
    if not isinstance(workers, (list, tuple)):
        workers = [workers] * len(servers)
    need = {s.url: n for s, n in zip(servers, workers)}
    late = {s.url: set() for s in servers}
    while not all(len(late[u]) >= n for u, n in need.items()):
        assert time.time() - start < timeout, late
        for s in servers:
            res = burst(s, path, key)
            t = time.time() - start
            if t <= deadline_s:
                continue
            bad = [r[:2] for r in res if r.status != status]
            assert not bad, "accepted %.2fs after the change: %r" % (t, bad)
            late[s.url].update(r.worker for r in res)
