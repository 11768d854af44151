"""Keepalive comments and the /v1 body limit (docs/router.md, "Keepalive"
and "Request bodies"): while a stream waits for its first content the
client gets ": keepalive" SSE comments every keepalive_ms; they commit
the 200 but not the answer, so a target failing before content still
falls back, and when every target fails the stream ends with its
surface's error event, free of charge. /v1 routes take bodies up to
TOLLGATE_V1_BODY_MAX_BYTES (20 MiB), other routes keep the small limit,
and both refuse a body over theirs from its Content-Length, unread."""

import base64
import json
import socket
import time

import pytest
import requests

from lib import auth as session
from lib.credits import check_ledger, cost, grant, set_price, settled
from lib.keys import auth, seed_key
from lib.router import (FakeReply, catalog, fake, router_env,  # noqa: F401
                        user)

PRICES = {"fake:m": (1000000, 3000000, 7), "backup:b": (2000000, 4000000, 0)}
# A first byte slower than several keepalives, well inside first_byte_ms.
DELAY = 0.5
KEEPALIVE_MS = 100


class Rig:
    def __init__(self, t, db, fake, key, uid, token):
        self.t, self.db, self.fake = t, db, fake
        self.h = auth(key)
        self.uid = uid
        self.session = session.bearer(token)

    def post(self, path, body, headers=None):
        """The raw lines of a streamed answer, comments included."""
        h = dict(self.h, **(headers or {}))
        r = requests.post(self.t.url + path, json=body, headers=h,
                          stream=True, timeout=30)
        lines = [ln.decode() for ln in r.iter_lines() if ln]
        return r, lines

    def records(self, n):
        assert len(settled(self.db, self.uid, n)) >= n
        r = self.t.get("/api/usage/requests?limit=100", headers=self.session)
        assert r.status_code == 200, r.text
        return r.json()["data"]


def start(tollgate, db, fake, keepalive=KEEPALIVE_MS, fake_keepalive=None):
    cat = catalog(fake, retries=0)
    cat["defaults"] = {"keepalive_ms": keepalive}
    if fake_keepalive is not None:
        for p in cat["providers"]:
            if p["name"] == "fake":
                p["keepalive_ms"] = fake_keepalive
    for m, (inp, out, fee) in PRICES.items():
        set_price(db, m, inp, out, fee=fee)
    t = tollgate(env=router_env(cat))
    s = session.sign_in(t, "keepalive@example.com")
    key, _, _ = seed_key(db, user_id=s.user_id)
    grant(db, s.user_id, 10 ** 10)
    return Rig(t, db, fake, key, s.user_id, s.access_token)


@pytest.fixture
def rig(tollgate, db, fake):
    return start(tollgate, db, fake)


def data_events(lines):
    return [json.loads(ln[6:]) for ln in lines
            if ln.startswith("data: ") and ln != "data: [DONE]"]


def text_of(chunks):
    return "".join(ch["delta"].get("content") or "" for c in chunks
                   for ch in c.get("choices") or [])


def priced(rec):
    inp, out, fee = PRICES[rec["model"]]
    return cost(rec["prompt_tokens"], rec["cached_tokens"],
                rec["completion_tokens"], inp, inp, out, fee)


def chat(model, text):
    return {"model": model, "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [user(text)]}


# --- keepalive comments ----------------------------------------------------

def test_keepalive_comments_before_a_slow_first_byte_and_billed(rig):
    rig.fake.script("m", [FakeReply(delay=DELAY)])
    r, lines = rig.post("/v1/chat/completions", chat("fake:m", "slow one"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    first_data = next(i for i, ln in enumerate(lines)
                      if ln.startswith("data: "))
    kas = [ln for ln in lines[:first_data] if ln == ": keepalive"]
    # 500 ms at 100 ms: a few, however loaded the machine (at least 2).
    assert len(kas) >= 2, lines[:first_data]
    assert ": keepalive" not in lines[first_data:]
    assert lines[-1] == "data: [DONE]"
    chunks = data_events(lines)
    assert text_of(chunks) == "fake: slow one"
    usage = chunks[-1]["usage"]
    rec = rig.records(1)[0]
    assert rec["model"] == "fake:m" and rec["status"] == "ok"
    assert rec["cost_micros"] == priced(rec) > 0
    assert usage["cost_micros"] == rec["cost_micros"]
    check_ledger(rig.db)


def test_a_provider_can_turn_keepalive_off(tollgate, db, fake):
    rig = start(tollgate, db, fake, fake_keepalive=0)
    rig.fake.script("m", [FakeReply(delay=DELAY)])
    r, lines = rig.post("/v1/chat/completions", chat("fake:m", "quiet"))
    assert r.status_code == 200
    assert ": keepalive" not in lines
    assert text_of(data_events(lines)) == "fake: quiet"


def test_a_failure_after_a_keepalive_still_falls_back(rig):
    rig.fake.script("m", [FakeReply(status=503, delay=DELAY)])
    r, lines = rig.post("/v1/chat/completions", chat("chain", "fall back"))
    assert r.status_code == 200
    assert lines.count(": keepalive") >= 2, lines
    chunks = data_events(lines)
    assert not any("error" in c for c in chunks), chunks
    assert text_of(chunks) == "fake: fall back"
    assert lines[-1] == "data: [DONE]"
    assert len(rig.fake.for_model("m")) == 1
    assert len(rig.fake.for_model("b")) == 1
    rec = rig.records(1)[0]
    assert rec["model"] == "backup:b" and rec["status"] == "ok"
    assert rec["cost_micros"] == priced(rec) > 0
    assert chunks[-1]["usage"]["cost_micros"] == rec["cost_micros"]
    check_ledger(rig.db)


def test_every_target_failing_after_a_keepalive_ends_chat_with_error(rig):
    rig.fake.script("m", [FakeReply(status=503, delay=DELAY)])
    rig.fake.script("b", [FakeReply(status=503, delay=DELAY)])
    r, lines = rig.post("/v1/chat/completions", chat("chain", "no luck"))
    assert r.status_code == 200
    assert lines.count(": keepalive") >= 2, lines
    events = data_events(lines)
    assert len(events) == 1, lines
    err = events[0]["error"]
    assert err["type"] and err["code"] and err["message"]
    assert lines[-1] == "data: [DONE]"
    rec = rig.records(1)[0]
    assert rec["cost_micros"] == 0 and rec["completion_tokens"] == 0
    check_ledger(rig.db)


def test_every_target_failing_after_a_keepalive_ends_messages_with_error(
        rig):
    rig.fake.script("m", [FakeReply(status=503, delay=DELAY)])
    rig.fake.script("b", [FakeReply(status=503, delay=DELAY)])
    r, lines = rig.post("/v1/messages", {
        "model": "chain", "max_tokens": 100, "stream": True,
        "messages": [user("no luck")]},
        headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 200
    assert lines.count(": keepalive") >= 2, lines
    names = [ln[7:] for ln in lines if ln.startswith("event: ")]
    assert names == ["error"], lines
    body = json.loads(next(ln[6:] for ln in lines if ln.startswith("data: ")))
    assert body["type"] == "error" and body["error"]["message"]
    assert "data: [DONE]" not in lines
    rec = rig.records(1)[0]
    assert rec["cost_micros"] == 0 and rec["completion_tokens"] == 0
    check_ledger(rig.db)


# --- request body limits ---------------------------------------------------

MIB = 1024 * 1024


def image_body(size):
    """A chat request of about size bytes: a base64 PNG data URL."""
    raw = b"\x89PNG\r\n\x1a\n" + b"\0" * (size * 3 // 4)
    url = "data:image/png;base64," + base64.b64encode(raw).decode()
    return {"model": "fake:m", "max_tokens": 10, "messages": [{
        "role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": url}}]}]}


def headers_only(t, path, length, headers):
    """Sends a request's headers announcing length body bytes, none of
    the body, and returns (status, JSON body) of the answer."""
    s = socket.create_connection(("127.0.0.1", t.port), timeout=10)
    h = "".join("%s: %s\r\n" % kv for kv in headers.items())
    s.sendall(("POST %s HTTP/1.1\r\nHost: localhost\r\n%s"
               "Content-Type: application/json\r\nContent-Length: %d\r\n"
               "\r\n" % (path, h, length)).encode())
    data = b""
    deadline = time.time() + 10
    while time.time() < deadline:
        part = s.recv(65536)
        if not part:
            break
        data += part
        head, _, body = data.partition(b"\r\n\r\n")
        if b"content-length: " in head.lower():
            n = int(head.lower().split(b"content-length: ")[1]
                    .split(b"\r\n")[0])
            if len(body) >= n:
                break
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_10_mib_image_body_is_accepted_on_v1(rig):
    body = image_body(10 * MIB)
    assert len(json.dumps(body)) > 10 * MIB
    r = rig.t.post("/v1/chat/completions", headers=rig.h, json=body)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["choices"][0]["message"]["content"] == \
        "fake: what is this"
    sent = rig.fake.for_model("m")[-1]["body"]
    assert sent["messages"][0]["content"][1]["image_url"]["url"] == \
        body["messages"][0]["content"][1]["image_url"]["url"]


def test_a_10_mib_body_is_refused_unread_on_api(rig):
    status, err = headers_only(rig.t, "/api/keys", 10 * MIB, rig.session)
    assert status == 413
    assert err["error"]["code"] == "body_too_large"
    assert err["error"]["type"] == "invalid_request_error"


def test_a_body_over_the_v1_limit_is_refused_unread(rig):
    status, err = headers_only(rig.t, "/v1/chat/completions", 20 * MIB + 1,
                               rig.h)
    assert status == 413
    assert err["error"]["code"] == "body_too_large"
    # The limit itself is accepted (refused for its JSON, not its size).
    r = rig.t.post("/v1/chat/completions", headers=dict(
        rig.h, **{"content-type": "application/json"}),
        data=b" " * (20 * MIB))
    assert r.status_code == 400, r.text[:300]
    assert r.json()["error"]["code"] != "body_too_large"


def test_the_v1_limit_is_set_by_its_variable(tollgate, db, fake):
    cat = catalog(fake, retries=0)
    t = tollgate(env=router_env(cat, TOLLGATE_V1_BODY_MAX_BYTES="2097152"))
    s = session.sign_in(t, "limit@example.com")
    key, _, _ = seed_key(db, user_id=s.user_id)
    status, err = headers_only(t, "/v1/chat/completions", 2 * MIB + 1,
                               auth(key))
    assert status == 413 and err["error"]["code"] == "body_too_large"
    r = t.post("/v1/chat/completions", headers=auth(key),
               json=image_body(MIB + MIB // 2))
    assert r.status_code != 413, r.text[:300]


def test_large_bodies_per_worker_are_capped_with_503(rig):
    """A worker holds at most 8 bodies over TOLLGATE_BODY_MAX_BYTES at
    once (app/core/early.c): 8 uploads under way, a ninth is refused from
    its headers with 503 and Retry-After; once one ends, one more fits."""
    def start_upload():
        s = socket.create_connection(("127.0.0.1", rig.t.port), timeout=10)
        h = "".join("%s: %s\r\n" % kv for kv in rig.h.items())
        s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n%s"
                   "Content-Length: %d\r\n\r\n{" % (h, 2 * MIB)).encode())
        return s

    held = [start_upload() for _ in range(8)]
    time.sleep(0.5)
    s = start_upload()
    data = s.recv(65536)
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split()[1] == b"503", data[:300]
    assert b"\r\nretry-after: 1\r\n" in head.lower()
    assert json.loads(body)["error"]["code"] == "unavailable"

    held.pop().close()
    time.sleep(0.5)
    s = start_upload()
    s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        s.recv(65536)           # accepted: Kore waits for the body
    s.close()
    for h in held:
        h.close()
