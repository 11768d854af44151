/*
 * Input checks of the credits endpoints (see validate.h). Pure C.
 *
 * JSON bodies are objects with a closed set of fields: an unknown field
 * is refused (a typo like "input_micros_per_token" must not silently
 * become a default). Amounts are JSON integers only: 1.5, 1e3 and "100"
 * are refused, and so is anything outside the documented range.
 */

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credits/validate.h"
#include "lex.h"

static int	valid_fields(const json_t *, const char *const *,
		    struct credits_invalid *);
static int	valid_int(const json_t *, const char *, int, int64_t,
		    int64_t, int64_t *, struct credits_invalid *);
static int	invalid(struct credits_invalid *, const char *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* "provider:model": the same rule as model_prices.model's CHECK. */
int
credits_model_id_valid(const char *s)
{
	const char	*colon, *p;
	size_t		 plen, mlen;

	if ((colon = strchr(s, ':')) == NULL)
		return (0);
	plen = colon - s;
	mlen = strlen(colon + 1);
	if (plen < 1 || plen > 64 || mlen < 1 || mlen > 200)
		return (0);

	if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return (0);
	for (p = s; p < colon; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '_' && *p != '.' && *p != '-')
			return (0);
	}
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '!' || *p > '~')
			return (0);
	}

	return (1);
}

/*
 * The admin PUT body. cached_input_micros_per_mtok and
 * cache_write_input_micros_per_mtok default to the input price,
 * request_fee_micros to 0 (docs/contract.md §6). Cache reads may not cost more
 * than input; cache writes may (Anthropic's cost 1.25x input).
 */
int
credits_price_parse(const json_t *body, struct credits_price *p,
    struct credits_invalid *why)
{
	static const char *const	fields[] = {
		"input_micros_per_mtok", "cached_input_micros_per_mtok",
		"output_micros_per_mtok", "request_fee_micros",
		"cache_write_input_micros_per_mtok", NULL
	};

	if (!valid_fields(body, fields, why))
		return (0);
	if (!valid_int(body, "input_micros_per_mtok", 1, 0, CREDITS_PRICE_MAX,
	    &p->input, why) ||
	    !valid_int(body, "output_micros_per_mtok", 1, 0, CREDITS_PRICE_MAX,
	    &p->output, why))
		return (0);

	p->cached_input = p->input;
	p->cache_write_input = p->input;
	p->fee = 0;
	if (!valid_int(body, "cached_input_micros_per_mtok", 0, 0,
	    CREDITS_PRICE_MAX, &p->cached_input, why) ||
	    !valid_int(body, "cache_write_input_micros_per_mtok", 0, 0,
	    CREDITS_PRICE_MAX, &p->cache_write_input, why) ||
	    !valid_int(body, "request_fee_micros", 0, 0, CREDITS_PRICE_MAX,
	    &p->fee, why))
		return (0);

	if (p->cached_input > p->input) {
		return (invalid(why, "invalid_value",
		    "cached_input_micros_per_mtok", "cached_input_micros_per_mtok"
		    " must not be above input_micros_per_mtok"));
	}

	return (1);
}

/* POST /api/admin/users/{id}/credits. */
int
credits_grant_parse(const json_t *body, struct credits_grant_req *g,
    struct credits_invalid *why)
{
	static const char *const	fields[] = {
		"amount_micros", "reason", "idempotency_key", NULL
	};
	const json_t			*v;
	const char			*s;
	size_t				 len, i;

	if (!valid_fields(body, fields, why))
		return (0);
	if (!valid_int(body, "amount_micros", 1, -CREDITS_GRANT_MAX,
	    CREDITS_GRANT_MAX, &g->amount, why))
		return (0);
	if (g->amount == 0) {
		return (invalid(why, "invalid_value", "amount_micros",
		    "amount_micros must not be 0"));
	}

	if ((v = json_object_get(body, "reason")) == NULL)
		return (invalid(why, "missing_field", "reason",
		    "reason is required"));
	if (!json_is_string(v) || (len = json_string_length(v)) == 0 ||
	    len > CREDITS_REASON_MAX || memchr(json_string_value(v), '\0',
	    len) != NULL)
		return (invalid(why, "invalid_value", "reason", "reason must "
		    "be a string of 1 to %d bytes", CREDITS_REASON_MAX));
	memcpy(g->reason, json_string_value(v), len + 1);

	if ((v = json_object_get(body, "idempotency_key")) == NULL)
		return (invalid(why, "missing_field", "idempotency_key",
		    "idempotency_key is required"));
	if (!json_is_string(v) || (len = json_string_length(v)) == 0 ||
	    len > CREDITS_IDEM_KEY_MAX)
		goto badkey;
	s = json_string_value(v);
	for (i = 0; i < len; i++) {
		if (s[i] < '!' || s[i] > '~')
			goto badkey;
	}
	memcpy(g->idempotency_key, s, len + 1);

	return (1);

badkey:
	return (invalid(why, "invalid_value", "idempotency_key",
	    "idempotency_key must be 1 to %d printable ASCII characters "
	    "without spaces", CREDITS_IDEM_KEY_MAX));
}

/*
 * A time in a query: "YYYY-MM-DD" (midnight UTC) or RFC 3339
 * "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)". Epoch microseconds.
 */
int
credits_time_parse(const char *s, int64_t *out_us)
{
	int64_t		y, mo, d, h, mi, sec, oh, om, frac, scale;
	int64_t		days, secs;
	int		sign;
	size_t		len;

	len = strlen(s);
	if (len < 10 || !tg_digits(s, 4, &y) || s[4] != '-' ||
	    !tg_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !tg_digits(s + 8, 2, &d))
		return (0);
	if (y < 1970 || !tg_date_valid(y, mo, d))
		return (0);

	h = mi = sec = frac = 0;
	secs = 0;
	s += 10;
	if (*s != '\0') {
		if ((*s != 'T' && *s != 't' && *s != ' ') ||
		    !tg_digits(s + 1, 2, &h) || s[3] != ':' ||
		    !tg_digits(s + 4, 2, &mi) || s[6] != ':' ||
		    !tg_digits(s + 7, 2, &sec))
			return (0);
		if (h > 23 || mi > 59 || sec > 59)
			return (0);
		s += 9;
		if (*s == '.') {
			s++;
			for (scale = 100000, len = 0; isdigit((unsigned char)*s);
			    s++, len++) {
				if (len >= 9)
					return (0);
				frac += (*s - '0') * scale;
				scale /= 10;
			}
			if (len == 0)
				return (0);
		}
		if (*s == 'Z' || *s == 'z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			sign = *s == '-' ? -1 : 1;
			if (!tg_digits(s + 1, 2, &oh) || s[3] != ':' ||
			    !tg_digits(s + 4, 2, &om) || oh > 23 || om > 59)
				return (0);
			secs = -sign * (oh * 3600 + om * 60);
			s += 6;
		} else {
			return (0);
		}
		if (*s != '\0')
			return (0);
	}

	days = tg_days_from_civil(y, mo, d);
	secs += days * 86400 + h * 3600 + mi * 60 + sec;
	*out_us = secs * 1000000 + frac;

	return (1);
}

/* The name of a grouping key in group_by, or NULL past the last. */
const char *
credits_group_name(int g)
{
	static const char *const	names[] = { "day", "model", "key",
					    "user" };

	if (g < 0 || g >= (int)(sizeof(names) / sizeof(names[0])))
		return (NULL);
	return (names[g]);
}

/*
 * A group_by list: one to max keys of the allowed set (CREDITS_GROUP_BIT
 * of each), comma-separated, each once, in the order given ("day,model").
 * Stores them in keys[] and returns how many, or 0 if the list is
 * anything else (an empty part, a space, an unknown or repeated key).
 */
int
credits_group_parse(const char *s, unsigned int allowed, int max, int *keys)
{
	const char	*name;
	size_t		 len;
	unsigned int	 seen = 0;
	int		 g, n = 0;

	if (s == NULL)
		return (0);
	for (;;) {
		len = strcspn(s, ",");
		for (g = 0; (name = credits_group_name(g)) != NULL; g++) {
			if (strlen(name) == len && !strncmp(s, name, len))
				break;
		}
		if (name == NULL || !(allowed & CREDITS_GROUP_BIT(g)) ||
		    (seen & CREDITS_GROUP_BIT(g)) || n == max)
			return (0);
		seen |= CREDITS_GROUP_BIT(g);
		keys[n++] = g;
		if (s[len] == '\0')
			return (n);
		s += len + 1;
	}
}

/* The ledger's cursor: a positive decimal (the oldest entry shown). */
int
credits_ledger_cursor_parse(const char *s, int64_t *out)
{
	size_t	len;

	len = strlen(s);
	if (len < 1 || len > 18 || s[0] == '0' || !tg_digits(s, (int)len, out))
		return (0);

	return (1);
}

/* 18 digits, "_", a uuid and the NUL fit: cursors are never cut. */
_Static_assert(CREDITS_CURSOR_MAX >= 18 + 1 + CREDITS_UUID_LEN + 1,
    "CREDITS_CURSOR_MAX holds a usage cursor");

void
credits_ledger_cursor_format(int64_t id, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%" PRId64, id);
}

/* "<epoch microseconds>_<uuid>". */
int
credits_usage_cursor_parse(const char *s, struct credits_usage_cursor *c)
{
	const char	*us;
	size_t		 n;

	if ((us = strchr(s, '_')) == NULL)
		return (0);
	n = us - s;
	if (n < 1 || n > 18 || (s[0] == '0' && n > 1) ||
	    !tg_digits(s, (int)n, &c->started_us))
		return (0);
	if (!tg_uuid_valid(us + 1))
		return (0);
	memcpy(c->id, us + 1, CREDITS_UUID_LEN + 1);

	return (1);
}

void
credits_usage_cursor_format(const struct credits_usage_cursor *c, char *buf,
    size_t len)
{
	(void)snprintf(buf, len, "%" PRId64 "_%s", c->started_us, c->id);
}

static int
valid_fields(const json_t *body, const char *const *fields,
    struct credits_invalid *why)
{
	const char	*key;
	json_t		*v;
	int		 i;

	if (!json_is_object(body))
		return (invalid(why, "invalid_json", NULL,
		    "the request body must be a JSON object"));

	json_object_foreach((json_t *)body, key, v) {
		for (i = 0; fields[i] != NULL; i++) {
			if (!strcmp(key, fields[i]))
				break;
		}
		if (fields[i] == NULL) {
			return (invalid(why, "invalid_value", NULL,
			    "unknown field \"%.64s\"", key));
		}
	}

	return (1);
}

static int
valid_int(const json_t *body, const char *name, int required, int64_t min,
    int64_t max, int64_t *out, struct credits_invalid *why)
{
	const json_t	*v;
	json_int_t	 n;

	if ((v = json_object_get(body, name)) == NULL) {
		if (!required)
			return (1);
		return (invalid(why, "missing_field", name, "%s is required",
		    name));
	}
	if (!json_is_integer(v)) {
		return (invalid(why, "invalid_value", name,
		    "%s must be an integer", name));
	}

	n = json_integer_value(v);
	if (n < min || n > max) {
		return (invalid(why, "invalid_value", name,
		    "%s must be between %" PRId64 " and %" PRId64, name, min,
		    max));
	}

	*out = n;
	return (1);
}

static int
invalid(struct credits_invalid *why, const char *code, const char *param,
    const char *fmt, ...)
{
	va_list	ap;

	why->code = code;
	why->param = param;
	va_start(ap, fmt);
	(void)vsnprintf(why->message, sizeof(why->message), fmt, ap);
	va_end(ap);

	return (0);
}
