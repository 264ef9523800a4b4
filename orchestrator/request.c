/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "approval.h"
#include "calendar.h"
#include "cleanup.h"
#include "crypto.h"
#include "json.h"
#include "request.h"
#include "schemas.h"

static int two(const char *s, int *ret) {
        if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
                return -EINVAL;
        *ret = (s[0] - '0') * 10 + (s[1] - '0');
        return 0;
}

int request_parse_time(const char *s, int64_t *ret) {
        int64_t day;
        int hh, mm, ss, oh = 0, om = 0;
        char date[11];

        if (strlen(s) < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':')
                return -EINVAL;
        memcpy(date, s, 10);
        date[10] = 0;
        if (calendar_parse_date(date, &day) < 0)
                return -EINVAL;
        if (two(s + 11, &hh) < 0 || two(s + 14, &mm) < 0 || two(s + 17, &ss) < 0 || hh > 23 || mm > 59 || ss > 60)
                return -EINVAL;
        const char *p = s + 19;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        int sign = 0;
        if (*p == 'Z' && p[1] == 0)
                sign = 0;
        else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
                if (two(p + 1, &oh) < 0 || two(p + 4, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
                sign = *p == '+' ? 1 : -1;
        } else
                return -EINVAL;
        *ret = day * 86400 + hh * 3600 + mm * 60 + ss - sign * (oh * 3600 + om * 60);
        return 0;
}

int request_parse(const char *body, size_t len, struct request **ret, struct gc_error *err) {
        _cleanup_(request_freep) struct request *req = xnew(struct request, 1);
        int r;

        if (len > REQUEST_MAX) {
                gc_error_set(err, "too_large", "", "", NULL, "the request is larger than %u bytes", REQUEST_MAX);
                return -EFBIG;
        }
        r = json_parse(body, len, &req->doc, err);
        if (r < 0) {
                if (err) {
                        snprintf(err->code, sizeof err->code, "invalid_json");
                        api_error_field_plain(err);
                }
                return r;
        }
        r = orch_validate(ORCH_SCHEMA_REQUEST, "#/$defs/envelope", req->doc, "invalid_envelope", err);
        if (r < 0)
                return r;

        const cJSON *approval = cJSON_GetObjectItemCaseSensitive(req->doc, "approval");
        req->kind = cJSON_GetObjectItemCaseSensitive(req->doc, "kind")->valuestring;
        req->approval_system = cJSON_GetObjectItemCaseSensitive(approval, "system")->valuestring;
        req->approval_id = cJSON_GetObjectItemCaseSensitive(approval, "id")->valuestring;
        const cJSON *exc = cJSON_GetObjectItemCaseSensitive(approval, "change_exception");
        req->change_exception = cJSON_IsString(exc) ? exc->valuestring : NULL;
        req->major_change_review = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(approval, "major_change_review"));

        const char *time = cJSON_GetObjectItemCaseSensitive(approval, "time")->valuestring;
        if (request_parse_time(time, &req->approval_time) < 0) {
                gc_error_set(err, "invalid_envelope", "", "approval.time", time, "is not an RFC 3339 time with an offset");
                return -EINVAL;
        }
        const char *sig = cJSON_GetObjectItemCaseSensitive(approval, "signature")->valuestring;
        if (crypto_unbase64(sig, &req->signature, &req->signature_len) < 0) {
                gc_error_set(err, "invalid_envelope", "", "approval.signature", sig, "is not standard base64 with padding");
                return -EINVAL;
        }
        r = approval_signed_bytes(req->doc, &req->signed_bytes, &req->signed_len, err);
        if (r < 0)
                return r;
        uint8_t md[GC_HASH_MAX];
        r = crypto_digest(GC_HASH_SM3, req->signed_bytes, req->signed_len, md);
        if (r < 0)
                return r;
        _cleanup_free_ char *hex = crypto_hex(md, 32);
        snprintf(req->digest, sizeof req->digest, "sm3:%s", hex);

        *ret = TAKE_PTR(req);
        return 0;
}

int request_check_schema(const struct request *req, struct gc_error *err) {
        _cleanup_free_ char *ref = xasprintf("#/$defs/%s", req->kind);
        return orch_validate(ORCH_SCHEMA_REQUEST, ref, req->doc, "invalid_request", err);
}

void request_free(struct request *req) {
        if (!req)
                return;
        cJSON_Delete(req->doc);
        free(req->signature);
        free(req->signed_bytes);
        free(req);
}
