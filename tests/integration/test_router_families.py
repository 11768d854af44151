"""The anthropic and gemini families end to end: tollgate with the real
conf/router.json, ANTHROPIC_BASE_URL / GEMINI_BASE_URL pointing at the
fakes, an API key, and OpenAI-shaped calls to /v1/chat/completions and
/v1/embeddings, streamed and not."""

import json
import threading
import time

import pytest

from lib.families import (ANTH_KEY, GEM_KEY, GeminiFake, accumulate,
                          families_server, openai_chunks)
from lib.keys import auth
from lib.router import seed_key  # free models: see lib/router.py

CLAUDE = "anthropic:claude-sonnet-4-5"
GEMINI = "gemini:gemini-2.5-flash"


class Families:
    def __init__(self, server, key, anth, gem):
        self.server = server
        self.key = key
        self.anth = anth
        self.gem = gem

    def chat(self, body, **kw):
        return self.server.post("/v1/chat/completions", json=body,
                                headers=auth(self.key), **kw)

    def stream(self, body):
        b = dict(body, stream=True)
        b.setdefault("stream_options", {"include_usage": True})
        r = self.server.post("/v1/chat/completions", json=b,
                             headers=auth(self.key), stream=True)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/event-stream")
        chunks, done = openai_chunks(r)
        assert done, "no [DONE]"
        return chunks


@pytest.fixture
def fam(tollgate, db):
    with families_server(tollgate, db) as started:
        yield Families(*started)


def ask(text="What's the weather in Paris?", **extra):
    body = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": text}]}
    body.update(extra)
    return body


TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["location"]}}},
    {"type": "function", "function": {
        "name": "get_time", "parameters": {"type": "object", "properties": {
            "tz": {"type": "string"}}}}}]


def message_of(r):
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["object"] == "chat.completion"
    return a, a["choices"][0]["message"], a["choices"][0]["finish_reason"]


def as_final(message, finish, usage=None):
    return {"content": message.get("content") or "",
            "reasoning": message.get("reasoning") or "",
            "tool_calls": [{"id": c["id"], "name": c["function"]["name"],
                            "arguments": json.loads(c["function"]
                                                    ["arguments"])}
                           for c in message.get("tool_calls") or []],
            "finish_reason": finish}


def streamed_final(chunks):
    s = accumulate(chunks)
    for c in s["tool_calls"]:
        c["arguments"] = json.loads(c["arguments"])
    return {k: s[k] for k in ("content", "reasoning", "tool_calls",
                              "finish_reason")}, s["usage"]


# anthropic

def test_anthropic_text_system_and_request_shape(fam):
    a, msg, finish = message_of(fam.chat(ask(model=CLAUDE, max_tokens=300,
                                             stop=["END"],
                                             temperature=0.5)))
    assert msg["content"] == "Hello from the Anthropic fake."
    assert finish == "stop"
    assert a["usage"]["prompt_tokens"] == 25
    assert a["usage"]["completion_tokens"] == 12
    rec = fam.anth.last()
    assert rec.path == "/v1/messages"
    assert rec.headers["x-api-key"] == ANTH_KEY
    assert rec.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in rec.headers
    assert rec.json["model"] == "claude-sonnet-4-5"
    assert rec.json["system"] == "Be brief."
    assert rec.json["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What's the weather in Paris?"}]}]
    assert rec.json["max_tokens"] == 300
    assert rec.json["stop_sequences"] == ["END"]
    assert "stream" not in rec.json


def test_anthropic_max_tokens_always_sent(fam):
    message_of(fam.chat(ask(model=CLAUDE)))
    assert fam.anth.last().json["max_tokens"] > 0


def test_anthropic_tools_stream_equals_whole(fam):
    body = ask(model=CLAUDE, tools=TOOLS, tool_choice="auto")
    fam.anth.push("tools")
    a, msg, finish = message_of(fam.chat(body))
    whole = as_final(msg, finish)
    assert finish == "tool_calls"
    assert [c["name"] for c in whole["tool_calls"]] == \
        ["get_weather", "get_time"]
    assert whole["tool_calls"][0]["arguments"] == {"location": "Paris",
                                                   "unit": "celsius"}
    assert whole["reasoning"] == "Two lookups are needed."
    sent = fam.anth.last().json
    assert sent["tools"][0]["input_schema"]["required"] == ["location"]
    assert sent["tool_choice"] == {"type": "auto"}

    fam.anth.push("tools", delay=0.01)
    chunks = fam.stream(body)
    streamed, usage = streamed_final(chunks)
    assert streamed == whole
    assert usage["completion_tokens"] == 89
    # tool indices count tool calls only, from 0 (blocks 2 and 3 upstream)
    idx = [tc["index"] for c in chunks for ch in c["choices"]
           for tc in ch["delta"].get("tool_calls") or []
           if tc.get("id")]
    assert idx == [0, 1]
    assert fam.anth.last().json["stream"] is True


def test_anthropic_tool_round_trip_merges_results(fam):
    fam.anth.push("text", text="Paris: 18C at 14:02.")
    body = {"model": CLAUDE, "tools": TOOLS, "parallel_tool_calls": False,
            "messages": [
                {"role": "user", "content": "Weather and time in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "toolu_01A", "type": "function", "function": {
                        "name": "get_weather",
                        "arguments": "{\"location\":\"Paris\"}"}},
                    {"id": "toolu_01B", "type": "function", "function": {
                        "name": "get_time",
                        "arguments": "{\"tz\":\"Europe/Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_01A",
                 "content": "18C"},
                {"role": "tool", "tool_call_id": "toolu_01B",
                 "content": "14:02"}]}
    _, msg, finish = message_of(fam.chat(body))
    assert msg["content"] == "Paris: 18C at 14:02." and finish == "stop"
    sent = fam.anth.last().json
    assert [m["role"] for m in sent["messages"]] == \
        ["user", "assistant", "user"]
    assert [b["type"] for b in sent["messages"][2]["content"]] == \
        ["tool_result", "tool_result"]
    assert sent["messages"][1]["content"][0]["input"] == \
        {"location": "Paris"}
    assert sent["tool_choice"] == {"type": "auto",
                                   "disable_parallel_tool_use": True}


def test_anthropic_bad_tool_arguments_refused(fam):
    body = {"model": CLAUDE, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "t", "type": "function",
                                              "function": {
                                                  "name": "f",
                                                  "arguments": "{oops"}}]},
        {"role": "tool", "tool_call_id": "t", "content": "1"}]}
    n = len(fam.anth.requests)
    r = fam.chat(body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "JSON object" in r.json()["error"]["message"]
    assert len(fam.anth.requests) == n      # nothing went upstream


@pytest.mark.parametrize("kind,finish", [
    ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("refusal", "content_filter"), ("text", "stop")])
def test_anthropic_finish_reasons(fam, kind, finish):
    fam.anth.push(kind)
    _, _, f = message_of(fam.chat(ask(model=CLAUDE, max_tokens=5)))
    assert f == finish
    fam.anth.push(kind)
    streamed, _ = streamed_final(fam.stream(ask(model=CLAUDE, max_tokens=5)))
    assert streamed["finish_reason"] == finish


def test_anthropic_cache_usage(fam):
    fam.anth.push("cache")
    a, _, _ = message_of(fam.chat(ask(model=CLAUDE)))
    u = a["usage"]
    assert u["prompt_tokens"] == 21 + 188 + 1800
    assert u["prompt_tokens_details"]["cached_tokens"] == 1800
    assert u["completion_tokens"] == 12
    fam.anth.push("cache")
    _, su = streamed_final(fam.stream(ask(model=CLAUDE)))
    assert su["prompt_tokens"] == u["prompt_tokens"]
    assert su["prompt_tokens_details"]["cached_tokens"] == 1800


def test_anthropic_thinking_redacted(fam):
    fam.anth.push("thinking")
    _, msg, _ = message_of(fam.chat(ask(model=CLAUDE, max_tokens=4000,
                                        reasoning_effort="low")))
    assert msg["reasoning"] == "Let me reason it out."
    assert [d["type"] for d in msg["reasoning_details"]] == \
        ["reasoning.text", "reasoning.encrypted"]
    sent = fam.anth.last().json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    fam.anth.push("thinking")
    streamed, _ = streamed_final(fam.stream(ask(model=CLAUDE,
                                                max_tokens=4000)))
    assert streamed["reasoning"] == "Let me reason it out."
    assert streamed["content"] == msg["content"]


def test_anthropic_errors(fam):
    fam.anth.push("error", status=429, retry_after=2)
    fam.anth.push("error", status=429, retry_after=2)
    r = fam.chat(ask(model=CLAUDE))
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert r.headers.get("retry-after")

    fam.anth.push("error", status=400, message="messages: bad thing")
    r = fam.chat(ask(model=CLAUDE))
    assert r.status_code == 400
    assert "messages: bad thing" in r.json()["error"]["message"]

    for _ in range(3):
        fam.anth.push("error", status=529)
    r = fam.chat(ask(model=CLAUDE))
    assert r.status_code == 502
    assert r.json()["error"]["type"] == "upstream_error"

    fam.anth.push("error", status=401)
    r = fam.chat(ask(model=CLAUDE))
    assert r.status_code == 502
    assert ANTH_KEY not in r.text
    assert fam.server.get("/healthz").status_code == 200


def test_anthropic_error_event_mid_stream(fam):
    fam.anth.push("stream_error")
    b = dict(ask(model=CLAUDE), stream=True)
    r = fam.server.post("/v1/chat/completions", json=b,
                        headers=auth(fam.key), stream=True)
    assert r.status_code == 200
    chunks, done = openai_chunks(r)
    assert any("error" in c for c in chunks), chunks
    err = [c for c in chunks if "error" in c][0]["error"]
    assert "Overloaded" in err["message"]
    assert done


def test_anthropic_stream_is_incremental(fam):
    gate = threading.Event()
    # The gate after the first text delta: the role chunk is held back
    # until the first content.
    fam.anth.push("text", gate=gate, gate_at=2,
                  text="one two three four five six")
    b = dict(ask(model=CLAUDE), stream=True)
    r = fam.server.post("/v1/chat/completions", json=b,
                        headers=auth(fam.key), stream=True)
    assert r.status_code == 200
    lines = r.iter_lines()
    first = None
    for line in lines:
        if line.startswith(b"data: "):
            first = json.loads(line[6:])
            break
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert not gate.is_set()        # the upstream is still waiting
    gate.set()
    rest = b"".join(lines)
    assert b"[DONE]" in rest


def test_anthropic_client_disconnect_aborts_upstream(fam):
    fam.anth.push("text", delay=0.3, text="word " * 40)
    b = dict(ask(model=CLAUDE), stream=True)
    r = fam.server.post("/v1/chat/completions", json=b,
                        headers=auth(fam.key), stream=True)
    it = r.iter_lines()
    for line in it:
        if b"content" in line:
            break
    t0 = time.time()
    r.close()
    assert fam.anth.aborted.wait(3), "upstream not closed"
    assert fam.anth.abort_times[0] - t0 < 1.5
    assert fam.server.get("/healthz").status_code == 200


# gemini

def test_gemini_text_and_request_shape(fam):
    a, msg, finish = message_of(fam.chat(ask(model=GEMINI, max_tokens=100,
                                             temperature=0.2)))
    assert msg["content"] == "Hello from the Gemini fake."
    assert finish == "stop"
    assert a["usage"]["prompt_tokens"] == 30
    rec = fam.gem.last()
    assert rec.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert rec.headers["x-goog-api-key"] == GEM_KEY
    assert rec.json["systemInstruction"] == {"parts": [{"text":
                                                        "Be brief."}]}
    assert rec.json["contents"] == [{"role": "user", "parts": [
        {"text": "What's the weather in Paris?"}]}]
    assert rec.json["generationConfig"]["maxOutputTokens"] == 100


def test_gemini_tools_stream_equals_whole_with_stable_ids(fam):
    body = ask(model=GEMINI, tools=TOOLS, tool_choice="required")
    fam.gem.push("tools")
    a, msg, finish = message_of(fam.chat(body))
    whole = as_final(msg, finish)
    assert finish == "tool_calls"
    assert msg["tool_calls"][0]["extra_content"]["google"][
        "thought_signature"] == "CiQB0e2Kb3fakeSig"
    ids = [c["id"] for c in whole["tool_calls"]]
    assert len(set(ids)) == 2
    assert fam.gem.last().json["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY"}}
    assert a["usage"]["completion_tokens"] == 35
    assert a["usage"]["completion_tokens_details"]["reasoning_tokens"] == 15

    fam.gem.push("tools")
    chunks = fam.stream(body)
    streamed, usage = streamed_final(chunks)
    # same content; ids are stable within each answer's own response id
    for c in whole["tool_calls"] + streamed["tool_calls"]:
        c["id"] = c["id"].rsplit("_", 1)[1]
    assert streamed == whole
    assert usage["completion_tokens"] == 35
    assert fam.gem.last().path.endswith(
        ":streamGenerateContent?alt=sse")

    # the round trip: results go back under the function's name
    fam.gem.push("text", text="Done.")
    body["messages"] += [
        {"role": "assistant", "content": None,
         "tool_calls": msg["tool_calls"]},
        {"role": "tool", "tool_call_id": msg["tool_calls"][1]["id"],
         "content": "14:02"},
        {"role": "tool", "tool_call_id": msg["tool_calls"][0]["id"],
         "content": "{\"temp\": 18}"}]
    body["tool_choice"] = "auto"
    _, m2, _ = message_of(fam.chat(body))
    assert m2["content"] == "Done."
    sent = fam.gem.last().json["contents"]
    assert sent[1]["parts"][0]["thoughtSignature"] == "CiQB0e2Kb3fakeSig"
    assert [p["functionResponse"]["name"] for p in sent[2]["parts"]] == \
        ["get_time", "get_weather"]
    assert sent[2]["parts"][1]["functionResponse"]["response"] == \
        {"temp": 18}


@pytest.mark.parametrize("kind,finish", [
    ("max_tokens", "length"), ("safety", "content_filter"),
    ("blocked", "content_filter"), ("text", "stop")])
def test_gemini_finish_reasons(fam, kind, finish):
    fam.gem.push(kind)
    _, _, f = message_of(fam.chat(ask(model=GEMINI)))
    assert f == finish
    fam.gem.push(kind)
    streamed, _ = streamed_final(fam.stream(ask(model=GEMINI)))
    assert streamed["finish_reason"] == finish


def test_gemini_cache_and_thinking_usage(fam):
    fam.gem.push("cache")
    a, _, _ = message_of(fam.chat(ask(model=GEMINI)))
    assert a["usage"]["prompt_tokens"] == 2048
    assert a["usage"]["prompt_tokens_details"]["cached_tokens"] == 2000
    fam.gem.push("thinking")
    a, msg, _ = message_of(fam.chat(ask(model=GEMINI,
                                        reasoning_effort="medium")))
    assert msg["reasoning"] == "Let me reason it out."
    assert a["usage"]["completion_tokens"] == 35
    assert fam.gem.last().json["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 8192, "includeThoughts": True}


def test_gemini_errors(fam):
    fam.gem.push("error", status=429, retry_after=1)
    fam.gem.push("error", status=429, retry_after=1)
    r = fam.chat(ask(model=GEMINI))
    assert r.status_code == 429, r.text
    assert "RESOURCE_EXHAUSTED" in r.json()["error"]["message"]

    fam.gem.push("error", status=400, message="Invalid value at 'x'")
    r = fam.chat(ask(model=GEMINI))
    assert r.status_code == 400
    assert "Invalid value" in r.json()["error"]["message"]

    fam.gem.push("stream_error")
    b = dict(ask(model=GEMINI), stream=True)
    r = fam.server.post("/v1/chat/completions", json=b,
                        headers=auth(fam.key), stream=True)
    chunks, done = openai_chunks(r)
    assert "overloaded" in [c for c in chunks if "error" in c][0][
        "error"]["message"]


def test_gemini_bad_key_is_ours(tollgate, db):
    with GeminiFake(api_key=GEM_KEY) as gem:
        server = tollgate(env={"GEMINI_BASE_URL": gem.url,
                               "GEMINI_API_KEY": "AIza-wrong-key-000000"})
        key, _, _ = seed_key(db)
        r = server.post("/v1/chat/completions", json=ask(model=GEMINI),
                        headers=auth(key))
        assert r.status_code == 502, r.text
        assert "AIza-wrong" not in r.text


def test_gemini_embeddings(fam):
    r = fam.server.post("/v1/embeddings", headers=auth(fam.key), json={
        "model": "gemini:gemini-embedding-001", "input": ["hello", "world"],
        "dimensions": 3})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["object"] == "list"
    assert [e["index"] for e in d["data"]] == [0, 1]
    assert len(d["data"][0]["embedding"]) == 3
    # Google reports no usage for embeddings: what the router estimated
    # (or 0) is passed on, consistently
    assert d["usage"]["prompt_tokens"] == d["usage"]["total_tokens"] >= 0
    rec = fam.gem.last()
    assert rec.path == \
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert rec.json["requests"][1]["content"]["parts"][0]["text"] == "world"


def test_gemini_embeddings_base64_and_estimated_usage(fam):
    """The OpenAI SDKs ask for encoding_format base64 by default and
    decode it as little-endian float32; Google answers floats, so the
    router encodes them. Google reports no usage: the client sees the
    estimate that is billed (the input's bytes), not 0."""
    import base64
    import struct
    body = {"model": "gemini:gemini-embedding-001",
            "input": ["hello", "world"], "dimensions": 3}
    plain = fam.server.post("/v1/embeddings", headers=auth(fam.key),
                            json=body)
    assert plain.status_code == 200, plain.text
    r = fam.server.post("/v1/embeddings", headers=auth(fam.key),
                        json=dict(body, encoding_format="base64"))
    assert r.status_code == 200, r.text
    for want, got in zip(plain.json()["data"], r.json()["data"]):
        assert isinstance(got["embedding"], str), got
        raw = base64.b64decode(got["embedding"])
        floats = struct.unpack("<%df" % (len(raw) // 4), raw)
        assert floats == pytest.approx(want["embedding"], abs=1e-6)
    for d in (plain.json(), r.json()):
        assert d["usage"]["prompt_tokens"] == len("hello") + len("world")
        assert d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"]


@pytest.mark.parametrize("family", ["anthropic", "gemini"])
def test_truncated_stream_ends_with_an_error(fam, family):
    fake, model = (fam.anth, CLAUDE) if family == "anthropic" else \
        (fam.gem, GEMINI)
    fake.push("tools", truncate=True)
    b = dict(ask(model=model, tools=TOOLS), stream=True)
    r = fam.server.post("/v1/chat/completions", json=b,
                        headers=auth(fam.key), stream=True)
    assert r.status_code == 200
    chunks, done = openai_chunks(r)
    errors = [c for c in chunks if "error" in c]
    assert errors, chunks
    assert errors[0]["error"]["message"].startswith(family)
    assert done
    assert not [c for c in chunks if c.get("choices") and
                c["choices"][0].get("finish_reason")]
    assert fam.server.get("/healthz").status_code == 200
