/* SPDX-License-Identifier: Apache-2.0 */
/* The policy pack loader: parse, schema validation, semantic checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that does not hold is a finding: stop with the input saved. */
#define FUZZ_ASSERT(cond)                                                       \
        do {                                                                    \
                if (!(cond)) {                                                  \
                        fprintf(stderr, "property failed: %s\n", #cond);       \
                        abort();                                                \
                }                                                               \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct pack *p = NULL;
        struct schema_issues issues;

        if (size > PACK_FILE_MAX)
                return 0;
        int r = pack_load((const char *) data, size, &p, &issues);
        /* Either a pack or at least one issue, never both, never neither. */
        FUZZ_ASSERT((r >= 0) == (p != NULL));
        FUZZ_ASSERT(r >= 0 ? issues.n == 0 : issues.n > 0);
        pack_free(p);
        schema_issues_free(&issues);
        return 0;
}
