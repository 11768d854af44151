/*
 * The echo family: a deterministic OpenAI-compatible server inside the
 * process. It serves `make run` without provider keys and the
 * benchmark. Requests are built exactly as for the openai family and
 * answered here in OpenAI's wire format (a chat.completion, or a whole
 * text/event-stream that the router replays event by event), so echo
 * exercises the same translation, relay and billing paths as a network
 * provider.
 *
 * What it answers:
 *  - the text is "echo:" followed by the words of the last message
 *    that has text (any role), one space apart;
 *  - max_tokens (or max_completion_tokens) cuts it after that many
 *    tokens, finish_reason "length"; a stop sequence cuts it where the
 *    sequence starts, finish_reason "stop";
 *  - with tools and tool_choice "required" (the first tool) or naming a
 *    function, it calls that function with {"text":"<the echoed words>"}
 *    and finish_reason "tool_calls";
 *  - n > 1 gives n identical choices;
 *  - streams: per choice a chunk with the role, one chunk per token (the
 *    word with its leading space), a chunk with finish_reason; then the
 *    usage chunk when stream_options.include_usage, then [DONE].
 *
 * Token counting (exact, identical streamed and not): a token is a word,
 * a maximal run of bytes other than space, tab, CR and LF.
 *  - prompt_tokens: the words of every text of every message (content
 *    strings and text parts; images, tool calls and tool schemas count
 *    nothing);
 *  - completion_tokens: per choice, the tokens of the answer (a word cut
 *    by a stop sequence still counts; tool calls count the words of
 *    their arguments string), times n.
 * So prompt_tokens never exceeds the bytes of message text, which is
 * what a hold is sized from.
 *
 * Embeddings: each input becomes "dimensions" (default 16) floats in
 * [-1, 1) drawn from a hash of the input; prompt_tokens are its words
 * (a token-id array counts its length). encoding_format "base64" is
 * honoured (little-endian float32), as the OpenAI SDKs ask for it.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/openai.h"
#include "router/upstream.h"
#include "router/xlate.h"

#define ECHO_BASE		"echo://local"
#define ECHO_DIMS_DEFAULT	16
#define ECHO_DIMS_MAX		4096

/* A router_xbuf whose first failure sticks (checked once, at the end). */
struct echo_buf {
	struct router_xbuf	x;
	int			failed;
};

/* One streamed piece of the answer text. */
struct echo_piece {
	size_t	off;
	size_t	len;
};

struct echo_answer {
	char			*text;		/* content, or tool arguments */
	size_t			 len;
	struct echo_piece	*pieces;
	int			 npieces;
	int64_t			 tokens;
	const char		*finish;
	const char		*tool;		/* function called, or NULL */
};

static int	echo_chat_request(const struct router_target *,
		    const json_t *, int, struct router_http *, char *, size_t);
static int	echo_embed_request(const struct router_target *,
		    const json_t *, struct router_http *, char *, size_t);
static int	echo_local(const struct router_target *,
		    const struct router_http *, int, struct router_local *,
		    char *, size_t);
static int	echo_chat(const json_t *, int, struct router_local *, char *,
		    size_t);
static int	echo_embed(const json_t *, struct router_local *, char *,
		    size_t);
static int64_t	echo_words(const char *, size_t);
static char	*echo_text(const json_t *);
static int64_t	echo_prompt_tokens(const json_t *);
static int	echo_answer(const json_t *, struct echo_answer *);
static void	echo_answer_free(struct echo_answer *);
static const char *echo_tool(const json_t *);
static void	echo_stream(const json_t *, const struct echo_answer *,
		    const char *, int64_t, int64_t, int, struct echo_buf *);
static json_t	*echo_tool_call(const struct echo_answer *, int,
		    const char *);
static json_t	*echo_chunk(const char *, int64_t, const char *, int,
		    json_t *, const char *);
static json_t	*echo_vector(const void *, size_t, int);
static json_t	*echo_completion(const json_t *,
		    const struct echo_answer *, const char *, int64_t,
		    int64_t, int);
static void	echo_event(struct echo_buf *, json_t *);
static json_t	*echo_usage(int64_t, int64_t);
static void	echo_put(struct echo_buf *, const char *, size_t);
static uint64_t	echo_hash(const void *, size_t, uint64_t);

const struct router_family	router_family_echo = {
	"echo",
	echo_chat_request,
	router_openai_chat_response,	/* echo answers in OpenAI's format */
	router_openai_stream_event,
	router_openai_map_error,
	echo_embed_request,
	router_openai_embed_response,
	echo_local,
	NULL,		/* count_tokens: the router's estimate */
	NULL,
};

static int
echo_chat_request(const struct router_target *t, const json_t *req,
    int stream, struct router_http *http, char *err, size_t errlen)
{
	return (router_openai_build(t, req, stream, ECHO_BASE,
	    "/chat/completions", http, err, errlen));
}

static int
echo_embed_request(const struct router_target *t, const json_t *req,
    struct router_http *http, char *err, size_t errlen)
{
	return (router_openai_build(t, req, 0, ECHO_BASE, "/embeddings",
	    http, err, errlen));
}

static int
echo_local(const struct router_target *t, const struct router_http *http,
    int stream, struct router_local *out, char *err, size_t errlen)
{
	json_t	*req;
	int	 ok;
	size_t	 ulen;

	(void)t;
	memset(out, 0, sizeof(*out));

	if ((req = json_loadb(http->body, http->body_len, 0, NULL)) == NULL) {
		(void)snprintf(err, errlen, "echo: unreadable request");
		return (0);
	}

	ulen = strlen(http->url);
	if (ulen >= 11 && !strcmp(http->url + ulen - 11, "/embeddings"))
		ok = echo_embed(req, out, err, errlen);
	else
		ok = echo_chat(req, stream, out, err, errlen);

	json_decref(req);
	return (ok);
}

static int
echo_chat(const json_t *req, int stream, struct router_local *out,
    char *err, size_t errlen)
{
	struct echo_answer	 ans;
	struct echo_buf		 b;
	json_t			*doc;
	char			 id[48];
	int64_t			 prompt, created;
	int			 n;

	memset(&b, 0, sizeof(b));
	if (!echo_answer(req, &ans)) {
		(void)snprintf(err, errlen, "echo: out of memory");
		return (0);
	}

	n = (int)json_integer_value(json_object_get(req, "n"));
	if (n < 1)
		n = 1;
	prompt = echo_prompt_tokens(json_object_get(req, "messages"));
	created = (int64_t)time(NULL);
	(void)snprintf(id, sizeof(id), "chatcmpl-echo-%016llx",
	    (unsigned long long)echo_hash(ans.text, ans.len,
	    (uint64_t)prompt));

	if (stream) {
		echo_stream(req, &ans, id, created, prompt, n, &b);
	} else {
		doc = echo_completion(req, &ans, id, created, prompt, n);
		if (doc == NULL) {
			b.failed = 1;
		} else {
			b.x.data = json_dumps(doc, JSON_COMPACT);
			b.x.len = b.x.data != NULL ? strlen(b.x.data) : 0;
			b.failed = b.x.data == NULL;
			json_decref(doc);
		}
	}
	echo_answer_free(&ans);

	if (b.failed) {
		router_xbuf_free(&b.x);
		(void)snprintf(err, errlen, "echo: out of memory");
		return (0);
	}

	out->status = 200;
	out->body = b.x.data;
	out->body_len = b.x.len;
	return (1);
}

/* Words: maximal runs of bytes other than space, tab, CR, LF. */
static int64_t
echo_words(const char *s, size_t len)
{
	int64_t	n;
	size_t	i;
	int	in;

	n = 0;
	in = 0;
	for (i = 0; i < len; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		    s[i] == '\n') {
			in = 0;
		} else if (!in) {
			in = 1;
			n++;
		}
	}

	return (n);
}

/* The text of a message's content, parts joined by a space (malloc'd). */
static char *
echo_text(const json_t *content)
{
	struct echo_buf	 b;
	const json_t	*part;
	const char	*s;
	size_t		 i;

	memset(&b, 0, sizeof(b));
	if (json_is_string(content)) {
		echo_put(&b, json_string_value(content),
		    json_string_length(content));
	} else if (json_is_array(content)) {
		json_array_foreach(content, i, part) {
			s = json_string_value(json_object_get(part, "text"));
			if (s == NULL)
				continue;
			if (b.x.len > 0)
				echo_put(&b, " ", 1);
			echo_put(&b, s, strlen(s));
		}
	}
	echo_put(&b, "", 0);

	if (b.failed) {
		router_xbuf_free(&b.x);
		return (NULL);
	}
	return (b.x.data);
}

static int64_t
echo_prompt_tokens(const json_t *messages)
{
	const json_t	*m;
	char		*text;
	int64_t		 n;
	size_t		 i;

	n = 0;
	json_array_foreach(messages, i, m) {
		if ((text = echo_text(json_object_get(m, "content"))) == NULL)
			continue;
		n += echo_words(text, strlen(text));
		free(text);
	}

	return (n);
}

/* The function echo calls, or NULL (tool_choice decides). */
static const char *
echo_tool(const json_t *req)
{
	const json_t	*tools, *choice;

	tools = json_object_get(req, "tools");
	if (!json_is_array(tools) || json_array_size(tools) == 0)
		return (NULL);

	choice = json_object_get(req, "tool_choice");
	if (json_is_string(choice) &&
	    !strcmp(json_string_value(choice), "required"))
		return (json_string_value(json_object_get(json_object_get(
		    json_array_get(tools, 0), "function"), "name")));
	if (json_is_object(choice))
		return (json_string_value(json_object_get(json_object_get(
		    choice, "function"), "name")));

	return (NULL);
}

/*
 * Builds the answer text and its pieces, then applies max_tokens and the
 * stop sequences. Returns 0 when out of memory.
 */
static int
echo_answer(const json_t *req, struct echo_answer *a)
{
	const json_t	*msgs, *stop, *s;
	struct echo_buf	 b;
	json_t		*args;
	char		*text, *words, *hit;
	const char	*w, *stops[4];
	size_t		 i, j, k, wl, cut;
	int64_t		 max;
	int		 nstops;

	memset(a, 0, sizeof(*a));
	memset(&b, 0, sizeof(b));

	/* The last message that has text. */
	text = NULL;
	msgs = json_object_get(req, "messages");
	for (i = json_array_size(msgs); i > 0; i--) {
		text = echo_text(json_object_get(json_array_get(msgs, i - 1),
		    "content"));
		if (text != NULL && echo_words(text, strlen(text)) > 0)
			break;
		free(text);
		text = NULL;
	}

	/* "echo:" and the words, one space apart. */
	echo_put(&b, "echo:", 5);
	for (w = text != NULL ? text : ""; *w != '\0'; w += wl) {
		wl = strcspn(w, " \t\r\n");
		if (wl == 0) {
			wl = 1;
			continue;
		}
		echo_put(&b, " ", 1);
		echo_put(&b, w, wl);
	}
	echo_put(&b, "", 0);
	free(text);
	if (b.failed) {
		router_xbuf_free(&b.x);
		return (0);
	}
	words = b.x.data;

	if ((a->tool = echo_tool(req)) != NULL) {
		args = json_pack("{s:s}", "text", words);
		a->text = args != NULL ? json_dumps(args, JSON_COMPACT) : NULL;
		json_decref(args);
		free(words);
		if (a->text == NULL)
			return (0);
		a->len = strlen(a->text);
		a->pieces = malloc(sizeof(*a->pieces));
		if (a->pieces == NULL)
			return (0);
		a->pieces[0].off = 0;
		a->pieces[0].len = a->len;
		a->npieces = 1;
		a->tokens = echo_words(a->text, a->len);
		a->finish = "tool_calls";
		return (1);
	}

	a->text = words;
	a->len = strlen(words);
	a->finish = "stop";

	/* One piece per word, with its leading space. */
	a->pieces = malloc((a->len / 2 + 2) * sizeof(*a->pieces));
	if (a->pieces == NULL)
		return (0);
	for (i = 0; i < a->len; i = j) {
		for (j = i + 1; j < a->len && a->text[j] != ' '; j++)
			;
		a->pieces[a->npieces].off = i;
		a->pieces[a->npieces].len = j - i;
		a->npieces++;
	}

	max = json_integer_value(json_object_get(req, "max_completion_tokens"));
	if (max <= 0)
		max = json_integer_value(json_object_get(req, "max_tokens"));
	if (max > 0 && a->npieces > max) {
		a->npieces = (int)max;
		a->len = a->pieces[max - 1].off + a->pieces[max - 1].len;
		a->text[a->len] = '\0';
		a->finish = "length";
	}

	nstops = 0;
	stop = json_object_get(req, "stop");
	if (json_is_string(stop)) {
		stops[nstops++] = json_string_value(stop);
	} else {
		json_array_foreach(stop, i, s) {
			if (nstops < 4 && json_is_string(s))
				stops[nstops++] = json_string_value(s);
		}
	}
	cut = a->len;
	for (k = 0; k < (size_t)nstops; k++) {
		if (*stops[k] != '\0' &&
		    (hit = strstr(a->text, stops[k])) != NULL &&
		    (size_t)(hit - a->text) < cut)
			cut = hit - a->text;
	}
	if (cut < a->len) {
		a->len = cut;
		a->text[cut] = '\0';
		a->finish = "stop";
		while (a->npieces > 0 && a->pieces[a->npieces - 1].off >= cut)
			a->npieces--;
		if (a->npieces > 0)
			a->pieces[a->npieces - 1].len = cut -
			    a->pieces[a->npieces - 1].off;
	}

	a->tokens = a->npieces;
	return (1);
}

static void
echo_answer_free(struct echo_answer *a)
{
	free(a->text);
	free(a->pieces);
	memset(a, 0, sizeof(*a));
}

/* Echo caches nothing and does not reason: the details are zero. */
static json_t *
echo_usage(int64_t prompt, int64_t completion)
{
	struct router_usage	u;

	memset(&u, 0, sizeof(u));
	u.prompt_tokens = prompt;
	u.completion_tokens = completion;
	return (router_usage_json(&u));
}

static json_t *
echo_tool_call(const struct echo_answer *a, int i, const char *args)
{
	char	id[32];

	(void)snprintf(id, sizeof(id), "call_echo_%d", i);
	return (json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id,
	    "type", "function", "function", "name", a->tool,
	    "arguments", args));
}

static json_t *
echo_completion(const json_t *req, const struct echo_answer *a,
    const char *id, int64_t created, int64_t prompt, int n)
{
	json_t		*doc, *choices, *msg;
	const char	*model;
	int		 i;

	model = json_string_value(json_object_get(req, "model"));
	choices = json_array();
	for (i = 0; i < n; i++) {
		if (a->tool != NULL) {
			msg = json_pack("{s:s, s:n, s:[o], s:n}", "role",
			    "assistant", "content", "tool_calls",
			    echo_tool_call(a, i, a->text), "refusal");
		} else {
			msg = json_pack("{s:s, s:s, s:n}", "role", "assistant",
			    "content", a->text, "refusal");
		}
		json_array_append_new(choices, json_pack("{s:i, s:o, s:n, "
		    "s:s}", "index", i, "message", msg, "logprobs",
		    "finish_reason", a->finish));
	}

	doc = json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", id,
	    "object", "chat.completion", "created", (json_int_t)created,
	    "model", model != NULL ? model : "echo", "choices", choices,
	    "usage", echo_usage(prompt, a->tokens * n));
	return (doc);
}

static json_t *
echo_chunk(const char *id, int64_t created, const char *model, int i,
    json_t *delta, const char *finish)
{
	return (json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s?}]}",
	    "id", id, "object", "chat.completion.chunk",
	    "created", (json_int_t)created, "model", model,
	    "choices", "index", i, "delta", delta, "logprobs",
	    "finish_reason", finish));
}

static void
echo_stream(const json_t *req, const struct echo_answer *a, const char *id,
    int64_t created, int64_t prompt, int n, struct echo_buf *b)
{
	const json_t	*so;
	const char	*model;
	json_t		*delta, *call;
	char		*piece;
	int		 i, k;

	model = json_string_value(json_object_get(req, "model"));
	if (model == NULL)
		model = "echo";

	for (i = 0; i < n; i++) {
		echo_event(b, echo_chunk(id, created, model, i,
		    json_pack("{s:s, s:s}", "role", "assistant", "content", ""),
		    NULL));
		if (a->tool != NULL) {
			call = echo_tool_call(a, i, "");
			json_object_set_new(call, "index", json_integer(0));
			echo_event(b, echo_chunk(id, created, model, i,
			    json_pack("{s:[o]}", "tool_calls", call), NULL));
			echo_event(b, echo_chunk(id, created, model, i,
			    json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls",
			    "index", 0, "function", "arguments", a->text),
			    NULL));
		} else {
			for (k = 0; k < a->npieces; k++) {
				piece = strndup(a->text + a->pieces[k].off,
				    a->pieces[k].len);
				if (piece == NULL) {
					b->failed = 1;
					return;
				}
				delta = json_pack("{s:s}", "content", piece);
				free(piece);
				echo_event(b, echo_chunk(id, created, model, i,
				    delta, NULL));
			}
		}
		echo_event(b, echo_chunk(id, created, model, i, json_object(),
		    a->finish));
	}

	so = json_object_get(req, "stream_options");
	if (json_is_true(json_object_get(so, "include_usage")))
		echo_event(b, json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}",
		    "id", id, "object", "chat.completion.chunk", "created",
		    (json_int_t)created, "model", model, "choices", "usage",
		    echo_usage(prompt, a->tokens * n)));

	echo_put(b, "data: [DONE]\n\n", 14);
	echo_put(b, "", 0);
}

/* "data: <json>\n\n", taking the reference. */
static void
echo_event(struct echo_buf *b, json_t *doc)
{
	char	*s;

	if (doc == NULL || (s = json_dumps(doc, JSON_COMPACT)) == NULL) {
		json_decref(doc);
		b->failed = 1;
		return;
	}
	json_decref(doc);

	echo_put(b, "data: ", 6);
	echo_put(b, s, strlen(s));
	echo_put(b, "\n\n", 2);
	free(s);
}

/* Appends; a zero-length put NUL-terminates. */
static void
echo_put(struct echo_buf *b, const char *p, size_t len)
{
	if (!b->failed && !router_xbuf_add(&b->x, p, len))
		b->failed = 1;
}

/* FNV-1a, 64 bits. */
static uint64_t
echo_hash(const void *p, size_t len, uint64_t seed)
{
	const unsigned char	*s = p;
	uint64_t		 h;
	size_t			 i;

	h = 14695981039346656037ULL ^ seed;
	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}

	return (h);
}

static json_t *
echo_vector(const void *p, size_t len, int dims)
{
	json_t		*arr;
	uint64_t	 x;
	int		 d;

	x = echo_hash(p, len, 0) | 1;
	if ((arr = json_array()) == NULL)
		return (NULL);

	for (d = 0; d < dims; d++) {
		/* xorshift64* */
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		json_array_append_new(arr, json_real((float)((double)((x *
		    2685821657736338717ULL) >> 11) / 9007199254740992.0 *
		    2.0 - 1.0)));
	}

	return (arr);
}

static int
echo_embed(const json_t *req, struct router_local *out, char *err,
    size_t errlen)
{
	const json_t	*in, *e;
	const char	*fmt, *model;
	json_t		*data, *vec, *doc, *one;
	char		*dump;
	int64_t		 tokens;
	size_t		 i, n;
	int		 dims, base64;

	dims = (int)json_integer_value(json_object_get(req, "dimensions"));
	if (dims <= 0)
		dims = ECHO_DIMS_DEFAULT;
	if (dims > ECHO_DIMS_MAX)
		dims = ECHO_DIMS_MAX;
	fmt = json_string_value(json_object_get(req, "encoding_format"));
	base64 = fmt != NULL && !strcmp(fmt, "base64");
	model = json_string_value(json_object_get(req, "model"));

	in = json_object_get(req, "input");
	one = NULL;
	if (json_is_string(in) || (json_is_array(in) &&
	    json_is_integer(json_array_get(in, 0)))) {
		one = json_pack("[O]", in);
		in = one;
	}

	data = json_array();
	tokens = 0;
	n = json_array_size(in);
	for (i = 0; i < n; i++) {
		e = json_array_get(in, i);
		if (json_is_string(e)) {
			tokens += echo_words(json_string_value(e),
			    json_string_length(e));
			vec = echo_vector(json_string_value(e),
			    json_string_length(e), dims);
		} else {
			tokens += (int64_t)json_array_size(e);
			dump = json_dumps(e, JSON_COMPACT);
			vec = dump != NULL ? echo_vector(dump, strlen(dump),
			    dims) : NULL;
			free(dump);
		}
		if (vec == NULL)
			break;
		json_array_append_new(data, json_pack("{s:s, s:I, s:o}",
		    "object", "embedding", "index", (json_int_t)i,
		    "embedding", vec));
	}
	json_decref(one);

	doc = json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list",
	    "data", data, "model", model != NULL ? model : "echo",
	    "usage", "prompt_tokens", (json_int_t)tokens, "total_tokens",
	    (json_int_t)tokens);
	if (doc == NULL || i < n ||
	    (base64 && !router_xlate_embeddings_base64(doc)) ||
	    (out->body = json_dumps(doc, JSON_COMPACT)) == NULL) {
		json_decref(doc);
		(void)snprintf(err, errlen, "echo: out of memory");
		return (0);
	}
	json_decref(doc);

	out->status = 200;
	out->body_len = strlen(out->body);
	return (1);
}
