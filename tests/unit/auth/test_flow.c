/*
 * Flow helpers: base64url strictness, PKCE (RFC 7636 appendix B),
 * keyed hashes, return_to, the CSRF rule, cookies and the revoked set.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tg_test.h"
#include "auth/b64.h"
#include "auth/cookie.h"
#include "auth/flow.h"
#include "auth/revoked.h"

START_TEST(b64url)
{
	unsigned char	 out[16];
	char		 enc[32];
	size_t		 n;

	ck_assert_uint_eq(auth_b64url_encode("", 0, enc, sizeof(enc)), 0);
	ck_assert_str_eq(enc, "");
	auth_b64url_encode("f", 1, enc, sizeof(enc));
	ck_assert_str_eq(enc, "Zg");
	auth_b64url_encode("fo", 2, enc, sizeof(enc));
	ck_assert_str_eq(enc, "Zm8");
	auth_b64url_encode("foo", 3, enc, sizeof(enc));
	ck_assert_str_eq(enc, "Zm9v");
	auth_b64url_encode("\xfb\xff", 2, enc, sizeof(enc));
	ck_assert_str_eq(enc, "-_8");
	/* Too small an output buffer. */
	ck_assert_uint_eq(auth_b64url_encode("foo", 3, enc, 4), 0);

	ck_assert(auth_b64url_decode("Zm9v", 4, out, sizeof(out), &n));
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(out, "foo", 3) == 0);
	ck_assert(auth_b64url_decode("-_8", 3, out, sizeof(out), &n));
	ck_assert_uint_eq(n, 2);
	ck_assert(auth_b64url_decode("", 0, out, sizeof(out), &n));
	ck_assert_uint_eq(n, 0);

	/* Not ours: padding, std alphabet, one char over, spare bits. */
	ck_assert(!auth_b64url_decode("Zg==", 4, out, sizeof(out), &n));
	ck_assert(!auth_b64url_decode("+/8", 3, out, sizeof(out), &n));
	ck_assert(!auth_b64url_decode("Zm9vY", 5, out, sizeof(out), &n));
	ck_assert(!auth_b64url_decode("Zh", 2, out, sizeof(out), &n));
	ck_assert(!auth_b64url_decode("Zm9", 3, out, sizeof(out), &n));
	ck_assert(!auth_b64url_decode("Zm 9v", 5, out, sizeof(out), &n));
	/* Bytes from 0x80 up, which Debian 12's libsodium takes as letters. */
	ck_assert(!auth_b64url_decode("Zm9\xe9", 4, out, sizeof(out), &n));
	ck_assert(!auth_b64url_decode("\x80\x80\x80\x80", 4, out, sizeof(out),
	    &n));
	/* Output too small. */
	ck_assert(!auth_b64url_decode("Zm9v", 4, out, 2, &n));
}
END_TEST

START_TEST(pkce_and_tokens)
{
	char	c[AUTH_TOKEN_LEN + 1], a[AUTH_TOKEN_LEN + 1];
	char	b[AUTH_TOKEN_LEN + 1];

	auth_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
	ck_assert_str_eq(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");

	auth_random_token(a);
	auth_random_token(b);
	ck_assert_uint_eq(strlen(a), AUTH_TOKEN_LEN);
	ck_assert_str_ne(a, b);
	ck_assert(auth_token_syntax(a));
	ck_assert(!auth_token_syntax("short"));
	ck_assert(!auth_token_syntax(NULL));
	a[5] = '+';
	ck_assert(!auth_token_syntax(a));
}
END_TEST

START_TEST(keyed_hash)
{
	char	h1[AUTH_HASH_HEX_LEN + 1], h2[AUTH_HASH_HEX_LEN + 1];
	char	h3[AUTH_HASH_HEX_LEN + 1];
	const unsigned char	*k = (const unsigned char *)"pepper-pepper-pepper-pepper-pepper";

	ck_assert(auth_keyed_hash(k, 34, AUTH_HASH_REFRESH, "abc", 3, h1));
	ck_assert(auth_keyed_hash(k, 34, AUTH_HASH_STATE, "abc", 3, h2));
	ck_assert(auth_keyed_hash(k, 33, AUTH_HASH_REFRESH, "abc", 3, h3));
	ck_assert_uint_eq(strlen(h1), 64);
	ck_assert_str_ne(h1, h2);		/* purposes separate */
	ck_assert_str_ne(h1, h3);		/* the key matters */
	ck_assert(auth_keyed_hash(k, 34, AUTH_HASH_REFRESH, "abc", 3, h2));
	ck_assert_str_eq(h1, h2);		/* deterministic */
	ck_assert(!auth_keyed_hash(k, 0, AUTH_HASH_REFRESH, "abc", 3, h1));
	ck_assert(!auth_keyed_hash(NULL, 34, AUTH_HASH_REFRESH, "abc", 3, h1));
}
END_TEST

START_TEST(return_to)
{
	static const char	*good[] = {
		"/", "/dashboard", "/a/b?x=1&y=%20#frag", "/keys?tab=new",
		"/~user/@me", "/a%2Eb", "/%E2%9C%93",
	};
	static const char	*bad[] = {
		"", "//evil.example", "/\\evil.example", "https://evil",
		"evil", "http://127.0.0.1/x", "/%2F%2Fevil", "/%2f/evil",
		"%2F%2Fevil", "/a\\b", "/%5Cevil", "/\tx", "/a b", "/a\nb",
		"/%0d%0aSet-Cookie:x", "/%00", "/%", "/%2", "/%zz",
		"/%252F%252Fevil", "/a\"b", "/<script>", "/\x7f",
		"/\xc3\xa9",
	};
	char	 longp[AUTH_RETURN_TO_MAX + 2];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(auth_return_to_valid(good[i]), "good %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!auth_return_to_valid(bad[i]), "bad %s", bad[i]);
	ck_assert(!auth_return_to_valid(NULL));

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[AUTH_RETURN_TO_MAX] = '\0';
	ck_assert(auth_return_to_valid(longp));
	longp[AUTH_RETURN_TO_MAX] = 'a';
	longp[AUTH_RETURN_TO_MAX + 1] = '\0';
	ck_assert(!auth_return_to_valid(longp));
}
END_TEST

START_TEST(csrf)
{
	const char	*ui = "https://app.example";

	ck_assert(auth_csrf_ok(NULL, "1", ui));
	ck_assert(auth_csrf_ok("https://app.example", NULL, ui));
	ck_assert(auth_csrf_ok("https://APP.example", NULL, ui));
	ck_assert(!auth_csrf_ok(NULL, NULL, ui));
	ck_assert(!auth_csrf_ok(NULL, "0", ui));
	ck_assert(!auth_csrf_ok(NULL, "true", ui));
	ck_assert(!auth_csrf_ok("https://evil.example", NULL, ui));
	ck_assert(!auth_csrf_ok("https://evil.example", "1", ui));
	ck_assert(!auth_csrf_ok("null", "1", ui));
	ck_assert(!auth_csrf_ok("https://app.example.evil", NULL, ui));
	ck_assert(!auth_csrf_ok("http://app.example", NULL, ui));
}
END_TEST

START_TEST(cookie_get)
{
	char	out[64];

	ck_assert_int_eq(auth_cookie_get("a=1; tg_refresh=abc; b=2",
	    "tg_refresh", out, sizeof(out)), AUTH_COOKIE_FOUND);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(auth_cookie_get("tg_refresh=x", "tg_refresh", out,
	    sizeof(out)), AUTH_COOKIE_FOUND);
	ck_assert_str_eq(out, "x");
	/* Names match exactly, not by prefix or suffix. */
	ck_assert_int_eq(auth_cookie_get("xtg_refresh=1;tg_refresh2=2",
	    "tg_refresh", out, sizeof(out)), AUTH_COOKIE_ABSENT);
	/* The first of duplicates wins; blanks and quotes are trimmed. */
	ck_assert_int_eq(auth_cookie_get(" tg_refresh = \"v1\" ;tg_refresh=v2",
	    "tg_refresh", out, sizeof(out)), AUTH_COOKIE_FOUND);
	ck_assert_str_eq(out, "v1");
	/* Values with '=' survive (Kore's parser drops them). */
	ck_assert_int_eq(auth_cookie_get("a=b=c; t=x=y", "t", out,
	    sizeof(out)), AUTH_COOKIE_FOUND);
	ck_assert_str_eq(out, "x=y");
	/* More than ten cookies before ours. */
	ck_assert_int_eq(auth_cookie_get("a=1;b=2;c=3;d=4;e=5;f=6;g=7;h=8;"
	    "i=9;j=10;k=11;t=ok", "t", out, sizeof(out)), AUTH_COOKIE_FOUND);
	ck_assert_str_eq(out, "ok");
	ck_assert_int_eq(auth_cookie_get("", "t", out, sizeof(out)),
	    AUTH_COOKIE_ABSENT);
	ck_assert_int_eq(auth_cookie_get(NULL, "t", out, sizeof(out)),
	    AUTH_COOKIE_ABSENT);
	ck_assert_int_eq(auth_cookie_get(";;;=;t", "t", out, sizeof(out)),
	    AUTH_COOKIE_ABSENT);
	ck_assert_int_eq(auth_cookie_get("t=", "t", out, sizeof(out)),
	    AUTH_COOKIE_FOUND);
	ck_assert_str_eq(out, "");
	/* Too long, bad bytes. */
	ck_assert_int_eq(auth_cookie_get("t=0123456789", "t", out, 8),
	    AUTH_COOKIE_INVALID);
	ck_assert_int_eq(auth_cookie_get("t=a\\b", "t", out, sizeof(out)),
	    AUTH_COOKIE_INVALID);
	ck_assert_int_eq(auth_cookie_get("t=a,b", "t", out, sizeof(out)),
	    AUTH_COOKIE_INVALID);
}
END_TEST

START_TEST(cookie_format)
{
	char	buf[AUTH_SET_COOKIE_MAX];

	ck_assert(auth_cookie_format(buf, sizeof(buf), "tg_refresh", "abc",
	    "/auth", 3600, 1));
	ck_assert_str_eq(buf, "tg_refresh=abc; Path=/auth; Max-Age=3600; "
	    "HttpOnly; SameSite=Lax; Secure");
	ck_assert(auth_cookie_format(buf, sizeof(buf), "tg_refresh", "abc",
	    "/auth", 3600, 0));
	ck_assert(strstr(buf, "Secure") == NULL);
	ck_assert(auth_cookie_format(buf, sizeof(buf), "tg_refresh", "",
	    "/auth", 0, 0));
	ck_assert(strstr(buf, "Max-Age=0") != NULL);
	ck_assert(!auth_cookie_format(buf, sizeof(buf), "t", "a;b", "/", 1, 0));
	ck_assert(!auth_cookie_format(buf, sizeof(buf), "t", "a\r\nX: y", "/",
	    1, 0));
	ck_assert(!auth_cookie_format(buf, 16, "tg_refresh", "abc", "/auth",
	    1, 0));

	/* TOLLGATE_COOKIE_SAMESITE=none, only ever with Secure. */
	ck_assert(auth_cookie_format(buf, sizeof(buf), "tg_refresh", "abc",
	    "/auth", 60, AUTH_COOKIE_SECURE | AUTH_COOKIE_SAMESITE_NONE));
	ck_assert_str_eq(buf, "tg_refresh=abc; Path=/auth; Max-Age=60; "
	    "HttpOnly; SameSite=None; Secure");
	ck_assert(auth_cookie_format(buf, sizeof(buf), "tg_refresh", "",
	    "/auth", 0, AUTH_COOKIE_SECURE | AUTH_COOKIE_SAMESITE_NONE));
	ck_assert(strstr(buf, "SameSite=None; Secure") != NULL);
	ck_assert(!auth_cookie_format(buf, sizeof(buf), "tg_refresh", "abc",
	    "/auth", 60, AUTH_COOKIE_SAMESITE_NONE));
}
END_TEST

START_TEST(revoked)
{
	struct auth_revoked	*set;
	char			 sid[40];
	int			 i;

	set = auth_revoked_new();
	ck_assert(auth_revoked_add(set, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
	    1000, 100));
	ck_assert(!auth_revoked_add(set, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
	    900, 100));
	ck_assert(!auth_revoked_add(set, "nope", 1000, 100));
	ck_assert(!auth_revoked_add(set, "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee",
	    100, 100));
	ck_assert(auth_revoked_has(set, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
	    999));
	ck_assert(!auth_revoked_has(set, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
	    1000));
	ck_assert(!auth_revoked_has(set, "cccccccc-bbbb-4ccc-8ddd-eeeeeeeeeeee",
	    500));

	/* Many short-lived entries are swept once they have expired. */
	for (i = 0; i < 5000; i++) {
		snprintf(sid, sizeof(sid), "%08x-bbbb-4ccc-8ddd-eeeeeeeeeeee", i);
		auth_revoked_add(set, sid, 200 + i, 100 + i);
	}
	ck_assert_uint_lt(auth_revoked_count(set), 2500);
	snprintf(sid, sizeof(sid), "%08x-bbbb-4ccc-8ddd-eeeeeeeeeeee", 4999);
	ck_assert(auth_revoked_has(set, sid, 5000));
	auth_revoked_free(set);
}
END_TEST

static Suite *
flow_suite(void)
{
	Suite	*s = suite_create("auth_flow");
	TCase	*tc = tcase_create("flow");

	if (sodium_init() < 0)
		abort();
	tcase_add_test(tc, b64url);
	tcase_add_test(tc, pkce_and_tokens);
	tcase_add_test(tc, keyed_hash);
	tcase_add_test(tc, return_to);
	tcase_add_test(tc, csrf);
	tcase_add_test(tc, cookie_get);
	tcase_add_test(tc, cookie_format);
	tcase_add_test(tc, revoked);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(flow_suite)
