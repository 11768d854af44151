"""The database roles (docs/operations.md, "Database roles"): the owner
runs the migrations and owns everything; the application role tollgate
connects as reads, writes the tables that hold no money, and changes money
only through the owner's SECURITY DEFINER functions. Connected as the
application role, every way of rewriting the ledger is refused; tollgate
itself still signs up, charges, sweeps and closes accounts."""

import os
import re
import shutil
import subprocess
import tempfile
import uuid

import psycopg2
import psycopg2.errors
import pytest
import requests

from lib.auth import bearer, sign_in
from lib.credits import check_ledger, grant, settled
from lib.pg import APP_ROLE, OWNER_ROLE
from lib.server import ROOT

# Every table holding money state, named here independently of the
# migrations' own rule (sql/0490_roles.sql).
MONEY = ["ledger_accounts", "ledger_entries", "ledger_transactions",
         "credit_holds", "credit_hold_cancels", "credit_leases",
         "usage_records", "model_prices", "billing_packages",
         "billing_payments", "billing_events"]
BOOKKEEPING = ["schema_migrations"]
APP_WRITES = ["users", "identities", "sessions", "refresh_tokens",
              "oauth_flows", "profiles", "api_keys"]


def protected(db):
    """MONEY and BOOKKEEPING, plus whatever later migrations protect."""
    rows = db.query("SELECT c.relname FROM pg_class c WHERE "
                    "c.relnamespace = 'public'::regnamespace AND "
                    "c.relkind = 'r' AND tg_roles_protected(c.relname)")
    return sorted(set(MONEY + BOOKKEEPING) | {r[0] for r in rows})


def refused(conn, sql):
    """Runs sql as conn's role; True when PostgreSQL refused it for want
    of a privilege (nothing else: a constraint error would mean the
    statement got through). Rolled back either way."""
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        try:
            cur.execute(sql)
        except psycopg2.errors.InsufficientPrivilege:
            return True
        finally:
            cur.execute("ROLLBACK")
    return False


def first_column(db, table):
    return db.query("SELECT attname FROM pg_attribute WHERE attrelid = "
                    "%s::regclass AND attnum > 0 AND NOT attisdropped "
                    "ORDER BY attnum LIMIT 1", table)[0][0]


def some_trigger(db, table):
    rows = db.query("SELECT tgname FROM pg_trigger WHERE tgrelid = "
                    "%s::regclass AND NOT tgisinternal LIMIT 1", table)
    return rows[0][0] if rows else None


@pytest.fixture
def funded(db):
    """A user with a ledger (a grant), a price, so no table is empty."""
    uid = db.query("INSERT INTO users (email) VALUES ('roles@example.com') "
                   "RETURNING id")[0][0]
    assert grant(db, uid, 10 ** 6)[0] == "ok"
    return uid


def test_app_role_cannot_write_or_alter_money_tables(db, funded):
    app = db.connect(APP_ROLE)
    try:
        failures = []
        for t in protected(db):
            col = first_column(db, t)
            statements = [
                "INSERT INTO %s DEFAULT VALUES" % t,
                "UPDATE %s SET %s = %s" % (t, col, col),
                "DELETE FROM %s" % t,
                "TRUNCATE %s" % t,
                "ALTER TABLE %s DISABLE TRIGGER ALL" % t,
                "ALTER TABLE %s DISABLE TRIGGER USER" % t,
                "ALTER TABLE %s ADD COLUMN x int" % t,
                "ALTER TABLE %s OWNER TO %s" % (t, APP_ROLE),
                "CREATE TRIGGER tg_evil BEFORE INSERT ON %s FOR EACH ROW "
                "EXECUTE FUNCTION ledger_append_only()" % t,
                "LOCK TABLE %s IN EXCLUSIVE MODE" % t,
                "DROP TABLE %s" % t,
            ]
            trigger = some_trigger(db, t)
            if trigger is not None:
                statements.append("DROP TRIGGER %s ON %s" % (trigger, t))
                statements.append("ALTER TABLE %s DISABLE TRIGGER %s" %
                                  (t, trigger))
            for sql in statements:
                if not refused(app, sql):
                    failures.append(sql)
        # The attack the split is about: a cached balance rewritten.
        for sql in ["UPDATE ledger_accounts SET balance = balance + "
                    "1000000000 WHERE user_id = '%s'" % funded,
                    "UPDATE ledger_accounts SET reserved = 0",
                    "SELECT id FROM ledger_accounts FOR UPDATE",
                    "SELECT setval('ledger_entries_id_seq', 1)",
                    "SELECT tg_roles_apply()",
                    "CREATE FUNCTION public.tg_evil() RETURNS int "
                    "LANGUAGE sql AS 'SELECT 1'"]:
            if not refused(app, sql):
                failures.append(sql)
        assert failures == []
    finally:
        app.close()
    # Nothing moved.
    assert db.query("SELECT balance, reserved FROM ledger_accounts WHERE "
                    "user_id = %s AND kind = 'user'", funded) == [(10 ** 6,
                                                                    0)]
    check_ledger(db)


def test_app_role_reads_everything_and_writes_only_the_rest(db, funded):
    app = db.connect(APP_ROLE)
    try:
        with app.cursor() as cur:
            for t in protected(db) + APP_WRITES + ["ledger_user_balances",
                                                    "model_prices_current"]:
                cur.execute("SELECT count(*) FROM %s" % t)
            cur.execute("SELECT count(*) FROM ledger_check()")
            assert cur.fetchone()[0] == 0
            # A table without money keeps its direct writes (profiles
            # here), but the owner's powers stay the owner's.
            cur.execute("INSERT INTO profiles (user_id, display_name) "
                        "VALUES (%s, 'x')", (funded,))
            cur.execute("UPDATE profiles SET display_name = 'y' WHERE "
                        "user_id = %s", (funded,))
            cur.execute("DELETE FROM profiles WHERE user_id = %s", (funded,))
        for t in APP_WRITES:
            assert refused(app, "TRUNCATE %s" % t), t
            assert refused(app, "ALTER TABLE %s DISABLE TRIGGER ALL" % t), t
            assert refused(app, "CREATE TRIGGER tg_evil AFTER INSERT ON %s "
                           "FOR EACH ROW EXECUTE FUNCTION "
                           "ledger_append_only()" % t), t
    finally:
        app.close()
    owners = db.query("SELECT DISTINCT pg_get_userbyid(relowner) FROM "
                      "pg_class WHERE relnamespace = 'public'::regnamespace "
                      "AND relkind IN ('r', 'v', 'S')")
    assert owners == [(OWNER_ROLE,)]
    assert db.query("SELECT pg_get_userbyid(datdba) FROM pg_database "
                    "WHERE datname = current_database()") == [(OWNER_ROLE,)]


# A function that writes or locks rows of a money table, found from its
# source (independently of tg_roles_definer_needed() in the migration).
WRITES = re.compile(r"\b(insert\s+into|update|delete\s+from|merge\s+into|"
                    r"truncate|for\s+(no\s+key\s+)?update|for\s+(key\s+)?"
                    r"share)\s+(only\s+)?(\w+)", re.I)


def money_writers(db):
    """{"name(argtypes)": oid} of the functions that write money."""
    money = set(protected(db))
    found = {}
    for oid, label, src in db.query(
            "SELECT oid, oid::regprocedure::text, prosrc FROM pg_proc "
            "WHERE pronamespace = 'public'::regnamespace AND prokind = 'f'"):
        text = re.sub(r"--[^\n]*", "", src)
        if any(m.group(5).lower() in money for m in WRITES.finditer(text)) \
                or (re.search(r"\bfor\s+(no\s+key\s+)?update\b", text, re.I)
                    and any(re.search(r"\b%s\b" % t, text) for t in money)):
            found[label] = oid
    return found


def test_every_money_writer_runs_as_the_owner(db):
    """CREATE OR REPLACE FUNCTION drops SECURITY DEFINER and SET unless
    written again: every function that writes money tables must have
    both (and the application role must still be able to call it)."""
    writers = money_writers(db)
    for must in ["credits_flush(json,json,integer)",
                 "credits_grant(uuid,bigint,text,text,text,boolean)",
                 "credits_user_status_recall()",
                 "ledger_post(uuid,bigint,bigint)",
                 "billing_checkout_opened(uuid,text,text)"]:
        assert must in writers
    wrong = []
    for label, oid in sorted(writers.items()):
        row = db.query("SELECT p.prosecdef, p.proconfig, "
                       "pg_get_userbyid(p.proowner), "
                       "has_function_privilege(%s, p.oid, 'EXECUTE'), "
                       "p.proacl::text[] FROM pg_proc p WHERE p.oid = %s",
                       APP_ROLE, oid)[0]
        secdef, config, owner, app_may, acl = row
        public_may = any(a.startswith("=") and "X" in a.split("/")[0]
                         for a in (acl or []))
        pinned = "search_path=public, pg_temp" in (config or [])
        if not (secdef and pinned and owner == OWNER_ROLE and app_may and
                not public_may):
            wrong.append((label, row))
    assert wrong == []


def migrations_copy():
    d = tempfile.mkdtemp()
    for f in os.listdir(os.path.join(ROOT, "sql")):
        shutil.copy(os.path.join(ROOT, "sql", f), d)
    return d


def test_a_later_migration_keeps_the_split(pg):
    """A migration after the roles one that replaces a money function
    without SECURITY DEFINER, and adds tables: make migrate leaves the
    function running as the owner, a money table read-only and another
    table writable for the application role."""
    name = pg.create_db("tg_rolesmig_" + uuid.uuid4().hex[:8])
    d = migrations_copy()
    try:
        with open(os.path.join(d, "9999_later.sql"), "w") as f:
            f.write("CREATE OR REPLACE FUNCTION billing_checkout_failed("
                    "p_payment uuid, p_failure text) RETURNS void "
                    "LANGUAGE sql AS $$ UPDATE billing_payments SET "
                    "failure = p_failure WHERE id = p_payment; $$;\n"
                    "CREATE TABLE credit_extras (id int);\n"
                    "CREATE TABLE notes (id serial, body text);\n")
        r = pg.migrate(name, d)
        assert r.returncode == 0, r.stdout + r.stderr
        rows = pg.admin("SELECT prosecdef, proconfig FROM pg_proc WHERE "
                        "proname = 'billing_checkout_failed'", dbname=name)
        assert rows == [(True, ["search_path=public, pg_temp"])]
        app = pg.connect(name, APP_ROLE)
        try:
            assert refused(app, "INSERT INTO credit_extras VALUES (1)")
            with app.cursor() as cur:
                cur.execute("SELECT count(*) FROM credit_extras")
                cur.execute("INSERT INTO notes (body) VALUES ('x')")
        finally:
            app.close()
    finally:
        shutil.rmtree(d)
        pg.drop_db(name)


def test_an_install_owned_by_the_app_role_is_told_to_reassign(pg):
    """Before the split, the application role owned everything: migrating
    as the owner stops with the statement to run; after it, the owner
    owns everything and the application role lost its powers."""
    name = "tg_rolesold_" + uuid.uuid4().hex[:8]
    pg.admin("CREATE DATABASE %s OWNER %s" % (name, APP_ROLE))
    try:
        env = dict(os.environ, TOLLGATE_DATABASE_URL=pg.url(name))
        env.pop("TOLLGATE_MIGRATE_DATABASE_URL", None)
        single = subprocess.run([os.path.join(ROOT, "scripts/migrate.sh")],
                                env=env, capture_output=True, text=True)
        assert single.returncode == 0, single.stdout + single.stderr
        r = pg.migrate(name)
        assert r.returncode != 0
        assert "REASSIGN OWNED BY %s TO %s" % (APP_ROLE, OWNER_ROLE) in \
            r.stderr, r.stderr
        pg.admin("REASSIGN OWNED BY %s TO %s" % (APP_ROLE, OWNER_ROLE),
                 dbname=name)
        r = pg.migrate(name)
        assert r.returncode == 0, r.stdout + r.stderr
        app = pg.connect(name, APP_ROLE)
        try:
            assert refused(app, "UPDATE ledger_accounts SET balance = 1")
            assert refused(app, "ALTER TABLE ledger_entries DISABLE "
                           "TRIGGER ALL")
        finally:
            app.close()
    finally:
        pg.drop_db(name)


def test_the_app_works_through_the_functions(db, tollgate):
    """Sign-up grant, a charged call, the sweeper and closing an account
    (whose trigger gives the user's leases back) as the application
    role, with a clean ledger after."""
    t = tollgate(env={"TOLLGATE_SIGNUP_CREDITS_MICROS": "5000000"})
    s = sign_in(t, "roles-app@example.com")
    r = requests.post(t.url + "/api/keys", headers=bearer(s.access_token),
                      json={"name": "roles"}, timeout=30)
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    r = requests.post(t.url + "/v1/chat/completions", headers={
        "Authorization": "Bearer " + key}, json={
        "model": "echo:echo-1", "messages": [
            {"role": "user", "content": "one two three"}]}, timeout=30)
    assert r.status_code == 200, r.text
    charged = r.json()["usage"]["cost_micros"]
    assert charged > 0
    assert settled(db, s.user_id)[0][6] == charged
    r = requests.get(t.url + "/api/credits", headers=bearer(s.access_token),
                     timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["balance_micros"] == 5000000 - charged
    r = requests.delete(t.url + "/api/me", headers=bearer(s.access_token),
                        timeout=30)
    assert r.status_code == 204, r.text
    assert db.query("SELECT count(*) FROM credit_leases WHERE user_id = %s "
                    "AND status = 'open'", s.user_id) == [(0,)]
    check_ledger(db)
    assert "permission denied" not in t.log()
