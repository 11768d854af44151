#!/usr/bin/python3
"""Tollgate's idle footprint and start time, against a private migrated
PostgreSQL (tests/lib): for each of FOOT_RUNS starts of ./tollgate with
FOOT_WORKERS workers (default 2), the time from exec to the first
/readyz 200 (polled every 2 ms), then, FOOT_SETTLE seconds later, VmRSS
and Pss summed over the parent and its workers. FOOT_SMAPS=1 also
prints each process's largest mappings. Nothing here is a test."""

import os
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from lib.pg import PgCluster  # noqa: E402
from lib.server import base_env, free_port  # noqa: E402

RUNS = int(os.environ.get("FOOT_RUNS", "5"))
WORKERS = os.environ.get("FOOT_WORKERS", "2")
SETTLE = float(os.environ.get("FOOT_SETTLE", "1"))
BINARY = os.environ.get("TOLLGATE_BIN", os.path.join(ROOT, "tollgate"))


def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def smaps(pid):
    maps, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):
                cur = [parts[0], parts[5] if len(parts) > 5 else "[anon]", 0]
                maps.append(cur)
            elif parts[0] == "Rss:":
                cur[2] = int(parts[1])
    maps.sort(key=lambda m: -m[2])
    return maps


def one(url, workdir):
    port = free_port()
    env = base_env(url, port, workdir)
    env["TOLLGATE_WORKERS"] = WORKERS
    env.pop("TOLLGATE_ACCEPT_THRESHOLD")
    log = open(os.path.join(workdir, "log"), "wb")
    t0 = time.monotonic()
    p = subprocess.Popen([BINARY, "-f", "-n", "-r"], cwd=workdir, env=env,
                         stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    while not ready(port):
        if p.poll() is not None or time.monotonic() - t0 > 10:
            raise SystemExit("did not start: " +
                             open(os.path.join(workdir, "log")).read())
        time.sleep(0.002)
    ms = (time.monotonic() - t0) * 1000
    time.sleep(SETTLE)
    pids = [int(x) for x in subprocess.run(
        ["pgrep", "-g", str(p.pid)], capture_output=True,
        text=True).stdout.split()]
    rss = sum(status(x, "VmRSS") for x in pids)
    ps = sum(pss(x) for x in pids)
    if os.environ.get("FOOT_SMAPS"):
        for x in pids:
            print("pid %d VmRSS %d kB" % (x, status(x, "VmRSS")))
            for m in smaps(x)[:14]:
                print("   %6d kB  %s %s" % (m[2], m[0], m[1]))
    p.terminate()
    p.wait(timeout=10)
    return ms, rss, ps, len(pids)


def main():
    pg = PgCluster()
    try:
        pg.start()
        pg.create_template()
        url = pg.url(pg.new_db())
        rows = []
        for i in range(RUNS):
            workdir = os.path.join(pg.dir, "run%d" % i)
            os.mkdir(workdir)
            os.chmod(workdir, 0o777)
            rows.append(one(url, workdir))
            print("run %d: ready %.0f ms, VmRSS %.1f MiB, Pss %.1f MiB, "
                  "%d processes" % (i, rows[-1][0], rows[-1][1] / 1024,
                                    rows[-1][2] / 1024, rows[-1][3]),
                  flush=True)
        for k, name in ((0, "ready ms"), (1, "VmRSS kB"), (2, "Pss kB")):
            v = sorted(r[k] for r in rows)
            print("%s: min %.0f median %.0f max %.0f" %
                  (name, v[0], v[len(v) // 2], v[-1]))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
