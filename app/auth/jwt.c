/*
 * Access tokens: a small wrapper over libjwt 1.10 that pins everything
 * libjwt itself leaves to the token (docs/auth.md, "Security notes").
 *
 * Minting uses libjwt (HS256, a non-empty key). Verification does not
 * trust libjwt 1.10, which takes the algorithm from the token, compares
 * MACs with strcmp, accepts an empty key and checks no claim at all:
 *
 *   1. exactly three strict base64url segments, bounded in size;
 *   2. the header segment must be, byte for byte, the one we emit
 *      ({"alg":"HS256","typ":"JWT"}): alg none, HS512, RS256, kid, jku
 *      and every other variation fail here, before any crypto;
 *   3. the MAC is recomputed with libsodium's HMAC-SHA256 and compared
 *      in constant time (sodium_memcmp);
 *   4. the payload is parsed with duplicate keys refused and iss, aud,
 *      sub, sid (both UUIDs), typ, iat and exp are required and checked;
 *   5. only then libjwt decodes the token with the same key, as a
 *      second, independent check that must agree.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <sodium.h>

#include "auth/b64.h"
#include "auth/jwt.h"
#include "lex.h"

/* base64url of {"alg":"HS256","typ":"JWT"}, what libjwt 1.10 writes. */
#define JWT_HEADER_B64	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#define JWT_TYP_ACCESS	"access"

static int	jwt_mac(const struct auth_jwt_key *, const char *, size_t,
		    unsigned char *);
static int	jwt_claims(const struct auth_jwt_key *, const unsigned char *,
		    size_t, int64_t, struct auth_jwt_claims *);
static int	jwt_int(json_t *, const char *, int64_t *);
static int	jwt_libjwt_agrees(const struct auth_jwt_key *, const char *);

/*
 * A token for user sub and session sid, valid ttl seconds from now
 * (at most AUTH_JWT_TTL_MAX). Returns a malloc'd string, NULL on error.
 */
char *
auth_jwt_issue(const struct auth_jwt_key *k, const char *sub, const char *sid,
    int64_t now, int64_t ttl)
{
	jwt_t	*jwt;
	char	*token;

	if (k->key == NULL || k->keylen == 0 || k->keylen > INT32_MAX)
		return (NULL);
	if (!tg_uuid_canonical(sub) || !tg_uuid_canonical(sid))
		return (NULL);
	if (ttl <= 0 || ttl > AUTH_JWT_TTL_MAX)
		return (NULL);

	if (jwt_new(&jwt) != 0)
		return (NULL);

	token = NULL;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, k->key, (int)k->keylen) != 0 ||
	    jwt_add_grant(jwt, "iss", k->issuer) != 0 ||
	    jwt_add_grant(jwt, "aud", k->audience) != 0 ||
	    jwt_add_grant(jwt, "sub", sub) != 0 ||
	    jwt_add_grant(jwt, "sid", sid) != 0 ||
	    jwt_add_grant(jwt, "typ", JWT_TYP_ACCESS) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + ttl)) != 0)
		goto out;

	token = jwt_encode_str(jwt);

	/* What we mint must be what we accept. */
	if (token != NULL && (strncmp(token, JWT_HEADER_B64 ".",
	    sizeof(JWT_HEADER_B64)) != 0 || strlen(token) > AUTH_JWT_MAX)) {
		free(token);
		token = NULL;
	}

out:
	jwt_free(jwt);
	return (token);
}

int
auth_jwt_verify(const struct auth_jwt_key *k, const char *token, int64_t now,
    struct auth_jwt_claims *out)
{
	const char	*dot1, *dot2, *sig;
	unsigned char	 mac[crypto_auth_hmacsha256_BYTES];
	unsigned char	 given[crypto_auth_hmacsha256_BYTES + 3];
	unsigned char	 payload[AUTH_JWT_MAX];
	size_t		 len, siglen, plen, glen;
	int		 rc;

	memset(out, 0, sizeof(*out));

	if (k->key == NULL || k->keylen == 0)
		return (AUTH_JWT_NO_KEY);

	len = strnlen(token, AUTH_JWT_MAX + 1);
	if (len > AUTH_JWT_MAX)
		return (AUTH_JWT_MALFORMED);
	if ((dot1 = memchr(token, '.', len)) == NULL)
		return (AUTH_JWT_MALFORMED);
	if ((dot2 = memchr(dot1 + 1, '.', len - (dot1 + 1 - token))) == NULL)
		return (AUTH_JWT_MALFORMED);
	sig = dot2 + 1;
	siglen = len - (sig - token);
	if (memchr(sig, '.', siglen) != NULL)
		return (AUTH_JWT_MALFORMED);

	if ((size_t)(dot1 - token) != sizeof(JWT_HEADER_B64) - 1 ||
	    memcmp(token, JWT_HEADER_B64, sizeof(JWT_HEADER_B64) - 1) != 0)
		return (AUTH_JWT_BAD_HEADER);

	if (!auth_b64url_decode(sig, siglen, given, sizeof(given), &glen) ||
	    glen != sizeof(mac))
		return (AUTH_JWT_BAD_SIGNATURE);
	if (!jwt_mac(k, token, dot2 - token, mac))
		return (AUTH_JWT_BAD_SIGNATURE);
	rc = sodium_memcmp(mac, given, sizeof(mac));
	sodium_memzero(mac, sizeof(mac));
	if (rc != 0)
		return (AUTH_JWT_BAD_SIGNATURE);

	if (!auth_b64url_decode(dot1 + 1, dot2 - dot1 - 1, payload,
	    sizeof(payload), &plen))
		return (AUTH_JWT_MALFORMED);

	if ((rc = jwt_claims(k, payload, plen, now, out)) != AUTH_JWT_OK) {
		memset(out, 0, sizeof(*out));
		return (rc);
	}

	if (!jwt_libjwt_agrees(k, token)) {
		memset(out, 0, sizeof(*out));
		return (AUTH_JWT_BAD_SIGNATURE);
	}

	return (AUTH_JWT_OK);
}

const char *
auth_jwt_strerror(int rc)
{
	switch (rc) {
	case AUTH_JWT_OK:
		return ("ok");
	case AUTH_JWT_MALFORMED:
		return ("malformed token");
	case AUTH_JWT_BAD_HEADER:
		return ("unexpected token header");
	case AUTH_JWT_BAD_SIGNATURE:
		return ("bad signature");
	case AUTH_JWT_BAD_CLAIMS:
		return ("bad claims");
	case AUTH_JWT_EXPIRED:
		return ("token expired");
	case AUTH_JWT_NO_KEY:
		return ("no signing key");
	default:
		return ("invalid token");
	}
}

/* HMAC-SHA256 over the signing input; the key may be of any length. */
static int
jwt_mac(const struct auth_jwt_key *k, const char *input, size_t len,
    unsigned char *mac)
{
	crypto_auth_hmacsha256_state	st;

	if (crypto_auth_hmacsha256_init(&st, k->key, k->keylen) != 0)
		return (0);
	if (crypto_auth_hmacsha256_update(&st, (const unsigned char *)input,
	    len) != 0)
		return (0);
	if (crypto_auth_hmacsha256_final(&st, mac) != 0)
		return (0);
	sodium_memzero(&st, sizeof(st));

	return (1);
}

static int
jwt_claims(const struct auth_jwt_key *k, const unsigned char *payload,
    size_t len, int64_t now, struct auth_jwt_claims *out)
{
	json_t		*doc, *v;
	const char	*s;
	int64_t		 nbf;
	int		 rc;

	doc = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES,
	    NULL);
	if (doc == NULL)
		return (AUTH_JWT_MALFORMED);

	rc = AUTH_JWT_BAD_CLAIMS;
	if (!json_is_object(doc))
		goto out;

	if ((s = json_string_value(json_object_get(doc, "iss"))) == NULL ||
	    strcmp(s, k->issuer) != 0)
		goto out;
	if ((s = json_string_value(json_object_get(doc, "aud"))) == NULL ||
	    strcmp(s, k->audience) != 0)
		goto out;
	if ((s = json_string_value(json_object_get(doc, "typ"))) == NULL ||
	    strcmp(s, JWT_TYP_ACCESS) != 0)
		goto out;

	if ((s = json_string_value(json_object_get(doc, "sub"))) == NULL ||
	    !tg_uuid_canonical(s))
		goto out;
	memcpy(out->sub, s, AUTH_UUID_LEN + 1);
	if ((s = json_string_value(json_object_get(doc, "sid"))) == NULL ||
	    !tg_uuid_canonical(s))
		goto out;
	memcpy(out->sid, s, AUTH_UUID_LEN + 1);

	if (!jwt_int(doc, "iat", &out->iat) || !jwt_int(doc, "exp", &out->exp))
		goto out;
	if (out->exp <= out->iat || out->exp - out->iat > AUTH_JWT_TTL_MAX)
		goto out;
	if (out->iat > now + AUTH_JWT_LEEWAY)
		goto out;
	if ((v = json_object_get(doc, "nbf")) != NULL) {
		if (!jwt_int(doc, "nbf", &nbf) || nbf > now + AUTH_JWT_LEEWAY)
			goto out;
	}

	if (now >= out->exp + AUTH_JWT_LEEWAY) {
		rc = AUTH_JWT_EXPIRED;
		goto out;
	}

	rc = AUTH_JWT_OK;
out:
	json_decref(doc);
	return (rc);
}

/* A JSON integer (not a real, not a string) that fits int64. */
static int
jwt_int(json_t *doc, const char *name, int64_t *out)
{
	json_t	*v;

	if ((v = json_object_get(doc, name)) == NULL || !json_is_integer(v))
		return (0);

	*out = json_integer_value(v);
	return (*out > 0);
}

/*
 * libjwt's own verification of the same token with the same key and
 * algorithm. Reached only after our checks passed, so its weaknesses
 * (strcmp, alg from the token) cannot decide anything on their own.
 */
static int
jwt_libjwt_agrees(const struct auth_jwt_key *k, const char *token)
{
	jwt_t	*jwt;
	int	 ok;

	if (k->keylen > INT32_MAX)
		return (0);

	jwt = NULL;
	if (jwt_decode(&jwt, token, k->key, (int)k->keylen) != 0 ||
	    jwt == NULL)
		return (0);

	ok = jwt_get_alg(jwt) == JWT_ALG_HS256;
	jwt_free(jwt);

	return (ok);
}
