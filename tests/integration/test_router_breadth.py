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
from lib.keys import auth, seed_key  # noqa: E402
from lib.router import (FAKE_KEY, catalog, fake, free_models,  # noqa: E402,F401
                        router_env, user)

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
