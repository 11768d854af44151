"""POST /v1/responses end to end (docs/router.md, "Responses API"):
whole answers and event streams over the openai, anthropic and gemini
fakes and the echo provider; stored responses (GET, DELETE,
previous_response_id, item_reference) per user, store:false, erasure
when the account closes and the purge after the retention; billing to
the micro-credit under the usage endpoint "responses"; failures before
the first byte (an HTTP error) and mid-stream (response.failed)."""

import json
import signal
import threading
import time

import pytest

from lib import auth as _auth
from lib.credits import (check_ledger, cost, grant, set_price, settled,
                         usage_requests)
from lib.families import AnthropicFake, GeminiFake, sse_events
from lib.keys import auth
from lib.router import (TEST_MODELS, FakeReply, catalog,  # noqa: F401
                        fake, free_models, router_env, seed_key)

ANTH_KEY = "sk-ant-provider-secret-5e0b"
GEM_KEY = "AIza-provider-secret-61fd"

FAMILIES = {
    "fake:m": "fake: Weather in Paris?",
    "echo:echo-1": None,
    "anthropic:claude-t": "Hello from the Anthropic fake.",
    "gemini:gem-t": "Hello from the Gemini fake.",
}

WEATHER = {"type": "function", "name": "get_weather",
           "description": "Current weather",
           "parameters": {"type": "object", "properties": {
               "city": {"type": "string"}}, "required": ["city"]}}


class Resp:
    """A tollgate with the openai fake, echo, anthropic and gemini
    fakes; a signed-in user with an API key (every model free)."""

    def __init__(self, t, db, fake, anth, gem, email="resp@example.com"):
        self.t, self.db, self.fake, self.anth, self.gem = \
            t, db, fake, anth, gem
        s = _auth.sign_in(t, email)
        self.uid = s.user_id
        self.session = _auth.bearer(s.access_token)
        free_models(db, TEST_MODELS + ("anthropic:claude-t", "gemini:gem-t"))
        key, _, _ = seed_key(db, user_id=self.uid)
        self.h = auth(key)

    def post(self, body, h=None, **kw):
        return self.t.post("/v1/responses", json=body, headers=h or self.h,
                           **kw)

    def stream(self, body, h=None):
        """(status, [(event, data dict)]) of a streamed call."""
        b = dict(body, stream=True)
        r = self.post(b, h=h, stream=True)
        if not r.headers.get("content-type", "").startswith(
                "text/event-stream"):
            return r, []
        return r, [(e, json.loads(d)) for e, d in sse_events(r)]

    def get(self, rid, h=None):
        return self.t.get("/v1/responses/" + rid, headers=h or self.h)

    def delete(self, rid, h=None):
        return self.t.request("DELETE", "/v1/responses/" + rid,
                              headers=h or self.h)

    def records(self, n=1, timeout=10):
        return usage_requests(self.t, self.session, n, timeout)


def start(tollgate, db, fake, anth, gem, keepalive_ms=None, echo_delay_ms=0,
          **env):
    cat = catalog(fake, retries=0, extra=[
        {"name": "anthropic", "family": "anthropic", "base_url": anth.url,
         "retries": 0,
         "models": [{"name": "claude-t", "max_output_tokens": 8000}]},
        {"name": "gemini", "family": "gemini", "base_url": gem.url,
         "retries": 0,
         "models": [{"name": "gem-t", "max_output_tokens": 8000}]}])
    if keepalive_ms is not None:
        cat["defaults"] = {"keepalive_ms": keepalive_ms}
    cat["providers"][0]["chunk_delay_ms"] = echo_delay_ms
    e = router_env(cat, ANTHROPIC_API_KEY=ANTH_KEY, GEMINI_API_KEY=GEM_KEY)
    e.update(env)
    return tollgate(env=e)


@pytest.fixture
def fakes(fake):
    anth = AnthropicFake(api_key=ANTH_KEY)
    gem = GeminiFake(api_key=GEM_KEY)
    try:
        yield fake, anth, gem
    finally:
        anth.close()
        gem.close()


@pytest.fixture
def rs(tollgate, db, fakes):
    t = start(tollgate, db, *fakes)
    return Resp(t, db, *fakes)


def text_of(resp):
    return "".join(p["text"] for item in resp["output"]
                   if item["type"] == "message"
                   for p in item["content"] if p["type"] == "output_text")


def assert_error(r, status, code, param=None):
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert e["code"] == code, e
    assert e["message"] and e["type"]
    if param is not None:
        assert e["param"] == param, e


def stored(db, rid):
    return db.query("SELECT count(*) FROM responses WHERE id = %s",
                    rid)[0][0]


@pytest.mark.parametrize("model", sorted(FAMILIES))
def test_whole_answer_is_stored_and_readable(rs, model):
    r = rs.post({"model": model, "input": "Weather in Paris?",
                 "instructions": "Be brief."})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["object"] == "response" and doc["status"] == "completed"
    assert doc["id"].startswith("resp_") and len(doc["id"]) == 53
    assert doc["model"] == model
    want = FAMILIES[model]
    if want is not None:
        assert text_of(doc) == want
    else:
        assert text_of(doc)
    msg = [i for i in doc["output"] if i["type"] == "message"][0]
    assert msg["id"] and msg["role"] == "assistant"
    u = doc["usage"]
    assert u["input_tokens"] > 0 and u["output_tokens"] > 0
    assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]
    assert u["cost_micros"] == 0
    assert r.headers["x-tollgate-cost-micros"] == "0"

    g = rs.get(doc["id"])
    assert g.status_code == 200, g.text
    assert g.json()["id"] == doc["id"]
    assert g.json()["output"] == doc["output"]


@pytest.mark.parametrize("model", sorted(FAMILIES))
def test_stream_events_in_order_then_stored(rs, model):
    r, events = rs.stream({"model": model, "input": "Weather in Paris?"})
    assert r.status_code == 200
    types = [e for e, _ in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert types.count("response.completed") == 1
    assert all(d["type"] == e for e, d in events)
    assert [d["sequence_number"] for _, d in events] == \
        list(range(len(events)))
    created = events[0][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == []
    final = events[-1][1]["response"]
    assert final["id"] == created["id"] and final["status"] == "completed"
    deltas = "".join(d["delta"] for e, d in events
                     if e == "response.output_text.delta")
    assert deltas and deltas == text_of(final)
    if FAMILIES[model] is not None:
        assert deltas == FAMILIES[model]
    added = [d["item"]["id"] for e, d in events
             if e == "response.output_item.added"]
    assert [d["item_id"] for e, d in events
            if e == "response.output_text.delta"][0] in added
    assert final["usage"]["output_tokens"] > 0
    # Committed before the terminal event went out: readable at once.
    g = rs.get(final["id"])
    assert g.status_code == 200, g.text
    assert g.json()["output"] == final["output"]


def test_function_call_loop_through_previous_response_id(rs):
    rs.fake.script("m", [
        FakeReply(tool_calls=[{"id": "call_w1", "type": "function",
                               "function": {"name": "get_weather",
                                            "arguments":
                                            "{\"city\":\"Paris\"}"}}]),
        FakeReply(content="18C in Paris.")])
    first = rs.post({"model": "fake:m", "input": "Weather in Paris?",
                     "tools": [WEATHER]}).json()
    calls = [i for i in first["output"] if i["type"] == "function_call"]
    assert len(calls) == 1 and calls[0]["call_id"] == "call_w1"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}

    r, events = rs.stream({
        "model": "fake:m", "tools": [WEATHER],
        "previous_response_id": first["id"],
        "input": [{"type": "function_call_output", "call_id": "call_w1",
                   "output": "{\"temp\":18}"}]})
    assert events[-1][0] == "response.completed", events[-1]
    assert text_of(events[-1][1]["response"]) == "18C in Paris."
    sent = rs.fake.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[0]["content"] == "Weather in Paris?" or \
        "Weather in Paris?" in json.dumps(sent[0]["content"])
    assert sent[1]["tool_calls"][0]["id"] == "call_w1"
    assert sent[2]["tool_call_id"] == "call_w1"

    # The chain goes on from the second response: all three turns.
    third = rs.post({"model": "fake:m",
                     "previous_response_id": events[-1][1]["response"]["id"],
                     "input": "Thanks!"})
    assert third.status_code == 200, third.text
    sent = rs.fake.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == \
        ["user", "assistant", "tool", "assistant", "user"]
    assert "18C in Paris." in json.dumps(sent[3])


def test_item_reference_resolves_the_users_stored_items(rs):
    rs.fake.script("m", [FakeReply(content="Checking the forecast."),
                         FakeReply(content="Sunny.")])
    first = rs.post({"model": "fake:m", "input": "Weather?"}).json()
    msg_id = [i for i in first["output"] if i["type"] == "message"][0]["id"]
    r = rs.post({"model": "fake:m", "input": [
        {"role": "user", "content": "Weather?"},
        {"type": "item_reference", "id": msg_id},
        {"role": "user", "content": "And tomorrow?"}]})
    assert r.status_code == 200, r.text
    sent = rs.fake.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert "Checking the forecast." in json.dumps(sent[1])

    assert_error(rs.post({"model": "fake:m", "input": [
        {"type": "item_reference", "id": "msg_nope"}]}), 400,
        "previous_response_not_found")


def test_store_false_stores_nothing(rs, db):
    r = rs.post({"model": "fake:m", "input": "hi", "store": False})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert_error(rs.get(doc["id"]), 404, "not_found")
    assert stored(db, doc["id"]) == 0
    assert_error(rs.post({"model": "fake:m", "input": "again",
                          "previous_response_id": doc["id"]}), 400,
                 "previous_response_not_found", "previous_response_id")
    msg_id = doc["output"][0]["id"]
    assert_error(rs.post({"model": "fake:m", "input": [
        {"type": "item_reference", "id": msg_id}]}), 400,
        "previous_response_not_found")
    _, events = rs.stream({"model": "fake:m", "input": "hi",
                           "store": False})
    assert events[-1][0] == "response.completed"
    assert stored(db, events[-1][1]["response"]["id"]) == 0
    assert db.query("SELECT count(*) FROM responses")[0][0] == 0


def test_another_users_responses_are_not_found(rs, db):
    doc = rs.post({"model": "fake:m", "input": "mine"}).json()
    msg_id = doc["output"][0]["id"]
    other, _, _ = seed_key(db)
    oh = auth(other)
    assert_error(rs.get(doc["id"], h=oh), 404, "not_found")
    assert_error(rs.delete(doc["id"], h=oh), 404, "not_found")
    assert_error(rs.post({"model": "fake:m", "input": "x",
                          "previous_response_id": doc["id"]}, h=oh), 400,
                 "previous_response_not_found", "previous_response_id")
    assert_error(rs.post({"model": "fake:m", "input": [
        {"type": "item_reference", "id": msg_id}]}, h=oh), 400,
        "previous_response_not_found")
    # Nothing was called upstream or charged for the refusals.
    assert len(rs.fake.requests) == 1
    assert rs.get(doc["id"]).status_code == 200


def test_get_and_delete(rs, db):
    doc = rs.post({"model": "fake:m", "input": "keep me"}).json()
    assert_error(rs.get("resp_nope"), 404, "not_found")
    assert_error(rs.get("resp_" + "0" * 48), 404, "not_found")
    d = rs.delete(doc["id"])
    assert d.status_code == 200, d.text
    assert d.json() == {"id": doc["id"], "object": "response",
                        "deleted": True}
    assert_error(rs.get(doc["id"]), 404, "not_found")
    assert_error(rs.delete(doc["id"]), 404, "not_found")
    assert db.query("SELECT count(*) FROM response_items")[0][0] == 0
    assert rs.t.get("/v1/responses/" + doc["id"]).status_code == 401


def test_bad_requests_change_nothing(rs, db):
    assert_error(rs.post({"model": "fake:m", "input": "x", "tools": [
        {"type": "web_search"}]}), 400, "unsupported_tool")
    assert_error(rs.post({"model": "fake:m", "input": 7}), 400,
                 "invalid_value", "input")
    assert_error(rs.post({"model": "nope:x", "input": "x"}), 404,
                 "model_not_found")
    assert rs.fake.requests == []
    assert db.query("SELECT count(*) FROM responses")[0][0] == 0


@pytest.mark.parametrize("stream", [False, True])
def test_billed_to_the_micro_credit(tollgate, db, fakes, stream):
    t = start(tollgate, db, *fakes)
    rs = Resp(t, db, *fakes)
    set_price(db, "fake:m", 2500000, 10000000, fee=7)
    grant(db, rs.uid, 10 ** 7)
    rs.fake.script("m", [FakeReply(content="priced words here", usage={
        "prompt_tokens": 1234, "completion_tokens": 56})])
    want = cost(1234, 0, 56, 2500000, 2500000, 10000000, fee=7)
    body = {"model": "fake:m", "input": "price me"}
    if stream:
        r, events = rs.stream(body)
        assert events[-1][0] == "response.completed"
        u = events[-1][1]["response"]["usage"]
    else:
        r = rs.post(body)
        assert r.status_code == 200, r.text
        assert r.headers["x-tollgate-cost-micros"] == str(want)
        u = r.json()["usage"]
    assert (u["input_tokens"], u["output_tokens"]) == (1234, 56)
    assert u["cost_micros"] == want
    rec = rs.records()[0]
    assert rec["endpoint"] == "responses"
    assert rec["status"] == "ok"
    assert (rec["prompt_tokens"], rec["completion_tokens"]) == (1234, 56)
    assert rec["cost_micros"] == want
    check_ledger(db)


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_failure_before_any_byte_is_an_http_error(rs, db, stream):
    rs.fake.script("m", [FakeReply(status=400, body={"error": {
        "message": "bad thing", "type": "invalid_request_error"}})])
    body = {"model": "fake:m", "input": "x"}
    if stream:
        r, events = rs.stream(body)
        assert events == []
    else:
        r = rs.post(body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"]
    r = rs.post(dict(body, model="dead:x", stream=stream))
    assert_error(r, 502, "upstream_error")
    assert db.query("SELECT count(*) FROM responses")[0][0] == 0


def test_mid_stream_failure_ends_with_response_failed(rs, db):
    rs.fake.script("m", [FakeReply(content="one two three four five six",
                                   behaviour="truncated", after=3)])
    r, events = rs.stream({"model": "fake:m", "input": "go"})
    assert r.status_code == 200
    types = [e for e, _ in events]
    assert types[0] == "response.created"
    assert types[-1] == "response.failed"
    assert "response.completed" not in types
    assert [d["sequence_number"] for _, d in events] == \
        list(range(len(events)))
    failed = events[-1][1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] and failed["error"]["message"]
    assert stored(db, failed["id"]) == 0
    rec = rs.records()[0]
    assert rec["endpoint"] == "responses" and rec["status"] == "stream_cut"
    check_ledger(db)


def test_closing_the_account_erases_stored_responses(rs, db):
    doc = rs.post({"model": "fake:m", "input": "personal"}).json()
    assert stored(db, doc["id"]) == 1
    other, _, _ = seed_key(db)
    kept = rs.post({"model": "fake:m", "input": "other"},
                   h=auth(other)).json()
    r = rs.t.request("DELETE", "/api/me", headers=rs.session)
    assert r.status_code == 204, r.text
    assert stored(db, doc["id"]) == 0
    assert db.query("SELECT count(*) FROM response_items WHERE "
                    "user_id = %s", rs.uid)[0][0] == 0
    assert stored(db, kept["id"]) == 1


def test_expired_responses_are_gone_and_purged(tollgate, db, fakes):
    t = start(tollgate, db, *fakes, TOLLGATE_RESPONSES_RETENTION_DAYS="7",
              TOLLGATE_HOLD_TTL_SECONDS="2")
    rs = Resp(t, db, *fakes)
    old = rs.post({"model": "fake:m", "input": "old"}).json()
    new = rs.post({"model": "fake:m", "input": "new"}).json()
    days = db.query("SELECT extract(epoch FROM expires_at - created_at) "
                    "FROM responses WHERE id = %s", old["id"])[0][0]
    assert abs(float(days) - 7 * 86400) < 5
    db.query("UPDATE responses SET expires_at = now() - interval '1 s' "
             "WHERE id = %s", old["id"])
    # Past its retention it is never served, purged or not.
    assert_error(rs.get(old["id"]), 404, "not_found")
    assert_error(rs.post({"model": "fake:m", "input": "x",
                          "previous_response_id": old["id"]}), 400,
                 "previous_response_not_found")
    deadline = time.time() + 15
    while stored(db, old["id"]) and time.time() < deadline:
        time.sleep(0.2)
    assert stored(db, old["id"]) == 0
    assert db.query("SELECT count(*) FROM response_items WHERE "
                    "response_id = %s", old["id"])[0][0] == 0
    assert stored(db, new["id"]) == 1
    assert "purged 1 stored response" in t.log()


def raw_lines(rs, body):
    r = rs.post(dict(body, stream=True), stream=True)
    return r, [ln.decode() for ln in r.iter_lines() if ln]


def test_keepalive_comments_while_waiting_then_the_answer(tollgate, db,
                                                           fakes):
    rs = Resp(start(tollgate, db, *fakes, keepalive_ms=100), db, *fakes)
    rs.fake.script("m", [FakeReply(delay=0.5)])
    r, lines = raw_lines(rs, {"model": "fake:m", "input": "slow"})
    assert r.status_code == 200
    first = next(i for i, ln in enumerate(lines) if ln.startswith("event:"))
    assert lines[:first].count(": keepalive") >= 2, lines[:first]
    assert lines[first] == "event: response.created"
    assert ": keepalive" not in lines[first:]
    assert lines[-2] == "event: response.completed"


def test_every_target_failing_after_a_keepalive_ends_with_response_failed(
        tollgate, db, fakes):
    rs = Resp(start(tollgate, db, *fakes, keepalive_ms=100), db, *fakes)
    set_price(db, "fake:m", 1000000, 1000000, fee=5)
    grant(db, rs.uid, 10 ** 7)
    rs.fake.script("m", [FakeReply(status=503, delay=0.5)])
    rs.fake.script("b", [FakeReply(status=503, delay=0.5)])
    r, lines = raw_lines(rs, {"model": "chain", "input": "no luck"})
    assert r.status_code == 200
    assert lines.count(": keepalive") >= 2, lines
    names = [ln[7:] for ln in lines if ln.startswith("event: ")]
    assert names == ["response.created", "response.in_progress",
                     "response.failed"], lines
    data = [json.loads(ln[6:]) for ln in lines if ln.startswith("data: ")]
    assert [d["sequence_number"] for d in data] == [0, 1, 2]
    failed = data[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["message"]
    assert stored(db, failed["id"]) == 0
    rec = rs.records()[0]
    assert rec["endpoint"] == "responses"
    assert rec["cost_micros"] == 0 and rec["completion_tokens"] == 0
    check_ledger(db)


def test_a_stream_open_at_the_stop_deadline_ends_with_response_failed(
        tollgate, db, fakes):
    t = start(tollgate, db, *fakes, echo_delay_ms=400,
              TOLLGATE_DRAIN_SECONDS="1")
    rs = Resp(t, db, *fakes)
    set_price(db, "echo:echo-1", 1000000, 2000000)
    grant(db, rs.uid, 10 ** 8)
    got = threading.Event()
    out = {"events": []}

    def run():
        r = rs.post({"model": "echo:echo-1", "stream": True,
                     "input": " ".join("w%02d" % i for i in range(60))},
                    stream=True, timeout=60)
        for e, d in sse_events(r):
            out["events"].append((e, json.loads(d)))
            if e == "response.output_text.delta":
                got.set()

    th = threading.Thread(target=run)
    th.start()
    assert got.wait(30)
    t.proc.send_signal(signal.SIGTERM)
    th.join(60)
    assert t.proc.wait(timeout=30) == 0, t.log()

    events = out["events"]
    assert events[-1][0] == "response.failed", events[-1]
    failed = events[-1][1]["response"]
    assert "shutting down" in failed["error"]["message"]
    assert [d["sequence_number"] for _, d in events] == \
        list(range(len(events)))
    relayed = "".join(d["delta"] for e, d in events
                      if e == "response.output_text.delta")
    assert relayed and "w59" not in relayed
    assert stored(db, failed["id"]) == 0
    settled(db, rs.uid)
    rec = db.query("SELECT status, settlement, completion_tokens, endpoint "
                   "FROM usage_records WHERE user_id = %s", rs.uid)
    assert len(rec) == 1
    assert tuple(rec[0][:2]) == ("client_gone", "estimate")
    assert rec[0][2] == len(relayed.encode()) and rec[0][3] == "responses"
    check_ledger(db)
