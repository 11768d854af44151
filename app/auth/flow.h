/*
 * Pieces of the OAuth flow that are plain computation: random tokens,
 * PKCE (RFC 7636, S256 only), keyed hashes of secrets we store, the
 * return_to rule and the CSRF rule. Pure C (libsodium).
 */

#ifndef AUTH_FLOW_H
#define AUTH_FLOW_H

#include <stddef.h>

#define AUTH_RANDOM_BYTES	32
#define AUTH_TOKEN_LEN		43	/* base64url of 32 bytes */
#define AUTH_HASH_HEX_LEN	64
#define AUTH_RETURN_TO_MAX	512

/* Domain separation for auth_keyed_hash(). */
#define AUTH_HASH_REFRESH	"tollgate refresh token v1"
#define AUTH_HASH_STATE		"tollgate oauth state v1"
#define AUTH_HASH_BINDING	"tollgate oauth binding v1"
#define AUTH_HASH_SUBJECT	"tollgate identity subject v1"

void	auth_random_token(char [AUTH_TOKEN_LEN + 1]);
int	auth_token_syntax(const char *);
void	auth_pkce_challenge(const char *, char [AUTH_TOKEN_LEN + 1]);
int	auth_keyed_hash(const unsigned char *, size_t, const char *,
	    const char *, size_t, char [AUTH_HASH_HEX_LEN + 1]);
int	auth_return_to_valid(const char *);
int	auth_csrf_ok(const char *, const char *, const char *);
int	auth_email_valid(const char *);

#endif
