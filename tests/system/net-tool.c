/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net-tool: the agent's network module (agent/net.h) from the command line,
 * so that system tests can play a host's agent in a network namespace.
 *
 *   net-tool [--prefix P] [--underlay ADDR] [--netns-dir D] [--vxlan-port N]
 *            [--egress-parent KIND=IF]... [--protected CIDR]... [--step-delay MS]
 *            ensure FILE.json | delete VNI | list | reconcile FILE.json
 *
 * ensure takes one VPCSPEC, reconcile an array of them ("-" reads stdin).
 * --step-delay pauses MS after each change (net_config.step_delay_ms), so
 * that a test can kill it between two steps.
 * Prints what was done on standard output; exits 0 on success, 1 on a
 * failure (the message on standard error), 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "net.h"

#define NET_TOOL_JSON_MAX (4 * 1024 * 1024)

static void usage(FILE *f) {
        fprintf(f, "usage: net-tool [--prefix P] [--underlay ADDR] [--netns-dir D] [--vxlan-port N]\n"
                   "                [--egress-parent KIND=IF]... [--protected CIDR]... [--step-delay MS]\n"
                   "                ensure FILE.json | delete VNI | list | reconcile FILE.json\n");
}

static int fail(const struct gc_error *err, const char *what) {
        char buf[GC_ERROR_FORMAT_MAX];
        fprintf(stderr, "net-tool: %s: %s\n", what, gc_error_format(err, buf, sizeof buf));
        return 1;
}

static int read_json(const char *path, cJSON **ret) {
        struct gc_error err = {};
        int r = json_parse_file(path, NET_TOOL_JSON_MAX, ret, &err);
        if (r < 0)
                return fail(&err, path);
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "prefix", required_argument, NULL, 'p' },
                { "underlay", required_argument, NULL, 'u' },
                { "netns-dir", required_argument, NULL, 'n' },
                { "vxlan-port", required_argument, NULL, 'x' },
                { "egress-parent", required_argument, NULL, 'e' },
                { "protected", required_argument, NULL, 'P' },
                { "step-delay", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct net_config cfg = { .prefix = "gc" };
        _cleanup_free_ char **protected = NULL;
        struct net *n = NULL;
        struct gc_error err = {};
        int c, r, rc = 0;

        log_set_component("net-tool");
        log_set_max_level(LOG_LEVEL_INFO);
        log_parse_environment();

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        if (strlen(optarg) > NET_PREFIX_MAX) {
                                fprintf(stderr, "net-tool: --prefix: at most %d characters\n", NET_PREFIX_MAX);
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
                case 'x': {
                        char *end;
                        unsigned long port = strtoul(optarg, &end, 10);
                        if (*end || port == 0 || port > 65535) {
                                fprintf(stderr, "net-tool: --vxlan-port: not a port: %s\n", optarg);
                                return 2;
                        }
                        cfg.vxlan_port = (uint16_t) port;
                        break;
                }
                case 'e': {
                        char *eq = strchr(optarg, '=');
                        int kind;
                        if (!eq) {
                                fprintf(stderr, "net-tool: --egress-parent: want KIND=IF, got %s\n", optarg);
                                return 2;
                        }
                        *eq = 0;
                        kind = net_egress_from_name(optarg);
                        if (kind <= NET_EGRESS_NONE || strlen(eq + 1) >= NET_IFNAME_MAX) {
                                fprintf(stderr, "net-tool: --egress-parent: want egov=IF or internet=IF\n");
                                return 2;
                        }
                        snprintf(cfg.egress_parent[kind], NET_IFNAME_MAX, "%s", eq + 1);
                        break;
                }
                case 'd': {
                        char *end;
                        unsigned long ms = strtoul(optarg, &end, 10);
                        if (*end || end == optarg || ms > 60000) {
                                fprintf(stderr, "net-tool: --step-delay: not 0 to 60000 ms: %s\n", optarg);
                                return 2;
                        }
                        cfg.step_delay_ms = (unsigned) ms;
                        break;
                }
                case 'P':
                        protected = xrealloc(protected, (cfg.n_protected + 1) * sizeof *protected);
                        protected[cfg.n_protected++] = optarg;
                        cfg.protected = protected;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        const char *verb = argv[optind];
        int nargs = argc - optind - 1;
        if ((strcmp(verb, "list") == 0 && nargs != 0) ||
            ((strcmp(verb, "ensure") == 0 || strcmp(verb, "delete") == 0 || strcmp(verb, "reconcile") == 0) && nargs != 1) ||
            (strcmp(verb, "list") != 0 && strcmp(verb, "ensure") != 0 && strcmp(verb, "delete") != 0 &&
             strcmp(verb, "reconcile") != 0)) {
                usage(stderr);
                return 2;
        }
        if (!cfg.underlay[0]) {
                fprintf(stderr, "net-tool: --underlay is required\n");
                return 2;
        }

        r = net_open(&cfg, &n, &err);
        if (r < 0)
                return fail(&err, "open");

        if (strcmp(verb, "ensure") == 0) {
                _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
                struct net_vpc vpc = {};
                char actions[1024];

                if (read_json(argv[optind + 1], &doc) != 0)
                        rc = 1;
                else if (net_vpc_parse(doc, &vpc, &err) < 0)
                        rc = fail(&err, "ensure");
                else {
                        if (net_ensure(n, &vpc, actions, sizeof actions, &err) < 0)
                                rc = fail(&err, "ensure");
                        else
                                printf("vpc %" PRIu32 ": %s\n", vpc.vni, actions);
                        net_vpc_done(&vpc);
                }
        } else if (strcmp(verb, "delete") == 0) {
                char *end;
                unsigned long vni = strtoul(argv[optind + 1], &end, 0);
                if (*end || vni > NET_VNI_MAX) {
                        fprintf(stderr, "net-tool: delete: not a VNI: %s\n", argv[optind + 1]);
                        rc = 2;
                } else if (net_delete(n, (uint32_t) vni, &err) < 0)
                        rc = fail(&err, "delete");
                else
                        printf("vpc %lu: deleted\n", vni);
        } else if (strcmp(verb, "list") == 0) {
                _cleanup_free_ uint32_t *vnis = NULL;
                size_t n_vnis = 0;
                if (net_list(n, &vnis, &n_vnis, &err) < 0)
                        rc = fail(&err, "list");
                else
                        for (size_t i = 0; i < n_vnis; i++)
                                printf("%" PRIu32 "\n", vnis[i]);
        } else {
                _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
                struct net_vpc *known = NULL;
                size_t n_known = 0, removed = 0;
                const cJSON *item;

                if (read_json(argv[optind + 1], &doc) != 0)
                        rc = 1;
                else if (!cJSON_IsArray(doc)) {
                        fprintf(stderr, "net-tool: reconcile: %s is not an array of VPCSPECs\n", argv[optind + 1]);
                        rc = 1;
                } else {
                        known = xcalloc((size_t) cJSON_GetArraySize(doc) + 1, sizeof *known);
                        cJSON_ArrayForEach(item, doc) {
                                if (net_vpc_parse(item, &known[n_known], &err) < 0) {
                                        char field[32];
                                        snprintf(field, sizeof field, "[%zu]", n_known);
                                        gc_error_prefix_field(&err, field);
                                        rc = fail(&err, "reconcile");
                                        break;
                                }
                                n_known++;
                        }
                        if (rc == 0) {
                                if (net_reconcile(n, known, n_known, &removed, &err) < 0)
                                        rc = fail(&err, "reconcile");
                                else
                                        printf("reconciled: %zu known, %zu removed\n", n_known, removed);
                        }
                        for (size_t i = 0; i < n_known; i++)
                                net_vpc_done(&known[i]);
                        free(known);
                }
        }
        net_close(n);
        return rc;
}
