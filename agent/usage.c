/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "client.h"
#include "json.h"
#include "log.h"
#include "usage.h"

#define USAGE_SAMPLE_TEXT_MAX 192       /* one rendered sample, with room to spare */
#define USAGE_HEAD "{\"samples\":["
#define USAGE_TAIL "]}"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

/* A domain's last CPU figure: where the next delta starts. */
struct usage_base {
        char uuid[HV_UUID_LEN + 1];
        int64_t cpu_time_ns;
        int64_t mono_ns;
};

/* A sealed batch waiting for the orchestrator, oldest first. */
struct usage_spooled {
        uint64_t seq;
        size_t len;
        char *body;                     /* NULL: in its file (the usual case); set when the spool could not be written */
};

struct usage {
        struct usage_config cfg;
        char *spool;

        struct usage_base *base;
        size_t n_base;

        struct usage_sample *queue;
        size_t n_queue, cap_queue;

        struct usage_spooled *batches;
        size_t n_batches, cap_batches;
        uint64_t spool_bytes;
        uint64_t next_seq;

        struct usage_batch current;     /* handed out by usage_next(); body NULL: none */

        bool started;
        double next_sample, next_seal;
        double retry_at;
        unsigned backoff;
        bool failing;                   /* a kept batch was logged; said again when it goes */
        bool stats_failing;
};

/* ----------------------------------------------------------------- body --- */

void usage_time_format(int64_t t, char buf[static 21]) {
        time_t tt = (time_t) t;
        struct tm tm;

        if (!gmtime_r(&tt, &tm) || strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
                snprintf(buf, 21, "1970-01-01T00:00:00Z");
}

/* Hundredths as a JSON number with at most two decimals ("12.5", "40.25",
 * "100"), or null. Exact: no floating point in the text. */
static int usage_centi_format(int32_t v, char buf[16]) {
        if (v < 0)
                return snprintf(buf, 16, "null");
        if (v % 100 == 0)
                return snprintf(buf, 16, "%d", (int) (v / 100));
        if (v % 10 == 0)
                return snprintf(buf, 16, "%d.%d", (int) (v / 100), (int) (v % 100 / 10));
        return snprintf(buf, 16, "%d.%02d", (int) (v / 100), (int) (v % 100));
}

static size_t usage_sample_render(const struct usage_sample *s, char buf[static USAGE_SAMPLE_TEXT_MAX]) {
        char time[21], cpu[16], memory[16], disk[16];
        int n;

        usage_time_format(s->time, time);
        usage_centi_format(s->cpu, cpu);
        usage_centi_format(s->memory, memory);
        usage_centi_format(s->disk, disk);
        n = snprintf(buf, USAGE_SAMPLE_TEXT_MAX, "{\"uuid\":\"%s\",\"time\":\"%s\",\"cpu_pct\":%s,\"memory_pct\":%s,\"disk_pct\":%s}",
                     s->uuid, time, cpu, memory, disk);
        assert(n > 0 && n < USAGE_SAMPLE_TEXT_MAX);
        return (size_t) n;
}

/* As many of the n samples as fit in max_samples and max_bytes (at least
 * one, if it fits at all): *ret_taken. */
static int usage_body_take(const struct usage_sample *s, size_t n, size_t max_samples, size_t max_bytes, char **ret,
                           size_t *ret_len, size_t *ret_taken) {
        struct gc_buf b = GC_BUF_INIT(max_bytes);
        size_t i;
        int r;

        r = gc_buf_append_str(&b, USAGE_HEAD);
        for (i = 0; r >= 0 && i < n && i < max_samples; i++) {
                char text[USAGE_SAMPLE_TEXT_MAX];
                size_t len = usage_sample_render(&s[i], text);
                if (b.len + (i > 0) + len + strlen(USAGE_TAIL) > max_bytes)
                        break;
                if (i > 0)
                        r = gc_buf_append_char(&b, ',');
                if (r >= 0)
                        r = gc_buf_append(&b, text, len);
        }
        if (r >= 0 && i == 0 && n > 0)
                r = -ENOBUFS;
        if (r >= 0)
                r = gc_buf_append_str(&b, USAGE_TAIL);
        if (r < 0) {
                gc_buf_free(&b);
                return r;
        }
        *ret = gc_buf_steal(&b, ret_len);
        *ret_taken = i;
        return 0;
}

int usage_body(const struct usage_sample *s, size_t n, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *body = NULL;
        size_t len, taken;
        int r;

        r = usage_body_take(s, n, n, max, &body, &len, &taken);
        if (r < 0)
                return r;
        if (taken < n)
                return -ENOBUFS;
        *ret = TAKE_PTR(body);
        *ret_len = len;
        return 0;
}

/* ---------------------------------------------------------------- spool --- */

static char *usage_batch_path(const struct usage *u, uint64_t seq) {
        return xasprintf("%s/%020" PRIu64 ".json", u->spool, seq);
}

static void usage_current_done(struct usage *u) {
        free(u->current.body);
        u->current = (struct usage_batch) {};
}

/* Remove the oldest batch, from memory and from the spool. */
static void usage_batch_remove(struct usage *u) {
        assert(u->n_batches > 0);
        struct usage_spooled *b = &u->batches[0];
        _cleanup_free_ char *path = usage_batch_path(u, b->seq);

        if (u->current.body && u->current.seq == b->seq)
                usage_current_done(u);
        if (!b->body && unlink(path) < 0 && errno != ENOENT)
                /* Sent again after a restart: the orchestrator counts it once. */
                log_warning_errno(errno, "metrics: cannot remove %s", path);
        free(b->body);
        u->spool_bytes -= b->len;
        memmove(&u->batches[0], &u->batches[1], (u->n_batches - 1) * sizeof *u->batches);
        u->n_batches--;
}

static void usage_batch_add(struct usage *u, uint64_t seq, size_t len, char *body) {
        if (u->n_batches == u->cap_batches) {
                u->cap_batches = u->cap_batches ? u->cap_batches * 2 : 16;
                u->batches = xrealloc(u->batches, u->cap_batches * sizeof *u->batches);
        }
        u->batches[u->n_batches++] = (struct usage_spooled) { .seq = seq, .len = len, .body = body };
        u->spool_bytes += len;
}

/* At most spool_max batches and USAGE_SPOOL_BYTES: the oldest go first. */
static void usage_spool_bound(struct usage *u) {
        while (u->n_batches > 1 && (u->n_batches > u->cfg.spool_max || u->spool_bytes > USAGE_SPOOL_BYTES)) {
                log_warning("metrics: %zu batches (%" PRIu64 " bytes) wait for the orchestrator, more than the spool keeps "
                            "(%zu batches, %u MiB): the oldest (%020" PRIu64 ", %zu bytes) is dropped, a gap in the figures",
                            u->n_batches, u->spool_bytes, u->cfg.spool_max, USAGE_SPOOL_BYTES / (1024 * 1024),
                            u->batches[0].seq, u->batches[0].len);
                usage_batch_remove(u);
        }
}

/* A sealed batch: into its file before anything sends it. A spool that
 * cannot be written keeps it in memory (logged): it is still sent. */
static void usage_spool(struct usage *u, char *body, size_t len, size_t samples) {
        uint64_t seq = u->next_seq++;
        _cleanup_free_ char *path = usage_batch_path(u, seq);
        int r;

        r = gc_write_file(path, body, len, 0600);
        if (r < 0) {
                log_error_errno(r, "metrics: cannot write %s; the batch of %zu samples is kept in memory only", path,
                                samples);
                usage_batch_add(u, seq, len, body);
        } else {
                log_debug("metrics: batch %020" PRIu64 " of %zu samples (%zu bytes) spooled", seq, samples, len);
                usage_batch_add(u, seq, len, NULL);
                free(body);
        }
        usage_spool_bound(u);
}

static int usage_seq_cmp(const void *a, const void *b) {
        const struct usage_spooled *x = a, *y = b;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* SEQ.json: 1 and its sequence number; 0 for any other name. */
static int usage_spool_name(const char *name, uint64_t *ret) {
        size_t digits = strspn(name, "0123456789");
        char *end;

        if (digits == 0 || digits > 20 || strcmp(name + digits, ".json") != 0)
                return 0;
        errno = 0;
        *ret = strtoull(name, &end, 10);
        return errno == 0 && *ret > 0;
}

static int usage_spool_load(struct usage *u) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        if (mkdir(u->spool, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "metrics: cannot make the spool directory %s", u->spool);
        d = opendir(u->spool);
        if (!d)
                return log_error_errno(errno, "metrics: cannot read the spool directory %s", u->spool);
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = xasprintf("%s/%s", u->spool, de->d_name);
                size_t len = strlen(de->d_name);
                struct stat st;
                uint64_t seq;

                if (de->d_name[0] == '.')
                        continue;
                if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
                        (void) unlink(path);            /* a write cut by a crash: its batch was never sent */
                        continue;
                }
                if (!usage_spool_name(de->d_name, &seq) || stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
                        log_warning("metrics: %s is not a batch of this spool; left alone", path);
                        continue;
                }
                usage_batch_add(u, seq, (size_t) st.st_size, NULL);
                if (seq >= u->next_seq)
                        u->next_seq = seq + 1;
        }
        if (u->n_batches > 1)
                qsort(u->batches, u->n_batches, sizeof *u->batches, usage_seq_cmp);
        usage_spool_bound(u);
        return 0;
}

/* ------------------------------------------------------------ lifecycle --- */

int usage_new(const struct usage_config *cfg, struct usage **ret) {
        _cleanup_(usage_freep) struct usage *u = NULL;
        int r;

        if (!cfg->spool || cfg->interval_seconds < 1 || cfg->batch_seconds < 1 || cfg->batch_max < 1)
                return -EINVAL;
        u = xnew(struct usage, 1);
        u->cfg = *cfg;
        if (u->cfg.spool_max == 0)
                u->cfg.spool_max = USAGE_SPOOL_MAX;
        u->spool = xstrdup(cfg->spool);
        u->cfg.spool = u->spool;
        u->next_seq = 1;
        u->backoff = CLIENT_BACKOFF_INITIAL_S;
        r = usage_spool_load(u);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

void usage_free(struct usage *u) {
        if (!u)
                return;
        for (size_t i = 0; i < u->n_batches; i++)
                free(u->batches[i].body);
        free(u->batches);
        usage_current_done(u);
        free(u->queue);
        free(u->base);
        free(u->spool);
        free(u);
}

size_t usage_queued(const struct usage *u) {
        return u->n_queue;
}

size_t usage_pending(const struct usage *u) {
        return u->n_batches;
}

/* ------------------------------------------------------------- sampling --- */

static int32_t usage_centi(double pct) {
        if (!(pct > 0))
                return 0;
        if (pct > 100)
                return 10000;
        return (int32_t) llround(pct * 100.0);
}

static const struct usage_base *usage_base_find(const struct usage *u, const char *uuid) {
        for (size_t i = 0; i < u->n_base; i++)
                if (strcmp(u->base[i].uuid, uuid) == 0)
                        return &u->base[i];
        return NULL;
}

/* R-RS1, R-RS3: CPU utilization over the interval; why not, when null. */
static int32_t usage_cpu(const struct hv_stat *s, const struct usage_base *b, int64_t mono_ns, const char **ret_why) {
        if (s->state != HV_STATE_RUNNING) {
                *ret_why = "not running";
                return USAGE_GAP;
        }
        if (s->cpu_time_ns < 0) {
                *ret_why = "no CPU time from the hypervisor";
                return USAGE_GAP;
        }
        if (!b) {
                *ret_why = "first sample";
                return USAGE_GAP;
        }
        if (s->cpu_time_ns < b->cpu_time_ns) {
                *ret_why = "CPU time went backwards (restarted)";
                return USAGE_GAP;
        }
        if (s->vcpus <= 0) {
                *ret_why = "no vCPU count";
                return USAGE_GAP;
        }
        if (mono_ns <= b->mono_ns) {
                *ret_why = "no time passed";
                return USAGE_GAP;
        }
        return usage_centi((double) (s->cpu_time_ns - b->cpu_time_ns) / ((double) (mono_ns - b->mono_ns) * (double) s->vcpus) *
                           100.0);
}

/* R-RS2, R-RS4: what the guest uses of what it has, from its balloon driver. */
static int32_t usage_memory(const struct hv_stat *s, const char **ret_why) {
        if (s->memory_available_kib < 0 || s->memory_unused_kib < 0) {
                *ret_why = "no balloon figures from the guest";
                return USAGE_GAP;
        }
        if (s->memory_available_kib == 0) {
                *ret_why = "balloon.available is 0";
                return USAGE_GAP;
        }
        return usage_centi((double) (s->memory_available_kib - s->memory_unused_kib) / (double) s->memory_available_kib *
                           100.0);
}

/* R-RS5: how much of its disks the domain has written. */
static int32_t usage_disk(const struct hv_stat *s, const char **ret_why) {
        if (s->disk_capacity_bytes <= 0 || s->disk_allocation_bytes < 0) {
                *ret_why = "no disk figures";
                return USAGE_GAP;
        }
        return usage_centi((double) s->disk_allocation_bytes / (double) s->disk_capacity_bytes * 100.0);
}

int usage_feed(struct usage *u, const struct hv_stat *stats, size_t n, int64_t mono_ns, int64_t wall,
               struct usage_sample **ret, size_t *ret_n) {
        struct usage_base *base = xnew(struct usage_base, n ? n : 1);
        size_t n_base = 0, first = u->n_queue, domains = 0;

        for (size_t i = 0; i < n; i++) {
                const struct hv_stat *s = &stats[i];
                const struct usage_base *b = usage_base_find(u, s->uuid);
                const char *cpu_why = NULL, *memory_why = NULL, *disk_why = NULL;
                struct usage_sample sample = { .time = wall };

                snprintf(sample.uuid, sizeof sample.uuid, "%s", s->uuid);
                sample.cpu = usage_cpu(s, b, mono_ns, &cpu_why);
                sample.memory = usage_memory(s, &memory_why);
                sample.disk = usage_disk(s, &disk_why);

                /* The next delta starts here; a domain off, or without a CPU
                 * time, starts again at its next figure. */
                if (s->state == HV_STATE_RUNNING && s->cpu_time_ns >= 0) {
                        base[n_base] = (struct usage_base) { .cpu_time_ns = s->cpu_time_ns, .mono_ns = mono_ns };
                        memcpy(base[n_base].uuid, sample.uuid, sizeof sample.uuid);
                        n_base++;
                }

                if (cpu_why || memory_why || disk_why)
                        log_debug("metrics: %s:%s%s%s%s%s%s%s%s%s", s->uuid, cpu_why ? " cpu_pct null: " : "", cpu_why ?: "",
                                  cpu_why && (memory_why || disk_why) ? ";" : "", memory_why ? " memory_pct null: " : "",
                                  memory_why ?: "", memory_why && disk_why ? ";" : "", disk_why ? " disk_pct null: " : "",
                                  disk_why ?: "", cpu_why && memory_why && disk_why ? " (no sample)" : "");
                /* A gap is a gap: a domain with no figure at all is no sample. */
                if (sample.cpu == USAGE_GAP && sample.memory == USAGE_GAP && sample.disk == USAGE_GAP)
                        continue;
                if (u->n_queue == u->cap_queue) {
                        u->cap_queue = u->cap_queue ? u->cap_queue * 2 : 64;
                        u->queue = xrealloc(u->queue, u->cap_queue * sizeof *u->queue);
                }
                u->queue[u->n_queue++] = sample;
                domains++;
        }
        free(u->base);
        u->base = base;
        u->n_base = n_base;
        log_debug("metrics: %zu domains, %zu samples queued (%zu in the queue)", n, domains, u->n_queue);

        if (ret) {
                *ret = xnew(struct usage_sample, domains ? domains : 1);
                if (domains > 0)
                        memcpy(*ret, u->queue + first, domains * sizeof **ret);
                *ret_n = domains;
        }
        if (u->n_queue >= u->cfg.batch_max)
                return usage_seal(u);
        return 0;
}

int usage_seal(struct usage *u) {
        size_t done = 0;
        int r;

        while (done < u->n_queue) {
                char *body;
                size_t len, taken;

                r = usage_body_take(u->queue + done, u->n_queue - done, u->cfg.batch_max, USAGE_BATCH_BYTES, &body, &len,
                                    &taken);
                if (r < 0)
                        return log_error_errno(r, "metrics: cannot make a batch of the queued samples");
                usage_spool(u, body, len, taken);
                done += taken;
        }
        u->n_queue = 0;
        return 0;
}

static int64_t usage_mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int usage_tick(struct usage *u, const struct hv_ops *ops, struct hv *hv, double now, int64_t wall) {
        int r = 0;

        if (!u->started) {
                u->started = true;
                u->next_sample = now;
                u->next_seal = now + u->cfg.batch_seconds;
        }
        if (now >= u->next_sample) {
                _cleanup_free_ struct hv_stat *stats = NULL;
                size_t n = 0;
                int64_t before = usage_mono_ns(), after;

                r = ops->stats(hv, &stats, &n);
                after = usage_mono_ns();
                if (r < 0) {
                        /* No figures this time: a gap, and the next deltas
                         * simply span it. */
                        if (!u->stats_failing)
                                log_warning_errno(r, "metrics: no statistics from the hypervisor; a gap until it gives them");
                        u->stats_failing = true;
                        r = 0;
                } else {
                        if (u->stats_failing)
                                log_notice("metrics: the hypervisor gives statistics again");
                        u->stats_failing = false;
                        /* The figures were taken during the call: its middle. */
                        r = usage_feed(u, stats, n, before + (after - before) / 2, wall, NULL, NULL);
                }
                u->next_sample += u->cfg.interval_seconds;
                if (u->next_sample <= now)
                        u->next_sample = now + u->cfg.interval_seconds;
        }
        if (now >= u->next_seal) {
                int k = usage_seal(u);
                if (k < 0 && r >= 0)
                        r = k;
                u->next_seal = now + u->cfg.batch_seconds;
        }
        return r;
}

double usage_deadline(const struct usage *u, double now) {
        double t;

        if (!u->started)
                return now;
        t = u->next_sample;
        if (u->n_queue > 0 && u->next_seal < t)
                t = u->next_seal;
        if (u->n_batches > 0 && u->retry_at < t)
                t = u->retry_at;
        return t;
}

/* ------------------------------------------------------------- sending --- */

static int usage_uuid_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Its samples and VMs, and whether the body is a batch at all. */
static int usage_batch_count(const char *body, size_t len, size_t *ret_samples, size_t *ret_vms) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_free_ const char **uuids = NULL;
        const cJSON *samples, *s;
        size_t n = 0, vms = 0;

        if (json_parse(body, len, &doc, NULL) < 0)
                return -EBADMSG;
        samples = cJSON_GetObjectItemCaseSensitive(doc, "samples");
        if (!cJSON_IsObject(doc) || !cJSON_IsArray(samples) || cJSON_GetArraySize(doc) != 1)
                return -EBADMSG;
        uuids = xnew(const char *, cJSON_GetArraySize(samples) + 1);
        cJSON_ArrayForEach(s, samples) {
                const char *uuid = str_at(s, "uuid");
                if (!uuid)
                        return -EBADMSG;
                uuids[n++] = uuid;
        }
        qsort(uuids, n, sizeof *uuids, usage_uuid_cmp);
        for (size_t i = 0; i < n; i++)
                if (i == 0 || strcmp(uuids[i], uuids[i - 1]) != 0)
                        vms++;
        *ret_samples = n;
        *ret_vms = vms;
        return 0;
}

const struct usage_batch *usage_next(struct usage *u, double now) {
        if (u->current.body)
                return &u->current;
        if (now < u->retry_at)
                return NULL;
        while (u->n_batches > 0) {
                struct usage_spooled *b = &u->batches[0];
                _cleanup_free_ char *path = usage_batch_path(u, b->seq), *body = NULL;
                size_t len = 0, samples, vms;
                int r;

                if (b->body) {
                        body = xmemdup(b->body, b->len + 1);
                        len = b->len;
                        r = 0;
                } else
                        r = gc_read_file(path, USAGE_BATCH_BYTES, &body, &len);
                if (r >= 0)
                        r = usage_batch_count(body, len, &samples, &vms);
                if (r < 0) {
                        log_warning_errno(r, "metrics: %s cannot be read as a batch; dropped", path);
                        usage_batch_remove(u);
                        continue;
                }
                u->current = (struct usage_batch) {
                        .seq = b->seq, .body = TAKE_PTR(body), .len = len, .samples = samples, .vms = vms,
                };
                return &u->current;
        }
        return NULL;
}

static void usage_backoff(struct usage *u, double now) {
        u->retry_at = now + u->backoff;
        u->backoff = u->backoff * 2 > CLIENT_BACKOFF_MAX_S ? CLIENT_BACKOFF_MAX_S : u->backoff * 2;
}

static void usage_backoff_reset(struct usage *u) {
        u->retry_at = 0;
        u->backoff = CLIENT_BACKOFF_INITIAL_S;
}

/* The answers that say the batch itself is wrong (agent.c's list). */
static bool usage_status_permanent(long status) {
        return status == 400 || status == 409 || status == 413 || status == 422;
}

int usage_answered(struct usage *u, long status, const cJSON *answer, double now) {
        const struct usage_batch *b = &u->current;

        assert(b->body && u->n_batches > 0 && u->batches[0].seq == b->seq);
        if (status == 200) {
                int64_t accepted = -1, ignored = 0;
                bool duplicate = false;
                (void) json_get_int(answer, "accepted", &accepted, NULL);
                (void) json_get_int(answer, "ignored", &ignored, NULL);
                (void) json_get_bool(answer, "duplicate", &duplicate, NULL);
                if (u->failing)
                        log_notice("metrics: the orchestrator takes batches again");
                log_info("metrics: sent %zu samples of %zu VMs%s%s", b->samples, b->vms,
                         duplicate ? "; the orchestrator had counted this batch already" : "",
                         ignored > 0 ? "; some are of VMs the orchestrator does not place on this host" : "");
                log_debug("metrics: batch %020" PRIu64 ": %" PRId64 " accepted, %" PRId64 " ignored, digest %s", b->seq,
                          accepted, ignored, str_at(answer, "digest") ?: "?");
                u->failing = false;
                usage_backoff_reset(u);
                usage_batch_remove(u);
                return 1;
        }
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(answer, "error");
        const char *code = str_at(e, "code"), *field = str_at(e, "field"), *value = str_at(e, "value");
        const char *message = str_at(e, "message");
        if (usage_status_permanent(status)) {
                /* Sending the same bytes again would be refused again. */
                if (field)
                        log_error("metrics: the orchestrator refused a batch of %zu samples (HTTP %ld%s%s): %s: \"%s\" %s; "
                                  "the batch is dropped", b->samples, status, code ? " " : "", code ?: "", field,
                                  value ?: "", message ?: "");
                else
                        log_error("metrics: the orchestrator refused a batch of %zu samples (HTTP %ld%s%s)%s%s; the batch "
                                  "is dropped", b->samples, status, code ? " " : "", code ?: "", message ? ": " : "",
                                  message ?: "");
                usage_backoff_reset(u);
                usage_batch_remove(u);
                return 1;
        }
        if (!u->failing)
                log_warning("metrics: POST /v1/metrics: HTTP %ld%s%s; %zu batch%s kept, sent again in %u s (backoff up to %u s)",
                            status, message ? ": " : "", message ?: "", u->n_batches, u->n_batches == 1 ? "" : "es",
                            u->backoff, CLIENT_BACKOFF_MAX_S);
        else
                log_debug("metrics: POST /v1/metrics: HTTP %ld again", status);
        u->failing = true;
        usage_current_done(u);
        usage_backoff(u, now);
        return 0;
}

void usage_unanswered(struct usage *u, double now) {
        log_debug("metrics: no answer; %zu batch%s kept", u->n_batches, u->n_batches == 1 ? "" : "es");
        usage_current_done(u);
        usage_backoff(u, now);
}
