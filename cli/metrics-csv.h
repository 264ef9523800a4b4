/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The utilization samples of gcctl metrics import, read from a CSV file:
 * UTF-8 (a byte order mark allowed), RFC 4180 strictly, the first line
 * naming the columns. Nothing here connects; tests/fuzz/fuzz-metrics-csv.c
 * feeds it arbitrary bytes.
 *
 *   metrics_csv_new    checks the whole file is UTF-8 and reads the header
 *   metrics_csv_next   each sample after it, checked
 *
 * A refusal says where and what (struct metrics_csv_error), for
 * "FILE: line 139, column cpu_pct: "12,5" is not a number".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gc/error.h"

enum metrics_column {
        METRICS_COL_TIME,
        METRICS_COL_UUID,
        METRICS_COL_VM,
        METRICS_COL_POOL,
        METRICS_COL_CPU,
        METRICS_COL_MEMORY,
        METRICS_COL_DISK,
        _METRICS_COL_MAX,
};

/* "time", "uuid", "vm", "pool", "cpu_pct", "memory_pct", "disk_pct" */
extern const char *const metrics_csv_columns[_METRICS_COL_MAX];

/* Why a file is refused: where, and what. */
struct metrics_csv_error {
        unsigned line;                  /* 0: the file as a whole */
        char column[64];                /* "": the line as a whole */
        char value[GC_ERROR_VALUE_MAX]; /* shortened, control characters as '?' */
        bool has_value;                 /* the cell's value is shown, "" too */
        char message[256];
};

/* Fill e; returns -EINVAL. value may be NULL (none shown). */
int metrics_csv_fail(struct metrics_csv_error *e, unsigned line, const char *column, const char *value,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* One sample's cells, valid until the next metrics_csv_next(): NULL for a
 * column the file does not have, "" for an empty cell. A sample names its
 * VM by a uuid or by a vm (and pool), never both; a metric is "" (no data)
 * or a JSON number from 0 to 100, as the file writes it. */
struct metrics_sample {
        const char *cell[_METRICS_COL_MAX];
};

struct metrics_csv;

/* Read the len bytes at data (kept, not copied: they must outlive the
 * reader; no NUL needed) up to the first sample. -EINVAL with e. */
int metrics_csv_new(const char *data, size_t len, struct metrics_csv **ret, struct metrics_csv_error *e);
/* 1 with the next sample and its line (the first, for a record over
 * several); 0 at the end; -EINVAL with e. */
int metrics_csv_next(struct metrics_csv *m, struct metrics_sample *ret, unsigned *ret_line,
                     struct metrics_csv_error *e);
void metrics_csv_free(struct metrics_csv *m);
static inline void metrics_csv_freep(struct metrics_csv **m) {
        metrics_csv_free(*m);
}
