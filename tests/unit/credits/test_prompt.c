/* The prompt upper bound: bytes of text, overheads, images. */

#include <stdint.h>
#include <string.h>

#include "tg_test.h"
#include "credits/prompt.h"

#define BASE	(CREDITS_REQUEST_OVERHEAD + CREDITS_TOOLS_OVERHEAD)

START_TEST(text_counts_its_utf8_bytes)
{
	/* "안녕하세요", "こんにちは", "你好": 3 bytes a character. */
	const char	*ko = "\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8"
			    "\xec\x9a\x94";
	const char	*ja = "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1"
			    "\xe3\x81\xaf";
	const char	*zh = "\xe4\xbd\xa0\xe5\xa5\xbd";

	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_CHAT,
	    strlen(ko), 1, 0), BASE + 15 + CREDITS_MESSAGE_OVERHEAD);
	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_CHAT,
	    strlen(ja), 1, 0), BASE + 15 + CREDITS_MESSAGE_OVERHEAD);
	/*
	 * cl100k splits "你好" into at most 2 tokens and "안녕하세요" into
	 * at most 10; a character count (2, 5) would fall short, the
	 * bytes (6, 15) never do.
	 */
	ck_assert_int_ge(credits_prompt_bound(CREDITS_PROMPT_CHAT,
	    strlen(zh), 1, 0) - BASE - CREDITS_MESSAGE_OVERHEAD, 6);
	ck_assert_int_ge(credits_prompt_bound(CREDITS_PROMPT_EMBEDDINGS,
	    strlen(ko), 0, 0), 15);
}
END_TEST

START_TEST(messages_and_images_add_their_allowance)
{
	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_CHAT, 100, 3, 2),
	    BASE + 100 + 3 * CREDITS_MESSAGE_OVERHEAD +
	    2 * CREDITS_IMAGE_TOKENS);
	/* A 1 MB data URL costs an image, not a million tokens. */
	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_CHAT, 0, 1, 1),
	    BASE + CREDITS_MESSAGE_OVERHEAD + CREDITS_IMAGE_TOKENS);
}
END_TEST

START_TEST(never_below_zero_never_wraps)
{
	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_CHAT, 0, -5, -5),
	    BASE);
	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_CHAT, UINT64_MAX,
	    INT64_MAX, INT64_MAX), INT64_MAX);
	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_CHAT, 10,
	    INT64_MAX / 2, 0), INT64_MAX);
	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_EMBEDDINGS, 0, 0,
	    0), 1);
	ck_assert_int_eq(credits_prompt_bound(CREDITS_PROMPT_EMBEDDINGS,
	    UINT64_MAX, 0, 0), INT64_MAX);
}
END_TEST

static Suite *
prompt_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("credits_prompt");
	tc = tcase_create("prompt");
	tcase_add_test(tc, text_counts_its_utf8_bytes);
	tcase_add_test(tc, messages_and_images_add_their_allowance);
	tcase_add_test(tc, never_below_zero_never_wraps);
	suite_add_tcase(s, tc);

	return (s);
}

TG_TEST_MAIN(prompt_suite)
