/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations tunnels on this host (R-OP1..R-OP4; the protocol and the
 * events are in include/gc/wire.h, "Tunnels").
 *
 * Nothing listens here unless the orchestrator sent an approved tunnel.open
 * (R-OP4). Each tunnel is one thread: a TLS 1.3 listener (OpenSSL, the
 * host's certificate, the client's asked for and checked against the CA)
 * on the host's operations address, for that tunnel only, until its
 * deadline; each accepted connection is a thread of its own, so that a
 * slow one never holds up the listener or the session. The
 * first connection that presents the operator's certificate and the token
 * dials the VM's address from the VPC's router namespace (setns on the
 * thread, agent/net.h's name); once the target answers, the token is
 * consumed (written to the state file before the first byte: single use,
 * R-OP2) and bytes are forwarded both ways. Any other connection is
 * refused with its reason. At the deadline the session is cut and the listener closed,
 * whatever the orchestrator's state: the deadline is kept on this host's
 * clock (CLOCK_REALTIME converted with the hello's offset, bounded by
 * receipt + the approved seconds). The offset is taken when the tunnel
 * starts and kept with it; event times use it too.
 *
 * Every refusal, the session and the close are events (R-OP3), kept in the
 * state file until the orchestrator has them (tunnels_events /
 * tunnels_events_posted). Checks, in this order, each with its refusal
 * code: a certificate at all (no_certificate); the chain verifies, OU is
 * "operator" and the SHA-256 of the DER is the spec's (wrong_operator);
 * the line parses (bad_preamble); its tunnel id (wrong_tunnel); no session
 * live, claimed or had (in_use); the token's hash (wrong_token); then the
 * target is dialled (target_unreachable: the token stays good). A TLS
 * handshake that fails or does not finish within TUNNEL_HANDSHAKE_SECONDS
 * is "handshake". Not events: connections dropped still in their handshake
 * because the tunnel ended, and connections beyond 32 at once on one
 * tunnel (closed at accept, logged). One refusal code beyond wire.h's:
 * "agent_error", when the state file cannot be written at the moment the
 * token would be consumed (the session is not opened, the token stays
 * good).
 *
 * Closed reasons: client_closed / target_closed (both directions ended;
 * whichever side ended first, or the side that failed), deadline, revoked,
 * agent_stopped (tunnels_close during a session), expired_unused,
 * agent_restarted, listener_lost.
 *
 * The state file (JSON, replaced atomically: write, fsync, rename, fsync
 * of the directory; written lazily, no file until a tunnel exists):
 *   {"version": 1,
 *    "tunnels": [{"spec": TUNNELSPEC, "deadline_ms": local CLOCK_REALTIME,
 *                 "offset_ms", "port", "consumed", "closed", "seq": the last
 *                 event's, "opened", "first_byte", "bytes_in", "bytes_out"}],
 *    "events": [EVENT, ...]}          unposted, oldest first
 * A closed tunnel whose events are all posted stays (a tombstone) until
 * both its deadlines have passed, so that its id is never opened again.
 * At start (tunnels_open) a tunnel whose token was consumed and that is not
 * closed is closed ("agent_restarted": its session died with the old
 * process, whether or not its deadline has passed since; a tunnel is never
 * reopened; "first_byte" and the byte counts are what the state last held,
 * so they may fall short); an unused one whose deadline passed is closed without
 * listening ("expired_unused"); any other is listened for again on the
 * same port until its deadline ("listener_lost" if the port cannot be had).
 *
 * Thread safety: every function takes the module's lock; the main thread
 * calls them, the tunnel threads only append events and state.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"

struct net;

#define TUNNEL_DEFAULT_STATE "/var/lib/govcloud/tunnels.json"
#define TUNNEL_HANDSHAKE_SECONDS 10     /* a connection that has not sent its line by then is dropped */

struct tunnel_config {
        const char *cert, *key, *ca;    /* the agent's TLS files: it serves with its host certificate */
        const char *state;              /* TUNNEL_DEFAULT_STATE when NULL */
        uint16_t port_min, port_max;    /* 0, 0: any port the kernel gives */
        /* Where targets are dialled: the VPC's router namespace, or, with
         * net NULL (a host without a network section), this namespace. */
        struct net *net;
};

struct tunnels;

/* Load the state file and act on what it holds (above). */
int tunnels_open(const struct tunnel_config *cfg, struct tunnels **ret, struct gc_error *err);
/* Cut every session ("agent_stopped"), close listeners, join the threads,
 * write the state. An unused tunnel is not closed: the next tunnels_open
 * listens for it again until its deadline. NULL: nothing. */
void tunnels_close(struct tunnels *t);
static inline void tunnels_closep(struct tunnels **t) {
        tunnels_close(*t);
}

/* The orchestrator's clock minus this host's, in seconds (from hello). */
void tunnels_set_clock_offset(struct tunnels *t, int64_t offset_s);

/* tunnel.open: *ret is {"id", "address", "port", "deadline"} (the
 * effective deadline, on the orchestrator's clock, in seconds). Every
 * TUNNELSPEC field is checked (-EINVAL, err->field "tunnel.listen", ...).
 * The same id again returns the same listener (-EEXIST if the spec
 * differs); a tunnel past its deadline, already used or closed is refused
 * (-ESTALE, err says which) and never reopened. A listen address or port
 * range that cannot be bound: the bind's errno, err->field "tunnel.listen". */
int tunnels_start(struct tunnels *t, const cJSON *spec, cJSON **ret, struct gc_error *err);
/* tunnel.close: cut now, reason "revoked"; unknown or closed: 0. Returns
 * once the tunnel is closed and its "closed" event recorded. */
int tunnels_revoke(struct tunnels *t, int64_t id);

/* The unposted events, oldest first, as a new array (NULL: none). */
cJSON *tunnels_events(struct tunnels *t);
/* The orchestrator has every event up to and including the ones given
 * (the array tunnels_events returned): drop them; a closed tunnel whose
 * events are all posted leaves the state file once its deadline has
 * passed. */
int tunnels_events_posted(struct tunnels *t, const cJSON *events);

/* How many tunnels are listening or in session (for logs and --check-config). */
unsigned tunnels_live(struct tunnels *t);
