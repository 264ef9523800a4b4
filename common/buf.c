/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"

static int reserve(struct gc_buf *b, size_t n) {
        if (n > b->max || b->len > b->max - n)
                return -ENOBUFS;
        if (b->len + n + 1 <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
                cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
        return 0;
}

int gc_buf_append(struct gc_buf *b, const void *p, size_t n) {
        int r = reserve(b, n);
        if (r < 0)
                return r;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

int gc_buf_append_str(struct gc_buf *b, const char *s) {
        return gc_buf_append(b, s, strlen(s));
}

int gc_buf_append_char(struct gc_buf *b, char c) {
        return gc_buf_append(b, &c, 1);
}

int gc_buf_printf(struct gc_buf *b, const char *fmt, ...) {
        va_list ap, aq;
        int n, r;

        va_start(ap, fmt);
        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0) {
                va_end(ap);
                return -EINVAL;
        }
        r = reserve(b, n);
        if (r >= 0) {
                vsnprintf(b->data + b->len, n + 1, fmt, ap);
                b->len += n;
        }
        va_end(ap);
        return r;
}

void gc_buf_reset(struct gc_buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = 0;
}

void gc_buf_free(struct gc_buf *b) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

char *gc_buf_steal(struct gc_buf *b, size_t *ret_len) {
        char *d = b->data ? b->data : xstrdup("");
        if (ret_len)
                *ret_len = b->len;
        b->data = NULL;
        b->len = b->cap = 0;
        return d;
}

int gc_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len) {
        struct gc_buf b = GC_BUF_INIT(max);
        _cleanup_close_ int fd = -1;
        char chunk[65536];
        int r;

        if (strcmp(path, "-") == 0)
                fd = dup(STDIN_FILENO);
        else
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        for (;;) {
                ssize_t n = read(fd, chunk, sizeof chunk);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        gc_buf_free(&b);
                        return r;
                }
                if (n == 0)
                        break;
                r = gc_buf_append(&b, chunk, n);
                if (r < 0) {
                        gc_buf_free(&b);
                        return -EFBIG;
                }
        }
        *ret_data = gc_buf_steal(&b, ret_len);
        return 0;
}

int gc_write_file(const char *path, const void *data, size_t len, unsigned mode) {
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        const char *p = data;
        int fd, r = 0;

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t) mode);
        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, p + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                off += (size_t) n;
        }
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -EIO;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        if (slash)
                *slash = '\0';
        fd = open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                fsync(fd);
                close(fd);
        }
        return 0;
}
