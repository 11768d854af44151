/*
 * API key format, checksum and storage hash (docs/contract.md §4). Pure C.
 *
 *	tg_<public id: 12 base62>_<secret: 40 base62><checksum: 6 base62>
 *
 * The checksum is CRC-32 of everything before it, so scanners and our
 * own front door recognise a real key without a database. The database
 * holds only the public id and a keyed BLAKE2b-256 digest of the whole
 * key; the hashing key is derived from TOLLGATE_KEY_PEPPER.
 */

#ifndef AUTH_APIKEY_H
#define AUTH_APIKEY_H

#include <stddef.h>

#define APIKEY_PREFIX		"tg_"
#define APIKEY_PUBLIC_LEN	12
#define APIKEY_SECRET_LEN	40
#define APIKEY_CHECKSUM_LEN	6
#define APIKEY_LEN		(3 + APIKEY_PUBLIC_LEN + 1 + \
				    APIKEY_SECRET_LEN + APIKEY_CHECKSUM_LEN)
#define APIKEY_DIGEST_LEN	32
#define APIKEY_HASHKEY_LEN	32

void	apikey_generate(char out[APIKEY_LEN + 1]);
int	apikey_parse(const char *, char public_id[APIKEY_PUBLIC_LEN + 1]);
void	apikey_hashkey(const unsigned char *, size_t,
	    unsigned char out[APIKEY_HASHKEY_LEN]);
void	apikey_digest(const unsigned char hashkey[APIKEY_HASHKEY_LEN],
	    const char *, unsigned char out[APIKEY_DIGEST_LEN]);
unsigned long	apikey_crc32(const char *, size_t);

#endif
