"""Issue 12's translation items end to end, with the Anthropic and
Gemini fakes speaking the real wire formats (and checking what the real
APIs check): prompt-cache markers from both surfaces and the cache usage
clients see, a streamed thinking turn replayed, stop sequences and
message_start through /v1/messages, and Gemini's thoughtSignature kept
across a /v1/messages tool loop."""

import json

import pytest

from lib.families import anthropic_sdk, families_server, sse_events
from lib.keys import auth

CLAUDE = "anthropic:claude-sonnet-4-5"
GEMINI = "gemini:gemini-2.5-flash"
EPH = {"type": "ephemeral"}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {
        "location": {"type": "string"}}}}, "cache_control": EPH},
    {"type": "function", "function": {
        "name": "get_time", "parameters": {"type": "object", "properties": {
            "tz": {"type": "string"}}}}}]
ANTH_TOOLS = [{"name": "get_weather", "input_schema": {
    "type": "object", "properties": {"location": {"type": "string"}}},
    "cache_control": EPH},
    {"name": "get_time", "input_schema": {
        "type": "object", "properties": {"tz": {"type": "string"}}}}]


class Fam:
    def __init__(self, server, key, anth, gem):
        self.server, self.key, self.anth, self.gem = server, key, anth, gem

    def chat(self, body, **kw):
        return self.server.post("/v1/chat/completions", json=body,
                                headers=auth(self.key), **kw)

    def chat_stream(self, body):
        b = dict(body, stream=True, stream_options={"include_usage": True})
        r = self.chat(b, stream=True)
        assert r.status_code == 200, r.text
        return [json.loads(d) for _, d in sse_events(r) if d != "[DONE]"]

    def messages(self, body, stream=False):
        h = {"x-api-key": self.key, "anthropic-version": "2023-06-01"}
        b = dict(body, stream=True) if stream else body
        r = self.server.post("/v1/messages", json=b, headers=h,
                             stream=stream)
        if not stream:
            return r
        assert r.status_code == 200, r.text
        return [(e, json.loads(d)) for e, d in sse_events(r)]


@pytest.fixture
def fam(tollgate, db):
    with families_server(tollgate, db) as started:
        yield Fam(*started)


def cached_chat(model):
    return {"model": model, "max_tokens": 50, "tools": TOOLS, "messages": [
        {"role": "system", "content": [
            {"type": "text", "text": "A long manual.",
             "cache_control": EPH}]},
        {"role": "user", "content": [
            {"type": "text", "text": "A long document.",
             "cache_control": {"type": "ephemeral", "ttl": "5m"}},
            {"type": "text", "text": "Summarise it."}]}]}


def test_cache_control_on_the_chat_surface(fam):
    fam.anth.push("cache")
    r = fam.chat(cached_chat(CLAUDE))
    assert r.status_code == 200, r.text
    sent = fam.anth.last().json
    assert sent["system"] == [{"type": "text", "text": "A long manual.",
                               "cache_control": EPH}]
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "A long document.",
         "cache_control": {"type": "ephemeral", "ttl": "5m"}},
        {"type": "text", "text": "Summarise it."}]
    assert sent["tools"][0]["cache_control"] == EPH
    assert "cache_control" not in sent["tools"][1]
    u = r.json()["usage"]
    assert u["prompt_tokens"] == 21 + 188 + 1800
    assert u["prompt_tokens_details"]["cached_tokens"] == 1800
    assert u["prompt_tokens_details"]["cache_write_tokens"] == 188
    assert "cache_creation_tokens" not in u["prompt_tokens_details"]

    fam.anth.push("cache")
    chunks = fam.chat_stream(cached_chat(CLAUDE))
    u = [c["usage"] for c in chunks if c.get("usage")][-1]
    assert u["prompt_tokens"] == 2009
    assert u["prompt_tokens_details"]["cache_write_tokens"] == 188

    # Gemini caches by itself: the marker is dropped, the call works.
    fam.gem.push("text")
    r = fam.chat(cached_chat(GEMINI))
    assert r.status_code == 200, r.text
    assert "cache_control" not in json.dumps(fam.gem.last().json)


@pytest.mark.parametrize("cc,param", [
    ({"type": "ephemeral", "ttl": "1h"},
     "messages[1].content[0].cache_control.ttl"),
    ({"type": "persistent"}, "messages[1].content[0].cache_control"),
    ("yes", "messages[1].content[0].cache_control")])
def test_bad_cache_control_is_refused(fam, cc, param):
    body = cached_chat(CLAUDE)
    body["messages"][1]["content"][0]["cache_control"] = cc
    n = len(fam.anth.requests)
    r = fam.chat(body)
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["code"] == "invalid_value" and e["param"] == param
    assert len(fam.anth.requests) == n


def test_cache_control_on_the_messages_surface(fam):
    body = {"model": CLAUDE, "max_tokens": 50, "tools": ANTH_TOOLS,
            "system": [{"type": "text", "text": "A long manual.",
                        "cache_control": EPH},
                       {"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "A long document.",
                 "cache_control": EPH}]}]}
    fam.anth.push("cache")
    r = fam.messages(body)
    assert r.status_code == 200, r.text
    sent = fam.anth.last().json
    assert sent["system"] == [{"type": "text", "text": "A long manual.",
                               "cache_control": EPH},
                              {"type": "text", "text": "Be brief."}]
    assert sent["messages"][0]["content"][0]["cache_control"] == EPH
    assert sent["tools"][0]["cache_control"] == EPH
    m = r.json()
    assert m["usage"] == {"input_tokens": 21, "output_tokens": 12,
                          "cache_creation_input_tokens": 188,
                          "cache_read_input_tokens": 1800}

    # streamed: message_start has the real input count and model id
    fam.anth.push("cache")
    evs = fam.messages(body, stream=True)
    start = evs[0][1]["message"]
    assert evs[0][0] == "message_start"
    assert start["model"] == m["model"] == "claude-sonnet-4-5-20250929"
    assert start["usage"]["input_tokens"] == 21
    assert start["usage"]["cache_creation_input_tokens"] == 188
    delta = [d for e, d in evs if e == "message_delta"][-1]
    assert delta["usage"]["cache_creation_input_tokens"] == 188
    assert delta["usage"]["cache_read_input_tokens"] == 1800
    assert delta["usage"]["output_tokens"] == 12

    body["system"][0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    r = fam.messages(body)
    assert r.status_code == 400, r.text
    assert "system.0.cache_control.ttl" in r.text


def test_streamed_thinking_turn_is_replayed(fam):
    """A tool loop with extended thinking, streamed: the client keeps
    the assistant turn's reasoning_details as they came (every entry)
    and sends the turn back; the fake, like Anthropic, refuses a thinking
    block whose text is not what it signed."""
    body = {"model": CLAUDE, "max_tokens": 4000, "tools": TOOLS[1:],
            "reasoning_effort": "low",
            "messages": [{"role": "user", "content": "Time in Paris?"}]}
    fam.anth.push("tools")
    chunks = fam.chat_stream(body)
    msg = {"role": "assistant", "content": "", "reasoning_details": [],
           "tool_calls": []}
    for c in chunks:
        for ch in c.get("choices") or []:
            d = ch["delta"]
            msg["content"] += d.get("content") or ""
            msg["reasoning_details"] += d.get("reasoning_details") or []
            for tc in d.get("tool_calls") or []:
                if tc["index"] == len(msg["tool_calls"]):
                    msg["tool_calls"].append({
                        "id": tc["id"], "type": "function", "function": {
                            "name": tc["function"]["name"],
                            "arguments": ""}})
                msg["tool_calls"][tc["index"]]["function"]["arguments"] += \
                    tc["function"].get("arguments") or ""
    assert len(msg["reasoning_details"]) > 1
    body["messages"] += [msg] + [
        {"role": "tool", "tool_call_id": c["id"], "content": "ok"}
        for c in msg["tool_calls"]]

    fam.anth.push("text", text="It is 14:02.")
    r = fam.chat(body)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "It is 14:02."
    think = fam.anth.last().json["messages"][1]["content"][0]
    assert think == {"type": "thinking",
                     "thinking": "Two lookups are needed.",
                     "signature": "EqQBCgIYAhIMfakeSignature"}

    # the fake is strict: a thinking text that was not signed is refused
    msg["reasoning_details"] = [{"type": "reasoning.text", "text": "",
                                 "signature": "EqQBCgIYAhIMfakeSignature"}]
    r = fam.chat(body)
    assert r.status_code == 400, r.text


def test_messages_stop_sequence(fam):
    body = {"model": CLAUDE, "max_tokens": 50, "stop_sequences": ["END"],
            "messages": [{"role": "user", "content": "Count."}]}
    fam.anth.push("stop_sequence")
    r = fam.messages(body)
    assert r.status_code == 200, r.text
    assert fam.anth.last().json["stop_sequences"] == ["END"]
    m = r.json()
    assert (m["stop_reason"], m["stop_sequence"]) == ("stop_sequence", "END")

    fam.anth.push("stop_sequence")
    evs = fam.messages(body, stream=True)
    delta = [d for e, d in evs if e == "message_delta"][-1]["delta"]
    assert delta == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert fam.anth.last().json["stop_sequences"] == ["END"]


@pytest.mark.parametrize("stream", [False, True])
def test_messages_gemini_thought_signature_loop(fam, stream):
    """/v1/messages to a Gemini thinking model: the official SDK's
    answer, sent back as the SDK gives it, keeps the signature."""
    body = {"model": GEMINI, "max_tokens": 200, "tools": ANTH_TOOLS,
            "thinking": {"type": "enabled", "budget_tokens": 3000},
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    fam.gem.push("tools")
    out = anthropic_sdk(fam.server.url, fam.key, body, stream=stream)
    m = out["message"]
    assert m["stop_reason"] == "tool_use", out
    cfg = fam.gem.last().json["generationConfig"]["thinkingConfig"]
    assert cfg["thinkingBudget"] == 3000
    uses = [b for b in m["content"] if b["type"] == "tool_use"]
    assert [u["name"] for u in uses] == ["get_weather", "get_time"]

    fam.gem.push("text", text="Sunny, 14:02.")
    nxt = dict(body, messages=body["messages"] + [
        {"role": "assistant", "content": m["content"]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": u["id"],
             "content": "ok"} for u in uses]}])
    out = anthropic_sdk(fam.server.url, fam.key, nxt)
    assert "error" not in out, out
    assert out["message"]["content"][0]["text"] == "Sunny, 14:02."
    sent = fam.gem.last().json["contents"]
    calls = [p for p in sent[1]["parts"] if "functionCall" in p]
    assert calls[0]["thoughtSignature"] == "CiQB0e2Kb3fakeSig"
    assert [p["functionResponse"]["name"] for p in sent[2]["parts"]] == \
        ["get_weather", "get_time"]

    # without the signature Gemini (and the fake) refuse the turn
    for b in nxt["messages"][1]["content"]:
        if b["type"] == "tool_use":
            b["id"] = b["id"].split("__tsig_")[0]
    out = anthropic_sdk(fam.server.url, fam.key, nxt)
    assert out.get("error", {}).get("status") == 400, out
