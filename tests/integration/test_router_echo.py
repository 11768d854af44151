"""Router through the built-in echo provider: answers, streaming, usage,
limits, model addressing, /v1/models, embeddings, keys and their
allowed_models, and the HTTP details of a stream (HTTP/1.0, Connection:
close, keep-alive reuse)."""

import base64
import json
import re
import socket
import struct
import time

from lib.router import (assemble, assert_error, auth, catalog, fake,  # noqa
                        router, router_env, seed_key, sse_request, user,
                        whole_choices)


def test_router_routes_need_a_key(server):
    for method, path in (("POST", "/v1/chat/completions"),
                         ("POST", "/v1/embeddings"), ("GET", "/v1/models")):
        kw = {}
        if method == "POST":
            kw = {"data": b"{not json",
                  "headers": {"content-type": "application/json"}}
        r = server.request(method, path, **kw)
        assert_error(r, 401, "invalid_api_key")
        r = server.request(method, path,
                           headers={"authorization": "Bearer tg_nope"})
        assert_error(r, 401)


def test_plain_answer_with_usage_and_cost(router):
    r = router.chat({"model": "echo:echo-1", "messages": [
        {"role": "system", "content": "be brief"},
        user("Hello there, world!")]})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["object"] == "chat.completion"
    assert a["choices"][0]["message"] == {
        "role": "assistant", "content": "echo: Hello there, world!",
        "refusal": None}
    assert a["choices"][0]["finish_reason"] == "stop"
    u = a["usage"]
    assert (u["prompt_tokens"], u["completion_tokens"],
            u["total_tokens"]) == (5, 4, 9)
    assert u["cost_micros"] == 0
    assert r.headers["x-tollgate-cost-micros"] == "0"
    assert r.headers["x-request-id"]


def test_multi_turn_echoes_the_last_message(router):
    r = router.chat({"model": "default", "messages": [
        user("first"), {"role": "assistant", "content": "echo: first"},
        user("second turn")]})
    assert r.json()["choices"][0]["message"]["content"] == \
        "echo: second turn"


def test_stream_is_incremental_json_chunks_and_equals_whole(router):
    body = {"model": "echo:echo-1", "messages": [user("one two three")],
            "stream": True, "stream_options": {"include_usage": True}}
    s = router.stream(body)
    assert s.status == 200
    assert s.headers["content-type"] == "text/event-stream"
    assert s.headers.get("transfer-encoding") == "chunked"
    assert s.headers.get("x-request-id")
    assert s.done()
    chunks = s.json_events()
    # role, four tokens, finish, usage
    assert len(chunks) == 7
    got = assemble(chunks)
    assert len(got["ids"]) == 1

    body.pop("stream")
    body.pop("stream_options")
    whole = router.chat(body).json()
    assert [{"index": c["index"], "message": c["message"],
             "finish_reason": c["finish_reason"]}
            for c in got["choices"]] == whole_choices(whole)
    u = whole["usage"]
    assert got["usage"]["prompt_tokens"] == u["prompt_tokens"] == 3
    assert got["usage"]["completion_tokens"] == u["completion_tokens"] == 4
    assert got["usage"]["cost_micros"] == 0


def test_usage_chunk_only_when_asked(router):
    s = router.stream({"model": "default", "stream": True,
                       "messages": [user("x y")]})
    assert s.done()
    assert all("usage" not in c for c in s.json_events())
    s = router.stream({"model": "default", "stream": True,
                       "stream_options": {"include_usage": False},
                       "messages": [user("x y")]})
    assert all("usage" not in c for c in s.json_events())


def test_max_tokens_gives_length_and_stop_gives_stop(router):
    for stream in (False, True):
        body = {"model": "default", "max_tokens": 2, "stream": stream,
                "stream_options": {"include_usage": True} if stream
                else None, "messages": [user("a b c d")]}
        if stream:
            got = assemble(router.stream(body).json_events())
            ch, usage = got["choices"][0], got["usage"]
        else:
            a = router.chat(body).json()
            ch, usage = a["choices"][0], a["usage"]
        assert ch["message"]["content"] == "echo: a"
        assert ch["finish_reason"] == "length"
        assert usage["completion_tokens"] == 2

    a = router.chat({"model": "default", "stop": ["b c"],
                     "messages": [user("a b c d")]}).json()
    assert a["choices"][0]["message"]["content"] == "echo: a "
    assert a["choices"][0]["finish_reason"] == "stop"

    # A cap above the model's is clamped, not refused.
    a = router.chat({"model": "default", "max_tokens": 10 ** 7,
                     "messages": [user("z")]})
    assert a.status_code == 200


def test_tools_through_echo(router):
    body = {"model": "default", "messages": [user("find cats")],
            "tools": [{"type": "function", "function": {
                "name": "search", "parameters": {"type": "object"}}}],
            "tool_choice": "required"}
    a = router.chat(body).json()
    msg = a["choices"][0]["message"]
    assert a["choices"][0]["finish_reason"] == "tool_calls"
    assert msg["tool_calls"][0]["function"]["name"] == "search"
    assert json.loads(msg["tool_calls"][0]["function"]["arguments"]) == \
        {"text": "echo: find cats"}
    body["stream"] = True
    got = assemble(router.stream(body).json_events())
    assert got["choices"][0]["message"]["tool_calls"][0]["function"] == \
        msg["tool_calls"][0]["function"]

    # The tool result round trip.
    r = router.chat({"model": "default", "messages": [
        user("find cats"),
        {"role": "assistant", "content": None,
         "tool_calls": msg["tool_calls"]},
        {"role": "tool", "tool_call_id": msg["tool_calls"][0]["id"],
         "content": "three cats"}]})
    assert r.json()["choices"][0]["message"]["content"] == \
        "echo: three cats"


def test_n_choices(router):
    a = router.chat({"model": "default", "n": 2,
                     "messages": [user("hi")]}).json()
    assert [c["index"] for c in a["choices"]] == [0, 1]
    assert a["usage"]["completion_tokens"] == 4


def test_model_addressing(router):
    for name in ("echo:echo-1", "echo/echo-1", "default"):
        r = router.chat({"model": name, "messages": [user("x")]})
        assert r.status_code == 200, (name, r.text)
    for name in ("echo:nope", "nope:echo-1", "echo-1", "openai:gpt-4o-mini"):
        err = assert_error(router.chat({"model": name,
                                        "messages": [user("x")]}),
                           404, "model_not_found")
        assert err["param"] == "model"
    assert_error(router.chat({"model": "echo:echo-embed",
                              "messages": [user("x")]}), 400,
                 "invalid_value")


def test_models_list(router):
    r = router.t.get("/v1/models", headers=router.h)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    for m in body["data"]:
        assert set(m) == {"id", "object", "created", "owned_by", "pricing",
                          "context_length", "max_output_tokens", "endpoints"}
        assert m["object"] == "model"
    assert "echo:echo-1" in ids and "echo:echo-embed" in ids
    assert "fake:m" in ids and "default" in ids and "chain" in ids
    # A provider without its key is not callable, so not listed.
    assert "nokey:y" not in ids


def test_allowed_models_restrict_calls_and_listing(router, db):
    key, _, _ = seed_key(db, allowed_models=["echo:echo-1", "chain"])
    h = auth(key)
    t = router.t
    r = t.post("/v1/chat/completions", headers=h, json={
        "model": "echo/echo-1", "messages": [user("x")]})
    assert r.status_code == 200
    r = t.post("/v1/chat/completions", headers=h, json={
        "model": "fake:m", "messages": [user("x")]})
    assert_error(r, 403, "model_not_allowed")
    # The alias is allowed by name; its targets need not be.
    r = t.post("/v1/chat/completions", headers=h, json={
        "model": "chain", "messages": [user("x")]})
    assert r.status_code == 200
    # default -> echo:echo-1: allowed through its target.
    r = t.post("/v1/chat/completions", headers=h, json={
        "model": "default", "messages": [user("x")]})
    assert r.status_code == 200
    ids = {m["id"] for m in t.get("/v1/models", headers=h).json()["data"]}
    assert ids == {"echo:echo-1", "chain", "default"}

    key2, _, _ = seed_key(db, allowed_models=["echo:*"])
    r = t.post("/v1/embeddings", headers=auth(key2), json={
        "model": "echo:echo-embed", "input": "x"})
    assert r.status_code == 200
    r = t.post("/v1/chat/completions", headers=auth(key2), json={
        "model": "deadchain", "messages": [user("x")]})
    assert_error(r, 403, "model_not_allowed")


def test_embeddings(router):
    r = router.t.post("/v1/embeddings", headers=router.h, json={
        "model": "echo:echo-embed", "input": ["hello world", "x"],
        "dimensions": 8})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["object"] == "list" and len(b["data"]) == 2
    assert len(b["data"][0]["embedding"]) == 8
    assert b["usage"] == {"prompt_tokens": 3, "total_tokens": 3,
                          "cost_micros": 0}
    assert r.headers["x-tollgate-cost-micros"] == "0"
    # The same input gives the same vector; base64 as the SDKs ask.
    r2 = router.t.post("/v1/embeddings", headers=router.h, json={
        "model": "echo:echo-embed", "input": "hello world",
        "dimensions": 8, "encoding_format": "base64"}).json()
    raw = base64.b64decode(r2["data"][0]["embedding"])
    floats = struct.unpack("<8f", raw)
    assert all(abs(a - b) < 1e-6 for a, b in
               zip(floats, b["data"][0]["embedding"]))
    assert_error(router.t.post("/v1/embeddings", headers=router.h, json={
        "model": "echo:echo-1", "input": "x"}), 400, "invalid_value")


def _raw(port, request):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(request)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def test_http10_and_connection_close_clients(router):
    body = json.dumps({"model": "default", "stream": True,
                       "messages": [user("a b")]}).encode()
    head = ("POST /v1/chat/completions HTTP/1.0\r\nhost: x\r\n"
            "authorization: Bearer %s\r\ncontent-type: application/json\r\n"
            "content-length: %d\r\n\r\n" % (router.key, len(body)))
    data = _raw(router.t.port, head.encode() + body)
    head_part, _, rest = data.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.0 200")
    assert b"transfer-encoding" not in head_part.lower()
    assert rest.count(b"data: ") == 6 and rest.endswith(b"data: [DONE]\n\n")

    head = head.replace("HTTP/1.0", "HTTP/1.1").replace(
        "host: x\r\n", "host: x\r\nconnection: close\r\n")
    data = _raw(router.t.port, head.encode() + body)
    head_part, _, rest = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head_part.lower()
    assert rest.endswith(b"0\r\n\r\n")
    assert rest.count(b"data: ") == 6
    router.alive()


def test_stream_outlives_kores_header_timeout(tollgate, db, fake):
    """docs/kore.md, "Streaming" 1-3: a stream that lasts longer than Kore's
    http_header_timeout (10 s), for a Connection: close client whose body
    did not arrive with its headers, is neither cut by a 408 written into
    it nor closed after its first chunk."""
    cat = catalog(fake)
    cat["providers"][0]["chunk_delay_ms"] = 1100
    t = tollgate(env=router_env(cat))
    key, _, _ = seed_key(db)
    body = json.dumps({"model": "echo:echo-1", "stream": True, "messages": [
        {"role": "system", "content": "x" * 8000},
        user("a b c d e f g h")]}).encode()
    head = ("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
            "connection: close\r\nauthorization: Bearer %s\r\n"
            "content-type: application/json\r\ncontent-length: %d\r\n"
            "\r\n" % (key, len(body)))
    t0 = time.time()
    data = _raw(t.port, head.encode() + body)
    assert time.time() - t0 > 11
    head_part, _, rest = data.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 200")
    assert b"408" not in data and b"Request Time" not in data
    # the role, "echo:" and 8 words, the finish chunk, [DONE]
    assert rest.count(b"data: ") == 12
    assert rest.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")


def test_keep_alive_connection_reused_after_stream(router):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", router.t.port, timeout=10)
    for i in range(3):
        conn.request("POST", "/v1/chat/completions", body=json.dumps({
            "model": "default", "stream": True,
            "messages": [user("round %d" % i)]}),
            headers=dict(router.h, **{"content-type": "application/json"}))
        r = conn.getresponse()
        text = r.read().decode()
        assert r.status == 200 and text.endswith("data: [DONE]\n\n")
        assert "round %d" % i not in text  # split in tokens
        assert '" %d"' % i in text
    first = conn.sock
    conn.request("GET", "/v1/models", headers=router.h)
    assert conn.getresponse().status == 200
    assert conn.sock is first
    conn.close()


def test_paced_echo_streams_over_time(tollgate, db, fake):
    cat = catalog(fake)
    cat["providers"][0]["chunk_delay_ms"] = 150
    t = tollgate(env=router_env(cat))
    key, _, _ = seed_key(db)
    s = sse_request(t.port, "/v1/chat/completions", {
        "model": "echo:echo-1", "stream": True,
        "messages": [user("a b c")]}, auth(key))
    times = [e[0] for e in s.events]
    assert len(times) == 7 and s.done()
    assert times[-1] - times[0] >= 0.6
    # A client that leaves mid-way does not hurt the worker.
    s = sse_request(t.port, "/v1/chat/completions", {
        "model": "echo:echo-1", "stream": True,
        "messages": [user("a b c")]}, auth(key), stop_after=2)
    time.sleep(0.5)
    assert t.get("/healthz").status_code == 200
    assert re.search(r"status=499", t.log())
