/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "utf8.h"

int utf8_decode(const char *str, size_t n, uint32_t *ret_cp) {
        const unsigned char *s = (const unsigned char *) str;
        uint32_t cp, min;
        int len;

        if (n == 0)
                return -EILSEQ;
        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        } else if ((s[0] & 0xe0) == 0xc0) {
                len = 2, cp = s[0] & 0x1f, min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3, cp = s[0] & 0x0f, min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4, cp = s[0] & 0x07, min = 0x10000;
        } else
                return -EILSEQ;

        if (n < (size_t) len)
                return -EILSEQ;
        for (int i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return -EILSEQ;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return -EILSEQ;
        *ret_cp = cp;
        return len;
}

bool utf8_is_valid(const char *s, size_t n) {
        return utf8_length(s, n) >= 0;
}

long utf8_length(const char *s, size_t n) {
        long count = 0;

        for (size_t i = 0; i < n;) {
                uint32_t cp;
                int l = utf8_decode(s + i, n - i, &cp);
                if (l < 0)
                        return l;
                i += l;
                count++;
        }
        return count;
}

size_t utf8_truncate(const char *s, size_t max) {
        size_t n = strnlen(s, max + 1);

        if (n <= max)
                return n;
        n = max;
        /* Step back over continuation bytes to the start of the cut sequence. */
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

/* Next UTF-16 code unit; *pending holds a low surrogate still to be returned. */
static int next_unit(const char *s, size_t n, size_t *i, uint32_t *pending, uint32_t *ret) {
        uint32_t cp;
        int l;

        if (*pending) {
                *ret = *pending;
                *pending = 0;
                return 1;
        }
        if (*i >= n)
                return 0;
        l = utf8_decode(s + *i, n - *i, &cp);
        if (l < 0) {
                /* Invalid input sorts by raw byte; callers validate first. */
                *ret = (unsigned char) s[*i];
                *i += 1;
                return 1;
        }
        *i += l;
        if (cp >= 0x10000) {
                cp -= 0x10000;
                *ret = 0xd800 + (cp >> 10);
                *pending = 0xdc00 + (cp & 0x3ff);
        } else
                *ret = cp;
        return 1;
}

int utf8_cmp_utf16(const char *a, size_t alen, const char *b, size_t blen) {
        size_t i = 0, j = 0;
        uint32_t pa = 0, pb = 0;

        for (;;) {
                uint32_t ua, ub;
                int ha = next_unit(a, alen, &i, &pa, &ua);
                int hb = next_unit(b, blen, &j, &pb, &ub);

                if (!ha || !hb)
                        return ha - hb;
                if (ua != ub)
                        return ua < ub ? -1 : 1;
        }
}
