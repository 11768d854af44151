/* Profile field validation: names, avatar URLs, BCP 47, zones, models. */

#include <string.h>

#include "tg_test.h"
#include "profiles/validate.h"

START_TEST(display_name)
{
	char	buf[400];
	int	i;

	ck_assert(profiles_display_name_ok("Ann"));
	ck_assert(profiles_display_name_ok("김민수"));
	ck_assert(profiles_display_name_ok("Zoë O'Brien-Smith"));
	ck_assert(profiles_display_name_ok("<script>alert(1)</script>"));
	ck_assert(profiles_display_name_ok("' OR 1=1 --"));
	ck_assert(profiles_display_name_ok("😀 emoji"));
	ck_assert(!profiles_display_name_ok(""));
	ck_assert(!profiles_display_name_ok("   "));
	ck_assert(!profiles_display_name_ok("a\tb"));
	ck_assert(!profiles_display_name_ok("a\nb"));
	ck_assert(!profiles_display_name_ok("a\x7f"));
	ck_assert(!profiles_display_name_ok("a\xc2\x85" "b"));	/* NEL */
	ck_assert(!profiles_display_name_ok("evil\xe2\x80\xae" "gnp.exe"));
	ck_assert(!profiles_display_name_ok("a\xe2\x80\xa8" "b"));
	ck_assert(!profiles_display_name_ok("a\xe2\x81\xa6" "b"));
	ck_assert(!profiles_display_name_ok("\xef\xbb\xbf" "bom"));
	ck_assert(!profiles_display_name_ok("bad \xff utf8"));
	ck_assert(!profiles_display_name_ok(NULL));

	/* 80 characters (multi-byte ones count once), not 81. */
	buf[0] = '\0';
	for (i = 0; i < 80; i++)
		strcat(buf, "가");
	ck_assert(profiles_display_name_ok(buf));
	strcat(buf, "a");
	ck_assert(!profiles_display_name_ok(buf));
}
END_TEST

START_TEST(avatar_url)
{
	char	big[2100];

	ck_assert(profiles_avatar_url_ok("https://cdn.example.com/a.png"));
	ck_assert(profiles_avatar_url_ok("https://cdn.example.com:8443/a?s=64"));
	ck_assert(profiles_avatar_url_ok("HTTPS://example.com"));
	ck_assert(!profiles_avatar_url_ok("http://cdn.example.com/a.png"));
	ck_assert(!profiles_avatar_url_ok("javascript:alert(1)"));
	ck_assert(!profiles_avatar_url_ok("data:image/png;base64,AAAA"));
	ck_assert(!profiles_avatar_url_ok("https://"));
	ck_assert(!profiles_avatar_url_ok("https:///path"));
	ck_assert(!profiles_avatar_url_ok("https://user:pw@example.com/"));
	ck_assert(!profiles_avatar_url_ok("https://exa mple.com/"));
	ck_assert(!profiles_avatar_url_ok("https://example.com/\"><x"));
	ck_assert(!profiles_avatar_url_ok("https://example.com:0/"));
	ck_assert(!profiles_avatar_url_ok("https://example.com:99999/"));
	ck_assert(!profiles_avatar_url_ok("https://example.com:/"));
	ck_assert(!profiles_avatar_url_ok("https://-x.com/"));
	ck_assert(!profiles_avatar_url_ok("https://ex\xc3\xa4mple.com/"));
	ck_assert(!profiles_avatar_url_ok("//example.com/a.png"));

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "https://example.com/", 20);
	ck_assert(!profiles_avatar_url_ok(big));
}
END_TEST

START_TEST(locale)
{
	static const char	*good[] = {
		"en", "en-US", "ko-KR", "zh-Hant-TW", "sr-Latn-RS", "es-419",
		"de-CH-1901", "sl-rozaj-biske", "en-US-u-ca-gregory",
		"en-a-bbb-x-a-ccc", "x-whatever", "zh-yue-HK", "i-klingon",
		"EN-us", "hy-Latn-IT-arevela", "de-DE-u-co-phonebk",
		"fil", "gsw", "sgn-BE-FR", "qaa-Qaaa-QM-x-southern",
	};
	static const char	*bad[] = {
		"", "e", "en-US-la", "en_US", "en-", "-en", "en--US",
		"en-US-", "a-DE", "ar-a-aaa-b-bbb-a-ccc", "de-419-DE",
		"en-a", "en-x", "x", "de-1901-1901", "123", "en-US-u",
		"toolonglanguagetag", "ko KR", "ko-KR\n", "é",
		"en-abcdefghi",
	};
	size_t	i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(profiles_locale_ok(good[i]), "good %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!profiles_locale_ok(bad[i]), "bad %s", bad[i]);
	ck_assert(!profiles_locale_ok(NULL));
}
END_TEST

START_TEST(timezone)
{
	ck_assert(profiles_timezone_ok("Asia/Seoul"));
	ck_assert(profiles_timezone_ok("America/Argentina/Buenos_Aires"));
	ck_assert(profiles_timezone_ok("UTC"));
	ck_assert(profiles_timezone_ok("Etc/GMT+9"));
	ck_assert(!profiles_timezone_ok(""));
	ck_assert(!profiles_timezone_ok("/etc/passwd"));
	ck_assert(!profiles_timezone_ok("../../etc/passwd"));
	ck_assert(!profiles_timezone_ok("Asia//Seoul"));
	ck_assert(!profiles_timezone_ok("Asia/Seoul/"));
	ck_assert(!profiles_timezone_ok("Asia/Seoul; DROP"));
	ck_assert(!profiles_timezone_ok("UTC+09:00"));
}
END_TEST

START_TEST(default_model)
{
	ck_assert(profiles_default_model_ok("anthropic:claude-sonnet-4-5"));
	ck_assert(profiles_default_model_ok("openai:gpt-4o-mini"));
	ck_assert(profiles_default_model_ok("openai/gpt-4o-mini"));
	ck_assert(profiles_default_model_ok("ollama:llama3.1:8b"));
	ck_assert(profiles_default_model_ok("openrouter:anthropic/claude-3.5"));
	ck_assert(profiles_default_model_ok("fast"));
	ck_assert(profiles_default_model_ok("my_alias-2.0"));
	ck_assert(!profiles_default_model_ok(""));
	ck_assert(!profiles_default_model_ok("openai:"));
	ck_assert(!profiles_default_model_ok(":gpt-4o"));
	ck_assert(!profiles_default_model_ok("OpenAI:gpt-4o"));
	ck_assert(!profiles_default_model_ok("openai:gpt 4o"));
	ck_assert(!profiles_default_model_ok("openai:*"));
	ck_assert(!profiles_default_model_ok("*"));
	ck_assert(!profiles_default_model_ok("fast!"));
	ck_assert(!profiles_default_model_ok("openai:gpt-4o\n"));
}
END_TEST

static Suite *
validate_suite(void)
{
	Suite	*s = suite_create("profiles_validate");
	TCase	*tc = tcase_create("validate");

	tcase_add_test(tc, display_name);
	tcase_add_test(tc, avatar_url);
	tcase_add_test(tc, locale);
	tcase_add_test(tc, timezone);
	tcase_add_test(tc, default_model);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(validate_suite)
