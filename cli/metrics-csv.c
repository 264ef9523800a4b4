/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CSV file of gcctl metrics import (metrics-csv.h), read and checked a
 * record at a time. gcctl and tests/fuzz/fuzz-metrics-csv.c share it.
 */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "calendar.h"
#include "cleanup.h"
#include "metrics-csv.h"
#include "utf8.h"

/* Fields of one CSV record. */
#define CSV_FIELDS_MAX 64
/* A record's fields, all of them. */
#define CSV_RECORD_MAX (16u * 1024 * 1024)
/* The members' limits the orchestrator's schema sets. */
#define VM_NAME_MAX 512
#define POOL_NAME_MAX 128
#define TIME_MAX 40
/* A percentage's digits: 100.000000 and some. */
#define NUMBER_MAX 24

const char *const metrics_csv_columns[_METRICS_COL_MAX] = {
        "time", "uuid", "vm", "pool", "cpu_pct", "memory_pct", "disk_pct",
};

int metrics_csv_fail(struct metrics_csv_error *e, unsigned line, const char *column, const char *value,
                     const char *fmt, ...) {
        va_list ap;

        e->line = line;
        snprintf(e->column, sizeof e->column, "%s", column ?: "");
        e->value[0] = '\0';
        e->has_value = value;
        if (value) {
                size_t n = utf8_truncate(value, sizeof e->value - 4);
                snprintf(e->value, sizeof e->value, "%.*s%s", (int) n, value, value[n] ? "..." : "");
                for (char *p = e->value; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                *p = '?';
        }
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* RFC 4180, strict: a field is quoted whole or not at all, "" is a quote
 * in a quoted field, records end in CRLF or LF. The fields of the current
 * record go into buf, each NUL-terminated. */
struct csv_reader {
        const char *p, *end;
        unsigned line;                  /* of the next record */
        struct gc_buf buf;
        size_t off[CSV_FIELDS_MAX];
        size_t n;
        const char *const *names;       /* the header's, for messages; NULL while reading it */
        size_t n_names;
};

static const char *csv_field(const struct csv_reader *c, size_t i) {
        return c->buf.data + c->off[i];
}

static const char *field_name(const struct csv_reader *c, size_t i, char buf[16]) {
        if (c->names && i < c->n_names)
                return c->names[i];
        snprintf(buf, 16, "%zu", i + 1);
        return buf;
}

/* 1 and the record's first line in *ret_line; 0 at the end; -EINVAL with e. */
static int csv_next(struct csv_reader *c, unsigned *ret_line, struct metrics_csv_error *e) {
        char col[16];

        /* Lines with nothing on them carry no record. */
        while (c->p < c->end && (*c->p == '\n' || (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n'))) {
                c->p += *c->p == '\r' ? 2 : 1;
                c->line++;
        }
        if (c->p >= c->end)
                return 0;
        *ret_line = c->line;
        gc_buf_reset(&c->buf);
        c->n = 0;
        for (;;) {
                if (c->n >= CSV_FIELDS_MAX)
                        return metrics_csv_fail(e, *ret_line, NULL, NULL, "more than %d fields", CSV_FIELDS_MAX);
                c->off[c->n] = c->buf.len;
                if (c->p < c->end && *c->p == '"') {
                        unsigned start = c->line;
                        for (c->p++;; c->p++) {
                                if (c->p >= c->end)
                                        return metrics_csv_fail(e, start, field_name(c, c->n, col), NULL,
                                                                "a quoted field does not end (a quote is missing)");
                                if (*c->p == '"') {
                                        if (c->p + 1 < c->end && c->p[1] == '"')
                                                c->p++;
                                        else
                                                break;
                                } else if (*c->p == '\n')
                                        c->line++;
                                else if (*c->p == '\0')
                                        return metrics_csv_fail(e, c->line, field_name(c, c->n, col), NULL,
                                                                "holds a NUL byte");
                                if (gc_buf_append_char(&c->buf, *c->p) < 0)
                                        return metrics_csv_fail(e, c->line, NULL, NULL, "a record too long");
                        }
                        c->p++;
                        if (c->p < c->end && *c->p != ',' && *c->p != '\n' &&
                            !(*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n'))
                                return metrics_csv_fail(e, c->line, field_name(c, c->n, col), NULL,
                                                        "text after the closing quote (RFC 4180: a field is quoted "
                                                        "whole)");
                } else
                        for (; c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r'; c->p++) {
                                if (*c->p == '"')
                                        return metrics_csv_fail(e, c->line, field_name(c, c->n, col), NULL,
                                                                "a quote inside an unquoted field (RFC 4180: quote "
                                                                "the whole field and double the quotes in it)");
                                if (*c->p == '\0')
                                        return metrics_csv_fail(e, c->line, field_name(c, c->n, col), NULL,
                                                                "holds a NUL byte");
                                if (gc_buf_append_char(&c->buf, *c->p) < 0)
                                        return metrics_csv_fail(e, c->line, NULL, NULL, "a record too long");
                        }
                if (gc_buf_append_char(&c->buf, '\0') < 0)
                        return metrics_csv_fail(e, c->line, NULL, NULL, "a record too long");
                c->n++;
                if (c->p < c->end && *c->p == ',') {
                        c->p++;
                        continue;
                }
                if (c->p < c->end && *c->p == '\r') {
                        if (c->p + 1 >= c->end || c->p[1] != '\n')
                                return metrics_csv_fail(e, c->line, NULL, NULL,
                                                        "a carriage return without a line feed");
                        c->p++;
                }
                if (c->p < c->end)
                        c->p++;         /* the line feed */
                c->line++;
                return 1;
        }
}

/* RFC 3339 with an offset, as the orchestrator takes it: 2026-10-01T08:00:00+08:00,
 * ...Z, fractions of a second allowed. */
static bool two_digits(const char *s, int *ret) {
        if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
                return false;
        *ret = (s[0] - '0') * 10 + (s[1] - '0');
        return true;
}

static bool is_time(const char *s) {
        char date[11];
        int64_t day;
        int hh, mm, ss, oh, om;
        const char *p;

        if (strlen(s) < 20 || strlen(s) > TIME_MAX || s[10] != 'T' || s[13] != ':' || s[16] != ':')
                return false;
        memcpy(date, s, 10);
        date[10] = '\0';
        if (calendar_parse_date(date, &day) < 0)
                return false;
        if (!two_digits(s + 11, &hh) || !two_digits(s + 14, &mm) || !two_digits(s + 17, &ss) || hh > 23 || mm > 59 ||
            ss > 60)
                return false;
        p = s + 19;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return false;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (p[0] == 'Z' && p[1] == '\0')
                return true;
        return (*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' && two_digits(p + 1, &oh) &&
               two_digits(p + 4, &om) && oh <= 23 && om <= 59;
}

static bool is_uuid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        }
        return true;
}

/* A JSON number (RFC 8259 grammar) from 0 to 100: it goes into the batch as
 * it is written in the file. */
static bool is_json_number(const char *s) {
        const char *p = s;

        if (*p == '-')
                p++;
        if (*p == '0')
                p++;
        else if (*p >= '1' && *p <= '9')
                p += strspn(p, "0123456789");
        else
                return false;
        if (*p == '.') {
                p++;
                size_t n = strspn(p, "0123456789");
                if (n == 0)
                        return false;
                p += n;
        }
        if (*p == 'e' || *p == 'E') {
                p++;
                if (*p == '+' || *p == '-')
                        p++;
                size_t n = strspn(p, "0123456789");
                if (n == 0)
                        return false;
                p += n;
        }
        return *p == '\0';
}

static double number_value(const char *s) {
        static locale_t c_locale;

        /* gcctl runs in the user's locale; a number in the file has a '.' */
        if (!c_locale)
                c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
        if (!c_locale)
                abort();
        return strtod_l(s, NULL, c_locale);
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* The file's columns: where each known one is (-1: absent). */
struct metrics_header {
        int at[_METRICS_COL_MAX];
        const char *names[CSV_FIELDS_MAX];
        size_t n;
        struct gc_buf buf;              /* the names' bytes */
};

static int header_parse(struct csv_reader *c, struct metrics_header *h, struct metrics_csv_error *e) {
        unsigned line = 1;
        int r;

        for (size_t k = 0; k < _METRICS_COL_MAX; k++)
                h->at[k] = -1;
        r = csv_next(c, &line, e);
        if (r < 0)
                return r;
        if (r == 0)
                return metrics_csv_fail(e, 0, NULL, NULL, "empty: the first line names the columns (time, uuid or "
                                                          "vm, pool, cpu_pct, memory_pct, disk_pct)");
        /* The names outlive the reader's buffer. */
        h->buf = GC_BUF_INIT(c->buf.len + 1);
        if (gc_buf_append(&h->buf, c->buf.data, c->buf.len) < 0)
                abort();
        h->n = c->n;
        for (size_t i = 0; i < c->n; i++) {
                const char *name = h->buf.data + c->off[i];
                size_t k;

                h->names[i] = name;
                for (k = 0; k < _METRICS_COL_MAX; k++)
                        if (strcmp(name, metrics_csv_columns[k]) == 0)
                                break;
                if (k == _METRICS_COL_MAX)
                        return metrics_csv_fail(e, line, NULL, name,
                                                "is not a column this import knows (time, uuid, vm, pool, "
                                                "cpu_pct, memory_pct, disk_pct)");
                if (h->at[k] >= 0)
                        return metrics_csv_fail(e, line, NULL, name, "is a column given twice");
                h->at[k] = (int) i;
        }
        if (h->at[METRICS_COL_TIME] < 0)
                return metrics_csv_fail(e, line, NULL, NULL, "no time column: every sample needs its time (RFC 3339, "
                                                             "2026-10-01T08:00:00+08:00)");
        if (h->at[METRICS_COL_UUID] < 0 && h->at[METRICS_COL_VM] < 0)
                return metrics_csv_fail(e, line, NULL, NULL, "no uuid or vm column: each sample names its VM");
        if (h->at[METRICS_COL_POOL] >= 0 && h->at[METRICS_COL_VM] < 0)
                return metrics_csv_fail(e, line, NULL, NULL,
                                        "a pool column without a vm column: pool narrows a VM's name");
        if (h->at[METRICS_COL_CPU] < 0 && h->at[METRICS_COL_MEMORY] < 0 && h->at[METRICS_COL_DISK] < 0)
                return metrics_csv_fail(e, line, NULL, NULL,
                                        "no cpu_pct, memory_pct or disk_pct column: nothing to import");
        c->names = h->names;
        c->n_names = h->n;
        return 0;
}

/* The cells of the record c holds, checked: the members' limits are the
 * orchestrator's schema's. */
static int sample_parse(const struct csv_reader *c, const struct metrics_header *h, unsigned line,
                        struct metrics_sample *s, struct metrics_csv_error *e) {
        if (c->n != h->n)
                return metrics_csv_fail(e, line, NULL, NULL, "%zu field%s, the header has %zu", c->n,
                                        c->n == 1 ? "" : "s", h->n);
        for (size_t k = 0; k < _METRICS_COL_MAX; k++)
                s->cell[k] = h->at[k] >= 0 ? csv_field(c, (size_t) h->at[k]) : NULL;

        const char *time = s->cell[METRICS_COL_TIME];
        if (!is_time(time))
                return metrics_csv_fail(e, line, "time", time, "%s",
                                        *time ? "is not an RFC 3339 time with an offset "
                                                "(2026-10-01T08:00:00+08:00 or ...Z)"
                                              : "is empty: every sample needs its time");
        const char *uuid = s->cell[METRICS_COL_UUID] && *s->cell[METRICS_COL_UUID] ? s->cell[METRICS_COL_UUID] : NULL;
        const char *vm = s->cell[METRICS_COL_VM] && *s->cell[METRICS_COL_VM] ? s->cell[METRICS_COL_VM] : NULL;
        const char *pool = s->cell[METRICS_COL_POOL] && *s->cell[METRICS_COL_POOL] ? s->cell[METRICS_COL_POOL] : NULL;
        if (uuid && vm)
                return metrics_csv_fail(e, line, NULL, NULL, "both uuid and vm given: name the VM one way");
        if (!uuid && !vm)
                return metrics_csv_fail(e, line, NULL, NULL, "no VM: the %s empty",
                                        h->at[METRICS_COL_UUID] >= 0 && h->at[METRICS_COL_VM] >= 0
                                                ? "uuid and vm cells are"
                                        : h->at[METRICS_COL_UUID] >= 0 ? "uuid cell is"
                                                                       : "vm cell is");
        if (uuid && !is_uuid(uuid))
                return metrics_csv_fail(e, line, "uuid", uuid, "is not a UUID (8-4-4-4-12 hexadecimal digits)");
        if (vm && strlen(vm) > VM_NAME_MAX)
                return metrics_csv_fail(e, line, "vm", vm, "is longer than %d bytes", VM_NAME_MAX);
        if (vm && has_control(vm))
                return metrics_csv_fail(e, line, "vm", vm, "holds a control character");
        if (pool && uuid)
                return metrics_csv_fail(e, line, "pool", pool, "is given with a uuid: a uuid names the VM alone");
        if (pool && strlen(pool) > POOL_NAME_MAX)
                return metrics_csv_fail(e, line, "pool", pool, "is longer than %d bytes", POOL_NAME_MAX);
        if (pool && has_control(pool))
                return metrics_csv_fail(e, line, "pool", pool, "holds a control character");
        for (size_t k = METRICS_COL_CPU; k <= METRICS_COL_DISK; k++) {
                const char *v = s->cell[k];
                if (!v || !*v)
                        continue;       /* a gap, not a zero */
                if (strlen(v) > NUMBER_MAX)
                        return metrics_csv_fail(e, line, metrics_csv_columns[k], v, "is longer than %d characters",
                                                NUMBER_MAX);
                if (!is_json_number(v))
                        return metrics_csv_fail(e, line, metrics_csv_columns[k], v,
                                                "is not a number (a percentage from 0 to 100 with '.' for decimals, "
                                                "no %% sign; an empty cell for no data)");
                double d = number_value(v);
                if (!(d >= 0 && d <= 100))
                        return metrics_csv_fail(e, line, metrics_csv_columns[k], v, "is not from 0 to 100");
        }
        return 0;
}

/* The first byte that is not UTF-8, as a line number; 0 when all are. */
static unsigned invalid_utf8_line(const char *s, size_t n) {
        unsigned line = 1;

        for (size_t i = 0; i < n;) {
                uint32_t cp;
                int l = utf8_decode(s + i, n - i, &cp);
                if (l < 0)
                        return line;
                if (cp == '\n')
                        line++;
                i += (size_t) l;
        }
        return 0;
}

struct metrics_csv {
        struct csv_reader reader;
        struct metrics_header header;
};

int metrics_csv_new(const char *data, size_t len, struct metrics_csv **ret, struct metrics_csv_error *e) {
        _cleanup_(metrics_csv_freep) struct metrics_csv *m = NULL;
        unsigned bad;
        int r;

        bad = invalid_utf8_line(data, len);
        if (bad > 0)
                return metrics_csv_fail(e, bad, NULL, NULL, "not UTF-8 (a file saved as GBK? save it as UTF-8)");
        m = xnew(struct metrics_csv, 1);
        m->reader = (struct csv_reader) {
                .p = data, .end = data + len, .line = 1, .buf = GC_BUF_INIT(CSV_RECORD_MAX),
        };
        /* a UTF-8 byte order mark, as Excel writes one */
        if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
                m->reader.p += 3;
        r = header_parse(&m->reader, &m->header, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int metrics_csv_next(struct metrics_csv *m, struct metrics_sample *ret, unsigned *ret_line,
                     struct metrics_csv_error *e) {
        struct metrics_sample s;
        unsigned line;
        int r;

        r = csv_next(&m->reader, &line, e);
        if (r <= 0)
                return r;
        r = sample_parse(&m->reader, &m->header, line, &s, e);
        if (r < 0)
                return r;
        *ret = s;
        *ret_line = line;
        return 1;
}

void metrics_csv_free(struct metrics_csv *m) {
        if (!m)
                return;
        gc_buf_free(&m->reader.buf);
        gc_buf_free(&m->header.buf);
        free(m);
}
