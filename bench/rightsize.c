/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Utilization at scale (R-RS1..R-RS7): samples in through the API, and one
 * monthly evaluation out of the store, each against a plain C reference
 * measured in the same run.
 *
 * setup      A store for gc-orchestrator (bench/rightsize.sh starts it on
 *            that store afterwards): one unit, --vms VMs (default 10,000)
 *            in systems of 100 on the configuration's first pool, inserted
 *            straight with SQL.
 * ingest     One day of 5-minute samples, 288 per VM, POSTed to /v1/metrics
 *            as the provider over one keep-alive TLS 1.3 connection, each
 *            sample naming its VM by name and pool and carrying all three
 *            metrics: in batches of 5,000 ordered by time (the main figure:
 *            a monitoring system's push holds every VM at one or two
 *            instants), of 1,000 and 20,000 likewise, and of 5,000 ordered
 *            by VM (each VM's day in one place); each on a day of its own
 *            (yesterday, the day before, ...). Every batch must answer 200
 *            with every sample accepted. Timed: the POSTs (building the
 *            bodies is not).
 *            Reference: the same samples in the same batches folded into
 *            (VM, day) by a plain C loop and added with the same upsert as
 *            one prepared single-row statement into usage_daily of a bare
 *            SQLite file (the same table without its foreign key; WAL,
 *            synchronous=FULL as in the store; one transaction per batch).
 *            Afterwards each day holds --vms rows with 288 samples of each
 *            metric, identical in both files, or the run fails.
 * breakdown  Where the time of a 5,000-sample batch goes, seen from
 *            outside: the same batches refused at successive stages (403:
 *            the wrong role; 400: the JSON cut short at its end; 400: the
 *            last sample's cpu_pct out of range; 422: the last sample's
 *            time in the future; 422: the last sample naming no VM) and
 *            accepted, interleaved, 20 batches each; the differences
 *            between the stages are what each adds.
 * evaluate   A store with --vms VMs (default 100,000) and 30 days of daily
 *            aggregates for each (September 2026: 3,000,000 rows) loaded
 *            straight with prepared INSERTs in one transaction, spread so
 *            that every rule fires: idle, low, normal, busy and hot VMs;
 *            disks growing linearly past 80 %, high but flat, unmeasured;
 *            VMs at the pool's flavour bounds. Then, each in a fresh process
 *            of its own so that its peak RSS is its own:
 *              usage_evaluate() over the month (one unit holds every VM, as
 *              the monthly report calls it) with a callback counting the
 *              recommendations per dimension and rule;
 *              the reference: the same aggregates read into plain C arrays
 *              (timed apart), then a loop computing the averages and
 *              calling rightsize_recommend() for each VM.
 *            Both must count the same. --rounds times (default 2),
 *            alternating; the best time of each counts.
 *
 * Prints the figures and the ratios, and appends a summary line per
 * measurement to --results; asserts nothing about speed.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "naming.h"
#include "rightsize.h"
#include "store.h"
#include "usage.h"

#include "bench-http.h"

#define UNIT "\xe5\xb8\x82xx\xe5\xb1\x80"                                       /* 市xx局 */
#define SYSTEM_PREFIX "\xe4\xb8\x9a\xe5\x8a\xa1\xe7\xb3\xbb\xe7\xbb\x9f"        /* 业务系统 */
#define NO_SUCH_VM "\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8\xe7\x9a\x84\xe8\x99\x9a\xe6\x8b\x9f\xe6\x9c\xba"  /* 不存在的虚拟机 */
#define VMS_PER_SYSTEM 100
#define STEPS_PER_DAY 288               /* 5-minute samples */
#define REPLY_MAX (1024 * 1024)
#define BODY_MAX (64 * 1024 * 1024)
#define EVAL_MONTH "2026-09"            /* 30 days */
#define BREAKDOWN_BATCH 5000
#define BREAKDOWN_ROUNDS 20

static const char *const ROLES[] = {
        "\xe5\xba\x94\xe7\x94\xa8\xe6\x9c\x8d\xe5\x8a\xa1\xe5\x99\xa8",                 /* 应用服务器 */
        "\xe6\x95\xb0\xe6\x8d\xae\xe5\xba\x93\xe6\x9c\x8d\xe5\x8a\xa1\xe5\x99\xa8",     /* 数据库服务器 */
        "\xe4\xb8\xad\xe9\x97\xb4\xe4\xbb\xb6\xe6\x9c\x8d\xe5\x8a\xa1\xe5\x99\xa8",     /* 中间件服务器 */
};

/* usage_daily as migration 8 makes it, without the foreign key to vms. */
#define USAGE_DAILY_DDL                                                                                                \
        "CREATE TABLE IF NOT EXISTS usage_daily ("                                                                     \
        "  vm_id INTEGER NOT NULL, day INTEGER NOT NULL,"                                                              \
        "  cpu_sum INTEGER NOT NULL DEFAULT 0, cpu_n INTEGER NOT NULL DEFAULT 0, cpu_max INTEGER,"                     \
        "  mem_sum INTEGER NOT NULL DEFAULT 0, mem_n INTEGER NOT NULL DEFAULT 0, mem_max INTEGER,"                     \
        "  disk_sum INTEGER NOT NULL DEFAULT 0, disk_n INTEGER NOT NULL DEFAULT 0, disk_max INTEGER,"                  \
        "  PRIMARY KEY (vm_id, day)) WITHOUT ROWID"

/* The orchestrator's upsert (orchestrator/usage.c), one row at a time. */
#define USAGE_UPSERT                                                                                                   \
        "INSERT INTO usage_daily (vm_id, day, cpu_sum, cpu_n, cpu_max, mem_sum, mem_n, mem_max, "                      \
        "disk_sum, disk_n, disk_max) VALUES (?,?,?,?,?,?,?,?,?,?,?)"                                                   \
        " ON CONFLICT (vm_id, day) DO UPDATE SET "                                                                     \
        "cpu_sum = cpu_sum + excluded.cpu_sum, cpu_n = cpu_n + excluded.cpu_n, "                                       \
        "cpu_max = CASE WHEN cpu_max IS NULL OR excluded.cpu_max > cpu_max THEN COALESCE(excluded.cpu_max, cpu_max) ELSE cpu_max END, " \
        "mem_sum = mem_sum + excluded.mem_sum, mem_n = mem_n + excluded.mem_n, "                                       \
        "mem_max = CASE WHEN mem_max IS NULL OR excluded.mem_max > mem_max THEN COALESCE(excluded.mem_max, mem_max) ELSE mem_max END, " \
        "disk_sum = disk_sum + excluded.disk_sum, disk_n = disk_n + excluded.disk_n, "                                 \
        "disk_max = CASE WHEN disk_max IS NULL OR excluded.disk_max > disk_max THEN COALESCE(excluded.disk_max, disk_max) ELSE disk_max END"

#define USAGE_COLUMNS "vm_id, day, cpu_sum, cpu_n, cpu_max, mem_sum, mem_n, mem_max, disk_sum, disk_n, disk_max"

struct options {
        const char *config, *db, *reference_db, *url, *pki, *dir, *results, *runs;
        unsigned vms, steps, rounds;
        int64_t first, last;            /* the children's period */
};

static double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t splitmix64(uint64_t x) {
        uint64_t z = x + 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* A number in [0, 1) from a seed. */
static double unit_of(uint64_t seed) {
        return (double) (splitmix64(seed) >> 11) / 9007199254740992.0;
}

static long max_rss_kib(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return ru.ru_maxrss;
}

static void results_append(const struct options *o, const char *line) {
        if (!o->results)
                return;
        _cleanup_fclose_ FILE *f = fopen(o->results, "ae");
        if (f)
                fprintf(f, "%s\n", line);
}

/* ---- SQLite, straight ------------------------------------------------------ */

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize)
DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3 *, sqlite3_close_v2)
static void sqlite3_freep(char **p) {
        sqlite3_free(*p);
}

static int db_fail(sqlite3 *db, const char *what) {
        return log_error_errno(-EIO, "sqlite %s: %s", what, sqlite3_errmsg(db));
}

static int db_exec(sqlite3 *db, const char *sql) {
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = log_error_errno(-EIO, "sqlite: %s: %s", sql, msg ?: sqlite3_errmsg(db));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

static int db_open(const char *path, bool readonly, sqlite3 **ret) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(path, &db, readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        if (rc != SQLITE_OK) {
                log_error("%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
                sqlite3_close_v2(db);
                return -EIO;
        }
        sqlite3_busy_timeout(db, 30000);
        *ret = db;
        return 0;
}

static int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret) {
        if (sqlite3_prepare_v2(db, sql, -1, ret, NULL) != SQLITE_OK)
                return db_fail(db, sql);
        return 0;
}

/* Step a statement that returns no row, and reset it. */
static int db_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc == SQLITE_DONE ? 0 : db_fail(db, what);
}

static int64_t db_int(sqlite3 *db, const char *sql, int64_t day) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        if (db_prepare(db, sql, &st) < 0)
                return -1;
        if (sqlite3_bind_parameter_count(st) >= 1)
                sqlite3_bind_int64(st, 1, day);
        if (sqlite3_step(st) != SQLITE_ROW)
                return db_fail(db, sql), -1;
        return sqlite3_column_int64(st, 0);
}

static void remove_db(const char *path) {
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *p = xasprintf("%s%s", path, suffixes[i]);
                (void) unlink(p);
        }
}

static double file_mib(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? st.st_size / 1048576.0 : 0;
}

/* ---- the fleet: one unit, systems of 100 VMs ------------------------------- */

struct shape {
        unsigned vcpus, memory_gib, system_disk_gib, data_disk_gib;
};

/* VM i's flavour: every size the pool offers, the bounds among them. */
static void vm_shape(uint64_t i, struct shape *ret) {
        static const unsigned vcpus[] = { 1, 2, 2, 4, 4, 4, 8, 8, 8, 16, 16, 32, 64 };
        static const unsigned per_vcpu[] = { 1, 2, 4 };
        static const unsigned data[] = { 100, 200, 500, 1024, 2048, 4096 };
        uint64_t h = splitmix64(i ^ 0x5eed0001ULL);
        ret->vcpus = vcpus[h % ELEMENTSOF(vcpus)];
        ret->memory_gib = ret->vcpus * per_vcpu[(h >> 8) % ELEMENTSOF(per_vcpu)];
        ret->system_disk_gib = (h >> 16) % 4 ? 40 : 100;
        ret->data_disk_gib = (h >> 24) % 100 < 15 ? 0 : data[(h >> 32) % ELEMENTSOF(data)];
}

/* VM i (0-based) is VM id i + 1, in system i / 100 + 1. */
static int vm_name(unsigned i, char **ret) {
        unsigned k = i % VMS_PER_SYSTEM;
        char system[64];
        snprintf(system, sizeof system, SYSTEM_PREFIX "%04u", i / VMS_PER_SYSTEM + 1);
        struct naming_parts parts = { UNIT, system, ROLES[k % ELEMENTSOF(ROLES)], k / ELEMENTSOF(ROLES) + 1 };
        struct gc_error err = {};
        if (naming_build(&parts, ret, &err) < 0)
                return log_error_errno(-EINVAL, "VM %u: %s: %s", i, err.field, err.message);
        return 0;
}

/* A fresh store (the migrations through store_open()), then its unit,
 * systems, requests and VMs inserted straight, in one transaction. */
static int fleet_fill(const char *path, const struct config *cfg, unsigned n_vms) {
        const struct config_pool *pool = &cfg->pools[0];
        int64_t now = time(NULL);
        unsigned n_systems = (n_vms + VMS_PER_SYSTEM - 1) / VMS_PER_SYSTEM;
        int r;

        remove_db(path);
        {
                _cleanup_(store_closep) struct store *s = NULL;
                r = store_open(path, &s);
                if (r < 0)
                        return r;
        }
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *sys = NULL, *req = NULL, *vm = NULL;
        r = db_open(path, false, &db);
        if (r >= 0)
                r = db_exec(db, "PRAGMA foreign_keys = ON; BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        _cleanup_(sqlite3_freep) char *head = sqlite3_mprintf(
                "INSERT INTO pools (name, pack, updated) VALUES (%Q, %Q, %lld);"
                "INSERT INTO units (id, name, created) VALUES (1, %Q, %lld);"
                "INSERT INTO approval_systems (id, name, key_type, public_key, fingerprint, created) "
                "VALUES ('approval-oa', 'OA', 'sm2', '-', 'sha256:%064d', %lld)",
                pool->name, pool->pack->id, (long long) now, UNIT, (long long) now, 0, (long long) now);
        r = db_exec(db, head);
        if (r >= 0)
                r = db_prepare(db, "INSERT INTO systems (id, unit_id, name, mlps_level, availability, classified, state, pool, "
                                   "created, updated) VALUES (?, 1, ?, 2, '99.9%', 0, 'active', ?, ?, ?)", &sys);
        if (r >= 0)
                r = db_prepare(db, "INSERT INTO requests (id, kind, system_id, approval_system, approval_id, digest, document, "
                                   "received, outcome) VALUES (?, 'apply', ?, 'approval-oa', ?, ?, '{}', ?, 'accepted')", &req);
        if (r >= 0)
                r = db_prepare(db, "INSERT INTO vms (id, system_id, pool, name, role, number, spec, state, request_id, uuid, "
                                   "vcpus, memory_gib, disk_gib) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)", &vm);
        for (unsigned s = 0; r >= 0 && s < n_systems; s++) {
                char name[64], approval[32], digest[80];
                snprintf(name, sizeof name, SYSTEM_PREFIX "%04u", s + 1);
                snprintf(approval, sizeof approval, "OA-BENCH-%06u", s + 1);
                snprintf(digest, sizeof digest, "sm3:%064u", s + 1);
                sqlite3_bind_int64(sys, 1, s + 1);
                sqlite3_bind_text(sys, 2, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(sys, 3, pool->name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(sys, 4, now);
                sqlite3_bind_int64(sys, 5, now);
                r = db_step_done(db, sys, "INSERT INTO systems");
                if (r < 0)
                        break;
                sqlite3_bind_int64(req, 1, s + 1);
                sqlite3_bind_int64(req, 2, s + 1);
                sqlite3_bind_text(req, 3, approval, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(req, 4, digest, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(req, 5, now);
                r = db_step_done(db, req, "INSERT INTO requests");
        }
        for (unsigned i = 0; r >= 0 && i < n_vms; i++) {
                _cleanup_free_ char *name = NULL, *spec = NULL;
                struct shape sh;
                char uuid[40], data_disk[48];
                unsigned k = i % VMS_PER_SYSTEM;

                r = vm_name(i, &name);
                if (r < 0)
                        break;
                vm_shape(i, &sh);
                snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012x", i + 1);
                if (sh.data_disk_gib)
                        snprintf(data_disk, sizeof data_disk, "{\"gib\":%u,\"type\":\"SAS\"}", sh.data_disk_gib);
                else
                        snprintf(data_disk, sizeof data_disk, "null");
                spec = xasprintf("{\"type\":\"vm\",\"arch\":\"x86\",\"vcpus\":%u,\"memory_gib\":%u,"
                                 "\"system_disk\":{\"gib\":%u,\"type\":\"SSD\"},\"data_disk\":%s,"
                                 "\"os\":\"\xe9\xba\x92\xe9\xba\x9fV10\",\"network\":\"egov\",\"ports\":[443]}",
                                 sh.vcpus, sh.memory_gib, sh.system_disk_gib, data_disk);
                sqlite3_bind_int64(vm, 1, i + 1);
                sqlite3_bind_int64(vm, 2, i / VMS_PER_SYSTEM + 1);
                sqlite3_bind_text(vm, 3, pool->name, -1, SQLITE_STATIC);
                sqlite3_bind_text(vm, 4, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(vm, 5, ROLES[k % ELEMENTSOF(ROLES)], -1, SQLITE_STATIC);
                sqlite3_bind_int64(vm, 6, k / ELEMENTSOF(ROLES) + 1);
                sqlite3_bind_text(vm, 7, spec, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(vm, 8, i / VMS_PER_SYSTEM + 1);
                sqlite3_bind_text(vm, 9, uuid, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(vm, 10, sh.vcpus);
                sqlite3_bind_int64(vm, 11, sh.memory_gib);
                sqlite3_bind_int64(vm, 12, sh.system_disk_gib + sh.data_disk_gib);
                r = db_step_done(db, vm, "INSERT INTO vms");
        }
        if (r >= 0)
                r = db_exec(db, "COMMIT");
        return r;
}

/* ---- HTTPS: one easy handle per identity, so one connection each ---------- */

/* The rightsize calls: POST with a body, GET without; *ret_connects (may
 * be NULL) adds the new connections the call made. */
static int rs_call(struct http *h, const char *path, const char *body, size_t len, long *ret_status, long *ret_connects) {
        long c = 0;
        int r = http_call(h, body ? "POST" : "GET", path, body, len, ret_status, &c);
        if (r >= 0 && ret_connects)
                *ret_connects += c;
        return r;
}

/* ---- ingest: the samples ------------------------------------------------------ */

struct ingest {
        const struct options *o;
        unsigned n_vms, steps;
        char **names;                   /* VM i's name */
        const char *pool;
        int offset;                     /* the pool's UTC offset, minutes */
        int64_t today;                  /* the pool's calendar day now */
        char future[40];                /* a time two days ahead */
};

struct run {
        unsigned batch;
        bool by_vm;                     /* each VM's day together, not each instant's VMs */
        int64_t day;
        char (*times)[40];              /* per step, in the pool's offset */
};

static void format_local(int64_t t, int offset, char buf[40]) {
        time_t local = (time_t) (t + (int64_t) offset * 60);
        struct tm tm;
        unsigned a = (unsigned) (offset < 0 ? -offset : offset) % 1440;
        gmtime_r(&local, &tm);
        size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, 40 - n, "%c%02u:%02u", offset < 0 ? '-' : '+', a / 60, a % 60);
}

static void run_times(const struct ingest *in, struct run *rn) {
        rn->times = xcalloc(in->steps, sizeof *rn->times);
        for (unsigned s = 0; s < in->steps; s++)
                format_local(rn->day * 86400 - (int64_t) in->offset * 60 + (int64_t) s * 300, in->offset, rn->times[s]);
}

/* Sample k of a run: VM and step. */
static void sample_at(const struct ingest *in, const struct run *rn, size_t k, unsigned *ret_vm, unsigned *ret_step) {
        if (rn->by_vm) {
                *ret_vm = (unsigned) (k / in->steps);
                *ret_step = (unsigned) (k % in->steps);
        } else {
                *ret_vm = (unsigned) (k % in->n_vms);
                *ret_step = (unsigned) (k / in->n_vms);
        }
}

/* A metric of a sample in hundredths of a percent: a VM's level and noise. */
static int metric_centi(unsigned vm, unsigned step, int64_t day, int m) {
        double base = 2.0 + 88.0 * unit_of(((uint64_t) vm << 2 | (uint64_t) m) ^ 0xba5e0000ULL);
        double noise = 30.0 * (unit_of((((uint64_t) day * 1000003u + vm) * 1024u + step) * 4u + (uint64_t) m) - 0.5);
        long c = lround((base + noise) * 100.0);
        return (int) (c < 0 ? 0 : c > 10000 ? 10000 : c);
}

enum variant {
        VARIANT_OK,
        VARIANT_CUT,            /* the JSON's closing brace missing */
        VARIANT_SCHEMA,         /* the last sample's cpu_pct above 100 */
        VARIANT_FUTURE,         /* the last sample's time two days ahead */
        VARIANT_UNKNOWN,        /* the last sample names no VM */
};

static int body_build(struct gc_buf *b, const struct ingest *in, const struct run *rn, size_t first, size_t count, enum variant v) {
        int r = 0;
        gc_buf_reset(b);
        r = gc_buf_append_str(b, "{\"samples\":[");
        for (size_t k = first; r >= 0 && k < first + count; k++) {
                unsigned vm, step;
                bool last = k == first + count - 1;
                sample_at(in, rn, k, &vm, &step);
                int c[3];
                for (int m = 0; m < 3; m++)
                        c[m] = metric_centi(vm, step, rn->day, m);
                if (last && v == VARIANT_SCHEMA)
                        c[0] = 10050;
                r = gc_buf_printf(b, "%s{\"vm\":\"%s\",\"pool\":\"%s\",\"time\":\"%s\",\"cpu_pct\":%d.%02d,\"memory_pct\":%d.%02d,"
                                  "\"disk_pct\":%d.%02d}",
                                  k == first ? "" : ",", last && v == VARIANT_UNKNOWN ? NO_SUCH_VM : in->names[vm], in->pool,
                                  last && v == VARIANT_FUTURE ? in->future : rn->times[step], c[0] / 100, c[0] % 100,
                                  c[1] / 100, c[1] % 100, c[2] / 100, c[2] % 100);
        }
        if (r >= 0)
                r = gc_buf_append_str(b, v == VARIANT_CUT ? "]" : "]}");
        return r < 0 ? log_error_errno(r, "a batch of %zu samples does not fit %d bytes", count, BODY_MAX) : 0;
}

/* The reply to an accepted batch: every sample taken, none a duplicate. */
static int reply_check(const struct http *h, size_t count) {
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_ParseWithLength(h->reply.data, h->reply.len);
        const cJSON *accepted = cJSON_GetObjectItemCaseSensitive(doc, "accepted");
        const cJSON *ignored = cJSON_GetObjectItemCaseSensitive(doc, "ignored");
        const cJSON *duplicate = cJSON_GetObjectItemCaseSensitive(doc, "duplicate");
        if (!cJSON_IsNumber(accepted) || (size_t) accepted->valuedouble != count || !cJSON_IsNumber(ignored) ||
            ignored->valuedouble != 0 || !cJSON_IsFalse(duplicate)) {
                fprintf(stderr, "bench-rightsize: POST /v1/metrics: %zu samples sent, the reply: %s\n", count, h->reply.data ?: "");
                return -EBADMSG;
        }
        return 0;
}

/* ---- ingest: the reference, a plain fold and upsert ------------------------- */

struct day_agg {
        int64_t vm_id, day;
        int64_t sum[3], n[3], max[3];
        size_t slot;
};

struct fold {
        size_t cap;                     /* a power of two */
        int64_t *slot;                  /* -1 empty, else an index into aggs */
        struct day_agg *aggs;
        size_t n, cap_aggs;
};

static void fold_init(struct fold *f, size_t batch) {
        *f = (struct fold) {};
        f->cap = 1;
        while (f->cap < 2 * batch)
                f->cap <<= 1;
        f->slot = xnew(int64_t, f->cap);
        memset(f->slot, 0xff, f->cap * sizeof *f->slot);
        f->cap_aggs = batch;
        f->aggs = xnew(struct day_agg, batch);
}

static void fold_done(struct fold *f) {
        free(f->slot);
        free(f->aggs);
}

static void fold_reset(struct fold *f) {
        for (size_t i = 0; i < f->n; i++)
                f->slot[f->aggs[i].slot] = -1;
        f->n = 0;
}

static struct day_agg *fold_get(struct fold *f, int64_t vm_id, int64_t day) {
        size_t j = splitmix64((uint64_t) vm_id << 24 ^ (uint64_t) day) & (f->cap - 1);
        while (f->slot[j] >= 0) {
                struct day_agg *a = &f->aggs[f->slot[j]];
                if (a->vm_id == vm_id && a->day == day)
                        return a;
                j = (j + 1) & (f->cap - 1);
        }
        assert(f->n < f->cap_aggs);
        f->slot[j] = (int64_t) f->n;
        struct day_agg *a = &f->aggs[f->n++];
        *a = (struct day_agg) { .vm_id = vm_id, .day = day, .max = { -1, -1, -1 }, .slot = j };
        return a;
}

static int reference_batch(sqlite3 *db, sqlite3_stmt *up, struct fold *f, const struct ingest *in, const struct run *rn,
                           size_t first, size_t count) {
        fold_reset(f);
        for (size_t k = first; k < first + count; k++) {
                unsigned vm, step;
                sample_at(in, rn, k, &vm, &step);
                struct day_agg *a = fold_get(f, vm + 1, rn->day);
                for (int m = 0; m < 3; m++) {
                        int c = metric_centi(vm, step, rn->day, m);
                        a->sum[m] += c;
                        a->n[m]++;
                        if (c > a->max[m])
                                a->max[m] = c;
                }
        }
        int r = db_exec(db, "BEGIN IMMEDIATE");
        for (size_t i = 0; r >= 0 && i < f->n; i++) {
                const struct day_agg *a = &f->aggs[i];
                sqlite3_bind_int64(up, 1, a->vm_id);
                sqlite3_bind_int64(up, 2, a->day);
                for (int m = 0; m < 3; m++) {
                        sqlite3_bind_int64(up, 3 + 3 * m, a->sum[m]);
                        sqlite3_bind_int64(up, 4 + 3 * m, a->n[m]);
                        if (a->n[m])
                                sqlite3_bind_int64(up, 5 + 3 * m, a->max[m]);
                        else
                                sqlite3_bind_null(up, 5 + 3 * m);
                }
                r = db_step_done(db, up, "upsert into usage_daily");
        }
        if (r >= 0)
                r = db_exec(db, "COMMIT");
        else
                (void) db_exec(db, "ROLLBACK");
        return r;
}

/* ---- ingest: the runs ---------------------------------------------------------- */

struct run_result {
        double api, reference;          /* seconds */
        size_t samples, batches;
        long connects;
};

static int run_api(const struct ingest *in, const struct run *rn, struct http *h, struct gc_buf *body, struct run_result *res) {
        size_t total = (size_t) in->n_vms * in->steps;
        long status;
        int r;

        for (size_t first = 0; first < total; first += rn->batch) {
                size_t count = total - first < rn->batch ? total - first : rn->batch;
                r = body_build(body, in, rn, first, count, VARIANT_OK);
                if (r < 0)
                        return r;
                double t0 = now_seconds();
                r = rs_call(h, "/v1/metrics", body->data, body->len, &status, &res->connects);
                res->api += now_seconds() - t0;
                if (r < 0)
                        return r;
                if (status != 200) {
                        fprintf(stderr, "bench-rightsize: POST /v1/metrics: HTTP %ld, expected 200: %s\n", status, h->reply.data ?: "");
                        return -EPROTO;
                }
                r = reply_check(h, count);
                if (r < 0)
                        return r;
                res->batches++;
        }
        res->samples = total;
        return 0;
}

static int run_reference(const struct ingest *in, const struct run *rn, sqlite3 *db, struct run_result *res) {
        size_t total = (size_t) in->n_vms * in->steps;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *up = NULL;
        struct fold f;
        int r = db_prepare(db, USAGE_UPSERT, &up);
        if (r < 0)
                return r;
        fold_init(&f, rn->batch);
        double t0 = now_seconds();
        for (size_t first = 0; r >= 0 && first < total; first += rn->batch)
                r = reference_batch(db, up, &f, in, rn, first, total - first < rn->batch ? total - first : rn->batch);
        res->reference = now_seconds() - t0;
        fold_done(&f);
        return r;
}

/* The day in the store: every VM, every sample of each metric, the same
 * rows as the reference's. */
static int run_verify(const struct ingest *in, const struct run *rn) {
        const struct options *o = in->o;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        int r = db_open(o->db, true, &db);
        if (r < 0)
                return r;
        _cleanup_(sqlite3_freep) char *attach = sqlite3_mprintf("ATTACH %Q AS ref", o->reference_db);
        r = db_exec(db, attach);
        if (r < 0)
                return r;
        _cleanup_free_ char *full = xasprintf("SELECT COUNT(*) FROM main.usage_daily WHERE day = ?1 AND cpu_n = %u AND mem_n = %u "
                                              "AND disk_n = %u", in->steps, in->steps, in->steps);
        int64_t rows = db_int(db, "SELECT COUNT(*) FROM main.usage_daily WHERE day = ?1", rn->day);
        int64_t complete = db_int(db, full, rn->day);
        int64_t only_api = db_int(db, "SELECT COUNT(*) FROM (SELECT " USAGE_COLUMNS " FROM main.usage_daily WHERE day = ?1 EXCEPT "
                                      "SELECT " USAGE_COLUMNS " FROM ref.usage_daily WHERE day = ?1)", rn->day);
        int64_t only_ref = db_int(db, "SELECT COUNT(*) FROM (SELECT " USAGE_COLUMNS " FROM ref.usage_daily WHERE day = ?1 EXCEPT "
                                      "SELECT " USAGE_COLUMNS " FROM main.usage_daily WHERE day = ?1)", rn->day);
        if (rows != in->n_vms || complete != in->n_vms || only_api != 0 || only_ref != 0) {
                fprintf(stderr, "bench-rightsize: day %" PRId64 ": %" PRId64 " rows in the store (%u expected), %" PRId64
                        " with %u samples of each metric; %" PRId64 " rows differ from the reference, %" PRId64 " missing\n",
                        rn->day, rows, in->n_vms, complete, in->steps, only_api, only_ref);
                return -EBADMSG;
        }
        return 0;
}

struct run_spec {
        unsigned batch;
        bool by_vm;
};

static int parse_runs(const char *text, struct run_spec **ret, size_t *ret_n) {
        _cleanup_free_ char *copy = xstrdup(text);
        _cleanup_free_ struct run_spec *v = NULL;
        size_t n = 0;
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *end;
                unsigned long b = strtoul(t, &end, 10);
                if (b < 1 || b > USAGE_BATCH_MAX || (*end && strcmp(end, ":time") != 0 && strcmp(end, ":vm") != 0))
                        return log_error_errno(-EINVAL, "--runs: \"%s\" is not BATCH[:time|:vm] with 1 <= BATCH <= %d", t, USAGE_BATCH_MAX);
                v = xrealloc(v, (n + 1) * sizeof *v);
                v[n++] = (struct run_spec) { .batch = (unsigned) b, .by_vm = strcmp(end, ":vm") == 0 };
        }
        if (n == 0)
                return log_error_errno(-EINVAL, "--runs: empty");
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* ---- ingest: the breakdown ----------------------------------------------------- */

static const struct stage {
        const char *what;
        enum variant variant;
        bool provider;
        long status;
} STAGES[] = {
        { "TLS, HTTP, the body read; 403 (the wrong role)", VARIANT_OK, false, 403 },
        { "+ JSON parse (400 invalid_json, its end cut)", VARIANT_CUT, true, 400 },
        { "+ schema validation (400, last cpu_pct > 100)", VARIANT_SCHEMA, true, 400 },
        { "+ per-sample checks (422, last time ahead)", VARIANT_FUTURE, true, 422 },
        { "+ digest, VM lookups (422, last VM unknown)", VARIANT_UNKNOWN, true, 422 },
        { "+ fold, upserts, audit, commit (200)", VARIANT_OK, true, 200 },
};

static int run_breakdown(const struct ingest *in, struct http *provider, struct http *authority, struct gc_buf *body,
                         int64_t day, double ret_ms[ELEMENTSOF(STAGES)], size_t *ret_batch) {
        struct run rn = { .batch = BREAKDOWN_BATCH, .day = day };
        size_t total = (size_t) in->n_vms * in->steps;
        double sum[ELEMENTSOF(STAGES)] = {};
        int rounds = 0, r = 0;

        run_times(in, &rn);
        for (size_t first = 0; first < total && rounds < BREAKDOWN_ROUNDS; first += rn.batch, rounds++) {
                size_t count = total - first < rn.batch ? total - first : rn.batch;
                for (size_t s = 0; s < ELEMENTSOF(STAGES); s++) {
                        long status;
                        r = body_build(body, in, &rn, first, count, STAGES[s].variant);
                        if (r < 0)
                                goto out;
                        struct http *h = STAGES[s].provider ? provider : authority;
                        double t0 = now_seconds();
                        r = rs_call(h, "/v1/metrics", body->data, body->len, &status, NULL);
                        sum[s] += now_seconds() - t0;
                        if (r < 0)
                                goto out;
                        if (status != STAGES[s].status) {
                                fprintf(stderr, "bench-rightsize: breakdown \"%s\": HTTP %ld, expected %ld: %.300s\n", STAGES[s].what,
                                        status, STAGES[s].status, h->reply.data ?: "");
                                r = -EPROTO;
                                goto out;
                        }
                        if (status == 200 && (r = reply_check(h, count)) < 0)
                                goto out;
                }
        }
        for (size_t s = 0; s < ELEMENTSOF(STAGES); s++)
                ret_ms[s] = sum[s] / rounds * 1e3;
        *ret_batch = total < rn.batch ? total : rn.batch;
out:
        free(rn.times);
        return r;
}

static int do_ingest(const struct options *o) {
        _cleanup_(config_freep) struct config *cfg = NULL;
        _cleanup_free_ struct run_spec *specs = NULL;
        _cleanup_(sqlite3_close_v2p) sqlite3 *ref = NULL;
        struct gc_error err = {};
        struct ingest in = { .o = o, .n_vms = o->vms, .steps = o->steps };
        struct http provider = {}, authority = {};
        struct gc_buf body = GC_BUF_INIT(BODY_MAX);
        size_t n_specs = 0;
        long status;
        int r;

        r = parse_runs(o->runs, &specs, &n_specs);
        if (r < 0)
                return r;
        r = config_load(o->config, &cfg, &err);
        if (r < 0)
                return log_error_errno(r, "%s: %s: %s", o->config, err.field, err.message);
        const struct config_pool *pool = &cfg->pools[0];
        in.pool = pool->name;
        in.offset = pool->pack ? pool->pack->calendar.utc_offset_minutes : 480;
        int64_t now = time(NULL);
        in.today = usage_day(now, in.offset);
        format_local(now + 2 * 86400, in.offset, in.future);
        in.names = xnew(char *, in.n_vms);
        for (unsigned i = 0; i < in.n_vms; i++) {
                r = vm_name(i, &in.names[i]);
                if (r < 0)
                        goto out;
        }

        remove_db(o->reference_db);
        r = db_open(o->reference_db, false, &ref);
        if (r >= 0)
                r = db_exec(ref, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; " USAGE_DAILY_DDL);
        if (r >= 0)
                r = http_open(&provider, "bench-rightsize", o->url, o->pki, "provider-provider-ops", REPLY_MAX, 300L);
        if (r >= 0)
                r = http_open(&authority, "bench-rightsize", o->url, o->pki, "authority-authority", REPLY_MAX, 300L);
        /* The connections, before the clock. */
        if (r >= 0)
                r = rs_call(&provider, "/healthz", NULL, 0, &status, NULL);
        if (r >= 0)
                r = rs_call(&authority, "/healthz", NULL, 0, &status, NULL);
        if (r < 0)
                goto out;

        printf("ingest: %u VMs x %u samples a day (every 5 minutes) = %zu samples per run, each VM by name and pool, "
               "three metrics each\n", in.n_vms, in.steps, (size_t) in.n_vms * in.steps);
        printf("%-22s %14s %14s %9s %8s %11s\n", "batch", "API samples/s", "bare SQLite/s", "ratio", "batches", "ms/batch");
        for (size_t i = 0; i < n_specs; i++) {
                struct run rn = { .batch = specs[i].batch, .by_vm = specs[i].by_vm, .day = in.today - 1 - (int64_t) i };
                struct run_result res = {};
                char label[48], day[11], line[256];

                run_times(&in, &rn);
                r = run_api(&in, &rn, &provider, &body, &res);
                if (r >= 0)
                        r = run_reference(&in, &rn, ref, &res);
                if (r >= 0)
                        r = run_verify(&in, &rn);
                free(rn.times);
                if (r < 0)
                        goto out;
                double api_rate = res.samples / res.api, ref_rate = res.samples / res.reference;
                snprintf(label, sizeof label, "%u by %s", rn.batch, rn.by_vm ? "VM" : "time");
                usage_day_format(rn.day, day);
                printf("%-22s %14.0f %14.0f %8.3gx %8zu %11.1f   (day %s, %ld new connection%s)\n", label, api_rate, ref_rate,
                       api_rate / ref_rate, res.batches, res.api / res.batches * 1e3, day, res.connects, res.connects == 1 ? "" : "s");
                fflush(stdout);
                snprintf(line, sizeof line, "ingest, batch %-13s %10.0f samples/s   bare SQLite %10.0f samples/s   ratio %.3g",
                         label, api_rate, ref_rate, api_rate / ref_rate);
                results_append(o, line);
        }
        printf("each day checked: %u rows in usage_daily with %u samples of each metric, the same rows as the reference\n",
               in.n_vms, in.steps);

        double ms[ELEMENTSOF(STAGES)];
        size_t bb = 0;
        r = rs_call(&authority, "/healthz", NULL, 0, &status, NULL);   /* idle all along: maybe closed */
        if (r < 0)
                goto out;
        r = run_breakdown(&in, &provider, &authority, &body, in.today - 1 - (int64_t) n_specs, ms, &bb);
        if (r < 0)
                goto out;
        printf("\nwhere a batch of %zu samples (by time) goes: mean of up to %d batches per stage, interleaved\n", bb,
               BREAKDOWN_ROUNDS);
        printf("%-50s %10s %10s %12s\n", "stage (what the answer proves was done)", "ms", "+ms", "us/sample");
        for (size_t s = 0; s < ELEMENTSOF(STAGES); s++) {
                double add = s ? ms[s] - ms[s - 1] : ms[s];
                printf("%-50s %10.1f %10.1f %12.2f\n", STAGES[s].what, ms[s], add, add * 1e3 / bb);
        }
        char line[256];
        snprintf(line, sizeof line, "ingest breakdown, batch %zu: transport %.0f ms, JSON %.0f, schema %.0f, checks %.0f, "
                 "lookups %.0f, fold+upserts+commit %.0f", bb, ms[0], ms[1] - ms[0], ms[2] - ms[1], ms[3] - ms[2],
                 ms[4] - ms[3], ms[5] - ms[4]);
        results_append(o, line);
out:
        if (provider.curl)
                http_close(&provider);
        if (authority.curl)
                http_close(&authority);
        gc_buf_free(&body);
        for (unsigned i = 0; in.names && i < in.n_vms; i++)
                free(in.names[i]);
        free(in.names);
        return r;
}

/* ---- evaluate: the month's aggregates -------------------------------------- */

struct profile {
        double cpu, memory;             /* the month's level, percent */
        bool no_memory;                 /* never measured */
        enum { DISK_NORMAL, DISK_LINEAR, DISK_FLAT_HIGH, DISK_NONE } disk;
        double disk0, slope;            /* percent, points per day */
};

static void vm_profile(uint64_t i, struct profile *p) {
        uint64_t h = splitmix64(i ^ 0x9f0f11e0ULL);
        double u = unit_of(h), v = unit_of(h + 1);
        unsigned k = (unsigned) (h % 100), q = (unsigned) ((h >> 8) % 100);

        *p = (struct profile) {};
        if (k < 20)             /* idle: R-RS1, R-RS2 by a quarter, R-RS7 */
                p->cpu = 1 + 11 * u, p->memory = 5 + 13 * v;
        else if (k < 45)        /* low: by half */
                p->cpu = 15.5 + 14 * u, p->memory = 20.5 + 19 * v;
        else if (k < 75)        /* well sized */
                p->cpu = 31 + 18 * u, p->memory = 41 + 28 * v;
        else if (k < 90)        /* busy: R-RS3 double, memory as it is or R-RS4 */
                p->cpu = 51 + 18 * u, p->memory = 62 + 20 * v;
        else if (k < 98)        /* hot: R-RS3 triple, R-RS4 */
                p->cpu = 71 + 25 * u, p->memory = 72 + 26 * v;
        else                    /* memory never measured */
                p->cpu = 10 + 70 * u, p->no_memory = true;
        double w = unit_of(h + 2), x = unit_of(h + 3);
        if (q < 10)             /* R-RS5: growing linearly past 80 % */
                p->disk = DISK_LINEAR, p->disk0 = 58 + 14 * w, p->slope = 0.6 + 0.5 * x;
        else if (q < 15)        /* high but flat: not linear growth */
                p->disk = DISK_FLAT_HIGH, p->disk0 = 82 + 13 * w;
        else if (q < 17)
                p->disk = DISK_NONE;
        else
                p->disk = DISK_NORMAL, p->disk0 = 10 + 60 * w;
}

static int64_t clamp_centi(double pct) {
        long long c = llround(pct * 100.0);
        return c < 0 ? 0 : c > 10000 ? 10000 : c;
}

/* 30 rows per VM, prepared INSERTs in one transaction. */
static int usage_fill(const char *path, unsigned n_vms, int64_t first, int64_t last) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *ins = NULL;
        int r = db_open(path, false, &db);
        if (r >= 0)
                r = db_exec(db, "BEGIN IMMEDIATE");
        if (r >= 0)
                r = db_prepare(db, "INSERT INTO usage_daily (" USAGE_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?)", &ins);
        for (unsigned i = 0; r >= 0 && i < n_vms; i++) {
                struct profile p;
                vm_profile(i, &p);
                for (int64_t d = first; r >= 0 && d <= last; d++) {
                        uint64_t seed = ((uint64_t) i << 8 | (uint64_t) (d - first)) ^ 0xd1ce0000ULL;
                        /* The day's peak above its average, by this much. */
                        double level[3], spread[3] = { 0.2 + 1.8 * unit_of(seed + 10), 0.05 + 0.25 * unit_of(seed + 11), 0.01 };
                        bool measured[3] = { true, !p.no_memory, p.disk != DISK_NONE };
                        level[0] = p.cpu * (0.8 + 0.4 * unit_of(seed));
                        level[1] = p.memory * (0.9 + 0.2 * unit_of(seed + 1));
                        switch (p.disk) {
                        case DISK_LINEAR:
                                level[2] = p.disk0 + p.slope * (double) (d - first) + 0.6 * (unit_of(seed + 2) - 0.5);
                                break;
                        case DISK_FLAT_HIGH:
                                level[2] = p.disk0 + 5 * (unit_of(seed + 2) - 0.5);
                                break;
                        default:
                                level[2] = p.disk0 + 3 * (unit_of(seed + 2) - 0.5);
                        }
                        sqlite3_bind_int64(ins, 1, i + 1);
                        sqlite3_bind_int64(ins, 2, d);
                        for (int m = 0; m < 3; m++) {
                                int64_t c = clamp_centi(level[m]);
                                if (!measured[m]) {
                                        sqlite3_bind_int64(ins, 3 + 3 * m, 0);
                                        sqlite3_bind_int64(ins, 4 + 3 * m, 0);
                                        sqlite3_bind_null(ins, 5 + 3 * m);
                                        continue;
                                }
                                sqlite3_bind_int64(ins, 3 + 3 * m, c * STEPS_PER_DAY);
                                sqlite3_bind_int64(ins, 4 + 3 * m, STEPS_PER_DAY);
                                sqlite3_bind_int64(ins, 5 + 3 * m, clamp_centi(level[m] * (1 + spread[m])));
                        }
                        r = db_step_done(db, ins, "INSERT INTO usage_daily");
                }
        }
        if (r >= 0)
                r = db_exec(db, "COMMIT");
        return r;
}

/* ---- evaluate: what both sides count ------------------------------------------ */

enum { DIM_CPU, DIM_MEMORY, DIM_DISK, N_DIMS };
static const char *const DIM_NAMES[N_DIMS] = { "vcpus", "memory", "disk" };

struct counts {
        uint64_t vms, unmeasured, changed, idle;
        uint64_t applies[N_DIMS][8];    /* by the rule's number, R-RS1..R-RS7 */
        uint64_t skipped[N_DIMS];       /* R-RS6: at a flavour bound */
        uint64_t other;                 /* a rule outside R-RS1..7 */
        uint64_t digest;                /* of every result, in any order */
};

static void counts_add(struct counts *c, int64_t vm_id, bool measured, const struct rightsize_result *res) {
        const struct rightsize_change *ch[N_DIMS] = { &res->cpu, &res->memory, &res->disk };
        uint64_t h = splitmix64((uint64_t) vm_id);
        bool changed = false;

        c->vms++;
        c->unmeasured += !measured;
        for (int d = 0; d < N_DIMS; d++) {
                int n = 0;
                if (ch[d]->rule[0] && (sscanf(ch[d]->rule, "R-RS%d", &n) != 1 || n < 1 || n > 7))
                        c->other++;
                else if (ch[d]->applies) {
                        c->applies[d][n]++;
                        changed = true;
                } else if (n == 6)
                        c->skipped[d]++;
                h = splitmix64(h ^ ((uint64_t) ch[d]->applies << 63 | (uint64_t) ch[d]->before << 32 | ch[d]->after) ^ (uint64_t) n << 48);
        }
        c->changed += changed;
        c->idle += res->idle;
        c->digest += splitmix64(h ^ res->idle);
}

static bool counts_equal(const struct counts *a, const struct counts *b) {
        return memcmp(a, b, sizeof *a) == 0;
}

static int eval_cb(const struct usage_vm *vm, void *userdata) {
        counts_add(userdata, vm->vm_id, vm->days > 0, &vm->rec);
        return 0;
}

/* What a child hands back through its stdout. */
struct child_result {
        double load, time;              /* seconds */
        long base_kib;                  /* max RSS before the timed work */
        struct counts counts;
};

static int child_store(const struct options *o, struct child_result *res) {
        _cleanup_(config_freep) struct config *cfg = NULL;
        _cleanup_(store_closep) struct store *s = NULL;
        struct gc_error err = {};
        int r = config_load(o->config, &cfg, &err);
        if (r < 0)
                return log_error_errno(r, "%s: %s: %s", o->config, err.field, err.message);
        r = store_open(o->db, &s);
        if (r < 0)
                return r;
        struct usage_scope scope = { .unit_id = 1 };
        res->base_kib = max_rss_kib();
        double t0 = now_seconds();
        r = usage_evaluate(s, cfg, &scope, o->first, o->last, eval_cb, &res->counts);
        res->time = now_seconds() - t0;
        return r;
}

/* The reference: plain arrays, then a plain loop. */
struct loop_vm {
        int64_t id;
        const struct config_pool *pool;
        unsigned vcpus, memory_gib, system_disk_gib, data_disk_gib;
        size_t first_day, n_days;       /* into the day rows */
};

struct loop_day {
        int64_t sum[3];
        int32_t n[3], max[3];
        int32_t idx;                    /* day - first */
};

static int child_loop(const struct options *o, struct child_result *res) {
        _cleanup_(config_freep) struct config *cfg = NULL;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *q_vms = NULL, *q_days = NULL;
        _cleanup_free_ struct loop_vm *vms = NULL;
        _cleanup_free_ struct loop_day *days = NULL;
        _cleanup_free_ int64_t *index = NULL;   /* vm id -> position */
        size_t n_vms = 0, cap_vms = 0, n_days = 0, cap_days = 0;
        int64_t max_id = 0;
        struct gc_error err = {};
        unsigned period = (unsigned) (o->last - o->first + 1);
        int r, rc;

        if (period > USAGE_DAYS_MAX)
                return log_error_errno(-EINVAL, "a period of %u days is longer than %d", period, USAGE_DAYS_MAX);
        r = config_load(o->config, &cfg, &err);
        if (r < 0)
                return log_error_errno(r, "%s: %s: %s", o->config, err.field, err.message);
        r = db_open(o->db, true, &db);
        if (r < 0)
                return r;
        res->base_kib = max_rss_kib();

        /* The load. */
        double t0 = now_seconds();
        r = db_prepare(db, "SELECT v.id, v.pool, v.vcpus, v.memory_gib, COALESCE(json_extract(v.spec, '$.system_disk.gib'), 0), "
                           "COALESCE(json_extract(v.spec, '$.data_disk.gib'), 0) FROM vms v JOIN systems s ON s.id = v.system_id "
                           "WHERE s.unit_id = 1 ORDER BY v.id", &q_vms);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(q_vms)) == SQLITE_ROW) {
                if (n_vms == cap_vms) {
                        cap_vms = cap_vms ? 2 * cap_vms : 4096;
                        vms = xrealloc(vms, cap_vms * sizeof *vms);
                }
                const char *pool = (const char *) sqlite3_column_text(q_vms, 1);
                vms[n_vms++] = (struct loop_vm) {
                        .id = sqlite3_column_int64(q_vms, 0),
                        .pool = pool ? config_pool(cfg, pool) : NULL,
                        .vcpus = (unsigned) sqlite3_column_int64(q_vms, 2),
                        .memory_gib = (unsigned) sqlite3_column_int64(q_vms, 3),
                        .system_disk_gib = (unsigned) sqlite3_column_int64(q_vms, 4),
                        .data_disk_gib = (unsigned) sqlite3_column_int64(q_vms, 5),
                };
                if (vms[n_vms - 1].id > max_id)
                        max_id = vms[n_vms - 1].id;
        }
        if (rc != SQLITE_DONE)
                return db_fail(db, "SELECT FROM vms");
        index = xnew(int64_t, max_id + 1);
        memset(index, 0xff, (max_id + 1) * sizeof *index);
        for (size_t i = 0; i < n_vms; i++)
                index[vms[i].id] = (int64_t) i;
        r = db_prepare(db, "SELECT " USAGE_COLUMNS " FROM usage_daily WHERE day BETWEEN ? AND ? ORDER BY vm_id, day", &q_days);
        if (r < 0)
                return r;
        sqlite3_bind_int64(q_days, 1, o->first);
        sqlite3_bind_int64(q_days, 2, o->last);
        while ((rc = sqlite3_step(q_days)) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(q_days, 0);
                if (id < 0 || id > max_id || index[id] < 0)
                        continue;
                struct loop_vm *v = &vms[index[id]];
                if (n_days == cap_days) {
                        cap_days = cap_days ? 2 * cap_days : 65536;
                        days = xrealloc(days, cap_days * sizeof *days);
                }
                if (v->n_days == 0)
                        v->first_day = n_days;
                else if (v->first_day + v->n_days != n_days)
                        return log_error_errno(-EBADMSG, "usage_daily: VM %" PRId64 "'s days are not together", id);
                v->n_days++;
                struct loop_day *dr = &days[n_days++];
                dr->idx = (int32_t) (sqlite3_column_int64(q_days, 1) - o->first);
                for (int m = 0; m < 3; m++) {
                        dr->sum[m] = sqlite3_column_int64(q_days, 2 + 3 * m);
                        dr->n[m] = (int32_t) sqlite3_column_int64(q_days, 3 + 3 * m);
                        dr->max[m] = sqlite3_column_type(q_days, 4 + 3 * m) == SQLITE_NULL ? -1 : (int32_t) sqlite3_column_int64(q_days, 4 + 3 * m);
                }
        }
        if (rc != SQLITE_DONE)
                return db_fail(db, "SELECT FROM usage_daily");
        double t1 = now_seconds();
        res->load = t1 - t0;

        /* The loop: the month's averages, the disk's daily usage,
         * and rightsize_recommend() with the pool's pack and bounds, as
         * usage_evaluate() hands them to it. */
        for (size_t i = 0; i < n_vms; i++) {
                const struct loop_vm *v = &vms[i];
                double disk_daily[USAGE_DAYS_MAX];
                int64_t sum[3] = {}, n[3] = {};
                int32_t last_disk = 0;
                unsigned measured_days = 0;
                bool data = v->data_disk_gib > 0;
                unsigned disk_gib = data ? v->data_disk_gib : v->system_disk_gib;
                struct rightsize_result rec;

                for (unsigned d = 0; d < period; d++)
                        disk_daily[d] = NAN;
                for (size_t k = v->first_day; k < v->first_day + v->n_days; k++) {
                        const struct loop_day *dr = &days[k];
                        bool any = false;
                        for (int m = 0; m < 3; m++) {
                                if (dr->n[m] <= 0)
                                        continue;
                                any = true;
                                sum[m] += dr->sum[m];
                                n[m] += dr->n[m];
                                if (m == 2) {
                                        disk_daily[dr->idx] = (double) dr->sum[m] / (double) dr->n[m] / 100.0;
                                        last_disk = dr->idx;
                                }
                        }
                        measured_days += any;
                }
                double cpu = n[0] ? (double) sum[0] / (double) n[0] / 100.0 : NAN;
                double memory = n[1] ? (double) sum[1] / (double) n[1] / 100.0 : NAN;
                if (!v->pool || !v->pool->pack) {
                        memset(&rec, 0, sizeof rec);
                        rec.cpu.before = rec.cpu.after = v->vcpus;
                        rec.memory.before = rec.memory.after = v->memory_gib;
                        rec.disk.before = rec.disk.after = disk_gib;
                } else {
                        const struct config_range *dr = data ? &v->pool->data_disk_gib : &v->pool->system_disk_gib;
                        struct rightsize_platform platform = {
                                .min_vcpus = (unsigned) v->pool->vcpus.min, .max_vcpus = (unsigned) v->pool->vcpus.max,
                                .min_memory_gib = (unsigned) v->pool->memory_gib.min, .max_memory_gib = (unsigned) v->pool->memory_gib.max,
                                .min_disk_gib = (unsigned) dr->min, .max_disk_gib = (unsigned) dr->max,
                        };
                        struct rightsize_input input = {
                                .vcpus = v->vcpus, .memory_gib = v->memory_gib, .disk_gib = disk_gib,
                                .has_cpu = n[0] > 0 && v->vcpus > 0, .has_memory = n[1] > 0 && v->memory_gib > 0,
                                .has_disk = n[2] > 0 && disk_gib > 0,
                                .cpu_pct = cpu, .memory_pct = memory, .disk_pct = n[2] ? disk_daily[last_disk] : NAN,
                                .disk_daily_pct = disk_daily, .n_disk_daily = period,
                        };
                        if (rightsize_recommend(&v->pool->pack->rightsize, &platform, &cfg->linear_growth, &input, &rec) < 0) {
                                memset(&rec, 0, sizeof rec);
                                rec.cpu.before = rec.cpu.after = v->vcpus;
                                rec.memory.before = rec.memory.after = v->memory_gib;
                                rec.disk.before = rec.disk.after = disk_gib;
                        }
                }
                counts_add(&res->counts, v->id, measured_days > 0, &rec);
        }
        res->time = now_seconds() - t1;
        return 0;
}

static int child_main(const struct options *o, bool loop) {
        struct child_result res = {};
        int r = loop ? child_loop(o, &res) : child_store(o, &res);
        if (r < 0)
                return r;
        if (write(STDOUT_FILENO, &res, sizeof res) != (ssize_t) sizeof res)
                return log_error_errno(-errno, "write the result");
        return 0;
}

/* One evaluation in a fresh process of this program; its peak RSS from wait4(). */
static int child_run(const struct options *o, const char *db, bool loop, struct child_result *ret, long *ret_max_kib) {
        char self[4096], first[32], last[32];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        int p[2];
        if (n < 0)
                return log_error_errno(-errno, "readlink /proc/self/exe");
        self[n] = 0;
        snprintf(first, sizeof first, "%" PRId64, o->first);
        snprintf(last, sizeof last, "%" PRId64, o->last);
        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(-errno, "pipe");
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = log_error_errno(-errno, "fork");
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                if (dup2(p[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execl(self, "bench-rightsize", loop ? "child-loop" : "child-store", "--config", o->config, "--db", db,
                      "--first", first, "--last", last, (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        size_t got = 0;
        while (got < sizeof *ret) {
                ssize_t k = read(p[0], (char *) ret + got, sizeof *ret - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                got += (size_t) k;
        }
        close(p[0]);
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0)
                return log_error_errno(-errno, "wait4");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof *ret)
                return log_error_errno(-EIO, "the %s evaluation failed (status 0x%x)", loop ? "reference" : "store", status);
        *ret_max_kib = ru.ru_maxrss;
        return 0;
}

static void counts_print(const struct counts *c) {
        printf("  %" PRIu64 " VMs, %" PRIu64 " without samples, %" PRIu64 " with a change, %" PRIu64 " idle (R-RS7)\n", c->vms,
               c->unmeasured, c->changed, c->idle);
        for (int d = 0; d < N_DIMS; d++) {
                printf("  %-7s", DIM_NAMES[d]);
                for (int n = 1; n <= 7; n++)
                        if (c->applies[d][n])
                                printf("  R-RS%d %" PRIu64, n, c->applies[d][n]);
                printf("  skipped at a bound (R-RS6) %" PRIu64 "\n", c->skipped[d]);
        }
}

static int do_evaluate(const struct options *o) {
        _cleanup_(config_freep) struct config *cfg = NULL;
        _cleanup_free_ char *db = xasprintf("%s/evaluate.db", o->dir);
        struct gc_error err = {};
        struct options child = *o;
        int r;

        r = config_load(o->config, &cfg, &err);
        if (r < 0)
                return log_error_errno(r, "%s: %s: %s", o->config, err.field, err.message);
        r = usage_month_days(EVAL_MONTH, &child.first, &child.last);
        if (r < 0)
                return r;
        unsigned period = (unsigned) (child.last - child.first + 1);

        double t0 = now_seconds();
        r = fleet_fill(db, cfg, o->vms);
        double t1 = now_seconds();
        if (r >= 0)
                r = usage_fill(db, o->vms, child.first, child.last);
        double t2 = now_seconds();
        if (r < 0)
                return r;
        printf("\nevaluate: %u VMs, %u days of aggregates each (%s): %llu rows in usage_daily\n", o->vms, period, EVAL_MONTH,
               (unsigned long long) o->vms * period);
        printf("loaded straight: VMs %.1f s, usage_daily %.1f s (one transaction); the store %.0f MiB\n", t1 - t0, t2 - t1,
               file_mib(db));
        fflush(stdout);

        struct child_result best_store = {}, best_loop = {};
        long store_kib = 0, loop_kib = 0;
        printf("%-7s %-40s %10s %10s %12s %12s\n", "round", "", "load s", "eval s", "peak RSS", "before");
        for (unsigned round = 1; round <= o->rounds; round++) {
                struct child_result s = {}, l = {};
                long s_kib, l_kib;
                r = child_run(&child, db, false, &s, &s_kib);
                if (r >= 0)
                        r = child_run(&child, db, true, &l, &l_kib);
                if (r < 0)
                        return r;
                printf("%-7u %-40s %10s %10.3f %9.1f MiB %8.1f MiB\n", round, "usage_evaluate() on the store", "-", s.time,
                       s_kib / 1024.0, s.base_kib / 1024.0);
                printf("%-7u %-40s %10.3f %10.3f %9.1f MiB %8.1f MiB\n", round, "reference: arrays, then a plain loop", l.load,
                       l.time, l_kib / 1024.0, l.base_kib / 1024.0);
                fflush(stdout);
                if (!counts_equal(&s.counts, &l.counts)) {
                        fprintf(stderr, "bench-rightsize: the evaluation and the reference disagree:\nusage_evaluate():\n");
                        fflush(stdout);
                        counts_print(&s.counts);
                        printf("reference:\n");
                        counts_print(&l.counts);
                        return -EBADMSG;
                }
                if (s.counts.vms != o->vms || s.counts.changed == 0)
                        return log_error_errno(-EBADMSG, "the evaluation saw %" PRIu64 " VMs of %u, %" PRIu64 " with a change",
                                               s.counts.vms, o->vms, s.counts.changed);
                if (round == 1 || s.time < best_store.time)
                        best_store = s;
                if (round == 1 || l.time + l.load < best_loop.time + best_loop.load)
                        best_loop = l;
                store_kib = s_kib > store_kib ? s_kib : store_kib;
                loop_kib = l_kib > loop_kib ? l_kib : loop_kib;
        }
        printf("recommendations, the same on both sides:\n");
        counts_print(&best_store.counts);
        double ratio = best_store.time / best_loop.time, ratio_load = best_store.time / (best_loop.time + best_loop.load);
        printf("usage_evaluate(): %.3f s (%.1f us per VM), peak RSS %.1f MiB (%.1f MiB before it ran)\n", best_store.time,
               best_store.time / o->vms * 1e6, store_kib / 1024.0, best_store.base_kib / 1024.0);
        printf("reference: load %.3f s + loop %.3f s, peak RSS %.1f MiB (%.1f MiB before the load)\n", best_loop.load, best_loop.time,
               loop_kib / 1024.0, best_loop.base_kib / 1024.0);
        printf("ratio: %.3gx the loop alone, %.3gx the load and the loop (usage_evaluate time / reference time)\n", ratio, ratio_load);
        char line[320];
        snprintf(line, sizeof line, "evaluate, %u VMs x %u days  usage_evaluate %.2f s, peak %.0f MiB   loop %.3f s (+ load %.2f s), "
                 "peak %.0f MiB   ratio %.3g (%.3g with the load)", o->vms, period, best_store.time, store_kib / 1024.0,
                 best_loop.time, best_loop.load, loop_kib / 1024.0, ratio, ratio_load);
        results_append(o, line);
        return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static void help(void) {
        printf("Usage: bench-rightsize setup --config FILE --db FILE [--vms N]\n"
               "       bench-rightsize ingest --url URL --pki DIR --config FILE --db FILE --reference-db FILE\n"
               "                              [--vms N] [--steps N] [--runs LIST] [--results FILE]\n"
               "       bench-rightsize evaluate --config FILE --dir DIR [--vms N] [--rounds N] [--results FILE]\n"
               "\n"
               "setup fills a store for gc-orchestrator with N VMs (default 10,000); ingest POSTs\n"
               "one day of 5-minute samples (--steps a day, default 288) for them to the running\n"
               "orchestrator at URL per entry of LIST (default 5000:time,1000:time,20000:time,5000:vm:\n"
               "batch size and order), against a bare SQLite fold of the same batches in\n"
               "--reference-db; evaluate fills DIR/evaluate.db with N VMs (default 100,000) and 30\n"
               "days of aggregates and times usage_evaluate() against a plain in-memory loop.\n"
               "Run by bench/rightsize.sh.\n");
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "db", required_argument, NULL, 'd' },
                { "reference-db", required_argument, NULL, 'R' },
                { "url", required_argument, NULL, 'u' },
                { "pki", required_argument, NULL, 'p' },
                { "dir", required_argument, NULL, 'D' },
                { "results", required_argument, NULL, 'o' },
                { "runs", required_argument, NULL, 'b' },
                { "vms", required_argument, NULL, 'n' },
                { "steps", required_argument, NULL, 's' },
                { "rounds", required_argument, NULL, 'r' },
                { "first", required_argument, NULL, 'f' },
                { "last", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct options o = { .steps = STEPS_PER_DAY, .rounds = 2, .runs = "5000:time,1000:time,20000:time,5000:vm" };
        const char *mode = argc > 1 ? argv[1] : "";
        int c, r;

        log_set_component("bench-rightsize");
        log_set_max_level(LOG_LEVEL_WARNING);
        if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0) {
                help();
                return 0;
        }
        optind = 2;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0)
                switch (c) {
                case 'c':
                        o.config = optarg;
                        break;
                case 'd':
                        o.db = optarg;
                        break;
                case 'R':
                        o.reference_db = optarg;
                        break;
                case 'u':
                        o.url = optarg;
                        break;
                case 'p':
                        o.pki = optarg;
                        break;
                case 'D':
                        o.dir = optarg;
                        break;
                case 'o':
                        o.results = optarg;
                        break;
                case 'b':
                        o.runs = optarg;
                        break;
                case 'n':
                        o.vms = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        o.steps = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        o.rounds = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'f':
                        o.first = strtoll(optarg, NULL, 10);
                        break;
                case 'l':
                        o.last = strtoll(optarg, NULL, 10);
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc || !o.config || o.steps < 1 || o.steps > STEPS_PER_DAY || o.rounds < 1) {
                help();
                return 2;
        }
        /* Stdout may be a pipe (meson's log): each line as it comes. */
        setvbuf(stdout, NULL, _IOLBF, 0);

        if (strcmp(mode, "setup") == 0) {
                _cleanup_(config_freep) struct config *cfg = NULL;
                struct gc_error err = {};
                if (!o.db)
                        return help(), 2;
                r = config_load(o.config, &cfg, &err);
                if (r < 0) {
                        log_error("%s: %s: %s", o.config, err.field, err.message);
                        return 1;
                }
                r = fleet_fill(o.db, cfg, o.vms ?: 10000);
        } else if (strcmp(mode, "ingest") == 0) {
                if (!o.db || !o.reference_db || !o.url || !o.pki)
                        return help(), 2;
                o.vms = o.vms ?: 10000;
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return 1;
                r = do_ingest(&o);
                curl_global_cleanup();
        } else if (strcmp(mode, "evaluate") == 0) {
                if (!o.dir)
                        return help(), 2;
                o.vms = o.vms ?: 100000;
                r = do_evaluate(&o);
        } else if (strcmp(mode, "child-store") == 0 || strcmp(mode, "child-loop") == 0) {
                if (!o.db || o.last < o.first)
                        return 2;
                r = child_main(&o, strcmp(mode, "child-loop") == 0);
        } else {
                help();
                return 2;
        }
        return r < 0 ? 1 : 0;
}
