/*
 * The anthropic family: OpenAI requests to Messages API requests,
 * Messages answers and stream events back to OpenAI shapes, errors.
 * Fixtures follow Anthropic's documented wire format.
 */

#include "tg_test.h"
#include "family_fixture.h"

#define FAM	(&router_family_anthropic)

/* A streamed answer: thinking, text, two parallel tool calls, a ping. */
static const char	*sse_tools =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJg"
    "AACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\","
    "\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
    "\"input_tokens\":472,\"cache_creation_input_tokens\":100,"
    "\"cache_read_input_tokens\":2000,\"output_tokens\":2}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
    "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"thinking_delta\",\"thinking\":\"The user wants weather \"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"thinking_delta\",\"thinking\":\"in two cities.\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
    "{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"I'll check both \"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"cities \\u00e9\\u00e8.\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":"
    "{\"type\":\"tool_use\",\"id\":\"toolu_01A\",\"name\":\"get_weather\","
    "\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"San\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\" Francisco, CA\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":"
    "{\"type\":\"tool_use\",\"id\":\"toolu_01B\",\"name\":\"get_time\","
    "\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{\\\"tz\\\": \\\"Europe/Paris"
    "\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}"
    "\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

/* The same answer, not streamed. */
static const char	*whole_tools =
    "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
    "\"content\":[{\"type\":\"thinking\",\"thinking\":\"The user wants "
    "weather in two cities.\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA\"},"
    "{\"type\":\"text\",\"text\":\"I'll check both cities \\u00e9\\u00e8.\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_01A\",\"name\":\"get_weather\","
    "\"input\":{\"location\":\"San Francisco, CA\"}},{\"type\":\"tool_use\","
    "\"id\":\"toolu_01B\",\"name\":\"get_time\",\"input\":{\"tz\":"
    "\"Europe/Paris\"}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":100,"
    "\"cache_read_input_tokens\":2000,\"output_tokens\":89}}";

static json_t *
request(struct fx *fx, const char *openai, int stream, struct router_http *h,
    char *err, size_t errlen)
{
	json_t	*req, *body;

	req = fx_json(openai);
	memset(h, 0, sizeof(*h));
	if (!FAM->chat_request(&fx->target, req, stream, h, err, errlen)) {
		json_decref(req);
		return (NULL);
	}
	json_decref(req);
	body = fx_body(h);
	return (body);
}

START_TEST(request_full)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *want;
	char			 err[256];

	fx_init(&fx, FAM, "http://127.0.0.1:9/anth", "sk-ant-test",
	    "claude-sonnet-4-5", 64000);
	body = request(&fx,
	    "{\"model\":\"anthropic:claude-sonnet-4-5\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"You are terse.\"},"
	    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"Use tools.\"}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"What is in this picture, and the weather?\"},{\"type\":"
	    "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
	    "iVBORw0KGgo=\"}},{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"https://example.com/cat.jpg\",\"detail\":\"high\"}}]},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	    "{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\"}},"
	    "{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_time\",\"arguments\":\"\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":"
	    "\"18C sunny\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"14:02\"}]},"
	    "{\"role\":\"user\",\"content\":\"Thanks.\"},"
	    "{\"role\":\"user\",\"content\":\"And tomorrow?\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"description\":\"Weather now\",\"parameters\":"
	    "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":"
	    "\"string\"}},\"required\":[\"location\"]}}},{\"type\":\"function\","
	    "\"function\":{\"name\":\"get_time\"}}],"
	    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\"}},\"parallel_tool_calls\":false,"
	    "\"stop\":\"END\",\"temperature\":1.5,\"top_p\":0.9,"
	    "\"max_completion_tokens\":300,\"user\":\"u-42\"}",
	    0, &h, err, sizeof(err));
	ck_assert_msg(body != NULL, "refused: %s", err);

	want = fx_json(
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":300,"
	    "\"system\":[{\"type\":\"text\",\"text\":\"You are terse.\"},"
	    "{\"type\":\"text\",\"text\":\"Use tools.\"}],"
	    "\"messages\":["
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"What is in this picture, and the weather?\"},{\"type\":\"image\","
	    "\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
	    "\"data\":\"iVBORw0KGgo=\"}},{\"type\":\"image\",\"source\":{\"type\":"
	    "\"url\",\"url\":\"https://example.com/cat.jpg\"}}]},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
	    "\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"location\":"
	    "\"Paris\"}},{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":"
	    "\"get_time\",\"input\":{}}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
	    "\"tool_use_id\":\"toolu_1\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"18C sunny\"}]},{\"type\":\"tool_result\",\"tool_use_id\":"
	    "\"toolu_2\",\"content\":[{\"type\":\"text\",\"text\":\"14:02\"}]},"
	    "{\"type\":\"text\",\"text\":\"Thanks.\"},{\"type\":\"text\",\"text\":"
	    "\"And tomorrow?\"}]}],"
	    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather now\","
	    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"location\":"
	    "{\"type\":\"string\"}},\"required\":[\"location\"]}},{\"name\":"
	    "\"get_time\",\"input_schema\":{\"type\":\"object\",\"properties\":"
	    "{}}}],"
	    "\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\","
	    "\"disable_parallel_tool_use\":true},"
	    "\"stop_sequences\":[\"END\"],\"temperature\":1.0,\"top_p\":0.9,"
	    "\"metadata\":{\"user_id\":\"u-42\"}}");
	fx_assert_equal(body, want);

	ck_assert_str_eq(h.url, "http://127.0.0.1:9/anth/v1/messages");
	ck_assert_str_eq(fx_header(&h, "x-api-key"), "sk-ant-test");
	ck_assert_str_eq(fx_header(&h, "anthropic-version"), "2023-06-01");
	ck_assert_str_eq(fx_header(&h, "content-type"), "application/json");
	ck_assert_ptr_null(fx_header(&h, "authorization"));
	json_decref(want);
	json_decref(body);
	router_http_free(&h);
}
END_TEST

/* A tool result right after user text still goes first in the turn. */
START_TEST(request_tool_result_first)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *content;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", NULL, "claude", 0);
	body = request(&fx,
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
	    "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
	    "{\"role\":\"user\",\"content\":\"wait\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":\"ok\"}]}",
	    1, &h, err, sizeof(err));
	ck_assert_msg(body != NULL, "refused: %s", err);
	content = json_object_get(json_array_get(json_object_get(body,
	    "messages"), 2), "content");
	ck_assert_int_eq(json_array_size(content), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    content, 0), "type")), "tool_result");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    content, 1), "text")), "wait");
	/* no key, no header; streaming asks for SSE; default max_tokens */
	ck_assert_ptr_null(fx_header(&h, "x-api-key"));
	ck_assert(json_is_true(json_object_get(body, "stream")));
	ck_assert_int_eq(json_integer_value(json_object_get(body,
	    "max_tokens")), 8192);
	json_decref(body);
	router_http_free(&h);
}
END_TEST

START_TEST(request_max_tokens)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "claude", 32000);
	body = request(&fx, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"hi\"}]}", 0, &h, err, sizeof(err));
	ck_assert_int_eq(json_integer_value(json_object_get(body,
	    "max_tokens")), 32000);
	ck_assert_ptr_null(json_object_get(body, "system"));
	json_decref(body);
	router_http_free(&h);

	body = request(&fx, "{\"max_tokens\":77,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}]}", 0, &h, err, sizeof(err));
	ck_assert_int_eq(json_integer_value(json_object_get(body,
	    "max_tokens")), 77);
	json_decref(body);
	router_http_free(&h);
}
END_TEST

START_TEST(request_tool_choice)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "\"auto\"", "{\"type\":\"auto\"}" },
		{ "\"required\"", "{\"type\":\"any\"}" },
		{ "\"none\"", "{\"type\":\"none\"}" },
		{ "null,\"parallel_tool_calls\":false",
		  "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}" },
		{ "\"required\",\"parallel_tool_calls\":false",
		  "{\"type\":\"any\",\"disable_parallel_tool_use\":true}" },
		{ "\"none\",\"parallel_tool_calls\":false",
		  "{\"type\":\"none\"}" },
	};
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *want;
	char			 err[256], *req;
	size_t			 i;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = router_xlate_printf("{\"messages\":[{\"role\":\"user\","
		    "\"content\":\"hi\"}],\"tools\":[{\"type\":\"function\","
		    "\"function\":{\"name\":\"f\",\"parameters\":{\"type\":"
		    "\"object\"}}}],\"tool_choice\":%s}", cases[i].in);
		body = request(&fx, req, 0, &h, err, sizeof(err));
		ck_assert_msg(body != NULL, "%s: %s", cases[i].in, err);
		want = fx_json(cases[i].out);
		fx_assert_equal(json_object_get(body, "tool_choice"), want);
		json_decref(want);
		json_decref(body);
		router_http_free(&h);
		free(req);
	}
	/* no tools: no tool_choice at all */
	body = request(&fx, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"hi\"}],\"tool_choice\":\"required\"}", 0, &h, err, sizeof(err));
	ck_assert_ptr_null(json_object_get(body, "tool_choice"));
	json_decref(body);
	router_http_free(&h);
}
END_TEST

START_TEST(request_thinking)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *want;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	body = request(&fx, "{\"max_tokens\":20000,\"temperature\":0.2,"
	    "\"reasoning_effort\":\"medium\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"think\"}]}", 0, &h, err, sizeof(err));
	want = fx_json("{\"type\":\"enabled\",\"budget_tokens\":8192}");
	fx_assert_equal(json_object_get(body, "thinking"), want);
	ck_assert_ptr_null(json_object_get(body, "temperature"));
	json_decref(want);
	json_decref(body);
	router_http_free(&h);

	/* budget kept below max_tokens */
	body = request(&fx, "{\"max_tokens\":5000,\"reasoning_effort\":"
	    "\"high\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    0, &h, err, sizeof(err));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    body, "thinking"), "budget_tokens")), 4999);
	json_decref(body);
	router_http_free(&h);

	/* too small to think, or a forced tool: no thinking, temperature kept */
	body = request(&fx, "{\"max_tokens\":500,\"reasoning_effort\":"
	    "\"high\",\"temperature\":0.5,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", 0, &h, err, sizeof(err));
	ck_assert_ptr_null(json_object_get(body, "thinking"));
	ck_assert(json_number_value(json_object_get(body, "temperature")) ==
	    0.5);
	json_decref(body);
	router_http_free(&h);
	body = request(&fx, "{\"max_tokens\":9000,\"reasoning_effort\":"
	    "\"low\",\"tool_choice\":\"required\",\"tools\":[{\"type\":"
	    "\"function\",\"function\":{\"name\":\"f\"}}],\"messages\":[{"
	    "\"role\":\"user\",\"content\":\"x\"}]}", 0, &h, err, sizeof(err));
	ck_assert_ptr_null(json_object_get(body, "thinking"));
	json_decref(body);
	router_http_free(&h);
	body = request(&fx, "{\"reasoning_effort\":\"none\",\"messages\":[{"
	    "\"role\":\"user\",\"content\":\"x\"}]}", 0, &h, err, sizeof(err));
	ck_assert_ptr_null(json_object_get(body, "thinking"));
	json_decref(body);
	router_http_free(&h);
}
END_TEST

/* Earlier thinking (with its signature) is replayed ahead of tool_use. */
START_TEST(request_reasoning_replay)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *want;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	body = request(&fx, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"w?\"},{\"role\":\"assistant\",\"content\":\"Checking.\","
	    "\"reasoning\":\"hmm\",\"reasoning_details\":[{\"type\":"
	    "\"reasoning.text\",\"text\":\"hmm\",\"signature\":\"sig1\"},"
	    "{\"type\":\"reasoning.encrypted\",\"data\":\"ENC\"}],\"tool_calls\":"
	    "[{\"id\":\"t\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	    "\"arguments\":\"{\\\"a\\\":[1,2]}\"}}]}]}", 0, &h, err,
	    sizeof(err));
	ck_assert_msg(body != NULL, "%s", err);
	want = fx_json("[{\"type\":\"thinking\",\"thinking\":\"hmm\","
	    "\"signature\":\"sig1\"},{\"type\":\"redacted_thinking\",\"data\":"
	    "\"ENC\"},{\"type\":\"text\",\"text\":\"Checking.\"},{\"type\":"
	    "\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"a\":[1,2]}}]");
	fx_assert_equal(json_object_get(json_array_get(json_object_get(body,
	    "messages"), 1), "content"), want);
	json_decref(want);
	json_decref(body);
	router_http_free(&h);
}
END_TEST

START_TEST(request_response_format)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body;
	const char		*sys;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	body = request(&fx, "{\"messages\":[{\"role\":\"system\",\"content\":"
	    "\"Be exact.\"},{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
	    "\"name\":\"r\",\"schema\":{\"type\":\"object\"}}}}", 0, &h, err,
	    sizeof(err));
	sys = json_string_value(json_object_get(body, "system"));
	ck_assert_ptr_nonnull(sys);
	ck_assert(strncmp(sys, "Be exact.\n\n", 11) == 0);
	ck_assert_ptr_nonnull(strstr(sys, "{\"type\":\"object\"}"));
	json_decref(body);
	router_http_free(&h);
}
END_TEST

START_TEST(request_refusals)
{
	static const struct {
		const char	*req;
		const char	*needle;
	} cases[] = {
		{ "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
		  "\"t\",\"type\":\"function\",\"function\":{\"name\":\"f\","
		  "\"arguments\":\"{not json\"}}]}]}", "not a JSON object" },
		{ "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
		  "\"t\",\"type\":\"function\",\"function\":{\"name\":\"f\","
		  "\"arguments\":\"[1]\"}}]}]}", "not a JSON object" },
		{ "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
		  "not supported" },
		{ "{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
		  "at least one" },
		{ "{\"messages\":\"hi\"}", "array" },
		{ "{\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
		  "n other than 1" },
		{ "{\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":"
		  "\"x\"}]}", "positive" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		  "\"input_audio\"}]}]}", "not supported" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		  "\"image_url\",\"image_url\":{\"url\":\"ftp://x\"}}]}]}",
		  "http(s)" },
		{ "{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
		  "tool_call_id" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		  "\"tools\":[{\"type\":\"web_search\"}]}", "function" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
		  "\"tool_choice\":\"sometimes\"}", "tool_choice" },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		  "\"stop\":[1]}", "stop" },
	};
	struct fx		 fx;
	struct router_http	 h;
	json_t			*req;
	char			 err[256];
	size_t			 i;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = fx_json(cases[i].req);
		err[0] = '\0';
		ck_assert_msg(!FAM->chat_request(&fx.target, req, 0, &h, err,
		    sizeof(err)), "accepted %s", cases[i].req);
		ck_assert_msg(strstr(err, cases[i].needle) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
		ck_assert_ptr_null(h.body);
		ck_assert_ptr_null(h.url);
		ck_assert_int_eq(h.nheaders, 0);
		json_decref(req);
	}
}
END_TEST

START_TEST(response_tools_and_cache)
{
	struct fx		 fx;
	struct router_usage	 u;
	json_t			*c, *want, *msg;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	c = FAM->chat_response(&fx.target, whole_tools, strlen(whole_tools),
	    &u, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	msg = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
	    "message");
	want = fx_json("{\"role\":\"assistant\",\"content\":\"I'll check both "
	    "cities \\u00e9\\u00e8.\",\"refusal\":null,\"reasoning\":\"The user "
	    "wants weather in two cities.\",\"reasoning_details\":[{\"type\":"
	    "\"reasoning.text\",\"text\":\"The user wants weather in two "
	    "cities.\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA\",\"format\":"
	    "\"anthropic-claude-v1\"}],\"tool_calls\":[{\"id\":\"toolu_01A\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	    "\"arguments\":\"{\\\"location\\\":\\\"San Francisco, CA\\\"}\"}},"
	    "{\"id\":\"toolu_01B\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"Europe/Paris\\\"}\"}}]}");
	fx_assert_equal(msg, want);
	json_decref(want);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(c, "choices"), 0), "finish_reason")), "tool_calls");
	ck_assert_str_eq(json_string_value(json_object_get(c, "model")),
	    "claude-sonnet-4-5-20250929");

	/* prompt = input + cache reads + cache writes; cached = reads */
	ck_assert_int_eq(u.prompt_tokens, 2572);
	ck_assert_int_eq(u.cached_tokens, 2000);
	ck_assert_int_eq(u.cache_creation_tokens, 100);
	ck_assert_int_eq(u.completion_tokens, 89);
	ck_assert(u.reported);
	want = fx_json("{\"prompt_tokens\":2572,\"completion_tokens\":89,"
	    "\"total_tokens\":2661,\"prompt_tokens_details\":{"
	    "\"cached_tokens\":2000,\"cache_write_tokens\":100},"
	    "\"completion_tokens_details\":{\"reasoning_tokens\":0}}");
	fx_assert_equal(json_object_get(c, "usage"), want);
	json_decref(want);
	json_decref(c);
}
END_TEST

START_TEST(response_finish_reasons)
{
	static const char	*map[][2] = {
		{ "end_turn", "stop" }, { "stop_sequence", "stop" },
		{ "pause_turn", "stop" }, { "max_tokens", "length" },
		{ "model_context_window_exceeded", "length" },
		{ "tool_use", "tool_calls" }, { "refusal", "content_filter" },
	};
	struct fx		 fx;
	struct router_usage	 u;
	json_t			*c;
	char			 err[256], *body;
	size_t			 i;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		body = router_xlate_printf("{\"id\":\"msg_1\",\"type\":"
		    "\"message\",\"role\":\"assistant\",\"model\":\"c\","
		    "\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":"
		    "\"text\",\"text\":\"b\"}],\"stop_reason\":\"%s\","
		    "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}",
		    map[i][0]);
		c = FAM->chat_response(&fx.target, body, strlen(body), &u, err,
		    sizeof(err));
		ck_assert_msg(c != NULL, "%s", err);
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_array_get(json_object_get(c, "choices"), 0),
		    "finish_reason")), map[i][1]);
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_object_get(json_array_get(json_object_get(c,
		    "choices"), 0), "message"), "content")), "ab");
		ck_assert_int_eq(u.prompt_tokens, 3);
		ck_assert_int_eq(u.cached_tokens, 0);
		json_decref(c);
		free(body);
	}
}
END_TEST

START_TEST(response_redacted_and_bad)
{
	static const char	*redacted =
	    "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"c\",\"content\":[{\"type\":\"redacted_thinking\","
	    "\"data\":\"EmwKAhgB\"},{\"type\":\"server_tool_use\",\"id\":\"s\","
	    "\"name\":\"web_search\",\"input\":{}},{\"type\":\"text\","
	    "\"text\":\"Hi\"}],\"stop_reason\":\"end_turn\",\"usage\":{"
	    "\"input_tokens\":1,\"output_tokens\":1}}";
	struct fx		 fx;
	struct router_usage	 u;
	json_t			*c, *msg;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	c = FAM->chat_response(&fx.target, redacted, strlen(redacted), &u, err,
	    sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	msg = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
	    "message");
	ck_assert_str_eq(json_string_value(json_object_get(msg, "content")),
	    "Hi");
	ck_assert_ptr_null(json_object_get(msg, "reasoning"));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(msg, "reasoning_details"), 0), "data")),
	    "EmwKAhgB");
	ck_assert_ptr_null(json_object_get(msg, "tool_calls"));
	json_decref(c);

	ck_assert_ptr_null(FAM->chat_response(&fx.target, "{\"type\":"
	    "\"error\",\"error\":{}}", 25, &u, err, sizeof(err)));
	ck_assert_ptr_null(FAM->chat_response(&fx.target, "not json", 8, &u,
	    err, sizeof(err)));
	ck_assert_ptr_null(FAM->chat_response(&fx.target, "[]", 2, &u, err,
	    sizeof(err)));
}
END_TEST

/* The stream and the whole answer say the same, at any read size. */
START_TEST(stream_equals_whole)
{
	struct fx		 fx;
	struct router_stream	 st;
	struct router_usage	 u;
	json_t			*chunks, *acc, *comp, *whole;
	char			 err[256];
	size_t			 step;
	int			 bad;

	fx_init(&fx, FAM, "http://x", "k", "claude-sonnet-4-5", 0);
	comp = FAM->chat_response(&fx.target, whole_tools, strlen(whole_tools),
	    &u, err, sizeof(err));
	whole = fx_from_completion(comp, 0);

	for (step = 0; step <= 97; step += (step < 24 ? 1 : 13)) {
		fx_stream_init(&st, &fx.target);
		chunks = fx_stream(FAM, &st, sse_tools, step, &bad);
		ck_assert_int_eq(bad, 0);
		acc = fx_accumulate(chunks, 0);
		fx_assert_equal(acc, whole);
		ck_assert(st.done);
		ck_assert(!st.failed);
		ck_assert_str_eq(st.finish_reason, "tool_calls");
		ck_assert_int_eq(st.tool_calls, 2);
		ck_assert_int_eq(st.usage.prompt_tokens, u.prompt_tokens);
		ck_assert_int_eq(st.usage.cached_tokens, 2000);
		ck_assert_int_eq(st.usage.cache_creation_tokens, 100);
		ck_assert_int_eq(st.usage.completion_tokens, 89);
		ck_assert_str_eq(st.model, "claude-sonnet-4-5-20250929");
		json_decref(acc);
		json_decref(chunks);
	}
	json_decref(whole);
	json_decref(comp);
}
END_TEST

/*
 * A tool without arguments streams an empty partial_json only; the
 * arguments must still add up to "{}", as in the whole answer.
 */
START_TEST(stream_tool_without_arguments)
{
	static const char	*sse =
	    "event: message_start\n"
	    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\","
	    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
	    "\"model\":\"claude\",\"usage\":{\"input_tokens\":9,"
	    "\"output_tokens\":1}}}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":0,"
	    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_9\","
	    "\"name\":\"get_time\",\"input\":{}}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
	    "{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
	    "event: content_block_stop\n"
	    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	    "event: message_delta\n"
	    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"tool_use\"},\"usage\":{\"output_tokens\":12}}\n\n"
	    "event: message_stop\n"
	    "data: {\"type\":\"message_stop\"}\n\n";
	static const char	*whole =
	    "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"claude\",\"content\":[{\"type\":\"tool_use\","
	    "\"id\":\"toolu_9\",\"name\":\"get_time\",\"input\":{}}],"
	    "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":9,"
	    "\"output_tokens\":12}}";
	struct fx		 fx;
	struct router_stream	 st;
	struct router_usage	 u;
	json_t			*chunks, *acc, *comp, *w;
	char			 err[256];
	int			 bad;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	comp = FAM->chat_response(&fx.target, whole, strlen(whole), &u, err,
	    sizeof(err));
	ck_assert_ptr_nonnull(comp);
	w = fx_from_completion(comp, 0);

	fx_stream_init(&st, &fx.target);
	chunks = fx_stream(FAM, &st, sse, 0, &bad);
	ck_assert_int_eq(bad, 0);
	acc = fx_accumulate(chunks, 0);
	fx_assert_equal(acc, w);
	ck_assert_int_eq(st.tool_calls, 1);
	json_decref(acc);
	json_decref(chunks);
	json_decref(w);
	json_decref(comp);
}
END_TEST

/* Tool indices count tool calls only: blocks 2 and 3 are tools 0 and 1. */
START_TEST(stream_tool_index)
{
	struct fx		 fx;
	struct router_stream	 st;
	json_t			*chunks, *c, *tc;
	size_t			 i;
	int			 bad, starts = 0;
	json_int_t		 idx;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	fx_stream_init(&st, &fx.target);
	chunks = fx_stream(FAM, &st, sse_tools, 0, &bad);
	json_array_foreach(chunks, i, c) {
		tc = json_array_get(json_object_get(json_object_get(
		    json_array_get(json_object_get(c, "choices"), 0), "delta"),
		    "tool_calls"), 0);
		if (tc == NULL)
			continue;
		idx = json_integer_value(json_object_get(tc, "index"));
		ck_assert(idx == 0 || idx == 1);
		if (json_object_get(tc, "id") != NULL) {
			ck_assert_int_eq(idx, starts);
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_object_get(tc, "function"), "arguments")), "");
			starts++;
		}
	}
	ck_assert_int_eq(starts, 2);
	/* first chunk: the role and empty content, nothing else */
	c = json_object_get(json_array_get(json_object_get(json_array_get(
	    chunks, 0), "choices"), 0), "delta");
	ck_assert_str_eq(json_string_value(json_object_get(c, "role")),
	    "assistant");
	ck_assert_str_eq(json_string_value(json_object_get(c, "content")), "");
	/* the finish chunk has an empty delta */
	c = json_array_get(json_object_get(json_array_get(chunks,
	    json_array_size(chunks) - 1), "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(c,
	    "finish_reason")), "tool_calls");
	ck_assert_int_eq(json_object_size(json_object_get(c, "delta")), 0);
	json_decref(chunks);
}
END_TEST

START_TEST(stream_error_midway)
{
	static const char	*sse =
	    "event: message_start\n"
	    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_x\","
	    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
	    "\"model\":\"claude-x\",\"usage\":{\"input_tokens\":10,"
	    "\"output_tokens\":1}}}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":0,"
	    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
	    "\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
	    "event: error\n"
	    "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	    "\"message\":\"Overloaded\"}}\n\n";
	struct fx		 fx;
	struct router_stream	 st;
	json_t			*chunks;
	int			 bad;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	fx_stream_init(&st, &fx.target);
	chunks = fx_stream(FAM, &st, sse, 7, &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert(st.failed);
	ck_assert(!st.done);
	ck_assert_str_eq(st.error, "overloaded_error: Overloaded");
	ck_assert_int_eq(json_array_size(chunks), 2);
	ck_assert_int_eq(st.usage.prompt_tokens, 10);
	ck_assert_uint_eq(st.text_bytes, 3);
	json_decref(chunks);
}
END_TEST

START_TEST(stream_out_of_ordinary)
{
	struct fx		 fx;
	struct router_stream	 st;
	json_t			*chunks;
	const char		*ev;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	fx_stream_init(&st, &fx.target);
	chunks = json_array();

	/* a text delta before any message_start still carries the role */
	ev = "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	    "\"text_delta\",\"text\":\"x\"}}";
	ck_assert(FAM->stream_event(&st, "content_block_delta", ev,
	    strlen(ev), chunks));
	ck_assert_int_eq(json_array_size(chunks), 1);
	ck_assert(st.sent_role);
	/* unknown events, pings and stops are quiet */
	ev = "{\"type\":\"future_event\",\"x\":1}";
	ck_assert(FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ev = "{\"type\":\"content_block_stop\",\"index\":9}";
	ck_assert(FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	/* redacted thinking does not crash and goes out as details */
	ev = "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
	    "{\"type\":\"redacted_thinking\",\"data\":\"ENC\"}}";
	ck_assert(FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ck_assert_int_eq(json_array_size(chunks), 2);
	/* malformed: bad JSON, no type, tool input for an unknown block */
	ck_assert(!FAM->stream_event(&st, NULL, "{\"type\":", 8, chunks));
	ck_assert(st.error[0] != '\0');
	ck_assert(!FAM->stream_event(&st, NULL, "{}", 2, chunks));
	ev = "{\"type\":\"content_block_delta\",\"index\":7,\"delta\":{\"type\":"
	    "\"input_json_delta\",\"partial_json\":\"{}\"}}";
	ck_assert(!FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	/* the event name is used when data has no type */
	ck_assert(FAM->stream_event(&st, "ping", "{}", 2, chunks));
	/* message_stop without message_delta still finishes */
	ev = "{\"type\":\"message_stop\"}";
	ck_assert(FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ck_assert(st.done);
	ck_assert_str_eq(st.finish_reason, "stop");
	ck_assert_int_eq(json_array_size(chunks), 3);
	json_decref(chunks);
}
END_TEST

/* output_tokens is cumulative: the last message_delta counts. */
START_TEST(stream_usage_cumulative)
{
	struct fx		 fx;
	struct router_stream	 st;
	json_t			*chunks;
	const char		*ev;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	fx_stream_init(&st, &fx.target);
	chunks = json_array();
	ev = "{\"type\":\"message_start\",\"message\":{\"usage\":{"
	    "\"input_tokens\":5,\"output_tokens\":1}}}";
	ck_assert(FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ev = "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null},"
	    "\"usage\":{\"output_tokens\":10}}";
	ck_assert(FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ev = "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"max_tokens\"},\"usage\":{\"input_tokens\":5,"
	    "\"cache_read_input_tokens\":7,\"output_tokens\":25}}";
	ck_assert(FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ck_assert_int_eq(st.usage.completion_tokens, 25);
	ck_assert_int_eq(st.usage.prompt_tokens, 12);
	ck_assert_int_eq(st.usage.cached_tokens, 7);
	ck_assert_str_eq(st.finish_reason, "length");
	json_decref(chunks);
}
END_TEST

START_TEST(map_errors)
{
	struct router_error	 e;
	const char		*b;

	b = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
	    "\"message\":\"Number of request tokens has exceeded your rate "
	    "limit\"}}";
	FAM->map_error(429, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.code, "rate_limited");
	ck_assert_ptr_nonnull(strstr(e.message, "rate_limit_error"));

	b = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
	    "\"message\":\"messages: roles must alternate\"}}";
	FAM->map_error(400, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 400);
	ck_assert_ptr_nonnull(strstr(e.message, "roles must alternate"));

	b = "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
	    "\"message\":\"invalid x-api-key\"}}";
	FAM->map_error(401, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.code, "upstream_error");

	b = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	    "\"message\":\"Overloaded\"}}";
	FAM->map_error(529, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 502);
	ck_assert_ptr_nonnull(strstr(e.message, "529"));

	FAM->map_error(504, "<html>", 6, &e);
	ck_assert_int_eq(e.status, 504);
	FAM->map_error(500, NULL, 0, &e);
	ck_assert_int_eq(e.status, 502);
}
END_TEST

/*
 * Issue 12 item 7: a streamed thinking answer, kept by its client the
 * way clients keep reasoning_details (every entry in order, or merged
 * by index), replays the thinking block with its whole text and its
 * signature; Anthropic refuses a signed block with other text.
 */
START_TEST(stream_thinking_replays)
{
	struct fx		 fx;
	struct router_stream	 st;
	struct router_http	 h;
	json_t			*chunks, *all, *merged, *req, *body, *want;
	const json_t		*c, *d, *e;
	char			 err[256];
	size_t			 i, j;
	int			 bad, pass;

	fx_init(&fx, FAM, "http://x", "k", "claude-sonnet-4-5", 0);
	fx_stream_init(&st, &fx.target);
	chunks = fx_stream(FAM, &st, sse_tools, 7, &bad);
	ck_assert_int_eq(bad, 0);
	all = json_array();
	merged = json_pack("[{s:s, s:s, s:s, s:i}]", "type", "reasoning.text",
	    "text", "", "signature", "", "index", 0);
	json_array_foreach(chunks, i, c) {
		d = json_object_get(json_object_get(json_array_get(
		    json_object_get(c, "choices"), 0), "delta"),
		    "reasoning_details");
		json_array_foreach(d, j, e) {
			ck_assert_int_eq(json_integer_value(json_object_get(e,
			    "index")), 0);
			json_array_append(all, (json_t *)e);
			if (json_is_string(json_object_get(e, "text")))
				json_object_set_new(json_array_get(merged, 0),
				    "text", json_sprintf("%s%s",
				    json_string_value(json_object_get(
				    json_array_get(merged, 0), "text")),
				    json_string_value(json_object_get(e,
				    "text"))));
			if (json_is_string(json_object_get(e, "signature")))
				json_object_set(json_array_get(merged, 0),
				    "signature", json_object_get(e,
				    "signature"));
		}
	}
	ck_assert_int_gt(json_array_size(all), 2);
	/* thinking, text and both calls' arguments count as output */
	ck_assert_int_eq(st.text_bytes, strlen("The user wants weather in two "
	    "cities.") + strlen("I'll check both cities \xc3\xa9\xc3\xa8.") +
	    strlen("{\"location\": \"San Francisco, CA\"}") +
	    strlen("{\"tz\": \"Europe/Paris\"}"));

	want = fx_json("{\"type\":\"thinking\",\"thinking\":\"The user wants "
	    "weather in two cities.\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA"
	    "\"}");
	for (pass = 0; pass < 2; pass++) {
		req = json_pack("{s:[{s:s, s:s}, {s:s, s:n, s:O, s:[{s:s, s:s,"
		    " s:{s:s, s:s}}]}, {s:s, s:s, s:s}]}", "messages",
		    "role", "user", "content", "w?",
		    "role", "assistant", "content", "reasoning_details",
		    pass ? merged : all, "tool_calls", "id", "toolu_01A",
		    "type", "function", "function", "name", "get_weather",
		    "arguments", "{}",
		    "role", "tool", "tool_call_id", "toolu_01A", "content",
		    "sunny");
		ck_assert(FAM->chat_request(&fx.target, req, 0, &h, err,
		    sizeof(err)));
		body = fx_body(&h);
		c = json_object_get(json_array_get(json_object_get(body,
		    "messages"), 1), "content");
		fx_assert_equal(json_array_get(c, 0), want);
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_array_get(c, 1), "type")), "tool_use");
		json_decref(body);
		json_decref(req);
		router_http_free(&h);
	}
	json_decref(want);
	json_decref(all);
	json_decref(merged);
	json_decref(chunks);
}
END_TEST

/* Issue 12 item 2: cache_control forwarded from OpenAI parts and tools. */
START_TEST(request_cache_control)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *want;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	body = request(&fx, "{\"messages\":[{\"role\":\"system\",\"content\":"
	    "[{\"type\":\"text\",\"text\":\"Big manual.\",\"cache_control\":"
	    "{\"type\":\"ephemeral\"}}]},{\"role\":\"user\",\"content\":["
	    "{\"type\":\"text\",\"text\":\"doc\",\"cache_control\":{\"type\":"
	    "\"ephemeral\",\"ttl\":\"5m\"}},{\"type\":\"text\",\"text\":\"q\"}]}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"},"
	    "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"function\","
	    "\"function\":{\"name\":\"b\",\"cache_control\":{\"type\":"
	    "\"ephemeral\"}}}],\"response_format\":{\"type\":\"json_object\"}}",
	    0, &h, err, sizeof(err));
	ck_assert_msg(body != NULL, "%s", err);
	want = fx_json("[{\"type\":\"text\",\"text\":\"Big manual.\","
	    "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\","
	    "\"text\":\"Respond with a single JSON object and nothing else.\"}]");
	fx_assert_equal(json_object_get(body, "system"), want);
	json_decref(want);
	want = fx_json("[{\"type\":\"text\",\"text\":\"doc\",\"cache_control\":"
	    "{\"type\":\"ephemeral\",\"ttl\":\"5m\"}},{\"type\":\"text\","
	    "\"text\":\"q\"}]");
	fx_assert_equal(json_object_get(json_array_get(json_object_get(body,
	    "messages"), 0), "content"), want);
	json_decref(want);
	want = fx_json("[{\"name\":\"a\",\"input_schema\":{\"type\":\"object\","
	    "\"properties\":{}},\"cache_control\":{\"type\":\"ephemeral\"}},"
	    "{\"name\":\"b\",\"input_schema\":{\"type\":\"object\","
	    "\"properties\":{}},\"cache_control\":{\"type\":\"ephemeral\"}}]");
	fx_assert_equal(json_object_get(body, "tools"), want);
	json_decref(want);
	json_decref(body);
	router_http_free(&h);

	body = request(&fx, "{\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"text\",\"text\":\"q\",\"cache_control\":{\"type\":"
	    "\"ephemeral\",\"ttl\":\"1h\"}}]}]}", 0, &h, err, sizeof(err));
	ck_assert_ptr_null(body);
	ck_assert_ptr_nonnull(strstr(err, "cache_control.ttl"));
	body = request(&fx, "{\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"text\",\"text\":\"q\",\"cache_control\":{\"type\":"
	    "\"persistent\"}}]}]}", 0, &h, err, sizeof(err));
	ck_assert_ptr_null(body);
	ck_assert_ptr_nonnull(strstr(err, "cache_control"));
}
END_TEST

/* Issue 12 item 9: reasoning.max_tokens is the budget, within limits. */
START_TEST(request_thinking_budget)
{
	static const struct {
		const char	*req;
		json_int_t	 budget;
	} cases[] = {
		{ "\"max_tokens\":8000,\"reasoning\":{\"max_tokens\":3000}", 3000 },
		{ "\"max_tokens\":8000,\"reasoning\":{\"max_tokens\":100}", 1024 },
		{ "\"max_tokens\":4000,\"reasoning\":{\"max_tokens\":9000}", 3999 },
		{ "\"max_tokens\":8000,\"reasoning_effort\":\"low\","
		  "\"reasoning\":{\"max_tokens\":3000}", 3000 },
	};
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body;
	char			 err[256], *js;
	size_t			 i;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		js = router_xlate_printf("{\"messages\":[{\"role\":\"user\","
		    "\"content\":\"q\"}],%s}", cases[i].req);
		body = request(&fx, js, 0, &h, err, sizeof(err));
		free(js);
		ck_assert_msg(body != NULL, "%s", err);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    json_object_get(body, "thinking"), "budget_tokens")),
		    cases[i].budget);
		json_decref(body);
		router_http_free(&h);
	}
}
END_TEST

/* Issue 12 item 10: the stop sequence that ended it, whole and streamed. */
START_TEST(stop_sequence)
{
	static const char	*whole =
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"claude\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"a b \"}],\"stop_reason\":\"stop_sequence\",\"stop_sequence\":"
	    "\"END\",\"usage\":{\"input_tokens\":5,\"output_tokens\":3}}";
	static const char	*sse =
	    "event: message_start\n"
	    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
	    "\"model\":\"claude\",\"usage\":{\"input_tokens\":5,"
	    "\"output_tokens\":1}}}\n\n"
	    "event: message_delta\n"
	    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"stop_sequence\",\"stop_sequence\":\"END\"},\"usage\":{"
	    "\"output_tokens\":3}}\n\n"
	    "event: message_stop\n"
	    "data: {\"type\":\"message_stop\"}\n\n";
	struct fx		 fx;
	struct router_stream	 st;
	struct router_usage	 u;
	json_t			*c, *chunks, *ch;
	char			 err[256];
	int			 bad;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	c = FAM->chat_response(&fx.target, whole, strlen(whole), &u, err,
	    sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ch = json_array_get(json_object_get(c, "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(ch,
	    "finish_reason")), "stop");
	ck_assert_str_eq(json_string_value(json_object_get(ch,
	    "stop_reason")), "END");
	json_decref(c);

	fx_stream_init(&st, &fx.target);
	chunks = fx_stream(FAM, &st, sse, 0, &bad);
	ck_assert_int_eq(bad, 0);
	ch = json_array_get(json_object_get(json_array_get(chunks,
	    json_array_size(chunks) - 1), "choices"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(ch,
	    "finish_reason")), "stop");
	ck_assert_str_eq(json_string_value(json_object_get(ch,
	    "stop_reason")), "END");
	json_decref(chunks);
}
END_TEST

/* Issue 12 item 1: empty, negative or non-integer usage is missing. */
START_TEST(usage_garbage_is_missing)
{
	static const char	*usages[] = { "{}", "{\"input_tokens\":-5,"
	    "\"output_tokens\":10}", "{\"input_tokens\":\"12\","
	    "\"output_tokens\":10}", "{\"input_tokens\":12,\"output_tokens\":"
	    "1.5}", "[]" };
	struct fx		 fx;
	struct router_stream	 st;
	struct router_usage	 u;
	json_t			*c, *chunks;
	char			 err[256], *body, *sse;
	size_t			 i;
	int			 bad;

	fx_init(&fx, FAM, "http://x", "k", "claude", 0);
	for (i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
		body = router_xlate_printf("{\"type\":\"message\",\"content\":"
		    "[{\"type\":\"text\",\"text\":\"hi\"}],\"stop_reason\":"
		    "\"end_turn\",\"usage\":%s}", usages[i]);
		c = FAM->chat_response(&fx.target, body, strlen(body), &u, err,
		    sizeof(err));
		ck_assert_msg(c != NULL, "%s", err);
		ck_assert_msg(u.reported == 0, "usage %s reported", usages[i]);
		ck_assert_int_eq(u.prompt_tokens + u.completion_tokens, 0);
		json_decref(c);
		free(body);

		/* a good message_start, then garbage at the end */
		sse = router_xlate_printf("event: message_start\ndata: {\"type\":"
		    "\"message_start\",\"message\":{\"usage\":{\"input_tokens\":"
		    "9,\"output_tokens\":1}}}\n\nevent: content_block_start\n"
		    "data: {\"type\":\"content_block_start\",\"index\":0,"
		    "\"content_block\":{\"type\":\"text\",\"text\":\"hello\"}}\n\n"
		    "event: message_delta\ndata: {\"type\":\"message_delta\","
		    "\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":%s}\n\n"
		    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		    usages[i]);
		fx_stream_init(&st, &fx.target);
		chunks = fx_stream(FAM, &st, sse, 0, &bad);
		ck_assert_int_eq(bad, 0);
		ck_assert_int_eq(st.text_bytes, 5);
		if (i == 0) {
			/* empty: message_start's count stands (a lower bound) */
			ck_assert_int_eq(st.usage.reported, 1);
			ck_assert_int_eq(st.usage.prompt_tokens, 9);
		} else
			ck_assert_msg(st.usage.reported == 0, "stream usage %s "
			    "reported", usages[i]);
		json_decref(chunks);
		free(sse);
	}
}
END_TEST

static int
count_str(const char *s, int64_t *n)
{
	return (FAM->count_response(s, strlen(s), n));
}

/* count_tokens: the Messages request's prompt fields, at its own path. */
START_TEST(count_tokens)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*req, *body;
	char			 err[256];
	int64_t			 n;

	fx_init(&fx, FAM, "http://127.0.0.1:9", "sk-ant-test", "claude", 64000);
	req = json_loads("{\"model\":\"x\",\"max_tokens\":64000,"
	    "\"temperature\":0.5,\"user\":\"u\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"terse\"},"
	    "{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":"
	    "\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
	    "{\"type\":\"object\"}}}],\"reasoning\":{\"max_tokens\":2048}}",
	    0, NULL);
	ck_assert_ptr_nonnull(req);
	ck_assert_msg(FAM->count_request(&fx.target, req, &h, err,
	    sizeof(err)), "%s", err);
	ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1/messages/count_tokens");
	ck_assert_str_eq(fx_header(&h, "x-api-key"), "sk-ant-test");
	ck_assert_str_eq(fx_header(&h, "anthropic-version"), "2023-06-01");
	body = json_loads(h.body, 0, NULL);
	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq(json_object_size(body), 5);
	ck_assert_str_eq(json_string_value(json_object_get(body, "model")),
	    "claude");
	ck_assert_ptr_nonnull(json_object_get(body, "messages"));
	ck_assert_ptr_nonnull(json_object_get(body, "system"));
	ck_assert_ptr_nonnull(json_object_get(body, "tools"));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    body, "thinking"), "budget_tokens")), 2048);
	json_decref(body);
	json_decref(req);
	router_http_free(&h);

	ck_assert(count_str("{\"input_tokens\":42}", &n));
	ck_assert_int_eq(n, 42);
	ck_assert(!count_str("{\"input_tokens\":-1}", &n));
	ck_assert(!count_str("{\"input_tokens\":\"4\"}", &n));
	ck_assert(!count_str("{}", &n));
	ck_assert(!count_str("nope", &n));
}
END_TEST

static Suite *
anthropic_suite(void)
{
	Suite	*s = suite_create("family_anthropic");
	TCase	*tc = tcase_create("anthropic");

	tcase_add_test(tc, request_full);
	tcase_add_test(tc, request_tool_result_first);
	tcase_add_test(tc, request_max_tokens);
	tcase_add_test(tc, request_tool_choice);
	tcase_add_test(tc, request_thinking);
	tcase_add_test(tc, request_reasoning_replay);
	tcase_add_test(tc, request_response_format);
	tcase_add_test(tc, request_refusals);
	tcase_add_test(tc, response_tools_and_cache);
	tcase_add_test(tc, response_finish_reasons);
	tcase_add_test(tc, response_redacted_and_bad);
	tcase_add_test(tc, stream_equals_whole);
	tcase_add_test(tc, stream_tool_index);
	tcase_add_test(tc, stream_tool_without_arguments);
	tcase_add_test(tc, stream_error_midway);
	tcase_add_test(tc, stream_out_of_ordinary);
	tcase_add_test(tc, stream_usage_cumulative);
	tcase_add_test(tc, map_errors);
	tcase_add_test(tc, stream_thinking_replays);
	tcase_add_test(tc, request_cache_control);
	tcase_add_test(tc, request_thinking_budget);
	tcase_add_test(tc, stop_sequence);
	tcase_add_test(tc, usage_garbage_is_missing);
	tcase_add_test(tc, count_tokens);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(anthropic_suite)
