/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rightsizing by monthly average utilization (R-RS1..R-RS7).
 *
 * Bands come from the pack. A band is an interval of percent with its own
 * open or closed edges; where bands meet, the higher one wins (70 % CPU is
 * ">= 70 %"). Results round down to whole vCPUs and whole GiB and are
 * clamped to the platform's flavour bounds; nothing is recommended for a
 * VM already at the bound in the direction of the change (R-RS6).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gc/error.h"

#define RIGHTSIZE_BANDS_MAX 8

struct rightsize_band {
        bool has_from, has_to;          /* false: open-ended (0 or 100 and beyond) */
        double from, to;                /* percent */
        bool from_inclusive, to_inclusive;
        double factor;                  /* new = floor(old * factor) */
        char rule[GC_ERROR_RULE_MAX];   /* "R-RS1" */
};

struct rightsize_policy {
        bool regulated;                 /* false (pack null): no band applies, nothing recommended */
        struct rightsize_band cpu[RIGHTSIZE_BANDS_MAX];
        size_t n_cpu;
        struct rightsize_band memory[RIGHTSIZE_BANDS_MAX];
        size_t n_memory;
        /* R-RS5: disk usage >= disk_usage_at_least and growing linearly -> x factor, at most max_gib. */
        bool disk_regulated;
        double disk_usage_at_least;
        bool disk_requires_linear_growth;
        double disk_factor;
        long disk_max_gib;              /* -1: no cap from the pack */
        char disk_rule[GC_ERROR_RULE_MAX];
        /* R-RS7: idle when CPU below idle_cpu_below and memory below idle_memory_below. */
        bool idle_regulated;
        double idle_cpu_below;
        double idle_memory_below;
};

/* Platform facts (orchestrator configuration, not the pack). */
struct rightsize_platform {
        unsigned min_vcpus, max_vcpus;
        unsigned min_memory_gib, max_memory_gib;
        unsigned min_disk_gib, max_disk_gib;
};

/* The linear-growth test of R-RS5: a least-squares line over the month's
 * daily disk usage (percent). Orchestrator configuration with these
 * documented defaults. */
struct rightsize_linear {
        double min_r2;                  /* fit at least this good */
        double min_slope;               /* percentage points per day, strictly growing */
        unsigned min_days;              /* days with a sample */
};
#define RIGHTSIZE_LINEAR_DEFAULTS ((struct rightsize_linear) { .min_r2 = 0.9, .min_slope = 0.1, .min_days = 7 })

struct rightsize_input {
        unsigned vcpus, memory_gib, disk_gib;
        bool has_cpu, has_memory, has_disk;     /* false: no samples, no recommendation */
        double cpu_pct, memory_pct;             /* monthly averages */
        double disk_pct;                        /* latest usage */
        const double *disk_daily_pct;           /* one value per day; NaN is a gap */
        size_t n_disk_daily;
};

struct rightsize_change {
        bool applies;                   /* a band matched and the result differs */
        unsigned before, after;
        char rule[GC_ERROR_RULE_MAX];   /* the band's rule, or R-RS6 when skipped at a bound */
        char reason[192];               /* plain words with the figures */
};

struct rightsize_result {
        struct rightsize_change cpu, memory, disk;
        bool idle;                      /* R-RS7 */
};

/* lin NULL: RIGHTSIZE_LINEAR_DEFAULTS. A platform minimum of 0 counts as 1
 * (no VM shrinks to nothing). Where no band matches, or there are no
 * samples, or the pack does not regulate (regulated false: no CPU, memory
 * or disk change), the change has applies false and rule "". The idle flag
 * (R-RS7) depends on idle_regulated alone.
 * -EINVAL (ret untouched) for a platform whose minimum passes its maximum
 * or whose maximum is 0, more than RIGHTSIZE_BANDS_MAX bands, a factor
 * that is not a positive number, or an input with samples whose average is
 * NaN or whose size is 0. */
int rightsize_recommend(const struct rightsize_policy *p, const struct rightsize_platform *platform,
                        const struct rightsize_linear *lin, const struct rightsize_input *in,
                        struct rightsize_result *ret);

/* The band that holds pct: the one with the highest lower edge that
 * contains it; NULL if none. */
const struct rightsize_band *rightsize_band_find(const struct rightsize_band *bands, size_t n, double pct);

/* Least squares over (day index, value), skipping NaN gaps (and any other
 * non-finite value). -EDOM with fewer than two points or no spread. r2 is
 * 1 for a perfect line; a flat series (every value equal) has slope 0 and
 * r2 0: it explains no variance, so it never counts as linear growth. The
 * outputs may be NULL. */
int rightsize_linear_fit(const double *y, size_t n, double *ret_slope, double *ret_r2, size_t *ret_points);
/* At least min_days points, slope >= min_slope and > 0, r2 >= min_r2. lin
 * NULL: the defaults. */
bool rightsize_is_linear_growth(const struct rightsize_linear *lin, const double *y, size_t n);
