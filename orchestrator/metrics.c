/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "metrics.h"

static const char *const kinds[] = { "apply", "change", "exit", "tunnel" };
static const char *const outcomes[] = { "accepted", "existing", "refused" };

void metrics_request(struct metrics *m, const char *kind, enum metrics_outcome outcome) {
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (kind && strcmp(kind, kinds[i]) == 0) {
                        m->requests[i][outcome]++;
                        return;
                }
        m->requests_unknown_kind++;
}

void metrics_refusal(struct metrics *m, const char *rule) {
        rule = rule ?: "";
        for (size_t i = 0; i < m->n_refusals; i++)
                if (strcmp(m->refusals[i].rule, rule) == 0) {
                        m->refusals[i].count++;
                        return;
                }
        if (m->n_refusals == METRICS_RULES_MAX)
                return;
        snprintf(m->refusals[m->n_refusals].rule, sizeof m->refusals[0].rule, "%s", rule);
        m->refusals[m->n_refusals++].count = 1;
}

void metrics_http(struct metrics *m, int status) {
        int c = status / 100;
        if (c >= 2 && c <= 5)
                m->http[c]++;
}

int metrics_render(const struct metrics *m, struct gc_buf *out) {
        gc_buf_append_str(out, "# HELP gc_http_responses_total HTTP responses by status class.\n"
                               "# TYPE gc_http_responses_total counter\n");
        for (int c = 2; c <= 5; c++)
                gc_buf_printf(out, "gc_http_responses_total{class=\"%dxx\"} %llu\n", c, (unsigned long long) m->http[c]);

        gc_buf_append_str(out, "# HELP gc_requests_total Approved requests by kind and outcome.\n"
                               "# TYPE gc_requests_total counter\n");
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                for (size_t o = 0; o < ELEMENTSOF(outcomes); o++)
                        gc_buf_printf(out, "gc_requests_total{kind=\"%s\",outcome=\"%s\"} %llu\n", kinds[k], outcomes[o],
                                      (unsigned long long) m->requests[k][o]);
        gc_buf_printf(out, "gc_requests_total{kind=\"unknown\",outcome=\"refused\"} %llu\n",
                      (unsigned long long) m->requests_unknown_kind);

        gc_buf_append_str(out, "# HELP gc_refusals_total Refusals by the rule that refused them (none: no rule id).\n"
                               "# TYPE gc_refusals_total counter\n");
        for (size_t i = 0; i < m->n_refusals; i++)
                gc_buf_printf(out, "gc_refusals_total{rule=\"%s\"} %llu\n",
                              m->refusals[i].rule[0] ? m->refusals[i].rule : "none",
                              (unsigned long long) m->refusals[i].count);

        gc_buf_printf(out, "# HELP gc_access_denied_total Calls outside the caller's role (403).\n"
                           "# TYPE gc_access_denied_total counter\n"
                           "gc_access_denied_total %llu\n", (unsigned long long) m->denied);
        gc_buf_printf(out, "# HELP gc_audit_records_total Audit records appended by this process.\n"
                           "# TYPE gc_audit_records_total counter\n"
                           "gc_audit_records_total %llu\n", (unsigned long long) m->audit_records);
        gc_buf_printf(out, "# HELP gc_notify_deliveries_total Notifier deliveries by result.\n"
                           "# TYPE gc_notify_deliveries_total counter\n"
                           "gc_notify_deliveries_total{result=\"delivered\"} %llu\n"
                           "gc_notify_deliveries_total{result=\"failed\"} %llu\n",
                      (unsigned long long) __atomic_load_n(&m->notify_delivered, __ATOMIC_RELAXED),
                      (unsigned long long) __atomic_load_n(&m->notify_failed, __ATOMIC_RELAXED));
        return 0;
}
