/* Query-string lookup and percent-decoding. */

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

static Suite *
qs_suite(void)
{
	Suite	*s = suite_create("qs");
	TCase	*tc = tcase_create("qs");

	tcase_add_test(tc, found_absent_invalid);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(qs_suite)
