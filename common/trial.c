/* SPDX-License-Identifier: Apache-2.0 */
/* The trial period (R-LC2). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include "trial.h"

static const char *trial_unit_word(enum trial_unit unit, long n) {
        switch (unit) {
        case TRIAL_DAYS:
                return n == 1 ? "day" : "days";
        case TRIAL_MONTHS:
                return n == 1 ? "month" : "months";
        case TRIAL_NONE:
        default:
                return "";
        }
}

/* R-LC2: the trial's length lies in the pack's [min, max]; not given, it is
 * the pack's maximum (or, with no maximum, the minimum). A pack without a
 * trial (TRIAL_NONE) takes 0 and refuses a trial asked for. */
int trial_resolve(const struct trial_policy *p, long requested, long *ret_length, struct gc_error *err) {
        long lo, hi;
        char value[32];

        assert(p);
        snprintf(value, sizeof value, "%ld", requested);

        if (p->unit == TRIAL_NONE) {
                if (requested > 0) {                            /* R-LC2 */
                        gc_error_set(err, "invalid_trial", "R-LC2", "trial_length", value,
                                     "this pack has no trial stage: no trial can be asked for");
                        return -ERANGE;
                }
                if (ret_length)
                        *ret_length = 0;
                return 0;
        }
        assert(p->unit == TRIAL_DAYS || p->unit == TRIAL_MONTHS);

        lo = p->min >= 1 ? p->min : 1;
        hi = p->max;                                            /* < 0: no upper bound */

        if (requested < 0) {
                if (ret_length)
                        *ret_length = hi >= lo ? hi : lo;
                return 0;
        }

        if (requested < lo || (hi >= 0 && requested > hi)) {    /* R-LC2 */
                if (hi < 0)
                        gc_error_set(err, "invalid_trial", "R-LC2", "trial_length", value,
                                     "the trial must be at least %ld %s", lo, trial_unit_word(p->unit, lo));
                else if (lo == hi)
                        gc_error_set(err, "invalid_trial", "R-LC2", "trial_length", value,
                                     "the trial is %ld %s: the pack's minimum and maximum are both %ld %s",
                                     lo, trial_unit_word(p->unit, lo), hi, trial_unit_word(p->unit, hi));
                else
                        gc_error_set(err, "invalid_trial", "R-LC2", "trial_length", value,
                                     "the trial must be from %ld to %ld %s", lo, hi, trial_unit_word(p->unit, hi));
                return -ERANGE;
        }

        if (ret_length)
                *ret_length = requested;
        return 0;
}

/* R-LC2: days are whole days of 86400 s in the fixed offset; months are
 * calendar months, clamped to the last day (a month from 31 Jan ends on
 * 28 or 29 Feb at the same time of day). */
int64_t trial_end(const struct trial_policy *p, const struct calendar *cal, int64_t start, long length) {
        assert(p);
        assert(cal);
        if (length <= 0)
                return start;
        switch (p->unit) {
        case TRIAL_DAYS:
                return calendar_add_days(cal, start, (unsigned) length);
        case TRIAL_MONTHS:
                return calendar_add_months(cal, start, (unsigned) length);
        case TRIAL_NONE:
        default:
                return start;
        }
}

/* R-LC2: extensions with the authority's consent, where the pack has them,
 * in total at most max_extension. */
int trial_check_extension(const struct trial_policy *p, long already_extended, long extra, struct gc_error *err) {
        char value[32];

        assert(p);
        snprintf(value, sizeof value, "%ld", extra);

        if (p->unit == TRIAL_NONE || !p->extension_allowed) {   /* R-LC2 */
                gc_error_set(err, "invalid_trial", "R-LC2", "trial_extension", value,
                             p->unit == TRIAL_NONE ? "this pack has no trial stage: there is nothing to extend"
                                                   : "this pack does not allow the trial to be extended");
                return -EPERM;
        }
        if (extra <= 0 || already_extended < 0) {
                gc_error_set(err, "invalid_trial", "R-LC2", "trial_extension", value,
                             "an extension is at least 1 %s", trial_unit_word(p->unit, 1));
                return -EINVAL;
        }
        if (p->max_extension >= 0 &&                            /* R-LC2 */
            (extra > p->max_extension || already_extended > p->max_extension - extra)) {
                gc_error_set(err, "invalid_trial", "R-LC2", "trial_extension", value,
                             "already extended by %ld %s, another %ld would pass the pack's limit of %ld %s in all",
                             already_extended, trial_unit_word(p->unit, already_extended), extra,
                             p->max_extension, trial_unit_word(p->unit, p->max_extension));
                return -ERANGE;
        }
        return 0;
}
