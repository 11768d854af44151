/*
 * Profile field validation.
 *
 *   display_name   1..80 characters, not only blanks, no control
 *                  characters (C0, DEL, C1) and no bidirectional
 *                  overrides or line/paragraph separators, which could
 *                  make a name display as something else.
 *   avatar_url     https://host[:port][/path][?query], at most 2048
 *                  bytes, no user info, printable ASCII only.
 *   locale         a well-formed BCP 47 language tag (RFC 5646 §2.1),
 *                  without repeated variants or extension singletons,
 *                  or one of the grandfathered tags.
 *   timezone       the syntax of an IANA zone name; that the zone exists
 *                  is checked by PostgreSQL (pg_timezone_names).
 *   default_model  the router's forms (docs/contract.md §5): "provider:model",
 *                  "provider/model" or an alias name; syntax only.
 */

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "profiles/validate.h"

#define SUBTAGS_MAX	32

static int	name_forbidden(uint32_t);
static int	locale_alnum(const char *, size_t);
static int	locale_alpha(const char *, size_t);
static int	locale_digit(const char *, size_t);
static int	locale_grandfathered(const char *);

int
profiles_display_name_ok(const char *s)
{
	const unsigned char	*p;
	uint32_t		 cp;
	size_t			 chars, n, i;
	int			 visible;

	if (s == NULL || *s == '\0')
		return (0);

	chars = 0;
	visible = 0;
	for (p = (const unsigned char *)s; *p != '\0'; p += n) {
		if (*p < 0x80) {
			cp = *p;
			n = 1;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			n = 2;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			n = 3;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			n = 4;
		} else {
			return (0);
		}
		if (strnlen((const char *)p, n) < n)
			return (0);
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (name_forbidden(cp))
			return (0);
		if (cp != ' ' && cp != 0xa0 && cp != 0x3000)
			visible = 1;
		if (++chars > PROFILES_NAME_MAX)
			return (0);
	}

	return (visible);
}

int
profiles_avatar_url_ok(const char *s)
{
	const char	*host, *end, *p;
	size_t		 len, hostlen;
	long		 port;

	if (s == NULL || (len = strlen(s)) > PROFILES_URL_MAX)
		return (0);
	if (strncasecmp(s, "https://", 8) != 0)
		return (0);

	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("\"<>\\^`{|}", *p) != NULL)
			return (0);
	}

	host = s + 8;
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', end - host) != NULL)
		return (0);
	hostlen = strcspn(host, ":/?#");
	if (hostlen == 0 || hostlen > 253 || host[0] == '.' ||
	    host[0] == '-' || host[hostlen - 1] == '.')
		return (0);
	for (p = host; p < host + hostlen; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return (0);
	}

	if (host[hostlen] == ':') {
		p = host + hostlen + 1;
		if (p == end || end - p > 5)
			return (0);
		port = 0;
		for (; p < end; p++) {
			if (!isdigit((unsigned char)*p))
				return (0);
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return (0);
	}

	return (1);
}

/*
 * RFC 5646 §2.1:
 *   langtag    = language ["-" script] ["-" region] *("-" variant)
 *                *("-" extension) ["-" privateuse]
 *   language   = 2*3ALPHA ["-" extlang] / 4ALPHA / 5*8ALPHA
 *   extlang    = 3ALPHA *2("-" 3ALPHA)
 *   script     = 4ALPHA
 *   region     = 2ALPHA / 3DIGIT
 *   variant    = 5*8alphanum / (DIGIT 3alphanum)
 *   extension  = singleton 1*("-" (2*8alphanum))
 *   privateuse = "x" 1*("-" (1*8alphanum))
 */
int
profiles_locale_ok(const char *s)
{
	const char	*sub[SUBTAGS_MAX];
	size_t		 len[SUBTAGS_MAX], total, n, i, j, k;
	char		 singletons[36];
	int		 nsingle;

	if (s == NULL || (total = strlen(s)) == 0 ||
	    total > PROFILES_LOCALE_MAX)
		return (0);
	if (locale_grandfathered(s))
		return (1);

	/* Split into subtags of 1..8 letters or digits. */
	n = 0;
	for (i = 0; i <= total; ) {
		j = i + strcspn(s + i, "-");
		if (n >= SUBTAGS_MAX || j == i || j - i > 8 ||
		    !locale_alnum(s + i, j - i))
			return (0);
		sub[n] = s + i;
		len[n++] = j - i;
		if (s[j] == '\0')
			break;
		i = j + 1;
	}

	i = 0;
	if (len[0] == 1 && tolower((unsigned char)sub[0][0]) == 'x')
		goto privateuse;

	/* language */
	if (!locale_alpha(sub[0], len[0]) || len[0] < 2)
		return (0);
	i = 1;
	if (len[0] <= 3) {
		for (k = 0; k < 3 && i < n && len[i] == 3 &&
		    locale_alpha(sub[i], 3); k++)
			i++;
	}
	/* script */
	if (i < n && len[i] == 4 && locale_alpha(sub[i], 4))
		i++;
	/* region */
	if (i < n && ((len[i] == 2 && locale_alpha(sub[i], 2)) ||
	    (len[i] == 3 && locale_digit(sub[i], 3))))
		i++;
	/* variants, no repeats */
	for (; i < n; i++) {
		if (!((len[i] >= 5) || (len[i] == 4 &&
		    isdigit((unsigned char)sub[i][0]))))
			break;
		for (k = i - 1; k > 0; k--) {
			if (len[k] == len[i] &&
			    strncasecmp(sub[k], sub[i], len[i]) == 0)
				return (0);
		}
	}
	/* extensions, each singleton once */
	nsingle = 0;
	while (i < n && len[i] == 1 &&
	    tolower((unsigned char)sub[i][0]) != 'x') {
		for (k = 0; k < (size_t)nsingle; k++) {
			if (singletons[k] == tolower((unsigned char)sub[i][0]))
				return (0);
		}
		singletons[nsingle++] = tolower((unsigned char)sub[i][0]);
		i++;
		for (k = 0; i < n && len[i] >= 2; i++)
			k++;
		if (k == 0)
			return (0);
	}
	if (i == n)
		return (1);

privateuse:
	if (len[i] != 1 || tolower((unsigned char)sub[i][0]) != 'x' ||
	    i + 1 >= n)
		return (0);
	/* The rest are 1..8 alphanumerics, checked while splitting. */
	return (1);
}

/* Area/Location[/More]: letters, digits, '_', '-', '+'; parts non-empty. */
int
profiles_timezone_ok(const char *s)
{
	const char	*p;
	size_t		 len;

	if (s == NULL || (len = strlen(s)) == 0 || len > PROFILES_TZ_MAX)
		return (0);
	if (s[0] == '/' || s[len - 1] == '/' || strstr(s, "//") != NULL ||
	    strstr(s, "..") != NULL || s[0] == '.' || s[0] == '-')
		return (0);

	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("_-+/.", *p) == NULL)
			return (0);
	}

	return (1);
}

/*
 * "provider:model" or "provider/model" (the provider a lower-case
 * name, the model anything the providers use: letters, digits and
 * ._-:/@+), or an alias (letters, digits, ._-).
 */
int
profiles_default_model_ok(const char *s)
{
	const char	*p;
	size_t		 len, plen;

	if (s == NULL || (len = strlen(s)) == 0 || len > PROFILES_MODEL_MAX)
		return (0);
	if (!isalnum((unsigned char)s[0]))
		return (0);

	plen = strcspn(s, ":/");
	if (plen == len) {
		for (p = s; *p != '\0'; p++) {
			if (!isalnum((unsigned char)*p) &&
			    strchr("._-", *p) == NULL)
				return (0);
		}
		return (len <= 64);
	}

	if (plen > 64 || plen + 1 == len)
		return (0);
	for (p = s; p < s + plen; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '_' && *p != '-')
			return (0);
	}
	for (p = s + plen + 1; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) &&
		    strchr("._-:/@+", *p) == NULL)
			return (0);
	}

	return (1);
}

/* Controls, bidi controls, line and paragraph separators. */
static int
name_forbidden(uint32_t cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return (1);
	if (cp == 0x2028 || cp == 0x2029)
		return (1);
	if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0x200e || cp == 0x200f || cp == 0x061c)
		return (1);
	if (cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb))
		return (1);

	return (0);
}

static int
locale_alnum(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!isascii((unsigned char)s[i]) ||
		    !isalnum((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

static int
locale_alpha(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!isascii((unsigned char)s[i]) ||
		    !isalpha((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

static int
locale_digit(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

/* RFC 5646 §2.2.8: tags that predate the grammar. */
static int
locale_grandfathered(const char *s)
{
	static const char	*tags[] = {
		"en-GB-oed", "i-ami", "i-bnn", "i-default", "i-enochian",
		"i-hak", "i-klingon", "i-lux", "i-mingo", "i-navajo", "i-pwn",
		"i-tao", "i-tay", "i-tsu", "sgn-BE-FR", "sgn-BE-NL",
		"sgn-CH-DE", "art-lojban", "cel-gaulish", "no-bok", "no-nyn",
		"zh-guoyu", "zh-hakka", "zh-min", "zh-min-nan", "zh-xiang",
	};
	size_t	i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (strcasecmp(s, tags[i]) == 0)
			return (1);
	}
	return (0);
}
