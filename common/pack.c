/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "json.h"
#include "log.h"
#include "pack.h"

extern const char pack_schema_json[];
extern const size_t pack_schema_json_len;

static struct schema *schema_singleton;
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static void schema_init(void) {
        struct gc_error err = {};
        if (schema_load(pack_schema_json, pack_schema_json_len, &schema_singleton, &err) < 0) {
                /* The schema is part of the build; a broken one is a programming error. */
                char buf[GC_ERROR_FORMAT_MAX];
                log_error("built-in policy pack schema is invalid: %s", gc_error_format(&err, buf, sizeof buf));
                abort();
        }
}

const struct schema *pack_schema(void) {
        pthread_once(&schema_once, schema_init);
        return schema_singleton;
}

/* Accessors for a document the schema has already checked: types are right. */
static const cJSON *sect(const cJSON *doc, const char *name) {
        return cJSON_GetObjectItemCaseSensitive(doc, name);
}

static long opt_long(const cJSON *obj, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsNumber(v) ? (long) v->valuedouble : -1;
}

static double num(const cJSON *obj, const char *key) {
        return cJSON_GetObjectItemCaseSensitive(obj, key)->valuedouble;
}

static const char *opt_str(const cJSON *obj, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static enum pack_switch opt_switch(const cJSON *obj, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? PACK_YES : PACK_NO) : PACK_UNSET;
}

static bool streq(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static int parse_edge(const char *s, size_t n, bool *ret_has, double *ret_v) {
        char buf[32];
        char *end;

        if (n == 0) {
                *ret_has = false;
                *ret_v = 0;
                return 0;
        }
        if (n >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        double v = strtod(buf, &end);
        if (*end || !isfinite(v) || v < 0 || v > 100)
                return -EINVAL;
        *ret_has = true;
        *ret_v = v;
        return 0;
}

int pack_parse_band(const char *s, struct rightsize_band *ret) {
        struct rightsize_band b = {};
        size_t n = strlen(s);
        const char *comma;

        if (n < 3 || (s[0] != '[' && s[0] != '(') || (s[n - 1] != ']' && s[n - 1] != ')'))
                return -EINVAL;
        comma = memchr(s, ',', n);
        if (!comma || memchr(comma + 1, ',', s + n - comma - 1))
                return -EINVAL;
        if (parse_edge(s + 1, comma - s - 1, &b.has_from, &b.from) < 0 ||
            parse_edge(comma + 1, s + n - 1 - comma - 1, &b.has_to, &b.to) < 0)
                return -EINVAL;
        b.from_inclusive = b.has_from && s[0] == '[';
        b.to_inclusive = b.has_to && s[n - 1] == ']';
        if (b.has_from && b.has_to && (b.from > b.to || (b.from == b.to && !(b.from_inclusive && b.to_inclusive))))
                return -EINVAL;     /* empty */
        if (!b.has_from && !b.has_to)
                return -EINVAL;     /* everything: not a band */
        *ret = b;
        return 0;
}

/* Do a and b share a point? */
static bool bands_overlap(const struct rightsize_band *a, const struct rightsize_band *b) {
        double alo = a->has_from ? a->from : -INFINITY, ahi = a->has_to ? a->to : INFINITY;
        double blo = b->has_from ? b->from : -INFINITY, bhi = b->has_to ? b->to : INFINITY;

        if (ahi < blo || bhi < alo)
                return false;
        if (ahi == blo)
                return a->to_inclusive && b->from_inclusive && a->has_to && b->has_from;
        if (bhi == alo)
                return b->to_inclusive && a->from_inclusive && b->has_to && a->has_from;
        return true;
}

static void load_bands(const cJSON *list, const char *path, struct rightsize_band *bands, size_t *ret_n,
                       struct schema_issues *issues) {
        const cJSON *e;
        size_t n = 0;

        cJSON_ArrayForEach(e, list) {
                _cleanup_free_ char *p = json_path_index(path, n);
                _cleanup_free_ char *bp = json_path_key(p, "band");
                _cleanup_free_ char *fp = json_path_key(p, "factor");
                const char *text = opt_str(e, "band");
                struct rightsize_band b;

                if (pack_parse_band(text, &b) < 0) {
                        schema_issues_add(issues, bp, "is \"%s\", not an interval of percent within 0..100 (e.g. \"[15,30]\", \"(,15)\", \"[70,)\")", text);
                        n++;
                        continue;
                }
                b.factor = num(e, "factor");
                if (b.factor == 1)
                        schema_issues_add(issues, fp, "is 1: a band that changes nothing");
                snprintf(b.rule, sizeof b.rule, "%s", opt_str(e, "rule"));
                for (size_t i = 0; i < n && i < RIGHTSIZE_BANDS_MAX; i++)
                        if (bands_overlap(&bands[i], &b)) {
                                schema_issues_add(issues, bp, "overlaps band %zu: bands must not share a point (say which one holds an edge with [ ] or ( ))", i);
                                break;
                        }
                if (n < RIGHTSIZE_BANDS_MAX)
                        bands[n] = b;
                n++;
        }
        *ret_n = n < RIGHTSIZE_BANDS_MAX ? n : RIGHTSIZE_BANDS_MAX;
}

static int cmp_day(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

static int64_t *load_dates(const cJSON *list, const char *path, size_t *ret_n, struct schema_issues *issues) {
        int64_t *days = xnew(int64_t, cJSON_GetArraySize(list) + 1);
        const cJSON *e;
        size_t n = 0, i = 0;

        cJSON_ArrayForEach(e, list) {
                if (calendar_parse_date(e->valuestring, &days[n]) < 0) {
                        _cleanup_free_ char *p = json_path_index(path, i);
                        schema_issues_add(issues, p, "is \"%s\", not a calendar date (YYYY-MM-DD)", e->valuestring);
                } else
                        n++;
                i++;
        }
        qsort(days, n, sizeof *days, cmp_day);
        *ret_n = n;
        return days;
}

static void load_trial(struct pack *p, const cJSON *t, struct schema_issues *issues) {
        const char *unit = opt_str(t, "unit");

        /* R-LC2 */
        p->trial.unit = !unit ? TRIAL_NONE : streq(unit, "month") ? TRIAL_MONTHS : TRIAL_DAYS;
        p->trial.min = opt_long(t, "min");
        p->trial.max = opt_long(t, "max");
        p->trial.extension_allowed = streq(opt_str(t, "extension"), "authority");
        p->trial.max_extension = opt_long(t, "max_extension");

        if (p->trial.unit == TRIAL_NONE) {
                static const char *const fields[] = { "min", "max", "extension", "max_extension" };
                for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                        if (!json_is_null_or_missing(t, fields[i])) {
                                _cleanup_free_ char *path = json_path_key("$.trial", fields[i]);
                                schema_issues_add(issues, path, "must be null where trial.unit is null (no trial stage)");
                        }
                return;
        }
        if (p->trial.max < 0)
                schema_issues_add(issues, "$.trial.max", "is null, but a trial unit is set: the longest trial must be given");
        if (p->trial.min > 0 && p->trial.max > 0 && p->trial.min > p->trial.max)
                schema_issues_add(issues, "$.trial.min", "is %ld, above trial.max %ld", p->trial.min, p->trial.max);
        if (p->trial.unit == TRIAL_MONTHS && p->trial.max > 12)
                schema_issues_add(issues, "$.trial.max", "is %ld months, more than a year", p->trial.max);
        if (!p->trial.extension_allowed && p->trial.max_extension >= 0)
                schema_issues_add(issues, "$.trial.max_extension", "is set, but trial.extension is null (no extension)");
}

static void load_rightsizing(struct pack *p, const cJSON *rs, struct schema_issues *issues) {
        const cJSON *cpu = sect(rs, "cpu"), *mem = sect(rs, "memory"), *disk = sect(rs, "disk"), *idle = sect(rs, "idle");

        /* R-RS1..R-RS4: bands; R-RS5: disk; R-RS7: idle. */
        if (cJSON_IsArray(cpu))
                load_bands(cpu, "$.rightsizing.cpu", p->rightsize.cpu, &p->rightsize.n_cpu, issues);
        if (cJSON_IsArray(mem))
                load_bands(mem, "$.rightsizing.memory", p->rightsize.memory, &p->rightsize.n_memory, issues);
        p->rightsize.regulated = cJSON_IsArray(cpu) || cJSON_IsArray(mem) || cJSON_IsObject(disk);
        if (cJSON_IsObject(disk)) {
                p->rightsize.disk_regulated = true;
                p->rightsize.disk_usage_at_least = num(disk, "usage_at_least");
                p->rightsize.disk_requires_linear_growth = cJSON_IsTrue(sect(disk, "requires_linear_growth"));
                p->rightsize.disk_factor = num(disk, "factor");
                p->rightsize.disk_max_gib = opt_long(disk, "max_gib");
                snprintf(p->rightsize.disk_rule, sizeof p->rightsize.disk_rule, "%s", opt_str(disk, "rule"));
        }
        if (cJSON_IsObject(idle)) {
                p->rightsize.idle_regulated = true;
                p->rightsize.idle_cpu_below = num(idle, "cpu_below");
                p->rightsize.idle_memory_below = num(idle, "memory_below");
        }
}

static void load_calendar(struct pack *p, const cJSON *c, struct schema_issues *issues) {
        static const char *const days[] = { "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday" };
        const char *off = opt_str(c, "utc_offset");
        const cJSON *e;
        size_t nh = 0, nw = 0;

        /* "+08:00": the schema's pattern has checked the form. */
        int minutes = ((off[1] - '0') * 10 + (off[2] - '0')) * 60 + (off[4] - '0') * 10 + (off[5] - '0');
        p->calendar = CALENDAR_INIT(off[0] == '-' ? -minutes : minutes);
        p->calendar.weekend_mask = 0;
        cJSON_ArrayForEach(e, sect(c, "weekend"))
                for (unsigned d = 0; d < 7; d++)
                        if (streq(e->valuestring, days[d]))
                                p->calendar.weekend_mask |= 1u << (d + 1);

        p->holidays = load_dates(sect(c, "holidays"), "$.calendar.holidays", &nh, issues);
        p->workdays = load_dates(sect(c, "adjusted_workdays"), "$.calendar.adjusted_workdays", &nw, issues);
        for (size_t i = 0; i < nh; i++)
                if (bsearch(&p->holidays[i], p->workdays, nw, sizeof(int64_t), cmp_day)) {
                        int y;
                        unsigned m, d;
                        calendar_civil_from_days(p->holidays[i], &y, &m, &d);
                        schema_issues_add(issues, "$.calendar.adjusted_workdays", "lists %04d-%02u-%02u, which holidays lists too", y, m, d);
                }
        p->calendar.holidays = p->holidays;
        p->calendar.n_holidays = nh;
        p->calendar.workdays = p->workdays;
        p->calendar.n_workdays = nw;
}

static void load_sections(struct pack *p, const cJSON *doc, struct schema_issues *issues) {
        const cJSON *s;

        s = sect(doc, "pack");
        p->id = xstrdup(opt_str(s, "id"));
        p->name = xstrdup(opt_str(s, "name"));
        p->jurisdiction = xstrdup(opt_str(s, "jurisdiction"));

        s = sect(doc, "naming");
        p->naming.vm_name_rule = opt_str(s, "vm_name") != NULL;        /* R-NM2 */
        p->naming.relabel_working_days = opt_long(s, "relabel_working_days");  /* R-NM3 */

        load_trial(p, sect(doc, "trial"), issues);

        s = sect(doc, "deadlines");     /* R-LC6 */
        p->deadlines = (struct pack_deadlines) {
                .review = opt_long(s, "review"),
                .approval = opt_long(s, "approval"),
                .allocation = opt_long(s, "allocation"),
                .golive = opt_long(s, "golive"),
                .change_approval = opt_long(s, "change_approval"),
                .change = opt_long(s, "change"),
                .exit_review = opt_long(s, "exit_review"),
                .exit_reclaim = opt_long(s, "exit_reclaim"),
        };

        load_rightsizing(p, sect(doc, "rightsizing"), issues);

        s = sect(doc, "major_change");  /* R-RQ2 */
        p->major = (struct change_major_policy) {
                .new_vms_over = opt_long(s, "new_vms_over"),
                .cpu_cores_over = opt_long(s, "cpu_cores_over"),
                .memory_gib_over = opt_long(s, "memory_gib_over"),
                .storage_gib_over = opt_long(s, "storage_gib_over"),
        };

        s = sect(doc, "change_frequency");      /* R-RQ3 */
        p->frequency.max_per_calendar_month = opt_long(s, "max_per_calendar_month");
        p->frequency.exception_allowed = opt_switch(s, "exception_allowed") == PACK_YES;

        s = sect(doc, "admission");     /* R-SC1, R-SC2 */
        const char *agreement = opt_str(s, "security_agreement");
        p->admission.security_agreement = !agreement ? PACK_AGREEMENT_NONE
                : streq(agreement, "before_golive") ? PACK_AGREEMENT_BEFORE_GOLIVE
                : PACK_AGREEMENT_BEFORE_PROVISIONING;
        p->admission.internet_requires_admission = opt_switch(s, "internet_requires_admission");
        p->admission.mlps_test_due_months = opt_long(s, "mlps_test_due_months_after_golive");

        s = sect(doc, "network");       /* R-NW3 */
        p->egress_closed_until_reviewed = opt_str(s, "internet_egress") ? PACK_YES : PACK_UNSET;

        s = sect(doc, "remote_ops");    /* R-OP1..R-OP4 */
        p->remote_ops.allowed_by_default = opt_switch(s, "allowed_by_default");
        p->remote_ops.needs_unit_approval = opt_switch(s, "needs_unit_approval");
        p->remote_ops.real_name = opt_switch(s, "real_name");
        p->remote_ops.single_use = opt_switch(s, "single_use");
        p->remote_ops.max_minutes = opt_long(s, "max_minutes");
        p->remote_ops.long_lived_needs_security_authority = opt_str(s, "long_lived_approval") != NULL;
        p->remote_ops.bastion_audit = opt_switch(s, "bastion_audit");
        if (p->remote_ops.allowed_by_default == PACK_YES)
                /* R-OP4: the platform opens nothing without an approved tunnel. */
                schema_issues_add(issues, "$.remote_ops.allowed_by_default", "is true, but govcloud allows no remote operation without an approved tunnel (R-OP4)");
        if (p->remote_ops.single_use == PACK_NO)
                schema_issues_add(issues, "$.remote_ops.single_use", "is false, but govcloud's tunnels are single-use (R-OP2)");

        s = sect(doc, "exit");          /* R-EX1..R-EX3 */
        const cJSON *wipe = sect(s, "wipe");
        const char *method = opt_str(wipe, "method");
        const cJSON *grounds = cJSON_GetObjectItemCaseSensitive(s, "reclaim_grounds"), *g;
        p->exit.reclaim_grounds_listed = cJSON_IsArray(grounds);
        if (!p->exit.reclaim_grounds_listed)
                grounds = NULL;
        cJSON_ArrayForEach(g, grounds) {
                int k = pack_reclaim_ground_from_string(cJSON_GetStringValue(g));
                if (k >= 0)
                        p->exit.reclaim_grounds |= 1u << k;
        }
        p->exit.migration_grace_days = opt_long(s, "migration_grace_days");
        p->exit.tenant_statement_required = opt_switch(s, "tenant_statement_required");
        p->exit.authority_may_order_wipe = opt_switch(s, "authority_may_order_wipe") == PACK_YES;
        p->exit.wipe_method = !method ? PACK_WIPE_DEFAULT
                : streq(method, "zero") ? PACK_WIPE_ZERO
                : streq(method, "random") ? PACK_WIPE_RANDOM
                : PACK_WIPE_CRYPTO_ERASE;
        p->exit.wipe_passes = opt_long(wipe, "passes");
        p->exit.wipe_verify_sampled = streq(opt_str(wipe, "verify"), "sampled");
        p->exit.wipe_report_required = opt_switch(wipe, "report_required");

        p->audit_retention_months = opt_long(sect(doc, "audit"), "retention_months");  /* R-AU1 */

        s = sect(doc, "crypto");        /* R-SC4: SM2 and SM3 unless the pack says otherwise */
        p->signature = streq(opt_str(s, "signature"), "ed25519") ? GC_KEY_ED25519 : GC_KEY_SM2;
        p->hash = streq(opt_str(s, "hash"), "sha256") ? GC_HASH_SHA256 : GC_HASH_SM3;

        s = sect(doc, "reporting");     /* R-RS7, R-AU2 */
        p->reporting.monthly_usage_report = opt_switch(s, "monthly_usage_report");
        p->reporting.due_day_of_month = opt_long(s, "due_day_of_month");

        load_calendar(p, sect(doc, "calendar"), issues);
}

int pack_load(const char *text, size_t len, struct pack **ret, struct schema_issues *issues) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_(pack_freep) struct pack *p = NULL;
        struct gc_error err = {};
        int r;

        *issues = (struct schema_issues) {};

        r = json_parse(text, len, &doc, &err);
        if (r < 0) {
                schema_issues_add(issues, err.field[0] ? err.field : "$", "%s", err.message);
                return -EINVAL;
        }
        if (schema_validate(pack_schema(), doc, issues) > 0)
                return -EINVAL;

        p = xnew(struct pack, 1);
        load_sections(p, doc, issues);
        if (issues->n > 0)
                return -EINVAL;

        p->doc = TAKE_PTR(doc);
        *ret = TAKE_PTR(p);
        return 0;
}

int pack_load_file(const char *path, struct pack **ret, struct schema_issues *issues) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r;

        r = gc_read_file(path, PACK_FILE_MAX, &data, &len);
        if (r < 0) {
                *issues = (struct schema_issues) {};
                if (r == -EFBIG)
                        schema_issues_add(issues, "$", "the file is larger than %d bytes", PACK_FILE_MAX);
                else
                        schema_issues_add(issues, "$", "the file cannot be read: %s", strerror(-r));
                return r;
        }
        return pack_load(data, len, ret, issues);
}

void pack_free(struct pack *p) {
        if (!p)
                return;
        free(p->id);
        free(p->name);
        free(p->jurisdiction);
        free(p->holidays);
        free(p->workdays);
        cJSON_Delete(p->doc);
        free(p);
}

int pack_reclaim_ground_from_string(const char *s) {
        static const char *const names[_PACK_GROUND_MAX] = {
                [PACK_GROUND_MISUSE] = "misuse",
                [PACK_GROUND_PIGGYBACK] = "piggyback",
                [PACK_GROUND_NO_LONGER_NEEDED] = "no_longer_needed",
                [PACK_GROUND_CONSOLIDATION] = "consolidation",
                [PACK_GROUND_UNFIXABLE_RISK] = "unfixable_risk",
                [PACK_GROUND_NONCOMPLIANCE] = "noncompliance",
                [PACK_GROUND_LOW_UTILIZATION] = "low_utilization",
        };
        for (int i = 0; s && i < _PACK_GROUND_MAX; i++)
                if (strcmp(names[i], s) == 0)
                        return i;
        return -1;
}
