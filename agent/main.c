/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "gc-config.h"
#include "log.h"

static void help(void) {
        printf("Usage: gc-agent [OPTIONS]\n"
               "\n"
               "The government-cloud host agent: holds a long-poll to the orchestrator over\n"
               "mutual TLS 1.3, runs the jobs for this host on the hypervisor (libvirt),\n"
               "records each in a local journal, and posts results and the inventory.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE      configuration (default " CONFIG_DEFAULT_PATH ")\n"
               "      --check-config     load the configuration, open the hypervisor, print\n"
               "                         its capacity, then exit\n"
               "      --log-level LEVEL  error, warning, notice, info (default), debug;\n"
               "                         or GC_LOG_LEVEL in the environment\n"
               "      --unsafe-test-relabel DIR  apply DIR/*.json label changes behind the\n"
               "                         orchestrator's back (tests and demos on the test\n"
               "                         driver only)\n"
               "      --unsafe-test-net-step-delay MS  pause MS milliseconds after each\n"
               "                         network change, so that a test can interrupt a\n"
               "                         VPC build (tests only)\n"
               "      --unsafe-test-wipe-throttle BYTES_PER_SEC  wipes write at most this\n"
               "                         fast, with a checkpoint after every chunk, so that a\n"
               "                         test can kill the agent in the middle (tests only)\n"
               "      --unsafe-test-wipe-corrupt  change a byte of each wiped volume between\n"
               "                         the last pass and the verification, which must\n"
               "                         then fail (tests only)\n"
               "      --unsafe-test-metrics-interval SECONDS  sample the VMs every SECONDS\n"
               "                         (1 to 3600), below metrics.interval_seconds' floor\n"
               "                         of 5 s, so that a test sees figures soon (tests only)\n"
               "  -h, --help             this text\n"
               "      --version          the version\n"
               "\n"
               "Logs go to stderr. SIGTERM or SIGINT stops it after the job in hand, once\n"
               "its result is posted. See scripts/agent.json.example and include/gc/wire.h.\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 'C' },
                { "log-level", required_argument, NULL, 'L' },
                { "unsafe-test-relabel", required_argument, NULL, 'U' },
                { "unsafe-test-net-step-delay", required_argument, NULL, 'D' },
                { "unsafe-test-wipe-throttle", required_argument, NULL, 'T' },
                { "unsafe-test-wipe-corrupt", no_argument, NULL, 'X' },
                { "unsafe-test-metrics-interval", required_argument, NULL, 'M' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        struct agent_options opts = { .config_path = CONFIG_DEFAULT_PATH };
        bool check = false;
        int c, level, r;

        log_set_component("gc-agent");
        log_set_max_level(LOG_LEVEL_INFO);
        log_parse_environment();

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        opts.config_path = optarg;
                        break;
                case 'C':
                        check = true;
                        break;
                case 'U':
                        opts.unsafe_test_relabel_dir = optarg;
                        break;
                case 'D': {
                        char *end;
                        unsigned long ms;
                        errno = 0;
                        ms = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || ms == 0 || ms > 60000) {
                                fprintf(stderr, "gc-agent: --unsafe-test-net-step-delay: \"%s\" is not 1 to 60000 ms\n",
                                        optarg);
                                return 2;
                        }
                        opts.unsafe_test_net_step_delay_ms = (unsigned) ms;
                        break;
                }
                case 'T': {
                        char *end;
                        unsigned long long bps;
                        errno = 0;
                        bps = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || bps < 4096) {
                                fprintf(stderr, "gc-agent: --unsafe-test-wipe-throttle: \"%s\" is not a number of bytes/s "
                                        "(at least 4096)\n", optarg);
                                return 2;
                        }
                        opts.unsafe_test_wipe_throttle_bps = bps;
                        break;
                }
                case 'X':
                        opts.unsafe_test_wipe_corrupt = true;
                        break;
                case 'M': {
                        char *end;
                        unsigned long s;
                        errno = 0;
                        s = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || s == 0 || s > 3600) {
                                fprintf(stderr, "gc-agent: --unsafe-test-metrics-interval: \"%s\" is not 1 to 3600 s\n",
                                        optarg);
                                return 2;
                        }
                        opts.unsafe_test_metrics_interval_s = (unsigned) s;
                        break;
                }
                case 'L':
                        level = log_level_from_string(optarg);
                        if (level < 0) {
                                fprintf(stderr, "gc-agent: --log-level: unknown level \"%s\"\n", optarg);
                                return 2;
                        }
                        log_set_max_level(level);
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("gc-agent %s\n", GC_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Run 'gc-agent --help' for the options.\n");
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "gc-agent: unexpected argument \"%s\"\n", argv[optind]);
                return 2;
        }

        struct agent *a;
        if (agent_new(&opts, &a) < 0)
                return 1;
        r = check ? agent_check(a, stdout) : agent_run(a);
        agent_free(a);
        return r < 0 ? 1 : 0;
}
