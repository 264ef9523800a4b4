/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The utilization sampler: the figures the orchestrator's rightsizing, idle
 * list, monthly reports and trial recommendations are made of (R-RS1..R-RS7,
 * R-LC2; orchestrator/usage.h).
 *
 * Every interval_seconds one bulk stats call (hv.h: one virDomainListGetStats
 * over govcloud's domains), and per domain one sample:
 *   cpu_pct     Δcpu.time / (Δwall × vCPUs) × 100, clamped to [0, 100], Δwall
 *               on CLOCK_MONOTONIC; null on the domain's first sample, when it
 *               is not running, when the hypervisor gives no CPU time, and
 *               when the CPU time went backwards (the domain was restarted):
 *               the baseline starts again there
 *   memory_pct  (balloon.available − balloon.unused) / balloon.available × 100:
 *               both come from the guest's balloon driver; null without them
 *   disk_pct    allocation / capacity × 100 over the domain's disks, clamped
 *               to [0, 100]; null without a capacity > 0 or an allocation
 *   time        when the figures were taken, on the orchestrator's clock (the
 *               offset from the hello's "time", as the tunnels' times):
 *               "YYYY-MM-DDTHH:MM:SSZ"
 * A gap is a gap, not a zero: null. A domain whose three figures are all
 * null is left out.
 *
 * Samples are queued. Every batch_seconds, or as soon as batch_max are
 * queued, the queue is sealed into a batch (more than one when it holds more
 * than batch_max samples or USAGE_BATCH_BYTES bytes), whose body is exactly
 *
 *   {"samples":[{"uuid":"…","time":"2026-10-01T00:05:00Z","cpu_pct":12.5,
 *                "memory_pct":null,"disk_pct":40.25},…]}
 *
 * (numbers with at most two decimals) for POST /v1/metrics.
 *
 * The spool: each batch is written as its own file SPOOL/SEQ.json (a
 * temporary file, fsync, rename) when it is sealed, before it is sent, and
 * removed when the orchestrator answers 200 or refuses it for good (400,
 * 409, 413, 422: logged with the field and value named; sending it again
 * could not help). Any other answer, or none, keeps it; it goes again after
 * a backoff (CLIENT_BACKOFF_INITIAL_S doubling to CLIENT_BACKOFF_MAX_S). The
 * orchestrator counts a batch once by the SHA-256 of its bytes, so a batch is
 * only ever sent as the bytes in its file, never serialized again. At start
 * the spooled batches go first, oldest first. The spool holds at most
 * spool_max batches and USAGE_SPOOL_BYTES bytes: beyond that the oldest are
 * dropped with a warning, so that a long outage cannot fill the disk.
 *
 * For the agent's main thread only; nothing here talks to the network: the
 * caller sends what usage_next() hands out and reports the answer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "hv.h"

#define USAGE_SPOOL_MAX 288                     /* batches: a day of 5-minute batches */
#define USAGE_SPOOL_BYTES (256u * 1024 * 1024)
/* Below the orchestrator's default request body limit (4 MiB). */
#define USAGE_BATCH_BYTES (3u * 1024 * 1024)
#define USAGE_GAP (-1)

struct usage_config {
        unsigned interval_seconds;              /* >= 1 */
        unsigned batch_seconds;                 /* >= 1 */
        size_t batch_max;                       /* >= 1 */
        const char *spool;                      /* a directory, made (0700) if missing */
        size_t spool_max;                       /* batches; 0: USAGE_SPOOL_MAX */
};

/* One VM's sample: hundredths of a percent (0..10000), USAGE_GAP for null. */
struct usage_sample {
        char uuid[HV_UUID_LEN + 1];
        int64_t time;                           /* Unix seconds, on the orchestrator's clock */
        int32_t cpu, memory, disk;
};

/* A sealed batch, as usage_next() hands it out. */
struct usage_batch {
        uint64_t seq;                           /* its file: SPOOL/SEQ.json */
        char *body;                             /* the bytes to send, NUL-terminated */
        size_t len;
        size_t samples, vms;
};

struct usage;

/* Reads the spool's batches (they are sent first). */
int usage_new(const struct usage_config *cfg, struct usage **ret);
void usage_free(struct usage *u);
static inline void usage_freep(struct usage **u) {
        usage_free(*u);
}

/*
 * The samples of one stats call, taken at mono_ns (CLOCK_MONOTONIC) and wall
 * (Unix seconds on the orchestrator's clock), queued; the baselines for the
 * next call are the domains of this one. When ret is not NULL, the samples
 * queued are also copied there (an array of *ret_n, to be freed). Seals the
 * queue when it holds batch_max samples.
 */
int usage_feed(struct usage *u, const struct hv_stat *stats, size_t n, int64_t mono_ns, int64_t wall,
               struct usage_sample **ret, size_t *ret_n);

/*
 * The main loop's turn, at now (the agent's monotonic seconds) and wall (as
 * above): one stats call through ops when interval_seconds have passed since
 * the last, and the queue sealed when batch_seconds have. A stats call that
 * fails is a gap (logged); only a spool that cannot be written fails here.
 */
int usage_tick(struct usage *u, const struct hv_ops *ops, struct hv *hv, double now, int64_t wall);

/* Seal what is queued now (at a stop: the next start sends it). */
int usage_seal(struct usage *u);

/* When usage_tick() or a send has something to do next (monotonic seconds). */
double usage_deadline(const struct usage *u, double now);

/*
 * The oldest batch to send now, read from its file: NULL when there is none,
 * or while a backoff waits. Stays valid until usage_answered() or
 * usage_unanswered(). A file that cannot be read or is not a batch is
 * dropped (logged) and the next one is taken.
 */
const struct usage_batch *usage_next(struct usage *u, double now);
/*
 * The orchestrator's answer to it: 200 {"accepted", "ignored", "duplicate"}
 * (logged at info level) and 400, 409, 413, 422 {"error": {"code", "field",
 * "value", "message"}} (logged as an error) remove it from the spool (1);
 * anything else keeps it for a retry after the backoff (0).
 */
int usage_answered(struct usage *u, long status, const cJSON *answer, double now);
/* No answer came: kept, sent again after the backoff. */
void usage_unanswered(struct usage *u, double now);

size_t usage_queued(const struct usage *u);
/* Sealed batches not yet taken by the orchestrator. */
size_t usage_pending(const struct usage *u);

/* The body of a batch of these samples (the format above); exactly the bytes
 * sent. At most max bytes: -ENOBUFS beyond. */
int usage_body(const struct usage_sample *s, size_t n, size_t max, char **ret, size_t *ret_len);
/* "YYYY-MM-DDTHH:MM:SSZ" */
void usage_time_format(int64_t t, char buf[static 21]);
