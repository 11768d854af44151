"""Weighted deployments (docs/router.md, "Aliases: tiers and weights"):
an alias whose first tier spreads calls 3:1 over two targets of the
OpenAI fake ("fake:m" and "backup:b") and whose second tier is echo.
Each target gets its share, a target cooling down is passed over, a pick
that fails before its first byte falls to the tier's other target and
then to the next tier, each call is billed to the target that answered
(as /api/usage/requests says, to the micro-credit), and a badly shaped
tier stops `tollgate -t` naming the alias."""

import subprocess

from lib import auth as session
from lib.credits import check_ledger, cost, grant, set_price, settled
from lib.keys import auth
from lib.router import (FAKE_KEY, FakeReply, catalog, fake,  # noqa: F401
                        router_env, seed_key, user)
from lib.server import BINARY, ROOT, base_env

# Different prices, so a record billed to the wrong target shows.
PRICES = {"fake:m": (1000000, 3000000, 7), "backup:b": (2000000, 5000000, 3),
          "echo:echo-1": (500000, 1000000, 1)}

ALIAS = [{"targets": ["fake:m", "backup:b"], "weights": [3, 1]},
         "echo:echo-1"]


class Rig:
    """A tollgate with the weighted alias "w", a signed-in user with
    credits, a key, and priced models."""

    def __init__(self, tollgate, db, fake, cooldown=None):
        cat = catalog(fake, retries=0, aliases={"w": ALIAS})
        for p in cat["providers"]:
            if p["name"] == "fake" and cooldown:
                p.update(cooldown_after=cooldown[0],
                         cooldown_ms=cooldown[1])
        self.t = tollgate(env=router_env(cat))
        # One worker (tests/lib/server.py): the round-robin is per worker.
        assert self.t.env["TOLLGATE_WORKERS"] == "1"
        self.db, self.fake = db, fake
        s = session.sign_in(self.t, "weights@example.com")
        key, _, _ = seed_key(db, user_id=s.user_id)
        for m, (inp, out, fee) in PRICES.items():
            set_price(db, m, inp, out, fee=fee)
        grant(db, s.user_id, 10 ** 9)
        self.h = auth(key)
        self.uid = s.user_id
        self.session = session.bearer(s.access_token)
        self.calls = 0

    def call(self, text="ping"):
        r = self.t.post("/v1/chat/completions", headers=self.h, json={
            "model": "w", "messages": [user(text)]})
        assert r.status_code == 200, r.text
        self.calls += 1
        return r.json()

    def records(self, n):
        """The last n calls' usage records, newest first."""
        assert len(settled(self.db, self.uid, self.calls)) >= self.calls
        r = self.t.get("/api/usage/requests?limit=%d" % n,
                       headers=self.session)
        assert r.status_code == 200, r.text
        return r.json()["data"][:n]

    def tried(self, model):
        return len(self.fake.for_model(model))


def priced(rec):
    inp, out, fee = PRICES[rec["model"]]
    return cost(rec["prompt_tokens"], rec["cached_tokens"],
                rec["completion_tokens"], inp, inp, out, fee)


def assert_billed(recs):
    for rec in recs:
        assert rec["cost_micros"] > 0, rec
        assert rec["cost_micros"] == priced(rec), rec


def test_weights_three_to_one_share_the_calls(tollgate, db, fake):
    rig = Rig(tollgate, db, fake)
    for i in range(400):
        answer = rig.call("ping %d" % i)
        assert answer["choices"][0]["message"]["content"] == \
            "fake: ping %d" % i
    m, b = rig.tried("m"), rig.tried("b")
    assert m + b == 400
    assert abs(m / 400 - 0.75) <= 0.05, (m, b)
    assert abs(b / 400 - 0.25) <= 0.05, (m, b)

    # Interleaved, not in runs: no three b in a row among the answers.
    recs = rig.records(100)
    models = [r["model"] for r in recs]
    assert set(models) == {"fake:m", "backup:b"}
    assert abs(models.count("fake:m") - 75) <= 5, models
    assert "backup:b" * 3 not in "".join(models)
    assert_billed(recs)
    check_ledger(db)


def test_a_target_cooling_down_is_passed_over(tollgate, db, fake):
    rig = Rig(tollgate, db, fake, cooldown=(2, 600000))
    fake.script("m", [FakeReply(status=503)] * 2)

    # fake:m is picked first and second: two failures, and it cools.
    rig.call()
    rig.call()
    assert rig.tried("m") == 2
    assert rig.tried("b") == 2

    for _ in range(20):
        rig.call()
    assert rig.tried("m") == 2
    assert rig.tried("b") == 22
    recs = rig.records(22)
    assert [r["model"] for r in recs] == ["backup:b"] * 22
    assert_billed(recs)
    check_ledger(db)


def test_a_failed_pick_falls_to_its_tier_then_to_the_next(tollgate, db,
                                                          fake):
    rig = Rig(tollgate, db, fake)

    # First pick fake:m: it fails, backup:b answers.
    fake.script("m", [FakeReply(status=503)])
    assert rig.call("one")["choices"][0]["message"]["content"] == "fake: one"
    assert (rig.tried("m"), rig.tried("b")) == (1, 1)

    # Both fail before their first byte: echo, the next tier, answers.
    fake.script("m", [FakeReply(status=500)])
    fake.script("b", [FakeReply(status=429)])
    answer = rig.call("two")
    assert answer["choices"][0]["message"]["content"] == "echo: two"
    assert (rig.tried("m"), rig.tried("b")) == (2, 2)

    # The third pick is backup:b (3:1 goes m m b m): when it fails, the
    # tier's other target answers before echo is asked.
    fake.script("b", [FakeReply(status=503)])
    assert rig.call("three")["choices"][0]["message"]["content"] == \
        "fake: three"
    assert (rig.tried("m"), rig.tried("b")) == (3, 3)
    assert rig.call("four")["choices"][0]["message"]["content"] == \
        "fake: four"
    assert (rig.tried("m"), rig.tried("b")) == (4, 3)

    # Each call is billed once, to the target that answered; the
    # failed attempts cost nothing.
    recs = rig.records(4)
    assert [r["model"] for r in recs] == ["fake:m", "fake:m", "echo:echo-1",
                                         "backup:b"]
    assert_billed(recs)
    check_ledger(db)


def check(cat, tmp_path):
    """tollgate -t with cat as the router config; (rc, output)."""
    env = base_env("host=/nonexistent/tollgate-no-db dbname=none user=none",
                   1, str(tmp_path))
    env.update(router_env(cat, FAKE_API_KEY=FAKE_KEY))
    env = {k: v for k, v in env.items() if v is not None}
    p = subprocess.run([BINARY, "-t"], env=env, cwd=ROOT, timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout


def test_models_list_a_weighted_alias_at_its_first_target(tollgate, db,
                                                          fake):
    rig = Rig(tollgate, db, fake)
    r = rig.t.get("/v1/models/w", headers=rig.h)
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["owned_by"] == "tollgate"
    assert m["pricing"]["input_micros_per_mtok"] == PRICES["fake:m"][0]
    assert m["pricing"]["request_fee_micros"] == PRICES["fake:m"][2]


def test_a_badly_shaped_tier_is_refused_at_start(fake, tmp_path):
    rc, out = check(catalog(fake, aliases={"w": ALIAS}), tmp_path)
    assert rc == 0, out

    bad = {
        "aliases.w: tier 0: weight 1 must be an integer from 1 to 10000":
            [{"targets": ["fake:m", "backup:b"], "weights": [3, 0]}],
        "aliases.w: tier 0: \"weights\" must be an array of as many":
            [{"targets": ["fake:m", "backup:b"], "weights": [3]}],
        "aliases.w: tier 0: unknown key \"weight\"":
            [{"targets": ["fake:m"], "weights": [1], "weight": [1]}],
        "aliases.w: tier 1: target 0 is not a configured provider:model":
            ["echo:echo-1", {"targets": ["fake:nope"], "weights": [1]}],
    }
    for expect, alias in bad.items():
        rc, out = check(catalog(fake, aliases={"w": alias}), tmp_path)
        assert rc == 1, out
        assert expect in out, out
