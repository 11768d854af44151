/*
 * Fuzz harness: the credits endpoints' parsers of client bytes: times,
 * limits, cursors, model ids and uuids (query and path), and the price
 * and grant bodies (JSON). Parsed values must round-trip.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "credits/validate.h"
#include "lex.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct credits_usage_cursor	c, d;
	struct credits_grant_req	g;
	struct credits_invalid		why;
	struct credits_price		p;
	char				*s, buf[CREDITS_CURSOR_MAX];
	int64_t				v, w;
	int				n;
	json_t				*doc;

	if ((s = malloc(len + 1)) == NULL)
		return (0);
	memcpy(s, data, len);
	s[len] = '\0';

	(void)credits_time_parse(s, &v);
	(void)tg_limit_parse(s, CREDITS_LIMIT_MAX, &n);
	(void)credits_model_id_valid(s);
	(void)tg_uuid_valid(s);
	if (credits_ledger_cursor_parse(s, &v)) {
		credits_ledger_cursor_format(v, buf, sizeof(buf));
		if (!credits_ledger_cursor_parse(buf, &w) || w != v)
			abort();
	}
	if (credits_usage_cursor_parse(s, &c)) {
		credits_usage_cursor_format(&c, buf, sizeof(buf));
		if (!credits_usage_cursor_parse(buf, &d) ||
		    d.started_us != c.started_us || strcmp(d.id, c.id) != 0)
			abort();
	}

	doc = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	if (doc != NULL) {
		if (credits_price_parse(doc, &p, &why) &&
		    !credits_price_valid(&p))
			abort();
		(void)credits_grant_parse(doc, &g, &why);
		json_decref(doc);
	}

	free(s);
	return (0);
}
