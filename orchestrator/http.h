/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

struct orch;

/* Listen on the configured address; o->bound_port is the port in use. */
int http_start(struct orch *o);
void http_stop(struct orch *o);
