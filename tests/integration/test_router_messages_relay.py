"""POST /v1/messages: the Anthropic-shaped surface over the router's
routing, called by the official Anthropic SDK (tests/node), whole and
streamed, through echo and through an OpenAI-compatible upstream; errors
in Anthropic's shape, also mid-stream."""

import json
import os
import shutil

import pytest

from lib.families import anthropic_sdk
from lib.router import (FakeReply, assert_error, fake, router,  # noqa
                        sse_request)
from lib.server import ROOT

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not os.path.isdir(os.path.join(
        ROOT, "tests", "node", "node_modules", "@anthropic-ai")),
    reason="node and tests/node/node_modules are needed")


def req(model="echo:echo-1", text="Hello there", **kw):
    b = {"model": model, "max_tokens": 64,
         "messages": [{"role": "user", "content": text}]}
    b.update(kw)
    return b


def post(router, body, headers=None):
    h = {"x-api-key": router.key, "anthropic-version": "2023-06-01"}
    h.update(headers or {})
    return router.t.post("/v1/messages", json=body, headers=h)


@needs_node
def test_anthropic_sdk_whole_and_streamed_through_echo(router):
    base = router.t.url
    out = anthropic_sdk(base, router.key, req(system="be brief"))
    m = out["message"]
    assert m["type"] == "message" and m["role"] == "assistant"
    assert m["content"] == [{"type": "text", "text": "echo: Hello there"}]
    assert m["stop_reason"] == "end_turn"
    assert m["usage"]["input_tokens"] == 4
    assert m["usage"]["output_tokens"] == 3

    out = anthropic_sdk(base, router.key, req(system="be brief"),
                        stream=True)
    assert out["text"] == "echo: Hello there"
    m2 = out["message"]
    assert m2["content"] == m["content"]
    assert m2["stop_reason"] == "end_turn"
    assert m2["usage"]["output_tokens"] == 3
    assert out["events"][0] == "message_start"
    assert out["events"][-1] == "message_stop"
    assert "content_block_delta" in out["events"]

    out = anthropic_sdk(base, router.key, req(max_tokens=2), stream=True)
    assert out["message"]["stop_reason"] == "max_tokens"
    assert out["text"] == "echo: Hello"


@needs_node
def test_anthropic_sdk_tool_use_through_echo(router):
    body = req(text="find cats", tools=[{
        "name": "search", "description": "search the web",
        "input_schema": {"type": "object", "properties": {
            "text": {"type": "string"}}}}],
        tool_choice={"type": "any"})
    for stream in (False, True):
        out = anthropic_sdk(router.t.url, router.key, body, stream=stream)
        m = out["message"]
        assert m["stop_reason"] == "tool_use", out
        tu = [b for b in m["content"] if b["type"] == "tool_use"]
        assert tu[0]["name"] == "search"
        assert tu[0]["input"] == {"text": "echo: find cats"}


@needs_node
def test_anthropic_sdk_through_an_openai_upstream(router):
    out = anthropic_sdk(router.t.url, router.key, req(model="chain"),
                        stream=True)
    assert out["text"] == "fake: Hello there"
    sent = router.fake.requests[-1]["body"]
    assert sent["stream"] is True and sent["max_tokens"] == 64
    assert sent["stream_options"] == {"include_usage": True}


def test_messages_errors_are_anthropic_shaped(router):
    r = post(router, {"model": "echo:echo-1",
                      "messages": [{"role": "user", "content": "x"}]})
    err = assert_error(r, 400, anthropic=True)
    assert err["type"] == "invalid_request_error"
    assert "max_tokens" in err["message"]

    err = assert_error(post(router, req(model="nope:nope")), 404,
                       anthropic=True)
    assert err["type"] == "not_found_error"

    r = router.t.post("/v1/messages", json=req(),
                      headers={"x-api-key": "tg_wrong"})
    err = assert_error(r, 401, anthropic=True)
    assert err["type"] == "authentication_error"

    r = router.t.post("/v1/messages", data=b"{nope", headers={
        "x-api-key": router.key, "content-type": "application/json"})
    assert_error(r, 400, anthropic=True)

    router.fake.script("m", [FakeReply(status=429,
                                       headers={"retry-after": "30"})])
    r = post(router, req(model="fake:m"))
    err = assert_error(r, 429, anthropic=True)
    assert err["type"] == "rate_limit_error"
    assert r.headers["retry-after"] == "30"
    router.alive()


def test_messages_whole_answer_shape_and_cost_header(router):
    r = post(router, req())
    assert r.status_code == 200, r.text
    assert r.headers["x-tollgate-cost-micros"] == "0"
    m = r.json()
    assert m["id"].startswith("msg_")
    assert m["content"][0]["text"] == "echo: Hello there"


def test_messages_stream_cut_ends_with_an_error_event(router):
    router.fake.script("m", [FakeReply(content="one two three",
                                       behaviour="truncated", after=3)])
    s = sse_request(router.t.port, "/v1/messages", req(model="fake:m",
                                                        stream=True),
                    {"x-api-key": router.key})
    assert s.status == 200
    last = json.loads(s.events[-1][1])
    assert last["type"] == "error"
    assert last["error"]["type"] == "api_error"
    assert all(d != "[DONE]" for _, d in s.events)
    first = json.loads(s.events[0][1])
    assert first["type"] == "message_start"
    router.alive()
