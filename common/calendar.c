/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Civil dates and working days in a fixed UTC offset. No TZ, no localtime():
 * the pack's calendar states its offset (China: +08:00, no daylight saving).
 *
 * days_from_civil() and civil_from_days() are Howard Hinnant's algorithms
 * ("chrono-Compatible Low-Level Date Algorithms"), proleptic Gregorian,
 * valid for every date whose day count fits in int64_t.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "calendar.h"

#define SECONDS_PER_DAY INT64_C(86400)

/* Division rounding toward negative infinity (C's rounds toward zero). */
static int64_t calendar_floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

static int64_t calendar_floor_mod(int64_t a, int64_t b) {
        return a - calendar_floor_div(a, b) * b;
}

static bool calendar_is_leap(int64_t y) {
        return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static unsigned calendar_days_in_month(int64_t y, unsigned m) {
        static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

        assert(m >= 1 && m <= 12);
        if (m == 2 && calendar_is_leap(y))
                return 29;
        return days[m - 1];
}

int64_t calendar_days_from_civil(int y, unsigned m, unsigned d) {
        int64_t yy = (int64_t) y - (m <= 2);
        int64_t era = calendar_floor_div(yy, 400);
        int64_t yoe = yy - era * 400;                                   /* [0, 399] */
        int64_t doy = (153 * (int64_t) (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            /* [0, 146096] */

        return era * 146097 + doe - 719468;
}

void calendar_civil_from_days(int64_t days, int *ret_y, unsigned *ret_m, unsigned *ret_d) {
        int64_t z = days + 719468;
        int64_t era = calendar_floor_div(z, 146097);
        int64_t doe = z - era * 146097;                                         /* [0, 146096] */
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;    /* [0, 399] */
        int64_t y = yoe + era * 400;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                  /* [0, 365] */
        int64_t mp = (5 * doy + 2) / 153;                                       /* [0, 11] */
        unsigned d = (unsigned) (doy - (153 * mp + 2) / 5 + 1);                 /* [1, 31] */
        unsigned m = (unsigned) (mp < 10 ? mp + 3 : mp - 9);                    /* [1, 12] */

        if (ret_y)
                *ret_y = (int) (y + (m <= 2));
        if (ret_m)
                *ret_m = m;
        if (ret_d)
                *ret_d = d;
}

static int calendar_parse_digits(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

/* Exactly "YYYY-MM-DD": four-digit year 0001..9999, two-digit month and
 * day, a day that exists in that month, nothing before or after. */
int calendar_parse_date(const char *s, int64_t *ret_day) {
        unsigned y, m, d;

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < 10; i++)
                if (s[i] == 0)
                        return -EINVAL;
        if (s[10] != 0 || s[4] != '-' || s[7] != '-')
                return -EINVAL;
        if (calendar_parse_digits(s, 4, &y) < 0 ||
            calendar_parse_digits(s + 5, 2, &m) < 0 ||
            calendar_parse_digits(s + 8, 2, &d) < 0)
                return -EINVAL;
        if (y < 1 || m < 1 || m > 12 || d < 1 || d > calendar_days_in_month(y, m))
                return -EINVAL;

        *ret_day = calendar_days_from_civil((int) y, m, d);
        return 0;
}

static int64_t calendar_offset_seconds(const struct calendar *c) {
        return (int64_t) c->utc_offset_minutes * 60;
}

int64_t calendar_local_day(const struct calendar *c, int64_t t) {
        assert(c);
        return calendar_floor_div(t + calendar_offset_seconds(c), SECONDS_PER_DAY);
}

int64_t calendar_day_start(const struct calendar *c, int64_t day) {
        assert(c);
        return day * SECONDS_PER_DAY - calendar_offset_seconds(c);
}

int64_t calendar_month_index(const struct calendar *c, int64_t t) {
        int y;
        unsigned m;

        calendar_civil_from_days(calendar_local_day(c, t), &y, &m, NULL);
        return (int64_t) y * 12 + (m - 1);
}

unsigned calendar_weekday(int64_t day) {
        /* 1970-01-01 (day 0) was a Thursday, ISO weekday 4. */
        return (unsigned) calendar_floor_mod(day + 3, 7) + 1;
}

static int calendar_day_cmp(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

static bool calendar_in_list(const int64_t *list, size_t n, int64_t day) {
        if (!list || n == 0)
                return false;
        return bsearch(&day, list, n, sizeof *list, calendar_day_cmp) != NULL;
}

/* R-LC6: a day listed as a holiday is off even on a weekday; a day listed
 * as an adjusted workday is worked even on a weekend. A day in both lists
 * (a contradiction in the pack) counts as a holiday. */
bool calendar_is_working_day(const struct calendar *c, int64_t day) {
        assert(c);
        if (calendar_in_list(c->holidays, c->n_holidays, day))
                return false;
        if (calendar_in_list(c->workdays, c->n_workdays, day))
                return true;
        return !(c->weekend_mask & (1u << calendar_weekday(day)));
}

/* R-LC6: deadlines in working days. The day of t itself is not counted: a
 * request on Monday with 3 working days is due at the end of Thursday. */
int64_t calendar_add_working_days(const struct calendar *c, int64_t t, unsigned n) {
        int64_t day = calendar_local_day(c, t);
        bool never_works = (c->weekend_mask & 0xfe) == 0xfe;

        while (n > 0) {
                day++;
                /* Every weekday is off: only the adjusted workdays are left,
                 * and past the last one there is no working day at all. */
                if (never_works && (c->n_workdays == 0 || day > c->workdays[c->n_workdays - 1]))
                        return INT64_MAX;
                if (calendar_is_working_day(c, day))
                        n--;
        }
        return calendar_day_start(c, day + 1);
}

int64_t calendar_add_months(const struct calendar *c, int64_t t, unsigned n) {
        int64_t day = calendar_local_day(c, t);
        int64_t time_of_day = t - calendar_day_start(c, day);
        int y;
        unsigned m, d, dim;
        int64_t months, ny;
        unsigned nm;

        calendar_civil_from_days(day, &y, &m, &d);
        months = (int64_t) y * 12 + (m - 1) + n;
        ny = calendar_floor_div(months, 12);
        nm = (unsigned) (months - ny * 12) + 1;
        dim = calendar_days_in_month(ny, nm);
        if (d > dim)
                d = dim;
        return calendar_day_start(c, calendar_days_from_civil((int) ny, nm, d)) + time_of_day;
}

int64_t calendar_add_days(const struct calendar *c, int64_t t, unsigned n) {
        /* A fixed offset has no daylight saving: every local day is 86400 s. */
        assert(c);
        return t + (int64_t) n * SECONDS_PER_DAY;
}
