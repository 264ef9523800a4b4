/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "jcs.h"
#include "json.h"
#include "utf8.h"

/*
 * The shortest decimal that reads back as d (ECMAScript 7.1.12.1, note 2:
 * the least k, then the digits closest to d). printf's %.*e rounds
 * correctly, so its p-digit result is the closest p-digit decimal; at a
 * power of two the neighbour one unit away can round-trip where the closest
 * does not, so both neighbours are tried too.
 */
static void shortest_digits(double d, char digits[24], int *ret_exp) {
        for (int p = 1; p <= 17; p++) {
                char s[40];
                snprintf(s, sizeof s, "%.*e", p - 1, d);

                /* s is "D.DDDDe±X": split into a p-digit integer and its exponent. */
                char *e = strchr(s, 'e');
                int exp = atoi(e + 1);
                uint64_t m = 0;
                for (char *c = s; c < e; c++)
                        if (*c != '.')
                                m = m * 10 + (uint64_t) (*c - '0');

                uint64_t cands[3] = { m, m - 1, m + 1 };
                bool found = false;
                uint64_t best = 0;
                int best_exp = 0;
                long double best_dist = 0;
                for (int i = 0; i < 3; i++) {
                        uint64_t c = cands[i];
                        int cexp = exp;
                        char buf[48];
                        if (c == 0)
                                continue;
                        snprintf(buf, sizeof buf, "%" PRIu64 "e%d", c, cexp - (p - 1));
                        if (strtod(buf, NULL) != d)
                                continue;
                        long double dist = fabsl(strtold(buf, NULL) - (long double) d);
                        if (!found || dist < best_dist) {
                                found = true;
                                best = c;
                                best_exp = cexp;
                                best_dist = dist;
                        }
                }
                if (!found)
                        continue;

                /* best may have p or p + 1 digits (m + 1 = 10^p) or p - 1 (m - 1 = 10^(p-1) - 1). */
                char tmp[24];
                int len = snprintf(tmp, sizeof tmp, "%" PRIu64, best);
                best_exp += len - p;
                /* Drop trailing zeros: they are not significant. */
                while (len > 1 && tmp[len - 1] == '0')
                        tmp[--len] = 0;
                memcpy(digits, tmp, len + 1);
                *ret_exp = best_exp;
                return;
        }
        /* 17 digits always round-trip; not reached. */
        abort();
}

int jcs_format_number(double d, char buf[JCS_NUMBER_MAX]) {
        char digits[24];
        int exp, k, n;
        char *o = buf;

        if (!isfinite(d))
                return -EDOM;
        if (d == 0) {
                strcpy(buf, "0");   /* -0 too */
                return 0;
        }
        if (d < 0) {
                *o++ = '-';
                d = -d;
        }
        if (d < 9007199254740992.0 && d == (double) (int64_t) d) {
                /* Below 2^53 an integral double's exact digits are its shortest ones. */
                snprintf(o, JCS_NUMBER_MAX - (o - buf), "%" PRId64, (int64_t) d);
                return 0;
        }

        shortest_digits(d, digits, &exp);
        k = strlen(digits);
        n = exp + 1;    /* the decimal point sits after n digits */

        if (k <= n && n <= 21) {
                o += snprintf(o, JCS_NUMBER_MAX - (o - buf), "%s", digits);
                for (int i = 0; i < n - k; i++)
                        *o++ = '0';
                *o = 0;
        } else if (0 < n && n <= 21) {
                snprintf(o, JCS_NUMBER_MAX - (o - buf), "%.*s.%s", n, digits, digits + n);
        } else if (-6 < n && n <= 0) {
                o += snprintf(o, JCS_NUMBER_MAX - (o - buf), "0.");
                for (int i = 0; i < -n; i++)
                        *o++ = '0';
                snprintf(o, JCS_NUMBER_MAX - (o - buf), "%s", digits);
        } else if (k == 1) {
                snprintf(o, JCS_NUMBER_MAX - (o - buf), "%se%c%d", digits, n - 1 >= 0 ? '+' : '-', abs(n - 1));
        } else {
                snprintf(o, JCS_NUMBER_MAX - (o - buf), "%c.%se%c%d", digits[0], digits + 1, n - 1 >= 0 ? '+' : '-', abs(n - 1));
        }
        return 0;
}

static int serialize_string(const char *s, struct gc_buf *out) {
        size_t n = strlen(s);
        int r;

        if (!utf8_is_valid(s, n))
                return -EINVAL;
        r = gc_buf_append_char(out, '"');
        for (size_t i = 0; r >= 0 && i < n; i++) {
                unsigned char c = s[i];
                switch (c) {
                case '"':  r = gc_buf_append_str(out, "\\\""); break;
                case '\\': r = gc_buf_append_str(out, "\\\\"); break;
                case '\b': r = gc_buf_append_str(out, "\\b"); break;
                case '\f': r = gc_buf_append_str(out, "\\f"); break;
                case '\n': r = gc_buf_append_str(out, "\\n"); break;
                case '\r': r = gc_buf_append_str(out, "\\r"); break;
                case '\t': r = gc_buf_append_str(out, "\\t"); break;
                default:
                        if (c < 0x20)
                                r = gc_buf_printf(out, "\\u%04x", c);
                        else
                                r = gc_buf_append_char(out, (char) c);
                }
        }
        if (r >= 0)
                r = gc_buf_append_char(out, '"');
        return r;
}

static int member_cmp(const void *a, const void *b) {
        const char *ka = (*(const cJSON *const *) a)->string;
        const char *kb = (*(const cJSON *const *) b)->string;
        return utf8_cmp_utf16(ka, strlen(ka), kb, strlen(kb));
}

static int serialize(const cJSON *v, struct gc_buf *out, unsigned depth) {
        int r;

        if (depth > 1000)
                return -EINVAL;

        switch (v->type & 0xff) {
        case cJSON_NULL:
                return gc_buf_append_str(out, "null");
        case cJSON_True:
                return gc_buf_append_str(out, "true");
        case cJSON_False:
                return gc_buf_append_str(out, "false");
        case cJSON_Number: {
                char num[JCS_NUMBER_MAX];
                r = jcs_format_number(v->valuedouble, num);
                if (r < 0)
                        return -EINVAL;
                return gc_buf_append_str(out, num);
        }
        case cJSON_String:
                if (!v->valuestring)
                        return -EINVAL;
                return serialize_string(v->valuestring, out);
        case cJSON_Array:
                r = gc_buf_append_char(out, '[');
                for (const cJSON *c = v->child; r >= 0 && c; c = c->next) {
                        if (c != v->child)
                                r = gc_buf_append_char(out, ',');
                        if (r >= 0)
                                r = serialize(c, out, depth + 1);
                }
                return r < 0 ? r : gc_buf_append_char(out, ']');
        case cJSON_Object: {
                size_t n = 0, i = 0;
                for (const cJSON *c = v->child; c; c = c->next)
                        n++;
                _cleanup_free_ const cJSON **m = xnew(const cJSON *, n);
                for (const cJSON *c = v->child; c; c = c->next) {
                        if (!c->string || !utf8_is_valid(c->string, strlen(c->string)))
                                return -EINVAL;
                        m[i++] = c;
                }
                qsort(m, n, sizeof *m, member_cmp);
                r = gc_buf_append_char(out, '{');
                for (i = 0; r >= 0 && i < n; i++) {
                        if (i > 0) {
                                if (strcmp(m[i - 1]->string, m[i]->string) == 0)
                                        return -EINVAL;     /* duplicate member */
                                r = gc_buf_append_char(out, ',');
                        }
                        if (r >= 0)
                                r = serialize_string(m[i]->string, out);
                        if (r >= 0)
                                r = gc_buf_append_char(out, ':');
                        if (r >= 0)
                                r = serialize(m[i], out, depth + 1);
                }
                return r < 0 ? r : gc_buf_append_char(out, '}');
        }
        default:
                return -EINVAL;     /* cJSON_Raw, cJSON_Invalid */
        }
}

int jcs_serialize(const cJSON *v, struct gc_buf *out) {
        size_t mark = out->len;
        int r = serialize(v, out, 0);
        if (r < 0) {
                out->len = mark;
                if (out->data)
                        out->data[mark] = 0;
        }
        return r;
}

int jcs_canonicalize(const char *text, size_t len, char **ret, size_t *ret_len, struct gc_error *err) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        /* A number can grow: "1e20" is "100000000000000000000". */
        struct gc_buf b = GC_BUF_INIT(len * 6 + 64);
        int r;

        r = json_parse(text, len, &doc, err);
        if (r < 0)
                return r;
        r = jcs_serialize(doc, &b);
        if (r < 0) {
                gc_buf_free(&b);
                gc_error_set(err, "invalid_json", NULL, "$", NULL, "cannot be canonicalized");
                return r;
        }
        *ret = gc_buf_steal(&b, ret_len);
        return 0;
}
