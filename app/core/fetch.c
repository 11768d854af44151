/*
 * Buffered outbound HTTP (see fetch.h) and the transport rules every
 * upstream call shares: http and https only, no redirects, a connect and
 * a total timeout (a curl handle without a timer spins Kore's worker,
 * docs/kore.md, "curl"), and TOLLGATE_CA_FILE when set.
 */

#include <string.h>

#include "fetch.h"

#define FETCH_IDLE	0
#define FETCH_RUNNING	1
#define FETCH_OVER	2

static int	fetch_setup(struct tg_fetch *, int, const char *,
		    const char *const *, const void *, size_t, long);

/* Transport rules for any curl handle of ours. */
void
tg_curl_defaults(void *handle, long connect_ms, long total_ms)
{
	CURL	*h = handle;

	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (tg_conf.ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, tg_conf.ca_file);
}

int
tg_fetch_start(struct tg_fetch *f, struct http_request *req, int method,
    const char *url, const char *const *headers, const void *body,
    size_t len, long timeout_ms)
{
	if (!fetch_setup(f, method, url, headers, body, len, timeout_ms))
		return (0);

	kore_curl_bind_request(&f->curl, req);
	tg_curl_run(&f->curl);
	return (1);
}

int
tg_fetch_poll(struct tg_fetch *f)
{
	switch (f->state) {
	case FETCH_RUNNING:
		if (f->curl.handle != NULL)
			return (TG_FETCH_WAIT);
		break;
	case FETCH_OVER:
		return (f->status > 0 ? TG_FETCH_DONE : TG_FETCH_FAILED);
	default:
		return (TG_FETCH_FAILED);
	}

	f->state = FETCH_OVER;
	if (!kore_curl_success(&f->curl)) {
		f->status = 0;
		f->timed_out = f->curl.result == CURLE_OPERATION_TIMEDOUT;
		(void)kore_strlcpy(f->error, kore_curl_strerror(&f->curl),
		    sizeof(f->error));
		return (TG_FETCH_FAILED);
	}

	f->status = f->curl.http.status;
	kore_curl_response_as_bytes(&f->curl, &f->body, &f->body_len);
	return (TG_FETCH_DONE);
}

void
tg_fetch_clear(struct tg_fetch *f)
{
	if (f->state != FETCH_IDLE)
		kore_curl_cleanup(&f->curl);
	memset(f, 0, sizeof(*f));
}

/*
 * Kore adds the handle to its multi handle but only drives it at its next
 * timer tick (up to 100 ms later); kick it now so the request goes out at
 * once.
 */
void
tg_curl_run(struct kore_curl *curl)
{
	kore_curl_run(curl);
	kore_curl_do_timeout();
}

/*
 * One "name: value" header line (spaces after the colon skipped); a line
 * without a colon, or whose name is empty or too long, is left out.
 * A line already written the way Kore would write it ("name: value",
 * one space) goes to the handle's list as it is, without Kore's
 * reformatting into a scratch buffer.
 */
void
tg_curl_header(struct kore_curl *curl, const char *line)
{
	const char		*colon;
	char			 name[128];
	size_t			 n;
	struct curl_slist	*list;

	if ((colon = strchr(line, ':')) == NULL)
		return;
	n = colon - line;
	if (n == 0 || n >= sizeof(name))
		return;

	if (colon[1] == ' ' && colon[2] != ' ' && colon[2] != '\0') {
		if ((list = curl_slist_append(curl->http.hdrlist,
		    line)) == NULL)
			fatal("tg_curl_header: out of memory");
		curl->http.hdrlist = list;
		curl_easy_setopt(curl->handle, CURLOPT_HTTPHEADER, list);
		return;
	}

	memcpy(name, line, n);
	name[n] = '\0';
	colon++;
	while (*colon == ' ')
		colon++;
	kore_curl_http_set_header(curl, name, colon);
}

static int
fetch_setup(struct tg_fetch *f, int method, const char *url,
    const char *const *headers, const void *body, size_t len,
    long timeout_ms)
{
	int	i;

	tg_fetch_clear(f);

	if (!kore_curl_init(&f->curl, url, KORE_CURL_ASYNC)) {
		(void)kore_strlcpy(f->error, f->curl.errbuf, sizeof(f->error));
		f->state = FETCH_OVER;
		return (0);
	}
	f->state = FETCH_RUNNING;

	tg_curl_defaults(f->curl.handle, timeout_ms < 5000 ? timeout_ms : 5000,
	    timeout_ms);
	kore_curl_http_setup(&f->curl, method, body, len);

	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		tg_curl_header(&f->curl, headers[i]);

	return (1);
}
