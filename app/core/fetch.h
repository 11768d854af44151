/*
 * Outbound HTTP over Kore's asynchronous curl, for calls whose answer is
 * small and read whole: OAuth token exchange, user info and JWKS, the
 * Stripe API. (The router streams and drives kore_curl itself, but uses
 * tg_curl_defaults(), tg_curl_header() and tg_curl_run() for the same
 * transport rules, header lines and start.)
 *
 *	tg_fetch_start(&st->fetch, req, HTTP_METHOD_POST, url, headers,
 *	    body, len, 10000);				then, in the next state,
 *	switch (tg_fetch_poll(&st->fetch)) {
 *	case TG_FETCH_WAIT:	return (HTTP_STATE_RETRY);
 *	case TG_FETCH_FAILED:	connect error, timeout, TLS: st->fetch.error
 *	case TG_FETCH_DONE:	st->fetch.status, .body, .body_len
 *	}
 *
 * headers is a NULL-terminated list of "name: value" strings.
 */

#ifndef TG_FETCH_H
#define TG_FETCH_H

#include "tollgate.h"

#define TG_FETCH_WAIT		1
#define TG_FETCH_DONE		2
#define TG_FETCH_FAILED		3

struct tg_fetch {
	struct kore_curl	 curl;
	int			 state;
	long			 status;
	const u_int8_t		*body;
	size_t			 body_len;
	int			 timed_out;
	char			 error[256];
};

int		 tg_fetch_start(struct tg_fetch *, struct http_request *, int,
		    const char *, const char *const *, const void *, size_t,
		    long);
int		 tg_fetch_poll(struct tg_fetch *);
void		 tg_fetch_clear(struct tg_fetch *);
void		 tg_curl_defaults(void *, long, long);
void		 tg_curl_header(struct kore_curl *, const char *);
void		 tg_curl_run(struct kore_curl *);

#endif
