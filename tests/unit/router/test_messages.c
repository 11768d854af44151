/*
 * The /v1/messages surface: Anthropic requests to OpenAI requests,
 * OpenAI answers and chunks back to Anthropic messages and SSE events
 * (exact bytes), and a round trip Anthropic SSE -> anthropic family ->
 * OpenAI chunks -> messages stream that must rebuild the same message as
 * the non-streamed path.
 */

#include <ctype.h>

#include "tg_test.h"
#include "family_fixture.h"
#include "router/messages.h"

static json_t *
to_openai(const char *s, int *status, char *err, size_t errlen)
{
	json_t	*req, *out;

	req = fx_json(s);
	out = router_messages_request_to_openai(req, status, err, errlen);
	json_decref(req);
	return (out);
}

START_TEST(request_full)
{
	json_t	*out, *want;
	char	 err[256];
	int	 status;

	out = to_openai(
	    "{\"model\":\"anthropic:claude-sonnet-4-5\",\"max_tokens\":1024,"
	    "\"system\":[{\"type\":\"text\",\"text\":\"You are terse.\","
	    "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\","
	    "\"text\":\"Use tools.\"}],"
	    "\"messages\":["
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Look:\"},{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"image/png\",\"data\":\"iVBO\"}},{\"type\":"
	    "\"image\",\"source\":{\"type\":\"url\",\"url\":"
	    "\"https://example.com/a.jpg\"}},{\"type\":\"document\",\"source\":"
	    "{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":"
	    "\"JVBERi0\"}}]},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
	    "\"thinking\":\"hmm\",\"signature\":\"sig\"},{\"type\":\"text\","
	    "\"text\":\"Checking.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\","
	    "\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},{\"type\":"
	    "\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_time\",\"input\":"
	    "{}}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
	    "\"tool_use_id\":\"toolu_1\",\"content\":\"18C\"},{\"type\":"
	    "\"tool_result\",\"tool_use_id\":\"toolu_2\",\"is_error\":false,"
	    "\"content\":[{\"type\":\"text\",\"text\":\"14:02\"},{\"type\":"
	    "\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
	    "\"image/jpeg\",\"data\":\"/9j\"}}]},{\"type\":\"text\",\"text\":"
	    "\"Go on.\"}]},"
	    "{\"role\":\"assistant\",\"content\":\"Sure\"}],"
	    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\","
	    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{"
	    "\"type\":\"string\"}}}},{\"type\":\"custom\",\"name\":\"get_time\","
	    "\"input_schema\":{\"type\":\"object\"}}],"
	    "\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\","
	    "\"disable_parallel_tool_use\":true},"
	    "\"stop_sequences\":[\"END\"],\"temperature\":0.3,\"top_p\":0.9,"
	    "\"top_k\":5,\"stream\":true,\"thinking\":{\"type\":\"enabled\","
	    "\"budget_tokens\":4000},\"metadata\":{\"user_id\":\"u-1\"}}",
	    &status, err, sizeof(err));
	ck_assert_msg(out != NULL, "%d %s", status, err);
	want = fx_json(
	    "{\"model\":\"anthropic:claude-sonnet-4-5\",\"max_tokens\":1024,"
	    "\"messages\":["
	    "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"You are terse.\",\"cache_control\":{\"type\":\"ephemeral\"}},"
	    "{\"type\":\"text\",\"text\":\"Use tools.\"}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Look:\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"data:image/png;base64,iVBO\"}},{\"type\":\"image_url\","
	    "\"image_url\":{\"url\":\"https://example.com/a.jpg\"}},{\"type\":"
	    "\"file\",\"file\":{\"filename\":\"document.pdf\",\"file_data\":"
	    "\"data:application/pdf;base64,JVBERi0\"}}]},"
	    "{\"role\":\"assistant\",\"content\":\"Checking.\",\"reasoning\":"
	    "\"hmm\",\"reasoning_details\":[{\"type\":\"reasoning.text\","
	    "\"text\":\"hmm\",\"signature\":\"sig\",\"format\":"
	    "\"anthropic-claude-v1\"}],\"tool_calls\":[{\"id\":\"toolu_1\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	    "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},{\"id\":"
	    "\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_time\",\"arguments\":\"{}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":"
	    "\"18C\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":"
	    "\"14:02\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
	    "\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j\"}},{\"type\":"
	    "\"text\",\"text\":\"Go on.\"}]},"
	    "{\"role\":\"assistant\",\"content\":\"Sure\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"description\":\"Weather\",\"parameters\":{"
	    "\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
	    "\"string\"}}}}},{\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_time\",\"parameters\":{\"type\":\"object\"}}}],"
	    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\"}},\"parallel_tool_calls\":false,"
	    "\"stop\":[\"END\"],\"temperature\":0.3,\"top_p\":0.9,"
	    "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	    "\"reasoning_effort\":\"medium\",\"reasoning\":{\"max_tokens\":"
	    "4000},\"user\":\"u-1\"}");
	fx_assert_equal(out, want);
	json_decref(want);
	json_decref(out);

	out = to_openai("{\"model\":\"m\",\"max_tokens\":5,\"system\":\"S\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &status,
	    err, sizeof(err));
	want = fx_json("{\"model\":\"m\",\"max_tokens\":5,\"messages\":["
	    "{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\","
	    "\"content\":\"hi\"}]}");
	fx_assert_equal(out, want);
	json_decref(want);
	json_decref(out);
}
END_TEST

START_TEST(request_tool_choice)
{
	static const char	*cases[][2] = {
		{ "{\"type\":\"auto\"}", "\"auto\"" },
		{ "{\"type\":\"any\"}", "\"required\"" },
		{ "{\"type\":\"none\"}", "\"none\"" },
	};
	json_t	*out, *want;
	char	 err[256], *req;
	size_t	 i;
	int	 status;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = router_xlate_printf("{\"model\":\"m\",\"max_tokens\":5,"
		    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		    "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":"
		    "\"object\"}}],\"tool_choice\":%s}", cases[i][0]);
		out = to_openai(req, &status, err, sizeof(err));
		ck_assert_msg(out != NULL, "%s", err);
		want = fx_json(cases[i][1]);
		fx_assert_equal(json_object_get(out, "tool_choice"), want);
		ck_assert_ptr_null(json_object_get(out, "parallel_tool_calls"));
		json_decref(want);
		json_decref(out);
		free(req);
	}
}
END_TEST

START_TEST(request_invalid)
{
	static const struct {
		const char	*req;
		const char	*needle;
	} cases[] = {
		{ "[]", "JSON object" },
		{ "{\"max_tokens\":5,\"messages\":[]}", "model: Field required" },
		{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
		  "\"x\"}]}", "max_tokens: Field required" },
		{ "{\"model\":\"m\",\"max_tokens\":0,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}]}", "greater than or equal to 1" },
		{ "{\"model\":\"m\",\"max_tokens\":\"5\",\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}]}", "max_tokens" },
		{ "{\"model\":\"m\",\"max_tokens\":5}", "messages: Field" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[]}",
		  "at least one" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"system\",\"content\":\"x\"}]}", "'user' or 'assistant'" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":5}]}", "messages.0.content" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":[{\"type\":\"video\"}]}]}",
		  "'video' is not supported" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":"
		  "\"file\"}}]}]}", "source.type" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}",
		  "tool_use_id" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
		  "\"name\":\"f\",\"input\":\"x\"}]}]}", "input object" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
		  "\"web_search_20250305\",\"name\":\"web_search\"}]}",
		  "not supported" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}],\"tools\":[{\"name\":\"f\"}]}",
		  "input_schema" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}],\"temperature\":3}",
		  "temperature" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}],\"stop_sequences\":\"END\"}",
		  "stop_sequences" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}", "stream" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}],\"thinking\":{\"type\":"
		  "\"enabled\",\"budget_tokens\":10}}", "budget_tokens" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}],\"tools\":[{\"name\":\"f\","
		  "\"input_schema\":{}}],\"tool_choice\":{\"type\":\"tool\"}}",
		  "tool_choice.name" },
		{ "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
		  "\"user\",\"content\":\"x\"}],\"system\":42}", "system" },
	};
	json_t	*out;
	char	 err[256];
	size_t	 i;
	int	 status;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		status = 0;
		out = to_openai(cases[i].req, &status, err, sizeof(err));
		ck_assert_msg(out == NULL, "accepted %s", cases[i].req);
		ck_assert_int_eq(status, 400);
		ck_assert_msg(strstr(err, cases[i].needle) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
	}
}
END_TEST

START_TEST(response_from_openai)
{
	struct router_usage	 u;
	json_t			*comp, *msg, *want;
	static const char	*map[][2] = {
		{ "stop", "end_turn" }, { "length", "max_tokens" },
		{ "tool_calls", "tool_use" }, { "content_filter", "refusal" },
		{ "function_call", "tool_use" },
	};
	size_t			 i;

	comp = fx_json("{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\","
	    "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{"
	    "\"role\":\"assistant\",\"content\":\"Checking.\",\"reasoning\":"
	    "\"hmm\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
	    "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},"
	    "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"g\",\"arguments\":\"{broken\"}}]},\"finish_reason\":"
	    "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":100,"
	    "\"completion_tokens\":20,\"total_tokens\":120,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":60}}}");
	msg = router_messages_response_from_openai(comp, NULL);
	want = fx_json("{\"id\":\"msg_chatcmpl-9\",\"type\":\"message\","
	    "\"role\":\"assistant\",\"model\":\"gpt-4o\",\"content\":["
	    "{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"\"},"
	    "{\"type\":\"text\",\"text\":\"Checking.\"},{\"type\":\"tool_use\","
	    "\"id\":\"call_1\",\"name\":\"f\",\"input\":{\"a\":1}},{\"type\":"
	    "\"tool_use\",\"id\":\"call_2\",\"name\":\"g\",\"input\":{}}],"
	    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{"
	    "\"input_tokens\":40,\"output_tokens\":20,"
	    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":60}}");
	fx_assert_equal(msg, want);
	json_decref(want);
	json_decref(msg);

	/* the router's usage wins: cache writes are only known there */
	memset(&u, 0, sizeof(u));
	u.prompt_tokens = 2572;
	u.cached_tokens = 2000;
	u.cache_creation_tokens = 100;
	u.completion_tokens = 89;
	msg = router_messages_response_from_openai(comp, &u);
	want = fx_json("{\"input_tokens\":472,\"output_tokens\":89,"
	    "\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":"
	    "2000}");
	fx_assert_equal(json_object_get(msg, "usage"), want);
	json_decref(want);
	json_decref(msg);
	json_decref(comp);

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		ck_assert_str_eq(router_messages_stop_reason(map[i][0]),
		    map[i][1]);
	ck_assert_str_eq(router_messages_stop_reason(NULL), "end_turn");

	comp = fx_json("{\"choices\":[]}");
	ck_assert_ptr_null(router_messages_response_from_openai(comp, NULL));
	json_decref(comp);
}
END_TEST

static json_t *
chunk(const char *delta, const char *finish)
{
	char	*s;
	json_t	*c;

	s = router_xlate_printf("{\"id\":\"chatcmpl-7\",\"object\":"
	    "\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\","
	    "\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}",
	    delta, finish ? finish : "null");
	c = fx_json(s);
	free(s);
	return (c);
}

static void
feed(struct router_messages_stream *ms, struct router_xbuf *out,
    const char *delta, const char *finish)
{
	json_t	*c;

	c = chunk(delta, finish);
	ck_assert(router_messages_stream_chunk(ms, c, out));
	json_decref(c);
}

/* The exact bytes of a short text answer. */
START_TEST(stream_exact_bytes)
{
	struct router_messages_stream	 ms;
	struct router_xbuf		 out = { NULL, 0, 0 };
	struct router_usage		 u;
	json_t				*c;

	memset(&ms, 0, sizeof(ms));
	feed(&ms, &out, "{\"role\":\"assistant\",\"content\":\"\"}", NULL);
	feed(&ms, &out, "{\"content\":\"Hi\"}", NULL);
	feed(&ms, &out, "{\"content\":\" there\"}", NULL);
	feed(&ms, &out, "{}", "\"stop\"");
	c = fx_json("{\"id\":\"chatcmpl-7\",\"object\":"
	    "\"chat.completion.chunk\",\"choices\":[],\"usage\":{"
	    "\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}");
	ck_assert(router_messages_stream_chunk(&ms, c, &out));
	json_decref(c);
	memset(&u, 0, sizeof(u));
	u.prompt_tokens = 12;
	u.completion_tokens = 3;
	ck_assert(router_messages_stream_finish(&ms, &u, &out));
	ck_assert(router_messages_stream_finish(&ms, &u, &out));
	ck_assert_str_eq(out.data,
	    "event: message_start\n"
	    "data: {\"type\":\"message_start\",\"message\":{\"id\":"
	    "\"msg_chatcmpl-7\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"gpt-4o\",\"content\":[],\"stop_reason\":null,"
	    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,"
	    "\"output_tokens\":0,\"cache_creation_input_tokens\":0,"
	    "\"cache_read_input_tokens\":0}}}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":0,"
	    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
	    "\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
	    "\"type\":\"text_delta\",\"text\":\" there\"}}\n\n"
	    "event: content_block_stop\n"
	    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	    "event: message_delta\n"
	    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":"
	    "12,\"output_tokens\":3,\"cache_creation_input_tokens\":0,"
	    "\"cache_read_input_tokens\":0}}\n\n"
	    "event: message_stop\n"
	    "data: {\"type\":\"message_stop\"}\n\n");
	router_xbuf_free(&out);

	/* error and ping events */
	memset(&ms, 0, sizeof(ms));
	ck_assert(router_messages_stream_error(&ms, "overloaded_error",
	    "Overloaded", &out));
	ck_assert(router_messages_stream_ping(&out));
	ck_assert_str_eq(out.data, "event: error\ndata: {\"type\":\"error\","
	    "\"error\":{\"type\":\"overloaded_error\",\"message\":"
	    "\"Overloaded\"}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n");
	router_xbuf_free(&out);
}
END_TEST

/*
 * Parses our SSE output like the Anthropic SDK's MessageStream: builds the
 * final message from the events, checking their order.
 */
static json_t *
sdk_accumulate(const char *sse)
{
	struct router_sse	 p;
	struct router_sse_event	 ev;
	json_t			*msg = NULL, *d, *blk, *content, *v, *u;
	size_t			 off = 0, len = strlen(sse);
	ssize_t			 r;
	json_int_t		 idx;
	int			 open = -1, stopped = 0;
	char			*s;
	const char		*type;

	memset(&p, 0, sizeof(p));
	while (off < len) {
		r = router_sse_parse(&p, sse + off, len - off, &ev);
		ck_assert_int_gt(r, 0);
		off += (size_t)r;
		d = fx_json(ev.data);
		type = json_string_value(json_object_get(d, "type"));
		ck_assert_str_eq(type, ev.event);
		ck_assert_msg(!stopped, "event after message_stop");
		if (!strcmp(type, "message_start")) {
			ck_assert_ptr_null(msg);
			msg = json_deep_copy(json_object_get(d, "message"));
		} else if (!strcmp(type, "content_block_start")) {
			ck_assert_int_eq(open, -1);
			content = json_object_get(msg, "content");
			idx = json_integer_value(json_object_get(d, "index"));
			ck_assert_int_eq(idx, json_array_size(content));
			json_array_append(content, json_object_get(d,
			    "content_block"));
			open = (int)idx;
		} else if (!strcmp(type, "content_block_delta")) {
			idx = json_integer_value(json_object_get(d, "index"));
			ck_assert_int_eq(idx, open);
			blk = json_array_get(json_object_get(msg, "content"),
			    idx);
			v = json_object_get(d, "delta");
			type = json_string_value(json_object_get(v, "type"));
			if (!strcmp(type, "text_delta") ||
			    !strcmp(type, "thinking_delta")) {
				const char *k = !strcmp(type, "text_delta") ?
				    "text" : "thinking";
				s = router_xlate_printf("%s%s",
				    json_string_value(json_object_get(blk, k)),
				    json_string_value(json_object_get(v, k)));
				json_object_set_new(blk, k, json_string(s));
				free(s);
			} else if (!strcmp(type, "signature_delta")) {
				json_object_set(blk, "signature",
				    json_object_get(v, "signature"));
			} else if (!strcmp(type, "input_json_delta")) {
				const char *b = json_string_value(
				    json_object_get(blk, "_json"));
				s = router_xlate_printf("%s%s", b ? b : "",
				    json_string_value(json_object_get(v,
				    "partial_json")));
				json_object_set_new(blk, "_json",
				    json_string(s));
				free(s);
			} else
				ck_abort_msg("unknown delta %s", type);
		} else if (!strcmp(type, "content_block_stop")) {
			idx = json_integer_value(json_object_get(d, "index"));
			ck_assert_int_eq(idx, open);
			blk = json_array_get(json_object_get(msg, "content"),
			    idx);
			v = json_object_get(blk, "_json");
			if (v != NULL) {
				json_object_set_new(blk, "input", json_loads(
				    json_string_value(v), 0, NULL));
				json_object_del(blk, "_json");
			}
			open = -1;
		} else if (!strcmp(type, "message_delta")) {
			ck_assert_int_eq(open, -1);
			json_object_update(msg, json_object_get(d, "delta"));
			u = json_object_get(msg, "usage");
			json_object_update(u, json_object_get(d, "usage"));
		} else if (!strcmp(type, "message_stop")) {
			stopped = 1;
		}
		json_decref(d);
	}
	router_sse_free(&p);
	ck_assert(stopped);
	return (msg);
}

/*
 * Anthropic upstream, any client of /v1/messages: streamed through the
 * family and the messages stream, the message rebuilt by an SDK-like
 * reader equals the non-streamed translation of the same answer.
 */
START_TEST(stream_round_trip)
{
	static const char	*sse =
	    "event: message_start\n"
	    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\","
	    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
	    "\"model\":\"claude-x\",\"usage\":{\"input_tokens\":50,"
	    "\"cache_read_input_tokens\":30,\"cache_creation_input_tokens\":5,"
	    "\"output_tokens\":1}}}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":0,"
	    "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
	    "\"type\":\"thinking_delta\",\"thinking\":\"Plan.\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
	    "\"type\":\"signature_delta\",\"signature\":\"S1\"}}\n\n"
	    "event: content_block_stop\n"
	    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":1,"
	    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{"
	    "\"type\":\"text_delta\",\"text\":\"Two calls.\"}}\n\n"
	    "event: content_block_stop\n"
	    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":2,"
	    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_a\","
	    "\"name\":\"f\",\"input\":{}}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{"
	    "\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"x\\\":\"}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{"
	    "\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
	    "event: content_block_stop\n"
	    "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
	    "event: content_block_start\n"
	    "data: {\"type\":\"content_block_start\",\"index\":3,"
	    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_b\","
	    "\"name\":\"g\",\"input\":{}}}\n\n"
	    "event: content_block_delta\n"
	    "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{"
	    "\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
	    "event: content_block_stop\n"
	    "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n"
	    "event: message_delta\n"
	    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"tool_use\"},\"usage\":{\"output_tokens\":40}}\n\n"
	    "event: message_stop\n"
	    "data: {\"type\":\"message_stop\"}\n\n";
	static const char	*whole =
	    "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\","
	    "\"model\":\"claude-x\",\"content\":[{\"type\":\"thinking\","
	    "\"thinking\":\"Plan.\",\"signature\":\"S1\"},{\"type\":\"text\","
	    "\"text\":\"Two calls.\"},{\"type\":\"tool_use\",\"id\":\"toolu_a\","
	    "\"name\":\"f\",\"input\":{\"x\":1}},{\"type\":\"tool_use\",\"id\":"
	    "\"toolu_b\",\"name\":\"g\",\"input\":{}}],\"stop_reason\":"
	    "\"tool_use\",\"usage\":{\"input_tokens\":50,"
	    "\"cache_read_input_tokens\":30,\"cache_creation_input_tokens\":5,"
	    "\"output_tokens\":40}}";
	const struct router_family	*fam = &router_family_anthropic;
	struct router_messages_stream	 ms;
	struct router_xbuf		 out = { NULL, 0, 0 };
	struct router_stream		 st;
	struct router_usage		 u;
	struct fx			 fx;
	json_t				*chunks, *c, *comp, *want, *got, *orig;
	char				 err[256];
	size_t				 i;
	int				 bad;

	fx_init(&fx, fam, "http://x", "k", "claude-x", 0);
	fx_stream_init(&st, &fx.target);
	chunks = fx_stream(fam, &st, sse, 3, &bad);
	ck_assert_int_eq(bad, 0);

	memset(&ms, 0, sizeof(ms));
	router_messages_stream_init(&ms, "msg_01", NULL);
	json_array_foreach(chunks, i, c)
		ck_assert(router_messages_stream_chunk(&ms, c, &out));
	ck_assert(router_messages_stream_finish(&ms, &st.usage, &out));
	got = sdk_accumulate(out.data);

	comp = fam->chat_response(&fx.target, whole, strlen(whole), &u, err,
	    sizeof(err));
	ck_assert_ptr_nonnull(comp);
	want = router_messages_response_from_openai(comp, &u);
	json_object_set_new(want, "id", json_string("msg_01"));
	fx_assert_equal(got, want);

	/* and both give back the upstream's own message */
	orig = fx_json(whole);
	json_object_set_new(orig, "stop_sequence", json_null());
	fx_assert_equal(want, orig);

	json_decref(orig);
	json_decref(want);
	json_decref(comp);
	json_decref(got);
	json_decref(chunks);
	router_xbuf_free(&out);
}
END_TEST

/* Parallel tool fragments interleaved by index still land on their block. */
START_TEST(stream_tools_interleaved)
{
	struct router_messages_stream	 ms;
	struct router_xbuf		 out = { NULL, 0, 0 };
	json_t				*msg, *content;

	memset(&ms, 0, sizeof(ms));
	feed(&ms, &out, "{\"role\":\"assistant\",\"content\":null,"
	    "\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}",
	    NULL);
	feed(&ms, &out, "{\"tool_calls\":[{\"index\":0,\"function\":{"
	    "\"arguments\":\"{\\\"a\\\":\"}}]}", NULL);
	feed(&ms, &out, "{\"tool_calls\":[{\"index\":0,\"function\":{"
	    "\"arguments\":\"1}\"}}]}", NULL);
	feed(&ms, &out, "{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\","
	    "\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":"
	    "\"{\\\"b\\\":2}\"}}]}", "\"tool_calls\"");
	ck_assert(router_messages_stream_finish(&ms, NULL, &out));
	msg = sdk_accumulate(out.data);
	content = json_object_get(msg, "content");
	ck_assert_int_eq(json_array_size(content), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    content, 1), "id")), "call_b");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_array_get(content, 0), "input"), "a")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_array_get(content, 1), "input"), "b")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(msg,
	    "stop_reason")), "tool_use");
	json_decref(msg);
	router_xbuf_free(&out);

	/* nothing at all: still a well-formed empty message */
	memset(&ms, 0, sizeof(ms));
	ck_assert(router_messages_stream_finish(&ms, NULL, &out));
	msg = sdk_accumulate(out.data);
	ck_assert_int_eq(json_array_size(json_object_get(msg, "content")), 0);
	json_decref(msg);
	router_xbuf_free(&out);
	ck_assert(!router_messages_stream_chunk(&ms, NULL, &out));
}
END_TEST

/* Issue 12 items 2 and 9: cache markers stay on their parts; budgets. */
START_TEST(request_cache_and_budget)
{
	json_t	*o, *want;
	char	 err[256];
	int	 status;

	o = to_openai("{\"model\":\"m\",\"max_tokens\":9000,\"thinking\":{"
	    "\"type\":\"enabled\",\"budget_tokens\":3000},\"system\":[{\"type\":"
	    "\"text\",\"text\":\"manual\",\"cache_control\":{\"type\":"
	    "\"ephemeral\"}}],\"tools\":[{\"name\":\"t\",\"input_schema\":{"
	    "\"type\":\"object\"},\"cache_control\":{\"type\":\"ephemeral\"}}],"
	    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"q\",\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":"
	    "\"5m\"}}]},{\"role\":\"assistant\",\"content\":[{\"type\":"
	    "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"t\",\"input\":{}}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
	    "\"tool_use_id\":\"toolu_1\",\"content\":\"r\",\"cache_control\":"
	    "{\"type\":\"ephemeral\"}}]}]}", &status, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	want = fx_json("[{\"role\":\"system\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"manual\",\"cache_control\":{\"type\":\"ephemeral\"}}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\","
	    "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"5m\"}}]},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
	    "\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":\"t\","
	    "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":"
	    "\"toolu_1\",\"content\":[{\"type\":\"text\",\"text\":\"r\","
	    "\"cache_control\":{\"type\":\"ephemeral\"}}]}]");
	fx_assert_equal(json_object_get(o, "messages"), want);
	json_decref(want);
	want = fx_json("{\"type\":\"ephemeral\"}");
	fx_assert_equal(json_object_get(json_array_get(json_object_get(o,
	    "tools"), 0), "cache_control"), want);
	json_decref(want);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o,
	    "reasoning"), "max_tokens")), 3000);
	json_decref(o);

	o = to_openai("{\"model\":\"m\",\"max_tokens\":9,\"system\":[{\"type\":"
	    "\"text\",\"text\":\"s\",\"cache_control\":{\"type\":\"ephemeral\","
	    "\"ttl\":\"1h\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"q\"}]}", &status, err, sizeof(err));
	ck_assert_ptr_null(o);
	ck_assert_int_eq(status, 400);
	ck_assert_msg(strstr(err, "system.0.cache_control.ttl") != NULL, "%s",
	    err);
	o = to_openai("{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":"
	    "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\","
	    "\"cache_control\":{\"type\":\"ephemeral\",\"x\":1}}]}]}", &status,
	    err, sizeof(err));
	ck_assert_ptr_null(o);
	ck_assert_msg(strstr(err, "messages.0.content.0.cache_control") !=
	    NULL, "%s", err);
}
END_TEST

/*
 * Issue 12 item 8: a Gemini thoughtSignature rides in the tool_use id
 * (whole and streamed) and comes back as extra_content on the call and
 * a plain id on its result.
 */
START_TEST(thought_signature_in_tool_id)
{
	struct router_messages_stream	 ms;
	struct router_xbuf		 out = { NULL, 0, 0 };
	json_t				*comp, *msg, *o, *req, *calls;
	const char			*id, *p;
	char				 err[256], *js;
	int				 status;

	comp = fx_json("{\"id\":\"r\",\"model\":\"gemini-2.5-pro\",\"choices\":"
	    "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
	    "\"tool_calls\":[{\"id\":\"call_r_0\",\"type\":\"function\","
	    "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"},"
	    "\"extra_content\":{\"google\":{\"thought_signature\":\"CiQB+/==\"}}"
	    "}]},\"finish_reason\":\"tool_calls\"}]}");
	msg = router_messages_response_from_openai(comp, NULL);
	id = json_string_value(json_object_get(json_array_get(json_object_get(
	    msg, "content"), 0), "id"));
	ck_assert_ptr_nonnull(id);
	ck_assert(!strncmp(id, "call_r_0__tsig_", 15));
	for (p = id; *p != '\0'; p++)
		ck_assert(isalnum((unsigned char)*p) || *p == '_' || *p == '-');

	js = router_xlate_printf("{\"model\":\"m\",\"max_tokens\":9,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":"
	    "\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"%s\","
	    "\"name\":\"f\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"tool_result\",\"tool_use_id\":\"%s\",\"content\":"
	    "\"ok\"}]}]}", id, id);
	req = fx_json(js);
	free(js);
	o = router_messages_request_to_openai(req, &status, err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	calls = json_object_get(json_array_get(json_object_get(o, "messages"),
	    1), "tool_calls");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    calls, 0), "id")), "call_r_0");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    json_object_get(json_array_get(calls, 0), "extra_content"),
	    "google"), "thought_signature")), "CiQB+/==");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(o, "messages"), 2), "tool_call_id")), "call_r_0");
	json_decref(o);
	json_decref(req);
	json_decref(msg);
	json_decref(comp);

	/* streamed: the same id in content_block_start */
	memset(&ms, 0, sizeof(ms));
	feed(&ms, &out, "{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,"
	    "\"id\":\"call_r_0\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"f\",\"arguments\":\"{}\"},\"extra_content\":{\"google\":{"
	    "\"thought_signature\":\"CiQB+/==\"}}}]}", NULL);
	ck_assert_ptr_nonnull(strstr(out.data, "\"id\":\"call_r_0__tsig_"));
	router_xbuf_free(&out);
}
END_TEST

/*
 * Issue 12 items 10 and 11: the stop sequence reaches the client, whole
 * and streamed; message_start carries the input tokens known and the
 * upstream's model id.
 */
START_TEST(stop_sequence_and_start)
{
	struct router_messages_stream	 ms;
	struct router_xbuf		 out = { NULL, 0, 0 };
	struct router_usage		 u;
	json_t				*comp, *msg, *c;

	comp = fx_json("{\"id\":\"x\",\"model\":\"claude-x\",\"choices\":[{"
	    "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"a\"},"
	    "\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}");
	msg = router_messages_response_from_openai(comp, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(msg,
	    "stop_reason")), "stop_sequence");
	ck_assert_str_eq(json_string_value(json_object_get(msg,
	    "stop_sequence")), "END");
	json_decref(msg);
	json_decref(comp);

	memset(&ms, 0, sizeof(ms));
	router_messages_stream_init(&ms, "rid", "alias");
	memset(&u, 0, sizeof(u));
	u.prompt_tokens = 472;
	u.completion_tokens = 1;
	u.reported = 1;
	router_messages_stream_usage(&ms, &u);
	c = fx_json("{\"id\":\"x\",\"object\":\"chat.completion.chunk\","
	    "\"model\":\"claude-sonnet-4-5-20250929\",\"choices\":[{\"index\":0,"
	    "\"delta\":{\"role\":\"assistant\",\"content\":\"a\"},"
	    "\"finish_reason\":null}]}");
	ck_assert(router_messages_stream_chunk(&ms, c, &out));
	json_decref(c);
	ck_assert_ptr_nonnull(strstr(out.data, "\"model\":"
	    "\"claude-sonnet-4-5-20250929\""));
	ck_assert_ptr_nonnull(strstr(out.data, "\"usage\":{\"input_tokens\":"
	    "472,"));
	c = fx_json("{\"id\":\"x\",\"object\":\"chat.completion.chunk\","
	    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\","
	    "\"stop_reason\":\"END\"}]}");
	ck_assert(router_messages_stream_chunk(&ms, c, &out));
	json_decref(c);
	ck_assert(router_messages_stream_finish(&ms, NULL, &out));
	ck_assert_ptr_nonnull(strstr(out.data, "\"delta\":{\"stop_reason\":"
	    "\"stop_sequence\",\"stop_sequence\":\"END\"}"));
	router_xbuf_free(&out);
}
END_TEST

static Suite *
messages_suite(void)
{
	Suite	*s = suite_create("messages");
	TCase	*tc = tcase_create("messages");

	tcase_add_test(tc, request_full);
	tcase_add_test(tc, request_tool_choice);
	tcase_add_test(tc, request_invalid);
	tcase_add_test(tc, response_from_openai);
	tcase_add_test(tc, stream_exact_bytes);
	tcase_add_test(tc, stream_round_trip);
	tcase_add_test(tc, stream_tools_interleaved);
	tcase_add_test(tc, request_cache_and_budget);
	tcase_add_test(tc, thought_signature_in_tool_id);
	tcase_add_test(tc, stop_sequence_and_start);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(messages_suite)
