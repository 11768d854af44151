"""allowed_models on a key, enforced on every router surface: chat,
embeddings, messages and the models listing (docs/contract.md §4, §5, §7).

The router calls tg_model_allowed() with the principal the keys module
fills; this proves the patterns a key is created (and patched) with are
the ones enforced, with two built-in echo providers so no upstream is
needed. Skipped while the binary has no router routes."""

import json
import os
import tempfile
import time

import pytest
import requests

from lib import auth
from lib.keys import poll_until_refused, seed_key, warm
from lib.router import free_models

ROUTER_JSON = {
    "providers": [
        {"name": "echo", "family": "echo", "models": [
            {"name": "echo-1", "max_output_tokens": 4096},
            {"name": "echo-embed", "chat": False, "embeddings": True}]},
        {"name": "other", "family": "echo", "models": [
            {"name": "echo-1", "max_output_tokens": 4096},
            {"name": "echo-embed", "chat": False, "embeddings": True}]},
    ],
    "aliases": {"default": "echo:echo-1", "embed": "other:echo-embed"},
}


@pytest.fixture
def router(tollgate, db):
    # Unpriced models are refused (docs/contract.md §6); these are free.
    free_models(db, ["echo:echo-1", "echo:echo-embed", "other:echo-1",
                     "other:echo-embed"])
    d = tempfile.mkdtemp(prefix="tg-keys-router-")
    path = os.path.join(d, "router.json")
    with open(path, "w") as f:
        json.dump(ROUTER_JSON, f)
    server = tollgate(env={"TOLLGATE_ROUTER_CONFIG": path})
    if server.get("/v1/models").status_code == 404:
        pytest.skip("no router routes in this build yet")
    return server


def call(server, key, path, body, anthropic=False):
    h = {"content-type": "application/json"}
    if anthropic:
        h["x-api-key"] = key
        h["anthropic-version"] = "2023-06-01"
    else:
        h["authorization"] = "Bearer " + key
    return requests.post(server.url + path, data=json.dumps(body),
                         headers=h, timeout=30)


def chat(server, key, model):
    return call(server, key, "/v1/chat/completions", {
        "model": model, "max_tokens": 16,
        "messages": [{"role": "user", "content": "hello"}]})


def embed(server, key, model):
    return call(server, key, "/v1/embeddings", {"model": model,
                                                "input": "hello"})


def messages(server, key, model):
    return call(server, key, "/v1/messages", {
        "model": model, "max_tokens": 16,
        "messages": [{"role": "user", "content": "hello"}]}, anthropic=True)


def listed(server, key):
    r = requests.get(server.url + "/v1/models",
                     headers={"authorization": "Bearer " + key}, timeout=30)
    assert r.status_code == 200, r.text
    return {m["id"] for m in r.json()["data"]}


def refused(r, anthropic=False):
    assert r.status_code == 403, r.text
    if anthropic:
        assert r.json()["type"] == "error"
        assert r.json()["error"]["type"] == "permission_error"
    else:
        assert r.json()["error"]["code"] == "model_not_allowed"


def allowed(r):
    # 402 would be the ledger's verdict, not the key's.
    assert r.status_code in (200, 402), r.text


def test_no_patterns_allow_everything(router, db):
    key, _, _ = seed_key(db)
    allowed(chat(router, key, "other:echo-1"))
    allowed(embed(router, key, "echo:echo-embed"))
    assert {"echo:echo-1", "other:echo-1", "echo:echo-embed",
            "other:echo-embed"} <= listed(router, key)


def test_provider_pattern_on_all_four_routes(router, db):
    key, _, _ = seed_key(db, allowed_models=["echo:*"])
    allowed(chat(router, key, "echo:echo-1"))
    allowed(chat(router, key, "echo/echo-1"))
    refused(chat(router, key, "other:echo-1"))
    allowed(embed(router, key, "echo:echo-embed"))
    refused(embed(router, key, "other:echo-embed"))
    ids = listed(router, key)
    assert {"echo:echo-1", "echo:echo-embed"} <= ids
    assert not any(i.startswith("other:") for i in ids)
    assert "embed" not in ids          # its only target is not allowed


def test_exact_model_and_alias_patterns(router, db):
    key, _, _ = seed_key(db, allowed_models=["other:echo-embed", "default"])
    allowed(chat(router, key, "default"))
    refused(chat(router, key, "other:echo-1"))
    allowed(embed(router, key, "other:echo-embed"))
    allowed(embed(router, key, "embed"))     # its target is allowed
    refused(embed(router, key, "echo:echo-embed"))
    ids = listed(router, key)
    assert "other:echo-embed" in ids and "default" in ids
    assert "echo:echo-1" not in ids and "other:echo-1" not in ids


def test_patterns_set_through_the_api_are_enforced(router, db):
    token = auth.dev_login(router, "models@example.com")
    r = router.post("/api/keys", json={"name": "m",
                                       "allowed_models": ["other:*"]},
                    headers=auth.bearer(token))
    assert r.status_code == 201, r.text
    key, kid = r.json()["key"], r.json()["id"]
    refused(chat(router, key, "echo:echo-1"))
    allowed(chat(router, key, "other:echo-1"))

    r = router.patch("/api/keys/" + kid, json={"allowed_models": ["echo:*"]},
                     headers=auth.bearer(token))
    assert r.status_code == 200
    time.sleep(0.5)
    allowed(chat(router, key, "echo:echo-1"))
    refused(chat(router, key, "other:echo-1"))
    refused(embed(router, key, "other:echo-embed"))
    assert not any(i.startswith("other:") for i in listed(router, key))


def test_messages_surface(router, db):
    if requests.post(router.url + "/v1/messages",
                     timeout=10).status_code == 404:
        pytest.skip("no /v1/messages route in this build yet")
    key, _, _ = seed_key(db, allowed_models=["echo:*", "default"])
    allowed(messages(router, key, "echo:echo-1"))
    allowed(messages(router, key, "default"))
    refused(messages(router, key, "other:echo-1"), anthropic=True)
    none, _, _ = seed_key(db)
    allowed(messages(router, none, "other:echo-1"))


def test_revocation_on_router_routes(router, db, tollgate):
    key, _, kid = seed_key(db)
    b = tollgate(env={"TOLLGATE_ROUTER_CONFIG":
                      router.env["TOLLGATE_ROUTER_CONFIG"]}, workers=2)
    warm([b], key, 2, path="/v1/models")
    allowed(chat(b, key, "echo:echo-1"))
    db.query("UPDATE api_keys SET revoked_at = now() WHERE id = %s", kid)
    poll_until_refused([router, b], key, time.time(), [1, 2],
                       path="/v1/models")
    r = chat(b, key, "echo:echo-1")
    assert r.status_code == 401 and \
        r.json()["error"]["code"] == "invalid_api_key"
