/*
 * Fuzz harness: the SSE parser over arbitrary bytes. The first byte
 * picks a read size; the stream is parsed whole and in reads of that
 * size, and the two parses must agree event for event (abort if not).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/sse.h"

#define EVENTS_MAX	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	int		 n;
	int		 bad;
	uint32_t	 hash[EVENTS_MAX];
	size_t		 len[EVENTS_MAX];
};

static uint32_t
hash(const char *p, size_t len, uint32_t h)
{
	size_t	i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return (h);
}

static void
parse(const char *s, size_t len, size_t step, struct run *out)
{
	struct router_sse	 sse;
	struct router_sse_event	 ev;
	size_t			 start, end, off;
	ssize_t			 r;

	memset(&sse, 0, sizeof(sse));
	memset(out, 0, sizeof(*out));
	sse.max = 4096;
	for (start = 0; start < len; start = end) {
		end = start + step < len ? start + step : len;
		for (off = start; off < end; off += r) {
			r = router_sse_parse(&sse, s + off, end - off, &ev);
			if (r == ROUTER_SSE_NEED_MORE)
				break;
			if (r == ROUTER_SSE_BAD) {
				out->bad = 1;
				goto done;
			}
			if (r <= 0 || (size_t)r > end - off)
				abort();
			if (ev.data[ev.data_len] != '\0')
				abort();
			if (out->n < EVENTS_MAX) {
				out->hash[out->n] = hash(ev.data, ev.data_len,
				    hash(ev.event, strlen(ev.event),
				    2166136261u));
				out->len[out->n] = ev.data_len;
			}
			out->n++;
		}
	}
done:
	router_sse_free(&sse);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct run	whole, split;
	size_t		step;

	if (len == 0)
		return (0);
	step = (data[0] % 17) + 1;
	parse((const char *)data + 1, len - 1, len, &whole);
	parse((const char *)data + 1, len - 1, step, &split);
	if (whole.bad != split.bad)
		abort();
	if (!whole.bad && (whole.n != split.n ||
	    memcmp(whole.hash, split.hash, sizeof(whole.hash)) != 0 ||
	    memcmp(whole.len, split.len, sizeof(whole.len)) != 0))
		abort();
	return (0);
}
