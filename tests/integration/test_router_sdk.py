"""The official OpenAI SDK (npm "openai", tests/node) calls tollgate's
/v1/chat/completions, streamed and not, and reads the answers; also a
tool call through the SDK's stream helper, embeddings and the model
list."""

import json
import os
import shutil
import subprocess

import pytest

from lib.router import catalog, fake, router_env, seed_key  # noqa
from lib.server import ROOT

NODE_DIR = os.path.join(ROOT, "tests", "node")


def run_sdk(t, key, **env):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "TG_BASE_URL": t.url + "/v1", "TG_API_KEY": key}
    e.update(env)
    r = subprocess.run(["node", "router_openai.mjs"], cwd=NODE_DIR, env=e,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(shutil.which("node") is None or not os.path.isdir(
    os.path.join(NODE_DIR, "node_modules", "openai")),
    reason="node and tests/node/node_modules are needed")
def test_openai_sdk_against_echo_and_fake(tollgate, db, fake):
    t = tollgate(env=router_env(catalog(fake)))
    key, _, _ = seed_key(db)

    out = run_sdk(t, key)
    assert out["whole"]["content"] == "echo: hello from the sdk"
    assert out["whole"]["finish_reason"] == "stop"
    assert out["whole"]["usage"]["total_tokens"] == 11
    assert out["whole"]["usage"]["cost_micros"] == 0
    assert out["stream"]["content"] == "echo: hello from the sdk"
    assert out["stream"]["finish_reason"] == "stop"
    assert out["stream"]["chunks"] == 8
    assert out["stream"]["usage"]["completion_tokens"] == 5
    assert out["tool"] == {"name": "search",
                           "arguments": "{\"text\":\"echo: find cats\"}"}
    assert out["embedding"]["n"] == 16
    assert -1 <= out["embedding"]["first"] < 1
    assert "echo:echo-1" in out["models"] and "default" in out["models"]
    assert out["missing"] == {"status": 404, "code": "model_not_found",
                              "type": "not_found_error"}

    # The same through an OpenAI-compatible upstream.
    out = run_sdk(t, key, TG_MODEL="chain", TG_EMBED_MODEL="fake:e")
    assert out["whole"]["content"] == "fake: hello from the sdk"
    assert out["stream"]["content"] == "fake: hello from the sdk"
    assert out["stream"]["usage"]["total_tokens"] > 0
    assert out["embedding"]["n"] == 3
