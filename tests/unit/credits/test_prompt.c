/* The prompt upper bound: bytes of text, overheads, images, tools. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "credits/prompt.h"

static int64_t
bound(const char *text)
{
	json_t		*req;
	json_error_t	 err;
	int64_t		 n;

	req = json_loads(text, 0, &err);
	ck_assert_msg(req != NULL, "%s", err.text);
	n = credits_prompt_bound_chat(req);
	json_decref(req);
	return (n);
}

static int64_t
bound_embeddings(const char *text)
{
	json_t	*req;
	int64_t	 n;

	req = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(req);
	n = credits_prompt_bound_embeddings(req);
	json_decref(req);
	return (n);
}

START_TEST(text_counts_its_utf8_bytes)
{
	int64_t	base, n;

	base = bound("{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}");
	ck_assert_int_eq(base, CREDITS_REQUEST_OVERHEAD +
	    CREDITS_MESSAGE_OVERHEAD + 4 /* "user" */);

	n = bound("{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}");
	ck_assert_int_eq(n, base + 5);

	/* Korean, Japanese, Chinese: 3 bytes a character, escapes decoded. */
	n = bound("{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94\"}]}");
	ck_assert_int_eq(n, base + 15);
	n = bound("{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"\\u3053\\u3093\\u306b\\u3061\\u306f\"}]}");
	ck_assert_int_eq(n, base + 15);
	n = bound("{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"\xe4\xbd\xa0\xe5\xa5\xbd\"}]}");
	ck_assert_int_eq(n, base + 6);
	/* An emoji: 4 bytes (up to 3 tokens in cl100k, 4 at worst). */
	n = bound("{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"\\ud83d\\ude00\"}]}");
	ck_assert_int_eq(n, base + 4);
}
END_TEST

START_TEST(every_message_and_part_counts)
{
	int64_t	one, two, parts;

	one = bound("{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"}"
	    "]}");
	two = bound("{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"}"
	    ",{\"role\":\"user\",\"content\":\"hi\",\"name\":\"bob\"}]}");
	ck_assert_int_eq(two - one, CREDITS_MESSAGE_OVERHEAD + 4 + 2 + 3);

	parts = bound("{\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"text\",\"text\":\"abc\"},"
	    "{\"type\":\"text\",\"text\":\"defg\"}]}]}");
	ck_assert_int_eq(parts, CREDITS_REQUEST_OVERHEAD +
	    CREDITS_MESSAGE_OVERHEAD + 4 + 2 * CREDITS_PART_OVERHEAD + 7);

	/* Assistant tool calls and tool results are prompt too. */
	one = bound("{\"messages\":[{\"role\":\"assistant\",\"content\":null,"
	    "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
	    "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"42\"}"
	    "]}");
	ck_assert_int_gt(one, CREDITS_REQUEST_OVERHEAD +
	    2 * CREDITS_MESSAGE_OVERHEAD + 6 + 1 + 7 + 6 + 2);
}
END_TEST

START_TEST(images_count_their_maximum_not_their_bytes)
{
	char	*big, *doc;
	size_t	 i, len;
	int64_t	 n;

	len = 200000;
	big = malloc(len + 1);
	for (i = 0; i < len; i++)
		big[i] = 'A';
	big[len] = '\0';
	doc = malloc(len + 256);
	snprintf(doc, len + 256, "{\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"data:image/png;base64,%s\"}}]}]}", big);
	n = bound(doc);
	ck_assert_int_eq(n, CREDITS_REQUEST_OVERHEAD +
	    CREDITS_MESSAGE_OVERHEAD + 4 + CREDITS_PART_OVERHEAD +
	    CREDITS_IMAGE_TOKENS);
	free(doc);
	free(big);

	n = bound("{\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/a.png\"}},"
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/b.png\"}}"
	    "]}]}");
	ck_assert_int_ge(n, 2 * CREDITS_IMAGE_TOKENS);
}
END_TEST

START_TEST(tools_and_schemas_count_with_a_preamble)
{
	int64_t	plain, tools;

	plain = bound("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
	tools = bound("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"description\":\"Weather now\",\"parameters\":"
	    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
	    "\"string\"}}}}}]}");
	ck_assert_int_ge(tools - plain, CREDITS_TOOLS_OVERHEAD + 100);

	tools = bound("{\"messages\":[],\"response_format\":{\"type\":"
	    "\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{}}}}");
	ck_assert_int_gt(tools, CREDITS_REQUEST_OVERHEAD + 50);
	/* An empty tools list adds only its brackets. */
	tools = bound("{\"messages\":[],\"tools\":[]}");
	ck_assert_int_eq(tools, CREDITS_REQUEST_OVERHEAD + 2);
}
END_TEST

START_TEST(malformed_shapes_still_count)
{
	ck_assert_int_gt(bound("{\"messages\":\"just a string\"}"),
	    CREDITS_REQUEST_OVERHEAD + 10);
	ck_assert_int_gt(bound("{\"messages\":[1, \"two\", null, [3]]}"),
	    CREDITS_REQUEST_OVERHEAD + 4 * CREDITS_MESSAGE_OVERHEAD);
	ck_assert_int_gt(bound("[1,2,3]"), CREDITS_REQUEST_OVERHEAD);
	ck_assert_int_eq(bound("{}"), CREDITS_REQUEST_OVERHEAD);
}
END_TEST

START_TEST(embeddings)
{
	ck_assert_int_eq(bound_embeddings("{\"input\":\"hello\"}"),
	    CREDITS_INPUT_OVERHEAD + 5);
	ck_assert_int_eq(bound_embeddings("{\"input\":[\"a\",\"bc\"]}"),
	    2 * CREDITS_INPUT_OVERHEAD + 3);
	ck_assert_int_eq(bound_embeddings("{\"input\":[1,2,3]}"),
	    3 * CREDITS_INPUT_OVERHEAD + 3);
	ck_assert_int_eq(bound_embeddings("{\"input\":[[1,2],[3]]}"),
	    2 * CREDITS_INPUT_OVERHEAD + 3);
	ck_assert_int_eq(bound_embeddings("{}"), CREDITS_INPUT_OVERHEAD);
	ck_assert_int_eq(bound_embeddings("{\"input\":[]}"),
	    CREDITS_INPUT_OVERHEAD);
}
END_TEST

START_TEST(json_bytes_is_the_compact_size)
{
	static const char	*docs[] = {
		"{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false}",
		"[\"x\",\"yz\",[],{}]",
		"{\"k\":-12345}",
	};
	json_t			*v;
	char			*s;
	size_t			 i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		v = json_loads(docs[i], 0, NULL);
		s = json_dumps(v, JSON_COMPACT);
		ck_assert_int_eq(credits_json_bytes(v), (int64_t)strlen(s));
		free(s);
		json_decref(v);
	}
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
	tcase_add_test(tc, every_message_and_part_counts);
	tcase_add_test(tc, images_count_their_maximum_not_their_bytes);
	tcase_add_test(tc, tools_and_schemas_count_with_a_preamble);
	tcase_add_test(tc, malformed_shapes_still_count);
	tcase_add_test(tc, embeddings);
	tcase_add_test(tc, json_bytes_is_the_compact_size);
	suite_add_tcase(s, tc);

	return (s);
}

TG_TEST_MAIN(prompt_suite)
