/* SPDX-License-Identifier: Apache-2.0 */
/* Change requests: major change (R-RQ2) and change frequency (R-RQ3). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "change.h"

struct change_dimension {
        int bit;
        const char *field;
        const char *what;       /* plain words for the increase */
};

static const struct change_dimension change_dimensions[] = {
        { CHANGE_MAJOR_VMS,     "new_vms",     "new VMs" },
        { CHANGE_MAJOR_CPU,     "cpu_cores",   "CPU cores" },
        { CHANGE_MAJOR_MEMORY,  "memory_gib",  "GiB of memory" },
        { CHANGE_MAJOR_STORAGE, "storage_gib", "GiB of storage" },
};

/* R-RQ2: a request is major when its increase is MORE than the threshold
 * in a dimension (11 VMs over "10", not 10). A negative threshold (pack
 * null) never trips; a decrease counts as no increase. */
int change_major_dimensions(const struct change_major_policy *p, const struct change_delta *d,
                            struct gc_error *err) {
        const long thresholds[] = { p->new_vms_over, p->cpu_cores_over, p->memory_gib_over, p->storage_gib_over };
        const long values[] = { d->new_vms, d->cpu_cores, d->memory_gib, d->storage_gib };
        const struct change_dimension *first = NULL;
        long first_value = 0, first_threshold = 0;
        char also[128] = "";
        size_t o = 0;
        int mask = 0;

        assert(p);
        assert(d);

        for (size_t i = 0; i < sizeof change_dimensions / sizeof change_dimensions[0]; i++) {
                long v = values[i] > 0 ? values[i] : 0;

                if (thresholds[i] < 0 || v <= thresholds[i])    /* R-RQ2: "more than" */
                        continue;
                mask |= change_dimensions[i].bit;
                if (!first) {
                        first = &change_dimensions[i];
                        first_value = v;
                        first_threshold = thresholds[i];
                } else {
                        int w = snprintf(also + o, sizeof also - o, "%s%s",
                                         o == 0 ? "; also over the threshold: " : ", ",
                                         change_dimensions[i].field);
                        if (w > 0 && (size_t) w < sizeof also - o)
                                o += (size_t) w;
                }
        }

        if (first) {
                char value[32];

                snprintf(value, sizeof value, "%ld", first_value);
                gc_error_set(err, "major_change", "R-RQ2", first->field, value,
                             "an increase of %ld %s is more than %ld: a major change, to be reviewed again with performance and security tests%s",
                             first_value, first->what, first_threshold, also);
        }
        return mask;
}

/* "+08:00" for the offset in minutes. */
static void change_format_offset(int minutes, char *buf, size_t size) {
        int a = minutes < 0 ? -minutes : minutes;
        snprintf(buf, size, "%c%02d:%02d", minutes < 0 ? '-' : '+', a / 60, a % 60);
}

/* R-RQ3: at most max_per_calendar_month changes of one system per calendar
 * month of the pack's calendar (its UTC offset decides where a month
 * begins), unless the approval marks the change as an exception and the
 * pack allows that. */
int change_frequency_check(const struct change_frequency_policy *p, const struct calendar *cal,
                           const int64_t *prior, size_t n, int64_t now, bool exception,
                           struct gc_error *err) {
        int64_t month, month_index;
        size_t count = 0;
        char value[48], offset[16];

        assert(p);
        assert(cal);

        if (p->max_per_calendar_month < 0)                      /* R-RQ3: pack null, no limit */
                return 0;

        month_index = calendar_month_index(cal, now);
        for (size_t i = 0; i < n; i++)
                if (calendar_month_index(cal, prior[i]) == month_index)
                        count++;
        if (count < (size_t) p->max_per_calendar_month)
                return 0;
        if (exception && p->exception_allowed)                  /* R-RQ3: marked exception */
                return 0;

        month = month_index;
        snprintf(value, sizeof value, "%04lld-%02lld", (long long) (month / 12), (long long) (month % 12 + 1));
        change_format_offset(cal->utc_offset_minutes, offset, sizeof offset);
        if (exception)
                gc_error_set(err, "change_limit", "R-RQ3", "month", value,
                             "the system already had %zu change%s this calendar month (UTC%s); the limit is %ld a month, and this pack does not allow an approval to mark an exception",
                             count, count == 1 ? "" : "s", offset, p->max_per_calendar_month);
        else if (p->exception_allowed)
                gc_error_set(err, "change_limit", "R-RQ3", "month", value,
                             "the system already had %zu change%s this calendar month (UTC%s); the limit is %ld a month unless the approval marks the change as an exception",
                             count, count == 1 ? "" : "s", offset, p->max_per_calendar_month);
        else
                gc_error_set(err, "change_limit", "R-RQ3", "month", value,
                             "the system already had %zu change%s this calendar month (UTC%s); the limit is %ld a month",
                             count, count == 1 ? "" : "s", offset, p->max_per_calendar_month);
        return -EBUSY;
}
