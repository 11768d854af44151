/* Input checks of the key-management API: bodies, ids, cursors, limits. */

#include <string.h>

#include "tg_test.h"
#include "auth/keys_input.h"
#include "lex.h"

#define NOW	1767225600	/* 2026-01-01T00:00:00Z */

static int
parse(const char *text, int what, struct keys_fields *f,
    struct keys_problem *p)
{
	static char	 param[128];
	json_t		*doc;
	int		 ok;

	/* ALLOW_NUL: the checks must hold even if a caller allowed it. */
	doc = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    NULL);
	ck_assert_ptr_nonnull(doc);

	ok = keys_input_parse(doc, what, NOW, f, p);
	/* The strings may point into doc: copy what the tests read. */
	if (ok && f->has_name)
		f->name = strdup(f->name);
	if (!ok && p->param != NULL) {
		(void)snprintf(param, sizeof(param), "%s", p->param);
		p->param = param;
	}
	json_decref(doc);
	return (ok);
}

static void
done(struct keys_fields *f)
{
	if (f->has_name)
		free((void *)f->name);
	keys_input_free(f);
}

START_TEST(create_minimal_and_full)
{
	struct keys_fields	f;
	struct keys_problem	p;

	ck_assert(parse("{\"name\":\"ci\"}", KEYS_FOR_CREATE, &f, &p));
	ck_assert(f.has_name && !strcmp(f.name, "ci"));
	ck_assert(!f.has_expires && !f.has_models && !f.has_limit);
	ck_assert_int_eq(f.spend_limit_micros, -1);
	done(&f);

	ck_assert(parse("{\"name\":\"프로덕션 키\",\"expires_at\":"
	    "\"2027-03-04T05:06:07Z\",\"allowed_models\":[\"anthropic:*\","
	    "\"openai:gpt-4o-mini\",\"fast\"],\"spend_limit_micros\":5000000}",
	    KEYS_FOR_CREATE, &f, &p));
	ck_assert_int_eq(f.expires_at, 1804136767);
	ck_assert_int_eq(f.nmodels, 3);
	ck_assert_str_eq(f.models_json,
	    "[\"anthropic:*\",\"openai:gpt-4o-mini\",\"fast\"]");
	ck_assert_int_eq(f.spend_limit_micros, 5000000);
	done(&f);

	/* Unix seconds, nulls. */
	ck_assert(parse("{\"name\":\"a\",\"expires_at\":1767225601,"
	    "\"allowed_models\":null,\"spend_limit_micros\":null}",
	    KEYS_FOR_CREATE, &f, &p));
	ck_assert_int_eq(f.expires_at, 1767225601);
	ck_assert_str_eq(f.models_json, "[]");
	ck_assert(f.has_limit && f.spend_limit_micros == -1);
	done(&f);

	ck_assert(parse("{\"name\":\"a\",\"expires_at\":null}",
	    KEYS_FOR_CREATE, &f, &p));
	ck_assert(f.has_expires && f.expires_at == 0);
	done(&f);
}
END_TEST

struct bad_case {
	const char	*body;
	int		 what;
	const char	*code;
	const char	*param;
};

static const struct bad_case	bad[] = {
	{ "{}", KEYS_FOR_CREATE, "missing_field", "name" },
	{ "{\"name\":\"\"}", KEYS_FOR_CREATE, "invalid_value", "name" },
	{ "{\"name\":7}", KEYS_FOR_CREATE, "invalid_value", "name" },
	{ "{\"name\":null}", KEYS_FOR_CREATE, "invalid_value", "name" },
	{ "{\"name\":\"a\\u0000b\"}", KEYS_FOR_CREATE, "invalid_value",
	    "name" },
	{ "{\"name\":\"tab\\there\"}", KEYS_FOR_CREATE, "invalid_value",
	    "name" },
	{ "{\"name\":\"a\",\"bogus\":1}", KEYS_FOR_CREATE,
	    "unknown_parameter", "bogus" },
	{ "{\"name\":\"a\",\"disabled\":true}", KEYS_FOR_CREATE,
	    "unknown_parameter", "disabled" },
	{ "{\"expires_at\":null}", KEYS_FOR_UPDATE, "unknown_parameter",
	    "expires_at" },
	{ "{\"name\":\"a\",\"expires_at\":\"2020-01-01T00:00:00Z\"}",
	    KEYS_FOR_CREATE, "invalid_value", "expires_at" },
	{ "{\"name\":\"a\",\"expires_at\":1767225600}", KEYS_FOR_CREATE,
	    "invalid_value", "expires_at" },
	{ "{\"name\":\"a\",\"expires_at\":\"tomorrow\"}", KEYS_FOR_CREATE,
	    "invalid_value", "expires_at" },
	{ "{\"name\":\"a\",\"expires_at\":\"10000-01-01T00:00:00Z\"}",
	    KEYS_FOR_CREATE, "invalid_value", "expires_at" },
	{ "{\"name\":\"a\",\"expires_at\":99999999999999}", KEYS_FOR_CREATE,
	    "invalid_value", "expires_at" },
	{ "{\"name\":\"a\",\"expires_at\":1.5e9}", KEYS_FOR_CREATE,
	    "invalid_value", "expires_at" },
	{ "{\"name\":\"a\",\"allowed_models\":\"openai:*\"}", KEYS_FOR_CREATE,
	    "invalid_value", "allowed_models" },
	{ "{\"name\":\"a\",\"allowed_models\":[\"ok:*\",\"bad model\"]}",
	    KEYS_FOR_CREATE, "invalid_value", "allowed_models" },
	{ "{\"name\":\"a\",\"allowed_models\":[\"*a\"]}", KEYS_FOR_CREATE,
	    "invalid_value", "allowed_models" },
	{ "{\"name\":\"a\",\"allowed_models\":[\"\"]}", KEYS_FOR_CREATE,
	    "invalid_value", "allowed_models" },
	{ "{\"name\":\"a\",\"allowed_models\":[1]}", KEYS_FOR_CREATE,
	    "invalid_value", "allowed_models" },
	{ "{\"name\":\"a\",\"allowed_models\":[\"a\\u0000b\"]}",
	    KEYS_FOR_CREATE, "invalid_value", "allowed_models" },
	{ "{\"name\":\"a\",\"spend_limit_micros\":-1}", KEYS_FOR_CREATE,
	    "invalid_value", "spend_limit_micros" },
	{ "{\"name\":\"a\",\"spend_limit_micros\":1.5}", KEYS_FOR_CREATE,
	    "invalid_value", "spend_limit_micros" },
	{ "{\"name\":\"a\",\"spend_limit_micros\":\"100\"}", KEYS_FOR_CREATE,
	    "invalid_value", "spend_limit_micros" },
	{ "{\"name\":\"a\",\"spend_limit_micros\":true}", KEYS_FOR_CREATE,
	    "invalid_value", "spend_limit_micros" },
	{ "{\"disabled\":\"yes\"}", KEYS_FOR_UPDATE, "invalid_value",
	    "disabled" },
	{ "{\"disabled\":null}", KEYS_FOR_UPDATE, "invalid_value",
	    "disabled" },
	{ "[]", KEYS_FOR_UPDATE, "invalid_json", NULL },
};

START_TEST(bad_bodies)
{
	struct keys_fields	f;
	struct keys_problem	p;
	const struct bad_case	*c = &bad[_i];

	ck_assert_msg(!parse(c->body, c->what, &f, &p), "%s accepted",
	    c->body);
	ck_assert_str_eq(p.code, c->code);
	if (c->param == NULL)
		ck_assert_ptr_null(p.param);
	else
		ck_assert_str_eq(p.param, c->param);
	ck_assert(p.message[0] != '\0');
	ck_assert_ptr_null(f.models_json);
}
END_TEST

START_TEST(name_length_in_characters)
{
	struct keys_fields	f;
	struct keys_problem	p;
	char			body[1024], *q;
	int			i;

	/* 100 three-byte characters pass, 101 do not. */
	q = body + sprintf(body, "{\"name\":\"");
	for (i = 0; i < 100; i++)
		q += sprintf(q, "가");
	strcpy(q, "\"}");
	ck_assert(parse(body, KEYS_FOR_CREATE, &f, &p));
	done(&f);

	q = body + sprintf(body, "{\"name\":\"");
	for (i = 0; i < 101; i++)
		q += sprintf(q, "가");
	strcpy(q, "\"}");
	ck_assert(!parse(body, KEYS_FOR_CREATE, &f, &p));
}
END_TEST

START_TEST(models_limit)
{
	struct keys_fields	f;
	struct keys_problem	p;
	char			body[2048], *q;
	int			i;

	q = body + sprintf(body, "{\"allowed_models\":[");
	for (i = 0; i < 32; i++)
		q += sprintf(q, "%s\"p%d:*\"", i ? "," : "", i);
	strcpy(q, "]}");
	ck_assert(parse(body, KEYS_FOR_UPDATE, &f, &p));
	ck_assert_int_eq(f.nmodels, 32);
	done(&f);

	q = body + sprintf(body, "{\"allowed_models\":[");
	for (i = 0; i < 33; i++)
		q += sprintf(q, "%s\"p%d:*\"", i ? "," : "", i);
	strcpy(q, "]}");
	ck_assert(!parse(body, KEYS_FOR_UPDATE, &f, &p));
	ck_assert_str_eq(p.param, "allowed_models");
}
END_TEST

START_TEST(update_fields)
{
	struct keys_fields	f;
	struct keys_problem	p;

	ck_assert(parse("{}", KEYS_FOR_UPDATE, &f, &p));
	ck_assert(!f.has_name && !f.has_models && !f.has_limit &&
	    !f.has_disabled);
	done(&f);

	ck_assert(parse("{\"disabled\":true,\"spend_limit_micros\":0}",
	    KEYS_FOR_UPDATE, &f, &p));
	ck_assert(f.has_disabled && f.disabled);
	ck_assert(f.has_limit && f.spend_limit_micros == 0);
	done(&f);
}
END_TEST

START_TEST(rfc3339)
{
	int64_t	t;

	ck_assert(keys_rfc3339_parse("1970-01-01T00:00:00Z", &t));
	ck_assert_int_eq(t, 0);
	ck_assert(keys_rfc3339_parse("2026-01-01T00:00:00Z", &t));
	ck_assert_int_eq(t, 1767225600);
	ck_assert(keys_rfc3339_parse("2026-01-01T09:00:00+09:00", &t));
	ck_assert_int_eq(t, 1767225600);
	ck_assert(keys_rfc3339_parse("2025-12-31t19:00:00.123456-05:00", &t));
	ck_assert_int_eq(t, 1767225600);
	ck_assert(keys_rfc3339_parse("2024-02-29T00:00:00z", &t));
	ck_assert(keys_rfc3339_parse("9999-12-31T23:59:59Z", &t));
	ck_assert_int_eq(t, 253402300799LL);

	ck_assert(!keys_rfc3339_parse("2023-02-29T00:00:00Z", &t));
	ck_assert(!keys_rfc3339_parse("2100-02-29T00:00:00Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-13-01T00:00:00Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-00-01T00:00:00Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-32T00:00:00Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01T24:00:00Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01T00:60:00Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01T00:00:60Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01T00:00:00", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01 00:00:00Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01T00:00:00.Z", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01T00:00:00+9:00", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01T00:00:00+24:00", &t));
	ck_assert(!keys_rfc3339_parse("2026-01-01T00:00:00Zjunk", &t));
	ck_assert(!keys_rfc3339_parse("0000-01-01T00:00:00Z", &t));
	ck_assert(!keys_rfc3339_parse("", &t));
	ck_assert(!keys_rfc3339_parse("2026", &t));
	ck_assert(!keys_rfc3339_parse("+2026-01-01T00:00:00Z", &t));
}
END_TEST

START_TEST(uuids)
{
	ck_assert(tg_uuid_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
	ck_assert(tg_uuid_valid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
	ck_assert(!tg_uuid_valid("0f8fad5b-d9cb-469f-a165-70867728950"));
	ck_assert(!tg_uuid_valid("0f8fad5b-d9cb-469f-a165-70867728950e0"));
	ck_assert(!tg_uuid_valid("0f8fad5bd9cb-469f-a165-70867728950e0"));
	ck_assert(!tg_uuid_valid("0f8fad5b-d9cb-469f-a165-70867728950g"));
	ck_assert(!tg_uuid_valid("../../etc/passwd"));
	ck_assert(!tg_uuid_valid(""));
	ck_assert(!tg_uuid_valid("' OR 1=1 --"));
}
END_TEST

START_TEST(cursors)
{
	char	buf[KEYS_CURSOR_MAX], id[KEYS_UUID_LEN + 1];
	int64_t	us;

	ck_assert(keys_cursor_format(1767225600123456LL,
	    "0f8fad5b-d9cb-469f-a165-70867728950e", buf, sizeof(buf)));
	ck_assert_str_eq(buf,
	    "1767225600123456.0f8fad5b-d9cb-469f-a165-70867728950e");
	ck_assert(keys_cursor_parse(buf, &us, id));
	ck_assert_int_eq(us, 1767225600123456LL);
	ck_assert_str_eq(id, "0f8fad5b-d9cb-469f-a165-70867728950e");

	ck_assert(!keys_cursor_format(-1,
	    "0f8fad5b-d9cb-469f-a165-70867728950e", buf, sizeof(buf)));
	ck_assert(!keys_cursor_format(1, "nope", buf, sizeof(buf)));
	ck_assert(!keys_cursor_format(1767225600123456LL,
	    "0f8fad5b-d9cb-469f-a165-70867728950e", buf, 20));

	ck_assert(!keys_cursor_parse("", &us, id));
	ck_assert(!keys_cursor_parse(".0f8fad5b-d9cb-469f-a165-70867728950e",
	    &us, id));
	ck_assert(!keys_cursor_parse("12", &us, id));
	ck_assert(!keys_cursor_parse("12.", &us, id));
	ck_assert(!keys_cursor_parse("-1.0f8fad5b-d9cb-469f-a165-70867728950e",
	    &us, id));
	ck_assert(!keys_cursor_parse(
	    "1234567890123456789.0f8fad5b-d9cb-469f-a165-70867728950e", &us,
	    id));
	ck_assert(!keys_cursor_parse("1.0f8fad5b-d9cb-469f-a165-70867728950ex",
	    &us, id));
}
END_TEST

START_TEST(limits)
{
	int	n;

	ck_assert(tg_limit_parse("1", KEYS_LIST_LIMIT_MAX, &n) && n == 1);
	ck_assert(tg_limit_parse("100", KEYS_LIST_LIMIT_MAX, &n) && n == 100);
	ck_assert(!tg_limit_parse("0", KEYS_LIST_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("101", KEYS_LIST_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("", KEYS_LIST_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("-5", KEYS_LIST_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("5x", KEYS_LIST_LIMIT_MAX, &n));
	ck_assert(!tg_limit_parse("0005", KEYS_LIST_LIMIT_MAX, &n));
}
END_TEST

static Suite *
keys_input_suite(void)
{
	Suite	*s = suite_create("keys_input");
	TCase	*tc = tcase_create("keys_input");

	tcase_add_test(tc, create_minimal_and_full);
	tcase_add_loop_test(tc, bad_bodies, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, name_length_in_characters);
	tcase_add_test(tc, models_limit);
	tcase_add_test(tc, update_fields);
	tcase_add_test(tc, rfc3339);
	tcase_add_test(tc, uuids);
	tcase_add_test(tc, cursors);
	tcase_add_test(tc, limits);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(keys_input_suite)
