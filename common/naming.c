/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The naming rule: unit + system + role + number (R-NM1, R-NM2).
 *
 * Every refusal is -EINVAL (-EEXIST for a name already in the pool) with
 * err naming the field ("unit", "system", "role", "number", "name"), the
 * value and the rule: R-NM1 for the unit's and the system's names, R-NM2
 * for the rest.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "naming.h"
#include "utf8.h"

#define streq(a, b) (strcmp((a), (b)) == 0)

/* Characters that may not appear anywhere in a part: C0 and C1 controls,
 * the line and paragraph separators, and the bidirectional controls (they
 * make a name read differently from what it is). */
static bool naming_is_control(uint32_t cp) {
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
               cp == 0x2028 || cp == 0x2029 ||
               cp == 0x200e || cp == 0x200f ||
               (cp >= 0x202a && cp <= 0x202e) ||
               (cp >= 0x2066 && cp <= 0x2069);
}

/* Unicode White_Space, plus the invisible zero-width space and BOM: not at
 * the start or end of a part. U+3000 is the ideographic (full-width) space. */
static bool naming_is_space(uint32_t cp) {
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85 || cp == 0xa0 ||
               cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200b) || cp == 0x2028 || cp == 0x2029 ||
               cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

/* ASCII and full-width digits: a role ending in one would run into its number. */
static bool naming_is_digit(uint32_t cp) {
        return (cp >= '0' && cp <= '9') || (cp >= 0xff10 && cp <= 0xff19);
}

/* R-NM1 covers the unit's and the system's names, R-NM2 the VM name and its
 * role and number. field may carry a path prefix ("vms[2].unit"). */
static const char *naming_rule_for(const char *field) {
        const char *last = field ? strrchr(field, '.') : NULL;
        const char *f = last ? last + 1 : (field ? field : "");

        if (streq(f, "unit") || streq(f, "system"))
                return "R-NM1";
        return "R-NM2";
}

/* Plain words for the part a field holds. */
static const char *naming_noun_for(const char *field) {
        const char *last = field ? strrchr(field, '.') : NULL;
        const char *f = last ? last + 1 : (field ? field : "");

        if (streq(f, "unit"))
                return "the unit's full name";
        if (streq(f, "system"))
                return "the system's name";
        if (streq(f, "role"))
                return "the role";
        if (streq(f, "name"))
                return "the VM name";
        return field ? field : "the part";
}

/* The value for err: valid UTF-8 with controls written as \uXXXX, so the
 * value can be shown and put in JSON as it is. s must be valid UTF-8. */
static void naming_printable(const char *s, char *buf, size_t size) {
        size_t n = strlen(s), o = 0;

        assert(size > 0);
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                int l = utf8_decode(s + i, n - i, &cp);
                char esc[8];
                const char *piece;
                size_t plen;

                if (l < 0)
                        break;
                if (naming_is_control(cp)) {
                        snprintf(esc, sizeof esc, "\\u%04x", (unsigned) cp);
                        piece = esc;
                        plen = strlen(esc);
                } else {
                        piece = s + i;
                        plen = (size_t) l;
                }
                if (o + plen >= size)
                        break;
                memcpy(buf + o, piece, plen);
                o += plen;
                i += (size_t) l;
        }
        buf[o] = 0;
}

/* Set err for a refused part; the value is shown printable. */
static int naming_refuse(struct gc_error *err, const char *rule, const char *field, const char *value,
                         int r, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int naming_refuse(struct gc_error *err, const char *rule, const char *field, const char *value,
                         int r, const char *fmt, ...) {
        /* Longer than err->value holds, so that gc_error marks the cut. */
        char printable[GC_ERROR_VALUE_MAX + 8];
        va_list ap;

        if (value)
                naming_printable(value, printable, sizeof printable);
        va_start(ap, fmt);
        gc_error_setv(err, r == -EEXIST ? "name_in_use" : "invalid_name", rule, field,
                      value ? printable : NULL, fmt, ap);
        va_end(ap);
        return r;
}

int naming_check_part(const char *part, const char *field, struct gc_error *err) {
        const char *rule = naming_rule_for(field);       /* R-NM1 or R-NM2 */
        const char *noun = naming_noun_for(field);
        size_t n;
        uint32_t cp = 0;
        int l;

        if (!part || !*part)
                return naming_refuse(err, rule, field, "", -EINVAL, "%s is empty", noun);
        n = strlen(part);
        if (n > NAMING_NAME_MAX)
                return naming_refuse(err, rule, field, NULL, -EINVAL,
                                     "%s is %zu bytes long, more than a whole VM name may be (%d)",
                                     noun, n, NAMING_NAME_MAX);
        for (size_t i = 0; i < n; i += (size_t) l) {
                l = utf8_decode(part + i, n - i, &cp);
                if (l < 0)
                        /* Not shown: the value would not be text. */
                        return naming_refuse(err, rule, field, NULL, -EINVAL,
                                             "%s is not valid UTF-8 (at byte %zu)", noun, i);
                if (naming_is_control(cp))
                        return naming_refuse(err, rule, field, part, -EINVAL,
                                             "%s contains the control character U+%04X (at byte %zu)",
                                             noun, (unsigned) cp, i);
                if (i == 0 && naming_is_space(cp))
                        return naming_refuse(err, rule, field, part, -EINVAL,
                                             "%s begins with white space", noun);
        }
        /* cp is the last character. */
        if (naming_is_space(cp))
                return naming_refuse(err, rule, field, part, -EINVAL, "%s ends with white space", noun);
        return 0;
}

/* The last code point of a valid, non-empty string. */
static uint32_t naming_last_char(const char *s) {
        size_t n = strlen(s), i = n;
        uint32_t cp = 0;

        assert(n > 0);
        do
                i--;
        while (i > 0 && ((unsigned char) s[i] & 0xc0) == 0x80);
        if (utf8_decode(s + i, n - i, &cp) < 0)
                return 0;
        return cp;
}

/* R-NM2: the role may not end in a digit, or "服务器1" + 2 would read as 12. */
static int naming_check_role(const char *role, const char *field, struct gc_error *err) {
        int r = naming_check_part(role, field, err);
        if (r < 0)
                return r;
        if (naming_is_digit(naming_last_char(role)))
                return naming_refuse(err, "R-NM2", field, role, -EINVAL,
                                     "the role ends in a digit: its number would be ambiguous");
        return 0;
}

/* R-NM2: unit + system + role + number, no separator. */
int naming_build(const struct naming_parts *parts, char **ret_name, struct gc_error *err) {
        _cleanup_free_ char *name = NULL;
        size_t n;
        int r;

        assert(parts);
        assert(ret_name);

        r = naming_check_part(parts->unit, "unit", err);        /* R-NM1 */
        if (r < 0)
                return r;
        r = naming_check_part(parts->system, "system", err);    /* R-NM1 */
        if (r < 0)
                return r;
        r = naming_check_role(parts->role, "role", err);        /* R-NM2 */
        if (r < 0)
                return r;
        if (parts->number == 0)                                 /* R-NM2 */
                return naming_refuse(err, "R-NM2", "number", "0", -EINVAL,
                                     "the number is 0: VM numbers start at 1");

        name = xasprintf("%s%s%s%u", parts->unit, parts->system, parts->role, parts->number);
        n = strlen(name);
        if (n > NAMING_NAME_MAX)                                /* R-NM2 */
                return naming_refuse(err, "R-NM2", "name", name, -EINVAL,
                                     "the VM name would be %zu bytes long, more than %d", n, NAMING_NAME_MAX);

        *ret_name = TAKE_PTR(name);
        return 0;
}

/* R-NM2: name = unit + system + role + number. */
int naming_check(const char *name, const char *unit, const char *system,
                 char **ret_role, unsigned *ret_number, struct gc_error *err) {
        const char *rest, *digits, *end;
        _cleanup_free_ char *role = NULL;
        size_t ulen, slen;
        unsigned long number = 0;
        int r;

        r = naming_check_part(name, "name", err);               /* R-NM2 */
        if (r < 0)
                return r;
        r = naming_check_part(unit, "unit", err);               /* R-NM1 */
        if (r < 0)
                return r;
        r = naming_check_part(system, "system", err);           /* R-NM1 */
        if (r < 0)
                return r;

        ulen = strlen(unit);
        slen = strlen(system);
        if (strncmp(name, unit, ulen) != 0)
                return naming_refuse(err, "R-NM2", "name", name, -EINVAL,
                                     "does not follow unit+system+role+number: it does not begin with the unit's full name \"%s\"",
                                     unit);
        rest = name + ulen;
        if (strncmp(rest, system, slen) != 0)
                return naming_refuse(err, "R-NM2", "name", name, -EINVAL,
                                     "does not follow unit+system+role+number: the unit's name is not followed by the system's name \"%s\"",
                                     system);
        rest += slen;

        /* The number: the ASCII digits at the end. */
        end = rest + strlen(rest);
        digits = end;
        while (digits > rest && digits[-1] >= '0' && digits[-1] <= '9')
                digits--;
        if (digits == end)
                return naming_refuse(err, "R-NM2", "name", name, -EINVAL,
                                     "does not follow unit+system+role+number: it does not end in a number");
        if (digits == rest)
                return naming_refuse(err, "R-NM2", "name", name, -EINVAL,
                                     "does not follow unit+system+role+number: it has no role before the number");
        if (digits[0] == '0')
                return naming_refuse(err, "R-NM2", "name", name, -EINVAL,
                                     end - digits == 1 ? "does not follow unit+system+role+number: the number is 0, numbers start at 1"
                                                       : "does not follow unit+system+role+number: the number has a leading zero");
        for (const char *p = digits; p < end; p++) {
                number = number * 10 + (unsigned long) (*p - '0');
                if (number > UINT_MAX)
                        return naming_refuse(err, "R-NM2", "name", name, -EINVAL,
                                             "does not follow unit+system+role+number: the number is too large");
        }

        role = xstrndup(rest, (size_t) (digits - rest));
        r = naming_check_role(role, "role", err);               /* R-NM2 */
        if (r < 0) {
                /* Report it against the name, which is what was given. */
                char msg[GC_ERROR_MESSAGE_MAX];
                snprintf(msg, sizeof msg, "%s", err ? err->message : "");
                return naming_refuse(err, "R-NM2", "name", name, r,
                                     "does not follow unit+system+role+number: %s", msg);
        }

        if (ret_role)
                *ret_role = TAKE_PTR(role);
        if (ret_number)
                *ret_number = (unsigned) number;
        return 0;
}

/* R-NM2: unique within a resource pool. Names compare byte for byte. */
int naming_check_unique(const char *name, const char *const *pool_names, size_t n, struct gc_error *err) {
        assert(name);
        for (size_t i = 0; i < n; i++)
                if (pool_names[i] && streq(pool_names[i], name))
                        return naming_refuse(err, "R-NM2", "name", name, -EEXIST,
                                             "is already used by another VM in this resource pool: VM names are unique within a pool");
        return 0;
}
