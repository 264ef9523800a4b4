/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin ABI of gc-orchestrator.
 *
 * A plugin is a shared object that exports one symbol,
 *
 *     const struct gc_plugin_ops gc_plugin = { .abi_version = GC_PLUGIN_ABI_VERSION, ... };
 *
 * The orchestrator loads it with dlopen(), reads abi_version first and
 * refuses a plugin built for another version before it touches any other
 * field. Two kinds exist:
 *
 *   approval verifiers  check the approval system's signature over the
 *                       canonical (RFC 8785) bytes of a request, with the
 *                       public key the authority registered for that
 *                       approval system. Only asymmetric schemes: whoever
 *                       holds the orchestrator must not be able to mint an
 *                       approval, so there is no shared-secret mode.
 *   notifiers           deliver events (JSON) to the outside world. They are
 *                       called from the orchestrator's delivery thread,
 *                       never from a request, may block up to their own
 *                       timeout, and report failure so that the orchestrator
 *                       retries with backoff. A delivery may be repeated
 *                       (at-least-once); events carry an id to deduplicate.
 *
 * Every call returns 0 on success or a negative errno; on failure the plugin
 * writes a one-line reason (no secrets) into reason. Plugins must be
 * thread-safe across distinct state objects; one state object is used by
 * one thread at a time.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define GC_PLUGIN_ABI_VERSION 1u
#define GC_PLUGIN_SYMBOL "gc_plugin"
#define GC_PLUGIN_REASON_MAX 256

enum gc_plugin_kind {
        GC_PLUGIN_APPROVAL = 1,
        GC_PLUGIN_NOTIFY = 2,
};

/* What the orchestrator lends a plugin. Valid from init() to fini(). */
struct gc_plugin_host {
        void *userdata;
        /* Log one line under the plugin's name; level as enum log_level
         * (3 error .. 7 debug). */
        void (*log)(void *userdata, int level, const char *plugin, const char *message);
        /* Sign msg with the orchestrator's service key (SM2 with SM3 and
         * the GM/T 0009 id, or Ed25519, by the pack). ret_sig is malloc()ed
         * and freed by the caller; ret_alg ("sm2" / "ed25519") and
         * ret_key_fingerprint ("sha256:<hex>") are static for the host's
         * lifetime. */
        int (*sign)(void *userdata, const void *msg, size_t len,
                    uint8_t **ret_sig, size_t *ret_siglen,
                    const char **ret_alg, const char **ret_key_fingerprint);
};

struct gc_plugin_ops {
        uint32_t abi_version;           /* GC_PLUGIN_ABI_VERSION; read first */
        uint32_t kind;                  /* enum gc_plugin_kind */
        const char *name;               /* "approval-sm2", "notify-webhook" */
        const char *description;

        /* config_json: the plugin's "config" object from the orchestrator's
         * configuration, as JSON text ("{}" when none). */
        int (*init)(const struct gc_plugin_host *host, const char *config_json,
                    void **ret_state, char *reason, size_t reason_size);
        void (*fini)(void *state);

        /* GC_PLUGIN_APPROVAL */
        const char *key_type;           /* the key type it verifies: "sm2" or "ed25519" */
        /* 0: valid. -EBADMSG: checked and wrong. Other: could not check
         * (a key that does not parse, an unsupported key type). */
        int (*verify)(void *state, const char *public_key_pem,
                      const void *msg, size_t len, const uint8_t *sig, size_t siglen,
                      char *reason, size_t reason_size);

        /* GC_PLUGIN_NOTIFY. event_json: one event, canonical JSON (RFC 8785):
         * {"id", "type", "time", ...}. 0: delivered; -EAGAIN (or any other
         * negative errno): not delivered, retry later. */
        int (*notify)(void *state, const char *event_json, size_t len,
                      char *reason, size_t reason_size);
};
