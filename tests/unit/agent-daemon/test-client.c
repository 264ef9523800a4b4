/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's HTTPS client without a server: what it refuses, what a
 * refused connection gives, the backoff and the stop flag. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "client.h"

static void test_https_only(void **state) {
        struct client *c = NULL;

        assert_int_equal(client_new("http://127.0.0.1:1", "c", "k", "ca", NULL, &c), -EPROTONOSUPPORT);
        assert_null(c);
        assert_int_equal(client_new(NULL, "c", "k", "ca", NULL, &c), -EPROTONOSUPPORT);
        assert_int_equal(client_new("HTTPS://127.0.0.1:1/", "c", "k", "ca", NULL, &c), 0);
        client_free(c);
}

/* Nothing listens on port 1: no answer, a failure with the URL in it. */
static void test_refused_and_backoff(void **state) {
        struct client *c = NULL;
        cJSON *answer = NULL;
        long status = 0;

        assert_int_equal(client_new("https://127.0.0.1:1", "/nonexistent.crt", "/nonexistent.key", "/nonexistent.ca",
                                    NULL, &c), 0);
        assert_int_equal(client_request(c, "GET", "/v1/agent/jobs?wait=1", NULL, 5, true, &status, &answer),
                         -ECONNREFUSED);
        assert_null(answer);
        assert_int_equal(status, 0);
        assert_non_null(strstr(client_error(c), "https://127.0.0.1:1/v1/agent/jobs?wait=1: "));

        /* 1 s, doubling, up to 30 s. */
        assert_int_equal(client_backoff_next(c), CLIENT_BACKOFF_INITIAL_S);
        assert_int_equal(client_backoff(c), 0);
        assert_int_equal(client_backoff_next(c), 2);
        client_backoff_reset(c);
        assert_int_equal(client_backoff_next(c), 1);
        client_free(c);
}

/* A stop (SIGTERM) ends a backoff wait at once. */
static void test_stop_ends_the_wait(void **state) {
        static volatile sig_atomic_t stop = 0;
        struct client *c = NULL;
        struct timespec t0, t1;

        assert_int_equal(client_new("https://127.0.0.1:1", "c", "k", "ca", &stop, &c), 0);
        stop = 1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(client_backoff(c), -ECANCELED);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_true(t1.tv_sec - t0.tv_sec < 1);
        client_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_https_only),
                cmocka_unit_test(test_refused_and_backoff),
                cmocka_unit_test(test_stop_ends_the_wait),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
