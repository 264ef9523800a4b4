/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>

#include "log.h"

static enum log_level max_level = LOG_LEVEL_INFO;
static const char *component = "govcloud";

static const char *const level_names[] = {
        [LOG_LEVEL_ERROR] = "error",
        [LOG_LEVEL_WARNING] = "warning",
        [LOG_LEVEL_NOTICE] = "notice",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_DEBUG] = "debug",
};

void log_set_component(const char *name) {
        component = name;
}

void log_set_max_level(enum log_level level) {
        max_level = level;
}

enum log_level log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return i;
        if (s[0] >= '3' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

void log_parse_environment(void) {
        int l = log_level_from_string(getenv("GC_LOG_LEVEL"));
        if (l >= 0)
                max_level = l;
}

static void log_write(enum log_level level, int error, const char *file, int line,
                      const char *func, const char *msg) {
        char ts[32] = "";
        struct timespec now;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &now);
        if (localtime_r(&now.tv_sec, &tm))
                strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", &tm);

        if (error != 0)
                fprintf(stderr, "%s %s %s: %s: %s", ts, level_names[level], component, msg, strerror(abs(error)));
        else
                fprintf(stderr, "%s %s %s: %s", ts, level_names[level], component, msg);
        if (max_level >= LOG_LEVEL_DEBUG)
                fprintf(stderr, " (%s:%d %s)", file, line, func);
        fputc('\n', stderr);
}

int log_internal(enum log_level level, int error, const char *file, int line,
                 const char *func, const char *fmt, ...) {
        int r = error == 0 ? -EIO : -abs(error);

        if (level > max_level)
                return r;

        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_write(level, error, file, line, func, msg);
        return r;
}

int log_openssl_errno(int error, const char *fmt, ...) {
        char msg[1024], lib[256] = "no detail from OpenSSL";
        unsigned long e = ERR_peek_last_error();
        va_list ap;

        if (e != 0)
                ERR_error_string_n(e, lib, sizeof lib);
        ERR_clear_error();

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_debug("%s: %s", msg, lib);
        return error == 0 ? -EIO : -abs(error);
}
