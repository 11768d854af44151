/*
 * An upper bound of the tokens a provider will count for a call's
 * prompt, from what the router measured of the request (router/meter.h:
 * the UTF-8 bytes of its text and tool schemas, its messages, its image,
 * audio and file parts). Pure C.
 *
 * Every tokenizer in use (byte-level BPE: OpenAI, Anthropic, Llama, ...;
 * SentencePiece with byte fallback: Gemini, Mistral) emits tokens that
 * each cover at least one byte of UTF-8 text, so a text's UTF-8 byte
 * length is never below its token count, in any script: Korean,
 * Japanese and Chinese take 3 bytes per character and at most a few
 * tokens per character. (A character count, or bytes / 4, is not a
 * bound: it falls short exactly for those scripts.) On top of the text
 * come fixed allowances for what providers add: the chat template around
 * each message, the tool-use preamble, and images, which cost a fixed
 * maximum each whatever their byte size.
 */

#ifndef CREDITS_PROMPT_H
#define CREDITS_PROMPT_H

#include <stdint.h>

#define CREDITS_REQUEST_OVERHEAD	32	/* template, reply priming */
#define CREDITS_MESSAGE_OVERHEAD	16	/* role and separators */
/*
 * The tool-use preamble a provider may add (Anthropic's is 346 tokens
 * at most). The router reports tool schemas only as bytes, so every chat
 * call carries this allowance.
 */
#define CREDITS_TOOLS_OVERHEAD		512

/*
 * The most one image (or audio or file part) can cost: gpt-4o-mini
 * bills a high-detail image as 2833 + 5667 tokens per 512 px tile, at
 * most 4 tiles after its 2048 and 768 px resizes: 25501. Every other
 * model we know counts fewer.
 */
#define CREDITS_IMAGE_TOKENS		25600

/* The call kinds the bound knows. */
#define CREDITS_PROMPT_CHAT		1
#define CREDITS_PROMPT_EMBEDDINGS	2

int64_t	credits_prompt_bound(int, uint64_t, int64_t, int64_t);

#endif
