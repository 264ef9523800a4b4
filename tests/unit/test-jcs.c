/* SPDX-License-Identifier: Apache-2.0 */
/* JSON strict parsing and RFC 8785 canonicalization, with the RFC's own examples. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "jcs.h"
#include "json.h"

static void canon_eq(const char *in, const char *want) {
        _cleanup_free_ char *out = NULL;
        struct gc_error err = {};
        size_t len;

        int r = jcs_canonicalize(in, strlen(in), &out, &len, &err);
        if (r < 0)
                fail_msg("canonicalize %s: %s %s", in, err.field, err.message);
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
}

static void refused(const char *in, const char *code) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error err = {};

        int r = json_parse(in, strlen(in), &doc, &err);
        if (r >= 0)
                fail_msg("accepted: %s", in);
        assert_null(doc);
        assert_string_equal(err.code, code);
}

static double from_bits(uint64_t bits) {
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
}

/* RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text. */
static void test_rfc8785_numbers(void **state) {
        static const struct {
                uint64_t bits;
                const char *text;
        } v[] = {
                { 0x0000000000000000, "0" },
                { 0x8000000000000000, "0" },
                { 0x0000000000000001, "5e-324" },
                { 0x8000000000000001, "-5e-324" },
                { 0x7fefffffffffffff, "1.7976931348623157e+308" },
                { 0xffefffffffffffff, "-1.7976931348623157e+308" },
                { 0x4340000000000000, "9007199254740992" },
                { 0xc340000000000000, "-9007199254740992" },
                { 0x4430000000000000, "295147905179352830000" },
                { 0x44b52d02c7e14af5, "9.999999999999997e+22" },
                { 0x44b52d02c7e14af6, "1e+23" },
                { 0x44b52d02c7e14af7, "1.0000000000000001e+23" },
                { 0x444b1ae4d6e2ef4e, "999999999999999700000" },
                { 0x444b1ae4d6e2ef4f, "999999999999999900000" },
                { 0x444b1ae4d6e2ef50, "1e+21" },
                { 0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7" },
                { 0x3eb0c6f7a0b5ed8d, "0.000001" },
                { 0x41b3de4355555553, "333333333.3333332" },
                { 0x41b3de4355555554, "333333333.33333325" },
                { 0x41b3de4355555555, "333333333.3333333" },
                { 0x41b3de4355555556, "333333333.3333334" },
                { 0x41b3de4355555557, "333333333.33333343" },
                { 0xbecbf647612f3696, "-0.0000033333333333333333" },
                { 0x43143ff3c1cb0959, "1424953923781206.2" },
        };
        char buf[JCS_NUMBER_MAX];

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                assert_int_equal(jcs_format_number(from_bits(v[i].bits), buf), 0);
                if (strcmp(buf, v[i].text) != 0)
                        fail_msg("%016llx: got %s, want %s", (unsigned long long) v[i].bits, buf, v[i].text);
        }
        /* NaN and the infinities have no JSON form. */
        assert_int_equal(jcs_format_number(from_bits(0x7ff8000000000000), buf), -EDOM);
        assert_int_equal(jcs_format_number(from_bits(0x7ff0000000000000), buf), -EDOM);
        assert_int_equal(jcs_format_number(from_bits(0xfff0000000000000), buf), -EDOM);
}

static void test_number_forms(void **state) {
        char buf[JCS_NUMBER_MAX];
        static const struct {
                double d;
                const char *text;
        } v[] = {
                { 1, "1" }, { -1, "-1" }, { 0.5, "0.5" }, { 100, "100" }, { 1e21, "1e+21" },
                { 1e20, "100000000000000000000" }, { 1e-6, "0.000001" }, { 1e-7, "1e-7" },
                { 123e-20, "1.23e-18" }, { 4.5, "4.5" }, { 0.002, "0.002" }, { 1e30, "1e+30" },
                { 5120, "5120" }, { 0.1, "0.1" }, { 14.9, "14.9" },
        };
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                assert_int_equal(jcs_format_number(v[i].d, buf), 0);
                assert_string_equal(buf, v[i].text);
        }
}

/* RFC 8785 §3.2.2: the sample's input and its canonical output. */
static void test_rfc8785_sample(void **state) {
        canon_eq("{\n"
                 "  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n"
                 "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
                 "  \"literals\": [null, true, false]\n"
                 "}",
                 "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
                 "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

/* RFC 8785 §3.2.3: members sorted by UTF-16 code units, so the emoji
 * (a surrogate pair, D83D) sorts before U+FB33. */
static void test_rfc8785_sorting(void **state) {
        canon_eq("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\","
                 "\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\","
                 "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}",
                 "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
                 "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
                 "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
                 "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

static void test_nesting_and_chinese(void **state) {
        canon_eq("{ \"b\" : [ {\"z\":1, \"a\":[]} , {} ], \"a\" : \"\xe5\xb8\x82xx\xe5\xb1\x80\" }",
                 "{\"a\":\"\xe5\xb8\x82xx\xe5\xb1\x80\",\"b\":[{\"a\":[],\"z\":1},{}]}");
        /* Canonical output is a fixed point. */
        canon_eq("{\"a\":\"\xe5\xb8\x82xx\xe5\xb1\x80\",\"b\":[{\"a\":[],\"z\":1},{}]}",
                 "{\"a\":\"\xe5\xb8\x82xx\xe5\xb1\x80\",\"b\":[{\"a\":[],\"z\":1},{}]}");
        canon_eq("\"\\u007f\\u2028\"", "\"\x7f\xe2\x80\xa8\"");
        canon_eq("  true ", "true");
}

static void test_strictness(void **state) {
        refused("{\"a\":1,\"a\":2}", "duplicate_key");
        refused("{\"x\":{\"a\":1,\"b\":2,\"a\":3}}", "duplicate_key");
        refused("01", "invalid_json");
        refused("1.", "invalid_json");
        refused("-", "invalid_json");
        refused(".5", "invalid_json");
        refused("+1", "invalid_json");
        refused("1e400", "invalid_json");
        refused("\"a\x01" "b\"", "invalid_json");
        refused("\"\\u0000\"", "invalid_json");
        refused("\"\\ud800\"", "invalid_json");
        refused("\"\xff\"", "invalid_json");
        refused("\"\xc0\xaf\"", "invalid_json");            /* overlong '/' */
        refused("\"\xed\xa0\x80\"", "invalid_json");        /* encoded surrogate */
        refused("[1,]", "invalid_json");
        refused("{\"a\":1} x", "invalid_json");
        refused("", "invalid_json");
        refused("NaN", "invalid_json");

        char deep[200];
        memset(deep, '[', 65);
        memset(deep + 65, ']', 65);
        deep[130] = 0;
        refused(deep, "invalid_json");
        memset(deep, '[', 64);                      /* 64 levels: the limit, accepted */
        memset(deep + 64, ']', 64);
        deep[128] = 0;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error err = {};
        assert_int_equal(json_parse(deep, strlen(deep), &doc, &err), 0);
}

static void test_duplicate_path(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error err = {};
        const char *in = "{\"trial\":{\"max\":1,\"max\":2}}";

        assert_int_equal(json_parse(in, strlen(in), &doc, &err), -EINVAL);
        assert_string_equal(err.field, "$.trial.max");

        const char *in2 = "[0, {\"a b\":1, \"a b\":1}]";
        assert_int_equal(json_parse(in2, strlen(in2), &doc, &err), -EINVAL);
        assert_string_equal(err.field, "$[1][\"a b\"]");
}

static void test_serialize_refuses(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        struct gc_buf b = GC_BUF_INIT(1024);

        cJSON_AddNumberToObject(o, "x", 1.0 / 0.0 * 0.0);     /* NaN */
        assert_int_equal(jcs_serialize(o, &b), -EINVAL);
        assert_int_equal(b.len, 0);

        _cleanup_(cJSON_Deletep) cJSON *s = cJSON_CreateString("\xff");
        assert_int_equal(jcs_serialize(s, &b), -EINVAL);

        /* The buffer's cap holds. */
        struct gc_buf small = GC_BUF_INIT(4);
        _cleanup_(cJSON_Deletep) cJSON *long_s = cJSON_CreateString("abcdefgh");
        assert_int_equal(jcs_serialize(long_s, &small), -ENOBUFS);
        gc_buf_free(&small);
        gc_buf_free(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc8785_numbers),
                cmocka_unit_test(test_number_forms),
                cmocka_unit_test(test_rfc8785_sample),
                cmocka_unit_test(test_rfc8785_sorting),
                cmocka_unit_test(test_nesting_and_chinese),
                cmocka_unit_test(test_strictness),
                cmocka_unit_test(test_duplicate_path),
                cmocka_unit_test(test_serialize_refuses),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
