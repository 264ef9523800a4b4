/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "journal.h"
#include "json.h"
#include "log.h"

#define JOURNAL_KIND_MAX 32
#define JOURNAL_UUID_MAX 64

struct journal_entry {
        int64_t job;
        char kind[JOURNAL_KIND_MAX];
        char uuid[JOURNAL_UUID_MAX];
        bool posted;
        cJSON *result;                  /* NULL while started, not done */
};

struct journal {
        char *path;
        int fd;                         /* O_APPEND */
        int lock_fd;
        size_t keep;
        size_t n_lines;                 /* lines in the file */

        struct journal_entry *done;     /* oldest first */
        size_t n_done, cap_done;
        struct journal_entry *started;  /* started, not done */
        size_t n_started, cap_started;
};

static void journal_entry_done(struct journal_entry *e) {
        cJSON_Delete(e->result);
        e->result = NULL;
}

static void journal_entry_set(struct journal_entry *e, int64_t job, const char *kind, const char *uuid) {
        *e = (struct journal_entry) { .job = job };
        snprintf(e->kind, sizeof e->kind, "%s", kind ?: "");
        snprintf(e->uuid, sizeof e->uuid, "%s", uuid ?: "");
}

static struct journal_entry *journal_find(struct journal_entry *v, size_t n, int64_t job) {
        for (size_t i = n; i > 0; i--)
                if (v[i - 1].job == job)
                        return &v[i - 1];
        return NULL;
}

static void journal_remove(struct journal_entry *v, size_t *n, struct journal_entry *e) {
        size_t i = e - v;

        journal_entry_done(e);
        memmove(v + i, v + i + 1, (*n - i - 1) * sizeof *v);
        (*n)--;
}

static void journal_note_started(struct journal *j, int64_t job, const char *kind, const char *uuid) {
        struct journal_entry *e = journal_find(j->started, j->n_started, job);

        if (!e) {
                if (j->n_started == j->cap_started) {
                        j->cap_started = j->cap_started ? 2 * j->cap_started : 16;
                        j->started = xrealloc(j->started, j->cap_started * sizeof *j->started);
                }
                e = &j->started[j->n_started++];
        }
        journal_entry_set(e, job, kind, uuid);
}

/* Takes result. */
static void journal_note_done(struct journal *j, int64_t job, const char *kind, const char *uuid, cJSON *result) {
        struct journal_entry *e;

        e = journal_find(j->started, j->n_started, job);
        if (e)
                journal_remove(j->started, &j->n_started, e);
        e = journal_find(j->done, j->n_done, job);
        if (e)
                journal_remove(j->done, &j->n_done, e);
        while (j->n_done > 0 && j->n_done >= j->keep)
                journal_remove(j->done, &j->n_done, &j->done[0]);
        if (j->n_done == j->cap_done) {
                j->cap_done = j->cap_done ? 2 * j->cap_done : 64;
                j->done = xrealloc(j->done, j->cap_done * sizeof *j->done);
        }
        e = &j->done[j->n_done++];
        journal_entry_set(e, job, kind, uuid);
        e->result = result;
}

static cJSON *journal_line_new(int64_t job, const char *state) {
        cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddNumberToObject(o, "job", (double) job) || !cJSON_AddStringToObject(o, "state", state))
                abort();
        return o;
}

static void journal_line_add_string(cJSON *o, const char *key, const char *value) {
        if (value && value[0] && !cJSON_AddStringToObject(o, key, value))
                abort();
}

static char *journal_line_render(const cJSON *o) {
        _cleanup_free_ char *text = cJSON_PrintUnformatted(o);

        if (!text)
                abort();
        return xasprintf("%s\n", text);
}

/* The lines that describe a done entry: done, then posted when it was. */
static int journal_render_entry(const struct journal_entry *e, struct gc_buf *b) {
        _cleanup_(cJSON_Deletep) cJSON *line = journal_line_new(e->job, "done");
        _cleanup_free_ char *text = NULL;
        int r;

        journal_line_add_string(line, "kind", e->kind);
        journal_line_add_string(line, "uuid", e->uuid);
        if (!cJSON_AddItemToObject(line, "result", cJSON_Duplicate(e->result, true)))
                abort();
        text = journal_line_render(line);
        r = gc_buf_append_str(b, text);
        if (r >= 0 && e->posted) {
                _cleanup_(cJSON_Deletep) cJSON *p = journal_line_new(e->job, "posted");
                _cleanup_free_ char *ptext = journal_line_render(p);
                r = gc_buf_append_str(b, ptext);
        }
        return r;
}

static int journal_write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= k;
        }
        return 0;
}

static int journal_fsync_dir(const char *path) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -1;
        const char *slash = strrchr(path, '/');

        dir = slash ? xstrndup(path, slash == path ? 1 : (size_t) (slash - path)) : xstrdup(".");
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

int journal_compact(struct journal *j) {
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", j->path);
        struct gc_buf b = GC_BUF_INIT(SIZE_MAX / 2);
        _cleanup_close_ int fd = -1;
        size_t lines = 0;
        int r;

        for (size_t i = 0; i < j->n_done; i++) {
                r = journal_render_entry(&j->done[i], &b);
                if (r < 0) {
                        gc_buf_free(&b);
                        return r;
                }
                lines += j->done[i].posted ? 2 : 1;
        }

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                gc_buf_free(&b);
                return log_error_errno(r, "journal: cannot create %s", tmp);
        }
        r = journal_write_all(fd, b.data ?: "", b.len);
        gc_buf_free(&b);
        if (r < 0 || fsync(fd) < 0) {
                r = r < 0 ? r : -errno;
                (void) unlink(tmp);
                return log_error_errno(r, "journal: cannot write %s", tmp);
        }
        if (rename(tmp, j->path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return log_error_errno(r, "journal: cannot rename %s to %s", tmp, j->path);
        }
        r = journal_fsync_dir(j->path);
        if (r < 0)
                log_warning_errno(r, "journal: cannot fsync the directory of %s", j->path);

        int afd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (afd < 0)
                return log_error_errno(errno, "journal: cannot open %s", j->path);
        if (j->fd >= 0)
                close(j->fd);
        j->fd = afd;
        j->n_lines = lines;
        log_debug("journal %s compacted: %zu done jobs, %zu lines", j->path, j->n_done, lines);
        return 0;
}

/* One line as read back. Lines that do not parse are skipped with a warning. */
static void journal_replay_line(struct journal *j, const char *line, size_t len, size_t lineno) {
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        struct gc_error err = {};
        const char *state = NULL, *kind = NULL, *uuid = NULL;
        int64_t job;
        int r;

        r = json_parse(line, len, &o, &err);
        if (r >= 0 && !cJSON_IsObject(o))
                r = -EINVAL;
        r = r < 0 ? r : json_get_int(o, "job", &job, &err);
        r = r < 0 ? r : json_get_string(o, "state", &state, &err);
        if (r < 0) {
                char buf[GC_ERROR_FORMAT_MAX];
                log_warning("journal %s line %zu: skipped, not a journal record: %s", j->path, lineno,
                            err.message[0] ? gc_error_format(&err, buf, sizeof buf) : "not an object");
                return;
        }
        (void) json_get_string(o, "kind", &kind, NULL);
        (void) json_get_string(o, "uuid", &uuid, NULL);

        if (strcmp(state, "started") == 0) {
                if (!journal_find(j->done, j->n_done, job))
                        journal_note_started(j, job, kind, uuid);
        } else if (strcmp(state, "done") == 0) {
                cJSON *result = cJSON_DetachItemFromObjectCaseSensitive(o, "result");
                if (!cJSON_IsObject(result)) {
                        cJSON_Delete(result);
                        log_warning("journal %s line %zu: skipped, job %lld done without a result object", j->path,
                                    lineno, (long long) job);
                        return;
                }
                journal_note_done(j, job, kind, uuid, result);
        } else if (strcmp(state, "posted") == 0) {
                struct journal_entry *e = journal_find(j->done, j->n_done, job);
                if (e)
                        e->posted = true;
        } else
                log_warning("journal %s line %zu: skipped, unknown state \"%s\"", j->path, lineno, state);
}

static int journal_read(struct journal *j) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0, lineno = 0;
        ssize_t n;

        f = fopen(j->path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "journal: cannot open %s", j->path);
        }
        while ((n = getline(&line, &size, f)) >= 0) {
                lineno++;
                if (n == 0 || line[n - 1] != '\n') {
                        log_notice("journal %s: the last line (%zd bytes) was cut short, probably by a crash; ignored",
                                   j->path, n);
                        break;
                }
                if ((size_t) n > JOURNAL_LINE_MAX) {
                        log_warning("journal %s line %zu: skipped, longer than %d bytes", j->path, lineno,
                                    JOURNAL_LINE_MAX);
                        continue;
                }
                if (n == 1)
                        continue;
                journal_replay_line(j, line, n - 1, lineno);
        }
        if (ferror(f))
                return log_error_errno(EIO, "journal: cannot read %s", j->path);
        return 0;
}

int journal_open(const char *path, size_t keep, struct journal **ret) {
        _cleanup_(journal_closep) struct journal *j = NULL;
        _cleanup_free_ char *lock = NULL;
        size_t unposted = 0;
        int r;

        j = xnew(struct journal, 1);
        j->path = xstrdup(path);
        j->fd = -1;
        j->keep = keep > 0 ? keep : 1;

        lock = xasprintf("%s.lock", path);
        j->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (j->lock_fd < 0)
                return log_error_errno(errno, "journal: cannot open %s", lock);
        if (flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return log_error_errno(EBUSY, "journal %s is in use by another process", path);
                return log_error_errno(errno, "journal: cannot lock %s", lock);
        }

        r = journal_read(j);
        if (r < 0)
                return r;
        r = journal_compact(j);
        if (r < 0)
                return r;

        for (size_t i = 0; i < j->n_done; i++)
                unposted += !j->done[i].posted;
        for (size_t i = 0; i < j->n_started; i++)
                log_notice("journal %s: job %lld %s %s was started and did not finish; it runs again when the orchestrator sends it again",
                           path, (long long) j->started[i].job, j->started[i].kind, j->started[i].uuid);
        log_info("journal %s: %zu done jobs kept, %zu of them to post again", path, j->n_done, unposted);

        *ret = TAKE_PTR(j);
        return 0;
}

void journal_close(struct journal *j) {
        if (!j)
                return;
        if (j->fd >= 0)
                close(j->fd);
        if (j->lock_fd >= 0)
                close(j->lock_fd);
        for (size_t i = 0; i < j->n_done; i++)
                journal_entry_done(&j->done[i]);
        free(j->done);
        free(j->started);
        free(j->path);
        free(j);
}

static int journal_append(struct journal *j, const cJSON *line, bool sync) {
        _cleanup_free_ char *text = journal_line_render(line);
        struct stat st;
        int r;

        if (strlen(text) > JOURNAL_LINE_MAX)
                return log_error_errno(E2BIG, "journal %s: a record of %zu bytes is too long", j->path, strlen(text));
        if (fstat(j->fd, &st) < 0)
                return log_error_errno(errno, "journal: cannot stat %s", j->path);
        r = journal_write_all(j->fd, text, strlen(text));
        if (r >= 0 && sync && fdatasync(j->fd) < 0)
                r = -errno;
        if (r < 0) {
                /* No half line stays behind for the next record to run into. */
                if (ftruncate(j->fd, st.st_size) < 0)
                        log_warning_errno(errno, "journal: cannot truncate %s after a failed write", j->path);
                return log_error_errno(r, "journal: cannot append to %s", j->path);
        }
        j->n_lines++;
        if (j->n_lines > 4 * j->keep + 64)
                (void) journal_compact(j);
        return 0;
}

int journal_started(struct journal *j, int64_t job, const char *kind, const char *uuid) {
        _cleanup_(cJSON_Deletep) cJSON *line = journal_line_new(job, "started");
        int r;

        journal_line_add_string(line, "kind", kind);
        journal_line_add_string(line, "uuid", uuid);
        r = journal_append(j, line, true);
        if (r < 0)
                return r;
        journal_note_started(j, job, kind, uuid);
        return 0;
}

int journal_done(struct journal *j, int64_t job, const char *kind, const char *uuid, const cJSON *result) {
        _cleanup_(cJSON_Deletep) cJSON *line = journal_line_new(job, "done");
        int r;

        journal_line_add_string(line, "kind", kind);
        journal_line_add_string(line, "uuid", uuid);
        if (!cJSON_AddItemToObject(line, "result", cJSON_Duplicate(result, true)))
                abort();
        r = journal_append(j, line, true);
        if (r < 0)
                return r;
        journal_note_done(j, job, kind, uuid, cJSON_Duplicate(result, true));
        return 0;
}

int journal_posted(struct journal *j, int64_t job) {
        struct journal_entry *e = journal_find(j->done, j->n_done, job);
        _cleanup_(cJSON_Deletep) cJSON *line = NULL;

        if (!e)
                return -ENOENT;
        if (e->posted)
                return 0;
        /* Marked in memory even when the line cannot be written: the file
         * without it only means one more post after a restart. */
        e->posted = true;
        line = journal_line_new(job, "posted");
        return journal_append(j, line, false);
}

int journal_lookup(const struct journal *j, int64_t job, cJSON **ret_result) {
        const struct journal_entry *e = journal_find(j->done, j->n_done, job);

        if (!e)
                return -ENOENT;
        *ret_result = cJSON_Duplicate(e->result, true);
        if (!*ret_result)
                abort();
        return 0;
}

bool journal_in_progress(const struct journal *j, int64_t job) {
        return journal_find(j->started, j->n_started, job) != NULL;
}

bool journal_created(const struct journal *j, const char *uuid) {
        for (size_t i = j->n_done; i > 0; i--) {
                const struct journal_entry *e = &j->done[i - 1];
                if (strcmp(e->uuid, uuid) != 0)
                        continue;
                return strcmp(e->kind, "vm.ensure") == 0 &&
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e->result, "ok"));
        }
        return false;
}

int journal_unposted(const struct journal *j, size_t max, cJSON **ret_results, int64_t **ret_jobs, size_t *ret_n) {
        _cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();
        _cleanup_free_ int64_t *jobs = NULL;
        size_t n = 0;

        if (!a)
                abort();
        jobs = xnew(int64_t, max > 0 ? max : 1);
        for (size_t i = 0; i < j->n_done && n < max; i++) {
                if (j->done[i].posted)
                        continue;
                if (!cJSON_AddItemToArray(a, cJSON_Duplicate(j->done[i].result, true)))
                        abort();
                jobs[n++] = j->done[i].job;
        }
        *ret_results = TAKE_PTR(a);
        *ret_jobs = TAKE_PTR(jobs);
        *ret_n = n;
        return 0;
}

size_t journal_n_done(const struct journal *j) {
        return j->n_done;
}

size_t journal_n_lines(const struct journal *j) {
        return j->n_lines;
}
