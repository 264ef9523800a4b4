/* SPDX-License-Identifier: Apache-2.0 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "gc-config.h"
#include "gcctl.h"
#include "log.h"

static const struct gcctl_verb top[] = {
        { "policy", "check and explain policy packs", NULL, NULL, gcctl_policy_verbs },
        { "doc", "canonicalize, hash, sign and verify JSON documents", NULL, NULL, gcctl_doc_verbs },
        { "request", "sign, submit and look up approved requests", NULL, NULL, gcctl_request_verbs },
        { "system", "business systems: register, agreement, admission, state", NULL, NULL, gcctl_system_verbs },
        { "unit", "government units", NULL, NULL, gcctl_unit_verbs },
        { "key", "parties' and approval systems' public keys", NULL, NULL, gcctl_key_verbs },
        { "host", "compute nodes", NULL, NULL, gcctl_host_verbs },
        { "vm", "virtual machines: placement, state, labels", NULL, NULL, gcctl_vm_verbs },
        { "pool", "resource pools", NULL, NULL, gcctl_pool_verbs },
        { "sheet", "tri-party confirmation sheets: show, sign, export, verify", NULL, NULL, gcctl_sheet_verbs },
        { "tunnel", "operations tunnels to a VM: submit, list, show, close, connect", NULL, NULL, gcctl_tunnel_verbs },
        { "metrics", "utilization samples from a provider's monitoring: import (R-RS7)", NULL, NULL, gcctl_metrics_verbs },
        { "report", "the monthly utilization report of a unit (R-RS7)", NULL, NULL, gcctl_report_verbs },
        { "recommendations", "rightsizing recommendations per VM and period (R-RS1..R-RS6)", NULL, NULL,
          gcctl_recommendations_verbs },
        { "audit", "the audit chain: records, checkpoints, export, verify", NULL, NULL, gcctl_audit_verbs },
        { "clock", "the orchestrator's test clock (--unsafe-test-clock only)", NULL, NULL, gcctl_clock_verbs },
        {}
};

int main(int argc, char **argv) {
        setlocale(LC_ALL, "");
        log_set_component("gcctl");
        log_set_max_level(LOG_LEVEL_WARNING);
        log_parse_environment();

        if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
                printf("gcctl %s\n", GC_VERSION);
                return GCCTL_EXIT_OK;
        }
        return gcctl_dispatch(top, "gcctl", argc - 1, argv + 1);
}
