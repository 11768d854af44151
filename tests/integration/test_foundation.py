"""Foundation: start-up checks, migrations, error shapes, request ids,
health, readiness across a PostgreSQL restart, metrics, access log, and
running unprivileged with seccomp on."""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from lib.errors import assert_error
from lib.pg import OWNER_ROLE
from lib.server import Tollgate, ROOT, free_port, private_binary


def assert_error_shape(r, status, code=None):
    err = assert_error(r, status, code)
    assert isinstance(err["message"], str) and err["message"]
    return err


# --- start-up refusals -------------------------------------------------

BAD_CONFIGS = [
    ({"TOLLGATE_DATABASE_URL": None}, "TOLLGATE_DATABASE_URL"),
    ({"TOLLGATE_JWT_SECRET": "short"}, "TOLLGATE_JWT_SECRET"),
    ({"TOLLGATE_KEY_PEPPER": None}, "TOLLGATE_KEY_PEPPER"),
    ({"TOLLGATE_LISTEN": "127.0.0.1:99999"}, "TOLLGATE_LISTEN"),
    ({"TOLLGATE_ENV": "staging"}, "TOLLGATE_ENV"),
    ({"TOLLGATE_PUBLIC_URL": "gopher://x"}, "TOLLGATE_PUBLIC_URL"),
    ({"TOLLGATE_SIGNUP_CREDITS_MICROS": "lots"},
     "TOLLGATE_SIGNUP_CREDITS_MICROS"),
    ({"TOLLGATE_ENV": "production", "TOLLGATE_DEV_LOGIN": "1"},
     "TOLLGATE_DEV_LOGIN"),
    ({"TOLLGATE_ENV": "production",
      "TOLLGATE_JWT_SECRET": "insecure-dev-jwt-secret-0123456789abcdef"},
     "TOLLGATE_JWT_SECRET"),
    ({"TOLLGATE_GITHUB_CLIENT_ID": "id-only"}, "TOLLGATE_GITHUB_CLIENT_SECRET"),
    ({"TOLLGATE_STRIPE_SECRET_KEY": "sk_test_x"},
     "TOLLGATE_STRIPE_WEBHOOK_SECRET"),
    ({"TOLLGATE_ROUTER_CONFIG": "/nonexistent/router.json"},
     "TOLLGATE_ROUTER_CONFIG"),
]


@pytest.mark.parametrize("env,var", BAD_CONFIGS,
                         ids=[v for _, v in BAD_CONFIGS])
def test_bad_config_refuses_to_start(db, env, var):
    t = Tollgate(db.url, env=env)
    rc, out = t.run_to_exit(timeout=5)
    assert rc is not None and rc != 0, "did not refuse to start:\n" + out
    lines = [l for l in out.splitlines() if "configuration error" in l]
    assert len(lines) == 1, out
    assert var in lines[0]
    # Never the value of a secret.
    for secret in ("short", "insecure-dev-jwt-secret"):
        if env.get(var) == secret or (env.get(var) or "").startswith(secret):
            assert secret not in lines[0]
    # It did not start serving.
    assert "serving http" not in out


def test_every_problem_is_reported_at_once(db):
    t = Tollgate(db.url, env={"TOLLGATE_JWT_SECRET": "x",
                              "TOLLGATE_LISTEN": "nope"})
    rc, out = t.run_to_exit(timeout=5)
    assert rc is not None and rc != 0, out
    assert "TOLLGATE_JWT_SECRET" in out and "TOLLGATE_LISTEN" in out


# --- migrations --------------------------------------------------------

def migration_files():
    return sorted(f[:-4] for f in os.listdir(os.path.join(ROOT, "sql"))
                  if f.endswith(".sql"))


def test_migrations_apply_once_and_rerun_is_noop(pg):
    name = pg.create_db("tg_mig_" + str(os.getpid()))
    try:
        first = pg.migrate(name)
        assert first.returncode == 0, first.stderr
        assert first.stdout.count("applied") == len(migration_files())
        rows = pg.admin("SELECT version FROM schema_migrations ORDER BY 1",
                        dbname=name)
        assert [r[0] for r in rows] == migration_files()
        applied_at = pg.admin("SELECT max(applied_at) FROM schema_migrations",
                              dbname=name)

        second = pg.migrate(name)
        assert second.returncode == 0, second.stderr
        assert "up to date" in second.stdout
        assert "applied" not in second.stdout.replace("up to date", "")
        assert pg.admin("SELECT max(applied_at) FROM schema_migrations",
                        dbname=name) == applied_at
    finally:
        pg.drop_db(name)


def test_failed_migration_leaves_database_as_it_was(pg):
    name = pg.create_db("tg_migfail_" + str(os.getpid()))
    d = tempfile.mkdtemp()
    try:
        for f in os.listdir(os.path.join(ROOT, "sql")):
            shutil.copy(os.path.join(ROOT, "sql", f), d)
        assert pg.migrate(name, d).returncode == 0
        with open(os.path.join(d, "9998_good.sql"), "w") as f:
            f.write("CREATE TABLE half_good (id int);\n")
        with open(os.path.join(d, "9999_bad.sql"), "w") as f:
            f.write("CREATE TABLE half_done (id int);\n"
                    "INSERT INTO half_done VALUES (1);\n"
                    "SELECT * FROM no_such_table;\n")
        r = pg.migrate(name, d)
        assert r.returncode != 0
        assert "9999_bad failed" in r.stderr
        tables = [t[0] for t in pg.admin(
            "SELECT tablename FROM pg_tables WHERE schemaname='public'",
            dbname=name)]
        assert "half_done" not in tables
        assert "half_good" in tables   # the one before it stands
        versions = [v[0] for v in pg.admin(
            "SELECT version FROM schema_migrations", dbname=name)]
        assert "9999_bad" not in versions and "9998_good" in versions

        # An applied migration edited afterwards is refused.
        os.remove(os.path.join(d, "9999_bad.sql"))
        with open(os.path.join(d, "9998_good.sql"), "a") as f:
            f.write("-- edited\n")
        r = pg.migrate(name, d)
        assert r.returncode != 0
        assert "changed after it was applied" in r.stderr
    finally:
        shutil.rmtree(d)
        pg.drop_db(name)


def test_concurrent_migrators_apply_each_migration_once(pg):
    name = pg.create_db("tg_migrace_" + str(os.getpid()))
    try:
        env = dict(os.environ, TOLLGATE_DATABASE_URL=pg.url(name),
                   TOLLGATE_MIGRATE_DATABASE_URL=pg.url(name, OWNER_ROLE))
        procs = [subprocess.Popen([os.path.join(ROOT, "scripts/migrate.sh")],
                                  env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        outs = [p.communicate() for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        total = sum(o[0].count("applied ") for o in outs)
        assert total == len(migration_files())
    finally:
        pg.drop_db(name)


# --- error shapes, request ids ----------------------------------------

def test_unknown_route_is_404_in_contract_shape(server):
    r = server.get("/nope")
    assert_error_shape(r, 404, "not_found")
    assert r.json()["error"]["type"] == "not_found_error"


def test_wrong_method_is_405_with_allow(server):
    r = server.delete("/healthz")
    err = assert_error_shape(r, 405)
    assert err["type"] == "invalid_request_error"
    assert "GET" in r.headers["allow"]


def test_body_over_limit_is_413(tollgate):
    t = tollgate(env={"TOLLGATE_BODY_MAX_BYTES": "2048"})
    r = t.post("/healthz", data=b"x" * 2049,
               headers={"content-type": "application/json"})
    err = assert_error_shape(r, 413, "body_too_large")
    assert err["type"] == "invalid_request_error"
    # Still serving after it.
    assert t.get("/healthz").status_code == 200


def test_request_id_echoed_when_sane_and_generated_otherwise(server):
    r = server.get("/healthz", headers={"x-request-id": "abc-123.XYZ_9"})
    assert r.headers["x-request-id"] == "abc-123.XYZ_9"
    for bad in ("has space", "x" * 200, "semi;colon", "<script>"):
        r = server.get("/healthz", headers={"x-request-id": bad})
        rid = r.headers["x-request-id"]
        assert rid != bad and re.fullmatch(r"req_[0-9a-f]{24}", rid)
    a = server.get("/healthz").headers["x-request-id"]
    b = server.get("/healthz").headers["x-request-id"]
    assert a != b
    assert server.get("/nope").headers["x-request-id"]


# --- health, readiness, metrics, access log ---------------------------

def test_healthz_and_readyz(server):
    r = server.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = server.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_readiness_follows_postgresql_without_restart(pg, tollgate):
    t = tollgate(workers=2)
    for _ in range(4):
        assert t.get("/readyz").status_code == 200
    pid_before = t.pids()
    pg.stop()
    try:
        for _ in range(4):
            r = t.get("/readyz")
            assert_error_shape(r, 503, "unavailable")
            assert r.headers["retry-after"]
        assert t.get("/healthz").status_code == 200
    finally:
        pg.start()
    deadline = time.time() + 10
    ok = 0
    while time.time() < deadline and ok < 6:
        ok = ok + 1 if t.get("/readyz").status_code == 200 else 0
    assert ok >= 6
    assert t.pids() == pid_before   # same parent and workers


def test_metrics_count_requests_by_route_and_status(server):
    server.get("/healthz")
    server.get("/healthz")
    server.get("/nope")
    r = server.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE tollgate_http_requests_total counter" in text
    assert re.search(r'^tollgate_http_requests_total\{route="/healthz",'
                     r'status="200"\} 2$', text, re.M)
    assert re.search(r'^tollgate_http_requests_total\{route="unmatched",'
                     r'status="404"\} 1$', text, re.M)
    # Every sample line is name{labels} value.
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r'[a-z_]+(\{[^}]*\})? -?[0-9.e+]+', line), line


def test_metrics_are_shared_across_workers(tollgate):
    t = tollgate(workers=2)
    for _ in range(40):
        # New connections land on either worker.
        r = t.get("/healthz", headers={"connection": "close"})
        assert r.status_code == 200
    text = t.get("/metrics").text
    m = re.search(r'route="/healthz",status="200"\} (\d+)', text)
    assert m and int(m.group(1)) == 40


def test_access_log_one_line_per_request_without_secrets(server):
    secret = "tg_supersecretvalue_should_never_be_logged"
    server.get("/healthz", headers={"authorization": "Bearer " + secret,
                                    "x-request-id": "log-check-1"})
    server.get("/nope?code=oauthcode123&state=oauthstate456",
               headers={"x-request-id": "log-check-2"})
    time.sleep(0.2)
    log = server.log()
    lines = [l for l in log.splitlines() if "access " in l]
    assert len([l for l in lines if "rid=log-check-1" in l]) == 1
    l2 = [l for l in lines if "rid=log-check-2" in l]
    assert len(l2) == 1 and "status=404" in l2[0]
    assert secret not in log
    assert "oauthcode123" not in log and "oauthstate456" not in log


# --- privileges and seccomp -------------------------------------------

def _tollgate_pids(t):
    """Parent and workers (not runuser, which leads the group)."""
    out = []
    for pid in t.pids():
        try:
            if os.readlink("/proc/%d/exe" % pid) == t.binary:
                out.append(pid)
        except OSError:
            pass
    return out


def _uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_runs_as_unprivileged_user_with_seccomp(db, tollgate):
    import pwd
    uid = pwd.getpwnam("tollgate").pw_uid
    t = tollgate(user="tollgate", wait=False)
    t.binary = private_binary()
    t.start()
    assert "seccomp sandbox enabled" in t.log()
    pids = _tollgate_pids(t)
    assert len(pids) == 2   # parent and one worker
    for pid in pids:
        assert set(_uids(pid)) == {uid}
    assert t.get("/readyz").status_code == 200


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_start_drops_workers_to_runas_user(db, tollgate):
    import pwd
    uid = pwd.getpwnam("tollgate").pw_uid
    t = tollgate(env={"TOLLGATE_RUNAS": "tollgate"}, args=["-f", "-n"],
                 workers=2, wait=False)
    t.binary = private_binary()
    t.start()
    assert t.get("/readyz").status_code == 200
    parent = t.proc.pid
    workers = [p for p in _tollgate_pids(t) if p != parent]
    assert len(workers) == 2
    for pid in workers:
        assert set(_uids(pid)) == {uid}
    assert "seccomp sandbox enabled" in t.log()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_without_runas_or_flags_refuses(db):
    t = Tollgate(db.url, args=["-f"])
    rc, out = t.run_to_exit(timeout=5)
    assert rc is not None and rc != 0, out


def test_invalid_json_is_400_in_contract_shape(server, db):
    from lib.keys import seed_key, auth
    r = server.post("/auth/dev/login", data=b'{"email": ',
                    headers={"content-type": "application/json"})
    err = assert_error_shape(r, 400, "invalid_json")
    assert err["type"] == "invalid_request_error"
    key, _, _ = seed_key(db)
    for body in (b"{not json", b"[1, 2]", b'"just a string"', b""):
        r = server.post("/v1/chat/completions", data=body,
                        headers=dict(auth(key),
                                     **{"content-type": "application/json"}))
        assert_error_shape(r, 400, "invalid_json")
    assert server.get("/healthz").status_code == 200


def test_head_is_refused_on_gets_with_effects(server):
    # A link preview's HEAD must not start or consume a sign-in flow.
    for path in ("/auth/github/start", "/auth/github/callback?code=c&state=s"):
        r = server.request("HEAD", path)
        assert r.status_code == 405
    assert server.request("HEAD", "/healthz").status_code == 200
