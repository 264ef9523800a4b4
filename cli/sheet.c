/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcctl sheet list | show | sign | export | verify | html: the tri-party
 * confirmation sheets of go-live, change and exit (R-LC3, R-LC4, R-LC5).
 *
 * What a party signs is the sheet's canonical bytes (RFC 8785), checked
 * here before signing: they must be their own canonical form and hash to
 * the sheet's hash. verify and export --dir need no server: a bundle
 * verifies offline with gcctl or with openssl alone (common/sheet.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/error.h"
#include "gcctl.h"
#include "jcs.h"
#include "json.h"
#include "remote.h"
#include "sheet.h"

/* --trust may be given once per party key, and some more. */
#define TRUST_MAX 16
/* A PEM public key is well under this. */
#define PEM_FILE_MAX (64u * 1024)
/* The printable page of a sheet of some hundred VMs is a few hundred KiB. */
#define SHEET_HTML_MAX (64u * 1024 * 1024)

enum {
        ARG_OUT = 'o',                  /* -o, --out */
        ARG_SYSTEM = 0x100,
        ARG_CANONICAL,
        ARG_PARTY,
        ARG_SIGN_KEY,
        ARG_DIR,
        ARG_FROM_FILE,
        ARG_TRUST,
};

struct sheet_args {
        const char *verb;
        struct remote *rm;              /* for a second --key (sign) */
        const char *system;
        bool canonical;
        const char *party;
        const char *key;
        const char *out;
        const char *dir;
        const char *from_file;
        const char *trust[TRUST_MAX];
        size_t n_trust;
};

static int sheet_handle(int opt, const char *arg, void *userdata) {
        struct sheet_args *a = userdata;

        switch (opt) {
        case ARG_SYSTEM:
                a->system = arg;
                return 0;
        case ARG_CANONICAL:
                a->canonical = true;
                return 0;
        case ARG_PARTY:
                a->party = arg;
                return 0;
        case ARG_SIGN_KEY:
                return remote_signing_key(a->rm, &a->key, arg);
        case ARG_OUT:
                a->out = arg;
                return 0;
        case ARG_DIR:
                a->dir = arg;
                return 0;
        case ARG_FROM_FILE:
                a->from_file = arg;
                return 0;
        case ARG_TRUST:
                if (a->n_trust >= TRUST_MAX) {
                        gcctl_usage_error(a->verb, "--trust: at most %d keys", TRUST_MAX);
                        return -E2BIG;
                }
                a->trust[a->n_trust++] = arg;
                return 0;
        }
        return -EINVAL;
}

static int write_or_fail(const struct remote *rm, const char *path, const void *data, size_t len) {
        int r = gcctl_write_file(path, data, len);
        if (r < 0)
                return remote_fail(rm, "%s: %s", path && strcmp(path, "-") != 0 ? path : "(stdout)", strerror(-r));
        return GCCTL_EXIT_OK;
}

/* Read and strictly parse a bundle; ret_data receives its bytes as read. */
static int bundle_load(const struct remote *rm, const char *path, char **ret_data, size_t *ret_len,
                       cJSON **ret_bundle) {
        _cleanup_(cJSON_Deletep) cJSON *bundle = NULL;
        const char *format;
        int ex;

        ex = remote_load_json(rm, path, SHEET_BUNDLE_MAX, ret_data, ret_len, &bundle);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        format = str_at(bundle, "format");
        if (!format || strcmp(format, SHEET_EXPORT_FORMAT) != 0)
                return remote_fail(rm, "%s: not a sheet export bundle (format \"%s\")", path, SHEET_EXPORT_FORMAT);
        *ret_bundle = TAKE_PTR(bundle);
        return GCCTL_EXIT_OK;
}

/* GET /v1/sheets/ID/export: the body as it came and its parse. */
static int bundle_fetch(struct remote *rm, uint64_t id, char **ret_data, size_t *ret_len, cJSON **ret_bundle) {
        _cleanup_free_ char *path = xasprintf("/v1/sheets/%llu/export", (unsigned long long) id);
        _cleanup_free_ char *data = NULL;
        _cleanup_(cJSON_Deletep) cJSON *bundle = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        const char *format;
        size_t len = 0;
        int ex;

        ex = remote_call_raw(rm, "GET", path, SHEET_BUNDLE_MAX, &data, &len);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (json_parse(data, len, &bundle, &err) < 0)
                return remote_fail(rm, "GET %s: the answer is not strict JSON: %s", path,
                                   gc_error_format(&err, buf, sizeof buf));
        format = str_at(bundle, "format");
        if (!format || strcmp(format, SHEET_EXPORT_FORMAT) != 0)
                return remote_fail(rm, "GET %s: the answer is not a sheet export bundle (format \"%s\")", path,
                                   SHEET_EXPORT_FORMAT);
        if (ret_data)
                *ret_data = TAKE_PTR(data);
        if (ret_len)
                *ret_len = len;
        *ret_bundle = TAKE_PTR(bundle);
        return GCCTL_EXIT_OK;
}

/* --- list --- */

static const char list_usage[] =
        "Usage: gcctl sheet list [--system ID] [OPTIONS]\n"
        "\n"
        "List the confirmation sheets (GET /v1/sheets): go-live (R-LC3), change\n"
        "(R-LC4) and exit (R-LC5), each with the parties that signed it and those\n"
        "still missing; a tenant sees its own unit's. A sheet is complete when the\n"
        "tenant, the provider and the authority have signed it.\n"
        "\n"
        "Options:\n"
        "  --system ID  only this system's sheets\n"
        "  --json       print the orchestrator's answer as JSON\n"
        "  --help       this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl sheet list --system 3\n";

static const struct option list_options[] = {
        { "system", required_argument, NULL, ARG_SYSTEM },
        {}
};

static const struct remote_column sheet_columns[] = {
        { "ID", "id", NULL },
        { "SYSTEM", "system_label", NULL },
        { "KIND", "kind", NULL },
        { "STATE", "state", NULL },
        { "SIGNED", "signed", NULL },
        { "MISSING", "missing", NULL },
        { "CREATED", "created", NULL },
};

static int run_list(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl sheet list" };
        struct sheet_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL, *table = NULL;
        _cleanup_free_ char *path = NULL;
        const cJSON *rows, *row;
        uint64_t system = 0;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, list_usage, list_options, sheet_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.system)
                ex = remote_parse_uint(&rm, "--system", a.system, 1, INT64_MAX, &system);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        path = a.system ? xasprintf("/v1/sheets?system=%llu", (unsigned long long) system) : xstrdup("/v1/sheets");
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, "sheets", cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        /* SYSTEM is the id and the name together. */
        table = cJSON_CreateArray();
        cJSON_ArrayForEach(row, rows) {
                cJSON *copy = cJSON_Duplicate(row, true);
                _cleanup_free_ char *id = remote_render(json_get(row, "system"));
                const char *name = str_at(row, "system_name");
                _cleanup_free_ char *label = name && *name ? xasprintf("%s %s", id, name) : xstrdup(id);
                if (cJSON_IsObject(copy))
                        cJSON_AddStringToObject(copy, "system_label", label);
                cJSON_AddItemToArray(table, copy);
        }
        remote_print_table(table, sheet_columns, ELEMENTSOF(sheet_columns));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- show --- */

static const char show_usage[] =
        "Usage: gcctl sheet show ID [--canonical] [OPTIONS]\n"
        "\n"
        "Show confirmation sheet ID (GET /v1/sheets/ID) as a party reads it before\n"
        "signing: its title, system, unit, state and hash; for a go-live sheet\n"
        "(R-LC3) each VM with its host, addresses, special ports and resources,\n"
        "the recommended and the go-live figures; for a change sheet (R-LC4) each\n"
        "VM's action (核增, 核减, 释放, 调整, 新增) with before and after; then the\n"
        "signatures and the parties still missing. What is shown is read from the\n"
        "canonical bytes, the ones that are signed.\n"
        "\n"
        "Options:\n"
        "  --canonical  print exactly the canonical bytes (RFC 8785) the parties\n"
        "               sign, without a newline: `gcctl sheet show 7 --canonical |\n"
        "               openssl dgst -sm3` is the sheet's hash\n"
        "  --json       print the orchestrator's answer as JSON\n"
        "  --help       this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl sheet show 7\n";

static const struct option show_options[] = {
        { "canonical", no_argument, NULL, ARG_CANONICAL },
        {}
};

/* "4 vCPU, 8 GiB, disks 50+200 GiB" of an object with those members. */
static char *render_resources(const cJSON *v) {
        struct gc_buf b = GC_BUF_INIT(4096);
        const cJSON *vcpus = json_get(v, "vcpus"), *mem = json_get(v, "memory_gib");
        const cJSON *sys = json_get(v, "system_disk_gib"), *data = json_get(v, "data_disk_gib");

        if (!cJSON_IsObject(v))
                return remote_render(v);
        if (vcpus) {
                _cleanup_free_ char *s = remote_render(vcpus);
                (void) gc_buf_printf(&b, "%s vCPU", s);
        }
        if (mem) {
                _cleanup_free_ char *s = remote_render(mem);
                (void) gc_buf_printf(&b, "%s%s GiB", b.len ? ", " : "", s);
        }
        if (sys || data) {
                _cleanup_free_ char *s = remote_render(sys), *d = remote_render(data);
                (void) gc_buf_printf(&b, "%sdisks %s+%s GiB", b.len ? ", " : "", s, d);
        }
        if (b.len == 0)
                (void) gc_buf_append_str(&b, "-");
        return gc_buf_steal(&b, NULL);
}

/* A change's before or after: "10.0.0.2 4 vCPU, 8 GiB, disks 50+200 GiB". */
static char *render_side(const cJSON *v) {
        _cleanup_free_ char *res = NULL, *addr = NULL;

        if (!cJSON_IsObject(v))
                return remote_render(v);
        res = render_resources(v);
        if (!json_get(v, "address"))
                return TAKE_PTR(res);
        addr = remote_render(json_get(v, "address"));
        return xasprintf("%s %s", addr, res);
}

static char *render_action(const cJSON *v) {
        const char *title = cJSON_IsString(v) ? sheet_action_title(v->valuestring) : NULL;
        _cleanup_free_ char *s = remote_render(v);
        return title ? xasprintf("%s %s", s, title) : TAKE_PTR(s);
}

static char *render_party(const cJSON *v) {
        enum sheet_party p;
        _cleanup_free_ char *s = remote_render(v);

        if (!cJSON_IsString(v) || sheet_party_from_string(v->valuestring, &p) < 0)
                return TAKE_PTR(s);
        return xasprintf("%s %s", s, sheet_party_title(p));
}

static const struct remote_column golive_vm_columns[] = {
        { "NAME", "name", NULL },
        { "ROLE", "role", NULL },
        { "HOST", "host", NULL },
        { "ADDRESSES", "addresses", NULL },
        { "SPECIAL PORTS", "special_ports", NULL },
        { "ARCH", "arch", NULL },
        { "ALLOCATED", "allocated", NULL },     /* the VM's own figures, added by print_golive_vms */
        { "RECOMMENDED", "recommended", render_resources },
        { "GO-LIVE", "golive", render_resources },
};

static const struct remote_column change_columns[] = {
        { "NAME", "name", NULL },
        { "ACTION", "action", render_action },
        { "BEFORE", "before", render_side },
        { "AFTER", "after", render_side },
};

static const struct remote_column signature_columns[] = {
        { "PARTY", "party", render_party },
        { "HOLDER", "holder", NULL },
        { "TYPE", "key_type", NULL },
        { "FINGERPRINT", "fingerprint", NULL },
        { "TIME", "time", NULL },
};

static void print_line(const char *name, const cJSON *v) {
        _cleanup_free_ char *s = remote_render(v);
        printf("%s: %s\n", name, s);
}

/* The go-live table: the allocated resources of each VM as one cell. */
static void print_golive_vms(const cJSON *vms) {
        _cleanup_(cJSON_Deletep) cJSON *rows = cJSON_CreateArray();
        const cJSON *vm;

        cJSON_ArrayForEach(vm, vms) {
                cJSON *copy = cJSON_Duplicate(vm, true);
                _cleanup_free_ char *res = render_resources(vm);
                if (cJSON_IsObject(copy))
                        cJSON_AddStringToObject(copy, "allocated", res);
                cJSON_AddItemToArray(rows, copy);
        }
        remote_print_table(rows, golive_vm_columns, ELEMENTSOF(golive_vm_columns));
}

/* R-LC5: why the system left, and every resource released with the
 * certificate of each volume's wipe (R-EX3). */
static void print_exit(const cJSON *exit, const cJSON *released) {
        const cJSON *vm, *vol, *st = json_get(exit, "statement"), *order = json_get(exit, "order"), *net;
        _cleanup_free_ char *ground = remote_render(json_get(exit, "ground"));
        _cleanup_free_ char *initiator = remote_render(json_get(exit, "initiator"));

        printf("exit: initiated by the %s, ground %s\n", initiator, ground);
        if (cJSON_IsTrue(json_get(st, "signed"))) {
                _cleanup_free_ char *at = remote_render(json_get(st, "signed_at")), *who = remote_render(json_get(st, "holder"));
                printf("tenant's statement (data migrated and backed up, R-EX2): signed %s by %s\n", at, who);
        }
        if (cJSON_IsObject(order)) {
                _cleanup_free_ char *g = remote_render(json_get(order, "ground")), *t = remote_render(json_get(order, "time"));
                printf("authority's order (R-EX1): %s, %s\n", g, t);
        }
        printf("\nReleased VMs and their volumes' certificates of sanitization (R-EX3):\n");
        cJSON_ArrayForEach(vm, json_get(released, "vms")) {
                _cleanup_free_ char *name = remote_render(json_get(vm, "name")), *host = remote_render(json_get(vm, "host"));
                _cleanup_free_ char *res = render_resources(json_get(vm, "allocation"));
                printf("  %s on %s: %s\n", name, host, res);
                cJSON_ArrayForEach(vol, json_get(vm, "volumes")) {
                        const cJSON *cert = json_get(vol, "certificate");
                        _cleanup_free_ char *disk = remote_render(json_get(vol, "disk")), *path = remote_render(json_get(vol, "path"));
                        _cleanup_free_ char *method = remote_render(json_get(vol, "method"));
                        _cleanup_free_ char *cat = remote_render(json_get(vol, "category"));
                        _cleanup_free_ char *ver = remote_render(json_get(vol, "verification"));
                        _cleanup_free_ char *res2 = remote_render(json_get(vol, "result"));
                        _cleanup_free_ char *fp = remote_render(json_get(json_get(cert, "signature"), "fingerprint"));
                        printf("    %s %s: %s (%s), verification %s: %s; signed by host key %s\n", disk, path, method, cat, ver,
                               res2, fp);
                }
        }
        if (cJSON_IsObject(net = json_get(released, "network"))) {
                _cleanup_free_ char *vni = remote_render(json_get(net, "vni")), *cidr = remote_render(json_get(net, "cidr"));
                _cleanup_free_ char *addrs = remote_render(json_get(net, "addresses"));
                printf("network released: VXLAN %s, %s, addresses %s\n", vni, cidr, addrs);
        }
}

static void print_document(const cJSON *sheet, const cJSON *doc) {
        const char *kind = str_at(doc, "kind") ?: str_at(sheet, "kind");
        const char *title = sheet_kind_title(kind);
        const cJSON *system = json_get(doc, "system"), *v;
        _cleanup_free_ char *id = remote_render(json_get(sheet, "id"));
        _cleanup_free_ char *k = gcctl_printable(kind ? kind : "?");

        printf("%s (%s), sheet %s\n", title ? title : "confirmation sheet", k, id);
        if (cJSON_IsObject(system)) {
                _cleanup_free_ char *sid = remote_render(json_get(system, "id"));
                _cleanup_free_ char *name = remote_render(json_get(system, "name"));
                printf("system: %s %s\n", sid, name);
                print_line("unit", json_get(system, "unit"));
                if (json_get(system, "pool"))
                        print_line("pool", json_get(system, "pool"));
        } else
                print_line("system", json_get(sheet, "system"));
        print_line("state", json_get(sheet, "state"));
        print_line("hash", json_get(sheet, "hash"));
        print_line("created", json_get(sheet, "created"));
        if (json_get(sheet, "completed"))
                print_line("completed", json_get(sheet, "completed"));
        v = json_get(doc, "request");
        if (cJSON_IsObject(v)) {
                print_line("request", json_get(v, "id"));
                print_line("approval", json_get(v, "approval"));
        }
        if (cJSON_IsObject(v = json_get(doc, "network"))) {
                _cleanup_free_ char *vni = remote_render(json_get(v, "vni"));
                _cleanup_free_ char *cidr = remote_render(json_get(v, "cidr"));
                _cleanup_free_ char *gw = remote_render(json_get(v, "gateway"));
                printf("network: VXLAN %s, %s, gateway %s\n", vni, cidr, gw);
        }
        if ((v = json_get(doc, "opening_time")))
                print_line("opening time", v);
        if (cJSON_IsObject(v = json_get(doc, "trial"))) {
                _cleanup_free_ char *start = remote_render(json_get(v, "start"));
                _cleanup_free_ char *end = remote_render(json_get(v, "end"));
                _cleanup_free_ char *len = remote_render(json_get(v, "length"));
                _cleanup_free_ char *unit = remote_render(json_get(v, "unit"));
                printf("trial: %s to %s (%s %s)\n", start, end, len, unit);
        }

        if (cJSON_IsArray(v = json_get(doc, "vms"))) {
                printf("\nVMs:\n");
                print_golive_vms(v);
        }
        if (cJSON_IsObject(v = json_get(doc, "totals"))) {
                _cleanup_free_ char *t = render_resources(v);
                _cleanup_free_ char *n = remote_render(json_get(v, "vms"));
                printf("totals: %s VMs, %s\n", n, t);
        }
        if (cJSON_IsArray(v = json_get(doc, "changes"))) {
                printf("\nChanges:\n");
                remote_print_table(v, change_columns, ELEMENTSOF(change_columns));
        }
        if (cJSON_IsObject(v = json_get(doc, "totals_before"))) {
                _cleanup_free_ char *b = render_resources(v), *n = remote_render(json_get(v, "vms"));
                printf("totals before: %s VMs, %s\n", n, b);
        }
        if (cJSON_IsObject(v = json_get(doc, "totals_after"))) {
                _cleanup_free_ char *b = render_resources(v), *n = remote_render(json_get(v, "vms"));
                printf("totals after: %s VMs, %s\n", n, b);
        }

        if (cJSON_IsObject(v = json_get(doc, "exit")))
                print_exit(v, json_get(doc, "released"));

        printf("\nSignatures:\n");
        remote_print_table(json_get(sheet, "signatures"), signature_columns, ELEMENTSOF(signature_columns));
        v = json_get(sheet, "missing");
        if (cJSON_GetArraySize(v) > 0) {
                const cJSON *m;
                printf("missing:");
                cJSON_ArrayForEach(m, v) {
                        _cleanup_free_ char *s = render_party(m);
                        printf(" %s%s", s, m->next ? "," : "");
                }
                printf("\n");
        } else
                printf("missing: none, the sheet is complete\n");
}

/* GET /v1/sheets/ID and its "sheet". */
static int sheet_fetch(struct remote *rm, uint64_t id, cJSON **ret_answer, const cJSON **ret_sheet) {
        _cleanup_free_ char *path = xasprintf("/v1/sheets/%llu", (unsigned long long) id);
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        long status;
        int ex;

        ex = remote_call(rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        ex = remote_member(rm, answer, "sheet", cJSON_Object, ret_sheet);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        *ret_answer = TAKE_PTR(answer);
        return GCCTL_EXIT_OK;
}

static int run_show(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl sheet show" };
        struct sheet_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL, *doc = NULL;
        const cJSON *sheet;
        const char *canonical;
        uint64_t id;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, show_usage, show_options, sheet_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (a.canonical && gcctl_global.json)
                return gcctl_usage_error(rm.verb, "--canonical and --json exclude each other");

        /* --json prints the answer as it is, also a refusal (remote_call). */
        ex = sheet_fetch(&rm, id, &answer, &sheet);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        canonical = str_at(sheet, "canonical");
        if (a.canonical) {
                if (!canonical)
                        return remote_fail(&rm, "unexpected answer: the sheet has no \"canonical\" string");
                return write_or_fail(&rm, NULL, canonical, strlen(canonical));
        }
        /* Show what is signed: the canonical bytes, else the document object. */
        if (!canonical || json_parse(canonical, strlen(canonical), &doc, NULL) < 0) {
                fprintf(stderr, "%s: the sheet's canonical bytes are missing or do not parse; showing "
                        "its \"document\"\n", rm.verb);
                doc = cJSON_Duplicate(json_get(sheet, "document"), true);
        }
        print_document(sheet, doc);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- sign --- */

static const char sign_usage[] =
        "Usage: gcctl sheet sign ID --party tenant|provider|authority --key KEY.pem\n"
        "                        [OPTIONS]\n"
        "\n"
        "Sign confirmation sheet ID as one of its three parties (R-LC3, R-LC4,\n"
        "R-LC5). The sheet's canonical bytes are fetched (GET /v1/sheets/ID) and\n"
        "checked first: they must be their own canonical form (RFC 8785), hash to\n"
        "the sheet's hash with its algorithm, and be the document the server\n"
        "shows; a sheet that fails any of these is not signed. Then they are\n"
        "signed with KEY.pem, the party's private key registered with\n"
        "`gcctl key add` (SM2 with SM3 and the distinguishing id 1234567812345678,\n"
        "or Ed25519, as the document's crypto.signature requires, R-SC4), and the\n"
        "signature is sent (POST /v1/sheets/ID/signatures). The key never leaves\n"
        "this machine. The client certificate's role must be the party.\n"
        "\n"
        "Prints \"signed sheet ID as PARTY with FINGERPRINT; missing: ...\", or\n"
        "\"...; sheet ID is complete\" after the last signature. A refusal (a\n"
        "revoked or unknown key, the wrong party, a party that signed already)\n"
        "is printed with its field, value and rule, exit status 1.\n"
        "\n"
        "Options:\n"
        "  --party PARTY  tenant, provider or authority (required)\n"
        "  --key KEY.pem  the party's private key, PEM, not encrypted (required);\n"
        "                 the connection's key is --client-key here, or a\n"
        "                 second --key after this one\n"
        "  --json         print the orchestrator's answer as JSON\n"
        "  --help         this text\n"
        REMOTE_OPTIONS_HELP_CLIENT_KEY
        "\n"
        "Example:\n"
        "  gcctl sheet show 7\n"
        "  gcctl sheet sign 7 --party tenant --key tenant-zhangsan.pem\n";

static const struct option sign_options[] = {
        { "party", required_argument, NULL, ARG_PARTY },
        { "key", required_argument, NULL, ARG_SIGN_KEY },
        REMOTE_CLIENT_KEY_OPTION,
        {}
};

/*
 * The checks before signing: canonical is its own canonical form, hash is
 * "<alg>:<hex>" of it by the algorithm the document names, its format is a
 * sheet's (sheet_bundle_verify on a bundle without signatures), and the
 * server's document object is the same document.
 */
static int sign_check(const struct remote *rm, uint64_t id, const cJSON *sheet, cJSON **ret_doc) {
        _cleanup_(cJSON_Deletep) cJSON *probe = NULL, *doc = NULL;
        const char *canonical = str_at(sheet, "canonical"), *hash = str_at(sheet, "hash");
        const cJSON *shown = json_get(sheet, "document");
        struct sheet_report rep;
        int r;

        if (!canonical || !hash)
                return remote_fail(rm, "not signing sheet %llu: the answer has no \"canonical\" and \"hash\" strings",
                                   (unsigned long long) id);
        probe = cJSON_CreateObject();
        cJSON_AddStringToObject(probe, "format", SHEET_EXPORT_FORMAT);
        cJSON_AddStringToObject(probe, "document", canonical);
        cJSON_AddStringToObject(probe, "hash", hash);
        cJSON_AddArrayToObject(probe, "signatures");
        r = sheet_bundle_verify(probe, NULL, 0, &rep);
        if (r == -EINVAL || !rep.format_ok || !rep.canonical || !rep.hash_matches) {
                _cleanup_free_ char *msg = gcctl_printable(rep.message);
                return remote_fail(rm, "not signing sheet %llu: %s", (unsigned long long) id, msg);
        }
        if (json_parse(canonical, strlen(canonical), &doc, NULL) < 0)
                return remote_fail(rm, "not signing sheet %llu: its canonical bytes do not parse",
                                   (unsigned long long) id);
        if (shown && !cJSON_Compare(shown, doc, true))
                return remote_fail(rm, "not signing sheet %llu: the document the server shows is not the one "
                                   "its canonical bytes hold", (unsigned long long) id);
        *ret_doc = TAKE_PTR(doc);
        return GCCTL_EXIT_OK;
}

static void print_missing(const cJSON *missing) {
        const cJSON *m;

        cJSON_ArrayForEach(m, missing) {
                _cleanup_free_ char *s = remote_render(m);
                printf("%s%s", s, m->next ? ", " : "");
        }
}

static int run_sign(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl sheet sign" };
        struct sheet_args a = { .verb = rm.verb, .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL, *doc = NULL, *body = NULL, *result = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *fp = NULL, *b64 = NULL, *path = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        const cJSON *sheet, *after, *missing;
        const char *canonical, *want;
        enum sheet_party party;
        enum gc_key_type type;
        size_t siglen = 0;
        char msg[192];
        uint64_t id;
        long status;
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, sign_usage, sign_options, sheet_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (!a.party)
                return gcctl_usage_error(rm.verb, "--party is required: tenant, provider or authority");
        if (sheet_party_from_string(a.party, &party) < 0)
                return gcctl_usage_error(rm.verb, "--party: \"%s\" is not tenant, provider or authority", a.party);
        if (!a.key)
                return gcctl_usage_error(rm.verb, "--key KEY.pem is required: the party's private key");

        r = crypto_key_load_private(a.key, &key);
        if (r == -EINVAL && crypto_key_load_public(a.key, &key) >= 0)
                return remote_fail(&rm, "%s: a public key; signing needs the party's private key", a.key);
        if (r < 0)
                return remote_fail(&rm, "%s: %s", a.key, remote_key_error(r, true, msg, sizeof msg));
        if (crypto_key_fingerprint(key, &fp) < 0 || crypto_key_type(key, &type) < 0)
                return remote_fail(&rm, "%s: cannot read the key", a.key);

        ex = sheet_fetch(&rm, id, &answer, &sheet);
        ex = ex ?: sign_check(&rm, id, sheet, &doc);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        /* R-SC4: a key of another algorithm than the document's is the
         * server's to refuse (key_type), so that the attempt is audited. */
        want = str_at(json_get(doc, "crypto"), "signature");
        if (!want || strcmp(want, crypto_key_type_to_string(type)) != 0)
                fprintf(stderr, "%s: warning: %s is an %s key, but sheet %llu takes %s signatures "
                        "(crypto.signature, R-SC4)\n", rm.verb, a.key, crypto_key_type_to_string(type),
                        (unsigned long long) id, want ? want : "no");

        canonical = str_at(sheet, "canonical");
        r = crypto_sign(key, canonical, strlen(canonical), &sig, &siglen);
        if (r < 0)
                return remote_fail(&rm, "%s: signing failed: %s", a.key, strerror(-r));
        b64 = crypto_base64(sig, siglen);

        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "party", sheet_party_to_string(party));
        cJSON_AddStringToObject(body, "fingerprint", fp);
        cJSON_AddStringToObject(body, "signature", b64);
        path = xasprintf("/v1/sheets/%llu/signatures", (unsigned long long) id);
        ex = remote_call_json(&rm, "POST", path, body, &status, &result);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(result);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, result, "sheet", cJSON_Object, &after);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        missing = json_get(after, "missing");
        printf("signed sheet %llu as %s with %s; ", (unsigned long long) id, sheet_party_to_string(party), fp);
        if (cJSON_GetArraySize(missing) > 0) {
                printf("missing: ");
                print_missing(missing);
                printf("\n");
        } else
                printf("sheet %llu is complete\n", (unsigned long long) id);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- export --- */

static const char export_usage[] =
        "Usage: gcctl sheet export ID [-o FILE] [--dir DIR] [OPTIONS]\n"
        "       gcctl sheet export --from-file BUNDLE --dir DIR [-o FILE]\n"
        "\n"
        "Write the export bundle of confirmation sheet ID (GET\n"
        "/v1/sheets/ID/export), exactly as the orchestrator sent it, to FILE or\n"
        "standard output. The bundle (gc-sheet-export/1) holds the document's\n"
        "canonical bytes, their hash, and each party's signature with its public\n"
        "key: `gcctl sheet verify` checks it offline.\n"
        "\n"
        "With --dir DIR, also write the files to verify it with openssl alone:\n"
        "  sheet.json        the document's exact bytes (no newline at the end)\n"
        "  sheet.hash        the hash, \"sm3:<hex>\" or \"sha256:<hex>\"\n"
        "  PARTY.pem         each signer's public key (tenant, provider, authority)\n"
        "  PARTY.sig         its signature, raw bytes\n"
        "  PARTY.alg         sm2 or ed25519\n"
        "  VERIFY.txt        the openssl commands that check the hash and every\n"
        "                    signature; `sh VERIFY.txt` in DIR runs them\n"
        "An SM2 signature checks with\n"
        "  openssl pkeyutl -verify -pubin -inkey tenant.pem -rawin -in sheet.json \\\n"
        "      -digest sm3 -pkeyopt distid:1234567812345678 -sigfile tenant.sig\n"
        "\n"
        "Options:\n"
        "  -o, --out FILE      write the bundle to FILE (default: standard output)\n"
        "  --dir DIR           also write the files above into DIR (made if need be)\n"
        "  --from-file BUNDLE  take a bundle saved before instead of asking the\n"
        "                      orchestrator (no ID then, no connection)\n"
        "  --help              this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Examples:\n"
        "  gcctl sheet export 7 -o sheet-7.json --dir sheet-7\n"
        "  gcctl sheet export --from-file sheet-7.json --dir sheet-7 -o /dev/null\n";

static const struct option export_options[] = {
        { "out", required_argument, NULL, ARG_OUT },
        { "dir", required_argument, NULL, ARG_DIR },
        { "from-file", required_argument, NULL, ARG_FROM_FILE },
        {}
};

static int dir_write(const struct remote *rm, const char *dir, const char *name, const void *data, size_t len) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        return write_or_fail(rm, path, data, len);
}

/*
 * The files of --dir: the document's bytes, its hash, each signature's key,
 * raw signature and algorithm, and VERIFY.txt, a shell script of openssl
 * commands. Nothing from the bundle reaches the script but what is checked
 * here: party names are the three known ones, the hash algorithm sm3 or
 * sha256, and free text (holders, fingerprints) only in comments without
 * control characters.
 */
static int export_dir(const struct remote *rm, const cJSON *bundle, const char *dir) {
        struct gc_buf script = GC_BUF_INIT(1024 * 1024);
        const char *document = str_at(bundle, "document"), *hash = str_at(bundle, "hash");
        const char *colon = hash ? strchr(hash, ':') : NULL;
        _cleanup_free_ char *alg_name = NULL, *hash_line = NULL;
        size_t count[_SHEET_PARTY_MAX] = {};
        enum gc_hash_alg alg;
        const cJSON *sig;
        int ex;

        if (!document)
                return remote_fail(rm, "the bundle has no \"document\" string");
        if (!colon)
                return remote_fail(rm, "the bundle's hash \"%s\" is not <alg>:<hex>", hash ? hash : "");
        alg_name = xstrndup(hash, colon - hash);
        if (crypto_hash_from_string(alg_name, &alg) < 0 || strcmp(alg_name, crypto_hash_to_string(alg)) != 0)
                return remote_fail(rm, "the bundle's hash algorithm \"%s\" is not sm3 or sha256", alg_name);
        for (const char *p = colon + 1; *p; p++)
                if (!strchr("0123456789abcdef", *p))
                        return remote_fail(rm, "the bundle's hash \"%s\" is not lowercase hex", hash);

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return remote_fail(rm, "%s: %s", dir, strerror(errno));

        ex = dir_write(rm, dir, "sheet.json", document, strlen(document));
        hash_line = xasprintf("%s\n", hash);
        ex = ex ?: dir_write(rm, dir, "sheet.hash", hash_line, strlen(hash_line));
        if (ex != GCCTL_EXIT_OK)
                return ex;

        (void) gc_buf_printf(&script,
                             "# Verify this confirmation sheet with openssl alone: run `sh VERIFY.txt`\n"
                             "# in this directory, or each command by hand. Every command must succeed;\n"
                             "# openssl pkeyutl prints \"Signature Verified Successfully\" for a good\n"
                             "# signature. What is hashed and signed is sheet.json, byte for byte.\n"
                             "set -e\n"
                             "\n"
                             "# The hash: the hex after \"%s:\" in sheet.hash is the digest of sheet.json.\n"
                             "openssl dgst -%s sheet.json\n"
                             "test \"%s:$(openssl dgst -%s -r sheet.json | cut -d' ' -f1)\" = \"$(cat sheet.hash)\"\n",
                             alg_name, alg_name, alg_name, alg_name);

        cJSON_ArrayForEach(sig, json_get(bundle, "signatures")) {
                const char *party_s = str_at(sig, "party"), *pem = str_at(sig, "public_key");
                const char *sig_b64 = str_at(sig, "signature"), *claimed = str_at(sig, "key_type");
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
                _cleanup_free_ uint8_t *raw = NULL;
                _cleanup_free_ char *base = NULL, *name = NULL, *holder = NULL, *fp = NULL, *alg_line = NULL;
                enum sheet_party party;
                enum gc_key_type type;
                size_t rawlen = 0;

                if (sheet_party_from_string(party_s, &party) < 0 || !pem || !sig_b64)
                        return remote_fail(rm, "a signature of party \"%s\" lacks party, public_key or signature",
                                           party_s ? party_s : "");
                if (crypto_key_public_from_pem(pem, strlen(pem), &key) >= 0 && crypto_key_type(key, &type) >= 0)
                        ;
                else if (!claimed || crypto_key_type_from_string(claimed, &type) < 0)
                        return remote_fail(rm, "%s: the key is neither SM2 nor Ed25519", party_s);
                if (crypto_unbase64(sig_b64, &raw, &rawlen) < 0)
                        return remote_fail(rm, "%s: the signature is not base64", party_s);

                /* A party twice (never from a sound server) gets tenant-2.pem, ... */
                base = count[party]++ ? xasprintf("%s-%zu", party_s, count[party]) : xstrdup(party_s);
                name = xasprintf("%s.pem", base);
                ex = dir_write(rm, dir, name, pem, strlen(pem));
                free(name);
                name = xasprintf("%s.sig", base);
                ex = ex ?: dir_write(rm, dir, name, raw, rawlen);
                free(name);
                name = xasprintf("%s.alg", base);
                alg_line = xasprintf("%s\n", crypto_key_type_to_string(type));
                ex = ex ?: dir_write(rm, dir, name, alg_line, strlen(alg_line));
                if (ex != GCCTL_EXIT_OK)
                        return ex;

                holder = gcctl_printable(str_at(sig, "holder"));
                fp = gcctl_printable(str_at(sig, "fingerprint"));
                (void) gc_buf_printf(&script, "\n# %s %s: %s, key %s\n", party_s, sheet_party_title(party), holder, fp);
                if (type == GC_KEY_SM2)
                        (void) gc_buf_printf(&script,
                                             "openssl pkeyutl -verify -pubin -inkey %s.pem -rawin -in sheet.json "
                                             "-digest sm3 -pkeyopt distid:" GC_SM2_DISTID " -sigfile %s.sig\n",
                                             base, base);
                else
                        (void) gc_buf_printf(&script,
                                             "openssl pkeyutl -verify -pubin -inkey %s.pem -rawin -in sheet.json "
                                             "-sigfile %s.sig\n", base, base);
        }
        ex = dir_write(rm, dir, "VERIFY.txt", script.data, script.len);
        gc_buf_free(&script);
        return ex;
}

static int run_export(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl sheet export" };
        struct sheet_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *bundle = NULL;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        uint64_t id;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, export_usage, export_options, sheet_handle, &a, &ex);
        if (i < 0)
                return ex;
        if (a.from_file) {
                ex = remote_operands(&rm, argc, argv, i, 0, "nothing (--from-file takes the place of ID)");
                ex = ex ?: bundle_load(&rm, a.from_file, &data, &len, &bundle);
        } else {
                ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
                ex = ex ?: bundle_fetch(&rm, id, &data, &len, &bundle);
        }
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = write_or_fail(&rm, a.out, data, len);
        if (ex == GCCTL_EXIT_OK && a.dir)
                ex = export_dir(&rm, bundle, a.dir);
        return ex;
}

/* --- verify --- */

static const char verify_usage[] =
        "Usage: gcctl sheet verify FILE [--trust PUB.pem]... [OPTIONS]\n"
        "\n"
        "Verify a sheet export bundle (`gcctl sheet export`) offline, without the\n"
        "orchestrator: the document is its own canonical form (RFC 8785) and a\n"
        "sheet's; its hash is the one of those bytes, by the algorithm the\n"
        "document names (R-SC4); each signature's key matches its fingerprint and\n"
        "the document's signature algorithm, and the signature verifies over the\n"
        "document's bytes; the tenant, the provider and the authority each signed\n"
        "exactly once (R-LC3, R-LC4, R-LC5).\n"
        "\n"
        "Without --trust, the keys the bundle carries are taken as they are: the\n"
        "bundle is then consistent, but anyone could have made it. With --trust,\n"
        "every signature must be by one of the keys given: the parties' public\n"
        "keys, obtained from them or from `gcctl key list` beforehand.\n"
        "\n"
        "Prints one line per signature (party, holder, fingerprint, valid or not,\n"
        "trusted or not) and a verdict. Exit status 0 when the sheet is complete\n"
        "and every check passes, 1 otherwise, with the first problem named.\n"
        "\n"
        "Options:\n"
        "  --trust PUB.pem  accept signatures by this public key (SM2 or Ed25519,\n"
        "                   PEM; a private key file works too); once per key, up\n"
        "                   to 16\n"
        "  --json           print {\"file\", \"id\", \"kind\", \"format_ok\",\n"
        "                   \"canonical\", \"hash_matches\", \"signatures\": [...],\n"
        "                   \"missing\", \"complete\", \"message\"}; the exit status\n"
        "                   is the same\n"
        "  --help           this text\n"
        "Nothing is sent anywhere: the connection options of the other verbs\n"
        "(--server, --cert, ...) are accepted and not used.\n"
        "\n"
        "Examples:\n"
        "  gcctl sheet verify sheet-7.json\n"
        "  gcctl sheet verify sheet-7.json --trust tenant.pub.pem \\\n"
        "      --trust provider.pub.pem --trust authority.pub.pem\n";

static const struct option verify_options[] = {
        { "trust", required_argument, NULL, ARG_TRUST },
        {}
};

static int trust_fingerprint(const struct remote *rm, const char *path, char **ret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        char msg[192];
        int r;

        r = crypto_key_load_public(path, &key);
        if (r == -EINVAL && crypto_key_load_private(path, &key) >= 0)
                r = 0;
        if (r < 0)
                return remote_fail(rm, "--trust %s: %s", path, remote_key_error(r, false, msg, sizeof msg));
        if (crypto_key_fingerprint(key, ret) < 0)
                return remote_fail(rm, "--trust %s: cannot read the key", path);
        return GCCTL_EXIT_OK;
}

static const char *party_name(enum sheet_party p) {
        return sheet_party_to_string(p) ?: "?";
}

static cJSON *report_json(const char *file, const struct sheet_report *rep, bool trust_given) {
        cJSON *o = cJSON_CreateObject(), *sigs, *missing;

        cJSON_AddStringToObject(o, "file", file);
        cJSON_AddNumberToObject(o, "id", (double) rep->id);
        cJSON_AddStringToObject(o, "kind", rep->kind);
        cJSON_AddBoolToObject(o, "format_ok", rep->format_ok);
        cJSON_AddBoolToObject(o, "canonical", rep->canonical);
        cJSON_AddBoolToObject(o, "hash_matches", rep->hash_matches);
        cJSON_AddBoolToObject(o, "trust_given", trust_given);
        sigs = cJSON_AddArrayToObject(o, "signatures");
        for (size_t k = 0; k < rep->n_sigs; k++) {
                const struct sheet_signature_report *s = &rep->sigs[k];
                cJSON *e = cJSON_CreateObject();
                if (s->party < _SHEET_PARTY_MAX)
                        cJSON_AddStringToObject(e, "party", party_name(s->party));
                else
                        cJSON_AddNullToObject(e, "party");
                cJSON_AddStringToObject(e, "holder", s->holder);
                cJSON_AddStringToObject(e, "fingerprint", s->fingerprint);
                cJSON_AddStringToObject(e, "key_type", s->key_type);
                cJSON_AddStringToObject(e, "time", s->time);
                cJSON_AddBoolToObject(e, "valid", s->valid);
                cJSON_AddBoolToObject(e, "trusted", s->valid && s->trusted);
                cJSON_AddStringToObject(e, "problem", s->problem);
                cJSON_AddItemToArray(sigs, e);
        }
        missing = cJSON_AddArrayToObject(o, "missing");
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                if (!rep->parties[p])
                        cJSON_AddItemToArray(missing, cJSON_CreateString(party_name(p)));
        cJSON_AddBoolToObject(o, "complete", rep->complete);
        cJSON_AddStringToObject(o, "message", rep->message);
        return o;
}

static void report_print(const struct sheet_report *rep, bool trust_given) {
        static const char *const headers[] = { "PARTY", "HOLDER", "FINGERPRINT", "SIGNATURE", "TRUSTED", "PROBLEM" };
        struct gcctl_table *t;
        const char *title = sheet_kind_title(rep->kind);

        printf("sheet %ld: %s (%s)\n", rep->id, title ? title : "?", rep->kind[0] ? rep->kind : "?");
        printf("document: %s, %s, %s\n", rep->format_ok ? "a sheet (" SHEET_FORMAT ")" : "NOT a sheet",
               rep->canonical ? "canonical" : "NOT canonical",
               rep->hash_matches ? "hash matches" : "hash does NOT match");
        if (rep->n_sigs == 0)
                printf("signatures: none\n");
        else {
                t = gcctl_table_new(ELEMENTSOF(headers), headers);
                for (size_t k = 0; k < rep->n_sigs; k++) {
                        const struct sheet_signature_report *s = &rep->sigs[k];
                        _cleanup_free_ char *holder = gcctl_printable(s->holder[0] ? s->holder : "-");
                        _cleanup_free_ char *fp = gcctl_printable(s->fingerprint[0] ? s->fingerprint : "-");
                        _cleanup_free_ char *problem = gcctl_printable(s->problem[0] ? s->problem : "-");
                        const char *trusted = !s->valid ? "-" : !trust_given ? "(no --trust)" : s->trusted ? "yes" : "no";
                        const char *cells[] = { party_name(s->party), holder, fp, s->valid ? "valid" : "invalid",
                                                trusted, problem };
                        gcctl_table_add(t, cells);
                }
                gcctl_table_print(t);
                gcctl_table_free(t);
        }
        if (rep->complete)
                printf("verdict: complete: the tenant, the provider and the authority each signed these exact "
                       "bytes%s\n", trust_given ? " with a trusted key" : "");
        else {
                _cleanup_free_ char *msg = gcctl_printable(rep->message);
                printf("verdict: NOT complete: %s\n", msg);
        }
}

static int run_verify(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl sheet verify" };
        struct sheet_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *bundle = NULL;
        char *fps[TRUST_MAX] = {};
        struct sheet_report rep;
        int ex, i, r;

        /* Offline; connection options are accepted, for scripts that add
         * them to every command, and not used. */
        i = remote_parse_options(&rm, argc, argv, verify_usage, verify_options, sheet_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "FILE");
        if (ex != GCCTL_EXIT_OK)
                return ex;

        for (size_t k = 0; k < a.n_trust && ex == GCCTL_EXIT_OK; k++)
                ex = trust_fingerprint(&rm, a.trust[k], &fps[k]);
        ex = ex ?: bundle_load(&rm, argv[i], NULL, NULL, &bundle);
        if (ex == GCCTL_EXIT_OK) {
                r = sheet_bundle_verify(bundle, (const char *const *) fps, a.n_trust, &rep);
                if (r == -EINVAL) {
                        _cleanup_free_ char *msg = gcctl_printable(rep.message);
                        ex = remote_fail(&rm, "%s: %s", argv[i], msg);
                } else {
                        if (gcctl_global.json) {
                                _cleanup_(cJSON_Deletep) cJSON *o = report_json(argv[i], &rep, a.n_trust > 0);
                                gcctl_print_json(o);
                        } else
                                report_print(&rep, a.n_trust > 0);
                        if (fflush(stdout) != 0)
                                ex = GCCTL_EXIT_FAIL;
                        else if (r < 0) {
                                _cleanup_free_ char *msg = gcctl_printable(rep.message);
                                ex = remote_fail(&rm, "%s: %s", argv[i], msg);
                        }
                }
        }
        for (size_t k = 0; k < a.n_trust; k++)
                free(fps[k]);
        return ex;
}

/* --- html --- */

static const char html_usage[] =
        "Usage: gcctl sheet html ID|FILE [-o OUT] [OPTIONS]\n"
        "\n"
        "Write the printable page of a confirmation sheet: one self-contained\n"
        "HTML5 file (UTF-8, inline CSS, no scripts, nothing fetched), laid out as\n"
        "the paper forms are, with a row per VM or per change and the three\n"
        "parties' signature blocks (signer, key fingerprint, time). The operand is\n"
        "an export bundle FILE if such a file exists, else a sheet ID whose\n"
        "bundle is fetched (GET /v1/sheets/ID/export).\n"
        "\n"
        "The page shows what the bundle says; it is checked here as `gcctl sheet\n"
        "verify` does (without --trust), and a bundle that does not verify gets a\n"
        "warning on standard error, but its page is still written.\n"
        "\n"
        "Options:\n"
        "  -o, --out OUT  write the page to OUT (default: standard output)\n"
        "  --help         this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Examples:\n"
        "  gcctl sheet html 7 -o sheet-7.html\n"
        "  gcctl sheet html sheet-7.json -o sheet-7.html\n";

static const struct option html_options[] = {
        { "out", required_argument, NULL, ARG_OUT },
        {}
};

static bool is_regular_file(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int run_html(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl sheet html" };
        struct sheet_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *bundle = NULL;
        struct gc_buf page = GC_BUF_INIT(SHEET_HTML_MAX);
        struct sheet_report rep;
        uint64_t id;
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, html_usage, html_options, sheet_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "ID or FILE");
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (is_regular_file(argv[i]) || strcmp(argv[i], "-") == 0)
                ex = bundle_load(&rm, argv[i], NULL, NULL, &bundle);
        else {
                /* Not a file: an ID, or a usage error naming both. */
                bool digits = argv[i][0] != '\0' && strspn(argv[i], "0123456789") == strlen(argv[i]);
                if (!digits)
                        return gcctl_usage_error(rm.verb, "\"%s\" is neither an existing file nor a sheet ID", argv[i]);
                ex = remote_parse_uint(&rm, "ID", argv[i], 1, INT64_MAX, &id);
                ex = ex ?: bundle_fetch(&rm, id, NULL, NULL, &bundle);
        }
        if (ex != GCCTL_EXIT_OK)
                return ex;

        if (sheet_bundle_verify(bundle, NULL, 0, &rep) < 0) {
                _cleanup_free_ char *msg = gcctl_printable(rep.message);
                fprintf(stderr, "%s: warning: the sheet does not verify: %s\n", rm.verb, msg);
        }
        r = sheet_html(bundle, &page);
        if (r < 0) {
                gc_buf_free(&page);
                return remote_fail(&rm, "%s: %s", argv[i], r == -EINVAL ? "the bundle's document does not parse"
                                                                        : strerror(-r));
        }
        ex = write_or_fail(&rm, a.out, page.data, page.len);
        gc_buf_free(&page);
        return ex;
}

const struct gcctl_verb gcctl_sheet_verbs[] = {
        { "list", "confirmation sheets, who signed and who is missing", list_usage, run_list, NULL },
        { "show", "one sheet as a party reads it before signing", show_usage, run_show, NULL },
        { "sign", "check a sheet's bytes and sign them as a party (R-LC3..5)", sign_usage, run_sign, NULL },
        { "export", "the export bundle, and files to verify it with openssl", export_usage, run_export, NULL },
        { "verify", "verify an export bundle offline", verify_usage, run_verify, NULL },
        { "html", "the printable page of a sheet", html_usage, run_html, NULL },
        {}
};
