"""The operator's metrics (docs/operations.md, "Logs and metrics"), read
with Prometheus's own text parser: request durations by route and status
class, tokens and cost by model (to the micro-credit of
/api/usage/requests), open streams, build info, process_*; /metrics on
its own listener (TOLLGATE_METRICS_LISTEN) and behind a bearer token
(TOLLGATE_METRICS_TOKEN)."""

import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

pytest.importorskip("lib.router")

from lib.auth import bearer, sign_in  # noqa: E402
from lib.credits import grant, set_price, settled  # noqa: E402
from lib.errors import assert_error  # noqa: E402
from lib.keys import auth, seed_key  # noqa: E402
from lib.router import (FakeReply, catalog, fake, router_env,  # noqa: E402,F401
                        sse_request, user)
from lib.server import free_port  # noqa: E402

TOKEN = "metrics-token-5b1d9e0c7a2f4e68"


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def family_type(fams, name):
    """A family's type (the parser names a counter without _total)."""
    f = fams.get(name) or fams.get(name[:-len("_total")])
    assert f is not None, name
    return f.type


def samples(fams, name, **labels):
    """The samples of a family whose labels include labels."""
    out = []
    for f in fams.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v
                                      for k, v in labels.items()):
                out.append(s)
    return out


def value(fams, name, **labels):
    found = samples(fams, name, **labels)
    assert len(found) == 1, (name, labels, found)
    return found[0].value


def scrape(t, headers=None, url=None):
    r = requests.get((url or t.url) + "/metrics", headers=headers or {},
                     timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return families(r.text)


def check_histogram(fams, name, **labels):
    """Buckets never decrease, +Inf equals the count; returns the count."""
    buckets = samples(fams, name + "_bucket", **labels)
    bounds = [float(b.labels["le"]) for b in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf")
    counts = [b.value for b in buckets]
    assert counts == sorted(counts), counts
    count = value(fams, name + "_count", **labels)
    assert counts[-1] == count
    assert value(fams, name + "_sum", **labels) >= 0
    return count


def test_request_durations_by_route_and_status_class(server):
    for _ in range(5):
        assert server.get("/healthz").status_code == 200
    for p in ("/nope", "/nope/2", "/x"):
        assert server.get(p).status_code == 404
    assert server.post("/healthz").status_code == 405

    fams = scrape(server)
    d = "tollgate_http_request_duration_seconds"
    assert fams[d].type == "histogram"
    assert check_histogram(fams, d, route="/healthz",
                           status_class="2xx") == 5
    assert check_histogram(fams, d, route="/healthz",
                           status_class="4xx") == 1
    assert check_histogram(fams, d, route="unmatched",
                           status_class="4xx") == 3
    # Bounded labels: routes by pattern, never a raw path.
    routes = {s.labels["route"] for s in samples(fams, d + "_count")}
    assert routes == {"/healthz", "unmatched"}
    assert value(fams, "tollgate_http_requests_total", route="/healthz",
                 status="200") == 5


def test_tokens_and_cost_by_model_match_usage_records(tollgate, db, fake):
    set_price(db, "fake:m", 1000000, 3000000, cached=500000, fee=7)
    set_price(db, "echo:echo-1", 2000000, 4000000)
    t = tollgate(env=router_env(catalog(fake)), workers=2)
    who = sign_in(t, "ops@example.com")
    key, uid, _ = seed_key(db, user_id=who.user_id)
    grant(db, uid, 10 ** 8)

    calls = [("fake:m", "one two three"), ("fake:m", "four five"),
             ("echo:echo-1", "six seven eight nine")]
    for model, text in calls:
        r = t.post("/v1/chat/completions", headers=auth(key), json={
            "model": model, "messages": [user(text)]})
        assert r.status_code == 200, r.text
    s = sse_request(t.port, "/v1/chat/completions", {
        "model": "fake:m", "messages": [user("ten eleven")],
        "stream": True}, auth(key))
    assert s.status == 200 and s.done()
    settled(db, uid, n=4)

    rows = requests.get(t.url + "/api/usage/requests?limit=100",
                        headers=bearer(who.access_token),
                        timeout=30).json()["data"]
    assert len(rows) == 4
    want = {}
    for row in rows:
        w = want.setdefault(row["model"], dict.fromkeys(
            ("prompt", "cached", "cache_write", "completion", "cost"), 0))
        w["prompt"] += row["prompt_tokens"]
        w["cached"] += row["cached_tokens"]
        w["cache_write"] += row["cache_write_tokens"]
        w["completion"] += row["completion_tokens"]
        w["cost"] += row["cost_micros"]
    assert set(want) == {"fake:m", "echo:echo-1"}

    # Whichever worker answers, the figures are the whole process's.
    for _ in range(2):
        fams = scrape(t)
        assert family_type(fams, "tollgate_tokens_total") == "counter"
        for model, w in want.items():
            for k in ("prompt", "cached", "cache_write", "completion"):
                assert value(fams, "tollgate_tokens_total", model=model,
                             kind=k) == w[k], (model, k)
            assert value(fams, "tollgate_cost_micros_total",
                         model=model) == w["cost"] > 0


def test_streams_open_gauge(tollgate, db, fake):
    set_price(db, "fake:m", 0, 0)
    t = tollgate(env=router_env(catalog(fake)))
    key, _, _ = seed_key(db)
    # Held after its second event: the first words are with the client.
    reply = FakeReply(content="a b c d", gate=True)
    reply.gate_at = 2
    fake.script("m", [reply])
    assert value(scrape(t), "tollgate_streams_open") == 0
    out = {}

    def run():
        out["s"] = sse_request(t.port, "/v1/chat/completions", {
            "model": "fake:m", "messages": [user("x")], "stream": True},
            auth(key))

    th = threading.Thread(target=run)
    th.start()
    deadline = time.time() + 10
    while not fake.gate_waited and time.time() < deadline:
        time.sleep(0.02)
    assert fake.gate_waited
    try:
        assert value(scrape(t), "tollgate_streams_open") == 1
    finally:
        fake.open_gate()
        th.join(15)
    assert out["s"].done()
    assert value(scrape(t), "tollgate_streams_open") == 0


def test_build_info_and_process_metrics(server):
    fams = scrape(server)
    info = samples(fams, "tollgate_build_info")
    assert len(info) == 1 and info[0].value == 1
    assert info[0].labels["version"] and info[0].labels["kore"] == "4.1.0"
    assert info[0].labels["flavor"] in ("release", "asan", "profile")

    assert value(fams, "process_cpu_seconds_total") >= 0
    assert value(fams, "process_resident_memory_bytes") > 1 << 20
    fds = value(fams, "process_open_fds")
    assert 0 < fds < value(fams, "process_max_fds")
    start = value(fams, "process_start_time_seconds")
    assert time.time() - 600 < start <= time.time()
    assert family_type(fams, "process_cpu_seconds_total") == "counter"
    assert family_type(fams, "process_open_fds") == "gauge"
    # Open holds and leases (sweeper tick) are there too.
    assert samples(fams, "tollgate_credits_holds_open")
    assert samples(fams, "tollgate_credits_leases_open")


def test_metrics_on_their_own_listener(tollgate):
    port = free_port()
    t = tollgate(env={"TOLLGATE_METRICS_LISTEN": "127.0.0.1:%d" % port},
                 workers=2)
    murl = "http://127.0.0.1:%d" % port
    assert t.get("/healthz").status_code == 200
    fams = scrape(t, url=murl)
    assert value(fams, "tollgate_http_requests_total", route="/healthz",
                 status="200") == 1
    # Not on the main listener; nothing else on the metrics listener.
    assert_error(t.get("/metrics"), 404, "not_found")
    assert_error(requests.get(murl + "/healthz", timeout=30), 404,
                 "not_found")
    assert_error(requests.post(murl + "/v1/chat/completions", json={},
                               timeout=30), 404, "not_found")


def test_metrics_token(tollgate):
    port = free_port()
    t = tollgate(env={"TOLLGATE_METRICS_TOKEN": TOKEN})
    for h in ({}, bearer(TOKEN[:-1] + "x"), bearer(TOKEN + "x"),
              bearer(TOKEN[:-1]), {"Authorization": "Basic " + TOKEN}):
        r = t.get("/metrics", headers=h)
        assert_error(r, 401, "invalid_token")
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "tollgate_" not in r.text
    scrape(t, headers=bearer(TOKEN))

    # Both: the token on the metrics listener.
    t2 = tollgate(env={"TOLLGATE_METRICS_TOKEN": TOKEN,
                       "TOLLGATE_METRICS_LISTEN": "127.0.0.1:%d" % port})
    murl = "http://127.0.0.1:%d" % port
    assert_error(requests.get(murl + "/metrics", timeout=30), 401,
                 "invalid_token")
    scrape(t2, headers=bearer(TOKEN), url=murl)
    assert_error(t2.get("/metrics", headers=bearer(TOKEN)), 404)


@pytest.mark.parametrize("env,var", [
    ({"TOLLGATE_METRICS_TOKEN": "short"}, "TOLLGATE_METRICS_TOKEN"),
    ({"TOLLGATE_METRICS_LISTEN": "127.0.0.1"}, "TOLLGATE_METRICS_LISTEN"),
    ({"TOLLGATE_METRICS_LISTEN": "127.0.0.1:0"}, "TOLLGATE_METRICS_LISTEN"),
])
def test_bad_metrics_settings_refused(tollgate, env, var):
    t = tollgate(env=env, wait=False)
    rc, out = t.run_to_exit()
    assert rc == 1 and var in out, out
