/* Cleaning untrusted text for logs and answers (app/core/clean.c). */

#include <string.h>

#include "tg_test.h"
#include "clean.h"

static const char *
clean(const char *in, size_t outlen)
{
	static char	out[256];

	ck_assert_uint_le(outlen, sizeof(out));
	(void)tg_clean_text(out, outlen, in, strlen(in));
	return (out);
}

START_TEST(plain_text_kept)
{
	ck_assert_str_eq(clean("invalid_grant", 64), "invalid_grant");
	ck_assert_str_eq(clean("Bad Request: code was already redeemed.",
	    128), "Bad Request: code was already redeemed.");
	/* Valid UTF-8 of every length passes unchanged. */
	ck_assert_str_eq(clean("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x94\x91",
	    64), "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x94\x91");
	ck_assert_str_eq(clean("\xef\xbf\xbd\xf4\x8f\xbf\xbf", 64),
	    "\xef\xbf\xbd\xf4\x8f\xbf\xbf");
	ck_assert_str_eq(clean("", 64), "");
}
END_TEST

START_TEST(controls_replaced)
{
	ck_assert_str_eq(clean("a\tb\r\nc", 64), "a b  c");
	ck_assert_str_eq(clean("\x1b[31mred\x1b[0m\x07\x7f", 64),
	    "?[31mred?[0m??");
	/* C1 controls, line and paragraph separators, bidi overrides. */
	ck_assert_str_eq(clean("x\xc2\x85y\xc2\x9bz", 64), "x?y?z");
	ck_assert_str_eq(clean("\xe2\x80\xa8\xe2\x80\xa9", 64), "??");
	ck_assert_str_eq(clean("a\xe2\x80\xae" "b\xe2\x81\xa6" "c\xe2\x80\x8f",
	    64), "a?b?c?");
	/* Just outside those ranges: ordinary characters. */
	ck_assert_str_eq(clean("\xc2\xa0\xe2\x80\xa7\xe2\x81\xaa", 64),
	    "\xc2\xa0\xe2\x80\xa7\xe2\x81\xaa");
}
END_TEST

START_TEST(invalid_utf8_replaced)
{
	/* Stray continuation bytes and bytes never valid. */
	ck_assert_str_eq(clean("a\x80\xbf" "b\xfe\xff\xc0\xc1", 64),
	    "a??b????");
	/* Overlong forms: '/' in two bytes, U+0000 in three, four bytes. */
	ck_assert_str_eq(clean("\xc0\xaf", 64), "??");
	ck_assert_str_eq(clean("\xe0\x80\x80", 64), "???");
	ck_assert_str_eq(clean("\xf0\x80\x80\xaf", 64), "????");
	/* A surrogate (U+D800), past U+10FFFF, F5 and up. */
	ck_assert_str_eq(clean("\xed\xa0\x80", 64), "???");
	ck_assert_str_eq(clean("\xf4\x90\x80\x80", 64), "????");
	ck_assert_str_eq(clean("\xf5\x80\x80\x80", 64), "????");
	/* Sequences cut short, at the end and in the middle. */
	ck_assert_str_eq(clean("ab\xe4\xb8", 64), "ab??");
	ck_assert_str_eq(clean("\xe4\xb8z\xf0\x9f\x94", 64), "??z???");
	/* A bad third byte after a good second one. */
	ck_assert_str_eq(clean("\xe4\xb8\x41", 64), "??A");
}
END_TEST

START_TEST(bounded_at_a_character)
{
	char	out[8];
	size_t	n;

	n = tg_clean_text(out, sizeof(out), "abcdefghij", 10);
	ck_assert_uint_eq(n, 7);
	ck_assert_str_eq(out, "abcdefg");

	/* A three-byte character that does not fit is left out whole. */
	n = tg_clean_text(out, sizeof(out), "abcde\xe4\xb8\xad", 8);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(out, "abcde");

	/* inlen bounds the input; NUL ends it. */
	n = tg_clean_text(out, sizeof(out), "abcdef", 3);
	ck_assert_str_eq(out, "abc");
	n = tg_clean_text(out, sizeof(out), "ab\0cd", 5);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(out, "ab");

	/* Half a character at the end of the input is two bad bytes. */
	n = tg_clean_text(out, sizeof(out), "abcde\xe4\xb8", 7);
	ck_assert_str_eq(out, "abcde??");

	n = tg_clean_text(out, 1, "abc", 3);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(out, "");
	n = tg_clean_text(out, sizeof(out), NULL, 3);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(tg_clean_text(out, 0, "abc", 3), 0);
}
END_TEST

/*
 * The output of anything is valid UTF-8 with no control characters.
 * (Checked without ck_assert in the loop, which is slow under ASan.)
 */
START_TEST(every_byte_pair)
{
	unsigned char	in[3];
	char		out[8];
	size_t		n, i;
	int		a, b, bad;

	bad = 0;
	for (a = 1; a < 256; a++) {
		for (b = 1; b < 256; b++) {
			in[0] = (unsigned char)a;
			in[1] = (unsigned char)b;
			in[2] = 'x';
			n = tg_clean_text(out, sizeof(out), (char *)in, 3);
			if (n == 0 || n > 3 || out[n - 1] != 'x')
				bad++;
			for (i = 0; i < n; i++) {
				if ((unsigned char)out[i] < 0x20 ||
				    out[i] == 0x7f)
					bad++;
				/* C1 controls: U+0080..U+009F. */
				if ((unsigned char)out[i] == 0xc2 && i + 1 < n &&
				    (unsigned char)out[i + 1] <= 0x9f)
					bad++;
			}
			/* Cleaning again changes nothing: it is valid. */
			if (tg_clean_utf8(out, n) != 0)
				bad++;
		}
	}
	ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(repair_in_place)
{
	char	s[] = "{\"error\":\"bad\xff\xfe\",\n\"x\":\"\xc3\xa9\x1b\"}";
	char	ok[] = "{\"error\":\"bad??\",\n\"x\":\"\xc3\xa9\x1b\"}";

	ck_assert_uint_eq(tg_clean_utf8(s, strlen(s)), 2);
	ck_assert_str_eq(s, ok);
	ck_assert_uint_eq(tg_clean_utf8(s, strlen(s)), 0);
}
END_TEST

static Suite *
clean_suite(void)
{
	Suite	*s = suite_create("clean");
	TCase	*tc = tcase_create("clean");

	tcase_add_test(tc, plain_text_kept);
	tcase_add_test(tc, controls_replaced);
	tcase_add_test(tc, invalid_utf8_replaced);
	tcase_add_test(tc, bounded_at_a_character);
	tcase_add_test(tc, every_byte_pair);
	tcase_add_test(tc, repair_in_place);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(clean_suite)
