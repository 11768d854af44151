/* Client request checks for chat completions and embeddings. */

#include <string.h>

#include "tg_test.h"
#include "router/request.h"

static int
chat(const char *text, struct router_chat_req *r, struct router_problem *pb)
{
	json_t	*doc;
	int	 ok;

	doc = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	ok = router_chat_check(doc, r, pb);
	json_decref(doc);
	return (ok);
}

#define MSG	"\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]"

START_TEST(good_requests)
{
	struct router_chat_req	r;
	struct router_problem	pb;

	ck_assert(chat("{\"model\":\"echo:echo-1\"," MSG "}", &r, &pb));
	ck_assert_int_eq(r.stream, 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.max_tokens, 0);
	ck_assert_int_eq(r.messages, 1);
	ck_assert_uint_eq(r.prompt_bytes, 8);

	ck_assert(chat("{\"model\":\"m\",\"stream\":true,\"stream_options\":"
	    "{\"include_usage\":true},\"n\":3,\"max_tokens\":7,"
	    "\"temperature\":0.5,\"stop\":[\"a\",\"b\"],"
	    "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"look\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"data:image/png;base64,AAAA\"}}]},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
	    "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	    "\"arguments\":\"{}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
	    "\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":\"auto\"}",
	    &r, &pb));
	ck_assert_int_eq(r.stream, 1);
	ck_assert_int_eq(r.include_usage, 1);
	ck_assert_int_eq(r.n, 3);
	ck_assert_int_eq(r.max_tokens, 7);
	ck_assert_str_eq(r.max_tokens_field, "max_tokens");
	ck_assert_int_eq(r.messages, 4);
	ck_assert_int_eq(r.images, 1);
	/* 8 + 4 + (2+1+2) + (2+2) + the tools JSON */
	ck_assert_uint_gt(r.prompt_bytes, 21 + 40);

	ck_assert(chat("{\"model\":\"m\",\"max_completion_tokens\":9,"
	    "\"max_tokens\":9," MSG "}", &r, &pb));
	ck_assert_int_eq(r.max_tokens, 9);
	ck_assert_str_eq(r.max_tokens_field, "max_completion_tokens");

	/*
	 * What the openai family passes on and the provider counts as
	 * prompt: legacy functions and function_call, reasoning_details
	 * (replayed as thinking blocks to anthropic).
	 */
	ck_assert(chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":null,"
	    "\"function_call\":{\"name\":\"f\",\"arguments\":"
	    "\"{\\\"q\\\":\\\"0123456789012345678901234567890123456789\\\"}\"}},"
	    "{\"role\":\"function\",\"name\":\"f\",\"content\":\"ok\"}]}",
	    &r, &pb));
	ck_assert_uint_ge(r.prompt_bytes, 2 + 1 + 48 + 1 + 2);
	ck_assert(chat("{\"model\":\"m\",\"functions\":[{\"name\":\"f\","
	    "\"parameters\":{\"type\":\"object\",\"description\":"
	    "\"0123456789012345678901234567890123456789\"}}]," MSG "}",
	    &r, &pb));
	ck_assert_uint_ge(r.prompt_bytes, 8 + 40);
	ck_assert(chat("{\"model\":\"m\",\"messages\":[{\"role\":"
	    "\"assistant\",\"content\":\"a\",\"reasoning_details\":[{\"type\":"
	    "\"reasoning.text\",\"text\":"
	    "\"0123456789012345678901234567890123456789\",\"signature\":"
	    "\"s\"}]},{\"role\":\"user\",\"content\":\"b\"}]}", &r, &pb));
	ck_assert_uint_ge(r.prompt_bytes, 1 + 40 + 1);

	/* Unknown fields pass (the family drops them); nulls: not given. */
	ck_assert(chat("{\"model\":\"m\",\"x_extension\":{\"a\":1},"
	    "\"n\":null,\"stop\":null,\"stream\":null," MSG "}", &r, &pb));

	/* Options that leave the price as the table says it. */
	ck_assert(chat("{\"model\":\"m\",\"service_tier\":\"auto\","
	    "\"modalities\":[\"text\"],\"web_search_options\":null,"
	    "\"audio\":null," MSG "}", &r, &pb));
	ck_assert(chat("{\"model\":\"m\",\"service_tier\":\"default\","
	    MSG "}", &r, &pb));
}
END_TEST

struct bad_case {
	const char	*body;
	const char	*code;
	const char	*param;
};

static const struct bad_case bad_cases[] = {
	{ "{" MSG "}", "missing_field", "model" },
	{ "{\"model\":null," MSG "}", "missing_field", "model" },
	{ "{\"model\":5," MSG "}", "invalid_value", "model" },
	{ "{\"model\":\"\"," MSG "}", "invalid_value", "model" },
	{ "{\"model\":\"m\"}", "missing_field", "messages" },
	{ "{\"model\":\"m\",\"messages\":\"hi\"}", "invalid_value",
	  "messages" },
	{ "{\"model\":\"m\",\"messages\":[]}", "invalid_value", "messages" },
	{ "{\"model\":\"m\",\"messages\":[5]}", "invalid_value", "messages" },
	{ "{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}",
	  "missing_field", "messages[0].role" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"wizard\","
	  "\"content\":\"x\"}]}", "invalid_value", "messages[0].role" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}",
	  "missing_field", "messages[0].content" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	  "\"content\":5}]}", "invalid_value", "messages[0].content" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	  "\"content\":[{\"type\":\"video\"}]}]}", "invalid_value",
	  "messages[0].content[0]" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\","
	  "\"content\":\"x\"}]}", "missing_field",
	  "messages[0].tool_call_id" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\"}]}",
	  "missing_field", "messages" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
	  "\"tool_calls\":[{\"id\":\"x\"}]}]}", "invalid_value",
	  "messages[0].tool_calls[0]" },
	{ "{\"model\":\"m\",\"stream\":\"yes\"," MSG "}", "invalid_value",
	  "stream" },
	{ "{\"model\":\"m\",\"n\":1000000," MSG "}", "invalid_value", "n" },
	{ "{\"model\":\"m\",\"n\":0," MSG "}", "invalid_value", "n" },
	{ "{\"model\":\"m\",\"n\":1.5," MSG "}", "invalid_value", "n" },
	{ "{\"model\":\"m\",\"max_tokens\":-1," MSG "}", "invalid_value",
	  "max_tokens" },
	{ "{\"model\":\"m\",\"max_tokens\":\"9\"," MSG "}", "invalid_value",
	  "max_tokens" },
	{ "{\"model\":\"m\",\"max_tokens\":9,\"max_completion_tokens\":8,"
	  MSG "}", "invalid_value", "max_tokens" },
	{ "{\"model\":\"m\",\"temperature\":7," MSG "}", "invalid_value",
	  "temperature" },
	{ "{\"model\":\"m\",\"top_p\":\"x\"," MSG "}", "invalid_value",
	  "top_p" },
	{ "{\"model\":\"m\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]," MSG "}",
	  "invalid_value", "stop" },
	{ "{\"model\":\"m\",\"stop\":5," MSG "}", "invalid_value", "stop" },
	{ "{\"model\":\"m\",\"tools\":{}," MSG "}", "invalid_value", "tools" },
	{ "{\"model\":\"m\",\"tools\":[{\"type\":\"function\"}]," MSG "}",
	  "invalid_value", "tools[0]" },
	{ "{\"model\":\"m\",\"tool_choice\":\"sometimes\"," MSG "}",
	  "invalid_value", "tool_choice" },
	{ "{\"model\":\"m\",\"response_format\":{\"type\":\"xml\"}," MSG "}",
	  "invalid_value", "response_format.type" },
	{ "{\"model\":\"m\",\"stream_options\":{\"include_usage\":\"y\"},"
	  MSG "}", "invalid_value", "stream_options.include_usage" },
	{ "{\"model\":\"m\",\"user\":5," MSG "}", "invalid_value", "user" },
	/* Options whose price the price table cannot bill. */
	{ "{\"model\":\"m\",\"service_tier\":\"priority\"," MSG "}",
	  "invalid_value", "service_tier" },
	{ "{\"model\":\"m\",\"service_tier\":\"flex\"," MSG "}",
	  "invalid_value", "service_tier" },
	{ "{\"model\":\"m\",\"service_tier\":1," MSG "}",
	  "invalid_value", "service_tier" },
	{ "{\"model\":\"m\",\"web_search_options\":{}," MSG "}",
	  "invalid_value", "web_search_options" },
	{ "{\"model\":\"m\",\"modalities\":[\"text\",\"audio\"]," MSG "}",
	  "invalid_value", "modalities" },
	{ "{\"model\":\"m\",\"modalities\":\"audio\"," MSG "}",
	  "invalid_value", "modalities" },
	{ "{\"model\":\"m\",\"audio\":{\"voice\":\"alloy\","
	  "\"format\":\"wav\"}," MSG "}", "invalid_value", "audio" },
};

START_TEST(bad_requests)
{
	struct router_chat_req	r;
	struct router_problem	pb;

	ck_assert_msg(!chat(bad_cases[_i].body, &r, &pb), "case %d passed",
	    _i);
	ck_assert_str_eq(pb.code, bad_cases[_i].code);
	ck_assert_str_eq(pb.param, bad_cases[_i].param);
	ck_assert(pb.message[0] != '\0');
}
END_TEST

static int
embed(const char *text, struct router_embed_req *r, struct router_problem *pb)
{
	json_t	*doc;
	int	 ok;

	doc = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	ok = router_embed_check(doc, r, pb);
	json_decref(doc);
	return (ok);
}

START_TEST(embeddings)
{
	struct router_embed_req	r;
	struct router_problem	pb;

	ck_assert(embed("{\"model\":\"m\",\"input\":\"hello\"}", &r, &pb));
	ck_assert_uint_eq(r.prompt_bytes, 5);
	ck_assert_int_eq(r.inputs, 1);
	ck_assert(embed("{\"model\":\"m\",\"input\":[\"ab\",\"cde\"],"
	    "\"encoding_format\":\"base64\"}", &r, &pb));
	ck_assert_uint_eq(r.prompt_bytes, 5);
	ck_assert_int_eq(r.inputs, 2);
	ck_assert(embed("{\"model\":\"m\",\"input\":[1,2,3]}", &r, &pb));
	ck_assert_uint_eq(r.prompt_bytes, 3);
	ck_assert(embed("{\"model\":\"m\",\"input\":[[1,2],[3]]}", &r, &pb));
	ck_assert_int_eq(r.inputs, 2);

	ck_assert(!embed("{\"input\":\"x\"}", &r, &pb));
	ck_assert_str_eq(pb.param, "model");
	ck_assert(!embed("{\"model\":\"m\"}", &r, &pb));
	ck_assert_str_eq(pb.code, "missing_field");
	ck_assert(!embed("{\"model\":\"m\",\"input\":\"\"}", &r, &pb));
	ck_assert(!embed("{\"model\":\"m\",\"input\":[]}", &r, &pb));
	ck_assert(!embed("{\"model\":\"m\",\"input\":[\"a\",5.5]}", &r, &pb));
	ck_assert(!embed("{\"model\":\"m\",\"input\":{}}", &r, &pb));
	ck_assert_str_eq(pb.param, "input");
	ck_assert(!embed("{\"model\":\"m\",\"input\":\"x\","
	    "\"encoding_format\":\"hex\"}", &r, &pb));
	ck_assert_str_eq(pb.param, "encoding_format");
	ck_assert(!embed("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}",
	    &r, &pb));
}
END_TEST

static Suite *
request_suite(void)
{
	Suite	*s = suite_create("request");
	TCase	*tc = tcase_create("request");

	tcase_add_test(tc, good_requests);
	tcase_add_loop_test(tc, bad_requests, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, embeddings);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(request_suite)
