"""Reload on SIGHUP (docs/operations.md, "Reload"): every worker reads
TOLLGATE_ROUTER_CONFIG and every X_FILE value again; a file with an error
is refused with the error in the log and the old configuration kept; a
call in flight finishes on the configuration it started with."""

import json
import os
import signal
import threading
import time

import requests

from fakes.openai_fake import FakeReply
from fakes.stripe_fake import StripeFake, stripe_id
from lib import auth as authlib
from lib import billing
from lib.router import (FAKE_KEY, auth, catalog, fake, router_env,  # noqa
                        seed_key, sse_request, user, write_catalog)

WORKERS = 2


def rewrite(path, text):
    """Replace the file's content in place (same path, as an operator's
    editor or a secret store would)."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def secret_file(t, name, text):
    path = os.path.join(t.workdir, name)
    rewrite(path, text)
    return path


def hup(t, outcome, count=WORKERS, timeout=10):
    """SIGHUP to the parent (Kore passes it on to every worker); waits
    until count more workers logged outcome ("reloaded" or "refused")."""
    needle = "configuration reloaded" if outcome == "reloaded" else \
        "refused, the configuration in use stays"
    before = t.log().count(needle)
    t.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if t.log().count(needle) >= before + count:
            return
        time.sleep(0.05)
    raise AssertionError("no %d x %r in:\n%s" % (count, needle, t.log()))


def chat(t, key, model, **kw):
    """One call on a new connection: with TOLLGATE_ACCEPT_THRESHOLD=1 the
    workers take turns, so a few calls reach every worker."""
    return requests.post(t.url + "/v1/chat/completions", timeout=30,
                         headers=dict(auth(key), connection="close"),
                         json={"model": model, "messages": [user("hi")]},
                         **kw)


def upstream_auth(fake):
    h = fake.requests[-1]["headers"]
    return {k.lower(): v for k, v in h.items()}["authorization"]


def statuses(t, key, model, n=6):
    return [chat(t, key, model).status_code for _ in range(n)]


def test_good_router_file_adds_an_alias_on_every_worker(tollgate, db, fake):
    cat = catalog(fake)
    env = router_env(cat)
    t = tollgate(env=env, workers=WORKERS)
    key, _, _ = seed_key(db)
    assert set(statuses(t, key, "fresh")) == {404}

    cat["aliases"]["fresh"] = "echo:echo-1"
    rewrite(env["TOLLGATE_ROUTER_CONFIG"], json.dumps(cat))
    t0 = time.time()
    hup(t, "reloaded")
    assert time.time() - t0 <= 1.0, "reload took over a second"
    assert set(statuses(t, key, "fresh")) == {200}
    r = chat(t, key, "fresh")
    assert r.json()["choices"][0]["message"]["content"] == "echo: hi"
    # The old aliases are still there, and the log says what was loaded.
    assert set(statuses(t, key, "default")) == {200}
    assert "configuration reloaded (router: 5 providers" in t.log()

    # /v1/models lists it too.
    r = requests.get(t.url + "/v1/models", headers=auth(key), timeout=30)
    assert "fresh" in [m["id"] for m in r.json()["data"]]


def test_bad_router_file_is_refused_and_the_old_one_kept(tollgate, db, fake):
    cat = catalog(fake)
    env = router_env(cat)
    t = tollgate(env=env, workers=WORKERS)
    key, _, _ = seed_key(db)
    path = env["TOLLGATE_ROUTER_CONFIG"]

    # Not JSON at all.
    rewrite(path, '{"providers": [')
    hup(t, "refused")
    # JSON, but wrong: one good alias beside an alias to nowhere. Nothing
    # of it is taken (all or nothing), not even the good alias.
    bad = catalog(fake, aliases={"fresh": "echo:echo-1",
                                 "broken": "nowhere:model"})
    rewrite(path, json.dumps(bad))
    hup(t, "refused")
    lines = [ln for ln in t.log().splitlines() if "refused" in ln]
    assert len(lines) == 2 * WORKERS, t.log()
    assert all("TOLLGATE_ROUTER_CONFIG" in ln for ln in lines), lines
    assert any("broken" in ln for ln in lines), lines

    assert set(statuses(t, key, "default")) == {200}
    assert set(statuses(t, key, "chain")) == {200}
    assert set(statuses(t, key, "fresh")) == {404}

    # Fixed: taken at the next SIGHUP.
    del bad["aliases"]["broken"]
    rewrite(path, json.dumps(bad))
    hup(t, "reloaded")
    assert set(statuses(t, key, "fresh")) == {200}


def test_a_stream_started_before_a_reload_finishes_on_the_old_config(
        tollgate, db, fake):
    cat = catalog(fake)
    env = router_env(cat)
    t = tollgate(env=env, workers=1)
    key, _, _ = seed_key(db)
    words = " ".join("w%d" % i for i in range(12))
    fake.script("m", [FakeReply(content=words, event_delay=0.15)])

    reloaded = threading.Event()

    def on_event(sse):
        # After the first content: the reload takes the provider away.
        if len(sse.events) == 2 and not reloaded.is_set():
            reloaded.set()
            gone = catalog(fake)
            gone["providers"] = [p for p in gone["providers"]
                                 if p["name"] not in ("fake", "backup")]
            gone["aliases"] = {"default": "echo:echo-1"}
            rewrite(env["TOLLGATE_ROUTER_CONFIG"], json.dumps(gone))
            hup(t, "reloaded", count=1)

    out = sse_request(t.port, "/v1/chat/completions",
                      {"model": "fake:m", "stream": True,
                       "messages": [user("go")]}, auth(key),
                      on_event=on_event)
    assert reloaded.is_set()
    assert out.status == 200 and out.done(), out.events
    text = "".join((c["choices"][0]["delta"].get("content") or "")
                   for c in out.json_events() if c.get("choices"))
    assert text == words

    # New calls see the new catalog; the process is healthy (and, under
    # the sanitizers, stop() fails the test on any use after free).
    assert chat(t, key, "fake:m").status_code == 404
    assert chat(t, key, "default").status_code == 200


def test_a_rotated_provider_key_file_takes_effect(tollgate, db, fake):
    cat = catalog(fake)
    fake.require_key = "sk-first-0123456789"
    env = router_env(cat, FAKE_API_KEY=None)
    t = tollgate(env=env, workers=WORKERS, wait=False)
    t.env["FAKE_API_KEY_FILE"] = secret_file(t, "fake-key",
                                             "sk-first-0123456789\n")
    t.start()
    key, _, _ = seed_key(db)
    assert set(statuses(t, key, "fake:m")) == {200}
    assert upstream_auth(fake) == "Bearer sk-first-0123456789"

    # The secret store rotates the file, then the upstream the key.
    rewrite(t.env["FAKE_API_KEY_FILE"], "sk-second-0123456789\n")
    fake.require_key = "sk-second-0123456789"
    assert 200 not in statuses(t, key, "fake:m", n=2)
    hup(t, "reloaded")
    assert set(statuses(t, key, "fake:m")) == {200}
    assert upstream_auth(fake) == "Bearer sk-second-0123456789"
    assert "1 values from files" in t.log()

    # A file that went missing is refused; the key in use stays.
    os.unlink(t.env["FAKE_API_KEY_FILE"])
    hup(t, "refused")
    assert "FAKE_API_KEY_FILE" in t.log()
    assert set(statuses(t, key, "fake:m")) == {200}


def test_a_rotated_webhook_secret_file_takes_effect(tollgate, db):
    stripe = StripeFake()
    try:
        old = stripe.webhook_secret
        new = stripe_id("whsec_", 32)
        env = stripe.env()
        env.pop("TOLLGATE_STRIPE_WEBHOOK_SECRET")
        t = tollgate(env=env, workers=WORKERS, wait=False)
        path = secret_file(t, "whsec", old + "\n")
        t.env["TOLLGATE_STRIPE_WEBHOOK_SECRET_FILE"] = path
        t.start()

        def deliver(secret):
            user_id = billing.seed_user(db)
            p = billing.seed_payment(db, user_id)
            sid = stripe.new_session(p["payment_id"], p["price_minor"],
                                     p["currency"])
            billing.attach_session(db, p["payment_id"], sid)
            s = stripe.pay(sid)
            return [stripe.send(t, stripe.session_completed(s),
                                secret=secret).status_code
                    for _ in range(WORKERS)]

        assert deliver(old) == [200] * WORKERS
        # Rolling: the new secret first, the old one still accepted.
        rewrite(path, new + "," + old + "\n")
        hup(t, "reloaded")
        assert deliver(new) == [200] * WORKERS
        assert deliver(old) == [200] * WORKERS
        # Rolled: the old one is refused.
        rewrite(path, new)
        hup(t, "reloaded")
        assert deliver(old) == [400] * WORKERS
        assert deliver(new) == [200] * WORKERS
    finally:
        stripe.stop()


def test_jwt_secret_rotation_through_a_file(tollgate, db):
    old = "old-jwt-secret-0123456789abcdef0123456789"
    new = "new-jwt-secret-0123456789abcdef0123456789"
    t = tollgate(env={"TOLLGATE_JWT_SECRET": None}, workers=WORKERS,
                 wait=False)
    path = secret_file(t, "jwt", old + "\n")
    t.env["TOLLGATE_JWT_SECRET_FILE"] = path
    t.start()

    def me(token):
        return [requests.get(t.url + "/api/me", timeout=30, headers={
            "authorization": "Bearer " + token,
            "connection": "close"}).status_code for _ in range(4)]

    def kid(token):
        return json.loads(authlib.b64url_decode(token.split(".")[0]))["kid"]

    before = authlib.dev_login(t, "rotate@example.com")
    assert me(before) == [200] * 4

    rewrite(path, new + "," + old + "\n")
    hup(t, "reloaded")
    # Nobody is signed out by the rotation ...
    assert me(before) == [200] * 4
    # ... and new tokens are signed with the new secret, named by kid.
    after = authlib.dev_login(t, "rotate@example.com")
    assert kid(after) != kid(before)
    assert old not in kid(after) and new not in kid(after)
    assert me(after) == [200] * 4

    # Once the old secret is dropped, its tokens stop working.
    rewrite(path, new + "\n")
    hup(t, "reloaded")
    assert me(before) == [401] * 4
    assert me(after) == [200] * 4

    # A bad list (a short secret) is refused; the one in use stays.
    rewrite(path, new + ",short\n")
    hup(t, "refused")
    assert "TOLLGATE_JWT_SECRET: secret 2" in t.log()
    assert me(after) == [200] * 4
