/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON over cJSON, strict: RFC 8259 grammar, I-JSON (RFC 7493) limits.
 * cJSON is lenient in a few places (leading zeros, "1.", raw control
 * characters and \u0000 in strings, numbers that overflow to infinity) and
 * keeps duplicate keys; json_parse refuses all of them, so that two readers
 * can never see different documents in the same bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"

#define JSON_DEPTH_MAX 64

/* Parse text (len bytes; it need not be NUL-terminated). On failure err
 * names where: "$.a.b" for a duplicate key, "byte N" for a syntax error. */
int json_parse(const char *text, size_t len, cJSON **ret, struct gc_error *err);
int json_parse_file(const char *path, size_t max, cJSON **ret, struct gc_error *err);

/* Path helpers: "$.a", "$.a[3]"; key is quoted when it is not an identifier. */
char *json_path_key(const char *parent, const char *key);
char *json_path_index(const char *parent, size_t index);

/* The value at a path made by the helpers above; NULL when there is none. */
const cJSON *json_path_get(const cJSON *root, const char *path);

/* A short rendering of a value for an error message. */
char *json_value_brief(const cJSON *v);
/* A refusal of one field of a document: err gets code, field, the value (a
 * string as it is, anything else in brief) and the message; -EINVAL. */
int json_field_error(struct gc_error *err, const char *code, const char *field, const cJSON *v, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* Typed getters. Missing keys give -ENOENT; wrong types -EINVAL with err. */
const cJSON *json_get(const cJSON *obj, const char *key);
bool json_is_null_or_missing(const cJSON *obj, const char *key);
int json_get_string(const cJSON *obj, const char *key, const char **ret, struct gc_error *err);
int json_get_bool(const cJSON *obj, const char *key, bool *ret, struct gc_error *err);
int json_get_number(const cJSON *obj, const char *key, double *ret, struct gc_error *err);
/* An integer number (no fraction) within [INT64_MIN/2, INT64_MAX/2]. */
int json_get_int(const cJSON *obj, const char *key, int64_t *ret, struct gc_error *err);

/* Lenient readers for documents already checked against their schema:
 * the member's string (NULL when absent or not a string), its number
 * (def when absent or not a number). */
static inline const char *str_at(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline long int_at(const cJSON *o, const char *key, long def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) ? (long) v->valuedouble : def;
}
