"""Helpers for the router families' integration tests: starting the
Anthropic and Gemini fakes (alone, or behind a tollgate:
families_server()), reading SSE streams, and calling an endpoint with the
official Anthropic SDK (tests/node/anthropic_messages.mjs)."""

import contextlib
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAKES = os.path.join(ROOT, "tests", "fakes")
NODE_DIR = os.path.join(ROOT, "tests", "node")

if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

from anthropic_fake import AnthropicFake  # noqa: E402,F401
from gemini_fake import GeminiFake  # noqa: E402,F401
from lib.router import seed_key  # noqa: E402  (free models: lib/router.py)

ANTH_KEY = "sk-ant-provider-secret-7c1d9e2f4a"
GEM_KEY = "AIza-provider-secret-3b8e6d1c0f"


@contextlib.contextmanager
def families_server(tollgate, db):
    """A tollgate (from the tollgate fixture) whose anthropic and gemini
    providers are fresh fakes, and a key of a user for whom every model
    is free: yields (server, key, anthropic fake, gemini fake) and closes
    the fakes at the end."""
    anth = AnthropicFake(api_key=ANTH_KEY)
    gem = GeminiFake(api_key=GEM_KEY)
    try:
        server = tollgate(env={
            "ANTHROPIC_BASE_URL": anth.url, "ANTHROPIC_API_KEY": ANTH_KEY,
            "GEMINI_BASE_URL": gem.url, "GEMINI_API_KEY": GEM_KEY})
        key, _, _ = seed_key(db)
        yield server, key, anth, gem
    finally:
        anth.close()
        gem.close()


def family_providers(anth, gem):
    """router.json providers for an anthropic and a gemini fake, with
    the models anthropic:claude-t and gemini:gem-t (no retries), to add
    to lib.router.catalog(fake, extra=...)."""
    return [
        {"name": "anthropic", "family": "anthropic", "base_url": anth.url,
         "retries": 0,
         "models": [{"name": "claude-t", "max_output_tokens": 8000}]},
        {"name": "gemini", "family": "gemini", "base_url": gem.url,
         "retries": 0,
         "models": [{"name": "gem-t", "max_output_tokens": 8000}]}]


def sse_events(resp):
    """(event, data) pairs of a streamed requests.Response, as they come."""
    event, data = None, []
    for raw in resp.iter_lines(decode_unicode=False):
        line = raw.decode("utf-8")
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


def openai_chunks(resp):
    """The JSON chunks of an OpenAI stream, and whether [DONE] came."""
    chunks, done = [], False
    for _, data in sse_events(resp):
        if data == "[DONE]":
            done = True
            continue
        chunks.append(json.loads(data))
    return chunks, done


def accumulate(chunks):
    """What an OpenAI client builds from chunks: content, reasoning,
    tool calls (by index) and finish_reason of choice 0, plus usage."""
    out = {"content": "", "reasoning": "", "tool_calls": [],
           "finish_reason": None, "usage": None}
    for c in chunks:
        if c.get("usage"):
            out["usage"] = c["usage"]
        for ch in c.get("choices") or []:
            if ch.get("index", 0) != 0:
                continue
            d = ch.get("delta") or {}
            out["content"] += d.get("content") or ""
            out["reasoning"] += d.get("reasoning") or ""
            for tc in d.get("tool_calls") or []:
                i = tc["index"]
                if i == len(out["tool_calls"]):
                    out["tool_calls"].append({
                        "id": tc["id"], "name": tc["function"]["name"],
                        "arguments": ""})
                assert i < len(out["tool_calls"]), "index skips ahead"
                out["tool_calls"][i]["arguments"] += \
                    tc.get("function", {}).get("arguments") or ""
            if ch.get("finish_reason"):
                out["finish_reason"] = ch["finish_reason"]
    return out


def anthropic_sdk(base_url, api_key, request, stream=False, timeout=60):
    """Runs the official Anthropic SDK; returns its JSON line as a dict."""
    r = subprocess.run(
        ["node", os.path.join(NODE_DIR, "anthropic_messages.mjs"), base_url,
         api_key, "stream" if stream else "whole", json.dumps(request)],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])
