/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The printable page of a sheet (sheet_html): escaping, documents with
 * members missing or of the wrong type, and the two fixtures.
 *
 * tests/unit/data/sheet-golive.json and sheet-change.json are export
 * bundles (gc-sheet-export/1) of a 驻马店市自然资源局 不动产登记系统 with
 * three VMs in 10.20.0.0/24. They were made once by a throwaway script: the
 * document written with python3 json.dumps(sort_keys=True,
 * separators=(',', ':'), ensure_ascii=False) and checked byte for byte
 * against `gcctl doc canon`; "hash" is `openssl dgst -sm3` of those bytes;
 * each party's key a fresh SM2 key (`openssl genpkey -algorithm SM2`, the
 * private half discarded), its fingerprint sha256 of the DER public key,
 * its signature `openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt
 * distid:1234567812345678` over the document. So the signatures happen to
 * verify (`openssl pkeyutl -verify` with the same options), but nothing
 * here relies on it: the page does not verify signatures, and a fixture
 * edited by hand need not keep them valid. The go-live sheet is signed by
 * tenant and provider only; the change sheet by all three.
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
#include "sheet.h"
#include "html-rows.h"

#define PAGE_MAX (16 * 1024 * 1024)
#define UNIT "驻马店市自然资源局"
#define SYS "不动产登记系统"

static size_t count(const char *hay, const char *needle) {
        size_t n = 0;
        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static void contains(const char *html, const char *needle) {
        if (!strstr(html, needle))
                fail_msg("page lacks \"%s\"", needle);
}

static void lacks(const char *html, const char *needle) {
        if (strstr(html, needle))
                fail_msg("page has \"%s\"", needle);
}


/* The part of the page from the first occurrence of from up to the next of to. */
static char *between(const char *html, const char *from, const char *to) {
        const char *a = strstr(html, from), *z;
        if (!a)
                fail_msg("page lacks \"%s\"", from);
        z = strstr(a + strlen(from), to);
        if (!z)
                fail_msg("page lacks \"%s\" after \"%s\"", to, from);
        return xstrndup(a, (size_t) (z - a));
}

static char *render(const cJSON *bundle) {
        struct gc_buf out = GC_BUF_INIT(PAGE_MAX);
        int r = sheet_html(bundle, &out);
        if (r < 0)
                fail_msg("sheet_html: %s", strerror(-r));
        return gc_buf_steal(&out, NULL);
}

static cJSON *bundle_of(const char *document) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "format", SHEET_EXPORT_FORMAT);
        if (document)
                cJSON_AddStringToObject(b, "document", document);
        return b;
}

static char *render_document(const char *document) {
        _cleanup_(cJSON_Deletep) cJSON *b = bundle_of(document);
        return render(b);
}

static cJSON *fixture(const char *name) {
        _cleanup_free_ char *path = xasprintf("%s/tests/unit/data/%s", GC_SRCDIR, name);
        struct gc_error err = {};
        cJSON *b = NULL;

        if (json_parse_file(path, SHEET_BUNDLE_MAX, &b, &err) < 0)
                fail_msg("%s: %s %s", path, err.field, err.message);
        return b;
}

/* Self-contained: inline CSS only, nothing fetched, nothing run. */
static void self_contained(const char *html) {
        assert_true(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
        contains(html, "<meta charset=\"utf-8\">");
        contains(html, "@page{size:A4 portrait;");
        contains(html, "font-family:\"Noto Sans CJK SC\",\"Noto Serif CJK SC\",sans-serif");
        lacks(html, "<script");
        lacks(html, "<link");
        lacks(html, "<img");
        lacks(html, "src=");
        lacks(html, "url(");
        lacks(html, "@import");
        lacks(html, "@font-face");
        lacks(html, "http:");
        lacks(html, "https:");
}

static void test_escaping(void **state) {
        static const char doc[] =
                "{\"format\":\"gc-sheet/1\",\"id\":3,\"kind\":\"golive\","
                "\"system\":{\"name\":\"<b>系统</b>\",\"unit\":\"A&B局\",\"pool\":\"p'1\"},"
                "\"vms\":[{\"name\":\"vm\\\"1<img src=x onerror=alert(1)>\",\"addresses\":[\"10.20.0.5</td>\"],"
                "\"role\":\"\\u0001角色\\u007f\"}],"
                "\"parties\":{\"tenant\":\"<u>单位</u>\"}}";
        _cleanup_(cJSON_Deletep) cJSON *b = bundle_of(doc);
        _cleanup_free_ char *html = NULL;
        cJSON *sigs = cJSON_AddArrayToObject(b, "signatures");
        cJSON *s = cJSON_CreateObject();

        cJSON_AddStringToObject(s, "party", "tenant");
        cJSON_AddStringToObject(s, "holder", "<script>&\"'");
        cJSON_AddStringToObject(s, "fingerprint", "sha256:\"><script>alert(1)</script>");
        cJSON_AddStringToObject(s, "key_type", "sm2");
        cJSON_AddStringToObject(s, "time", "2026-12-01T00:00:00Z");
        cJSON_AddItemToArray(sigs, s);
        cJSON_AddStringToObject(b, "hash", "sm3:<i>00</i>");
        /* a holder that is not UTF-8: the bad byte is replaced, not copied */
        s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "party", "provider");
        cJSON_AddStringToObject(s, "holder", "李\xff明");
        cJSON_AddItemToArray(sigs, s);

        html = render(b);
        lacks(html, "<script");
        lacks(html, "<img");
        contains(html, "&lt;script&gt;&amp;&quot;&#39;");
        contains(html, "sha256:&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
        contains(html, "&lt;b&gt;系统&lt;/b&gt;");
        contains(html, "A&amp;B局");
        contains(html, "p&#39;1");
        contains(html, "vm&quot;1&lt;img src=x onerror=alert(1)&gt;");
        contains(html, "10.20.0.5&lt;/td&gt;");
        contains(html, "&lt;u&gt;单位&lt;/u&gt;");
        contains(html, "sm3:&lt;i&gt;00&lt;/i&gt;");
        contains(html, "\xEF\xBF\xBD角色\xEF\xBF\xBD");
        contains(html, "李\xEF\xBF\xBD明");
        lacks(html, "\x01");
        lacks(html, "\x7f");
        lacks(html, "\xff");
        lacks(html, "<b>");
        lacks(html, "<u>");
        lacks(html, "<i>");
        /* the escaped row still has its 12 cells: nothing broke out of one */
        row_is(html, "<tr class=\"vm\">", 0,
               "1|vm&quot;1&lt;img src=x onerror=alert(1)&gt;|\xEF\xBF\xBD角色\xEF\xBF\xBD|10.20.0.5&lt;/td&gt;|"
               "—|—|—|—|—|—|—|—");
}

static void test_refused(void **state) {
        static const char *const bad[] = {
                "", "[1]", "\"x\"", "3", "null", "{", "{\"a\":1,\"a\":2}", "{\"a\":01}",
        };
        struct gc_buf out = GC_BUF_INIT(PAGE_MAX);
        cJSON *b;

        assert_int_equal(gc_buf_append_str(&out, "before"), 0);
        assert_int_equal(sheet_html(NULL, &out), -EINVAL);

        b = bundle_of(NULL);            /* no "document" */
        assert_int_equal(sheet_html(b, &out), -EINVAL);
        cJSON_AddNumberToObject(b, "document", 7);
        assert_int_equal(sheet_html(b, &out), -EINVAL);
        cJSON_Delete(b);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                b = bundle_of(bad[i]);
                if (sheet_html(b, &out) != -EINVAL)
                        fail_msg("accepted document %s", bad[i]);
                cJSON_Delete(b);
        }
        /* refusals leave the buffer as it was */
        assert_string_equal(out.data, "before");
        assert_int_equal(out.len, 6);
        gc_buf_free(&out);
}

/* The cap: -ENOBUFS, and what the buffer held before is kept. */
static void test_nobufs(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = fixture("sheet-change.json");
        struct gc_buf out = GC_BUF_INIT(4096);

        assert_int_equal(gc_buf_append_str(&out, "kept"), 0);
        assert_int_equal(sheet_html(b, &out), -ENOBUFS);
        assert_string_equal(out.data, "kept");
        assert_int_equal(out.len, 4);
        gc_buf_free(&out);

        /* with room, it appends after what is there */
        out = GC_BUF_INIT(PAGE_MAX);
        assert_int_equal(gc_buf_append_str(&out, "kept"), 0);
        assert_int_equal(sheet_html(b, &out), 0);
        assert_true(strncmp(out.data, "kept<!DOCTYPE html>", 19) == 0);
        gc_buf_free(&out);
}

/* Members missing or of the wrong type render as "—"; nothing crashes. */
static void test_missing_members(void **state) {
        _cleanup_free_ char *empty = NULL, *golive = NULL, *wrong = NULL, *change = NULL;
        _cleanup_free_ char *head = NULL;

        empty = render_document("{}");
        self_contained(empty);
        contains(empty, "<h1>确认单</h1>");
        head = between(empty, "<table class=\"info header\">", "</table>");
        /* every value of the header block is a dash */
        assert_int_equal(count(head, "<td>—</td>"), 7);
        contains(head, "<td>—（第 — 版）</td>");
        contains(head, "<td colspan=\"3\" class=\"mono\">—</td>");
        contains(head, "摘要 —，签名 —");
        contains(empty, "状态：待签署：使用单位（甲方）、云服务商（乙方）、管理单位（丙方）");
        assert_int_equal(count(empty, "（未签署）"), 3);

        golive = render_document("{\"kind\":\"golive\"}");
        contains(golive, "<h1>政务云资源开通三方确认单</h1>");
        assert_int_equal(count(golive, "<tr class=\"vm\">"), 0);
        contains(golive, "<td colspan=\"12\" class=\"c\">（无）</td>");
        row_is(golive, "<tr class=\"total\">", 0, "合计（— 台）|—|—|—|—||");
        contains(golive, "<th>试运行</th><td colspan=\"3\">— 至 —（—）</td>");
        contains(golive, "<th>计费起始</th><td colspan=\"3\">—</td>");
        contains(golive, "VNI —，网段 —，网关 —");

        /* wrong types everywhere: objects where strings are due, and so on */
        wrong = render_document(
                "{\"kind\":\"golive\",\"id\":true,\"revision\":[1],\"system\":\"x\","
                "\"request\":{\"id\":{\"a\":1},\"approval\":null},\"network\":[],"
                "\"trial\":{\"start\":5,\"end\":false,\"unit\":7,\"extended\":\"x\"},\"billing\":\"y\","
                "\"vms\":[5,null,\"s\",[],{\"name\":7,\"addresses\":\"10.20.0.9\",\"special_ports\":[{\"port\":22,\"protocol\":\"tcp\"},{\"x\":true}],"
                "\"vcpus\":\"4\",\"memory_gib\":{},\"recommended\":7,\"golive\":[1]}],"
                "\"totals\":[],\"parties\":[],\"opening_time\":{}}");
        assert_int_equal(count(wrong, "<tr class=\"vm\">"), 5);
        row_is(wrong, "<tr class=\"vm\">", 0, "1|—|—|—|—|—|—|—|—|—|—|—");
        row_is(wrong, "<tr class=\"vm\">", 4, "5|7|—|10.20.0.9|22/tcp、{x: 是}|—|4|—|—|—|—|—");
        contains(wrong, "<td>—（第 — 版）</td>");
        contains(wrong, "<th>试运行</th><td colspan=\"3\">5 至 —（—，延长：x）</td>");

        /* a change without its members, and changes that are not objects */
        change = render_document("{\"kind\":\"change\",\"changes\":[null,{\"action\":\"frob<\",\"before\":5}]}");
        contains(change, "<h1>政务云资源变更确认单</h1>");
        row_is(change, "<tr class=\"change\">", 0, "1|—|—|—|—|—|—|—|—|—|—|—");
        row_is(change, "<tr class=\"change\">", 1, "2|—|—|—|—|—|—|—|—|—|—|frob&lt;");
        row_is(change, "<tr class=\"total\">", 0, "合计|—|—|—|—|—|—|—|—|— 台 → — 台");
}

/* R-LC2: an extended trial says so, in the trial's unit; billing as given when not on confirmation. */
static void test_trial_extended(void **state) {
        _cleanup_free_ char *days = NULL, *months = NULL, *flag = NULL;

        days = render_document("{\"kind\":\"golive\",\"trial\":{\"start\":\"2026-11-02\",\"end\":\"2026-12-16\","
                               "\"length\":45,\"unit\":\"days\",\"extended\":15},"
                               "\"billing\":{\"starts\":\"2027-01-01\",\"rule\":\"contract\"}}");
        contains(days, "<td colspan=\"3\">2026-11-02 至 2026-12-16（45 天，经管理单位同意已延长 15 天）</td>");
        contains(days, "<th>计费起始</th><td colspan=\"3\">2027-01-01（contract）</td>");
        lacks(days, "R-LC3）");
        months = render_document("{\"kind\":\"golive\",\"trial\":{\"length\":1,\"unit\":\"months\",\"extended\":0}}");
        contains(months, "— 至 —（1 个月）</td>");
        flag = render_document("{\"kind\":\"golive\",\"trial\":{\"length\":1,\"unit\":\"weeks\",\"extended\":true}}");
        contains(flag, "— 至 —（1 weeks，经管理单位同意已延长）</td>");
}

/* exit (its layout comes later) and unknown kinds: shown plainly, titled by the kind. */
static void test_other_kinds(void **state) {
        _cleanup_free_ char *exit_page = NULL, *unknown = NULL;

        exit_page = render_document(
                "{\"kind\":\"exit\",\"vms\":[{\"name\":\"vm1\",\"wiped\":true,\"disks\":[100,500]}],"
                "\"released\":[{\"kind\":\"network\",\"vni\":10020},7]}");
        contains(exit_page, "<h1>政务云资源退出确认单</h1>");
        contains(exit_page, "<h2>主机资源</h2>");
        contains(exit_page, "<h2>释放资源</h2>");
        row_is(exit_page, "<tr><td class=\"c\">1</td>", 0, "vm1|wiped: 是；disks: [100、500]");
        row_is(exit_page, "<tr><td class=\"c\">1</td>", 1, "—|kind: network；vni: 10020");
        row_is(exit_page, "<tr><td class=\"c\">2</td>", 0, "—|7");

        unknown = render_document("{\"kind\":\"<i>x\"}");
        contains(unknown, "<title>&lt;i&gt;x</title>");
        contains(unknown, "<h1>&lt;i&gt;x</h1>");
        lacks(unknown, "<h2>");
}

static void test_golive_fixture(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = fixture("sheet-golive.json");
        _cleanup_free_ char *html = render(b), *sigs = NULL, *tenant = NULL, *authority = NULL;

        self_contained(html);
        contains(html, "<title>政务云资源开通三方确认单</title>");
        contains(html, "<h1>政务云资源开通三方确认单</h1>");
        row_is(html, "<table class=\"info header\">\n", 0, "使用单位|" UNIT "|系统名称|" SYS);
        contains(html, "<th>资源池</th><td>驻马店市政务云信创资源池</td><th>等保级别</th><td>第三级</td>");
        contains(html, "<th>确认单编号</th><td>12（第 1 版）</td><th>生成时间</th><td>2026-12-01T02:00:00Z</td>");
        contains(html, "<th>申请单号</th><td>31</td><th>审批</th><td>驻政数审〔2026〕118号</td>");
        contains(html, "class=\"mono\">sm3:");
        contains(html, "摘要 sm3，签名 sm2");

        /* one row per VM, in order, every column */
        assert_int_equal(count(html, "<tr class=\"vm\">"), 3);
        row_is(html, "<tr class=\"vm\">", 0,
               "1|" UNIT SYS "应用服务器1|应用服务器|10.20.0.11|8080、443|aarch64|8|16|100|500|4核/8G|"
               "4核/8G 系统盘 100G 数据盘 500G");
        row_is(html, "<tr class=\"vm\">", 1,
               "2|" UNIT SYS "应用服务器2|应用服务器|10.20.0.12|8080|aarch64|8|16|100|500|—|"
               "8核/16G 系统盘 100G 数据盘 500G");
        row_is(html, "<tr class=\"vm\">", 2,
               "3|" UNIT SYS "数据库服务器1|数据库服务器|10.20.0.21|—|aarch64|8|32|100|1000|8核/32G|"
               "8核/32G 系统盘 100G 数据盘 1000G");
        row_is(html, "<tr class=\"total\">", 0, "合计（3 台）|24|64|300|2000||");

        contains(html, "<th>开通时间</th><td colspan=\"3\">2026-11-02T01:30:00Z</td>");
        contains(html, "<th>试运行</th><td colspan=\"3\">2026-11-02 至 2026-12-01（30 天）</td>");
        contains(html, "<th>计费起始</th><td colspan=\"3\">自三方确认之日起计费（R-LC3）</td>");
        contains(html, "<th>网络</th><td colspan=\"3\">VNI 10020，网段 10.20.0.0/24，网关 10.20.0.1</td>");
        lacks(html, "<tr class=\"change\">");

        /* tenant and provider signed; the authority has blank lines */
        contains(html, "<p class=\"status\">状态：待签署：管理单位（丙方）</p>");
        lacks(html, "已完成三方确认");
        sigs = between(html, "<table class=\"sigs\">", "</table>");
        contains(sigs, "<th>使用单位（甲方）</th><th>云服务商（乙方）</th><th>管理单位（丙方）</th>");
        tenant = between(sigs, "<td class=\"sig\">", "</td>");
        contains(tenant, UNIT);
        contains(tenant, "<span class=\"k\">签署人</span>王立新</div>");
        contains(tenant, "<span class=\"k\">密钥指纹</span><span class=\"mono\">sha256:");
        contains(tenant, "<span class=\"k\">签名算法</span>sm2</div>");
        contains(tenant, "<span class=\"k\">签署时间</span>2026-12-01T03:12:45Z</div>");
        lacks(tenant, "未签署");
        contains(sigs, "李明");
        authority = between(sigs, "驻马店市大数据管理局", "</td>");
        contains(authority, "<span class=\"k\">签署人</span><span class=\"blank\"></span>");
        contains(authority, "<span class=\"k\">密钥指纹</span><span class=\"blank\"></span>");
        contains(authority, "（未签署）");
        assert_int_equal(count(html, "（未签署）"), 1);

        /* each party's fingerprint as the bundle has it */
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItem(b, "signatures"))
                contains(sigs, str_at(s, "fingerprint"));
}

static void test_change_fixture(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = fixture("sheet-change.json");
        _cleanup_free_ char *html = render(b), *head = NULL;

        self_contained(html);
        contains(html, "<h1>政务云资源变更确认单</h1>");
        row_is(html, "<table class=\"info header\">\n", 0, "使用单位|" UNIT "|系统名称|" SYS);
        head = between(html, "<table class=\"changes\">", "<tbody>");
        row_is(head, "<tr>", 0, "序号|IP地址|主机名称|CPU|内存(G)|系统盘(G)|数据盘(G)|备注（核增/核减/释放等）");
        row_is(head, "<tr>", 1, "变更前|变更后|变更前|变更后|变更前|变更后|变更前|变更后");

        assert_int_equal(count(html, "<tr class=\"change\">"), 4);
        row_is(html, "<tr class=\"change\">", 0,
               "1|10.20.0.11|" UNIT SYS "应用服务器1|4核|8核|8|16|100|100|500|500|核增");
        row_is(html, "<tr class=\"change\">", 1,
               "2|10.20.0.12|" UNIT SYS "应用服务器2|8核|—|16|—|100|—|500|—|释放");
        row_is(html, "<tr class=\"change\">", 2,
               "3|10.20.0.21|" UNIT SYS "数据库服务器1|8核|8核|32|24|100|100|1000|1000|核减");
        row_is(html, "<tr class=\"change\">", 3,
               "4|10.20.0.31|" UNIT SYS "前置机1|—|2核|—|4|—|100|—|200|新增");
        row_is(html, "<tr class=\"total\">", 0, "合计|20核|18核|56|44|300|300|2000|1700|3 台 → 3 台");
        lacks(html, "<tr class=\"vm\">");

        contains(html, "<p class=\"status\">状态：已完成三方确认</p>");
        lacks(html, "未签署");
        lacks(html, "class=\"blank\"></span></div>\n<div><span class=\"k\">密钥指纹");
        contains(html, "王立新");
        contains(html, "李明");
        contains(html, "赵红梅");
        contains(html, "2027-03-16T01:20:04Z");
        assert_int_equal(count(html, "<td class=\"sig\">"), 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escaping),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_nobufs),
                cmocka_unit_test(test_missing_members),
                cmocka_unit_test(test_trial_extended),
                cmocka_unit_test(test_other_kinds),
                cmocka_unit_test(test_golive_fixture),
                cmocka_unit_test(test_change_fixture),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
