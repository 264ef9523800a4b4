/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gc-agent's configuration: one JSON object (see scripts/agent.json.example).
 *
 *   {"orchestrator": "https://orch.example:8443",
 *    "tls": {"cert": "host.crt", "key": "host.key", "ca": "ca.crt"},
 *    "libvirt_uri": "qemu:///system",            default "test:///default"
 *    "storage_pool": "default",                  default "default-pool"
 *    "capacity": {"vcpus": 32, "memory_mib": 131072, "storage_gib": 4096, "arch": "x86_64"},
 *    "poll_seconds": 25,                         default 25, 1..300
 *    "journal": "agent.journal",                 default /var/lib/govcloud/agent.journal
 *    "network": {                                the VPC module (agent/net.h); without
 *                                                it VPC jobs build nothing on this host
 *      "prefix": "gc",                           default gc: names of links, namespaces
 *      "underlay": "192.0.2.11",                 required: this host's VXLAN address
 *      "netns_dir": "/run/netns",
 *      "vxlan_port": 4789,
 *      "egress": {"internet": "eth1", "egov": "eth2"},   uplink parents per kind
 *      "protected": ["192.0.2.0/24"],            what no guest may reach (with the underlay)
 *      "state": "vpcs.json"},                    default /var/lib/govcloud/vpcs.json: the
 *                                                VPCs this host should have, for reconciling
 *    "tunnels": {                                the operations tunnels (agent/tunnel.h)
 *      "state": "tunnels.json",                  default: the journal's path + ".tunnels"
 *      "ports": [40000, 40999]},                 the listeners' ports; default [0, 0]: any
 *                                                port the kernel gives
 *    "wipe": {                                   vm.wipe (agent/wipejob.h, R-EX3)
 *      "signing_key": "sign/host-a.key",         PEM private key (SM2 or Ed25519) that signs
 *                                                the certificates of sanitization; without
 *                                                it vm.wipe fails (nothing is wiped)
 *      "state_dir": "wipe",                      default: the journal's path + ".wipe": a
 *                                                checkpoint file per volume
 *      "progress_seconds": 5,                    default 5, 1..300: POST /v1/agent/wipe-progress
 *      "sample_blocks": 4096},                   default 4096: blocks read back by a "sampled"
 *                                                verification whose WIPESPEC gives none
 *    "metrics": {                                the utilization sampler (agent/usage.h,
 *                                                R-RS1..R-RS7, R-LC2)
 *      "enabled": true,                          default true
 *      "interval_seconds": 60,                   default 60, 5..3600: one bulk stats call
 *      "batch_seconds": 300,                     default 300 (or interval_seconds when
 *                                                larger), interval_seconds..86400: POST
 *                                                /v1/metrics this often
 *      "batch_max": 5000}}                       default 5000, 1..50000: or as soon as this
 *                                                many samples wait
 *
 * Parsing is strict: an unknown key, a wrong type or a value out of range is
 * refused with its path in err->field ("tls.cert", "capacity.vcpus").
 * Relative paths (tls.*, journal, network.state, tunnels.state, wipe.*) are
 * relative to the file's directory. The metrics' batches wait for the
 * orchestrator in the spool directory beside the journal (the journal's path
 * + ".metrics").
 * Each capacity member is optional; one that is given is reported to the
 * orchestrator instead of the hypervisor's own figure. arch is one of
 * x86_64, aarch64, other (the orchestrator's names).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gc/error.h"
#include "net.h"

#define CONFIG_FILE_MAX (256 * 1024)
#define CONFIG_DEFAULT_PATH "/etc/govcloud/agent.json"
#define CONFIG_DEFAULT_LIBVIRT_URI "test:///default"
#define CONFIG_DEFAULT_STORAGE_POOL "default-pool"
#define CONFIG_DEFAULT_JOURNAL "/var/lib/govcloud/agent.journal"
#define CONFIG_DEFAULT_POLL_SECONDS 25
#define CONFIG_POLL_SECONDS_MAX 300
#define CONFIG_DEFAULT_NET_PREFIX "gc"
#define CONFIG_DEFAULT_NET_STATE "/var/lib/govcloud/vpcs.json"
#define CONFIG_TUNNELS_STATE_SUFFIX ".tunnels"
#define CONFIG_WIPE_STATE_SUFFIX ".wipe"
#define CONFIG_DEFAULT_WIPE_PROGRESS_SECONDS 5
#define CONFIG_WIPE_PROGRESS_SECONDS_MAX 300
#define CONFIG_DEFAULT_WIPE_SAMPLE_BLOCKS 4096
#define CONFIG_WIPE_SAMPLE_BLOCKS_MAX (1u << 30)
#define CONFIG_METRICS_SPOOL_SUFFIX ".metrics"
#define CONFIG_DEFAULT_METRICS_INTERVAL_SECONDS 60
#define CONFIG_METRICS_INTERVAL_SECONDS_MIN 5
#define CONFIG_METRICS_INTERVAL_SECONDS_MAX 3600
#define CONFIG_DEFAULT_METRICS_BATCH_SECONDS 300
#define CONFIG_METRICS_BATCH_SECONDS_MAX 86400
#define CONFIG_DEFAULT_METRICS_BATCH_MAX 5000
#define CONFIG_METRICS_BATCH_MAX_MAX 50000      /* the orchestrator's bound per POST */

/* 0 or NULL: not overridden. */
struct config_capacity {
        unsigned vcpus;
        uint64_t memory_mib;
        uint64_t storage_gib;
        char *arch;
};

struct config_network {
        bool enabled;
        struct net_config net;
        char *state;                    /* the VPCs this host should have */
};

struct config_tunnels {
        char *state;                    /* always set: tunnels.state or the journal's + ".tunnels" */
        uint16_t port_min, port_max;    /* 0, 0: any port */
};

struct config_wipe {
        char *signing_key;              /* NULL: none (vm.wipe fails) */
        char *state_dir;                /* always set: wipe.state_dir or the journal's + ".wipe" */
        unsigned progress_seconds;
        uint64_t sample_blocks;
};

struct config_metrics {
        bool enabled;
        unsigned interval_seconds;
        unsigned batch_seconds;
        unsigned batch_max;
        char *spool;                    /* always set: the journal's path + ".metrics" */
};

struct config {
        char *path;
        char *orchestrator;             /* https://HOST[:PORT][/PREFIX] */
        char *tls_cert, *tls_key, *tls_ca;
        char *libvirt_uri;
        char *storage_pool;
        struct config_capacity capacity;
        unsigned poll_seconds;
        char *journal;
        struct config_network network;
        struct config_tunnels tunnels;
        struct config_wipe wipe;
        struct config_metrics metrics;
};

int config_load(const char *path, struct config **ret, struct gc_error *err);
/* The same from text; dir resolves relative paths. */
int config_parse(const char *text, size_t len, const char *dir, struct config **ret, struct gc_error *err);
void config_free(struct config *c);
static inline void config_freep(struct config **c) {
        config_free(*c);
}
