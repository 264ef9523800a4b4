/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "store.h"

/* Each backend's handle starts with its ops. */
struct store {
        const struct store_ops *ops;
};

int store_open(const char *location, struct store **ret) {
        const struct store_ops *ops = &store_sqlite_ops;
        const char *colon = strchr(location, ':');

        if (colon && colon != location && !strchr(location, '/')) {
                /* "scheme:rest"; a path with a colon after a slash is a path. */
                if ((size_t) (colon - location) == strlen(ops->scheme) &&
                    strncmp(location, ops->scheme, colon - location) == 0)
                        location = colon + 1;
                else
                        return log_error_errno(-EPROTONOSUPPORT, "store \"%s\": unknown scheme (only sqlite:)", location);
        } else if (strncmp(location, "sqlite:", 7) == 0)
                location += 7;
        return ops->open(location, ret);
}

void store_close(struct store *s) {
        if (s)
                s->ops->close(s);
}

int store_begin(struct store *s) {
        return s->ops->begin(s);
}

int store_commit(struct store *s) {
        return s->ops->commit(s);
}

int store_rollback(struct store *s) {
        return s->ops->rollback(s);
}

int store_exec(struct store *s, const char *sql, const struct store_value *args, size_t n, int64_t *ret_changes) {
        return s->ops->exec(s, sql, args, n, ret_changes);
}

int store_query(struct store *s, const char *sql, const struct store_value *args, size_t n,
                store_row_fn fn, void *userdata) {
        return s->ops->query(s, sql, args, n, fn, userdata);
}

int store_version(struct store *s, int64_t *ret) {
        return s->ops->version(s, ret);
}

struct first_value {
        bool found;
        struct store_value v;
        char *text;
};

static int first_value_cb(const struct store_row *row, void *userdata) {
        struct first_value *f = userdata;

        if (f->found || row->n < 1)
                return 0;
        f->found = true;
        f->v = row->v[0];
        if (row->v[0].type == STORE_TEXT)
                f->text = xstrdup(row->v[0].s);
        return 0;
}

int store_query_int(struct store *s, const char *sql, const struct store_value *args, size_t n, int64_t *ret) {
        struct first_value f = {};
        int r = store_query(s, sql, args, n, first_value_cb, &f);
        free(f.text);
        if (r < 0)
                return r;
        if (!f.found || f.v.type != STORE_INT)
                return -ENOENT;
        *ret = f.v.i;
        return 0;
}

int store_query_text(struct store *s, const char *sql, const struct store_value *args, size_t n, char **ret) {
        struct first_value f = {};
        int r = store_query(s, sql, args, n, first_value_cb, &f);
        if (r < 0) {
                free(f.text);
                return r;
        }
        if (!f.text)
                return -ENOENT;
        *ret = f.text;
        return 0;
}

void store_format_time(int64_t t, char buf[32]) {
        struct tm tm;
        time_t tt = (time_t) t;

        if (!gmtime_r(&tt, &tm)) {
                strcpy(buf, "1970-01-01T00:00:00Z");
                return;
        }
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int json_row_cb(const struct store_row *row, void *userdata) {
        cJSON *array = userdata;
        cJSON *o = cJSON_CreateObject();

        for (size_t i = 0; i < row->n; i++) {
                const char *name = row->names[i];
                const char *at = strchr(name, '@');
                _cleanup_free_ char *key = at ? xstrndup(name, at - name) : xstrdup(name);
                const struct store_value *v = &row->v[i];
                cJSON *item;

                if (v->type == STORE_NULL)
                        item = cJSON_CreateNull();
                else if (at && strcmp(at, "@time") == 0 && v->type == STORE_INT) {
                        char buf[32];
                        store_format_time(v->i, buf);
                        item = cJSON_CreateString(buf);
                } else if (at && strcmp(at, "@bool") == 0 && v->type == STORE_INT)
                        item = cJSON_CreateBool(v->i != 0);
                else if (at && strcmp(at, "@json") == 0 && v->type == STORE_TEXT) {
                        item = cJSON_Parse(v->s);
                        if (!item)
                                item = cJSON_CreateNull();
                } else if (v->type == STORE_INT)
                        item = cJSON_CreateNumber((double) v->i);
                else
                        item = cJSON_CreateString(v->s);
                cJSON_AddItemToObject(o, key, item);
        }
        cJSON_AddItemToArray(array, o);
        return 0;
}

int store_query_json(struct store *s, const char *sql, const struct store_value *args, size_t n, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *array = cJSON_CreateArray();
        int r = store_query(s, sql, args, n, json_row_cb, array);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(array);
        return 0;
}

int store_query_json_one(struct store *s, const char *sql, const struct store_value *args, size_t n, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *array = NULL;
        int r = store_query_json(s, sql, args, n, &array);
        if (r < 0)
                return r;
        if (cJSON_GetArraySize(array) < 1)
                return -ENOENT;
        *ret = cJSON_DetachItemFromArray(array, 0);
        return 0;
}
