/* SPDX-License-Identifier: Apache-2.0 */
/* gcctl audit list */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "alloc.h"
#include "cleanup.h"
#include "gcctl.h"
#include "remote.h"

#define AUDIT_LIMIT_MAX 1000

enum {
        ARG_AFTER = 0x100,
        ARG_LIMIT,
};

struct audit_args {
        const char *after;
        const char *limit;
};

static int audit_handle(int opt, const char *arg, void *userdata) {
        struct audit_args *a = userdata;

        switch (opt) {
        case ARG_AFTER:
                a->after = arg;
                return 0;
        case ARG_LIMIT:
                a->limit = arg;
                return 0;
        }
        return -EINVAL;
}

static const char list_usage[] =
        "Usage: gcctl audit list [--after SEQ] [--limit N] [OPTIONS]\n"
        "\n"
        "List audit records in order (GET /v1/audit; the authority's and the\n"
        "provider's roles): who did what to which object on which approval, the\n"
        "outcome and the rule of a refusal. The table leaves out each record's\n"
        "detail and its hash chain (hash, prev): --json has them.\n"
        "\n"
        "Options:\n"
        "  --after SEQ  start after this sequence number (default 0: the first)\n"
        "  --limit N    at most N records, 1 to 1000 (default: the server's, 100)\n"
        "  --json       print the orchestrator's answer as JSON\n"
        "  --help       this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl audit list --after 200 --limit 50\n";

static const struct option list_options[] = {
        { "after", required_argument, NULL, ARG_AFTER },
        { "limit", required_argument, NULL, ARG_LIMIT },
        {}
};

static const struct remote_column audit_columns[] = {
        { "SEQ", "seq", NULL },
        { "TIME", "time", NULL },
        { "ACTOR", "actor", NULL },
        { "ROLE", "role", NULL },
        { "ACTION", "action", NULL },
        { "OBJECT", "object", NULL },
        { "APPROVAL", "approval", NULL },
        { "OUTCOME", "outcome", NULL },
        { "RULE", "rule", NULL },
};

static int run_list(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl audit list" };
        struct audit_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t after = 0, limit = 0;
        const cJSON *rows;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, list_usage, list_options, audit_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.after)
                ex = remote_parse_uint(&rm, "--after", a.after, 0, INT64_MAX, &after);
        if (ex == GCCTL_EXIT_OK && a.limit)
                ex = remote_parse_uint(&rm, "--limit", a.limit, 1, AUDIT_LIMIT_MAX, &limit);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        path = xasprintf("/v1/audit?after=%llu", (unsigned long long) after);
        if (a.limit) {
                char *p = xasprintf("%s&limit=%llu", path, (unsigned long long) limit);
                free(path);
                path = p;
        }
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, "records", cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_table(rows, audit_columns, ELEMENTSOF(audit_columns));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

const struct gcctl_verb gcctl_audit_verbs[] = {
        { "list", "audit records in order", list_usage, run_list, NULL },
        {}
};
