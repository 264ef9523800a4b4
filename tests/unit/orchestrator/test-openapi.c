/* SPDX-License-Identifier: Apache-2.0 */
/*
 * orchestrator/openapi.json and the code's route table say the same thing:
 * the same paths and methods, the same roles (x-roles), and the same
 * request body schemas, which exist in the schemas compiled into the
 * program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "alloc.h"
#include "api.h"
#include "cleanup.h"
#include "json.h"
#include "schemas.h"

static cJSON *load_openapi(void) {
        cJSON *doc = NULL;
        struct gc_error err = {};
        assert_int_equal(json_parse_file(GC_SRCDIR "/orchestrator/openapi.json", 4 * 1024 * 1024, &doc, &err), 0);
        return doc;
}

static unsigned roles_of(const cJSON *op) {
        unsigned roles = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(op, "x-roles")) {
                unsigned bit = role_from_name(r->valuestring);
                if (!bit)
                        fail_msg("unknown role \"%s\" in x-roles", r->valuestring);
                roles |= bit;
        }
        return roles;
}

static const char *body_ref(const cJSON *op) {
        const cJSON *schema = json_path_get(op, "$.requestBody.content[\"application/json\"].schema");
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(schema, "$ref");
        return cJSON_IsString(ref) ? ref->valuestring : NULL;
}

static void test_every_route_documented(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = load_openapi();
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");

        for (size_t i = 0; i < api_n_routes; i++) {
                const struct api_route *r = &api_routes[i];
                const cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, r->path);
                _cleanup_free_ char *m = xstrdup(r->method);
                for (char *p = m; *p; p++)
                        *p = (char) (*p - 'A' + 'a');
                const cJSON *op = cJSON_GetObjectItemCaseSensitive(item, m);
                if (!op)
                        fail_msg("%s %s is in the code but not in openapi.json", r->method, r->path);
                if (roles_of(op) != r->roles)
                        fail_msg("%s %s: x-roles differ from the code's roles", r->method, r->path);
                const char *ref = body_ref(op);
                if (!r->body != !ref)
                        fail_msg("%s %s: request body documented %s, code %s", r->method, r->path, ref ?: "none",
                                 r->body ?: "none");
                if (ref) {
                        _cleanup_free_ char *want = xasprintf("schemas/%s", r->body);
                        if (strcmp(ref, want) != 0)
                                fail_msg("%s %s: body $ref %s, code validates with %s", r->method, r->path, ref, want);
                }
        }
}

static void test_every_documented_route_exists(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = load_openapi();
        const cJSON *path, *op;
        size_t n = 0;

        cJSON_ArrayForEach(path, cJSON_GetObjectItemCaseSensitive(doc, "paths")) {
                cJSON_ArrayForEach(op, path) {
                        bool found = false;
                        for (size_t i = 0; i < api_n_routes; i++)
                                if (strcasecmp(api_routes[i].method, op->string) == 0 &&
                                    strcmp(api_routes[i].path, path->string) == 0)
                                        found = true;
                        if (!found)
                                fail_msg("%s %s is documented but not served", op->string, path->string);
                        n++;
                }
        }
        assert_int_equal(n, api_n_routes);
}

/* Every body schema a route names exists in the compiled-in schemas. */
static void test_body_schemas_resolve(void **state) {
        for (size_t i = 0; i < api_n_routes; i++) {
                const char *body = api_routes[i].body;
                if (!body)
                        continue;
                const char *hash = strchr(body, '#');
                _cleanup_free_ char *file = hash ? xstrndup(body, hash - body) : xstrdup(body);
                enum orch_schema which;
                if (orch_schema_by_name(file, &which) < 0)
                        fail_msg("%s: no compiled-in schema %s", api_routes[i].path, file);
                if (hash) {
                        const cJSON *defs = cJSON_GetObjectItemCaseSensitive(schema_root(orch_schema(which)), "$defs");
                        const char *name = strrchr(hash, '/') + 1;
                        if (!cJSON_GetObjectItemCaseSensitive(defs, name))
                                fail_msg("%s: %s has no $defs/%s", api_routes[i].path, file, name);
                }
        }
        /* The request schema has one definition per kind. */
        const cJSON *defs = cJSON_GetObjectItemCaseSensitive(schema_root(orch_schema(ORCH_SCHEMA_REQUEST)), "$defs");
        assert_non_null(cJSON_GetObjectItemCaseSensitive(defs, "apply"));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(defs, "change"));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(defs, "exit"));
        assert_non_null(cJSON_GetObjectItemCaseSensitive(defs, "envelope"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_route_documented),
                cmocka_unit_test(test_every_documented_route_exists),
                cmocka_unit_test(test_body_schemas_resolve),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
