/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmarks' HTTPS client (bench/intake.c, provision.c, rightsize.c):
 * one libcurl handle per identity of the run's PKI (PKI/tls/NAME.crt and
 * .key, PKI/ca.crt), TLS 1.3, kept alive between calls, the reply in a
 * buffer. Header-only: each benchmark is one program.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "log.h"

struct http {
        CURL *curl;
        struct curl_slist *headers;
        const char *url;
        struct gc_buf reply;
        char *cert, *key, *ca;
        const char *program;            /* for the messages: "bench-intake" */
};

static inline size_t http_write(char *p, size_t size, size_t n, void *userdata) {
        struct gc_buf *b = userdata;
        return gc_buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

static inline int http_open(struct http *h, const char *program, const char *url, const char *pki, const char *identity,
                            size_t reply_max, long timeout_s) {
        *h = (struct http) { .url = url, .reply = GC_BUF_INIT(reply_max), .program = program };
        h->cert = xasprintf("%s/tls/%s.crt", pki, identity);
        h->key = xasprintf("%s/tls/%s.key", pki, identity);
        h->ca = xasprintf("%s/ca.crt", pki);
        h->curl = curl_easy_init();
        if (!h->curl)
                return log_error_errno(-ENOMEM, "curl_easy_init");
        h->headers = curl_slist_append(NULL, "Content-Type: application/json");
        h->headers = curl_slist_append(h->headers, "Expect:");         /* no 100-continue round trip for large bodies */
        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
        curl_easy_setopt(h->curl, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_3);
        curl_easy_setopt(h->curl, CURLOPT_SSLCERT, h->cert);
        curl_easy_setopt(h->curl, CURLOPT_SSLKEY, h->key);
        curl_easy_setopt(h->curl, CURLOPT_CAINFO, h->ca);
        curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_write);
        curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &h->reply);
        curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, timeout_s);
        curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
        return 0;
}

static inline void http_close(struct http *h) {
        curl_easy_cleanup(h->curl);
        curl_slist_free_all(h->headers);
        gc_buf_free(&h->reply);
        free(h->cert);
        free(h->key);
        free(h->ca);
}

/* body NULL: GET. The reply is in h->reply; *ret_connects (may be NULL)
 * the new connections the call made. */
static inline int http_call(struct http *h, const char *method, const char *path, const char *body, size_t len,
                            long *ret_status, long *ret_connects) {
        _cleanup_free_ char *u = xasprintf("%s%s", h->url, path);
        gc_buf_reset(&h->reply);
        curl_easy_setopt(h->curl, CURLOPT_URL, u);
        if (body) {
                curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
                curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
        } else {
                curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, NULL);
                curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
        }
        CURLcode rc = curl_easy_perform(h->curl);
        if (rc != CURLE_OK)
                return log_error_errno(-EIO, "%s %s: %s", method, u, curl_easy_strerror(rc));
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, ret_status);
        if (ret_connects)
                curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, ret_connects);
        return 0;
}

/* A call that must answer want; its reply parsed into *ret (may be NULL). */
static inline int http_expect(struct http *h, const char *method, const char *path, const char *body, long want, cJSON **ret) {
        long status = 0;
        int r = http_call(h, method, path, body, body ? strlen(body) : 0, &status, NULL);
        if (r < 0)
                return r;
        if (status != want) {
                fprintf(stderr, "%s: %s %s: HTTP %ld, expected %ld: %.600s\n", h->program, method, path, status, want,
                        h->reply.data ?: "");
                return -EPROTO;
        }
        if (ret) {
                *ret = cJSON_ParseWithLength(h->reply.data, h->reply.len);
                if (!*ret)
                        return log_error_errno(-EBADMSG, "%s %s: the reply is not JSON", method, path);
        }
        return 0;
}
