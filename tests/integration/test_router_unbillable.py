"""What a client's chat request may carry to an openai-family provider
(docs/router.md, "Request fields"): only the fields of OpenAI's
reference reach it, a client's api_key-like field never does, and
options whose price the price table cannot bill (service_tier other
than auto/default, web search, audio output) are refused with 400
invalid_value naming the field, before any upstream call."""

import pytest

from lib.errors import assert_error
from lib.router import fake, router, user  # noqa: F401

SECRETS = {"api_key": "sk-client-secret-1", "apiKey": "sk-client-secret-2",
           "key": "sk-client-secret-3", "authorization": "Bearer sk-4",
           "openai_api_key": "sk-client-secret-5"}


def test_only_openai_fields_reach_the_provider(router):
    body = {"model": "fake:m", "messages": [user("hi")], "seed": 3,
            "temperature": 0.5, "service_tier": "default", "store": True,
            "provider": {"order": ["dearest"]}, "x_vendor": {"a": 1},
            "models": ["fake:m2"]}
    body.update(SECRETS)
    r = router.chat(body)
    assert r.status_code == 200, r.text
    sent = router.fake.for_model("m")[-1]["body"]
    assert sent["seed"] == 3 and sent["temperature"] == 0.5
    assert sent["service_tier"] == "default"
    dropped = set(SECRETS) | {"store", "provider", "x_vendor", "models"}
    assert dropped.isdisjoint(sent), sorted(dropped & set(sent))
    raw = repr(router.fake.for_model("m")[-1])
    assert "sk-client-secret" not in raw


def test_embeddings_forward_only_their_fields(router):
    r = router.t.post("/v1/embeddings", headers=router.h, json=dict(
        SECRETS, model="fake:e", input="hello", dimensions=8))
    assert r.status_code == 200, r.text
    sent = router.fake.for_model("e")[-1]["body"]
    assert sent["input"] == "hello" and sent["dimensions"] == 8
    assert set(SECRETS).isdisjoint(sent)


@pytest.mark.parametrize("field,value", [
    ("service_tier", "priority"),
    ("service_tier", "flex"),
    ("web_search_options", {"search_context_size": "high"}),
    ("modalities", ["text", "audio"]),
    ("audio", {"voice": "alloy", "format": "wav"}),
])
def test_unbillable_options_are_refused(router, field, value):
    before = len(router.fake.requests)
    r = router.chat({"model": "fake:m", "messages": [user("hi")],
                     field: value})
    assert_error(r, 400, "invalid_value", param=field)
    assert len(router.fake.requests) == before
