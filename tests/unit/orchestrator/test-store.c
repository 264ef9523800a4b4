/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite store and the audit chain over it, on a real file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "audit.h"
#include "cleanup.h"
#include "store.h"

static char dir[] = "/tmp/gc-test-store-XXXXXX";
static char path[256];

static int setup(void **state) {
        strcpy(dir, "/tmp/gc-test-store-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/orch.db", dir);
        return 0;
}

static int teardown(void **state) {
        char p[300];
        const char *suffix[] = { "", "-wal", "-shm" };
        for (size_t i = 0; i < 3; i++) {
                snprintf(p, sizeof p, "%s%s", path, suffix[i]);
                unlink(p);
        }
        rmdir(dir);
        return 0;
}

static void test_migrations(void **state) {
        struct store *s = NULL;
        int64_t v = -1;

        assert_int_equal(store_open(path, &s), 0);
        assert_int_equal(store_version(s, &v), 0);
        assert_int_equal(v, 8);
        assert_int_equal(store_exec(s, "INSERT INTO units (name, created) VALUES (?, ?)",
                                    STORE_ARGS(STORE_TEXT("市xx局"), STORE_INT(1)), NULL), 0);
        store_close(s);

        /* Reopening keeps the data and does not migrate again. */
        assert_int_equal(store_open(path, &s), 0);
        assert_int_equal(store_version(s, &v), 0);
        assert_int_equal(v, 8);
        int64_t n = 0;
        assert_int_equal(store_query_int(s, "SELECT COUNT(*) FROM units", STORE_NO_ARGS, &n), 0);
        assert_int_equal(n, 1);
        /* Migration 4 rebuilt the jobs table: VPC jobs are a kind, others are not. */
        assert_int_equal(store_exec(s, "INSERT INTO pools (name, pack, updated) VALUES ('p', 'baotou', 1)", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(s, "INSERT INTO hosts (name, pool, underlay_address, operations_address, state, created) "
                                       "VALUES ('h', 'p', '192.0.2.1', '192.0.2.1', 'up', 1)", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(s, "INSERT INTO jobs (host, kind, payload, state, created) VALUES ('h', 'vpc.ensure', '{}', 'queued', 1)",
                                    STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(s, "INSERT INTO jobs (host, kind, payload, state, created) VALUES ('h', 'vm.resize', '{}', 'queued', 1)",
                                    STORE_NO_ARGS, NULL), -EINVAL);
        /* Migration 6 rebuilt it again: tunnel jobs are a kind (R-OP1). */
        assert_int_equal(store_exec(s, "INSERT INTO jobs (host, kind, payload, state, created) VALUES ('h', 'tunnel.open', '{}', 'queued', 1)",
                                    STORE_NO_ARGS, NULL), 0);
        /* Migration 7: the reclaim's jobs are kinds (R-EX3); an exit sheet is one per system (R-LC5). */
        assert_int_equal(store_exec(s, "INSERT INTO jobs (host, kind, payload, state, created) VALUES ('h', 'vm.stop', '{}', 'queued', 1)",
                                    STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(s, "INSERT INTO jobs (host, kind, payload, state, created) VALUES ('h', 'vm.wipe', '{}', 'queued', 1)",
                                    STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_query_int(s, "SELECT COUNT(*) FROM jobs WHERE kind = 'tunnel.open'", STORE_NO_ARGS, &n), 0);
        assert_int_equal(n, 1);
        /* Migration 8: one aggregate row per VM and day (R-RS7); a batch digest once. */
        assert_int_equal(store_exec(s, "INSERT INTO usage_daily (vm_id, day, cpu_sum, cpu_n) VALUES (1, 20000, 100, 1)",
                                    STORE_NO_ARGS, NULL), -EINVAL);     /* no VM 1: the foreign key */
        assert_int_equal(store_exec(s, "INSERT INTO metric_batches (digest, source, samples, received) VALUES ('d', 'p', 1, 1)",
                                    STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(s, "INSERT INTO metric_batches (digest, source, samples, received) VALUES ('d', 'p', 1, 2)",
                                    STORE_NO_ARGS, NULL), -EEXIST);
        /* WAL and foreign keys are on. */
        _cleanup_free_ char *mode = NULL;
        assert_int_equal(store_query_text(s, "PRAGMA journal_mode", STORE_NO_ARGS, &mode), 0);
        assert_string_equal(mode, "wal");
        assert_int_equal(store_query_int(s, "PRAGMA foreign_keys", STORE_NO_ARGS, &n), 0);
        assert_int_equal(n, 1);
        store_close(s);

        /* "sqlite:" prefix; an unknown scheme is refused. */
        _cleanup_free_ char *uri = xasprintf("sqlite:%s", path);
        assert_int_equal(store_open(uri, &s), 0);
        store_close(s);
        assert_int_equal(store_open("postgres:x", &s), -EPROTONOSUPPORT);
}

static void test_newer_schema_refused(void **state) {
        struct store *s = NULL;
        assert_int_equal(store_open(path, &s), 0);
        assert_int_equal(store_exec(s, "PRAGMA user_version = 99", STORE_NO_ARGS, NULL), 0);
        store_close(s);
        assert_int_equal(store_open(path, &s), -EPROTO);
}

static void test_errors_and_transactions(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        int64_t n = -1, id = 0;

        assert_int_equal(store_open(path, &s), 0);
        assert_int_equal(store_query_int(s, "INSERT INTO units (name, created) VALUES (?, ?) RETURNING id",
                                         STORE_ARGS(STORE_TEXT("市xx局"), STORE_INT(1)), &id), 0);
        assert_true(id > 0);
        /* Unique: -EEXIST. Foreign key: -EINVAL. Wrong argument count: -EINVAL. */
        assert_int_equal(store_exec(s, "INSERT INTO units (name, created) VALUES (?, ?)",
                                    STORE_ARGS(STORE_TEXT("市xx局"), STORE_INT(2)), NULL), -EEXIST);
        assert_int_equal(store_exec(s, "INSERT INTO systems (unit_id, name, mlps_level, availability, classified, state, created, updated) "
                                       "VALUES (999, 'x', 1, '99%', 0, 'registered', 0, 0)", STORE_NO_ARGS, NULL), -EINVAL);
        assert_int_equal(store_exec(s, "SELECT ?", STORE_NO_ARGS, NULL), -EINVAL);
        assert_int_equal(store_query_int(s, "SELECT id FROM units WHERE name = 'nobody'", STORE_NO_ARGS, &n), -ENOENT);

        /* Rollback discards; commit keeps. */
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, "INSERT INTO units (name, created) VALUES ('甲', 1)", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_rollback(s), 0);
        assert_int_equal(store_query_int(s, "SELECT COUNT(*) FROM units", STORE_NO_ARGS, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_exec(s, "INSERT INTO units (name, created) VALUES ('乙', 1)", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(store_query_int(s, "SELECT COUNT(*) FROM units", STORE_NO_ARGS, &n), 0);
        assert_int_equal(n, 2);
}

static void test_query_json(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        _cleanup_(cJSON_Deletep) cJSON *rows = NULL, *one = NULL;

        assert_int_equal(store_open(path, &s), 0);
        assert_int_equal(store_query_json(s, "SELECT 1 AS n, 'a' AS s, NULL AS z, 0 AS \"b@bool\", 86400 AS \"t@time\", "
                                             "'{\"k\":[1,2]}' AS \"j@json\"", STORE_NO_ARGS, &rows), 0);
        assert_int_equal(cJSON_GetArraySize(rows), 1);
        _cleanup_free_ char *text = cJSON_PrintUnformatted(rows);
        assert_string_equal(text, "[{\"n\":1,\"s\":\"a\",\"z\":null,\"b\":false,\"t\":\"1970-01-02T00:00:00Z\",\"j\":{\"k\":[1,2]}}]");
        assert_int_equal(store_query_json_one(s, "SELECT 1 WHERE 0", STORE_NO_ARGS, &one), -ENOENT);
}

static void append(struct store *s, const char *action, int64_t t) {
        _cleanup_(cJSON_Deletep) cJSON *detail = cJSON_CreateObject();
        cJSON_AddStringToObject(detail, "名", "值");
        struct audit_entry e = { .time = t, .actor = "authority", .role = "authority", .action = action,
                                 .object = "unit:1", .approval = "", .outcome = "recorded", .rule = "R-NM1",
                                 .detail = detail };
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(audit_append(s, GC_HASH_SM3, &e, NULL), 0);
        assert_int_equal(store_commit(s), 0);
}

static void test_audit_chain(void **state) {
        _cleanup_(store_closep) struct store *s = NULL;
        int64_t count = 0, bad = 0;

        assert_int_equal(store_open(path, &s), 0);
        for (int i = 0; i < 5; i++)
                append(s, "unit.registered", 1000 + i);
        assert_int_equal(audit_verify_store(s, &count, &bad), 0);
        assert_int_equal(count, 5);

        _cleanup_free_ char *first_prev = NULL;
        assert_int_equal(store_query_text(s, "SELECT prev FROM audit WHERE seq = 1", STORE_NO_ARGS, &first_prev), 0);
        assert_string_equal(first_prev, "sm3:0000000000000000000000000000000000000000000000000000000000000000");

        /* R-AU1: the store refuses to edit or remove a record inside the
         * retention; one who edits the file drops the triggers first, and
         * the chain still tells. */
        assert_int_equal(store_exec(s, "UPDATE audit SET actor = 'someone' WHERE seq = 3", STORE_NO_ARGS, NULL), -EINVAL);
        assert_int_equal(store_exec(s, "DELETE FROM audit WHERE seq = 4", STORE_NO_ARGS, NULL), -EINVAL);
        assert_int_equal(audit_verify_store(s, &count, &bad), 0);
        assert_int_equal(store_exec(s, "DROP TRIGGER audit_no_update", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(store_exec(s, "DROP TRIGGER audit_no_delete", STORE_NO_ARGS, NULL), 0);

        /* An edited field breaks its record. */
        assert_int_equal(store_exec(s, "UPDATE audit SET actor = 'someone' WHERE seq = 3", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(audit_verify_store(s, &count, &bad), -EBADMSG);
        assert_int_equal(bad, 3);
        assert_int_equal(store_exec(s, "UPDATE audit SET actor = 'authority' WHERE seq = 3", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(audit_verify_store(s, &count, &bad), 0);

        /* A deleted record breaks the link of the next. */
        assert_int_equal(store_exec(s, "DELETE FROM audit WHERE seq = 4", STORE_NO_ARGS, NULL), 0);
        assert_int_equal(audit_verify_store(s, &count, &bad), -EBADMSG);
        assert_int_equal(bad, 5);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
                cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors_and_transactions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_query_json, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audit_chain, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
