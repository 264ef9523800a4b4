/* SPDX-License-Identifier: Apache-2.0 */
/* The orchestrator's state, shared by its modules. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "config.h"
#include "crypto.h"
#include "metrics.h"
#include "plugin.h"
#include "store.h"

struct event;
struct waiter;

struct event_base;
struct evhttp;
struct notify;

struct orch {
        struct config *cfg;
        struct store *store;
        struct event_base *base;
        struct evhttp *http;
        void *ssl_ctx;                  /* SSL_CTX */
        unsigned bound_port;

        EVP_PKEY *service_key;          /* NULL when the configuration has none */
        char *service_fingerprint;
        const char *service_alg;

        struct plugin **approval;       /* verifiers, by key type */
        size_t n_approval;
        struct plugin **notifiers;
        size_t n_notifiers;
        struct notify *notify;

        enum gc_hash_alg audit_hash;    /* R-SC4: the first pool's pack */
        struct metrics metrics;

        bool test_clock;                /* --unsafe-test-clock: POST /v1/test/clock may move the clock */
        int64_t clock_offset;           /* seconds added to the real time (persisted) */
        struct event *tick;             /* timers, stale jobs, host liveness */
        struct waiter *waiters;         /* parked agent long-polls */
        struct event *chain_tick;       /* audit checkpoints and retention */
        int64_t last_checkpoint, last_prune;
};

struct orch_options {
        const char *config_path;
        const char *ready_file;         /* written with "host port" once listening */
        bool check_only;                /* load everything, do not listen */
        bool unsafe_test_clock;         /* allow the authority to move the clock (tests, demos) */
};

int orch_new(const struct orch_options *opts, struct orch **ret);
int orch_run(struct orch *o);           /* until SIGTERM / SIGINT */
void orch_free(struct orch *o);

/* The orchestrator's clock, Unix seconds. */
int64_t orch_now(const struct orch *o);

/* The approval verifier for a key type ("sm2"), NULL if none is loaded. */
const struct plugin *orch_verifier(const struct orch *o, const char *key_type);

/* Append an audit record by the orchestrator itself in the current transaction. */
struct audit_entry;
int orch_audit(struct orch *o, const char *action, const char *object, const char *rule, cJSON *detail);

/* Wake the notifier thread: a record it may deliver was committed. */
void orch_notify_kick(struct orch *o);
