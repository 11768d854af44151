/* JSON log lines (core/logfmt.h). */

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "tg_test.h"
#include "logfmt.h"

static json_t *
line(const char *msg, const char *rid, json_t *extra)
{
	struct tg_logline	 l;
	json_error_t		 err;
	json_t			*doc;
	char			*s;

	memset(&l, 0, sizeof(l));
	l.ts.tv_sec = 1796609696;	/* 2026-12-07T02:14:56Z */
	l.ts.tv_nsec = 7999999;
	l.prio = LOG_NOTICE;
	l.proc = "wrk 1";
	l.pid = 42;
	l.request_id = rid;
	l.msg = msg;
	l.extra = extra;

	s = tg_logfmt_json(&l);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(strchr(s, '\n'));
	doc = json_loads(s, 0, &err);
	ck_assert_msg(doc != NULL, "not JSON: %s", s);
	free(s);

	return (doc);
}

START_TEST(logfmt_fields)
{
	json_t	*doc, *extra;

	extra = json_pack("{s:i, s:s, s:s}", "status", 200, "msg", "no",
	    "method", "POST");
	doc = line("a \"quoted\"\nline\x01", "req_1", extra);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "ts")),
	    "2026-12-07T02:14:56.007Z");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "level")),
	    "notice");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "msg")),
	    "a \"quoted\"\nline\x01");
	ck_assert_str_eq(json_string_value(json_object_get(doc,
	    "request_id")), "req_1");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "proc")),
	    "wrk 1");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "pid")), 42);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "status")),
	    200);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "method")),
	    "POST");
	json_decref(doc);
	json_decref(extra);

	/* No request: no field. */
	doc = line("x", NULL, NULL);
	ck_assert_ptr_null(json_object_get(doc, "request_id"));
	json_decref(doc);
	doc = line("x", "", NULL);
	ck_assert_ptr_null(json_object_get(doc, "request_id"));
	json_decref(doc);
}
END_TEST

START_TEST(logfmt_unsafe_text)
{
	json_t	*doc;

	/* Broken UTF-8 is repaired, never a line that does not parse. */
	doc = line("bad \xff\xfe bytes \xc3\xa9", NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "msg")),
	    "bad ?? bytes \xc3\xa9");
	json_decref(doc);

	/* A payment secret echoed into a message never reaches the log. */
	doc = line("stripe said: sk_live_abcdef123 is wrong", NULL, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "msg")),
	    "stripe said: *** is wrong");
	json_decref(doc);
}
END_TEST

START_TEST(logfmt_rid)
{
	char		 rid[16];
	const char	*rest;

	rest = tg_logfmt_split_rid("rid=req_abc upstream failed", rid,
	    sizeof(rid));
	ck_assert_str_eq(rid, "req_abc");
	ck_assert_str_eq(rest, "upstream failed");

	rest = tg_logfmt_split_rid("rid=- not ready", rid, sizeof(rid));
	ck_assert_str_eq(rid, "");
	ck_assert_str_eq(rest, "rid=- not ready");

	rest = tg_logfmt_split_rid("db: connected again", rid, sizeof(rid));
	ck_assert_str_eq(rid, "");
	ck_assert_str_eq(rest, "db: connected again");

	/* Too long for the buffer: left in the message. */
	rest = tg_logfmt_split_rid("rid=0123456789abcdefXYZ x", rid,
	    sizeof(rid));
	ck_assert_str_eq(rid, "");
	ck_assert_str_eq(rest, "rid=0123456789abcdefXYZ x");

	rest = tg_logfmt_split_rid("rid=r1", rid, sizeof(rid));
	ck_assert_str_eq(rid, "r1");
	ck_assert_str_eq(rest, "");
}
END_TEST

START_TEST(logfmt_levels)
{
	ck_assert_str_eq(tg_logfmt_level(LOG_CRIT), "critical");
	ck_assert_str_eq(tg_logfmt_level(LOG_ERR), "error");
	ck_assert_str_eq(tg_logfmt_level(LOG_WARNING), "warning");
	ck_assert_str_eq(tg_logfmt_level(LOG_NOTICE), "notice");
	ck_assert_str_eq(tg_logfmt_level(LOG_INFO), "info");
	ck_assert_str_eq(tg_logfmt_level(LOG_DEBUG), "debug");

	ck_assert_int_eq(tg_logfmt_parse(NULL), TG_LOGFMT_TEXT);
	ck_assert_int_eq(tg_logfmt_parse(""), TG_LOGFMT_TEXT);
	ck_assert_int_eq(tg_logfmt_parse("text"), TG_LOGFMT_TEXT);
	ck_assert_int_eq(tg_logfmt_parse("json"), TG_LOGFMT_JSON);
	ck_assert_int_eq(tg_logfmt_parse("JSON"), -1);
	ck_assert_int_eq(tg_logfmt_parse("logfmt"), -1);
}
END_TEST

static Suite *
logfmt_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("logfmt");
	tc = tcase_create("core");
	tcase_add_test(tc, logfmt_fields);
	tcase_add_test(tc, logfmt_unsafe_text);
	tcase_add_test(tc, logfmt_rid);
	tcase_add_test(tc, logfmt_levels);
	suite_add_tcase(s, tc);

	return (s);
}

TG_TEST_MAIN(logfmt_suite)
