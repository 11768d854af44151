/*
 * Every line the process writes, in the format TOLLGATE_LOG_FORMAT asks
 * for (text, the default, or json; docs/operations.md, "Logs and
 * metrics").
 *
 * Kore writes its lines (start-up, workers started and reaped, bind
 * errors, seccomp reports) and ours through kore_log(), and its fatal
 * errors through fatal() and fatalx(); the link wraps the three
 * (-Wl,--wrap, LDWRAP_LOG in the Makefile). In text mode the wrappers
 * hand the formatted message to Kore's own functions unchanged. In json
 * mode each line is one object (logfmt.c) written with one write to
 * stdout in the foreground, or to syslog otherwise.
 *
 * The request id of a line: the "rid=<id> " our messages start with, or
 * else the request the dispatcher is running (tg_log_request()), so a
 * line written while a handler runs names its request.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "tollgate.h"
#include "logfmt.h"

#define LOG_MSG_MAX	2048

void	__real_kore_log(int, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	__real_fatal(const char *, ...) __attribute__((noreturn));
void	__real_fatalx(const char *, ...) __attribute__((noreturn));
void	__wrap_kore_log(int, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	__wrap_fatal(const char *, ...) __attribute__((noreturn))
	    __attribute__((format(printf, 1, 2)));
void	__wrap_fatalx(const char *, ...) __attribute__((noreturn))
	    __attribute__((format(printf, 1, 2)));

static void	log_fatal(int, const char *) __attribute__((noreturn));
static void	log_write(FILE *, int, const char *, const char *, json_t *);
static void	log_proc(char *, size_t);

static int		 log_format = TG_LOGFMT_TEXT;
static const char	*log_rid;

/*
 * Read before anything is logged (the first thing the parent does); a
 * value that is neither text nor json is a configuration error
 * (config.c), reported in json so that no line is ever plain text.
 */
void
tg_log_init(void)
{
	log_format = tg_logfmt_parse(getenv("TOLLGATE_LOG_FORMAT"));
	if (log_format < 0)
		log_format = TG_LOGFMT_JSON;
}

int
tg_log_is_json(void)
{
	return (log_format == TG_LOGFMT_JSON);
}

/* The request being run; NULL when none. The id must outlive the call. */
void
tg_log_request(const char *rid)
{
	log_rid = rid;
}

/*
 * One line with more fields (json) or msg as it is (text, kore_log's
 * format). extra is only read.
 */
void
tg_log_fields(int prio, const char *rid, const char *msg, json_t *extra)
{
	if (log_format != TG_LOGFMT_JSON) {
		__real_kore_log(prio, "%s", msg);
		return;
	}

	log_write(stdout, prio, rid, msg, extra);
}

/*
 * A line of the tollgate command itself, to stderr: "tollgate: msg" in
 * text, an object in json (configuration errors at start).
 */
void
tg_log_stderr(int prio, const char *fmt, ...)
{
	va_list	ap;
	char	msg[LOG_MSG_MAX];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log_format != TG_LOGFMT_JSON) {
		fprintf(stderr, "tollgate: %s\n", msg);
		return;
	}

	log_write(stderr, prio, NULL, msg, NULL);
}

void
__wrap_kore_log(int prio, const char *fmt, ...)
{
	va_list		 ap;
	const char	*msg;
	char		 buf[LOG_MSG_MAX], rid[TG_REQUEST_ID_MAX + 1];

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	if (log_format != TG_LOGFMT_JSON) {
		__real_kore_log(prio, "%s", buf);
		return;
	}

	msg = tg_logfmt_split_rid(buf, rid, sizeof(rid));
	log_write(stdout, prio, rid[0] != '\0' ? rid : log_rid, msg, NULL);
}

void
__wrap_fatal(const char *fmt, ...)
{
	va_list	ap;
	char	buf[LOG_MSG_MAX];

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fatal(0, buf);
}

void
__wrap_fatalx(const char *fmt, ...)
{
	va_list	ap;
	char	buf[LOG_MSG_MAX];

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fatal(1, buf);
}

/* As Kore's: fatalx() in a worker also tells the parent to shut down. */
static void
log_fatal(int x, const char *msg)
{
	if (log_format != TG_LOGFMT_JSON) {
		if (x)
			__real_fatalx("%s", msg);
		__real_fatal("%s", msg);
	}

	if (x && worker != NULL)
		kore_msg_send(KORE_MSG_PARENT, KORE_MSG_SHUTDOWN, NULL, 0);
	log_write(stdout, LOG_CRIT, log_rid, msg, NULL);
	exit(1);
}

/*
 * One object and its newline in one write (lines up to PIPE_BUF bytes
 * never interleave with another process's); to syslog when Kore runs
 * as a daemon and the line is not for stderr.
 */
static void
log_write(FILE *fp, int prio, const char *rid, const char *msg,
    json_t *extra)
{
	struct tg_logline	 l;
	char			 proc[32], *line;
	size_t			 len;

	memset(&l, 0, sizeof(l));
	(void)clock_gettime(CLOCK_REALTIME, &l.ts);
	log_proc(proc, sizeof(proc));
	l.prio = prio;
	l.proc = proc;
	l.pid = (long)getpid();
	l.request_id = rid;
	l.msg = msg;
	l.extra = extra;

	if ((line = tg_logfmt_json(&l)) == NULL)
		return;

	if (fp == stdout && !kore_foreground) {
		syslog(prio, "%s", line);
		free(line);
		return;
	}

	len = strlen(line);
	line[len] = '\n';
	(void)fwrite(line, 1, len + 1, fp);
	(void)fflush(fp);
	free(line);
}

/* Who writes: "parent", "wrk 1", "keymgr" (kore_worker_name unbracketed). */
static void
log_proc(char *out, size_t len)
{
	if (worker == NULL) {
		(void)snprintf(out, len, "parent");
		return;
	}

	switch (worker->id) {
	case KORE_WORKER_KEYMGR:
		(void)snprintf(out, len, "keymgr");
		break;
	case KORE_WORKER_ACME:
		(void)snprintf(out, len, "acme");
		break;
	default:
		(void)snprintf(out, len, "wrk %u", (unsigned int)worker->id);
		break;
	}
}
