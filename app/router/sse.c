/*
 * Incremental text/event-stream parser (see sse.h), following the WHATWG
 * "interpreting an event stream" rules: lines end with CRLF, LF or CR
 * (a CRLF split across two reads is one line end); a leading UTF-8 BOM
 * is skipped; "data" lines are joined with LF; "event" names the event;
 * comments (":...") and other fields ("id", "retry", unknown) are
 * ignored; a blank line dispatches the event when it had data, else it
 * only resets the event name. An event never dispatched (the stream
 * ends first) is simply never returned.
 *
 * Invariant: every byte handed in is consumed exactly once, either into
 * the line buffer or as a line end, so the parse does not depend on how
 * the bytes were split across calls (tests/unit/router/test_sse.c feeds
 * each stream split at every byte boundary).
 */

#include <stdlib.h>
#include <string.h>

#include "router/sse.h"

static const unsigned char	sse_bom[3] = { 0xef, 0xbb, 0xbf };

static int	sse_grow(char **, size_t *, size_t, size_t);
static int	sse_append(struct router_sse *, const char *, size_t);
static int	sse_line(struct router_sse *, struct router_sse_event *);
static size_t	sse_limit(const struct router_sse *);

ssize_t
router_sse_parse(struct router_sse *sse, const char *buf, size_t len,
    struct router_sse_event *ev)
{
	size_t		i, run;
	unsigned char	c;
	int		r;

	if (sse->dispatched) {
		sse->dispatched = 0;
		sse->data_len = 0;
		sse->has_data = 0;
		sse->event[0] = '\0';
	}

	i = 0;
	while (i < len) {
		c = (unsigned char)buf[i];

		if (sse->bom < 3) {
			if (c == sse_bom[sse->bom]) {
				sse->bom++;
				i++;
				continue;
			}
			/* Not a BOM after all: its bytes are line text. */
			if (sse->bom > 0 && !sse_append(sse,
			    (const char *)sse_bom, sse->bom))
				return (ROUTER_SSE_BAD);
			sse->bom = 3;
		}

		if (sse->cr) {
			sse->cr = 0;
			if (c == '\n') {
				i++;
				continue;
			}
		}

		if (c == '\r' || c == '\n') {
			sse->cr = (c == '\r');
			i++;
			if ((r = sse_line(sse, ev)) < 0)
				return (ROUTER_SSE_BAD);
			if (r == 1) {
				sse->dispatched = 1;
				return ((ssize_t)i);
			}
			continue;
		}

		for (run = 1; i + run < len; run++) {
			c = (unsigned char)buf[i + run];
			if (c == '\r' || c == '\n')
				break;
		}
		if (!sse_append(sse, buf + i, run))
			return (ROUTER_SSE_BAD);
		i += run;
	}

	return (ROUTER_SSE_NEED_MORE);
}

void
router_sse_free(struct router_sse *sse)
{
	size_t	max;

	max = sse->max;
	free(sse->line);
	free(sse->data);
	memset(sse, 0, sizeof(*sse));
	sse->max = max;
}

static size_t
sse_limit(const struct router_sse *sse)
{
	return (sse->max != 0 ? sse->max : ROUTER_SSE_EVENT_MAX);
}

/* Make room for need bytes plus a NUL; 0 when over max or out of memory. */
static int
sse_grow(char **p, size_t *cap, size_t need, size_t max)
{
	size_t	ncap;
	char	*n;

	if (need > max)
		return (0);
	if (need + 1 <= *cap)
		return (1);

	ncap = *cap != 0 ? *cap : 256;
	while (ncap < need + 1)
		ncap *= 2;
	if ((n = realloc(*p, ncap)) == NULL)
		return (0);

	*p = n;
	*cap = ncap;
	return (1);
}

static int
sse_append(struct router_sse *sse, const char *p, size_t len)
{
	if (!sse_grow(&sse->line, &sse->line_cap, sse->line_len + len,
	    sse_limit(sse)))
		return (0);

	memcpy(sse->line + sse->line_len, p, len);
	sse->line_len += len;
	return (1);
}

/*
 * One complete line (in sse->line, without its end). Returns 1 when it
 * dispatched an event into ev, 0 when not, -1 when over a limit.
 */
static int
sse_line(struct router_sse *sse, struct router_sse_event *ev)
{
	const char	*line, *colon, *value;
	size_t		 len, flen, vlen;

	line = sse->line;
	len = sse->line_len;
	sse->line_len = 0;

	if (len == 0) {
		if (!sse->has_data) {
			sse->event[0] = '\0';
			return (0);
		}
		/* The data buffer ends with the LF of its last line. */
		sse->data_len--;
		sse->data[sse->data_len] = '\0';
		ev->event = sse->event;
		ev->data = sse->data;
		ev->data_len = sse->data_len;
		return (1);
	}

	if (line[0] == ':')
		return (0);

	if ((colon = memchr(line, ':', len)) != NULL) {
		flen = colon - line;
		value = colon + 1;
		vlen = len - flen - 1;
		if (vlen > 0 && *value == ' ') {
			value++;
			vlen--;
		}
	} else {
		flen = len;
		value = line + len;
		vlen = 0;
	}

	if (flen == 4 && !memcmp(line, "data", 4)) {
		if (!sse_grow(&sse->data, &sse->data_cap,
		    sse->data_len + vlen + 1, sse_limit(sse)))
			return (-1);
		memcpy(sse->data + sse->data_len, value, vlen);
		sse->data_len += vlen;
		sse->data[sse->data_len++] = '\n';
		sse->has_data = 1;
	} else if (flen == 5 && !memcmp(line, "event", 5)) {
		if (vlen >= sizeof(sse->event))
			return (-1);
		memcpy(sse->event, value, vlen);
		sse->event[vlen] = '\0';
	}

	return (0);
}
