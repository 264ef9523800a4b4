/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Notifier that POSTs each event (its exact JSON bytes) to a webhook:
 *
 *     {"url": "https://...", "timeout_ms": 5000,
 *      "cacert": "ca.pem", "cert": "client.pem", "key": "client.key"}
 *
 * cacert, cert and key are optional and for https only (cert and key for
 * mutual TLS). Every request carries
 *
 *     Content-Type: application/json
 *     X-GC-Event: <the event's "id">
 *     X-GC-Signature: <alg>:<base64 signature over the body bytes>
 *     X-GC-Key: <fingerprint of the signing key>
 *
 * signed by the orchestrator's service key through host->sign, so the
 * receiver can check who sent it and that nothing changed on the way.
 * A 2xx answer is delivery. Connection failures, timeouts, 5xx and 429
 * are -EAGAIN; other answers -EPROTO. The response body is read up to
 * 64 KiB and thrown away. One CURL handle per state, reused, so a
 * keep-alive connection carries the following events.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc-config.h"
#include "gc/plugin.h"
#include "json.h"
#include "options.h"

#define NOTIFY_WEBHOOK_NAME "notify-webhook"
#define NOTIFY_WEBHOOK_TIMEOUT_MS_DEFAULT 5000
#define NOTIFY_WEBHOOK_TIMEOUT_MS_MAX (10 * 60 * 1000)
#define NOTIFY_WEBHOOK_RESPONSE_MAX (64 * 1024)
#define NOTIFY_WEBHOOK_ID_MAX 128

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup)
DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all)

static void curl_freep(char **p) {
        curl_free(*p);
}

struct notify_webhook {
        const struct gc_plugin_host *host;
        CURL *curl;
        char *url_shown;                /* scheme://host[:port]/path: no credentials, no query */
        size_t received;                /* response body bytes of the current request */
        bool truncated;                 /* the body went past NOTIFY_WEBHOOK_RESPONSE_MAX */
        char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t notify_webhook_once = PTHREAD_ONCE_INIT;
static CURLcode notify_webhook_global = CURLE_FAILED_INIT;

static void notify_webhook_global_init(void) {
        notify_webhook_global = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void notify_webhook_fini(void *state) {
        struct notify_webhook *w = state;

        if (!w)
                return;
        curl_easy_cleanup(w->curl);
        free(w->url_shown);
        free(w);
}

/* Check the URL (http or https, nothing else) and make the form that may
 * appear in a reason: a URL's user info or query can carry a secret. */
static int notify_webhook_url(const char *url, bool *ret_https, char **ret_shown,
                              char *reason, size_t reason_size) {
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;

        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                options_reason(reason, reason_size, "config.url: is not an absolute URL");
                return -EINVAL;
        }
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
                options_reason(reason, reason_size, "config.url: scheme \"%s\" is not http or https", scheme);
                return -EINVAL;
        }
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
                port = NULL;
        if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
                path = NULL;

        *ret_https = strcmp(scheme, "https") == 0;
        *ret_shown = xasprintf("%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
                               path ? path : "/");
        return 0;
}

static int notify_webhook_readable(const char *key, const char *path, char *reason, size_t reason_size) {
        if (access(path, R_OK) < 0) {
                int r = -errno;
                options_reason(reason, reason_size, "config.%s: cannot read %s: %s", key, path, strerror(-r));
                return r;
        }
        return 0;
}

static size_t notify_webhook_discard(char *data, size_t size, size_t nmemb, void *userdata) {
        struct notify_webhook *w = userdata;
        size_t n = size * nmemb;

        if (n > NOTIFY_WEBHOOK_RESPONSE_MAX - w->received) {
                /* A short count stops the transfer (CURLE_WRITE_ERROR). */
                w->truncated = true;
                return 0;
        }
        w->received += n;
        return n;
}

static int notify_webhook_init(const struct gc_plugin_host *host, const char *config_json,
                               void **ret_state, char *reason, size_t reason_size) {
        static const char *const known[] = { "url", "timeout_ms", "cacert", "cert", "key", NULL };
        _cleanup_(cJSON_Deletep) cJSON *config = NULL;
        _cleanup_(curl_easy_cleanupp) CURL *curl = NULL;
        _cleanup_free_ char *shown = NULL;
        const char *url = NULL, *cacert = NULL, *cert = NULL, *key = NULL;
        int64_t timeout_ms = NOTIFY_WEBHOOK_TIMEOUT_MS_DEFAULT;
        struct notify_webhook *w;
        bool https = false;
        CURLcode c;
        int r;

        r = options_parse(config_json, known, &config, reason, reason_size);
        if (r < 0)
                return r;
        r = options_string(config, "url", &url, reason, reason_size);
        if (r < 0)
                return r;
        if (r == 0) {
                options_reason(reason, reason_size, "config.url: is required");
                return -EINVAL;
        }
        r = options_int(config, "timeout_ms", 1, NOTIFY_WEBHOOK_TIMEOUT_MS_MAX, &timeout_ms, reason, reason_size);
        if (r < 0)
                return r;
        if (options_string(config, "cacert", &cacert, reason, reason_size) < 0 ||
            options_string(config, "cert", &cert, reason, reason_size) < 0 ||
            options_string(config, "key", &key, reason, reason_size) < 0)
                return -EINVAL;

        r = notify_webhook_url(url, &https, &shown, reason, reason_size);
        if (r < 0)
                return r;
        if (!https && (cacert || cert || key)) {
                options_reason(reason, reason_size, "config.%s: needs an https URL",
                              cacert ? "cacert" : cert ? "cert" : "key");
                return -EINVAL;
        }
        if (key && !cert) {
                options_reason(reason, reason_size, "config.key: needs config.cert");
                return -EINVAL;
        }
        if ((cacert && (r = notify_webhook_readable("cacert", cacert, reason, reason_size)) < 0) ||
            (cert && (r = notify_webhook_readable("cert", cert, reason, reason_size)) < 0) ||
            (key && (r = notify_webhook_readable("key", key, reason, reason_size)) < 0))
                return r;

        if (!host || !host->sign) {
                options_reason(reason, reason_size, "the host lends no signing key");
                return -ENOKEY;
        }

        (void) pthread_once(&notify_webhook_once, notify_webhook_global_init);
        if (notify_webhook_global != CURLE_OK) {
                options_reason(reason, reason_size, "libcurl: %s", curl_easy_strerror(notify_webhook_global));
                return -EIO;
        }

        curl = curl_easy_init();
        if (!curl) {
                options_reason(reason, reason_size, "libcurl: cannot make a handle");
                return -ENOMEM;
        }

        w = xnew(struct notify_webhook, 1);

        /* Each setopt runs only while the ones before succeeded. */
        c = curl_easy_setopt(curl, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
        c = c ?: curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        c = c ?: curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        /* Only where the config says: no redirects, no proxy from the environment. */
        c = c ?: curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        c = c ?: curl_easy_setopt(curl, CURLOPT_PROXY, "");
        c = c ?: curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        c = c ?: curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
        c = c ?: curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout_ms);
        c = c ?: curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
        c = c ?: curl_easy_setopt(curl, CURLOPT_USERAGENT, "govcloud-" NOTIFY_WEBHOOK_NAME "/" GC_VERSION);
        c = c ?: curl_easy_setopt(curl, CURLOPT_POST, 1L);
        c = c ?: curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, w->errbuf);
        c = c ?: curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, notify_webhook_discard);
        c = c ?: curl_easy_setopt(curl, CURLOPT_WRITEDATA, w);
        if (cacert)
                c = c ?: curl_easy_setopt(curl, CURLOPT_CAINFO, cacert);
        if (cert)
                c = c ?: curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
        if (key)
                c = c ?: curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
        if (c != CURLE_OK) {
                options_reason(reason, reason_size, "libcurl: %s", curl_easy_strerror(c));
                free(w);
                return -EINVAL;
        }

        w->host = host;
        w->curl = TAKE_PTR(curl);
        w->url_shown = TAKE_PTR(shown);
        *ret_state = w;
        return 0;
}

/* Header values must not be able to end the header. */
static bool notify_webhook_header_safe(const char *s, size_t max) {
        size_t n = 0;

        if (!s || !*s)
                return false;
        for (; *s; s++, n++)
                if ((unsigned char) *s <= 0x20 || (unsigned char) *s >= 0x7f || n >= max)
                        return false;
        return true;
}

static int notify_webhook_curl_errno(CURLcode c) {
        switch (c) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_AGAIN:
                return -EAGAIN;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTO;
        default:
                return -EIO;
        }
}

static int notify_webhook_status_errno(long status) {
        if (status >= 200 && status <= 299)
                return 0;
        if (status == 429 || (status >= 500 && status <= 599))
                return -EAGAIN;
        return -EPROTO;
}

static int notify_webhook_notify(void *state, const char *event_json, size_t len,
                                 char *reason, size_t reason_size) {
        struct notify_webhook *w = state;
        _cleanup_(cJSON_Deletep) cJSON *event = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        _cleanup_free_ char *sig_b64 = NULL, *h_event = NULL, *h_sig = NULL, *h_key = NULL;
        const char *id = NULL, *alg = NULL, *fingerprint = NULL;
        struct gc_error err = {};
        size_t siglen = 0;
        long status = 0;
        CURLcode c;
        int r;

        if (!event_json || json_parse(event_json, len, &event, &err) < 0 || !cJSON_IsObject(event)) {
                options_reason(reason, reason_size, "event is not a JSON object");
                return -EINVAL;
        }
        if (json_get_string(event, "id", &id, NULL) < 0 ||
            !notify_webhook_header_safe(id, NOTIFY_WEBHOOK_ID_MAX)) {
                options_reason(reason, reason_size, "event has no \"id\" of 1 to %d printable characters",
                              NOTIFY_WEBHOOK_ID_MAX);
                return -EINVAL;
        }

        r = w->host->sign(w->host->userdata, event_json, len, &sig, &siglen, &alg, &fingerprint);
        if (r < 0) {
                options_reason(reason, reason_size, "cannot sign the event: %s", strerror(-r));
                return r;
        }
        if (!sig || siglen == 0 || !notify_webhook_header_safe(alg, 32) ||
            !notify_webhook_header_safe(fingerprint, 256)) {
                options_reason(reason, reason_size, "the host's signature is unusable");
                return -EIO;
        }
        sig_b64 = crypto_base64(sig, siglen);

        h_event = xasprintf("X-GC-Event: %s", id);
        h_sig = xasprintf("X-GC-Signature: %s:%s", alg, sig_b64);
        h_key = xasprintf("X-GC-Key: %s", fingerprint);
        /* "Expect:" turns off curl's 100-continue round trip for larger bodies. */
        const char *const lines[] = { "Content-Type: application/json", h_event, h_sig, h_key, "Expect:" };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                struct curl_slist *l = curl_slist_append(headers, lines[i]);
                if (!l) {
                        options_reason(reason, reason_size, "out of memory");
                        return -ENOMEM;
                }
                headers = l;
        }

        w->received = 0;
        w->truncated = false;
        w->errbuf[0] = 0;
        c = curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, headers);
        c = c ?: curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        c = c ?: curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, event_json);
        c = c ?: curl_easy_perform(w->curl);
        if (c == CURLE_OK || (c == CURLE_WRITE_ERROR && w->truncated))
                (void) curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
        else
                r = notify_webhook_curl_errno(c);

        /* Nothing of this call stays behind in the handle. */
        (void) curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
        (void) curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, NULL);

        if (status == 0) {
                options_reason(reason, reason_size, "POST to %s failed: %s", w->url_shown,
                              w->errbuf[0] ? w->errbuf : curl_easy_strerror(c));
                return r < 0 ? r : -EIO;
        }
        r = notify_webhook_status_errno(status);
        if (r < 0)
                options_reason(reason, reason_size, "HTTP %ld from %s", status, w->url_shown);
        return r;
}

__attribute__((visibility("default"))) const struct gc_plugin_ops gc_plugin = {
        .abi_version = GC_PLUGIN_ABI_VERSION,
        .kind = GC_PLUGIN_NOTIFY,
        .name = NOTIFY_WEBHOOK_NAME,
        .description = "POSTs each event, signed with the orchestrator's key, to an HTTP(S) webhook",
        .init = notify_webhook_init,
        .fini = notify_webhook_fini,
        .notify = notify_webhook_notify,
};
