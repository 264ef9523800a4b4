/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "alloc.h"
#include "api.h"
#include "audit.h"
#include "cleanup.h"
#include "crypto.h"
#include "dispatch.h"
#include "gc/wire.h"
#include "json.h"
#include "vpc.h"
#include "lifecycle.h"
#include "log.h"
#include "orch.h"
#include "pack.h"
#include "reclaim.h"
#include "sheets.h"
#include "usage.h"
#include "trial.h"
#include "tunnels.h"

const char *sched_arch(const char *request_arch);

/* Liveness and resending use the real clock; business deadlines use the
 * orchestrator's (which a test clock may move). */
static int64_t real_now(void) {
        return (int64_t) time(NULL);
}

/* ---- VM specs and jobs ---- */

static void uuid_v4(char out[37]) {
        uint8_t b[16];
        crypto_random(b, sizeof b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int dispatch_assign(struct orch *o, int64_t vm_id, const char *host) {
        char uuid[37];
        uuid_v4(uuid);
        return store_exec(o->store, "UPDATE vms SET uuid = COALESCE(uuid, ?), host = ? WHERE id = ?",
                          STORE_ARGS(STORE_TEXT(uuid), STORE_TEXT(host), STORE_INT(vm_id)), NULL);
}

struct vm_row {
        bool found;
        char *uuid, *name, *role, *pool, *spec, *system, *unit, *host;
        int64_t number, request;
        char *address, *mac;            /* NULL: no NIC (R-NW2) */
        int64_t vni;
};

static int vm_row_cb(const struct store_row *row, void *userdata) {
        struct vm_row *v = userdata;
        v->found = true;
        v->uuid = xstrdup(row->v[0].type == STORE_TEXT ? row->v[0].s : "");
        v->name = xstrdup(row->v[1].s);
        v->role = xstrdup(row->v[2].s);
        v->number = row->v[3].i;
        v->request = row->v[4].i;
        v->pool = xstrdup(row->v[5].s);
        v->spec = xstrdup(row->v[6].s);
        v->system = xstrdup(row->v[7].s);
        v->unit = xstrdup(row->v[8].s);
        v->host = xstrdup(row->v[9].type == STORE_TEXT ? row->v[9].s : "");
        v->address = row->v[10].type == STORE_TEXT ? xstrdup(row->v[10].s) : NULL;
        v->mac = row->v[11].type == STORE_TEXT ? xstrdup(row->v[11].s) : NULL;
        v->vni = row->v[12].type == STORE_INT ? row->v[12].i : 0;
        return 0;
}

static void vm_row_done(struct vm_row *v) {
        free(v->uuid);
        free(v->name);
        free(v->role);
        free(v->pool);
        free(v->spec);
        free(v->system);
        free(v->unit);
        free(v->host);
        free(v->address);
        free(v->mac);
}

static int vm_load(struct orch *o, int64_t vm_id, struct vm_row *ret) {
        int r = store_query(o->store,
                            "SELECT v.uuid, v.name, v.role, v.number, v.request_id, v.pool, v.spec, s.name, u.name, v.host, "
                            "v.address, v.mac, p.vni "
                            "FROM vms v JOIN systems s ON s.id = v.system_id JOIN units u ON u.id = s.unit_id "
                            "LEFT JOIN vpcs p ON p.system_id = v.system_id WHERE v.id = ?",
                            STORE_ARGS(STORE_INT(vm_id)), vm_row_cb, ret);
        if (r < 0)
                return r;
        return ret->found ? 0 : -ENOENT;
}

static cJSON *labels_json(const struct vm_row *v) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "unit", v->unit);
        cJSON_AddStringToObject(l, "system", v->system);
        cJSON_AddStringToObject(l, "role", v->role);
        cJSON_AddNumberToObject(l, "number", (double) v->number);
        cJSON_AddNumberToObject(l, "request", (double) v->request);
        cJSON_AddStringToObject(l, "pool", v->pool);
        return l;
}

/* VMSPEC (include/gc/wire.h). Maximums are the pool's largest flavour, so
 * a VM can grow live to any size the platform offers. */
static cJSON *vm_spec(struct orch *o, const struct vm_row *v) {
        _cleanup_(cJSON_Deletep) cJSON *spec = cJSON_Parse(v->spec);
        const struct config_pool *pool = config_pool(o->cfg, v->pool);
        cJSON *j = cJSON_CreateObject();
        _cleanup_free_ char *name = xasprintf(GC_WIRE_DOMAIN_PREFIX "%s", v->uuid);
        long vcpus = int_at(spec, "vcpus", 1), mem = int_at(spec, "memory_gib", 1) * 1024;

        cJSON_AddStringToObject(j, "uuid", v->uuid);
        cJSON_AddStringToObject(j, "name", name);
        cJSON_AddStringToObject(j, "title", v->name);
        cJSON_AddItemToObject(j, "labels", labels_json(v));
        cJSON_AddStringToObject(j, "arch", sched_arch(str_at(spec, "arch") ?: "x86"));
        cJSON_AddNumberToObject(j, "vcpus", vcpus);
        cJSON_AddNumberToObject(j, "max_vcpus", pool && pool->vcpus.max > vcpus ? pool->vcpus.max : vcpus);
        cJSON_AddNumberToObject(j, "memory_mib", mem);
        cJSON_AddNumberToObject(j, "max_memory_mib", pool && pool->memory_gib.max * 1024 > mem ? pool->memory_gib.max * 1024 : mem);
        cJSON *disks = cJSON_AddArrayToObject(j, "disks");
        static const char *const names[] = { "system", "data" };
        static const char *const keys[] = { "system_disk", "data_disk" };
        for (size_t i = 0; i < 2; i++) {
                const cJSON *d = cJSON_GetObjectItemCaseSensitive(spec, keys[i]);
                if (int_at(d, "gib", 0) <= 0)
                        continue;
                cJSON *disk = cJSON_CreateObject();
                cJSON_AddStringToObject(disk, "name", names[i]);
                cJSON_AddNumberToObject(disk, "gib", int_at(d, "gib", 0));
                cJSON_AddStringToObject(disk, "type", str_at(d, "type") ?: "SSD");
                cJSON_AddItemToArray(disks, disk);
        }
        if (v->address && v->mac && v->vni) {
                /* R-NW2: the NIC on its VPC's bridge, with the provider's MAC and address. */
                cJSON *nic = cJSON_CreateObject();
                cJSON_AddNumberToObject(nic, "vni", (double) v->vni);
                cJSON_AddStringToObject(nic, "mac", v->mac);
                cJSON_AddStringToObject(nic, "address", v->address);
                cJSON_AddItemToArray(cJSON_AddArrayToObject(j, "nics"), nic);
        }
        cJSON_AddStringToObject(j, "image", str_at(spec, "os") ?: "");
        cJSON_AddBoolToObject(j, "running", true);
        /* R-EX3: where the exit will crypto-erase, volumes are made encrypted
         * (qemu's LUKS, a secret only the agent holds). */
        if (pool && (pool->pack->exit.wipe_method == PACK_WIPE_CRYPTO_ERASE ||
                     (pool->pack->exit.wipe_method == PACK_WIPE_DEFAULT && strcmp(o->cfg->wipe_method, "crypto-erase") == 0)))
                cJSON_AddTrueToObject(j, "encrypted");
        return j;
}

int dispatch_resize(struct orch *o, int64_t vm_id, int64_t request_id, long vcpus, long memory_gib,
                    long system_disk_gib, long data_disk_gib) {
        _cleanup_free_ char *spec_text = NULL;
        int r = store_query_text(o->store, "SELECT spec FROM vms WHERE id = ?", STORE_ARGS(STORE_INT(vm_id)), &spec_text);
        if (r < 0)
                return r;
        _cleanup_(cJSON_Deletep) cJSON *spec = cJSON_Parse(spec_text);
        if (!spec)
                return -EINVAL;
        if (vcpus >= 0)
                cJSON_ReplaceItemInObjectCaseSensitive(spec, "vcpus", cJSON_CreateNumber(vcpus));
        if (memory_gib >= 0)
                cJSON_ReplaceItemInObjectCaseSensitive(spec, "memory_gib", cJSON_CreateNumber(memory_gib));
        if (system_disk_gib >= 0)
                cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib",
                                                       cJSON_CreateNumber(system_disk_gib));
        if (data_disk_gib >= 0)
                cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib",
                                                       cJSON_CreateNumber(data_disk_gib));
        long disks = int_at(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib", 0) +
                     int_at(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib", 0);
        _cleanup_free_ char *text = cJSON_PrintUnformatted(spec);
        r = store_exec(o->store, "UPDATE vms SET spec = ?, request_id = ?, vcpus = ?, memory_gib = ?, disk_gib = ? WHERE id = ?",
                       STORE_ARGS(STORE_TEXT(text), STORE_INT(request_id), STORE_INT(int_at(spec, "vcpus", 0)),
                                  STORE_INT(int_at(spec, "memory_gib", 0)), STORE_INT(disks), STORE_INT(vm_id)), NULL);
        if (r < 0)
                return r;
        return dispatch_enqueue(o, vm_id, request_id, "vm.ensure");
}

int dispatch_enqueue(struct orch *o, int64_t vm_id, int64_t request_id, const char *kind) {
        return dispatch_enqueue_payload(o, vm_id, request_id, kind, NULL);
}

int dispatch_enqueue_payload(struct orch *o, int64_t vm_id, int64_t request_id, const char *kind, const char *payload_text) {
        struct vm_row v = {};
        int r = vm_load(o, vm_id, &v);
        if (r < 0) {
                vm_row_done(&v);
                return r;
        }
        _cleanup_free_ char *text = NULL;
        if (payload_text)
                text = xstrdup(payload_text);
        else {
                cJSON *payload;
                if (strcmp(kind, "vm.delete") == 0 || strcmp(kind, "vm.stop") == 0) {
                        payload = cJSON_CreateObject();
                        cJSON_AddStringToObject(payload, "uuid", v.uuid);
                        cJSON_AddStringToObject(payload, "title", v.name);
                } else
                        payload = vm_spec(o, &v);
                text = cJSON_PrintUnformatted(payload);
                cJSON_Delete(payload);
        }
        r = store_exec(o->store,
                       "INSERT INTO jobs (host, vm_id, request_id, kind, payload, state, created) VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                       STORE_ARGS(STORE_TEXT(v.host), STORE_INT(vm_id), request_id ? STORE_INT(request_id) : STORE_NULL_VALUE,
                                  STORE_TEXT(kind), STORE_TEXT(text), STORE_INT(real_now())),
                       NULL);
        vm_row_done(&v);
        return r;
}

/* ---- lifecycle moves ---- */

int dispatch_stage(struct orch *o, int64_t system_id, const char *from, const char *to, const char *rule, cJSON *extra) {
        int64_t changes = 0, seq = 0;
        int r = store_exec(o->store, "UPDATE systems SET state = ?, updated = ? WHERE id = ? AND state = ?",
                           STORE_ARGS(STORE_TEXT(to), STORE_INT(orch_now(o)), STORE_INT(system_id), STORE_TEXT(from)),
                           &changes);
        if (r < 0 || changes != 1) {
                cJSON_Delete(extra);
                return r < 0 ? r : 0;
        }
        if (!lifecycle_allowed(from, to))
                log_error("internal: illegal transition %s -> %s", from, to);
        cJSON *detail = extra ?: cJSON_CreateObject();
        _cleanup_(cJSON_Deletep) cJSON *names = NULL;
        if (store_query_json_one(o->store, "SELECT s.name AS system_name, u.name AS unit FROM systems s JOIN units u ON u.id = s.unit_id WHERE s.id = ?",
                                 STORE_ARGS(STORE_INT(system_id)), &names) >= 0) {
                cJSON_AddStringToObject(detail, "unit", str_at(names, "unit"));
                cJSON_AddStringToObject(detail, "system_name", str_at(names, "system_name"));
        }
        /* The caller's extra may name the system already: one member, not two. */
        cJSON_DeleteItemFromObjectCaseSensitive(detail, "system");
        cJSON_AddNumberToObject(detail, "system", (double) system_id);
        cJSON_AddStringToObject(detail, "from", from);
        cJSON_AddStringToObject(detail, "to", to);
        char object[64];
        snprintf(object, sizeof object, "system:%lld", (long long) system_id);
        struct audit_entry e = { .time = orch_now(o), .actor = "gc-orchestrator", .role = "system", .action = "system.stage",
                                 .object = object, .approval = "", .outcome = "recorded", .rule = rule ?: "", .detail = detail };
        r = audit_append(o->store, o->audit_hash, &e, &seq);
        cJSON_Delete(detail);
        if (r < 0)
                return r;
        o->metrics.audit_records++;
        log_info("system %lld: %s -> %s", (long long) system_id, from, to);
        return store_exec(o->store,
                          "INSERT INTO transitions (system_id, from_state, to_state, time, actor, request_id, audit_seq) VALUES (?, ?, ?, ?, 'gc-orchestrator', NULL, ?)",
                          STORE_ARGS(STORE_INT(system_id), STORE_TEXT(from), STORE_TEXT(to), STORE_INT(orch_now(o)), STORE_INT(seq)),
                          NULL);
}

struct sys_row {
        char state[32], return_state[32], pool[128];
        int64_t trial_length;
};

static int sys_cb(const struct store_row *row, void *userdata) {
        struct sys_row *s = userdata;
        snprintf(s->state, sizeof s->state, "%s", row->v[0].s);
        snprintf(s->return_state, sizeof s->return_state, "%s", row->v[1].type == STORE_TEXT ? row->v[1].s : "");
        snprintf(s->pool, sizeof s->pool, "%s", row->v[2].type == STORE_TEXT ? row->v[2].s : "");
        s->trial_length = row->v[3].type == STORE_INT ? row->v[3].i : 0;
        return 0;
}

/* Move a system on when its jobs are all done (inside a transaction). */
static int progress(struct orch *o, int64_t system_id) {
        struct sys_row s = {};
        int64_t pending = 0, not_running = 0;
        int r = store_query(o->store, "SELECT state, return_state, pool, trial_length FROM systems WHERE id = ?",
                            STORE_ARGS(STORE_INT(system_id)), sys_cb, &s);
        if (r <= 0)
                return r;
        r = store_query_int(o->store, "SELECT COUNT(*) FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ? AND j.state IN ('queued', 'sent')",
                            STORE_ARGS(STORE_INT(system_id)), &pending);
        if (r < 0)
                return r;
        r = store_query_int(o->store, "SELECT COUNT(*) FROM vms WHERE system_id = ? AND state NOT IN ('running', 'deleted')",
                            STORE_ARGS(STORE_INT(system_id)), &not_running);
        if (r < 0)
                return r;
        int64_t network = 0;
        r = vpc_pending(o, system_id, &network);
        if (r < 0)
                return r;
        pending += network;

        if ((strcmp(s.state, "requested") == 0 || strcmp(s.state, "provisioning") == 0) && pending == 0 && not_running == 0) {
                if (strcmp(s.state, "requested") == 0) {
                        r = dispatch_stage(o, system_id, "requested", "provisioning", "R-LC1", NULL);
                        if (r < 0)
                                return r;
                }
                /* R-LC2: the trial runs from now for the length chosen in the apply. */
                const struct config_pool *pool = config_pool(o->cfg, s.pool);
                int64_t now = orch_now(o);
                int64_t due = pool ? trial_end(&pool->pack->trial, &pool->pack->calendar, now, s.trial_length) : now;
                char t[32];
                store_format_time(due, t);
                cJSON *extra = cJSON_CreateObject();
                cJSON_AddStringToObject(extra, "trial_end", t);
                cJSON_AddNumberToObject(extra, "trial_length", (double) s.trial_length);
                r = dispatch_stage(o, system_id, "provisioning", "trial", "R-LC2", extra);
                if (r < 0)
                        return r;
                r = store_exec(o->store, "UPDATE systems SET trial_start = ?, trial_end = ? WHERE id = ?",
                               STORE_ARGS(STORE_INT(now), STORE_INT(due), STORE_INT(system_id)), NULL);
                if (r >= 0)
                        r = timers_set(o, "trial_end", system_id, due);
                return r;
        }
        /* R-EX3: the reclaim's next step, when this one's jobs are done. */
        if (strcmp(s.state, "draining") == 0 || strcmp(s.state, "wiping") == 0)
                return reclaim_advance(o, system_id);
        if (strcmp(s.state, "changing") == 0 && pending == 0 && s.return_state[0]) {
                int64_t request_id;
                r = dispatch_stage(o, system_id, "changing", s.return_state, "R-LC1", NULL);
                /* R-LC4: the change is done; its sheet goes to the three parties. */
                if (r >= 0)
                        r = store_query_int(o->store, "SELECT id FROM requests WHERE system_id = ? AND kind = 'change' "
                                                      "AND outcome = 'accepted' ORDER BY id DESC LIMIT 1",
                                            STORE_ARGS(STORE_INT(system_id)), &request_id);
                if (r >= 0)
                        r = sheets_change(o, system_id, request_id);
                return r;
        }
        return 0;
}

int timers_set(struct orch *o, const char *kind, int64_t system_id, int64_t due) {
        return store_exec(o->store,
                          "INSERT INTO timers (kind, system_id, due) VALUES (?, ?, ?) "
                          "ON CONFLICT (kind, system_id) DO UPDATE SET due = excluded.due, fired = NULL",
                          STORE_ARGS(STORE_TEXT(kind), STORE_INT(system_id), STORE_INT(due)), NULL);
}

/* ---- replies outside an api_call (parked polls) ---- */

static void reply_req(struct orch *o, struct evhttp_request *req, int status, cJSON *doc) {
        _cleanup_free_ char *text = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        struct evbuffer *out = evbuffer_new();
        evbuffer_add_printf(out, "%s\n", text ?: "{}");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
        evhttp_send_reply(req, status, NULL, out);
        evbuffer_free(out);
        metrics_http(&o->metrics, status);
}

static void fail_store(struct api_call *c, int r) {
        store_rollback(c->o->store);
        log_error_errno(r, "%s %s: store failure", c->route->method, c->path);
        api_error(c, r == -EBUSY ? 503 : 500, "store_failure", "the store could not complete the operation");
}

/* ---- long-poll ---- */

struct waiter {
        struct waiter *next;
        struct orch *o;
        struct evhttp_request *req;
        struct evhttp_connection *conn;
        struct event *timer;
        char host[256];
};

static void waiter_unlink(struct orch *o, struct waiter *w) {
        for (struct waiter **p = &o->waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        if (w->conn)
                evhttp_connection_set_closecb(w->conn, NULL, NULL);
        if (w->timer)
                event_free(w->timer);
        free(w);
}

static int job_cb(const struct store_row *row, void *userdata) {
        cJSON *jobs = userdata;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "id", (double) row->v[0].i);
        cJSON_AddStringToObject(j, "kind", row->v[1].s);
        cJSON *payload = cJSON_Parse(row->v[2].s);
        const char *key = strncmp(row->v[1].s, "vpc.", 4) == 0      ? "vpc"
                          : strncmp(row->v[1].s, "tunnel.", 7) == 0 ? "tunnel"
                          : strcmp(row->v[1].s, "vm.wipe") == 0     ? "wipe"
                                                                    : "vm";
        cJSON_AddItemToObject(j, key, payload ?: cJSON_CreateObject());
        cJSON_AddItemToArray(jobs, j);
        return 0;
}

static int system_of_job_cb(const struct store_row *row, void *userdata) {
        int64_t *ids = userdata;
        for (size_t i = 0; i < 64; i++) {
                if (ids[i] == row->v[0].i)
                        return 0;
                if (ids[i] == 0) {
                        ids[i] = row->v[0].i;
                        return 0;
                }
        }
        return 0;
}

/* Take the host's queued jobs (marking them sent) into a reply; NULL when none. */
static cJSON *take_jobs(struct orch *o, const char *host) {
        _cleanup_(cJSON_Deletep) cJSON *jobs = cJSON_CreateArray();
        int64_t systems[64] = {};
        int r = store_begin(o->store);
        if (r < 0)
                return NULL;
        r = store_query(o->store, "SELECT id, kind, payload FROM jobs WHERE host = ? AND state = 'queued' ORDER BY id LIMIT 256",
                        STORE_ARGS(STORE_TEXT(host)), job_cb, jobs);
        if (r > 0)
                r = store_query(o->store, "SELECT DISTINCT v.system_id FROM jobs j JOIN vms v ON v.id = j.vm_id "
                                          "WHERE j.host = ? AND j.state = 'queued'",
                                STORE_ARGS(STORE_TEXT(host)), system_of_job_cb, systems);
        if (r > 0) {
                const cJSON *j;
                cJSON_ArrayForEach(j, jobs) {
                        r = store_exec(o->store, "UPDATE jobs SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                                       STORE_ARGS(STORE_INT(real_now()), STORE_INT(int_at(j, "id", 0))), NULL);
                        if (r < 0)
                                break;
                }
                /* The first job sent moves an accepted system to provisioning. */
                for (size_t i = 0; r >= 0 && i < 64 && systems[i]; i++)
                        r = dispatch_stage(o, systems[i], "requested", "provisioning", "R-LC1", NULL);
        }
        if (r < 0 || store_commit(o->store) < 0) {
                store_rollback(o->store);
                return NULL;
        }
        if (cJSON_GetArraySize(jobs) == 0)
                return NULL;
        log_info("host %s: %d job%s sent", host, cJSON_GetArraySize(jobs), cJSON_GetArraySize(jobs) == 1 ? "" : "s");
        orch_notify_kick(o);
        return TAKE_PTR(jobs);
}

static void reply_jobs(struct orch *o, struct evhttp_request *req, cJSON *jobs) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "jobs", jobs ?: cJSON_CreateArray());
        reply_req(o, req, 200, doc);
}

static bool waiter_alive(struct waiter *w);

static void waiter_timeout(evutil_socket_t fd, short events, void *userdata) {
        struct waiter *w = userdata;
        struct orch *o = w->o;
        (void) fd;
        (void) events;
        cJSON *jobs = waiter_alive(w) ? take_jobs(o, w->host) : NULL;
        struct evhttp_request *req = w->req;
        waiter_unlink(o, w);
        reply_jobs(o, req, jobs);
}

static void waiter_closed(struct evhttp_connection *conn, void *userdata) {
        struct waiter *w = userdata;
        (void) conn;
        w->conn = NULL;
        log_debug("host %s: long-poll connection closed", w->host);
        waiter_unlink(w->o, w);
}

/* A host polls on one connection at a time: a parked poll of the same host
 * belongs to a connection the agent has given up (a restart, a network
 * cut the TLS layer did not report). Answer it empty, so no job is handed
 * to it. */
static void drop_waiters(struct orch *o, const char *host) {
        for (struct waiter *w = o->waiters, *next; w; w = next) {
                next = w->next;
                if (strcmp(w->host, host) != 0)
                        continue;
                struct evhttp_request *req = w->req;
                waiter_unlink(o, w);
                log_debug("host %s: an older long-poll is dropped", host);
                reply_jobs(o, req, NULL);
        }
}

/* Is the parked poll's client still there? evhttp stops reading a
 * connection while a request is in hand, so it does not notice the peer
 * leaving. A client waiting for its answer sends nothing: anything to read
 * (a TLS close_notify) or an end of file means it is gone. */
static bool waiter_alive(struct waiter *w) {
        struct bufferevent *bev = w->conn ? evhttp_connection_get_bufferevent(w->conn) : NULL;
        evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
        char b;
        if (fd < 0)
                return false;
        ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

void dispatch_wake(struct orch *o) {
        for (struct waiter *w = o->waiters, *next; w; w = next) {
                next = w->next;
                if (!waiter_alive(w)) {
                        log_debug("host %s: its parked long-poll is gone", w->host);
                        waiter_unlink(o, w);
                        continue;
                }
                cJSON *jobs = take_jobs(o, w->host);
                if (!jobs)
                        continue;
                struct evhttp_request *req = w->req;
                waiter_unlink(o, w);
                reply_jobs(o, req, jobs);
        }
}

void agent_jobs(struct api_call *c) {
        struct orch *o = c->o;
        const char *wait_s = api_query(c, "wait");
        long wait = wait_s ? strtol(wait_s, NULL, 10) : 0;
        if (wait < 0)
                wait = 0;
        if (wait > DISPATCH_POLL_SECONDS)
                wait = DISPATCH_POLL_SECONDS;

        drop_waiters(o, c->who->name);
        /* An agent posts the results of one poll's jobs before it polls
         * again (wire.h): a job still "sent" now went to a poll the agent
         * never saw (a connection that died while parked). */
        int64_t lost = 0;
        if (store_exec(o->store, "UPDATE jobs SET state = 'queued' WHERE host = ? AND state = 'sent'",
                       STORE_ARGS(STORE_TEXT(c->who->name)), &lost) >= 0 && lost > 0)
                log_notice("host %s: %lld job%s sent on a poll it never received: sending again", c->who->name,
                           (long long) lost, lost == 1 ? "" : "s");
        cJSON *jobs = take_jobs(o, c->who->name);
        if (jobs || wait == 0) {
                cJSON *doc = cJSON_CreateObject();
                cJSON_AddItemToObject(doc, "jobs", jobs ?: cJSON_CreateArray());
                api_reply(c, 200, doc);
                return;
        }
        struct waiter *w = xnew(struct waiter, 1);
        w->o = o;
        w->req = c->req;
        w->conn = evhttp_request_get_connection(c->req);
        snprintf(w->host, sizeof w->host, "%s", c->who->name);
        w->timer = evtimer_new(o->base, waiter_timeout, w);
        struct timeval tv = { .tv_sec = wait };
        evtimer_add(w->timer, &tv);
        if (w->conn)
                evhttp_connection_set_closecb(w->conn, waiter_closed, w);
        w->next = o->waiters;
        o->waiters = w;
        c->replied = true;      /* the reply comes later */
}

/* ---- hello, results, inventory ---- */

/* One audit record by the calling host, inside the current transaction;
 * takes detail (may be NULL). */
static int audit_host(struct api_call *c, const char *action, const char *object, const char *outcome, const char *rule,
                      cJSON *detail) {
        struct orch *o = c->o;
        struct audit_entry e = { .time = orch_now(o), .actor = c->who->name, .role = "host", .action = action,
                                 .object = object, .approval = "", .outcome = outcome, .rule = rule ?: "", .detail = detail };
        int r = audit_append(o->store, o->audit_hash, &e, NULL);
        cJSON_Delete(detail);
        if (r >= 0)
                o->metrics.audit_records++;
        return r;
}

/* A host that was down reports again (hello or inventory). */
static int host_back_up(struct api_call *c, const char *prev_state) {
        if (!prev_state || strcmp(prev_state, "down") != 0)
                return 0;
        char object[300];
        snprintf(object, sizeof object, "host:%s", c->who->name);
        log_notice("host %s is up again", c->who->name);
        return audit_host(c, "host.up", object, "recorded", "", NULL);
}

void agent_hello(struct api_call *c) {
        struct orch *o = c->o;
        const cJSON *cap = cJSON_GetObjectItemCaseSensitive(c->body, "capacity");
        int64_t was_sent = 0;
        _cleanup_free_ char *prev_state = NULL;

        drop_waiters(o, c->who->name);
        int r = store_begin(o->store);
        if (r >= 0)
                r = store_query_text(o->store, "SELECT state FROM hosts WHERE name = ?", STORE_ARGS(STORE_TEXT(c->who->name)),
                                     &prev_state);
        if (r >= 0)
                r = store_exec(o->store,
                               "UPDATE hosts SET vcpus = ?, memory_mib = ?, storage_gib = ?, arch = ?, hypervisor = ?, last_seen = ?, "
                               "state = 'up', wipe_key = ? WHERE name = ?",
                               STORE_ARGS(STORE_INT(int_at(cap, "vcpus", 0)), STORE_INT(int_at(cap, "memory_mib", 0)),
                                          STORE_INT(int_at(cap, "storage_gib", 0)), STORE_TEXT(str_at(cap, "arch")),
                                          STORE_TEXT(str_at(c->body, "hypervisor")), STORE_INT(real_now()),
                                          STORE_TEXT(str_at(c->body, "wipe_key")), STORE_TEXT(c->who->name)),
                               NULL);
        /* Jobs sent before this hello may not have arrived: send them again. */
        if (r >= 0)
                r = store_exec(o->store, "UPDATE jobs SET state = 'queued' WHERE host = ? AND state = 'sent'",
                               STORE_ARGS(STORE_TEXT(c->who->name)), &was_sent);
        if (r >= 0) {
                cJSON *detail = cJSON_Duplicate(c->body, true);
                cJSON_AddNumberToObject(detail, "jobs_resent", (double) was_sent);
                char object[300];
                snprintf(object, sizeof object, "host:%s", c->who->name);
                r = audit_host(c, "host.hello", object, "recorded", "", detail);
        }
        if (r >= 0)
                r = host_back_up(c, prev_state);
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                return fail_store(c, r);
        log_info("host %s: hello, %ld vCPUs, %ld MiB, %ld GiB, %s (%s); %lld job%s to send again", c->who->name,
                 int_at(cap, "vcpus", 0), int_at(cap, "memory_mib", 0), int_at(cap, "storage_gib", 0), str_at(cap, "arch"),
                 str_at(c->body, "hypervisor") ?: "?", (long long) was_sent, was_sent == 1 ? "" : "s");
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "host", c->who->name);
        cJSON_AddNumberToObject(doc, "heartbeat_seconds", DISPATCH_HEARTBEAT_SECONDS);
        cJSON_AddNumberToObject(doc, "poll_seconds", DISPATCH_POLL_SECONDS);
        /* The clock tunnel deadlines are on (include/gc/wire.h). */
        cJSON_AddNumberToObject(doc, "time", (double) orch_now(o));
        api_reply(c, 200, doc);
        dispatch_wake(o);
}

/* Do the labels the hypervisor holds match what the VM should carry? (R-NM3) */
static bool labels_match(const struct vm_row *v, const cJSON *state) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(state, "labels");
        const char *title = str_at(state, "title");
        return title && strcmp(title, v->name) == 0 && l &&
               str_at(l, "unit") && strcmp(str_at(l, "unit"), v->unit) == 0 &&
               str_at(l, "system") && strcmp(str_at(l, "system"), v->system) == 0 &&
               str_at(l, "role") && strcmp(str_at(l, "role"), v->role) == 0 &&
               int_at(l, "number", -1) == v->number && int_at(l, "request", -1) == v->request &&
               str_at(l, "pool") && strcmp(str_at(l, "pool"), v->pool) == 0;
}

struct job_row {
        bool found;
        char host[256], state[16], kind[16];
        int64_t vm_id, vpc_id, request_id, tunnel_id;
};

static int job_row_cb(const struct store_row *row, void *userdata) {
        struct job_row *j = userdata;
        j->found = true;
        snprintf(j->host, sizeof j->host, "%s", row->v[0].s);
        snprintf(j->state, sizeof j->state, "%s", row->v[1].s);
        snprintf(j->kind, sizeof j->kind, "%s", row->v[2].s);
        j->vm_id = row->v[3].type == STORE_INT ? row->v[3].i : 0;
        j->request_id = row->v[4].type == STORE_INT ? row->v[4].i : 0;
        j->vpc_id = row->v[5].type == STORE_INT ? row->v[5].i : 0;
        j->tunnel_id = row->v[6].type == STORE_INT ? row->v[6].i : 0;
        return 0;
}

/* Remember a system whose lifecycle may move (at most 64 per call). */
static void note_system(int64_t *systems, size_t *n_systems, int64_t sys) {
        for (size_t i = 0; i < *n_systems; i++)
                if (systems[i] == sys)
                        return;
        if (*n_systems < 64)
                systems[(*n_systems)++] = sys;
}

static int apply_result(struct api_call *c, const cJSON *res, int64_t *systems, size_t *n_systems) {
        struct orch *o = c->o;
        struct job_row j = {};
        int64_t id = int_at(res, "job", 0);
        bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "ok"));
        int r = store_query(o->store, "SELECT host, state, kind, vm_id, request_id, vpc_id, tunnel_id FROM jobs WHERE id = ?",
                            STORE_ARGS(STORE_INT(id)), job_row_cb, &j);
        if (r < 0)
                return r;
        if (!j.found || strcmp(j.host, c->who->name) != 0) {
                log_warning("host %s: result for job %lld, which is not its job: ignored", c->who->name, (long long) id);
                return 0;
        }
        if (strcmp(j.state, "done") == 0 || strcmp(j.state, "failed") == 0)
                return 0;       /* a repeated result */

        const cJSON *vm = cJSON_GetObjectItemCaseSensitive(res, "vm");
        _cleanup_free_ char *result = cJSON_PrintUnformatted(res);
        r = store_exec(o->store, "UPDATE jobs SET state = ?, done_at = ?, result = ? WHERE id = ?",
                       STORE_ARGS(STORE_TEXT(ok ? "done" : "failed"), STORE_INT(real_now()), STORE_TEXT(result), STORE_INT(id)),
                       NULL);
        if (r < 0)
                return r;

        if (j.tunnel_id)
                return tunnels_job_result(c, id, j.kind, j.tunnel_id, ok, res);
        if (j.vpc_id) {
                int64_t sys = 0;
                cJSON *detail = NULL;
                r = vpc_job_result(o, id, j.host, j.vpc_id, j.kind, ok, res, &sys, &detail);
                if (r < 0)
                        return r;
                note_system(systems, n_systems, sys);
                char object[64];
                snprintf(object, sizeof object, "job:%lld", (long long) id);
                if (ok)
                        log_info("host %s: job %lld %s vni %ld: %s", j.host, (long long) id, j.kind, int_at(detail, "vni", 0),
                                 str_at(detail, "actions") ?: "done");
                else
                        log_warning("host %s: job %lld %s vni %ld failed: %s", j.host, (long long) id, j.kind, int_at(detail, "vni", 0),
                                    str_at(res, "error") ?: "?");
                return audit_host(c, ok ? "job.done" : "job.failed", object, ok ? "done" : "failed", "R-NW1", detail);
        }

        if (strcmp(j.kind, "vm.wipe") == 0) {
                /* R-EX3: the volumes' certificates, checked and kept. */
                int64_t sys = 0;
                cJSON *detail = NULL;
                r = reclaim_job_result(o, id, j.host, j.kind, j.vm_id, ok, res, &sys, &detail);
                if (r < 0)
                        return r;
                note_system(systems, n_systems, sys);
                ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(detail, "ok"));
                char object[64];
                snprintf(object, sizeof object, "job:%lld", (long long) id);
                if (ok)
                        log_info("host %s: job %lld vm.wipe %s: %d volume%s wiped and certified", j.host, (long long) id,
                                 str_at(detail, "vm"), cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(detail, "volumes")),
                                 cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(detail, "volumes")) == 1 ? "" : "s");
                else
                        log_warning("host %s: job %lld vm.wipe %s failed: %s", j.host, (long long) id, str_at(detail, "vm"),
                                    str_at(detail, "error") ?: "?");
                return audit_host(c, ok ? "job.done" : "job.failed", object, ok ? "done" : "failed", "R-EX3", detail);
        }

        struct vm_row v = {};
        if (j.vm_id && vm_load(o, j.vm_id, &v) >= 0) {
                _cleanup_free_ char *observed = vm ? cJSON_PrintUnformatted(vm) : NULL;
                const char *state;
                if (!ok)
                        state = "failed";
                else if (strcmp(j.kind, "vm.delete") == 0)
                        state = "deleted";
                else
                        state = strcmp(str_at(vm, "state") ?: "", "running") == 0 ? "running" : "stopped";
                const char *labels = ok && vm && strcmp(j.kind, "vm.ensure") == 0 ? (labels_match(&v, vm) ? "in_sync" : "drifted") : "unknown";
                r = store_exec(o->store, "UPDATE vms SET state = ?, observed = COALESCE(?, observed), labels_state = ? WHERE id = ?",
                               STORE_ARGS(STORE_TEXT(state), STORE_TEXT(observed), STORE_TEXT(labels), STORE_INT(j.vm_id)), NULL);
                int64_t sys = 0;
                if (r >= 0)
                        r = store_query_int(o->store, "SELECT system_id FROM vms WHERE id = ?", STORE_ARGS(STORE_INT(j.vm_id)), &sys);
                if (r >= 0)
                        note_system(systems, n_systems, sys);
                cJSON *detail = cJSON_CreateObject();
                cJSON_AddNumberToObject(detail, "job", (double) id);
                cJSON_AddStringToObject(detail, "kind", j.kind);
                cJSON_AddStringToObject(detail, "vm", v.name);
                cJSON_AddStringToObject(detail, "uuid", v.uuid);
                cJSON_AddStringToObject(detail, "host", j.host);
                cJSON_AddNumberToObject(detail, "system", (double) sys);
                cJSON_AddStringToObject(detail, "state", state);
                if (!ok)
                        cJSON_AddStringToObject(detail, "error", str_at(res, "error") ?: "");
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(vm, "recreated")))
                        cJSON_AddTrueToObject(detail, "recreated");
                char object[64];
                snprintf(object, sizeof object, "job:%lld", (long long) id);
                /* A stop is a step of the reclaim (R-EX3); so is a delete during one. */
                _cleanup_free_ char *sys_state = NULL;
                if (r >= 0)
                        r = store_query_text(o->store, "SELECT state FROM systems WHERE id = ?", STORE_ARGS(STORE_INT(sys)), &sys_state);
                bool reclaim = r >= 0 && (strcmp(sys_state, "draining") == 0 || strcmp(sys_state, "wiping") == 0);
                if (r >= 0)
                        r = audit_host(c, ok ? "job.done" : "job.failed", object, ok ? "done" : "failed", reclaim ? "R-EX3" : "", detail);
                else
                        cJSON_Delete(detail);
                if (ok)
                        log_info("host %s: job %lld %s %s: %s", j.host, (long long) id, j.kind, v.name, state);
                else
                        log_warning("host %s: job %lld %s %s failed: %s", j.host, (long long) id, j.kind, v.name,
                                    str_at(res, "error") ?: "?");
        }
        vm_row_done(&v);
        return r;
}

void agent_results(struct api_call *c) {
        struct orch *o = c->o;
        int64_t systems[64];
        size_t n_systems = 0;
        const cJSON *res;
        int accepted = 0;

        int r = store_begin(o->store);
        cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(c->body, "results")) {
                if (r < 0)
                        break;
                r = apply_result(c, res, systems, &n_systems);
                accepted++;
        }
        for (size_t i = 0; r >= 0 && i < n_systems; i++)
                r = progress(o, systems[i]);
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                return fail_store(c, r);
        orch_notify_kick(o);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "accepted", accepted);
        api_reply(c, 200, doc);
        dispatch_wake(o);
}

struct host_vm {
        int64_t id;
        char uuid[40];
};

struct host_vms {
        struct host_vm *v;
        size_t n;
};

static int host_vm_cb(const struct store_row *row, void *userdata) {
        struct host_vms *h = userdata;
        h->v = xrealloc(h->v, (h->n + 1) * sizeof *h->v);
        h->v[h->n].id = row->v[0].i;
        snprintf(h->v[h->n].uuid, sizeof h->v[h->n].uuid, "%s", row->v[1].s);
        h->n++;
        return 0;
}

void agent_inventory(struct api_call *c) {
        struct orch *o = c->o;
        const cJSON *domains = cJSON_GetObjectItemCaseSensitive(c->body, "domains");
        struct host_vms vms = {};
        long drift = 0, missing = 0;
        _cleanup_free_ char *prev_state = NULL;

        int r = store_begin(o->store);
        if (r >= 0)
                r = store_query_text(o->store, "SELECT state FROM hosts WHERE name = ?", STORE_ARGS(STORE_TEXT(c->who->name)), &prev_state);
        if (r >= 0)
                r = store_exec(o->store, "UPDATE hosts SET last_seen = ?, state = 'up' WHERE name = ?",
                               STORE_ARGS(STORE_INT(real_now()), STORE_TEXT(c->who->name)), NULL);
        if (r >= 0)
                r = host_back_up(c, prev_state);
        /* The VMs this host should hold: those whose creation is done. */
        if (r >= 0)
                r = store_query(o->store,
                                "SELECT v.id, v.uuid FROM vms v WHERE v.host = ? AND v.state IN ('running', 'stopped') "
                                "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.vm_id = v.id AND j.state IN ('queued', 'sent'))",
                                STORE_ARGS(STORE_TEXT(c->who->name)), host_vm_cb, &vms);
        for (size_t i = 0; r >= 0 && i < vms.n; i++) {
                const cJSON *found = NULL, *d;
                cJSON_ArrayForEach(d, domains)
                        if (str_at(d, "uuid") && strcmp(str_at(d, "uuid"), vms.v[i].uuid) == 0)
                                found = d;
                struct vm_row v = {};
                r = vm_load(o, vms.v[i].id, &v);
                if (r < 0) {
                        vm_row_done(&v);
                        break;
                }
                cJSON *detail = NULL;
                const char *action = NULL, *rule = "";
                if (found) {
                        /* What the hypervisor says is the VM's state now. */
                        _cleanup_free_ char *observed = cJSON_PrintUnformatted(found);
                        const char *state = strcmp(str_at(found, "state") ?: "", "running") == 0 ? "running" : "stopped";
                        int64_t changed = 0;
                        r = store_exec(o->store, "UPDATE vms SET observed = ?, state = ? WHERE id = ? AND state <> ?",
                                       STORE_ARGS(STORE_TEXT(observed), STORE_TEXT(state), STORE_INT(vms.v[i].id), STORE_TEXT(state)),
                                       &changed);
                        if (r >= 0 && changed) {
                                int64_t sys = 0;
                                r = store_query_int(o->store, "SELECT system_id FROM vms WHERE id = ?", STORE_ARGS(STORE_INT(vms.v[i].id)), &sys);
                                if (r >= 0)
                                        r = progress(o, sys);
                                log_info("host %s: %s is %s", c->who->name, v.name, state);
                        }
                        if (r < 0) {
                                vm_row_done(&v);
                                break;
                        }
                }
                if (!found) {
                        /* The hypervisor lost it (a restart of a transient host): create it again. */
                        action = "vm.missing";
                        detail = cJSON_CreateObject();
                        missing++;
                } else if (!labels_match(&v, found)) {
                        /* R-NM3: labels changed behind the orchestrator's back; repair. */
                        action = "vm.drift";
                        rule = "R-NM3";
                        detail = cJSON_CreateObject();
                        cJSON_AddItemToObject(detail, "expected", labels_json(&v));
                        cJSON_AddStringToObject(detail, "expected_title", v.name);
                        const cJSON *fl = cJSON_GetObjectItemCaseSensitive(found, "labels");
                        cJSON_AddItemToObject(detail, "found", fl ? cJSON_Duplicate(fl, true) : cJSON_CreateNull());
                        const cJSON *ft = cJSON_GetObjectItemCaseSensitive(found, "title");
                        cJSON_AddItemToObject(detail, "found_title", ft ? cJSON_Duplicate(ft, true) : cJSON_CreateNull());
                        drift++;
                }
                if (action) {
                        cJSON_AddStringToObject(detail, "vm", v.name);
                        cJSON_AddStringToObject(detail, "uuid", v.uuid);
                        cJSON_AddStringToObject(detail, "host", c->who->name);
                        char vobj[64];
                        snprintf(vobj, sizeof vobj, "vm:%lld", (long long) vms.v[i].id);
                        r = audit_host(c, action, vobj, "recorded", rule, detail);
                        if (r >= 0)
                                r = store_exec(o->store, "UPDATE vms SET labels_state = ? WHERE id = ?",
                                               STORE_ARGS(STORE_TEXT(found ? "drifted" : "unknown"), STORE_INT(vms.v[i].id)), NULL);
                        if (r >= 0)
                                r = dispatch_enqueue(o, vms.v[i].id, 0, "vm.ensure");
                        log_notice("host %s: %s %s: a repair job is queued", c->who->name,
                                   found ? "labels drifted on" : "hypervisor lost", v.name);
                }
                vm_row_done(&v);
        }
        free(vms.v);
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                return fail_store(c, r);
        if (drift || missing)
                orch_notify_kick(o);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "drift", drift);
        cJSON_AddNumberToObject(doc, "missing", missing);
        api_reply(c, 200, doc);
        if (drift || missing)
                dispatch_wake(o);
}

/* ---- VMs ---- */

void get_vms(struct api_call *c) {
        int64_t sys = 0;
        const char *s = api_query(c, "system");
        if (s) {
                char *end;
                sys = strtoll(s, &end, 10);
                if (*end || sys < 1) {
                        struct gc_error err = {};
                        gc_error_set(&err, "invalid_query", "", "system", s, "is not a system id");
                        cJSON *doc = cJSON_CreateObject();
                        cJSON *e = cJSON_AddObjectToObject(doc, "error");
                        cJSON_AddStringToObject(e, "code", err.code);
                        cJSON_AddStringToObject(e, "field", err.field);
                        cJSON_AddStringToObject(e, "value", err.value);
                        cJSON_AddStringToObject(e, "message", err.message);
                        cJSON_AddStringToObject(e, "rule", "");
                        api_reply(c, 400, doc);
                        return;
                }
        }
        bool tenant = c->who->role == ROLE_TENANT;
        _cleanup_(cJSON_Deletep) cJSON *rows = NULL;
        int r = store_query_json(c->o->store,
                                 "SELECT v.id, v.name, v.system_id, s.name AS system, u.name AS unit, v.role, v.number, v.uuid, v.host, "
                                 "v.state, v.labels_state, v.spec AS \"spec@json\", v.observed AS \"observed@json\", v.request_id "
                                 "FROM vms v JOIN systems s ON s.id = v.system_id JOIN units u ON u.id = s.unit_id "
                                 "WHERE (? = 0 OR v.system_id = ?) AND (? = 0 OR u.name = ?) ORDER BY v.host, v.id",
                                 STORE_ARGS(STORE_INT(sys), STORE_INT(sys), STORE_INT(tenant), STORE_TEXT(c->who->name)), &rows);
        if (r < 0)
                return fail_store(c, r);
        cJSON *vm;
        cJSON_ArrayForEach(vm, rows) {
                cJSON *spec = cJSON_DetachItemFromObjectCaseSensitive(vm, "spec");
                static const char *const keys[] = { "arch", "vcpus", "memory_gib", "system_disk", "data_disk", "os", "network", "ports" };
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        cJSON *item = cJSON_DetachItemFromObjectCaseSensitive(spec, keys[i]);
                        if (item)
                                cJSON_AddItemToObject(vm, keys[i], item);
                }
                cJSON_Delete(spec);
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "vms", TAKE_PTR(rows));
        api_reply(c, 200, doc);
}

/* ---- timers, stale jobs, liveness ---- */

struct due_timer {
        int64_t id, system_id;
        char kind[32];
};

struct due_timers {
        struct due_timer v[64];
        size_t n;
};

static int due_cb(const struct store_row *row, void *userdata) {
        struct due_timers *d = userdata;
        if (d->n < ELEMENTSOF(d->v)) {
                d->v[d->n].id = row->v[0].i;
                snprintf(d->v[d->n].kind, sizeof d->v[d->n].kind, "%s", row->v[1].s);
                d->v[d->n].system_id = row->v[2].i;
                d->n++;
        }
        return 0;
}

static int down_cb(const struct store_row *row, void *userdata) {
        struct due_timers *d = userdata;      /* reuses the shape: names in kind */
        if (d->n < ELEMENTSOF(d->v)) {
                snprintf(d->v[d->n].kind, sizeof d->v[d->n].kind, "%s", row->v[0].s);
                d->n++;
        }
        return 0;
}

void dispatch_tick(struct orch *o) {
        struct due_timers due = {}, down = {};
        int64_t resent = 0;
        bool changed = false;

        int r = store_begin(o->store);
        if (r < 0)
                return;
        r = store_query(o->store, "SELECT id, kind, system_id FROM timers WHERE fired IS NULL AND due <= ? ORDER BY due",
                        STORE_ARGS(STORE_INT(orch_now(o))), due_cb, &due);
        for (size_t i = 0; r >= 0 && i < due.n; i++) {
                if (strcmp(due.v[i].kind, "trial_end") == 0) {
                        _cleanup_free_ char *state = NULL;
                        r = store_query_text(o->store, "SELECT state FROM systems WHERE id = ?", STORE_ARGS(STORE_INT(due.v[i].system_id)), &state);
                        if (r < 0)
                                break;
                        if (strcmp(state, "trial") != 0)
                                continue;       /* changing or suspended: fires when it is back in trial */
                        /* R-LC2: the trial is over; the go-live sheet comes next. */
                        r = dispatch_stage(o, due.v[i].system_id, "trial", "awaiting_golive", "R-LC2", NULL);
                        /* R-LC3: the go-live sheet, for the three parties to sign. */
                        if (r >= 0)
                                r = sheets_golive(o, due.v[i].system_id);
                } else if (strcmp(due.v[i].kind, "exit_grace") == 0)
                        r = reclaim_grace_ended(o, due.v[i].system_id);         /* R-EX2 */
                else if (strcmp(due.v[i].kind, "reclaim") == 0)
                        r = reclaim_advance(o, due.v[i].system_id);             /* R-EX3 */
                if (r >= 0)
                        r = store_exec(o->store, "UPDATE timers SET fired = ? WHERE id = ?",
                                       STORE_ARGS(STORE_INT(orch_now(o)), STORE_INT(due.v[i].id)), NULL);
                changed = true;
        }
        if (r >= 0)
                r = store_exec(o->store, "UPDATE jobs SET state = 'queued' WHERE state = 'sent' AND sent_at < ?",
                               STORE_ARGS(STORE_INT(real_now() - DISPATCH_RESEND_SECONDS)), &resent);
        if (r >= 0)
                r = store_query(o->store, "SELECT name FROM hosts WHERE state = 'up' AND last_seen < ?",
                                STORE_ARGS(STORE_INT(real_now() - DISPATCH_DOWN_AFTER_SECONDS)), down_cb, &down);
        for (size_t i = 0; r >= 0 && i < down.n; i++) {
                char object[64];
                snprintf(object, sizeof object, "host:%s", down.v[i].kind);
                r = store_exec(o->store, "UPDATE hosts SET state = 'down' WHERE name = ?", STORE_ARGS(STORE_TEXT(down.v[i].kind)), NULL);
                if (r >= 0)
                        r = orch_audit(o, "host.down", object, "", NULL);
                log_warning("host %s missed its heartbeats: marked down", down.v[i].kind);
                changed = true;
        }
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0) {
                store_rollback(o->store);
                log_warning_errno(r, "timers and job resending could not run; trying again");
                return;
        }
        if (changed) {
                orch_notify_kick(o);
                dispatch_wake(o);       /* a timer may have queued jobs */
        }
        /* R-RS7: on the 1st, the month before's reports and recommendations. */
        (void) usage_monthly_tick(o);
        if (resent > 0) {
                log_notice("%lld job%s sent without a result for %d s: sending again", (long long) resent,
                           resent == 1 ? "" : "s", DISPATCH_RESEND_SECONDS);
                dispatch_wake(o);
        }
}

static void on_tick(evutil_socket_t fd, short events, void *userdata) {
        (void) fd;
        (void) events;
        dispatch_tick(userdata);
}

void dispatch_start(struct orch *o) {
        o->tick = event_new(o->base, -1, EV_PERSIST, on_tick, o);
        struct timeval tv = { .tv_sec = 1 };
        event_add(o->tick, &tv);
        dispatch_tick(o);
}

void dispatch_stop(struct orch *o) {
        while (o->waiters) {
                struct evhttp_request *req = o->waiters->req;
                waiter_unlink(o, o->waiters);
                if (o->http)
                        reply_jobs(o, req, NULL);
        }
        if (o->tick)
                event_free(o->tick);
        o->tick = NULL;
}

/* ---- the test clock ---- */

void post_test_clock(struct api_call *c) {
        struct orch *o = c->o;
        if (!o->test_clock)
                return api_error(c, 404, "not_found", "the test clock is off (gc-orchestrator --unsafe-test-clock)");
        int64_t advance = int_at(c->body, "advance_seconds", 0);
        char value[32];
        int r = store_begin(o->store);
        o->clock_offset += advance;
        snprintf(value, sizeof value, "%lld", (long long) o->clock_offset);
        if (r >= 0)
                r = store_exec(o->store, "INSERT INTO settings (key, value) VALUES ('clock_offset', ?) "
                                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               STORE_ARGS(STORE_TEXT(value)), NULL);
        if (r >= 0) {
                cJSON *detail = cJSON_CreateObject();
                cJSON_AddNumberToObject(detail, "advance_seconds", (double) advance);
                cJSON_AddNumberToObject(detail, "offset_seconds", (double) o->clock_offset);
                struct audit_entry e = { .time = orch_now(o), .actor = c->who->name, .role = "authority", .action = "clock.advanced",
                                         .object = "", .approval = "", .outcome = "recorded", .rule = "", .detail = detail };
                r = audit_append(o->store, o->audit_hash, &e, NULL);
                cJSON_Delete(detail);
        }
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0) {
                o->clock_offset -= advance;
                return fail_store(c, r);
        }
        o->metrics.audit_records++;
        log_warning("test clock moved forward %lld s (offset now %lld s)", (long long) advance, (long long) o->clock_offset);
        dispatch_tick(o);
        char t[32];
        store_format_time(orch_now(o), t);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "now", t);
        cJSON_AddNumberToObject(doc, "offset_seconds", (double) o->clock_offset);
        api_reply(c, 200, doc);
}
