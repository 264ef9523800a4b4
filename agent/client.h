/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS to the orchestrator over libcurl: TLS 1.3 only, the host's client
 * certificate, the orchestrator checked against the CA. One easy handle is
 * reused, so that consecutive calls share a kept-alive connection. Answers
 * are read into a capped buffer and parsed strictly (json_parse).
 *
 * A call that gets no answer fails; the caller waits client_backoff()
 * (1 s, doubling to 30 s) and tries again. The link's state is logged once
 * per change ("unreachable: ...", "reachable again"), not on every attempt.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#define CLIENT_BODY_MAX (8u * 1024 * 1024)
#define CLIENT_CONNECT_TIMEOUT_S 10L
#define CLIENT_BACKOFF_INITIAL_S 1u
#define CLIENT_BACKOFF_MAX_S 30u

struct client;

/* url: https://HOST[:PORT][/PREFIX] (-EPROTONOSUPPORT otherwise). stop, when
 * not NULL, is a flag (set by a signal handler) that ends interruptible calls
 * and backoff waits early. Nothing is sent before the first call. */
int client_new(const char *url, const char *cert, const char *key, const char *ca,
               const volatile sig_atomic_t *stop, struct client **ret);
void client_free(struct client *c);
static inline void client_freep(struct client **c) {
        client_free(*c);
}

/*
 * Send method to path ("/v1/agent/jobs?wait=25"); body (may be NULL) goes as
 * application/json. timeout_s bounds the whole exchange. When interruptible,
 * the stop flag aborts the call (-ECANCELED) within about a second.
 *
 * Any HTTP answer is a success: its status in *ret_status, its body parsed in
 * *ret_json (NULL when empty, or when an error status came with a body that
 * is not JSON). Fails when no answer came (-ECONNREFUSED, -EHOSTUNREACH,
 * -ETIMEDOUT, -EPROTO for TLS and certificate failures, -EIO), when the body
 * is larger than CLIENT_BODY_MAX (-EFBIG) or a 2xx body is not strict JSON
 * (-EBADMSG); client_error() then says why.
 */
int client_request(struct client *c, const char *method, const char *path, const cJSON *body, long timeout_s,
                   bool interruptible, long *ret_status, cJSON **ret_json);

/* Why the last call failed: "URL: message". */
const char *client_error(const struct client *c);

/* Sleep the current backoff, then double it (up to CLIENT_BACKOFF_MAX_S).
 * -ECANCELED when the stop flag ended the wait. */
int client_backoff(struct client *c);
/* After a successful exchange: the next backoff is CLIENT_BACKOFF_INITIAL_S. */
void client_backoff_reset(struct client *c);
/* The wait the next client_backoff() would take, in seconds. */
unsigned client_backoff_next(const struct client *c);
