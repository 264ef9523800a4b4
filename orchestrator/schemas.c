/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "schemas.h"

extern const char request_schema_json[], registration_schema_json[], config_schema_json[], agent_schema_json[];
extern const size_t request_schema_json_len, registration_schema_json_len, config_schema_json_len, agent_schema_json_len;
extern const char pack_baotou_json[], pack_luan_json[], pack_zhumadian_json[], pack_sichuan_json[];
extern const size_t pack_baotou_json_len, pack_luan_json_len, pack_zhumadian_json_len, pack_sichuan_json_len;

static const struct {
        const char *file;
        const char *text;
        const size_t *len;
} sources[_ORCH_SCHEMA_MAX] = {
        [ORCH_SCHEMA_REQUEST] = { "request.json", request_schema_json, &request_schema_json_len },
        [ORCH_SCHEMA_REGISTRATION] = { "registration.json", registration_schema_json, &registration_schema_json_len },
        [ORCH_SCHEMA_CONFIG] = { "config.json", config_schema_json, &config_schema_json_len },
        [ORCH_SCHEMA_AGENT] = { "agent.json", agent_schema_json, &agent_schema_json_len },
};

static struct schema *loaded[_ORCH_SCHEMA_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load_all(void) {
        for (size_t i = 0; i < _ORCH_SCHEMA_MAX; i++) {
                struct gc_error err = {};
                if (schema_load(sources[i].text, *sources[i].len, &loaded[i], &err) < 0) {
                        char buf[GC_ERROR_FORMAT_MAX];
                        /* The schemas ship inside the program: a bad one is a build defect. */
                        log_error("built-in schema %s: %s", sources[i].file, gc_error_format(&err, buf, sizeof buf));
                        abort();
                }
        }
}

const struct schema *orch_schema(enum orch_schema which) {
        pthread_once(&once, load_all);
        return loaded[which];
}

int orch_schema_by_name(const char *file, enum orch_schema *ret) {
        for (size_t i = 0; i < _ORCH_SCHEMA_MAX; i++)
                if (strcmp(sources[i].file, file) == 0) {
                        *ret = i;
                        return 0;
                }
        return -ENOENT;
}

/* The x-rule of the schema node that describes path, if any. */
static const char *rule_at(const struct schema *s, const char *ref, const char *path) {
        const cJSON *node = schema_root(s);
        if (ref) {
                const char *name = strrchr(ref, '/');
                node = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(schema_root(s), "$defs"),
                                                        name ? name + 1 : ref);
        }
        const char *rule = schema_annotation(s, node, "x-rule");
        const char *p = path + 1;
        while (node && *p) {
                if (*p == '.') {
                        const char *end = p + 1;
                        while (*end && *end != '.' && *end != '[')
                                end++;
                        _cleanup_free_ char *key = xstrndup(p + 1, end - p - 1);
                        node = schema_property(s, node, key);
                        p = end;
                } else if (*p == '[') {
                        const char *end = strchr(p, ']');
                        if (!end)
                                break;
                        node = schema_items(s, node);
                        p = end + 1;
                } else
                        break;
                if (node) {
                        const char *r = schema_annotation(s, node, "x-rule");
                        if (r)
                                rule = r;
                }
        }
        return rule;
}

int orch_validate(enum orch_schema which, const char *ref, const cJSON *doc, const char *code,
                  struct gc_error *err) {
        const struct schema *s = orch_schema(which);
        struct schema_issues issues = {};
        int n;

        if (ref)
                n = schema_validate_ref(s, ref, doc, &issues);
        else
                n = (int) schema_validate(s, doc, &issues);
        if (n < 0)
                return log_error_errno(n, "schema %s has no %s", sources[which].file, ref);
        if (n == 0)
                return 0;

        const char *path = issues.v[0].path;
        const cJSON *v = json_path_get(doc, path);
        _cleanup_free_ char *brief = v ? json_value_brief(v) : NULL;
        const char *field = path[0] == '$' && path[1] == '.' ? path + 2 : path[0] == '$' && path[1] == 0 ? "" : path + 1;
        const char *rule = rule_at(s, ref, path);
        gc_error_set(err, code, rule ?: "", field, brief, "%s", issues.v[0].message);
        schema_issues_free(&issues);
        return -EINVAL;
}

int orch_builtin_pack(const char *name, const char **ret_text, size_t *ret_len) {
        static const struct {
                const char *name;
                const char *text;
                const size_t *len;
        } packs[] = {
                { "baotou", pack_baotou_json, &pack_baotou_json_len },
                { "luan", pack_luan_json, &pack_luan_json_len },
                { "zhumadian", pack_zhumadian_json, &pack_zhumadian_json_len },
                { "sichuan", pack_sichuan_json, &pack_sichuan_json_len },
        };
        for (size_t i = 0; i < ELEMENTSOF(packs); i++)
                if (strcmp(packs[i].name, name) == 0) {
                        *ret_text = packs[i].text;
                        *ret_len = *packs[i].len;
                        return 0;
                }
        return -ENOENT;
}
