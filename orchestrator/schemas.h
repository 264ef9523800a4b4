/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON Schemas in orchestrator/schemas/ and the four shipped policy
 * packs, compiled into the program. The API validates bodies with the same
 * schema files that openapi.json references, so the document and the code
 * cannot drift apart.
 */
#pragma once

#include <stddef.h>

#include <cJSON.h>

#include "gc/error.h"
#include "schema.h"

enum orch_schema {
        ORCH_SCHEMA_REQUEST,            /* schemas/request.json */
        ORCH_SCHEMA_REGISTRATION,       /* schemas/registration.json */
        ORCH_SCHEMA_CONFIG,             /* schemas/config.json */
        ORCH_SCHEMA_AGENT,              /* schemas/agent.json */
        _ORCH_SCHEMA_MAX,
};

const struct schema *orch_schema(enum orch_schema which);
/* "request.json" etc.; NULL for an unknown name. */
int orch_schema_by_name(const char *file, enum orch_schema *ret);

/* Validate doc against the node at ref ("#/$defs/unit"; NULL: the root).
 * -EINVAL with err from the first violation: field is its JSON path
 * without "$." (prefix prepended when not NULL), value the value found
 * there, code as given, rule the node's x-rule where it has one. */
int orch_validate(enum orch_schema which, const char *ref, const cJSON *doc, const char *code,
                  struct gc_error *err);

/* A shipped pack's text by name ("baotou"); -ENOENT for another name. */
int orch_builtin_pack(const char *name, const char **ret_text, size_t *ret_len);
