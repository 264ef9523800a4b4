/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations tunnels (R-OP1..R-OP4; DESIGN.md "Tunnels"; the agent's side
 * and the channel are in include/gc/wire.h and agent/tunnel.h).
 *
 * Remote operations are off unless a tunnel is approved (R-OP4). POST
 * /v1/tunnels takes an approved request like every other (the envelope is
 * intake's), then checks, first failure the answer, each a refusal with
 * field, value and rule and one audit record:
 *   - the owning unit's internal approval, where the pack requires it (R-OP1)
 *   - the operator's real-name registration: an identity card number with
 *     its check digit, and a TLS client certificate issued by the platform's
 *     CA with OU=operator and CN = the operator's name (R-OP1)
 *   - the length: at most the pack's max_minutes (the platform's configured
 *     maximum where the pack sets none); longer only with the security
 *     authority's approval where the pack allows it (R-OP1, R-OP2)
 *   - the system exists, belongs to the unit and is running; the VM is the
 *     system's, running, with an address in its VPC and a host
 * The accepted tunnel is stored with the token's hash only; the answer
 * carries the token once. The VM's host gets a tunnel.open job; its result
 * and the agent's events (refusals, the session, the close with bytes each
 * way) move the tunnel's state and are each an audit record (R-OP3).
 *
 * States: opening -> open -> in_session -> closed, or failed when the host
 * could not open the listener.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

struct orch;
struct api_call;

/* The result of a tunnel.open / tunnel.close job, inside agent_results'
 * transaction; appends its audit record. */
int tunnels_job_result(struct api_call *c, int64_t job, const char *kind, int64_t tunnel_id, bool ok, const cJSON *res);

/* Route handlers. */
void post_tunnels(struct api_call *c);
void get_tunnels(struct api_call *c);
void get_tunnel(struct api_call *c);
void post_tunnel_close(struct api_call *c);
void agent_tunnel_events(struct api_call *c);
