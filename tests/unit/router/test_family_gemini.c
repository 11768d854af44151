/*
 * The gemini family: OpenAI requests to generateContent requests, the
 * answers and streamGenerateContent (alt=sse) events back to OpenAI
 * shapes, embeddings, errors. Fixtures follow Google's documented wire
 * format (CRLF event framing, as the API sends it).
 */

#include "tg_test.h"
#include "family_fixture.h"

#define FAM	(&router_family_gemini)

static const char	*whole_tools =
    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
    "{\"text\":\"Let me think about the cities.\",\"thought\":true},"
    "{\"text\":\"Checking both.\"},"
    "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":"
    "\"Paris\"}},\"thoughtSignature\":\"CiQB0e2Kb\"},"
    "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"location\":"
    "\"Seoul\",\"unit\":\"c\"}}}]},\"finishReason\":\"STOP\",\"index\":0,"
    "\"safetyRatings\":[]}],"
    "\"usageMetadata\":{\"promptTokenCount\":120,\"candidatesTokenCount\":40,"
    "\"totalTokenCount\":190,\"cachedContentTokenCount\":100,"
    "\"thoughtsTokenCount\":30,\"promptTokensDetails\":[{\"modality\":"
    "\"TEXT\",\"tokenCount\":120}]},\"modelVersion\":\"gemini-2.5-flash\","
    "\"responseId\":\"mKtzaJ3cDfq4nvgP6p2Y\"}";

static const char	*sse_tools =
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Let me "
    "think\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":120,\"totalTokenCount\":120,"
    "\"cachedContentTokenCount\":100},\"modelVersion\":"
    "\"gemini-2.5-flash\",\"responseId\":\"mKtzaJ3cDfq4nvgP6p2Y\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" about the "
    "cities.\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":120,\"totalTokenCount\":150,"
    "\"cachedContentTokenCount\":100,\"thoughtsTokenCount\":30},"
    "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":"
    "\"mKtzaJ3cDfq4nvgP6p2Y\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Checking "
    "\"},{\"text\":\"both.\"}],\"role\":\"model\"},\"index\":0}],"
    "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":"
    "\"mKtzaJ3cDfq4nvgP6p2Y\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{"
    "\"name\":\"get_weather\",\"args\":{\"location\":\"Paris\"}},"
    "\"thoughtSignature\":\"CiQB0e2Kb\"},{\"functionCall\":{\"name\":"
    "\"get_weather\",\"args\":{\"location\":\"Seoul\",\"unit\":\"c\"}}}],"
    "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":120,\"candidatesTokenCount\":40,"
    "\"totalTokenCount\":190,\"cachedContentTokenCount\":100,"
    "\"thoughtsTokenCount\":30},\"modelVersion\":\"gemini-2.5-flash\","
    "\"responseId\":\"mKtzaJ3cDfq4nvgP6p2Y\"}\r\n\r\n";

static json_t *
request(struct fx *fx, const char *openai, int stream, struct router_http *h,
    char *err, size_t errlen)
{
	json_t	*req;
	int	 ok;

	req = fx_json(openai);
	memset(h, 0, sizeof(*h));
	ok = FAM->chat_request(&fx->target, req, stream, h, err, errlen);
	json_decref(req);
	return (ok ? fx_body(h) : NULL);
}

START_TEST(request_full)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *want;
	char			 err[256];

	fx_init(&fx, FAM, "http://127.0.0.1:9", "AIza-test",
	    "gemini-2.5-flash", 65536);
	body = request(&fx,
	    "{\"model\":\"gemini:gemini-2.5-flash\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"You are terse.\"},"
	    "{\"role\":\"developer\",\"content\":\"Use tools.\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Weather in Paris and Seoul? And this:\"},{\"type\":\"image_url\","
	    "\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/4AAQ\"}},"
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"https://example.com/map.png\"}}]},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	    "{\"id\":\"call_r1_0\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\"},"
	    "\"extra_content\":{\"google\":{\"thought_signature\":\"SIG\"}}},"
	    "{\"id\":\"call_r1_1\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_time\",\"arguments\":\"{}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_r1_1\",\"content\":"
	    "\"{\\\"time\\\":\\\"14:02\\\"}\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_r1_0\",\"content\":"
	    "\"18C, sunny\"},"
	    "{\"role\":\"assistant\",\"content\":\"Paris: 18C.\"},"
	    "{\"role\":\"user\",\"content\":\"Thanks\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"description\":\"Weather now\",\"parameters\":"
	    "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":"
	    "\"string\"}},\"required\":[\"location\"],"
	    "\"additionalProperties\":false}}},{\"type\":\"function\","
	    "\"function\":{\"name\":\"get_time\"}}],"
	    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\"}},"
	    "\"max_tokens\":256,\"temperature\":0.7,\"top_p\":0.95,\"seed\":7,"
	    "\"stop\":[\"END\",\"STOP\"],\"reasoning_effort\":\"low\","
	    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
	    "\"name\":\"w\",\"schema\":{\"type\":\"object\"}}}}",
	    0, &h, err, sizeof(err));
	ck_assert_msg(body != NULL, "refused: %s", err);
	want = fx_json(
	    "{\"systemInstruction\":{\"parts\":[{\"text\":\"You are terse.\"},"
	    "{\"text\":\"Use tools.\"}]},"
	    "\"contents\":["
	    "{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris and "
	    "Seoul? And this:\"},{\"inlineData\":{\"mimeType\":\"image/jpeg\","
	    "\"data\":\"/9j/4AAQ\"}},{\"fileData\":{\"mimeType\":\"image/png\","
	    "\"fileUri\":\"https://example.com/map.png\"}}]},"
	    "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
	    "\"get_weather\",\"args\":{\"location\":\"Paris\"}},"
	    "\"thoughtSignature\":\"SIG\"},{\"functionCall\":{\"name\":"
	    "\"get_time\",\"args\":{}}}]},"
	    "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":"
	    "\"get_time\",\"response\":{\"time\":\"14:02\"}}},"
	    "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{"
	    "\"result\":\"18C, sunny\"}}}]},"
	    "{\"role\":\"model\",\"parts\":[{\"text\":\"Paris: 18C.\"}]},"
	    "{\"role\":\"user\",\"parts\":[{\"text\":\"Thanks\"}]}],"
	    "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\","
	    "\"description\":\"Weather now\",\"parametersJsonSchema\":{\"type\":"
	    "\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},"
	    "\"required\":[\"location\"],\"additionalProperties\":false}},"
	    "{\"name\":\"get_time\"}]}],"
	    "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\","
	    "\"allowedFunctionNames\":[\"get_weather\"]}},"
	    "\"generationConfig\":{\"maxOutputTokens\":256,\"temperature\":0.7,"
	    "\"topP\":0.95,\"seed\":7,\"stopSequences\":[\"END\",\"STOP\"],"
	    "\"responseMimeType\":\"application/json\",\"responseJsonSchema\":"
	    "{\"type\":\"object\"},\"thinkingConfig\":{\"thinkingBudget\":1024,"
	    "\"includeThoughts\":true}}}");
	fx_assert_equal(body, want);
	ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1beta/models/"
	    "gemini-2.5-flash:generateContent");
	ck_assert_str_eq(fx_header(&h, "x-goog-api-key"), "AIza-test");
	ck_assert_str_eq(fx_header(&h, "content-type"), "application/json");
	json_decref(want);
	json_decref(body);
	router_http_free(&h);
}
END_TEST

START_TEST(request_stream_and_defaults)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body;
	char			 err[256];

	fx_init(&fx, FAM, "https://generativelanguage.googleapis.com", NULL,
	    "models/gemini-2.0-flash", 0);
	body = request(&fx, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"hi\"}]}", 1, &h, err, sizeof(err));
	ck_assert_msg(body != NULL, "%s", err);
	ck_assert_str_eq(h.url, "https://generativelanguage.googleapis.com/"
	    "v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
	ck_assert_ptr_null(fx_header(&h, "x-goog-api-key"));
	ck_assert_ptr_null(json_object_get(body, "systemInstruction"));
	ck_assert_int_eq(json_object_size(json_object_get(body,
	    "generationConfig")), 0);
	json_decref(body);
	router_http_free(&h);

	/* the model's cap when the request names none; effort none */
	fx.target.max_output_tokens = 8192;
	body = request(&fx, "{\"reasoning_effort\":\"none\",\"n\":2,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 0, &h,
	    err, sizeof(err));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    body, "generationConfig"), "maxOutputTokens")), 8192);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    body, "generationConfig"), "candidateCount")), 2);
	ck_assert(json_is_false(json_object_get(json_object_get(
	    json_object_get(body, "generationConfig"), "thinkingConfig"),
	    "includeThoughts")));
	json_decref(body);
	router_http_free(&h);
}
END_TEST

START_TEST(request_tool_choice)
{
	static const char	*cases[][2] = {
		{ "\"auto\"", "{\"mode\":\"AUTO\"}" },
		{ "\"required\"", "{\"mode\":\"ANY\"}" },
		{ "\"none\"", "{\"mode\":\"NONE\"}" },
	};
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *want;
	char			 err[256], *req;
	size_t			 i;

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-pro", 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = router_xlate_printf("{\"messages\":[{\"role\":\"user\","
		    "\"content\":\"x\"}],\"tools\":[{\"type\":\"function\","
		    "\"function\":{\"name\":\"f\"}}],\"tool_choice\":%s}",
		    cases[i][0]);
		body = request(&fx, req, 0, &h, err, sizeof(err));
		want = fx_json(cases[i][1]);
		fx_assert_equal(json_object_get(json_object_get(body,
		    "toolConfig"), "functionCallingConfig"), want);
		json_decref(want);
		json_decref(body);
		router_http_free(&h);
		free(req);
	}
}
END_TEST

START_TEST(request_refusals)
{
	static const struct {
		const char	*model;
		const char	*req;
		const char	*needle;
	} cases[] = {
		{ "gemini-2.5-flash", "{\"messages\":[{\"role\":\"tool\","
		  "\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
		  "answers no earlier tool call" },
		{ "gemini-2.5-flash", "{\"messages\":[{\"role\":\"assistant\","
		  "\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\","
		  "\"function\":{\"name\":\"f\",\"arguments\":\"nope\"}}]}]}",
		  "not a JSON object" },
		{ "../../admin", "{\"messages\":[{\"role\":\"user\",\"content\":"
		  "\"x\"}]}", "not valid" },
		{ "gemini?alt=x", "{\"messages\":[{\"role\":\"user\",\"content\":"
		  "\"x\"}]}", "not valid" },
		{ "gemini-2.5-flash", "{\"n\":99,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}]}", "between 1" },
		{ "gemini-2.5-flash", "{\"messages\":[{\"role\":\"user\","
		  "\"content\":[{\"type\":\"input_audio\"}]}]}",
		  "not supported" },
		{ "gemini-2.5-flash", "{\"messages\":[]}", "at least one" },
		{ "gemini-2.5-flash", "{\"messages\":[{\"role\":\"user\","
		  "\"content\":\"x\"}],\"tools\":{}}", "array" },
	};
	struct fx		 fx;
	struct router_http	 h;
	json_t			*req;
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_init(&fx, FAM, "http://x", "k", cases[i].model, 0);
		req = fx_json(cases[i].req);
		err[0] = '\0';
		ck_assert_msg(!FAM->chat_request(&fx.target, req, 0, &h, err,
		    sizeof(err)), "accepted %s", cases[i].req);
		ck_assert_msg(strstr(err, cases[i].needle) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
		ck_assert_ptr_null(h.body);
		ck_assert_int_eq(h.nheaders, 0);
		json_decref(req);
	}
}
END_TEST

START_TEST(response_tools_usage)
{
	struct fx		 fx;
	struct router_usage	 u;
	json_t			*c, *msg, *want;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-flash", 0);
	c = FAM->chat_response(&fx.target, whole_tools, strlen(whole_tools),
	    &u, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	msg = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
	    "message");
	want = fx_json("{\"role\":\"assistant\",\"content\":\"Checking both.\","
	    "\"refusal\":null,\"reasoning\":\"Let me think about the cities.\","
	    "\"tool_calls\":[{\"id\":\"call_mKtzaJ3cDfq4nvgP6p2Y_0\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
	    "\"{\\\"location\\\":\\\"Paris\\\"}\"},\"extra_content\":{\"google\":"
	    "{\"thought_signature\":\"CiQB0e2Kb\"}}},{\"id\":"
	    "\"call_mKtzaJ3cDfq4nvgP6p2Y_1\",\"type\":\"function\",\"function\":"
	    "{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":"
	    "\\\"Seoul\\\",\\\"unit\\\":\\\"c\\\"}\"}}]}");
	fx_assert_equal(msg, want);
	json_decref(want);
	/* STOP with function calls is tool_calls for OpenAI clients */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(c, "choices"), 0), "finish_reason")), "tool_calls");
	ck_assert_int_eq(u.prompt_tokens, 120);
	ck_assert_int_eq(u.cached_tokens, 100);
	ck_assert_int_eq(u.completion_tokens, 70);
	ck_assert_int_eq(u.reasoning_tokens, 30);
	want = fx_json("{\"prompt_tokens\":120,\"completion_tokens\":70,"
	    "\"total_tokens\":190,\"prompt_tokens_details\":{\"cached_tokens\":"
	    "100},\"completion_tokens_details\":{\"reasoning_tokens\":30}}");
	fx_assert_equal(json_object_get(c, "usage"), want);
	json_decref(want);
	ck_assert_str_eq(json_string_value(json_object_get(c, "model")),
	    "gemini-2.5-flash");
	json_decref(c);
}
END_TEST

START_TEST(response_finish_reasons)
{
	static const char	*map[][2] = {
		{ "STOP", "stop" }, { "MAX_TOKENS", "length" },
		{ "SAFETY", "content_filter" }, { "RECITATION", "content_filter" },
		{ "PROHIBITED_CONTENT", "content_filter" },
		{ "BLOCKLIST", "content_filter" }, { "SPII", "content_filter" },
		{ "IMAGE_SAFETY", "content_filter" },
		{ "MALFORMED_FUNCTION_CALL", "stop" }, { "OTHER", "stop" },
	};
	struct fx		 fx;
	struct router_usage	 u;
	json_t			*c;
	char			 err[256], *body;
	size_t			 i;

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-flash", 0);
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		body = router_xlate_printf("{\"candidates\":[{\"content\":{"
		    "\"role\":\"model\",\"parts\":[{\"text\":\"a\"},{\"text\":"
		    "\"b\"}]},\"finishReason\":\"%s\",\"index\":0}],"
		    "\"usageMetadata\":{\"promptTokenCount\":4,"
		    "\"candidatesTokenCount\":2,\"totalTokenCount\":6}}",
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
		ck_assert_int_eq(u.completion_tokens, 2);
		json_decref(c);
		free(body);
	}

	/* a blocked prompt: no candidates at all */
	body = "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},"
	    "\"usageMetadata\":{\"promptTokenCount\":9,\"totalTokenCount\":9}}";
	c = FAM->chat_response(&fx.target, body, strlen(body), &u, err,
	    sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(c, "choices"), 0), "finish_reason")),
	    "content_filter");
	ck_assert_int_eq(u.prompt_tokens, 9);
	json_decref(c);
	ck_assert_ptr_null(FAM->chat_response(&fx.target, "<html>", 6, &u,
	    err, sizeof(err)));
}
END_TEST

/* Stream and whole answer agree, tool ids included, at any read size. */
START_TEST(stream_equals_whole)
{
	struct fx		 fx;
	struct router_stream	 st;
	struct router_usage	 u;
	json_t			*chunks, *acc, *comp, *whole, *c, *tc;
	char			 err[256];
	size_t			 step, i;
	int			 bad, sig;

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-flash", 0);
	comp = FAM->chat_response(&fx.target, whole_tools, strlen(whole_tools),
	    &u, err, sizeof(err));
	whole = fx_from_completion(comp, 0);
	for (step = 0; step <= 100; step += (step < 20 ? 1 : 17)) {
		fx_stream_init(&st, &fx.target);
		chunks = fx_stream(FAM, &st, sse_tools, step, &bad);
		ck_assert_int_eq(bad, 0);
		acc = fx_accumulate(chunks, 0);
		fx_assert_equal(acc, whole);
		ck_assert(st.done);
		ck_assert_str_eq(st.finish_reason, "tool_calls");
		ck_assert_int_eq(st.tool_calls, 2);
		ck_assert_int_eq(st.usage.prompt_tokens, 120);
		ck_assert_int_eq(st.usage.completion_tokens, 70);
		ck_assert_int_eq(st.usage.cached_tokens, 100);
		ck_assert_int_eq(st.usage.reasoning_tokens, 30);
		sig = 0;
		json_array_foreach(chunks, i, c) {
			tc = json_array_get(json_object_get(json_object_get(
			    json_array_get(json_object_get(c, "choices"), 0),
			    "delta"), "tool_calls"), 0);
			if (json_object_get(tc, "extra_content") != NULL)
				sig++;
		}
		ck_assert_int_eq(sig, 1);
		json_decref(acc);
		json_decref(chunks);
	}
	json_decref(whole);
	json_decref(comp);
}
END_TEST

START_TEST(stream_two_candidates)
{
	static const char	*sse =
	    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A1\"}],"
	    "\"role\":\"model\"},\"index\":0},{\"content\":{\"parts\":[{"
	    "\"functionCall\":{\"name\":\"f\",\"args\":{}}}],\"role\":"
	    "\"model\"},\"index\":1}],\"responseId\":\"r\"}\r\n\r\n"
	    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A2\"}],"
	    "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
	    "\"responseId\":\"r\"}\r\n\r\n";
	struct fx		 fx;
	struct router_stream	 st;
	json_t			*chunks, *a0, *a1;
	int			 bad;

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-flash", 0);
	fx_stream_init(&st, &fx.target);
	chunks = fx_stream(FAM, &st, sse, 0, &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert(!st.done);	/* candidate 1 has not finished */
	a0 = fx_accumulate(chunks, 0);
	a1 = fx_accumulate(chunks, 1);
	ck_assert_str_eq(json_string_value(json_object_get(a0, "content")),
	    "A1A2");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(a1, "tool_calls"), 0), "id")), "call_r_c1_0");
	ck_assert_int_eq(st.tool_calls, 0);
	json_decref(a0);
	json_decref(a1);
	json_decref(chunks);
}
END_TEST

START_TEST(stream_error_and_bad)
{
	static const char	*sse =
	    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],"
	    "\"role\":\"model\"},\"index\":0}]}\r\n\r\n"
	    "data: {\"error\":{\"code\":503,\"message\":\"The model is "
	    "overloaded.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n";
	struct fx		 fx;
	struct router_stream	 st;
	json_t			*chunks;
	const char		*ev;
	int			 bad;

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-flash", 0);
	fx_stream_init(&st, &fx.target);
	chunks = fx_stream(FAM, &st, sse, 5, &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert(st.failed);
	ck_assert_str_eq(st.error, "UNAVAILABLE: The model is overloaded.");
	ck_assert_int_eq(json_array_size(chunks), 1);
	json_decref(chunks);

	fx_stream_init(&st, &fx.target);
	chunks = json_array();
	ck_assert(!FAM->stream_event(&st, NULL, "{\"cand", 6, chunks));
	ck_assert(!FAM->stream_event(&st, NULL, "42", 2, chunks));
	/* a blocked prompt mid-stream ends it filtered */
	ev = "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}";
	ck_assert(FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ck_assert(st.done);
	ck_assert_str_eq(st.finish_reason, "content_filter");
	/*
	 * A candidate index out of range or not an integer is a malformed
	 * event (issue 13 item 8), never candidate 0 or a silent skip.
	 */
	ev = "{\"candidates\":[{\"index\":99,\"content\":{\"parts\":[{"
	    "\"text\":\"x\"}]}}]}";
	ck_assert(!FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ck_assert_str_eq(st.error,
	    "gemini sent a candidate without a valid index");
	ev = "{\"candidates\":[{\"index\":-1}]}";
	ck_assert(!FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ev = "{\"candidates\":[{\"index\":\"0\",\"content\":{\"parts\":"
	    "[{\"text\":\"x\"}]}}]}";
	ck_assert(!FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	ev = "{\"candidates\":[{\"index\":4294967296,\"content\":{"
	    "\"parts\":[{\"text\":\"x\"}]}}]}";
	ck_assert(!FAM->stream_event(&st, NULL, ev, strlen(ev), chunks));
	json_decref(chunks);
}
END_TEST

/* The same for a whole answer: refused, not answered as candidate 0. */
START_TEST(response_bad_candidate_index)
{
	static const char	*idx[] = { "\"1\"", "-1", "8", "4294967296",
	    "1.0", "null" };
	struct fx		 fx;
	struct router_usage	 u;
	json_t			*c;
	char			 err[256], *body;
	size_t			 i;

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-flash", 0);
	for (i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		body = router_xlate_printf("{\"candidates\":[{\"index\":%s,"
		    "\"content\":{\"parts\":[{\"text\":\"hi\"}],\"role\":"
		    "\"model\"},\"finishReason\":\"STOP\"}]}", idx[i]);
		c = FAM->chat_response(&fx.target, body, strlen(body), &u, err,
		    sizeof(err));
		ck_assert_msg(c == NULL, "index %s answered", idx[i]);
		ck_assert_str_eq(err,
		    "gemini answered a candidate without a valid index");
		free(body);
	}
}
END_TEST

START_TEST(embeddings)
{
	static const char	*answer =
	    "{\"embeddings\":[{\"values\":[0.5,-1.25,0]},{\"values\":[1,2,3]}]}";
	struct fx		 fx;
	struct router_http	 h;
	struct router_usage	 u;
	json_t			*req, *body, *want, *out;
	char			 err[256];

	fx_init(&fx, FAM, "http://127.0.0.1:9", "AIza", "text-embedding-004",
	    0);
	req = fx_json("{\"model\":\"gemini:text-embedding-004\",\"input\":["
	    "\"hello\",\"world\"],\"dimensions\":3}");
	ck_assert(FAM->embed_request(&fx.target, req, &h, err, sizeof(err)));
	json_decref(req);
	ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1beta/models/"
	    "text-embedding-004:batchEmbedContents");
	ck_assert_str_eq(fx_header(&h, "x-goog-api-key"), "AIza");
	body = fx_body(&h);
	want = fx_json("{\"requests\":[{\"model\":\"models/text-embedding-004\","
	    "\"content\":{\"parts\":[{\"text\":\"hello\"}]},"
	    "\"outputDimensionality\":3},{\"model\":"
	    "\"models/text-embedding-004\",\"content\":{\"parts\":[{\"text\":"
	    "\"world\"}]},\"outputDimensionality\":3}]}");
	fx_assert_equal(body, want);
	json_decref(want);
	json_decref(body);
	router_http_free(&h);

	/* no usage reported: the caller's estimate stays */
	memset(&u, 0, sizeof(u));
	u.prompt_tokens = 4;
	out = FAM->embed_response(&fx.target, answer, strlen(answer), &u, err,
	    sizeof(err));
	ck_assert_msg(out != NULL, "%s", err);
	want = fx_json("{\"object\":\"list\",\"model\":\"text-embedding-004\","
	    "\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":"
	    "[0.5,-1.25,0]},{\"object\":\"embedding\",\"index\":1,"
	    "\"embedding\":[1,2,3]}],\"usage\":{\"prompt_tokens\":4,"
	    "\"total_tokens\":4}}");
	fx_assert_equal(out, want);
	json_decref(want);
	ck_assert(!u.reported);

	/* OpenAI's base64: little-endian float32 */
	ck_assert(router_xlate_embeddings_base64(out));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(out, "data"), 0), "embedding")), "AAAAPwAAoL8AAAAA");
	json_decref(out);

	req = fx_json("{\"input\":[[1,2,3]]}");
	ck_assert(!FAM->embed_request(&fx.target, req, &h, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "token arrays"));
	json_decref(req);
	req = fx_json("{\"input\":[]}");
	ck_assert(!FAM->embed_request(&fx.target, req, &h, err, sizeof(err)));
	json_decref(req);
	ck_assert_ptr_null(FAM->embed_response(&fx.target, "{}", 2, &u, err,
	    sizeof(err)));
}
END_TEST

START_TEST(map_errors)
{
	struct router_error	 e;
	const char		*b;

	b = "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please "
	    "pass a valid API key.\",\"status\":\"INVALID_ARGUMENT\","
	    "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
	    "ErrorInfo\",\"reason\":\"API_KEY_INVALID\",\"domain\":"
	    "\"googleapis.com\"}]}}";
	FAM->map_error(400, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 502);	/* our key, not the client's */
	ck_assert_ptr_null(strstr(e.message, "AIza"));

	b = "{\"error\":{\"code\":400,\"message\":\"Invalid JSON payload "
	    "received.\",\"status\":\"INVALID_ARGUMENT\"}}";
	FAM->map_error(400, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 400);
	ck_assert_ptr_nonnull(strstr(e.message, "Invalid JSON payload"));

	b = "[{\"error\":{\"code\":429,\"message\":\"Resource has been "
	    "exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}]";
	FAM->map_error(429, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 429);
	ck_assert_ptr_nonnull(strstr(e.message, "RESOURCE_EXHAUSTED"));

	FAM->map_error(404, "{\"error\":{\"code\":404,\"status\":"
	    "\"NOT_FOUND\"}}", 43, &e);
	ck_assert_int_eq(e.status, 502);
	FAM->map_error(503, "", 0, &e);
	ck_assert_int_eq(e.status, 502);
}
END_TEST

/* Issue 12 item 9: reasoning.max_tokens is the thinking budget as asked. */
START_TEST(request_thinking_budget)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*body, *tc;
	char			 err[256];

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-pro", 0);
	body = request(&fx, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"q\"}],\"reasoning_effort\":\"medium\",\"reasoning\":{"
	    "\"max_tokens\":3000}}", 0, &h, err, sizeof(err));
	ck_assert_msg(body != NULL, "%s", err);
	tc = json_object_get(json_object_get(body, "generationConfig"),
	    "thinkingConfig");
	ck_assert_int_eq(json_integer_value(json_object_get(tc,
	    "thinkingBudget")), 3000);
	ck_assert(json_is_true(json_object_get(tc, "includeThoughts")));
	json_decref(body);
	router_http_free(&h);

	body = request(&fx, "{\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"q\"}],\"reasoning\":{\"max_tokens\":99999}}", 0, &h, err,
	    sizeof(err));
	ck_assert_msg(body != NULL, "%s", err);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_object_get(body, "generationConfig"), "thinkingConfig"),
	    "thinkingBudget")), 32768);
	json_decref(body);
	router_http_free(&h);
}
END_TEST

/*
 * Issue 12 item 1: empty, negative or non-integer usageMetadata is
 * missing; interim chunks' promptTokenCount alone is reported (a lower
 * bound) and text_bytes counts text, thoughts and arguments.
 */
START_TEST(usage_garbage_is_missing)
{
	static const char	*usages[] = { "{}", "{\"promptTokenCount\":-1,"
	    "\"candidatesTokenCount\":4}", "{\"promptTokenCount\":\"7\","
	    "\"candidatesTokenCount\":4}", "{\"promptTokenCount\":7,"
	    "\"candidatesTokenCount\":4.5}", "{\"promptTokenCount\":7,"
	    "\"candidatesTokenCount\":9223372036854775807}" };
	struct fx		 fx;
	struct router_stream	 st;
	struct router_usage	 u;
	json_t			*c, *chunks;
	char			 err[256], *body, *sse;
	size_t			 i;
	int			 bad;

	fx_init(&fx, FAM, "http://x", "k", "gemini-2.5-pro", 0);
	for (i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
		body = router_xlate_printf("{\"candidates\":[{\"content\":{"
		    "\"parts\":[{\"text\":\"hi\"}],\"role\":\"model\"},"
		    "\"finishReason\":\"STOP\"}],\"usageMetadata\":%s}",
		    usages[i]);
		c = FAM->chat_response(&fx.target, body, strlen(body), &u, err,
		    sizeof(err));
		ck_assert_msg(c != NULL, "%s", err);
		ck_assert_msg(u.reported == 0, "usage %s reported", usages[i]);
		json_decref(c);
		free(body);

		sse = router_xlate_printf("data: {\"candidates\":[{\"content\":"
		    "{\"parts\":[{\"text\":\"hmm\",\"thought\":true},{\"text\":"
		    "\"hello\"}],\"role\":\"model\"}}],\"usageMetadata\":{"
		    "\"promptTokenCount\":9}}\n\n"
		    "data: {\"candidates\":[{\"content\":{\"parts\":["
		    "{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}}],"
		    "\"role\":\"model\"},\"finishReason\":\"STOP\"}],"
		    "\"usageMetadata\":%s}\n\n", usages[i]);
		fx_stream_init(&st, &fx.target);
		chunks = fx_stream(FAM, &st, sse, 0, &bad);
		ck_assert_int_eq(bad, 0);
		ck_assert_int_eq(st.text_bytes, 3 + 5 + strlen("{\"a\":1}"));
		if (i == 0) {
			ck_assert_int_eq(st.usage.reported, 1);
			ck_assert_int_eq(st.usage.prompt_tokens, 9);
			ck_assert_int_eq(st.usage.completion_tokens, 0);
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

/* countTokens: the generateContent request, wrapped, with its model. */
START_TEST(count_tokens)
{
	struct fx		 fx;
	struct router_http	 h;
	json_t			*req, *body, *g;
	char			 err[256];
	int64_t			 n;

	fx_init(&fx, FAM, "http://127.0.0.1:9", "AIza-test",
	    "models/gemini-2.5-flash", 65536);
	req = json_loads("{\"model\":\"x\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"terse\"},"
	    "{\"role\":\"user\",\"content\":\"hi\"}]}", 0, NULL);
	ck_assert_msg(FAM->count_request(&fx.target, req, &h, err,
	    sizeof(err)), "%s", err);
	ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1beta/models/"
	    "gemini-2.5-flash:countTokens");
	ck_assert_str_eq(fx_header(&h, "x-goog-api-key"), "AIza-test");
	body = json_loads(h.body, 0, NULL);
	ck_assert_int_eq(json_object_size(body), 1);
	g = json_object_get(body, "generateContentRequest");
	ck_assert_str_eq(json_string_value(json_object_get(g, "model")),
	    "models/gemini-2.5-flash");
	ck_assert_int_eq(json_array_size(json_object_get(g, "contents")), 1);
	ck_assert_ptr_nonnull(json_object_get(g, "systemInstruction"));
	json_decref(body);
	json_decref(req);
	router_http_free(&h);

	ck_assert(count_str("{\"totalTokens\":7,"
	    "\"promptTokensDetails\":[]}", &n));
	ck_assert_int_eq(n, 7);
	ck_assert(!count_str("{\"totalTokens\":1.5}", &n));
	ck_assert(!count_str("{\"error\":{}}", &n));
}
END_TEST

static Suite *
gemini_suite(void)
{
	Suite	*s = suite_create("family_gemini");
	TCase	*tc = tcase_create("gemini");

	tcase_add_test(tc, request_full);
	tcase_add_test(tc, request_stream_and_defaults);
	tcase_add_test(tc, request_tool_choice);
	tcase_add_test(tc, request_refusals);
	tcase_add_test(tc, response_tools_usage);
	tcase_add_test(tc, response_finish_reasons);
	tcase_add_test(tc, stream_equals_whole);
	tcase_add_test(tc, stream_two_candidates);
	tcase_add_test(tc, stream_error_and_bad);
	tcase_add_test(tc, response_bad_candidate_index);
	tcase_add_test(tc, embeddings);
	tcase_add_test(tc, map_errors);
	tcase_add_test(tc, request_thinking_budget);
	tcase_add_test(tc, usage_garbage_is_missing);
	tcase_add_test(tc, count_tokens);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(gemini_suite)
