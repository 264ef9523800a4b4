/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations tunnels (agent/tunnel.c) with real parts: TLS with a CA made
 * for the run by scripts/pki.sh, the operator's client certificate, a
 * target server on 127.0.0.1, no network module (targets dialled here).
 * Refusals in order, single use, 1 MiB both ways with half-closes, the
 * deadline and a revoke cutting a live transfer, the events, and restarts
 * from the state file (including one after the agent was killed in
 * session).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/wire.h"
#include "jobs.h"
#include "json.h"
#include "tunnel.h"

#define MIB (1024 * 1024)

/* The PKI of the run. */
static char dir[64];
static char *host_crt, *host_key, *ca_crt;
static char *op_crt, *op_key, *op_sha256;      /* 张三: the tunnels' operator */
static char *other_crt, *other_key;             /* 李四 */
static char *tenant_crt, *tenant_key;           /* chains to the CA, OU=tenant */

static pid_t child_pid = -1;                    /* the agent killed in session */

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- PKI --- */

static char *slug_of(const char *role, const char *name) {
        char *path = xasprintf("%s/pki/names.tsv", dir), line[512], *slug = NULL;
        FILE *f = fopen(path, "re");

        free(path);
        if (!f)
                return NULL;
        while (fgets(line, sizeof line, f)) {
                char r[64], s[128], n[256];
                line[strcspn(line, "\n")] = 0;
                if (sscanf(line, "%63[^\t]\t%127[^\t]\t%255[^\n]", r, s, n) == 3 && strcmp(r, role) == 0 &&
                    strcmp(n, name) == 0)
                        slug = xstrdup(s);
        }
        fclose(f);
        return slug;
}

static char *cert_sha256(const char *path) {
        FILE *f = fopen(path, "re");
        X509 *x;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        if (!f)
                return NULL;
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        if (!x || X509_digest(x, EVP_sha256(), md, &len) != 1) {
                X509_free(x);
                return NULL;
        }
        X509_free(x);
        return crypto_hex(md, len);
}

static int pki_setup(void) {
        const char *src = getenv("GC_SRCDIR") ?: GC_SRCDIR;
        char *cmd;
        int r;

        snprintf(dir, sizeof dir, "/tmp/gc-tunnel-test.XXXXXX");
        if (!mkdtemp(dir))
                return -errno;
        cmd = xasprintf("bash '%s/scripts/pki.sh' --out '%s/pki' --host host-1 --operator 张三 --operator 李四 "
                        "--unit 市xx局 >'%s/pki.log' 2>&1", src, dir, dir);
        r = system(cmd);
        free(cmd);
        if (r != 0) {
                fprintf(stderr, "scripts/pki.sh failed (see %s/pki.log)\n", dir);
                return -EIO;
        }
        char *op = slug_of("operator", "张三"), *other = slug_of("operator", "李四"), *tenant = slug_of("tenant", "市xx局");
        if (!op || !other || !tenant)
                return -ENOENT;
        host_crt = xasprintf("%s/pki/tls/host-host-1.crt", dir);
        host_key = xasprintf("%s/pki/tls/host-host-1.key", dir);
        ca_crt = xasprintf("%s/pki/ca.crt", dir);
        op_crt = xasprintf("%s/pki/tls/operator-%s.crt", dir, op);
        op_key = xasprintf("%s/pki/tls/operator-%s.key", dir, op);
        other_crt = xasprintf("%s/pki/tls/operator-%s.crt", dir, other);
        other_key = xasprintf("%s/pki/tls/operator-%s.key", dir, other);
        tenant_crt = xasprintf("%s/pki/tls/tenant-%s.crt", dir, tenant);
        tenant_key = xasprintf("%s/pki/tls/tenant-%s.key", dir, tenant);
        free(op);
        free(other);
        free(tenant);
        op_sha256 = cert_sha256(op_crt);
        return op_sha256 ? 0 : -EIO;
}

/* ------------------------------------------------------------- target --- */

enum target_mode {
        TARGET_ECHO_AFTER_EOF,  /* read until EOF, send it all back, close */
        TARGET_SOURCE,          /* send without end */
};

struct target {
        int fd;
        uint16_t port;
        enum target_mode mode;
        pthread_t thread;
        atomic_int accepted;
};

struct target_conn {
        int fd;
        enum target_mode mode;
};

static void *target_conn_main(void *arg) {
        struct target_conn *c = arg;
        char *buf = xmalloc(4 * MIB);
        size_t len = 0;

        if (c->mode == TARGET_ECHO_AFTER_EOF) {
                for (;;) {
                        ssize_t n = recv(c->fd, buf + len, 4 * MIB - len, 0);
                        if (n <= 0)
                                break;
                        len += (size_t) n;
                }
                for (size_t done = 0; done < len;) {
                        ssize_t n = send(c->fd, buf + done, len - done, MSG_NOSIGNAL);
                        if (n <= 0)
                                break;
                        done += (size_t) n;
                }
        } else {
                memset(buf, 'x', 65536);
                while (send(c->fd, buf, 65536, MSG_NOSIGNAL) > 0)
                        ;
        }
        close(c->fd);
        free(buf);
        free(c);
        return NULL;
}

static void *target_main(void *arg) {
        struct target *t = arg;

        for (;;) {
                int fd = accept(t->fd, NULL, NULL);
                if (fd < 0) {
                        if (errno == EINTR)
                                continue;
                        return NULL;
                }
                atomic_fetch_add(&t->accepted, 1);
                struct target_conn *c = xnew(struct target_conn, 1);
                pthread_t th;
                c->fd = fd;
                c->mode = t->mode;
                pthread_create(&th, NULL, target_conn_main, c);
                pthread_detach(th);
        }
}

/* port 0: any. */
static struct target *target_start(enum target_mode mode, uint16_t port) {
        struct target *t = xnew(struct target, 1);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        socklen_t sl = sizeof sa;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        t->mode = mode;
        t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(t->fd >= 0);
        setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &(int) { 1 }, sizeof(int));
        assert_int_equal(bind(t->fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(t->fd, 16), 0);
        assert_int_equal(getsockname(t->fd, (struct sockaddr *) &sa, &sl), 0);
        t->port = ntohs(sa.sin_port);
        assert_int_equal(pthread_create(&t->thread, NULL, target_main, t), 0);
        return t;
}

static void target_stop(struct target *t) {
        shutdown(t->fd, SHUT_RDWR);
        pthread_join(t->thread, NULL);
        close(t->fd);
        free(t);
}

/* A port on 127.0.0.1 where nothing listens (for now). */
static uint16_t free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t sl = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

/* ------------------------------------------------------------- client --- */

struct client {
        int fd;
        SSL_CTX *ctx;
        SSL *ssl;
};

static void client_free(struct client *c) {
        if (!c)
                return;
        if (c->ssl)
                SSL_free(c->ssl);
        if (c->ctx)
                SSL_CTX_free(c->ctx);
        if (c->fd >= 0)
                close(c->fd);
        free(c);
}

static int tcp_connect(uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = { .tv_sec = 20 };

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* TLS 1.3 to the listener, as gcctl does: the agent's certificate must
 * chain to the CA and be host-1's. cert NULL: no client certificate. */
static struct client *client_connect(uint16_t port, const char *cert, const char *key) {
        struct client *c = xnew(struct client, 1);

        c->fd = tcp_connect(port);
        if (c->fd < 0) {
                fail_msg("connect to 127.0.0.1:%u: %s", port, strerror(-c->fd));
                return NULL;
        }
        c->ctx = SSL_CTX_new(TLS_client_method());
        assert_non_null(c->ctx);
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION);
        assert_int_equal(SSL_CTX_load_verify_locations(c->ctx, ca_crt, NULL), 1);
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        if (cert) {
                assert_int_equal(SSL_CTX_use_certificate_chain_file(c->ctx, cert), 1);
                assert_int_equal(SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM), 1);
        }
        c->ssl = SSL_new(c->ctx);
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_connect(c->ssl) != 1) {
                ERR_print_errors_fp(stderr);
                fail_msg("TLS handshake with 127.0.0.1:%u failed", port);
        }
        X509 *server = SSL_get0_peer_certificate(c->ssl);
        char cn[64] = "";
        assert_non_null(server);
        X509_NAME_get_text_by_NID(X509_get_subject_name(server), NID_commonName, cn, sizeof cn);
        assert_string_equal(cn, "host-1");
        return c;
}

static void client_send(struct client *c, const char *data, size_t len) {
        size_t done = 0;
        while (done < len) {
                int n = SSL_write(c->ssl, data + done, (int) (len - done));
                if (n <= 0)
                        fail_msg("SSL_write failed (%d)", SSL_get_error(c->ssl, n));
                done += (size_t) n;
        }
}

static void client_preamble(struct client *c, int64_t id, const char *token) {
        char *line = xasprintf("{\"protocol\": \"%s\", \"tunnel\": %lld, \"token\": \"%s\"}\n", GC_WIRE_TUNNEL_PROTOCOL,
                               (long long) id, token);
        client_send(c, line, strlen(line));
        free(line);
}

/* The agent's one-line answer, parsed. */
static cJSON *client_answer(struct client *c) {
        char line[1024];
        size_t len = 0;
        cJSON *doc = NULL;

        while (len < sizeof line - 1) {
                int n = SSL_read(c->ssl, line + len, 1);        /* byte by byte: nothing after it is taken */
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (line[len - 1] == '\n')
                        break;
        }
        if (len == 0 || line[len - 1] != '\n')
                fail_msg("no answer line from the agent (%zu bytes)", len);
        if (json_parse(line, len - 1, &doc, NULL) < 0)
                fail_msg("the answer is not JSON: %.*s", (int) len, line);
        return doc;
}

/* A whole attempt: connect, preamble, answer; the refusal code or "ok". */
static char *attempt(uint16_t port, const char *cert, const char *key, int64_t id, const char *token,
                     struct client **ret_live) {
        struct client *c = client_connect(port, cert, key);
        cJSON *answer;
        char *code;

        client_preamble(c, id, token);
        answer = client_answer(c);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "ok"))) {
                code = xstrdup("ok");
                if (ret_live) {
                        *ret_live = c;
                        c = NULL;
                }
        } else {
                const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "code"));
                assert_non_null(s);
                assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "message")));
                code = xstrdup(s);
                /* Then the agent closes. */
                char b;
                assert_true(SSL_read(c->ssl, &b, 1) <= 0);
        }
        cJSON_Delete(answer);
        client_free(c);
        return code;
}

#define assert_attempt(port, cert, key, id, token, want)                                \
        do {                                                                            \
                char *_code = attempt((port), (cert), (key), (id), (token), NULL);      \
                assert_string_equal(_code, (want));                                     \
                free(_code);                                                            \
        } while (0)

/* ------------------------------------------------------------ tunnels --- */

struct token {
        char *token;
        char *hash;     /* "sm3:<hex>" */
};

static struct token token_new(const char *alg) {
        struct token t = {};
        uint8_t md[GC_HASH_MAX];
        enum gc_hash_alg a;

        assert_int_equal(crypto_token(32, &t.token), 0);
        assert_int_equal(strlen(t.token), 43);
        assert_int_equal(crypto_hash_from_string(alg, &a), 0);
        assert_int_equal(crypto_digest(a, t.token, strlen(t.token), md), 0);
        char *hex = crypto_hex(md, GC_HASH_MAX);
        t.hash = xasprintf("%s:%s", alg, hex);
        free(hex);
        return t;
}

static void token_done(struct token *t) {
        free(t->token);
        free(t->hash);
}

/* A TUNNELSPEC for 127.0.0.1; deadline on the orchestrator's clock far
 * enough that seconds is the bound. */
static cJSON *spec_new(int64_t id, uint16_t target_port, int64_t seconds, const struct token *tok) {
        char *text = xasprintf("{\"id\": %lld, \"listen\": \"127.0.0.1\", \"vni\": 4097, \"target\": \"127.0.0.1\", "
                               "\"target_port\": %u, \"deadline\": %lld, \"seconds\": %lld, \"token_hash\": \"%s\", "
                               "\"operator\": {\"name\": \"张三\", \"certificate_sha256\": \"%s\"}, "
                               "\"approval\": \"approval-oa/OA-2026-0107\"}",
                               (long long) id, target_port, (long long) (time(NULL) + 3600 * 24 * 30),
                               (long long) seconds, tok->hash, op_sha256);
        cJSON *doc = cJSON_Parse(text);
        free(text);
        assert_non_null(doc);
        return doc;
}

static struct tunnels *open_tunnels(const char *state) {
        struct tunnel_config cfg = { .cert = host_crt, .key = host_key, .ca = ca_crt, .state = state };
        struct tunnels *ts = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];

        if (tunnels_open(&cfg, &ts, &err) < 0)
                fail_msg("tunnels_open: %s", gc_error_format(&err, buf, sizeof buf));
        return ts;
}

static uint16_t start(struct tunnels *ts, const cJSON *spec) {
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        cJSON *res = NULL;

        if (tunnels_start(ts, spec, &res, &err) < 0)
                fail_msg("tunnels_start: %s", gc_error_format(&err, buf, sizeof buf));
        assert_int_equal(int_at(res, "id", 0), int_at(spec, "id", -1));
        assert_string_equal(str_at(res, "address"), "127.0.0.1");
        assert_true(int_at(res, "deadline", 0) > 0);
        long port = int_at(res, "port", 0);
        assert_true(port > 0 && port < 65536);
        cJSON_Delete(res);
        return (uint16_t) port;
}

static char *state_path(const char *name) {
        return xasprintf("%s/%s", dir, name);
}

/* The unposted events of tunnel id (a new array). */
static cJSON *events_of(struct tunnels *ts, int64_t id) {
        cJSON *all = tunnels_events(ts), *mine = cJSON_CreateArray();
        const cJSON *e;

        cJSON_ArrayForEach(e, all)
                if (int_at(e, "tunnel", 0) == id)
                        cJSON_AddItemToArray(mine, cJSON_Duplicate(e, true));
        cJSON_Delete(all);
        return mine;
}

static const cJSON *closed_event(const cJSON *events) {
        const cJSON *e;
        cJSON_ArrayForEach(e, events)
                if (strcmp(str_at(e, "event") ?: "", "closed") == 0)
                        return e;
        return NULL;
}

/* Wait (up to 15 s) until tunnel id has its "closed" event. */
static cJSON *wait_closed(struct tunnels *ts, int64_t id) {
        for (int i = 0; i < 1500; i++) {
                cJSON *ev = events_of(ts, id);
                if (closed_event(ev))
                        return ev;
                cJSON_Delete(ev);
                usleep(10000);
        }
        fail_msg("tunnel %lld: no closed event", (long long) id);
        return NULL;
}

/* seq 1..n, each with the common fields, times on the orchestrator's clock
 * (local + offset_s, within a minute). */
static void check_sequence(const cJSON *events, int64_t id, int64_t offset_s) {
        const cJSON *e;
        long seq = 0;
        int64_t now = now_ms() + offset_s * 1000;

        cJSON_ArrayForEach(e, events) {
                assert_int_equal(int_at(e, "tunnel", 0), id);
                assert_int_equal(int_at(e, "seq", 0), ++seq);
                assert_non_null(str_at(e, "event"));
                const cJSON *tm = cJSON_GetObjectItemCaseSensitive(e, "time");
                assert_true(cJSON_IsNumber(tm));
                assert_true(tm->valuedouble > now - 120000 && tm->valuedouble <= now + 1000);
        }
}

static void check_refused(const cJSON *e, const char *reason, const char *subject_part) {
        assert_string_equal(str_at(e, "event"), "refused");
        assert_string_equal(str_at(e, "reason"), reason);
        assert_true(strncmp(str_at(e, "peer") ?: "", "127.0.0.1:", 10) == 0);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "subject");
        if (subject_part) {
                assert_true(cJSON_IsString(s));
                if (!strstr(s->valuestring, subject_part))
                        fail_msg("subject \"%s\" lacks \"%s\"", s->valuestring, subject_part);
        } else
                assert_true(cJSON_IsNull(s));
}

static bool port_listens(uint16_t port) {
        int fd = tcp_connect(port);
        if (fd < 0)
                return false;
        close(fd);
        return true;
}

/* -------------------------------------------------------------- tests --- */

static void test_spec_checked(void **state) {
        char *path = state_path("spec.json");
        struct tunnels *ts = open_tunnels(path);
        struct token tok = token_new("sm3");
        static const struct {
                const char *key, *json, *field;
        } bad[] = {
                { "listen", "\"not-an-address\"", "tunnel.listen" },
                { "listen", "null", "tunnel.listen" },
                { "vni", "0", "tunnel.vni" },
                { "target", "\"10.0.0\"", "tunnel.target" },
                { "target_port", "0", "tunnel.target_port" },
                { "target_port", "65536", "tunnel.target_port" },
                { "deadline", "\"soon\"", "tunnel.deadline" },
                { "seconds", "0", "tunnel.seconds" },
                { "token_hash", "\"md5:00\"", "tunnel.token_hash" },
                { "token_hash", "\"sm3:abcd\"", "tunnel.token_hash" },
                { "operator", "{\"name\": \"张三\", \"certificate_sha256\": \"xyz\"}", "tunnel.operator.certificate_sha256" },
                { "operator", "{\"certificate_sha256\": \"00\"}", "tunnel.operator.name" },
                { "approval", "7", "tunnel.approval" },
                { "id", "-1", "tunnel.id" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                cJSON *spec = spec_new(100, 22, 60, &tok), *res = NULL;
                struct gc_error err = {};
                cJSON_ReplaceItemInObject(spec, bad[i].key, cJSON_Parse(bad[i].json));
                assert_int_equal(tunnels_start(ts, spec, &res, &err), -EINVAL);
                assert_null(res);
                assert_string_equal(err.field, bad[i].field);
                cJSON_Delete(spec);
        }

        /* A deadline already past on the orchestrator's clock (R-OP1). */
        cJSON *spec = spec_new(101, 22, 60, &tok), *res = NULL;
        struct gc_error err = {};
        cJSON_ReplaceItemInObject(spec, "deadline", cJSON_CreateNumber((double) (time(NULL) - 5)));
        assert_int_equal(tunnels_start(ts, spec, &res, &err), -ESTALE);
        assert_string_equal(err.field, "tunnel.deadline");
        /* ... or made past by the orchestrator's clock being ahead. */
        cJSON_ReplaceItemInObject(spec, "deadline", cJSON_CreateNumber((double) (time(NULL) + 100)));
        tunnels_set_clock_offset(ts, 200);
        assert_int_equal(tunnels_start(ts, spec, &res, &err), -ESTALE);
        tunnels_set_clock_offset(ts, 0);
        cJSON_Delete(spec);

        /* An address this host does not have. */
        spec = spec_new(102, 22, 60, &tok);
        cJSON_ReplaceItemInObject(spec, "listen", cJSON_CreateString("192.0.2.1"));
        assert_true(tunnels_start(ts, spec, &res, &err) < 0);
        assert_string_equal(err.field, "tunnel.listen");
        cJSON_Delete(spec);

        /* Nothing was opened: no state file either (written lazily). */
        assert_int_equal(tunnels_live(ts), 0);
        assert_null(tunnels_events(ts));
        tunnels_close(ts);
        assert_int_equal(access(path, F_OK), -1);

        /* A port range. */
        uint16_t lo = free_port();
        struct tunnel_config cfg = { .cert = host_crt, .key = host_key, .ca = ca_crt, .state = path,
                                     .port_min = lo, .port_max = lo };
        assert_int_equal(tunnels_open(&cfg, &ts, &err), 0);
        spec = spec_new(103, 22, 60, &tok);
        assert_int_equal(start(ts, spec), lo);
        cJSON_Delete(spec);
        spec = spec_new(104, 22, 60, &tok);
        assert_int_equal(tunnels_start(ts, spec, &res, &err), -EADDRINUSE);    /* the range is full */
        assert_string_equal(err.field, "tunnel.listen");
        cJSON_Delete(spec);
        assert_int_equal(access(path, F_OK), 0);
        tunnels_close(ts);
        cfg.port_min = 0;
        assert_int_equal(tunnels_open(&cfg, &ts, &err), -EINVAL);
        assert_string_equal(err.field, "tunnels.ports");

        token_done(&tok);
        free(path);
}

static void test_refusals_and_session(void **state) {
        char *path = state_path("session.json");
        struct tunnels *ts = open_tunnels(path);
        struct token tok = token_new("sm3"), other = token_new("sm3");
        uint16_t tport = free_port();
        struct gc_error err = {};
        cJSON *res = NULL;

        tunnels_set_clock_offset(ts, 1000);     /* the orchestrator's clock is 1000 s ahead */
        cJSON *spec = spec_new(1, tport, 60, &tok);
        uint16_t port = start(ts, spec);
        assert_int_equal(tunnels_live(ts), 1);
        assert_int_equal(start(ts, spec), port);        /* idempotent */
        cJSON *changed = cJSON_Duplicate(spec, true);
        cJSON_ReplaceItemInObject(changed, "target_port", cJSON_CreateNumber(2222));
        assert_int_equal(tunnels_start(ts, changed, &res, &err), -EEXIST);
        cJSON_Delete(changed);

        /* Refusals, each in its order of checks; none uses the token up. */
        assert_attempt(port, NULL, NULL, 1, tok.token, "no_certificate");
        assert_attempt(port, other_crt, other_key, 1, tok.token, "wrong_operator");
        assert_attempt(port, tenant_crt, tenant_key, 1, tok.token, "wrong_operator");
        {
                struct client *c = client_connect(port, op_crt, op_key);
                client_send(c, "GET / HTTP/1.0\n", 15);
                cJSON *a = client_answer(c);
                assert_string_equal(str_at(a, "code"), "bad_preamble");
                cJSON_Delete(a);
                client_free(c);
        }
        assert_attempt(port, op_crt, op_key, 2, tok.token, "wrong_tunnel");
        assert_attempt(port, op_crt, op_key, 1, other.token, "wrong_token");
        assert_attempt(port, op_crt, op_key, 1, tok.token, "target_unreachable");

        /* The target answers now: the token still works. */
        struct target *target = target_start(TARGET_ECHO_AFTER_EOF, tport);
        struct client *live = NULL;
        char *code = attempt(port, op_crt, op_key, 1, tok.token, &live);
        assert_string_equal(code, "ok");
        free(code);
        /* R-OP2: consumed on disk before {"ok": true}. */
        cJSON *disk = NULL;
        assert_int_equal(json_parse_file(path, 1 << 20, &disk, NULL), 0);
        const cJSON *entry = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(disk, "tunnels"), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "consumed")));
        assert_int_equal(int_at(entry, "port", 0), port);
        cJSON_Delete(disk);

        /* A second connection while the session is live. */
        assert_attempt(port, op_crt, op_key, 1, tok.token, "in_use");
        assert_int_equal(tunnels_start(ts, spec, &res, &err), -ESTALE);

        /* 1 MiB each way: up, a half-close (close_notify -> SHUT_WR), and
         * back (the target's EOF -> close_notify). */
        char *up = xmalloc(MIB), *down = xmalloc(MIB + 1);
        size_t got = 0;
        assert_int_equal(crypto_random(up, MIB), 0);
        client_send(live, up, MIB);
        assert_true(SSL_shutdown(live->ssl) >= 0);
        for (;;) {
                int n = SSL_read(live->ssl, down + got, (int) (MIB + 1 - got));
                if (n <= 0) {
                        assert_int_equal(SSL_get_error(live->ssl, n), SSL_ERROR_ZERO_RETURN);
                        break;
                }
                got += (size_t) n;
        }
        assert_int_equal(got, MIB);
        assert_memory_equal(up, down, MIB);
        client_free(live);
        free(up);
        free(down);

        cJSON *ev = wait_closed(ts, 1);
        check_sequence(ev, 1, 1000);
        assert_int_equal(cJSON_GetArraySize(ev), 10);
        check_refused(cJSON_GetArrayItem(ev, 0), "no_certificate", NULL);
        check_refused(cJSON_GetArrayItem(ev, 1), "wrong_operator", "CN=李四,OU=operator");
        check_refused(cJSON_GetArrayItem(ev, 2), "wrong_operator", "OU=tenant");
        check_refused(cJSON_GetArrayItem(ev, 3), "bad_preamble", "CN=张三");
        check_refused(cJSON_GetArrayItem(ev, 4), "wrong_tunnel", "CN=张三");
        check_refused(cJSON_GetArrayItem(ev, 5), "wrong_token", "CN=张三");
        check_refused(cJSON_GetArrayItem(ev, 6), "target_unreachable", "CN=张三");
        const cJSON *s = cJSON_GetArrayItem(ev, 7);
        assert_string_equal(str_at(s, "event"), "session");
        assert_true(strstr(str_at(s, "subject") ?: "", "CN=张三,OU=operator") != NULL);
        assert_true(strncmp(str_at(s, "peer") ?: "", "127.0.0.1:", 10) == 0);
        check_refused(cJSON_GetArrayItem(ev, 8), "in_use", "CN=张三");
        const cJSON *c = cJSON_GetArrayItem(ev, 9);
        assert_string_equal(str_at(c, "event"), "closed");
        assert_string_equal(str_at(c, "reason"), "client_closed");
        assert_int_equal(int_at(c, "bytes_in", -1), MIB);
        assert_int_equal(int_at(c, "bytes_out", -1), MIB);
        double opened = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "opened"));
        double first = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "first_byte"));
        double closed = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "closed"));
        assert_true(opened > 0 && first >= opened && closed >= first);
        assert_true(opened >= (double) int_at(s, "time", 0));
        assert_true(closed == (double) int_at(c, "time", 0));

        /* Spent: the listener is gone and the id is never opened again. */
        assert_false(port_listens(port));
        assert_int_equal(tunnels_live(ts), 0);
        assert_int_equal(tunnels_start(ts, spec, &res, &err), -ESTALE);
        assert_string_equal(err.rule, "R-OP2");

        /* Posted: the events leave; the tunnel stays (closed) until its deadline. */
        cJSON *all = tunnels_events(ts);
        assert_int_equal(tunnels_events_posted(ts, all), 0);
        cJSON_Delete(all);
        assert_null(tunnels_events(ts));
        assert_int_equal(tunnels_start(ts, spec, &res, &err), -ESTALE);

        cJSON_Delete(ev);
        cJSON_Delete(spec);
        tunnels_close(ts);
        target_stop(target);
        token_done(&tok);
        token_done(&other);
        free(path);
}

/* R-OP1: the operator is named by the certificate's hash, and that
 * certificate must also chain to the CA and say OU=operator. */
static void test_operator_checks(void **state) {
        char *path = state_path("operator.json");
        struct tunnels *ts = open_tunnels(path);
        struct token tok = token_new("sm3");
        char *self_crt = xasprintf("%s/self.crt", dir), *self_key = xasprintf("%s/self.key", dir);
        char *cmd = xasprintf("openssl req -utf8 -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
                              "-subj '/O=govcloud/OU=operator/CN=张三' -keyout '%s' -out '%s' >/dev/null 2>&1",
                              self_key, self_crt);
        assert_int_equal(system(cmd), 0);
        free(cmd);

        /* A tunnel approved for the tenant's certificate (OU=tenant). */
        cJSON *spec = spec_new(20, free_port(), 60, &tok);
        char *sha = cert_sha256(tenant_crt);
        cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(spec, "operator"), "certificate_sha256",
                                  cJSON_CreateString(sha));
        free(sha);
        uint16_t port = start(ts, spec);
        assert_attempt(port, tenant_crt, tenant_key, 20, tok.token, "wrong_operator");
        cJSON_Delete(spec);

        /* ... and for a self-signed one that names the operator. */
        spec = spec_new(21, free_port(), 60, &tok);
        sha = cert_sha256(self_crt);
        cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(spec, "operator"), "certificate_sha256",
                                  cJSON_CreateString(sha));
        free(sha);
        port = start(ts, spec);
        assert_attempt(port, self_crt, self_key, 21, tok.token, "wrong_operator");
        cJSON_Delete(spec);

        cJSON *ev = events_of(ts, 20);
        assert_int_equal(cJSON_GetArraySize(ev), 1);
        check_refused(cJSON_GetArrayItem(ev, 0), "wrong_operator", "OU=tenant");
        cJSON_Delete(ev);
        ev = events_of(ts, 21);
        assert_int_equal(cJSON_GetArraySize(ev), 1);
        check_refused(cJSON_GetArrayItem(ev, 0), "wrong_operator", "CN=张三,OU=operator");
        cJSON_Delete(ev);

        tunnels_close(ts);
        token_done(&tok);
        free(self_crt);
        free(self_key);
        free(path);
}

/* tunnel.open and tunnel.close as jobs (agent/jobs.h). */
static void test_jobs(void **state) {
        char *path = state_path("jobs.json");
        struct tunnels *ts = open_tunnels(path);
        struct token tok = token_new("sm3");
        const struct jobs_env env = { .tunnels = ts };
        struct jobs_outcome out;
        struct gc_error err = {};
        cJSON *job = cJSON_CreateObject(), *res = NULL;

        cJSON_AddNumberToObject(job, "id", 31);
        cJSON_AddStringToObject(job, "kind", "tunnel.open");
        cJSON_AddItemToObject(job, "tunnel", spec_new(7, free_port(), 60, &tok));
        assert_int_equal(jobs_run(&env, job, &res, &out, &err), 0);
        assert_int_equal(int_at(res, "job", 0), 31);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "ok")));
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(res, "tunnel");
        assert_int_equal(int_at(tn, "id", 0), 7);
        assert_string_equal(str_at(tn, "address"), "127.0.0.1");
        uint16_t port = (uint16_t) int_at(tn, "port", 0);
        assert_true(port_listens(port));
        cJSON_Delete(res);

        /* Sent again (as a new job): the same listener. */
        cJSON_ReplaceItemInObject(job, "id", cJSON_CreateNumber(33));
        assert_int_equal(jobs_run(&env, job, &res, &out, &err), 0);
        assert_int_equal(int_at(cJSON_GetObjectItemCaseSensitive(res, "tunnel"), "port", 0), port);
        cJSON_Delete(res);

        cJSON *close = cJSON_Parse("{\"id\": 32, \"kind\": \"tunnel.close\", \"tunnel\": {\"id\": 7}}");
        assert_int_equal(jobs_run(&env, close, &res, &out, &err), 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "ok")));
        assert_null(cJSON_GetObjectItemCaseSensitive(res, "tunnel"));
        cJSON_Delete(res);
        assert_false(port_listens(port));

        /* Closed: never opened again, the job says why. */
        cJSON_ReplaceItemInObject(job, "id", cJSON_CreateNumber(34));
        assert_int_equal(jobs_run(&env, job, &res, &out, &err), 0);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "ok")));
        assert_non_null(strstr(str_at(res, "error") ?: "", "never opened again"));
        cJSON_Delete(res);

        cJSON_Delete(close);
        cJSON_Delete(job);
        tunnels_close(ts);
        token_done(&tok);
        free(path);
}

/* Read until the agent cuts; the time of the cut and of the last data. */
static void read_until_cut(struct client *c, int64_t *ret_cut, int64_t *ret_last, uint64_t *ret_bytes) {
        char buf[65536];
        uint64_t total = 0;

        for (;;) {
                int n = SSL_read(c->ssl, buf, sizeof buf);
                if (n <= 0)
                        break;
                total += (uint64_t) n;
                *ret_last = now_ms();
        }
        *ret_cut = now_ms();
        *ret_bytes = total;
}

static void test_deadline_cuts(void **state) {
        char *path = state_path("deadline.json");
        struct tunnels *ts = open_tunnels(path);
        struct token tok = token_new("sha256");
        struct target *target = target_start(TARGET_SOURCE, 0);
        struct client *live = NULL;
        int64_t cut = 0, last = 0;
        uint64_t bytes = 0;

        cJSON *spec = spec_new(5, target->port, 3, &tok);
        int64_t t0 = now_ms();
        uint16_t port = start(ts, spec);
        int64_t t1 = now_ms();
        char *code = attempt(port, op_crt, op_key, 5, tok.token, &live);
        assert_string_equal(code, "ok");
        free(code);
        read_until_cut(live, &cut, &last, &bytes);
        /* R-OP1: cut at the deadline (receipt + 3 s), while data flowed. */
        assert_true(bytes > 0);
        assert_true(last >= t0 + 1500);
        assert_true(cut >= t0 + 3000 - 250);
        assert_true(cut <= t1 + 3000 + 5000);
        client_free(live);

        cJSON *ev = wait_closed(ts, 5);
        check_sequence(ev, 5, 0);
        assert_int_equal(cJSON_GetArraySize(ev), 2);
        assert_string_equal(str_at(cJSON_GetArrayItem(ev, 0), "event"), "session");
        const cJSON *c = closed_event(ev);
        assert_string_equal(str_at(c, "reason"), "deadline");
        assert_true(int_at(c, "bytes_out", 0) > 0);
        assert_int_equal(int_at(c, "bytes_in", -1), 0);
        assert_false(port_listens(port));
        cJSON_Delete(ev);

        /* Unused until its deadline: expired_unused, the listener closed. */
        cJSON_Delete(spec);
        spec = spec_new(6, target->port, 1, &tok);
        port = start(ts, spec);
        ev = wait_closed(ts, 6);
        assert_int_equal(cJSON_GetArraySize(ev), 1);
        assert_string_equal(str_at(closed_event(ev), "reason"), "expired_unused");
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(closed_event(ev), "opened")));
        assert_false(port_listens(port));
        cJSON_Delete(ev);

        cJSON_Delete(spec);
        tunnels_close(ts);
        target_stop(target);
        token_done(&tok);
        free(path);
}

static void test_revoke_cuts(void **state) {
        char *path = state_path("revoke.json");
        struct tunnels *ts = open_tunnels(path);
        struct token tok = token_new("sm3");
        struct target *target = target_start(TARGET_SOURCE, 0);
        struct client *live = NULL;
        char buf[65536];

        cJSON *spec = spec_new(7, target->port, 60, &tok);
        uint16_t port = start(ts, spec);
        char *code = attempt(port, op_crt, op_key, 7, tok.token, &live);
        assert_string_equal(code, "ok");
        free(code);
        assert_true(SSL_read(live->ssl, buf, sizeof buf) > 0);
        int64_t t0 = now_ms();
        assert_int_equal(tunnels_revoke(ts, 7), 0);
        /* The closed event exists when revoke returns. */
        cJSON *ev = events_of(ts, 7);
        const cJSON *c = closed_event(ev);
        assert_non_null(c);
        assert_string_equal(str_at(c, "reason"), "revoked");
        cJSON_Delete(ev);
        int64_t cut = 0, last = 0;
        uint64_t bytes = 0;
        read_until_cut(live, &cut, &last, &bytes);
        assert_true(cut - t0 < 5000);
        assert_false(port_listens(port));
        client_free(live);

        /* Unused, and unknown. */
        cJSON_Delete(spec);
        spec = spec_new(8, target->port, 60, &tok);
        port = start(ts, spec);
        assert_int_equal(tunnels_revoke(ts, 8), 0);
        assert_false(port_listens(port));
        ev = events_of(ts, 8);
        assert_int_equal(cJSON_GetArraySize(ev), 1);
        assert_string_equal(str_at(closed_event(ev), "reason"), "revoked");
        cJSON_Delete(ev);
        assert_int_equal(tunnels_revoke(ts, 8), 0);
        assert_int_equal(tunnels_revoke(ts, 999), 0);
        ev = events_of(ts, 8);
        assert_int_equal(cJSON_GetArraySize(ev), 1);
        cJSON_Delete(ev);
        struct gc_error err = {};
        cJSON *res = NULL;
        assert_int_equal(tunnels_start(ts, spec, &res, &err), -ESTALE);

        cJSON_Delete(spec);
        tunnels_close(ts);
        target_stop(target);
        token_done(&tok);
        free(path);
}

/* The agent killed in session: a child process holds the tunnel. */
static int child_main(const char *state, const char *spec_text) {
        struct tunnels *ts = NULL;
        struct tunnel_config cfg = { .cert = host_crt, .key = host_key, .ca = ca_crt, .state = state };
        cJSON *spec = cJSON_Parse(spec_text), *res = NULL;
        struct gc_error err = {};

        if (!spec || tunnels_open(&cfg, &ts, &err) < 0 || tunnels_start(ts, spec, &res, &err) < 0)
                return 1;
        printf("%ld\n", int_at(res, "port", 0));
        fflush(stdout);
        for (;;)
                pause();
}

static void test_restart(void **state) {
        char *path = state_path("restart.json");
        struct tunnels *ts = open_tunnels(path);
        struct token tok = token_new("sm3");
        struct target *target = target_start(TARGET_ECHO_AFTER_EOF, 0);
        struct gc_error err = {};
        cJSON *res = NULL;

        /* Unused and live; unused and soon expired. */
        cJSON *live_spec = spec_new(10, target->port, 60, &tok), *short_spec = spec_new(11, target->port, 2, &tok);
        uint16_t live_port = start(ts, live_spec), short_port = start(ts, short_spec);
        tunnels_close(ts);      /* the agent stops */
        assert_false(port_listens(live_port));
        assert_false(port_listens(short_port));
        usleep(2500 * 1000);    /* past the short one's deadline */

        ts = open_tunnels(path);
        assert_int_equal(tunnels_live(ts), 1);
        /* The live one listens again on the same port, and works. */
        assert_int_equal(start(ts, live_spec), live_port);
        struct client *live = NULL;
        char *code = attempt(live_port, op_crt, op_key, 10, tok.token, &live);
        assert_string_equal(code, "ok");
        free(code);
        char buf[16] = "";
        client_send(live, "ping", 4);
        SSL_shutdown(live->ssl);
        assert_int_equal(SSL_read(live->ssl, buf, sizeof buf), 4);
        assert_memory_equal(buf, "ping", 4);
        client_free(live);
        cJSON *ev = wait_closed(ts, 10);
        check_sequence(ev, 10, 0);
        assert_string_equal(str_at(closed_event(ev), "reason"), "client_closed");
        cJSON_Delete(ev);
        /* The expired one never listens again. */
        ev = events_of(ts, 11);
        check_sequence(ev, 11, 0);
        assert_int_equal(cJSON_GetArraySize(ev), 1);
        assert_string_equal(str_at(closed_event(ev), "reason"), "expired_unused");
        cJSON_Delete(ev);
        assert_false(port_listens(short_port));
        assert_int_equal(tunnels_start(ts, short_spec, &res, &err), -ESTALE);
        tunnels_close(ts);

        /* A session when the agent is killed: closed "agent_restarted" at the
         * next start, never reopened (R-OP2). */
        char *crash = state_path("crash.json");
        cJSON *crash_spec = spec_new(12, target->port, 60, &tok);
        char *spec_text = cJSON_PrintUnformatted(crash_spec);
        int out[2];
        assert_int_equal(pipe(out), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(out[1], STDOUT_FILENO);
                close(out[0]);
                setenv("GC_TUNNEL_TEST_CHILD", "1", 1);
                execl("/proc/self/exe", "test-tunnel", "--child", crash, spec_text, host_crt, host_key, ca_crt,
                      (char *) NULL);
                _exit(127);
        }
        child_pid = pid;
        close(out[1]);
        FILE *f = fdopen(out[0], "r");
        long crash_port = 0;
        assert_int_equal(fscanf(f, "%ld", &crash_port), 1);
        fclose(f);
        code = attempt((uint16_t) crash_port, op_crt, op_key, 12, tok.token, &live);
        assert_string_equal(code, "ok");
        free(code);
        client_send(live, "data", 4);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        child_pid = -1;
        client_free(live);

        ts = open_tunnels(crash);
        assert_int_equal(tunnels_live(ts), 0);
        assert_false(port_listens((uint16_t) crash_port));
        ev = events_of(ts, 12);
        check_sequence(ev, 12, 0);
        assert_int_equal(cJSON_GetArraySize(ev), 2);   /* the child's session event, and closed */
        assert_string_equal(str_at(cJSON_GetArrayItem(ev, 0), "event"), "session");
        const cJSON *c = closed_event(ev);
        assert_string_equal(str_at(c, "reason"), "agent_restarted");
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "opened")));
        cJSON_Delete(ev);
        assert_int_equal(tunnels_start(ts, crash_spec, &res, &err), -ESTALE);
        tunnels_close(ts);

        /* And once more: nothing changes, nothing listens. */
        ts = open_tunnels(crash);
        assert_int_equal(tunnels_live(ts), 0);
        ev = events_of(ts, 12);
        assert_int_equal(cJSON_GetArraySize(ev), 2);
        cJSON_Delete(ev);
        tunnels_close(ts);

        free(spec_text);
        cJSON_Delete(crash_spec);
        cJSON_Delete(live_spec);
        cJSON_Delete(short_spec);
        free(crash);
        target_stop(target);
        token_done(&tok);
        free(path);
}

static int kill_child(void **state) {
        if (child_pid > 0) {
                kill(child_pid, SIGKILL);
                waitpid(child_pid, NULL, 0);
                child_pid = -1;
        }
        return 0;
}

static void remove_tree(const char *path) {
        char *cmd = xasprintf("rm -rf '%s'", path);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", path);
        free(cmd);
}

int main(int argc, char **argv) {
        signal(SIGPIPE, SIG_IGN);
        if (getenv("GC_TUNNEL_TEST_CHILD")) {
                if (argc != 7 || strcmp(argv[1], "--child") != 0)
                        return 2;
                host_crt = argv[4];
                host_key = argv[5];
                ca_crt = argv[6];
                return child_main(argv[2], argv[3]);
        }
        if (system("command -v openssl >/dev/null 2>&1") != 0) {
                fprintf(stderr, "SKIP: the openssl command is not installed (scripts/pki.sh needs it)\n");
                return 77;
        }
        if (pki_setup() < 0) {
                fprintf(stderr, "cannot make the test PKI with scripts/pki.sh\n");
                return 1;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_checked),
                cmocka_unit_test(test_refusals_and_session),
                cmocka_unit_test(test_operator_checks),
                cmocka_unit_test(test_jobs),
                cmocka_unit_test(test_deadline_cuts),
                cmocka_unit_test(test_revoke_cuts),
                cmocka_unit_test_teardown(test_restart, kill_child),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        if (r == 0)
                remove_tree(dir);
        return r;
}
