/*
 * The prompt upper bound of a request (see prompt.h). Pure C.
 *
 * A chat request counts:
 *   - CREDITS_REQUEST_OVERHEAD once;
 *   - per message CREDITS_MESSAGE_OVERHEAD plus the bytes of every value
 *     in it (role, name, content, tool calls and their arguments, tool
 *     call ids, anything a newer API adds), where a content part of an
 *     image type counts CREDITS_IMAGE_TOKENS instead of its bytes (a
 *     data URL's base64 says nothing about its tokens) and every part
 *     adds CREDITS_PART_OVERHEAD;
 *   - the compact JSON size of tools, functions, tool_choice and
 *     response_format (schemas are rendered into the prompt, keys and
 *     all), plus CREDITS_TOOLS_OVERHEAD when there are tools.
 * Nothing is ever subtracted, and sums saturate instead of wrapping.
 * Malformed shapes (a message that is not an object, ...) still count
 * their bytes: validating the request is the router's job, bounding it
 * is ours, whatever it holds.
 */

#include <stdio.h>
#include <string.h>

#include "credits/prompt.h"

static int64_t	prompt_add(int64_t, int64_t);
static int64_t	prompt_value_bytes(const json_t *);
static int64_t	prompt_message(const json_t *);
static int64_t	prompt_content(const json_t *);
static int	prompt_is_image_part(const json_t *);

int64_t
credits_prompt_bound_chat(const json_t *req)
{
	static const char	*schemas[] = {
		"tools", "functions", "tool_choice", "response_format"
	};
	const json_t		*messages, *msg, *v;
	int64_t			 n;
	size_t			 i;

	n = CREDITS_REQUEST_OVERHEAD;
	if (!json_is_object(req))
		return (prompt_add(n, credits_json_bytes(req)));

	messages = json_object_get(req, "messages");
	if (json_is_array(messages)) {
		json_array_foreach(messages, i, msg)
			n = prompt_add(n, prompt_message(msg));
	} else if (messages != NULL) {
		n = prompt_add(n, credits_json_bytes(messages));
	}

	/* Legacy completions-style prompt, should one come through. */
	if ((v = json_object_get(req, "prompt")) != NULL)
		n = prompt_add(n, prompt_value_bytes(v));

	for (i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
		if ((v = json_object_get(req, schemas[i])) != NULL &&
		    !json_is_null(v))
			n = prompt_add(n, credits_json_bytes(v));
	}

	v = json_object_get(req, "tools");
	if ((json_is_array(v) && json_array_size(v) > 0) ||
	    (json_is_array(json_object_get(req, "functions")) &&
	    json_array_size(json_object_get(req, "functions")) > 0))
		n = prompt_add(n, CREDITS_TOOLS_OVERHEAD);

	return (n);
}

/*
 * Embeddings: a string, an array of strings, an array of token ids or
 * an array of arrays of token ids. Token ids count one each.
 */
int64_t
credits_prompt_bound_embeddings(const json_t *req)
{
	const json_t	*input, *item, *tok;
	int64_t		 n;
	size_t		 i, j;

	input = json_is_object(req) ? json_object_get(req, "input") : req;
	if (input == NULL)
		return (CREDITS_INPUT_OVERHEAD);

	if (!json_is_array(input))
		return (prompt_add(CREDITS_INPUT_OVERHEAD,
		    prompt_value_bytes(input)));

	n = 0;
	json_array_foreach(input, i, item) {
		n = prompt_add(n, CREDITS_INPUT_OVERHEAD);
		if (json_is_integer(item)) {
			n = prompt_add(n, 1);
		} else if (json_is_array(item)) {
			json_array_foreach(item, j, tok) {
				n = prompt_add(n, json_is_integer(tok) ? 1 :
				    prompt_value_bytes(tok));
			}
		} else {
			n = prompt_add(n, prompt_value_bytes(item));
		}
	}

	return (n > 0 ? n : CREDITS_INPUT_OVERHEAD);
}

/*
 * The size of v's compact JSON text without building it: strings count
 * their raw UTF-8 bytes (escapes never make a token) plus quotes.
 */
int64_t
credits_json_bytes(const json_t *v)
{
	const json_t	*item;
	const char	*key;
	char		 num[64];
	int64_t		 n;
	size_t		 i;
	int		 len;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		/* {"k":v,"k":v}: quotes and colon per key, commas between. */
		n = json_object_size(v) > 0 ? 1 : 2;
		json_object_foreach((json_t *)v, key, item) {
			n = prompt_add(n, (int64_t)strlen(key) + 4);
			n = prompt_add(n, credits_json_bytes(item));
		}
		return (n);
	case JSON_ARRAY:
		n = json_array_size(v) > 0 ? 1 : 2;
		json_array_foreach(v, i, item)
			n = prompt_add(n, prompt_add(1, credits_json_bytes(item)));
		return (n);
	case JSON_STRING:
		return (prompt_add((int64_t)json_string_length(v), 2));
	case JSON_INTEGER:
		len = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return (len > 0 ? len : 20);
	case JSON_REAL:
		len = snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return (len > 0 ? len : 24);
	case JSON_TRUE:
		return (4);
	case JSON_FALSE:
		return (5);
	default:
		return (4);
	}
}

static int64_t
prompt_add(int64_t a, int64_t b)
{
	if (b < 0)
		b = 0;
	if (a > INT64_MAX - b)
		return (INT64_MAX);
	return (a + b);
}

/* The text a value carries: strings' bytes, anything else its JSON. */
static int64_t
prompt_value_bytes(const json_t *v)
{
	if (json_is_string(v))
		return ((int64_t)json_string_length(v));

	return (credits_json_bytes(v));
}

static int64_t
prompt_message(const json_t *msg)
{
	const json_t	*v;
	const char	*key;
	int64_t		 n;

	n = CREDITS_MESSAGE_OVERHEAD;
	if (!json_is_object(msg))
		return (prompt_add(n, credits_json_bytes(msg)));

	json_object_foreach((json_t *)msg, key, v) {
		if (!strcmp(key, "content"))
			n = prompt_add(n, prompt_content(v));
		else
			n = prompt_add(n, prompt_value_bytes(v));
	}

	return (n);
}

static int64_t
prompt_content(const json_t *content)
{
	const json_t	*part, *v;
	const char	*key;
	int64_t		 n;
	size_t		 i;

	if (!json_is_array(content))
		return (prompt_value_bytes(content));

	n = 0;
	json_array_foreach(content, i, part) {
		n = prompt_add(n, CREDITS_PART_OVERHEAD);
		if (prompt_is_image_part(part)) {
			n = prompt_add(n, CREDITS_IMAGE_TOKENS);
			continue;
		}
		if (!json_is_object(part)) {
			n = prompt_add(n, prompt_value_bytes(part));
			continue;
		}
		json_object_foreach((json_t *)part, key, v) {
			/* "type": "text" is structure, not prompt. */
			if (!strcmp(key, "type") && json_is_string(v))
				continue;
			n = prompt_add(n, prompt_value_bytes(v));
		}
		/* A file (a PDF) may be images and text: both. */
		if (json_is_string(json_object_get(part, "type")) &&
		    !strcmp(json_string_value(json_object_get(part, "type")),
		    "file"))
			n = prompt_add(n, CREDITS_IMAGE_TOKENS);
	}

	return (n);
}

static int
prompt_is_image_part(const json_t *part)
{
	const char	*type;

	if (!json_is_object(part) ||
	    (type = json_string_value(json_object_get(part, "type"))) == NULL)
		return (0);

	return (!strcmp(type, "image_url") || !strcmp(type, "image") ||
	    !strcmp(type, "input_image"));
}
