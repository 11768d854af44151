/* The admin surface's input checks and its set of suspended users. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "admin/idset.h"
#include "admin/input.h"

#define GOOD	"tga_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234"

START_TEST(token_shapes)
{
	char	p[ADMIN_TOKEN_SHOWN + 1];

	ck_assert_int_eq(strlen(GOOD), ADMIN_TOKEN_LEN);
	ck_assert(admin_token_syntax(GOOD));
	ck_assert(!admin_token_syntax(NULL));
	ck_assert(!admin_token_syntax("tga_"));
	ck_assert(!admin_token_syntax(GOOD "x"));
	ck_assert(!admin_token_syntax("tg__abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234"));
	ck_assert(!admin_token_syntax("tga_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123="));
	ck_assert(!admin_token_syntax("tga_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123 "));
	ck_assert(admin_looks_like_token("tga_x"));
	ck_assert(!admin_looks_like_token("tg_x"));
	ck_assert(!admin_looks_like_token("eyJhbGciOi"));
	admin_token_prefix(GOOD, p);
	ck_assert_str_eq(p, "tga_abcdef");
}
END_TEST

START_TEST(new_tokens)
{
	static const unsigned char	pepper[32] = "0123456789abcdef0123456789abcde";
	char				a[ADMIN_TOKEN_LEN + 1], b[ADMIN_TOKEN_LEN + 1];
	char				ha[65], hb[65];
	char				pa[ADMIN_TOKEN_SHOWN + 1], pb[ADMIN_TOKEN_SHOWN + 1];

	ck_assert(admin_token_new(pepper, sizeof(pepper), a, ha, pa));
	ck_assert(admin_token_new(pepper, sizeof(pepper), b, hb, pb));
	ck_assert(admin_token_syntax(a));
	ck_assert(admin_token_syntax(b));
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(ha, hb);
	ck_assert_uint_eq(strlen(ha), 64);
	ck_assert(strncmp(a, pa, ADMIN_TOKEN_SHOWN) == 0);
}
END_TEST

START_TEST(names_statuses_cursors)
{
	char	long_name[ADMIN_NAME_MAX + 2];
	int64_t	id;

	ck_assert(admin_name_valid("deploy bot"));
	ck_assert(admin_name_valid("배포"));
	ck_assert(!admin_name_valid(""));
	ck_assert(!admin_name_valid("a\nb"));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ck_assert(!admin_name_valid(long_name));
	long_name[ADMIN_NAME_MAX] = '\0';
	ck_assert(admin_name_valid(long_name));

	ck_assert(admin_status_valid("active"));
	ck_assert(admin_status_valid("suspended"));
	ck_assert(!admin_status_valid("deleted"));
	ck_assert(!admin_status_valid("Active"));
	ck_assert(!admin_status_valid(NULL));

	ck_assert(admin_audit_cursor("42", &id) && id == 42);
	ck_assert(!admin_audit_cursor("0", &id));
	ck_assert(!admin_audit_cursor("042", &id));
	ck_assert(!admin_audit_cursor("-1", &id));
	ck_assert(!admin_audit_cursor("1234567890123456789", &id));
	ck_assert(!admin_audit_cursor("", &id));
}
END_TEST

static void
csv_is(const char *in, const char *want)
{
	char	*got;

	got = admin_csv_text(in);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(csv_fields)
{
	csv_is("plain", "\"plain\"");
	csv_is("", "\"\"");
	csv_is("a,b", "\"a,b\"");
	csv_is("say \"hi\"", "\"say \"\"hi\"\"\"");
	csv_is("line\nbreak", "\"line\nbreak\"");
	csv_is("=SUM(A1)", "\"'=SUM(A1)\"");
	csv_is("+1", "\"'+1\"");
	csv_is("-1", "\"'-1\"");
	csv_is("@x", "\"'@x\"");
	csv_is("\tx", "\"'\tx\"");
	csv_is("a=b", "\"a=b\"");

	ck_assert(admin_group_valid("user"));
	ck_assert(admin_group_valid("day"));
	ck_assert(admin_group_valid("model"));
	ck_assert(admin_group_valid("key"));
	ck_assert(!admin_group_valid("week"));
	ck_assert(!admin_group_valid(NULL));

	ck_assert(admin_payment_status_valid("paid"));
	ck_assert(admin_payment_status_valid("partially_refunded"));
	ck_assert(!admin_payment_status_valid("Paid"));
	ck_assert(!admin_payment_status_valid(""));
	ck_assert(!admin_payment_status_valid(NULL));
}
END_TEST

START_TEST(idset)
{
	struct admin_idset	 s;
	char			 id[ADMIN_ID_LEN + 1];
	int			 i;

	memset(&s, 0, sizeof(s));
	ck_assert(!admin_idset_has(&s, "00000000-0000-4000-8000-000000000001"));
	for (i = 99; i >= 0; i--) {
		(void)snprintf(id, sizeof(id),
		    "00000000-0000-4000-8000-%012d", i * 7 % 100);
		ck_assert(admin_idset_add(&s, id));
	}
	ck_assert_uint_eq(s.n, 100);
	ck_assert(admin_idset_add(&s, "00000000-0000-4000-8000-000000000007"));
	ck_assert_uint_eq(s.n, 100);
	for (i = 1; i < (int)s.n; i++)
		ck_assert(strcmp(s.ids[i - 1], s.ids[i]) < 0);
	ck_assert(admin_idset_has(&s, "00000000-0000-4000-8000-000000000042"));
	admin_idset_remove(&s, "00000000-0000-4000-8000-000000000042");
	ck_assert(!admin_idset_has(&s, "00000000-0000-4000-8000-000000000042"));
	ck_assert_uint_eq(s.n, 99);
	admin_idset_remove(&s, "00000000-0000-4000-8000-000000000042");
	ck_assert_uint_eq(s.n, 99);
	ck_assert(!admin_idset_add(&s, "short"));
	ck_assert(!admin_idset_has(&s, NULL));
	admin_idset_clear(&s);
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

static Suite *
admin_input_suite(void)
{
	Suite	*s = suite_create("admin_input");
	TCase	*tc = tcase_create("admin_input");

	tcase_add_test(tc, token_shapes);
	tcase_add_test(tc, new_tokens);
	tcase_add_test(tc, names_statuses_cursors);
	tcase_add_test(tc, csv_fields);
	tcase_add_test(tc, idset);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(admin_input_suite)
