/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Civil time in the pack's fixed UTC offset (China has no daylight saving:
 * +08:00) and working days (R-LC6). Times are int64_t Unix seconds; days are
 * int64_t counts of local days since 1970-01-01.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct calendar {
        int utc_offset_minutes;         /* +480 for China Standard Time */
        uint8_t weekend_mask;           /* bit d set: ISO weekday d (1 = Monday .. 7 = Sunday) is not worked */
        const int64_t *holidays;        /* local days off that would be working days, sorted */
        size_t n_holidays;
        const int64_t *workdays;        /* local days worked that would be weekend days, sorted */
        size_t n_workdays;
};

/* A calendar with the given offset, Saturday and Sunday off, no holiday lists. */
#define CALENDAR_INIT(offset) ((struct calendar) { .utc_offset_minutes = (offset), .weekend_mask = (1u << 6) | (1u << 7) })

int64_t calendar_days_from_civil(int y, unsigned m, unsigned d);
void calendar_civil_from_days(int64_t days, int *ret_y, unsigned *ret_m, unsigned *ret_d);
/* Parse "YYYY-MM-DD" strictly into a local day; -EINVAL otherwise (years
 * 0001..9999, two-digit month and day, a day the month has, nothing else). */
int calendar_parse_date(const char *s, int64_t *ret_day);

int64_t calendar_local_day(const struct calendar *c, int64_t t);
/* Local midnight of a local day, as Unix seconds. */
int64_t calendar_day_start(const struct calendar *c, int64_t day);
/* The calendar month of t: y * 12 + (m - 1), for equality tests. */
int64_t calendar_month_index(const struct calendar *c, int64_t t);
/* ISO weekday 1..7 of a local day. */
unsigned calendar_weekday(int64_t day);

/* A day in both lists counts as a holiday. */
bool calendar_is_working_day(const struct calendar *c, int64_t day);
/* The end of the n-th working day after the day of t (n = 0: the end of
 * that day), as the local midnight that follows it. R-LC6 deadlines.
 * INT64_MAX where the calendar has no n-th working day (every weekday in
 * weekend_mask and too few adjusted workdays). */
int64_t calendar_add_working_days(const struct calendar *c, int64_t t, unsigned n);
/* Same local time n calendar months later; a day past the month's end is
 * clamped to its last day (31 Jan + 1 month = 28/29 Feb). */
int64_t calendar_add_months(const struct calendar *c, int64_t t, unsigned n);
int64_t calendar_add_days(const struct calendar *c, int64_t t, unsigned n);
