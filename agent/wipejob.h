/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm.wipe jobs in threads of their own (R-EX2, R-EX3; include/gc/wire.h,
 * "Reclaim"). jobs.c checks a job in the main thread (the domain shut off;
 * every volume in the managed pool, attached to no running domain, and
 * found where wipe.h will look) and hands it here with its volumes. One
 * thread per job wipes them one after the other with wipe_run (agent/wipe.h),
 * signs each certificate with the host's wipe key and builds the job's
 * result entry; the main thread takes it (wipejobs_take), journals it and
 * posts it. Meanwhile the agent keeps polling, and posts the progress
 * (wipejobs_progress) every few seconds.
 *
 * Per volume:
 *   state file  STATE_DIR/UUID-DISK.json (wipe.h's checkpoint): a wipe cut
 *               by a stop or a restart resumes from it when the job comes
 *               again (the verification still reads the whole range); one
 *               that holds another wipe of the volume (another method or
 *               number of passes) is removed and the wipe starts over
 *   method      zero, random; crypto-erase on a volume in LUKS format is
 *               WIPE_CRYPTO_ERASE, then the volume's libvirt secret is
 *               undefined and the certificate's sanitization.key_destruction
 *               says so: {"libvirt_secret": UUID, "action": "undefined" (or
 *               "already undefined", when a resumed job finds it gone),
 *               "header": "..."}; crypto-erase on any other volume is
 *               WIPE_RANDOM, and its VOLWIPE says "fallback": "not encrypted"
 *   VOLWIPE     {"disk", "path", "pool", "certificate": signed (wipecert.h)
 *                [, "fallback"] [, "resumed": {"pass", "offset"}: where this
 *                run took the wipe up, when past the start]}
 *
 * The result entry:
 *   {"job", "ok": true, "wipe": {"uuid", "volumes": [VOLWIPE, ...]}}
 *   {"job", "ok": false, "error", "wipe": {"uuid", ["refused": {"field",
 *    "value", "reason"},] "volumes": [VOLWIPE of those done]}}
 * wipe.h's own refusals (a symbolic link in the volume's place, a path
 * outside the pool's directory, another size or another file than before,
 * a volume in use) are "refused" with the field under "volumes[I]."; a
 * failed verification, an I/O error or a secret that cannot be undefined
 * is an "error" alone, and that volume has no certificate. A job stopped
 * (wipejobs_stop) has no result: the orchestrator sends it again after
 * the restart.
 *
 * Progress, for POST /v1/agent/wipe-progress: the latest of each volume
 * whose wipe has begun, once per change: {"job", "uuid", "disk", "path",
 * "size", "phase": "write" | "verify" | "done" | "failed", "pass",
 * "passes", "done", "total", "rate", "time": Unix ms on the orchestrator's
 * clock}.
 *
 * Every function here is for the agent's main thread; the threads share
 * with it only what a mutex guards (their progress and their end).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "gc/error.h"
#include "hv.h"
#include "wipe.h"

#define WIPEJOB_FALLBACK_NOT_ENCRYPTED "not encrypted"
#define WIPEJOB_PASSES_MAX 7            /* WIPESPEC: 1..7 */
#define WIPEJOB_CORRUPT_OFFSET 100      /* --unsafe-test-wipe-corrupt flips the byte here */

struct wipejob_config {
        EVP_PKEY *key;                  /* signs the certificates (a reference is taken); NULL: none */
        const char *state_dir;          /* made (0700) if missing */
        const char *host;               /* in the certificates; NULL: gethostname() */
        const struct hv_ops *ops;       /* for undefining the secrets of crypto-erased volumes */
        struct hv *hv;
        /* Tests only (gc-agent --unsafe-test-wipe-*): at most this many
         * bytes/s, with a checkpoint after every WIPE_CHUNK so that a kill
         * lands between two; and one byte flipped between the last pass and
         * the verification (at WIPEJOB_CORRUPT_OFFSET), which must then fail. */
        uint64_t test_throttle_bps;
        bool test_corrupt;
};

/* A WIPESPEC, parsed (jobs_wipe_spec_parse). */
struct wipejob_spec {
        char uuid[HV_UUID_LEN + 1];
        enum wipe_method method;
        unsigned passes;                /* 1..WIPEJOB_PASSES_MAX */
        uint64_t sample_blocks;         /* 0: full verification */
        char *approval;                 /* R-AU3 */
        char *operator_name;
};

void wipejob_spec_done(struct wipejob_spec *s);

struct wipejobs;

int wipejobs_new(const struct wipejob_config *cfg, struct wipejobs **ret);
/* Stops what runs (wipejobs_stop) and frees; results not taken are lost. */
void wipejobs_free(struct wipejobs *w);
static inline void wipejobs_freep(struct wipejobs **w) {
        wipejobs_free(*w);
}

bool wipejobs_have_key(const struct wipejobs *w);
/* The host name the next jobs' certificates carry (the hello's). */
void wipejobs_set_host(struct wipejobs *w, const char *host);
/* A job this module holds (running, or ended and not taken). */
bool wipejobs_known(struct wipejobs *w, int64_t job);
/* The job wiping the domain uuid now, or 0. */
int64_t wipejobs_busy(struct wipejobs *w, const char *uuid);
/* Jobs whose thread has not ended. */
size_t wipejobs_running(struct wipejobs *w);

/* Start job's thread on the volumes, which the module takes (with the
 * spec's strings) whatever the outcome. */
int wipejobs_start(struct wipejobs *w, int64_t job, struct wipejob_spec *spec, struct hv_volume *volumes, size_t n);

/* One job whose thread has ended, oldest first: 1 and its result entry, 0
 * when none has. */
int wipejobs_take(struct wipejobs *w, int64_t *ret_job, char ret_uuid[static HV_UUID_LEN + 1], cJSON **ret_result);

/* The progress entries changed since the last call (an array), or NULL
 * when none has. offset_s: the orchestrator's clock minus this host's. */
cJSON *wipejobs_progress(struct wipejobs *w, int64_t offset_s);

/* Tell every thread to stop (each checkpoints: wipe.h's cancel) and wait
 * for them; jobs that ended before keep their results. */
void wipejobs_stop(struct wipejobs *w);

/* Remove the domain's state files (its volumes are gone): -EBUSY while a
 * job wipes it. */
int wipejobs_forget(struct wipejobs *w, const char *uuid);

/* STATE_DIR/UUID-DISK.json; disk characters other than [A-Za-z0-9_-] as '_'. */
char *wipejobs_state_path(const struct wipejobs *w, const char *uuid, const char *disk);
