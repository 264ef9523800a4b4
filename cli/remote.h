/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every gcctl verb that talks to the orchestrator shares: the
 * connection options, one call with its failure and refusal messages, and
 * the rendering of answers as tables and "key: value" lines.
 *
 *     _cleanup_(remote_done) struct remote rm = { .verb = "gcctl unit list" };
 *     i = remote_parse_options(&rm, argc, argv, usage, opts, handle, &args, &ex);
 *     ex = remote_call(&rm, "GET", "/v1/units", NULL, 0, &status, &doc);
 *
 * The functions here return a gcctl exit status (GCCTL_EXIT_OK, _FAIL,
 * _USAGE) and have printed the reason when it is not GCCTL_EXIT_OK.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "client.h"

/* The long options' codes; a verb's own options stay below this. */
enum {
        REMOTE_ARG_SERVER = 0x1000,
        REMOTE_ARG_CERT,
        REMOTE_ARG_KEY,
        REMOTE_ARG_CACERT,
        REMOTE_ARG_PROFILE,
};

/* For each verb's --help, after its own options. */
#define REMOTE_OPTIONS_HELP REMOTE_OPTIONS_HELP_WITH(                                          \
        "  --key FILE       its private key, PEM, not encrypted (GC_KEY; default:\n"           \
        "                   the --cert file)\n")

/* For verbs whose own --key is a signing key (sheet sign, audit countersign):
 * the connection's key is --client-key there, or a second --key (scripts
 * add the connection options, --key among them, to every command); put
 * REMOTE_CLIENT_KEY_OPTION in the verb's options and hand its --key to
 * remote_signing_key(). */
#define REMOTE_OPTIONS_HELP_CLIENT_KEY REMOTE_OPTIONS_HELP_WITH(                               \
        "  --client-key FILE\n"                                                                \
        "                   the client certificate's private key, PEM, not\n"                  \
        "                   encrypted (GC_KEY; default: the --cert file); a\n"                 \
        "                   second --key is taken as this too\n")
#define REMOTE_CLIENT_KEY_OPTION { "client-key", required_argument, NULL, REMOTE_ARG_KEY }

#define REMOTE_OPTIONS_HELP_WITH(key_lines)                                                     \
        "\n"                                                                                    \
        "Connection (each setting from the first place that has it: the option,\n"             \
        "the environment variable, the profile file):\n"                                        \
        "  --server URL     the orchestrator, https://HOST:PORT (GC_SERVER)\n"                 \
        "  --cert FILE      client certificate, PEM (GC_CERT)\n"                                \
        key_lines                                                                               \
        "  --cacert FILE    CA certificate(s) the server's must chain to (GC_CACERT;\n"       \
        "                   default: the system's trust store)\n"                               \
        "  --profile FILE   JSON {\"server\", \"cert\", \"key\", \"cacert\"}, paths relative\n" \
        "                   to the file (GC_PROFILE; default\n"                                 \
        "                   $XDG_CONFIG_HOME/govcloud/gcctl.json, else\n"                      \
        "                   /etc/govcloud/gcctl.json)\n"                                        \
        "TLS 1.3 only. Exit status: 0 done, 1 refused or failed, 2 usage error.\n"

struct remote {
        const char *verb;               /* "gcctl unit list", for messages */
        struct client_config config;    /* the options, then every source */
        const char *profile;            /* --profile */
        struct client *client;          /* open after the first call */
};

void remote_done(struct remote *rm);

/* gcctl_parse_options_any_order with the connection options added to opts
 * (NULL-terminated, may be NULL); handle gets the verb's own options. */
struct option;
int remote_parse_options(struct remote *rm, int argc, char **argv, const char *usage,
                         const struct option *opts,
                         int (*handle)(int opt, const char *arg, void *userdata), void *userdata,
                         int *ret_exit);

/* A --key of a verb whose --key is a signing key: the first is *signing_key,
 * a second the connection's key. < 0 after a usage error. */
int remote_signing_key(struct remote *rm, const char **signing_key, const char *arg);

/* Exactly n operands from argv[first]; names ("ID", "FILE") for messages. */
int remote_operands(const struct remote *rm, int argc, char **argv, int first, int n, const char *names);

/* "ID" operands and integer options: decimal in [min, max]. */
int remote_parse_uint(const struct remote *rm, const char *what, const char *s, uint64_t min, uint64_t max,
                      uint64_t *ret);
/* Exactly n operands from argv[first], the first of them a record ID
 * (1 .. INT64_MAX) into *ret; names ("ID", "ID and FILE") for messages. */
int remote_parse_id(const struct remote *rm, int argc, char **argv, int first, int n, const char *names,
                    uint64_t *ret);
/* Text that goes into JSON must be UTF-8; what names the option. */
int remote_check_text(const struct remote *rm, const char *what, const char *s);

/* "gcctl unit list: ..." on stderr; returns GCCTL_EXIT_FAIL. */
int remote_fail(const struct remote *rm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * One call; connects first if need be. A 2xx answer with a JSON body is
 * GCCTL_EXIT_OK with its status and body. Otherwise prints why: the
 * connection failure with the URL, or for an error status the server's
 * {"error": {...}} as "gcctl: refused (HTTP 422): field: "value" message
 * (R-XX)", and with --json the body on stdout too.
 */
int remote_call(struct remote *rm, const char *method, const char *path, const char *body, size_t len,
                long *ret_status, cJSON **ret_json);
/* The call alone: any HTTP answer is GCCTL_EXIT_OK. */
int remote_send(struct remote *rm, const char *method, const char *path, const char *body, size_t len,
                long *ret_status, cJSON **ret_json);
/* Print an answer with an error status as remote_call() does; returns GCCTL_EXIT_FAIL. */
int remote_refusal(const struct remote *rm, const char *method, const char *path, long status, const cJSON *doc);
/* remote_call() with a body built with cJSON, sent compact. */
int remote_call_json(struct remote *rm, const char *method, const char *path, const cJSON *body,
                     long *ret_status, cJSON **ret_json);

/* remote_call() for an answer kept as its bytes, an export: a 2xx body of at
 * most max bytes (not parsed) into *ret_body (malloc()ed, NUL-terminated)
 * and *ret_len; a refusal printed as remote_call() does. */
int remote_call_raw(struct remote *rm, const char *method, const char *path, size_t max, char **ret_body,
                    size_t *ret_len);

/* The member key of an answer, of cJSON type mask type (cJSON_Object,
 * cJSON_Array); an answer without it is a failure. */
int remote_member(const struct remote *rm, const cJSON *doc, const char *key, int type, const cJSON **ret);

/* A value as a person reads it: strings as they are (control characters
 * as '?'), numbers as JSON writes them, true/false as yes/no, null, missing
 * and "" as "-", arrays of scalars joined by ", ". */
char *remote_render(const cJSON *v);

/* Renderers for struct remote_column: a number of GiB as "8 GiB"; a disk
 * {"gib", "type"} as "40 GiB SSD"; a number of MiB as "64 GiB" (one decimal
 * when not whole, "512 MiB" under 1 GiB). Anything else as remote_render(). */
char *remote_render_gib(const cJSON *v);
char *remote_render_disk(const cJSON *v);
char *remote_render_mib(const cJSON *v);

struct remote_column {
        const char *header;
        const char *key;                        /* member of each row, "a.b" for a nested one */
        char *(*render)(const cJSON *v);        /* NULL: remote_render */
};

/* A table of the objects in the array rows (a note when it is empty). */
void remote_print_table(const cJSON *rows, const struct remote_column *cols, size_t ncols);

/* "key: value" lines; nested objects as "key.sub", arrays of objects as
 * "key[0].sub"; members named in skip (NULL-terminated, may be NULL) are left out. */
void remote_print_fields(const cJSON *obj, const char *const *skip);

/* Why a key file was refused (crypto_key_load_*() errors), for messages. */
const char *remote_key_error(int r, bool want_private, char *buf, size_t size);

/* Read FILE ('-' standard input) of at most max bytes and parse it strictly;
 * ret_data (may be NULL) receives the bytes as read. */
int remote_load_json(const struct remote *rm, const char *path, size_t max, char **ret_data, size_t *ret_len,
                     cJSON **ret_doc);
