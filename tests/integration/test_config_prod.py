"""Configuration as an operator meets it (docs/operations.md,
"Configuration in production"): `tollgate -t` on every shipped config,
secrets from X_FILE, production's required URLs, one warning for an
unknown TOLLGATE_* variable, and conf/dev.env giving way to variables
already set."""

import glob
import os
import re
import subprocess

import requests

from lib import auth as authlib
from lib.server import BINARY, ROOT, TEST_JWT_SECRET, Tollgate, base_env

# Nothing listens there: -t must not try.
NO_DB = "host=/nonexistent/tollgate-no-db dbname=none user=none"


def check(env, cwd=ROOT):
    """tollgate -t with exactly env; returns (rc, output)."""
    p = subprocess.run([BINARY, "-t"], env=env, cwd=cwd, timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout


def good_env(tmp_path, **extra):
    env = base_env(NO_DB, 1, str(tmp_path))
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def shipped_env(path):
    """A shipped env file as make run reads it (scripts/dev-env.sh), in a
    clean environment."""
    script = '. "$0/scripts/dev-env.sh" "$1" && env -0'
    out = subprocess.run(["bash", "-c", script, ROOT, path],
                         env={"PATH": os.environ["PATH"],
                              "TOLLGATE_ROOT": ROOT},
                         capture_output=True, timeout=30, check=True).stdout
    return dict(kv.split("=", 1) for kv in out.decode().split("\0") if kv)


def server_paths(env, tmp_path):
    """An example's paths on a server, made real here: each credential
    file its X_FILE names gets a value of the right form, the router
    config is the shipped one."""
    values = {"TOLLGATE_ADMIN_EMAILS_FILE": "admin@example.com\n",
              "TOLLGATE_STRIPE_SECRET_KEY_FILE": "sk_test_" + "a" * 24 + "\n",
              "TOLLGATE_STRIPE_WEBHOOK_SECRET_FILE": "whsec_" + "b" * 32 + "\n"}
    for k, v in list(env.items()):
        if k.endswith("_FILE") and v.startswith("/run/credentials/"):
            f = tmp_path / os.path.basename(v)
            f.write_text(values.get(k, "x" * 48 + "\n"))
            env[k] = str(f)
    if env.get("TOLLGATE_ROUTER_CONFIG", "").startswith("/etc/"):
        env["TOLLGATE_ROUTER_CONFIG"] = os.path.join(ROOT, "conf",
                                                     "router.json")
    return env


def test_every_shipped_env_file_checks_ok(tmp_path):
    """Every conf/*.env* checks ok as it is; an example (*.example) once
    the credential files and router config it names on a server exist."""
    files = sorted(glob.glob(os.path.join(ROOT, "conf", "*.env*")))
    assert os.path.join(ROOT, "conf", "dev.env") in files
    assert any(f.endswith(".example") for f in files)
    for path in files:
        env = shipped_env(path)
        if "TOLLGATE_DATABASE_URL" in env:
            env["TOLLGATE_DATABASE_URL"] = NO_DB
        if path.endswith(".example"):
            env = server_paths(env, tmp_path)
        rc, out = check(env)
        assert "unknown" not in out, "%s:\n%s" % (path, out)
        assert rc == 0, "%s:\n%s" % (path, out)
        assert "tollgate: configuration ok" in out, out


def test_every_shipped_router_file_checks_ok(tmp_path):
    files = sorted(glob.glob(os.path.join(ROOT, "conf", "*.json")))
    assert files
    for path in files:
        rc, out = check(good_env(tmp_path, TOLLGATE_ROUTER_CONFIG=path))
        assert (rc, out.strip().splitlines()[-1]) == \
            (0, "tollgate: configuration ok"), "%s:\n%s" % (path, out)


def test_check_reports_every_error_and_exits_1(tmp_path):
    bad_router = tmp_path / "router.json"
    bad_router.write_text('{"providers": [{"name": "x"}]}')
    rc, out = check(good_env(tmp_path, TOLLGATE_LISTEN="nope",
                             TOLLGATE_JWT_SECRET="short",
                             TOLLGATE_ROUTER_CONFIG=str(bad_router)))
    assert rc == 1, out
    errors = [ln for ln in out.splitlines()
              if ln.startswith("tollgate: configuration error: ")]
    assert any("TOLLGATE_LISTEN" in ln for ln in errors), out
    assert any("TOLLGATE_JWT_SECRET" in ln for ln in errors), out
    assert any("TOLLGATE_ROUTER_CONFIG" in ln for ln in errors), out
    assert "short" not in out
    assert "configuration ok" not in out


def test_check_starts_nothing(tmp_path):
    """No listener, no workers, no database: it returns at once, even
    with the port it would listen on taken, and leaves no process."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rc, out = check(good_env(
            tmp_path, TOLLGATE_LISTEN="127.0.0.1:%d" % port))
    assert rc == 0, out
    assert "started (cpu#" not in out


def test_x_and_x_file_both_set_is_refused(tmp_path, db):
    f = tmp_path / "pepper"
    f.write_text("p" * 40 + "\n")
    f2 = tmp_path / "openai"
    f2.write_text("sk-from-file\n")
    for name, path in (("TOLLGATE_KEY_PEPPER", f), ("OPENAI_API_KEY", f2)):
        env = good_env(tmp_path, **{name + "_FILE": str(path),
                                    name: "x" * 40})
        rc, out = check(env)
        assert rc == 1, out
        assert ("%s and %s_FILE are both set" % (name, name)) in out, out
        assert "x" * 40 not in out and "sk-from-file" not in out

        t = Tollgate(db.url, env={name + "_FILE": str(path),
                                  name: "x" * 40})
        rc, out = t.run_to_exit()
        assert rc == 1, out
        assert ("%s and %s_FILE are both set" % (name, name)) in out, out


def test_a_secret_file_loses_one_trailing_newline(tollgate, tmp_path):
    path = tmp_path / "jwt"
    path.write_text(TEST_JWT_SECRET + "\n")
    os.chmod(path, 0o644)
    t = tollgate(env={"TOLLGATE_JWT_SECRET": None,
                      "TOLLGATE_JWT_SECRET_FILE": str(path)})
    s = authlib.sign_in(t, "newline@example.com")
    # A token we sign ourselves with the secret without the newline (and
    # no kid: tried against every secret) is accepted: that is the key.
    forged = authlib.forge(authlib.claims(s.access_token),
                           secret=TEST_JWT_SECRET)
    r = requests.get(t.url + "/api/me", timeout=30,
                     headers={"authorization": "Bearer " + forged})
    assert r.status_code == 200, r.text
    forged = authlib.forge(authlib.claims(s.access_token),
                           secret=TEST_JWT_SECRET + "\n")
    r = requests.get(t.url + "/api/me", timeout=30,
                     headers={"authorization": "Bearer " + forged})
    assert r.status_code == 401, r.text

    # Two newlines: only one goes, and the value differs from the file's
    # first line (a secret ending in a newline is the operator's choice).
    path.write_text(TEST_JWT_SECRET + "\n\n")
    rc, out = check(good_env(tmp_path, TOLLGATE_JWT_SECRET=None,
                             TOLLGATE_JWT_SECRET_FILE=str(path)))
    assert rc == 0, out


def test_an_unknown_variable_gets_one_warning_and_starts(tollgate):
    t = tollgate(env={"TOLLGATE_SIGNUP_CREDIT_MICROS": "5000000"})
    lines = [ln for ln in t.log().splitlines()
             if "TOLLGATE_SIGNUP_CREDIT_MICROS" in ln]
    assert len(lines) == 1, t.log()
    assert "unknown" in lines[0]
    assert t.get("/healthz").status_code == 200


def test_every_documented_variable_is_known(tmp_path):
    """Every TOLLGATE_* name the docs, the scripts and the tests use is
    known: set (empty, which counts as unset), none gets a warning."""
    names = set()
    sources = [os.path.join(ROOT, "README.md")]
    sources += glob.glob(os.path.join(ROOT, "docs", "*.md"))
    sources += glob.glob(os.path.join(ROOT, "conf", "*"))
    sources += glob.glob(os.path.join(ROOT, "scripts", "*"))
    sources += glob.glob(os.path.join(ROOT, "tests", "**", "*.py"),
                         recursive=True)
    for path in sources:
        with open(path, errors="replace") as f:
            names |= set(re.findall(r"\bTOLLGATE_[A-Z0-9_]*[A-Z0-9]\b",
                                    f.read()))
    # Not variables: a C include guard, the misspelling this file and
    # docs/operations.md use as the example, and the OAuth name pattern.
    names -= {"TOLLGATE_H", "TOLLGATE_SIGNUP_CREDIT_MICROS"}
    names = {n for n in names if "PROVIDER" not in n}
    assert "TOLLGATE_DRAIN_SECONDS" in names
    env = good_env(tmp_path)
    for n in names:
        env.setdefault(n, "")
    rc, out = check(env)
    assert "unknown" not in out, out


def test_production_requires_its_urls(tmp_path, db):
    for missing in ("TOLLGATE_PUBLIC_URL", "TOLLGATE_UI_URL"):
        env = good_env(tmp_path, TOLLGATE_ENV="production",
                       TOLLGATE_DEV_LOGIN=None, **{missing: None})
        rc, out = check(env)
        assert rc == 1, out
        assert ("%s: required when TOLLGATE_ENV=production" % missing) \
            in out, out
        t = Tollgate(db.url, env={"TOLLGATE_ENV": "production",
                                  missing: None})
        rc, out = t.run_to_exit()
        assert rc == 1, out
        assert missing in out
    # In dev they default to the local listener.
    rc, out = check(good_env(tmp_path, TOLLGATE_PUBLIC_URL=None,
                             TOLLGATE_UI_URL=None))
    assert rc == 0, out


def test_dev_env_gives_way_to_variables_already_set():
    script = ('. "$TOLLGATE_ROOT/scripts/dev-env.sh"; '
              'echo "$TOLLGATE_LISTEN $TOLLGATE_PUBLIC_URL $TOLLGATE_WORKERS"')
    env = {"PATH": os.environ["PATH"], "TOLLGATE_ROOT": ROOT,
           "TOLLGATE_LISTEN": "127.0.0.1:9000", "TOLLGATE_WORKERS": "3"}
    out = subprocess.run(["bash", "-c", script], env=env, timeout=30,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["127.0.0.1:9000", "http://127.0.0.1:9000", "3"]
    del env["TOLLGATE_LISTEN"]
    out = subprocess.run(["bash", "-c", script], env=env, timeout=30,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["127.0.0.1:8080", "http://127.0.0.1:8080", "3"]
