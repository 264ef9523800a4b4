/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monthly utilization report's renderers (report.h, R-RS7): CSV rows,
 * columns, quoting, totals and empty cells for gaps; the HTML page's rows,
 * bands, idle flags and charts, escaping, and no figure where there is no
 * data; malformed models refused naming the member.
 *
 * tests/unit/data/report-monthly.json is the model the orchestrator builds
 * (orchestrator/usage.c), written once by a throwaway script: 包头市大数据局,
 * October 2026, two systems. 协同办公 on a Baotou pool (its pack's bands)
 * with three VMs: 应用服务器1 idle (CPU 11.2 %, memory 18.5 %: both cut to a
 * quarter, R-RS1/R-RS2, R-RS7; no data on day 10), 数据库服务器1 busy (CPU
 * 72.4 % ×3 R-RS3, memory 81 % ×2 R-RS4, data disk 85.3 % growing linearly
 * ×2 R-RS5), 备份服务器1 without a single sample (every figure null).
 * 政务公开 on a Lu'an pool, whose pack has no bands (regulated false), with
 * one VM. Its totals are the sums; test_fixture_totals checks that.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "json.h"
#include "report.h"
#include "html-rows.h"

#define OUT_MAX (16 * 1024 * 1024)
#define UNIT "包头市大数据局"
#define VM1 UNIT "协同办公应用服务器1"
#define VM2 UNIT "协同办公数据库服务器1"
#define VM3 UNIT "协同办公备份服务器1"
#define VM4 UNIT "政务公开网站服务器1"
#define BOM "\xEF\xBB\xBF"
#define NCOLS 24

static cJSON *fixture(void) {
        _cleanup_free_ char *path = xasprintf("%s/tests/unit/data/report-monthly.json", GC_SRCDIR);
        struct gc_error err = {};
        cJSON *r = NULL;

        if (json_parse_file(path, 16 * 1024 * 1024, &r, &err) < 0)
                fail_msg("%s: %s %s", path, err.field, err.message);
        return r;
}

static cJSON *at(cJSON *root, const char *path) {
        cJSON *v = (cJSON *) json_path_get(root, path);
        if (!v)
                fail_msg("the fixture has no %s", path);
        return v;
}

static void set(cJSON *root, const char *parent, const char *key, cJSON *v) {
        cJSON *p = at(root, parent);
        if (cJSON_GetObjectItemCaseSensitive(p, key))
                cJSON_ReplaceItemInObjectCaseSensitive(p, key, v);
        else
                cJSON_AddItemToObject(p, key, v);
}

static char *render_csv(const cJSON *report) {
        struct gc_buf out = GC_BUF_INIT(OUT_MAX);
        struct gc_error err = {};
        int r = report_csv(report, &out, &err);
        if (r < 0)
                fail_msg("report_csv: %s: %s: %s", strerror(-r), err.field, err.message);
        return gc_buf_steal(&out, NULL);
}

static char *render_html(const cJSON *report) {
        struct gc_buf out = GC_BUF_INIT(OUT_MAX);
        struct gc_error err = {};
        int r = report_html(report, &out, &err);
        if (r < 0)
                fail_msg("report_html: %s: %s: %s", strerror(-r), err.field, err.message);
        return gc_buf_steal(&out, NULL);
}

static size_t count(const char *hay, const char *needle) {
        size_t n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static void contains(const char *text, const char *needle) {
        if (!strstr(text, needle))
                fail_msg("lacks \"%s\"", needle);
}

static void lacks(const char *text, const char *needle) {
        if (strstr(text, needle))
                fail_msg("has \"%s\"", needle);
}

/* The part of text from the first from up to the next to (the end when to is NULL). */
static char *between(const char *text, const char *from, const char *to) {
        const char *a = strstr(text, from), *z;
        if (!a)
                fail_msg("lacks \"%s\"", from);
        z = to ? strstr(a + strlen(from), to) : a + strlen(a);
        if (!z)
                fail_msg("lacks \"%s\" after \"%s\"", to, from);
        return xstrndup(a, (size_t) (z - a));
}

/* ---- a strict RFC 4180 reader, for the CSV ---- */

struct csv_rows {
        char ***rows;           /* rows[i][j], each row NCOLS cells */
        size_t *ncells;
        size_t n;
};

static void csv_rows_free(struct csv_rows *t) {
        for (size_t i = 0; i < t->n; i++) {
                for (size_t j = 0; j < t->ncells[i]; j++)
                        free(t->rows[i][j]);
                free(t->rows[i]);
        }
        free(t->rows);
        free(t->ncells);
}

/* Every record ends in CRLF; a quoted cell may hold anything, "" a quote. */
static void csv_read(const char *s, struct csv_rows *t) {
        struct gc_buf cell = GC_BUF_INIT(1 << 20);
        char **row = NULL;
        size_t n = 0;

        *t = (struct csv_rows) {};
        while (*s) {
                bool quoted = *s == '"';
                if (quoted) {
                        for (s++;; s++) {
                                if (!*s)
                                        fail_msg("a quoted cell does not end");
                                if (*s == '"' && s[1] == '"')
                                        s++;
                                else if (*s == '"')
                                        break;
                                assert_int_equal(gc_buf_append_char(&cell, *s), 0);
                        }
                        s++;
                } else
                        for (; *s && *s != ',' && *s != '\r' && *s != '\n'; s++) {
                                if (*s == '"')
                                        fail_msg("a quote in an unquoted cell");
                                assert_int_equal(gc_buf_append_char(&cell, *s), 0);
                        }
                row = xrealloc(row, (n + 1) * sizeof *row);
                row[n++] = gc_buf_steal(&cell, NULL);
                if (*s == ',') {
                        s++;
                        continue;
                }
                if (s[0] != '\r' || s[1] != '\n')
                        fail_msg("a record does not end in CRLF: \"%.20s\"", s);
                s += 2;
                t->rows = xrealloc(t->rows, (t->n + 1) * sizeof *t->rows);
                t->ncells = xrealloc(t->ncells, (t->n + 1) * sizeof *t->ncells);
                t->rows[t->n] = row;
                t->ncells[t->n++] = n;
                row = NULL;
                n = 0;
        }
        assert_null(row);
        gc_buf_free(&cell);
}

/* Row i joined by "|", to compare with what a spreadsheet shows. */
static char *csv_row(const struct csv_rows *t, size_t i) {
        struct gc_buf b = GC_BUF_INIT(1 << 20);
        assert_true(i < t->n);
        for (size_t j = 0; j < t->ncells[i]; j++)
                assert_int_equal(gc_buf_printf(&b, "%s%s", j ? "|" : "", t->rows[i][j]), 0);
        return gc_buf_steal(&b, NULL);
}

static void csv_row_is(const struct csv_rows *t, size_t i, const char *want) {
        _cleanup_free_ char *got = csv_row(t, i);
        if (strcmp(got, want) != 0)
                fail_msg("CSV row %zu:\n got:  %s\n want: %s", i, got, want);
}


/* ---- the fixture ---- */

static double num(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsNumber(v))
                fail_msg("no number %s", key);
        return v->valuedouble;
}

/* The totals are the sums of the VMs, per system and for the unit; every
 * daily series has a value or null per day. */
static void test_fixture_totals(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *r = fixture();
        const char *const rec[] = { "vcpus", "memory_gib", "system_disk_gib", "data_disk_gib" };
        double unit[9] = {}, systems = 0;
        const cJSON *s, *vm;

        cJSON_ArrayForEach(s, cJSON_GetObjectItem(r, "systems")) {
                double sum[9] = {};     /* vms vcpus memory disk idle changes, after: vcpus memory disk */
                const cJSON *t = cJSON_GetObjectItem(s, "totals"), *after = cJSON_GetObjectItem(t, "after");

                systems++;
                cJSON_ArrayForEach(vm, cJSON_GetObjectItem(s, "vms")) {
                        const cJSON *a = cJSON_GetObjectItem(vm, "allocation"), *rc = cJSON_GetObjectItem(vm, "recommendation");
                        double size[4];

                        for (int k = 0; k < 4; k++) {
                                const cJSON *ch = cJSON_GetObjectItem(rc, rec[k]);
                                size[k] = cJSON_IsObject(ch) ? num(ch, "after") : num(a, rec[k]);
                                if (cJSON_IsObject(ch)) {
                                        assert_true(num(ch, "before") == num(a, rec[k]));
                                        sum[5]++;
                                }
                        }
                        sum[0]++;
                        sum[1] += num(a, "vcpus");
                        sum[2] += num(a, "memory_gib");
                        sum[3] += num(a, "system_disk_gib") + num(a, "data_disk_gib");
                        sum[4] += cJSON_IsTrue(cJSON_GetObjectItem(vm, "idle"));
                        sum[6] += size[0];
                        sum[7] += size[1];
                        sum[8] += size[2] + size[3];
                        for (int k = 0; k < 3; k++) {
                                static const char *const series[] = { "cpu", "memory", "disk" };
                                const cJSON *d = cJSON_GetObjectItem(cJSON_GetObjectItem(vm, "daily"), series[k]);
                                assert_int_equal(cJSON_GetArraySize(d), 31);
                        }
                }
                const double want[9] = {
                        num(t, "vms"), num(t, "vcpus"), num(t, "memory_gib"), num(t, "disk_gib"), num(t, "idle"),
                        num(t, "changes"), num(after, "vcpus"), num(after, "memory_gib"), num(after, "disk_gib"),
                };
                for (int k = 0; k < 9; k++) {
                        assert_true(sum[k] == want[k]);
                        unit[k] += sum[k];
                }
        }
        const cJSON *t = cJSON_GetObjectItem(r, "totals"), *after = cJSON_GetObjectItem(t, "after");
        const double want[9] = {
                num(t, "vms"), num(t, "vcpus"), num(t, "memory_gib"), num(t, "disk_gib"), num(t, "idle"),
                num(t, "changes"), num(after, "vcpus"), num(after, "memory_gib"), num(after, "disk_gib"),
        };
        for (int k = 0; k < 9; k++)
                assert_true(unit[k] == want[k]);
        assert_true(num(t, "systems") == systems);
}

/* ---- CSV ---- */

static void test_csv_fixture(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *r = fixture();
        _cleanup_free_ char *csv = render_csv(r);
        struct csv_rows t;

        /* UTF-8 with a BOM, for Excel */
        assert_memory_equal(csv, BOM "unit,system,vm,", 18);
        csv_read(csv + 3, &t);
        /* a header, 3 + 1 VMs, a total per system, the unit's */
        assert_int_equal(t.n, 1 + 4 + 2 + 1);
        for (size_t i = 0; i < t.n; i++)
                if (t.ncells[i] != NCOLS)
                        fail_msg("row %zu has %zu cells, not %d", i, t.ncells[i], NCOLS);
        csv_row_is(&t, 0, "unit|system|vm|role|vcpus|memory_gib|system_disk_gib|data_disk_gib|days|cpu_avg|cpu_peak|"
                          "memory_avg|memory_peak|disk_usage|disk_used_gib|disk_trend_pp_per_day|disk_r2|disk_linear|"
                          "recommended_vcpus|recommended_memory_gib|recommended_disk|rules|idle|reasons");
        csv_row_is(&t, 1, UNIT "|协同办公|" VM1 "|应用服务器|8|16|40|200|30|11.2|35|18.5|30.1|42.6|85.2|0.01|0.02|false|"
                          "2|4||R-RS1 R-RS2 R-RS7|true|"
                          "R-RS1: CPU average 11.2 % is below 15 %: 8 → 2 vCPUs | "
                          "R-RS2: memory average 18.5 % is below 20 %: 16 → 4 GiB");
        csv_row_is(&t, 2, UNIT "|协同办公|" VM2 "|数据库服务器|4|16|40|500|31|72.4|98.6|81|95.2|85.3|426.5|0.61|0.97|true|"
                          "12|32|data_disk_gib=1000|R-RS3 R-RS4 R-RS5|false|"
                          "R-RS3: CPU average 72.4 % is at or above 70 %: 4 → 12 vCPUs | "
                          "R-RS4: memory average 81.0 % is at or above 70 %: 16 → 32 GiB | "
                          "R-RS5: disk usage 85.3 % is at or above 80 % and growing linearly (0.61 points a day, R² 0.97): "
                          "500 → 1000 GiB");
        /* no samples: every figure empty, not 0 */
        csv_row_is(&t, 3, UNIT "|协同办公|" VM3 "|备份服务器|2|4|40|100|0||||||||||||||false|");
        csv_row_is(&t, 4, UNIT "|协同办公||system total|14|36|120|800|||||||||||16|40|disk_gib=1420||1|vms=3; changes=5");
        /* a pack without bands: figures, no recommendation */
        csv_row_is(&t, 5, UNIT "|政务公开|" VM4 "|网站服务器|2|4|60|0|31|9.8|22|12|20|30.4|18.2|0.05|0.4|false|||||false|");
        csv_row_is(&t, 6, UNIT "|政务公开||system total|2|4|60|0|||||||||||2|4|disk_gib=60||0|vms=1; changes=0");
        csv_row_is(&t, 7, UNIT "|||unit total|16|40|180|800|||||||||||18|44|disk_gib=1480||1|"
                          "systems=2; vms=4; changes=5");
        /* the reasons with a comma are quoted, the others are not */
        contains(csv, ",false,\"R-RS3: CPU average");
        contains(csv, ",true,R-RS1: CPU average");
        assert_int_equal(count(csv, "\r\n"), 8);
        assert_int_equal(count(csv, "\n"), 8);
        csv_rows_free(&t);
}

/* Names with commas, quotes and line breaks; a cell that would be a
 * formula; bytes that are not UTF-8; a negative trend stays a number. */
static void test_csv_quoting(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *r = fixture();
        _cleanup_free_ char *csv = NULL, *row = NULL;
        struct csv_rows t;

        set(r, "$.systems[0].vms[0]", "name", cJSON_CreateString("a,\"b\"\r\nc"));
        set(r, "$.systems[0].vms[0]", "role", cJSON_CreateString("=HYPERLINK(\"x\")"));
        set(r, "$.systems[0]", "name", cJSON_CreateString("系\xff统"));
        set(r, "$.systems[0].vms[1].disk", "slope", cJSON_CreateNumber(-0.12));
        csv = render_csv(r);
        contains(csv, ",\"a,\"\"b\"\"\r\nc\",\"'=HYPERLINK(\"\"x\"\")\",");
        contains(csv, ",-0.12,");
        lacks(csv, "\xff");
        csv_read(csv + 3, &t);
        assert_int_equal(t.n, 8);
        assert_string_equal(t.rows[1][2], "a,\"b\"\r\nc");
        assert_string_equal(t.rows[1][3], "'=HYPERLINK(\"x\")");
        assert_string_equal(t.rows[1][1], "系\xEF\xBF\xBD统");
        assert_string_equal(t.rows[2][15], "-0.12");
        for (size_t i = 0; i < t.n; i++)
                assert_int_equal(t.ncells[i], NCOLS);
        csv_rows_free(&t);

        /* a skipped dimension (R-RS6) is a reason, not a change */
        cJSON *skipped = at(r, "$.systems[0].vms[0].recommendation.skipped"), *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "dimension", "memory_gib");
        cJSON_AddStringToObject(s, "rule", "R-RS6");
        cJSON_AddStringToObject(s, "reason", "already at the platform's smallest flavour");
        cJSON_AddItemToArray(skipped, s);
        free(csv);
        csv = render_csv(r);
        csv_read(csv + 3, &t);
        contains(t.rows[1][23], " | R-RS6 memory_gib: already at the platform's smallest flavour");
        assert_string_equal(t.rows[1][19], "4");
        csv_rows_free(&t);
}

/* ---- HTML ---- */

static void self_contained(const char *html) {
        assert_true(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
        contains(html, "<meta charset=\"utf-8\">");
        contains(html, "@page{size:A4 landscape;");
        contains(html, "section.system{break-before:page;page-break-before:always}");
        contains(html, "tr{page-break-inside:avoid;break-inside:avoid}");
        lacks(html, "<script");
        lacks(html, "<link");
        lacks(html, "<img");
        lacks(html, "src=");
        lacks(html, "href");
        lacks(html, "url(");
        lacks(html, "@import");
        lacks(html, "@font-face");
        lacks(html, "http:");
        lacks(html, "https:");
        /* no event handler attribute: " on" followed by letters and "=" */
        for (const char *p = html; (p = strstr(p, " on")); p += 3) {
                size_t n = strspn(p + 3, "abcdefghijklmnopqrstuvwxyz");
                if (n > 0 && p[3 + n] == '=')
                        fail_msg("an event handler: %.30s", p);
        }
}

static void test_html_fixture(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *r = fixture();
        _cleanup_free_ char *html = render_html(r);
        _cleanup_free_ char *sys1 = between(html, "<section class=\"system\">", "</section>");
        _cleanup_free_ char *sys2 = between(html, "<h2>二、政务公开</h2>", "</section>");
        _cleanup_free_ char *chart1 = between(sys1, "<h4>" VM1, "</div>");
        _cleanup_free_ char *chart3 = between(sys1, "<h4>" VM3, "</div>");
        _cleanup_free_ char *cpu_path = between(chart1, "<path fill=\"none\" stroke-width=\"1.1\" stroke-linejoin=\"round\" "
                                                        "stroke=\"#1f4e79\" d=\"", "\"/>");

        self_contained(html);
        contains(html, "<h1>政务云资源月度使用情况表 <span class=\"rule\">(R-RS7)</span></h1>");
        row_is(html, "<table class=\"info header\">\n<tr>", 0, "使用单位|" UNIT "|统计月份|2026-10");
        row_is(html, "</tr>\n<tr>", 0, "统计周期|2026-10-01 至 2026-10-31（31 天，UTC+08:00）|报送期限|2026-11-05");
        contains(html, "<th>生成时间</th><td>2026-11-01T00:00:05Z</td>");

        /* the unit's summary: a row per system and the total */
        _cleanup_free_ char *summary = between(html, "<table class=\"summary\">", "</table>");
        row_is(summary, "<tbody>\n<tr>", 0, "1|协同办公|包头-A|3|14|36|920|1|5|16|40|1420");
        row_is(summary, "<tr class=\"total\">", 0, "单位合计（2 个系统）|4|16|40|980|1|5|18|44|1480");

        /* each system on its own page, its VMs in rows */
        assert_int_equal(count(html, "<section class=\"system\">"), 2);
        contains(html, "<h2>一、协同办公</h2>");
        assert_int_equal(count(html, "<tr class=\"vm"), 4);
        row_is(sys1, "<tr class=\"vm idle\">", 0,
               "1|" VM1 "|应用服务器|8|16|40|200|30|11.20|35.00|18.50|30.10|42.60|85.2|+0.01|0.02|否|8 → 2|16 → 4|—|"
               "R-RS1 R-RS2 R-RS7|闲置|"
               "R-RS1：CPU average 11.2 % is below 15 %: 8 → 2 vCPUs R-RS2：memory average 18.5 % is below 20 %: 16 → 4 GiB");
        row_is(sys1, "<tr class=\"vm\">", 0,
               "2|" VM2 "|数据库服务器|4|16|40|500|31|72.40|98.60|81.00|95.20|85.30|426.5|+0.61|0.97|是|4 → 12|16 → 32|"
               "数据盘 500 → 1000|R-RS3 R-RS4 R-RS5|否|"
               "R-RS3：CPU average 72.4 % is at or above 70 %: 4 → 12 vCPUs "
               "R-RS4：memory average 81.0 % is at or above 70 %: 16 → 32 GiB "
               "R-RS5：disk usage 85.3 % is at or above 80 % and growing linearly (0.61 points a day, R² 0.97): 500 → 1000 GiB");
        /* no samples: "—" in every figure, never 0 */
        row_is(sys1, "<tr class=\"vm\">", 1,
               "3|" VM3 "|备份服务器|2|4|40|100|0|—|—|—|—|—|—|—|—|—|—|—|—|—|—|无数据：本月无采样，不作调整建议");
        row_is(sys1, "<tr class=\"total\">", 0, "合计（3 台）|14|36|磁盘 920||14 → 16|36 → 40|920 → 1420||1 台|调整建议 5 项");

        /* the idle VM flagged, in its row and its chart (R-RS7) */
        assert_int_equal(count(html, "<tr class=\"vm idle\">"), 1);
        assert_int_equal(count(html, "<div class=\"vmchart idle\">"), 1);
        contains(html, "<div class=\"vmchart idle\">\n<h4>" VM1 " <span class=\"flag\">闲置 R-RS7</span></h4>");
        /* a chart per VM, each VM's name in its row and over its chart */
        assert_int_equal(count(html, "<div class=\"vmchart"), 4);
        for (const char *const *n = (const char *const[]) { VM1, VM2, VM3, VM4, NULL }; *n; n++)
                assert_int_equal(count(html, *n), 2);

        /* the bands behind the bars, labelled with rule and factor */
        for (const char *const *b = (const char *const[]) { "R-RS1 ×0.25", "R-RS1 ×0.5", "R-RS3 ×2", "R-RS3 ×3",
                                                              "R-RS2 ×0.25", "R-RS2 ×0.5", "R-RS4 ×2", "R-RS5 ×2", NULL };
             *b; b++) {
                _cleanup_free_ char *label = xasprintf("\">%s</text>", *b);
                assert_int_equal(count(sys1, label), 3);        /* over each of the three VMs' bars */
        }
        contains(sys1, "CPU 档位：&lt;15% → ×0.25（R-RS1）；[15%, 30%] → ×0.5（R-RS1）；[50%, 70%) → ×2（R-RS3）；"
                       "≥70% → ×3（R-RS3）");
        contains(sys1, "闲置：CPU 月均 &lt;15% 且内存月均 &lt;20%（R-RS7）");
        /* the idle thresholds and the disk line over the daily chart */
        contains(chart1, "stroke=\"#c00000\" stroke-width=\"0.9\" stroke-dasharray=\"3 2\"");
        contains(chart1, "stroke=\"#6d4c41\" stroke-width=\"0.9\" stroke-dasharray=\"5 2\"");
        /* day 10 has no sample: the CPU line breaks there */
        assert_int_equal(count(cpu_path, "M"), 2);
        assert_int_equal(count(cpu_path, "L"), 28);
        contains(chart1, ">11.20%</text>");

        /* no samples: no bar, no figure */
        assert_int_equal(count(chart3, ">无数据</text>"), 5);
        contains(chart3, "无数据（本月无采样）");
        lacks(chart3, "0.00");
        lacks(chart3, "<circle");
        /* the bands only (CPU 4, memory 3, disk 1); the idle VM's chart has its five bars too */
        assert_int_equal(count(chart3, "<rect"), 8);
        assert_int_equal(count(chart1, "<rect"), 8 + 5);

        /* the pack without bands: no shading, no idle verdict, said so */
        contains(sys2, "未规定使用率调整档位：不作调整建议，仅报告使用情况（R-RS7）");
        lacks(sys2, "R-RS1");
        assert_int_equal(count(sys2, "<rect"), 5);      /* its five bars, no band */
        lacks(sys2, "#c00000");
        row_is(sys2, "<tr class=\"vm\">", 0,
               "1|" VM4 "|网站服务器|2|4|60|0|31|9.80|22.00|12.00|20.00|30.40|18.2|+0.05|0.40|否|—|—|—|—|—|—");
}

static void test_html_escaping(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *r = fixture();
        _cleanup_free_ char *html = NULL;

        set(r, "$", "unit", cJSON_CreateString("A&B<script>alert(1)</script>"));
        set(r, "$.systems[0]", "name", cJSON_CreateString("<b>'系统'</b>"));
        set(r, "$.systems[0].vms[0]", "name", cJSON_CreateString("vm\"><svg onload=alert(1)>"));
        set(r, "$.systems[0].vms[1].recommendation.vcpus", "reason", cJSON_CreateString("</td><td>\x01x\xfe"));
        set(r, "$.systems[0].bands.cpu[0]", "rule", cJSON_CreateString("R-RS1</text><text>"));
        html = render_html(r);
        lacks(html, "<script");
        lacks(html, "<svg onload");
        lacks(html, "<b>'");
        lacks(html, "</text><text>");
        lacks(html, "\x01");
        lacks(html, "\xfe");
        contains(html, "A&amp;B&lt;script&gt;alert(1)&lt;/script&gt;");
        contains(html, "&lt;b&gt;&#39;系统&#39;&lt;/b&gt;");
        contains(html, "<h4>vm&quot;&gt;&lt;svg onload=alert(1)&gt; <span class=\"flag\">闲置 R-RS7</span></h4>");
        contains(html, "&lt;/td&gt;&lt;td&gt;\xEF\xBF\xBDx\xEF\xBF\xBD");
        contains(html, ">R-RS1&lt;/text&gt;&lt;text&gt; ×0.25</text>");
}

/* ---- refusals ---- */

static void refused(cJSON *r, const char *field, const char *message) {
        struct gc_buf out = GC_BUF_INIT(OUT_MAX);
        struct gc_error err = {};

        assert_int_equal(gc_buf_append_str(&out, "before"), 0);
        for (int k = 0; k < 2; k++) {
                err = (struct gc_error) {};
                int ret = k == 0 ? report_csv(r, &out, &err) : report_html(r, &out, &err);
                if (ret != -EINVAL)
                        fail_msg("%s accepted a model with a bad %s (%d)", k ? "report_html" : "report_csv", field, ret);
                if (strcmp(err.field, field) != 0)
                        fail_msg("refused naming \"%s\" (%s), not \"%s\"", err.field, err.message, field);
                if (!strstr(err.message, message))
                        fail_msg("%s: \"%s\" does not say \"%s\"", field, err.message, message);
                assert_string_equal(err.rule, "R-RS7");
        }
        /* refusals leave the buffer as it was */
        assert_string_equal(out.data, "before");
        gc_buf_free(&out);
}

static void test_refused(void **state) {
        static const struct {
                const char *parent, *key, *json;        /* json NULL: delete the member */
                const char *field, *message;
        } bad[] = {
                { "$", "unit", NULL, "unit", "is missing" },
                { "$", "unit", "\"\"", "unit", "is not a string that is not empty" },
                { "$", "schema", "\"govcloud-report/2\"", "schema", "is not govcloud-report/1" },
                { "$", "month", "\"2026-13\"", "month", "is not YYYY-MM" },
                { "$", "systems", "{}", "systems", "is not an array" },
                { "$.period", "days", "0", "period.days", "is not from 1 to 366" },
                { "$.period", "days", "30", "systems[0].vms[0].daily.cpu", "has 31 entries" },
                { "$.totals", "systems", NULL, "totals.systems", "is missing" },
                { "$.systems[1]", "bands", "null", "systems[1].bands", "is not an object" },
                { "$.systems[1].bands", "regulated", NULL, "systems[1].bands.regulated", "is missing" },
                { "$.systems[0].bands.cpu[1]", "rule", NULL, "systems[0].bands.cpu[1].rule", "is missing" },
                { "$.systems[0].bands.cpu[1]", "to", "10", "systems[0].bands.cpu[1]", "ends below where it starts" },
                { "$.systems[0].bands.memory[2]", "factor", "0", "systems[0].bands.memory[2].factor", "is not above 0" },
                { "$.systems[0].bands", "idle", "[]", "systems[0].bands.idle", "is not an object or null" },
                { "$.systems[0].totals.after", "disk_gib", NULL, "systems[0].totals.after.disk_gib", "is missing" },
                { "$.systems[0].vms[1].cpu", "avg", "\"high\"", "systems[0].vms[1].cpu.avg",
                  "is not a percentage from 0 to 100" },
                { "$.systems[0].vms[1].memory", "peak", "100.5", "systems[0].vms[1].memory.peak",
                  "is not a percentage from 0 to 100" },
                { "$.systems[0].vms[2].allocation", "vcpus", "-1", "systems[0].vms[2].allocation.vcpus",
                  "is not a whole number from 0" },
                { "$.systems[0].vms[2]", "days", "32", "systems[0].vms[2].days", "is more than the period's 31 days" },
                { "$.systems[0].vms[0].recommendation.vcpus", "after", "\"2\"",
                  "systems[0].vms[0].recommendation.vcpus.after", "is not a whole number from 0" },
                { "$.systems[0].vms[0]", "idle", "null", "systems[0].vms[0].idle", "is not true or false" },
                { "$.systems[1].vms[0]", "name", "7", "systems[1].vms[0].name", "is not a string" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(cJSON_Deletep) cJSON *r = fixture();
                if (bad[i].json) {
                        cJSON *v = cJSON_Parse(bad[i].json);
                        assert_non_null(v);
                        set(r, bad[i].parent, bad[i].key, v);
                } else
                        cJSON_DeleteItemFromObjectCaseSensitive(at(r, bad[i].parent), bad[i].key);
                refused(r, bad[i].field, bad[i].message);
        }

        /* a day's value out of range, and the model that is not an object */
        _cleanup_(cJSON_Deletep) cJSON *r = fixture();
        cJSON_ReplaceItemInArray(at(r, "$.systems[0].vms[0].daily.disk"), 4, cJSON_CreateString("42"));
        refused(r, "systems[0].vms[0].daily.disk[4]", "is not a percentage from 0 to 100 or null");
        _cleanup_(cJSON_Deletep) cJSON *arr = cJSON_CreateArray();
        refused(arr, "", "is not an object");
        refused(NULL, "", "is not an object");
}

/* The cap: -ENOBUFS, and what the buffer held before is kept. */
static void test_nobufs(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *r = fixture();
        struct gc_error err = {};

        for (int k = 0; k < 2; k++) {
                struct gc_buf out = GC_BUF_INIT(1024);
                assert_int_equal(gc_buf_append_str(&out, "kept"), 0);
                assert_int_equal(k == 0 ? report_csv(r, &out, &err) : report_html(r, &out, &err), -ENOBUFS);
                assert_string_equal(out.data, "kept");
                assert_int_equal(out.len, 4);
                gc_buf_free(&out);

                /* with room, it appends after what is there */
                out = GC_BUF_INIT(OUT_MAX);
                assert_int_equal(gc_buf_append_str(&out, "kept"), 0);
                assert_int_equal(k == 0 ? report_csv(r, &out, &err) : report_html(r, &out, &err), 0);
                assert_true(strncmp(out.data, k == 0 ? "kept" BOM "unit," : "kept<!DOCTYPE html>", k == 0 ? 12 : 19) == 0);
                gc_buf_free(&out);
        }
}

/* A unit whose systems have no VMs, and members the model may leave out. */
static void test_minimal(void **state) {
        static const char model[] =
                "{\"schema\":\"govcloud-report/1\",\"unit\":\"六安市数据资源局\",\"month\":\"2026-02\","
                "\"period\":{\"first\":\"2026-02-01\",\"last\":\"2026-02-28\",\"days\":28},\"due\":null,"
                "\"systems\":[],\"totals\":{\"systems\":0,\"vms\":0,\"vcpus\":0,\"memory_gib\":0,\"disk_gib\":0,"
                "\"idle\":0,\"changes\":0,\"after\":{\"vcpus\":0,\"memory_gib\":0,\"disk_gib\":0}}}";
        _cleanup_(cJSON_Deletep) cJSON *r = cJSON_Parse(model);
        _cleanup_free_ char *csv = render_csv(r), *html = render_html(r);

        /* the header and the unit's total, nothing else */
        assert_string_equal(strchr(csv, '\n') + 1,
                            "六安市数据资源局,,,unit total,0,0,0,0,,,,,,,,,,,0,0,disk_gib=0,,0,systems=0; vms=0; changes=0\r\n");
        self_contained(html);
        contains(html, "<th>报送期限</th><td>—</td>");
        contains(html, "<tr><td colspan=\"12\" class=\"c\">（无）</td></tr>");
        lacks(html, "<section");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixture_totals),
                cmocka_unit_test(test_csv_fixture),
                cmocka_unit_test(test_csv_quoting),
                cmocka_unit_test(test_html_fixture),
                cmocka_unit_test(test_html_escaping),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_nobufs),
                cmocka_unit_test(test_minimal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
