"""The Anthropic and Gemini fakes speak the real wire formats: the
official Anthropic SDK reads the Anthropic fake's answers and streams,
and the Gemini fake answers generateContent, SSE streams and embeddings
as Google documents them. (The router's own tests rely on this.)"""

import json
import threading
import time

import requests

from lib.families import (AnthropicFake, GeminiFake, anthropic_sdk,
                          sse_events)

REQ = {"model": "claude-sonnet-4-5", "max_tokens": 200,
       "messages": [{"role": "user", "content": "Weather in Paris?"}]}


def test_anthropic_fake_with_official_sdk():
    with AnthropicFake(api_key="sk-ant-fake") as fake:
        fake.push("tools")
        r = anthropic_sdk(fake.url, "sk-ant-fake", REQ)
        msg = r["message"]
        assert msg["stop_reason"] == "tool_use"
        assert [b["type"] for b in msg["content"]] == \
            ["thinking", "text", "tool_use", "tool_use"]
        assert msg["content"][2]["input"] == {"location": "Paris",
                                              "unit": "celsius"}

        fake.push("tools", delay=0.01)
        s = anthropic_sdk(fake.url, "sk-ant-fake", REQ, stream=True)
        assert s["message"]["content"][1:] == msg["content"][1:]
        assert s["message"]["stop_reason"] == "tool_use"
        assert s["message"]["usage"]["output_tokens"] == 89

        # what the fake received: the SDK's headers and body
        rec = fake.requests[-1]
        assert rec.headers["x-api-key"] == "sk-ant-fake"
        assert rec.headers["anthropic-version"] == "2023-06-01"
        assert rec.json["stream"] is True

        bad = anthropic_sdk(fake.url, "wrong", REQ)
        assert bad["error"]["status"] == 401
        assert bad["error"]["type"] == "authentication_error"

        fake.push("error", status=529)
        err = anthropic_sdk(fake.url, "sk-ant-fake", REQ)
        assert err["error"]["status"] == 529
        assert err["error"]["type"] == "overloaded_error"

        fake.push("stream_error")
        err = anthropic_sdk(fake.url, "sk-ant-fake", REQ, stream=True)
        assert "Overloaded" in err["error"]["message"]


def test_anthropic_fake_cache_and_errors_raw():
    with AnthropicFake() as fake:
        fake.push("cache")
        r = requests.post(fake.url + "/v1/messages", json=REQ, headers={
            "anthropic-version": "2023-06-01"}, timeout=10)
        assert r.status_code == 200
        assert r.json()["usage"]["cache_read_input_tokens"] == 1800
        fake.push("error", status=429, retry_after=3)
        r = requests.post(fake.url + "/v1/messages", json=REQ, headers={
            "anthropic-version": "2023-06-01"}, timeout=10)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "3"
        assert r.json()["error"]["type"] == "rate_limit_error"


def test_anthropic_fake_gate_and_abort():
    gate = threading.Event()
    with AnthropicFake() as fake:
        fake.push("text", gate=gate, delay=0.2,
                  text="a fairly long answer in many pieces " * 3)
        r = requests.post(fake.url + "/v1/messages",
                          json=dict(REQ, stream=True), stream=True,
                          headers={"anthropic-version": "2023-06-01"},
                          timeout=10)
        events = sse_events(r)
        ev, data = next(events)
        assert ev == "message_start"
        assert json.loads(data)["message"]["content"] == []
        gate.set()
        next(events)
        r.close()
        assert fake.aborted.wait(5)


def test_gemini_fake_wire_format():
    with GeminiFake(api_key="AIza-fake") as fake:
        url = fake.url + "/v1beta/models/gemini-2.5-flash:generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        fake.push("tools")
        r = requests.post(url, json=body, headers={
            "x-goog-api-key": "AIza-fake"}, timeout=10)
        doc = r.json()
        parts = doc["candidates"][0]["content"]["parts"]
        assert parts[2]["functionCall"]["name"] == "get_weather"
        assert parts[2]["thoughtSignature"]
        assert doc["usageMetadata"]["thoughtsTokenCount"] == 15

        fake.push("tools")
        r = requests.post(url.replace(":generateContent",
                                      ":streamGenerateContent?alt=sse"),
                          json=body, headers={"x-goog-api-key": "AIza-fake"},
                          stream=True, timeout=10)
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.raw.read().decode()
        assert "\r\n\r\n" in raw
        docs = [json.loads(line[6:]) for line in raw.split("\r\n")
                if line.startswith("data: ")]
        streamed = [p for d in docs
                    for p in d["candidates"][0]["content"]["parts"]]
        assert "".join(p.get("text", "") for p in streamed
                       if not p.get("thought")) == "Let me check both."
        assert docs[-1]["candidates"][0]["finishReason"] == "STOP"

        r = requests.post(url, json=body, headers={
            "x-goog-api-key": "nope"}, timeout=10)
        assert r.status_code == 400
        assert r.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"

        r = requests.post(url.replace(":generateContent",
                                      ":batchEmbedContents"),
                          json={"requests": [{"model": "models/e", "content": {
                              "parts": [{"text": "a"}]}}]},
                          headers={"x-goog-api-key": "AIza-fake"}, timeout=10)
        assert len(r.json()["embeddings"][0]["values"]) == 4


def test_gemini_fake_truncated_stream():
    with GeminiFake() as fake:
        fake.push("tools", truncate=True)
        url = fake.url + \
            "/v1beta/models/g:streamGenerateContent?alt=sse"
        t0 = time.time()
        r = requests.post(url, json={"contents": [{"parts": [
            {"text": "x"}]}]}, stream=True, timeout=10)
        try:
            r.raw.read()
            complete = True
        except Exception:
            complete = False
        assert not complete or "finishReason" not in r.text
        assert time.time() - t0 < 5
