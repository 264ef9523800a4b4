/* SPDX-License-Identifier: Apache-2.0 */
/* gcctl policy check | explain */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "gcctl.h"
#include "json.h"
#include "pack.h"

static const char check_usage[] =
        "Usage: gcctl policy check [--json] FILE...\n"
        "\n"
        "Validate policy packs against the pack schema (policies/schema.json, compiled\n"
        "into gcctl) and the checks a schema cannot express. Prints the JSON path of\n"
        "every bad field with the reason. Exit status 0 when every pack is valid,\n"
        "1 when any is not, 2 on a usage error.\n";

static const char explain_usage[] =
        "Usage: gcctl policy explain [--json] FILE\n"
        "\n"
        "Print what a policy pack decides, rule by rule, in plain words: each line\n"
        "starts with the RULES.md id it carries, each section names the articles of\n"
        "the regulations it comes from, and a field the jurisdiction leaves null says\n"
        "what null means there. The pack is checked first, as 'policy check' does.\n";

static cJSON *issues_json(const struct schema_issues *issues) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < issues->n; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "path", issues->v[i].path);
                cJSON_AddStringToObject(o, "message", issues->v[i].message);
                cJSON_AddItemToArray(a, o);
        }
        return a;
}

static void print_issues(FILE *f, const char *file, const struct schema_issues *issues) {
        for (size_t i = 0; i < issues->n; i++)
                fprintf(f, "%s: %s: %s\n", file, issues->v[i].path, issues->v[i].message);
}

static int run_check(int argc, char **argv) {
        _cleanup_(cJSON_Deletep) cJSON *out = cJSON_CreateArray();
        static const char *const headers[] = { "FILE", "PACK", "NAME", "RESULT" };
        struct gcctl_table *table = gcctl_table_new(ELEMENTSOF(headers), headers);
        struct gc_buf problems = GC_BUF_INIT(16 * 1024 * 1024);
        int ret = GCCTL_EXIT_OK, code = 0;
        int first = gcctl_parse_options(argc, argv, check_usage, NULL, NULL, NULL, &code);

        if (first < 0 || first >= argc) {
                gcctl_table_free(table);
                return first < 0 ? code : gcctl_usage_error("gcctl policy check", "no FILE given (see --help)");
        }

        for (int i = first; i < argc; i++) {
                _cleanup_(pack_freep) struct pack *p = NULL;
                struct schema_issues issues = {};
                int r = pack_load_file(argv[i], &p, &issues);
                char result[64];

                if (r < 0)
                        ret = GCCTL_EXIT_FAIL;
                if (gcctl_global.json) {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddStringToObject(o, "file", argv[i]);
                        cJSON_AddBoolToObject(o, "valid", r >= 0);
                        if (p)
                                cJSON_AddStringToObject(o, "pack", p->id);
                        cJSON_AddItemToObject(o, "issues", issues_json(&issues));
                        cJSON_AddItemToArray(out, o);
                }
                snprintf(result, sizeof result, r >= 0 ? "valid" : "invalid: %zu problem%s", issues.n, issues.n == 1 ? "" : "s");
                gcctl_table_add(table, (const char *const[]) { argv[i], p ? p->id : "-", p ? p->name : "-", result });
                for (size_t k = 0; k < issues.n; k++)
                        gc_buf_printf(&problems, "%s: %s: %s\n", argv[i], issues.v[k].path, issues.v[k].message);
                schema_issues_free(&issues);
        }
        if (gcctl_global.json)
                gcctl_print_json(out);
        else {
                gcctl_table_print(table);
                if (problems.len)
                        printf("\n%s", problems.data);
        }
        gcctl_table_free(table);
        gc_buf_free(&problems);
        return ret;
}

/* Explanations. */

struct explain {
        const struct pack *pack;
        const struct schema *schema;
        cJSON *lines;           /* [{section, field, rule, regulated, text}] */
        const char *section;
};

static void line(struct explain *e, const char *field, const char *rule, bool regulated, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void line(struct explain *e, const char *field, const char *rule, bool regulated, const char *fmt, ...) {
        va_list ap;
        char text[1024];

        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);

        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "section", e->section);
        cJSON_AddStringToObject(o, "field", field);
        cJSON_AddStringToObject(o, "rule", rule);
        cJSON_AddBoolToObject(o, "regulated", regulated);
        cJSON_AddStringToObject(o, "text", text);
        cJSON_AddItemToArray(e->lines, o);
}

static const cJSON *field_schema(struct explain *e, const char *field) {
        const cJSON *s = schema_property(e->schema, schema_root(e->schema), e->section);
        return field ? schema_property(e->schema, s, field) : s;
}

/* A null field: what null means, from the schema's x-null. */
static void unregulated(struct explain *e, const char *field, const char *rule) {
        const char *meaning = schema_annotation(e->schema, field_schema(e, field), "x-null");
        line(e, field, rule, false, "Not set here (%s is null): %s.", field, meaning ? meaning : "no setting");
}

static bool is_null(struct explain *e, const char *field) {
        return json_is_null_or_missing(cJSON_GetObjectItemCaseSensitive(e->pack->doc, e->section), field);
}

static const char *plural(long n, const char *one, const char *many) {
        return n == 1 ? one : many;
}

static void explain_naming(struct explain *e) {
        const struct pack *p = e->pack;

        if (p->naming.vm_name_rule) {
                line(e, "vm_name", "R-NM1", true,
                     "The unit is named by its full name and the business system by the exact name in its feasibility report.");
                line(e, "vm_name", "R-NM2", true,
                     "A VM's name is unit + system + role + number, with no separator (市xx局协同办公OA应用服务器1), "
                     "and is unique within the resource pool.");
        } else
                unregulated(e, "vm_name", "R-NM2");
        if (p->naming.relabel_working_days >= 0)
                line(e, "relabel_working_days", "R-NM3", true,
                     "After a change, the VM's labels are updated within %ld working %s; govcloud does it in the same job.",
                     p->naming.relabel_working_days, plural(p->naming.relabel_working_days, "day", "days"));
        else
                unregulated(e, "relabel_working_days", "R-NM3");
}

static void explain_trial(struct explain *e) {
        const struct trial_policy *t = &e->pack->trial;
        const char *u = t->unit == TRIAL_MONTHS ? "month" : "day";

        if (t->unit == TRIAL_NONE) {
                unregulated(e, "unit", "R-LC2");
                return;
        }
        if (t->min == t->max || t->min < 0)
                line(e, "max", "R-LC2", true, "The trial lasts %ld %s%s%s; its average utilization is monitored and fixes the allocation that goes live.",
                     t->max, u, t->max == 1 ? "" : "s", t->min < 0 ? " at most" : "");
        else
                line(e, "max", "R-LC2", true,
                     "The trial lasts %ld to %ld %ss, as the apply request chooses; %ld when it names none. "
                     "Its average utilization is monitored and fixes the allocation that goes live.",
                     t->min, t->max, u, t->max);
        if (t->extension_allowed) {
                if (t->max_extension >= 0)
                        line(e, "extension", "R-LC2", true, "It may be extended with the authority's consent, by at most %ld %s%s in all.",
                             t->max_extension, u, t->max_extension == 1 ? "" : "s");
                else
                        line(e, "extension", "R-LC2", true, "It may be extended with the authority's consent; the pack sets no limit on the extension.");
        } else
                unregulated(e, "extension", "R-LC2");
}

static void explain_deadlines(struct explain *e) {
        static const struct {
                const char *field, *what;
                size_t offset;
        } d[] = {
                { "review", "Review of an application", offsetof(struct pack_deadlines, review) },
                { "approval", "Approval opinion after the review", offsetof(struct pack_deadlines, approval) },
                { "allocation", "Allocation of the trial environment", offsetof(struct pack_deadlines, allocation) },
                { "golive", "Go-live after the trial", offsetof(struct pack_deadlines, golive) },
                { "change_approval", "Approval of a change", offsetof(struct pack_deadlines, change_approval) },
                { "change", "Carrying out an approved change", offsetof(struct pack_deadlines, change) },
                { "exit_review", "Review of an exit request", offsetof(struct pack_deadlines, exit_review) },
                { "exit_reclaim", "Reclaim after the exit review", offsetof(struct pack_deadlines, exit_reclaim) },
        };
        struct gc_buf unset = GC_BUF_INIT(1024);

        for (size_t i = 0; i < ELEMENTSOF(d); i++) {
                long v = *(const long *) ((const char *) &e->pack->deadlines + d[i].offset);
                if (v >= 0)
                        line(e, d[i].field, "R-LC6", true, "%s: within %ld working %s.", d[i].what, v, plural(v, "day", "days"));
                else
                        gc_buf_printf(&unset, "%s%s", unset.len ? ", " : "", d[i].field);
        }
        if (unset.len)
                line(e, "deadlines", "R-LC6", false, "Not set here: %s (no deadline for these stages; govcloud still records when each began and ended).",
                     unset.data);
        gc_buf_free(&unset);
}

static void band_text(const struct rightsize_band *b, char *buf, size_t size) {
        if (!b->has_from)
                snprintf(buf, size, "below %g %%", b->to);
        else if (!b->has_to)
                snprintf(buf, size, "%g %% or more", b->from);
        else
                snprintf(buf, size, "in %c%g %%, %g %%%c", b->from_inclusive ? '[' : '(', b->from, b->to, b->to_inclusive ? ']' : ')');
}

static void explain_bands(struct explain *e, const char *field, const char *what, const char *unit,
                          const struct rightsize_band *bands, size_t n) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e->pack->doc, e->section), field);

        for (size_t i = 0; i < n; i++) {
                char range[96];
                const cJSON *seed = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, i), "seed");
                band_text(&bands[i], range, sizeof range);
                line(e, field, bands[i].rule, true, "Monthly average %s %s: %s x %g, rounded down, within the platform's bounds (seed: %s).",
                     what, range, unit, bands[i].factor, cJSON_IsString(seed) ? seed->valuestring : "");
        }
}

static void explain_rightsizing(struct explain *e) {
        const struct rightsize_policy *r = &e->pack->rightsize;

        if (!is_null(e, "cpu"))
                explain_bands(e, "cpu", "CPU utilization", "vCPUs", r->cpu, r->n_cpu);
        else
                unregulated(e, "cpu", "R-RS1");
        if (!is_null(e, "memory"))
                explain_bands(e, "memory", "memory utilization", "memory", r->memory, r->n_memory);
        else
                unregulated(e, "memory", "R-RS2");
        if (r->disk_regulated) {
                char cap[64] = "";
                if (r->disk_max_gib > 0)
                        snprintf(cap, sizeof cap, ", at most %ld GiB", r->disk_max_gib);
                line(e, "disk", r->disk_rule, true, "Disk usage at or above %g %%%s: disk x %g%s.", r->disk_usage_at_least,
                     r->disk_requires_linear_growth ? " and growing linearly (least-squares fit over the month's daily usage)" : "",
                     r->disk_factor, cap);
        } else
                unregulated(e, "disk", "R-RS5");
        if (r->regulated)
                line(e, "cpu", "R-RS6", true, "No change is recommended for a VM already at the platform's largest or smallest flavour; results are clamped to the platform's bounds.");
        if (r->idle_regulated)
                line(e, "idle", "R-RS7", true, "A VM with CPU below %g %% and memory below %g %% is idle: it is listed in the monthly report and may lead to reclaim.",
                     r->idle_cpu_below, r->idle_memory_below);
        else
                unregulated(e, "idle", "R-RS7");
}

static void explain_major(struct explain *e) {
        const struct change_major_policy *m = &e->pack->major;
        struct gc_buf b = GC_BUF_INIT(1024);

        if (m->new_vms_over >= 0)
                gc_buf_printf(&b, "more than %ld new VMs", m->new_vms_over);
        if (m->cpu_cores_over >= 0)
                gc_buf_printf(&b, "%smore than %ld more CPU cores", b.len ? ", " : "", m->cpu_cores_over);
        if (m->memory_gib_over >= 0)
                gc_buf_printf(&b, "%smore than %ld GiB more memory", b.len ? ", " : "", m->memory_gib_over);
        if (m->storage_gib_over >= 0)
                gc_buf_printf(&b, "%smore than %ld GiB more storage", b.len ? ", " : "", m->storage_gib_over);
        if (b.len)
                line(e, "major_change", "R-RQ2", true,
                     "A change request is major when it asks for %s (each dimension on its own); a major change is refused "
                     "unless its approval records the re-review with performance and security tests.", b.data);
        else
                line(e, "major_change", "R-RQ2", false,
                     "Not set here (every threshold is null): no request is major by its size; an approval may still record a re-review.");
        gc_buf_free(&b);
}

static void explain_frequency(struct explain *e) {
        const struct change_frequency_policy *f = &e->pack->frequency;

        if (f->max_per_calendar_month < 0) {
                unregulated(e, "max_per_calendar_month", "R-RQ3");
                return;
        }
        line(e, "max_per_calendar_month", "R-RQ3", true, "A system's resources change at most %ld %s per calendar month; %s",
             f->max_per_calendar_month, plural(f->max_per_calendar_month, "time", "times"),
             f->exception_allowed ? "another is refused unless its approval marks it as an exception."
                                  : "another is refused.");
}

static void explain_admission(struct explain *e) {
        const struct pack *p = e->pack;
        const cJSON *docs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p->doc, e->section), "documents");

        if (p->admission.security_agreement != PACK_AGREEMENT_NONE)
                line(e, "security_agreement", "R-SC1", true, "The signed security responsibility agreement must be on record %s.",
                     p->admission.security_agreement == PACK_AGREEMENT_BEFORE_PROVISIONING ? "before anything is provisioned" : "before go-live");
        else
                unregulated(e, "security_agreement", "R-SC1");
        if (cJSON_IsArray(docs)) {
                struct gc_buf b = GC_BUF_INIT(1024);
                const cJSON *d;
                cJSON_ArrayForEach(d, docs)
                        gc_buf_printf(&b, "%s%s", b.len ? ", " : "", d->valuestring);
                line(e, "documents", "R-SC2", true, "Before formal operation the authority checks: %s.", b.data ? b.data : "");
                gc_buf_free(&b);
        } else
                unregulated(e, "documents", "R-SC2");
        if (p->admission.internet_requires_admission == PACK_YES)
                line(e, "internet_requires_admission", "R-SC2", true,
                     "A system gets no internet access and no external data exchange until the authority records that it passed admission.");
        else
                unregulated(e, "internet_requires_admission", "R-SC2");
        if (p->admission.mlps_test_due_months == 0)
                line(e, "mlps_test_due_months_after_golive", "R-SC2", true, "MLPS (等保) testing is due before go-live, during the trial.");
        else if (p->admission.mlps_test_due_months > 0)
                line(e, "mlps_test_due_months_after_golive", "R-SC2", true, "MLPS (等保) testing is due within %ld months of go-live.",
                     p->admission.mlps_test_due_months);
        else
                unregulated(e, "mlps_test_due_months_after_golive", "R-SC2");
}

static void explain_network(struct explain *e) {
        line(e, "vpc", "R-NW1", true, "Every business system gets its own VPC: tenants, the systems of one tenant, and business and management networks are isolated.");
        if (e->pack->egress_closed_until_reviewed == PACK_YES)
                line(e, "internet_egress", "R-NW3", true, "Internet egress is closed by default and opens only after filing and review.");
        else
                unregulated(e, "internet_egress", "R-NW3");
}

static void explain_switch(struct explain *e, const char *field, const char *rule, enum pack_switch v,
                           const char *yes, const char *no) {
        if (v == PACK_UNSET)
                unregulated(e, field, rule);
        else
                line(e, field, rule, true, "%s", v == PACK_YES ? yes : no);
}

static void explain_remote_ops(struct explain *e) {
        const struct pack *p = e->pack;

        explain_switch(e, "allowed_by_default", "R-OP4", p->remote_ops.allowed_by_default,
                       "Remote operations are allowed by default.", "No remote operation is allowed by default: only an approved tunnel opens one.");
        explain_switch(e, "needs_unit_approval", "R-OP1", p->remote_ops.needs_unit_approval,
                       "A tunnel needs the owning unit's internal approval.", "The unit's own approval is not required.");
        explain_switch(e, "real_name", "R-OP1", p->remote_ops.real_name,
                       "Operators are registered by real name, with least privilege.", "Real-name registration is not required.");
        explain_switch(e, "single_use", "R-OP2", p->remote_ops.single_use,
                       "Channels are single-use (一次一用、单次有效): one opening, one session.", "Channels may be reused.");
        if (p->remote_ops.max_minutes > 0)
                line(e, "max_minutes", "R-OP1", true, "A tunnel lasts at most %ld minutes.", p->remote_ops.max_minutes);
        else
                unregulated(e, "max_minutes", "R-OP1");
        if (p->remote_ops.long_lived_needs_security_authority)
                line(e, "long_lived_approval", "R-OP2", true, "A longer-lived channel needs the security authority's approval.");
        else
                unregulated(e, "long_lived_approval", "R-OP2");
        explain_switch(e, "bastion_audit", "R-OP3", p->remote_ops.bastion_audit,
                       "All operations go through the bastion and are audited.", "Bastion audit is not required.");
}

static void explain_exit(struct explain *e) {
        const struct pack *p = e->pack;
        const cJSON *exit_doc = cJSON_GetObjectItemCaseSensitive(p->doc, e->section);
        const cJSON *grounds = cJSON_GetObjectItemCaseSensitive(exit_doc, "reclaim_grounds");
        static const char *const methods[] = {
                [PACK_WIPE_DEFAULT] = "", [PACK_WIPE_ZERO] = "a zero overwrite (NIST SP 800-88 Clear)",
                [PACK_WIPE_RANDOM] = "a random overwrite (NIST SP 800-88 Clear)",
                [PACK_WIPE_CRYPTO_ERASE] = "crypto-erase of volumes created encrypted (NIST SP 800-88 Purge)",
        };

        if (cJSON_IsArray(grounds)) {
                struct gc_buf b = GC_BUF_INIT(1024);
                const cJSON *g;
                cJSON_ArrayForEach(g, grounds)
                        gc_buf_printf(&b, "%s%s", b.len ? ", " : "", g->valuestring);
                line(e, "reclaim_grounds", "R-EX1", true, "The authority may reclaim resources on these grounds: %s.", b.data ? b.data : "");
                gc_buf_free(&b);
        } else
                unregulated(e, "reclaim_grounds", "R-EX1");
        if (p->exit.migration_grace_days > 0)
                line(e, "migration_grace_days", "R-EX2", true, "After the exit is approved the tenant has %ld days to migrate and back up its data.",
                     p->exit.migration_grace_days);
        else
                unregulated(e, "migration_grace_days", "R-EX2");
        explain_switch(e, "tenant_statement_required", "R-EX2", p->exit.tenant_statement_required,
                       "Data is destroyed only after the tenant states in writing that its data is migrated and backed up.",
                       "The tenant's statement is not required.");
        if (is_null(e, "authority_may_order_wipe"))
                unregulated(e, "authority_may_order_wipe", "R-EX3");
        else if (p->exit.authority_may_order_wipe)
                line(e, "authority_may_order_wipe", "R-EX3", true,
                     "An authority-ordered reclaim may wipe without the tenant's statement, recording its R-EX1 ground and that the tenant was notified.");
        else
                line(e, "authority_may_order_wipe", "R-EX3", true,
                     "Nobody destroys tenant data without the tenant's authorization: an authority-ordered reclaim suspends the system until the statement comes.");
        if (p->exit.wipe_method != PACK_WIPE_DEFAULT)
                line(e, "wipe", "R-EX3", true, "Volumes are destroyed by %s.", methods[p->exit.wipe_method]);
        else
                line(e, "wipe", "R-EX3", false, "Not set here (wipe.method is null): %s; passes: %ld, verification: %s.",
                     schema_annotation(e->schema, schema_property(e->schema, field_schema(e, "wipe"), "method"), "x-null"),
                     p->exit.wipe_passes > 0 ? p->exit.wipe_passes : 1, p->exit.wipe_verify_sampled ? "sampled" : "full read-back");
        if (p->exit.wipe_report_required == PACK_YES)
                line(e, "wipe", "R-EX3", true, "A data-destruction report (数据清除报告) goes to the authority.");
}

static void explain_rest(struct explain *e, const char *section) {
        const struct pack *p = e->pack;

        if (strcmp(section, "audit") == 0) {
                if (p->audit_retention_months > 0)
                        line(e, "retention_months", "R-AU1", true, "Audit records are kept at least %ld calendar months.", p->audit_retention_months);
                else
                        unregulated(e, "retention_months", "R-AU1");
        } else if (strcmp(section, "crypto") == 0) {
                if (is_null(e, "signature") && is_null(e, "hash"))
                        unregulated(e, "signature", "R-SC4");
                else
                        line(e, "signature", "R-SC4", true, "Signatures use %s, hashes %s.",
                             p->signature == GC_KEY_SM2 ? "SM2 with SM3 and the distinguishing id 1234567812345678" : "Ed25519",
                             p->hash == GC_HASH_SM3 ? "SM3" : "SHA-256");
        } else if (strcmp(section, "reporting") == 0) {
                if (p->reporting.monthly_usage_report == PACK_YES)
                                line(e, "monthly_usage_report", "R-RS7", true, "A utilization report per unit is produced every month.");
                else
                        unregulated(e, "monthly_usage_report", "R-RS7");
                if (p->reporting.due_day_of_month > 0)
                        line(e, "due_day_of_month", "R-RS7", true, "It is due by day %ld of the following month.", p->reporting.due_day_of_month);
                else
                        unregulated(e, "due_day_of_month", "R-RS7");
        } else if (strcmp(section, "calendar") == 0) {
                const char *off = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p->doc, "calendar"), "utc_offset")->valuestring;
                int days = 0;
                for (unsigned d = 1; d <= 7; d++)
                        days += !(p->calendar.weekend_mask & (1u << d));
                if (p->calendar.n_holidays + p->calendar.n_workdays == 0)
                        line(e, "holidays", "R-LC6", true,
                             "Working days are counted in UTC%s, %d days a week; no public holidays are listed yet: "
                             "add each year's dates from the State Council's notice.", off, days);
                else
                        line(e, "holidays", "R-LC6", true, "Working days are counted in UTC%s, %d days a week, less %zu public holidays, plus %zu adjusted workdays.",
                             off, days, p->calendar.n_holidays, p->calendar.n_workdays);
        }
}

static const struct {
        const char *name, *title;
        void (*fn)(struct explain *e);
} sections[] = {
        { "naming", "Naming", explain_naming },
        { "trial", "Trial", explain_trial },
        { "deadlines", "Deadlines", explain_deadlines },
        { "rightsizing", "Rightsizing", explain_rightsizing },
        { "major_change", "Major change", explain_major },
        { "change_frequency", "Change frequency", explain_frequency },
        { "admission", "Security admission", explain_admission },
        { "network", "Networks", explain_network },
        { "remote_ops", "Remote operations", explain_remote_ops },
        { "exit", "Exit and data destruction", explain_exit },
        { "audit", "Audit", NULL },
        { "crypto", "Cryptography", NULL },
        { "reporting", "Reporting", NULL },
        { "calendar", "Calendar", NULL },
};

static char *join_strings(const cJSON *list, const char *sep) {
        struct gc_buf b = GC_BUF_INIT(4096);
        const cJSON *s;
        cJSON_ArrayForEach(s, list)
                gc_buf_printf(&b, "%s%s", b.len ? sep : "", s->valuestring);
        return gc_buf_steal(&b, NULL);
}

static int run_explain(int argc, char **argv) {
        _cleanup_(pack_freep) struct pack *p = NULL;
        struct schema_issues issues = {};
        int code = 0, r;
        int first = gcctl_parse_options(argc, argv, explain_usage, NULL, NULL, NULL, &code);

        if (first < 0)
                return code;
        if (first + 1 != argc)
                return gcctl_usage_error("gcctl policy explain", "give exactly one FILE (see --help)");

        r = pack_load_file(argv[first], &p, &issues);
        if (r < 0) {
                print_issues(stderr, argv[first], &issues);
                fprintf(stderr, "%s: invalid policy pack, nothing to explain\n", argv[first]);
                schema_issues_free(&issues);
                return GCCTL_EXIT_FAIL;
        }

        _cleanup_(cJSON_Deletep) cJSON *out = cJSON_CreateObject();
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(p->doc, "pack");
        cJSON_AddItemToObject(out, "pack", cJSON_Duplicate(meta, true));
        cJSON *secs = cJSON_AddArrayToObject(out, "sections");

        for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
                struct explain e = { .pack = p, .schema = pack_schema(), .lines = cJSON_CreateArray(), .section = sections[i].name };
                const cJSON *sdoc = cJSON_GetObjectItemCaseSensitive(p->doc, sections[i].name);
                cJSON *s = cJSON_CreateObject();

                if (sections[i].fn)
                        sections[i].fn(&e);
                else
                        explain_rest(&e, sections[i].name);
                cJSON_AddStringToObject(s, "section", sections[i].name);
                cJSON_AddStringToObject(s, "title", sections[i].title);
                cJSON_AddItemToObject(s, "rules", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sdoc, "rule"), true));
                cJSON_AddItemToObject(s, "source", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sdoc, "source"), true));
                cJSON_AddItemToObject(s, "lines", e.lines);
                cJSON_AddItemToArray(secs, s);
        }

        if (gcctl_global.json) {
                gcctl_print_json(out);
                return GCCTL_EXIT_OK;
        }

        printf("%s (%s), %s\n", p->name, p->id, p->jurisdiction);
        const cJSON *src;
        cJSON_ArrayForEach(src, cJSON_GetObjectItemCaseSensitive(meta, "sources")) {
                const cJSON *date = cJSON_GetObjectItemCaseSensitive(src, "date");
                printf("  seed %s: 《%s》 %s%s%s\n", cJSON_GetObjectItemCaseSensitive(src, "seed")->valuestring,
                       cJSON_GetObjectItemCaseSensitive(src, "title")->valuestring,
                       cJSON_GetObjectItemCaseSensitive(src, "ref")->valuestring,
                       cJSON_IsString(date) ? ", " : "", cJSON_IsString(date) ? date->valuestring : "");
        }
        const cJSON *s;
        cJSON_ArrayForEach(s, secs) {
                _cleanup_free_ char *source = join_strings(cJSON_GetObjectItemCaseSensitive(s, "source"), "; ");
                const cJSON *l;
                printf("\n%s [%s]\n", cJSON_GetObjectItemCaseSensitive(s, "title")->valuestring,
                       *source ? source : "the jurisdiction's documents say nothing of this");
                cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(s, "lines"))
                        printf("  %-6s %s\n", cJSON_GetObjectItemCaseSensitive(l, "rule")->valuestring,
                               cJSON_GetObjectItemCaseSensitive(l, "text")->valuestring);
        }
        return GCCTL_EXIT_OK;
}

const struct gcctl_verb gcctl_policy_verbs[] = {
        { "check", "validate policy packs and name every bad field", check_usage, run_check, NULL },
        { "explain", "say what a policy pack decides, rule by rule", explain_usage, run_explain, NULL },
        {}
};
