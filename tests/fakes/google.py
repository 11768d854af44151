"""A fake Google (OIDC) for the sign-in tests: authorize, token (with an
RS256 id token signed by the fake's own key) and the JWKS, as Google's
endpoints speak them (developers.google.com/identity/openid-connect).

    g = FakeGoogle().start()
    g.user = {"sub": "1089", "email": "ann@gmail.com",
              "email_verified": True, "name": "Ann", "picture": "https://..."}
    tollgate(env=g.env())
"""

from fakes.oauth_base import FakeOAuthProvider, OIDCMixin


class FakeGoogle(OIDCMixin, FakeOAuthProvider):
    name = "google"
    authorize_path = "/o/oauth2/v2/auth"
    token_path = "/token"
    access_prefix = "ya29."
    requires_response_type = True

    def __init__(self, **kw):
        super().__init__(**kw)
        self.init_oidc()
        self.issuer = self.url
        self.user = {"sub": "108234567890123456789", "email": "ann@gmail.com",
                     "email_verified": True, "name": "Ann Example",
                     "picture": "https://lh3.googleusercontent.com/a/ann"}

    def env(self):
        return {
            "TOLLGATE_GOOGLE_CLIENT_ID": self.client_id,
            "TOLLGATE_GOOGLE_CLIENT_SECRET": self.client_secret,
            "TOLLGATE_GOOGLE_AUTHORIZE_URL": self.url + self.authorize_path,
            "TOLLGATE_GOOGLE_TOKEN_URL": self.url + self.token_path,
            "TOLLGATE_GOOGLE_USERINFO_URL": self.url + "/v1/userinfo",
            "TOLLGATE_GOOGLE_JWKS_URL": self.url + "/oauth2/v3/certs",
            "TOLLGATE_GOOGLE_ISSUER": self.issuer,
        }

    def token_answer(self, access, c):
        u = c["user"]
        extra = {"azp": self.client_id, "at_hash": "x" * 22}
        for k in ("email", "email_verified", "name", "picture", "hd"):
            if k in u:
                extra[k] = u[k]
        out = {"access_token": access, "expires_in": 3599,
               "scope": c["scope"], "token_type": "Bearer"}
        if not self.omit_id_token:
            out["id_token"] = self.id_token(c, extra)
        return out

    def route(self, method, path, query, headers, body):
        if path == "/oauth2/v3/certs":
            return self.jwks_answer({"Cache-Control":
                                     "public, max-age=20000"})
        if path == "/v1/userinfo":
            c = self.bearer_user(headers)
            if c is None:
                return 401, {}, {"error": "invalid_token"}
            return 200, {}, dict(c["user"])
        return 404, {}, {"error": "not_found"}
