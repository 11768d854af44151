"""Many calls at once on two workers: streams from echo and from a slow
fake upstream interleave, some clients leave half-way, upstreams fail
for some; every remaining client gets its own complete answer and the
workers stay up."""

import random
import threading
import time

from lib.router import (FakeReply, Router, assemble, catalog, fake,  # noqa
                        router_env, seed_key)


def test_parallel_streams_with_leavers_and_failures(tollgate, db, fake):
    t = tollgate(env=router_env(catalog(fake)), workers=2)
    key, _, _ = seed_key(db)
    r = Router(t, key, fake)
    pids = t.pids()
    rnd = random.Random(7)

    # Upstream behaviours for model m, consumed in any order.
    fake.script("m", [FakeReply(content="slow %d words here" % i,
                                event_delay=0.05) for i in range(12)])
    results = {}
    lock = threading.Lock()

    def one(i):
        kind = i % 4
        word = "w%d" % i
        if kind == 0:
            body = {"model": "echo:echo-1", "stream": True,
                    "messages": [{"role": "user", "content": word}]}
            s = r.stream(body)
            got = assemble(s.json_events())["choices"][0]["message"][
                "content"]
            ok = s.done() and got == "echo: " + word
        elif kind == 1:
            body = {"model": "fake:m", "stream": True,
                    "messages": [{"role": "user", "content": word}]}
            s = r.stream(body)
            got = assemble(s.json_events())["choices"][0]["message"][
                "content"]
            ok = s.done() and (got.startswith("slow ") or
                               got == "fake: " + word)
        elif kind == 2:
            body = {"model": "echo:echo-1", "stream": True,
                    "messages": [{"role": "user",
                                  "content": " ".join(["x"] * 50)}]}
            s = r.stream(body, stop_after=rnd.randint(1, 5))
            ok = len(s.events) >= 1
        else:
            a = r.chat({"model": "default", "messages": [
                {"role": "user", "content": word}]})
            ok = a.status_code == 200 and a.json()["choices"][0][
                "message"]["content"] == "echo: " + word
        with lock:
            results[i] = ok

    threads = [threading.Thread(target=one, args=(i,)) for i in range(48)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(results) == 48
    assert all(results.values()), [i for i, ok in results.items() if not ok]
    time.sleep(0.3)
    r.alive()
    assert t.pids() == pids
    assert "sandbox violation" not in t.log()
