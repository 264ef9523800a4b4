/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <string.h>

#include "html.h"
#include "utf8.h"

int html_escape(struct gc_buf *b, const char *s) {
        size_t n = strlen(s), run = 0;  /* start of the pending verbatim run */
        int r;

        for (size_t i = 0; i < n;) {
                const char *rep = NULL;
                uint32_t cp;
                int l = utf8_decode(s + i, n - i, &cp);

                if (l < 0) {
                        rep = "\xEF\xBF\xBD";
                        l = 1;
                } else if (cp == '&')
                        rep = "&amp;";
                else if (cp == '<')
                        rep = "&lt;";
                else if (cp == '>')
                        rep = "&gt;";
                else if (cp == '"')
                        rep = "&quot;";
                else if (cp == '\'')
                        rep = "&#39;";
                else if ((cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7f && cp < 0xa0))
                        rep = "\xEF\xBF\xBD";

                if (rep) {
                        if (i > run) {
                                r = gc_buf_append(b, s + run, i - run);
                                if (r < 0)
                                        return r;
                        }
                        r = gc_buf_append_str(b, rep);
                        if (r < 0)
                                return r;
                        run = i + (size_t) l;
                }
                i += (size_t) l;
        }
        if (n > run)
                return gc_buf_append(b, s + run, n - run);
        return 0;
}
