/*
 * What the admin surface reads from the outside, checked before any
 * database work: admin tokens, cursors, the status of a PATCH. Pure C.
 */

#ifndef ADMIN_INPUT_H
#define ADMIN_INPUT_H

#include <stddef.h>
#include <stdint.h>

#define ADMIN_TOKEN_PREFIX	"tga_"
#define ADMIN_TOKEN_SECRET_LEN	43	/* base64url of 32 random bytes */
#define ADMIN_TOKEN_LEN		(4 + ADMIN_TOKEN_SECRET_LEN)
#define ADMIN_TOKEN_SHOWN	10	/* "tga_" and 6 more: the prefix */
#define ADMIN_HASH_TOKEN	"tollgate admin token v1"
#define ADMIN_NAME_MAX		100	/* characters */

int	admin_token_new(const unsigned char *, size_t,
	    char [ADMIN_TOKEN_LEN + 1], char [64 + 1],
	    char [ADMIN_TOKEN_SHOWN + 1]);
int	admin_token_syntax(const char *);
void	admin_token_prefix(const char *, char [ADMIN_TOKEN_SHOWN + 1]);
int	admin_looks_like_token(const char *);
int	admin_name_valid(const char *);
int	admin_status_valid(const char *);
int	admin_audit_cursor(const char *, int64_t *);
char	*admin_csv_text(const char *);
int	admin_group_valid(const char *);
int	admin_payment_status_valid(const char *);

#endif
