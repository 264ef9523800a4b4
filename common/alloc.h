/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation that cannot fail: out of memory aborts here, in one place. */
#pragma once

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xmemdup(const void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define xnew(type, n) ((type *) xcalloc((n), sizeof(type)))
