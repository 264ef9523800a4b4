/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "gc/error.h"
#include "json.h"
#include "options.h"

void options_reason(char *reason, size_t size, const char *fmt, ...) {
        va_list ap;

        if (!reason || size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(reason, size, fmt, ap);
        va_end(ap);
}

static bool options_known(const char *key, const char *const *known) {
        for (; *known; known++)
                if (strcmp(key, *known) == 0)
                        return true;
        return false;
}

int options_parse(const char *config_json, const char *const *known, cJSON **ret,
                 char *reason, size_t reason_size) {
        _cleanup_(cJSON_Deletep) cJSON *config = NULL;
        char buf[GC_ERROR_FORMAT_MAX];
        struct gc_error err = {};
        int r;

        if (!config_json)
                config_json = "{}";
        r = json_parse(config_json, strlen(config_json), &config, &err);
        if (r < 0) {
                options_reason(reason, reason_size, "config: %s", gc_error_format(&err, buf, sizeof buf));
                return -EINVAL;
        }
        if (!cJSON_IsObject(config)) {
                options_reason(reason, reason_size, "config: is not a JSON object");
                return -EINVAL;
        }
        for (const cJSON *c = config->child; c; c = c->next)
                if (!options_known(c->string, known)) {
                        _cleanup_free_ char *path = json_path_key("config", c->string);
                        options_reason(reason, reason_size, "%s: unknown key", path);
                        return -EINVAL;
                }

        *ret = TAKE_PTR(config);
        return 0;
}

int options_string(const cJSON *config, const char *key, const char **ret, char *reason, size_t reason_size) {
        const cJSON *v = json_get(config, key);

        if (!v)
                return 0;
        if (!cJSON_IsString(v) || !v->valuestring[0]) {
                options_reason(reason, reason_size, "config.%s: is not a non-empty string", key);
                return -EINVAL;
        }
        for (const char *p = v->valuestring; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        options_reason(reason, reason_size, "config.%s: contains a control character", key);
                        return -EINVAL;
                }
        *ret = v->valuestring;
        return 1;
}

int options_int(const cJSON *config, const char *key, int64_t min, int64_t max, int64_t *ret,
               char *reason, size_t reason_size) {
        int64_t i;

        if (!json_get(config, key))
                return 0;
        if (json_get_int(config, key, &i, NULL) < 0 || i < min || i > max) {
                options_reason(reason, reason_size, "config.%s: is not an integer from %" PRId64 " to %" PRId64,
                              key, min, max);
                return -EINVAL;
        }
        *ret = i;
        return 1;
}

int options_bool(const cJSON *config, const char *key, bool *ret, char *reason, size_t reason_size) {
        bool b;

        if (!json_get(config, key))
                return 0;
        if (json_get_bool(config, key, &b, NULL) < 0) {
                options_reason(reason, reason_size, "config.%s: is not true or false", key);
                return -EINVAL;
        }
        *ret = b;
        return 1;
}
