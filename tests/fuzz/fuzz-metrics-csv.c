/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CSV file of gcctl metrics import (cli/metrics-csv.h): the bytes are a
 * file's contents, read as gcctl reads them, the header and then every
 * sample. Properties: a refusal says what (and shows no control character),
 * and what is taken is what the batch's JSON may carry as it is.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "metrics-csv.h"
#include "utf8.h"

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static void check_sample(const struct metrics_sample *s) {
        const char *uuid = s->cell[METRICS_COL_UUID], *vm = s->cell[METRICS_COL_VM];
        const char *pool = s->cell[METRICS_COL_POOL];

        /* Every cell goes into a JSON string or stands as a JSON number. */
        for (size_t k = 0; k < _METRICS_COL_MAX; k++)
                if (s->cell[k])
                        fuzz_assert(utf8_is_valid(s->cell[k], strlen(s->cell[k])) && !has_control(s->cell[k]));
        fuzz_assert(s->cell[METRICS_COL_TIME] && strlen(s->cell[METRICS_COL_TIME]) >= 20);
        /* The VM one way: a uuid, or a vm (and pool). */
        fuzz_assert((uuid && *uuid) != (vm && *vm));
        fuzz_assert(!(uuid && *uuid) || strlen(uuid) == 36);
        fuzz_assert(!(pool && *pool) || (vm && *vm));
        for (size_t k = METRICS_COL_CPU; k <= METRICS_COL_DISK; k++) {
                const char *v = s->cell[k];
                if (!v || !*v)
                        continue;
                char *end;
                double d = strtod(v, &end);
                fuzz_assert(*end == '\0' && d >= 0 && d <= 100);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct metrics_csv *m = NULL;
        struct metrics_csv_error e = {};
        struct metrics_sample s;
        unsigned line, last = 0;
        int r;

        if (size > 1024 * 1024)
                return 0;
        /* Not NUL-terminated, as it need not be. */
        r = metrics_csv_new((const char *) data, size, &m, &e);
        fuzz_assert((r >= 0) == (m != NULL));
        while (r >= 0 && (r = metrics_csv_next(m, &s, &line, &e)) > 0) {
                /* Lines go forward: the header's is 1 at least. */
                fuzz_assert(line > last && line >= 2);
                last = line;
                check_sample(&s);
        }
        if (r < 0) {
                fuzz_assert(e.message[0]);
                fuzz_assert(e.line == 0 || e.line >= last);
                fuzz_assert(!has_control(e.value) && utf8_is_valid(e.value, strlen(e.value)));
        }
        metrics_csv_free(m);
        return 0;
}
