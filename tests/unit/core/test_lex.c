/* Separated lists as the configuration reads them (app/core/lex.c). */

#include <string.h>

#include "tg_test.h"
#include "lex.h"

/* Each item of list, trimmed, joined with '|' into out. */
static void
items(const char *list, const char *seps, char *out, size_t outlen)
{
	const char	*p, *item;
	size_t		 len;

	out[0] = '\0';
	p = list;
	while (tg_list_next(&p, seps, &item, &len)) {
		strncat(out, item, len);
		strncat(out, "|", outlen - strlen(out) - 1);
	}
}

START_TEST(items_are_trimmed_and_empty_ones_kept)
{
	char	out[128];

	items(" a , b,,c ", ",", out, sizeof(out));
	ck_assert_str_eq(out, "a|b||c|");
	items("a\nb,c", ",\n", out, sizeof(out));
	ck_assert_str_eq(out, "a|b|c|");
	/* A trailing separator ends the list: no empty item after it. */
	items("a,", ",", out, sizeof(out));
	ck_assert_str_eq(out, "a|");
	items("  ", ",", out, sizeof(out));
	ck_assert_str_eq(out, "|");
}
END_TEST

START_TEST(an_empty_or_absent_list_has_no_items)
{
	const char	*p, *item;
	size_t		 len;

	p = "";
	ck_assert_int_eq(tg_list_next(&p, ",", &item, &len), 0);
	p = NULL;
	ck_assert_int_eq(tg_list_next(&p, ",", &item, &len), 0);
}
END_TEST

static Suite *
lex_suite(void)
{
	Suite	*s = suite_create("lex");
	TCase	*tc = tcase_create("lists");

	tcase_add_test(tc, items_are_trimmed_and_empty_ones_kept);
	tcase_add_test(tc, an_empty_or_absent_list_has_no_items);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(lex_suite)
