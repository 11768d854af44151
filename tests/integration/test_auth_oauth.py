"""Identity: OAuth sign-in with Google, GitHub and Kakao against fake
providers speaking the real wire formats (tests/fakes/).

Whole flows per provider (start -> provider -> callback -> cookie ->
refresh -> /api/me), linking, and every attack on the flow that
docs/auth.md's "Security notes" name (CSRF, code injection, replay,
forged id tokens, unverified emails): each is refused with the contract's
error shape and leaves no session (checked in the database)."""

import hashlib
import time
import urllib.parse

import pytest
import requests

from fakes.github import FakeGitHub
from fakes.google import FakeGoogle
from fakes.kakao import FakeKakao
from fakes.oauth_base import RSAKey, b64url, make_jwt
from lib import auth
from lib.errors import assert_error as err

UI = "http://127.0.0.1:9/app"


def count(db, table, where="true", *args):
    return db.query("SELECT count(*) FROM %s WHERE %s" % (table, where),
                    *args)[0][0]


@pytest.fixture
def google():
    f = FakeGoogle().start()
    yield f
    f.stop()


@pytest.fixture
def github():
    f = FakeGitHub().start()
    yield f
    f.stop()


@pytest.fixture
def kakao():
    f = FakeKakao().start()
    yield f
    f.stop()


@pytest.fixture
def fakes(google, github, kakao):
    return {"google": google, "github": github, "kakao": kakao}


@pytest.fixture
def tg(tollgate, fakes):
    env = {"TOLLGATE_UI_URL": UI}
    for f in fakes.values():
        env.update(f.env())
    return tollgate(env=env)


class Flow:
    """One browser (a cookie jar) going through a sign-in."""

    def __init__(self, server, fake, browser=None):
        self.server = server
        self.fake = fake
        self.b = browser or requests.Session()

    def start(self, return_to="/", link=None, headers=None):
        params = {"return_to": return_to}
        if link is not None:
            params["link"] = link
        self.start_r = self.b.get(
            self.server.url + "/auth/%s/start" % self.fake.name,
            params=params, headers=headers or {}, allow_redirects=False,
            timeout=30)
        return self.start_r

    def authorize(self):
        assert self.start_r.status_code == 302, self.start_r.text
        r = self.b.get(self.start_r.headers["Location"],
                       allow_redirects=False, timeout=30)
        assert r.status_code == 302, r.text
        self.callback_url = r.headers["Location"]
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(
            self.callback_url).query)
        self.code = q.get("code", [None])[0]
        self.state = q.get("state", [None])[0]
        return r

    def callback(self, url=None, browser=None):
        self.callback_r = (browser or self.b).get(
            url or self.callback_url, allow_redirects=False, timeout=30)
        return self.callback_r

    def run(self, return_to="/"):
        self.start(return_to)
        self.authorize()
        return self.callback()

    def refresh(self):
        return self.b.post(self.server.url + "/auth/refresh",
                           headers={"X-Tollgate-CSRF": "1"}, timeout=30)

    def callback_url_with(self, **params):
        u = urllib.parse.urlsplit(self.callback_url)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
        q.update(params)
        q = {k: v for k, v in q.items() if v is not None}
        return urllib.parse.urlunsplit(u._replace(
            query=urllib.parse.urlencode(q)))


def sign_in(server, fake):
    """A whole flow; returns (flow, access token, /api/me)."""
    f = Flow(server, fake)
    r = f.run("/dashboard?tab=keys")
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == UI + "/dashboard?tab=keys"
    rr = f.refresh()
    assert rr.status_code == 200, rr.text
    token = rr.json()["access_token"]
    me = server.get("/api/me", headers=auth.bearer(token))
    assert me.status_code == 200, me.text
    return f, token, me.json()


def no_session(db):
    assert count(db, "sessions") == 0
    assert count(db, "refresh_tokens") == 0


# --- whole flows ---------------------------------------------------------

@pytest.mark.parametrize("provider", ["google", "github", "kakao"])
def test_whole_flow(tg, db, fakes, provider):
    fake = fakes[provider]
    f = Flow(tg, fake)
    r = f.start("/dashboard?tab=keys")
    assert r.status_code == 302, r.text
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert "%s://%s%s" % (loc.scheme, loc.netloc, loc.path) == \
        fake.url + fake.authorize_path
    q = {k: v[0] for k, v in urllib.parse.parse_qs(loc.query).items()}
    assert q["client_id"] == fake.client_id
    assert q["redirect_uri"] == tg.url + "/auth/%s/callback" % provider
    assert q["response_type"] == "code"
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43 and len(q["state"]) == 43
    assert ("nonce" in q) == (provider != "github")

    # The flow cookie binds the flow to this browser; only hashes stored.
    value, attrs = auth.set_cookies(r)["tg_oauth"]
    assert len(value) == 43 and "httponly" in attrs
    assert attrs["samesite"] == "Lax" and attrs["path"] == "/auth"
    assert int(attrs["max-age"]) <= 600
    flows = db.query("SELECT encode(state_hash, 'hex'), "
                     "encode(binding_hash, 'hex'), code_verifier, return_to, "
                     "expires_at - now() FROM oauth_flows")
    assert len(flows) == 1
    assert q["state"] not in str(flows) and value not in str(flows)
    assert flows[0][3] == "/dashboard?tab=keys"
    assert flows[0][4].total_seconds() <= 600

    f.authorize()
    r = f.callback()
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == UI + "/dashboard?tab=keys"
    cookies = auth.set_cookies(r)
    assert cookies["tg_oauth"][1]["max-age"] == "0"
    rt, attrs = cookies["tg_refresh"]
    assert len(rt) == 43 and "httponly" in attrs
    assert attrs["samesite"] == "Lax" and attrs["path"] == "/auth"
    assert count(db, "oauth_flows") == 0

    # What tollgate sent the token endpoint: our verifier, same redirect.
    tr = fake.token_requests[-1]
    assert tr["redirect_uri"] == q["redirect_uri"]
    assert b64url(hashlib.sha256(tr["code_verifier"].encode()).digest()) \
        == q["code_challenge"]

    rr = f.refresh()
    assert rr.status_code == 200, rr.text
    me = tg.get("/api/me", headers=auth.bearer(rr.json()["access_token"]))
    assert me.status_code == 200, me.text
    me = me.json()
    assert me["identities"] == [{
        "provider": provider,
        "subject": str(fake.user.get("sub", fake.user.get("id"))),
        "email": fake.user.get("email") or
        fake.user["emails"][0]["email"]}]
    assert me["email"] == me["identities"][0]["email"]
    assert me["profile"]["display_name"] == (
        fake.user.get("name") or fake.user.get("nickname"))
    assert me["profile"]["avatar_url"] == (
        fake.user.get("picture") or fake.user.get("avatar_url") or
        fake.user.get("profile_image_url"))
    assert count(db, "users") == 1 and count(db, "sessions") == 1

    # The same provider account again: the same user, a new session.
    _, _, me2 = sign_in(tg, fake)
    assert me2["id"] == me["id"]
    assert count(db, "users") == 1 and count(db, "sessions") == 2


def test_providers_list(tg, tollgate, github):
    r = tg.get("/auth/providers")
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and body["next_cursor"] is None
    assert [p["id"] for p in body["data"]] == ["google", "github", "kakao"]
    only = tollgate(env=github.env())
    assert [p["id"] for p in only.get("/auth/providers").json()["data"]] \
        == ["github"]
    err(only.get("/auth/google/start", allow_redirects=False), 404,
        "not_found")
    err(only.get("/auth/naver/start", allow_redirects=False), 404,
        "not_found")
    err(only.get("/auth/google/callback?state=x&code=y"), 404, "not_found")


def test_signup_grant_for_social_user(tollgate, db, github):
    env = dict(github.env(), TOLLGATE_UI_URL=UI,
               TOLLGATE_SIGNUP_CREDITS_MICROS="2500000")
    t = tollgate(env=env)
    _, _, me = sign_in(t, github)
    assert me["available_micros"] == 2500000
    _, _, me = sign_in(t, github)
    assert me["available_micros"] == 2500000
    assert count(db, "ledger_transactions") == 1


# --- state, cookie, code and PKCE attacks --------------------------------

def test_callback_without_state(tg, db, github):
    f = Flow(tg, github)
    f.start()
    f.authorize()
    err(f.callback(f.callback_url_with(state=None)), 400, "invalid_state")
    err(f.callback(f.callback_url_with(state="x" * 43)), 400,
        "invalid_state")
    assert github.token_requests == []
    no_session(db)


def test_callback_without_flow_cookie(tg, db, github):
    f = Flow(tg, github)
    f.start()
    f.authorize()
    # Another browser (no flow cookie) follows the callback link.
    err(f.callback(browser=requests.Session()), 400, "invalid_state")
    assert github.token_requests == []
    no_session(db)


def test_login_csrf_other_browser_cookie(tg, db, github):
    # The attacker's flow (A) finished at the provider; the victim (B) has
    # a flow cookie of their own. B's browser gets A's callback link.
    a = Flow(tg, github)
    a.start()
    a.authorize()
    b = Flow(tg, github)
    b.start()
    err(a.callback(browser=b.b), 400, "invalid_state")
    assert github.token_requests == []
    no_session(db)
    # A's flow was consumed by the refused attempt: it is gone for good.
    err(a.callback(), 400, "invalid_state")
    assert github.token_requests == []
    no_session(db)


def test_state_is_single_use(tg, db, github):
    f = Flow(tg, github)
    f.start()
    f.authorize()
    cookie = f.b.cookies.get("tg_oauth")
    assert f.callback().status_code == 302
    assert len(github.token_requests) == 1
    sessions = count(db, "sessions")
    # Replay with the original cookie: refused before the code is redeemed.
    r = requests.get(f.callback_url, cookies={"tg_oauth": cookie},
                     allow_redirects=False, timeout=30)
    err(r, 400, "invalid_state")
    assert len(github.token_requests) == 1
    assert count(db, "sessions") == sessions


def test_code_reuse_refused_by_provider(tg, db, github):
    first = Flow(tg, github)
    first.run()
    assert first.callback_r.status_code == 302
    second = Flow(tg, github)
    second.start()
    second.authorize()
    # The new flow carrying the already-redeemed code of the first.
    r = second.callback(second.callback_url_with(code=first.code))
    err(r, 400, "invalid_grant")
    assert count(db, "sessions") == 1


# A provider's refusal text as a hostile or broken provider might send
# it: a forged log line after CR LF, terminal escapes, a bell, and raw
# bytes that are not UTF-8 (a stray byte, an overlong '/', a surrogate).
DIRTY_DESCRIPTION = (b"code already used\\r\\nrid=x sign-in via google: "
                     b"user admin\\u001b[2J\\u0007 \xff\xfe \xc0\xaf "
                     b"\xed\xa0\x80 end")
CLEAN_DESCRIPTION = ("code already used  rid=x sign-in via google: user "
                     "admin?[2J? ?? ?? ??? end")


def log_bytes(server):
    with open(server.logpath, "rb") as f:
        return f.read()


def assert_clean_log(server):
    """Every line tollgate wrote is valid UTF-8 without control
    characters (the sanitizers' reports go elsewhere)."""
    text = log_bytes(server).decode("utf-8")  # strict: raises if not
    for line in text.split("\n"):
        assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f
                       for c in line), repr(line)


@pytest.mark.parametrize("provider", ["google", "kakao"])
def test_code_reuse_refused_by_oidc_provider(tg, db, fakes, provider):
    # Google and Kakao refuse a used code with HTTP 400 invalid_grant
    # (GitHub with 200, above): the same 400 invalid_grant, never a 500,
    # and what the provider said reaches the log only cleaned.
    fake = fakes[provider]
    fake.error_description = DIRTY_DESCRIPTION
    first = Flow(tg, fake)
    first.run()
    assert first.callback_r.status_code == 302
    second = Flow(tg, fake)
    second.start()
    second.authorize()
    r = second.callback(second.callback_url_with(code=first.code))
    e = err(r, 400, "invalid_grant")
    assert e["param"] == "code"
    assert "(invalid_grant)" in e["message"], e
    assert count(db, "sessions") == 1
    assert fake.token_requests[-1]["code"] == first.code

    lines = [ln for ln in log_bytes(tg).split(b"\n")
             if b"sign-in refused: code not redeemed" in ln]
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        b": invalid_grant: " + CLEAN_DESCRIPTION.encode()), lines[0]
    assert_clean_log(tg)


@pytest.mark.parametrize("answer", [
    (400, b"<html><body>Bad Request\x00\xff</body></html>", "status 400"),
    (401, b'{"error":"invalid_client\\u001b[0m\xc3"}', "invalid_client?[0m?"),
    (403, b"", "status 403"),
])
def test_token_endpoint_refusal_shapes(tg, db, google, answer):
    # Whatever a refusing token endpoint sends (HTML with NUL and stray
    # bytes, a broken error code, nothing): 400 invalid_grant with a
    # clean error code, and a clean log.
    status, body, shown = answer
    google.token_error = lambda error, _status: (
        status, {"Content-Type": "application/json"}, body)
    f = Flow(tg, google)
    f.start()
    f.authorize()
    f.callback(f.callback_url_with(code="not-a-code"))
    e = err(f.callback_r, 400, "invalid_grant")
    assert "(%s)" % shown in e["message"], e
    no_session(db)
    assert b"sign-in refused: code not redeemed: " + shown.encode() in \
        log_bytes(tg)
    assert_clean_log(tg)


def test_provider_error_in_redirect_is_cleaned(tg, db, github):
    # The error code a provider puts in its redirect is shown and logged:
    # bytes that are not UTF-8 must not turn the answer into a 500.
    f = Flow(tg, github)
    f.start()
    f.authorize()
    url = f.callback_url_with(code=None) + "&error=denied%FF%C0%AF%E2%80%AE"
    r = f.callback(url)
    e = err(r, 400, "provider_error")
    assert "(denied????)" in e["message"], e
    assert github.token_requests == []
    no_session(db)
    assert b"sign-in refused: provider error: denied????" in log_bytes(tg)
    assert_clean_log(tg)


def test_code_injection_fails_pkce(tg, db, github):
    # A code obtained in the attacker's flow (their PKCE challenge) is
    # injected into the victim's callback (victim's state and cookie).
    attacker = Flow(tg, github)
    attacker.start()
    attacker.authorize()
    victim = Flow(tg, github)
    victim.start()
    victim.authorize()
    r = victim.callback(victim.callback_url_with(code=attacker.code))
    err(r, 400, "invalid_grant")
    assert len(github.token_requests) == 1
    no_session(db)


def test_expired_flow(tg, db, github):
    f = Flow(tg, github)
    f.start()
    f.authorize()
    db.query("UPDATE oauth_flows SET expires_at = now() - interval '1 s'")
    err(f.callback(), 400, "invalid_state")
    assert github.token_requests == []
    no_session(db)


def test_provider_denies(tg, db, github):
    github.deny = True
    f = Flow(tg, github)
    f.start()
    f.authorize()
    assert "error=access_denied" in f.callback_url
    err(f.callback(), 400, "access_denied")
    assert github.token_requests == []
    assert count(db, "oauth_flows") == 0
    no_session(db)
    assert count(db, "users") == 0


@pytest.mark.parametrize("return_to", [
    "//evil.example/x", "/\\evil.example", "https://evil.example/",
    "http://127.0.0.1:9/app", "evil", "/%2F%2Fevil.example",
    "%2F%2Fevil.example", "/%5Cevil", "/\t/evil.example", "",
    "/%252F%252Fevil", "/a\r\nSet-Cookie: x=y",
])
def test_return_to_must_stay_on_ui(tg, db, github, return_to):
    url = tg.url + "/auth/github/start?return_to=" + urllib.parse.quote(
        return_to, safe="%/:")
    r = requests.get(url, allow_redirects=False, timeout=30)
    e = err(r, 400, "invalid_value")
    assert e["param"] == "return_to"
    assert "location" not in r.headers
    assert count(db, "oauth_flows") == 0


def test_token_endpoint_failures(tg, db, github, google):
    github.token_status = 500
    f = Flow(tg, github)
    f.start()
    f.authorize()
    err(f.callback(), 502, "upstream_error")
    no_session(db)
    f = Flow(tg, google)
    f.start()
    f.authorize()
    google.stop()
    err(f.callback(), 502, "upstream_error")
    no_session(db)


def test_client_gone_while_waiting_on_provider(tg, db, github):
    # The browser gives up while tollgate waits on the token endpoint:
    # the request and its outbound call are released cleanly (checked by
    # the sanitizer build at stop) and the worker keeps serving.
    github.token_delay = 2
    f = Flow(tg, github)
    f.start()
    f.authorize()
    with pytest.raises(requests.exceptions.ReadTimeout):
        f.b.get(f.callback_url, allow_redirects=False, timeout=0.5)
    time.sleep(2.5)
    github.token_delay = 0
    assert tg.get("/healthz").status_code == 200
    no_session(db)
    sign_in(tg, github)


# --- id token attacks (Google and Kakao) ----------------------------------

def hook_claims(**changes):
    def hook(header, claims):
        c = dict(claims)
        for k, v in changes.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v(c) if callable(v) else v
        return header, c, None
    return hook


def hook_alg_none(header, claims):
    return {"alg": "none", "typ": "JWT"}, claims, b""


def hook_header(**h):
    def hook(header, claims):
        return dict(header, **h), claims, None
    return hook


ID_TOKEN_ATTACKS = {
    "wrong_aud": hook_claims(aud="another-client"),
    "aud_list_without_azp": hook_claims(
        aud=lambda c: [c["aud"], "another-client"], azp=None),
    "wrong_azp": hook_claims(azp="another-client"),
    "wrong_iss": hook_claims(iss=lambda c: c["iss"] + ".evil"),
    "evil_iss": hook_claims(iss="https://evil.example"),
    "expired": hook_claims(iat=lambda c: c["iat"] - 7200,
                           exp=lambda c: c["iat"] - 3600),
    "iat_future": hook_claims(iat=lambda c: c["iat"] + 3600,
                              exp=lambda c: c["exp"] + 3600),
    "no_exp": hook_claims(exp=None),
    "wrong_nonce": hook_claims(nonce="not-the-flow-nonce"),
    "no_nonce": hook_claims(nonce=None),
    "no_sub": hook_claims(sub=None),
    "alg_none": hook_alg_none,
    "alg_hs256": hook_header(alg="HS256"),
    "alg_rs512": hook_header(alg="RS512"),
    "crit": hook_header(crit=["exp"]),
}


@pytest.mark.parametrize("provider", ["google", "kakao"])
@pytest.mark.parametrize("attack", sorted(ID_TOKEN_ATTACKS))
def test_id_token_attacks(tg, db, fakes, provider, attack):
    fake = fakes[provider]
    fake.id_token_hook = ID_TOKEN_ATTACKS[attack]
    f = Flow(tg, fake)
    f.run()
    err(f.callback_r, 400, "invalid_id_token")
    no_session(db)
    assert count(db, "users") == 0


@pytest.mark.parametrize("provider", ["google", "kakao"])
def test_id_token_bad_signature(tg, db, fakes, provider):
    fake = fakes[provider]
    # Same kid as the published key, signed by another key.
    fake.sign_key = RSAKey(kid=fake.keys[0].kid)
    err(Flow(tg, fake).run(), 400, "invalid_id_token")
    fake.sign_key = None

    # A genuine signature over other claims: sub changed afterwards.
    def tamper(header, claims):
        signing = make_jwt(header, claims, signature=b"").rsplit(".", 1)[0]
        return header, dict(claims, sub="someone-else"), \
            fake.keys[0].sign(signing.encode())
    fake.id_token_hook = tamper
    err(Flow(tg, fake).run(), 400, "invalid_id_token")
    no_session(db)


@pytest.mark.parametrize("provider", ["google", "kakao"])
def test_id_token_hs256_with_public_key(tg, db, fakes, provider):
    # HS/RS confusion: an HS256 token MACed with the provider's public key.
    import hmac as _hmac
    fake = fakes[provider]
    pem = fake.keys[0].public_pem()

    def hook(header, claims):
        h = dict(header, alg="HS256")
        signing = make_jwt(h, claims, signature=b"").rsplit(".", 1)[0]
        return h, claims, _hmac.new(pem, signing.encode(),
                                    hashlib.sha256).digest()
    fake.id_token_hook = hook
    err(Flow(tg, fake).run(), 400, "invalid_id_token")
    no_session(db)


def test_jwks_cached_refetched_for_new_key_and_rate_limited(tg, db, google):
    sign_in(tg, google)
    assert google.hits["/oauth2/v3/certs"] == 1
    sign_in(tg, google)
    assert google.hits["/oauth2/v3/certs"] == 1     # cached

    # A kid nobody published: one refetch, then refused.
    time.sleep(5.2)
    google.sign_key = RSAKey()
    err(Flow(tg, google).run(), 400, "invalid_id_token")
    assert google.hits["/oauth2/v3/certs"] == 2
    # Again at once: no new fetch (rate limit), refused.
    err(Flow(tg, google).run(), 400, "invalid_id_token")
    assert google.hits["/oauth2/v3/certs"] == 2

    # Google rotates: the new key is published and used.
    time.sleep(5.2)
    new = RSAKey()
    google.keys.append(new)
    google.sign_key = new
    sign_in(tg, google)
    assert google.hits["/oauth2/v3/certs"] == 3
    assert count(db, "users") == 1


def test_jwks_outage(tg, db, google):
    # No keys yet and the JWKS endpoint failing: 502, nothing created.
    google.jwks_status = 503
    err(Flow(tg, google).run(), 502, "upstream_error")
    no_session(db)
    google.jwks_status = None
    sign_in(tg, google)
    # Keys held: a token with a kid we do not know is refused by them
    # (400) when the refresh fails, not turned into a 502.
    time.sleep(5.2)
    google.jwks_status = 500
    google.sign_key = RSAKey()
    err(Flow(tg, google).run(), 400, "invalid_id_token")
    google.sign_key = None
    sign_in(tg, google)
    assert count(db, "sessions") == 2


def test_signin_metrics(tg, github):
    def metric(series):
        values = dict(line.rsplit(" ", 1) for line in
                      tg.get("/metrics").text.splitlines()
                      if line and not line.startswith("#"))
        return int(float(values.get(series, "0")))
    sign_in(tg, github)
    auth.sign_in(tg, "metrics@example.com")
    f = Flow(tg, github)
    f.start()
    f.authorize()
    f.callback(browser=requests.Session())
    assert metric('tollgate_auth_signins_total{provider="github"}') == 1
    assert metric('tollgate_auth_signins_total{provider="dev"}') == 1
    assert metric("tollgate_auth_signins_refused_total") == 1


def test_kakao_user_api_must_match_id_token(tg, db, kakao):
    kakao.me_id = 999
    err(Flow(tg, kakao).run(), 400, "invalid_id_token")
    no_session(db)


def test_kakao_without_oidc(tg, db, kakao):
    kakao.omit_id_token = True
    _, _, me = sign_in(tg, kakao)
    assert me["identities"][0]["subject"] == str(kakao.user["sub"])


def test_google_requires_id_token(tg, db, google):
    google.omit_id_token = True
    err(Flow(tg, google).run(), 502, "upstream_error")
    no_session(db)


# --- identities, emails, admin ---------------------------------------------

def test_provider_profile_data_is_checked(tg, db, github, kakao):
    github.user = dict(github.user, name="evil\u202egnp.exe",
                       avatar_url="http://insecure.example/a.png")
    _, _, me = sign_in(tg, github)
    assert me["profile"]["display_name"] is None
    assert me["profile"]["avatar_url"] is None
    kakao.user = dict(kakao.user, nickname="x" * 200)
    _, _, me = sign_in(tg, kakao)
    assert me["profile"]["display_name"] == "x" * 80


def test_matching_email_never_takes_over(tg, db, fakes):
    email = "shared@gmail.com"
    fakes["github"].user["emails"] = [{"email": email, "primary": True,
                                       "verified": True,
                                       "visibility": "public"}]
    _, _, victim = sign_in(tg, fakes["github"])
    # Another provider asserting the same (verified) email.
    fakes["google"].user = dict(fakes["google"].user, email=email,
                                email_verified=True, sub="attacker-sub")
    _, _, other = sign_in(tg, fakes["google"])
    assert other["id"] != victim["id"]
    rows = db.query("SELECT provider FROM identities WHERE user_id = %s",
                    victim["id"])
    assert rows == [("github",)]
    # Nor a dev-login user with that email.
    s = auth.sign_in(tg, email)
    assert s.user_id not in (victim["id"], other["id"])
    assert count(db, "users") == 3


def test_admin_only_from_verified_emails(tollgate, db, fakes):
    env = {"TOLLGATE_UI_URL": UI, "TOLLGATE_ADMIN_EMAILS":
           "boss@gmail.com,boss@corp.example,boss@kakao.example"}
    for f in fakes.values():
        env.update(f.env())
    t = tollgate(env=env)
    gh, g, k = fakes["github"], fakes["google"], fakes["kakao"]

    gh.user["emails"] = [{"email": "boss@gmail.com", "primary": True,
                          "verified": False, "visibility": "public"},
                         {"email": "other@example.com", "primary": False,
                          "verified": True, "visibility": None}]
    _, _, me = sign_in(t, gh)
    assert me["is_admin"] is False and me["email"] == "boss@gmail.com"
    assert db.query("SELECT email_verified FROM users WHERE id = %s",
                    me["id"]) == [(False,)]

    # Google: verified, but Google is not authoritative for corp.example
    # without hd; with hd it is.
    g.user = dict(g.user, sub="g1", email="boss@corp.example",
                  email_verified=True)
    _, _, me = sign_in(t, g)
    assert me["is_admin"] is False
    g.user = dict(g.user, sub="g2", hd="corp.example")
    _, _, me = sign_in(t, g)
    assert me["is_admin"] is True
    g.user = dict(g.user, sub="g3", email="boss@gmail.com",
                  email_verified=False)
    g.user.pop("hd")
    _, _, me = sign_in(t, g)
    assert me["is_admin"] is False

    k.user = dict(k.user, email="boss@kakao.example", is_email_valid=True,
                  is_email_verified=False)
    _, _, me = sign_in(t, k)
    assert me["is_admin"] is False
    k.user = dict(k.user, sub=4000000001, is_email_verified=True)
    _, _, me = sign_in(t, k)
    assert me["is_admin"] is True

    gh.user = dict(gh.user, id=77, emails=[{
        "email": "boss@gmail.com", "primary": True, "verified": True,
        "visibility": "public"}])
    _, _, me = sign_in(t, gh)
    assert me["is_admin"] is True


# --- linking ---------------------------------------------------------------

def test_link_second_provider_from_session(tg, db, github, google):
    s = auth.sign_in(tg, "linker@example.com")
    f = Flow(tg, github)
    r = f.start("/settings", link="1", headers=auth.bearer(s.access_token))
    assert r.status_code == 302, r.text
    f.authorize()
    r = f.callback()
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == UI + "/settings"
    assert "tg_refresh" not in auth.set_cookies(r)     # no new session
    assert count(db, "sessions") == 1
    me = tg.get("/api/me", headers=auth.bearer(s.access_token)).json()
    assert [i["provider"] for i in me["identities"]] == ["dev", "github"]

    # Signing in with GitHub now lands in the same account.
    _, _, me2 = sign_in(tg, github)
    assert me2["id"] == s.user_id

    # Linking with the refresh cookie (a browser navigating to start).
    b = requests.Session()
    b.cookies.set("tg_refresh", s.refresh_token, domain="127.0.0.1",
                  path="/auth")
    f = Flow(tg, google, browser=b)
    assert f.start("/", link="1").status_code == 302
    f.authorize()
    assert f.callback().status_code == 302
    me = tg.get("/api/me", headers=auth.bearer(s.access_token)).json()
    assert [i["provider"] for i in me["identities"]] == ["dev", "github",
                                                          "google"]


def test_link_identity_of_another_user_conflicts(tg, db, github):
    _, _, owner = sign_in(tg, github)
    b = auth.sign_in(tg, "bystander@example.com")
    f = Flow(tg, github)
    assert f.start("/", link="1",
                   headers=auth.bearer(b.access_token)).status_code == 302
    f.authorize()
    err(f.callback(), 409, "identity_in_use")
    rows = db.query("SELECT user_id::text, provider FROM identities "
                    "ORDER BY created_at")
    assert rows == [(owner["id"], "github"), (b.user_id, "dev")]


def test_link_needs_a_live_session(tg, db, github):
    r = requests.get(tg.url + "/auth/github/start?link=1",
                     allow_redirects=False, timeout=30)
    err(r, 401, "invalid_token")
    s = auth.sign_in(tg, "gone@example.com")
    assert auth.logout(tg, token=s.access_token).status_code == 204
    r = requests.get(tg.url + "/auth/github/start?link=1",
                     headers=auth.bearer(s.access_token),
                     allow_redirects=False, timeout=30)
    err(r, 401, "invalid_token")
    r = requests.get(tg.url + "/auth/github/start?link=1",
                     cookies={"tg_refresh": s.refresh_token},
                     allow_redirects=False, timeout=30)
    err(r, 401, "invalid_token")
    r = requests.get(tg.url + "/auth/github/start?link=yes",
                     allow_redirects=False, timeout=30)
    err(r, 400, "invalid_value")
    assert count(db, "oauth_flows") == 0


def test_link_needs_a_refresh_token_that_would_still_refresh(tg, db,
                                                             github):
    """A refresh token opens a link flow only when /auth/refresh would
    take it: a spent one (replaced more than the grace window ago) is a
    stolen copy as far as we can tell, and an idle session is over. Else
    the holder of an old cookie could attach their own GitHub account to
    the victim's user for good."""
    def start(rt):
        return requests.get(tg.url + "/auth/github/start?link=1",
                            cookies={"tg_refresh": rt},
                            allow_redirects=False, timeout=30)

    s = auth.sign_in(tg, "spent.cookie@example.com")
    r = auth.refresh(tg, s.refresh_token)
    assert r.status_code == 200, r.text
    current = auth.set_cookies(r)["tg_refresh"][0]
    # Within the grace window the replaced token still counts (as for
    # /auth/refresh: a lost answer, a second tab).
    assert start(s.refresh_token).status_code == 302
    db.query("UPDATE sessions SET rotated_at = now() - interval '1 minute'")
    db.query("DELETE FROM oauth_flows")
    err(start(s.refresh_token), 401, "invalid_token")
    assert count(db, "oauth_flows") == 0
    assert start(current).status_code == 302

    db.query("DELETE FROM oauth_flows")
    db.query("UPDATE sessions SET idle_expires_at = now() - interval '1 s'")
    err(start(current), 401, "invalid_token")
    assert count(db, "oauth_flows") == 0
