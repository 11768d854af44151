/*
 * Validation of what admins and users send billing: the body of
 * PUT /api/admin/packages/{id}, ids in paths and bodies, and what
 * POST /api/admin/payments/{id}/refund reads. Pure C over
 * jansson; every rule here is also a CHECK in sql/0400_billing.sql, so
 * the database refuses what slips past.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "package.h"
#include "provider.h"

static int	package_err(struct billing_package_in *, const char *,
		    const char *, const char *);
static int	package_int(json_t *, const char *, int64_t, int64_t,
		    int64_t *, struct billing_package_in *);
static int	package_name(json_t *, struct billing_package_in *);
static int	package_currency(json_t *, struct billing_package_in *);

/*
 * The package a PUT describes. The fields are those GET shows: name,
 * price_minor, currency and credits_micros are required, active defaults
 * to true; id, created_at and updated_at may be echoed back (id must
 * then be the path's). Anything else is refused, so a misspelt field
 * never silently keeps an old value. Returns 1, or 0 with in->code,
 * in->param and in->message set for a 400.
 */
int
billing_package_parse(json_t *body, const char *path_id,
    struct billing_package_in *in)
{
	const char	*key, *id;
	json_t		*v;

	memset(in, 0, sizeof(*in));
	in->active = 1;

	json_object_foreach(body, key, v) {
		if (strcmp(key, "id") && strcmp(key, "name") &&
		    strcmp(key, "price_minor") && strcmp(key, "currency") &&
		    strcmp(key, "credits_micros") && strcmp(key, "active") &&
		    strcmp(key, "created_at") && strcmp(key, "updated_at"))
			return (package_err(in, "invalid_value", key,
			    "is not a field of a package"));
	}

	if ((v = json_object_get(body, "id")) != NULL) {
		id = json_string_value(v);
		if (id == NULL || strcasecmp(id, path_id) != 0)
			return (package_err(in, "invalid_value", "id",
			    "must be the id in the path"));
	}

	if (!package_name(json_object_get(body, "name"), in))
		return (0);
	if (!package_int(json_object_get(body, "price_minor"), "price_minor",
	    1, BILLING_PRICE_MAX, &in->price_minor, in))
		return (0);
	if (!package_currency(json_object_get(body, "currency"), in))
		return (0);
	if (!package_int(json_object_get(body, "credits_micros"),
	    "credits_micros", 1, BILLING_CREDITS_MAX, &in->credits_micros, in))
		return (0);

	if ((v = json_object_get(body, "active")) != NULL) {
		if (!json_is_boolean(v))
			return (package_err(in, "invalid_value", "active",
			    "must be true or false"));
		in->active = json_is_true(v);
	}

	return (1);
}

static int
package_err(struct billing_package_in *in, const char *code,
    const char *param, const char *what)
{
	(void)snprintf(in->param, sizeof(in->param), "%s", param);
	(void)snprintf(in->code, sizeof(in->code), "%s", code);
	(void)snprintf(in->message, sizeof(in->message), "%.64s %s", param,
	    what);
	return (0);
}

/* JSON integers only: no 1.0, no "100", no 1e3. */
static int
package_int(json_t *v, const char *name, int64_t min, int64_t max,
    int64_t *out, struct billing_package_in *in)
{
	char	what[96];

	if (v == NULL)
		return (package_err(in, "missing_field", name, "is required"));
	(void)snprintf(what, sizeof(what), "must be an integer from %lld to "
	    "%lld", (long long)min, (long long)max);
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return (package_err(in, "invalid_value", name, what));

	*out = json_integer_value(v);
	return (1);
}

/* 1 to 100 characters (not bytes), no control characters. */
static int
package_name(json_t *v, struct billing_package_in *in)
{
	const unsigned char	*s;
	size_t			 i, len, chars;

	if (v == NULL)
		return (package_err(in, "missing_field", "name",
		    "is required"));
	if ((s = (const unsigned char *)json_string_value(v)) == NULL)
		return (package_err(in, "invalid_value", "name",
		    "must be a string"));

	len = json_string_length(v);
	chars = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return (package_err(in, "invalid_value", "name",
			    "must not contain control characters"));
		if ((s[i] & 0xc0) != 0x80)
			chars++;
	}
	if (chars == 0 || chars > BILLING_NAME_MAX ||
	    len >= sizeof(in->name))
		return (package_err(in, "invalid_value", "name",
		    "must be 1 to 100 characters"));

	memcpy(in->name, s, len + 1);
	return (1);
}

/* The same currency rule as the provider's events (billing_currency). */
static int
package_currency(json_t *v, struct billing_package_in *in)
{
	if (v == NULL)
		return (package_err(in, "missing_field", "currency",
		    "is required"));
	if (!billing_currency(in->currency, v))
		return (package_err(in, "invalid_value", "currency",
		    "must be a three-letter ISO 4217 code"));

	return (1);
}

/*
 * The body of a refund request: NULL (no body), {} or
 * {"amount_minor": null} ask for all that is left (amount_minor -1);
 * otherwise amount_minor is an integer from 1 to BILLING_PRICE_MAX.
 * Any other field is refused. Returns 1, or 0 with in->param set.
 */
int
billing_refund_parse(json_t *body, struct billing_refund_in *in)
{
	const char	*name;
	json_t		*v;

	in->amount_minor = -1;
	in->param[0] = '\0';
	if (body == NULL)
		return (1);

	json_object_foreach(body, name, v) {
		if (strcmp(name, "amount_minor")) {
			(void)snprintf(in->param, sizeof(in->param), "%s", name);
			return (0);
		}
	}
	v = json_object_get(body, "amount_minor");
	if (v == NULL || json_is_null(v))
		return (1);
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > BILLING_PRICE_MAX) {
		(void)snprintf(in->param, sizeof(in->param), "amount_minor");
		return (0);
	}
	in->amount_minor = json_integer_value(v);
	return (1);
}

/* A client's Idempotency-Key: 1 to 255 printable ASCII, no spaces. */
int
billing_refund_key_valid(const char *k)
{
	size_t	i;

	for (i = 0; k[i] != '\0'; i++) {
		if (k[i] <= 0x20 || k[i] >= 0x7f || i >= BILLING_REFUND_KEY_MAX)
			return (0);
	}
	return (i > 0);
}
