/* SPDX-License-Identifier: Apache-2.0 */
/* Change requests: major change (R-RQ2) and change frequency (R-RQ3). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "gc/error.h"

/* R-RQ2 thresholds: a request is major when its increase is MORE than the
 * threshold in any dimension. -1 (pack null): the dimension never trips. */
struct change_major_policy {
        long new_vms_over;
        long cpu_cores_over;
        long memory_gib_over;
        long storage_gib_over;          /* GiB: 5 TB = 5120 GiB */
};

/* What one request adds (decreases count as 0). */
struct change_delta {
        long new_vms;
        long cpu_cores;
        long memory_gib;
        long storage_gib;
};

enum {
        CHANGE_MAJOR_VMS = 1 << 0,
        CHANGE_MAJOR_CPU = 1 << 1,
        CHANGE_MAJOR_MEMORY = 1 << 2,
        CHANGE_MAJOR_STORAGE = 1 << 3,
};

/* Returns the mask of dimensions over their threshold (0: not major). Where
 * the mask is not 0, err names the first dimension (field "new_vms",
 * "cpu_cores", "memory_gib" or "storage_gib"), its value and the threshold. */
int change_major_dimensions(const struct change_major_policy *p, const struct change_delta *d,
                            struct gc_error *err);

/* R-RQ3: at most max_per_calendar_month changes of one system in one
 * calendar month (of the pack's calendar); -1 (pack null): no limit. */
struct change_frequency_policy {
        long max_per_calendar_month;
        bool exception_allowed;         /* an approval may mark a change as an exception */
};

/* prior: times of the system's earlier accepted changes. 0 when allowed;
 * -EBUSY with err filled when refused: field "month", value the local
 * month "YYYY-MM", rule R-RQ3. Only changes in the same calendar month of
 * cal (its UTC offset) as now count. max_per_calendar_month 0 refuses every
 * change that is not an allowed exception. */
int change_frequency_check(const struct change_frequency_policy *p, const struct calendar *cal,
                           const int64_t *prior, size_t n, int64_t now, bool exception,
                           struct gc_error *err);
