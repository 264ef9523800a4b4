/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A validator for the subset of JSON Schema (2020-12) that govcloud's own
 * schemas use. A schema that uses any other keyword is refused at load, so
 * a constraint is never silently ignored.
 *
 * Assertions: type, enum, const, properties, required, additionalProperties,
 * items, minItems, maxItems, uniqueItems, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum, minLength, maxLength (code points),
 * pattern (POSIX extended, unanchored as in JSON Schema), $ref ("#/$defs/x").
 * Annotations (ignored by validation, read by tools): $schema, $id, $defs,
 * $comment, title, description, default, examples, and govcloud's own
 * x-null (what null means for the field) and x-rule (its RULES.md id).
 */
#pragma once

#include <stddef.h>

#include <cJSON.h>

#include "gc/error.h"

struct schema;

struct schema_issue {
        char *path;             /* JSON path of the instance: "$.trial.max" */
        char *message;          /* "is 0, below the minimum 1" */
};

struct schema_issues {
        struct schema_issue *v;
        size_t n;
};

int schema_load(const char *text, size_t len, struct schema **ret, struct gc_error *err);
void schema_free(struct schema *s);

/* Collects every violation (not just the first); returns their number. */
size_t schema_validate(const struct schema *s, const cJSON *instance, struct schema_issues *ret);
/* Validate against the subschema at ref ("#/$defs/apply"); -ENOENT when
 * the schema has no such node, else the number of violations. */
int schema_validate_ref(const struct schema *s, const char *ref, const cJSON *instance, struct schema_issues *ret);
void schema_issues_free(struct schema_issues *issues);
/* Append an issue (for checks beyond the schema that report the same way). */
void schema_issues_add(struct schema_issues *issues, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

const cJSON *schema_root(const struct schema *s);
/* Follow a $ref (if any) to the node that holds the assertions. */
const cJSON *schema_resolve(const struct schema *s, const cJSON *node);
/* The subschema of key in an object described by node; NULL if none. */
const cJSON *schema_property(const struct schema *s, const cJSON *node, const char *key);
/* The subschema of an array's items; NULL if none. */
const cJSON *schema_items(const struct schema *s, const cJSON *node);
/* A string annotation of node, looked up on node first, then on its $ref target. */
const char *schema_annotation(const struct schema *s, const cJSON *node, const char *keyword);
