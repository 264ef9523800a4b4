/* SPDX-License-Identifier: Apache-2.0 */
/* The wipe engine on real files (a temporary directory under /var/tmp, a
 * disk file system: tmpfs refuses O_DIRECT) and, as root, a loop device:
 * zero and random leave no block of the pattern, a changed byte fails the
 * verification, kill -9 mid-wipe resumes from the checkpoint, the safety
 * refusals, crypto-erase of a qemu LUKS volume, signed certificates; a wipe
 * cancelled from outside stops at a checkpoint and resumes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"
#include "json.h"
#include "wipe.h"

#define VOL_SIZE (64ull * 1024 * 1024)
#define BLOCK 4096

static char dir[128];
static char pool[160];

static char *pool_file(const char *name) {
        return xasprintf("%s/%s", pool, name);
}

/* Block i of the known pattern: a marker, the block number, filler. */
static void pattern_block(uint64_t i, uint8_t *b) {
        for (size_t k = 0; k < BLOCK; k += 64)
                snprintf((char *) b + k, 64, "GCPATTERN block %012ju fill ABCDEFGHIJKLMNOPQRSTUVWXYZ", (uintmax_t) i);
}

static void fill_pattern(const char *path, uint64_t size) {
        uint8_t b[BLOCK];
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        for (uint64_t i = 0; i < size / BLOCK; i++) {
                pattern_block(i, b);
                assert_int_equal(pwrite(fd, b, BLOCK, (off_t) (i * BLOCK)), BLOCK);
        }
        assert_int_equal(fsync(fd), 0);
        close(fd);
}

/* Our own read loop: how many blocks still hold the pattern (whole, or
 * just its marker), and how many are all zero. */
static void scan(const char *path, uint64_t size, uint64_t *ret_pattern, uint64_t *ret_zero) {
        uint8_t b[BLOCK], p[BLOCK], z[BLOCK] = {};
        uint64_t pat = 0, zero = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (uint64_t i = 0; i < size / BLOCK; i++) {
                assert_int_equal(pread(fd, b, BLOCK, (off_t) (i * BLOCK)), BLOCK);
                pattern_block(i, p);
                if (memcmp(b, p, BLOCK) == 0 || memmem(b, BLOCK, "GCPATTERN", 9))
                        pat++;
                if (memcmp(b, z, BLOCK) == 0)
                        zero++;
        }
        close(fd);
        *ret_pattern = pat;
        *ret_zero = zero;
}

static struct wipe_spec spec_for(const char *path, enum wipe_method m, const char *state) {
        return (struct wipe_spec) {
                .path = path,
                .pool_dir = pool,
                .size = VOL_SIZE,
                .format = "raw",
                .pool = "dir-pool",
                .name = "vol1.img",
                .uuid = "6f1c2a3b-0000-4000-8000-0000000000aa",
                .method = m,
                .state_path = state,
                .approval = "exit-request 42",
                .operator_name = "operator zhang",
                .host = "host-a",
        };
}

static int run_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_sh(const char *fmt, ...) {
        va_list ap;
        char *cmd;
        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        int r = system(cmd);
        free(cmd);
        return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static cJSON *state_read(const char *path) {
        cJSON *doc = NULL;
        struct gc_error err = {};
        if (json_parse_file(path, WIPE_STATE_MAX, &doc, &err) < 0)
                return NULL;
        return doc;
}

static void test_zero(void **s) {
        (void) s;
        _cleanup_free_ char *vol = pool_file("zero.img"), *st = pool_file("zero.state");
        struct wipe_spec spec = spec_for(vol, WIPE_ZERO, st);
        struct wipe_result res = {};
        struct gc_error err = {};
        uint64_t pat, zero;

        fill_pattern(vol, VOL_SIZE);
        scan(vol, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, VOL_SIZE / BLOCK);
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        scan(vol, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, 0);
        assert_int_equal(zero, VOL_SIZE / BLOCK);
        /* cmp against /dev/zero, byte for byte */
        assert_int_equal(run_sh("cmp -s -n %llu '%s' /dev/zero", VOL_SIZE, vol), 0);
        assert_true(res.direct_io);
        assert_false(res.resumed);
        assert_int_equal(res.bytes_written, VOL_SIZE);
        assert_int_equal(res.bytes_verified, VOL_SIZE);

        const cJSON *c = res.certificate;
        assert_non_null(c);
        assert_string_equal(str_at(c, "format"), WIPE_CERTIFICATE_FORMAT);
        assert_string_equal(str_at(json_get(c, "sanitization"), "category"), "Clear");
        assert_string_equal(str_at(json_get(c, "sanitization"), "pattern"), "zeros");
        assert_string_equal(str_at(json_get(c, "verification"), "method"), "full");
        assert_int_equal(int_at(json_get(c, "verification"), "blocks_checked", 0), VOL_SIZE / BLOCK);
        assert_string_equal(str_at(json_get(c, "verification"), "result"), "pass");
        assert_string_equal(str_at(json_get(c, "tool"), "name"), "gc-agent");
        assert_string_equal(str_at(json_get(c, "volume"), "uuid"), "6f1c2a3b-0000-4000-8000-0000000000aa");
        assert_string_equal(str_at(c, "operator"), "operator zhang");

        /* The same call again: the state says done, the certificate comes back. */
        struct wipe_result again = {};
        assert_int_equal(wipe_run(&spec, &again, &err), 0);
        assert_true(again.reused);
        assert_int_equal(again.bytes_written, 0);
        assert_true(cJSON_Compare(again.certificate, res.certificate, true));
        wipe_result_done(&again);
        wipe_result_done(&res);
        unlink(vol);
        unlink(st);
}

static void test_random_two_passes(void **s) {
        (void) s;
        _cleanup_free_ char *vol = pool_file("random.img"), *st = pool_file("random.state");
        struct wipe_spec spec = spec_for(vol, WIPE_RANDOM, st);
        struct wipe_result res = {};
        struct gc_error err = {};
        uint64_t pat, zero;

        spec.passes = 2;
        spec.checkpoint_bytes = 8 * 1024 * 1024;
        fill_pattern(vol, VOL_SIZE);
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        scan(vol, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, 0);
        assert_int_equal(zero, 0);
        assert_int_equal(res.bytes_written, 2 * VOL_SIZE);
        assert_int_equal(int_at(json_get(res.certificate, "sanitization"), "passes", 0), 2);
        assert_string_equal(str_at(json_get(res.certificate, "sanitization"), "pattern"), "aes-128-ctr keystream");

        /* The key left the state file with the end of the wipe. */
        _cleanup_(cJSON_Deletep) cJSON *state = state_read(st);
        assert_non_null(state);
        assert_string_equal(str_at(state, "phase"), "done");
        assert_null(json_get(state, "key"));
        assert_null(json_get(state, "iv"));
        wipe_result_done(&res);
        unlink(vol);
        unlink(st);
}

static void test_sampled(void **s) {
        (void) s;
        _cleanup_free_ char *vol = pool_file("sampled.img"), *st = pool_file("sampled.state");
        struct wipe_spec spec = spec_for(vol, WIPE_RANDOM, st);
        struct wipe_result res = {};
        struct gc_error err = {};

        spec.sample_blocks = 100;
        fill_pattern(vol, VOL_SIZE);
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        const cJSON *v = json_get(res.certificate, "verification");
        assert_string_equal(str_at(v, "method"), "sampled");
        assert_int_equal(int_at(v, "blocks_checked", 0), 100);
        assert_int_equal(res.bytes_verified, 100 * BLOCK);
        wipe_result_done(&res);
        unlink(vol);
        unlink(st);
}

#define TAMPER_OFFSET (40ull * 1024 * 1024 + 123)

static int tamper(const char *path, void *userdata) {
        (void) userdata;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        uint8_t x = 0x5a;
        if (pwrite(fd, &x, 1, TAMPER_OFFSET) != 1 || fsync(fd) < 0) {
                close(fd);
                return -EIO;
        }
        close(fd);
        return 0;
}

static void check_tamper_fails(enum wipe_method m) {
        _cleanup_free_ char *vol = pool_file("tamper.img"), *st = pool_file("tamper.state");
        struct wipe_spec spec = spec_for(vol, m, st);
        struct wipe_result res = { .certificate = NULL };
        struct gc_error err = {};
        char want[32];

        fill_pattern(vol, VOL_SIZE);
        spec.test_before_verify = tamper;
        assert_int_equal(wipe_run(&spec, &res, &err), -EIO);
        assert_null(res.certificate);
        assert_string_equal(err.code, "verify_mismatch");
        assert_string_equal(err.field, "verification");
        snprintf(want, sizeof want, "%llu", TAMPER_OFFSET);
        assert_string_equal(err.value, want);
        assert_non_null(strstr(err.message, want));

        /* The next call writes every pass again and succeeds. */
        spec.test_before_verify = NULL;
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        assert_int_equal(res.bytes_written, VOL_SIZE);
        assert_non_null(res.certificate);
        wipe_result_done(&res);
        unlink(vol);
        unlink(st);
}

static void test_tamper_zero(void **s) {
        (void) s;
        check_tamper_fails(WIPE_ZERO);
}

static void test_tamper_random(void **s) {
        (void) s;
        check_tamper_fails(WIPE_RANDOM);
}

struct progress_log {
        bool seen;
        uint64_t first_start, first_done, max_rate_calls;
        enum wipe_phase first_phase;
};

static void progress_cb(const struct wipe_progress *p, void *userdata) {
        struct progress_log *l = userdata;
        if (!l->seen) {
                l->seen = true;
                l->first_start = p->start;
                l->first_done = p->done;
                l->first_phase = p->phase;
        }
        l->max_rate_calls++;
}

static void test_resume_after_kill(void **s) {
        (void) s;
        _cleanup_free_ char *vol = pool_file("resume.img"), *st = pool_file("resume.state");
        struct wipe_spec spec = spec_for(vol, WIPE_RANDOM, st);
        struct wipe_result res = {};
        struct gc_error err = {};
        uint64_t pat, zero;

        fill_pattern(vol, VOL_SIZE);
        spec.checkpoint_bytes = 8 * 1024 * 1024;
        spec.test_throttle_bps = 16 * 1024 * 1024;      /* 4 s for the volume */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct wipe_result cr;
                _exit(wipe_run(&spec, &cr, NULL) < 0 ? 1 : 0);
        }
        /* Wait for a checkpoint past 16 MiB, then kill -9. */
        int64_t offset = 0;
        for (int i = 0; i < 400 && offset < 16 * 1024 * 1024; i++) {
                usleep(10000);
                _cleanup_(cJSON_Deletep) cJSON *state = state_read(st);
                offset = state ? int_at(state, "offset", 0) : 0;
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        _cleanup_(cJSON_Deletep) cJSON *state = state_read(st);
        assert_non_null(state);
        offset = int_at(state, "offset", 0);
        assert_true(offset >= 16 * 1024 * 1024 && offset < (int64_t) VOL_SIZE);
        assert_string_equal(str_at(state, "phase"), "write");
        assert_non_null(str_at(state, "key"));
        print_message("killed at checkpoint offset %jd of %llu\n", (intmax_t) offset, VOL_SIZE);

        struct progress_log log = {};
        spec.test_throttle_bps = 0;
        spec.progress = progress_cb;
        spec.userdata = &log;
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        assert_true(res.resumed);
        assert_int_equal(res.resumed_offset, (uint64_t) offset);
        assert_int_equal(res.resumed_pass, 1);
        assert_true(log.seen);
        assert_int_equal(log.first_phase, WIPE_PHASE_WRITE);
        assert_int_equal(log.first_start, (uint64_t) offset);   /* the pass did not restart from 0 */
        assert_int_equal(log.first_done, (uint64_t) offset);
        assert_int_equal(res.bytes_written, VOL_SIZE - (uint64_t) offset);
        assert_int_equal(res.bytes_verified, VOL_SIZE);         /* still the whole volume */
        scan(vol, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, 0);
        assert_int_equal(zero, 0);
        wipe_result_done(&res);
        unlink(vol);
        unlink(st);
}

static int cancel_before_verify(const char *path, void *userdata) {
        (void) path;
        (void) userdata;
        return -ECANCELED;
}

static void test_refusals(void **s) {
        (void) s;
        _cleanup_free_ char *vol = pool_file("ref.img"), *st = pool_file("ref.state"), *link = pool_file("link.img");
        _cleanup_free_ char *outside = xasprintf("%s/outside.img", dir);
        _cleanup_free_ char *via_link = pool_file("up/outside.img"), *up = pool_file("up");
        struct wipe_spec spec;
        struct wipe_result res = {};
        struct gc_error err = {};
        uint64_t pat, zero;

        fill_pattern(vol, VOL_SIZE);
        fill_pattern(outside, VOL_SIZE);

        /* A symbolic link in place of the volume. */
        assert_int_equal(symlink(vol, link), 0);
        spec = spec_for(link, WIPE_ZERO, st);
        assert_int_equal(wipe_run(&spec, &res, &err), -ELOOP);
        assert_string_equal(err.field, "path");
        assert_string_equal(err.code, "volume_symlink");

        /* A path outside the pool directory, directly and through a
         * directory link inside the pool. */
        spec = spec_for(outside, WIPE_ZERO, st);
        assert_int_equal(wipe_run(&spec, &res, &err), -EPERM);
        assert_string_equal(err.code, "outside_pool");
        assert_int_equal(symlink(dir, up), 0);
        spec = spec_for(via_link, WIPE_ZERO, st);
        assert_int_equal(wipe_run(&spec, &res, &err), -EPERM);
        assert_string_equal(err.code, "outside_pool");
        assert_non_null(strstr(err.message, "not under the pool directory"));

        /* A wrong size. */
        spec = spec_for(vol, WIPE_ZERO, st);
        spec.size = VOL_SIZE - BLOCK;
        assert_int_equal(wipe_run(&spec, &res, &err), -EINVAL);
        assert_string_equal(err.field, "size");

        /* crypto-erase of a raw volume; a qcow2 that is not one. */
        spec = spec_for(vol, WIPE_CRYPTO_ERASE, st);
        assert_int_equal(wipe_run(&spec, &res, &err), -EINVAL);
        assert_string_equal(err.field, "method");
        spec = spec_for(vol, WIPE_ZERO, st);
        spec.format = "qcow2";
        assert_int_equal(wipe_run(&spec, &res, &err), -EINVAL);
        assert_string_equal(err.field, "format");

        /* Nothing of the above wrote a byte. */
        scan(vol, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, VOL_SIZE / BLOCK);
        scan(outside, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, VOL_SIZE / BLOCK);
        assert_int_equal(access(st, F_OK), -1);

        /* A file replaced between checkpoint and resume: renamed away and
         * another put in its place (another inode), then deleted and
         * created again (the inode number may well be the same one; the
         * birth time differs). */
        _cleanup_free_ char *aside = pool_file("ref.aside");
        for (int round = 0; round < 2; round++) {
                struct stat before, after;
                spec = spec_for(vol, WIPE_ZERO, st);
                spec.test_before_verify = cancel_before_verify;
                assert_int_equal(wipe_run(&spec, &res, &err), -ECANCELED);
                assert_int_equal(access(st, F_OK), 0);
                assert_int_equal(stat(vol, &before), 0);
                if (round == 0)
                        assert_int_equal(rename(vol, aside), 0);
                else
                        assert_int_equal(unlink(vol), 0);
                fill_pattern(vol, VOL_SIZE);
                assert_int_equal(stat(vol, &after), 0);
                print_message("replaced by %s: inode %ju, now %ju\n", round == 0 ? "rename" : "unlink+create",
                              (uintmax_t) before.st_ino, (uintmax_t) after.st_ino);
                spec.test_before_verify = NULL;
                assert_int_equal(wipe_run(&spec, &res, &err), -ESTALE);
                assert_string_equal(err.code, "volume_replaced");
                assert_string_equal(err.field, "path");
                scan(vol, VOL_SIZE, &pat, &zero);
                assert_int_equal(pat, VOL_SIZE / BLOCK);
                assert_int_equal(unlink(st), 0);
                unlink(aside);
        }
        /* The same again without the replacement: resumes, verifies. */
        spec = spec_for(vol, WIPE_ZERO, st);
        spec.test_before_verify = cancel_before_verify;
        assert_int_equal(wipe_run(&spec, &res, &err), -ECANCELED);
        spec.test_before_verify = NULL;
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        assert_true(res.resumed);
        assert_int_equal(res.bytes_written, 0);
        assert_int_equal(res.bytes_verified, VOL_SIZE);
        wipe_result_done(&res);
        unlink(st);
        fill_pattern(vol, VOL_SIZE);

        /* The state file of another wipe. */
        _cleanup_free_ char *other = pool_file("other.img");
        fill_pattern(other, VOL_SIZE);
        spec = spec_for(vol, WIPE_ZERO, st);
        spec.test_before_verify = cancel_before_verify;
        assert_int_equal(wipe_run(&spec, &res, &err), -ECANCELED);
        spec = spec_for(other, WIPE_ZERO, st);
        assert_int_equal(wipe_run(&spec, &res, &err), -ESTALE);
        assert_string_equal(err.field, "state_path");

        unlink(st);
        unlink(vol);
        unlink(other);
        unlink(outside);
        unlink(link);
        unlink(up);
}

static bool have_prog(const char *name) {
        return run_sh("command -v %s >/dev/null 2>&1", name) == 0;
}

static void test_crypto_erase_luks(void **s) {
        (void) s;
        if (!have_prog("qemu-img")) {
                print_message("SKIP: qemu-img is not installed (package qemu-utils)\n");
                skip();
        }
        _cleanup_free_ char *vol = pool_file("luks.img"), *st = pool_file("luks.state");
        struct wipe_result res = {};
        struct gc_error err = {};
        struct stat sb;

        /* qemu-img times PBKDF2 by thread CPU time and gives up ("Unable
         * to get accurate CPU usage") when a round measures 0 ms: retry. */
        int made = -1;
        for (int i = 0; i < 5 && made != 0; i++)
                made = run_sh("qemu-img create -q -f luks --object secret,id=s0,data=x -o key-secret=s0 '%s' 16M",
                              vol);
        assert_int_equal(made, 0);
#define QEMU_INFO "qemu-img info --object secret,id=s0,data=x --image-opts " \
                  "driver=luks,key-secret=s0,file.filename='%s' >/dev/null 2>&1"
        assert_int_equal(run_sh(QEMU_INFO, vol), 0);
        assert_int_equal(stat(vol, &sb), 0);

        uint8_t hdr[WIPE_ALIGN];
        int fd = open(vol, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pread(fd, hdr, sizeof hdr, 0), sizeof hdr);
        uint64_t payload;
        assert_int_equal(wipe_luks_payload_offset(hdr, sizeof hdr, &payload), 0);
        assert_true(payload > 0 && payload < (uint64_t) sb.st_size);
        uint8_t *before = xmalloc(payload), *data_before = xmalloc(BLOCK);
        assert_int_equal(pread(fd, before, payload, 0), (ssize_t) payload);
        assert_int_equal(pread(fd, data_before, BLOCK, (off_t) payload), BLOCK);
        close(fd);
        print_message("LUKS payload offset %ju of %jd bytes\n", (uintmax_t) payload, (intmax_t) sb.st_size);

        struct wipe_spec spec = spec_for(vol, WIPE_CRYPTO_ERASE, st);
        spec.size = (uint64_t) sb.st_size;
        spec.format = "luks";
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        const cJSON *san = json_get(res.certificate, "sanitization");
        assert_string_equal(str_at(san, "category"), "Purge");
        assert_string_equal(str_at(san, "technique"), "cryptographic erase");
        assert_int_equal(int_at(json_get(san, "range"), "length", 0), (long) payload);
        assert_int_equal(res.bytes_written, payload);
        assert_int_equal(res.bytes_verified, payload);

        /* Not one block of the header and key slots holds its old bytes. */
        uint8_t *after = xmalloc(payload), *data_after = xmalloc(BLOCK);
        fd = open(vol, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pread(fd, after, payload, 0), (ssize_t) payload);
        assert_int_equal(pread(fd, data_after, BLOCK, (off_t) payload), BLOCK);
        close(fd);
        for (uint64_t off = 0; off < payload; off += BLOCK) {
                size_t n = payload - off < BLOCK ? payload - off : BLOCK;
                assert_true(memcmp(before + off, after + off, n) != 0);
        }
        assert_null(memmem(after, payload, "LUKS\xba\xbe", 6));
        /* The data area was left as ciphertext (Purge by the key). */
        assert_memory_equal(data_before, data_after, BLOCK);
        /* qemu can no longer open it with the secret. */
        assert_int_not_equal(run_sh(QEMU_INFO, vol), 0);

        free(before);
        free(after);
        free(data_before);
        free(data_after);
        wipe_result_done(&res);
        unlink(vol);
        unlink(st);
}

static void check_signature(enum gc_key_type type) {
        _cleanup_free_ char *vol = pool_file("sig.img"), *st = pool_file("sig.state");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL, *other = NULL;
        struct wipe_spec spec = spec_for(vol, WIPE_ZERO, st);
        struct wipe_result res = {};
        struct gc_error err = {};

        spec.size = 8 * 1024 * 1024;
        fill_pattern(vol, spec.size);
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        assert_int_equal(crypto_key_generate(type, &key), 0);
        assert_int_equal(crypto_key_generate(type, &other), 0);

        cJSON *cert = res.certificate;
        assert_int_equal(wipe_certificate_sign(cert, key, &err), 0);
        assert_string_equal(str_at(json_get(cert, "signature"), "key_type"), crypto_key_type_to_string(type));
        assert_int_equal(wipe_certificate_verify(cert, key, &err), 0);

        /* Printed and parsed back (as gcctl would receive it): still valid. */
        _cleanup_free_ char *text = cJSON_PrintUnformatted(cert);
        _cleanup_(cJSON_Deletep) cJSON *back = NULL;
        assert_int_equal(json_parse(text, strlen(text), &back, &err), 0);
        assert_int_equal(wipe_certificate_verify(back, key, &err), 0);

        /* Another key; a changed field. */
        assert_int_equal(wipe_certificate_verify(cert, other, &err), -EBADMSG);
        cJSON *volume = (cJSON *) json_get(back, "volume");
        cJSON_ReplaceItemInObjectCaseSensitive(volume, "size", cJSON_CreateNumber(1));
        assert_int_equal(wipe_certificate_verify(back, key, &err), -EBADMSG);
        assert_string_equal(err.code, "bad_signature");
        cJSON_ReplaceItemInObjectCaseSensitive(volume, "size", cJSON_CreateNumber((double) spec.size));
        assert_int_equal(wipe_certificate_verify(back, key, &err), 0);
        cJSON_ReplaceItemInObjectCaseSensitive(back, "operator", cJSON_CreateString("someone else"));
        assert_int_equal(wipe_certificate_verify(back, key, &err), -EBADMSG);

        wipe_result_done(&res);
        unlink(vol);
        unlink(st);
}

static void test_sign_sm2(void **s) {
        (void) s;
        check_signature(GC_KEY_SM2);
}

static void test_sign_ed25519(void **s) {
        (void) s;
        check_signature(GC_KEY_ED25519);
}

static char loopdev[64];

static void test_loop_device(void **s) {
        (void) s;
        if (geteuid() != 0) {
                print_message("SKIP: loop devices need root\n");
                skip();
        }
        if (!have_prog("losetup")) {
                print_message("SKIP: losetup is not installed (util-linux)\n");
                skip();
        }
        _cleanup_free_ char *backing = pool_file("loop.img"), *st = pool_file("loop.state");
        _cleanup_free_ char *out = pool_file("loop.dev");
        fill_pattern(backing, VOL_SIZE);
        if (run_sh("losetup -f --show --direct-io=on '%s' > '%s' 2>/dev/null", backing, out) != 0) {
                print_message("SKIP: no free loop device (losetup -f failed)\n");
                unlink(backing);
                skip();
        }
        FILE *f = fopen(out, "re");
        assert_non_null(f);
        assert_non_null(fgets(loopdev, sizeof loopdev, f));
        fclose(f);
        loopdev[strcspn(loopdev, "\n")] = 0;
        unlink(out);

        struct wipe_spec spec = spec_for(loopdev, WIPE_RANDOM, st);
        struct wipe_result res = {};
        struct gc_error err = {};
        uint64_t pat, zero;
        spec.pool_dir = "/dev";

        /* Held open exclusively elsewhere: refused. */
        int ex = open(loopdev, O_RDONLY | O_EXCL | O_CLOEXEC);
        assert_true(ex >= 0);
        assert_int_equal(wipe_run(&spec, &res, &err), -EBUSY);
        assert_string_equal(err.code, "volume_busy");
        close(ex);

        /* Outside its pool directory. */
        spec.pool_dir = pool;
        assert_int_equal(wipe_run(&spec, &res, &err), -EPERM);
        spec.pool_dir = "/dev";

        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        assert_true(res.direct_io);
        assert_string_equal(str_at(json_get(res.certificate, "volume"), "kind"), "block");
        assert_int_equal(res.bytes_verified, VOL_SIZE);
        wipe_result_done(&res);
        assert_int_equal(run_sh("losetup -d '%s'", loopdev), 0);
        loopdev[0] = 0;
        scan(backing, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, 0);
        assert_int_equal(zero, 0);
        unlink(backing);
        unlink(st);
}

/* wipe_spec.cancel: set from another thread (here: the progress callback),
 * the pass stops after the chunk in hand with a checkpoint; the next call
 * resumes there and still verifies the whole volume. */
static void cancel_on_progress(const struct wipe_progress *p, void *userdata) {
        atomic_bool *cancel = userdata;
        if (p->phase == WIPE_PHASE_WRITE && p->done >= WIPE_CHUNK)
                atomic_store(cancel, true);
}

static void test_cancel(void **s) {
        (void) s;
        _cleanup_free_ char *vol = pool_file("cancel.img"), *st = pool_file("cancel.state");
        struct wipe_spec spec = spec_for(vol, WIPE_RANDOM, st);
        struct wipe_result res = {};
        struct gc_error err = {};
        atomic_bool cancel;
        uint64_t pat, zero;

        atomic_init(&cancel, false);
        spec.cancel = &cancel;
        spec.progress = cancel_on_progress;
        spec.progress_ms = 1;
        spec.userdata = &cancel;
        fill_pattern(vol, VOL_SIZE);
        assert_int_equal(wipe_run(&spec, &res, &err), -ECANCELED);
        assert_string_equal(err.field, "cancel");
        _cleanup_(cJSON_Deletep) cJSON *state = state_read(st);
        assert_non_null(state);
        assert_string_equal(str_at(state, "phase"), "write");
        int64_t offset = int_at(state, "offset", 0);
        assert_true(offset >= (int64_t) WIPE_CHUNK && offset < (int64_t) VOL_SIZE);
        scan(vol, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, (VOL_SIZE - (uint64_t) offset) / BLOCK);

        atomic_store(&cancel, false);
        spec.progress = NULL;
        assert_int_equal(wipe_run(&spec, &res, &err), 0);
        assert_true(res.resumed);
        assert_int_equal(res.resumed_offset, (uint64_t) offset);
        assert_int_equal(res.bytes_written, VOL_SIZE - (uint64_t) offset);
        assert_int_equal(res.bytes_verified, VOL_SIZE);
        scan(vol, VOL_SIZE, &pat, &zero);
        assert_int_equal(pat, 0);
        wipe_result_done(&res);
        unlink(vol);
        unlink(st);
}

static int group_setup(void **s) {
        (void) s;
        const char *base = getenv("GC_WIPE_TEST_DIR") ?: "/var/tmp";
        snprintf(dir, sizeof dir, "%s/gc-wipe-test.XXXXXX", base);
        if (!mkdtemp(dir))
                return -1;
        snprintf(pool, sizeof pool, "%s/pool", dir);
        if (mkdir(pool, 0700) < 0)
                return -1;
        /* The tests assume O_DIRECT works here (it does on ext4/xfs, not on tmpfs). */
        _cleanup_free_ char *probe = pool_file("probe");
        int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
        if (fd < 0) {
                fprintf(stderr, "test-wipe: %s refuses O_DIRECT (%s); set GC_WIPE_TEST_DIR to a disk file system\n",
                        base, strerror(errno));
                unlink(probe);
                return -1;
        }
        close(fd);
        unlink(probe);
        return 0;
}

static int group_teardown(void **s) {
        (void) s;
        if (loopdev[0])
                (void) run_sh("losetup -d '%s'", loopdev);
        (void) run_sh("rm -rf '%s'", dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_zero),
                cmocka_unit_test(test_random_two_passes),
                cmocka_unit_test(test_sampled),
                cmocka_unit_test(test_tamper_zero),
                cmocka_unit_test(test_tamper_random),
                cmocka_unit_test(test_resume_after_kill),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_crypto_erase_luks),
                cmocka_unit_test(test_sign_sm2),
                cmocka_unit_test(test_sign_ed25519),
                cmocka_unit_test(test_loop_device),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
