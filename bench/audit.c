/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit chain's cost (R-AU1..R-AU3), in one run, with SM3 and with
 * SHA-256:
 *
 *   chained    records written through the orchestrator's own path,
 *              audit_append() (orchestrator/audit.c), into a real SQLite
 *              file opened with store_open() (WAL, synchronous=FULL): one
 *              record per transaction, as audit_record() writes them
 *              (--single, default 20,000), and 1,000 per transaction
 *              (--records, default 1,000,000);
 *   reference  the same INSERT statement with the same row contents into
 *              the same table (a fresh store of its own: the migrations make
 *              it identical), through the same store API, in transactions of
 *              the same sizes, without the chain: no head read, no record
 *              object, no canonical bytes, no hash. "prev" is the zero hash;
 *              "hash" is the zero hash with the seq in its last 16 hex digits
 *              (the column is UNIQUE, so it cannot be one constant);
 *   scattered  the reference again, but "hash" 64 pseudo-random hex digits
 *              (splitmix64 of the seq): what the UNIQUE index on the hash
 *              column costs once its keys arrive in random order, as real
 *              hashes do, apart from what computing them costs;
 *   ratios     chained time / reference time, and chained / scattered;
 *              the three run in alternating blocks of a twentieth of the run
 *              each, so that all meet the same machine (other load, the
 *              disk's mood);
 *   verify     the chain of --records records just written:
 *              audit_verify_store() on the SQLite file, and
 *              auditchain_verify_segment() on the same records exported into
 *              one in-memory segment (reading the rows and building the
 *              segment timed apart).
 *
 * Every store must hold what was written and every chain must verify, or
 * the run fails. Prints a table and the ratios (or, with --json, one JSON
 * object); asserts nothing about speed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "audit.h"
#include "auditchain.h"
#include "cleanup.h"
#include "crypto.h"
#include "log.h"
#include "store.h"

#define BATCH 1000
#define BLOCKS 20
#define SYSTEM "\xe5\x8d\x8f\xe5\x90\x8c\xe5\x8a\x9e\xe5\x85\xac" "OA"      /* 协同办公OA */
#define POOL "\xe5\x8c\x85\xe5\xa4\xb4-A"                                    /* 包头-A */

/* audit_append()'s statement, word for word. */
#define AUDIT_INSERT                                                                                                   \
        "INSERT INTO audit (seq, time, actor, role, action, object, approval, outcome, rule, detail, prev, hash) "     \
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

struct options {
        int64_t records, single;
        bool json;
        const char *dir;
};

static double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the records: a request accepted, as intake writes it ---- */

struct entry {
        char object[32], approval[48];
        cJSON *detail, *request;
        struct audit_entry e;
};

static void entry_init(struct entry *g) {
        *g = (struct entry) {};
        g->detail = cJSON_CreateObject();
        cJSON_AddStringToObject(g->detail, "system", SYSTEM);
        cJSON_AddStringToObject(g->detail, "pool", POOL);
        cJSON_AddNumberToObject(g->detail, "vms", 3);
        g->request = cJSON_AddNumberToObject(g->detail, "request", 0);
        g->e = (struct audit_entry) {
                .actor = "approval-oa",
                .role = "approval",
                .action = "request.accepted",
                .object = g->object,
                .approval = g->approval,
                .outcome = "accepted",
                .rule = "",
                .detail = g->detail,
        };
}

static void entry_set(struct entry *g, int64_t i) {
        snprintf(g->object, sizeof g->object, "request:%" PRId64, i);
        snprintf(g->approval, sizeof g->approval, "approval-oa/OA-2026-%07" PRId64, i);
        cJSON_SetNumberValue(g->request, (double) i);
        g->e.time = 1767225600 + i;
}

static void entry_done(struct entry *g) {
        cJSON_Delete(g->detail);
        g->detail = NULL;
}

/* ---- the three ways of appending ---- */

enum kind {
        KIND_CHAINED,
        KIND_REFERENCE,
        KIND_SCATTERED,
        N_KINDS,
};

static const char *const kind_names[N_KINDS] = { "chained", "reference", "scattered" };

static int append_chained(struct store *s, enum gc_hash_alg alg, const struct audit_entry *e, int64_t seq) {
        int64_t got;
        int r = audit_append(s, alg, e, &got);
        if (r < 0)
                return r;
        if (got != seq)
                return log_error_errno(-EBADMSG, "audit_append() gave seq %" PRId64 ", not %" PRId64, got, seq);
        return 0;
}

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static int append_plain(struct store *s, enum gc_hash_alg alg, const struct audit_entry *e, int64_t seq,
                        bool scattered) {
        char prev[8 + 64 + 1], hash[8 + 64 + 1];
        const char *name = crypto_hash_to_string(alg);
        snprintf(prev, sizeof prev, "%s:%064d", name, 0);
        if (scattered) {
                uint64_t x = (uint64_t) seq;
                uint64_t a = splitmix64(&x), b = splitmix64(&x), c = splitmix64(&x), d = splitmix64(&x);
                snprintf(hash, sizeof hash, "%s:%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, name, a, b, c, d);
        } else
                snprintf(hash, sizeof hash, "%s:%048d%016" PRIx64, name, 0, (uint64_t) seq);
        _cleanup_free_ char *detail_text = cJSON_PrintUnformatted(e->detail);
        return store_exec(s, AUDIT_INSERT,
                          STORE_ARGS(STORE_INT(seq), STORE_INT(e->time), STORE_TEXT(e->actor), STORE_TEXT(e->role),
                                     STORE_TEXT(e->action), STORE_TEXT(e->object), STORE_TEXT(e->approval),
                                     STORE_TEXT(e->outcome), STORE_TEXT(e->rule), STORE_TEXT(detail_text),
                                     STORE_TEXT(prev), STORE_TEXT(hash)),
                          NULL);
}

static int append(enum kind k, struct store *s, enum gc_hash_alg alg, const struct audit_entry *e, int64_t seq) {
        return k == KIND_CHAINED ? append_chained(s, alg, e, seq) : append_plain(s, alg, e, seq, k == KIND_SCATTERED);
}

static void remove_store(const char *path) {
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *p = xasprintf("%s%s", path, suffixes[i]);
                (void) unlink(p);
        }
}

static char *store_path(const char *dir, enum kind k, const char *mode, enum gc_hash_alg alg) {
        return xasprintf("%s/%s-%s-%s.db", dir, kind_names[k], mode, crypto_hash_to_string(alg));
}

/* ---- results ---- */

struct append_result {
        int64_t n, per_txn;
        double seconds[N_KINDS];
        int64_t bytes[N_KINDS];
};

struct verify_result {
        int64_t n;
        double store, load, segment;    /* seconds */
};

struct alg_result {
        enum gc_hash_alg alg;
        struct append_result single, batch;
        struct verify_result verify;
};

/* ---- one store being appended to ---- */

struct side {
        enum kind kind;
        char *path;
        struct store *s;
        struct entry g;
        int64_t next;                   /* the next seq to append */
        double seconds;
};

static int side_open(struct side *d) {
        remove_store(d->path);
        int r = store_open(d->path, &d->s);
        if (r < 0)
                return log_error_errno(r, "open %s", d->path);
        entry_init(&d->g);
        d->next = 1;
        return 0;
}

/* txns transactions of per_txn records (fewer at the end of n), timed. */
static int side_run(struct side *d, enum gc_hash_alg alg, int64_t n, int64_t per_txn, int64_t txns) {
        int r = 0;
        double t0 = now_seconds();
        for (int64_t t = 0; t < txns && d->next <= n && r >= 0; t++) {
                r = store_begin(d->s);
                for (int64_t k = 0; r >= 0 && k < per_txn && d->next <= n; k++, d->next++) {
                        entry_set(&d->g, d->next);
                        r = append(d->kind, d->s, alg, &d->g.e, d->next);
                }
                if (r >= 0)
                        r = store_commit(d->s);
                if (r < 0)
                        store_rollback(d->s);
        }
        d->seconds += now_seconds() - t0;
        if (r < 0)
                return log_error_errno(r, "append to %s", d->path);
        return 0;
}

/* Check the row count, close, and measure the file. */
static int side_close(struct side *d, int64_t n, int64_t *ret_bytes) {
        int64_t count = -1;
        int r = 0;
        entry_done(&d->g);
        if (!d->s)
                return 0;
        r = store_query_int(d->s, "SELECT count(*) FROM audit", STORE_NO_ARGS, &count);
        store_close(d->s);
        d->s = NULL;
        if (r < 0)
                return r;
        if (count != n)
                return log_error_errno(-EBADMSG, "%s holds %" PRId64 " records, not %" PRId64, d->path, count, n);
        struct stat st;
        *ret_bytes = stat(d->path, &st) == 0 ? st.st_size : -1;
        return 0;
}

/* n records, per_txn to a transaction, into a fresh store of each kind, in
 * alternating blocks of about n / BLOCKS records. The stores are opened
 * (migrations) and closed outside the clock. The chained store stays (the
 * verification reads it); the others are removed. */
static int run_appends(const struct options *o, enum gc_hash_alg alg, const char *mode, int64_t n, int64_t per_txn,
                       struct append_result *res) {
        struct side sides[N_KINDS] = {};
        int64_t txns = (n + per_txn - 1) / per_txn;
        int64_t block = txns / BLOCKS > 0 ? txns / BLOCKS : 1;
        int r = 0;

        for (size_t k = 0; k < N_KINDS; k++) {
                sides[k].kind = k;
                sides[k].path = store_path(o->dir, k, mode, alg);
        }
        for (size_t k = 0; k < N_KINDS && r >= 0; k++)
                r = side_open(&sides[k]);
        for (bool more = true; r >= 0 && more;) {
                more = false;
                for (size_t k = 0; k < N_KINDS && r >= 0; k++) {
                        r = side_run(&sides[k], alg, n, per_txn, block);
                        more = more || sides[k].next <= n;
                }
        }
        for (size_t k = 0; k < N_KINDS; k++) {
                int q = side_close(&sides[k], n, &res->bytes[k]);
                if (r >= 0)
                        r = q;
                res->seconds[k] = sides[k].seconds;
                if (k != KIND_CHAINED || r < 0)
                        remove_store(sides[k].path);
                free(sides[k].path);
        }
        res->n = n;
        res->per_txn = per_txn;
        return r;
}

/* ---- export into a segment ---- */

struct export_state {
        cJSON *records;
        int64_t n;
};

static int export_cb(const struct store_row *row, void *userdata) {
        static const char *const text[] = { "actor", "role", "action", "object", "approval", "outcome", "rule" };
        struct export_state *st = userdata;
        const struct store_value *v = row->v;

        cJSON *detail = cJSON_Parse(v[9].s);
        if (!cJSON_IsObject(detail)) {
                cJSON_Delete(detail);
                return log_error_errno(-EBADMSG, "record %" PRId64 ": detail is not a JSON object", v[0].i);
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double) v[0].i);
        cJSON_AddNumberToObject(o, "time", (double) v[1].i);
        for (size_t i = 0; i < ELEMENTSOF(text); i++)
                cJSON_AddStringToObject(o, text[i], v[2 + i].s);
        cJSON_AddItemToObject(o, "detail", detail);
        cJSON_AddStringToObject(o, "prev", v[10].s);
        cJSON_AddStringToObject(o, "hash", v[11].s);
        cJSON_AddItemToArray(st->records, o);
        st->n++;
        return 0;
}

/* The whole chain as one segment (auditchain.h), with no checkpoints. */
static int export_segment(struct store *s, enum gc_hash_alg alg, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *seg = cJSON_CreateObject();
        _cleanup_free_ char *anchor = auditchain_zero_hash(alg);
        char exported[32];

        store_format_time(time(NULL), exported);
        cJSON_AddStringToObject(seg, "format", AUDIT_SEGMENT_FORMAT);
        cJSON_AddStringToObject(seg, "hash", crypto_hash_to_string(alg));
        cJSON_AddNumberToObject(seg, "from", 1);
        cJSON *to = cJSON_AddNumberToObject(seg, "to", 0);
        cJSON_AddStringToObject(seg, "anchor", anchor);
        cJSON_AddStringToObject(seg, "exported", exported);
        struct export_state st = { .records = cJSON_AddArrayToObject(seg, "records") };
        cJSON_AddArrayToObject(seg, "checkpoints");
        int r = store_query(s, "SELECT seq, time, actor, role, action, object, approval, outcome, rule, detail, prev, hash "
                               "FROM audit ORDER BY seq", STORE_NO_ARGS, export_cb, &st);
        if (r < 0)
                return r;
        cJSON_SetNumberValue(to, (double) st.n);
        *ret = TAKE_PTR(seg);
        return 0;
}

static int run_verify(const char *path, enum gc_hash_alg alg, int64_t n, struct verify_result *res) {
        const char *name = crypto_hash_to_string(alg);
        _cleanup_(store_closep) struct store *s = NULL;
        int r = store_open(path, &s);
        if (r < 0)
                return log_error_errno(r, "open %s", path);
        res->n = n;

        fprintf(stderr, "bench-audit: %s: audit_verify_store() ...", name);
        fflush(stderr);
        int64_t count = 0, bad = 0;
        double t0 = now_seconds();
        r = audit_verify_store(s, &count, &bad);
        res->store = now_seconds() - t0;
        if (r < 0)
                return log_error_errno(r, "audit_verify_store(): %" PRId64 " records verified, record %" PRId64 " does not",
                                       count, bad);
        if (count != n)
                return log_error_errno(-EBADMSG, "audit_verify_store() verified %" PRId64 " records, not %" PRId64, count, n);
        fprintf(stderr, " %.1f s\n", res->store);

        fprintf(stderr, "bench-audit: %s: export to a segment, auditchain_verify_segment() ...", name);
        fflush(stderr);
        _cleanup_(cJSON_Deletep) cJSON *seg = NULL;
        t0 = now_seconds();
        r = export_segment(s, alg, &seg);
        res->load = now_seconds() - t0;
        if (r < 0)
                return log_error_errno(r, "export %s", path);

        struct auditchain_report rep;
        t0 = now_seconds();
        r = auditchain_verify_segment(seg, &rep);
        res->segment = now_seconds() - t0;
        int64_t verified = rep.records;
        if (r < 0)
                log_error_errno(r, "auditchain_verify_segment(): %s", rep.message);
        auditchain_report_done(&rep);
        if (r < 0)
                return r;
        if (verified != n)
                return log_error_errno(-EBADMSG, "auditchain_verify_segment() verified %" PRId64 " records, not %" PRId64,
                                       verified, n);
        fprintf(stderr, " %.1f s + %.1f s\n", res->load, res->segment);
        return 0;
}

static int run_alg(const struct options *o, enum gc_hash_alg alg, struct alg_result *res) {
        const char *name = crypto_hash_to_string(alg);
        struct {
                const char *mode;
                int64_t n, per_txn;
                struct append_result *res;
        } modes[] = {
                { "single", o->single, 1, &res->single },
                { "batch", o->records, BATCH, &res->batch },
        };
        _cleanup_free_ char *single = store_path(o->dir, KIND_CHAINED, "single", alg);
        _cleanup_free_ char *batch = store_path(o->dir, KIND_CHAINED, "batch", alg);
        int r = 0;

        res->alg = alg;
        for (size_t m = 0; m < ELEMENTSOF(modes) && r >= 0; m++) {
                fprintf(stderr, "bench-audit: %s: %" PRId64 " records, %" PRId64 " per transaction, chained / reference / scattered ...",
                        name, modes[m].n, modes[m].per_txn);
                fflush(stderr);
                r = run_appends(o, alg, modes[m].mode, modes[m].n, modes[m].per_txn, modes[m].res);
                if (r >= 0)
                        fprintf(stderr, " %.1f / %.1f / %.1f s\n", modes[m].res->seconds[KIND_CHAINED],
                                modes[m].res->seconds[KIND_REFERENCE], modes[m].res->seconds[KIND_SCATTERED]);
        }
        remove_store(single);
        if (r >= 0)
                r = run_verify(batch, alg, o->records, &res->verify);
        remove_store(batch);
        return r;
}

/* ---- output ---- */

static double rate(const struct append_result *a, enum kind k) {
        return a->n / a->seconds[k];
}

static double ratio(const struct append_result *a, enum kind k) {
        return a->seconds[KIND_CHAINED] / a->seconds[k];
}

static void print_table(const struct options *o, const struct alg_result *res, size_t n, const char *fs) {
        printf("audit chain: append and verify; WAL, synchronous=FULL; stores in %s (%s)\n", o->dir, fs);
        printf("chained:   audit_append(), as the orchestrator writes records\n"
               "reference: the same INSERT and rows into an identical table, no head read, no hash\n"
               "scattered: the reference with pseudo-random values in the UNIQUE hash column\n\n");
        printf("%-7s %-12s %9s %10s %10s %10s %9s %9s %12s\n", "hash", "records/txn", "records", "chained/s",
               "ref/s", "scatt/s", "ch/ref", "ch/scatt", "MB ch/ref");
        for (size_t i = 0; i < n; i++) {
                const struct append_result *a[] = { &res[i].single, &res[i].batch };
                for (size_t k = 0; k < ELEMENTSOF(a); k++)
                        printf("%-7s %-12" PRId64 " %9" PRId64 " %10.0f %10.0f %10.0f %8.2fx %8.2fx %6.0f/%-5.0f\n",
                               crypto_hash_to_string(res[i].alg), a[k]->per_txn, a[k]->n, rate(a[k], KIND_CHAINED),
                               rate(a[k], KIND_REFERENCE), rate(a[k], KIND_SCATTERED), ratio(a[k], KIND_REFERENCE),
                               ratio(a[k], KIND_SCATTERED), a[k]->bytes[KIND_CHAINED] / 1e6,
                               a[k]->bytes[KIND_REFERENCE] / 1e6);
        }
        printf("\n%-7s %9s %28s %41s\n", "hash", "records", "audit_verify_store()", "segment: load + verify (verify rate)");
        for (size_t i = 0; i < n; i++) {
                const struct verify_result *v = &res[i].verify;
                printf("%-7s %9" PRId64 " %8.2f s %10.0f rec/s %10.2f s + %6.2f s (%8.0f rec/s)\n",
                       crypto_hash_to_string(res[i].alg), v->n, v->store, v->n / v->store, v->load, v->segment,
                       v->n / v->segment);
        }
        printf("\nratio chained / reference time:");
        for (size_t i = 0; i < n; i++)
                printf(" %s %.2fx (1/txn), %.2fx (%d/txn)%s", crypto_hash_to_string(res[i].alg),
                       ratio(&res[i].single, KIND_REFERENCE), ratio(&res[i].batch, KIND_REFERENCE), BATCH,
                       i + 1 < n ? ";" : "\n");
        printf("ratio chained / scattered time:");
        for (size_t i = 0; i < n; i++)
                printf(" %s %.2fx (1/txn), %.2fx (%d/txn)%s", crypto_hash_to_string(res[i].alg),
                       ratio(&res[i].single, KIND_SCATTERED), ratio(&res[i].batch, KIND_SCATTERED), BATCH,
                       i + 1 < n ? ";" : "\n");
}

static void json_append(cJSON *o, const struct append_result *a) {
        cJSON_AddNumberToObject(o, "records", (double) a->n);
        cJSON_AddNumberToObject(o, "per_transaction", (double) a->per_txn);
        for (size_t k = 0; k < N_KINDS; k++) {
                cJSON *j = cJSON_AddObjectToObject(o, kind_names[k]);
                cJSON_AddNumberToObject(j, "seconds", a->seconds[k]);
                cJSON_AddNumberToObject(j, "per_second", rate(a, k));
                cJSON_AddNumberToObject(j, "bytes", (double) a->bytes[k]);
        }
        cJSON_AddNumberToObject(o, "ratio_reference", ratio(a, KIND_REFERENCE));
        cJSON_AddNumberToObject(o, "ratio_scattered", ratio(a, KIND_SCATTERED));
}

static void print_json(const struct options *o, const struct alg_result *res, size_t n, const char *fs) {
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "benchmark", "audit");
        cJSON_AddStringToObject(j, "dir", o->dir);
        cJSON_AddStringToObject(j, "file_system", fs);
        cJSON *algs = cJSON_AddArrayToObject(j, "hashes");
        for (size_t i = 0; i < n; i++) {
                cJSON *a = cJSON_CreateObject();
                cJSON_AddStringToObject(a, "hash", crypto_hash_to_string(res[i].alg));
                json_append(cJSON_AddObjectToObject(a, "single"), &res[i].single);
                json_append(cJSON_AddObjectToObject(a, "batch"), &res[i].batch);
                cJSON *v = cJSON_AddObjectToObject(a, "verify");
                cJSON_AddNumberToObject(v, "records", (double) res[i].verify.n);
                cJSON_AddNumberToObject(v, "store_seconds", res[i].verify.store);
                cJSON_AddNumberToObject(v, "store_per_second", res[i].verify.n / res[i].verify.store);
                cJSON_AddNumberToObject(v, "segment_load_seconds", res[i].verify.load);
                cJSON_AddNumberToObject(v, "segment_verify_seconds", res[i].verify.segment);
                cJSON_AddNumberToObject(v, "segment_per_second", res[i].verify.n / res[i].verify.segment);
                cJSON_AddItemToArray(algs, a);
        }
        _cleanup_free_ char *text = cJSON_Print(j);
        puts(text);
}

static const char *fs_name(const char *dir) {
        struct statfs sf;
        if (statfs(dir, &sf) < 0)
                return "?";
        switch ((unsigned long) sf.f_type) {
        case 0xEF53: return "ext2/ext3/ext4";
        case 0x01021994: return "tmpfs";
        case 0x58465342: return "xfs";
        case 0x9123683E: return "btrfs";
        case 0x794c7630: return "overlayfs";
        }
        return "other";
}

static void help(void) {
        printf("Usage: bench-audit [--records N] [--single N] [--dir DIR] [--json]\n"
               "\n"
               "Appends audit records through audit_append() into SQLite stores, with SM3\n"
               "and with SHA-256, one record per transaction (--single, default 20000) and\n"
               "%d per transaction (--records, default 1000000), against the same INSERTs\n"
               "without the chain (and again with pseudo-random values in the hash column);\n"
               "then verifies the --records chain with audit_verify_store() and, exported to\n"
               "a segment, auditchain_verify_segment(). Prints the rates and the ratios.\n"
               "DIR (default: a new directory in $TMPDIR or /tmp, removed afterwards) holds\n"
               "the stores, three at a time, about 0.45 KB per record each. Run by\n"
               "bench/audit.sh.\n", BATCH);
}

static int parse_count(const char *s, const char *what, int64_t *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < 1) {
                fprintf(stderr, "bench-audit: %s: \"%s\" is not a positive integer\n", what, s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "records", required_argument, NULL, 'n' },
                { "single", required_argument, NULL, 's' },
                { "dir", required_argument, NULL, 'd' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        static const enum gc_hash_alg algs[] = { GC_HASH_SM3, GC_HASH_SHA256 };
        struct options o = { .records = 1000000, .single = 20000 };
        struct alg_result res[ELEMENTSOF(algs)] = {};
        _cleanup_free_ char *tmpdir = NULL;
        int c, r = 0;

        log_set_component("bench-audit");
        log_set_max_level(LOG_LEVEL_WARNING);
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0)
                switch (c) {
                case 'n':
                        if (parse_count(optarg, "--records", &o.records) < 0)
                                return 2;
                        break;
                case 's':
                        if (parse_count(optarg, "--single", &o.single) < 0)
                                return 2;
                        break;
                case 'd':
                        o.dir = optarg;
                        break;
                case 'j':
                        o.json = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                help();
                return 2;
        }
        if (!o.dir) {
                const char *t = getenv("TMPDIR");
                tmpdir = xasprintf("%s/gc-bench-audit.XXXXXX", t && *t ? t : "/tmp");
                if (!mkdtemp(tmpdir)) {
                        log_error_errno(-errno, "mkdtemp %s", tmpdir);
                        return 1;
                }
                o.dir = tmpdir;
        }

        const char *fs = fs_name(o.dir);
        for (size_t i = 0; i < ELEMENTSOF(algs) && r >= 0; i++)
                r = run_alg(&o, algs[i], &res[i]);
        if (tmpdir)
                (void) rmdir(tmpdir);   /* every store was removed */
        if (r < 0)
                return 1;
        if (o.json)
                print_json(&o, res, ELEMENTSOF(algs), fs);
        else
                print_table(&o, res, ELEMENTSOF(algs), fs);
        return 0;
}
