/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "alloc.h"
#include "api.h"
#include "audit.h"
#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "crypto.h"
#include "dispatch.h"
#include "jcs.h"
#include "json.h"
#include "log.h"
#include "orch.h"
#include "pack.h"
#include "reclaim.h"
#include "sheets.h"
#include "store.h"
#include "vpc.h"
#include "wipecert.h"

/* The exit form's wording (L exit form; R-EX2). */
#define STATEMENT_ZH "本单位已完成该业务系统在政务云上全部数据的迁移和备份，无需继续保留，同意云服务商对其数据进行安全清除并回收全部资源。"
#define STATEMENT_EN "This unit has migrated and backed up all data of this business system on the government cloud, " \
                     "needs none of it kept, and agrees that the provider securely destroys the data and reclaims every resource."

/* Live: not yet gone. A VM released by an earlier change is deleted already. */
#define LIVE "v.state NOT IN ('deleted')"

struct exit_row {
        bool found;
        int64_t system_id, request_id, grace_until, unit_id, statement_key;
        char initiator[16], ground[32], step[16], state[32], return_state[32], pool[128];
        char *statement, *statement_hash, *problem, *approval;
        bool ordered;
};

static void exit_row_done(struct exit_row *e) {
        free(e->statement);
        free(e->statement_hash);
        free(e->problem);
        free(e->approval);
}

static int exit_row_cb(const struct store_row *row, void *userdata) {
        struct exit_row *e = userdata;
        e->found = true;
        e->system_id = row->v[0].i;
        e->request_id = row->v[1].i;
        snprintf(e->initiator, sizeof e->initiator, "%s", row->v[2].s);
        snprintf(e->ground, sizeof e->ground, "%s", row->v[3].s);
        e->grace_until = row->v[4].type == STORE_INT ? row->v[4].i : 0;
        e->statement = xstrdup(row->v[5].s);
        e->statement_hash = xstrdup(row->v[6].s);
        e->statement_key = row->v[7].type == STORE_INT ? row->v[7].i : 0;
        e->ordered = row->v[8].type == STORE_TEXT;
        snprintf(e->step, sizeof e->step, "%s", row->v[9].s);
        e->problem = row->v[10].type == STORE_TEXT ? xstrdup(row->v[10].s) : NULL;
        snprintf(e->state, sizeof e->state, "%s", row->v[11].s);
        snprintf(e->return_state, sizeof e->return_state, "%s", row->v[12].type == STORE_TEXT ? row->v[12].s : "");
        snprintf(e->pool, sizeof e->pool, "%s", row->v[13].type == STORE_TEXT ? row->v[13].s : "");
        e->unit_id = row->v[14].i;
        e->approval = xstrdup(row->v[15].s);
        return 0;
}

static int exit_load(struct orch *o, int64_t system_id, struct exit_row *e) {
        *e = (struct exit_row) {};
        int r = store_query(o->store,
                            "SELECT x.system_id, x.request_id, x.initiator, x.ground, x.grace_until, x.statement, x.statement_hash, "
                            "x.statement_key, x.order_doc, x.step, x.problem, s.state, s.return_state, s.pool, s.unit_id, "
                            "q.approval_system || '/' || q.approval_id "
                            "FROM exits x JOIN systems s ON s.id = x.system_id JOIN requests q ON q.id = x.request_id "
                            "WHERE x.system_id = ?",
                            STORE_ARGS(STORE_INT(system_id)), exit_row_cb, e);
        if (r < 0)
                return r;
        return e->found ? 0 : -ENOENT;
}

static const struct pack *pack_of(struct orch *o, const char *pool) {
        const struct config_pool *p = config_pool(o->cfg, pool);
        return p ? p->pack : NULL;
}

static cJSON *system_object(int64_t system_id) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "system", (double) system_id);
        return d;
}

static void object_name(char object[64], int64_t system_id) {
        snprintf(object, 64, "system:%" PRId64, system_id);
}

/* ---- acceptance ---- */

int reclaim_exit_accepted(struct orch *o, int64_t system_id, int64_t request_id, const cJSON *doc,
                          const struct config_pool *pool) {
        const struct pack *pack = pool->pack;
        _cleanup_(cJSON_Deletep) cJSON *sys = NULL, *req = NULL;
        int64_t now = orch_now(o);
        int r = store_query_json_one(o->store, "SELECT s.id, s.name, u.name AS unit FROM systems s JOIN units u ON u.id = s.unit_id WHERE s.id = ?",
                                     STORE_ARGS(STORE_INT(system_id)), &sys);
        if (r >= 0)
                r = store_query_json_one(o->store, "SELECT id, approval_system || '/' || approval_id AS approval FROM requests WHERE id = ?",
                                         STORE_ARGS(STORE_INT(request_id)), &req);
        if (r < 0)
                return r;

        /* R-EX2: what the tenant signs, fixed now so that every party sees
         * the same bytes. */
        _cleanup_(cJSON_Deletep) cJSON *st = cJSON_CreateObject();
        char t[32];
        cJSON_AddStringToObject(st, "format", RECLAIM_STATEMENT_FORMAT);
        cJSON_AddItemToObject(st, "system", TAKE_PTR(sys));
        cJSON_AddItemToObject(st, "request", TAKE_PTR(req));
        cJSON_AddStringToObject(st, "statement", STATEMENT_ZH);
        cJSON_AddStringToObject(st, "statement_en", STATEMENT_EN);
        cJSON_AddStringToObject(st, "rule", "R-EX2");
        store_format_time(now, t);
        cJSON_AddStringToObject(st, "produced", t);
        struct gc_buf b = GC_BUF_INIT(65536);
        uint8_t md[GC_HASH_MAX];
        r = jcs_serialize(st, &b);
        if (r >= 0)
                r = crypto_digest(pack->hash, b.data, b.len, md);
        if (r < 0) {
                gc_buf_free(&b);
                return r;
        }
        _cleanup_free_ char *hex = crypto_hex(md, 32);
        _cleanup_free_ char *hash = xasprintf("%s:%s", crypto_hash_to_string(pack->hash), hex);

        int64_t grace_until = pack->exit.migration_grace_days > 0 ? now + pack->exit.migration_grace_days * 86400 : 0;
        r = store_exec(o->store,
                       "INSERT INTO exits (system_id, request_id, initiator, ground, requested, grace_until, statement, statement_hash, step, step_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'grace', ?)",
                       STORE_ARGS(STORE_INT(system_id), STORE_INT(request_id), STORE_TEXT(str_at(doc, "initiator") ?: "tenant"),
                                  STORE_TEXT(str_at(doc, "ground") ?: ""), STORE_INT(now),
                                  grace_until ? STORE_INT(grace_until) : STORE_NULL_VALUE, STORE_TEXT(b.data), STORE_TEXT(hash),
                                  STORE_INT(now)),
                       NULL);
        gc_buf_free(&b);
        if (r < 0)
                return r;
        /* R-EX2: the grace period for migration, as a timer that survives restarts. */
        if (grace_until)
                r = timers_set(o, "exit_grace", system_id, grace_until);
        return r;
}

/* ---- steps ---- */

static int set_step(struct orch *o, int64_t system_id, const char *step, cJSON *extra) {
        char object[64];
        object_name(object, system_id);
        int r = store_exec(o->store, "UPDATE exits SET step = ?, step_at = ?, problem = NULL WHERE system_id = ?",
                           STORE_ARGS(STORE_TEXT(step), STORE_INT(orch_now(o)), STORE_INT(system_id)), NULL);
        if (r < 0) {
                cJSON_Delete(extra);
                return r;
        }
        cJSON *d = extra ?: system_object(system_id);
        if (!cJSON_GetObjectItemCaseSensitive(d, "system"))
                cJSON_AddNumberToObject(d, "system", (double) system_id);
        cJSON_AddStringToObject(d, "step", step);
        r = orch_audit(o, "reclaim.step", object, "R-EX3", d);
        if (r >= 0)
                r = timers_set(o, "reclaim", system_id, orch_now(o));
        log_info("system %" PRId64 ": reclaim step %s", system_id, step);
        return r;
}

/* A step cannot go on: the reason, audited once; the provider retries. */
static int set_problem(struct orch *o, int64_t system_id, const char *step, const char *problem) {
        _cleanup_free_ char *old = NULL;
        int r = store_query_text(o->store, "SELECT problem FROM exits WHERE system_id = ?", STORE_ARGS(STORE_INT(system_id)), &old);
        if (r < 0 && r != -ENOENT)
                return r;
        if (old && strcmp(old, problem) == 0)
                return 0;
        r = store_exec(o->store, "UPDATE exits SET problem = ? WHERE system_id = ?",
                       STORE_ARGS(STORE_TEXT(problem), STORE_INT(system_id)), NULL);
        if (r < 0)
                return r;
        char object[64];
        object_name(object, system_id);
        cJSON *d = system_object(system_id);
        cJSON_AddStringToObject(d, "step", step);
        cJSON_AddStringToObject(d, "problem", problem);
        log_warning("system %" PRId64 ": reclaim stopped at %s: %s", system_id, step, problem);
        return orch_audit(o, "reclaim.stopped", object, "R-EX3", d);
}

struct ids {
        int64_t *v;
        size_t n;
};

static int ids_cb(const struct store_row *row, void *userdata) {
        struct ids *ids = userdata;
        ids->v = xrealloc(ids->v, (ids->n + 1) * sizeof *ids->v);
        ids->v[ids->n++] = row->v[0].i;
        return 0;
}

static cJSON *wipe_spec(struct orch *o, const struct exit_row *e, const char *uuid) {
        const struct pack *pack = pack_of(o, e->pool);
        const char *method = o->cfg->wipe_method;
        if (pack && pack->exit.wipe_method == PACK_WIPE_ZERO)
                method = "zero";
        else if (pack && pack->exit.wipe_method == PACK_WIPE_RANDOM)
                method = "random";
        else if (pack && pack->exit.wipe_method == PACK_WIPE_CRYPTO_ERASE)
                method = "crypto-erase";
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "uuid", uuid);
        cJSON_AddStringToObject(w, "method", method);                                   /* R-EX3 */
        cJSON_AddNumberToObject(w, "passes", pack && pack->exit.wipe_passes > 0 ? pack->exit.wipe_passes : 1);
        cJSON_AddStringToObject(w, "verify", pack && pack->exit.wipe_verify_sampled ? "sampled" : "full");
        cJSON_AddNumberToObject(w, "sample_blocks", (double) o->cfg->wipe_sample_blocks);
        cJSON_AddStringToObject(w, "approval", e->approval);                            /* R-AU3 */
        _cleanup_free_ char *op = xasprintf("provider:%s", o->cfg->provider_name);
        cJSON_AddStringToObject(w, "operator", op);
        return w;
}

/* Queue kind for every live VM of the system that has no such job done
 * (after a failure: those whose last one failed). */
static int queue_step_jobs(struct orch *o, const struct exit_row *e, const char *kind) {
        struct ids ids = {};
        int r = store_query(o->store,
                            "SELECT v.id FROM vms v WHERE v.system_id = ? AND " LIVE " AND NOT EXISTS "
                            "(SELECT 1 FROM jobs j WHERE j.vm_id = v.id AND j.kind = ? AND j.state IN ('queued', 'sent', 'done') "
                            " AND j.id > COALESCE((SELECT MAX(f.id) FROM jobs f WHERE f.vm_id = v.id AND f.kind = ? AND f.state = 'failed'), 0)) "
                            "ORDER BY v.id",
                            STORE_ARGS(STORE_INT(e->system_id), STORE_TEXT(kind), STORE_TEXT(kind)), ids_cb, &ids);
        for (size_t i = 0; r >= 0 && i < ids.n; i++) {
                if (strcmp(kind, "vm.wipe") == 0) {
                        _cleanup_free_ char *uuid = NULL;
                        r = store_query_text(o->store, "SELECT uuid FROM vms WHERE id = ?", STORE_ARGS(STORE_INT(ids.v[i])), &uuid);
                        if (r < 0)
                                break;
                        _cleanup_(cJSON_Deletep) cJSON *spec = wipe_spec(o, e, uuid);
                        _cleanup_free_ char *text = cJSON_PrintUnformatted(spec);
                        r = dispatch_enqueue_payload(o, ids.v[i], e->request_id, kind, text);
                } else {
                        if (strcmp(kind, "vm.delete") == 0)
                                r = store_exec(o->store, "UPDATE vms SET state = 'releasing' WHERE id = ?", STORE_ARGS(STORE_INT(ids.v[i])), NULL);
                        if (r >= 0)
                                r = dispatch_enqueue(o, ids.v[i], e->request_id, kind);
                }
        }
        free(ids.v);
        return r;
}

/* Jobs of kind for the system's VMs: still running, and the newest
 * failure's error when the newest job of some VM failed. */
static int step_jobs(struct orch *o, int64_t system_id, const char *kind, int64_t *ret_pending, char **ret_error) {
        int r = store_query_int(o->store,
                                "SELECT COUNT(*) FROM jobs j JOIN vms v ON v.id = j.vm_id WHERE v.system_id = ? AND j.kind = ? "
                                "AND j.state IN ('queued', 'sent')",
                                STORE_ARGS(STORE_INT(system_id), STORE_TEXT(kind)), ret_pending);
        if (r < 0)
                return r;
        *ret_error = NULL;
        _cleanup_(cJSON_Deletep) cJSON *failed = NULL;
        r = store_query_json(o->store,
                             "SELECT v.name, j.host, j.result AS \"result@json\" FROM jobs j JOIN vms v ON v.id = j.vm_id "
                             "WHERE v.system_id = ? AND " LIVE " AND j.kind = ? AND j.state = 'failed' "
                             "AND j.id = (SELECT MAX(k.id) FROM jobs k WHERE k.vm_id = v.id AND k.kind = ?) ORDER BY j.id DESC LIMIT 1",
                             STORE_ARGS(STORE_INT(system_id), STORE_TEXT(kind), STORE_TEXT(kind)), &failed);
        if (r < 0)
                return r;
        const cJSON *f = cJSON_GetArrayItem(failed, 0);
        if (f) {
                const cJSON *res = cJSON_GetObjectItemCaseSensitive(f, "result");
                const cJSON *refused = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "wipe"), "refused");
                if (refused)
                        *ret_error = xasprintf("%s of %s on %s refused: %s %s %s", kind, str_at(f, "name"), str_at(f, "host"),
                                               str_at(refused, "field") ?: "", str_at(refused, "value") ?: "",
                                               str_at(refused, "reason") ?: "");
                else
                        *ret_error = xasprintf("%s of %s on %s failed: %s", kind, str_at(f, "name"), str_at(f, "host"),
                                               str_at(res, "error") ?: "no reason given");
        }
        return 0;
}

static int count(struct orch *o, const char *sql, int64_t system_id, int64_t *ret) {
        return store_query_int(o->store, sql, STORE_ARGS(STORE_INT(system_id)), ret);
}

/* R-LC5: every VM the exit releases, with its volumes' certificates, and
 * the network: gathered before the VPC row goes. */
static int gather_released(struct orch *o, int64_t system_id, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *vms = NULL, *wipes = NULL;
        int r = store_query_json(o->store,
                                 "SELECT v.id, v.name, v.role, v.host, v.uuid, v.address, v.mac, v.spec AS \"spec@json\" FROM vms v "
                                 "WHERE v.system_id = ? AND EXISTS (SELECT 1 FROM jobs j WHERE j.vm_id = v.id AND j.kind = 'vm.wipe' AND j.state = 'done') "
                                 "ORDER BY v.id",
                                 STORE_ARGS(STORE_INT(system_id)), &vms);
        if (r >= 0)
                r = store_query_json(o->store,
                                     "SELECT w.vm_id, w.disk, w.path, w.size, w.certificate AS \"certificate@json\" FROM wipes w "
                                     "JOIN vms v ON v.id = w.vm_id WHERE v.system_id = ? ORDER BY w.vm_id, w.disk DESC",
                                     STORE_ARGS(STORE_INT(system_id)), &wipes);
        if (r < 0)
                return r;
        cJSON *out = cJSON_CreateObject();
        cJSON *list = cJSON_AddArrayToObject(out, "vms");
        const cJSON *vm, *w;
        cJSON_ArrayForEach(vm, vms) {
                const cJSON *spec = cJSON_GetObjectItemCaseSensitive(vm, "spec");
                cJSON *row = cJSON_CreateObject();
                cJSON_AddStringToObject(row, "name", str_at(vm, "name"));
                cJSON_AddStringToObject(row, "role", str_at(vm, "role"));
                cJSON_AddStringToObject(row, "host", str_at(vm, "host") ?: "");
                cJSON_AddStringToObject(row, "uuid", str_at(vm, "uuid") ?: "");
                cJSON *addrs = cJSON_AddArrayToObject(row, "addresses");
                if (str_at(vm, "address"))
                        cJSON_AddItemToArray(addrs, cJSON_CreateString(str_at(vm, "address")));
                cJSON *alloc = cJSON_AddObjectToObject(row, "allocation");
                cJSON_AddNumberToObject(alloc, "vcpus", int_at(spec, "vcpus", 0));
                cJSON_AddNumberToObject(alloc, "memory_gib", int_at(spec, "memory_gib", 0));
                cJSON_AddNumberToObject(alloc, "system_disk_gib", int_at(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib", 0));
                cJSON_AddNumberToObject(alloc, "data_disk_gib", int_at(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib", 0));
                cJSON *vols = cJSON_AddArrayToObject(row, "volumes");
                cJSON_ArrayForEach(w, wipes) {
                        if (int_at(w, "vm_id", 0) != int_at(vm, "id", -1))
                                continue;
                        const cJSON *cert = cJSON_GetObjectItemCaseSensitive(w, "certificate");
                        const cJSON *san = cJSON_GetObjectItemCaseSensitive(cert, "sanitization");
                        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(cert, "verification");
                        cJSON *v = cJSON_CreateObject();
                        cJSON_AddStringToObject(v, "disk", str_at(w, "disk"));
                        cJSON_AddStringToObject(v, "path", str_at(w, "path") ?: "");
                        cJSON_AddNumberToObject(v, "size", (double) int_at(cJSON_GetObjectItemCaseSensitive(cert, "volume"), "size", 0));
                        cJSON_AddStringToObject(v, "method", str_at(san, "method") ?: "");
                        cJSON_AddStringToObject(v, "category", str_at(san, "category") ?: "");
                        cJSON_AddStringToObject(v, "verification", str_at(ver, "method") ?: "");
                        cJSON_AddStringToObject(v, "result", str_at(ver, "result") ?: "");
                        cJSON_AddStringToObject(v, "rule", "R-EX3");
                        cJSON_AddItemToObject(v, "certificate", cert ? cJSON_Duplicate(cert, true) : cJSON_CreateNull());
                        cJSON_AddItemToArray(vols, v);
                }
                cJSON_AddItemToArray(list, row);
        }
        *ret = out;
        return 0;
}

static int start_sheet(struct orch *o, const struct exit_row *e) {
        _cleanup_(cJSON_Deletep) cJSON *released = NULL, *net = NULL;
        int r = gather_released(o, e->system_id, &released);
        if (r < 0)
                return r;
        r = vpc_release(o, e->system_id, &net);         /* R-NW1, R-NW2: the VNI and addresses go back */
        if (r < 0 && r != -ENOENT)
                return r;
        cJSON_AddItemToObject(released, "network", net ? TAKE_PTR(net) : cJSON_CreateNull());
        _cleanup_free_ char *text = cJSON_PrintUnformatted(released);
        r = store_exec(o->store, "UPDATE exits SET released = ? WHERE system_id = ?", STORE_ARGS(STORE_TEXT(text), STORE_INT(e->system_id)), NULL);
        if (r < 0)
                return r;
        char object[64];
        object_name(object, e->system_id);
        cJSON *d = system_object(e->system_id);
        cJSON_AddNumberToObject(d, "vms", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(released, "vms")));
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(released, "network");
        if (cJSON_IsObject(n)) {
                cJSON_AddNumberToObject(d, "vni", int_at(n, "vni", 0));
                cJSON_AddStringToObject(d, "cidr", str_at(n, "cidr"));
                cJSON_AddItemToObject(d, "addresses", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(n, "addresses"), true));
        }
        r = orch_audit(o, "reclaim.released", object, "R-LC5", d);
        if (r < 0)
                return r;

        /* R-LC5: the exit sheet, for the three signatures. */
        _cleanup_(cJSON_Deletep) cJSON *ex = NULL;
        r = reclaim_describe(o, e->system_id, &ex);
        if (r < 0)
                return r;
        cJSON *exit = cJSON_CreateObject();
        static const char *const keep[] = { "initiator", "ground", "reason", "requested", "grace_until", "statement", "order", "wipe" };
        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(ex, keep[i]);
                cJSON_AddItemToObject(exit, keep[i], v ? cJSON_Duplicate(v, true) : cJSON_CreateNull());
        }
        cJSON *st = cJSON_GetObjectItemCaseSensitive(exit, "statement");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "document");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "canonical");
        int64_t sheet = 0;
        r = sheets_exit(o, e->system_id, e->request_id, exit, TAKE_PTR(released), &sheet);
        if (r >= 0)
                r = store_exec(o->store, "UPDATE exits SET sheet_id = ? WHERE system_id = ?", STORE_ARGS(STORE_INT(sheet), STORE_INT(e->system_id)), NULL);
        if (r < 0)
                return r;
        cJSON *x = system_object(e->system_id);
        cJSON_AddNumberToObject(x, "sheet", (double) sheet);
        return set_step(o, e->system_id, "sheet", x);
}

int reclaim_advance(struct orch *o, int64_t system_id) {
        _cleanup_(exit_row_done) struct exit_row e = {};
        _cleanup_free_ char *error = NULL;
        int64_t pending = 0, left = 0;
        int r = exit_load(o, system_id, &e);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        if (strcmp(e.step, "stopping") == 0) {
                r = step_jobs(o, system_id, "vm.stop", &pending, &error);
                if (r < 0 || pending > 0)
                        return r;
                if (error)
                        return set_problem(o, system_id, e.step, error);
                r = count(o, "SELECT COUNT(*) FROM vms v WHERE v.system_id = ? AND " LIVE " AND v.state <> 'stopped'", system_id, &left);
                if (r < 0 || left > 0)
                        return r;
                /* Every VM is off: nothing writes to the volumes any more. */
                r = dispatch_stage(o, system_id, "draining", "wiping", "R-EX3", NULL);
                if (r >= 0)
                        r = set_step(o, system_id, "wiping", NULL);
                if (r >= 0)
                        r = queue_step_jobs(o, &e, "vm.wipe");
                return r;
        }
        if (strcmp(e.step, "wiping") == 0) {
                r = step_jobs(o, system_id, "vm.wipe", &pending, &error);
                if (r < 0 || pending > 0)
                        return r;
                if (error)
                        return set_problem(o, system_id, e.step, error);
                r = count(o, "SELECT COUNT(*) FROM vms v WHERE v.system_id = ? AND " LIVE " AND NOT EXISTS "
                             "(SELECT 1 FROM jobs j WHERE j.vm_id = v.id AND j.kind = 'vm.wipe' AND j.state = 'done')",
                          system_id, &left);
                if (r < 0 || left > 0)
                        return r;
                /* R-EX3: every volume wiped and certified; the VMs go. */
                r = set_step(o, system_id, "deleting", NULL);
                if (r >= 0)
                        r = queue_step_jobs(o, &e, "vm.delete");
                return r;
        }
        if (strcmp(e.step, "deleting") == 0) {
                r = step_jobs(o, system_id, "vm.delete", &pending, &error);
                if (r < 0 || pending > 0)
                        return r;
                r = count(o, "SELECT COUNT(*) FROM vms v WHERE v.system_id = ? AND v.state <> 'deleted'", system_id, &left);
                if (r < 0)
                        return r;
                if (left > 0)
                        return error ? set_problem(o, system_id, e.step, error) : 0;
                struct gc_error err = {};
                r = set_step(o, system_id, "network", NULL);
                if (r >= 0)
                        r = vpc_sync(o, system_id, e.request_id, &err);        /* vpc.delete on every host */
                if (r >= 0)
                        r = timers_set(o, "reclaim", system_id, orch_now(o));
                return r;
        }
        if (strcmp(e.step, "network") == 0) {
                r = vpc_pending(o, system_id, &pending);
                if (r < 0 || pending > 0) {
                        int64_t failed = 0;
                        if (r >= 0)
                                r = count(o, "SELECT COUNT(*) FROM vpc_hosts h JOIN vpcs p ON p.id = h.vpc_id WHERE p.system_id = ? AND h.state = 'failed'",
                                          system_id, &failed);
                        if (r >= 0 && failed > 0)
                                return set_problem(o, system_id, e.step, "vpc.delete failed on a host; see its job.failed record");
                        return r;
                }
                return start_sheet(o, &e);
        }
        return 0;
}

/* R-EX2, R-EX3: the reclaim may start; the VMs are stopped first. */
static int start_reclaim(struct orch *o, const struct exit_row *e, cJSON *why) {
        const char *from = e->state;
        int r = dispatch_stage(o, e->system_id, from, "draining", "R-EX3", why);
        if (r < 0)
                return r;
        if (strcmp(from, "suspended") == 0) {
                /* Suspended by an order that could not wipe (R-SC3): the
                 * network stays cut; the VMs go anyway. */
                r = store_exec(o->store, "UPDATE systems SET return_state = NULL WHERE id = ?", STORE_ARGS(STORE_INT(e->system_id)), NULL);
                if (r < 0)
                        return r;
        }
        r = set_step(o, e->system_id, "stopping", NULL);
        if (r >= 0)
                r = queue_step_jobs(o, e, "vm.stop");
        return r;
}

int reclaim_grace_ended(struct orch *o, int64_t system_id) {
        _cleanup_(exit_row_done) struct exit_row e = {};
        int r = exit_load(o, system_id, &e);
        if (r == -ENOENT)
                return 0;
        if (r < 0 || strcmp(e.step, "grace") != 0)
                return r;
        char object[64];
        object_name(object, system_id);
        cJSON *d = system_object(system_id);
        cJSON_AddBoolToObject(d, "statement", e.statement_key != 0);
        log_info("system %" PRId64 ": the exit's grace period for migration ended", system_id);
        return orch_audit(o, "exit.grace_ended", object, "R-EX2", d);
}

/* ---- job results ---- */

static int host_key(struct orch *o, const char *host, EVP_PKEY **ret) {
        _cleanup_free_ char *pem = NULL;
        int r = store_query_text(o->store, "SELECT wipe_key FROM hosts WHERE name = ?", STORE_ARGS(STORE_TEXT(host)), &pem);
        if (r < 0)
                return r;
        return crypto_key_public_from_pem(pem, strlen(pem), ret);
}

/* R-EX3: a certificate is listed only when its host's key verifies it and
 * it names the volume and the exit's approval. */
static int check_certificate(struct orch *o, const char *host, const char *approval, const cJSON *vol, char **ret_problem) {
        const cJSON *cert = cJSON_GetObjectItemCaseSensitive(vol, "certificate");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        int r = host_key(o, host, &key);
        if (r == -ENOENT || r == -EINVAL || r == -EOPNOTSUPP) {
                *ret_problem = xasprintf("host %s announced no usable wipe key: its certificates cannot be verified", host);
                return 0;
        }
        if (r < 0)
                return r;
        r = wipe_certificate_verify(cert, key, &err);
        if (r < 0) {
                *ret_problem = xasprintf("the certificate of %s does not verify with host %s's wipe key: %s", str_at(vol, "path") ?: "?",
                                         host, gc_error_format(&err, buf, sizeof buf));
                return 0;
        }
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cert, "volume");
        if (!str_at(v, "path") || !str_at(vol, "path") || strcmp(str_at(v, "path"), str_at(vol, "path")) != 0 ||
            !str_at(cert, "approval") || strcmp(str_at(cert, "approval"), approval) != 0 ||
            strcmp(str_at(cJSON_GetObjectItemCaseSensitive(cert, "verification"), "result") ?: "", "pass") != 0) {
                *ret_problem = xasprintf("the certificate of %s names another volume or approval, or no passed verification",
                                         str_at(vol, "path") ?: "?");
                return 0;
        }
        return 0;
}

int reclaim_job_result(struct orch *o, int64_t job_id, const char *host, const char *kind, int64_t vm_id, bool ok,
                       const cJSON *result, int64_t *ret_system, cJSON **ret_detail) {
        _cleanup_(cJSON_Deletep) cJSON *vm = NULL;
        _cleanup_(exit_row_done) struct exit_row e = {};
        _cleanup_free_ char *problem = NULL;
        int r = store_query_json_one(o->store, "SELECT system_id, name, uuid FROM vms WHERE id = ?", STORE_ARGS(STORE_INT(vm_id)), &vm);
        if (r < 0)
                return r;
        int64_t system_id = int_at(vm, "system_id", 0);
        *ret_system = system_id;
        r = exit_load(o, system_id, &e);
        if (r < 0 && r != -ENOENT)
                return r;

        const cJSON *w = cJSON_GetObjectItemCaseSensitive(result, "wipe");
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "job", (double) job_id);
        cJSON_AddStringToObject(d, "kind", kind);
        cJSON_AddStringToObject(d, "vm", str_at(vm, "name"));
        cJSON_AddStringToObject(d, "uuid", str_at(vm, "uuid"));
        cJSON_AddStringToObject(d, "host", host);
        cJSON_AddNumberToObject(d, "system", (double) system_id);
        cJSON *vols = cJSON_AddArrayToObject(d, "volumes");
        const cJSON *vol, *list = ok ? cJSON_GetObjectItemCaseSensitive(w, "volumes") : NULL;
        cJSON_ArrayForEach(vol, list) {
                if (!problem && e.found) {
                        r = check_certificate(o, host, e.approval, vol, &problem);
                        if (r < 0) {
                                cJSON_Delete(d);
                                return r;
                        }
                }
                const cJSON *cert = cJSON_GetObjectItemCaseSensitive(vol, "certificate");
                const cJSON *san = cJSON_GetObjectItemCaseSensitive(cert, "sanitization");
                cJSON *v = cJSON_CreateObject();
                cJSON_AddStringToObject(v, "disk", str_at(vol, "disk") ?: "");
                cJSON_AddStringToObject(v, "path", str_at(vol, "path") ?: "");
                cJSON_AddStringToObject(v, "method", str_at(san, "method") ?: "");
                cJSON_AddStringToObject(v, "category", str_at(san, "category") ?: "");
                cJSON_AddStringToObject(v, "verification", str_at(cJSON_GetObjectItemCaseSensitive(cert, "verification"), "result") ?: "");
                if (str_at(vol, "fallback"))
                        cJSON_AddStringToObject(v, "fallback", str_at(vol, "fallback"));
                cJSON_AddItemToArray(vols, v);
                if (problem)
                        continue;
                _cleanup_free_ char *text = cJSON_PrintUnformatted(cert);
                r = store_exec(o->store,
                               "INSERT INTO wipes (vm_id, disk, job_id, host, path, size, phase, certificate, updated) "
                               "VALUES (?, ?, ?, ?, ?, ?, 'done', ?, ?) ON CONFLICT (vm_id, disk) DO UPDATE SET "
                               "job_id = excluded.job_id, host = excluded.host, path = excluded.path, size = excluded.size, "
                               "phase = 'done', certificate = excluded.certificate, updated = excluded.updated",
                               STORE_ARGS(STORE_INT(vm_id), STORE_TEXT(str_at(vol, "disk") ?: ""), STORE_INT(job_id), STORE_TEXT(host),
                                          STORE_TEXT(str_at(vol, "path")), STORE_INT(int_at(cJSON_GetObjectItemCaseSensitive(cert, "volume"), "size", 0)),
                                          STORE_TEXT(text), STORE_INT(orch_now(o))),
                               NULL);
                if (r < 0) {
                        cJSON_Delete(d);
                        return r;
                }
        }
        if (ok && problem) {
                /* Not listed: the job counts as failed, and the step stops. */
                r = store_exec(o->store, "UPDATE jobs SET state = 'failed', result = json_set(result, '$.error', ?) WHERE id = ?",
                               STORE_ARGS(STORE_TEXT(problem), STORE_INT(job_id)), NULL);
                cJSON_AddStringToObject(d, "error", problem);
                ok = false;
        } else if (!ok) {
                const cJSON *refused = cJSON_GetObjectItemCaseSensitive(w, "refused");
                cJSON_AddStringToObject(d, "error", str_at(result, "error") ?: "");
                if (refused)
                        cJSON_AddItemToObject(d, "refused", cJSON_Duplicate(refused, true));
                r = store_exec(o->store, "UPDATE wipes SET phase = 'failed', updated = ? WHERE vm_id = ? AND certificate IS NULL",
                               STORE_ARGS(STORE_INT(orch_now(o)), STORE_INT(vm_id)), NULL);
        }
        if (r < 0) {
                cJSON_Delete(d);
                return r;
        }
        cJSON_AddBoolToObject(d, "ok", ok);
        *ret_detail = d;
        return 0;
}

int reclaim_sheet_completed(struct orch *o, int64_t system_id, int64_t sheet_id) {
        cJSON *extra = system_object(system_id);
        cJSON_AddNumberToObject(extra, "sheet", (double) sheet_id);
        int r = dispatch_stage(o, system_id, "wiping", "reclaimed", "R-LC5", extra);
        if (r >= 0) {
                cJSON *d = system_object(system_id);
                cJSON_AddNumberToObject(d, "sheet", (double) sheet_id);
                r = set_step(o, system_id, "done", d);
        }
        return r;
}

/* ---- reading ---- */

int reclaim_describe(struct orch *o, int64_t system_id, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *x = NULL, *vols = NULL, *key = NULL, *req = NULL;
        int r = store_query_json_one(o->store,
                                     "SELECT x.request_id AS request, x.initiator, x.ground, x.requested AS \"requested@time\", "
                                     "x.grace_until AS \"grace_until@time\", x.grace_until AS grace_ts, x.statement AS \"statement@json\", x.statement AS canonical, "
                                     "x.statement_hash, x.statement_key, x.statement_signature, x.statement_at AS \"statement_at@time\", "
                                     "x.order_doc AS \"order@json\", x.step, x.step_at AS \"step_at@time\", x.problem, "
                                     "x.released AS \"released@json\", x.sheet_id AS sheet, s.pool "
                                     "FROM exits x JOIN systems s ON s.id = x.system_id WHERE x.system_id = ?",
                                     STORE_ARGS(STORE_INT(system_id)), &x);
        if (r < 0)
                return r;
        r = store_query_json_one(o->store, "SELECT approval_system || '/' || approval_id AS approval, json_extract(document, '$.reason') AS reason "
                                           "FROM requests WHERE id = ?",
                                 STORE_ARGS(STORE_INT(int_at(x, "request", 0))), &req);
        if (r < 0)
                return r;
        r = store_query_json(o->store,
                             "SELECT v.name AS vm, w.disk, w.host, w.path, w.size, w.phase, w.pass, w.passes, w.done, w.total, CAST(w.rate AS INTEGER) AS rate, "
                             "w.updated AS \"updated@time\", w.certificate IS NOT NULL AS \"certified@bool\" "
                             "FROM wipes w JOIN vms v ON v.id = w.vm_id WHERE v.system_id = ? ORDER BY v.id, w.disk DESC",
                             STORE_ARGS(STORE_INT(system_id)), &vols);
        if (r < 0)
                return r;
        int64_t key_id = int_at(x, "statement_key", 0);
        if (key_id > 0 && store_query_json_one(o->store, "SELECT fingerprint, holder FROM party_keys WHERE id = ?",
                                                STORE_ARGS(STORE_INT(key_id)), &key) < 0)
                key = NULL;

        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "system", (double) system_id);
        cJSON_AddNumberToObject(d, "request", int_at(x, "request", 0));
        cJSON_AddStringToObject(d, "approval", str_at(req, "approval") ?: "");
        cJSON_AddStringToObject(d, "initiator", str_at(x, "initiator"));
        cJSON_AddStringToObject(d, "ground", str_at(x, "ground"));
        cJSON_AddItemToObject(d, "reason", str_at(req, "reason") ? cJSON_CreateString(str_at(req, "reason")) : cJSON_CreateNull());
        cJSON_AddStringToObject(d, "requested", str_at(x, "requested"));
        const cJSON *gu = cJSON_GetObjectItemCaseSensitive(x, "grace_until");
        cJSON_AddItemToObject(d, "grace_until", cJSON_Duplicate(gu, true));
        cJSON_AddBoolToObject(d, "grace_over", !cJSON_IsString(gu) || orch_now(o) >= int_at(x, "grace_ts", 0));
        cJSON *st = cJSON_AddObjectToObject(d, "statement");
        cJSON_AddItemToObject(st, "document", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(x, "statement"), true));
        cJSON_AddStringToObject(st, "canonical", str_at(x, "canonical"));      /* the bytes the tenant signs */
        cJSON_AddStringToObject(st, "hash", str_at(x, "statement_hash"));
        cJSON_AddBoolToObject(st, "signed", key_id > 0);
        if (key_id > 0) {
                cJSON_AddStringToObject(st, "signed_at", str_at(x, "statement_at") ?: "");
                cJSON_AddStringToObject(st, "fingerprint", str_at(key, "fingerprint") ?: "");
                cJSON_AddStringToObject(st, "holder", str_at(key, "holder") ?: "");
                cJSON_AddStringToObject(st, "signature", str_at(x, "statement_signature") ?: "");
        }
        cJSON_AddItemToObject(d, "order", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(x, "order"), true));
        const struct pack *pack = pack_of(o, str_at(x, "pool"));
        _cleanup_(exit_row_done) struct exit_row e = { .pool = "" };
        snprintf(e.pool, sizeof e.pool, "%s", str_at(x, "pool") ?: "");
        e.approval = xstrdup(str_at(req, "approval") ?: "");
        cJSON *w = wipe_spec(o, &e, "");
        cJSON_DeleteItemFromObjectCaseSensitive(w, "uuid");
        cJSON_AddStringToObject(w, "rule", "R-EX3");
        cJSON_AddBoolToObject(w, "report_required", pack && pack->exit.wipe_report_required == PACK_YES);
        cJSON_AddItemToObject(d, "wipe", w);
        cJSON_AddStringToObject(d, "step", str_at(x, "step"));
        cJSON_AddStringToObject(d, "step_at", str_at(x, "step_at"));
        cJSON_AddItemToObject(d, "problem", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(x, "problem"), true));
        cJSON *v;
        cJSON_ArrayForEach(v, vols) {
                double done = int_at(v, "done", 0), total = int_at(v, "total", 0);
                bool certified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "certified"));
                cJSON_AddNumberToObject(v, "percent", certified ? 100.0 : total > 0 ? (double) (long) (1000.0 * done / total) / 10.0 : 0.0);
        }
        cJSON_AddItemToObject(d, "volumes", TAKE_PTR(vols));
        cJSON_AddItemToObject(d, "released", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(x, "released"), true));
        cJSON_AddItemToObject(d, "sheet", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(x, "sheet"), true));
        *ret = d;
        return 0;
}

void get_exit(struct api_call *c) {
        if (api_system_visible(c, c->id) < 0)
                return api_error(c, 404, "not_found", "no such system");
        cJSON *x = NULL;
        int r = reclaim_describe(c->o, c->id, &x);
        if (r == -ENOENT)
                return api_error(c, 404, "no_exit", "the system has no approved exit");
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "exit", x);
        api_reply(c, 200, doc);
}

/* ---- the tenant's statement, the authority's order, the provider's go ---- */

/* An exit that is open: exit_requested, or suspended by an order. */
static bool exit_open(const struct exit_row *e) {
        return strcmp(e->step, "grace") == 0 &&
               (strcmp(e->state, "exit_requested") == 0 ||
                (strcmp(e->state, "suspended") == 0 && strcmp(e->return_state, "exit_requested") == 0));
}

static int load_for_call(struct api_call *c, struct exit_row *e, const char *action, const char *rule) {
        struct gc_error err = {};
        char object[64];
        object_name(object, c->id);
        if (api_system_visible(c, c->id) < 0) {
                api_error(c, 404, "not_found", "no such system");
                return -ENOENT;
        }
        int r = exit_load(c->o, c->id, e);
        if (r == -ENOENT) {
                _cleanup_free_ char *state = NULL;
                (void) store_query_text(c->o->store, "SELECT state FROM systems WHERE id = ?", STORE_ARGS(STORE_INT(c->id)), &state);
                gc_error_set(&err, "no_exit", rule, "system.state", state ?: "",
                             "has no approved exit: an exit request from the approval system comes first");
                api_refuse(c, 409, &err, action, object, "", NULL);
                return -EPERM;
        }
        if (r < 0) {
                api_fail_store(c, r);
                return r;
        }
        return 0;
}

void post_exit_statement(struct api_call *c) {
        struct orch *o = c->o;
        struct gc_error err = {};
        char object[64];
        _cleanup_(exit_row_done) struct exit_row e = {};
        _cleanup_(party_key_done) struct party_key k = {};
        const char *fp = api_body_str(c, "fingerprint"), *sig = api_body_str(c, "signature");

        object_name(object, c->id);
        if (load_for_call(c, &e, "exit.refused", "R-EX2") < 0)
                return;
        if (e.statement_key) {
                gc_error_set(&err, "already_signed", "R-EX2", "statement", e.statement_hash, "was signed already; the reclaim is at step %s", e.step);
                return api_refuse(c, 409, &err, "exit.refused", object, e.approval, NULL);
        }
        if (!exit_open(&e)) {
                gc_error_set(&err, "invalid_state", "R-EX2", "system.state", e.state, "is not exit_requested: the exit is at step %s", e.step);
                return api_refuse(c, 409, &err, "exit.refused", object, e.approval, NULL);
        }
        const struct pack *pack = pack_of(o, e.pool);
        if (!pack)
                return api_error(c, 500, "internal", "the system's pool has no pack");
        char what[160];
        snprintf(what, sizeof what, "the exit statement of system %" PRId64 " (%s)", c->id, e.statement_hash);
        int status = party_signature_check(o, "tenant", fp, e.unit_id, crypto_key_type_to_string(pack->signature), e.statement, sig,
                                           "R-EX2", what, &k, &err);
        if (status < 0)
                return api_fail_store(c, status);
        if (status > 0)
                return api_refuse(c, status, &err, "exit.refused", object, e.approval, NULL);

        int r = store_begin(o->store);
        if (r >= 0)
                r = store_exec(o->store, "UPDATE exits SET statement_key = ?, statement_signature = ?, statement_at = ? WHERE system_id = ?",
                               STORE_ARGS(STORE_INT(k.id), STORE_TEXT(sig), STORE_INT(orch_now(o)), STORE_INT(c->id)), NULL);
        cJSON *d = system_object(c->id);
        cJSON_AddStringToObject(d, "holder", k.holder);
        cJSON_AddStringToObject(d, "fingerprint", fp);
        cJSON_AddStringToObject(d, "hash", e.statement_hash);
        cJSON_AddStringToObject(d, "signature", sig);
        struct audit_entry a = { .time = orch_now(o), .actor = c->who->name, .role = role_name(c->who->role),
                                 .action = "exit.statement_signed", .object = object, .approval = e.approval,
                                 .outcome = "recorded", .rule = "R-EX2", .detail = d };
        if (r >= 0)
                r = audit_append(o->store, o->audit_hash, &a, NULL);
        cJSON_Delete(d);
        /* R-EX2: the tenant's written statement; the reclaim starts. */
        cJSON *why = system_object(c->id);
        cJSON_AddStringToObject(why, "by", "tenant_statement");
        if (r >= 0)
                r = start_reclaim(o, &e, why);
        else
                cJSON_Delete(why);
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                return api_fail_store(c, r);
        o->metrics.audit_records++;
        log_notice("system %" PRId64 ": the tenant's exit statement is signed (%s, %s); reclaim starts", c->id, k.holder, fp);
        orch_notify_kick(o);
        dispatch_wake(o);
        get_exit(c);
}

void post_reclaim_order(struct api_call *c) {
        struct orch *o = c->o;
        struct gc_error err = {};
        char object[64];
        _cleanup_(exit_row_done) struct exit_row e = {};
        const char *ground = api_body_str(c, "ground");

        object_name(object, c->id);
        if (load_for_call(c, &e, "exit.refused", "R-EX1") < 0)
                return;
        if (!exit_open(&e) || e.ordered) {
                gc_error_set(&err, "invalid_state", "R-EX1", "system.state", e.state,
                             e.ordered ? "has an order already; the statement is awaited" : "is not exit_requested: the exit is at step %s", e.step);
                return api_refuse(c, 409, &err, "exit.refused", object, e.approval, NULL);
        }
        const struct pack *pack = pack_of(o, e.pool);
        if (!pack)
                return api_error(c, 500, "internal", "the system's pool has no pack");
        int g = pack_reclaim_ground_from_string(ground);
        if (!pack->exit.reclaim_grounds_listed || g < 0 || !(pack->exit.reclaim_grounds & (1u << g))) {
                gc_error_set(&err, "ground_not_allowed", "R-EX1", "ground", ground,
                             pack->exit.reclaim_grounds_listed ? "is not a ground the pack %s lets the authority reclaim on"
                                                               : "cannot be used: the pack %s lists no grounds, only the tenant's own exit",
                             pack->name);
                return api_refuse(c, 422, &err, "exit.refused", object, e.approval, NULL);
        }
        bool may_wipe = pack->exit.authority_may_order_wipe;            /* R-EX3 */
        int64_t now = orch_now(o);
        if (may_wipe && e.grace_until && now < e.grace_until) {
                char t[32];
                store_format_time(e.grace_until, t);
                gc_error_set(&err, "grace_period", "R-EX2", "system.grace_until", t,
                             "has not passed: the tenant has until then to migrate its data");
                return api_refuse(c, 409, &err, "exit.refused", object, e.approval, NULL);
        }

        _cleanup_(cJSON_Deletep) cJSON *order = cJSON_Duplicate(c->body, true);
        char t[32];
        store_format_time(now, t);
        cJSON_AddStringToObject(order, "by", c->who->name);
        cJSON_AddStringToObject(order, "time", t);
        cJSON_AddStringToObject(order, "outcome", may_wipe ? "reclaim" : "suspended");
        cJSON_AddStringToObject(order, "tenant_notified", "notifier");
        _cleanup_free_ char *text = cJSON_PrintUnformatted(order);
        int r = store_begin(o->store);
        if (r >= 0)
                r = store_exec(o->store, "UPDATE exits SET order_doc = ?, order_at = ? WHERE system_id = ?",
                               STORE_ARGS(STORE_TEXT(text), STORE_INT(now), STORE_INT(c->id)), NULL);
        /* R-EX3: the order with its ground; its record reaches the tenant
         * through the notifier (exit.reclaim_ordered). */
        cJSON *d = cJSON_Duplicate(order, true);
        cJSON_AddNumberToObject(d, "system", (double) c->id);
        struct audit_entry a = { .time = now, .actor = c->who->name, .role = role_name(c->who->role),
                                 .action = "exit.reclaim_ordered", .object = object, .approval = e.approval,
                                 .outcome = "recorded", .rule = "R-EX1", .detail = d };
        if (r >= 0)
                r = audit_append(o->store, o->audit_hash, &a, NULL);
        cJSON_Delete(d);
        if (r >= 0 && may_wipe) {
                cJSON *why = system_object(c->id);
                cJSON_AddStringToObject(why, "by", "authority_order");
                cJSON_AddStringToObject(why, "ground", ground);
                r = start_reclaim(o, &e, why);
        } else if (r >= 0 && strcmp(e.state, "exit_requested") == 0) {
                /* R-SC3: without the pack's leave, the order only suspends
                 * the system (network cut) until the tenant's statement. */
                bool changed = false;
                struct gc_error verr = {};
                cJSON *why = system_object(c->id);
                cJSON_AddStringToObject(why, "by", "authority_order");
                cJSON_AddStringToObject(why, "until", "tenant_statement");
                r = dispatch_stage(o, c->id, "exit_requested", "suspended", "R-SC3", why);
                if (r >= 0)
                        r = store_exec(o->store, "UPDATE systems SET return_state = 'exit_requested' WHERE id = ?", STORE_ARGS(STORE_INT(c->id)), NULL);
                if (r >= 0)
                        r = vpc_set_isolated(o, c->id, true, &changed, &verr);
                if (r == -EPERM && strcmp(verr.code, "no_vpc") == 0)
                        r = 0;          /* no network to cut */
        }
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                return api_fail_store(c, r);
        o->metrics.audit_records++;
        log_notice("system %" PRId64 ": the authority ordered its reclaim (%s): %s", c->id, ground,
                   may_wipe ? "the reclaim starts" : "suspended until the tenant's statement (the pack does not let the order wipe)");
        orch_notify_kick(o);
        dispatch_wake(o);
        cJSON *x = NULL;
        r = reclaim_describe(o, c->id, &x);
        if (r < 0)
                return api_error(c, 500, "internal", "the exit cannot be read back");
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "outcome", may_wipe ? "reclaim" : "suspended");
        cJSON_AddItemToObject(doc, "exit", x);
        api_reply(c, may_wipe ? 200 : 202, doc);
}

void post_reclaim(struct api_call *c) {
        struct orch *o = c->o;
        struct gc_error err = {};
        char object[64];
        _cleanup_(exit_row_done) struct exit_row e = {};

        object_name(object, c->id);
        if (load_for_call(c, &e, "reclaim.refused", "R-EX3") < 0)
                return;
        if (strcmp(e.step, "grace") == 0) {
                /* R-EX3: nobody destroys tenant data without its leave. */
                gc_error_set(&err, "exit_not_allowed", "R-EX3", "system.state", e.state,
                             "allows no wipe yet: the tenant's signed statement that its data is migrated (R-EX2) has not come, "
                             "and no authority order the pack allows has been given");
                return api_refuse(c, 409, &err, "reclaim.refused", object, e.approval, NULL);
        }
        if (strcmp(e.step, "sheet") == 0 || strcmp(e.step, "done") == 0) {
                gc_error_set(&err, "invalid_state", "R-EX3", "system.state", e.state,
                             "has nothing left to wipe: the reclaim is at step %s", e.step);
                return api_refuse(c, 409, &err, "reclaim.refused", object, e.approval, NULL);
        }
        static const char *const kinds[][2] = { { "stopping", "vm.stop" }, { "wiping", "vm.wipe" }, { "deleting", "vm.delete" } };
        int r = store_begin(o->store);
        bool retried = false;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(kinds); i++)
                if (strcmp(e.step, kinds[i][0]) == 0 && e.problem) {
                        if (strcmp(kinds[i][1], "vm.stop") == 0)
                                r = store_exec(o->store, "UPDATE vms SET state = 'stopping' WHERE system_id = ? AND state = 'failed'",
                                               STORE_ARGS(STORE_INT(c->id)), NULL);
                        if (r >= 0)
                                r = queue_step_jobs(o, &e, kinds[i][1]);
                        retried = true;
                }
        if (r >= 0 && strcmp(e.step, "network") == 0 && e.problem) {
                struct gc_error verr = {};
                r = store_exec(o->store, "UPDATE vpc_hosts SET state = 'ready' WHERE state = 'failed' AND vpc_id IN (SELECT id FROM vpcs WHERE system_id = ?)",
                               STORE_ARGS(STORE_INT(c->id)), NULL);
                if (r >= 0)
                        r = vpc_sync(o, c->id, e.request_id, &verr);
                retried = true;
        }
        if (r >= 0)
                r = store_exec(o->store, "UPDATE exits SET problem = NULL WHERE system_id = ?", STORE_ARGS(STORE_INT(c->id)), NULL);
        if (r >= 0)
                r = timers_set(o, "reclaim", c->id, orch_now(o));
        struct api_mutation m = { .action = "reclaim.resumed", .rule = "R-EX3", .detail = system_object(c->id) };
        snprintf(m.object, sizeof m.object, "%s", object);
        cJSON_AddStringToObject(m.detail, "step", e.step);
        cJSON_AddBoolToObject(m.detail, "retried", retried);
        if (e.problem)
                cJSON_AddStringToObject(m.detail, "problem", e.problem);
        if (api_body_str(c, "reason"))
                cJSON_AddStringToObject(m.detail, "reason", api_body_str(c, "reason"));
        if (r < 0) {
                cJSON_Delete(m.detail);
                return api_fail_store(c, r);
        }
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        dispatch_wake(o);
        get_exit(c);
}

/* ---- progress from the agents ---- */

void agent_wipe_progress(struct api_call *c) {
        struct orch *o = c->o;
        const cJSON *p;
        int accepted = 0;
        int r = store_begin(o->store);
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c->body, "progress")) {
                int64_t vm_id = 0;
                if (r < 0)
                        break;
                r = store_query_int(o->store, "SELECT vm_id FROM jobs WHERE id = ? AND host = ? AND kind = 'vm.wipe' AND state <> 'done'",
                                    STORE_ARGS(STORE_INT(int_at(p, "job", 0)), STORE_TEXT(c->who->name)), &vm_id);
                if (r == -ENOENT) {
                        r = 0;
                        continue;       /* not this host's running wipe: ignored */
                }
                const cJSON *rate = cJSON_GetObjectItemCaseSensitive(p, "rate");
                if (r >= 0)
                        r = store_exec(o->store,
                                       "INSERT INTO wipes (vm_id, disk, job_id, host, path, size, phase, pass, passes, done, total, rate, updated) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (vm_id, disk) DO UPDATE SET "
                                       "job_id = excluded.job_id, host = excluded.host, path = excluded.path, size = excluded.size, "
                                       "phase = excluded.phase, pass = excluded.pass, passes = excluded.passes, done = excluded.done, "
                                       "total = excluded.total, rate = excluded.rate, updated = excluded.updated "
                                       "WHERE wipes.certificate IS NULL",
                                       STORE_ARGS(STORE_INT(vm_id), STORE_TEXT(str_at(p, "disk")), STORE_INT(int_at(p, "job", 0)),
                                                  STORE_TEXT(c->who->name), STORE_TEXT(str_at(p, "path")), STORE_INT(int_at(p, "size", 0)),
                                                  STORE_TEXT(str_at(p, "phase")), STORE_INT(int_at(p, "pass", 0)),
                                                  STORE_INT(int_at(p, "passes", 0)), STORE_INT(int_at(p, "done", 0)),
                                                  STORE_INT(int_at(p, "total", 0)), STORE_INT(cJSON_IsNumber(rate) ? (int64_t) rate->valuedouble : 0),
                                                  STORE_INT(orch_now(o))),
                                       NULL);
                /* A wipe that reports is alive: not sent again. */
                if (r >= 0)
                        r = store_exec(o->store, "UPDATE jobs SET sent_at = ? WHERE id = ? AND state = 'sent'",
                                       STORE_ARGS(STORE_INT((int64_t) time(NULL)), STORE_INT(int_at(p, "job", 0))), NULL);
                accepted++;
        }
        if (r >= 0)
                r = store_commit(o->store);
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddNumberToObject(doc, "accepted", accepted);
        api_reply(c, 200, doc);
}
