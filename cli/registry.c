/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the authority and the provider register: gcctl unit add | list,
 * key add | list | revoke, host add | list, pool list.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "gcctl.h"
#include "remote.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)

/* A PEM certificate or public key is a few KiB. */
#define PEM_FILE_MAX (1024u * 1024)

enum {
        ARG_CREDIT_CODE = 0x100,
        ARG_CONTACT,
        ARG_PARTY,
        ARG_HOLDER,
        ARG_PUBLIC,
        ARG_UNIT,
        ARG_ID,
        ARG_NAME,
        ARG_POOL,
        ARG_UNDERLAY,
        ARG_OPS,
        ARG_AGENT_CERT,
        ARG_REASON,
};

struct registry_args {
        const char *credit_code;
        const char *contact;
        const char *party;
        const char *holder;
        const char *public_key;
        const char *unit;
        const char *id;
        const char *name;
        const char *pool;
        const char *underlay;
        const char *ops;
        const char *agent_cert;
        const char *reason;
};

static int registry_handle(int opt, const char *arg, void *userdata) {
        struct registry_args *a = userdata;
        const char **slot;

        switch (opt) {
        case ARG_CREDIT_CODE:
                slot = &a->credit_code;
                break;
        case ARG_CONTACT:
                slot = &a->contact;
                break;
        case ARG_PARTY:
                slot = &a->party;
                break;
        case ARG_HOLDER:
                slot = &a->holder;
                break;
        case ARG_PUBLIC:
                slot = &a->public_key;
                break;
        case ARG_UNIT:
                slot = &a->unit;
                break;
        case ARG_ID:
                slot = &a->id;
                break;
        case ARG_NAME:
                slot = &a->name;
                break;
        case ARG_POOL:
                slot = &a->pool;
                break;
        case ARG_UNDERLAY:
                slot = &a->underlay;
                break;
        case ARG_OPS:
                slot = &a->ops;
                break;
        case ARG_AGENT_CERT:
                slot = &a->agent_cert;
                break;
        case ARG_REASON:
                slot = &a->reason;
                break;
        default:
                return -EINVAL;
        }
        *slot = arg;
        return 0;
}

/* Print the object member key of an answer as "key: value" lines. */
static int print_object(const struct remote *rm, const cJSON *answer, const char *key) {
        const cJSON *o;
        int ex;

        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(rm, answer, key, cJSON_Object, &o);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_fields(o, NULL);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* GET path and print its array member key as a table. */
static int list(struct remote *rm, const char *path, const char *key, const struct remote_column *cols,
                size_t ncols) {
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        const cJSON *rows;
        long status;
        int ex;

        ex = remote_call(rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(rm, answer, key, cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_table(rows, cols, ncols);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* A verb without operands or options of its own. */
static int list_verb(int argc, char **argv, const char *verb, const char *usage, const char *path,
                     const char *key, const struct remote_column *cols, size_t ncols) {
        _cleanup_(remote_done) struct remote rm = { .verb = verb };
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex != GCCTL_EXIT_OK)
                return ex;
        return list(&rm, path, key, cols, ncols);
}

/* The first entry nid (NID_commonName, ...) of a certificate's subject, as UTF-8. */
static int certificate_name(X509 *x, int nid, char **ret) {
        X509_NAME *subject = X509_get_subject_name(x);
        int at = subject ? X509_NAME_get_index_by_NID(subject, nid, -1) : -1;
        unsigned char *utf8 = NULL;
        int n;

        if (at < 0)
                return -ENOENT;
        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
        if (n < 0)
                return -EINVAL;
        *ret = xstrndup((const char *) utf8, n);
        OPENSSL_free(utf8);
        return 0;
}

/* --- unit --- */

static const char unit_add_usage[] =
        "Usage: gcctl unit add NAME [--credit-code CODE] [--contact TEXT] [OPTIONS]\n"
        "\n"
        "Register a government unit (使用单位) (POST /v1/units; the authority's\n"
        "role). NAME is the unit's full name (R-NM1); it is also the CN of the\n"
        "unit's tenant certificates.\n"
        "\n"
        "Options:\n"
        "  --credit-code CODE  统一社会信用代码, 18 characters\n"
        "  --contact TEXT      who to call, and how\n"
        "  --json              print the orchestrator's answer as JSON\n"
        "  --help              this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl unit add 市xx局 --credit-code 11340000MB0000000X \\\n"
        "      --contact '张三 0564-3300000'\n";

static const struct option unit_add_options[] = {
        { "credit-code", required_argument, NULL, ARG_CREDIT_CODE },
        { "contact", required_argument, NULL, ARG_CONTACT },
        {}
};

static int run_unit_add(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl unit add" };
        struct registry_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, unit_add_usage, unit_add_options, registry_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "NAME");
        ex = ex ?: remote_check_text(&rm, "NAME", argv[i]);
        if (ex == GCCTL_EXIT_OK && a.credit_code)
                ex = remote_check_text(&rm, "--credit-code", a.credit_code);
        if (ex == GCCTL_EXIT_OK && a.contact)
                ex = remote_check_text(&rm, "--contact", a.contact);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "name", argv[i]);
        if (a.credit_code)
                cJSON_AddStringToObject(body, "credit_code", a.credit_code);
        if (a.contact)
                cJSON_AddStringToObject(body, "contact", a.contact);

        ex = remote_call_json(&rm, "POST", "/v1/units", body, &status, &answer);
        return ex ?: print_object(&rm, answer, "unit");
}

static const char unit_list_usage[] =
        "Usage: gcctl unit list [OPTIONS]\n"
        "\n"
        "List the registered units (GET /v1/units); a tenant sees only its own.\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl unit list --profile ~/authority.json\n";

static const struct remote_column unit_columns[] = {
        { "ID", "id", NULL },
        { "NAME", "name", NULL },
        { "CREDIT CODE", "credit_code", NULL },
        { "CONTACT", "contact", NULL },
        { "CREATED", "created", NULL },
};

static int run_unit_list(int argc, char **argv) {
        return list_verb(argc, argv, "gcctl unit list", unit_list_usage, "/v1/units", "units", unit_columns,
                         ELEMENTSOF(unit_columns));
}

const struct gcctl_verb gcctl_unit_verbs[] = {
        { "add", "register a government unit", unit_add_usage, run_unit_add, NULL },
        { "list", "registered units", unit_list_usage, run_unit_list, NULL },
        {}
};

/* --- key --- */

static const char key_add_usage[] =
        "Usage: gcctl key add --party tenant --unit UNIT --holder NAME --public PUB.pem\n"
        "                     [OPTIONS]\n"
        "       gcctl key add --party provider|authority --holder NAME --public PUB.pem\n"
        "                     [OPTIONS]\n"
        "       gcctl key add --party approval --id ID --name NAME --public PUB.pem\n"
        "                     [OPTIONS]\n"
        "\n"
        "Register a public key (the authority's role). A party's key signs\n"
        "confirmation sheets (POST /v1/keys); an approval system's key signs the\n"
        "requests it submits, and --id is the CN of its client certificate\n"
        "(POST /v1/approval-systems). PUB.pem is an SM2 or Ed25519 public key\n"
        "(SubjectPublicKeyInfo PEM, as `openssl pkey -pubout` writes it); it is\n"
        "checked here and sent in that form. Private keys are refused and never\n"
        "sent.\n"
        "\n"
        "Options:\n"
        "  --party PARTY     tenant, provider, authority or approval (required)\n"
        "  --public PUB.pem  the public key (required)\n"
        "  --holder NAME     the person or office holding a party's key, by real\n"
        "                    name (required for a party)\n"
        "  --unit UNIT       the unit a tenant key signs for (required for tenant,\n"
        "                    refused for the other parties)\n"
        "  --id ID           the approval system's id (required for approval)\n"
        "  --name NAME       the approval system's name (required for approval)\n"
        "  --json            print the orchestrator's answer as JSON\n"
        "  --help            this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Examples:\n"
        "  gcctl key add --party tenant --unit 市xx局 --holder 张三 \\\n"
        "      --public tenant.pub.pem\n"
        "  gcctl key add --party approval --id approval-oa --name 市政务服务审批系统 \\\n"
        "      --public approval-oa.pub.pem\n";

static const struct option key_add_options[] = {
        { "party", required_argument, NULL, ARG_PARTY },
        { "holder", required_argument, NULL, ARG_HOLDER },
        { "public", required_argument, NULL, ARG_PUBLIC },
        { "unit", required_argument, NULL, ARG_UNIT },
        { "id", required_argument, NULL, ARG_ID },
        { "name", required_argument, NULL, ARG_NAME },
        {}
};

/* The public key in path as SubjectPublicKeyInfo PEM. */
static int public_key_pem(const struct remote *rm, const char *path, char **ret_pem) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        char msg[160];
        int r;

        r = crypto_key_load_public(path, &key);
        if (r == -EINVAL && crypto_key_load_private(path, &key) >= 0)
                return remote_fail(rm, "%s: a private key; register its public half "
                                   "(openssl pkey -in KEY.pem -pubout -out PUB.pem)", path);
        if (r < 0)
                return remote_fail(rm, "%s: %s", path, remote_key_error(r, false, msg, sizeof msg));
        r = crypto_key_public_pem(key, ret_pem);
        if (r < 0)
                return remote_fail(rm, "%s: cannot write the key as PEM: %s", path, strerror(-r));
        return GCCTL_EXIT_OK;
}

static int run_key_add(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl key add" };
        struct registry_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        _cleanup_free_ char *pem = NULL;
        bool approval;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, key_add_usage, key_add_options, registry_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.party)
                return gcctl_usage_error(rm.verb, "--party is required: tenant, provider, authority or approval");
        if (!a.public_key)
                return gcctl_usage_error(rm.verb, "--public PUB.pem is required");
        approval = strcmp(a.party, "approval") == 0;
        if (approval) {
                if (!a.id || !a.name)
                        return gcctl_usage_error(rm.verb, "--party approval needs --id and --name");
                if (a.holder || a.unit)
                        return gcctl_usage_error(rm.verb, "--holder and --unit are for a party's key, "
                                                 "not an approval system's");
                ex = remote_check_text(&rm, "--id", a.id);
                ex = ex ?: remote_check_text(&rm, "--name", a.name);
        } else {
                if (strcmp(a.party, "tenant") != 0 && strcmp(a.party, "provider") != 0 &&
                    strcmp(a.party, "authority") != 0)
                        return gcctl_usage_error(rm.verb, "--party: \"%s\" is not tenant, provider, authority "
                                                 "or approval", a.party);
                if (!a.holder)
                        return gcctl_usage_error(rm.verb, "--party %s needs --holder", a.party);
                if (a.id || a.name)
                        return gcctl_usage_error(rm.verb, "--id and --name are for --party approval");
                if (!a.unit && strcmp(a.party, "tenant") == 0)
                        return gcctl_usage_error(rm.verb, "--party tenant needs --unit: the unit the key signs for");
                if (a.unit && strcmp(a.party, "tenant") != 0)
                        return gcctl_usage_error(rm.verb, "--unit is for a tenant's key only");
                ex = remote_check_text(&rm, "--holder", a.holder);
                if (ex == GCCTL_EXIT_OK && a.unit)
                        ex = remote_check_text(&rm, "--unit", a.unit);
        }
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = public_key_pem(&rm, a.public_key, &pem);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        body = cJSON_CreateObject();
        if (approval) {
                cJSON_AddStringToObject(body, "id", a.id);
                cJSON_AddStringToObject(body, "name", a.name);
        } else {
                cJSON_AddStringToObject(body, "party", a.party);
                if (a.unit)
                        cJSON_AddStringToObject(body, "unit", a.unit);
                cJSON_AddStringToObject(body, "holder", a.holder);
        }
        cJSON_AddStringToObject(body, "public_key", pem);

        ex = remote_call_json(&rm, "POST", approval ? "/v1/approval-systems" : "/v1/keys", body, &status, &answer);
        return ex ?: print_object(&rm, answer, approval ? "approval_system" : "key");
}

static const char key_list_usage[] =
        "Usage: gcctl key list [OPTIONS]\n"
        "\n"
        "List the registered keys: the parties' sheet-signing keys (GET /v1/keys;\n"
        "a tenant sees its unit's), then the approval systems and their keys\n"
        "(GET /v1/approval-systems). A tenant, known by the OU of its client\n"
        "certificate, may not see approval systems: it gets the first list and a\n"
        "note, as does any role the orchestrator refuses them to (HTTP 403).\n"
        "REVOKED is when a key was revoked (`gcctl key revoke`), '-' while it is\n"
        "in force.\n"
        "\n"
        "Options:\n"
        "  --json     print {\"keys\": [...], \"approval_systems\": [...]}\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl key list\n";

static const struct remote_column key_columns[] = {
        { "ID", "id", NULL },
        { "PARTY", "party", NULL },
        { "UNIT", "unit", NULL },
        { "HOLDER", "holder", NULL },
        { "TYPE", "key_type", NULL },
        { "FINGERPRINT", "fingerprint", NULL },
        { "CREATED", "created", NULL },
        { "REVOKED", "revoked", NULL },
};

static const struct remote_column approval_system_columns[] = {
        { "ID", "id", NULL },
        { "NAME", "name", NULL },
        { "TYPE", "key_type", NULL },
        { "FINGERPRINT", "fingerprint", NULL },
        { "CREATED", "created", NULL },
};

/* The OU (the role) of the first certificate in a PEM file, "" when it has none. */
static int certificate_ou(const char *path, char **ret) {
        _cleanup_free_ char *pem = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        size_t len = 0;
        int r;

        r = gc_read_file(path, PEM_FILE_MAX, &pem, &len);
        if (r < 0)
                return r;
        bio = BIO_new_mem_buf(pem, (int) len);
        if (!bio)
                abort();
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        ERR_clear_error();
        if (!x)
                return -EINVAL;
        return certificate_name(x, NID_organizationalUnitName, ret);
}

static int run_key_list(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl key list" };
        _cleanup_(cJSON_Deletep) cJSON *keys = NULL, *systems = NULL, *out = NULL;
        const cJSON *key_rows, *system_rows = NULL;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, key_list_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex != GCCTL_EXIT_OK)
                return ex;

        /* Both answers are printed as one document: no --json output until both are in. */
        ex = remote_send(&rm, "GET", "/v1/keys", NULL, 0, &status, &keys);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (status < 200 || status >= 300 || !keys)
                return remote_refusal(&rm, "GET", "/v1/keys", status, keys);
        ex = remote_member(&rm, keys, "keys", cJSON_Array, &key_rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        /* A tenant may not list approval systems (x-roles), and asking would be
         * an audited denial: the client certificate's OU says who we are. */
        _cleanup_free_ char *role = NULL;
        if (certificate_ou(rm.config.cert, &role) >= 0 && strcmp(role, "tenant") == 0)
                fprintf(stderr, "%s: approval systems are not shown: a tenant may not list them\n", rm.verb);
        else {
                ex = remote_send(&rm, "GET", "/v1/approval-systems", NULL, 0, &status, &systems);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
                if (status == 403)
                        fprintf(stderr, "%s: approval systems are not shown: this role may not list them "
                                "(HTTP 403)\n", rm.verb);
                else if (status < 200 || status >= 300 || !systems)
                        return remote_refusal(&rm, "GET", "/v1/approval-systems", status, systems);
                else {
                        ex = remote_member(&rm, systems, "approval_systems", cJSON_Array, &system_rows);
                        if (ex != GCCTL_EXIT_OK)
                                return ex;
                }
        }

        if (gcctl_global.json) {
                out = cJSON_CreateObject();
                cJSON_AddItemToObject(out, "keys", cJSON_Duplicate(key_rows, true));
                if (system_rows)
                        cJSON_AddItemToObject(out, "approval_systems", cJSON_Duplicate(system_rows, true));
                gcctl_print_json(out);
        } else {
                printf("Keys:\n");
                remote_print_table(key_rows, key_columns, ELEMENTSOF(key_columns));
                if (system_rows) {
                        printf("\nApproval systems:\n");
                        remote_print_table(system_rows, approval_system_columns,
                                           ELEMENTSOF(approval_system_columns));
                }
        }
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

static const char key_revoke_usage[] =
        "Usage: gcctl key revoke ID --reason TEXT [OPTIONS]\n"
        "\n"
        "Revoke party key ID (POST /v1/keys/ID/revoke; the authority's role): from\n"
        "then on it signs no sheet and countersigns no checkpoint. What it signed\n"
        "before stays signed; `gcctl key list` shows when it was revoked. A lost\n"
        "or compromised key is revoked, then the holder's new key is registered\n"
        "with `gcctl key add`.\n"
        "\n"
        "Options:\n"
        "  --reason TEXT  why, for the audit record (required)\n"
        "  --json         print the orchestrator's answer as JSON\n"
        "  --help         this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl key revoke 4 --reason '张三调离，密钥作废'\n";

static const struct option key_revoke_options[] = {
        { "reason", required_argument, NULL, ARG_REASON },
        {}
};

static int run_key_revoke(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl key revoke" };
        struct registry_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t id;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, key_revoke_usage, key_revoke_options, registry_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.reason || !*a.reason)
                return gcctl_usage_error(rm.verb, "--reason TEXT is required: why the key is revoked");
        ex = remote_check_text(&rm, "--reason", a.reason);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "reason", a.reason);
        path = xasprintf("/v1/keys/%llu/revoke", (unsigned long long) id);
        ex = remote_call_json(&rm, "POST", path, body, &status, &answer);
        return ex ?: print_object(&rm, answer, "key");
}

const struct gcctl_verb gcctl_key_verbs[] = {
        { "add", "register a party's or an approval system's public key", key_add_usage, run_key_add, NULL },
        { "list", "registered keys and approval systems", key_list_usage, run_key_list, NULL },
        { "revoke", "revoke a party's key", key_revoke_usage, run_key_revoke, NULL },
        {}
};

/* --- host --- */

static const char host_add_usage[] =
        "Usage: gcctl host add NAME --pool POOL --underlay ADDR --ops ADDR\n"
        "                      [--agent-cert CERT.pem] [OPTIONS]\n"
        "\n"
        "Register a compute node before its agent connects (POST /v1/hosts; the\n"
        "provider's role). NAME is the CN of the agent's client certificate.\n"
        "With --agent-cert, the SHA-256 of that certificate's DER is registered\n"
        "too, and then only that certificate is accepted for the host; its CN\n"
        "must be NAME. (--cert is the connection's own certificate.)\n"
        "\n"
        "Options:\n"
        "  --pool POOL             the resource pool (required)\n"
        "  --underlay ADDR         the host's address on the VXLAN underlay\n"
        "                          (required)\n"
        "  --ops ADDR              the host's operations address (required)\n"
        "  --agent-cert CERT.pem   the agent's certificate, PEM\n"
        "  --json                  print the orchestrator's answer as JSON\n"
        "  --help                  this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl host add cn-node-01 --pool egov-x86 --underlay 10.20.0.11 \\\n"
        "      --ops 10.30.0.11 --agent-cert pki/hosts/cn-node-01.crt\n";

static const struct option host_add_options[] = {
        { "pool", required_argument, NULL, ARG_POOL },
        { "underlay", required_argument, NULL, ARG_UNDERLAY },
        { "ops", required_argument, NULL, ARG_OPS },
        { "agent-cert", required_argument, NULL, ARG_AGENT_CERT },
        {}
};

/* SHA-256 hex of the DER of the PEM certificate in path, whose CN must be name. */
static int certificate_sha256(const struct remote *rm, const char *path, const char *name, char **ret_hex) {
        _cleanup_free_ char *pem = NULL, *cn = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        unsigned char *der = NULL;
        uint8_t md[GC_HASH_MAX];
        size_t len = 0;
        int n, r;

        r = gc_read_file(path, PEM_FILE_MAX, &pem, &len);
        if (r < 0)
                return remote_fail(rm, "%s: %s", path, r == -EFBIG ? "too large for a certificate" : strerror(-r));
        bio = BIO_new_mem_buf(pem, (int) len);
        if (!bio)
                abort();
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        ERR_clear_error();
        if (!x)
                return remote_fail(rm, "%s: not a PEM certificate", path);
        if (certificate_name(x, NID_commonName, &cn) < 0)
                return remote_fail(rm, "%s: the certificate has no CN; the agent is known by its CN", path);
        if (strcmp(cn, name) != 0)
                return remote_fail(rm, "%s: the certificate's CN is \"%s\", not the host's name \"%s\"", path, cn,
                                   name);
        n = i2d_X509(x, &der);
        if (n <= 0) {
                ERR_clear_error();
                return remote_fail(rm, "%s: cannot encode the certificate as DER", path);
        }
        r = crypto_digest(GC_HASH_SHA256, der, n, md);
        OPENSSL_free(der);
        if (r < 0)
                return remote_fail(rm, "%s: SHA-256 failed: %s", path, strerror(-r));
        *ret_hex = crypto_hex(md, sizeof md);
        return GCCTL_EXIT_OK;
}

static int run_host_add(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl host add" };
        struct registry_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        _cleanup_free_ char *sha = NULL;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, host_add_usage, host_add_options, registry_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "NAME");
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.pool || !a.underlay || !a.ops)
                return gcctl_usage_error(rm.verb, "--pool, --underlay and --ops are required");
        ex = remote_check_text(&rm, "NAME", argv[i]);
        ex = ex ?: remote_check_text(&rm, "--pool", a.pool);
        ex = ex ?: remote_check_text(&rm, "--underlay", a.underlay);
        ex = ex ?: remote_check_text(&rm, "--ops", a.ops);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (a.agent_cert) {
                ex = certificate_sha256(&rm, a.agent_cert, argv[i], &sha);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
        }

        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "name", argv[i]);
        cJSON_AddStringToObject(body, "pool", a.pool);
        cJSON_AddStringToObject(body, "underlay_address", a.underlay);
        cJSON_AddStringToObject(body, "operations_address", a.ops);
        if (sha)
                cJSON_AddStringToObject(body, "certificate_sha256", sha);

        ex = remote_call_json(&rm, "POST", "/v1/hosts", body, &status, &answer);
        return ex ?: print_object(&rm, answer, "host");
}

static const char host_list_usage[] =
        "Usage: gcctl host list [OPTIONS]\n"
        "\n"
        "List the registered compute nodes (GET /v1/hosts). CERTIFICATE is the\n"
        "SHA-256 of the only agent certificate accepted, '-' for any the CA\n"
        "issued with the host's name. VCPUS, MEMORY and ARCH are what the host's\n"
        "agent reported, VMS the VMs placed on it that are not deleted, LAST SEEN\n"
        "when its agent last called; '-' until the agent has connected.\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl host list\n";

static const struct remote_column host_columns[] = {
        { "NAME", "name", NULL },
        { "POOL", "pool", NULL },
        { "UNDERLAY", "underlay_address", NULL },
        { "OPERATIONS", "operations_address", NULL },
        { "STATE", "state", NULL },
        { "CERTIFICATE", "certificate_sha256", NULL },
        { "VCPUS", "vcpus", NULL },
        { "MEMORY", "memory_mib", remote_render_mib },
        { "ARCH", "arch", NULL },
        { "VMS", "vm_count", NULL },
        { "LAST SEEN", "last_seen", NULL },
};

static int run_host_list(int argc, char **argv) {
        return list_verb(argc, argv, "gcctl host list", host_list_usage, "/v1/hosts", "hosts", host_columns,
                         ELEMENTSOF(host_columns));
}

const struct gcctl_verb gcctl_host_verbs[] = {
        { "add", "register a compute node", host_add_usage, run_host_add, NULL },
        { "list", "registered compute nodes", host_list_usage, run_host_list, NULL },
        {}
};

/* --- pool --- */

static const char pool_list_usage[] =
        "Usage: gcctl pool list [OPTIONS]\n"
        "\n"
        "List the resource pools of the orchestrator's configuration, each with\n"
        "its policy pack, the jurisdiction, and the CPU architectures it offers\n"
        "(GET /v1/pools).\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl pool list\n";

static const struct remote_column pool_columns[] = {
        { "NAME", "name", NULL },
        { "PACK", "pack", NULL },
        { "JURISDICTION", "jurisdiction", NULL },
        { "ARCH", "arch", NULL },
};

static int run_pool_list(int argc, char **argv) {
        return list_verb(argc, argv, "gcctl pool list", pool_list_usage, "/v1/pools", "pools", pool_columns,
                         ELEMENTSOF(pool_columns));
}

const struct gcctl_verb gcctl_pool_verbs[] = {
        { "list", "resource pools, their packs and architectures", pool_list_usage, run_pool_list, NULL },
        {}
};
