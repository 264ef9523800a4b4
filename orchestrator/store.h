/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The orchestrator's store: one small interface over an SQL engine.
 *
 * The orchestrator's modules speak a portable subset of SQL (the one
 * SQLite and PostgreSQL share: INSERT ... RETURNING, ON CONFLICT, '?'
 * placeholders that a backend may rewrite) through store_exec() and
 * store_query(). What differs between engines (opening, pragmas, the
 * schema's column types, migrations, error mapping) stays in the backend:
 * store-sqlite.c now; a PostgreSQL backend implements the same ops.
 *
 * Every state change runs inside store_begin() .. store_commit(), and the
 * audit record of the change is written in the same transaction.
 *
 * Errors: -EEXIST a uniqueness constraint, -EINVAL another constraint
 * (foreign key, check, not null), -EBUSY the database stayed locked past
 * the busy timeout, -EIO anything else; the engine's message is logged.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

struct store;

enum store_type {
        STORE_NULL,
        STORE_INT,
        STORE_TEXT,
};

struct store_value {
        enum store_type type;
        int64_t i;
        const char *s;                  /* NUL-terminated UTF-8 */
};

#define STORE_NULL_VALUE ((struct store_value) { .type = STORE_NULL })
#define STORE_INT(v) ((struct store_value) { .type = STORE_INT, .i = (v) })
static inline struct store_value store_text(const char *s) {
        return (struct store_value) { .type = s ? STORE_TEXT : STORE_NULL, .s = s };
}
#define STORE_TEXT(v) store_text(v)
/* Arguments of a statement: STORE_ARGS(STORE_INT(1), STORE_TEXT("a")) */
#define STORE_ARGS(...) ((const struct store_value[]) { __VA_ARGS__ }), \
        (sizeof((const struct store_value[]) { __VA_ARGS__ }) / sizeof(struct store_value))
#define STORE_NO_ARGS NULL, 0

struct store_row {
        size_t n;
        const char *const *names;       /* column names (aliases) */
        const struct store_value *v;
};

/* Return < 0 to stop (that value is returned by the query), 0 to go on. */
typedef int (*store_row_fn)(const struct store_row *row, void *userdata);

struct store_ops {
        const char *scheme;             /* "sqlite" */
        int (*open)(const char *location, struct store **ret);
        void (*close)(struct store *s);
        int (*begin)(struct store *s);  /* a write transaction, taken at once */
        int (*commit)(struct store *s);
        int (*rollback)(struct store *s);
        /* ret_changes may be NULL. */
        int (*exec)(struct store *s, const char *sql, const struct store_value *args, size_t n,
                    int64_t *ret_changes);
        /* Returns the number of rows seen (>= 0) or the callback's error. */
        int (*query)(struct store *s, const char *sql, const struct store_value *args, size_t n,
                     store_row_fn fn, void *userdata);
        /* The schema version the migrations brought the store to. */
        int (*version)(struct store *s, int64_t *ret);
};

extern const struct store_ops store_sqlite_ops;

/* "sqlite:PATH" or a bare path: the SQLite backend. Runs the migrations. */
int store_open(const char *location, struct store **ret);
void store_close(struct store *s);
static inline void store_closep(struct store **s) {
        if (*s)
                store_close(*s);
}

int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);
int store_exec(struct store *s, const char *sql, const struct store_value *args, size_t n, int64_t *ret_changes);
int store_query(struct store *s, const char *sql, const struct store_value *args, size_t n,
                store_row_fn fn, void *userdata);
int store_version(struct store *s, int64_t *ret);

/* One integer from the first row's first column; -ENOENT when no row (or NULL). */
int store_query_int(struct store *s, const char *sql, const struct store_value *args, size_t n, int64_t *ret);
/* One string likewise (malloc()ed). */
int store_query_text(struct store *s, const char *sql, const struct store_value *args, size_t n, char **ret);

/*
 * Rows as a JSON array of objects keyed by column name. A column alias may
 * carry a conversion suffix, dropped from the key:
 *     "created@time"   integer Unix seconds -> RFC 3339 UTC string
 *     "classified@bool" integer -> true / false
 *     "agreement@json"  text holding JSON -> that JSON (null stays null)
 * Integers become numbers, text strings, NULL null.
 */
int store_query_json(struct store *s, const char *sql, const struct store_value *args, size_t n, cJSON **ret);
/* The first row as an object; -ENOENT when none. */
int store_query_json_one(struct store *s, const char *sql, const struct store_value *args, size_t n, cJSON **ret);

/* Format Unix seconds as "YYYY-MM-DDTHH:MM:SSZ". */
void store_format_time(int64_t t, char buf[32]);
