/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delivering events to the notifier plugins, from a thread of its own so a
 * slow or dead receiver never holds up a request.
 *
 * The events are derived from the audit chain (request.accepted gives
 * request.accepted and stage.reached; request.refused gives
 * request.refused; system.stage gives stage.reached; exit.reclaim_ordered
 * gives exit.reclaim_ordered, the tenant's notification of an authority
 * order, R-EX3): a refusal thus changes nothing but its audit record,
 * and nothing committed is lost to a crash. Each notifier has a cursor in
 * the store (the last audit seq it received); a failed delivery is retried
 * with exponential backoff (notify.retry_initial_ms doubling up to
 * notify.retry_max_ms), in order. Delivery is at least once: receivers
 * deduplicate on the event's id.
 */
#pragma once

struct orch;
struct notify;

int notify_start(struct orch *o, struct notify **ret);
void notify_kick(struct notify *n);
void notify_stop(struct notify *n);     /* joins the thread */
