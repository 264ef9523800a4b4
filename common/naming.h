/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The naming rule (R-NM1, R-NM2): the unit's full name, the system's name
 * as in its feasibility report, and the VM name
 *
 *     unit + system + role + number       市xx局协同办公OA应用服务器1
 *
 * with no separator, unique within a resource pool. Strings are UTF-8.
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

/* A part: valid UTF-8, not empty, no control characters, no leading or
 * trailing white space. field names the part in err ("unit"). */
int naming_check_part(const char *part, const char *field, struct gc_error *err);

/* Build the VM name from its parts (R-NM2). */
int naming_build(const struct naming_parts *parts, char **ret_name, struct gc_error *err);

/* Check that name is unit + system + role + number for the given unit and
 * system (R-NM2), and hand out role and number. The role must not end in a
 * digit (the number would be ambiguous) and the number has no leading zero. */
int naming_check(const char *name, const char *unit, const char *system,
                 char **ret_role, unsigned *ret_number, struct gc_error *err);

/* R-NM2: the name is not among the n names already used in the pool. */
int naming_check_unique(const char *name, const char *const *pool_names, size_t n, struct gc_error *err);
