/*
 * The openai and echo families: upstream requests, whole answers,
 * stream events, error mapping; echo's answers, its token counting,
 * and that a stream assembles to the same message as the whole answer.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "router/catalog.h"
#include "router/openai.h"
#include "router/sse.h"
#include "router/upstream.h"
#include "router/xlate.h"

static struct router_provider	prov;
static struct router_target	target;

static void
setup(void)
{
	memset(&prov, 0, sizeof(prov));
	(void)snprintf(prov.name, sizeof(prov.name), "groq");
	prov.family = &router_family_openai;
	prov.base_url = "https://api.groq.example/openai/v1";
	prov.api_key = "gsk-secret-123";
	prov.stream_usage = 1;
	memset(&target, 0, sizeof(target));
	target.provider = &prov;
	(void)snprintf(target.model, sizeof(target.model), "llama-3.1-8b");
	target.max_output_tokens = 100;
}

static json_t *
body_of(const struct router_http *h)
{
	json_t	*doc;

	doc = json_loadb(h->body, h->body_len, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	return (doc);
}

static int
has_header(const struct router_http *h, const char *line)
{
	int	i;

	for (i = 0; i < h->nheaders; i++) {
		if (!strcmp(h->headers[i], line))
			return (1);
	}
	return (0);
}

START_TEST(openai_requests)
{
	struct router_http	 h;
	json_t			*req, *b;
	char			 err[128];

	req = json_loads("{\"model\":\"groq:llama-3.1-8b\",\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":false,\"x\":1},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"temperature\":0.2,\"vendor_ext\":true,\"api_key\":\"sk-client\","
	    "\"apiKey\":\"k\",\"authorization\":\"Bearer x\",\"key\":\"k\","
	    "\"store\":true,\"service_tier\":\"auto\",\"seed\":7,"
	    "\"max_completion_tokens\":64,\"reasoning_effort\":\"low\"}",
	    0, NULL);

	ck_assert(router_family_openai.chat_request(&target, req, 1, &h, err,
	    sizeof(err)));
	ck_assert_str_eq(h.url,
	    "https://api.groq.example/openai/v1/chat/completions");
	ck_assert(has_header(&h, "authorization: Bearer gsk-secret-123"));
	ck_assert(has_header(&h, "content-type: application/json"));
	b = body_of(&h);
	ck_assert_str_eq(json_string_value(json_object_get(b, "model")),
	    "llama-3.1-8b");
	ck_assert(json_is_true(json_object_get(b, "stream")));
	ck_assert(json_is_true(json_object_get(json_object_get(b,
	    "stream_options"), "include_usage")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(b,
	    "stream_options"), "x")), 1);
	/* Only OpenAI's fields: no extension, no client secret, no store. */
	ck_assert_ptr_null(json_object_get(b, "vendor_ext"));
	ck_assert_ptr_null(json_object_get(b, "api_key"));
	ck_assert_ptr_null(json_object_get(b, "apiKey"));
	ck_assert_ptr_null(json_object_get(b, "authorization"));
	ck_assert_ptr_null(json_object_get(b, "key"));
	ck_assert_ptr_null(json_object_get(b, "store"));
	ck_assert_str_eq(json_string_value(json_object_get(b, "service_tier")),
	    "auto");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "seed")), 7);
	ck_assert_int_eq(json_integer_value(json_object_get(b,
	    "max_completion_tokens")), 64);
	ck_assert_str_eq(json_string_value(json_object_get(b,
	    "reasoning_effort")), "low");
	ck_assert(json_is_real(json_object_get(b, "temperature")));
	ck_assert_ptr_nonnull(json_object_get(b, "messages"));
	json_decref(b);
	router_http_free(&h);

	/* The caller's request is untouched. */
	ck_assert_str_eq(json_string_value(json_object_get(req, "model")),
	    "groq:llama-3.1-8b");

	/* Not streamed: no stream fields; no usage option when off. */
	ck_assert(router_family_openai.chat_request(&target, req, 0, &h, err,
	    sizeof(err)));
	b = body_of(&h);
	ck_assert_ptr_null(json_object_get(b, "stream"));
	ck_assert_ptr_null(json_object_get(b, "stream_options"));
	json_decref(b);
	router_http_free(&h);

	prov.stream_usage = 0;
	prov.api_key = NULL;
	ck_assert(router_family_openai.chat_request(&target, req, 1, &h, err,
	    sizeof(err)));
	b = body_of(&h);
	ck_assert_ptr_null(json_object_get(b, "stream_options"));
	ck_assert_int_eq(h.nheaders, 2);
	json_decref(b);
	router_http_free(&h);

	json_decref(req);

	req = json_loads("{\"model\":\"groq:e\",\"input\":\"hi\","
	    "\"dimensions\":8,\"api_key\":\"sk-client\",\"messages\":[]}",
	    0, NULL);
	ck_assert(router_family_openai.embed_request(&target, req, &h, err,
	    sizeof(err)));
	ck_assert_str_eq(h.url, "https://api.groq.example/openai/v1/embeddings");
	b = body_of(&h);
	ck_assert_str_eq(json_string_value(json_object_get(b, "input")), "hi");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "dimensions")),
	    8);
	ck_assert_ptr_null(json_object_get(b, "api_key"));
	ck_assert_ptr_null(json_object_get(b, "messages"));
	json_decref(b);
	router_http_free(&h);
	json_decref(req);
}
END_TEST

START_TEST(openai_answers)
{
	struct router_usage	 u;
	json_t			*doc;
	char			 err[128];
	const char		*ok = "{\"id\":\"x\",\"choices\":[{\"index\":0,"
				    "\"message\":{\"role\":\"assistant\","
				    "\"content\":\"hi\"},\"finish_reason\":"
				    "\"stop\"}],\"usage\":{\"prompt_tokens\":"
				    "10,\"completion_tokens\":3,\"total_tokens\""
				    ":13,\"prompt_tokens_details\":{"
				    "\"cached_tokens\":4},"
				    "\"completion_tokens_details\":{"
				    "\"reasoning_tokens\":1}}}";

	doc = router_family_openai.chat_response(&target, ok, strlen(ok), &u,
	    err, sizeof(err));
	ck_assert_ptr_nonnull(doc);
	ck_assert(u.reported);
	ck_assert_int_eq(u.prompt_tokens, 10);
	ck_assert_int_eq(u.completion_tokens, 3);
	ck_assert_int_eq(u.cached_tokens, 4);
	ck_assert_int_eq(u.reasoning_tokens, 1);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "object")),
	    "chat.completion");
	json_decref(doc);

	ck_assert_ptr_null(router_family_openai.chat_response(&target,
	    "{\"id\":", 6, &u, err, sizeof(err)));
	ck_assert(strstr(err, "malformed") != NULL);
	ck_assert_ptr_null(router_family_openai.chat_response(&target,
	    "{\"id\":1}", 8, &u, err, sizeof(err)));
	ck_assert_ptr_null(router_family_openai.chat_response(&target,
	    "{\"choices\":[1]}", 15, &u, err, sizeof(err)));

	/* Cached tokens can never exceed the prompt. */
	doc = router_family_openai.chat_response(&target,
	    "{\"choices\":[],\"usage\":{\"prompt_tokens\":2,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":9}}}", 86, &u, err,
	    sizeof(err));
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(u.cached_tokens, 0);
	json_decref(doc);
}
END_TEST

static int
event(struct router_stream *st, const char *data, json_t *chunks)
{
	return (router_family_openai.stream_event(st, NULL, data,
	    strlen(data), chunks));
}

START_TEST(openai_stream_events)
{
	struct router_stream	*st;
	json_t			*chunks, *c;

	st = calloc(1, sizeof(*st));
	st->target = &target;
	(void)snprintf(st->id, sizeof(st->id), "chatcmpl-ours");
	(void)snprintf(st->model, sizeof(st->model), "groq:llama");
	st->created = 1;
	chunks = json_array();

	ck_assert(event(st, "{\"id\":\"up-1\",\"created\":77,\"model\":"
	    "\"llama-3.1-8b-instant\",\"choices\":[{\"index\":0,\"delta\":"
	    "{\"role\":\"assistant\",\"content\":\"Hel\"}}]}", chunks));
	ck_assert(event(st, "{\"id\":\"up-2\",\"choices\":[{\"index\":0,"
	    "\"delta\":{\"content\":\"lo\",\"reasoning_content\":\"hm\"},"
	    "\"finish_reason\":null}],\"usage\":null}", chunks));
	ck_assert(event(st, "{\"choices\":[{\"index\":0,\"delta\":{"
	    "\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":"
	    "\"get\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\""
	    "}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4}}",
	    chunks));
	ck_assert(event(st, "{\"id\":\"up-1\",\"choices\":[],\"usage\":{"
	    "\"prompt_tokens\":5,\"completion_tokens\":6}}", chunks));
	ck_assert_int_eq(st->done, 0);
	ck_assert(event(st, "[DONE]", chunks));
	ck_assert_int_eq(st->done, 1);

	/* The usage-only chunk is not relayed; usage never is. */
	ck_assert_uint_eq(json_array_size(chunks), 3);
	c = json_array_get(chunks, 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "id")), "up-1");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "created")), 77);
	ck_assert_str_eq(json_string_value(json_object_get(c, "model")),
	    "llama-3.1-8b-instant");
	ck_assert_str_eq(json_string_value(json_object_get(c, "object")),
	    "chat.completion.chunk");
	ck_assert_ptr_null(json_object_get(json_array_get(chunks, 2),
	    "usage"));

	ck_assert(st->usage.reported);
	ck_assert_int_eq(st->usage.completion_tokens, 6);
	ck_assert_str_eq(st->finish_reason, "tool_calls");
	ck_assert_uint_eq(st->text_bytes, 3 + 2 + 2 + 3 + 2);
	ck_assert(st->sent_role);

	/* Errors in the stream, and garbage. */
	ck_assert(event(st, "{\"error\":{\"message\":\"overloaded\"}}",
	    chunks));
	ck_assert(st->failed);
	ck_assert_str_eq(st->error, "overloaded");
	ck_assert(!event(st, "{not json", chunks));
	ck_assert(!event(st, "[1,2]", chunks));
	ck_assert(event(st, "{\"object\":\"keepalive\"}", chunks));
	ck_assert_uint_eq(json_array_size(chunks), 3);

	json_decref(chunks);
	free(st);
}
END_TEST

/* An upstream id or model too long to hold is not adopted cut short. */
START_TEST(openai_stream_long_ids)
{
	struct router_stream	*st;
	json_t			*chunks, *c;
	char			*ev, id[200], model[300];

	st = calloc(1, sizeof(*st));
	st->target = &target;
	(void)snprintf(st->id, sizeof(st->id), "chatcmpl-ours");
	(void)snprintf(st->model, sizeof(st->model), "groq:llama");
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	memset(model, 'm', sizeof(model) - 1);
	model[sizeof(model) - 1] = '\0';
	chunks = json_array();
	ev = router_xlate_printf("{\"id\":\"%s\",\"model\":\"%s\","
	    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}",
	    id, model);
	ck_assert(event(st, ev, chunks));
	c = json_array_get(chunks, 0);
	ck_assert_str_eq(json_string_value(json_object_get(c, "id")),
	    "chatcmpl-ours");
	ck_assert_str_eq(json_string_value(json_object_get(c, "model")),
	    "groq:llama");
	free(ev);
	json_decref(chunks);
	free(st);
}
END_TEST

START_TEST(error_mapping)
{
	struct router_error	e;
	const char		*b;

	b = "{\"error\":{\"message\":\"max_tokens is too large\","
	    "\"type\":\"invalid_request_error\"}}";
	router_family_openai.map_error(400, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.code, "invalid_value");
	ck_assert(strstr(e.message, "max_tokens is too large") != NULL);

	b = "{\"error\":{\"message\":\"Incorrect API key provided: "
	    "gsk-secre***123\"}}";
	router_family_openai.map_error(401, b, strlen(b), &e);
	ck_assert_int_eq(e.status, 502);
	ck_assert_str_eq(e.code, "upstream_error");
	ck_assert_ptr_null(strstr(e.message, "gsk"));

	router_family_openai.map_error(429, "{}", 2, &e);
	ck_assert_int_eq(e.status, 429);
	ck_assert_str_eq(e.code, "rate_limited");
	router_family_openai.map_error(503, "<html>down\n</html>", 18, &e);
	ck_assert_int_eq(e.status, 502);
	ck_assert(strstr(e.message, "<html>down </html>") != NULL);
	router_family_openai.map_error(504, "", 0, &e);
	ck_assert_int_eq(e.status, 504);
	ck_assert_str_eq(e.code, "upstream_timeout");
	/* An error answer without a body: the relay has no buffer at all. */
	router_family_openai.map_error(503, NULL, 0, &e);
	ck_assert_int_eq(e.status, 502);
	ck_assert(strstr(e.message, "(503)") != NULL);

	ck_assert(router_error_retryable(0));
	ck_assert(router_error_retryable(429));
	ck_assert(router_error_retryable(500));
	ck_assert(router_error_retryable(503));
	ck_assert(!router_error_retryable(400));
	ck_assert(!router_error_retryable(401));
}
END_TEST

START_TEST(helpers)
{
	char	s[128];

	ck_assert_int_eq(router_retry_after_ms("3", 0), 3000);
	ck_assert_int_eq(router_retry_after_ms(" 0 ", 0), 0);
	ck_assert_int_eq(router_retry_after_ms("-1", 0), -1);
	ck_assert_int_eq(router_retry_after_ms("soon", 0), -1);
	ck_assert_int_eq(router_retry_after_ms(NULL, 0), -1);
	ck_assert_int_eq(router_retry_after_ms(
	    "Thu, 01 Jan 1970 00:00:10 GMT", 4), 6000);
	ck_assert_int_eq(router_retry_after_ms(
	    "Thu, 01 Jan 1970 00:00:10 GMT", 40), 0);

	(void)snprintf(s, sizeof(s), "key sk-abcdef and sk-abcdef again");
	router_scrub(s, "sk-abcdef");
	ck_assert_str_eq(s, "key *** and *** again");
	router_scrub(s, NULL);
	router_scrub(s, "");
}
END_TEST

/* --- echo ------------------------------------------------------------ */

static struct router_provider	echo_prov;
static struct router_target	echo_target;

struct assembled {
	char		content[2][1024];
	char		args[1024];
	char		tool[64];
	char		finish[2][32];
	int		chunks;
	int		role_chunks;
	struct router_usage usage;
	int		done;
};

static void
echo_setup(void)
{
	memset(&echo_prov, 0, sizeof(echo_prov));
	(void)snprintf(echo_prov.name, sizeof(echo_prov.name), "echo");
	echo_prov.family = &router_family_echo;
	echo_prov.stream_usage = 1;
	memset(&echo_target, 0, sizeof(echo_target));
	echo_target.provider = &echo_prov;
	(void)snprintf(echo_target.model, sizeof(echo_target.model), "echo-1");
}

/* Runs a request through echo; the answer body is malloc'd. */
static struct router_local
echo_run(const char *reqtext, int stream)
{
	struct router_local	 out;
	struct router_http	 h;
	json_t			*req;
	char			 err[128];

	req = json_loads(reqtext, 0, NULL);
	ck_assert_ptr_nonnull(req);
	ck_assert(router_family_echo.chat_request(&echo_target, req, stream,
	    &h, err, sizeof(err)));
	ck_assert(router_family_echo.local(&echo_target, &h, stream, &out,
	    err, sizeof(err)));
	ck_assert_int_eq(out.status, 200);
	router_http_free(&h);
	json_decref(req);
	return (out);
}

static void
assemble(const char *body, size_t len, struct assembled *a)
{
	struct router_stream	*st;
	struct router_sse	 sse;
	struct router_sse_event	 ev;
	json_t			*chunks, *c, *ch, *d, *tc;
	const char		*s, *fr;
	size_t			 off, i, j, k;
	ssize_t			 r;
	int			 idx;

	memset(a, 0, sizeof(*a));
	memset(&sse, 0, sizeof(sse));
	st = calloc(1, sizeof(*st));
	chunks = json_array();
	for (off = 0; off < len; off += r) {
		r = router_sse_parse(&sse, body + off, len - off, &ev);
		if (r == ROUTER_SSE_NEED_MORE)
			break;
		ck_assert_int_gt(r, 0);
		ck_assert(router_family_echo.stream_event(st, ev.event,
		    ev.data, ev.data_len, chunks));
	}
	router_sse_free(&sse);

	json_array_foreach(chunks, i, c) {
		a->chunks++;
		json_array_foreach(json_object_get(c, "choices"), j, ch) {
			idx = (int)json_integer_value(json_object_get(ch,
			    "index"));
			ck_assert(idx >= 0 && idx < 2);
			d = json_object_get(ch, "delta");
			if (json_object_get(d, "role") != NULL)
				a->role_chunks++;
			if ((s = json_string_value(json_object_get(d,
			    "content"))) != NULL)
				strcat(a->content[idx], s);
			json_array_foreach(json_object_get(d, "tool_calls"),
			    k, tc) {
				s = json_string_value(json_object_get(
				    json_object_get(tc, "function"), "name"));
				if (s != NULL)
					(void)snprintf(a->tool, sizeof(a->tool),
					    "%s", s);
				s = json_string_value(json_object_get(
				    json_object_get(tc, "function"),
				    "arguments"));
				if (s != NULL)
					strcat(a->args, s);
			}
			if ((fr = json_string_value(json_object_get(ch,
			    "finish_reason"))) != NULL)
				(void)snprintf(a->finish[idx],
				    sizeof(a->finish[0]), "%s", fr);
		}
	}
	a->usage = st->usage;
	a->done = st->done;
	json_decref(chunks);
	free(st);
}

static void
whole(const char *body, size_t len, struct assembled *a)
{
	struct router_usage	 u;
	json_t			*doc, *ch, *msg, *tc;
	char			 err[128];
	const char		*s;
	size_t			 i;

	memset(a, 0, sizeof(*a));
	doc = router_family_echo.chat_response(&echo_target, body, len, &u,
	    err, sizeof(err));
	ck_assert_ptr_nonnull(doc);
	json_array_foreach(json_object_get(doc, "choices"), i, ch) {
		ck_assert(i < 2);
		msg = json_object_get(ch, "message");
		if ((s = json_string_value(json_object_get(msg,
		    "content"))) != NULL)
			(void)snprintf(a->content[i], sizeof(a->content[0]),
			    "%s", s);
		tc = json_array_get(json_object_get(msg, "tool_calls"), 0);
		if (tc != NULL) {
			(void)snprintf(a->tool, sizeof(a->tool), "%s",
			    json_string_value(json_object_get(json_object_get(
			    tc, "function"), "name")));
			(void)snprintf(a->args, sizeof(a->args), "%s",
			    json_string_value(json_object_get(json_object_get(
			    tc, "function"), "arguments")));
		}
		(void)snprintf(a->finish[i], sizeof(a->finish[0]), "%s",
		    json_string_value(json_object_get(ch, "finish_reason")));
	}
	a->usage = u;
	json_decref(doc);
}

/* Streamed and whole answers of one request agree. */
static void
both(const char *req, struct assembled *w, struct assembled *s)
{
	struct router_local	out;
	char			buf[4096];
	size_t			len;

	len = strlen(req);
	ck_assert_uint_lt(len, sizeof(buf) - 64);
	out = echo_run(req, 0);
	whole(out.body, out.body_len, w);
	free(out.body);

	/* Stream with usage asked for. */
	memcpy(buf, req, len - 1);
	(void)snprintf(buf + len - 1, sizeof(buf) - len + 1,
	    ",\"stream_options\":{\"include_usage\":true}}");
	out = echo_run(buf, 1);
	assemble(out.body, out.body_len, s);
	free(out.body);

	ck_assert(s->done);
	ck_assert_str_eq(w->content[0], s->content[0]);
	ck_assert_str_eq(w->content[1], s->content[1]);
	ck_assert_str_eq(w->finish[0], s->finish[0]);
	ck_assert_str_eq(w->args, s->args);
	ck_assert_str_eq(w->tool, s->tool);
	ck_assert(w->usage.reported && s->usage.reported);
	ck_assert_int_eq(w->usage.prompt_tokens, s->usage.prompt_tokens);
	ck_assert_int_eq(w->usage.completion_tokens,
	    s->usage.completion_tokens);
}

START_TEST(echo_text)
{
	struct assembled	w, s;

	both("{\"model\":\"echo:echo-1\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"be   kind\"},"
	    "{\"role\":\"user\",\"content\":\"Hello there,\\n world!\"}]}",
	    &w, &s);
	ck_assert_str_eq(w.content[0], "echo: Hello there, world!");
	ck_assert_str_eq(w.finish[0], "stop");
	ck_assert_int_eq(w.usage.prompt_tokens, 5);
	ck_assert_int_eq(w.usage.completion_tokens, 4);
	/* Role, four tokens, finish. */
	ck_assert_int_eq(s.chunks, 6);
	ck_assert_int_eq(s.role_chunks, 1);
}
END_TEST

START_TEST(echo_limits)
{
	struct assembled	w, s;

	both("{\"model\":\"m\",\"max_tokens\":2,\"messages\":["
	    "{\"role\":\"user\",\"content\":\"one two three\"}]}", &w, &s);
	ck_assert_str_eq(w.content[0], "echo: one");
	ck_assert_str_eq(w.finish[0], "length");
	ck_assert_int_eq(w.usage.completion_tokens, 2);

	both("{\"model\":\"m\",\"max_completion_tokens\":9,\"stop\":[\"ee\","
	    "\"o t\"],\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"one two three\"}]}", &w, &s);
	ck_assert_str_eq(w.content[0], "echo: one tw");
	ck_assert_str_eq(w.finish[0], "stop");
	ck_assert_int_eq(w.usage.completion_tokens, 3);

	both("{\"model\":\"m\",\"stop\":\"echo\",\"messages\":["
	    "{\"role\":\"user\",\"content\":\"x\"}]}", &w, &s);
	ck_assert_str_eq(w.content[0], "");
	ck_assert_int_eq(w.usage.completion_tokens, 0);

	/* Multi-turn: the last message with text; n choices. */
	both("{\"model\":\"m\",\"n\":2,\"messages\":["
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"first\"},{\"type\":\"text\",\"text\":\"part\"}]},"
	    "{\"role\":\"assistant\",\"content\":\"echo: first part\"},"
	    "{\"role\":\"user\",\"content\":\"  \"}]}", &w, &s);
	ck_assert_str_eq(w.content[0], "echo: echo: first part");
	ck_assert_str_eq(w.content[1], "echo: echo: first part");
	ck_assert_str_eq(s.content[1], "echo: echo: first part");
	ck_assert_int_eq(w.usage.prompt_tokens, 5);
	ck_assert_int_eq(w.usage.completion_tokens, 8);
}
END_TEST

START_TEST(echo_tools)
{
	struct assembled	w, s;

	both("{\"model\":\"m\",\"tool_choice\":\"required\",\"tools\":["
	    "{\"type\":\"function\",\"function\":{\"name\":\"lookup\"}}],"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"find cats\"}]}",
	    &w, &s);
	ck_assert_str_eq(w.tool, "lookup");
	ck_assert_str_eq(w.args, "{\"text\":\"echo: find cats\"}");
	ck_assert_str_eq(w.finish[0], "tool_calls");
	ck_assert_int_eq(w.usage.completion_tokens, 3);

	/* tool_choice auto: plain text. */
	both("{\"model\":\"m\",\"tool_choice\":\"auto\",\"tools\":["
	    "{\"type\":\"function\",\"function\":{\"name\":\"lookup\"}}],"
	    "\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\","
	    "\"content\":\"42\"}]}", &w, &s);
	ck_assert_str_eq(w.content[0], "echo: 42");
	ck_assert_str_eq(w.tool, "");
}
END_TEST

START_TEST(echo_stream_without_usage)
{
	struct router_local	out;

	out = echo_run("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", 1);
	/* The router always asks (stream_usage): the usage chunk is there. */
	ck_assert(strstr(out.body, "\"usage\"") != NULL);
	ck_assert(strstr(out.body, "data: [DONE]\n\n") != NULL);
	free(out.body);

	echo_prov.stream_usage = 0;
	out = echo_run("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", 1);
	ck_assert_ptr_null(strstr(out.body, "\"usage\""));
	free(out.body);
}
END_TEST

START_TEST(echo_embeddings)
{
	struct router_local	 out;
	struct router_http	 h;
	struct router_usage	 u;
	json_t			*req, *doc, *e;
	char			 err[128];

	req = json_loads("{\"model\":\"echo-embed\",\"input\":[\"a b\",\"c\"],"
	    "\"dimensions\":4}", 0, NULL);
	ck_assert(router_family_echo.embed_request(&echo_target, req, &h, err,
	    sizeof(err)));
	ck_assert(router_family_echo.local(&echo_target, &h, 0, &out, err,
	    sizeof(err)));
	doc = router_family_echo.embed_response(&echo_target, out.body,
	    out.body_len, &u, err, sizeof(err));
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(u.prompt_tokens, 3);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "data")), 2);
	e = json_object_get(json_array_get(json_object_get(doc, "data"), 0),
	    "embedding");
	ck_assert_uint_eq(json_array_size(e), 4);
	ck_assert(json_real_value(json_array_get(e, 0)) >= -1.0 &&
	    json_real_value(json_array_get(e, 0)) < 1.0);
	json_decref(doc);
	free(out.body);
	router_http_free(&h);
	json_decref(req);

	req = json_loads("{\"model\":\"echo-embed\",\"input\":\"x\","
	    "\"encoding_format\":\"base64\"}", 0, NULL);
	ck_assert(router_family_echo.embed_request(&echo_target, req, &h, err,
	    sizeof(err)));
	ck_assert(router_family_echo.local(&echo_target, &h, 0, &out, err,
	    sizeof(err)));
	doc = json_loadb(out.body, out.body_len, 0, NULL);
	e = json_object_get(json_array_get(json_object_get(doc, "data"), 0),
	    "embedding");
	/* 16 floats = 64 bytes = 88 base64 characters. */
	ck_assert_uint_eq(json_string_length(e), 88);
	json_decref(doc);
	free(out.body);
	router_http_free(&h);
	json_decref(req);
}
END_TEST

static Suite *
openai_suite(void)
{
	Suite	*s = suite_create("openai");
	TCase	*tc = tcase_create("openai");
	TCase	*te = tcase_create("echo");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, openai_requests);
	tcase_add_test(tc, openai_answers);
	tcase_add_test(tc, openai_stream_events);
	tcase_add_test(tc, openai_stream_long_ids);
	tcase_add_test(tc, error_mapping);
	tcase_add_test(tc, helpers);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(te, echo_setup, NULL);
	tcase_add_test(te, echo_text);
	tcase_add_test(te, echo_limits);
	tcase_add_test(te, echo_tools);
	tcase_add_test(te, echo_stream_without_usage);
	tcase_add_test(te, echo_embeddings);
	suite_add_tcase(s, te);
	return (s);
}

TG_TEST_MAIN(openai_suite)
