/* SPDX-License-Identifier: Apache-2.0 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc-config.h"
#include "log.h"
#include "plugin.h"

#define PLUGIN_SUFFIX ".so"

/* What a plugin gets when the caller lends it nothing: logging through
 * log.h, and no service key. */
static void default_host_log(void *userdata, int level, const char *plugin, const char *message) {
        if (level < LOG_LEVEL_ERROR)
                level = LOG_LEVEL_ERROR;
        if (level > LOG_LEVEL_DEBUG)
                level = LOG_LEVEL_DEBUG;
        (void) log_full_errno((enum log_level) level, 0, "%s: %s", plugin ? plugin : "plugin", message);
}

static int default_host_sign(void *userdata, const void *msg, size_t len,
                             uint8_t **ret_sig, size_t *ret_siglen,
                             const char **ret_alg, const char **ret_key_fingerprint) {
        return -ENOKEY;
}

static const struct gc_plugin_host default_host = {
        .log = default_host_log,
        .sign = default_host_sign,
};

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A path with a '/' is taken as it is (dlopen() would otherwise search the
 * library path); a bare name is a file in dir, ".so" added if missing. */
static char *plugin_resolve(const char *dir, const char *path) {
        if (strchr(path, '/'))
                return xstrdup(path);
        if (!dir || !*dir)
                dir = GC_PLUGINDIR;
        return xasprintf("%s/%s%s", dir, path, has_suffix(path, PLUGIN_SUFFIX) ? "" : PLUGIN_SUFFIX);
}

static const char *plugin_kind_to_string(uint32_t kind) {
        switch (kind) {
        case GC_PLUGIN_APPROVAL:
                return "approval";
        case GC_PLUGIN_NOTIFY:
                return "notify";
        }
        return "unknown";
}

static int plugin_refuse(struct gc_error *err, int r, const char *code, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int plugin_refuse(struct gc_error *err, int r, const char *code, const char *path, const char *fmt, ...) {
        char msg[GC_ERROR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        gc_error_set(err, code, "", "plugin", path, "%s", msg);
        return log_debug_errno(r, "plugin %s: %s", path, msg);
}

/* The fields every plugin needs and those its kind needs. */
static int plugin_check_ops(const struct gc_plugin_ops *ops, uint32_t expect_kind,
                            const char *path, struct gc_error *err) {
        enum gc_key_type key_type;

        if (ops->kind != GC_PLUGIN_APPROVAL && ops->kind != GC_PLUGIN_NOTIFY)
                return plugin_refuse(err, -EINVAL, "plugin_kind", path,
                                     "is of unknown plugin kind %" PRIu32, ops->kind);
        if (expect_kind != 0 && ops->kind != expect_kind)
                return plugin_refuse(err, -EINVAL, "plugin_kind", path,
                                     "is of kind %s, not %s as expected",
                                     plugin_kind_to_string(ops->kind), plugin_kind_to_string(expect_kind));
        if (!ops->name || !*ops->name)
                return plugin_refuse(err, -EINVAL, "plugin_ops", path, "has no name");
        if (!ops->init || !ops->fini)
                return plugin_refuse(err, -EINVAL, "plugin_ops", path, "lacks init() or fini()");

        switch (ops->kind) {
        case GC_PLUGIN_APPROVAL:
                if (!ops->verify)
                        return plugin_refuse(err, -EINVAL, "plugin_ops", path,
                                             "is an approval plugin without verify()");
                if (!ops->key_type || crypto_key_type_from_string(ops->key_type, &key_type) < 0)
                        return plugin_refuse(err, -EINVAL, "plugin_ops", path,
                                             "is an approval plugin without a known key_type (sm2, ed25519)");
                break;
        case GC_PLUGIN_NOTIFY:
                if (!ops->notify)
                        return plugin_refuse(err, -EINVAL, "plugin_ops", path,
                                             "is a notify plugin without notify()");
                break;
        }
        return 0;
}

static void dlclosep(void **handle) {
        if (*handle)
                dlclose(*handle);
}

int plugin_load(const char *dir, const char *path, const char *config_json, uint32_t expect_kind,
                const struct gc_plugin_host *host, struct plugin **ret, struct gc_error *err) {
        _cleanup_(dlclosep) void *handle = NULL;
        _cleanup_free_ char *resolved = NULL;
        const struct gc_plugin_ops *ops;
        char reason[GC_PLUGIN_REASON_MAX] = "";
        struct plugin *p;
        void *state = NULL;
        uint32_t abi;
        void *sym;
        int r;

        if (!path || !*path) {
                gc_error_set(err, "plugin_path", "", "plugin", "", "is empty");
                return -EINVAL;
        }
        resolved = plugin_resolve(dir, path);

        handle = dlopen(resolved, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
                const char *e = dlerror();
                return plugin_refuse(err, -ENOENT, "plugin_load", resolved,
                                     "cannot be loaded: %s", e ? e : "dlopen failed");
        }

        (void) dlerror();
        sym = dlsym(handle, GC_PLUGIN_SYMBOL);
        if (!sym)
                return plugin_refuse(err, -ENOEXEC, "plugin_symbol", resolved,
                                     "exports no %s symbol", GC_PLUGIN_SYMBOL);

        /* The version first, and nothing else of a plugin built for another
         * ABI: its structure may have another layout. */
        memcpy(&abi, sym, sizeof abi);
        if (abi != GC_PLUGIN_ABI_VERSION)
                return plugin_refuse(err, -EPROTO, "plugin_abi", resolved,
                                     "was built for plugin ABI version %" PRIu32
                                     ", this orchestrator speaks version %u",
                                     abi, GC_PLUGIN_ABI_VERSION);
        ops = sym;

        r = plugin_check_ops(ops, expect_kind, resolved, err);
        if (r < 0)
                return r;

        r = ops->init(host ? host : &default_host, config_json ? config_json : "{}",
                      &state, reason, sizeof reason);
        if (r < 0) {
                reason[sizeof reason - 1] = 0;
                return plugin_refuse(err, r, "plugin_init", resolved, "%s: init failed: %s",
                                     ops->name, reason[0] ? reason : strerror(-r));
        }

        p = xnew(struct plugin, 1);
        p->path = TAKE_PTR(resolved);
        p->handle = TAKE_PTR(handle);
        p->ops = ops;
        p->state = state;
        log_debug("plugin %s (%s) loaded from %s", ops->name, plugin_kind_to_string(ops->kind), p->path);
        *ret = p;
        return 0;
}

void plugin_free(struct plugin *p) {
        if (!p)
                return;
        if (p->ops)
                p->ops->fini(p->state);
        if (p->handle)
                dlclose(p->handle);
        free(p->path);
        free(p);
}
