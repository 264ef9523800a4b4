/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's journal: append, read back, a line cut by a crash, compaction,
 * done-job lookup, posted marks, one process at a time. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "buf.h"
#include "journal.h"
#include "json.h"

#define UUID_A "6f1c2a3b-0000-4000-8000-00000000000a"
#define UUID_B "6f1c2a3b-0000-4000-8000-00000000000b"

struct fixture {
        char dir[64];
        char *path;
};

static int setup(void **state) {
        struct fixture *f = xnew(struct fixture, 1);
        snprintf(f->dir, sizeof f->dir, "/tmp/gc-agent-journal.XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        f->path = xasprintf("%s/agent.journal", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        char *p;

        unlink(f->path);
        p = xasprintf("%s.lock", f->path);
        unlink(p);
        free(p);
        p = xasprintf("%s.tmp", f->path);
        unlink(p);
        free(p);
        rmdir(f->dir);
        free(f->path);
        free(f);
        return 0;
}

static cJSON *result_new(int64_t job, bool ok, const char *uuid) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "job", (double) job);
        cJSON_AddBoolToObject(r, "ok", ok);
        if (ok) {
                cJSON *vm = cJSON_AddObjectToObject(r, "vm");
                cJSON_AddStringToObject(vm, "uuid", uuid);
                cJSON_AddStringToObject(vm, "title", "市xx局协同办公OA应用服务器1");
                cJSON_AddStringToObject(vm, "state", "running");
        } else
                cJSON_AddStringToObject(r, "error", "define: Input/output error");
        return r;
}

static void run_job(struct journal *j, int64_t job, const char *kind, const char *uuid, bool ok) {
        cJSON *r = result_new(job, ok, uuid);
        assert_int_equal(journal_started(j, job, kind, uuid), 0);
        assert_true(journal_in_progress(j, job));
        assert_int_equal(journal_done(j, job, kind, uuid, r), 0);
        assert_false(journal_in_progress(j, job));
        cJSON_Delete(r);
}

static char *file_text(const char *path) {
        char *data = NULL;
        size_t len;
        assert_int_equal(gc_read_file(path, 1 << 24, &data, &len), 0);
        return data;
}

static size_t count_lines(const char *text) {
        size_t n = 0;
        for (const char *p = text; *p; p++)
                n += *p == '\n';
        return n;
}

static void append_raw(const char *path, const char *bytes) {
        int fd = open(path, O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t) strlen(bytes));
        close(fd);
}

static void test_append_and_read_back(void **state) {
        struct fixture *f = *state;
        struct journal *j = NULL;
        cJSON *got = NULL;

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_n_done(j), 0);
        run_job(j, 12, "vm.ensure", UUID_A, true);
        run_job(j, 13, "vm.ensure", UUID_B, false);
        assert_int_equal(journal_started(j, 14, "vm.delete", UUID_A), 0);

        /* The lines as the brief shapes them, one JSON object each. */
        char *text = file_text(f->path);
        assert_non_null(strstr(text, "{\"job\":12,\"state\":\"started\",\"kind\":\"vm.ensure\",\"uuid\":\"" UUID_A "\"}\n"));
        assert_non_null(strstr(text, "{\"job\":12,\"state\":\"done\",\"kind\":\"vm.ensure\",\"uuid\":\"" UUID_A "\",\"result\":{\"job\":12,\"ok\":true,"));
        assert_int_equal(count_lines(text), 5);
        free(text);
        journal_close(j);

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_n_done(j), 2);
        assert_int_equal(journal_lookup(j, 12, &got), 0);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "vm"), "title")->valuestring,
                            "市xx局协同办公OA应用服务器1");
        cJSON_Delete(got);
        assert_int_equal(journal_lookup(j, 13, &got), 0);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(got, "ok")));
        cJSON_Delete(got);
        /* Started but not done: not a done job, remembered as interrupted. */
        assert_int_equal(journal_lookup(j, 14, &got), -ENOENT);
        assert_true(journal_in_progress(j, 14));
        assert_int_equal(journal_lookup(j, 99, &got), -ENOENT);
        journal_close(j);
}

/* A crash in the middle of a line leaves it without its newline: ignored,
 * and gone after the compaction on open, so the next record starts clean. */
static void test_cut_last_line(void **state) {
        struct fixture *f = *state;
        struct journal *j = NULL;
        cJSON *got = NULL;

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        run_job(j, 1, "vm.ensure", UUID_A, true);
        journal_close(j);
        append_raw(f->path, "{\"job\":2,\"state\":\"done\",\"kind\":\"vm.ensure\",\"result\":{\"job\":2,\"ok\":tr");

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_n_done(j), 1);
        assert_int_equal(journal_lookup(j, 2, &got), -ENOENT);
        char *text = file_text(f->path);
        assert_null(strstr(text, "\"job\":2"));
        assert_int_equal(text[strlen(text) - 1], '\n');
        free(text);
        run_job(j, 3, "vm.ensure", UUID_B, true);
        journal_close(j);

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_n_done(j), 2);
        assert_int_equal(journal_lookup(j, 3, &got), 0);
        cJSON_Delete(got);
        journal_close(j);

        /* A cut line that happens to be valid JSON is still a cut line. */
        append_raw(f->path, "{\"job\":4,\"state\":\"posted\"}");
        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_n_done(j), 2);
        journal_close(j);

        /* A damaged line in the middle is skipped, the rest is kept. */
        append_raw(f->path, "not json\n{\"job\":5,\"state\":\"done\",\"result\":{\"job\":5,\"ok\":true}}\n");
        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_n_done(j), 3);
        assert_int_equal(journal_lookup(j, 5, &got), 0);
        cJSON_Delete(got);
        journal_close(j);
}

static void test_compaction(void **state) {
        struct fixture *f = *state;
        struct journal *j = NULL;
        cJSON *got = NULL;

        assert_int_equal(journal_open(f->path, 3, &j), 0);
        for (int64_t id = 1; id <= 10; id++)
                run_job(j, id, "vm.ensure", UUID_A, true);
        assert_int_equal(journal_started(j, 11, "vm.ensure", UUID_B), 0);
        assert_int_equal(journal_posted(j, 9), 0);
        /* In memory too, only the last 3 are kept. */
        assert_int_equal(journal_n_done(j), 3);
        journal_close(j);

        char *text = file_text(f->path);
        assert_int_equal(count_lines(text), 2 * 10 + 1 + 1);
        free(text);

        assert_int_equal(journal_open(f->path, 3, &j), 0);
        assert_int_equal(journal_n_done(j), 3);
        assert_int_equal(journal_lookup(j, 7, &got), -ENOENT);
        for (int64_t id = 8; id <= 10; id++) {
                assert_int_equal(journal_lookup(j, id, &got), 0);
                assert_int_equal(cJSON_GetObjectItem(got, "job")->valuedouble, id);
                cJSON_Delete(got);
        }
        /* 3 done lines and the posted mark of job 9; the started job 11 is not kept. */
        assert_int_equal(journal_n_lines(j), 4);
        text = file_text(f->path);
        assert_int_equal(count_lines(text), 4);
        assert_null(strstr(text, "\"started\""));
        free(text);
        journal_close(j);

        /* The file is compacted while running too, once it has grown well past keep. */
        assert_int_equal(journal_open(f->path, 3, &j), 0);
        for (int64_t id = 100; id < 200; id++)
                run_job(j, id, "vm.ensure", UUID_A, true);
        assert_true(journal_n_lines(j) <= 4 * 3 + 64 + 1);
        journal_close(j);
        text = file_text(f->path);
        assert_true(count_lines(text) <= 4 * 3 + 64 + 1);
        free(text);
}

static void test_unposted(void **state) {
        struct fixture *f = *state;
        struct journal *j = NULL;
        cJSON *results = NULL;
        int64_t *jobs = NULL;
        size_t n = 0;

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        run_job(j, 1, "vm.ensure", UUID_A, true);
        run_job(j, 2, "vm.ensure", UUID_B, false);
        run_job(j, 3, "vm.delete", UUID_A, true);
        assert_int_equal(journal_posted(j, 2), 0);
        assert_int_equal(journal_posted(j, 42), -ENOENT);
        journal_close(j);

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_unposted(j, 100, &results, &jobs, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(jobs[0], 1);
        assert_int_equal(jobs[1], 3);
        assert_int_equal(cJSON_GetArraySize(results), 2);
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(results, 1), "job")->valuedouble, 3);
        cJSON_Delete(results);
        free(jobs);

        /* At most max at a time. */
        assert_int_equal(journal_unposted(j, 1, &results, &jobs, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(jobs[0], 1);
        cJSON_Delete(results);
        free(jobs);

        assert_int_equal(journal_posted(j, 1), 0);
        assert_int_equal(journal_posted(j, 3), 0);
        assert_int_equal(journal_unposted(j, 100, &results, &jobs, &n), 0);
        assert_int_equal(n, 0);
        cJSON_Delete(results);
        free(jobs);
        journal_close(j);

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_unposted(j, 100, &results, &jobs, &n), 0);
        assert_int_equal(n, 0);
        cJSON_Delete(results);
        free(jobs);
        journal_close(j);
}

static void test_created(void **state) {
        struct fixture *f = *state;
        struct journal *j = NULL;

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_false(journal_created(j, UUID_A));
        run_job(j, 1, "vm.ensure", UUID_A, false);
        assert_false(journal_created(j, UUID_A));
        run_job(j, 2, "vm.ensure", UUID_A, true);
        assert_true(journal_created(j, UUID_A));
        assert_false(journal_created(j, UUID_B));
        journal_close(j);

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_true(journal_created(j, UUID_A));
        run_job(j, 3, "vm.delete", UUID_A, true);
        assert_false(journal_created(j, UUID_A));
        journal_close(j);
}

static void test_one_process(void **state) {
        struct fixture *f = *state;
        struct journal *j = NULL, *k = NULL;

        assert_int_equal(journal_open(f->path, 1000, &j), 0);
        assert_int_equal(journal_open(f->path, 1000, &k), -EBUSY);
        assert_null(k);
        journal_close(j);
        assert_int_equal(journal_open(f->path, 1000, &k), 0);
        journal_close(k);
}

static void test_unwritable(void **state) {
        struct journal *j = NULL;

        assert_true(journal_open("/nonexistent-dir/agent.journal", 1000, &j) < 0);
        assert_null(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_append_and_read_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cut_last_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unposted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_created, setup, teardown),
                cmocka_unit_test_setup_teardown(test_one_process, setup, teardown),
                cmocka_unit_test(test_unwritable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
