/*
 * Fuzz harness: the key-management API's input checks over arbitrary
 * bytes. The first byte picks the target: a request body (as JSON, for
 * creation and for update), a list cursor, a ?limit= value or an RFC 3339
 * date-time; the rest is the input.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/keys_input.h"
#include "lex.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct keys_fields	 f;
	struct keys_problem	 p;
	json_t			*doc;
	char			*s, id[KEYS_UUID_LEN + 1], buf[KEYS_CURSOR_MAX];
	int64_t			 v;
	int			 n;

	if (len < 1)
		return (0);
	if ((s = malloc(len)) == NULL)
		return (0);
	memcpy(s, data + 1, len - 1);
	s[len - 1] = '\0';

	switch (data[0] % 4) {
	case 0:
		doc = json_loadb((const char *)data + 1, len - 1,
		    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
		if (doc != NULL) {
			if (keys_input_parse(doc, KEYS_FOR_CREATE, 1767225600,
			    &f, &p))
				keys_input_free(&f);
			if (keys_input_parse(doc, KEYS_FOR_UPDATE, 1767225600,
			    &f, &p))
				keys_input_free(&f);
			json_decref(doc);
		}
		break;
	case 1:
		if (keys_cursor_parse(s, &v, id))
			(void)keys_cursor_format(v, id, buf, sizeof(buf));
		(void)tg_uuid_valid(s);
		break;
	case 2:
		(void)tg_limit_parse(s, KEYS_LIST_LIMIT_MAX, &n);
		break;
	default:
		(void)keys_rfc3339_parse(s, &v);
		break;
	}

	free(s);
	return (0);
}
