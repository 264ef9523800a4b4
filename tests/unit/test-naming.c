/* SPDX-License-Identifier: Apache-2.0 */
/* The naming rule (R-NM1, R-NM2) with the example of B16. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "naming.h"

#define UNIT "市xx局"
#define SYSTEM "协同办公OA"
#define ROLE "应用服务器"

static void assert_refused(int r, int expected, const struct gc_error *err, const char *field, const char *rule) {
        assert_int_equal(r, expected);
        assert_string_equal(err->field, field);
        assert_string_equal(err->rule, rule);
        assert_true(strlen(err->message) > 0);
}

/* B16's own example: 市xx局协同办公OA应用服务器1. */
static void test_build_seed_example(void **state) {
        struct naming_parts parts = { .unit = UNIT, .system = SYSTEM, .role = ROLE, .number = 1 };
        struct gc_error err = { 0 };
        char *name = NULL, *role = NULL;
        unsigned number = 0;

        assert_int_equal(naming_build(&parts, &name, &err), 0);
        assert_string_equal(name, "市xx局协同办公OA应用服务器1");

        assert_int_equal(naming_check(name, UNIT, SYSTEM, &role, &number, &err), 0);
        assert_string_equal(role, "应用服务器");
        assert_int_equal(number, 1);
        free(role);
        free(name);
}

static void test_multi_digit_number(void **state) {
        struct naming_parts parts = { .unit = UNIT, .system = SYSTEM, .role = ROLE, .number = 12 };
        struct gc_error err = { 0 };
        char *name = NULL, *role = NULL;
        unsigned number = 0;

        assert_int_equal(naming_build(&parts, &name, &err), 0);
        assert_string_equal(name, "市xx局协同办公OA应用服务器12");
        assert_int_equal(naming_check(name, UNIT, SYSTEM, &role, &number, &err), 0);
        assert_string_equal(role, ROLE);
        assert_int_equal(number, 12);
        free(role);
        free(name);

        assert_int_equal(naming_check("市xx局协同办公OA数据库服务器4294967295", UNIT, SYSTEM, &role, &number, &err), 0);
        assert_string_equal(role, "数据库服务器");
        assert_int_equal(number, 4294967295u);
        free(role);
        /* A system name that ends in a digit is matched as given. */
        assert_int_equal(naming_check("市xx局OA2应用服务器3", UNIT, "OA2", &role, &number, &err), 0);
        assert_string_equal(role, ROLE);
        assert_int_equal(number, 3);
        free(role);
}

static void test_check_refusals(void **state) {
        struct gc_error err = { 0 };
        char *role = (char *) "untouched";
        unsigned number = 77;

        /* No number at the end. */
        assert_refused(naming_check("市xx局协同办公OA应用服务器", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_string_equal(err.value, "市xx局协同办公OA应用服务器");
        assert_non_null(strstr(err.message, "unit+system+role+number"));
        assert_non_null(strstr(err.message, "number"));
        /* Outputs untouched on failure. */
        assert_string_equal(role, "untouched");
        assert_int_equal(number, 77);

        /* The number 0 and a leading zero. */
        assert_refused(naming_check("市xx局协同办公OA应用服务器0", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "start at 1"));
        assert_refused(naming_check("市xx局协同办公OA应用服务器01", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "leading zero"));
        /* Too large for the number. */
        assert_refused(naming_check("市xx局协同办公OA应用服务器4294967296", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");

        /* The wrong unit: another unit, a shortened one, a different case. */
        assert_refused(naming_check("市yy局协同办公OA应用服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "unit"));
        assert_refused(naming_check("市XX局协同办公OA应用服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_refused(naming_check("xx局协同办公OA应用服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        /* The wrong system. */
        assert_refused(naming_check("市xx局协同办公应用服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "system"));
        assert_refused(naming_check("市xx局财务系统应用服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        /* No role between the system and the number. */
        assert_refused(naming_check("市xx局协同办公OA1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "role"));
        /* A role with white space at its edge, or ending in a full-width digit. */
        assert_refused(naming_check("市xx局协同办公OA 应用服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "role"));
        assert_refused(naming_check("市xx局协同办公OA应用服务器 1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_refused(naming_check("市xx局协同办公OA应用服务器１2", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");

        /* The name itself: empty, white space, control characters, bad UTF-8. */
        assert_refused(naming_check("", UNIT, SYSTEM, &role, &number, &err), -EINVAL, &err, "name", "R-NM2");
        assert_refused(naming_check(NULL, UNIT, SYSTEM, &role, &number, &err), -EINVAL, &err, "name", "R-NM2");
        assert_refused(naming_check(" 市xx局协同办公OA应用服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_refused(naming_check("市xx局协同办公OA应用服务器1 ", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_refused(naming_check("市xx局协同办公OA应用服务器1\n", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_refused(naming_check("市xx局协同办公OA应用\x1b服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "control"));
        assert_non_null(strstr(err.value, "\\u001b"));   /* shown escaped, not raw */
        assert_refused(naming_check("市xx局协同办公OA应用\xff服务器1", UNIT, SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "UTF-8"));

        /* The unit and system given to compare with are checked too (R-NM1). */
        assert_refused(naming_check("市xx局协同办公OA应用服务器1", "", SYSTEM, &role, &number, &err),
                       -EINVAL, &err, "unit", "R-NM1");
        assert_refused(naming_check("市xx局协同办公OA应用服务器1", UNIT, "协同办公OA ", &role, &number, &err),
                       -EINVAL, &err, "system", "R-NM1");

        assert_string_equal(role, "untouched");
        assert_int_equal(number, 77);
}

static void test_build_refusals(void **state) {
        struct gc_error err = { 0 };
        char *name = (char *) "untouched";
        struct naming_parts p;

        /* Number 0. */
        p = (struct naming_parts) { .unit = UNIT, .system = SYSTEM, .role = ROLE, .number = 0 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "number", "R-NM2");
        assert_string_equal(err.value, "0");
        /* A role ending in a digit: "服务器1" + 2 would read as 12. */
        p = (struct naming_parts) { .unit = UNIT, .system = SYSTEM, .role = "应用服务器1", .number = 2 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "role", "R-NM2");
        assert_string_equal(err.value, "应用服务器1");
        assert_non_null(strstr(err.message, "digit"));
        p.role = "应用服务器３";
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "role", "R-NM2");
        /* Empty parts. */
        p = (struct naming_parts) { .unit = "", .system = SYSTEM, .role = ROLE, .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "unit", "R-NM1");
        assert_non_null(strstr(err.message, "empty"));
        assert_non_null(strstr(err.message, "unit"));
        p = (struct naming_parts) { .unit = UNIT, .system = NULL, .role = ROLE, .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "system", "R-NM1");
        p = (struct naming_parts) { .unit = UNIT, .system = SYSTEM, .role = "", .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "role", "R-NM2");
        /* Leading and trailing white space, also the ideographic space U+3000. */
        p = (struct naming_parts) { .unit = " 市xx局", .system = SYSTEM, .role = ROLE, .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "unit", "R-NM1");
        assert_non_null(strstr(err.message, "white space"));
        p = (struct naming_parts) { .unit = UNIT, .system = "协同办公OA\t", .role = ROLE, .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "system", "R-NM1");
        p = (struct naming_parts) { .unit = UNIT, .system = "协同办公OA　", .role = ROLE, .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "system", "R-NM1");
        assert_non_null(strstr(err.message, "ends with white space"));
        p = (struct naming_parts) { .unit = UNIT, .system = SYSTEM, .role = "\u00a0应用服务器", .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "role", "R-NM2");
        /* Control characters, including C1 and a bidirectional override. */
        p = (struct naming_parts) { .unit = "市xx\x07局", .system = SYSTEM, .role = ROLE, .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "unit", "R-NM1");
        assert_non_null(strstr(err.message, "U+0007"));
        p = (struct naming_parts) { .unit = UNIT, .system = "协同\xc2\x85办公OA", .role = ROLE, .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "system", "R-NM1");
        p = (struct naming_parts) { .unit = UNIT, .system = SYSTEM, .role = "应用\u202e服务器", .number = 1 };
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "role", "R-NM2");
        /* Invalid UTF-8: a lone continuation byte, an overlong '/', a surrogate, a cut sequence. */
        const char *bad_utf8[] = { "市xx\x80局", "\xc0\xaf", "\xed\xa0\x80", "市xx局\xe5\xb1" };
        for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
                p = (struct naming_parts) { .unit = bad_utf8[i], .system = SYSTEM, .role = ROLE, .number = 1 };
                assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "unit", "R-NM1");
                assert_non_null(strstr(err.message, "UTF-8"));
                assert_string_equal(err.value, "");     /* not text: not shown */
        }
        /* Interior white space is allowed. */
        p = (struct naming_parts) { .unit = UNIT, .system = "协同办公 OA", .role = ROLE, .number = 1 };
        assert_int_equal(naming_build(&p, &name, &err), 0);
        assert_string_equal(name, "市xx局协同办公 OA应用服务器1");
        free(name);
}

static void test_length(void **state) {
        struct gc_error err = { 0 };
        char unit[NAMING_NAME_MAX + 2], *name = NULL, *role = NULL;
        unsigned number = 0;
        struct naming_parts p = { .unit = unit, .system = "S", .role = "R", .number = 1 };

        /* 509 + "S" + "R" + "1" = 512 bytes: the most there may be. */
        memset(unit, 'u', 509);
        unit[509] = 0;
        assert_int_equal(naming_build(&p, &name, &err), 0);
        assert_int_equal(strlen(name), NAMING_NAME_MAX);
        assert_int_equal(naming_check(name, unit, "S", &role, &number, &err), 0);
        assert_string_equal(role, "R");
        free(role);
        free(name);

        /* One byte more. */
        memset(unit, 'u', 510);
        unit[510] = 0;
        name = NULL;
        assert_refused(naming_build(&p, &name, &err), -EINVAL, &err, "name", "R-NM2");
        assert_null(name);
        assert_non_null(strstr(err.message, "512"));
        /* The value is shortened, marked with "...". */
        assert_true(strlen(err.value) < GC_ERROR_VALUE_MAX);
        assert_non_null(strstr(err.value, "..."));

        /* A name over the limit is refused as it is. */
        char big[NAMING_NAME_MAX + 2];
        memset(big, 'n', NAMING_NAME_MAX + 1);
        big[NAMING_NAME_MAX + 1] = 0;
        assert_refused(naming_check(big, "n", "n", &role, &number, &err), -EINVAL, &err, "name", "R-NM2");
        assert_non_null(strstr(err.message, "513"));
        /* A part alone over the limit. */
        memset(unit, 'u', NAMING_NAME_MAX + 1);
        unit[NAMING_NAME_MAX + 1] = 0;
        assert_refused(naming_check_part(unit, "unit", &err), -EINVAL, &err, "unit", "R-NM1");
}

static void test_check_part(void **state) {
        struct gc_error err = { 0 };

        assert_int_equal(naming_check_part("市xx局", "unit", &err), 0);
        assert_int_equal(naming_check_part("a", "role", NULL), 0);
        assert_refused(naming_check_part("", "unit", &err), -EINVAL, &err, "unit", "R-NM1");
        assert_refused(naming_check_part("", "role", &err), -EINVAL, &err, "role", "R-NM2");
        assert_refused(naming_check_part(" x", "vms[2].system", &err), -EINVAL, &err, "vms[2].system", "R-NM1");
        assert_refused(naming_check_part("x\x7f", "name", &err), -EINVAL, &err, "name", "R-NM2");
        assert_string_equal(err.value, "x\\u007f");
        /* NULL err is allowed. */
        assert_int_equal(naming_check_part("", "unit", NULL), -EINVAL);
}

/* R-NM2: unique within a resource pool. */
static void test_unique(void **state) {
        const char *pool[] = { "市xx局协同办公OA应用服务器1", NULL, "市xx局协同办公OA数据库服务器1" };
        struct gc_error err = { 0 };

        assert_int_equal(naming_check_unique("市xx局协同办公OA应用服务器2", pool, 3, &err), 0);
        assert_int_equal(naming_check_unique("市xx局协同办公OA应用服务器1", pool, 0, &err), 0);
        assert_int_equal(naming_check_unique("市xx局协同办公OA应用服务器1", NULL, 0, &err), 0);
        assert_refused(naming_check_unique("市xx局协同办公OA应用服务器1", pool, 3, &err), -EEXIST, &err, "name", "R-NM2");
        assert_string_equal(err.value, "市xx局协同办公OA应用服务器1");
        assert_non_null(strstr(err.message, "resource pool"));
        assert_refused(naming_check_unique("市xx局协同办公OA数据库服务器1", pool, 3, &err), -EEXIST, &err, "name", "R-NM2");
        /* A prefix of a used name is another name. */
        assert_int_equal(naming_check_unique("市xx局协同办公OA应用服务器", pool, 3, &err), 0);
        assert_int_equal(naming_check_unique("市xx局协同办公OA应用服务器11", pool, 3, &err), 0);
}

/* What reaches a person: field, value, message, rule. */
static void test_format(void **state) {
        struct gc_error err = { 0 };
        char buf[GC_ERROR_FORMAT_MAX];

        assert_int_equal(naming_check("web1", UNIT, SYSTEM, NULL, NULL, &err), -EINVAL);
        gc_error_prefix_field(&err, "vms[2]");
        gc_error_format(&err, buf, sizeof buf);
        assert_non_null(strstr(buf, "vms[2].name: \"web1\" does not follow unit+system+role+number"));
        assert_non_null(strstr(buf, "(R-NM2)"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_build_seed_example),
                cmocka_unit_test(test_multi_digit_number),
                cmocka_unit_test(test_check_refusals),
                cmocka_unit_test(test_build_refusals),
                cmocka_unit_test(test_length),
                cmocka_unit_test(test_check_part),
                cmocka_unit_test(test_unique),
                cmocka_unit_test(test_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
