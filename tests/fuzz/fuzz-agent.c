/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent parses from outside: the libvirt XML it reads back (the
 * labels in a domain's metadata, which anyone with virsh on the host can
 * change, and the domain definition), and the jobs the orchestrator sends.
 * Includes the backend to reach its static parsers, as wireguard-tools'
 * fuzzers include the file they fuzz.
 *
 * The first byte picks the parser: 0 labels XML, 1 domain XML, 2 a VMSPEC,
 * 3 a WIPESPEC (vm.wipe's payload; the rest of the job is the orchestrator's
 * envelope, which is not parsed here).
 */
#include "../../agent/hv-libvirt.c"

#include "fuzz.h"
#include "jobs.h"
#include "json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 || size > 256 * 1024)
                return 0;
        char *text = xmalloc(size);
        memcpy(text, data + 1, size - 1);
        text[size - 1] = 0;

        switch (data[0] % 4) {
        case 0: {
                struct hv_labels labels = {};
                if (hv_labels_parse(text, &labels) >= 0) {
                        /* Labels go into the inventory's JSON: they must be UTF-8. */
                        const char *f[] = { labels.unit, labels.system, labels.role, labels.pool };
                        for (size_t i = 0; i < 4; i++)
                                fuzz_assert(!f[i] || utf8_is_valid(f[i], strlen(f[i])));
                }
                hv_labels_done(&labels);
                break;
        }
        case 1: {
                struct hv_def def = {};
                (void) hv_xml_walk(text, hv_def_on_node, &def);
                fuzz_assert(def.n_disks <= HV_DEF_DISKS_MAX);
                hv_def_done(&def);
                break;
        }
        case 2: {
                cJSON *vm = NULL;
                struct gc_error err = {};
                if (json_parse(text, size - 1, &vm, &err) >= 0) {
                        struct hv_spec spec = {};
                        bool running = false;
                        int r = jobs_spec_parse(vm, &spec, &running, &err);
                        /* A parsed spec is one the hypervisor module can take. */
                        if (r >= 0) {
                                fuzz_assert(jobs_uuid_valid(spec.uuid));
                                fuzz_assert(spec.vcpus >= 1 && spec.vcpus <= spec.max_vcpus);
                                fuzz_assert(spec.memory_mib <= spec.max_memory_mib);
                                fuzz_assert(spec.n_disks <= HV_DISKS_MAX);
                        } else
                                fuzz_assert(err.code[0] || err.message[0]);
                        hv_spec_done(&spec);
                        cJSON_Delete(vm);
                }
                break;
        }
        case 3: {
                cJSON *wipe = NULL;
                struct gc_error err = {};
                if (json_parse(text, size - 1, &wipe, &err) >= 0) {
                        struct wipejob_spec spec = {};
                        int r = jobs_wipe_spec_parse(wipe, 64, &spec, &err);
                        /* A parsed spec is one wipe.h takes, naming who ordered it (R-AU3). */
                        if (r >= 0) {
                                fuzz_assert(jobs_uuid_valid(spec.uuid));
                                fuzz_assert(wipe_method_to_string(spec.method));
                                fuzz_assert(spec.passes >= 1 && spec.passes <= WIPEJOB_PASSES_MAX);
                                fuzz_assert(spec.sample_blocks <= (1u << 30));
                                fuzz_assert(spec.approval && spec.approval[0] && strlen(spec.approval) <= 1024);
                                fuzz_assert(spec.operator_name && spec.operator_name[0] &&
                                            strlen(spec.operator_name) <= 1024);
                        } else
                                fuzz_assert(strncmp(err.field, "wipe", 4) == 0 && err.message[0]);
                        wipejob_spec_done(&spec);
                        cJSON_Delete(wipe);
                }
                break;
        }
        }
        free(text);
        return 0;
}
