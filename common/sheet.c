/* SPDX-License-Identifier: Apache-2.0 */
/* Sheets: names, titles and a change's action per VM (sheet.h). */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "sheet.h"

static const char *const party_names[_SHEET_PARTY_MAX] = {
        [SHEET_TENANT] = "tenant",
        [SHEET_PROVIDER] = "provider",
        [SHEET_AUTHORITY] = "authority",
};

static const char *const party_titles[_SHEET_PARTY_MAX] = {
        [SHEET_TENANT] = "使用单位（甲方）",
        [SHEET_PROVIDER] = "云服务商（乙方）",
        [SHEET_AUTHORITY] = "管理单位（丙方）",
};

const char *sheet_party_to_string(enum sheet_party p) {
        return p < _SHEET_PARTY_MAX ? party_names[p] : NULL;
}

int sheet_party_from_string(const char *s, enum sheet_party *ret) {
        for (size_t i = 0; s && i < _SHEET_PARTY_MAX; i++)
                if (strcmp(s, party_names[i]) == 0) {
                        *ret = (enum sheet_party) i;
                        return 0;
                }
        return -EINVAL;
}

const char *sheet_party_title(enum sheet_party p) {
        return p < _SHEET_PARTY_MAX ? party_titles[p] : NULL;
}

const char *sheet_kind_title(const char *kind) {
        if (!kind)
                return NULL;
        if (strcmp(kind, "golive") == 0)
                return "政务云资源开通三方确认单";
        if (strcmp(kind, "change") == 0)
                return "政务云资源变更确认单";
        if (strcmp(kind, "exit") == 0)
                return "政务云资源退出确认单";
        return NULL;
}

const char *sheet_action_title(const char *action) {
        static const char *const t[][2] = {
                { "add", "核增" }, { "reduce", "核减" }, { "release", "释放" },
                { "adjust", "调整" }, { "create", "新增" },
        };
        for (size_t i = 0; action && i < ELEMENTSOF(t); i++)
                if (strcmp(action, t[i][0]) == 0)
                        return t[i][1];
        return NULL;
}

const char *sheet_change_action(const cJSON *before, const cJSON *after) {
        static const char *const dims[] = { "vcpus", "memory_gib", "system_disk_gib", "data_disk_gib" };
        bool grew = false, shrank = false;

        if (!before && !after)
                return NULL;
        if (!before)
                return "create";
        if (!after)
                return "release";
        for (size_t i = 0; i < ELEMENTSOF(dims); i++) {
                const cJSON *b = cJSON_GetObjectItemCaseSensitive(before, dims[i]);
                const cJSON *a = cJSON_GetObjectItemCaseSensitive(after, dims[i]);
                double bv = cJSON_IsNumber(b) ? b->valuedouble : 0, av = cJSON_IsNumber(a) ? a->valuedouble : 0;
                if (av > bv)
                        grew = true;
                else if (av < bv)
                        shrank = true;
        }
        if (grew && shrank)
                return "adjust";
        if (grew)
                return "add";
        if (shrank)
                return "reduce";
        return NULL;
}
