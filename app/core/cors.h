/*
 * Cross-origin access for a UI on another origin (docs/frontend.md):
 * the list of origins of TOLLGATE_CORS_ORIGINS, which paths take part,
 * and the request headers a preflight may ask for. Pure C; the answers
 * themselves are written by cors_http.c.
 */

#ifndef TG_CORS_H
#define TG_CORS_H

#include <stddef.h>

#include "config.h"

/* Seconds a browser may cache a preflight (Chromium caps it at 7200). */
#define TG_CORS_MAX_AGE		"600"

#define TG_CORS_EXPOSE_HEADERS	"X-Request-Id, Retry-After, " \
	"WWW-Authenticate, x-tollgate-cost-micros, x-tollgate-token-count"

#define TG_CORS_ALLOW_HEADERS_MAX	1024
#define TG_CORS_ORIGIN_MAX		256

void	tg_cors_config(struct tg_config *, tg_getenv_fn,
	    struct tg_config_errors *);
int	tg_cors_origin_parse(const char *, char *, size_t);
int	tg_cors_path(const char *);
int	tg_cors_listed(const struct tg_config *, const char *);
int	tg_cors_allow_headers(const char *, char *, size_t);

#endif
