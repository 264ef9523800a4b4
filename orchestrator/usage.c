/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc.h"
#include "api.h"
#include "buf.h"
#include "calendar.h"
#include "cleanup.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "orch.h"
#include "pack.h"
#include "report.h"
#include "request.h"
#include "usage.h"

/* Samples are kept as hundredths of a percent. */
#define CENTI(pct) ((int64_t) llround((pct) * 100.0))
/* Samples as old as this are still taken (a year of history, and a month). */
#define USAGE_MAX_AGE_DAYS 400

/* ---- days ------------------------------------------------------------------ */

int64_t usage_day(int64_t t, int utc_offset_minutes) {
        int64_t local = t + (int64_t) utc_offset_minutes * 60;
        return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

int usage_month_days(const char *month, int64_t *ret_first, int64_t *ret_last) {
        int y, m, n = 0;

        if (!month || strlen(month) != 7 || sscanf(month, "%4d-%2d%n", &y, &m, &n) != 2 || n != 7 || month[4] != '-' ||
            y < 1970 || y > 9999 || m < 1 || m > 12)
                return -EINVAL;
        *ret_first = calendar_days_from_civil(y, (unsigned) m, 1);
        *ret_last = (m == 12 ? calendar_days_from_civil(y + 1, 1, 1) : calendar_days_from_civil(y, (unsigned) m + 1, 1)) - 1;
        return 0;
}

void usage_day_format(int64_t day, char buf[11]) {
        int y;
        unsigned m, d;

        calendar_civil_from_days(day, &y, &m, &d);
        snprintf(buf, 11, "%04u-%02u-%02u", (unsigned) y % 10000u, m % 100u, d % 100u);
}

static void usage_month_of_day(int64_t day, char buf[8]) {
        int y;
        unsigned m, d;

        calendar_civil_from_days(day, &y, &m, &d);
        snprintf(buf, 8, "%04u-%02u", (unsigned) y % 10000u, m % 100u);
}

static int pool_offset(const struct config *cfg, const char *pool) {
        const struct config_pool *p = pool ? config_pool(cfg, pool) : NULL;
        return p && p->pack ? p->pack->calendar.utc_offset_minutes : 480;
}

/* ---- a small string -> index map, for one batch ----------------------------- */

struct strmap {
        char **keys;
        int64_t *vals;
        size_t cap, n;
};

static uint64_t strmap_hash(const char *s) {
        uint64_t h = 1469598103934665603ULL;    /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 1099511628211ULL;
        return h;
}

static void strmap_done(struct strmap *m) {
        for (size_t i = 0; i < m->cap; i++)
                free(m->keys[i]);
        free(m->keys);
        free(m->vals);
}

static void strmap_grow(struct strmap *m) {
        struct strmap bigger = { .cap = m->cap ? m->cap * 2 : 256 };

        bigger.keys = xnew(char *, bigger.cap);
        bigger.vals = xnew(int64_t, bigger.cap);
        for (size_t i = 0; i < m->cap; i++) {
                if (!m->keys[i])
                        continue;
                size_t j = strmap_hash(m->keys[i]) & (bigger.cap - 1);
                while (bigger.keys[j])
                        j = (j + 1) & (bigger.cap - 1);
                bigger.keys[j] = m->keys[i];
                bigger.vals[j] = m->vals[i];
        }
        bigger.n = m->n;
        free(m->keys);
        free(m->vals);
        *m = bigger;
}

/* The slot of key; inserted with val when absent (ret_new true). */
static int64_t *strmap_put(struct strmap *m, const char *key, int64_t val, bool *ret_new) {
        if ((m->n + 1) * 2 > m->cap)
                strmap_grow(m);
        size_t j = strmap_hash(key) & (m->cap - 1);
        while (m->keys[j]) {
                if (strcmp(m->keys[j], key) == 0) {
                        if (ret_new)
                                *ret_new = false;
                        return &m->vals[j];
                }
                j = (j + 1) & (m->cap - 1);
        }
        m->keys[j] = xstrdup(key);
        m->vals[j] = val;
        m->n++;
        if (ret_new)
                *ret_new = true;
        return &m->vals[j];
}

/* ---- POST /v1/metrics -------------------------------------------------------- */

/* A VM a batch names, once resolved. */
struct target {
        char *key;                      /* "u:UUID" or "n:POOL\tNAME" or "n:\tNAME" */
        const char *uuid, *name, *pool; /* into the body */
        size_t first;                   /* the first sample naming it, for errors */
        int64_t vm_id;                  /* 0: unknown; -1: ambiguous */
        int offset;                     /* the pool's UTC offset, minutes */
        char found_pool[64];
        bool elsewhere;                 /* a host's sample for a VM on another host */
};

struct day_agg {
        int64_t vm_id, day;
        int64_t sum[3], n[3], max[3];
};

static int target_cb(const struct store_row *row, void *userdata) {
        struct target *t = userdata;
        if (t->vm_id != 0) {
                t->vm_id = -1;                  /* a name in more than one pool */
                return 0;
        }
        t->vm_id = row->v[0].i;
        snprintf(t->found_pool, sizeof t->found_pool, "%s", row->v[1].s ?: "");
        t->elsewhere = row->v[2].i != 0;
        return 0;
}

static const char *const METRIC_NAMES[3] = { "cpu_pct", "memory_pct", "disk_pct" };

static void sample_field(char *buf, size_t size, size_t i, const char *member) {
        snprintf(buf, size, "samples[%zu].%s", i, member);
}

/* A refusal of a whole batch (nothing is counted). */
static void metrics_refuse(struct api_call *c, int status, const char *code, size_t i, const char *member,
                           const char *value, const char *message) {
        struct gc_error err = {};
        char field[64];
        sample_field(field, sizeof field, i, member);
        /* The samples are what R-RS1..R-RS7 are computed from; the report is R-RS7's. */
        gc_error_set(&err, code, "R-RS7", field, value, "%s", message);
        api_refuse(c, status, &err, "metrics.refused", "metrics", "", NULL);
}

void usage_post_metrics(struct api_call *c) {
        struct orch *o = c->o;
        const cJSON *samples = cJSON_GetObjectItemCaseSensitive(c->body, "samples");
        bool host = c->who->role == ROLE_HOST;
        size_t n = (size_t) cJSON_GetArraySize(samples), n_targets = 0, ignored = 0, accepted = 0;
        _cleanup_free_ struct target *targets = NULL;
        _cleanup_free_ size_t *sample_target = NULL;
        struct strmap by_key = {}, by_day = {};
        struct day_agg *aggs = NULL;
        size_t n_aggs = 0, cap_aggs = 0;
        int64_t now = orch_now(o);
        uint8_t md[GC_HASH_MAX];
        _cleanup_free_ char *digest = NULL;
        int r;

        if (n > USAGE_BATCH_MAX) {
                char v[32];
                snprintf(v, sizeof v, "%zu", n);
                struct gc_error err = {};
                gc_error_set(&err, "too_many_samples", "R-RS7", "samples", v, "a batch holds at most %d samples", USAGE_BATCH_MAX);
                return api_refuse(c, 413, &err, "metrics.refused", "metrics", "", NULL);
        }
        targets = xnew(struct target, n ? n : 1);
        sample_target = xnew(size_t, n ? n : 1);

        /* 1. Each sample on its own: a VM named once, a time in range. */
        const cJSON *s;
        size_t i = 0;
        cJSON_ArrayForEach(s, samples) {
                const char *uuid = str_at(s, "uuid"), *name = str_at(s, "vm"), *pool = str_at(s, "pool");
                _cleanup_free_ char *key = NULL;
                int64_t t;

                if (!!uuid == !!name || (uuid && pool))
                        return metrics_refuse(c, 422, "invalid_sample", i, uuid ? "uuid" : "vm", uuid ?: name ?: "",
                                              "name the VM by uuid, or by vm (its name) with an optional pool; not both");
                if (host && !uuid)
                        return metrics_refuse(c, 422, "invalid_sample", i, "vm", name, "an agent names its VMs by uuid");
                if (request_parse_time(str_at(s, "time"), &t) < 0)
                        return metrics_refuse(c, 422, "invalid_sample", i, "time", str_at(s, "time") ?: "",
                                              "is not an RFC 3339 time with an offset");
                if (t > now + o->cfg->approval_max_skew)
                        return metrics_refuse(c, 422, "invalid_sample", i, "time", str_at(s, "time"),
                                              "lies in the future");
                if (t < now - (int64_t) USAGE_MAX_AGE_DAYS * 86400)
                        return metrics_refuse(c, 422, "invalid_sample", i, "time", str_at(s, "time"),
                                              "is older than 400 days");
                key = uuid ? xasprintf("u:%s", uuid) : xasprintf("n:%s\t%s", pool ?: "", name);
                bool fresh;
                int64_t *slot = strmap_put(&by_key, key, (int64_t) n_targets, &fresh);
                if (fresh) {
                        targets[n_targets] = (struct target) { .uuid = uuid, .name = name, .pool = pool, .first = i };
                        n_targets++;
                }
                sample_target[i] = (size_t) *slot;
                i++;
        }

        /* 2. The batch's digest: the same bytes are counted once. */
        crypto_digest(GC_HASH_SHA256, c->raw, c->raw_len, md);
        digest = crypto_hex(md, 32);

        r = store_begin(o->store);
        if (r < 0)
                goto fail;
        int64_t seen = 0;
        r = store_query_int(o->store, "SELECT COUNT(*) FROM metric_batches WHERE digest = ?", STORE_ARGS(STORE_TEXT(digest)), &seen);
        if (r < 0)
                goto fail;
        if (seen > 0) {
                store_rollback(o->store);
                cJSON *doc = cJSON_CreateObject();
                cJSON_AddNumberToObject(doc, "accepted", 0);
                cJSON_AddNumberToObject(doc, "ignored", 0);
                cJSON_AddBoolToObject(doc, "duplicate", true);
                cJSON_AddStringToObject(doc, "digest", digest);
                strmap_done(&by_key);
                return api_reply(c, 200, doc);
        }

        /* 3. Each VM once. */
        for (size_t k = 0; k < n_targets; k++) {
                struct target *t = &targets[k];
                if (t->uuid)
                        r = store_query(o->store, "SELECT id, pool, (host IS NOT ? OR ? = 0) FROM vms WHERE uuid = ?",
                                        STORE_ARGS(STORE_TEXT(c->who->name), STORE_INT(host), STORE_TEXT(t->uuid)), target_cb, t);
                else if (t->pool)
                        r = store_query(o->store, "SELECT id, pool, 0 FROM vms WHERE pool = ? AND name = ?",
                                        STORE_ARGS(STORE_TEXT(t->pool), STORE_TEXT(t->name)), target_cb, t);
                else
                        r = store_query(o->store, "SELECT id, pool, 0 FROM vms WHERE name = ?",
                                        STORE_ARGS(STORE_TEXT(t->name)), target_cb, t);
                if (r < 0)
                        goto fail;
                if (host && t->elsewhere)
                        t->vm_id = 0;           /* not on the calling host: ignored */
                if (t->vm_id == 0 && !host) {
                        store_rollback(o->store);
                        strmap_done(&by_key);
                        return metrics_refuse(c, 422, "unknown_vm", t->first, t->uuid ? "uuid" : "vm", t->uuid ?: t->name,
                                              t->pool ? "names no VM in that pool" : "names no VM");
                }
                if (t->vm_id < 0) {
                        store_rollback(o->store);
                        strmap_done(&by_key);
                        return metrics_refuse(c, 422, "ambiguous_vm", t->first, "vm", t->name,
                                              "names VMs in more than one pool: give pool");
                }
                t->offset = pool_offset(o->cfg, t->found_pool);
        }

        /* 4. Folded into days. */
        i = 0;
        cJSON_ArrayForEach(s, samples) {
                const struct target *t = &targets[sample_target[i]];
                int64_t time = 0;
                char dkey[48];
                bool fresh, any = false;

                if (t->vm_id <= 0) {
                        ignored++;
                        i++;
                        continue;
                }
                request_parse_time(str_at(s, "time"), &time);
                int64_t day = usage_day(time, t->offset);
                snprintf(dkey, sizeof dkey, "%lld/%lld", (long long) t->vm_id, (long long) day);
                int64_t *slot = strmap_put(&by_day, dkey, (int64_t) n_aggs, &fresh);
                if (fresh) {
                        if (n_aggs == cap_aggs) {
                                cap_aggs = cap_aggs ? cap_aggs * 2 : 256;
                                aggs = xrealloc(aggs, cap_aggs * sizeof *aggs);
                        }
                        aggs[n_aggs++] = (struct day_agg) { .vm_id = t->vm_id, .day = day, .max = { -1, -1, -1 } };
                }
                struct day_agg *a = &aggs[*slot];
                for (int m = 0; m < 3; m++) {
                        const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, METRIC_NAMES[m]);
                        if (!cJSON_IsNumber(v))
                                continue;       /* a gap, not a zero */
                        int64_t centi = CENTI(v->valuedouble);
                        a->sum[m] += centi;
                        a->n[m]++;
                        if (centi > a->max[m])
                                a->max[m] = centi;
                        any = true;
                }
                if (any)
                        accepted++;
                i++;
        }

        /* 5. Added to the stored days, many rows per statement. */
        for (size_t k = 0; r >= 0 && k < n_aggs;) {
                enum { ROWS = 400, COLS = 11 };
                size_t rows = n_aggs - k < ROWS ? n_aggs - k : ROWS;
                struct gc_buf sql = GC_BUF_INIT(1024 * 1024);
                _cleanup_free_ struct store_value *args = xnew(struct store_value, rows * COLS);

                gc_buf_append_str(&sql, "INSERT INTO usage_daily (vm_id, day, cpu_sum, cpu_n, cpu_max, mem_sum, mem_n, mem_max, "
                                        "disk_sum, disk_n, disk_max) VALUES ");
                for (size_t j = 0; j < rows; j++) {
                        const struct day_agg *a = &aggs[k + j];
                        struct store_value *v = &args[j * COLS];
                        gc_buf_append_str(&sql, j ? ",(?,?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?)");
                        v[0] = STORE_INT(a->vm_id);
                        v[1] = STORE_INT(a->day);
                        for (int m = 0; m < 3; m++) {
                                v[2 + 3 * m] = STORE_INT(a->sum[m]);
                                v[3 + 3 * m] = STORE_INT(a->n[m]);
                                v[4 + 3 * m] = a->n[m] ? STORE_INT(a->max[m]) : STORE_NULL_VALUE;
                        }
                }
                gc_buf_append_str(&sql,
                                  " ON CONFLICT (vm_id, day) DO UPDATE SET "
                                  "cpu_sum = cpu_sum + excluded.cpu_sum, cpu_n = cpu_n + excluded.cpu_n, "
                                  "cpu_max = CASE WHEN cpu_max IS NULL OR excluded.cpu_max > cpu_max THEN COALESCE(excluded.cpu_max, cpu_max) ELSE cpu_max END, "
                                  "mem_sum = mem_sum + excluded.mem_sum, mem_n = mem_n + excluded.mem_n, "
                                  "mem_max = CASE WHEN mem_max IS NULL OR excluded.mem_max > mem_max THEN COALESCE(excluded.mem_max, mem_max) ELSE mem_max END, "
                                  "disk_sum = disk_sum + excluded.disk_sum, disk_n = disk_n + excluded.disk_n, "
                                  "disk_max = CASE WHEN disk_max IS NULL OR excluded.disk_max > disk_max THEN COALESCE(excluded.disk_max, disk_max) ELSE disk_max END");
                r = store_exec(o->store, sql.data, args, rows * COLS, NULL);
                gc_buf_free(&sql);
                k += rows;
        }
        if (r >= 0)
                r = store_exec(o->store, "INSERT INTO metric_batches (digest, source, samples, received) VALUES (?, ?, ?, ?)",
                               STORE_ARGS(STORE_TEXT(digest), STORE_TEXT(c->who->name), STORE_INT((int64_t) n), STORE_INT(now)), NULL);
        size_t vms = 0;
        for (size_t k = 0; k < n_targets; k++)
                vms += targets[k].vm_id > 0;
        if (r >= 0 && !host) {
                /* An import by a party is audited; an agent's measurements are not. */
                cJSON *d = cJSON_CreateObject();
                cJSON_AddNumberToObject(d, "samples", (double) n);
                cJSON_AddNumberToObject(d, "accepted", (double) accepted);
                cJSON_AddNumberToObject(d, "vms", (double) vms);
                cJSON_AddNumberToObject(d, "days", (double) n_aggs);
                cJSON_AddStringToObject(d, "digest", digest);
                struct api_mutation m = { .action = "metrics.imported", .rule = "R-RS7", .detail = d };
                snprintf(m.object, sizeof m.object, "metrics");
                r = api_commit(c, &m);
                if (r < 0) {
                        free(aggs);
                        strmap_done(&by_key);
                        strmap_done(&by_day);
                        return api_fail_store(c, r);
                }
        } else if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                goto fail;

        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "accepted", (double) accepted);
        cJSON_AddNumberToObject(doc, "ignored", (double) ignored);
        cJSON_AddNumberToObject(doc, "vms", (double) vms);
        cJSON_AddNumberToObject(doc, "days", (double) n_aggs);
        cJSON_AddBoolToObject(doc, "duplicate", false);
        cJSON_AddStringToObject(doc, "digest", digest);
        free(aggs);
        strmap_done(&by_key);
        strmap_done(&by_day);
        return api_reply(c, 200, doc);

fail:
        free(aggs);
        strmap_done(&by_key);
        strmap_done(&by_day);
        api_fail_store(c, r);
}

/* ---- evaluation ------------------------------------------------------------- */

struct eval {
        struct store *store;
        const struct config *cfg;
        int64_t first, last;
        usage_vm_fn fn;
        void *userdata;
        struct usage_vm *vm;            /* the VM being read */
        int64_t sum[3], n[3], max[3];
        int64_t last_disk_day;
};

static int day_cb(const struct store_row *row, void *userdata) {
        struct eval *e = userdata;
        struct usage_vm *vm = e->vm;
        int64_t idx = row->v[0].i - e->first;
        double *daily[3] = { vm->cpu_daily, vm->memory_daily, vm->disk_daily };
        bool any = false;

        if (idx < 0 || idx >= (int64_t) vm->n_days)
                return 0;
        for (int m = 0; m < 3; m++) {
                int64_t sum = row->v[1 + 3 * m].i, n = row->v[2 + 3 * m].i;
                if (n <= 0)
                        continue;
                any = true;
                e->sum[m] += sum;
                e->n[m] += n;
                if (row->v[3 + 3 * m].type == STORE_INT && row->v[3 + 3 * m].i > e->max[m])
                        e->max[m] = row->v[3 + 3 * m].i;
                daily[m][idx] = (double) sum / (double) n / 100.0;
                if (m == 2)
                        e->last_disk_day = idx;
        }
        vm->days += any;
        return 0;
}

static void platform_of(const struct config_pool *pool, bool data_disk, struct rightsize_platform *ret) {
        const struct config_range *disk = data_disk ? &pool->data_disk_gib : &pool->system_disk_gib;
        *ret = (struct rightsize_platform) {
                .min_vcpus = (unsigned) pool->vcpus.min, .max_vcpus = (unsigned) pool->vcpus.max,
                .min_memory_gib = (unsigned) pool->memory_gib.min, .max_memory_gib = (unsigned) pool->memory_gib.max,
                .min_disk_gib = (unsigned) disk->min, .max_disk_gib = (unsigned) disk->max,
        };
}

static void result_unchanged(struct rightsize_result *r, const struct usage_vm *vm, unsigned disk_gib, const char *why) {
        memset(r, 0, sizeof *r);
        r->cpu.before = r->cpu.after = vm->vcpus;
        r->memory.before = r->memory.after = vm->memory_gib;
        r->disk.before = r->disk.after = disk_gib;
        snprintf(r->cpu.reason, sizeof r->cpu.reason, "%s", why);
        snprintf(r->memory.reason, sizeof r->memory.reason, "%s", why);
        snprintf(r->disk.reason, sizeof r->disk.reason, "%s", why);
}

/* The figures and the recommendation of the VM just read. */
static void vm_finish(struct eval *e) {
        struct usage_vm *vm = e->vm;
        bool data = vm->data_disk_gib > 0;
        unsigned disk_gib = data ? vm->data_disk_gib : vm->system_disk_gib;
        size_t points = 0;

        vm->cpu_n = e->n[0];
        vm->memory_n = e->n[1];
        vm->cpu_avg = e->n[0] ? (double) e->sum[0] / (double) e->n[0] / 100.0 : NAN;
        vm->cpu_peak = e->n[0] ? (double) e->max[0] / 100.0 : NAN;
        vm->memory_avg = e->n[1] ? (double) e->sum[1] / (double) e->n[1] / 100.0 : NAN;
        vm->memory_peak = e->n[1] ? (double) e->max[1] / 100.0 : NAN;
        vm->disk_usage = e->n[2] ? vm->disk_daily[e->last_disk_day] : NAN;
        vm->disk_slope = vm->disk_r2 = NAN;
        if (e->n[2] && rightsize_linear_fit(vm->disk_daily, vm->n_days, &vm->disk_slope, &vm->disk_r2, &points) < 0)
                vm->disk_slope = vm->disk_r2 = NAN;
        vm->disk_linear = e->n[2] && rightsize_is_linear_growth(&e->cfg->linear_growth, vm->disk_daily, vm->n_days);
        vm->disk_name = data ? "data_disk_gib" : "system_disk_gib";

        const struct config_pool *pool = vm->pool ? config_pool(e->cfg, vm->pool) : NULL;
        if (!pool || !pool->pack) {
                result_unchanged(&vm->rec, vm, disk_gib, "the VM's pool is not configured: no change");
                return;
        }
        struct rightsize_platform platform;
        platform_of(pool, data, &platform);
        /* R-RS1..R-RS7 with R-RS6's bounds. */
        struct rightsize_input in = {
                .vcpus = vm->vcpus, .memory_gib = vm->memory_gib, .disk_gib = disk_gib,
                .has_cpu = e->n[0] > 0 && vm->vcpus > 0, .has_memory = e->n[1] > 0 && vm->memory_gib > 0,
                .has_disk = e->n[2] > 0 && disk_gib > 0,
                .cpu_pct = vm->cpu_avg, .memory_pct = vm->memory_avg, .disk_pct = vm->disk_usage,
                .disk_daily_pct = vm->disk_daily, .n_disk_daily = vm->n_days,
        };
        if (rightsize_recommend(&pool->pack->rightsize, &platform, &e->cfg->linear_growth, &in, &vm->rec) < 0)
                result_unchanged(&vm->rec, vm, disk_gib, "the pool's flavour bounds or the pack's bands cannot be applied: no change");
}

static int vm_cb(const struct store_row *row, void *userdata) {
        struct eval *e = userdata;
        struct usage_vm *vm = e->vm;
        int r;

        *vm = (struct usage_vm) {
                .vm_id = row->v[0].i, .system_id = row->v[1].i, .unit_id = row->v[2].i,
                .name = row->v[3].s, .role = row->v[4].s, .state = row->v[5].s, .pool = row->v[6].s,
                .vcpus = (unsigned) row->v[7].i, .memory_gib = (unsigned) row->v[8].i,
                .system_disk_gib = (unsigned) row->v[9].i, .data_disk_gib = (unsigned) row->v[10].i,
                .n_days = (unsigned) (e->last - e->first + 1),
        };
        for (unsigned d = 0; d < vm->n_days; d++)
                vm->cpu_daily[d] = vm->memory_daily[d] = vm->disk_daily[d] = NAN;
        memset(e->sum, 0, sizeof e->sum);
        memset(e->n, 0, sizeof e->n);
        for (int m = 0; m < 3; m++)
                e->max[m] = 0;
        e->last_disk_day = 0;
        r = store_query(e->store,
                        "SELECT day, cpu_sum, cpu_n, cpu_max, mem_sum, mem_n, mem_max, disk_sum, disk_n, disk_max "
                        "FROM usage_daily WHERE vm_id = ? AND day BETWEEN ? AND ? ORDER BY day",
                        STORE_ARGS(STORE_INT(vm->vm_id), STORE_INT(e->first), STORE_INT(e->last)), day_cb, e);
        if (r < 0)
                return r;
        vm_finish(e);
        r = e->fn(vm, e->userdata);
        return r < 0 ? r : 0;
}

int usage_evaluate(struct store *s, const struct config *cfg, const struct usage_scope *scope,
                   int64_t first_day, int64_t last_day, usage_vm_fn fn, void *userdata) {
        _cleanup_free_ struct usage_vm *vm = xnew(struct usage_vm, 1);
        struct eval e = { .store = s, .cfg = cfg, .first = first_day, .last = last_day, .fn = fn, .userdata = userdata, .vm = vm };
        struct usage_scope all = {};

        if (!scope)
                scope = &all;
        if (last_day < first_day)
                return -EINVAL;
        if (last_day - first_day + 1 > USAGE_DAYS_MAX)
                e.first = last_day - USAGE_DAYS_MAX + 1;        /* the period's last days */
        int r = store_query(s,
                            "SELECT v.id, v.system_id, s.unit_id, v.name, v.role, v.state, v.pool, v.vcpus, v.memory_gib, "
                            "COALESCE(json_extract(v.spec, '$.system_disk.gib'), 0), COALESCE(json_extract(v.spec, '$.data_disk.gib'), 0) "
                            "FROM vms v JOIN systems s ON s.id = v.system_id "
                            "WHERE (? = 0 OR v.system_id = ?) AND (? = 0 OR s.unit_id = ?) AND (? = 0 OR v.state <> 'deleted') "
                            "ORDER BY v.system_id, v.id",
                            STORE_ARGS(STORE_INT(scope->system_id), STORE_INT(scope->system_id), STORE_INT(scope->unit_id),
                                       STORE_INT(scope->unit_id), STORE_INT(scope->live_only)),
                            vm_cb, &e);
        return r < 0 ? r : 0;
}

/* ---- the figures as JSON ------------------------------------------------------ */

static void add_pct(cJSON *o, const char *key, double v) {
        if (isfinite(v))
                cJSON_AddNumberToObject(o, key, round(v * 100.0) / 100.0);
        else
                cJSON_AddNullToObject(o, key);
}

static cJSON *pct_array(const double *v, unsigned n) {
        cJSON *a = cJSON_CreateArray();
        for (unsigned i = 0; i < n; i++)
                cJSON_AddItemToArray(a, isfinite(v[i]) ? cJSON_CreateNumber(round(v[i] * 100.0) / 100.0) : cJSON_CreateNull());
        return a;
}

static cJSON *change_json(const struct rightsize_change *ch) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "before", ch->before);
        cJSON_AddNumberToObject(c, "after", ch->after);
        cJSON_AddStringToObject(c, "rule", ch->rule);
        cJSON_AddStringToObject(c, "reason", ch->reason);
        return c;
}

static void add_rule(cJSON *rules, const char *rule) {
        const cJSON *r;
        if (!rule || !*rule)
                return;
        cJSON_ArrayForEach(r, rules)
                if (strcmp(r->valuestring, rule) == 0)
                        return;
        cJSON_AddItemToArray(rules, cJSON_CreateString(rule));
}

/* The report's entry of one VM (common/report.h's model). */
static cJSON *vm_json(const struct usage_vm *vm, bool daily) {
        cJSON *v = cJSON_CreateObject(), *x;
        const struct rightsize_change *dims[3] = { &vm->rec.cpu, &vm->rec.memory, &vm->rec.disk };
        const char *names[3] = { "vcpus", "memory_gib", vm->disk_name };

        cJSON_AddStringToObject(v, "name", vm->name);
        cJSON_AddStringToObject(v, "role", vm->role);
        cJSON_AddStringToObject(v, "state", vm->state);
        x = cJSON_AddObjectToObject(v, "allocation");
        cJSON_AddNumberToObject(x, "vcpus", vm->vcpus);
        cJSON_AddNumberToObject(x, "memory_gib", vm->memory_gib);
        cJSON_AddNumberToObject(x, "system_disk_gib", vm->system_disk_gib);
        cJSON_AddNumberToObject(x, "data_disk_gib", vm->data_disk_gib);
        cJSON_AddNumberToObject(v, "days", vm->days);
        if (vm->cpu_n) {
                x = cJSON_AddObjectToObject(v, "cpu");
                add_pct(x, "avg", vm->cpu_avg);
                add_pct(x, "peak", vm->cpu_peak);
                cJSON_AddNumberToObject(x, "samples", (double) vm->cpu_n);
        } else
                cJSON_AddNullToObject(v, "cpu");
        if (vm->memory_n) {
                x = cJSON_AddObjectToObject(v, "memory");
                add_pct(x, "avg", vm->memory_avg);
                add_pct(x, "peak", vm->memory_peak);
                cJSON_AddNumberToObject(x, "samples", (double) vm->memory_n);
        } else
                cJSON_AddNullToObject(v, "memory");
        if (isfinite(vm->disk_usage)) {
                unsigned gib = vm->data_disk_gib > 0 ? vm->data_disk_gib : vm->system_disk_gib;
                x = cJSON_AddObjectToObject(v, "disk");
                add_pct(x, "usage", vm->disk_usage);
                add_pct(x, "used_gib", vm->disk_usage * gib / 100.0);
                add_pct(x, "slope", vm->disk_slope);
                add_pct(x, "r2", vm->disk_r2);
                cJSON_AddBoolToObject(x, "linear", vm->disk_linear);
                cJSON_AddStringToObject(x, "disk", vm->disk_name);
        } else
                cJSON_AddNullToObject(v, "disk");
        if (daily) {
                x = cJSON_AddObjectToObject(v, "daily");
                cJSON_AddItemToObject(x, "cpu", pct_array(vm->cpu_daily, vm->n_days));
                cJSON_AddItemToObject(x, "memory", pct_array(vm->memory_daily, vm->n_days));
                cJSON_AddItemToObject(x, "disk", pct_array(vm->disk_daily, vm->n_days));
        }
        cJSON *rec = cJSON_AddObjectToObject(v, "recommendation"), *rules = cJSON_CreateArray();
        cJSON *skipped = cJSON_CreateArray();
        for (int d = 0; d < 3; d++) {
                if (dims[d]->applies) {
                        cJSON_AddItemToObject(rec, names[d], change_json(dims[d]));
                        add_rule(rules, dims[d]->rule);
                } else {
                        cJSON_AddNullToObject(rec, names[d]);
                        if (strcmp(dims[d]->rule, "R-RS6") == 0) {      /* R-RS6: at a bound */
                                cJSON *s = cJSON_CreateObject();
                                cJSON_AddStringToObject(s, "dimension", names[d]);
                                cJSON_AddStringToObject(s, "rule", "R-RS6");
                                cJSON_AddStringToObject(s, "reason", dims[d]->reason);
                                cJSON_AddItemToArray(skipped, s);
                                add_rule(rules, "R-RS6");
                        }
                }
        }
        cJSON_AddItemToObject(rec, "skipped", skipped);
        cJSON_AddBoolToObject(v, "idle", vm->rec.idle);
        if (vm->rec.idle)
                add_rule(rules, "R-RS7");       /* R-RS7: idle, reported */
        cJSON_AddItemToObject(v, "rules", rules);
        return v;
}

static bool vm_has_change(const struct usage_vm *vm) {
        return vm->rec.cpu.applies || vm->rec.memory.applies || vm->rec.disk.applies;
}

static struct store_value after_value(const struct rightsize_change *ch) {
        return ch->applies ? STORE_INT(ch->after) : STORE_NULL_VALUE;
}

/* One recommendation row per VM and period, replaced when evaluated again. */
static int recommendation_store(struct orch *o, const struct usage_vm *vm, const char *period, int64_t first, int64_t last,
                                const cJSON *figures) {
        _cleanup_free_ char *text = cJSON_PrintUnformatted(figures);
        _cleanup_free_ char *rules = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(figures, "rules"));
        return store_exec(o->store,
                          "INSERT INTO recommendations (vm_id, system_id, period, first_day, last_day, vcpus_before, vcpus_after, "
                          "memory_before, memory_after, disk_before, disk_after, idle, rules, figures, created) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (vm_id, period) DO UPDATE SET "
                          "first_day = excluded.first_day, last_day = excluded.last_day, vcpus_before = excluded.vcpus_before, "
                          "vcpus_after = excluded.vcpus_after, memory_before = excluded.memory_before, memory_after = excluded.memory_after, "
                          "disk_before = excluded.disk_before, disk_after = excluded.disk_after, idle = excluded.idle, "
                          "rules = excluded.rules, figures = excluded.figures, created = excluded.created",
                          STORE_ARGS(STORE_INT(vm->vm_id), STORE_INT(vm->system_id), STORE_TEXT(period), STORE_INT(first), STORE_INT(last),
                                     STORE_INT(vm->rec.cpu.before), after_value(&vm->rec.cpu), STORE_INT(vm->rec.memory.before),
                                     after_value(&vm->rec.memory), STORE_INT(vm->rec.disk.before), after_value(&vm->rec.disk),
                                     STORE_INT(vm->rec.idle), STORE_TEXT(rules), STORE_TEXT(text), STORE_INT(orch_now(o))),
                          NULL);
}

/* ---- R-LC2: the trial's recommendation ---------------------------------------- */

struct trial_ctx {
        struct orch *o;
        int64_t first, last;
        cJSON *by_name;
};

static int trial_cb(const struct usage_vm *vm, void *userdata) {
        struct trial_ctx *t = userdata;
        /* Nothing measured in the trial: nothing to recommend (null on the sheet). */
        if (vm->days == 0)
                return 0;
        _cleanup_(cJSON_Deletep) cJSON *figures = vm_json(vm, false);
        int r = recommendation_store(t->o, vm, "trial", t->first, t->last, figures);
        if (r < 0)
                return r;

        /* The allocation to go live with: each dimension's result where a
         * band applies, the current one otherwise (R-LC2). */
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddNumberToObject(rec, "vcpus", vm->rec.cpu.applies ? vm->rec.cpu.after : vm->vcpus);
        cJSON_AddNumberToObject(rec, "memory_gib", vm->rec.memory.applies ? vm->rec.memory.after : vm->memory_gib);
        bool data = vm->data_disk_gib > 0;
        cJSON_AddNumberToObject(rec, "system_disk_gib", !data && vm->rec.disk.applies ? vm->rec.disk.after : vm->system_disk_gib);
        cJSON_AddNumberToObject(rec, "data_disk_gib", data && vm->rec.disk.applies ? vm->rec.disk.after : vm->data_disk_gib);
        cJSON_AddItemToObject(rec, "changes", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(figures, "recommendation"), true));
        cJSON *basis = cJSON_AddObjectToObject(rec, "basis");
        char day[11];
        usage_day_format(t->first, day);
        cJSON_AddStringToObject(basis, "first", day);
        usage_day_format(t->last, day);
        cJSON_AddStringToObject(basis, "last", day);
        cJSON_AddNumberToObject(basis, "days", vm->days);
        cJSON_AddItemToObject(basis, "cpu", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(figures, "cpu"), true));
        cJSON_AddItemToObject(basis, "memory", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(figures, "memory"), true));
        cJSON_AddItemToObject(basis, "disk", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(figures, "disk"), true));
        cJSON_AddBoolToObject(rec, "idle", vm->rec.idle);
        cJSON_AddItemToObject(rec, "rules", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(figures, "rules"), true));
        cJSON_AddStringToObject(rec, "rule", "R-LC2");
        cJSON_AddItemToObject(t->by_name, vm->name, rec);
        return 0;
}

int usage_trial(struct orch *o, int64_t system_id, cJSON **ret_by_name) {
        _cleanup_(cJSON_Deletep) cJSON *sys = NULL;
        int r = store_query_json_one(o->store, "SELECT trial_start, trial_end, pool FROM systems WHERE id = ?",
                                     STORE_ARGS(STORE_INT(system_id)), &sys);
        if (r < 0)
                return r;
        const cJSON *start = cJSON_GetObjectItemCaseSensitive(sys, "trial_start"), *end = cJSON_GetObjectItemCaseSensitive(sys, "trial_end");
        int offset = pool_offset(o->cfg, str_at(sys, "pool"));
        int64_t now = orch_now(o);
        struct trial_ctx t = {
                .o = o,
                .first = usage_day(cJSON_IsNumber(start) ? (int64_t) start->valuedouble : now, offset),
                .by_name = cJSON_CreateObject(),
        };
        /* The trial's last full day: the day before the one it ends in. */
        t.last = usage_day(cJSON_IsNumber(end) ? (int64_t) end->valuedouble : now, offset) - 1;
        if (t.last < t.first)
                t.last = t.first;
        if (t.last - t.first + 1 > USAGE_DAYS_MAX)
                t.first = t.last - USAGE_DAYS_MAX + 1;
        struct usage_scope scope = { .system_id = system_id, .live_only = true };
        r = usage_evaluate(o->store, o->cfg, &scope, t.first, t.last, trial_cb, &t);
        if (r < 0) {
                cJSON_Delete(t.by_name);
                return r;
        }
        *ret_by_name = t.by_name;
        return 0;
}

/* ---- the monthly report (R-RS7) ---------------------------------------------- */

static cJSON *bands_json(const struct rightsize_band *b, size_t n) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
                cJSON *x = cJSON_CreateObject();
                if (b[i].has_from)
                        cJSON_AddNumberToObject(x, "from", b[i].from);
                else
                        cJSON_AddNullToObject(x, "from");
                if (b[i].has_to)
                        cJSON_AddNumberToObject(x, "to", b[i].to);
                else
                        cJSON_AddNullToObject(x, "to");
                cJSON_AddBoolToObject(x, "from_inclusive", b[i].from_inclusive);
                cJSON_AddBoolToObject(x, "to_inclusive", b[i].to_inclusive);
                cJSON_AddNumberToObject(x, "factor", b[i].factor);
                cJSON_AddStringToObject(x, "rule", b[i].rule);
                cJSON_AddItemToArray(a, x);
        }
        return a;
}

/* The pack's bands, for the report's charts. */
static cJSON *policy_json(const struct rightsize_policy *p) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddBoolToObject(b, "regulated", p && p->regulated);
        cJSON_AddItemToObject(b, "cpu", p && p->regulated ? bands_json(p->cpu, p->n_cpu) : cJSON_CreateArray());
        cJSON_AddItemToObject(b, "memory", p && p->regulated ? bands_json(p->memory, p->n_memory) : cJSON_CreateArray());
        if (p && p->regulated && p->disk_regulated) {
                cJSON *d = cJSON_AddObjectToObject(b, "disk");
                cJSON_AddNumberToObject(d, "usage_at_least", p->disk_usage_at_least);
                cJSON_AddNumberToObject(d, "factor", p->disk_factor);
                if (p->disk_max_gib >= 0)
                        cJSON_AddNumberToObject(d, "max_gib", (double) p->disk_max_gib);
                else
                        cJSON_AddNullToObject(d, "max_gib");
                cJSON_AddBoolToObject(d, "requires_linear_growth", p->disk_requires_linear_growth);
                cJSON_AddStringToObject(d, "rule", p->disk_rule);
        } else
                cJSON_AddNullToObject(b, "disk");
        if (p && p->idle_regulated) {
                cJSON *i = cJSON_AddObjectToObject(b, "idle");
                cJSON_AddNumberToObject(i, "cpu_below", p->idle_cpu_below);
                cJSON_AddNumberToObject(i, "memory_below", p->idle_memory_below);
                cJSON_AddStringToObject(i, "rule", "R-RS7");
        } else
                cJSON_AddNullToObject(b, "idle");
        return b;
}

struct totals {
        int64_t vms, vcpus, memory_gib, disk_gib, idle, changes;
        int64_t vcpus_after, memory_after, disk_after;
};

static void totals_add(struct totals *t, const struct usage_vm *vm) {
        unsigned disk = vm->system_disk_gib + vm->data_disk_gib;
        t->vms++;
        t->vcpus += vm->vcpus;
        t->memory_gib += vm->memory_gib;
        t->disk_gib += disk;
        t->idle += vm->rec.idle;
        t->changes += vm->rec.cpu.applies + vm->rec.memory.applies + vm->rec.disk.applies;
        t->vcpus_after += vm->rec.cpu.applies ? vm->rec.cpu.after : vm->vcpus;
        t->memory_after += vm->rec.memory.applies ? vm->rec.memory.after : vm->memory_gib;
        t->disk_after += disk + (vm->rec.disk.applies ? (int64_t) vm->rec.disk.after - vm->rec.disk.before : 0);
}

static cJSON *totals_json(const struct totals *t, int64_t systems) {
        cJSON *o = cJSON_CreateObject(), *a;
        if (systems >= 0)
                cJSON_AddNumberToObject(o, "systems", (double) systems);
        cJSON_AddNumberToObject(o, "vms", (double) t->vms);
        cJSON_AddNumberToObject(o, "vcpus", (double) t->vcpus);
        cJSON_AddNumberToObject(o, "memory_gib", (double) t->memory_gib);
        cJSON_AddNumberToObject(o, "disk_gib", (double) t->disk_gib);
        cJSON_AddNumberToObject(o, "idle", (double) t->idle);
        cJSON_AddNumberToObject(o, "changes", (double) t->changes);
        a = cJSON_AddObjectToObject(o, "after");
        cJSON_AddNumberToObject(a, "vcpus", (double) t->vcpus_after);
        cJSON_AddNumberToObject(a, "memory_gib", (double) t->memory_after);
        cJSON_AddNumberToObject(a, "disk_gib", (double) t->disk_after);
        return o;
}

struct report_ctx {
        struct orch *o;
        const char *month;
        int64_t first, last;
        bool record;                    /* store the recommendations and announce them */
        cJSON *systems;
        cJSON *system, *vms, *resize;   /* the system being filled */
        cJSON *changed;                 /* its VMs with a change, without the daily series */
        int64_t system_id;
        bool announce;                  /* the system is live: its changes go to the approval system */
        struct totals sys_totals, unit_totals;
        int64_t n_systems, n_announced;
        char rule[GC_ERROR_RULE_MAX];   /* the first rule of the system's changes */
};

/* R-RS1..R-RS6: a system's recommendations go to the approval system
 * through the notifiers (rightsize.recommended), as change-request resize
 * entries it may approve and send back as an ordinary change (R-RQ3). */
static int system_close(struct report_ctx *x) {
        int r = 0;
        if (!x->system)
                return 0;
        cJSON_AddItemToObject(x->system, "totals", totals_json(&x->sys_totals, -1));
        if (x->record && x->announce && cJSON_GetArraySize(x->resize) > 0) {
                _cleanup_(cJSON_Deletep) cJSON *s = NULL;
                r = store_query_json_one(x->o->store, "SELECT s.name, u.name AS unit FROM systems s JOIN units u ON u.id = s.unit_id WHERE s.id = ?",
                                         STORE_ARGS(STORE_INT(x->system_id)), &s);
                if (r >= 0) {
                        cJSON *d = cJSON_CreateObject();
                        char object[64];
                        cJSON_AddNumberToObject(d, "system", (double) x->system_id);
                        cJSON_AddStringToObject(d, "unit", str_at(s, "unit"));
                        cJSON_AddStringToObject(d, "system_name", str_at(s, "name"));
                        cJSON_AddStringToObject(d, "period", x->month);
                        cJSON_AddItemToObject(d, "resize", x->resize);
                        x->resize = NULL;
                        cJSON_AddItemToObject(d, "vms", x->changed);
                        x->changed = NULL;
                        snprintf(object, sizeof object, "system:%lld", (long long) x->system_id);
                        r = orch_audit(x->o, "rightsize.recommended", object, x->rule, d);
                        x->n_announced++;
                }
        }
        cJSON_Delete(x->resize);
        cJSON_Delete(x->changed);
        x->resize = x->changed = NULL;
        x->system = NULL;
        return r;
}

static int report_vm_cb(const struct usage_vm *vm, void *userdata) {
        struct report_ctx *x = userdata;
        int r;

        /* A VM deleted before the month with nothing measured in it is not reported. */
        if (strcmp(vm->state, "deleted") == 0 && vm->days == 0)
                return 0;
        if (!x->system || vm->system_id != x->system_id) {
                r = system_close(x);
                if (r < 0)
                        return r;
                _cleanup_(cJSON_Deletep) cJSON *s = NULL;
                r = store_query_json_one(x->o->store, "SELECT id, name, pool, state FROM systems WHERE id = ?",
                                         STORE_ARGS(STORE_INT(vm->system_id)), &s);
                if (r < 0)
                        return r;
                const struct config_pool *pool = str_at(s, "pool") ? config_pool(x->o->cfg, str_at(s, "pool")) : NULL;
                x->system = cJSON_CreateObject();
                cJSON_AddNumberToObject(x->system, "id", (double) vm->system_id);
                cJSON_AddStringToObject(x->system, "name", str_at(s, "name"));
                if (str_at(s, "pool"))
                        cJSON_AddStringToObject(x->system, "pool", str_at(s, "pool"));
                else
                        cJSON_AddNullToObject(x->system, "pool");
                if (pool && pool->pack)
                        cJSON_AddStringToObject(x->system, "pack", pool->pack->id);
                else
                        cJSON_AddNullToObject(x->system, "pack");
                cJSON_AddStringToObject(x->system, "state", str_at(s, "state"));
                cJSON_AddItemToObject(x->system, "bands", policy_json(pool && pool->pack ? &pool->pack->rightsize : NULL));
                x->vms = cJSON_AddArrayToObject(x->system, "vms");
                cJSON_AddItemToArray(x->systems, x->system);
                x->system_id = vm->system_id;
                /* A system in trial has its recommendation on the go-live
                 * sheet (R-LC2); once live, the approval system gets them. */
                x->announce = strcmp(str_at(s, "state"), "active") == 0;
                x->sys_totals = (struct totals) {};
                x->resize = cJSON_CreateArray();
                x->changed = cJSON_CreateArray();
                x->rule[0] = '\0';
                x->n_systems++;
        }
        cJSON *v = vm_json(vm, true);
        cJSON_AddItemToArray(x->vms, v);
        totals_add(&x->sys_totals, vm);
        totals_add(&x->unit_totals, vm);
        if (x->record) {
                /* The stored figures without the daily series. */
                _cleanup_(cJSON_Deletep) cJSON *figures = vm_json(vm, false);
                r = recommendation_store(x->o, vm, x->month, x->first, x->last, figures);
                if (r < 0)
                        return r;
                if (vm_has_change(vm) && strcmp(vm->state, "deleted") != 0) {
                        cJSON *e = cJSON_CreateObject();
                        cJSON_AddStringToObject(e, "name", vm->name);
                        if (vm->rec.cpu.applies)
                                cJSON_AddNumberToObject(e, "vcpus", vm->rec.cpu.after);
                        if (vm->rec.memory.applies)
                                cJSON_AddNumberToObject(e, "memory_gib", vm->rec.memory.after);
                        if (vm->rec.disk.applies)
                                cJSON_AddNumberToObject(e, vm->disk_name, vm->rec.disk.after);
                        cJSON_AddItemToArray(x->resize, e);
                        cJSON_AddItemToArray(x->changed, cJSON_Duplicate(figures, true));
                        if (!x->rule[0])
                                snprintf(x->rule, sizeof x->rule, "%s",
                                         vm->rec.cpu.applies ? vm->rec.cpu.rule : vm->rec.memory.applies ? vm->rec.memory.rule : vm->rec.disk.rule);
                }
        }
        return 0;
}

static void format_offset(int minutes, char buf[8]) {
        int a = minutes < 0 ? -minutes : minutes;
        snprintf(buf, 8, "%c%02d:%02d", minutes < 0 ? '-' : '+', (a / 60) % 100, a % 60);
}

static int report_build(struct orch *o, int64_t unit_id, const char *month, bool record, cJSON **ret, int64_t *ret_announced) {
        struct report_ctx x = { .o = o, .month = month, .record = record };
        _cleanup_free_ char *unit = NULL;
        int r;

        r = usage_month_days(month, &x.first, &x.last);
        if (r < 0)
                return r;
        r = store_query_text(o->store, "SELECT name FROM units WHERE id = ?", STORE_ARGS(STORE_INT(unit_id)), &unit);
        if (r < 0)
                return r;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "schema", "govcloud-report/1");
        cJSON_AddStringToObject(doc, "kind", "monthly_usage");
        cJSON_AddStringToObject(doc, "rule", "R-RS7");
        cJSON_AddStringToObject(doc, "unit", unit);
        cJSON_AddStringToObject(doc, "month", month);
        const struct pack *pack = o->cfg->pack;
        char day[11], offset[8], t[32];     /* the period in the first pool's calendar, as the timer runs it */
        cJSON *period = cJSON_AddObjectToObject(doc, "period");
        usage_day_format(x.first, day);
        cJSON_AddStringToObject(period, "first", day);
        usage_day_format(x.last, day);
        cJSON_AddStringToObject(period, "last", day);
        cJSON_AddNumberToObject(period, "days", (double) (x.last - x.first + 1));
        format_offset(pack ? pack->calendar.utc_offset_minutes : 480, offset);
        cJSON_AddStringToObject(period, "utc_offset", offset);
        cJSON_AddNullToObject(doc, "due");
        store_format_time(orch_now(o), t);
        cJSON_AddStringToObject(doc, "generated", t);
        x.systems = cJSON_AddArrayToObject(doc, "systems");

        struct usage_scope scope = { .unit_id = unit_id };
        r = usage_evaluate(o->store, o->cfg, &scope, x.first, x.last, report_vm_cb, &x);
        if (r >= 0)
                r = system_close(&x);
        cJSON_Delete(x.resize);
        cJSON_Delete(x.changed);
        if (r < 0)
                return r;
        /* R-RS7: due by the pack's day of the following month (Z20: the
         * 5th); the earliest of the unit's systems' packs that set one. */
        long due_day = -1;
        const cJSON *sys;
        cJSON_ArrayForEach(sys, x.systems) {
                const struct config_pool *pool = str_at(sys, "pool") ? config_pool(o->cfg, str_at(sys, "pool")) : NULL;
                long d = pool && pool->pack ? pool->pack->reporting.due_day_of_month : -1;
                if (d > 0 && (due_day < 0 || d < due_day))
                        due_day = d;
        }
        if (due_day > 0) {
                usage_day_format(x.last + due_day, day);
                cJSON_ReplaceItemInObjectCaseSensitive(doc, "due", cJSON_CreateString(day));
        }
        cJSON_AddItemToObject(doc, "totals", totals_json(&x.unit_totals, x.n_systems));
        if (ret_announced)
                *ret_announced = x.n_announced;
        *ret = TAKE_PTR(doc);
        return 0;
}

int usage_report(struct orch *o, int64_t unit_id, const char *month, cJSON **ret) {
        return report_build(o, unit_id, month, false, ret, NULL);
}

/* ---- the monthly run ----------------------------------------------------------- */

struct unit_ids {
        int64_t *v;
        size_t n;
};

static int unit_id_cb(const struct store_row *row, void *userdata) {
        struct unit_ids *u = userdata;
        u->v = xrealloc(u->v, (u->n + 1) * sizeof *u->v);
        u->v[u->n++] = row->v[0].i;
        return 0;
}

static int report_write(struct orch *o, const char *month, int64_t unit_id, const cJSON *report, cJSON *files) {
        _cleanup_free_ char *dir = xasprintf("%s/%s", o->cfg->reports_dir, month);
        struct gc_error err = {};
        int r;

        if (mkdir(o->cfg->reports_dir, 0750) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "reports directory %s cannot be made", o->cfg->reports_dir);
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "reports directory %s cannot be made", dir);
        for (int f = 0; f < 3; f++) {
                static const char *const ext[3] = { "json", "csv", "html" };
                struct gc_buf b = GC_BUF_INIT(256 * 1024 * 1024);
                uint8_t md[GC_HASH_MAX];

                if (f == 0) {
                        _cleanup_free_ char *text = cJSON_Print(report);
                        r = gc_buf_append_str(&b, text);
                } else if (f == 1)
                        r = report_csv(report, &b, &err);
                else
                        r = report_html(report, &b, &err);
                _cleanup_free_ char *path = xasprintf("%s/unit-%lld.%s", dir, (long long) unit_id, ext[f]);
                if (r >= 0)
                        r = gc_write_file(path, b.data ?: "", b.len, 0640);
                if (r < 0) {
                        char why[512];
                        gc_buf_free(&b);
                        return log_error_errno(r, "report %s cannot be written%s%s", path, err.code[0] ? ": " : "",
                                               err.code[0] ? gc_error_format(&err, why, sizeof why) : "");
                }
                crypto_digest(GC_HASH_SHA256, b.data ?: "", b.len, md);
                _cleanup_free_ char *hex = crypto_hex(md, 32);
                cJSON *x = cJSON_CreateObject();
                cJSON_AddStringToObject(x, "path", path);
                cJSON_AddNumberToObject(x, "bytes", (double) b.len);
                cJSON_AddStringToObject(x, "sha256", hex);
                cJSON_AddItemToArray(files, x);
                gc_buf_free(&b);
        }
        return 0;
}

/* Inside a transaction. */
static int monthly_run(struct orch *o, const char *month, cJSON *summary) {
        struct unit_ids units = {};
        int64_t first, last, announced_total = 0;
        int r = usage_month_days(month, &first, &last);
        if (r < 0)
                return r;
        r = store_query(o->store, "SELECT DISTINCT s.unit_id FROM systems s JOIN vms v ON v.system_id = s.id ORDER BY s.unit_id",
                        STORE_NO_ARGS, unit_id_cb, &units);
        cJSON *list = cJSON_AddArrayToObject(summary, "units");
        for (size_t i = 0; r >= 0 && i < units.n; i++) {
                _cleanup_(cJSON_Deletep) cJSON *report = NULL;
                int64_t announced = 0;
                r = report_build(o, units.v[i], month, true, &report, &announced);
                if (r < 0)
                        break;
                cJSON *d = cJSON_CreateObject();
                cJSON_AddStringToObject(d, "unit", str_at(report, "unit"));
                cJSON_AddStringToObject(d, "month", month);
                cJSON_AddItemToObject(d, "totals", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(report, "totals"), true));
                cJSON_AddNumberToObject(d, "announced", (double) announced);
                cJSON *files = cJSON_AddArrayToObject(d, "files");
                r = report_write(o, month, units.v[i], report, files);
                if (r < 0) {
                        cJSON_Delete(d);
                        break;
                }
                cJSON_AddItemToArray(list, cJSON_Duplicate(d, true));
                char object[64];
                snprintf(object, sizeof object, "unit:%lld", (long long) units.v[i]);
                /* R-RS7: every unit's monthly utilization table. */
                r = orch_audit(o, "report.monthly", object, "R-RS7", d);
                announced_total += announced;
        }
        free(units.v);
        cJSON_AddStringToObject(summary, "month", month);
        cJSON_AddNumberToObject(summary, "announced", (double) announced_total);
        return r;
}

int usage_monthly_run(struct orch *o, const char *month) {
        _cleanup_(cJSON_Deletep) cJSON *summary = cJSON_CreateObject();
        int r = store_begin(o->store);
        if (r >= 0)
                r = monthly_run(o, month, summary);
        if (r >= 0)
                r = store_commit(o->store);
        else
                store_rollback(o->store);
        if (r >= 0)
                orch_notify_kick(o);
        return r;
}

/* The month of a day, and the month before it. */
static void previous_month(int64_t day, char buf[8]) {
        int y;
        unsigned m, d;
        calendar_civil_from_days(day, &y, &m, &d);
        usage_month_of_day(day - (int64_t) d, buf);
}

/* After a failed run (a reports directory that cannot be written, a busy
 * store), the next try waits this long: not one error a tick. */
#define USAGE_RETRY_SECONDS 300

int usage_monthly_tick(struct orch *o) {
        static int64_t retry_at;        /* the event loop's thread only */
        int offset = o->cfg->pack ? o->cfg->pack->calendar.utc_offset_minutes : 480;
        char prev[8];
        _cleanup_free_ char *last = NULL;

        if (retry_at && time(NULL) < retry_at)
                return 0;
        retry_at = 0;

        previous_month(usage_day(orch_now(o), offset), prev);
        int r = store_query_text(o->store, "SELECT value FROM settings WHERE key = 'report.monthly.last'", STORE_NO_ARGS, &last);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0 && strcmp(last, prev) >= 0)
                return 0;
        _cleanup_(cJSON_Deletep) cJSON *summary = cJSON_CreateObject();
        r = store_begin(o->store);
        if (r < 0)
                return r;
        /* The first start sets the baseline: the month before it is not
         * reported (gcctl report run does that on demand). */
        if (last)
                r = monthly_run(o, prev, summary);
        /* A batch's digest is kept while its samples could still be taken
         * (USAGE_MAX_AGE_DAYS): an older batch sent again is refused anyway. */
        if (r >= 0)
                r = store_exec(o->store, "DELETE FROM metric_batches WHERE received < ?",
                               STORE_ARGS(STORE_INT(orch_now(o) - (int64_t) (USAGE_MAX_AGE_DAYS + 1) * 86400)), NULL);
        if (r >= 0)
                r = store_exec(o->store, "INSERT INTO settings (key, value) VALUES ('report.monthly.last', ?) "
                               "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               STORE_ARGS(STORE_TEXT(prev)), NULL);
        if (r >= 0)
                r = store_commit(o->store);
        else
                store_rollback(o->store);
        if (r < 0) {
                retry_at = time(NULL) + USAGE_RETRY_SECONDS;
                return log_warning_errno(r, "the monthly report for %s could not be made; trying again in %d s", prev,
                                         USAGE_RETRY_SECONDS);
        }
        if (last) {
                log_notice("monthly utilization reports for %s: %d units, %d systems with recommendations (R-RS7)", prev,
                           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(summary, "units")),
                           (int) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(summary, "announced")));
                orch_notify_kick(o);
        }
        return 0;
}

/* ---- routes ---------------------------------------------------------------------- */

/* The unit a report call names: a tenant its own; others by name or id. */
static int report_unit(struct api_call *c, int64_t *ret) {
        _cleanup_free_ char *unit = xstrdup(c->who->role == ROLE_TENANT ? c->who->name : api_query(c, "unit") ?: "");
        int r;
        if (!*unit) {
                api_error(c, 400, "invalid_query", "unit: required (the unit's name or id)");
                return -EINVAL;
        }
        r = store_query_int(c->o->store, "SELECT id FROM units WHERE name = ? OR CAST(id AS TEXT) = ?",
                            STORE_ARGS(STORE_TEXT(unit), STORE_TEXT(unit)), ret);
        if (r == -ENOENT)
                api_error(c, 404, "not_found", "unit: no such unit");
        else if (r < 0)
                api_fail_store(c, r);
        return r;
}

void usage_get_report(struct api_call *c) {
        /* api_query's answers last until its next call: copied. */
        _cleanup_free_ char *month_arg = api_query(c, "month") ? xstrdup(api_query(c, "month")) : NULL;
        _cleanup_free_ char *format_arg = xstrdup(api_query(c, "format") ?: "json");
        const char *month = month_arg, *format = format_arg;
        int64_t unit_id, first, last;
        struct gc_error err = {};
        char prev[8];
        int r;

        /* Without a month: the one the report is due for, the month before. */
        if (!month) {
                previous_month(usage_day(orch_now(c->o), c->o->cfg->pack ? c->o->cfg->pack->calendar.utc_offset_minutes : 480), prev);
                month = prev;
        }
        if (usage_month_days(month, &first, &last) < 0)
                return api_error(c, 400, "invalid_query", "month: give YYYY-MM");
        if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "html") != 0)
                return api_error(c, 400, "invalid_query", "format: json, csv or html");
        if (report_unit(c, &unit_id) < 0)
                return;
        _cleanup_(cJSON_Deletep) cJSON *report = NULL;
        r = usage_report(c->o, unit_id, month, &report);
        if (r < 0)
                return api_fail_store(c, r);
        if (strcmp(format, "json") == 0)
                return api_reply(c, 200, TAKE_PTR(report));
        struct gc_buf b = GC_BUF_INIT(256 * 1024 * 1024);
        r = strcmp(format, "csv") == 0 ? report_csv(report, &b, &err) : report_html(report, &b, &err);
        if (r < 0) {
                gc_buf_free(&b);
                return api_error(c, 500, "internal", err.message[0] ? err.message : "the report could not be rendered");
        }
        api_reply_text(c, 200, strcmp(format, "csv") == 0 ? "text/csv; charset=utf-8" : "text/html; charset=utf-8",
                       b.data ?: "", b.len);
        gc_buf_free(&b);
}

/* POST /v1/reports/monthly: the month's run on demand (R-RS7). */
void usage_post_report_run(struct api_call *c) {
        const char *month = api_body_str(c, "month");
        int64_t first, last;
        int r;

        if (usage_month_days(month, &first, &last) < 0) {
                struct gc_error err = {};
                gc_error_set(&err, "invalid_month", "R-RS7", "month", month ?: "", "is not a month (YYYY-MM)");
                return api_refuse(c, 422, &err, "report.refused", "report", "", NULL);
        }
        _cleanup_(cJSON_Deletep) cJSON *summary = cJSON_CreateObject();
        r = store_begin(c->o->store);
        if (r >= 0)
                r = monthly_run(c->o, month, summary);
        if (r >= 0)
                r = store_commit(c->o->store);
        if (r < 0)
                return api_fail_store(c, r);
        orch_notify_kick(c->o);
        api_reply(c, 200, TAKE_PTR(summary));
}

void usage_get_recommendations(struct api_call *c) {
        int64_t system = 0;
        if (api_query_int(c, "system", 0, INT64_MAX, 0, &system) < 0)
                return;
        _cleanup_free_ char *period = api_query(c, "period") ? xstrdup(api_query(c, "period")) : NULL;
        if (system > 0 && api_system_visible(c, system) < 0)
                return api_error(c, 404, "not_found", "system: no such system");
        const char *tenant = c->who->role == ROLE_TENANT ? c->who->name : NULL;
        api_reply_list(c, "recommendations",
                       "SELECT r.id, v.name AS vm, r.system_id, s.name AS system, u.name AS unit, r.period, "
                       "json_object('before', r.vcpus_before, 'after', r.vcpus_after) AS \"vcpus@json\", "
                       "json_object('before', r.memory_before, 'after', r.memory_after) AS \"memory_gib@json\", "
                       "json_object('name', json_extract(r.figures, '$.disk.disk'), 'before', r.disk_before, 'after', r.disk_after) AS \"disk@json\", "
                       "r.idle AS \"idle@bool\", r.rules AS \"rules@json\", r.figures AS \"figures@json\", r.created AS \"created@time\" "
                       "FROM recommendations r JOIN vms v ON v.id = r.vm_id JOIN systems s ON s.id = r.system_id JOIN units u ON u.id = s.unit_id "
                       "WHERE (? = 0 OR r.system_id = ?) AND (? IS NULL OR r.period = ?) AND (? IS NULL OR u.name = ?) "
                       "ORDER BY r.period, r.system_id, r.vm_id",
                       STORE_ARGS(STORE_INT(system), STORE_INT(system), STORE_TEXT(period), STORE_TEXT(period),
                                  STORE_TEXT(tenant), STORE_TEXT(tenant)));
}
