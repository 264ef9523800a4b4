/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "alloc.h"
#include "audit.h"
#include "chain.h"
#include "cleanup.h"
#include "gc-config.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "dispatch.h"
#include "orch.h"

int64_t orch_now(const struct orch *o) {
        return (int64_t) time(NULL) + (o->test_clock ? o->clock_offset : 0);
}

int orch_audit(struct orch *o, const char *action, const char *object, const char *rule, cJSON *detail) {
        struct audit_entry e = {
                .time = orch_now(o),
                .actor = "gc-orchestrator",
                .role = "system",
                .action = action,
                .object = object ?: "",
                .approval = "",
                .outcome = "recorded",
                .rule = rule ?: "",
                .detail = detail,
        };
        int r = audit_append(o->store, o->audit_hash, &e, NULL);
        cJSON_Delete(detail);
        if (r >= 0)
                o->metrics.audit_records++;
        return r;
}

const struct plugin *orch_verifier(const struct orch *o, const char *key_type) {
        for (size_t i = 0; i < o->n_approval; i++)
                if (strcmp(o->approval[i]->ops->key_type, key_type) == 0)
                        return o->approval[i];
        return NULL;
}

void orch_notify_kick(struct orch *o) {
        notify_kick(o->notify);
}

/* ---- what plugins may call ---- */

static void host_log(void *userdata, int level, const char *plugin, const char *message) {
        (void) userdata;
        log_full_errno(level, 0, "plugin %s: %s", plugin, message);
}

static int host_sign(void *userdata, const void *msg, size_t len, uint8_t **ret_sig, size_t *ret_siglen,
                     const char **ret_alg, const char **ret_key_fingerprint) {
        struct orch *o = userdata;
        if (!o->service_key)
                return -ENOKEY;
        int r = crypto_sign(o->service_key, msg, len, ret_sig, ret_siglen);
        if (r < 0)
                return r;
        *ret_alg = o->service_alg;
        *ret_key_fingerprint = o->service_fingerprint;
        return 0;
}

static struct gc_plugin_host plugin_host;

static int load_plugin(struct orch *o, const char *path, const char *config_json, uint32_t kind, const char *field) {
        struct plugin *p = NULL;
        struct gc_error err = {};
        int r = plugin_load(o->cfg->plugin_dir, path, config_json, kind, &plugin_host, &p, &err);
        if (r < 0) {
                char buf[GC_ERROR_FORMAT_MAX];
                gc_error_prefix_field(&err, field);
                return log_error_errno(r, "%s", gc_error_format(&err, buf, sizeof buf));
        }
        if (p->ops->kind == GC_PLUGIN_APPROVAL) {
                o->approval = xrealloc(o->approval, (o->n_approval + 1) * sizeof *o->approval);
                o->approval[o->n_approval++] = p;
                log_info("approval verifier %s (%s) from %s", p->ops->name, p->ops->key_type, p->path);
        } else {
                o->notifiers = xrealloc(o->notifiers, (o->n_notifiers + 1) * sizeof *o->notifiers);
                o->notifiers[o->n_notifiers++] = p;
                log_info("notifier %s from %s", p->ops->name, p->path);
        }
        return 0;
}

static void on_signal(evutil_socket_t sig, short events, void *userdata) {
        struct orch *o = userdata;
        (void) events;
        log_notice("%s: stopping", strsignal(sig));
        event_base_loopexit(o->base, NULL);
}

static int sync_pools(struct orch *o) {
        int r = store_begin(o->store);
        if (r < 0)
                return r;
        for (size_t i = 0; i < o->cfg->n_pools; i++) {
                r = store_exec(o->store,
                               "INSERT INTO pools (name, pack, updated) VALUES (?, ?, ?) "
                               "ON CONFLICT (name) DO UPDATE SET pack = excluded.pack, updated = excluded.updated",
                               STORE_ARGS(STORE_TEXT(o->cfg->pools[i].name), STORE_TEXT(o->cfg->pools[i].pack->id),
                                          STORE_INT(orch_now(o))), NULL);
                if (r < 0) {
                        store_rollback(o->store);
                        return r;
                }
        }
        return store_commit(o->store);
}

static int record_service(struct orch *o, const char *action) {
        _cleanup_(cJSON_Deletep) cJSON *detail = cJSON_CreateObject();
        cJSON_AddStringToObject(detail, "version", GC_VERSION);
        cJSON_AddStringToObject(detail, "config", o->cfg->path);
        cJSON *pools = cJSON_AddArrayToObject(detail, "pools");
        for (size_t i = 0; i < o->cfg->n_pools; i++) {
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "name", o->cfg->pools[i].name);
                cJSON_AddStringToObject(p, "pack", o->cfg->pools[i].pack->id);
                cJSON_AddItemToArray(pools, p);
        }
        struct audit_entry e = {
                .time = orch_now(o),
                .actor = "gc-orchestrator",
                .role = "system",
                .action = action,
                .object = "",
                .approval = "",
                .outcome = "recorded",
                .rule = "R-AU1",
                .detail = detail,
        };
        int r = audit_record(o->store, o->audit_hash, &e);
        if (r < 0) {
                return r;
        }
        o->metrics.audit_records++;
        return 0;
}

int orch_new(const struct orch_options *opts, struct orch **ret) {
        struct orch *o = xnew(struct orch, 1);
        struct gc_error err = {};
        int r;

        r = config_load(opts->config_path, &o->cfg, &err);
        if (r < 0) {
                char buf[GC_ERROR_FORMAT_MAX];
                log_error("configuration %s: %s", opts->config_path, gc_error_format(&err, buf, sizeof buf));
                goto fail;
        }
        o->audit_hash = o->cfg->pack->hash;     /* R-SC4 */

        r = store_open(o->cfg->database, &o->store);
        if (r < 0) {
                log_error_errno(r, "cannot open the store %s", o->cfg->database);
                goto fail;
        }
        r = sync_pools(o);
        if (r < 0)
                goto fail;
        if (opts->unsafe_test_clock) {
                /* The offset survives restarts, so a moved clock stays moved. */
                _cleanup_free_ char *v = NULL;
                o->test_clock = true;
                if (store_query_text(o->store, "SELECT value FROM settings WHERE key = 'clock_offset'", STORE_NO_ARGS, &v) >= 0)
                        o->clock_offset = strtoll(v, NULL, 10);
                log_warning("UNSAFE: the test clock is on (offset %lld s); the authority may move it forward",
                            (long long) o->clock_offset);
        }

        if (o->cfg->service_key) {
                enum gc_key_type type;
                r = crypto_key_load_private(o->cfg->service_key, &o->service_key);
                if (r < 0) {
                        log_error_errno(r, "service_key %s: not an SM2 or Ed25519 private key (PEM, PKCS#8)", o->cfg->service_key);
                        goto fail;
                }
                crypto_key_type(o->service_key, &type);
                o->service_alg = crypto_key_type_to_string(type);
                r = crypto_key_fingerprint(o->service_key, &o->service_fingerprint);
                if (r < 0)
                        goto fail;
                log_info("service key %s %s", o->service_alg, o->service_fingerprint);
        }

        plugin_host = (struct gc_plugin_host) { .userdata = o, .log = host_log, .sign = host_sign };
        for (size_t i = 0; i < o->cfg->n_approval_plugins; i++) {
                _cleanup_free_ char *field = xasprintf("approval_plugins[%zu]", i);
                r = load_plugin(o, o->cfg->approval_plugins[i], NULL, GC_PLUGIN_APPROVAL, field);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < o->cfg->n_plugins; i++) {
                _cleanup_free_ char *field = xasprintf("plugins[%zu]", i);
                r = load_plugin(o, o->cfg->plugins[i].path, o->cfg->plugins[i].config_json, 0, field);
                if (r < 0)
                        goto fail;
        }
        if (o->n_notifiers > 0 && !o->service_key)
                log_warning("notifiers are configured but no service_key: events cannot be signed");

        o->base = event_base_new();
        if (!o->base) {
                r = log_error_errno(-ENOMEM, "event_base_new");
                goto fail;
        }
        if (opts->check_only) {
                *ret = o;
                return 0;
        }
        r = http_start(o);
        if (r < 0)
                goto fail;

        if (opts->ready_file) {
                _cleanup_fclose_ FILE *f = fopen(opts->ready_file, "we");
                if (!f || fprintf(f, "%s %u\n", o->cfg->listen_host, o->bound_port) < 0) {
                        r = log_error_errno(-errno, "cannot write %s", opts->ready_file);
                        goto fail;
                }
        }
        *ret = o;
        return 0;
fail:
        orch_free(o);
        return r < 0 ? r : -EINVAL;
}

int orch_run(struct orch *o) {
        struct event *sigterm = evsignal_new(o->base, SIGTERM, on_signal, o);
        struct event *sigint = evsignal_new(o->base, SIGINT, on_signal, o);
        int r;

        signal(SIGPIPE, SIG_IGN);
        event_add(sigterm, NULL);
        event_add(sigint, NULL);

        r = record_service(o, "service.started");
        if (r < 0)
                log_warning_errno(r, "cannot record the start in the audit chain");
        r = notify_start(o, &o->notify);
        if (r < 0)
                goto out;
        dispatch_start(o);
        chain_start(o);
        log_notice("gc-orchestrator %s ready: %zu pool%s, %zu verifier%s, %zu notifier%s", GC_VERSION, o->cfg->n_pools,
                   o->cfg->n_pools == 1 ? "" : "s", o->n_approval, o->n_approval == 1 ? "" : "s", o->n_notifiers,
                   o->n_notifiers == 1 ? "" : "s");
        event_base_dispatch(o->base);
        notify_stop(o->notify);
        o->notify = NULL;
        record_service(o, "service.stopped");
        chain_stop(o);          /* R-AU3: a checkpoint covers the last record */
        r = 0;
out:
        event_free(sigterm);
        event_free(sigint);
        return r;
}

void orch_free(struct orch *o) {
        if (!o)
                return;
        notify_stop(o->notify);
        dispatch_stop(o);
        http_stop(o);
        if (o->base)
                event_base_free(o->base);
        for (size_t i = 0; i < o->n_approval; i++)
                plugin_free(o->approval[i]);
        free(o->approval);
        for (size_t i = 0; i < o->n_notifiers; i++)
                plugin_free(o->notifiers[i]);
        free(o->notifiers);
        EVP_PKEY_free(o->service_key);
        free(o->service_fingerprint);
        store_close(o->store);
        config_free(o->cfg);
        free(o);
}
