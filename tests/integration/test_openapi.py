"""docs/openapi.yaml describes every route, and GET /openapi.json serves
it: every route of the route tables is in the document and every route of
the document is in the running binary, with the same methods; the answers
of the integration tests agree with its schemas (conftest.py,
lib/openapi.py), which this file also checks can fail."""

import json

import requests
import yaml
from jsonschema import Draft202012Validator

from lib import auth, openapi

# Named in the contract, built by another change; the document has them
# already. Remove an entry once its route is in the tables.
PENDING = set()


def test_every_route_in_the_tables_is_documented_and_back():
    tables = openapi.routes_in_sources()
    documented = openapi.spec_routes()
    assert len(tables) > 40
    assert tables - documented == set(), "routes missing from the spec"
    assert documented - tables - PENDING == set(), \
        "documented routes that do not exist"


def test_the_document_is_valid_openapi_3_1():
    spec = openapi.spec()
    assert spec["openapi"] == "3.1.0"
    for name, schema in spec["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    ids = [op["operationId"] for item in spec["paths"].values()
           for m, op in item.items() if m in openapi.METHODS]
    assert len(ids) == len(set(ids))
    for p, item in spec["paths"].items():
        for m, op in item.items():
            if m in openapi.METHODS:
                assert op["responses"], (m, p)


def _concrete(path):
    path = path.replace("{provider}", "github")
    path = path.replace("{model}", "echo:echo-1")
    return openapi.re.sub(r"\{[^}]*\}", "x", path)


def test_the_binary_has_the_documented_methods(tollgate):
    """The running server's 405 Allow lists each path's methods: the same
    as the document's (GET with HEAD)."""
    server = tollgate()
    for path, item in openapi.spec()["paths"].items():
        want = {m.upper() for m in openapi.METHODS if m in item and
                (m.upper(), openapi.norm(path)) not in PENDING}
        if not want:
            continue
        r = requests.request("OPTIONS", server.url + _concrete(path),
                             timeout=30)
        assert r.status_code == 405, (path, r.status_code, r.text)
        allow = {m.strip() for m in r.headers["allow"].split(",")}
        if "GET" in want:
            want.add("HEAD")
        assert allow == want, path


def test_openapi_json_is_the_document(tollgate):
    server = tollgate(env={"TOLLGATE_CORS_ORIGINS": "https://app.example"})
    r = requests.get(server.url + "/openapi.json",
                     headers={"Origin": "https://app.example"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    with open(openapi.SPEC_PATH) as f:
        assert r.json() == yaml.safe_load(f)
    assert requests.head(server.url + "/openapi.json",
                         timeout=30).status_code == 200


class _Answer:
    def __init__(self, status, body, ctype="application/json"):
        self.status_code = status
        self.content = json.dumps(body).encode()
        self.headers = {"content-type": ctype}


def test_the_check_finds_disagreements(tollgate):
    server = tollgate()
    token = auth.dev_login(server, "spec@example.com")
    r = requests.get(server.url + "/api/me", headers=auth.bearer(token),
                     timeout=30)
    url = server.url + "/api/me"
    assert openapi.check("GET", url, r) is None
    me = r.json()

    bad = dict(me, available_micros="12")
    assert "available_micros" in openapi.check("GET", url, _Answer(200, bad))
    missing = {k: v for k, v in me.items() if k != "identities"}
    assert "identities" in openapi.check("GET", url, _Answer(200, missing))
    # An error answer in another shape, and an undocumented status.
    assert openapi.check("GET", url, _Answer(401, {"error": "no"}))
    assert "not documented" in openapi.check(
        "POST", server.url + "/auth/logout", _Answer(200, {}))
    # A JSON body where the document has none.
    assert "documents none" in openapi.check(
        "POST", server.url + "/auth/logout", _Answer(204, {}))
    # Another server's answers are not ours to check.
    assert openapi.check("GET", "http://127.0.0.1:1/api/me",
                         _Answer(200, {})) is None
