/* SPDX-License-Identifier: Apache-2.0 */
/* The trial period (R-LC2). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "calendar.h"
#include "gc/error.h"

enum trial_unit {
        TRIAL_NONE,     /* pack null: no trial stage */
        TRIAL_DAYS,
        TRIAL_MONTHS,   /* calendar months */
};

struct trial_policy {
        enum trial_unit unit;
        long min;                       /* in unit; -1 null: no lower bound but 1 */
        long max;                       /* in unit; -1 null: no upper bound */
        bool extension_allowed;         /* with the authority's consent */
        long max_extension;             /* in unit; -1: not bounded by the pack */
};

/* requested < 0: not given, the pack's maximum (with no maximum: the
 * minimum, at least 1). Outside [min, max], or a trial asked for where the
 * pack has none: -ERANGE with err (field "trial_length", rule R-LC2).
 * TRIAL_NONE: not given or 0 gives length 0. */
int trial_resolve(const struct trial_policy *p, long requested, long *ret_length, struct gc_error *err);

/* The end of a trial of length units that starts at start: days of 24 h,
 * or calendar months clamped to the month's end (calendar_add_months).
 * length <= 0 or TRIAL_NONE: start. */
int64_t trial_end(const struct trial_policy *p, const struct calendar *cal, int64_t start, long length);

/* An extension by the authority (R-LC2): refused where the pack has none
 * (-EPERM) or where already_extended + extra passes max_extension
 * (-ERANGE); extra < 1 is -EINVAL. err: field "trial_extension", rule R-LC2. */
int trial_check_extension(const struct trial_policy *p, long already_extended, long extra, struct gc_error *err);
