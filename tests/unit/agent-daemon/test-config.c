/* SPDX-License-Identifier: Apache-2.0 */
/* gc-agent's configuration: defaults, strictness, relative paths. */
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
#include "config.h"

static struct config *parse_ok(const char *text, const char *dir) {
        struct config *c = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        int r = config_parse(text, strlen(text), dir, &c, &err);

        if (r < 0)
                fail_msg("refused: %s", gc_error_format(&err, buf, sizeof buf));
        assert_non_null(c);
        return c;
}

static void refused(const char *text, const char *field, const char *message_part) {
        struct config *c = NULL;
        struct gc_error err = {};
        int r = config_parse(text, strlen(text), "/etc/govcloud", &c, &err);

        assert_true(r < 0);
        assert_null(c);
        assert_string_equal(err.field, field);
        if (message_part && !strstr(err.message, message_part))
                fail_msg("message \"%s\" lacks \"%s\"", err.message, message_part);
}

#define TLS "\"tls\": {\"cert\": \"pki/host.crt\", \"key\": \"pki/host.key\", \"ca\": \"/etc/govcloud/ca.crt\"}"
#define MINIMAL "{\"orchestrator\": \"https://orch.example:8443\", " TLS "}"

static void test_defaults(void **state) {
        struct config *c = parse_ok(MINIMAL, "/etc/govcloud");

        assert_string_equal(c->orchestrator, "https://orch.example:8443");
        assert_string_equal(c->tls_cert, "/etc/govcloud/pki/host.crt");
        assert_string_equal(c->tls_key, "/etc/govcloud/pki/host.key");
        assert_string_equal(c->tls_ca, "/etc/govcloud/ca.crt");
        assert_string_equal(c->libvirt_uri, "test:///default");
        assert_string_equal(c->storage_pool, "default-pool");
        assert_int_equal(c->poll_seconds, 25);
        assert_string_equal(c->journal, "/var/lib/govcloud/agent.journal");
        assert_int_equal(c->capacity.vcpus, 0);
        assert_int_equal(c->capacity.memory_mib, 0);
        assert_int_equal(c->capacity.storage_gib, 0);
        assert_null(c->capacity.arch);
        config_free(c);
}

static void test_full(void **state) {
        struct config *c = parse_ok(
                "{\"orchestrator\": \"https://10.0.0.1:8443/prefix\", " TLS ", "
                "\"libvirt_uri\": \"qemu:///system\", \"storage_pool\": \"default\", "
                "\"capacity\": {\"vcpus\": 64, \"memory_mib\": 262144, \"storage_gib\": 8192, \"arch\": \"aarch64\"}, "
                "\"poll_seconds\": 5, \"journal\": \"state/agent.journal\"}",
                "/srv/agent");

        assert_string_equal(c->libvirt_uri, "qemu:///system");
        assert_string_equal(c->storage_pool, "default");
        assert_int_equal(c->capacity.vcpus, 64);
        assert_int_equal(c->capacity.memory_mib, 262144);
        assert_int_equal(c->capacity.storage_gib, 8192);
        assert_string_equal(c->capacity.arch, "aarch64");
        assert_int_equal(c->poll_seconds, 5);
        assert_string_equal(c->journal, "/srv/agent/state/agent.journal");
        assert_string_equal(c->tls_cert, "/srv/agent/pki/host.crt");
        config_free(c);

        /* Each capacity member is optional. */
        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"capacity\": {\"memory_mib\": 1024}}", "/x");
        assert_int_equal(c->capacity.vcpus, 0);
        assert_int_equal(c->capacity.memory_mib, 1024);
        assert_null(c->capacity.arch);
        config_free(c);
}

static void test_unknown_keys(void **state) {
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"colour\": \"blue\"}", "colour", "not a setting");
        refused("{\"orchestrator\": \"https://o\", \"tls\": {\"cert\": \"a\", \"key\": \"b\", \"ca\": \"c\", \"crl\": \"d\"}}",
                "tls.crl", "cert, key, ca");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"capacity\": {\"gpus\": 2}}", "capacity.gpus", "not a setting");
        /* The factors are the orchestrator's business, not the agent's. */
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"max_vcpus_factor\": 4}", "max_vcpus_factor", NULL);
}

static void test_bad_types(void **state) {
        refused("{\"orchestrator\": 443, " TLS "}", "orchestrator", "string");
        refused("{\"orchestrator\": \"http://o\", " TLS "}", "orchestrator", "https");
        refused("{\"orchestrator\": \"https://\", " TLS "}", "orchestrator", "https");
        refused("{" TLS "}", "orchestrator", "required");
        refused("{\"orchestrator\": \"https://o\"}", "tls", "required");
        refused("{\"orchestrator\": \"https://o\", \"tls\": [\"a\"]}", "tls", "object");
        refused("{\"orchestrator\": \"https://o\", \"tls\": {\"cert\": \"a\", \"key\": \"b\"}}", "tls.ca", "required");
        refused("{\"orchestrator\": \"https://o\", \"tls\": {\"cert\": \"\", \"key\": \"b\", \"ca\": \"c\"}}", "tls.cert", "non-empty");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"poll_seconds\": \"25\"}", "poll_seconds", "integer");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"poll_seconds\": 0}", "poll_seconds", "1 to 300");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"poll_seconds\": 2.5}", "poll_seconds", "integer");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"capacity\": {\"vcpus\": -1}}", "capacity.vcpus", "integer");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"capacity\": {\"arch\": 64}}", "capacity.arch", "string");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"capacity\": {\"arch\": \"riscv64\"}}",
                "capacity.arch", "x86_64, aarch64 or other");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"capacity\": 4}", "capacity", "object");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"libvirt_uri\": null}", "libvirt_uri", "string");
        refused("[1]", "", "object");
        /* Not JSON, and JSON that json_parse refuses (a duplicate key). */
        refused("{\"orchestrator\": ", "byte 17", NULL);
        refused("{\"orchestrator\": \"https://o\", \"orchestrator\": \"https://p\", " TLS "}", "orchestrator", NULL);
}

/* Relative paths are relative to the file's directory, wherever the agent runs. */
static void test_relative_to_file(void **state) {
        char dir[] = "/tmp/gc-agent-config.XXXXXX";
        struct config *c = NULL;
        struct gc_error err = {};
        FILE *f;

        assert_non_null(mkdtemp(dir));
        char *path = xasprintf("%s/agent.json", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("{\"orchestrator\": \"https://o\", " TLS ", \"journal\": \"agent.journal\"}", f);
        fclose(f);

        assert_int_equal(chdir("/"), 0);
        assert_int_equal(config_load(path, &c, &err), 0);
        char *want = xasprintf("%s/pki/host.crt", dir);
        assert_string_equal(c->tls_cert, want);
        free(want);
        want = xasprintf("%s/agent.journal", dir);
        assert_string_equal(c->journal, want);
        free(want);
        assert_string_equal(c->tls_ca, "/etc/govcloud/ca.crt");
        assert_string_equal(c->path, path);
        config_free(c);

        /* A missing file names itself. */
        char *missing = xasprintf("%s/none.json", dir);
        c = NULL;
        assert_int_equal(config_load(missing, &c, &err), -ENOENT);
        assert_null(c);
        assert_string_equal(err.value, missing);

        unlink(path);
        rmdir(dir);
        free(missing);
        free(path);
}

/* The operations tunnels' section: state next to the journal by default. */
static void test_tunnels(void **state) {
        struct config *c = parse_ok(MINIMAL, "/etc/govcloud");

        assert_string_equal(c->tunnels.state, "/var/lib/govcloud/agent.journal.tunnels");
        assert_int_equal(c->tunnels.port_min, 0);
        assert_int_equal(c->tunnels.port_max, 0);
        config_free(c);

        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"journal\": \"a/j\"}", "/srv");
        assert_string_equal(c->tunnels.state, "/srv/a/j.tunnels");
        config_free(c);

        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"state\": \"t.json\", \"ports\": [40000, 40009]}}",
                     "/srv");
        assert_string_equal(c->tunnels.state, "/srv/t.json");
        assert_int_equal(c->tunnels.port_min, 40000);
        assert_int_equal(c->tunnels.port_max, 40009);
        config_free(c);

        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"listen\": \"x\"}}", "tunnels.listen", "not a setting");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": []}", "tunnels", "object");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"state\": \"\"}}", "tunnels.state", "non-empty");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"ports\": [2, 1]}}", "tunnels.ports", "MIN");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"ports\": [0, 100]}}", "tunnels.ports", "MIN");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"ports\": [1, 70000]}}", "tunnels.ports", "MIN");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"ports\": [1.5, 2]}}", "tunnels.ports", "MIN");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"ports\": [1]}}", "tunnels.ports", "MIN");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"tunnels\": {\"ports\": 40000}}", "tunnels.ports", "MIN");
}

/* vm.wipe's section: no key by default (vm.wipe then fails), state next to
 * the journal, relative paths from the file's directory, limits. */
static void test_wipe(void **state) {
        struct config *c = parse_ok(MINIMAL, "/etc/govcloud");

        assert_null(c->wipe.signing_key);
        assert_string_equal(c->wipe.state_dir, "/var/lib/govcloud/agent.journal.wipe");
        assert_int_equal(c->wipe.progress_seconds, 5);
        assert_int_equal(c->wipe.sample_blocks, 4096);
        config_free(c);

        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"journal\": \"a/j\", "
                     "\"wipe\": {\"signing_key\": \"sign/host-a.key\", \"progress_seconds\": 2, \"sample_blocks\": 16}}",
                     "/srv");
        assert_string_equal(c->wipe.signing_key, "/srv/sign/host-a.key");
        assert_string_equal(c->wipe.state_dir, "/srv/a/j.wipe");
        assert_int_equal(c->wipe.progress_seconds, 2);
        assert_int_equal(c->wipe.sample_blocks, 16);
        config_free(c);

        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": {\"state_dir\": \"/var/lib/w\"}}", "/srv");
        assert_string_equal(c->wipe.state_dir, "/var/lib/w");
        config_free(c);

        refused("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": {\"method\": \"zero\"}}", "wipe.method",
                "signing_key, state_dir, progress_seconds, sample_blocks");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": \"on\"}", "wipe", "object");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": {\"signing_key\": \"\"}}", "wipe.signing_key",
                "non-empty");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": {\"signing_key\": 1}}", "wipe.signing_key", "string");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": {\"progress_seconds\": 0}}", "wipe.progress_seconds",
                "1 to 300");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": {\"progress_seconds\": 301}}", "wipe.progress_seconds",
                "1 to 300");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": {\"sample_blocks\": 0}}", "wipe.sample_blocks",
                "integer");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"wipe\": {\"sample_blocks\": 1.5}}", "wipe.sample_blocks",
                "integer");
}

/* The utilization sampler's section (agent/usage.h): on by default, the
 * spool beside the journal, the bounds named by their field. */
static void test_metrics(void **state) {
        struct config *c = parse_ok(MINIMAL, "/etc/govcloud");

        assert_true(c->metrics.enabled);
        assert_int_equal(c->metrics.interval_seconds, 60);
        assert_int_equal(c->metrics.batch_seconds, 300);
        assert_int_equal(c->metrics.batch_max, 5000);
        assert_string_equal(c->metrics.spool, "/var/lib/govcloud/agent.journal.metrics");
        config_free(c);

        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"journal\": \"a/j\", \"metrics\": {\"enabled\": false, "
                     "\"interval_seconds\": 5, \"batch_seconds\": 5, \"batch_max\": 1}}", "/srv");
        assert_false(c->metrics.enabled);
        assert_int_equal(c->metrics.interval_seconds, 5);
        assert_int_equal(c->metrics.batch_seconds, 5);
        assert_int_equal(c->metrics.batch_max, 1);
        assert_string_equal(c->metrics.spool, "/srv/a/j.metrics");
        config_free(c);

        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"interval_seconds\": 3600, "
                     "\"batch_seconds\": 86400, \"batch_max\": 50000}}", "/srv");
        assert_true(c->metrics.enabled);
        assert_int_equal(c->metrics.interval_seconds, 3600);
        assert_int_equal(c->metrics.batch_seconds, 86400);
        assert_int_equal(c->metrics.batch_max, 50000);
        config_free(c);

        /* Without batch_seconds, a batch holds at least one sample. */
        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"interval_seconds\": 900}}", "/srv");
        assert_int_equal(c->metrics.batch_seconds, 900);
        config_free(c);
        c = parse_ok("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"interval_seconds\": 10}}", "/srv");
        assert_int_equal(c->metrics.batch_seconds, 300);
        config_free(c);

        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"period\": 60}}", "metrics.period",
                "enabled, interval_seconds, batch_seconds, batch_max");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": true}", "metrics", "object");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"enabled\": \"yes\"}}", "metrics.enabled",
                "true or false");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"enabled\": 1}}", "metrics.enabled",
                "true or false");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"interval_seconds\": 4}}",
                "metrics.interval_seconds", "5 to 3600");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"interval_seconds\": 3601}}",
                "metrics.interval_seconds", "5 to 3600");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"interval_seconds\": 60.5}}",
                "metrics.interval_seconds", "integer");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"interval_seconds\": \"60\"}}",
                "metrics.interval_seconds", "integer");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"batch_seconds\": 59}}",
                "metrics.batch_seconds", "less than metrics.interval_seconds (60)");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"interval_seconds\": 120, \"batch_seconds\": 60}}",
                "metrics.batch_seconds", "less than metrics.interval_seconds (120)");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"batch_seconds\": 0}}",
                "metrics.batch_seconds", "1 to 86400");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"batch_seconds\": 86401}}",
                "metrics.batch_seconds", "1 to 86400");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"batch_max\": 0}}",
                "metrics.batch_max", "1 to 50000");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"batch_max\": 50001}}",
                "metrics.batch_max", "1 to 50000");
        refused("{\"orchestrator\": \"https://o\", " TLS ", \"metrics\": {\"batch_max\": null}}",
                "metrics.batch_max", "integer");
}

/* The example shipped in scripts/ is a valid configuration. */
static void test_shipped_example(void **state) {
        const char *src = getenv("GC_SRCDIR");
        struct config *c = NULL;
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];

        if (!src)
                skip();
        char *path = xasprintf("%s/scripts/agent.json.example", src);
        if (config_load(path, &c, &err) < 0)
                fail_msg("%s: %s", path, gc_error_format(&err, buf, sizeof buf));
        assert_string_equal(c->libvirt_uri, "qemu:///system");
        assert_string_equal(c->tls_cert, "/etc/govcloud/pki/tls/host-host-a.crt");
        assert_int_equal(c->capacity.vcpus, 64);
        assert_string_equal(c->tunnels.state, "/var/lib/govcloud/tunnels.json");
        assert_int_equal(c->tunnels.port_min, 40000);
        assert_string_equal(c->wipe.signing_key, "/etc/govcloud/pki/sign/host-host-a.key");
        assert_string_equal(c->wipe.state_dir, "/var/lib/govcloud/wipe");
        assert_true(c->metrics.enabled);
        assert_int_equal(c->metrics.interval_seconds, 60);
        assert_int_equal(c->metrics.batch_seconds, 300);
        assert_int_equal(c->metrics.batch_max, 5000);
        assert_string_equal(c->metrics.spool, "/var/lib/govcloud/agent.journal.metrics");
        config_free(c);
        free(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_full),
                cmocka_unit_test(test_unknown_keys),
                cmocka_unit_test(test_bad_types),
                cmocka_unit_test(test_relative_to_file),
                cmocka_unit_test(test_tunnels),
                cmocka_unit_test(test_wipe),
                cmocka_unit_test(test_metrics),
                cmocka_unit_test(test_shipped_example),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
