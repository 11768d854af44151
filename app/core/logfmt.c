/*
 * JSON log lines (see logfmt.h). Pure C: libc and jansson.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "clean.h"
#include "logfmt.h"
#include "redact.h"

/* TOLLGATE_LOG_FORMAT: "text" (or unset) or "json"; -1 for anything else. */
int
tg_logfmt_parse(const char *v)
{
	if (v == NULL || *v == '\0' || !strcmp(v, "text"))
		return (TG_LOGFMT_TEXT);
	if (!strcmp(v, "json"))
		return (TG_LOGFMT_JSON);

	return (-1);
}

/* The level names syslog gives its priorities, in the short forms. */
const char *
tg_logfmt_level(int prio)
{
	switch (LOG_PRI(prio)) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
		return ("critical");
	case LOG_ERR:
		return ("error");
	case LOG_WARNING:
		return ("warning");
	case LOG_NOTICE:
		return ("notice");
	case LOG_INFO:
		return ("info");
	default:
		return ("debug");
	}
}

/* "2026-12-07T02:20:00.123Z"; returns 0 when it does not fit. */
int
tg_logfmt_time(const struct timespec *ts, char *out, size_t len)
{
	struct tm	tm;
	time_t		t;
	int		n;

	t = ts->tv_sec;
	if (gmtime_r(&t, &tm) == NULL)
		return (0);

	n = snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(ts->tv_nsec / 1000000));

	return (n > 0 && (size_t)n < len);
}

/*
 * Our request lines start "rid=<id> " (the convention of every
 * kore_log() call made for a request). Copies the id to rid and returns
 * the rest of the message; returns msg itself, and rid empty, when
 * there is no such prefix or the id is "-" (no request) or too long.
 */
const char *
tg_logfmt_split_rid(const char *msg, char *rid, size_t len)
{
	size_t	n;

	rid[0] = '\0';
	if (strncmp(msg, "rid=", 4))
		return (msg);

	n = strcspn(msg + 4, " ");
	if (n == 0 || n >= len || (n == 1 && msg[4] == '-'))
		return (msg);

	memcpy(rid, msg + 4, n);
	rid[n] = '\0';

	return (msg[4 + n] == ' ' ? msg + 5 + n : msg + 4 + n);
}

/*
 * The line, without its newline; NULL only when out of memory. The
 * message is repaired (broken UTF-8 becomes '?') and payment secrets in
 * it become "***" before it is escaped.
 */
char *
tg_logfmt_json(const struct tg_logline *l)
{
	json_t		*doc, *v;
	const char	*k;
	char		 ts[32], *msg, *line;
	size_t		 len;

	if (!tg_logfmt_time(&l->ts, ts, sizeof(ts)))
		(void)snprintf(ts, sizeof(ts), "1970-01-01T00:00:00.000Z");

	len = strlen(l->msg);
	if ((msg = malloc(len + 1)) == NULL)
		return (NULL);
	memcpy(msg, l->msg, len + 1);
	(void)tg_clean_utf8(msg, len);
	tg_redact_tokens(msg);

	doc = json_object();
	json_object_set_new(doc, "ts", json_string(ts));
	json_object_set_new(doc, "level",
	    json_string(tg_logfmt_level(l->prio)));
	json_object_set_new(doc, "msg", json_string(msg));
	if (l->request_id != NULL && l->request_id[0] != '\0')
		json_object_set_new(doc, "request_id",
		    json_string(l->request_id));
	if (l->proc != NULL)
		json_object_set_new(doc, "proc", json_string(l->proc));
	json_object_set_new(doc, "pid", json_integer(l->pid));
	if (l->extra != NULL) {
		json_object_foreach(l->extra, k, v) {
			if (json_object_get(doc, k) == NULL)
				json_object_set(doc, k, v);
		}
	}
	free(msg);

	line = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(10));
	json_decref(doc);

	return (line);
}
