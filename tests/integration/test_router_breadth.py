"""Router breadth (docs/router.md): provider auth schemes, extra headers
and query parameters against an Azure-shaped fake; GET /v1/models/{id}
and the priced model list (plain HTTP and the official openai SDK);
GET /api/models for a session; GET /v1/credits next to /api/credits."""

import json
import os
import subprocess
import time
import urllib.parse

import pytest

pytest.importorskip("lib.router")

from lib import auth as session  # noqa: E402
from lib.credits import grant, set_price  # noqa: E402
from lib.errors import assert_error  # noqa: E402
from lib.keys import auth  # noqa: E402
from lib.router import (catalog, fake, free_models,  # noqa: E402,F401
                        router_env, seed_key, user)

NODE_DIR = os.path.join(os.path.dirname(__file__), "..", "node")
AZ_KEY = "az-provider-secret-5e4d3c2b1a"


def azure_catalog(fake, **over):
    az = {"name": "az", "family": "openai",
          "base_url": fake.base_url()[:-3] +
          "/openai/deployments/{model}",
          "auth": "api-key", "query": {"api-version": "2024-10-21"},
          "headers": {"X-Title": "Tollgate tests",
                      "HTTP-Referer": "https://tollgate.example.com"},
          "models": [{"name": "gpt-4o", "max_output_tokens": 100,
                      "context_length": 128000}]}
    az.update(over)
    return catalog(fake, extra=[az])


def test_azure_deployment_api_key_and_api_version(tollgate, db, fake):
    fake.azure = {"key": AZ_KEY, "api_version": "2024-10-21",
                  "deployments": ["gpt-4o"]}
    t = tollgate(env=router_env(azure_catalog(fake), AZ_API_KEY=AZ_KEY))
    key, _, _ = seed_key(db, allowed_models=None)
    free_models(db, ["az:gpt-4o"])
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "az:gpt-4o", "messages": [user("hello azure")]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == \
        "fake: hello azure"
    rec = fake.requests[-1]
    u = urllib.parse.urlsplit(rec["path"])
    assert u.path == "/openai/deployments/gpt-4o/chat/completions"
    assert urllib.parse.parse_qs(u.query) == {"api-version": ["2024-10-21"]}
    h = {k.lower(): v for k, v in rec["headers"].items()}
    assert h["api-key"] == AZ_KEY
    assert "authorization" not in h
    assert h["x-title"] == "Tollgate tests"
    assert h["http-referer"] == "https://tollgate.example.com"

    # Streams take the same path, query and headers.
    s = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "az:gpt-4o", "stream": True,
        "messages": [user("streamed")]})
    assert s.status_code == 200 and "data: [DONE]" in s.text
    assert fake.requests[-1]["path"] == rec["path"]


def test_azure_without_its_scheme_is_refused_upstream(tollgate, db, fake):
    """The fake is strict: the default bearer scheme, or no api-version,
    gets Azure's refusals (so the test above proves the config works)."""
    fake.azure = {"key": AZ_KEY, "api_version": "2024-10-21",
                  "deployments": ["gpt-4o"]}
    cat = azure_catalog(fake)
    az = cat["providers"][-1]
    del az["auth"]
    t = tollgate(env=router_env(cat, AZ_API_KEY=AZ_KEY))
    key, _, _ = seed_key(db)
    free_models(db, ["az:gpt-4o"])
    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "az:gpt-4o", "messages": [user("x")]})
    assert_error(r, 502, "upstream_error")
    assert AZ_KEY not in r.text


@pytest.mark.parametrize("provider, message", [
    ({"headers": {"Content-Length": "5"}}, "Content-Length is set by the "
     "router"),
    ({"headers": {"Authorization": "Bearer x"}}, "use \"auth\""),
    ({"auth": "basic"}, "auth must be"),
    ({"query": {"api-version": 3}}, "query: api-version must be a string"),
    ({"base_url": "http://{model}.example.com/v1"}, "braces only as "
     "{model} in the path"),
])
def test_bad_provider_config_refused_at_start(tollgate, fake, provider,
                                              message):
    t = tollgate(env=router_env(azure_catalog(fake, **provider)),
                 wait=False)
    rc, out = t.run_to_exit(timeout=10)
    assert rc not in (0, None), out
    assert "TOLLGATE_ROUTER_CONFIG" in out and message in out, out


def node(*args):
    r = subprocess.run(["node", "router_breadth.mjs"] + list(args),
                       cwd=NODE_DIR, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


PRICE_NAMES = ("input_micros_per_mtok", "cached_input_micros_per_mtok",
               "cache_write_input_micros_per_mtok", "output_micros_per_mtok",
               "request_fee_micros")


@pytest.fixture
def priced(tollgate, db, fake):
    """The test catalog plus a model whose name has '/' and ':', priced
    apart from the free ones."""
    cat = catalog(fake, extra=[{
        "name": "or", "family": "openai", "base_url": fake.base_url(),
        "api_key_required": False, "models": [
            {"name": "openai/gpt-4o:free", "max_output_tokens": 700,
             "context_length": 64000}]}],
        aliases={"smart": ["or:openai/gpt-4o:free", "fake:m"]})
    t = tollgate(env=router_env(cat))
    key, uid, key_id = seed_key(db)
    set_price(db, "or:openai/gpt-4o:free", 1250000, 5000000, cached=625000,
              fee=3, cache_write=1500000)
    return t, key, uid, key_id


def test_model_detail_with_prices(priced, db):
    t, key, _, _ = priced
    want = {"input_micros_per_mtok": 1250000,
            "cached_input_micros_per_mtok": 625000,
            "cache_write_input_micros_per_mtok": 1500000,
            "output_micros_per_mtok": 5000000, "request_fee_micros": 3}
    # As the admin price API shows it, to the micro-credit.
    admin = db.query("SELECT " + ", ".join(PRICE_NAMES) + " FROM "
                     "model_prices_current WHERE model = %s",
                     "or:openai/gpt-4o:free")[0]
    assert dict(zip(PRICE_NAMES, admin)) == want

    for path in ("/v1/models/or:openai/gpt-4o:free",
                 "/v1/models/or%3Aopenai%2Fgpt-4o%3Afree",
                 "/v1/models/or/openai/gpt-4o:free"):
        r = t.get(path, headers=auth(key))
        assert r.status_code == 200, (path, r.text)
        m = r.json()
        assert m["id"] == "or:openai/gpt-4o:free"
        assert m["object"] == "model" and m["owned_by"] == "or"
        assert isinstance(m["created"], int)
        assert m["pricing"] == want
        assert m["context_length"] == 64000
        assert m["max_output_tokens"] == 700
        assert m["endpoints"] == ["/v1/chat/completions", "/v1/messages",
                                  "/v1/responses",
                                  "/v1/messages/count_tokens"]

    # Unknown limits are null; embeddings models serve /v1/embeddings.
    m = t.get("/v1/models/fake:e", headers=auth(key)).json()
    assert m["context_length"] is None and m["max_output_tokens"] is None
    assert m["endpoints"] == ["/v1/embeddings"]
    assert m["pricing"]["output_micros_per_mtok"] == 0

    # An alias: the price of the first target it would call.
    m = t.get("/v1/models/smart", headers=auth(key)).json()
    assert m["owned_by"] == "tollgate" and m["pricing"] == want

    # The list carries the same objects.
    listed = {x["id"]: x for x in t.get("/v1/models",
                                        headers=auth(key)).json()["data"]}
    assert listed["or:openai/gpt-4o:free"] == \
        t.get("/v1/models/or:openai/gpt-4o:free", headers=auth(key)).json()
    assert listed["smart"]["pricing"] == want


def test_model_detail_not_found(priced, db):
    t, key, uid, _ = priced
    for path in ("/v1/models/nope:x", "/v1/models/fake:nope",
                 "/v1/models/nokey:y",         # its provider has no key
                 "/v1/models/%zz", "/v1/models/a%00b"):
        r = t.get(path, headers=auth(key))
        assert_error(r, 404, "model_not_found")
    assert t.get("/v1/models/fake:m").status_code == 401

    # A key limited to some models sees only those.
    limited, _, _ = seed_key(db, user_id=uid, allowed_models=["fake:*"])
    assert t.get("/v1/models/fake:m",
                 headers=auth(limited)).status_code == 200
    assert_error(t.get("/v1/models/or:openai/gpt-4o:free",
                       headers=auth(limited)), 404, "model_not_found")


def test_models_retrieve_with_the_openai_sdk(priced):
    t, key, _, _ = priced
    out = node("retrieve", t.url + "/v1", key, "or:openai/gpt-4o:free")
    assert out["model"]["id"] == "or:openai/gpt-4o:free", out
    assert out["model"]["pricing"]["request_fee_micros"] == 3
    out = node("retrieve", t.url + "/v1", key, "nope:x")
    assert out["error"]["status"] == 404, out


def test_api_models_for_a_session(priced):
    t, key, _, _ = priced
    token = session.dev_login(t, "picker@example.com")
    r = t.get("/api/models", headers=session.bearer(token))
    assert r.status_code == 200, r.text
    ids = {m["id"]: m for m in r.json()["data"]}
    assert ids["or:openai/gpt-4o:free"]["pricing"][
        "output_micros_per_mtok"] == 5000000
    assert "smart" in ids and "echo:echo-1" in ids
    assert "nokey:y" not in ids
    # An API key is not a session there.
    assert t.get("/api/models", headers=auth(key)).status_code == 401


def v1_credits(t, key):
    r = t.get("/v1/credits", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def api_credits(t, token):
    r = t.get("/api/credits", headers=session.bearer(token))
    assert r.status_code == 200, r.text
    return r.json()


def test_v1_credits_matches_api_credits(tollgate, db, fake):
    t = tollgate(env=router_env(catalog(fake)))
    token = session.dev_login(t, "wallet@example.com")
    uid = session.user_id(t, token)
    key, _, key_id = seed_key(db, user_id=uid, spend_limit_micros=900000)
    other, _, _ = seed_key(db, user_id=uid)
    set_price(db, "fake:m", 1000000, 3000000, fee=7)
    grant(db, uid, 5000000)

    before = v1_credits(t, key)
    assert before == {"balance_micros": 5000000, "reserved_micros": 0,
                      "available_micros": 5000000,
                      "key": {"id": key_id, "spent_micros": 0,
                              "spend_limit_micros": 900000}}
    assert {k: before[k] for k in ("balance_micros", "reserved_micros",
                                   "available_micros")} == \
        api_credits(t, token)

    r = t.post("/v1/chat/completions", headers=auth(key), json={
        "model": "fake:m", "messages": [user("what does it cost")]})
    assert r.status_code == 200, r.text
    charged = int(r.headers["x-tollgate-cost-micros"])
    assert charged > 7

    # Settlement may be batched: wait until the ledger has it. The
    # account's balance lease may stay open (reserved) until it idles out.
    deadline = time.time() + 10
    while True:
        after = v1_credits(t, key)
        if after["key"]["spent_micros"] == charged and \
                after["balance_micros"] == 5000000 - charged:
            break
        assert time.time() < deadline, after
        time.sleep(0.05)
    assert after["available_micros"] == \
        after["balance_micros"] - after["reserved_micros"]
    # The two routes agree (read again when a lease moved in between).
    for _ in range(20):
        after = v1_credits(t, key)
        mine = {k: after[k] for k in ("balance_micros", "reserved_micros",
                                      "available_micros")}
        if mine == api_credits(t, token):
            break
        time.sleep(0.05)
    assert mine == api_credits(t, token)
    rows = t.get("/api/usage/requests",
                 headers=session.bearer(token)).json()["data"]
    assert rows[0]["cost_micros"] == charged

    # Another key of the same user: same wallet, its own spend, no limit.
    o = v1_credits(t, other)
    assert o["balance_micros"] == after["balance_micros"]
    assert o["key"]["spent_micros"] == 0
    assert o["key"]["spend_limit_micros"] is None

    assert t.get("/v1/credits").status_code == 401
    assert t.get("/v1/credits",
                 headers=session.bearer(token)).status_code == 401
