/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON Schema subset validator, on small schemas written here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "json.h"
#include "schema.h"

static const char test_schema[] =
        "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
        " \"type\":\"object\", \"additionalProperties\":false, \"required\":[\"name\",\"n\"],"
        " \"properties\":{"
        "  \"name\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":4,\"pattern\":\"^[^0-9]+$\"},"
        "  \"n\":{\"type\":[\"integer\",\"null\"],\"minimum\":1,\"maximum\":10,\"x-null\":\"unlimited\"},"
        "  \"f\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":1},"
        "  \"kind\":{\"enum\":[\"a\",\"b\",null]},"
        "  \"v\":{\"const\":\"v1\"},"
        "  \"list\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":3,\"uniqueItems\":true,\"items\":{\"$ref\":\"#/$defs/small\"}},"
        "  \"open\":{\"type\":\"object\"}"
        " },"
        " \"$defs\":{\"small\":{\"type\":\"integer\",\"maximum\":5,\"description\":\"small\"}}}";

static struct schema *load(void) {
        struct schema *s = NULL;
        struct gc_error err = {};
        assert_int_equal(schema_load(test_schema, strlen(test_schema), &s, &err), 0);
        return s;
}

/* Validate text; return the number of issues, and the first path and message. */
static size_t run(struct schema *s, const char *text, char *path, char *msg) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error err = {};
        struct schema_issues issues;

        assert_int_equal(json_parse(text, strlen(text), &doc, &err), 0);
        size_t n = schema_validate(s, doc, &issues);
        if (n > 0) {
                strcpy(path, issues.v[0].path);
                strcpy(msg, issues.v[0].message);
        }
        schema_issues_free(&issues);
        return n;
}

#define REFUSED(text, want_path, want_msg_part)                                 \
        do {                                                                    \
                char p_[256] = "", m_[512] = "";                                \
                if (run(s, text, p_, m_) == 0)                                  \
                        fail_msg("accepted: %s", text);                         \
                assert_string_equal(p_, want_path);                             \
                if (!strstr(m_, want_msg_part))                                 \
                        fail_msg("message \"%s\" lacks \"%s\"", m_, want_msg_part); \
        } while (0)

static void test_accepts(void **state) {
        struct schema *s = load();
        char p[256], m[512];

        assert_int_equal(run(s, "{\"name\":\"ab\",\"n\":null}", p, m), 0);
        assert_int_equal(run(s, "{\"name\":\"\xe5\xb8\x82xx\xe5\xb1\x80\",\"n\":10,\"f\":0.5,\"kind\":null,\"v\":\"v1\","
                                "\"list\":[1,2,5],\"open\":{\"anything\":[1]}}", p, m), 0);
        schema_free(s);
}

static void test_refuses(void **state) {
        struct schema *s = load();

        REFUSED("[]", "$", "is an array, expected object");
        REFUSED("{\"n\":1}", "$.name", "is required");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"extra\":1}", "$.extra", "not a known key");
        REFUSED("{\"name\":\"ab\",\"n\":\"1\"}", "$.n", "is a string, expected integer or null");
        REFUSED("{\"name\":\"ab\",\"n\":1.5}", "$.n", "is a number, expected integer or null");
        REFUSED("{\"name\":\"ab\",\"n\":0}", "$.n", "below the minimum 1");
        REFUSED("{\"name\":\"ab\",\"n\":11}", "$.n", "above the maximum 10");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"f\":0}", "$.f", "not above 0");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"f\":1}", "$.f", "not below 1");
        REFUSED("{\"name\":\"a\",\"n\":1}", "$.name", "shorter than the minimum 2");
        /* Length counts code points: five Chinese characters are 5, not 15. */
        REFUSED("{\"name\":\"\xe5\xb8\x82\xe5\xb8\x82\xe5\xb8\x82\xe5\xb8\x82\xe5\xb8\x82\",\"n\":1}", "$.name", "is 5 characters long");
        REFUSED("{\"name\":\"ab1\",\"n\":1}", "$.name", "does not match");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"kind\":\"c\"}", "$.kind", "not one of \"a\", \"b\" or null");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"v\":\"v2\"}", "$.v", "expected \"v1\"");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"list\":[]}", "$.list", "fewer than the minimum 1");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"list\":[1,2,3,4]}", "$.list", "more than the maximum 3");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"list\":[1,2,1]}", "$.list[2]", "repeats item 0");
        REFUSED("{\"name\":\"ab\",\"n\":1,\"list\":[1,6]}", "$.list[1]", "above the maximum 5");
        schema_free(s);
}

static void test_all_issues(void **state) {
        struct schema *s = load();
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct schema_issues issues;
        struct gc_error err = {};
        const char *text = "{\"x\":1,\"y\":2,\"n\":0}";

        assert_int_equal(json_parse(text, strlen(text), &doc, &err), 0);
        /* name missing, x and y unknown, n too small: four, not just the first. */
        assert_int_equal(schema_validate(s, doc, &issues), 4);
        schema_issues_free(&issues);
        schema_free(s);
}

static void test_annotations(void **state) {
        struct schema *s = load();
        const cJSON *n = schema_property(s, schema_root(s), "n");
        const cJSON *items = schema_items(s, schema_property(s, schema_root(s), "list"));

        assert_non_null(n);
        assert_string_equal(schema_annotation(s, n, "x-null"), "unlimited");
        assert_null(schema_annotation(s, n, "description"));
        /* Through the $ref. */
        assert_string_equal(schema_annotation(s, items, "description"), "small");
        assert_null(schema_property(s, schema_root(s), "nope"));
        schema_free(s);
}

static void test_load_refuses(void **state) {
        struct schema *s = NULL;
        struct gc_error err = {};
        const char *unknown = "{\"type\":\"object\",\"properties\":{\"a\":{\"oneOf\":[]}}}";
        const char *badref = "{\"$ref\":\"#/$defs/missing\"}";
        const char *badtype = "{\"type\":\"float\"}";
        const char *badpattern = "{\"pattern\":\"(\"}";

        /* A keyword the validator does not implement would be silently ignored: refuse it. */
        assert_int_equal(schema_load(unknown, strlen(unknown), &s, &err), -EOPNOTSUPP);
        assert_string_equal(err.field, "$.properties.a.oneOf");
        assert_int_equal(schema_load(badref, strlen(badref), &s, &err), -EINVAL);
        assert_int_equal(schema_load(badtype, strlen(badtype), &s, &err), -EINVAL);
        assert_int_equal(schema_load(badpattern, strlen(badpattern), &s, &err), -EINVAL);
        assert_null(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accepts),
                cmocka_unit_test(test_refuses),
                cmocka_unit_test(test_all_issues),
                cmocka_unit_test(test_annotations),
                cmocka_unit_test(test_load_refuses),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
