/* SPDX-License-Identifier: Apache-2.0 */
/* gcctl system network | egress | isolate | restore: a system's VPC (R-NW1..3, R-SC2, R-SC3). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "gcctl.h"
#include "json.h"
#include "remote.h"

enum {
        ARG_TO = 0x100,
        ARG_REFERENCE,
        ARG_REASON,
        ARG_NOTE,
};

struct network_args {
        const char *to, *reference, *reason, *note;
};

static int network_handle(int opt, const char *arg, void *userdata) {
        struct network_args *a = userdata;
        switch (opt) {
        case ARG_TO:
                a->to = arg;
                return 0;
        case ARG_REFERENCE:
                a->reference = arg;
                return 0;
        case ARG_REASON:
                a->reason = arg;
                return 0;
        case ARG_NOTE:
                a->note = arg;
                return 0;
        }
        return -1;
}

static const struct option network_options[] = {
        { "to", required_argument, NULL, ARG_TO },
        { "reference", required_argument, NULL, ARG_REFERENCE },
        { "reason", required_argument, NULL, ARG_REASON },
        { "note", required_argument, NULL, ARG_NOTE },
        {}
};

static const struct remote_column host_columns[] = {
        { "HOST", "host", NULL },
        { "STATE", "state", NULL },
        { "UNDERLAY", "underlay", NULL },
        { "EGRESS", "egress", NULL },
        { "UPLINK", "uplink", NULL },
};

static const struct remote_column vm_columns[] = {
        { "NAME", "name", NULL },
        { "HOST", "host", NULL },
        { "ADDRESS", "address", NULL },
        { "MAC", "mac", NULL },
        { "PORTS", "ports", NULL },
        { "STATE", "state", NULL },
};

static int print_network(const struct remote *rm, const cJSON *answer) {
        const cJSON *net;
        int ex = remote_member(rm, answer, "network", cJSON_Object, &net);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                _cleanup_free_ char *text = cJSON_Print(answer);
                printf("%s\n", text);
                return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
        }
        static const char *const skip[] = { "hosts", "vms", NULL };
        remote_print_fields(net, skip);
        const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(net, "hosts");
        const cJSON *vms = cJSON_GetObjectItemCaseSensitive(net, "vms");
        if (cJSON_IsArray(hosts)) {
                printf("\nHosts:\n");
                remote_print_table(hosts, host_columns, ELEMENTSOF(host_columns));
        }
        if (cJSON_IsArray(vms)) {
                printf("\nVMs:\n");
                remote_print_table(vms, vm_columns, ELEMENTSOF(vm_columns));
        }
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* Options, then the one operand ID. < 0: stop with *ret_exit (after
 * --help, or on a usage error). */
static int network_parse(struct remote *rm, int argc, char **argv, const char *usage,
                         const struct option *options, struct network_args *a, uint64_t *id, int *ret_exit) {
        int i = remote_parse_options(rm, argc, argv, usage, options, options ? network_handle : NULL, a, ret_exit);
        if (i < 0)
                return -1;
        *ret_exit = remote_parse_id(rm, argc, argv, i, 1, "ID", id);
        return *ret_exit == GCCTL_EXIT_OK ? 0 : -1;
}

/* METHOD /v1/systems/ID/WHAT with body (may be NULL); the network in the
 * answer printed. */
static int network_send(struct remote *rm, const char *method, uint64_t id, const char *what, cJSON *body) {
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = xasprintf("/v1/systems/%llu/%s", (unsigned long long) id, what);
        long status;
        int ex = body ? remote_call_json(rm, method, path, body, &status, &answer)
                      : remote_call(rm, method, path, NULL, 0, &status, &answer);
        return ex ?: print_network(rm, answer);
}

/* --- network --- */

const char gcctl_network_usage[] =
        "Usage: gcctl system network ID [OPTIONS]\n"
        "\n"
        "Show system ID's VPC (GET /v1/systems/ID/network): its VXLAN id, CIDR and\n"
        "gateway (R-NW1, R-NW2), egress (R-NW3) and isolation (R-SC3), the hosts it\n"
        "spans with their state and uplink addresses, and each VM's address, MAC\n"
        "and the application's ports, as the go-live sheet lists them.\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system network 3\n";

int gcctl_run_network(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system network" };
        uint64_t id;
        int ex;

        if (network_parse(&rm, argc, argv, gcctl_network_usage, NULL, NULL, &id, &ex) < 0)
                return ex;
        return network_send(&rm, "GET", id, "network", NULL);
}

/* --- egress --- */

const char gcctl_egress_usage[] =
        "Usage: gcctl system egress ID --to none|egov|internet --reference REF\n"
        "                          [--note TEXT] [OPTIONS]\n"
        "\n"
        "Open or close system ID's egress (PUT /v1/systems/ID/egress; the\n"
        "provider's role). Egress is closed by default and opens only after filing\n"
        "and review (R-NW3), never before the authority has recorded that the\n"
        "system passed its admission check (R-SC2), and only to a network its\n"
        "approved application asked for. Every host of the VPC then SNATs the\n"
        "system's traffic to that network through an uplink address of its own.\n"
        "\n"
        "Options:\n"
        "  --to KIND          none, egov (the e-government extranet) or internet\n"
        "  --reference REF    the filing and review the opening rests on (required)\n"
        "  --note TEXT        a note for the record\n"
        "  --json             print the orchestrator's answer as JSON\n"
        "  --help             this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system egress 3 --to internet --reference 备案-2026-118\n";

int gcctl_run_egress(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system egress" };
        struct network_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *body = NULL;
        uint64_t id;
        int ex;

        if (network_parse(&rm, argc, argv, gcctl_egress_usage, network_options, &a, &id, &ex) < 0)
                return ex;
        if (!a.to || !a.reference)
                return gcctl_usage_error(rm.verb, "--to and --reference are required");
        if (strcmp(a.to, "none") != 0 && strcmp(a.to, "egov") != 0 && strcmp(a.to, "internet") != 0)
                return gcctl_usage_error(rm.verb, "--to is none, egov or internet, not \"%s\"", a.to);
        ex = remote_check_text(&rm, "--reference", a.reference);
        ex = ex ?: (a.note ? remote_check_text(&rm, "--note", a.note) : GCCTL_EXIT_OK);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "egress", a.to);
        cJSON_AddStringToObject(body, "reference", a.reference);
        if (a.note)
                cJSON_AddStringToObject(body, "note", a.note);
        return network_send(&rm, "PUT", id, "egress", body);
}

/* --- isolate, restore --- */

const char gcctl_isolate_usage[] =
        "Usage: gcctl system isolate ID --reason TEXT [--reference REF] [OPTIONS]\n"
        "\n"
        "Isolate system ID at once (POST /v1/systems/ID/isolate; the provider's or\n"
        "the authority's role), for a serious risk (R-SC3): on every host of its\n"
        "VPC the bridge stops forwarding and the router drops everything, so no\n"
        "traffic passes to, from or between its VMs and egress is cut. The VMs\n"
        "keep running. `gcctl system restore` lifts it.\n"
        "\n"
        "Options:\n"
        "  --reason TEXT      why, for the record (required)\n"
        "  --reference REF    the decision or ticket\n"
        "  --json             print the orchestrator's answer as JSON\n"
        "  --help             this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system isolate 3 --reason '高危漏洞未修复' --reference 通报-2026-07\n";

const char gcctl_restore_usage[] =
        "Usage: gcctl system restore ID --reason TEXT [--reference REF] [OPTIONS]\n"
        "\n"
        "Lift system ID's isolation (POST /v1/systems/ID/restore; the provider's\n"
        "or the authority's role) once the risk is fixed (R-SC3).\n"
        "\n"
        "Options:\n"
        "  --reason TEXT      why, for the record (required)\n"
        "  --reference REF    the decision or ticket\n"
        "  --json             print the orchestrator's answer as JSON\n"
        "  --help             this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system restore 3 --reason '漏洞已修复，复测通过'\n";

static int run_switch(int argc, char **argv, const char *verb, const char *usage, const char *what) {
        _cleanup_(remote_done) struct remote rm = { .verb = verb };
        struct network_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *body = NULL;
        uint64_t id;
        int ex;

        if (network_parse(&rm, argc, argv, usage, network_options, &a, &id, &ex) < 0)
                return ex;
        if (!a.reason)
                return gcctl_usage_error(rm.verb, "--reason is required");
        ex = remote_check_text(&rm, "--reason", a.reason);
        ex = ex ?: (a.reference ? remote_check_text(&rm, "--reference", a.reference) : GCCTL_EXIT_OK);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "reason", a.reason);
        if (a.reference)
                cJSON_AddStringToObject(body, "reference", a.reference);
        return network_send(&rm, "POST", id, what, body);
}

int gcctl_run_isolate(int argc, char **argv) {
        return run_switch(argc, argv, "gcctl system isolate", gcctl_isolate_usage, "isolate");
}

int gcctl_run_restore(int argc, char **argv) {
        return run_switch(argc, argv, "gcctl system restore", gcctl_restore_usage, "restore");
}

