/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer with a hard cap: nothing reads an unbounded input
 * into memory. Appends past the cap fail with -ENOBUFS and leave the buffer
 * as it was. The data is always NUL-terminated (not counted in len).
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

struct gc_buf {
        char *data;
        size_t len;
        size_t cap;
        size_t max;     /* hard cap on len */
};

#define GC_BUF_INIT(maxlen) ((struct gc_buf) { .max = (maxlen) })

int gc_buf_append(struct gc_buf *b, const void *p, size_t n);
int gc_buf_append_str(struct gc_buf *b, const char *s);
int gc_buf_append_char(struct gc_buf *b, char c);
int gc_buf_printf(struct gc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gc_buf_reset(struct gc_buf *b);
void gc_buf_free(struct gc_buf *b);
/* Hand the data out (NUL-terminated, never NULL); the buffer is left empty. */
char *gc_buf_steal(struct gc_buf *b, size_t *ret_len);

/* Read a whole file ("-" is stdin) of at most max bytes. -EFBIG if larger. */
int gc_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* Write a whole file atomically: a temporary beside it, fsync, rename,
 * then the directory fsynced. A crash leaves the old file or the new one. */
int gc_write_file(const char *path, const void *data, size_t len, unsigned mode);
