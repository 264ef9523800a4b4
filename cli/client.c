/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "client.h"
#include "gc-config.h"
#include "json.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all)

#define CLIENT_CONNECT_TIMEOUT_S 10L
#define CLIENT_TIMEOUT_S 120L
#define CLIENT_SYSTEM_PROFILE "/etc/govcloud/gcctl.json"

/* The settings, in the order of struct client_config. */
static const struct {
        const char *name;       /* member of a profile */
        const char *env;
        bool path;              /* relative to the profile's directory */
        size_t offset;
} settings[] = {
        { "server", "GC_SERVER", false, offsetof(struct client_config, server) },
        { "cert", "GC_CERT", true, offsetof(struct client_config, cert) },
        { "key", "GC_KEY", true, offsetof(struct client_config, key) },
        { "cacert", "GC_CACERT", true, offsetof(struct client_config, cacert) },
};

static char **setting(struct client_config *cfg, size_t i) {
        return (char **) ((uint8_t *) cfg + settings[i].offset);
}

void client_config_done(struct client_config *cfg) {
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                free(*setting(cfg, i));
                *setting(cfg, i) = NULL;
        }
        free(cfg->profile);
        cfg->profile = NULL;
}

static bool config_complete(struct client_config *cfg) {
        for (size_t i = 0; i < ELEMENTSOF(settings); i++)
                if (!*setting(cfg, i))
                        return false;
        return true;
}

static const char *getenv_nonempty(const char *name) {
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

/* The profile to read: named ones must exist, the default ones may not. */
static int profile_find(const char *named, char **ret_path, bool *ret_required) {
        const char *xdg, *home;
        _cleanup_free_ char *user = NULL;

        if (named) {
                *ret_path = xstrdup(named);
                *ret_required = true;
                return 0;
        }

        xdg = getenv_nonempty("XDG_CONFIG_HOME");
        home = getenv_nonempty("HOME");
        if (xdg && xdg[0] == '/')       /* the XDG spec ignores relative ones */
                user = xasprintf("%s/govcloud/gcctl.json", xdg);
        else if (home)
                user = xasprintf("%s/.config/govcloud/gcctl.json", home);
        if (user && access(user, F_OK) == 0) {
                *ret_path = TAKE_PTR(user);
                *ret_required = false;
                return 0;
        }
        if (access(CLIENT_SYSTEM_PROFILE, F_OK) == 0) {
                *ret_path = xstrdup(CLIENT_SYSTEM_PROFILE);
                *ret_required = false;
                return 0;
        }
        return -ENOENT;
}

static char *profile_path_join(const char *profile, const char *value) {
        const char *slash = strrchr(profile, '/');

        if (value[0] == '/' || !slash)
                return xstrdup(value);
        return xasprintf("%.*s/%s", (int) (slash - profile), profile, value);
}

static int profile_apply(struct client_config *cfg, const char *path, struct gc_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        char *found[ELEMENTSOF(settings)] = {};
        const cJSON *m;
        int r;

        r = json_parse_file(path, CLIENT_PROFILE_MAX, &doc, err);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(doc)) {
                gc_error_set(err, "invalid_profile", NULL, "", NULL,
                             "is not a JSON object {\"server\", \"cert\", \"key\", \"cacert\"}");
                return -EINVAL;
        }

        /* Check every member before taking any. */
        cJSON_ArrayForEach(m, doc) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(settings); i++)
                        if (strcmp(m->string, settings[i].name) == 0)
                                break;
                if (i == ELEMENTSOF(settings)) {
                        gc_error_set(err, "invalid_profile", NULL, m->string, NULL,
                                     "is not a profile setting (server, cert, key, cacert)");
                        return -EINVAL;
                }
                if (!cJSON_IsString(m) || !m->valuestring[0]) {
                        gc_error_set(err, "invalid_profile", NULL, m->string, NULL, "is not a non-empty string");
                        return -EINVAL;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                m = cJSON_GetObjectItemCaseSensitive(doc, settings[i].name);
                if (m && !*setting(cfg, i))
                        found[i] = settings[i].path ? profile_path_join(path, m->valuestring)
                                                    : xstrdup(m->valuestring);
        }
        for (size_t i = 0; i < ELEMENTSOF(settings); i++)
                if (found[i])
                        *setting(cfg, i) = found[i];
        return 0;
}

int client_config_resolve(struct client_config *cfg, const char *profile, struct gc_error *err) {
        _cleanup_free_ char *path = NULL;
        bool required = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const char *v = getenv_nonempty(settings[i].env);
                if (v && !*setting(cfg, i))
                        *setting(cfg, i) = xstrdup(v);
        }
        if (!profile)
                profile = getenv_nonempty("GC_PROFILE");
        if (config_complete(cfg) && !profile)
                return 0;

        r = profile_find(profile, &path, &required);
        if (r == -ENOENT)
                return 0;
        free(cfg->profile);
        cfg->profile = xstrdup(path);
        if (access(path, R_OK) < 0) {
                r = -errno;
                if (!required && r == -ENOENT)
                        return 0;
                gc_error_set(err, "no_profile", NULL, "", NULL, "cannot be read: %s", strerror(-r));
                return r;
        }
        return profile_apply(cfg, path, err);
}

struct client {
        CURL *curl;
        char *server;                   /* without a trailing '/' */
        struct gc_buf body;
        bool too_large;
        char curl_error[CURL_ERROR_SIZE];
        char *error;                    /* why the last request failed */
};

static size_t client_write(char *p, size_t size, size_t n, void *userdata) {
        struct client *c = userdata;

        if (gc_buf_append(&c->body, p, size * n) < 0) {
                c->too_large = true;
                return 0;
        }
        return size * n;
}

void client_free(struct client *c) {
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        free(c->server);
        free(c->error);
        gc_buf_free(&c->body);
        free(c);
}

static int setopt_failed(CURLcode code, const char *what) {
        return log_debug_errno(EINVAL, "curl option %s: %s", what, curl_easy_strerror(code));
}

#define client_setopt(c, opt, value)                                            \
        ({                                                                      \
                CURLcode _code_ = curl_easy_setopt((c)->curl, opt, value);      \
                _code_ == CURLE_OK ? 0 : setopt_failed(_code_, #opt);           \
        })

int client_open(const struct client_config *cfg, struct client **ret) {
        static bool initialized = false;
        _cleanup_(client_freep) struct client *c = NULL;
        size_t n;
        int r = 0;

        if (!cfg->server || strncasecmp(cfg->server, "https://", 8) != 0)
                return -EPROTONOSUPPORT;
        if (!initialized) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return log_debug_errno(EIO, "curl_global_init failed");
                initialized = true;
        }

        c = xnew(struct client, 1);
        c->body = GC_BUF_INIT(CLIENT_BODY_MAX);
        n = strlen(cfg->server);
        while (n > 8 && cfg->server[n - 1] == '/')
                n--;
        c->server = xstrndup(cfg->server, n);
        c->curl = curl_easy_init();
        if (!c->curl)
                return log_debug_errno(ENOMEM, "curl_easy_init failed");

        r = r ?: client_setopt(c, CURLOPT_ERRORBUFFER, c->curl_error);
        r = r ?: client_setopt(c, CURLOPT_NOSIGNAL, 1L);
        r = r ?: client_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        r = r ?: client_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        r = r ?: client_setopt(c, CURLOPT_SSLVERSION, (long) (CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_DEFAULT));
        r = r ?: client_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        r = r ?: client_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        if (cfg->cacert)
                r = r ?: client_setopt(c, CURLOPT_CAINFO, cfg->cacert);
        if (cfg->cert) {
                r = r ?: client_setopt(c, CURLOPT_SSLCERT, cfg->cert);
                r = r ?: client_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        }
        if (cfg->key) {
                r = r ?: client_setopt(c, CURLOPT_SSLKEY, cfg->key);
                r = r ?: client_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        }
        r = r ?: client_setopt(c, CURLOPT_USERAGENT, "gcctl/" GC_VERSION);
        r = r ?: client_setopt(c, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT_S);
        r = r ?: client_setopt(c, CURLOPT_WRITEFUNCTION, client_write);
        r = r ?: client_setopt(c, CURLOPT_WRITEDATA, c);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

static int errno_from_curl(CURLcode code) {
        switch (code) {
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_FILESIZE_EXCEEDED:
                return -EFBIG;
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTONOSUPPORT;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_USE_SSL_FAILED:
                return -EPROTO;
        default:
                return -EIO;
        }
}

static int client_fail(struct client *c, int r, const char *url, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int client_fail(struct client *c, int r, const char *url, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        free(c->error);
        c->error = xasprintf("%s: %s", url, msg);
        return log_debug_errno(r, "%s", c->error);
}

/* Send the request and receive the answer into c->body, at most max bytes.
 * raw: an export, which may take long as long as it keeps arriving. */
static int client_perform(struct client *c, const char *method, const char *path, const char *body, size_t len,
                          size_t max, bool raw, char **ret_url, long *ret_status) {
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_free_ char *url = NULL;
        CURLcode code;
        long status = 0;
        int r = 0;

        assert(path[0] == '/');
        url = xasprintf("%s%s", c->server, path);
        gc_buf_reset(&c->body);
        c->body.max = max;
        c->too_large = false;
        c->curl_error[0] = 0;
        free(c->error);
        c->error = NULL;

        headers = curl_slist_append(headers, "Accept: application/json");
        if (body) {
                headers = curl_slist_append(headers, "Content-Type: application/json");
                headers = curl_slist_append(headers, "Expect:");
        }
        if (!headers)
                abort();

        r = r ?: client_setopt(c, CURLOPT_URL, url);
        r = r ?: client_setopt(c, CURLOPT_HTTPHEADER, headers);
        r = r ?: client_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) max);
        /* An export of a long audit chain takes longer than any answer: it
         * only has to keep coming, at least 1 KiB/s over the usual timeout. */
        r = r ?: client_setopt(c, CURLOPT_TIMEOUT, raw ? 0L : CLIENT_TIMEOUT_S);
        r = r ?: client_setopt(c, CURLOPT_LOW_SPEED_LIMIT, raw ? 1024L : 0L);
        r = r ?: client_setopt(c, CURLOPT_LOW_SPEED_TIME, raw ? CLIENT_TIMEOUT_S : 0L);
        if (strcmp(method, "GET") == 0) {
                r = r ?: client_setopt(c, CURLOPT_HTTPGET, 1L);
                r = r ?: client_setopt(c, CURLOPT_CUSTOMREQUEST, (char *) NULL);
        } else {
                r = r ?: client_setopt(c, CURLOPT_POST, 1L);
                r = r ?: client_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (body ? len : 0));
                r = r ?: client_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
                const char *custom = strcmp(method, "POST") == 0 ? NULL : method;
                r = r ?: client_setopt(c, CURLOPT_CUSTOMREQUEST, custom);
        }
        if (r < 0)
                return client_fail(c, r, url, "cannot set up the request");

        code = curl_easy_perform(c->curl);
        /* The header list dies with this call. */
        (void) curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *) NULL);
        if (code != CURLE_OK) {
                gc_buf_reset(&c->body);
                if (c->too_large || code == CURLE_FILESIZE_EXCEEDED)
                        return client_fail(c, -EFBIG, url, "the answer is larger than %zu MiB",
                                           max / (1024 * 1024));
                return client_fail(c, errno_from_curl(code), url, "%s",
                                   c->curl_error[0] ? c->curl_error : curl_easy_strerror(code));
        }
        (void) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);

        *ret_url = TAKE_PTR(url);
        *ret_status = status;
        return 0;
}

int client_request(struct client *c, const char *method, const char *path, const char *body, size_t len,
                   long *ret_status, cJSON **ret_json) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_free_ char *url = NULL;
        struct gc_error err = {};
        const char *ctype = NULL;
        long status = 0;
        int r;

        r = client_perform(c, method, path, body, len, CLIENT_BODY_MAX, false, &url, &status);
        if (r < 0)
                return r;
        (void) curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ctype);

        if (c->body.len > 0) {
                r = json_parse(c->body.data, c->body.len, &doc, &err);
                if (r < 0) {
                        char buf[GC_ERROR_FORMAT_MAX];
                        gc_buf_reset(&c->body);
                        return client_fail(c, -EBADMSG, url, "HTTP %ld, and the answer (%s) is not strict JSON: %s",
                                           status, ctype ? ctype : "no content type",
                                           gc_error_format(&err, buf, sizeof buf));
                }
        }
        gc_buf_reset(&c->body);

        *ret_status = status;
        *ret_json = TAKE_PTR(doc);
        return 0;
}

int client_request_raw(struct client *c, const char *method, const char *path, const char *body, size_t len,
                       size_t max, long *ret_status, char **ret_body, size_t *ret_body_len) {
        _cleanup_free_ char *url = NULL;
        long status = 0;
        int r;

        r = client_perform(c, method, path, body, len, max, true, &url, &status);
        if (r < 0)
                return r;
        *ret_status = status;
        *ret_body = gc_buf_steal(&c->body, ret_body_len);
        return 0;
}

const char *client_error(const struct client *c) {
        return c->error ? c->error : "no error";
}

char *client_escape(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out = xmalloc(3 * n + 1), *p = out;

        for (; *s; s++) {
                unsigned char ch = *s;
                if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                    ch == '-' || ch == '.' || ch == '_' || ch == '~')
                        *p++ = ch;
                else {
                        *p++ = '%';
                        *p++ = hex[ch >> 4];
                        *p++ = hex[ch & 15];
                }
        }
        *p = 0;
        return out;
}
