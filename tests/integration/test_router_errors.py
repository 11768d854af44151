"""Upstream failures and bad client input: error mapping (docs/contract.md §3),
retries with backoff and Retry-After, fallbacks before the first byte
and none after it, first-byte / idle / total timeouts, streams cut by
the upstream, client disconnects that close the upstream connection,
and requests that must never hurt a worker. Provider keys never show
in answers or logs."""

import json
import re
import socket
import time

import pytest

from lib.router import (BACKUP_KEY, FAKE_KEY, FakeReply, Router,  # noqa
                        assemble, assert_error, catalog, fake, router,
                        router_env, seed_key, user)


def chat(model, **kw):
    b = {"model": model, "messages": [user("hello")]}
    b.update(kw)
    return b


def err_event(s):
    """The error event that ends a cut stream (before [DONE])."""
    assert s.done(), s.events
    evs = s.json_events()
    assert "error" in evs[-1], evs[-1]
    e = evs[-1]["error"]
    assert set(e) == {"message", "type", "param", "code"}
    return e


def no_secrets(router):
    log = router.t.log()
    assert FAKE_KEY not in log and BACKUP_KEY not in log


@pytest.fixture
def quick(tollgate, db, fake):
    """Short timeouts and no same-target retries."""
    t = tollgate(env=router_env(catalog(fake, retries=0, timeouts={
        "first_byte_ms": 800, "idle_ms": 700, "total_ms": 4000})))
    key, _, _ = seed_key(db)
    return Router(t, key, fake)


# --- mapping of upstream errors ---------------------------------------

def test_429_is_retried_after_retry_after_then_passed_on(router):
    router.fake.script("m", [
        FakeReply(status=429, headers={"retry-after": "1"}, body={
            "error": {"message": "slow down", "type": "requests"}}),
        FakeReply(status=429, headers={"retry-after": "2"}, body={
            "error": {"message": "slow down", "type": "requests"}})])
    t0 = time.time()
    r = router.chat(chat("fake:m"))
    err = assert_error(r, 429, "rate_limited")
    assert r.headers["retry-after"] == "2"
    assert err["type"] == "rate_limit_error"
    assert "slow down" in err["message"]
    assert time.time() - t0 >= 1.0
    assert len(router.fake.for_model("m")) == 2


def test_429_then_success_honours_retry_after(router):
    router.fake.script("m", [FakeReply(status=429,
                                       headers={"retry-after": "1"})])
    t0 = time.time()
    r = router.chat(chat("fake:m"))
    assert r.status_code == 200, r.text
    reqs = router.fake.for_model("m")
    assert len(reqs) == 2 and reqs[1]["t"] - reqs[0]["t"] >= 0.95
    assert time.time() - t0 >= 1.0


def test_retry_after_over_the_cap_is_not_waited_for(router):
    router.fake.script("m", [FakeReply(status=429,
                                       headers={"retry-after": "60"})])
    t0 = time.time()
    r = router.chat(chat("fake:m"))
    assert_error(r, 429, "rate_limited")
    assert r.headers["retry-after"] == "60"
    assert time.time() - t0 < 2
    assert len(router.fake.for_model("m")) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_retried_once_then_502(router, status):
    router.fake.script("m", [FakeReply(status=status),
                             FakeReply(status=status)])
    err = assert_error(router.chat(chat("fake:m")), 502, "upstream_error")
    assert err["type"] == "upstream_error"
    assert "(%d)" % status in err["message"]
    assert "fake" in err["message"]
    assert len(router.fake.for_model("m")) == 2


def test_400_passes_the_provider_message_without_retry(router):
    router.fake.script("m", [FakeReply(status=400, body={"error": {
        "message": "max_tokens is too large: 999999",
        "type": "invalid_request_error", "param": "max_tokens"}})])
    err = assert_error(router.chat(chat("fake:m")), 400, "invalid_value")
    assert "max_tokens is too large: 999999" in err["message"]
    assert len(router.fake.for_model("m")) == 1


def test_provider_auth_failure_is_502_and_never_shows_the_key(router):
    router.fake.require_key = "the-right-key"
    r = router.chat(chat("fake:m"))
    err = assert_error(r, 502, "upstream_error")
    assert FAKE_KEY not in r.text and FAKE_KEY[:12] not in r.text
    assert "401" in err["message"]
    s = router.stream(chat("fake:m", stream=True))
    assert s.status == 502 and FAKE_KEY not in s.body.decode()
    no_secrets(router)


def test_malformed_answer_is_502(router):
    router.fake.script("m", [FakeReply(behaviour="malformed"),
                             FakeReply(behaviour="malformed")])
    err = assert_error(router.chat(chat("fake:m")), 502, "upstream_error")
    assert "malformed" in err["message"]


def test_malformed_stream_before_any_byte_falls_back(router):
    router.fake.script("m", [FakeReply(behaviour="malformed", after=0),
                             FakeReply(behaviour="malformed", after=0)])
    s = router.stream(chat("chain", stream=True))
    assert s.status == 200 and s.done()
    assert "error" not in s.json_events()[-1]
    assert len(router.fake.for_model("b")) == 1


def test_malformed_stream_after_bytes_ends_with_error_event(router):
    router.fake.script("m", [FakeReply(content="a b c",
                                       behaviour="malformed", after=2)])
    s = router.stream(chat("chain", stream=True))
    assert s.status == 200
    e = err_event(s)
    assert e["code"] == "upstream_error" and "malformed" in e["message"]
    assert len(router.fake.for_model("b")) == 0


def test_error_event_mid_stream_is_relayed_as_error(router):
    router.fake.script("m", [FakeReply(content="a b c",
                                       behaviour="error_event", after=2)])
    s = router.stream(chat("fake:m", stream=True))
    e = err_event(s)
    assert "overloaded" in e["message"]


def test_truncated_stream_ends_with_error_and_no_fallback(router):
    router.fake.script("m", [FakeReply(content="one two three four",
                                       behaviour="truncated", after=3)])
    s = router.stream(chat("chain", stream=True,
                           stream_options={"include_usage": True}))
    assert s.status == 200
    e = err_event(s)
    assert e["type"] == "upstream_error"
    text = assemble(s.json_events()[:-1])["choices"][0]["message"]
    assert text["content"] == "one two"
    assert len(router.fake.for_model("b")) == 0
    router.alive()


# --- fallbacks ----------------------------------------------------------

def test_fallback_to_next_target_before_first_byte(router):
    router.fake.script("m", [FakeReply(status=503), FakeReply(status=503)])
    r = router.chat(chat("chain"))
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "b"
    b = router.fake.for_model("b")
    assert len(b) == 1
    assert b[0]["headers"]["authorization"] == "Bearer " + BACKUP_KEY

    router.fake.script("m", [FakeReply(status=429,
                                       headers={"retry-after": "30"})])
    s = router.stream(chat("chain", stream=True))
    assert s.status == 200 and s.done()
    assert assemble(s.json_events())["choices"][0]["message"][
        "content"] == "fake: hello"


def test_fallback_from_a_dead_provider(router):
    r = router.chat(chat("deadchain"))
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "m"
    # Alone, a dead provider is a 502 without internals.
    err = assert_error(router.chat(chat("dead:x")), 502, "upstream_error")
    assert "127.0.0.1" not in err["message"]


def test_no_fallback_on_client_errors(router):
    router.fake.script("m", [FakeReply(status=400)])
    assert_error(router.chat(chat("chain")), 400)
    assert len(router.fake.for_model("b")) == 0


def test_provider_without_key_is_skipped_in_a_chain(tollgate, db, fake):
    t = tollgate(env=router_env(catalog(fake, aliases={
        "k": ["nokey:y", "fake:m"]})))
    key, _, _ = seed_key(db)
    r = Router(t, key, fake)
    assert r.chat(chat("k")).status_code == 200
    err = assert_error(r.chat(chat("nokey:y")), 502, "upstream_error")
    assert "NOKEY_API_KEY" in err["message"]


# --- timeouts -----------------------------------------------------------

def test_upstream_that_never_answers_is_504(quick):
    quick.fake.script("m", [FakeReply(behaviour="hang")])
    t0 = time.time()
    err = assert_error(quick.chat(chat("fake:m")), 504, "upstream_timeout")
    took = time.time() - t0
    assert 0.7 <= took < 3, took
    assert err["type"] == "upstream_error"
    # Our side closed the connection to the silent upstream.
    time.sleep(0.5)
    conn = quick.fake.for_model("m")[0]["conn_id"]
    assert conn in quick.fake.closed_at


def test_never_answers_falls_back(quick):
    quick.fake.script("m", [FakeReply(behaviour="hang")])
    r = quick.chat(chat("chain"))
    assert r.status_code == 200 and r.json()["model"] == "b"


def test_stall_mid_stream_ends_with_timeout_event(quick):
    quick.fake.script("m", [FakeReply(content="a b c d",
                                      behaviour="stall", after=2)])
    t0 = time.time()
    s = quick.stream(chat("fake:m", stream=True))
    e = err_event(s)
    assert e["code"] == "upstream_timeout"
    assert 0.6 <= time.time() - t0 < 3
    assert assemble(s.json_events()[:-1])["choices"][0]["message"][
        "content"] == "a"
    time.sleep(0.3)
    assert quick.fake.for_model("m")[0]["conn_id"] in quick.fake.closed_at


def test_slow_but_steady_stream_is_not_idle(quick):
    quick.fake.script("m", [FakeReply(content="a b c d e",
                                      event_delay=0.4)])
    s = quick.stream(chat("fake:m", stream=True))
    assert s.done() and "error" not in s.json_events()[-1]


def test_total_timeout_cuts_a_long_stream(quick):
    quick.fake.script("m", [FakeReply(content=" ".join(["w"] * 30),
                                      event_delay=0.3)])
    s = quick.stream(chat("fake:m", stream=True))
    e = err_event(s)
    assert e["code"] == "upstream_timeout"


# --- client disconnects -------------------------------------------------

def test_client_disconnect_closes_upstream_within_a_second(router):
    router.fake.script("m", [FakeReply(content="a b c d e f",
                                       behaviour="stall", after=3)])
    s = router.stream(chat("fake:m", stream=True), stop_after=2)
    left = time.time()
    assert len(s.events) == 2
    conn = router.fake.for_model("m")[0]["conn_id"]
    deadline = left + 3
    while time.time() < deadline and conn not in router.fake.closed_at:
        time.sleep(0.02)
    assert conn in router.fake.closed_at
    assert router.fake.closed_at[conn] - left < 1.0
    router.alive()
    assert re.search(r'path="/v1/chat/completions".*status=499',
                     router.t.log())


def test_client_disconnect_during_a_writing_stream(router):
    router.fake.script("m", [FakeReply(content=" ".join(["w"] * 40),
                                       event_delay=0.1)])
    s = router.stream(chat("fake:m", stream=True), stop_after=3)
    left = time.time()
    conn = router.fake.for_model("m")[0]["conn_id"]
    while time.time() < left + 3 and conn not in router.fake.closed_at:
        time.sleep(0.02)
    assert router.fake.closed_at.get(conn, 1e18) - left < 1.0
    router.alive()


def test_client_disconnect_while_waiting_for_a_whole_answer(router):
    router.fake.script("m", [FakeReply(behaviour="hang")])
    body = json.dumps(chat("fake:m")).encode()
    s = socket.create_connection(("127.0.0.1", router.t.port))
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
               "authorization: Bearer %s\r\ncontent-type: application/json"
               "\r\ncontent-length: %d\r\n\r\n" % (router.key, len(body))
               ).encode() + body)
    deadline = time.time() + 3
    while time.time() < deadline and not router.fake.for_model("m"):
        time.sleep(0.02)
    s.close()
    left = time.time()
    conn = router.fake.for_model("m")[0]["conn_id"]
    while time.time() < left + 3 and conn not in router.fake.closed_at:
        time.sleep(0.02)
    assert router.fake.closed_at.get(conn, 1e18) - left < 1.0
    router.alive()


# --- bad client input ---------------------------------------------------

BAD_BODIES = [
    (b"", 400, "invalid_json"),
    (b"{not json", 400, "invalid_json"),
    (b"[1,2,3]", 400, "invalid_json"),
    (b"\xff\xfe\x00garbage", 400, "invalid_json"),
    (b'{"model":"fake:m","model":"x","messages":[]}', 400, "invalid_json"),
    (b'{"messages":[{"role":"user","content":"x"}]}', 400, "missing_field"),
    (b'{"model":"fake:m"}', 400, "missing_field"),
    (b'{"model":7,"messages":[]}', 400, "invalid_value"),
    (b'{"model":"fake:m","messages":"hi"}', 400, "invalid_value"),
    (b'{"model":"fake:m","messages":[{"role":"pirate","content":"x"}]}',
     400, "invalid_value"),
    (b'{"model":"fake:m","n":1000000,"messages":[{"role":"user",'
     b'"content":"x"}]}', 400, "invalid_value"),
    (b'{"model":"fake:m","stream":"yes","messages":[{"role":"user",'
     b'"content":"x"}]}', 400, "invalid_value"),
    (b'{"model":"fake:m","max_tokens":-5,"messages":[{"role":"user",'
     b'"content":"x"}]}', 400, "invalid_value"),
    (b'{"model":"fake:m","messages":[{"role":"user","content":'
     b'[{"type":"hologram"}]}]}', 400, "invalid_value"),
    (b'{"model":"fake:m","tools":[{"type":"function"}],"messages":'
     b'[{"role":"user","content":"x"}]}', 400, "invalid_value"),
    (b'{"model":"' + b"a" * 300 + b'","messages":[]}', 400,
     "invalid_value"),
    (b'{"model":"no:such","messages":[{"role":"user","content":"x"}]}',
     404, "model_not_found"),
    (b"[" * 5000 + b"]" * 5000, 400, "invalid_json"),
    (b'{"a":' * 3000 + b"1" + b"}" * 3000, 400, "invalid_json"),
]


@pytest.mark.parametrize("body,status,code", BAD_BODIES,
                         ids=[str(i) for i in range(len(BAD_BODIES))])
def test_bad_input_is_refused_and_the_worker_lives(router, body, status,
                                                   code):
    pids = router.t.pids()
    r = router.t.post("/v1/chat/completions", data=body, headers=dict(
        router.h, **{"content-type": "application/json"}))
    err = assert_error(r, status, code)
    assert err["message"]
    router.alive()
    assert router.t.pids() == pids
    assert len(router.fake.requests) == 0


def test_bad_embeddings_input(router):
    for body in ({"model": "fake:e"}, {"model": "fake:e", "input": []},
                 {"model": "fake:e", "input": {"a": 1}},
                 {"input": "x"}, {"model": "fake:e", "input": "x",
                                  "encoding_format": "hex"}):
        r = router.t.post("/v1/embeddings", json=body, headers=router.h)
        assert_error(r, 400)
    router.alive()


def test_huge_body_is_413_and_garbage_headers_are_survived(router):
    # Over TOLLGATE_V1_BODY_MAX_BYTES (20 MiB): refused from its headers.
    s = socket.create_connection(("127.0.0.1", router.t.port), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
              b"authorization: Bearer " + router.key.encode() +
              b"\r\ncontent-length: %d\r\n\r\n" % ((20 << 20) + 1))
    assert s.recv(65536).split()[1] == b"413"
    s.close()
    router.alive()
    s = socket.create_connection(("127.0.0.1", router.t.port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
              b"authorization: Bearer " + router.key.encode() +
              b"\r\ncontent-length: 100\r\n\r\n{\"model\":")
    s.close()
    router.alive()


# --- metrics ------------------------------------------------------------

def test_upstream_metrics_by_provider(router):
    router.chat(chat("fake:m"))
    router.fake.script("m", [FakeReply(status=503), FakeReply(status=503)])
    router.chat(chat("fake:m"))
    text = router.t.get("/metrics").text
    m = re.search(r'^tollgate_upstream_latency_seconds_count\{provider='
                  r'"fake"\} (\d+)$', text, re.M)
    assert m and int(m.group(1)) == 3
    m = re.search(r'^tollgate_upstream_errors_total\{provider="fake"\} '
                  r'(\d+)$', text, re.M)
    assert m and int(m.group(1)) == 2
    assert re.search(r'^tollgate_upstream_first_byte_seconds_bucket\{'
                     r'provider="fake",le="\+Inf"\} 3$', text, re.M)
    no_secrets(router)
