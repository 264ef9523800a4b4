/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POST /v1/requests: approved apply, change and exit requests.
 *
 * The checks run in a fixed order and the first failure is the answer:
 *   1. envelope: strict JSON, schema version, kind, approval fields; the
 *      approval system is registered and is the caller; the signature
 *      verifies (approval plugin, the registered public key) over the
 *      canonical bytes without approval.signature; an approval id seen
 *      before returns the existing request when the signed bytes are the
 *      same and is a replay otherwise; the approval time is in the window;
 *   2. the document against its kind's schema;
 *   3. the pack's rules: classified (R-RQ1), trial length (R-LC2), names
 *      (R-NM1, R-NM2), the pool's flavour bounds and architectures, major
 *      change (R-RQ2), change frequency (R-RQ3). A change or an exit looks
 *      its system up first: the system's pool names the pack;
 *   4. the system's state: registered unit and system, the agreement
 *      (R-SC1), a legal lifecycle transition.
 * A refusal appends one audit record and changes nothing else; an accepted
 * request, its VMs, its transition and its audit record are one
 * transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "audit.h"
#include "change.h"
#include "dispatch.h"
#include "cleanup.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "naming.h"
#include "orch.h"
#include "sheets.h"
#include "reclaim.h"
#include "request.h"
#include "trial.h"
#include "vpc.h"

struct intake {
        struct api_call *c;
        struct orch *o;
        struct request *req;
        struct gc_error err;
        char approval[256];             /* "approval-oa/OA-2026-0001" */

        const char *unit;
        const char *system_name;
        const struct config_pool *pool;
        const struct pack *pack;
        long trial_length;

        int64_t system_id;              /* 0 until looked up */
        char *system_state;
        bool system_has_agreement;
        bool system_classified;

        struct planned_vm {
                char *name;
                char *role;
                unsigned number;
                cJSON *spec;
                char host[64];
                char field[64];
        } *vms;
        size_t n_vms;
};

static void intake_done(struct intake *in) {
        for (size_t i = 0; i < in->n_vms; i++) {
                free(in->vms[i].name);
                free(in->vms[i].role);
                cJSON_Delete(in->vms[i].spec);
        }
        free(in->vms);
        free(in->system_state);
        request_free(in->req);
}

static void refuse(struct intake *in, int status) {
        api_refuse(in->c, status, &in->err, "request.refused", "", in->approval, in->req ? in->req->kind : NULL);
}

static long spec_disk_gib(const cJSON *spec) {
        return int_at(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib", 0) +
               int_at(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib", 0);
}

/* ---- the reply for an accepted or an existing request ---- */

static void reply_request(struct api_call *c, int status, int64_t request_id, bool existing) {
        struct orch *o = c->o;
        _cleanup_(cJSON_Deletep) cJSON *request = NULL, *system = NULL, *vms = NULL;
        int r = store_query_json_one(o->store,
                                     "SELECT id, kind, approval_system, approval_id, digest, received AS \"received@time\", outcome "
                                     "FROM requests WHERE id = ?", STORE_ARGS(STORE_INT(request_id)), &request);
        if (r >= 0)
                r = store_query_json_one(o->store,
                                         "SELECT s.id, u.name AS unit, s.name, s.state FROM requests r JOIN systems s ON s.id = r.system_id "
                                         "JOIN units u ON u.id = s.unit_id WHERE r.id = ?",
                                         STORE_ARGS(STORE_INT(request_id)), &system);
        if (r >= 0)
                r = store_query_json(o->store, "SELECT name, role, number FROM vms WHERE request_id = ? ORDER BY id",
                                     STORE_ARGS(STORE_INT(request_id)), &vms);
        if (r < 0) {
                api_error(c, 500, "store_failure", "the request was stored but cannot be read back");
                return;
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddBoolToObject(doc, "existing", existing);
        cJSON_AddItemToObject(doc, "request", TAKE_PTR(request));
        cJSON_AddItemToObject(doc, "system", TAKE_PTR(system));
        cJSON_AddItemToObject(doc, "vms", TAKE_PTR(vms));
        api_reply(c, status, doc);
}

/* ---- 1. envelope ---- */

struct approval_key {
        char *key_type;
        char *pem;
};

static int key_cb(const struct store_row *row, void *userdata) {
        struct approval_key *k = userdata;
        k->key_type = xstrdup(row->v[0].s);
        k->pem = xstrdup(row->v[1].s);
        return 0;
}

int intake_envelope(struct api_call *c, const struct request *req, const char *approval, struct gc_error *err,
                    int64_t *ret_request, int64_t *ret_tunnel) {
        struct orch *o = c->o;
        struct approval_key key = {};
        int r;

        *ret_request = *ret_tunnel = 0;
        r = store_query(o->store, "SELECT key_type, public_key FROM approval_systems WHERE id = ?",
                        STORE_ARGS(STORE_TEXT(req->approval_system)), key_cb, &key);
        _cleanup_free_ char *key_type = key.key_type, *pem = key.pem;
        if (r < 0)
                return r;
        if (r == 0) {
                gc_error_set(err, "unknown_approval_system", "", "approval.system", req->approval_system,
                             "is not a registered approval system");
                api_refuse(c, 422, err, "request.refused", "", approval, req->kind);
                return -EPERM;
        }
        if (strcmp(c->who->name, req->approval_system) != 0) {
                gc_error_set(err, "not_caller", "", "approval.system", req->approval_system,
                             "is not the calling approval system (certificate CN \"%s\")", c->who->name);
                api_refuse(c, 403, err, "request.refused", "", approval, req->kind);
                return -EPERM;
        }

        const struct plugin *v = orch_verifier(o, key_type);
        if (!v) {
                gc_error_set(err, "no_verifier", "R-SC4", "approval.signature", key_type,
                             "no approval verifier for this key type is loaded");
                api_refuse(c, 422, err, "request.refused", "", approval, req->kind);
                return -EPERM;
        }
        char reason[GC_PLUGIN_REASON_MAX] = "";
        r = v->ops->verify(v->state, pem, req->signed_bytes, req->signed_len, req->signature, req->signature_len,
                           reason, sizeof reason);
        if (r < 0) {
                _cleanup_free_ char *fp = NULL;
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
                if (crypto_key_public_from_pem(pem, strlen(pem), &k) >= 0)
                        crypto_key_fingerprint(k, &fp);
                gc_error_set(err, "bad_signature", "", "approval.signature", NULL,
                             r == -EBADMSG ? "does not verify over the canonical request with %s's registered %s key %s"
                                           : "cannot be checked with %s's registered %s key %s",
                             req->approval_system, key_type, fp ?: "");
                if (r != -EBADMSG && reason[0])
                        snprintf(err->value, sizeof err->value, "%s", reason);
                api_refuse(c, 422, err, "request.refused", "", approval, req->kind);
                return -EPERM;
        }

        /* The same approval again: identical signed bytes are a retry. An
         * approval id is one request or one tunnel, never both. */
        struct approval_key prior = {};
        r = store_query(o->store,
                        "SELECT 'request:' || id, digest FROM requests WHERE approval_system = ? AND approval_id = ? "
                        "UNION ALL SELECT 'tunnel:' || id, digest FROM tunnels WHERE approval_system = ? AND approval_id = ?",
                        STORE_ARGS(STORE_TEXT(req->approval_system), STORE_TEXT(req->approval_id),
                                   STORE_TEXT(req->approval_system), STORE_TEXT(req->approval_id)),
                        key_cb, &prior);
        _cleanup_free_ char *prior_id = prior.key_type, *prior_digest = prior.pem;
        if (r < 0)
                return r;
        if (r > 0) {
                if (strcmp(prior_digest, req->digest) == 0) {
                        const char *colon = strchr(prior_id, ':');
                        int64_t id = strtoll(colon + 1, NULL, 10);
                        if (prior_id[0] == 'r')
                                *ret_request = id;
                        else
                                *ret_tunnel = id;
                        metrics_request(&o->metrics, req->kind, METRICS_EXISTING);
                        log_info("%s (%s) submitted again with the same bytes: returning it", prior_id, approval);
                        return 1;
                }
                gc_error_set(err, "replay", "", "approval.id", req->approval_id,
                             "was already used by %s with other content (%s); a replayed approval is refused", prior_id,
                             prior_digest);
                api_refuse(c, 409, err, "request.refused", "", approval, req->kind);
                return -EPERM;
        }

        int64_t now = orch_now(o);
        char t[32];
        store_format_time(req->approval_time, t);
        if (now - req->approval_time > o->cfg->approval_max_age) {
                gc_error_set(err, "approval_expired", "", "approval.time", t,
                             "is %lld s before the orchestrator's clock; approvals are valid for %lld s",
                             (long long) (now - req->approval_time), (long long) o->cfg->approval_max_age);
                api_refuse(c, 422, err, "request.refused", "", approval, req->kind);
                return -EPERM;
        }
        if (req->approval_time - now > o->cfg->approval_max_skew) {
                gc_error_set(err, "approval_in_future", "", "approval.time", t,
                             "is %lld s after the orchestrator's clock; at most %lld s are tolerated",
                             (long long) (req->approval_time - now), (long long) o->cfg->approval_max_skew);
                api_refuse(c, 422, err, "request.refused", "", approval, req->kind);
                return -EPERM;
        }
        return 0;
}

/* 1 when the request exists already with the same bytes (replied), 0 to go
 * on, < 0 when refused (replied). */
static int check_envelope(struct intake *in) {
        int64_t request = 0, tunnel = 0;
        int r = intake_envelope(in->c, in->req, in->approval, &in->err, &request, &tunnel);
        if (r <= 0)
                return r;
        if (tunnel) {
                gc_error_set(&in->err, "replay", "", "approval.id", in->req->approval_id,
                             "is tunnel %lld's approval; a tunnel is submitted to POST /v1/tunnels", (long long) tunnel);
                refuse(in, 409);
                return -EPERM;
        }
        reply_request(in->c, 200, request, true);
        return 1;
}

/* ---- 3. the pack's rules ---- */

struct system_row {
        int64_t id;
        char *state, *pool;
        bool agreement, classified;
        bool found;
};

static int system_row_cb(const struct store_row *sr, void *userdata) {
        struct system_row *s = userdata;
        s->found = true;
        s->id = sr->v[0].i;
        s->state = xstrdup(sr->v[1].s);
        s->pool = sr->v[2].type == STORE_TEXT ? xstrdup(sr->v[2].s) : NULL;
        s->agreement = sr->v[3].i != 0;
        s->classified = sr->v[4].i != 0;
        return 0;
}

static int system_lookup(struct intake *in) {
        struct system_row row = {};
        int r;

        r = store_query(in->o->store,
                        "SELECT s.id, s.state, s.pool, s.agreement IS NOT NULL, s.classified FROM systems s "
                        "JOIN units u ON u.id = s.unit_id WHERE u.name = ? AND s.name = ?",
                        STORE_ARGS(STORE_TEXT(in->unit), STORE_TEXT(in->system_name)), system_row_cb, &row);
        _cleanup_free_ char *pool = row.pool;
        if (r < 0) {
                free(row.state);
                return r;
        }
        if (!row.found)
                return 0;
        in->system_id = row.id;
        in->system_state = row.state;
        in->system_has_agreement = row.agreement;
        in->system_classified = row.classified;
        if (pool && !in->pool)
                in->pool = config_pool(in->o->cfg, pool);
        return 0;
}

static int refuse_unknown_system(struct intake *in, int64_t unit_exists) {
        if (!unit_exists)
                gc_error_set(&in->err, "unknown_unit", "R-NM1", "unit", in->unit,
                             "is not a registered unit (the unit's full name, as registered)");
        else
                gc_error_set(&in->err, "unknown_system", "R-NM1", "system.name", in->system_name,
                             "is not a registered system of %s (the name as in its feasibility report)", in->unit);
        refuse(in, 422);
        return -EPERM;
}

static int range_check(struct intake *in, const char *field, long v, const struct config_range *range, const char *what) {
        if (v >= range->min && v <= range->max)
                return 0;
        char value[32];
        snprintf(value, sizeof value, "%ld", v);
        gc_error_set(&in->err, "flavour_bounds", "", field, value, "is outside pool %s's %s flavours [%ld, %ld]",
                     in->pool->name, what, range->min, range->max);
        refuse(in, 422);
        return -EPERM;
}

/* The highest number in use for role in the system (0: none). */
static unsigned role_max(struct intake *in, const char *role) {
        int64_t n = 0;
        if (in->system_id)
                store_query_int(in->o->store, "SELECT COALESCE(MAX(number), 0) FROM vms WHERE system_id = ? AND role = ?",
                                STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(role)), &n);
        for (size_t i = 0; i < in->n_vms; i++)
                if (strcmp(in->vms[i].role, role) == 0 && in->vms[i].number > n)
                        n = in->vms[i].number;
        return (unsigned) n;
}

static cJSON *vm_spec(const cJSON *row) {
        static const char *const keys[] = { "type", "arch", "vcpus", "memory_gib", "system_disk", "data_disk", "os", "network", "ports" };
        cJSON *spec = cJSON_CreateObject();
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, keys[i]);
                cJSON_AddItemToObject(spec, keys[i], v ? cJSON_Duplicate(v, true) : cJSON_CreateArray());
        }
        return spec;
}

/* Rows of VMs to create (apply "vms", change "add"): architecture and
 * flavour bounds of the pool, then the names (R-NM2). */
static int plan_vms(struct intake *in, const cJSON *rows, const char *field) {
        const struct pack *pack = in->pack;
        size_t i = 0;
        const cJSON *row;

        cJSON_ArrayForEach(row, rows) {
                _cleanup_free_ char *f = xasprintf("%s[%zu]", field, i);
                const char *arch = str_at(row, "arch");
                int a = strcmp(arch, "x86") == 0 ? 0 : strcmp(arch, "arm") == 0 ? 1 : 2;
                if (!in->pool->arch[a]) {
                        _cleanup_free_ char *fa = xasprintf("%s.arch", f);
                        gc_error_set(&in->err, "unsupported_arch", "R-RQ1", fa, arch, "is not offered by pool %s",
                                     in->pool->name);
                        refuse(in, 422);
                        return -EPERM;
                }
                _cleanup_free_ char *fv = xasprintf("%s.vcpus", f), *fm = xasprintf("%s.memory_gib", f),
                                    *fs = xasprintf("%s.system_disk.gib", f), *fd = xasprintf("%s.data_disk.gib", f);
                const cJSON *sd = cJSON_GetObjectItemCaseSensitive(row, "system_disk");
                const cJSON *dd = cJSON_GetObjectItemCaseSensitive(row, "data_disk");
                if (range_check(in, fv, int_at(row, "vcpus", 0), &in->pool->vcpus, "vCPU") < 0 ||
                    range_check(in, fm, int_at(row, "memory_gib", 0), &in->pool->memory_gib, "memory (GiB)") < 0 ||
                    range_check(in, fs, int_at(sd, "gib", 0), &in->pool->system_disk_gib, "system disk (GiB)") < 0 ||
                    range_check(in, fd, int_at(dd, "gib", 0), &in->pool->data_disk_gib, "data disk (GiB)") < 0)
                        return -EPERM;

                const char *role = str_at(row, "role");
                long count = int_at(row, "count", 1);
                const cJSON *names = cJSON_GetObjectItemCaseSensitive(row, "names");
                _cleanup_free_ char *frole = xasprintf("%s.role", f);
                if (naming_check_part(role, frole, &in->err) < 0) {   /* R-NM2 */
                        refuse(in, 422);
                        return -EPERM;
                }
                if (names && cJSON_GetArraySize(names) != count) {
                        _cleanup_free_ char *fn = xasprintf("%s.names", f);
                        char v[32];
                        snprintf(v, sizeof v, "%d names", cJSON_GetArraySize(names));
                        gc_error_set(&in->err, "names_count", "R-NM2", fn, v, "must name each of the %ld VMs of count", count);
                        refuse(in, 422);
                        return -EPERM;
                }
                unsigned base = role_max(in, role);
                in->vms = xrealloc(in->vms, (in->n_vms + count) * sizeof *in->vms);
                for (long k = 0; k < count; k++) {
                        struct planned_vm *vm = &in->vms[in->n_vms];
                        *vm = (struct planned_vm) {};
                        _cleanup_free_ char *fname = names ? xasprintf("%s.names[%ld]", f, k) : xasprintf("%s", f);
                        int r;

                        if (names) {
                                const char *name = cJSON_GetArrayItem(names, k)->valuestring;
                                if (pack->naming.vm_name_rule) {
                                        /* R-NM2: unit + system + role + number. */
                                        r = naming_check(name, in->unit, in->system_name, &vm->role, &vm->number, &in->err);
                                        if (r >= 0 && strcmp(vm->role, role) != 0) {
                                                gc_error_set(&in->err, "invalid_name", "R-NM2", "name", name,
                                                             "names role \"%s\", but the row's role is \"%s\"", vm->role, role);
                                                r = -EINVAL;
                                        }
                                } else {
                                        r = naming_check_part(name, "name", &in->err);
                                        vm->role = xstrdup(role);
                                        vm->number = base + k + 1;
                                }
                                if (r < 0) {
                                        free(vm->role);
                                        if (strcmp(in->err.field, "name") == 0)
                                                snprintf(in->err.field, sizeof in->err.field, "%s", fname);
                                        else
                                                gc_error_prefix_field(&in->err, fname);
                                        refuse(in, 422);
                                        return -EPERM;
                                }
                                vm->name = xstrdup(name);
                        } else {
                                /* R-NM2: built by the rule. */
                                struct naming_parts parts = { in->unit, in->system_name, role, base + k + 1 };
                                r = naming_build(&parts, &vm->name, &in->err);
                                if (r < 0) {
                                        gc_error_prefix_field(&in->err, f);
                                        refuse(in, 422);
                                        return -EPERM;
                                }
                                vm->role = xstrdup(role);
                                vm->number = base + k + 1;
                        }
                        vm->spec = vm_spec(row);
                        snprintf(vm->field, sizeof vm->field, "%s", fname);
                        in->n_vms++;

                        /* R-NM2: unique within the request and within the pool. */
                        for (size_t j = 0; j + 1 < in->n_vms; j++)
                                if (strcmp(in->vms[j].name, vm->name) == 0) {
                                        gc_error_set(&in->err, "duplicate_name", "R-NM2", fname, vm->name,
                                                     "is given twice in this request");
                                        refuse(in, 422);
                                        return -EPERM;
                                }
                        int64_t used = 0;
                        r = store_query_int(in->o->store, "SELECT COUNT(*) FROM vms WHERE pool = ? AND name = ?",
                                            STORE_ARGS(STORE_TEXT(in->pool->name), STORE_TEXT(vm->name)), &used);
                        if (r < 0)
                                return r;
                        if (used) {
                                gc_error_set(&in->err, "duplicate_name", "R-NM2", fname, vm->name,
                                             "is already the name of a VM in pool %s; names are unique within a pool",
                                             in->pool->name);
                                refuse(in, 422);
                                return -EPERM;
                        }
                }
                i++;
        }
        return 0;
}

static int rules_apply(struct intake *in) {
        const cJSON *doc = in->req->doc;
        const cJSON *system = cJSON_GetObjectItemCaseSensitive(doc, "system");
        int r;

        /* R-RQ1: classified systems are refused outright. */
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(system, "classified"))) {
                gc_error_set(&in->err, "classified", "R-RQ1", "system.classified", "true",
                             "classified systems are refused outright: the government cloud does not host them");
                refuse(in, 422);
                return -EPERM;
        }
        const char *pool = str_at(doc, "pool");
        in->pool = config_pool(in->o->cfg, pool);
        if (!in->pool) {
                gc_error_set(&in->err, "unknown_pool", "", "pool", pool, "is not a pool of this orchestrator");
                refuse(in, 422);
                return -EPERM;
        }
        in->pack = in->pool->pack;

        /* R-NM1: the unit's full name and the system's name are name parts. */
        if (naming_check_part(in->unit, "unit", &in->err) < 0 ||
            naming_check_part(in->system_name, "system.name", &in->err) < 0) {
                refuse(in, 422);
                return -EPERM;
        }
        /* R-LC2: the trial's length within the pack's bounds. */
        r = trial_resolve(&in->pack->trial, int_at(doc, "trial_length", -1), &in->trial_length, &in->err);
        if (r < 0) {
                snprintf(in->err.field, sizeof in->err.field, "trial_length");
                refuse(in, 422);
                return -EPERM;
        }
        r = system_lookup(in);
        if (r < 0)
                return r;
        return plan_vms(in, cJSON_GetObjectItemCaseSensitive(doc, "vms"), "vms");
}

/* The system's earlier changes, newest first (R-RQ3 counts this month's). */
struct times {
        int64_t v[64];
        size_t n;
};

static int times_cb(const struct store_row *row, void *userdata) {
        struct times *t = userdata;
        if (t->n < ELEMENTSOF(t->v))
                t->v[t->n++] = row->v[0].i;
        return 0;
}

static int rules_change(struct intake *in) {
        const cJSON *doc = in->req->doc;
        int r;

        const cJSON *add = cJSON_GetObjectItemCaseSensitive(doc, "add");
        const cJSON *resize = cJSON_GetObjectItemCaseSensitive(doc, "resize");
        const cJSON *release = cJSON_GetObjectItemCaseSensitive(doc, "release");
        if (cJSON_GetArraySize(add) + cJSON_GetArraySize(resize) + cJSON_GetArraySize(release) == 0) {
                gc_error_set(&in->err, "empty_change", "", "add", NULL,
                             "the change lists nothing: add, resize or release must name at least one VM");
                refuse(in, 422);
                return -EPERM;
        }
        if (in->system_id == 0)
                return 1;       /* state decides: unknown system */
        if (!in->pool)
                return 1;       /* no application yet: state decides */
        in->pack = in->pool->pack;

        struct change_delta delta = {};
        const cJSON *item;
        size_t i = 0;

        /* Resizes: each names a VM of the system; increases count (R-RQ2). */
        cJSON_ArrayForEach(item, resize) {
                const char *name = str_at(item, "name");
                _cleanup_free_ char *spec_text = NULL;
                _cleanup_free_ char *f = xasprintf("resize[%zu]", i++);
                r = store_query_text(in->o->store,
                                     "SELECT spec FROM vms WHERE system_id = ? AND name = ? AND state <> 'released'",
                                     STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(name)), &spec_text);
                if (r == -ENOENT) {
                        _cleanup_free_ char *fn = xasprintf("%s.name", f);
                        gc_error_set(&in->err, "unknown_vm", "", fn, name, "is not a VM of %s", in->system_name);
                        refuse(in, 422);
                        return -EPERM;
                }
                if (r < 0)
                        return r;
                _cleanup_(cJSON_Deletep) cJSON *spec = cJSON_Parse(spec_text);
                struct {
                        const char *key, *what;
                        long old;
                        const struct config_range *range;
                        long *delta;
                } dims[] = {
                        { "vcpus", "vCPU", int_at(spec, "vcpus", 0), &in->pool->vcpus, &delta.cpu_cores },
                        { "memory_gib", "memory (GiB)", int_at(spec, "memory_gib", 0), &in->pool->memory_gib, &delta.memory_gib },
                        { "system_disk_gib", "system disk (GiB)", int_at(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib", 0),
                          &in->pool->system_disk_gib, &delta.storage_gib },
                        { "data_disk_gib", "data disk (GiB)", int_at(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib", 0),
                          &in->pool->data_disk_gib, &delta.storage_gib },
                };
                for (size_t d = 0; d < ELEMENTSOF(dims); d++) {
                        long v = int_at(item, dims[d].key, -1);
                        if (v < 0)
                                continue;
                        _cleanup_free_ char *fd = xasprintf("%s.%s", f, dims[d].key);
                        if (range_check(in, fd, v, dims[d].range, dims[d].what) < 0)
                                return -EPERM;
                        if (v > dims[d].old)
                                *dims[d].delta += v - dims[d].old;
                }
        }
        i = 0;
        cJSON_ArrayForEach(item, release) {
                int64_t n = 0;
                _cleanup_free_ char *f = xasprintf("release[%zu]", i++);
                r = store_query_int(in->o->store, "SELECT COUNT(*) FROM vms WHERE system_id = ? AND name = ? AND state <> 'released'",
                                    STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(item->valuestring)), &n);
                if (r < 0)
                        return r;
                if (n == 0) {
                        gc_error_set(&in->err, "unknown_vm", "", f, item->valuestring, "is not a VM of %s", in->system_name);
                        refuse(in, 422);
                        return -EPERM;
                }
        }
        r = plan_vms(in, add, "add");
        if (r < 0)
                return r;
        for (size_t k = 0; k < in->n_vms; k++) {
                const cJSON *spec = in->vms[k].spec;
                delta.new_vms++;
                delta.cpu_cores += int_at(spec, "vcpus", 0);
                delta.memory_gib += int_at(spec, "memory_gib", 0);
                delta.storage_gib += int_at(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib", 0) +
                                     int_at(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib", 0);
        }

        /* R-RQ2: a major change needs the re-review on its approval. */
        struct gc_error major = {};
        if (change_major_dimensions(&in->pack->major, &delta, &major) != 0 && !in->req->major_change_review) {
                in->err = major;
                size_t len = strlen(in->err.message);
                snprintf(in->err.message + len, sizeof in->err.message - len,
                         "; a major change needs approval.major_change_review (re-review with performance and security tests)");
                snprintf(in->err.code, sizeof in->err.code, "major_change");
                snprintf(in->err.rule, sizeof in->err.rule, "R-RQ2");
                refuse(in, 422);
                return -EPERM;
        }

        /* R-RQ3: at most the pack's number of changes per calendar month. */
        struct times t = {};
        r = store_query(in->o->store, "SELECT received FROM requests WHERE system_id = ? AND kind = 'change' ORDER BY received DESC",
                        STORE_ARGS(STORE_INT(in->system_id)), times_cb, &t);
        if (r < 0)
                return r;
        r = change_frequency_check(&in->pack->frequency, &in->pack->calendar, t.v, t.n, orch_now(in->o),
                                   in->req->change_exception != NULL, &in->err);
        if (r < 0) {
                refuse(in, 422);
                return -EPERM;
        }
        return 0;
}

/* ---- 4. state ---- */

static int check_state(struct intake *in) {
        int64_t unit_exists = 0;
        int r = store_query_int(in->o->store, "SELECT COUNT(*) FROM units WHERE name = ?", STORE_ARGS(STORE_TEXT(in->unit)),
                                &unit_exists);
        if (r < 0)
                return r;
        if (!in->system_id)
                return refuse_unknown_system(in, unit_exists);

        if (in->system_classified) {
                /* R-RQ1: the registration says classified. */
                gc_error_set(&in->err, "classified", "R-RQ1", "system.name", in->system_name,
                             "is registered as classified; classified systems are refused outright");
                refuse(in, 422);
                return -EPERM;
        }
        const char *to = lifecycle_target(in->req->kind);
        if (!lifecycle_allowed(in->system_state, to)) {
                gc_error_set(&in->err, "invalid_state", "R-LC1", "system.name", in->system_name,
                             "is %s; a%s %s request needs a system that is %s", in->system_state,
                             in->req->kind[0] == 'a' || in->req->kind[0] == 'e' ? "n" : "", in->req->kind,
                             lifecycle_sources(in->req->kind));
                refuse(in, 409);
                return -EPERM;
        }
        /* R-SC1: nothing is provisioned without the agreement on record. */
        if (strcmp(in->req->kind, "apply") == 0 && in->pack &&
            in->pack->admission.security_agreement == PACK_AGREEMENT_BEFORE_PROVISIONING && !in->system_has_agreement) {
                gc_error_set(&in->err, "no_agreement", "R-SC1", "system.name", in->system_name,
                             "has no signed security responsibility agreement on record; pack %s requires one before provisioning",
                             in->pack->id);
                refuse(in, 422);
                return -EPERM;
        }
        return 0;
}

/* ---- capacity ---- */

/* New VMs must fit on the pool's hosts, resized ones on their own host;
 * otherwise the request is refused whole, with the shortfall named. */
static int check_capacity(struct intake *in) {
        struct orch *o = in->o;
        int r;

        if (in->n_vms > 0) {
                struct sched_vm *sv = xnew(struct sched_vm, in->n_vms);
                for (size_t i = 0; i < in->n_vms; i++)
                        sv[i] = (struct sched_vm) { .spec = in->vms[i].spec, .name = in->vms[i].name,
                                                    .role = in->vms[i].role, .field = in->vms[i].field };
                r = sched_place(o, in->pool->name, in->system_id, sv, in->n_vms, &in->err);
                for (size_t i = 0; r >= 0 && i < in->n_vms; i++)
                        snprintf(in->vms[i].host, sizeof in->vms[i].host, "%s", sv[i].host);
                free(sv);
                if (r == -ENOSPC) {
                        refuse(in, 422);
                        return -EPERM;
                }
                if (r < 0)
                        return r;
        }
        if (strcmp(in->req->kind, "change") != 0)
                return 0;
        const cJSON *item;
        size_t i = 0;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(in->req->doc, "resize")) {
                _cleanup_free_ char *spec_text = NULL, *host = NULL;
                _cleanup_free_ char *f = xasprintf("resize[%zu]", i++);
                r = store_query_text(o->store, "SELECT spec FROM vms WHERE system_id = ? AND name = ?",
                                     STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(str_at(item, "name"))), &spec_text);
                if (r >= 0)
                        r = store_query_text(o->store, "SELECT host FROM vms WHERE system_id = ? AND name = ?",
                                             STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(str_at(item, "name"))), &host);
                if (r == -ENOENT)
                        continue;       /* not placed yet */
                if (r < 0)
                        return r;
                _cleanup_(cJSON_Deletep) cJSON *spec = cJSON_Parse(spec_text);
                long dv = int_at(item, "vcpus", int_at(spec, "vcpus", 0)) - int_at(spec, "vcpus", 0);
                long dm = (int_at(item, "memory_gib", int_at(spec, "memory_gib", 0)) - int_at(spec, "memory_gib", 0)) * 1024;
                long dd = int_at(item, "system_disk_gib", int_at(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib", 0)) -
                          int_at(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib", 0) +
                          int_at(item, "data_disk_gib", int_at(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib", 0)) -
                          int_at(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib", 0);
                r = sched_grow(o, host, dv > 0 ? dv : 0, dm > 0 ? dm : 0, dd > 0 ? dd : 0, f, &in->err);
                if (r == -ENOSPC) {
                        refuse(in, 422);
                        return -EPERM;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* R-EX1: an exit the authority initiates names a ground the pack lets it
 * reclaim on; the tenant's own exit needs none of the pack's grounds. */
static int rules_exit(struct intake *in) {
        const char *ground = str_at(in->req->doc, "ground");
        if (strcmp(str_at(in->req->doc, "initiator") ?: "", "authority") != 0 || !in->pack)
                return 0;
        int g = pack_reclaim_ground_from_string(ground);
        if (in->pack->exit.reclaim_grounds_listed && g >= 0 && (in->pack->exit.reclaim_grounds & (1u << g)))
                return 0;
        gc_error_set(&in->err, "ground_not_allowed", "R-EX1", "ground", ground,
                     in->pack->exit.reclaim_grounds_listed ? "is not a ground the pack %s lets the authority reclaim on"
                                                           : "cannot be used: the pack %s lists no grounds for an authority's exit",
                     in->pack->name);
        refuse(in, 422);
        return -EPERM;
}

/* The change's resizes and releases, as jobs (inside accept's transaction). */
static int apply_change(struct intake *in, int64_t request_id) {
        struct orch *o = in->o;
        const cJSON *item;
        int r = 0;

        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(in->req->doc, "resize")) {
                int64_t vm_id;
                long vcpus = int_at(item, "vcpus", -1), memory = int_at(item, "memory_gib", -1);
                long system_disk = int_at(item, "system_disk_gib", -1);
                r = store_query_int(o->store, "SELECT id FROM vms WHERE system_id = ? AND name = ?",
                                    STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(str_at(item, "name"))), &vm_id);
                if (r >= 0)
                        r = dispatch_resize(o, vm_id, request_id, vcpus > 0 ? vcpus : -1, memory > 0 ? memory : -1,
                                            system_disk > 0 ? system_disk : -1, int_at(item, "data_disk_gib", -1));
                if (r < 0)
                        return r;
        }
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(in->req->doc, "release")) {
                int64_t vm_id;
                r = store_query_int(o->store, "SELECT id FROM vms WHERE system_id = ? AND name = ?",
                                    STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(item->valuestring)), &vm_id);
                if (r >= 0)
                        r = store_exec(o->store, "UPDATE vms SET state = 'releasing' WHERE id = ?", STORE_ARGS(STORE_INT(vm_id)), NULL);
                if (r >= 0)
                        r = dispatch_enqueue(o, vm_id, request_id, "vm.delete");
                if (r < 0)
                        return r;
        }
        return r;
}

/* ---- acceptance ---- */

static int accept(struct intake *in, int64_t *ret_id) {
        struct orch *o = in->o;
        struct request *req = in->req;
        int64_t now = orch_now(o), id, seq;
        const char *to = lifecycle_target(req->kind);
        int64_t changes = 0;
        _cleanup_(cJSON_Deletep) cJSON *detail = NULL;
        _cleanup_free_ int64_t *vm_ids = NULL;
        int r;

        _cleanup_free_ char *document = cJSON_PrintUnformatted(req->doc);
        r = store_begin(o->store);
        if (r < 0)
                return r;
        r = store_query_int(o->store,
                            "INSERT INTO requests (kind, system_id, approval_system, approval_id, digest, document, received, outcome, exception) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, 'accepted', ?) RETURNING id",
                            STORE_ARGS(STORE_TEXT(req->kind), STORE_INT(in->system_id), STORE_TEXT(req->approval_system),
                                       STORE_TEXT(req->approval_id), STORE_TEXT(req->digest), STORE_TEXT(document),
                                       STORE_INT(now), STORE_INT(req->change_exception != NULL)),
                            &id);
        if (r < 0)
                goto fail;
        bool apply = strcmp(req->kind, "apply") == 0;
        r = store_exec(o->store,
                       "UPDATE systems SET state = ?, pool = COALESCE(?, pool), trial_length = CASE WHEN ? THEN ? ELSE trial_length END, "
                       "return_state = ?, updated = ? WHERE id = ? AND state = ?",
                       STORE_ARGS(STORE_TEXT(to), STORE_TEXT(in->pool ? in->pool->name : NULL), STORE_INT(apply),
                                  STORE_INT(in->trial_length), STORE_TEXT(strcmp(req->kind, "change") == 0 ? in->system_state : NULL),
                                  STORE_INT(now), STORE_INT(in->system_id), STORE_TEXT(in->system_state)),
                       &changes);
        if (r >= 0 && changes != 1)
                r = -ESTALE;
        if (r < 0)
                goto fail;

        /* R-LC4: what the change sheet compares the result with, before
         * the change touches a VM. */
        if (strcmp(req->kind, "change") == 0) {
                _cleanup_(cJSON_Deletep) cJSON *before = NULL;
                r = sheets_snapshot(o, in->system_id, &before);
                if (r >= 0) {
                        _cleanup_free_ char *text = cJSON_PrintUnformatted(before);
                        r = store_exec(o->store, "UPDATE requests SET before = ? WHERE id = ?",
                                       STORE_ARGS(STORE_TEXT(text), STORE_INT(id)), NULL);
                }
                if (r < 0)
                        goto fail;
        }

        /* R-EX2: the exit's statement to sign and its grace period. */
        if (strcmp(req->kind, "exit") == 0) {
                r = reclaim_exit_accepted(o, in->system_id, id, req->doc, in->pool);
                if (r < 0)
                        goto fail;
        }

        /* R-NW1: the system's own VPC; R-NW2: its addresses. */
        if (apply) {
                r = vpc_plan(o, in->system_id, in->pool, in->n_vms, &in->err);
                if (r < 0)
                        goto fail;
        }
        cJSON *names = cJSON_CreateArray();
        vm_ids = xnew(int64_t, in->n_vms + 1);
        for (size_t i = 0; i < in->n_vms; i++) {
                _cleanup_free_ char *spec = cJSON_PrintUnformatted(in->vms[i].spec);
                int64_t vm_id = 0;
                r = store_query_int(o->store,
                                    "INSERT INTO vms (system_id, pool, name, role, number, spec, state, request_id, vcpus, memory_gib, disk_gib) "
                                    "VALUES (?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?, ?) RETURNING id",
                                    STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(in->pool->name), STORE_TEXT(in->vms[i].name),
                                               STORE_TEXT(in->vms[i].role), STORE_INT(in->vms[i].number), STORE_TEXT(spec),
                                               STORE_INT(id), STORE_INT(int_at(in->vms[i].spec, "vcpus", 0)),
                                               STORE_INT(int_at(in->vms[i].spec, "memory_gib", 0)),
                                               STORE_INT(spec_disk_gib(in->vms[i].spec))),
                                    &vm_id);
                if (r >= 0)
                        r = dispatch_assign(o, vm_id, in->vms[i].host);
                if (r >= 0)
                        r = vpc_assign_vm(o, in->system_id, vm_id, in->vms[i].field, &in->err);
                if (r < 0) {
                        cJSON_Delete(names);
                        goto fail;
                }
                vm_ids[i] = vm_id;
                cJSON_AddItemToArray(names, cJSON_CreateString(in->vms[i].name));
        }

        if (strcmp(req->kind, "change") == 0) {
                r = apply_change(in, id);
                if (r < 0) {
                        cJSON_Delete(names);
                        goto fail;
                }
        }
        /* The network first: a host builds the VPC before the VMs that attach to it. */
        r = vpc_sync(o, in->system_id, id, &in->err);
        for (size_t i = 0; r >= 0 && i < in->n_vms; i++)
                r = dispatch_enqueue(o, vm_ids[i], id, "vm.ensure");
        if (r < 0) {
                cJSON_Delete(names);
                goto fail;
        }

        detail = cJSON_CreateObject();
        cJSON_AddStringToObject(detail, "kind", req->kind);
        cJSON_AddNumberToObject(detail, "request", (double) id);
        cJSON_AddNumberToObject(detail, "system", (double) in->system_id);
        cJSON_AddStringToObject(detail, "unit", in->unit);
        cJSON_AddStringToObject(detail, "system_name", in->system_name);
        cJSON_AddStringToObject(detail, "digest", req->digest);
        cJSON_AddStringToObject(detail, "from", in->system_state);
        cJSON_AddStringToObject(detail, "to", to);
        if (in->pool)
                cJSON_AddStringToObject(detail, "pool", in->pool->name);
        if (apply)
                cJSON_AddNumberToObject(detail, "trial_length", in->trial_length);
        if (req->change_exception)
                cJSON_AddStringToObject(detail, "change_exception", req->change_exception);       /* R-RQ3 */
        cJSON_AddItemToObject(detail, "vms", names);
        char object[64];
        snprintf(object, sizeof object, "request:%lld", (long long) id);
        struct audit_entry e = {
                .time = now,
                .actor = in->c->who->name,
                .role = "approval",
                .action = "request.accepted",
                .object = object,
                .approval = in->approval,
                .outcome = "accepted",
                .rule = "R-LC1",
                .detail = detail,
        };
        r = audit_append(o->store, o->audit_hash, &e, &seq);
        if (r < 0)
                goto fail;
        r = store_exec(o->store,
                       "INSERT INTO transitions (system_id, from_state, to_state, time, actor, request_id, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       STORE_ARGS(STORE_INT(in->system_id), STORE_TEXT(in->system_state), STORE_TEXT(to), STORE_INT(now),
                                  STORE_TEXT(in->approval), STORE_INT(id), STORE_INT(seq)),
                       NULL);
        if (r < 0)
                goto fail;
        r = store_commit(o->store);
        if (r < 0)
                goto fail;
        o->metrics.audit_records++;
        *ret_id = id;
        return 0;
fail:
        store_rollback(o->store);
        return r;
}

void intake_submit(struct api_call *c) {
        struct intake in = { .c = c, .o = c->o };
        int r;

        /* 1. envelope */
        r = request_parse(c->raw, c->raw_len, &in.req, &in.err);
        if (r < 0) {
                refuse(&in, 400);
                goto done;
        }
        snprintf(in.approval, sizeof in.approval, "%s/%s", in.req->approval_system, in.req->approval_id);
        r = check_envelope(&in);
        if (r != 0)
                goto done_r;

        /* 2. schema */
        r = request_check_schema(in.req, &in.err);
        if (r < 0) {
                refuse(&in, 400);
                goto done;
        }
        if (strcmp(in.req->kind, "tunnel") == 0) {
                gc_error_set(&in.err, "wrong_endpoint", "R-OP1", "kind", "tunnel",
                             "is submitted to POST /v1/tunnels, which answers with the tunnel's one-time token");
                refuse(&in, 422);
                goto done;
        }

        /* 3. the pack's rules */
        in.unit = str_at(in.req->doc, "unit");
        in.system_name = str_at(cJSON_GetObjectItemCaseSensitive(in.req->doc, "system"), "name");
        if (strcmp(in.req->kind, "apply") == 0)
                r = rules_apply(&in);
        else {
                r = system_lookup(&in);
                if (r >= 0 && in.pool)
                        in.pack = in.pool->pack;
                if (r >= 0 && strcmp(in.req->kind, "change") == 0)
                        r = rules_change(&in);
                if (r >= 0 && strcmp(in.req->kind, "exit") == 0)
                        r = rules_exit(&in);
        }
        if (r < 0)
                goto done_r;

        /* 4. the system's state, then room for its VMs */
        r = check_state(&in);
        if (r >= 0 && strcmp(in.req->kind, "exit") != 0)
                r = check_capacity(&in);
        if (r < 0)
                goto done_r;

        int64_t id = 0;
        r = accept(&in, &id);
        if (r == -EEXIST) {
                /* A VM name taken between the check and the insert. */
                gc_error_set(&in.err, "duplicate_name", "R-NM2", "vms", NULL, "a VM name is already used in pool %s",
                             in.pool ? in.pool->name : "");
                refuse(&in, 422);
                goto done;
        }
        if (r == -ENOSPC || r == -EPERM) {
                /* Addresses, VXLAN ids or uplinks exhausted (R-NW1, R-NW2): in.err says which. */
                refuse(&in, 422);
                goto done;
        }
        if (r == -ESTALE) {
                gc_error_set(&in.err, "invalid_state", "R-LC1", "system.name", in.system_name, "changed state meanwhile");
                refuse(&in, 409);
                goto done;
        }
        if (r < 0)
                goto done_r;
        metrics_request(&c->o->metrics, in.req->kind, METRICS_ACCEPTED);
        if (strcmp(in.req->kind, "exit") == 0)
                log_info("accepted exit request %lld (%s) for %s %s: %s -> %s", (long long) id, in.approval, in.unit,
                         in.system_name, in.system_state, lifecycle_target(in.req->kind));
        else
                log_info("accepted %s request %lld (%s) for %s %s: %s -> %s, %zu VM%s", in.req->kind, (long long) id, in.approval,
                         in.unit, in.system_name, in.system_state, lifecycle_target(in.req->kind), in.n_vms,
                         in.n_vms == 1 ? "" : "s");
        orch_notify_kick(c->o);
        reply_request(c, 201, id, false);
        dispatch_wake(c->o);
        goto done;

done_r:
        if (r < 0 && r != -EPERM && !c->replied) {
                log_error_errno(r, "request %s: store failure", in.approval);
                api_error(c, r == -EBUSY ? 503 : 500, "store_failure", "the store could not complete the request");
        }
done:
        intake_done(&in);
}
