/* SPDX-License-Identifier: Apache-2.0 */
/* Request parsing (intake's first two checks) and the lifecycle table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "approval.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "lifecycle.h"
#include "request.h"

static char *sample(const char *name, size_t *ret_len) {
        _cleanup_free_ char *path = xasprintf("%s/scripts/samples/%s", GC_SRCDIR, name);
        char *data = NULL;
        assert_int_equal(gc_read_file(path, REQUEST_MAX, &data, ret_len), 0);
        return data;
}

static void test_time(void **state) {
        int64_t t;
        assert_int_equal(request_parse_time("1970-01-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(request_parse_time("2026-11-20T09:30:00+08:00", &t), 0);
        assert_int_equal(t, 1795138200);
        assert_int_equal(request_parse_time("2026-11-20T01:30:00.123Z", &t), 0);
        assert_int_equal(t, 1795138200);
        assert_int_equal(request_parse_time("2026-11-19T20:30:00-05:00", &t), 0);
        assert_int_equal(t, 1795138200);
        const char *bad[] = { "2026-11-20", "2026-11-20T09:30:00", "2026-02-30T00:00:00Z", "2026-11-20T24:00:00Z",
                              "2026-11-20T09:30:00+8:00", "2026-11-20T09:30:00.Z", "2026-11-20 09:30:00Z", "" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(request_parse_time(bad[i], &t), -EINVAL);
}

static void test_parse_sample(void **state) {
        size_t len;
        _cleanup_free_ char *text = sample("apply.json", &len);
        _cleanup_(request_freep) struct request *req = NULL;
        struct gc_error err = {};

        assert_int_equal(request_parse(text, len, &req, &err), 0);
        assert_string_equal(req->kind, "apply");
        assert_string_equal(req->approval_system, "approval-oa");
        assert_string_equal(req->approval_id, "OA-2026-0001");
        assert_int_equal(req->approval_time, 1795138200);
        assert_false(req->major_change_review);
        assert_null(req->change_exception);
        assert_int_equal(request_check_schema(req, &err), 0);
        /* The signed bytes leave the signature out and are canonical. */
        assert_null(strstr(req->signed_bytes, "\"signature\""));
        assert_memory_equal(req->signed_bytes, "{\"approval\":{\"approvers\"", 24);
        assert_memory_equal(req->digest, "sm3:", 4);
        assert_int_equal(strlen(req->digest), 4 + 64);
}

/* The signature does not change the signed bytes; any other field does. */
static void test_signed_bytes_cover_everything_but_the_signature(void **state) {
        size_t len;
        _cleanup_free_ char *text = sample("apply.json", &len);
        _cleanup_(request_freep) struct request *a = NULL, *b = NULL, *c = NULL;
        struct gc_error err = {};

        assert_int_equal(request_parse(text, len, &a, &err), 0);
        char *p = strstr(text, "\"AAAA\"");
        assert_non_null(p);
        memcpy(p, "\"BBBB\"", 6);
        assert_int_equal(request_parse(text, len, &b, &err), 0);
        assert_string_equal(a->digest, b->digest);
        p = strstr(text, "\"count\": 2");
        assert_non_null(p);
        p[9] = '3';
        assert_int_equal(request_parse(text, len, &c, &err), 0);
        assert_string_not_equal(a->digest, c->digest);
}

static void expect_refusal(const char *text, const char *code, const char *field) {
        _cleanup_(request_freep) struct request *req = NULL;
        struct gc_error err = {};
        int r = request_parse(text, strlen(text), &req, &err);
        if (r >= 0)
                r = request_check_schema(req, &err);
        if (r >= 0)
                fail_msg("accepted: %s", text);
        if (strcmp(err.code, code) != 0 || strcmp(err.field, field) != 0)
                fail_msg("%s: got code %s field %s, want %s %s", text, err.code, err.field, code, field);
}

static void test_envelope_and_schema_refusals(void **state) {
        expect_refusal("", "invalid_json", "byte 0");
        expect_refusal("{\"a\":1,\"a\":2}", "invalid_json", "a");
        expect_refusal("[]", "invalid_envelope", "");
        expect_refusal("{\"schema\":\"govcloud-request/2\",\"kind\":\"apply\",\"approval\":{}}", "invalid_envelope", "schema");
        expect_refusal("{\"schema\":\"govcloud-request/1\",\"kind\":\"delete\",\"approval\":{}}", "invalid_envelope", "kind");

        size_t len;
        _cleanup_free_ char *text = sample("apply.json", &len);
        char *p = strstr(text, "\"vcpus\": 4");
        assert_non_null(p);
        memcpy(p, "\"vcpus\": 0", 10);
        expect_refusal(text, "invalid_request", "vms[0].vcpus");
        memcpy(p, "\"vcpus\": 4", 10);
        p = strstr(text, "\"time\": \"2026-11-20T09:30:00+08:00\"");
        memcpy(p + 9, "2026-11-20 09:30:00+08:00", 25);
        expect_refusal(text, "invalid_envelope", "approval.time");
        memcpy(p + 9, "2026-11-20T09:30:00+08:00", 25);
        p = strstr(text, "\"AAAA\"");
        memcpy(p, "\"A!AA\"", 6);
        expect_refusal(text, "invalid_envelope", "approval.signature");
}

static void test_lifecycle(void **state) {
        assert_true(lifecycle_allowed("registered", "requested"));
        assert_true(lifecycle_allowed("trial", "changing"));
        assert_true(lifecycle_allowed("active", "exit_requested"));
        assert_true(lifecycle_allowed("active", "suspended"));
        /* R-EX2, R-SC3: an order that could not wipe suspended it; the statement moves it on. */
        assert_true(lifecycle_allowed("suspended", "draining"));
        assert_false(lifecycle_allowed("exit_requested", "wiping"));
        assert_false(lifecycle_allowed("reclaimed", "active"));
        assert_false(lifecycle_allowed("requested", "requested"));
        assert_false(lifecycle_allowed("registered", "changing"));
        assert_false(lifecycle_allowed("trial", "exit_requested"));
        assert_false(lifecycle_allowed("reclaimed", "suspended"));
        assert_false(lifecycle_allowed("registered", "suspended"));
        assert_string_equal(lifecycle_target("apply"), "requested");
        assert_string_equal(lifecycle_target("change"), "changing");
        assert_string_equal(lifecycle_target("exit"), "exit_requested");
        assert_true(lifecycle_state_valid("awaiting_golive"));
        assert_false(lifecycle_state_valid("deleted"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_time),
                cmocka_unit_test(test_parse_sample),
                cmocka_unit_test(test_signed_bytes_cover_everything_but_the_signature),
                cmocka_unit_test(test_envelope_and_schema_refusals),
                cmocka_unit_test(test_lifecycle),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
