/*
 * Stripe-Signature: the strict header parser and the verifier. The
 * expected MACs were computed independently (Python's hmac module).
 */

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tg_test.h"
#include "billing/provider.h"
#include "billing/stripe_sig.h"

#define SECRET	"whsec_test_secret_0123456789abcdef"
#define SECRET2	"whsec_rotated_secret_fedcba9876543210"
#define BODY	"{\"id\":\"evt_1\",\"object\":\"event\"}"
#define T	1700000000
#define MAC1	"f81891d9c5115555d9b4ca09689b89904fff5e78642936b988072bdd96c49bb0"
#define MAC2	"254822ff456b74816bd0bd598e6c46ab15c5778c5e2c8055c4ea66ec9cb7ac20"
#define ZEROS	"0000000000000000000000000000000000000000000000000000000000000000"

static char	*one[] = { SECRET };
static char	*rotated[] = { SECRET2, SECRET };
static char	*other[] = { "whsec_some_other_secret_0000000000" };

static int
verify(const char *hdr, const char *body, char **secrets, int n, int64_t now)
{
	return (stripe_sig_verify(hdr, (const uint8_t *)body, strlen(body),
	    secrets, n, now, STRIPE_SIG_TOLERANCE));
}

static int
parses(const char *hdr)
{
	struct stripe_sig	sig;

	return (stripe_sig_parse(hdr, strlen(hdr), &sig));
}

START_TEST(compute_matches_reference)
{
	unsigned char	mac[32];
	char		hex[65];

	stripe_sig_compute(SECRET, "1700000000", (const uint8_t *)BODY,
	    strlen(BODY), mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	ck_assert_str_eq(hex, MAC1);
}
END_TEST

START_TEST(parse_valid)
{
	struct stripe_sig	sig;
	const char		*h;

	h = "t=1700000000,v1=" MAC1;
	ck_assert_int_eq(stripe_sig_parse(h, strlen(h), &sig), 1);
	ck_assert_int_eq(sig.t, T);
	ck_assert_str_eq(sig.t_text, "1700000000");
	ck_assert_int_eq(sig.nv1, 1);

	/* Several v1, unknown schemes ignored, order free, upper-case hex. */
	h = "v0=abc,v1=" ZEROS ",t=1700000000,v1=" MAC2 ",v9=x=y";
	ck_assert_int_eq(stripe_sig_parse(h, strlen(h), &sig), 1);
	ck_assert_int_eq(sig.nv1, 2);
	ck_assert_int_eq(parses("t=1,v1=F81891D9C5115555D9B4CA09689B8990"
	    "4FFF5E78642936B988072BDD96C49BB0"), 1);
	ck_assert_int_eq(parses("t=0,v1=" ZEROS), 1);
}
END_TEST

START_TEST(parse_invalid)
{
	static const char	*bad[] = {
		"",
		",",
		"t=1700000000",				/* no v1 */
		"v1=" ZEROS,				/* no t */
		"t=1700000000,t=1700000000,v1=" ZEROS,	/* duplicate t */
		"t=abc,v1=" ZEROS,
		"t=-1,v1=" ZEROS,
		"t=+1,v1=" ZEROS,
		"t=1.5,v1=" ZEROS,
		"t=99999999999999999999,v1=" ZEROS,	/* huge */
		"t=1234567890123,v1=" ZEROS,		/* 13 digits */
		"t=0170000000,v1=" ZEROS,		/* leading zero */
		"t=,v1=" ZEROS,
		"t=1700000000,v1=",
		"t=1700000000,v1=" ZEROS "0",		/* 65 hex */
		"t=1700000000,v1=000000000000000000000000000000000000000000"
		    "000000000000000000000",		/* 63 hex */
		"t=1700000000,v1=zz00000000000000000000000000000000000000000"
		    "000000000000000000000",		/* non-hex */
		"t=1700000000,v1=" ZEROS ",",		/* empty item */
		"t=1700000000,,v1=" ZEROS,
		"t=1700000000, v1=" ZEROS,		/* space */
		" t=1700000000,v1=" ZEROS,
		"t=1700000000,v1=" ZEROS " ",
		"t=1700000000,v1" ZEROS,		/* no = */
		"=1,t=1700000000,v1=" ZEROS,		/* empty key */
		"t=1700000000,v1=" ZEROS ",v0=",	/* empty value */
		"t=1700000000,v1=" ZEROS ",v-0=a",	/* bad key */
		"t=1700000000,v1=" ZEROS ",v0=a\tb",	/* control byte */
		"t=1700000000,v1=" ZEROS ",aaaaaaaaaaaaaaaaa=1",	/* key 17 */
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!parses(bad[i]), "accepted: \"%s\"", bad[i]);
}
END_TEST

START_TEST(parse_limits)
{
	struct stripe_sig	sig;
	char			buf[8192];
	size_t			off;
	int			i;

	/* 8 v1 entries are fine, 9 are not. */
	off = (size_t)snprintf(buf, sizeof(buf), "t=1700000000");
	for (i = 0; i < STRIPE_SIG_V1_MAX; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    ",v1=" ZEROS);
	ck_assert_int_eq(stripe_sig_parse(buf, off, &sig), 1);
	ck_assert_int_eq(sig.nv1, STRIPE_SIG_V1_MAX);
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, ",v1=" ZEROS);
	ck_assert_int_eq(stripe_sig_parse(buf, off, &sig), 0);

	/* Malformed v1 entries count towards the 8 too. */
	off = (size_t)snprintf(buf, sizeof(buf), "t=1700000000,v1=" ZEROS);
	for (i = 1; i < STRIPE_SIG_V1_MAX; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, ",v1=x");
	ck_assert_int_eq(stripe_sig_parse(buf, off, &sig), 1);
	ck_assert_int_eq(sig.nv1, 1);
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, ",v1=x");
	ck_assert_int_eq(stripe_sig_parse(buf, off, &sig), 0);

	/* A NUL byte inside the header is not part of any valid item. */
	{
		static const char	nul[] = "t=1700000000,v1=" ZEROS
					    ",v0=a\0b";

		ck_assert_int_eq(stripe_sig_parse(nul, sizeof(nul) - 1, &sig),
		    0);
		ck_assert_int_eq(stripe_sig_parse(nul, sizeof(nul) - 3, &sig),
		    1);
	}

	/* Over 4096 bytes: refused without looking further. */
	off = (size_t)snprintf(buf, sizeof(buf), "t=1700000000,v1=" ZEROS);
	while (off < STRIPE_SIG_HEADER_MAX + 10)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    ",v0=abcdef");
	ck_assert_int_eq(stripe_sig_parse(buf, off, &sig), 0);

	ck_assert_int_eq(stripe_sig_parse(NULL, 0, &sig), 0);
}
END_TEST

START_TEST(verify_cases)
{
	const char	*good = "t=1700000000,v1=" MAC1;

	ck_assert_int_eq(verify(good, BODY, one, 1, T), BILLING_VERIFY_OK);
	ck_assert_int_eq(verify(good, BODY, one, 1, T + 300),
	    BILLING_VERIFY_OK);
	ck_assert_int_eq(verify(good, BODY, one, 1, T - 300),
	    BILLING_VERIFY_OK);

	/* 301 s old, or 301 s in the future. */
	ck_assert_int_eq(verify(good, BODY, one, 1, T + 301),
	    BILLING_VERIFY_STALE);
	ck_assert_int_eq(verify(good, BODY, one, 1, T - 301),
	    BILLING_VERIFY_STALE);

	/* Wrong secret; body changed by one byte; signature of another t. */
	ck_assert_int_eq(verify(good, BODY, other, 1, T),
	    BILLING_VERIFY_MISMATCH);
	ck_assert_int_eq(verify(good, "{\"id\":\"evt_1\",\"object\":\"evenT\"}",
	    one, 1, T), BILLING_VERIFY_MISMATCH);
	ck_assert_int_eq(verify("t=1700000001,v1=" MAC1, BODY, one, 1, T),
	    BILLING_VERIFY_MISMATCH);
	ck_assert_int_eq(verify(good, BODY, one, 0, T),
	    BILLING_VERIFY_MISMATCH);

	/* Two v1, one valid (either position). */
	ck_assert_int_eq(verify("t=1700000000,v1=" ZEROS ",v1=" MAC1, BODY,
	    one, 1, T), BILLING_VERIFY_OK);
	ck_assert_int_eq(verify("t=1700000000,v1=" MAC1 ",v1=" ZEROS, BODY,
	    one, 1, T), BILLING_VERIFY_OK);

	/* Rotation: old and new secrets configured, either signature. */
	ck_assert_int_eq(verify(good, BODY, rotated, 2, T), BILLING_VERIFY_OK);
	ck_assert_int_eq(verify("t=1700000000,v1=" MAC2, BODY, rotated, 2, T),
	    BILLING_VERIFY_OK);
	ck_assert_int_eq(verify("t=1700000000,v1=" MAC2, BODY, one, 1, T),
	    BILLING_VERIFY_MISMATCH);

	/* Missing and malformed headers. */
	ck_assert_int_eq(verify(NULL, BODY, one, 1, T), BILLING_VERIFY_MISSING);
	ck_assert_int_eq(verify("", BODY, one, 1, T), BILLING_VERIFY_MALFORMED);
	ck_assert_int_eq(verify("t=1700000000,t=1700000000,v1=" MAC1, BODY,
	    one, 1, T), BILLING_VERIFY_MALFORMED);
	ck_assert_int_eq(verify("v1=" MAC1, BODY, one, 1, T),
	    BILLING_VERIFY_MALFORMED);
	/*
	 * A malformed v1 beside a valid one is skipped, in any position
	 * (Stripe's libraries compare every v1); alone it is malformed.
	 */
	ck_assert_int_eq(verify("t=1700000000,v1=xyz,v1=" MAC1, BODY, one, 1,
	    T), BILLING_VERIFY_OK);
	ck_assert_int_eq(verify("t=1700000000,v1=" MAC1 ",v1=" ZEROS "0",
	    BODY, one, 1, T), BILLING_VERIFY_OK);
	ck_assert_int_eq(verify("t=1700000000,v1=zz,v1=" ZEROS, BODY, one, 1,
	    T), BILLING_VERIFY_MISMATCH);
	ck_assert_int_eq(verify("t=1700000000,v1=xyz", BODY, one, 1, T),
	    BILLING_VERIFY_MALFORMED);
	/* Skipped candidates still need a clean value. */
	ck_assert_int_eq(verify("t=1700000000,v1=x\ty,v1=" MAC1, BODY, one, 1,
	    T), BILLING_VERIFY_MALFORMED);
}
END_TEST

START_TEST(verify_empty_body)
{
	unsigned char	mac[32];
	char		hdr[128], hex[65];

	stripe_sig_compute(SECRET, "1700000000", NULL, 0, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	(void)snprintf(hdr, sizeof(hdr), "t=1700000000,v1=%s", hex);
	ck_assert_int_eq(verify(hdr, "", one, 1, T), BILLING_VERIFY_OK);
	ck_assert_int_eq(verify(hdr, " ", one, 1, T), BILLING_VERIFY_MISMATCH);
}
END_TEST

static Suite *
stripe_sig_suite(void)
{
	Suite	*s = suite_create("stripe_sig");
	TCase	*tc = tcase_create("stripe_sig");

	if (sodium_init() < 0)
		abort();
	tcase_add_test(tc, compute_matches_reference);
	tcase_add_test(tc, parse_valid);
	tcase_add_test(tc, parse_invalid);
	tcase_add_test(tc, parse_limits);
	tcase_add_test(tc, verify_cases);
	tcase_add_test(tc, verify_empty_body);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(stripe_sig_suite)
