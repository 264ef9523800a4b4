/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTPS API: who is calling (from the client certificate), the route
 * table (kept in step with openapi.json by a test), and the replies.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"
#include "store.h"

struct evhttp_request;
struct orch;

/* Roles: the OU of the caller's certificate (DESIGN.md, identities). */
enum {
        ROLE_APPROVAL = 1 << 0,
        ROLE_TENANT = 1 << 1,
        ROLE_PROVIDER = 1 << 2,
        ROLE_AUTHORITY = 1 << 3,
        ROLE_HOST = 1 << 4,
        ROLE_OPERATOR = 1 << 5,
        ROLE_ANY = (1 << 6) - 1,
};

const char *role_name(unsigned role);
/* 0 for an OU that is no role. */
unsigned role_from_name(const char *name);

struct identity {
        unsigned role;                  /* one ROLE_ bit, 0 when the OU names none */
        char ou[64];
        char name[256];                 /* CN, UTF-8 */
        char cert_sha256[65];           /* of the certificate's DER */
};

struct api_call;

struct api_route {
        const char *method;             /* "GET", "POST", "PUT" */
        const char *path;               /* "/v1/systems/{id}" */
        unsigned roles;
        const char *body;               /* "registration.json#/$defs/unit", NULL: no body */
        void (*handler)(struct api_call *c);
        const char *subject;            /* what a refusal's audit action names: "unit" -> unit.refused */
};

extern const struct api_route api_routes[];
extern const size_t api_n_routes;

struct api_call {
        struct orch *o;
        struct evhttp_request *req;
        const struct identity *who;
        const struct api_route *route;
        const char *path;               /* without the query */
        int64_t id;                     /* the {id} of the path, 0 if none */
        char *raw;                      /* the body as received, NUL-terminated */
        size_t raw_len;
        cJSON *body;                    /* parsed and schema-checked (routes with a body) */
        bool replied;
};

/* Called by the HTTP layer for every request, after TLS identified the caller. */
void api_dispatch(struct orch *o, struct evhttp_request *req, const struct identity *who);

/* Replies. api_reply takes doc. */
void api_reply(struct api_call *c, int status, cJSON *doc);
void api_reply_text(struct api_call *c, int status, const char *content_type, const char *text, size_t len);
/* A refusal: one audit record (action, object, the error), then the
 * {"error": ...} reply. kind is the request kind for metrics (NULL for
 * calls that are not requests). */
void api_refuse(struct api_call *c, int status, const struct gc_error *err, const char *action,
                const char *object, const char *approval, const char *kind);
/* A reply without audit: 404 on reads, 500 on internal failures. */
void api_error(struct api_call *c, int status, const char *code, const char *message);

/* A strict JSON parse failure names "$.a.b"; the API names fields "a.b". */
void api_error_field_plain(struct gc_error *err);

/* The query parameter, or NULL. */
const char *api_query(struct api_call *c, const char *key);

/* Helpers for handlers. */
struct api_mutation {
        const char *action;             /* "unit.registered" */
        const char *rule;
        char object[64];
        cJSON *detail;                  /* taken */
};
/* Append the mutation's audit record by the caller and commit the
 * transaction the handler began; rolls back on failure. */
int api_commit(struct api_call *c, struct api_mutation *m);
/* Roll back and reply 500 (503 when busy). */
void api_fail_store(struct api_call *c, int r);
const char *api_body_str(const struct api_call *c, const char *key);
int64_t api_body_int(const struct api_call *c, const char *key, int64_t def);
/* An integer query parameter in [min, max]; def when absent. -EINVAL after
 * replying 400 when it is not one. */
int api_query_int(struct api_call *c, const char *key, int64_t min, int64_t max, int64_t def, int64_t *ret);
/* Rows of a query as {"key": [...]} / the first row as {"key": {...}} (404 when none). */
void api_reply_list(struct api_call *c, const char *key, const char *sql, const struct store_value *args, size_t n);
void api_reply_one(struct api_call *c, int status, const char *key, const char *sql, const struct store_value *args,
                   size_t n);
/* 0 when the system exists and the caller may see it (a tenant: its unit's), -ENOENT otherwise. */
int api_system_visible(struct api_call *c, int64_t id);
cJSON *api_error_doc(const struct gc_error *err);
/* The system as GET /v1/systems/{id} shows it; NULL if it cannot be read. */
cJSON *api_system_detail(struct orch *o, int64_t id);

/* Request intake (intake.c): POST /v1/requests. */
void intake_submit(struct api_call *c);
struct request;
/* Intake's first check, shared with POST /v1/tunnels: the approval system
 * is registered and calling, its signature verifies, the approval id is new
 * (or the same bytes again: 1, with the id of the request or the tunnel it
 * made) and its time is in the window. A refusal is replied and audited
 * (request.refused) and returns -EPERM; 0: go on. */
int intake_envelope(struct api_call *c, const struct request *req, const char *approval, struct gc_error *err,
                    int64_t *ret_request, int64_t *ret_tunnel);
