"""Fixtures for the integration tests.

  pg          the session's private PostgreSQL (migrated template inside)
  db          a fresh database for this test: .name, .url, .query(sql, *args)
  tollgate    a factory: tollgate(env={...}, workers=N) starts the real
              binary on a free port against `db` (or db_url=...); every
              instance is stopped at the end of the test
  server      one running instance with the default test settings

Every answer tollgate gives in the test files of lib.openapi.CHECKED is
checked against docs/openapi.yaml (TOLLGATE_OPENAPI_CHECK=all: in every
test file); a disagreement fails the test.
"""

import os
import sys

import pytest
import requests

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                "..")))

from lib.pg import Database, PgCluster  # noqa: E402
from lib.server import Tollgate  # noqa: E402
from lib import openapi  # noqa: E402


@pytest.fixture(scope="session")
def pg():
    cluster = PgCluster()
    cluster.start()
    try:
        cluster.create_template()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def db(pg):
    if not pg.running:
        pg.start()
    name = pg.new_db()
    yield Database(pg, name)
    if not pg.running:
        pg.start()
    pg.drop_db(name)


@pytest.fixture
def tollgate(db):
    started = []

    def start(env=None, workers=1, db_url=None, args=None, user=None,
              wait=True, hosts=None):
        e = {"TOLLGATE_WORKERS": str(workers)}
        e.update(env or {})
        t = Tollgate(db_url or db.url, env=e, args=args, user=user,
                     hosts=hosts)
        started.append(t)
        openapi.servers.append(t)
        if wait:
            t.start()
        return t

    yield start
    del openapi.servers[:]
    errors = []
    for t in started:
        try:
            t.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))


@pytest.fixture
def server(tollgate):
    return tollgate()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """TOLLGATE_TESTS_STRICT=1 (CI): a skipped test is a failure, so a
    missing tool (node, chromium, root) can't quietly hide a test."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("TOLLGATE_TESTS_STRICT") == "1" and report.skipped:
        report.outcome = "failed"
        report.longrepr = "skipped under TOLLGATE_TESTS_STRICT=1: %s" % (
            report.longrepr,)


@pytest.fixture(autouse=True)
def openapi_check(request, monkeypatch):
    """Answers that disagree with docs/openapi.yaml fail the test."""
    if not openapi.enabled(os.path.basename(str(request.node.fspath))):
        yield
        return
    seen = []
    send = requests.Session.send

    def checked_send(self, prepared, **kw):
        r = send(self, prepared, **kw)
        if not kw.get("stream"):
            err = openapi.check(prepared.method, prepared.url, r)
            if err is not None:
                seen.append(err)
        return r

    monkeypatch.setattr(requests.Session, "send", checked_send)
    yield
    if seen:
        pytest.fail("answers disagree with docs/openapi.yaml:\n" +
                    "\n".join(sorted(set(seen))[:30]), pytrace=False)
