/*
 * The SSE parser: field rules, line ends, limits, and the property the
 * router relies on: a stream parses to the same events however its
 * bytes are split across reads (every single split point, two split
 * points, and byte by byte).
 */

#include <stdio.h>
#include <string.h>

#include "tg_test.h"
#include "router/sse.h"

#define EVENTS_MAX	32

struct parsed {
	int	n;
	char	event[EVENTS_MAX][ROUTER_SSE_NAME_MAX];
	char	data[EVENTS_MAX][512];
	size_t	len[EVENTS_MAX];
	int	bad;
};

/* Feeds s in pieces ending at the given cut offsets. */
static void
parse_cuts(const char *s, size_t len, const size_t *cuts, int ncuts,
    struct parsed *out)
{
	struct router_sse	 sse;
	struct router_sse_event	 ev;
	size_t			 start, end, off;
	ssize_t			 r;
	int			 k;

	memset(&sse, 0, sizeof(sse));
	memset(out, 0, sizeof(*out));
	start = 0;
	for (k = 0; k <= ncuts; k++) {
		end = k < ncuts ? cuts[k] : len;
		off = start;
		while (off < end) {
			r = router_sse_parse(&sse, s + off, end - off, &ev);
			if (r == ROUTER_SSE_NEED_MORE)
				break;
			if (r == ROUTER_SSE_BAD) {
				out->bad = 1;
				goto done;
			}
			ck_assert_int_gt(r, 0);
			ck_assert_uint_le((size_t)r, end - off);
			off += r;
			ck_assert_int_lt(out->n, EVENTS_MAX);
			ck_assert_uint_lt(ev.data_len, sizeof(out->data[0]));
			snprintf(out->event[out->n], ROUTER_SSE_NAME_MAX, "%s",
			    ev.event);
			memcpy(out->data[out->n], ev.data, ev.data_len + 1);
			out->len[out->n] = ev.data_len;
			out->n++;
		}
		start = end;
	}
done:
	router_sse_free(&sse);
}

static void
parse_all(const char *s, size_t len, struct parsed *out)
{
	parse_cuts(s, len, NULL, 0, out);
}

static void
assert_same(const struct parsed *a, const struct parsed *b)
{
	int	i;

	ck_assert_int_eq(a->bad, b->bad);
	ck_assert_int_eq(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		ck_assert_str_eq(a->event[i], b->event[i]);
		ck_assert_uint_eq(a->len[i], b->len[i]);
		ck_assert(memcmp(a->data[i], b->data[i], a->len[i]) == 0);
	}
}

static const char *streams[] = {
	"data: hello\n\n",
	"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}"
	    "\n\ndata: {\"choices\":[{\"delta\":{\"content\":\" there\"},"
	    "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
	"event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n"
	    "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
	    "event: content_block_delta\r\ndata: {\"delta\":{\"text\":\"x\"}}"
	    "\r\n\r\n",
	"\xef\xbb\xbf" "data: after bom\n\n",
	": keep-alive comment\n\ndata: a\ndata: b\n\ndata\n\ndata:c\r\r",
	"event: one\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n"
	    "event: dropped\n\ndata: y\n\n",
	"data: no end yet",
	"data:  two spaces\n\ndata: trailing\r\n\r\ndata: \xe2\x82\xac\n\n",
	"\xef\xbb" "data: broken bom\n\n",
};

START_TEST(fields)
{
	struct parsed	p;
	const char	*s;

	s = streams[0];
	parse_all(s, strlen(s), &p);
	ck_assert_int_eq(p.n, 1);
	ck_assert_str_eq(p.event[0], "");
	ck_assert_str_eq(p.data[0], "hello");

	s = streams[2];
	parse_all(s, strlen(s), &p);
	ck_assert_int_eq(p.n, 3);
	ck_assert_str_eq(p.event[0], "message_start");
	ck_assert_str_eq(p.event[1], "ping");
	ck_assert_str_eq(p.data[1], "{\"type\": \"ping\"}");

	s = streams[3];
	parse_all(s, strlen(s), &p);
	ck_assert_int_eq(p.n, 1);
	ck_assert_str_eq(p.data[0], "after bom");

	/* Comments skipped; data lines joined; "data" alone; CR line ends. */
	s = streams[4];
	parse_all(s, strlen(s), &p);
	ck_assert_int_eq(p.n, 3);
	ck_assert_str_eq(p.data[0], "a\nb");
	ck_assert_str_eq(p.data[1], "");
	ck_assert_str_eq(p.data[2], "c");

	/* id/retry/unknown ignored; an event without data is not sent. */
	s = streams[5];
	parse_all(s, strlen(s), &p);
	ck_assert_int_eq(p.n, 2);
	ck_assert_str_eq(p.event[0], "one");
	ck_assert_str_eq(p.data[0], "x");
	ck_assert_str_eq(p.event[1], "");
	ck_assert_str_eq(p.data[1], "y");

	/* An event the stream never finished is never returned. */
	s = streams[6];
	parse_all(s, strlen(s), &p);
	ck_assert_int_eq(p.n, 0);
	ck_assert_int_eq(p.bad, 0);

	/* Only one space after the colon is dropped. */
	s = streams[7];
	parse_all(s, strlen(s), &p);
	ck_assert_int_eq(p.n, 3);
	ck_assert_str_eq(p.data[0], " two spaces");
	ck_assert_str_eq(p.data[2], "\xe2\x82\xac");

	/* Half a BOM is text: the line is an unknown field. */
	s = streams[8];
	parse_all(s, strlen(s), &p);
	ck_assert_int_eq(p.n, 0);
}
END_TEST

START_TEST(every_split)
{
	struct parsed	whole, split;
	size_t		i, j, len, cuts[2];
	const char	*s;
	unsigned int	k;

	for (k = 0; k < sizeof(streams) / sizeof(streams[0]); k++) {
		s = streams[k];
		len = strlen(s);
		parse_all(s, len, &whole);
		for (i = 0; i <= len; i++) {
			cuts[0] = i;
			parse_cuts(s, len, cuts, 1, &split);
			assert_same(&whole, &split);
			for (j = i; j <= len; j++) {
				cuts[1] = j;
				parse_cuts(s, len, cuts, 2, &split);
				assert_same(&whole, &split);
			}
		}
	}
}
END_TEST

START_TEST(byte_by_byte)
{
	struct parsed	whole, split;
	size_t		i, len, cuts[1024];
	const char	*s;
	unsigned int	k;

	for (k = 0; k < sizeof(streams) / sizeof(streams[0]); k++) {
		s = streams[k];
		len = strlen(s);
		ck_assert_uint_lt(len, 1024);
		for (i = 0; i < len; i++)
			cuts[i] = i + 1;
		parse_all(s, len, &whole);
		parse_cuts(s, len, cuts, (int)len, &split);
		assert_same(&whole, &split);
	}
}
END_TEST

START_TEST(crlf_split_is_one_line_end)
{
	struct parsed	p;
	const char	*s = "data: a\r\n\r\ndata: b\r\n\r\n";
	size_t		cuts[] = { 8, 10, 19 };

	/* "\r" | "\n": the LF must not end a second (blank) line. */
	parse_cuts(s, strlen(s), cuts, 3, &p);
	ck_assert_int_eq(p.n, 2);
	ck_assert_str_eq(p.data[0], "a");
	ck_assert_str_eq(p.data[1], "b");
}
END_TEST

START_TEST(limits)
{
	struct router_sse	 sse;
	struct router_sse_event	 ev;
	char			 big[300];
	ssize_t			 r;

	memset(&sse, 0, sizeof(sse));
	sse.max = 64;
	memset(big, 'x', sizeof(big));
	memcpy(big, "data: ", 6);

	/* A line over the limit, even in small pieces. */
	r = router_sse_parse(&sse, big, 40, &ev);
	ck_assert_int_eq(r, ROUTER_SSE_NEED_MORE);
	r = router_sse_parse(&sse, big + 40, 40, &ev);
	ck_assert_int_eq(r, ROUTER_SSE_BAD);
	router_sse_free(&sse);
	ck_assert_uint_eq(sse.max, 64);

	/* An event over the limit across many short lines. */
	{
		const char	line[] = "data: 0123456789\n";
		int		i;

		r = ROUTER_SSE_NEED_MORE;
		for (i = 0; i < 10 && r == ROUTER_SSE_NEED_MORE; i++)
			r = router_sse_parse(&sse, line, sizeof(line) - 1,
			    &ev);
		ck_assert_int_eq(r, ROUTER_SSE_BAD);
	}
	router_sse_free(&sse);

	/* An event name over ROUTER_SSE_NAME_MAX. */
	memset(big, 'e', sizeof(big));
	memcpy(big, "event: ", 7);
	big[200] = '\n';
	r = router_sse_parse(&sse, big, 201, &ev);
	ck_assert_int_eq(r, ROUTER_SSE_BAD);
	router_sse_free(&sse);

	/* Empty input. */
	r = router_sse_parse(&sse, "", 0, &ev);
	ck_assert_int_eq(r, ROUTER_SSE_NEED_MORE);
	router_sse_free(&sse);
}
END_TEST

START_TEST(nul_bytes_are_data)
{
	struct parsed	p;
	const char	s[] = "data: a\0b\n\n";

	parse_all(s, sizeof(s) - 1, &p);
	ck_assert_int_eq(p.n, 1);
	ck_assert_uint_eq(p.len[0], 3);
	ck_assert(memcmp(p.data[0], "a\0b", 3) == 0);
}
END_TEST

static Suite *
sse_suite(void)
{
	Suite	*s = suite_create("sse");
	TCase	*tc = tcase_create("sse");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fields);
	tcase_add_test(tc, every_split);
	tcase_add_test(tc, byte_by_byte);
	tcase_add_test(tc, crlf_split_is_one_line_end);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, nul_bytes_are_data);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(sse_suite)
