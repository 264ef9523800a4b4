/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm.wipe through jobs_run (agent/jobs.h, agent/wipejob.h) against a real
 * libvirtd with dir pools (tests/system/wipe-qemu.sh starts it):
 *
 *   - two 8 MiB volumes of a shut-off domain, filled with a known pattern,
 *     wiped with zero, random, and crypto-erase (not LUKS: random, "fallback":
 *     "not encrypted"); read back with our own loop: no block of the pattern
 *     left; each certificate verifies with the host key (SM2);
 *   - refusals, with nothing written (the pattern still there): the domain
 *     running; a volume attached to another running domain; a volume in
 *     another pool, and a file in none; a symbolic link swapped in for a
 *     volume file;
 *   - kill -9 of a wiping child (throttled, --unsafe-test-wipe-throttle's
 *     option) half-way through a volume, then the same job again: resumed
 *     from the checkpoint, the whole volume verified; the same after the
 *     agent's own stop (wipejobs_stop, as on SIGTERM);
 *   - a byte changed between the last pass and the verification
 *     (--unsafe-test-wipe-corrupt's option): ok false, no certificate;
 *   - an encrypted VM made by vm.ensure ("encrypted": true) and started
 *     (qemu opens its LUKS volumes with their secrets), vm.stop (no guest
 *     OS takes the ACPI request: destroyed after 30 s), crypto-erase: the
 *     secrets gone, the header area overwritten, the certificates say Purge.
 *
 * Environment (set by wipe-qemu.sh): GC_HV_URI, GC_HV_POOL and
 * GC_HV_POOL_DIR (the managed pool), GC_HV_OTHER_POOL and
 * GC_HV_OTHER_POOL_DIR (another), GC_WIPE_DIR (a work directory on a disk
 * file system). Without GC_HV_URI it exits 77.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "gc/wire.h"

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"
#include "hv.h"
#include "jobs.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "wipe.h"
#include "wipejob.h"

#define VOL_SIZE (8ull * 1024 * 1024)
#define BLOCK 4096
#define CHILD_THROTTLE_BPS (1024 * 1024)        /* a chunk (4 MiB) at once, then 4 s */
#define WAIT_S 240

static const struct hv_ops *ops = &hv_libvirt_ops;
static const char *uri, *pool_name, *pool_dir, *other_pool, *other_dir, *work;
static struct hv *hv;
static virConnectPtr conn;
static EVP_PKEY *key;
static char *key_path, *state_dir;

static void on_libvirt_error(void *userdata, virErrorPtr err) {
}

/* ------------------------------------------------------------- helpers --- */

static void pattern_block(uint64_t i, uint8_t *b) {
        for (size_t k = 0; k < BLOCK; k += 64)
                snprintf((char *) b + k, 64, "GCPATTERN block %012ju fill ABCDEFGHIJKLMNOPQRSTUVWXYZ", (uintmax_t) i);
}

static void fill_pattern(const char *path, uint64_t size) {
        uint8_t b[BLOCK];
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (uint64_t i = 0; i < size / BLOCK; i++) {
                pattern_block(i, b);
                assert_int_equal(pwrite(fd, b, BLOCK, (off_t) (i * BLOCK)), BLOCK);
        }
        assert_int_equal(fsync(fd), 0);
        close(fd);
}

/* Blocks that still hold the pattern (or just its marker), and all-zero ones. */
static void scan(const char *path, uint64_t size, uint64_t *ret_pattern, uint64_t *ret_zero) {
        uint8_t b[BLOCK], p[BLOCK], z[BLOCK] = {};
        uint64_t pat = 0, zero = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (uint64_t i = 0; i < size / BLOCK; i++) {
                assert_int_equal(pread(fd, b, BLOCK, (off_t) (i * BLOCK)), BLOCK);
                pattern_block(i, p);
                if (memcmp(b, p, BLOCK) == 0 || memmem(b, BLOCK, "GCPATTERN", 9))
                        pat++;
                if (memcmp(b, z, BLOCK) == 0)
                        zero++;
        }
        close(fd);
        *ret_pattern = pat;
        *ret_zero = zero;
}

static void assert_pattern_intact(const char *path) {
        uint64_t pat, zero;
        scan(path, VOL_SIZE, &pat, &zero);
        if (pat != VOL_SIZE / BLOCK)
                fail_msg("%s: %ju of %ju blocks still hold the pattern: something was written", path, (uintmax_t) pat,
                         (uintmax_t) (VOL_SIZE / BLOCK));
}

static char *vol_name(const char *uuid, const char *disk) {
        return xasprintf("gc-%s-%s.img", uuid, disk);
}

static char *vol_path(const char *uuid, const char *disk) {
        return xasprintf("%s/gc-%s-%s.img", pool_dir, uuid, disk);
}

static void create_volume(const char *pool, const char *name, uint64_t size) {
        virStoragePoolPtr p = virStoragePoolLookupByName(conn, pool);
        assert_non_null(p);
        char *xml = xasprintf("<volume><name>%s</name><capacity unit='bytes'>%llu</capacity>"
                              "<allocation unit='bytes'>0</allocation><target><format type='raw'/></target></volume>",
                              name, (unsigned long long) size);
        virStorageVolPtr v = virStorageVolCreateXML(p, xml, 0);
        if (!v)
                fail_msg("create volume %s in %s: %s", name, pool, virGetLastErrorMessage());
        virStorageVolFree(v);
        virStoragePoolFree(p);
        free(xml);
}

static char *disk_volume_xml(const char *pool, const char *vol, char dev) {
        return xasprintf("<disk type='volume' device='disk'><driver name='qemu' type='raw'/>"
                         "<source pool='%s' volume='%s'/><target dev='vd%c' bus='virtio'/></disk>", pool, vol, dev);
}

static char *disk_file_xml(const char *path, char dev) {
        return xasprintf("<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                         "<source file='%s'/><target dev='vd%c' bus='virtio'/></disk>", path, dev);
}

/* A domain as vm.ensure would make it (name, metadata), with these disks. */
static void define_domain(const char *name, const char *uuid, bool ours, const char *disks) {
        char *xml = xasprintf("<domain type='qemu'><name>%s</name><uuid>%s</uuid>"
                              "%s<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
                              "<os><type arch='x86_64'>hvm</type></os><features><acpi/></features>"
                              "<devices>%s</devices></domain>",
                              name, uuid,
                              ours ? "<title>wipe test</title><metadata><gc:vm xmlns:gc='" GC_WIRE_XMLNS "'>"
                                     "<gc:unit>u</gc:unit><gc:system>s</gc:system><gc:role>r</gc:role>"
                                     "<gc:number>1</gc:number><gc:request>1</gc:request><gc:pool>p</gc:pool>"
                                     "</gc:vm></metadata>" : "",
                              disks);
        virDomainPtr d = virDomainDefineXML(conn, xml);
        if (!d)
                fail_msg("define %s: %s", name, virGetLastErrorMessage());
        virDomainFree(d);
        free(xml);
}

/* Our domain with a system and a data volume of VOL_SIZE, each filled. */
static void make_vm(const char *uuid) {
        _cleanup_free_ char *sys = vol_name(uuid, "system"), *data = vol_name(uuid, "data");
        _cleanup_free_ char *name = xasprintf("gc-%s", uuid);
        _cleanup_free_ char *d1 = disk_volume_xml(pool_name, sys, 'a'), *d2 = disk_volume_xml(pool_name, data, 'b');
        _cleanup_free_ char *disks = xasprintf("%s%s", d1, d2);
        _cleanup_free_ char *p1 = vol_path(uuid, "system"), *p2 = vol_path(uuid, "data");

        create_volume(pool_name, sys, VOL_SIZE);
        create_volume(pool_name, data, VOL_SIZE);
        define_domain(name, uuid, true, disks);
        fill_pattern(p1, VOL_SIZE);
        fill_pattern(p2, VOL_SIZE);
}

static void domain_start(const char *name) {
        virDomainPtr d = virDomainLookupByName(conn, name);
        assert_non_null(d);
        if (virDomainCreate(d) < 0)
                fail_msg("start %s: %s", name, virGetLastErrorMessage());
        virDomainFree(d);
}

static void domain_drop(const char *name) {
        virDomainPtr d = virDomainLookupByName(conn, name);
        if (!d)
                return;
        if (virDomainIsActive(d) == 1)
                virDomainDestroy(d);
        virDomainUndefine(d);
        virDomainFree(d);
}

static bool secret_exists(const char *uuid) {
        virSecretPtr s = virSecretLookupByUUIDString(conn, uuid);
        if (!s)
                return false;
        virSecretFree(s);
        return true;
}

/* ---------------------------------------------------------------- jobs --- */

struct fixture {
        char *journal_path;
        struct journal *journal;
        struct wipejobs *wipes;
        struct jobs_stops *stops;
        struct jobs_env env;
        cJSON *progress;                /* every progress entry seen */
        int64_t next_id;
};

static struct fixture *fixture_new(const char *name, bool corrupt) {
        struct fixture *f = xnew(struct fixture, 1);
        f->journal_path = xasprintf("%s/%s.journal", work, name);
        assert_int_equal(journal_open(f->journal_path, 1000, &f->journal), 0);
        const struct wipejob_config wc = {
                .key = key, .state_dir = state_dir, .host = "host-a", .ops = ops, .hv = hv, .test_corrupt = corrupt,
        };
        assert_int_equal(wipejobs_new(&wc, &f->wipes), 0);
        assert_int_equal(jobs_stops_new(&f->stops), 0);
        f->env = (struct jobs_env) { .ops = ops, .hv = hv, .journal = f->journal, .wipes = f->wipes,
                                     .storage_pool = pool_name, .wipe_sample_blocks = 4096, .stops = f->stops };
        f->progress = cJSON_CreateArray();
        f->next_id = 1000;
        return f;
}

static void fixture_free(struct fixture *f) {
        wipejobs_free(f->wipes);
        jobs_stops_free(f->stops);
        journal_close(f->journal);
        cJSON_Delete(f->progress);
        free(f->journal_path);
        free(f);
}

static cJSON *parse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *parse(const char *fmt, ...) {
        va_list ap;
        char *text;
        cJSON *doc = NULL;
        va_start(ap, fmt);
        assert_true(vasprintf(&text, fmt, ap) >= 0);
        va_end(ap);
        if (json_parse(text, strlen(text), &doc, NULL) < 0)
                fail_msg("not JSON: %s", text);
        free(text);
        return doc;
}

static cJSON *wipe_job(int64_t id, const char *uuid, const char *method) {
        return parse("{\"id\": %lld, \"kind\": \"vm.wipe\", \"wipe\": {\"uuid\": \"%s\", \"method\": \"%s\", \"passes\": 1,"
                     " \"verify\": \"full\", \"sample_blocks\": 4096, \"approval\": \"approval-oa/OA-2026-0131\","
                     " \"operator\": \"provider:运维中心\"}}", (long long) id, uuid, method);
}

/* Run a job to its result: a wipe's thread is waited for (its progress kept). */
static cJSON *run(struct fixture *f, cJSON *job) {
        struct jobs_outcome out;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        cJSON *result = NULL;

        if (jobs_run(&f->env, job, &result, &out, &err) < 0)
                fail_msg("jobs_run: %s", gc_error_format(&err, buf, sizeof buf));
        cJSON_Delete(job);
        for (int i = 0; !result && i < WAIT_S * 20; i++) {
                cJSON *results = NULL, *p;
                int64_t *ids = NULL;
                size_t n = 0;
                assert_true(out.pending);
                usleep(50 * 1000);
                assert_int_equal(jobs_collect(&f->env, &results, &ids, &n), 0);
                while ((p = wipejobs_progress(f->wipes, 0))) {
                        cJSON *e;
                        while ((e = cJSON_DetachItemFromArray(p, 0)))
                                cJSON_AddItemToArray(f->progress, e);
                        cJSON_Delete(p);
                }
                if (n > 0) {
                        assert_int_equal(n, 1);
                        result = cJSON_DetachItemFromArray(results, 0);
                }
                cJSON_Delete(results);
                free(ids);
        }
        assert_non_null(result);
        return result;
}

static const cJSON *at(const cJSON *o, const char *path) {
        char *p = xasprintf("$.%s", path);
        const cJSON *v = json_path_get(o, p);
        free(p);
        if (!v) {
                char *text = cJSON_Print(o);
                fail_msg("no %s in %s", path, text);
        }
        return v;
}

static const char *s(const cJSON *o, const char *path) {
        const cJSON *v = at(o, path);
        assert_true(cJSON_IsString(v));
        return v->valuestring;
}

static double n(const cJSON *o, const char *path) {
        const cJSON *v = at(o, path);
        assert_true(cJSON_IsNumber(v));
        return v->valuedouble;
}

static void assert_ok(const cJSON *r) {
        if (!cJSON_IsTrue(at(r, "ok")))
                fail_msg("the job failed: %s", cJSON_PrintUnformatted(r));
}

static void assert_refused(const cJSON *r, const char *field, const char *value_part, const char *reason_part) {
        if (cJSON_IsTrue(at(r, "ok")))
                fail_msg("not refused: %s", cJSON_PrintUnformatted(r));
        assert_string_equal(s(r, "wipe.refused.field"), field);
        if (value_part && !strstr(s(r, "wipe.refused.value"), value_part))
                fail_msg("refused value \"%s\" lacks \"%s\"", s(r, "wipe.refused.value"), value_part);
        if (!strstr(s(r, "wipe.refused.reason"), reason_part))
                fail_msg("reason \"%s\" lacks \"%s\"", s(r, "wipe.refused.reason"), reason_part);
        assert_int_equal(cJSON_GetArraySize(at(r, "wipe.volumes")), 0);
}

static void delete_vm(struct fixture *f, const char *uuid) {
        cJSON *r = run(f, parse("{\"id\": %lld, \"kind\": \"vm.delete\", \"vm\": {\"uuid\": \"%s\"}}",
                                (long long) f->next_id++, uuid));
        assert_ok(r);
        cJSON_Delete(r);
}

/* A signed certificate of a passed, whole-volume verification. */
static void assert_certificate(const cJSON *vw, const char *method, const char *category) {
        const cJSON *cert = at(vw, "certificate");
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];

        if (wipe_certificate_verify(cert, key, &err) < 0)
                fail_msg("certificate of %s: %s", s(vw, "path"), gc_error_format(&err, buf, sizeof buf));
        assert_string_equal(s(cert, "sanitization.method"), method);
        assert_string_equal(s(cert, "sanitization.category"), category);
        assert_string_equal(s(cert, "verification.result"), "pass");
        assert_string_equal(s(cert, "verification.method"), "full");
        assert_string_equal(s(cert, "volume.path"), s(vw, "path"));
        assert_string_equal(s(cert, "volume.pool"), pool_name);
        assert_string_equal(s(cert, "approval"), "approval-oa/OA-2026-0131");
        assert_string_equal(s(cert, "operator"), "provider:运维中心");
        assert_string_equal(s(cert, "host"), "host-a");
        assert_string_equal(s(cert, "signature.key_type"), "sm2");
        assert_int_equal((uint64_t) n(cert, "verification.bytes_checked"), (uint64_t) n(cert, "sanitization.range.length"));
}

/* The last progress entry of a volume says done. */
static void assert_progress_done(const struct fixture *f, int64_t job, const char *disk) {
        const cJSON *e, *last = NULL;
        cJSON_ArrayForEach(e, f->progress)
                if ((int64_t) n(e, "job") == job && strcmp(s(e, "disk"), disk) == 0)
                        last = e;
        if (!last)
                fail_msg("no progress for job %lld disk %s", (long long) job, disk);
        assert_string_equal(s(last, "phase"), "done");
        assert_int_equal((uint64_t) n(last, "done"), (uint64_t) n(last, "total"));
        assert_true(n(last, "time") > 1.7e12);
}

/* ---------------------------------------------------------------- tests --- */

static void test_wipe_methods(void **state) {
        static const struct {
                const char *uuid, *method, *cert_method;
                bool zeros, fallback;
        } cases[] = {
                { "7e000000-0000-4000-8000-000000000001", "zero", "zero", true, false },
                { "7e000000-0000-4000-8000-000000000002", "random", "random", false, false },
                { "7e000000-0000-4000-8000-000000000003", "crypto-erase", "random", false, true },
        };
        struct fixture *f = fixture_new("methods", false);

        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                const char *uuid = cases[c].uuid;
                const char *disks[] = { "system", "data" };
                int64_t id = f->next_id++;

                make_vm(uuid);
                cJSON *r = run(f, wipe_job(id, uuid, cases[c].method));
                assert_ok(r);
                assert_string_equal(s(r, "wipe.uuid"), uuid);
                assert_int_equal(cJSON_GetArraySize(at(r, "wipe.volumes")), 2);
                for (size_t i = 0; i < 2; i++) {
                        const cJSON *vw = cJSON_GetArrayItem(at(r, "wipe.volumes"), (int) i);
                        _cleanup_free_ char *path = vol_path(uuid, disks[i]);
                        uint64_t pat, zero;

                        assert_string_equal(s(vw, "disk"), disks[i]);
                        assert_string_equal(s(vw, "path"), path);
                        assert_string_equal(s(vw, "pool"), pool_name);
                        assert_certificate(vw, cases[c].cert_method, "Clear");
                        assert_int_equal((uint64_t) n(vw, "certificate.verification.bytes_checked"), VOL_SIZE);
                        if (cases[c].fallback)
                                assert_string_equal(s(vw, "fallback"), WIPEJOB_FALLBACK_NOT_ENCRYPTED);
                        else
                                assert_null(cJSON_GetObjectItem(vw, "fallback"));
                        assert_null(cJSON_GetObjectItem(vw, "resumed"));

                        scan(path, VOL_SIZE, &pat, &zero);
                        assert_int_equal(pat, 0);
                        assert_int_equal(zero, cases[c].zeros ? VOL_SIZE / BLOCK : 0);
                        assert_progress_done(f, id, disks[i]);

                        /* Its checkpoint, done, until the volume goes. */
                        _cleanup_free_ char *st = wipejobs_state_path(f->wipes, uuid, disks[i]);
                        assert_int_equal(access(st, F_OK), 0);
                }
                cJSON_Delete(r);
                delete_vm(f, uuid);
                _cleanup_free_ char *st = wipejobs_state_path(f->wipes, uuid, "system");
                assert_int_equal(access(st, F_OK), -1);
        }
        fixture_free(f);
}

static void test_refused_running(void **state) {
        const char *uuid = "7e000000-0000-4000-8000-000000000010";
        _cleanup_free_ char *name = xasprintf("gc-%s", uuid), *p1 = vol_path(uuid, "system"), *p2 = vol_path(uuid, "data");
        struct fixture *f = fixture_new("running", false);

        make_vm(uuid);
        domain_start(name);
        cJSON *r = run(f, wipe_job(f->next_id++, uuid, "zero"));
        assert_refused(r, "wipe.uuid", uuid, "is running, not shut off");
        cJSON_Delete(r);
        assert_pattern_intact(p1);
        assert_pattern_intact(p2);
        delete_vm(f, uuid);
        fixture_free(f);
}

static void test_refused_attached(void **state) {
        const char *uuid = "7e000000-0000-4000-8000-000000000011";
        const char *other = "wipe-test-other", *other_uuid = "7e000000-0000-4000-8000-0000000000a1";
        _cleanup_free_ char *p1 = vol_path(uuid, "system"), *p2 = vol_path(uuid, "data");
        _cleanup_free_ char *disk = disk_file_xml(p2, 'a');
        struct fixture *f = fixture_new("attached", false);

        make_vm(uuid);
        /* Someone else's domain, running with our data volume as its disk. */
        define_domain(other, other_uuid, false, disk);
        domain_start(other);
        cJSON *r = run(f, wipe_job(f->next_id++, uuid, "random"));
        assert_refused(r, "volumes[1].path", p2, "attached to running domain wipe-test-other");
        assert_non_null(strstr(s(r, "error"), "refused: volumes[1].path"));
        cJSON_Delete(r);
        assert_pattern_intact(p1);
        assert_pattern_intact(p2);
        domain_drop(other);

        /* Defined but not running: no longer in the way. */
        r = run(f, wipe_job(f->next_id++, uuid, "zero"));
        assert_ok(r);
        cJSON_Delete(r);
        delete_vm(f, uuid);
        fixture_free(f);
}

static void test_refused_outside_pool(void **state) {
        const char *uuid = "7e000000-0000-4000-8000-000000000012", *uuid2 = "7e000000-0000-4000-8000-000000000013";
        _cleanup_free_ char *sys = vol_name(uuid, "system"), *p1 = vol_path(uuid, "system");
        _cleanup_free_ char *other_path = xasprintf("%s/stray.img", other_dir);
        _cleanup_free_ char *loose = xasprintf("%s/loose.img", work);
        struct fixture *f = fixture_new("outside", false);

        /* Disk 1 in another pool of the same libvirtd. */
        create_volume(pool_name, sys, VOL_SIZE);
        create_volume(other_pool, "stray.img", VOL_SIZE);
        fill_pattern(p1, VOL_SIZE);
        fill_pattern(other_path, VOL_SIZE);
        _cleanup_free_ char *d1 = disk_volume_xml(pool_name, sys, 'a'), *d2 = disk_file_xml(other_path, 'b');
        _cleanup_free_ char *disks = xasprintf("%s%s", d1, d2), *name = xasprintf("gc-%s", uuid);
        define_domain(name, uuid, true, disks);
        cJSON *r = run(f, wipe_job(f->next_id++, uuid, "zero"));
        _cleanup_free_ char *want = xasprintf("not in managed pool %s (it is in pool %s)", pool_name, other_pool);
        assert_refused(r, "volumes[1].path", other_path, want);
        cJSON_Delete(r);
        assert_pattern_intact(p1);
        assert_pattern_intact(other_path);
        delete_vm(f, uuid);

        /* A file in no pool at all. */
        int fd = open(loose, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) VOL_SIZE), 0);
        close(fd);
        fill_pattern(loose, VOL_SIZE);
        _cleanup_free_ char *d3 = disk_file_xml(loose, 'a'), *name2 = xasprintf("gc-%s", uuid2);
        define_domain(name2, uuid2, true, d3);
        r = run(f, wipe_job(f->next_id++, uuid2, "zero"));
        _cleanup_free_ char *want2 = xasprintf("not in managed pool %s (libvirt knows no volume there)", pool_name);
        assert_refused(r, "volumes[0].path", loose, want2);
        cJSON_Delete(r);
        assert_pattern_intact(loose);
        delete_vm(f, uuid2);
        unlink(loose);

        virStoragePoolPtr p = virStoragePoolLookupByName(conn, other_pool);
        virStorageVolPtr v = p ? virStorageVolLookupByName(p, "stray.img") : NULL;
        if (v) {
                virStorageVolDelete(v, 0);
                virStorageVolFree(v);
        }
        if (p)
                virStoragePoolFree(p);
        fixture_free(f);
}

static void test_refused_symlink(void **state) {
        const char *uuid = "7e000000-0000-4000-8000-000000000014";
        _cleanup_free_ char *p1 = vol_path(uuid, "system"), *p2 = vol_path(uuid, "data");
        _cleanup_free_ char *moved = xasprintf("%s/moved-away.img", work);
        struct fixture *f = fixture_new("symlink", false);

        make_vm(uuid);
        /* The file libvirt names is now a link to one outside the pool. */
        assert_int_equal(rename(p1, moved), 0);
        assert_int_equal(symlink(moved, p1), 0);
        cJSON *r = run(f, wipe_job(f->next_id++, uuid, "zero"));
        assert_refused(r, "volumes[0].path", p1, "symbolic link");
        cJSON_Delete(r);
        assert_pattern_intact(moved);
        assert_pattern_intact(p2);
        assert_int_equal(unlink(p1), 0);
        assert_int_equal(rename(moved, p1), 0);
        delete_vm(f, uuid);
        fixture_free(f);
}

/* The child: the agent's side of one vm.wipe, throttled, until killed. */
static int child_wipe(const char *job_text, const char *journal_path) {
        struct journal *journal = NULL;
        struct wipejobs *wipes = NULL;
        struct hv *own = NULL;
        EVP_PKEY *k = NULL;
        cJSON *job = cJSON_Parse(job_text), *result = NULL;
        struct jobs_outcome out;
        struct gc_error err = {};

        if (!job || ops->open(uri, pool_name, &own) < 0 || journal_open(journal_path, 1000, &journal) < 0 ||
            crypto_key_load_private(key_path, &k) < 0)
                return 2;
        const struct wipejob_config wc = { .key = k, .state_dir = state_dir, .host = "host-a", .ops = ops, .hv = own,
                                           .test_throttle_bps = CHILD_THROTTLE_BPS };
        if (wipejobs_new(&wc, &wipes) < 0)
                return 2;
        const struct jobs_env env = { .ops = ops, .hv = own, .journal = journal, .wipes = wipes, .storage_pool = pool_name };
        if (jobs_run(&env, job, &result, &out, &err) < 0 || result || !out.pending)
                return 3;
        for (;;)
                pause();
}

static cJSON *state_read(const char *path) {
        cJSON *doc = NULL;
        if (json_parse_file(path, WIPE_STATE_MAX, &doc, NULL) < 0)
                return NULL;
        return doc;
}

static void test_kill_resume(void **state) {
        const char *uuid = "7e000000-0000-4000-8000-000000000015";
        _cleanup_free_ char *p1 = vol_path(uuid, "system"), *p2 = vol_path(uuid, "data");
        _cleanup_free_ char *journal_path = xasprintf("%s/resume.journal", work);
        int64_t id = 4242;
        _cleanup_(cJSON_Deletep) cJSON *job = wipe_job(id, uuid, "random");
        _cleanup_free_ char *job_text = cJSON_PrintUnformatted(job);
        uint64_t pat, zero;
        pid_t pid;
        int status;

        make_vm(uuid);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl("/proc/self/exe", "wipe-qemu", "--child-wipe", job_text, journal_path, (char *) NULL);
                _exit(127);
        }

        /* Half of the first volume on stable storage, then kill -9. */
        struct fixture *probe = fixture_new("probe", false);
        _cleanup_free_ char *st = wipejobs_state_path(probe->wipes, uuid, "system");
        fixture_free(probe);
        bool half = false;
        for (int i = 0; i < WAIT_S * 10 && !half; i++) {
                cJSON *doc = state_read(st);
                half = doc && strcmp(str_at(doc, "phase") ?: "", "write") == 0 && int_at(doc, "offset", 0) >= (long) WIPE_CHUNK;
                cJSON_Delete(doc);
                if (!half) {
                        assert_int_equal(waitpid(pid, &status, WNOHANG), 0);    /* still wiping */
                        usleep(100 * 1000);
                }
        }
        assert_true(half);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        scan(p1, VOL_SIZE, &pat, &zero);
        if (pat == 0 || pat == VOL_SIZE / BLOCK)
                fail_msg("killed mid-wipe, yet %ju of %ju blocks hold the pattern", (uintmax_t) pat,
                         (uintmax_t) (VOL_SIZE / BLOCK));
        assert_pattern_intact(p2);

        /* The agent again, on the same journal: the orchestrator sends the job again. */
        struct fixture *f = xnew(struct fixture, 1);
        f->journal_path = xstrdup(journal_path);
        assert_int_equal(journal_open(f->journal_path, 1000, &f->journal), 0);
        assert_true(journal_in_progress(f->journal, id));
        const struct wipejob_config wc = { .key = key, .state_dir = state_dir, .host = "host-a", .ops = ops, .hv = hv };
        assert_int_equal(wipejobs_new(&wc, &f->wipes), 0);
        f->env = (struct jobs_env) { .ops = ops, .hv = hv, .journal = f->journal, .wipes = f->wipes, .storage_pool = pool_name };
        f->progress = cJSON_CreateArray();
        f->next_id = 5000;
        cJSON *r = run(f, cJSON_Duplicate(job, true));
        assert_ok(r);
        const cJSON *v0 = cJSON_GetArrayItem(at(r, "wipe.volumes"), 0), *v1 = cJSON_GetArrayItem(at(r, "wipe.volumes"), 1);
        assert_int_equal((int) n(v0, "resumed.pass"), 1);
        assert_true((uint64_t) n(v0, "resumed.offset") >= WIPE_CHUNK);
        assert_true((uint64_t) n(v0, "resumed.offset") < VOL_SIZE);
        assert_null(cJSON_GetObjectItem(v1, "resumed"));
        /* Verified whole, not from the checkpoint on. */
        assert_int_equal((uint64_t) n(v0, "certificate.verification.bytes_checked"), VOL_SIZE);
        assert_certificate(v0, "random", "Clear");
        assert_certificate(v1, "random", "Clear");
        scan(p1, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, 0);
        scan(p2, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, 0);
        cJSON_Delete(r);
        delete_vm(f, uuid);
        fixture_free(f);
}

/* The agent stopping (SIGTERM) mid-wipe: wipejobs_stop makes the thread
 * checkpoint and end without a result; the job sent again after the
 * restart resumes there. */
static void test_stop_resume(void **state) {
        const char *uuid = "7e000000-0000-4000-8000-000000000018";
        _cleanup_free_ char *p1 = vol_path(uuid, "system");
        struct fixture *f = fixture_new("stop", false);
        int64_t id = 4343;
        cJSON *job = wipe_job(id, uuid, "zero"), *r = NULL, *results = NULL;
        struct jobs_outcome out;
        struct gc_error err = {};
        int64_t *ids = NULL;
        size_t count = 0;
        uint64_t pat, zero;

        make_vm(uuid);
        /* As --unsafe-test-wipe-throttle makes it: slow, a checkpoint per chunk. */
        wipejobs_free(f->wipes);
        const struct wipejob_config wc = { .key = key, .state_dir = state_dir, .host = "host-a", .ops = ops, .hv = hv,
                                           .test_throttle_bps = CHILD_THROTTLE_BPS };
        assert_int_equal(wipejobs_new(&wc, &f->wipes), 0);
        f->env.wipes = f->wipes;
        assert_int_equal(jobs_run(&f->env, job, &r, &out, &err), 0);
        assert_null(r);
        assert_true(out.pending);
        _cleanup_free_ char *st = wipejobs_state_path(f->wipes, uuid, "system");
        bool half = false;
        for (int i = 0; i < WAIT_S * 10 && !half; i++) {
                cJSON *doc = state_read(st);
                half = doc && int_at(doc, "offset", 0) >= (long) WIPE_CHUNK;
                cJSON_Delete(doc);
                if (!half)
                        usleep(100 * 1000);
        }
        assert_true(half);
        time_t t0 = time(NULL);
        wipejobs_stop(f->wipes);
        assert_true(time(NULL) - t0 <= 6);       /* after the chunk in hand */
        assert_int_equal(wipejobs_running(f->wipes), 0);
        assert_int_equal(jobs_collect(&f->env, &results, &ids, &count), 0);
        assert_int_equal(count, 0);            /* no result: sent again after the restart */
        cJSON_Delete(results);
        free(ids);
        scan(p1, VOL_SIZE, &pat, &zero);
        assert_true(pat > 0 && pat < VOL_SIZE / BLOCK);
        char *journal_path = xstrdup(f->journal_path);
        fixture_free(f);

        /* The restart: the same journal, the same job. */
        f = xnew(struct fixture, 1);
        f->journal_path = journal_path;
        assert_int_equal(journal_open(f->journal_path, 1000, &f->journal), 0);
        assert_true(journal_in_progress(f->journal, id));
        const struct wipejob_config wc2 = { .key = key, .state_dir = state_dir, .host = "host-a", .ops = ops, .hv = hv };
        assert_int_equal(wipejobs_new(&wc2, &f->wipes), 0);
        f->env = (struct jobs_env) { .ops = ops, .hv = hv, .journal = f->journal, .wipes = f->wipes, .storage_pool = pool_name };
        f->progress = cJSON_CreateArray();
        f->next_id = 6000;
        r = run(f, job);
        assert_ok(r);
        const cJSON *v0 = cJSON_GetArrayItem(at(r, "wipe.volumes"), 0);
        assert_true((uint64_t) n(v0, "resumed.offset") >= WIPE_CHUNK);
        assert_int_equal((uint64_t) n(v0, "certificate.verification.bytes_checked"), VOL_SIZE);
        assert_certificate(v0, "zero", "Clear");
        scan(p1, VOL_SIZE, &pat, &zero);
        assert_int_equal(zero, VOL_SIZE / BLOCK);
        cJSON_Delete(r);
        delete_vm(f, uuid);
        fixture_free(f);
}

static void test_corrupt(void **state) {
        const char *uuid = "7e000000-0000-4000-8000-000000000016";
        _cleanup_free_ char *p1 = vol_path(uuid, "system");
        struct fixture *f = fixture_new("corrupt", true);
        uint64_t pat, zero;

        make_vm(uuid);
        cJSON *r = run(f, wipe_job(f->next_id++, uuid, "zero"));
        assert_false(cJSON_IsTrue(at(r, "ok")));
        assert_non_null(strstr(s(r, "error"), "verification"));
        assert_null(cJSON_GetObjectItem(at(r, "wipe"), "refused"));
        assert_int_equal(cJSON_GetArraySize(at(r, "wipe.volumes")), 0);        /* no certificate */
        cJSON_Delete(r);
        /* Overwritten, but for the byte changed behind the wipe's back. */
        scan(p1, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, 0);
        assert_int_equal(zero, VOL_SIZE / BLOCK - 1);
        /* The next try writes every pass again. */
        _cleanup_free_ char *st = wipejobs_state_path(f->wipes, uuid, "system");
        cJSON *doc = state_read(st);
        assert_non_null(doc);
        assert_string_equal(str_at(doc, "phase"), "write");
        assert_int_equal(int_at(doc, "offset", -1), 0);
        assert_int_equal(int_at(doc, "failed_verifications", 0), 1);
        cJSON_Delete(doc);
        fixture_free(f);

        f = fixture_new("corrupt-again", false);
        r = run(f, wipe_job(f->next_id++, uuid, "zero"));
        assert_ok(r);
        assert_certificate(cJSON_GetArrayItem(at(r, "wipe.volumes"), 0), "zero", "Clear");
        cJSON_Delete(r);
        scan(p1, VOL_SIZE, &pat, &zero);
        assert_int_equal(zero, VOL_SIZE / BLOCK);
        delete_vm(f, uuid);
        fixture_free(f);
}

static void test_crypto_erase(void **state) {
        const char *uuid = "7e000000-0000-4000-8000-000000000017";
        const char *disks[] = { "system", "data" };
        struct fixture *f = fixture_new("luks", false);
        struct hv_volume *vols = NULL;
        size_t nv = 0;
        uint8_t *before[2] = {};
        uint64_t payload[2] = {};
        char *secrets[2] = {};
        cJSON *r;

        r = run(f, parse("{\"id\": %lld, \"kind\": \"vm.ensure\", \"vm\": {\"uuid\": \"%s\", \"title\": \"市xx局加密1\","
                         " \"labels\": {\"unit\": \"市xx局\", \"system\": \"s\", \"role\": \"r\", \"number\": 1},"
                         " \"vcpus\": 1, \"memory_mib\": 128, \"disks\": [{\"name\": \"system\", \"gib\": 1},"
                         " {\"name\": \"data\", \"gib\": 1}], \"running\": true, \"encrypted\": true}}",
                         (long long) f->next_id++, uuid));
        assert_ok(r);
        /* qemu opened both LUKS volumes with their secrets. */
        assert_string_equal(s(r, "vm.state"), "running");
        cJSON_Delete(r);

        assert_int_equal(ops->volumes(hv, uuid, &vols, &nv), 0);
        assert_int_equal(nv, 2);
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *path = vol_path(uuid, disks[i]);
                assert_string_equal(vols[i].disk, disks[i]);
                assert_string_equal(vols[i].path, path);
                assert_string_equal(vols[i].format, "luks");
                assert_non_null(vols[i].secret);
                assert_true(secret_exists(vols[i].secret));
                secrets[i] = xstrdup(vols[i].secret);
                before[i] = xmalloc(4 << 20);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(pread(fd, before[i], 4 << 20, 0), 4 << 20);
                close(fd);
                assert_int_equal(wipe_luks_payload_offset(before[i], 4 << 20, &payload[i]), 0);
                assert_true(payload[i] > 0 && payload[i] <= (4u << 20));
        }
        assert_string_not_equal(secrets[0], secrets[1]);
        hv_volumes_free(vols, nv);

        /* R-EX2: stopped first. No guest OS takes the ACPI request: after
         * JOBS_STOP_TIMEOUT_S the domain is destroyed (the wait is in
         * jobs_collect, as in the agent's loop). */
        time_t t0 = time(NULL);
        r = run(f, parse("{\"id\": %lld, \"kind\": \"vm.stop\", \"vm\": {\"uuid\": \"%s\"}}", (long long) f->next_id++, uuid));
        assert_ok(r);
        assert_string_equal(s(r, "vm.state"), "shutoff");
        assert_true(time(NULL) - t0 >= JOBS_STOP_TIMEOUT_S - 1);
        cJSON_Delete(r);

        int64_t id = f->next_id++;
        r = run(f, wipe_job(id, uuid, "crypto-erase"));
        assert_ok(r);
        for (size_t i = 0; i < 2; i++) {
                const cJSON *vw = cJSON_GetArrayItem(at(r, "wipe.volumes"), (int) i);
                _cleanup_free_ char *path = vol_path(uuid, disks[i]);
                assert_string_equal(s(vw, "disk"), disks[i]);
                assert_null(cJSON_GetObjectItem(vw, "fallback"));
                assert_certificate(vw, "crypto-erase", "Purge");
                assert_string_equal(s(vw, "certificate.sanitization.technique"), "cryptographic erase");
                assert_string_equal(s(vw, "certificate.sanitization.key_destruction.libvirt_secret"), secrets[i]);
                assert_string_equal(s(vw, "certificate.sanitization.key_destruction.action"), "undefined");
                assert_int_equal((uint64_t) n(vw, "certificate.sanitization.range.length"), payload[i]);
                assert_int_equal((uint64_t) n(vw, "certificate.volume.size"), (1ull << 30) + payload[i]);
                assert_string_equal(s(vw, "certificate.volume.format"), "luks");
                assert_progress_done(f, id, disks[i]);

                /* The key is gone... */
                assert_false(secret_exists(secrets[i]));
                /* ... and no block of the header and key slots is what it was. */
                uint8_t *after = xmalloc(payload[i]);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(pread(fd, after, payload[i], 0), (ssize_t) payload[i]);
                close(fd);
                assert_true(memcmp(after, "LUKS\xba\xbe", 6) != 0);
                for (uint64_t off = 0; off < payload[i]; off += BLOCK)
                        if (memcmp(after + off, before[i] + off, BLOCK) == 0)
                                fail_msg("%s: block at %ju of the header area is unchanged", path, (uintmax_t) off);
                free(after);
                free(before[i]);
                free(secrets[i]);
        }
        cJSON_Delete(r);
        delete_vm(f, uuid);
        fixture_free(f);
}

/* ---------------------------------------------------------------- main --- */

static int group_setup(void **state) {
        log_parse_environment();
        if (log_get_max_level() < LOG_LEVEL_DEBUG)
                log_set_max_level(LOG_LEVEL_WARNING);
        if (ops->open(uri, pool_name, &hv) < 0) {
                fprintf(stderr, "cannot open %s with pool %s\n", uri, pool_name);
                return -1;
        }
        conn = virConnectOpen(uri);
        if (!conn)
                return -1;
        virConnSetErrorFunc(conn, NULL, on_libvirt_error);
        /* The host's wipe key, as scripts/pki.sh makes one: SM2. */
        if (crypto_key_generate(GC_KEY_SM2, &key) < 0)
                return -1;
        key_path = xasprintf("%s/host-a.key", work);
        BIO *b = BIO_new_file(key_path, "w");
        if (!b || PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1)
                return -1;
        BIO_free(b);
        state_dir = xasprintf("%s/wipe-state", work);
        return 0;
}

static int group_teardown(void **state) {
        EVP_PKEY_free(key);
        ops->close(hv);
        if (conn)
                virConnectClose(conn);
        free(key_path);
        free(state_dir);
        return 0;
}

static const char *env_or_die(const char *name) {
        const char *v = getenv(name);
        if (!v || !*v) {
                fprintf(stderr, "wipe-qemu: %s is not set (run tests/system/wipe-qemu.sh)\n", name);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        uri = getenv("GC_HV_URI");
        if (!uri || !*uri) {
                printf("SKIP: needs a real libvirtd: GC_HV_URI is not set (run tests/system/wipe-qemu.sh)\n");
                return 77;
        }
        virSetErrorFunc(NULL, on_libvirt_error);
        pool_name = env_or_die("GC_HV_POOL");
        pool_dir = env_or_die("GC_HV_POOL_DIR");
        other_pool = env_or_die("GC_HV_OTHER_POOL");
        other_dir = env_or_die("GC_HV_OTHER_POOL_DIR");
        work = env_or_die("GC_WIPE_DIR");
        if (argc == 4 && strcmp(argv[1], "--child-wipe") == 0) {
                key_path = xasprintf("%s/host-a.key", work);
                state_dir = xasprintf("%s/wipe-state", work);
                log_set_max_level(LOG_LEVEL_WARNING);
                return child_wipe(argv[2], argv[3]);
        }

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wipe_methods),
                cmocka_unit_test(test_refused_running),
                cmocka_unit_test(test_refused_attached),
                cmocka_unit_test(test_refused_outside_pool),
                cmocka_unit_test(test_refused_symlink),
                cmocka_unit_test(test_kill_resume),
                cmocka_unit_test(test_stop_resume),
                cmocka_unit_test(test_corrupt),
                cmocka_unit_test(test_crypto_erase),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
