/*
 * POST /v1/messages/count_tokens (docs/router.md, "Counting tokens"):
 * Anthropic's request shape and answer {"input_tokens": N}, errors in
 * Anthropic's shape (TG_ROUTE_ANTHROPIC), over any model or alias:
 *
 *   START   the body (max_tokens optional, as Anthropic's endpoint has
 *           none) translated to the router's OpenAI request exactly as
 *           /v1/messages translates it, checked, resolved and allowed;
 *           the estimate computed; the target picked: the first of the
 *           route whose provider can be called. A family with a
 *           counting endpoint (anthropic, gemini) builds the request
 *           through its own translation and it goes out (Kore's curl);
 *           otherwise the answer is the estimate at once.
 *   WAIT    asleep until the provider answered: its count, or on any
 *           failure the estimate.
 *
 * x-tollgate-token-count says which: "provider" or "estimate"; an
 * estimate that replaces a failed provider call also carries
 * x-tollgate-token-count-fallback with the reason (never the
 * provider's text). The estimate is the hold's prompt bound
 * (credits/prompt.h): an upper bound, never below what a provider
 * counts.
 *
 * Free: no meter, no hold, no usage record. The dispatcher's access line
 * and request metrics count the call like any other.
 */

#include <stdio.h>
#include <string.h>

#include "router/router.h"
#include "router/messages.h"
#include "router/request.h"
#include "credits/prompt.h"
#include "fetch.h"

#define C_START		0
#define C_WAIT		1

#define COUNT_TIMEOUT_MS	30000

struct count_state {
	struct router_conf		*conf;	/* route points into its catalog */
	json_t				*oreq;
	const struct router_target	*target;
	struct router_route		 route;
	struct router_http		 http;
	struct tg_fetch			 fetch;
	int64_t				 estimate;
};

int	router_count_tokens(struct http_request *);

static int	count_start(struct http_request *);
static int	count_wait(struct http_request *);
static int	count_prepare(struct http_request *, struct count_state *);
static int	count_send(struct http_request *, struct count_state *);
static int	count_reply(struct http_request *, int64_t, const char *,
		    const char *);
static void	count_free(struct http_request *, void *);

static struct http_state	count_states[] = {
	KORE_HTTP_STATE(count_start),
	KORE_HTTP_STATE(count_wait),
};

int
router_count_tokens(struct http_request *req)
{
	if (tg_state(req) == NULL)
		(void)tg_state_alloc(req, sizeof(struct count_state),
		    count_free);

	return (http_state_run(count_states,
	    sizeof(count_states) / sizeof(count_states[0]), req));
}

static int
count_start(struct http_request *req)
{
	struct count_state	*cs = tg_state(req);
	const struct router_family *f;
	char			 reason[ROUTER_ERR_MAX];

	if (!count_prepare(req, cs))
		return (HTTP_STATE_COMPLETE);

	if (cs->target == NULL)
		return (count_reply(req, cs->estimate, "estimate", NULL));
	f = cs->target->provider->family;
	if (f->count_request == NULL)
		return (count_reply(req, cs->estimate, "estimate", NULL));

	reason[0] = '\0';
	if (!f->count_request(cs->target, cs->oreq, &cs->http, reason,
	    sizeof(reason))) {
		kore_log(LOG_NOTICE, "rid=%s count_tokens: %s cannot take the "
		    "request: %s", tg_request_id(req),
		    cs->target->provider->name, reason);
		(void)snprintf(reason, sizeof(reason), "%s cannot count this "
		    "request", cs->target->provider->name);
		return (count_reply(req, cs->estimate, "estimate", reason));
	}

	if (!count_send(req, cs)) {
		(void)snprintf(reason, sizeof(reason), "%s could not be called",
		    cs->target->provider->name);
		return (count_reply(req, cs->estimate, "estimate", reason));
	}

	req->fsm_state = C_WAIT;
	return (HTTP_STATE_CONTINUE);
}

/*
 * The body as /v1/messages takes it (a max_tokens of 1 stands in when
 * the client sent none: counting has no output), checked and resolved
 * like a call; the estimate and the target. 0: answered.
 */
static int
count_prepare(struct http_request *req, struct count_state *cs)
{
	struct router_chat_req	 chat;
	struct router_problem	 pb;
	json_t			*body;
	char			 err[ROUTER_ERR_MAX];
	u_int64_t		 now;
	int			 status, i;

	if ((body = tg_http_body_json(req)) == NULL)
		return (0);
	if (json_object_get(body, "max_tokens") == NULL)
		json_object_set_new(body, "max_tokens", json_integer(1));
	json_object_del(body, "stream");

	err[0] = '\0';
	cs->oreq = router_messages_request_to_openai(body, &status, err,
	    sizeof(err));
	json_decref(body);
	if (cs->oreq == NULL) {
		if (status == 400)
			tg_error(req, 400, "invalid_value", NULL, "%s", err);
		else
			tg_error_internal(req, "messages translation failed");
		return (0);
	}
	if (!router_chat_check(cs->oreq, &chat, &pb)) {
		tg_error(req, 400, pb.code, pb.param[0] ? pb.param : NULL,
		    "%s", pb.message);
		return (0);
	}

	/* A SIGHUP may swap the catalog while the count is out. */
	cs->conf = router_conf_hold();
	switch (router_catalog_resolve(cs->conf->cat, chat.model,
	    ROUTER_KIND_CHAT, &cs->route)) {
	case ROUTER_RESOLVE_OK:
		break;
	case ROUTER_RESOLVE_WRONG_KIND:
		tg_error(req, 400, "invalid_value", "model", "the model "
		    "`%.200s` does not support chat completions", chat.model);
		return (0);
	default:
		tg_error(req, 404, "model_not_found", "model",
		    "the model `%.200s` does not exist", chat.model);
		return (0);
	}
	if (!router_route_allowed(&tg_ctx(req)->who, chat.model,
	    &cs->route)) {
		tg_error(req, 403, "model_not_allowed", "model",
		    "this API key may not use the model `%.200s`", chat.model);
		return (0);
	}

	cs->estimate = credits_prompt_bound(CREDITS_PROMPT_CHAT,
	    chat.prompt_bytes, chat.messages, chat.images);
	/*
	 * The first target a call would try: usable, and not cooling down
	 * after failures (only looked at: a count neither probes a
	 * half-open target nor moves its breaker).
	 */
	now = tg_now_us() / 1000;
	for (i = 0; i < cs->route.ntargets; i++) {
		if (!router_provider_usable(cs->route.targets[i].provider) ||
		    router_cooldown_skips(router_conf_cooler(cs->conf,
		    cs->route.models[i]), now))
			continue;
		cs->target = &cs->route.targets[i];
		break;
	}

	/* What a call would ask for: the model's cap (a thinking budget fits). */
	if (cs->target != NULL && cs->target->max_output_tokens > 0) {
		json_object_del(cs->oreq, "max_completion_tokens");
		json_object_set_new(cs->oreq, "max_tokens",
		    json_integer(cs->target->max_output_tokens));
	}

	return (1);
}

static int
count_send(struct http_request *req, struct count_state *cs)
{
	const struct router_provider	*p = cs->target->provider;
	const char			*headers[ROUTER_HEADERS_MAX + 1];
	long				 timeout;
	int				 i;

	for (i = 0; i < cs->http.nheaders; i++)
		headers[i] = cs->http.headers[i];
	headers[i] = NULL;

	timeout = p->total_ms < COUNT_TIMEOUT_MS ? p->total_ms :
	    COUNT_TIMEOUT_MS;
	return (tg_fetch_start(&cs->fetch, req, HTTP_METHOD_POST, cs->http.url,
	    headers, cs->http.body, cs->http.body_len, timeout));
}

static int
count_wait(struct http_request *req)
{
	struct count_state		*cs = tg_state(req);
	const struct router_provider	*p = cs->target->provider;
	char				 reason[128];
	int64_t				 n;

	switch (tg_fetch_poll(&cs->fetch)) {
	case TG_FETCH_WAIT:
		return (HTTP_STATE_RETRY);
	case TG_FETCH_FAILED:
		kore_log(LOG_NOTICE, "rid=%s count_tokens: %s failed: %s",
		    tg_request_id(req), p->name, cs->fetch.error);
		(void)snprintf(reason, sizeof(reason), "%s %s", p->name,
		    cs->fetch.timed_out ? "timed out" : "could not be reached");
		return (count_reply(req, cs->estimate, "estimate", reason));
	}

	if (cs->fetch.status != 200) {
		kore_log(LOG_NOTICE, "rid=%s count_tokens: %s answered %ld",
		    tg_request_id(req), p->name, cs->fetch.status);
		(void)snprintf(reason, sizeof(reason), "%s failed (%ld)",
		    p->name, cs->fetch.status);
		return (count_reply(req, cs->estimate, "estimate", reason));
	}
	if (!p->family->count_response((const char *)cs->fetch.body,
	    cs->fetch.body_len, &n)) {
		(void)snprintf(reason, sizeof(reason), "%s answered no count",
		    p->name);
		return (count_reply(req, cs->estimate, "estimate", reason));
	}

	return (count_reply(req, n, "provider", NULL));
}

static int
count_reply(struct http_request *req, int64_t n, const char *source,
    const char *fallback)
{
	http_response_header(req, "x-tollgate-token-count", source);
	if (fallback != NULL)
		http_response_header(req, "x-tollgate-token-count-fallback",
		    fallback);
	tg_http_json_steal(req, 200, json_pack("{s:I}", "input_tokens",
	    (json_int_t)n));
	return (HTTP_STATE_COMPLETE);
}

static void
count_free(struct http_request *req, void *arg)
{
	struct count_state	*cs = arg;

	(void)req;
	tg_fetch_clear(&cs->fetch);
	router_http_free(&cs->http);
	json_decref(cs->oreq);
	if (cs->conf != NULL)
		router_conf_drop(cs->conf);
}
