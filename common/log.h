/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to stderr, one line per event: "LEVEL component: message".
 * common/ itself logs at debug level only; callers decide what a person sees.
 *
 *     return log_error_errno(r, "define %s", name);   logs and returns r (negative)
 *
 * Never log key material or tokens.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>

enum log_level {
        LOG_LEVEL_ERROR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

void log_set_component(const char *name);
void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);
/* "error", "warning", "notice", "info", "debug" or a digit; -EINVAL otherwise. */
int log_level_from_string(const char *s);
/* Reads GC_LOG_LEVEL. */
void log_parse_environment(void);

/* error is a negative (or positive) errno or 0; returns -abs(error), or -EIO if 0. */
int log_internal(enum log_level level, int error, const char *file, int line,
                 const char *func, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...)   ((void) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__))
#define log_info(...)    ((void) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__))
#define log_notice(...)  ((void) log_full_errno(LOG_LEVEL_NOTICE, 0, __VA_ARGS__))
#define log_warning(...) ((void) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__))
#define log_error(...)   ((void) log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__))

#define log_debug_errno(e, ...)   log_full_errno(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_LEVEL_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_LEVEL_ERROR, (e), __VA_ARGS__)

/* Log the OpenSSL error queue's first entry with the message; clears the queue.
 * Returns -EIO (or the given negative errno). */
int log_openssl_errno(int error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
