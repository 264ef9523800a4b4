/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hypervisor, behind a small ops table. The real backend is libvirt
 * (hv-libvirt.c); tests run it against the test driver (test:///default)
 * and, in the system suite, a real libvirtd (qemu:///system).
 *
 * Domains are addressed by UUID (given by the orchestrator). The domain's
 * name is GC_WIRE_DOMAIN_PREFIX + uuid (ASCII); its title is the VM's full
 * name (R-NM2, UTF-8); the labels are in <metadata> under GC_WIRE_XMLNS.
 * Only domains that carry that metadata are listed: the agent never touches
 * what it did not create.
 *
 * Encrypted volumes (hv_spec.encrypted): define creates each NEW volume in
 * qemu's LUKS format with a libvirt secret of its own (private, persistent,
 * usage "volume" = the volume's path; its value 32 random bytes in hex:
 * qemu takes a passphrase only as UTF-8 text), and
 * the disk carries the same <encryption> so that qemu opens it. A volume
 * that exists already is used as it is. A driver without secrets (the test
 * driver): -EOPNOTSUPP, nothing defined.
 *
 * Errors: negative errno with libvirt's message logged (one line):
 * -ENOENT no such domain / volume, -EEXIST a domain of that name with
 * another UUID, -EOPNOTSUPP the driver cannot do it (the test driver and
 * volume resize, for one), -EIO anything else.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HV_UUID_LEN 36
#define HV_DISKS_MAX 2
#define HV_NICS_MAX 1

struct hv;

struct hv_labels {
        char *unit;
        char *system;
        char *role;
        unsigned number;
        int64_t request;
        char *pool;
};

struct hv_disk {
        char name[16];                  /* "system", "data" */
        uint64_t gib;
};

/* A NIC on a bridge with the orchestrator's MAC (R-NW2). */
struct hv_nic {
        char bridge[16];                /* the VPC's bridge on this host */
        char mac[18];                   /* "52:54:00:00:00:07" */
        uint32_t vni;
        char address[16];               /* the address assigned to it (informative) */
};

struct hv_spec {
        char uuid[HV_UUID_LEN + 1];
        char *title;                    /* unit + system + role + number */
        struct hv_labels labels;
        char arch[16];                  /* "x86_64", "aarch64" */
        unsigned vcpus, max_vcpus;
        uint64_t memory_mib, max_memory_mib;
        struct hv_disk disks[HV_DISKS_MAX];
        size_t n_disks;
        char *image;                    /* NULL: no image */
        struct hv_nic nics[HV_NICS_MAX];  /* set at define; bridge "" is no NIC */
        size_t n_nics;
        bool encrypted;                 /* new volumes in LUKS format (above) */
};

enum hv_state {
        HV_STATE_OTHER,
        HV_STATE_RUNNING,
        HV_STATE_SHUTOFF,
        HV_STATE_PAUSED,
};

struct hv_domain {
        char uuid[HV_UUID_LEN + 1];
        char *name;
        char *title;                    /* NULL when the domain has none */
        struct hv_labels labels;        /* empty strings when missing */
        bool has_labels;
        enum hv_state state;
        unsigned vcpus;                 /* current */
        uint64_t memory_mib;            /* current */
        struct hv_disk disks[HV_DISKS_MAX];
        size_t n_disks;
};

struct hv_capacity {
        unsigned vcpus;
        uint64_t memory_mib;
        uint64_t storage_gib;           /* the storage pool's capacity */
        char arch[16];
};

/* One domain's figures from the bulk stats call; -1 where the hypervisor
 * (or the guest) gives none: a gap, not a zero. */
struct hv_stat {
        char uuid[HV_UUID_LEN + 1];
        enum hv_state state;
        int64_t cpu_time_ns;
        int64_t vcpus;
        int64_t memory_kib;             /* balloon.current */
        int64_t memory_unused_kib;      /* balloon.unused (guest driver) */
        int64_t memory_available_kib;   /* balloon.available (guest driver) */
        int64_t disk_allocation_bytes;  /* sum over the domain's disks */
        int64_t disk_capacity_bytes;
};

/* One disk of a domain, as a wipe needs to know it (agent/wipe.h, R-EX3):
 * what the definition names and what libvirt says about that path. */
struct hv_volume {
        char disk[16];                  /* "system", "data"; the target ("vdc") of a disk govcloud did not name */
        char *path;                     /* the file or block device of the disk's source */
        char *pool;                     /* the pool virStorageVolLookupByPath finds it in; NULL: no volume there */
        char *pool_dir;                 /* that pool's target path; NULL with pool */
        bool managed;                   /* pool is the one given to open */
        char *name;                     /* the volume's name in its pool; NULL with pool */
        char *key;                      /* the volume's key (a dir pool: its path); NULL with pool */
        uint64_t size;                  /* bytes a wipe covers: a file's size on disk (st_size), a device's */
        char format[16];                /* "raw", "qcow2", "luks", ... as libvirt has it; "" unknown */
        char *secret;                   /* LUKS: the UUID of the libvirt secret holding the passphrase; NULL: none */
        char *attached;                 /* the name of a running domain (not this one) with this path among
                                         * its disks; NULL: none */
};

struct hv_ops {
        const char *name;
        /* uri: "test:///default", "qemu:///system"; pool: the storage pool
         * for volumes ("default-pool" on the test driver). */
        int (*open)(const char *uri, const char *pool, struct hv **ret);
        void (*close)(struct hv *hv);
        int (*capacity)(struct hv *hv, struct hv_capacity *ret);

        /* Define (persistent) with its volumes (sparse: allocation 0).
         * A domain with this UUID already defined: -EEXIST is NOT returned,
         * 0 is (idempotent); the caller then converges it with the setters. */
        int (*define)(struct hv *hv, const struct hv_spec *spec);
        int (*start)(struct hv *hv, const char *uuid);          /* running already: 0 */
        /* Live (when running) and persistent; within the maximums. */
        int (*set_vcpus)(struct hv *hv, const char *uuid, unsigned vcpus);
        int (*set_memory)(struct hv *hv, const char *uuid, uint64_t mib);
        /* Grow the volume, and the block device when running. Shrinking: -EINVAL. */
        int (*resize_disk)(struct hv *hv, const char *uuid, const char *disk, uint64_t gib);
        int (*set_labels)(struct hv *hv, const char *uuid, const char *title, const struct hv_labels *labels);
        int (*get)(struct hv *hv, const char *uuid, struct hv_domain *ret);    /* -ENOENT */
        int (*shutdown)(struct hv *hv, const char *uuid, bool force);  /* force: destroy; off already: 0 */
        int (*undefine)(struct hv *hv, const char *uuid);      /* with its volumes; gone already: 0 */
        /* Every domain with govcloud metadata. */
        int (*list)(struct hv *hv, struct hv_domain **ret, size_t *ret_n);
        /* One bulk call (virConnectGetAllDomainStats) for those domains. */
        int (*stats)(struct hv *hv, struct hv_stat **ret, size_t *ret_n);
        /* The disks of the domain's persistent definition, in its order. */
        int (*volumes)(struct hv *hv, const char *uuid, struct hv_volume **ret, size_t *ret_n);
        /* Undefine the libvirt secret with this UUID: -ENOENT when there is
         * none, -EOPNOTSUPP on a driver without secrets. */
        int (*secret_undefine)(struct hv *hv, const char *secret_uuid);
};

extern const struct hv_ops hv_libvirt_ops;

void hv_labels_done(struct hv_labels *l);
void hv_domain_done(struct hv_domain *d);
void hv_domains_free(struct hv_domain *d, size_t n);
void hv_spec_done(struct hv_spec *s);
void hv_volume_done(struct hv_volume *v);
void hv_volumes_free(struct hv_volume *v, size_t n);
