/*
 * id tokens: RS256 against a JWKS, with keys made here by OpenSSL, and
 * every forged or wrong token docs/auth.md's "Security notes" name.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "tg_test.h"
#include "auth/b64.h"
#include "auth/idtoken.h"

#define NOW	1700000000LL
#define CLIENT	"client-123.apps.example"
#define ISS	"https://accounts.example"

static EVP_PKEY	*key2048, *other2048, *key1024;

static EVP_PKEY *
genkey(int bits)
{
	EVP_PKEY	*k;

	if ((k = EVP_RSA_gen(bits)) == NULL)
		abort();
	return (k);
}

static char *
b64(const void *p, size_t n)
{
	char	*out = malloc(AUTH_B64URL_LEN(n) + 1);

	auth_b64url_encode(p, n, out, AUTH_B64URL_LEN(n) + 1);
	return (out);
}

static char *
bn64(EVP_PKEY *k, const char *name)
{
	BIGNUM		*bn = NULL;
	unsigned char	 buf[1024];
	int		 n;

	if (!EVP_PKEY_get_bn_param(k, name, &bn))
		abort();
	n = BN_bn2bin(bn, buf);
	BN_free(bn);
	return (b64(buf, n));
}

/* {"keys":[{kty,kid,n,e} + extra]} for key k. */
static json_t *
jwks_for(EVP_PKEY *k, const char *kid, const char *extra)
{
	char	*n = bn64(k, OSSL_PKEY_PARAM_RSA_N);
	char	*e = bn64(k, OSSL_PKEY_PARAM_RSA_E);
	char	 buf[4096];
	json_t	*doc;

	snprintf(buf, sizeof(buf), "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"%s\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}]}",
	    kid, kid, n, e, extra);
	doc = json_loads(buf, 0, NULL);
	free(n);
	free(e);
	return (doc);
}

static char *
sign_token(EVP_PKEY *k, const char *header, const char *payload)
{
	EVP_MD_CTX	*md;
	unsigned char	 sig[1024];
	size_t		 siglen = sizeof(sig);
	char		*h, *p, *s, *tok;

	h = b64(header, strlen(header));
	p = b64(payload, strlen(payload));
	tok = malloc(strlen(h) + strlen(p) + 2048);
	sprintf(tok, "%s.%s", h, p);
	md = EVP_MD_CTX_new();
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)tok,
	    strlen(tok)) != 1)
		abort();
	EVP_MD_CTX_free(md);
	s = b64(sig, siglen);
	strcat(tok, ".");
	strcat(tok, s);
	free(h);
	free(p);
	free(s);
	return (tok);
}

#define HDR	"{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}"
#define CLAIMS(extra)							\
	"{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"sub\":\"10769150\","\
	"\"iat\":1700000000,\"exp\":1700003600,\"nonce\":\"n-0S6\""	\
	extra "}"

static int
check(const char *tok, const json_t *jwks)
{
	struct auth_idtoken_expect	 want;
	json_t				*claims;
	int				 rc;

	memset(&want, 0, sizeof(want));
	want.issuers[0] = ISS;
	want.issuers[1] = "accounts.example";
	want.nissuers = 2;
	want.client_id = CLIENT;
	want.nonce = "n-0S6";
	want.now = NOW + 10;
	rc = auth_idtoken_verify(tok, jwks, &want, &claims);
	if (rc == AUTH_IDT_OK) {
		ck_assert_str_eq(json_string_value(json_object_get(claims,
		    "sub")), "10769150");
		json_decref(claims);
	} else {
		ck_assert_ptr_null(claims);
	}
	return (rc);
}

static int
check_signed(const char *header, const char *payload, const json_t *jwks)
{
	char	*tok = sign_token(key2048, header, payload);
	int	 rc = check(tok, jwks);

	free(tok);
	return (rc);
}

START_TEST(valid_and_signature)
{
	json_t	*jwks = jwks_for(key2048, "k1", ",\"use\":\"sig\",\"alg\":\"RS256\"");
	json_t	*wrong = jwks_for(other2048, "k1", "");
	char	*tok, *p;

	tok = sign_token(key2048, HDR, CLAIMS(""));
	ck_assert_int_eq(check(tok, jwks), AUTH_IDT_OK);
	/* The same token against another key of the same kid. */
	ck_assert_int_eq(check(tok, wrong), AUTH_IDT_BAD_SIGNATURE);
	/* A flipped bit in the signature. */
	p = strrchr(tok, '.') + 5;
	*p = (*p == 'A') ? 'B' : 'A';
	ck_assert_int_eq(check(tok, jwks), AUTH_IDT_BAD_SIGNATURE);
	free(tok);

	/* Claims changed after signing. */
	tok = sign_token(key2048, HDR, CLAIMS(""));
	{
		char	*other = sign_token(key2048, HDR,
		    "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"sub\":"
		    "\"evil\",\"iat\":1700000000,\"exp\":1700003600,"
		    "\"nonce\":\"n-0S6\"}");
		char	*d1 = strchr(tok, '.'), *d2 = strchr(other, '.');
		char	*s1 = strrchr(tok, '.');
		char	 mix[8192];

		snprintf(mix, sizeof(mix), "%.*s%.*s%s", (int)(d1 - tok), tok,
		    (int)(strrchr(other, '.') - d2), d2, s1);
		ck_assert_int_eq(check(mix, jwks), AUTH_IDT_BAD_SIGNATURE);
		free(other);
	}
	free(tok);

	/* Unknown kid, no keys, no JWKS. */
	ck_assert_int_eq(check_signed("{\"alg\":\"RS256\",\"kid\":\"k2\"}",
	    CLAIMS(""), jwks), AUTH_IDT_UNKNOWN_KID);
	ck_assert_int_eq(check_signed("{\"alg\":\"RS256\"}", CLAIMS(""), jwks),
	    AUTH_IDT_UNKNOWN_KID);
	ck_assert_int_eq(check_signed(HDR, CLAIMS(""), NULL),
	    AUTH_IDT_UNKNOWN_KID);

	json_decref(jwks);
	json_decref(wrong);
}
END_TEST

START_TEST(algorithms_and_keys)
{
	json_t	*jwks = jwks_for(key2048, "k1", "");
	json_t	*enc = jwks_for(key2048, "k1", ",\"use\":\"enc\"");
	json_t	*rs512 = jwks_for(key2048, "k1", ",\"alg\":\"RS512\"");
	json_t	*small = jwks_for(key1024, "k1", "");
	char	*tok, *h, *p, buf[4096];
	unsigned char mac[32];

	ck_assert_int_eq(check_signed("{\"alg\":\"none\",\"kid\":\"k1\"}",
	    CLAIMS(""), jwks), AUTH_IDT_BAD_ALG);
	ck_assert_int_eq(check_signed("{\"alg\":\"RS512\",\"kid\":\"k1\"}",
	    CLAIMS(""), jwks), AUTH_IDT_BAD_ALG);
	ck_assert_int_eq(check_signed("{\"alg\":\"rs256\",\"kid\":\"k1\"}",
	    CLAIMS(""), jwks), AUTH_IDT_BAD_ALG);
	ck_assert_int_eq(check_signed("{\"alg\":\"RS256\",\"kid\":\"k1\","
	    "\"crit\":[\"exp\"]}", CLAIMS(""), jwks), AUTH_IDT_BAD_ALG);
	ck_assert_int_eq(check_signed("{\"alg\":\"RS256\",\"kid\":\"k1\","
	    "\"typ\":\"at+jwt\"}", CLAIMS(""), jwks), AUTH_IDT_BAD_ALG);
	/* jku/x5u/jwk are ignored: keys come from our JWKS only. */
	ck_assert_int_eq(check_signed("{\"alg\":\"RS256\",\"kid\":\"k1\","
	    "\"jku\":\"https://evil/jwks\"}", CLAIMS(""), jwks), AUTH_IDT_OK);
	ck_assert_int_eq(check_signed(HDR, CLAIMS(""), enc), AUTH_IDT_BAD_KEY);
	ck_assert_int_eq(check_signed(HDR, CLAIMS(""), rs512),
	    AUTH_IDT_BAD_KEY);

	/* A 1024-bit key is refused even with a valid signature. */
	tok = sign_token(key1024, HDR, CLAIMS(""));
	ck_assert_int_eq(check(tok, small), AUTH_IDT_BAD_SIGNATURE);
	free(tok);

	/* alg none with an empty signature. */
	h = b64("{\"alg\":\"none\"}", strlen("{\"alg\":\"none\"}"));
	p = b64(CLAIMS(""), strlen(CLAIMS("")));
	snprintf(buf, sizeof(buf), "%s.%s.", h, p);
	ck_assert_int_eq(check(buf, jwks), AUTH_IDT_BAD_ALG);
	free(h);

	/* HS256 MACed with the public modulus as the key (HS/RS confusion). */
	h = b64("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
	    strlen("{\"alg\":\"HS256\",\"kid\":\"k1\"}"));
	snprintf(buf, sizeof(buf), "%s.%s", h, p);
	crypto_auth_hmacsha256(mac, (unsigned char *)buf, strlen(buf),
	    (const unsigned char *)"0123456789abcdef0123456789abcdef");
	{
		char *s = b64(mac, 32);
		strcat(buf, ".");
		strcat(buf, s);
		free(s);
	}
	ck_assert_int_eq(check(buf, jwks), AUTH_IDT_BAD_ALG);
	free(h);
	free(p);

	json_decref(jwks);
	json_decref(enc);
	json_decref(rs512);
	json_decref(small);
}
END_TEST

START_TEST(claims)
{
	static const struct {
		const char	*payload;
		int		 rc;
	} cases[] = {
		{ CLAIMS(""), AUTH_IDT_OK },
		{ "{\"iss\":\"accounts.example\",\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1700000000,\"exp\":1700003600,"
		  "\"nonce\":\"n-0S6\"}", AUTH_IDT_OK },
		{ "{\"iss\":\"" ISS ".evil\",\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1700000000,\"exp\":1700003600,"
		  "\"nonce\":\"n-0S6\"}", AUTH_IDT_BAD_ISS },
		{ "{\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1700000000,\"exp\":1700003600,"
		  "\"nonce\":\"n-0S6\"}", AUTH_IDT_BAD_ISS },
		{ "{\"iss\":\"" ISS "\",\"aud\":\"other\","
		  "\"sub\":\"10769150\",\"iat\":1700000000,\"exp\":1700003600,"
		  "\"nonce\":\"n-0S6\"}", AUTH_IDT_BAD_AUD },
		{ "{\"iss\":\"" ISS "\",\"aud\":[\"" CLIENT "\",\"other\"],"
		  "\"sub\":\"10769150\",\"iat\":1700000000,\"exp\":1700003600,"
		  "\"nonce\":\"n-0S6\"}", AUTH_IDT_BAD_AUD },
		{ "{\"iss\":\"" ISS "\",\"aud\":[\"" CLIENT "\",\"other\"],"
		  "\"azp\":\"" CLIENT "\",\"sub\":\"10769150\","
		  "\"iat\":1700000000,\"exp\":1700003600,\"nonce\":\"n-0S6\"}",
		  AUTH_IDT_OK },
		{ CLAIMS(",\"azp\":\"other\""), AUTH_IDT_BAD_AUD },
		{ "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1699990000,\"exp\":1699999900,"
		  "\"nonce\":\"n-0S6\"}", AUTH_IDT_EXPIRED },
		{ "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1700000000,"
		  "\"nonce\":\"n-0S6\"}", AUTH_IDT_EXPIRED },
		{ "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1700001000,\"exp\":1700003600,"
		  "\"nonce\":\"n-0S6\"}", AUTH_IDT_BAD_IAT },
		{ "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1700000000,\"exp\":1700003600,"
		  "\"nonce\":\"other\"}", AUTH_IDT_BAD_NONCE },
		{ "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1700000000,\"exp\":1700003600}",
		  AUTH_IDT_BAD_NONCE },
		{ "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\","
		  "\"iat\":1700000000,\"exp\":1700003600,\"nonce\":\"n-0S6\"}",
		  AUTH_IDT_BAD_SUB },
		{ "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"sub\":\"a b\","
		  "\"iat\":1700000000,\"exp\":1700003600,\"nonce\":\"n-0S6\"}",
		  AUTH_IDT_BAD_SUB },
		{ CLAIMS(",\"sub\":\"dup\""), AUTH_IDT_MALFORMED },
		/* The largest exp is far in the future, not an overflow. */
		{ "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\","
		  "\"sub\":\"10769150\",\"iat\":1700000000,"
		  "\"exp\":9223372036854775807,\"nonce\":\"n-0S6\"}",
		  AUTH_IDT_OK },
	};
	json_t	*jwks = jwks_for(key2048, "k1", "");
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = check_signed(HDR, cases[i].payload, jwks);
		ck_assert_msg(rc == cases[i].rc, "case %zu: %d != %d", i, rc,
		    cases[i].rc);
	}
	json_decref(jwks);
}
END_TEST

START_TEST(malformed)
{
	static const char	*bad[] = {
		"", "a", "a.b", "a.b.c.d", "..", "e30.e30.", "!!!.e30.e30",
		"eyJhbGciOiJSUzI1NiJ9.e30=.AAAA",
	};
	json_t	*jwks = jwks_for(key2048, "k1", "");
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_ne(check(bad[i], jwks), AUTH_IDT_OK);
	ck_assert(!auth_jwks_valid(NULL));
	{
		json_t *d = json_loads("{\"keys\":{}}", 0, NULL);
		ck_assert(!auth_jwks_valid(d));
		json_decref(d);
	}
	json_decref(jwks);
}
END_TEST

START_TEST(rs256_raw)
{
	unsigned char	n[300], e[8];

	memset(n, 0xff, sizeof(n));
	e[0] = 1; e[1] = 0; e[2] = 1;
	/* Wrong lengths, tiny or even exponents never verify. */
	ck_assert(!auth_rs256_verify(n, 256, e, 3, "m", 1, n, 255));
	ck_assert(!auth_rs256_verify(n, 128, e, 3, "m", 1, n, 128));
	e[2] = 2;
	ck_assert(!auth_rs256_verify(n, 256, e, 3, "m", 1, n, 256));
	e[0] = 1;
	ck_assert(!auth_rs256_verify(n, 256, e, 1, "m", 1, n, 256));
	ck_assert(!auth_rs256_verify(n, 0, e, 3, "m", 1, n, 0));
}
END_TEST

static Suite *
idtoken_suite(void)
{
	Suite	*s = suite_create("auth_idtoken");
	TCase	*tc = tcase_create("idtoken");

	if (sodium_init() < 0)
		abort();
	key2048 = genkey(2048);
	other2048 = genkey(2048);
	key1024 = genkey(1024);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, valid_and_signature);
	tcase_add_test(tc, algorithms_and_keys);
	tcase_add_test(tc, claims);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, rs256_raw);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(idtoken_suite)
