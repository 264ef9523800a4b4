/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "json.h"
#include "schema.h"
#include "utf8.h"

struct schema {
        cJSON *doc;
        /* Every "pattern" compiled once at load (regexec is thread-safe). */
        struct schema_pattern {
                const cJSON *node;
                regex_t re;
        } *patterns;
        size_t n_patterns;
};

static void collect_patterns(struct schema *s, const cJSON *node) {
        const cJSON *k;
        if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
                return;
        cJSON_ArrayForEach(k, node) {
                if (cJSON_IsObject(node) && k->string && strcmp(k->string, "pattern") == 0 && cJSON_IsString(k)) {
                        s->patterns = xrealloc(s->patterns, (s->n_patterns + 1) * sizeof *s->patterns);
                        struct schema_pattern *p = &s->patterns[s->n_patterns];
                        if (regcomp(&p->re, k->valuestring, REG_EXTENDED | REG_NOSUB) == 0) {
                                p->node = k;
                                s->n_patterns++;
                        }
                } else
                        collect_patterns(s, k);
        }
}

static const char *const assertion_keywords[] = {
        "$ref", "type", "enum", "const", "properties", "required", "additionalProperties",
        "items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
};
static const char *const annotation_keywords[] = {
        "$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples",
        "x-null", "x-rule",
};
static const char *const type_names[] = {
        "null", "boolean", "object", "array", "number", "integer", "string",
};

static bool in_list(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, list[i]) == 0)
                        return true;
        return false;
}

static const cJSON *lookup_ref(const cJSON *root, const char *ref) {
        static const char prefix[] = "#/$defs/";

        if (strncmp(ref, prefix, sizeof prefix - 1) != 0)
                return NULL;
        return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "$defs"),
                                                ref + sizeof prefix - 1);
}

/* Check a schema node and everything below it at load time. */
static int check_node(const cJSON *root, const cJSON *node, const char *path, struct gc_error *err) {
        if (cJSON_IsBool(node))
                return 0;
        if (!cJSON_IsObject(node)) {
                gc_error_set(err, "invalid_schema", NULL, path, NULL, "is not a schema (object or boolean)");
                return -EINVAL;
        }

        for (const cJSON *k = node->child; k; k = k->next) {
                _cleanup_free_ char *p = json_path_key(path, k->string);
                int r = 0;

                if (!in_list(k->string, assertion_keywords, ELEMENTSOF(assertion_keywords)) &&
                    !in_list(k->string, annotation_keywords, ELEMENTSOF(annotation_keywords))) {
                        gc_error_set(err, "invalid_schema", NULL, p, NULL,
                                     "is a keyword this validator does not implement");
                        return -EOPNOTSUPP;
                }

                if (strcmp(k->string, "$ref") == 0) {
                        if (!cJSON_IsString(k) || !lookup_ref(root, k->valuestring)) {
                                gc_error_set(err, "invalid_schema", NULL, p, NULL, "does not name an entry of $defs");
                                return -EINVAL;
                        }
                } else if (strcmp(k->string, "type") == 0) {
                        const cJSON *t;
                        if (cJSON_IsString(k)) {
                                if (!in_list(k->valuestring, type_names, ELEMENTSOF(type_names)))
                                        r = -EINVAL;
                        } else if (cJSON_IsArray(k)) {
                                cJSON_ArrayForEach(t, k)
                                        if (!cJSON_IsString(t) || !in_list(t->valuestring, type_names, ELEMENTSOF(type_names)))
                                                r = -EINVAL;
                        } else
                                r = -EINVAL;
                } else if (strcmp(k->string, "properties") == 0 || strcmp(k->string, "$defs") == 0) {
                        if (!cJSON_IsObject(k))
                                r = -EINVAL;
                        for (const cJSON *c = k->child; r >= 0 && c; c = c->next) {
                                _cleanup_free_ char *cp = json_path_key(p, c->string);
                                r = check_node(root, c, cp, err);
                                if (r < 0)
                                        return r;
                        }
                } else if (strcmp(k->string, "items") == 0 || strcmp(k->string, "additionalProperties") == 0) {
                        r = check_node(root, k, p, err);
                        if (r < 0)
                                return r;
                } else if (strcmp(k->string, "enum") == 0 || strcmp(k->string, "required") == 0) {
                        if (!cJSON_IsArray(k))
                                r = -EINVAL;
                } else if (strcmp(k->string, "pattern") == 0) {
                        regex_t re;
                        if (!cJSON_IsString(k) || regcomp(&re, k->valuestring, REG_EXTENDED | REG_NOSUB) != 0)
                                r = -EINVAL;
                        else
                                regfree(&re);
                } else if (strcmp(k->string, "uniqueItems") == 0) {
                        if (!cJSON_IsBool(k))
                                r = -EINVAL;
                } else if (in_list(k->string, (const char *const[]) { "minItems", "maxItems", "minimum", "maximum",
                                                                      "exclusiveMinimum", "exclusiveMaximum",
                                                                      "minLength", "maxLength" }, 8)) {
                        if (!cJSON_IsNumber(k))
                                r = -EINVAL;
                }
                if (r < 0) {
                        gc_error_set(err, "invalid_schema", NULL, p, NULL, "has a value of the wrong form");
                        return r;
                }
        }
        return 0;
}

int schema_load(const char *text, size_t len, struct schema **ret, struct gc_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        int r;

        r = json_parse(text, len, &doc, err);
        if (r < 0)
                return r;
        r = check_node(doc, doc, "$", err);
        if (r < 0)
                return r;

        struct schema *s = xnew(struct schema, 1);
        s->doc = TAKE_PTR(doc);
        collect_patterns(s, s->doc);
        *ret = s;
        return 0;
}

void schema_free(struct schema *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_patterns; i++)
                regfree(&s->patterns[i].re);
        free(s->patterns);
        cJSON_Delete(s->doc);
        free(s);
}

const cJSON *schema_root(const struct schema *s) {
        return s->doc;
}

const cJSON *schema_resolve(const struct schema *s, const cJSON *node) {
        for (int hops = 0; node && hops < 16; hops++) {
                const cJSON *ref = cJSON_GetObjectItemCaseSensitive(node, "$ref");
                if (!ref)
                        return node;
                node = lookup_ref(s->doc, ref->valuestring);
        }
        return node;
}

const cJSON *schema_property(const struct schema *s, const cJSON *node, const char *key) {
        node = schema_resolve(s, node);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "properties"), key);
        if (p)
                return p;
        p = cJSON_GetObjectItemCaseSensitive(node, "additionalProperties");
        return cJSON_IsObject(p) ? p : NULL;
}

const cJSON *schema_items(const struct schema *s, const cJSON *node) {
        node = schema_resolve(s, node);
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(node, "items");
        return cJSON_IsObject(i) ? i : NULL;
}

const char *schema_annotation(const struct schema *s, const cJSON *node, const char *keyword) {
        for (int hops = 0; node && hops < 16; hops++) {
                const cJSON *a = cJSON_GetObjectItemCaseSensitive(node, keyword);
                if (cJSON_IsString(a))
                        return a->valuestring;
                const cJSON *ref = cJSON_GetObjectItemCaseSensitive(node, "$ref");
                if (!ref)
                        return NULL;
                node = lookup_ref(s->doc, ref->valuestring);
        }
        return NULL;
}

/* Validation. */

void schema_issues_add(struct schema_issues *issues, const char *path, const char *fmt, ...) {
        va_list ap;
        char *msg;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        issues->v = xrealloc(issues->v, (issues->n + 1) * sizeof *issues->v);
        issues->v[issues->n++] = (struct schema_issue) { .path = xstrdup(path), .message = msg };
}

static const char *instance_type(const cJSON *v) {
        if (cJSON_IsNull(v))
                return "null";
        if (cJSON_IsBool(v))
                return "boolean";
        if (cJSON_IsObject(v))
                return "object";
        if (cJSON_IsArray(v))
                return "array";
        if (cJSON_IsString(v))
                return "string";
        if (cJSON_IsNumber(v))
                return v->valuedouble == floor(v->valuedouble) ? "integer" : "number";
        return "invalid";
}

static bool type_matches(const char *want, const cJSON *v) {
        const char *have = instance_type(v);
        if (strcmp(want, have) == 0)
                return true;
        return strcmp(want, "number") == 0 && strcmp(have, "integer") == 0;
}

/* "a, b or c" */
static char *join_or(const cJSON *list, bool render_json) {
        struct gc_buf b = GC_BUF_INIT(4096);
        int n = cJSON_GetArraySize(list), i = 0;
        const cJSON *e;

        cJSON_ArrayForEach(e, list) {
                if (i > 0)
                        gc_buf_append_str(&b, i == n - 1 ? " or " : ", ");
                if (render_json || !cJSON_IsString(e)) {
                        _cleanup_free_ char *s = json_value_brief(e);
                        gc_buf_append_str(&b, s);
                } else
                        gc_buf_append_str(&b, e->valuestring);
                i++;
        }
        return gc_buf_steal(&b, NULL);
}

static void validate(const struct schema *s, const cJSON *node, const cJSON *v, const char *path,
                     struct schema_issues *issues);

static bool check_type(const cJSON *node, const cJSON *v, const char *path, struct schema_issues *issues) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(node, "type");
        if (!t)
                return true;
        if (cJSON_IsString(t)) {
                if (type_matches(t->valuestring, v))
                        return true;
                schema_issues_add(issues, path, "is %s %s, expected %s",
                          strchr("aeiou", instance_type(v)[0]) ? "an" : "a", instance_type(v), t->valuestring);
                return false;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, t)
                if (type_matches(e->valuestring, v))
                        return true;
        _cleanup_free_ char *want = join_or(t, false);
        schema_issues_add(issues, path, "is %s %s, expected %s",
                  strchr("aeiou", instance_type(v)[0]) ? "an" : "a", instance_type(v), want);
        return false;
}

static void validate_object(const struct schema *s, const cJSON *node, const cJSON *v, const char *path,
                            struct schema_issues *issues) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(node, "properties");
        const cJSON *required = cJSON_GetObjectItemCaseSensitive(node, "required");
        const cJSON *additional = cJSON_GetObjectItemCaseSensitive(node, "additionalProperties");
        const cJSON *e;

        cJSON_ArrayForEach(e, required)
                if (cJSON_IsString(e) && !cJSON_GetObjectItemCaseSensitive(v, e->valuestring)) {
                        _cleanup_free_ char *p = json_path_key(path, e->valuestring);
                        schema_issues_add(issues, p, "is required");
                }

        for (const cJSON *m = v->child; m; m = m->next) {
                _cleanup_free_ char *p = json_path_key(path, m->string);
                const cJSON *sub = cJSON_GetObjectItemCaseSensitive(props, m->string);

                if (sub)
                        validate(s, sub, m, p, issues);
                else if (cJSON_IsFalse(additional))
                        schema_issues_add(issues, p, "is not a known key (unknown keys are refused)");
                else if (cJSON_IsObject(additional))
                        validate(s, additional, m, p, issues);
        }
}

static void validate_array(const struct schema *s, const cJSON *node, const cJSON *v, const char *path,
                           struct schema_issues *issues) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(node, "items");
        const cJSON *k;
        int n = cJSON_GetArraySize(v);
        size_t i = 0;

        if ((k = cJSON_GetObjectItemCaseSensitive(node, "minItems")) && n < k->valuedouble)
                schema_issues_add(issues, path, "has %d items, fewer than the minimum %g", n, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(node, "maxItems")) && n > k->valuedouble)
                schema_issues_add(issues, path, "has %d items, more than the maximum %g", n, k->valuedouble);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(node, "uniqueItems"))) {
                int a = 0;
                for (const cJSON *x = v->child; x; x = x->next, a++) {
                        int b = a + 1;
                        for (const cJSON *y = x->next; y; y = y->next, b++)
                                if (cJSON_Compare(x, y, true)) {
                                        _cleanup_free_ char *p = json_path_index(path, b);
                                        schema_issues_add(issues, p, "repeats item %d (items must be unique)", a);
                                }
                }
        }
        if (items)
                for (const cJSON *x = v->child; x; x = x->next, i++) {
                        _cleanup_free_ char *p = json_path_index(path, i);
                        validate(s, items, x, p, issues);
                }
}

static void validate_number(const cJSON *node, const cJSON *v, const char *path, struct schema_issues *issues) {
        double d = v->valuedouble;
        const cJSON *k;

        if ((k = cJSON_GetObjectItemCaseSensitive(node, "minimum")) && d < k->valuedouble)
                schema_issues_add(issues, path, "is %g, below the minimum %g", d, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(node, "maximum")) && d > k->valuedouble)
                schema_issues_add(issues, path, "is %g, above the maximum %g", d, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(node, "exclusiveMinimum")) && d <= k->valuedouble)
                schema_issues_add(issues, path, "is %g, not above %g", d, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(node, "exclusiveMaximum")) && d >= k->valuedouble)
                schema_issues_add(issues, path, "is %g, not below %g", d, k->valuedouble);
}

static void validate_string(const struct schema *s, const cJSON *node, const cJSON *v, const char *path,
                            struct schema_issues *issues) {
        const char *str = v->valuestring;
        long len = utf8_length(str, strlen(str));
        const cJSON *k;

        if ((k = cJSON_GetObjectItemCaseSensitive(node, "minLength")) && len < k->valuedouble)
                schema_issues_add(issues, path, "is %ld characters long, shorter than the minimum %g", len, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(node, "maxLength")) && len > k->valuedouble)
                schema_issues_add(issues, path, "is %ld characters long, longer than the maximum %g", len, k->valuedouble);
        if ((k = cJSON_GetObjectItemCaseSensitive(node, "pattern"))) {
                for (size_t i = 0; i < s->n_patterns; i++) {
                        if (s->patterns[i].node != k)
                                continue;
                        if (regexec(&s->patterns[i].re, str, 0, NULL, 0) != 0) {
                                _cleanup_free_ char *brief = json_value_brief(v);
                                schema_issues_add(issues, path, "is %s, which does not match %s", brief, k->valuestring);
                        }
                        break;
                }
        }
}

static void validate(const struct schema *s, const cJSON *node, const cJSON *v, const char *path,
                     struct schema_issues *issues) {
        const cJSON *k;

        if (cJSON_IsTrue(node))
                return;
        if (cJSON_IsFalse(node)) {
                schema_issues_add(issues, path, "is not allowed here");
                return;
        }

        if ((k = cJSON_GetObjectItemCaseSensitive(node, "$ref")))
                validate(s, lookup_ref(s->doc, k->valuestring), v, path, issues);

        if (!check_type(node, v, path, issues))
                return;         /* one message per field: the rest would only repeat it */

        if ((k = cJSON_GetObjectItemCaseSensitive(node, "const")) && !cJSON_Compare(k, v, true)) {
                _cleanup_free_ char *want = json_value_brief(k), *have = json_value_brief(v);
                schema_issues_add(issues, path, "is %s, expected %s", have, want);
                return;
        }
        if ((k = cJSON_GetObjectItemCaseSensitive(node, "enum"))) {
                const cJSON *e;
                bool found = false;
                cJSON_ArrayForEach(e, k)
                        if (cJSON_Compare(e, v, true))
                                found = true;
                if (!found) {
                        _cleanup_free_ char *want = join_or(k, true), *have = json_value_brief(v);
                        schema_issues_add(issues, path, "is %s, not one of %s", have, want);
                        return;
                }
        }

        if (cJSON_IsObject(v))
                validate_object(s, node, v, path, issues);
        else if (cJSON_IsArray(v))
                validate_array(s, node, v, path, issues);
        else if (cJSON_IsNumber(v))
                validate_number(node, v, path, issues);
        else if (cJSON_IsString(v))
                validate_string(s, node, v, path, issues);
}

size_t schema_validate(const struct schema *s, const cJSON *instance, struct schema_issues *ret) {
        *ret = (struct schema_issues) {};
        validate(s, s->doc, instance, "$", ret);
        return ret->n;
}

int schema_validate_ref(const struct schema *s, const char *ref, const cJSON *instance, struct schema_issues *ret) {
        const cJSON *node = lookup_ref(s->doc, ref);
        if (!node)
                return -ENOENT;
        *ret = (struct schema_issues) {};
        validate(s, node, instance, "$", ret);
        return (int) ret->n;
}

void schema_issues_free(struct schema_issues *issues) {
        for (size_t i = 0; i < issues->n; i++) {
                free(issues->v[i].path);
                free(issues->v[i].message);
        }
        free(issues->v);
        *issues = (struct schema_issues) {};
}
