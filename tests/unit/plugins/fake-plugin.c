/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plugins that are wrong on purpose, for test-plugin.c. One source, built
 * once per -D:
 *   FAKE_BAD_ABI     a complete notify plugin that says ABI 999; init aborts
 *   FAKE_NO_SYMBOL   exports no gc_plugin
 *   FAKE_BAD_KIND    kind 7
 *   FAKE_NO_NOTIFY   a notify plugin without notify()
 *   FAKE_INIT_FAILS  init refuses with a reason
 *   FAKE_OK          a notify plugin that logs what init got and that fini ran
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "gc/plugin.h"

#define FAKE_NAME "fake"

static const struct gc_plugin_host *fake_host;

static int fake_init(const struct gc_plugin_host *host, const char *config_json,
                     void **ret_state, char *reason, size_t reason_size) {
#if defined(FAKE_BAD_ABI)
        /* The loader must refuse this plugin before it calls anything. */
        abort();
#elif defined(FAKE_INIT_FAILS)
        snprintf(reason, reason_size, "refused on purpose");
        return -EACCES;
#else
        fake_host = host;
        if (host && host->log)
                host->log(host->userdata, 6, FAKE_NAME, config_json);
        *ret_state = NULL;
        return 0;
#endif
}

static void fake_fini(void *state) {
        if (fake_host && fake_host->log)
                fake_host->log(fake_host->userdata, 6, FAKE_NAME, "fini");
        fake_host = NULL;
}

#if !defined(FAKE_NO_NOTIFY)
static int fake_notify(void *state, const char *event_json, size_t len, char *reason, size_t reason_size) {
        return 0;
}
#endif

#if defined(FAKE_NO_SYMBOL)
__attribute__((visibility("default"))) const int fake_plugin_marker = 1;
const struct gc_plugin_ops fake_plugin_ops = {
#else
__attribute__((visibility("default"))) const struct gc_plugin_ops gc_plugin = {
#endif
#if defined(FAKE_BAD_ABI)
        .abi_version = 999,
#else
        .abi_version = GC_PLUGIN_ABI_VERSION,
#endif
#if defined(FAKE_BAD_KIND)
        .kind = 7,
#else
        .kind = GC_PLUGIN_NOTIFY,
#endif
        .name = FAKE_NAME,
        .description = "a plugin for the loader's tests",
        .init = fake_init,
        .fini = fake_fini,
#if !defined(FAKE_NO_NOTIFY)
        .notify = fake_notify,
#endif
};
