"""Billing of the anthropic and gemini families (docs/credits.md): prompt
cache writes at their own rate, and streams that end early settled at
the larger of the provider's reported usage and the estimate from the
bytes relayed (usage reported mid-stream is a lower bound: Anthropic's
message_start says 1 output token, Gemini's interim chunks count only
the prompt). Each test runs on leases and strict; costs are checked to
the micro-credit against GET /api/usage/requests and the ledger check.
"""


import pytest

pytest.importorskip("lib.router")

from lib import auth as _auth  # noqa: E402
from lib.credits import (check_ledger, cost, grant, set_price,  # noqa: E402
                         usage_requests)
from lib.families import (AnthropicFake, GeminiFake,  # noqa: E402
                          family_providers)
from lib.keys import auth, seed_key  # noqa: E402
from lib.router import (catalog, fake, router_env,  # noqa: E402,F401
                        sse_request, user)

ANTH_KEY = "sk-ant-provider-secret-41a7"
GEM_KEY = "AIza-provider-secret-8d2c"

# Claude Sonnet's list prices: cache reads 0.1x, writes 1.25x input.
CLAUDE = dict(inp=3000000, cached=300000, out=15000000, cache_write=3750000)
GEMINI = dict(inp=300000, cached=75000, out=2500000)


class Billed:
    """A tollgate whose anthropic and gemini providers are fakes; a
    signed-in user with credits and an API key."""

    def __init__(self, t, anth, gem, db):
        self.t, self.anth, self.gem, self.db = t, anth, gem, db
        s = _auth.sign_in(t, "payer@example.com")
        self.uid = s.user_id
        self.session = _auth.bearer(s.access_token)
        key, _, _ = seed_key(db, user_id=self.uid)
        self.h = auth(key)
        grant(db, self.uid, 10 ** 7)

    def records(self, n=1, timeout=10):
        """The user's calls from GET /api/usage/requests, once n are
        there (settlement is written after the answer)."""
        return usage_requests(self.t, self.session, n, timeout)


@pytest.fixture(params=["leases", "strict"])
def billed(request, tollgate, db, fake):
    set_price(db, "anthropic:claude-t", CLAUDE["inp"], CLAUDE["out"],
              cached=CLAUDE["cached"], cache_write=CLAUDE["cache_write"])
    set_price(db, "gemini:gem-t", GEMINI["inp"], GEMINI["out"],
              cached=GEMINI["cached"])
    anth = AnthropicFake(api_key=ANTH_KEY)
    gem = GeminiFake(api_key=GEM_KEY)
    try:
        cat = catalog(fake, extra=family_providers(anth, gem))
        env = router_env(cat, ANTHROPIC_API_KEY=ANTH_KEY,
                         GEMINI_API_KEY=GEM_KEY)
        if request.param == "strict":
            env["TOLLGATE_STRICT_SETTLEMENT"] = "1"
        yield Billed(tollgate(env=env), anth, gem, db)
    finally:
        anth.close()
        gem.close()


def test_claude_cache_writes_billed_at_their_rate(billed, db):
    # The fake reports 21 fresh input tokens, 1800 read from the cache,
    # 188 written to it and 12 output tokens.
    billed.anth.push("cache", text="cached answer")
    r = billed.t.post("/v1/chat/completions", headers=billed.h, json={
        "model": "anthropic:claude-t", "messages": [user("hello")]})
    assert r.status_code == 200, r.text
    u = r.json()["usage"]
    assert u["prompt_tokens"] == 21 + 1800 + 188
    want = cost(2009, 1800, 12, CLAUDE["inp"], CLAUDE["cached"],
                CLAUDE["out"], cache_write=188,
                cache_write_in=CLAUDE["cache_write"])
    # 63 fresh + 540 read + 705 written + 180 output
    assert want == 1488
    assert u["cost_micros"] == want
    rec = billed.records()[0]
    assert rec["settlement"] == "provider"
    assert (rec["prompt_tokens"], rec["cached_tokens"],
            rec["cache_write_tokens"], rec["completion_tokens"]) == \
        (2009, 1800, 188, 12)
    assert rec["cost_micros"] == want
    by_model = billed.t.get("/api/usage?group_by=model",
                            headers=billed.session).json()["data"]
    assert [(d["model"], d["cache_write_tokens"], d["cost_micros"])
            for d in by_model] == [("anthropic:claude-t", 188, want)]
    check_ledger(db)


def test_claude_stream_abandoned_is_charged_the_bytes_relayed(billed, db):
    text = "".join("word%03d " % i for i in range(300))    # 2400 bytes
    billed.anth.push("text", text=text, delay=0.3)
    s = sse_request(billed.t.port, "/v1/chat/completions", {
        "model": "anthropic:claude-t", "messages": [user("go")],
        "stream": True}, billed.h, stop_after=3)
    got = "".join(c["choices"][0]["delta"].get("content") or ""
                  for c in s.json_events() if c.get("choices"))
    assert got, "the client left before any text"
    rec = billed.records()[0]
    assert rec["status"] == "client_gone"
    assert rec["settlement"] == "estimate"
    # message_start's placeholder said 1 output token: a lower bound.
    assert rec["prompt_tokens"] == 25
    assert rec["completion_tokens"] >= len(got.encode()) > 1
    assert rec["cost_micros"] == cost(25, 0, rec["completion_tokens"],
                                      CLAUDE["inp"], CLAUDE["cached"],
                                      CLAUDE["out"])
    check_ledger(db)


def test_claude_stream_failing_midway_is_charged_the_bytes_relayed(
        billed, db):
    text = "x" * 900
    billed.anth.push("stream_error", text=text)     # error after 300 bytes
    s = sse_request(billed.t.port, "/v1/chat/completions", {
        "model": "anthropic:claude-t", "messages": [user("go")],
        "stream": True}, billed.h)
    assert s.status == 200
    rec = billed.records()[0]
    assert rec["status"] == "stream_cut" and rec["settlement"] == "estimate"
    assert (rec["prompt_tokens"], rec["completion_tokens"]) == (25, 300)
    assert rec["cost_micros"] == cost(25, 0, 300, CLAUDE["inp"],
                                      CLAUDE["cached"], CLAUDE["out"])
    check_ledger(db)


def test_gemini_stream_cut_before_its_last_chunk_is_charged_output(
        billed, db):
    text = "abcdefghij" * 40                        # two chunks of 200
    billed.gem.push("text", text=text, truncate=True)
    s = sse_request(billed.t.port, "/v1/chat/completions", {
        "model": "gemini:gem-t", "messages": [user("go")],
        "stream": True}, billed.h)
    assert s.status == 200
    rec = billed.records()[0]
    assert rec["status"] == "stream_cut" and rec["settlement"] == "estimate"
    # The interim chunk counted the prompt (30) and no output.
    assert (rec["prompt_tokens"], rec["completion_tokens"]) == (30, 200)
    assert rec["cost_micros"] == cost(30, 0, 200, GEMINI["inp"],
                                      GEMINI["cached"], GEMINI["out"]) > 0
    check_ledger(db)


def test_messages_surface_cut_stream_is_charged_the_bytes_relayed(
        billed, db):
    # /v1/messages over the anthropic family: the same rule.
    billed.anth.push("stream_error", text="y" * 600)   # error after 200
    s = sse_request(billed.t.port, "/v1/messages", {
        "model": "anthropic:claude-t", "max_tokens": 500, "stream": True,
        "messages": [{"role": "user", "content": "go"}]},
        {"x-api-key": billed.h["authorization"][len("Bearer "):],
         "anthropic-version": "2023-06-01"})
    assert s.status == 200
    rec = billed.records()[0]
    assert rec["endpoint"] == "messages"
    assert rec["status"] == "stream_cut" and rec["settlement"] == "estimate"
    assert (rec["prompt_tokens"], rec["completion_tokens"]) == (25, 200)
    assert rec["cost_micros"] == cost(25, 0, 200, CLAUDE["inp"],
                                      CLAUDE["cached"], CLAUDE["out"])
    check_ledger(db)
