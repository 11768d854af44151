"""A fake Kakao for the sign-in tests: kauth (authorize, token with an
OIDC id token when the scope has openid, JWKS) and kapi's
GET /v2/user/me, in Kakao's formats (developers.kakao.com/docs/latest/
kakaologin/rest-api).

    k = FakeKakao().start()
    k.user = {"sub": 4012345678, "email": "min@kakao.example",
              "is_email_valid": True, "is_email_verified": True,
              "nickname": "Min", "profile_image_url": "https://k.kakaocdn.net/.."}
    tollgate(env=k.env())

Knob: me_id (answer /v2/user/me with another id than the token's sub).
"""

import time

from fakes.oauth_base import FakeOAuthProvider, OIDCMixin


class FakeKakao(OIDCMixin, FakeOAuthProvider):
    name = "kakao"
    authorize_path = "/oauth/authorize"
    token_path = "/oauth/token"
    access_prefix = "kakao-"
    requires_response_type = True

    def __init__(self, **kw):
        super().__init__(**kw)
        self.init_oidc()
        self.issuer = self.url
        self.me_id = None
        self.user = {"sub": 4012345678, "email": "min@kakao.example",
                     "is_email_valid": True, "is_email_verified": True,
                     "nickname": "Min",
                     "profile_image_url":
                         "https://k.kakaocdn.net/dn/min/img_640x640.jpg"}

    def env(self):
        return {
            "TOLLGATE_KAKAO_CLIENT_ID": self.client_id,
            "TOLLGATE_KAKAO_CLIENT_SECRET": self.client_secret,
            "TOLLGATE_KAKAO_AUTHORIZE_URL": self.url + self.authorize_path,
            "TOLLGATE_KAKAO_TOKEN_URL": self.url + self.token_path,
            "TOLLGATE_KAKAO_USERINFO_URL": self.url + "/v2/user/me",
            "TOLLGATE_KAKAO_JWKS_URL": self.url + "/.well-known/jwks.json",
            "TOLLGATE_KAKAO_ISSUER": self.issuer,
        }

    def token_error(self, error, status):
        return self.error_answer(status, {"error": error,
                                          "error_code": "KOE320"})

    def token_answer(self, access, c):
        u = c["user"]
        out = {"token_type": "bearer", "access_token": access,
               "expires_in": 21599, "refresh_token": "r-" + access,
               "refresh_token_expires_in": 5183999,
               "scope": c["scope"]}
        if "openid" in c["scope"].split() and not self.omit_id_token:
            out["id_token"] = self.id_token(c, {
                "auth_time": int(time.time()), "nickname": u.get("nickname"),
                "email": u.get("email")})
        return out

    def route(self, method, path, query, headers, body):
        if path == "/.well-known/jwks.json":
            return self.jwks_answer()
        if path == "/v2/user/me":
            c = self.bearer_user(headers)
            if c is None:
                return 401, {}, {"msg": "this access token does not exist",
                                 "code": -401}
            u = c["user"]
            acct = {"has_email": "email" in u,
                    "email_needs_agreement": False,
                    "profile_nickname_needs_agreement": False,
                    "profile": {"nickname": u.get("nickname"),
                                "profile_image_url":
                                    u.get("profile_image_url"),
                                "is_default_image": False}}
            if "email" in u:
                acct.update({"email": u["email"],
                             "is_email_valid": u.get("is_email_valid"),
                             "is_email_verified":
                                 u.get("is_email_verified")})
            return 200, {}, {"id": self.me_id or int(u["sub"]),
                             "connected_at": "2024-01-01T00:00:00Z",
                             "kakao_account": acct}
        return 404, {}, {"msg": "not found", "code": -404}
