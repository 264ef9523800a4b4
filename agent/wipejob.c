/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "wipecert.h"
#include "wipejob.h"

#define WIPEJOB_PROGRESS_MS 1000u
#define WIPEJOB_HEADER_DESTROYED "LUKS header and key-slot area overwritten and verified"

struct wipejob;

struct wipejob_volume {
        struct wipejob *job;
        struct hv_volume hv;
        char *state_path;
        /* Under the owner's lock: the latest progress. */
        const char *phase;              /* NULL: not begun */
        unsigned pass, passes;
        uint64_t done, total;
        double rate;
        int64_t time_ms;                /* this host's clock */
        bool dirty;                     /* changed since the last wipejobs_progress */
};

struct wipejob {
        struct wipejobs *owner;
        int64_t id;
        char *host;                     /* in its certificates; NULL: gethostname() */
        struct wipejob_spec spec;
        struct wipejob_volume *vols;
        size_t n;
        pthread_t thread;
        bool joined;
        bool ended;                     /* under the lock */
        cJSON *result;                  /* under the lock; NULL when stopped */
        struct wipejob *next;
};

struct wipejobs {
        EVP_PKEY *key;
        char *state_dir, *host;
        const struct hv_ops *ops;
        struct hv *hv;
        uint64_t test_throttle_bps;
        bool test_corrupt;

        atomic_bool cancel;             /* wipe.h's: every thread stops */
        pthread_mutex_t lock;           /* the volumes' progress, the jobs' end */
        pthread_mutex_t sign_lock;      /* one signature at a time with the shared key */
        struct wipejob *jobs;           /* oldest first; the main thread's */
        cJSON *taken;                   /* progress of jobs taken, not reported yet ("time" local) */
};

static void wipejob_add(cJSON *o, const char *key, cJSON *v) {
        if (!v || !cJSON_AddItemToObject(o, key, v))
                abort();
}

static int64_t wipejob_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wipejob_spec_done(struct wipejob_spec *s) {
        if (!s)
                return;
        free(s->approval);
        free(s->operator_name);
        *s = (struct wipejob_spec) {};
}

char *wipejobs_state_path(const struct wipejobs *w, const char *uuid, const char *disk) {
        _cleanup_free_ char *safe = xstrdup(disk && *disk ? disk : "disk");
        for (char *p = safe; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '-'))
                        *p = '_';
        return xasprintf("%s/%s-%s.json", w->state_dir, uuid, safe);
}

static void wipejob_free(struct wipejob *j) {
        if (!j)
                return;
        for (size_t i = 0; i < j->n; i++) {
                hv_volume_done(&j->vols[i].hv);
                free(j->vols[i].state_path);
        }
        free(j->vols);
        free(j->host);
        wipejob_spec_done(&j->spec);
        cJSON_Delete(j->result);
        free(j);
}

/* ------------------------------------------------------------ progress --- */

/* Under the lock. time: on the orchestrator's clock when offset_ms says so. */
static cJSON *wipejob_progress_entry(const struct wipejob_volume *v, int64_t offset_ms) {
        const struct wipejob *j = v->job;
        cJSON *o = cJSON_CreateObject();

        if (!o)
                abort();
        wipejob_add(o, "job", cJSON_CreateNumber((double) j->id));
        wipejob_add(o, "uuid", cJSON_CreateString(j->spec.uuid));
        wipejob_add(o, "disk", cJSON_CreateString(v->hv.disk));
        wipejob_add(o, "path", cJSON_CreateString(v->hv.path ?: ""));
        wipejob_add(o, "size", cJSON_CreateNumber((double) v->hv.size));
        wipejob_add(o, "phase", cJSON_CreateString(v->phase));
        wipejob_add(o, "pass", cJSON_CreateNumber(v->pass));
        wipejob_add(o, "passes", cJSON_CreateNumber(v->passes));
        wipejob_add(o, "done", cJSON_CreateNumber((double) v->done));
        wipejob_add(o, "total", cJSON_CreateNumber((double) v->total));
        wipejob_add(o, "rate", cJSON_CreateNumber(v->rate > 0 ? round(v->rate) : 0));
        wipejob_add(o, "time", cJSON_CreateNumber((double) (v->time_ms + offset_ms)));
        return o;
}

static void wipejob_on_progress(const struct wipe_progress *p, void *userdata) {
        struct wipejob_volume *v = userdata;
        struct wipejobs *w = v->job->owner;

        pthread_mutex_lock(&w->lock);
        v->phase = p->phase == WIPE_PHASE_VERIFY ? "verify" : "write";
        v->pass = p->pass;
        v->passes = p->passes;
        v->done = p->done;
        v->total = p->total;
        v->rate = p->rate;
        v->time_ms = wipejob_now_ms();
        v->dirty = true;
        pthread_mutex_unlock(&w->lock);
}

/* The volume's last entry: "done" (done = total) or "failed". */
static void wipejob_progress_end(struct wipejob_volume *v, const char *phase, uint64_t total, unsigned passes) {
        struct wipejobs *w = v->job->owner;

        pthread_mutex_lock(&w->lock);
        v->phase = phase;
        if (strcmp(phase, "done") == 0) {
                if (total > 0)
                        v->total = total;
                v->done = v->total;
                v->pass = v->passes = passes;
        }
        v->time_ms = wipejob_now_ms();
        v->dirty = true;
        pthread_mutex_unlock(&w->lock);
}

cJSON *wipejobs_progress(struct wipejobs *w, int64_t offset_s) {
        _cleanup_(cJSON_Deletep) cJSON *list = cJSON_CreateArray();
        int64_t offset_ms = offset_s * 1000;
        cJSON *e;

        if (!list)
                abort();
        pthread_mutex_lock(&w->lock);
        while ((e = cJSON_DetachItemFromArray(w->taken, 0))) {
                cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "time");
                cJSON_SetNumberValue(t, t->valuedouble + (double) offset_ms);
                cJSON_AddItemToArray(list, e);
        }
        for (struct wipejob *j = w->jobs; j; j = j->next)
                for (size_t i = 0; i < j->n; i++)
                        if (j->vols[i].dirty && j->vols[i].phase) {
                                cJSON_AddItemToArray(list, wipejob_progress_entry(&j->vols[i], offset_ms));
                                j->vols[i].dirty = false;
                        }
        pthread_mutex_unlock(&w->lock);
        if (cJSON_GetArraySize(list) == 0)
                return NULL;
        return TAKE_PTR(list);
}

/* ------------------------------------------------------------- the thread --- */

/* --unsafe-test-wipe-corrupt: one byte of the wiped volume changed behind
 * the wipe's back, so that its verification must fail. */
static int wipejob_test_corrupt(const char *path, void *userdata) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        uint8_t b;

        if (fd < 0)
                return log_error_errno(errno, "UNSAFE test: cannot open %s to corrupt it", path);
        if (pread(fd, &b, 1, WIPEJOB_CORRUPT_OFFSET) != 1)
                return log_error_errno(errno ?: EIO, "UNSAFE test: cannot read byte %d of %s", WIPEJOB_CORRUPT_OFFSET, path);
        b ^= 0xff;
        if (pwrite(fd, &b, 1, WIPEJOB_CORRUPT_OFFSET) != 1 || fsync(fd) < 0)
                return log_error_errno(errno ?: EIO, "UNSAFE test: cannot write byte %d of %s", WIPEJOB_CORRUPT_OFFSET, path);
        log_warning("UNSAFE test: byte %d of %s flipped between the last pass and the verification", WIPEJOB_CORRUPT_OFFSET,
                    path);
        return 0;
}

/* wipe.h's safety refusals, as against failures of the wipe itself. */
static bool wipejob_is_refusal(int r, const struct gc_error *err) {
        return (r == -ELOOP || r == -EPERM || r == -EINVAL || r == -ESTALE || r == -EBUSY || r == -ENOENT ||
                r == -ENOTDIR) && err->field[0];
}

/* The engine's certificate says the caller destroys the secret: now it says
 * which, and that it is done (R-EX3). */
static void wipejob_key_destruction(cJSON *cert, const char *secret, bool already) {
        cJSON *san = cJSON_GetObjectItemCaseSensitive(cert, "sanitization");
        cJSON *k = cJSON_CreateObject();

        if (!k || !cJSON_IsObject(san))
                abort();
        wipejob_add(k, "libvirt_secret", cJSON_CreateString(secret));
        wipejob_add(k, "action", cJSON_CreateString(already ? "already undefined" : "undefined"));
        wipejob_add(k, "header", cJSON_CreateString(WIPEJOB_HEADER_DESTROYED));
        cJSON_DeleteItemFromObjectCaseSensitive(san, "key_destruction");
        wipejob_add(san, "key_destruction", k);
}

/* Wipe volume i: its VOLWIPE, or a negative errno with err (and
 * *ret_refused for a safety refusal). */
static int wipejob_volume(struct wipejob *j, size_t i, cJSON **ret, struct gc_error *err, bool *ret_refused) {
        struct wipejobs *w = j->owner;
        struct wipejob_volume *vol = &j->vols[i];
        const struct hv_volume *v = &vol->hv;
        enum wipe_method method = j->spec.method;
        const char *fallback = NULL;
        struct wipe_result res = {};
        int r;

        if (method == WIPE_CRYPTO_ERASE && strcmp(v->format, "luks") != 0) {
                /* No key to destroy: the data itself is overwritten (R-EX3). */
                method = WIPE_RANDOM;
                fallback = WIPEJOB_FALLBACK_NOT_ENCRYPTED;
        }
        const struct wipe_spec ws = {
                .path = v->path,
                .pool_dir = v->pool_dir,
                .size = v->size,
                .format = v->format,
                .pool = v->pool,
                .name = v->name,
                .uuid = v->key,
                .method = method,
                .passes = j->spec.passes,
                .sample_blocks = j->spec.sample_blocks,
                .state_path = vol->state_path,
                .checkpoint_bytes = w->test_throttle_bps ? WIPE_CHUNK : 0,
                .approval = j->spec.approval,
                .operator_name = j->spec.operator_name,
                .host = j->host,
                .progress = wipejob_on_progress,
                .progress_ms = WIPEJOB_PROGRESS_MS,
                .userdata = vol,
                .cancel = &w->cancel,
                .test_throttle_bps = w->test_throttle_bps,
                .test_before_verify = w->test_corrupt ? wipejob_test_corrupt : NULL,
        };

        log_info("job %" PRId64 ": wiping disk %s of %s (%s, %s, %" PRIu64 " bytes) with %s%s", j->id, v->disk, j->spec.uuid,
                 v->path, v->format, v->size, wipe_method_to_string(method), fallback ? " (not encrypted: no key to destroy)" : "");
        r = wipe_run(&ws, &res, err);
        if (r == -ESTALE && strcmp(err->code, "state_mismatch") == 0) {
                /* Another wipe of this volume was asked for (another method,
                 * other passes): this one starts over. */
                log_notice("job %" PRId64 ": %s: %s; starting over", j->id, vol->state_path, err->message);
                if (unlink(vol->state_path) < 0 && errno != ENOENT)
                        return log_error_errno(errno, "job %" PRId64 ": cannot remove %s", j->id, vol->state_path);
                *err = (struct gc_error) {};
                r = wipe_run(&ws, &res, err);
        }
        if (r < 0) {
                *ret_refused = r != -ECANCELED && wipejob_is_refusal(r, err);
                wipejob_progress_end(vol, "failed", 0, 0);
                return r;
        }

        if (method == WIPE_CRYPTO_ERASE) {
                /* Purge only once the key is gone as well as the header. */
                r = w->ops->secret_undefine(w->hv, v->secret);
                if (r < 0 && r != -ENOENT) {
                        gc_error_set(err, "secret_not_destroyed", "R-EX3", "secret", v->secret,
                                     "cannot be undefined (%s): the LUKS header of %s is overwritten, but no certificate "
                                     "says Purge while its key exists", strerror(-r), v->path);
                        wipe_result_done(&res);
                        wipejob_progress_end(vol, "failed", 0, 0);
                        return r;
                }
                wipejob_key_destruction(res.certificate, v->secret, r == -ENOENT);
        }
        pthread_mutex_lock(&w->sign_lock);
        r = wipe_certificate_sign(res.certificate, w->key, err);
        pthread_mutex_unlock(&w->sign_lock);
        if (r < 0) {
                wipe_result_done(&res);
                wipejob_progress_end(vol, "failed", 0, 0);
                return r;
        }

        cJSON *vw = cJSON_CreateObject();
        if (!vw)
                abort();
        wipejob_add(vw, "disk", cJSON_CreateString(v->disk));
        wipejob_add(vw, "path", cJSON_CreateString(v->path));
        wipejob_add(vw, "pool", cJSON_CreateString(v->pool));
        if (fallback)
                wipejob_add(vw, "fallback", cJSON_CreateString(fallback));
        /* A state that sent the wipe back to its start (a failed verification) is no resume. */
        bool resumed = res.resumed && res.resumed_offset > 0;
        if (resumed) {
                cJSON *rs = cJSON_CreateObject();
                if (!rs)
                        abort();
                wipejob_add(rs, "pass", cJSON_CreateNumber(res.resumed_pass));
                wipejob_add(rs, "offset", cJSON_CreateNumber((double) res.resumed_offset));
                wipejob_add(vw, "resumed", rs);
        }
        const cJSON *range = json_path_get(res.certificate, "$.sanitization.range");
        wipejob_progress_end(vol, "done", (uint64_t) int_at(range, "length", 0), j->spec.passes);
        log_info("job %" PRId64 ": disk %s of %s wiped%s%s: %" PRIu64 " bytes written, %" PRIu64 " verified", j->id, v->disk,
                 j->spec.uuid, resumed ? " (resumed)" : "", res.reused ? " (done before: its certificate)" : "",
                 res.bytes_written, res.bytes_verified);
        wipejob_add(vw, "certificate", TAKE_PTR(res.certificate));
        *ret = vw;
        return 0;
}

static cJSON *wipejob_result(const struct wipejob *j, bool ok, cJSON *volumes) {
        cJSON *o = cJSON_CreateObject(), *w = cJSON_CreateObject();

        if (!o || !w)
                abort();
        wipejob_add(o, "job", cJSON_CreateNumber((double) j->id));
        wipejob_add(o, "ok", cJSON_CreateBool(ok));
        wipejob_add(w, "uuid", cJSON_CreateString(j->spec.uuid));
        wipejob_add(w, "volumes", volumes);
        wipejob_add(o, "wipe", w);
        return o;
}

/* The job's result entry; NULL when it was stopped. */
static cJSON *wipejob_execute(struct wipejob *j) {
        cJSON *volumes = cJSON_CreateArray();

        if (!volumes)
                abort();
        for (size_t i = 0; i < j->n; i++) {
                struct gc_error err = {};
                bool refused = false;
                cJSON *vw = NULL;
                int r = wipejob_volume(j, i, &vw, &err, &refused);

                if (r == -ECANCELED) {
                        log_notice("job %" PRId64 ": the wipe of %s stopped at disk %s; it resumes from its checkpoint "
                                   "when the job comes again", j->id, j->spec.uuid, j->vols[i].hv.disk);
                        cJSON_Delete(volumes);
                        return NULL;
                }
                if (r >= 0) {
                        cJSON_AddItemToArray(volumes, vw);
                        continue;
                }

                char buf[GC_ERROR_FORMAT_MAX];
                _cleanup_free_ char *field = xasprintf("volumes[%zu].%s", i, err.field[0] ? err.field : "path");
                _cleanup_free_ char *error = NULL;
                /* The whole path, not err's shortened copy. */
                const char *value = strcmp(err.field, "path") == 0 ? j->vols[i].hv.path : err.value[0] ? err.value : NULL;
                cJSON *result = wipejob_result(j, false, volumes);
                if (!err.message[0])
                        gc_error_set(&err, "wipe_failed", "", "", NULL, "%s", strerror(-r));
                /* As jobs.c words the refusals it finds itself. */
                if (refused && value)
                        error = xasprintf("refused: %s \"%.300s\": %s", field, value, err.message);
                else if (refused)
                        error = xasprintf("refused: %s: %s", field, err.message);
                else
                        error = xasprintf("disk %s: %s", j->vols[i].hv.disk, gc_error_format(&err, buf, sizeof buf));
                wipejob_add(result, "error", cJSON_CreateString(error));
                if (refused) {
                        cJSON *rf = cJSON_CreateObject();
                        if (!rf)
                                abort();
                        wipejob_add(rf, "field", cJSON_CreateString(field));
                        wipejob_add(rf, "value", value ? cJSON_CreateString(value) : cJSON_CreateNull());
                        wipejob_add(rf, "reason", cJSON_CreateString(err.message));
                        wipejob_add(cJSON_GetObjectItemCaseSensitive(result, "wipe"), "refused", rf);
                }
                log_warning("job %" PRId64 ": wipe of %s %s: %s", j->id, j->spec.uuid, refused ? "refused" : "failed", error);
                return result;
        }
        return wipejob_result(j, true, volumes);
}

static void *wipejob_thread(void *userdata) {
        struct wipejob *j = userdata;
        cJSON *result = wipejob_execute(j);

        pthread_mutex_lock(&j->owner->lock);
        j->result = result;
        j->ended = true;
        pthread_mutex_unlock(&j->owner->lock);
        return NULL;
}

/* ------------------------------------------------------ the main thread --- */

int wipejobs_new(const struct wipejob_config *cfg, struct wipejobs **ret) {
        struct wipejobs *w;

        if (!cfg->state_dir || !cfg->ops)
                return -EINVAL;
        if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "wipe: cannot make the state directory %s", cfg->state_dir);
        w = xnew(struct wipejobs, 1);
        if (cfg->key) {
                if (EVP_PKEY_up_ref(cfg->key) != 1)
                        abort();
                w->key = cfg->key;
        }
        w->state_dir = xstrdup(cfg->state_dir);
        w->host = cfg->host ? xstrdup(cfg->host) : NULL;
        w->ops = cfg->ops;
        w->hv = cfg->hv;
        w->test_throttle_bps = cfg->test_throttle_bps;
        w->test_corrupt = cfg->test_corrupt;
        atomic_init(&w->cancel, false);
        pthread_mutex_init(&w->lock, NULL);
        pthread_mutex_init(&w->sign_lock, NULL);
        w->taken = cJSON_CreateArray();
        if (!w->taken)
                abort();
        *ret = w;
        return 0;
}

void wipejobs_stop(struct wipejobs *w) {
        if (!w)
                return;
        atomic_store(&w->cancel, true);
        for (struct wipejob *j = w->jobs; j; j = j->next)
                if (!j->joined) {
                        pthread_join(j->thread, NULL);
                        j->joined = true;
                }
}

void wipejobs_free(struct wipejobs *w) {
        if (!w)
                return;
        wipejobs_stop(w);
        while (w->jobs) {
                struct wipejob *j = w->jobs;
                w->jobs = j->next;
                wipejob_free(j);
        }
        EVP_PKEY_free(w->key);
        free(w->state_dir);
        free(w->host);
        cJSON_Delete(w->taken);
        pthread_mutex_destroy(&w->lock);
        pthread_mutex_destroy(&w->sign_lock);
        free(w);
}

bool wipejobs_have_key(const struct wipejobs *w) {
        return w && w->key;
}

void wipejobs_set_host(struct wipejobs *w, const char *host) {
        free(w->host);
        w->host = host ? xstrdup(host) : NULL;
}

bool wipejobs_known(struct wipejobs *w, int64_t job) {
        for (struct wipejob *j = w ? w->jobs : NULL; j; j = j->next)
                if (j->id == job)
                        return true;
        return false;
}

int64_t wipejobs_busy(struct wipejobs *w, const char *uuid) {
        for (struct wipejob *j = w ? w->jobs : NULL; j; j = j->next)
                if (strcasecmp(j->spec.uuid, uuid) == 0)
                        return j->id;
        return 0;
}

size_t wipejobs_running(struct wipejobs *w) {
        size_t n = 0;

        if (!w)
                return 0;
        pthread_mutex_lock(&w->lock);
        for (struct wipejob *j = w->jobs; j; j = j->next)
                n += !j->ended;
        pthread_mutex_unlock(&w->lock);
        return n;
}

int wipejobs_start(struct wipejobs *w, int64_t job, struct wipejob_spec *spec, struct hv_volume *volumes, size_t n) {
        struct wipejob *j = xnew(struct wipejob, 1);
        sigset_t all, old;
        int r;

        j->owner = w;
        j->id = job;
        j->host = w->host ? xstrdup(w->host) : NULL;
        j->spec = *spec;
        *spec = (struct wipejob_spec) {};
        j->vols = xnew(struct wipejob_volume, n ? n : 1);
        j->n = n;
        for (size_t i = 0; i < n; i++) {
                j->vols[i].job = j;
                j->vols[i].hv = volumes[i];
                j->vols[i].state_path = wipejobs_state_path(w, j->spec.uuid, volumes[i].disk);
        }
        free(volumes);

        /* SIGTERM and SIGINT go to the main thread, which stops the wipes. */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = pthread_create(&j->thread, NULL, wipejob_thread, j);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
                wipejob_free(j);
                return log_error_errno(r, "job %" PRId64 ": cannot start the wipe's thread", job);
        }
        struct wipejob **tail = &w->jobs;
        while (*tail)
                tail = &(*tail)->next;
        *tail = j;
        return 0;
}

int wipejobs_take(struct wipejobs *w, int64_t *ret_job, char ret_uuid[static HV_UUID_LEN + 1], cJSON **ret_result) {
        for (struct wipejob **p = &w->jobs; *p;) {
                struct wipejob *j = *p;
                cJSON *result = NULL;
                bool ended;

                pthread_mutex_lock(&w->lock);
                ended = j->ended;
                if (ended) {
                        result = TAKE_PTR(j->result);
                        /* Its last progress is still reported. */
                        for (size_t i = 0; i < j->n; i++)
                                if (j->vols[i].dirty && j->vols[i].phase)
                                        cJSON_AddItemToArray(w->taken, wipejob_progress_entry(&j->vols[i], 0));
                }
                pthread_mutex_unlock(&w->lock);
                if (!ended) {
                        p = &j->next;
                        continue;
                }
                if (!j->joined)
                        pthread_join(j->thread, NULL);
                *p = j->next;
                if (!result) {          /* stopped: the orchestrator sends it again */
                        wipejob_free(j);
                        continue;
                }
                *ret_job = j->id;
                memcpy(ret_uuid, j->spec.uuid, HV_UUID_LEN + 1);
                *ret_result = result;
                wipejob_free(j);
                return 1;
        }
        return 0;
}

int wipejobs_forget(struct wipejobs *w, const char *uuid) {
        DIR *d;
        struct dirent *de;
        size_t len = strlen(uuid);

        if (wipejobs_busy(w, uuid))
                return -EBUSY;
        d = opendir(w->state_dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d)))
                if (strncasecmp(de->d_name, uuid, len) == 0 && de->d_name[len] == '-' &&
                    (strstr(de->d_name + len, ".json") != NULL)) {
                        if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
                                log_warning_errno(errno, "wipe: cannot remove %s/%s", w->state_dir, de->d_name);
                        else
                                log_debug("wipe: removed %s/%s", w->state_dir, de->d_name);
                }
        closedir(d);
        return 0;
}
