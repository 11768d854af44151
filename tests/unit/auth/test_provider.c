/* Provider specifics: URLs, token requests and answers, identities. */

#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "auth/provider.h"

START_TEST(lookup)
{
	ck_assert_int_eq(auth_provider_lookup("google"), AUTH_GOOGLE);
	ck_assert_int_eq(auth_provider_lookup("github"), AUTH_GITHUB);
	ck_assert_int_eq(auth_provider_lookup("kakao"), AUTH_KAKAO);
	ck_assert_int_eq(auth_provider_lookup("dev"), -1);
	ck_assert_int_eq(auth_provider_lookup("Google"), -1);
	ck_assert_int_eq(auth_provider_lookup(NULL), -1);
	ck_assert(auth_provider_oidc(AUTH_GOOGLE));
	ck_assert(!auth_provider_oidc(AUTH_GITHUB));
}
END_TEST

START_TEST(authorize_url)
{
	struct auth_authorize	 a = {
		"https://accounts.example/auth", "cid 1",
		"https://tg.example/auth/google/callback", "STATE", "CHAL",
		"NONCE"
	};
	char			*u;

	u = auth_authorize_url(AUTH_GOOGLE, &a);
	ck_assert_str_eq(u, "https://accounts.example/auth?response_type=code"
	    "&client_id=cid%201&redirect_uri=https%3A%2F%2Ftg.example%2Fauth"
	    "%2Fgoogle%2Fcallback&scope=openid%20email%20profile&state=STATE"
	    "&code_challenge=CHAL&code_challenge_method=S256&nonce=NONCE");
	free(u);

	a.endpoint = "https://gh.example/authorize?allow_signup=false";
	u = auth_authorize_url(AUTH_GITHUB, &a);
	ck_assert_ptr_nonnull(strstr(u, "?allow_signup=false&response_type="));
	ck_assert_ptr_null(strstr(u, "nonce"));
	ck_assert_ptr_nonnull(strstr(u, "scope=read%3Auser%20user%3Aemail"));
	free(u);
}
END_TEST

START_TEST(token_request)
{
	char	*b;

	b = auth_token_request("id", "s&cret=", "c/d", "https://x/cb", "v");
	ck_assert_str_eq(b, "grant_type=authorization_code&code=c%2Fd&"
	    "redirect_uri=https%3A%2F%2Fx%2Fcb&client_id=id&"
	    "client_secret=s%26cret%3D&code_verifier=v");
	free(b);
}
END_TEST

static int
answer(const char *body, char **at, char **idt, char *err)
{
	return (auth_token_answer(body, strlen(body), at, idt, err, 72));
}

START_TEST(token_answer)
{
	char	*at, *idt, err[72];

	ck_assert(answer("{\"access_token\":\"ya29.x\",\"token_type\":"
	    "\"Bearer\",\"id_token\":\"h.p.s\",\"expires_in\":3599}", &at,
	    &idt, err));
	ck_assert_str_eq(at, "ya29.x");
	ck_assert_str_eq(idt, "h.p.s");
	free(at);
	free(idt);

	ck_assert(answer("{\"access_token\":\"gho_1\",\"token_type\":"
	    "\"bearer\",\"scope\":\"read:user\"}", &at, &idt, err));
	ck_assert_ptr_null(idt);
	free(at);

	/* GitHub's errors come with status 200. */
	ck_assert(!answer("{\"error\":\"bad_verification_code\","
	    "\"error_description\":\"x\"}", &at, &idt, err));
	ck_assert_str_eq(err, "bad_verification_code");
	ck_assert_ptr_null(at);

	ck_assert(!answer("{\"access_token\":\"x\",\"token_type\":\"mac\"}",
	    &at, &idt, err));
	ck_assert(!answer("{\"token_type\":\"bearer\"}", &at, &idt, err));
	ck_assert(!answer("{\"access_token\":\"\"}", &at, &idt, err));
	ck_assert(!answer("{\"access_token\":1}", &at, &idt, err));
	ck_assert(!answer("{\"access_token\":\"a\",\"access_token\":\"b\"}",
	    &at, &idt, err));
	ck_assert(!answer("access_token=x&token_type=bearer", &at, &idt, err));
	ck_assert_str_eq(err, "invalid_answer");
	ck_assert(!auth_token_answer(NULL, 0, &at, &idt, err, sizeof(err)));
}
END_TEST

static void
token_error(const char *body, char *err, size_t errlen, char *desc,
    size_t desclen)
{
	auth_token_error(body, strlen(body), err, errlen, desc, desclen);
}

/* A refusal's text reaches logs and answers only cleaned and bounded. */
START_TEST(token_error_cleaned)
{
	char	err[72], desc[40], long_err[300];

	token_error("{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"Bad Request\"}", err, sizeof(err), desc, sizeof(desc));
	ck_assert_str_eq(err, "invalid_grant");
	ck_assert_str_eq(desc, "Bad Request");

	/* Control characters (JSON escapes) and raw invalid UTF-8. */
	token_error("{\"error\":\"invalid_grant\\u001b[2J\",\"error_description"
	    "\":\"code \xff\xfe used\\r\\nFAKE LOG LINE\\u0007\"}", err,
	    sizeof(err), desc, sizeof(desc));
	ck_assert_str_eq(err, "invalid_grant?[2J");
	ck_assert_str_eq(desc, "code ?? used  FAKE LOG LINE?");

	/* "message" when there is no error_description; bounded. */
	token_error("{\"error\":\"x\",\"message\":\"0123456789012345678901"
	    "23456789012345678901234567890123456789\"}", err, sizeof(err),
	    desc, sizeof(desc));
	ck_assert_uint_eq(strlen(desc), sizeof(desc) - 1);

	/* The error code is cut to AUTH_TOKEN_ERROR_MAX bytes. */
	memset(long_err, 'e', sizeof(long_err));
	memcpy(long_err, "{\"error\":\"", 10);
	memcpy(long_err + sizeof(long_err) - 3, "\"}", 3);
	token_error(long_err, err, sizeof(err), desc, sizeof(desc));
	ck_assert_uint_eq(strlen(err), AUTH_TOKEN_ERROR_MAX);

	/* Not JSON, no error, an empty one, NULL: always filled. */
	memset(err, 0xdc, sizeof(err));
	memset(desc, 0xdc, sizeof(desc));
	token_error("<html>Bad Gateway</html>", err, sizeof(err), desc,
	    sizeof(desc));
	ck_assert_str_eq(err, "invalid_answer");
	ck_assert_str_eq(desc, "");
	token_error("{\"error\":\"\"}", err, sizeof(err), NULL, 0);
	ck_assert_str_eq(err, "invalid_answer");
	memset(err, 0xdc, sizeof(err));
	auth_token_error(NULL, 0, err, sizeof(err), desc, sizeof(desc));
	ck_assert_str_eq(err, "invalid_answer");
	ck_assert_str_eq(desc, "");
}
END_TEST

static int
gh_user(const char *body, struct auth_identity *id)
{
	return (auth_github_user(body, strlen(body), id));
}

START_TEST(github)
{
	struct auth_identity	id;
	const char		*emails;

	ck_assert(gh_user("{\"id\":583231,\"login\":\"octocat\",\"name\":"
	    "\"The Octocat\",\"avatar_url\":\"https://a.example/u/1\"}", &id));
	ck_assert_str_eq(id.subject, "583231");
	ck_assert_str_eq(id.name, "The Octocat");
	ck_assert_str_eq(id.avatar_url, "https://a.example/u/1");
	ck_assert(gh_user("{\"id\":7,\"login\":\"octo\",\"name\":null}", &id));
	ck_assert_str_eq(id.name, "octo");
	ck_assert(!gh_user("{\"id\":\"583231\",\"login\":\"x\"}", &id));
	ck_assert(!gh_user("{\"id\":-1}", &id));
	ck_assert(!gh_user("{\"login\":\"x\"}", &id));
	ck_assert(!gh_user("[]", &id));

	emails = "[{\"email\":\"other@x.com\",\"primary\":false,"
	    "\"verified\":true},{\"email\":\"octo@x.com\",\"primary\":true,"
	    "\"verified\":true}]";
	ck_assert(auth_github_emails(emails, strlen(emails), &id));
	ck_assert_str_eq(id.email, "octo@x.com");
	ck_assert(id.email_verified);

	/* A primary address GitHub has not verified is not verified. */
	emails = "[{\"email\":\"octo@x.com\",\"primary\":true,"
	    "\"verified\":false},{\"email\":\"v@x.com\",\"primary\":false,"
	    "\"verified\":true}]";
	ck_assert(auth_github_emails(emails, strlen(emails), &id));
	ck_assert_str_eq(id.email, "octo@x.com");
	ck_assert(!id.email_verified);

	emails = "[]";
	ck_assert(auth_github_emails(emails, strlen(emails), &id));
	ck_assert_str_eq(id.email, "");
	emails = "{\"message\":\"Bad credentials\"}";
	ck_assert(!auth_github_emails(emails, strlen(emails), &id));
}
END_TEST

START_TEST(kakao)
{
	struct auth_identity	 id;
	const char		*b;

	b = "{\"id\":4012345678,\"kakao_account\":{\"email\":\"m@k.example\","
	    "\"is_email_valid\":true,\"is_email_verified\":true,\"profile\":"
	    "{\"nickname\":\"Min\",\"profile_image_url\":"
	    "\"http://k.example/i.jpg\"}}}";
	ck_assert(auth_kakao_user(b, strlen(b), &id));
	ck_assert_str_eq(id.subject, "4012345678");
	ck_assert_str_eq(id.email, "m@k.example");
	ck_assert(id.email_verified);
	ck_assert_str_eq(id.name, "Min");
	ck_assert_str_eq(id.avatar_url, "");	/* not https: dropped */

	b = "{\"id\":1,\"kakao_account\":{\"email\":\"m@k.example\","
	    "\"is_email_valid\":true,\"is_email_verified\":false}}";
	ck_assert(auth_kakao_user(b, strlen(b), &id));
	ck_assert(!id.email_verified);
	b = "{\"id\":1,\"kakao_account\":{\"email\":\"m@k.example\","
	    "\"is_email_valid\":false,\"is_email_verified\":true}}";
	ck_assert(auth_kakao_user(b, strlen(b), &id));
	ck_assert(!id.email_verified);
	b = "{\"id\":1}";
	ck_assert(auth_kakao_user(b, strlen(b), &id));
	ck_assert_str_eq(id.email, "");
	b = "{\"msg\":\"this access token does not exist\",\"code\":-401}";
	ck_assert(!auth_kakao_user(b, strlen(b), &id));
}
END_TEST

START_TEST(google)
{
	struct auth_identity	 id;
	json_t			*c;

	c = json_loads("{\"sub\":\"1\",\"email\":\"a@gmail.com\","
	    "\"email_verified\":true,\"name\":\"A\",\"picture\":"
	    "\"https://lh3.example/a\"}", 0, NULL);
	ck_assert(auth_google_identity(c, &id));
	ck_assert_str_eq(id.subject, "1");
	ck_assert(id.email_verified);
	ck_assert_str_eq(id.avatar_url, "https://lh3.example/a");
	json_decref(c);

	/* Verified, but Google is not authoritative for corp.example... */
	c = json_loads("{\"sub\":\"1\",\"email\":\"a@corp.example\","
	    "\"email_verified\":true}", 0, NULL);
	ck_assert(auth_google_identity(c, &id));
	ck_assert(!id.email_verified);
	json_decref(c);
	/* ...unless it is the Workspace domain (hd). */
	c = json_loads("{\"sub\":\"1\",\"email\":\"a@corp.example\","
	    "\"email_verified\":true,\"hd\":\"corp.example\"}", 0, NULL);
	ck_assert(auth_google_identity(c, &id));
	ck_assert(id.email_verified);
	json_decref(c);
	c = json_loads("{\"sub\":\"1\",\"email\":\"a@gmail.com\","
	    "\"email_verified\":false}", 0, NULL);
	ck_assert(auth_google_identity(c, &id));
	ck_assert(!id.email_verified);
	json_decref(c);
	c = json_loads("{\"email\":\"a@gmail.com\"}", 0, NULL);
	ck_assert(!auth_google_identity(c, &id));
	json_decref(c);
}
END_TEST

START_TEST(names)
{
	struct auth_identity	id;
	char			long_name[400];
	int			i;

	auth_identity_name(&id, "  Ann\x01 \x1b[31mRed\x7f  ");
	ck_assert_str_eq(id.name, "Ann [31mRed");
	auth_identity_name(&id, "a\xc2\x85" "b");
	ck_assert_str_eq(id.name, "ab");
	auth_identity_name(&id, NULL);
	ck_assert_str_eq(id.name, "");

	long_name[0] = '\0';
	for (i = 0; i < 90; i++)
		strcat(long_name, "가");
	auth_identity_name(&id, long_name);
	ck_assert_uint_eq(strlen(id.name), 80 * 3);

	auth_identity_avatar(&id, "https://x.example/a b");
	ck_assert_str_eq(id.avatar_url, "");
	auth_identity_avatar(&id, "javascript:x");
	ck_assert_str_eq(id.avatar_url, "");
	auth_identity_avatar(&id, "https://");
	ck_assert_str_eq(id.avatar_url, "");
}
END_TEST

static Suite *
provider_suite(void)
{
	Suite	*s = suite_create("auth_provider");
	TCase	*tc = tcase_create("provider");

	tcase_add_test(tc, lookup);
	tcase_add_test(tc, authorize_url);
	tcase_add_test(tc, token_request);
	tcase_add_test(tc, token_answer);
	tcase_add_test(tc, token_error_cleaned);
	tcase_add_test(tc, github);
	tcase_add_test(tc, kakao);
	tcase_add_test(tc, google);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(provider_suite)
