/*
 * The content test of the relay's preamble hold-back (holdback.h).
 */

#include <stddef.h>

#include <jansson.h>

#include "router/holdback.h"

static int	holdback_delta(const json_t *);

int
router_chunks_have_content(const json_t *chunks)
{
	const json_t	*c, *choice;
	size_t		 i, j;

	json_array_foreach(chunks, i, c) {
		json_array_foreach(json_object_get(c, "choices"), j, choice) {
			if (holdback_delta(json_object_get(choice, "delta")))
				return (1);
		}
	}

	return (0);
}

/* A delta with output: a non-empty text field or a non-empty list. */
static int
holdback_delta(const json_t *delta)
{
	static const char	*texts[] = { "content", "reasoning",
	    "reasoning_content", "refusal", NULL };
	static const char	*lists[] = { "tool_calls", "reasoning_details",
	    NULL };
	const json_t		*v;
	int			 k;

	for (k = 0; texts[k] != NULL; k++) {
		v = json_object_get(delta, texts[k]);
		if (json_is_string(v) && json_string_length(v) > 0)
			return (1);
	}
	for (k = 0; lists[k] != NULL; k++) {
		v = json_object_get(delta, lists[k]);
		if (json_is_array(v) && json_array_size(v) > 0)
			return (1);
	}

	return (0);
}
