/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lifecycle of a business system (DESIGN.md, R-LC1):
 *
 *   registered -> requested -> provisioning -> trial -> awaiting_golive -> active
 *   active -> exit_requested -> draining -> wiping -> reclaimed
 *     (exit_requested: the grace period for migration, R-EX2; draining: the
 *     VMs are stopped; wiping: wipe, delete, release, the exit sheet)
 *   trial | active -> changing -> (back to where it came from)
 *   any running state -> suspended (R-SC3) -> back
 *
 * "registered" precedes the design's first stage: the authority registers
 * the system (MLPS level, agreement, R-SC1) before its application arrives.
 */
#pragma once

#include <stdbool.h>

bool lifecycle_state_valid(const char *state);
/* Is from -> to one of the legal transitions above? */
bool lifecycle_allowed(const char *from, const char *to);
/* The state a request of kind moves a system to ("apply" -> "requested"). */
const char *lifecycle_target(const char *kind);
/* The states a request of kind may start from, for messages: "trial or active". */
const char *lifecycle_sources(const char *kind);
