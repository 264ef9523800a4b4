/* SPDX-License-Identifier: Apache-2.0 */
/* jobs.c against the real hypervisor backend on the libvirt test driver
 * (test:///default, in-process): ensure creates, converges, resizes and
 * relabels; delete removes and is idempotent; a job done in the journal is
 * not run again; vm.stop; WIPESPEC errors and vm.wipe's refusals (the test
 * driver's volumes name no real file: refused, nothing written); encrypted
 * volumes need secrets the test driver does not have. */
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
#include "crypto.h"
#include "hv.h"
#include "jobs.h"
#include "journal.h"
#include "json.h"

#define TITLE "市xx局协同办公OA应用服务器1"

struct fixture {
        char dir[64];
        char *path, *wipe_dir;
        struct hv *hv;
        struct journal *journal;
        struct wipejobs *wipes;
        EVP_PKEY *key;
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
        f->wipe_dir = xasprintf("%s/wipe", f->dir);
        if (crypto_key_generate(GC_KEY_ED25519, &f->key) < 0)
                return -1;
        const struct wipejob_config wc = { .key = f->key, .state_dir = f->wipe_dir, .host = "host-a", .ops = ops, .hv = f->hv };
        if (wipejobs_new(&wc, &f->wipes) < 0)
                return -1;
        f->env = (struct jobs_env) { .ops = ops, .hv = f->hv, .journal = f->journal, .wipes = f->wipes,
                                     .storage_pool = "default-pool" };
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

        wipejobs_free(f->wipes);
        EVP_PKEY_free(f->key);
        journal_close(f->journal);
        ops->close(f->hv);
        remove_file(f->path, "");
        remove_file(f->path, ".lock");
        /* Nothing was wiped: no state file may be left. */
        assert_int_equal(rmdir(f->wipe_dir), 0);
        rmdir(f->dir);
        free(f->wipe_dir);
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

/* ------------------------------------------------------------- reclaim --- */

static cJSON *stop_job(int64_t id, const char *uuid) {
        char *text = xasprintf("{\"id\": %lld, \"kind\": \"vm.stop\", \"vm\": {\"uuid\": \"%s\"}}", (long long) id, uuid);
        cJSON *job = cJSON_Parse(text);
        free(text);
        assert_non_null(job);
        return job;
}

/* A vm.wipe job as the orchestrator sends it. */
static cJSON *wipe_job(int64_t id, const char *uuid, const char *method) {
        char *text = xasprintf("{\"id\": %lld, \"kind\": \"vm.wipe\", \"wipe\": {\"uuid\": \"%s\", \"method\": \"%s\","
                               " \"passes\": 1, \"verify\": \"full\", \"sample_blocks\": 4096,"
                               " \"approval\": \"approval-oa/OA-2026-0131\", \"operator\": \"provider:运维中心\"}}",
                               (long long) id, uuid, method);
        cJSON *job = NULL;
        assert_int_equal(json_parse(text, strlen(text), &job, NULL), 0);
        free(text);
        return job;
}

static void wipe_spec_refused(const char *json, const char *field, const char *message_part) {
        cJSON *w = cJSON_Parse(json);
        struct wipejob_spec spec = {};
        struct gc_error err = {};

        assert_non_null(w);
        assert_int_equal(jobs_wipe_spec_parse(w, 0, &spec, &err), -EINVAL);
        assert_string_equal(err.field, field);
        if (message_part && !strstr(err.message, message_part))
                fail_msg("%s: message \"%s\" lacks \"%s\"", field, err.message, message_part);
        cJSON_Delete(w);
}

#define WS_UUID "\"uuid\": \"0a000000-0000-4000-8000-0000000000e1\""
#define WS_WHO "\"approval\": \"a\", \"operator\": \"o\""

static void test_wipe_spec(void **state) {
        struct fixture *f = *state;
        struct wipejob_spec spec = {};
        struct jobs_outcome out;
        struct gc_error err = {};
        cJSON *w, *r;

        w = cJSON_Parse("{" WS_UUID ", \"method\": \"random\", \"passes\": 3, \"verify\": \"sampled\", " WS_WHO "}");
        assert_int_equal(jobs_wipe_spec_parse(w, 64, &spec, &err), 0);
        assert_string_equal(spec.uuid, "0a000000-0000-4000-8000-0000000000e1");
        assert_int_equal(spec.method, WIPE_RANDOM);
        assert_int_equal(spec.passes, 3);
        assert_int_equal(spec.sample_blocks, 64);       /* the configuration's */
        assert_string_equal(spec.approval, "a");
        assert_string_equal(spec.operator_name, "o");
        wipejob_spec_done(&spec);
        cJSON_Delete(w);

        w = cJSON_Parse("{" WS_UUID ", \"method\": \"crypto-erase\", \"verify\": \"sampled\", \"sample_blocks\": 9, " WS_WHO "}");
        assert_int_equal(jobs_wipe_spec_parse(w, 64, &spec, &err), 0);
        assert_int_equal(spec.method, WIPE_CRYPTO_ERASE);
        assert_int_equal(spec.passes, 1);
        assert_int_equal(spec.sample_blocks, 9);
        wipejob_spec_done(&spec);
        cJSON_Delete(w);

        /* Full by default, whatever sample_blocks says. */
        w = cJSON_Parse("{" WS_UUID ", \"method\": \"zero\", \"sample_blocks\": 9, " WS_WHO "}");
        assert_int_equal(jobs_wipe_spec_parse(w, 64, &spec, &err), 0);
        assert_int_equal(spec.sample_blocks, 0);
        wipejob_spec_done(&spec);
        cJSON_Delete(w);

        wipe_spec_refused("[]", "wipe", "object");
        wipe_spec_refused("{\"method\": \"zero\", " WS_WHO "}", "wipe.uuid", "required");
        wipe_spec_refused("{\"uuid\": \"x\", \"method\": \"zero\", " WS_WHO "}", "wipe.uuid", "UUID");
        wipe_spec_refused("{" WS_UUID ", " WS_WHO "}", "wipe.method", "required");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"shred\", " WS_WHO "}", "wipe.method", "zero, random or crypto-erase");
        wipe_spec_refused("{" WS_UUID ", \"method\": 1, " WS_WHO "}", "wipe.method", "string");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"zero\", \"passes\": 0, " WS_WHO "}", "wipe.passes", "1 to 7");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"zero\", \"passes\": 8, " WS_WHO "}", "wipe.passes", "1 to 7");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"zero\", \"passes\": \"2\", " WS_WHO "}", "wipe.passes", "integer");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"zero\", \"verify\": \"some\", " WS_WHO "}", "wipe.verify",
                          "full or sampled");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"zero\", \"verify\": \"sampled\", \"sample_blocks\": 0, " WS_WHO "}",
                          "wipe.sample_blocks", "integer");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"zero\", \"operator\": \"o\"}", "wipe.approval", "required");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"zero\", \"approval\": \"\", \"operator\": \"o\"}", "wipe.approval",
                          "R-AU3");
        wipe_spec_refused("{" WS_UUID ", \"method\": \"zero\", \"approval\": \"a\"}", "wipe.operator", "required");

        /* Through jobs_run: a failed result naming the field, nothing started. */
        r = run(f, cJSON_Parse("{\"id\": 60, \"kind\": \"vm.wipe\", \"wipe\": {" WS_UUID ", \"method\": \"dd\", " WS_WHO "}}"),
                &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "wipe.method"));
        assert_false(out.pending);
        cJSON_Delete(r);
        r = run(f, cJSON_Parse("{\"id\": 61, \"kind\": \"vm.wipe\"}"), &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "wipe"));
        cJSON_Delete(r);
}

static void assert_refused(const cJSON *r, const char *uuid, const char *field, const char *value, const char *reason_part) {
        assert_false(b(r, "ok"));
        assert_string_equal(s(r, "wipe.uuid"), uuid);
        assert_string_equal(s(r, "wipe.refused.field"), field);
        if (value)
                assert_string_equal(s(r, "wipe.refused.value"), value);
        else
                assert_true(cJSON_IsNull(member(r, "wipe.refused.value")));
        if (!strstr(s(r, "wipe.refused.reason"), reason_part))
                fail_msg("reason \"%s\" lacks \"%s\"", s(r, "wipe.refused.reason"), reason_part);
        assert_int_equal(cJSON_GetArraySize(member(r, "wipe.volumes")), 0);
        assert_true(strncmp(s(r, "error"), "refused: ", 9) == 0);
}

static void test_stop(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct vm v = vm_a;
        cJSON *r;

        v.uuid = "0a000000-0000-4000-8000-0000000000e2";
        r = run(f, ensure_job(70, &v), &out);
        assert_ok(r);
        cJSON_Delete(r);

        /* The test driver's domains go off at the ACPI request. */
        r = run(f, stop_job(71, v.uuid), &out);
        assert_ok(r);
        assert_string_equal(s(r, "vm.state"), "shutoff");
        assert_string_equal(s(r, "vm.uuid"), v.uuid);
        assert_non_null(strstr(out.actions, "shut down (ACPI"));
        cJSON_Delete(r);

        r = run(f, stop_job(72, v.uuid), &out);
        assert_ok(r);
        assert_string_equal(out.actions, "shut off already");
        assert_string_equal(s(r, "vm.state"), "shutoff");
        cJSON_Delete(r);

        r = run(f, stop_job(73, "0a000000-0000-4000-8000-0000000000ff"), &out);
        assert_false(b(r, "ok"));
        cJSON_Delete(r);
        r = run(f, cJSON_Parse("{\"id\": 74, \"kind\": \"vm.stop\", \"vm\": {\"uuid\": \"x\"}}"), &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "vm.uuid"));
        cJSON_Delete(r);

        /* As the agent runs it: the wait is in jobs_collect, not in jobs_run. */
        struct jobs_stops *stops = NULL;
        cJSON *results = NULL, *job;
        int64_t *ids = NULL;
        size_t count = 0;
        struct gc_error err = {};
        assert_int_equal(jobs_stops_new(&stops), 0);
        f->env.stops = stops;
        r = run(f, ensure_job(76, &v), &out);
        assert_ok(r);
        assert_string_equal(s(r, "vm.state"), "running");
        cJSON_Delete(r);
        job = stop_job(77, v.uuid);
        r = (cJSON *) job;
        assert_int_equal(jobs_run(&f->env, job, &r, &out, &err), 0);
        assert_null(r);
        assert_true(out.pending);
        assert_int_equal(jobs_stops_pending(stops), 1);
        /* Delivered again meanwhile: ignored. */
        r = (cJSON *) job;
        assert_int_equal(jobs_run(&f->env, job, &r, &out, &err), 0);
        assert_null(r);
        assert_true(out.pending);
        cJSON_Delete(job);
        assert_int_equal(jobs_collect(&f->env, &results, &ids, &count), 0);
        assert_int_equal(count, 1);
        assert_int_equal(ids[0], 77);
        r = cJSON_GetArrayItem(results, 0);
        assert_ok(r);
        assert_string_equal(s(r, "vm.state"), "shutoff");
        assert_int_equal(jobs_stops_pending(stops), 0);
        /* Journalled. */
        cJSON *again = run(f, stop_job(77, v.uuid), &out);
        assert_true(out.replayed);
        assert_true(cJSON_Compare(again, r, true));
        cJSON_Delete(again);
        cJSON_Delete(results);
        free(ids);
        /* Off already: a result at once. */
        r = run(f, stop_job(78, v.uuid), &out);
        assert_ok(r);
        assert_false(out.pending);
        cJSON_Delete(r);
        f->env.stops = NULL;
        jobs_stops_free(stops);

        r = run(f, delete_job(75, v.uuid), &out);
        assert_ok(r);
        cJSON_Delete(r);
}

/* Every refusal before a byte is written (R-EX3): no thread, no state file
 * (teardown checks the state directory is empty). */
static void test_wipe_refusals(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct vm v = vm_a;
        cJSON *r;

        v.uuid = "0a000000-0000-4000-8000-0000000000e3";
        r = run(f, wipe_job(80, v.uuid, "zero"), &out);
        assert_refused(r, v.uuid, "wipe.uuid", v.uuid, "no such domain");
        cJSON_Delete(r);

        r = run(f, ensure_job(81, &v), &out);
        assert_ok(r);
        cJSON_Delete(r);
        r = run(f, wipe_job(82, v.uuid, "zero"), &out);
        assert_refused(r, v.uuid, "wipe.uuid", v.uuid, "is running, not shut off");
        assert_false(out.pending);
        cJSON_Delete(r);

        r = run(f, stop_job(83, v.uuid), &out);
        assert_ok(r);
        cJSON_Delete(r);

        /* The test driver's volumes (/default-pool/NAME.img) name no real file. */
        char *path = xasprintf("/default-pool/gc-%s-system.img", v.uuid);
        r = run(f, wipe_job(84, v.uuid, "random"), &out);
        assert_refused(r, v.uuid, "volumes[0].path", path, "cannot be found");
        cJSON_Delete(r);
        r = run(f, wipe_job(85, v.uuid, "crypto-erase"), &out);
        assert_refused(r, v.uuid, "volumes[0].path", path, "cannot be found");
        cJSON_Delete(r);
        free(path);

        /* A refused job is done: the same id again is its journalled answer. */
        r = run(f, wipe_job(85, v.uuid, "crypto-erase"), &out);
        assert_true(out.replayed);
        assert_false(b(r, "ok"));
        cJSON_Delete(r);

        /* Without a key there is nothing to sign with: refused first. */
        struct wipejobs *keyless = NULL;
        const struct wipejob_config wc = { .state_dir = f->wipe_dir, .ops = ops, .hv = f->hv };
        assert_int_equal(wipejobs_new(&wc, &keyless), 0);
        assert_false(wipejobs_have_key(keyless));
        f->env.wipes = keyless;
        r = run(f, wipe_job(86, v.uuid, "zero"), &out);
        assert_refused(r, v.uuid, "wipe.signing_key", NULL, "no certificate of sanitization could be signed");
        cJSON_Delete(r);
        wipejobs_free(keyless);

        /* Without the module at all. */
        f->env.wipes = NULL;
        r = run(f, wipe_job(87, v.uuid, "zero"), &out);
        assert_false(b(r, "ok"));
        assert_string_equal(s(r, "error"), JOBS_NO_WIPE);
        cJSON_Delete(r);
        f->env.wipes = f->wipes;

        r = run(f, delete_job(88, v.uuid), &out);
        assert_ok(r);
        cJSON_Delete(r);
}

/* A domain without disks: the wipe goes to its thread and ends at once. The
 * same id while the module holds it is ignored; vm.delete waits for it;
 * the result comes from jobs_collect, journalled. */
static void test_wipe_thread(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct gc_error err = {};
        struct vm v = vm_a;
        cJSON *r, *results = NULL, *job;
        int64_t *ids = NULL;
        size_t count = 0;

        v.uuid = "0a000000-0000-4000-8000-0000000000e4";
        v.system_gib = v.data_gib = 0;
        v.running = false;
        r = run(f, ensure_job(90, &v), &out);
        assert_ok(r);
        assert_int_equal(cJSON_GetArraySize(member(r, "vm.disks")), 0);
        cJSON_Delete(r);

        job = wipe_job(91, v.uuid, "zero");
        r = (cJSON *) job;
        assert_int_equal(jobs_run(&f->env, job, &r, &out, &err), 0);
        assert_null(r);
        assert_true(out.pending);
        assert_true(wipejobs_known(f->wipes, 91));
        assert_int_equal(wipejobs_busy(f->wipes, v.uuid), 91);

        /* Delivered again: nothing done, still no result. */
        r = (cJSON *) job;
        assert_int_equal(jobs_run(&f->env, job, &r, &out, &err), 0);
        assert_null(r);
        assert_true(out.pending);
        cJSON_Delete(job);

        /* Another job on the same domain meanwhile: not run. */
        r = run(f, wipe_job(92, v.uuid, "zero"), &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "job 91 is wiping"));
        cJSON_Delete(r);
        r = run(f, delete_job(93, v.uuid), &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "job 91 is wiping"));
        cJSON_Delete(r);

        for (int i = 0; i < 500 && count == 0; i++) {
                cJSON_Delete(results);
                free(ids);
                assert_int_equal(jobs_collect(&f->env, &results, &ids, &count), 0);
                if (count == 0)
                        usleep(10000);
        }
        assert_int_equal(count, 1);
        assert_int_equal(ids[0], 91);
        const cJSON *res = cJSON_GetArrayItem(results, 0);
        assert_ok(res);
        assert_int_equal(n(res, "job"), 91);
        assert_string_equal(s(res, "wipe.uuid"), v.uuid);
        assert_int_equal(cJSON_GetArraySize(member(res, "wipe.volumes")), 0);
        assert_false(wipejobs_known(f->wipes, 91));

        /* Journalled: a later delivery is answered from the journal. */
        cJSON *again = run(f, wipe_job(91, v.uuid, "zero"), &out);
        assert_true(out.replayed);
        assert_true(cJSON_Compare(again, res, true));
        cJSON_Delete(again);
        cJSON_Delete(results);
        free(ids);

        /* Nothing more to collect. */
        assert_int_equal(jobs_collect(&f->env, &results, &ids, &count), 0);
        assert_int_equal(count, 0);
        cJSON_Delete(results);
        free(ids);

        r = run(f, delete_job(94, v.uuid), &out);
        assert_ok(r);
        cJSON_Delete(r);
}

/* VMSPEC "encrypted": the test driver has no libvirt secrets. */
static void test_encrypted_unsupported(void **state) {
        struct fixture *f = *state;
        struct jobs_outcome out;
        struct hv_domain d = {};
        struct hv_spec spec = {};
        struct gc_error err = {};
        bool running;
        const char *uuid = "0a000000-0000-4000-8000-0000000000e5";
        char *text = xasprintf("{\"id\": 95, \"kind\": \"vm.ensure\", \"vm\": {\"uuid\": \"%s\", \"title\": \"t\","
                               " \"labels\": {\"unit\": \"u\", \"system\": \"s\", \"role\": \"r\", \"number\": 1},"
                               " \"vcpus\": 1, \"memory_mib\": 512, \"disks\": [{\"name\": \"system\", \"gib\": 1}],"
                               " \"encrypted\": true}}", uuid);
        cJSON *r = run(f, cJSON_Parse(text), &out);
        free(text);
        assert_false(b(r, "ok"));
        assert_string_equal(s(r, "error"), JOBS_NO_SECRETS);
        cJSON_Delete(r);
        assert_int_equal(ops->get(f->hv, uuid, &d), -ENOENT);

        r = run(f, cJSON_Parse("{\"id\": 96, \"kind\": \"vm.ensure\", \"vm\": {\"uuid\": \"0a000000-0000-4000-8000-0000000000e6\","
                               " \"title\": \"t\", \"labels\": {\"unit\": \"u\", \"system\": \"s\", \"role\": \"r\", \"number\": 1},"
                               " \"vcpus\": 1, \"memory_mib\": 512, \"encrypted\": \"yes\"}}"), &out);
        assert_false(b(r, "ok"));
        assert_non_null(strstr(s(r, "error"), "vm.encrypted"));
        cJSON_Delete(r);

        cJSON *vm = cJSON_Parse("{\"uuid\": \"0a000000-0000-4000-8000-0000000000e6\", \"title\": \"t\", \"labels\": {\"unit\": \"u\","
                                " \"system\": \"s\", \"role\": \"r\", \"number\": 1}, \"vcpus\": 1, \"memory_mib\": 512}");
        assert_int_equal(jobs_spec_parse(vm, &spec, &running, &err), 0);
        assert_false(spec.encrypted);
        hv_spec_done(&spec);
        cJSON_AddTrueToObject(vm, "encrypted");
        assert_int_equal(jobs_spec_parse(vm, &spec, &running, &err), 0);
        assert_true(spec.encrypted);
        hv_spec_done(&spec);
        cJSON_Delete(vm);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ensure_creates_and_converges, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changed_spec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_done_job_not_run_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_jobs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wipe_spec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wipe_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wipe_thread, setup, teardown),
                cmocka_unit_test_setup_teardown(test_encrypted_unsupported, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
