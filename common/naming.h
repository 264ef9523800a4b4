/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The naming rule (R-NM1, R-NM2): the unit's full name, the system's name
 * as in its feasibility report, and the VM name
 *
 *     unit + system + role + number       市xx局协同办公OA应用服务器1
 *
 * with no separator, unique within a resource pool. Strings are UTF-8.
 *
 * Refusals return -EINVAL (-EEXIST from naming_check_unique) and fill err:
 * field "unit", "system", "role", "number" or "name", the value (control
 * characters written as \uXXXX; empty where the input is not UTF-8), and
 * rule R-NM1 for the unit's and the system's names, R-NM2 for the rest.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gc/error.h"

#define NAMING_NAME_MAX 512     /* bytes of a whole VM name */

struct naming_policy {
        /* true where the pack sets the rule "unit+system+role+number";
         * false (pack null): names are free text, still valid and unique. */
        bool vm_name_rule;
        /* R-NM3: labels updated within this many working days; -1 = not regulated. */
        long relabel_working_days;
};

struct naming_parts {
        const char *unit;       /* R-NM1: the unit's full name */
        const char *system;     /* R-NM1: the system's name as in its feasibility report */
        const char *role;       /* the VM's role: 应用服务器 */
        unsigned number;        /* 1, 2, ...: the number within the role */
};

/* A part: valid UTF-8, not empty, at most NAMING_NAME_MAX bytes, no control
 * characters (C0, DEL, C1, U+2028/U+2029 and the bidirectional controls
 * U+200E/F, U+202A..E, U+2066..9), no leading or trailing white space
 * (Unicode White_Space, the ideographic space U+3000 among them, and the
 * invisible U+200B and U+FEFF). field names the part in err ("unit"); its
 * last path component picks the rule (unit, system: R-NM1; else R-NM2). */
int naming_check_part(const char *part, const char *field, struct gc_error *err);

/* Build the VM name from its parts (R-NM2): number >= 1, a role that does
 * not end in a digit (ASCII or full-width), at most NAMING_NAME_MAX bytes. */
int naming_build(const struct naming_parts *parts, char **ret_name, struct gc_error *err);

/* Check that name is unit + system + role + number for the given unit and
 * system (R-NM2), and hand out role and number. The role must not end in a
 * digit (the number would be ambiguous) and the number has no leading zero.
 * The number is the run of ASCII digits at the end, 1..UINT_MAX. ret_role
 * (the caller frees it) and ret_number may be NULL. Errors against the name
 * carry field "name"; unit and system are checked as parts too. */
int naming_check(const char *name, const char *unit, const char *system,
                 char **ret_role, unsigned *ret_number, struct gc_error *err);

/* R-NM2: the name is not among the n names already used in the pool
 * (byte for byte; NULL entries are skipped). -EEXIST when it is. */
int naming_check_unique(const char *name, const char *const *pool_names, size_t n, struct gc_error *err);
