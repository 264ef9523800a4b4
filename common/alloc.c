/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static void oom(void) __attribute__((noreturn));
static void oom(void) {
        fputs("govcloud: out of memory\n", stderr);
        abort();
}

void *xmalloc(size_t n) {
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t nmemb, size_t size) {
        void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n) {
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xmemdup(const void *p, size_t n) {
        void *q = xmalloc(n);
        if (n)
                memcpy(q, p, n);
        return q;
}

char *xstrdup(const char *s) {
        return xmemdup(s, strlen(s) + 1);
}

char *xstrndup(const char *s, size_t n) {
        size_t l = strnlen(s, n);
        char *q = xmalloc(l + 1);
        memcpy(q, s, l);
        q[l] = 0;
        return q;
}

char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return s;
}
