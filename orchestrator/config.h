/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gc-orchestrator's configuration: one JSON file (see
 * scripts/orchestrator.json.example). Platform facts (pools, flavour
 * bounds, address ranges, linear-growth parameters) live here; the
 * jurisdiction's regulations live in its policy pack.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gc/error.h"
#include "ipv4.h"
#include "pack.h"
#include "rightsize.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_DEFAULT_ADDRESS_RANGE "10.0.0.0/8"
#define CONFIG_DEFAULT_VNI_FIRST 4096
#define CONFIG_DEFAULT_VNI_LAST 16777215

struct config_range {
        long min, max;
};

enum { CONFIG_EGRESS_EGOV, CONFIG_EGRESS_INTERNET };

struct config_egress {
        bool offered;
        struct ipv4_net range;          /* uplink addresses */
        uint32_t gateway;
};

struct config_pool {
        char *name;
        char *pack_path;                /* resolved path of the pack file */
        struct pack *pack;
        bool arch[3];                   /* x86, arm, other: what the pool's hosts offer */
        struct config_range vcpus, memory_gib, system_disk_gib, data_disk_gib;  /* flavour bounds */
        char **address_ranges;          /* CIDRs for VPCs (R-NW2), as configured */
        struct ipv4_net *ranges;        /* the same, parsed */
        size_t n_address_ranges;
        struct config_egress egress[2]; /* CONFIG_EGRESS_EGOV, CONFIG_EGRESS_INTERNET (R-NW3) */
};

struct config_plugin {
        char *path;
        char *config_json;              /* "{}" when none */
};

struct config {
        char *path;
        char *listen_host;
        unsigned listen_port;
        char *tls_cert, *tls_key, *tls_ca;
        char *database;
        char *service_key;              /* PEM private key: signs events and checkpoints */
        char *plugin_dir;
        char *policy_dir;

        struct config_pool *pools;
        size_t n_pools;
        struct pack *pack;              /* the first pool's pack: the audit chain's hash (R-SC4) */

        uint32_t vni_first, vni_last;   /* R-NW1: VXLAN ids for VPCs */

        struct rightsize_linear linear_growth;  /* R-RS5 parameters */

        int64_t approval_max_age;       /* seconds an approval stays valid */
        int64_t approval_max_skew;      /* seconds an approval time may lie ahead */

        struct config_plugin *plugins;
        size_t n_plugins;
        char **approval_plugins;        /* default: approval-sm2, approval-ed25519 */
        size_t n_approval_plugins;

        char *provider_name;            /* R-LC3: the sheets' parties */
        char *authority_name;
        int64_t checkpoint_interval;    /* seconds; R-AU3 */
        int64_t prune_interval;         /* seconds between retention passes (R-AU1) */
        char *archive_dir;              /* archives of pruned audit segments */
        char *reports_dir;              /* R-RS7: monthly reports, <dir>/<YYYY-MM>/unit-<id>.{json,csv,html} */

        int64_t tunnel_max_minutes;             /* R-OP1: where the pack sets none */
        int64_t tunnel_long_lived_max_minutes;  /* R-OP2: with the security authority's approval */
        char *wipe_method;                      /* R-EX3: where the pack names none ("zero") */
        int64_t wipe_sample_blocks;             /* blocks read back where the pack says "sampled" */

        int64_t notify_retry_initial_ms;
        int64_t notify_retry_max_ms;

        size_t max_body;
        int timeout_seconds;
};

/* Load and check the file; relative paths in it are relative to its
 * directory. Refusals name the JSON path in err->field. */
int config_load(const char *path, struct config **ret, struct gc_error *err);
void config_free(struct config *c);
static inline void config_freep(struct config **c) {
        if (*c)
                config_free(*c);
}

const struct config_pool *config_pool(const struct config *c, const char *name);
