/* SPDX-License-Identifier: Apache-2.0 */
/* Major change (R-RQ2) and change frequency (R-RQ3). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "change.h"

/* Lu'an (L16): more than 10 VMs, 40 cores, 80 GB memory, 5 TB storage. */
static const struct change_major_policy luan = {
        .new_vms_over = 10,
        .cpu_cores_over = 40,
        .memory_gib_over = 80,
        .storage_gib_over = 5120,
};

static int major(const struct change_delta *d, struct gc_error *err) {
        memset(err, 0, sizeof *err);
        return change_major_dimensions(&luan, d, err);
}

/* Each dimension alone, at the threshold and one above: "more than". */
static void test_major_each_dimension(void **state) {
        struct gc_error err;

        assert_int_equal(major(&(struct change_delta) { .new_vms = 10 }, &err), 0);
        assert_string_equal(err.rule, "");
        assert_int_equal(major(&(struct change_delta) { .new_vms = 11 }, &err), CHANGE_MAJOR_VMS);
        assert_string_equal(err.field, "new_vms");
        assert_string_equal(err.value, "11");
        assert_string_equal(err.rule, "R-RQ2");
        assert_non_null(strstr(err.message, "10"));

        assert_int_equal(major(&(struct change_delta) { .cpu_cores = 40 }, &err), 0);
        assert_int_equal(major(&(struct change_delta) { .cpu_cores = 41 }, &err), CHANGE_MAJOR_CPU);
        assert_string_equal(err.field, "cpu_cores");
        assert_string_equal(err.value, "41");
        assert_string_equal(err.rule, "R-RQ2");
        assert_non_null(strstr(err.message, "40"));

        assert_int_equal(major(&(struct change_delta) { .memory_gib = 80 }, &err), 0);
        assert_int_equal(major(&(struct change_delta) { .memory_gib = 81 }, &err), CHANGE_MAJOR_MEMORY);
        assert_string_equal(err.field, "memory_gib");
        assert_string_equal(err.value, "81");
        assert_string_equal(err.rule, "R-RQ2");

        assert_int_equal(major(&(struct change_delta) { .storage_gib = 5120 }, &err), 0);
        assert_int_equal(major(&(struct change_delta) { .storage_gib = 5121 }, &err), CHANGE_MAJOR_STORAGE);
        assert_string_equal(err.field, "storage_gib");
        assert_string_equal(err.value, "5121");
        assert_string_equal(err.rule, "R-RQ2");
        assert_non_null(strstr(err.message, "5120"));

        /* All at their thresholds: not major. */
        assert_int_equal(major(&(struct change_delta) { 10, 40, 80, 5120 }, &err), 0);
        assert_string_equal(err.field, "");
        /* Decreases count as no increase. */
        assert_int_equal(major(&(struct change_delta) { -20, -100, -200, -10000 }, &err), 0);
}

static void test_major_several(void **state) {
        struct gc_error err;

        assert_int_equal(major(&(struct change_delta) { 11, 41, 81, 5121 }, &err),
                         CHANGE_MAJOR_VMS | CHANGE_MAJOR_CPU | CHANGE_MAJOR_MEMORY | CHANGE_MAJOR_STORAGE);
        assert_string_equal(err.field, "new_vms");
        assert_string_equal(err.rule, "R-RQ2");

        assert_int_equal(major(&(struct change_delta) { 3, 41, 20, 6000 }, &err),
                         CHANGE_MAJOR_CPU | CHANGE_MAJOR_STORAGE);
        assert_string_equal(err.field, "cpu_cores");
        assert_string_equal(err.value, "41");
        assert_non_null(strstr(err.message, "storage_gib"));    /* the others are named too */

        assert_int_equal(major(&(struct change_delta) { 0, 0, 81, 5121 }, &err),
                         CHANGE_MAJOR_MEMORY | CHANGE_MAJOR_STORAGE);
        assert_string_equal(err.field, "memory_gib");
}

/* -1 (pack null): the dimension never trips. */
static void test_major_unregulated(void **state) {
        struct change_major_policy none = { -1, -1, -1, -1 }, some = { -1, 40, -1, 5120 };
        struct change_delta huge = { 100000, 100000, 100000, 100000000 };
        struct gc_error err = { 0 };

        assert_int_equal(change_major_dimensions(&none, &huge, &err), 0);
        assert_string_equal(err.rule, "");
        assert_int_equal(change_major_dimensions(&some, &huge, &err), CHANGE_MAJOR_CPU | CHANGE_MAJOR_STORAGE);
        assert_string_equal(err.field, "cpu_cores");
        assert_int_equal(change_major_dimensions(&some, &(struct change_delta) { 1000, 0, 1000, 0 }, &err), 0);
        /* NULL err is allowed. */
        assert_int_equal(change_major_dimensions(&luan, &huge, NULL), 15);
        /* A threshold of 0: any increase is major. */
        struct change_major_policy zero = { 0, 0, 0, 0 };
        assert_int_equal(change_major_dimensions(&zero, &(struct change_delta) { 1, 0, 0, 0 }, &err), CHANGE_MAJOR_VMS);
        assert_int_equal(change_major_dimensions(&zero, &(struct change_delta) { 0, 0, 0, 0 }, &err), 0);
}

/* Unix times from date(1). */
#define T_2026_01_31_1530Z INT64_C(1769873400)  /* 2026-01-31T23:30+08:00 */
#define T_2026_01_31_1610Z INT64_C(1769875800)  /* 2026-02-01T00:10+08:00 */
#define T_2026_01_31_1630Z (T_2026_01_31_1610Z + 20 * 60)     /* 2026-02-01T00:30+08:00 */
#define T_2026_02_01_0100Z (T_2026_01_31_1530Z + (9 * 60 + 30) * 60) /* 2026-02-01T09:00+08:00 */

static const struct change_frequency_policy once_a_month = { .max_per_calendar_month = 1, .exception_allowed = true };

/* R-RQ3: 23:30 on 31 Jan and 00:10 on 1 Feb in +08:00 are two months,
 * though both are 31 Jan in UTC. */
static void test_frequency_month_in_offset(void **state) {
        struct calendar cst = CALENDAR_INIT(480), utc = CALENDAR_INIT(0);
        int64_t jan = T_2026_01_31_1530Z;
        struct gc_error err = { 0 };

        assert_int_equal(change_frequency_check(&once_a_month, &cst, &jan, 1, T_2026_01_31_1610Z, false, &err), 0);
        assert_string_equal(err.rule, "");
        /* In UTC the same pair is one month: refused. */
        assert_int_equal(change_frequency_check(&once_a_month, &utc, &jan, 1, T_2026_01_31_1610Z, false, &err), -EBUSY);
        assert_string_equal(err.rule, "R-RQ3");
        assert_string_equal(err.value, "2026-01");
}

/* And the other way: 16:30Z on 31 Jan and 01:00Z on 1 Feb are two months in
 * UTC, but both 1 Feb in +08:00: one month, the second refused. */
static void test_frequency_same_month_in_offset(void **state) {
        struct calendar cst = CALENDAR_INIT(480), utc = CALENDAR_INIT(0);
        int64_t first = T_2026_01_31_1630Z;
        struct gc_error err = { 0 };

        assert_int_equal(change_frequency_check(&once_a_month, &utc, &first, 1, T_2026_02_01_0100Z, false, &err), 0);
        assert_int_equal(change_frequency_check(&once_a_month, &cst, &first, 1, T_2026_02_01_0100Z, false, &err), -EBUSY);
        assert_string_equal(err.rule, "R-RQ3");
        assert_string_equal(err.field, "month");
        assert_string_equal(err.value, "2026-02");
        assert_string_equal(err.code, "change_limit");
        assert_non_null(strstr(err.message, "1 a month"));
        assert_non_null(strstr(err.message, "exception"));
        assert_non_null(strstr(err.message, "+08:00"));
}

static void test_frequency_exception(void **state) {
        struct calendar cst = CALENDAR_INIT(480);
        struct change_frequency_policy strict = { .max_per_calendar_month = 1, .exception_allowed = false };
        int64_t first = T_2026_01_31_1630Z;
        struct gc_error err = { 0 };

        /* Marked as an exception where the pack allows it: accepted. */
        assert_int_equal(change_frequency_check(&once_a_month, &cst, &first, 1, T_2026_02_01_0100Z, true, &err), 0);
        assert_string_equal(err.rule, "");
        /* Where the pack does not: refused all the same. */
        assert_int_equal(change_frequency_check(&strict, &cst, &first, 1, T_2026_02_01_0100Z, true, &err), -EBUSY);
        assert_string_equal(err.rule, "R-RQ3");
        assert_non_null(strstr(err.message, "does not allow"));
        memset(&err, 0, sizeof err);
        assert_int_equal(change_frequency_check(&strict, &cst, &first, 1, T_2026_02_01_0100Z, false, &err), -EBUSY);
        assert_string_equal(err.rule, "R-RQ3");
        /* NULL err is allowed. */
        assert_int_equal(change_frequency_check(&strict, &cst, &first, 1, T_2026_02_01_0100Z, false, NULL), -EBUSY);
}

static void test_frequency_limits(void **state) {
        struct calendar cst = CALENDAR_INIT(480);
        struct change_frequency_policy unlimited = { .max_per_calendar_month = -1 };
        struct change_frequency_policy twice = { .max_per_calendar_month = 2 };
        int64_t feb = T_2026_02_01_0100Z;
        int64_t prior[] = { feb, feb + 86400, feb + 2 * 86400, feb + 3 * 86400 };
        /* 1 Jan, 31 Jan (local) and 1 Mar 2026 in +08:00. */
        int64_t elsewhere[] = { feb - 31 * 86400, T_2026_01_31_1530Z, feb + 28 * 86400 };
        struct gc_error err = { 0 };
        int64_t now = feb + 10 * 86400;

        /* -1: no limit. */
        assert_int_equal(change_frequency_check(&unlimited, &cst, prior, 4, now, false, &err), 0);
        /* No earlier change: accepted. */
        assert_int_equal(change_frequency_check(&once_a_month, &cst, NULL, 0, now, false, &err), 0);
        /* Changes in other months do not count. */
        assert_int_equal(change_frequency_check(&once_a_month, &cst, elsewhere, 3, now, false, &err), 0);
        /* Two a month: the second accepted, the third refused. */
        assert_int_equal(change_frequency_check(&twice, &cst, prior, 1, now, false, &err), 0);
        assert_int_equal(change_frequency_check(&twice, &cst, prior, 2, now, false, &err), -EBUSY);
        assert_string_equal(err.rule, "R-RQ3");
        assert_non_null(strstr(err.message, "2 changes"));
        assert_non_null(strstr(err.message, "2 a month"));
        /* The last second of February and the first of March in +08:00. */
        int64_t mar = feb + 28 * 86400 - 9 * 3600;    /* 2026-03-01T00:00+08:00 */
        assert_int_equal(calendar_month_index(&cst, mar), 2026 * 12 + 2);
        assert_int_equal(change_frequency_check(&once_a_month, &cst, &feb, 1, mar - 1, false, &err), -EBUSY);
        assert_int_equal(change_frequency_check(&once_a_month, &cst, &feb, 1, mar, false, &err), 0);
        /* 0 a month: no change at all without an exception. */
        struct change_frequency_policy never = { .max_per_calendar_month = 0, .exception_allowed = true };
        assert_int_equal(change_frequency_check(&never, &cst, NULL, 0, now, false, &err), -EBUSY);
        assert_int_equal(change_frequency_check(&never, &cst, NULL, 0, now, true, &err), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_major_each_dimension),
                cmocka_unit_test(test_major_several),
                cmocka_unit_test(test_major_unregulated),
                cmocka_unit_test(test_frequency_month_in_offset),
                cmocka_unit_test(test_frequency_same_month_in_offset),
                cmocka_unit_test(test_frequency_exception),
                cmocka_unit_test(test_frequency_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
