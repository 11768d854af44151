/* Secret redaction and cleaning of untrusted text (core/redact.h). */

#include <string.h>

#include "tg_test.h"
#include "redact.h"

static char	buf[256];

static const char *
secret(const char *s, const char *key)
{
	(void)strcpy(buf, s);
	tg_redact_secret(buf, key);
	return (buf);
}

static const char *
tokens(const char *s)
{
	(void)strcpy(buf, s);
	tg_redact_tokens(buf);
	return (buf);
}

static const char *
clean(const char *s)
{
	(void)strcpy(buf, s);
	tg_text_clean(buf);
	return (buf);
}

START_TEST(redact_secret)
{
	ck_assert_str_eq(secret("key abcd1234 and abcd1234abcd1234",
	    "abcd1234"), "key *** and ******");
	ck_assert_str_eq(secret("no key here", "abcd1234"), "no key here");
	/* Short or absent secrets would redact everything. */
	ck_assert_str_eq(secret("abc", "abc"), "abc");
	ck_assert_str_eq(secret("abc", NULL), "abc");
	ck_assert_str_eq(secret("", "abcd"), "");
	/* A replacement never forms a new match with what follows. */
	ck_assert_str_eq(secret("****x", "***x"), "****");
	tg_redact_secret(NULL, "abcd");
}
END_TEST

START_TEST(redact_tokens)
{
	ck_assert_str_eq(tokens("Invalid API Key provided: sk_test_4eC39Hq"
	    "LyjWDarjtT1zdp7dc"), "Invalid API Key provided: ***");
	ck_assert_str_eq(tokens("sk_live_a,rk_live_b rk_test_c(whsec_d)"),
	    "***,*** ***(***)");
	/* A bare prefix is no key; one glued to a word still is. */
	ck_assert_str_eq(tokens("sk_test_ and whsec_"),
	    "sk_test_ and whsec_");
	ck_assert_str_eq(tokens("providedsk_test_1 xwhsec_3 mask_2"),
	    "provided*** x*** mask_2");
	ck_assert_str_eq(tokens("sk_test_1sk_live_2"), "***");
	ck_assert_str_eq(tokens("pk_test_1 stays"), "pk_test_1 stays");
	ck_assert_str_eq(tokens(""), "");
	tg_redact_tokens(NULL);
}
END_TEST

START_TEST(text_clean)
{
	ck_assert_str_eq(clean("a\tb\r\nc\x1b[2J\x7f"), "a b  c?[2J?");
	/* Valid UTF-8 stays; stray, overlong and surrogate bytes go. */
	ck_assert_str_eq(clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	ck_assert_str_eq(clean("\xdc\xc4."), "??.");
	ck_assert_str_eq(clean("\xc3"), "?");
	ck_assert_str_eq(clean("\xc0\xaf"), "??");
	ck_assert_str_eq(clean("\xe0\x80\xaf"), "???");
	ck_assert_str_eq(clean("\xed\xa0\x80"), "???");
	ck_assert_str_eq(clean("\xf4\x90\x80\x80"), "????");
	ck_assert_str_eq(clean("\xff\xfe"), "??");
	tg_text_clean(NULL);
}
END_TEST

static Suite *
redact_suite(void)
{
	Suite	*s = suite_create("redact");
	TCase	*tc = tcase_create("redact");

	tcase_add_test(tc, redact_secret);
	tcase_add_test(tc, redact_tokens);
	tcase_add_test(tc, text_clean);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(redact_suite)
