/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "client.h"
#include "gc-config.h"
#include "json.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all)

enum client_link {
        CLIENT_LINK_UNKNOWN,
        CLIENT_LINK_UP,
        CLIENT_LINK_DOWN,
};

struct client {
        CURL *curl;
        char *server;                   /* without a trailing '/' */
        const volatile sig_atomic_t *stop;
        bool interruptible;             /* the call in hand */
        struct gc_buf body;
        bool too_large;
        char curl_error[CURL_ERROR_SIZE];
        char *error;
        enum client_link link;
        unsigned failures;              /* calls without an answer since the link went down */
        unsigned backoff;               /* seconds */
};

static size_t client_write(char *p, size_t size, size_t n, void *userdata) {
        struct client *c = userdata;

        if (gc_buf_append(&c->body, p, size * n) < 0) {
                c->too_large = true;
                return 0;
        }
        return size * n;
}

/* Called about once a second during a transfer: a non-zero answer aborts it. */
static int client_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        struct client *c = userdata;

        return c->interruptible && c->stop && *c->stop;
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

static int client_setopt_failed(CURLcode code, const char *what) {
        return log_error_errno(EINVAL, "curl option %s: %s", what, curl_easy_strerror(code));
}

#define client_setopt(c, opt, value)                                                    \
        ({                                                                              \
                CURLcode _code_ = curl_easy_setopt((c)->curl, opt, value);              \
                _code_ == CURLE_OK ? 0 : client_setopt_failed(_code_, #opt);            \
        })

int client_new(const char *url, const char *cert, const char *key, const char *ca,
               const volatile sig_atomic_t *stop, struct client **ret) {
        static bool initialized = false;
        _cleanup_(client_freep) struct client *c = NULL;
        size_t n;
        int r = 0;

        if (!url || strncasecmp(url, "https://", 8) != 0)
                return -EPROTONOSUPPORT;
        if (!initialized) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return log_error_errno(EIO, "curl_global_init failed");
                initialized = true;
        }

        c = xnew(struct client, 1);
        c->body = GC_BUF_INIT(CLIENT_BODY_MAX);
        c->stop = stop;
        c->backoff = CLIENT_BACKOFF_INITIAL_S;
        n = strlen(url);
        while (n > 8 && url[n - 1] == '/')
                n--;
        c->server = xstrndup(url, n);
        c->curl = curl_easy_init();
        if (!c->curl)
                return log_error_errno(ENOMEM, "curl_easy_init failed");

        r = r ?: client_setopt(c, CURLOPT_ERRORBUFFER, c->curl_error);
        r = r ?: client_setopt(c, CURLOPT_NOSIGNAL, 1L);
        r = r ?: client_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        r = r ?: client_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        r = r ?: client_setopt(c, CURLOPT_SSLVERSION, (long) (CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_DEFAULT));
        r = r ?: client_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        r = r ?: client_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        r = r ?: client_setopt(c, CURLOPT_CAINFO, ca);
        r = r ?: client_setopt(c, CURLOPT_SSLCERT, cert);
        r = r ?: client_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        r = r ?: client_setopt(c, CURLOPT_SSLKEY, key);
        r = r ?: client_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        r = r ?: client_setopt(c, CURLOPT_USERAGENT, "gc-agent/" GC_VERSION);
        r = r ?: client_setopt(c, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT_S);
        r = r ?: client_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        r = r ?: client_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) CLIENT_BODY_MAX);
        r = r ?: client_setopt(c, CURLOPT_WRITEFUNCTION, client_write);
        r = r ?: client_setopt(c, CURLOPT_WRITEDATA, c);
        r = r ?: client_setopt(c, CURLOPT_NOPROGRESS, 0L);
        r = r ?: client_setopt(c, CURLOPT_XFERINFOFUNCTION, client_progress);
        r = r ?: client_setopt(c, CURLOPT_XFERINFODATA, c);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

static int client_errno_from_curl(CURLcode code) {
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
        case CURLE_ABORTED_BY_CALLBACK:
                return -ECANCELED;
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
        return r;
}

/* No answer came: the link is down. Logged when it goes down, not on every attempt. */
static void client_link_down(struct client *c) {
        c->failures++;
        if (c->link != CLIENT_LINK_DOWN)
                log_warning("orchestrator unreachable: %s; retrying every %u s, doubling up to %u s",
                            c->error, c->backoff, CLIENT_BACKOFF_MAX_S);
        else
                log_debug("orchestrator still unreachable (%u attempts): %s", c->failures, c->error);
        c->link = CLIENT_LINK_DOWN;
}

static void client_link_up(struct client *c) {
        if (c->link == CLIENT_LINK_DOWN)
                log_notice("orchestrator %s reachable again after %u failed attempt%s", c->server, c->failures,
                           c->failures == 1 ? "" : "s");
        else if (c->link == CLIENT_LINK_UNKNOWN)
                log_info("connected to %s", c->server);
        c->link = CLIENT_LINK_UP;
        c->failures = 0;
}

int client_request(struct client *c, const char *method, const char *path, const cJSON *body, long timeout_s,
                   bool interruptible, long *ret_status, cJSON **ret_json) {
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_free_ char *url = NULL, *text = NULL;
        struct gc_error err = {};
        CURLcode code;
        long status = 0;
        int r = 0;

        assert(path[0] == '/');
        url = xasprintf("%s%s", c->server, path);
        gc_buf_reset(&c->body);
        c->too_large = false;
        c->curl_error[0] = 0;
        c->interruptible = interruptible;

        if (body) {
                text = cJSON_PrintUnformatted(body);
                if (!text)
                        abort();
        }

        headers = curl_slist_append(headers, "Accept: application/json");
        if (text) {
                headers = curl_slist_append(headers, "Content-Type: application/json");
                headers = curl_slist_append(headers, "Expect:");
        }
        if (!headers)
                abort();

        r = r ?: client_setopt(c, CURLOPT_URL, url);
        r = r ?: client_setopt(c, CURLOPT_HTTPHEADER, headers);
        r = r ?: client_setopt(c, CURLOPT_TIMEOUT, timeout_s);
        if (strcmp(method, "GET") == 0) {
                r = r ?: client_setopt(c, CURLOPT_HTTPGET, 1L);
                r = r ?: client_setopt(c, CURLOPT_CUSTOMREQUEST, (char *) NULL);
        } else {
                r = r ?: client_setopt(c, CURLOPT_POST, 1L);
                r = r ?: client_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (text ? strlen(text) : 0));
                r = r ?: client_setopt(c, CURLOPT_POSTFIELDS, text ? text : "");
                r = r ?: client_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
        }
        if (r < 0)
                return client_fail(c, r, url, "cannot set up the request");

        code = curl_easy_perform(c->curl);
        /* The header list and the body die with this call. */
        (void) curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, (struct curl_slist *) NULL);
        (void) curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (char *) NULL);
        c->interruptible = false;
        if (code != CURLE_OK) {
                if (c->too_large || code == CURLE_FILESIZE_EXCEEDED)
                        return client_fail(c, -EFBIG, url, "the answer is larger than %u MiB",
                                           CLIENT_BODY_MAX / (1024 * 1024));
                r = client_errno_from_curl(code);
                client_fail(c, r, url, "%s", c->curl_error[0] ? c->curl_error : curl_easy_strerror(code));
                if (r != -ECANCELED)
                        client_link_down(c);
                return r;
        }
        client_link_up(c);
        long connects = 0;
        (void) curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects);
        if (connects > 0)
                log_debug("new TLS connection to %s", c->server);
        (void) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);

        if (c->body.len > 0) {
                r = json_parse(c->body.data, c->body.len, &doc, &err);
                if (r < 0 && status >= 200 && status < 300) {
                        char buf[GC_ERROR_FORMAT_MAX];
                        return client_fail(c, -EBADMSG, url, "HTTP %ld, and the answer is not strict JSON: %s",
                                           status, gc_error_format(&err, buf, sizeof buf));
                }
        }
        gc_buf_reset(&c->body);

        *ret_status = status;
        *ret_json = TAKE_PTR(doc);
        return 0;
}

const char *client_error(const struct client *c) {
        return c->error ?: "no error";
}

unsigned client_backoff_next(const struct client *c) {
        return c->backoff;
}

void client_backoff_reset(struct client *c) {
        c->backoff = CLIENT_BACKOFF_INITIAL_S;
}

int client_backoff(struct client *c) {
        struct timespec slice = { .tv_nsec = 100 * 1000 * 1000 };
        unsigned slices = c->backoff * 10;

        for (unsigned i = 0; i < slices; i++) {
                if (c->stop && *c->stop)
                        return -ECANCELED;
                (void) nanosleep(&slice, NULL);
        }
        c->backoff = c->backoff * 2 > CLIENT_BACKOFF_MAX_S ? CLIENT_BACKOFF_MAX_S : c->backoff * 2;
        return c->stop && *c->stop ? -ECANCELED : 0;
}
