/* Query-string lookup, percent-decoding and percent-encoding. */

#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "qs.h"

START_TEST(found_absent_invalid)
{
	char	out[16];

	ck_assert_int_eq(tg_qs_get("a=1&code=x%2Fy+z&b", "code", out,
	    sizeof(out)), TG_QS_FOUND);
	ck_assert_str_eq(out, "x/y z");
	ck_assert_int_eq(tg_qs_get("a=1&b", "b", out, sizeof(out)),
	    TG_QS_FOUND);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(tg_qs_get("a=1", "code", out, sizeof(out)),
	    TG_QS_ABSENT);
	ck_assert_int_eq(tg_qs_get(NULL, "code", out, sizeof(out)),
	    TG_QS_ABSENT);
	ck_assert_int_eq(tg_qs_get("codex=1&code=2", "code", out,
	    sizeof(out)), TG_QS_FOUND);
	ck_assert_str_eq(out, "2");
	/* broken escapes, control characters, too long */
	ck_assert_int_eq(tg_qs_get("code=%2", "code", out, sizeof(out)),
	    TG_QS_INVALID);
	ck_assert_int_eq(tg_qs_get("code=%zz", "code", out, sizeof(out)),
	    TG_QS_INVALID);
	ck_assert_int_eq(tg_qs_get("code=a%00b", "code", out, sizeof(out)),
	    TG_QS_INVALID);
	ck_assert_int_eq(tg_qs_get("code=a%0Ab", "code", out, sizeof(out)),
	    TG_QS_INVALID);
	ck_assert_int_eq(tg_qs_get("code=0123456789abcdef", "code", out,
	    sizeof(out)), TG_QS_INVALID);
	ck_assert_int_eq(tg_qs_get("code=0123456789abcde", "code", out,
	    sizeof(out)), TG_QS_FOUND);
}
END_TEST

/* What OAuth redirect URIs and Stripe's form fields need escaped. */
START_TEST(encode)
{
	const char	*in = "https://ui.example/cb?x=1&y=a b+c~-._\xc3\xa9%";
	char		*enc, out[128];

	enc = tg_percent_encode(in);
	ck_assert_ptr_nonnull(enc);
	ck_assert_str_eq(enc, "https%3A%2F%2Fui.example%2Fcb%3Fx%3D1%26y%3Da%20"
	    "b%2Bc~-._%C3%A9%25");
	ck_assert_int_eq(tg_percent_decode(enc, strlen(enc), out, sizeof(out)),
	    (int)strlen(in));
	ck_assert_str_eq(out, in);
	free(enc);

	enc = tg_percent_encode("");
	ck_assert_str_eq(enc, "");
	free(enc);
}
END_TEST

static Suite *
qs_suite(void)
{
	Suite	*s = suite_create("qs");
	TCase	*tc = tcase_create("qs");

	tcase_add_test(tc, found_absent_invalid);
	tcase_add_test(tc, encode);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(qs_suite)
