/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An operations tunnel's cost (R-OP1, R-OP2) on loopback, in one run:
 *
 *   direct  TCP from the client to the target (the reference);
 *   tunnel  client -> gcctl tunnel connect --listen 127.0.0.1:0 (TLS 1.3
 *           with the operator's certificate, the "gc-tunnel/1" line) -> the
 *           agent's tunnel (agent/tunnel.c, in this process, net NULL: it
 *           dials the target in this namespace) -> target;
 *   socat   client -> socat TCP-LISTEN -> socat OPENSSL (the operator's
 *           certificate) -> socat OPENSSL-LISTEN (the same host
 *           certificate, client certificates required) -> target: a plain
 *           TLS forward over the same path, the comparison.
 *
 * Each path is measured for throughput (--bytes, default 1 GiB, sent to a
 * sink that answers with the count once it has read EOF: the time includes
 * passing on the half-close and the answer) and for the round trip of one
 * byte (--rounds ping-pongs, default 10,000, after 100 unmeasured). A tunnel
 * is single-use, so every measurement gets a fresh tunnel (tunnels_start()
 * with a new id and a token made here, its token_hash "sha256:<hex>") and a
 * fresh gcctl; socat gets fresh processes the same way. Each measurement
 * runs --repeat times (default 3), the paths taking turns.
 *
 * The target is a child process: a forked handler per connection, the first
 * byte choosing sink ('T') or echo ('P'). Prints MB/s (the median of the
 * repeats), round-trip median and p99 in microseconds (over all repeats),
 * the ratios tunnel/socat and tunnel/direct, and the command lines used.
 * Asserts nothing about speed; fails only if a path loses or alters bytes
 * or gcctl does not end normally.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/error.h"
#include "log.h"
#include "tunnel.h"

extern char **environ;

#define CHUNK (256u * 1024)
#define WARMUP_ROUNDS 100
#define BENCH_VNI 4097

struct opts {
        const char *cert, *key, *ca;            /* the host's TLS files (the agent and socat's server) */
        const char *op_cert, *op_key;           /* the operator's */
        const char *gcctl, *socat, *dir;
        uint64_t bytes;
        unsigned rounds, repeat;
};

enum path { PATH_DIRECT, PATH_TUNNEL, PATH_SOCAT, PATH_N };
static const char *const path_names[PATH_N] = { "direct", "tunnel", "socat" };

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
        va_list ap;
        fputs("bench-tunnel: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static void nodelay(int fd) {
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int) { 1 }, sizeof(int));
}

static int listen_loopback(uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int) { 1 }, sizeof(int)) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 64) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &sl) < 0)
                die("listen on 127.0.0.1: %m");
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

/* A port free right now, for socat (which cannot report one it was given as 0). */
static uint16_t free_port(void) {
        uint16_t port;
        close(listen_loopback(&port));
        return port;
}

static int dial_loopback(uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                die("connect to 127.0.0.1:%u: %m", port);
        nodelay(fd);
        return fd;
}

static void write_all(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        die("write: %m");
                p = (const char *) p + k;
                n -= (size_t) k;
        }
}

/* n bytes exactly; false at EOF before the first. */
static bool read_all(int fd, void *p, size_t n) {
        size_t got = 0;
        while (got < n) {
                ssize_t k = read(fd, (char *) p + got, n - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        die("read: %m");
                if (k == 0) {
                        if (got == 0)
                                return false;
                        die("read: EOF after %zu of %zu bytes", got, n);
                }
                got += (size_t) k;
        }
        return true;
}

/* --- the target --- */

static _Noreturn void target_serve(int fd) {
        static char buf[CHUNK];
        char mode;
        ssize_t n;

        nodelay(fd);
        if (!read_all(fd, &mode, 1))
                _exit(0);
        if (mode == 'T') {
                uint64_t total = 0;
                while ((n = read(fd, buf, sizeof buf)) > 0)
                        total += (uint64_t) n;
                write_all(fd, &total, sizeof total);
        } else {
                while ((n = read(fd, buf, sizeof buf)) > 0)
                        write_all(fd, buf, (size_t) n);
        }
        _exit(0);
}

static pid_t target_start(uint16_t *ret_port) {
        int lfd = listen_loopback(ret_port);
        pid_t pid = fork();

        if (pid < 0)
                die("fork: %m");
        if (pid > 0) {
                close(lfd);
                return pid;
        }
        signal(SIGCHLD, SIG_IGN);       /* handlers reap themselves */
        for (;;) {
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(1);
                }
                pid_t h = fork();
                if (h == 0) {
                        close(lfd);
                        target_serve(fd);
                }
                close(fd);
        }
}

/* --- children with a readable standard error --- */

struct child {
        pid_t pid;
        FILE *err;              /* its standard error */
};

static void child_spawn(struct child *c, char *const argv[]) {
        posix_spawn_file_actions_t fa;
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe: %m");
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, p[1], 2);
        if (posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ) != 0)
                die("cannot run %s: %m", argv[0]);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        c->err = fdopen(p[0], "r");
        if (!c->err)
                die("fdopen: %m");
}

/* Read standard error until a line holds "listening on"; the port after the last ':'. */
static uint16_t child_listening(struct child *c, const char *what) {
        char line[1024];

        while (fgets(line, sizeof line, c->err)) {
                const char *l = strstr(line, "listening on ");
                if (l) {
                        const char *colon = strrchr(l, ':');
                        if (colon)
                                return (uint16_t) atoi(colon + 1);
                }
        }
        die("%s ended without listening", what);
}

/* Wait for it; its remaining standard error into last (the last line). */
static int child_wait(struct child *c, char *last, size_t size) {
        char line[1024];
        int status;

        if (last)
                last[0] = '\0';
        while (fgets(line, sizeof line, c->err))
                if (last && line[0] != '\n')
                        snprintf(last, size, "%s", line);
        fclose(c->err);
        c->err = NULL;
        while (waitpid(c->pid, &status, 0) < 0)
                if (errno != EINTR)
                        die("waitpid: %m");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --- a path set up for one measurement --- */

struct bench {
        struct opts o;
        struct tunnels *tunnels;
        uint16_t target_port;
        char *operator_sha256;
        int64_t next_id;
        char token_file[512];
        char *gcctl_line, *socat_server_line, *socat_client_line;       /* for the report */
};

struct session {
        enum path path;
        uint16_t port;                  /* where the client connects */
        struct child gcctl, socat_server, socat_client;
        int64_t id;
};

static char *sha256_of_cert(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        X509 *x;

        if (!f)
                die("%s: %m", path);
        x = PEM_read_X509(f, NULL, NULL, NULL);
        if (!x || X509_digest(x, EVP_sha256(), md, &n) != 1)
                die("%s: not a PEM certificate", path);
        X509_free(x);
        return crypto_hex(md, n);
}

/* A fresh tunnel for the target and its token in b->token_file. */
static uint16_t tunnel_new(struct bench *b, int64_t id) {
        _cleanup_free_ char *token = NULL, *hex = NULL, *hash = NULL;
        _cleanup_(cJSON_Deletep) cJSON *spec = cJSON_CreateObject(), *ret = NULL;
        uint8_t digest[GC_HASH_MAX];
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        FILE *f;

        if (crypto_token(32, &token) < 0 || crypto_digest(GC_HASH_SHA256, token, strlen(token), digest) < 0)
                die("token: %m");
        hex = crypto_hex(digest, sizeof digest);
        hash = xasprintf("sha256:%s", hex);
        cJSON_AddNumberToObject(spec, "id", (double) id);
        cJSON_AddStringToObject(spec, "listen", "127.0.0.1");
        cJSON_AddNumberToObject(spec, "vni", BENCH_VNI);
        cJSON_AddStringToObject(spec, "target", "127.0.0.1");
        cJSON_AddNumberToObject(spec, "target_port", b->target_port);
        cJSON_AddNumberToObject(spec, "deadline", (double) (time(NULL) + 3600));
        cJSON_AddNumberToObject(spec, "seconds", 3600);
        cJSON_AddStringToObject(spec, "token_hash", hash);
        cJSON *op = cJSON_AddObjectToObject(spec, "operator");
        cJSON_AddStringToObject(op, "name", "\xe5\xbc\xa0\xe4\xb8\x89");        /* 张三 */
        cJSON_AddStringToObject(op, "certificate_sha256", b->operator_sha256);
        cJSON_AddStringToObject(spec, "approval", "approval-oa/BENCH");
        if (tunnels_start(b->tunnels, spec, &ret, &err) < 0)
                die("tunnels_start: %s", gc_error_format(&err, buf, sizeof buf));
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(ret, "port");
        if (!cJSON_IsNumber(port))
                die("tunnels_start: no port in its answer");

        f = fopen(b->token_file, "we");
        if (!f || fprintf(f, "%s\n", token) < 0 || fclose(f) != 0)
                die("%s: %m", b->token_file);
        return (uint16_t) port->valuedouble;
}

static void session_open(struct bench *b, struct session *s, enum path path) {
        *s = (struct session) { .path = path };
        switch (path) {
        case PATH_DIRECT:
                s->port = b->target_port;
                return;
        case PATH_TUNNEL: {
                s->id = b->next_id++;
                uint16_t tport = tunnel_new(b, s->id);
                _cleanup_free_ char *id = xasprintf("%" PRId64, s->id);
                _cleanup_free_ char *endpoint = xasprintf("127.0.0.1:%u", tport);
                char *argv[] = { (char *) b->o.gcctl, "tunnel", "connect", id, "--token-file", b->token_file,
                                 "--listen", "127.0.0.1:0", "--endpoint", endpoint, "--host", "host-1",
                                 "--cert", (char *) b->o.op_cert, "--key", (char *) b->o.op_key,
                                 "--cacert", (char *) b->o.ca, NULL };
                if (!b->gcctl_line) {
                        struct gc_buf line = GC_BUF_INIT(4096);
                        for (char **a = argv; *a; a++)
                                (void) gc_buf_printf(&line, "%s%s", a == argv ? "" : " ", *a);
                        b->gcctl_line = gc_buf_steal(&line, NULL);
                }
                child_spawn(&s->gcctl, argv);
                s->port = child_listening(&s->gcctl, "gcctl tunnel connect");
                return;
        }
        case PATH_SOCAT: {
                uint16_t sport = free_port(), cport = free_port();
                _cleanup_free_ char *server = xasprintf(
                        "OPENSSL-LISTEN:%u,bind=127.0.0.1,reuseaddr,nodelay,cert=%s,key=%s,cafile=%s,verify=1,"
                        "openssl-min-proto-version=TLS1.3", sport, b->o.cert, b->o.key, b->o.ca);
                _cleanup_free_ char *target = xasprintf("TCP:127.0.0.1:%u,nodelay", b->target_port);
                _cleanup_free_ char *client_listen = xasprintf("TCP-LISTEN:%u,bind=127.0.0.1,reuseaddr,nodelay",
                                                               cport);
                _cleanup_free_ char *client = xasprintf(
                        "OPENSSL:127.0.0.1:%u,nodelay,cert=%s,key=%s,cafile=%s,verify=1,commonname=host-1,"
                        "openssl-min-proto-version=TLS1.3", sport, b->o.op_cert, b->o.op_key, b->o.ca);
                char *sargv[] = { (char *) b->o.socat, "-d", "-d", server, target, NULL };
                char *cargv[] = { (char *) b->o.socat, "-d", "-d", client_listen, client, NULL };
                if (!b->socat_server_line) {
                        b->socat_server_line = xasprintf("%s -d -d %s %s", b->o.socat, server, target);
                        b->socat_client_line = xasprintf("%s -d -d %s %s", b->o.socat, client_listen, client);
                }
                child_spawn(&s->socat_server, sargv);
                (void) child_listening(&s->socat_server, "socat OPENSSL-LISTEN");
                child_spawn(&s->socat_client, cargv);
                (void) child_listening(&s->socat_client, "socat TCP-LISTEN");
                s->port = cport;
                return;
        }
        default:
                abort();
        }
}

static void session_close(struct bench *b, struct session *s) {
        char last[1024];
        int rc;

        switch (s->path) {
        case PATH_TUNNEL: {
                rc = child_wait(&s->gcctl, last, sizeof last);
                if (rc != 0)
                        die("gcctl tunnel connect %" PRId64 " exited with %d: %s", s->id, rc, last);
                if (!strstr(last, "closed after"))
                        die("gcctl tunnel connect %" PRId64 ": no summary line (%s)", s->id, last);
                /* The events are not posted anywhere: drop them. */
                _cleanup_(cJSON_Deletep) cJSON *ev = tunnels_events(b->tunnels);
                if (ev)
                        (void) tunnels_events_posted(b->tunnels, ev);
                break;
        }
        case PATH_SOCAT:
                /* Without fork, each handles its one connection and exits. */
                rc = child_wait(&s->socat_client, last, sizeof last);
                if (rc != 0)
                        die("socat (client side) exited with %d: %s", rc, last);
                rc = child_wait(&s->socat_server, last, sizeof last);
                if (rc != 0)
                        die("socat (server side) exited with %d: %s", rc, last);
                break;
        default:
                break;
        }
}

/* --- the measurements --- */

/* Seconds to send bytes and have the sink's count back. */
static double measure_throughput(struct bench *b, enum path path) {
        static char buf[CHUNK];
        struct session s;
        uint64_t count = 0;
        int64_t t0, t1;
        int fd;

        session_open(b, &s, path);
        fd = dial_loopback(s.port);
        write_all(fd, "T", 1);
        t0 = now_ns();
        for (uint64_t left = b->o.bytes; left > 0;) {
                size_t n = left < sizeof buf ? (size_t) left : sizeof buf;
                write_all(fd, buf, n);
                left -= n;
        }
        shutdown(fd, SHUT_WR);
        if (!read_all(fd, &count, sizeof count))
                die("%s: the sink's count never came", path_names[path]);
        t1 = now_ns();
        if (count != b->o.bytes)
                die("%s: the sink read %" PRIu64 " bytes of %" PRIu64, path_names[path], count, b->o.bytes);
        char end;
        if (read(fd, &end, 1) != 0)
                die("%s: bytes after the count", path_names[path]);
        close(fd);
        session_close(b, &s);
        return (double) (t1 - t0) / 1e9;
}

/* Round trips of one byte, in ns, appended to rtt. */
static void measure_latency(struct bench *b, enum path path, int64_t *rtt, size_t *n) {
        struct session s;
        int fd;

        session_open(b, &s, path);
        fd = dial_loopback(s.port);
        write_all(fd, "P", 1);
        for (unsigned i = 0; i < WARMUP_ROUNDS + b->o.rounds; i++) {
                char c = (char) i, back;
                int64_t t0 = now_ns();
                write_all(fd, &c, 1);
                if (!read_all(fd, &back, 1) || back != c)
                        die("%s: round trip %u: the byte did not come back", path_names[path], i);
                if (i >= WARMUP_ROUNDS)
                        rtt[(*n)++] = now_ns() - t0;
        }
        shutdown(fd, SHUT_WR);
        char end;
        if (read(fd, &end, 1) != 0)
                die("%s: bytes after the echo", path_names[path]);
        close(fd);
        session_close(b, &s);
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double percentile_us(int64_t *v, size_t n, double p) {
        size_t i = (size_t) (p * (double) (n - 1) + 0.5);
        return (double) v[i] / 1000.0;
}

static void usage(void) {
        printf("Usage: bench-tunnel --cert HOST.crt --key HOST.key --ca CA.crt --operator-cert OP.crt\n"
               "                    --operator-key OP.key --gcctl PATH --dir DIR [--socat PATH]\n"
               "                    [--bytes N] [--rounds N] [--repeat N] [--quick]\n"
               "\n"
               "Throughput and one-byte round trips on loopback: direct TCP, an operations\n"
               "tunnel (gcctl tunnel connect -> agent/tunnel.c -> target) and socat's TLS\n"
               "forward over the same path. The host certificate must have CN=host-1.\n"
               "DIR holds the agent's state file and the tokens.\n"
               "  --bytes N    bytes per throughput measurement (default 1 GiB; --quick 256 MiB)\n"
               "  --rounds N   round trips per latency measurement (default 10000)\n"
               "  --repeat N   measurements per path (default 3; --quick 1)\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "cert", required_argument, NULL, 'c' },
                { "key", required_argument, NULL, 'k' },
                { "ca", required_argument, NULL, 'a' },
                { "operator-cert", required_argument, NULL, 'C' },
                { "operator-key", required_argument, NULL, 'K' },
                { "gcctl", required_argument, NULL, 'g' },
                { "socat", required_argument, NULL, 's' },
                { "dir", required_argument, NULL, 'd' },
                { "bytes", required_argument, NULL, 'b' },
                { "rounds", required_argument, NULL, 'r' },
                { "repeat", required_argument, NULL, 'R' },
                { "quick", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct bench b = { .o = { .socat = "/usr/bin/socat", .bytes = 0, .rounds = 10000, .repeat = 0 },
                           .next_id = 1 };
        bool quick = false;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 'c': b.o.cert = optarg; break;
                case 'k': b.o.key = optarg; break;
                case 'a': b.o.ca = optarg; break;
                case 'C': b.o.op_cert = optarg; break;
                case 'K': b.o.op_key = optarg; break;
                case 'g': b.o.gcctl = optarg; break;
                case 's': b.o.socat = optarg; break;
                case 'd': b.o.dir = optarg; break;
                case 'b': b.o.bytes = strtoull(optarg, NULL, 10); break;
                case 'r': b.o.rounds = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'R': b.o.repeat = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'q': quick = true; break;
                case 'h': usage(); return 0;
                default: usage(); return 2;
                }
        }
        if (!b.o.cert || !b.o.key || !b.o.ca || !b.o.op_cert || !b.o.op_key || !b.o.gcctl || !b.o.dir ||
            optind != argc) {
                usage();
                return 2;
        }
        if (b.o.bytes == 0)
                b.o.bytes = quick ? 256ull << 20 : 1ull << 30;
        if (b.o.repeat == 0)
                b.o.repeat = quick ? 1 : 3;
        if (b.o.rounds == 0)
                die("--rounds: must be at least 1");

        log_set_component("bench-tunnel");
        log_set_max_level(LOG_LEVEL_WARNING);
        log_parse_environment();
        signal(SIGPIPE, SIG_IGN);

        pid_t target = target_start(&b.target_port);
        b.operator_sha256 = sha256_of_cert(b.o.op_cert);
        snprintf(b.token_file, sizeof b.token_file, "%s/token", b.o.dir);
        _cleanup_free_ char *state = xasprintf("%s/tunnels.json", b.o.dir);
        struct tunnel_config cfg = { .cert = b.o.cert, .key = b.o.key, .ca = b.o.ca, .state = state, .net = NULL };
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        if (tunnels_open(&cfg, &b.tunnels, &err) < 0)
                die("tunnels_open: %s", gc_error_format(&err, buf, sizeof buf));
        tunnels_set_clock_offset(b.tunnels, 0);

        size_t cap = (size_t) b.o.rounds * b.o.repeat;
        double seconds[PATH_N][64];
        int64_t *rtt[PATH_N];
        size_t nrtt[PATH_N] = {};
        if (b.o.repeat > 64)
                die("--repeat: at most 64");
        for (int p = 0; p < PATH_N; p++)
                rtt[p] = xnew(int64_t, cap);

        fprintf(stderr, "bench-tunnel: %" PRIu64 " bytes and %u round trips per measurement, %u per path\n",
                b.o.bytes, b.o.rounds, b.o.repeat);
        /* The paths take turns, so that all meet the same machine. */
        for (unsigned r = 0; r < b.o.repeat; r++)
                for (int p = 0; p < PATH_N; p++) {
                        seconds[p][r] = measure_throughput(&b, (enum path) p);
                        measure_latency(&b, (enum path) p, rtt[p], &nrtt[p]);
                        fprintf(stderr, "  %-6s run %u: %.0f MB/s\n", path_names[p], r + 1,
                                (double) b.o.bytes / 1e6 / seconds[p][r]);
                }

        double mbs[PATH_N], med[PATH_N], p99[PATH_N];
        for (int p = 0; p < PATH_N; p++) {
                qsort(seconds[p], b.o.repeat, sizeof(double), cmp_double);
                mbs[p] = (double) b.o.bytes / 1e6 / seconds[p][b.o.repeat / 2];
                qsort(rtt[p], nrtt[p], sizeof(int64_t), cmp_i64);
                med[p] = percentile_us(rtt[p], nrtt[p], 0.5);
                p99[p] = percentile_us(rtt[p], nrtt[p], 0.99);
        }

        printf("Operations tunnel on loopback: %" PRIu64 " MiB per throughput run, %u round trips of 1 byte per "
               "latency run, %u runs per path (throughput: median run)\n\n",
               b.o.bytes >> 20, b.o.rounds, b.o.repeat);
        printf("%-14s %10s %16s %13s\n", "path", "MB/s", "RTT median µs", "RTT p99 µs");
        for (int p = 0; p < PATH_N; p++)
                printf("%-14s %10.0f %16.1f %13.1f\n", path_names[p], mbs[p], med[p], p99[p]);
        printf("%-14s %10.2f %16.2f %13.2f\n", "tunnel/socat", mbs[PATH_TUNNEL] / mbs[PATH_SOCAT],
               med[PATH_TUNNEL] / med[PATH_SOCAT], p99[PATH_TUNNEL] / p99[PATH_SOCAT]);
        printf("%-14s %10.2f %16.2f %13.2f\n", "tunnel/direct", mbs[PATH_TUNNEL] / mbs[PATH_DIRECT],
               med[PATH_TUNNEL] / med[PATH_DIRECT], p99[PATH_TUNNEL] / p99[PATH_DIRECT]);
        printf("\n(MB/s: higher is better; ratios of MB/s below 1 and of RTT above 1 are the tunnel's cost)\n");
        printf("\nCommand lines (ports and ids change per measurement):\n ");
        for (int i = 0; i < argc; i++)
                printf(" %s", argv[i]);
        printf("\n  %s\n  %s\n  %s\n",
               b.gcctl_line ? b.gcctl_line : "-", b.socat_client_line ? b.socat_client_line : "-",
               b.socat_server_line ? b.socat_server_line : "-");
        printf("  the agent's tunnel: tunnels_start() in bench-tunnel (agent/tunnel.c), target 127.0.0.1:%u\n",
               b.target_port);
        fflush(stdout);

        tunnels_close(b.tunnels);
        kill(target, SIGTERM);
        (void) waitpid(target, NULL, 0);
        for (int p = 0; p < PATH_N; p++)
                free(rtt[p]);
        free(b.operator_sha256);
        free(b.gcctl_line);
        free(b.socat_server_line);
        free(b.socat_client_line);
        return 0;
}
