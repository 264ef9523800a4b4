/* SPDX-License-Identifier: Apache-2.0 */
/* The trial period (R-LC2): Baotou 1 month, Lu'an and Zhumadian 15-30 days, Sichuan none. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "trial.h"

/* B11: 测试期原则上为1个月. */
static const struct trial_policy baotou = {
        .unit = TRIAL_MONTHS, .min = 1, .max = 1, .extension_allowed = false, .max_extension = 0,
};
/* L14, Z16: 15-30 days, extendable with the authority's consent. */
static const struct trial_policy luan = {
        .unit = TRIAL_DAYS, .min = 15, .max = 30, .extension_allowed = true, .max_extension = -1,
};
/* Sichuan: no trial stage. */
static const struct trial_policy sichuan = {
        .unit = TRIAL_NONE, .min = -1, .max = -1, .extension_allowed = false, .max_extension = -1,
};

static void assert_trial_refused(int r, const struct gc_error *err, const char *value) {
        assert_int_equal(r, -ERANGE);
        assert_string_equal(err->field, "trial_length");
        assert_string_equal(err->value, value);
        assert_string_equal(err->rule, "R-LC2");
}

static void test_resolve_days(void **state) {
        struct gc_error err = { 0 };
        long length = 99;

        assert_trial_refused(trial_resolve(&luan, 14, &length, &err), &err, "14");
        assert_non_null(strstr(err.message, "15"));
        assert_non_null(strstr(err.message, "30"));
        assert_non_null(strstr(err.message, "days"));
        assert_int_equal(length, 99);   /* untouched on failure */

        assert_int_equal(trial_resolve(&luan, 15, &length, &err), 0);
        assert_int_equal(length, 15);
        assert_int_equal(trial_resolve(&luan, 30, &length, &err), 0);
        assert_int_equal(length, 30);
        assert_trial_refused(trial_resolve(&luan, 31, &length, &err), &err, "31");
        assert_trial_refused(trial_resolve(&luan, 0, &length, &err), &err, "0");
        assert_int_equal(length, 30);
        /* Not given: the pack's maximum. */
        assert_int_equal(trial_resolve(&luan, -1, &length, &err), 0);
        assert_int_equal(length, 30);
}

static void test_resolve_months(void **state) {
        struct gc_error err = { 0 };
        long length = 99;

        assert_int_equal(trial_resolve(&baotou, -1, &length, &err), 0);
        assert_int_equal(length, 1);
        assert_int_equal(trial_resolve(&baotou, 1, &length, &err), 0);
        assert_int_equal(length, 1);
        assert_trial_refused(trial_resolve(&baotou, 2, &length, &err), &err, "2");
        assert_non_null(strstr(err.message, "1 month"));
        assert_trial_refused(trial_resolve(&baotou, 0, &length, &err), &err, "0");
        assert_int_equal(length, 1);
}

static void test_resolve_none(void **state) {
        struct gc_error err = { 0 };
        long length = 99;

        assert_int_equal(trial_resolve(&sichuan, -1, &length, &err), 0);
        assert_int_equal(length, 0);
        assert_int_equal(trial_resolve(&sichuan, 0, &length, &err), 0);
        assert_int_equal(length, 0);
        length = 99;
        assert_trial_refused(trial_resolve(&sichuan, 15, &length, &err), &err, "15");
        assert_non_null(strstr(err.message, "no trial"));
        assert_int_equal(length, 99);
}

/* Null bounds: no lower bound but 1, no upper bound. */
static void test_resolve_open_bounds(void **state) {
        struct trial_policy open = { .unit = TRIAL_DAYS, .min = -1, .max = -1 };
        struct trial_policy at_least = { .unit = TRIAL_DAYS, .min = 10, .max = -1 };
        struct gc_error err = { 0 };
        long length = 99;

        assert_int_equal(trial_resolve(&open, 1, &length, &err), 0);
        assert_int_equal(length, 1);
        assert_int_equal(trial_resolve(&open, 365, &length, &err), 0);
        assert_int_equal(length, 365);
        assert_trial_refused(trial_resolve(&open, 0, &length, &err), &err, "0");
        assert_non_null(strstr(err.message, "at least 1 day"));
        /* Not given, no maximum: the minimum. */
        assert_int_equal(trial_resolve(&open, -1, &length, &err), 0);
        assert_int_equal(length, 1);
        assert_int_equal(trial_resolve(&at_least, -1, &length, &err), 0);
        assert_int_equal(length, 10);
        assert_trial_refused(trial_resolve(&at_least, 9, &length, &err), &err, "9");
}

static int64_t at(const struct calendar *c, int y, unsigned m, unsigned d, int hh, int mm) {
        return calendar_day_start(c, calendar_days_from_civil(y, m, d)) + hh * 3600 + mm * 60;
}

static void test_end(void **state) {
        struct calendar cst = CALENDAR_INIT(480);

        /* One month from 31 Jan ends on 28 Feb at the same time of day; 29 Feb in a leap year. */
        assert_int_equal(trial_end(&baotou, &cst, at(&cst, 2026, 1, 31, 14, 5), 1), at(&cst, 2026, 2, 28, 14, 5));
        assert_int_equal(at(&cst, 2026, 1, 31, 10, 0), INT64_C(1769824800));    /* date(1) */
        assert_int_equal(trial_end(&baotou, &cst, INT64_C(1769824800), 1), INT64_C(1772244000));
        assert_int_equal(trial_end(&baotou, &cst, at(&cst, 2024, 1, 31, 9, 0), 1), at(&cst, 2024, 2, 29, 9, 0));
        assert_int_equal(trial_end(&baotou, &cst, at(&cst, 2026, 3, 15, 9, 0), 1), at(&cst, 2026, 4, 15, 9, 0));
        /* Days. */
        assert_int_equal(trial_end(&luan, &cst, at(&cst, 2026, 1, 31, 9, 0), 30), at(&cst, 2026, 3, 2, 9, 0));
        assert_int_equal(trial_end(&luan, &cst, at(&cst, 2026, 2, 14, 23, 59), 15), at(&cst, 2026, 3, 1, 23, 59));
        /* No trial, or length 0: it ends where it starts. */
        assert_int_equal(trial_end(&sichuan, &cst, at(&cst, 2026, 1, 31, 9, 0), 0), at(&cst, 2026, 1, 31, 9, 0));
        assert_int_equal(trial_end(&luan, &cst, at(&cst, 2026, 1, 31, 9, 0), 0), at(&cst, 2026, 1, 31, 9, 0));
}

static void test_extension(void **state) {
        struct trial_policy bounded = luan;
        struct gc_error err = { 0 };

        /* Unbounded: any extension with the authority's consent. */
        assert_int_equal(trial_check_extension(&luan, 0, 15, &err), 0);
        assert_int_equal(trial_check_extension(&luan, 100, 100, &err), 0);
        assert_string_equal(err.rule, "");

        /* Where the pack has none. */
        assert_int_equal(trial_check_extension(&baotou, 0, 1, &err), -EPERM);
        assert_string_equal(err.field, "trial_extension");
        assert_string_equal(err.value, "1");
        assert_string_equal(err.rule, "R-LC2");
        assert_non_null(strstr(err.message, "does not allow"));
        memset(&err, 0, sizeof err);
        assert_int_equal(trial_check_extension(&sichuan, 0, 1, &err), -EPERM);
        assert_string_equal(err.rule, "R-LC2");

        /* Bounded at 15 days in all. */
        bounded.max_extension = 15;
        assert_int_equal(trial_check_extension(&bounded, 0, 15, &err), 0);
        assert_int_equal(trial_check_extension(&bounded, 10, 5, &err), 0);
        assert_int_equal(trial_check_extension(&bounded, 0, 16, &err), -ERANGE);
        assert_string_equal(err.field, "trial_extension");
        assert_string_equal(err.value, "16");
        assert_string_equal(err.rule, "R-LC2");
        assert_non_null(strstr(err.message, "15 days"));
        memset(&err, 0, sizeof err);
        assert_int_equal(trial_check_extension(&bounded, 10, 6, &err), -ERANGE);
        assert_string_equal(err.rule, "R-LC2");
        assert_non_null(strstr(err.message, "already extended by 10 days"));
        assert_int_equal(trial_check_extension(&bounded, 15, 1, NULL), -ERANGE);
        assert_int_equal(trial_check_extension(&bounded, 0, LONG_MAX, NULL), -ERANGE);

        /* An extension of nothing. */
        assert_int_equal(trial_check_extension(&luan, 0, 0, &err), -EINVAL);
        assert_string_equal(err.field, "trial_extension");
        assert_int_equal(trial_check_extension(&luan, 0, -3, &err), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolve_days),
                cmocka_unit_test(test_resolve_months),
                cmocka_unit_test(test_resolve_none),
                cmocka_unit_test(test_resolve_open_bounds),
                cmocka_unit_test(test_end),
                cmocka_unit_test(test_extension),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
