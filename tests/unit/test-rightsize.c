/* SPDX-License-Identifier: Apache-2.0 */
/* Rightsizing (R-RS1..R-RS7) with Baotou's bands (B17) and every edge. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rightsize.h"

#define assert_near(a, b, eps)                                                          \
        do {                                                                            \
                double a_ = (a), b_ = (b);                                              \
                if (!(fabs(a_ - b_) <= (eps))) {                                        \
                        print_error("%s = %.17g, expected %.17g\n", #a, a_, b_);        \
                        fail();                                                         \
                }                                                                       \
        } while (0)

#define OPEN_BELOW(to_, incl_, factor_, rule_) \
        { .has_from = false, .has_to = true, .to = (to_), .to_inclusive = (incl_), .factor = (factor_), .rule = rule_ }
#define CLOSED(from_, to_, to_incl_, factor_, rule_)                                            \
        { .has_from = true, .has_to = true, .from = (from_), .to = (to_), .from_inclusive = true,   \
          .to_inclusive = (to_incl_), .factor = (factor_), .rule = rule_ }
#define OPEN_ABOVE(from_, factor_, rule_) \
        { .has_from = true, .has_to = false, .from = (from_), .from_inclusive = true, .factor = (factor_), .rule = rule_ }

/* Baotou, B17. */
static const struct rightsize_policy baotou = {
        .regulated = true,
        .cpu = {
                OPEN_BELOW(15, false, 0.25, "R-RS1"),   /* below 15 %: a quarter */
                CLOSED(15, 30, true, 0.5, "R-RS1"),     /* [15 %, 30 %]: half */
                CLOSED(50, 70, false, 2, "R-RS3"),      /* [50 %, 70 %): ×2 */
                OPEN_ABOVE(70, 3, "R-RS3"),             /* >= 70 %: ×3 */
        },
        .n_cpu = 4,
        .memory = {
                OPEN_BELOW(20, false, 0.25, "R-RS2"),
                CLOSED(20, 40, true, 0.5, "R-RS2"),
                OPEN_ABOVE(70, 2, "R-RS4"),
        },
        .n_memory = 3,
        .disk_regulated = true,
        .disk_usage_at_least = 80,
        .disk_requires_linear_growth = true,
        .disk_factor = 2,
        .disk_max_gib = 5120,
        .disk_rule = "R-RS5",
        .idle_regulated = true,
        .idle_cpu_below = 15,
        .idle_memory_below = 20,
};

static const struct rightsize_platform platform = {
        .min_vcpus = 1, .max_vcpus = 64,
        .min_memory_gib = 1, .max_memory_gib = 256,
        .min_disk_gib = 20, .max_disk_gib = 16384,
};

/* 30 days growing 0.5 points a day, a flat month, a noisy one, and a
 * sawtooth around a trend (growing, but not linearly enough). */
static double linear[30], flat[30], sawtooth[30];
static const double noisy[30] = {
        82, 91, 80, 88, 95, 81, 84, 97, 83, 90, 86, 80, 94, 85, 89,
        82, 96, 84, 81, 92, 87, 83, 95, 80, 90, 85, 88, 93, 81, 86,
};

static int setup(void **state) {
        for (int i = 0; i < 30; i++) {
                linear[i] = 70 + 0.5 * i;
                flat[i] = 85.1;
                sawtooth[i] = 60 + 0.5 * i + (i % 2 ? 3 : -3);
        }
        return 0;
}

static struct rightsize_input vm(unsigned vcpus, double cpu, unsigned mem, double mem_pct) {
        return (struct rightsize_input) {
                .vcpus = vcpus, .memory_gib = mem, .disk_gib = 100,
                .has_cpu = true, .has_memory = true, .has_disk = false,
                .cpu_pct = cpu, .memory_pct = mem_pct,
        };
}

static struct rightsize_result recommend(const struct rightsize_policy *p, const struct rightsize_input *in) {
        struct rightsize_result r;

        memset(&r, 0xa5, sizeof r);
        assert_int_equal(rightsize_recommend(p, &platform, NULL, in, &r), 0);
        return r;
}

static void assert_change(const struct rightsize_change *c, bool applies, unsigned before, unsigned after,
                          const char *rule) {
        if (c->applies != applies || c->before != before || c->after != after || strcmp(c->rule, rule) != 0) {
                print_error("got applies=%d %u -> %u rule \"%s\" (%s); expected applies=%d %u -> %u rule \"%s\"\n",
                            c->applies, c->before, c->after, c->rule, c->reason, applies, before, after, rule);
                fail();
        }
        assert_true(strlen(c->reason) > 0);
}

static void cpu_at(double pct, unsigned vcpus, bool applies, unsigned after, const char *rule) {
        struct rightsize_input in = vm(vcpus, pct, 8, 50);
        struct rightsize_result r = recommend(&baotou, &in);
        assert_change(&r.cpu, applies, vcpus, after, rule);
}

static void memory_at(double pct, unsigned gib, bool applies, unsigned after, const char *rule) {
        struct rightsize_input in = vm(8, 40.5, gib, pct);
        struct rightsize_result r = recommend(&baotou, &in);
        assert_change(&r.memory, applies, gib, after, rule);
}

/* R-RS1, R-RS3: every CPU edge; the higher band wins where two meet. */
static void test_cpu_edges(void **state) {
        cpu_at(0, 8, true, 2, "R-RS1");
        cpu_at(14.9, 8, true, 2, "R-RS1");
        cpu_at(15, 8, true, 4, "R-RS1");
        cpu_at(22, 8, true, 4, "R-RS1");
        cpu_at(30, 8, true, 4, "R-RS1");
        cpu_at(30.1, 8, false, 8, "");
        cpu_at(49.9, 8, false, 8, "");
        cpu_at(50, 8, true, 16, "R-RS3");
        cpu_at(69.9, 8, true, 16, "R-RS3");
        cpu_at(70, 8, true, 24, "R-RS3");
        cpu_at(100, 8, true, 24, "R-RS3");
}

/* R-RS2, R-RS4: every memory edge. */
static void test_memory_edges(void **state) {
        memory_at(19.9, 16, true, 4, "R-RS2");
        memory_at(20, 16, true, 8, "R-RS2");
        memory_at(40, 16, true, 8, "R-RS2");
        memory_at(40.1, 16, false, 16, "");
        memory_at(69.9, 16, false, 16, "");
        memory_at(70, 16, true, 32, "R-RS4");
        memory_at(99, 16, true, 32, "R-RS4");
}

static void test_reasons(void **state) {
        struct rightsize_input in = vm(8, 22, 16, 30);
        struct rightsize_result r = recommend(&baotou, &in);

        assert_string_equal(r.cpu.reason, "CPU average 22.0 % is in [15 %, 30 %]: 8 → 4 vCPUs");
        assert_string_equal(r.memory.reason, "memory average 30.0 % is in [20 %, 40 %]: 16 → 8 GiB");

        in = vm(3, 10, 6, 10);
        r = recommend(&baotou, &in);
        assert_string_equal(r.cpu.reason,
                            "CPU average 10.0 % is below 15 %: 3 → 1 vCPUs (×0.25 rounds down to 0; the platform's minimum is 1)");
        assert_string_equal(r.memory.reason, "memory average 10.0 % is below 20 %: 6 → 1 GiB");

        in = vm(32, 80, 16, 55);
        r = recommend(&baotou, &in);
        assert_string_equal(r.cpu.reason,
                            "CPU average 80.0 % is at or above 70 %: 32 → 64 vCPUs (×3 would be 96; the platform's maximum is 64)");
        assert_string_equal(r.memory.reason, "memory average 55.0 % is in no band: no change");

        in = vm(64, 80, 1, 10);
        r = recommend(&baotou, &in);
        assert_string_equal(r.cpu.reason,
                            "CPU average 80.0 % is at or above 70 %, but 64 vCPUs is already the platform's maximum (64): no change");
        assert_string_equal(r.memory.reason,
                            "memory average 10.0 % is below 20 %, but 1 GiB is already the platform's minimum (1): no change");
}

/* Round down; never below the platform minimum (a quarter of 3 cores is 1). */
static void test_rounding(void **state) {
        cpu_at(10, 3, true, 1, "R-RS1");        /* 0.75 -> 1 */
        cpu_at(10, 2, true, 1, "R-RS1");        /* 0.5 -> 1 */
        cpu_at(10, 7, true, 1, "R-RS1");        /* 1.75 -> 1 */
        cpu_at(10, 9, true, 2, "R-RS1");        /* 2.25 -> 2 */
        cpu_at(20, 3, true, 1, "R-RS1");        /* 1.5 -> 1 */
        cpu_at(20, 5, true, 2, "R-RS1");        /* 2.5 -> 2 */
        memory_at(30, 6, true, 3, "R-RS2");     /* halved */
        memory_at(10, 6, true, 1, "R-RS2");     /* 1.5 -> 1 */
        memory_at(10, 3, true, 1, "R-RS2");     /* 0.75 -> the platform's minimum, 1 */
        memory_at(30, 7, true, 3, "R-RS2");     /* 3.5 -> 3 */
}

/* R-RS6: clamp to the platform's bounds; nothing at the bound. */
static void test_platform_bounds(void **state) {
        cpu_at(80, 32, true, 64, "R-RS3");      /* ×3 = 96, clamped to 64 */
        cpu_at(60, 32, true, 64, "R-RS3");      /* ×2 = 64 */
        cpu_at(60, 40, true, 64, "R-RS3");      /* ×2 = 80, clamped */
        cpu_at(80, 64, false, 64, "R-RS6");     /* at the maximum */
        cpu_at(55, 64, false, 64, "R-RS6");
        cpu_at(10, 1, false, 1, "R-RS6");       /* at the minimum */
        cpu_at(20, 1, false, 1, "R-RS6");
        memory_at(75, 200, true, 256, "R-RS4");
        memory_at(75, 256, false, 256, "R-RS6");
        memory_at(10, 1, false, 1, "R-RS6");

        /* A higher platform minimum. */
        struct rightsize_platform big = platform;
        struct rightsize_input in = vm(8, 10, 8, 10);
        struct rightsize_result r;
        big.min_vcpus = 4;
        big.min_memory_gib = 4;
        assert_int_equal(rightsize_recommend(&baotou, &big, NULL, &in, &r), 0);
        assert_change(&r.cpu, true, 8, 4, "R-RS1");
        assert_change(&r.memory, true, 8, 4, "R-RS2");
        in = vm(4, 10, 4, 10);
        assert_int_equal(rightsize_recommend(&baotou, &big, NULL, &in, &r), 0);
        assert_change(&r.cpu, false, 4, 4, "R-RS6");
        assert_change(&r.memory, false, 4, 4, "R-RS6");
}

static struct rightsize_result disk_at(const struct rightsize_policy *p, const struct rightsize_platform *pf,
                                       unsigned gib, double pct, const double *series, size_t n) {
        struct rightsize_input in = vm(8, 40.5, 16, 50);
        struct rightsize_result r;

        in.has_disk = true;
        in.disk_gib = gib;
        in.disk_pct = pct;
        in.disk_daily_pct = series;
        in.n_disk_daily = n;
        assert_int_equal(rightsize_recommend(p, pf, NULL, &in, &r), 0);
        return r;
}

/* R-RS5: at or above 80 % and growing linearly -> doubled, at most 5120 GiB. */
static void test_disk(void **state) {
        struct rightsize_result r;

        r = disk_at(&baotou, &platform, 200, 79.9, linear, 30);
        assert_change(&r.disk, false, 200, 200, "");
        assert_non_null(strstr(r.disk.reason, "below 80 %"));
        r = disk_at(&baotou, &platform, 200, 80, linear, 30);
        assert_change(&r.disk, true, 200, 400, "R-RS5");
        assert_string_equal(r.disk.reason,
                            "disk usage 80.0 % is at or above 80 % and growing linearly (0.50 points a day, R² 1.00): 200 → 400 GiB");
        r = disk_at(&baotou, &platform, 200, 80, flat, 30);
        assert_change(&r.disk, false, 200, 200, "");
        assert_non_null(strstr(r.disk.reason, "not growing linearly"));
        r = disk_at(&baotou, &platform, 200, 90, noisy, 30);
        assert_change(&r.disk, false, 200, 200, "");
        r = disk_at(&baotou, &platform, 200, 90, sawtooth, 30);
        assert_change(&r.disk, false, 200, 200, "");
        r = disk_at(&baotou, &platform, 200, 90, NULL, 0);
        assert_change(&r.disk, false, 200, 200, "");
        assert_non_null(strstr(r.disk.reason, "fewer than two days"));

        /* Where the pack does not ask for linear growth, usage alone decides. */
        struct rightsize_policy usage_only = baotou;
        usage_only.disk_requires_linear_growth = false;
        r = disk_at(&usage_only, &platform, 200, 80, flat, 30);
        assert_change(&r.disk, true, 200, 400, "R-RS5");
        r = disk_at(&usage_only, &platform, 200, 79.9, flat, 30);
        assert_change(&r.disk, false, 200, 200, "");

        /* No samples: nothing. */
        struct rightsize_input in = vm(8, 40.5, 16, 50);
        in.disk_gib = 200;
        in.disk_pct = 95;
        in.disk_daily_pct = linear;
        in.n_disk_daily = 30;
        r = recommend(&baotou, &in);
        assert_change(&r.disk, false, 200, 200, "");
}

/* R-RS5's cap and R-RS6 at it. */
static void test_disk_cap(void **state) {
        struct rightsize_result r;

        r = disk_at(&baotou, &platform, 3000, 85, linear, 30);
        assert_change(&r.disk, true, 3000, 5120, "R-RS5");
        assert_non_null(strstr(r.disk.reason, "would be 6000; the pack's cap is 5120"));
        r = disk_at(&baotou, &platform, 2560, 85, linear, 30);
        assert_change(&r.disk, true, 2560, 5120, "R-RS5");
        r = disk_at(&baotou, &platform, 5120, 85, linear, 30);
        assert_change(&r.disk, false, 5120, 5120, "R-RS6");
        assert_non_null(strstr(r.disk.reason, "already the pack's cap"));
        r = disk_at(&baotou, &platform, 6000, 85, linear, 30);
        assert_change(&r.disk, false, 6000, 6000, "R-RS6");

        /* The platform's maximum below the pack's cap. */
        struct rightsize_platform small = platform;
        small.max_disk_gib = 4096;
        r = disk_at(&baotou, &small, 3000, 85, linear, 30);
        assert_change(&r.disk, true, 3000, 4096, "R-RS5");
        r = disk_at(&baotou, &small, 4096, 85, linear, 30);
        assert_change(&r.disk, false, 4096, 4096, "R-RS6");
        /* No cap from the pack: the platform's maximum. */
        struct rightsize_policy uncapped = baotou;
        uncapped.disk_max_gib = -1;
        r = disk_at(&uncapped, &platform, 3000, 85, linear, 30);
        assert_change(&r.disk, true, 3000, 6000, "R-RS5");
        r = disk_at(&uncapped, &platform, 10000, 85, linear, 30);
        assert_change(&r.disk, true, 10000, 16384, "R-RS5");
}

/* Gaps: NaN days are skipped by the fit. */
static void test_disk_gaps(void **state) {
        double gappy[30];
        struct rightsize_result r;

        memcpy(gappy, linear, sizeof gappy);
        for (int i = 0; i < 30; i += 3)
                gappy[i] = NAN;
        r = disk_at(&baotou, &platform, 200, 85, gappy, 30);
        assert_change(&r.disk, true, 200, 400, "R-RS5");

        /* Only 6 days with samples: fewer than min_days (7). */
        for (int i = 0; i < 30; i++)
                gappy[i] = i < 6 ? linear[i] : NAN;
        r = disk_at(&baotou, &platform, 200, 85, gappy, 30);
        assert_change(&r.disk, false, 200, 200, "");
        gappy[29] = linear[29];
        r = disk_at(&baotou, &platform, 200, 85, gappy, 30);
        assert_change(&r.disk, true, 200, 400, "R-RS5");
}

/* No samples: no recommendation; the idle flag needs both. */
static void test_gaps(void **state) {
        struct rightsize_input in = vm(8, 10, 16, 10);
        struct rightsize_result r;

        in.has_cpu = false;
        in.cpu_pct = NAN;
        r = recommend(&baotou, &in);
        assert_change(&r.cpu, false, 8, 8, "");
        assert_non_null(strstr(r.cpu.reason, "no CPU samples"));
        assert_change(&r.memory, true, 16, 4, "R-RS2");
        assert_false(r.idle);

        in = vm(8, 10, 16, 10);
        in.has_memory = false;
        r = recommend(&baotou, &in);
        assert_change(&r.cpu, true, 8, 2, "R-RS1");
        assert_change(&r.memory, false, 16, 16, "");
        assert_false(r.idle);
}

/* R-RS7: idle when CPU below 15 % and memory below 20 %. */
static void test_idle(void **state) {
        struct rightsize_input in;

        in = vm(8, 14.9, 16, 19.9);
        assert_true(recommend(&baotou, &in).idle);
        in = vm(8, 0, 16, 0);
        assert_true(recommend(&baotou, &in).idle);
        in = vm(8, 15, 16, 19.9);
        assert_false(recommend(&baotou, &in).idle);
        in = vm(8, 14.9, 16, 20);
        assert_false(recommend(&baotou, &in).idle);
        in = vm(8, 50, 16, 50);
        assert_false(recommend(&baotou, &in).idle);
        /* At the platform's minimum it is still idle, though nothing shrinks. */
        in = vm(1, 5, 1, 5);
        struct rightsize_result r = recommend(&baotou, &in);
        assert_true(r.idle);
        assert_change(&r.cpu, false, 1, 1, "R-RS6");

        struct rightsize_policy no_idle = baotou;
        no_idle.idle_regulated = false;
        in = vm(8, 14.9, 16, 19.9);
        assert_false(recommend(&no_idle, &in).idle);
}

/* Pack null: nothing recommended; the idle report has its own switch. */
static void test_unregulated(void **state) {
        struct rightsize_policy none = { .regulated = false };
        struct rightsize_input in = vm(8, 5, 16, 5);
        struct rightsize_result r;

        in.has_disk = true;
        in.disk_gib = 200;
        in.disk_pct = 95;
        in.disk_daily_pct = linear;
        in.n_disk_daily = 30;
        r = recommend(&none, &in);
        assert_change(&r.cpu, false, 8, 8, "");
        assert_change(&r.memory, false, 16, 16, "");
        assert_change(&r.disk, false, 200, 200, "");
        assert_false(r.idle);

        /* Only the idle report. */
        none.idle_regulated = true;
        none.idle_cpu_below = 15;
        none.idle_memory_below = 20;
        r = recommend(&none, &in);
        assert_change(&r.cpu, false, 8, 8, "");
        assert_true(r.idle);

        /* Bands, but the pack sets no disk rule. */
        struct rightsize_policy no_disk = baotou;
        no_disk.disk_regulated = false;
        r = recommend(&no_disk, &in);
        assert_change(&r.cpu, true, 8, 2, "R-RS1");
        assert_change(&r.disk, false, 200, 200, "");
}

/* The ×3 reading of R-RS3 is pack data: another pack may read it as ×2. */
static void test_factor_is_data(void **state) {
        struct rightsize_policy p = baotou;
        struct rightsize_input in = vm(8, 75, 16, 50);

        struct rightsize_result r;

        p.cpu[3].factor = 2;
        r = recommend(&p, &in);
        assert_change(&r.cpu, true, 8, 16, "R-RS3");
        /* A factor like 0.3 rounds as meant: 10 × 0.3 is 3, not 2. */
        p.cpu[0].factor = 0.3;
        in = vm(10, 5, 16, 50);
        r = recommend(&p, &in);
        assert_change(&r.cpu, true, 10, 3, "R-RS1");
}

static void test_invalid(void **state) {
        struct rightsize_result r;
        struct rightsize_input in = vm(8, 10, 16, 10);
        struct rightsize_platform bad = platform;
        struct rightsize_policy badp = baotou;

        memset(&r, 0x5a, sizeof r);
        bad.max_vcpus = 0;
        assert_int_equal(rightsize_recommend(&baotou, &bad, NULL, &in, &r), -EINVAL);
        bad = platform;
        bad.min_memory_gib = 512;
        assert_int_equal(rightsize_recommend(&baotou, &bad, NULL, &in, &r), -EINVAL);
        badp.cpu[1].factor = 0;
        assert_int_equal(rightsize_recommend(&badp, &platform, NULL, &in, &r), -EINVAL);
        badp = baotou;
        badp.n_memory = RIGHTSIZE_BANDS_MAX + 1;
        assert_int_equal(rightsize_recommend(&badp, &platform, NULL, &in, &r), -EINVAL);
        in.cpu_pct = NAN;
        assert_int_equal(rightsize_recommend(&baotou, &platform, NULL, &in, &r), -EINVAL);
        in = vm(0, 10, 16, 10);
        assert_int_equal(rightsize_recommend(&baotou, &platform, NULL, &in, &r), -EINVAL);
        /* ret untouched on failure. */
        assert_int_equal(r.cpu.before, 0x5a5a5a5a);
}

static void test_band_find(void **state) {
        const struct rightsize_band *b;
        /* Two bands that share an edge, both closed there: the higher wins. */
        const struct rightsize_band meet[] = {
                CLOSED(50, 70, true, 2, "R-RS3"),
                OPEN_ABOVE(70, 3, "R-RS3"),
        };

        b = rightsize_band_find(meet, 2, 70);
        assert_ptr_equal(b, &meet[1]);
        b = rightsize_band_find(meet, 2, 69.999);
        assert_ptr_equal(b, &meet[0]);
        /* Listed the other way round: the same answer. */
        const struct rightsize_band swapped[] = { meet[1], meet[0] };
        assert_ptr_equal(rightsize_band_find(swapped, 2, 70), &swapped[0]);
        assert_ptr_equal(rightsize_band_find(swapped, 2, 50), &swapped[1]);

        assert_ptr_equal(rightsize_band_find(baotou.cpu, baotou.n_cpu, 14.999), &baotou.cpu[0]);
        assert_ptr_equal(rightsize_band_find(baotou.cpu, baotou.n_cpu, 15), &baotou.cpu[1]);
        assert_ptr_equal(rightsize_band_find(baotou.cpu, baotou.n_cpu, -5), &baotou.cpu[0]);
        assert_ptr_equal(rightsize_band_find(baotou.cpu, baotou.n_cpu, 150), &baotou.cpu[3]);
        assert_null(rightsize_band_find(baotou.cpu, baotou.n_cpu, 40));
        assert_null(rightsize_band_find(baotou.cpu, baotou.n_cpu, NAN));
        assert_null(rightsize_band_find(baotou.cpu, 0, 10));
        /* An exclusive lower edge. */
        const struct rightsize_band above[] = { { .has_from = true, .from = 30, .factor = 1, .rule = "X" } };
        assert_null(rightsize_band_find(above, 1, 30));
        assert_ptr_equal(rightsize_band_find(above, 1, 30.001), &above[0]);
}

static void test_fit_linear(void **state) {
        double slope = -1, r2 = -1;
        size_t points = 0;

        assert_int_equal(rightsize_linear_fit(linear, 30, &slope, &r2, &points), 0);
        assert_near(slope, 0.5, 1e-12);
        assert_near(r2, 1, 1e-12);
        assert_int_equal(points, 30);
        assert_true(rightsize_is_linear_growth(NULL, linear, 30));

        /* Exactly at min_slope and min_r2: growth (>=). */
        double eighth[10];
        for (int i = 0; i < 10; i++)
                eighth[i] = 80 + 0.125 * i;
        assert_int_equal(rightsize_linear_fit(eighth, 10, &slope, &r2, &points), 0);
        assert_true(slope == 0.125);
        struct rightsize_linear lin = { .min_r2 = 1, .min_slope = 0.125, .min_days = 10 };
        assert_true(rightsize_is_linear_growth(&lin, eighth, 10));
        lin.min_slope = 0.126;
        assert_false(rightsize_is_linear_growth(&lin, eighth, 10));
        lin.min_slope = 0.125;
        lin.min_days = 11;
        assert_false(rightsize_is_linear_growth(&lin, eighth, 10));

        /* Falling: a good fit, but not growth. */
        double falling[10];
        for (int i = 0; i < 10; i++)
                falling[i] = 90 - i;
        assert_int_equal(rightsize_linear_fit(falling, 10, &slope, &r2, &points), 0);
        assert_near(slope, -1, 1e-12);
        assert_near(r2, 1, 1e-12);
        assert_false(rightsize_is_linear_growth(NULL, falling, 10));
}

/* A flat series: slope 0, r2 0, never growth. */
static void test_fit_flat(void **state) {
        double slope = -1, r2 = -1, zeros[5] = { 0 };
        size_t points = 0;

        assert_int_equal(rightsize_linear_fit(flat, 30, &slope, &r2, &points), 0);
        assert_true(slope == 0);
        assert_true(r2 == 0);
        assert_int_equal(points, 30);
        assert_false(rightsize_is_linear_growth(NULL, flat, 30));
        struct rightsize_linear lax = { .min_r2 = 0, .min_slope = 0, .min_days = 2 };
        assert_false(rightsize_is_linear_growth(&lax, flat, 30));
        assert_int_equal(rightsize_linear_fit(zeros, 5, &slope, &r2, &points), 0);
        assert_true(slope == 0);
        assert_true(r2 == 0);
}

static void test_fit_noisy(void **state) {
        double slope, r2;
        size_t points;

        /* Figures from an independent computation (Python). */
        assert_int_equal(rightsize_linear_fit(noisy, 30, &slope, &r2, &points), 0);
        assert_near(slope, 0.008453837597330366, 1e-12);
        assert_near(r2, 0.00019496226859028187, 1e-12);
        assert_false(rightsize_is_linear_growth(NULL, noisy, 30));

        assert_int_equal(rightsize_linear_fit(sawtooth, 30, &slope, &r2, &points), 0);
        assert_near(slope, 0.5200222469410456, 1e-12);
        assert_near(r2, 0.6931158957802962, 1e-12);
        assert_false(rightsize_is_linear_growth(NULL, sawtooth, 30));
        struct rightsize_linear lax = RIGHTSIZE_LINEAR_DEFAULTS;
        lax.min_r2 = 0.6;
        assert_true(rightsize_is_linear_growth(&lax, sawtooth, 30));
}

static void test_fit_gaps(void **state) {
        double y[12], slope = -1, r2 = -1;
        size_t points = 0;

        for (int i = 0; i < 12; i++)
                y[i] = 50 + 2 * i;
        y[0] = NAN;
        y[5] = NAN;
        y[6] = NAN;
        y[11] = NAN;
        assert_int_equal(rightsize_linear_fit(y, 12, &slope, &r2, &points), 0);
        assert_near(slope, 2, 1e-12);   /* the day index, not the sample index */
        assert_near(r2, 1, 1e-12);
        assert_int_equal(points, 8);

        /* Fewer than two points: -EDOM, outputs untouched. */
        double one[3] = { NAN, 80, NAN }, none[2] = { NAN, NAN };
        slope = -1;
        assert_int_equal(rightsize_linear_fit(one, 3, &slope, &r2, &points), -EDOM);
        assert_int_equal(rightsize_linear_fit(none, 2, &slope, &r2, &points), -EDOM);
        assert_int_equal(rightsize_linear_fit(NULL, 0, &slope, &r2, &points), -EDOM);
        assert_true(slope == -1);
        assert_int_equal(points, 8);
        assert_false(rightsize_is_linear_growth(NULL, one, 3));
        /* Two points make a perfect line. */
        double two[2] = { 80, 81 };
        assert_int_equal(rightsize_linear_fit(two, 2, &slope, &r2, &points), 0);
        assert_near(slope, 1, 1e-12);
        assert_near(r2, 1, 1e-12);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cpu_edges),
                cmocka_unit_test(test_memory_edges),
                cmocka_unit_test(test_reasons),
                cmocka_unit_test(test_rounding),
                cmocka_unit_test(test_platform_bounds),
                cmocka_unit_test(test_disk),
                cmocka_unit_test(test_disk_cap),
                cmocka_unit_test(test_disk_gaps),
                cmocka_unit_test(test_gaps),
                cmocka_unit_test(test_idle),
                cmocka_unit_test(test_unregulated),
                cmocka_unit_test(test_factor_is_data),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_band_find),
                cmocka_unit_test(test_fit_linear),
                cmocka_unit_test(test_fit_flat),
                cmocka_unit_test(test_fit_noisy),
                cmocka_unit_test(test_fit_gaps),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
