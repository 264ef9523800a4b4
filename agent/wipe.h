/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wipe engine: destroys the data of one volume so that it cannot be
 * recovered, verifies that, and describes what was done in a certificate
 * of sanitization after NIST SP 800-88 Rev. 1, Appendix G (R-EX3).
 *
 * Methods (NIST category in brackets):
 *   WIPE_ZERO          zeros over the whole volume                   [Clear]
 *   WIPE_RANDOM        an AES-128-CTR keystream (OpenSSL EVP) over
 *                      the whole volume; key and IV are random, kept
 *                      in the state file while the wipe runs so that a
 *                      resumed pass continues the same stream and the
 *                      verification regenerates it; erased from the
 *                      state when the wipe ends                      [Clear]
 *   WIPE_CRYPTO_ERASE  a volume in qemu's LUKS format (format "luks"):
 *                      the LUKS header and the whole key-slot area, up
 *                      to the payload offset the header gives, are
 *                      overwritten with the keystream and verified. The
 *                      caller destroys the libvirt secret that held the
 *                      passphrase; the data area is left as ciphertext
 *                      without a key                                 [Purge]
 * passes > 1 overwrites that many times (a fresh key per random pass);
 * only the last pass is verified. Zero and random destroy a qcow2 or LUKS
 * header too: the volume is for deleting afterwards.
 *
 * Safety, all checked before a byte is written; a refusal fills err
 * (field, value, reason) and returns a negative errno:
 *   - the path is opened with O_NOFOLLOW (a symbolic link in its place is
 *     refused: -ELOOP) after an lstat() that must show a regular file or a
 *     block device (-EINVAL otherwise), and the opened file must be the
 *     one lstat() saw;
 *   - the opened file's real path (/proc/self/fd) lies under the real path
 *     of pool_dir (-EPERM);
 *   - its size (st_size, or BLKGETSIZE64 for a block device) is the
 *     expected one (-EINVAL); for a fresh wipe of a "qcow2" or "luks"
 *     volume its first bytes carry that format's magic (-EINVAL);
 *   - a block device is opened with O_EXCL: one that is mounted or held
 *     open exclusively elsewhere is refused (-EBUSY); any volume is
 *     flock()ed so that two wipes never run on it at once (-EBUSY);
 *   - the identity (device, inode, and the birth time where the file
 *     system records one, since a freed inode number is soon reused) and
 *     the size are checked again after each pass and after the
 *     verification (statx of the descriptor and of the path: -ESTALE if
 *     the path now names another file) and, before a resume, against the
 *     state file (-ESTALE).
 * NOT checked here: that no running domain has the volume attached. That
 * is the caller's check, through libvirt, before wipe_run (R-EX3, issue 8).
 *
 * Writing: WIPE_CHUNK-byte pwrite()s from a buffer aligned to
 * WIPE_ALIGN, opened with O_DIRECT; where the file system refuses O_DIRECT
 * (tmpfs), buffered writes are used instead and result.direct_io is false.
 * fdatasync() at every checkpoint and at the end of each pass. A tail
 * shorter than WIPE_ALIGN is written with O_DIRECT cleared.
 *
 * The state file (JSON, replaced atomically: write, fsync, rename, fsync
 * of the directory; mode 0600; one per volume, chosen by the caller):
 *   {"version":1, "path", "dev", "ino" (decimal strings), "btime", "size",
 *    "end": where the range written ends,
 *    "method", "passes", "phase":"write"|"verify"|"done",
 *    "pass", "offset": bytes of that pass on stable storage,
 *    "key", "iv": hex, random method or crypto-erase only, not when done,
 *    "started": RFC 3339, "direct_io", "failed_verifications",
 *    "certificate": when done}
 * It is written before the first byte of each pass (with the pass's key),
 * every checkpoint_bytes (after fdatasync) and at the end. A call whose
 * state file holds a wipe of the same path, method, passes and size
 * resumes it: identity checked, then the pass continues from "offset";
 * in phase "verify" the verification starts again; in phase "done" the
 * stored certificate is returned (result.reused) and nothing is written.
 * A state file of another wipe is refused (-ESTALE, field "state"); the
 * caller removes it if it means to start over. A failed verification
 * sets the state back to pass 0, offset 0 without a key: the next call
 * writes every pass again.
 *
 * Verification after the last pass, with O_DIRECT reads where possible:
 * the whole written range is read back and compared with zeros or the
 * regenerated keystream (sample_blocks 0), or sample_blocks random
 * WIPE_ALIGN blocks of it. A crypto-erase always reads back the whole
 * header area. A mismatch fails the wipe (-EIO, field "verification",
 * the offset in the message) and no certificate is made.
 *
 * The certificate (a cJSON object, unsigned, in result.certificate):
 *   {"format":"gc-wipe-certificate/1",
 *    "volume":{"pool","pool_dir","path","name","uuid","size","format",
 *              "kind":"file"|"block"},
 *    "sanitization":{"method":"zero"|"random"|"crypto-erase",
 *                    "category":"Clear"|"Purge",
 *                    "technique":"overwrite"|"cryptographic erase",
 *                    "pattern":"zeros"|"aes-128-ctr keystream",
 *                    "passes", "range":{"offset","length"}, "direct_io",
 *                    "key_destruction": crypto-erase only},
 *    "verification":{"method":"full"|"sampled","block_size","blocks_checked",
 *                    "bytes_checked","result":"pass"},
 *    "started","ended": RFC 3339 UTC,
 *    "host", "tool":{"name":"gc-agent","version"},
 *    "approval", "operator"}
 * wipe_certificate_sign adds
 *    "signature":{"key_type":"sm2"|"ed25519","fingerprint","public_key":PEM,
 *                 "value":base64}
 * over the canonical bytes (RFC 8785, common/jcs.h) of the certificate
 * without "signature"; SM2 with SM3 and the GM/T 0009 id, Ed25519 pure
 * (common/crypto.h).
 *
 * Not thread-safe across calls on one volume (the flock refuses the
 * second); separate volumes may be wiped in separate threads.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "gc/error.h"
#include "wipecert.h"         /* signing and verifying the certificate */

#define WIPE_CHUNK (4u * 1024 * 1024)
#define WIPE_ALIGN 4096u
#define WIPE_CHECKPOINT_DEFAULT (256ull * 1024 * 1024)
#define WIPE_PROGRESS_MS_DEFAULT 1000u
#define WIPE_PASSES_MAX 16u
#define WIPE_STATE_MAX (1024 * 1024)

enum wipe_method {
        WIPE_ZERO,
        WIPE_RANDOM,
        WIPE_CRYPTO_ERASE,
};

/* "zero" / "random" / "crypto-erase" */
const char *wipe_method_to_string(enum wipe_method m);
int wipe_method_from_string(const char *s, enum wipe_method *ret);

enum wipe_phase {
        WIPE_PHASE_WRITE,
        WIPE_PHASE_VERIFY,
};

struct wipe_progress {
        enum wipe_phase phase;
        unsigned pass, passes;          /* pass counts from 1 */
        uint64_t done, total;           /* bytes of this pass or of the verification */
        uint64_t start;                 /* where this call's pass began (> 0 after a resume) */
        double rate;                    /* bytes/s over this call's writing or reading so far */
};

struct wipe_spec {
        /* The volume: the path libvirt names and what it must be. */
        const char *path;
        const char *pool_dir;           /* the path must lie under it (real paths) */
        uint64_t size;                  /* bytes, exactly */
        const char *format;             /* "raw", "qcow2", "luks" */
        const char *pool, *name, *uuid; /* for the certificate; may be NULL */

        enum wipe_method method;
        unsigned passes;                /* 0 means 1; at most WIPE_PASSES_MAX */
        uint64_t sample_blocks;         /* 0: full read-back; K: K random blocks */

        const char *state_path;         /* checkpoint file, required */
        uint64_t checkpoint_bytes;      /* 0: WIPE_CHECKPOINT_DEFAULT; rounded up to WIPE_CHUNK */

        /* For the certificate (R-AU3: a person and an approval). */
        const char *approval, *operator_name;
        const char *host;               /* NULL: gethostname() */

        /* Called at most every progress_ms (0: WIPE_PROGRESS_MS_DEFAULT),
         * and once at the start and the end of each pass and of the
         * verification. */
        void (*progress)(const struct wipe_progress *p, void *userdata);
        unsigned progress_ms;
        void *userdata;

        /* Set (by another thread) to stop the wipe: a pass stops after the
         * chunk in hand with a checkpoint in the state file, a verification
         * at once (it starts again on resume); -ECANCELED, field "cancel".
         * NULL: never. */
        const atomic_bool *cancel;

        /* Tests only: at most this many bytes/s written (0: no limit), and
         * a hook between the last pass and the verification (a negative
         * return aborts the wipe with it). */
        uint64_t test_throttle_bps;
        int (*test_before_verify)(const char *path, void *userdata);
};

struct wipe_result {
        cJSON *certificate;             /* owned; NULL on failure */
        bool direct_io;                 /* false: O_DIRECT refused, buffered + fdatasync */
        bool resumed;                   /* continued from a state file */
        unsigned resumed_pass;          /* from 1 */
        uint64_t resumed_offset;
        bool reused;                    /* the state said done: its certificate, nothing written */
        uint64_t bytes_written, bytes_verified;
};

/* Wipe, verify, certify (above). *ret is written on success only;
 * free it with wipe_result_done. */
int wipe_run(const struct wipe_spec *spec, struct wipe_result *ret, struct gc_error *err);
void wipe_result_done(struct wipe_result *r);

/* The payload offset of a qemu LUKS (v1) header in its first 592 bytes:
 * where the data begins, in bytes. -EINVAL if it is not a LUKS header. */
int wipe_luks_payload_offset(const uint8_t *header, size_t len, uint64_t *ret);
