"""A fake GitHub for the sign-in tests: the OAuth app endpoints
(/login/oauth/authorize, /login/oauth/access_token; errors answered with
status 200 as GitHub does) and the REST API's GET /user and
GET /user/emails (a User-Agent is required, as on api.github.com).

    gh = FakeGitHub().start()
    gh.user = {"id": 583231, "login": "octocat", "name": "The Octocat",
               "avatar_url": "https://avatars.githubusercontent.com/u/583231",
               "emails": [{"email": "octo@example.com", "primary": True,
                           "verified": True, "visibility": "public"}]}
    tollgate(env=gh.env())
"""

from fakes.oauth_base import FakeOAuthProvider


class FakeGitHub(FakeOAuthProvider):
    name = "github"
    authorize_path = "/login/oauth/authorize"
    token_path = "/login/oauth/access_token"
    access_prefix = "gho_"
    requires_response_type = False

    def __init__(self, **kw):
        super().__init__(**kw)
        self.user = {"id": 583231, "login": "octocat",
                     "name": "The Octocat",
                     "avatar_url":
                         "https://avatars.githubusercontent.com/u/583231",
                     "emails": [{"email": "octocat@example.com",
                                 "primary": True, "verified": True,
                                 "visibility": "public"}]}
        self.api_requests = []

    def env(self):
        return {
            "TOLLGATE_GITHUB_CLIENT_ID": self.client_id,
            "TOLLGATE_GITHUB_CLIENT_SECRET": self.client_secret,
            "TOLLGATE_GITHUB_AUTHORIZE_URL": self.url + self.authorize_path,
            "TOLLGATE_GITHUB_TOKEN_URL": self.url + self.token_path,
            "TOLLGATE_GITHUB_API_URL": self.url + "/api",
        }

    def user_for(self, q):
        u = dict(self.user)
        if q.get("login"):  # the HTML sign-in form's username
            u["login"] = q["login"]
        return u

    def token_error(self, error, status):
        # GitHub answers OAuth errors with 200 and an error object.
        if error == "invalid_grant":
            error = "bad_verification_code"
        return self.error_answer(200, {"error": error, "error_uri":
                                       "https://docs.github.com/"})

    def token_answer(self, access, c):
        return {"access_token": access, "token_type": "bearer",
                "scope": "read:user,user:email"}

    def route(self, method, path, query, headers, body):
        self.api_requests.append((path, dict(headers)))
        if not path.startswith("/api/"):
            return 404, {}, {"message": "Not Found"}
        if not headers.get("User-Agent"):
            return 403, {}, {"message": "Request forbidden by "
                             "administrative rules. Please make sure your "
                             "request has a User-Agent header"}
        c = self.bearer_user(headers)
        if c is None:
            return 401, {}, {"message": "Bad credentials"}
        u = c["user"]
        if path == "/api/user":
            return 200, {}, {k: u.get(k) for k in (
                "id", "login", "name", "avatar_url")} | {
                "email": None, "type": "User"}
        if path == "/api/user/emails":
            return 200, {}, u.get("emails", [])
        return 404, {}, {"message": "Not Found"}
