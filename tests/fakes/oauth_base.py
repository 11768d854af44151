"""The common part of the fake OAuth providers (tests/fakes/google.py,
github.py, kakao.py): an HTTP server on 127.0.0.1 speaking the real wire
formats of an authorization-code flow with PKCE.

  authorize   GET: checks client_id, redirect_uri, response_type, the S256
              code_challenge; signs in `fake.user` at once (302 back to
              redirect_uri with code and state), or, with login_page=True,
              shows an HTML sign-in form whose POST does the same; with
              deny=True answers error=access_denied.
  token       POST (form): client authentication, single-use codes that
              expire, redirect_uri equal to the authorize one, PKCE
              (SHA-256 of code_verifier equals the challenge).

Each fake counts the hits of every path (fake.hits[path]) and records the
token requests (fake.token_requests) so tests can see what tollgate sent.
Knobs a test may set: user, deny, login_page, token_status (answer the
token endpoint with that HTTP status), token_delay (seconds to wait before
answering it), error_description (the token endpoint's error_description
on a refusal: a str, or bytes put raw between the JSON string's quotes, so
a test can send invalid UTF-8), and per provider more (see there).
"""

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _dispatch(self, method):
        fake = self.server.fake
        u = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with fake.lock:
            fake.hits[u.path] += 1
        try:
            status, headers, out = fake.handle(method, u.path,
                                               urllib.parse.parse_qs(u.query),
                                               self.headers, body)
        except Exception as e:  # a bug in a fake must be visible
            status, headers, out = 500, {}, ("fake error: %r" % e).encode()
        if isinstance(out, (dict, list)):
            out = json.dumps(out).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(out, str):
            out = out.encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")


class FakeOAuthProvider:
    name = "base"
    authorize_path = "/authorize"
    token_path = "/token"

    def __init__(self, client_id=None, client_secret=None):
        self.client_id = client_id or "%s-client-%s" % (
            self.name, secrets.token_hex(4))
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.lock = threading.Lock()
        self.hits = defaultdict(int)
        self.codes = {}
        self.tokens = {}
        self.token_requests = []
        self.authorize_requests = []
        self.user = None
        self.deny = False
        self.login_page = False
        self.token_status = None
        self.token_delay = 0
        self.error_description = None
        self.code_ttl = 600
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- routing -----------------------------------------------------------

    def handle(self, method, path, query, headers, body):
        if path == self.authorize_path and method == "GET":
            return self.authorize(query)
        if path == self.authorize_path + "/approve" and method == "POST":
            form = urllib.parse.parse_qs(body.decode())
            return self.approve({k: v[0] for k, v in form.items()})
        if path == self.token_path and method == "POST":
            return self.token(headers, body)
        return self.route(method, path, query, headers, body)

    def route(self, method, path, query, headers, body):
        return 404, {}, {"message": "Not Found"}

    # --- authorize ----------------------------------------------------------

    def authorize(self, query):
        q = {k: v[0] for k, v in query.items()}
        self.authorize_requests.append(q)
        if q.get("client_id") != self.client_id:
            return 400, {}, "unknown client_id"
        if not q.get("redirect_uri", "").startswith("http"):
            return 400, {}, "bad redirect_uri"
        if self.requires_response_type and q.get("response_type") != "code":
            return 400, {}, "response_type must be code"
        if q.get("code_challenge_method") != "S256" or \
                len(q.get("code_challenge", "")) != 43:
            return 400, {}, "PKCE S256 required"
        if self.deny:
            return self.back(q, {"error": "access_denied",
                                 "error_description": "The user denied"})
        if self.login_page:
            fields = "".join(
                '<input type="hidden" name="%s" value="%s">' % (
                    html.escape(k), html.escape(v)) for k, v in q.items())
            page = ("<!doctype html><title>Sign in to %s</title>"
                    "<h1>Sign in to %s</h1>"
                    "<form method=post action=\"%s/approve\">%s"
                    "<label>Username <input name=login id=login></label>"
                    "<button id=authorize type=submit>Authorize</button>"
                    "</form>" % (self.name, self.name, self.authorize_path,
                                 fields))
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page
        return self.approve(q)

    def approve(self, q):
        code = secrets.token_urlsafe(20)
        with self.lock:
            self.codes[code] = {
                "client_id": q.get("client_id"),
                "redirect_uri": q.get("redirect_uri"),
                "challenge": q.get("code_challenge"),
                "nonce": q.get("nonce"),
                "scope": q.get("scope", ""),
                "user": self.user_for(q),
                "expires": time.time() + self.code_ttl,
                "used": False,
            }
        return self.back(q, {"code": code})

    def user_for(self, q):
        return dict(self.user)

    def back(self, q, params):
        params = dict(params)
        if "state" in q:
            params["state"] = q["state"]
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return 302, {"Location": q["redirect_uri"] + sep +
                     urllib.parse.urlencode(params)}, b""

    # --- token --------------------------------------------------------------

    def token(self, headers, body):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(
            body.decode()).items()}
        self.token_requests.append(form)
        if self.token_delay:
            time.sleep(self.token_delay)
        if self.token_status is not None:
            return self.token_status, {}, {"error": "server_error"}
        cid, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(
                ":")
        if cid != self.client_id or secret != self.client_secret:
            return self.token_error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return self.token_error("unsupported_grant_type", 400)
        with self.lock:
            c = self.codes.get(form.get("code", ""))
            if c is None or c["used"] or c["expires"] < time.time():
                return self.token_error("invalid_grant", 400)
            c["used"] = True
        if c["redirect_uri"] != form.get("redirect_uri"):
            return self.token_error("invalid_grant", 400)
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != \
                c["challenge"]:
            return self.token_error("invalid_grant", 400)
        access = self.access_prefix + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[access] = c
        return 200, {}, self.token_answer(access, c)

    def token_error(self, error, status):
        return self.error_answer(status, {"error": error})

    def error_answer(self, status, fields):
        """An OAuth error answer (RFC 6749 §5.2) with the fields given and
        error_description (see the error_description knob)."""
        desc = self.error_description
        if desc is None:
            desc = "fake says " + fields["error"]
        if isinstance(desc, str):
            return status, {}, dict(fields, error_description=desc)
        body = json.dumps(fields).encode()[:-1]
        body += b', "error_description": "' + desc + b'"}'
        return status, {"Content-Type": "application/json"}, body

    def bearer_user(self, headers):
        auth = headers.get("Authorization", "")
        for scheme in ("Bearer ", "bearer ", "token "):
            if auth.startswith(scheme):
                c = self.tokens.get(auth[len(scheme):])
                if c is not None:
                    return c
        return None


class RSAKey:
    """An RSA key for signing id tokens (RS256), with its JWK. RSAKey()
    makes new key material; RSAKey.default() reuses one key per process
    (with a fresh kid), since generating one takes most of a second."""

    _default = None

    def __init__(self, kid=None, bits=2048, key=None):
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.key = key or rsa.generate_private_key(public_exponent=65537,
                                                   key_size=bits)
        self.kid = kid or secrets.token_hex(8)

    @classmethod
    def default(cls):
        if cls._default is None:
            cls._default = cls().key
        return cls(key=cls._default)

    def jwk(self):
        pub = self.key.public_key().public_numbers()
        n = pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")
        e = pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                "n": b64url(n), "e": b64url(e)}

    def public_pem(self):
        from cryptography.hazmat.primitives import serialization
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def make_jwt(header, claims, key=None, signature=None):
    """header.claims.signature; RS256 with key unless signature is given
    (b"" for alg none)."""
    h = b64url(json.dumps(header, separators=(",", ":")))
    c = b64url(json.dumps(claims, separators=(",", ":")) if
               not isinstance(claims, str) else claims)
    signing = (h + "." + c).encode()
    if signature is None:
        signature = key.sign(signing)
    return h + "." + c + "." + b64url(signature)


class OIDCMixin:
    """id tokens and JWKS for the OIDC fakes (Google, Kakao).

    Knobs: keys (the JWKS served; keys[0] signs), sign_key (sign with this
    RSAKey instead, e.g. one not in the JWKS), id_token_hook(header,
    claims) -> (header, claims, signature or None) to forge anything,
    omit_id_token, jwks_status (answer the JWKS with that status)."""

    def init_oidc(self):
        self.jwks_status = None
        self.keys = [RSAKey.default()]
        self.sign_key = None
        self.id_token_hook = None
        self.omit_id_token = False
        self.issued_id_tokens = []

    def jwks_answer(self, headers=None):
        if self.jwks_status is not None:
            return self.jwks_status, {}, {"error": "unavailable"}
        return 200, dict(headers or {}), {"keys": [k.jwk() for k in
                                                   self.keys]}

    def id_token(self, c, extra):
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id,
                  "sub": str(c["user"]["sub"]), "iat": now,
                  "exp": now + 3600}
        if c.get("nonce"):
            claims["nonce"] = c["nonce"]
        claims.update(extra)
        key = self.sign_key or self.keys[0]
        header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        signature = None
        if self.id_token_hook is not None:
            header, claims, signature = self.id_token_hook(header, claims)
        tok = make_jwt(header, claims, key, signature)
        self.issued_id_tokens.append(tok)
        return tok
