/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading plugins (include/gc/plugin.h): dlopen, check the ABI version
 * before anything else, check the kind's required entry points, init.
 */
#pragma once

#include <stddef.h>

#include "gc/error.h"
#include "gc/plugin.h"

struct plugin {
        char *path;
        void *handle;                           /* dlopen() handle */
        const struct gc_plugin_ops *ops;
        void *state;                            /* from ops->init() */
};

/* Load the plugin at path (a name without '/' is looked up in dir), with
 * its config (JSON text; NULL means "{}"). Refusals fill err: field
 * "plugins[].path" style is the caller's business, err->value is the path:
 *   -ENOENT   no such file / dlopen failed (message has dlerror())
 *   -ENOEXEC  no gc_plugin symbol
 *   -EPROTO   ABI version other than GC_PLUGIN_ABI_VERSION (both numbers named)
 *   -EINVAL   unknown kind, missing name or entry points for its kind
 *   other     init() failed (its reason in the message)
 * expect_kind 0 accepts either kind. */
int plugin_load(const char *dir, const char *path, const char *config_json, uint32_t expect_kind,
                const struct gc_plugin_host *host, struct plugin **ret, struct gc_error *err);
void plugin_free(struct plugin *p);     /* fini(), dlclose(); NULL is fine */
static inline void plugin_freep(struct plugin **p) {
        plugin_free(*p);
}
