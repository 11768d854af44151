"""The openai family against a fake OpenAI-compatible upstream speaking
the real wire format: what reaches the upstream, answers (plain, system
prompt, multi-turn, tools, parallel tool calls, a tool result round
trip, stop, length, usage), streams that assemble to the same final
message as the whole answer, incremental relaying, and embeddings."""

import threading
import time

from lib.router import (FAKE_KEY, FakeReply, assemble, assert_error,  # noqa
                        fake, router, user, whole_choices)


def both(router, body, reply_factory=None):
    """The same request whole and streamed (usage asked for); returns
    (whole answer, assembled stream)."""
    if reply_factory is not None:
        router.fake.script("m", [reply_factory(), reply_factory()])
    whole = router.chat(body)
    assert whole.status_code == 200, whole.text
    b = dict(body, stream=True, stream_options={"include_usage": True})
    s = router.stream(b)
    assert s.status == 200 and s.done(), (s.status, s.body)
    return whole.json(), assemble(s.json_events())


def assert_same(whole, streamed):
    assert [{"index": c["index"], "message": c["message"],
             "finish_reason": c["finish_reason"]}
            for c in streamed["choices"]] == whole_choices(whole)
    for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert streamed["usage"][k] == whole["usage"][k], k
    assert streamed["usage"]["cost_micros"] == whole["usage"][
        "cost_micros"] == 0


def test_upstream_request_shape(router):
    body = {"model": "fake/m", "messages": [
        {"role": "system", "content": "You are terse."}, user("hi")],
        "temperature": 0.3, "seed": 7, "x_vendor": {"a": 1}}
    assert router.chat(body).status_code == 200
    rec = router.fake.requests[-1]
    assert rec["path"] == "/v1/chat/completions"
    assert rec["headers"]["authorization"] == "Bearer " + FAKE_KEY
    sent = rec["body"]
    assert sent["model"] == "m"
    assert sent["messages"] == body["messages"]
    assert sent["temperature"] == 0.3 and sent["seed"] == 7
    assert "x_vendor" not in sent       # not on the openai allowlist
    assert "stream" not in sent and "stream_options" not in sent
    # No max_tokens unless the client (or the meter) set one.
    assert "max_tokens" not in sent

    # Streams always ask for usage upstream, whatever the client asked.
    s = router.stream(dict(body, stream=True))
    assert s.done()
    sent = router.fake.requests[-1]["body"]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert all("usage" not in c for c in s.json_events())

    # max_tokens over the model's cap (m2: 50) is clamped.
    router.chat({"model": "fake:m2", "max_tokens": 5000,
                 "messages": [user("x")]})
    assert router.fake.requests[-1]["body"]["max_tokens"] == 50
    router.chat({"model": "fake:m2", "max_completion_tokens": 7,
                 "messages": [user("x")]})
    sent = router.fake.requests[-1]["body"]
    assert sent["max_completion_tokens"] == 7 and "max_tokens" not in sent


def test_plain_system_and_multi_turn(router):
    whole, streamed = both(router, {"model": "fake:m", "messages": [
        {"role": "system", "content": "sys"}, user("hello"),
        {"role": "assistant", "content": "fake: hello"},
        user("and again please")]})
    assert whole["choices"][0]["message"]["content"] == \
        "fake: and again please"
    assert_same(whole, streamed)
    assert whole["id"].startswith("chatcmpl-fake")
    assert len(streamed["ids"]) == 1


def test_usage_mapping_with_cached_and_reasoning_tokens(router):
    usage = {"prompt_tokens": 120, "completion_tokens": 30,
             "total_tokens": 150,
             "prompt_tokens_details": {"cached_tokens": 100},
             "completion_tokens_details": {"reasoning_tokens": 12}}
    whole, streamed = both(router, {"model": "fake:m",
                                    "messages": [user("q")]},
                           lambda: FakeReply(content="answer",
                                             usage=usage))
    assert whole["usage"]["prompt_tokens_details"]["cached_tokens"] == 100
    assert streamed["usage"]["prompt_tokens_details"][
        "cached_tokens"] == 100
    assert streamed["usage"]["completion_tokens_details"][
        "reasoning_tokens"] == 12
    assert_same(whole, streamed)


def test_tool_call_parallel_calls_and_round_trip(router):
    calls = [{"id": "call_a", "type": "function", "function": {
        "name": "get_weather", "arguments": "{\"city\":\"Seoul\"}"}},
        {"id": "call_b", "type": "function", "function": {
            "name": "get_time", "arguments": "{\"tz\":\"Asia/Seoul\"}"}}]
    tools = [{"type": "function", "function": {
        "name": n, "parameters": {"type": "object"}}}
        for n in ("get_weather", "get_time")]
    body = {"model": "fake:m", "messages": [user("weather and time?")],
            "tools": tools, "tool_choice": "auto",
            "parallel_tool_calls": True}
    whole, streamed = both(router, body, lambda: FakeReply(
        tool_calls=calls))
    assert whole["choices"][0]["finish_reason"] == "tool_calls"
    assert whole["choices"][0]["message"]["tool_calls"] == calls
    assert_same(whole, streamed)
    assert router.fake.requests[-1]["body"]["tools"] == tools

    # The results go back; the upstream sees them as sent.
    msgs = [user("weather and time?"),
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "tool_call_id": "call_a", "content": "21C"},
            {"role": "tool", "tool_call_id": "call_b", "content": "09:00"}]
    router.fake.script("m", [FakeReply(content="21C at 09:00")])
    r = router.chat({"model": "fake:m", "messages": msgs, "tools": tools})
    assert r.json()["choices"][0]["message"]["content"] == "21C at 09:00"
    assert router.fake.requests[-1]["body"]["messages"] == msgs


def test_stop_and_length_finish(router):
    body = {"model": "fake:m", "messages": [user("count")],
            "stop": ["five"], "max_tokens": 3}
    whole, streamed = both(router, body, lambda: FakeReply(
        content="one two three", finish_reason="length"))
    assert whole["choices"][0]["finish_reason"] == "length"
    assert_same(whole, streamed)
    sent = router.fake.requests[-1]["body"]
    assert sent["stop"] == ["five"] and sent["max_tokens"] == 3

    whole, streamed = both(router, {"model": "fake:m", "messages": [
        user("x")], "stop": "END"}, lambda: FakeReply(
        content="before", finish_reason="stop"))
    assert whole["choices"][0]["finish_reason"] == "stop"
    assert_same(whole, streamed)


def test_n_choices_stream(router):
    whole, streamed = both(router, {"model": "fake:m", "n": 2,
                                    "messages": [user("two")]},
                           lambda: FakeReply(content="same answer", n=2))
    assert len(whole["choices"]) == 2
    assert_same(whole, streamed)


def test_stream_relays_the_first_chunk_before_the_upstream_continues(
        router):
    """The fake sends its first content event, then waits until the
    test says it received it; a buffering router would deadlock here
    (and time out the fake's wait, failing the timing check). The role
    chunk before it is held back until that first content (the fallback
    window stays open until then) and arrives with it."""
    reply = FakeReply(content="alpha beta gamma", gate=True)
    reply.gate_at = 1
    router.fake.script("m", [reply])
    got_first = {}

    def on_event(s):
        if len(s.events) == 2:
            got_first["t"] = time.time()
            threading.Timer(0.3, router.fake.open_gate).start()

    t0 = time.time()
    s = router.stream({"model": "fake:m", "stream": True,
                       "messages": [user("x")]}, on_event=on_event)
    assert s.done()
    assert got_first["t"] - t0 < 2
    # The rest came only after the gate opened.
    assert s.events[2][0] - s.events[1][0] >= 0.25
    assert assemble(s.json_events())["choices"][0]["message"][
        "content"] == "alpha beta gamma"


def test_slow_stream_arrives_event_by_event(router):
    router.fake.script("m", [FakeReply(content="a b c d e",
                                       event_delay=0.2)])
    s = router.stream({"model": "fake:m", "stream": True,
                       "messages": [user("x")]})
    times = [t for t, _ in s.events]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len([g for g in gaps if g >= 0.15]) >= 5, gaps


def test_embeddings_pass_through(router):
    r = router.t.post("/v1/embeddings", headers=router.h, json={
        "model": "fake:e", "input": ["a b", "c"]})
    assert r.status_code == 200, r.text
    b = r.json()
    assert len(b["data"]) == 2 and b["data"][1]["embedding"][2] == 1.0
    assert b["usage"]["prompt_tokens"] == 3 and b["usage"][
        "cost_micros"] == 0
    rec = router.fake.requests[-1]
    assert rec["path"] == "/v1/embeddings"
    assert rec["body"] == {"model": "e", "input": ["a b", "c"]}
    assert_error(router.t.post("/v1/embeddings", headers=router.h, json={
        "model": "fake:m", "input": "x"}), 400, "invalid_value")
