/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict JSON parser and the JCS serializer. Properties: no crash, no
 * leak, and canonical output is a fixed point (canonicalizing it again
 * gives the same bytes), which is what signatures rely on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fuzz.h"
#include "jcs.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *once = NULL, *twice = NULL;
        struct gc_error err = {};
        size_t n1, n2;

        if (size > 256 * 1024)
                return 0;
        if (jcs_canonicalize((const char *) data, size, &once, &n1, &err) < 0)
                return 0;
        /* Our own output parses, and is a fixed point. */
        fuzz_assert(jcs_canonicalize(once, n1, &twice, &n2, &err) >= 0);
        fuzz_assert(n1 == n2 && memcmp(once, twice, n1) == 0);
        return 0;
}
