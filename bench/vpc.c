/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VPCs through the agent's network module (agent/net.h): net_ensure of N
 * VPCs, then net_delete of all N, each phase timed in this process. Run by
 * bench/vpc.sh inside the network namespace that plays the host, started
 * with nsenter --net=/run/netns/NAME: it runs only when its own network
 * namespace is the one --host-netns names (and, where /proc/1 can be read,
 * not PID 1's), so it never changes the machine's own namespace.
 *
 *   bench-vpc --host-netns PATH --prefix P --underlay ADDR [--netns-dir D]
 *             [--vni-base B] [--peer ADDR]... [--cidr NET/LEN --gateway ADDR]
 *             [--only create|delete] N
 *
 * Every VPC: VNI B+i, the same CIDR and gateway (each VPC is isolated in
 * its own bridge and router namespace), gateway MAC 02:00:00 followed by the
 * VNI's three bytes, the given peers (one FDB entry each), egress none, not
 * isolated. net_list must show all N after the creation and none after the
 * deletion (not timed). --only runs one phase, so that the caller can look
 * at the VPCs in between.
 *
 * Prints on standard output, one "key value" a line, for the phases run:
 *   create S, delete S            seconds of each phase
 *   create_ms_first M, create_ms_last M, delete_ms_first M, delete_ms_last M
 *                                 mean milliseconds per VPC over the first
 *                                 and the last tenth of each phase
 * Exits 0, 1 on a failure (the module's message on standard error), 2 on
 * bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc.h"
#include "cleanup.h"
#include "log.h"
#include "net.h"

#define BENCH_PEERS_MAX 16

static void usage(FILE *f) {
        fprintf(f, "usage: bench-vpc --host-netns PATH --prefix P --underlay ADDR [--netns-dir D]\n"
                   "                 [--vni-base B] [--peer ADDR]... [--cidr NET/LEN --gateway ADDR]\n"
                   "                 [--only create|delete] N\n");
}

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "bench-vpc: WHAT: the module's message"; returns 1 (the exit status). */
static int fail(const struct gc_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const struct gc_error *err, const char *fmt, ...) {
        char buf[GC_ERROR_FORMAT_MAX];
        va_list ap;

        fputs("bench-vpc: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, ": %s\n", gc_error_format(err, buf, sizeof buf));
        return 1;
}

/* 0 when this process's network namespace is the one bound at host_netns
 * and not PID 1's (the machine's own; skipped where /proc/1 is hidden). */
static int check_netns(const char *host_netns) {
        struct stat self, want, init;

        if (stat("/proc/self/ns/net", &self) < 0) {
                int e = errno;
                fprintf(stderr, "bench-vpc: /proc/self/ns/net: %s\n", strerror(e));
                return -e;
        }
        if (stat(host_netns, &want) < 0) {
                int e = errno;
                fprintf(stderr, "bench-vpc: --host-netns: %s: %s\n", host_netns, strerror(e));
                return -e;
        }
        if (self.st_dev != want.st_dev || self.st_ino != want.st_ino) {
                fprintf(stderr, "bench-vpc: not running in the network namespace %s; start it with "
                                "nsenter --net=%s (bench/vpc.sh does)\n", host_netns, host_netns);
                return -EPERM;
        }
        if (stat("/proc/1/ns/net", &init) == 0 && self.st_dev == init.st_dev && self.st_ino == init.st_ino) {
                fprintf(stderr, "bench-vpc: %s is the machine's own network namespace; refusing\n", host_netns);
                return -EPERM;
        }
        return 0;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 0);
        if (errno || end == s || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Mean milliseconds per VPC over [from, to) of the per-VPC durations. */
static double mean_ms(const double *d, size_t from, size_t to) {
        double sum = 0;

        if (to <= from)
                return 0;
        for (size_t i = from; i < to; i++)
                sum += d[i];
        return sum / (double) (to - from) * 1e3;
}

/* After a phase, net_list must show exactly want VPCs. */
static int check_listed(struct net *n, size_t want, const char *after) {
        _cleanup_free_ uint32_t *vnis = NULL;
        struct gc_error err = {};
        size_t n_vnis = 0;

        if (net_list(n, &vnis, &n_vnis, &err) < 0)
                return fail(&err, "net_list after %s", after);
        if (n_vnis != want) {
                fprintf(stderr, "bench-vpc: net_list shows %zu VPCs after %s; want %zu\n", n_vnis, after, want);
                return 1;
        }
        return 0;
}

/* Prints the phase's seconds and its first and last tenth's ms per VPC. */
static void report(const char *phase, double seconds, const double *took, size_t count) {
        size_t tenth = count >= 10 ? count / 10 : 1;

        printf("%s %.3f\n%s_ms_first %.2f\n%s_ms_last %.2f\n", phase, seconds, phase, mean_ms(took, 0, tenth), phase,
               mean_ms(took, count - tenth, count));
        fflush(stdout);
}

/* net_ensure of VNIs base .. base+count-1, each with its gateway MAC
 * 02:00:00 and the VNI's three bytes; the rest of vpc as given. */
static int phase_create(struct net *n, struct net_vpc *vpc, uint32_t base, size_t count) {
        _cleanup_free_ double *took = xnew(double, count);
        struct gc_error err = {};
        double t0 = now();

        for (size_t i = 0; i < count; i++) {
                uint32_t vni = base + (uint32_t) i;
                double t = now();

                vpc->vni = vni;
                vpc->gateway_mac[0] = 0x02;
                vpc->gateway_mac[1] = vpc->gateway_mac[2] = 0;
                vpc->gateway_mac[3] = (uint8_t) (vni >> 16);
                vpc->gateway_mac[4] = (uint8_t) (vni >> 8);
                vpc->gateway_mac[5] = (uint8_t) vni;
                if (net_ensure(n, vpc, NULL, 0, &err) < 0)
                        return fail(&err, "net_ensure of VNI %" PRIu32, vni);
                took[i] = now() - t;
        }
        report("create", now() - t0, took, count);
        return check_listed(n, count, "creating them");
}

static int phase_delete(struct net *n, uint32_t base, size_t count) {
        _cleanup_free_ double *took = xnew(double, count);
        struct gc_error err = {};
        double t0 = now();

        for (size_t i = 0; i < count; i++) {
                uint32_t vni = base + (uint32_t) i;
                double t = now();

                if (net_delete(n, vni, &err) < 0)
                        return fail(&err, "net_delete of VNI %" PRIu32, vni);
                took[i] = now() - t;
        }
        report("delete", now() - t0, took, count);
        return check_listed(n, 0, "deleting them");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "host-netns", required_argument, NULL, 'H' },
                { "prefix", required_argument, NULL, 'p' },
                { "underlay", required_argument, NULL, 'u' },
                { "netns-dir", required_argument, NULL, 'n' },
                { "vni-base", required_argument, NULL, 'b' },
                { "peer", required_argument, NULL, 'P' },
                { "cidr", required_argument, NULL, 'c' },
                { "gateway", required_argument, NULL, 'g' },
                { "only", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct net_config cfg = {};
        char peers[BENCH_PEERS_MAX][NET_ADDR_MAX];
        size_t n_peers = 0;
        const char *host_netns = NULL, *cidr = "10.0.0.0/24", *gateway = "10.0.0.1";
        unsigned long vni_base = 1, count;
        struct net *n = NULL;
        struct gc_error err = {};
        bool do_create = true, do_delete = true;
        int c, r, rc = 0;

        log_set_component("bench-vpc");
        log_set_max_level(LOG_LEVEL_WARNING);   /* the module logs every step at info */
        log_parse_environment();

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'H':
                        host_netns = optarg;
                        break;
                case 'p':
                        if (strlen(optarg) > NET_PREFIX_MAX) {
                                fprintf(stderr, "bench-vpc: --prefix: at most %d characters\n", NET_PREFIX_MAX);
                                return 2;
                        }
                        snprintf(cfg.prefix, sizeof cfg.prefix, "%s", optarg);
                        break;
                case 'u':
                        snprintf(cfg.underlay, sizeof cfg.underlay, "%s", optarg);
                        break;
                case 'n':
                        cfg.netns_dir = optarg;
                        break;
                case 'b':
                        if (parse_ulong(optarg, NET_VNI_MAX, &vni_base) < 0 || vni_base < NET_VNI_MIN) {
                                fprintf(stderr, "bench-vpc: --vni-base: not a VNI: %s\n", optarg);
                                return 2;
                        }
                        break;
                case 'P':
                        if (n_peers == BENCH_PEERS_MAX || strlen(optarg) >= NET_ADDR_MAX) {
                                fprintf(stderr, "bench-vpc: --peer: at most %d addresses\n", BENCH_PEERS_MAX);
                                return 2;
                        }
                        snprintf(peers[n_peers++], NET_ADDR_MAX, "%s", optarg);
                        break;
                case 'c':
                        cidr = optarg;
                        break;
                case 'g':
                        gateway = optarg;
                        break;
                case 'o':
                        if (strcmp(optarg, "create") == 0)
                                do_delete = false;
                        else if (strcmp(optarg, "delete") == 0)
                                do_create = false;
                        else {
                                fprintf(stderr, "bench-vpc: --only: want create or delete, got %s\n", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind != argc - 1 || !host_netns || !cfg.prefix[0] || !cfg.underlay[0]) {
                usage(stderr);
                return 2;
        }
        if (parse_ulong(argv[optind], NET_VNI_MAX, &count) < 0 || count == 0 ||
            vni_base + count - 1 > NET_VNI_MAX) {
                fprintf(stderr, "bench-vpc: N: want 1 to %lu VPCs from VNI %lu, got %s\n", NET_VNI_MAX - vni_base + 1,
                        vni_base, argv[optind]);
                return 2;
        }

        if (check_netns(host_netns) < 0)
                return 2;

        /* The VPC template; the VNI and the gateway MAC change per VPC. */
        struct net_vpc vpc = { .peers = peers, .n_peers = n_peers, .egress = NET_EGRESS_NONE };
        {
                const char *slash = strchr(cidr, '/');
                unsigned long len;
                if (!slash || (size_t) (slash - cidr) >= sizeof vpc.network ||
                    parse_ulong(slash + 1, 32, &len) < 0) {
                        fprintf(stderr, "bench-vpc: --cidr: want NET/LEN, got %s\n", cidr);
                        return 2;
                }
                snprintf(vpc.network, sizeof vpc.network, "%.*s", (int) (slash - cidr), cidr);
                vpc.prefix = (unsigned) len;
                snprintf(vpc.gateway, sizeof vpc.gateway, "%s", gateway);
        }

        r = net_open(&cfg, &n, &err);
        if (r < 0)
                return fail(&err, "net_open");

        if (do_create)
                rc = phase_create(n, &vpc, (uint32_t) vni_base, count);
        if (rc == 0 && do_delete)
                rc = phase_delete(n, (uint32_t) vni_base, count);
        net_close(n);
        return rc;
}
