/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the shipped plugins share: the one-line reason of include/gc/plugin.h
 * and their "config" object, parsed strictly (common/json.h) with unknown
 * keys refused, so that a misspelt option never passes silently.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/* Write a one-line reason (reason may be NULL or size 0: nothing happens). */
void options_reason(char *reason, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse config_json (NULL means "{}") into an object whose member names are
 * all in known (NULL-terminated). -EINVAL with a reason naming the place or
 * the unknown key. */
int options_parse(const char *config_json, const char *const *known, cJSON **ret,
                 char *reason, size_t reason_size);

/* Optional members. 0 when missing (*ret untouched), 1 when present and
 * valid, -EINVAL with a reason when of the wrong type or out of range.
 * Strings must be non-empty and free of control characters. */
int options_string(const cJSON *config, const char *key, const char **ret, char *reason, size_t reason_size);
int options_int(const cJSON *config, const char *key, int64_t min, int64_t max, int64_t *ret,
               char *reason, size_t reason_size);
int options_bool(const cJSON *config, const char *key, bool *ret, char *reason, size_t reason_size);
