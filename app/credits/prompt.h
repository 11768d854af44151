/*
 * An upper bound of the tokens a provider will count for a request's
 * prompt, from the OpenAI-shaped request alone (pure C over jansson).
 *
 * Every tokenizer in use (byte-level BPE: OpenAI, Anthropic, Llama, ...;
 * SentencePiece with byte fallback: Gemini, Mistral) emits tokens that
 * each cover at least one byte of UTF-8 text, so a text's UTF-8 byte
 * length is never below its token count, in any script: Korean,
 * Japanese and Chinese take 3 bytes per character and at most a few
 * tokens per character. (A character count, or bytes / 4, is not a
 * bound: it falls short exactly for those scripts.) On top of the text
 * come fixed allowances for what providers add: the chat template around
 * each message and part, the tool-use preamble, and images, which cost a
 * fixed maximum each whatever their byte size.
 */

#ifndef CREDITS_PROMPT_H
#define CREDITS_PROMPT_H

#include <stdint.h>

#include <jansson.h>

#define CREDITS_REQUEST_OVERHEAD	32	/* template, reply priming */
#define CREDITS_MESSAGE_OVERHEAD	16	/* role and separators */
#define CREDITS_PART_OVERHEAD		4	/* per content part */
#define CREDITS_TOOLS_OVERHEAD		1024	/* tool-use preamble */
#define CREDITS_INPUT_OVERHEAD		4	/* per embeddings input */

/*
 * The most one image can cost: gpt-4o-mini bills a high-detail image as
 * 2833 + 5667 tokens per 512px tile, at most 4 tiles after its 2048 and
 * 768 px resizes: 25501. Every other model we know counts fewer.
 */
#define CREDITS_IMAGE_TOKENS		25600

int64_t	credits_prompt_bound_chat(const json_t *);
int64_t	credits_prompt_bound_embeddings(const json_t *);
int64_t	credits_json_bytes(const json_t *);

#endif
