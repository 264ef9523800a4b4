/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Placement: each VM on a host of its pool with the right architecture and
 * enough free vCPUs, memory and storage (no overcommit); a system's VMs of
 * one role spread over hosts first, then the host with the most free
 * vCPUs. A request the pool cannot fit is refused whole.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "dispatch.h"
#include "log.h"
#include "orch.h"

struct host_room {
        char name[64];
        char arch[16];
        long vcpus, memory_mib, storage_gib;    /* free */
        long same;                              /* this system's VMs of the role being placed */
};

struct rooms {
        struct host_room *v;
        size_t n;
};

static int host_cb(const struct store_row *row, void *userdata) {
        struct rooms *r = userdata;
        r->v = xrealloc(r->v, (r->n + 1) * sizeof *r->v);
        struct host_room *h = &r->v[r->n++];
        *h = (struct host_room) {};
        snprintf(h->name, sizeof h->name, "%s", row->v[0].s);
        snprintf(h->arch, sizeof h->arch, "%s", row->v[1].type == STORE_TEXT ? row->v[1].s : "");
        h->vcpus = row->v[2].i;
        h->memory_mib = row->v[3].i;
        h->storage_gib = row->v[4].i;
        return 0;
}

static long spec_int(const cJSON *spec, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
        return cJSON_IsNumber(v) ? (long) v->valuedouble : 0;
}

static long spec_disks(const cJSON *spec) {
        return spec_int(cJSON_GetObjectItemCaseSensitive(spec, "system_disk"), "gib") +
               spec_int(cJSON_GetObjectItemCaseSensitive(spec, "data_disk"), "gib");
}

const char *sched_arch(const char *request_arch);
const char *sched_arch(const char *request_arch) {
        if (strcmp(request_arch, "x86") == 0)
                return "x86_64";
        if (strcmp(request_arch, "arm") == 0)
                return "aarch64";
        return "other";
}

struct used_ctx {
        struct rooms *rooms;
};

/* Subtract what the VMs already placed use (summed per host). */
static int used_cb(const struct store_row *row, void *userdata) {
        struct rooms *r = userdata;
        for (size_t i = 0; i < r->n; i++) {
                if (strcmp(r->v[i].name, row->v[0].s) != 0)
                        continue;
                r->v[i].vcpus -= row->v[1].i;
                r->v[i].memory_mib -= row->v[2].i * 1024;
                r->v[i].storage_gib -= row->v[3].i;
        }
        return 0;
}

static int load_rooms(struct orch *o, const char *pool, const char *only_host, struct rooms *r) {
        int n;
        if (only_host)
                n = store_query(o->store, "SELECT name, arch, vcpus, memory_mib, storage_gib FROM hosts WHERE name = ? AND vcpus IS NOT NULL",
                                STORE_ARGS(STORE_TEXT(only_host)), host_cb, r);
        else
                n = store_query(o->store,
                                "SELECT name, arch, vcpus, memory_mib, storage_gib FROM hosts "
                                "WHERE pool = ? AND state <> 'down' AND vcpus IS NOT NULL ORDER BY name",
                                STORE_ARGS(STORE_TEXT(pool)), host_cb, r);
        if (n < 0)
                return n;
        if (only_host)
                return store_query(o->store,
                                   "SELECT host, SUM(vcpus), SUM(memory_gib), SUM(disk_gib) FROM vms "
                                   "WHERE host = ? AND state <> 'deleted' GROUP BY host",
                                   STORE_ARGS(STORE_TEXT(only_host)), used_cb, r);
        return store_query(o->store,
                           "SELECT v.host, SUM(v.vcpus), SUM(v.memory_gib), SUM(v.disk_gib) FROM vms v JOIN hosts h ON h.name = v.host "
                           "WHERE h.pool = ? AND v.state <> 'deleted' GROUP BY v.host",
                           STORE_ARGS(STORE_TEXT(pool)), used_cb, r);
}

struct same_ctx {
        struct rooms *rooms;
};

static int same_cb(const struct store_row *row, void *userdata) {
        struct rooms *r = userdata;
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->v[i].name, row->v[0].s) == 0)
                        r->v[i].same += row->v[1].i;
        return 0;
}

int sched_place(struct orch *o, const char *pool, int64_t system_id, struct sched_vm *vms, size_t n,
                struct gc_error *err) {
        struct rooms rooms = {};
        int r = load_rooms(o, pool, NULL, &rooms);
        if (r < 0)
                goto out;

        for (size_t k = 0; k < n; k++) {
                const cJSON *spec = vms[k].spec;
                const char *arch = sched_arch(cJSON_GetObjectItemCaseSensitive(spec, "arch")->valuestring);
                long vcpus = spec_int(spec, "vcpus"), mem = spec_int(spec, "memory_gib") * 1024, disk = spec_disks(spec);

                /* How many of this system's VMs of this role each host holds. */
                for (size_t i = 0; i < rooms.n; i++)
                        rooms.v[i].same = 0;
                r = store_query(o->store, "SELECT host, COUNT(*) FROM vms WHERE system_id = ? AND role = ? AND host IS NOT NULL "
                                          "AND state <> 'deleted' GROUP BY host",
                                STORE_ARGS(STORE_INT(system_id), STORE_TEXT(vms[k].role)), same_cb, &rooms);
                if (r < 0)
                        goto out;
                for (size_t j = 0; j < k; j++)
                        if (strcmp(vms[j].role, vms[k].role) == 0)
                                for (size_t i = 0; i < rooms.n; i++)
                                        if (strcmp(rooms.v[i].name, vms[j].host) == 0)
                                                rooms.v[i].same++;

                struct host_room *best = NULL, *roomiest = NULL;
                for (size_t i = 0; i < rooms.n; i++) {
                        struct host_room *h = &rooms.v[i];
                        if (strcmp(h->arch, arch) != 0)
                                continue;
                        if (!roomiest || h->vcpus > roomiest->vcpus)
                                roomiest = h;
                        if (h->vcpus < vcpus || h->memory_mib < mem || h->storage_gib < disk)
                                continue;
                        if (!best || h->same < best->same || (h->same == best->same && h->vcpus > best->vcpus))
                                best = h;
                }
                if (!best) {
                        char need[96];
                        snprintf(need, sizeof need, "%ld vCPUs, %ld GiB memory, %ld GiB disk", vcpus, mem / 1024, disk);
                        if (roomiest)
                                gc_error_set(err, "capacity", "", vms[k].field, need,
                                             "%s does not fit on any %s host of pool %s; the roomiest, %s, has %ld vCPUs, "
                                             "%ld MiB memory and %ld GiB storage free; the request is refused whole",
                                             vms[k].name, arch, pool, roomiest->name, roomiest->vcpus, roomiest->memory_mib,
                                             roomiest->storage_gib);
                        else
                                gc_error_set(err, "capacity", "", vms[k].field, need,
                                             "pool %s has no %s host with known capacity that is not down; the request is refused whole",
                                             pool, arch);
                        r = -ENOSPC;
                        goto out;
                }
                best->vcpus -= vcpus;
                best->memory_mib -= mem;
                best->storage_gib -= disk;
                snprintf(vms[k].host, sizeof vms[k].host, "%s", best->name);
        }
        r = 0;
out:
        free(rooms.v);
        return r;
}

int sched_grow(struct orch *o, const char *host, long vcpus, long memory_mib, long disk_gib, const char *field,
               struct gc_error *err) {
        struct rooms rooms = {};
        int r = load_rooms(o, NULL, host, &rooms);
        if (r >= 0 && rooms.n == 1 &&
            (rooms.v[0].vcpus < vcpus || rooms.v[0].memory_mib < memory_mib || rooms.v[0].storage_gib < disk_gib)) {
                char need[96];
                snprintf(need, sizeof need, "+%ld vCPUs, +%ld MiB memory, +%ld GiB disk", vcpus, memory_mib, disk_gib);
                gc_error_set(err, "capacity", "", field, need,
                             "does not fit on its host %s, which has %ld vCPUs, %ld MiB memory and %ld GiB storage free",
                             host, rooms.v[0].vcpus, rooms.v[0].memory_mib, rooms.v[0].storage_gib);
                r = -ENOSPC;
        }
        free(rooms.v);
        return r < 0 ? r : 0;
}
