/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Utilization evaluation (orchestrator/usage.h) on a real SQLite file and
 * the shipped packs: synthetic months of daily aggregates whose averages
 * sit on every band edge of RULES.md (R-RS1..R-RS4), sample-weighted
 * averages, gaps, the disk trend (R-RS5), the platform's bounds (R-RS6),
 * the idle flag (R-RS7), a pack without bands, and the calendar days.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "cleanup.h"
#include "config.h"
#include "store.h"
#include "usage.h"

static char dir[] = "/tmp/gc-test-usage-XXXXXX";
static struct store *st;
static struct config *cfg;
static int64_t first_day, last_day;     /* October 2026 */

static int64_t vm_add(const char *pool, const char *name, unsigned vcpus, unsigned memory, unsigned data_disk) {
        static int64_t number;
        _cleanup_free_ char *spec = data_disk ?
                xasprintf("{\"vcpus\": %u, \"memory_gib\": %u, \"system_disk\": {\"gib\": 40}, \"data_disk\": {\"gib\": %u}}",
                          vcpus, memory, data_disk) :
                xasprintf("{\"vcpus\": %u, \"memory_gib\": %u, \"system_disk\": {\"gib\": 40}}", vcpus, memory);
        int64_t system = strcmp(pool, "包头-A") == 0 ? 1 : 2;
        assert_int_equal(store_exec(st, "INSERT INTO vms (system_id, pool, name, role, number, spec, state, request_id, vcpus, memory_gib, disk_gib) "
                                        "VALUES (?, ?, ?, 'r', ?, ?, 'running', 1, ?, ?, ?)",
                                    STORE_ARGS(STORE_INT(system), STORE_TEXT(pool), STORE_TEXT(name), STORE_INT(++number), STORE_TEXT(spec),
                                               STORE_INT(vcpus), STORE_INT(memory), STORE_INT(40 + data_disk)),
                                    NULL),
                         0);
        int64_t id = 0;
        assert_int_equal(store_query_int(st, "SELECT id FROM vms WHERE name = ?", STORE_ARGS(STORE_TEXT(name)), &id), 0);
        return id;
}

/* One day's aggregate: n samples summing to sum (hundredths), max. metric 0 CPU, 1 memory, 2 disk. */
static void day_add(int64_t vm, int64_t day, int metric, int64_t sum, int64_t n, int64_t max) {
        static const char *const sql[3] = {
                "INSERT INTO usage_daily (vm_id, day, cpu_sum, cpu_n, cpu_max) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (vm_id, day) DO UPDATE SET cpu_sum = excluded.cpu_sum, cpu_n = excluded.cpu_n, cpu_max = excluded.cpu_max",
                "INSERT INTO usage_daily (vm_id, day, mem_sum, mem_n, mem_max) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (vm_id, day) DO UPDATE SET mem_sum = excluded.mem_sum, mem_n = excluded.mem_n, mem_max = excluded.mem_max",
                "INSERT INTO usage_daily (vm_id, day, disk_sum, disk_n, disk_max) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (vm_id, day) DO UPDATE SET disk_sum = excluded.disk_sum, disk_n = excluded.disk_n, disk_max = excluded.disk_max",
        };
        assert_int_equal(store_exec(st, sql[metric], STORE_ARGS(STORE_INT(vm), STORE_INT(day), STORE_INT(sum), STORE_INT(n), STORE_INT(max)), NULL), 0);
}

/* A month whose sample-weighted average is exactly avg (hundredths), the
 * days themselves not: odd days 12 samples at avg - 500, even days 12 at
 * avg + 500 (31 days: one more odd day, balanced by a heavier even day). */
static void month_at(int64_t vm, int metric, int64_t avg) {
        int64_t lo = avg - 500 < 0 ? 0 : avg - 500, hi = avg + (avg - lo);
        for (int64_t d = first_day; d < last_day; d++) {
                int64_t v = (d - first_day) % 2 ? hi : lo;
                day_add(vm, d, metric, 12 * v, 12, v);
        }
        day_add(vm, last_day, metric, 12 * avg, 12, avg);       /* the 31st: 30 balanced days and one at avg */
}

struct seen {
        char name[64];
        struct usage_vm vm;
};
static struct seen seen[64];
static size_t n_seen;

static int collect(const struct usage_vm *vm, void *userdata) {
        (void) userdata;
        assert_true(n_seen < 64);
        snprintf(seen[n_seen].name, sizeof seen[n_seen].name, "%s", vm->name);
        seen[n_seen].vm = *vm;
        seen[n_seen].vm.name = seen[n_seen].name;
        n_seen++;
        return 0;
}

static const struct usage_vm *find(const char *name) {
        for (size_t i = 0; i < n_seen; i++)
                if (strcmp(seen[i].name, name) == 0)
                        return &seen[i].vm;
        fail_msg("no VM %s evaluated", name);
        return NULL;
}

static void evaluate(int64_t first, int64_t last) {
        n_seen = 0;
        struct usage_scope scope = { .live_only = true };
        assert_int_equal(usage_evaluate(st, cfg, &scope, first, last, collect, NULL), 0);
}

static int setup(void **state) {
        char path[300];
        FILE *f;
        struct gc_error err = {};

        (void) state;
        strcpy(dir, "/tmp/gc-test-usage-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/orch.json", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "{\"listen\": \"127.0.0.1:0\", \"tls\": {\"cert\": \"c\", \"key\": \"k\", \"ca\": \"a\"}, \"database\": \"orch.db\", "
                   "\"policy_dir\": \"%s/policies\", \"pack\": \"baotou\", "
                   "\"pools\": [{\"name\": \"包头-A\"}, {\"name\": \"六安-A\", \"pack\": \"luan\"}]}",
                GC_SRCDIR);
        fclose(f);
        assert_int_equal(config_load(path, &cfg, &err), 0);
        snprintf(path, sizeof path, "%s/orch.db", dir);
        assert_int_equal(store_open(path, &st), 0);
        assert_int_equal(store_exec(st, "INSERT INTO units (id, name, created) VALUES (1, '市xx局', 1)", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "INSERT INTO pools (name, pack, updated) VALUES ('包头-A', 'baotou', 1), ('六安-A', 'luan', 1)",
                                    STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "INSERT INTO systems (id, unit_id, name, mlps_level, availability, classified, state, pool, created, updated) "
                                        "VALUES (1, 1, '协同办公OA', 2, '99.9%', 0, 'active', '包头-A', 1, 1), "
                                        "(2, 1, '一网通办', 2, '99.9%', 0, 'active', '六安-A', 1, 1)",
                                    STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "PRAGMA foreign_keys = OFF", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "INSERT INTO requests (id, kind, system_id, approval_system, approval_id, digest, document, received, outcome) "
                                        "VALUES (1, 'apply', 1, 'oa', 'x', 'd', '{}', 1, 'accepted')",
                                    STORE_NO_ARGS, NULL), 0);
        assert_int_equal(usage_month_days("2026-10", &first_day, &last_day), 0);
        return 0;
}

static int teardown(void **state) {
        char cmd[300];
        (void) state;
        store_close(st);
        config_free(cfg);
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_days(void **state) {
        char buf[11];
        int64_t a, b;

        (void) state;
        /* 2026-10-31T15:59:59Z is the 31st in +08:00; a second later, 1 November. */
        assert_int_equal(usage_day(1793462399, 480), usage_day(1793462399 - 3600, 480));
        usage_day_format(usage_day(1793462399, 480), buf);
        assert_string_equal(buf, "2026-10-31");
        usage_day_format(usage_day(1793462400, 480), buf);
        assert_string_equal(buf, "2026-11-01");
        usage_day_format(usage_day(1793462400, 0), buf);
        assert_string_equal(buf, "2026-10-31");
        usage_day_format(usage_day(-1, 0), buf);
        assert_string_equal(buf, "1969-12-31");
        assert_int_equal(usage_month_days("2026-02", &a, &b), 0);
        assert_int_equal(b - a + 1, 28);
        assert_int_equal(usage_month_days("2028-02", &a, &b), 0);
        assert_int_equal(b - a + 1, 29);
        assert_int_equal(usage_month_days("2026-12", &a, &b), 0);
        assert_int_equal(b - a + 1, 31);
        usage_day_format(b, buf);
        assert_string_equal(buf, "2026-12-31");
        const char *bad[] = { "2026-13", "2026-00", "2026-1", "26-01", "2026/01", "2026-01x", "", "1969-12" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(usage_month_days(bad[i], &a, &b), -EINVAL);
        assert_int_equal(usage_month_days(NULL, &a, &b), -EINVAL);
}

/* RULES.md: closed where the seed says "x%~y%" and ">=", open at "<";
 * where bands meet the higher one wins. On 4 vCPUs and 8 GiB. */
static void test_band_edges(void **state) {
        static const struct {
                int64_t pct;            /* hundredths */
                unsigned cpu_after;     /* 0: no change */
                unsigned mem_after;
                const char *cpu_rule, *mem_rule;
        } edges[] = {
                { 1499, 1, 2, "R-RS1", "R-RS2" },       /* below 15 %: a quarter */
                { 1500, 2, 2, "R-RS1", "R-RS2" },       /* 15 % is in [15, 30]: half; memory < 20: a quarter */
                { 1999, 2, 2, "R-RS1", "R-RS2" },
                { 2000, 2, 4, "R-RS1", "R-RS2" },       /* memory 20 % is in [20, 40]: half */
                { 3000, 2, 4, "R-RS1", "R-RS2" },       /* 30 % still halves */
                { 3001, 0, 4, "", "R-RS2" },            /* CPU (30, 50): no band */
                { 4000, 0, 4, "", "R-RS2" },
                { 4001, 0, 0, "", "" },                 /* memory (40, 70): no band */
                { 4999, 0, 0, "", "" },
                { 5000, 8, 0, "R-RS3", "" },            /* [50, 70): x2 */
                { 6999, 8, 0, "R-RS3", "" },
                { 7000, 12, 16, "R-RS3", "R-RS4" },     /* >= 70: x3, memory x2 */
                { 10000, 12, 16, "R-RS3", "R-RS4" },
        };
        int64_t ids[sizeof edges / sizeof edges[0]];
        char name[32];

        (void) state;
        for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
                snprintf(name, sizeof name, "edge-%lld", (long long) edges[i].pct);
                ids[i] = vm_add("包头-A", name, 4, 8, 200);
                month_at(ids[i], 0, edges[i].pct);
                month_at(ids[i], 1, edges[i].pct);
        }
        evaluate(first_day, last_day);
        for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
                snprintf(name, sizeof name, "edge-%lld", (long long) edges[i].pct);
                const struct usage_vm *v = find(name);
                print_message("%s: CPU %.2f -> %u (%s), memory %.2f -> %u (%s)\n", name, v->cpu_avg, v->rec.cpu.after, v->rec.cpu.rule,
                              v->memory_avg, v->rec.memory.after, v->rec.memory.rule);
                assert_true(fabs(v->cpu_avg - edges[i].pct / 100.0) < 1e-9);
                assert_int_equal(v->days, 31);
                assert_int_equal(v->cpu_n, 31 * 12);
                assert_int_equal(v->rec.cpu.applies, edges[i].cpu_after != 0);
                if (edges[i].cpu_after)
                        assert_int_equal(v->rec.cpu.after, edges[i].cpu_after);
                assert_string_equal(v->rec.cpu.rule, edges[i].cpu_rule);
                assert_int_equal(v->rec.memory.applies, edges[i].mem_after != 0);
                if (edges[i].mem_after)
                        assert_int_equal(v->rec.memory.after, edges[i].mem_after);
                assert_string_equal(v->rec.memory.rule, edges[i].mem_rule);
                /* R-RS7: idle only below both quarter bands. */
                assert_int_equal(v->rec.idle, edges[i].pct < 1500);
        }
        assert_int_equal(store_exec(st, "DELETE FROM usage_daily", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "DELETE FROM vms", STORE_NO_ARGS, NULL), 0);
}

/* The average weighs every sample, not every day; a day without samples
 * counts in nothing; no samples at all is no figure and no change. */
static void test_weights_and_gaps(void **state) {
        (void) state;
        int64_t w = vm_add("包头-A", "weighted", 4, 8, 200);
        int64_t g = vm_add("包头-A", "gappy", 4, 8, 200);
        int64_t e = vm_add("包头-A", "empty", 4, 8, 200);
        int64_t c = vm_add("包头-A", "cpu-only", 4, 8, 200);
        /* 1 day of 10 samples at 10 %, 1 day of 30 samples at 40 %: 32.5 %, not 25 %. */
        day_add(w, first_day, 0, 10 * 1000, 10, 1000);
        day_add(w, first_day + 1, 0, 30 * 4000, 30, 4000);
        /* 10 days at 10 % and 21 days without a sample: 10 %, not 3.2 %. */
        for (int64_t d = first_day; d < first_day + 10; d++) {
                day_add(g, d, 0, 24 * 1000, 24, 1000);
                day_add(g, d, 1, 24 * 1000, 24, 1000);
        }
        /* CPU measured, memory never (no balloon driver): no memory figure. */
        day_add(c, first_day, 0, 24 * 1000, 24, 1000);
        (void) e;
        evaluate(first_day, last_day);

        const struct usage_vm *v = find("weighted");
        assert_true(fabs(v->cpu_avg - 32.5) < 1e-9);
        assert_true(fabs(v->cpu_peak - 40.0) < 1e-9);
        assert_int_equal(v->days, 2);
        assert_true(isnan(v->memory_avg));
        assert_false(v->rec.memory.applies);
        v = find("gappy");
        assert_true(fabs(v->cpu_avg - 10.0) < 1e-9);
        assert_int_equal(v->days, 10);
        assert_true(isnan(v->cpu_daily[10]) && isnan(v->cpu_daily[30]));
        assert_true(fabs(v->cpu_daily[0] - 10.0) < 1e-9);
        assert_int_equal(v->rec.cpu.after, 1);
        assert_true(v->rec.idle);
        v = find("empty");
        assert_int_equal(v->days, 0);
        assert_true(isnan(v->cpu_avg) && isnan(v->memory_avg) && isnan(v->disk_usage));
        assert_false(v->rec.cpu.applies || v->rec.memory.applies || v->rec.disk.applies || v->rec.idle);
        assert_non_null(strstr(v->rec.cpu.reason, "no CPU samples"));
        v = find("cpu-only");
        assert_int_equal(v->rec.cpu.after, 1);
        assert_true(isnan(v->memory_avg));
        assert_false(v->rec.idle);      /* idle needs both figures (R-RS7) */
        assert_int_equal(store_exec(st, "DELETE FROM usage_daily", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "DELETE FROM vms", STORE_NO_ARGS, NULL), 0);
}

/* R-RS5: the month's daily disk usage, its least-squares line, the
 * configured test (min R² 0.9, min slope 0.1, min 7 days). */
static void test_disk_trend(void **state) {
        (void) state;
        int64_t lin = vm_add("包头-A", "linear", 4, 8, 500);
        int64_t flat = vm_add("包头-A", "flat", 4, 8, 500);
        int64_t noisy = vm_add("包头-A", "noisy", 4, 8, 500);
        int64_t sys = vm_add("包头-A", "system-disk-only", 4, 8, 0);
        int64_t low = vm_add("包头-A", "linear-low", 4, 8, 500);
        int64_t big = vm_add("包头-A", "linear-big", 4, 8, 3000);
        for (int64_t i = 0; i <= last_day - first_day; i++) {
                int64_t v = 5000 + 100 * i;             /* 50 % + 1 point a day: 80 % on day 31 */
                day_add(lin, first_day + i, 2, 24 * v, 24, v);
                day_add(flat, first_day + i, 2, 24 * 8500, 24, 8500);
                int64_t n = 5000 + 100 * i + (i % 2 ? -150 : 150);      /* +-1.5 points around the line: 81.5 % on day 31 */
                day_add(noisy, first_day + i, 2, 24 * n, 24, n);
                day_add(sys, first_day + i, 2, 24 * v, 24, v);
                day_add(low, first_day + i, 2, 24 * (v - 200), 24, v - 200);
                day_add(big, first_day + i, 2, 24 * v, 24, v);
        }
        evaluate(first_day, last_day);

        const struct usage_vm *v = find("linear");
        assert_true(fabs(v->disk_slope - 1.0) < 1e-9 && fabs(v->disk_r2 - 1.0) < 1e-9 && v->disk_linear);
        assert_true(fabs(v->disk_usage - 80.0) < 1e-9);
        assert_true(v->rec.disk.applies);
        assert_int_equal(v->rec.disk.after, 1000);
        assert_string_equal(v->rec.disk.rule, "R-RS5");
        assert_string_equal(v->disk_name, "data_disk_gib");
        v = find("flat");
        assert_false(v->disk_linear);
        assert_false(v->rec.disk.applies);      /* 85 % but not growing */
        v = find("noisy");
        assert_true(v->disk_r2 > 0.9 && v->disk_r2 < 1.0);
        assert_true(v->disk_linear && v->rec.disk.applies);
        v = find("system-disk-only");
        assert_string_equal(v->disk_name, "system_disk_gib");
        assert_int_equal(v->rec.disk.before, 40);
        assert_int_equal(v->rec.disk.after, 80);
        v = find("linear-low");
        assert_false(v->rec.disk.applies);      /* 78 % on the last day: below 80 % */
        /* 3000 GiB doubled is 6000: the pack's cap of 5 TB (R-RS5). */
        v = find("linear-big");
        assert_true(v->rec.disk.applies);
        assert_int_equal(v->rec.disk.after, 5120);
        assert_int_equal(store_exec(st, "DELETE FROM usage_daily", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "DELETE FROM vms", STORE_NO_ARGS, NULL), 0);
}

/* R-RS6: clamped to the pool's flavour bounds (1..64 vCPUs, 1..512 GiB by
 * default), skipped at a bound; a pack without bands changes nothing. */
static void test_bounds_and_unregulated(void **state) {
        (void) state;
        int64_t big = vm_add("包头-A", "busy-40", 40, 300, 200);
        int64_t one = vm_add("包头-A", "idle-1", 1, 1, 200);
        int64_t top = vm_add("包头-A", "busy-64", 64, 512, 200);
        int64_t lu = vm_add("六安-A", "luan-idle", 4, 8, 200);
        month_at(big, 0, 8000);
        month_at(big, 1, 8000);
        month_at(one, 0, 500);
        month_at(one, 1, 500);
        month_at(top, 0, 9000);
        month_at(top, 1, 9000);
        month_at(lu, 0, 500);
        month_at(lu, 1, 500);
        evaluate(first_day, last_day);

        const struct usage_vm *v = find("busy-40");
        assert_true(v->rec.cpu.applies);
        assert_int_equal(v->rec.cpu.after, 64);         /* x3 = 120, clamped */
        assert_true(v->rec.memory.applies);
        assert_int_equal(v->rec.memory.after, 512);     /* x2 = 600, clamped */
        v = find("idle-1");
        assert_false(v->rec.cpu.applies);
        assert_string_equal(v->rec.cpu.rule, "R-RS6");
        assert_false(v->rec.memory.applies);
        assert_string_equal(v->rec.memory.rule, "R-RS6");
        assert_true(v->rec.idle);
        v = find("busy-64");
        assert_false(v->rec.cpu.applies);
        assert_string_equal(v->rec.cpu.rule, "R-RS6");
        v = find("luan-idle");
        assert_false(v->rec.cpu.applies || v->rec.memory.applies || v->rec.disk.applies);
        assert_false(v->rec.idle);                      /* Lu'an sets no idle thresholds */
        assert_true(fabs(v->cpu_avg - 5.0) < 1e-9);     /* but the figures are there */
        assert_int_equal(store_exec(st, "DELETE FROM usage_daily", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "DELETE FROM vms", STORE_NO_ARGS, NULL), 0);
}

/* A period is at most USAGE_DAYS_MAX days: the last ones; days outside it count in nothing. */
static void test_period(void **state) {
        (void) state;
        int64_t v = vm_add("包头-A", "period", 4, 8, 200);
        day_add(v, first_day - 1, 0, 24 * 9000, 24, 9000);     /* 30 September */
        day_add(v, last_day + 1, 0, 24 * 9000, 24, 9000);      /* 1 November */
        day_add(v, first_day, 0, 24 * 1000, 24, 1000);
        evaluate(first_day, last_day);
        assert_true(fabs(find("period")->cpu_avg - 10.0) < 1e-9);
        evaluate(first_day - 100, last_day);
        assert_int_equal(find("period")->n_days, USAGE_DAYS_MAX);
        n_seen = 0;
        assert_int_equal(usage_evaluate(st, cfg, NULL, last_day, first_day, collect, NULL), -EINVAL);
        assert_int_equal(store_exec(st, "DELETE FROM usage_daily", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(st, "DELETE FROM vms", STORE_NO_ARGS, NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_days),
                cmocka_unit_test(test_band_edges),
                cmocka_unit_test(test_weights_and_gaps),
                cmocka_unit_test(test_disk_trend),
                cmocka_unit_test(test_bounds_and_unregulated),
                cmocka_unit_test(test_period),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
