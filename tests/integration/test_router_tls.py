"""A tollgate running as a non-root user with seccomp on reaches an
HTTPS upstream by a host name that goes through the resolver (curl's
threaded resolver starts a thread: clone3/rseq under glibc 2.36), and
verifies its certificate against TOLLGATE_CA_FILE."""

import os
import shutil
import tempfile

import pytest

from fakes.openai_fake import FakeOpenAI, make_cert
from lib.router import (Router, assemble, assert_error, catalog,
                        router_env, seed_key)
from lib.server import private_binary


# Resolved from the private /etc/hosts the test server gets (lib.server):
# through glibc's resolver, not curl's shortcut for "localhost".
HOST = "upstream.tollgate.test"
HOSTS = {HOST: "127.0.0.1"}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_https_upstream_by_hostname_unprivileged_with_seccomp(db, tollgate):
    host = HOST
    certdir = tempfile.mkdtemp(prefix="tg-cert-")
    cert, key = make_cert(certdir, names=(host, "localhost"))
    f = FakeOpenAI(tls=(cert, key)).start()
    binary = None
    try:
        cat = catalog(f, base_url=f.base_url(host), retries=0)
        binary = private_binary()

        t = tollgate(env=router_env(cat, TOLLGATE_CA_FILE=cert),
                     user="tollgate", wait=False, hosts=HOSTS)
        t.binary = binary
        t.start()
        assert "seccomp sandbox enabled" in t.log()
        k, _, _ = seed_key(db)
        r = Router(t, k, f)
        workers = t.pids()

        a = r.chat({"model": "fake:m", "messages": [
            {"role": "user", "content": "over tls"}]})
        assert a.status_code == 200, a.text + t.log()
        assert a.json()["choices"][0]["message"]["content"] == \
            "fake: over tls"
        s = r.stream({"model": "fake:m", "stream": True, "messages": [
            {"role": "user", "content": "streamed tls"}]})
        assert s.done()
        assert assemble(s.json_events())["choices"][0]["message"][
            "content"] == "fake: streamed tls"
        assert f.requests[-1]["headers"]["Host"].startswith(host)
        assert "sandbox violation" not in t.log()
        assert t.pids() == workers
        t.stop()

        # Without the CA the certificate is refused: verification is on.
        t2 = tollgate(env=router_env(cat), user="tollgate", wait=False,
                      hosts=HOSTS)
        t2.binary = binary
        t2.start()
        r2 = Router(t2, k, f)
        assert_error(r2.chat({"model": "fake:m", "messages": [
            {"role": "user", "content": "x"}]}), 502, "upstream_error")
        assert "sandbox violation" not in t2.log()
    finally:
        f.stop()
        shutil.rmtree(certdir, ignore_errors=True)
        if binary is not None:
            shutil.rmtree(os.path.dirname(binary), ignore_errors=True)
