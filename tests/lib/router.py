"""Helpers for the router's integration tests: a router.json pointing at
fake upstreams, the fixtures that start them, a streaming client that
reads server-sent events one by one with their arrival times, and the
assembly of a chat.completion stream into a final message."""

import atexit
import http.client
import json
import os
import socket
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                "..")))

from fakes.openai_fake import FakeOpenAI, FakeReply  # noqa: E402,F401
from lib import errors  # noqa: E402
from lib import keys as _keys  # noqa: E402
from lib.credits import set_price  # noqa: E402
from lib.keys import auth  # noqa: E402,F401
from lib.server import free_port  # noqa: E402

FAKE_KEY = "sk-fake-provider-secret-4f1e2d3c"
BACKUP_KEY = "sk-backup-provider-secret-9a8b7c"


# The models the test catalogs name. Router tests are about routing, so
# their calls are free: every model they may call gets a price of 0 (the
# meter refuses a model without a price, and a priced one needs credits).
# Money is tested in tests/integration/test_credits_*.py.
TEST_MODELS = ("echo:echo-1", "echo:echo-embed", "fake:m", "fake:m2",
               "fake:e", "backup:b", "dead:x", "nokey:y")


def free_models(db, models=TEST_MODELS):
    """Makes the test catalogs' models and every priced one free."""
    todo = set(models) | {r[0] for r in db.query(
        "SELECT model FROM model_prices_current")}
    for m in sorted(todo):
        cur = db.query("SELECT input_micros_per_mtok, "
                       "output_micros_per_mtok, request_fee_micros FROM "
                       "model_prices_current WHERE model = %s", m)
        if not cur or tuple(cur[0]) != (0, 0, 0):
            set_price(db, m, 0, 0)


def user(text):
    """A chat message from the user."""
    return {"role": "user", "content": text}


def seed_key(db, **kw):
    """lib.keys.seed_key, with every model free (see free_models)."""
    free_models(db)
    return _keys.seed_key(db, **kw)


def closed_port():
    """A port nothing listens on: one from this test process's own slice
    (lib.server.free_port), which no fake's bind(0) can take later."""
    return free_port()


def catalog(fake, timeouts=None, retries=1, extra=None, aliases=None,
            base_url=None):
    """A router.json (as a dict) with echo, two openai-family providers on
    the fake ("fake" and "backup"), and one that nothing listens for."""
    to = {"connect_ms": 2000, "first_byte_ms": 3000, "idle_ms": 1500,
          "total_ms": 30000}
    to.update(timeouts or {})
    url = base_url or fake.base_url()
    providers = [
        {"name": "echo", "family": "echo", "models": [
            {"name": "echo-1", "max_output_tokens": 4096},
            {"name": "echo-embed", "chat": False, "embeddings": True}]},
        {"name": "fake", "family": "openai", "base_url": url,
         "timeouts": to, "retries": retries, "backoff_ms": 50,
         "retry_after_cap_ms": 3000, "models": [
             {"name": "m", "max_output_tokens": 1000},
             {"name": "m2", "max_output_tokens": 50},
             {"name": "e", "chat": False, "embeddings": True}]},
        {"name": "backup", "family": "openai", "base_url": url,
         "timeouts": to, "retries": 0, "models": [
             {"name": "b", "max_output_tokens": 1000}]},
        {"name": "dead", "family": "openai", "api_key_required": False,
         "base_url": "http://127.0.0.1:%d/v1" % closed_port(),
         "timeouts": to, "retries": 0, "models": [
             {"name": "x", "max_output_tokens": 100}]},
        {"name": "nokey", "family": "openai",
         "base_url": url, "models": [
             {"name": "y", "max_output_tokens": 100}]},
    ]
    providers += extra or []
    al = {"chain": ["fake:m", "backup:b"], "deadchain": ["dead:x", "fake:m"],
          "default": "echo:echo-1"}
    al.update(aliases or {})
    return {"providers": providers, "aliases": al}


_written = []


@atexit.register
def _remove_catalogs():
    for p in _written:
        try:
            os.unlink(p)
        except OSError:
            pass


def write_catalog(cat):
    """The catalog as a file every user can read (removed at exit)."""
    fd, path = tempfile.mkstemp(prefix="tg-router-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(cat, f)
    os.chmod(path, 0o644)
    _written.append(path)
    return path


def router_env(cat, **extra):
    env = {"TOLLGATE_ROUTER_CONFIG": write_catalog(cat),
           "FAKE_API_KEY": FAKE_KEY, "BACKUP_API_KEY": BACKUP_KEY}
    env.update(extra)
    return env


@pytest.fixture
def fake():
    f = FakeOpenAI().start()
    yield f
    f.stop()


class Router:
    """A started tollgate with the test catalog and a working key."""

    def __init__(self, t, key, fake):
        self.t = t
        self.key = key
        self.fake = fake
        self.h = auth(key)

    def chat(self, body, **kw):
        return self.t.post("/v1/chat/completions", json=body, headers=self.h,
                           **kw)

    def stream(self, body, headers=None, **kw):
        h = dict(self.h)
        h.update(headers or {})
        return sse_request(self.t.port, "/v1/chat/completions", body, h, **kw)

    def alive(self):
        """The process and its worker still answer."""
        assert self.t.alive(), self.t.log()
        r = self.t.get("/healthz", timeout=5)
        assert r.status_code == 200


@pytest.fixture
def router(tollgate, db, fake):
    t = tollgate(env=router_env(catalog(fake)))
    key, _, _ = seed_key(db)
    return Router(t, key, fake)


class SSE:
    """A streamed answer: status, headers, and events with times."""

    def __init__(self):
        self.status = None
        self.headers = {}
        self.events = []      # (t, data string)
        self.body = b""

    def json_events(self):
        return [json.loads(d) for _, d in self.events if d != "[DONE]"]

    def done(self):
        return bool(self.events) and self.events[-1][1] == "[DONE]"


def sse_request(port, path, body, headers, on_event=None, timeout=30,
                version11=True, stop_after=None):
    """POSTs body and reads the answer event by event (http.client
    de-chunks; readline returns as soon as a line arrived). on_event(sse)
    runs after each event; stop_after=N closes the connection after N
    events (a client that leaves)."""
    out = SSE()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    if not version11:
        conn._http_vsn = 10
        conn._http_vsn_str = "HTTP/1.0"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    h = {"content-type": "application/json"}
    h.update(headers)
    conn.request("POST", path, body=data, headers=h)
    resp = conn.getresponse()
    out.status = resp.status
    out.headers = {k.lower(): v for k, v in resp.getheaders()}
    if not out.headers.get("content-type", "").startswith(
            "text/event-stream"):
        out.body = resp.read()
        conn.close()
        return out
    buf = []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode().rstrip("\r\n")
        if line == "":
            if buf:
                out.events.append((time.time(), "\n".join(buf)))
                buf = []
                if on_event is not None:
                    on_event(out)
                if stop_after is not None and len(out.events) >= stop_after:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    return out
            continue
        if line.startswith("data:"):
            buf.append(line[5:].lstrip(" ") if line[5:6] == " " else
                       line[5:])
    conn.close()
    return out


def assemble(chunks):
    """chat.completion.chunk objects -> the final message per choice,
    like the OpenAI SDKs do (content concatenated, tool calls by index,
    the last finish_reason), plus the usage chunk if any."""
    choices = {}
    usage = None
    ids = set()
    for c in chunks:
        ids.add(c.get("id"))
        assert c.get("object") == "chat.completion.chunk", c
        if c.get("usage"):
            usage = c["usage"]
        for ch in c.get("choices", []):
            s = choices.setdefault(ch["index"], {
                "role": None, "content": None, "tool_calls": {},
                "finish_reason": None})
            d = ch.get("delta") or {}
            if d.get("role"):
                s["role"] = d["role"]
            if d.get("content") is not None:
                s["content"] = (s["content"] or "") + d["content"]
            for tc in d.get("tool_calls") or []:
                t = s["tool_calls"].setdefault(tc["index"], {
                    "id": None, "type": "function",
                    "function": {"name": "", "arguments": ""}})
                if tc.get("id"):
                    t["id"] = tc["id"]
                f = tc.get("function") or {}
                t["function"]["name"] += f.get("name") or ""
                t["function"]["arguments"] += f.get("arguments") or ""
            if ch.get("finish_reason"):
                s["finish_reason"] = ch["finish_reason"]
    out = []
    for i in sorted(choices):
        s = choices[i]
        msg = {"role": s["role"], "content": s["content"]}
        if s["tool_calls"]:
            msg["tool_calls"] = [s["tool_calls"][k]
                                 for k in sorted(s["tool_calls"])]
        out.append({"index": i, "message": msg,
                    "finish_reason": s["finish_reason"]})
    return {"choices": out, "usage": usage, "ids": ids}


def whole_choices(answer):
    out = []
    for ch in answer["choices"]:
        m = ch["message"]
        msg = {"role": m["role"], "content": m.get("content")}
        if m.get("tool_calls"):
            msg["tool_calls"] = [{"id": t["id"], "type": t["type"],
                                  "function": t["function"]}
                                 for t in m["tool_calls"]]
        out.append({"index": ch["index"], "message": msg,
                    "finish_reason": ch["finish_reason"]})
    return out


def assert_error(r, status, code=None, anthropic=False):
    """An error in the contract's shape (r: requests.Response), or in
    Anthropic's (lib.errors.assert_error for the contract's)."""
    if not anthropic:
        return errors.assert_error(r, status, code)
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    assert r.headers.get("x-request-id")
    body = r.json()
    assert body["type"] == "error", body
    return body["error"]
