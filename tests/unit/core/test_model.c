/* allowed_models patterns. */

#include "tg_test.h"
#include "model.h"

START_TEST(patterns)
{
	const char	p[3][128] = { "anthropic:*", "openai:gpt-4o-mini",
			    "fast" };
	const char	all[1][128] = { "*" };

	ck_assert(tg_model_allowed(p, 0, "anything:goes"));
	ck_assert(tg_model_allowed(p, 3, "anthropic:claude-sonnet-4-5"));
	ck_assert(tg_model_allowed(p, 3, "openai:gpt-4o-mini"));
	ck_assert(tg_model_allowed(p, 3, "fast"));
	ck_assert(!tg_model_allowed(p, 3, "openai:gpt-4o"));
	ck_assert(!tg_model_allowed(p, 3, "anthropicx:claude"));
	ck_assert(!tg_model_allowed(p, 3, "openai:gpt-4o-mini-2"));
	ck_assert(tg_model_allowed(all, 1, "gemini:gemini-2.5-flash"));

	ck_assert(tg_model_pattern_valid("anthropic:*"));
	ck_assert(tg_model_pattern_valid("*"));
	ck_assert(!tg_model_pattern_valid(""));
	ck_assert(!tg_model_pattern_valid("a*b"));
	ck_assert(!tg_model_pattern_valid("has space"));
}
END_TEST

static Suite *
model_suite(void)
{
	Suite	*s = suite_create("model");
	TCase	*tc = tcase_create("model");

	tcase_add_test(tc, patterns);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(model_suite)
