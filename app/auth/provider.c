/*
 * Sign-in providers (docs/auth.md, "Registering the OAuth apps").
 *
 *   google  OIDC: the identity is the verified id token (sub); its email
 *           counts as verified only where Google is authoritative for it
 *           (email_verified and a Google-hosted address: gmail.com or a
 *           Workspace domain named in hd).
 *   github  OAuth 2.0: GET /user gives the numeric id (the subject; the
 *           login name can change), GET /user/emails the addresses; only
 *           the primary one, and only when GitHub marks it verified, is
 *           taken as verified.
 *   kakao   OAuth 2.0 with OIDC: the id token's sub when present, and
 *           GET /v2/user/me for the id and the account email, verified
 *           when Kakao says it is both valid and verified.
 *
 * Every provider answer is parsed with duplicate keys refused; strings
 * that do not fit our limits are dropped, never truncated into something
 * else (names are cut at a character boundary, which is harmless).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/provider.h"
#include "clean.h"
#include "qs.h"

static const struct {
	const char	*name;
	const char	*title;
	int		 oidc;
	const char	*scope;
} providers[AUTH_PROVIDERS] = {
	{ "google", "Google", 1, "openid email profile" },
	{ "github", "GitHub", 0, "read:user user:email" },
	{ "kakao", "Kakao", 1, "openid account_email profile_nickname "
	    "profile_image" },
};

static json_t	*provider_json(const char *, size_t);
static json_t	*provider_error_doc(const char *, size_t);
static json_t	*provider_user(const char *, size_t, struct auth_identity *);
static int	 provider_copy(char *, size_t, const char *);
static void	 provider_append(char **, size_t *, size_t *, const char *,
		    const char *, int);
static int	 provider_google_authoritative(const char *, const json_t *);

int
auth_provider_lookup(const char *name)
{
	int	i;

	for (i = 0; name != NULL && i < AUTH_PROVIDERS; i++) {
		if (strcmp(providers[i].name, name) == 0)
			return (i);
	}

	return (-1);
}

const char *
auth_provider_name(int kind)
{
	return (providers[kind].name);
}

const char *
auth_provider_title(int kind)
{
	return (providers[kind].title);
}

int
auth_provider_oidc(int kind)
{
	return (providers[kind].oidc);
}

/* The provider's authorize URL with our query (malloc'd), NULL on error. */
char *
auth_authorize_url(int kind, const struct auth_authorize *a)
{
	char	*out;
	size_t	 len, cap;

	cap = 1024;
	if ((out = malloc(cap)) == NULL)
		return (NULL);
	len = 0;
	out[0] = '\0';

	provider_append(&out, &cap, &len, NULL, a->endpoint, 0);
	provider_append(&out, &cap, &len, NULL,
	    strchr(a->endpoint, '?') != NULL ? "&" : "?", 0);
	provider_append(&out, &cap, &len, "response_type", "code", 1);
	provider_append(&out, &cap, &len, "client_id", a->client_id, 1);
	provider_append(&out, &cap, &len, "redirect_uri", a->redirect_uri, 1);
	provider_append(&out, &cap, &len, "scope", providers[kind].scope, 1);
	provider_append(&out, &cap, &len, "state", a->state, 1);
	provider_append(&out, &cap, &len, "code_challenge", a->challenge, 1);
	provider_append(&out, &cap, &len, "code_challenge_method", "S256", 1);
	if (providers[kind].oidc && a->nonce != NULL)
		provider_append(&out, &cap, &len, "nonce", a->nonce, 1);

	if (out != NULL && len > 0 && out[len - 1] == '&')
		out[--len] = '\0';

	return (out);
}

/* The form body of the authorization-code grant (RFC 6749 §4.1.3). */
char *
auth_token_request(const char *client_id, const char *client_secret,
    const char *code, const char *redirect_uri, const char *verifier)
{
	char	*out;
	size_t	 len, cap;

	cap = 512;
	if ((out = malloc(cap)) == NULL)
		return (NULL);
	len = 0;
	out[0] = '\0';

	provider_append(&out, &cap, &len, "grant_type", "authorization_code",
	    1);
	provider_append(&out, &cap, &len, "code", code, 1);
	provider_append(&out, &cap, &len, "redirect_uri", redirect_uri, 1);
	provider_append(&out, &cap, &len, "client_id", client_id, 1);
	provider_append(&out, &cap, &len, "client_secret", client_secret, 1);
	provider_append(&out, &cap, &len, "code_verifier", verifier, 1);

	if (out != NULL && len > 0 && out[len - 1] == '&')
		out[--len] = '\0';

	return (out);
}

/*
 * A token endpoint's JSON answer. On success *access (and *id_token,
 * when the answer has one) are malloc'd copies and 1 is returned.
 * Otherwise 0, with err (unless NULL) filled as auth_token_error() does
 * (GitHub sends OAuth errors with status 200).
 */
int
auth_token_answer(const char *body, size_t len, char **access,
    char **id_token, char *err, size_t errlen)
{
	json_t		*doc;
	const char	*s, *type;

	*access = NULL;
	*id_token = NULL;
	if (err != NULL)
		auth_token_error(body, len, err, errlen, NULL, 0);

	if ((doc = provider_json(body, len)) == NULL)
		return (0);
	if (json_object_get(doc, "error") != NULL) {
		json_decref(doc);
		return (0);
	}

	type = json_string_value(json_object_get(doc, "token_type"));
	s = json_string_value(json_object_get(doc, "access_token"));
	if (s == NULL || *s == '\0' || strlen(s) > 8192 ||
	    (type != NULL && strcasecmp(type, "bearer") != 0)) {
		json_decref(doc);
		return (0);
	}
	if ((*access = strdup(s)) == NULL) {
		json_decref(doc);
		return (0);
	}

	if ((s = json_string_value(json_object_get(doc, "id_token"))) != NULL &&
	    (*id_token = strdup(s)) == NULL) {
		free(*access);
		*access = NULL;
		json_decref(doc);
		return (0);
	}

	json_decref(doc);
	return (1);
}

/*
 * What a refusing token endpoint said (RFC 6749 §5.2): err gets its
 * "error" code, or "invalid_answer" when there is none; desc (when not
 * NULL) its "error_description", or "message", or "". Both are always
 * filled, cleaned (clean.h: valid UTF-8, no control characters) and
 * bounded: err to AUTH_TOKEN_ERROR_MAX bytes, desc to desclen. An answer
 * whose strings hold invalid UTF-8 is read with those bytes replaced.
 */
void
auth_token_error(const char *body, size_t len, char *err, size_t errlen,
    char *desc, size_t desclen)
{
	json_t		*doc;
	const char	*s;

	(void)snprintf(err, errlen, "invalid_answer");
	if (desc != NULL && desclen > 0)
		desc[0] = '\0';

	if ((doc = provider_error_doc(body, len)) == NULL)
		return;

	if ((s = json_string_value(json_object_get(doc, "error"))) != NULL &&
	    *s != '\0') {
		(void)tg_clean_text(err, errlen < AUTH_TOKEN_ERROR_MAX + 1 ?
		    errlen : AUTH_TOKEN_ERROR_MAX + 1, s, strlen(s));
	}

	if (desc != NULL && desclen > 0) {
		s = json_string_value(json_object_get(doc,
		    "error_description"));
		if (s == NULL)
			s = json_string_value(json_object_get(doc, "message"));
		if (s != NULL)
			(void)tg_clean_text(desc, desclen, s, strlen(s));
	}

	json_decref(doc);
}

/* The identity in a verified Google id token's claims. */
int
auth_google_identity(const json_t *claims, struct auth_identity *id)
{
	const char	*email;

	memset(id, 0, sizeof(*id));
	if (!provider_copy(id->subject, sizeof(id->subject),
	    json_string_value(json_object_get(claims, "sub"))))
		return (0);

	email = json_string_value(json_object_get(claims, "email"));
	if (email != NULL && provider_copy(id->email, sizeof(id->email),
	    email)) {
		id->email_verified = json_is_true(json_object_get(claims,
		    "email_verified")) &&
		    provider_google_authoritative(email, claims);
	}

	auth_identity_name(id, json_string_value(json_object_get(claims,
	    "name")));
	auth_identity_avatar(id, json_string_value(json_object_get(claims,
	    "picture")));
	return (1);
}

/* GET /user: {"id": 583231, "login": "octocat", "name", "avatar_url"}. */
int
auth_github_user(const char *body, size_t len, struct auth_identity *id)
{
	json_t		*doc;
	const char	*name;

	if ((doc = provider_user(body, len, id)) == NULL)
		return (0);

	name = json_string_value(json_object_get(doc, "name"));
	if (name == NULL || *name == '\0')
		name = json_string_value(json_object_get(doc, "login"));
	auth_identity_name(id, name);
	auth_identity_avatar(id, json_string_value(json_object_get(doc,
	    "avatar_url")));

	json_decref(doc);
	return (1);
}

/*
 * GET /user/emails: [{"email","primary","verified","visibility"}, ...].
 * The primary address, verified only when GitHub says so (a primary
 * address need not be verified: managoat/fountain PR #240).
 */
int
auth_github_emails(const char *body, size_t len, struct auth_identity *id)
{
	json_t		*doc, *e;
	const char	*email;
	size_t		 i;

	id->email[0] = '\0';
	id->email_verified = 0;
	if ((doc = provider_json(body, len)) == NULL)
		return (0);
	if (!json_is_array(doc)) {
		json_decref(doc);
		return (0);
	}

	for (i = 0; i < json_array_size(doc); i++) {
		e = json_array_get(doc, i);
		if (!json_is_true(json_object_get(e, "primary")))
			continue;
		email = json_string_value(json_object_get(e, "email"));
		if (email != NULL && provider_copy(id->email,
		    sizeof(id->email), email))
			id->email_verified = json_is_true(json_object_get(e,
			    "verified"));
		break;
	}

	json_decref(doc);
	return (1);
}

/*
 * GET /v2/user/me: {"id": 123, "kakao_account": {"email",
 * "is_email_valid", "is_email_verified", "profile": {"nickname",
 * "profile_image_url"}}}.
 */
int
auth_kakao_user(const char *body, size_t len, struct auth_identity *id)
{
	json_t		*doc, *acct, *profile;
	const char	*email;

	if ((doc = provider_user(body, len, id)) == NULL)
		return (0);

	acct = json_object_get(doc, "kakao_account");
	email = json_string_value(json_object_get(acct, "email"));
	if (email != NULL && provider_copy(id->email, sizeof(id->email),
	    email)) {
		id->email_verified =
		    json_is_true(json_object_get(acct, "is_email_valid")) &&
		    json_is_true(json_object_get(acct, "is_email_verified"));
	}

	profile = json_object_get(acct, "profile");
	auth_identity_name(id, json_string_value(json_object_get(profile,
	    "nickname")));
	auth_identity_avatar(id, json_string_value(json_object_get(profile,
	    "profile_image_url")));

	json_decref(doc);
	return (1);
}

/*
 * A display name from a provider: control characters dropped, cut to
 * AUTH_NAME_MAX characters (jansson hands us valid UTF-8), blanks around
 * it trimmed. Left empty when nothing remains.
 */
void
auth_identity_name(struct auth_identity *id, const char *name)
{
	const unsigned char	*p;
	size_t			 n, chars, start, clen;

	id->name[0] = '\0';
	if (name == NULL)
		return;

	n = 0;
	chars = 0;
	for (p = (const unsigned char *)name; *p != '\0' &&
	    chars < AUTH_NAME_MAX; p += clen) {
		clen = (*p < 0x80) ? 1 : (*p >= 0xf0) ? 4 : (*p >= 0xe0) ?
		    3 : 2;
		if (strnlen((const char *)p, clen) < clen)
			break;
		/* C0, DEL and C1 controls (U+0080..U+009F). */
		if (*p < 0x20 || *p == 0x7f ||
		    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			continue;
		if (n + clen >= sizeof(id->name))
			break;
		memcpy(id->name + n, p, clen);
		n += clen;
		chars++;
	}
	while (n > 0 && id->name[n - 1] == ' ')
		n--;
	id->name[n] = '\0';

	for (start = 0; id->name[start] == ' '; start++)
		;
	if (start > 0)
		memmove(id->name, id->name + start, n - start + 1);
}

/* An avatar URL, kept only when it is https and of sane length. */
void
auth_identity_avatar(struct auth_identity *id, const char *url)
{
	const char	*p;

	id->avatar_url[0] = '\0';
	if (url == NULL || strncmp(url, "https://", 8) != 0 || url[8] == '\0')
		return;
	for (p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return;
	}
	(void)provider_copy(id->avatar_url, sizeof(id->avatar_url), url);
}

static json_t *
provider_json(const char *body, size_t len)
{
	if (body == NULL || len == 0 || len > AUTH_ANSWER_MAX)
		return (NULL);

	return (json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL));
}

/*
 * An error answer, parsed even when its strings hold invalid UTF-8
 * (jansson refuses those): a copy with each bad byte made '?' is tried.
 */
static json_t *
provider_error_doc(const char *body, size_t len)
{
	json_t	*doc;
	char	*copy;

	if (body == NULL || len == 0 || len > AUTH_ANSWER_MAX)
		return (NULL);
	if ((doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) != NULL)
		return (doc);

	if ((copy = malloc(len)) == NULL)
		return (NULL);
	memcpy(copy, body, len);
	doc = NULL;
	if (tg_clean_utf8(copy, len) > 0)
		doc = json_loadb(copy, len, JSON_REJECT_DUPLICATES, NULL);
	free(copy);

	return (doc);
}

/*
 * A user API's answer whose "id" is a positive integer, the subject; id
 * is cleared and gets it. NULL (the answer freed) otherwise.
 */
static json_t *
provider_user(const char *body, size_t len, struct auth_identity *id)
{
	json_t		*doc, *v;
	json_int_t	 n;

	memset(id, 0, sizeof(*id));
	if ((doc = provider_json(body, len)) == NULL)
		return (NULL);

	v = json_object_get(doc, "id");
	if (!json_is_integer(v) || (n = json_integer_value(v)) <= 0) {
		json_decref(doc);
		return (NULL);
	}
	(void)snprintf(id->subject, sizeof(id->subject), "%lld",
	    (long long)n);

	return (doc);
}

/* Copy a non-empty string of printable bytes that fits; 0 otherwise. */
static int
provider_copy(char *out, size_t outlen, const char *s)
{
	size_t	len, i;

	out[0] = '\0';
	if (s == NULL || (len = strlen(s)) == 0 || len >= outlen)
		return (0);
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return (0);
	}

	memcpy(out, s, len + 1);
	return (1);
}

/*
 * Append "name=value&" (value percent-encoded) or, with name NULL, the
 * raw text. On allocation failure *out becomes NULL and stays so.
 */
static void
provider_append(char **out, size_t *cap, size_t *len, const char *name,
    const char *value, int encode)
{
	char	*enc, *grown;
	size_t	 need;

	if (*out == NULL)
		return;

	enc = encode ? tg_percent_encode(value) : strdup(value);
	if (enc == NULL) {
		free(*out);
		*out = NULL;
		return;
	}

	need = *len + strlen(enc) + (name != NULL ? strlen(name) + 2 : 0) + 1;
	if (need > *cap) {
		if ((grown = realloc(*out, need * 2)) == NULL) {
			free(enc);
			free(*out);
			*out = NULL;
			return;
		}
		*out = grown;
		*cap = need * 2;
	}

	if (name != NULL)
		*len += sprintf(*out + *len, "%s=%s&", name, enc);
	else
		*len += sprintf(*out + *len, "%s", enc);
	free(enc);
}

/*
 * Google is authoritative for an address it hosts: @gmail.com (and
 * @googlemail.com), or a Workspace account whose hosted domain (hd) is
 * the address's domain (developers.google.com/identity/sign-in/web/
 * backend-auth).
 */
static int
provider_google_authoritative(const char *email, const json_t *claims)
{
	const char	*at, *hd;

	if ((at = strrchr(email, '@')) == NULL)
		return (0);
	at++;
	if (strcasecmp(at, "gmail.com") == 0 ||
	    strcasecmp(at, "googlemail.com") == 0)
		return (1);

	hd = json_string_value(json_object_get(claims, "hd"));
	return (hd != NULL && strcasecmp(at, hd) == 0);
}
