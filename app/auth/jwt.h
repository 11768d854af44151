/*
 * Session access tokens (docs/contract.md §4): HS256 JWTs that we mint with
 * libjwt and verify ourselves. Pure C.
 */

#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "lex.h"

#define AUTH_JWT_TTL		600	/* seconds; the contract allows 900 */
#define AUTH_JWT_TTL_MAX	900
#define AUTH_JWT_LEEWAY		30	/* clock skew between our hosts */
#define AUTH_JWT_MAX		2048	/* longest token we look at */
#define AUTH_UUID_LEN		TG_UUID_LEN

/* Results of auth_jwt_verify(). */
#define AUTH_JWT_OK		0
#define AUTH_JWT_MALFORMED	1	/* not three strict segments */
#define AUTH_JWT_BAD_HEADER	2	/* not exactly our header */
#define AUTH_JWT_BAD_SIGNATURE	3
#define AUTH_JWT_BAD_CLAIMS	4	/* iss, aud, sub, sid, iat, typ */
#define AUTH_JWT_EXPIRED	5
#define AUTH_JWT_NO_KEY		6

#define AUTH_JWT_KID_LEN	8	/* hex digits naming a secret */
#define AUTH_JWT_OLD_MAX	7	/* secrets still verified, not used */

/*
 * key signs and verifies; old[] (rotated-out secrets) only verify. A
 * token names its secret in the header's kid (auth_jwt_kid); a token
 * without kid (minted before kids) is tried against every secret.
 */
struct auth_jwt_key {
	const unsigned char	*key;
	size_t			 keylen;
	const char		*issuer;
	const char		*audience;
	const unsigned char	*old[AUTH_JWT_OLD_MAX];
	size_t			 oldlen[AUTH_JWT_OLD_MAX];
	int			 nold;
};

struct auth_jwt_claims {
	char		sub[AUTH_UUID_LEN + 1];		/* users.id */
	char		sid[AUTH_UUID_LEN + 1];		/* sessions.id */
	int64_t		iat;
	int64_t		exp;
};

char		*auth_jwt_issue(const struct auth_jwt_key *, const char *,
		    const char *, int64_t, int64_t);
int		 auth_jwt_verify(const struct auth_jwt_key *, const char *,
		    int64_t, struct auth_jwt_claims *);
const char	*auth_jwt_strerror(int);
int		 auth_jwt_kid(const unsigned char *, size_t, char *, size_t);

#endif
