/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The four shipped policy packs and the pack loader. Shipped values are
 * checked against the seeds' numbers; broken packs are made by editing a
 * shipped one, and each must be refused with the JSON path of its field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cleanup.h"
#include "json.h"
#include "pack.h"

static struct pack *load_shipped(const char *name) {
        char path[512];
        struct pack *p = NULL;
        struct schema_issues issues;

        snprintf(path, sizeof path, "%s/policies/%s.json", GC_SRCDIR, name);
        int r = pack_load_file(path, &p, &issues);
        if (r < 0)
                fail_msg("%s: %s: %s", path, issues.n ? issues.v[0].path : "", issues.n ? issues.v[0].message : "");
        schema_issues_free(&issues);
        return p;
}

static void test_baotou(void **state) {
        _cleanup_(pack_freep) struct pack *p = load_shipped("baotou");

        assert_string_equal(p->id, "baotou");
        assert_true(p->naming.vm_name_rule);                    /* R-NM2 */
        assert_int_equal(p->naming.relabel_working_days, 1);    /* R-NM3 */
        assert_int_equal(p->trial.unit, TRIAL_MONTHS);          /* R-LC2: 1 month */
        assert_int_equal(p->trial.min, 1);
        assert_int_equal(p->trial.max, 1);
        assert_false(p->trial.extension_allowed);
        assert_int_equal(p->deadlines.review, 3);               /* R-LC6 */
        assert_int_equal(p->deadlines.exit_review, -1);

        /* R-RS1..R-RS4 bands, as RULES.md reads them. */
        assert_true(p->rightsize.regulated);
        assert_int_equal(p->rightsize.n_cpu, 4);
        assert_false(p->rightsize.cpu[0].has_from);
        assert_true(p->rightsize.cpu[0].to == 15 && !p->rightsize.cpu[0].to_inclusive);
        assert_true(p->rightsize.cpu[0].factor == 0.25);
        assert_string_equal(p->rightsize.cpu[0].rule, "R-RS1");
        assert_true(p->rightsize.cpu[1].from == 15 && p->rightsize.cpu[1].from_inclusive);
        assert_true(p->rightsize.cpu[1].to == 30 && p->rightsize.cpu[1].to_inclusive);
        assert_true(p->rightsize.cpu[2].from == 50 && p->rightsize.cpu[2].to == 70 && !p->rightsize.cpu[2].to_inclusive);
        assert_true(p->rightsize.cpu[3].from == 70 && p->rightsize.cpu[3].from_inclusive && !p->rightsize.cpu[3].has_to);
        assert_true(p->rightsize.cpu[3].factor == 3);           /* the x3 reading of 增加原来的两倍 */
        assert_string_equal(p->rightsize.cpu[3].rule, "R-RS3");
        assert_int_equal(p->rightsize.n_memory, 3);
        assert_string_equal(p->rightsize.memory[2].rule, "R-RS4");
        assert_true(p->rightsize.disk_regulated);               /* R-RS5 */
        assert_true(p->rightsize.disk_usage_at_least == 80 && p->rightsize.disk_requires_linear_growth);
        assert_int_equal(p->rightsize.disk_max_gib, 5120);
        assert_true(p->rightsize.idle_regulated);               /* R-RS7 */
        assert_true(p->rightsize.idle_cpu_below == 15 && p->rightsize.idle_memory_below == 20);

        assert_int_equal(p->major.new_vms_over, -1);            /* R-RQ2: not Baotou's */
        assert_int_equal(p->frequency.max_per_calendar_month, 1);       /* R-RQ3 */
        assert_true(p->frequency.exception_allowed);
        assert_int_equal(p->admission.security_agreement, PACK_AGREEMENT_BEFORE_PROVISIONING);  /* R-SC1 */
        assert_int_equal(p->admission.internet_requires_admission, PACK_YES);                  /* R-SC2 */
        assert_int_equal(p->admission.mlps_test_due_months, 3);
        assert_int_equal(p->egress_closed_until_reviewed, PACK_YES);    /* R-NW3 */
        assert_int_equal(p->remote_ops.allowed_by_default, PACK_NO);    /* R-OP4 */
        assert_int_equal(p->remote_ops.single_use, PACK_YES);           /* R-OP2 */
        assert_true(p->remote_ops.long_lived_needs_security_authority);
        assert_int_equal(p->remote_ops.max_minutes, -1);
        assert_true(p->exit.authority_may_order_wipe);                  /* R-EX3 */
        assert_int_equal(p->exit.migration_grace_days, -1);
        assert_int_equal(p->audit_retention_months, 6);                 /* R-AU1 */
        assert_int_equal(p->signature, GC_KEY_SM2);                     /* R-SC4 */
        assert_int_equal(p->hash, GC_HASH_SM3);
        assert_int_equal(p->calendar.utc_offset_minutes, 480);
        assert_int_equal(p->calendar.weekend_mask, (1u << 6) | (1u << 7));
}

static void test_luan(void **state) {
        _cleanup_(pack_freep) struct pack *p = load_shipped("luan");

        assert_int_equal(p->trial.unit, TRIAL_DAYS);            /* R-LC2: 15-30 days, extendable */
        assert_int_equal(p->trial.min, 15);
        assert_int_equal(p->trial.max, 30);
        assert_true(p->trial.extension_allowed);
        assert_int_equal(p->trial.max_extension, -1);
        assert_int_equal(p->major.new_vms_over, 10);            /* R-RQ2 */
        assert_int_equal(p->major.cpu_cores_over, 40);
        assert_int_equal(p->major.memory_gib_over, 80);
        assert_int_equal(p->major.storage_gib_over, 5120);
        assert_false(p->rightsize.regulated);
        assert_false(p->naming.vm_name_rule);
        assert_int_equal(p->frequency.max_per_calendar_month, -1);
        assert_int_equal(p->admission.security_agreement, PACK_AGREEMENT_BEFORE_GOLIVE);
        assert_int_equal(p->admission.mlps_test_due_months, 6);
        assert_false(p->exit.authority_may_order_wipe);
        assert_int_equal(p->audit_retention_months, -1);
        assert_int_equal(p->deadlines.exit_reclaim, 3);
}

static void test_zhumadian(void **state) {
        _cleanup_(pack_freep) struct pack *p = load_shipped("zhumadian");

        assert_int_equal(p->trial.min, 15);
        assert_int_equal(p->trial.max, 30);
        assert_int_equal(p->exit.migration_grace_days, 30);     /* R-EX2 */
        assert_int_equal(p->audit_retention_months, 12);        /* R-AU1 */
        assert_int_equal(p->reporting.due_day_of_month, 5);     /* R-RS7 */
        assert_int_equal(p->admission.mlps_test_due_months, 0);
        assert_int_equal(p->deadlines.review, 7);
        assert_int_equal(p->major.new_vms_over, -1);
}

static void test_sichuan(void **state) {
        _cleanup_(pack_freep) struct pack *p = load_shipped("sichuan");

        assert_int_equal(p->trial.unit, TRIAL_NONE);            /* no trial stage */
        assert_int_equal(p->audit_retention_months, 6);         /* R-AU1 */
        assert_int_equal(p->reporting.monthly_usage_report, PACK_YES);
        assert_int_equal(p->exit.tenant_statement_required, PACK_YES);
}

/* Load baotou.json (or luan.json), let edit() change it, and expect want_path among the issues. */
static void refused_after(const char *base, void (*edit)(cJSON *doc), const char *want_path, const char *want_msg) {
        char path[512];
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_(pack_freep) struct pack *p = NULL;
        struct schema_issues issues;
        struct gc_error err = {};

        snprintf(path, sizeof path, "%s/policies/%s.json", GC_SRCDIR, base);
        assert_int_equal(json_parse_file(path, PACK_FILE_MAX, &doc, &err), 0);
        edit(doc);
        _cleanup_free_ char *text = cJSON_PrintUnformatted(doc);
        assert_int_equal(pack_load(text, strlen(text), &p, &issues), -EINVAL);
        assert_null(p);
        bool found = false;
        for (size_t i = 0; i < issues.n; i++)
                if (strcmp(issues.v[i].path, want_path) == 0 && strstr(issues.v[i].message, want_msg))
                        found = true;
        if (!found)
                fail_msg("no issue %s \"%s\"; first: %s: %s", want_path, want_msg,
                         issues.n ? issues.v[0].path : "-", issues.n ? issues.v[0].message : "-");
        schema_issues_free(&issues);
}

static cJSON *at(cJSON *doc, const char *section) {
        return cJSON_GetObjectItemCaseSensitive(doc, section);
}
static void set(cJSON *obj, const char *key, cJSON *v) {
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
}

static void e_unknown_top(cJSON *d) { cJSON_AddNumberToObject(d, "extra", 1); }
static void e_unknown_nested(cJSON *d) { cJSON_AddNumberToObject(at(d, "trial"), "maxx", 30); }
static void e_wrong_type(cJSON *d) { set(at(d, "trial"), "max", cJSON_CreateString("30")); }
static void e_min_above_max(cJSON *d) { set(at(d, "trial"), "min", cJSON_CreateNumber(40)); }
static void e_missing_section(cJSON *d) { cJSON_DeleteItemFromObjectCaseSensitive(d, "audit"); }
static void e_bad_rule(cJSON *d) { set(at(d, "naming"), "rule", cJSON_CreateStringArray((const char *[]) { "R-XX9" }, 1)); }
static void e_bad_band(cJSON *d) {
        set(cJSON_GetArrayItem(at(at(d, "rightsizing"), "cpu"), 1), "band", cJSON_CreateString("[15,30"));
}
static void e_overlap(cJSON *d) {
        set(cJSON_GetArrayItem(at(at(d, "rightsizing"), "cpu"), 1), "band", cJSON_CreateString("[10,30]"));
}
static void e_touching_closed(cJSON *d) {
        /* "[50,70]" and "[70,)" share 70: the pack must say which band holds it. */
        set(cJSON_GetArrayItem(at(at(d, "rightsizing"), "cpu"), 2), "band", cJSON_CreateString("[50,70]"));
}
static void e_factor_one(cJSON *d) {
        set(cJSON_GetArrayItem(at(at(d, "rightsizing"), "memory"), 0), "factor", cJSON_CreateNumber(1));
}
static void e_band_over_100(cJSON *d) {
        set(cJSON_GetArrayItem(at(at(d, "rightsizing"), "cpu"), 3), "band", cJSON_CreateString("[70,101]"));
}
static void e_bad_date(cJSON *d) {
        cJSON_AddItemToArray(at(at(d, "calendar"), "holidays"), cJSON_CreateString("2026-02-30"));
}
static void e_holiday_twice(cJSON *d) {
        cJSON_AddItemToArray(at(at(d, "calendar"), "holidays"), cJSON_CreateString("2026-10-01"));
        cJSON_AddItemToArray(at(at(d, "calendar"), "adjusted_workdays"), cJSON_CreateString("2026-10-01"));
}
static void e_no_trial_but_min(cJSON *d) { set(at(d, "trial"), "unit", cJSON_CreateNull()); }
static void e_ops_open(cJSON *d) { set(at(d, "remote_ops"), "allowed_by_default", cJSON_CreateTrue()); }
static void e_schema_version(cJSON *d) { set(d, "schema", cJSON_CreateString("govcloud-policy-pack/2")); }
static void e_retention_zero(cJSON *d) { set(at(d, "audit"), "retention_months", cJSON_CreateNumber(0)); }
static void e_threshold_negative(cJSON *d) { set(at(d, "major_change"), "new_vms_over", cJSON_CreateNumber(-1)); }
static void e_offset(cJSON *d) { set(at(d, "calendar"), "utc_offset", cJSON_CreateString("UTC+8")); }

static void test_refusals(void **state) {
        refused_after("baotou", e_unknown_top, "$.extra", "not a known key");
        refused_after("baotou", e_unknown_nested, "$.trial.maxx", "not a known key");
        refused_after("baotou", e_wrong_type, "$.trial.max", "is a string, expected integer or null");
        refused_after("luan", e_min_above_max, "$.trial.min", "above trial.max 30");
        refused_after("baotou", e_missing_section, "$.audit", "is required");
        refused_after("baotou", e_bad_rule, "$.naming.rule[0]", "not one of");
        refused_after("baotou", e_bad_band, "$.rightsizing.cpu[1].band", "does not match");
        refused_after("baotou", e_overlap, "$.rightsizing.cpu[1].band", "overlaps band 0");
        refused_after("baotou", e_touching_closed, "$.rightsizing.cpu[3].band", "overlaps band 2");
        refused_after("baotou", e_factor_one, "$.rightsizing.memory[0].factor", "changes nothing");
        refused_after("baotou", e_band_over_100, "$.rightsizing.cpu[3].band", "not an interval of percent");
        refused_after("baotou", e_bad_date, "$.calendar.holidays[0]", "not a calendar date");
        refused_after("baotou", e_holiday_twice, "$.calendar.adjusted_workdays", "holidays lists too");
        refused_after("luan", e_no_trial_but_min, "$.trial.min", "must be null where trial.unit is null");
        refused_after("baotou", e_ops_open, "$.remote_ops.allowed_by_default", "R-OP4");
        refused_after("baotou", e_schema_version, "$.schema", "expected \"govcloud-policy-pack/1\"");
        refused_after("baotou", e_retention_zero, "$.audit.retention_months", "below the minimum 1");
        refused_after("luan", e_threshold_negative, "$.major_change.new_vms_over", "below the minimum 0");
        refused_after("baotou", e_offset, "$.calendar.utc_offset", "does not match");
}

static void test_text_errors(void **state) {
        _cleanup_(pack_freep) struct pack *p = NULL;
        struct schema_issues issues;
        const char *dup = "{\"schema\":\"govcloud-policy-pack/1\",\"schema\":\"x\"}";
        const char *broken = "{\"schema\": ";

        assert_int_equal(pack_load(dup, strlen(dup), &p, &issues), -EINVAL);
        assert_int_equal(issues.n, 1);
        assert_string_equal(issues.v[0].path, "$.schema");
        assert_non_null(strstr(issues.v[0].message, "duplicate key"));
        schema_issues_free(&issues);

        assert_int_equal(pack_load(broken, strlen(broken), &p, &issues), -EINVAL);
        assert_string_equal(issues.v[0].path, "byte 11");
        schema_issues_free(&issues);

        assert_true(pack_load_file("/nonexistent/pack.json", &p, &issues) == -ENOENT);
        assert_int_equal(issues.n, 1);
        schema_issues_free(&issues);
}

static void test_band_parse(void **state) {
        struct rightsize_band b;

        assert_int_equal(pack_parse_band("[15,30]", &b), 0);
        assert_true(b.has_from && b.has_to && b.from_inclusive && b.to_inclusive && b.from == 15 && b.to == 30);
        assert_int_equal(pack_parse_band("(,15)", &b), 0);
        assert_true(!b.has_from && b.has_to && !b.to_inclusive && b.to == 15);
        assert_int_equal(pack_parse_band("[70,)", &b), 0);
        assert_true(b.has_from && !b.has_to && b.from_inclusive);
        assert_int_equal(pack_parse_band("[12.5,20)", &b), 0);
        assert_true(b.from == 12.5);
        assert_int_equal(pack_parse_band("(,)", &b), -EINVAL);
        assert_int_equal(pack_parse_band("[30,15]", &b), -EINVAL);
        assert_int_equal(pack_parse_band("[30,30)", &b), -EINVAL);
        assert_int_equal(pack_parse_band("[1,2,3]", &b), -EINVAL);
        assert_int_equal(pack_parse_band("15,30", &b), -EINVAL);
}

/* The schema itself: unknown keys refused everywhere, every nullable field says what null means. */
static void walk_schema(const struct schema *s, const cJSON *node, const char *where) {
        const cJSON *props, *type, *c;

        if (!cJSON_IsObject(node))
                return;
        node = schema_resolve(s, node);
        props = cJSON_GetObjectItemCaseSensitive(node, "properties");
        if (props && !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(node, "additionalProperties")))
                fail_msg("%s: an object schema without additionalProperties: false", where);
        for (c = props ? props->child : NULL; c; c = c->next) {
                char sub[512];
                snprintf(sub, sizeof sub, "%s.%s", where, c->string);
                type = cJSON_GetObjectItemCaseSensitive(schema_resolve(s, c), "type");
                if (cJSON_IsArray(type)) {
                        const cJSON *t;
                        cJSON_ArrayForEach(t, type)
                                if (strcmp(t->valuestring, "null") == 0 && !schema_annotation(s, c, "x-null"))
                                        fail_msg("%s: nullable without x-null", sub);
                }
                walk_schema(s, c, sub);
                walk_schema(s, schema_items(s, c), sub);
        }
}

static void test_schema_strict(void **state) {
        const struct schema *s = pack_schema();
        walk_schema(s, schema_root(s), "$");
}

/* The shipped packs drive the rule modules: Baotou's bands (R-RS1, R-RS3, R-RS2)
 * and Lu'an's major-change thresholds (R-RQ2), read from the JSON files. */
static void test_shipped_rules(void **state) {
        _cleanup_(pack_freep) struct pack *bt = load_shipped("baotou");
        _cleanup_(pack_freep) struct pack *la = load_shipped("luan");
        const struct rightsize_platform platform = { 1, 64, 1, 512, 20, 16384 };
        struct rightsize_result res;
        struct gc_error err = {};

        struct rightsize_input in = { .vcpus = 4, .memory_gib = 16, .disk_gib = 100,
                                      .has_cpu = true, .has_memory = true, .cpu_pct = 70, .memory_pct = 20 };
        assert_int_equal(rightsize_recommend(&bt->rightsize, &platform, NULL, &in, &res), 0);
        assert_true(res.cpu.applies);
        assert_int_equal(res.cpu.after, 12);                    /* R-RS3: 70 % is ">= 70 %", x3 */
        assert_string_equal(res.cpu.rule, "R-RS3");
        assert_int_equal(res.memory.after, 8);                  /* R-RS2: 20 % is in [20, 40], halved */

        in = (struct rightsize_input) { .vcpus = 3, .memory_gib = 16, .disk_gib = 100, .has_cpu = true, .cpu_pct = 14.9 };
        assert_int_equal(rightsize_recommend(&bt->rightsize, &platform, NULL, &in, &res), 0);
        assert_int_equal(res.cpu.after, 1);                     /* R-RS1: 3 cores quartered is 1 */
        assert_string_equal(res.cpu.rule, "R-RS1");

        assert_int_equal(change_major_dimensions(&la->major, &(struct change_delta) { .new_vms = 10 }, &err), 0);
        assert_int_equal(change_major_dimensions(&la->major, &(struct change_delta) { .new_vms = 11 }, &err), CHANGE_MAJOR_VMS);
        assert_string_equal(err.rule, "R-RQ2");
        /* Baotou sets no thresholds: nothing is major by size. */
        assert_int_equal(change_major_dimensions(&bt->major, &(struct change_delta) { .new_vms = 500, .storage_gib = 99999 }, &err), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_baotou),
                cmocka_unit_test(test_luan),
                cmocka_unit_test(test_zhumadian),
                cmocka_unit_test(test_sichuan),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_text_errors),
                cmocka_unit_test(test_band_parse),
                cmocka_unit_test(test_schema_strict),
                cmocka_unit_test(test_shipped_rules),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
