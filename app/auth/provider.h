/*
 * What differs between the sign-in providers, as plain functions over
 * strings and JSON: authorize URLs, token requests and answers, and the
 * identity each provider's answers describe. Pure C (jansson).
 */

#ifndef AUTH_PROVIDER_H
#define AUTH_PROVIDER_H

#include <stddef.h>

#include <jansson.h>

#define AUTH_GOOGLE		0
#define AUTH_GITHUB		1
#define AUTH_KAKAO		2
#define AUTH_PROVIDERS		3

#define AUTH_SUBJECT_MAX	255
#define AUTH_EMAIL_MAX		320
#define AUTH_NAME_MAX		80	/* code points, as profiles allow */
#define AUTH_AVATAR_MAX		2048
#define AUTH_ANSWER_MAX		(256 * 1024)	/* provider answers we parse */
#define AUTH_TOKEN_ERROR_MAX	64	/* bytes of a token endpoint's error */
#define AUTH_TOKEN_DESC_MAX	200	/* and of its description */

/* Who signed in, as the provider says. Empty strings for unknown. */
struct auth_identity {
	char	subject[AUTH_SUBJECT_MAX + 1];
	char	email[AUTH_EMAIL_MAX + 1];
	int	email_verified;
	char	name[AUTH_NAME_MAX * 4 + 1];
	char	avatar_url[AUTH_AVATAR_MAX + 1];
};

struct auth_authorize {
	const char	*endpoint;
	const char	*client_id;
	const char	*redirect_uri;
	const char	*state;
	const char	*challenge;	/* PKCE S256 */
	const char	*nonce;		/* OIDC providers only */
};

int		 auth_provider_lookup(const char *);
const char	*auth_provider_name(int);
const char	*auth_provider_title(int);
int		 auth_provider_oidc(int);
char		*auth_authorize_url(int, const struct auth_authorize *);
char		*auth_token_request(const char *, const char *, const char *,
		    const char *, const char *);
int		 auth_token_answer(const char *, size_t, char **, char **,
		    char *, size_t);
void		 auth_token_error(const char *, size_t, char *, size_t,
		    char *, size_t);
int		 auth_google_identity(const json_t *, struct auth_identity *);
int		 auth_github_user(const char *, size_t,
		    struct auth_identity *);
int		 auth_github_emails(const char *, size_t,
		    struct auth_identity *);
int		 auth_kakao_user(const char *, size_t, struct auth_identity *);
void		 auth_identity_name(struct auth_identity *, const char *);
void		 auth_identity_avatar(struct auth_identity *, const char *);

#endif
