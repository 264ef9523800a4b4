/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wipe engine's speed (issue 8, R-EX3) against the usual tools, in one
 * run, on the same target (a file, or a loop device over a file, on one
 * disk):
 *
 *   gc zero    wipe_run(), WIPE_ZERO, full read-back verification;
 *   gc random  wipe_run(), WIPE_RANDOM (AES-128-CTR keystream), the same;
 *   dd         dd if=/dev/zero of=TARGET bs=4M count=N oflag=direct
 *              conv=notrunc: zeros over the whole size, the reference;
 *   shred      shred -n1 TARGET: one random pass, no zero pass;
 *   libvirt    virStorageVolWipePattern(vol, VIR_STORAGE_VOL_WIPE_ALG_ZERO,
 *              0) on a volume of the same size (allocation = capacity)
 *              that this program creates with virStorageVolCreateXML() in
 *              a dir storage pool of a real libvirtd (--libvirt-uri,
 *              --libvirt-pool), as the agent uses libvirt; left out with
 *              the reason given by --libvirt-skip.
 *
 * Before the rounds, the target and the libvirt volume are written once
 * with a pattern (not measured), so that every method overwrites allocated
 * blocks. Each method then runs --repeat times (default 3), the methods
 * taking turns, and the median run is reported. Our wipes report the pass
 * and the verification separately (the verification is part of our wipe,
 * so "total" is what a volume costs); each wipe gets a fresh state file.
 * MB/s are 10^6 bytes per second; each rate is also given as a ratio to
 * dd's.
 *
 * Then crypto-erase (WIPE_CRYPTO_ERASE) of each --luks volume (qemu LUKS
 * files, sparse, made by bench/wipe.sh): the header and key-slot area are
 * overwritten and read back; its time should not depend on the volume's
 * size. (Destroying the libvirt secret, the other half of a crypto-erase,
 * is the caller's and not timed here.)
 *
 * Asserts nothing about speed; fails only if a wipe (or dd, shred, libvirt)
 * fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "alloc.h"
#include "cleanup.h"
#include "gc/error.h"
#include "log.h"
#include "wipe.h"

#define REPEAT_MAX 64
#define LUKS_MAX 8
#define DD_BS (4u * 1024 * 1024)
#define LIBVIRT_VOL_NAME "gc-bench-wipe-libvirt.img"

struct opts {
        const char *target, *pool_dir, *work;
        uint64_t size;
        unsigned repeat;
        const char *lv_uri, *lv_pool, *lv_skip;
        const char *luks[LUKS_MAX];
        unsigned n_luks;
};

enum row { ROW_GC_ZERO, ROW_GC_RANDOM, ROW_DD, ROW_SHRED, ROW_LIBVIRT, ROW_N };
static const char *const row_names[ROW_N] = { "gc zero", "gc random", "dd zero", "shred -n1", "libvirt zero" };

/* One run of one method: seconds writing and (ours only) verifying. */
struct run {
        double write_s, verify_s;
};

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double seconds_since(int64_t t0) {
        return (double) (now_ns() - t0) / 1e9;
}

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
        va_list ap;
        fputs("bench-wipe: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

static uint64_t target_size(const char *path) {
        struct stat st;
        uint64_t bytes;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0 || fstat(fd, &st) < 0)
                die("%s: %m", path);
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
                        die("%s: BLKGETSIZE64: %m", path);
                return bytes;
        }
        return (uint64_t) st.st_size;
}

/* Write a pattern over [0, size) once, O_DIRECT where the file system
 * allows it, and flush: what the measured methods then overwrite. */
static void prefill(const char *path, uint64_t size) {
        int fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
        if (fd < 0 && errno == EINVAL)
                fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                die("prefill %s: %m", path);
        void *buf;
        if (posix_memalign(&buf, WIPE_ALIGN, DD_BS) != 0)
                die("out of memory");
        memset(buf, 0x5a, DD_BS);
        for (uint64_t off = 0; off < size; off += DD_BS) {
                size_t n = size - off < DD_BS ? (size_t) (size - off) : DD_BS;
                if (pwrite(fd, buf, n, (off_t) off) != (ssize_t) n)
                        die("prefill %s at %" PRIu64 ": %m", path, off);
        }
        if (fdatasync(fd) < 0)
                die("prefill %s: fdatasync: %m", path);
        close(fd);
        free(buf);
}

/* ---- our wipe ---- */

struct gc_timing {
        int64_t verify_start;
};

static void on_progress(const struct wipe_progress *p, void *userdata) {
        struct gc_timing *t = userdata;
        if (p->phase == WIPE_PHASE_VERIFY && t->verify_start == 0)
                t->verify_start = now_ns();
}

/* wipe_run() on path; the times of the pass(es) and of the verification. */
static struct run run_gc(const struct opts *o, const char *path, const char *pool_dir, uint64_t size,
                         const char *format, enum wipe_method method, struct wipe_result *ret_res) {
        _cleanup_free_ char *state = xasprintf("%s/wipe-%s.state", o->work, wipe_method_to_string(method));
        struct gc_timing t = {};
        struct wipe_spec spec = {
                .path = path,
                .pool_dir = pool_dir,
                .size = size,
                .format = format,
                .pool = "gc-bench-wipe",
                .name = path,
                .method = method,
                .state_path = state,
                .approval = "bench/wipe",
                .operator_name = "bench",
                .progress = on_progress,
                .progress_ms = 60000,
                .userdata = &t,
        };
        struct wipe_result res = {};
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];

        (void) unlink(state);
        int64_t t0 = now_ns();
        if (wipe_run(&spec, &res, &err) < 0)
                die("wipe_run %s of %s: %s", wipe_method_to_string(method), path,
                    gc_error_format(&err, buf, sizeof buf));
        int64_t t1 = now_ns();
        if (res.reused || res.resumed || !res.certificate)
                die("wipe_run %s of %s: a fresh wipe was expected", wipe_method_to_string(method), path);
        if (t.verify_start == 0)
                t.verify_start = t1;
        if (unlink(state) < 0 && errno != ENOENT)
                die("%s: %m", state);
        if (ret_res)
                *ret_res = res;
        else
                wipe_result_done(&res);
        return (struct run) { (double) (t.verify_start - t0) / 1e9, (double) (t1 - t.verify_start) / 1e9 };
}

/* ---- dd and shred ---- */

static char *dd_line, *shred_line;

/* Run argv (stdout and stderr to LOG), fail unless it exits 0; seconds. */
static double run_cmd(const struct opts *o, char *const argv[]) {
        _cleanup_free_ char *log = xasprintf("%s/%s.log", o->work, argv[0]);
        int64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                execvp(argv[0], argv);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        die("waitpid: %m");
        double s = seconds_since(t0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char line[512];
                FILE *f = fopen(log, "re");
                while (f && fgets(line, sizeof line, f))
                        fprintf(stderr, "  %s", line);
                if (f)
                        fclose(f);
                die("%s failed (status %d)", argv[0], status);
        }
        return s;
}

static struct run run_dd(const struct opts *o) {
        _cleanup_free_ char *of = xasprintf("of=%s", o->target);
        _cleanup_free_ char *count = xasprintf("count=%" PRIu64, o->size / DD_BS);
        char *argv[] = { "dd", "if=/dev/zero", of, "bs=4M", count, "oflag=direct", "conv=notrunc", NULL };
        if (!dd_line)
                dd_line = xasprintf("dd if=/dev/zero %s bs=4M %s oflag=direct conv=notrunc", of, count);
        return (struct run) { run_cmd(o, argv), 0 };
}

static struct run run_shred(const struct opts *o) {
        char *argv[] = { "shred", "-n1", (char *) o->target, NULL };
        if (!shred_line)
                shred_line = xasprintf("shred -n1 %s", o->target);
        return (struct run) { run_cmd(o, argv), 0 };
}

/* ---- libvirt ---- */

struct lv {
        virConnectPtr conn;
        virStoragePoolPtr pool;
        virStorageVolPtr vol;
        char *path;
        long long st_blocks_before;     /* 512-byte blocks of the volume before the first wipe */
        double create_s;
};

static void lv_quiet(void *userdata, virErrorPtr e) {
        (void) userdata;
        (void) e;
}

static void lv_open(const struct opts *o, struct lv *lv) {
        virSetErrorFunc(NULL, lv_quiet);
        lv->conn = virConnectOpen(o->lv_uri);
        if (!lv->conn)
                die("virConnectOpen %s: %s", o->lv_uri, virGetLastErrorMessage());
        lv->pool = virStoragePoolLookupByName(lv->conn, o->lv_pool);
        if (!lv->pool)
                die("virStoragePoolLookupByName %s: %s", o->lv_pool, virGetLastErrorMessage());
        /* allocation = capacity: a fully allocated raw volume, like ours (a
         * sparse one is "wiped" by libvirt by truncating it). */
        _cleanup_free_ char *xml = xasprintf("<volume>\n"
                                             "  <name>" LIBVIRT_VOL_NAME "</name>\n"
                                             "  <capacity unit='bytes'>%" PRIu64 "</capacity>\n"
                                             "  <allocation unit='bytes'>%" PRIu64 "</allocation>\n"
                                             "  <target><format type='raw'/></target>\n"
                                             "</volume>\n",
                                             o->size, o->size);
        int64_t t0 = now_ns();
        lv->vol = virStorageVolCreateXML(lv->pool, xml, 0);
        if (!lv->vol)
                die("virStorageVolCreateXML %s: %s", LIBVIRT_VOL_NAME, virGetLastErrorMessage());
        lv->create_s = seconds_since(t0);
        char *p = virStorageVolGetPath(lv->vol);
        if (!p)
                die("virStorageVolGetPath: %s", virGetLastErrorMessage());
        lv->path = xstrdup(p);
        free(p);
        prefill(lv->path, o->size);
        struct stat st;
        if (stat(lv->path, &st) < 0)
                die("%s: %m", lv->path);
        if ((uint64_t) st.st_size != o->size)
                die("%s: %jd bytes, not %" PRIu64, lv->path, (intmax_t) st.st_size, o->size);
        lv->st_blocks_before = (long long) st.st_blocks;
}

static struct run run_libvirt(struct lv *lv) {
        int64_t t0 = now_ns();
        if (virStorageVolWipePattern(lv->vol, VIR_STORAGE_VOL_WIPE_ALG_ZERO, 0) < 0)
                die("virStorageVolWipePattern %s: %s", lv->path, virGetLastErrorMessage());
        return (struct run) { seconds_since(t0), 0 };
}

static void lv_close(struct lv *lv) {
        if (lv->vol) {
                if (virStorageVolDelete(lv->vol, 0) < 0)
                        fprintf(stderr, "bench-wipe: virStorageVolDelete: %s\n", virGetLastErrorMessage());
                virStorageVolFree(lv->vol);
        }
        if (lv->pool)
                virStoragePoolFree(lv->pool);
        if (lv->conn)
                virConnectClose(lv->conn);
        free(lv->path);
        *lv = (struct lv) {};
}

/* ---- report ---- */

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n) {
        double s[REPEAT_MAX];
        memcpy(s, v, n * sizeof *v);
        qsort(s, n, sizeof *s, cmp_double);
        return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double mbs(uint64_t bytes, double s) {
        return s > 0 ? (double) bytes / 1e6 / s : 0;
}

static void crypto_erase(const struct opts *o) {
        printf("\nCrypto-erase (WIPE_CRYPTO_ERASE: LUKS header and key-slot area overwritten with the keystream\n"
               "and read back; the data area is left as ciphertext without a key)\n\n");
        printf("%-12s %14s %14s %12s %10s %10s %10s\n", "LUKS volume", "file bytes", "bytes wiped", "verified",
               "write ms", "verify ms", "total ms");
        double first = 0;
        char first_label[32] = "", ratios[512] = "";
        for (unsigned i = 0; i < o->n_luks; i++) {
                const char *path = o->luks[i];
                uint64_t size = target_size(path);
                _cleanup_free_ char *copy = xstrdup(path);
                struct wipe_result res = {};
                struct run r = run_gc(o, path, dirname(copy), size, "luks", WIPE_CRYPTO_ERASE, &res);
                double total = r.write_s + r.verify_s;
                char label[32];
                snprintf(label, sizeof label, "%.0f GiB", (double) size / (1024.0 * 1024 * 1024));
                printf("%-12s %14" PRIu64 " %14" PRIu64 " %12" PRIu64 " %10.1f %10.1f %10.1f\n", label, size,
                       res.bytes_written, res.bytes_verified, r.write_s * 1e3, r.verify_s * 1e3, total * 1e3);
                if (i == 0) {
                        first = total;
                        snprintf(first_label, sizeof first_label, "%s", label);
                } else if (first > 0)
                        snprintf(ratios + strlen(ratios), sizeof ratios - strlen(ratios), "%s%s / %s total time: %.2f",
                                 ratios[0] ? "; " : "", label, first_label, total / first);
                wipe_result_done(&res);
        }
        if (ratios[0])
                printf("(%s; the same work whatever the size: the header area only)\n", ratios);
}

static void usage(void) {
        printf("Usage: bench-wipe --target PATH --pool-dir DIR --work DIR [--size BYTES] [--repeat N]\n"
               "                  [--libvirt-uri URI --libvirt-pool NAME | --libvirt-skip REASON]\n"
               "                  [--luks FILE]...\n"
               "\n"
               "Wipe speed on one target (a file or a block device under --pool-dir): our zero and\n"
               "random passes with their verification, dd's zeros with O_DIRECT, shred -n1 and\n"
               "libvirt's virStorageVolWipePattern (zero) on a volume of the same size in a dir\n"
               "pool; then crypto-erase of each qemu LUKS --luks FILE. --work holds the state files.\n"
               "  --size BYTES  bytes of the target (default: all of it; a multiple of 4 MiB)\n"
               "  --repeat N    runs per method, the median reported (default 3)\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "target", required_argument, NULL, 't' },
                { "pool-dir", required_argument, NULL, 'p' },
                { "work", required_argument, NULL, 'w' },
                { "size", required_argument, NULL, 's' },
                { "repeat", required_argument, NULL, 'r' },
                { "libvirt-uri", required_argument, NULL, 'U' },
                { "libvirt-pool", required_argument, NULL, 'P' },
                { "libvirt-skip", required_argument, NULL, 'S' },
                { "luks", required_argument, NULL, 'L' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct opts o = { .repeat = 3 };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 't': o.target = optarg; break;
                case 'p': o.pool_dir = optarg; break;
                case 'w': o.work = optarg; break;
                case 's': o.size = strtoull(optarg, NULL, 10); break;
                case 'r': o.repeat = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'U': o.lv_uri = optarg; break;
                case 'P': o.lv_pool = optarg; break;
                case 'S': o.lv_skip = optarg; break;
                case 'L':
                        if (o.n_luks == LUKS_MAX)
                                die("--luks: at most %d", LUKS_MAX);
                        o.luks[o.n_luks++] = optarg;
                        break;
                case 'h': usage(); return 0;
                default: usage(); return 2;
                }
        }
        if (!o.target || !o.pool_dir || !o.work || optind != argc || (!o.lv_uri != !o.lv_pool)) {
                usage();
                return 2;
        }
        if (o.repeat == 0 || o.repeat > REPEAT_MAX)
                die("--repeat: 1 to %d", REPEAT_MAX);
        uint64_t have = target_size(o.target);
        if (o.size == 0)
                o.size = have;
        if (o.size != have)
                die("%s: %" PRIu64 " bytes, not the %" PRIu64 " of --size", o.target, have, o.size);
        if (o.size == 0 || o.size % DD_BS)
                die("--size: a multiple of 4 MiB, not %" PRIu64, o.size);
        bool libvirt = o.lv_uri != NULL;
        if (!libvirt && !o.lv_skip)
                o.lv_skip = "no --libvirt-uri given";

        log_set_component("bench-wipe");
        log_set_max_level(LOG_LEVEL_WARNING);
        log_parse_environment();

        fprintf(stderr, "bench-wipe: %s, %" PRIu64 " bytes, runs per method: %u\n", o.target, o.size, o.repeat);
        int64_t t0 = now_ns();
        prefill(o.target, o.size);
        fprintf(stderr, "  prefill of %s: %.2f s\n", o.target, seconds_since(t0));
        struct lv lv = {};
        if (libvirt) {
                lv_open(&o, &lv);
                fprintf(stderr, "  libvirt volume %s: created in %.2f s, %lld blocks of 512 bytes allocated\n",
                        lv.path, lv.create_s, lv.st_blocks_before);
        }

        struct run runs[ROW_N][REPEAT_MAX] = {};
        bool direct_io[2] = { true, true };
        for (unsigned r = 0; r < o.repeat; r++)
                for (int row = 0; row < ROW_N; row++) {
                        struct wipe_result res = {};
                        switch ((enum row) row) {
                        case ROW_GC_ZERO:
                        case ROW_GC_RANDOM:
                                runs[row][r] = run_gc(&o, o.target, o.pool_dir, o.size, "raw",
                                                      row == ROW_GC_ZERO ? WIPE_ZERO : WIPE_RANDOM, &res);
                                direct_io[row] = direct_io[row] && res.direct_io;
                                if (res.bytes_written != o.size || res.bytes_verified != o.size)
                                        die("%s: %" PRIu64 " bytes written, %" PRIu64 " verified, not %" PRIu64,
                                            row_names[row], res.bytes_written, res.bytes_verified, o.size);
                                wipe_result_done(&res);
                                break;
                        case ROW_DD: runs[row][r] = run_dd(&o); break;
                        case ROW_SHRED: runs[row][r] = run_shred(&o); break;
                        case ROW_LIBVIRT:
                                if (!libvirt)
                                        continue;
                                runs[row][r] = run_libvirt(&lv);
                                break;
                        case ROW_N: break;
                        }
                        fprintf(stderr, "  %-13s run %u: %.2f s writing, %.2f s verifying\n", row_names[row], r + 1,
                                runs[row][r].write_s, runs[row][r].verify_s);
                }

        double w[ROW_N], v[ROW_N];
        for (int row = 0; row < ROW_N; row++) {
                double ws[REPEAT_MAX], vs[REPEAT_MAX], ts[REPEAT_MAX];
                for (unsigned r = 0; r < o.repeat; r++) {
                        ws[r] = runs[row][r].write_s;
                        vs[r] = runs[row][r].verify_s;
                        ts[r] = ws[r] + vs[r];
                }
                /* The median run by total time, its split as measured. */
                double mt = median(ts, o.repeat);
                unsigned best = 0;
                for (unsigned r = 1; r < o.repeat; r++)
                        if (__builtin_fabs(ts[r] - mt) < __builtin_fabs(ts[best] - mt))
                                best = r;
                w[row] = ws[best];
                v[row] = vs[best];
        }
        double dd = mbs(o.size, w[ROW_DD]);

        printf("Wipe of %s: %" PRIu64 " bytes (%.2f GiB), runs per method: %u, the median run shown;\n"
               "MB/s = 10^6 bytes/s; ratios are to dd's MB/s\n\n",
               o.target, o.size, (double) o.size / (1024.0 * 1024 * 1024), o.repeat);
        printf("%-13s %9s %10s %8s %8s %11s %10s %8s\n", "method", "write s", "write MB/s", "/dd", "verify s",
               "verify MB/s", "total MB/s", "/dd");
        for (int row = 0; row < ROW_N; row++) {
                if (row == ROW_LIBVIRT && !libvirt) {
                        printf("%-13s not measured: %s\n", row_names[row], o.lv_skip);
                        continue;
                }
                double wr = mbs(o.size, w[row]), tr = mbs(o.size, w[row] + v[row]);
                if (row == ROW_GC_ZERO || row == ROW_GC_RANDOM)
                        printf("%-13s %9.2f %10.0f %8.2f %8.2f %11.0f %10.0f %8.2f\n", row_names[row], w[row], wr,
                               wr / dd, v[row], mbs(o.size, v[row]), tr, tr / dd);
                else
                        printf("%-13s %9.2f %10.0f %8.2f %8s %11s %10.0f %8.2f\n", row_names[row], w[row], wr,
                               wr / dd, "-", "-", tr, tr / dd);
        }
        printf("\n(gc rows: write = the pass with its fdatasync and state file, verify = the full read-back;\n"
               " dd, shred and libvirt verify nothing, so their total is their write)\n");
        if (!direct_io[0] || !direct_io[1])
                printf("(O_DIRECT refused by the file system: our wipes wrote buffered, with fdatasync)\n");

        if (o.n_luks > 0)
                crypto_erase(&o);
        else
                printf("\nCrypto-erase: not measured (no --luks volume)\n");

        printf("\nCommands:\n ");
        for (int i = 0; i < argc; i++)
                printf(" %s", argv[i]);
        printf("\n  gc zero / gc random / crypto-erase: wipe_run() (agent/wipe.c) in bench-wipe, method zero / "
               "random / crypto-erase, full verification\n");
        printf("  %s\n  %s\n", dd_line ? dd_line : "-", shred_line ? shred_line : "-");
        if (libvirt)
                printf("  virConnectOpen(\"%s\"); virStoragePoolLookupByName(\"%s\");\n"
                       "  virStorageVolCreateXML(pool, <volume> %s, capacity = allocation = %" PRIu64
                       " bytes, raw </volume>, 0);\n"
                       "  virStorageVolWipePattern(vol, VIR_STORAGE_VOL_WIPE_ALG_ZERO, 0)  [%s]\n",
                       o.lv_uri, o.lv_pool, LIBVIRT_VOL_NAME, o.size, lv.path);
        fflush(stdout);

        lv_close(&lv);
        free(dd_line);
        free(shred_line);
        return 0;
}
