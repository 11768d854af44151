"""API keys for tests.

seed_key() writes a user and a key straight into the database in the
storage format of CONTRACT §4 (public id + keyed BLAKE2b-256 digest, the
hashing key being BLAKE2b-256 of TOLLGATE_KEY_PEPPER), for tests of other
subsystems that need a working key before or without the key-management
API. Tests of the keys API itself create keys through the API."""

import hashlib
import secrets
import uuid
import zlib

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
             revoked=False, pepper=TEST_KEY_PEPPER):
    """Returns (key, user_id, key_id)."""
    if user_id is None:
        user_id = seed_user(db)
    key, public_id = make_key()
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
