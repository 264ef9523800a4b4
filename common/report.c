/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monthly utilization report (R-RS7) rendered from its model
 * (report.h): CSV for spreadsheets and scripts, HTML for print.
 *
 * The model is checked whole before a byte is written, so that a renderer
 * never shows a member it did not understand: a missing or mistyped member
 * is -EINVAL naming it. Past the check, null is "no data" everywhere: "—"
 * on the page, an empty CSV cell, never 0.
 *
 * Output goes through a sticky error as in sheet-html.c: after the first
 * failed append (-ENOBUFS past the buffer's cap) every further append is a
 * no-op, and the buffer is put back as it was found.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "html.h"
#include "jcs.h"
#include "json.h"
#include "report.h"
#include "utf8.h"

#define DASH "—"
#define NO_DATA "无数据"
#define TITLE "政务云资源月度使用情况表"

/* The dimensions a recommendation may change, in column order. */
static const char *const rec_dims[] = { "vcpus", "memory_gib", "system_disk_gib", "data_disk_gib" };

/* ---- output with a sticky error ---------------------------------------------- */

struct out {
        struct gc_buf *b;
        int r;
};

static void put(struct out *o, const char *s) {
        if (o->r >= 0)
                o->r = gc_buf_append_str(o->b, s);
}

/* Short formatted pieces: markup around a number, SVG coordinates. */
static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...) {
        char s[512];
        va_list ap;

        if (o->r < 0)
                return;
        va_start(ap, fmt);
        int n = vsnprintf(s, sizeof s, fmt, ap);
        va_end(ap);
        assert(n >= 0 && (size_t) n < sizeof s);
        o->r = gc_buf_append(o->b, s, (size_t) n);
}

static void esc(struct out *o, const char *s) {
        if (o->r >= 0)
                o->r = html_escape(o->b, s);
}

/* ---- reading the model ---------------------------------------------------------- */

static const cJSON *member(const cJSON *o, const char *key) {
        return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

/* The member when it is an object (not null), else NULL. */
static const cJSON *object_member(const cJSON *o, const char *key) {
        const cJSON *v = member(o, key);
        return cJSON_IsObject(v) ? v : NULL;
}

static const cJSON *array_member(const cJSON *o, const char *key) {
        const cJSON *v = member(o, key);
        return cJSON_IsArray(v) ? v : NULL;
}

static const char *string_member(const cJSON *o, const char *key) {
        const cJSON *v = member(o, key);
        return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* A number member; false for null, missing or anything else. */
static bool number_member(const cJSON *o, const char *key, double *ret) {
        const cJSON *v = member(o, key);
        if (!cJSON_IsNumber(v))
                return false;
        *ret = v->valuedouble;
        return true;
}

static double number_or(const cJSON *o, const char *key, double def) {
        double d;
        return number_member(o, key, &d) ? d : def;
}

/* ---- checking the model -------------------------------------------------------------- */

enum {
        W_STRING = 1 << 0,      /* a string */
        W_TEXT = 1 << 1,        /* a string, not empty */
        W_NUMBER = 1 << 2,      /* a finite number */
        W_PCT = 1 << 3,         /* a number from 0 to 100 */
        W_COUNT = 1 << 4,       /* a whole number from 0 */
        W_BOOL = 1 << 5,
        W_OBJECT = 1 << 6,
        W_ARRAY = 1 << 7,
        W_NULL = 1 << 8,        /* or null */
        W_ABSENT = 1 << 9,      /* or missing */
};

static const char *wanted(unsigned w) {
        if (w & W_PCT)
                return "a percentage from 0 to 100";
        if (w & W_COUNT)
                return "a whole number from 0";
        if (w & W_NUMBER)
                return "a number";
        if (w & W_TEXT)
                return "a string that is not empty";
        if (w & W_STRING)
                return "a string";
        if (w & W_BOOL)
                return "true or false";
        if (w & W_OBJECT)
                return "an object";
        return "an array";
}

/* A member's path into a buffer of GC_ERROR_FIELD_MAX bytes; a longer one
 * is cut, as gc_error would cut it. */
static void fieldf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fieldf(char *buf, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, GC_ERROR_FIELD_MAX, fmt, ap);
        va_end(ap);
}

/* A refusal of the model: the member's path, its value in brief, why. */
static int model_error(struct gc_error *err, const char *field, const cJSON *v, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int model_error(struct gc_error *err, const char *field, const cJSON *v, const char *fmt, ...) {
        _cleanup_free_ char *brief = !v ? NULL : cJSON_IsString(v) ? xstrdup(v->valuestring) : json_value_brief(v);
        char msg[256];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        gc_error_set(err, "invalid_report", "R-RS7", field, brief, "%s", msg);
        return -EINVAL;
}

static void join_field(char *buf, const char *path, const char *key) {
        fieldf(buf, "%s%s%s", path, *path && key[0] != '[' ? "." : "", key);
}

/* v, the value at field (NULL when missing), against w. */
static int want_value(const cJSON *v, const char *field, unsigned w, struct gc_error *err) {
        bool ok;

        if (!v) {
                if (w & W_ABSENT)
                        return 0;
                gc_error_set(err, "invalid_report", "R-RS7", field, NULL, "is missing (want %s%s)", wanted(w),
                             w & W_NULL ? " or null" : "");
                return -EINVAL;
        }
        if (cJSON_IsNull(v))
                ok = w & W_NULL;
        else if (w & (W_STRING | W_TEXT))
                ok = cJSON_IsString(v) && v->valuestring && (!(w & W_TEXT) || v->valuestring[0]);
        else if (w & (W_NUMBER | W_PCT | W_COUNT))
                ok = cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
                     (!(w & W_PCT) || (v->valuedouble >= 0 && v->valuedouble <= 100)) &&
                     (!(w & W_COUNT) || (v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0 &&
                                         v->valuedouble == floor(v->valuedouble)));
        else if (w & W_BOOL)
                ok = cJSON_IsBool(v);
        else if (w & W_OBJECT)
                ok = cJSON_IsObject(v);
        else
                ok = cJSON_IsArray(v);
        if (ok)
                return 0;
        return model_error(err, field, v, "is not %s%s", wanted(w),
                                w & W_NULL ? " or null" : "");
}

static int want(const cJSON *o, const char *path, const char *key, unsigned w, struct gc_error *err) {
        char field[GC_ERROR_FIELD_MAX];

        join_field(field, path, key);
        return want_value(member(o, key), field, w, err);
}

/* Several members of one object, each with its w; stops at the first bad one. */
struct want_spec {
        const char *key;
        unsigned w;
};

static int want_all(const cJSON *o, const char *path, const struct want_spec *spec, size_t n, struct gc_error *err) {
        for (size_t i = 0; i < n; i++) {
                int r = want(o, path, spec[i].key, spec[i].w, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The members of o's key where it is an object; null or missing is for
 * key's own spec to allow or not. */
static int want_members(const cJSON *o, const char *path, const char *key, const struct want_spec *spec, size_t n,
                        struct gc_error *err) {
        char field[GC_ERROR_FIELD_MAX];

        if (!object_member(o, key))
                return 0;
        join_field(field, path, key);
        return want_all(member(o, key), field, spec, n, err);
}

static int check_band(const cJSON *b, const char *path, struct gc_error *err) {
        static const struct want_spec spec[] = {
                { "from", W_PCT | W_NULL }, { "to", W_PCT | W_NULL },
                { "from_inclusive", W_BOOL }, { "to_inclusive", W_BOOL },
                { "factor", W_NUMBER }, { "rule", W_TEXT },
        };
        double from, to;
        int r;

        r = want_value(b, path, W_OBJECT, err);
        r = r ?: want_all(b, path, spec, ELEMENTSOF(spec), err);
        if (r < 0)
                return r;
        if (number_member(b, "from", &from) && number_member(b, "to", &to) && to < from)
                return model_error(err, path, b, "ends below where it starts");
        if (number_or(b, "factor", 0) <= 0) {
                char field[GC_ERROR_FIELD_MAX];
                join_field(field, path, "factor");
                return model_error(err, field, member(b, "factor"), "is not above 0");
        }
        return 0;
}

static int check_bands(const cJSON *bands, const char *path, struct gc_error *err) {
        static const struct want_spec spec[] = {
                { "regulated", W_BOOL }, { "cpu", W_ARRAY }, { "memory", W_ARRAY },
                { "disk", W_OBJECT | W_NULL }, { "idle", W_OBJECT | W_NULL },
        };
        static const struct want_spec disk_spec[] = {
                { "usage_at_least", W_PCT }, { "factor", W_NUMBER }, { "max_gib", W_COUNT | W_NULL | W_ABSENT },
                { "requires_linear_growth", W_BOOL | W_ABSENT }, { "rule", W_TEXT },
        };
        static const struct want_spec idle_spec[] = {
                { "cpu_below", W_PCT }, { "memory_below", W_PCT }, { "rule", W_TEXT | W_ABSENT },
        };
        char field[GC_ERROR_FIELD_MAX];
        int r;

        r = want_all(bands, path, spec, ELEMENTSOF(spec), err);
        if (r < 0)
                return r;
        for (int k = 0; k < 2; k++) {
                const char *key = k == 0 ? "cpu" : "memory";
                const cJSON *b;
                size_t i = 0;

                cJSON_ArrayForEach(b, member(bands, key)) {
                        fieldf(field, "%s.%s[%zu]", path, key, i++);
                        r = check_band(b, field, err);
                        if (r < 0)
                                return r;
                }
        }
        r = want_members(bands, path, "disk", disk_spec, ELEMENTSOF(disk_spec), err);
        return r ?: want_members(bands, path, "idle", idle_spec, ELEMENTSOF(idle_spec), err);
}

static int check_totals(const cJSON *t, const char *path, bool unit, struct gc_error *err) {
        static const struct want_spec spec[] = {
                { "vms", W_COUNT }, { "vcpus", W_COUNT }, { "memory_gib", W_COUNT }, { "disk_gib", W_COUNT },
                { "idle", W_COUNT }, { "changes", W_COUNT }, { "after", W_OBJECT },
        };
        static const struct want_spec after_spec[] = {
                { "vcpus", W_COUNT }, { "memory_gib", W_COUNT }, { "disk_gib", W_COUNT },
        };
        char field[GC_ERROR_FIELD_MAX];
        int r;

        r = want_value(t, path, W_OBJECT, err);
        r = r ?: want_all(t, path, spec, ELEMENTSOF(spec), err);
        if (r >= 0 && unit)
                r = want(t, path, "systems", W_COUNT, err);
        if (r < 0)
                return r;
        join_field(field, path, "after");
        return want_all(member(t, "after"), field, after_spec, ELEMENTSOF(after_spec), err);
}

/* A series of one value per day of the period, each a percentage or null. */
static int check_series(const cJSON *a, const char *path, int days, struct gc_error *err) {
        char field[GC_ERROR_FIELD_MAX];
        const cJSON *v;
        int r, i = 0;

        r = want_value(a, path, W_ARRAY, err);
        if (r < 0)
                return r;
        if (cJSON_GetArraySize(a) != days) {
                gc_error_set(err, "invalid_report", "R-RS7", path, NULL,
                             "has %d entries, not one per day of the period (%d)", cJSON_GetArraySize(a), days);
                return -EINVAL;
        }
        cJSON_ArrayForEach(v, a) {
                fieldf(field, "%s[%d]", path, i++);
                r = want_value(v, field, W_PCT | W_NULL, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_vm(const cJSON *vm, const char *path, int days, struct gc_error *err) {
        static const struct want_spec spec[] = {
                { "name", W_TEXT }, { "role", W_STRING | W_NULL | W_ABSENT }, { "state", W_STRING | W_NULL | W_ABSENT },
                { "allocation", W_OBJECT }, { "days", W_COUNT },
                { "cpu", W_OBJECT | W_NULL | W_ABSENT }, { "memory", W_OBJECT | W_NULL | W_ABSENT },
                { "disk", W_OBJECT | W_NULL | W_ABSENT }, { "daily", W_OBJECT | W_ABSENT },
                { "recommendation", W_OBJECT | W_NULL | W_ABSENT }, { "idle", W_BOOL }, { "rules", W_ARRAY },
        };
        static const struct want_spec alloc_spec[] = {
                { "vcpus", W_COUNT }, { "memory_gib", W_COUNT },
                { "system_disk_gib", W_COUNT }, { "data_disk_gib", W_COUNT },
        };
        static const struct want_spec stat_spec[] = {
                { "avg", W_PCT | W_NULL }, { "peak", W_PCT | W_NULL }, { "samples", W_COUNT | W_ABSENT },
        };
        static const struct want_spec disk_spec[] = {
                { "usage", W_PCT | W_NULL }, { "used_gib", W_NUMBER | W_NULL | W_ABSENT },
                { "slope", W_NUMBER | W_NULL | W_ABSENT }, { "r2", W_NUMBER | W_NULL | W_ABSENT },
                { "linear", W_BOOL | W_ABSENT }, { "disk", W_TEXT | W_ABSENT },
        };
        static const struct want_spec change_spec[] = {
                { "before", W_COUNT }, { "after", W_COUNT }, { "rule", W_TEXT }, { "reason", W_STRING | W_ABSENT },
        };
        static const struct want_spec skipped_spec[] = {
                { "dimension", W_TEXT }, { "rule", W_TEXT }, { "reason", W_STRING | W_ABSENT },
        };
        char field[GC_ERROR_FIELD_MAX];
        const cJSON *v, *rec = object_member(vm, "recommendation");
        int r;

        r = want_value(vm, path, W_OBJECT, err);
        r = r ?: want_all(vm, path, spec, ELEMENTSOF(spec), err);
        if (r < 0)
                return r;
        join_field(field, path, "allocation");
        r = want_all(member(vm, "allocation"), field, alloc_spec, ELEMENTSOF(alloc_spec), err);
        if (r < 0)
                return r;
        if (number_or(vm, "days", 0) > days) {
                join_field(field, path, "days");
                return model_error(err, field, member(vm, "days"), "is more than the period's %d days", days);
        }
        r = want_members(vm, path, "cpu", stat_spec, ELEMENTSOF(stat_spec), err);
        r = r ?: want_members(vm, path, "memory", stat_spec, ELEMENTSOF(stat_spec), err);
        r = r ?: want_members(vm, path, "disk", disk_spec, ELEMENTSOF(disk_spec), err);
        if (r < 0)
                return r;
        if (object_member(vm, "daily"))
                for (int k = 0; k < 3; k++) {
                        static const char *const keys[] = { "cpu", "memory", "disk" };
                        fieldf(field, "%s.daily.%s", path, keys[k]);
                        r = check_series(member(object_member(vm, "daily"), keys[k]), field, days, err);
                        if (r < 0)
                                return r;
                }
        for (size_t d = 0; d < ELEMENTSOF(rec_dims); d++) {
                fieldf(field, "%s.recommendation", path);
                r = want(rec, field, rec_dims[d], W_OBJECT | W_NULL | W_ABSENT, err);
                if (r < 0)
                        return r;
                fieldf(field, "%s.recommendation.%s", path, rec_dims[d]);
                if (object_member(rec, rec_dims[d]) &&
                    (r = want_all(member(rec, rec_dims[d]), field, change_spec, ELEMENTSOF(change_spec), err)) < 0)
                        return r;
        }
        if (rec) {
                fieldf(field, "%s.recommendation", path);
                r = want(rec, field, "skipped", W_ARRAY | W_ABSENT, err);
                if (r < 0)
                        return r;
                size_t i = 0;
                cJSON_ArrayForEach(v, array_member(rec, "skipped")) {
                        fieldf(field, "%s.recommendation.skipped[%zu]", path, i++);
                        r = want_value(v, field, W_OBJECT, err);
                        r = r ?: want_all(v, field, skipped_spec, ELEMENTSOF(skipped_spec), err);
                        if (r < 0)
                                return r;
                }
        }
        size_t i = 0;
        cJSON_ArrayForEach(v, member(vm, "rules")) {
                fieldf(field, "%s.rules[%zu]", path, i++);
                r = want_value(v, field, W_TEXT, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "YYYY-MM", digits and a month 01..12. */
static bool is_month(const char *s) {
        return s && strlen(s) == 7 && s[4] == '-' && strspn(s, "0123456789") == 4 && strspn(s + 5, "0123456789") == 2 &&
               ((s[5] == '0' && s[6] >= '1') || (s[5] == '1' && s[6] <= '2'));
}

static int check_model(const cJSON *report, struct gc_error *err) {
        static const struct want_spec spec[] = {
                { "schema", W_TEXT }, { "kind", W_STRING | W_ABSENT }, { "unit", W_TEXT }, { "month", W_TEXT },
                { "period", W_OBJECT }, { "due", W_STRING | W_NULL | W_ABSENT }, { "generated", W_STRING | W_ABSENT },
                { "systems", W_ARRAY },
        };
        static const struct want_spec period_spec[] = {
                { "first", W_TEXT }, { "last", W_TEXT }, { "days", W_COUNT }, { "utc_offset", W_STRING | W_ABSENT },
        };
        char field[GC_ERROR_FIELD_MAX];
        const cJSON *s;
        size_t i = 0;
        int r, days;

        if (!cJSON_IsObject(report)) {
                model_error(err, "", report, "is not an object");
                return -EINVAL;
        }
        r = want_all(report, "", spec, ELEMENTSOF(spec), err);
        r = r ?: want_all(member(report, "period"), "period", period_spec, ELEMENTSOF(period_spec), err);
        r = r ?: check_totals(member(report, "totals"), "totals", true, err);
        if (r < 0)
                return r;
        if (strcmp(string_member(report, "schema"), REPORT_SCHEMA) != 0)
                return model_error(err, "schema", member(report, "schema"),
                                        "is not " REPORT_SCHEMA);
        if (!is_month(string_member(report, "month")))
                return model_error(err, "month", member(report, "month"), "is not YYYY-MM");
        days = (int) number_or(member(report, "period"), "days", 0);
        if (days < 1 || days > REPORT_DAYS_MAX)
                return model_error(err, "period.days", member(member(report, "period"), "days"),
                                        "is not from 1 to %d", REPORT_DAYS_MAX);
        cJSON_ArrayForEach(s, member(report, "systems")) {
                static const struct want_spec sys_spec[] = {
                        { "id", W_COUNT | W_ABSENT }, { "name", W_TEXT }, { "pool", W_STRING | W_NULL | W_ABSENT },
                        { "pack", W_STRING | W_NULL | W_ABSENT }, { "state", W_STRING | W_NULL | W_ABSENT },
                        { "bands", W_OBJECT }, { "vms", W_ARRAY },
                };
                char path[GC_ERROR_FIELD_MAX];
                const cJSON *vm;
                size_t j = 0;

                fieldf(path, "systems[%zu]", i++);
                r = want_value(s, path, W_OBJECT, err);
                r = r ?: want_all(s, path, sys_spec, ELEMENTSOF(sys_spec), err);
                if (r >= 0) {
                        join_field(field, path, "bands");
                        r = check_bands(member(s, "bands"), field, err);
                }
                if (r >= 0) {
                        join_field(field, path, "totals");
                        r = check_totals(member(s, "totals"), field, false, err);
                }
                if (r < 0)
                        return r;
                cJSON_ArrayForEach(vm, member(s, "vms")) {
                        fieldf(field, "%s.vms[%zu]", path, j++);
                        r = check_vm(vm, field, days, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- numbers as people read them -------------------------------------------------- */

/* v with a fixed number of decimals (0..2), whatever the locale. */
#define FIXED_MAX 48

static const char *fixed(double v, unsigned decimals, char buf[FIXED_MAX]) {
        static const double scale[] = { 1, 10, 100 };
        assert(decimals < ELEMENTSOF(scale));
        double x = fabs(v) * scale[decimals];
        unsigned long long a = (unsigned long long) llround(x < 9e15 ? x : 9e15);
        const char *sign = v < 0 && a > 0 ? "-" : "";

        if (decimals == 0)
                snprintf(buf, FIXED_MAX, "%s%llu", sign, a);
        else if (decimals == 1)
                snprintf(buf, FIXED_MAX, "%s%llu.%llu", sign, a / 10, a % 10);
        else
                snprintf(buf, FIXED_MAX, "%s%llu.%02llu", sign, a / 100, a % 100);
        return buf;
}

/* A number as the model has it (ECMAScript's rendering: 11.2, 35, 0.61). */
static const char *plain(double v, char buf[JCS_NUMBER_MAX]) {
        if (jcs_format_number(v, buf) < 0)
                snprintf(buf, JCS_NUMBER_MAX, "?");
        return buf;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

/*
 * A byte order mark first. Spreadsheet users at the units open the file in
 * Excel, which reads a CSV without one in the system's ANSI code page (GBK
 * on a Chinese Windows) and garbles every Chinese name; with EF BB BF it
 * reads UTF-8. LibreOffice, Python's csv with encoding="utf-8-sig" and
 * pandas skip it; a script that reads plain UTF-8 sees it in front of the
 * first header, "unit", which report.h documents.
 */
#define CSV_BOM "\xEF\xBB\xBF"

static const char *const csv_columns[] = {
        "unit", "system", "vm", "role", "vcpus", "memory_gib", "system_disk_gib", "data_disk_gib", "days",
        "cpu_avg", "cpu_peak", "memory_avg", "memory_peak", "disk_usage", "disk_used_gib",
        "disk_trend_pp_per_day", "disk_r2", "disk_linear", "recommended_vcpus", "recommended_memory_gib",
        "recommended_disk", "rules", "idle", "reasons",
};

struct csv {
        struct out o;
        size_t col;             /* cells written in the current row */
};

/* One cell: quoted where it holds a comma, a quote or a line break (RFC
 * 4180), quotes doubled; bytes that are not UTF-8 as U+FFFD. A text cell
 * that a spreadsheet would take for a formula (= + - @ first) gets a
 * leading apostrophe, so that a name cannot run as one; the model's names
 * never start so. Numbers (a negative trend) are written as they are. */
static void csv_cell(struct csv *c, const char *s, bool text) {
        size_t n = strlen(s);
        bool quote = strpbrk(s, ",\"\r\n") != NULL;

        if (c->col++ > 0)
                put(&c->o, ",");
        if (quote)
                put(&c->o, "\"");
        if (text && n > 0 && strchr("=+-@\t\r", s[0]))
                put(&c->o, "'");
        for (size_t i = 0; i < n && c->o.r >= 0;) {
                uint32_t cp;
                int l = utf8_decode(s + i, n - i, &cp);

                if (l < 0) {
                        put(&c->o, "\xEF\xBF\xBD");
                        i++;
                        continue;
                }
                if (cp == '"')
                        put(&c->o, "\"\"");
                else
                        c->o.r = gc_buf_append(c->o.b, s + i, (size_t) l);
                i += (size_t) l;
        }
        if (quote)
                put(&c->o, "\"");
}

static void csv_text(struct csv *c, const char *s) {
        csv_cell(c, s, true);
}

static void csv_empty(struct csv *c) {
        csv_cell(c, "", false);
}

/* A number as the model has it; null or missing is an empty cell. */
static void csv_number(struct csv *c, const cJSON *o, const char *key) {
        char num[JCS_NUMBER_MAX];
        double d;

        csv_cell(c, number_member(o, key, &d) ? plain(d, num) : "", false);
}

static void csv_end(struct csv *c) {
        assert(c->o.r < 0 || c->col == ELEMENTSOF(csv_columns));
        put(&c->o, "\r\n");
        c->col = 0;
}

/* The changed disk(s): "data_disk_gib=400". */
/* The texts of one cell: far above any model's, below any page's cap. */
#define CELL_MAX (1024 * 1024)

static char *rec_disk_text(const cJSON *rec) {
        struct gc_buf b = GC_BUF_INIT(CELL_MAX);
        char num[JCS_NUMBER_MAX];

        for (size_t d = 2; d < ELEMENTSOF(rec_dims); d++) {
                const cJSON *ch = object_member(rec, rec_dims[d]);
                if (!ch)
                        continue;
                (void) gc_buf_printf(&b, "%s%s=%s", b.len ? ";" : "", rec_dims[d], plain(number_or(ch, "after", 0), num));
        }
        return gc_buf_steal(&b, NULL);
}

/* "R-RS1: reason | R-RS6 vcpus: reason". */
static char *reasons_text(const cJSON *rec, const char *sep) {
        struct gc_buf b = GC_BUF_INIT(CELL_MAX);
        const cJSON *s;

        for (size_t d = 0; d < ELEMENTSOF(rec_dims); d++) {
                const cJSON *ch = object_member(rec, rec_dims[d]);
                if (!ch)
                        continue;
                (void) gc_buf_printf(&b, "%s%s: %s", b.len ? sep : "", string_member(ch, "rule"),
                                     string_member(ch, "reason") ?: rec_dims[d]);
        }
        cJSON_ArrayForEach(s, array_member(rec, "skipped"))
                (void) gc_buf_printf(&b, "%s%s %s: %s", b.len ? sep : "", string_member(s, "rule"),
                                     string_member(s, "dimension"), string_member(s, "reason") ?: "not applied");
        return gc_buf_steal(&b, NULL);
}

static char *rules_text(const cJSON *rules, const char *sep) {
        struct gc_buf b = GC_BUF_INIT(CELL_MAX);
        const cJSON *r;

        cJSON_ArrayForEach(r, rules)
                (void) gc_buf_printf(&b, "%s%s", b.len ? sep : "", r->valuestring);
        return gc_buf_steal(&b, NULL);
}

static void csv_vm(struct csv *c, const cJSON *report, const cJSON *sys, const cJSON *vm) {
        const cJSON *alloc = member(vm, "allocation"), *cpu = object_member(vm, "cpu");
        const cJSON *mem = object_member(vm, "memory"), *disk = object_member(vm, "disk");
        const cJSON *rec = object_member(vm, "recommendation");
        _cleanup_free_ char *rec_disk = rec_disk_text(rec), *rules = rules_text(member(vm, "rules"), " ");
        _cleanup_free_ char *reasons = reasons_text(rec, " | ");
        const cJSON *linear = member(disk, "linear");

        csv_text(c, string_member(report, "unit"));
        csv_text(c, string_member(sys, "name"));
        csv_text(c, string_member(vm, "name"));
        csv_text(c, string_member(vm, "role") ?: "");
        for (size_t d = 0; d < ELEMENTSOF(rec_dims); d++)
                csv_number(c, alloc, rec_dims[d]);
        csv_number(c, vm, "days");
        csv_number(c, cpu, "avg");
        csv_number(c, cpu, "peak");
        csv_number(c, mem, "avg");
        csv_number(c, mem, "peak");
        csv_number(c, disk, "usage");
        csv_number(c, disk, "used_gib");
        csv_number(c, disk, "slope");
        csv_number(c, disk, "r2");
        csv_text(c, cJSON_IsBool(linear) ? (cJSON_IsTrue(linear) ? "true" : "false") : "");
        csv_number(c, object_member(rec, "vcpus"), "after");
        csv_number(c, object_member(rec, "memory_gib"), "after");
        csv_text(c, rec_disk);
        csv_text(c, rules);
        csv_text(c, cJSON_IsTrue(member(vm, "idle")) ? "true" : "false");
        csv_text(c, reasons);
        csv_end(c);
}

/* A total row: disks summed over vms (NULL: every system's), the rest from totals. */
static void csv_total(struct csv *c, const cJSON *report, const cJSON *sys, const cJSON *totals) {
        const cJSON *after = member(totals, "after"), *s, *vm;
        double disks[2] = { 0, 0 };
        char num[JCS_NUMBER_MAX];

        cJSON_ArrayForEach(s, member(report, "systems")) {
                if (sys && s != sys)
                        continue;
                cJSON_ArrayForEach(vm, member(s, "vms"))
                        for (int d = 0; d < 2; d++)
                                disks[d] += number_or(member(vm, "allocation"), rec_dims[2 + d], 0);
        }
        csv_text(c, string_member(report, "unit"));
        csv_text(c, sys ? string_member(sys, "name") : "");
        csv_empty(c);
        csv_text(c, sys ? "system total" : "unit total");
        csv_number(c, totals, "vcpus");
        csv_number(c, totals, "memory_gib");
        csv_cell(c, plain(disks[0], num), false);
        csv_cell(c, plain(disks[1], num), false);
        for (int i = 0; i < 10; i++)            /* days .. disk_linear */
                csv_empty(c);
        csv_number(c, after, "vcpus");
        csv_number(c, after, "memory_gib");
        _cleanup_free_ char *disk = xasprintf("disk_gib=%s", plain(number_or(after, "disk_gib", 0), num));
        csv_text(c, disk);
        csv_empty(c);
        csv_number(c, totals, "idle");
        struct gc_buf b = GC_BUF_INIT(256);
        if (!sys)
                (void) gc_buf_printf(&b, "systems=%s; ", plain(number_or(totals, "systems", 0), num));
        (void) gc_buf_printf(&b, "vms=%s; ", plain(number_or(totals, "vms", 0), num));
        (void) gc_buf_printf(&b, "changes=%s", plain(number_or(totals, "changes", 0), num));
        _cleanup_free_ char *text = gc_buf_steal(&b, NULL);
        csv_text(c, text);
        csv_end(c);
}

static void restore(struct gc_buf *out, size_t start) {
        out->len = start;
        if (out->data)
                out->data[start] = 0;
}

int report_csv(const cJSON *report, struct gc_buf *out, struct gc_error *err) {
        struct csv c = { .o = { .b = out } };
        size_t start = out->len;
        const cJSON *s, *vm;
        int r;

        r = check_model(report, err);
        if (r < 0)
                return r;

        put(&c.o, CSV_BOM);
        for (size_t i = 0; i < ELEMENTSOF(csv_columns); i++)
                csv_text(&c, csv_columns[i]);
        csv_end(&c);
        cJSON_ArrayForEach(s, member(report, "systems")) {
                cJSON_ArrayForEach(vm, member(s, "vms"))
                        csv_vm(&c, report, s, vm);
                csv_total(&c, report, s, member(s, "totals"));
        }
        csv_total(&c, report, NULL, member(report, "totals"));

        if (c.o.r < 0) {
                restore(out, start);
                gc_error_set(err, "too_large", "R-RS7", "", NULL, "the report is larger than %zu bytes", out->max);
                return c.o.r;
        }
        return 0;
}

/* ---- HTML: the page --------------------------------------------------------------------- */

static const char page_css[] =
        "@page{size:A4 landscape;margin:10mm 10mm 12mm 10mm;"
        "@bottom-center{content:\"第 \" counter(page) \" 页，共 \" counter(pages) \" 页\";"
        "font-family:\"Noto Sans CJK SC\",\"Noto Serif CJK SC\",sans-serif;font-size:7pt}}\n"
        "html{font-family:\"Noto Sans CJK SC\",\"Noto Serif CJK SC\",sans-serif;font-size:9pt;color:#000;"
        "background:#fff;-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
        "body{margin:0}\n"
        "@media screen{body{max-width:277mm;margin:8mm auto;padding:0 5mm}}\n"
        "h1{font-size:16pt;text-align:center;letter-spacing:.06em;margin:0 0 4mm}\n"
        "h1 .rule{font-size:10pt;letter-spacing:0;font-weight:normal}\n"
        "h2{font-size:12pt;margin:0 0 2mm}\n"
        "h3{font-size:10pt;margin:3mm 0 1.5mm;break-after:avoid;page-break-after:avoid}\n"
        "section.system{break-before:page;page-break-before:always}\n"
        "table{border-collapse:collapse;width:100%;margin:0 0 2mm}\n"
        "thead{display:table-header-group}\n"
        "tr{page-break-inside:avoid;break-inside:avoid}\n"
        "th,td{border:1px solid #000;padding:.8mm 1mm;vertical-align:middle;overflow-wrap:anywhere}\n"
        "th{background:#eee;font-weight:bold;text-align:center}\n"
        "th .en{font-weight:normal;font-size:.85em;color:#333}\n"
        "td.n{text-align:right;white-space:nowrap}\n"
        "td.c{text-align:center}\n"
        ".nw{white-space:nowrap}\n"
        "table.vms,table.summary{font-size:7pt}\n"
        "table.vms th{word-break:keep-all;overflow-wrap:normal}\n"
        "table.vms td.name{min-width:24mm}\n"
        "table.vms td.reasons{font-size:6.5pt;width:24%}\n"
        "table.info th{width:12%;text-align:left}\n"
        "table.info td{width:38%}\n"
        "tr.total td{font-weight:bold;background:#f6f6f6}\n"
        "tr.idle td{background:#fff3f3}\n"
        ".flag{display:inline-block;border:1px solid #c00;color:#c00;font-weight:bold;padding:0 .8mm;white-space:nowrap}\n"
        ".nodata{color:#666}\n"
        ".bands{font-size:8pt;margin:0 0 2mm}\n"
        ".bands div{margin:0 0 .6mm}\n"
        ".legend{font-size:8pt;border:1px solid #999;padding:1.5mm 2mm;margin:3mm 0;break-inside:avoid}\n"
        ".legend svg{vertical-align:middle}\n"
        ".legend span.item{display:inline-block;margin:0 4mm .6mm 0}\n"
        ".charts{font-size:0}\n"
        ".vmchart{display:inline-block;vertical-align:top;width:49%;box-sizing:border-box;margin:0 2% 2mm 0;"
        "border:1px solid #bbb;padding:1mm 1.5mm;font-size:7.5pt;break-inside:avoid;page-break-inside:avoid}\n"
        ".vmchart:nth-child(2n){margin-right:0}\n"
        ".vmchart.idle{border:1.5px solid #c00}\n"
        ".vmchart h4{font-size:8pt;margin:0 0 .8mm}\n"
        ".vmchart svg{display:block;width:100%;height:auto}\n"
        ".vmchart .key{font-size:6.5pt;color:#333;margin:.5mm 0 0}\n"
        "svg text{font-family:\"Noto Sans CJK SC\",\"Noto Serif CJK SC\",sans-serif}\n"
        ".note{font-size:7.5pt;color:#333;margin-top:3mm}\n";

/* Band and line colours: reductions blue (a deeper cut darker), increases
 * orange (a larger growth darker), the disk band brown; CPU, memory, disk
 * series dark blue, green, brown; thresholds red. */
#define C_CUT_DEEP "#b7d0ee"
#define C_CUT "#dde9f8"
#define C_GROW "#fbe2c9"
#define C_GROW_DEEP "#f4c394"
#define C_DISK_BAND "#e8d9cf"
#define C_CPU "#1f4e79"
#define C_CPU_PEAK "#8db3dc"
#define C_MEM "#2e7d32"
#define C_MEM_PEAK "#9ccc9f"
#define C_DISK "#6d4c41"
#define C_DISK_LIGHT "#b89b8f"
#define C_IDLE "#c00000"

static const char *band_fill(double factor) {
        if (factor < 1)
                return factor <= 0.25 ? C_CUT_DEEP : C_CUT;
        return factor >= 3 ? C_GROW_DEEP : C_GROW;
}

static void html_number(struct out *o, const cJSON *obj, const char *key) {
        char num[JCS_NUMBER_MAX];
        double d;

        put(o, number_member(obj, key, &d) ? plain(d, num) : DASH);
}

/* A percentage with two decimals, or "—" for no data. */
static void html_pct(struct out *o, const cJSON *obj, const char *key) {
        char num[FIXED_MAX];
        double d;

        if (number_member(obj, key, &d))
                put(o, fixed(d, 2, num));
        else
                put(o, "<span class=\"nodata\">" DASH "</span>");
}

static void cell_open(struct out *o, const char *cls) {
        putf(o, "<td class=\"%s\">", cls);
}

/* "[15%, 30%]", "<15%", "≥70%": a band's interval as the seeds write it. */
static void band_interval(struct out *o, const cJSON *b) {
        char f[JCS_NUMBER_MAX], t[JCS_NUMBER_MAX];
        double from = 0, to = 100;
        bool has_from = number_member(b, "from", &from) && from > 0, has_to = number_member(b, "to", &to);
        bool fi = cJSON_IsTrue(member(b, "from_inclusive")), ti = cJSON_IsTrue(member(b, "to_inclusive"));

        if (has_from && has_to)
                putf(o, "%s%s%%, %s%%%s", fi ? "[" : "(", plain(from, f), plain(to, t), ti ? "]" : ")");
        else if (has_to)
                putf(o, "%s%s%%", ti ? "≤" : "&lt;", plain(to, t));
        else if (has_from)
                putf(o, "%s%s%%", fi ? "≥" : "&gt;", plain(from, f));
        else
                put(o, "0%–100%");
}

/* "R-RS1 ×0.5" */
static void band_label(struct out *o, const cJSON *b) {
        char num[JCS_NUMBER_MAX];

        esc(o, string_member(b, "rule"));
        putf(o, " ×%s", plain(number_or(b, "factor", 0), num));
}

/* The pack's bands of one system, in words. */
static void bands_block(struct out *o, const cJSON *sys) {
        const cJSON *bands = member(sys, "bands"), *disk = object_member(bands, "disk"), *idle = object_member(bands, "idle");
        char a[JCS_NUMBER_MAX], b[JCS_NUMBER_MAX];

        put(o, "<div class=\"bands\">\n");
        if (!cJSON_IsTrue(member(bands, "regulated"))) {
                put(o, "<div>本系统所在资源池的政策包");
                if (string_member(sys, "pack")) {
                        put(o, "（");
                        esc(o, string_member(sys, "pack"));
                        put(o, "）");
                }
                put(o, "未规定使用率调整档位：不作调整建议，仅报告使用情况（R-RS7）。</div>\n");
        }
        for (int k = 0; k < 2; k++) {
                const cJSON *list = member(bands, k == 0 ? "cpu" : "memory"), *band;
                if (!cJSON_GetArraySize(list))
                        continue;
                put(o, k == 0 ? "<div>CPU 档位：" : "<div>内存档位：");
                cJSON_ArrayForEach(band, list) {
                        if (band != list->child)
                                put(o, "；");
                        band_interval(o, band);
                        put(o, " → ×");
                        put(o, plain(number_or(band, "factor", 0), a));
                        put(o, "（");
                        esc(o, string_member(band, "rule"));
                        put(o, "）");
                }
                put(o, "</div>\n");
        }
        if (disk) {
                /* R-RS5 */
                putf(o, "<div>磁盘：使用率 ≥%s%%%s → ×%s", plain(number_or(disk, "usage_at_least", 0), a),
                     cJSON_IsFalse(member(disk, "requires_linear_growth")) ? "" : " 且线性增长",
                     plain(number_or(disk, "factor", 0), b));
                double max;
                if (number_member(disk, "max_gib", &max))
                        putf(o, "，最高 %s GiB", plain(max, a));
                put(o, "（");
                esc(o, string_member(disk, "rule"));
                put(o, "）</div>\n");
        }
        if (idle) {
                /* R-RS7 */
                putf(o, "<div>闲置：CPU 月均 &lt;%s%% 且内存月均 &lt;%s%%（", plain(number_or(idle, "cpu_below", 0), a),
                     plain(number_or(idle, "memory_below", 0), b));
                esc(o, string_member(idle, "rule") ?: "R-RS7");
                put(o, "）</div>\n");
        }
        put(o, "</div>\n");
}

/* ---- HTML: the charts ------------------------------------------------------------------- */

/* The bars' and the daily lines' common x axis: 0..100 % (or the period's days) over [X0, X1]. */
#define SVG_W 560
#define X0 74.0
#define X1 494.0
#define XV 500.0                /* the values' column */

static double xpct(double p) {
        if (p < 0)
                p = 0;
        if (p > 100)
                p = 100;
        return X0 + (X1 - X0) * p / 100.0;
}

struct bar_row {
        const char *label;
        const cJSON *stat;      /* the object holding key, NULL: no data */
        const char *key;
        const char *fill;
};

/* A group of bars: a strip for the bands' labels, then a row per bar. */
#define BAR_STRIP 9.0
#define BAR_ROW 12.0
#define BAR_GAP 2.0
#define BAR_GROUP_GAP 4.0

static double bar_group_height(size_t n) {
        return BAR_STRIP + (double) n * (BAR_ROW + BAR_GAP) + BAR_GROUP_GAP;
}

/* One group of bars (CPU, memory or disk) from y, over its bands; returns the y below it. */
static double bar_group(struct out *o, double y, const cJSON *bands, double threshold, bool has_threshold,
                        const struct bar_row *rows, size_t n) {
        const double strip = BAR_STRIP, row_h = BAR_ROW, gap = BAR_GAP;
        double top = y, bottom = y + bar_group_height(n) - BAR_GROUP_GAP;
        char a[FIXED_MAX], b[FIXED_MAX], c[FIXED_MAX], d[FIXED_MAX];
        const cJSON *band;

        /* The bands behind, each labelled with its rule and factor. */
        cJSON_ArrayForEach(band, bands) {
                double from = number_or(band, "from", 0), to = number_or(band, "to", 100);
                double x = xpct(from), w = xpct(to) - x;
                if (w <= 0)
                        continue;
                putf(o, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"/>\n", fixed(x, 1, a),
                     fixed(top, 1, b), fixed(w, 1, c), fixed(bottom - top, 1, d),
                     band_fill(number_or(band, "factor", 1)));
                putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"%s\" text-anchor=\"middle\" fill=\"#333\">",
                     fixed(x + w / 2, 1, a), fixed(top + 7, 1, b), w < 44 ? "5" : "7");
                band_label(o, band);
                put(o, "</text>\n");
        }
        y = top + strip;
        for (size_t i = 0; i < n; i++) {
                double v;
                bool has = number_member(rows[i].stat, rows[i].key, &v);

                putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"8\" text-anchor=\"end\">%s</text>\n", fixed(X0 - 4, 1, a),
                     fixed(y + 9, 1, b), rows[i].label);
                if (has) {
                        putf(o, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"/>\n", fixed(X0, 1, a),
                             fixed(y + 1, 1, b), fixed(xpct(v) - X0, 1, c), fixed(row_h - 2, 1, d), rows[i].fill);
                        putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"8\">%s%%</text>\n", fixed(XV, 1, a),
                             fixed(y + 9, 1, b), fixed(v, 2, c));
                } else {
                        putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"7.5\" fill=\"#666\">" NO_DATA "</text>\n",
                             fixed(X0 + 3, 1, a), fixed(y + 9, 1, b));
                        putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"8\" fill=\"#666\">" DASH "</text>\n",
                             fixed(XV, 1, a), fixed(y + 9, 1, b));
                }
                y += row_h + gap;
        }
        if (has_threshold)
                /* R-RS7: the idle threshold over this group's bars */
                putf(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"" C_IDLE "\" stroke-width=\"1.2\" "
                     "stroke-dasharray=\"3 2\"/>\n", fixed(xpct(threshold), 1, a), fixed(top + strip, 1, b),
                     fixed(xpct(threshold), 1, c), fixed(bottom, 1, d));
        return bottom + BAR_GROUP_GAP;
}

/* The 0..100 % axis with its grid, from y_top to y_axis. */
static void pct_axis(struct out *o, double y_top, double y_axis) {
        char a[FIXED_MAX], b[FIXED_MAX], c[FIXED_MAX], d[FIXED_MAX];

        for (int p = 0; p <= 100; p += 10) {
                double x = xpct(p);
                putf(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"0.5\"/>\n",
                     fixed(x, 1, a), fixed(y_top, 1, b), fixed(x, 1, c), fixed(y_axis + (p % 20 ? 1.5 : 3), 1, d),
                     p % 50 ? "#ccc" : "#999");
                if (p % 20 == 0)
                        putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"7\" text-anchor=\"middle\">%d%s</text>\n",
                             fixed(x, 1, a), fixed(y_axis + 10, 1, b), p, p == 100 ? "%" : "");
        }
        putf(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#000\" stroke-width=\"0.8\"/>\n",
             fixed(X0, 1, a), fixed(y_axis, 1, b), fixed(X1, 1, c), fixed(y_axis, 1, b));
}

static void bars_chart(struct out *o, const cJSON *vm, const cJSON *bands) {
        const cJSON *cpu = object_member(vm, "cpu"), *mem = object_member(vm, "memory"), *disk = object_member(vm, "disk");
        const cJSON *idle = object_member(bands, "idle"), *disk_band = object_member(bands, "disk");
        bool regulated = cJSON_IsTrue(member(bands, "regulated"));
        const struct bar_row cpu_rows[] = {
                { "CPU 平均", cpu, "avg", C_CPU }, { "CPU 峰值", cpu, "peak", C_CPU_PEAK },
        };
        const struct bar_row mem_rows[] = {
                { "内存 平均", mem, "avg", C_MEM }, { "内存 峰值", mem, "peak", C_MEM_PEAK },
        };
        const struct bar_row disk_rows[] = {
                { "磁盘 使用率", disk, "usage", C_DISK },
        };
        _cleanup_(cJSON_Deletep) cJSON *disk_bands = cJSON_CreateArray();
        double y = 2, h;
        char hb[FIXED_MAX];

        /* R-RS5: the disk's band, from its threshold up */
        if (regulated && disk_band) {
                cJSON *b = cJSON_CreateObject();
                cJSON_AddNumberToObject(b, "from", number_or(disk_band, "usage_at_least", 80));
                cJSON_AddNumberToObject(b, "factor", number_or(disk_band, "factor", 2));
                cJSON_AddStringToObject(b, "rule", string_member(disk_band, "rule"));
                cJSON_AddItemToArray(disk_bands, b);
        }
        h = y + bar_group_height(ELEMENTSOF(cpu_rows)) + bar_group_height(ELEMENTSOF(mem_rows)) +
            bar_group_height(ELEMENTSOF(disk_rows)) + 14;
        putf(o, "<svg viewBox=\"0 0 %d %s\" role=\"img\">\n", SVG_W, fixed(h, 0, hb));
        y = bar_group(o, y, regulated ? member(bands, "cpu") : NULL, number_or(idle, "cpu_below", 0), regulated && idle,
                      cpu_rows, ELEMENTSOF(cpu_rows));
        y = bar_group(o, y, regulated ? member(bands, "memory") : NULL, number_or(idle, "memory_below", 0),
                      regulated && idle, mem_rows, ELEMENTSOF(mem_rows));
        y = bar_group(o, y, disk_bands, 0, false, disk_rows, ELEMENTSOF(disk_rows));
        pct_axis(o, 2, y);
        put(o, "</svg>\n");
}

/* One day's x in the daily chart. */
static double xday(int i, int days) {
        return X0 + (X1 - X0) * (i + 0.5) / days;
}

#define DAILY_H 56.0
#define DAILY_TOP 4.0

static double yday(double p) {
        if (p < 0)
                p = 0;
        if (p > 100)
                p = 100;
        return DAILY_TOP + DAILY_H * (1 - p / 100.0);
}

/* A series as a path broken at the gaps; a day alone between gaps as a dot. */
static bool daily_series(struct out *o, const cJSON *series, int days, const char *colour) {
        char a[FIXED_MAX], b[FIXED_MAX];
        bool any = false, open = false;
        const cJSON *v = cJSON_IsArray(series) ? series->child : NULL;

        put(o, "<path fill=\"none\" stroke-width=\"1.1\" stroke-linejoin=\"round\" stroke=\"");
        put(o, colour);
        put(o, "\" d=\"");
        for (int i = 0; i < days && v; i++, v = v->next) {
                if (!cJSON_IsNumber(v)) {
                        open = false;
                        continue;
                }
                putf(o, "%s%s %s ", open ? "L" : "M", fixed(xday(i, days), 1, a), fixed(yday(v->valuedouble), 1, b));
                open = any = true;
        }
        put(o, "\"/>\n");
        /* single days (no neighbour with data) as dots, so that they show */
        v = cJSON_IsArray(series) ? series->child : NULL;
        for (int i = 0; i < days && v; i++, v = v->next) {
                bool prev = v->prev && v != series->child && cJSON_IsNumber(v->prev);
                bool next = v->next && cJSON_IsNumber(v->next);
                if (cJSON_IsNumber(v) && !prev && !next)
                        putf(o, "<circle cx=\"%s\" cy=\"%s\" r=\"1.3\" fill=\"%s\"/>\n", fixed(xday(i, days), 1, a),
                             fixed(yday(v->valuedouble), 1, b), colour);
        }
        return any;
}

static void hline(struct out *o, double p, const char *colour, const char *dash) {
        char a[FIXED_MAX], b[FIXED_MAX], c[FIXED_MAX];

        putf(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"0.9\" stroke-dasharray=\"%s\"/>\n",
             fixed(X0, 1, a), fixed(yday(p), 1, b), fixed(X1, 1, c), fixed(yday(p), 1, b), colour, dash);
}

/* "10-01" of "2026-10-01" */
static const char *month_day(const char *date) {
        return date && strlen(date) == 10 ? date + 5 : date ?: "";
}

static void daily_chart(struct out *o, const cJSON *report, const cJSON *vm, const cJSON *bands, int days) {
        const cJSON *daily = object_member(vm, "daily"), *period = member(report, "period");
        const cJSON *idle = object_member(bands, "idle"), *disk_band = object_member(bands, "disk");
        bool regulated = cJSON_IsTrue(member(bands, "regulated")), any = false;
        double y_axis = DAILY_TOP + DAILY_H;
        char a[FIXED_MAX], b[FIXED_MAX], c[FIXED_MAX];

        putf(o, "<svg viewBox=\"0 0 %d %s\" role=\"img\">\n", SVG_W,
             fixed(y_axis + 12, 0, a));
        for (int p = 0; p <= 100; p += 50) {
                putf(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"0.5\"/>\n",
                     fixed(X0, 1, a), fixed(yday(p), 1, b), fixed(X1, 1, c), fixed(yday(p), 1, b), p ? "#ccc" : "#000");
                putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"7\" text-anchor=\"end\">%d%%</text>\n", fixed(X0 - 3, 1, a),
                     fixed(yday(p) + 2.5, 1, b), p);
        }
        putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"8\" text-anchor=\"end\">逐日</text>\n", fixed(X0 - 24, 1, a),
             fixed(DAILY_TOP + DAILY_H / 2 + 3, 1, b));
        if (regulated && idle) {
                /* R-RS7 */
                hline(o, number_or(idle, "cpu_below", 0), C_IDLE, "3 2");
                hline(o, number_or(idle, "memory_below", 0), C_IDLE, "1 1.5");
        }
        if (regulated && disk_band)
                /* R-RS5 */
                hline(o, number_or(disk_band, "usage_at_least", 80), C_DISK, "5 2");
        any |= daily_series(o, member(daily, "disk"), days, C_DISK_LIGHT);
        any |= daily_series(o, member(daily, "memory"), days, C_MEM);
        any |= daily_series(o, member(daily, "cpu"), days, C_CPU);
        if (!any)
                putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"8\" fill=\"#666\" text-anchor=\"middle\">" NO_DATA
                     "（本月无采样）</text>\n", fixed((X0 + X1) / 2, 1, a), fixed(DAILY_TOP + DAILY_H / 2, 1, b));
        putf(o, "<text x=\"%s\" y=\"%s\" font-size=\"7\">", fixed(X0, 1, a), fixed(y_axis + 9, 1, b));
        esc(o, month_day(string_member(period, "first")));
        putf(o, "</text>\n<text x=\"%s\" y=\"%s\" font-size=\"7\" text-anchor=\"end\">", fixed(X1, 1, a),
             fixed(y_axis + 9, 1, b));
        esc(o, month_day(string_member(period, "last")));
        put(o, "</text>\n</svg>\n");
}

static void vm_chart(struct out *o, const cJSON *report, const cJSON *sys, const cJSON *vm, int days) {
        const cJSON *bands = member(sys, "bands"), *idle = object_member(bands, "idle");
        const cJSON *disk_band = object_member(bands, "disk");
        bool regulated = cJSON_IsTrue(member(bands, "regulated"));
        bool is_idle = cJSON_IsTrue(member(vm, "idle"));
        char a[JCS_NUMBER_MAX], b[JCS_NUMBER_MAX];

        put(o, is_idle ? "<div class=\"vmchart idle\">\n<h4>" : "<div class=\"vmchart\">\n<h4>");
        esc(o, string_member(vm, "name"));
        if (is_idle)
                put(o, " <span class=\"flag\">闲置 R-RS7</span>");     /* R-RS7 */
        put(o, "</h4>\n");
        bars_chart(o, vm, bands);
        daily_chart(o, report, vm, bands, days);
        put(o, "<p class=\"key\"><span style=\"color:" C_CPU "\">━ CPU</span>　<span style=\"color:" C_MEM
               "\">━ 内存</span>　<span style=\"color:" C_DISK_LIGHT "\">━ 磁盘</span>");
        if (regulated && idle)
                putf(o, "　<span style=\"color:" C_IDLE "\">┅ 闲置阈值 CPU %s%%，┈ 内存 %s%%</span>",
                     plain(number_or(idle, "cpu_below", 0), a), plain(number_or(idle, "memory_below", 0), b));
        if (regulated && disk_band) {
                putf(o, "　<span style=\"color:" C_DISK "\">╍ 磁盘 %s%%（", plain(number_or(disk_band, "usage_at_least", 80), a));
                esc(o, string_member(disk_band, "rule"));
                put(o, "）</span>");
        }
        put(o, "</p>\n</div>");
}

/* ---- HTML: tables ------------------------------------------------------------------------- */

/* "8 → 2", or "—" where nothing changes. */
static void rec_cell(struct out *o, const cJSON *rec, const char *key, const char *label) {
        const cJSON *ch = object_member(rec, key);
        char a[JCS_NUMBER_MAX], b[JCS_NUMBER_MAX];

        if (!ch) {
                put(o, DASH);
                return;
        }
        if (label)
                put(o, label);
        putf(o, "%s → %s", plain(number_or(ch, "before", 0), a), plain(number_or(ch, "after", 0), b));
}

static void vms_thead(struct out *o) {
        put(o, "<thead>\n<tr>"
               "<th rowspan=\"2\">序号<br><span class=\"en\">No.</span></th>"
               "<th rowspan=\"2\">主机名称<br><span class=\"en\">vm</span></th>"
               "<th rowspan=\"2\">角色<br><span class=\"en\">role</span></th>"
               "<th colspan=\"4\">配置 <span class=\"en\">allocation</span></th>"
               "<th rowspan=\"2\">天数<br><span class=\"en\">days</span></th>"
               "<th colspan=\"2\">CPU 使用率 (%)<br><span class=\"en\">cpu</span></th>"
               "<th colspan=\"2\">内存使用率 (%)<br><span class=\"en\">memory</span></th>"
               "<th colspan=\"5\">磁盘 <span class=\"en\">disk</span></th>"
               "<th colspan=\"3\">调整建议 <span class=\"en\">recommended</span></th>"
               "<th rowspan=\"2\">依据<br><span class=\"en\">rules</span></th>"
               "<th rowspan=\"2\">闲置<br><span class=\"en\">idle</span></th>"
               "<th rowspan=\"2\">说明<br><span class=\"en\">reasons</span></th></tr>\n<tr>"
               "<th>CPU (核)<br><span class=\"en\">vcpus</span></th>"
               "<th>内存 (GiB)<br><span class=\"en\">memory_<wbr>gib</span></th>"
               "<th>系统盘 (GiB)<br><span class=\"en\">system_<wbr>disk_<wbr>gib</span></th>"
               "<th>数据盘 (GiB)<br><span class=\"en\">data_<wbr>disk_<wbr>gib</span></th>"
               "<th>平均<br><span class=\"en\">avg</span></th><th>峰值<br><span class=\"en\">peak</span></th>"
               "<th>平均<br><span class=\"en\">avg</span></th><th>峰值<br><span class=\"en\">peak</span></th>"
               "<th>使用率 (%)<br><span class=\"en\">usage</span></th>"
               "<th>已用 (GiB)<br><span class=\"en\">used_<wbr>gib</span></th>"
               "<th>趋势 (百分点/日)<br><span class=\"en\">trend pp/day</span></th>"
               "<th>R²<br><span class=\"en\">r2</span></th>"
               "<th>线性<br><span class=\"en\">linear</span></th>"
               "<th>CPU (核)<br><span class=\"en\">vcpus</span></th>"
               "<th>内存 (GiB)<br><span class=\"en\">memory_<wbr>gib</span></th>"
               "<th>磁盘 (GiB)<br><span class=\"en\">disk</span></th></tr>\n</thead>\n");
}

static void vm_row(struct out *o, size_t no, const cJSON *vm, bool idle_defined) {
        const cJSON *alloc = member(vm, "allocation"), *cpu = object_member(vm, "cpu");
        const cJSON *mem = object_member(vm, "memory"), *disk = object_member(vm, "disk");
        const cJSON *rec = object_member(vm, "recommendation"), *s;
        bool is_idle = cJSON_IsTrue(member(vm, "idle"));
        char num[FIXED_MAX];
        double d;

        putf(o, "<tr class=\"vm%s\"><td class=\"c\">%zu</td><td class=\"name\">", is_idle ? " idle" : "", no);
        esc(o, string_member(vm, "name"));
        put(o, "</td><td>");
        if (string_member(vm, "role") && string_member(vm, "role")[0])
                esc(o, string_member(vm, "role"));
        else
                put(o, DASH);
        put(o, "</td>");
        for (size_t k = 0; k < ELEMENTSOF(rec_dims); k++) {
                cell_open(o, "n");
                html_number(o, alloc, rec_dims[k]);
                put(o, "</td>");
        }
        cell_open(o, "n");
        html_number(o, vm, "days");
        put(o, "</td>");
        const struct {
                const cJSON *obj;
                const char *key;
        } pcts[] = { { cpu, "avg" }, { cpu, "peak" }, { mem, "avg" }, { mem, "peak" }, { disk, "usage" } };
        for (size_t k = 0; k < ELEMENTSOF(pcts); k++) {
                cell_open(o, "n");
                html_pct(o, pcts[k].obj, pcts[k].key);
                put(o, "</td>");
        }
        cell_open(o, "n");
        put(o, number_member(disk, "used_gib", &d) ? fixed(d, 1, num) : DASH);
        put(o, "</td>");
        cell_open(o, "n");
        if (number_member(disk, "slope", &d))
                putf(o, "%s%s", d > 0 ? "+" : "", fixed(d, 2, num));
        else
                put(o, DASH);
        put(o, "</td>");
        cell_open(o, "n");
        put(o, number_member(disk, "r2", &d) ? fixed(d, 2, num) : DASH);
        put(o, "</td>");
        cell_open(o, "c");
        put(o, !cJSON_IsBool(member(disk, "linear")) ? DASH : cJSON_IsTrue(member(disk, "linear")) ? "是" : "否");
        put(o, "</td>");
        cell_open(o, "c nw");
        rec_cell(o, rec, "vcpus", NULL);
        put(o, "</td>");
        cell_open(o, "c nw");
        rec_cell(o, rec, "memory_gib", NULL);
        put(o, "</td>");
        cell_open(o, "c nw");
        if (object_member(rec, "system_disk_gib") || object_member(rec, "data_disk_gib")) {
                if (object_member(rec, "system_disk_gib"))
                        rec_cell(o, rec, "system_disk_gib", "系统盘 ");
                if (object_member(rec, "system_disk_gib") && object_member(rec, "data_disk_gib"))
                        put(o, "<br>");
                if (object_member(rec, "data_disk_gib"))
                        rec_cell(o, rec, "data_disk_gib", "数据盘 ");
        } else
                put(o, DASH);
        put(o, "</td><td class=\"c nw\">");
        cJSON_ArrayForEach(s, member(vm, "rules")) {
                if (s != member(vm, "rules")->child)
                        put(o, "<br>");
                esc(o, s->valuestring);
        }
        if (!cJSON_GetArraySize(member(vm, "rules")))
                put(o, DASH);
        put(o, "</td><td class=\"c\">");
        /* R-RS7: idle is CPU and memory below the pack's thresholds; without
         * thresholds or without figures there is nothing to say */
        if (is_idle)
                put(o, "<span class=\"flag\">闲置</span>");
        else if (!idle_defined || (!cpu && !mem))
                put(o, DASH);
        else
                put(o, "否");
        put(o, "</td><td class=\"reasons\">");
        bool any = false;
        for (size_t k = 0; k < ELEMENTSOF(rec_dims); k++) {
                const cJSON *ch = object_member(rec, rec_dims[k]);
                if (!ch)
                        continue;
                if (any)
                        put(o, "<br>");
                any = true;
                esc(o, string_member(ch, "rule"));
                put(o, "：");
                esc(o, string_member(ch, "reason") ?: rec_dims[k]);
        }
        cJSON_ArrayForEach(s, array_member(rec, "skipped")) {
                if (any)
                        put(o, "<br>");
                any = true;
                esc(o, string_member(s, "rule"));
                put(o, "（");
                esc(o, string_member(s, "dimension"));
                put(o, "，未调整）：");
                esc(o, string_member(s, "reason") ?: "");
        }
        if (!cpu && !mem && !disk) {
                if (any)
                        put(o, "<br>");
                any = true;
                put(o, NO_DATA "：本月无采样，不作调整建议");
        }
        if (!any)
                put(o, DASH);
        put(o, "</td></tr>\n");
}

/* A totals row of the VM table. */
static void vms_total_row(struct out *o, const cJSON *t) {
        const cJSON *after = member(t, "after");
        char a[JCS_NUMBER_MAX], b[JCS_NUMBER_MAX];

        put(o, "<tr class=\"total\"><td colspan=\"3\" class=\"c\">合计（");
        html_number(o, t, "vms");
        put(o, " 台）</td>");
        cell_open(o, "n");
        html_number(o, t, "vcpus");
        put(o, "</td>");
        cell_open(o, "n");
        html_number(o, t, "memory_gib");
        put(o, "</td><td colspan=\"2\" class=\"c\">磁盘 ");
        html_number(o, t, "disk_gib");
        put(o, "</td><td colspan=\"10\"></td>");
        putf(o, "<td class=\"c nw\">%s → %s</td>", plain(number_or(t, "vcpus", 0), a), plain(number_or(after, "vcpus", 0), b));
        putf(o, "<td class=\"c nw\">%s → %s</td>", plain(number_or(t, "memory_gib", 0), a),
             plain(number_or(after, "memory_gib", 0), b));
        putf(o, "<td class=\"c nw\">%s → %s</td><td></td>", plain(number_or(t, "disk_gib", 0), a),
             plain(number_or(after, "disk_gib", 0), b));
        putf(o, "<td class=\"c nw\">%s 台</td>", plain(number_or(t, "idle", 0), a));
        putf(o, "<td>调整建议 %s 项</td></tr>\n", plain(number_or(t, "changes", 0), a));
}

/* 1 -> 一 ... 99 -> 九十九; larger as digits. */
static void cn_number(struct out *o, size_t n) {
        static const char *const d[] = { "", "一", "二", "三", "四", "五", "六", "七", "八", "九" };

        if (n == 0 || n > 99)
                putf(o, "%zu", n);
        else if (n < 10)
                put(o, d[n]);
        else {
                put(o, n >= 20 ? d[n / 10] : "");
                put(o, "十");
                put(o, d[n % 10]);
        }
}

static void system_section(struct out *o, const cJSON *report, const cJSON *sys, size_t no, int days) {
        const cJSON *vms = member(sys, "vms"), *vm;
        size_t i = 0;

        put(o, "<section class=\"system\">\n<h2>");
        cn_number(o, no);
        put(o, "、");
        esc(o, string_member(sys, "name"));
        put(o, "</h2>\n<table class=\"info\">\n<tr><th>系统名称</th><td>");
        esc(o, string_member(sys, "name"));
        put(o, "</td><th>系统编号</th><td>");
        html_number(o, sys, "id");
        put(o, "</td></tr>\n<tr><th>资源池</th><td>");
        esc(o, string_member(sys, "pool") ?: DASH);
        put(o, "</td><th>政策包</th><td>");
        esc(o, string_member(sys, "pack") ?: DASH);
        put(o, "</td></tr>\n</table>\n");
        bands_block(o, sys);

        put(o, "<table class=\"vms\">\n");
        vms_thead(o);
        put(o, "<tbody>\n");
        cJSON_ArrayForEach(vm, vms)
                vm_row(o, ++i, vm, object_member(member(sys, "bands"), "idle") != NULL);
        if (i == 0)
                put(o, "<tr><td colspan=\"23\" class=\"c\">（无）</td></tr>\n");
        vms_total_row(o, member(sys, "totals"));
        put(o, "</tbody>\n</table>\n");

        if (i > 0) {
                put(o, "<h3>各虚拟机使用情况</h3>\n<div class=\"charts\">");
                cJSON_ArrayForEach(vm, vms)
                        vm_chart(o, report, sys, vm, days);
                put(o, "</div>\n");
        }
        put(o, "</section>\n");
}

static void summary_row(struct out *o, const cJSON *t) {
        const cJSON *after = member(t, "after");
        char a[JCS_NUMBER_MAX], b[JCS_NUMBER_MAX];

        for (int k = 0; k < 3; k++) {
                static const char *const keys[] = { "vcpus", "memory_gib", "disk_gib" };
                putf(o, "<td class=\"n\">%s</td>", plain(number_or(t, keys[k], 0), a));
        }
        putf(o, "<td class=\"n\">%s</td><td class=\"n\">%s</td>", plain(number_or(t, "idle", 0), a),
             plain(number_or(t, "changes", 0), b));
        for (int k = 0; k < 3; k++) {
                static const char *const keys[] = { "vcpus", "memory_gib", "disk_gib" };
                putf(o, "<td class=\"n\">%s</td>", plain(number_or(after, keys[k], 0), a));
        }
        put(o, "</tr>\n");
}

/* The unit's totals, a row per system. */
static void summary_table(struct out *o, const cJSON *report) {
        const cJSON *s, *t = member(report, "totals");
        char a[JCS_NUMBER_MAX];
        size_t i = 0;

        put(o, "<h3>汇总 <span class=\"en\">summary</span></h3>\n<table class=\"summary\">\n<thead><tr>"
               "<th rowspan=\"2\">序号</th><th rowspan=\"2\">系统名称<br><span class=\"en\">system</span></th>"
               "<th rowspan=\"2\">资源池<br><span class=\"en\">pool</span></th>"
               "<th rowspan=\"2\">虚拟机 (台)<br><span class=\"en\">vms</span></th>"
               "<th colspan=\"3\">现配置 <span class=\"en\">allocated</span></th>"
               "<th rowspan=\"2\">闲置 (台)<br><span class=\"en\">idle</span></th>"
               "<th rowspan=\"2\">调整建议 (项)<br><span class=\"en\">changes</span></th>"
               "<th colspan=\"3\">按建议调整后 <span class=\"en\">after</span></th></tr>\n<tr>"
               "<th>CPU (核)</th><th>内存 (GiB)</th><th>磁盘 (GiB)</th>"
               "<th>CPU (核)</th><th>内存 (GiB)</th><th>磁盘 (GiB)</th></tr></thead>\n<tbody>\n");
        cJSON_ArrayForEach(s, member(report, "systems")) {
                putf(o, "<tr><td class=\"c\">%zu</td><td>", ++i);
                esc(o, string_member(s, "name"));
                put(o, "</td><td>");
                esc(o, string_member(s, "pool") ?: DASH);
                putf(o, "</td><td class=\"n\">%s</td>", plain(number_or(member(s, "totals"), "vms", 0), a));
                summary_row(o, member(s, "totals"));
        }
        if (i == 0)
                put(o, "<tr><td colspan=\"12\" class=\"c\">（无）</td></tr>\n");
        putf(o, "<tr class=\"total\"><td colspan=\"3\" class=\"c\">单位合计（%s 个系统）</td>",
             plain(number_or(t, "systems", 0), a));
        putf(o, "<td class=\"n\">%s</td>", plain(number_or(t, "vms", 0), a));
        summary_row(o, t);
        put(o, "</tbody>\n</table>\n");
}

/* A swatch of the legend. */
static void swatch(struct out *o, const char *fill, const char *stroke, const char *dash) {
        if (dash)
                putf(o, "<svg width=\"22\" height=\"8\" viewBox=\"0 0 22 8\"><line x1=\"1\" y1=\"4\" x2=\"21\" y2=\"4\" "
                     "stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"%s\"/></svg> ", stroke, dash);
        else
                putf(o, "<svg width=\"14\" height=\"8\" viewBox=\"0 0 14 8\"><rect x=\"0\" y=\"0\" width=\"14\" "
                     "height=\"8\" fill=\"%s\"/></svg> ", fill);
}

static void legend(struct out *o) {
        put(o, "<div class=\"legend\"><b>图例</b>　每台虚拟机一图：上为本月平均与峰值使用率（横条，0–100%），"
               "底色为所在资源池政策包的调整档位，标注其规则与倍数（如 R-RS1 ×0.5：CPU 核数减半）；"
               "下为逐日平均使用率曲线。档位按月平均使用率判定。<br>\n");
        put(o, "<span class=\"item\">");
        swatch(o, C_CUT_DEEP, NULL, NULL);
        put(o, "降配档 ×0.25（R-RS1/R-RS2）</span><span class=\"item\">");
        swatch(o, C_CUT, NULL, NULL);
        put(o, "降配档 ×0.5</span><span class=\"item\">");
        swatch(o, C_GROW, NULL, NULL);
        put(o, "增配档 ×2（R-RS3/R-RS4）</span><span class=\"item\">");
        swatch(o, C_GROW_DEEP, NULL, NULL);
        put(o, "增配档 ×3</span><span class=\"item\">");
        swatch(o, C_DISK_BAND, NULL, NULL);
        put(o, "磁盘扩容档（R-RS5，另需线性增长）</span><span class=\"item\">");
        swatch(o, C_CPU, NULL, NULL);
        put(o, "平均</span><span class=\"item\">");
        swatch(o, C_CPU_PEAK, NULL, NULL);
        put(o, "峰值</span><span class=\"item\">");
        swatch(o, NULL, C_IDLE, "3 2");
        put(o, "闲置阈值（R-RS7：CPU 与内存月平均均低于阈值即为闲置）</span><span class=\"item\">");
        swatch(o, NULL, C_DISK, "5 2");
        put(o, "磁盘使用率线（R-RS5）</span><br>\n"
               "「" DASH "」与「" NO_DATA "」：该项本月无采样（缺测，不按 0 计）；调整建议栏「" DASH "」：不作调整。"
               "<span class=\"flag\">闲置</span> 标记闲置资源（R-RS7）。</div>\n");
}

int report_html(const cJSON *report, struct gc_buf *out, struct gc_error *err) {
        struct out o = { .b = out };
        size_t start = out->len, no = 0;
        const cJSON *period = member(report, "period"), *s;
        int r, days;

        r = check_model(report, err);
        if (r < 0)
                return r;
        days = (int) number_or(period, "days", 1);

        put(&o, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>" TITLE " ");
        esc(&o, string_member(report, "unit"));
        put(&o, " ");
        esc(&o, string_member(report, "month"));
        put(&o, "</title>\n<style>\n");
        put(&o, page_css);
        put(&o, "</style>\n</head>\n<body>\n<h1>" TITLE " <span class=\"rule\">(R-RS7)</span></h1>\n"
                "<table class=\"info header\">\n<tr><th>使用单位</th><td>");
        esc(&o, string_member(report, "unit"));
        put(&o, "</td><th>统计月份</th><td>");
        esc(&o, string_member(report, "month"));
        put(&o, "</td></tr>\n<tr><th>统计周期</th><td>");
        esc(&o, string_member(period, "first"));
        put(&o, " 至 ");
        esc(&o, string_member(period, "last"));
        putf(&o, "（%d 天", days);
        if (string_member(period, "utc_offset")) {
                put(&o, "，UTC");
                esc(&o, string_member(period, "utc_offset"));
        }
        put(&o, "）</td><th>报送期限</th><td>");
        esc(&o, string_member(report, "due") ?: DASH);
        put(&o, "</td></tr>\n<tr><th>生成时间</th><td>");
        esc(&o, string_member(report, "generated") ?: DASH);
        put(&o, "</td><th>依据</th><td>R-RS7 月度使用情况报告；R-RS1–R-RS6 调整建议</td></tr>\n</table>\n");
        summary_table(&o, report);
        legend(&o);
        cJSON_ArrayForEach(s, member(report, "systems"))
                system_section(&o, report, s, ++no, days);
        put(&o, "<p class=\"note\">使用率为月内采样的平均值与峰值（百分比）；磁盘趋势为月内逐日使用率的最小二乘斜率（百分点/日）及其 R²。"
                "调整建议为依规则计算的结果，经审批后方可执行。</p>\n</body>\n</html>\n");

        if (o.r < 0) {
                restore(out, start);
                gc_error_set(err, "too_large", "R-RS7", "", NULL, "the report's page is larger than %zu bytes", out->max);
                return o.r;
        }
        return 0;
}
