#!/usr/bin/python3
"""make bench: one run on 127.0.0.1 that loads, side by side,

  direct      the fake OpenAI upstreams themselves: nginx answering a fixed
              chat.completion at once, and scripts/bench_upstream.py for
              the slow (50 ms) and the streaming answers,
  nginx       an nginx proxy_pass in front of them (proxy_buffering off for
              streams): the baseline a gateway is measured against,
  tg hot      tollgate routing to those upstreams with full accounting (API
              key, hold, settlement, usage record), every call on one key
              of one user,
  tg 64u      the same with 64 users, a key each, used in turn,
  echo        tollgate's built-in echo provider (no upstream at all), 64
              users,
  hot strict, 64u strict
              tollgate hot and 64u again, started with
              TOLLGATE_STRICT_SETTLEMENT=1,

and prints one table, a metric a row and a target a column, with:

  64 connections       wrk, keep-alive: requests/s, p50/p99, errors, CPU
                       per call (utime+stime from /proc of tollgate's
                       processes plus the PostgreSQL cluster's; for nginx,
                       its own processes: the fast upstream is a separate
                       nginx instance, counted only in the direct column),
                       database statements per call (pg_stat_statements,
                       top-level statements of tollgate's role only);
  1 connection         p50/p99 and what each adds over direct;
  50 ms upstream       p50 at 64 connections and what it adds over direct;
  64 streams           64 clients streaming one answer after another (20
                       content events 10 ms apart): streams/s, time to the
                       first content event and what it adds over direct;
  1,000 streams        1,000 streams at once: how many completed, and the
                       peak of the summed VmRSS of the server's processes;
  idle                 a fresh start with 2 workers: summed VmRSS and PSS
                       of the process tree once idle, and the time from
                       exec to the first /readyz 200 (nginx: to the first
                       proxied 200);
  ledger_check()       run after every tollgate load: clean or not;

then ratios against nginx from the same run, each target with a miss
marked, and the same table in Markdown for the README ("Performance").

Method: the load generators (wrk, and this script's asyncio client for the
streams) run on CPU 0; nginx, the upstreams, tollgate and PostgreSQL on
CPU 1 (taskset; Kore pins its workers itself, so tollgate's processes are
pinned again once started). PostgreSQL keeps its default durability
(fsync, synchronous_commit and full_page_writes on). Tollgate runs
BENCH_WORKERS workers (default 1: the gateway has one CPU, like nginx's
one worker); the idle measurement always uses 2.

A load that fails prints ERR in its cells and its error below the table;
the run goes on. Throughput on a shared machine is noisy: compare ratios
from one run, not absolute numbers across runs. Nothing here is a test; it
never runs under make test.

The run starts by printing the machine, the load average and the median
time of an 8 KiB write + fdatasync where PostgreSQL writes (every commit
waits for one at default durability): both explain a slow run.

Environment: BENCH_DURATION (seconds per load, default 5; the whole run
takes about 5 minutes), BENCH_CONNECTIONS (default 64), BENCH_WORKERS
(tollgate workers under load, default 1), BENCH_USERS (default 64),
BENCH_STREAMS (the big stream burst, default 1000; each of its streams
may take up to 60 s), BENCH_DURABLE (0: PostgreSQL with fsync,
synchronous_commit and full_page_writes off, as in the tests, to see what
the disk costs; not the benchmark's numbers).
"""

import asyncio
import itertools
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from lib.pg import APP_ROLE, Database, PgCluster  # noqa: E402
from lib.server import BINARY, Tollgate, free_port  # noqa: E402
from lib.keys import seed_key  # noqa: E402

DURATION = int(os.environ.get("BENCH_DURATION", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
USERS = int(os.environ.get("BENCH_USERS", "64"))
BURST = int(os.environ.get("BENCH_STREAMS", "1000"))
# 0: the tests' PostgreSQL (fsync off ...), to see what the disk costs.
DURABLE = os.environ.get("BENCH_DURABLE", "1") != "0"
BURST_TIMEOUT = 60      # seconds a stream of the burst may take to complete

LOAD_CPU = "0"      # wrk and this script
SERVER_CPU = "1"    # everything being measured
TICK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

ANSWER = {
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant",
                             "content": "Hello from the bench upstream."}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7,
              "total_tokens": 19},
}

MESSAGES = [{"role": "user", "content": "Say hello."}]
# 19 words: echo streams "echo:" and one event per word, 20 content
# events like bench_upstream.py's streams.
ECHO_WORDS = " ".join("w%d" % i for i in range(1, 20))

COMPLETIONS = "/v1/chat/completions"

# Columns of the table, in order, and their headings.
COLUMNS = ["direct", "nginx", "hot", "users", "echo", "hot_s", "users_s"]
HEADINGS = {"direct": "direct", "nginx": "nginx", "hot": "tg hot",
            "users": "tg 64u", "echo": "echo", "hot_s": "hot strict",
            "users_s": "64u strict"}
# The columns the targets apply to (echo has no upstream to compare).
GATEWAY = ["hot", "users", "hot_s", "users_s"]
TOLLGATE = ["hot", "users", "echo", "hot_s", "users_s"]

# The table's rows: (key, label, format, target); a target is
# (">=" or "<=", bound, its text) and applies to the GATEWAY columns.
# A key of None starts a section.
ROWS = [
    (None, "%d connections" % CONNECTIONS, None, None),
    ("rps", "requests/s", "%.0f", None),
    ("rps_x", "  ÷ nginx", "%.2f", (">=", 0.3, "≥ 0.30")),
    ("p50", "p50 ms", "%.2f", None),
    ("p99", "p99 ms", "%.2f", None),
    ("errors", "errors (non-2xx, socket)", "%d", None),
    ("cpu", "CPU µs/call", "%.0f", None),
    ("cpu_x", "  ÷ nginx", "%.2f", ("<=", 5, "≤ 5")),
    ("cpu_tg", "  of which tollgate", "%.0f", None),
    ("cpu_pg", "  of which PostgreSQL", "%.0f", None),
    ("stmts", "DB statements/call", "%.2f", ("<=", 0.1, "≤ 0.1")),
    (None, "1 connection", None, None),
    ("p50_1", "p50 µs", "%.0f", None),
    ("p99_1", "p99 µs", "%.0f", None),
    ("add50_1", "added p50 µs", "%.0f", ("<=", 200, "≤ 200")),
    ("add99_1", "added p99 µs", "%.0f", None),
    (None, "50 ms upstream, %d connections" % CONNECTIONS, None, None),
    ("slow_p50", "p50 ms", "%.2f", None),
    ("slow_add50", "added p50 ms", "%.2f", ("<=", 2, "≤ 2")),
    ("slow_add99", "added p99 ms", "%.2f", None),
    (None, "%d concurrent streams" % CONNECTIONS, None, None),
    ("sps", "streams/s", "%.0f", None),
    ("sps_x", "  ÷ nginx", "%.2f", (">=", 0.9, "≥ 0.90")),
    ("ttfc", "first content p50 ms", "%.2f", None),
    ("ttfc_add", "  added p50 ms", "%.2f", ("<=", 1, "≤ 1")),
    ("ttfc_add99", "  added p99 ms", "%.2f", None),
    (None, "{:,} concurrent streams".format(BURST), None, None),
    ("burst_ok", "completed", "%d", (">=", BURST, "all")),
    ("burst_rss", "peak RSS MiB", "%.1f", ("<=", 64, "≤ 64")),
    (None, "idle, 2 workers", None, None),
    ("idle_rss", "RSS MiB (summed VmRSS)", "%.1f", ("<=", 24, "≤ 24")),
    ("idle_pss", "PSS MiB", "%.1f", None),
    ("ready", "start to ready ms", "%.0f", ("<=", 100, "≤ 100")),
    (None, "accounting", None, None),
    ("ledger", "ledger_check() after loads", "%s",
     ("==", "clean", "clean")),
]


class LoadError(Exception):
    pass


# --- processes -----------------------------------------------------------

def descendants(root):
    """root and every process below it."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_ticks(roots):
    """utime+stime of every process under roots, plus cutime+cstime (what
    their children that already exited used)."""
    total = 0
    for root in roots:
        for pid in descendants(root):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in fields[11:15])
    return total


def proc_kib(pid, path, field):
    try:
        with open("/proc/%d/%s" % (pid, path)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mib(pids):
    return sum(proc_kib(p, "status", "VmRSS") for p in pids) / 1024


def pss_mib(pids):
    return sum(proc_kib(p, "smaps_rollup", "Pss") for p in pids) / 1024


def pin(pids, cpu=SERVER_CPU):
    """Pin every thread of pids to cpu (processes forked later inherit)."""
    for pid in pids:
        subprocess.run(["taskset", "-acp", cpu, str(pid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def http_status(port, path):
    """The status of GET path on a new connection, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\n"
                      b"Connection: close\r\n\r\n" % path.encode())
            line = s.recv(64)
        return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        return None


def wait_ready(port, path, t0, timeout=15):
    """Milliseconds from t0 to the first 200 of path (polled every 2 ms)."""
    while time.monotonic() - t0 < timeout:
        if http_status(port, path) == 200:
            return (time.monotonic() - t0) * 1000
        time.sleep(0.002)
    raise LoadError("%s not 200 within %ds" % (path, timeout))


def wait_listening(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)
    raise LoadError("nothing listens on port %d" % port)


# --- nginx -----------------------------------------------------------------

NGINX_HTTP = """
worker_processes 1;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path %(prefix)s/body;
    proxy_temp_path %(prefix)s/proxy;
    fastcgi_temp_path %(prefix)s/fastcgi;
    uwsgi_temp_path %(prefix)s/uwsgi;
    scgi_temp_path %(prefix)s/scgi;
    keepalive_requests 1000000;
%(body)s
}
"""


def upstream_conf(prefix, port):
    """The fast fake upstream: a fixed chat.completion, at once."""
    answer = json.dumps(ANSWER).replace("'", "\\'")
    return NGINX_HTTP % {"prefix": prefix, "body": """
    server {
        listen 127.0.0.1:%d;
        location / {
            default_type application/json;
            return 200 '%s';
        }
    }""" % (port, answer)}


def proxy_conf(prefix, port, fast_port, py_port):
    """The baseline proxy: /v1/ to the nginx upstream, /slow/ and /stream/
    (unbuffered) to bench_upstream.py."""
    return NGINX_HTTP % {"prefix": prefix, "body": """
    upstream fast { server 127.0.0.1:%(fast)d; keepalive 64;
                    keepalive_requests 1000000; }
    upstream py { server 127.0.0.1:%(py)d; keepalive 64;
                  keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:%(port)d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location / { proxy_pass http://fast; }
        location /slow/ { proxy_pass http://py; }
        location /stream/ { proxy_pass http://py; proxy_buffering off; }
    }""" % {"port": port, "fast": fast_port, "py": py_port}}


def start_nginx(tmp, name, conf):
    prefix = os.path.join(tmp, name)
    os.mkdir(prefix)
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf(prefix))
    return subprocess.Popen(["taskset", "-c", SERVER_CPU, "nginx", "-p",
                             prefix, "-c", path, "-g", "daemon off;"],
                            start_new_session=True)


# --- wrk -------------------------------------------------------------------

def lua_script(path, body, keys=None):
    """POST body; with keys, each request uses the next key in turn (many
    users, as in production, not one user's account row)."""
    lua = ('wrk.method = "POST"\nwrk.body = [[%s]]\n'
           'wrk.headers["Content-Type"] = "application/json"\n' %
           json.dumps(body))
    if keys:
        lua += "local keys = {%s}\nlocal i = 0\n" % ", ".join(
            '"%s"' % k for k in keys)
        lua += ("request = function()\n"
                "  i = i % #keys + 1\n"
                "  wrk.headers[\"Authorization\"] = \"Bearer \" .. keys[i]\n"
                "  return wrk.format()\n"
                "end\n")
    with open(path, "w") as f:
        f.write(lua)


def wrk(url, lua, connections, duration):
    """One wrk run on CPU 0: rps, p50 and p99 in ms, errors, requests."""
    r = subprocess.run(["taskset", "-c", LOAD_CPU, "wrk", "-t1",
                        "-c%d" % connections, "-d%ds" % duration,
                        "--timeout", "10s", "--latency", "-s", lua, url],
                       capture_output=True, text=True)
    out = r.stdout
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or total is None:
        raise LoadError("wrk: %s" % (r.stderr.strip() or out.strip())[-200:])
    if int(total.group(1)) == 0:
        # wrk prints zero latencies then: no answer came within the load.
        raise LoadError("no request completed in %ds" % duration)

    def pct(p):
        m = re.search(r"^\s+%s%%\s+([0-9.]+)(us|ms|s)" % p, out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    return {"rps": float(rps.group(1)), "p50": pct(50), "p99": pct(99),
            "errors": errors, "requests": int(total.group(1))}


# --- streams (asyncio client, raw HTTP/1.1) --------------------------------

FIRST_CONTENT = re.compile(rb'"content":\s*"[^"]')


def stream_request(port, path, body, key):
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n" %
            (path, port, len(body)))
    if key:
        head += "Authorization: Bearer %s\r\n" % key
    return head.encode() + b"\r\n" + body


async def stream_once(reader, writer, request):
    """Send one streaming request on an open connection and read the whole
    answer. Returns (seconds to the first content event, whether the
    stream ended with [DONE], whether the connection stays open)."""
    t0 = time.monotonic()
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    first, tail, done = None, b"", False

    def seen(data):
        nonlocal first, tail, done
        text = tail + data
        if first is None and FIRST_CONTENT.search(text):
            first = time.monotonic() - t0
        if b"data: [DONE]" in text:
            done = True
        tail = text[-32:]

    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            seen((await reader.readexactly(size + 2))[:-2])
    elif "content-length" in headers:
        seen(await reader.readexactly(int(headers["content-length"])))
    else:
        seen(await reader.read())
        return first, False, False
    ok = status == 200 and done and first is not None
    return first, ok, headers.get("connection") != "close"


async def stream_load(port, path, body, keys, clients, duration):
    """clients connections, each streaming one answer after another for
    duration seconds. Returns streams/s and first-content times."""
    keys = itertools.cycle(keys or [None])
    body = json.dumps(body).encode()
    firsts, errors = [], []
    completed = 0
    start = time.monotonic()
    deadline = start + duration

    async def client():
        nonlocal completed
        reader = writer = None
        while time.monotonic() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", port)
                first, ok, keep = await asyncio.wait_for(stream_once(
                    reader, writer, stream_request(port, path, body,
                                                   next(keys))), 30)
            except (OSError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError, ValueError) as e:
                errors.append(repr(e))
                ok, keep = False, False
            if ok:
                completed += 1
                firsts.append(first)
            elif len(errors) < 1000:
                errors.append("bad stream")
            if not keep and writer is not None:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - start
    if not firsts:
        raise LoadError("no stream completed: %s" % (errors[:1],))
    firsts.sort()
    return {"sps": completed / elapsed,
            "ttfc": firsts[len(firsts) // 2] * 1000,
            "ttfc99": firsts[min(len(firsts) - 1,
                                 int(len(firsts) * 0.99))] * 1000,
            "errors": len(errors)}


async def stream_burst(port, path, body, keys, n, pids):
    """n streams at once, one per connection; while they run, the summed
    VmRSS of pids() is sampled every 20 ms. Returns completed, peak MiB."""
    keys = itertools.cycle(keys or [None])
    body = json.dumps(body).encode()
    peak = 0.0
    running = True

    async def sample():
        nonlocal peak
        while running:
            if pids is not None:
                peak = max(peak, rss_mib(pids()))
            await asyncio.sleep(0.02)

    async def one(key):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                _, ok, _ = await asyncio.wait_for(stream_once(
                    reader, writer, stream_request(port, path, body, key)),
                    BURST_TIMEOUT)
                return ok
            finally:
                writer.close()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                ValueError):
            return False

    sampler = asyncio.ensure_future(sample())
    done = await asyncio.gather(*(one(next(keys)) for _ in range(n)))
    running = False
    await sampler
    return {"burst_ok": sum(done),
            "burst_rss": peak if pids is not None else None}


# --- one column --------------------------------------------------------------

class Target:
    """How to load one column: (port, path, body) per kind of load (None:
    not applicable), the keys to use in turn, the processes whose CPU and
    memory count, and the database when tollgate is behind it."""

    def __init__(self, fast, slow, stream, keys=None, cpu=None,
                 cpu_pg=None, rss=None, db=None):
        self.fast, self.slow, self.stream = fast, slow, stream
        self.keys = keys
        self.cpu = cpu          # () -> root pids of the server
        self.cpu_pg = cpu_pg    # () -> root pids of PostgreSQL, or None
        self.rss = rss          # () -> pids to sample, or None
        self.db = db


class Bench:
    def __init__(self, tmp, pg, db):
        self.tmp = tmp
        self.pg = pg
        self.db = db
        self.results = {c: {} for c in COLUMNS}
        self.errors = []
        self.failed = []        # (column, load) of every failed load
        self.ledger = {}

    def record(self, col, what, fn):
        """Run one load; on failure, ERR in its cells and the error kept."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - one bad load must not end it
            self.errors.append("%s, %s: %s" % (HEADINGS[col], what, e))
            self.failed.append((col, what))
            print("  %-10s %-18s ERROR %s" % (HEADINGS[col], what, e),
                  flush=True)
            return None

    def lua(self, name, body, keys):
        path = os.path.join(self.tmp, name + ".lua")
        lua_script(path, body, keys)
        return path

    def statements(self):
        """Top-level statements tollgate's role ran in the bench database
        since the last pg_stat_statements_reset()."""
        return int(self.db.query(
            "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s "
            "JOIN pg_roles r ON r.oid = s.userid "
            "JOIN pg_database d ON d.oid = s.dbid "
            "WHERE r.rolname = %s AND d.datname = %s AND s.toplevel",
            APP_ROLE, self.db.name)[0][0])

    def check_ledger(self, col, what):
        """ledger_check() now; the column keeps its first problem."""
        problems = self.db.query("SELECT count(*) FROM ledger_check()")[0][0]
        if not problems:
            return "ledger clean"
        self.ledger.setdefault(col, "%d problems after %s" % (problems,
                                                              what))
        return "ledger: %d problems" % problems

    def column(self, col, t):
        res = self.results[col]
        db = t.db is not None

        def fast64():
            port, path, body = t.fast
            url = "http://127.0.0.1:%d%s" % (port, path)
            lua = self.lua(col + "-fast", body, t.keys)
            try:
                wrk(url, lua, CONNECTIONS, 1)    # warm up; any result
            except LoadError:
                pass
            if db:
                self.db.query("SELECT pg_stat_statements_reset()")
            tg0 = cpu_ticks(t.cpu())
            pg0 = cpu_ticks(t.cpu_pg()) if t.cpu_pg else 0
            r = wrk(url, lua, CONNECTIONS, DURATION)
            tg1 = cpu_ticks(t.cpu())
            pg1 = cpu_ticks(t.cpu_pg()) if t.cpu_pg else 0
            per = 1e6 / TICK / max(1, r["requests"])
            res.update(rps=r["rps"], p50=r["p50"], p99=r["p99"],
                       errors=r["errors"],
                       cpu=((tg1 - tg0) + (pg1 - pg0)) * per)
            note = ""
            if db:
                res.update(cpu_tg=(tg1 - tg0) * per,
                           cpu_pg=(pg1 - pg0) * per,
                           stmts=self.statements() / max(1, r["requests"]))
                note = "%.1f stmts/call, %s" % (
                    res["stmts"], self.check_ledger(col, "64 connections"))
            print("  %-10s %-18s %8.0f req/s  p50 %.2f ms  p99 %.2f ms  "
                  "%.0f µs CPU/call  %d errors  %s" %
                  (HEADINGS[col], "%d connections" % CONNECTIONS, r["rps"],
                   r["p50"], r["p99"], res["cpu"], r["errors"], note),
                  flush=True)

        def fast1():
            port, path, body = t.fast
            r = wrk("http://127.0.0.1:%d%s" % (port, path),
                    self.lua(col + "-fast", body, t.keys), 1, DURATION)
            res.update(p50_1=r["p50"] * 1000, p99_1=r["p99"] * 1000)
            print("  %-10s %-18s p50 %.0f µs  p99 %.0f µs  %d errors" %
                  (HEADINGS[col], "1 connection", res["p50_1"],
                   res["p99_1"], r["errors"]), flush=True)

        def slow():
            port, path, body = t.slow
            r = wrk("http://127.0.0.1:%d%s" % (port, path),
                    self.lua(col + "-slow", body, t.keys), CONNECTIONS,
                    DURATION)
            res.update(slow_p50=r["p50"], slow_p99=r["p99"])
            note = self.check_ledger(col, "50 ms upstream") if db else ""
            print("  %-10s %-18s %8.0f req/s  p50 %.2f ms  p99 %.2f ms  "
                  "%d errors  %s" % (HEADINGS[col], "50 ms upstream",
                                     r["rps"], r["p50"], r["p99"],
                                     r["errors"], note), flush=True)

        def streams():
            port, path, body = t.stream
            r = asyncio.run(stream_load(port, path, body, t.keys,
                                        CONNECTIONS, DURATION))
            res.update(sps=r["sps"], ttfc=r["ttfc"], ttfc99=r["ttfc99"])
            note = self.check_ledger(col, "streams") if db else ""
            print("  %-10s %-18s %8.1f streams/s  first content p50 %.2f "
                  "ms  p99 %.2f ms  %d errors  %s" %
                  (HEADINGS[col], "%d streams" % CONNECTIONS, r["sps"],
                   r["ttfc"], r["ttfc99"], r["errors"], note), flush=True)

        def burst():
            port, path, body = t.stream
            t0 = time.monotonic()
            r = asyncio.run(stream_burst(port, path, body, t.keys, BURST,
                                         t.rss))
            took = time.monotonic() - t0
            res.update(r)
            note = self.check_ledger(col, "%d streams" % BURST) if db else ""
            print("  %-10s %-18s %d/%d completed in %.1f s  peak RSS %s  %s"
                  % (HEADINGS[col], "%d streams" % BURST, r["burst_ok"],
                     BURST, took, "%.1f MiB" % r["burst_rss"]
                     if r["burst_rss"] else "-", note), flush=True)

        for what, fn, need in (("%d connections" % CONNECTIONS, fast64,
                                t.fast),
                               ("1 connection", fast1, t.fast),
                               ("50 ms upstream", slow, t.slow),
                               ("%d streams" % CONNECTIONS, streams,
                                t.stream),
                               ("%d streams" % BURST, burst, t.stream)):
            if need is not None:
                self.record(col, what, fn)
        if db:
            res["ledger"] = self.ledger.get(col, "clean")


# --- tollgate ---------------------------------------------------------------

def tollgate_env(rpath, workers, strict):
    env = {"TOLLGATE_ROUTER_CONFIG": rpath,
           "TOLLGATE_WORKERS": str(workers),
           # Kore's default accept threshold, not the tests' 1.
           "TOLLGATE_ACCEPT_THRESHOLD": None}
    if strict:
        env["TOLLGATE_STRICT_SETTLEMENT"] = "1"
    return env


def pinned_tollgate(url, env):
    """A Tollgate started on CPU 1 (Kore sets each worker's affinity, so
    pin() again once it runs)."""
    return Tollgate(url, env=env, binary="/usr/bin/taskset",
                    args=["-c", SERVER_CPU, BINARY, "-f", "-n", "-r"])


def idle(url, rpath, strict):
    """Start tollgate with 2 workers: ms to the first /readyz 200, then the
    summed VmRSS and PSS of its processes once both workers idle."""
    server = pinned_tollgate(url, tollgate_env(rpath, 2, strict))
    try:
        logf = open(server.logpath, "ab")
        t0 = time.monotonic()
        server.proc = subprocess.Popen(
            [server.binary] + server.args, cwd=server.workdir,
            env=server.env, stdout=logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        ready = wait_ready(server.port, "/readyz", t0)
        deadline = time.monotonic() + 10
        while not server._workers_up() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
        pids = server.pids()
        return {"ready": ready, "idle_rss": rss_mib(pids),
                "idle_pss": pss_mib(pids)}
    finally:
        server.stop(check_sanitizer=False)


# --- the table ---------------------------------------------------------------

def derive(results):
    """Ratios against nginx and what each column adds over direct."""
    d, n = results["direct"], results["nginx"]
    for col in COLUMNS:
        r = results[col]

        def ratio(key, base, out):
            if isinstance(r.get(key), float) and base.get(key):
                r[out] = r[key] / base[key]

        def added(key, out):
            if col != "direct" and isinstance(r.get(key), float) and \
                    isinstance(d.get(key), float):
                r[out] = r[key] - d[key]
        if col != "direct":
            ratio("rps", n, "rps_x")
            ratio("cpu", n, "cpu_x")
            ratio("sps", n, "sps_x")
        added("p50_1", "add50_1")
        added("p99_1", "add99_1")
        added("slow_p50", "slow_add50")
        added("slow_p99", "slow_add99")
        added("ttfc", "ttfc_add")
        added("ttfc99", "ttfc_add99")


def meets(value, target):
    op, bound, _ = target
    if op == ">=":
        return value >= bound
    if op == "<=":
        return value <= bound
    return value == bound


def cell(results, col, key, fmt, target, missing):
    """A cell's text; a missed target is marked ✗."""
    v = results[col].get(key)
    if v is None:
        return missing.get((col, key), "—")
    text = fmt % v
    if target is not None and col in GATEWAY and not meets(v, target):
        text += " ✗"
    return text


def table(results, failed):
    """The rows of the table as lists of cells, sections as 1-cell rows."""
    out = [["metric"] + [HEADINGS[c] for c in COLUMNS] + ["target"]]
    missing = {}
    for col, what in failed:
        for k in FILLS.get(what, []):
            missing[(col, k)] = "ERR"
    for key, label, fmt, target in ROWS:
        if key is None:
            out.append([label])
            continue
        out.append([label] + [cell(results, c, key, fmt, target, missing)
                              for c in COLUMNS] +
                   [target[2] if target else ""])
    return out


def print_text(rows):
    widths = [max(len(r[i]) for r in rows if len(r) > 1)
              for i in range(len(rows[0]))]
    for r in rows:
        if len(r) == 1:
            print(r[0])
            continue
        print("  ".join([r[0].ljust(widths[0])] +
                        [c.rjust(w) for c, w in zip(r[1:], widths[1:])]))


def print_markdown(rows):
    print("| " + " | ".join(rows[0]) + " |")
    print("|---|" + "---:|" * (len(rows[0]) - 2) + "---|")
    for r in rows[1:]:
        if len(r) == 1:
            print("| **%s** |" % r[0] + " |" * (len(rows[0]) - 1))
        else:
            print("| " + " | ".join(r) + " |")


def summary(results):
    """Per gateway column: the targets met, and the misses by name."""
    for col in GATEWAY:
        met, misses = 0, []
        for key, label, _, target in ROWS:
            if key is None or target is None:
                continue
            v = results[col].get(key)
            if v is None:
                misses.append("%s (no value)" % key)
            elif meets(v, target):
                met += 1
            else:
                misses.append(key)
        print("%-11s %d targets met; missed: %s" %
              (HEADINGS[col], met, ", ".join(misses) or "none"))


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return "%s, %d CPUs (nproc), %s, %d MiB RAM, Linux %s" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
        model, mem, platform.release())


def fsync_ms(directory, n=50):
    """Median milliseconds of an 8 KiB write + fdatasync in directory (where
    PostgreSQL's WAL goes): at default durability every commit waits for
    one."""
    path = os.path.join(directory, "fsync-probe")
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(n):
            t0 = time.monotonic()
            os.pwrite(fd, b"\0" * 8192, 0)
            os.fdatasync(fd)
            times.append((time.monotonic() - t0) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    return sorted(times)[n // 2]


def loadavg():
    """The 1-minute load average: other work on the machine skews a run."""
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


# --- main ------------------------------------------------------------------

# What each kind of load fills in, to mark a failed load's cells ERR.
FILLS = {
    "%d connections" % CONNECTIONS: ["rps", "rps_x", "p50", "p99", "errors",
                                     "cpu", "cpu_x", "cpu_tg", "cpu_pg",
                                     "stmts"],
    "1 connection": ["p50_1", "p99_1", "add50_1", "add99_1"],
    "50 ms upstream": ["slow_p50", "slow_add50", "slow_add99"],
    "%d streams" % CONNECTIONS: ["sps", "sps_x", "ttfc", "ttfc_add",
                                 "ttfc_add99"],
    "%d streams" % BURST: ["burst_ok", "burst_rss"],
    "idle": ["idle_rss", "idle_pss", "ready"],
}


def main():
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None:
            sys.exit("bench: needs %s (scripts/deps.sh --test)" % tool)
    if os.cpu_count() < 2:
        sys.exit("bench: needs 2 CPUs (load generator and servers apart)")
    # This script is a load generator too (streams): CPU 0, with room for
    # a thousand connections (children inherit the limit).
    os.sched_setaffinity(0, {int(LOAD_CPU)})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    tmp = tempfile.mkdtemp(prefix="tg-bench-")
    host = machine()
    print("tollgate bench: %s" % host)
    print("%ds per load, %d connections, wrk -t1 and the stream client on "
          "CPU %s; servers and PostgreSQL (%s) on CPU %s; "
          "%d tollgate worker(s), %d users" %
          (DURATION, CONNECTIONS, LOAD_CPU,
           "default durability" if DURABLE else
           "BENCH_DURABLE=0: fsync, synchronous_commit, full_page_writes off",
           SERVER_CPU, WORKERS, USERS),
          flush=True)
    load0, sync = loadavg(), fsync_ms(tmp)
    print("load average before the run: %s; 8 KiB write + fdatasync where "
          "PostgreSQL writes: %.2f ms (median)" % (load0, sync), flush=True)
    began = time.monotonic()

    pg = PgCluster(durable=DURABLE, settings={
        "shared_preload_libraries": "pg_stat_statements",
        "pg_stat_statements.track": "top"})
    procs = []
    server = None
    try:
        pg.start()
        pin(descendants(pg.postmaster_pid()))
        pg.create_template()
        db = Database(pg, pg.new_db())
        db.query("CREATE EXTENSION pg_stat_statements")

        fast_port, proxy_port, py_port = free_port(), free_port(), free_port()
        upstream = start_nginx(tmp, "upstream",
                               lambda p: upstream_conf(p, fast_port))
        procs.append(upstream)
        py = subprocess.Popen(["taskset", "-c", SERVER_CPU, sys.executable,
                               os.path.join(ROOT, "scripts",
                                            "bench_upstream.py"),
                               str(py_port)], start_new_session=True)
        procs.append(py)
        wait_ready(fast_port, "/", time.monotonic())
        wait_listening(py_port)
        t0 = time.monotonic()
        nginx = start_nginx(tmp, "proxy", lambda p: proxy_conf(
            p, proxy_port, fast_port, py_port))
        procs.append(nginx)
        bench = Bench(tmp, pg, db)
        try:
            ready = wait_ready(proxy_port, COMPLETIONS, t0)
            time.sleep(0.5)
            pids = descendants(nginx.pid)
            bench.results["nginx"].update(ready=ready,
                                          idle_rss=rss_mib(pids),
                                          idle_pss=pss_mib(pids))
        except LoadError as e:
            bench.errors.append("nginx, idle: %s" % e)
            bench.failed.append(("nginx", "idle"))

        router = {"providers": [
            {"name": "echo", "family": "echo", "chunk_delay_ms": 10,
             "models": [{"name": "echo-1", "max_output_tokens": 4096}]},
            {"name": "bench", "family": "openai",
             "base_url": "http://127.0.0.1:%d/v1" % fast_port,
             "api_key_required": False,
             "models": [{"name": "m", "max_output_tokens": 4096}]},
            {"name": "slow", "family": "openai",
             "base_url": "http://127.0.0.1:%d/slow/v1" % py_port,
             "api_key_required": False,
             "models": [{"name": "m", "max_output_tokens": 4096}]},
            {"name": "stream", "family": "openai",
             "base_url": "http://127.0.0.1:%d/stream/v1" % py_port,
             "api_key_required": False,
             "models": [{"name": "m", "max_output_tokens": 4096}]},
        ]}
        rpath = os.path.join(tmp, "router.json")
        with open(rpath, "w") as f:
            json.dump(router, f)

        hot, _, _ = seed_key(db)
        keys = []
        for i in range(USERS):
            key, user, _ = seed_key(db)
            keys.append(key)
        db.query("SELECT credits_grant(k.user_id, 1000000000000000, "
                 "'admin_grant', 'bench', 'bench-grant-' || k.user_id, "
                 "false) FROM api_keys k")
        for model in ("bench:m", "slow:m", "stream:m"):
            db.query("INSERT INTO model_prices (model, "
                     "input_micros_per_mtok, cached_input_micros_per_mtok, "
                     "output_micros_per_mtok) "
                     "VALUES (%s, 150000, 75000, 600000)", model)

        def body(model, stream=False, text=None):
            b = {"model": model, "max_tokens": 64,
                 "messages": [{"role": "user",
                               "content": text or MESSAGES[0]["content"]}]}
            if stream:
                b["stream"] = True
            return b

        chat, slow, stream = (body("bench:m"), body("slow:m"),
                              body("stream:m", True))
        print("\nloads:", flush=True)
        bench.column("direct", Target(
            (fast_port, COMPLETIONS, chat),
            (py_port, "/slow" + COMPLETIONS, slow),
            (py_port, "/stream" + COMPLETIONS, stream),
            cpu=lambda: [upstream.pid]))
        bench.column("nginx", Target(
            (proxy_port, COMPLETIONS, chat),
            (proxy_port, "/slow" + COMPLETIONS, slow),
            (proxy_port, "/stream" + COMPLETIONS, stream),
            cpu=lambda: [nginx.pid], rss=lambda: descendants(nginx.pid)))

        for strict in (False, True):
            suffix = "_s" if strict else ""
            cols = ["hot", "users"] + ([] if strict else ["echo"])
            r = bench.record(cols[0] + suffix, "idle",
                             lambda: idle(db.url, rpath, strict))
            for col in cols:
                if r is None:
                    bench.failed.append((col + suffix, "idle"))
                else:
                    bench.results[col + suffix].update(r)
            server = pinned_tollgate(db.url, tollgate_env(rpath, WORKERS,
                                                          strict))
            server.start()
            pin(server.pids())
            s = server

            def tg(fast, slow_, stream_, keys_):
                return Target((s.port, COMPLETIONS, fast),
                              slow_ and (s.port, COMPLETIONS, slow_),
                              (s.port, COMPLETIONS, stream_), keys=keys_,
                              cpu=lambda: [s.proc.pid],
                              cpu_pg=lambda: [pg.postmaster_pid()],
                              rss=s.pids, db=db)
            bench.column("hot" + suffix, tg(chat, slow, stream,
                                            [hot]))
            bench.column("users" + suffix, tg(chat, slow, stream,
                                              keys))
            if not strict:
                bench.column("echo", tg(
                    body("echo:echo-1"), None,
                    body("echo:echo-1", True, ECHO_WORDS), keys))
            server.stop(check_sanitizer=False)
            server = None

        derive(bench.results)
        rows = table(bench.results, bench.failed)
        print("\nresults (✗: misses the target; CPU per call: tollgate and "
              "PostgreSQL processes, nginx's own processes, direct: the "
              "upstream nginx; added: over direct):\n")
        print_text(rows)
        print()
        summary(bench.results)
        load1 = loadavg()
        print("\nrun took %.0f s; load average at the end: %s" %
              (time.monotonic() - began, load1))
        if bench.errors:
            print("\nerrors:")
            for e in bench.errors:
                print("  " + e)
        print("\nMarkdown (README, Performance):\n")
        print("%s; %ds per load, %d connections, %d tollgate worker(s), "
              "PostgreSQL %s (fdatasync %.2f ms); load average %s before, "
              "%s after.\n" %
              (host, DURATION, CONNECTIONS, WORKERS,
               "at default durability" if DURABLE else "with BENCH_DURABLE=0",
               sync, load0, load1))
        print_markdown(rows)
    finally:
        if server is not None:
            server.stop(check_sanitizer=False)
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            p.wait()
        pg.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
