/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy packs: one jurisdiction's regulations as data (the JSON files in policies/).
 * Loading validates the document against the schema compiled into the
 * library (policies/schema.json), then the checks a schema cannot express
 * (trial bounds in order, bands that do not overlap, valid dates), and
 * fills the rule modules' policy structs. Every problem is reported with
 * the JSON path of the field.
 *
 * Fields the jurisdiction leaves null keep the meaning the schema's x-null
 * gives them; in the structs below that is -1 for numbers, PACK_UNSET for
 * switches.
 */
#pragma once

#include <stdbool.h>

#include <cJSON.h>

#include "calendar.h"
#include "change.h"
#include "crypto.h"
#include "naming.h"
#include "rightsize.h"
#include "schema.h"
#include "trial.h"

#define PACK_FILE_MAX (1024 * 1024)

enum pack_switch {
        PACK_UNSET = -1,        /* null: not regulated */
        PACK_NO = 0,
        PACK_YES = 1,
};

enum pack_agreement {
        PACK_AGREEMENT_NONE,                    /* null */
        PACK_AGREEMENT_BEFORE_PROVISIONING,
        PACK_AGREEMENT_BEFORE_GOLIVE,
};

/* R-EX1, in the schema's order. */
enum pack_reclaim_ground {
        PACK_GROUND_MISUSE,
        PACK_GROUND_PIGGYBACK,
        PACK_GROUND_NO_LONGER_NEEDED,
        PACK_GROUND_CONSOLIDATION,
        PACK_GROUND_UNFIXABLE_RISK,
        PACK_GROUND_NONCOMPLIANCE,
        PACK_GROUND_LOW_UTILIZATION,
        _PACK_GROUND_MAX,
};
/* "misuse" -> PACK_GROUND_MISUSE; -1 if none. */
int pack_reclaim_ground_from_string(const char *s);

enum pack_wipe_method {
        PACK_WIPE_DEFAULT,                      /* null: the orchestrator's configured default */
        PACK_WIPE_ZERO,
        PACK_WIPE_RANDOM,
        PACK_WIPE_CRYPTO_ERASE,
};

struct pack_deadlines {                         /* R-LC6, working days; -1 = null */
        long review, approval, allocation, golive, change_approval, change, exit_review, exit_reclaim;
};

struct pack {
        char *id;
        char *name;
        char *jurisdiction;

        struct naming_policy naming;            /* R-NM1..R-NM3 */
        struct trial_policy trial;              /* R-LC2 */
        struct pack_deadlines deadlines;        /* R-LC6 */
        struct rightsize_policy rightsize;      /* R-RS1..R-RS7 */
        struct change_major_policy major;       /* R-RQ2 */
        struct change_frequency_policy frequency;       /* R-RQ3 */

        struct {
                enum pack_agreement security_agreement;         /* R-SC1 */
                enum pack_switch internet_requires_admission;   /* R-SC2 */
                long mlps_test_due_months;                      /* R-SC2; -1 = null */
        } admission;

        enum pack_switch egress_closed_until_reviewed;          /* R-NW3 */

        struct {
                enum pack_switch allowed_by_default;            /* R-OP4 */
                enum pack_switch needs_unit_approval;           /* R-OP1 */
                enum pack_switch real_name;                     /* R-OP1 */
                enum pack_switch single_use;                    /* R-OP2 */
                long max_minutes;                               /* R-OP1; -1 = platform maximum */
                bool long_lived_needs_security_authority;       /* R-OP2; false: none allowed */
                enum pack_switch bastion_audit;                 /* R-OP3 */
        } remote_ops;

        struct {
                /* R-EX1: the grounds the authority may reclaim on, a bit per
                 * pack_reclaim_ground; reclaim_grounds_listed false (null):
                 * none, only the tenant's own exit. */
                unsigned reclaim_grounds;
                bool reclaim_grounds_listed;
                long migration_grace_days;                      /* R-EX2; -1 = none */
                enum pack_switch tenant_statement_required;     /* R-EX2 */
                bool authority_may_order_wipe;                  /* R-EX3; null = false */
                enum pack_wipe_method wipe_method;              /* R-EX3 */
                long wipe_passes;                               /* -1 = one */
                bool wipe_verify_sampled;                       /* null = full */
                enum pack_switch wipe_report_required;          /* R-EX3 */
        } exit;

        long audit_retention_months;            /* R-AU1; -1 = keep indefinitely */
        enum gc_key_type signature;             /* R-SC4; null = SM2 */
        enum gc_hash_alg hash;                  /* R-SC4; null = SM3 */

        struct {
                enum pack_switch monthly_usage_report;          /* R-RS7 */
                long due_day_of_month;                          /* -1 = null */
        } reporting;

        struct calendar calendar;               /* R-LC6; points into the arrays below */
        int64_t *holidays;
        int64_t *workdays;

        cJSON *doc;                             /* the validated document, for tools */
};

/* The schema compiled into the library (loaded once). */
const struct schema *pack_schema(void);

/* Load and check. On -EINVAL, issues holds every problem found (at least
 * one); on another error, one issue says what failed. The caller frees
 * issues in every case. */
int pack_load(const char *text, size_t len, struct pack **ret, struct schema_issues *issues);
int pack_load_file(const char *path, struct pack **ret, struct schema_issues *issues);
void pack_free(struct pack *p);
static inline void pack_freep(struct pack **p) {
        pack_free(*p);
}

/* Parse "[15,30]", "(,15)", "[70,)" into a band's edges. */
int pack_parse_band(const char *s, struct rightsize_band *ret);
