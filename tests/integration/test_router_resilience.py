"""Timeouts, fallbacks, cooldowns and cut streams of the router
(docs/router.md, "Retries, fallbacks and timeouts"): the idle timeout
counts from the first byte, a preamble without content never closes the
fallback window (and costs nothing), a failing target cools down and is
probed again, a credit-clamped call to an o-series model carries
max_completion_tokens, and every stream that ended early is billed for
what was relayed, as /api/usage/requests says."""

import json
import re
import time

import pytest
import requests

from lib import auth as session
from lib.credits import check_ledger, cost, grant, set_price, settled
from lib.families import AnthropicFake, GeminiFake, sse_events
from lib.keys import auth, seed_key
from lib.router import (FAKE_KEY, FakeReply, assemble, catalog,  # noqa: F401
                        fake, router_env, sse_request, user)

ANTH_KEY = "sk-ant-resilience-secret-5d2c"
GEM_KEY = "AIza-resilience-secret-8e1f"
CLAUDE = "anth:claude-sonnet-4-5"
GEMINI = "gem:gemini-2.5-flash"
O4 = "oai:o4-mini"

# Per-model prices (input, output per million tokens, request fee).
PRICES = {"fake:m": (1000000, 3000000, 7), "backup:b": (2000000, 4000000, 0),
          CLAUDE: (3000000, 15000000, 0), GEMINI: (300000, 2500000, 0),
          O4: (1100000, 4400000, 0)}

# A short idle timeout and a long first-byte one: a stall after the
# first chunk must be cut by the first, long before the second.
TIMEOUTS = {"connect_ms": 2000, "first_byte_ms": 20000, "idle_ms": 600,
            "total_ms": 60000}

# The prompt bound of app/credits/prompt.h for a chat call.
REQUEST_OVERHEAD, TOOLS_OVERHEAD, MESSAGE_OVERHEAD = 32, 512, 16


def bound(text_bytes, messages):
    return REQUEST_OVERHEAD + TOOLS_OVERHEAD + text_bytes + \
        MESSAGE_OVERHEAD * messages


class Rig:
    """A tollgate whose openai-family providers are the OpenAI fake and
    whose anthropic and gemini ones are the families' fakes; a signed-in
    user with credits, a key, and priced models."""

    def __init__(self, t, db, fake, anth, gem, key, uid, token):
        self.t, self.db, self.fake = t, db, fake
        self.anth, self.gem = anth, gem
        self.h = auth(key)
        self.uid = uid
        self.session = session.bearer(token)

    def stream(self, body):
        return sse_request(self.t.port, "/v1/chat/completions", body, self.h)

    def messages(self, body):
        h = dict(self.h, **{"anthropic-version": "2023-06-01"})
        r = requests.post(self.t.url + "/v1/messages", json=body, headers=h,
                          stream=True, timeout=30)
        return r, [(e, json.loads(d)) for e, d in sse_events(r)]

    def records(self, n):
        """The user's last n calls, newest first, from /api/usage/requests
        once n are settled."""
        assert len(settled(self.db, self.uid, n)) >= n
        r = self.t.get("/api/usage/requests?limit=100",
                       headers=self.session)
        assert r.status_code == 200, r.text
        return r.json()["data"]


def rig_catalog(fake, anth, gem, timeouts=None):
    to = dict(TIMEOUTS, **(timeouts or {}))
    extra = [
        {"name": "anth", "family": "anthropic", "base_url": anth.url,
         "timeouts": to, "retries": 0, "models": [
             {"name": "claude-sonnet-4-5", "max_output_tokens": 1000}]},
        {"name": "gem", "family": "gemini", "base_url": gem.url,
         "timeouts": to, "retries": 0, "models": [
             {"name": "gemini-2.5-flash", "max_output_tokens": 1000}]},
        {"name": "oai", "family": "openai", "base_url": fake.base_url(),
         "max_tokens_field": "max_completion_tokens", "timeouts": to,
         "retries": 0, "models": [
             {"name": "o4-mini", "max_output_tokens": 1000}]},
    ]
    return catalog(fake, timeouts=to, retries=0, extra=extra, aliases={
        "claude_chain": [CLAUDE, "backup:b"]})


def start_rig(tollgate, db, fake, anth, gem, cat=None, balance=10 ** 8):
    for m, (inp, out, fee) in PRICES.items():
        set_price(db, m, inp, out, fee=fee)
    t = tollgate(env=router_env(cat or rig_catalog(fake, anth, gem),
                                ANTH_API_KEY=ANTH_KEY, GEM_API_KEY=GEM_KEY,
                                OAI_API_KEY=FAKE_KEY))
    s = session.sign_in(t, "resilience@example.com")
    key, _, _ = seed_key(db, user_id=s.user_id)
    grant(db, s.user_id, balance)
    return Rig(t, db, fake, anth, gem, key, s.user_id, s.access_token)


@pytest.fixture
def fams():
    anth = AnthropicFake(api_key=ANTH_KEY)
    gem = GeminiFake(api_key=GEM_KEY)
    yield anth, gem
    anth.close()
    gem.close()


@pytest.fixture
def rig(tollgate, db, fake, fams):
    return start_rig(tollgate, db, fake, *fams)


def priced(rec):
    """The cost of a usage record from its tokens and the model's price."""
    inp, out, fee = PRICES[rec["model"]]
    return cost(rec["prompt_tokens"], rec["cached_tokens"],
                rec["completion_tokens"], inp, inp, out, fee)


def relayed_bytes(chunks):
    """UTF-8 bytes of generated text the client got in chat chunks."""
    n = 0
    for c in chunks:
        for ch in c.get("choices") or []:
            d = ch.get("delta") or {}
            for k in ("content", "reasoning"):
                if isinstance(d.get(k), str):
                    n += len(d[k].encode())
    return n


def assert_cut_billed(rig, relayed):
    """The call that ended early is billed, nonzero, at least the bytes
    relayed as output tokens, and at its price."""
    rec = rig.records(1)[0]
    assert rec["status"] == "stream_cut", rec
    assert rec["completion_tokens"] >= relayed > 0, rec
    assert rec["cost_micros"] > 0
    assert rec["cost_micros"] == priced(rec), rec
    check_ledger(rig.db)
    return rec


def error_event(s):
    """The error of a cut chat stream: an error event, then [DONE]."""
    assert s.status == 200 and s.done(), s.events
    last = json.loads(s.events[-2][1])
    assert "error" in last, last
    return last["error"]


# --- item 4: the idle timeout runs from the first byte -------------------

def test_openai_stream_stalled_after_its_first_chunks_is_cut_at_idle_ms(rig):
    rig.fake.script("m", [FakeReply(content="alpha beta gamma delta",
                                    behaviour="stall", after=3)])
    t0 = time.time()
    s = rig.stream({"model": "fake:m", "stream": True,
                    "messages": [user("go")]})
    took = time.time() - t0
    e = error_event(s)
    assert e["code"] == "upstream_timeout"
    assert "stalled for 600 ms" in e["message"]
    # Cut by idle_ms (600), not first_byte_ms (20000).
    assert took < 10, took
    chunks = [json.loads(d) for _, d in s.events[:-2]]
    assert assemble(chunks)["choices"][0]["message"]["content"] == \
        "alpha beta"
    assert_cut_billed(rig, relayed_bytes(chunks))


def test_anthropic_stream_stalled_mid_answer_is_cut_on_messages(rig):
    rig.anth.push("text", text="one two three four five six", stall=5)
    t0 = time.time()
    r, evs = rig.messages({"model": CLAUDE, "max_tokens": 200,
                           "stream": True,
                           "messages": [user("tell me more")]})
    assert r.status_code == 200
    # The upstream would have finished after its 5 s stall: the idle
    # timeout cut it first.
    assert time.time() - t0 < 5
    assert evs[0][0] == "message_start"
    assert evs[-1][0] == "error", evs
    assert "stalled for 600 ms" in evs[-1][1]["error"]["message"]
    assert "message_stop" not in [e for e, _ in evs]
    text = "".join(d["delta"].get("text", "") for e, d in evs
                   if e == "content_block_delta")
    assert text
    assert_cut_billed(rig, len(text.encode()))


def test_gemini_stream_stalled_before_its_last_chunk_is_cut(rig):
    rig.gem.push("thinking", text="The answer is forty-two.", stall=5)
    t0 = time.time()
    s = rig.stream({"model": GEMINI, "stream": True,
                    "messages": [user("think")]})
    assert time.time() - t0 < 5
    e = error_event(s)
    assert e["code"] == "upstream_timeout"
    chunks = [json.loads(d) for _, d in s.events[:-2]]
    assert not any(ch.get("finish_reason") for c in chunks
                   for ch in c.get("choices") or [])
    assert_cut_billed(rig, relayed_bytes(chunks))


# --- item 1 (relay): an upstream failing mid-stream is billed ------------

def test_anthropic_error_event_mid_stream_is_billed_by_what_was_relayed(rig):
    rig.anth.push("stream_error", text="first second third fourth")
    s = rig.stream({"model": CLAUDE, "stream": True,
                    "messages": [user("go on")]})
    e = error_event(s)
    assert "Overloaded" in e["message"]
    chunks = [json.loads(d) for _, d in s.events[:-2]]
    assert_cut_billed(rig, relayed_bytes(chunks))


def test_gemini_error_mid_stream_on_messages_is_billed(rig):
    rig.gem.push("stream_error", text="Once upon a time there was a test.")
    r, evs = rig.messages({"model": GEMINI, "max_tokens": 200,
                           "stream": True, "messages": [user("a story")]})
    assert r.status_code == 200
    assert evs[-1][0] == "error", evs
    text = "".join(d["delta"].get("text", "") for e, d in evs
                   if e == "content_block_delta")
    assert_cut_billed(rig, len(text.encode()))


# --- item 5: no fallback window closed by a preamble ---------------------

def test_openai_role_chunk_then_error_falls_back_and_bills_the_fallback(rig):
    rig.fake.script("m", [FakeReply(content="never seen",
                                    behaviour="error_event", after=1)])
    s = rig.stream({"model": "chain", "stream": True,
                    "stream_options": {"include_usage": True},
                    "messages": [user("hello there")]})
    assert s.status == 200 and s.done()
    chunks = s.json_events()
    assert not any("error" in c for c in chunks), chunks
    out = assemble(chunks)
    assert out["choices"][0]["message"] == {
        "role": "assistant", "content": "fake: hello there"}
    roles = [ch["delta"]["role"] for c in chunks for ch in c["choices"]
             if ch["delta"].get("role")]
    assert roles == ["assistant"]
    assert len(rig.fake.for_model("m")) == 1
    assert len(rig.fake.for_model("b")) == 1
    recs = rig.records(1)
    assert len(recs) == 1
    assert recs[0]["model"] == "backup:b" and recs[0]["status"] == "ok"
    assert recs[0]["cost_micros"] == priced(recs[0]) > 0
    assert out["usage"]["cost_micros"] == recs[0]["cost_micros"]
    check_ledger(rig.db)


def test_anthropic_message_start_then_error_falls_back_on_messages(rig):
    rig.anth.push("start_error")
    r, evs = rig.messages({"model": "claude_chain", "max_tokens": 200,
                           "stream": True,
                           "messages": [user("hello again")]})
    assert r.status_code == 200
    names = [e for e, _ in evs]
    assert "error" not in names, evs
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("message_start") == 1
    text = "".join(d["delta"].get("text", "") for e, d in evs
                   if e == "content_block_delta")
    assert text == "fake: hello again"
    assert len(rig.anth.requests) == 1
    assert len(rig.fake.for_model("b")) == 1
    recs = rig.records(1)
    assert len(recs) == 1
    assert recs[0]["model"] == "backup:b" and recs[0]["status"] == "ok"
    assert recs[0]["cost_micros"] == priced(recs[0]) > 0
    check_ledger(rig.db)


def test_error_before_any_content_without_fallback_is_an_error_and_free(rig):
    rig.anth.push("start_error")
    r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
        "model": CLAUDE, "stream": True, "messages": [user("hi")]})
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "upstream_error"
    assert "Overloaded" in r.json()["error"]["message"]
    rec = rig.records(1)[0]
    assert rec["cost_micros"] == 0 and rec["completion_tokens"] == 0
    check_ledger(rig.db)


# --- item 6: per-target cooldowns ----------------------------------------

def metric(t, name, provider):
    m = re.search(r'^%s\{provider="%s"\} (\d+)$' % (name, provider),
                  t.get("/metrics").text, re.M)
    assert m, name
    return int(m.group(1))


def cooling_rig(tollgate, db, fake, fams, after, ms):
    """A rig whose provider "fake" cools down after `after` failures."""
    cat = rig_catalog(fake, *fams)
    for p in cat["providers"]:
        if p["name"] == "fake":
            p.update(cooldown_after=after, cooldown_ms=ms)
    rig = start_rig(tollgate, db, fake, *fams, cat=cat)
    # One worker (tests/lib/server.py): the breaker is per worker.
    assert rig.t.env["TOLLGATE_WORKERS"] == "1"
    return rig


def test_count_tokens_skips_a_cooling_target(tollgate, db, fake, fams):
    """count_tokens counts with the target a call would take: not one
    cooling down (here the openai-family fake, which would only give the
    estimate), but the next, Anthropic's, which counts."""
    cat = rig_catalog(fake, *fams)
    cat["aliases"]["count_chain"] = ["fake:m", CLAUDE]
    for p in cat["providers"]:
        if p["name"] == "fake":
            p.update(cooldown_after=1, cooldown_ms=60000)
    rig = start_rig(tollgate, db, fake, *fams, cat=cat)
    h = dict(rig.h, **{"anthropic-version": "2023-06-01"})
    ask = {"model": "count_chain", "messages": [user("How many?")]}

    r = rig.t.post("/v1/messages/count_tokens", headers=h, json=ask)
    assert r.status_code == 200, r.text
    assert r.headers["x-tollgate-token-count"] == "estimate"

    fake.script("m", [FakeReply(status=503)])
    r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
        "model": "count_chain", "messages": [user("ping")]})
    assert r.status_code == 200, r.text     # answered by the fallback
    assert metric(rig.t, "tollgate_router_targets_cooling", "fake") == 1

    r = rig.t.post("/v1/messages/count_tokens", headers=h, json=ask)
    assert r.status_code == 200, r.text
    assert r.headers["x-tollgate-token-count"] == "provider"
    assert rig.anth.last().path == "/v1/messages/count_tokens"


def test_a_failing_target_cools_down_then_is_probed(tollgate, db, fake,
                                                    fams):
    rig = cooling_rig(tollgate, db, fake, fams, 2, 1500)
    fake.script("m", [FakeReply(status=503)] * 3)

    def chain():
        r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
            "model": "chain", "messages": [user("ping")]})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == "fake: ping"

    def tried():
        return len(fake.for_model("m"))

    chain()
    chain()                         # the second failure: cooling
    assert tried() == 2
    assert metric(rig.t, "tollgate_router_cooldowns_total", "fake") == 1
    assert metric(rig.t, "tollgate_router_targets_cooling", "fake") == 1
    chain()                         # straight to the fallback
    assert tried() == 2
    assert len(fake.for_model("b")) == 3

    # A chain whose every target cools: 503 with Retry-After.
    r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
        "model": "fake:m", "messages": [user("ping")]})
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "unavailable"
    assert r.json()["error"]["type"] == "server_error"
    assert 1 <= int(r.headers["retry-after"]) <= 2
    assert tried() == 2

    time.sleep(1.6)
    chain()                         # one probe, which fails again
    assert tried() == 3
    assert metric(rig.t, "tollgate_router_cooldowns_total", "fake") == 2
    chain()
    assert tried() == 3

    time.sleep(1.6)
    chain()                         # the probe answers: closed again
    assert tried() == 4
    assert metric(rig.t, "tollgate_router_targets_cooling", "fake") == 0
    chain()
    assert tried() == 5
    assert len(fake.for_model("b")) == 5


def test_a_refusal_of_the_request_is_not_a_failure(tollgate, db, fake,
                                                   fams):
    rig = cooling_rig(tollgate, db, fake, fams, 1, 60000)
    fake.script("m", [FakeReply(status=400)] * 2)
    for _ in range(2):
        r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
            "model": "chain", "messages": [user("bad")]})
        assert r.status_code == 400, r.text
    r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
        "model": "fake:m", "messages": [user("fine")]})
    assert r.status_code == 200, r.text
    assert len(fake.for_model("m")) == 3
    assert metric(rig.t, "tollgate_router_cooldowns_total", "fake") == 0


# --- item 12: a clamped o-series call ------------------------------------

def test_credit_clamped_o_series_call_sends_max_completion_tokens(
        tollgate, db, fake, fams):
    text = "w " * 20
    b = bound(len(text), 1)
    inp, out, _ = PRICES[O4]
    # The prompt bound and 37 output tokens, no more.
    rig = start_rig(tollgate, db, fake, *fams,
                    balance=cost(b, 0, 37, inp, inp, out))
    r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
        "model": O4, "messages": [user(text)]})
    assert r.status_code == 200, r.text
    sent = fake.for_model("o4-mini")[-1]["body"]
    assert "max_tokens" not in sent
    assert sent["max_completion_tokens"] == 37
    rec = rig.records(1)[0]
    assert rec["model"] == O4 and rec["status"] == "ok"
    assert rec["cost_micros"] == priced(rec) > 0
    assert r.json()["usage"]["cost_micros"] == rec["cost_micros"]
    check_ledger(rig.db)


def test_o_series_refuses_the_legacy_field_the_client_chose(rig):
    r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
        "model": O4, "max_tokens": 50, "messages": [user("hi")]})
    assert r.status_code == 400, r.text
    assert "max_completion_tokens" in r.json()["error"]["message"]
    r = rig.t.post("/v1/chat/completions", headers=rig.h, json={
        "model": O4, "max_completion_tokens": 50, "messages": [user("hi")]})
    assert r.status_code == 200, r.text
    assert fake_body(rig)["max_completion_tokens"] == 50


def fake_body(rig):
    return rig.fake.for_model("o4-mini")[-1]["body"]
