/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Utilization: samples in, daily aggregates kept, recommendations and the
 * monthly report out (R-RS1..R-RS7, R-LC2).
 *
 * Samples come from the agents (their bulk libvirt stats) and from a
 * provider's own monitoring (POST /v1/metrics, gcctl metrics import). Each
 * sample is folded into its VM's day (the pool's calendar day): sum, count
 * and maximum per metric, in hundredths of a percent. A null is a gap: it
 * counts in nothing. A batch is counted once, by the digest of its bytes.
 *
 * A period (a calendar month, or a trial) is evaluated from the days alone:
 * monthly average and peak CPU and memory, the disk's daily usage with its
 * least-squares trend, then rightsize_recommend() against the pool's pack
 * and the pool's flavour bounds (R-RS6). The disk dimension is the data
 * disk, or the system disk of a VM without one.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "rightsize.h"

struct api_call;
struct config;
struct orch;
struct store;

#define USAGE_DAYS_MAX 62               /* the longest period evaluated: a trial of two months */
#define USAGE_BATCH_MAX 50000           /* samples per POST */

/* One VM over a period, as evaluate hands it out. Percentages are 0..100;
 * NaN where the period has no sample of that metric. */
struct usage_vm {
        int64_t vm_id, system_id, unit_id;
        const char *name, *role, *state, *pool;
        unsigned vcpus, memory_gib, system_disk_gib, data_disk_gib;
        unsigned days;                          /* days with any sample */
        int64_t cpu_n, memory_n;                /* samples */
        double cpu_avg, cpu_peak, memory_avg, memory_peak;
        double disk_usage;                      /* the last day's average */
        double disk_slope, disk_r2;             /* percentage points per day; NaN without a fit */
        bool disk_linear;                       /* R-RS5's test with the configured parameters */
        unsigned n_days;                        /* last_day - first_day + 1 */
        double cpu_daily[USAGE_DAYS_MAX];       /* daily averages; NaN a gap */
        double memory_daily[USAGE_DAYS_MAX];
        double disk_daily[USAGE_DAYS_MAX];
        struct rightsize_result rec;            /* .disk is the data disk (or system disk) in GiB */
        const char *disk_name;                  /* "data_disk_gib" or "system_disk_gib" */
};

/* Return < 0 to stop. */
typedef int (*usage_vm_fn)(const struct usage_vm *vm, void *userdata);

struct usage_scope {
        int64_t system_id;                      /* 0: any */
        int64_t unit_id;                        /* 0: any */
        bool live_only;                         /* skip VMs in state "deleted" */
};

/* Every VM in scope (ordered by system, then VM id) with its figures over
 * [first_day, last_day] (at most USAGE_DAYS_MAX days) and its
 * recommendation. One pass over the aggregates, one VM in memory at a time. */
int usage_evaluate(struct store *s, const struct config *cfg, const struct usage_scope *scope,
                   int64_t first_day, int64_t last_day, usage_vm_fn fn, void *userdata);

/* The calendar day (days since 1970-01-01) of t in a UTC offset, and back. */
int64_t usage_day(int64_t t, int utc_offset_minutes);
/* "YYYY-MM" -> its first and last day; -EINVAL when malformed. */
int usage_month_days(const char *month, int64_t *ret_first, int64_t *ret_last);
void usage_day_format(int64_t day, char buf[11]);       /* "YYYY-MM-DD" */

/* The report of one unit for one month (R-RS7), as the JSON model that
 * common/report.h renders: -ENOENT for an unknown unit. */
int usage_report(struct orch *o, int64_t unit_id, const char *month, cJSON **ret);

/* R-LC2: the trial's recommendations, stored as period "trial", and the
 * go-live sheet's "recommended" entry per VM name. Inside the caller's
 * transaction. */
int usage_trial(struct orch *o, int64_t system_id, cJSON **ret_by_name);

/* The monthly timer (from dispatch_tick): on the 1st of a month in the
 * first pool's calendar, for the month before: recommendations stored and
 * announced (rightsize.recommended, one audit record per system with a
 * change, delivered by the notifiers), and every unit's report written to
 * reports.dir (report.monthly). Runs at most once per month; a crash
 * before its commit runs it again. */
int usage_monthly_tick(struct orch *o);
/* The same for one month on demand. */
int usage_monthly_run(struct orch *o, const char *month);

/* Routes. */
void usage_post_metrics(struct api_call *c);    /* POST /v1/metrics */
void usage_get_report(struct api_call *c);      /* GET /v1/reports/monthly */
void usage_post_report_run(struct api_call *c); /* POST /v1/reports/monthly */
void usage_get_recommendations(struct api_call *c);     /* GET /v1/recommendations */
