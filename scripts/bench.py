#!/usr/bin/python3
"""make bench: load, on 127.0.0.1 and in one run,

  direct   a fake OpenAI upstream (nginx answering a fixed chat.completion),
  nginx    an nginx proxy_pass in front of it (the baseline a gateway is
           measured against),
  tollgate tollgate routing to that upstream with full accounting (API key,
           hold, settlement, usage record),
  echo     tollgate's built-in echo provider with full accounting (no
           upstream at all),

each with wrk (keep-alive, POST /v1/chat/completions), and print one table
with throughput, latency and the ratios against direct and nginx.

Throughput on a shared 2-core machine is noisy: compare ratios from one
run, not absolute numbers across runs. Nothing here is a test; it never
runs under make test.

Environment: BENCH_DURATION (seconds per load, default 10),
BENCH_CONNECTIONS (default 32), BENCH_WORKERS (tollgate workers, default 1),
BENCH_USERS (users with a key each, used in turn; default 64).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from lib.pg import Database, PgCluster  # noqa: E402
from lib.server import Tollgate, free_port  # noqa: E402
from lib.keys import seed_key  # noqa: E402

DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
USERS = int(os.environ.get("BENCH_USERS", "64"))

ANSWER = {
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant",
                             "content": "Hello from the bench upstream."}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7,
              "total_tokens": 19},
}

REQUEST = {"model": "bench:m", "max_tokens": 64,
           "messages": [{"role": "user", "content": "Say hello."}]}


def nginx_conf(prefix, up_port, proxy_port):
    body = json.dumps(ANSWER).replace("'", "\\'")
    return """
worker_processes 1;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(prefix)s/body;
    proxy_temp_path %(prefix)s/proxy;
    fastcgi_temp_path %(prefix)s/fastcgi;
    uwsgi_temp_path %(prefix)s/uwsgi;
    scgi_temp_path %(prefix)s/scgi;
    keepalive_requests 1000000;
    upstream fake { server 127.0.0.1:%(up)d; keepalive 64; }
    server {
        listen 127.0.0.1:%(up)d;
        location / {
            default_type application/json;
            return 200 '%(body)s';
        }
    }
    server {
        listen 127.0.0.1:%(proxy)d;
        location / {
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
""" % {"prefix": prefix, "up": up_port, "proxy": proxy_port, "body": body}


def wrk(url, lua):
    out = subprocess.run(["wrk", "-t1", "-c%d" % CONNECTIONS,
                          "-d%ds" % DURATION, "--latency", "-s", lua, url],
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))

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
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "errors": errors}


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


def main():
    if shutil.which("wrk") is None or shutil.which("nginx") is None:
        sys.exit("bench: needs wrk and nginx (scripts/deps.sh --test)")

    tmp = tempfile.mkdtemp(prefix="tg-bench-")
    pg = PgCluster()
    nginx = None
    server = None
    try:
        pg.start()
        pg.create_template()
        dbname = pg.new_db()

        up_port, proxy_port = free_port(), free_port()
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(nginx_conf(tmp, up_port, proxy_port))
        nginx = subprocess.Popen(["nginx", "-p", tmp, "-c",
                                  os.path.join(tmp, "nginx.conf"), "-g",
                                  "daemon off;"], start_new_session=True)
        time.sleep(0.5)

        router = {"providers": [
            {"name": "echo", "family": "echo",
             "models": [{"name": "echo-1", "max_output_tokens": 4096}]},
            {"name": "bench", "family": "openai",
             "base_url": "http://127.0.0.1:%d/v1" % up_port,
             "api_key_required": False,
             "models": [{"name": "m", "max_output_tokens": 4096}]},
        ]}
        rpath = os.path.join(tmp, "router.json")
        with open(rpath, "w") as f:
            json.dump(router, f)

        db = Database(pg, dbname)
        keys = []
        for i in range(USERS):
            key, user, _ = seed_key(db)
            db.query("SELECT credits_grant(%s, 1000000000000000, "
                     "'admin_grant', 'bench', %s, false)", user,
                     "bench-grant-%d" % i)
            keys.append(key)
        db.query("INSERT INTO model_prices (model, input_micros_per_mtok, "
                 "cached_input_micros_per_mtok, output_micros_per_mtok) "
                 "VALUES ('bench:m', 150000, 75000, 600000)")

        server = Tollgate(pg.url(dbname), env={
            "TOLLGATE_ROUTER_CONFIG": rpath,
            "TOLLGATE_WORKERS": str(WORKERS)})
        server.start()

        direct_lua = os.path.join(tmp, "direct.lua")
        lua_script(direct_lua, REQUEST)
        routed_lua = os.path.join(tmp, "routed.lua")
        lua_script(routed_lua, REQUEST, keys)
        echo_lua = os.path.join(tmp, "echo.lua")
        lua_script(echo_lua, dict(REQUEST, model="echo:echo-1"), keys)

        # Warm up every path once (connections, caches).
        for url, lua in (("http://127.0.0.1:%d" % up_port, direct_lua),):
            subprocess.run(["wrk", "-t1", "-c4", "-d1s", "-s", lua,
                            url + "/v1/chat/completions"],
                           capture_output=True)

        rows = []
        rows.append(("direct", wrk("http://127.0.0.1:%d/v1/chat/completions"
                                   % up_port, direct_lua)))
        rows.append(("nginx", wrk("http://127.0.0.1:%d/v1/chat/completions"
                                  % proxy_port, direct_lua)))
        rows.append(("tollgate", wrk(server.url + "/v1/chat/completions",
                                     routed_lua)))
        rows.append(("echo", wrk(server.url + "/v1/chat/completions",
                                 echo_lua)))

        charged = db.query("SELECT count(*) FROM usage_records")[0][0]
        problems = db.query("SELECT count(*) FROM ledger_check()")[0][0]

        direct = rows[0][1]["rps"]
        nginx_rps = rows[1][1]["rps"]
        print()
        print("tollgate bench: %ds per load, %d connections, wrk -t1, "
              "%d tollgate worker(s), %d users, 127.0.0.1" %
              (DURATION, CONNECTIONS, WORKERS, USERS))
        print("%-10s %10s %9s %9s %8s %10s %9s" %
              ("target", "req/s", "p50 ms", "p99 ms", "errors",
               "vs direct", "vs nginx"))
        for name, r in rows:
            print("%-10s %10.0f %9.2f %9.2f %8d %9.2fx %8.2fx" %
                  (name, r["rps"], r["p50"], r["p99"], r["errors"],
                   r["rps"] / direct, r["rps"] / nginx_rps))
        print()
        print("accounted calls: %d usage records; ledger check: %s" %
              (charged, "consistent" if problems == 0 else
               "%d problems" % problems))
    finally:
        if server is not None:
            server.stop(check_sanitizer=False)
        if nginx is not None:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait()
        pg.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
