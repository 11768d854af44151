"""docs/openapi.yaml against the server.

    routes_in_sources()   {(METHOD, "/pattern/{}")} of every route table
    spec_routes()         the same, from the document
    check(method, url, response)
                          None when the answer agrees with the document
                          (its status is documented for that operation and
                          a JSON body matches the schema), else a line
                          saying how it does not

conftest.py checks every answer of a tollgate under test against the
document in the test files of CHECKED (TOLLGATE_OPENAPI_CHECK=all: every
test file) and fails the test on any disagreement."""

import glob
import json
import os
import re
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator

from lib.server import ROOT

SPEC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")
METHODS = ("get", "put", "post", "delete", "patch")

# Test files whose answers are checked (conftest.py).
CHECKED = {
    "test_cors.py", "test_openapi.py", "test_keys_api.py",
    "test_credits_api.py", "test_profiles_me.py", "test_admin_tokens.py",
    "test_admin_users.py", "test_auth_session.py", "test_router_echo.py",
    "test_admin_refund.py", "test_admin_audit.py",
    "test_router_breadth.py", "test_router_count_tokens.py",
    "test_router_responses.py", "test_console.py",
}

# Tollgate instances of the running test (conftest.py registers them).
servers = []

_spec = None
_templates = None


def spec():
    global _spec
    if _spec is None:
        with open(SPEC_PATH) as f:
            _spec = yaml.safe_load(f)
    return _spec


def norm(path):
    return re.sub(r"\{[^}/]*\}", "{}", path)


def routes_in_sources():
    """Every (method, pattern) of the modules' tg_route tables."""
    pat = re.compile(r'\{\s*(HTTP_METHOD_[A-Z]+(?:\s*\|\s*HTTP_METHOD_'
                     r'[A-Z]+)*)\s*,\s*"(/[^"]*)"')
    out = set()
    for path in glob.glob(os.path.join(ROOT, "app", "**", "*.c"),
                          recursive=True):
        with open(path) as f:
            text = f.read()
        for methods, pattern in pat.findall(text):
            for m in methods.split("|"):
                out.add((m.strip()[len("HTTP_METHOD_"):], norm(pattern)))
    return out


def spec_routes():
    return {(m.upper(), norm(p)) for p, item in spec()["paths"].items()
            for m in METHODS if m in item}


def _operation(method, path):
    global _templates
    if _templates is None:
        _templates = []
        for p, item in spec()["paths"].items():
            rx = "^" + re.sub(r"\\\{[^}/]*\\\}", "[^/]+", re.escape(p)) + "$"
            # Literal paths win over templated ones (/api/me/profile).
            _templates.append((p.count("{"), re.compile(rx), p, item))
        _templates.sort(key=lambda t: t[0])
    for _, rx, p, item in _templates:
        if rx.match(path) and method in item:
            return p, item[method]
    return None, None


def _resolve(node):
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        parts = node["$ref"].lstrip("#/").split("/")
        node = spec()
        for part in parts:
            node = node[part]
    return node


def _ours(url):
    u = urlsplit(url)
    return u.hostname == "127.0.0.1" and any(
        getattr(s, "port", None) == u.port for s in servers)


def check(method, url, response):
    method = method.lower()
    if method not in METHODS or not _ours(url):
        return None
    path = urlsplit(url).path
    template, op = _operation(method, path)
    if op is None:
        return None         # 404/405 of no route: nothing documented
    status = str(response.status_code)
    # "default" documents errors; a success must be listed by status.
    resp = op["responses"].get(status)
    if resp is None and response.status_code >= 400:
        resp = op["responses"].get("default")
    where = "%s %s -> %s" % (method.upper(), path, status)
    if resp is None:
        return "%s: status not documented for %s" % (where, template)
    resp = _resolve(resp)
    ctype = response.headers.get("content-type", "").split(";")[0].strip()
    if ctype != "application/json":
        return None
    content = resp.get("content", {})
    if "application/json" not in content:
        return "%s: a JSON body where %s documents none" % (where, template)
    schema = dict(content["application/json"].get("schema", {}))
    schema["components"] = spec()["components"]
    try:
        body = json.loads(response.content)
    except ValueError:
        return "%s: the body is not JSON" % where
    errors = sorted(Draft202012Validator(schema).iter_errors(body),
                    key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    return "%s: %s at %s (%s)" % (where, e.message[:200],
                                  "/".join(map(str, e.absolute_path)),
                                  template)


def enabled(filename):
    return os.environ.get("TOLLGATE_OPENAPI_CHECK") == "all" or \
        filename in CHECKED
