/*
 * API keys: generation from the CSPRNG, the offline format check, and the
 * keyed digest that is all we store (see apikey.h).
 *
 * apikey_parse() is the front door of every /v1 request: it refuses a
 * malformed key (wrong prefix, length, alphabet or checksum) before any
 * database work, so a flood of junk keys costs no query.
 */

#include <string.h>

#include <sodium.h>

#include "apikey.h"

static const char	base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void	apikey_random62(char *, size_t);
static void	apikey_checksum(const char *, size_t, char *);
static int	apikey_is62(int);

void
apikey_generate(char out[APIKEY_LEN + 1])
{
	char	*p;

	p = out;
	memcpy(p, APIKEY_PREFIX, 3);
	p += 3;
	apikey_random62(p, APIKEY_PUBLIC_LEN);
	p += APIKEY_PUBLIC_LEN;
	*p++ = '_';
	apikey_random62(p, APIKEY_SECRET_LEN);
	p += APIKEY_SECRET_LEN;
	apikey_checksum(out, p - out, p);
	p += APIKEY_CHECKSUM_LEN;
	*p = '\0';
}

/* 1 and the public id when key is well-formed, else 0. */
int
apikey_parse(const char *key, char public_id[APIKEY_PUBLIC_LEN + 1])
{
	char	sum[APIKEY_CHECKSUM_LEN];
	size_t	i;

	if (strnlen(key, APIKEY_LEN + 1) != APIKEY_LEN)
		return (0);
	if (memcmp(key, APIKEY_PREFIX, 3) || key[3 + APIKEY_PUBLIC_LEN] != '_')
		return (0);

	for (i = 3; i < APIKEY_LEN; i++) {
		if (i == 3 + APIKEY_PUBLIC_LEN)
			continue;
		if (!apikey_is62((unsigned char)key[i]))
			return (0);
	}

	apikey_checksum(key, APIKEY_LEN - APIKEY_CHECKSUM_LEN, sum);
	if (memcmp(sum, key + APIKEY_LEN - APIKEY_CHECKSUM_LEN,
	    APIKEY_CHECKSUM_LEN))
		return (0);

	memcpy(public_id, key + 3, APIKEY_PUBLIC_LEN);
	public_id[APIKEY_PUBLIC_LEN] = '\0';
	return (1);
}

/*
 * The digest key: BLAKE2b-256 of the pepper, so a pepper of any length
 * (TOLLGATE_KEY_PEPPER is at least 32 bytes) keys BLAKE2b, whose key is
 * at most 64 bytes.
 */
void
apikey_hashkey(const unsigned char *pepper, size_t len,
    unsigned char out[APIKEY_HASHKEY_LEN])
{
	crypto_generichash(out, APIKEY_HASHKEY_LEN, pepper, len, NULL, 0);
}

void
apikey_digest(const unsigned char hashkey[APIKEY_HASHKEY_LEN],
    const char *key, unsigned char out[APIKEY_DIGEST_LEN])
{
	crypto_generichash(out, APIKEY_DIGEST_LEN, (const unsigned char *)key,
	    strlen(key), hashkey, APIKEY_HASHKEY_LEN);
}

/* CRC-32 (IEEE 802.3, reflected), bitwise: keys are short. */
unsigned long
apikey_crc32(const char *s, size_t len)
{
	unsigned long	crc;
	size_t		i;
	int		bit;

	crc = 0xffffffffUL;
	for (i = 0; i < len; i++) {
		crc ^= (unsigned char)s[i];
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xedb88320UL & -(crc & 1));
	}

	return (crc ^ 0xffffffffUL);
}

static void
apikey_random62(char *out, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		out[i] = base62[randombytes_uniform(62)];
}

/* CRC-32 in six base62 digits, most significant first. */
static void
apikey_checksum(const char *s, size_t len, char *out)
{
	unsigned long	crc;
	int		i;

	crc = apikey_crc32(s, len);
	for (i = APIKEY_CHECKSUM_LEN - 1; i >= 0; i--) {
		out[i] = base62[crc % 62];
		crc /= 62;
	}
}

static int
apikey_is62(int c)
{
	return ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z'));
}
