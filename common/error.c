/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "gc/error.h"
#include "utf8.h"

/* Copy at most size-1 bytes without cutting a UTF-8 sequence; mark a cut with "...". */
static void copy_shortened(char *dst, size_t size, const char *src) {
        size_t n = strlen(src);

        if (n < size) {
                memcpy(dst, src, n + 1);
                return;
        }
        n = utf8_truncate(src, size - 4);
        memcpy(dst, src, n);
        memcpy(dst + n, "...", 4);
}

void gc_error_setv(struct gc_error *err, const char *code, const char *rule,
                   const char *field, const char *value, const char *fmt, va_list ap) {
        if (!err)
                return;
        copy_shortened(err->code, sizeof err->code, code ? code : "invalid");
        copy_shortened(err->rule, sizeof err->rule, rule ? rule : "");
        copy_shortened(err->field, sizeof err->field, field ? field : "");
        copy_shortened(err->value, sizeof err->value, value ? value : "");
        vsnprintf(err->message, sizeof err->message, fmt, ap);
}

void gc_error_set(struct gc_error *err, const char *code, const char *rule,
                  const char *field, const char *value, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        gc_error_setv(err, code, rule, field, value, fmt, ap);
        va_end(ap);
}

void gc_error_prefix_field(struct gc_error *err, const char *prefix) {
        char buf[2 * GC_ERROR_FIELD_MAX + 2];

        if (!err || !prefix || !*prefix)
                return;
        if (err->field[0] == 0)
                snprintf(buf, sizeof buf, "%s", prefix);
        else if (err->field[0] == '[')
                snprintf(buf, sizeof buf, "%s%s", prefix, err->field);
        else
                snprintf(buf, sizeof buf, "%s.%s", prefix, err->field);
        copy_shortened(err->field, sizeof err->field, buf);
}

const char *gc_error_format(const struct gc_error *err, char *buf, size_t size) {
        int n = 0;

        if (err->field[0])
                n = snprintf(buf, size, "%s: ", err->field);
        if (n >= 0 && (size_t) n < size && err->value[0])
                n += snprintf(buf + n, size - n, "\"%s\" ", err->value);
        if (n >= 0 && (size_t) n < size)
                n += snprintf(buf + n, size - n, "%s", err->message);
        if (n >= 0 && (size_t) n < size && err->rule[0])
                snprintf(buf + n, size - n, " (%s)", err->rule);
        return buf;
}
