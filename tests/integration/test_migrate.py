"""`tollgate migrate` (the migrations embedded in the binary) against
scripts/migrate.sh (sql/ from the checkout), the schema check of /readyz,
and the shipped deploy files (deploy/, conf/production.env.example)
checked with the tools this machine has."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from lib.pg import OWNER_ROLE
from lib.router import auth, seed_key
from lib.server import BINARY, ROOT, Tollgate, free_port


def migration_files():
    return sorted(f[:-4] for f in os.listdir(os.path.join(ROOT, "sql"))
                  if f.endswith(".sql"))


def tollgate_migrate(pg, name, env=None):
    """The binary alone: only the two URLs in its environment, no
    secrets, no psql on its PATH, run from an empty directory."""
    e = {"PATH": "/nonexistent",
         "TOLLGATE_MIGRATE_DATABASE_URL": pg.url(name, OWNER_ROLE),
         "TOLLGATE_DATABASE_URL": pg.url(name)}
    e.update(env or {})
    for k in [k for k, v in e.items() if v is None]:
        del e[k]
    cwd = tempfile.mkdtemp(prefix="tg-migrate-")
    try:
        return subprocess.run([BINARY, "migrate"], env=e, cwd=cwd,
                              capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(cwd)


def schema_dump(pg, name):
    """pg_dump --schema-only (grants included) without the lines that
    differ per run (the \\restrict key of newer pg_dump)."""
    out = subprocess.run(
        [os.path.join(pg.bindir, "pg_dump"), "--schema-only", "-h",
         pg.sock, "-U", "postgres", "-d", name],
        capture_output=True, text=True, check=True).stdout
    return "\n".join(line for line in out.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def bookkeeping(pg, name):
    return pg.admin("SELECT version, checksum FROM schema_migrations "
                    "ORDER BY version", dbname=name)


@pytest.fixture
def empty_dbs(pg):
    made = []

    def make():
        made.append(pg.create_db("tg_mig_%d_%d" % (os.getpid(), len(made))))
        return made[-1]

    yield make
    for name in made:
        pg.drop_db(name)


def test_binary_and_script_give_the_same_schema(pg, empty_dbs):
    by_script, by_binary = empty_dbs(), empty_dbs()
    r = pg.migrate(by_script)
    assert r.returncode == 0, r.stderr

    r = tollgate_migrate(pg, by_binary)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "migrate: applied " + m for m in migration_files()]

    # Tables, functions, triggers, and the grants of both roles.
    assert schema_dump(pg, by_binary) == schema_dump(pg, by_script)
    # The same rows, checksums included: each accepts the other's work.
    assert bookkeeping(pg, by_binary) == bookkeeping(pg, by_script)
    assert [v for v, _ in bookkeeping(pg, by_binary)] == migration_files()
    # What the migrations seed (prices, packages) is there too.
    for table in ("model_prices", "billing_packages", "ledger_accounts"):
        q = "SELECT count(*) FROM %s" % table
        assert pg.admin(q, dbname=by_binary) == pg.admin(q, dbname=by_script)
    assert pg.admin("SELECT problem FROM ledger_check()",
                    dbname=by_binary) == []


def test_second_run_applies_nothing_either_way(pg, empty_dbs):
    name = empty_dbs()
    assert tollgate_migrate(pg, name).returncode == 0
    before = pg.admin("SELECT max(applied_at), count(*) FROM "
                      "schema_migrations", dbname=name)

    again = tollgate_migrate(pg, name)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "migrate: up to date\n"
    script = pg.migrate(name)
    assert script.returncode == 0, script.stderr
    assert script.stdout == "migrate: up to date\n"
    assert pg.admin("SELECT max(applied_at), count(*) FROM "
                    "schema_migrations", dbname=name) == before
    assert pg.admin("SELECT problem FROM ledger_check()", dbname=name) == []


def test_two_migrators_at_once_apply_each_migration_once(pg, empty_dbs):
    """The advisory lock: without it both would create the same tables
    and one would fail."""
    name = empty_dbs()
    results = [None, None]

    def run(i):
        results[i] = tollgate_migrate(pg, name)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r.returncode == 0, r.stderr
    applied = [line for r in results for line in r.stdout.splitlines()
               if line.startswith("migrate: applied ")]
    assert sorted(applied) == ["migrate: applied " + m
                               for m in migration_files()]
    assert [v for v, _ in bookkeeping(pg, name)] == migration_files()


def test_failing_migration_is_rolled_back_and_stops_the_run(pg, empty_dbs):
    name = empty_dbs()
    assert tollgate_migrate(pg, name).returncode == 0
    first = migration_files()[0]
    # Its row gone, the migration runs again and fails on its own tables.
    pg.admin("DELETE FROM schema_migrations WHERE version = %s", first,
             dbname=name)
    r = tollgate_migrate(pg, name)
    assert r.returncode == 1
    assert "migrate: %s failed; nothing of it was applied:" % first \
        in r.stderr
    assert "already exists" in r.stderr
    assert r.stdout == ""
    assert first not in [v for v, _ in bookkeeping(pg, name)]


def test_changed_migration_is_refused(pg, empty_dbs):
    name = empty_dbs()
    assert tollgate_migrate(pg, name).returncode == 0
    newest = migration_files()[-1]
    pg.admin("UPDATE schema_migrations SET checksum = 'edited' "
             "WHERE version = %s", newest, dbname=name)
    r = tollgate_migrate(pg, name)
    assert r.returncode == 1
    assert ("migrate: %s was changed after it was applied; add a new "
            "migration instead" % newest) in r.stderr


def test_tables_of_another_role_stop_the_run(pg, empty_dbs):
    """Migrating as the application role a database the owner migrated:
    the statement that hands the tables over, and nothing done."""
    name = empty_dbs()
    assert tollgate_migrate(pg, name).returncode == 0
    r = tollgate_migrate(pg, name, env={
        "TOLLGATE_MIGRATE_DATABASE_URL": pg.url(name)})
    assert r.returncode == 1
    assert "the tables belong to role tollgate_owner, not to tollgate" \
        in r.stderr
    assert "REASSIGN OWNED BY tollgate_owner TO tollgate;" in r.stderr


def test_urls_from_files_and_usage(pg, empty_dbs, tmp_path):
    name = empty_dbs()
    owner = tmp_path / "owner_url"
    owner.write_text(pg.url(name, OWNER_ROLE) + "\n")
    r = tollgate_migrate(pg, name, env={
        "TOLLGATE_MIGRATE_DATABASE_URL": None,
        "TOLLGATE_MIGRATE_DATABASE_URL_FILE": str(owner)})
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == len(migration_files())

    both = tollgate_migrate(pg, name, env={
        "TOLLGATE_MIGRATE_DATABASE_URL_FILE": str(owner)})
    assert both.returncode == 1
    assert "are both set" in both.stderr

    none = tollgate_migrate(pg, name, env={
        "TOLLGATE_MIGRATE_DATABASE_URL": None,
        "TOLLGATE_DATABASE_URL": None})
    assert none.returncode == 1
    assert "neither TOLLGATE_MIGRATE_DATABASE_URL nor " \
        "TOLLGATE_DATABASE_URL is set" in none.stderr

    usage = subprocess.run([BINARY, "migrate", "now"], capture_output=True,
                           text=True, env={"PATH": "/nonexistent"})
    assert usage.returncode == 2 and "usage: tollgate migrate" in usage.stderr


# --- /readyz and the schema ------------------------------------------------

def ready(t):
    return t.http.get(t.url + "/readyz", timeout=5)


def wait_ready_status(t, status, timeout=20):
    """The answer is cached for a few seconds per worker: poll."""
    deadline = time.time() + timeout
    while True:
        r = ready(t)
        if r.status_code == status or time.time() > deadline:
            return r
        time.sleep(0.2)


def test_readyz_fails_while_the_schema_is_behind(pg, empty_dbs, tollgate):
    """An upgrade rolled out before its migration: the binary knows the
    newest migration, the database does not have it yet."""
    name = empty_dbs()
    newest = migration_files()[-1]
    older = tempfile.mkdtemp()
    try:
        for f in os.listdir(os.path.join(ROOT, "sql")):
            if f != newest + ".sql":
                shutil.copy(os.path.join(ROOT, "sql", f), older)
        r = pg.migrate(name, older)
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(older)

    t = tollgate(db_url=pg.url(name), workers=2)
    for _ in range(4):      # both workers, whichever answers
        r = ready(t)
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["type"] == "unavailable" or err["code"] == "unavailable"
        assert newest in err["message"] and "1 missing" in err["message"]
        assert "tollgate migrate" in err["message"]
    assert "schema is behind this binary" in t.log()

    m = tollgate_migrate(pg, name)
    assert m.returncode == 0, m.stderr
    assert m.stdout == "migrate: applied %s\n" % newest

    assert wait_ready_status(t, 200).status_code == 200
    for _ in range(4):
        assert ready(t).status_code == 200


def test_readyz_on_a_database_never_migrated(pg, empty_dbs, tollgate):
    name = empty_dbs()
    t = tollgate(db_url=pg.url(name, OWNER_ROLE))
    r = ready(t)
    assert r.status_code == 503
    assert migration_files()[0] in r.json()["error"]["message"]
    assert "%d missing" % len(migration_files()) in r.json()["error"]["message"]


def test_readyz_is_fine_with_a_schema_ahead(db, tollgate):
    """While an upgrade rolls, old processes run on the new schema."""
    db.query("INSERT INTO schema_migrations (version, checksum) "
             "VALUES ('9999_from_a_newer_release', 'x')")
    t = tollgate()
    assert ready(t).status_code == 200


# --- the shipped deploy files ------------------------------------------------

def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def variables_read_by_the_binary():
    """Every TOLLGATE_* name a C string of app/ spells out."""
    names = set()
    for d, _, files in os.walk(os.path.join(ROOT, "app")):
        for f in files:
            if f.endswith(".c"):
                with open(os.path.join(d, f)) as fh:
                    names.update(re.findall(r'"(TOLLGATE_[A-Z0-9_]+)"',
                                            fh.read()))
    return names


def test_production_env_example_names_every_variable():
    text = read("conf/production.env.example")
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))
    # Dev-only switches are refused in production; the rest must appear,
    # directly or as X_FILE.
    dev_only = {"TOLLGATE_DEV_LOGIN"}
    # Known to the binary (no warning) but not settings: what make run
    # and the test suite set around it, and a name no longer read.
    not_settings = {"TOLLGATE_ROOT", "TOLLGATE_BIN", "TOLLGATE_SANITIZE",
                    "TOLLGATE_TEST_JOBS", "TOLLGATE_TESTS_STRICT",
                    "TOLLGATE_MIGRATIONS_DIR", "TOLLGATE_OPENAPI_CHECK",
                    "TOLLGATE_SECRET_KEY"}
    assert not_settings <= variables_read_by_the_binary()
    assert not any(re.search(r"^#?\s*%s(_FILE)?=" % v, text, re.M)
                   for v in not_settings)
    missing = sorted(v for v in variables_read_by_the_binary() - dev_only
                     - not_settings
                     if v not in named and v + "_FILE" not in named)
    assert missing == []
    # Secrets are given as files, never inline.
    for secret in ("TOLLGATE_JWT_SECRET", "TOLLGATE_KEY_PEPPER",
                   "TOLLGATE_STRIPE_SECRET_KEY",
                   "TOLLGATE_STRIPE_WEBHOOK_SECRET", "OPENAI_API_KEY",
                   "ANTHROPIC_API_KEY"):
        assert re.search(r"^#?\s*%s_FILE=" % secret, text, re.M), secret
        assert not re.search(r"^#?\s*%s=" % secret, text, re.M), secret
    assert re.search(r"^TOLLGATE_ENV=production$", text, re.M)


def test_systemd_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = read("deploy/tollgate.service")
    # The stop timeout leaves the drain its 30 s and then some.
    stop = int(re.search(r"^TimeoutStopSec=(\d+)", unit, re.M).group(1))
    assert stop > 30
    assert re.search(r"^EnvironmentFile=", unit, re.M)
    assert re.search(r"^LoadCredential=", unit, re.M)
    # verify wants the binary where ExecStart says: point it at ours.
    exec_path = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
    path = tmp_path / "tollgate.service"
    path.write_text(unit.replace(exec_path, BINARY))
    r = subprocess.run(["systemd-analyze", "verify", str(path)],
                       capture_output=True, text=True)
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if "tollgate.service" in line]
    assert r.returncode == 0 and problems == [], r.stdout + r.stderr


def test_nginx_example_passes_nginx_t(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx) or shutil.which("openssl") is None:
        pytest.skip("nginx or openssl is not installed")
    conf = read("deploy/nginx.conf")
    # Its certificate paths replaced by a throwaway certificate.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=api.example.com", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    conf = re.sub(r"ssl_certificate\s+\S+;", "ssl_certificate %s;" % cert,
                  conf)
    conf = re.sub(r"ssl_certificate_key\s+\S+;",
                  "ssl_certificate_key %s;" % key, conf)
    site = tmp_path / "tollgate.conf"
    site.write_text(conf)
    main = tmp_path / "nginx.conf"
    main.write_text("pid %s/nginx.pid;\nerror_log %s/error.log;\n"
                    "events {}\nhttp {\n  access_log off;\n"
                    "  include %s;\n}\n" % (tmp_path, tmp_path, site))
    r = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(main),
                        "-g", "user root;" if os.geteuid() == 0 else ""],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "syntax is ok" in r.stderr
    # What the example promises.
    assert "proxy_buffering off" in conf and "http2" in conf
    assert re.search(r"location\s+=\s+/metrics\s*{[^}]*deny all", conf)
    assert "X-Forwarded-For $remote_addr" in conf


def test_nginx_example_in_front_of_tollgate(db, tollgate, tmp_path):
    """The example serving for real (its ports and certificate swapped
    for the test's): TLS, /metrics and /readyz closed, a stream relayed
    whole, and the client's own X-Forwarded-For replaced by the peer
    nginx saw, so every spoofed address counts as that one peer."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx) or shutil.which("openssl") is None:
        pytest.skip("nginx or openssl is not installed")
    t = tollgate(env={"TOLLGATE_TRUST_PROXY": "1",
                      "TOLLGATE_KEY_FAIL_LIMIT": "3"})
    key, _, _ = seed_key(db)
    port, plain = free_port(), free_port()
    conf = read("deploy/nginx.conf")
    cert, tlskey = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=api.example.com", "-days", "1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tlskey), "-out", str(cert)],
                   check=True, capture_output=True)
    conf = re.sub(r"ssl_certificate\s+\S+;", "ssl_certificate %s;" % cert,
                  conf)
    conf = re.sub(r"ssl_certificate_key\s+\S+;",
                  "ssl_certificate_key %s;" % tlskey, conf)
    conf = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", conf)
    conf = conf.replace("listen 443 ", "listen 127.0.0.1:%d " % port)
    conf = conf.replace("listen 80;", "listen 127.0.0.1:%d;" % plain)
    conf = conf.replace("server 127.0.0.1:8080;",
                        "server 127.0.0.1:%d;" % t.port)
    site = tmp_path / "tollgate.conf"
    site.write_text(conf)
    main = tmp_path / "nginx.conf"
    main.write_text("daemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;"
                    "\n%sevents {}\nhttp {\n  access_log off;\n"
                    "  include %s;\n}\n" % (
                        tmp_path, tmp_path,
                        "user root;\n" if os.geteuid() == 0 else "", site))
    out = open(tmp_path / "nginx.out", "w")
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(main)],
                            stdout=out, stderr=out, start_new_session=True)
    out.close()
    try:
        base = "https://127.0.0.1:%d" % port
        s = requests.Session()
        s.trust_env = False     # REQUESTS_CA_BUNDLE would override verify
        s.verify = str(cert)
        deadline = time.time() + 10
        while True:
            try:
                r = s.get(base + "/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.time() < deadline and proc.poll() is None, \
                    (tmp_path / "nginx.out").read_text()
                time.sleep(0.1)
        assert r.status_code == 200
        assert s.get(base + "/metrics", timeout=5).status_code == 403
        assert s.get(base + "/readyz", timeout=5).status_code == 403
        assert requests.get("http://127.0.0.1:%d/v1/models" % plain,
                            allow_redirects=False,
                            timeout=5).status_code == 308

        with s.post(base + "/v1/chat/completions", headers=auth(key),
                    stream=True, timeout=30, json={
                        "model": "echo:echo-1", "stream": True,
                        "messages": [{"role": "user",
                                      "content": "through nginx"}]}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith(
                "text/event-stream")
            events = [line for line in r.iter_lines() if line]
        assert events[-1] == b"data: [DONE]"
        assert len(events) > 2

        # Each failure claims another address; tollgate sees one peer.
        codes = []
        for i in range(5):
            r = s.get(base + "/v1/models", timeout=5, headers={
                "authorization": "Bearer tg_nonsense",
                "x-forwarded-for": "198.51.100.%d" % i})
            codes.append(r.status_code)
        assert codes == [401, 401, 401, 429, 429], codes
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_runs_on_a_read_only_root(db):
    """What deploy/Dockerfile promises for --read-only: with / read-only
    and only /tmp writable (a private mount namespace), tollgate starts,
    serves and settles calls, and stops cleanly."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount namespace")
    d = tempfile.mkdtemp(prefix="tg-ro-")
    wrapper = os.path.join(d, "ro-root")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec unshare --mount -- sh -c 'mount "
                "--make-rprivate / && mount --bind /tmp /tmp && mount -o "
                "remount,bind,ro / && exec \"$0\" \"$@\"' %s \"$@\"\n"
                % BINARY)
    os.chmod(wrapper, 0o755)
    t = Tollgate(db.url, binary=wrapper)
    try:
        t.start()
        assert ready(t).status_code == 200
        key, _, _ = seed_key(db)
        r = t.post("/v1/chat/completions", headers=auth(key), json={
            "model": "echo:echo-1",
            "messages": [{"role": "user", "content": "read-only"}]})
        assert r.status_code == 200, r.text
        # Its usage record is written (the batched settlement works).
        deadline = time.time() + 10
        while (db.query("SELECT count(*) FROM usage_records")[0][0] == 0
               and time.time() < deadline):
            time.sleep(0.1)
        assert db.query("SELECT count(*) FROM usage_records")[0][0] == 1
        # Not by accident: the root really is read-only in there (probed
        # at / itself: a checkout may live under the writable /tmp).
        probe = subprocess.run(
            ["unshare", "--mount", "--", "sh", "-c", "mount --make-rprivate"
             " / && mount --bind /tmp /tmp && mount -o remount,bind,ro / "
             "&& touch /tollgate-ro-probe"], capture_output=True, text=True)
        assert "Read-only file system" in probe.stderr
    finally:
        t.stop()
        shutil.rmtree(d)
    assert "couldn't write" not in t.log()


def test_dockerfile_shape():
    """No container build here (CI has no daemon): the recipe's
    promises, read from the file."""
    text = read("deploy/Dockerfile")
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert stages[0].startswith("debian:12") and \
        stages[-1].startswith("debian:12-slim")
    assert re.search(r"^USER\s+(?!root|0\b)\S+", text, re.M)
    assert re.search(r"^HEALTHCHECK (?:.*\\\n)*.*/readyz", text, re.M)
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/tollgate"', text, re.M)
    assert "make" in text and " kore " in text
