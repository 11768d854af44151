"""A private PostgreSQL cluster for one test session.

Data, socket and log live in a temporary directory; the server listens
only on a Unix socket there. PostgreSQL refuses to run as root, so under
root the cluster belongs to the system user "tollgate" (created when
missing, as make run does). Migrations are applied once to a template
database; every test gets a fresh copy of it (CREATE DATABASE ... TEMPLATE),
which takes a few tens of milliseconds.

Two roles, as in production (docs/operations.md, "Database roles"): the
owner "tollgate_owner" owns the databases and runs the migrations; the
application role "tollgate" is what tollgate connects as (Database.url)."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid

import psycopg2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OS_USER = "tollgate"
APP_ROLE = "tollgate"
OWNER_ROLE = "tollgate_owner"
TEMPLATE = "tg_template"


def _bindir():
    for d in ["/usr/lib/postgresql/15/bin"] + sorted(
            glob.glob("/usr/lib/postgresql/*/bin")):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("PostgreSQL server binaries not found")


def _ensure_os_user():
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell",
                        "/usr/sbin/nologin", OS_USER], check=True)


class Database:
    """One database of a cluster: .name, .url (for tollgate, as the
    application role), .owner_url (the migrations'), .query(sql, *args)
    as the superuser, .connect(user)."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.url = cluster.url(name)
        self.owner_url = cluster.url(name, OWNER_ROLE)

    def query(self, sql, *args):
        return self.cluster.admin(sql, *args, dbname=self.name)

    def connect(self, user="postgres"):
        return self.cluster.connect(self.name, user)


class PgCluster:
    """durable=False (the tests): fsync, synchronous_commit and
    full_page_writes off, for speed; durable=True keeps PostgreSQL's
    defaults (the bench). settings: more -c name=value pairs for the
    server (a dict)."""

    def __init__(self, durable=False, settings=None):
        self.durable = durable
        self.settings = dict(settings or {})
        self.bindir = _bindir()
        self.root = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="tg-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "postgresql.log")
        os.mkdir(self.sock)
        if self.root:
            _ensure_os_user()
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, OS_USER)
            shutil.chown(self.sock, OS_USER)
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data,
                   "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--locale=C.UTF-8"], quiet=True)
        self.running = False

    def _run(self, argv, quiet=False, check=True):
        if self.root:
            argv = ["runuser", "-u", OS_USER, "--"] + argv
        out = subprocess.DEVNULL if quiet else None
        return subprocess.run(argv, check=check, stdout=out,
                              stderr=subprocess.PIPE if quiet else None)

    def start(self):
        opts = "-k %s -c listen_addresses= -c max_connections=400" % self.sock
        if not self.durable:
            opts += (" -c fsync=off -c synchronous_commit=off"
                     " -c full_page_writes=off")
        for name, value in self.settings.items():
            opts += " -c %s=%s" % (name, value)
        # setsid: the server must not share the test's process group.
        self._run(["setsid", os.path.join(self.bindir, "pg_ctl"), "-D",
                   self.data, "-l", self.log, "-w", "-t", "30", "-o", opts,
                   "start"], quiet=True)
        self.running = True

    def postmaster_pid(self):
        """The server's main process (from postmaster.pid), or None."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self, mode="fast"):
        if self.running:
            self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data,
                       "-m", mode, "-w", "stop"], quiet=True, check=False)
            self.running = False

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, dbname, user=APP_ROLE):
        return "host=%s dbname=%s user=%s" % (self.sock, dbname, user)

    def connect(self, dbname="postgres", user="postgres"):
        conn = psycopg2.connect(host=self.sock, dbname=dbname, user=user)
        conn.autocommit = True
        return conn

    def admin(self, sql, *args, dbname="postgres"):
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args or None)
                if cur.description is not None:
                    return cur.fetchall()
                return None
        finally:
            conn.close()

    def migrate(self, dbname, migrations_dir=None):
        """Runs scripts/migrate.sh as the owner, for the application role;
        returns the CompletedProcess."""
        env = dict(os.environ)
        env["TOLLGATE_MIGRATE_DATABASE_URL"] = self.url(dbname, OWNER_ROLE)
        env["TOLLGATE_DATABASE_URL"] = self.url(dbname)
        if migrations_dir is not None:
            env["TOLLGATE_MIGRATIONS_DIR"] = migrations_dir
        return subprocess.run([os.path.join(ROOT, "scripts", "migrate.sh")],
                              env=env, capture_output=True, text=True)

    def create_roles(self):
        self.admin("CREATE ROLE %s LOGIN" % OWNER_ROLE)
        self.admin("CREATE ROLE %s LOGIN" % APP_ROLE)

    def create_db(self, name, template=None):
        """An empty database (or a template's copy) owned by the owner."""
        self.admin("CREATE DATABASE %s%s OWNER %s" % (
            name, " TEMPLATE %s" % template if template else "",
            OWNER_ROLE))
        return name

    def create_template(self):
        self.create_roles()
        self.create_db(TEMPLATE)
        r = self.migrate(TEMPLATE)
        if r.returncode != 0:
            raise RuntimeError("migrations failed:\n" + r.stdout + r.stderr)

    def new_db(self, template=TEMPLATE):
        return self.create_db("tg_" + uuid.uuid4().hex[:12], template)

    def drop_db(self, name):
        self.admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
