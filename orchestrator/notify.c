/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "jcs.h"
#include "log.h"
#include "notify.h"
#include "orch.h"

#define EVENT_MAX (1024 * 1024)
#define IDLE_POLL_MS 5000

struct notify {
        struct orch *o;
        struct store *store;            /* the thread's own connection */
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool kicked, stop;
        char **keys;                    /* cursor key per notifier */
};

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "notify-webhook/1a2b3c4d5e6f": the plugin's name and its configuration's digest. */
static char *cursor_key(const struct plugin *p, const char *config_json) {
        uint8_t md[GC_HASH_MAX];
        crypto_digest(GC_HASH_SHA256, config_json, strlen(config_json), md);
        _cleanup_free_ char *hex = crypto_hex(md, 6);
        return xasprintf("%s/%s", p->ops->name, hex);
}

struct record {
        int64_t seq, time;
        char *actor, *action, *approval, *rule;
        cJSON *detail;
};

static int record_cb(const struct store_row *row, void *userdata) {
        struct record *rec = userdata;
        rec->seq = row->v[0].i;
        rec->time = row->v[1].i;
        rec->actor = xstrdup(row->v[2].s);
        rec->action = xstrdup(row->v[3].s);
        rec->approval = xstrdup(row->v[4].s);
        rec->rule = xstrdup(row->v[5].s);
        rec->detail = cJSON_Parse(row->v[6].s);
        return 0;
}

static void record_done(struct record *rec) {
        free(rec->actor);
        free(rec->action);
        free(rec->approval);
        free(rec->rule);
        cJSON_Delete(rec->detail);
        *rec = (struct record) {};
}

static cJSON *event_new(const struct record *rec, const char *type, const char *suffix) {
        char t[32];
        cJSON *e = cJSON_CreateObject();
        _cleanup_free_ char *id = xasprintf("%lld%s", (long long) rec->seq, suffix);
        store_format_time(rec->time, t);
        cJSON_AddStringToObject(e, "id", id);
        cJSON_AddStringToObject(e, "type", type);
        cJSON_AddStringToObject(e, "time", t);
        cJSON_AddNumberToObject(e, "audit_seq", (double) rec->seq);
        cJSON_AddStringToObject(e, "approval", rec->approval);
        return e;
}

static void copy(cJSON *to, const cJSON *from, const char *key, const char *as) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);
        if (v)
                cJSON_AddItemToObject(to, as ?: key, cJSON_Duplicate(v, true));
}

/* The events of one audit record, in order. */
static size_t record_events(const struct record *rec, cJSON *events[2]) {
        const cJSON *d = rec->detail;
        if (strcmp(rec->action, "request.accepted") == 0) {
                cJSON *a = event_new(rec, "request.accepted", "");
                copy(a, d, "kind", NULL);
                copy(a, d, "request", NULL);
                copy(a, d, "system", "system_id");
                copy(a, d, "unit", NULL);
                copy(a, d, "system_name", "system");
                copy(a, d, "digest", NULL);
                copy(a, d, "vms", NULL);
                cJSON *s = event_new(rec, "stage.reached", ".stage");
                copy(s, d, "system", "system_id");
                copy(s, d, "unit", NULL);
                copy(s, d, "system_name", "system");
                copy(s, d, "from", NULL);
                copy(s, d, "to", "stage");
                events[0] = a;
                events[1] = s;
                return 2;
        }
        if (strcmp(rec->action, "system.stage") == 0) {
                cJSON *s = event_new(rec, "stage.reached", "");
                copy(s, d, "system", "system_id");
                copy(s, d, "unit", NULL);
                copy(s, d, "system_name", "system");
                copy(s, d, "from", NULL);
                copy(s, d, "to", "stage");
                copy(s, d, "trial_end", NULL);
                events[0] = s;
                return 1;
        }
        if (strcmp(rec->action, "exit.reclaim_ordered") == 0) {
                /* R-EX3: the tenant is told of the authority's order and its ground. */
                cJSON *e = event_new(rec, "exit.reclaim_ordered", "");
                copy(e, d, "system", "system_id");
                copy(e, d, "ground", NULL);
                copy(e, d, "reason", NULL);
                copy(e, d, "reference", NULL);
                copy(e, d, "outcome", NULL);
                cJSON_AddStringToObject(e, "rule", rec->rule);
                events[0] = e;
                return 1;
        }
        if (strcmp(rec->action, "rightsize.recommended") == 0) {
                /* R-RS1..R-RS6: the month's recommendations for one system,
                 * as change-request resize entries; approved, they come back
                 * as an ordinary change request (R-RQ3 holds). */
                cJSON *e = event_new(rec, "rightsize.recommended", "");
                copy(e, d, "system", "system_id");
                copy(e, d, "unit", NULL);
                copy(e, d, "system_name", "system");
                copy(e, d, "period", NULL);
                copy(e, d, "resize", NULL);
                copy(e, d, "vms", NULL);
                cJSON_AddStringToObject(e, "rule", rec->rule);
                events[0] = e;
                return 1;
        }
        if (strcmp(rec->action, "request.refused") == 0) {
                cJSON *e = event_new(rec, "request.refused", "");
                cJSON_AddStringToObject(e, "caller", rec->actor);
                copy(e, d, "kind", NULL);
                cJSON *err = cJSON_AddObjectToObject(e, "error");
                copy(err, d, "code", NULL);
                copy(err, d, "field", NULL);
                copy(err, d, "value", NULL);
                copy(err, d, "message", NULL);
                cJSON_AddStringToObject(err, "rule", rec->rule);
                events[0] = e;
                return 1;
        }
        return 0;
}

struct cursor {
        int64_t seq, attempts, next_at_ms;
};

static int cursor_cb(const struct store_row *row, void *userdata) {
        struct cursor *c = userdata;
        c->seq = row->v[0].i;
        c->attempts = row->v[1].i;
        c->next_at_ms = row->v[2].i;
        return 0;
}

/* Deliver what is due to notifier i; returns ms until it wants to run again. */
static int64_t run_one(struct notify *n, size_t i) {
        struct orch *o = n->o;
        const struct plugin *p = o->notifiers[i];
        struct cursor cur = {};
        struct record rec = {};
        int r;

        r = store_query(n->store, "SELECT seq, attempts, next_at_ms FROM notify_cursors WHERE notifier = ?",
                        STORE_ARGS(STORE_TEXT(n->keys[i])), cursor_cb, &cur);
        if (r <= 0)
                return IDLE_POLL_MS;
        int64_t now = now_ms();
        if (cur.next_at_ms > now)
                return cur.next_at_ms - now;

        r = store_query(n->store,
                        "SELECT seq, time, actor, action, approval, rule, detail FROM audit "
                        "WHERE seq > ? AND action IN ('request.accepted', 'request.refused', 'system.stage', 'exit.reclaim_ordered', 'rightsize.recommended') ORDER BY seq LIMIT 1",
                        STORE_ARGS(STORE_INT(cur.seq)), record_cb, &rec);
        if (r <= 0) {
                record_done(&rec);
                return IDLE_POLL_MS;
        }

        cJSON *events[2] = {};
        size_t k = record_events(&rec, events);
        char reason[GC_PLUGIN_REASON_MAX] = "";
        r = 0;
        for (size_t e = 0; e < k; e++) {
                struct gc_buf b = GC_BUF_INIT(EVENT_MAX);
                if (r >= 0)
                        r = jcs_serialize(events[e], &b);
                if (r >= 0)
                        r = p->ops->notify(p->state, b.data, b.len, reason, sizeof reason);
                gc_buf_free(&b);
                cJSON_Delete(events[e]);
        }

        int64_t wait;
        if (r >= 0) {
                store_exec(n->store, "UPDATE notify_cursors SET seq = ?, attempts = 0, next_at_ms = 0, last_error = NULL WHERE notifier = ?",
                           STORE_ARGS(STORE_INT(rec.seq), STORE_TEXT(n->keys[i])), NULL);
                __atomic_add_fetch(&o->metrics.notify_delivered, 1, __ATOMIC_RELAXED);
                log_debug("notifier %s: delivered audit record %lld (%s)", n->keys[i], (long long) rec.seq, rec.action);
                wait = 0;
        } else {
                int64_t attempts = cur.attempts + 1;
                int64_t backoff = o->cfg->notify_retry_initial_ms;
                for (int64_t a = 1; a < attempts && backoff < o->cfg->notify_retry_max_ms; a++)
                        backoff *= 2;
                if (backoff > o->cfg->notify_retry_max_ms)
                        backoff = o->cfg->notify_retry_max_ms;
                store_exec(n->store, "UPDATE notify_cursors SET attempts = ?, next_at_ms = ?, last_error = ? WHERE notifier = ?",
                           STORE_ARGS(STORE_INT(attempts), STORE_INT(now_ms() + backoff), STORE_TEXT(reason),
                                      STORE_TEXT(n->keys[i])), NULL);
                __atomic_add_fetch(&o->metrics.notify_failed, 1, __ATOMIC_RELAXED);
                log_warning("notifier %s: audit record %lld not delivered (attempt %lld): %s; retrying in %lld ms",
                            n->keys[i], (long long) rec.seq, (long long) attempts, reason[0] ? reason : strerror(-r),
                            (long long) backoff);
                wait = backoff;
        }
        record_done(&rec);
        return wait;
}

static void *notify_main(void *userdata) {
        struct notify *n = userdata;

        pthread_mutex_lock(&n->lock);
        while (!n->stop) {
                pthread_mutex_unlock(&n->lock);
                int64_t wait = IDLE_POLL_MS;
                for (size_t i = 0; i < n->o->n_notifiers; i++) {
                        int64_t w = run_one(n, i);
                        if (w < wait)
                                wait = w;
                }
                pthread_mutex_lock(&n->lock);
                if (wait == 0 || n->kicked) {
                        n->kicked = false;
                        continue;
                }
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += wait / 1000;
                ts.tv_nsec += (wait % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                while (!n->kicked && !n->stop)
                        if (pthread_cond_timedwait(&n->cond, &n->lock, &ts) == ETIMEDOUT)
                                break;
                n->kicked = false;
        }
        pthread_mutex_unlock(&n->lock);
        return NULL;
}

int notify_start(struct orch *o, struct notify **ret) {
        int r;

        if (o->n_notifiers == 0) {
                *ret = NULL;
                return 0;
        }
        struct notify *n = xnew(struct notify, 1);
        n->o = o;
        pthread_mutex_init(&n->lock, NULL);
        pthread_cond_init(&n->cond, NULL);
        n->keys = xnew(char *, o->n_notifiers);

        r = store_open(o->cfg->database, &n->store);
        if (r < 0)
                goto fail;
        /* A new notifier starts at the head: it receives what happens from now on. */
        for (size_t i = 0; i < o->n_notifiers; i++) {
                const char *config_json = "{}";
                for (size_t k = 0; k < o->cfg->n_plugins; k++)
                        if (strcmp(o->notifiers[i]->path, o->cfg->plugins[k].path) == 0 ||
                            strstr(o->notifiers[i]->path, o->cfg->plugins[k].path))
                                config_json = o->cfg->plugins[k].config_json;
                n->keys[i] = cursor_key(o->notifiers[i], config_json);
                r = store_exec(n->store,
                               "INSERT INTO notify_cursors (notifier, seq) VALUES (?, (SELECT COALESCE(MAX(seq), 0) FROM audit)) "
                               "ON CONFLICT (notifier) DO NOTHING",
                               STORE_ARGS(STORE_TEXT(n->keys[i])), NULL);
                if (r < 0)
                        goto fail;
                log_info("notifier %s: %s", n->keys[i], o->notifiers[i]->ops->description ?: "");
        }
        r = -pthread_create(&n->thread, NULL, notify_main, n);
        if (r < 0)
                goto fail;
        *ret = n;
        return 0;
fail:
        for (size_t i = 0; i < o->n_notifiers; i++)
                free(n->keys[i]);
        free(n->keys);
        store_close(n->store);
        free(n);
        return log_error_errno(r, "cannot start the notifier thread");
}

void notify_kick(struct notify *n) {
        if (!n)
                return;
        pthread_mutex_lock(&n->lock);
        n->kicked = true;
        pthread_cond_signal(&n->cond);
        pthread_mutex_unlock(&n->lock);
}

void notify_stop(struct notify *n) {
        if (!n)
                return;
        pthread_mutex_lock(&n->lock);
        n->stop = true;
        pthread_cond_signal(&n->cond);
        pthread_mutex_unlock(&n->lock);
        pthread_join(n->thread, NULL);
        for (size_t i = 0; i < n->o->n_notifiers; i++)
                free(n->keys[i]);
        free(n->keys);
        store_close(n->store);
        pthread_mutex_destroy(&n->lock);
        pthread_cond_destroy(&n->cond);
        free(n);
}
