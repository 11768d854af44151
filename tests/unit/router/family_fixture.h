/*
 * Test glue for the translating families: a target, an upstream SSE body
 * replayed through the router's own SSE parser in pieces of any size,
 * and the accumulation of OpenAI chunks into one final message (what an
 * OpenAI client does), checking the chunk invariants on the way:
 *   - the role goes out in the first chunk only;
 *   - tool_calls[].index counts tool calls only, from 0, in order;
 *   - a tool call's id, type and name go out in its first delta only.
 */

#ifndef FAMILY_FIXTURE_H
#define FAMILY_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "router/provider.h"
#include "router/sse.h"
#include "router/xlate.h"

#define FX_UNUSED	__attribute__((unused))

struct fx {
	struct router_provider	provider;
	struct router_target	target;
};

static FX_UNUSED void
fx_init(struct fx *fx, const struct router_family *fam, const char *base,
    const char *key, const char *model, int64_t max_out)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->provider.name, sizeof(fx->provider.name), "%s",
	    fam->name);
	fx->provider.family = fam;
	fx->provider.base_url = (char *)base;
	fx->provider.api_key = (char *)key;
	fx->target.provider = &fx->provider;
	snprintf(fx->target.model, sizeof(fx->target.model), "%s", model);
	fx->target.max_output_tokens = max_out;
}

static FX_UNUSED const char *
fx_header(const struct router_http *h, const char *name)
{
	size_t	n = strlen(name);
	int	i;

	for (i = 0; i < h->nheaders; i++) {
		if (!strncasecmp(h->headers[i], name, n) &&
		    h->headers[i][n] == ':')
			return (h->headers[i] + n + 2);
	}
	return (NULL);
}

static FX_UNUSED json_t *
fx_json(const char *s)
{
	json_error_t	 err;
	json_t		*j;

	j = json_loads(s, JSON_DECODE_ANY, &err);
	ck_assert_msg(j != NULL, "bad fixture JSON: %s: %s", err.text, s);
	return (j);
}

/* The upstream request body of h as JSON. */
static FX_UNUSED json_t *
fx_body(const struct router_http *h)
{
	ck_assert_ptr_nonnull(h->body);
	ck_assert_uint_eq(strlen(h->body), h->body_len);
	return (fx_json(h->body));
}

static FX_UNUSED void
fx_stream_init(struct router_stream *st, const struct router_target *t)
{
	memset(st, 0, sizeof(*st));
	st->target = t;
	snprintf(st->id, sizeof(st->id), "chatcmpl-test");
	snprintf(st->model, sizeof(st->model), "%s", t->model);
	st->created = 1700000000;
}

/*
 * Replays an SSE body through the SSE parser in pieces of 'step' bytes
 * (0: whole) and the family's stream_event; returns every chunk. *bad
 * counts events the family refused.
 */
static FX_UNUSED json_t *
fx_stream(const struct router_family *fam, struct router_stream *st,
    const char *sse, size_t step, int *bad)
{
	struct router_sse	 p;
	struct router_sse_event	 ev;
	json_t			*chunks;
	size_t			 len, off, n, piece;
	ssize_t			 r;

	memset(&p, 0, sizeof(p));
	chunks = json_array();
	*bad = 0;
	len = strlen(sse);
	for (off = 0; off < len; off += piece) {
		piece = step == 0 ? len - off : step;
		if (piece > len - off)
			piece = len - off;
		n = 0;
		while (n < piece) {
			r = router_sse_parse(&p, sse + off + n, piece - n, &ev);
			if (r == ROUTER_SSE_NEED_MORE)
				break;
			ck_assert_int_gt(r, 0);
			n += (size_t)r;
			if (!fam->stream_event(st, ev.event[0] ? ev.event :
			    NULL, ev.data, ev.data_len, chunks))
				(*bad)++;
		}
	}
	router_sse_free(&p);
	return (chunks);
}

/* Tool-call arguments parsed, so that key spacing does not matter. */
static FX_UNUSED void
fx_parse_args(json_t *calls)
{
	json_t		*call, *v;
	const char	*a;
	size_t		 i;

	json_array_foreach(calls, i, call) {
		a = json_string_value(json_object_get(call, "arguments"));
		ck_assert_ptr_nonnull(a);
		v = json_loads(a, 0, NULL);
		ck_assert_msg(v != NULL, "arguments are not JSON: %s", a);
		json_object_set_new(call, "arguments", v);
	}
}

/*
 * Chunks -> {"content","reasoning","tool_calls":[{id,name,arguments}],
 * "finish_reason"} for choice 'choice', checking the invariants.
 */
static FX_UNUSED json_t *
fx_accumulate(const json_t *chunks, int choice)
{
	const json_t	*c, *ch, *d, *tc, *v;
	json_t		*calls, *call, *out;
	char		*content = NULL, *reasoning = NULL;
	const char	*finish = NULL;
	size_t		 i, j, k;
	int		 roles = 0, first = 1;
	json_int_t	 idx;

	calls = json_array();
	json_array_foreach(chunks, i, c) {
		ck_assert_str_eq(json_string_value(json_object_get(c,
		    "object")), "chat.completion.chunk");
		ck_assert_str_eq(json_string_value(json_object_get(c, "id")),
		    "chatcmpl-test");
		json_array_foreach(json_object_get(c, "choices"), j, ch) {
			if (json_integer_value(json_object_get(ch, "index")) !=
			    choice)
				continue;
			d = json_object_get(ch, "delta");
			ck_assert(json_is_object(d));
			if (json_object_get(d, "role") != NULL) {
				ck_assert_msg(first, "role after the first "
				    "chunk");
				roles++;
			}
			first = 0;
			if (json_is_string(v = json_object_get(d, "content"))) {
				char	*n = router_xlate_printf("%s%s",
				    content ? content : "",
				    json_string_value(v));
				free(content);
				content = n;
			}
			if (json_is_string(v = json_object_get(d,
			    "reasoning"))) {
				char	*n = router_xlate_printf("%s%s",
				    reasoning ? reasoning : "",
				    json_string_value(v));
				free(reasoning);
				reasoning = n;
			}
			json_array_foreach(json_object_get(d, "tool_calls"), k,
			    tc) {
				idx = json_integer_value(json_object_get(tc,
				    "index"));
				ck_assert(json_is_integer(json_object_get(tc,
				    "index")));
				if ((size_t)idx == json_array_size(calls)) {
					/* a new call: id, type and name */
					ck_assert(json_is_string(
					    json_object_get(tc, "id")));
					ck_assert_str_eq(json_string_value(
					    json_object_get(tc, "type")),
					    "function");
					call = json_pack("{s:O, s:O, s:s}",
					    "id", json_object_get(tc, "id"),
					    "name", json_object_get(
					    json_object_get(tc, "function"),
					    "name"), "arguments", "");
					json_array_append_new(calls, call);
				} else {
					ck_assert_msg((size_t)idx <
					    json_array_size(calls),
					    "tool index %lld skips ahead",
					    (long long)idx);
					ck_assert_msg(json_object_get(tc,
					    "id") == NULL && json_object_get(
					    json_object_get(tc, "function"),
					    "name") == NULL, "id/name repeated");
				}
				call = json_array_get(calls, idx);
				v = json_object_get(json_object_get(tc,
				    "function"), "arguments");
				if (json_is_string(v)) {
					char	*n = router_xlate_printf(
					    "%s%s", json_string_value(
					    json_object_get(call, "arguments")),
					    json_string_value(v));
					json_object_set_new(call, "arguments",
					    json_string(n));
					free(n);
				}
			}
			if (json_is_string(v = json_object_get(ch,
			    "finish_reason"))) {
				ck_assert_msg(finish == NULL, "two finishes");
				finish = json_string_value(v);
			}
		}
	}
	if (choice == 0)
		ck_assert_int_eq(roles, 1);
	fx_parse_args(calls);
	out = json_pack("{s:s, s:s?, s:o, s:s?}", "content",
	    content ? content : "", "reasoning", reasoning, "tool_calls",
	    calls, "finish_reason", finish);
	free(content);
	free(reasoning);
	return (out);
}

/* The same shape from a non-streamed chat.completion's choice. */
static FX_UNUSED json_t *
fx_from_completion(const json_t *comp, int choice)
{
	const json_t	*ch, *msg, *v, *tc;
	json_t		*calls;
	size_t		 i;

	ck_assert_str_eq(json_string_value(json_object_get(comp, "object")),
	    "chat.completion");
	ch = json_array_get(json_object_get(comp, "choices"), choice);
	msg = json_object_get(ch, "message");
	ck_assert_str_eq(json_string_value(json_object_get(msg, "role")),
	    "assistant");
	calls = json_array();
	json_array_foreach(json_object_get(msg, "tool_calls"), i, tc) {
		ck_assert_str_eq(json_string_value(json_object_get(tc,
		    "type")), "function");
		json_array_append_new(calls, json_pack("{s:O, s:O, s:O}",
		    "id", json_object_get(tc, "id"), "name",
		    json_object_get(json_object_get(tc, "function"), "name"),
		    "arguments", json_object_get(json_object_get(tc,
		    "function"), "arguments")));
	}
	fx_parse_args(calls);
	v = json_object_get(msg, "content");
	return (json_pack("{s:s, s:O?, s:o, s:O?}", "content",
	    json_is_string(v) ? json_string_value(v) : "", "reasoning",
	    json_object_get(msg, "reasoning"), "tool_calls", calls,
	    "finish_reason", json_object_get(ch, "finish_reason")));
}

/* Two JSON values equal, else fail showing both. */
static FX_UNUSED void
fx_assert_equal(const json_t *a, const json_t *b)
{
	char	*sa, *sb;

	if (json_equal((json_t *)a, (json_t *)b))
		return;
	sa = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	sb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	ck_abort_msg("JSON differs:\n  %s\n  %s", sa, sb);
}

#endif
