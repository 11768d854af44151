/*
 * Access tokens: round trip, and forged tokens of every kind the
 * contract and docs/auth.md's "Security notes" name.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tg_test.h"
#include "auth/b64.h"
#include "auth/jwt.h"
#include "lex.h"

#define KEY	"unit-test-jwt-secret-0123456789abcdef0123"
#define SUB	"11111111-2222-4333-8444-555555555555"
#define SID	"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define NOW	1700000000LL

#define OLDKEY	"unit-test-old-jwt-secret-0123456789abcdef"

static const struct auth_jwt_key	key = {
	(const unsigned char *)KEY, sizeof(KEY) - 1, "https://tg.example",
	"tollgate-ui", { NULL }, { 0 }, 0
};

/* After a rotation: TOLLGATE_JWT_SECRET="KEY,OLDKEY". */
static const struct auth_jwt_key	rotated = {
	(const unsigned char *)KEY, sizeof(KEY) - 1, "https://tg.example",
	"tollgate-ui", { (const unsigned char *)OLDKEY },
	{ sizeof(OLDKEY) - 1 }, 1
};

/* Before it: TOLLGATE_JWT_SECRET="OLDKEY". */
static const struct auth_jwt_key	before = {
	(const unsigned char *)OLDKEY, sizeof(OLDKEY) - 1,
	"https://tg.example", "tollgate-ui", { NULL }, { 0 }, 0
};

/* header.payload.HMAC-SHA256(k, header.payload), all base64url. */
static char *
forge(const char *header, const char *payload, const char *k, size_t klen)
{
	crypto_auth_hmacsha256_state	st;
	unsigned char			mac[32];
	char				*tok;
	size_t				n, cap;

	cap = AUTH_B64URL_LEN(strlen(header)) + AUTH_B64URL_LEN(strlen(payload))
	    + AUTH_B64URL_LEN(32) + 8;
	tok = calloc(1, cap);
	n = auth_b64url_encode(header, strlen(header), tok, cap);
	tok[n++] = '.';
	n += auth_b64url_encode(payload, strlen(payload), tok + n, cap - n);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)k, klen);
	crypto_auth_hmacsha256_update(&st, (unsigned char *)tok, n);
	crypto_auth_hmacsha256_final(&st, mac);
	tok[n++] = '.';
	auth_b64url_encode(mac, 32, tok + n, cap - n);
	return (tok);
}

static char *
forge_claims(const char *payload)
{
	return (forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, KEY,
	    sizeof(KEY) - 1));
}

static int
verify(const char *tok)
{
	struct auth_jwt_claims	c;

	return (auth_jwt_verify(&key, tok, NOW, &c));
}

#define CLAIMS(extra)							\
	"{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","	\
	"\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","	\
	"\"iat\":1700000000,\"exp\":1700000600" extra "}"

START_TEST(round_trip)
{
	struct auth_jwt_claims	 c;
	char			*tok;

	tok = auth_jwt_issue(&key, SUB, SID, NOW, AUTH_JWT_TTL);
	ck_assert_ptr_nonnull(tok);
	ck_assert_int_eq(auth_jwt_verify(&key, tok, NOW + 1, &c), AUTH_JWT_OK);
	ck_assert_str_eq(c.sub, SUB);
	ck_assert_str_eq(c.sid, SID);
	ck_assert_int_eq(c.iat, NOW);
	ck_assert_int_eq(c.exp, NOW + AUTH_JWT_TTL);

	/* Expired once exp (plus leeway) has passed. */
	ck_assert_int_eq(auth_jwt_verify(&key, tok,
	    NOW + AUTH_JWT_TTL + AUTH_JWT_LEEWAY - 1, &c), AUTH_JWT_OK);
	ck_assert_int_eq(auth_jwt_verify(&key, tok,
	    NOW + AUTH_JWT_TTL + AUTH_JWT_LEEWAY, &c), AUTH_JWT_EXPIRED);
	ck_assert_str_eq(c.sub, "");
	free(tok);

	/* Our own forge() agrees with what libjwt writes. */
	tok = forge_claims(CLAIMS(""));
	ck_assert_int_eq(verify(tok), AUTH_JWT_OK);
	free(tok);
}
END_TEST

START_TEST(issue_refuses)
{
	struct auth_jwt_key	empty = key;

	empty.keylen = 0;
	ck_assert_ptr_null(auth_jwt_issue(&empty, SUB, SID, NOW, 600));
	empty.key = NULL;
	ck_assert_ptr_null(auth_jwt_issue(&empty, SUB, SID, NOW, 600));
	ck_assert_ptr_null(auth_jwt_issue(&key, "not-a-uuid", SID, NOW, 600));
	ck_assert_ptr_null(auth_jwt_issue(&key, SUB, SID, NOW, 0));
	ck_assert_ptr_null(auth_jwt_issue(&key, SUB, SID, NOW, 901));
}
END_TEST

START_TEST(header_must_be_ours)
{
	static const char	*headers[] = {
		"{\"alg\":\"none\",\"typ\":\"JWT\"}",
		"{\"alg\":\"none\"}",
		"{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
		"{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS256\"}",
		"{\"typ\":\"JWT\",\"alg\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"x\"}",
		"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"jku\":\"https://e/\"}",
		"{\"alg\":\"HS256\", \"typ\":\"JWT\"}",
		"{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
	};
	struct auth_jwt_claims	 c;
	char			*tok, *p;
	size_t			 i;

	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		tok = forge(headers[i], CLAIMS(""), KEY, sizeof(KEY) - 1);
		ck_assert_int_eq(verify(tok), AUTH_JWT_BAD_HEADER);
		free(tok);
	}

	/* alg none with an empty signature: "header.payload." */
	tok = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", CLAIMS(""), KEY,
	    sizeof(KEY) - 1);
	p = strrchr(tok, '.');
	p[1] = '\0';
	ck_assert_int_eq(auth_jwt_verify(&key, tok, NOW, &c),
	    AUTH_JWT_BAD_HEADER);
	free(tok);
}
END_TEST

START_TEST(signature)
{
	struct auth_jwt_key	 nokey = key;
	char			*tok, *good, *p;
	size_t			 n;

	/* Another key, and the empty key (libjwt 1.10's NULL-key hole). */
	tok = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", CLAIMS(""),
	    "another-secret-another-secret-another-secret", 44);
	ck_assert_int_eq(verify(tok), AUTH_JWT_BAD_SIGNATURE);
	free(tok);
	tok = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", CLAIMS(""), "", 0);
	ck_assert_int_eq(verify(tok), AUTH_JWT_BAD_SIGNATURE);

	/* The verifier itself refuses to run without a key. */
	nokey.keylen = 0;
	{
		struct auth_jwt_claims c;
		ck_assert_int_eq(auth_jwt_verify(&nokey, tok, NOW, &c),
		    AUTH_JWT_NO_KEY);
	}
	free(tok);

	/* Payload changed (sub of someone else), signature kept. */
	good = forge_claims(CLAIMS(""));
	tok = forge_claims("{\"iss\":\"https://tg.example\",\"aud\":"
	    "\"tollgate-ui\",\"sub\":\"99999999-2222-4333-8444-555555555555\","
	    "\"sid\":\"" SID "\",\"typ\":\"access\",\"iat\":1700000000,"
	    "\"exp\":1700000600}");
	strcpy(strrchr(tok, '.'), strrchr(good, '.'));
	ck_assert_int_eq(verify(tok), AUTH_JWT_BAD_SIGNATURE);
	free(tok);

	/* Signature truncated, extended, padded, non-canonical. */
	tok = strdup(good);
	tok[strlen(tok) - 1] = '\0';
	ck_assert_int_eq(verify(tok), AUTH_JWT_BAD_SIGNATURE);
	free(tok);
	n = strlen(good);
	tok = calloc(1, n + 8);
	memcpy(tok, good, n);
	strcat(tok, "AAAA");
	ck_assert_int_eq(verify(tok), AUTH_JWT_BAD_SIGNATURE);
	memcpy(tok, good, n + 1);
	strcat(tok, "=");
	ck_assert_int_eq(verify(tok), AUTH_JWT_BAD_SIGNATURE);
	/* 43 chars carry 258 bits: the last 2 must be zero. */
	memcpy(tok, good, n + 1);
	p = tok + n - 1;
	*p = (*p == 'A') ? 'B' : (*p == 'E' ? 'F' : 'B');
	ck_assert_int_eq(verify(tok), AUTH_JWT_BAD_SIGNATURE);
	free(tok);
	free(good);
}
END_TEST

START_TEST(claims)
{
	static const struct {
		const char	*payload;
		int		 rc;
	} cases[] = {
		/* missing claims */
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		/* wrong values */
		{ "{\"iss\":\"https://evil\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":[\"tollgate-ui\"],"
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"refresh\","
		  "\"iat\":1700000000,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"admin\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":\"1700000000\",\"exp\":1700000600}",
		  AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000600.5}",
		  AUTH_JWT_BAD_CLAIMS },
		/* lifetime over 15 minutes, iat in the future, nbf later */
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000000,\"exp\":1700000901}", AUTH_JWT_BAD_CLAIMS },
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1700000100,\"exp\":1700000600}", AUTH_JWT_BAD_CLAIMS },
		{ CLAIMS(",\"nbf\":1700000060"), AUTH_JWT_BAD_CLAIMS },
		{ CLAIMS(",\"nbf\":1700000000"), AUTH_JWT_OK },
		/* expired a minute ago */
		{ "{\"iss\":\"https://tg.example\",\"aud\":\"tollgate-ui\","
		  "\"sub\":\"" SUB "\",\"sid\":\"" SID "\",\"typ\":\"access\","
		  "\"iat\":1699999340,\"exp\":1699999940}", AUTH_JWT_EXPIRED },
		/* duplicate keys: the second sub must not win */
		{ CLAIMS(",\"sub\":\"99999999-2222-4333-8444-555555555555\""),
		  AUTH_JWT_MALFORMED },
		{ "[1,2]", AUTH_JWT_BAD_CLAIMS },
		{ "not json", AUTH_JWT_MALFORMED },
	};
	char	*tok;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tok = forge_claims(cases[i].payload);
		ck_assert_msg(verify(tok) == cases[i].rc, "case %zu: %d != %d",
		    i, verify(tok), cases[i].rc);
		free(tok);
	}
}
END_TEST

START_TEST(shape)
{
	static const char	*bad[] = {
		"", ".", "..", "...", "a.b", "a.b.c.d",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30",
	};
	char	*big;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_ne(verify(bad[i]), AUTH_JWT_OK);

	big = malloc(AUTH_JWT_MAX + 100);
	memset(big, 'A', AUTH_JWT_MAX + 99);
	big[AUTH_JWT_MAX + 99] = '\0';
	ck_assert_int_eq(verify(big), AUTH_JWT_MALFORMED);
	free(big);
}
END_TEST

/* The header of tok, decoded. */
static void
header_of(const char *tok, char *out, size_t outlen)
{
	size_t	n;

	ck_assert(auth_b64url_decode(tok, strchr(tok, '.') - tok,
	    (unsigned char *)out, outlen - 1, &n));
	out[n] = '\0';
}

START_TEST(kid_names_the_secret)
{
	char	*tok, kid[AUTH_JWT_KID_LEN + 1], want[128], hdr[128];

	ck_assert(auth_jwt_kid((const unsigned char *)KEY, sizeof(KEY) - 1, kid,
	    sizeof(kid)));
	ck_assert_int_eq(strlen(kid), AUTH_JWT_KID_LEN);
	ck_assert_ptr_null(strstr(KEY, kid));

	tok = auth_jwt_issue(&rotated, SUB, SID, NOW, AUTH_JWT_TTL);
	ck_assert_ptr_nonnull(tok);
	header_of(tok, hdr, sizeof(hdr));
	(void)snprintf(want, sizeof(want),
	    "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
	ck_assert_str_eq(hdr, want);
	free(tok);

	/* Another secret, another kid. */
	ck_assert(auth_jwt_kid((const unsigned char *)OLDKEY,
	    sizeof(OLDKEY) - 1, want, sizeof(want)));
	ck_assert_str_ne(kid, want);
}
END_TEST

START_TEST(rotation)
{
	struct auth_jwt_claims	 c;
	char			*old, *plain, *fresh, *mixed;

	/* A token of the old secret verifies once the list is "new,old". */
	old = auth_jwt_issue(&before, SUB, SID, NOW, AUTH_JWT_TTL);
	ck_assert_ptr_nonnull(old);
	ck_assert_int_eq(auth_jwt_verify(&rotated, old, NOW, &c), AUTH_JWT_OK);
	ck_assert_str_eq(c.sub, SUB);
	/* ... and not once the old secret is dropped from the list. */
	ck_assert_int_eq(auth_jwt_verify(&key, old, NOW, &c),
	    AUTH_JWT_BAD_HEADER);

	/* Tokens minted before kids: tried against every secret. */
	plain = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", CLAIMS(""),
	    OLDKEY, sizeof(OLDKEY) - 1);
	ck_assert_int_eq(auth_jwt_verify(&rotated, plain, NOW, &c),
	    AUTH_JWT_OK);
	ck_assert_int_eq(auth_jwt_verify(&key, plain, NOW, &c),
	    AUTH_JWT_BAD_SIGNATURE);

	/* New tokens are signed with the first secret, not the old one. */
	fresh = auth_jwt_issue(&rotated, SUB, SID, NOW, AUTH_JWT_TTL);
	ck_assert_int_eq(auth_jwt_verify(&key, fresh, NOW, &c), AUTH_JWT_OK);
	ck_assert_int_eq(auth_jwt_verify(&before, fresh, NOW, &c),
	    AUTH_JWT_BAD_HEADER);

	/* The kid of one secret with the MAC of another: refused. */
	mixed = strdup(fresh);
	memcpy(strrchr(mixed, '.'), strrchr(old, '.'), strlen(strrchr(old,
	    '.')) + 1);
	ck_assert_int_eq(auth_jwt_verify(&rotated, mixed, NOW, &c),
	    AUTH_JWT_BAD_SIGNATURE);

	free(old);
	free(plain);
	free(fresh);
	free(mixed);
}
END_TEST

START_TEST(uuid)
{
	ck_assert(tg_uuid_canonical(SUB));
	ck_assert(!tg_uuid_canonical("11111111-2222-4333-8444-55555555555"));
	ck_assert(!tg_uuid_canonical("11111111-2222-4333-8444-5555555555555"));
	ck_assert(!tg_uuid_canonical("11111111x2222-4333-8444-555555555555"));
	ck_assert(!tg_uuid_canonical("AAAAAAAA-2222-4333-8444-555555555555"));
	ck_assert(!tg_uuid_canonical(NULL));
}
END_TEST

static Suite *
jwt_suite(void)
{
	Suite	*s = suite_create("auth_jwt");
	TCase	*tc = tcase_create("jwt");

	if (sodium_init() < 0)
		abort();
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, issue_refuses);
	tcase_add_test(tc, header_must_be_ours);
	tcase_add_test(tc, signature);
	tcase_add_test(tc, claims);
	tcase_add_test(tc, shape);
	tcase_add_test(tc, uuid);
	tcase_add_test(tc, kid_names_the_secret);
	tcase_add_test(tc, rotation);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(jwt_suite)
