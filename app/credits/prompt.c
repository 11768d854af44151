/*
 * The prompt upper bound of a call (see prompt.h). Pure C.
 *
 *   chat        CREDITS_REQUEST_OVERHEAD + text bytes
 *               + messages * CREDITS_MESSAGE_OVERHEAD
 *               + images * CREDITS_IMAGE_TOKENS + CREDITS_TOOLS_OVERHEAD
 *   embeddings  text bytes (token ids count one each), at least 1:
 *               embedding inputs are tokenized bare.
 *
 * Nothing is ever subtracted, negative counts count as zero, and the sum
 * saturates at INT64_MAX instead of wrapping (a hold that large is
 * simply unaffordable).
 */

#include "credits/prompt.h"

static int64_t	prompt_add(int64_t, int64_t);
static int64_t	prompt_mul(int64_t, int64_t);

int64_t
credits_prompt_bound(int kind, uint64_t bytes, int64_t messages,
    int64_t images)
{
	int64_t	n, b;

	b = bytes > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)bytes;

	if (kind == CREDITS_PROMPT_EMBEDDINGS)
		return (b > 0 ? b : 1);

	n = CREDITS_REQUEST_OVERHEAD + CREDITS_TOOLS_OVERHEAD;
	n = prompt_add(n, b);
	n = prompt_add(n, prompt_mul(messages, CREDITS_MESSAGE_OVERHEAD));
	n = prompt_add(n, prompt_mul(images, CREDITS_IMAGE_TOKENS));

	return (n);
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

static int64_t
prompt_mul(int64_t a, int64_t b)
{
	if (a <= 0 || b <= 0)
		return (0);
	if (a > INT64_MAX / b)
		return (INT64_MAX);
	return (a * b);
}
