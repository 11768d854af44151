"""POST /v1/messages/count_tokens (docs/router.md, "Counting tokens"):
forwarded to Anthropic's count_tokens and Gemini's countTokens (fakes in
the real shapes), the router's estimate for other families and when the
provider fails, x-tollgate-token-count saying which, free of charge,
Anthropic's error shape, and the official SDK's messages.countTokens."""

import json
import os
import subprocess

import pytest

pytest.importorskip("lib.router")

from fakes.families_http import count_words  # noqa: E402
from lib.credits import set_price  # noqa: E402
from lib.families import (ANTH_KEY, GEM_KEY, AnthropicFake,  # noqa: E402
                          GeminiFake)
from lib.keys import seed_key  # noqa: E402
from lib.router import FAKE_KEY, fake  # noqa: E402,F401

NODE_DIR = os.path.join(os.path.dirname(__file__), "..", "node")
CLAUDE = "anthropic:claude-sonnet-4-5"
GEMINI = "gemini:gemini-2.5-flash"
GPT = "openai:gpt-4o-mini"

# The prompt bound of app/credits/prompt.h for a chat call.
REQUEST_OVERHEAD, TOOLS_OVERHEAD, MESSAGE_OVERHEAD = 32, 512, 16


def bound(text_bytes, messages):
    return REQUEST_OVERHEAD + TOOLS_OVERHEAD + text_bytes + \
        MESSAGE_OVERHEAD * messages


class Counter:
    def __init__(self, t, key, uid, anth, gem, openai):
        self.t, self.key, self.uid = t, key, uid
        self.anth, self.gem, self.openai = anth, gem, openai

    def count(self, body, key=None, headers=None):
        h = {"x-api-key": key or self.key,
             "anthropic-version": "2023-06-01"}
        h.update(headers or {})
        return self.t.post("/v1/messages/count_tokens", json=body,
                           headers=h)


@pytest.fixture
def counter(tollgate, db, fake):
    """The shipped catalog with anthropic, gemini and openai on fakes; a
    user with no credits at all, every model priced: a billed call would
    be refused (402), counting is free."""
    anth = AnthropicFake(api_key=ANTH_KEY)
    gem = GeminiFake(api_key=GEM_KEY)
    try:
        t = tollgate(env={
            "ANTHROPIC_BASE_URL": anth.url, "ANTHROPIC_API_KEY": ANTH_KEY,
            "GEMINI_BASE_URL": gem.url, "GEMINI_API_KEY": GEM_KEY,
            "OPENAI_BASE_URL": fake.base_url(), "OPENAI_API_KEY": FAKE_KEY})
        for m in (CLAUDE, GEMINI, GPT):
            set_price(db, m, 3000000, 15000000)
        key, uid, _ = seed_key(db)
        yield Counter(t, key, uid, anth, gem, fake)
    finally:
        anth.close()
        gem.close()


def body(model, **kw):
    b = {"model": model, "system": "You are terse.",
         "messages": [{"role": "user", "content": "How many tokens is "
                       "this question?"}]}
    b.update(kw)
    return b


def assert_anthropic_error(r, status, etype):
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["type"] == "error" and doc["error"]["type"] == etype, doc
    assert doc["error"]["message"]


def usage_rows(db, uid):
    return db.query("SELECT count(*) FROM usage_records WHERE user_id = %s",
                    uid)[0][0]


def test_anthropic_counts(counter, db):
    tools = [{"name": "get_weather", "description": "Weather of a city",
              "input_schema": {"type": "object", "properties": {
                  "city": {"type": "string"}}}}]
    r = counter.count(body(CLAUDE, tools=tools))
    assert r.status_code == 200, r.text
    assert r.headers["x-tollgate-token-count"] == "provider"
    assert "x-tollgate-token-count-fallback" not in r.headers
    rec = counter.anth.last()
    assert rec.path == "/v1/messages/count_tokens"
    assert rec.headers["x-api-key"] == ANTH_KEY
    sent = rec.json
    assert sent["model"] == "claude-sonnet-4-5"
    assert set(sent) <= {"model", "messages", "system", "tools",
                         "tool_choice", "thinking"}, sent
    assert sent["tools"][0]["name"] == "get_weather"
    want = 3 + count_words([sent["messages"], sent.get("system"),
                            sent["tools"]])
    assert r.json() == {"input_tokens": want}

    # Free: no usage record, no hold, though the user has no credits.
    assert usage_rows(db, counter.uid) == 0
    r = counter.t.post("/v1/messages", json=dict(body(CLAUDE),
                       max_tokens=100), headers={"x-api-key": counter.key})
    assert r.status_code == 402, r.text


def test_gemini_counts(counter, db):
    r = counter.count(body(GEMINI, max_tokens=50))
    assert r.status_code == 200, r.text
    assert r.headers["x-tollgate-token-count"] == "provider"
    rec = counter.gem.last()
    assert rec.path == "/v1beta/models/gemini-2.5-flash:countTokens"
    assert rec.headers["x-goog-api-key"] == GEM_KEY
    g = rec.json["generateContentRequest"]
    assert g["model"] == "models/gemini-2.5-flash"
    want = 3 + count_words([g["contents"], g.get("systemInstruction"),
                            g.get("tools")])
    assert r.json() == {"input_tokens": want}
    assert usage_rows(db, counter.uid) == 0


def test_openai_family_gets_the_estimate(counter):
    n = len(counter.openai.requests)
    b = {"model": GPT, "messages": [{"role": "user", "content":
                                     "hello there"}]}
    r = counter.count(b)
    assert r.status_code == 200, r.text
    assert r.headers["x-tollgate-token-count"] == "estimate"
    assert "x-tollgate-token-count-fallback" not in r.headers
    # The hold's prompt bound: 11 bytes of text in 1 message.
    assert r.json() == {"input_tokens": bound(11, 1)}
    assert len(counter.openai.requests) == n     # nothing went upstream

    # Bearer works as on /v1/messages; so does an alias (echo: estimate).
    r = counter.t.post("/v1/messages/count_tokens",
                       json=dict(b, model="default"),
                       headers={"authorization": "Bearer " + counter.key})
    assert r.status_code == 200, r.text
    assert r.headers["x-tollgate-token-count"] == "estimate"


@pytest.mark.parametrize("target", ["anthropic", "gemini"])
def test_provider_failure_falls_back_to_the_estimate(counter, target):
    fk, model = (counter.anth, CLAUDE) if target == "anthropic" else \
        (counter.gem, GEMINI)
    fk.push("error", status=503)
    b = {"model": model, "messages": [{"role": "user", "content":
                                       "hello there"}]}
    r = counter.count(b)
    assert r.status_code == 200, r.text
    assert r.headers["x-tollgate-token-count"] == "estimate"
    assert r.headers["x-tollgate-token-count-fallback"] == \
        "%s failed (503)" % target
    assert r.json() == {"input_tokens": bound(11, 1)}


def test_errors_in_anthropics_shape(counter, db):
    assert_anthropic_error(counter.count({"model": CLAUDE}), 400,
                           "invalid_request_error")
    assert_anthropic_error(counter.count(body("anthropic:nope")), 404,
                           "not_found_error")
    r = counter.t.post("/v1/messages/count_tokens", json=body(CLAUDE))
    assert_anthropic_error(r, 401, "authentication_error")
    limited, _, _ = seed_key(db, user_id=counter.uid,
                             allowed_models=["gemini:*"])
    assert_anthropic_error(counter.count(body(CLAUDE), key=limited), 403,
                           "permission_error")
    assert counter.anth.last() is None      # nothing reached Anthropic


def test_official_sdk_count_tokens(counter):
    r = subprocess.run(
        ["node", "router_breadth.mjs", "count", counter.t.url, counter.key,
         json.dumps(body(CLAUDE))], cwd=NODE_DIR, capture_output=True,
        text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["source"] == "provider", out
    sent = counter.anth.last().json
    assert out["count"] == {"input_tokens": 3 + count_words(
        [sent["messages"], sent.get("system"), sent.get("tools")])}
