/*
 * Checks of the key-management API's input (see keys_input.h): request
 * bodies, key ids in paths, list cursors and limits. Everything that
 * comes from outside is refused here with a reason the caller can act on,
 * so the handlers only ever send well-formed values to PostgreSQL (a
 * malformed uuid would otherwise be an SQL error, not a 404).
 *
 * Invariants of a successful parse: name is 1..KEYS_NAME_MAX characters
 * of valid UTF-8 without control characters; expires_at lies in the
 * future and before year 10000; models_json is a JSON array of at most
 * KEYS_MODELS_MAX valid model patterns; spend_limit_micros >= 0 or -1.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "auth/keys_input.h"
#include "lex.h"

#define MAX_EPOCH	253402300799LL	/* 9999-12-31T23:59:59Z */

static int	input_problem(struct keys_problem *, const char *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	input_allowed(const char *, int);
static int	input_name(const json_t *, struct keys_fields *,
		    struct keys_problem *);
static int	input_expires(const json_t *, time_t, struct keys_fields *,
		    struct keys_problem *);
static int	input_models(const json_t *, struct keys_fields *,
		    struct keys_problem *);
static int	input_limit(const json_t *, struct keys_fields *,
		    struct keys_problem *);

/*
 * Fill f from body for KEYS_FOR_CREATE or KEYS_FOR_UPDATE. Returns 1, or
 * 0 with p describing the first problem (f is then already released).
 */
int
keys_input_parse(const json_t *body, int what, time_t now,
    struct keys_fields *f, struct keys_problem *p)
{
	const char	*field;
	json_t		*v;
	int		 ok;

	memset(f, 0, sizeof(*f));
	f->spend_limit_micros = -1;

	if (!json_is_object(body))
		return (input_problem(p, "invalid_json", NULL,
		    "the request body must be a JSON object"));

	json_object_foreach((json_t *)body, field, v) {
		if (!input_allowed(field, what)) {
			keys_input_free(f);
			return (input_problem(p, "unknown_parameter", field,
			    "unknown parameter: %.64s", field));
		}
		if (!strcmp(field, "name"))
			ok = input_name(v, f, p);
		else if (!strcmp(field, "expires_at"))
			ok = input_expires(v, now, f, p);
		else if (!strcmp(field, "allowed_models"))
			ok = input_models(v, f, p);
		else if (!strcmp(field, "spend_limit_micros"))
			ok = input_limit(v, f, p);
		else {
			if (!json_is_boolean(v))
				ok = input_problem(p, "invalid_value",
				    "disabled", "disabled must be true or "
				    "false");
			else {
				f->has_disabled = 1;
				f->disabled = json_is_true(v);
				ok = 1;
			}
		}
		if (!ok) {
			keys_input_free(f);
			return (0);
		}
	}

	if (what == KEYS_FOR_CREATE && !f->has_name) {
		keys_input_free(f);
		return (input_problem(p, "missing_field", "name",
		    "name is required"));
	}

	return (1);
}

void
keys_input_free(struct keys_fields *f)
{
	free(f->models_json);
	f->models_json = NULL;
}

/*
 * RFC 3339 date-time ("2026-05-01T12:00:00Z", "...T12:00:00.5+09:00")
 * to unix seconds (fractions dropped). Returns 1 when valid.
 */
int
keys_rfc3339_parse(const char *s, int64_t *out)
{
	int64_t		y, mo, d, h, mi, sec, oh, om, t;
	int		sign;

	if (strnlen(s, 40) >= 40)
		return (0);
	if (!tg_digits(s, 4, &y) || s[4] != '-' ||
	    !tg_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !tg_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !tg_digits(s + 11, 2, &h) || s[13] != ':' ||
	    !tg_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !tg_digits(s + 17, 2, &sec))
		return (0);
	s += 19;

	if (y < 1 || !tg_date_valid(y, mo, d) || h > 23 || mi > 59 ||
	    sec > 59)
		return (0);

	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return (0);
		while (*s >= '0' && *s <= '9')
			s++;
	}

	oh = om = 0;
	sign = 1;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		if (!tg_digits(s + 1, 2, &oh) || s[3] != ':' ||
		    !tg_digits(s + 4, 2, &om) || oh > 23 || om > 59)
			return (0);
		s += 6;
	} else {
		return (0);
	}
	if (*s != '\0')
		return (0);

	t = tg_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*out = t;
	return (1);
}

/*
 * A list cursor is the position of the last key of a page:
 * "<created_at in unix microseconds>.<key id>". Opaque to callers.
 */
int
keys_cursor_parse(const char *s, int64_t *us, char id[KEYS_UUID_LEN + 1])
{
	size_t	n;

	n = strspn(s, "0123456789");
	if (n == 0 || n > 18 || s[n] != '.')
		return (0);
	if (!tg_uuid_valid(s + n + 1))
		return (0);

	(void)tg_digits(s, (int)n, us);
	memcpy(id, s + n + 1, KEYS_UUID_LEN + 1);
	return (1);
}

int
keys_cursor_format(int64_t us, const char *id, char *out, size_t len)
{
	int	n;

	if (us < 0 || !tg_uuid_valid(id))
		return (0);
	n = snprintf(out, len, "%lld.%s", (long long)us, id);
	return (n > 0 && (size_t)n < len);
}

static int
input_problem(struct keys_problem *p, const char *code, const char *param,
    const char *fmt, ...)
{
	va_list	ap;

	p->code = code;
	p->param = param;
	va_start(ap, fmt);
	(void)vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
	return (0);
}

static int
input_allowed(const char *field, int what)
{
	if (!strcmp(field, "name") || !strcmp(field, "allowed_models") ||
	    !strcmp(field, "spend_limit_micros"))
		return (1);
	if (what == KEYS_FOR_CREATE)
		return (!strcmp(field, "expires_at"));
	return (!strcmp(field, "disabled"));
}

/* jansson strings are valid UTF-8: count code points, refuse controls. */
static int
input_name(const json_t *v, struct keys_fields *f, struct keys_problem *p)
{
	const unsigned char	*s;
	size_t			 len, i, chars;

	if (!json_is_string(v))
		return (input_problem(p, "invalid_value", "name",
		    "name must be a string"));

	s = (const unsigned char *)json_string_value(v);
	len = json_string_length(v);
	chars = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return (input_problem(p, "invalid_value", "name",
			    "name must not contain control characters"));
		if ((s[i] & 0xc0) != 0x80)
			chars++;
	}
	if (chars == 0 || chars > KEYS_NAME_MAX)
		return (input_problem(p, "invalid_value", "name",
		    "name must be 1 to %d characters", KEYS_NAME_MAX));

	f->has_name = 1;
	f->name = (const char *)s;
	return (1);
}

/* null (never), unix seconds, or an RFC 3339 date-time; in the future. */
static int
input_expires(const json_t *v, time_t now, struct keys_fields *f,
    struct keys_problem *p)
{
	int64_t		t;

	f->has_expires = 1;
	if (json_is_null(v)) {
		f->expires_at = 0;
		return (1);
	}

	if (json_is_integer(v)) {
		t = json_integer_value(v);
	} else if (!json_is_string(v) ||
	    !keys_rfc3339_parse(json_string_value(v), &t)) {
		return (input_problem(p, "invalid_value", "expires_at",
		    "expires_at must be an RFC 3339 date-time (e.g. "
		    "\"2030-01-01T00:00:00Z\"), unix seconds or null"));
	}

	if (t <= (int64_t)now || t > MAX_EPOCH)
		return (input_problem(p, "invalid_value", "expires_at",
		    "expires_at must lie in the future (and before year "
		    "10000)"));

	f->expires_at = t;
	return (1);
}

/* null or [] (every model), or up to KEYS_MODELS_MAX patterns. */
static int
input_models(const json_t *v, struct keys_fields *f, struct keys_problem *p)
{
	json_t	*item;
	size_t	 i;

	f->has_models = 1;
	if (json_is_null(v)) {
		f->models_json = strdup("[]");
		return (f->models_json != NULL ? 1 : input_problem(p,
		    "invalid_value", "allowed_models", "out of memory"));
	}

	if (!json_is_array(v))
		return (input_problem(p, "invalid_value", "allowed_models",
		    "allowed_models must be an array of model patterns"));
	if (json_array_size(v) > KEYS_MODELS_MAX)
		return (input_problem(p, "invalid_value", "allowed_models",
		    "allowed_models takes at most %d patterns",
		    KEYS_MODELS_MAX));

	json_array_foreach(v, i, item) {
		if (!json_is_string(item) ||
		    !tg_model_pattern_valid(json_string_value(item)) ||
		    strlen(json_string_value(item)) !=
		    json_string_length(item))
			return (input_problem(p, "invalid_value",
			    "allowed_models", "allowed_models[%zu] is not a "
			    "model pattern (\"provider:model\", "
			    "\"provider:*\", an alias, or \"*\")", i));
	}

	if ((f->models_json = json_dumps(v, JSON_COMPACT)) == NULL)
		return (input_problem(p, "invalid_value", "allowed_models",
		    "out of memory"));
	f->nmodels = (int)json_array_size(v);
	return (1);
}

/* null (no limit) or an integer >= 0. */
static int
input_limit(const json_t *v, struct keys_fields *f, struct keys_problem *p)
{
	f->has_limit = 1;
	if (json_is_null(v)) {
		f->spend_limit_micros = -1;
		return (1);
	}

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return (input_problem(p, "invalid_value", "spend_limit_micros",
		    "spend_limit_micros must be an integer >= 0 "
		    "(micro-credits) or null"));

	f->spend_limit_micros = json_integer_value(v);
	return (1);
}
