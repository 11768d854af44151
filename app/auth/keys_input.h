/*
 * What callers send to the key-management API, checked before anything
 * touches the database (docs/contract.md §3, §7). Pure C (jansson, no Kore).
 *
 *	POST  /api/keys		name (required), expires_at, allowed_models,
 *				spend_limit_micros
 *	PATCH /api/keys/{id}	name, allowed_models, spend_limit_micros,
 *				disabled
 *
 * A problem is reported as the contract's 400: a code (missing_field,
 * invalid_value, unknown_parameter), the offending field and a message.
 */

#ifndef AUTH_KEYS_INPUT_H
#define AUTH_KEYS_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "lex.h"

#define KEYS_NAME_MAX		100	/* characters */
#define KEYS_MODELS_MAX		32	/* TG_ALLOWED_MODELS_MAX */
#define KEYS_UUID_LEN		TG_UUID_LEN
#define KEYS_CURSOR_MAX		64
#define KEYS_LIST_LIMIT_DEFAULT	20
#define KEYS_LIST_LIMIT_MAX	100

#define KEYS_FOR_CREATE		1
#define KEYS_FOR_UPDATE		2

struct keys_problem {
	const char	*code;
	const char	*param;		/* may point into the body */
	char		 message[160];
};

/*
 * The fields present in a body; has_* says whether the caller sent it
 * (PATCH changes only those). Strings point into the caller's json_t.
 */
struct keys_fields {
	int		 has_name;
	const char	*name;

	int		 has_expires;
	int64_t		 expires_at;		/* unix seconds, 0: never */

	int		 has_models;
	char		*models_json;		/* "[...]", malloc'd */
	int		 nmodels;

	int		 has_limit;
	int64_t		 spend_limit_micros;	/* -1: no limit */

	int		 has_disabled;
	int		 disabled;
};

int	keys_input_parse(const json_t *, int, time_t, struct keys_fields *,
	    struct keys_problem *);
void	keys_input_free(struct keys_fields *);

int	keys_rfc3339_parse(const char *, int64_t *);
int	keys_cursor_parse(const char *, int64_t *, char [KEYS_UUID_LEN + 1]);
int	keys_cursor_format(int64_t, const char *, char *, size_t);

#endif
