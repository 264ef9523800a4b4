/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "audit.h"
#include "auditchain.h"
#include "buf.h"
#include "cleanup.h"
#include "jcs.h"
#include "log.h"

/* The record object without "hash", as hashed (auditchain.h). */
static cJSON *record_object(int64_t seq, int64_t time, const char *actor, const char *role, const char *action,
                            const char *object, const char *approval, const char *outcome, const char *rule,
                            cJSON *detail, const char *prev) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double) seq);
        cJSON_AddNumberToObject(o, "time", (double) time);
        cJSON_AddStringToObject(o, "actor", actor);
        cJSON_AddStringToObject(o, "role", role);
        cJSON_AddStringToObject(o, "action", action);
        cJSON_AddStringToObject(o, "object", object);
        cJSON_AddStringToObject(o, "approval", approval);
        cJSON_AddStringToObject(o, "outcome", outcome);
        cJSON_AddStringToObject(o, "rule", rule);
        cJSON_AddItemToObject(o, "detail", detail);
        cJSON_AddStringToObject(o, "prev", prev);
        return o;
}

struct head {
        int64_t seq;
        char *hash;
};

static int head_cb(const struct store_row *row, void *userdata) {
        struct head *h = userdata;
        h->seq = row->v[0].i;
        free(h->hash);
        h->hash = xstrdup(row->v[1].s);
        return 0;
}

/* R-AU3: a record of an operation on a system, request, job, sheet or tunnel names
 * the approval behind it even where its writer did not. */
static char *approval_of(struct store *s, const char *object) {
        static const struct {
                const char *prefix;
                const char *sql;
        } q[] = {
                { "request:", "SELECT approval_system || '/' || approval_id FROM requests WHERE id = ?" },
                { "system:", "SELECT approval_system || '/' || approval_id FROM requests WHERE system_id = ? "
                             "AND outcome = 'accepted' ORDER BY id DESC LIMIT 1" },
                { "job:", "SELECT r.approval_system || '/' || r.approval_id FROM jobs j JOIN requests r ON r.id = j.request_id "
                          "WHERE j.id = ?" },
                { "sheet:", "SELECT r.approval_system || '/' || r.approval_id FROM sheets h JOIN requests r ON r.id = h.request_id "
                            "WHERE h.id = ?" },
                { "tunnel:", "SELECT approval_system || '/' || approval_id FROM tunnels WHERE id = ?" },
        };
        for (size_t i = 0; object && i < ELEMENTSOF(q); i++) {
                size_t n = strlen(q[i].prefix);
                if (strncmp(object, q[i].prefix, n) != 0)
                        continue;
                char *end;
                long long id = strtoll(object + n, &end, 10);
                if (*end || id <= 0)
                        return NULL;
                char *text = NULL;
                if (store_query_text(s, q[i].sql, STORE_ARGS(STORE_INT(id)), &text) < 0)
                        return NULL;
                return text;
        }
        return NULL;
}

int audit_append(struct store *s, enum gc_hash_alg alg, const struct audit_entry *e, int64_t *ret_seq) {
        _cleanup_free_ char *derived = (!e->approval || !e->approval[0]) ? approval_of(s, e->object) : NULL;
        struct head h = {};
        int r = store_query(s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", STORE_NO_ARGS, head_cb, &h);
        if (r < 0) {
                free(h.hash);
                return r;
        }
        _cleanup_free_ char *prev = h.hash ? h.hash : auditchain_zero_hash(alg);
        int64_t seq = h.seq + 1;

        cJSON *detail = e->detail ? cJSON_Duplicate(e->detail, true) : cJSON_CreateObject();
        _cleanup_(cJSON_Deletep) cJSON *o = record_object(seq, e->time, e->actor ?: "", e->role ?: "", e->action,
                                                          e->object ?: "", derived ?: e->approval ?: "", e->outcome,
                                                          e->rule ?: "", detail, prev);
        _cleanup_free_ char *hash = NULL;
        r = auditchain_record_hash(alg, o, &hash);
        if (r < 0)
                return r;
        _cleanup_free_ char *detail_text = cJSON_PrintUnformatted(detail);

        r = store_exec(s, "INSERT INTO audit (seq, time, actor, role, action, object, approval, outcome, rule, detail, prev, hash) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       STORE_ARGS(STORE_INT(seq), STORE_INT(e->time), STORE_TEXT(e->actor ?: ""), STORE_TEXT(e->role ?: ""),
                                  STORE_TEXT(e->action), STORE_TEXT(e->object ?: ""), STORE_TEXT(derived ?: e->approval ?: ""),
                                  STORE_TEXT(e->outcome), STORE_TEXT(e->rule ?: ""), STORE_TEXT(detail_text),
                                  STORE_TEXT(prev), STORE_TEXT(hash)),
                       NULL);
        if (r < 0)
                return r;
        if (ret_seq)
                *ret_seq = seq;
        return 0;
}

int audit_record(struct store *s, enum gc_hash_alg alg, const struct audit_entry *e) {
        int r = store_begin(s);
        if (r >= 0)
                r = audit_append(s, alg, e, NULL);
        if (r >= 0)
                r = store_commit(s);
        if (r < 0)
                store_rollback(s);
        return r;
}

struct verify_state {
        int64_t count;
        int64_t bad;
        char *prev;
};

static int verify_cb(const struct store_row *row, void *userdata) {
        struct verify_state *st = userdata;
        const struct store_value *v = row->v;
        enum gc_hash_alg alg;

        const char *hash = v[11].s;
        const char *colon = strchr(hash, ':');
        _cleanup_free_ char *algname = colon ? xstrndup(hash, colon - hash) : xstrdup("");
        if (crypto_hash_from_string(algname, &alg) < 0) {
                st->bad = v[0].i;
                return -EBADMSG;
        }
        _cleanup_free_ char *expect_prev = st->prev ? xstrdup(st->prev) : auditchain_zero_hash(alg);
        if (v[0].i != st->count + 1 || strcmp(v[10].s, expect_prev) != 0) {
                st->bad = v[0].i;
                return -EBADMSG;
        }
        cJSON *detail = cJSON_Parse(v[9].s);
        if (!detail) {
                st->bad = v[0].i;
                return -EBADMSG;
        }
        _cleanup_(cJSON_Deletep) cJSON *o = record_object(v[0].i, v[1].i, v[2].s, v[3].s, v[4].s, v[5].s, v[6].s,
                                                          v[7].s, v[8].s, detail, v[10].s);
        _cleanup_free_ char *got = NULL;
        int r = auditchain_record_hash(alg, o, &got);
        if (r < 0)
                return r;
        if (strcmp(got, hash) != 0) {
                st->bad = v[0].i;
                return -EBADMSG;
        }
        free(st->prev);
        st->prev = xstrdup(hash);
        st->count++;
        return 0;
}

int audit_verify_store(struct store *s, int64_t *ret_count, int64_t *ret_bad_seq) {
        struct verify_state st = {};
        int r = store_query(s, "SELECT seq, time, actor, role, action, object, approval, outcome, rule, detail, prev, hash "
                               "FROM audit ORDER BY seq", STORE_NO_ARGS, verify_cb, &st);
        free(st.prev);
        if (ret_count)
                *ret_count = st.count;
        if (r == -EBADMSG && ret_bad_seq)
                *ret_bad_seq = st.bad;
        return r < 0 ? r : 0;
}
