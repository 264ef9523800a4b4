/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "utf8.h"

/*
 * The lexical checks cJSON does not make. This is not a second parser: it
 * only tracks whether it is inside a string, so that it can refuse what
 * cJSON would accept but RFC 8259 / I-JSON do not. cJSON then parses.
 */
static bool number_is_valid(const char *s, size_t n) {
        size_t i = 0;

        if (i < n && s[i] == '-')
                i++;
        if (i >= n)
                return false;
        if (s[i] == '0')
                i++;
        else if (s[i] >= '1' && s[i] <= '9')
                while (i < n && isdigit((unsigned char) s[i]))
                        i++;
        else
                return false;
        if (i < n && s[i] == '.') {
                i++;
                if (i >= n || !isdigit((unsigned char) s[i]))
                        return false;
                while (i < n && isdigit((unsigned char) s[i]))
                        i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (i >= n || !isdigit((unsigned char) s[i]))
                        return false;
                while (i < n && isdigit((unsigned char) s[i]))
                        i++;
        }
        return i == n;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static int lex_error(struct gc_error *err, size_t at, const char *what) {
        char where[32];
        snprintf(where, sizeof where, "byte %zu", at);
        gc_error_set(err, "invalid_json", NULL, where, NULL, "%s", what);
        return -EINVAL;
}

static int lexical_check(const char *s, size_t n, struct gc_error *err) {
        unsigned depth = 0;

        if (!utf8_is_valid(s, n)) {
                /* Find the first bad byte for the message. */
                size_t i = 0;
                while (i < n) {
                        uint32_t cp;
                        int l = utf8_decode(s + i, n - i, &cp);
                        if (l < 0)
                                break;
                        i += l;
                }
                return lex_error(err, i, "is not valid UTF-8");
        }

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == 0)
                        return lex_error(err, i, "holds a NUL byte");
                if (c == '"') {
                        for (i++;; i++) {
                                if (i >= n)
                                        return lex_error(err, i, "ends inside a string");
                                c = s[i];
                                if ((unsigned char) c < 0x20)
                                        return lex_error(err, i, "has a control character inside a string (escape it)");
                                if (c == '"')
                                        break;
                                if (c != '\\')
                                        continue;
                                if (++i >= n)
                                        return lex_error(err, i, "ends inside a string");
                                if (s[i] != 'u')
                                        continue;
                                if (i + 4 >= n)
                                        return lex_error(err, i, "has a short \\u escape");
                                int v = 0;
                                for (int k = 1; k <= 4; k++) {
                                        int h = hexval(s[i + k]);
                                        if (h < 0)
                                                return lex_error(err, i, "has a bad \\u escape");
                                        v = v * 16 + h;
                                }
                                if (v == 0)
                                        return lex_error(err, i - 1, "has \\u0000 in a string (I-JSON forbids it)");
                                i += 4;
                        }
                } else if (c == '-' || (c >= '0' && c <= '9')) {
                        size_t start = i;
                        while (i + 1 < n && (isdigit((unsigned char) s[i + 1]) || strchr("+-.eE", s[i + 1])))
                                i++;
                        if (!number_is_valid(s + start, i - start + 1))
                                return lex_error(err, start, "has a malformed number");
                } else if (c == '[' || c == '{') {
                        if (++depth > JSON_DEPTH_MAX)
                                return lex_error(err, i, "nests deeper than the limit of 64");
                } else if (c == ']' || c == '}') {
                        if (depth > 0)
                                depth--;
                }
        }
        return 0;
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Duplicate keys and non-finite numbers, with the JSON path of the first. */
static int structural_check(const cJSON *v, const char *path, struct gc_error *err) {
        if (cJSON_IsNumber(v)) {
                if (!isfinite(v->valuedouble)) {
                        gc_error_set(err, "invalid_json", NULL, path, NULL,
                                     "is a number outside the range of IEEE 754 doubles");
                        return -EINVAL;
                }
                return 0;
        }
        if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
                return 0;

        size_t n = 0, i = 0;
        for (const cJSON *c = v->child; c; c = c->next)
                n++;

        if (cJSON_IsObject(v) && n > 1) {
                _cleanup_free_ const char **keys = xnew(const char *, n);
                for (const cJSON *c = v->child; c; c = c->next)
                        keys[i++] = c->string;
                qsort(keys, n, sizeof *keys, key_cmp);
                for (i = 1; i < n; i++)
                        if (strcmp(keys[i - 1], keys[i]) == 0) {
                                _cleanup_free_ char *p = json_path_key(path, keys[i]);
                                gc_error_set(err, "duplicate_key", NULL, p, NULL,
                                             "is a duplicate key (I-JSON, RFC 8785 forbid them)");
                                return -EINVAL;
                        }
        }

        i = 0;
        for (const cJSON *c = v->child; c; c = c->next, i++) {
                _cleanup_free_ char *p = cJSON_IsObject(v) ? json_path_key(path, c->string)
                                                            : json_path_index(path, i);
                int r = structural_check(c, p, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int json_parse(const char *text, size_t len, cJSON **ret, struct gc_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_free_ char *copy = NULL;
        const char *end = NULL;
        int r;

        r = lexical_check(text, len, err);
        if (r < 0)
                return r;

        /* cJSON wants a NUL-terminated buffer; the check above has ruled out inner NULs. */
        copy = xmalloc(len + 1);
        memcpy(copy, text, len);
        copy[len] = 0;
        doc = cJSON_ParseWithOpts(copy, &end, true);
        if (!doc) {
                size_t at = end && end >= copy && end <= copy + len ? (size_t) (end - copy) : 0;
                return lex_error(err, at, len == 0 ? "is empty" : "is not valid JSON here");
        }

        r = structural_check(doc, "$", err);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(doc);
        return 0;
}

int json_parse_file(const char *path, size_t max, cJSON **ret, struct gc_error *err) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r;

        r = gc_read_file(path, max, &data, &len);
        if (r == -EFBIG) {
                gc_error_set(err, "too_large", NULL, path, NULL, "is larger than %zu bytes", max);
                return r;
        }
        if (r < 0) {
                gc_error_set(err, "unreadable", NULL, path, NULL, "cannot be read: %s", strerror(-r));
                return r;
        }
        return json_parse(data, len, ret, err);
}

static bool is_identifier(const char *k) {
        if (!*k || isdigit((unsigned char) *k))
                return false;
        for (; *k; k++)
                if (!isalnum((unsigned char) *k) && *k != '_')
                        return false;
        return true;
}

char *json_path_key(const char *parent, const char *key) {
        if (is_identifier(key))
                return xasprintf("%s.%s", parent, key);

        /* Quote, escaping quotes and backslashes. */
        struct gc_buf b = GC_BUF_INIT(SIZE_MAX / 2);
        gc_buf_printf(&b, "%s[\"", parent);
        for (const char *k = key; *k; k++) {
                if (*k == '"' || *k == '\\')
                        gc_buf_append_char(&b, '\\');
                gc_buf_append_char(&b, *k);
        }
        gc_buf_append_str(&b, "\"]");
        return gc_buf_steal(&b, NULL);
}

char *json_path_index(const char *parent, size_t index) {
        return xasprintf("%s[%zu]", parent, index);
}

char *json_value_brief(const cJSON *v) {
        char *s = cJSON_PrintUnformatted(v);
        if (!s)
                return xstrdup("?");
        size_t n = utf8_truncate(s, 80);
        if (s[n]) {
                char *t = xasprintf("%.*s...", (int) n, s);
                free(s);
                return t;
        }
        return s;
}

const cJSON *json_get(const cJSON *obj, const char *key) {
        return cJSON_GetObjectItemCaseSensitive(obj, key);
}

bool json_is_null_or_missing(const cJSON *obj, const char *key) {
        const cJSON *v = json_get(obj, key);
        return !v || cJSON_IsNull(v);
}

static int type_error(const cJSON *v, const char *key, const char *want, struct gc_error *err) {
        _cleanup_free_ char *brief = json_value_brief(v);
        gc_error_set(err, "invalid_type", NULL, key, brief, "is not %s", want);
        return -EINVAL;
}

int json_get_string(const cJSON *obj, const char *key, const char **ret, struct gc_error *err) {
        const cJSON *v = json_get(obj, key);
        if (!v) {
                gc_error_set(err, "missing", NULL, key, NULL, "is required");
                return -ENOENT;
        }
        if (!cJSON_IsString(v))
                return type_error(v, key, "a string", err);
        *ret = v->valuestring;
        return 0;
}

int json_get_bool(const cJSON *obj, const char *key, bool *ret, struct gc_error *err) {
        const cJSON *v = json_get(obj, key);
        if (!v) {
                gc_error_set(err, "missing", NULL, key, NULL, "is required");
                return -ENOENT;
        }
        if (!cJSON_IsBool(v))
                return type_error(v, key, "true or false", err);
        *ret = cJSON_IsTrue(v);
        return 0;
}

int json_get_number(const cJSON *obj, const char *key, double *ret, struct gc_error *err) {
        const cJSON *v = json_get(obj, key);
        if (!v) {
                gc_error_set(err, "missing", NULL, key, NULL, "is required");
                return -ENOENT;
        }
        if (!cJSON_IsNumber(v))
                return type_error(v, key, "a number", err);
        *ret = v->valuedouble;
        return 0;
}

int json_get_int(const cJSON *obj, const char *key, int64_t *ret, struct gc_error *err) {
        double d;
        int r = json_get_number(obj, key, &d, err);
        if (r < 0)
                return r;
        if (d != floor(d) || fabs(d) > 9007199254740992.0)
                return type_error(json_get(obj, key), key, "an integer", err);
        *ret = (int64_t) d;
        return 0;
}

const cJSON *json_path_get(const cJSON *root, const char *path) {
        const cJSON *v = root;
        const char *p = path;

        if (*p != '$')
                return NULL;
        p++;
        while (*p && v) {
                if (*p == '.') {
                        const char *end = p + 1;
                        while (*end && *end != '.' && *end != '[')
                                end++;
                        _cleanup_free_ char *key = xstrndup(p + 1, end - p - 1);
                        v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, key) : NULL;
                        p = end;
                } else if (p[0] == '[' && p[1] == '"') {
                        struct gc_buf key = GC_BUF_INIT(4096);
                        p += 2;
                        while (*p && *p != '"') {
                                if (*p == '\\' && p[1])
                                        p++;
                                gc_buf_append_char(&key, *p++);
                        }
                        if (p[0] != '"' || p[1] != ']') {
                                gc_buf_free(&key);
                                return NULL;
                        }
                        p += 2;
                        v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, key.data ?: "") : NULL;
                        gc_buf_free(&key);
                } else if (*p == '[') {
                        char *end;
                        errno = 0;
                        unsigned long i = strtoul(p + 1, &end, 10);
                        if (errno || end == p + 1 || *end != ']' || !cJSON_IsArray(v) || i > INT_MAX)
                                return NULL;
                        v = cJSON_GetArrayItem(v, (int) i);
                        p = end + 1;
                } else
                        return NULL;
        }
        return v;
}

int json_field_error(struct gc_error *err, const char *code, const char *field, const cJSON *v, const char *fmt, ...) {
        /* A string as it is (gc_error_format quotes it), anything else in brief. */
        char *brief = !v ? NULL : cJSON_IsString(v) ? strdup(v->valuestring) : json_value_brief(v);
        char msg[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        gc_error_set(err, code, NULL, field, brief, "%s", msg);
        free(brief);
        return -EINVAL;
}
