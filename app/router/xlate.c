/*
 * Small pieces every translating family needs (see xlate.h). Nothing
 * here knows a provider: the anthropic and gemini families and the
 * /v1/messages translation build on these so that chunks, usage objects
 * and error statuses look the same whichever upstream answered.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "router/xlate.h"

static int	xlate_has_cache_control(const json_t *);
static void	xlate_strip_cache_control(json_t *);

int
router_xbuf_add(struct router_xbuf *b, const void *p, size_t len)
{
	size_t	 ncap;
	char	*n;

	if (len > SIZE_MAX / 2 - b->len - 1)
		return (0);
	if (b->len + len + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		if ((n = realloc(b->data, ncap)) == NULL)
			return (0);
		b->data = n;
		b->cap = ncap;
	}
	if (len > 0)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return (1);
}

int
router_xbuf_str(struct router_xbuf *b, const char *s)
{
	return (router_xbuf_add(b, s, strlen(s)));
}

void
router_xbuf_free(struct router_xbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
router_xlate_printf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		return (NULL);
	return (s);
}

int
router_xlate_chunk(struct router_stream *st, json_t *chunks, int choice,
    json_t *delta, const char *finish)
{
	json_t	*c, *ch;

	if (delta == NULL)
		return (0);
	if (choice == 0 && !st->sent_role) {
		json_object_set_new(delta, "role", json_string("assistant"));
		if (json_object_get(delta, "content") == NULL &&
		    json_object_get(delta, "tool_calls") == NULL)
			json_object_set_new(delta, "content", json_string(""));
		st->sent_role = 1;
	}
	if (finish != NULL && choice == 0)
		router_xlate_copy(st->finish_reason,
		    sizeof(st->finish_reason), finish);

	ch = json_pack("{s:i, s:o, s:o}", "index", choice, "delta", delta,
	    "finish_reason", finish ? json_string(finish) : json_null());
	if (ch == NULL)
		return (0);
	c = json_pack("{s:s, s:s, s:I, s:s, s:[o]}",
	    "id", st->id, "object", "chat.completion.chunk",
	    "created", (json_int_t)st->created, "model", st->model,
	    "choices", ch);
	if (c == NULL)
		return (0);
	return (json_array_append_new(chunks, c) == 0);
}

char *
router_xlate_content_text(const json_t *content, const char *sep)
{
	struct router_xbuf	 b = { NULL, 0, 0 };
	const json_t		*part, *text;
	size_t			 i;
	int			 first = 1;

	if (content == NULL || json_is_null(content))
		return (strdup(""));
	if (json_is_string(content))
		return (strdup(json_string_value(content)));
	if (!json_is_array(content))
		return (NULL);
	json_array_foreach(content, i, part) {
		if (!json_is_object(part))
			goto fail;
		text = json_object_get(part, "text");
		if (!json_is_string(text))
			continue;
		if (!first && !router_xbuf_str(&b, sep))
			goto fail;
		if (!router_xbuf_str(&b, json_string_value(text)))
			goto fail;
		first = 0;
	}
	if (b.data == NULL)
		return (strdup(""));
	return (b.data);
fail:
	router_xbuf_free(&b);
	return (NULL);
}

int
router_xlate_data_url(const char *url, char *mime, size_t mimelen,
    const char **data)
{
	const char	*p, *semi;
	size_t		 n;

	if (strncmp(url, "data:", 5) != 0)
		return (0);
	p = url + 5;
	if ((semi = strchr(p, ';')) == NULL)
		return (0);
	if (strncmp(semi, ";base64,", 8) != 0)
		return (0);
	n = (size_t)(semi - p);
	if (n == 0 || n >= mimelen)
		return (0);
	memcpy(mime, p, n);
	mime[n] = '\0';
	*data = semi + 8;
	return (1);
}

void
router_xlate_clean(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
	}
}

void
router_xlate_copy(char *dst, size_t len, const char *s)
{
	size_t	n;

	if (len == 0)
		return;
	if (s == NULL)
		s = "";
	n = strlen(s);
	if (n >= len)
		n = len - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

json_int_t
router_xlate_int(const json_t *o, const char *key, json_int_t def)
{
	const json_t	*v;

	if (!json_is_object(o))
		return (def);
	v = json_object_get(o, key);
	if (!json_is_integer(v))
		return (def);
	return (json_integer_value(v));
}

int
router_xlate_embeddings_base64(json_t *list)
{
	json_t		*data, *item, *emb, *v;
	unsigned char	*raw;
	char		*s;
	size_t		 i, j, n;
	float		 f;
	uint32_t	 u;

	data = json_object_get(list, "data");
	if (!json_is_array(data))
		return (0);
	json_array_foreach(data, i, item) {
		emb = json_object_get(item, "embedding");
		if (!json_is_array(emb))
			return (0);
		n = json_array_size(emb);
		if ((raw = malloc(n * 4 + 1)) == NULL)
			return (0);
		json_array_foreach(emb, j, v) {
			if (!json_is_number(v)) {
				free(raw);
				return (0);
			}
			f = (float)json_number_value(v);
			memcpy(&u, &f, sizeof(u));
			raw[j * 4] = u & 0xff;
			raw[j * 4 + 1] = (u >> 8) & 0xff;
			raw[j * 4 + 2] = (u >> 16) & 0xff;
			raw[j * 4 + 3] = (u >> 24) & 0xff;
		}
		s = router_xlate_base64(raw, n * 4);
		free(raw);
		if (s == NULL)
			return (0);
		json_object_set_new(item, "embedding", json_string(s));
		free(s);
	}
	return (1);
}

char *
router_xlate_base64(const unsigned char *p, size_t len)
{
	char	*out;
	size_t	 n;

	n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((out = malloc(n)) == NULL)
		return (NULL);

	return (sodium_bin2base64(out, n, p, len,
	    sodium_base64_VARIANT_ORIGINAL));
}

int
router_xlate_cache_check(const json_t *cc, const char **member, char *why,
    size_t len)
{
	const json_t	*type, *ttl;
	const char	*key;
	size_t		 n;

	*member = "cache_control";
	if (cc == NULL || json_is_null(cc))
		return (1);
	type = json_object_get(cc, "type");
	if (!json_is_object(cc) || !json_is_string(type) ||
	    strcmp(json_string_value(type), "ephemeral")) {
		snprintf(why, len, "cache_control must be {\"type\":"
		    "\"ephemeral\"} with an optional \"ttl\":\"5m\"");
		return (0);
	}
	n = 1;
	ttl = json_object_get(cc, "ttl");
	if (ttl != NULL) {
		n++;
		if (!json_is_string(ttl) || strcmp(json_string_value(ttl),
		    "5m")) {
			*member = "cache_control.ttl";
			snprintf(why, len, "cache_control.ttl must be \"5m\": "
			    "the 1-hour cache is not offered");
			return (0);
		}
	}
	if (json_object_size(cc) != n) {
		json_object_foreach((json_t *)cc, key, type) {
			if (strcmp(key, "type") && strcmp(key, "ttl"))
				break;
		}
		snprintf(why, len, "cache_control: unknown member \"%.32s\"",
		    key);
		return (0);
	}
	return (1);
}

int
router_xlate_cache_copy(json_t *dst, const json_t *holder, char *err,
    size_t errlen)
{
	const json_t	*cc;
	const char	*member;

	cc = json_object_get(holder, "cache_control");
	if (!router_xlate_cache_check(cc, &member, err, errlen))
		return (0);
	if (cc != NULL && !json_is_null(cc) &&
	    json_object_set_new(dst, "cache_control", json_deep_copy(cc)))
		return (0);
	return (1);
}

char *
router_xlate_b64url(const char *s)
{
	size_t	 n, len;
	char	*out;

	n = strlen(s);
	len = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((out = malloc(len)) == NULL)
		return (NULL);
	sodium_bin2base64(out, len, (const unsigned char *)s, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return (out);
}

char *
router_xlate_unb64url(const char *s)
{
	size_t		 n, got;
	unsigned char	*out;

	n = strlen(s);
	if ((out = malloc(n + 1)) == NULL)
		return (NULL);
	if (sodium_base642bin(out, n, s, n, NULL, &got, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    memchr(out, '\0', got) != NULL) {
		free(out);
		return (NULL);
	}
	out[got] = '\0';
	return ((char *)out);
}

json_int_t
router_xlate_counter(const json_t *o, const char *key)
{
	const json_t	*v;

	v = json_object_get(o, key);
	if (v == NULL || json_is_null(v))
		return (-1);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > ROUTER_TOKENS_MAX)
		return (-2);
	return (json_integer_value(v));
}

/*
 * Drops cache_control markers from body, a new object whose values are
 * shared with the client's request (the next target of the chain may be
 * Anthropic's and needs them): an array holding a marker is replaced by
 * a deep copy before anything is deleted. Returns 0 when out of memory.
 */
int
router_xlate_drop_cache_control(json_t *body)
{
	static const char *const	 keys[] = { "messages", "tools" };
	json_t				*a, *copy;
	size_t				 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		a = json_object_get(body, keys[i]);
		if (!xlate_has_cache_control(a))
			continue;
		if ((copy = json_deep_copy(a)) == NULL ||
		    json_object_set_new(body, keys[i], copy) == -1)
			return (0);
		xlate_strip_cache_control(copy);
	}
	return (1);
}

/* Whether an element of a (messages or tools) carries a marker. */
static int
xlate_has_cache_control(const json_t *a)
{
	const json_t	*e, *p;
	size_t		 i, j;

	json_array_foreach(a, i, e) {
		if (json_object_get(e, "cache_control") != NULL ||
		    json_object_get(json_object_get(e, "function"),
		    "cache_control") != NULL)
			return (1);
		json_array_foreach(json_object_get(e, "content"), j, p) {
			if (json_object_get(p, "cache_control") != NULL)
				return (1);
		}
	}
	return (0);
}

static void
xlate_strip_cache_control(json_t *a)
{
	json_t	*e, *p;
	size_t	 i, j;

	json_array_foreach(a, i, e) {
		json_object_del(e, "cache_control");
		json_object_del(json_object_get(e, "function"),
		    "cache_control");
		json_array_foreach(json_object_get(e, "content"), j, p)
			json_object_del(p, "cache_control");
	}
}

int
router_xlate_count(const char *body, size_t len, const char *field,
    int64_t *n)
{
	json_t	*doc, *v;
	int	 ok;

	if ((doc = json_loadb(body, len, 0, NULL)) == NULL)
		return (0);
	v = json_object_get(doc, field);
	ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= ROUTER_TOKENS_MAX;
	if (ok)
		*n = json_integer_value(v);
	json_decref(doc);
	return (ok);
}

const json_t *
router_xlate_choice0(const json_t *comp)
{
	const json_t	*c;
	size_t		 i;

	json_array_foreach(json_object_get(comp, "choices"), i, c) {
		if (router_xlate_int(c, "index", 0) == 0)
			return (c);
	}
	return (NULL);
}

const json_t *
router_xlate_reasoning(const json_t *msg)
{
	const json_t	*v;

	v = json_object_get(msg, "reasoning");
	if (!json_is_string(v))
		v = json_object_get(msg, "reasoning_content");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return (NULL);
	return (v);
}
