/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "gc/wire.h"
#include "jobs.h"
#include "json.h"
#include "log.h"

static double jobs_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void jobs_spec_donep(struct hv_spec *s) {
        hv_spec_done(s);
}

static void jobs_domain_donep(struct hv_domain *d) {
        hv_domain_done(d);
}

bool jobs_uuid_valid(const char *uuid) {
        if (!uuid || strlen(uuid) != HV_UUID_LEN)
                return false;
        for (size_t i = 0; i < HV_UUID_LEN; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (uuid[i] != '-')
                                return false;
                } else if (!isxdigit((unsigned char) uuid[i]))
                        return false;
        }
        return true;
}

const char *jobs_state_name(enum hv_state s) {
        switch (s) {
        case HV_STATE_RUNNING:
                return "running";
        case HV_STATE_SHUTOFF:
                return "shutoff";
        case HV_STATE_PAUSED:
                return "paused";
        default:
                return "other";
        }
}

/* ------------------------------------------------------------ parsing --- */


/* A string of at most max bytes (0: any); NULL when missing or null and not required. */
static int jobs_get_string(const cJSON *o, const char *parent, const char *key, bool required, size_t max,
                           const char **ret, struct gc_error *err) {
        const cJSON *v = json_get(o, key);
        _cleanup_free_ char *field = xasprintf("%s.%s", parent, key);

        if (!v || cJSON_IsNull(v)) {
                if (required)
                        return json_field_error(err, "invalid_job", field, NULL, "is required");
                *ret = NULL;
                return 0;
        }
        if (!cJSON_IsString(v))
                return json_field_error(err, "invalid_job", field, v, "is not a string");
        if (max > 0 && strlen(v->valuestring) > max)
                return json_field_error(err, "invalid_job", field, v, "is longer than %zu bytes", max);
        *ret = v->valuestring;
        return 0;
}

static int jobs_get_uint(const cJSON *o, const char *parent, const char *key, bool required, int64_t min, int64_t max,
                         int64_t *ret, struct gc_error *err) {
        const cJSON *v = json_get(o, key);
        _cleanup_free_ char *field = xasprintf("%s.%s", parent, key);
        int64_t i;

        if (!v) {
                if (required)
                        return json_field_error(err, "invalid_job", field, NULL, "is required");
                return 0;
        }
        if (json_get_int(o, key, &i, NULL) < 0 || i < min || i > max)
                return json_field_error(err, "invalid_job", field, v, "is not an integer from %lld to %lld", (long long) min,
                                        (long long) max);
        *ret = i;
        return 0;
}

static int jobs_labels_parse(const cJSON *labels, struct hv_labels *l, struct gc_error *err) {
        const char *unit, *system, *role, *pool = NULL;
        int64_t number = 0, request = 0;
        int r;

        if (!cJSON_IsObject(labels))
                return json_field_error(err, "invalid_job", "vm.labels", labels, "is not an object");
        r = jobs_get_string(labels, "vm.labels", "unit", true, 0, &unit, err);
        r = r < 0 ? r : jobs_get_string(labels, "vm.labels", "system", true, 0, &system, err);
        r = r < 0 ? r : jobs_get_string(labels, "vm.labels", "role", true, 0, &role, err);
        r = r < 0 ? r : jobs_get_uint(labels, "vm.labels", "number", true, 0, UINT32_MAX, &number, err);
        r = r < 0 ? r : jobs_get_uint(labels, "vm.labels", "request", false, 0, INT64_MAX / 2, &request, err);
        r = r < 0 ? r : jobs_get_string(labels, "vm.labels", "pool", false, 0, &pool, err);
        if (r < 0)
                return r;
        l->unit = xstrdup(unit);
        l->system = xstrdup(system);
        l->role = xstrdup(role);
        l->number = number;
        l->request = request;
        l->pool = xstrdup(pool ?: "");
        return 0;
}

int jobs_spec_parse(const cJSON *vm, struct hv_spec *ret, bool *ret_running, struct gc_error *err) {
        _cleanup_(jobs_spec_donep) struct hv_spec s = {};
        const char *uuid, *name, *title, *arch, *image;
        int64_t vcpus = 0, max_vcpus = 0, memory = 0, max_memory = 0;
        bool running = true;
        int r;

        if (!cJSON_IsObject(vm))
                return json_field_error(err, "invalid_job", "vm", vm, "is not an object");
        r = jobs_get_string(vm, "vm", "uuid", true, 0, &uuid, err);
        if (r < 0)
                return r;
        if (!jobs_uuid_valid(uuid))
                return json_field_error(err, "invalid_job", "vm.uuid", json_get(vm, "uuid"), "is not a UUID (8-4-4-4-12 hex digits)");
        memcpy(s.uuid, uuid, HV_UUID_LEN + 1);

        r = jobs_get_string(vm, "vm", "name", false, 0, &name, err);
        if (r < 0)
                return r;
        if (name) {
                _cleanup_free_ char *want = xasprintf(GC_WIRE_DOMAIN_PREFIX "%s", uuid);
                if (strcmp(name, want) != 0)
                        return json_field_error(err, "invalid_job", "vm.name", json_get(vm, "name"), "is not %s (the prefix and the UUID)", want);
        }
        r = jobs_get_string(vm, "vm", "title", true, 0, &title, err);
        if (r < 0)
                return r;
        s.title = xstrdup(title);
        r = jobs_labels_parse(json_get(vm, "labels"), &s.labels, err);
        if (r < 0)
                return r;
        r = jobs_get_string(vm, "vm", "arch", false, sizeof s.arch - 1, &arch, err);
        if (r < 0)
                return r;
        snprintf(s.arch, sizeof s.arch, "%s", arch ?: "x86_64");

        r = jobs_get_uint(vm, "vm", "vcpus", true, 1, UINT32_MAX, &vcpus, err);
        r = r < 0 ? r : jobs_get_uint(vm, "vm", "max_vcpus", false, 1, UINT32_MAX, &max_vcpus, err);
        r = r < 0 ? r : jobs_get_uint(vm, "vm", "memory_mib", true, 1, INT64_MAX / 2, &memory, err);
        r = r < 0 ? r : jobs_get_uint(vm, "vm", "max_memory_mib", false, 1, INT64_MAX / 2, &max_memory, err);
        if (r < 0)
                return r;
        if (max_vcpus == 0)
                max_vcpus = vcpus;
        if (max_memory == 0)
                max_memory = memory;
        if (vcpus > max_vcpus)
                return json_field_error(err, "invalid_job", "vm.vcpus", json_get(vm, "vcpus"), "is above max_vcpus %lld", (long long) max_vcpus);
        if (memory > max_memory)
                return json_field_error(err, "invalid_job", "vm.memory_mib", json_get(vm, "memory_mib"), "is above max_memory_mib %lld",
                                        (long long) max_memory);
        s.vcpus = vcpus;
        s.max_vcpus = max_vcpus;
        s.memory_mib = memory;
        s.max_memory_mib = max_memory;

        const cJSON *disks = json_get(vm, "disks"), *d;
        if (disks && !cJSON_IsArray(disks))
                return json_field_error(err, "invalid_job", "vm.disks", disks, "is not an array");
        size_t i = 0;
        cJSON_ArrayForEach(d, disks) {
                _cleanup_free_ char *field = xasprintf("vm.disks[%zu]", i++);
                const char *dname;
                int64_t gib = 0;

                if (!cJSON_IsObject(d))
                        return json_field_error(err, "invalid_job", field, d, "is not an object");
                r = jobs_get_string(d, field, "name", true, sizeof s.disks[0].name - 1, &dname, err);
                r = r < 0 ? r : jobs_get_uint(d, field, "gib", true, 0, INT64_MAX / 2, &gib, err);
                if (r < 0)
                        return r;
                if (!dname[0])
                        return json_field_error(err, "invalid_job", field, d, "has an empty name");
                if (gib == 0)           /* a data disk of 0 GiB is no disk */
                        continue;
                for (size_t k = 0; k < s.n_disks; k++)
                        if (strcmp(s.disks[k].name, dname) == 0)
                                return json_field_error(err, "invalid_job", field, d, "names disk \"%s\" twice", dname);
                if (s.n_disks == HV_DISKS_MAX)
                        return json_field_error(err, "invalid_job", "vm.disks", disks, "has more than %d disks", HV_DISKS_MAX);
                snprintf(s.disks[s.n_disks].name, sizeof s.disks[0].name, "%s", dname);
                s.disks[s.n_disks].gib = gib;
                s.n_disks++;
        }

        const cJSON *nics = json_get(vm, "nics"), *nic;
        if (nics && !cJSON_IsArray(nics))
                return json_field_error(err, "invalid_job", "vm.nics", nics, "is not an array");
        i = 0;
        cJSON_ArrayForEach(nic, nics) {
                _cleanup_free_ char *field = xasprintf("vm.nics[%zu]", i++);
                const char *mac, *address = NULL;
                int64_t vni = 0;
                unsigned b[6];
                char end;

                if (!cJSON_IsObject(nic))
                        return json_field_error(err, "invalid_job", field, nic, "is not an object");
                if (s.n_nics == HV_NICS_MAX)
                        return json_field_error(err, "invalid_job", "vm.nics", nics, "has more than %d NIC", HV_NICS_MAX);
                r = jobs_get_uint(nic, field, "vni", true, NET_VNI_MIN, NET_VNI_MAX, &vni, err);
                r = r < 0 ? r : jobs_get_string(nic, field, "mac", true, 17, &mac, err);
                r = r < 0 ? r : jobs_get_string(nic, field, "address", false, 15, &address, err);
                if (r < 0)
                        return r;
                if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6 ||
                    strlen(mac) != 17 || (b[0] & 1)) {
                        _cleanup_free_ char *f = xasprintf("%s.mac", field);
                        return json_field_error(err, "invalid_job", f, json_get(nic, "mac"), "is not a unicast MAC address (xx:xx:xx:xx:xx:xx)");
                }
                s.nics[s.n_nics].vni = (uint32_t) vni;
                snprintf(s.nics[s.n_nics].mac, sizeof s.nics[0].mac, "%s", mac);
                snprintf(s.nics[s.n_nics].address, sizeof s.nics[0].address, "%s", address ?: "");
                s.n_nics++;
        }

        r = jobs_get_string(vm, "vm", "image", false, 0, &image, err);
        if (r < 0)
                return r;
        s.image = image && image[0] ? xstrdup(image) : NULL;      /* "" is no image, as null is */

        const cJSON *run = json_get(vm, "running");
        if (run && !cJSON_IsBool(run))
                return json_field_error(err, "invalid_job", "vm.running", run, "is not true or false");
        if (run)
                running = cJSON_IsTrue(run);
        /* R-EX3: the pack's wipe is crypto-erase; new volumes in LUKS format. */
        const cJSON *enc = json_get(vm, "encrypted");
        if (enc && !cJSON_IsBool(enc) && !cJSON_IsNull(enc))
                return json_field_error(err, "invalid_job", "vm.encrypted", enc, "is not true or false");
        s.encrypted = cJSON_IsTrue(enc);

        *ret = s;
        s = (struct hv_spec) {};
        *ret_running = running;
        return 0;
}

int jobs_wipe_spec_parse(const cJSON *wipe, uint64_t default_sample_blocks, struct wipejob_spec *ret, struct gc_error *err) {
        _cleanup_(wipejob_spec_done) struct wipejob_spec s = {};
        const char *uuid, *method, *verify = NULL, *approval, *operator_name;
        int64_t passes = 1, sample = 0;
        int r;

        if (!cJSON_IsObject(wipe))
                return json_field_error(err, "invalid_job", "wipe", wipe, "is not an object");
        r = jobs_get_string(wipe, "wipe", "uuid", true, 0, &uuid, err);
        if (r < 0)
                return r;
        if (!jobs_uuid_valid(uuid))
                return json_field_error(err, "invalid_job", "wipe.uuid", json_get(wipe, "uuid"),
                                        "is not a UUID (8-4-4-4-12 hex digits)");
        memcpy(s.uuid, uuid, HV_UUID_LEN + 1);
        r = jobs_get_string(wipe, "wipe", "method", true, 0, &method, err);
        if (r < 0)
                return r;
        if (wipe_method_from_string(method, &s.method) < 0)      /* R-EX3: the pack's */
                return json_field_error(err, "invalid_job", "wipe.method", json_get(wipe, "method"),
                                        "is not zero, random or crypto-erase");
        r = jobs_get_uint(wipe, "wipe", "passes", false, 1, WIPEJOB_PASSES_MAX, &passes, err);
        if (r < 0)
                return r;
        s.passes = (unsigned) passes;
        r = jobs_get_string(wipe, "wipe", "verify", false, 0, &verify, err);
        if (r < 0)
                return r;
        if (verify && strcmp(verify, "full") != 0 && strcmp(verify, "sampled") != 0)
                return json_field_error(err, "invalid_job", "wipe.verify", json_get(wipe, "verify"), "is not full or sampled");
        r = jobs_get_uint(wipe, "wipe", "sample_blocks", false, 1, 1 << 30, &sample, err);
        if (r < 0)
                return r;
        if (verify && strcmp(verify, "sampled") == 0)
                s.sample_blocks = sample ? (uint64_t) sample : default_sample_blocks ? default_sample_blocks : 4096;
        /* R-AU3: a wipe names who ordered it and under which approval. */
        r = jobs_get_string(wipe, "wipe", "approval", true, 1024, &approval, err);
        r = r < 0 ? r : jobs_get_string(wipe, "wipe", "operator", true, 1024, &operator_name, err);
        if (r < 0)
                return r;
        if (!approval[0])
                return json_field_error(err, "invalid_job", "wipe.approval", json_get(wipe, "approval"), "is empty (R-AU3)");
        if (!operator_name[0])
                return json_field_error(err, "invalid_job", "wipe.operator", json_get(wipe, "operator"), "is empty (R-AU3)");
        s.approval = xstrdup(approval);
        s.operator_name = xstrdup(operator_name);
        *ret = s;
        s = (struct wipejob_spec) {};
        return 0;
}

/* ------------------------------------------------------------- output --- */

static void jobs_add(cJSON *o, const char *key, cJSON *v) {
        if (!v || !cJSON_AddItemToObject(o, key, v))
                abort();
}

cJSON *jobs_vmstate(const struct hv_domain *d, bool recreated) {
        cJSON *o = cJSON_CreateObject(), *disks;

        if (!o)
                abort();
        jobs_add(o, "uuid", cJSON_CreateString(d->uuid));
        if (d->name)
                jobs_add(o, "name", cJSON_CreateString(d->name));
        jobs_add(o, "title", d->title ? cJSON_CreateString(d->title) : cJSON_CreateNull());
        /* A domain without labels reports an empty object: drift to repair (R-NM3). */
        cJSON *l = cJSON_CreateObject();
        if (!l)
                abort();
        if (d->has_labels) {
                jobs_add(l, "unit", cJSON_CreateString(d->labels.unit ?: ""));
                jobs_add(l, "system", cJSON_CreateString(d->labels.system ?: ""));
                jobs_add(l, "role", cJSON_CreateString(d->labels.role ?: ""));
                jobs_add(l, "number", cJSON_CreateNumber(d->labels.number));
                jobs_add(l, "request", cJSON_CreateNumber((double) d->labels.request));
                jobs_add(l, "pool", cJSON_CreateString(d->labels.pool ?: ""));
        }
        jobs_add(o, "labels", l);
        jobs_add(o, "state", cJSON_CreateString(jobs_state_name(d->state)));
        jobs_add(o, "vcpus", cJSON_CreateNumber(d->vcpus));
        jobs_add(o, "memory_mib", cJSON_CreateNumber((double) d->memory_mib));
        disks = cJSON_CreateArray();
        if (!disks)
                abort();
        for (size_t i = 0; i < d->n_disks; i++) {
                cJSON *k = cJSON_CreateObject();
                if (!k)
                        abort();
                jobs_add(k, "name", cJSON_CreateString(d->disks[i].name));
                jobs_add(k, "gib", cJSON_CreateNumber((double) d->disks[i].gib));
                if (!cJSON_AddItemToArray(disks, k))
                        abort();
        }
        jobs_add(o, "disks", disks);
        jobs_add(o, "recreated", cJSON_CreateBool(recreated));
        return o;
}

/* ---------------------------------------------------------- execution --- */

struct jobs_run_state {
        const struct jobs_env *env;
        struct jobs_outcome *out;
        char error[1024];               /* set on failure */
        cJSON *extra;                   /* members added to the result */
};

static void jobs_act(struct jobs_run_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jobs_act(struct jobs_run_state *st, const char *fmt, ...) {
        char *a = st->out->actions;
        size_t n = strlen(a);
        va_list ap;

        if (n > 0 && n + 2 < sizeof st->out->actions) {
                memcpy(a + n, ", ", 3);
                n += 2;
        }
        va_start(ap, fmt);
        vsnprintf(a + n, sizeof st->out->actions - n, fmt, ap);
        va_end(ap);
}

static int jobs_fail(struct jobs_run_state *st, int r, const char *what) {
        snprintf(st->error, sizeof st->error, "%s: %s", what, strerror(-r));
        return r;
}

static bool jobs_streq(const char *a, const char *b) {
        return strcmp(a ?: "", b ?: "") == 0;
}

/* The title (R-NM2) and every label compared exactly: a label changed behind
 * the agent's back is repaired by the next vm.ensure (R-NM3). */
static bool jobs_labels_equal(const struct hv_domain *d, const struct hv_spec *s) {
        return d->has_labels && jobs_streq(d->title, s->title) && jobs_streq(d->labels.unit, s->labels.unit) &&
               jobs_streq(d->labels.system, s->labels.system) && jobs_streq(d->labels.role, s->labels.role) &&
               d->labels.number == s->labels.number && d->labels.request == s->labels.request &&
               jobs_streq(d->labels.pool, s->labels.pool);
}

static void jobs_note(struct jobs_run_state *st, const char *key, const char *text) {
        if (!cJSON_GetObjectItemCaseSensitive(st->extra, key))
                jobs_add(st->extra, key, cJSON_CreateString(text));
}

static int jobs_converge(struct jobs_run_state *st, const struct hv_spec *s, bool running, const struct hv_domain *d) {
        const struct hv_ops *ops = st->env->ops;
        struct hv *hv = st->env->hv;
        int r;

        if (d->vcpus != s->vcpus) {
                r = ops->set_vcpus(hv, s->uuid, s->vcpus);
                if (r < 0)
                        return jobs_fail(st, r, "set_vcpus");
                jobs_act(st, "vcpus %u→%u", d->vcpus, s->vcpus);
        }
        if (d->memory_mib != s->memory_mib) {
                r = ops->set_memory(hv, s->uuid, s->memory_mib);
                if (r < 0)
                        return jobs_fail(st, r, "set_memory");
                jobs_act(st, "memory %llu→%llu MiB", (unsigned long long) d->memory_mib,
                         (unsigned long long) s->memory_mib);
        }
        for (size_t i = 0; i < s->n_disks; i++) {
                const struct hv_disk *want = &s->disks[i], *have = NULL;
                for (size_t k = 0; k < d->n_disks; k++)
                        if (strcmp(d->disks[k].name, want->name) == 0)
                                have = &d->disks[k];
                if (!have) {
                        jobs_act(st, "disk %s missing", want->name);
                        jobs_note(st, "disk_add", "no hypervisor operation adds a disk to a defined domain");
                        continue;
                }
                if (have->gib > want->gib) {
                        jobs_act(st, "disk %s %llu GiB kept (larger than %llu)", want->name,
                                 (unsigned long long) have->gib, (unsigned long long) want->gib);
                        continue;
                }
                if (have->gib == want->gib)
                        continue;
                r = ops->resize_disk(hv, s->uuid, want->name, want->gib);
                if (r == -EOPNOTSUPP) {
                        jobs_act(st, "disk %s resize unsupported", want->name);
                        jobs_note(st, "disk_resize", JOBS_DISK_RESIZE_UNSUPPORTED);
                        continue;
                }
                if (r < 0) {
                        _cleanup_free_ char *what = xasprintf("resize_disk %s", want->name);
                        return jobs_fail(st, r, what);
                }
                jobs_act(st, "disk %s %llu→%llu GiB", want->name, (unsigned long long) have->gib,
                         (unsigned long long) want->gib);
        }
        if (!jobs_labels_equal(d, s)) {         /* R-NM3 */
                r = ops->set_labels(hv, s->uuid, s->title, &s->labels);
                if (r < 0)
                        return jobs_fail(st, r, "set_labels");
                jobs_act(st, "relabelled");
        }
        if (running && d->state != HV_STATE_RUNNING) {
                if (d->state == HV_STATE_PAUSED) {
                        /* A start still under way (an agent killed mid-start
                         * leaves libvirt finishing it) shows as paused for a
                         * moment; a domain an operator paused stays paused. */
                        enum hv_state now = d->state;
                        for (int i = 0; i < 100 && now == HV_STATE_PAUSED; i++) {
                                struct hv_domain again = {};
                                struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
                                nanosleep(&ts, NULL);
                                if (ops->get(hv, s->uuid, &again) >= 0)
                                        now = again.state;
                                hv_domain_done(&again);
                        }
                        jobs_act(st, now == HV_STATE_RUNNING ? "was starting up, now running" : "paused, left paused");
                } else {
                        r = ops->start(hv, s->uuid);
                        if (r < 0)
                                return jobs_fail(st, r, "start");
                        jobs_act(st, "started");
                }
        } else if (!running && d->state == HV_STATE_RUNNING) {
                r = ops->shutdown(hv, s->uuid, false);
                if (r < 0)
                        return jobs_fail(st, r, "shutdown");
                jobs_act(st, "shut down");
        }
        return 0;
}

static int jobs_ensure(struct jobs_run_state *st, const struct hv_spec *s, bool running, bool *ret_recreated) {
        const struct hv_ops *ops = st->env->ops;
        struct hv *hv = st->env->hv;
        _cleanup_(jobs_domain_donep) struct hv_domain d = {};
        bool recreated = false;
        int r;

        r = ops->get(hv, s->uuid, &d);
        if (r == -ENOENT) {
                recreated = st->env->journal && journal_created(st->env->journal, s->uuid);
                r = ops->define(hv, s);
                if (r == -EOPNOTSUPP && s->encrypted) {
                        snprintf(st->error, sizeof st->error, "%s", JOBS_NO_SECRETS);
                        return r;
                }
                if (r < 0)
                        return jobs_fail(st, r, "define");
                st->out->created = true;
                jobs_act(st, recreated ? "re-defined (made here before, missing now)" : "defined");
                if (running) {
                        r = ops->start(hv, s->uuid);
                        if (r < 0)
                                return jobs_fail(st, r, "start");
                        jobs_act(st, "started");
                }
        } else if (r < 0)
                return jobs_fail(st, r, "get");
        else {
                r = jobs_converge(st, s, running, &d);
                if (r < 0)
                        return r;
                if (!st->out->actions[0])
                        jobs_act(st, "unchanged");
        }
        *ret_recreated = recreated;
        return 0;
}

/* The domain's volumes are gone: so are the checkpoints of their wipes. */
static void jobs_wipe_forget(struct jobs_run_state *st, const char *uuid) {
        if (st->env->wipes && wipejobs_forget(st->env->wipes, uuid) < 0)
                log_warning("wipe state of %s: cannot be removed", uuid);
}

static int jobs_delete(struct jobs_run_state *st, const char *uuid) {
        const struct hv_ops *ops = st->env->ops;
        struct hv *hv = st->env->hv;
        _cleanup_(jobs_domain_donep) struct hv_domain d = {};
        int64_t wiping;
        int r;

        /* Its volumes are being written: deleting them now would leave the
         * wipe without a certificate and the data where it was. */
        wiping = st->env->wipes ? wipejobs_busy(st->env->wipes, uuid) : 0;
        if (wiping) {
                snprintf(st->error, sizeof st->error, "vm.delete: job %lld is wiping the volumes of %s; delete after it",
                         (long long) wiping, uuid);
                return -EBUSY;
        }
        r = ops->get(hv, uuid, &d);
        if (r == -ENOENT) {
                /* Gone already; undefine still removes volumes left behind. */
                r = ops->undefine(hv, uuid);
                if (r < 0 && r != -ENOENT)
                        return jobs_fail(st, r, "undefine");
                jobs_wipe_forget(st, uuid);
                jobs_act(st, "already gone");
                return 0;
        }
        if (r < 0)
                return jobs_fail(st, r, "get");
        if (d.state != HV_STATE_SHUTOFF) {
                r = ops->shutdown(hv, uuid, true);
                if (r < 0 && r != -ENOENT)
                        return jobs_fail(st, r, "shutdown");
                jobs_act(st, "stopped");
        }
        r = ops->undefine(hv, uuid);
        if (r < 0 && r != -ENOENT)
                return jobs_fail(st, r, "undefine");
        jobs_wipe_forget(st, uuid);
        jobs_act(st, "undefined");
        return 0;
}

/* ------------------------------------------------------------ reclaim --- */

static void jobs_sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* vm.stop jobs waiting for their domain to go off (jobs.h). */
struct jobs_stop {
        int64_t job;
        char uuid[HV_UUID_LEN + 1];
        double t0;                      /* when the ACPI request went */
        struct jobs_stop *next;
};

struct jobs_stops {
        struct jobs_stop *list;         /* oldest first */
};

int jobs_stops_new(struct jobs_stops **ret) {
        *ret = xnew(struct jobs_stops, 1);
        return 0;
}

void jobs_stops_free(struct jobs_stops *s) {
        if (!s)
                return;
        while (s->list) {
                struct jobs_stop *x = s->list;
                s->list = x->next;
                free(x);
        }
        free(s);
}

size_t jobs_stops_pending(const struct jobs_stops *s) {
        size_t n = 0;
        for (const struct jobs_stop *x = s ? s->list : NULL; x; x = x->next)
                n++;
        return n;
}

static bool jobs_stops_known(const struct jobs_stops *s, int64_t job) {
        for (const struct jobs_stop *x = s ? s->list : NULL; x; x = x->next)
                if (x->job == job)
                        return true;
        return false;
}

static void jobs_stops_add(struct jobs_stops *s, int64_t job, const char *uuid, double t0) {
        struct jobs_stop *x = xnew(struct jobs_stop, 1), **tail = &s->list;
        x->job = job;
        memcpy(x->uuid, uuid, HV_UUID_LEN + 1);
        x->t0 = t0;
        while (*tail)
                tail = &(*tail)->next;
        *tail = x;
}

/* R-EX2: a polite power-off first, so that the guest can end its work. */
static int jobs_stop(struct jobs_run_state *st, const char *uuid) {
        const struct hv_ops *ops = st->env->ops;
        struct hv *hv = st->env->hv;
        _cleanup_(jobs_domain_donep) struct hv_domain d = {};
        double t0 = jobs_now();
        bool acpi_refused = false;
        int r;

        r = ops->get(hv, uuid, &d);
        if (r < 0)
                return jobs_fail(st, r, "get");
        if (d.state == HV_STATE_SHUTOFF) {
                jobs_act(st, "shut off already");
                return 0;
        }
        if (d.state != HV_STATE_PAUSED) {
                r = ops->shutdown(hv, uuid, false);
                acpi_refused = r < 0;
                if (r < 0)
                        log_warning_errno(r, "vm.stop %s: the ACPI shutdown was not taken; destroying it", uuid);
                if (r >= 0 && st->env->stops) {
                        /* The agent waits in its loop (jobs_collect), not here:
                         * heartbeats and other jobs go on meanwhile. */
                        jobs_stops_add(st->env->stops, st->out->job, uuid, t0);
                        st->out->pending = true;
                        jobs_act(st, "ACPI shutdown asked; destroyed if still running after %d s", JOBS_STOP_TIMEOUT_S);
                        return 0;
                }
                for (int i = 0; r >= 0 && jobs_now() - t0 < JOBS_STOP_TIMEOUT_S; i++) {
                        struct hv_domain now = {};
                        jobs_sleep_ms(i < 10 ? 100 : 250);
                        r = ops->get(hv, uuid, &now);
                        enum hv_state state = now.state;
                        hv_domain_done(&now);
                        if (r >= 0 && state == HV_STATE_SHUTOFF) {
                                jobs_act(st, "shut down (ACPI, %.1f s)", jobs_now() - t0);
                                return 0;
                        }
                }
        }
        r = ops->shutdown(hv, uuid, true);
        if (r < 0)
                return jobs_fail(st, r, "destroy");
        if (d.state == HV_STATE_PAUSED)
                jobs_act(st, "destroyed (paused: no ACPI shutdown possible)");
        else if (acpi_refused)
                jobs_act(st, "destroyed (the ACPI shutdown was refused)");
        else
                jobs_act(st, "destroyed (no ACPI shutdown within %d s)", JOBS_STOP_TIMEOUT_S);
        return 0;
}

/* A wipe refused with nothing written (R-EX3): the field, its value, why. */
static int jobs_refuse(struct jobs_run_state *st, const char *uuid, const char *field, const char *value, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int jobs_refuse(struct jobs_run_state *st, const char *uuid, const char *field, const char *value, const char *fmt, ...) {
        char reason[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        /* The whole value is in "refused"; the message keeps a readable part. */
        if (value)
                snprintf(st->error, sizeof st->error, "refused: %.64s \"%.300s\": %s", field, value, reason);
        else
                snprintf(st->error, sizeof st->error, "refused: %.64s: %s", field, reason);
        cJSON *w = cJSON_CreateObject(), *rf = cJSON_CreateObject();
        if (!w || !rf)
                abort();
        jobs_add(w, "uuid", cJSON_CreateString(uuid));
        jobs_add(rf, "field", cJSON_CreateString(field));
        jobs_add(rf, "value", value ? cJSON_CreateString(value) : cJSON_CreateNull());
        jobs_add(rf, "reason", cJSON_CreateString(reason));
        jobs_add(w, "refused", rf);
        jobs_add(w, "volumes", cJSON_CreateArray());
        cJSON_DeleteItemFromObjectCaseSensitive(st->extra, "wipe");
        jobs_add(st->extra, "wipe", w);
        return -EPERM;
}

/* What wipe.h checks again when it opens the volume; here first, so that a
 * refusal comes before any volume is written. */
static int jobs_wipe_check_file(struct jobs_run_state *st, const char *uuid, size_t i, const struct hv_volume *v) {
        _cleanup_free_ char *field = xasprintf("volumes[%zu].path", i);
        char real[PATH_MAX], pool_real[PATH_MAX];
        struct stat lst;

        if (lstat(v->path, &lst) < 0)
                return jobs_refuse(st, uuid, field, v->path, "cannot be found: %s", strerror(errno));
        if (S_ISLNK(lst.st_mode))
                return jobs_refuse(st, uuid, field, v->path, "is a symbolic link; the volume must be the file libvirt names");
        if (!S_ISREG(lst.st_mode) && !S_ISBLK(lst.st_mode))
                return jobs_refuse(st, uuid, field, v->path, "is neither a regular file nor a block device");
        if (!realpath(v->path, real))
                return jobs_refuse(st, uuid, field, v->path, "cannot be resolved: %s", strerror(errno));
        if (!realpath(v->pool_dir, pool_real))
                return jobs_refuse(st, uuid, field, v->path, "its pool's directory %s cannot be resolved: %s", v->pool_dir,
                                   strerror(errno));
        size_t pl = strlen(pool_real);
        if (strcmp(pool_real, "/") != 0 && (strncmp(real, pool_real, pl) != 0 || real[pl] != '/'))
                return jobs_refuse(st, uuid, field, v->path, "resolves to %s, which is not under the pool directory %s (R-EX3)",
                                   real, pool_real);
        if (S_ISREG(lst.st_mode) && (uint64_t) lst.st_size != v->size) {
                _cleanup_free_ char *f = xasprintf("volumes[%zu].size", i);
                char value[32];
                snprintf(value, sizeof value, "%llu", (unsigned long long) v->size);
                return jobs_refuse(st, uuid, f, value, "is what libvirt gives, but %s holds %lld bytes", v->path,
                                   (long long) lst.st_size);
        }
        return 0;
}

/* R-EX3: the checks of jobs.h, then the wipe in its thread. */
static int jobs_wipe(struct jobs_run_state *st, struct wipejob_spec *spec) {
        const struct jobs_env *env = st->env;
        const char *uuid = spec->uuid, *pool = env->storage_pool ? env->storage_pool : "(the configured pool)";
        _cleanup_(jobs_domain_donep) struct hv_domain d = {};
        struct hv_volume *vols = NULL;
        size_t n = 0;
        int64_t busy;
        int r;

        if (!env->wipes) {
                snprintf(st->error, sizeof st->error, "%s", JOBS_NO_WIPE);
                return -EOPNOTSUPP;
        }
        if (!wipejobs_have_key(env->wipes))
                return jobs_refuse(st, uuid, "wipe.signing_key", NULL,
                                   "is not configured on this host: no certificate of sanitization could be signed, so "
                                   "nothing is wiped (R-EX3)");
        busy = wipejobs_busy(env->wipes, uuid);
        if (busy) {
                snprintf(st->error, sizeof st->error, "vm.wipe: job %lld is wiping %s already", (long long) busy, uuid);
                return -EBUSY;
        }
        r = env->ops->get(env->hv, uuid, &d);
        if (r == -ENOENT)
                return jobs_refuse(st, uuid, "wipe.uuid", uuid, "no such domain on this host");
        if (r == -EPERM)
                return jobs_refuse(st, uuid, "wipe.uuid", uuid, "the domain was not created by govcloud: not touched");
        if (r < 0)
                return jobs_fail(st, r, "get");
        if (d.state != HV_STATE_SHUTOFF)
                return jobs_refuse(st, uuid, "wipe.uuid", uuid, "domain %s is %s, not shut off: stop it first (vm.stop)",
                                   d.name ?: uuid, jobs_state_name(d.state));

        r = env->ops->volumes(env->hv, uuid, &vols, &n);
        if (r < 0)
                return jobs_fail(st, r, "volumes");
        for (size_t i = 0; i < n && r >= 0; i++) {
                const struct hv_volume *v = &vols[i];
                _cleanup_free_ char *field = xasprintf("volumes[%zu].path", i);

                if (!v->path)
                        r = jobs_refuse(st, uuid, field, NULL, "disk %s names no file or block device", v->disk);
                else if (v->attached)
                        r = jobs_refuse(st, uuid, field, v->path, "attached to running domain %s", v->attached);
                else if (!v->pool)
                        r = jobs_refuse(st, uuid, field, v->path, "not in managed pool %s (libvirt knows no volume there)",
                                        pool);
                else if (!v->managed)
                        r = jobs_refuse(st, uuid, field, v->path, "not in managed pool %s (it is in pool %s)", pool, v->pool);
                else if (strcmp(v->format, "raw") != 0 && strcmp(v->format, "qcow2") != 0 &&
                         strcmp(v->format, "luks") != 0) {
                        _cleanup_free_ char *f = xasprintf("volumes[%zu].format", i);
                        r = jobs_refuse(st, uuid, f, v->format, "is not raw, qcow2 or luks: %s cannot be wiped here", v->path);
                } else if (spec->method == WIPE_CRYPTO_ERASE && strcmp(v->format, "luks") == 0 && !v->secret) {
                        _cleanup_free_ char *f = xasprintf("volumes[%zu].secret", i);
                        r = jobs_refuse(st, uuid, f, NULL, "the LUKS volume %s names no libvirt secret: its key could not be "
                                        "destroyed", v->path);
                } else
                        r = jobs_wipe_check_file(st, uuid, i, v);
        }
        if (r < 0) {
                hv_volumes_free(vols, n);
                return r;
        }

        size_t count = n;
        r = wipejobs_start(env->wipes, st->out->job, spec, TAKE_PTR(vols), n);
        if (r < 0)
                return jobs_fail(st, r, "the wipe's thread");
        st->out->pending = true;
        jobs_act(st, "wiping %zu volume%s in the background", count, count == 1 ? "" : "s");
        return 0;
}

static cJSON *jobs_result_new(int64_t id, bool ok) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                abort();
        jobs_add(o, "job", cJSON_CreateNumber((double) id));
        jobs_add(o, "ok", cJSON_CreateBool(ok));
        return o;
}

/* Execute a job that the journal does not have as done. */
/* ---------------------------------------------------------------- VPCs --- */

static int jobs_state_read(const char *path, cJSON **ret) {
        struct gc_error err = {};
        cJSON *doc = NULL;
        int r = json_parse_file(path, 64 * 1024 * 1024, &doc, &err);
        if (r == -ENOENT) {
                doc = cJSON_CreateObject();
                cJSON_AddItemToObject(doc, "vpcs", cJSON_CreateObject());
                *ret = doc;
                return 0;
        }
        if (r < 0) {
                char buf[GC_ERROR_FORMAT_MAX];
                log_error("VPC state %s: %s", path, gc_error_format(&err, buf, sizeof buf));
                return r;
        }
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "vpcs"))) {
                cJSON_Delete(doc);
                log_error("VPC state %s: no \"vpcs\" object", path);
                return -EINVAL;
        }
        *ret = doc;
        return 0;
}

/* Replace the file atomically: write, fsync, rename, fsync the directory. */
static int jobs_state_write(const char *path, const cJSON *doc) {
        _cleanup_free_ char *text = cJSON_PrintUnformatted(doc);
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        int fd, r = 0;

        if (slash)
                *(slash == dir ? slash + 1 : slash) = 0;
        else
                strcpy(dir, ".");
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "VPC state %s", tmp);
        size_t len = strlen(text), done = 0;
        while (done < len) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                done += (size_t) n;
        }
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        close(fd);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return log_error_errno(r, "VPC state %s: cannot be written", path);
        }
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                (void) fsync(fd);
                close(fd);
        }
        return 0;
}

static int jobs_state_update(const char *path, uint32_t vni, const struct net_vpc *vpc) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        char key[16];
        int r = jobs_state_read(path, &doc);
        if (r < 0)
                return r;
        cJSON *vpcs = cJSON_GetObjectItemCaseSensitive(doc, "vpcs");
        snprintf(key, sizeof key, "%u", vni);
        cJSON_DeleteItemFromObjectCaseSensitive(vpcs, key);
        if (vpc)
                cJSON_AddItemToObject(vpcs, key, net_vpc_to_json(vpc));
        return jobs_state_write(path, doc);
}

int jobs_vpc_state_load(const char *path, struct net_vpc **ret, size_t *ret_n) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct net_vpc *v = NULL;
        size_t n = 0;
        const cJSON *e;
        int r = jobs_state_read(path, &doc);
        if (r < 0)
                return r;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "vpcs")) {
                struct gc_error err = {};
                struct net_vpc one = {};
                if (net_vpc_parse(e, &one, &err) < 0) {
                        char buf[GC_ERROR_FORMAT_MAX];
                        log_error("VPC state %s: entry %s: %s", path, e->string, gc_error_format(&err, buf, sizeof buf));
                        jobs_vpc_state_free(v, n);
                        return -EINVAL;
                }
                v = xrealloc(v, (n + 1) * sizeof *v);
                v[n++] = one;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

void jobs_vpc_state_free(struct net_vpc *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                net_vpc_done(&v[i]);
        free(v);
}

static int jobs_vpc_ensure(struct jobs_run_state *st, const struct net_vpc *vpc) {
        struct gc_error err = {};
        char actions[256] = "";
        int r;

        if (!st->env->net) {
                jobs_act(st, "%s", JOBS_NO_NETWORK);
                return 0;
        }
        r = net_ensure(st->env->net, vpc, actions, sizeof actions, &err);
        if (r < 0) {
                gc_error_format(&err, st->error, sizeof st->error);
                return r;
        }
        jobs_act(st, "%s", actions[0] ? actions : "unchanged");
        if (st->env->net_state) {
                r = jobs_state_update(st->env->net_state, vpc->vni, vpc);
                if (r < 0)
                        return jobs_fail(st, r, "the VPC state file");
        }
        return 0;
}

static int jobs_vpc_delete(struct jobs_run_state *st, uint32_t vni) {
        struct gc_error err = {};
        int r;

        if (!st->env->net) {
                jobs_act(st, "%s", JOBS_NO_NETWORK);
                return 0;
        }
        /* Out of the state first: a crash after it leaves a VPC the reconcile removes. */
        if (st->env->net_state) {
                r = jobs_state_update(st->env->net_state, vni, NULL);
                if (r < 0)
                        return jobs_fail(st, r, "the VPC state file");
        }
        r = net_delete(st->env->net, vni, &err);
        if (r < 0) {
                gc_error_format(&err, st->error, sizeof st->error);
                return r;
        }
        jobs_act(st, "removed");
        return 0;
}

/* -------------------------------------------------------------- tunnels --- */

/* R-OP4: a listener only for an approved tunnel.open (agent/tunnel.h). */
static int jobs_tunnel_open(struct jobs_run_state *st, const cJSON *spec) {
        _cleanup_(cJSON_Deletep) cJSON *tunnel = NULL;
        struct gc_error err = {};
        int r;

        if (!st->env->tunnels) {
                snprintf(st->error, sizeof st->error, "%s", JOBS_NO_TUNNELS);
                return -EOPNOTSUPP;
        }
        r = tunnels_start(st->env->tunnels, spec, &tunnel, &err);
        if (r < 0) {
                gc_error_format(&err, st->error, sizeof st->error);
                return r;
        }
        jobs_act(st, "listening on %s:%ld until %ld", str_at(tunnel, "address") ?: "?", int_at(tunnel, "port", 0),
                 int_at(tunnel, "deadline", 0));
        jobs_add(st->extra, "tunnel", TAKE_PTR(tunnel));
        return 0;
}

static int jobs_tunnel_close(struct jobs_run_state *st, int64_t id) {
        int r;

        if (!st->env->tunnels) {
                snprintf(st->error, sizeof st->error, "%s", JOBS_NO_TUNNELS);
                return -EOPNOTSUPP;
        }
        r = tunnels_revoke(st->env->tunnels, id);
        if (r < 0)
                return jobs_fail(st, r, "revoke");
        jobs_act(st, "closed");
        return 0;
}

static cJSON *jobs_execute(const struct jobs_env *env, int64_t id, const char *kind, const struct hv_spec *spec,
                           bool running, const struct net_vpc *vpc, uint32_t vni, const cJSON *tunnel,
                           int64_t tunnel_id, struct wipejob_spec *wipe, const char *parse_error, struct jobs_outcome *out) {
        _cleanup_(cJSON_Deletep) cJSON *extra = cJSON_CreateObject();
        struct jobs_run_state st = { .env = env, .out = out, .extra = extra };
        const char *uuid = spec ? spec->uuid : NULL;
        _cleanup_(jobs_domain_donep) struct hv_domain d = {};
        bool recreated = false;
        cJSON *result;
        int r = -EINVAL;

        if (!extra)
                abort();
        if (parse_error)
                snprintf(st.error, sizeof st.error, "%s", parse_error);
        else if (strcmp(kind, JOBS_KIND_ENSURE) == 0) {
                if (spec->n_nics > 0 && !env->net)
                        jobs_note(&st, "nic", "not attached: this host's agent has no network section");
                r = jobs_ensure(&st, spec, running, &recreated);
        }
        else if (strcmp(kind, JOBS_KIND_DELETE) == 0)
                r = jobs_delete(&st, uuid);
        else if (strcmp(kind, JOBS_KIND_VPC_ENSURE) == 0)
                r = jobs_vpc_ensure(&st, vpc);
        else if (strcmp(kind, JOBS_KIND_VPC_DELETE) == 0)
                r = jobs_vpc_delete(&st, vni);
        else if (strcmp(kind, JOBS_KIND_TUNNEL_OPEN) == 0)
                r = jobs_tunnel_open(&st, tunnel);
        else if (strcmp(kind, JOBS_KIND_TUNNEL_CLOSE) == 0)
                r = jobs_tunnel_close(&st, tunnel_id);
        else if (strcmp(kind, JOBS_KIND_STOP) == 0)
                r = jobs_stop(&st, uuid);
        else if (strcmp(kind, JOBS_KIND_WIPE) == 0)
                r = jobs_wipe(&st, wipe);
        else
                snprintf(st.error, sizeof st.error, "unknown job kind \"%s\"", kind);

        bool with_vm = strcmp(kind, JOBS_KIND_ENSURE) == 0 || strcmp(kind, JOBS_KIND_STOP) == 0;
        if (r >= 0 && with_vm && !out->pending) {
                r = env->ops->get(env->hv, uuid, &d);
                if (r < 0)
                        jobs_fail(&st, r, "get (after the job)");
        }
        if (r < 0) {
                result = jobs_result_new(id, false);
                jobs_add(result, "error", cJSON_CreateString(st.error));
                /* vm.wipe: what was refused (wire.h). */
                const cJSON *w = cJSON_GetObjectItemCaseSensitive(extra, "wipe");
                if (w)
                        jobs_add(result, "wipe", cJSON_Duplicate(w, true));
                out->ok = false;
                return result;
        }
        if (out->pending) {
                out->ok = true;
                return NULL;
        }

        result = jobs_result_new(id, true);
        if (strncmp(kind, "vpc.", 4) == 0) {
                cJSON *v = cJSON_CreateObject();
                jobs_add(v, "vni", cJSON_CreateNumber(vni));
                jobs_add(v, "actions", cJSON_CreateString(out->actions));
                jobs_add(result, "vpc", v);
        }
        /* vm.delete: no VMSTATE, there is no domain left to describe. */
        if (with_vm) {
                cJSON *vm = jobs_vmstate(&d, recreated);
                if (out->created)
                        jobs_add(vm, "created", cJSON_CreateTrue());
                jobs_add(result, "vm", vm);
        }
        const cJSON *m;
        cJSON_ArrayForEach(m, extra)
                jobs_add(result, m->string, cJSON_Duplicate(m, true));
        out->ok = true;
        return result;
}

int jobs_run(const struct jobs_env *env, const cJSON *job, cJSON **ret_result, struct jobs_outcome *ret_outcome,
             struct gc_error *err) {
        _cleanup_(jobs_spec_donep) struct hv_spec spec = {};
        _cleanup_(net_vpc_done) struct net_vpc vpc = {};
        _cleanup_(wipejob_spec_done) struct wipejob_spec wipe = {};
        _cleanup_(cJSON_Deletep) cJSON *result = NULL;
        char vpc_name[32] = "", tunnel_name[40] = "";
        uint32_t vni = 0;
        const cJSON *tunnel = NULL;
        int64_t tunnel_id = 0;
        struct jobs_outcome out = {};
        struct gc_error perr = {};
        const char *kind = NULL, *name = NULL, *uuid = NULL;
        char parse_error[GC_ERROR_FORMAT_MAX] = "";
        bool running = true, have_spec = false;
        const cJSON *vm;
        double t0 = jobs_now();
        int64_t id;
        int r;

        if (!cJSON_IsObject(job))
                return json_field_error(err, "invalid_job", "", job, "is not a job object");
        r = json_get_int(job, "id", &id, err);
        if (r < 0)
                return -EINVAL;
        if (id < 1)
                return json_field_error(err, "invalid_job", "id", json_get(job, "id"), "is not a positive job id");
        out.job = id;

        if (json_get_string(job, "kind", &kind, &perr) < 0) {
                gc_error_format(&perr, parse_error, sizeof parse_error);
                kind = "?";
        }
        vm = json_get(job, "vm");
        if (cJSON_IsObject(vm)) {
                (void) json_get_string(vm, "title", &name, NULL);
                (void) json_get_string(vm, "uuid", &uuid, NULL);
        }
        if (!parse_error[0] && (strcmp(kind, JOBS_KIND_DELETE) == 0 || strcmp(kind, JOBS_KIND_STOP) == 0)) {
                if (!uuid || !jobs_uuid_valid(uuid)) {
                        json_field_error(&perr, "invalid_job", "vm.uuid", uuid ? json_get(vm, "uuid") : NULL, "is not a UUID");
                        gc_error_format(&perr, parse_error, sizeof parse_error);
                } else {
                        memcpy(spec.uuid, uuid, HV_UUID_LEN + 1);
                        have_spec = true;
                }
        } else if (!parse_error[0] && strcmp(kind, JOBS_KIND_ENSURE) == 0) {
                if (jobs_spec_parse(vm, &spec, &running, &perr) < 0)
                        gc_error_format(&perr, parse_error, sizeof parse_error);
                else
                        have_spec = true;
                for (size_t i = 0; have_spec && env->net && i < spec.n_nics; i++)
                        net_bridge_name(env->net, spec.nics[i].vni, spec.nics[i].bridge);
        } else if (!parse_error[0] && strcmp(kind, JOBS_KIND_WIPE) == 0) {
                if (jobs_wipe_spec_parse(json_get(job, "wipe"), env->wipe_sample_blocks, &wipe, &perr) < 0)
                        gc_error_format(&perr, parse_error, sizeof parse_error);
                else {
                        memcpy(spec.uuid, wipe.uuid, HV_UUID_LEN + 1);
                        have_spec = true;
                        uuid = spec.uuid;       /* wipe's go to the thread */
                }
        } else if (!parse_error[0] && strcmp(kind, JOBS_KIND_VPC_ENSURE) == 0) {
                if (net_vpc_parse(json_get(job, "vpc"), &vpc, &perr) < 0)
                        gc_error_format(&perr, parse_error, sizeof parse_error);
                else
                        vni = vpc.vni;
        } else if (!parse_error[0] && strcmp(kind, JOBS_KIND_VPC_DELETE) == 0) {
                const cJSON *v = json_get(job, "vpc");
                int64_t n = 0;
                if (!cJSON_IsObject(v))
                        json_field_error(&perr, "invalid_job", "vpc", v, "is not an object");
                else if (jobs_get_uint(v, "vpc", "vni", true, NET_VNI_MIN, NET_VNI_MAX, &n, &perr) >= 0)
                        vni = (uint32_t) n;
                if (!vni)
                        gc_error_format(&perr, parse_error, sizeof parse_error);
        } else if (!parse_error[0] && (strcmp(kind, JOBS_KIND_TUNNEL_OPEN) == 0 ||
                                       strcmp(kind, JOBS_KIND_TUNNEL_CLOSE) == 0)) {
                /* tunnel.open: the TUNNELSPEC is checked field by field by tunnels_start. */
                const cJSON *v = json_get(job, "tunnel");
                if (!cJSON_IsObject(v))
                        json_field_error(&perr, "invalid_job", "tunnel", v, "is not an object");
                else if (jobs_get_uint(v, "tunnel", "id", true, 1, INT64_MAX / 2, &tunnel_id, &perr) >= 0)
                        tunnel = v;
                if (!tunnel)
                        gc_error_format(&perr, parse_error, sizeof parse_error);
        }
        if (vni) {
                snprintf(vpc_name, sizeof vpc_name, "VPC vni %u", vni);
                name = vpc_name;
        }
        if (tunnel_id) {
                snprintf(tunnel_name, sizeof tunnel_name, "tunnel %lld", (long long) tunnel_id);
                name = tunnel_name;
        }
        if (!name)
                name = uuid && jobs_uuid_valid(uuid) ? uuid : "(no VM named)";

        if (env->journal && journal_lookup(env->journal, id, &result) >= 0) {
                out.replayed = true;
                out.ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "ok"));
                snprintf(out.actions, sizeof out.actions, "done before, its journalled result sent again");
                out.seconds = jobs_now() - t0;
                log_info("job %lld %s %s: %s", (long long) id, kind, name, out.actions);
                *ret_result = TAKE_PTR(result);
                *ret_outcome = out;
                return 0;
        }

        /* Sent again while its thread runs (or its result waits to be taken),
         * or while its domain is being waited for. */
        if ((env->wipes && wipejobs_known(env->wipes, id)) || jobs_stops_known(env->stops, id)) {
                out.pending = true;
                out.ok = true;
                snprintf(out.actions, sizeof out.actions, "running already; this delivery is ignored");
                out.seconds = jobs_now() - t0;
                log_debug("job %lld %s %s: %s", (long long) id, kind, name, out.actions);
                *ret_result = NULL;
                *ret_outcome = out;
                return 0;
        }

        if (env->journal) {
                if (journal_in_progress(env->journal, id))
                        log_notice("job %lld %s %s was interrupted before; running it again", (long long) id, kind, name);
                r = journal_started(env->journal, id, kind, have_spec ? spec.uuid : NULL);
                if (r < 0) {
                        gc_error_set(err, "journal", NULL, "", NULL, "cannot record that job %lld starts: %s",
                                     (long long) id, strerror(-r));
                        return r;
                }
        }

        result = jobs_execute(env, id, kind, have_spec ? &spec : NULL, running, &vpc, vni, tunnel, tunnel_id, &wipe,
                              parse_error[0] ? parse_error : NULL, &out);
        out.seconds = jobs_now() - t0;
        if (out.pending) {
                /* Journalled as done by jobs_collect, when it ends. */
                log_info("job %lld %s %s: %s", (long long) id, kind, name, out.actions);
                *ret_result = NULL;
                *ret_outcome = out;
                return 0;
        }

        if (out.ok)
                log_info("job %lld %s %s: %s (%.2f s)", (long long) id, kind, name, out.actions, out.seconds);
        else
                log_warning("job %lld %s %s: failed: %s%s%s (%.2f s)", (long long) id, kind, name,
                            cJSON_GetObjectItemCaseSensitive(result, "error")->valuestring,
                            out.actions[0] ? "; done before the failure: " : "", out.actions, out.seconds);

        if (env->journal) {
                r = journal_done(env->journal, id, kind, have_spec ? spec.uuid : NULL, result);
                if (r < 0)
                        log_error_errno(r, "job %lld: the result is not in the journal; a second delivery would run it again",
                                        (long long) id);
        }
        *ret_result = TAKE_PTR(result);
        *ret_outcome = out;
        return 0;
}

static void jobs_collected(const struct jobs_env *env, int64_t id, const char *kind, const char *uuid, cJSON *result,
                           cJSON *results, int64_t **jobs, size_t *n) {
        if (env->journal) {
                int r = journal_done(env->journal, id, kind, uuid, result);
                if (r < 0)
                        log_error_errno(r, "job %lld: the result is not in the journal; a second delivery would run it again",
                                        (long long) id);
        }
        *jobs = xrealloc(*jobs, (*n + 1) * sizeof **jobs);
        (*jobs)[(*n)++] = id;
        if (!cJSON_AddItemToArray(results, result))
                abort();
}

/* The vm.stop jobs whose domain went off, or whose time is up (destroyed). */
static void jobs_stops_advance(const struct jobs_env *env, cJSON *results, int64_t **jobs, size_t *n) {
        for (struct jobs_stop **p = env->stops ? &env->stops->list : NULL; p && *p;) {
                struct jobs_stop *x = *p;
                struct hv_domain d = {};
                char error[512] = "", actions[128] = "";
                double waited = jobs_now() - x->t0;
                int r = env->ops->get(env->hv, x->uuid, &d);

                if (r >= 0 && d.state != HV_STATE_SHUTOFF && waited < JOBS_STOP_TIMEOUT_S) {
                        hv_domain_done(&d);
                        p = &x->next;
                        continue;
                }
                if (r >= 0 && d.state == HV_STATE_SHUTOFF)
                        snprintf(actions, sizeof actions, "shut down (ACPI, %.1f s)", waited);
                else if (r >= 0) {
                        hv_domain_done(&d);
                        r = env->ops->shutdown(env->hv, x->uuid, true);
                        if (r >= 0)
                                r = env->ops->get(env->hv, x->uuid, &d);
                        if (r < 0)
                                snprintf(error, sizeof error, "destroy: %s", strerror(-r));
                        else
                                snprintf(actions, sizeof actions, "destroyed (no ACPI shutdown within %d s)",
                                         JOBS_STOP_TIMEOUT_S);
                } else
                        snprintf(error, sizeof error, "get: %s", strerror(-r));

                cJSON *result = jobs_result_new(x->job, !error[0]);
                if (error[0]) {
                        jobs_add(result, "error", cJSON_CreateString(error));
                        log_warning("job %lld %s %s: failed: %s (%.2f s)", (long long) x->job, JOBS_KIND_STOP, x->uuid, error,
                                    waited);
                } else {
                        jobs_add(result, "vm", jobs_vmstate(&d, false));
                        log_info("job %lld %s %s: %s (%.2f s)", (long long) x->job, JOBS_KIND_STOP, x->uuid, actions, waited);
                }
                hv_domain_done(&d);
                jobs_collected(env, x->job, JOBS_KIND_STOP, x->uuid, result, results, jobs, n);
                *p = x->next;
                free(x);
        }
}

int jobs_collect(const struct jobs_env *env, cJSON **ret_results, int64_t **ret_jobs, size_t *ret_n) {
        _cleanup_(cJSON_Deletep) cJSON *results = cJSON_CreateArray();
        int64_t *jobs = NULL;
        size_t n = 0;
        cJSON *result;
        int64_t id;
        char uuid[HV_UUID_LEN + 1];

        if (!results)
                abort();
        jobs_stops_advance(env, results, &jobs, &n);
        while (env->wipes && wipejobs_take(env->wipes, &id, uuid, &result) > 0) {
                bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "ok"));
                if (ok)
                        log_info("job %lld %s %s: %d volume%s wiped and certified", (long long) id, JOBS_KIND_WIPE, uuid,
                                 cJSON_GetArraySize(json_path_get(result, "$.wipe.volumes")),
                                 cJSON_GetArraySize(json_path_get(result, "$.wipe.volumes")) == 1 ? "" : "s");
                else
                        log_warning("job %lld %s %s: failed: %s", (long long) id, JOBS_KIND_WIPE, uuid,
                                    str_at(result, "error") ?: "?");
                jobs_collected(env, id, JOBS_KIND_WIPE, uuid, result, results, &jobs, &n);
        }
        *ret_results = TAKE_PTR(results);
        *ret_jobs = jobs;
        *ret_n = n;
        return 0;
}
