/*
 * Admin tokens are "tga_" and 43 characters of base64url (32 bytes from
 * the CSPRNG); anything else is refused before the database is asked.
 */

#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include <sodium.h>

#include "admin/input.h"
#include "auth/flow.h"
#include "credits/validate.h"
#include "lex.h"

static int	b64url_char(int);

/*
 * A new token from the CSPRNG, its keyed hash (hex) under the pepper as
 * the database keeps it, and its prefix; 0 when the hash failed.
 */
int
admin_token_new(const unsigned char *pepper, size_t pepper_len,
    char token[ADMIN_TOKEN_LEN + 1], char hash[AUTH_HASH_HEX_LEN + 1],
    char prefix[ADMIN_TOKEN_SHOWN + 1])
{
	char	secret[AUTH_TOKEN_LEN + 1];

	auth_random_token(secret);
	(void)snprintf(token, ADMIN_TOKEN_LEN + 1, "%s%s",
	    ADMIN_TOKEN_PREFIX, secret);
	sodium_memzero(secret, sizeof(secret));
	admin_token_prefix(token, prefix);
	return (auth_keyed_hash(pepper, pepper_len, ADMIN_HASH_TOKEN, token,
	    strlen(token), hash));
}

/* 1 when s has the exact shape of an admin token. */
int
admin_token_syntax(const char *s)
{
	size_t	i;

	if (s == NULL || strncmp(s, ADMIN_TOKEN_PREFIX, 4) != 0 ||
	    strlen(s) != ADMIN_TOKEN_LEN)
		return (0);
	for (i = 4; i < ADMIN_TOKEN_LEN; i++) {
		if (!b64url_char((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

/* 1 when s claims to be an admin token (its prefix), valid or not. */
int
admin_looks_like_token(const char *s)
{
	return (s != NULL && strncmp(s, ADMIN_TOKEN_PREFIX, 4) == 0);
}

/* What listings show of a token: its first ADMIN_TOKEN_SHOWN characters. */
void
admin_token_prefix(const char *token, char out[ADMIN_TOKEN_SHOWN + 1])
{
	memcpy(out, token, ADMIN_TOKEN_SHOWN);
	out[ADMIN_TOKEN_SHOWN] = '\0';
}

/* A token's name: 1 to ADMIN_NAME_MAX characters of UTF-8, no controls. */
int
admin_name_valid(const char *s)
{
	size_t	i, chars;

	if (s == NULL || *s == '\0')
		return (0);
	chars = 0;
	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (0);
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	}
	return (chars <= ADMIN_NAME_MAX);
}

int
admin_status_valid(const char *s)
{
	return (s != NULL && (!strcmp(s, "active") ||
	    !strcmp(s, "suspended")));
}

/* An audit cursor: the decimal id of the last entry seen, 1 to 18 digits. */
int
admin_audit_cursor(const char *s, int64_t *out)
{
	size_t	len;

	if (s == NULL || (len = strlen(s)) == 0 || len > 18 || s[0] == '0')
		return (0);
	return (tg_digits(s, (int)len, out));
}

/* One key of GET /api/admin/usage: day, model, key (as /api/usage), user. */
int
admin_group_valid(const char *s)
{
	int	key;

	return (credits_group_parse(s, CREDITS_GROUPS_ALL, 1, &key) == 1);
}

/* The states of billing_payments.status (sql/0400_billing.sql). */
int
admin_payment_status_valid(const char *s)
{
	static const char *const	states[] = { "pending", "processing",
	    "paid", "partially_refunded", "refunded", "disputed", "failed",
	    "expired", "flagged" };
	size_t				i;

	for (i = 0; s != NULL && i < sizeof(states) / sizeof(states[0]); i++) {
		if (!strcmp(s, states[i]))
			return (1);
	}
	return (0);
}

/*
 * A text field of a CSV export (RFC 4180), malloc'd: always quoted,
 * quotes doubled. A value a spreadsheet would run as a formula (it
 * starts with = + - @, a tab or a carriage return) gets a leading
 * apostrophe, so an email or a key name cannot become one.
 */
char *
admin_csv_text(const char *in)
{
	char	*out, *p;
	size_t	 len, i;

	len = 3;
	for (i = 0; in[i] != '\0'; i++)
		len += in[i] == '"' ? 2 : 1;
	if ((out = malloc(len + 1)) == NULL)
		return (NULL);

	p = out;
	*p++ = '"';
	if (in[0] != '\0' && strchr("=+-@\t\r", in[0]) != NULL)
		*p++ = '\'';
	for (i = 0; in[i] != '\0'; i++) {
		if (in[i] == '"')
			*p++ = '"';
		*p++ = in[i];
	}
	*p++ = '"';
	*p = '\0';
	return (out);
}

static int
b64url_char(int c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_');
}
