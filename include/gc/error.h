/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error convention shared by every part of govcloud.
 *
 * Functions return int: >= 0 is success, a negative errno is failure.
 * Where the failure is the caller's input (a request field, a pack field),
 * the function also fills a struct gc_error that names the field, the value
 * and the rule, so that the message reaching a person reads
 *
 *     vms[2].name: "web1" does not follow unit+system+role+number (R-NM2)
 *
 * The same fields travel over the API as
 *     {"error": {"code", "field", "value", "message", "rule"}}.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#define GC_ERROR_FIELD_MAX   256
#define GC_ERROR_VALUE_MAX   192
#define GC_ERROR_MESSAGE_MAX 512
#define GC_ERROR_CODE_MAX    48
#define GC_ERROR_RULE_MAX    16

struct gc_error {
        char code[GC_ERROR_CODE_MAX];       /* short machine word: "invalid_name" */
        char field[GC_ERROR_FIELD_MAX];     /* JSON path of the input: "vms[2].name" */
        char value[GC_ERROR_VALUE_MAX];     /* the offending value as given, shortened */
        char message[GC_ERROR_MESSAGE_MAX]; /* plain words, without field and rule */
        char rule[GC_ERROR_RULE_MAX];       /* "R-NM2", or "" where no rule applies */
};

/* Fill err (may be NULL, then nothing happens). value may be NULL. */
void gc_error_set(struct gc_error *err, const char *code, const char *rule,
                  const char *field, const char *value, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
void gc_error_setv(struct gc_error *err, const char *code, const char *rule,
                   const char *field, const char *value, const char *fmt, va_list ap)
        __attribute__((format(printf, 6, 0)));

/* Put prefix in front of the field path: "name" -> "vms[2].name". */
void gc_error_prefix_field(struct gc_error *err, const char *prefix);

/* "field: "value" message (R-XX)" into buf; returns buf. */
const char *gc_error_format(const struct gc_error *err, char *buf, size_t size);

#define GC_ERROR_FORMAT_MAX (GC_ERROR_FIELD_MAX + GC_ERROR_VALUE_MAX + GC_ERROR_MESSAGE_MAX + GC_ERROR_RULE_MAX + 16)
