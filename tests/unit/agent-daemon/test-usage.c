/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The utilization sampler (agent/usage.h): the figures computed from
 * synthetic stats sequences (CPU from deltas, restarts, domains off, balloon
 * figures, disks, domains with no figure left out), the batch body byte for
 * byte, the spool (written before sending, the same bytes after a restart,
 * removed on 200 and on a refusal, kept on 503 and on no answer, bounded),
 * the timing of usage_tick, and a sampler over the libvirt test driver
 * (GC_HV_URI: a real libvirtd, where CPU figures come).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "buf.h"
#include "hv.h"
#include "json.h"
#include "log.h"
#include "usage.h"

#define UUID_A "6f1c0a0a-0000-4000-8000-00000000000a"
#define UUID_B "6f1c0a0a-0000-4000-8000-00000000000b"
#define UUID_C "6f1c0a0a-0000-4000-8000-00000000000c"
#define S_NS INT64_C(1000000000)
#define GIB (INT64_C(1) << 30)
#define T0 INT64_C(1790813100)          /* 2026-10-01T00:05:00Z */

struct fixture {
        char dir[128];
        char *spool;
};

static int setup(void **state) {
        struct fixture *f = xnew(struct fixture, 1);
        const char *tmp = getenv("TMPDIR");

        snprintf(f->dir, sizeof f->dir, "%s/gc-agent-usage.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(f->dir))
                return -1;
        f->spool = xasprintf("%s/agent.journal.metrics", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        char *cmd = xasprintf("rm -rf '%s'", f->dir);

        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", f->dir);
        free(cmd);
        free(f->spool);
        free(f);
        return 0;
}

static struct usage *sampler(const struct fixture *f, size_t batch_max, size_t spool_max) {
        const struct usage_config c = {
                .interval_seconds = 60, .batch_seconds = 300, .batch_max = batch_max, .spool = f->spool,
                .spool_max = spool_max,
        };
        struct usage *u = NULL;

        assert_int_equal(usage_new(&c, &u), 0);
        return u;
}

/* A running domain with no figure at all, to be filled in. */
static struct hv_stat stat_make(const char *uuid) {
        struct hv_stat s = {
                .state = HV_STATE_RUNNING, .cpu_time_ns = -1, .vcpus = -1, .memory_kib = -1, .memory_unused_kib = -1,
                .memory_available_kib = -1, .disk_allocation_bytes = -1, .disk_capacity_bytes = -1,
        };
        snprintf(s.uuid, sizeof s.uuid, "%s", uuid);
        return s;
}

/* Feed one domain's figures; the sample queued for it, or NULL. */
static struct usage_sample *feed1(struct usage *u, const struct hv_stat *s, int64_t mono_ns, struct usage_sample *out) {
        struct usage_sample *got = NULL;
        size_t n = 99;

        assert_int_equal(usage_feed(u, s, 1, mono_ns, T0 + mono_ns / S_NS, &got, &n), 0);
        assert_true(n <= 1);
        if (n == 1)
                *out = got[0];
        free(got);
        return n == 1 ? out : NULL;
}

static size_t files_in(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* ---------------------------------------------------------------- CPU --- */

/* R-RS1: none on the first sample, then Δcpu / (Δwall × vCPUs), clamped. */
static void test_cpu(void **state) {
        struct usage *u = sampler(*state, 5000, 0);
        struct hv_stat s = stat_make(UUID_A);
        struct usage_sample out, *got;

        s.vcpus = 2;
        s.cpu_time_ns = 100 * S_NS;
        /* No delta yet: no CPU figure, and nothing else: no sample. */
        assert_null(feed1(u, &s, 1000 * S_NS, &out));
        assert_int_equal(usage_queued(u), 0);

        /* 5 s of CPU over 10 s of 2 vCPUs: 25 %. */
        s.cpu_time_ns += 5 * S_NS;
        got = feed1(u, &s, 1010 * S_NS, &out);
        assert_non_null(got);
        assert_string_equal(got->uuid, UUID_A);
        assert_int_equal(got->cpu, 2500);
        assert_int_equal(got->memory, USAGE_GAP);
        assert_int_equal(got->disk, USAGE_GAP);
        assert_int_equal(got->time, T0 + 1010);

        /* A third of it: hundredths, rounded. */
        s.cpu_time_ns += 20 * S_NS / 3;
        got = feed1(u, &s, 1020 * S_NS, &out);
        assert_int_equal(got->cpu, 3333);
        s.cpu_time_ns += 40 * S_NS / 3;
        got = feed1(u, &s, 1030 * S_NS, &out);
        assert_int_equal(got->cpu, 6667);

        /* More than the vCPUs can give (a vCPU unplugged in between): 100. */
        s.cpu_time_ns += 30 * S_NS;
        got = feed1(u, &s, 1040 * S_NS, &out);
        assert_int_equal(got->cpu, 10000);

        /* Idle: a real zero, not a gap. */
        got = feed1(u, &s, 1050 * S_NS, &out);
        assert_non_null(got);
        assert_int_equal(got->cpu, 0);

        /* The wall clock did not move (the same instant twice): no figure. */
        s.cpu_time_ns += S_NS;
        assert_null(feed1(u, &s, 1050 * S_NS, &out));

        /* Uneven intervals: what counts is the monotonic time between two. */
        s.cpu_time_ns += 3 * S_NS;
        got = feed1(u, &s, 1053 * S_NS, &out);
        assert_int_equal(got->cpu, 5000);

        /* No vCPU count: no figure. */
        s.vcpus = -1;
        s.cpu_time_ns += S_NS;
        assert_null(feed1(u, &s, 1060 * S_NS, &out));
        s.vcpus = 1;
        s.cpu_time_ns += 2 * S_NS;
        got = feed1(u, &s, 1064 * S_NS, &out);
        assert_int_equal(got->cpu, 5000);
        assert_int_equal(usage_queued(u), 7);
        usage_free(u);
}

/* The CPU time went backwards: the domain was restarted. No figure for
 * that interval, and the next delta starts from the new count. */
static void test_cpu_restart(void **state) {
        struct usage *u = sampler(*state, 5000, 0);
        struct hv_stat s = stat_make(UUID_A);
        struct usage_sample out, *got;

        s.vcpus = 1;
        s.cpu_time_ns = 500 * S_NS;
        assert_null(feed1(u, &s, 10 * S_NS, &out));
        s.cpu_time_ns += 5 * S_NS;
        assert_int_equal(feed1(u, &s, 20 * S_NS, &out)->cpu, 5000);

        s.cpu_time_ns = 2 * S_NS;               /* restarted */
        assert_null(feed1(u, &s, 30 * S_NS, &out));
        s.cpu_time_ns += 1 * S_NS;              /* from 2 s, not from 505 s */
        got = feed1(u, &s, 40 * S_NS, &out);
        assert_non_null(got);
        assert_int_equal(got->cpu, 1000);
        usage_free(u);
}

/* Off, paused, or without a CPU time: gaps; and the baseline starts again
 * when the domain runs again (the time it was off is no interval). */
static void test_not_running(void **state) {
        struct usage *u = sampler(*state, 5000, 0);
        struct hv_stat s = stat_make(UUID_A), b = stat_make(UUID_B);
        struct usage_sample out, *got;

        s.vcpus = 1;
        s.cpu_time_ns = 10 * S_NS;
        assert_null(feed1(u, &s, 0, &out));

        /* Shut off, as hv-libvirt reports it: no CPU time, no disks. */
        struct hv_stat off = stat_make(UUID_A);
        off.state = HV_STATE_SHUTOFF;
        off.vcpus = 1;
        off.memory_kib = 1048576;
        assert_null(feed1(u, &off, 10 * S_NS, &out));
        /* Running again: its first figure is a first sample. */
        s.cpu_time_ns = 11 * S_NS;
        assert_null(feed1(u, &s, 20 * S_NS, &out));
        s.cpu_time_ns += 5 * S_NS;
        assert_int_equal(feed1(u, &s, 30 * S_NS, &out)->cpu, 5000);

        /* Paused: its CPU time stands still, but it is no 0 %. */
        s.state = HV_STATE_PAUSED;
        assert_null(feed1(u, &s, 40 * S_NS, &out));
        s.state = HV_STATE_RUNNING;
        s.cpu_time_ns += 1 * S_NS;
        assert_null(feed1(u, &s, 50 * S_NS, &out));
        s.cpu_time_ns += 1 * S_NS;
        assert_int_equal(feed1(u, &s, 60 * S_NS, &out)->cpu, 1000);

        /* The hypervisor gives no CPU time for a while. */
        s.cpu_time_ns = -1;
        assert_null(feed1(u, &s, 70 * S_NS, &out));
        s.cpu_time_ns = 30 * S_NS;
        assert_null(feed1(u, &s, 80 * S_NS, &out));

        /* A paused domain's disks still count; its CPU does not. */
        b.state = HV_STATE_PAUSED;
        b.vcpus = 1;
        b.cpu_time_ns = 5 * S_NS;
        b.disk_capacity_bytes = 4 * GIB;
        b.disk_allocation_bytes = 1 * GIB;
        got = feed1(u, &b, 90 * S_NS, &out);
        assert_non_null(got);
        assert_int_equal(got->cpu, USAGE_GAP);
        assert_int_equal(got->disk, 2500);
        usage_free(u);
}

/* ------------------------------------------------------- memory, disk --- */

/* R-RS2: only with both of the guest's balloon figures. */
static void test_memory(void **state) {
        struct usage *u = sampler(*state, 5000, 0);
        struct hv_stat s = stat_make(UUID_A);
        struct usage_sample out, *got;

        s.memory_kib = 2097152;                 /* balloon.current alone: the host's view, no figure */
        assert_null(feed1(u, &s, 0, &out));
        s.memory_available_kib = 2000000;
        assert_null(feed1(u, &s, S_NS, &out));  /* available without unused */
        s.memory_available_kib = -1;
        s.memory_unused_kib = 500000;
        assert_null(feed1(u, &s, 2 * S_NS, &out));      /* unused without available */

        s.memory_available_kib = 2000000;
        got = feed1(u, &s, 3 * S_NS, &out);
        assert_non_null(got);
        assert_int_equal(got->memory, 7500);
        assert_int_equal(got->cpu, USAGE_GAP);
        assert_int_equal(got->disk, USAGE_GAP);

        s.memory_unused_kib = 2000000;          /* all of it unused: a real zero */
        assert_int_equal(feed1(u, &s, 4 * S_NS, &out)->memory, 0);
        s.memory_unused_kib = 0;
        assert_int_equal(feed1(u, &s, 5 * S_NS, &out)->memory, 10000);
        s.memory_unused_kib = 2100000;          /* more unused than available (figures of two moments) */
        assert_int_equal(feed1(u, &s, 6 * S_NS, &out)->memory, 0);
        s.memory_available_kib = 0;
        assert_null(feed1(u, &s, 7 * S_NS, &out));
        usage_free(u);
}

/* R-RS5: allocation over capacity; a capacity of 0 or none is no figure. */
static void test_disk(void **state) {
        struct usage *u = sampler(*state, 5000, 0);
        struct hv_stat s = stat_make(UUID_A);
        struct usage_sample out, *got;

        s.disk_capacity_bytes = 4 * GIB;
        s.disk_allocation_bytes = 1 * GIB + 1 * GIB / 100;
        got = feed1(u, &s, 0, &out);
        assert_non_null(got);
        assert_int_equal(got->disk, 2525);
        assert_int_equal(got->cpu, USAGE_GAP);
        assert_int_equal(got->memory, USAGE_GAP);

        s.disk_allocation_bytes = 0;            /* nothing written yet: 0 %, a figure */
        assert_int_equal(feed1(u, &s, S_NS, &out)->disk, 0);
        s.disk_allocation_bytes = 5 * GIB;      /* qcow2 metadata beyond the capacity */
        assert_int_equal(feed1(u, &s, 2 * S_NS, &out)->disk, 10000);
        s.disk_allocation_bytes = -1;
        assert_null(feed1(u, &s, 3 * S_NS, &out));
        s.disk_allocation_bytes = GIB;
        s.disk_capacity_bytes = 0;
        assert_null(feed1(u, &s, 4 * S_NS, &out));
        s.disk_capacity_bytes = -1;
        assert_null(feed1(u, &s, 5 * S_NS, &out));
        usage_free(u);
}

/* Several domains in one call: those with no figure are left out; the
 * baselines follow the domains of the last call. */
static void test_left_out(void **state) {
        struct usage *u = sampler(*state, 5000, 0);
        struct hv_stat s[3] = { stat_make(UUID_A), stat_make(UUID_B), stat_make(UUID_C) };
        struct usage_sample *got = NULL;
        size_t n = 0;

        s[0].vcpus = 1;
        s[0].cpu_time_ns = 1 * S_NS;
        s[1].state = HV_STATE_SHUTOFF;          /* off: nothing */
        s[2].vcpus = 4;
        s[2].cpu_time_ns = 1 * S_NS;
        s[2].disk_capacity_bytes = 10 * GIB;
        s[2].disk_allocation_bytes = 1 * GIB;
        assert_int_equal(usage_feed(u, s, 3, 0, T0, &got, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(got[0].uuid, UUID_C);
        assert_int_equal(got[0].cpu, USAGE_GAP);
        assert_int_equal(got[0].disk, 1000);
        free(got);

        s[0].cpu_time_ns += 1 * S_NS;
        s[2].cpu_time_ns += 8 * S_NS;
        assert_int_equal(usage_feed(u, s, 3, 10 * S_NS, T0 + 10, &got, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(got[0].uuid, UUID_A);
        assert_int_equal(got[0].cpu, 1000);
        assert_string_equal(got[1].uuid, UUID_C);
        assert_int_equal(got[1].cpu, 2000);
        free(got);

        /* A call without A: A's baseline goes; when it comes back it starts again. */
        assert_int_equal(usage_feed(u, &s[2], 1, 20 * S_NS, T0 + 20, &got, &n), 0);
        free(got);
        s[0].cpu_time_ns += 1 * S_NS;
        assert_int_equal(usage_feed(u, s, 1, 30 * S_NS, T0 + 30, &got, &n), 0);
        assert_int_equal(n, 0);
        free(got);
        assert_int_equal(usage_queued(u), 4);

        /* No domain at all. */
        assert_int_equal(usage_feed(u, NULL, 0, 40 * S_NS, T0 + 40, &got, &n), 0);
        assert_int_equal(n, 0);
        free(got);
        usage_free(u);
}

/* ----------------------------------------------------------------- body --- */

/* The body, byte for byte: two decimals at most, null for a gap, UTC times. */
static void test_body(void **state) {
        const struct usage_sample s[] = {
                { UUID_A, T0, 1250, USAGE_GAP, 4025 },
                { UUID_B, T0 + 59, 0, 10000, 5 },
                { UUID_C, T0 + 86400 * 92 + 3600 * 23 + 59 * 60 + 1, USAGE_GAP, 710, 3333 },
        };
        char *body = NULL, time[21];
        size_t len = 0;

        assert_int_equal(usage_body(s, 3, USAGE_BATCH_BYTES, &body, &len), 0);
        assert_string_equal(body,
                "{\"samples\":["
                "{\"uuid\":\"" UUID_A "\",\"time\":\"2026-10-01T00:05:00Z\",\"cpu_pct\":12.5,\"memory_pct\":null,\"disk_pct\":40.25},"
                "{\"uuid\":\"" UUID_B "\",\"time\":\"2026-10-01T00:05:59Z\",\"cpu_pct\":0,\"memory_pct\":100,\"disk_pct\":0.05},"
                "{\"uuid\":\"" UUID_C "\",\"time\":\"2027-01-02T00:04:01Z\",\"cpu_pct\":null,\"memory_pct\":7.1,\"disk_pct\":33.33}"
                "]}");
        assert_int_equal(len, strlen(body));
        free(body);

        /* Valid JSON, in the orchestrator's shape. */
        assert_int_equal(usage_body(s, 1, USAGE_BATCH_BYTES, &body, &len), 0);
        cJSON *doc = NULL;
        assert_int_equal(json_parse(body, len, &doc, NULL), 0);
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "samples"), 0);
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(first, "memory_pct")));
        assert_true(cJSON_GetObjectItemCaseSensitive(first, "cpu_pct")->valuedouble == 12.5);
        cJSON_Delete(doc);
        free(body);

        assert_int_equal(usage_body(s, 0, USAGE_BATCH_BYTES, &body, &len), 0);
        assert_string_equal(body, "{\"samples\":[]}");
        free(body);
        /* A body is bounded. */
        assert_int_equal(usage_body(s, 3, 200, &body, &len), -ENOBUFS);

        usage_time_format(0, time);
        assert_string_equal(time, "1970-01-01T00:00:00Z");
}

/* ---------------------------------------------------------------- spool --- */

static char *read_text(const char *path) {
        char *text = NULL;
        size_t len;
        assert_int_equal(gc_read_file(path, 1 << 20, &text, &len), 0);
        return text;
}

/* Sealed batches are in the spool before they are sent; answers decide. */
static void test_spool_send(void **state) {
        struct fixture *f = *state;
        struct usage *u = sampler(f, 5000, 0);
        struct hv_stat s[2] = { stat_make(UUID_A), stat_make(UUID_B) };
        const struct usage_batch *b;
        char *body = NULL, *path;
        cJSON *answer;

        assert_int_equal(usage_pending(u), 0);
        assert_null(usage_next(u, 0));
        s[0].disk_capacity_bytes = s[1].disk_capacity_bytes = 100;
        s[0].disk_allocation_bytes = 50;
        s[1].disk_allocation_bytes = 25;
        assert_int_equal(usage_feed(u, s, 2, 0, T0, NULL, NULL), 0);
        s[0].disk_allocation_bytes = 51;
        assert_int_equal(usage_feed(u, s, 1, S_NS, T0 + 60, NULL, NULL), 0);
        assert_int_equal(usage_queued(u), 3);
        assert_int_equal(files_in(f->spool), 0);

        /* Sealed: its file holds exactly the body. */
        assert_int_equal(usage_seal(u), 0);
        assert_int_equal(usage_queued(u), 0);
        assert_int_equal(usage_pending(u), 1);
        path = xasprintf("%s/%020d.json", f->spool, 1);
        body = read_text(path);
        assert_string_equal(body,
                "{\"samples\":["
                "{\"uuid\":\"" UUID_A "\",\"time\":\"2026-10-01T00:05:00Z\",\"cpu_pct\":null,\"memory_pct\":null,\"disk_pct\":50},"
                "{\"uuid\":\"" UUID_B "\",\"time\":\"2026-10-01T00:05:00Z\",\"cpu_pct\":null,\"memory_pct\":null,\"disk_pct\":25},"
                "{\"uuid\":\"" UUID_A "\",\"time\":\"2026-10-01T00:06:00Z\",\"cpu_pct\":null,\"memory_pct\":null,\"disk_pct\":51}"
                "]}");
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);

        /* Handed out as those bytes, with its counts. */
        b = usage_next(u, 0);
        assert_non_null(b);
        assert_string_equal(b->body, body);
        assert_int_equal(b->len, strlen(body));
        assert_int_equal(b->samples, 3);
        assert_int_equal(b->vms, 2);
        assert_ptr_equal(usage_next(u, 0), b);   /* the same until answered */

        /* 503: kept; nothing before the backoff; then the same bytes. */
        answer = cJSON_Parse("{\"error\": {\"code\": \"unavailable\", \"message\": \"the store is busy\"}}");
        assert_int_equal(usage_answered(u, 503, answer, 100), 0);
        cJSON_Delete(answer);
        assert_int_equal(usage_pending(u), 1);
        assert_int_equal(files_in(f->spool), 1);
        assert_null(usage_next(u, 100.5));
        assert_true(usage_deadline(u, 100.5) <= 101);
        b = usage_next(u, 101);
        assert_non_null(b);
        assert_string_equal(b->body, body);
        /* No answer at all: kept, and the backoff doubles. */
        usage_unanswered(u, 200);
        assert_null(usage_next(u, 201.5));
        b = usage_next(u, 202);
        assert_non_null(b);
        assert_string_equal(b->body, body);

        /* 200: gone from the spool. */
        answer = cJSON_Parse("{\"accepted\": 3, \"ignored\": 0, \"duplicate\": false}");
        assert_int_equal(usage_answered(u, 200, answer, 300), 1);
        cJSON_Delete(answer);
        assert_int_equal(usage_pending(u), 0);
        assert_int_equal(files_in(f->spool), 0);
        assert_int_equal(access(path, F_OK), -1);
        assert_null(usage_next(u, 300));
        free(path);
        free(body);

        /* 422: refused for good, dropped (sending it again cannot help);
         * the next batch follows at once. */
        assert_int_equal(usage_feed(u, s, 1, 2 * S_NS, T0 + 120, NULL, NULL), 0);
        assert_int_equal(usage_seal(u), 0);
        assert_int_equal(usage_feed(u, s, 2, 3 * S_NS, T0 + 180, NULL, NULL), 0);
        assert_int_equal(usage_seal(u), 0);
        assert_int_equal(usage_pending(u), 2);
        b = usage_next(u, 300);
        assert_int_equal(b->seq, 2);
        assert_int_equal(b->samples, 1);
        answer = cJSON_Parse("{\"error\": {\"code\": \"invalid_sample\", \"field\": \"samples[0].time\", "
                             "\"value\": \"2026-10-01T00:07:00Z\", \"message\": \"lies in the future\"}}");
        assert_int_equal(usage_answered(u, 422, answer, 300), 1);
        cJSON_Delete(answer);
        assert_int_equal(usage_pending(u), 1);
        b = usage_next(u, 300);
        assert_non_null(b);
        assert_int_equal(b->seq, 3);
        assert_int_equal(b->samples, 2);
        /* 400 and 413 are refusals as well. */
        assert_int_equal(usage_answered(u, 400, NULL, 300), 1);
        assert_int_equal(usage_pending(u), 0);
        assert_int_equal(files_in(f->spool), 0);
        usage_free(u);
}

/* A restart finds the spooled batches, oldest first, and sends their very
 * bytes; new batches come after them. Leftovers of a cut write go. */
static void test_spool_restart(void **state) {
        struct fixture *f = *state;
        struct usage *u = sampler(f, 5000, 0);
        struct hv_stat s = stat_make(UUID_A);
        char *first, *second, *path, *tmp, *foreign;
        const struct usage_batch *b;

        s.disk_capacity_bytes = 3;
        s.disk_allocation_bytes = 1;
        assert_int_equal(usage_feed(u, &s, 1, 0, T0, NULL, NULL), 0);
        assert_int_equal(usage_seal(u), 0);
        s.disk_allocation_bytes = 2;
        assert_int_equal(usage_feed(u, &s, 1, S_NS, T0 + 60, NULL, NULL), 0);
        assert_int_equal(usage_seal(u), 0);
        b = usage_next(u, 0);
        first = xstrdup(b->body);
        usage_unanswered(u, 0);
        path = xasprintf("%s/%020d.json", f->spool, 2);
        second = read_text(path);
        free(path);
        usage_free(u);          /* a crash, as far as the spool can tell */

        tmp = xasprintf("%s/%020d.json.tmp", f->spool, 3);
        assert_int_equal(gc_write_file(tmp, "{\"samp", 6, 0600), 0);
        foreign = xasprintf("%s/notes.txt", f->spool);
        assert_int_equal(gc_write_file(foreign, "x", 1, 0600), 0);

        u = sampler(f, 5000, 0);
        assert_int_equal(access(tmp, F_OK), -1);
        assert_int_equal(access(foreign, F_OK), 0);
        assert_int_equal(usage_pending(u), 2);
        b = usage_next(u, 0);
        assert_non_null(b);
        assert_int_equal(b->seq, 1);
        assert_string_equal(b->body, first);
        assert_string_equal(strstr(b->body, "\"disk_pct\":"), "\"disk_pct\":33.33}]}");
        assert_int_equal(usage_answered(u, 200, NULL, 0), 1);

        s.disk_allocation_bytes = 3;
        assert_int_equal(usage_feed(u, &s, 1, 2 * S_NS, T0 + 120, NULL, NULL), 0);
        assert_int_equal(usage_seal(u), 0);
        b = usage_next(u, 0);
        assert_int_equal(b->seq, 2);
        assert_string_equal(b->body, second);
        assert_int_equal(usage_answered(u, 200, NULL, 0), 1);
        b = usage_next(u, 0);
        assert_int_equal(b->seq, 3);
        assert_non_null(strstr(b->body, "\"disk_pct\":100}"));
        assert_int_equal(usage_answered(u, 200, NULL, 0), 1);
        assert_int_equal(files_in(f->spool), 1);       /* notes.txt */

        /* A spooled file that is no batch is dropped when its turn comes. */
        path = xasprintf("%s/%020d.json", f->spool, 7);
        assert_int_equal(gc_write_file(path, "not json", 8, 0600), 0);
        usage_free(u);
        u = sampler(f, 5000, 0);
        assert_int_equal(usage_pending(u), 1);
        assert_int_equal(usage_feed(u, &s, 1, 3 * S_NS, T0 + 180, NULL, NULL), 0);
        assert_int_equal(usage_seal(u), 0);
        b = usage_next(u, 0);
        assert_non_null(b);
        assert_int_equal(b->seq, 8);
        assert_int_equal(access(path, F_OK), -1);
        usage_free(u);

        free(path);
        free(first);
        free(second);
        free(tmp);
        unlink(foreign);
        free(foreign);
}

/* The spool keeps spool_max batches: the oldest go, newest stay. */
static void test_spool_bound(void **state) {
        struct fixture *f = *state;
        struct usage *u = sampler(f, 5000, 3);
        struct hv_stat s = stat_make(UUID_A);
        const struct usage_batch *b;

        s.disk_capacity_bytes = 100;
        for (int i = 1; i <= 5; i++) {
                s.disk_allocation_bytes = i;
                assert_int_equal(usage_feed(u, &s, 1, i * S_NS, T0 + i, NULL, NULL), 0);
                assert_int_equal(usage_seal(u), 0);
        }
        assert_int_equal(usage_pending(u), 3);
        assert_int_equal(files_in(f->spool), 3);
        b = usage_next(u, 0);
        assert_int_equal(b->seq, 3);
        assert_non_null(strstr(b->body, "\"disk_pct\":3}"));
        usage_free(u);

        /* A smaller bound at the next start drops the oldest as well. */
        u = sampler(f, 5000, 1);
        assert_int_equal(usage_pending(u), 1);
        assert_int_equal(files_in(f->spool), 1);
        b = usage_next(u, 0);
        assert_int_equal(b->seq, 5);
        usage_free(u);
}

/* batch_max: the queue is sealed as soon as it holds that many, in batches
 * of at most that many. */
static void test_batch_max(void **state) {
        struct fixture *f = *state;
        struct usage *u = sampler(f, 2, 0);
        struct hv_stat s[5];
        const char *uuids[5] = { UUID_A, UUID_B, UUID_C, "6f1c0a0a-0000-4000-8000-00000000000d",
                                 "6f1c0a0a-0000-4000-8000-00000000000e" };
        const struct usage_batch *b;

        for (int i = 0; i < 5; i++) {
                s[i] = stat_make(uuids[i]);
                s[i].disk_capacity_bytes = 10;
                s[i].disk_allocation_bytes = i;
        }
        assert_int_equal(usage_feed(u, s, 1, 0, T0, NULL, NULL), 0);
        assert_int_equal(usage_pending(u), 0);
        assert_int_equal(usage_feed(u, s, 5, S_NS, T0 + 1, NULL, NULL), 0);
        assert_int_equal(usage_queued(u), 0);
        assert_int_equal(usage_pending(u), 3);
        size_t want[3][2] = { { 2, 1 }, { 2, 2 }, { 2, 2 } };   /* samples, VMs */
        for (int i = 0; i < 3; i++) {
                b = usage_next(u, 0);
                assert_non_null(b);
                assert_int_equal(b->samples, want[i][0]);
                assert_int_equal(b->vms, want[i][1]);
                assert_int_equal(usage_answered(u, 200, NULL, 0), 1);
        }
        assert_null(usage_next(u, 0));
        usage_free(u);
}

/* ---------------------------------------------------------------- tick --- */

static struct hv_stat fake_stat;
static unsigned fake_calls;
static int fake_fail;

static int fake_stats(struct hv *hv, struct hv_stat **ret, size_t *ret_n) {
        fake_calls++;
        if (fake_fail)
                return fake_fail;
        fake_stat.cpu_time_ns += S_NS / 2;
        *ret = xmemdup(&fake_stat, sizeof fake_stat);
        *ret_n = 1;
        return 0;
}

/* One stats call per interval, the queue sealed every batch_seconds; a
 * failed call is a gap. */
static void test_tick(void **state) {
        struct fixture *f = *state;
        const struct hv_ops ops = { .name = "fake", .stats = fake_stats };
        const struct usage_config c = { .interval_seconds = 10, .batch_seconds = 30, .batch_max = 5000, .spool = f->spool };
        struct usage *u = NULL;

        fake_stat = stat_make(UUID_A);
        fake_stat.vcpus = 1;
        fake_stat.cpu_time_ns = 0;
        fake_calls = 0;
        fake_fail = 0;
        assert_int_equal(usage_new(&c, &u), 0);
        assert_true(usage_deadline(u, 1000) <= 1000);
        assert_int_equal(usage_tick(u, &ops, NULL, 1000, T0), 0);
        assert_int_equal(fake_calls, 1);
        assert_int_equal(usage_queued(u), 0);           /* the first: no delta */
        assert_true(usage_deadline(u, 1000) == 1010);
        assert_int_equal(usage_tick(u, &ops, NULL, 1005, T0 + 5), 0);
        assert_int_equal(fake_calls, 1);
        assert_int_equal(usage_tick(u, &ops, NULL, 1010, T0 + 10), 0);
        assert_int_equal(fake_calls, 2);
        assert_int_equal(usage_queued(u), 1);
        /* A late turn keeps the cadence when it can, and never runs twice for one. */
        assert_int_equal(usage_tick(u, &ops, NULL, 1021, T0 + 21), 0);
        assert_int_equal(fake_calls, 3);
        assert_true(usage_deadline(u, 1021) == 1030);
        assert_int_equal(usage_tick(u, &ops, NULL, 1055, T0 + 55), 0);
        assert_int_equal(fake_calls, 4);
        /* batch_seconds after the first turn: sealed. */
        assert_int_equal(usage_pending(u), 1);
        assert_int_equal(usage_queued(u), 0);
        assert_true(usage_deadline(u, 1055) <= 1055);   /* a batch to send */
        const struct usage_batch *b = usage_next(u, 1055);
        assert_int_equal(b->samples, 3);
        assert_int_equal(usage_answered(u, 200, NULL, 1055), 1);
        assert_true(usage_deadline(u, 1055) == 1065);   /* the next sample */

        /* The hypervisor fails: no sample, no error; the next delta spans it. */
        fake_fail = -EIO;
        assert_int_equal(usage_tick(u, &ops, NULL, 1065, T0 + 65), 0);
        assert_int_equal(fake_calls, 5);
        assert_int_equal(usage_queued(u), 0);
        fake_fail = 0;
        assert_int_equal(usage_tick(u, &ops, NULL, 1075, T0 + 75), 0);
        assert_int_equal(usage_queued(u), 1);
        usage_free(u);
}

/* ------------------------------------------------------------- libvirt --- */

/* A sampler over the libvirt backend. The test driver gives the state and
 * no figure (MACHINE-NOTES.md): its running domain is sampled, and left out,
 * a gap and not a zero. With GC_HV_URI (a real libvirtd with qemu, pool
 * GC_HV_POOL), a running domain's CPU figure comes on the second sample. */
static void test_libvirt(void **state) {
        struct fixture *f = *state;
        const char *uri = getenv("GC_HV_URI"), *pool = getenv("GC_HV_POOL");
        const char *uuid = "6f1c0a0a-0000-4000-8000-0000000000f1";
        const struct hv_ops *ops = &hv_libvirt_ops;
        const struct usage_config c = { .interval_seconds = 1, .batch_seconds = 1, .batch_max = 5000, .spool = f->spool };
        struct hv_spec spec = {
                .title = xstrdup("市xx局协同办公OA应用服务器1"),
                .labels = { .unit = xstrdup("市xx局"), .system = xstrdup("协同办公OA"), .role = xstrdup("应用服务器"),
                            .number = 1, .request = 7, .pool = xstrdup("包头-A") },
                .arch = "x86_64", .vcpus = 1, .max_vcpus = 2, .memory_mib = 128, .max_memory_mib = 256,
                .disks = { { .name = "system", .gib = 1 } }, .n_disks = 1,
        };
        struct hv_stat *stats = NULL;
        struct hv *hv = NULL;
        struct usage *u = NULL;
        size_t n = 0;
        bool real;

        if (!uri || !*uri)
                uri = "test:///default";
        if (!pool || !*pool)
                pool = "default-pool";
        real = strncmp(uri, "test:", 5) != 0;
        snprintf(spec.uuid, sizeof spec.uuid, "%s", uuid);
        assert_int_equal(ops->open(uri, pool, &hv), 0);
        (void) ops->shutdown(hv, uuid, true);
        (void) ops->undefine(hv, uuid);
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->start(hv, uuid), 0);

        assert_int_equal(ops->stats(hv, &stats, &n), 0);
        const struct hv_stat *mine = NULL;
        for (size_t i = 0; i < n; i++)
                if (strcmp(stats[i].uuid, uuid) == 0)
                        mine = &stats[i];
        assert_non_null(mine);
        assert_int_equal(mine->state, HV_STATE_RUNNING);

        assert_int_equal(usage_new(&c, &u), 0);
        assert_int_equal(usage_tick(u, ops, hv, 0, T0), 0);
        usleep(1100 * 1000);
        assert_int_equal(usage_tick(u, ops, hv, 1.1, T0 + 1), 0);
        if (!real) {
                /* The running domain gives no figure: no sample, no batch. */
                assert_int_equal(mine->cpu_time_ns, -1);
                assert_int_equal(usage_queued(u), 0);
                assert_int_equal(usage_pending(u), 0);
                assert_null(usage_next(u, 2));
        } else {
                /* Two samples: the first without a CPU figure (no delta),
                 * the second with one; the disk in both. */
                const struct usage_batch *b;
                cJSON *doc = NULL;
                assert_int_equal(usage_pending(u), 1);
                b = usage_next(u, 2);
                assert_non_null(b);
                assert_int_equal(b->samples, 2);
                assert_int_equal(json_parse(b->body, b->len, &doc, NULL), 0);
                const cJSON *samples = cJSON_GetObjectItemCaseSensitive(doc, "samples");
                const cJSON *s0 = cJSON_GetArrayItem(samples, 0), *s1 = cJSON_GetArrayItem(samples, 1);
                assert_string_equal(str_at(s0, "uuid"), uuid);
                assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s0, "cpu_pct")));
                const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(s1, "cpu_pct");
                assert_true(cJSON_IsNumber(cpu) && cpu->valuedouble >= 0 && cpu->valuedouble <= 100);
                assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s1, "disk_pct")));
                assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s1, "memory_pct")));
                cJSON_Delete(doc);
        }
        usage_free(u);
        free(stats);

        assert_int_equal(ops->shutdown(hv, uuid, true), 0);
        assert_int_equal(ops->undefine(hv, uuid), 0);
        ops->close(hv);
        hv_spec_done(&spec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_cpu, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cpu_restart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_disk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_left_out, setup, teardown),
                cmocka_unit_test(test_body),
                cmocka_unit_test_setup_teardown(test_spool_send, setup, teardown),
                cmocka_unit_test_setup_teardown(test_spool_restart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_spool_bound, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch_max, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tick, setup, teardown),
                cmocka_unit_test_setup_teardown(test_libvirt, setup, teardown),
        };

        log_parse_environment();
        if (log_get_max_level() < LOG_LEVEL_DEBUG)
                log_set_max_level(LOG_LEVEL_ERROR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
