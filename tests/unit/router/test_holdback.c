/*
 * The preamble hold-back: which translated chunks count as content (and
 * so close the fallback window) and which are held back.
 */

#include <string.h>

#include "tg_test.h"
#include "router/holdback.h"

static int
has(const char *text)
{
	json_t	*a;
	int	 r;

	a = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(a);
	r = router_chunks_have_content(a);
	json_decref(a);
	return (r);
}

START_TEST(preambles_are_not_content)
{
	ck_assert(!has("[]"));
	/* OpenAI's first chunk, before text and before tool calls. */
	ck_assert(!has("[{\"choices\":[{\"index\":0,\"delta\":{\"role\":"
	    "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}]"));
	ck_assert(!has("[{\"choices\":[{\"index\":0,\"delta\":{\"role\":"
	    "\"assistant\",\"content\":null}}]}]"));
	/* A finish chunk, a usage chunk, an empty delta. */
	ck_assert(!has("[{\"choices\":[{\"index\":0,\"delta\":{},"
	    "\"finish_reason\":\"stop\"}]},{\"choices\":[],\"usage\":"
	    "{\"prompt_tokens\":3}}]"));
	ck_assert(!has("[{\"choices\":[{\"delta\":{\"tool_calls\":[]}}]}]"));
	ck_assert(!has("[{\"choices\":[{\"index\":0}]}, {\"x\":1}, 3]"));
}
END_TEST

START_TEST(content_of_every_kind)
{
	ck_assert(has("[{\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]},"
	    "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}]"));
	ck_assert(has("[{\"choices\":[{\"delta\":{\"reasoning\":\"hm\"}}]}]"));
	ck_assert(has("[{\"choices\":[{\"delta\":{\"reasoning_content\":"
	    "\"hm\"}}]}]"));
	ck_assert(has("[{\"choices\":[{\"delta\":{\"refusal\":\"no\"}}]}]"));
	ck_assert(has("[{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":"
	    "0,\"id\":\"call_1\",\"function\":{\"name\":\"f\"}}]}}]}]"));
	ck_assert(has("[{\"choices\":[{\"delta\":{\"reasoning_details\":[{"
	    "\"type\":\"reasoning.text\",\"signature\":\"s\"}]}}]}]"));
	/* The second choice of n > 1. */
	ck_assert(has("[{\"choices\":[{\"index\":0,\"delta\":{}},{\"index\":1,"
	    "\"delta\":{\"content\":\"x\"}}]}]"));
}
END_TEST

static Suite *
holdback_suite(void)
{
	Suite	*s = suite_create("holdback");
	TCase	*tc = tcase_create("holdback");

	tcase_add_test(tc, preambles_are_not_content);
	tcase_add_test(tc, content_of_every_kind);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(holdback_suite)
