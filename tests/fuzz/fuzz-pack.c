/* SPDX-License-Identifier: Apache-2.0 */
/* The policy pack loader: parse, schema validation, semantic checks. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "pack.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct pack *p = NULL;
        struct schema_issues issues;

        if (size > PACK_FILE_MAX)
                return 0;
        int r = pack_load((const char *) data, size, &p, &issues);
        /* Either a pack or at least one issue, never both, never neither. */
        fuzz_assert((r >= 0) == (p != NULL));
        fuzz_assert(r >= 0 ? issues.n == 0 : issues.n > 0);
        pack_free(p);
        schema_issues_free(&issues);
        return 0;
}
