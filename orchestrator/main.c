/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "gc-config.h"
#include "log.h"
#include "orch.h"

static void help(void) {
        printf("Usage: gc-orchestrator [OPTIONS]\n"
               "\n"
               "The government-cloud orchestrator: accepts approved apply, change and exit\n"
               "requests over HTTPS (TLS 1.3, client certificates), checks them against the\n"
               "pool's policy pack, and keeps the state and the audit chain in its store.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE      configuration (default /etc/govcloud/orchestrator.json)\n"
               "      --check-config     load the configuration, packs, store and plugins, then exit\n"
               "      --ready-file FILE  write \"HOST PORT\" there once listening (port 0 picks one)\n"
               "      --unsafe-test-clock  let the authority move the clock forward\n"
               "                         (POST /v1/test/clock): tests and demos only\n"
               "      --log-level LEVEL  error, warning, notice, info (default), debug;\n"
               "                         or GC_LOG_LEVEL in the environment\n"
               "  -h, --help             this text\n"
               "      --version          the version\n"
               "\n"
               "Logs go to stderr. SIGTERM or SIGINT stops it after the request in hand.\n"
               "See scripts/orchestrator.json.example and orchestrator/openapi.json.\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 'C' },
                { "unsafe-test-clock", no_argument, NULL, 'T' },
                { "ready-file", required_argument, NULL, 'R' },
                { "log-level", required_argument, NULL, 'L' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        struct orch_options opts = { .config_path = "/etc/govcloud/orchestrator.json" };
        bool check = false;
        int c, level;

        log_set_component("gc-orchestrator");
        log_set_max_level(LOG_LEVEL_INFO);
        log_parse_environment();

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        opts.config_path = optarg;
                        break;
                case 'C':
                        check = true;
                        opts.check_only = true;
                        break;
                case 'T':
                        opts.unsafe_test_clock = true;
                        break;
                case 'R':
                        opts.ready_file = optarg;
                        break;
                case 'L':
                        level = log_level_from_string(optarg);
                        if (level < 0) {
                                fprintf(stderr, "gc-orchestrator: --log-level: unknown level \"%s\"\n", optarg);
                                return 2;
                        }
                        log_set_max_level(level);
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("gc-orchestrator %s\n", GC_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Run 'gc-orchestrator --help' for the options.\n");
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "gc-orchestrator: unexpected argument \"%s\"\n", argv[optind]);
                return 2;
        }

        struct orch *o;
        if (orch_new(&opts, &o) < 0)
                return 1;
        if (check) {
                printf("configuration %s: OK\n", opts.config_path);
                orch_free(o);
                return 0;
        }
        int r = orch_run(o);
        orch_free(o);
        return r < 0 ? 1 : 0;
}
