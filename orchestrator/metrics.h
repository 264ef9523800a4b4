/* SPDX-License-Identifier: Apache-2.0 */
/* Counters for /metrics (Prometheus text format 0.0.4). Single-threaded:
 * only the event loop touches them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_RULES_MAX 64

struct metrics {
        uint64_t http[6];                       /* by status class: [2] 2xx .. [5] 5xx */
        uint64_t requests[4][3];                /* [kind apply/change/exit/tunnel][outcome accepted/existing/refused] */
        uint64_t requests_unknown_kind;         /* refused before the kind was known */
        uint64_t denied;                        /* 403 outside the caller's role */
        struct {
                char rule[16];                  /* "" for refusals without a rule */
                uint64_t count;
        } refusals[METRICS_RULES_MAX];
        size_t n_refusals;
        uint64_t audit_records;
        uint64_t notify_delivered, notify_failed;       /* updated from the notifier thread: atomics */
};

enum metrics_outcome {
        METRICS_ACCEPTED,
        METRICS_EXISTING,
        METRICS_REFUSED,
};

/* kind: "apply" / "change" / "exit" / NULL (unknown). */
void metrics_request(struct metrics *m, const char *kind, enum metrics_outcome outcome);
void metrics_refusal(struct metrics *m, const char *rule);
void metrics_http(struct metrics *m, int status);
int metrics_render(const struct metrics *m, struct gc_buf *out);
