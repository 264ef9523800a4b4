/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The printable page of a sheet's export bundle (sheet.h): UTF-8 HTML5 with
 * inline CSS, no scripts, no external resources, A4 portrait, laid out like
 * the seeds' forms (L change form, R-LC3, R-LC4, R-LC5).
 *
 * Nothing in the bundle is trusted: every string is escaped, a member that
 * is missing or of an unexpected type renders as "—", and the page does not
 * verify signatures (sheet_bundle_verify does); it shows what the bundle
 * claims.
 *
 * Output goes through a sticky error: after the first failed append
 * (-ENOBUFS past the buffer's cap) every further append is a no-op, and
 * sheet_html() puts the buffer back as it found it.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "html.h"
#include "jcs.h"
#include "json.h"
#include "sheet.h"

#define DASH "—"
/* How deep the generic rendering of unknown members goes before "…". */
#define GENERIC_DEPTH_MAX 4

struct html {
        struct gc_buf *b;
        int r;
};

static void put(struct html *h, const char *s) {
        if (h->r >= 0)
                h->r = gc_buf_append_str(h->b, s);
}

/* Short formatted pieces of markup (tags around a number or a fixed label). */
static void putf(struct html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct html *h, const char *fmt, ...) {
        char s[256];
        va_list ap;

        if (h->r < 0)
                return;
        va_start(ap, fmt);
        int n = vsnprintf(s, sizeof s, fmt, ap);
        va_end(ap);
        assert(n >= 0 && (size_t) n < sizeof s);
        h->r = gc_buf_append(h->b, s, (size_t) n);
}

static void esc(struct html *h, const char *s) {
        if (h->r >= 0)
                h->r = html_escape(h->b, s);
}

static const cJSON *member(const cJSON *o, const char *key) {
        return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

/* v when it is an array, so that iterating anything else iterates nothing. */
static const cJSON *as_array(const cJSON *v) {
        return cJSON_IsArray(v) ? v : NULL;
}

static const char *string_member(const cJSON *o, const char *key) {
        const cJSON *v = member(o, key);
        return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* A string or a number, as it would be shown; false for anything else
 * (missing, null, bool, array, object, empty string). */
static bool is_shown(const cJSON *v) {
        if (cJSON_IsString(v))
                return v->valuestring && v->valuestring[0];
        return cJSON_IsNumber(v);
}

/* A string (escaped) or a number (as ECMAScript writes it); "—" otherwise. */
static void scalar(struct html *h, const cJSON *v) {
        char num[JCS_NUMBER_MAX];

        if (cJSON_IsString(v) && v->valuestring && v->valuestring[0])
                esc(h, v->valuestring);
        else if (cJSON_IsNumber(v) && jcs_format_number(v->valuedouble, num) >= 0)
                put(h, num);
        else
                put(h, DASH);
}

static void field(struct html *h, const cJSON *o, const char *key) {
        scalar(h, member(o, key));
}

/* The value followed by a unit ("4核", "8G"), or "—" alone. */
static void field_unit(struct html *h, const cJSON *o, const char *key, const char *unit) {
        const cJSON *v = member(o, key);

        scalar(h, v);
        if (is_shown(v))
                put(h, unit);
}

/* A JSON-ish rendering of any value, for members this page has no layout for. */
static void generic(struct html *h, const cJSON *v, unsigned depth) {
        const cJSON *c;
        bool first = true;

        if (cJSON_IsString(v) || cJSON_IsNumber(v)) {
                scalar(h, v);
                return;
        }
        if (cJSON_IsBool(v)) {
                put(h, cJSON_IsTrue(v) ? "是" : "否");
                return;
        }
        if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
                put(h, DASH);
                return;
        }
        if (depth >= GENERIC_DEPTH_MAX) {
                put(h, "…");
                return;
        }
        if (!v->child) {
                put(h, DASH);
                return;
        }
        if (depth > 0)
                put(h, cJSON_IsArray(v) ? "[" : "{");
        cJSON_ArrayForEach(c, v) {
                if (!first)
                        put(h, cJSON_IsArray(v) ? "、" : "；");
                first = false;
                if (cJSON_IsObject(v) && c->string) {
                        put(h, "<span class=\"key\">");
                        esc(h, c->string);
                        put(h, "</span>: ");
                }
                generic(h, c, depth + 1);
        }
        if (depth > 0)
                put(h, cJSON_IsArray(v) ? "]" : "}");
}

static const char page_css[] =
        "@page{size:A4 portrait;margin:15mm 14mm 16mm 14mm;"
        "@bottom-center{content:\"第 \" counter(page) \" 页，共 \" counter(pages) \" 页\";"
        "font-family:\"Noto Sans CJK SC\",\"Noto Serif CJK SC\",sans-serif;font-size:8pt}}\n"
        "html{font-family:\"Noto Sans CJK SC\",\"Noto Serif CJK SC\",sans-serif;font-size:10pt;color:#000;"
        "background:#fff;-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
        "body{margin:0}\n"
        "@media screen{body{max-width:182mm;margin:10mm auto;padding:0 6mm}}\n"
        "h1{font-size:18pt;text-align:center;letter-spacing:.08em;margin:0 0 5mm}\n"
        "h2{font-size:11.5pt;margin:5mm 0 2mm}\n"
        "table{border-collapse:collapse;width:100%;margin:0 0 2mm;page-break-inside:auto}\n"
        "thead{display:table-header-group}\n"
        "tr{page-break-inside:avoid;break-inside:avoid}\n"
        "th,td{border:1px solid #000;padding:1.1mm 1.3mm;vertical-align:middle;overflow-wrap:anywhere}\n"
        "th{background:#eee;font-weight:bold;text-align:center}\n"
        "td.n{text-align:right;white-space:nowrap}\n"
        "td.c{text-align:center}\n"
        ".nw,table.vms th,table.changes th.pair{white-space:nowrap}\n"
        "table.vms,table.changes,table.generic{font-size:8pt}\n"
        "table.info th{width:17%;text-align:left}\n"
        "table.info td{width:33%}\n"
        "tr.total td{font-weight:bold;background:#f6f6f6}\n"
        ".mono{font-family:\"DejaVu Sans Mono\",\"Liberation Mono\",\"Noto Sans Mono CJK SC\",monospace;"
        "font-size:8pt;word-break:break-all;overflow-wrap:anywhere}\n"
        ".key{color:#333}\n"
        ".sign{page-break-inside:avoid;break-inside:avoid}\n"
        ".status{margin:5mm 0 2mm;font-weight:bold}\n"
        "table.sigs{table-layout:fixed}\n"
        "table.sigs td{vertical-align:top;padding:1.5mm 2mm}\n"
        ".sig div{margin:0 0 1.5mm}\n"
        ".sig .k{display:inline-block;width:4.6em;font-size:8.5pt;color:#333}\n"
        ".sig .blank{display:inline-block;width:calc(100% - 5em);border-bottom:1px solid #000;"
        "height:5mm;vertical-align:bottom}\n"
        ".sig .unsigned{color:#000;font-weight:bold}\n"
        ".note{font-size:8pt;color:#333;margin-top:4mm}\n";

static void header_row(struct html *h, const char *k1, const cJSON *v1, const char *k2, const cJSON *v2) {
        putf(h, "<tr><th>%s</th><td>", k1);
        scalar(h, v1);
        putf(h, "</td><th>%s</th><td>", k2);
        scalar(h, v2);
        put(h, "</td></tr>\n");
}

/* 等保级别: 3 -> 第三级; anything else as given. */
static void mlps_level(struct html *h, const cJSON *v) {
        static const char *const levels[] = { "第一级", "第二级", "第三级", "第四级", "第五级" };

        if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 5 &&
            v->valuedouble == (double) (int) v->valuedouble)
                put(h, levels[(int) v->valuedouble - 1]);
        else
                scalar(h, v);
}

static void header_block(struct html *h, const cJSON *bundle, const cJSON *doc) {
        const cJSON *sys = member(doc, "system"), *req = member(doc, "request"), *crypto = member(doc, "crypto");

        put(h, "<table class=\"info header\">\n");
        header_row(h, "使用单位", member(sys, "unit"), "系统名称", member(sys, "name"));
        put(h, "<tr><th>资源池</th><td>");
        field(h, sys, "pool");
        put(h, "</td><th>等保级别</th><td>");
        mlps_level(h, member(sys, "mlps_level"));
        put(h, "</td></tr>\n<tr><th>确认单编号</th><td>");
        field(h, doc, "id");
        put(h, "（第 ");
        field(h, doc, "revision");
        put(h, " 版）</td><th>生成时间</th><td>");
        field(h, doc, "produced");
        put(h, "</td></tr>\n");
        header_row(h, "申请单号", member(req, "id"), "审批", member(req, "approval"));
        put(h, "<tr><th>内容摘要</th><td colspan=\"3\" class=\"mono\">");
        field(h, bundle, "hash");
        put(h, "</td></tr>\n<tr><th>密码算法</th><td colspan=\"3\">摘要 ");
        field(h, crypto, "hash");
        put(h, "，签名 ");
        field(h, crypto, "signature");
        put(h, "</td></tr>\n</table>\n");
}

/* The addresses of a VM, one a line. */
static void address_list(struct html *h, const cJSON *v) {
        const cJSON *a;
        bool any = false;

        if (!cJSON_IsArray(v)) {
                scalar(h, v);
                return;
        }
        cJSON_ArrayForEach(a, v) {
                if (any)
                        put(h, "<br>");
                scalar(h, a);
                any = true;
        }
        if (!any)
                put(h, DASH);
}

/* Special ports: 8080 or {"port":8080,"protocol":"tcp"}, joined. */
static void port_list(struct html *h, const cJSON *v) {
        const cJSON *p;
        bool any = false;

        if (!cJSON_IsArray(v)) {
                scalar(h, v);
                return;
        }
        cJSON_ArrayForEach(p, v) {
                if (any)
                        put(h, "、");
                any = true;
                if (cJSON_IsObject(p) && is_shown(member(p, "port"))) {
                        field(h, p, "port");
                        const cJSON *proto = member(p, "protocol");
                        if (!is_shown(proto))
                                proto = member(p, "proto");
                        if (is_shown(proto)) {
                                put(h, "/");
                                scalar(h, proto);
                        }
                } else
                        generic(h, p, 1);
        }
        if (!any)
                put(h, DASH);
}

static void allocation(struct html *h, const cJSON *a, bool disks) {
        if (!cJSON_IsObject(a)) {
                put(h, DASH);
                return;
        }
        field_unit(h, a, "vcpus", "核");
        put(h, "/");
        field_unit(h, a, "memory_gib", "G");
        if (!disks)
                return;
        put(h, "<br>系统盘 ");
        field_unit(h, a, "system_disk_gib", "G");
        put(h, "<br>数据盘 ");
        field_unit(h, a, "data_disk_gib", "G");
}

static void number_cell(struct html *h, const cJSON *o, const char *key) {
        put(h, "<td class=\"n\">");
        field(h, o, key);
        put(h, "</td>");
}

static void golive_body(struct html *h, const cJSON *doc) {
        const cJSON *vms = member(doc, "vms"), *totals = member(doc, "totals"), *vm;
        const cJSON *trial = member(doc, "trial"), *billing = member(doc, "billing"), *net = member(doc, "network");
        size_t i = 0;

        /* R-LC3: the system, its addresses, special ports, resource types and quantities */
        put(h, "<h2>一、资源清单</h2>\n"
               "<table class=\"vms\">\n<thead><tr><th>序号</th><th>主机名称</th><th>角色</th><th>IP地址</th>"
               "<th>特殊<br>端口</th><th>架构</th><th>CPU<br>(核)</th><th>内存<br>(G)</th><th>系统盘<br>(G)</th>"
               "<th>数据盘<br>(G)</th><th>试用期<br>建议配置</th><th>上线配置</th></tr></thead>\n<tbody>\n");
        cJSON_ArrayForEach(vm, as_array(vms)) {
                const cJSON *rec = member(vm, "recommended");

                putf(h, "<tr class=\"vm\"><td class=\"c\">%zu</td><td>", ++i);
                field(h, vm, "name");
                put(h, "</td><td>");
                field(h, vm, "role");
                put(h, "</td><td class=\"nw\">");
                address_list(h, member(vm, "addresses"));
                put(h, "</td><td>");
                port_list(h, member(vm, "special_ports"));
                put(h, "</td><td class=\"c nw\">");
                field(h, vm, "arch");
                put(h, "</td>");
                number_cell(h, vm, "vcpus");
                number_cell(h, vm, "memory_gib");
                number_cell(h, vm, "system_disk_gib");
                number_cell(h, vm, "data_disk_gib");
                put(h, "<td class=\"c nw\">");
                /* R-LC2: recommended from trial usage; null when there is none */
                if (cJSON_IsObject(rec))
                        allocation(h, rec, false);
                else
                        put(h, DASH);
                put(h, "</td><td class=\"c nw\">");
                allocation(h, member(vm, "golive"), true);
                put(h, "</td></tr>\n");
        }
        if (i == 0)
                put(h, "<tr><td colspan=\"12\" class=\"c\">（无）</td></tr>\n");
        put(h, "<tr class=\"total\"><td colspan=\"6\" class=\"c\">合计（");
        field(h, totals, "vms");
        put(h, " 台）</td>");
        number_cell(h, totals, "vcpus");
        number_cell(h, totals, "memory_gib");
        number_cell(h, totals, "system_disk_gib");
        number_cell(h, totals, "data_disk_gib");
        put(h, "<td></td><td></td></tr>\n</tbody>\n</table>\n");

        put(h, "<h2>二、开通与计费</h2>\n<table class=\"info golive\">\n<tr><th>开通时间</th><td colspan=\"3\">");
        field(h, doc, "opening_time");
        put(h, "</td></tr>\n<tr><th>试运行</th><td colspan=\"3\">");
        field(h, trial, "start");
        put(h, " 至 ");
        field(h, trial, "end");
        put(h, "（");
        field(h, trial, "length");
        const char *unit = string_member(trial, "unit"), *unit_title = NULL;
        if (unit && strcmp(unit, "days") == 0)
                unit_title = " 天";
        else if (unit && strcmp(unit, "months") == 0)
                unit_title = " 个月";
        if (unit_title)
                put(h, unit_title);
        else if (unit) {
                put(h, " ");
                esc(h, unit);
        }
        /* R-LC2: extendable with the authority's consent; a count, or true */
        const cJSON *ext = member(trial, "extended");
        if (cJSON_IsTrue(ext))
                put(h, "，经管理单位同意已延长");
        else if (cJSON_IsNumber(ext) && ext->valuedouble > 0) {
                put(h, "，经管理单位同意已延长 ");
                scalar(h, ext);
                if (unit_title)
                        put(h, unit_title);
        } else if (cJSON_IsString(ext) && is_shown(ext)) {
                put(h, "，延长：");
                scalar(h, ext);
        }
        put(h, "）</td></tr>\n<tr><th>计费起始</th><td colspan=\"3\">");
        /* R-LC3: billing starts at go-live, not before */
        const char *starts = string_member(billing, "starts");
        if (starts && strcmp(starts, "on_confirmation") == 0)
                put(h, "自三方确认之日起计费（R-LC3）");
        else {
                field(h, billing, "starts");
                if (is_shown(member(billing, "rule"))) {
                        put(h, "（");
                        field(h, billing, "rule");
                        put(h, "）");
                }
        }
        put(h, "</td></tr>\n<tr><th>网络</th><td colspan=\"3\">VNI ");
        field(h, net, "vni");
        put(h, "，网段 ");
        field(h, net, "cidr");
        put(h, "，网关 ");
        field(h, net, "gateway");
        put(h, "</td></tr>\n</table>\n");
}

/* The four before/after pairs of a change row (or of the totals row). */
static void change_pairs(struct html *h, const cJSON *before, const cJSON *after) {
        static const struct {
                const char *key, *unit;
        } dims[] = {
                { "vcpus", "核" }, { "memory_gib", "" }, { "system_disk_gib", "" }, { "data_disk_gib", "" },
        };

        for (size_t d = 0; d < ELEMENTSOF(dims); d++)
                for (int side = 0; side < 2; side++) {
                        const cJSON *o = side == 0 ? before : after;
                        put(h, "<td class=\"n\">");
                        if (cJSON_IsObject(o))
                                field_unit(h, o, dims[d].key, dims[d].unit);
                        else
                                put(h, DASH);
                        put(h, "</td>");
                }
}

static void change_body(struct html *h, const cJSON *doc) {
        const cJSON *changes = member(doc, "changes"), *c;
        const cJSON *tb = member(doc, "totals_before"), *ta = member(doc, "totals_after");
        size_t i = 0;

        /* R-LC4: before/after per VM, as the L change form has it */
        put(h, "<h2>变更主机资源</h2>\n"
               "<table class=\"changes\">\n<thead>\n"
               "<tr><th rowspan=\"2\">序号</th><th rowspan=\"2\">IP地址</th><th rowspan=\"2\">主机名称</th>"
               "<th colspan=\"2\">CPU</th><th colspan=\"2\">内存(G)</th><th colspan=\"2\">系统盘(G)</th>"
               "<th colspan=\"2\">数据盘(G)</th><th rowspan=\"2\">备注（核增/核减/释放等）</th></tr>\n<tr>");
        for (int d = 0; d < 4; d++)
                put(h, "<th class=\"pair\">变更前</th><th class=\"pair\">变更后</th>");
        put(h, "</tr>\n</thead>\n<tbody>\n");
        cJSON_ArrayForEach(c, as_array(changes)) {
                const cJSON *before = member(c, "before"), *after = member(c, "after");
                const cJSON *addr = member(after, "address"), *name = member(c, "name");

                if (!is_shown(addr))
                        addr = member(before, "address");
                if (!is_shown(name))
                        name = member(after, "name");
                if (!is_shown(name))
                        name = member(before, "name");
                putf(h, "<tr class=\"change\"><td class=\"c\">%zu</td><td class=\"nw\">", ++i);
                scalar(h, addr);
                put(h, "</td><td>");
                scalar(h, name);
                put(h, "</td>");
                change_pairs(h, before, after);
                put(h, "<td class=\"c\">");
                const char *action = string_member(c, "action");
                const char *title = sheet_action_title(action);
                if (title)
                        put(h, title);
                else
                        field(h, c, "action");
                put(h, "</td></tr>\n");
        }
        if (i == 0)
                put(h, "<tr><td colspan=\"12\" class=\"c\">（无）</td></tr>\n");
        put(h, "<tr class=\"total\"><td colspan=\"3\" class=\"c\">合计</td>");
        change_pairs(h, tb, ta);
        put(h, "<td class=\"c\">");
        field(h, tb, "vms");
        put(h, " 台 → ");
        field(h, ta, "vms");
        put(h, " 台</td></tr>\n</tbody>\n</table>\n");
}

/* An array of objects as a table: 序号, 名称, and the other members JSON-ish. */
static void generic_table(struct html *h, const char *heading, const cJSON *arr) {
        const cJSON *e;
        size_t i = 0;

        put(h, "<h2>");
        put(h, heading);
        put(h, "</h2>\n<table class=\"generic\">\n<thead><tr><th>序号</th><th>名称</th><th>内容</th></tr></thead>\n<tbody>\n");
        cJSON_ArrayForEach(e, arr) {
                const cJSON *m;
                bool first = true;

                putf(h, "<tr><td class=\"c\">%zu</td><td>", ++i);
                if (cJSON_IsObject(e)) {
                        field(h, e, "name");
                        put(h, "</td><td>");
                        cJSON_ArrayForEach(m, e) {
                                if (m->string && strcmp(m->string, "name") == 0)
                                        continue;
                                if (!first)
                                        put(h, "；");
                                first = false;
                                put(h, "<span class=\"key\">");
                                esc(h, m->string ? m->string : "");
                                put(h, "</span>: ");
                                generic(h, m, 1);
                        }
                        if (first)
                                put(h, DASH);
                } else {
                        put(h, DASH "</td><td>");
                        generic(h, e, 1);
                }
                put(h, "</td></tr>\n");
        }
        if (i == 0)
                put(h, "<tr><td colspan=\"3\" class=\"c\">（无）</td></tr>\n");
        put(h, "</tbody>\n</table>\n");
}

/* exit (R-LC5) and kinds this page does not know: what is there, plainly. */
static void other_body(struct html *h, const cJSON *doc) {
        const cJSON *vms = member(doc, "vms"), *released = member(doc, "released");

        if (cJSON_IsArray(vms))
                generic_table(h, "主机资源", vms);
        if (cJSON_IsArray(released))
                generic_table(h, "释放资源", released);
}

static void signature_block(struct html *h, enum sheet_party p, const cJSON *doc, const cJSON *sig) {
        put(h, "<td class=\"sig\">\n<div><span class=\"k\">单位</span>");
        field(h, member(doc, "parties"), sheet_party_to_string(p));
        put(h, "</div>\n");
        if (sig) {
                put(h, "<div><span class=\"k\">签署人</span>");
                field(h, sig, "holder");
                put(h, "</div>\n<div><span class=\"k\">密钥指纹</span><span class=\"mono\">");
                field(h, sig, "fingerprint");
                put(h, "</span></div>\n<div><span class=\"k\">签名算法</span>");
                field(h, sig, "key_type");
                put(h, "</div>\n<div><span class=\"k\">签署时间</span>");
                field(h, sig, "time");
                put(h, "</div>\n");
        } else {
                static const char *const labels[] = { "签署人", "密钥指纹", "签名算法", "签署时间" };
                for (size_t i = 0; i < ELEMENTSOF(labels); i++)
                        putf(h, "<div><span class=\"k\">%s</span><span class=\"blank\"></span></div>\n", labels[i]);
                put(h, "<div class=\"unsigned\">（未签署）</div>\n");
        }
        put(h, "<div><span class=\"k\">盖章</span><span class=\"blank\"></span></div>\n</td>\n");
}

static void signatures(struct html *h, const cJSON *bundle, const cJSON *doc) {
        const cJSON *sigs = member(bundle, "signatures"), *s;
        const cJSON *by_party[_SHEET_PARTY_MAX] = {};
        bool complete = true, first = true;

        /* The first signature of each party; the page does not verify them. */
        cJSON_ArrayForEach(s, as_array(sigs)) {
                enum sheet_party p;
                if (sheet_party_from_string(string_member(s, "party"), &p) >= 0 && !by_party[p])
                        by_party[p] = s;
        }
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                if (!by_party[p])
                        complete = false;

        put(h, "<div class=\"sign\">\n<p class=\"status\">状态：");
        if (complete)
                put(h, "已完成三方确认");
        else {
                put(h, "待签署：");
                for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                        if (!by_party[p]) {
                                if (!first)
                                        put(h, "、");
                                first = false;
                                put(h, sheet_party_title((enum sheet_party) p));
                        }
        }
        put(h, "</p>\n<table class=\"sigs\">\n<thead><tr>");
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                putf(h, "<th>%s</th>", sheet_party_title((enum sheet_party) p));
        put(h, "</tr></thead>\n<tbody><tr>\n");
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                signature_block(h, (enum sheet_party) p, doc, by_party[p]);
        put(h, "</tr></tbody>\n</table>\n</div>\n");
}

int sheet_html(const cJSON *bundle, struct gc_buf *out) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        struct html h = { .b = out };
        size_t start = out->len;
        const char *text = string_member(bundle, "document");
        int r;

        if (!text)
                return -EINVAL;
        /* Strict: the bytes the parties signed can be read only one way. */
        r = json_parse(text, strlen(text), &doc, NULL);
        if (r < 0 || !cJSON_IsObject(doc))
                return -EINVAL;

        const char *kind = string_member(doc, "kind");
        const char *title = sheet_kind_title(kind);
        if (!title)
                title = kind && kind[0] ? kind : "确认单";

        put(&h, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
        esc(&h, title);
        put(&h, "</title>\n<style>\n");
        put(&h, page_css);
        put(&h, "</style>\n</head>\n<body>\n<h1>");
        esc(&h, title);
        put(&h, "</h1>\n");
        header_block(&h, bundle, doc);
        if (kind && strcmp(kind, "golive") == 0)
                golive_body(&h, doc);
        else if (kind && strcmp(kind, "change") == 0)
                change_body(&h, doc);
        else
                other_body(&h, doc);
        signatures(&h, bundle, doc);
        put(&h, "<p class=\"note\">本页由确认单导出包生成，不核验签名；三方确认以对上列内容摘要所签名的验证结果为准。</p>\n"
                "</body>\n</html>\n");

        if (h.r < 0) {
                /* leave the buffer as it was */
                out->len = start;
                if (out->data)
                        out->data[start] = 0;
                return h.r;
        }
        return 0;
}
