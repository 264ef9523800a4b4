/* SPDX-License-Identifier: Apache-2.0 */
/* jobs.c against the real hypervisor backend on the libvirt test driver
 * (test:///default, in-process): ensure creates, converges, resizes and
 * relabels; delete removes and is idempotent; a job done in the journal is
 * not run again. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "alloc.h"
#include "hv.h"
#include "jobs.h"
#include "journal.h"
#include "json.h"

#define TITLE "市xx局协同办公OA应用服务器1"

struct fixture {
        char dir[64];
        char *path;
        struct hv *hv;
        struct journal *journal;
        struct jobs_env env;
};

static const struct hv_ops *ops = &hv_libvirt_ops;

static int setup(void **state) {
        struct fixture *f = xnew(struct fixture, 1);

        snprintf(f->dir, sizeof f->dir, "/tmp/gc-agent-jobs.XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        f->path = xasprintf("%s/agent.journal", f->dir);
        if (ops->open("test:///default", "default-pool", &f->hv) < 0)
                return -1;
        if (journal_open(f->path, 1000, &f->journal) < 0)
                return -1;
        f->env = (struct jobs_env) { .ops = ops, .hv = f->hv, .journal = f->journal };
        *state = f;
        return 0;
}

static void remove_file(const char *path, const char *suffix) {
        char *p = xasprintf("%s%s", path, suffix);
        unlink(p);
        free(p);
}

static int teardown(void **state) {
        struct fixture *f = *state;

        journal_close(f->journal);
        ops->close(f->hv);
        remove_file(f->path, "");
        remove_file(f->path, ".lock");
        rmdir(f->dir);
        free(f->path);
        free(f);
        return 0;
}

struct vm {
        const char *uuid;
        const char *title;
        const char *role;
        unsigned number;
        unsigned vcpus;
        unsigned memory_mib;
        unsigned system_gib, data_gib;
        bool running;
};

static cJSON *ensure_job(int64_t id, const struct vm *v) {
        char *text = xasprintf(
                "{\"id\": %lld, \"kind\": \"vm.ensure\", \"vm\": {\"uuid\": \"%s\", \"name\": \"gc-%s\", \"title\": \"%s\","
                " \"labels\": {\"unit\": \"市xx局\", \"system\": \"协同办公OA\", \"role\": \"%s\", \"number\": %u,"
                " \"request\": 7, \"pool\": \"包头-A\"},"
                " \"arch\": \"x86_64\", \"vcpus\": %u, \"max_vcpus\": 8, \"memory_mib\": %u, \"max_memory_mib\": 4096,"
                " \"disks\": [{\"name\": \"system\", \"gib\": %u, \"type\": \"SSD\"}, {\"name\": \"data\", \"gib\": %u, \"type\": \"SAS\"}],"
                " \"image\": null, \"running\": %s}}",
                (long long) id, v->uuid, v->uuid, v->title, v->role, v->number, v->vcpus, v->memory_mib, v->system_gib,
                v->data_gib, v->running ? "true" : "false");
        cJSON *job = NULL;
        assert_int_equal(json_parse(text, strlen(text), &job, NULL), 0);
        free(text);
        return job;
}

static cJSON *delete_job(int64_t id, const char *uuid) {
        char *text = xasprintf("{\"id\": %lld, \"kind\": \"vm.delete\", \"vm\": {\"uuid\": \"%s\"}}", (long long) id, uuid);
        cJSON *job = NULL;
        assert_int_equal(json_parse(text, strlen(text), &job, NULL), 0);
        free(text);
        return job;
}

/* Run a job; the result entry is returned, the outcome in *out. */
static cJSON *run(struct fixture *f, cJSON *job, struct jobs_outcome *out) {
        cJSON *result = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];

        if (jobs_run(&f->env, job, &result, out, &err) < 0)
                fail_msg("jobs_run: %s", gc_error_format(&err, buf, sizeof buf));
        cJSON_Delete(job);
        assert_non_null(result);
        return result;
}

static const cJSON *member(const cJSON *o, const char *path) {
        char *p = xasprintf("$.%s", path);
        const cJSON *v = json_path_get(o, p);
        free(p);
        if (!v)
                fail_msg("no %s in the result", path);
        return v;
}

static const char *s(const cJSON *o, const char *path) {
        const cJSON *v = member(o, path);
        assert_true(cJSON_IsString(v));
        return v->valuestring;
}

static double n(const cJSON *o, const char *path) {
        const cJSON *v = member(o, path);
        assert_true(cJSON_IsNumber(v));
        return v->valuedouble;
}

static bool b(const cJSON *o, const char *path) {
        const cJSON *v = member(o, path);
        assert_true(cJSON_IsBool(v));
        return cJSON_IsTrue(v);
}

static void assert_ok(const cJSON *result) {
        if (!b(result, "ok"))
                fail_msg("the job failed: %s", s(result, "error"));
}

static const struct vm vm_a = {
        .uuid = "0a000000-0000-4000-8000-000000000001", .title = TITLE, .role = "应用服务器", .number = 1,
        .vcpus = 2, .memory_mib = 1024, .system_gib = 40, .data_gib = 200, .running = true,
};

static void test_ensure_creates_and_converges(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct hv_domain d = {};
        cJSON *r;

        r = run(f, ensure_job(1, &vm_a), &out);
        assert_ok(r);
        assert_int_equal(n(r, "job"), 1);
        assert_true(out.created);
        assert_false(out.replayed);
        assert_true(b(r, "vm.created"));
        assert_false(b(r, "vm.recreated"));
        assert_string_equal(out.actions, "defined, started");
        assert_string_equal(s(r, "vm.uuid"), vm_a.uuid);
        assert_string_equal(s(r, "vm.name"), "gc-0a000000-0000-4000-8000-000000000001");
        assert_string_equal(s(r, "vm.title"), TITLE);
        assert_string_equal(s(r, "vm.state"), "running");
        assert_int_equal(n(r, "vm.vcpus"), 2);
        assert_int_equal(n(r, "vm.memory_mib"), 1024);
        assert_string_equal(s(r, "vm.labels.unit"), "市xx局");
        assert_string_equal(s(r, "vm.labels.system"), "协同办公OA");
        assert_string_equal(s(r, "vm.labels.role"), "应用服务器");
        assert_int_equal(n(r, "vm.labels.number"), 1);
        assert_int_equal(n(r, "vm.labels.request"), 7);
        assert_string_equal(s(r, "vm.labels.pool"), "包头-A");
        assert_int_equal(cJSON_GetArraySize(member(r, "vm.disks")), 2);
        cJSON_Delete(r);

        /* The same desired state under a new job id: nothing is redefined. */
        r = run(f, ensure_job(2, &vm_a), &out);
        assert_ok(r);
        assert_false(out.created);
        assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "vm"), "created"));
        assert_string_equal(out.actions, "unchanged");
        assert_string_equal(s(r, "vm.state"), "running");
        cJSON_Delete(r);

        assert_int_equal(ops->get(f->hv, vm_a.uuid, &d), 0);
        assert_int_equal(d.state, HV_STATE_RUNNING);
        hv_domain_done(&d);
}

/* More vCPUs and memory, bigger disks, another title and number. */
static void test_changed_spec(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct vm v = vm_a;
        cJSON *r;

        v.uuid = "0a000000-0000-4000-8000-000000000002";
        r = run(f, ensure_job(10, &v), &out);
        assert_ok(r);
        cJSON_Delete(r);

        v.vcpus = 4;
        v.memory_mib = 2048;
        v.data_gib = 300;
        v.title = "市xx局协同办公OA应用服务器2";
        v.number = 2;
        r = run(f, ensure_job(11, &v), &out);
        assert_ok(r);
        assert_false(out.created);
        assert_int_equal(n(r, "vm.vcpus"), 4);
        assert_int_equal(n(r, "vm.memory_mib"), 2048);
        assert_string_equal(s(r, "vm.title"), "市xx局协同办公OA应用服务器2");
        assert_int_equal(n(r, "vm.labels.number"), 2);
        assert_non_null(strstr(out.actions, "vcpus 2→4"));
        assert_non_null(strstr(out.actions, "memory 1024→2048 MiB"));
        assert_non_null(strstr(out.actions, "relabelled"));
        /* The test driver cannot grow a volume: noted, not a failure. */
        assert_string_equal(s(r, "disk_resize"), JOBS_DISK_RESIZE_UNSUPPORTED);
        assert_non_null(strstr(out.actions, "disk data resize unsupported"));
        cJSON_Delete(r);

        /* Only the role changes: the labels are compared exactly. */
        v.role = "数据库服务器";
        v.data_gib = 200;
        r = run(f, ensure_job(12, &v), &out);
        assert_ok(r);
        assert_string_equal(out.actions, "relabelled");
        assert_string_equal(s(r, "vm.labels.role"), "数据库服务器");
        assert_null(cJSON_GetObjectItem(r, "disk_resize"));
        cJSON_Delete(r);

        /* Not running any more. */
        v.running = false;
        r = run(f, ensure_job(13, &v), &out);
        assert_ok(r);
        assert_string_equal(out.actions, "shut down");
        assert_string_equal(s(r, "vm.state"), "shutoff");
        cJSON_Delete(r);
        v.running = true;
        r = run(f, ensure_job(14, &v), &out);
        assert_ok(r);
        assert_string_equal(out.actions, "started");
        assert_string_equal(s(r, "vm.state"), "running");
        cJSON_Delete(r);
}

static void test_delete(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct hv_domain d = {};
        struct vm v = vm_a;
        cJSON *r;

        v.uuid = "0a000000-0000-4000-8000-000000000003";
        r = run(f, ensure_job(20, &v), &out);
        assert_ok(r);
        cJSON_Delete(r);

        r = run(f, delete_job(21, v.uuid), &out);
        assert_ok(r);
        assert_string_equal(out.actions, "stopped, undefined");
        /* No VMSTATE: its state could only be one of those a domain has. */
        assert_null(cJSON_GetObjectItem(r, "vm"));
        cJSON_Delete(r);
        assert_int_equal(ops->get(f->hv, v.uuid, &d), -ENOENT);

        /* Deleting what is gone is success. */
        r = run(f, delete_job(22, v.uuid), &out);
        assert_ok(r);
        assert_string_equal(out.actions, "already gone");
        cJSON_Delete(r);

        /* A VM the agent made before and that went missing is reported as re-created. */
        v.uuid = "0a000000-0000-4000-8000-000000000004";
        r = run(f, ensure_job(23, &v), &out);
        assert_ok(r);
        assert_false(b(r, "vm.recreated"));
        cJSON_Delete(r);
        assert_int_equal(ops->shutdown(f->hv, v.uuid, true), 0);
        assert_int_equal(ops->undefine(f->hv, v.uuid), 0);
        r = run(f, ensure_job(24, &v), &out);
        assert_ok(r);
        assert_true(out.created);
        assert_true(b(r, "vm.recreated"));
        assert_string_equal(s(r, "vm.state"), "running");
        cJSON_Delete(r);
}

/* A job id the journal has as done is answered from the journal, also
 * after a restart, and the hypervisor is not touched. */
static void test_done_job_not_run_again(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct hv_domain d = {};
        struct vm v = vm_a;
        cJSON *r1, *r2;

        v.uuid = "0a000000-0000-4000-8000-000000000005";
        r1 = run(f, ensure_job(30, &v), &out);
        assert_ok(r1);

        /* Remove it behind the agent's back: running job 30 again would re-create it. */
        assert_int_equal(ops->shutdown(f->hv, v.uuid, true), 0);
        assert_int_equal(ops->undefine(f->hv, v.uuid), 0);

        r2 = run(f, ensure_job(30, &v), &out);
        assert_true(out.replayed);
        assert_false(out.created);
        assert_true(cJSON_Compare(r1, r2, true));
        cJSON_Delete(r2);
        assert_int_equal(ops->get(f->hv, v.uuid, &d), -ENOENT);

        /* After a restart of the agent (the journal read back). */
        journal_close(f->journal);
        assert_int_equal(journal_open(f->path, 1000, &f->journal), 0);
        f->env.journal = f->journal;
        r2 = run(f, ensure_job(30, &v), &out);
        assert_true(out.replayed);
        assert_true(cJSON_Compare(r1, r2, true));
        cJSON_Delete(r2);
        assert_int_equal(ops->get(f->hv, v.uuid, &d), -ENOENT);
        cJSON_Delete(r1);

        /* A failed job is done too: its failure is the answer. */
        r1 = run(f, cJSON_Parse("{\"id\": 31, \"kind\": \"vm.reboot\", \"vm\": {\"uuid\": \"x\"}}"), &out);
        assert_false(b(r1, "ok"));
        r2 = run(f, cJSON_Parse("{\"id\": 31, \"kind\": \"vm.reboot\", \"vm\": {\"uuid\": \"x\"}}"), &out);
        assert_true(out.replayed);
        assert_true(cJSON_Compare(r1, r2, true));
        cJSON_Delete(r1);
        cJSON_Delete(r2);
}

static void test_bad_jobs(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct gc_error err = {};
        cJSON *r = NULL, *job;

        r = run(f, cJSON_Parse("{\"id\": 40, \"kind\": \"vm.reboot\", \"vm\": {}}"), &out);
        assert_false(b(r, "ok"));
        assert_string_equal(s(r, "error"), "unknown job kind \"vm.reboot\"");
        cJSON_Delete(r);

        r = run(f, cJSON_Parse("{\"id\": 41, \"kind\": \"vm.ensure\", \"vm\": {\"uuid\": \"0a000000-0000-4000-8000-000000000009\","
                               " \"title\": \"t\", \"labels\": {\"unit\": \"u\", \"system\": \"s\", \"role\": \"r\", \"number\": 1},"
                               " \"vcpus\": 9, \"max_vcpus\": 8, \"memory_mib\": 512}}"),
                &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "vm.vcpus"));
        cJSON_Delete(r);

        r = run(f, cJSON_Parse("{\"id\": 42, \"kind\": \"vm.ensure\", \"vm\": {\"uuid\": \"not-a-uuid\"}}"), &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "vm.uuid"));
        cJSON_Delete(r);

        r = run(f, cJSON_Parse("{\"id\": 43, \"kind\": \"vm.delete\", \"vm\": {}}"), &out);
        assert_false(b(r, "ok"));
        cJSON_Delete(r);

        /* Tunnel jobs without the tunnel module, and malformed ones. */
        r = run(f, cJSON_Parse("{\"id\": 44, \"kind\": \"tunnel.open\", \"tunnel\": {\"id\": 7}}"), &out);
        assert_false(b(r, "ok"));
        assert_string_equal(s(r, "error"), JOBS_NO_TUNNELS);
        cJSON_Delete(r);
        r = run(f, cJSON_Parse("{\"id\": 45, \"kind\": \"tunnel.close\", \"tunnel\": {\"id\": 7}}"), &out);
        assert_false(b(r, "ok"));
        assert_string_equal(s(r, "error"), JOBS_NO_TUNNELS);
        cJSON_Delete(r);
        r = run(f, cJSON_Parse("{\"id\": 46, \"kind\": \"tunnel.close\", \"tunnel\": {\"id\": 0}}"), &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "tunnel.id"));
        cJSON_Delete(r);
        r = run(f, cJSON_Parse("{\"id\": 47, \"kind\": \"tunnel.open\"}"), &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "tunnel"));
        cJSON_Delete(r);

        /* Without an id there is nothing to answer. */
        job = cJSON_Parse("{\"kind\": \"vm.delete\", \"vm\": {}}");
        r = NULL;
        assert_int_equal(jobs_run(&f->env, job, &r, &out, &err), -EINVAL);
        assert_null(r);
        assert_string_equal(err.field, "id");
        cJSON_Delete(job);
}

static void test_inventory(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct vm v = vm_a;
        cJSON *r, *inv = NULL;
        const cJSON *d;
        bool found = false;

        v.uuid = "0a000000-0000-4000-8000-000000000006";
        r = run(f, ensure_job(50, &v), &out);
        assert_ok(r);
        cJSON_Delete(r);

        assert_int_equal(agent_inventory_build(ops, f->hv, &inv), 0);
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(inv, "domains")) {
                /* Only domains with govcloud metadata: not the test driver's own "test". */
                assert_true(strncmp(s(d, "name"), "gc-", 3) == 0);
                if (strcmp(s(d, "uuid"), v.uuid) == 0) {
                        found = true;
                        assert_string_equal(s(d, "title"), TITLE);
                        assert_string_equal(s(d, "state"), "running");
                }
        }
        assert_true(found);
        cJSON_Delete(inv);

        struct hv_capacity cap;
        struct config_capacity over = { .vcpus = 96, .arch = (char *) "aarch64" };
        assert_int_equal(agent_capacity(ops, f->hv, &over, &cap), 0);
        assert_int_equal(cap.vcpus, 96);
        assert_string_equal(cap.arch, "aarch64");
        assert_true(cap.memory_mib > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ensure_creates_and_converges, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changed_spec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_done_job_not_run_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_jobs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
