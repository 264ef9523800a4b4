/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only: render a monthly report model (report.h) to standard output,
 * for report-render.sh to hand to headless Chromium.
 *
 *     report-tool html|csv REPORT.json > report.html
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cleanup.h"
#include "json.h"
#include "report.h"

#define MODEL_MAX (64 * 1024 * 1024)
#define PAGE_MAX (256 * 1024 * 1024)

int main(int argc, char **argv) {
        _cleanup_(cJSON_Deletep) cJSON *report = NULL;
        struct gc_buf out = GC_BUF_INIT(PAGE_MAX);
        struct gc_error err = {};
        char msg[GC_ERROR_FORMAT_MAX];
        int r;

        if (argc != 3 || (strcmp(argv[1], "html") != 0 && strcmp(argv[1], "csv") != 0)) {
                fprintf(stderr, "usage: %s html|csv REPORT.json\n", argv[0]);
                return 2;
        }
        r = json_parse_file(argv[2], MODEL_MAX, &report, &err);
        if (r < 0) {
                fprintf(stderr, "%s: %s: %s\n", argv[2], gc_error_format(&err, msg, sizeof msg), strerror(-r));
                return 1;
        }
        r = strcmp(argv[1], "html") == 0 ? report_html(report, &out, &err) : report_csv(report, &out, &err);
        if (r < 0) {
                fprintf(stderr, "%s: render: %s\n", argv[2], gc_error_format(&err, msg, sizeof msg));
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
