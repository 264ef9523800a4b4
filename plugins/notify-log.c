/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Notifier that writes each event as one line: appended to the file named
 * by config {"path": "...", "fsync": false}, or, without a path, handed to
 * the host's log at info level (the orchestrator's stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "gc/plugin.h"
#include "log.h"
#include "options.h"

#define NOTIFY_LOG_NAME "notify-log"

struct notify_log {
        const struct gc_plugin_host *host;
        char *path;     /* NULL: the host's log */
        int fd;
        bool fsync;
};

static void notify_log_fini(void *state) {
        struct notify_log *n = state;

        if (!n)
                return;
        if (n->fd >= 0)
                close(n->fd);
        free(n->path);
        free(n);
}

static int notify_log_init(const struct gc_plugin_host *host, const char *config_json,
                           void **ret_state, char *reason, size_t reason_size) {
        static const char *const known[] = { "path", "fsync", NULL };
        _cleanup_(cJSON_Deletep) cJSON *config = NULL;
        struct notify_log *n;
        const char *path = NULL;
        bool do_fsync = false;
        int r;

        r = options_parse(config_json, known, &config, reason, reason_size);
        if (r < 0)
                return r;
        r = options_string(config, "path", &path, reason, reason_size);
        if (r < 0)
                return r;
        r = options_bool(config, "fsync", &do_fsync, reason, reason_size);
        if (r < 0)
                return r;
        if (do_fsync && !path) {
                options_reason(reason, reason_size, "config.fsync: needs config.path");
                return -EINVAL;
        }

        n = xnew(struct notify_log, 1);
        n->host = host;
        n->fd = -1;
        n->fsync = do_fsync;
        if (path) {
                /* O_APPEND: each line lands whole at the end, beside other writers. */
                n->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
                if (n->fd < 0) {
                        r = -errno;
                        options_reason(reason, reason_size, "cannot open %s: %s", path, strerror(-r));
                        notify_log_fini(n);
                        return r;
                }
                n->path = xstrdup(path);
        }
        *ret_state = n;
        return 0;
}

static int notify_log_write(struct notify_log *n, const char *line, size_t len,
                            char *reason, size_t reason_size) {
        size_t done = 0;

        /* One write() for the whole line; loop only if the kernel takes part. */
        while (done < len) {
                ssize_t k = write(n->fd, line + done, len - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        options_reason(reason, reason_size, "write %s: %s", n->path, strerror(-r));
                        return r;
                }
                done += (size_t) k;
        }
        if (n->fsync && fsync(n->fd) < 0) {
                int r = -errno;
                options_reason(reason, reason_size, "fsync %s: %s", n->path, strerror(-r));
                return r;
        }
        return 0;
}

static int notify_log_notify(void *state, const char *event_json, size_t len,
                             char *reason, size_t reason_size) {
        struct notify_log *n = state;
        _cleanup_free_ char *line = NULL;

        if (!event_json && len > 0) {
                options_reason(reason, reason_size, "no event");
                return -EINVAL;
        }

        /* Canonical JSON has no line breaks; should one come anyway it is
         * white space between tokens (inside a string it would be invalid
         * JSON), and a blank keeps the event on its one line. */
        line = xmalloc(len + 2);
        if (len > 0)
                memcpy(line, event_json, len);
        for (size_t i = 0; i < len; i++)
                if (line[i] == '\n' || line[i] == '\r' || line[i] == 0)
                        line[i] = ' ';

        if (n->fd >= 0) {
                line[len] = '\n';
                return notify_log_write(n, line, len + 1, reason, reason_size);
        }

        line[len] = 0;
        if (n->host && n->host->log)
                n->host->log(n->host->userdata, LOG_LEVEL_INFO, NOTIFY_LOG_NAME, line);
        else
                fprintf(stderr, "%s\n", line);
        return 0;
}

__attribute__((visibility("default"))) const struct gc_plugin_ops gc_plugin = {
        .abi_version = GC_PLUGIN_ABI_VERSION,
        .kind = GC_PLUGIN_NOTIFY,
        .name = NOTIFY_LOG_NAME,
        .description = "Writes each event as one line to a file or to the orchestrator's log",
        .init = notify_log_init,
        .fini = notify_log_fini,
        .notify = notify_log_notify,
};
