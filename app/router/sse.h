/*
 * An incremental parser for text/event-stream (the WHATWG server-sent
 * events format), with picohttpparser's contract: feed it whatever bytes
 * arrived, in pieces of any size, and it answers
 *
 *	> 0				an event is complete; that many bytes of
 *					buf were consumed and *ev is filled;
 *	ROUTER_SSE_NEED_MORE (-2)	all of buf was consumed, no event yet;
 *	ROUTER_SSE_BAD (-1)		a line or an event is over the limit.
 *
 * Its state lives in a caller-owned struct that starts zeroed (or after
 * router_sse_free()). The pointers in *ev stay valid until the next call
 * or router_sse_free(). Pure C, malloc'd buffers.
 *
 *	while (off < len) {
 *		r = router_sse_parse(&sse, buf + off, len - off, &ev);
 *		if (r == ROUTER_SSE_NEED_MORE)
 *			break;
 *		if (r == ROUTER_SSE_BAD)
 *			fail;
 *		off += r;
 *		handle(ev.event, ev.data, ev.data_len);
 *	}
 */

#ifndef ROUTER_SSE_H
#define ROUTER_SSE_H

#include <sys/types.h>

#include <stddef.h>

#define ROUTER_SSE_NEED_MORE	(-2)
#define ROUTER_SSE_BAD		(-1)

#define ROUTER_SSE_EVENT_MAX	(8 * 1024 * 1024)	/* default limit */
#define ROUTER_SSE_NAME_MAX	128

struct router_sse_event {
	const char	*event;		/* the event field, "" when none */
	const char	*data;		/* data lines joined by \n, NUL-ended */
	size_t		 data_len;
};

struct router_sse {
	size_t	 max;		/* bytes per line and per event; 0: default */
	int	 cr;		/* the last byte was a CR */
	int	 bom;		/* bytes of a leading BOM seen, 3 when past */
	int	 dispatched;	/* the last call returned an event */
	int	 has_data;	/* a data field was seen in this event */
	char	*line;
	size_t	 line_len;
	size_t	 line_cap;
	char	*data;
	size_t	 data_len;
	size_t	 data_cap;
	char	 event[ROUTER_SSE_NAME_MAX];
};

ssize_t	router_sse_parse(struct router_sse *, const char *, size_t,
	    struct router_sse_event *);
void	router_sse_free(struct router_sse *);

#endif
