/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "gc/error.h"
#include "gcctl.h"
#include "jcs.h"
#include "json.h"
#include "remote.h"
#include "utf8.h"

/* Rendered values are for a terminal; the cap only guards against nonsense. */
#define RENDER_MAX (1024u * 1024)

static const struct option remote_options[] = {
        { "server", required_argument, NULL, REMOTE_ARG_SERVER },
        { "cert", required_argument, NULL, REMOTE_ARG_CERT },
        { "key", required_argument, NULL, REMOTE_ARG_KEY },
        { "cacert", required_argument, NULL, REMOTE_ARG_CACERT },
        { "profile", required_argument, NULL, REMOTE_ARG_PROFILE },
        {}
};

void remote_done(struct remote *rm) {
        client_free(rm->client);
        rm->client = NULL;
        client_config_done(&rm->config);
}

struct remote_chain {
        struct remote *rm;
        int (*handle)(int opt, const char *arg, void *userdata);
        void *userdata;
};

static int remote_handle(int opt, const char *arg, void *userdata) {
        struct remote_chain *chain = userdata;
        struct client_config *cfg = &chain->rm->config;
        char **slot;

        switch (opt) {
        case REMOTE_ARG_SERVER:
                slot = &cfg->server;
                break;
        case REMOTE_ARG_CERT:
                slot = &cfg->cert;
                break;
        case REMOTE_ARG_KEY:
                slot = &cfg->key;
                break;
        case REMOTE_ARG_CACERT:
                slot = &cfg->cacert;
                break;
        case REMOTE_ARG_PROFILE:
                if (!*arg) {
                        gcctl_usage_error(chain->rm->verb, "--profile: empty file name");
                        return -EINVAL;
                }
                chain->rm->profile = arg;
                return 0;
        default:
                return chain->handle ? chain->handle(opt, arg, chain->userdata) : -EINVAL;
        }
        if (!*arg) {
                gcctl_usage_error(chain->rm->verb, "--%s: empty value", remote_options[opt - REMOTE_ARG_SERVER].name);
                return -EINVAL;
        }
        free(*slot);
        *slot = xstrdup(arg);
        return 0;
}

int remote_parse_options(struct remote *rm, int argc, char **argv, const char *usage,
                         const struct option *opts,
                         int (*handle)(int opt, const char *arg, void *userdata), void *userdata,
                         int *ret_exit) {
        struct remote_chain chain = { rm, handle, userdata };
        _cleanup_free_ struct option *all = NULL;
        size_t n = 0, k = 0;

        for (const struct option *o = opts; o && o->name; o++)
                n++;
        all = xnew(struct option, n + ELEMENTSOF(remote_options));
        for (const struct option *o = opts; o && o->name; o++)
                all[k++] = *o;
        for (const struct option *o = remote_options; o->name; o++)
                all[k++] = *o;
        return gcctl_parse_options_any_order(argc, argv, usage, all, remote_handle, &chain, ret_exit);
}

int remote_signing_key(struct remote *rm, const char **signing_key, const char *arg) {
        if (!*arg) {
                gcctl_usage_error(rm->verb, "--key: empty file name");
                return -EINVAL;
        }
        if (!*signing_key) {
                *signing_key = arg;
                return 0;
        }
        if (rm->config.key) {
                gcctl_usage_error(rm->verb, "--key: given a third time, or with --client-key: the first --key is "
                                  "the signing key, --client-key (or a second --key) the connection's");
                return -EINVAL;
        }
        rm->config.key = xstrdup(arg);
        return 0;
}

int remote_parse_id(const struct remote *rm, int argc, char **argv, int first, int n, const char *names,
                    uint64_t *ret) {
        int ex = remote_operands(rm, argc, argv, first, n, names);
        return ex ?: remote_parse_uint(rm, "ID", argv[first], 1, INT64_MAX, ret);
}

int remote_operands(const struct remote *rm, int argc, char **argv, int first, int n, const char *names) {
        if (argc - first < n)
                return gcctl_usage_error(rm->verb, "missing %s (see --help)", names);
        if (argc - first > n)
                return gcctl_usage_error(rm->verb, "unexpected operand '%s' (see --help)", argv[first + n]);
        return GCCTL_EXIT_OK;
}

int remote_parse_uint(const struct remote *rm, const char *what, const char *s, uint64_t min, uint64_t max,
                      uint64_t *ret) {
        uint64_t v = 0;

        if (!*s || strlen(s) > 19)
                goto bad;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        goto bad;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (v < min || v > max)
                goto bad;
        *ret = v;
        return GCCTL_EXIT_OK;
bad:
        return gcctl_usage_error(rm->verb, "%s: \"%s\" is not a whole number from %llu to %llu", what, s,
                                 (unsigned long long) min, (unsigned long long) max);
}

int remote_check_text(const struct remote *rm, const char *what, const char *s) {
        if (!utf8_is_valid(s, strlen(s)))
                return gcctl_usage_error(rm->verb, "%s: not valid UTF-8", what);
        return GCCTL_EXIT_OK;
}

int remote_fail(const struct remote *rm, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", rm->verb);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return GCCTL_EXIT_FAIL;
}

const char *remote_key_error(int r, bool want_private, char *buf, size_t size) {
        switch (r) {
        case -EINVAL:
                snprintf(buf, size, "%s", want_private
                         ? "not a PEM private key (PKCS#8 or SEC1; encrypted keys are not supported)"
                         : "not a PEM public key (SubjectPublicKeyInfo, as `openssl pkey -pubout` writes it)");
                break;
        case -EOPNOTSUPP:
                snprintf(buf, size, "not an SM2 or Ed25519 key");
                break;
        case -EFBIG:
                snprintf(buf, size, "too large for a key file");
                break;
        default:
                snprintf(buf, size, "%s", strerror(-r));
        }
        return buf;
}

/* Terminal control characters from the server become '?'. */
static void sanitize(char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        *s = '?';
}

static int remote_check_file(const struct remote *rm, const char *what, const char *path) {
        if (path && access(path, R_OK) < 0)
                return remote_fail(rm, "%s %s: %s", what, path, strerror(errno));
        return GCCTL_EXIT_OK;
}

static int remote_connect(struct remote *rm) {
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        int ex, r;

        if (rm->client)
                return GCCTL_EXIT_OK;

        r = client_config_resolve(&rm->config, rm->profile, &err);
        if (r < 0)
                return gcctl_usage_error(rm->verb, "profile %s: %s",
                                         rm->config.profile ? rm->config.profile : "?",
                                         gc_error_format(&err, buf, sizeof buf));
        if (!rm->config.server)
                return gcctl_usage_error(rm->verb, "no server: give --server URL or set GC_SERVER "
                                         "(or a profile: --profile FILE, GC_PROFILE)");
        if (strncasecmp(rm->config.server, "https://", 8) != 0)
                return gcctl_usage_error(rm->verb, "server \"%s\" is not an https:// URL", rm->config.server);
        if (!rm->config.cert)
                return gcctl_usage_error(rm->verb, "no client certificate: give --cert FILE or set GC_CERT "
                                         "(the orchestrator accepts no call without one)");

        ex = remote_check_file(rm, "client certificate", rm->config.cert);
        ex = ex ?: remote_check_file(rm, "client key", rm->config.key);
        ex = ex ?: remote_check_file(rm, "CA file", rm->config.cacert);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        r = client_open(&rm->config, &rm->client);
        if (r < 0)
                return remote_fail(rm, "%s: cannot set up the connection: %s", rm->config.server, strerror(-r));
        return GCCTL_EXIT_OK;
}

static const char *error_string(const cJSON *e, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

int remote_refusal(const struct remote *rm, const char *method, const char *path, long status, const cJSON *doc) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
        const char *word = status >= 400 && status < 500 ? "refused" : "failed";
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];

        if (gcctl_global.json && doc) {
                gcctl_print_json(doc);
                fflush(stdout);
        }
        if (!cJSON_IsObject(e)) {
                fprintf(stderr, "gcctl: %s (HTTP %ld): %s %s, and the answer has no {\"error\": ...}\n",
                        word, status, method, path);
                return GCCTL_EXIT_FAIL;
        }
        const char *message = error_string(e, "message");
        const char *code = error_string(e, "code");
        gc_error_set(&err, code, error_string(e, "rule"), error_string(e, "field"), error_string(e, "value"),
                     "%s", message && *message ? message : code ? code : "(no message)");
        gc_error_format(&err, buf, sizeof buf);
        sanitize(buf);
        /* The code last, in brackets: the refusal's stable name, for the
         * documentation and for scripts. */
        if (code && *code) {
                _cleanup_free_ char *c = xstrdup(code);
                sanitize(c);
                fprintf(stderr, "gcctl: %s (HTTP %ld): %s [%s]\n", word, status, buf, c);
        } else
                fprintf(stderr, "gcctl: %s (HTTP %ld): %s\n", word, status, buf);
        return GCCTL_EXIT_FAIL;
}

int remote_send(struct remote *rm, const char *method, const char *path, const char *body, size_t len,
                long *ret_status, cJSON **ret_json) {
        int ex, r;

        ex = remote_connect(rm);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        r = client_request(rm->client, method, path, body, len, ret_status, ret_json);
        if (r < 0)
                return remote_fail(rm, "%s", client_error(rm->client));
        return GCCTL_EXIT_OK;
}

int remote_call(struct remote *rm, const char *method, const char *path, const char *body, size_t len,
                long *ret_status, cJSON **ret_json) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        long status = 0;
        int ex;

        ex = remote_send(rm, method, path, body, len, &status, &doc);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (status < 200 || status >= 300)
                return remote_refusal(rm, method, path, status, doc);
        if (!doc)
                return remote_fail(rm, "%s %s: HTTP %ld without a body", method, path, status);
        *ret_status = status;
        *ret_json = TAKE_PTR(doc);
        return GCCTL_EXIT_OK;
}

int remote_call_raw(struct remote *rm, const char *method, const char *path, size_t max, char **ret_body,
                    size_t *ret_len) {
        _cleanup_free_ char *body = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error err = {};
        size_t len = 0;
        long status = 0;
        int ex, r;

        ex = remote_connect(rm);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        r = client_request_raw(rm->client, method, path, NULL, 0, max, &status, &body, &len);
        if (r < 0)
                return remote_fail(rm, "%s", client_error(rm->client));
        if (status < 200 || status >= 300) {
                /* A refusal is JSON; anything else is reported as an answer without {"error"}. */
                if (len > 0 && len <= CLIENT_BODY_MAX)
                        (void) json_parse(body, len, &doc, &err);
                return remote_refusal(rm, method, path, status, doc);
        }
        if (len == 0)
                return remote_fail(rm, "%s %s: HTTP %ld without a body", method, path, status);
        *ret_body = TAKE_PTR(body);
        *ret_len = len;
        return GCCTL_EXIT_OK;
}

int remote_call_json(struct remote *rm, const char *method, const char *path, const cJSON *body,
                     long *ret_status, cJSON **ret_json) {
        _cleanup_free_ char *text = cJSON_PrintUnformatted(body);

        if (!text)
                abort();
        return remote_call(rm, method, path, text, strlen(text), ret_status, ret_json);
}

int remote_member(const struct remote *rm, const cJSON *doc, const char *key, int type, const cJSON **ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

        if (!v || !(v->type & type))
                return remote_fail(rm, "unexpected answer: no \"%s\" %s in it", key,
                                   type == cJSON_Array ? "array" : "object");
        *ret = v;
        return GCCTL_EXIT_OK;
}

static void render_into(struct gc_buf *b, const cJSON *v) {
        char num[JCS_NUMBER_MAX];

        if (!v || cJSON_IsNull(v))
                (void) gc_buf_append_str(b, "-");
        else if (cJSON_IsString(v))
                (void) gc_buf_append_str(b, v->valuestring[0] ? v->valuestring : "-");
        else if (cJSON_IsBool(v))
                (void) gc_buf_append_str(b, cJSON_IsTrue(v) ? "yes" : "no");
        else if (cJSON_IsNumber(v))
                (void) gc_buf_append_str(b, jcs_format_number(v->valuedouble, num) >= 0 ? num : "?");
        else if (cJSON_IsArray(v) && !cJSON_IsObject(v->child) && !cJSON_IsArray(v->child)) {
                const cJSON *e;
                if (!v->child)
                        (void) gc_buf_append_str(b, "-");
                cJSON_ArrayForEach(e, v) {
                        if (e != v->child)
                                (void) gc_buf_append_str(b, ", ");
                        render_into(b, e);
                }
        } else {
                _cleanup_free_ char *s = cJSON_PrintUnformatted(v);
                (void) gc_buf_append_str(b, s ? s : "?");
        }
}

char *remote_render(const cJSON *v) {
        struct gc_buf b = GC_BUF_INIT(RENDER_MAX);
        char *s;

        render_into(&b, v);
        s = gc_buf_steal(&b, NULL);
        sanitize(s);
        return s;
}

char *remote_render_gib(const cJSON *v) {
        _cleanup_free_ char *n = remote_render(v);
        return cJSON_IsNumber(v) ? xasprintf("%s GiB", n) : TAKE_PTR(n);
}

char *remote_render_disk(const cJSON *v) {
        _cleanup_free_ char *gib = remote_render_gib(cJSON_GetObjectItemCaseSensitive(v, "gib"));
        _cleanup_free_ char *type = remote_render(cJSON_GetObjectItemCaseSensitive(v, "type"));
        return cJSON_IsObject(v) ? xasprintf("%s %s", gib, type) : remote_render(v);
}

char *remote_render_mib(const cJSON *v) {
        double mib;

        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e15 ||
            v->valuedouble != (double) (long long) v->valuedouble)
                return remote_render(v);
        mib = v->valuedouble;
        if (mib < 1024)
                return xasprintf("%lld MiB", (long long) mib);
        if ((long long) mib % 1024 == 0)
                return xasprintf("%lld GiB", (long long) mib / 1024);
        return xasprintf("%.1f GiB", mib / 1024);
}

/* "a.b": member b of member a. */
static const cJSON *lookup(const cJSON *obj, const char *key) {
        const char *dot;

        while ((dot = strchr(key, '.'))) {
                _cleanup_free_ char *first = xstrndup(key, dot - key);
                obj = cJSON_GetObjectItemCaseSensitive(obj, first);
                if (!cJSON_IsObject(obj))
                        return NULL;
                key = dot + 1;
        }
        return cJSON_GetObjectItemCaseSensitive(obj, key);
}

void remote_print_table(const cJSON *rows, const struct remote_column *cols, size_t ncols) {
        _cleanup_free_ const char **headers = xnew(const char *, ncols);
        _cleanup_free_ char **cells = xnew(char *, ncols);
        struct gcctl_table *t;
        const cJSON *row;

        if (cJSON_GetArraySize(rows) == 0) {
                printf("(none)\n");
                return;
        }
        for (size_t c = 0; c < ncols; c++)
                headers[c] = cols[c].header;
        t = gcctl_table_new(ncols, headers);
        cJSON_ArrayForEach(row, rows) {
                for (size_t c = 0; c < ncols; c++) {
                        const cJSON *v = lookup(row, cols[c].key);
                        cells[c] = cols[c].render ? cols[c].render(v) : remote_render(v);
                }
                gcctl_table_add(t, (const char *const *) cells);
                for (size_t c = 0; c < ncols; c++)
                        free(cells[c]);
        }
        gcctl_table_print(t);
        gcctl_table_free(t);
}

static bool is_skipped(const char *name, const char *const *skip) {
        for (; skip && *skip; skip++)
                if (strcmp(name, *skip) == 0)
                        return true;
        return false;
}

static void print_line(const char *name, const cJSON *v) {
        _cleanup_free_ char *key = xstrdup(name), *value = remote_render(v);

        sanitize(key);
        printf("%s: %s\n", key, value);
}

static void print_fields(const cJSON *obj, const char *prefix, const char *const *skip) {
        const cJSON *m;

        cJSON_ArrayForEach(m, obj) {
                if (is_skipped(m->string, skip))
                        continue;
                _cleanup_free_ char *name = prefix ? xasprintf("%s.%s", prefix, m->string) : xstrdup(m->string);

                if (cJSON_IsObject(m) && m->child)
                        print_fields(m, name, NULL);
                else if (cJSON_IsArray(m) && (cJSON_IsObject(m->child) || cJSON_IsArray(m->child))) {
                        const cJSON *e;
                        size_t i = 0;
                        cJSON_ArrayForEach(e, m) {
                                _cleanup_free_ char *item = xasprintf("%s[%zu]", name, i++);
                                if (cJSON_IsObject(e) && e->child)
                                        print_fields(e, item, NULL);
                                else
                                        print_line(item, e);
                        }
                } else
                        print_line(name, m);
        }
}

void remote_print_fields(const cJSON *obj, const char *const *skip) {
        print_fields(obj, NULL, skip);
}

int remote_load_json(const struct remote *rm, const char *path, size_t max, char **ret_data, size_t *ret_len,
                     cJSON **ret_doc) {
        _cleanup_free_ char *data = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        size_t len = 0;
        int r;

        r = gc_read_file(path, max, &data, &len);
        if (r == -EFBIG)
                return remote_fail(rm, "%s: larger than %zu KiB", path, max / 1024);
        if (r < 0)
                return remote_fail(rm, "%s: %s", path, strerror(-r));
        r = json_parse(data, len, &doc, &err);
        if (r < 0)
                return remote_fail(rm, "%s: not strict JSON: %s", path, gc_error_format(&err, buf, sizeof buf));
        if (ret_data)
                *ret_data = TAKE_PTR(data);
        if (ret_len)
                *ret_len = len;
        *ret_doc = TAKE_PTR(doc);
        return GCCTL_EXIT_OK;
}
