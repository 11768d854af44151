/*
 * Access tokens: a small wrapper over libjwt 1.10 that pins everything
 * libjwt itself leaves to the token (docs/auth.md, "Security notes").
 *
 * Minting uses libjwt (HS256, a non-empty key). Verification does not
 * trust libjwt 1.10, which takes the algorithm from the token, compares
 * MACs with strcmp, accepts an empty key and checks no claim at all:
 *
 *   1. exactly three strict base64url segments, bounded in size;
 *   2. the header segment must be, byte for byte, one we emit:
 *      {"alg":"HS256","kid":"<kid of one of our secrets>","typ":"JWT"},
 *      or {"alg":"HS256","typ":"JWT"} of tokens minted before kids:
 *      alg none, HS512, RS256, an unknown kid, jku and every other
 *      variation fail here, before any crypto;
 *   3. the MAC is recomputed with libsodium's HMAC-SHA256 (with the
 *      secret the kid names, or each secret for a header without kid)
 *      and compared in constant time (sodium_memcmp);
 *   4. the payload is parsed with duplicate keys refused and iss, aud,
 *      sub, sid (both UUIDs), typ, iat and exp are required and checked;
 *   5. only then libjwt decodes the token with the same key, as a
 *      second, independent check that must agree.
 *
 * The kid is a short keyed hash of the secret (auth_jwt_kid), so it
 * tells which secret signed without saying anything about it; it lets
 * TOLLGATE_JWT_SECRET rotate ("new,old") without signing anyone out.
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
#define JWT_KID_INFO	"tollgate jwt kid"
#define JWT_HEADER_MAX	128	/* base64url of our header with a kid */

static int	jwt_mac(const unsigned char *, size_t, const char *, size_t,
		    unsigned char *);
static int	jwt_header_b64(const unsigned char *, size_t, char *, size_t);
static int	jwt_find_secret(const struct auth_jwt_key *, const char *,
		    size_t, const char *, size_t, const unsigned char *,
		    struct auth_jwt_key *);
static int	jwt_claims(const struct auth_jwt_key *, const unsigned char *,
		    size_t, int64_t, struct auth_jwt_claims *);
static int	jwt_int(json_t *, const char *, int64_t *);
static int	jwt_libjwt_agrees(const struct auth_jwt_key *, const char *);
static int	jwt_mac_equal(const unsigned char *, size_t, const char *,
		    size_t, const unsigned char *);

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
	char	 kid[AUTH_JWT_KID_LEN + 1], header[JWT_HEADER_MAX];
	size_t	 hlen;

	if (k->key == NULL || k->keylen == 0 || k->keylen > INT32_MAX)
		return (NULL);
	if (!auth_jwt_kid(k->key, k->keylen, kid, sizeof(kid)) ||
	    !jwt_header_b64(k->key, k->keylen, header, sizeof(header)))
		return (NULL);
	hlen = strlen(header);
	if (!tg_uuid_canonical(sub) || !tg_uuid_canonical(sid))
		return (NULL);
	if (ttl <= 0 || ttl > AUTH_JWT_TTL_MAX)
		return (NULL);

	if (jwt_new(&jwt) != 0)
		return (NULL);

	token = NULL;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, k->key, (int)k->keylen) != 0 ||
	    jwt_add_header(jwt, "kid", kid) != 0 ||
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
	if (token != NULL && (strncmp(token, header, hlen) != 0 ||
	    token[hlen] != '.' || strlen(token) > AUTH_JWT_MAX)) {
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
	struct auth_jwt_key	 used;
	const char		*dot1, *dot2, *sig;
	unsigned char		 given[crypto_auth_hmacsha256_BYTES + 3];
	unsigned char		 payload[AUTH_JWT_MAX];
	size_t			 len, siglen, plen, glen;
	int			 rc;

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

	if (!auth_b64url_decode(sig, siglen, given, sizeof(given), &glen) ||
	    glen != crypto_auth_hmacsha256_BYTES)
		rc = AUTH_JWT_BAD_SIGNATURE;
	else
		rc = AUTH_JWT_OK;

	/* The header decides the secret (or fails) before the MAC counts. */
	switch (jwt_find_secret(k, token, dot1 - token, token, dot2 - token,
	    rc == AUTH_JWT_OK ? given : NULL, &used)) {
	case AUTH_JWT_BAD_HEADER:
		return (AUTH_JWT_BAD_HEADER);
	case AUTH_JWT_OK:
		if (rc == AUTH_JWT_OK)
			break;
		/* FALLTHROUGH */
	default:
		return (AUTH_JWT_BAD_SIGNATURE);
	}

	if (!auth_b64url_decode(dot1 + 1, dot2 - dot1 - 1, payload,
	    sizeof(payload), &plen))
		return (AUTH_JWT_MALFORMED);

	if ((rc = jwt_claims(k, payload, plen, now, out)) != AUTH_JWT_OK) {
		memset(out, 0, sizeof(*out));
		return (rc);
	}

	if (!jwt_libjwt_agrees(&used, token)) {
		memset(out, 0, sizeof(*out));
		return (AUTH_JWT_BAD_SIGNATURE);
	}

	return (AUTH_JWT_OK);
}

/*
 * The kid of a secret: the first AUTH_JWT_KID_LEN / 2 bytes of
 * HMAC-SHA256(secret, JWT_KID_INFO) in hex. Returns 1 on success.
 */
int
auth_jwt_kid(const unsigned char *key, size_t keylen, char *out, size_t outlen)
{
	unsigned char	mac[crypto_auth_hmacsha256_BYTES];

	if (outlen < AUTH_JWT_KID_LEN + 1 || key == NULL || keylen == 0)
		return (0);
	if (!jwt_mac(key, keylen, JWT_KID_INFO, sizeof(JWT_KID_INFO) - 1,
	    mac))
		return (0);
	sodium_bin2hex(out, outlen, mac, AUTH_JWT_KID_LEN / 2);
	sodium_memzero(mac, sizeof(mac));

	return (1);
}

/*
 * Which secret of k the token's header (hdr, hlen bytes) and MAC name:
 * with a kid, the secret it names; without, the first secret whose MAC
 * matches. used gets k with that secret as its key. AUTH_JWT_BAD_HEADER
 * for a header we never emit, AUTH_JWT_BAD_SIGNATURE when no secret's
 * MAC is given (given NULL: the signature did not decode).
 */
static int
jwt_find_secret(const struct auth_jwt_key *k, const char *hdr, size_t hlen,
    const char *input, size_t inlen, const unsigned char *given,
    struct auth_jwt_key *used)
{
	const unsigned char	*key;
	char			 want[JWT_HEADER_MAX];
	size_t			 keylen;
	int			 i, plain;

	*used = *k;
	plain = hlen == sizeof(JWT_HEADER_B64) - 1 &&
	    memcmp(hdr, JWT_HEADER_B64, hlen) == 0;

	for (i = -1; i < k->nold && i < AUTH_JWT_OLD_MAX; i++) {
		key = i < 0 ? k->key : k->old[i];
		keylen = i < 0 ? k->keylen : k->oldlen[i];
		if (key == NULL || keylen == 0)
			continue;
		if (!plain) {
			if (!jwt_header_b64(key, keylen, want, sizeof(want)) ||
			    strlen(want) != hlen || memcmp(want, hdr, hlen))
				continue;
		}
		if (given != NULL &&
		    jwt_mac_equal(key, keylen, input, inlen, given)) {
			used->key = key;
			used->keylen = keylen;
			return (AUTH_JWT_OK);
		}
		if (!plain)
			return (AUTH_JWT_BAD_SIGNATURE);
	}

	return (plain ? AUTH_JWT_BAD_SIGNATURE : AUTH_JWT_BAD_HEADER);
}

/* Whether given is the MAC of input under key, in constant time. */
static int
jwt_mac_equal(const unsigned char *key, size_t keylen, const char *input,
    size_t inlen, const unsigned char *given)
{
	unsigned char	mac[crypto_auth_hmacsha256_BYTES];
	int		rc;

	if (!jwt_mac(key, keylen, input, inlen, mac))
		return (0);
	rc = sodium_memcmp(mac, given, sizeof(mac));
	sodium_memzero(mac, sizeof(mac));

	return (rc == 0);
}

/* base64url of {"alg":"HS256","kid":"<kid>","typ":"JWT"}, what we mint. */
static int
jwt_header_b64(const unsigned char *key, size_t keylen, char *out,
    size_t outlen)
{
	char	kid[AUTH_JWT_KID_LEN + 1], json[64];
	int	n;

	if (!auth_jwt_kid(key, keylen, kid, sizeof(kid)))
		return (0);
	n = snprintf(json, sizeof(json),
	    "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
	if (n < 0 || (size_t)n >= sizeof(json) ||
	    AUTH_B64URL_LEN((size_t)n) + 1 > outlen)
		return (0);
	(void)auth_b64url_encode(json, (size_t)n, out, outlen);

	return (1);
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
jwt_mac(const unsigned char *key, size_t keylen, const char *input,
    size_t len, unsigned char *mac)
{
	crypto_auth_hmacsha256_state	st;

	if (crypto_auth_hmacsha256_init(&st, key, keylen) != 0)
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
