/*
 * The per-stream state of each provider family, kept in
 * router_stream.family (provider.h) as a union: a stream belongs to one
 * family, which reads and writes its own member only. The router zeroes
 * the whole router_stream before the first event, so every member
 * starts at zero.
 */

#ifndef ROUTER_FAMILY_STATE_H
#define ROUTER_FAMILY_STATE_H

/* openai (and every OpenAI-compatible provider). */
struct openai_state {
	int	adopted;	/* st->id/model/created taken from upstream */
};

/* gemini: one entry per candidate, in candidate index order. */
#define GEM_CANDS_MAX		8

struct gem_cand {
	int	sent_role;
	int	tools;		/* tool calls so far (the OpenAI index) */
	int	finished;
};

struct gem_state {
	int		ncands;
	int		bad_usage;	/* a garbage usage was seen */
	struct gem_cand	cands[GEM_CANDS_MAX];
};

/* anthropic: the block table maps a content block index to its kind. */
#define ANTH_BLOCKS_MAX		48

struct anth_block {
	int	index;
	int	kind;
	int	tool;		/* OpenAI tool_calls index */
	int	args;		/* a tool call's argument bytes went out */
	int	detail;		/* reasoning_details index (thinking) */
};

struct anth_state {
	int			nblocks;
	int			finished;
	int			ndetails;	/* reasoning_details entries */
	int			bad_usage;	/* a garbage usage was seen */
	struct anth_block	blocks[ANTH_BLOCKS_MAX];
};

union router_family_state {
	struct openai_state	openai;
	struct gem_state	gemini;
	struct anth_state	anthropic;
};

#endif
