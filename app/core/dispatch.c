/*
 * The one Kore handler: every request enters tg_dispatch() (conf/
 * tollgate.conf routes "^/" here), which gives Tollgate control over what
 * Kore would otherwise answer with bare bodies:
 *
 *   - the request id (X-Request-Id echoed when sane, else generated),
 *   - CORS headers for a listed origin, and CORS preflights answered
 *     from the route tables (cors_http.c),
 *   - route matching over the modules' tables, with 404 and 405 (with
 *     Allow) in the contract's error shape,
 *   - ambiguous framing refused (400, early.c: Transfer-Encoding, two
 *     different Content-Lengths),
 *   - the per-route body limit (413), rate limits (429, route flags)
 *     and session authentication (an admin token under /api/admin/ is
 *     checked asynchronously, like an API key),
 *   - /metrics only on the metrics listener when TOLLGATE_METRICS_LISTEN
 *     is set, and nothing else there (404 otherwise),
 *   - one access-log line (text, or one JSON object: log.c) and the
 *     request metrics (count and duration by route) when the request
 *     ends, also when the client went away mid-way (status 499, as
 *     nginx); a streamed answer counts in tollgate_streams_open from
 *     its headers (tg_stream_opened) to that end.
 *
 * A handler is called again on every wakeup (HTTP_STATE_RETRY) with the
 * same context; its own memory comes from tg_state_alloc().
 */

#include <sys/time.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tollgate.h"
#include "clean.h"
#include "metrics.h"

#define ROUTES_MAX	128

/* Random bytes drawn at once for request ids: one getrandom() per 340. */
#define ID_POOL_SIZE	4080


int	(*tg_session_authenticate)(struct http_request *,
	    struct tg_principal *) = NULL;
int	(*tg_key_authenticate)(struct http_request *, struct tg_ctx *) = NULL;
int	(*tg_admin_token_authenticate)(struct http_request *,
	    struct tg_ctx *) = NULL;
int	(*tg_session_guard)(const char *, const char *) = NULL;

static const struct tg_route	*routes[ROUTES_MAX];
static int			 route_metric[ROUTES_MAX];
static int			 nroutes;

/* This worker's; empty at fork, so no two workers share bytes. */
static unsigned char		 id_pool[ID_POOL_SIZE];
static size_t			 id_pool_off = ID_POOL_SIZE;

static int	dispatch_begin(struct http_request *, struct tg_ctx *);
static int	dispatch_key_auth(struct http_request *, struct tg_ctx *);
static void	dispatch_end(struct http_request *, struct tg_ctx *);
static void	dispatch_free(struct http_request *);
static void	dispatch_request_id(struct http_request *, struct tg_ctx *);
static void	dispatch_random(unsigned char *, size_t);
static int	dispatch_match(const char *, const char *, struct tg_ctx *);
static void	dispatch_params_free(struct tg_ctx *);
static void	dispatch_allow(int, char *, size_t);
static int	dispatch_listener(struct http_request *);
static void	dispatch_done(struct http_request *, struct tg_ctx *, int);
static void	dispatch_log(struct http_request *, struct tg_ctx *, int);
static void	dispatch_log_json(struct http_request *, struct tg_ctx *,
		    int, const char *, double);

/*
 * Collect the modules' routes; called once in the parent. Also names the
 * request metrics by pattern (routes that share a pattern share a name).
 */
void
tg_dispatch_init(void)
{
	const struct tg_route	*r;
	const char		*names[ROUTES_MAX];
	int			 m, j, nnames;

	nroutes = 0;
	nnames = 0;
	for (m = 0; m < TG_MODULES_MAX; m++) {
		if (tg_modules[m] == NULL || tg_modules[m]->routes == NULL)
			continue;
		for (r = tg_modules[m]->routes; r->pattern != NULL; r++) {
			if (nroutes >= ROUTES_MAX)
				fatal("too many routes");
			for (j = 0; j < nnames; j++) {
				if (!strcmp(names[j], r->pattern))
					break;
			}
			if (j == nnames)
				names[nnames++] = r->pattern;
			route_metric[nroutes] = j;
			routes[nroutes++] = r;
		}
	}

	tg_metrics_routes(names, nnames);
}

int
tg_dispatch(struct http_request *req)
{
	struct tg_ctx	*ctx;
	int		 ret;

	if ((ctx = http_state_get(req)) == NULL) {
		ctx = http_state_create(req, sizeof(*ctx), dispatch_free);
		if (!dispatch_begin(req, ctx)) {
			dispatch_end(req, ctx);
			tg_log_request(NULL);
			return (KORE_RESULT_OK);
		}
	}
	/* Lines logged from here on name this request (log.c). */
	tg_log_request(ctx->request_id);

	if (!ctx->authenticated) {
		switch (dispatch_key_auth(req, ctx)) {
		case TG_AUTH_WAIT:
			tg_log_request(NULL);
			return (KORE_RESULT_RETRY);
		case TG_AUTH_DENIED:
			dispatch_end(req, ctx);
			tg_log_request(NULL);
			return (KORE_RESULT_OK);
		}
		ctx->authenticated = 1;
	}

	ret = ctx->route->handler(req);
	if (ret != KORE_RESULT_RETRY)
		dispatch_end(req, ctx);
	tg_log_request(NULL);

	return (ret == KORE_RESULT_ERROR ? KORE_RESULT_OK : ret);
}

/*
 * The relay sent a stream's headers: counted as open until the request
 * ends (dispatch_done).
 */
void
tg_stream_opened(struct http_request *req)
{
	struct tg_ctx	*ctx = http_state_get(req);

	if (ctx == NULL || ctx->streaming)
		return;
	ctx->streaming = 1;
	tg_metrics_add(tg_metric_streams_open, 1);
}

/*
 * The router's account of a call for the access line; called again as
 * more is known (the cost once the meter settled). cost -1: not known.
 */
void
tg_access_call(struct http_request *req, const char *model,
    int64_t prompt, int64_t completion, int64_t cost, int attempts)
{
	struct tg_ctx	*ctx = http_state_get(req);

	if (ctx == NULL)
		return;
	ctx->call.set = 1;
	/* The model may be the client's own bytes: made fit for a line. */
	if (model != NULL)
		(void)tg_clean_text(ctx->call.model, sizeof(ctx->call.model),
		    model, strlen(model));
	ctx->call.prompt_tokens = prompt;
	ctx->call.completion_tokens = completion;
	ctx->call.cost_micros = cost;
	ctx->call.attempts = attempts;
}

struct tg_ctx *
tg_ctx(struct http_request *req)
{
	return (http_state_get(req));
}

/*
 * Handler memory, zeroed, freed with the request. free_cb runs first and
 * must release what the state holds (results, buffers); pgsql and curl
 * handles bound to the request are cleaned up by the core before it.
 */
void *
tg_state_alloc(struct http_request *req, size_t len,
    void (*free_cb)(struct http_request *, void *))
{
	struct tg_ctx	*ctx = http_state_get(req);

	if (ctx->state != NULL)
		fatal("tg_state_alloc: state already exists");

	ctx->state = kore_calloc(1, len);
	ctx->state_free = free_cb;

	return (ctx->state);
}

void *
tg_state(struct http_request *req)
{
	struct tg_ctx	*ctx = http_state_get(req);

	return (ctx != NULL ? ctx->state : NULL);
}

const char *
tg_param(struct http_request *req, int i)
{
	struct tg_ctx	*ctx = http_state_get(req);

	if (ctx == NULL || i < 0 || i >= ctx->nparams)
		return (NULL);

	return (ctx->params[i]);
}

const char *
tg_request_id(struct http_request *req)
{
	struct tg_ctx	*ctx = http_state_get(req);

	return (ctx != NULL ? ctx->request_id : "-");
}

u_int64_t
tg_now_us(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((u_int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* Returns 1 when the route's handler should run, 0 when answered. */
static int
dispatch_begin(struct http_request *req, struct tg_ctx *ctx)
{
	const struct tg_route	*r;
	char			 allow[64];
	int			 i, methods, method, preflight;
	size_t			 max;

	ctx->start_us = tg_now_us();
	ctx->route_index = -1;

	/*
	 * The body (if any) is complete here; Kore's header and body
	 * timers must not fire while a handler waits on PostgreSQL or an
	 * upstream (docs/kore.md, "Streaming" 1 and 2). They are re-armed
	 * after the answer.
	 */
	if (req->owner != NULL)
		req->owner->http_timeout = 0;

	dispatch_request_id(req, ctx);
	http_response_header(req, "x-content-type-options", "nosniff");
	tg_cors_headers(req);

	if (!dispatch_listener(req)) {
		tg_error(req, 404, "not_found", NULL, "no route for %s",
		    req->path);
		return (0);
	}

	/* Smuggling: a body's length must be beyond doubt (early.c). */
	if (!tg_framing_check(req))
		return (0);

	method = req->method;
	if (method == HTTP_METHOD_HEAD)
		method = HTTP_METHOD_GET;

	/* A CORS preflight is answered from every route of the path. */
	preflight = tg_cors_is_preflight(req);
	methods = 0;
	for (i = 0; i < nroutes; i++) {
		r = routes[i];
		if (!dispatch_match(r->pattern, req->path, ctx))
			continue;
		/* Link previews send HEAD; it must not consume a flow. */
		if (!preflight && (r->methods & method) &&
		    !(req->method == HTTP_METHOD_HEAD &&
		    (r->flags & TG_ROUTE_NO_HEAD))) {
			ctx->route = r;
			ctx->route_index = route_metric[i];
			break;
		}
		methods |= r->methods;
		ctx->route_index = route_metric[i];
	}

	if (preflight) {
		dispatch_allow(methods, allow, sizeof(allow));
		tg_cors_preflight(req, allow);
		return (0);
	}

	/* The body limit first: an oversized body is refused anywhere. */
	max = ctx->route != NULL && ctx->route->body_max != 0 ?
	    ctx->route->body_max : tg_body_limit(req->path);
	if (req->http_body_length > max) {
		tg_error(req, 413, "body_too_large", NULL,
		    "request body of %zu bytes is over the limit of %zu bytes",
		    req->http_body_length, max);
		return (0);
	}

	if (ctx->route == NULL) {
		if (methods != 0) {
			dispatch_allow(methods, allow, sizeof(allow));
			http_response_header(req, "allow", allow);
			tg_error(req, 405, "method_not_allowed", NULL,
			    "%s is not allowed on this route (allowed: %s)",
			    http_method_text(req->method), allow);
		} else {
			tg_error(req, 404, "not_found", NULL,
			    "no route for %s", req->path);
		}
		return (0);
	}

	if ((ctx->route->flags & TG_ROUTE_RATELIMIT_IP) &&
	    !tg_ratelimit_ip(req))
		return (0);

	/* An admin token: checked like a key (asynchronously), below. */
	if (ctx->route->auth == TG_AUTH_SESSION &&
	    tg_admin_token_authenticate != NULL &&
	    !strncmp(req->path, "/api/admin/", 11) &&
	    tg_http_bearer(req) != NULL &&
	    !strncmp(tg_http_bearer(req), "tga_", 4))
		return (1);

	if (ctx->route->auth == TG_AUTH_SESSION) {
		if (tg_session_authenticate == NULL) {
			tg_error(req, 401, "invalid_token", NULL,
			    "sign-in is not available");
			return (0);
		}
		if (!tg_session_authenticate(req, &ctx->who))
			return (0);
		if ((ctx->route->flags & TG_ROUTE_RATELIMIT_USER) &&
		    !tg_ratelimit_user(req, ctx->who.user_id))
			return (0);
	}

	if (ctx->route->auth != TG_AUTH_API_KEY)
		ctx->authenticated = 1;

	return (1);
}

/* API keys may need PostgreSQL: asynchronous, before the handler. */
static int
dispatch_key_auth(struct http_request *req, struct tg_ctx *ctx)
{
	/* Only an admin token leaves a session route unauthenticated. */
	if (ctx->route->auth == TG_AUTH_SESSION)
		return (tg_admin_token_authenticate(req, ctx));
	if (tg_key_authenticate == NULL) {
		tg_error(req, 401, "invalid_api_key", NULL,
		    "invalid API key");
		return (TG_AUTH_DENIED);
	}

	return (tg_key_authenticate(req, ctx));
}

/*
 * With TOLLGATE_METRICS_LISTEN set, its listener serves /metrics and
 * nothing else, and the main listener does not serve /metrics.
 */
static int
dispatch_listener(struct http_request *req)
{
	const char	*server;
	int		 metrics_path, on_metrics;

	if (tg_conf.metrics_host[0] == '\0')
		return (1);
	if (req->owner == NULL || req->owner->owner == NULL ||
	    req->owner->owner->server == NULL)
		return (0);

	server = req->owner->owner->server->name;
	on_metrics = server != NULL && !strcmp(server, TG_METRICS_SERVER);
	metrics_path = !strcmp(req->path, "/metrics");

	return (on_metrics == metrics_path);
}

static void
dispatch_end(struct http_request *req, struct tg_ctx *ctx)
{
	if (ctx->logged)
		return;

	dispatch_done(req, ctx, req->status);
}

/* The request's end, once: its line, its metrics, its stream closed. */
static void
dispatch_done(struct http_request *req, struct tg_ctx *ctx, int status)
{
	ctx->logged = 1;
	dispatch_log(req, ctx, status);
	tg_metrics_request(ctx->route_index, status,
	    tg_now_us() - ctx->start_us);
	if (ctx->streaming) {
		ctx->streaming = 0;
		tg_metrics_add(tg_metric_streams_open, -1);
	}
}

/*
 * Runs first in http_request_free(). The modules' free callbacks run
 * first: they release their own statements and curl handles
 * (tg_db_clear, tg_fetch_clear), which unbinds them from the request,
 * and the router reports the call it ends there (tg_access_call). A
 * request freed before its handler finished (client gone) is logged
 * then. A curl handle still bound is released after that, and only
 * then the state memory the handles live in. (kore_curl_cleanup() is
 * not idempotent: a handle cleaned here and again by tg_fetch_clear()
 * would be freed twice.)
 */
static void
dispatch_free(struct http_request *req)
{
	struct tg_ctx	*ctx = http_state_get(req);

	if (ctx == NULL)
		return;

	tg_log_request(ctx->request_id);
	if (ctx->auth_state != NULL && ctx->auth_state_free != NULL)
		ctx->auth_state_free(req, ctx->auth_state);
	if (ctx->state != NULL && ctx->state_free != NULL)
		ctx->state_free(req, ctx->state);

	if (!ctx->logged)
		dispatch_done(req, ctx, 499);
	tg_log_request(NULL);

	while (!LIST_EMPTY(&req->chandles))
		kore_curl_cleanup(LIST_FIRST(&req->chandles));

	kore_free(ctx->auth_state);
	ctx->auth_state = NULL;
	kore_free(ctx->state);
	ctx->state = NULL;

	dispatch_params_free(ctx);
}

/* A sane incoming id is kept (log correlation); anything else replaced. */
static void
dispatch_request_id(struct http_request *req, struct tg_ctx *ctx)
{
	const char	*in, *p;
	unsigned char	 rnd[12];
	size_t		 len;

	if (http_request_header(req, "x-request-id", &in)) {
		len = strlen(in);
		for (p = in; *p != '\0'; p++) {
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '_' && *p != '.' && *p != ':')
				break;
		}
		if (*p == '\0' && len > 0 && len <= TG_REQUEST_ID_MAX) {
			memcpy(ctx->request_id, in, len + 1);
			goto out;
		}
	}

	dispatch_random(rnd, sizeof(rnd));
	memcpy(ctx->request_id, "req_", 4);
	sodium_bin2hex(ctx->request_id + 4, sizeof(ctx->request_id) - 4,
	    rnd, sizeof(rnd));

out:
	http_response_header(req, "x-request-id", ctx->request_id);
}

/*
 * Request ids need unique, unguessable bytes, not a system call per
 * request: they come from a pool refilled from the kernel's generator.
 * Each byte is handed out once.
 */
static void
dispatch_random(unsigned char *out, size_t len)
{
	if (len > sizeof(id_pool))
		fatal("dispatch_random: %zu bytes", len);
	if (id_pool_off + len > sizeof(id_pool)) {
		randombytes_buf(id_pool, sizeof(id_pool));
		id_pool_off = 0;
	}

	memcpy(out, id_pool + id_pool_off, len);
	sodium_memzero(id_pool + id_pool_off, len);
	id_pool_off += len;
}

/*
 * Literal segments must be equal; "{}" takes one non-empty segment; a
 * last "{*}" takes the non-empty rest of the path, '/' included (model
 * ids such as "openrouter/openai/gpt-4o").
 */
static int
dispatch_match(const char *pattern, const char *path, struct tg_ctx *ctx)
{
	const char	*p, *s;
	size_t		 plen, slen;
	int		 n, tail;

	dispatch_params_free(ctx);
	n = 0;
	p = pattern;
	s = path;

	while (*p != '\0' && *s != '\0') {
		if (*p != '/' || *s != '/')
			goto fail;
		p++;
		s++;
		plen = strcspn(p, "/");
		slen = strcspn(s, "/");

		tail = plen == 3 && !strcmp(p, "{*}");
		if (tail)
			slen = strlen(s);
		if (tail || (plen == 2 && p[0] == '{' && p[1] == '}')) {
			if (slen == 0 || n >= TG_PARAMS_MAX)
				goto fail;
			ctx->params[n] = kore_malloc(slen + 1);
			memcpy(ctx->params[n], s, slen);
			ctx->params[n++][slen] = '\0';
		} else if (plen != slen || strncmp(p, s, plen)) {
			goto fail;
		}
		p += plen;
		s += slen;
	}

	if (*p != '\0' || *s != '\0')
		goto fail;

	ctx->nparams = n;
	return (1);

fail:
	ctx->nparams = n;
	dispatch_params_free(ctx);
	return (0);
}

static void
dispatch_params_free(struct tg_ctx *ctx)
{
	int	i;

	for (i = 0; i < ctx->nparams; i++)
		kore_free(ctx->params[i]);
	ctx->nparams = 0;
}

static void
dispatch_allow(int methods, char *out, size_t len)
{
	static const struct {
		int		 m;
		const char	*name;
	} names[] = {
		{ HTTP_METHOD_GET, "GET, HEAD" },
		{ HTTP_METHOD_POST, "POST" },
		{ HTTP_METHOD_PUT, "PUT" },
		{ HTTP_METHOD_PATCH, "PATCH" },
		{ HTTP_METHOD_DELETE, "DELETE" },
	};
	size_t	i, off;
	int	n;

	off = 0;
	out[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(methods & names[i].m))
			continue;
		n = snprintf(out + off, len - off, "%s%s",
		    off > 0 ? ", " : "", names[i].name);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += n;
	}
}

/*
 * One line per request. The path is logged without its query string
 * (Kore splits it off), so OAuth codes and states never reach the log;
 * bytes outside printable ASCII are replaced to keep lines whole.
 *
 * In the foreground the line is written as kore_log() would write it
 * ("[wrk N]: access ..."), but formatted once, straight into stdout's
 * line buffer (one write per line, as before); kore_log() formats the
 * message and then the line again.
 */
static void
dispatch_log(struct http_request *req, struct tg_ctx *ctx, int status)
{
	char		 path[256], line[1024];
	const char	*route, *src, *user, *key;
	double		 ms;
	size_t		 i;
	int		 n;

	src = req->path != NULL ? req->path : "-";
	for (i = 0; i < sizeof(path) - 1 && src[i] != '\0'; i++) {
		path[i] = (src[i] > 0x20 && src[i] < 0x7f && src[i] != '"') ?
		    src[i] : '?';
	}
	path[i] = '\0';

	route = ctx->route != NULL ? ctx->route->pattern : "-";
	ms = (double)(tg_now_us() - ctx->start_us) / 1000.0;
	if (tg_log_is_json()) {
		dispatch_log_json(req, ctx, status, path, ms);
		return;
	}
	user = ctx->who.user_id[0] != '\0' ? ctx->who.user_id : "-";
	key = ctx->who.key_id[0] != '\0' ? ctx->who.key_id : "-";

	if (kore_foreground && worker != NULL) {
		n = snprintf(line, sizeof(line), "[wrk %d]: access rid=%s "
		    "method=%s path=\"%s\" route=%s status=%d ms=%.1f user=%s "
		    "key=%s\n", worker->id, ctx->request_id,
		    http_method_text(req->method), path, route, status, ms,
		    user, key);
		if (n > 0 && (size_t)n < sizeof(line)) {
			(void)fwrite(line, 1, n, stdout);
			return;
		}
	}

	kore_log(LOG_INFO, "access rid=%s method=%s path=\"%s\" route=%s "
	    "status=%d ms=%.1f user=%s key=%s", ctx->request_id,
	    http_method_text(req->method), path, route, status, ms, user, key);
}

/*
 * The access line as one object: msg "access" and the request's fields
 * (docs/operations.md lists them); a router call adds its model, tokens,
 * cost (null when the meter had not settled yet) and attempts.
 */
static void
dispatch_log_json(struct http_request *req, struct tg_ctx *ctx, int status,
    const char *path, double ms)
{
	json_t	*f;
	char	 client[INET6_ADDRSTRLEN + 1];

	tg_http_client_ip(req, client, sizeof(client));
	f = json_object();
	json_object_set_new(f, "client", json_string(client));
	json_object_set_new(f, "method",
	    json_string(http_method_text(req->method)));
	json_object_set_new(f, "path", json_string(path));
	json_object_set_new(f, "route", ctx->route != NULL ?
	    json_string(ctx->route->pattern) : json_null());
	json_object_set_new(f, "status", json_integer(status));
	json_object_set_new(f, "duration_ms", json_real(ms));
	if (ctx->who.user_id[0] != '\0')
		json_object_set_new(f, "user", json_string(ctx->who.user_id));
	if (ctx->who.key_id[0] != '\0')
		json_object_set_new(f, "key", json_string(ctx->who.key_id));
	if (ctx->call.set) {
		json_object_set_new(f, "model", json_string(ctx->call.model));
		json_object_set_new(f, "prompt_tokens",
		    json_integer(ctx->call.prompt_tokens));
		json_object_set_new(f, "completion_tokens",
		    json_integer(ctx->call.completion_tokens));
		json_object_set_new(f, "cost_micros",
		    ctx->call.cost_micros >= 0 ?
		    json_integer(ctx->call.cost_micros) : json_null());
		json_object_set_new(f, "attempts",
		    json_integer(ctx->call.attempts));
	}

	tg_log_fields(LOG_INFO, ctx->request_id, "access", f);
	json_decref(f);
}
