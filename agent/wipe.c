/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc-config.h"
#include "jcs.h"
#include "json.h"
#include "log.h"
#include "wipe.h"

#define WIPE_STATE_VERSION 1
#define WIPE_KEY_LEN 16
#define WIPE_LUKS_HEADER_LEN 592

static const uint8_t luks_magic[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
static const uint8_t qcow2_magic[4] = { 'Q', 'F', 'I', 0xfb };

/* What "the same volume" means: device, inode and, where the file system
 * records it, the birth time (an inode number freed by a deleted file is
 * soon given to a new one; the birth time tells them apart). */
struct wipe_id {
        dev_t dev;
        ino_t ino;
        char btime[32];         /* "sec.nsec", "" where unknown */
};

struct wipe_ctx {
        const struct wipe_spec *spec;
        int fd;
        bool block;
        struct wipe_id id;
        uint64_t size;          /* the volume's */
        uint64_t end;           /* the range written: [0, end) */
        unsigned passes;
        char *real_path, *pool_real;

        /* What the state file holds. */
        enum wipe_phase phase;
        bool done;
        unsigned pass;          /* from 0 */
        uint64_t offset;
        bool have_key;
        uint8_t key[WIPE_KEY_LEN], iv[WIPE_KEY_LEN];
        char started[32];
        unsigned failed_verifications;
        cJSON *certificate;     /* a done state's */

        uint8_t *buf, *expect;
        EVP_CIPHER_CTX *cipher;

        /* Progress of this call. */
        int64_t t0_ms, last_progress_ms;
        uint64_t moved;         /* bytes written or read in the current phase by this call */
        uint64_t start;

        struct wipe_result res;
};

const char *wipe_method_to_string(enum wipe_method m) {
        switch (m) {
        case WIPE_ZERO:
                return "zero";
        case WIPE_RANDOM:
                return "random";
        case WIPE_CRYPTO_ERASE:
                return "crypto-erase";
        }
        return NULL;
}

int wipe_method_from_string(const char *s, enum wipe_method *ret) {
        static const enum wipe_method all[] = { WIPE_ZERO, WIPE_RANDOM, WIPE_CRYPTO_ERASE };
        for (size_t i = 0; s && i < ELEMENTSOF(all); i++)
                if (strcmp(s, wipe_method_to_string(all[i])) == 0) {
                        *ret = all[i];
                        return 0;
                }
        return -EINVAL;
}

static int64_t wipe_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wipe_rfc3339_now(char buf[32]) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int wipe_luks_payload_offset(const uint8_t *header, size_t len, uint64_t *ret) {
        if (len < WIPE_LUKS_HEADER_LEN || memcmp(header, luks_magic, sizeof luks_magic) != 0)
                return -EINVAL;
        /* qemu's QCryptoBlockLUKSHeader (LUKS v1, big-endian): magic[6],
         * version u16, cipher_name[32], cipher_mode[32], hash_spec[32],
         * payload_offset_sector u32 at byte 104, in 512-byte sectors. */
        uint16_t version = (uint16_t) (header[6] << 8 | header[7]);
        uint32_t sectors = (uint32_t) header[104] << 24 | (uint32_t) header[105] << 16 |
                           (uint32_t) header[106] << 8 | header[107];
        if (version != 1 || (uint64_t) sectors * 512 < WIPE_LUKS_HEADER_LEN)
                return -EINVAL;
        *ret = (uint64_t) sectors * 512;
        return 0;
}

/* ---- I/O ---- */

/* O_DIRECT wants WIPE_ALIGN-multiple lengths: a shorter tail goes through
 * the page cache (O_DIRECT cleared for it, fdatasync follows). */
static int wipe_set_direct(struct wipe_ctx *c, bool on) {
        if (!c->res.direct_io)
                return 0;
        int fl = fcntl(c->fd, F_GETFL);
        if (fl < 0 || fcntl(c->fd, F_SETFL, on ? (fl | O_DIRECT) : (fl & ~O_DIRECT)) < 0)
                return -errno;
        return 0;
}

static int wipe_io(struct wipe_ctx *c, bool write, uint8_t *p, size_t n, uint64_t off) {
        bool tail = c->res.direct_io && n % WIPE_ALIGN != 0;
        int r = 0;

        if (tail && (r = wipe_set_direct(c, false)) < 0)
                return r;
        while (n > 0) {
                ssize_t k = write ? pwrite(c->fd, p, n, (off_t) off) : pread(c->fd, p, n, (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0) {
                        r = -EIO;       /* the volume shrank under us */
                        break;
                }
                p += k;
                n -= (size_t) k;
                off += (uint64_t) k;
        }
        if (tail) {
                int q = wipe_set_direct(c, true);
                r = r < 0 ? r : q;
        }
        return r;
}

/* The AES-128-CTR keystream at byte off (a multiple of 16): the counter
 * block is iv + off/16, as a 128-bit big-endian number. */
static int wipe_keystream(struct wipe_ctx *c, uint8_t *out, size_t n, uint64_t off) {
        uint8_t ctr[WIPE_KEY_LEN];
        uint64_t add = off / 16;
        unsigned carry = 0;
        int outl = 0;

        assert(off % 16 == 0 && c->have_key);
        memcpy(ctr, c->iv, sizeof ctr);
        for (int i = WIPE_KEY_LEN - 1; i >= 0; i--) {
                unsigned s = ctr[i] + (unsigned) (add & 0xff) + carry;
                ctr[i] = (uint8_t) s;
                carry = s >> 8;
                add >>= 8;
        }
        memset(out, 0, n);
        if (EVP_EncryptInit_ex(c->cipher, EVP_aes_128_ctr(), NULL, c->key, ctr) != 1 ||
            EVP_EncryptUpdate(c->cipher, out, &outl, out, (int) n) != 1 || (size_t) outl != n)
                return log_openssl_errno(-EIO, "wipe: AES-128-CTR keystream");
        return 0;
}

static int wipe_pattern(struct wipe_ctx *c, uint8_t *out, size_t n, uint64_t off) {
        if (c->spec->method == WIPE_ZERO) {
                memset(out, 0, n);
                return 0;
        }
        return wipe_keystream(c, out, n, off);
}

/* ---- state file ---- */

static void wipe_add(cJSON *o, const char *k, cJSON *v) {
        if (!v || !cJSON_AddItemToObject(o, k, v))
                abort();
}

static int wipe_fsync_dir(const char *path) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -1;
        const char *slash = strrchr(path, '/');

        dir = slash ? xstrndup(path, slash == path ? 1 : (size_t) (slash - path)) : xstrdup(".");
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

/* Replace the state file atomically: write, fsync, rename, fsync the directory. */
static int wipe_state_write(struct wipe_ctx *c, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", s->state_path), *text = NULL;
        _cleanup_close_ int fd = -1;
        char num[32];
        size_t len, done = 0;
        int r = 0;

        if (!doc)
                abort();
        wipe_add(doc, "version", cJSON_CreateNumber(WIPE_STATE_VERSION));
        wipe_add(doc, "path", cJSON_CreateString(s->path));
        snprintf(num, sizeof num, "%ju", (uintmax_t) c->id.dev);
        wipe_add(doc, "dev", cJSON_CreateString(num));
        snprintf(num, sizeof num, "%ju", (uintmax_t) c->id.ino);
        wipe_add(doc, "ino", cJSON_CreateString(num));
        wipe_add(doc, "btime", cJSON_CreateString(c->id.btime));
        wipe_add(doc, "size", cJSON_CreateNumber((double) c->size));
        wipe_add(doc, "end", cJSON_CreateNumber((double) c->end));
        wipe_add(doc, "method", cJSON_CreateString(wipe_method_to_string(s->method)));
        wipe_add(doc, "passes", cJSON_CreateNumber(c->passes));
        wipe_add(doc, "phase", cJSON_CreateString(c->done ? "done" : c->phase == WIPE_PHASE_VERIFY ? "verify" : "write"));
        wipe_add(doc, "pass", cJSON_CreateNumber(c->pass));
        wipe_add(doc, "offset", cJSON_CreateNumber((double) c->offset));
        if (c->have_key && !c->done) {
                _cleanup_free_ char *k = crypto_hex(c->key, sizeof c->key), *iv = crypto_hex(c->iv, sizeof c->iv);
                wipe_add(doc, "key", cJSON_CreateString(k));
                wipe_add(doc, "iv", cJSON_CreateString(iv));
                OPENSSL_cleanse(k, strlen(k));
        }
        wipe_add(doc, "started", cJSON_CreateString(c->started));
        wipe_add(doc, "direct_io", cJSON_CreateBool(c->res.direct_io));
        wipe_add(doc, "failed_verifications", cJSON_CreateNumber(c->failed_verifications));
        if (c->done && c->certificate)
                wipe_add(doc, "certificate", cJSON_Duplicate(c->certificate, true));
        text = cJSON_PrintUnformatted(doc);
        if (!text)
                abort();
        len = strlen(text);

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                r = -errno;
        while (r >= 0 && done < len) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        r = -errno;
                else
                        done += (size_t) n;
        }
        OPENSSL_cleanse(text, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, s->state_path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                gc_error_set(err, "state_unwritable", "", "state_path", s->state_path,
                             "cannot be written: %s", strerror(-r));
                return log_error_errno(r, "wipe state %s: cannot be written", s->state_path);
        }
        r = wipe_fsync_dir(s->state_path);
        if (r < 0)
                log_warning_errno(r, "wipe state %s: cannot sync its directory", s->state_path);
        return 0;
}

static int wipe_state_bad(struct gc_error *err, const char *path, const char *what) {
        gc_error_set(err, "bad_state", "", "state_path", path, "holds no valid wipe state (%s)", what);
        return -EINVAL;
}

/* Load the state file into c. *ret_found false: none, a fresh wipe. */
static int wipe_state_load(struct wipe_ctx *c, bool *ret_found, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct gc_error perr = {};
        const char *path, *method, *phase, *dev, *ino, *started;
        int64_t version, size, end, passes, pass, offset, failed;
        int r;

        r = json_parse_file(s->state_path, WIPE_STATE_MAX, &doc, &perr);
        if (r == -ENOENT) {
                *ret_found = false;
                return 0;
        }
        if (r < 0)
                return wipe_state_bad(err, s->state_path, perr.message[0] ? perr.message : strerror(-r));
        if (json_get_int(doc, "version", &version, &perr) < 0 || version != WIPE_STATE_VERSION ||
            json_get_string(doc, "path", &path, &perr) < 0 ||
            json_get_string(doc, "method", &method, &perr) < 0 ||
            json_get_string(doc, "phase", &phase, &perr) < 0 ||
            json_get_string(doc, "dev", &dev, &perr) < 0 ||
            json_get_string(doc, "ino", &ino, &perr) < 0 ||
            json_get_string(doc, "started", &started, &perr) < 0 ||
            json_get_int(doc, "size", &size, &perr) < 0 ||
            json_get_int(doc, "end", &end, &perr) < 0 ||
            json_get_int(doc, "passes", &passes, &perr) < 0 ||
            json_get_int(doc, "pass", &pass, &perr) < 0 ||
            json_get_int(doc, "offset", &offset, &perr) < 0 ||
            json_get_int(doc, "failed_verifications", &failed, &perr) < 0)
                return wipe_state_bad(err, s->state_path, "a member is missing or of the wrong type");

        /* Another wipe's state: the caller decides what to do with it. */
        if (strcmp(path, s->path) != 0 || strcmp(method, wipe_method_to_string(s->method)) != 0 ||
            (uint64_t) passes != c->passes || (uint64_t) size != s->size) {
                gc_error_set(err, "state_mismatch", "", "state_path", s->state_path,
                             "holds a wipe of %s (%s, %" PRId64 " passes, %" PRId64 " bytes), not this one",
                             path, method, passes, size);
                return -ESTALE;
        }
        if (end <= 0 || end > size || pass < 0 || (uint64_t) pass >= c->passes || offset < 0 || offset > end ||
            strlen(started) >= sizeof c->started)
                return wipe_state_bad(err, s->state_path, "values out of range");

        c->done = strcmp(phase, "done") == 0;
        if (!c->done && strcmp(phase, "verify") != 0 && strcmp(phase, "write") != 0)
                return wipe_state_bad(err, s->state_path, "unknown phase");
        c->phase = strcmp(phase, "verify") == 0 ? WIPE_PHASE_VERIFY : WIPE_PHASE_WRITE;
        c->id.dev = (dev_t) strtoumax(dev, NULL, 10);
        c->id.ino = (ino_t) strtoumax(ino, NULL, 10);
        snprintf(c->id.btime, sizeof c->id.btime, "%s", str_at(doc, "btime") ?: "");
        c->end = (uint64_t) end;
        c->pass = (unsigned) pass;
        c->offset = (uint64_t) offset;
        c->failed_verifications = (unsigned) failed;
        snprintf(c->started, sizeof c->started, "%s", started);

        const char *khex = str_at(doc, "key"), *ivhex = str_at(doc, "iv");
        if (khex && ivhex) {
                _cleanup_free_ uint8_t *k = NULL, *iv = NULL;
                size_t klen, ivlen;
                if (crypto_unhex(khex, &k, &klen) < 0 || crypto_unhex(ivhex, &iv, &ivlen) < 0 ||
                    klen != WIPE_KEY_LEN || ivlen != WIPE_KEY_LEN)
                        return wipe_state_bad(err, s->state_path, "key or iv");
                memcpy(c->key, k, klen);
                memcpy(c->iv, iv, ivlen);
                OPENSSL_cleanse(k, klen);
                c->have_key = true;
        }
        OPENSSL_cleanse((char *) (khex ? khex : ""), khex ? strlen(khex) : 0);
        if (c->done) {
                const cJSON *cert = json_get(doc, "certificate");
                if (!cJSON_IsObject(cert))
                        return wipe_state_bad(err, s->state_path, "done without a certificate");
                c->certificate = cJSON_Duplicate(cert, true);
        } else if (s->method != WIPE_ZERO && c->offset > 0 && !c->have_key)
                return wipe_state_bad(err, s->state_path, "a keystream pass without its key");
        *ret_found = true;
        return 0;
}

/* ---- safety ---- */

static int wipe_get_id(int dirfd, const char *path, int flags, struct wipe_id *ret) {
        struct statx stx;

        if (statx(dirfd, path, flags | AT_STATX_SYNC_AS_STAT, STATX_INO | STATX_BTIME, &stx) < 0)
                return -errno;
        *ret = (struct wipe_id) {
                .dev = makedev(stx.stx_dev_major, stx.stx_dev_minor),
                .ino = (ino_t) stx.stx_ino,
        };
        if (stx.stx_mask & STATX_BTIME)
                snprintf(ret->btime, sizeof ret->btime, "%lld.%09u", (long long) stx.stx_btime.tv_sec,
                         stx.stx_btime.tv_nsec);
        return 0;
}

static int wipe_check_spec(const struct wipe_spec *s, struct gc_error *err) {
        if (!s->path || s->path[0] != '/') {
                gc_error_set(err, "invalid_spec", "", "path", s->path, "must be an absolute path");
                return -EINVAL;
        }
        if (!s->pool_dir || s->pool_dir[0] != '/') {
                gc_error_set(err, "invalid_spec", "", "pool_dir", s->pool_dir, "must be an absolute path");
                return -EINVAL;
        }
        if (!s->state_path || !*s->state_path) {
                gc_error_set(err, "invalid_spec", "", "state_path", NULL, "is required");
                return -EINVAL;
        }
        if (s->size == 0) {
                gc_error_set(err, "invalid_spec", "", "size", "0", "must be the volume's size in bytes");
                return -EINVAL;
        }
        if (!s->format || (strcmp(s->format, "raw") != 0 && strcmp(s->format, "qcow2") != 0 &&
                           strcmp(s->format, "luks") != 0)) {
                gc_error_set(err, "invalid_spec", "", "format", s->format, "must be raw, qcow2 or luks");
                return -EINVAL;
        }
        if (!wipe_method_to_string(s->method)) {
                gc_error_set(err, "invalid_spec", "", "method", NULL, "is not zero, random or crypto-erase");
                return -EINVAL;
        }
        if (s->method == WIPE_CRYPTO_ERASE && strcmp(s->format, "luks") != 0) {
                gc_error_set(err, "invalid_spec", "R-EX3", "method", "crypto-erase",
                             "needs a volume in LUKS format, this one is %s", s->format);
                return -EINVAL;
        }
        if (s->passes > WIPE_PASSES_MAX) {
                char v[16];
                snprintf(v, sizeof v, "%u", s->passes);
                gc_error_set(err, "invalid_spec", "", "passes", v, "must be at most %u", WIPE_PASSES_MAX);
                return -EINVAL;
        }
        return 0;
}

/* Open the volume (see wipe.h, "Safety") and fill dev, ino, size, block,
 * real_path, res.direct_io. */
static int wipe_open(struct wipe_ctx *c, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        struct stat lst, st;
        char fdpath[64], real[PATH_MAX];
        ssize_t n;
        int r;

        if (lstat(s->path, &lst) < 0) {
                r = -errno;
                gc_error_set(err, "volume_missing", "", "path", s->path, "cannot be found: %s", strerror(-r));
                return r;
        }
        if (S_ISLNK(lst.st_mode)) {
                gc_error_set(err, "volume_symlink", "", "path", s->path,
                             "is a symbolic link; the volume must be the file libvirt names");
                return -ELOOP;
        }
        if (!S_ISREG(lst.st_mode) && !S_ISBLK(lst.st_mode)) {
                gc_error_set(err, "volume_kind", "", "path", s->path, "is neither a regular file nor a block device");
                return -EINVAL;
        }

        /* O_EXCL without O_CREAT: an exclusive open of a block device
         * (EBUSY when mounted or held elsewhere); ignored for a file. */
        int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | (S_ISBLK(lst.st_mode) ? O_EXCL : 0);
        c->fd = open(s->path, flags | O_DIRECT);
        c->res.direct_io = c->fd >= 0;
        if (c->fd < 0 && errno == EINVAL) {
                c->fd = open(s->path, flags);
                if (c->fd >= 0)
                        log_info("wipe %s: O_DIRECT refused by the file system, buffered writes with fdatasync",
                                 s->path);
        }
        if (c->fd < 0) {
                r = -errno;
                if (r == -ELOOP)
                        gc_error_set(err, "volume_symlink", "", "path", s->path,
                                     "became a symbolic link; the volume must be the file libvirt names");
                else if (r == -EBUSY)
                        gc_error_set(err, "volume_busy", "R-EX3", "path", s->path,
                                     "is in use (mounted or held open exclusively elsewhere)");
                else
                        gc_error_set(err, "volume_unopenable", "", "path", s->path, "cannot be opened: %s",
                                     strerror(-r));
                return r;
        }
        if (fstat(c->fd, &st) < 0)
                return -errno;
        if (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino || (st.st_mode & S_IFMT) != (lst.st_mode & S_IFMT)) {
                gc_error_set(err, "volume_replaced", "", "path", s->path, "changed while it was opened");
                return -ESTALE;
        }
        c->block = S_ISBLK(st.st_mode);

        /* The real path of what was opened, under the pool's. */
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", c->fd);
        n = readlink(fdpath, real, sizeof real - 1);
        if (n < 0)
                return log_error_errno(errno, "wipe %s: cannot read %s", s->path, fdpath);
        real[n] = 0;
        c->real_path = xstrdup(real);
        if (!realpath(s->pool_dir, real)) {
                r = -errno;
                gc_error_set(err, "pool_missing", "", "pool_dir", s->pool_dir, "cannot be resolved: %s", strerror(-r));
                return r;
        }
        c->pool_real = xstrdup(real);
        size_t pl = strlen(c->pool_real);
        bool under = strcmp(c->pool_real, "/") == 0 ||
                     (strncmp(c->real_path, c->pool_real, pl) == 0 && c->real_path[pl] == '/');
        if (!under) {
                gc_error_set(err, "outside_pool", "R-EX3", "path", s->path,
                             "resolves to %s, which is not under the pool directory %s", c->real_path, c->pool_real);
                return -EPERM;
        }

        if (flock(c->fd, LOCK_EX | LOCK_NB) < 0) {
                r = -errno;
                gc_error_set(err, "volume_busy", "", "path", s->path,
                             r == -EWOULDBLOCK ? "is being wiped by another process" : "cannot be locked: %s",
                             strerror(-r));
                return r == -EWOULDBLOCK ? -EBUSY : r;
        }

        if (c->block) {
                uint64_t bytes;
                if (ioctl(c->fd, BLKGETSIZE64, &bytes) < 0)
                        return log_error_errno(errno, "wipe %s: BLKGETSIZE64", s->path);
                c->size = bytes;
        } else
                c->size = (uint64_t) st.st_size;
        if (c->size != s->size) {
                char v[32];
                snprintf(v, sizeof v, "%" PRIu64, s->size);
                gc_error_set(err, "size_mismatch", "", "size", v, "does not match the volume's %" PRIu64 " bytes",
                             c->size);
                return -EINVAL;
        }
        return wipe_get_id(c->fd, "", AT_EMPTY_PATH, &c->id);
}

/* The volume is still what it was: (dev, ino, size) of the descriptor and
 * of the path (a path now naming another file is refused). */
static bool wipe_id_equal(const struct wipe_id *a, const struct wipe_id *b) {
        return a->dev == b->dev && a->ino == b->ino &&
               (!a->btime[0] || !b->btime[0] || strcmp(a->btime, b->btime) == 0);
}

static int wipe_check_identity(struct wipe_ctx *c, const struct wipe_id *want, const char *when, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        struct wipe_id fid, pid;
        struct stat st;
        uint64_t size;
        int r;

        r = fstat(c->fd, &st) < 0 ? -errno : 0;
        r = r < 0 ? r : wipe_get_id(c->fd, "", AT_EMPTY_PATH, &fid);
        r = r < 0 ? r : wipe_get_id(AT_FDCWD, s->path, AT_SYMLINK_NOFOLLOW, &pid);
        if (r < 0) {
                gc_error_set(err, "volume_replaced", "", "path", s->path, "cannot be checked %s: %s", when,
                             strerror(-r));
                return r;
        }
        if (c->block) {
                if (ioctl(c->fd, BLKGETSIZE64, &size) < 0)
                        return log_error_errno(errno, "wipe %s: BLKGETSIZE64", s->path);
        } else
                size = (uint64_t) st.st_size;
        if (!wipe_id_equal(&fid, want) || !wipe_id_equal(&pid, want)) {
                gc_error_set(err, "volume_replaced", "", "path", s->path,
                             "is not the volume %s (device %ju inode %ju born %s, now %ju/%ju born %s)", when,
                             (uintmax_t) want->dev, (uintmax_t) want->ino, want->btime[0] ? want->btime : "?",
                             (uintmax_t) pid.dev, (uintmax_t) pid.ino, pid.btime[0] ? pid.btime : "?");
                return -ESTALE;
        }
        if (size != c->size) {
                gc_error_set(err, "volume_resized", "", "path", s->path, "changed size %s: %" PRIu64 " bytes, was %" PRIu64,
                             when, size, c->size);
                return -ESTALE;
        }
        return 0;
}

/* A fresh wipe: the volume's first bytes carry its format's magic; for a
 * crypto-erase, the range is the LUKS header and key slots. */
static int wipe_check_format(struct wipe_ctx *c, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        size_t n = c->size < WIPE_ALIGN ? (size_t) c->size : WIPE_ALIGN;
        int r;

        c->end = c->size;
        if (strcmp(s->format, "raw") == 0)
                return 0;
        r = wipe_io(c, false, c->buf, n, 0);
        if (r < 0)
                return log_error_errno(r, "wipe %s: cannot read its header", s->path);
        if (strcmp(s->format, "qcow2") == 0) {
                if (n < sizeof qcow2_magic || memcmp(c->buf, qcow2_magic, sizeof qcow2_magic) != 0) {
                        gc_error_set(err, "format_mismatch", "", "format", s->format, "is not what %s holds", s->path);
                        return -EINVAL;
                }
                return 0;
        }
        uint64_t payload;
        if (wipe_luks_payload_offset(c->buf, n, &payload) < 0) {
                gc_error_set(err, "format_mismatch", "", "format", s->format,
                             "is not what %s holds (no LUKS header)", s->path);
                return -EINVAL;
        }
        if (payload > c->size) {
                gc_error_set(err, "format_mismatch", "", "format", s->format,
                             "header of %s gives a payload offset %" PRIu64 " beyond its size", s->path, payload);
                return -EINVAL;
        }
        if (s->method == WIPE_CRYPTO_ERASE)
                c->end = payload;       /* header and every key slot */
        return 0;
}

/* ---- passes and verification ---- */

static void wipe_report(struct wipe_ctx *c, uint64_t done, uint64_t total, bool force) {
        const struct wipe_spec *s = c->spec;
        int64_t now = wipe_now_ms();
        unsigned every = s->progress_ms ?: WIPE_PROGRESS_MS_DEFAULT;

        if (!s->progress || (!force && now - c->last_progress_ms < (int64_t) every))
                return;
        c->last_progress_ms = now;
        double secs = (double) (now - c->t0_ms) / 1000.0;
        struct wipe_progress p = {
                .phase = c->phase,
                .pass = c->pass + 1,
                .passes = c->passes,
                .done = done,
                .total = total,
                .start = c->start,
                .rate = secs > 0 ? (double) c->moved / secs : 0,
        };
        s->progress(&p, s->userdata);
}

static void wipe_throttle(struct wipe_ctx *c) {
        uint64_t bps = c->spec->test_throttle_bps;
        if (bps == 0)
                return;
        int64_t due = c->t0_ms + (int64_t) (c->moved * 1000 / bps), now = wipe_now_ms();
        if (due > now) {
                struct timespec ts = { .tv_sec = (due - now) / 1000, .tv_nsec = (due - now) % 1000 * 1000000 };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
}

static int wipe_sync(struct wipe_ctx *c) {
        if (fdatasync(c->fd) < 0)
                return log_error_errno(errno, "wipe %s: fdatasync", c->spec->path);
        return 0;
}

static bool wipe_cancelled(const struct wipe_ctx *c, struct gc_error *err) {
        if (!c->spec->cancel || !atomic_load(c->spec->cancel))
                return false;
        gc_error_set(err, "cancelled", "", "cancel", c->spec->path, "the wipe was stopped; it resumes from its checkpoint");
        return true;
}

/* Write pass c->pass from c->offset to the end, checkpointing. */
static int wipe_pass(struct wipe_ctx *c, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        uint64_t every = s->checkpoint_bytes ?: WIPE_CHECKPOINT_DEFAULT, since = 0;
        int r;

        every = (every + WIPE_CHUNK - 1) / WIPE_CHUNK * WIPE_CHUNK;
        c->phase = WIPE_PHASE_WRITE;
        c->start = c->offset;
        c->moved = 0;
        c->t0_ms = wipe_now_ms();
        wipe_report(c, c->offset, c->end, true);
        while (c->offset < c->end) {
                size_t n = (size_t) (c->end - c->offset < WIPE_CHUNK ? c->end - c->offset : WIPE_CHUNK);
                r = wipe_pattern(c, c->buf, n, c->offset);
                if (r < 0)
                        return r;
                r = wipe_io(c, true, c->buf, n, c->offset);
                if (r < 0) {
                        gc_error_set(err, "write_failed", "", "path", s->path, "write at offset %" PRIu64 " failed: %s",
                                     c->offset, strerror(-r));
                        return log_error_errno(r, "wipe %s: write at %" PRIu64, s->path, c->offset);
                }
                c->offset += n;
                c->moved += n;
                c->res.bytes_written += n;
                since += n;
                if (since >= every && c->offset < c->end) {
                        r = wipe_sync(c);
                        if (r < 0)
                                return r;
                        r = wipe_state_write(c, err);
                        if (r < 0)
                                return r;
                        since = 0;
                }
                wipe_report(c, c->offset, c->end, false);
                wipe_throttle(c);
                if (c->offset < c->end && wipe_cancelled(c, err)) {
                        /* What is written so far counts on resume. */
                        r = wipe_sync(c);
                        r = r < 0 ? r : wipe_state_write(c, NULL);
                        return r < 0 ? r : -ECANCELED;
                }
        }
        r = wipe_sync(c);
        if (r < 0)
                return r;
        wipe_report(c, c->offset, c->end, true);
        return 0;
}

/* The first byte of [p, p+n) that differs from expect (NULL: zeros), or n. */
static size_t wipe_first_mismatch(const uint8_t *p, const uint8_t *expect, size_t n) {
        if (expect ? memcmp(p, expect, n) == 0 : (n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0)))
                return n;
        for (size_t i = 0; i < n; i++)
                if (p[i] != (expect ? expect[i] : 0))
                        return i;
        return n;
}

static int wipe_verify_range(struct wipe_ctx *c, uint64_t off, size_t n, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        int r;

        r = wipe_io(c, false, c->buf, n, off);
        if (r < 0) {
                gc_error_set(err, "read_failed", "", "verification", NULL, "read at offset %" PRIu64 " failed: %s",
                             off, strerror(-r));
                return log_error_errno(r, "wipe %s: read at %" PRIu64, s->path, off);
        }
        if (s->method != WIPE_ZERO) {
                r = wipe_keystream(c, c->expect, n, off);
                if (r < 0)
                        return r;
        }
        size_t i = wipe_first_mismatch(c->buf, s->method == WIPE_ZERO ? NULL : c->expect, n);
        if (i < n) {
                char v[32];
                snprintf(v, sizeof v, "%" PRIu64, off + i);
                gc_error_set(err, "verify_mismatch", "R-EX3", "verification", v,
                             "byte at offset %" PRIu64 " of %s does not hold the %s pattern: the wipe failed",
                             off + i, s->path, wipe_method_to_string(s->method));
                log_error("wipe %s: verification failed at offset %" PRIu64, s->path, off + i);
                return -EIO;
        }
        c->res.bytes_verified += n;
        c->moved += n;
        return 0;
}

static int wipe_verify(struct wipe_ctx *c, uint64_t *ret_blocks, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        bool full = s->sample_blocks == 0 || s->method == WIPE_CRYPTO_ERASE;
        uint64_t blocks = 0;
        int r;

        c->phase = WIPE_PHASE_VERIFY;
        c->start = 0;
        c->moved = 0;
        c->t0_ms = wipe_now_ms();
        if (full) {
                wipe_report(c, 0, c->end, true);
                for (uint64_t off = 0; off < c->end;) {
                        size_t n = (size_t) (c->end - off < WIPE_CHUNK ? c->end - off : WIPE_CHUNK);
                        if (wipe_cancelled(c, err))
                                return -ECANCELED;
                        r = wipe_verify_range(c, off, n, err);
                        if (r < 0)
                                return r;
                        off += n;
                        blocks += (n + WIPE_ALIGN - 1) / WIPE_ALIGN;
                        wipe_report(c, off, c->end, false);
                }
                wipe_report(c, c->end, c->end, true);
        } else {
                uint64_t nblocks = (c->end + WIPE_ALIGN - 1) / WIPE_ALIGN;
                uint64_t total = s->sample_blocks * WIPE_ALIGN;
                wipe_report(c, 0, total, true);
                for (uint64_t k = 0; k < s->sample_blocks; k++) {
                        uint64_t pick;
                        if (k % 256 == 0 && wipe_cancelled(c, err))
                                return -ECANCELED;
                        r = crypto_random(&pick, sizeof pick);
                        if (r < 0)
                                return r;
                        uint64_t off = pick % nblocks * WIPE_ALIGN;
                        size_t n = (size_t) (c->end - off < WIPE_ALIGN ? c->end - off : WIPE_ALIGN);
                        r = wipe_verify_range(c, off, n, err);
                        if (r < 0)
                                return r;
                        blocks++;
                        wipe_report(c, (k + 1) * WIPE_ALIGN, total, false);
                }
                wipe_report(c, total, total, true);
        }
        *ret_blocks = blocks;
        return 0;
}

static int wipe_new_key(struct wipe_ctx *c) {
        if (c->spec->method == WIPE_ZERO) {
                c->have_key = false;
                return 0;
        }
        int r = crypto_random(c->key, sizeof c->key);
        r = r < 0 ? r : crypto_random(c->iv, sizeof c->iv);
        if (r < 0)
                return log_error_errno(r, "wipe: no randomness for the keystream");
        c->have_key = true;
        return 0;
}

/* ---- certificate ---- */

static cJSON *wipe_str_or_null(const char *s) {
        return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *wipe_certificate_build(struct wipe_ctx *c, uint64_t blocks, const char *ended) {
        const struct wipe_spec *s = c->spec;
        bool purge = s->method == WIPE_CRYPTO_ERASE;
        bool full = s->sample_blocks == 0 || purge;
        char host[256] = "";
        cJSON *cert = cJSON_CreateObject(), *vol = cJSON_CreateObject(), *san = cJSON_CreateObject(),
              *range = cJSON_CreateObject(), *ver = cJSON_CreateObject(), *tool = cJSON_CreateObject();

        if (!cert || !vol || !san || !range || !ver || !tool)
                abort();
        if (s->host)
                snprintf(host, sizeof host, "%s", s->host);
        else if (gethostname(host, sizeof host - 1) < 0)
                snprintf(host, sizeof host, "unknown");

        wipe_add(cert, "format", cJSON_CreateString(WIPE_CERTIFICATE_FORMAT));
        wipe_add(vol, "pool", wipe_str_or_null(s->pool));
        wipe_add(vol, "pool_dir", cJSON_CreateString(c->pool_real));
        wipe_add(vol, "path", cJSON_CreateString(s->path));
        wipe_add(vol, "name", wipe_str_or_null(s->name));
        wipe_add(vol, "uuid", wipe_str_or_null(s->uuid));
        wipe_add(vol, "size", cJSON_CreateNumber((double) c->size));
        wipe_add(vol, "format", cJSON_CreateString(s->format));
        wipe_add(vol, "kind", cJSON_CreateString(c->block ? "block" : "file"));
        wipe_add(cert, "volume", vol);

        wipe_add(san, "method", cJSON_CreateString(wipe_method_to_string(s->method)));
        wipe_add(san, "category", cJSON_CreateString(purge ? "Purge" : "Clear"));
        wipe_add(san, "technique", cJSON_CreateString(purge ? "cryptographic erase" : "overwrite"));
        wipe_add(san, "pattern", cJSON_CreateString(s->method == WIPE_ZERO ? "zeros" : "aes-128-ctr keystream"));
        wipe_add(san, "passes", cJSON_CreateNumber(c->passes));
        wipe_add(range, "offset", cJSON_CreateNumber(0));
        wipe_add(range, "length", cJSON_CreateNumber((double) c->end));
        wipe_add(san, "range", range);
        wipe_add(san, "direct_io", cJSON_CreateBool(c->res.direct_io));
        if (purge)
                wipe_add(san, "key_destruction",
                         cJSON_CreateString("LUKS header and key-slot area overwritten and verified; "
                                            "the volume's libvirt secret is destroyed by the caller"));
        wipe_add(cert, "sanitization", san);

        wipe_add(ver, "method", cJSON_CreateString(full ? "full" : "sampled"));
        wipe_add(ver, "block_size", cJSON_CreateNumber(WIPE_ALIGN));
        wipe_add(ver, "blocks_checked", cJSON_CreateNumber((double) blocks));
        wipe_add(ver, "bytes_checked", cJSON_CreateNumber((double) c->res.bytes_verified));
        wipe_add(ver, "result", cJSON_CreateString("pass"));
        wipe_add(cert, "verification", ver);

        wipe_add(cert, "started", cJSON_CreateString(c->started));
        wipe_add(cert, "ended", cJSON_CreateString(ended));
        wipe_add(cert, "host", cJSON_CreateString(host));
        wipe_add(tool, "name", cJSON_CreateString("gc-agent"));
        wipe_add(tool, "version", cJSON_CreateString(GC_VERSION));
        wipe_add(cert, "tool", tool);
        wipe_add(cert, "approval", wipe_str_or_null(s->approval));
        wipe_add(cert, "operator", wipe_str_or_null(s->operator_name));
        return cert;
}

/* ---- the run ---- */

static void wipe_ctx_done(struct wipe_ctx *c) {
        if (c->fd >= 0)
                close(c->fd);
        free(c->real_path);
        free(c->pool_real);
        free(c->buf);
        free(c->expect);
        EVP_CIPHER_CTX_free(c->cipher);
        cJSON_Delete(c->certificate);
        cJSON_Delete(c->res.certificate);
        OPENSSL_cleanse(c->key, sizeof c->key);
        OPENSSL_cleanse(c->iv, sizeof c->iv);
}

static int wipe_run_ctx(struct wipe_ctx *c, struct gc_error *err) {
        const struct wipe_spec *s = c->spec;
        bool found = false;
        uint64_t blocks = 0;
        int r;

        r = wipe_check_spec(s, err);
        if (r < 0)
                return r;
        if (posix_memalign((void **) &c->buf, WIPE_ALIGN, WIPE_CHUNK) != 0 ||
            posix_memalign((void **) &c->expect, WIPE_ALIGN, WIPE_CHUNK) != 0)
                abort();
        c->cipher = EVP_CIPHER_CTX_new();
        if (!c->cipher)
                abort();

        r = wipe_open(c, err);
        if (r < 0)
                return r;
        struct wipe_id opened = c->id;

        r = wipe_state_load(c, &found, err);
        if (r < 0)
                return r;
        if (found) {
                /* Before a resume: the volume is the one the checkpoint was taken on. */
                r = wipe_check_identity(c, &c->id, "the state file's checkpoint was taken on", err);
                if (r < 0)
                        return r;
                if (c->done) {
                        c->res.reused = true;
                        c->res.certificate = TAKE_PTR(c->certificate);
                        return 0;
                }
                c->res.resumed = true;
                c->res.resumed_pass = c->pass + 1;
                c->res.resumed_offset = c->offset;
                log_info("wipe %s: resuming pass %u/%u at offset %" PRIu64 "%s", s->path, c->pass + 1, c->passes,
                         c->offset, c->phase == WIPE_PHASE_VERIFY ? " (verification)" : "");
        } else {
                r = wipe_check_format(c, err);
                if (r < 0)
                        return r;
                wipe_rfc3339_now(c->started);
                c->pass = 0;
                c->offset = 0;
                c->phase = WIPE_PHASE_WRITE;
        }

        if (c->phase == WIPE_PHASE_WRITE) {
                for (; c->pass < c->passes; c->pass++) {
                        if (c->offset == 0 || (s->method != WIPE_ZERO && !c->have_key)) {
                                /* A new pass: its key on disk before its first byte. */
                                c->offset = 0;
                                r = wipe_new_key(c);
                                if (r < 0)
                                        return r;
                                r = wipe_state_write(c, err);
                                if (r < 0)
                                        return r;
                        }
                        r = wipe_pass(c, err);
                        if (r < 0)
                                return r;
                        r = wipe_check_identity(c, &opened, "after the pass", err);
                        if (r < 0)
                                return r;
                        if (c->pass + 1 < c->passes)
                                c->offset = 0;
                }
                c->pass = c->passes - 1;
                c->offset = c->end;
                c->phase = WIPE_PHASE_VERIFY;
                r = wipe_state_write(c, err);
                if (r < 0)
                        return r;
        }

        if (s->test_before_verify) {
                r = s->test_before_verify(s->path, s->userdata);
                if (r < 0)
                        return r;
        }
        r = wipe_verify(c, &blocks, err);
        if (r == -EIO && strcmp(err ? err->code : "verify_mismatch", "verify_mismatch") == 0) {
                /* Every pass again on the next call, with a fresh key. */
                c->failed_verifications++;
                c->phase = WIPE_PHASE_WRITE;
                c->pass = 0;
                c->offset = 0;
                c->have_key = false;
                (void) wipe_state_write(c, NULL);
                return r;
        }
        if (r < 0)
                return r;
        r = wipe_check_identity(c, &opened, "after the verification", err);
        if (r < 0)
                return r;

        char ended[32];
        wipe_rfc3339_now(ended);
        c->certificate = wipe_certificate_build(c, blocks, ended);
        c->done = true;
        c->have_key = false;
        OPENSSL_cleanse(c->key, sizeof c->key);
        OPENSSL_cleanse(c->iv, sizeof c->iv);
        r = wipe_state_write(c, err);   /* the key leaves the state here */
        if (r < 0)
                return r;
        c->res.certificate = TAKE_PTR(c->certificate);
        log_info("wipe %s: %s, %u pass(es), verified %" PRIu64 " bytes", s->path, wipe_method_to_string(s->method),
                 c->passes, c->res.bytes_verified);
        return 0;
}

int wipe_run(const struct wipe_spec *spec, struct wipe_result *ret, struct gc_error *err) {
        struct wipe_ctx c = {
                .spec = spec,
                .fd = -1,
                .passes = spec->passes ?: 1,
        };
        int r = wipe_run_ctx(&c, err);
        if (r >= 0) {
                *ret = c.res;
                c.res.certificate = NULL;
        }
        wipe_ctx_done(&c);
        return r;
}

void wipe_result_done(struct wipe_result *r) {
        if (!r)
                return;
        cJSON_Delete(r->certificate);
        r->certificate = NULL;
}
