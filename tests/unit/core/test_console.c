/* The console's If-None-Match comparison. */

#include "tg_test.h"
#include "console.h"

START_TEST(etags)
{
	const char	*e = "\"abc\"";

	ck_assert(tg_console_etag_match("\"abc\"", e));
	ck_assert(tg_console_etag_match("W/\"abc\"", e));
	ck_assert(tg_console_etag_match("\"x\", \"abc\"", e));
	ck_assert(tg_console_etag_match("*", e));

	ck_assert(!tg_console_etag_match(NULL, e));
	ck_assert(!tg_console_etag_match("", e));
	ck_assert(!tg_console_etag_match("\"abcd\"", e));
	ck_assert(!tg_console_etag_match("\"ab\"", e));
	ck_assert(!tg_console_etag_match("abc", e));
	ck_assert(!tg_console_etag_match("\"abc", e));
}
END_TEST

static Suite *
console_suite(void)
{
	Suite	*s = suite_create("console");
	TCase	*tc = tcase_create("console");

	tcase_add_test(tc, etags);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(console_suite)
