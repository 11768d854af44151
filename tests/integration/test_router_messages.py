"""POST /v1/messages end to end: Anthropic-shaped calls (raw HTTP and the
official Anthropic SDK, streamed and not) through tollgate to the
anthropic fake, the gemini fake and the built-in echo provider."""

import json
import threading

import pytest

from lib.families import ANTH_KEY, anthropic_sdk, families_server, sse_events

CLAUDE = "anthropic:claude-sonnet-4-5"
GEMINI = "gemini:gemini-2.5-flash"

TOOLS = [{"name": "get_weather", "description": "Current weather",
          "input_schema": {"type": "object", "properties": {
              "location": {"type": "string"}, "unit": {"type": "string"}},
              "required": ["location"]}},
         {"name": "get_time", "input_schema": {"type": "object"}}]


class Msgs:
    def __init__(self, server, key, anth, gem):
        self.server, self.key, self.anth, self.gem = server, key, anth, gem

    def headers(self, key=None):
        return {"x-api-key": key or self.key,
                "anthropic-version": "2023-06-01"}

    def post(self, body, stream=False, key=None):
        return self.server.post("/v1/messages", json=body, stream=stream,
                                headers=self.headers(key))

    def sdk(self, body, stream=False, key=None):
        return anthropic_sdk(self.server.url, key or self.key, body, stream)


@pytest.fixture
def msgs(tollgate, db):
    with families_server(tollgate, db) as started:
        yield Msgs(*started)


def body(model, text="Weather in Paris?", **extra):
    b = {"model": model, "max_tokens": 512, "system": "Be brief.",
         "messages": [{"role": "user", "content": text}]}
    b.update(extra)
    return b


def assert_anthropic_error(r, status, etype):
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["type"] == "error", doc
    assert doc["error"]["type"] == etype, doc
    assert doc["error"]["message"]
    assert r.headers.get("x-request-id")


def test_sdk_whole_over_anthropic(msgs):
    msgs.anth.push("cache", text="Sunny, 18C.")
    r = msgs.sdk(body(CLAUDE))
    m = r["message"]
    assert m["type"] == "message" and m["role"] == "assistant"
    assert m["content"] == [{"type": "text", "text": "Sunny, 18C."}]
    assert m["stop_reason"] == "end_turn"
    assert m["usage"]["input_tokens"] == 21
    assert m["usage"]["cache_read_input_tokens"] == 1800
    assert m["usage"]["cache_creation_input_tokens"] == 188
    assert m["usage"]["output_tokens"] == 12
    sent = msgs.anth.last().json
    assert sent["system"] == "Be brief."
    assert sent["max_tokens"] == 512
    assert msgs.anth.last().headers["x-api-key"] == ANTH_KEY


def test_sdk_stream_tools_over_anthropic(msgs):
    msgs.anth.push("tools")
    whole = msgs.sdk(body(CLAUDE, tools=TOOLS))["message"]
    msgs.anth.push("tools", delay=0.01)
    r = msgs.sdk(body(CLAUDE, tools=TOOLS), stream=True)
    m = r["message"]
    assert [b["type"] for b in m["content"]] == \
        ["thinking", "text", "tool_use", "tool_use"]
    assert m["content"][2]["name"] == "get_weather"
    assert m["content"][2]["input"] == {"location": "Paris",
                                        "unit": "celsius"}
    assert m["content"][3]["input"] == {"tz": "Europe/Paris"}
    assert m["stop_reason"] == "tool_use"
    assert m["content"][1:] == whole["content"][1:]
    assert m["content"][0]["thinking"] == whole["content"][0]["thinking"]
    assert m["usage"]["output_tokens"] == 89
    assert r["text"] == "Let me check both."
    assert r["events"][0] == "message_start"
    assert r["events"][-1] == "message_stop"


def test_tool_round_trip_request(msgs):
    msgs.anth.push("text", text="18C and 14:02.")
    b = body(CLAUDE, tools=TOOLS,
             tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    b["messages"] += [
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"location": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time",
             "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1",
             "content": "18C"},
            {"type": "tool_result", "tool_use_id": "toolu_2",
             "content": [{"type": "text", "text": "14:02"}]}]}]
    m = msgs.sdk(b)["message"]
    assert m["content"][0]["text"] == "18C and 14:02."
    sent = msgs.anth.last().json
    assert [t["role"] for t in sent["messages"]] == \
        ["user", "assistant", "user"]
    assert [x["type"] for x in sent["messages"][2]["content"]] == \
        ["tool_result", "tool_result"]
    assert sent["messages"][1]["content"][1]["input"] == \
        {"location": "Paris"}
    assert sent["tool_choice"] == {"type": "auto",
                                   "disable_parallel_tool_use": True}


def test_sdk_over_gemini_and_echo(msgs):
    msgs.gem.push("tools")
    m = msgs.sdk(body(GEMINI, tools=TOOLS))["message"]
    assert [b["type"] for b in m["content"]] == \
        ["thinking", "text", "tool_use", "tool_use"]
    assert m["stop_reason"] == "tool_use"
    assert m["content"][3]["input"] == {"tz": "Europe/Paris"}
    msgs.gem.push("tools")
    s = msgs.sdk(body(GEMINI, tools=TOOLS), stream=True)["message"]
    assert [b["type"] for b in s["content"]] == \
        ["thinking", "text", "tool_use", "tool_use"]
    assert s["content"][2]["input"] == m["content"][2]["input"]
    sent = msgs.gem.last().json
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}

    e = msgs.sdk(body("echo:echo-1", text="hello there"))["message"]
    assert e["content"][0]["text"] == "echo: hello there"
    es = msgs.sdk(body("echo:echo-1", text="hello there"), stream=True)
    assert es["text"] == "echo: hello there"
    assert es["message"]["usage"]["output_tokens"] == \
        e["usage"]["output_tokens"]


def test_raw_stream_bytes(msgs):
    msgs.anth.push("text", text="abc def ghi")
    r = msgs.post(body(CLAUDE, stream=True), stream=True)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    seen = []
    for ev, data in sse_events(r):
        d = json.loads(data)
        assert d["type"] == ev
        seen.append(ev)
    assert seen[0] == "message_start" and seen[-1] == "message_stop"
    assert "content_block_delta" in seen and "message_delta" in seen


def test_stream_is_incremental(msgs):
    gate = threading.Event()
    # The gate after the first text delta: message_start is held back
    # until the first content.
    msgs.anth.push("text", gate=gate, gate_at=2, text="one two three four")
    r = msgs.post(body(CLAUDE, stream=True), stream=True)
    assert r.status_code == 200
    events = sse_events(r)
    ev, _ = next(events)
    assert ev == "message_start"
    assert not gate.is_set()
    gate.set()
    assert [e for e, _ in events][-1] == "message_stop"


def test_upstream_error_mid_stream(msgs):
    msgs.anth.push("stream_error")
    r = msgs.post(body(CLAUDE, stream=True), stream=True)
    assert r.status_code == 200
    evs = [(e, json.loads(d)) for e, d in sse_events(r)]
    assert evs[0][0] == "message_start"
    assert evs[-1][0] == "error"
    assert evs[-1][1]["type"] == "error"
    assert "Overloaded" in evs[-1][1]["error"]["message"]


def test_errors_in_anthropic_shape(msgs):
    r = msgs.post(body(CLAUDE), key="tg_not_a_key")
    assert_anthropic_error(r, 401, "authentication_error")
    b = body(CLAUDE)
    del b["max_tokens"]
    r = msgs.post(b)
    assert_anthropic_error(r, 400, "invalid_request_error")
    assert "max_tokens" in r.json()["error"]["message"]
    r = msgs.server.post("/v1/messages", data=b"{nope",
                         headers=msgs.headers())
    assert_anthropic_error(r, 400, "invalid_request_error")
    r = msgs.post(body("anthropic:no-such-model"))
    assert_anthropic_error(r, 404, "not_found_error")
    msgs.anth.push("error", status=429, retry_after=1)
    msgs.anth.push("error", status=429, retry_after=1)
    r = msgs.post(body(CLAUDE))
    assert_anthropic_error(r, 429, "rate_limit_error")

    sdk = msgs.sdk(dict(body(CLAUDE), max_tokens=0))
    assert sdk["error"]["status"] == 400
    assert sdk["error"]["type"] == "invalid_request_error"
    assert msgs.server.get("/healthz").status_code == 200
