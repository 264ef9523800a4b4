/* SPDX-License-Identifier: Apache-2.0 */
/* gcctl system exit | exit-statement | reclaim-order | reclaim
 * (R-EX1..R-EX3, R-LC5; orchestrator/reclaim.h) */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "gcctl.h"
#include "jcs.h"
#include "json.h"
#include "remote.h"

enum {
        ARG_KEY = 0x100,
        ARG_GROUND,
        ARG_REASON,
        ARG_REFERENCE,
};

struct exit_args {
        struct remote *rm;
        const char *key, *ground, *reason, *reference;
};

static int exit_handle(int opt, const char *arg, void *userdata) {
        struct exit_args *a = userdata;

        switch (opt) {
        case ARG_KEY:
                return remote_signing_key(a->rm, &a->key, arg);
        case ARG_GROUND:
                a->ground = arg;
                return 0;
        case ARG_REASON:
                a->reason = arg;
                return 0;
        case ARG_REFERENCE:
                a->reference = arg;
                return 0;
        }
        return -EINVAL;
}

static char *human_bytes(double b) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        size_t u = 0;
        while (b >= 1024 && u + 1 < ELEMENTSOF(units)) {
                b /= 1024;
                u++;
        }
        return xasprintf(u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

/* The volumes' wipes: percent and rate while they run (R-EX3). */
void gcctl_print_exit(const cJSON *exit) {
        const cJSON *v, *st = json_get(exit, "statement"), *order = json_get(exit, "order");
        _cleanup_free_ char *grace = remote_render(json_get(exit, "grace_until"));

        printf("exit: initiator %s, ground %s, step %s%s%s\n", str_at(exit, "initiator") ?: "?", str_at(exit, "ground") ?: "?",
               str_at(exit, "step") ?: "?", str_at(exit, "problem") ? "; STOPPED: " : "", str_at(exit, "problem") ?: "");
        printf("  grace period until %s%s\n", grace, cJSON_IsTrue(json_get(exit, "grace_over")) ? " (over)" : "");
        if (cJSON_IsTrue(json_get(st, "signed")))
                printf("  tenant's statement signed %s by %s (%s)\n", str_at(st, "signed_at") ?: "?", str_at(st, "holder") ?: "?",
                       str_at(st, "fingerprint") ?: "?");
        else
                printf("  tenant's statement not signed (%s)\n", str_at(st, "hash") ?: "?");
        if (cJSON_IsObject(order))
                printf("  authority's order: %s, %s (%s)\n", str_at(order, "ground") ?: "?", str_at(order, "outcome") ?: "?",
                       str_at(order, "reason") ?: "");
        if (cJSON_GetArraySize(json_get(exit, "volumes")) > 0)
                printf("  %-40s %-6s %-8s %7s %12s %12s  %s\n", "VM", "DISK", "PHASE", "PERCENT", "DONE", "RATE", "CERTIFIED");
        cJSON_ArrayForEach(v, json_get(exit, "volumes")) {
                _cleanup_free_ char *done = human_bytes((double) int_at(v, "done", 0));
                _cleanup_free_ char *rate = human_bytes((double) int_at(v, "rate", 0));
                _cleanup_free_ char *r = xasprintf("%s/s", rate);
                const cJSON *pct = json_get(v, "percent");
                printf("  %-40s %-6s %-8s %6.1f%% %12s %12s  %s\n", str_at(v, "vm") ?: "?", str_at(v, "disk") ?: "?",
                       str_at(v, "phase") ?: "-", cJSON_IsNumber(pct) ? pct->valuedouble : 0.0, done, r,
                       cJSON_IsTrue(json_get(v, "certified")) ? "yes" : "no");
        }
        if (json_get(exit, "sheet") && cJSON_IsNumber(json_get(exit, "sheet")))
                printf("  exit sheet %ld (gcctl sheet show %ld)\n", int_at(exit, "sheet", 0), int_at(exit, "sheet", 0));
}

static int fetch_exit(struct remote *rm, uint64_t id, cJSON **ret_answer, const cJSON **ret_exit) {
        _cleanup_free_ char *path = xasprintf("/v1/systems/%llu/exit", (unsigned long long) id);
        long status;
        int ex = remote_call(rm, "GET", path, NULL, 0, &status, ret_answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        return remote_member(rm, *ret_answer, "exit", cJSON_Object, ret_exit);
}

static int print_answer(const cJSON *answer) {
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        gcctl_print_exit(json_get(answer, "exit"));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- exit --- */

const char gcctl_exit_usage[] =
        "Usage: gcctl system exit ID [OPTIONS]\n"
        "\n"
        "Show the exit of system ID (GET /v1/systems/ID/exit, R-EX1..R-EX3): who\n"
        "asked and on which ground, the grace period for migration, whether the\n"
        "tenant's statement is signed, the authority's order, the step the\n"
        "reclaim is at (stopping, wiping, deleting, network, sheet, done) and why\n"
        "it stopped if it did, and per volume the wipe's phase, percent, bytes\n"
        "done, rate, and whether its certificate of sanitization is in.\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system exit 3\n";

int gcctl_run_exit(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system exit" };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        const cJSON *exit;
        uint64_t id;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, gcctl_exit_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        ex = ex ?: fetch_exit(&rm, id, &answer, &exit);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        return print_answer(answer);
}

/* --- exit-statement --- */

const char gcctl_statement_usage[] =
        "Usage: gcctl system exit-statement ID --key KEY.pem [OPTIONS]\n"
        "\n"
        "The tenant signs its exit statement for system ID (R-EX2): the exit\n"
        "form's wording that the unit has migrated and backed up the system's\n"
        "data and agrees that it be destroyed. gcctl fetches the statement, shows\n"
        "it, checks that its canonical bytes (RFC 8785) are the document shown and\n"
        "hash to what the orchestrator stored, signs those bytes with the unit's\n"
        "registered key (SM2 with SM3, or Ed25519 by pack) and sends the\n"
        "signature (POST /v1/systems/ID/exit-statement, the tenant's role). The\n"
        "reclaim then starts: VMs stopped, volumes wiped with certificates.\n"
        "\n"
        "Options:\n"
        "  --key KEY.pem  the unit's private signing key (required); the\n"
        "                 connection's key is --client-key here, or a second\n"
        "                 --key after this one\n"
        "  --json         print the orchestrator's answer as JSON\n"
        "  --help         this text\n"
        REMOTE_OPTIONS_HELP_CLIENT_KEY
        "\n"
        "Example:\n"
        "  gcctl system exit-statement 3 --key sign/tenant.key --cert tenant.crt --client-key tenant.key\n";

static const struct option statement_options[] = {
        { "key", required_argument, NULL, ARG_KEY },
        REMOTE_CLIENT_KEY_OPTION,
        {}
};

int gcctl_run_statement(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system exit-statement" };
        struct exit_args a = { .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL, *doc = NULL, *body = NULL, *result = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *fp = NULL, *b64 = NULL, *path = NULL, *hex = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        struct gc_buf b = GC_BUF_INIT(1024 * 1024);
        const cJSON *exit, *st;
        const char *canonical, *hash;
        enum gc_hash_alg alg;
        uint8_t md[GC_HASH_MAX];
        size_t siglen = 0;
        char msg[192];
        uint64_t id;
        long status;
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, gcctl_statement_usage, statement_options, exit_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.key)
                return gcctl_usage_error(rm.verb, "--key KEY.pem is required: the unit's private signing key");
        r = crypto_key_load_private(a.key, &key);
        if (r < 0)
                return remote_fail(&rm, "%s: %s", a.key, remote_key_error(r, true, msg, sizeof msg));
        if (crypto_key_fingerprint(key, &fp) < 0)
                return remote_fail(&rm, "%s: cannot read the key", a.key);

        ex = fetch_exit(&rm, id, &answer, &exit);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        st = json_get(exit, "statement");
        canonical = str_at(st, "canonical");
        hash = str_at(st, "hash");
        const char *colon = hash ? strchr(hash, ':') : NULL;
        if (!canonical || !colon)
                return remote_fail(&rm, "not signing: the answer has no statement with \"canonical\" and \"hash\"");
        _cleanup_free_ char *alg_name = xstrndup(hash, (size_t) (colon - hash));
        /* Sign only what was shown: the bytes are the document, and hash as stored. */
        if (json_parse(canonical, strlen(canonical), &doc, NULL) < 0 || jcs_serialize(doc, &b) < 0 ||
            strcmp(b.data, canonical) != 0 || !cJSON_Compare(doc, json_get(st, "document"), true)) {
                gc_buf_free(&b);
                return remote_fail(&rm, "not signing: the statement's bytes are not the canonical form of the document shown");
        }
        gc_buf_free(&b);
        if (crypto_hash_from_string(alg_name, &alg) < 0 || crypto_digest(alg, canonical, strlen(canonical), md) < 0)
                return remote_fail(&rm, "not signing: unknown hash \"%s\"", alg_name);
        hex = crypto_hex(md, 32);
        if (strcmp(colon + 1, hex) != 0)
                return remote_fail(&rm, "not signing: the statement's bytes hash to %s:%s, not %s", alg_name, hex, hash);
        if (!gcctl_global.json)
                printf("%s\n%s\n", str_at(json_get(st, "document"), "statement") ?: "",
                       str_at(json_get(st, "document"), "statement_en") ?: "");

        r = crypto_sign(key, canonical, strlen(canonical), &sig, &siglen);
        if (r < 0)
                return remote_fail(&rm, "%s: signing failed: %s", a.key, strerror(-r));
        b64 = crypto_base64(sig, siglen);
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "fingerprint", fp);
        cJSON_AddStringToObject(body, "signature", b64);
        path = xasprintf("/v1/systems/%llu/exit-statement", (unsigned long long) id);
        ex = remote_call_json(&rm, "POST", path, body, &status, &result);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!gcctl_global.json)
                printf("signed the exit statement of system %llu with %s (%s)\n", (unsigned long long) id, fp, hash);
        return print_answer(result);
}

/* --- reclaim-order --- */

const char gcctl_order_usage[] =
        "Usage: gcctl system reclaim-order ID --ground G --reason TEXT [OPTIONS]\n"
        "\n"
        "The authority orders the reclaim of system ID on an R-EX1 ground\n"
        "(POST /v1/systems/ID/reclaim-order, the authority's role). The system\n"
        "must have an approved exit. The ground must be one the pool's pack lists\n"
        "(exit.reclaim_grounds). Where the pack lets an order wipe without the\n"
        "tenant's statement (exit.authority_may_order_wipe) and the grace period\n"
        "is over, the reclaim starts and the tenant is notified; otherwise the\n"
        "system is suspended (R-SC3) until the tenant's statement comes.\n"
        "\n"
        "Grounds: misuse, piggyback, no_longer_needed, consolidation,\n"
        "unfixable_risk, noncompliance, low_utilization.\n"
        "\n"
        "Options:\n"
        "  --ground G        the R-EX1 ground (required)\n"
        "  --reason TEXT     why, for the record and the tenant (required)\n"
        "  --reference REF   the decision's document number\n"
        "  --json            print the orchestrator's answer as JSON\n"
        "  --help            this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system reclaim-order 3 --ground unfixable_risk --reason '高危漏洞逾期未整改'\n";

static const struct option order_options[] = {
        { "ground", required_argument, NULL, ARG_GROUND },
        { "reason", required_argument, NULL, ARG_REASON },
        { "reference", required_argument, NULL, ARG_REFERENCE },
        {}
};

int gcctl_run_order(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system reclaim-order" };
        struct exit_args a = { .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *result = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t id;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, gcctl_order_usage, order_options, exit_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.ground || !a.reason)
                return gcctl_usage_error(rm.verb, "--ground and --reason are required");
        ex = remote_check_text(&rm, "--reason", a.reason);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "ground", a.ground);
        cJSON_AddStringToObject(body, "reason", a.reason);
        if (a.reference)
                cJSON_AddStringToObject(body, "reference", a.reference);
        path = xasprintf("/v1/systems/%llu/reclaim-order", (unsigned long long) id);
        ex = remote_call_json(&rm, "POST", path, body, &status, &result);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!gcctl_global.json)
                printf("system %llu: %s\n", (unsigned long long) id,
                       strcmp(str_at(result, "outcome") ?: "", "reclaim") == 0
                               ? "the reclaim starts; the tenant is notified"
                               : "suspended (R-SC3) until the tenant's statement: the pack does not let an order wipe");
        return print_answer(result);
}

/* --- reclaim --- */

const char gcctl_reclaim_usage[] =
        "Usage: gcctl system reclaim ID --reason TEXT [OPTIONS]\n"
        "\n"
        "The provider has the reclaim of system ID go on (POST\n"
        "/v1/systems/ID/reclaim): after a step stopped (a VM that would not\n"
        "stop, a wipe refused or failed, a host that could not remove the\n"
        "network), the step's jobs are sent again. A system whose exit allows no\n"
        "wipe yet (no tenant statement, no order the pack allows) is refused with\n"
        "the reason, and the refusal is audited (R-EX3).\n"
        "\n"
        "Options:\n"
        "  --reason TEXT   why, for the record (required)\n"
        "  --json          print the orchestrator's answer as JSON\n"
        "  --help          this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl system reclaim 3 --reason 'host-b back after repair'\n";

static const struct option reclaim_options[] = {
        { "reason", required_argument, NULL, ARG_REASON },
        {}
};

int gcctl_run_reclaim(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl system reclaim" };
        struct exit_args a = { .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *result = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t id;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, gcctl_reclaim_usage, reclaim_options, exit_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.reason || !*a.reason)
                return gcctl_usage_error(rm.verb, "--reason is required: why the reclaim goes on, for the record");
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "reason", a.reason);
        path = xasprintf("/v1/systems/%llu/reclaim", (unsigned long long) id);
        ex = remote_call_json(&rm, "POST", path, body, &status, &result);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        return print_answer(result);
}
