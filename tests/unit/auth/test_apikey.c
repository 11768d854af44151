/* API key format, checksum and digest. */

#include <string.h>

#include <sodium.h>

#include "tg_test.h"
#include "auth/apikey.h"

START_TEST(generate_and_parse)
{
	char	key[APIKEY_LEN + 1], other[APIKEY_LEN + 1];
	char	id[APIKEY_PUBLIC_LEN + 1];
	int	i;

	ck_assert_int_ge(sodium_init(), 0);
	for (i = 0; i < 200; i++) {
		apikey_generate(key);
		ck_assert_uint_eq(strlen(key), APIKEY_LEN);
		ck_assert(!strncmp(key, "tg_", 3));
		ck_assert_int_eq(key[15], '_');
		ck_assert(apikey_parse(key, id));
		ck_assert(!strncmp(id, key + 3, APIKEY_PUBLIC_LEN));
		/* At least 32 characters of secret before the checksum. */
		ck_assert_int_ge(APIKEY_SECRET_LEN, 32);
	}
	apikey_generate(other);
	ck_assert(strcmp(key, other) != 0);
}
END_TEST

START_TEST(every_single_change_is_refused)
{
	char	key[APIKEY_LEN + 1], bad[APIKEY_LEN + 1];
	char	id[APIKEY_PUBLIC_LEN + 1];
	size_t	i;
	int	refused, total;

	apikey_generate(key);
	refused = total = 0;
	for (i = 3; i < APIKEY_LEN; i++) {
		if (key[i] == '_')
			continue;
		memcpy(bad, key, sizeof(bad));
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		total++;
		refused += !apikey_parse(bad, id);
	}
	/* CRC-32 catches every single-character change. */
	ck_assert_int_eq(refused, total);

	ck_assert(!apikey_parse("", id));
	ck_assert(!apikey_parse("tg_", id));
	memcpy(bad, key, sizeof(bad));
	bad[0] = 'x';
	ck_assert(!apikey_parse(bad, id));
	memcpy(bad, key, sizeof(bad));
	bad[20] = '!';
	ck_assert(!apikey_parse(bad, id));
	memcpy(bad, key, sizeof(bad));
	bad[APIKEY_LEN - 1] = '\0';
	ck_assert(!apikey_parse(bad, id));
}
END_TEST

START_TEST(known_checksum)
{
	/* zlib.crc32(b"123456789") == 0xcbf43926 */
	ck_assert_uint_eq(apikey_crc32("123456789", 9), 0xcbf43926UL);
}
END_TEST

START_TEST(digest_is_keyed)
{
	unsigned char	k1[APIKEY_HASHKEY_LEN], k2[APIKEY_HASHKEY_LEN];
	unsigned char	d1[APIKEY_DIGEST_LEN], d2[APIKEY_DIGEST_LEN];
	unsigned char	d3[APIKEY_DIGEST_LEN];
	const char	*pepper1 = "pepper-one-0123456789abcdef0123456789";
	const char	*pepper2 = "pepper-two-0123456789abcdef0123456789";
	char		 key[APIKEY_LEN + 1];

	apikey_generate(key);
	apikey_hashkey((const unsigned char *)pepper1, strlen(pepper1), k1);
	apikey_hashkey((const unsigned char *)pepper2, strlen(pepper2), k2);
	apikey_digest(k1, key, d1);
	apikey_digest(k2, key, d2);
	apikey_digest(k1, key, d3);
	ck_assert(memcmp(d1, d2, sizeof(d1)) != 0);
	ck_assert(memcmp(d1, d3, sizeof(d1)) == 0);
}
END_TEST

static Suite *
apikey_suite(void)
{
	Suite	*s = suite_create("apikey");
	TCase	*tc = tcase_create("apikey");

	tcase_add_test(tc, generate_and_parse);
	tcase_add_test(tc, every_single_change_is_refused);
	tcase_add_test(tc, known_checksum);
	tcase_add_test(tc, digest_is_keyed);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(apikey_suite)
