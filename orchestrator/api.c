/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routes, roles and the registration and read handlers. Every mutation is
 * one store transaction with its audit record; every refusal of a mutation
 * and every call outside the caller's role appends exactly one audit record
 * and changes nothing else.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "alloc.h"
#include "api.h"
#include "audit.h"
#include "cleanup.h"
#include "crypto.h"
#include "dispatch.h"
#include "gc-config.h"
#include "json.h"
#include "log.h"
#include "naming.h"
#include "orch.h"
#include "schemas.h"
#include "reclaim.h"
#include "sheets.h"
#include "tunnels.h"
#include "usage.h"
#include "chain.h"
#include "vpc.h"

#define R_READ (ROLE_AUTHORITY | ROLE_PROVIDER)

static void get_healthz(struct api_call *c);
static void get_metrics(struct api_call *c);
static void get_units(struct api_call *c);
static void post_units(struct api_call *c);
static void get_systems(struct api_call *c);
static void post_systems(struct api_call *c);
static void get_system(struct api_call *c);
static void put_agreement(struct api_call *c);
static void put_admission(struct api_call *c);
static void get_approval_systems(struct api_call *c);
static void post_approval_systems(struct api_call *c);
static void get_keys(struct api_call *c);
static void post_keys(struct api_call *c);
static void get_pools(struct api_call *c);
static void get_hosts(struct api_call *c);
static void post_hosts(struct api_call *c);
static void get_requests(struct api_call *c);
static void get_request(struct api_call *c);
static void get_audit(struct api_call *c);
static void get_network(struct api_call *c);
static void put_egress(struct api_call *c);
static void post_isolate(struct api_call *c);
static void post_restore(struct api_call *c);

const struct api_route api_routes[] = {
        { "GET", "/healthz", ROLE_ANY, NULL, get_healthz, NULL },
        { "GET", "/metrics", R_READ, NULL, get_metrics, NULL },
        { "GET", "/v1/units", R_READ | ROLE_TENANT, NULL, get_units, NULL },
        { "POST", "/v1/units", ROLE_AUTHORITY, "registration.json#/$defs/unit", post_units, "unit" },
        { "GET", "/v1/systems", R_READ | ROLE_TENANT, NULL, get_systems, NULL },
        { "POST", "/v1/systems", ROLE_AUTHORITY, "registration.json#/$defs/system", post_systems, "system" },
        { "GET", "/v1/systems/{id}", R_READ | ROLE_TENANT, NULL, get_system, NULL },
        { "PUT", "/v1/systems/{id}/agreement", ROLE_AUTHORITY, "registration.json#/$defs/agreement", put_agreement, "agreement" },
        /* R-LC2: the authority extends a running trial. */
        { "POST", "/v1/systems/{id}/trial-extension", ROLE_AUTHORITY, "registration.json#/$defs/trial_extension",
          post_trial_extension, "trial" },
        { "PUT", "/v1/systems/{id}/admission", ROLE_AUTHORITY, "registration.json#/$defs/admission", put_admission, "admission" },
        /* R-NW1..3, R-SC2, R-SC3: the system's VPC, its egress, the isolation switch. */
        { "GET", "/v1/systems/{id}/network", R_READ | ROLE_TENANT, NULL, get_network, NULL },
        { "PUT", "/v1/systems/{id}/egress", ROLE_PROVIDER, "registration.json#/$defs/egress", put_egress, "vpc.egress" },
        { "POST", "/v1/systems/{id}/isolate", ROLE_PROVIDER | ROLE_AUTHORITY, "registration.json#/$defs/switch", post_isolate, "vpc.isolated" },
        { "POST", "/v1/systems/{id}/restore", ROLE_PROVIDER | ROLE_AUTHORITY, "registration.json#/$defs/switch", post_restore, "vpc.restored" },
        { "GET", "/v1/systems/{id}/exit", R_READ | ROLE_TENANT, NULL, get_exit, NULL },
        { "POST", "/v1/systems/{id}/exit-statement", ROLE_TENANT, "registration.json#/$defs/exit_statement", post_exit_statement, "exit" },
        { "POST", "/v1/systems/{id}/reclaim-order", ROLE_AUTHORITY, "registration.json#/$defs/reclaim_order", post_reclaim_order, "exit" },
        { "POST", "/v1/systems/{id}/reclaim", ROLE_PROVIDER, "registration.json#/$defs/reclaim_resume", post_reclaim, "reclaim" },
        { "GET", "/v1/approval-systems", R_READ, NULL, get_approval_systems, NULL },
        { "POST", "/v1/approval-systems", ROLE_AUTHORITY, "registration.json#/$defs/approval_system", post_approval_systems, "approval_system" },
        { "GET", "/v1/keys", R_READ | ROLE_TENANT, NULL, get_keys, NULL },
        { "POST", "/v1/keys", ROLE_AUTHORITY, "registration.json#/$defs/party_key", post_keys, "key" },
        { "POST", "/v1/keys/{id}/revoke", ROLE_AUTHORITY, "registration.json#/$defs/revocation", post_key_revoke, "key" },
        { "GET", "/v1/pools", R_READ, NULL, get_pools, NULL },
        { "GET", "/v1/hosts", R_READ, NULL, get_hosts, NULL },
        { "POST", "/v1/hosts", ROLE_PROVIDER, "registration.json#/$defs/host", post_hosts, "host" },
        /* The request is validated by intake in its documented order, not here. */
        { "POST", "/v1/requests", ROLE_APPROVAL, "request.json", intake_submit, "request" },
        { "GET", "/v1/requests", R_READ | ROLE_APPROVAL | ROLE_TENANT, NULL, get_requests, NULL },
        { "GET", "/v1/requests/{id}", R_READ | ROLE_APPROVAL | ROLE_TENANT, NULL, get_request, NULL },
        { "GET", "/v1/audit", R_READ, NULL, get_audit, NULL },
        /* R-AU1..R-AU3: checkpoints, countersignatures, export (chain.c). */
        { "GET", "/v1/audit/checkpoints", R_READ, NULL, get_checkpoints, NULL },
        { "POST", "/v1/audit/checkpoints", R_READ, NULL, post_checkpoint, NULL },
        { "POST", "/v1/audit/checkpoints/{id}/countersignatures", ROLE_AUTHORITY, "registration.json#/$defs/countersignature",
          post_countersignature, "checkpoint" },
        { "GET", "/v1/audit/export", R_READ, NULL, get_audit_export, NULL },
        /* R-LC3, R-LC4: tri-party sheets (sheets.c). */
        { "GET", "/v1/sheets", R_READ | ROLE_TENANT, NULL, get_sheets, NULL },
        { "GET", "/v1/sheets/{id}", R_READ | ROLE_TENANT, NULL, get_sheet, NULL },
        { "GET", "/v1/sheets/{id}/export", R_READ | ROLE_TENANT, NULL, get_sheet_export, NULL },
        { "POST", "/v1/sheets/{id}/signatures", R_READ | ROLE_TENANT, "registration.json#/$defs/sheet_signature",
          post_sheet_signature, "sheet" },
        { "GET", "/v1/vms", R_READ | ROLE_TENANT, NULL, get_vms, NULL },
        /* R-OP1..R-OP4: operations tunnels (tunnels.c); validated by it in its documented order. */
        /* Utilization (R-RS1..R-RS7, R-LC2). */
        { "POST", "/v1/metrics", ROLE_PROVIDER | ROLE_HOST, "registration.json#/$defs/metrics", usage_post_metrics, "metrics" },
        { "GET", "/v1/recommendations", R_READ | ROLE_TENANT, NULL, usage_get_recommendations, NULL },
        { "GET", "/v1/reports/monthly", R_READ | ROLE_TENANT, NULL, usage_get_report, NULL },
        { "POST", "/v1/reports/monthly", R_READ, "registration.json#/$defs/report_run", usage_post_report_run, "report" },
        { "POST", "/v1/tunnels", ROLE_APPROVAL, "request.json", post_tunnels, "tunnel" },
        { "GET", "/v1/tunnels", R_READ | ROLE_APPROVAL | ROLE_TENANT | ROLE_OPERATOR, NULL, get_tunnels, NULL },
        { "GET", "/v1/tunnels/{id}", R_READ | ROLE_APPROVAL | ROLE_TENANT | ROLE_OPERATOR, NULL, get_tunnel, NULL },
        { "POST", "/v1/tunnels/{id}/close", R_READ, NULL, post_tunnel_close, "tunnel" },
        /* The agents (include/gc/wire.h). */
        { "POST", "/v1/agent/hello", ROLE_HOST, "agent.json#/$defs/hello", agent_hello, "agent_hello" },
        { "GET", "/v1/agent/jobs", ROLE_HOST, NULL, agent_jobs, NULL },
        { "POST", "/v1/agent/results", ROLE_HOST, "agent.json#/$defs/results", agent_results, "agent_results" },
        { "POST", "/v1/agent/inventory", ROLE_HOST, "agent.json#/$defs/inventory", agent_inventory, "agent_inventory" },
        { "POST", "/v1/agent/tunnel-events", ROLE_HOST, "agent.json#/$defs/tunnel_events", agent_tunnel_events, "agent_tunnel_events" },
        { "POST", "/v1/agent/wipe-progress", ROLE_HOST, "agent.json#/$defs/wipe_progress", agent_wipe_progress, "agent_wipe_progress" },
        /* Only with --unsafe-test-clock; 404 otherwise. */
        { "POST", "/v1/test/clock", ROLE_AUTHORITY, "agent.json#/$defs/clock", post_test_clock, "clock" },
};
const size_t api_n_routes = ELEMENTSOF(api_routes);

/* ---- replies ---- */

void api_reply_text(struct api_call *c, int status, const char *content_type, const char *text, size_t len) {
        struct evbuffer *out = evbuffer_new();
        evbuffer_add(out, text, len);
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type", content_type);
        evhttp_send_reply(c->req, status, NULL, out);
        evbuffer_free(out);
        metrics_http(&c->o->metrics, status);
        c->replied = true;
        log_debug("%s %s %s/%s -> %d", c->route ? c->route->method : "-", c->path, role_name(c->who->role),
                  c->who->name, status);
}

void api_reply(struct api_call *c, int status, cJSON *doc) {
        _cleanup_(cJSON_Deletep) cJSON *d = doc;
        _cleanup_free_ char *text = cJSON_PrintUnformatted(d);
        _cleanup_free_ char *line = xasprintf("%s\n", text ?: "{}");
        api_reply_text(c, status, "application/json", line, strlen(line));
}

cJSON *api_error_doc(const struct gc_error *err) {
        cJSON *doc = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(doc, "error");
        cJSON_AddStringToObject(e, "code", err->code);
        cJSON_AddStringToObject(e, "field", err->field);
        cJSON_AddStringToObject(e, "value", err->value);
        cJSON_AddStringToObject(e, "message", err->message);
        cJSON_AddStringToObject(e, "rule", err->rule);
        return doc;
}

void api_error(struct api_call *c, int status, const char *code, const char *message) {
        struct gc_error err = {};
        gc_error_set(&err, code, "", "", NULL, "%s", message);
        api_reply(c, status, api_error_doc(&err));
}

void api_refuse(struct api_call *c, int status, const struct gc_error *err, const char *action,
                const char *object, const char *approval, const char *kind) {
        struct orch *o = c->o;
        char line[GC_ERROR_FORMAT_MAX];

        _cleanup_(cJSON_Deletep) cJSON *detail = cJSON_CreateObject();
        cJSON_AddStringToObject(detail, "method", c->route ? c->route->method : evhttp_request_get_command(c->req) == EVHTTP_REQ_GET ? "GET" : "?");
        cJSON_AddStringToObject(detail, "path", c->path);
        cJSON_AddNumberToObject(detail, "status", status);
        cJSON_AddStringToObject(detail, "code", err->code);
        cJSON_AddStringToObject(detail, "field", err->field);
        cJSON_AddStringToObject(detail, "value", err->value);
        cJSON_AddStringToObject(detail, "message", err->message);
        if (kind)
                cJSON_AddStringToObject(detail, "kind", kind);

        struct audit_entry e = {
                .time = orch_now(o),
                .actor = c->who->name,
                .role = role_name(c->who->role),
                .action = action,
                .object = object,
                .approval = approval,
                .outcome = status == 403 ? "denied" : "refused",
                .rule = err->rule,
                .detail = detail,
        };
        int r = audit_record(o->store, o->audit_hash, &e);
        if (r < 0) {
                log_error_errno(r, "cannot record the refusal of %s %s", e.action, c->path);
                api_error(c, 500, "internal", "the refusal could not be recorded");
                return;
        }
        o->metrics.audit_records++;
        if (status == 403)
                o->metrics.denied++;
        else
                metrics_refusal(&o->metrics, err->rule);
        if (strcmp(action, "request.refused") == 0) {
                metrics_request(&o->metrics, kind, METRICS_REFUSED);
                orch_notify_kick(o);
        }
        log_notice("refused %s for %s %s: %s", action, role_name(c->who->role), c->who->name,
                   gc_error_format(err, line, sizeof line));
        api_reply(c, status, api_error_doc(err));
}

void api_error_field_plain(struct gc_error *err) {
        if (err->field[0] == '$')
                memmove(err->field, err->field + (err->field[1] == '.' ? 2 : 1), strlen(err->field) - (err->field[1] == '.' ? 1 : 0));
}

const char *api_query(struct api_call *c, const char *key) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
        const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
        static __thread struct evkeyvalq params;
        static __thread bool parsed;
        if (!q)
                return NULL;
        if (parsed)
                evhttp_clear_headers(&params);
        parsed = evhttp_parse_query_str(q, &params) == 0;
        return parsed ? evhttp_find_header(&params, key) : NULL;
}

/* An integer query parameter in [min, max]; def when absent. -EINVAL after
 * replying 400 when it is not one. */
int api_query_int(struct api_call *c, const char *key, int64_t min, int64_t max, int64_t def, int64_t *ret) {
        const char *v = api_query(c, key);
        if (!v) {
                *ret = def;
                return 0;
        }
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < min || n > max) {
                struct gc_error err = {};
                gc_error_set(&err, "invalid_query", "", key, v, "is not an integer in [%lld, %lld]",
                             (long long) min, (long long) max);
                api_reply(c, 400, api_error_doc(&err));
                return -EINVAL;
        }
        *ret = n;
        return 0;
}

/* ---- dispatch ---- */

/* Does path match the pattern? {id} takes a positive decimal integer. */
static bool route_match(const char *pattern, const char *path, int64_t *ret_id) {
        const char *p = pattern, *s = path;
        int64_t id = 0;

        while (*p && *s) {
                if (strncmp(p, "{id}", 4) == 0) {
                        char *end;
                        if (*s < '1' || *s > '9')
                                return false;
                        errno = 0;
                        long long v = strtoll(s, &end, 10);
                        if (errno || v <= 0)
                                return false;
                        id = v;
                        s = end;
                        p += 4;
                } else if (*p++ != *s++)
                        return false;
        }
        if (*p || *s)
                return false;
        *ret_id = id;
        return true;
}

static const char *method_name(enum evhttp_cmd_type t) {
        switch (t) {
        case EVHTTP_REQ_GET: return "GET";
        case EVHTTP_REQ_POST: return "POST";
        case EVHTTP_REQ_PUT: return "PUT";
        default: return "OTHER";
        }
}

/* Registration as well as role: a tenant must be a registered unit, a host
 * a registered host (with its certificate, when one was registered). */
static int check_registered(struct orch *o, const struct identity *who, struct gc_error *err) {
        int64_t n;
        int r;

        if (who->role == ROLE_TENANT) {
                r = store_query_int(o->store, "SELECT COUNT(*) FROM units WHERE name = ?",
                                    STORE_ARGS(STORE_TEXT(who->name)), &n);
                if (r < 0)
                        return r;
                if (n == 0) {
                        gc_error_set(err, "unknown_caller", "", "certificate.CN", who->name, "is not a registered unit");
                        return -EACCES;
                }
        } else if (who->role == ROLE_HOST) {
                r = store_query_int(o->store,
                                    "SELECT COUNT(*) FROM hosts WHERE name = ? AND (certificate_sha256 IS NULL OR certificate_sha256 = ?)",
                                    STORE_ARGS(STORE_TEXT(who->name), STORE_TEXT(who->cert_sha256)), &n);
                if (r < 0)
                        return r;
                if (n == 0) {
                        gc_error_set(err, "unknown_caller", "", "certificate.CN", who->name,
                                     "is not a registered host, or its certificate is not the registered one");
                        return -EACCES;
                }
        }
        return 0;
}

void api_dispatch(struct orch *o, struct evhttp_request *req, const struct identity *who) {
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
        const char *method = method_name(evhttp_request_get_command(req));
        struct api_call call = { .o = o, .req = req, .who = who, .path = path ?: "" };
        struct api_call *c = &call;
        struct gc_error err = {};
        bool path_known = false;

        for (size_t i = 0; i < api_n_routes; i++) {
                int64_t id;
                if (!route_match(api_routes[i].path, c->path, &id))
                        continue;
                path_known = true;
                if (strcmp(api_routes[i].method, method) == 0) {
                        c->route = &api_routes[i];
                        c->id = id;
                        break;
                }
        }
        if (!c->route) {
                if (path_known)
                        api_error(c, 405, "method_not_allowed", "this path does not take that method");
                else
                        api_error(c, 404, "not_found", "no such path");
                return;
        }

        if (!(c->route->roles & who->role)) {
                gc_error_set(&err, "forbidden", "", "certificate.OU", who->ou,
                             "role %s may not %s %s", who->role ? role_name(who->role) : "(none)", method, c->path);
                api_refuse(c, 403, &err, "access.denied", "", "", NULL);
                return;
        }
        int r = check_registered(o, who, &err);
        if (r == -EACCES) {
                api_refuse(c, 403, &err, "access.denied", "", "", NULL);
                return;
        }
        if (r < 0) {
                api_error(c, 503, "store_unavailable", "the store cannot be read");
                return;
        }

        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        c->raw_len = evbuffer_get_length(in);
        c->raw = xmalloc(c->raw_len + 1);
        evbuffer_remove(in, c->raw, c->raw_len);
        c->raw[c->raw_len] = 0;

        const char *fragment = c->route->body ? strchr(c->route->body, '#') : NULL;
        if (fragment) {
                _cleanup_free_ char *file = xstrndup(c->route->body, fragment - c->route->body);
                enum orch_schema which;
                _cleanup_free_ char *reg_action = xasprintf("%s.refused", c->route->subject);

                r = json_parse(c->raw, c->raw_len, &c->body, &err);
                if (r < 0) {
                        snprintf(err.code, sizeof err.code, "invalid_json");
                        api_error_field_plain(&err);
                        api_refuse(c, 400, &err, reg_action, "", "", NULL);
                        goto done;
                }
                r = orch_schema_by_name(file, &which);
                assert(r >= 0);
                r = orch_validate(which, fragment, c->body, "invalid_body", &err);
                if (r < 0) {
                        api_refuse(c, 400, &err, reg_action, "", "", NULL);
                        goto done;
                }
        }

        c->route->handler(c);
        if (!c->replied)
                api_error(c, 500, "internal", "no reply");
done:
        cJSON_Delete(c->body);
        free(c->raw);
}

/* ---- helpers for handlers ---- */

int api_commit(struct api_call *c, struct api_mutation *m) {
        struct audit_entry e = {
                .time = orch_now(c->o),
                .actor = c->who->name,
                .role = role_name(c->who->role),
                .action = m->action,
                .object = m->object,
                .approval = "",
                .outcome = "recorded",
                .rule = m->rule ?: "",
                .detail = m->detail,
        };
        int r = audit_append(c->o->store, c->o->audit_hash, &e, NULL);
        cJSON_Delete(m->detail);
        m->detail = NULL;
        if (r >= 0)
                r = store_commit(c->o->store);
        if (r < 0) {
                store_rollback(c->o->store);
                return r;
        }
        c->o->metrics.audit_records++;
        return 0;
}

void api_fail_store(struct api_call *c, int r) {
        store_rollback(c->o->store);
        log_error_errno(r, "%s %s: store failure", c->route->method, c->path);
        api_error(c, r == -EBUSY ? 503 : 500, "store_failure", "the store could not complete the operation");
}

const char *api_body_str(const struct api_call *c, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->body, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t api_body_int(const struct api_call *c, const char *key, int64_t def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->body, key);
        return cJSON_IsNumber(v) ? (int64_t) v->valuedouble : def;
}

void api_reply_list(struct api_call *c, const char *key, const char *sql, const struct store_value *args, size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *rows = NULL;
        int r = store_query_json(c->o->store, sql, args, n, &rows);
        if (r < 0) {
                api_fail_store(c, r);
                return;
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, key, TAKE_PTR(rows));
        api_reply(c, 200, doc);
}

void api_reply_one(struct api_call *c, int status, const char *key, const char *sql, const struct store_value *args,
                      size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *row = NULL;
        int r = store_query_json_one(c->o->store, sql, args, n, &row);
        if (r == -ENOENT) {
                api_error(c, 404, "not_found", "no such object");
                return;
        }
        if (r < 0) {
                api_fail_store(c, r);
                return;
        }
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, key, TAKE_PTR(row));
        api_reply(c, status, doc);
}

/* ---- health and metrics ---- */

static void get_healthz(struct api_call *c) {
        int64_t version = 0;
        int r = store_version(c->o->store, &version);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "status", r >= 0 ? "ok" : "degraded");
        cJSON_AddStringToObject(doc, "store", r >= 0 ? "ok" : strerror(-r));
        cJSON_AddNumberToObject(doc, "schema_version", (double) version);
        cJSON_AddStringToObject(doc, "version", GC_VERSION);
        api_reply(c, r >= 0 ? 200 : 503, doc);
}

static void get_metrics(struct api_call *c) {
        struct gc_buf b = GC_BUF_INIT(1024 * 1024);
        metrics_render(&c->o->metrics, &b);
        api_reply_text(c, 200, "text/plain; version=0.0.4", b.data ?: "", b.len);
        gc_buf_free(&b);
}

/* ---- units ---- */

#define UNIT_COLUMNS "id, name, credit_code, contact, created AS \"created@time\""

static void get_units(struct api_call *c) {
        if (c->who->role == ROLE_TENANT)
                api_reply_list(c, "units", "SELECT " UNIT_COLUMNS " FROM units WHERE name = ? ORDER BY id",
                           STORE_ARGS(STORE_TEXT(c->who->name)));
        else
                api_reply_list(c, "units", "SELECT " UNIT_COLUMNS " FROM units ORDER BY id", STORE_NO_ARGS);
}

static void post_units(struct api_call *c) {
        struct gc_error err = {};
        const char *name = api_body_str(c, "name");

        /* R-NM1: the unit's full name, a valid name part. */
        if (naming_check_part(name, "name", &err) < 0) {
                api_refuse(c, 422, &err, "unit.refused", "", "", NULL);
                return;
        }
        int r = store_begin(c->o->store);
        if (r < 0)
                return api_fail_store(c, r);
        int64_t id;
        r = store_query_int(c->o->store,
                            "INSERT INTO units (name, credit_code, contact, created) VALUES (?, ?, ?, ?) RETURNING id",
                            STORE_ARGS(STORE_TEXT(name), STORE_TEXT(api_body_str(c, "credit_code")),
                                       STORE_TEXT(api_body_str(c, "contact")), STORE_INT(orch_now(c->o))), &id);
        if (r == -EEXIST) {
                store_rollback(c->o->store);
                gc_error_set(&err, "exists", "R-NM1", "name", name, "is already registered");
                api_refuse(c, 409, &err, "unit.refused", "", "", NULL);
                return;
        }
        if (r < 0)
                return api_fail_store(c, r);
        struct api_mutation m = { .action = "unit.registered", .rule = "R-NM1", .detail = cJSON_Duplicate(c->body, true) };
        snprintf(m.object, sizeof m.object, "unit:%lld", (long long) id);
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_info("unit %lld registered: %s", (long long) id, name);
        api_reply_one(c, 201, "unit", "SELECT " UNIT_COLUMNS " FROM units WHERE id = ?", STORE_ARGS(STORE_INT(id)));
}

/* ---- systems ---- */

#define SYSTEM_COLUMNS \
        "s.id, u.name AS unit, s.name, s.mlps_level, s.availability, s.classified AS \"classified@bool\", " \
        "s.state, s.pool, s.trial_length, s.agreement AS \"agreement@json\", s.admission AS \"admission@json\", " \
        "(SELECT COUNT(*) FROM vms v WHERE v.system_id = s.id) AS vm_count, " \
        "s.created AS \"created@time\", s.updated AS \"updated@time\""
#define SYSTEM_FROM " FROM systems s JOIN units u ON u.id = s.unit_id "

static void get_systems(struct api_call *c) {
        const char *unit = c->who->role == ROLE_TENANT ? c->who->name : api_query(c, "unit");
        _cleanup_free_ char *u = unit ? xstrdup(unit) : NULL;
        if (u)
                api_reply_list(c, "systems", "SELECT " SYSTEM_COLUMNS SYSTEM_FROM "WHERE u.name = ? ORDER BY s.id",
                           STORE_ARGS(STORE_TEXT(u)));
        else
                api_reply_list(c, "systems", "SELECT " SYSTEM_COLUMNS SYSTEM_FROM "ORDER BY s.id", STORE_NO_ARGS);
}

/* Is the system visible to the caller? Tenants see their unit's only. */
int api_system_visible(struct api_call *c, int64_t id) {
        int64_t n;
        int r;
        if (c->who->role == ROLE_TENANT)
                r = store_query_int(c->o->store, "SELECT COUNT(*)" SYSTEM_FROM "WHERE s.id = ? AND u.name = ?",
                                    STORE_ARGS(STORE_INT(id), STORE_TEXT(c->who->name)), &n);
        else
                r = store_query_int(c->o->store, "SELECT COUNT(*) FROM systems WHERE id = ?", STORE_ARGS(STORE_INT(id)), &n);
        if (r < 0)
                return r;
        return n > 0 ? 0 : -ENOENT;
}

cJSON *api_system_detail(struct orch *o, int64_t id) {
        cJSON *sys = NULL, *vms = NULL, *transitions = NULL;
        if (store_query_json_one(o->store, "SELECT " SYSTEM_COLUMNS SYSTEM_FROM "WHERE s.id = ?",
                                 STORE_ARGS(STORE_INT(id)), &sys) < 0)
                return NULL;
        if (store_query_json(o->store,
                             "SELECT name, role, number, spec AS \"spec@json\", state, request_id, host, address, mac FROM vms "
                             "WHERE system_id = ? ORDER BY id", STORE_ARGS(STORE_INT(id)), &vms) >= 0) {
                /* Flatten the spec into each VM. */
                cJSON *vm;
                cJSON_ArrayForEach(vm, vms) {
                        cJSON *spec = cJSON_DetachItemFromObjectCaseSensitive(vm, "spec");
                        cJSON *f;
                        for (f = spec ? spec->child : NULL; f;) {
                                cJSON *next = f->next;
                                cJSON_AddItemToObject(vm, f->string, cJSON_DetachItemViaPointer(spec, f));
                                f = next;
                        }
                        cJSON_Delete(spec);
                }
                cJSON_AddItemToObject(sys, "vms", vms);
        }
        if (store_query_json(o->store,
                             "SELECT from_state AS \"from\", to_state AS \"to\", time AS \"time@time\", actor, "
                             "request_id AS request FROM transitions WHERE system_id = ? ORDER BY id",
                             STORE_ARGS(STORE_INT(id)), &transitions) >= 0)
                cJSON_AddItemToObject(sys, "transitions", transitions);
        cJSON *vpc = NULL;
        if (vpc_describe(o, id, &vpc) >= 0) {
                cJSON_DeleteItemFromObjectCaseSensitive(vpc, "vms");
                cJSON_AddItemToObject(sys, "network", vpc);
        }
        cJSON *exit = NULL;
        if (reclaim_describe(o, id, &exit) >= 0) {
                cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(exit, "statement"), "document");
                cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(exit, "statement"), "canonical");
                cJSON_AddItemToObject(sys, "exit", exit);
        }
        return sys;
}

static void get_system(struct api_call *c) {
        int r = api_system_visible(c, c->id);
        if (r == -ENOENT)
                return api_error(c, 404, "not_found", "no such system");
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *sys = api_system_detail(c->o, c->id);
        if (!sys)
                return api_error(c, 500, "internal", "the system cannot be read");
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "system", sys);
        api_reply(c, 200, doc);
}

static void post_systems(struct api_call *c) {
        struct gc_error err = {};
        const char *unit = api_body_str(c, "unit"), *name = api_body_str(c, "name");
        int64_t unit_id, id;

        if (naming_check_part(name, "name", &err) < 0)         /* R-NM1 */
                return api_refuse(c, 422, &err, "system.refused", "", "", NULL);
        /* R-RQ1: classified systems are not hosted. */
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->body, "classified"))) {
                gc_error_set(&err, "classified", "R-RQ1", "classified", "true",
                             "classified systems are refused outright: the government cloud does not host them");
                return api_refuse(c, 422, &err, "system.refused", "", "", NULL);
        }
        int r = store_query_int(c->o->store, "SELECT id FROM units WHERE name = ?", STORE_ARGS(STORE_TEXT(unit)), &unit_id);
        if (r == -ENOENT) {
                gc_error_set(&err, "unknown_unit", "R-NM1", "unit", unit, "is not a registered unit");
                return api_refuse(c, 422, &err, "system.refused", "", "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);

        int64_t now = orch_now(c->o);
        r = store_begin(c->o->store);
        if (r < 0)
                return api_fail_store(c, r);
        r = store_query_int(c->o->store,
                            "INSERT INTO systems (unit_id, name, mlps_level, availability, classified, state, created, updated) "
                            "VALUES (?, ?, ?, ?, 0, 'registered', ?, ?) RETURNING id",
                            STORE_ARGS(STORE_INT(unit_id), STORE_TEXT(name), STORE_INT(api_body_int(c, "mlps_level", 0)),
                                       STORE_TEXT(api_body_str(c, "availability")), STORE_INT(now), STORE_INT(now)),
                            &id);
        if (r == -EEXIST) {
                store_rollback(c->o->store);
                gc_error_set(&err, "exists", "R-NM1", "name", name, "is already registered for %s", unit);
                return api_refuse(c, 409, &err, "system.refused", "", "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);
        struct api_mutation m = { .action = "system.registered", .rule = "R-NM1", .detail = cJSON_Duplicate(c->body, true) };
        snprintf(m.object, sizeof m.object, "system:%lld", (long long) id);
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_info("system %lld registered: %s %s", (long long) id, unit, name);
        api_reply_one(c, 201, "system", "SELECT " SYSTEM_COLUMNS SYSTEM_FROM "WHERE s.id = ?", STORE_ARGS(STORE_INT(id)));
}

/* Runs inside the recording transaction; may add to the audit detail. */
typedef int (*document_hook)(struct api_call *c, cJSON *detail);

static void put_system_document(struct api_call *c, const char *column, const char *action, const char *rule,
                                document_hook hook) {
        struct gc_error err = {};
        char object[64];
        snprintf(object, sizeof object, "system:%lld", (long long) c->id);

        int r = api_system_visible(c, c->id);
        if (r == -ENOENT) {
                char v[32];
                snprintf(v, sizeof v, "%lld", (long long) c->id);
                gc_error_set(&err, "not_found", rule, "id", v, "is not a registered system");
                _cleanup_free_ char *a = xasprintf("%s.refused", action);
                return api_refuse(c, 404, &err, a, object, "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);
        _cleanup_free_ char *doc = cJSON_PrintUnformatted(c->body);
        _cleanup_free_ char *sql = xasprintf("UPDATE systems SET %s = ?, updated = ? WHERE id = ?", column);
        r = store_begin(c->o->store);
        if (r >= 0)
                r = store_exec(c->o->store, sql, STORE_ARGS(STORE_TEXT(doc), STORE_INT(orch_now(c->o)), STORE_INT(c->id)), NULL);
        if (r < 0)
                return api_fail_store(c, r);
        _cleanup_free_ char *a = xasprintf("%s.recorded", action);
        struct api_mutation m = { .action = a, .rule = rule, .detail = cJSON_Duplicate(c->body, true) };
        if (r >= 0 && hook)
                r = hook(c, m.detail);
        if (r < 0) {
                cJSON_Delete(m.detail);
                return api_fail_store(c, r);
        }
        snprintf(m.object, sizeof m.object, "%s", object);
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_info("system %lld: %s recorded", (long long) c->id, column);
        if (hook) {
                /* A hook may have queued jobs (R-SC2: egress closed): to the parked polls now. */
                orch_notify_kick(c->o);
                dispatch_wake(c->o);
        }
        api_reply_one(c, 200, "system", "SELECT " SYSTEM_COLUMNS SYSTEM_FROM "WHERE s.id = ?", STORE_ARGS(STORE_INT(c->id)));
}

static void put_agreement(struct api_call *c) {
        put_system_document(c, "agreement", "agreement", "R-SC1", NULL);       /* R-SC1 */
}

/* R-SC2: a system that failed its admission check gets no egress: one that
 * was open closes with the record. */
static int admission_hook(struct api_call *c, cJSON *detail) {
        bool changed = false;
        struct gc_error err = {};
        if (strcmp(api_body_str(c, "result") ?: "", "failed") != 0)
                return 0;
        int r = vpc_set_egress(c->o, c->id, "none", &changed, &err);
        if (r == -EPERM)
                return 0;               /* no VPC yet */
        if (r < 0)
                return r;
        if (changed) {
                cJSON_AddStringToObject(detail, "egress_closed", "R-SC2: the admission check failed");
                log_notice("system %lld: admission failed, egress closed (R-SC2)", (long long) c->id);
        }
        return 0;
}

static void put_admission(struct api_call *c) {
        put_system_document(c, "admission", "admission", "R-SC2", admission_hook);     /* R-SC2 */
}

/* ---- networks ---- */

static int network_target(struct api_call *c, const char *action, const char *rule, char object[64]) {
        struct gc_error err = {};
        snprintf(object, 64, "system:%lld", (long long) c->id);
        int r = api_system_visible(c, c->id);
        if (r == -ENOENT) {
                char v[32];
                snprintf(v, sizeof v, "%lld", (long long) c->id);
                gc_error_set(&err, "not_found", rule, "id", v, "is not a registered system");
                _cleanup_free_ char *a = xasprintf("%s.refused", action);
                api_refuse(c, 404, &err, a, object, "", NULL);
                return -ENOENT;
        }
        if (r < 0) {
                api_fail_store(c, r);
                return r;
        }
        return 0;
}

static void reply_network(struct api_call *c, int status) {
        _cleanup_(cJSON_Deletep) cJSON *vpc = NULL;
        int r = vpc_describe(c->o, c->id, &vpc);
        if (r == -ENOENT)
                return api_error(c, 404, "not_found", "the system has no VPC: nothing of it is provisioned");
        if (r < 0)
                return api_fail_store(c, r);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "network", TAKE_PTR(vpc));
        api_reply(c, status, doc);
}

static void get_network(struct api_call *c) {
        int r = api_system_visible(c, c->id);
        if (r == -ENOENT)
                return api_error(c, 404, "not_found", "no such system");
        if (r < 0)
                return api_fail_store(c, r);
        reply_network(c, 200);
}

/* A network switch: one transaction with its audit record, or a refusal
 * with one audit record and nothing else. */
static void network_switch(struct api_call *c, const char *action, const char *rule,
                           int (*apply)(struct api_call *c, bool *changed, struct gc_error *err), cJSON *detail) {
        struct gc_error err = {};
        char object[64];
        bool changed = false;
        _cleanup_(cJSON_Deletep) cJSON *d = detail;

        if (network_target(c, action, rule, object) < 0)
                return;
        int r = store_begin(c->o->store);
        if (r >= 0)
                r = apply(c, &changed, &err);
        if (r == -EPERM || r == -ENOSPC) {
                store_rollback(c->o->store);
                _cleanup_free_ char *a = xasprintf("%s.refused", action);
                return api_refuse(c, r == -ENOSPC ? 422 : (strcmp(err.code, "no_vpc") == 0 ? 409 : 422), &err, a, object, "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);
        if (!changed) {
                store_rollback(c->o->store);
                log_info("system %lld: %s: already so, nothing to do", (long long) c->id, action);
                return reply_network(c, 200);
        }
        struct api_mutation m = { .action = action, .rule = rule, .detail = TAKE_PTR(d) };
        snprintf(m.object, sizeof m.object, "%s", object);
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_notice("system %lld: %s by %s/%s", (long long) c->id, action, role_name(c->who->role), c->who->name);
        orch_notify_kick(c->o);
        dispatch_wake(c->o);
        reply_network(c, 200);
}

static int apply_egress(struct api_call *c, bool *changed, struct gc_error *err) {
        return vpc_set_egress(c->o, c->id, api_body_str(c, "egress"), changed, err);     /* R-NW3, R-SC2 */
}

static int apply_isolate(struct api_call *c, bool *changed, struct gc_error *err) {
        return vpc_set_isolated(c->o, c->id, true, changed, err);                   /* R-SC3 */
}

static int apply_restore(struct api_call *c, bool *changed, struct gc_error *err) {
        return vpc_set_isolated(c->o, c->id, false, changed, err);                  /* R-SC3 */
}

static void put_egress(struct api_call *c) {
        network_switch(c, "vpc.egress", "R-NW3", apply_egress, cJSON_Duplicate(c->body, true));
}

static void post_isolate(struct api_call *c) {
        network_switch(c, "vpc.isolated", "R-SC3", apply_isolate, cJSON_Duplicate(c->body, true));
}

static void post_restore(struct api_call *c) {
        network_switch(c, "vpc.restored", "R-SC3", apply_restore, cJSON_Duplicate(c->body, true));
}

/* ---- keys ---- */

static int parse_public_key(const char *pem, const char *field, char **ret_type, char **ret_fp, struct gc_error *err) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        enum gc_key_type type;
        int r = crypto_key_public_from_pem(pem, strlen(pem), &key);
        if (r < 0) {
                gc_error_set(err, "invalid_key", "R-SC4", field, NULL,
                             r == -EOPNOTSUPP ? "is neither an SM2 nor an Ed25519 public key"
                                              : "is not a PEM public key (SubjectPublicKeyInfo)");
                return r;
        }
        r = crypto_key_type(key, &type);
        if (r >= 0)
                r = crypto_key_fingerprint(key, ret_fp);
        if (r < 0)
                return r;
        *ret_type = xstrdup(crypto_key_type_to_string(type));
        return 0;
}

#define APPROVAL_COLUMNS "id, name, key_type, fingerprint, created AS \"created@time\""

static void get_approval_systems(struct api_call *c) {
        api_reply_list(c, "approval_systems", "SELECT " APPROVAL_COLUMNS " FROM approval_systems ORDER BY id", STORE_NO_ARGS);
}

static void post_approval_systems(struct api_call *c) {
        struct gc_error err = {};
        _cleanup_free_ char *type = NULL, *fp = NULL;
        const char *id = api_body_str(c, "id");

        int r = parse_public_key(api_body_str(c, "public_key"), "public_key", &type, &fp, &err);
        if (r < 0)
                return api_refuse(c, 422, &err, "approval_system.refused", "", "", NULL);
        if (!orch_verifier(c->o, type)) {
                gc_error_set(&err, "no_verifier", "R-SC4", "public_key", type, "no approval verifier for this key type is loaded");
                return api_refuse(c, 422, &err, "approval_system.refused", "", "", NULL);
        }
        r = store_begin(c->o->store);
        if (r >= 0)
                r = store_exec(c->o->store,
                               "INSERT INTO approval_systems (id, name, key_type, public_key, fingerprint, created) VALUES (?, ?, ?, ?, ?, ?)",
                               STORE_ARGS(STORE_TEXT(id), STORE_TEXT(api_body_str(c, "name")), STORE_TEXT(type),
                                          STORE_TEXT(api_body_str(c, "public_key")), STORE_TEXT(fp), STORE_INT(orch_now(c->o))),
                               NULL);
        if (r == -EEXIST) {
                store_rollback(c->o->store);
                gc_error_set(&err, "exists", "", "id", id, "is already registered");
                return api_refuse(c, 409, &err, "approval_system.refused", "", "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);
        struct api_mutation m = { .action = "approval_system.registered", .detail = cJSON_CreateObject() };
        cJSON_AddStringToObject(m.detail, "id", id);
        cJSON_AddStringToObject(m.detail, "name", api_body_str(c, "name"));
        cJSON_AddStringToObject(m.detail, "key_type", type);
        cJSON_AddStringToObject(m.detail, "fingerprint", fp);
        snprintf(m.object, sizeof m.object, "approval_system:%.40s", id);
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_info("approval system %s registered, key %s %s", id, type, fp);
        api_reply_one(c, 201, "approval_system", "SELECT " APPROVAL_COLUMNS " FROM approval_systems WHERE id = ?",
                  STORE_ARGS(STORE_TEXT(id)));
}

#define KEY_COLUMNS "k.id, k.party, u.name AS unit, k.holder, k.key_type, k.fingerprint, k.created AS \"created@time\", k.revoked AS \"revoked@time\""
#define KEY_FROM " FROM party_keys k LEFT JOIN units u ON u.id = k.unit_id "

static void get_keys(struct api_call *c) {
        if (c->who->role == ROLE_TENANT)
                api_reply_list(c, "keys", "SELECT " KEY_COLUMNS KEY_FROM "WHERE u.name = ? ORDER BY k.id",
                           STORE_ARGS(STORE_TEXT(c->who->name)));
        else
                api_reply_list(c, "keys", "SELECT " KEY_COLUMNS KEY_FROM "ORDER BY k.id", STORE_NO_ARGS);
}

static void post_keys(struct api_call *c) {
        struct gc_error err = {};
        _cleanup_free_ char *type = NULL, *fp = NULL;
        const char *party = api_body_str(c, "party"), *unit = api_body_str(c, "unit");
        int64_t unit_id = 0;
        int r;

        if (strcmp(party, "tenant") == 0) {
                if (!unit) {
                        gc_error_set(&err, "missing_unit", "", "unit", NULL, "is required for a tenant key");
                        return api_refuse(c, 422, &err, "key.refused", "", "", NULL);
                }
                r = store_query_int(c->o->store, "SELECT id FROM units WHERE name = ?", STORE_ARGS(STORE_TEXT(unit)), &unit_id);
                if (r == -ENOENT) {
                        gc_error_set(&err, "unknown_unit", "R-NM1", "unit", unit, "is not a registered unit");
                        return api_refuse(c, 422, &err, "key.refused", "", "", NULL);
                }
                if (r < 0)
                        return api_fail_store(c, r);
        } else if (unit) {
                gc_error_set(&err, "unexpected_unit", "", "unit", unit, "is only given for a tenant key");
                return api_refuse(c, 422, &err, "key.refused", "", "", NULL);
        }
        r = parse_public_key(api_body_str(c, "public_key"), "public_key", &type, &fp, &err);
        if (r < 0)
                return api_refuse(c, 422, &err, "key.refused", "", "", NULL);

        int64_t id;
        r = store_begin(c->o->store);
        if (r >= 0)
                r = store_query_int(c->o->store,
                                    "INSERT INTO party_keys (party, unit_id, holder, key_type, public_key, fingerprint, created) "
                                    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                    STORE_ARGS(STORE_TEXT(party), unit_id ? STORE_INT(unit_id) : STORE_NULL_VALUE,
                                               STORE_TEXT(api_body_str(c, "holder")), STORE_TEXT(type),
                                               STORE_TEXT(api_body_str(c, "public_key")), STORE_TEXT(fp), STORE_INT(orch_now(c->o))),
                                    &id);
        if (r == -EEXIST) {
                store_rollback(c->o->store);
                gc_error_set(&err, "exists", "", "public_key", fp, "is already registered");
                return api_refuse(c, 409, &err, "key.refused", "", "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);
        struct api_mutation m = { .action = "key.registered", .detail = cJSON_CreateObject() };
        cJSON_AddStringToObject(m.detail, "party", party);
        if (unit)
                cJSON_AddStringToObject(m.detail, "unit", unit);
        cJSON_AddStringToObject(m.detail, "holder", api_body_str(c, "holder"));
        cJSON_AddStringToObject(m.detail, "key_type", type);
        cJSON_AddStringToObject(m.detail, "fingerprint", fp);
        snprintf(m.object, sizeof m.object, "key:%lld", (long long) id);
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_info("%s key %lld registered for %s: %s", party, (long long) id, api_body_str(c, "holder"), fp);
        api_reply_one(c, 201, "key", "SELECT " KEY_COLUMNS KEY_FROM "WHERE k.id = ?", STORE_ARGS(STORE_INT(id)));
}

/* ---- pools and hosts ---- */

static void get_pools(struct api_call *c) {
        const struct config *cfg = c->o->cfg;
        cJSON *doc = cJSON_CreateObject();
        cJSON *pools = cJSON_AddArrayToObject(doc, "pools");
        static const char *const arch_names[] = { "x86", "arm", "other" };

        for (size_t i = 0; i < cfg->n_pools; i++) {
                const struct config_pool *p = &cfg->pools[i];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", p->name);
                cJSON_AddStringToObject(o, "pack", p->pack->id);
                cJSON_AddStringToObject(o, "jurisdiction", p->pack->jurisdiction);
                cJSON *arch = cJSON_AddArrayToObject(o, "arch");
                for (size_t a = 0; a < 3; a++)
                        if (p->arch[a])
                                cJSON_AddItemToArray(arch, cJSON_CreateString(arch_names[a]));
                cJSON *fl = cJSON_AddObjectToObject(o, "flavours");
                const struct config_range *rs[] = { &p->vcpus, &p->memory_gib, &p->system_disk_gib, &p->data_disk_gib };
                const char *names[] = { "vcpus", "memory_gib", "system_disk_gib", "data_disk_gib" };
                for (size_t k = 0; k < 4; k++) {
                        cJSON *r = cJSON_AddObjectToObject(fl, names[k]);
                        cJSON_AddNumberToObject(r, "min", rs[k]->min);
                        cJSON_AddNumberToObject(r, "max", rs[k]->max);
                }
                cJSON *ar = cJSON_AddArrayToObject(o, "address_ranges");
                for (size_t k = 0; k < p->n_address_ranges; k++)
                        cJSON_AddItemToArray(ar, cJSON_CreateString(p->address_ranges[k]));
                cJSON_AddItemToArray(pools, o);
        }
        api_reply(c, 200, doc);
}

#define HOST_COLUMNS "name, pool, underlay_address, operations_address, certificate_sha256, state, vcpus, memory_mib, " \
        "storage_gib, arch, hypervisor, last_seen AS \"last_seen@time\", created AS \"created@time\", " \
        "(SELECT COUNT(*) FROM vms WHERE vms.host = hosts.name AND vms.state <> 'deleted') AS vm_count"

static void get_hosts(struct api_call *c) {
        api_reply_list(c, "hosts", "SELECT " HOST_COLUMNS " FROM hosts ORDER BY name", STORE_NO_ARGS);
}

static void post_hosts(struct api_call *c) {
        struct gc_error err = {};
        const char *name = api_body_str(c, "name"), *pool = api_body_str(c, "pool");

        if (!config_pool(c->o->cfg, pool)) {
                gc_error_set(&err, "unknown_pool", "", "pool", pool, "is not a pool of this orchestrator's configuration");
                return api_refuse(c, 422, &err, "host.refused", "", "", NULL);
        }
        const cJSON *cap = cJSON_GetObjectItemCaseSensitive(c->body, "capacity");
        const cJSON *cv = cJSON_GetObjectItemCaseSensitive(cap, "vcpus"), *cm = cJSON_GetObjectItemCaseSensitive(cap, "memory_mib"),
                    *cs = cJSON_GetObjectItemCaseSensitive(cap, "storage_gib"), *ca = cJSON_GetObjectItemCaseSensitive(cap, "arch");
        int r = store_begin(c->o->store);
        if (r >= 0)
                r = store_exec(c->o->store,
                               "INSERT INTO hosts (name, pool, underlay_address, operations_address, certificate_sha256, state, created, "
                               "vcpus, memory_mib, storage_gib, arch) VALUES (?, ?, ?, ?, ?, 'registered', ?, ?, ?, ?, ?)",
                               STORE_ARGS(STORE_TEXT(name), STORE_TEXT(pool), STORE_TEXT(api_body_str(c, "underlay_address")),
                                          STORE_TEXT(api_body_str(c, "operations_address")),
                                          STORE_TEXT(api_body_str(c, "certificate_sha256")), STORE_INT(orch_now(c->o)),
                                          cv ? STORE_INT((int64_t) cv->valuedouble) : STORE_NULL_VALUE,
                                          cm ? STORE_INT((int64_t) cm->valuedouble) : STORE_NULL_VALUE,
                                          cs ? STORE_INT((int64_t) cs->valuedouble) : STORE_NULL_VALUE,
                                          STORE_TEXT(ca ? ca->valuestring : NULL)),
                               NULL);
        if (r == -EEXIST) {
                store_rollback(c->o->store);
                gc_error_set(&err, "exists", "", "name", name, "is already registered");
                return api_refuse(c, 409, &err, "host.refused", "", "", NULL);
        }
        if (r < 0)
                return api_fail_store(c, r);
        struct api_mutation m = { .action = "host.registered", .detail = cJSON_Duplicate(c->body, true) };
        snprintf(m.object, sizeof m.object, "host:%.50s", name);
        r = api_commit(c, &m);
        if (r < 0)
                return api_fail_store(c, r);
        log_info("host %s registered in pool %s", name, pool);
        api_reply_one(c, 201, "host", "SELECT " HOST_COLUMNS " FROM hosts WHERE name = ?", STORE_ARGS(STORE_TEXT(name)));
}

/* ---- requests and audit ---- */

#define REQUEST_COLUMNS \
        "r.id, r.kind, r.system_id, u.name AS unit, s.name AS system, r.approval_system, r.approval_id, r.digest, " \
        "r.received AS \"received@time\", r.outcome"
#define REQUEST_FROM " FROM requests r JOIN systems s ON s.id = r.system_id JOIN units u ON u.id = s.unit_id "
/* Tenants see their unit's requests, approval systems their own. */
#define REQUEST_SCOPE "(? = 0 OR u.name = ?) AND (? = 0 OR r.approval_system = ?)"

static void get_requests(struct api_call *c) {
        bool tenant = c->who->role == ROLE_TENANT, approval = c->who->role == ROLE_APPROVAL;
        int64_t sys;
        if (api_query_int(c, "system", 1, INT64_MAX, 0, &sys) < 0)
                return;
        api_reply_list(c, "requests",
                   "SELECT " REQUEST_COLUMNS REQUEST_FROM "WHERE " REQUEST_SCOPE " AND (? = 0 OR r.system_id = ?) "
                   "ORDER BY r.id DESC LIMIT 1000",
                   STORE_ARGS(STORE_INT(tenant), STORE_TEXT(c->who->name), STORE_INT(approval), STORE_TEXT(c->who->name),
                              STORE_INT(sys), STORE_INT(sys)));
}

static void get_request(struct api_call *c) {
        bool tenant = c->who->role == ROLE_TENANT, approval = c->who->role == ROLE_APPROVAL;
        api_reply_one(c, 200, "request",
                  "SELECT " REQUEST_COLUMNS ", r.document AS \"document@json\"" REQUEST_FROM "WHERE r.id = ? AND " REQUEST_SCOPE,
                  STORE_ARGS(STORE_INT(c->id), STORE_INT(tenant), STORE_TEXT(c->who->name), STORE_INT(approval),
                             STORE_TEXT(c->who->name)));
}

static void get_audit(struct api_call *c) {
        int64_t a, l;
        if (api_query_int(c, "after", 0, INT64_MAX, 0, &a) < 0 || api_query_int(c, "limit", 1, 1000, 100, &l) < 0)
                return;
        api_reply_list(c, "records",
                   "SELECT seq, time AS \"time@time\", actor, role, action, object, approval, outcome, rule, "
                   "detail AS \"detail@json\", prev, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                   STORE_ARGS(STORE_INT(a), STORE_INT(l)));
}
