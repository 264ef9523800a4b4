/* SPDX-License-Identifier: Apache-2.0 */
/*
 * orchestrator/plugin.c against the real, built plugins (the .so files of plugins/) and
 * against wrong-on-purpose modules (fake-plugin.c): loading and refusals,
 * the approval verifiers with fresh SM2 and Ed25519 keys, notify-log
 * writing its file, and notify-webhook delivering to a real HTTP receiver
 * (libevent's evhttp on 127.0.0.1, on its own thread).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "orchestrator/plugin.h"

#ifndef GC_PLUGIN_BUILDDIR
#error "GC_PLUGIN_BUILDDIR: where the built plugins are"
#endif
#ifndef GC_TEST_PLUGIN_BUILDDIR
#error "GC_TEST_PLUGIN_BUILDDIR: where the fake plugins are"
#endif

/* An event as the orchestrator hands it over: canonical JSON. */
#define EVENT_ID "evt-000042"
#define EVENT_JSON "{\"id\":\"" EVENT_ID "\",\"system\":\"大数据中心-web-01\",\"time\":\"2025-03-01T08:00:00Z\"," \
                   "\"type\":\"vm.started\"}"

/* ------------------------------------------------------------------ */
/* The host the orchestrator lends: a service key, and a log we can read. */

struct test_host {
        EVP_PKEY *key;
        char *fingerprint;
        const char *alg;
        unsigned sign_calls;
        unsigned log_calls;
        int last_level;
        char last_plugin[64];
        char last_message[4096];
};

static void test_host_log(void *userdata, int level, const char *plugin, const char *message) {
        struct test_host *h = userdata;

        h->log_calls++;
        h->last_level = level;
        snprintf(h->last_plugin, sizeof h->last_plugin, "%s", plugin);
        snprintf(h->last_message, sizeof h->last_message, "%s", message);
}

static int test_host_sign(void *userdata, const void *msg, size_t len,
                          uint8_t **ret_sig, size_t *ret_siglen,
                          const char **ret_alg, const char **ret_key_fingerprint) {
        struct test_host *h = userdata;
        int r;

        if (!h->key)
                return -ENOKEY;
        r = crypto_sign(h->key, msg, len, ret_sig, ret_siglen);
        if (r < 0)
                return r;
        h->sign_calls++;
        *ret_alg = h->alg;
        *ret_key_fingerprint = h->fingerprint;
        return 0;
}

static void test_host_setup(struct test_host *h, struct gc_plugin_host *host, enum gc_key_type type) {
        *h = (struct test_host) {};
        assert_int_equal(crypto_key_generate(type, &h->key), 0);
        assert_int_equal(crypto_key_fingerprint(h->key, &h->fingerprint), 0);
        h->alg = crypto_key_type_to_string(type);
        *host = (struct gc_plugin_host) {
                .userdata = h,
                .log = test_host_log,
                .sign = test_host_sign,
        };
}

static void test_host_done(struct test_host *h) {
        EVP_PKEY_free(h->key);
        free(h->fingerprint);
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

static double now_seconds(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Loading */

static void test_shipped_plugins_load(void **state) {
        static const struct {
                const char *file;
                uint32_t kind;
                const char *name;
                const char *key_type;
        } shipped[] = {
                { "approval-sm2", GC_PLUGIN_APPROVAL, "approval-sm2", "sm2" },
                { "approval-ed25519", GC_PLUGIN_APPROVAL, "approval-ed25519", "ed25519" },
                { "notify-log", GC_PLUGIN_NOTIFY, "notify-log", NULL },
                { "notify-webhook", GC_PLUGIN_NOTIFY, "notify-webhook", NULL },
        };
        struct test_host h;
        struct gc_plugin_host host;

        test_host_setup(&h, &host, GC_KEY_SM2);
        for (size_t i = 0; i < ELEMENTSOF(shipped); i++) {
                const char *config = strcmp(shipped[i].file, "notify-webhook") == 0
                        ? "{\"url\":\"http://127.0.0.1:9/hook\"}" : NULL;
                _cleanup_free_ char *with_so = xasprintf("%s.so", shipped[i].file);
                _cleanup_free_ char *full = xasprintf("%s/%s.so", GC_PLUGIN_BUILDDIR, shipped[i].file);
                const char *names[] = { shipped[i].file, with_so, full };

                /* By bare name, by file name, by path; with its kind and with any kind. */
                for (size_t j = 0; j < ELEMENTSOF(names); j++)
                        for (uint32_t expect = 0; expect <= shipped[i].kind; expect += shipped[i].kind) {
                                _cleanup_(plugin_freep) struct plugin *p = NULL;
                                struct gc_error err = {};

                                assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, names[j], config, expect,
                                                             &host, &p, &err), 0);
                                assert_non_null(p);
                                assert_string_equal(p->path, full);
                                assert_int_equal(p->ops->abi_version, GC_PLUGIN_ABI_VERSION);
                                assert_int_equal(p->ops->kind, shipped[i].kind);
                                assert_string_equal(p->ops->name, shipped[i].name);
                                assert_non_null(p->ops->description);
                                if (shipped[i].key_type) {
                                        assert_string_equal(p->ops->key_type, shipped[i].key_type);
                                        assert_non_null(p->ops->verify);
                                } else {
                                        assert_non_null(p->ops->notify);
                                }
                        }
        }
        test_host_done(&h);
}

/* A refusal: the errno, err filled with code, field "plugin", the path as
 * value, no rule; ret left alone. */
static void assert_refused(const char *dir, const char *name, const char *config, uint32_t expect_kind,
                           int want, const char *code, const char *message_part) {
        struct plugin *sentinel = (struct plugin *) &sentinel;
        struct plugin *p = sentinel;
        struct gc_error err = {};
        _cleanup_free_ char *path = NULL;

        if (!*name || strchr(name, '/'))
                path = xstrdup(name);
        else
                path = xasprintf("%s/%s%s", dir, name, has_suffix(name, ".so") ? "" : ".so");

        assert_int_equal(plugin_load(dir, name, config, expect_kind, NULL, &p, &err), want);
        assert_ptr_equal(p, sentinel);
        assert_string_equal(err.code, code);
        assert_string_equal(err.field, "plugin");
        assert_string_equal(err.value, path);
        assert_string_equal(err.rule, "");
        if (message_part && !strstr(err.message, message_part))
                fail_msg("message \"%s\" lacks \"%s\"", err.message, message_part);
}

static void test_refusals(void **state) {
        /* Built for ABI 999: refused by its version alone. Its init() would
         * abort() the test, and it is a complete notify plugin otherwise,
         * so only the version check stands between it and init(). */
        assert_refused(GC_TEST_PLUGIN_BUILDDIR, "fake-bad-abi", NULL, 0, -EPROTO, "plugin_abi", "999");
        assert_refused(GC_TEST_PLUGIN_BUILDDIR, "fake-bad-abi", NULL, GC_PLUGIN_NOTIFY, -EPROTO, "plugin_abi",
                       "this orchestrator speaks version 1");

        assert_refused(GC_TEST_PLUGIN_BUILDDIR, "fake-no-symbol", NULL, 0, -ENOEXEC, "plugin_symbol", "gc_plugin");
        assert_refused(GC_TEST_PLUGIN_BUILDDIR, "no-such-plugin", NULL, 0, -ENOENT, "plugin_load",
                       "cannot be loaded");
        assert_refused(GC_TEST_PLUGIN_BUILDDIR, "/nonexistent/dir/approval-sm2.so", NULL, 0, -ENOENT,
                       "plugin_load", "No such file");
        assert_refused(GC_TEST_PLUGIN_BUILDDIR, "fake-bad-kind", NULL, 0, -EINVAL, "plugin_kind",
                       "unknown plugin kind 7");
        assert_refused(GC_TEST_PLUGIN_BUILDDIR, "fake-no-notify", NULL, 0, -EINVAL, "plugin_ops", "notify()");
        assert_refused(GC_TEST_PLUGIN_BUILDDIR, "fake-init-fails", NULL, 0, -EACCES, "plugin_init",
                       "refused on purpose");

        /* Wrong kind, both ways. */
        assert_refused(GC_PLUGIN_BUILDDIR, "approval-sm2", NULL, GC_PLUGIN_NOTIFY, -EINVAL, "plugin_kind",
                       "is of kind approval, not notify as expected");
        assert_refused(GC_PLUGIN_BUILDDIR, "notify-log.so", NULL, GC_PLUGIN_APPROVAL, -EINVAL, "plugin_kind",
                       "is of kind notify, not approval as expected");

        /* A file that is not a shared object at all. */
        assert_refused(NULL, GC_SRCDIR "/meson.build", NULL, 0, -ENOENT, "plugin_load", "invalid ELF header");
        assert_refused(NULL, "", NULL, 0, -EINVAL, "plugin_path", NULL);
}

static void test_init_and_fini(void **state) {
        struct test_host h;
        struct gc_plugin_host host;
        struct gc_error err = {};
        struct plugin *p = NULL;

        test_host_setup(&h, &host, GC_KEY_ED25519);

        /* No config: init gets "{}". */
        assert_int_equal(plugin_load(GC_TEST_PLUGIN_BUILDDIR, "fake-ok", NULL, GC_PLUGIN_NOTIFY, &host, &p, &err), 0);
        assert_int_equal(h.log_calls, 1);
        assert_string_equal(h.last_plugin, "fake");
        assert_string_equal(h.last_message, "{}");
        assert_null(p->state);
        plugin_free(p);
        assert_int_equal(h.log_calls, 2);
        assert_string_equal(h.last_message, "fini");

        /* A config arrives as it was given. */
        p = NULL;
        assert_int_equal(plugin_load(GC_TEST_PLUGIN_BUILDDIR, "fake-ok.so", "{\"a\":[1,2]}", 0, &host, &p, &err), 0);
        assert_string_equal(h.last_message, "{\"a\":[1,2]}");
        plugin_free(p);
        assert_string_equal(h.last_message, "fini");

        plugin_free(NULL);
        test_host_done(&h);
}

/* ------------------------------------------------------------------ */
/* Approval verifiers */

static char *private_pem(EVP_PKEY *key) {
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
        char *data = NULL;
        long n;

        assert_non_null(bio);
        assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
        n = BIO_get_mem_data(bio, &data);
        assert_true(n > 0);
        return xstrndup(data, (size_t) n);
}

static void approval_case(const char *file, enum gc_key_type type, enum gc_key_type other) {
        static const char msg[] = "{\"approval\":{\"by\":\"主管部门\",\"id\":\"A-2025-0042\"},\"kind\":\"apply\"}";
        _cleanup_(plugin_freep) struct plugin *p = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL, *other_key = NULL, *p256 = NULL;
        _cleanup_free_ char *pem = NULL, *other_pem = NULL, *p256_pem = NULL, *priv_pem = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *other_sig = NULL, *bad = NULL;
        size_t siglen = 0, other_siglen = 0;
        char reason[GC_PLUGIN_REASON_MAX];
        char other_msg[sizeof msg];
        struct gc_error err = {};
        const struct gc_plugin_ops *ops;

        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, file, NULL, GC_PLUGIN_APPROVAL, NULL, &p, &err), 0);
        ops = p->ops;
        assert_string_equal(ops->key_type, crypto_key_type_to_string(type));

        assert_int_equal(crypto_key_generate(type, &key), 0);
        assert_int_equal(crypto_key_public_pem(key, &pem), 0);
        assert_int_equal(crypto_sign(key, msg, strlen(msg), &sig, &siglen), 0);

        /* Good. */
        reason[0] = 0;
        assert_int_equal(ops->verify(p->state, pem, msg, strlen(msg), sig, siglen, reason, sizeof reason), 0);

        /* Any flipped bit: first byte, middle, last. */
        bad = xmemdup(sig, siglen);
        for (size_t i = 0; i < siglen; i += siglen / 2 > 0 ? siglen / 2 : 1)
                for (int bit = 0; bit < 8; bit += 7) {
                        memcpy(bad, sig, siglen);
                        bad[i] ^= (uint8_t) (1u << bit);
                        reason[0] = 0;
                        assert_int_equal(ops->verify(p->state, pem, msg, strlen(msg), bad, siglen,
                                                     reason, sizeof reason), -EBADMSG);
                        assert_non_null(strstr(reason, "does not verify"));
                }
        memcpy(bad, sig, siglen);
        bad[siglen - 1] ^= 0x80;
        assert_int_equal(ops->verify(p->state, pem, msg, strlen(msg), bad, siglen, reason, sizeof reason), -EBADMSG);
        /* Shortened, empty. */
        assert_int_equal(ops->verify(p->state, pem, msg, strlen(msg), sig, siglen - 1, reason, sizeof reason),
                         -EBADMSG);
        assert_int_equal(ops->verify(p->state, pem, msg, strlen(msg), sig, 0, reason, sizeof reason), -EBADMSG);

        /* Other bytes under the good signature. */
        memcpy(other_msg, msg, sizeof msg);
        other_msg[strlen(other_msg) - 3] = 'X';
        assert_int_equal(ops->verify(p->state, pem, other_msg, strlen(other_msg), sig, siglen,
                                     reason, sizeof reason), -EBADMSG);
        assert_int_equal(ops->verify(p->state, pem, msg, strlen(msg) - 1, sig, siglen, reason, sizeof reason),
                         -EBADMSG);
        assert_int_equal(ops->verify(p->state, pem, "", 0, sig, siglen, reason, sizeof reason), -EBADMSG);

        /* A key of the other type, with a signature good for that key: not
         * this plugin's business, and not "checked and wrong" either. */
        assert_int_equal(crypto_key_generate(other, &other_key), 0);
        assert_int_equal(crypto_key_public_pem(other_key, &other_pem), 0);
        assert_int_equal(crypto_sign(other_key, msg, strlen(msg), &other_sig, &other_siglen), 0);
        reason[0] = 0;
        assert_int_equal(ops->verify(p->state, other_pem, msg, strlen(msg), other_sig, other_siglen,
                                     reason, sizeof reason), -EINVAL);
        assert_non_null(strstr(reason, crypto_key_type_to_string(other)));

        /* A key crypto.c does not take at all: ECDSA on P-256. */
        p256 = EVP_EC_gen("P-256");
        assert_non_null(p256);
        assert_int_equal(crypto_key_public_pem(p256, &p256_pem), 0);
        assert_int_equal(ops->verify(p->state, p256_pem, msg, strlen(msg), sig, siglen, reason, sizeof reason),
                         -EINVAL);

        /* Garbage, the private key instead of the public one, nothing. */
        assert_int_equal(ops->verify(p->state, "not a key", msg, strlen(msg), sig, siglen, reason, sizeof reason),
                         -EINVAL);
        assert_int_equal(ops->verify(p->state, "-----BEGIN PUBLIC KEY-----\nAAAA!!!!\n-----END PUBLIC KEY-----\n",
                                     msg, strlen(msg), sig, siglen, reason, sizeof reason), -EINVAL);
        priv_pem = private_pem(key);
        assert_int_equal(ops->verify(p->state, priv_pem, msg, strlen(msg), sig, siglen, reason, sizeof reason),
                         -EINVAL);
        assert_int_equal(ops->verify(p->state, NULL, msg, strlen(msg), sig, siglen, reason, sizeof reason), -EINVAL);

        /* Still good after all that. */
        assert_int_equal(ops->verify(p->state, pem, msg, strlen(msg), sig, siglen, reason, sizeof reason), 0);
}

static void test_approval_sm2(void **state) {
        approval_case("approval-sm2", GC_KEY_SM2, GC_KEY_ED25519);
}

static void test_approval_ed25519(void **state) {
        approval_case("approval-ed25519", GC_KEY_ED25519, GC_KEY_SM2);
}

static void test_approval_config(void **state) {
        struct plugin *p = NULL;
        struct gc_error err = {};

        /* No options at all; in particular no shared secret. */
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "approval-sm2", "{\"secret\":\"x\"}", 0, NULL, &p, &err),
                         -EINVAL);
        assert_null(p);
        assert_string_equal(err.code, "plugin_init");
        assert_non_null(strstr(err.message, "config.secret: unknown key"));
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "approval-ed25519", "[]", 0, NULL, &p, &err), -EINVAL);
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "approval-ed25519", "{\"a\":1,\"a\":1}", 0, NULL, &p, &err),
                         -EINVAL);
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "approval-ed25519", "{}", 0, NULL, &p, &err), 0);
        plugin_free(p);
}

/* ------------------------------------------------------------------ */
/* notify-log */

struct tmpdir {
        char path[64];
};

static void tmpdir_make(struct tmpdir *t) {
        snprintf(t->path, sizeof t->path, "/tmp/gc-test-plugin-XXXXXX");
        assert_non_null(mkdtemp(t->path));
}

static char *read_all(const char *path) {
        char *data = NULL;
        size_t len = 0;

        assert_int_equal(gc_read_file(path, 1024 * 1024, &data, &len), 0);
        assert_int_equal(strlen(data), len);
        return data;
}

static void test_notify_log_file(void **state) {
        _cleanup_free_ char *file = NULL, *config = NULL, *got = NULL, *want = NULL;
        struct plugin *p = NULL, *q = NULL;
        char reason[GC_PLUGIN_REASON_MAX];
        struct gc_error err = {};
        struct tmpdir t;

        tmpdir_make(&t);
        file = xasprintf("%s/events.log", t.path);
        config = xasprintf("{\"path\":\"%s\",\"fsync\":true}", file);

        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-log", config, GC_PLUGIN_NOTIFY, NULL, &p, &err), 0);
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), 0);
        assert_int_equal(p->ops->notify(p->state, "{\"id\":\"2\"}", 10, reason, sizeof reason), 0);
        /* A second writer appends to the same file. */
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-log", config, GC_PLUGIN_NOTIFY, NULL, &q, &err), 0);
        assert_int_equal(q->ops->notify(q->state, "{\"id\":\"3\"}", 10, reason, sizeof reason), 0);
        /* A line break inside stays on one line; len is honoured. */
        assert_int_equal(p->ops->notify(p->state, "{\"id\":\n\"4\"}trailing", 11, reason, sizeof reason), 0);
        plugin_free(q);
        plugin_free(p);

        got = read_all(file);
        want = xasprintf("%s\n{\"id\":\"2\"}\n{\"id\":\"3\"}\n{\"id\": \"4\"}\n", EVENT_JSON);
        assert_string_equal(got, want);

        /* Without fsync too; the file keeps what it had. */
        free(config);
        config = xasprintf("{\"path\":\"%s\"}", file);
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-log", config, 0, NULL, &p, &err), 0);
        assert_int_equal(p->ops->notify(p->state, "{}", 2, reason, sizeof reason), 0);
        plugin_free(p);
        free(got);
        got = read_all(file);
        free(want);
        want = xasprintf("%s\n{\"id\":\"2\"}\n{\"id\":\"3\"}\n{\"id\": \"4\"}\n{}\n", EVENT_JSON);
        assert_string_equal(got, want);

        assert_int_equal(unlink(file), 0);
        assert_int_equal(rmdir(t.path), 0);
}

static void test_notify_log_host(void **state) {
        struct test_host h;
        struct gc_plugin_host host;
        struct plugin *p = NULL;
        char reason[GC_PLUGIN_REASON_MAX];
        struct gc_error err = {};

        test_host_setup(&h, &host, GC_KEY_SM2);
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-log", NULL, GC_PLUGIN_NOTIFY, &host, &p, &err), 0);
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), 0);
        assert_int_equal(h.log_calls, 1);
        assert_int_equal(h.last_level, 6);
        assert_string_equal(h.last_plugin, "notify-log");
        assert_string_equal(h.last_message, EVENT_JSON);
        plugin_free(p);
        test_host_done(&h);
}

static void test_notify_log_config(void **state) {
        struct plugin *p = NULL;
        struct gc_error err = {};

        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-log", "{\"paht\":\"/tmp/x\"}", 0, NULL, &p, &err),
                         -EINVAL);
        assert_non_null(strstr(err.message, "config.paht: unknown key"));
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-log", "{\"fsync\":true}", 0, NULL, &p, &err),
                         -EINVAL);
        assert_non_null(strstr(err.message, "config.fsync"));
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-log", "{\"path\":1}", 0, NULL, &p, &err), -EINVAL);
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-log", "{\"path\":\"/nonexistent/dir/events.log\"}",
                                     0, NULL, &p, &err), -ENOENT);
        assert_non_null(strstr(err.message, "/nonexistent/dir/events.log"));
        assert_null(p);
}

/* ------------------------------------------------------------------ */
/* A real HTTP receiver for notify-webhook: evhttp on 127.0.0.1, port 0,
 * run on its own thread; what it saw is read under its lock. */

#define RECEIVER_PEERS 16

struct receiver {
        struct event_base *base;
        struct evhttp *http;
        struct event *stop_event;
        int stop_pipe[2];
        pthread_t thread;
        uint16_t port;

        pthread_mutex_t lock;
        /* The answer. */
        int status;
        size_t answer_bytes;
        bool hold;                      /* take the request and never answer */
        /* What arrived last. */
        unsigned requests;
        bool was_post;
        char *body;
        size_t body_len;
        char *content_type, *event, *signature, *key_id;
        uint16_t peer_ports[RECEIVER_PEERS];
};

static char *header_dup(struct evkeyvalq *headers, const char *name) {
        const char *v = evhttp_find_header(headers, name);
        return v ? xstrdup(v) : NULL;
}

static void receiver_request(struct evhttp_request *req, void *userdata) {
        struct receiver *rc = userdata;
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
        size_t n = evbuffer_get_length(in);
        char *peer = NULL;
        ev_uint16_t peer_port = 0;
        struct evbuffer *out;
        int status;
        size_t answer_bytes;
        bool hold;

        evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &peer_port);

        pthread_mutex_lock(&rc->lock);
        free(rc->body);
        rc->body = xmalloc(n + 1);
        rc->body_len = evbuffer_copyout(in, rc->body, n) == (ev_ssize_t) n ? n : 0;
        rc->body[rc->body_len] = 0;
        free(rc->content_type);
        free(rc->event);
        free(rc->signature);
        free(rc->key_id);
        rc->content_type = header_dup(headers, "Content-Type");
        rc->event = header_dup(headers, "X-GC-Event");
        rc->signature = header_dup(headers, "X-GC-Signature");
        rc->key_id = header_dup(headers, "X-GC-Key");
        rc->was_post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
        if (rc->requests < RECEIVER_PEERS)
                rc->peer_ports[rc->requests] = peer_port;
        rc->requests++;
        status = rc->status;
        answer_bytes = rc->answer_bytes;
        hold = rc->hold;
        pthread_mutex_unlock(&rc->lock);

        if (hold)
                return;         /* freed with its connection by evhttp_free() */

        out = evbuffer_new();
        if (!out)
                abort();
        for (size_t i = 0; i < answer_bytes; i += 16)
                evbuffer_add(out, "0123456789abcdef", answer_bytes - i < 16 ? answer_bytes - i : 16);
        evhttp_send_reply(req, status, status / 100 == 2 ? "OK" : "Not Now", out);
        evbuffer_free(out);
}

static void receiver_stop_cb(evutil_socket_t fd, short what, void *userdata) {
        struct receiver *rc = userdata;
        event_base_loopbreak(rc->base);
}

static void *receiver_run(void *userdata) {
        struct receiver *rc = userdata;
        event_base_dispatch(rc->base);
        return NULL;
}

static void receiver_start(struct receiver *rc) {
        struct evhttp_bound_socket *bound;
        struct sockaddr_in sin;
        socklen_t slen = sizeof sin;

        *rc = (struct receiver) { .status = 200 };
        pthread_mutex_init(&rc->lock, NULL);
        rc->base = event_base_new();
        assert_non_null(rc->base);
        rc->http = evhttp_new(rc->base);
        assert_non_null(rc->http);
        evhttp_set_gencb(rc->http, receiver_request, rc);
        bound = evhttp_bind_socket_with_handle(rc->http, "127.0.0.1", 0);
        assert_non_null(bound);
        assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *) &sin, &slen), 0);
        rc->port = ntohs(sin.sin_port);
        assert_true(rc->port > 0);

        /* The loop runs on another thread; a byte down this pipe stops it. */
        assert_int_equal(pipe2(rc->stop_pipe, O_CLOEXEC), 0);
        rc->stop_event = event_new(rc->base, rc->stop_pipe[0], EV_READ, receiver_stop_cb, rc);
        assert_non_null(rc->stop_event);
        assert_int_equal(event_add(rc->stop_event, NULL), 0);
        assert_int_equal(pthread_create(&rc->thread, NULL, receiver_run, rc), 0);
}

static void receiver_stop(struct receiver *rc) {
        assert_int_equal(write(rc->stop_pipe[1], "x", 1), 1);
        assert_int_equal(pthread_join(rc->thread, NULL), 0);
        evhttp_free(rc->http);
        event_free(rc->stop_event);
        event_base_free(rc->base);
        close(rc->stop_pipe[0]);
        close(rc->stop_pipe[1]);
        free(rc->body);
        free(rc->content_type);
        free(rc->event);
        free(rc->signature);
        free(rc->key_id);
        pthread_mutex_destroy(&rc->lock);
}

static void receiver_answer(struct receiver *rc, int status, size_t answer_bytes, bool hold) {
        pthread_mutex_lock(&rc->lock);
        rc->status = status;
        rc->answer_bytes = answer_bytes;
        rc->hold = hold;
        pthread_mutex_unlock(&rc->lock);
}

static unsigned receiver_requests(struct receiver *rc) {
        unsigned n;

        pthread_mutex_lock(&rc->lock);
        n = rc->requests;
        pthread_mutex_unlock(&rc->lock);
        return n;
}

static struct plugin *webhook_load(struct gc_plugin_host *host, const char *config) {
        struct plugin *p = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];

        if (plugin_load(GC_PLUGIN_BUILDDIR, "notify-webhook", config, GC_PLUGIN_NOTIFY, host, &p, &err) < 0)
                fail_msg("load notify-webhook: %s", gc_error_format(&err, buf, sizeof buf));
        return p;
}

/* The receiver's last request is event, signed by the host's key. */
static void assert_delivered(struct receiver *rc, struct test_host *h, const char *event) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_free_ char *pub_pem = NULL, *pub_fingerprint = NULL, *alg = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t siglen = 0;
        const char *colon;

        pthread_mutex_lock(&rc->lock);
        assert_true(rc->was_post);
        /* The body, byte for byte. */
        assert_int_equal(rc->body_len, strlen(event));
        assert_memory_equal(rc->body, event, strlen(event));
        assert_non_null(rc->content_type);
        assert_string_equal(rc->content_type, "application/json");
        assert_non_null(rc->event);
        assert_string_equal(rc->event, EVENT_ID);

        /* X-GC-Signature: <alg>:<base64>, checked with the public half only. */
        assert_non_null(rc->signature);
        colon = strchr(rc->signature, ':');
        assert_non_null(colon);
        alg = xstrndup(rc->signature, (size_t) (colon - rc->signature));
        assert_string_equal(alg, h->alg);
        assert_int_equal(crypto_unbase64(colon + 1, &sig, &siglen), 0);
        assert_int_equal(crypto_key_public_pem(h->key, &pub_pem), 0);
        assert_int_equal(crypto_key_public_from_pem(pub_pem, strlen(pub_pem), &pub), 0);
        assert_int_equal(crypto_verify(pub, rc->body, rc->body_len, sig, siglen), 0);
        /* And not over anything else. */
        assert_int_equal(crypto_verify(pub, rc->body, rc->body_len - 1, sig, siglen), -EBADMSG);

        /* X-GC-Key names that key. */
        assert_non_null(rc->key_id);
        assert_int_equal(crypto_key_fingerprint(pub, &pub_fingerprint), 0);
        assert_string_equal(rc->key_id, pub_fingerprint);
        assert_string_equal(rc->key_id, h->fingerprint);
        pthread_mutex_unlock(&rc->lock);
}

static void webhook_delivers(enum gc_key_type type) {
        _cleanup_free_ char *config = NULL;
        struct receiver rc;
        struct test_host h;
        struct gc_plugin_host host;
        char reason[GC_PLUGIN_REASON_MAX] = "";
        struct plugin *p;

        receiver_start(&rc);
        test_host_setup(&h, &host, type);
        config = xasprintf("{\"url\":\"http://127.0.0.1:%u/hook\",\"timeout_ms\":5000}", rc.port);
        p = webhook_load(&host, config);

        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), 0);
        assert_int_equal(receiver_requests(&rc), 1);
        assert_int_equal(h.sign_calls, 1);
        assert_delivered(&rc, &h, EVENT_JSON);

        /* The same event again (at-least-once), over the same connection. */
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), 0);
        assert_int_equal(receiver_requests(&rc), 2);
        assert_delivered(&rc, &h, EVENT_JSON);
        pthread_mutex_lock(&rc.lock);
        assert_int_equal(rc.peer_ports[0], rc.peer_ports[1]);
        pthread_mutex_unlock(&rc.lock);

        /* Any 2xx is delivery. */
        receiver_answer(&rc, 204, 0, false);
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), 0);
        receiver_answer(&rc, 202, 10, false);
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), 0);

        plugin_free(p);
        test_host_done(&h);
        receiver_stop(&rc);
}

static void test_webhook_delivers_sm2(void **state) {
        webhook_delivers(GC_KEY_SM2);
}

static void test_webhook_delivers_ed25519(void **state) {
        webhook_delivers(GC_KEY_ED25519);
}

static void test_webhook_refused(void **state) {
        _cleanup_free_ char *config = NULL;
        struct receiver rc;
        struct test_host h;
        struct gc_plugin_host host;
        char reason[GC_PLUGIN_REASON_MAX];
        struct plugin *p;
        static const struct {
                int status;
                int want;
        } answers[] = {
                { 503, -EAGAIN },
                { 500, -EAGAIN },
                { 429, -EAGAIN },
                { 400, -EPROTO },
                { 404, -EPROTO },
                { 301, -EPROTO },
        };

        receiver_start(&rc);
        test_host_setup(&h, &host, GC_KEY_SM2);
        /* Credentials and a query in the URL must not reach a reason. */
        config = xasprintf("{\"url\":\"http://hookuser:s3cr3t@127.0.0.1:%u/hook?token=t0k3n\"}", rc.port);
        p = webhook_load(&host, config);

        for (size_t i = 0; i < ELEMENTSOF(answers); i++) {
                _cleanup_free_ char *want = xasprintf("HTTP %d from http://127.0.0.1:%u/hook", answers[i].status,
                                                      rc.port);
                receiver_answer(&rc, answers[i].status, 100, false);
                reason[0] = 0;
                assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason),
                                 answers[i].want);
                assert_string_equal(reason, want);
                assert_null(strstr(reason, "s3cr3t"));
                assert_null(strstr(reason, "t0k3n"));
        }
        assert_int_equal(receiver_requests(&rc), ELEMENTSOF(answers));
        assert_delivered(&rc, &h, EVENT_JSON);

        /* An answer larger than the plugin reads: still delivered, and the
         * next event goes through. */
        receiver_answer(&rc, 200, 1024 * 1024, false);
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), 0);
        receiver_answer(&rc, 200, 0, false);
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), 0);

        /* Events it cannot send: nothing reaches the receiver. */
        unsigned before = receiver_requests(&rc);
        assert_int_equal(p->ops->notify(p->state, "{\"type\":\"x\"}", 12, reason, sizeof reason), -EINVAL);
        assert_int_equal(p->ops->notify(p->state, "{\"id\":\"a\\r\\nX-Evil: 1\"}", 23, reason, sizeof reason),
                         -EINVAL);
        assert_int_equal(p->ops->notify(p->state, "not json", 8, reason, sizeof reason), -EINVAL);
        assert_int_equal(receiver_requests(&rc), before);

        plugin_free(p);

        /* A host without a key cannot run a webhook. */
        host.sign = NULL;
        struct gc_error err = {};
        p = NULL;
        assert_int_equal(plugin_load(GC_PLUGIN_BUILDDIR, "notify-webhook", config, 0, &host, &p, &err), -ENOKEY);
        assert_null(strstr(err.message, "s3cr3t"));

        test_host_done(&h);
        receiver_stop(&rc);
}

static void test_webhook_timeout(void **state) {
        _cleanup_free_ char *config = NULL;
        struct receiver rc;
        struct test_host h;
        struct gc_plugin_host host;
        char reason[GC_PLUGIN_REASON_MAX] = "";
        struct plugin *p;
        double t0, elapsed;

        receiver_start(&rc);
        test_host_setup(&h, &host, GC_KEY_ED25519);
        config = xasprintf("{\"url\":\"http://127.0.0.1:%u/slow\",\"timeout_ms\":300}", rc.port);
        p = webhook_load(&host, config);

        receiver_answer(&rc, 200, 0, true);
        t0 = now_seconds();
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), -EAGAIN);
        elapsed = now_seconds() - t0;
        assert_true(elapsed >= 0.25);
        assert_true(elapsed < 3.0);
        assert_non_null(strstr(reason, "/slow"));
        assert_int_equal(receiver_requests(&rc), 1);

        plugin_free(p);
        test_host_done(&h);
        receiver_stop(&rc);
}

static void test_webhook_closed_port(void **state) {
        _cleanup_free_ char *config = NULL;
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t slen = sizeof sin;
        struct test_host h;
        struct gc_plugin_host host;
        char reason[GC_PLUGIN_REASON_MAX] = "";
        struct plugin *p;
        double t0, elapsed;
        uint16_t port;
        int fd;

        /* A port that was just free: bound, then closed, never listened on. */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sin, sizeof sin), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sin, &slen), 0);
        port = ntohs(sin.sin_port);
        assert_int_equal(close(fd), 0);

        test_host_setup(&h, &host, GC_KEY_SM2);
        config = xasprintf("{\"url\":\"http://127.0.0.1:%u/hook\",\"timeout_ms\":5000}", port);
        p = webhook_load(&host, config);

        t0 = now_seconds();
        assert_int_equal(p->ops->notify(p->state, EVENT_JSON, strlen(EVENT_JSON), reason, sizeof reason), -EAGAIN);
        elapsed = now_seconds() - t0;
        assert_true(elapsed < 2.0);
        assert_non_null(strstr(reason, "POST to http://127.0.0.1:"));

        plugin_free(p);
        test_host_done(&h);
}

static void test_webhook_config(void **state) {
        static const struct {
                const char *config;
                const char *message_part;
        } bad[] = {
                { "{\"url\":\"http://127.0.0.1:1/\",\"timeout\":5}", "config.timeout: unknown key" },
                { "{\"url\":\"http://127.0.0.1:1/\",\"secret\":\"x\"}", "config.secret: unknown key" },
                { "{}", "config.url: is required" },
                { "{\"url\":\"ftp://127.0.0.1/x\"}", "is not http or https" },
                { "{\"url\":\"not a url\"}", "config.url" },
                { "{\"url\":\"http://127.0.0.1:1/\",\"timeout_ms\":0}", "config.timeout_ms" },
                { "{\"url\":\"http://127.0.0.1:1/\",\"timeout_ms\":1.5}", "config.timeout_ms" },
                { "{\"url\":\"http://127.0.0.1:1/\",\"timeout_ms\":\"5000\"}", "config.timeout_ms" },
                { "{\"url\":\"http://127.0.0.1:1/\",\"cacert\":\"/etc/hostname\"}", "needs an https URL" },
                { "{\"url\":\"https://127.0.0.1:1/\",\"key\":\"/etc/hostname\"}", "config.key: needs config.cert" },
                { "{\"url\":\"https://127.0.0.1:1/\",\"cacert\":\"/nonexistent/ca.pem\"}", "cannot read" },
                { "{\"url\":\"http://127.0.0.1:1/\",\"url\":\"http://127.0.0.1:2/\"}", "config" },
                { "{\"url\":\"http://127.0.0.1:1/\"", "config" },
        };
        struct test_host h;
        struct gc_plugin_host host;

        test_host_setup(&h, &host, GC_KEY_SM2);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct plugin *p = NULL;
                struct gc_error err = {};
                int r = plugin_load(GC_PLUGIN_BUILDDIR, "notify-webhook", bad[i].config, 0, &host, &p, &err);

                if (r >= 0)
                        fail_msg("config %s was accepted", bad[i].config);
                assert_null(p);
                assert_string_equal(err.code, "plugin_init");
                if (!strstr(err.message, bad[i].message_part))
                        fail_msg("config %s: message \"%s\" lacks \"%s\"", bad[i].config, err.message,
                                 bad[i].message_part);
        }
        test_host_done(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shipped_plugins_load),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_init_and_fini),
                cmocka_unit_test(test_approval_sm2),
                cmocka_unit_test(test_approval_ed25519),
                cmocka_unit_test(test_approval_config),
                cmocka_unit_test(test_notify_log_file),
                cmocka_unit_test(test_notify_log_host),
                cmocka_unit_test(test_notify_log_config),
                cmocka_unit_test(test_webhook_delivers_sm2),
                cmocka_unit_test(test_webhook_delivers_ed25519),
                cmocka_unit_test(test_webhook_refused),
                cmocka_unit_test(test_webhook_timeout),
                cmocka_unit_test(test_webhook_closed_port),
                cmocka_unit_test(test_webhook_config),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
