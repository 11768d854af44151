"""The real tollgate binary, started for a test.

Each instance gets a free port on 127.0.0.1, a private working directory,
a clean environment (nothing leaks in from the shell running the tests),
and its output in a log file. stop() sends SIGTERM and, if needed, kills
the whole process group, so no worker survives a failing test. Under a
sanitizer build, any ASan/UBSan/LSan report the process wrote fails the
test at stop()."""

import glob
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("TOLLGATE_BIN", os.path.join(ROOT, "tollgate"))
SANITIZE = bool(os.environ.get("TOLLGATE_SANITIZE"))

TEST_JWT_SECRET = "test-jwt-secret-7d1c0b5e4a394f2e8c6b1a0f9e8d7c6b"
TEST_KEY_PEPPER = "test-key-pepper-3f2e1d0c9b8a79685746352413021f1e"


def _port_slice():
    """The ports this test process draws from: below the kernel's ephemeral
    range, so no bind(..., 0) of a fake server and no outgoing connection
    on this machine can take a port between free_port() and tollgate's
    bind(); each pytest-xdist worker has its own slice, so two workers
    never pick the same one."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    top = min(low, 32768)
    bottom = max(1024, top - 12000)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    n = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))
    width = (top - bottom) // count
    first = bottom + (n % count) * width
    return first, first + width


# Round and round this process's slice, from a random port, so a run does
# not retrace the ports the previous run left in TIME_WAIT.
_FIRST, _END = _port_slice()
_START = random.randrange(_FIRST, _END)
_PORTS = itertools.cycle(list(range(_START, _END)) +
                         list(range(_FIRST, _START)))


def free_port():
    for port in itertools.islice(_PORTS, _END - _FIRST):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in %d-%d" % (_FIRST, _END - 1))


def base_env(db_url, port, workdir):
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": workdir,
        "TOLLGATE_ENV": "dev",
        "TOLLGATE_DATABASE_URL": db_url,
        "TOLLGATE_LISTEN": "127.0.0.1:%d" % port,
        "TOLLGATE_PUBLIC_URL": "http://127.0.0.1:%d" % port,
        "TOLLGATE_UI_URL": "http://127.0.0.1:%d" % port,
        "TOLLGATE_JWT_SECRET": TEST_JWT_SECRET,
        "TOLLGATE_KEY_PEPPER": TEST_KEY_PEPPER,
        "TOLLGATE_ROUTER_CONFIG": os.path.join(ROOT, "conf", "router.json"),
        # Tests sign in with POST /auth/dev/login (tests/lib/auth.py).
        "TOLLGATE_DEV_LOGIN": "1",
        # Rate limits out of the way of tests about something else;
        # tests of the limits set their own (test_keys_ratelimit.py).
        "TOLLGATE_RATE_LIMIT_IP": "100000",
        "TOLLGATE_RATE_LIMIT_USER": "100000",
        "TOLLGATE_KEY_FAIL_LIMIT": "100000",
        "TOLLGATE_WORKERS": "1",
        # Hand Kore's accept lock over after every connection, so tests
        # with several workers reach all of them deterministically.
        "TOLLGATE_ACCEPT_THRESHOLD": "1",
        "TOLLGATE_PIDFILE": os.path.join(workdir, "tollgate.pid"),
        # A stop (SIGTERM, stop() below) lets calls still open finish
        # for this long; tests of the drain set their own.
        "TOLLGATE_DRAIN_SECONDS": "2",
    }
    if SANITIZE:
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":log_path=%s/asan" % workdir)
        env["UBSAN_OPTIONS"] = (env.get("UBSAN_OPTIONS", "") +
                                ":log_path=%s/ubsan" % workdir)
    return env


def private_binary():
    """A copy of the binary every user can execute (the checkout may be
    under /root), in a directory of its own."""
    d = tempfile.mkdtemp(prefix="tg-bin-")
    os.chmod(d, 0o755)
    dst = os.path.join(d, "tollgate")
    shutil.copy(BINARY, dst)
    os.chmod(dst, 0o755)
    return dst


class StartupError(Exception):
    pass


class Tollgate:
    """One tollgate process. env entries set to None are removed."""

    def __init__(self, db_url, env=None, args=None, port=None, user=None,
                 binary=BINARY, hosts=None):
        self.workdir = tempfile.mkdtemp(prefix="tg-run-")
        os.chmod(self.workdir, 0o777)
        self.auto_port = port is None
        self.port = port or free_port()
        self.env = base_env(db_url, self.port, self.workdir)
        for k, v in (env or {}).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = v
        # Dev login exists only with TOLLGATE_ENV=dev; elsewhere only
        # when a test asks for it (to see it refused).
        if (self.env.get("TOLLGATE_ENV") != "dev" and
                "TOLLGATE_DEV_LOGIN" not in (env or {})):
            self.env.pop("TOLLGATE_DEV_LOGIN", None)
        self.args = args if args is not None else ["-f", "-n", "-r"]
        self.user = user
        self.binary = binary
        self.hosts = hosts
        self.logpath = os.path.join(self.workdir, "tollgate.log")
        self.proc = None
        self.http = requests.Session()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=15):
        """Start and wait until every worker is up. If the port chosen for
        this instance was taken after all (by something outside the tests),
        start again on another one, a few times."""
        for attempt in range(5):
            try:
                return self._start(timeout)
            except StartupError:
                if (not self.auto_port or attempt == 4 or
                        "Address already in use" not in self.log()):
                    raise
                self._move_port(free_port())

    def _move_port(self, port):
        old = "127.0.0.1:%d" % self.port
        for k, v in self.env.items():
            if old in v:
                self.env[k] = v.replace(old, "127.0.0.1:%d" % port)
        self.port = port
        os.unlink(self.logpath)

    def _start(self, timeout):
        argv = [self.binary] + self.args
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--"] + argv
        if self.hosts:
            argv = self._private_hosts(argv)
        logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(argv, cwd=self.workdir, env=self.env,
                                     stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise StartupError("tollgate exited with %d:\n%s" %
                                   (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=0.2):
                    pass
                if self._workers_up():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise StartupError("tollgate did not start:\n" + self.log())

    def _private_hosts(self, argv):
        """Run argv in a private mount namespace whose /etc/hosts also
        maps the names of self.hosts: a host name that goes through the
        resolver (curl's threaded one), on any machine, touching nothing
        outside. Needs root."""
        path = os.path.join(self.workdir, "hosts")
        with open("/etc/hosts") as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text + "\n" + "".join(
                "%s %s\n" % (ip, name) for name, ip in self.hosts.items()))
        os.chmod(path, 0o644)
        return ["unshare", "--mount", "--", "sh", "-c",
                'mount --bind "$0" /etc/hosts && exec "$@"', path] + argv

    def _workers_up(self):
        n = int(self.env.get("TOLLGATE_WORKERS") or os.cpu_count() or 1)
        return self.log().count(" started (cpu#") >= n

    def run_to_exit(self, timeout=15):
        """For start-up refusals: run, wait for exit, return (rc, log).
        A process that does not exit (it started serving) is killed with
        its whole group and reported as rc None."""
        argv = [self.binary] + self.args
        p = subprocess.Popen(argv, cwd=self.workdir, env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, text=True,
                             start_new_session=True)
        try:
            out, _ = p.communicate(timeout=timeout)
            return p.returncode, out
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            return None, out

    def log(self):
        try:
            with open(self.logpath, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return getattr(self, "_final_log", "")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pids(self):
        """The parent and its workers (the whole process group)."""
        if self.proc is None:
            return []
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill9(self):
        """Crash the whole process (parent and workers) at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, check_sanitizer=True):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.http.close()
        if check_sanitizer and "sandbox violation" in self.log():
            raise AssertionError("a worker was killed by seccomp:\n" +
                                 self.log())
        if check_sanitizer and SANITIZE:
            reports = sorted(glob.glob(os.path.join(self.workdir, "asan.*")) +
                             glob.glob(os.path.join(self.workdir, "ubsan.*")))
            text = ""
            for r in reports:
                with open(r, errors="replace") as f:
                    body = f.read()
                if ("ERROR" in body or "runtime error" in body or
                        "fatal error" in body):
                    text += "==> %s\n%s\n" % (r, body)
            if text:
                raise AssertionError("sanitizer reports:\n" + text)
        self._final_log = self.log()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # HTTP helpers (requests); never raise on HTTP status.
    def request(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        return self.http.request(method, self.url + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def worker_pids(t):
    """The worker processes of a running Tollgate t (the parent's
    children), in ascending order."""
    if t.proc is None or t.proc.poll() is not None:
        return []
    out = subprocess.run(["pgrep", "-P", str(t.proc.pid)],
                         capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())
