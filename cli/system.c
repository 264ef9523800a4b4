/* SPDX-License-Identifier: Apache-2.0 */
/* gcctl system list | show | register | agreement | admission | extend-trial
 * (network, egress, isolate, restore: network.c; exit, exit-statement,
 * reclaim-order, reclaim: exit.c) */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "calendar.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/error.h"
#include "gcctl.h"
#include "json.h"
#include "remote.h"

/* A scanned, signed agreement is a PDF of some MiB; this is far above. */
#define AGREEMENT_DOCUMENT_MAX (256u * 1024 * 1024)
/* Admission records are a few references and dates. */
#define ADMISSION_FILE_MAX (1024u * 1024)
#define SIGNATORIES_MAX 8

enum {
        ARG_UNIT = 0x100,
        ARG_NAME,
        ARG_MLPS,
        ARG_AVAILABILITY,
        ARG_CLASSIFIED,
        ARG_REFERENCE,
        ARG_SIGNED_ON,
        ARG_SIGNATORY,
        ARG_DOCUMENT,
        ARG_LENGTH,
        ARG_APPROVAL,
};

struct system_args {
        const struct remote *rm;
        const char *unit;
        const char *name;
        const char *mlps;
        const char *availability;
        bool classified;
        const char *reference;
        const char *signed_on;
        const char *signatories[SIGNATORIES_MAX];
        size_t n_signatories;
        const char *document;
        const char *length;
        const char *approval;
};

static int system_handle(int opt, const char *arg, void *userdata) {
        struct system_args *a = userdata;

        switch (opt) {
        case ARG_UNIT:
                a->unit = arg;
                return 0;
        case ARG_NAME:
                a->name = arg;
                return 0;
        case ARG_MLPS:
                a->mlps = arg;
                return 0;
        case ARG_AVAILABILITY:
                a->availability = arg;
                return 0;
        case ARG_CLASSIFIED:
                a->classified = true;
                return 0;
        case ARG_REFERENCE:
                a->reference = arg;
                return 0;
        case ARG_SIGNED_ON:
                a->signed_on = arg;
                return 0;
        case ARG_SIGNATORY:
                if (a->n_signatories >= SIGNATORIES_MAX) {
                        gcctl_usage_error(a->rm->verb, "--signatory: at most %d", SIGNATORIES_MAX);
                        return -E2BIG;
                }
                a->signatories[a->n_signatories++] = arg;
                return 0;
        case ARG_DOCUMENT:
                a->document = arg;
                return 0;
        case ARG_LENGTH:
                a->length = arg;
                return 0;
        case ARG_APPROVAL:
                a->approval = arg;
                return 0;
        }
        return -EINVAL;
}

/* Print the {"system": {...}} of an answer. */
static int print_system(const struct remote *rm, const cJSON *answer) {
        static const char *const skip[] = { "vms", "transitions", "exit", NULL };
        const cJSON *system;
        int ex;

        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(rm, answer, "system", cJSON_Object, &system);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_fields(system, skip);
        return GCCTL_EXIT_OK;
}

/* --- list --- */

static const char list_usage[] =
        "Usage: gcctl system list [--unit UNIT] [OPTIONS]\n"
        "\n"
        "List business systems with their lifecycle state (GET /v1/systems); a\n"
        "tenant sees its own unit's. AGREEMENT is the security responsibility\n"
        "agreement's reference (R-SC1), ADMISSION the admission check's result\n"
        "(R-SC2), '-' where none is recorded.\n"
        "\n"
        "Options:\n"
        "  --unit UNIT  only this unit's systems (its full name)\n"
        "  --json       print the orchestrator's answer as JSON\n"
        "  --help       this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system list --unit 市xx局\n";

static const struct option list_options[] = {
        { "unit", required_argument, NULL, ARG_UNIT },
        {}
};

static const struct remote_column system_columns[] = {
        { "ID", "id", NULL },
        { "UNIT", "unit", NULL },
        { "NAME", "name", NULL },
        { "MLPS", "mlps_level", NULL },
        { "AVAILABILITY", "availability", NULL },
        { "CLASSIFIED", "classified", NULL },
        { "STATE", "state", NULL },
        { "POOL", "pool", NULL },
        { "AGREEMENT", "agreement.reference", NULL },
        { "ADMISSION", "admission.result", NULL },
        { "VMS", "vm_count", NULL },
};

static int run_list(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system list" };
        struct system_args a = { .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = NULL;
        const cJSON *rows;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, list_usage, list_options, system_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.unit)
                ex = remote_check_text(&rm, "--unit", a.unit);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        if (a.unit) {
                _cleanup_free_ char *unit = client_escape(a.unit);
                path = xasprintf("/v1/systems?unit=%s", unit);
        } else
                path = xstrdup("/v1/systems");
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, "systems", cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_table(rows, system_columns, ELEMENTSOF(system_columns));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- show --- */

static const char show_usage[] =
        "Usage: gcctl system show ID [OPTIONS]\n"
        "\n"
        "Show one business system (GET /v1/systems/ID): its registration,\n"
        "agreement, admission and state, then its VMs and its lifecycle\n"
        "transitions with who made them on which request.\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system show 3\n";

static const struct remote_column vm_columns[] = {
        { "NAME", "name", NULL },
        { "ROLE", "role", NULL },
        { "NUMBER", "number", NULL },
        { "ARCH", "arch", NULL },
        { "VCPUS", "vcpus", NULL },
        { "MEMORY", "memory_gib", remote_render_gib },
        { "SYSTEM DISK", "system_disk", remote_render_disk },
        { "DATA DISK", "data_disk", remote_render_disk },
        { "OS", "os", NULL },
        { "NETWORK", "network", NULL },
        { "PORTS", "ports", NULL },
        { "STATE", "state", NULL },
};

static const struct remote_column transition_columns[] = {
        { "TIME", "time", NULL },
        { "FROM", "from", NULL },
        { "TO", "to", NULL },
        { "ACTOR", "actor", NULL },
        { "REQUEST", "request", NULL },
};

static int run_show(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system show" };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = NULL;
        const cJSON *system, *vms, *transitions;
        uint64_t id;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, show_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        path = xasprintf("/v1/systems/%llu", (unsigned long long) id);
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        ex = print_system(&rm, answer);
        if (ex != GCCTL_EXIT_OK || gcctl_global.json)
                return ex;

        system = cJSON_GetObjectItemCaseSensitive(answer, "system");
        vms = cJSON_GetObjectItemCaseSensitive(system, "vms");
        transitions = cJSON_GetObjectItemCaseSensitive(system, "transitions");
        if (cJSON_IsArray(vms)) {
                printf("\nVMs:\n");
                remote_print_table(vms, vm_columns, ELEMENTSOF(vm_columns));
        }
        if (cJSON_IsArray(transitions)) {
                printf("\nTransitions:\n");
                remote_print_table(transitions, transition_columns, ELEMENTSOF(transition_columns));
        }
        if (cJSON_IsObject(json_get(system, "exit"))) {
                printf("\n");
                gcctl_print_exit(json_get(system, "exit"));
        }
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- register --- */

static const char register_usage[] =
        "Usage: gcctl system register --unit UNIT --name NAME --mlps LEVEL\n"
        "                             --availability PERCENT [--classified] [OPTIONS]\n"
        "\n"
        "Register a business system of a registered unit before its application\n"
        "arrives (POST /v1/systems; the authority's role). Classified systems are\n"
        "refused (R-RQ1): --classified records that one is, so that its refusal\n"
        "is on record.\n"
        "\n"
        "Options:\n"
        "  --unit UNIT              the unit's full name (R-NM1) (required)\n"
        "  --name NAME              the system's name as in its feasibility report\n"
        "                           (R-NM1) (required)\n"
        "  --mlps LEVEL             等级保护级别, 0 (未定级) to 3 (required)\n"
        "  --availability PERCENT   99%, 99.9%, 99.99% or 99.999% (required)\n"
        "  --classified             the system is classified (涉密)\n"
        "  --json                   print the orchestrator's answer as JSON\n"
        "  --help                   this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system register --unit 市xx局 --name 协同办公OA --mlps 2 \\\n"
        "      --availability 99.9%\n";

static const struct option register_options[] = {
        { "unit", required_argument, NULL, ARG_UNIT },
        { "name", required_argument, NULL, ARG_NAME },
        { "mlps", required_argument, NULL, ARG_MLPS },
        { "availability", required_argument, NULL, ARG_AVAILABILITY },
        { "classified", no_argument, NULL, ARG_CLASSIFIED },
        {}
};

static int run_register(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system register" };
        struct system_args a = { .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        uint64_t mlps = 0;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, register_usage, register_options, system_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.unit || !a.name || !a.mlps || !a.availability)
                return gcctl_usage_error(rm.verb, "--unit, --name, --mlps and --availability are required");
        ex = remote_check_text(&rm, "--unit", a.unit);
        ex = ex ?: remote_check_text(&rm, "--name", a.name);
        ex = ex ?: remote_check_text(&rm, "--availability", a.availability);
        ex = ex ?: remote_parse_uint(&rm, "--mlps", a.mlps, 0, 3, &mlps);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "unit", a.unit);
        cJSON_AddStringToObject(body, "name", a.name);
        cJSON_AddNumberToObject(body, "mlps_level", (double) mlps);
        cJSON_AddStringToObject(body, "availability", a.availability);
        cJSON_AddBoolToObject(body, "classified", a.classified);

        ex = remote_call_json(&rm, "POST", "/v1/systems", body, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        ex = print_system(&rm, answer);
        return ex ?: (fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL);
}

/* --- agreement --- */

static const char agreement_usage[] =
        "Usage: gcctl system agreement ID --reference REF --signed-on YYYY-MM-DD\n"
        "                             --signatory NAME --signatory NAME...\n"
        "                             --document FILE [OPTIONS]\n"
        "\n"
        "Record the signed security responsibility agreement of system ID (R-SC1)\n"
        "(PUT /v1/systems/ID/agreement; the authority's role). The document itself\n"
        "is not sent: its SHA-256, computed here from FILE's bytes, is recorded so\n"
        "that the copy each party keeps can be checked against it\n"
        "(sha256sum FILE).\n"
        "\n"
        "Options:\n"
        "  --reference REF         the agreement's reference number (required)\n"
        "  --signed-on YYYY-MM-DD  the day it was signed (required)\n"
        "  --signatory NAME        a party that signed it, by name; at least two,\n"
        "                          at most 8 (required)\n"
        "  --document FILE         the signed agreement, e.g. its scanned PDF\n"
        "                          (required)\n"
        "  --json                  print the orchestrator's answer as JSON\n"
        "  --help                  this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system agreement 3 --reference 安全责任书-2025-017 \\\n"
        "      --signed-on 2025-03-01 --signatory 市xx局 --signatory 政务云服务商 \\\n"
        "      --document agreement-017.pdf\n";

static const struct option agreement_options[] = {
        { "reference", required_argument, NULL, ARG_REFERENCE },
        { "signed-on", required_argument, NULL, ARG_SIGNED_ON },
        { "signatory", required_argument, NULL, ARG_SIGNATORY },
        { "document", required_argument, NULL, ARG_DOCUMENT },
        {}
};

static int file_sha256(const struct remote *rm, const char *path, char **ret_hex) {
        _cleanup_free_ char *data = NULL;
        uint8_t md[GC_HASH_MAX];
        size_t len = 0;
        int r;

        r = gc_read_file(path, AGREEMENT_DOCUMENT_MAX, &data, &len);
        if (r == -EFBIG)
                return remote_fail(rm, "%s: larger than %u MiB", path, AGREEMENT_DOCUMENT_MAX / (1024 * 1024));
        if (r < 0)
                return remote_fail(rm, "%s: %s", path, strerror(-r));
        r = crypto_digest(GC_HASH_SHA256, data, len, md);
        if (r < 0)
                return remote_fail(rm, "%s: SHA-256 failed: %s", path, strerror(-r));
        *ret_hex = crypto_hex(md, sizeof md);
        return GCCTL_EXIT_OK;
}

static int run_agreement(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system agreement" };
        struct system_args a = { .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        _cleanup_free_ char *path = NULL, *sha = NULL;
        cJSON *signatories;
        int64_t day;
        uint64_t id;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, agreement_usage, agreement_options, system_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.reference || !a.signed_on || !a.document)
                return gcctl_usage_error(rm.verb, "--reference, --signed-on and --document are required");
        if (a.n_signatories < 2)       /* R-SC1: the unit and the provider sign it */
                return gcctl_usage_error(rm.verb, "--signatory: at least two parties sign the agreement, got %zu",
                                         a.n_signatories);
        if (calendar_parse_date(a.signed_on, &day) < 0)
                return gcctl_usage_error(rm.verb, "--signed-on: \"%s\" is not a date YYYY-MM-DD", a.signed_on);
        ex = remote_check_text(&rm, "--reference", a.reference);
        for (size_t k = 0; k < a.n_signatories; k++)
                ex = ex ?: remote_check_text(&rm, "--signatory", a.signatories[k]);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = file_sha256(&rm, a.document, &sha);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "reference", a.reference);
        cJSON_AddStringToObject(body, "signed_on", a.signed_on);
        signatories = cJSON_AddArrayToObject(body, "signatories");
        for (size_t k = 0; k < a.n_signatories; k++)
                cJSON_AddItemToArray(signatories, cJSON_CreateString(a.signatories[k]));
        cJSON_AddStringToObject(body, "document_sha256", sha);

        path = xasprintf("/v1/systems/%llu/agreement", (unsigned long long) id);
        ex = remote_call_json(&rm, "PUT", path, body, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        ex = print_system(&rm, answer);
        return ex ?: (fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL);
}

/* --- admission --- */

static const char admission_usage[] =
        "Usage: gcctl system admission ID FILE [OPTIONS]\n"
        "\n"
        "Record the admission documents of system ID and the authority's check of\n"
        "them (R-SC2) (PUT /v1/systems/ID/admission; the authority's role). FILE\n"
        "('-' for standard input) is a JSON object, sent as the body:\n"
        "\n"
        "  {\"mlps_certificate\": {\"number\": \"...\", \"date\": \"YYYY-MM-DD\"},\n"
        "   \"crypto_application_plan\": {\"reference\": \"...\", \"date\": \"YYYY-MM-DD\"},\n"
        "   \"security_test_reports\": [{\"reference\": \"...\", \"date\": \"YYYY-MM-DD\"}],\n"
        "   \"result\": \"passed\" | \"failed\", \"note\": \"...\"}\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system admission 3 admission-oa.json\n";

static int run_admission(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system admission" };
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t id;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, admission_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 2, "ID and FILE", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = remote_load_json(&rm, argv[i + 1], ADMISSION_FILE_MAX, NULL, NULL, &body);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!cJSON_IsObject(body))
                return remote_fail(&rm, "%s: not a JSON object", argv[i + 1]);

        path = xasprintf("/v1/systems/%llu/admission", (unsigned long long) id);
        ex = remote_call_json(&rm, "PUT", path, body, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        ex = print_system(&rm, answer);
        return ex ?: (fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL);
}

/* --- extend-trial --- */

static const char extend_trial_usage[] =
        "Usage: gcctl system extend-trial ID --length N --approval REF [OPTIONS]\n"
        "\n"
        "Extend the trial of system ID with the authority's consent (R-LC2)\n"
        "(POST /v1/systems/ID/trial-extension; the authority's role). N is in the\n"
        "trial unit of the system's policy pack, days or months; the pack limits\n"
        "how long a trial may become, and a system that is not in its trial\n"
        "cannot be extended: both are refused with the rule named. Prints the\n"
        "trial's new end and the extension granted in total.\n"
        "\n"
        "Options:\n"
        "  --length N      how much longer, in the pack's trial unit, 1 to 366\n"
        "                  (required)\n"
        "  --approval REF  the reference of the authority's consent, e.g. its\n"
        "                  document number (required)\n"
        "  --json          print the orchestrator's answer as JSON\n"
        "  --help          this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system extend-trial 3 --length 15 --approval 数管函〔2026〕12号\n";

static const struct option extend_trial_options[] = {
        { "length", required_argument, NULL, ARG_LENGTH },
        { "approval", required_argument, NULL, ARG_APPROVAL },
        {}
};

static int run_extend_trial(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system extend-trial" };
        struct system_args a = { .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t id, length;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, extend_trial_usage, extend_trial_options, system_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.length || !a.approval)
                return gcctl_usage_error(rm.verb, "--length and --approval are required");
        ex = remote_parse_uint(&rm, "--length", a.length, 1, 366, &length);
        ex = ex ?: remote_check_text(&rm, "--approval", a.approval);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!*a.approval)
                return gcctl_usage_error(rm.verb, "--approval: empty; the authority's consent has a reference (R-LC2)");

        body = cJSON_CreateObject();
        cJSON_AddNumberToObject(body, "length", (double) length);
        cJSON_AddStringToObject(body, "approval", a.approval);
        path = xasprintf("/v1/systems/%llu/trial-extension", (unsigned long long) id);
        ex = remote_call_json(&rm, "POST", path, body, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        _cleanup_free_ char *end = remote_render(json_get(answer, "trial_end"));
        _cleanup_free_ char *total = remote_render(json_get(answer, "extended"));
        printf("system %llu: the trial now ends %s (extended by %s in all)\n", (unsigned long long) id, end, total);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

const struct gcctl_verb gcctl_system_verbs[] = {
        { "list", "business systems and their lifecycle state", list_usage, run_list, NULL },
        { "show", "one system: registration, agreement, admission, VMs, transitions", show_usage, run_show, NULL },
        { "register", "register a business system of a unit", register_usage, run_register, NULL },
        { "agreement", "record the signed security responsibility agreement (R-SC1)", agreement_usage,
          run_agreement, NULL },
        { "admission", "record the admission documents and check (R-SC2)", admission_usage, run_admission, NULL },
        { "network", "the system's VPC: addresses, hosts, egress, isolation (R-NW1..3)", gcctl_network_usage,
          gcctl_run_network, NULL },
        { "egress", "open or close the VPC's egress after review (R-NW3, R-SC2)", gcctl_egress_usage, gcctl_run_egress, NULL },
        { "isolate", "isolate the system at once; its VMs keep running (R-SC3)", gcctl_isolate_usage, gcctl_run_isolate, NULL },
        { "restore", "lift the isolation (R-SC3)", gcctl_restore_usage, gcctl_run_restore, NULL },
        { "extend-trial", "extend the trial with the authority's consent (R-LC2)", extend_trial_usage,
          run_extend_trial, NULL },
        { "exit", "the exit: statement, order, reclaim step, wipe progress (R-EX1..R-EX3)", gcctl_exit_usage, gcctl_run_exit, NULL },
        { "exit-statement", "the tenant signs that its data is migrated and backed up (R-EX2)", gcctl_statement_usage,
          gcctl_run_statement, NULL },
        { "reclaim-order", "the authority orders the reclaim on an R-EX1 ground", gcctl_order_usage, gcctl_run_order, NULL },
        { "reclaim", "the provider has the reclaim go on, or retry its step (R-EX3)", gcctl_reclaim_usage, gcctl_run_reclaim, NULL },
        {}
};
