/*
 * Flow helpers (see flow.h).
 *
 * Every secret we hand out (refresh tokens, OAuth state, the browser
 * binding) is 32 bytes from libsodium's CSPRNG, written as 43 base64url
 * characters; the database only ever sees HMAC-SHA256 of it under
 * TOLLGATE_KEY_PEPPER with a purpose string, so a dump of the tables
 * yields nothing usable and hashes of one kind never match another.
 *
 * return_to: a relative path on the UI's origin, nothing else. The
 * browser resolves "//host", "/\host" and their percent-encoded and
 * tab/newline-smuggled variants as other origins, so those are refused
 * outright rather than repaired.
 */

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/b64.h"
#include "auth/flow.h"
#include "lex.h"

static int	flow_path_char(int);

void
auth_random_token(char out[AUTH_TOKEN_LEN + 1])
{
	unsigned char	raw[AUTH_RANDOM_BYTES];

	randombytes_buf(raw, sizeof(raw));
	(void)auth_b64url_encode(raw, sizeof(raw), out, AUTH_TOKEN_LEN + 1);
	sodium_memzero(raw, sizeof(raw));
}

/* Looks like one of our tokens: 43 strict base64url characters. */
int
auth_token_syntax(const char *s)
{
	unsigned char	raw[AUTH_RANDOM_BYTES];
	size_t		len, olen;

	if (s == NULL || (len = strlen(s)) != AUTH_TOKEN_LEN)
		return (0);

	return (auth_b64url_decode(s, len, raw, sizeof(raw), &olen) &&
	    olen == AUTH_RANDOM_BYTES);
}

/* code_challenge = BASE64URL(SHA256(ASCII(code_verifier))). */
void
auth_pkce_challenge(const char *verifier, char out[AUTH_TOKEN_LEN + 1])
{
	unsigned char	digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, (const unsigned char *)verifier,
	    strlen(verifier));
	(void)auth_b64url_encode(digest, sizeof(digest), out,
	    AUTH_TOKEN_LEN + 1);
}

/*
 * HMAC-SHA256(key, purpose || 0x00 || data) as 64 lower-case hex digits.
 * Returns 0 without a key.
 */
int
auth_keyed_hash(const unsigned char *key, size_t keylen, const char *purpose,
    const char *data, size_t len, char out[AUTH_HASH_HEX_LEN + 1])
{
	crypto_auth_hmacsha256_state	st;
	unsigned char			mac[crypto_auth_hmacsha256_BYTES];
	static const unsigned char	zero = 0;

	out[0] = '\0';
	if (key == NULL || keylen == 0)
		return (0);

	if (crypto_auth_hmacsha256_init(&st, key, keylen) != 0)
		return (0);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)purpose,
	    strlen(purpose));
	crypto_auth_hmacsha256_update(&st, &zero, 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)data, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));

	sodium_bin2hex(out, AUTH_HASH_HEX_LEN + 1, mac, sizeof(mac));
	return (1);
}

/*
 * A return_to (already percent-decoded once by the query parser): "/"
 * followed by path, query and fragment characters of RFC 3986, at most
 * AUTH_RETURN_TO_MAX long; never "//" or "/\" at the start, no
 * backslash, no control characters or spaces, and no percent-encoded
 * '/', '\' or control character anywhere (so a second decoding by some
 * other layer cannot turn it into another origin either).
 */
int
auth_return_to_valid(const char *s)
{
	size_t	len, i;
	int	hi, lo, c;

	if (s == NULL || (len = strlen(s)) == 0 || len > AUTH_RETURN_TO_MAX)
		return (0);
	if (s[0] != '/' || s[1] == '/' || s[1] == '\\')
		return (0);

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			/* s[i + 2] is read only when s[i + 1] is a digit. */
			if ((hi = tg_hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = tg_hexval((unsigned char)s[i + 2])) < 0)
				return (0);
			c = hi * 16 + lo;
			if (c == '/' || c == '\\' || c == '%' || c < 0x20 ||
			    c == 0x7f)
				return (0);
			i += 2;
			continue;
		}
		if (!flow_path_char(c))
			return (0);
	}

	return (1);
}

/*
 * The CSRF rule of POST /auth/refresh and /auth/logout
 * (docs/contract.md §7): an Origin header, when present, must be the UI's origin; without one the
 * request must carry X-Tollgate-CSRF: 1 (a header a cross-site form
 * cannot send, and a cross-site script cannot send without a CORS
 * preflight we grant only to TOLLGATE_CORS_ORIGINS, which auth.c accepts
 * before this rule).
 */
int
auth_csrf_ok(const char *origin, const char *csrf_header,
    const char *ui_origin)
{
	if (origin != NULL) {
		if (ui_origin == NULL || strcasecmp(origin, ui_origin) != 0)
			return (0);
		return (1);
	}

	return (csrf_header != NULL && strcmp(csrf_header, "1") == 0);
}

/* pchar / "?" / "#" of RFC 3986 minus '%' (handled by the caller). */
static int
flow_path_char(int c)
{
	if (isalnum(c))
		return (1);

	return (strchr("-._~!$&'()*+,;=:@/?#", c) != NULL && c != '\0');
}

/*
 * An address as the dev login takes it: local@domain, printable ASCII,
 * no blanks or quoting, a dotted domain of letters, digits and hyphens.
 * (Provider emails are taken as the provider reports them.)
 */
int
auth_email_valid(const char *s)
{
	const char	*at, *p;
	size_t		 len, llen;

	if (s == NULL || (len = strlen(s)) < 3 || len > 254)
		return (0);
	if ((at = strchr(s, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return (0);
	llen = at - s;
	if (llen == 0 || llen > 64)
		return (0);

	for (p = s; p < at; p++) {
		if (*p <= 0x20 || *p >= 0x7f ||
		    strchr("\"(),:;<>[\\]", *p) != NULL)
			return (0);
	}

	p = at + 1;
	if (*p == '\0' || *p == '.' || *p == '-' || s[len - 1] == '.' ||
	    s[len - 1] == '-' || strstr(p, "..") != NULL)
		return (0);
	for (; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return (0);
	}

	return (1);
}
