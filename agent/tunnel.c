/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations tunnels (agent/tunnel.h; R-OP1..R-OP4).
 *
 * Threads: one listener per tunnel (tunnel_listener), one per accepted
 * connection (tunnel_conn_main, detached and counted in n_conns). The
 * listener waits for its connections before it records "closed", so a
 * tunnel outlives every thread that points at it; the main thread joins
 * the listener (revoke, close, pruning) and frees the tunnel.
 *
 * Ending: t->ending (an atomic flag) plus t->wake (an eventfd written once
 * and never read, so it stays readable) tell every thread of the tunnel to
 * stop at once; t->stop_reason says why ("revoked", "agent_stopped"), or,
 * when NULL, the deadline or the end of the session did.
 *
 * The lock (tunnels->lock) guards the list, each tunnel's flags, the
 * events and the state file.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/wire.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "tunnel.h"

#define TUNNEL_STATE_VERSION 1
#define TUNNEL_STATE_MAX (64 * 1024 * 1024)
#define TUNNEL_SECONDS_MAX (10080 * 60)         /* the platform's longest tunnel: a week */
#define TUNNEL_DIAL_SECONDS 5
#define TUNNEL_REPLY_SECONDS 5                  /* to write a refusal or {"ok": true} */
#define TUNNEL_LINGER_MS 1000                   /* after a refusal: drain, so no RST eats it */
#define TUNNEL_CONNECTIONS_MAX 32               /* per tunnel, at once */
#define TUNNEL_BUF_SIZE (64 * 1024)             /* per direction */
#define TUNNEL_TOKEN_MAX 256
#define TUNNEL_ADDR_MAX INET6_ADDRSTRLEN
#define TUNNEL_PEER_MAX (INET6_ADDRSTRLEN + 16)
#define TUNNEL_LISTEN_BACKLOG 16

struct tunnel {
        struct tunnels *owner;
        struct tunnel *next;

        /* The spec (validated; kept verbatim for idempotence and the state). */
        cJSON *spec;
        int64_t id;
        char listen[TUNNEL_ADDR_MAX];
        char target[TUNNEL_ADDR_MAX];
        uint16_t target_port;
        uint32_t vni;
        int64_t spec_deadline;                  /* orchestrator clock, s */
        int64_t seconds;
        enum gc_hash_alg token_alg;
        uint8_t token_hash[GC_HASH_MAX];
        uint8_t operator_sha256[32];
        char *operator_name;
        char *approval;

        /* Kept in the state file. */
        int64_t deadline_ms;                    /* local CLOCK_REALTIME */
        int64_t offset_ms;                      /* orchestrator minus local, captured at start */
        uint16_t port;
        bool consumed;                          /* R-OP2: the token was used */
        bool closed;                            /* the "closed" event exists */
        int64_t seq;                            /* the last event's */
        int64_t opened, first_byte;             /* orchestrator ms; 0: none */
        _Atomic uint64_t bytes_in, bytes_out;

        /* Live only. */
        bool claimed;                           /* a connection is dialling the target */
        bool in_session;
        const char *stop_reason;                /* "revoked", "agent_stopped" */
        const char *end_reason;                 /* how the session ended */
        atomic_bool ending;
        int wake;                               /* eventfd */
        int listen_fd;
        pthread_t thread;
        bool running;                           /* the listener was started and is not joined */
        bool finished;                          /* the listener has returned (or is about to) */
        unsigned n_conns;
};

struct tunnels {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        char *cert, *key, *ca, *state;
        uint16_t port_min, port_max;
        struct net *net;
        SSL_CTX *ctx;
        int64_t offset_ms;
        struct tunnel *list;
        cJSON *events;                          /* unposted, oldest first */
        bool state_exists;                      /* written lazily: no file until a tunnel exists */
};

struct tunnel_conn {
        struct tunnel *t;
        int fd;
        SSL *ssl;
        char peer[TUNNEL_PEER_MAX];
        char *subject;                          /* the client certificate's, or NULL */
        char line[GC_WIRE_TUNNEL_LINE_MAX + 1];
        size_t line_len;                        /* bytes in line: the preamble and what followed it */
        size_t line_end;                        /* the newline's index + 1, 0 before it came */
};

/* --------------------------------------------------------------- helpers --- */

static int64_t tunnel_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Orchestrator clock (R-OP3: event times are the orchestrator's). */
static int64_t tunnel_orch_ms(const struct tunnel *t, int64_t local_ms) {
        return local_ms + t->offset_ms;
}

static int tunnel_timeout(int64_t until_ms) {
        int64_t left = until_ms - tunnel_now_ms();
        return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int) left;
}

static void tunnel_add(cJSON *o, const char *key, cJSON *v) {
        if (!v || !cJSON_AddItemToObject(o, key, v))
                abort();
}

static cJSON *tunnel_ms_json(int64_t ms) {
        return ms ? cJSON_CreateNumber((double) ms) : cJSON_CreateNull();
}

static void tunnel_wake(struct tunnel *t) {
        uint64_t one = 1;

        atomic_store(&t->ending, true);
        if (t->wake >= 0)
                (void) !write(t->wake, &one, sizeof one);
}

static void tunnel_free(struct tunnel *t) {
        if (!t)
                return;
        assert(!t->running);
        cJSON_Delete(t->spec);
        free(t->operator_name);
        free(t->approval);
        if (t->wake >= 0)
                close(t->wake);
        if (t->listen_fd >= 0)
                close(t->listen_fd);
        free(t);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tunnel *, tunnel_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free)

static struct tunnel *tunnel_new(struct tunnels *ts) {
        struct tunnel *t = xnew(struct tunnel, 1);

        t->owner = ts;
        t->wake = -1;
        t->listen_fd = -1;
        atomic_init(&t->ending, false);
        atomic_init(&t->bytes_in, 0);
        atomic_init(&t->bytes_out, 0);
        return t;
}

/* "address:port", "[v6]:port" */
static void tunnel_format_peer(const struct sockaddr_storage *ss, char *ret, size_t size) {
        char a[INET6_ADDRSTRLEN] = "?";

        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *s4 = (const struct sockaddr_in *) ss;
                inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
                snprintf(ret, size, "%s:%u", a, ntohs(s4->sin_port));
        } else if (ss->ss_family == AF_INET6) {
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) ss;
                inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
                snprintf(ret, size, "[%s]:%u", a, ntohs(s6->sin6_port));
        } else
                snprintf(ret, size, "?");
}

/* An IPv4 or IPv6 literal. */
static int tunnel_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_storage ss = {};

        struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;
        if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
                s4->sin_family = AF_INET;
                s4->sin_port = htons(port);
                *ret_len = sizeof *s4;
        } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(port);
                *ret_len = sizeof *s6;
        } else
                return -EINVAL;
        *ret = ss;
        return 0;
}

/* ------------------------------------------------------------- the spec --- */


static int tunnel_spec_string(const cJSON *o, const char *field, const char *key, size_t max, const char **ret,
                              struct gc_error *err) {
        const cJSON *v = json_get(o, key);
        _cleanup_free_ char *f = xasprintf("%s.%s", field, key);

        if (!v)
                return json_field_error(err, "invalid_tunnel", f, NULL, "is required");
        if (!cJSON_IsString(v) || !v->valuestring[0])
                return json_field_error(err, "invalid_tunnel", f, v, "is not a non-empty string");
        if (strlen(v->valuestring) > max)
                return json_field_error(err, "invalid_tunnel", f, v, "is longer than %zu bytes", max);
        *ret = v->valuestring;
        return 0;
}

static int tunnel_spec_int(const cJSON *o, const char *field, const char *key, int64_t min, int64_t max,
                           int64_t *ret, struct gc_error *err) {
        const cJSON *v = json_get(o, key);
        _cleanup_free_ char *f = xasprintf("%s.%s", field, key);
        int64_t i;

        if (!v)
                return json_field_error(err, "invalid_tunnel", f, NULL, "is required");
        if (json_get_int(o, key, &i, NULL) < 0 || i < min || i > max)
                return json_field_error(err, "invalid_tunnel", f, v, "is not an integer from %lld to %lld", (long long) min,
                                          (long long) max);
        *ret = i;
        return 0;
}

/* "<alg>:<64 hex>" or the bare hex; 32 bytes. */
static int tunnel_hex32(const char *hex, uint8_t ret[32]) {
        _cleanup_free_ uint8_t *b = NULL;
        size_t n;

        if (strlen(hex) != 64 || crypto_unhex(hex, &b, &n) < 0 || n != 32)
                return -EINVAL;
        memcpy(ret, b, 32);
        return 0;
}

/* TUNNELSPEC (include/gc/wire.h) into t; every field is checked and named
 * under field ("tunnel"). Unknown members are ignored. */
static int tunnel_spec_parse(const cJSON *spec, const char *field, struct tunnel *t, struct gc_error *err) {
        struct sockaddr_storage ss;
        socklen_t sl;
        const char *listen, *target, *hash, *name, *sha, *approval;
        int64_t id, vni, port, deadline, seconds;
        int r;

        if (!cJSON_IsObject(spec))
                return json_field_error(err, "invalid_tunnel", field, spec, "is not an object");
        r = tunnel_spec_int(spec, field, "id", 1, INT64_MAX / 2, &id, err);
        r = r < 0 ? r : tunnel_spec_string(spec, field, "listen", TUNNEL_ADDR_MAX - 1, &listen, err);
        if (r < 0)
                return r;
        if (tunnel_sockaddr(listen, 0, &ss, &sl) < 0) {
                _cleanup_free_ char *f = xasprintf("%s.listen", field);
                return json_field_error(err, "invalid_tunnel", f, json_get(spec, "listen"), "is not an IPv4 or IPv6 address");
        }
        r = tunnel_spec_int(spec, field, "vni", NET_VNI_MIN, NET_VNI_MAX, &vni, err);
        r = r < 0 ? r : tunnel_spec_string(spec, field, "target", TUNNEL_ADDR_MAX - 1, &target, err);
        if (r < 0)
                return r;
        if (tunnel_sockaddr(target, 0, &ss, &sl) < 0) {
                _cleanup_free_ char *f = xasprintf("%s.target", field);
                return json_field_error(err, "invalid_tunnel", f, json_get(spec, "target"), "is not an IPv4 or IPv6 address");
        }
        r = tunnel_spec_int(spec, field, "target_port", 1, 65535, &port, err);
        r = r < 0 ? r : tunnel_spec_int(spec, field, "deadline", 1, INT64_MAX / 2000, &deadline, err);
        r = r < 0 ? r : tunnel_spec_int(spec, field, "seconds", 1, TUNNEL_SECONDS_MAX, &seconds, err);
        r = r < 0 ? r : tunnel_spec_string(spec, field, "token_hash", 128, &hash, err);
        if (r < 0)
                return r;
        const char *colon = strchr(hash, ':');
        _cleanup_free_ char *alg_name = colon ? xstrndup(hash, (size_t) (colon - hash)) : NULL;
        if (!colon || crypto_hash_from_string(alg_name, &t->token_alg) < 0 ||
            tunnel_hex32(colon + 1, t->token_hash) < 0) {
                _cleanup_free_ char *f = xasprintf("%s.token_hash", field);
                return json_field_error(err, "invalid_tunnel", f, json_get(spec, "token_hash"),
                                          "is not \"sm3:<64 hex digits>\" or \"sha256:<64 hex digits>\"");
        }
        const cJSON *op = json_get(spec, "operator");
        _cleanup_free_ char *opf = xasprintf("%s.operator", field);
        if (!cJSON_IsObject(op))
                return json_field_error(err, "invalid_tunnel", opf, op, op ? "is not an object" : "is required");
        r = tunnel_spec_string(op, opf, "name", 256, &name, err);
        r = r < 0 ? r : tunnel_spec_string(op, opf, "certificate_sha256", 64, &sha, err);
        if (r < 0)
                return r;
        if (tunnel_hex32(sha, t->operator_sha256) < 0) {
                _cleanup_free_ char *f = xasprintf("%s.certificate_sha256", opf);
                return json_field_error(err, "invalid_tunnel", f, json_get(op, "certificate_sha256"),
                                          "is not the SHA-256 of a certificate (64 hex digits)");
        }
        r = tunnel_spec_string(spec, field, "approval", 512, &approval, err);
        if (r < 0)
                return r;

        t->id = id;
        snprintf(t->listen, sizeof t->listen, "%s", listen);
        snprintf(t->target, sizeof t->target, "%s", target);
        t->target_port = (uint16_t) port;
        t->vni = (uint32_t) vni;
        t->spec_deadline = deadline;
        t->seconds = seconds;
        t->operator_name = xstrdup(name);
        t->approval = xstrdup(approval);
        t->spec = cJSON_Duplicate(spec, true);
        if (!t->spec)
                abort();
        return 0;
}

/* ----------------------------------------------------------- the state --- */

static cJSON *tunnel_state_entry(struct tunnel *t) {
        cJSON *o = cJSON_CreateObject();

        if (!o)
                abort();
        tunnel_add(o, "spec", cJSON_Duplicate(t->spec, true));
        tunnel_add(o, "deadline_ms", cJSON_CreateNumber((double) t->deadline_ms));
        tunnel_add(o, "offset_ms", cJSON_CreateNumber((double) t->offset_ms));
        tunnel_add(o, "port", cJSON_CreateNumber(t->port));
        tunnel_add(o, "consumed", cJSON_CreateBool(t->consumed));
        tunnel_add(o, "closed", cJSON_CreateBool(t->closed));
        tunnel_add(o, "seq", cJSON_CreateNumber((double) t->seq));
        tunnel_add(o, "opened", tunnel_ms_json(t->opened));
        tunnel_add(o, "first_byte", tunnel_ms_json(t->first_byte));
        tunnel_add(o, "bytes_in", cJSON_CreateNumber((double) atomic_load(&t->bytes_in)));
        tunnel_add(o, "bytes_out", cJSON_CreateNumber((double) atomic_load(&t->bytes_out)));
        return o;
}

/* Replace the file atomically: write a temporary file, fsync, rename, fsync
 * the directory. Lock held. */
static int tunnels_state_write_locked(struct tunnels *ts) {
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        cJSON *list = cJSON_CreateArray();
        _cleanup_free_ char *text = NULL, *tmp = xasprintf("%s.tmp", ts->state), *dir = xstrdup(ts->state);
        _cleanup_close_ int fd = -1, dfd = -1;
        char *slash;
        size_t len, done = 0;
        int r = 0;

        if (!doc || !list)
                abort();
        tunnel_add(doc, "version", cJSON_CreateNumber(TUNNEL_STATE_VERSION));
        tunnel_add(doc, "tunnels", list);
        for (struct tunnel *t = ts->list; t; t = t->next)
                if (!cJSON_AddItemToArray(list, tunnel_state_entry(t)))
                        abort();
        tunnel_add(doc, "events", cJSON_Duplicate(ts->events, true));
        text = cJSON_PrintUnformatted(doc);
        if (!text)
                abort();
        len = strlen(text);

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "tunnel state %s: cannot be written", tmp);
        while (done < len) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                done += (size_t) n;
        }
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, ts->state) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return log_error_errno(r, "tunnel state %s: cannot be written", ts->state);
        }
        ts->state_exists = true;
        slash = strrchr(dir, '/');
        if (slash)
                *(slash == dir ? slash + 1 : slash) = 0;
        else
                strcpy(dir, ".");
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return log_error_errno(errno, "tunnel state %s: cannot sync the directory %s", ts->state, dir);
        return 0;
}

/* A new event of t, appended to the unposted ones; the caller adds its
 * fields and writes the state. Lock held. R-OP3. */
static cJSON *tunnel_event_locked(struct tunnel *t, const char *kind, int64_t local_ms) {
        cJSON *e = cJSON_CreateObject();

        if (!e)
                abort();
        tunnel_add(e, "tunnel", cJSON_CreateNumber((double) t->id));
        tunnel_add(e, "seq", cJSON_CreateNumber((double) ++t->seq));
        tunnel_add(e, "event", cJSON_CreateString(kind));
        tunnel_add(e, "time", cJSON_CreateNumber((double) tunnel_orch_ms(t, local_ms)));
        if (!cJSON_AddItemToArray(t->owner->events, e))
                abort();
        return e;
}

/* The "closed" event; the tunnel is spent (R-OP1, R-OP2). Lock held. */
static void tunnel_close_locked(struct tunnel *t, const char *reason) {
        int64_t now = tunnel_now_ms();
        int64_t closed = tunnel_orch_ms(t, now);
        uint64_t in = atomic_load(&t->bytes_in), out = atomic_load(&t->bytes_out);
        cJSON *e;

        assert(!t->closed);
        e = tunnel_event_locked(t, "closed", now);
        tunnel_add(e, "opened", tunnel_ms_json(t->opened));
        tunnel_add(e, "first_byte", tunnel_ms_json(t->first_byte));
        tunnel_add(e, "closed", cJSON_CreateNumber((double) closed));
        tunnel_add(e, "reason", cJSON_CreateString(reason));
        tunnel_add(e, "bytes_in", cJSON_CreateNumber((double) in));
        tunnel_add(e, "bytes_out", cJSON_CreateNumber((double) out));
        t->closed = true;
        (void) tunnels_state_write_locked(t->owner);
        if (t->opened)
                log_info("tunnel %lld: closed (%s): %llu bytes to %s:%u, %llu bytes back, session of %.1f s",
                         (long long) t->id, reason, (unsigned long long) in, t->target, t->target_port,
                         (unsigned long long) out, (closed - t->opened) / 1000.0);
        else
                log_info("tunnel %lld: closed (%s) without a session", (long long) t->id, reason);
}

static void tunnel_refused_locked(struct tunnel *t, const char *peer, const char *reason, const char *subject) {
        cJSON *e = tunnel_event_locked(t, "refused", tunnel_now_ms());

        tunnel_add(e, "peer", cJSON_CreateString(peer));
        tunnel_add(e, "reason", cJSON_CreateString(reason));
        tunnel_add(e, "subject", subject ? cJSON_CreateString(subject) : cJSON_CreateNull());
        (void) tunnels_state_write_locked(t->owner);
}

/* ---------------------------------------------------------- connections --- */

/* Wait until fd has events, the tunnel ends (-ECANCELED) or until_ms
 * (-ETIMEDOUT). */
static int tunnel_wait(struct tunnel *t, int fd, short events, int64_t until_ms) {
        for (;;) {
                struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = t->wake, .events = POLLIN } };
                int n;

                if (atomic_load(&t->ending))
                        return -ECANCELED;
                n = poll(p, 2, tunnel_timeout(until_ms));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (p[1].revents)
                        return -ECANCELED;
                if (p[0].revents)
                        return 0;
                if (tunnel_now_ms() >= until_ms)
                        return -ETIMEDOUT;
        }
}

/* Wait for what SSL_get_error asked for. */
static int tunnel_ssl_wait(struct tunnel_conn *c, int ssl_error, int64_t until_ms) {
        if (ssl_error == SSL_ERROR_WANT_READ)
                return tunnel_wait(c->t, c->fd, POLLIN, until_ms);
        if (ssl_error == SSL_ERROR_WANT_WRITE)
                return tunnel_wait(c->t, c->fd, POLLOUT, until_ms);
        return -EPROTO;
}

static int tunnel_ssl_write_all(struct tunnel_conn *c, const char *data, size_t len, int64_t until_ms) {
        size_t done = 0;

        while (done < len) {
                ERR_clear_error();
                int n = SSL_write(c->ssl, data + done, (int) (len - done));
                if (n > 0) {
                        done += (size_t) n;
                        continue;
                }
                int r = tunnel_ssl_wait(c, SSL_get_error(c->ssl, n), until_ms);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Read until the newline (the preamble), at most GC_WIRE_TUNNEL_LINE_MAX
 * bytes with it. Bytes after the newline stay in c->line for the target.
 * -EMSGSIZE: no newline within the limit; -EPIPE: the client closed. */
static int tunnel_read_line(struct tunnel_conn *c, int64_t until_ms) {
        for (;;) {
                char *nl = memchr(c->line, '\n', c->line_len);
                if (nl) {
                        c->line_end = (size_t) (nl - c->line) + 1;
                        return 0;
                }
                if (c->line_len >= GC_WIRE_TUNNEL_LINE_MAX)
                        return -EMSGSIZE;
                ERR_clear_error();
                int n = SSL_read(c->ssl, c->line + c->line_len, (int) (GC_WIRE_TUNNEL_LINE_MAX - c->line_len));
                if (n > 0) {
                        c->line_len += (size_t) n;
                        continue;
                }
                int e = SSL_get_error(c->ssl, n);
                if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL)
                        return -EPIPE;
                int r = tunnel_ssl_wait(c, e, until_ms);
                if (r < 0)
                        return r;
        }
}

/* After a refusal: close_notify, the write side shut, then drain what the
 * client still sends for a moment, so that the kernel does not answer it
 * with a reset that could destroy the refusal line in flight. */
static void tunnel_linger(struct tunnel_conn *c) {
        int64_t until = tunnel_now_ms() + TUNNEL_LINGER_MS;
        char buf[4096];

        ERR_clear_error();
        (void) SSL_shutdown(c->ssl);
        (void) shutdown(c->fd, SHUT_WR);
        for (;;) {
                ssize_t n = recv(c->fd, buf, sizeof buf, 0);
                if (n > 0)
                        continue;
                if (n == 0 || (errno != EAGAIN && errno != EINTR))
                        return;
                if (tunnel_wait(c->t, c->fd, POLLIN, until) < 0)
                        return;
        }
}

/* Answer {"ok": false, "code": reason, "message": ...}, record the
 * refusal (R-OP3), log it and close. */
static int tunnel_refuse(struct tunnel_conn *c, const char *reason, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int tunnel_refuse(struct tunnel_conn *c, const char *reason, const char *fmt, ...) {
        struct tunnel *t = c->t;
        _cleanup_(cJSON_Deletep) cJSON *answer = cJSON_CreateObject();
        _cleanup_free_ char *text = NULL, *line = NULL;
        char msg[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (!answer)
                abort();
        tunnel_add(answer, "ok", cJSON_CreateFalse());
        tunnel_add(answer, "code", cJSON_CreateString(reason));
        tunnel_add(answer, "message", cJSON_CreateString(msg));
        text = cJSON_PrintUnformatted(answer);
        if (!text)
                abort();
        line = xasprintf("%s\n", text);

        pthread_mutex_lock(&t->owner->lock);
        tunnel_refused_locked(t, c->peer, reason, c->subject);
        pthread_mutex_unlock(&t->owner->lock);
        log_notice("tunnel %lld: refused %s (%s): %s; certificate %s", (long long) t->id, c->peer, reason, msg,
                   c->subject ?: "none");

        if (tunnel_ssl_write_all(c, line, strlen(line), tunnel_now_ms() + TUNNEL_REPLY_SECONDS * 1000) >= 0)
                tunnel_linger(c);
        return 0;
}

/* RFC 2253 with UTF-8 kept: "CN=张三,OU=operator,O=govcloud". */
static char *tunnel_subject(X509 *cert) {
        _cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
        char *data;
        long n;

        if (!b)
                abort();
        if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return xstrdup("?");
        n = BIO_get_mem_data(b, &data);
        return xstrndup(data, n > 0 ? (size_t) n : 0);
}

/* Exactly one OU, and it is "operator". */
static bool tunnel_ou_is_operator(X509 *cert) {
        X509_NAME *name = X509_get_subject_name(cert);
        int i = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, -1);
        unsigned char *utf8 = NULL;
        bool ok = false;

        if (i < 0 || X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, i) >= 0)
                return false;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (n >= 0)
                ok = (size_t) n == strlen("operator") && memcmp(utf8, "operator", (size_t) n) == 0;
        OPENSSL_free(utf8);
        return ok;
}

/* The preamble: {"protocol": "gc-tunnel/1", "tunnel": ID, "token": "..."},
 * nothing else. */
static int tunnel_preamble_parse(const char *line, size_t len, int64_t *ret_id, char **ret_token, char *why,
                                 size_t why_size) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error err = {};
        const char *protocol = NULL, *token = NULL;
        const cJSON *m;
        int64_t id;

        if (json_parse(line, len, &doc, &err) < 0) {
                snprintf(why, why_size, "the first line is not JSON (%.160s)", err.message);
                return -EINVAL;
        }
        if (!cJSON_IsObject(doc)) {
                snprintf(why, why_size, "the first line is not a JSON object");
                return -EINVAL;
        }
        cJSON_ArrayForEach(m, doc)
                if (strcmp(m->string, "protocol") != 0 && strcmp(m->string, "tunnel") != 0 &&
                    strcmp(m->string, "token") != 0) {
                        snprintf(why, why_size, "the first line has an unknown member \"%.64s\"", m->string);
                        return -EINVAL;
                }
        if (json_get_string(doc, "protocol", &protocol, NULL) < 0 || strcmp(protocol, GC_WIRE_TUNNEL_PROTOCOL) != 0) {
                snprintf(why, why_size, "\"protocol\" is not \"" GC_WIRE_TUNNEL_PROTOCOL "\"");
                return -EINVAL;
        }
        if (json_get_int(doc, "tunnel", &id, NULL) < 0) {
                snprintf(why, why_size, "\"tunnel\" is not a tunnel id");
                return -EINVAL;
        }
        if (json_get_string(doc, "token", &token, NULL) < 0 || !token[0] || strlen(token) > TUNNEL_TOKEN_MAX) {
                snprintf(why, why_size, "\"token\" is not a token");
                return -EINVAL;
        }
        *ret_id = id;
        *ret_token = xstrdup(token);
        return 0;
}

/* A socket connected to the target, made in the VPC's router namespace
 * (R-OP4: the operator reaches the VM's address only, from inside its VPC)
 * or, without a network module, in this one. -ECANCELED when the tunnel
 * ends meanwhile. */
static int tunnel_dial(struct tunnel *t, int *ret_fd, char *why, size_t why_size) {
        struct sockaddr_storage ss;
        socklen_t sl;
        _cleanup_close_ int fd = -1;
        int r, e = 0;

        r = tunnel_sockaddr(t->target, t->target_port, &ss, &sl);
        if (r < 0) {
                snprintf(why, why_size, "the target %s is not an address", t->target);
                return r;
        }
        if (t->owner->net) {
                char path[PATH_MAX];
                _cleanup_close_ int ns = -1, self = -1;

                r = net_router_ns_path(t->owner->net, t->vni, path, sizeof path);
                if (r < 0) {
                        snprintf(why, why_size, "no router namespace for VNI %u: %s", t->vni, strerror(-r));
                        return r;
                }
                ns = open(path, O_RDONLY | O_CLOEXEC);
                if (ns < 0) {
                        r = -errno;
                        snprintf(why, why_size, "the router namespace %.200s: %s", path, strerror(-r));
                        return r;
                }
                self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
                if (self < 0) {
                        r = -errno;
                        snprintf(why, why_size, "this thread's namespace: %s", strerror(-r));
                        return r;
                }
                if (setns(ns, CLONE_NEWNET) < 0) {
                        r = -errno;
                        snprintf(why, why_size, "enter the router namespace %.200s: %s", path, strerror(-r));
                        return r;
                }
                fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                e = errno;
                if (setns(self, CLONE_NEWNET) < 0) {
                        /* This thread stays in the router namespace; it makes
                         * no other socket and ends with this connection. */
                        r = log_error_errno(errno, "tunnel %lld: cannot return from the router namespace %s",
                                            (long long) t->id, path);
                        snprintf(why, why_size, "return from the router namespace: %s", strerror(-r));
                        return r;
                }
        } else {
                fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                e = errno;
        }
        if (fd < 0) {
                snprintf(why, why_size, "socket: %s", strerror(e));
                return -e;
        }

        int64_t until = tunnel_now_ms() + TUNNEL_DIAL_SECONDS * 1000;
        if (until > t->deadline_ms)
                until = t->deadline_ms;
        if (connect(fd, (struct sockaddr *) &ss, sl) < 0) {
                if (errno != EINPROGRESS) {
                        r = -errno;
                        snprintf(why, why_size, "connect: %s", strerror(-r));
                        return r;
                }
                r = tunnel_wait(t, fd, POLLOUT, until);
                if (r == -ETIMEDOUT) {
                        snprintf(why, why_size, "no answer within %d s", TUNNEL_DIAL_SECONDS);
                        return r;
                }
                if (r < 0) {
                        snprintf(why, why_size, "%s", strerror(-r));
                        return r;
                }
                socklen_t el = sizeof e;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
                        e = errno;
                if (e != 0) {
                        snprintf(why, why_size, "connect: %s", strerror(e));
                        return -e;
                }
        }
        *ret_fd = fd;
        fd = -1;
        return 0;
}

/* One direction's buffer. */
struct tunnel_buf {
        char data[TUNNEL_BUF_SIZE];
        size_t off, len;
};

static size_t tunnel_buf_space(const struct tunnel_buf *b) {
        return sizeof b->data - b->len;
}

static void tunnel_buf_consumed(struct tunnel_buf *b, size_t n) {
        b->off += n;
        if (b->off == b->len)
                b->off = b->len = 0;
        else if (b->off > sizeof b->data / 2) {
                /* SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: the same bytes may move. */
                memmove(b->data, b->data + b->off, b->len - b->off);
                b->len -= b->off;
                b->off = 0;
        }
}

static void tunnel_first_byte(struct tunnel *t, bool *seen) {
        if (*seen)
                return;
        *seen = true;
        pthread_mutex_lock(&t->owner->lock);
        t->first_byte = tunnel_orch_ms(t, tunnel_now_ms());
        pthread_mutex_unlock(&t->owner->lock);
}

enum tunnel_side { SIDE_NONE, SIDE_CLIENT, SIDE_TARGET };

/* Forward both ways until both directions ended, an error, the deadline or
 * the tunnel ends. Returns the closed reason. */
static const char *tunnel_forward(struct tunnel_conn *c, int target) {
        struct tunnel *t = c->t;
        struct tunnel_buf *up = xnew(struct tunnel_buf, 1), *down = xnew(struct tunnel_buf, 1);
        bool c_eof = false, t_eof = false;              /* no more to read from that side */
        bool t_shut = false, c_shut = false;            /* EOF passed on to that side */
        enum tunnel_side first = SIDE_NONE, failed = SIDE_NONE;
        short rd_want = POLLIN, wr_want = POLLOUT, sd_want = POLLOUT;
        const char *reason = NULL;
        bool seen = false;

        /* What the client sent right behind its preamble. */
        if (c->line_len > c->line_end) {
                memcpy(up->data, c->line + c->line_end, c->line_len - c->line_end);
                up->len = c->line_len - c->line_end;
                tunnel_first_byte(t, &seen);
        }

        while (!reason) {
                bool progress;

                do {
                        progress = false;
                        /* client -> up */
                        if (!c_eof && tunnel_buf_space(up) > 0) {
                                ERR_clear_error();
                                int n = SSL_read(c->ssl, up->data + up->len, (int) tunnel_buf_space(up));
                                if (n > 0) {
                                        up->len += (size_t) n;
                                        tunnel_first_byte(t, &seen);
                                        progress = true;
                                } else {
                                        int e = SSL_get_error(c->ssl, n);
                                        if (e == SSL_ERROR_WANT_READ)
                                                rd_want = POLLIN;
                                        else if (e == SSL_ERROR_WANT_WRITE)
                                                rd_want = POLLOUT;
                                        else if (e == SSL_ERROR_ZERO_RETURN) {
                                                c_eof = progress = true;        /* close_notify: a half-close */
                                                first = first ?: SIDE_CLIENT;
                                        } else {
                                                failed = SIDE_CLIENT;
                                                break;
                                        }
                                }
                        }
                        /* up -> target */
                        if (up->len > up->off) {
                                ssize_t n = send(target, up->data + up->off, up->len - up->off, MSG_NOSIGNAL);
                                if (n > 0) {
                                        atomic_fetch_add(&t->bytes_in, (uint64_t) n);
                                        tunnel_buf_consumed(up, (size_t) n);
                                        progress = true;
                                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                                        failed = SIDE_TARGET;
                                        break;
                                }
                        }
                        if (c_eof && up->len == up->off && !t_shut) {
                                (void) shutdown(target, SHUT_WR);
                                t_shut = progress = true;
                        }
                        /* target -> down */
                        if (!t_eof && tunnel_buf_space(down) > 0) {
                                ssize_t n = recv(target, down->data + down->len, tunnel_buf_space(down), 0);
                                if (n > 0) {
                                        down->len += (size_t) n;
                                        tunnel_first_byte(t, &seen);
                                        progress = true;
                                } else if (n == 0) {
                                        t_eof = progress = true;
                                        first = first ?: SIDE_TARGET;
                                } else if (errno != EAGAIN && errno != EINTR) {
                                        failed = SIDE_TARGET;
                                        break;
                                }
                        }
                        /* down -> client */
                        if (down->len > down->off) {
                                ERR_clear_error();
                                int n = SSL_write(c->ssl, down->data + down->off, (int) (down->len - down->off));
                                if (n > 0) {
                                        atomic_fetch_add(&t->bytes_out, (uint64_t) n);
                                        tunnel_buf_consumed(down, (size_t) n);
                                        progress = true;
                                } else {
                                        int e = SSL_get_error(c->ssl, n);
                                        if (e == SSL_ERROR_WANT_READ)
                                                wr_want = POLLIN;
                                        else if (e == SSL_ERROR_WANT_WRITE)
                                                wr_want = POLLOUT;
                                        else {
                                                failed = SIDE_CLIENT;
                                                break;
                                        }
                                }
                        }
                        if (t_eof && down->len == down->off && !c_shut) {
                                ERR_clear_error();
                                int n = SSL_shutdown(c->ssl);   /* close_notify: a half-close */
                                if (n >= 0)
                                        c_shut = progress = true;
                                else {
                                        int e = SSL_get_error(c->ssl, n);
                                        if (e == SSL_ERROR_WANT_READ)
                                                sd_want = POLLIN;
                                        else if (e == SSL_ERROR_WANT_WRITE)
                                                sd_want = POLLOUT;
                                        else {
                                                failed = SIDE_CLIENT;
                                                break;
                                        }
                                }
                        }
                        if (atomic_load(&t->ending) || tunnel_now_ms() >= t->deadline_ms)
                                break;
                } while (progress);

                if (failed != SIDE_NONE) {
                        /* An abrupt end (reset, a TLS error, EOF without close_notify). */
                        first = first ?: failed;
                        reason = first == SIDE_CLIENT ? "client_closed" : "target_closed";
                        break;
                }
                if (c_eof && t_shut && t_eof && c_shut) {
                        reason = first == SIDE_TARGET ? "target_closed" : "client_closed";
                        break;
                }
                if (tunnel_now_ms() >= t->deadline_ms) {
                        reason = "deadline";    /* R-OP1: cut at once, even mid-transfer */
                        break;
                }
                if (atomic_load(&t->ending)) {
                        pthread_mutex_lock(&t->owner->lock);
                        reason = t->stop_reason ?: "deadline";
                        pthread_mutex_unlock(&t->owner->lock);
                        break;
                }

                short cev = 0, tev = 0;
                if (!c_eof && tunnel_buf_space(up) > 0)
                        cev |= rd_want;
                if (down->len > down->off)
                        cev |= wr_want;
                if (t_eof && down->len == down->off && !c_shut)
                        cev |= sd_want;
                if (!t_eof && tunnel_buf_space(down) > 0)
                        tev |= POLLIN;
                if (up->len > up->off)
                        tev |= POLLOUT;
                struct pollfd p[3] = {
                        { .fd = cev ? c->fd : -1, .events = cev },
                        { .fd = tev ? target : -1, .events = tev },
                        { .fd = t->wake, .events = POLLIN },
                };
                int timeout = tunnel_timeout(t->deadline_ms);
                if (!c_eof && tunnel_buf_space(up) > 0 && SSL_has_pending(c->ssl))
                        timeout = 0;
                if (poll(p, 3, timeout) < 0 && errno != EINTR) {
                        log_warning_errno(errno, "tunnel %lld: poll", (long long) t->id);
                        reason = "client_closed";
                }
        }
        free(up);
        free(down);
        return reason;
}

static int tunnel_conn_serve(struct tunnel_conn *c) {
        struct tunnel *t = c->t;
        struct tunnels *ts = t->owner;
        int64_t until = tunnel_now_ms() + TUNNEL_HANDSHAKE_SECONDS * 1000;
        _cleanup_free_ char *token = NULL;
        _cleanup_close_ int target = -1;
        char why[256] = "";
        uint8_t md[EVP_MAX_MD_SIZE], digest[GC_HASH_MAX];
        unsigned md_len = 0;
        int64_t id;
        int r;

        if (until > t->deadline_ms)
                until = t->deadline_ms;
        (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int) { 1 }, sizeof(int));
        c->ssl = SSL_new(ts->ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
                log_openssl_errno(-ENOMEM, "tunnel %lld: SSL_new", (long long) t->id);
                return 0;
        }

        /* The handshake, bounded (TUNNEL_HANDSHAKE_SECONDS, the deadline). */
        for (;;) {
                ERR_clear_error();
                int n = SSL_accept(c->ssl);
                if (n == 1)
                        break;
                int e = SSL_get_error(c->ssl, n);
                unsigned long le = ERR_peek_last_error();
                r = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? tunnel_ssl_wait(c, e, until) : -EPROTO;
                if (r == -ECANCELED) {
                        log_debug("tunnel %lld: %s dropped during its handshake: the tunnel ends", (long long) t->id,
                                  c->peer);
                        return 0;
                }
                if (r < 0) {
                        char lib[256] = "";
                        if (le)
                                ERR_error_string_n(le, lib, sizeof lib);
                        pthread_mutex_lock(&ts->lock);
                        tunnel_refused_locked(t, c->peer, "handshake", NULL);
                        pthread_mutex_unlock(&ts->lock);
                        log_notice("tunnel %lld: refused %s (handshake): %s", (long long) t->id, c->peer,
                                   r == -ETIMEDOUT ? "TLS not completed in time" : lib[0] ? lib : "TLS failed");
                        ERR_clear_error();
                        return 0;
                }
        }

        /* R-OP4: the operator named in the approved tunnel, by certificate. */
        X509 *cert = SSL_get0_peer_certificate(c->ssl);
        if (!cert)
                return tunnel_refuse(c, "no_certificate", "a client certificate is required");
        c->subject = tunnel_subject(cert);
        long vr = SSL_get_verify_result(c->ssl);
        if (vr != X509_V_OK)
                return tunnel_refuse(c, "wrong_operator", "the certificate does not verify against the CA: %s",
                                     X509_verify_cert_error_string(vr));
        if (!tunnel_ou_is_operator(cert))
                return tunnel_refuse(c, "wrong_operator", "the certificate is not an operator's (OU=operator)");
        if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1 || md_len != 32 ||
            CRYPTO_memcmp(md, t->operator_sha256, 32) != 0)
                return tunnel_refuse(c, "wrong_operator", "this tunnel is approved for another operator's certificate");

        r = tunnel_read_line(c, until);
        if (r == -ECANCELED)
                return 0;
        if (r == -EMSGSIZE)
                return tunnel_refuse(c, "bad_preamble", "no line within %d bytes", GC_WIRE_TUNNEL_LINE_MAX);
        if (r == -ETIMEDOUT)
                return tunnel_refuse(c, "bad_preamble", "no line within %d s", TUNNEL_HANDSHAKE_SECONDS);
        if (r < 0) {
                pthread_mutex_lock(&ts->lock);
                tunnel_refused_locked(t, c->peer, "bad_preamble", c->subject);
                pthread_mutex_unlock(&ts->lock);
                log_notice("tunnel %lld: refused %s (bad_preamble): closed before its first line; certificate %s",
                           (long long) t->id, c->peer, c->subject);
                return 0;
        }
        if (tunnel_preamble_parse(c->line, c->line_end - 1, &id, &token, why, sizeof why) < 0)
                return tunnel_refuse(c, "bad_preamble", "%s", why);
        if (id != t->id)
                return tunnel_refuse(c, "wrong_tunnel", "this listener serves tunnel %lld, not %lld", (long long) t->id,
                                     (long long) id);
        r = crypto_digest(t->token_alg, token, strlen(token), digest);
        explicit_bzero(token, strlen(token));
        if (r < 0)
                return tunnel_refuse(c, "wrong_token", "the token cannot be checked");

        /* R-OP2: single use. in_use is checked, and the tunnel claimed, under
         * the lock: two good connections cannot both pass. */
        pthread_mutex_lock(&ts->lock);
        if (t->claimed || t->in_session || t->consumed || t->closed) {
                pthread_mutex_unlock(&ts->lock);
                return tunnel_refuse(c, "in_use", "a session is open on this tunnel, or was");
        }
        if (CRYPTO_memcmp(digest, t->token_hash, GC_HASH_MAX) != 0) {
                pthread_mutex_unlock(&ts->lock);
                return tunnel_refuse(c, "wrong_token", "the token is not this tunnel's");
        }
        t->claimed = true;
        pthread_mutex_unlock(&ts->lock);

        r = tunnel_dial(t, &target, why, sizeof why);
        if (r < 0) {
                pthread_mutex_lock(&ts->lock);
                t->claimed = false;     /* the token stays good */
                pthread_mutex_unlock(&ts->lock);
                if (r == -ECANCELED) {
                        log_info("tunnel %lld: %s dropped while dialling the target: the tunnel ends", (long long) t->id,
                                 c->peer);
                        return 0;
                }
                return tunnel_refuse(c, "target_unreachable", "%s:%u: %s", t->target, t->target_port, why);
        }
        (void) setsockopt(target, IPPROTO_TCP, TCP_NODELAY, &(int) { 1 }, sizeof(int));

        /* R-OP2: consumed on disk, with the session event, before {"ok": true}
         * and before the first byte. */
        pthread_mutex_lock(&ts->lock);
        int64_t now = tunnel_now_ms();
        t->claimed = false;
        t->consumed = true;
        t->in_session = true;
        t->opened = tunnel_orch_ms(t, now);
        cJSON *e = tunnel_event_locked(t, "session", now);
        tunnel_add(e, "peer", cJSON_CreateString(c->peer));
        tunnel_add(e, "subject", cJSON_CreateString(c->subject));
        r = tunnels_state_write_locked(ts);
        if (r < 0) {
                /* Not on disk: undone, the token stays good. */
                cJSON_Delete(cJSON_DetachItemFromArray(ts->events, cJSON_GetArraySize(ts->events) - 1));
                t->seq--;
                t->consumed = t->in_session = false;
                t->opened = 0;
                pthread_mutex_unlock(&ts->lock);
                return tunnel_refuse(c, "agent_error", "the agent cannot record the session: %s", strerror(-r));
        }
        pthread_mutex_unlock(&ts->lock);

        static const char ok[] = "{\"ok\": true}\n";
        log_info("tunnel %lld: session opened from %s (%s) to %s:%u, until %lld (approval %s)", (long long) t->id,
                 c->peer, c->subject, t->target, t->target_port, (long long) (tunnel_orch_ms(t, t->deadline_ms) / 1000),
                 t->approval);
        const char *reason;
        r = tunnel_ssl_write_all(c, ok, strlen(ok), t->deadline_ms);
        if (r == -ECANCELED) {
                pthread_mutex_lock(&ts->lock);
                reason = t->stop_reason ?: "deadline";
                pthread_mutex_unlock(&ts->lock);
        } else if (r == -ETIMEDOUT)
                reason = "deadline";
        else if (r < 0)
                reason = "client_closed";
        else
                reason = tunnel_forward(c, target);

        pthread_mutex_lock(&ts->lock);
        t->in_session = false;
        t->end_reason = reason;
        pthread_mutex_unlock(&ts->lock);
        tunnel_wake(t);         /* the tunnel is spent: the listener closes */
        return 0;
}

static void *tunnel_conn_main(void *arg) {
        struct tunnel_conn *c = arg;
        struct tunnel *t = c->t;

        (void) tunnel_conn_serve(c);
        if (c->ssl)
                SSL_free(c->ssl);
        close(c->fd);
        free(c->subject);
        explicit_bzero(c->line, sizeof c->line);
        free(c);
        ERR_clear_error();

        pthread_mutex_lock(&t->owner->lock);
        t->n_conns--;
        pthread_cond_broadcast(&t->owner->cond);
        pthread_mutex_unlock(&t->owner->lock);
        return NULL;
}

static void tunnel_conn_spawn(struct tunnel *t, int fd, const struct sockaddr_storage *ss) {
        struct tunnel_conn *c;
        pthread_attr_t attr;
        pthread_t thread;
        int r;

        pthread_mutex_lock(&t->owner->lock);
        if (t->n_conns >= TUNNEL_CONNECTIONS_MAX) {
                pthread_mutex_unlock(&t->owner->lock);
                char peer[TUNNEL_PEER_MAX];
                tunnel_format_peer(ss, peer, sizeof peer);
                log_warning("tunnel %lld: %s dropped: %d connections are in hand already", (long long) t->id, peer,
                            TUNNEL_CONNECTIONS_MAX);
                close(fd);
                return;
        }
        t->n_conns++;
        pthread_mutex_unlock(&t->owner->lock);

        c = xnew(struct tunnel_conn, 1);
        c->t = t;
        c->fd = fd;
        tunnel_format_peer(ss, c->peer, sizeof c->peer);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&thread, &attr, tunnel_conn_main, c);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                log_error_errno(r, "tunnel %lld: cannot start a thread for %s", (long long) t->id, c->peer);
                close(fd);
                free(c);
                pthread_mutex_lock(&t->owner->lock);
                t->n_conns--;
                pthread_cond_broadcast(&t->owner->cond);
                pthread_mutex_unlock(&t->owner->lock);
        }
}

/* ------------------------------------------------------------ listeners --- */

static void *tunnel_listener(void *arg) {
        struct tunnel *t = arg;
        struct tunnels *ts = t->owner;

        for (;;) {
                struct pollfd p[2] = { { .fd = t->listen_fd, .events = POLLIN }, { .fd = t->wake, .events = POLLIN } };
                int n;

                if (atomic_load(&t->ending) || tunnel_now_ms() >= t->deadline_ms)
                        break;
                n = poll(p, 2, tunnel_timeout(t->deadline_ms));
                if (n < 0 && errno != EINTR) {
                        log_error_errno(errno, "tunnel %lld: poll", (long long) t->id);
                        break;
                }
                if (n <= 0 || p[1].revents)
                        continue;
                struct sockaddr_storage ss;
                socklen_t sl = sizeof ss;
                int fd = accept4(t->listen_fd, (struct sockaddr *) &ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                                log_warning_errno(errno, "tunnel %lld: accept", (long long) t->id);
                                (void) poll(NULL, 0, 100);      /* EMFILE and the like: do not spin */
                        }
                        continue;
                }
                tunnel_conn_spawn(t, fd, &ss);
        }

        /* R-OP1: the listener closes at the deadline, at the end of the
         * session, on revoke or stop; what is still in its handshake ends. */
        close(t->listen_fd);
        t->listen_fd = -1;
        tunnel_wake(t);

        pthread_mutex_lock(&ts->lock);
        while (t->n_conns > 0)
                pthread_cond_wait(&ts->cond, &ts->lock);
        if (t->opened)
                tunnel_close_locked(t, t->end_reason ?: "deadline");
        else if (t->stop_reason && strcmp(t->stop_reason, "agent_stopped") == 0)
                /* Unused: listened for again at the next start, until its deadline. */
                log_info("tunnel %lld: listener on %s:%u stopped with the agent; unused, it is listened for again at the next start",
                         (long long) t->id, t->listen, t->port);
        else if (t->stop_reason)
                tunnel_close_locked(t, t->stop_reason);
        else
                tunnel_close_locked(t, "expired_unused");
        t->finished = true;
        pthread_mutex_unlock(&ts->lock);
        return NULL;
}

static int tunnel_bind_one(const char *address, uint16_t port, int *ret_fd, uint16_t *ret_port) {
        struct sockaddr_storage ss;
        socklen_t sl;
        _cleanup_close_ int fd = -1;

        if (tunnel_sockaddr(address, port, &ss, &sl) < 0)
                return -EINVAL;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int) { 1 }, sizeof(int));
        if (bind(fd, (struct sockaddr *) &ss, sl) < 0 || listen(fd, TUNNEL_LISTEN_BACKLOG) < 0)
                return -errno;
        sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *) &ss, &sl) < 0)
                return -errno;
        *ret_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                                  : ((struct sockaddr_in6 *) &ss)->sin6_port);
        *ret_fd = fd;
        fd = -1;
        return 0;
}

/* A port of the configured range (from a random place in it), or the
 * kernel's. */
static int tunnel_bind(struct tunnels *ts, const char *address, int *ret_fd, uint16_t *ret_port) {
        unsigned span, start;
        uint32_t rnd = 0;
        int r = -EADDRINUSE;

        if (ts->port_min == 0)
                return tunnel_bind_one(address, 0, ret_fd, ret_port);
        span = (unsigned) ts->port_max - ts->port_min + 1;
        (void) crypto_random(&rnd, sizeof rnd);
        start = rnd % span;
        for (unsigned i = 0; i < span; i++) {
                r = tunnel_bind_one(address, (uint16_t) (ts->port_min + (start + i) % span), ret_fd, ret_port);
                if (r != -EADDRINUSE)
                        return r;
        }
        return r;
}

/* Start the listener thread of t, whose listen_fd is bound. Lock held. */
static int tunnel_run_locked(struct tunnel *t) {
        int r;

        if (t->wake < 0) {
                t->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (t->wake < 0)
                        return log_error_errno(errno, "tunnel %lld: eventfd", (long long) t->id);
        }
        r = pthread_create(&t->thread, NULL, tunnel_listener, t);
        if (r != 0)
                return log_error_errno(r, "tunnel %lld: cannot start its thread", (long long) t->id);
        t->running = true;
        log_info("tunnel %lld: listening on %s:%u for %s (approval %s), target %s:%u in VNI %u, until %lld (%.0f s from now)",
                 (long long) t->id, t->listen, t->port, t->operator_name, t->approval, t->target, t->target_port, t->vni,
                 (long long) (tunnel_orch_ms(t, t->deadline_ms) / 1000), (t->deadline_ms - tunnel_now_ms()) / 1000.0);
        return 0;
}

/* Join t's listener, if it runs. Lock held on entry and return; released
 * while waiting. */
static void tunnel_join_locked(struct tunnels *ts, struct tunnel *t) {
        if (!t->running)
                return;
        t->running = false;
        pthread_mutex_unlock(&ts->lock);
        pthread_join(t->thread, NULL);
        pthread_mutex_lock(&ts->lock);
}

static struct tunnel *tunnels_find_locked(struct tunnels *ts, int64_t id) {
        for (struct tunnel *t = ts->list; t; t = t->next)
                if (t->id == id)
                        return t;
        return NULL;
}

/* Oldest first, as in the state file. */
static void tunnels_append_locked(struct tunnels *ts, struct tunnel *t) {
        struct tunnel **p = &ts->list;

        while (*p)
                p = &(*p)->next;
        t->next = NULL;
        *p = t;
}

static void tunnels_unlink_locked(struct tunnels *ts, struct tunnel *t) {
        for (struct tunnel **p = &ts->list; *p; p = &(*p)->next)
                if (*p == t) {
                        *p = t->next;
                        return;
                }
}

static bool tunnels_has_events_locked(struct tunnels *ts, int64_t id) {
        const cJSON *e;

        cJSON_ArrayForEach(e, ts->events)
                if ((int64_t) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "tunnel")) == id)
                        return true;
        return false;
}

/* Closed tunnels whose events are all posted leave the state once both
 * their local deadline and the spec's have passed; until then they stay,
 * so that the same id is never opened again (R-OP2): a tunnel.open sent
 * again after that is refused for its deadline. Lock held. */
static bool tunnels_prune_locked(struct tunnels *ts) {
        int64_t now = tunnel_now_ms();
        bool changed = false;

        for (struct tunnel **p = &ts->list; *p;) {
                struct tunnel *t = *p;
                if (t->closed && (!t->running || t->finished) && now >= t->deadline_ms &&
                    now >= t->spec_deadline * 1000 - t->offset_ms && !tunnels_has_events_locked(ts, t->id)) {
                        if (t->running) {
                                /* finished: it holds no lock any more. */
                                pthread_join(t->thread, NULL);
                                t->running = false;
                        }
                        *p = t->next;
                        tunnel_free(t);
                        changed = true;
                } else
                        p = &t->next;
        }
        return changed;
}

/* ------------------------------------------------------------------ API --- */

/* The chain is verified and its result kept (SSL_get_verify_result), but
 * the handshake goes on, so that the refusal can be answered with its
 * reason; no certificate at all is answered too (no FAIL_IF_NO_PEER_CERT). */
static int tunnel_verify_keep_going(int ok, X509_STORE_CTX *store) {
        return 1;
}

static int tunnels_tls(struct tunnels *ts, struct gc_error *err) {
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        STACK_OF(X509_NAME) *names;

        if (!ctx)
                return log_openssl_errno(-ENOMEM, "SSL_CTX_new");
        /* R-OP4: TLS 1.3, the host's certificate, the operator's checked
         * against the CA. The chain is verified by OpenSSL; a failure is
         * answered ("wrong_operator") rather than aborting the handshake. */
        if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
                return log_openssl_errno(-EIO, "TLS 1.3");
        if (SSL_CTX_use_certificate_chain_file(ctx, ts->cert) != 1) {
                gc_error_set(err, "invalid_config", NULL, "tls.cert", ts->cert, "cannot be loaded as a PEM certificate");
                return log_openssl_errno(-EINVAL, "tunnels: %s", ts->cert);
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, ts->key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
                gc_error_set(err, "invalid_config", NULL, "tls.key", ts->key,
                             "cannot be loaded, or is not the key of tls.cert");
                return log_openssl_errno(-EINVAL, "tunnels: %s", ts->key);
        }
        if (SSL_CTX_load_verify_locations(ctx, ts->ca, NULL) != 1 || !(names = SSL_load_client_CA_file(ts->ca))) {
                gc_error_set(err, "invalid_config", NULL, "tls.ca", ts->ca, "cannot be loaded as a PEM CA certificate");
                return log_openssl_errno(-EINVAL, "tunnels: %s", ts->ca);
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tunnel_verify_keep_going);
        SSL_CTX_set_verify_depth(ctx, 4);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
        ts->ctx = TAKE_PTR(ctx);
        return 0;
}

static int tunnels_state_load(struct tunnels *ts, struct gc_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error perr = {};
        const cJSON *list, *e, *events;
        size_t i = 0;
        int r;

        r = json_parse_file(ts->state, TUNNEL_STATE_MAX, &doc, &perr);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                gc_error_set(err, "invalid_state", NULL, "tunnels.state", ts->state, "cannot be read: %s%s%s",
                             perr.field[0] ? perr.field : "", perr.field[0] ? ": " : "", perr.message);
                return r;
        }
        ts->state_exists = true;
        list = json_get(doc, "tunnels");
        events = json_get(doc, "events");
        if (!cJSON_IsObject(doc) || !cJSON_IsArray(list) || !cJSON_IsArray(events)) {
                gc_error_set(err, "invalid_state", NULL, "tunnels.state", ts->state,
                             "is not a tunnel state (\"tunnels\" and \"events\" arrays)");
                return -EINVAL;
        }
        cJSON_ArrayForEach(e, list) {
                _cleanup_(tunnel_freep) struct tunnel *t = tunnel_new(ts);
                _cleanup_free_ char *field = xasprintf("tunnels[%zu]", i++);
                _cleanup_free_ char *spec_field = xasprintf("%s.spec", field);
                int64_t deadline = 0, offset = 0, port = 0, seq = 0, opened = 0, first = 0, in = 0, out = 0;
                bool consumed = false, closed = false;
                struct gc_error ferr = {};

                r = tunnel_spec_parse(json_get(e, "spec"), spec_field, t, &ferr);
                if (r >= 0 && (json_get_int(e, "deadline_ms", &deadline, NULL) < 0 ||
                               json_get_int(e, "offset_ms", &offset, NULL) < 0 ||
                               json_get_int(e, "port", &port, NULL) < 0 || port < 1 || port > 65535 ||
                               json_get_bool(e, "consumed", &consumed, NULL) < 0 ||
                               json_get_bool(e, "closed", &closed, NULL) < 0 ||
                               json_get_int(e, "seq", &seq, NULL) < 0 || seq < 0 ||
                               json_get_int(e, "bytes_in", &in, NULL) < 0 || json_get_int(e, "bytes_out", &out, NULL) < 0)) {
                        gc_error_set(&ferr, "invalid_state", NULL, field, NULL, "lacks a member or has a wrong one");
                        r = -EINVAL;
                }
                if (r >= 0 && tunnels_find_locked(ts, t->id)) {
                        gc_error_set(&ferr, "invalid_state", NULL, field, NULL, "holds tunnel %lld twice",
                                     (long long) t->id);
                        r = -EINVAL;
                }
                if (r < 0) {
                        gc_error_set(err, "invalid_state", NULL, "tunnels.state", ts->state, "%s: %s", ferr.field,
                                     ferr.message);
                        return r;
                }
                (void) json_get_int(e, "opened", &opened, NULL);
                (void) json_get_int(e, "first_byte", &first, NULL);
                t->deadline_ms = deadline;
                t->offset_ms = offset;
                t->port = (uint16_t) port;
                t->consumed = consumed;
                t->closed = closed;
                t->seq = seq;
                t->opened = opened;
                t->first_byte = first;
                atomic_store(&t->bytes_in, (uint64_t) in);
                atomic_store(&t->bytes_out, (uint64_t) out);
                tunnels_append_locked(ts, TAKE_PTR(t));
        }
        cJSON_Delete(ts->events);
        ts->events = cJSON_Duplicate(events, true);
        if (!ts->events)
                abort();
        return 0;
}

int tunnels_open(const struct tunnel_config *cfg, struct tunnels **ret, struct gc_error *err) {
        struct tunnels *ts;
        int r;

        if (!cfg->cert || !cfg->key || !cfg->ca) {
                gc_error_set(err, "invalid_config", NULL, !cfg->cert ? "tls.cert" : !cfg->key ? "tls.key" : "tls.ca", NULL,
                             "is required: the tunnels are served with the host's certificate");
                return -EINVAL;
        }
        if (cfg->port_min > cfg->port_max || (cfg->port_min == 0) != (cfg->port_max == 0)) {
                gc_error_set(err, "invalid_config", NULL, "tunnels.ports", NULL,
                             "is not [MIN, MAX] with 1 <= MIN <= MAX, or [0, 0]");
                return -EINVAL;
        }
        ts = xnew(struct tunnels, 1);
        pthread_mutex_init(&ts->lock, NULL);
        pthread_cond_init(&ts->cond, NULL);
        ts->cert = xstrdup(cfg->cert);
        ts->key = xstrdup(cfg->key);
        ts->ca = xstrdup(cfg->ca);
        ts->state = xstrdup(cfg->state ?: TUNNEL_DEFAULT_STATE);
        ts->port_min = cfg->port_min;
        ts->port_max = cfg->port_max;
        ts->net = cfg->net;
        ts->events = cJSON_CreateArray();
        if (!ts->events)
                abort();
        r = tunnels_tls(ts, err);
        if (r >= 0)
                r = tunnels_state_load(ts, err);
        if (r < 0) {
                tunnels_close(ts);
                return r;
        }

        /* What the state holds (agent/tunnel.h). */
        pthread_mutex_lock(&ts->lock);
        int64_t now = tunnel_now_ms();
        bool changed = tunnels_prune_locked(ts);
        unsigned again = 0;
        for (struct tunnel *t = ts->list; t; t = t->next) {
                if (t->closed)
                        continue;
                changed = true;
                if (t->consumed)
                        /* R-OP2: its session died with the previous process;
                         * never reopened, even before the deadline. */
                        tunnel_close_locked(t, "agent_restarted");
                else if (now >= t->deadline_ms)
                        tunnel_close_locked(t, "expired_unused");       /* R-OP1 */
                else {
                        uint16_t port;
                        r = tunnel_bind_one(t->listen, t->port, &t->listen_fd, &port);
                        if (r < 0) {
                                log_warning_errno(r, "tunnel %lld: cannot listen on %s:%u again", (long long) t->id,
                                                  t->listen, t->port);
                                tunnel_close_locked(t, "listener_lost");
                        } else if (tunnel_run_locked(t) < 0) {
                                close(t->listen_fd);
                                t->listen_fd = -1;
                                tunnel_close_locked(t, "listener_lost");
                        } else
                                again++;
                }
        }
        if (changed && ts->state_exists)
                (void) tunnels_state_write_locked(ts);
        pthread_mutex_unlock(&ts->lock);
        if (again > 0)
                log_info("tunnels: %u tunnel%s listened for again from %s", again, again == 1 ? "" : "s", ts->state);
        *ret = ts;
        return 0;
}

void tunnels_close(struct tunnels *ts) {
        if (!ts)
                return;
        pthread_mutex_lock(&ts->lock);
        for (struct tunnel *t = ts->list; t; t = t->next)
                if (t->running && !t->finished) {
                        t->stop_reason = t->stop_reason ?: "agent_stopped";
                        tunnel_wake(t);
                }
        for (struct tunnel *t = ts->list; t; t = t->next)
                tunnel_join_locked(ts, t);
        if (ts->state_exists)
                (void) tunnels_state_write_locked(ts);
        pthread_mutex_unlock(&ts->lock);
        while (ts->list) {
                struct tunnel *t = ts->list;
                ts->list = t->next;
                tunnel_free(t);
        }
        cJSON_Delete(ts->events);
        SSL_CTX_free(ts->ctx);
        pthread_cond_destroy(&ts->cond);
        pthread_mutex_destroy(&ts->lock);
        free(ts->cert);
        free(ts->key);
        free(ts->ca);
        free(ts->state);
        free(ts);
}

void tunnels_set_clock_offset(struct tunnels *ts, int64_t offset_s) {
        pthread_mutex_lock(&ts->lock);
        ts->offset_ms = offset_s * 1000;
        pthread_mutex_unlock(&ts->lock);
}

static cJSON *tunnel_result(const struct tunnel *t) {
        cJSON *o = cJSON_CreateObject();

        if (!o)
                abort();
        tunnel_add(o, "id", cJSON_CreateNumber((double) t->id));
        tunnel_add(o, "address", cJSON_CreateString(t->listen));
        tunnel_add(o, "port", cJSON_CreateNumber(t->port));
        tunnel_add(o, "deadline", cJSON_CreateNumber((double) (tunnel_orch_ms(t, t->deadline_ms) / 1000)));
        return o;
}

int tunnels_start(struct tunnels *ts, const cJSON *spec, cJSON **ret, struct gc_error *err) {
        _cleanup_(tunnel_freep) struct tunnel *n = tunnel_new(ts);
        struct tunnel *t;
        int64_t now;
        int r;

        r = tunnel_spec_parse(spec, "tunnel", n, err);
        if (r < 0)
                return r;

        pthread_mutex_lock(&ts->lock);
        now = tunnel_now_ms();
        t = tunnels_find_locked(ts, n->id);
        if (t) {
                /* The same id: the same listener, or a refusal (R-OP1, R-OP2). */
                const char *why = t->consumed ? "was used" : t->closed ? "was closed" :
                                  now >= t->deadline_ms ? "is past its deadline" : NULL;
                if (why) {
                        gc_error_set(err, "tunnel_spent", t->consumed ? "R-OP2" : "R-OP1", "tunnel.id", NULL,
                                     "tunnel %lld %s on this host; it is never opened again", (long long) t->id, why);
                        pthread_mutex_unlock(&ts->lock);
                        return -ESTALE;
                }
                if (!cJSON_Compare(t->spec, n->spec, true)) {
                        gc_error_set(err, "tunnel_conflict", NULL, "tunnel", NULL,
                                     "tunnel %lld is held here with another spec", (long long) t->id);
                        pthread_mutex_unlock(&ts->lock);
                        return -EEXIST;
                }
                *ret = tunnel_result(t);
                pthread_mutex_unlock(&ts->lock);
                return 0;
        }

        /* R-OP1: the deadline on this host's clock, bounded by the approved length. */
        n->offset_ms = ts->offset_ms;
        n->deadline_ms = n->spec_deadline * 1000 - n->offset_ms;
        if (n->deadline_ms > now + n->seconds * 1000)
                n->deadline_ms = now + n->seconds * 1000;
        if (n->deadline_ms <= now) {
                gc_error_set(err, "tunnel_spent", "R-OP1", "tunnel.deadline", NULL,
                             "tunnel %lld: the deadline %lld has passed (orchestrator clock %lld)", (long long) n->id,
                             (long long) n->spec_deadline, (long long) (tunnel_orch_ms(n, now) / 1000));
                pthread_mutex_unlock(&ts->lock);
                return -ESTALE;
        }
        r = tunnel_bind(ts, n->listen, &n->listen_fd, &n->port);
        if (r < 0) {
                if (ts->port_min)
                        gc_error_set(err, "tunnel_listen", NULL, "tunnel.listen", n->listen,
                                     "cannot be listened on with a port from %u to %u: %s", ts->port_min, ts->port_max,
                                     strerror(-r));
                else
                        gc_error_set(err, "tunnel_listen", NULL, "tunnel.listen", n->listen, "cannot be listened on: %s",
                                     strerror(-r));
                pthread_mutex_unlock(&ts->lock);
                return r;
        }
        /* On disk before the listener exists: a restart knows its port. */
        tunnels_append_locked(ts, n);
        r = tunnels_state_write_locked(ts);
        if (r < 0) {
                tunnels_unlink_locked(ts, n);
                gc_error_set(err, "tunnel_state", NULL, "tunnels.state", ts->state, "cannot be written: %s", strerror(-r));
                pthread_mutex_unlock(&ts->lock);
                return r;
        }
        r = tunnel_run_locked(n);
        if (r < 0) {
                tunnels_unlink_locked(ts, n);
                (void) tunnels_state_write_locked(ts);
                gc_error_set(err, "tunnel_listen", NULL, "tunnel", NULL, "cannot start the listener: %s", strerror(-r));
                pthread_mutex_unlock(&ts->lock);
                return r;
        }
        *ret = tunnel_result(n);
        TAKE_PTR(n);
        pthread_mutex_unlock(&ts->lock);
        return 0;
}

int tunnels_revoke(struct tunnels *ts, int64_t id) {
        struct tunnel *t;

        pthread_mutex_lock(&ts->lock);
        t = tunnels_find_locked(ts, id);
        if (!t || t->closed) {
                pthread_mutex_unlock(&ts->lock);
                log_info("tunnel %lld: revoked: %s", (long long) id, t ? "closed already" : "not held here");
                return 0;
        }
        log_notice("tunnel %lld: revoked: cutting it now", (long long) id);
        if (t->running && !t->finished) {
                t->stop_reason = "revoked";
                tunnel_wake(t);
                tunnel_join_locked(ts, t);
        }
        /* Stopped with the agent before (no listener) and not closed. */
        if (!t->closed)
                tunnel_close_locked(t, "revoked");
        pthread_mutex_unlock(&ts->lock);
        return 0;
}

cJSON *tunnels_events(struct tunnels *ts) {
        cJSON *copy = NULL;

        pthread_mutex_lock(&ts->lock);
        if (cJSON_GetArraySize(ts->events) > 0) {
                copy = cJSON_Duplicate(ts->events, true);
                if (!copy)
                        abort();
        }
        pthread_mutex_unlock(&ts->lock);
        return copy;
}

int tunnels_events_posted(struct tunnels *ts, const cJSON *events) {
        const cJSON *p;
        bool changed = false;
        int r = 0;

        if (!cJSON_IsArray(events))
                return -EINVAL;
        pthread_mutex_lock(&ts->lock);
        cJSON_ArrayForEach(p, events) {
                double id = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "tunnel"));
                double seq = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "seq"));
                for (cJSON *e = ts->events->child, *next; e; e = next) {
                        next = e->next;
                        if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "tunnel")) == id &&
                            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "seq")) <= seq) {
                                cJSON_Delete(cJSON_DetachItemViaPointer(ts->events, e));
                                changed = true;
                        }
                }
        }
        changed = tunnels_prune_locked(ts) || changed;
        if (changed && ts->state_exists)
                r = tunnels_state_write_locked(ts);
        pthread_mutex_unlock(&ts->lock);
        return r;
}

unsigned tunnels_live(struct tunnels *ts) {
        unsigned n = 0;

        pthread_mutex_lock(&ts->lock);
        for (struct tunnel *t = ts->list; t; t = t->next)
                if (t->running && !t->finished)
                        n++;
        pthread_mutex_unlock(&ts->lock);
        return n;
}
