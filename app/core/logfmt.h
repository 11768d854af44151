/*
 * Log lines as JSON objects (TOLLGATE_LOG_FORMAT=json). Pure C: the
 * Kore side (log.c) gathers the parts, this file turns them into one
 * line. docs/operations.md, "Logs and metrics", lists the fields.
 *
 * Every line is one object: "ts" (RFC 3339, UTC, milliseconds),
 * "level", "msg", then "request_id" when the line belongs to a request,
 * then "proc" (parent, wrk N), "pid" and the extra fields. The message
 * is made valid UTF-8 and stripped of payment-provider secrets before
 * jansson escapes it, so a line is always one parsable line.
 */

#ifndef TG_LOGFMT_H
#define TG_LOGFMT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#define TG_LOGFMT_TEXT		0
#define TG_LOGFMT_JSON		1

/* What one line is made of; extra (may be NULL) is only read. */
struct tg_logline {
	struct timespec	 ts;		/* CLOCK_REALTIME */
	int		 prio;		/* syslog priority, LOG_ERR... */
	const char	*proc;		/* "parent", "wrk 1"; NULL: none */
	long		 pid;
	const char	*request_id;	/* NULL: none */
	const char	*msg;
	json_t		*extra;		/* more fields, after the others */
};

int		 tg_logfmt_parse(const char *);
const char	*tg_logfmt_level(int);
int		 tg_logfmt_time(const struct timespec *, char *, size_t);
const char	*tg_logfmt_split_rid(const char *, char *, size_t);
char		*tg_logfmt_json(const struct tg_logline *);

#endif
