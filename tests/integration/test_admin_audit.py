"""The audit trail is complete (docs/admin.md, "The audit trail"): every
admin action, whichever module's route does it, writes one row naming the
actor: the admin, and the admin token when it was done with one. Rows can
be neither forged nor rewritten by the application role."""

import uuid

import psycopg2.errors
import pytest
import requests

from fakes.stripe_fake import StripeFake
from lib import admin, auth, billing
from lib.pg import APP_ROLE


@pytest.fixture
def fake():
    f = StripeFake()
    yield f
    f.stop()


def paid_payment(db, srv, fake):
    user = billing.seed_user(db)
    p = billing.seed_payment(db, user)
    sid = fake.new_session(p["payment_id"], p["price_minor"], p["currency"])
    billing.attach_session(db, p["payment_id"], sid)
    r = fake.send(srv, fake.session_completed(fake.pay(sid)))
    assert r.json()["outcome"] == "processed", r.text
    return p["payment_id"]


def newest(srv, token):
    r = requests.get(srv.url + "/api/admin/audit?limit=1",
                     headers=auth.bearer(token), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"][0]


@pytest.mark.parametrize("way", ["session", "token"])
def test_every_admin_action_is_audited_with_its_actor(db, tollgate, fake,
                                                      way):
    srv = tollgate(env=dict(fake.env(), **admin.ENV))
    tok = admin.sign_in(srv)
    admin_id = auth.user_id(srv, tok)
    t = admin.create_token(srv, tok, "ops")
    bearer = tok if way == "session" else t["token"]
    actor = {"user_id": admin_id, "email": admin.ADMIN_EMAIL,
             "token_id": None, "token_name": None}
    if way == "token":
        actor.update(token_id=t["id"], token_name="ops")

    user = auth.sign_in(srv, "carol@example.com").user_id
    package = str(uuid.uuid4())
    payment = paid_payment(db, srv, fake)
    h = auth.bearer(bearer)
    u = srv.url

    # (request, expected action, expected target)
    actions = [
        (lambda: requests.post(u + "/api/admin/tokens", headers=h,
                               json={"name": "another"}, timeout=30),
         "admin_token.create", None),
        (lambda: requests.delete(u + "/api/admin/tokens/%s" % other["id"],
                                 headers=h, timeout=30),
         "admin_token.revoke", lambda: other["id"]),
        (lambda: requests.patch(u + "/api/admin/users/%s" % user, headers=h,
                                json={"status": "suspended"}, timeout=30),
         "user.suspend", lambda: user),
        (lambda: requests.patch(u + "/api/admin/users/%s" % user, headers=h,
                                json={"status": "active"}, timeout=30),
         "user.reinstate", lambda: user),
        (lambda: requests.post(u + "/api/admin/users/%s/credits" % user,
                               headers=h, timeout=30,
                               json={"amount_micros": 5000, "reason": "gift",
                                     "idempotency_key": "g-" + way}),
         "credits.admin_grant", lambda: user),
        (lambda: requests.post(u + "/api/admin/users/%s/credits" % user,
                               headers=h, timeout=30,
                               json={"amount_micros": -2000, "reason": "fix",
                                     "idempotency_key": "a-" + way}),
         "credits.admin_adjustment", lambda: user),
        (lambda: requests.put(u + "/api/admin/prices/echo:audit-1",
                              headers=h, timeout=30,
                              json={"input_micros_per_mtok": 7,
                                    "output_micros_per_mtok": 9}),
         "price.set", lambda: "echo:audit-1"),
        (lambda: requests.put(u + "/api/admin/packages/%s" % package,
                              headers=h, timeout=30,
                              json={"name": "audit", "price_minor": 500,
                                    "currency": "usd",
                                    "credits_micros": 5000000}),
         "package.put", lambda: package),
        (lambda: requests.post(u + "/api/admin/payments/%s/refund" % payment,
                               headers=h, json={"amount_minor": 100},
                               timeout=30),
         "payment.refund", lambda: payment),
    ]
    other = None
    for send, action, target in actions:
        n = db.query("SELECT count(*) FROM admin_audit")[0][0]
        r = send()
        assert r.status_code in (200, 201), (action, r.text)
        if action == "admin_token.create":
            other = r.json()
        assert db.query("SELECT count(*) FROM admin_audit")[0][0] == n + 1, \
            action
        row = newest(srv, tok)
        assert row["action"] == action
        if target is not None:
            assert row["target"] == target(), action
        assert row["actor"] == actor, action
        assert row["after"] is not None, action


def test_audit_rows_cannot_be_forged_or_rewritten(db, tollgate):
    srv = tollgate(env=admin.ENV)
    admin.create_token(srv, admin.sign_in(srv))
    app = db.connect(APP_ROLE)
    try:
        for sql in ("INSERT INTO admin_audit (action) VALUES ('x.forged')",
                    "UPDATE admin_audit SET action = 'x.y'",
                    "DELETE FROM admin_audit",
                    "INSERT INTO admin_tokens (name, token_hash, prefix, "
                    "created_by) SELECT 'x', sha256('x'), 'tga_abcdef', "
                    "created_by FROM admin_tokens LIMIT 1",
                    "UPDATE admin_tokens SET revoked_at = NULL"):
            with app.cursor() as cur:
                cur.execute("BEGIN")
                try:
                    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                        cur.execute(sql)
                finally:
                    cur.execute("ROLLBACK")
    finally:
        app.close()
    assert db.query("SELECT action FROM admin_audit") == \
        [("admin_token.create",)]


def test_functions_pin_search_path_with_pg_temp_last(db):
    """A SECURITY DEFINER function whose search_path leaves out pg_temp
    searches the caller's temporary schema first (PostgreSQL's docs)."""
    bad = db.query(
        "SELECT p.oid::regprocedure::text, c FROM pg_proc p, "
        "unnest(p.proconfig) c WHERE p.pronamespace = "
        "'public'::regnamespace AND c LIKE 'search_path=%%' AND "
        "c NOT LIKE '%%, pg_temp'")
    assert bad == []
    assert db.query(
        "SELECT count(*) FROM pg_proc p, unnest(p.proconfig) c WHERE "
        "p.proname = 'admin_user_set_status' AND "
        "c = 'search_path=public, pg_temp'") == [(1,)]
