"""Every router call is paid for exactly once (docs/contract.md §5, §6): holds
before the upstream call, settlement in every case (answer, stream,
error, disconnect, cut), clamping, 402 and 404 before any upstream byte,
exact results under 200 concurrent calls through two processes, and
crash recovery by the sweeper.

The money tests run twice: on balance leases with batched settlement
(the default) and with TOLLGATE_STRICT_SETTLEMENT=1 (a hold and a
settlement statement per call). Tests about holds themselves run strict;
tests/integration/test_credits_leases.py has the leases' own."""

import concurrent.futures
import threading
import time

import pytest

pytest.importorskip("lib.router")

from lib.credits import (balances, check_ledger, cost, grant,  # noqa: E402
                         holds, set_price, settled, unleased_balances,
                         usage)
from lib.errors import assert_error  # noqa: E402
from lib.keys import auth, seed_key  # noqa: E402
from lib.router import (FakeReply, assemble, catalog, fake,  # noqa: E402,F401
                        router_env, sse_request, user)

# The prompt bound of app/credits/prompt.h for a chat call.
REQUEST_OVERHEAD, TOOLS_OVERHEAD, MESSAGE_OVERHEAD = 32, 512, 16


def bound(text_bytes, messages):
    return REQUEST_OVERHEAD + TOOLS_OVERHEAD + text_bytes + \
        MESSAGE_OVERHEAD * messages


STRICT = {"TOLLGATE_STRICT_SETTLEMENT": "1"}


def hold_of(bound_tokens, max_tokens, inp, out, fee=0):
    """The reservation of a call: its prompt bound and all its output."""
    return cost(bound_tokens, 0, max_tokens, inp, inp, out, fee)


@pytest.fixture(params=["leases", "strict"])
def billed(request, tollgate, db, fake):
    """A tollgate on the test catalog, a funded key, priced models; on
    leases, then strict."""
    set_price(db, "echo:echo-1", 1000000, 2000000)     # 1 / 2 per token
    set_price(db, "fake:m", 1000000, 3000000, cached=500000, fee=7)
    set_price(db, "backup:b", 2000000, 4000000)
    env = router_env(catalog(fake))
    if request.param == "strict":
        env.update(STRICT)
    t = tollgate(env=env)
    key, uid, key_id = seed_key(db)
    grant(db, uid, 10 ** 7)
    return t, auth(key), uid, key_id


def test_answer_charged_at_its_usage(billed, db):
    t, h, uid, key_id = billed
    r = t.post("/v1/chat/completions", headers=h, json={
        "model": "echo:echo-1", "messages": [user("one two three")]})
    assert r.status_code == 200, r.text
    u = r.json()["usage"]
    c = cost(u["prompt_tokens"], 0, u["completion_tokens"], 1000000,
             500000, 2000000)
    assert u["cost_micros"] == c > 0
    assert r.headers["x-tollgate-cost-micros"] == str(c)
    rec = settled(db, uid)[0]
    assert unleased_balances(db, uid) == (10 ** 7 - c, 0, 10 ** 7 - c, 0)
    assert rec[1:8] == ("ok", "provider", u["prompt_tokens"], 0,
                        u["completion_tokens"], c, 0)
    assert db.query("SELECT spent_micros FROM api_keys WHERE id = %s",
                    key_id)[0][0] == c
    check_ledger(db)


def test_stream_usage_chunk_carries_the_charge(billed, db, fake):
    t, h, uid, _ = billed
    s = sse_request(t.port, "/v1/chat/completions", {
        "model": "fake:m", "messages": [user("alpha beta gamma")],
        "stream": True, "stream_options": {"include_usage": True}}, h)
    assert s.status == 200 and s.done()
    u = assemble(s.json_events())["usage"]
    c = cost(u["prompt_tokens"], 0, u["completion_tokens"], 1000000,
             500000, 3000000, 7)
    assert u["cost_micros"] == c
    assert settled(db, uid)[0][6] == c
    check_ledger(db)


@pytest.mark.parametrize("strict", [False, True])
def test_max_tokens_clamped_to_what_the_balance_pays(tollgate, db, fake,
                                                     strict):
    set_price(db, "fake:m", 1000000, 2000000)
    env = router_env(catalog(fake))
    if strict:
        env.update(STRICT)
    t = tollgate(env=env)
    key, uid, _ = seed_key(db)
    text = "w " * 20
    b = bound(len(text), 1)
    grant(db, uid, b + 2 * 37)        # the prompt bound and 37 tokens
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user(text)], "max_tokens": 500})
    assert r.status_code == 200, r.text
    sent = fake.for_model("m")[-1]["body"]
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 37
    h = holds(db, uid)[0]
    assert h[2] == b + 74 and h[4] == 37
    check_ledger(db)


def test_402_says_what_is_affordable_and_calls_nothing(tollgate, db, fake):
    set_price(db, "fake:m", 1000000, 2000000)
    t = tollgate(env=router_env(catalog(fake)))
    key, uid, _ = seed_key(db)
    grant(db, uid, 100)
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("hello")]})
    err = assert_error(r, 402, "insufficient_credits")
    assert r.json()["error"]["type"] == "insufficient_credits"
    assert "0.000100 credits" in err["message"]
    assert "fake:m" in err["message"]
    assert fake.for_model("m") == []
    assert balances(db, uid) == (100, 0, 100, 0) and holds(db, uid) == []


def test_a_null_price_fails_the_call_instead_of_making_it_free(
        tollgate, db, fake):
    # A NULL output rate (a constraint dropped by hand) once read as 0:
    # the hold covered the prompt only and the answer was free.
    db.query("ALTER TABLE model_prices ALTER COLUMN output_micros_per_mtok "
             "DROP NOT NULL")
    db.query("INSERT INTO model_prices (model, input_micros_per_mtok, "
             "cached_input_micros_per_mtok, output_micros_per_mtok, "
             "request_fee_micros) VALUES ('fake:m', 1000000, 1000000, "
             "NULL, 0)")
    t = tollgate(env=dict(router_env(catalog(fake)), **STRICT))
    key, uid, _ = seed_key(db)
    grant(db, uid, 10 ** 7)
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("hello")]})
    assert_error(r, 500, "internal")
    assert fake.for_model("m") == []
    # Nothing taken: the hold reserved no credit (the database cannot
    # record a usage row with a NULL rate, so it is not voided here).
    assert [h[2] for h in holds(db, uid)] == [0]
    assert balances(db, uid) == (10 ** 7, 0, 10 ** 7, 0)
    check_ledger(db)


def test_key_spend_limit_binds(tollgate, db, fake):
    set_price(db, "fake:m", 1000000, 2000000)
    t = tollgate(env=router_env(catalog(fake)))
    key, uid, _ = seed_key(db, spend_limit_micros=50)
    grant(db, uid, 10 ** 6)
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("hello")]})
    err = assert_error(r, 402, "insufficient_credits")
    assert "spend limit" in err["message"]


def test_unpriced_model_is_404_and_not_listed(tollgate, db, fake):
    t = tollgate(env=router_env(catalog(fake)))
    key, uid, _ = seed_key(db)
    grant(db, uid, 10 ** 6)
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("hello")]})
    assert_error(r, 404, "model_not_found")
    assert fake.for_model("m") == []
    ids = {m["id"] for m in t.get("/v1/models", headers=auth(key)).json()[
        "data"]}
    assert "echo:echo-1" in ids and "fake:m" not in ids
    set_price(db, "fake:m", 0, 0)                 # free: callable, listed
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("hello")]})
    assert r.status_code == 200 and r.json()["usage"]["cost_micros"] == 0
    assert "fake:m" in {m["id"] for m in t.get(
        "/v1/models", headers=auth(key)).json()["data"]}


def test_upstream_error_before_output_is_void(billed, db, fake):
    t, h, uid, _ = billed
    fake.script("m", [FakeReply(status=500)] * 3)
    r = t.post("/v1/chat/completions", headers=h, json={
        "model": "fake:m", "messages": [user("x")]})
    assert r.status_code == 502
    rec = settled(db, uid)[0]
    assert unleased_balances(db, uid) == (10 ** 7, 0, 10 ** 7, 0)
    assert rec[1:3] == ("upstream_error", "void") and rec[6] == 0
    check_ledger(db)


def test_usage_beyond_the_hold_is_a_loss(billed, db, fake):
    t, h, uid, _ = billed
    fake.script("m", [FakeReply(content="hi", usage={
        "prompt_tokens": 5000000, "completion_tokens": 5000000})])
    r = t.post("/v1/chat/completions", headers=h, json={
        "model": "fake:m", "messages": [user("x")], "max_tokens": 10})
    assert r.status_code == 200, r.text
    hold = hold_of(bound(1, 1), 10, 1000000, 3000000, 7)
    assert r.json()["usage"]["cost_micros"] == hold
    rec = settled(db, uid)[0]
    full = cost(5000000, 0, 5000000, 1000000, 500000, 3000000, 7)
    assert rec[6] == hold and rec[7] == full - hold
    assert "usage beyond the hold" in t.log()
    assert "tollgate_credits_losses_total 1" in t.get("/metrics").text
    check_ledger(db)


def test_price_change_mid_call_charges_the_old_price(billed, db, fake):
    t, h, uid, _ = billed
    fake.script("m", [FakeReply(content="a b c d", gate=True)])
    out = {}

    def run():
        out["s"] = sse_request(t.port, "/v1/chat/completions", {
            "model": "fake:m", "messages": [user("x y")], "stream": True,
            "stream_options": {"include_usage": True}}, h)

    th = threading.Thread(target=run)
    th.start()
    deadline = time.time() + 10
    while not fake.gate_waited and time.time() < deadline:
        time.sleep(0.02)
    assert fake.gate_waited
    set_price(db, "fake:m", 9000000, 9000000, fee=1000)
    fake.open_gate()
    th.join(15)
    u = assemble(out["s"].json_events())["usage"]
    old = cost(u["prompt_tokens"], 0, u["completion_tokens"], 1000000,
               500000, 3000000, 7)
    assert u["cost_micros"] == old
    # The documented rule: from 1 s after a price change, every call.
    time.sleep(1.0)
    r = t.post("/v1/chat/completions", headers=h, json={
        "model": "fake:m", "messages": [user("x y")]})
    u2 = r.json()["usage"]
    assert u2["cost_micros"] == cost(u2["prompt_tokens"], 0,
                                     u2["completion_tokens"], 9000000,
                                     9000000, 9000000, 1000)
    check_ledger(db)


def test_client_disconnect_mid_stream_charges_what_was_streamed(
        billed, db, fake):
    t, h, uid, _ = billed
    words = ["w%02d" % i for i in range(60)]
    fake.script("m", [FakeReply(content=" ".join(words), event_delay=0.1)])
    s = sse_request(t.port, "/v1/chat/completions", {
        "model": "fake:m", "messages": [user("go")], "stream": True,
        "max_tokens": 100}, h, stop_after=6)
    got = "".join(c["choices"][0]["delta"].get("content") or ""
                  for c in s.json_events() if c.get("choices"))
    rec = settled(db, uid)[0]
    hold = hold_of(bound(2, 1), 100, 1000000, 3000000, 7)
    assert rec[1] == "client_gone" and rec[2] == "estimate"
    assert rec[6] > 0 and rec[6] <= hold
    # At least the bytes the client got, never more than the output cap.
    assert len(got.encode()) <= rec[5] <= 100
    assert rec[3] == bound(2, 1)
    check_ledger(db)


def test_stream_cut_by_the_upstream_is_estimated(billed, db, fake):
    t, h, uid, _ = billed
    fake.script("m", [FakeReply(content="a b c d e f",
                                behaviour="error_event", after=3)])
    s = sse_request(t.port, "/v1/chat/completions", {
        "model": "fake:m", "messages": [user("go")], "stream": True}, h)
    assert s.status == 200
    rec = settled(db, uid)[0]
    assert rec[1] == "stream_cut" and rec[2] == "estimate" and rec[6] > 0
    check_ledger(db)


def test_embeddings_are_charged(billed, db):
    t, h, uid, _ = billed
    set_price(db, "echo:echo-embed", 3000000, 0)
    r = t.post("/v1/embeddings", headers=h, json={
        "model": "echo:echo-embed", "input": ["hello world", "x"]})
    assert r.status_code == 200, r.text
    u = r.json()["usage"]
    assert u["cost_micros"] == cost(u["prompt_tokens"], 0, 0, 3000000,
                                    3000000, 0) == 9
    assert settled(db, uid)[0][6] == 9
    check_ledger(db)


@pytest.mark.parametrize("strict", [False, True])
def test_200_concurrent_calls_two_processes_exactly_k_succeed(
        tollgate, db, fake, strict):
    # No input price and echo answering exactly max_tokens words: every
    # call costs exactly its hold, 10 * 1 + 100 = 110 micros. On leases,
    # credit parked in the other workers' leases is asked back before a
    # call is refused or clamped: still exactly k calls, each at 110.
    set_price(db, "echo:echo-1", 0, 1000000, fee=100)
    k, calls = 37, 200
    env = router_env(catalog(fake))
    if strict:
        env.update(STRICT)
    a = tollgate(env=env, workers=2)
    b = tollgate(env=env, workers=2)
    key, uid, _ = seed_key(db)
    grant(db, uid, k * 110)
    body = {"model": "echo:echo-1", "max_tokens": 10,
            "messages": [user(" ".join("w%d" % i for i in range(30)))]}
    low = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            low.append(balances(db, uid)[2])
            time.sleep(0.01)

    def one(i):
        srv = a if i % 2 else b
        return srv.post("/v1/chat/completions", headers=auth(key),
                        json=body, timeout=60)

    w = threading.Thread(target=watch)
    w.start()
    with concurrent.futures.ThreadPoolExecutor(max_workers=calls) as ex:
        rs = list(ex.map(one, range(calls)))
    stop.set()
    w.join()
    codes = [r.status_code for r in rs]
    assert codes.count(200) == k, codes
    assert codes.count(402) == calls - k
    assert all(r.json()["usage"]["cost_micros"] == 110 for r in rs
               if r.status_code == 200)
    assert min(low) >= 0
    recs = settled(db, uid, k)
    assert len(recs) == k and all(r[6] == 110 for r in recs)
    assert unleased_balances(db, uid) == (0, 0, 0, 0)
    check_ledger(db)


def test_kill9_with_streams_in_flight_then_the_sweeper_settles(
        tollgate, db, fake):
    set_price(db, "fake:m", 1000000, 3000000)
    env = router_env(catalog(fake, timeouts={"idle_ms": 20000}),
                     TOLLGATE_HOLD_TTL_SECONDS="3", **STRICT)
    t = tollgate(env=env, workers=2)
    key, uid, _ = seed_key(db)
    grant(db, uid, 10 ** 7)
    fake.script("m", [FakeReply(content="a b c d e f", behaviour="stall",
                                after=3)] * 5)
    threads = [threading.Thread(target=lambda: sse_request(
        t.port, "/v1/chat/completions", {
            "model": "fake:m", "messages": [user("go")], "stream": True},
        auth(key), timeout=30)) for _ in range(5)]
    for th in threads:
        th.start()
    deadline = time.time() + 10
    while len(fake.for_model("m")) < 5 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    pending = holds(db, uid, "pending")
    assert len(pending) == 5
    t.kill9()
    for th in threads:
        th.join(30)
    assert len(holds(db, uid, "pending")) == 5     # nobody settled them

    t2 = tollgate(env=env)
    deadline = time.time() + 20
    while holds(db, uid, "pending") and time.time() < deadline:
        time.sleep(0.2)
    hs = holds(db, uid)
    assert len(hs) == 5 and all(h[1] == "expired" and h[3] == h[2]
                                for h in hs)
    total = sum(h[2] for h in hs)
    assert balances(db, uid) == (10 ** 7 - total, 0, 10 ** 7 - total, 0)
    assert db.query("SELECT count(*) FROM ledger_transactions WHERE "
                    "kind = 'usage' AND user_id = %s", uid)[0][0] == 5
    # A later sweep changes nothing.
    time.sleep(2)
    assert balances(db, uid)[0] == 10 ** 7 - total
    assert t2.alive()
    check_ledger(db)
