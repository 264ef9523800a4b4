/* SPDX-License-Identifier: Apache-2.0 */
/* Civil dates, the fixed UTC offset and working days (R-LC6). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "calendar.h"

#define CST 480 /* +08:00 */

/* Reference values from Python's datetime and date(1): days since 1970-01-01. */
static void test_days_from_civil(void **state) {
        assert_int_equal(calendar_days_from_civil(1970, 1, 1), 0);
        assert_int_equal(calendar_days_from_civil(1969, 12, 31), -1);
        assert_int_equal(calendar_days_from_civil(2000, 3, 1), 11017);
        assert_int_equal(calendar_days_from_civil(1600, 3, 1), -135080);
        assert_int_equal(calendar_days_from_civil(1, 1, 1), -719162);
        assert_int_equal(calendar_days_from_civil(9999, 12, 31), 2932896);
        assert_int_equal(calendar_days_from_civil(2026, 1, 31), 20484);
        assert_int_equal(calendar_days_from_civil(2024, 2, 29), 19782);
        /* 1900 is not a leap year, 2000 is. */
        assert_int_equal(calendar_days_from_civil(1900, 3, 1) - calendar_days_from_civil(1900, 2, 28), 1);
        assert_int_equal(calendar_days_from_civil(2000, 3, 1) - calendar_days_from_civil(2000, 2, 28), 2);
}

static void test_civil_from_days(void **state) {
        int y;
        unsigned m, d;

        calendar_civil_from_days(0, &y, &m, &d);
        assert_int_equal(y, 1970);
        assert_int_equal(m, 1);
        assert_int_equal(d, 1);
        calendar_civil_from_days(-1, &y, &m, &d);
        assert_int_equal(y, 1969);
        assert_int_equal(m, 12);
        assert_int_equal(d, 31);
        calendar_civil_from_days(19782, &y, &m, &d);
        assert_int_equal(y, 2024);
        assert_int_equal(m, 2);
        assert_int_equal(d, 29);
        calendar_civil_from_days(-719162, &y, &m, &d);
        assert_int_equal(y, 1);
        assert_int_equal(m, 1);
        assert_int_equal(d, 1);
}

/* Every day from 0001-01-01 to 9999-12-31 goes there and back, and the
 * dates follow each other. */
static void test_round_trip(void **state) {
        int py = 0;
        unsigned pm = 12, pd = 31;

        for (int64_t day = -719162; day <= 2932896; day++) {
                int y;
                unsigned m, d;

                calendar_civil_from_days(day, &y, &m, &d);
                assert_int_equal(calendar_days_from_civil(y, m, d), day);
                if (d == 1) {
                        if (m == 1) {
                                assert_int_equal(y, py + 1);
                                assert_int_equal(pm, 12);
                        } else {
                                assert_int_equal(y, py);
                                assert_int_equal(m, pm + 1);
                        }
                } else {
                        assert_int_equal(y, py);
                        assert_int_equal(m, pm);
                        assert_int_equal(d, pd + 1);
                }
                py = y, pm = m, pd = d;
        }
}

static void test_parse_date(void **state) {
        int64_t day = 12345;

        assert_int_equal(calendar_parse_date("1970-01-01", &day), 0);
        assert_int_equal(day, 0);
        assert_int_equal(calendar_parse_date("2024-02-29", &day), 0);
        assert_int_equal(day, 19782);
        assert_int_equal(calendar_parse_date("2025-02-28", &day), 0);
        assert_int_equal(day, calendar_days_from_civil(2025, 2, 28));
        assert_int_equal(calendar_parse_date("2000-02-29", &day), 0);
        assert_int_equal(calendar_parse_date("9999-12-31", &day), 0);
        assert_int_equal(day, 2932896);

        day = 12345;
        const char *bad[] = {
                "2025-02-29", "2025-02-30", "1900-02-29", "2025-04-31", "2025-13-01", "2025-00-10",
                "2025-01-00", "2025-01-32", "0000-01-01",
                "2025-2-3", "2025-02-3", "25-02-03", "2025-02-03x", "2025-02-03 ", " 2025-02-03",
                "2025-02-03T00:00", "2025/02/03", "20250203", "+025-02-03", "-025-02-03", "2025-0a-03",
                "2025-02", "", "2025-02-0", "２０２５-02-03",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                assert_int_equal(calendar_parse_date(bad[i], &day), -EINVAL);
                assert_int_equal(day, 12345);   /* untouched on failure */
        }
        assert_int_equal(calendar_parse_date(NULL, &day), -EINVAL);
}

/* Unix times from date(1): date -u -d 2026-01-31T15:30Z +%s. */
#define T_2026_01_31_1530Z INT64_C(1769873400)  /* 23:30 on 31 Jan in +08:00 */
#define T_2026_01_31_1610Z INT64_C(1769875800)  /* 00:10 on 1 Feb in +08:00 */

static void test_local_day(void **state) {
        struct calendar cst = CALENDAR_INIT(CST), utc = CALENDAR_INIT(0), est = CALENDAR_INIT(-300);

        assert_int_equal(calendar_local_day(&utc, T_2026_01_31_1530Z), 20484);
        assert_int_equal(calendar_local_day(&utc, T_2026_01_31_1610Z), 20484);
        assert_int_equal(calendar_local_day(&cst, T_2026_01_31_1530Z), 20484);
        assert_int_equal(calendar_local_day(&cst, T_2026_01_31_1610Z), 20485);
        /* The first second of the local day and the last of the one before. */
        assert_int_equal(calendar_local_day(&cst, calendar_day_start(&cst, 20485)), 20485);
        assert_int_equal(calendar_local_day(&cst, calendar_day_start(&cst, 20485) - 1), 20484);
        assert_int_equal(calendar_day_start(&cst, 20485), T_2026_01_31_1610Z - 10 * 60);
        assert_int_equal(calendar_day_start(&utc, 0), 0);
        assert_int_equal(calendar_day_start(&cst, 0), -8 * 3600);
        /* Before 1970: floor, not truncation. */
        assert_int_equal(calendar_local_day(&utc, -1), -1);
        assert_int_equal(calendar_local_day(&utc, -86400), -1);
        assert_int_equal(calendar_local_day(&utc, -86401), -2);
        /* -05:00: 1970-01-01T03:00Z is still 31 Dec 1969. */
        assert_int_equal(calendar_local_day(&est, 3 * 3600), -1);
        assert_int_equal(calendar_local_day(&est, 5 * 3600), 0);
}

static void test_month_index(void **state) {
        struct calendar cst = CALENDAR_INIT(CST), utc = CALENDAR_INIT(0);

        assert_int_equal(calendar_month_index(&utc, 0), 1970 * 12);
        assert_int_equal(calendar_month_index(&utc, T_2026_01_31_1530Z), 2026 * 12 + 0);
        assert_int_equal(calendar_month_index(&utc, T_2026_01_31_1610Z), 2026 * 12 + 0);
        assert_int_equal(calendar_month_index(&cst, T_2026_01_31_1530Z), 2026 * 12 + 0);
        assert_int_equal(calendar_month_index(&cst, T_2026_01_31_1610Z), 2026 * 12 + 1);
}

static void test_weekday(void **state) {
        assert_int_equal(calendar_weekday(0), 4);                                       /* 1970-01-01 Thu */
        assert_int_equal(calendar_weekday(-1), 3);                                      /* 1969-12-31 Wed */
        assert_int_equal(calendar_weekday(-719162), 1);                                 /* 0001-01-01 Mon */
        assert_int_equal(calendar_weekday(calendar_days_from_civil(2026, 1, 31)), 6);   /* Sat */
        assert_int_equal(calendar_weekday(calendar_days_from_civil(2026, 2, 1)), 7);    /* Sun */
        assert_int_equal(calendar_weekday(calendar_days_from_civil(2026, 2, 2)), 1);    /* Mon */
        assert_int_equal(calendar_weekday(2932896), 5);                                 /* 9999-12-31 Fri */
}

/* China's 2025 National Day: 1-8 Oct off, Sun 28 Sep and Sat 11 Oct worked. */
static int64_t holidays_2025[8];
static int64_t workdays_2025[2];

static struct calendar china_2025(void) {
        struct calendar c = CALENDAR_INIT(CST);

        for (unsigned i = 0; i < 8; i++)
                holidays_2025[i] = calendar_days_from_civil(2025, 10, 1 + i);
        workdays_2025[0] = calendar_days_from_civil(2025, 9, 28);
        workdays_2025[1] = calendar_days_from_civil(2025, 10, 11);
        c.holidays = holidays_2025;
        c.n_holidays = 8;
        c.workdays = workdays_2025;
        c.n_workdays = 2;
        return c;
}

static void test_working_day(void **state) {
        struct calendar plain = CALENDAR_INIT(CST), cn = china_2025();

        assert_true(calendar_is_working_day(&plain, calendar_days_from_civil(2025, 9, 26)));    /* Fri */
        assert_false(calendar_is_working_day(&plain, calendar_days_from_civil(2025, 9, 27)));   /* Sat */
        assert_false(calendar_is_working_day(&plain, calendar_days_from_civil(2025, 9, 28)));   /* Sun */
        assert_true(calendar_is_working_day(&plain, calendar_days_from_civil(2025, 10, 1)));    /* Wed */

        assert_false(calendar_is_working_day(&cn, calendar_days_from_civil(2025, 9, 27)));
        assert_true(calendar_is_working_day(&cn, calendar_days_from_civil(2025, 9, 28)));       /* adjusted */
        assert_true(calendar_is_working_day(&cn, calendar_days_from_civil(2025, 9, 30)));
        for (unsigned d = 1; d <= 8; d++)
                assert_false(calendar_is_working_day(&cn, calendar_days_from_civil(2025, 10, d)));
        assert_true(calendar_is_working_day(&cn, calendar_days_from_civil(2025, 10, 9)));
        assert_true(calendar_is_working_day(&cn, calendar_days_from_civil(2025, 10, 11)));      /* adjusted Sat */
        assert_false(calendar_is_working_day(&cn, calendar_days_from_civil(2025, 10, 12)));     /* Sun */

        /* A six-day week: only Sunday off. */
        struct calendar six = { .utc_offset_minutes = CST, .weekend_mask = 1u << 7 };
        assert_true(calendar_is_working_day(&six, calendar_days_from_civil(2025, 9, 27)));
        assert_false(calendar_is_working_day(&six, calendar_days_from_civil(2025, 9, 28)));
}

#define T_2025_09_30_1000_CST INT64_C(1759197600)
#define T_2025_10_12_0000_CST INT64_C(1760198400)

static void test_add_working_days(void **state) {
        struct calendar plain = CALENDAR_INIT(CST), cn = china_2025();
        int64_t fri = calendar_day_start(&plain, calendar_days_from_civil(2025, 9, 26)) + 15 * 3600;
        int64_t mon = calendar_day_start(&plain, calendar_days_from_civil(2025, 9, 22)) + 9 * 3600;

        /* n = 0: the end of the day itself. */
        assert_int_equal(calendar_add_working_days(&plain, mon, 0),
                         calendar_day_start(&plain, calendar_days_from_civil(2025, 9, 23)));
        /* Monday + 3 working days: the end of Thursday. */
        assert_int_equal(calendar_add_working_days(&plain, mon, 3),
                         calendar_day_start(&plain, calendar_days_from_civil(2025, 9, 26)));
        /* Friday + 1: the end of Monday; + 5: the end of the next Friday. */
        assert_int_equal(calendar_add_working_days(&plain, fri, 1),
                         calendar_day_start(&plain, calendar_days_from_civil(2025, 9, 30)));
        assert_int_equal(calendar_add_working_days(&plain, fri, 5),
                         calendar_day_start(&plain, calendar_days_from_civil(2025, 10, 4)));
        /* Saturday + 1: the end of Monday. */
        assert_int_equal(calendar_add_working_days(&plain, fri + 86400, 1),
                         calendar_day_start(&plain, calendar_days_from_civil(2025, 9, 30)));

        /* National Day: Tue 30 Sep + 3 working days = Thu 9, Fri 10, Sat 11 (adjusted). */
        assert_int_equal(calendar_add_working_days(&cn, T_2025_09_30_1000_CST, 3), T_2025_10_12_0000_CST);
        assert_int_equal(calendar_add_working_days(&cn, T_2025_09_30_1000_CST, 1),
                         calendar_day_start(&cn, calendar_days_from_civil(2025, 10, 10)));
        /* Fri 26 Sep + 1: Sun 28 is worked. */
        assert_int_equal(calendar_add_working_days(&cn, fri, 1),
                         calendar_day_start(&cn, calendar_days_from_civil(2025, 9, 29)));
        /* The same calendar at UTC offset: 23:30Z on 29 Sep is 07:30 on 30 Sep in +08:00. */
        int64_t late = calendar_day_start(&cn, calendar_days_from_civil(2025, 9, 30)) - 30 * 60 + 8 * 3600;
        assert_int_equal(calendar_local_day(&cn, late), calendar_days_from_civil(2025, 9, 30));
        assert_int_equal(calendar_add_working_days(&cn, late, 3), T_2025_10_12_0000_CST);

        /* A calendar that never works has no deadline. */
        struct calendar never = { .utc_offset_minutes = CST, .weekend_mask = 0xfe };
        assert_int_equal(calendar_add_working_days(&never, fri, 1), INT64_MAX);
        assert_int_equal(calendar_add_working_days(&never, fri, 0),
                         calendar_day_start(&never, calendar_days_from_civil(2025, 9, 27)));
        never.workdays = workdays_2025;
        never.n_workdays = 2;
        assert_int_equal(calendar_add_working_days(&never, fri, 2), T_2025_10_12_0000_CST);
        assert_int_equal(calendar_add_working_days(&never, fri, 3), INT64_MAX);
}

#define T_2026_01_31_1000_CST INT64_C(1769824800)
#define T_2026_02_28_1000_CST INT64_C(1772244000)

static int64_t at(const struct calendar *c, int y, unsigned m, unsigned d, int hh, int mm) {
        return calendar_day_start(c, calendar_days_from_civil(y, m, d)) + hh * 3600 + mm * 60;
}

static void test_add_months(void **state) {
        struct calendar cst = CALENDAR_INIT(CST), est = CALENDAR_INIT(-300);

        assert_int_equal(at(&cst, 2026, 1, 31, 10, 0), T_2026_01_31_1000_CST);
        assert_int_equal(calendar_add_months(&cst, T_2026_01_31_1000_CST, 1), T_2026_02_28_1000_CST);
        assert_int_equal(calendar_add_months(&cst, T_2026_01_31_1000_CST, 0), T_2026_01_31_1000_CST);
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2024, 1, 31, 23, 59), 1), at(&cst, 2024, 2, 29, 23, 59));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2024, 1, 30, 0, 0), 1), at(&cst, 2024, 2, 29, 0, 0));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2024, 1, 29, 0, 0), 1), at(&cst, 2024, 2, 29, 0, 0));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2024, 1, 28, 0, 0), 1), at(&cst, 2024, 2, 28, 0, 0));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2025, 3, 31, 8, 0), 1), at(&cst, 2025, 4, 30, 8, 0));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2025, 12, 15, 8, 0), 1), at(&cst, 2026, 1, 15, 8, 0));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2025, 11, 30, 8, 0), 3), at(&cst, 2026, 2, 28, 8, 0));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2024, 2, 29, 8, 0), 12), at(&cst, 2025, 2, 28, 8, 0));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2024, 2, 29, 8, 0), 48), at(&cst, 2028, 2, 29, 8, 0));
        assert_int_equal(calendar_add_months(&cst, at(&cst, 2025, 1, 31, 8, 0), 6), at(&cst, 2025, 7, 31, 8, 0));
        /* The local month counts: 23:30 on 31 Jan in +08:00 is 15:30Z the same day. */
        assert_int_equal(calendar_add_months(&cst, T_2026_01_31_1530Z, 1), at(&cst, 2026, 2, 28, 23, 30));
        /* Negative offsets and times before 1970. */
        assert_int_equal(calendar_add_months(&est, at(&est, 1969, 12, 31, 21, 0), 2), at(&est, 1970, 2, 28, 21, 0));
}

static void test_add_days(void **state) {
        struct calendar cst = CALENDAR_INIT(CST);

        assert_int_equal(calendar_add_days(&cst, T_2026_01_31_1000_CST, 0), T_2026_01_31_1000_CST);
        assert_int_equal(calendar_add_days(&cst, T_2026_01_31_1000_CST, 28), T_2026_02_28_1000_CST);
        assert_int_equal(calendar_add_days(&cst, at(&cst, 2024, 2, 28, 12, 0), 1), at(&cst, 2024, 2, 29, 12, 0));
        assert_int_equal(calendar_add_days(&cst, at(&cst, 2025, 12, 17, 12, 0), 30), at(&cst, 2026, 1, 16, 12, 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_days_from_civil),
                cmocka_unit_test(test_civil_from_days),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_parse_date),
                cmocka_unit_test(test_local_day),
                cmocka_unit_test(test_month_index),
                cmocka_unit_test(test_weekday),
                cmocka_unit_test(test_working_day),
                cmocka_unit_test(test_add_working_days),
                cmocka_unit_test(test_add_months),
                cmocka_unit_test(test_add_days),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
