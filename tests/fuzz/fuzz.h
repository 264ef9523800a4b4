/* SPDX-License-Identifier: Apache-2.0 */
/* What every libFuzzer target here shares. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that does not hold is a finding: say which, then abort so
 * libFuzzer saves the input. Unlike assert(), never compiled out. */
#define fuzz_assert(cond)                                                       \
        do {                                                                    \
                if (!(cond)) {                                                  \
                        fprintf(stderr, "property failed: %s\n", #cond);        \
                        abort();                                                \
                }                                                               \
        } while (0)
