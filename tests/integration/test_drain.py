"""Graceful drain on SIGTERM (docs/operations.md, "Deploys and SIGTERM").

A SIGTERM to the parent, as systemd and docker send it, during 20 open
streams (chat completions and /v1/messages, over a slow Anthropic fake):
/readyz answers 503 at once and new connections are refused while the
calls in flight go on; calls that finish within TOLLGATE_DRAIN_SECONDS
end normally and are settled by the provider's usage; calls still open
at the deadline end as their surface ends a failure (an error event,
then [DONE] on chat completions; a 503 with Retry-After before any
byte) and are settled by estimate as a call the client left, never for
their whole hold. Then the process exits 0 with no hold pending, every
lease given back and the ledger clean. Costs are read back through
GET /api/usage/requests (on a second process: the first one is gone).
"""

import http.client
import json
import os
import signal
import socket
import threading
import time

import pytest

pytest.importorskip("lib.router")

from lib import auth as _auth  # noqa: E402
from lib.credits import (check_ledger, cost, grant, holds,  # noqa: E402
                         leased, set_price, settled)
from lib.families import AnthropicFake  # noqa: E402
from lib.keys import auth, seed_key  # noqa: E402
from lib.router import (FakeReply, catalog, fake,  # noqa: E402,F401
                        router_env, sse_request, user)

ANTH_KEY = "sk-ant-provider-secret-d7a1"
CLAUDE = dict(inp=3000000, cached=300000, out=15000000)
FAKE_PRICE = dict(inp=1000000, out=2000000)
PROMPT = 25             # the Anthropic fake's input_tokens
OUTPUT = 12             # and its output_tokens
STREAMS = 20


class Drain:
    """A tollgate (two workers) whose anthropic provider is a fake; a
    signed-in user with credits and an API key."""

    def __init__(self, tollgate, db, fake, anth, env):
        self.tollgate, self.db, self.fake, self.anth = (tollgate, db, fake,
                                                        anth)
        self.env = env
        self.t = tollgate(env=env, workers=2)
        s = _auth.sign_in(self.t, "drain@example.com")
        self.uid = s.user_id
        key, _, _ = seed_key(db, user_id=self.uid)
        self.key = key
        self.h = auth(key)
        grant(db, self.uid, 10 ** 8)

    def stream(self, i, on_event):
        """Stream i: even ones on chat completions, odd on /v1/messages."""
        if i % 2 == 0:
            return sse_request(self.t.port, "/v1/chat/completions", {
                "model": "anthropic:claude-t", "stream": True,
                "messages": [user("go %d" % i)]}, self.h,
                on_event=on_event, timeout=60)
        return sse_request(self.t.port, "/v1/messages", {
            "model": "anthropic:claude-t", "max_tokens": 500,
            "stream": True,
            "messages": [{"role": "user", "content": "go %d" % i}]},
            {"x-api-key": self.key, "anthropic-version": "2023-06-01"},
            on_event=on_event, timeout=60)

    def sigterm(self):
        self.t.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout=40):
        return self.t.proc.wait(timeout=timeout)

    def records(self, n):
        """The user's calls from GET /api/usage/requests, read on a new
        process (the drained one has exited)."""
        t2 = self.tollgate(env=self.env)
        s = _auth.sign_in(t2, "drain@example.com")
        assert s.user_id == self.uid
        deadline = time.time() + 10
        while True:
            r = t2.get("/api/usage/requests?limit=100",
                       headers=_auth.bearer(s.access_token))
            assert r.status_code == 200, r.text
            data = r.json()["data"]
            if len(data) >= n or time.time() > deadline:
                return data
            time.sleep(0.05)

    def check_after_exit(self, rc):
        """(d): exit 0; nothing pending, every lease back, ledger clean."""
        assert rc == 0, self.t.log()
        assert holds(self.db, self.uid, "pending") == []
        assert leased(self.db, self.uid) == 0
        assert self.db.query(
            "SELECT count(*) FROM credit_leases WHERE status = 'open'"
        )[0][0] == 0
        assert self.db.query(
            "SELECT reserved_micros FROM ledger_user_balances "
            "WHERE user_id = %s", self.uid)[0][0] == 0
        log = self.t.log()
        assert "drain: stop signal" in log
        assert "left to the sweeper" not in log
        check_ledger(self.db)


@pytest.fixture(params=["leases", "strict"])
def drained(request, tollgate, db, fake):
    """A factory: drained(seconds) starts the Drain with that window,
    on leases or strict settlement."""
    set_price(db, "anthropic:claude-t", CLAUDE["inp"], CLAUDE["out"],
              cached=CLAUDE["cached"])
    set_price(db, "fake:m", FAKE_PRICE["inp"], FAKE_PRICE["out"])
    anth = AnthropicFake(api_key=ANTH_KEY)
    gate = threading.Event()

    def start(seconds):
        cat = catalog(fake, timeouts={"first_byte_ms": 30000,
                                      "idle_ms": 30000},
                      extra=[{"name": "anthropic", "family": "anthropic",
                              "base_url": anth.url, "retries": 0,
                              "timeouts": {"idle_ms": 30000},
                              "models": [{"name": "claude-t",
                                          "max_output_tokens": 8000}]}])
        env = router_env(cat, ANTHROPIC_API_KEY=ANTH_KEY,
                         TOLLGATE_DRAIN_SECONDS=str(seconds))
        if request.param == "strict":
            env["TOLLGATE_STRICT_SETTLEMENT"] = "1"
        d = Drain(tollgate, db, fake, anth, env)
        d.gate = gate
        d.mode = request.param
        return d

    try:
        yield start
    finally:
        gate.set()
        fake.open_gate()
        anth.close()


def run_streams(d, n=STREAMS):
    """Starts n streams in threads; returns (threads, results, started),
    started being set once every stream has relayed its first text."""
    results = [None] * n
    seen = set()
    lock = threading.Lock()
    started = threading.Event()

    def on_event(i):
        def cb(sse):
            if any(text_of(ev) for ev in sse.json_events()):
                with lock:
                    seen.add(i)
                    if len(seen) == n:
                        started.set()
        return cb

    def run(i):
        results[i] = d.stream(i, on_event(i))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    return threads, results, started


def text_of(ev):
    """The text an event carries, on either surface."""
    if ev.get("object") == "chat.completion.chunk":
        return "".join(c.get("delta", {}).get("content") or ""
                       for c in ev.get("choices") or [])
    if ev.get("type") == "content_block_delta":
        return ev["delta"].get("text") or ""
    return ""


def texts(sse):
    return "".join(text_of(ev) for ev in sse.json_events())


def refused(port):
    """Whether a new connection to port is refused."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def readyz(conn):
    conn.request("GET", "/readyz")
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def test_streams_within_the_window_complete_and_pay_provider_usage(
        drained):
    drain = drained(30)
    text = "".join("word%02d " % i for i in range(30))         # 210 bytes
    for _ in range(STREAMS):
        drain.anth.push("text", text=text, delay=0.25)
    # A kept-alive connection opened before the stop: /readyz on it.
    conn = http.client.HTTPConnection("127.0.0.1", drain.t.port, timeout=10)
    assert readyz(conn)[0] == 200

    threads, results, started = run_streams(drain)
    assert started.wait(30), "the streams did not start"
    drain.sigterm()

    # (c) not ready at once, while the calls in flight go on ("at once":
    # as soon as the parent has forwarded the signal to the worker).
    deadline = time.time() + 1
    status, headers, body = readyz(conn)
    while status == 200 and time.time() < deadline:
        time.sleep(0.02)
        status, headers, body = readyz(conn)
    assert status == 503, body
    assert headers.get("retry-after") == "1"
    assert json.loads(body)["error"]["code"] == "unavailable"
    conn.close()
    deadline = time.time() + 5
    while not refused(drain.t.port) and time.time() < deadline:
        time.sleep(0.05)
    assert refused(drain.t.port)
    assert any(th.is_alive() for th in threads), "no call was in flight"

    for th in threads:
        th.join(60)
    rc = drain.wait_exit()

    # (a) every stream complete, as without the stop.
    for i, s in enumerate(results):
        assert s.status == 200
        assert texts(s) == text, (i, s.events[-3:])
        evs = s.json_events()
        assert not any("error" in ev for ev in evs), (i, evs[-2:])
        if i % 2 == 0:
            assert s.done()
        else:
            assert evs[-1]["type"] == "message_stop"

    drain.check_after_exit(rc)
    recs = drain.records(STREAMS)
    assert len(recs) == STREAMS
    want = cost(PROMPT, 0, OUTPUT, CLAUDE["inp"], CLAUDE["cached"],
                CLAUDE["out"])
    for rec in recs:
        assert (rec["status"], rec["settlement"]) == ("ok", "provider")
        assert (rec["prompt_tokens"], rec["completion_tokens"]) == \
            (PROMPT, OUTPUT)
        assert rec["cost_micros"] == want


def test_calls_open_at_the_deadline_end_with_their_error_and_pay_estimate(
        drained):
    drain = drained(2)
    text = "".join("piece%02d " % i for i in range(30))        # 240 bytes
    for _ in range(STREAMS):
        # message_start, content_block_start, the first third of the
        # text, then nothing until the gate opens (after the exit).
        drain.anth.push("text", text=text, gate=drain.gate, gate_at=2)
    # A whole answer the fake holds back: still waiting at the deadline.
    drain.fake.script("m", [FakeReply(behaviour="hang")])
    whole = {}

    def call_whole():
        whole["r"] = drain.t.post("/v1/chat/completions", headers=drain.h,
                                  json={"model": "fake:m",
                                        "messages": [user("wait")]},
                                  timeout=60)

    threads, results, started = run_streams(drain)
    wt = threading.Thread(target=call_whole)
    wt.start()
    assert started.wait(30), "the streams did not start"
    deadline = time.time() + 10
    while not drain.fake.requests and time.time() < deadline:
        time.sleep(0.05)
    assert drain.fake.requests, "the whole answer was not asked for"

    sent = time.time()
    drain.sigterm()
    for th in threads + [wt]:
        th.join(60)
    rc = drain.wait_exit()
    assert time.time() - sent < 15

    # Each stream: the text relayed, then its surface's error event.
    first = drain.anth.pieces(text)[0]
    for i, s in enumerate(results):
        assert s.status == 200
        assert texts(s) == first, (i, s.events)
        evs = s.json_events()
        if i % 2 == 0:
            assert s.done(), (i, s.events[-2:])
            err = evs[-1]["error"]
            assert err["code"] == "unavailable", err
        else:
            assert not s.done()
            assert evs[-1]["type"] == "error", evs[-1]
            assert evs[-1]["error"]["type"] == "api_error", evs[-1]
        assert "shutting down" in json.dumps(evs[-1])

    # The whole answer still waiting: 503, Retry-After, the error shape.
    r = whole["r"]
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "1"
    assert r.json()["error"]["code"] == "unavailable"
    assert r.json()["error"]["type"]

    drain.check_after_exit(rc)
    recs = drain.records(STREAMS + 1)
    assert len(recs) == STREAMS + 1
    streamed = [rec for rec in recs if rec["model"] == "anthropic:claude-t"]
    assert len(streamed) == STREAMS
    for rec in streamed:
        # Settled as a call the client left: the prompt the provider
        # reported, and the bytes relayed as output tokens.
        assert (rec["status"], rec["settlement"]) == ("client_gone",
                                                      "estimate"), rec
        assert (rec["prompt_tokens"], rec["completion_tokens"]) == \
            (PROMPT, len(first.encode()))
        assert rec["cost_micros"] == cost(PROMPT, 0, len(first.encode()),
                                          CLAUDE["inp"], CLAUDE["cached"],
                                          CLAUDE["out"])
    rec = [rec for rec in recs if rec["model"] == "fake:m"][0]
    # No output came: the prompt bound, nothing for output.
    assert (rec["status"], rec["settlement"]) == ("client_gone", "estimate")
    assert rec["completion_tokens"] == 0 and rec["prompt_tokens"] > 0
    assert rec["cost_micros"] == cost(rec["prompt_tokens"], 0, 0,
                                      FAKE_PRICE["inp"], FAKE_PRICE["inp"],
                                      FAKE_PRICE["out"]) > 0
    # None charged its whole hold.
    if drain.mode == "strict":
        hs = holds(drain.db, drain.uid)
        assert len(hs) == STREAMS + 1
        assert all(h[1] == "settled" and h[3] < h[2] for h in hs), hs


def test_a_second_signal_ends_the_wait_at_once(drained):
    # docs/operations.md: a second SIGTERM to the workers (here: to the
    # process group, a second later) ends the calls still open as the
    # deadline would, long before the 60 s window.
    drain = drained(60)
    text = "".join("part%02d " % i for i in range(12))
    for _ in range(4):
        drain.anth.push("text", text=text, gate=drain.gate, gate_at=2)
    threads, results, started = run_streams(drain, 4)
    assert started.wait(30), "the streams did not start"
    drain.sigterm()
    time.sleep(1.5)
    assert all(th.is_alive() for th in threads)

    sent = time.time()
    os.killpg(drain.t.proc.pid, signal.SIGTERM)
    for th in threads:
        th.join(60)
    rc = drain.wait_exit()
    assert time.time() - sent < 10

    first = drain.anth.pieces(text)[0]
    for i, s in enumerate(results):
        assert texts(s) == first
        assert "shutting down" in json.dumps(s.json_events()[-1])
    drain.check_after_exit(rc)
    for rec in drain.records(4):
        assert (rec["status"], rec["settlement"]) == ("client_gone",
                                                      "estimate")
        assert rec["cost_micros"] == cost(PROMPT, 0, len(first.encode()),
                                          CLAUDE["inp"], CLAUDE["cached"],
                                          CLAUDE["out"])


def test_a_paced_echo_stream_ends_at_the_deadline(tollgate, db, fake):
    # The in-process echo, one event every 400 ms, asleep on its pacing
    # timer when the deadline comes: woken, it ends like any stream.
    cat = catalog(fake)
    cat["providers"][0]["chunk_delay_ms"] = 400
    t = tollgate(env=router_env(cat, TOLLGATE_DRAIN_SECONDS="1"))
    key, uid, _ = seed_key(db)
    set_price(db, "echo:echo-1", FAKE_PRICE["inp"], FAKE_PRICE["out"])
    grant(db, uid, 10 ** 8)
    got = threading.Event()
    out = {}

    def run():
        out["s"] = sse_request(t.port, "/v1/chat/completions", {
            "model": "echo:echo-1", "stream": True,
            "messages": [user(" ".join("w%02d" % i for i in range(60)))]},
            auth(key), on_event=lambda s: texts(s) and got.set(),
            timeout=60)

    th = threading.Thread(target=run)
    th.start()
    assert got.wait(30)
    t.proc.send_signal(signal.SIGTERM)
    th.join(60)
    assert t.proc.wait(timeout=30) == 0, t.log()

    s = out["s"]
    assert s.done()
    assert "shutting down" in json.dumps(s.json_events()[-1])
    relayed = texts(s)
    assert relayed and "w59" not in relayed
    rec = settled(db, uid)[0]
    assert (rec[1], rec[2]) == ("client_gone", "estimate")
    assert rec[5] == len(relayed.encode())
    assert rec[6] == cost(rec[3], 0, rec[5], FAKE_PRICE["inp"],
                          FAKE_PRICE["inp"], FAKE_PRICE["out"])
    assert leased(db, uid) == 0
    check_ledger(db)
