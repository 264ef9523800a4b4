/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libvirt backend of hv.h. By default against the test driver
 * (test:///default, in this process); GC_HV_URI and GC_HV_POOL point it at a
 * real libvirtd (tests/system/hv-qemu.sh), where disks really grow.
 *
 * All connections to test:///default in one process share one state: every
 * test uses UUIDs of its own, and removes what it made. A test first
 * removes what an earlier, interrupted run may have left on a real libvirtd.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "gc/wire.h"

#include "hv.h"
#include "log.h"

#define GIB (UINT64_C(1) << 30)

/* Text with everything XML must escape, and more than one script. */
#define UNIT "市xx局<>&'\""
#define SYSTEM "协同办公OA"
#define ROLE "应用服务器"
#define POOL "包头-A &amp; <b>"
#define TITLE "市xx局<>&'\"协同办公OA应用服务器1"

static const struct hv_ops *ops = &hv_libvirt_ops;
static struct hv *hv;
static virConnectPtr conn;              /* for looking behind the backend's back */
static const char *uri, *pool_name;
static bool real;                       /* not the test driver: disks can grow */

static void on_libvirt_error(void *userdata, virErrorPtr err) {
}

static int group_setup(void **state) {
        log_parse_environment();
        if (log_get_max_level() < LOG_LEVEL_DEBUG)
                log_set_max_level(LOG_LEVEL_ERROR);

        uri = getenv("GC_HV_URI");
        if (!uri || !*uri)
                uri = "test:///default";
        pool_name = getenv("GC_HV_POOL");
        if (!pool_name || !*pool_name)
                pool_name = "default-pool";

        if (ops->open(uri, pool_name, &hv) < 0) {
                fprintf(stderr, "cannot open %s with pool %s\n", uri, pool_name);
                return -1;
        }
        conn = virConnectOpen(uri);
        if (!conn)
                return -1;
        virSetErrorFunc(NULL, on_libvirt_error);
        real = strcasecmp(virConnectGetType(conn), "test") != 0;
        return 0;
}

static int group_teardown(void **state) {
        ops->close(hv);
        if (conn)
                virConnectClose(conn);
        return 0;
}

static struct hv_spec spec_make(const char *uuid) {
        struct hv_spec s = {
                .title = strdup(TITLE),
                .labels = {
                        .unit = strdup(UNIT),
                        .system = strdup(SYSTEM),
                        .role = strdup(ROLE),
                        .number = 1,
                        .request = 7,
                        .pool = strdup(POOL),
                },
                .arch = "x86_64",
                .vcpus = 1,
                .max_vcpus = 4,
                .memory_mib = 128,
                .max_memory_mib = 256,
                .disks = { { .name = "system", .gib = 1 }, { .name = "data", .gib = 2 } },
                .n_disks = 2,
        };
        snprintf(s.uuid, sizeof s.uuid, "%s", uuid);
        return s;
}

static bool domain_exists(const char *uuid) {
        virDomainPtr d = virDomainLookupByUUIDString(conn, uuid);
        if (!d)
                return false;
        virDomainFree(d);
        return true;
}

/* Volumes gc-UUID-* in the pool. */
static int count_volumes(const char *uuid) {
        virStoragePoolPtr p = virStoragePoolLookupByName(conn, pool_name);
        virStorageVolPtr *vols = NULL;
        char prefix[64];
        int n, count = 0;

        assert_non_null(p);
        snprintf(prefix, sizeof prefix, "%s%s-", GC_WIRE_DOMAIN_PREFIX, uuid);
        n = virStoragePoolListAllVolumes(p, &vols, 0);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
                if (strncmp(virStorageVolGetName(vols[i]), prefix, strlen(prefix)) == 0)
                        count++;
                virStorageVolFree(vols[i]);
        }
        free(vols);
        virStoragePoolFree(p);
        return count;
}

static uint64_t volume_capacity(const char *name) {
        virStoragePoolPtr p = virStoragePoolLookupByName(conn, pool_name);
        virStorageVolPtr v = virStorageVolLookupByName(p, name);
        virStorageVolInfo info;

        assert_non_null(v);
        assert_int_equal(virStorageVolGetInfo(v, &info), 0);
        virStorageVolFree(v);
        virStoragePoolFree(p);
        return info.capacity;
}

/* Remove a domain by name or UUID behind the backend's back (foreign ones). */
static void drop_domain(virDomainPtr d) {
        if (!d)
                return;
        if (virDomainIsActive(d) == 1)
                virDomainDestroy(d);
        virDomainUndefine(d);
        virDomainFree(d);
}

static void clean(const char *uuid) {
        int r = ops->undefine(hv, uuid);
        if (r == -EPERM)
                drop_domain(virDomainLookupByUUIDString(conn, uuid));
        else
                assert_int_equal(r, 0);
        assert_false(domain_exists(uuid));
        assert_int_equal(count_volumes(uuid), 0);
}

static const struct hv_domain *find(const struct hv_domain *d, size_t n, const char *uuid) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(d[i].uuid, uuid) == 0)
                        return &d[i];
        return NULL;
}

static size_t count_listed(const char *uuid) {
        struct hv_domain *d = NULL;
        size_t n = 0, count = 0;

        assert_int_equal(ops->list(hv, &d, &n), 0);
        for (size_t i = 0; i < n; i++)
                count += strcmp(d[i].uuid, uuid) == 0;
        hv_domains_free(d, n);
        return count;
}

static const struct hv_disk *disk(const struct hv_domain *d, const char *name) {
        for (size_t i = 0; i < d->n_disks; i++)
                if (strcmp(d->disks[i].name, name) == 0)
                        return &d->disks[i];
        return NULL;
}

/* define -> get: title and labels with Chinese text and <>&'" come back
 * exactly; define again changes nothing. */
static void test_define_get(void **state) {
        const char *uuid = "6f1c0001-0000-4000-8000-000000000001";
        struct hv_spec spec = spec_make(uuid);
        struct hv_domain d = { 0 };

        clean(uuid);
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_string_equal(d.uuid, uuid);
        assert_string_equal(d.name, GC_WIRE_DOMAIN_PREFIX "6f1c0001-0000-4000-8000-000000000001");
        assert_string_equal(d.title, TITLE);
        assert_true(d.has_labels);
        assert_string_equal(d.labels.unit, UNIT);
        assert_string_equal(d.labels.system, SYSTEM);
        assert_string_equal(d.labels.role, ROLE);
        assert_int_equal(d.labels.number, 1);
        assert_int_equal(d.labels.request, 7);
        assert_string_equal(d.labels.pool, POOL);
        assert_int_equal(d.state, HV_STATE_SHUTOFF);
        assert_int_equal(d.vcpus, 1);
        assert_int_equal(d.memory_mib, 128);
        assert_int_equal(d.n_disks, 2);
        assert_string_equal(d.disks[0].name, "system");
        assert_int_equal(d.disks[0].gib, 1);
        assert_string_equal(d.disks[1].name, "data");
        assert_int_equal(d.disks[1].gib, 2);
        hv_domain_done(&d);

        /* Sparse volumes, named after the domain. */
        assert_int_equal(count_volumes(uuid), 2);
        assert_int_equal(volume_capacity("gc-6f1c0001-0000-4000-8000-000000000001-system.img"), 1 * GIB);
        assert_int_equal(volume_capacity("gc-6f1c0001-0000-4000-8000-000000000001-data.img"), 2 * GIB);

        /* Idempotent: same UUID, one domain, same volumes; even with other
         * figures (the setters converge it). */
        spec.vcpus = 2;
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(count_listed(uuid), 1);
        assert_int_equal(count_volumes(uuid), 2);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.vcpus, 1);
        hv_domain_done(&d);

        /* The same UUID in upper case is the same domain. */
        assert_int_equal(ops->get(hv, "6F1C0001-0000-4000-8000-000000000001", &d), 0);
        assert_string_equal(d.uuid, uuid);
        hv_domain_done(&d);

        clean(uuid);
        hv_spec_done(&spec);
}

/* A domain named gc-UUID with another UUID: -EEXIST, and no volumes made. */
static void test_define_name_taken(void **state) {
        const char *uuid = "6f1c0002-0000-4000-8000-000000000002";
        const char *other = "6f1c0002-0000-4000-8000-0000000000ff";
        struct hv_spec spec = spec_make(uuid);
        char xml[1024];
        virDomainPtr d;

        clean(uuid);
        clean(other);
        drop_domain(virDomainLookupByName(conn, "gc-6f1c0002-0000-4000-8000-000000000002"));
        snprintf(xml, sizeof xml,
                 "<domain type='%s'><name>gc-%s</name><uuid>%s</uuid>"
                 "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>",
                 real ? "qemu" : "test", uuid, other);
        d = virDomainDefineXML(conn, xml);
        assert_non_null(d);

        assert_int_equal(ops->define(hv, &spec), -EEXIST);
        assert_int_equal(count_volumes(uuid), 0);
        assert_false(domain_exists(uuid));

        drop_domain(d);
        hv_spec_done(&spec);
}

/* start; vCPUs up and down within the maximum; memory; the limits refused. */
static void test_start_vcpus_memory(void **state) {
        const char *uuid = "6f1c0003-0000-4000-8000-000000000003";
        struct hv_spec spec = spec_make(uuid);
        struct hv_domain d = { 0 };

        clean(uuid);
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->start(hv, uuid), 0);
        assert_int_equal(ops->start(hv, uuid), 0);             /* running already */
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.state, HV_STATE_RUNNING);
        hv_domain_done(&d);

        assert_int_equal(ops->set_vcpus(hv, uuid, 3), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.vcpus, 3);
        hv_domain_done(&d);
        assert_int_equal(ops->set_vcpus(hv, uuid, 5), -EINVAL);
        assert_int_equal(ops->set_vcpus(hv, uuid, 0), -EINVAL);

        /* A running qemu guest gives vCPUs back only with a guest OS that
         * ejects them: down while running on the test driver only. */
        if (!real) {
                assert_int_equal(ops->set_vcpus(hv, uuid, 2), 0);
                assert_int_equal(ops->get(hv, uuid, &d), 0);
                assert_int_equal(d.vcpus, 2);
                hv_domain_done(&d);
        }

        assert_int_equal(ops->set_memory(hv, uuid, 200), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.memory_mib, 200);
        hv_domain_done(&d);
        assert_int_equal(ops->set_memory(hv, uuid, 257), -EINVAL);
        assert_int_equal(ops->set_memory(hv, uuid, 0), -EINVAL);

        /* Persistent too: after a stop the definition has them. */
        assert_int_equal(ops->shutdown(hv, uuid, true), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.state, HV_STATE_SHUTOFF);
        assert_int_equal(d.vcpus, real ? 3 : 2);
        assert_int_equal(d.memory_mib, 200);
        hv_domain_done(&d);

        assert_int_equal(ops->set_vcpus(hv, uuid, 1), 0);
        assert_int_equal(ops->set_memory(hv, uuid, 64), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.vcpus, 1);
        assert_int_equal(d.memory_mib, 64);
        hv_domain_done(&d);

        /* And a start uses them. */
        assert_int_equal(ops->start(hv, uuid), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.state, HV_STATE_RUNNING);
        assert_int_equal(d.vcpus, 1);
        hv_domain_done(&d);

        clean(uuid);
        hv_spec_done(&spec);
}

/* set_labels changes title and labels, live and persistent; list follows. */
static void test_set_labels(void **state) {
        const char *uuid = "6f1c0004-0000-4000-8000-000000000004";
        struct hv_spec spec = spec_make(uuid);
        struct hv_labels l = {
                .unit = (char *) "区大数据中心 & <x>",
                .system = (char *) "",
                .role = (char *) "数据库服务器 'a' \"b\"",
                .number = 12,
                .request = -3,
                .pool = (char *) "a\tb\r\nc 𝄞",
        };
        const char *title = "区大数据中心数据库服务器12 <&>";
        struct hv_domain *list = NULL, d = { 0 };
        const struct hv_domain *found;
        size_t n = 0;

        clean(uuid);
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->start(hv, uuid), 0);
        assert_int_equal(ops->set_labels(hv, uuid, title, &l), 0);

        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_string_equal(d.title, title);
        assert_true(d.has_labels);
        assert_string_equal(d.labels.unit, l.unit);
        assert_string_equal(d.labels.system, "");
        assert_string_equal(d.labels.role, l.role);
        assert_int_equal(d.labels.number, 12);
        assert_int_equal(d.labels.request, -3);
        assert_string_equal(d.labels.pool, l.pool);
        hv_domain_done(&d);

        assert_int_equal(ops->list(hv, &list, &n), 0);
        found = find(list, n, uuid);
        assert_non_null(found);
        assert_string_equal(found->title, title);
        assert_string_equal(found->labels.unit, l.unit);
        assert_int_equal(found->labels.number, 12);
        hv_domains_free(list, n);

        /* The persistent definition has them as well. */
        assert_int_equal(ops->shutdown(hv, uuid, true), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.state, HV_STATE_SHUTOFF);
        assert_string_equal(d.title, title);
        assert_string_equal(d.labels.role, l.role);
        assert_string_equal(d.labels.pool, l.pool);
        hv_domain_done(&d);

        /* No title: none. Text XML cannot carry, or a title of two lines: refused. */
        assert_int_equal(ops->set_labels(hv, uuid, NULL, &l), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_null(d.title);
        hv_domain_done(&d);
        l.unit = (char *) "bell\a";
        assert_int_equal(ops->set_labels(hv, uuid, title, &l), -EINVAL);
        l.unit = (char *) "\xff\xfe";
        assert_int_equal(ops->set_labels(hv, uuid, title, &l), -EINVAL);
        l.unit = (char *) "ok";
        assert_int_equal(ops->set_labels(hv, uuid, "two\nlines", &l), -EINVAL);
        assert_int_equal(ops->set_labels(hv, uuid, "esc\x1b", &l), -EINVAL);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_string_equal(d.labels.unit, "区大数据中心 & <x>");
        hv_domain_done(&d);

        clean(uuid);
        hv_spec_done(&spec);
}

/* A domain of ours whose labels were removed: get says so, list leaves it
 * out, set_labels brings it back. Labels written by someone else's XML
 * (CDATA, character references, comments) read back as text. */
static void test_labels_outside(void **state) {
        const char *uuid = "6f1c0005-0000-4000-8000-000000000005";
        struct hv_spec spec = spec_make(uuid);
        struct hv_domain d = { 0 };
        virDomainPtr dom;

        clean(uuid);
        assert_int_equal(ops->define(hv, &spec), 0);
        dom = virDomainLookupByUUIDString(conn, uuid);
        assert_non_null(dom);
        assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NULL, NULL, GC_WIRE_XMLNS,
                                              VIR_DOMAIN_AFFECT_CONFIG), 0);
        virDomainFree(dom);

        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_false(d.has_labels);
        assert_string_equal(d.labels.unit, "");
        assert_string_equal(d.labels.pool, "");
        assert_string_equal(d.title, TITLE);
        hv_domain_done(&d);
        assert_int_equal(count_listed(uuid), 0);

        assert_int_equal(ops->set_labels(hv, uuid, spec.title, &spec.labels), 0);
        assert_int_equal(count_listed(uuid), 1);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_true(d.has_labels);
        assert_string_equal(d.labels.unit, UNIT);
        hv_domain_done(&d);

        dom = virDomainLookupByUUIDString(conn, uuid);
        assert_non_null(dom);
        assert_int_equal(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                              "<vm><!-- by hand --><unit><![CDATA[a<b&c]]></unit>"
                                              "<system>&#x5E02;&#24066;&#x1D11E;</system><role>r<extra>x</extra>s</role>"
                                              "<number>oops</number><request>42</request><future>1</future></vm>",
                                              "gc", GC_WIRE_XMLNS, VIR_DOMAIN_AFFECT_CONFIG), 0);
        virDomainFree(dom);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_true(d.has_labels);
        assert_string_equal(d.labels.unit, "a<b&c");
        assert_string_equal(d.labels.system, "市市𝄞");
        assert_string_equal(d.labels.role, "rs");
        assert_int_equal(d.labels.number, 0);
        assert_int_equal(d.labels.request, 42);
        assert_string_equal(d.labels.pool, "");
        hv_domain_done(&d);

        clean(uuid);
        hv_spec_done(&spec);
}

static uint64_t block_capacity(const char *uuid, const char *dev) {
        virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
        virDomainBlockInfo info;

        assert_non_null(dom);
        assert_int_equal(virDomainGetBlockInfo(dom, dev, &info, 0), 0);
        virDomainFree(dom);
        return info.capacity;
}

/* Disks grow (the volume, and the block device when running); never shrink.
 * The test driver can do neither: -EOPNOTSUPP. */
static void test_resize_disk(void **state) {
        const char *uuid = "6f1c0006-0000-4000-8000-000000000006";
        struct hv_spec spec = spec_make(uuid);
        struct hv_domain d = { 0 };

        clean(uuid);
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->start(hv, uuid), 0);

        assert_int_equal(ops->resize_disk(hv, uuid, "system", 1), 0);          /* its size already */
        assert_int_equal(ops->resize_disk(hv, uuid, "data", 1), -EINVAL);      /* shrink */
        assert_int_equal(ops->resize_disk(hv, uuid, "swap", 4), -ENOENT);
        assert_int_equal(ops->resize_disk(hv, uuid, "../x", 4), -EINVAL);

        if (!real) {
                assert_int_equal(ops->resize_disk(hv, uuid, "system", 3), -EOPNOTSUPP);
                assert_int_equal(ops->get(hv, uuid, &d), 0);
                assert_int_equal(disk(&d, "system")->gib, 1);
                hv_domain_done(&d);
        } else {
                /* Running: the volume and what the guest sees. */
                assert_int_equal(ops->resize_disk(hv, uuid, "system", 3), 0);
                assert_int_equal(volume_capacity("gc-6f1c0006-0000-4000-8000-000000000006-system.img"), 3 * GIB);
                assert_int_equal(block_capacity(uuid, "vda"), 3 * GIB);
                assert_int_equal(ops->get(hv, uuid, &d), 0);
                assert_int_equal(disk(&d, "system")->gib, 3);
                assert_int_equal(disk(&d, "data")->gib, 2);
                hv_domain_done(&d);
                assert_int_equal(ops->resize_disk(hv, uuid, "system", 3), 0);

                /* Stopped: the volume only. */
                assert_int_equal(ops->shutdown(hv, uuid, true), 0);
                assert_int_equal(ops->resize_disk(hv, uuid, "data", 5), 0);
                assert_int_equal(volume_capacity("gc-6f1c0006-0000-4000-8000-000000000006-data.img"), 5 * GIB);
                assert_int_equal(ops->start(hv, uuid), 0);
                assert_int_equal(block_capacity(uuid, "vdb"), 5 * GIB);
                assert_int_equal(ops->get(hv, uuid, &d), 0);
                assert_int_equal(disk(&d, "data")->gib, 5);
                hv_domain_done(&d);
        }

        clean(uuid);
        hv_spec_done(&spec);
}

/* shutdown and undefine take the domain and its volumes; again is 0. */
static void test_shutdown_undefine(void **state) {
        const char *uuid = "6f1c0007-0000-4000-8000-000000000007";
        struct hv_spec spec = spec_make(uuid);
        struct hv_domain d = { 0 };

        clean(uuid);
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->shutdown(hv, uuid, false), 0);   /* off already */
        assert_int_equal(ops->start(hv, uuid), 0);
        if (!real) {
                /* A polite shutdown needs a guest that listens: test driver only. */
                assert_int_equal(ops->shutdown(hv, uuid, false), 0);
                assert_int_equal(ops->get(hv, uuid, &d), 0);
                assert_int_equal(d.state, HV_STATE_SHUTOFF);
                hv_domain_done(&d);
                assert_int_equal(ops->start(hv, uuid), 0);
        }
        assert_int_equal(ops->shutdown(hv, uuid, true), 0);
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.state, HV_STATE_SHUTOFF);
        hv_domain_done(&d);
        assert_int_equal(ops->shutdown(hv, uuid, true), 0);

        /* Undefine while running: destroyed first. */
        assert_int_equal(ops->start(hv, uuid), 0);
        assert_int_equal(count_volumes(uuid), 2);
        assert_int_equal(ops->undefine(hv, uuid), 0);
        assert_false(domain_exists(uuid));
        assert_int_equal(count_volumes(uuid), 0);
        assert_int_equal(count_listed(uuid), 0);

        assert_int_equal(ops->undefine(hv, uuid), 0);
        assert_int_equal(ops->get(hv, uuid, &d), -ENOENT);
        assert_int_equal(ops->start(hv, uuid), -ENOENT);
        assert_int_equal(ops->set_vcpus(hv, uuid, 2), -ENOENT);
        assert_int_equal(ops->set_memory(hv, uuid, 64), -ENOENT);
        assert_int_equal(ops->resize_disk(hv, uuid, "data", 9), -ENOENT);
        assert_int_equal(ops->set_labels(hv, uuid, "t", &spec.labels), -ENOENT);
        assert_int_equal(ops->shutdown(hv, uuid, true), -ENOENT);

        /* Volumes an interrupted define left behind go with the undefine. */
        spec.n_disks = 1;
        assert_int_equal(ops->define(hv, &spec), 0);
        drop_domain(virDomainLookupByUUIDString(conn, uuid));
        assert_int_equal(count_volumes(uuid), 1);
        assert_int_equal(ops->undefine(hv, uuid), 0);
        assert_int_equal(count_volumes(uuid), 0);

        hv_spec_done(&spec);
}

/* Only domains with our metadata are listed; a domain someone else made is
 * neither listed nor touched. */
static void test_foreign(void **state) {
        const char *ours = "6f1c0008-0000-4000-8000-000000000008";
        const char *foreign = "6f1c0008-0000-4000-8000-0000000000f0";
        struct hv_spec spec = spec_make(ours);
        struct hv_spec foreign_spec = spec_make(foreign);
        struct hv_domain *list = NULL, d = { 0 };
        char xml[1024], *before, *after;
        size_t n = 0;
        virDomainPtr f;

        clean(ours);
        drop_domain(virDomainLookupByUUIDString(conn, foreign));
        snprintf(xml, sizeof xml,
                 "<domain type='%s'><name>foreign-vm</name><uuid>%s</uuid><title>theirs</title>"
                 "<metadata><o:x xmlns:o='https://example.org/other'>keep</o:x></metadata>"
                 "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>",
                 real ? "qemu" : "test", foreign);
        f = virDomainDefineXML(conn, xml);
        assert_non_null(f);
        before = virDomainGetXMLDesc(f, VIR_DOMAIN_XML_INACTIVE);
        assert_non_null(before);

        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->list(hv, &list, &n), 0);
        assert_non_null(find(list, n, ours));
        assert_null(find(list, n, foreign));
        for (size_t i = 0; i < n; i++) {
                assert_true(list[i].has_labels);
                assert_int_equal(strncmp(list[i].name, "foreign", 7) != 0, 1);
                assert_string_not_equal(list[i].name, "test");         /* the test driver's own */
        }
        hv_domains_free(list, n);

        assert_int_equal(ops->get(hv, foreign, &d), -EPERM);
        assert_int_equal(ops->start(hv, foreign), -EPERM);
        assert_int_equal(ops->set_vcpus(hv, foreign, 1), -EPERM);
        assert_int_equal(ops->set_memory(hv, foreign, 32), -EPERM);
        assert_int_equal(ops->set_labels(hv, foreign, "mine now", &spec.labels), -EPERM);
        assert_int_equal(ops->resize_disk(hv, foreign, "system", 9), -EPERM);
        assert_int_equal(ops->shutdown(hv, foreign, true), -EPERM);
        assert_int_equal(ops->undefine(hv, foreign), -EPERM);
        assert_int_equal(ops->define(hv, &foreign_spec), -EEXIST);
        assert_int_equal(count_volumes(foreign), 0);

        assert_int_equal(virDomainIsActive(f), 0);
        after = virDomainGetXMLDesc(f, VIR_DOMAIN_XML_INACTIVE);
        assert_non_null(after);
        assert_string_equal(before, after);
        free(before);
        free(after);

        drop_domain(f);
        clean(ours);
        hv_spec_done(&spec);
        hv_spec_done(&foreign_spec);
}

static const struct hv_stat *find_stat(const struct hv_stat *s, size_t n, const char *uuid) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s[i].uuid, uuid) == 0)
                        return &s[i];
        return NULL;
}

/* One bulk call for our domains; -1 where the hypervisor gives no figure. */
static void test_stats(void **state) {
        const char *a = "6f1c0009-0000-4000-8000-00000000000a";
        const char *b = "6f1c0009-0000-4000-8000-00000000000b";
        struct hv_spec sa = spec_make(a), sb = spec_make(b);
        struct hv_stat *stats = NULL;
        const struct hv_stat *s;
        size_t n = 0;

        clean(a);
        clean(b);
        assert_int_equal(ops->define(hv, &sa), 0);
        assert_int_equal(ops->define(hv, &sb), 0);
        assert_int_equal(ops->start(hv, a), 0);

        assert_int_equal(ops->stats(hv, &stats, &n), 0);
        for (size_t i = 0; i < n; i++) {
                virDomainPtr dom = virDomainLookupByUUIDString(conn, stats[i].uuid);
                assert_non_null(dom);
                assert_int_equal(strncmp(virDomainGetName(dom), GC_WIRE_DOMAIN_PREFIX, 3), 0);
                virDomainFree(dom);
        }
        s = find_stat(stats, n, a);
        assert_non_null(s);
        assert_int_equal(s->state, HV_STATE_RUNNING);
        if (!real) {
                /* The test driver gives the state and nothing else. */
                assert_int_equal(s->cpu_time_ns, -1);
                assert_int_equal(s->vcpus, -1);
                assert_int_equal(s->memory_kib, -1);
                assert_int_equal(s->disk_capacity_bytes, -1);
                assert_int_equal(s->disk_allocation_bytes, -1);
        } else {
                assert_true(s->cpu_time_ns > 0);
                assert_int_equal(s->vcpus, 1);
                assert_true(s->memory_kib > 0);
                assert_int_equal(s->disk_capacity_bytes, 3 * GIB);
                assert_true(s->disk_allocation_bytes >= 0);
        }
        /* No guest balloon driver anywhere here. */
        assert_int_equal(s->memory_unused_kib, -1);
        assert_int_equal(s->memory_available_kib, -1);

        s = find_stat(stats, n, b);
        assert_non_null(s);
        assert_int_equal(s->state, HV_STATE_SHUTOFF);
        assert_int_equal(s->cpu_time_ns, -1);
        assert_int_equal(s->disk_capacity_bytes, -1);
        assert_int_equal(s->disk_allocation_bytes, -1);
        free(stats);

        clean(a);
        clean(b);
        hv_spec_done(&sa);
        hv_spec_done(&sb);
}

static void test_capacity(void **state) {
        struct hv_capacity c = { 0 };

        assert_int_equal(ops->capacity(hv, &c), 0);
        assert_true(c.vcpus > 0);
        assert_true(c.memory_mib > 0);
        assert_true(c.storage_gib > 0);
        if (!real) {
                /* What the test driver describes. */
                assert_int_equal(c.storage_gib, 100);
                assert_string_equal(c.arch, "i686");
        } else {
                struct utsname u;
                assert_int_equal(uname(&u), 0);
                assert_string_equal(c.arch, u.machine);
        }
}

/* An empty arch is the host's. */
static void test_define_host_arch(void **state) {
        const char *uuid = "6f1c000a-0000-4000-8000-00000000000a";
        struct hv_spec spec = spec_make(uuid);
        struct hv_capacity c = { 0 };
        virDomainPtr dom;
        char *xml, want[64];

        clean(uuid);
        spec.arch[0] = 0;
        spec.n_disks = 0;
        assert_int_equal(ops->capacity(hv, &c), 0);
        assert_int_equal(ops->define(hv, &spec), 0);
        dom = virDomainLookupByUUIDString(conn, uuid);
        assert_non_null(dom);
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        snprintf(want, sizeof want, "arch='%s'", c.arch);
        assert_non_null(strstr(xml, want));
        free(xml);
        virDomainFree(dom);
        clean(uuid);
        hv_spec_done(&spec);
}

/* Specs that cannot be defined leave nothing behind. */
static void test_define_refused(void **state) {
        const char *uuid = "6f1c000b-0000-4000-8000-00000000000b";
        struct hv_spec spec = spec_make(uuid);

        clean(uuid);
        snprintf(spec.uuid, sizeof spec.uuid, "not-a-uuid");
        assert_int_equal(ops->define(hv, &spec), -EINVAL);
        snprintf(spec.uuid, sizeof spec.uuid, "%s", uuid);

        spec.vcpus = 5;
        assert_int_equal(ops->define(hv, &spec), -EINVAL);
        spec.vcpus = 1;
        spec.memory_mib = 512;
        assert_int_equal(ops->define(hv, &spec), -EINVAL);
        spec.memory_mib = 128;
        snprintf(spec.disks[1].name, sizeof spec.disks[1].name, "a/b");
        assert_int_equal(ops->define(hv, &spec), -EINVAL);
        snprintf(spec.disks[1].name, sizeof spec.disks[1].name, "system");
        assert_int_equal(ops->define(hv, &spec), -EINVAL);
        snprintf(spec.disks[1].name, sizeof spec.disks[1].name, "data");
        snprintf(spec.arch, sizeof spec.arch, "x86'64");
        assert_int_equal(ops->define(hv, &spec), -EINVAL);
        snprintf(spec.arch, sizeof spec.arch, "x86_64");
        free(spec.labels.role);
        spec.labels.role = strdup("nul\x01");
        assert_int_equal(ops->define(hv, &spec), -EINVAL);
        free(spec.labels.role);
        spec.labels.role = strdup(ROLE);
        free(spec.title);
        spec.title = strdup("a\nb");
        assert_int_equal(ops->define(hv, &spec), -EINVAL);
        assert_false(domain_exists(uuid));
        assert_int_equal(count_volumes(uuid), 0);

        /* A data disk of 0 GiB is no disk. */
        free(spec.title);
        spec.title = strdup(TITLE);
        spec.disks[1].gib = 0;
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(count_volumes(uuid), 1);
        struct hv_domain d = { 0 };
        assert_int_equal(ops->get(hv, uuid, &d), 0);
        assert_int_equal(d.n_disks, 1);
        assert_string_equal(d.disks[0].name, "system");
        hv_domain_done(&d);

        clean(uuid);
        hv_spec_done(&spec);
}

/* A bad URI, a missing or inactive pool: a clean failure, nothing written. */
static void test_open_failures(void **state) {
        struct hv *h = (struct hv *) 0x1;
        virStoragePoolPtr p;
        char xml[512];

        assert_true(ops->open("bogus:///nowhere", pool_name, &h) < 0);
        assert_ptr_equal(h, (struct hv *) 0x1);
        assert_int_equal(ops->open(uri, "gc-no-such-pool", &h), -ENOENT);
        assert_ptr_equal(h, (struct hv *) 0x1);
        assert_int_equal(ops->open(uri, NULL, &h), -EINVAL);
        assert_ptr_equal(h, (struct hv *) 0x1);

        p = virStoragePoolLookupByName(conn, "gc-inactive-pool");
        if (p) {
                virStoragePoolUndefine(p);
                virStoragePoolFree(p);
        }
        snprintf(xml, sizeof xml,
                 "<pool type='dir'><name>gc-inactive-pool</name><target><path>/nonexistent/gc-inactive-pool</path></target></pool>");
        p = virStoragePoolDefineXML(conn, xml, 0);
        assert_non_null(p);
        assert_int_equal(ops->open(uri, "gc-inactive-pool", &h), -EIO);
        assert_ptr_equal(h, (struct hv *) 0x1);
        assert_int_equal(virStoragePoolUndefine(p), 0);
        virStoragePoolFree(p);
}

/* What a wipe needs to know of each disk (hv ops volumes). */
static void test_volumes(void **state) {
        const char *uuid = "6f1c0001-0000-4000-8000-0000000000a1";
        struct hv_spec spec = spec_make(uuid);
        struct hv_volume *v = NULL;
        size_t n = 0;

        clean(uuid);
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->volumes(hv, uuid, &v, &n), 0);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
                char name[96];
                snprintf(name, sizeof name, "gc-%s-%s.img", uuid, spec.disks[i].name);
                assert_string_equal(v[i].disk, spec.disks[i].name);
                assert_non_null(v[i].path);
                assert_non_null(strstr(v[i].path, name));
                assert_string_equal(v[i].pool, pool_name);
                assert_true(v[i].managed);
                assert_string_equal(v[i].name, name);
                assert_non_null(v[i].pool_dir);
                assert_true(v[i].pool_dir[0] == '/');
                assert_true(strncmp(v[i].path, v[i].pool_dir, strlen(v[i].pool_dir)) == 0);
                assert_non_null(v[i].key);
                assert_string_equal(v[i].format, "raw");
                assert_null(v[i].secret);
                assert_null(v[i].attached);
                /* A file's own size: the capacity of a raw one. */
                assert_int_equal(v[i].size, spec.disks[i].gib * GIB);
        }
        hv_volumes_free(v, n);
        assert_int_equal(ops->volumes(hv, "6f1c0001-0000-4000-8000-0000000000a9", &v, &n), -ENOENT);
        clean(uuid);
        hv_spec_done(&spec);
}

/* Encrypted volumes: LUKS with a secret each, where libvirt has secrets;
 * refused with nothing left behind where it has none (the test driver). */
static void test_encrypted(void **state) {
        const char *uuid = "6f1c0001-0000-4000-8000-0000000000a2";
        struct hv_spec spec = spec_make(uuid);
        struct hv_volume *v = NULL;
        size_t n = 0;
        char *secrets[2] = { 0 };

        clean(uuid);
        spec.encrypted = true;
        if (!real) {
                assert_int_equal(ops->define(hv, &spec), -EOPNOTSUPP);
                assert_false(domain_exists(uuid));
                assert_int_equal(count_volumes(uuid), 0);
                assert_int_equal(ops->secret_undefine(hv, "6f1c0001-0000-4000-8000-0000000000a3"), -EOPNOTSUPP);
                hv_spec_done(&spec);
                return;
        }
        assert_int_equal(ops->define(hv, &spec), 0);
        assert_int_equal(ops->volumes(hv, uuid, &v, &n), 0);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(v[i].format, "luks");
                assert_non_null(v[i].secret);
                virSecretPtr sec = virSecretLookupByUUIDString(conn, v[i].secret);
                assert_non_null(sec);
                assert_int_equal(virSecretGetUsageType(sec), VIR_SECRET_USAGE_TYPE_VOLUME);
                assert_string_equal(virSecretGetUsageID(sec), v[i].path);
                virSecretFree(sec);
                /* The LUKS header and key slots come before the capacity. */
                assert_true(v[i].size > spec.disks[i].gib * GIB);
                secrets[i] = strdup(v[i].secret);
        }
        assert_string_not_equal(secrets[0], secrets[1]);
        hv_volumes_free(v, n);
        /* qemu opens them with their secrets. */
        assert_int_equal(ops->start(hv, uuid), 0);
        assert_int_equal(ops->shutdown(hv, uuid, true), 0);
        /* Defined again: the volumes as they are. */
        assert_int_equal(ops->define(hv, &spec), 0);

        assert_int_equal(ops->secret_undefine(hv, secrets[0]), 0);
        assert_int_equal(ops->secret_undefine(hv, secrets[0]), -ENOENT);
        /* Undefine takes the other secret with its volume. */
        clean(uuid);
        virSecretPtr sec = virSecretLookupByUUIDString(conn, secrets[1]);
        assert_null(sec);
        free(secrets[0]);
        free(secrets[1]);
        hv_spec_done(&spec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_failures),
                cmocka_unit_test(test_capacity),
                cmocka_unit_test(test_define_get),
                cmocka_unit_test(test_define_name_taken),
                cmocka_unit_test(test_define_host_arch),
                cmocka_unit_test(test_define_refused),
                cmocka_unit_test(test_start_vcpus_memory),
                cmocka_unit_test(test_set_labels),
                cmocka_unit_test(test_labels_outside),
                cmocka_unit_test(test_resize_disk),
                cmocka_unit_test(test_shutdown_undefine),
                cmocka_unit_test(test_foreign),
                cmocka_unit_test(test_stats),
                cmocka_unit_test(test_volumes),
                cmocka_unit_test(test_encrypted),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
