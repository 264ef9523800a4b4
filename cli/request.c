/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcctl request sign | submit | show | list
 *
 * sign is offline: it signs a request as its approval system does, over the
 * canonical bytes (RFC 8785) of the document without approval.signature
 * (common/approval.h, the same code the orchestrator's verifiers use).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "approval.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/error.h"
#include "gcctl.h"
#include "json.h"
#include "remote.h"

enum {
        ARG_KEY = 0x100,
        ARG_OUT,
        ARG_SIGN,
        ARG_SYSTEM,
};

struct request_args {
        const char *key;                /* sign --key, submit --sign */
        const char *out;
        const char *system;
};

static int request_handle(int opt, const char *arg, void *userdata) {
        struct request_args *a = userdata;

        switch (opt) {
        case ARG_KEY:
        case ARG_SIGN:
                a->key = arg;
                return 0;
        case ARG_OUT:
                a->out = arg;
                return 0;
        case ARG_SYSTEM:
                a->system = arg;
                return 0;
        }
        return -EINVAL;
}

int gcctl_request_load(const struct remote *rm, const char *path, char **ret_data, size_t *ret_len,
                        cJSON **ret_doc) {
        _cleanup_free_ char *data = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        size_t len = 0;
        int ex;

        ex = remote_load_json(rm, path, APPROVAL_DOC_MAX, &data, &len, &doc);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "approval")))
                return remote_fail(rm, "%s: no \"approval\" object: not a request", path);
        if (ret_data)
                *ret_data = TAKE_PTR(data);
        if (ret_len)
                *ret_len = len;
        *ret_doc = TAKE_PTR(doc);
        return GCCTL_EXIT_OK;
}

int gcctl_request_sign(const struct remote *rm, cJSON *doc, const char *key_path) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        int r;

        r = crypto_key_load_private(key_path, &key);
        if (r == -EINVAL && crypto_key_load_public(key_path, &key) >= 0)
                return remote_fail(rm, "%s: a public key; signing needs the approval system's private key",
                                   key_path);
        if (r < 0)
                return remote_fail(rm, "%s: %s", key_path, remote_key_error(r, true, buf, sizeof buf));
        r = approval_sign(doc, key, &err);
        if (r < 0)
                return remote_fail(rm, "%s", gc_error_format(&err, buf, sizeof buf));
        return GCCTL_EXIT_OK;
}

int gcctl_request_body(const struct remote *rm, const char *path, const char *key_path, char **ret_body, size_t *ret_len) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int ex = gcctl_request_load(rm, path, &data, &len, &doc);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (key_path) {
                ex = gcctl_request_sign(rm, doc, key_path);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
                free(data);
                data = cJSON_PrintUnformatted(doc);
                if (!data)
                        abort();
                len = strlen(data);
        } else if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "approval"),
                                                                    "signature")))
                return remote_fail(rm, "%s: approval.signature is missing: sign it with --sign KEY.pem "
                                   "or `gcctl request sign`", path);
        *ret_body = TAKE_PTR(data);
        *ret_len = len;
        return GCCTL_EXIT_OK;
}

/* --- sign --- */

static const char sign_usage[] =
        "Usage: gcctl request sign FILE --key KEY.pem [--out OUT]\n"
        "\n"
        "Sign the request in FILE ('-' for standard input) as its approval system\n"
        "does, and write the signed request. No connection is made.\n"
        "\n"
        "The signature covers the canonical bytes (RFC 8785) of the whole document\n"
        "without approval.signature; it is put into approval.signature in base64,\n"
        "replacing one that is there. KEY.pem is the approval system's private key\n"
        "(PKCS#8 or SEC1 PEM, not encrypted), and decides the algorithm: SM2 with\n"
        "SM3 and the distinguishing id 1234567812345678 (DER signature), or Ed25519\n"
        "(64 bytes). FILE must be strict JSON (no duplicate keys), at most 4 MiB.\n"
        "\n"
        "The output is the signed document, pretty-printed (any layout has the\n"
        "same canonical bytes), UTF-8, with a newline at the end.\n"
        "\n"
        "Options:\n"
        "  --key KEY.pem  the approval system's private key (required)\n"
        "  --out OUT      write the signed request to OUT instead of standard output\n"
        "  --json         accepted; the output is JSON already\n"
        "  --help         this text\n"
        "\n"
        "The signature verifies with the openssl command:\n"
        "  (remove approval.signature, `gcctl doc canon` the rest > canon.bin,\n"
        "   base64-decode the signature > sig.der)\n"
        "  openssl pkeyutl -verify -pubin -inkey approval.pub.pem -rawin -in canon.bin \\\n"
        "      -digest sm3 -pkeyopt distid:1234567812345678 -sigfile sig.der\n"
        "\n"
        "Example:\n"
        "  gcctl request sign apply.json --key approval-oa.pem --out apply.signed.json\n";

static const struct option sign_options[] = {
        { "key", required_argument, NULL, ARG_KEY },
        { "out", required_argument, NULL, ARG_OUT },
        {}
};

static int write_text(const char *path, const char *text) {
        _cleanup_fclose_ FILE *f = NULL;
        size_t n = strlen(text);

        if (!path || strcmp(path, "-") == 0) {
                if (fwrite(text, 1, n, stdout) != n || fflush(stdout) != 0)
                        return -EIO;
                return 0;
        }
        f = fopen(path, "we");
        if (!f)
                return -errno;
        if (fwrite(text, 1, n, f) != n || fflush(f) != 0)
                return -EIO;
        if (fclose(TAKE_PTR(f)) != 0)
                return -errno;
        return 0;
}

static int run_sign(int argc, char **argv) {
        struct remote rm = { .verb = "gcctl request sign" };
        struct request_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_free_ char *text = NULL;
        int ex, i, r;

        /* Offline: the verb's own options only. */
        i = gcctl_parse_options_any_order(argc, argv, sign_usage, sign_options, request_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "FILE");
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.key)
                return gcctl_usage_error(rm.verb, "--key KEY.pem is required");

        ex = gcctl_request_load(&rm, argv[i], NULL, NULL, &doc);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        ex = gcctl_request_sign(&rm, doc, a.key);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        text = cJSON_Print(doc);
        if (!text)
                abort();
        _cleanup_free_ char *line = xasprintf("%s\n", text);
        r = write_text(a.out, line);
        if (r < 0)
                return remote_fail(&rm, "%s: %s", a.out ? a.out : "(stdout)", strerror(-r));
        return GCCTL_EXIT_OK;
}

/* --- submit --- */

static const char submit_usage[] =
        "Usage: gcctl request submit FILE [--sign KEY.pem] [OPTIONS]\n"
        "\n"
        "Submit an approved apply, change or exit request (POST /v1/requests),\n"
        "as the approval system: the client certificate's role must be approval.\n"
        "FILE ('-' for standard input) is sent as it is, or, with --sign, signed\n"
        "first as `gcctl request sign` does and sent compact.\n"
        "\n"
        "Prints what the orchestrator did:\n"
        "  accepted: request 12, system 3 协同办公OA → requested     (HTTP 201)\n"
        "  existing: request 12, ...   (HTTP 200: this approval was submitted\n"
        "                               before with the same content)\n"
        "and the names it gave the VMs; or the refusal with the field, the value\n"
        "and the rule, and exit status 1. A retry of the same approval is safe:\n"
        "with the same signed content it gets the existing request; an approval\n"
        "id used before with other content is refused as a replay.\n"
        "\n"
        "Options:\n"
        "  --sign KEY.pem  sign with the approval system's private key first\n"
        "  --json          print the orchestrator's answer (also a refusal) as JSON\n"
        "  --help          this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl request submit apply.signed.json --profile approval-oa.json\n";

static const struct option submit_options[] = {
        { "sign", required_argument, NULL, ARG_SIGN },
        {}
};

static const struct remote_column vm_name_columns[] = {
        { "NAME", "name", NULL },
        { "ROLE", "role", NULL },
        { "NUMBER", "number", NULL },
};

static int run_submit(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl request submit" };
        struct request_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *body = NULL;
        const cJSON *request, *system, *vms, *existing;
        size_t len = 0;
        long status = 0;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, submit_usage, submit_options, request_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "FILE");
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = gcctl_request_body(&rm, argv[i], a.key, &body, &len);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = remote_call(&rm, "POST", "/v1/requests", body, len, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }

        ex = remote_member(&rm, answer, "request", cJSON_Object, &request);
        ex = ex ?: remote_member(&rm, answer, "system", cJSON_Object, &system);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        existing = cJSON_GetObjectItemCaseSensitive(answer, "existing");

        _cleanup_free_ char *id = remote_render(cJSON_GetObjectItemCaseSensitive(request, "id"));
        _cleanup_free_ char *sid = remote_render(cJSON_GetObjectItemCaseSensitive(system, "id"));
        _cleanup_free_ char *name = remote_render(cJSON_GetObjectItemCaseSensitive(system, "name"));
        _cleanup_free_ char *state = remote_render(cJSON_GetObjectItemCaseSensitive(system, "state"));
        printf("%s: request %s, system %s %s → %s\n",
               status == 200 || cJSON_IsTrue(existing) ? "existing" : "accepted", id, sid, name, state);

        vms = cJSON_GetObjectItemCaseSensitive(answer, "vms");
        if (cJSON_GetArraySize(vms) > 0)
                remote_print_table(vms, vm_name_columns, ELEMENTSOF(vm_name_columns));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- show --- */

static const char show_usage[] =
        "Usage: gcctl request show ID [OPTIONS]\n"
        "\n"
        "Show one request (GET /v1/requests/ID): its kind, system, approval,\n"
        "digest, when it was received and its outcome, then the document as it\n"
        "was submitted.\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl request show 12\n";

static int run_show(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl request show" };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL;
        static const char *const skip[] = { "document", NULL };
        const cJSON *request, *document;
        uint64_t id;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, show_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "ID");
        ex = ex ?: remote_parse_uint(&rm, "ID", argv[i], 1, INT64_MAX, &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        path = xasprintf("/v1/requests/%llu", (unsigned long long) id);
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, "request", cJSON_Object, &request);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_fields(request, skip);
        document = cJSON_GetObjectItemCaseSensitive(request, "document");
        if (document) {
                text = cJSON_Print(document);
                printf("document:\n%s\n", text ? text : "?");
        }
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- list --- */

static const char list_usage[] =
        "Usage: gcctl request list [--system ID] [OPTIONS]\n"
        "\n"
        "List requests, newest first (GET /v1/requests): a tenant sees its unit's,\n"
        "an approval system its own.\n"
        "\n"
        "Options:\n"
        "  --system ID  only this system's requests\n"
        "  --json       print the orchestrator's answer as JSON\n"
        "  --help       this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl request list --system 3\n";

static const struct option list_options[] = {
        { "system", required_argument, NULL, ARG_SYSTEM },
        {}
};

static const struct remote_column request_columns[] = {
        { "ID", "id", NULL },
        { "KIND", "kind", NULL },
        { "SYSTEM", "system_id", NULL },
        { "UNIT", "unit", NULL },
        { "NAME", "system", NULL },
        { "APPROVAL SYSTEM", "approval_system", NULL },
        { "APPROVAL", "approval_id", NULL },
        { "RECEIVED", "received", NULL },
        { "OUTCOME", "outcome", NULL },
};

static int run_list(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl request list" };
        struct request_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = NULL;
        const cJSON *rows;
        uint64_t system = 0;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, list_usage, list_options, request_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.system)
                ex = remote_parse_uint(&rm, "--system", a.system, 1, INT64_MAX, &system);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        path = a.system ? xasprintf("/v1/requests?system=%llu", (unsigned long long) system)
                        : xstrdup("/v1/requests");
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, "requests", cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_table(rows, request_columns, ELEMENTSOF(request_columns));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

const struct gcctl_verb gcctl_request_verbs[] = {
        { "sign", "sign a request as its approval system (offline)", sign_usage, run_sign, NULL },
        { "submit", "submit an approved request to the orchestrator", submit_usage, run_submit, NULL },
        { "show", "one request, its outcome and its document", show_usage, run_show, NULL },
        { "list", "requests, newest first", list_usage, run_list, NULL },
        {}
};
