/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical JSON, RFC 8785 (JCS): object members sorted by the UTF-16 code
 * units of their names, no insignificant white space, strings escaped as
 * ECMAScript's JSON.stringify does, numbers as ECMAScript's
 * Number.prototype.toString. Every signature and hash in govcloud covers
 * these bytes.
 */
#pragma once

#include <stddef.h>

#include <cJSON.h>

#include "buf.h"
#include "gc/error.h"

#define JCS_NUMBER_MAX 32

/* The ECMAScript rendering of a finite double: "1e+21", "0.000001", "-0" is "0".
 * -EDOM for NaN and infinities. */
int jcs_format_number(double d, char buf[JCS_NUMBER_MAX]);

/* Append the canonical bytes of v. -EINVAL for what JSON cannot carry
 * (non-finite numbers, invalid UTF-8), -ENOBUFS past the buffer's cap. */
int jcs_serialize(const cJSON *v, struct gc_buf *out);

/* Parse strictly (json_parse) and serialize. */
int jcs_canonicalize(const char *text, size_t len, char **ret, size_t *ret_len, struct gc_error *err);
