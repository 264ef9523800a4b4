/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rightsizing by monthly average utilization (R-RS1..R-RS7).
 *
 * The bands, factors and rule ids are pack data; this file holds only the
 * logic the rules share: find the band, multiply, round down, clamp to the
 * platform, skip at the bound (R-RS6), and say why in plain words.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rightsize.h"
#include "utf8.h"

/* Products such as 10 × 0.3 land a hair below the whole number they mean. */
#define RIGHTSIZE_EPSILON 1e-9

static bool rightsize_band_contains(const struct rightsize_band *b, double pct) {
        if (b->has_from && (pct < b->from || (pct == b->from && !b->from_inclusive)))
                return false;
        if (b->has_to && (pct > b->to || (pct == b->to && !b->to_inclusive)))
                return false;
        return true;
}

/* Where two bands meet, the higher one wins: of the bands that contain pct,
 * the one with the highest lower edge (an open lower edge is the lowest).
 * On a tie the first listed. */
const struct rightsize_band *rightsize_band_find(const struct rightsize_band *bands, size_t n, double pct) {
        const struct rightsize_band *best = NULL;

        if (!bands || isnan(pct))
                return NULL;
        for (size_t i = 0; i < n; i++) {
                const struct rightsize_band *b = &bands[i];

                if (!rightsize_band_contains(b, pct))
                        continue;
                if (!best || (b->has_from && (!best->has_from || b->from > best->from)))
                        best = b;
        }
        return best;
}

/* Least squares of value on day index, gaps (NaN, and any other non-finite
 * value) skipped. r2 = 1 - SSres / SStot. A flat series (every value equal)
 * has no variance to explain: slope 0, r2 0, so it never counts as growth. */
int rightsize_linear_fit(const double *y, size_t n, double *ret_slope, double *ret_r2, size_t *ret_points) {
        double sx = 0, sy = 0, mx, my, sxx = 0, sxy = 0, syy = 0, ssres = 0, slope, r2;
        double ymin = INFINITY, ymax = -INFINITY;
        size_t k = 0;

        for (size_t i = 0; y && i < n; i++) {
                if (!isfinite(y[i]))
                        continue;
                k++;
                sx += (double) i;
                sy += y[i];
                ymin = fmin(ymin, y[i]);
                ymax = fmax(ymax, y[i]);
        }
        if (k < 2)
                return -EDOM;
        mx = sx / (double) k;
        my = sy / (double) k;
        for (size_t i = 0; i < n; i++) {
                if (!isfinite(y[i]))
                        continue;
                sxx += ((double) i - mx) * ((double) i - mx);
                sxy += ((double) i - mx) * (y[i] - my);
                syy += (y[i] - my) * (y[i] - my);
        }
        if (sxx <= 0)
                return -EDOM;

        if (ymin == ymax) {
                slope = 0;
                r2 = 0;
        } else {
                slope = sxy / sxx;
                for (size_t i = 0; i < n; i++) {
                        double e;

                        if (!isfinite(y[i]))
                                continue;
                        e = y[i] - (my + slope * ((double) i - mx));
                        ssres += e * e;
                }
                r2 = syy > 0 ? 1 - ssres / syy : 0;
                r2 = fmin(fmax(r2, 0), 1);
        }

        if (ret_slope)
                *ret_slope = slope;
        if (ret_r2)
                *ret_r2 = r2;
        if (ret_points)
                *ret_points = k;
        return 0;
}

/* R-RS5: "growing linearly": enough days, a slope of at least min_slope
 * (and above 0) and a fit at least min_r2 good. */
bool rightsize_is_linear_growth(const struct rightsize_linear *lin, const double *y, size_t n) {
        const struct rightsize_linear defaults = RIGHTSIZE_LINEAR_DEFAULTS;
        double slope, r2;
        size_t points;

        if (!lin)
                lin = &defaults;
        if (rightsize_linear_fit(y, n, &slope, &r2, &points) < 0)
                return false;
        return points >= lin->min_days && slope > 0 && slope >= lin->min_slope && r2 >= lin->min_r2;
}

static void rightsize_reason(struct rightsize_change *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rightsize_reason(struct rightsize_change *c, const char *fmt, ...) {
        char buf[2 * sizeof c->reason];
        size_t n;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        /* Never cut a UTF-8 sequence ("→") in two. */
        n = utf8_truncate(buf, sizeof c->reason - 1);
        memcpy(c->reason, buf, n);
        c->reason[n] = 0;
}

/* "in [15 %, 30 %]", "below 15 %", "at or above 70 %". */
static void rightsize_band_describe(const struct rightsize_band *b, char *buf, size_t size) {
        if (b->has_from && b->has_to)
                snprintf(buf, size, "in %c%g %%, %g %%%c", b->from_inclusive ? '[' : '(', b->from, b->to,
                         b->to_inclusive ? ']' : ')');
        else if (b->has_from)
                snprintf(buf, size, "%s %g %%", b->from_inclusive ? "at or above" : "above", b->from);
        else if (b->has_to)
                snprintf(buf, size, "%s %g %%", b->to_inclusive ? "at or below" : "below", b->to);
        else
                snprintf(buf, size, "in a band without bounds");
}

static void rightsize_no_change(struct rightsize_change *c, unsigned before) {
        memset(c, 0, sizeof *c);
        c->before = before;
        c->after = before;
}

/* Apply a factor to before (the band matched; what says so in words): round
 * down, clamp to [lo, hi], skip at the bound (R-RS6). */
static void rightsize_apply(struct rightsize_change *c, const char *what, double factor, const char *rule,
                            unsigned before, unsigned lo, unsigned hi, const char *hi_words, const char *unit) {
        double raw;
        unsigned after;
        char note[96] = "";

        rightsize_no_change(c, before);
        if (factor == 1) {
                snprintf(c->rule, sizeof c->rule, "%s", rule);
                rightsize_reason(c, "%s: the factor is 1, %u %s stay", what, before, unit);
                return;
        }

        /* R-RS6: nothing to do at the bound in the direction of the change. */
        if (factor > 1 && before >= hi) {
                snprintf(c->rule, sizeof c->rule, "R-RS6");
                rightsize_reason(c, "%s, but %u %s is already %s (%u): no change", what, before, unit, hi_words, hi);
                return;
        }
        if (factor < 1 && before <= lo) {
                snprintf(c->rule, sizeof c->rule, "R-RS6");
                rightsize_reason(c, "%s, but %u %s is already the platform's minimum (%u): no change",
                                 what, before, unit, lo);
                return;
        }

        /* Round down to whole vCPUs or GiB. */
        raw = floor((double) before * factor + RIGHTSIZE_EPSILON);
        /* R-RS6: clamped to the platform's flavour bounds (and R-RS5's cap). */
        if (raw > (double) hi) {
                after = hi;
                snprintf(note, sizeof note, " (×%g would be %.0f; %s is %u)", factor, raw, hi_words, hi);
        } else if (raw < (double) lo) {
                after = lo;
                snprintf(note, sizeof note, " (×%g rounds down to %.0f; the platform's minimum is %u)",
                         factor, raw, lo);
        } else
                after = (unsigned) raw;

        snprintf(c->rule, sizeof c->rule, "%s", rule);
        c->after = after;
        c->applies = after != before;
        if (c->applies)
                rightsize_reason(c, "%s: %u → %u %s%s", what, before, after, unit, note);
        else
                rightsize_reason(c, "%s: ×%g rounds down to %u %s again, no change", what, factor, before, unit);
}

/* R-RS1..R-RS4: the band of a monthly average, applied to the size. */
static void rightsize_by_band(struct rightsize_change *c, const char *label, const struct rightsize_band *bands,
                              size_t n, bool has, double pct, unsigned before, unsigned lo, unsigned hi,
                              const char *unit) {
        const struct rightsize_band *b;
        char band[64], what[128];

        if (!has) {
                rightsize_no_change(c, before);
                rightsize_reason(c, "no %s samples this month: no change", label);
                return;
        }
        b = rightsize_band_find(bands, n, pct);
        if (!b) {
                rightsize_no_change(c, before);
                rightsize_reason(c, "%s average %.1f %% is in no band: no change", label, pct);
                return;
        }
        rightsize_band_describe(b, band, sizeof band);
        snprintf(what, sizeof what, "%s average %.1f %% is %s", label, pct, band);
        rightsize_apply(c, what, b->factor, b->rule, before, lo, hi, "the platform's maximum", unit);
}

/* R-RS5: usage at or above the threshold and growing linearly -> ×factor,
 * at most the pack's cap and the platform's maximum. */
static void rightsize_disk(struct rightsize_change *c, const struct rightsize_policy *p,
                           const struct rightsize_platform *platform, const struct rightsize_linear *lin,
                           const struct rightsize_input *in) {
        unsigned lo = platform->min_disk_gib > 0 ? platform->min_disk_gib : 1;
        unsigned hi = platform->max_disk_gib;
        const char *hi_words = "the platform's maximum";
        char what[160];

        if (!p->disk_regulated) {
                rightsize_no_change(c, in->disk_gib);
                rightsize_reason(c, "the pack sets no disk rule: no change");
                return;
        }
        if (!in->has_disk) {
                rightsize_no_change(c, in->disk_gib);
                rightsize_reason(c, "no disk samples this month: no change");
                return;
        }
        if (!(in->disk_pct >= p->disk_usage_at_least)) {        /* R-RS5 */
                rightsize_no_change(c, in->disk_gib);
                rightsize_reason(c, "disk usage %.1f %% is below %g %%: no change", in->disk_pct, p->disk_usage_at_least);
                return;
        }

        if (p->disk_requires_linear_growth) {                   /* R-RS5 */
                double slope, r2;
                size_t points;

                if (rightsize_linear_fit(in->disk_daily_pct, in->n_disk_daily, &slope, &r2, &points) < 0) {
                        rightsize_no_change(c, in->disk_gib);
                        rightsize_reason(c, "disk usage %.1f %% is at or above %g %%, but fewer than two days have samples: no linear growth, no change",
                                         in->disk_pct, p->disk_usage_at_least);
                        return;
                }
                if (!rightsize_is_linear_growth(lin, in->disk_daily_pct, in->n_disk_daily)) {
                        rightsize_no_change(c, in->disk_gib);
                        rightsize_reason(c, "disk usage %.1f %% is at or above %g %%, but it is not growing linearly (%.2f points a day, R² %.2f over %zu days): no change",
                                         in->disk_pct, p->disk_usage_at_least, slope, r2, points);
                        return;
                }
                snprintf(what, sizeof what, "disk usage %.1f %% is at or above %g %% and growing linearly (%.2f points a day, R² %.2f)",
                         in->disk_pct, p->disk_usage_at_least, slope, r2);
        } else
                snprintf(what, sizeof what, "disk usage %.1f %% is at or above %g %%", in->disk_pct, p->disk_usage_at_least);

        /* R-RS5: at most the pack's cap (5 TB); R-RS6: the platform's maximum. */
        if (p->disk_max_gib >= 0 && (unsigned long) p->disk_max_gib < hi) {
                hi = (unsigned) p->disk_max_gib;
                hi_words = "the pack's cap";
        }
        if (hi < lo)
                hi = lo;
        rightsize_apply(c, what, p->disk_factor, p->disk_rule, in->disk_gib, lo, hi, hi_words, "GiB");
}

static bool rightsize_bands_valid(const struct rightsize_band *bands, size_t n) {
        if (n > RIGHTSIZE_BANDS_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isfinite(bands[i].factor) || bands[i].factor <= 0)
                        return false;
        return true;
}

int rightsize_recommend(const struct rightsize_policy *p, const struct rightsize_platform *platform,
                        const struct rightsize_linear *lin, const struct rightsize_input *in,
                        struct rightsize_result *ret) {
        const struct rightsize_linear defaults = RIGHTSIZE_LINEAR_DEFAULTS;
        struct rightsize_result r;
        unsigned vcpu_lo, mem_lo;

        assert(p);
        assert(platform);
        assert(in);
        assert(ret);

        if (!lin)
                lin = &defaults;
        /* Never below one vCPU or one GiB, whatever the platform says. */
        vcpu_lo = platform->min_vcpus > 0 ? platform->min_vcpus : 1;
        mem_lo = platform->min_memory_gib > 0 ? platform->min_memory_gib : 1;
        if (platform->max_vcpus < vcpu_lo || platform->max_memory_gib < mem_lo || platform->max_disk_gib == 0 ||
            platform->max_disk_gib < platform->min_disk_gib)
                return -EINVAL;
        if (!rightsize_bands_valid(p->cpu, p->n_cpu) || !rightsize_bands_valid(p->memory, p->n_memory))
                return -EINVAL;
        if (p->disk_regulated && (!isfinite(p->disk_factor) || p->disk_factor <= 0))
                return -EINVAL;
        if ((in->has_cpu && (!isfinite(in->cpu_pct) || in->vcpus == 0)) ||
            (in->has_memory && (!isfinite(in->memory_pct) || in->memory_gib == 0)) ||
            (in->has_disk && (isnan(in->disk_pct) || in->disk_gib == 0)))
                return -EINVAL;

        memset(&r, 0, sizeof r);

        /* R-RS7: idle when both CPU and memory are below their thresholds (a
         * report, not a recommendation: the pack sets it on its own). */
        r.idle = p->idle_regulated && in->has_cpu && in->has_memory &&
                 in->cpu_pct < p->idle_cpu_below && in->memory_pct < p->idle_memory_below;

        if (!p->regulated) {
                rightsize_no_change(&r.cpu, in->vcpus);
                rightsize_reason(&r.cpu, "the pack sets no rightsizing rules: no change");
                rightsize_no_change(&r.memory, in->memory_gib);
                rightsize_reason(&r.memory, "the pack sets no rightsizing rules: no change");
                rightsize_no_change(&r.disk, in->disk_gib);
                rightsize_reason(&r.disk, "the pack sets no rightsizing rules: no change");
                *ret = r;
                return 0;
        }

        /* R-RS1, R-RS3 (CPU); R-RS6 bounds. */
        rightsize_by_band(&r.cpu, "CPU", p->cpu, p->n_cpu, in->has_cpu, in->cpu_pct, in->vcpus,
                          vcpu_lo, platform->max_vcpus, "vCPUs");
        /* R-RS2, R-RS4 (memory); R-RS6 bounds. */
        rightsize_by_band(&r.memory, "memory", p->memory, p->n_memory, in->has_memory, in->memory_pct,
                          in->memory_gib, mem_lo, platform->max_memory_gib, "GiB");
        /* R-RS5 (disk); R-RS6 bounds. */
        rightsize_disk(&r.disk, p, platform, lin, in);

        *ret = r;
        return 0;
}
