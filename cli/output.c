/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include "alloc.h"
#include "cleanup.h"
#include "gcctl.h"
#include "utf8.h"

struct gcctl_global gcctl_global;

static void print_table_help(const struct gcctl_verb *table, const char *path) {
        int width = 0;

        printf("Usage: %s [--json] COMMAND [ARGS...]\n\nCommands:\n", path);
        for (const struct gcctl_verb *v = table; v->name; v++)
                if ((int) strlen(v->name) > width)
                        width = strlen(v->name);
        for (const struct gcctl_verb *v = table; v->name; v++)
                printf("  %-*s  %s\n", width, v->name, v->summary);
        printf("\nOptions:\n"
               "  --json     machine-readable output on stdout\n"
               "  --help     this text; COMMAND --help for a command's own\n"
               "\nRun '%s COMMAND --help' for more.\n", path);
}

int gcctl_dispatch(const struct gcctl_verb *table, const char *path, int argc, char **argv) {
        /* Options before the verb apply to everything below. */
        while (argc > 0 && argv[0][0] == '-') {
                if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
                        print_table_help(table, path);
                        return GCCTL_EXIT_OK;
                } else if (strcmp(argv[0], "--json") == 0) {
                        gcctl_global.json = true;
                        argc--, argv++;
                } else
                        return gcctl_usage_error(path, "unknown option '%s'", argv[0]);
        }
        if (argc == 0) {
                print_table_help(table, path);
                return GCCTL_EXIT_USAGE;
        }
        if (strcmp(argv[0], "help") == 0) {
                print_table_help(table, path);
                return GCCTL_EXIT_OK;
        }
        for (const struct gcctl_verb *v = table; v->name; v++) {
                if (strcmp(v->name, argv[0]) != 0)
                        continue;
                _cleanup_free_ char *sub = xasprintf("%s %s", path, v->name);
                if (v->sub)
                        return gcctl_dispatch(v->sub, sub, argc - 1, argv + 1);
                /* Option errors then name the whole verb: "gcctl doc sign: option ...". */
                argv[0] = sub;
                return v->run(argc, argv);
        }
        return gcctl_usage_error(path, "unknown command '%s' (see '%s --help')", argv[0], path);
}

int gcctl_usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", verb);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return GCCTL_EXIT_USAGE;
}

static int parse_options(int argc, char **argv, const char *optstring, const char *usage,
                         const struct option *opts,
                         int (*handle)(int opt, const char *arg, void *userdata), void *userdata,
                         int *ret_exit) {
        struct option all[32];
        char shortopts[64];
        size_t n = 0, k;

        all[n++] = (struct option) { "help", no_argument, NULL, 'h' };
        all[n++] = (struct option) { "json", no_argument, NULL, 'J' };
        for (const struct option *o = opts; o && o->name; o++) {
                if (n >= ELEMENTSOF(all) - 1)
                        abort();
                all[n++] = *o;
        }
        all[n] = (struct option) {};

        /* A verb's option whose code is a letter has that short form too: -o. */
        k = strlen(optstring);
        memcpy(shortopts, optstring, k);
        for (const struct option *o = opts; o && o->name; o++)
                if (o->val > 0 && o->val < 0x80 && ((o->val | 0x20) >= 'a' && (o->val | 0x20) <= 'z') &&
                    o->val != 'h') {
                        if (k + 3 >= sizeof shortopts)
                                abort();
                        shortopts[k++] = (char) o->val;
                        if (o->has_arg != no_argument)
                                shortopts[k++] = ':';
                }
        shortopts[k] = '\0';

        optind = 0;
        opterr = 0;
        for (;;) {
                int longindex = 0;
                int c = getopt_long(argc, argv, shortopts, all, &longindex);
                if (c == -1)
                        break;
                if (c == 'h') {
                        fputs(usage, stdout);
                        *ret_exit = GCCTL_EXIT_OK;
                        return -1;
                }
                if (c == 'J') {
                        gcctl_global.json = true;
                        continue;
                }
                if (c == '?' || c == ':') {
                        /* A long option without its value sets optopt to its code, not a letter. */
                        if (optopt > 0 && optopt < 0x80)
                                *ret_exit = gcctl_usage_error(argv[0], "option '-%c' is unknown or needs a value", optopt);
                        else
                                *ret_exit = gcctl_usage_error(argv[0], "option '%s' is unknown or needs a value", argv[optind - 1]);
                        fprintf(stderr, "Run with --help for the options.\n");
                        return -1;
                }
                if (!handle || handle(c, optarg, userdata) < 0) {
                        *ret_exit = GCCTL_EXIT_USAGE;
                        return -1;
                }
        }
        return optind;
}

int gcctl_parse_options(int argc, char **argv, const char *usage, const struct option *opts,
                        int (*handle)(int opt, const char *arg, void *userdata), void *userdata,
                        int *ret_exit) {
        return parse_options(argc, argv, "+h", usage, opts, handle, userdata, ret_exit);
}

int gcctl_parse_options_any_order(int argc, char **argv, const char *usage, const struct option *opts,
                                  int (*handle)(int opt, const char *arg, void *userdata), void *userdata,
                                  int *ret_exit) {
        /* GNU getopt moves the operands behind the options. */
        return parse_options(argc, argv, "h", usage, opts, handle, userdata, ret_exit);
}

void gcctl_print_json(const cJSON *doc) {
        _cleanup_free_ char *s = cJSON_Print(doc);
        if (!s)
                abort();
        puts(s);
}

char *gcctl_printable(const char *s) {
        char *copy = xstrdup(s ? s : "");

        for (char *p = copy; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return copy;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int gcctl_write_file(const char *path, const void *data, size_t len) {
        return gcctl_write_file_mode(path, data, len, 0666);
}

int gcctl_write_file_mode(const char *path, const void *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        struct stat st;

        if (!path || strcmp(path, "-") == 0) {
                if (fflush(stdout) != 0)
                        return -EIO;
                return write_all(STDOUT_FILENO, data, len);
        }
        /* A device (-o /dev/null), a pipe or a symbolic link is written
         * through, not replaced. */
        if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode);
                if (fd < 0)
                        return -errno;
                r = write_all(fd, data, len);
                if (r >= 0) {
                        int f = fd;
                        fd = -1;
                        if (close(f) < 0)
                                r = -errno;
                }
                return r;
        }
        tmp = xasprintf("%s.tmpXXXXXX", path);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        /* mkostemp makes the file 0600; give it the mode a new file gets. */
        mode_t mask = umask(0);
        umask(mask);
        if (r >= 0 && fchmod(fd, mode & ~mask) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0) {
                int f = fd;
                fd = -1;
                if (close(f) < 0)
                        r = -errno;
        }
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

int gcctl_display_width(const char *s) {
        size_t n = strlen(s);
        int w = 0;

        for (size_t i = 0; i < n;) {
                uint32_t cp;
                int l = utf8_decode(s + i, n - i, &cp);
                if (l < 0) {
                        i++, w++;
                        continue;
                }
                int cw = wcwidth((wchar_t) cp);
                if (cw < 0) {
                        /* Without a UTF-8 locale wcwidth knows nothing: wide East Asian ranges. */
                        cw = (cp >= 0x1100 && (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf) ||
                                               (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
                                               (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
                                               (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd)))
                                     ? 2 : 1;
                }
                w += cw;
                i += l;
        }
        return w;
}

struct gcctl_table {
        unsigned ncols;
        size_t nrows;
        char **cells;           /* (nrows + 1) * ncols, row 0 the headers */
};

struct gcctl_table *gcctl_table_new(unsigned ncols, const char *const *headers) {
        struct gcctl_table *t = xnew(struct gcctl_table, 1);
        t->ncols = ncols;
        gcctl_table_add(t, headers);
        return t;
}

void gcctl_table_add(struct gcctl_table *t, const char *const *cells) {
        t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
        for (unsigned c = 0; c < t->ncols; c++)
                t->cells[t->nrows * t->ncols + c] = xstrdup(cells[c] ? cells[c] : "");
        t->nrows++;
}

void gcctl_table_print(const struct gcctl_table *t) {
        _cleanup_free_ int *width = xnew(int, t->ncols);

        for (size_t r = 0; r < t->nrows; r++)
                for (unsigned c = 0; c < t->ncols; c++) {
                        int w = gcctl_display_width(t->cells[r * t->ncols + c]);
                        if (w > width[c])
                                width[c] = w;
                }
        for (size_t r = 0; r < t->nrows; r++) {
                for (unsigned c = 0; c < t->ncols; c++) {
                        const char *cell = t->cells[r * t->ncols + c];
                        fputs(cell, stdout);
                        if (c + 1 < t->ncols)
                                printf("%*s", width[c] - gcctl_display_width(cell) + 2, "");
                }
                putchar('\n');
        }
}

void gcctl_table_free(struct gcctl_table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}
