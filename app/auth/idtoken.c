/*
 * id token verification (docs/auth.md, "Security notes"; ASVS 9.1 and 10.5).
 *
 * The token reaches us from the provider's token endpoint over TLS, but
 * we still check its RS256 signature against the provider's JWKS: the
 * endpoints are configurable, and a signature does not depend on how
 * the token travelled. Order of checks:
 *
 *   1. three strict base64url segments, each bounded;
 *   2. header: alg exactly "RS256", a kid, no "crit"; jku, x5u and jwk
 *      are never followed (keys come only from the configured JWKS);
 *   3. the JWK with that kid: kty RSA, use sig and alg RS256 when
 *      given, a 2048..8192-bit modulus; RSASSA-PKCS1-v1_5 with SHA-256
 *      through OpenSSL's EVP interface;
 *   4. claims: iss one of the expected issuers exactly, aud our client
 *      id (with azp our client id when there are several audiences or
 *      azp is present), exp and iat with leeway, nonce equal to the
 *      flow's, sub a bounded printable string.
 *
 * The claims are handed back only when every check passed.
 */

#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "auth/b64.h"
#include "auth/idtoken.h"

static json_t	*idt_segment_json(const char *, size_t);
static const json_t *idt_jwk(const json_t *, const char *);
static int	 idt_claims(json_t *, const struct auth_idtoken_expect *);
static int	 idt_audience(json_t *, const char *);
static int	 idt_streq(const char *, const char *);

int
auth_idtoken_verify(const char *token, const json_t *jwks,
    const struct auth_idtoken_expect *want, json_t **claims)
{
	const char	*dot1, *dot2, *kid, *alg, *n64, *e64;
	const json_t	*jwk;
	json_t		*header, *payload, *v;
	unsigned char	 n[AUTH_RSA_MAX_BITS / 8 + 1], e[16];
	unsigned char	 sig[AUTH_RSA_MAX_BITS / 8];
	size_t		 len, nlen, elen, siglen;
	int		 rc;

	*claims = NULL;
	header = NULL;
	payload = NULL;

	len = strnlen(token, AUTH_IDT_MAX + 1);
	if (len > AUTH_IDT_MAX)
		return (AUTH_IDT_MALFORMED);
	if ((dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', len - (dot1 + 1 - token))) == NULL ||
	    memchr(dot2 + 1, '.', len - (dot2 + 1 - token)) != NULL)
		return (AUTH_IDT_MALFORMED);

	if ((header = idt_segment_json(token, dot1 - token)) == NULL)
		return (AUTH_IDT_MALFORMED);

	rc = AUTH_IDT_BAD_ALG;
	if ((alg = json_string_value(json_object_get(header, "alg"))) == NULL ||
	    strcmp(alg, "RS256") != 0)
		goto out;
	if (json_object_get(header, "crit") != NULL)
		goto out;
	if ((v = json_object_get(header, "typ")) != NULL &&
	    (!json_is_string(v) || strcasecmp(json_string_value(v), "JWT")))
		goto out;

	rc = AUTH_IDT_UNKNOWN_KID;
	if ((kid = json_string_value(json_object_get(header, "kid"))) == NULL ||
	    (jwk = idt_jwk(jwks, kid)) == NULL)
		goto out;

	rc = AUTH_IDT_BAD_KEY;
	if ((v = json_object_get(jwk, "use")) != NULL &&
	    (!json_is_string(v) || strcmp(json_string_value(v), "sig")))
		goto out;
	if ((v = json_object_get(jwk, "alg")) != NULL &&
	    (!json_is_string(v) || strcmp(json_string_value(v), "RS256")))
		goto out;
	if ((n64 = json_string_value(json_object_get(jwk, "n"))) == NULL ||
	    (e64 = json_string_value(json_object_get(jwk, "e"))) == NULL)
		goto out;
	if (!auth_b64url_decode(n64, strlen(n64), n, sizeof(n), &nlen) ||
	    !auth_b64url_decode(e64, strlen(e64), e, sizeof(e), &elen))
		goto out;

	rc = AUTH_IDT_BAD_SIGNATURE;
	if (!auth_b64url_decode(dot2 + 1, len - (dot2 + 1 - token), sig,
	    sizeof(sig), &siglen))
		goto out;
	if (!auth_rs256_verify(n, nlen, e, elen, token, dot2 - token, sig,
	    siglen))
		goto out;

	rc = AUTH_IDT_MALFORMED;
	if ((payload = idt_segment_json(dot1 + 1, dot2 - dot1 - 1)) == NULL)
		goto out;

	if ((rc = idt_claims(payload, want)) != AUTH_IDT_OK)
		goto out;

	*claims = payload;
	payload = NULL;
	rc = AUTH_IDT_OK;

out:
	json_decref(header);
	json_decref(payload);
	return (rc);
}

/* {"keys":[{...}, ...]}: the shape of RFC 7517 §5, nothing more. */
int
auth_jwks_valid(const json_t *doc)
{
	const json_t	*keys;

	if (!json_is_object(doc))
		return (0);
	keys = json_object_get(doc, "keys");

	return (json_is_array(keys) && json_array_size(keys) <= 64);
}

/*
 * RSASSA-PKCS1-v1_5 with SHA-256 over msg, for the public key (n, e)
 * given as big-endian bytes. Returns 1 only for a valid signature.
 */
int
auth_rs256_verify(const unsigned char *n, size_t nlen, const unsigned char *e,
    size_t elen, const void *msg, size_t msglen, const unsigned char *sig,
    size_t siglen)
{
	OSSL_PARAM_BLD	*bld;
	OSSL_PARAM	*params;
	EVP_PKEY_CTX	*pctx;
	EVP_PKEY	*pkey;
	EVP_MD_CTX	*md;
	BIGNUM		*bn_n, *bn_e;
	int		 ok, bits;

	while (nlen > 0 && n[0] == 0) {
		n++;
		nlen--;
	}
	while (elen > 0 && e[0] == 0) {
		e++;
		elen--;
	}
	if (nlen == 0 || elen == 0 || elen > 8 || siglen != nlen)
		return (0);
	bits = (int)nlen * 8;
	if (bits < AUTH_RSA_MIN_BITS || bits > AUTH_RSA_MAX_BITS)
		return (0);

	ok = 0;
	bld = NULL;
	params = NULL;
	pctx = NULL;
	pkey = NULL;
	md = NULL;
	bn_n = BN_bin2bn(n, (int)nlen, NULL);
	bn_e = BN_bin2bn(e, (int)elen, NULL);
	if (bn_n == NULL || bn_e == NULL)
		goto out;
	/* An even or tiny exponent is no RSA key anyone should use. */
	if (!BN_is_odd(bn_e) || BN_is_one(bn_e))
		goto out;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;

	if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) != 1)
		goto out;

	ok = EVP_DigestVerify(md, sig, siglen, msg, msglen) == 1;

out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return (ok);
}

const char *
auth_idtoken_strerror(int rc)
{
	switch (rc) {
	case AUTH_IDT_OK:
		return ("ok");
	case AUTH_IDT_MALFORMED:
		return ("malformed id token");
	case AUTH_IDT_BAD_ALG:
		return ("id token algorithm is not RS256");
	case AUTH_IDT_UNKNOWN_KID:
		return ("id token signed with an unknown key");
	case AUTH_IDT_BAD_KEY:
		return ("unusable signing key in the provider's JWKS");
	case AUTH_IDT_BAD_SIGNATURE:
		return ("bad id token signature");
	case AUTH_IDT_BAD_ISS:
		return ("id token from an unexpected issuer");
	case AUTH_IDT_BAD_AUD:
		return ("id token for another client");
	case AUTH_IDT_EXPIRED:
		return ("id token expired");
	case AUTH_IDT_BAD_IAT:
		return ("id token issued in the future");
	case AUTH_IDT_BAD_NONCE:
		return ("id token nonce does not match");
	case AUTH_IDT_BAD_SUB:
		return ("id token without a valid subject");
	default:
		return ("invalid id token");
	}
}

/* One segment: strict base64url, bounded, a JSON object, no duplicates. */
static json_t *
idt_segment_json(const char *seg, size_t len)
{
	unsigned char	 buf[AUTH_IDT_SEGMENT_MAX];
	size_t		 olen;
	json_t		*doc;

	if (len == 0 || !auth_b64url_decode(seg, len, buf, sizeof(buf), &olen))
		return (NULL);

	doc = json_loadb((const char *)buf, olen, JSON_REJECT_DUPLICATES, NULL);
	if (doc != NULL && !json_is_object(doc)) {
		json_decref(doc);
		return (NULL);
	}

	return (doc);
}

static const json_t *
idt_jwk(const json_t *jwks, const char *kid)
{
	const json_t	*keys, *k;
	const char	*s;
	size_t		 i;

	if (jwks == NULL || !auth_jwks_valid(jwks))
		return (NULL);

	keys = json_object_get(jwks, "keys");
	for (i = 0; i < json_array_size(keys); i++) {
		k = json_array_get(keys, i);
		if (!json_is_object(k))
			continue;
		s = json_string_value(json_object_get(k, "kty"));
		if (s == NULL || strcmp(s, "RSA") != 0)
			continue;
		s = json_string_value(json_object_get(k, "kid"));
		if (s != NULL && strcmp(s, kid) == 0)
			return (k);
	}

	return (NULL);
}

static int
idt_claims(json_t *c, const struct auth_idtoken_expect *want)
{
	const char	*s;
	json_t		*v;
	json_int_t	 exp, iat;
	size_t		 i;
	int		 ok;

	s = json_string_value(json_object_get(c, "iss"));
	ok = 0;
	for (i = 0; s != NULL && i < (size_t)want->nissuers; i++) {
		if (want->issuers[i] != NULL && strcmp(s, want->issuers[i]) == 0)
			ok = 1;
	}
	if (!ok)
		return (AUTH_IDT_BAD_ISS);

	if (!idt_audience(c, want->client_id))
		return (AUTH_IDT_BAD_AUD);

	if ((v = json_object_get(c, "exp")) == NULL || !json_is_integer(v))
		return (AUTH_IDT_EXPIRED);
	exp = json_integer_value(v);
	/* now - leeway, not exp + leeway: exp may be as large as int64. */
	if (exp <= want->now - AUTH_IDT_LEEWAY)
		return (AUTH_IDT_EXPIRED);

	if ((v = json_object_get(c, "iat")) == NULL || !json_is_integer(v))
		return (AUTH_IDT_BAD_IAT);
	iat = json_integer_value(v);
	if (iat > want->now + AUTH_IDT_LEEWAY || iat > exp)
		return (AUTH_IDT_BAD_IAT);

	if (want->nonce != NULL) {
		s = json_string_value(json_object_get(c, "nonce"));
		if (s == NULL || !idt_streq(s, want->nonce))
			return (AUTH_IDT_BAD_NONCE);
	}

	s = json_string_value(json_object_get(c, "sub"));
	if (s == NULL || s[0] == '\0' || strlen(s) > 255)
		return (AUTH_IDT_BAD_SUB);
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return (AUTH_IDT_BAD_SUB);
	}

	return (AUTH_IDT_OK);
}

/*
 * aud is our client id, or an array holding it; with several audiences
 * (or any azp at all) azp must be our client id too (OIDC Core 3.1.3.7).
 */
static int
idt_audience(json_t *c, const char *client_id)
{
	json_t		*aud, *azp;
	size_t		 i, n;
	int		 found;

	aud = json_object_get(c, "aud");
	azp = json_object_get(c, "azp");
	n = 1;

	if (json_is_string(aud)) {
		found = strcmp(json_string_value(aud), client_id) == 0;
	} else if (json_is_array(aud)) {
		found = 0;
		n = json_array_size(aud);
		for (i = 0; i < n; i++) {
			if (json_is_string(json_array_get(aud, i)) &&
			    !strcmp(json_string_value(json_array_get(aud, i)),
			    client_id))
				found = 1;
		}
	} else {
		return (0);
	}

	if (!found)
		return (0);
	if (n > 1 || azp != NULL) {
		if (!json_is_string(azp) ||
		    strcmp(json_string_value(azp), client_id) != 0)
			return (0);
	}

	return (1);
}

/* Equal strings, compared in time independent of where they differ. */
static int
idt_streq(const char *a, const char *b)
{
	size_t	la, lb;

	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return (0);

	return (sodium_memcmp(a, b, la) == 0);
}
