/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gc-agent's main loop (protocol in include/gc/wire.h):
 *
 *   hello (version, hypervisor, capacity) -> host, heartbeat_seconds, poll_seconds
 *   post results the journal holds but the orchestrator may not have
 *   loop: every heartbeat_seconds post the inventory (every managed domain
 *         as VMSTATE); long-poll for jobs; run each (journal around it);
 *         post their results in one batch
 *         while wipes run in their threads (agent/wipejob.h): the long-poll
 *         waits at most wipe.progress_seconds, their progress is posted that
 *         often (an orchestrator that answers 404 is told once in the log),
 *         and each wipe's result is journalled and posted when it ends;
 *         while a vm.stop waits for its domain to go off, the long-poll
 *         waits at most 1 s and the domain is looked at after each
 *         (jobs_collect), so that heartbeats go on;
 *         every metrics.interval_seconds one bulk stats call for the
 *         utilization samples (agent/usage.h), between polls and between
 *         jobs, and their batches posted (POST /v1/metrics) every
 *         metrics.batch_seconds: the long-poll waits at most until the
 *         next is due. Sampling begins after the first hello (the samples'
 *         times are on the orchestrator's clock) and goes on while the
 *         orchestrator is away; the batches wait in the spool
 *
 * The hello carries "wipe_key": the public half of wipe.signing_key (PEM),
 * or null without one.
 *
 * A call that gets no answer, or an answer that is not a success, sends the
 * agent back to hello after a backoff (1 s doubling to 30 s). SIGTERM or
 * SIGINT: the job in hand is finished and its result posted, running wipes
 * stop at a checkpoint (they resume when their jobs come again), then
 * agent_run() returns 0.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#include "config.h"
#include "hv.h"

struct agent_options {
        const char *config_path;
        const struct hv_ops *ops;       /* NULL: hv_libvirt_ops */
        /* --unsafe-test-relabel DIR: before each inventory, apply every
         * DIR/NAME.json {"uuid", "title", "labels"} to that domain's labels, as
         * someone with virsh on the host would, and remove the file. The
         * test driver lives inside the agent's process, so this is the only
         * way for tests and demos to change labels behind the orchestrator's
         * back there. Never in production. */
        const char *unsafe_test_relabel_dir;
        /* --unsafe-test-net-step-delay MS: the network module pauses MS
         * after each change (net_config.step_delay_ms), so that a test can
         * kill the agent in the middle of a VPC build. Never in production. */
        unsigned unsafe_test_net_step_delay_ms;
        /* --unsafe-test-wipe-throttle BYTES_PER_SEC: wipes write at most this
         * fast, with a checkpoint after every chunk, so that a test can kill
         * the agent in the middle of one. Never in production. */
        uint64_t unsafe_test_wipe_throttle_bps;
        /* --unsafe-test-wipe-corrupt: one byte of each wiped volume flipped
         * between the last pass and the verification, which must then fail.
         * Never in production. */
        bool unsafe_test_wipe_corrupt;
        /* --unsafe-test-metrics-interval SECONDS: the VMs are sampled this
         * often (1..3600), below metrics.interval_seconds' floor of 5 s, so
         * that a test sees figures within seconds; batch_seconds is raised to
         * it where lower. Never in production. */
        unsigned unsafe_test_metrics_interval_s;
};

struct agent;

/* Load the configuration and open the hypervisor. */
int agent_new(const struct agent_options *opts, struct agent **ret);
void agent_free(struct agent *a);
static inline void agent_freep(struct agent **a) {
        agent_free(*a);
}

/* --check-config: the files the configuration names, the hypervisor and its
 * capacity, written to out. */
int agent_check(struct agent *a, FILE *out);
/* Until SIGTERM / SIGINT. */
int agent_run(struct agent *a);

/* The capacity reported in hello: the hypervisor's, with the configuration's
 * overrides. */
int agent_capacity(const struct hv_ops *ops, struct hv *hv, const struct config_capacity *override,
                   struct hv_capacity *ret);
/* {"domains": [VMSTATE, ...]} for POST /v1/agent/inventory. */
int agent_inventory_build(const struct hv_ops *ops, struct hv *hv, cJSON **ret);
