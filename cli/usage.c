/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcctl metrics import | report monthly | report run | recommendations list:
 * utilization samples from a provider's own monitoring (POST /v1/metrics),
 * the monthly utilization report of a unit (R-RS7) and the rightsizing
 * recommendations it makes (R-RS1..R-RS6).
 *
 * metrics import reads the whole CSV file and checks every line before it
 * connects: a file is sent whole or, when it is wrong, not at all. Batches
 * are built the same way on every run (the same file and --batch give the
 * same bytes), and the orchestrator counts a batch once by the digest of its
 * bytes, so an import that stopped half way is finished by running it again.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "gc/error.h"
#include "gcctl.h"
#include "jcs.h"
#include "json.h"
#include "metrics-csv.h"
#include "remote.h"

/* A month of 5-minute samples of a few hundred VMs; larger exports are split. */
#define METRICS_FILE_MAX (256u * 1024 * 1024)
/* The orchestrator's cap on one batch (registration.json#/$defs/metrics). */
#define METRICS_BATCH_MAX 50000
#define METRICS_BATCH_DEFAULT 5000
/* A batch body: at most METRICS_BATCH_MAX samples of a few hundred bytes. */
#define METRICS_BODY_MAX (64u * 1024 * 1024)
/* A report's CSV or HTML page. */
#define REPORT_BODY_MAX (256u * 1024 * 1024)

enum {
        ARG_OUT = 'o',                  /* -o, --out */
        ARG_BATCH = 0x100,
        ARG_PROGRESS,
        ARG_CHECK,
        ARG_UNIT,
        ARG_MONTH,
        ARG_FORMAT,
        ARG_SYSTEM,
        ARG_PERIOD,
};

struct usage_args {
        const char *verb;
        const char *batch;
        bool progress;
        bool check;
        const char *unit;
        const char *month;
        const char *format;
        const char *out;
        const char *system;
        const char *period;
};

static int usage_handle(int opt, const char *arg, void *userdata) {
        struct usage_args *a = userdata;

        switch (opt) {
        case ARG_BATCH:
                a->batch = arg;
                return 0;
        case ARG_PROGRESS:
                a->progress = true;
                return 0;
        case ARG_CHECK:
                a->check = true;
                return 0;
        case ARG_UNIT:
                a->unit = arg;
                return 0;
        case ARG_MONTH:
                a->month = arg;
                return 0;
        case ARG_FORMAT:
                a->format = arg;
                return 0;
        case ARG_OUT:
                a->out = arg;
                return 0;
        case ARG_SYSTEM:
                a->system = arg;
                return 0;
        case ARG_PERIOD:
                a->period = arg;
                return 0;
        }
        return -EINVAL;
}

/* "YYYY-MM" with a month 01..12. */
static bool is_month(const char *s) {
        return strlen(s) == 7 && s[4] == '-' && strspn(s, "0123456789") == 4 && strspn(s + 5, "0123456789") == 2 &&
               ((s[5] == '0' && s[6] >= '1') || (s[5] == '1' && s[6] <= '2'));
}

/* --month, required: GCCTL_EXIT_OK, or the usage error. */
static int month_required(const struct remote *rm, const char *month) {
        if (!month)
                return gcctl_usage_error(rm->verb, "--month YYYY-MM is required");
        if (!is_month(month))
                return gcctl_usage_error(rm->verb, "--month: \"%s\" is not YYYY-MM", month);
        return GCCTL_EXIT_OK;
}

static int write_or_fail(const struct remote *rm, const char *path, const void *data, size_t len) {
        int r = gcctl_write_file(path, data, len);
        if (r < 0)
                return remote_fail(rm, "%s: %s", path && strcmp(path, "-") != 0 ? path : "(stdout)", strerror(-r));
        return GCCTL_EXIT_OK;
}

/* ==== metrics import ===================================================================== */

/* "FILE: line 139, column cpu_pct: "12,5" is not a number". */
static void import_error_print(const struct remote *rm, const char *file, const struct metrics_csv_error *e) {
        fprintf(stderr, "%s: %s", rm->verb, strcmp(file, "-") == 0 ? "(stdin)" : file);
        if (e->line)
                fprintf(stderr, ": line %u", e->line);
        if (e->column[0])
                fprintf(stderr, ", column %s", e->column);
        fputs(": ", stderr);
        if (e->has_value)
                fprintf(stderr, "\"%s\" ", e->value);
        fprintf(stderr, "%s\n", e->message);
}

/* A batch's body with a sticky error: past the cap every append is a no-op. */
struct body {
        struct gc_buf b;
        int r;
};

static void body_put(struct body *b, const char *s) {
        if (b->r >= 0)
                b->r = gc_buf_append_str(&b->b, s);
}

static void body_char(struct body *b, char c) {
        if (b->r >= 0)
                b->r = gc_buf_append_char(&b->b, c);
}

/* Control characters never get here (metrics_csv_next refuses them); quotes
 * and backslashes are escaped. */
static void json_string(struct body *b, const char *s) {
        body_char(b, '"');
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        body_char(b, '\\');
                body_char(b, *s);
        }
        body_char(b, '"');
}

/* {"time":...,"uuid"|"vm":...[,"pool":...],"cpu_pct":12.5|null,...}: the
 * members in this order, numbers as the file writes them, the metrics the
 * file has columns for. */
static void sample_json(struct body *b, const struct metrics_sample *s) {
        body_put(b, "{\"time\":");
        json_string(b, s->cell[METRICS_COL_TIME]);
        if (s->cell[METRICS_COL_UUID] && *s->cell[METRICS_COL_UUID]) {
                body_put(b, ",\"uuid\":");
                json_string(b, s->cell[METRICS_COL_UUID]);
        } else {
                body_put(b, ",\"vm\":");
                json_string(b, s->cell[METRICS_COL_VM]);
                if (s->cell[METRICS_COL_POOL] && *s->cell[METRICS_COL_POOL]) {
                        body_put(b, ",\"pool\":");
                        json_string(b, s->cell[METRICS_COL_POOL]);
                }
        }
        for (size_t k = METRICS_COL_CPU; k <= METRICS_COL_DISK; k++) {
                if (!s->cell[k])
                        continue;
                body_put(b, ",\"");
                body_put(b, metrics_csv_columns[k]);
                body_put(b, "\":");
                body_put(b, *s->cell[k] ? s->cell[k] : "null");
        }
        body_char(b, '}');
}

/* The VMs a file names, counted once each. */
struct name_set {
        char **v;
        size_t n, cap;          /* cap a power of two, or 0 */
};

static uint64_t fnv1a(const char *s) {
        uint64_t h = 14695981039346656037ull;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ull;
        return h;
}

static void name_set_add(struct name_set *set, const char *key) {
        if (2 * (set->n + 1) > set->cap) {
                struct name_set bigger = { .cap = set->cap ? 2 * set->cap : 64 };
                bigger.v = xnew(char *, bigger.cap);
                for (size_t i = 0; i < set->cap; i++)
                        if (set->v[i]) {
                                size_t j = fnv1a(set->v[i]) & (bigger.cap - 1);
                                while (bigger.v[j])
                                        j = (j + 1) & (bigger.cap - 1);
                                bigger.v[j] = set->v[i];
                        }
                bigger.n = set->n;
                free(set->v);
                *set = bigger;
        }
        size_t j = fnv1a(key) & (set->cap - 1);
        for (; set->v[j]; j = (j + 1) & (set->cap - 1))
                if (strcmp(set->v[j], key) == 0)
                        return;
        set->v[j] = xstrdup(key);
        set->n++;
}

static void name_set_done(struct name_set *set) {
        for (size_t i = 0; i < set->cap; i++)
                free(set->v[i]);
        free(set->v);
        *set = (struct name_set) {};
}

struct import {
        struct remote *rm;
        const char *file;
        char *data;
        size_t len;
        size_t batch;                   /* samples a batch */
        bool progress;
        size_t samples;                 /* in the file */
        size_t batches;
        struct name_set vms;
        /* what the orchestrator answered */
        size_t sent, accepted, ignored, duplicates;
        cJSON *answers;
        int exit;                       /* of the call that failed */
};

/* Pass over the file: each sample checked; with body, the batches built
 * and handed to send() as they fill. */
static int import_pass(struct import *im, struct metrics_csv_error *e,
                       int (*send)(struct import *im, size_t first, const struct gc_buf *body, const unsigned *lines,
                                   size_t n),
                       bool count) {
        _cleanup_free_ unsigned *lines = send ? xnew(unsigned, im->batch) : NULL;
        _cleanup_(metrics_csv_freep) struct metrics_csv *m = NULL;
        struct body body = { .b = GC_BUF_INIT(METRICS_BODY_MAX) };
        struct metrics_sample s;
        size_t n = 0, first = 0;
        unsigned line = 0;
        int r;

        r = metrics_csv_new(im->data, im->len, &m, e);
        while (r >= 0 && (r = metrics_csv_next(m, &s, &line, e)) > 0) {
                if (count) {
                        /* names are unique (R-NM2): a pool given or not, the same VM */
                        _cleanup_free_ char *key = s.cell[METRICS_COL_UUID] && *s.cell[METRICS_COL_UUID]
                                ? xasprintf("u:%s", s.cell[METRICS_COL_UUID])
                                : xasprintf("n:%s", s.cell[METRICS_COL_VM]);
                        name_set_add(&im->vms, key);
                        im->samples++;
                }
                if (!send)
                        continue;
                body_put(&body, n == 0 ? "{\"samples\":[" : ",");
                sample_json(&body, &s);
                lines[n++] = line;
                if (n == im->batch) {
                        body_put(&body, "]}");
                        r = body.r < 0 ? body.r : send(im, first, &body.b, lines, n);
                        first += n;
                        n = 0;
                        gc_buf_reset(&body.b);
                }
        }
        if (r >= 0 && send && n > 0) {
                body_put(&body, "]}");
                r = body.r < 0 ? body.r : send(im, first, &body.b, lines, n);
        }
        if (r == -ENOBUFS)
                metrics_csv_fail(e, line, NULL, NULL, "a batch larger than %u MiB: give a smaller --batch",
                                 METRICS_BODY_MAX / (1024 * 1024));
        gc_buf_free(&body.b);
        return r < 0 ? r : 0;
}

/* "samples[137].cpu_pct" (or "$.samples[137].cpu_pct"): 137 and "cpu_pct". */
static bool sample_field(const char *field, size_t *ret_index, const char **ret_member) {
        char *end;

        if (!field)
                return false;
        if (strncmp(field, "$.", 2) == 0)
                field += 2;
        if (strncmp(field, "samples[", 8) != 0 || field[8] < '0' || field[8] > '9')
                return false;
        errno = 0;
        unsigned long long i = strtoull(field + 8, &end, 10);
        if (errno || *end != ']')
                return false;
        *ret_index = (size_t) i;
        *ret_member = end[1] == '.' ? end + 2 : NULL;
        return true;
}

static const char *error_member(const cJSON *e, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* What was sent before a failure, and how to go on. */
static void import_stopped(const struct import *im, size_t batch_no) {
        if (batch_no == 1) {
                fprintf(stderr, "%s: stopped at batch 1 of %zu: nothing was counted\n", im->rm->verb, im->batches);
                return;
        }
        fprintf(stderr, "%s: stopped at batch %zu of %zu; the %zu before it (%zu samples) were sent and stay. "
                "Run the same command again (the same FILE and --batch) once the cause is fixed: batches the "
                "orchestrator has counted are recognised by their bytes and not counted twice.\n",
                im->rm->verb, batch_no, im->batches, batch_no - 1, im->sent);
}

static int import_send(struct import *im, size_t first, const struct gc_buf *body, const unsigned *lines, size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        size_t batch_no = first / im->batch + 1;
        long status = 0;
        int ex;

        ex = remote_send(im->rm, "POST", "/v1/metrics", body->data, body->len, &status, &answer);
        if (ex != GCCTL_EXIT_OK) {
                im->exit = ex;
                if (ex == GCCTL_EXIT_USAGE)     /* no server, no certificate: said already */
                        return -EINVAL;
                fprintf(stderr, "%s: batch %zu (lines %u-%u): no answer\n", im->rm->verb, batch_no, lines[0],
                        lines[n - 1]);
                import_stopped(im, batch_no);
                return -EIO;
        }
        if (status < 200 || status >= 300) {
                const cJSON *err = cJSON_GetObjectItemCaseSensitive(answer, "error");
                const char *field = error_member(err, "field"), *member = NULL;
                size_t i;

                if (cJSON_IsObject(err) && sample_field(field, &i, &member) && i < n) {
                        /* the orchestrator's samples[i] is a line of the file */
                        struct gc_error ge = {};
                        char where[96], buf[GC_ERROR_FORMAT_MAX];
                        const char *code = error_member(err, "code");

                        if (member)
                                snprintf(where, sizeof where, "line %u, column %s", lines[i], member);
                        else
                                snprintf(where, sizeof where, "line %u", lines[i]);
                        gc_error_set(&ge, code, error_member(err, "rule"), where, error_member(err, "value"), "%s",
                                     error_member(err, "message") ?: code ?: "refused");
                        _cleanup_free_ char *text = gcctl_printable(gc_error_format(&ge, buf, sizeof buf));
                        _cleanup_free_ char *c = gcctl_printable(code ?: "");
                        if (gcctl_global.json && answer)
                                gcctl_print_json(answer);
                        fprintf(stderr, "%s: %s (HTTP %ld): %s: %s%s%s%s\n", im->rm->verb,
                                status < 500 ? "refused" : "failed", status,
                                strcmp(im->file, "-") == 0 ? "(stdin)" : im->file, text, *c ? " [" : "", c, *c ? "]" : "");
                } else {
                        remote_refusal(im->rm, "POST", "/v1/metrics", status, answer);
                        fprintf(stderr, "%s: batch %zu holds lines %u-%u\n", im->rm->verb, batch_no, lines[0], lines[n - 1]);
                }
                import_stopped(im, batch_no);
                im->exit = GCCTL_EXIT_FAIL;
                return -EBADMSG;
        }

        bool duplicate = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "duplicate"));
        long accepted = int_at(answer, "accepted", 0), ignored = int_at(answer, "ignored", 0);
        im->sent += n;
        im->accepted += (size_t) (accepted > 0 ? accepted : 0);
        im->ignored += (size_t) (ignored > 0 ? ignored : 0);
        im->duplicates += duplicate;
        if (answer)
                cJSON_AddItemToArray(im->answers, cJSON_Duplicate(answer, true));
        if (im->progress) {
                if (duplicate)
                        fprintf(stderr, "%s: batch %zu/%zu: %zu samples (lines %u-%u): counted before, not again\n",
                                im->rm->verb, batch_no, im->batches, n, lines[0], lines[n - 1]);
                else
                        fprintf(stderr, "%s: batch %zu/%zu: %zu samples (lines %u-%u): %ld accepted, %ld ignored\n",
                                im->rm->verb, batch_no, im->batches, n, lines[0], lines[n - 1], accepted, ignored);
        }
        return 0;
}

static const char import_usage[] =
        "Usage: gcctl metrics import FILE [--batch N] [--check] [--progress] [OPTIONS]\n"
        "\n"
        "Load utilization samples from a provider's own monitoring (POST\n"
        "/v1/metrics), so that a month of history counts for the monthly report\n"
        "and its recommendations (R-RS1..R-RS7). FILE ('-' standard input, at\n"
        "most 256 MiB) is CSV (RFC 4180, UTF-8, a byte order mark allowed) whose\n"
        "first line names the columns:\n"
        "  time        RFC 3339 with an offset: 2026-10-01T08:00:00+08:00, ...Z\n"
        "  uuid        the VM's UUID, or\n"
        "  vm          the VM's name, with\n"
        "  pool        its resource pool where the name alone is ambiguous\n"
        "  cpu_pct, memory_pct, disk_pct\n"
        "              percentages from 0 to 100 ('.' for decimals); an empty\n"
        "              cell is no data (a gap, sent as null), never a zero\n"
        "time, uuid or vm, and one metric at least are required; a column of\n"
        "another name is refused. Each line names its VM one way: a uuid, or a\n"
        "vm (and pool).\n"
        "\n"
        "The whole file is checked before anything is sent: a bad line is named\n"
        "(\"line 139, column cpu_pct: \\\"12,5\\\" is not a number\") and nothing goes.\n"
        "Then the samples go in batches of N, in the file's order; a line the\n"
        "orchestrator refuses is named the same way, and the import stops there.\n"
        "Batches sent before stay. Running the same command again is safe: the\n"
        "same FILE and --batch make the same bytes, and the orchestrator counts\n"
        "a batch once, by the digest of its bytes (\"counted before\"). Fix only\n"
        "lines at or after the one named; another --batch makes other batches.\n"
        "\n"
        "Prints the samples, batches, batches counted before and the VMs named.\n"
        "\n"
        "Options:\n"
        "  --batch N    samples a batch, 1 to 50000 (default 5000); an\n"
        "               orchestrator with a small limits.max_body_bytes needs a\n"
        "               smaller one\n"
        "  --check      check the file and say what would be sent; connect to\n"
        "               nothing\n"
        "  --progress   a line on standard error per batch (the default when\n"
        "               standard error is a terminal)\n"
        "  --json       print the summary as JSON\n"
        "  --help       this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example: a month from another monitoring system, memory not measured at 08:05\n"
        "  $ head -3 usage-2026-10.csv\n"
        "  time,vm,cpu_pct,memory_pct,disk_pct\n"
        "  2026-10-01T08:00:00+08:00,包头市大数据局协同办公应用服务器1,12.5,31.0,40\n"
        "  2026-10-01T08:05:00+08:00,包头市大数据局协同办公应用服务器1,11.8,,40\n"
        "  $ gcctl metrics import usage-2026-10.csv --check\n"
        "  $ gcctl metrics import usage-2026-10.csv\n";

static const struct option import_options[] = {
        { "batch", required_argument, NULL, ARG_BATCH },
        { "progress", no_argument, NULL, ARG_PROGRESS },
        { "check", no_argument, NULL, ARG_CHECK },
        {}
};

static void import_summary(const struct import *im, bool check) {
        if (gcctl_global.json) {
                _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
                cJSON_AddStringToObject(doc, "file", im->file);
                cJSON_AddNumberToObject(doc, "samples", (double) im->samples);
                cJSON_AddNumberToObject(doc, "batches", (double) im->batches);
                cJSON_AddNumberToObject(doc, "batch_size", (double) im->batch);
                cJSON_AddNumberToObject(doc, "vms", (double) im->vms.n);
                if (check)
                        cJSON_AddBoolToObject(doc, "checked_only", true);
                else {
                        cJSON_AddNumberToObject(doc, "accepted", (double) im->accepted);
                        cJSON_AddNumberToObject(doc, "ignored", (double) im->ignored);
                        cJSON_AddNumberToObject(doc, "duplicates", (double) im->duplicates);
                        cJSON_AddItemToObject(doc, "answers", cJSON_Duplicate(im->answers, true));
                }
                gcctl_print_json(doc);
                return;
        }
        printf("samples: %zu\n", im->samples);
        printf("batches: %zu of at most %zu samples%s\n", im->batches, im->batch, check ? " (none sent: --check)" : "");
        if (!check) {
                printf("accepted: %zu\n", im->accepted);
                printf("ignored: %zu\n", im->ignored);
                printf("counted before: %zu batch%s\n", im->duplicates, im->duplicates == 1 ? "" : "es");
        }
        printf("vms: %zu\n", im->vms.n);
}

static int run_import(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl metrics import" };
        struct usage_args a = { .verb = rm.verb };
        struct import im = { .rm = &rm, .batch = METRICS_BATCH_DEFAULT };
        struct metrics_csv_error e = {};
        uint64_t batch = METRICS_BATCH_DEFAULT;
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, import_usage, import_options, usage_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "FILE");
        if (ex == GCCTL_EXIT_OK && a.batch)
                ex = remote_parse_uint(&rm, "--batch", a.batch, 1, METRICS_BATCH_MAX, &batch);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        im.file = argv[i];
        im.batch = (size_t) batch;
        im.progress = a.progress || isatty(STDERR_FILENO);

        r = gc_read_file(im.file, METRICS_FILE_MAX, &im.data, &im.len);
        if (r == -EFBIG)
                return remote_fail(&rm, "%s: larger than %u MiB: split it (by VM or by week) and import each part",
                                   im.file, METRICS_FILE_MAX / (1024 * 1024));
        if (r < 0)
                return remote_fail(&rm, "%s: %s", im.file, strerror(-r));

        /* 1. The whole file, before anything is sent. */
        r = import_pass(&im, &e, NULL, true);
        if (r < 0) {
                import_error_print(&rm, im.file, &e);
                ex = GCCTL_EXIT_FAIL;
                goto done;
        }
        if (im.samples == 0) {
                ex = remote_fail(&rm, "%s: no samples after the header", im.file);
                goto done;
        }
        im.batches = (im.samples + im.batch - 1) / im.batch;
        if (a.check) {
                import_summary(&im, true);
                ex = GCCTL_EXIT_OK;
                goto done;
        }

        /* 2. The same pass again, sending. */
        im.answers = cJSON_CreateArray();
        r = import_pass(&im, &e, import_send, false);
        if (r < 0) {
                /* the first pass took the file; only a batch past the cap is new here */
                if (!im.exit)
                        import_error_print(&rm, im.file, &e);
                ex = im.exit ?: GCCTL_EXIT_FAIL;
                goto done;
        }
        import_summary(&im, false);
        ex = fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
done:
        free(im.data);
        name_set_done(&im.vms);
        cJSON_Delete(im.answers);
        return ex;
}

const struct gcctl_verb gcctl_metrics_verbs[] = {
        { "import", "load utilization samples from a CSV file (R-RS7)", import_usage, run_import, NULL },
        {}
};

/* ==== report monthly / run ================================================================ */

/* A number as JSON writes it; "-" for null or missing. */
static char *num_text(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        char buf[JCS_NUMBER_MAX];

        if (!cJSON_IsNumber(v) || jcs_format_number(v->valuedouble, buf) < 0)
                return xstrdup("-");
        return xstrdup(buf);
}

/* "11.2 / 35" of {"avg","peak"}; "no data" for null. */
static char *stat_text(const cJSON *stat) {
        if (!cJSON_IsObject(stat))
                return xstrdup("no data");
        _cleanup_free_ char *avg = num_text(stat, "avg"), *peak = num_text(stat, "peak");
        return xasprintf("%s / %s", avg, peak);
}

/* "8c 16G 40+200G" */
static char *allocation_text(const cJSON *a) {
        _cleanup_free_ char *c = num_text(a, "vcpus"), *m = num_text(a, "memory_gib");
        _cleanup_free_ char *s = num_text(a, "system_disk_gib"), *d = num_text(a, "data_disk_gib");
        return xasprintf("%s vCPU, %s GiB, disks %s+%s GiB", c, m, s, d);
}

/* "vcpus 8→2, memory 16→4 GiB, data disk 200→400 GiB"; "-" when nothing changes. */
static char *recommendation_text(const cJSON *rec) {
        static const struct {
                const char *key, *label, *unit;
        } dims[] = {
                { "vcpus", "vcpus", "" }, { "memory_gib", "memory", " GiB" },
                { "system_disk_gib", "system disk", " GiB" }, { "data_disk_gib", "data disk", " GiB" },
        };
        struct gc_buf b = GC_BUF_INIT(4096);

        for (size_t d = 0; d < ELEMENTSOF(dims); d++) {
                const cJSON *ch = cJSON_GetObjectItemCaseSensitive(rec, dims[d].key);
                if (!cJSON_IsObject(ch))
                        continue;
                _cleanup_free_ char *before = num_text(ch, "before"), *after = num_text(ch, "after");
                _cleanup_free_ char *rule = gcctl_printable(str_at(ch, "rule"));
                (void) gc_buf_printf(&b, "%s%s %s→%s%s (%s)", b.len ? ", " : "", dims[d].label, before, after,
                                     dims[d].unit, rule);
        }
        if (b.len == 0)
                (void) gc_buf_append_str(&b, "-");
        return gc_buf_steal(&b, NULL);
}

static char *disk_text(const cJSON *disk) {
        if (!cJSON_IsObject(disk))
                return xstrdup("no data");
        _cleanup_free_ char *usage = num_text(disk, "usage"), *slope = num_text(disk, "slope");
        bool linear = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(disk, "linear"));
        return xasprintf("%s %s%s/day%s", usage, slope[0] == '-' ? "" : "+", slope, linear ? ", linear" : "");
}

static char *totals_text(const cJSON *t) {
        const cJSON *after = cJSON_GetObjectItemCaseSensitive(t, "after");
        _cleanup_free_ char *vms = num_text(t, "vms"), *c = num_text(t, "vcpus"), *m = num_text(t, "memory_gib");
        _cleanup_free_ char *d = num_text(t, "disk_gib"), *idle = num_text(t, "idle"), *ch = num_text(t, "changes");
        _cleanup_free_ char *ca = num_text(after, "vcpus"), *ma = num_text(after, "memory_gib");
        _cleanup_free_ char *da = num_text(after, "disk_gib");
        return xasprintf("%s VMs, %s vCPU, %s GiB memory, %s GiB disk; %s idle; %s changes: %s vCPU, %s GiB memory, "
                         "%s GiB disk after", vms, c, m, d, idle, ch, ca, ma, da);
}

static void report_print(const cJSON *report) {
        static const char *const headers[] = {
                "VM", "ALLOCATION", "CPU % AVG/PEAK", "MEMORY % AVG/PEAK", "DISK % TREND", "RECOMMENDATION", "IDLE",
        };
        const cJSON *period = cJSON_GetObjectItemCaseSensitive(report, "period"), *s;
        _cleanup_free_ char *unit = gcctl_printable(str_at(report, "unit"));
        _cleanup_free_ char *month = gcctl_printable(str_at(report, "month"));
        _cleanup_free_ char *first = gcctl_printable(str_at(period, "first")), *last = gcctl_printable(str_at(period, "last"));
        _cleanup_free_ char *due = gcctl_printable(str_at(report, "due") ?: "-");

        printf("unit: %s\nmonth: %s (%s to %s)\ndue: %s\n", unit, month, first, last, due);
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(report, "systems")) {
                const cJSON *bands = cJSON_GetObjectItemCaseSensitive(s, "bands"), *vm;
                _cleanup_free_ char *name = gcctl_printable(str_at(s, "name")), *pool = gcctl_printable(str_at(s, "pool") ?: "-");
                _cleanup_free_ char *pack = gcctl_printable(str_at(s, "pack") ?: "-"), *id = num_text(s, "id");
                struct gcctl_table *t = gcctl_table_new(ELEMENTSOF(headers), headers);

                printf("\nsystem %s %s (pool %s, pack %s%s)\n", id, name, pool, pack,
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bands, "regulated")) ? ""
                                                                                          : ": no bands, no recommendations");
                cJSON_ArrayForEach(vm, cJSON_GetObjectItemCaseSensitive(s, "vms")) {
                        char *cells[ELEMENTSOF(headers)] = {
                                gcctl_printable(str_at(vm, "name")),
                                allocation_text(cJSON_GetObjectItemCaseSensitive(vm, "allocation")),
                                stat_text(cJSON_GetObjectItemCaseSensitive(vm, "cpu")),
                                stat_text(cJSON_GetObjectItemCaseSensitive(vm, "memory")),
                                disk_text(cJSON_GetObjectItemCaseSensitive(vm, "disk")),
                                recommendation_text(cJSON_GetObjectItemCaseSensitive(vm, "recommendation")),
                                /* R-RS7 */
                                xstrdup(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(vm, "idle")) ? "IDLE" : "-"),
                        };
                        gcctl_table_add(t, (const char *const *) cells);
                        for (size_t k = 0; k < ELEMENTSOF(cells); k++)
                                free(cells[k]);
                }
                gcctl_table_print(t);
                gcctl_table_free(t);
                _cleanup_free_ char *totals = totals_text(cJSON_GetObjectItemCaseSensitive(s, "totals"));
                printf("total: %s\n", totals);
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(report, "totals");
        _cleanup_free_ char *systems = num_text(t, "systems"), *totals = totals_text(t);
        printf("\nunit total: %s systems, %s\n", systems, totals);
}

static const char monthly_usage[] =
        "Usage: gcctl report monthly --month YYYY-MM [--unit UNIT] [--format F]\n"
        "                            [-o FILE] [OPTIONS]\n"
        "\n"
        "The monthly utilization report of a unit (R-RS7; due by the pack's day\n"
        "of the next month, the 5th in Zhumadian): per business system a row\n"
        "per VM with its allocation, the month's average and peak CPU and\n"
        "memory, disk usage and its trend, the recommendation of R-RS1..R-RS6\n"
        "and whether it is idle (CPU and memory below the pack's thresholds),\n"
        "with totals per system and for the unit. No data is shown as such,\n"
        "never as 0. (GET /v1/reports/monthly.)\n"
        "\n"
        "Formats:\n"
        "  table  a table per system (the default)\n"
        "  json   the report's model, as the orchestrator sends it\n"
        "  csv    a row per VM and a total row per system and for the unit; UTF-8\n"
        "         with a byte order mark, so that Excel reads the Chinese names\n"
        "  html   the printable page: A4 landscape, charts of each VM's usage\n"
        "         against the pack's bands, self-contained (print it to PDF\n"
        "         with a browser)\n"
        "\n"
        "Options:\n"
        "  --month YYYY-MM  the month (required)\n"
        "  --unit UNIT      the unit, by name or ID; a tenant gets its own and\n"
        "                   need not say\n"
        "  --format F       table, json, csv or html\n"
        "  -o, --out FILE   write the json, csv or html to FILE (replaced whole, or\n"
        "                   left as it was) instead of standard output\n"
        "  --json           the same as --format json\n"
        "  --help           this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Examples:\n"
        "  gcctl report monthly --unit 包头市大数据局 --month 2026-10\n"
        "  gcctl report monthly --unit 3 --month 2026-10 --format html -o 2026-10.html\n";

static const struct option monthly_options[] = {
        { "unit", required_argument, NULL, ARG_UNIT },
        { "month", required_argument, NULL, ARG_MONTH },
        { "format", required_argument, NULL, ARG_FORMAT },
        { "out", required_argument, NULL, ARG_OUT },
        {}
};

static int run_monthly(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl report monthly" };
        struct usage_args a = { .verb = rm.verb };
        _cleanup_free_ char *path = NULL, *unit = NULL, *body = NULL;
        _cleanup_(cJSON_Deletep) cJSON *report = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        const char *format;
        size_t len = 0;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, monthly_usage, monthly_options, usage_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK)
                ex = month_required(&rm, a.month);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        format = a.format ?: gcctl_global.json ? "json" : "table";
        if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 &&
            strcmp(format, "html") != 0)
                return gcctl_usage_error(rm.verb, "--format: \"%s\" is not table, json, csv or html", format);
        if (a.out && strcmp(format, "table") == 0)
                return gcctl_usage_error(rm.verb, "--out writes json, csv or html: give --format (a table goes to "
                                         "standard output)");
        if (a.unit) {
                if (!*a.unit)
                        return gcctl_usage_error(rm.verb, "--unit: empty");
                ex = remote_check_text(&rm, "--unit", a.unit);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
                unit = client_escape(a.unit);
        }

        path = xasprintf("/v1/reports/monthly?%s%s%smonth=%s&format=%s", unit ? "unit=" : "", unit ?: "",
                         unit ? "&" : "", a.month, strcmp(format, "table") == 0 ? "json" : format);
        ex = remote_call_raw(&rm, "GET", path, REPORT_BODY_MAX, &body, &len);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (strcmp(format, "table") != 0)
                return write_or_fail(&rm, a.out, body, len);

        if (json_parse(body, len, &report, &err) < 0)
                return remote_fail(&rm, "GET %s: the answer is not strict JSON: %s", path,
                                   gc_error_format(&err, buf, sizeof buf));
        report_print(report);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

static const char run_usage[] =
        "Usage: gcctl report run --month YYYY-MM [OPTIONS]\n"
        "\n"
        "Make one month's reports now, as the orchestrator does on the 1st of\n"
        "each month for the month before (R-RS7): every unit's report written\n"
        "as JSON, CSV and HTML into the orchestrator's reports directory, the\n"
        "recommendations stored and announced to the approval system through\n"
        "the notifiers (rightsize.recommended). Running it again replaces the\n"
        "month's files and recommendations. (POST /v1/reports/monthly.)\n"
        "Prints the units reported and the files written.\n"
        "\n"
        "Options:\n"
        "  --month YYYY-MM  the month (required)\n"
        "  --json           print the orchestrator's answer as JSON\n"
        "  --help           this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl report run --month 2026-10\n";

static const struct option run_options[] = {
        { "month", required_argument, NULL, ARG_MONTH },
        {}
};

static int run_run(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl report run" };
        struct usage_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject(), *answer = NULL;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, run_usage, run_options, usage_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK)
                ex = month_required(&rm, a.month);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        cJSON_AddStringToObject(body, "month", a.month);
        ex = remote_call_json(&rm, "POST", "/v1/reports/monthly", body, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json)
                gcctl_print_json(answer);
        else
                remote_print_fields(answer, NULL);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

const struct gcctl_verb gcctl_report_verbs[] = {
        { "monthly", "a unit's monthly utilization report: table, JSON, CSV, HTML (R-RS7)", monthly_usage, run_monthly, NULL },
        { "run", "make a month's reports and recommendations now (R-RS7)", run_usage, run_run, NULL },
        {}
};

/* ==== recommendations list ================================================================ */

/* {"before","after"}: "8 → 2", "8" where nothing changes. */
static char *render_change(const cJSON *v) {
        const cJSON *after = cJSON_GetObjectItemCaseSensitive(v, "after");
        _cleanup_free_ char *before = num_text(v, "before");

        if (!cJSON_IsObject(v))
                return remote_render(v);
        if (!cJSON_IsNumber(after))
                return TAKE_PTR(before);
        _cleanup_free_ char *a = num_text(v, "after");
        return xasprintf("%s → %s", before, a);
}

/* {"name","before","after"}: "data_disk_gib 200 → 400". */
static char *render_disk_change(const cJSON *v) {
        _cleanup_free_ char *change = render_change(v), *name = gcctl_printable(str_at(v, "name") ?: "");

        if (!*name)
                return TAKE_PTR(change);
        return xasprintf("%s %s", name, change);
}

static char *render_idle(const cJSON *v) {
        return xstrdup(cJSON_IsTrue(v) ? "IDLE" : "-");
}

static const struct remote_column recommendation_columns[] = {
        { "ID", "id", NULL },
        { "PERIOD", "period", NULL },
        { "SYSTEM", "system", NULL },
        { "VM", "vm", NULL },
        { "VCPUS", "vcpus", render_change },
        { "MEMORY GIB", "memory_gib", render_change },
        { "DISK GIB", "disk", render_disk_change },
        { "IDLE", "idle", render_idle },
        { "RULES", "rules", NULL },
};

static const char list_usage[] =
        "Usage: gcctl recommendations list [--system ID] [--period P] [OPTIONS]\n"
        "\n"
        "The rightsizing recommendations (R-RS1..R-RS6) made from each VM's\n"
        "monthly averages, one per VM and period: each dimension's size before\n"
        "and after (\"8 → 2\"; the size alone where nothing changes), whether the\n"
        "VM is idle (R-RS7) and the rules that apply. The period is a month, or\n"
        "\"trial\" for the recommendation at the end of a trial (R-LC2). A tenant\n"
        "sees its own unit's. --json prints each with its figures. (GET\n"
        "/v1/recommendations.)\n"
        "\n"
        "Options:\n"
        "  --system ID   only this business system's\n"
        "  --period P    only this period: YYYY-MM or trial\n"
        "  --json        print the orchestrator's answer as JSON\n"
        "  --help        this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl recommendations list --system 3 --period 2026-10\n";

static const struct option list_options[] = {
        { "system", required_argument, NULL, ARG_SYSTEM },
        { "period", required_argument, NULL, ARG_PERIOD },
        {}
};

static int run_list(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl recommendations list" };
        struct usage_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        struct gc_buf path = GC_BUF_INIT(1024);
        const cJSON *rows;
        uint64_t system = 0;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, list_usage, list_options, usage_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.system)
                ex = remote_parse_uint(&rm, "--system", a.system, 1, INT64_MAX, &system);
        if (ex == GCCTL_EXIT_OK && a.period && strcmp(a.period, "trial") != 0 && !is_month(a.period))
                ex = gcctl_usage_error(rm.verb, "--period: \"%s\" is not YYYY-MM or trial", a.period);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        (void) gc_buf_append_str(&path, "/v1/recommendations");
        if (a.system)
                (void) gc_buf_printf(&path, "?system=%llu", (unsigned long long) system);
        if (a.period)
                (void) gc_buf_printf(&path, "%cperiod=%s", a.system ? '&' : '?', a.period);
        ex = remote_call(&rm, "GET", path.data, NULL, 0, &status, &answer);
        gc_buf_free(&path);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
        }
        ex = remote_member(&rm, answer, "recommendations", cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_table(rows, recommendation_columns, ELEMENTSOF(recommendation_columns));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

const struct gcctl_verb gcctl_recommendations_verbs[] = {
        { "list", "rightsizing recommendations per VM and period (R-RS1..R-RS6)", list_usage, run_list, NULL },
        {}
};
