/*
 * Lexical forms shared by the modules' input checks (see lex.h): one
 * definition of a UUID, a hex digit and a calendar day, so that keys,
 * credits, billing and sessions refuse the same inputs.
 */

#include <ctype.h>
#include <string.h>

#include "lex.h"

static int	uuid_form(const char *, const char *);

int
tg_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

int
tg_uuid_valid(const char *s)
{
	return (uuid_form(s, "0123456789abcdefABCDEF"));
}

int
tg_uuid_canonical(const char *s)
{
	return (uuid_form(s, "0123456789abcdef"));
}

int
tg_digits(const char *s, int n, int64_t *out)
{
	int64_t	v;
	int	i;

	v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (0);
		v = v * 10 + (s[i] - '0');
	}

	*out = v;
	return (1);
}

int
tg_limit_parse(const char *s, int max, int *out)
{
	int64_t	v;
	size_t	len;

	len = strlen(s);
	if (len < 1 || len > 3 || !tg_digits(s, (int)len, &v) || v < 1 ||
	    v > max)
		return (0);

	*out = (int)v;
	return (1);
}

int
tg_date_valid(int64_t y, int64_t m, int64_t d)
{
	static const int	mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int			leap;

	if (m < 1 || m > 12 || d < 1)
		return (0);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return (d <= mdays[m - 1] + (m == 2 && leap));
}

int64_t
tg_days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (era * 146097 + doe - 719468);
}

/* TG_UUID_LEN characters: dashes at 8, 13, 18, 23, digits elsewhere. */
static int
uuid_form(const char *s, const char *digits)
{
	size_t	i;

	if (s == NULL || strlen(s) != TG_UUID_LEN)
		return (0);
	for (i = 0; i < TG_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (0);
		} else if (strchr(digits, s[i]) == NULL) {
			return (0);
		}
	}

	return (1);
}

int
tg_list_next(const char **p, const char *seps, const char **item,
    size_t *len)
{
	const char	*s, *end;
	size_t		 n;

	if ((s = *p) == NULL || *s == '\0')
		return (0);

	end = s + strcspn(s, seps);
	*p = *end != '\0' ? end + 1 : end;

	while (s < end && isspace((unsigned char)*s))
		s++;
	n = end - s;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;

	*item = s;
	*len = n;
	return (1);
}
