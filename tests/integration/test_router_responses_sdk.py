"""POST /v1/responses through the official clients (tests/node/
responses_sdk.mjs): the openai SDK's responses.create and
responses.stream (openai 4, and openai 6 whose stream accumulator throws
on any event it does not know), a function-call loop over
previous_response_id, JSON schema output, and a multi-turn Vercel AI SDK
conversation (ai 6's default OpenAI provider, which sends earlier
assistant output back as item_reference) with tool loops. Each runs
against a model of each family (openai, anthropic and gemini fakes); the
answers are what the upstream was scripted to say, the upstream saw the
whole conversation, and every call is billed to the micro-credit
(GET /api/usage/requests, endpoint "responses") with a clean ledger."""

import json
import os
import shutil
import subprocess

import pytest

from lib import auth as _auth
from lib.credits import check_ledger, cost, grant, set_price, usage_requests
from lib.families import AnthropicFake, GeminiFake, family_providers
from lib.keys import seed_key
from lib.router import FakeReply, catalog, fake, router_env  # noqa: F401
from lib.server import ROOT

NODE_DIR = os.path.join(ROOT, "tests", "node")
ANTH_KEY = "sk-ant-provider-secret-5e2b"
GEM_KEY = "AIza-provider-secret-c71f"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not all(os.path.isdir(os.path.join(
        NODE_DIR, "node_modules", p)) for p in ("openai", "openai6", "ai",
                                                 "@ai-sdk/openai")),
    reason="node and tests/node/node_modules are needed")

# Prices (micros per Mtok: input, cached input, output), list-like.
PRICES = {"fake:m": (2500000, 1250000, 10000000),
          "anthropic:claude-t": (3000000, 300000, 15000000),
          "gemini:gem-t": (300000, 75000, 2500000)}

WEATHER_ARGS = {"location": "Paris", "unit": "celsius"}
TIME_ARGS = {"tz": "Europe/Paris"}
QUESTION = "What are the weather and the time in Paris?"
CHECKING = "Let me check both."


class Upstream:
    """One family's fake behind the model the SDK names: scripts its
    next answers and says what usage (input, cached, output tokens) each
    reports, as the SDK should see it."""

    def __init__(self, family, fake, anth, gem):
        self.family = family
        self.fake, self.anth, self.gem = fake, anth, gem
        self.model = {"openai": "fake:m", "anthropic": "anthropic:claude-t",
                      "gemini": "gemini:gem-t"}[family]

    def text(self, text):
        if self.family == "openai":
            self.fake.script("m", [FakeReply(content=text, usage={
                "prompt_tokens": 40, "completion_tokens": 9,
                "prompt_tokens_details": {"cached_tokens": 16}})])
            return (40, 16, 9)
        if self.family == "anthropic":
            self.anth.push("text", text=text)
            return (25, 0, 12)
        self.gem.push("text", text=text)
        return (30, 0, 10)

    def tools(self):
        """Text, then get_weather(Paris, celsius) and
        get_time(Europe/Paris) called in parallel (the anthropic and
        gemini fakes' "tools" script, with its thinking)."""
        if self.family == "openai":
            self.fake.script("m", [FakeReply(content=CHECKING, tool_calls=[
                {"id": "call_w1", "type": "function", "function": {
                    "name": "get_weather",
                    "arguments": json.dumps(WEATHER_ARGS)}},
                {"id": "call_t1", "type": "function", "function": {
                    "name": "get_time",
                    "arguments": json.dumps(TIME_ARGS)}}],
                usage={"prompt_tokens": 60, "completion_tokens": 30})])
            return (60, 0, 30)
        if self.family == "anthropic":
            self.anth.push("tools")
            return (25, 0, 89)
        self.gem.push("tools")
        return (30, 0, 35)      # candidates 20 + thoughts 15

    def last_request(self):
        """The JSON body of the upstream's latest request, as text."""
        if self.family == "openai":
            return json.dumps(self.fake.requests[-1]["body"])
        f = self.anth if self.family == "anthropic" else self.gem
        return json.dumps(f.last().json)


class Billed:
    """A tollgate over the three fakes; a signed-in user with credits and
    an API key; the SDK run with that key."""

    def __init__(self, t, up, db):
        self.t, self.up, self.db = t, up, db
        s = _auth.sign_in(t, "sdk@example.com")
        self.session = _auth.bearer(s.access_token)
        self.key, _, _ = seed_key(db, user_id=s.user_id)
        grant(db, s.user_id, 10 ** 8)

    def sdk(self, step):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "TG_BASE_URL": self.t.url + "/v1", "TG_API_KEY": self.key,
               "TG_MODEL": self.up.model}
        r = subprocess.run(["node", "responses_sdk.mjs", step],
                           cwd=NODE_DIR, env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert "error" not in out, out["error"]
        return out

    def records(self, n, timeout=10):
        """The user's n calls from GET /api/usage/requests, oldest first,
        once all are there (settlement is written after the answer)."""
        data = usage_requests(self.t, self.session, n, timeout)
        assert len(data) == n, data
        return sorted(data, key=lambda d: (d["created_at"], d["id"]))

    def check_bill(self, usages):
        """One usage record per call, in order, each with the tokens the
        SDK saw ((input, cached, output); cached None when the SDK does
        not show it) and their cost to the micro-credit."""
        inp, cached_in, out = PRICES[self.up.model]
        recs = self.records(len(usages))
        for rec, (pt, ct, ot) in zip(recs, usages):
            assert rec["endpoint"] == "responses", rec
            assert rec["model"] == self.up.model, rec
            assert rec["status"] == "ok", rec
            assert (rec["prompt_tokens"], rec["completion_tokens"]) == \
                (pt, ot), rec
            if ct is not None:
                assert rec["cached_tokens"] == ct, rec
            assert rec["cost_micros"] == cost(
                rec["prompt_tokens"], rec["cached_tokens"],
                rec["completion_tokens"], inp, cached_in, out,
                cache_write=rec["cache_write_tokens"]), rec
            assert rec["cost_micros"] > 0, rec
        check_ledger(self.db)


@pytest.fixture(params=["openai", "anthropic", "gemini"])
def billed(request, tollgate, db, fake):
    for m, (inp, cached, out) in PRICES.items():
        set_price(db, m, inp, out, cached=cached)
    anth = AnthropicFake(api_key=ANTH_KEY)
    gem = GeminiFake(api_key=GEM_KEY)
    try:
        cat = catalog(fake, extra=family_providers(anth, gem))
        t = tollgate(env=router_env(cat, ANTHROPIC_API_KEY=ANTH_KEY,
                                    GEMINI_API_KEY=GEM_KEY))
        yield Billed(t, Upstream(request.param, fake, anth, gem), db)
    finally:
        anth.close()
        gem.close()


def sdk_usage(u):
    return (u["input_tokens"], u["cached_tokens"], u["output_tokens"])


def test_create_whole_text(billed):
    want = billed.up.text("Hello, SDK.")
    out = billed.sdk("create")
    assert out["object"] == "response"
    assert out["id"].startswith("resp_")
    assert out["status"] == "completed"
    assert out["text"] == "Hello, SDK."
    assert out["types"] == ["message"]
    assert sdk_usage(out["usage"]) == want
    assert "Be brief." in billed.up.last_request()
    billed.check_bill([want])


# One text message, as both stream helpers need it (research: the
# minimum event set), deltas aside.
TEXT_EVENTS = ["response.created", "response.in_progress",
               "response.output_item.added", "response.content_part.added",
               "response.output_text.done", "response.content_part.done",
               "response.output_item.done", "response.completed"]


def test_stream_helper_events_and_final_response(billed):
    text = "Hello from the stream, one piece at a time."
    want = [billed.up.text(text), billed.up.text(text)]
    out = billed.sdk("stream")
    for version, got in (("oa4", out["oa4"]), ("oa6", out["oa6"])):
        assert [t for t in got["types"] if t !=
                "response.output_text.delta"] == TEXT_EVENTS, version
        assert "response.output_text.delta" in got["types"], version
        assert got["seq"] == list(range(len(got["seq"]))), version
        assert got["deltas"] == text, version
        assert got["final"]["status"] == "completed", version
        assert got["final"]["text"] == text, version
    assert sdk_usage(out["oa4"]["final"]["usage"]) == want[0]
    assert sdk_usage(out["oa6"]["final"]["usage"]) == want[1]
    billed.check_bill(want)


def test_function_call_loop_with_previous_response_id(billed):
    final = "Sunny, 21 C, and it is 14:05 in Paris."
    want = [billed.up.tools(), billed.up.text(final)]
    out = billed.sdk("tools")
    first, second = out["first"], out["second"]
    assert first["status"] == "completed"
    assert first["text"] == CHECKING
    ev = first["events"]
    assert ev[:2] == ["response.created", "response.in_progress"]
    assert ev[-1] == "response.completed"
    assert ev.count("response.function_call_arguments.done") == 2
    assert "response.function_call_arguments.delta" in ev
    assert first["types"][-3:] == ["message", "function_call",
                                   "function_call"]
    assert [(c["name"], c["arguments"], c["status"])
            for c in first["calls"]] == [
        ("get_weather", WEATHER_ARGS, "completed"),
        ("get_time", TIME_ARGS, "completed")]
    for c in first["calls"]:
        assert c["id"].startswith("fc_") and c["call_id"] != c["id"], c
    assert second["status"] == "completed"
    assert second["text"] == final
    assert second["types"] == ["message"]
    # previous_response_id brought back the question, the model's text
    # and calls; the client sent only the functions' results.
    seen = billed.up.last_request()
    for s in (QUESTION, CHECKING, "get_weather", "14:05", "Europe/Paris"):
        assert s in seen, (s, seen)
    assert [sdk_usage(first["usage"]), sdk_usage(second["usage"])] == want
    billed.check_bill(want)


def test_json_schema_output_parsed(billed):
    want = billed.up.text('{"city": "Paris", "temp_c": 21}')
    out = billed.sdk("json")
    assert out["status"] == "completed"
    assert out["parsed"] == {"city": "Paris", "temp_c": 21}
    # The schema reached the provider (response_format, responseSchema,
    # or Anthropic's system instruction).
    assert "temp_c" in billed.up.last_request()
    assert sdk_usage(out["usage"]) == want
    billed.check_bill([want])


def test_ai_sdk_conversation_with_tool_loops(billed):
    answer = "Sunny and 21 C; it is 14:05."
    later = "Tomorrow looks the same."
    want = [billed.up.tools(), billed.up.text(answer),
            billed.up.tools(), billed.up.text(later)]
    out = billed.sdk("ai")
    one, two = out["turn1"], out["turn2"]
    assert one["text"] == answer
    assert two["text"] == later
    assert two["streamed"] == CHECKING + later
    # Each turn: the model calls both tools (whole in turn 1, streamed
    # in turn 2), the SDK runs them and sends the results, the model
    # answers.
    for turn in (one, two):
        assert [s["finish"] for s in turn["steps"]] == ["tool-calls",
                                                        "stop"]
        call = turn["steps"][0]
        assert call["text"] == CHECKING
        assert call["calls"] == [
            {"name": "get_weather", "input": WEATHER_ARGS},
            {"name": "get_time", "input": TIME_ARGS}]
        assert call["results"] == [
            {"name": "get_weather", "output": {
                "location": "Paris", "temp": 21, "unit": "celsius"}},
            {"name": "get_time", "output": {"tz": "Europe/Paris",
                                            "time": "14:05"}}]
    # The second turn named the first's assistant texts by
    # item_reference: the upstream saw them resolved, with the calls and
    # their results.
    seen = billed.up.last_request()
    for s in (QUESTION, CHECKING, answer, "14:05", "And tomorrow?"):
        assert s in seen, (s, seen)
    steps = one["steps"] + two["steps"]
    assert [(s["usage"]["input_tokens"], s["usage"]["output_tokens"])
            for s in steps] == [(w[0], w[2]) for w in want]
    billed.check_bill(want)
