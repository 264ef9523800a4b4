/* SPDX-License-Identifier: Apache-2.0 */
/* gcctl vm list */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "gcctl.h"
#include "remote.h"

enum {
        ARG_SYSTEM = 0x100,
        ARG_HOST,
};

struct vm_args {
        const char *system;
        const char *host;
};

static int vm_handle(int opt, const char *arg, void *userdata) {
        struct vm_args *a = userdata;

        switch (opt) {
        case ARG_SYSTEM:
                a->system = arg;
                return 0;
        case ARG_HOST:
                a->host = arg;
                return 0;
        }
        return -EINVAL;
}

static const char list_usage[] =
        "Usage: gcctl vm list [--system ID] [--host NAME] [OPTIONS]\n"
        "\n"
        "List VMs with the host they are placed on, their state and whether the\n"
        "labels on the host match the record (GET /v1/vms); a tenant sees its own\n"
        "unit's. STATE is planned, running, stopped, failed, releasing or\n"
        "deleted. LABELS is \"in sync\", \"DRIFTED\" when the host's labels differ\n"
        "from the record, '-' while unknown. HOST is '-' until the VM is placed.\n"
        "\n"
        "Options:\n"
        "  --system ID  only this business system's VMs (asked of the server)\n"
        "  --host NAME  only the VMs on this compute node (filtered here; with\n"
        "               --json too)\n"
        "  --json       print the orchestrator's answer as JSON\n"
        "  --help       this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl vm list --system 3 --host cn-node-01\n";

static const struct option list_options[] = {
        { "system", required_argument, NULL, ARG_SYSTEM },
        { "host", required_argument, NULL, ARG_HOST },
        {}
};

/* labels_state: in_sync, drifted or unknown. */
static char *render_labels(const cJSON *v) {
        if (cJSON_IsString(v)) {
                if (strcmp(v->valuestring, "in_sync") == 0)
                        return xstrdup("in sync");
                if (strcmp(v->valuestring, "drifted") == 0)
                        return xstrdup("DRIFTED");
                if (strcmp(v->valuestring, "unknown") == 0)
                        return xstrdup("-");
        }
        return remote_render(v);
}

static const struct remote_column vm_columns[] = {
        { "NAME", "name", NULL },
        { "SYSTEM", "system", NULL },
        { "HOST", "host", NULL },
        { "STATE", "state", NULL },
        { "VCPUS", "vcpus", NULL },
        { "MEMORY", "memory_gib", remote_render_gib },
        { "SYSTEM DISK", "system_disk", remote_render_disk },
        { "DATA DISK", "data_disk", remote_render_disk },
        { "LABELS", "labels_state", render_labels },
};

/* Drop the rows of the array rows whose "host" is not host. */
static void keep_host(cJSON *rows, const char *host) {
        cJSON *row = rows->child;

        while (row) {
                cJSON *next = row->next;
                const cJSON *h = cJSON_GetObjectItemCaseSensitive(row, "host");

                if (!cJSON_IsString(h) || strcmp(h->valuestring, host) != 0)
                        cJSON_Delete(cJSON_DetachItemViaPointer(rows, row));
                row = next;
        }
}

static int run_list(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl vm list" };
        struct vm_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = NULL;
        const cJSON *rows;
        uint64_t system = 0;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, list_usage, list_options, vm_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.system)
                ex = remote_parse_uint(&rm, "--system", a.system, 1, INT64_MAX, &system);
        if (ex == GCCTL_EXIT_OK && a.host)
                ex = remote_check_text(&rm, "--host", a.host);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        if (a.system)
                path = xasprintf("/v1/vms?system=%llu", (unsigned long long) system);
        else
                path = xstrdup("/v1/vms");
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json && !a.host) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, "vms", cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (a.host)
                keep_host(cJSON_GetObjectItemCaseSensitive(answer, "vms"), a.host);
        if (gcctl_global.json)
                gcctl_print_json(answer);
        else
                remote_print_table(rows, vm_columns, ELEMENTSOF(vm_columns));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

const struct gcctl_verb gcctl_vm_verbs[] = {
        { "list", "VMs: host, state, size, labels in sync", list_usage, run_list, NULL },
        {}
};
