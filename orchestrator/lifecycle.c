/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cleanup.h"
#include "lifecycle.h"

static const char *const states[] = {
        "registered", "requested", "provisioning", "trial", "awaiting_golive", "active",
        "changing", "suspended", "exit_requested", "draining", "wiping", "reclaimed",
};

static const struct {
        const char *from, *to;
} transitions[] = {
        { "registered", "requested" },          /* an approved application (R-LC1) */
        { "requested", "provisioning" },
        { "provisioning", "trial" },
        { "trial", "awaiting_golive" },         /* the trial's timer (R-LC2) */
        { "awaiting_golive", "active" },        /* the signed go-live sheet (R-LC3) */
        { "trial", "changing" },
        { "active", "changing" },
        { "changing", "trial" },
        { "changing", "active" },
        { "active", "exit_requested" },         /* R-EX1, R-EX2 */
        { "exit_requested", "draining" },
        { "draining", "wiping" },
        { "wiping", "reclaimed" },              /* R-EX3, R-LC5 */
        /* R-SC3: suspension from any running state, and back. */
        { "provisioning", "suspended" },
        { "trial", "suspended" },
        { "awaiting_golive", "suspended" },
        { "active", "suspended" },
        { "changing", "suspended" },
        { "exit_requested", "suspended" },
        { "suspended", "provisioning" },
        { "suspended", "trial" },
        { "suspended", "awaiting_golive" },
        { "suspended", "active" },
        { "suspended", "changing" },
        { "suspended", "exit_requested" },
        /* R-EX2: suspended by an authority order that could not wipe, the
         * system leaves with the tenant's statement. */
        { "suspended", "draining" },
};

bool lifecycle_state_valid(const char *state) {
        for (size_t i = 0; i < ELEMENTSOF(states); i++)
                if (strcmp(states[i], state) == 0)
                        return true;
        return false;
}

bool lifecycle_allowed(const char *from, const char *to) {
        for (size_t i = 0; i < ELEMENTSOF(transitions); i++)
                if (strcmp(transitions[i].from, from) == 0 && strcmp(transitions[i].to, to) == 0)
                        return true;
        return false;
}

const char *lifecycle_target(const char *kind) {
        if (strcmp(kind, "apply") == 0)
                return "requested";
        if (strcmp(kind, "change") == 0)
                return "changing";
        if (strcmp(kind, "exit") == 0)
                return "exit_requested";
        return NULL;
}

const char *lifecycle_sources(const char *kind) {
        if (strcmp(kind, "apply") == 0)
                return "registered";
        if (strcmp(kind, "change") == 0)
                return "trial or active";
        return "active";
}
