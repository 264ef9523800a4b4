/* SPDX-License-Identifier: Apache-2.0 */
/* gcctl clock advance */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "gcctl.h"
#include "remote.h"

/* The schema's limit on advance_seconds (orchestrator/schemas/agent.json, clock): ten years. */
#define CLOCK_ADVANCE_MAX 315360000ull

static const char advance_usage[] =
        "Usage: gcctl clock advance DURATION [OPTIONS]\n"
        "\n"
        "Move the orchestrator's clock forward by DURATION (POST /v1/test/clock;\n"
        "the authority's role), so that deadlines and timers that are days or\n"
        "months away fall due now. For tests and demos only: this works only\n"
        "against an orchestrator started with --unsafe-test-clock; any other\n"
        "refuses it (HTTP 404). The clock never moves back; the move is audited\n"
        "and kept across restarts.\n"
        "\n"
        "DURATION is a whole number of seconds, or a whole number followed by d\n"
        "(days), h (hours), m (minutes) or s (seconds): 30d, 12h, 90m, 45s, 3600.\n"
        "At most ten years (315360000 s).\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl clock advance 30d\n";

/* "30d", "12h", "90m", "45s" or "3600" as seconds, at most CLOCK_ADVANCE_MAX. */
static int parse_duration(const char *s, uint64_t *ret) {
        uint64_t n = 0, unit = 1;
        const char *p = s;

        for (; *p >= '0' && *p <= '9'; p++) {
                n = n * 10 + (uint64_t) (*p - '0');
                if (n > CLOCK_ADVANCE_MAX)
                        return -ERANGE;
        }
        if (p == s)
                return -EINVAL;
        switch (*p) {
        case '\0':
                break;
        case 'd':
                unit = 86400;
                break;
        case 'h':
                unit = 3600;
                break;
        case 'm':
                unit = 60;
                break;
        case 's':
                unit = 1;
                break;
        default:
                return -EINVAL;
        }
        if (*p && p[1])
                return -EINVAL;
        if (n * unit > CLOCK_ADVANCE_MAX)
                return -ERANGE;
        *ret = n * unit;
        return 0;
}

static int run_advance(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl clock advance" };
        _cleanup_(cJSON_Deletep) cJSON *body = NULL, *answer = NULL;
        _cleanup_free_ char *now = NULL, *seconds_text = NULL;
        const cJSON *n, *offset;
        uint64_t seconds = 0;
        long status;
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, advance_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "DURATION");
        if (ex != GCCTL_EXIT_OK)
                return ex;
        r = parse_duration(argv[i], &seconds);
        if (r == -ERANGE)
                return gcctl_usage_error(rm.verb, "DURATION: \"%s\" is more than ten years (%llu s)", argv[i],
                                         CLOCK_ADVANCE_MAX);
        if (r < 0)
                return gcctl_usage_error(rm.verb, "DURATION: \"%s\" is not a number of seconds, or a number "
                                         "followed by d, h, m or s (30d, 12h, 90m, 45s)", argv[i]);

        body = cJSON_CreateObject();
        cJSON_AddNumberToObject(body, "advance_seconds", (double) seconds);
        ex = remote_call_json(&rm, "POST", "/v1/test/clock", body, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        n = cJSON_GetObjectItemCaseSensitive(answer, "now");
        offset = cJSON_GetObjectItemCaseSensitive(answer, "offset_seconds");
        if (!cJSON_IsString(n) || !cJSON_IsNumber(offset))
                return remote_fail(&rm, "unexpected answer: no \"now\" string and \"offset_seconds\" number in it");
        now = remote_render(n);
        seconds_text = remote_render(offset);
        printf("clock: now %s (offset %s%s s)\n", now, offset->valuedouble < 0 ? "" : "+", seconds_text);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

const struct gcctl_verb gcctl_clock_verbs[] = {
        { "advance", "move the orchestrator's test clock forward (--unsafe-test-clock only)", advance_usage,
          run_advance, NULL },
        {}
};
