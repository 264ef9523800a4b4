/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical JSON cost: strict parse + RFC 8785 serialization of a request-
 * sized document, against the reference of cJSON's own parse + compact
 * print of the same bytes, in the same process. Prints both rates and the
 * ratio; asserts nothing about speed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cleanup.h"
#include "jcs.h"

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An apply request of 50 VMs, keys deliberately unsorted. */
static char *make_doc(void) {
        struct gc_buf b = GC_BUF_INIT(1 << 20);
        gc_buf_append_str(&b, "{\"unit\":\"\xe5\xb8\x82xx\xe5\xb1\x80\",\"system\":\"\xe5\x8d\x8f\xe5\x90\x8c\xe5\x8a\x9e\xe5\x85\xacOA\",\"vms\":[");
        for (int i = 0; i < 50; i++)
                gc_buf_printf(&b, "%s{\"role\":\"\xe5\xba\x94\xe7\x94\xa8\xe6\x9c\x8d\xe5\x8a\xa1\xe5\x99\xa8\",\"number\":%d,"
                                  "\"vcpus\":8,\"memory_gib\":16,\"system_disk\":{\"gib\":100,\"type\":\"SSD\"},"
                                  "\"data_disk\":{\"type\":\"SAS\",\"gib\":500},\"ports\":[22,443,8080],\"cpu_share\":0.75}",
                      i ? "," : "", i + 1);
        gc_buf_append_str(&b, "],\"approval\":{\"id\":\"A-2026-0001\",\"time\":\"2026-11-21T10:00:00+08:00\"}}");
        return gc_buf_steal(&b, NULL);
}

int main(int argc, char **argv) {
        int rounds = argc > 1 ? atoi(argv[1]) : 20000;
        _cleanup_free_ char *doc = make_doc();
        size_t len = strlen(doc);
        double t0, t_jcs, t_ref;

        t0 = now();
        for (int i = 0; i < rounds; i++) {
                char *out;
                size_t n;
                struct gc_error err = {};
                if (jcs_canonicalize(doc, len, &out, &n, &err) < 0)
                        abort();
                free(out);
        }
        t_jcs = now() - t0;

        t0 = now();
        for (int i = 0; i < rounds; i++) {
                cJSON *j = cJSON_ParseWithLength(doc, len);
                char *out = cJSON_PrintUnformatted(j);
                if (!out)
                        abort();
                free(out);
                cJSON_Delete(j);
        }
        t_ref = now() - t0;

        printf("document: %zu bytes, %d rounds\n", len, rounds);
        printf("strict parse + JCS:          %10.0f docs/s  %8.1f MB/s\n", rounds / t_jcs, rounds * len / t_jcs / 1e6);
        printf("cJSON parse + compact print: %10.0f docs/s  %8.1f MB/s (reference)\n", rounds / t_ref, rounds * len / t_ref / 1e6);
        printf("ratio JCS / reference time: %.2f\n", t_jcs / t_ref);
        return 0;
}
