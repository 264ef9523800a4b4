/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcctl audit list | checkpoints | checkpoint | countersign | export | verify
 *
 * The audit chain (R-AU1..R-AU3, common/auditchain.h): records linked by
 * their hashes, checkpoints of its head signed by the orchestrator's
 * service key and countersigned by the authority, and segments that verify
 * offline with the same code the orchestrator uses.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "auditchain.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/error.h"
#include "gcctl.h"
#include "json.h"
#include "remote.h"

#define AUDIT_LIMIT_MAX 1000
/* A segment of a million records is about 500 MB; the live chain may be more. */
#define AUDIT_SEGMENT_MAX (2048ull * 1024 * 1024)
/* Checkpoints asked for per page when looking them all up. */
#define CHECKPOINT_PAGE 100
#define COUNTERSIGN_IDS_MAX 64

enum {
        ARG_OUT = 'o',                  /* -o, --out */
        ARG_AFTER = 0x100,
        ARG_LIMIT,
        ARG_FROM,
        ARG_TO,
        ARG_SIGN_KEY,
};

struct audit_args {
        struct remote *rm;              /* for a second --key (countersign) */
        const char *after;
        const char *limit;
        const char *from;
        const char *to;
        const char *out;
        const char *key;
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
        case ARG_FROM:
                a->from = arg;
                return 0;
        case ARG_TO:
                a->to = arg;
                return 0;
        case ARG_OUT:
                a->out = arg;
                return 0;
        case ARG_SIGN_KEY:
                return remote_signing_key(a->rm, &a->key, arg);
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

static char *paged_path(const char *base, uint64_t after, uint64_t limit) {
        if (limit)
                return xasprintf("%s?after=%llu&limit=%llu", base, (unsigned long long) after, (unsigned long long) limit);
        return xasprintf("%s?after=%llu", base, (unsigned long long) after);
}

/* GET BASE?after=&limit= and print the KEY array as a table: audit list
 * and audit checkpoints page alike. */
static int run_paged(int argc, char **argv, const char *verb, const char *usage, const struct option *options,
                     const char *base, const char *key, const struct remote_column *columns, size_t n_columns) {
        _cleanup_(remote_done) struct remote rm = { .verb = verb };
        struct audit_args a = {};
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t after = 0, limit = 0;
        const cJSON *rows;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, usage, options, audit_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.after)
                ex = remote_parse_uint(&rm, "--after", a.after, 0, INT64_MAX, &after);
        if (ex == GCCTL_EXIT_OK && a.limit)
                ex = remote_parse_uint(&rm, "--limit", a.limit, 1, AUDIT_LIMIT_MAX, &limit);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        path = paged_path(base, after, limit);
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, key, cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_table(rows, columns, n_columns);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

static int run_list(int argc, char **argv) {
        return run_paged(argc, argv, "gcctl audit list", list_usage, list_options, "/v1/audit", "records",
                         audit_columns, ELEMENTSOF(audit_columns));
}

/* --- checkpoints --- */

/* Unix seconds as RFC 3339 UTC; anything else as it is. */
static char *render_unix_time(const cJSON *v) {
        struct tm tm;
        char buf[64];
        time_t t;

        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 253402300799.0 ||
            v->valuedouble != (double) (int64_t) v->valuedouble)
                return remote_render(v);
        t = (time_t) v->valuedouble;
        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return remote_render(v);
        return xstrdup(buf);
}

/* "sm3:1a2b3c4d5e6f…": enough of a head to tell checkpoints apart. */
static char *render_head(const cJSON *v) {
        _cleanup_free_ char *s = remote_render(v);
        const char *colon = strchr(s, ':');

        if (!colon || strlen(colon + 1) <= 12)
                return TAKE_PTR(s);
        return xasprintf("%.*s…", (int) (colon + 1 - s + 12), s);
}

static char *render_count(const cJSON *v) {
        return cJSON_IsArray(v) ? xasprintf("%d", cJSON_GetArraySize(v)) : remote_render(v);
}

static const struct remote_column checkpoint_columns[] = {
        { "ID", "id", NULL },
        { "SEQ", "seq", NULL },
        { "TIME", "time", render_unix_time },
        { "HEAD", "head", render_head },
        { "SIGNER FINGERPRINT", "signer.fingerprint", NULL },
        { "COUNTERSIGNED", "countersignatures", render_count },
};

static const char checkpoints_usage[] =
        "Usage: gcctl audit checkpoints [--after ID] [--limit N] [OPTIONS]\n"
        "\n"
        "List the checkpoints of the audit chain (GET /v1/audit/checkpoints; the\n"
        "authority's and the provider's roles). A checkpoint commits to the chain's\n"
        "head at one record: the orchestrator signs it with its service key, and\n"
        "the authority countersigns it (`gcctl audit countersign`), so that no one\n"
        "can rewrite the records before it unnoticed (R-AU3). HEAD is the hash of\n"
        "record SEQ, shortened; COUNTERSIGNED the number of countersignatures.\n"
        "\n"
        "Options:\n"
        "  --after ID  start after this checkpoint id (default 0: the first)\n"
        "  --limit N   at most N checkpoints, 1 to 1000 (default: the server's)\n"
        "  --json      print the orchestrator's answer as JSON, heads in full\n"
        "  --help      this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl audit checkpoints --after 20\n";

static const struct option checkpoints_options[] = {
        { "after", required_argument, NULL, ARG_AFTER },
        { "limit", required_argument, NULL, ARG_LIMIT },
        {}
};


static int run_checkpoints(int argc, char **argv) {
        return run_paged(argc, argv, "gcctl audit checkpoints", checkpoints_usage, checkpoints_options,
                         "/v1/audit/checkpoints", "checkpoints", checkpoint_columns, ELEMENTSOF(checkpoint_columns));
}

/* --- checkpoint --- */

static const char checkpoint_usage[] =
        "Usage: gcctl audit checkpoint [OPTIONS]\n"
        "\n"
        "Make a checkpoint of the audit chain's head now (POST\n"
        "/v1/audit/checkpoints; the authority's and the provider's roles): the\n"
        "orchestrator signs the hash of the last record with its service key.\n"
        "When the head has not moved since the last checkpoint, that one is\n"
        "shown instead. Countersign it with `gcctl audit countersign`.\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl audit checkpoint\n";

static void print_checkpoint(const cJSON *cp) {
        _cleanup_free_ char *id = remote_render(json_get(cp, "id"));
        _cleanup_free_ char *seq = remote_render(json_get(cp, "seq"));
        _cleanup_free_ char *head = remote_render(json_get(cp, "head"));
        _cleanup_free_ char *t = render_unix_time(json_get(cp, "time"));
        _cleanup_free_ char *fp = remote_render(json_get(json_get(cp, "signer"), "fingerprint"));
        _cleanup_free_ char *n = render_count(json_get(cp, "countersignatures"));

        printf("checkpoint %s: record %s, head %s\ntime: %s\nsigned by: %s\ncountersignatures: %s\n", id, seq,
               head, t, fp, n);
}

static int run_checkpoint(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl audit checkpoint" };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        const cJSON *cp;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, checkpoint_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = remote_call(&rm, "POST", "/v1/audit/checkpoints", NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, "checkpoint", cJSON_Object, &cp);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (status == 200)
                printf("the head has not moved since this checkpoint:\n");
        print_checkpoint(cp);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- countersign --- */

static const char countersign_usage[] =
        "Usage: gcctl audit countersign [ID...] --key KEY.pem [OPTIONS]\n"
        "\n"
        "Countersign checkpoints of the audit chain as the authority (POST\n"
        "/v1/audit/checkpoints/ID/countersignatures), with KEY.pem, the\n"
        "authority's private key registered with `gcctl key add --party\n"
        "authority`. Without IDs, every checkpoint not yet countersigned by this\n"
        "key is (GET /v1/audit/checkpoints, all pages).\n"
        "\n"
        "Each checkpoint's service signature is checked here first, over the\n"
        "canonical bytes of {\"format\":\"gc-audit-checkpoint/1\",\"seq\",\"head\",\n"
        "\"time\"}, with the service key the checkpoint names: one that does not\n"
        "verify is not countersigned, and the exit status is 1. The\n"
        "countersignature covers the same bytes (SM2 with SM3 and the\n"
        "distinguishing id 1234567812345678, or Ed25519, by the key). To check\n"
        "that a head really is the chain's, `gcctl audit verify`.\n"
        "\n"
        "Options:\n"
        "  --key KEY.pem  the authority's private key, PEM, not encrypted\n"
        "                 (required); the connection's key is --client-key here,\n"
        "                 or a second --key after this one\n"
        "  --json         print {\"countersigned\": [checkpoint...], \"refused\":\n"
        "                 [{\"id\", \"message\"}]}\n"
        "  --help         this text\n"
        REMOTE_OPTIONS_HELP_CLIENT_KEY
        "\n"
        "Examples:\n"
        "  gcctl audit countersign --key authority-lisi.pem\n"
        "  gcctl audit countersign 41 42 --key authority-lisi.pem\n";

static const struct option countersign_options[] = {
        { "key", required_argument, NULL, ARG_SIGN_KEY },
        REMOTE_CLIENT_KEY_OPTION,
        {}
};

/* Every checkpoint, page by page. */
static int fetch_checkpoints(struct remote *rm, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *all = cJSON_CreateArray();
        int64_t after = 0;

        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
                _cleanup_free_ char *path = paged_path("/v1/audit/checkpoints", (uint64_t) after, CHECKPOINT_PAGE);
                const cJSON *rows, *row;
                long status;
                int ex, n = 0;

                ex = remote_call(rm, "GET", path, NULL, 0, &status, &answer);
                ex = ex ?: remote_member(rm, answer, "checkpoints", cJSON_Array, &rows);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
                cJSON_ArrayForEach(row, rows) {
                        int64_t id = int_at(row, "id", 0);
                        /* Ids grow page by page; anything else would never end. */
                        if (id <= after)
                                return remote_fail(rm, "GET %s: checkpoint %" PRId64 " is not after %" PRId64, path,
                                                   id, after);
                        after = id;
                        cJSON_AddItemToArray(all, cJSON_Duplicate(row, true));
                        n++;
                }
                if (n == 0)
                        break;
        }
        *ret = TAKE_PTR(all);
        return GCCTL_EXIT_OK;
}

static bool countersigned_by(const cJSON *cp, const char *fingerprint) {
        const cJSON *cs;

        cJSON_ArrayForEach(cs, json_get(cp, "countersignatures")) {
                const char *fp = str_at(cs, "fingerprint");
                if (fp && strcmp(fp, fingerprint) == 0)
                        return true;
        }
        return false;
}

/* The checkpoint's signed bytes, if its service signature verifies with the
 * key it names; else a reason in why. */
static int checkpoint_check(const cJSON *cp, char **ret_bytes, size_t *ret_len, char *why, size_t size) {
        const cJSON *signer = json_get(cp, "signer");
        const char *head = str_at(cp, "head"), *pem = str_at(signer, "public_key");
        const char *claimed = str_at(signer, "fingerprint"), *sig_b64 = str_at(cp, "signature");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *bytes = NULL, *fp = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        int64_t seq = 0, t = 0;
        size_t len = 0, siglen = 0;
        struct gc_error err = {};

        if (!head || json_get_int(cp, "seq", &seq, &err) < 0 || json_get_int(cp, "time", &t, &err) < 0) {
                snprintf(why, size, "not a checkpoint: seq, head or time missing or not of their type");
                return -EINVAL;
        }
        if (!pem || crypto_key_public_from_pem(pem, strlen(pem), &key) < 0 || crypto_key_fingerprint(key, &fp) < 0) {
                snprintf(why, size, "signer.public_key is not an SM2 or Ed25519 public key");
                return -EINVAL;
        }
        if (!claimed || strcmp(claimed, fp) != 0) {
                snprintf(why, size, "signer.fingerprint is not that of signer.public_key (%s)", fp);
                return -EINVAL;
        }
        if (!sig_b64 || crypto_unbase64(sig_b64, &sig, &siglen) < 0) {
                snprintf(why, size, "signature is not base64");
                return -EINVAL;
        }
        if (auditchain_checkpoint_bytes(seq, head, t, &bytes, &len) < 0) {
                snprintf(why, size, "cannot form its canonical bytes");
                return -EINVAL;
        }
        if (crypto_verify(key, bytes, len, sig, siglen) < 0) {
                snprintf(why, size, "the service signature does not verify over seq %" PRId64 ", its head and time",
                         seq);
                return -EBADMSG;
        }
        *ret_bytes = TAKE_PTR(bytes);
        *ret_len = len;
        return 0;
}

static int run_countersign(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl audit countersign" };
        struct audit_args a = { .rm = &rm };
        _cleanup_(cJSON_Deletep) cJSON *all = NULL, *done = NULL, *refused = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *fp = NULL;
        uint64_t ids[COUNTERSIGN_IDS_MAX];
        size_t n_ids = 0, n_done = 0, n_refused = 0;
        const cJSON *cp;
        char msg[256];
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, countersign_usage, countersign_options, audit_handle, &a, &ex);
        if (i < 0)
                return ex;
        if (argc - i > COUNTERSIGN_IDS_MAX)
                return gcctl_usage_error(rm.verb, "at most %d IDs at once", COUNTERSIGN_IDS_MAX);
        for (; i < argc; i++) {
                ex = remote_parse_uint(&rm, "ID", argv[i], 1, INT64_MAX, &ids[n_ids++]);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
        }
        if (!a.key)
                return gcctl_usage_error(rm.verb, "--key KEY.pem is required: the authority's private key");

        r = crypto_key_load_private(a.key, &key);
        if (r == -EINVAL && crypto_key_load_public(a.key, &key) >= 0)
                return remote_fail(&rm, "%s: a public key; countersigning needs the authority's private key", a.key);
        if (r < 0)
                return remote_fail(&rm, "%s: %s", a.key, remote_key_error(r, true, msg, sizeof msg));
        if (crypto_key_fingerprint(key, &fp) < 0)
                return remote_fail(&rm, "%s: cannot read the key", a.key);

        ex = fetch_checkpoints(&rm, &all);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        for (size_t k = 0; k < n_ids; k++) {
                bool found = false;
                cJSON_ArrayForEach(cp, all)
                        found = found || int_at(cp, "id", 0) == (long) ids[k];
                if (!found)
                        return remote_fail(&rm, "there is no checkpoint %llu", (unsigned long long) ids[k]);
        }

        done = cJSON_CreateArray();
        refused = cJSON_CreateArray();
        cJSON_ArrayForEach(cp, all) {
                _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
                _cleanup_free_ char *bytes = NULL, *b64 = NULL, *path = NULL;
                _cleanup_free_ uint8_t *sig = NULL;
                long id = int_at(cp, "id", 0), status;
                size_t len = 0, siglen = 0;
                bool wanted = n_ids == 0;

                for (size_t k = 0; k < n_ids; k++)
                        wanted = wanted || (long) ids[k] == id;
                if (!wanted)
                        continue;
                if (countersigned_by(cp, fp)) {
                        if (n_ids > 0 && !gcctl_global.json)
                                printf("checkpoint %ld: countersigned by %s already\n", id, fp);
                        continue;
                }
                if (checkpoint_check(cp, &bytes, &len, msg, sizeof msg) < 0) {
                        /* R-AU3: vouch only for what the service really signed. */
                        _cleanup_free_ char *m = gcctl_printable(msg);
                        fprintf(stderr, "%s: checkpoint %ld not countersigned: %s\n", rm.verb, id, m);
                        cJSON *e = cJSON_CreateObject();
                        cJSON_AddNumberToObject(e, "id", (double) id);
                        cJSON_AddStringToObject(e, "message", msg);
                        cJSON_AddItemToArray(refused, e);
                        n_refused++;
                        continue;
                }
                r = crypto_sign(key, bytes, len, &sig, &siglen);
                if (r < 0)
                        return remote_fail(&rm, "%s: signing failed: %s", a.key, strerror(-r));
                b64 = crypto_base64(sig, siglen);
                body = cJSON_CreateObject();
                cJSON_AddStringToObject(body, "fingerprint", fp);
                cJSON_AddStringToObject(body, "signature", b64);
                path = xasprintf("/v1/audit/checkpoints/%ld/countersignatures", id);
                ex = remote_call_json(&rm, "POST", path, body, &status, &answer);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
                const cJSON *after = json_get(answer, "checkpoint");
                cJSON_AddItemToArray(done, cJSON_Duplicate(cJSON_IsObject(after) ? after : cp, true));
                n_done++;
                if (!gcctl_global.json) {
                        _cleanup_free_ char *seq = remote_render(json_get(cp, "seq"));
                        _cleanup_free_ char *head = render_head(json_get(cp, "head"));
                        printf("countersigned checkpoint %ld (record %s, head %s) with %s\n", id, seq, head, fp);
                }
        }

        if (gcctl_global.json) {
                _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
                cJSON_AddItemToObject(o, "countersigned", TAKE_PTR(done));
                cJSON_AddItemToObject(o, "refused", TAKE_PTR(refused));
                gcctl_print_json(o);
        } else if (n_done == 0 && n_refused == 0 && n_ids == 0)
                printf("nothing to countersign: every checkpoint is countersigned by %s\n", fp);
        if (fflush(stdout) != 0)
                return GCCTL_EXIT_FAIL;
        return n_refused > 0 ? GCCTL_EXIT_FAIL : GCCTL_EXIT_OK;
}

/* --- export --- */

static const char export_usage[] =
        "Usage: gcctl audit export [--from SEQ] [--to SEQ] [-o FILE] [OPTIONS]\n"
        "\n"
        "Write a segment of the audit chain (GET /v1/audit/export; the authority's\n"
        "and the provider's roles), exactly as the orchestrator sent it, to FILE\n"
        "or standard output: one JSON document (gc-audit-segment/1) with records\n"
        "FROM to TO, the hash that links them to the records before, and the\n"
        "checkpoints among them with their signatures and countersignatures.\n"
        "`gcctl audit verify FILE` checks it offline. The default is the whole\n"
        "live chain, from the first record kept (R-AU1) to the head. A segment of\n"
        "a million records is about 500 MB; at most 2 GiB are accepted.\n"
        "\n"
        "Options:\n"
        "  --from SEQ      the first record (default: the first kept)\n"
        "  --to SEQ        the last record (default: the head)\n"
        "  -o, --out FILE  write to FILE (default: standard output)\n"
        "  --help          this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl audit export --from 1 --to 100000 -o audit-1-100000.json\n";

static const struct option export_options[] = {
        { "from", required_argument, NULL, ARG_FROM },
        { "to", required_argument, NULL, ARG_TO },
        { "out", required_argument, NULL, ARG_OUT },
        {}
};

/* "/v1/audit/export[?from=F][&to=T]" */
static char *export_path(const struct audit_args *a, uint64_t from, uint64_t to) {
        struct gc_buf b = GC_BUF_INIT(256);

        (void) gc_buf_append_str(&b, "/v1/audit/export");
        if (a->from)
                (void) gc_buf_printf(&b, "?from=%llu", (unsigned long long) from);
        if (a->to)
                (void) gc_buf_printf(&b, "%cto=%llu", a->from ? '&' : '?', (unsigned long long) to);
        return gc_buf_steal(&b, NULL);
}

static int run_export(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl audit export" };
        struct audit_args a = {};
        _cleanup_free_ char *path = NULL, *data = NULL;
        uint64_t from = 0, to = 0;
        size_t len = 0;
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, export_usage, export_options, audit_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.from)
                ex = remote_parse_uint(&rm, "--from", a.from, 1, INT64_MAX, &from);
        if (ex == GCCTL_EXIT_OK && a.to)
                ex = remote_parse_uint(&rm, "--to", a.to, 1, INT64_MAX, &to);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (a.from && a.to && to < from)
                return gcctl_usage_error(rm.verb, "--to %llu is before --from %llu", (unsigned long long) to,
                                         (unsigned long long) from);

        path = export_path(&a, from, to);
        ex = remote_call_raw(&rm, "GET", path, AUDIT_SEGMENT_MAX, &data, &len);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        r = gcctl_write_file(a.out, data, len);
        if (r < 0)
                return remote_fail(&rm, "%s: %s", a.out && strcmp(a.out, "-") != 0 ? a.out : "(stdout)", strerror(-r));
        return GCCTL_EXIT_OK;
}

/* --- verify --- */

static const char verify_usage[] =
        "Usage: gcctl audit verify [FILE] [OPTIONS]\n"
        "\n"
        "Verify the audit chain (R-AU3): with FILE, a segment or an archive\n"
        "(`gcctl audit export`, gc-audit-segment/1) offline, without the\n"
        "orchestrator; without FILE, the live chain, fetched whole (GET\n"
        "/v1/audit/export) and verified here the same way.\n"
        "\n"
        "Every record's hash must match its content, and link to the record\n"
        "before (the first one to the segment's anchor); the first record that\n"
        "does not is reported as \"record N: FAULT: what is wrong\", FAULT one of\n"
        "edited, deleted, inserted, reordered, anchor, malformed. Then each\n"
        "checkpoint: its service signature, whether its head is the hash of its\n"
        "record, and who countersigned it; and an archive's own signature.\n"
        "\n"
        "Exit status 0 only when every record, checkpoint, countersignature and\n"
        "the archive signature verify; 1 otherwise. A checkpoint without a\n"
        "countersignature is reported, not a failure.\n"
        "\n"
        "Options:\n"
        "  --json     print {\"source\", \"hash\", \"from\", \"to\", \"records\",\n"
        "             \"fault\", \"checkpoints\": [...], \"countersigned\",\n"
        "             \"archive\", \"ok\"}; the exit status is the same\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "(The connection is used only without FILE.)\n"
        "\n"
        "Examples:\n"
        "  gcctl audit verify audit-1-100000.json\n"
        "  gcctl audit verify --profile ~/authority.json\n";

/* One countersignature: does it verify over bytes? */
static bool countersignature_valid(const cJSON *cs, const char *bytes, size_t len) {
        const char *pem = str_at(cs, "public_key"), *sig_b64 = str_at(cs, "signature");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t siglen = 0;

        return pem && sig_b64 && crypto_key_public_from_pem(pem, strlen(pem), &key) >= 0 &&
               crypto_unbase64(sig_b64, &sig, &siglen) >= 0 && crypto_verify(key, bytes, len, sig, siglen) == 0;
}

/* The checkpoint's countersignatures, each with whether it verifies. */
static cJSON *countersignatures_json(const cJSON *cp) {
        cJSON *out = cJSON_CreateArray();
        _cleanup_free_ char *bytes = NULL;
        const cJSON *cs;
        const char *head = str_at(cp, "head");
        int64_t seq = int_at(cp, "seq", 0), t = int_at(cp, "time", 0);
        size_t len = 0;

        if (head)
                (void) auditchain_checkpoint_bytes(seq, head, t, &bytes, &len);
        cJSON_ArrayForEach(cs, json_get(cp, "countersignatures")) {
                cJSON *e = cJSON_CreateObject();
                const char *holder = str_at(cs, "holder"), *fp = str_at(cs, "fingerprint");
                cJSON_AddStringToObject(e, "holder", holder ? holder : "");
                cJSON_AddStringToObject(e, "fingerprint", fp ? fp : "");
                cJSON_AddBoolToObject(e, "valid", bytes && countersignature_valid(cs, bytes, len));
                cJSON_AddItemToArray(out, e);
        }
        return out;
}

static cJSON *verify_json(const char *source, const cJSON *segment, const struct auditchain_report *rep, int r) {
        cJSON *o = cJSON_CreateObject(), *cps, *fault;
        const cJSON *cp = cJSON_GetArrayItem(json_get(segment, "checkpoints"), 0);
        size_t countersigned = 0;

        cJSON_AddStringToObject(o, "source", source);
        cJSON_AddStringToObject(o, "hash", crypto_hash_to_string(rep->alg));
        cJSON_AddNumberToObject(o, "from", (double) rep->from);
        cJSON_AddNumberToObject(o, "to", (double) rep->to);
        cJSON_AddNumberToObject(o, "records", (double) rep->records);
        if (rep->fault != AUDIT_FAULT_NONE) {
                fault = cJSON_AddObjectToObject(o, "fault");
                cJSON_AddStringToObject(fault, "name", auditchain_fault_name(rep->fault));
                cJSON_AddNumberToObject(fault, "seq", (double) rep->bad_seq);
                cJSON_AddNumberToObject(fault, "index", (double) rep->bad_index);
                cJSON_AddStringToObject(fault, "message", rep->message);
        } else
                cJSON_AddNullToObject(o, "fault");
        cps = cJSON_AddArrayToObject(o, "checkpoints");
        for (size_t k = 0; k < rep->n_checkpoints; k++, cp = cp ? cp->next : NULL) {
                const struct auditchain_checkpoint_report *c = &rep->checkpoints[k];
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "id", (double) c->id);
                cJSON_AddNumberToObject(e, "seq", (double) c->seq);
                cJSON_AddStringToObject(e, "signer", c->fingerprint);
                cJSON_AddBoolToObject(e, "signature_valid", c->signature_valid);
                cJSON_AddBoolToObject(e, "head_matches", c->head_matches);
                cJSON_AddItemToObject(e, "countersignatures", countersignatures_json(cp));
                cJSON_AddItemToArray(cps, e);
                if (c->countersignatures > 0)
                        countersigned++;
        }
        cJSON_AddNumberToObject(o, "countersigned", (double) countersigned);
        if (rep->archive_signed) {
                cJSON *ar = cJSON_AddObjectToObject(o, "archive");
                const char *fp = str_at(json_get(segment, "archive_signer"), "fingerprint");
                cJSON_AddStringToObject(ar, "signer", fp ? fp : "");
                cJSON_AddBoolToObject(ar, "signature_valid", rep->archive_signature_valid);
        } else
                cJSON_AddNullToObject(o, "archive");
        cJSON_AddBoolToObject(o, "ok", r == 0);
        return o;
}

static void verify_print(const cJSON *segment, const struct auditchain_report *rep) {
        const cJSON *cp = cJSON_GetArrayItem(json_get(segment, "checkpoints"), 0);
        size_t countersigned = 0;

        printf("records: %" PRId64 " verified, hash %s, records %" PRId64 "–%" PRId64 "\n", rep->records,
               crypto_hash_to_string(rep->alg), rep->from, rep->to);
        if (rep->fault != AUDIT_FAULT_NONE) {
                _cleanup_free_ char *msg = gcctl_printable(rep->message);
                printf("record %" PRId64 ": %s: %s\n", rep->bad_seq, auditchain_fault_name(rep->fault), msg);
        }
        for (size_t k = 0; k < rep->n_checkpoints; k++, cp = cp ? cp->next : NULL) {
                const struct auditchain_checkpoint_report *c = &rep->checkpoints[k];
                _cleanup_(cJSON_Deletep) cJSON *css = countersignatures_json(cp);
                const cJSON *cs;
                bool any = false;

                printf("checkpoint %" PRId64 ": record %" PRId64 ", signature %s, head %s", c->id, c->seq,
                       c->signature_valid ? "valid" : "INVALID",
                       c->head_matches ? "matches" : "does NOT match its record");
                cJSON_ArrayForEach(cs, css) {
                        _cleanup_free_ char *holder = gcctl_printable(str_at(cs, "holder"));
                        _cleanup_free_ char *fp = gcctl_printable(str_at(cs, "fingerprint"));
                        bool valid = cJSON_IsTrue(json_get(cs, "valid"));
                        printf("%s%s %s (%s)%s", any ? "," : ", countersigned by", valid ? "" : " INVALID:",
                               holder[0] ? holder : "-", fp, valid ? "" : " does not verify");
                        any = true;
                }
                printf("%s\n", any ? "" : ", not countersigned");
                if (c->countersignatures > 0)
                        countersigned++;
        }
        printf("checkpoints: %zu of %zu countersigned\n", countersigned, rep->n_checkpoints);
        if (rep->archive_signed) {
                _cleanup_free_ char *fp = gcctl_printable(str_at(json_get(segment, "archive_signer"), "fingerprint"));
                printf("archive: signed by %s, signature %s\n", fp, rep->archive_signature_valid ? "valid" : "INVALID");
        }
}

static int run_verify(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl audit verify" };
        _cleanup_(cJSON_Deletep) cJSON *segment = NULL;
        _cleanup_(auditchain_report_done) struct auditchain_report rep = {};
        _cleanup_free_ char *data = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        const char *source;
        size_t len = 0;
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, verify_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        if (argc - i > 1)
                return gcctl_usage_error(rm.verb, "unexpected operand '%s' (see --help)", argv[i + 1]);

        if (i < argc) {
                source = argv[i];
                r = gc_read_file(source, AUDIT_SEGMENT_MAX, &data, &len);
                if (r == -EFBIG)
                        return remote_fail(&rm, "%s: larger than %llu MiB", source, AUDIT_SEGMENT_MAX / (1024 * 1024));
                if (r < 0)
                        return remote_fail(&rm, "%s: %s", source, strerror(-r));
        } else {
                source = "/v1/audit/export";
                ex = remote_call_raw(&rm, "GET", source, AUDIT_SEGMENT_MAX, &data, &len);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
        }
        if (json_parse(data, len, &segment, &err) < 0)
                return remote_fail(&rm, "%s: not strict JSON: %s", source, gc_error_format(&err, buf, sizeof buf));
        free(TAKE_PTR(data));

        r = auditchain_verify_segment(segment, &rep);
        if (r == -EINVAL) {
                _cleanup_free_ char *msg = gcctl_printable(rep.message);
                return remote_fail(&rm, "%s: not an audit segment: %s", source, msg);
        }
        if (gcctl_global.json) {
                _cleanup_(cJSON_Deletep) cJSON *o = verify_json(source, segment, &rep, r);
                gcctl_print_json(o);
        } else
                verify_print(segment, &rep);
        if (fflush(stdout) != 0)
                return GCCTL_EXIT_FAIL;
        if (r < 0) {
                if (rep.fault != AUDIT_FAULT_NONE)
                        return remote_fail(&rm, "%s: record %" PRId64 " is %s: the chain does not verify", source,
                                           rep.bad_seq, auditchain_fault_name(rep.fault));
                return remote_fail(&rm, "%s: the records verify, but a checkpoint or the archive signature does not",
                                   source);
        }
        return GCCTL_EXIT_OK;
}

const struct gcctl_verb gcctl_audit_verbs[] = {
        { "list", "audit records in order", list_usage, run_list, NULL },
        { "checkpoints", "signed checkpoints of the chain's head", checkpoints_usage, run_checkpoints, NULL },
        { "checkpoint", "make a checkpoint of the head now", checkpoint_usage, run_checkpoint, NULL },
        { "countersign", "countersign checkpoints as the authority", countersign_usage, run_countersign, NULL },
        { "export", "a segment of the chain, as the orchestrator sends it", export_usage, run_export, NULL },
        { "verify", "verify a segment offline, or the live chain", verify_usage, run_verify, NULL },
        {}
};
