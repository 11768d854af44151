"""TOLLGATE_LOG_FORMAT=json (docs/operations.md, "Logs and metrics"):
every line the process writes is one JSON object with ts, level, msg and,
for a request's lines, request_id; Kore's own start-up, worker and
shut-down lines included. The access line carries the request's fields
and, for a router call, its model, tokens, cost and attempts."""

import json
import re

import pytest

pytest.importorskip("lib.router")

from lib.credits import grant, set_price, settled  # noqa: E402
from lib.keys import auth, seed_key  # noqa: E402
from lib.router import (catalog, fake, router_env, sse_request,  # noqa: E402,F401
                        user)

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"critical", "error", "warning", "notice", "info", "debug"}
JSON_LOGS = {"TOLLGATE_LOG_FORMAT": "json"}


def lines_of(text):
    """Every line as an object; fails on the first that is not one."""
    out = []
    for n, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            pytest.fail("line %d is not JSON: %r\n%s" % (n, line, text))
        assert isinstance(doc, dict), line
        assert TS.match(doc.get("ts", "")), line
        assert doc.get("level") in LEVELS, line
        assert isinstance(doc.get("msg"), str), line
        out.append(doc)
    return out


def access_of(docs, request_id):
    found = [d for d in docs if d["msg"] == "access" and
             d.get("request_id") == request_id]
    assert len(found) == 1, docs
    return found[0]


def test_every_line_is_json_kore_lines_included(tollgate, db, fake):
    set_price(db, "fake:m", 1000000, 3000000)
    t = tollgate(env=router_env(catalog(fake), **JSON_LOGS), workers=2)
    key, uid, _ = seed_key(db)
    grant(db, uid, 10 ** 7)

    assert t.get("/healthz").status_code == 200
    assert t.get("/nope").status_code == 404
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("a line \"quoted\"\n")]})
    assert r.status_code == 200, r.text
    t.stop()

    docs = lines_of(t.log())
    msgs = [d["msg"] for d in docs]
    # Kore's own: both workers started, the parent's listener and its end.
    started = [d for d in docs if re.match(r"worker \d+ started \(cpu#",
                                           d["msg"])]
    assert sorted(d["proc"] for d in started) == ["wrk 1", "wrk 2"]
    assert any(re.match(r"tollgate serving http on 127\.0\.0\.1:%d$" % t.port,
                        m) for m in msgs), msgs
    assert "goodbye" in msgs
    assert all(d["proc"] == "parent" for d in docs if d["msg"] == "goodbye")
    # Lines of no request carry no request id.
    assert all("request_id" not in d for d in started)


def test_access_line_fields_and_request_id(tollgate, db, fake):
    set_price(db, "fake:m", 1000000, 3000000, fee=7)
    t = tollgate(env=router_env(catalog(fake), **JSON_LOGS))
    key, uid, key_id = seed_key(db)
    grant(db, uid, 10 ** 7)

    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("alpha beta gamma")]})
    assert r.status_code == 200, r.text
    u = r.json()["usage"]
    rid = r.headers["x-request-id"]
    rec = settled(db, uid)[0]

    s = sse_request(t.port, "/v1/chat/completions", {
        "model": "fake:m", "messages": [user("delta")], "stream": True,
        "stream_options": {"include_usage": True}}, auth(key))
    assert s.status == 200 and s.done()
    srid = s.headers["x-request-id"]

    h = t.get("/healthz?code=secret-oauth-code",
              headers={"X-Request-Id": "ops-probe-1"})
    assert h.headers["x-request-id"] == "ops-probe-1"

    docs = lines_of(t.log())
    a = access_of(docs, rid)
    assert a["level"] == "info"
    assert a["client"] == "127.0.0.1"
    assert a["method"] == "POST"
    assert a["path"] == "/v1/chat/completions"
    assert a["route"] == "/v1/chat/completions"
    assert a["status"] == 200
    assert isinstance(a["duration_ms"], float) and a["duration_ms"] >= 0
    assert a["key"] == key_id and a["user"] == uid
    assert a["model"] == "fake:m"
    assert a["prompt_tokens"] == u["prompt_tokens"] > 0
    assert a["completion_tokens"] == u["completion_tokens"] > 0
    assert a["cost_micros"] == u["cost_micros"] == rec[6] > 0
    assert a["attempts"] == 1

    st = access_of(docs, srid)
    assert st["status"] == 200 and st["model"] == "fake:m"
    assert st["attempts"] == 1 and st["completion_tokens"] > 0

    p = access_of(docs, "ops-probe-1")
    assert p["path"] == "/healthz" and p["status"] == 200
    assert "model" not in p
    # The query string (OAuth codes) never reaches the log.
    assert "secret-oauth-code" not in t.log()


def test_request_lines_name_their_request(tollgate, db, fake):
    """A line a handler logs about its request carries the request id as
    a field, not inside the message."""
    t = tollgate(env=router_env(catalog(fake), **JSON_LOGS))
    key, uid, _ = seed_key(db)
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("x")]})
    # No price for fake:m: the meter refuses it, no upstream call.
    assert r.status_code == 404, r.text
    rid = r.headers["x-request-id"]
    mine = [d for d in lines_of(t.log()) if d.get("request_id") == rid]
    assert mine and all(not d["msg"].startswith("rid=") for d in mine)
    assert access_of(mine, rid)["status"] == 404


def test_bad_log_format_is_refused_in_json(tollgate):
    t = tollgate(env={"TOLLGATE_LOG_FORMAT": "yaml"}, wait=False)
    rc, out = t.run_to_exit()
    assert rc == 1
    docs = lines_of(out)
    assert any(d["level"] == "error" and "TOLLGATE_LOG_FORMAT" in d["msg"]
               for d in docs), out


def test_text_stays_the_default(server):
    r = server.get("/healthz")
    rid = r.headers["x-request-id"]
    assert re.search(r"\[wrk 1\]: access rid=%s method=GET path=\"/healthz\""
                     % re.escape(rid), server.log())
