/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only: print the HTML page of a sheet export bundle (sheet_html) to
 * standard output, for sheet-render.sh to hand to headless Chromium.
 *
 *     sheet-html-tool BUNDLE.json > sheet.html
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "json.h"
#include "sheet.h"

#define PAGE_MAX (64 * 1024 * 1024)

int main(int argc, char **argv) {
        _cleanup_(cJSON_Deletep) cJSON *bundle = NULL;
        struct gc_buf out = GC_BUF_INIT(PAGE_MAX);
        struct gc_error err = {};
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s BUNDLE.json\n", argv[0]);
                return 2;
        }
        r = json_parse_file(argv[1], SHEET_BUNDLE_MAX, &bundle, &err);
        if (r < 0) {
                fprintf(stderr, "%s: %s %s: %s\n", argv[1], err.field, err.message, strerror(-r));
                return 1;
        }
        r = sheet_html(bundle, &out);
        if (r < 0) {
                fprintf(stderr, "%s: render: %s\n", argv[1], strerror(-r));
                gc_buf_free(&out);
                return 1;
        }
        r = fwrite(out.data, 1, out.len, stdout) == out.len && fflush(stdout) == 0 ? 0 : -EIO;
        gc_buf_free(&out);
        if (r < 0) {
                fprintf(stderr, "write: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
