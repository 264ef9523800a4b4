/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's local journal: a file of JSON lines, each appended with one
 * write() and (for started and done) an fsync:
 *
 *   {"job": 12, "state": "started", "kind": "vm.ensure", "uuid": "6f1c..."}
 *   {"job": 12, "state": "done", "kind": "vm.ensure", "uuid": "6f1c...", "result": {...}}
 *   {"job": 12, "state": "posted"}      the orchestrator has accepted the result
 *
 * "result" is the entry posted to /v1/agent/results, kept verbatim. A crash
 * can leave the last line cut short: a line without its newline is ignored.
 *
 * On open the file is read back and compacted (a new file, fsync, rename):
 * the last `keep` done jobs stay, with their posted marks. A job done here
 * is never run again: its stored result answers a second delivery. Jobs
 * started but not done are forgotten; the orchestrator sends them again
 * after hello and they run again (jobs are idempotent). Done results not
 * marked posted are posted again (journal_unposted()).
 *
 * One process uses a journal at a time (an flock on PATH.lock: -EBUSY).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#define JOURNAL_KEEP_DEFAULT 1000
#define JOURNAL_LINE_MAX (1024 * 1024)

struct journal;

int journal_open(const char *path, size_t keep, struct journal **ret);
void journal_close(struct journal *j);
static inline void journal_closep(struct journal **j) {
        journal_close(*j);
}

/* Append and fsync. kind and uuid may be NULL. */
int journal_started(struct journal *j, int64_t job, const char *kind, const char *uuid);
int journal_done(struct journal *j, int64_t job, const char *kind, const char *uuid, const cJSON *result);
/* Append (no fsync: a lost mark only means one more post); marked in memory
 * even when the append fails. -ENOENT if not done. */
int journal_posted(struct journal *j, int64_t job);

/* The stored result of a done job (a copy), or -ENOENT. */
int journal_lookup(const struct journal *j, int64_t job, cJSON **ret_result);
/* Whether a job was started and is not done. */
bool journal_in_progress(const struct journal *j, int64_t job);
/* Whether the newest done job naming uuid created or converged it (a
 * vm.ensure that succeeded), rather than deleted it. */
bool journal_created(const struct journal *j, const char *uuid);

/* Done results not marked posted, oldest first, at most max: copies in
 * *ret_results (a JSON array) and their job ids in *ret_jobs. */
int journal_unposted(const struct journal *j, size_t max, cJSON **ret_results, int64_t **ret_jobs, size_t *ret_n);

/* Counts, for logs and tests. */
size_t journal_n_done(const struct journal *j);
size_t journal_n_lines(const struct journal *j);
/* Rewrite the file with what is kept (done at open, and when the file has
 * grown well beyond keep). */
int journal_compact(struct journal *j);
