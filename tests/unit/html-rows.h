/* SPDX-License-Identifier: Apache-2.0 */
/* For the tests of the printable pages (test-sheet-html.c, test-report.c):
 * a table row's text. Include after <cmocka.h>, "buf.h" and "cleanup.h". */
#pragma once

#include <stdbool.h>
#include <string.h>

/* The text of the nth (from 0) row that starts with row_tag: its cells
 * joined by "|", tags dropped, <br> as a space. NULL when there is none. */
static char *row_text(const char *html, const char *row_tag, size_t nth) {
        const char *p = html, *end;
        struct gc_buf b = GC_BUF_INIT(1 << 20);
        bool first = true;

        for (size_t i = 0; p; i++) {
                p = strstr(p, row_tag);
                if (!p || i == nth)
                        break;
                p += strlen(row_tag);
        }
        if (!p)
                return NULL;
        p += strlen(row_tag);
        end = strstr(p, "</tr>");
        assert_non_null(end);
        while (p < end) {
                if (*p != '<') {
                        assert_int_equal(gc_buf_append_char(&b, *p++), 0);
                        continue;
                }
                if (strncmp(p, "<td", 3) == 0 || strncmp(p, "<th", 3) == 0) {
                        if (!first)
                                assert_int_equal(gc_buf_append_char(&b, '|'), 0);
                        first = false;
                } else if (strncmp(p, "<br>", 4) == 0)
                        assert_int_equal(gc_buf_append_char(&b, ' '), 0);
                p = strchr(p, '>');
                assert_non_null(p);
                p++;
        }
        return gc_buf_steal(&b, NULL);
}

static void row_is(const char *html, const char *row_tag, size_t nth, const char *want) {
        _cleanup_free_ char *got = row_text(html, row_tag, nth);
        if (!got)
                fail_msg("no row %zu of %s", nth, row_tag);
        if (strcmp(got, want) != 0)
                fail_msg("row %zu of %s:\n got:  %s\n want: %s", nth, row_tag, got, want);
}
