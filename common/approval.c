/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "approval.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "jcs.h"

int approval_signed_bytes(const cJSON *doc, char **ret, size_t *ret_len, struct gc_error *err) {
        const cJSON *approval = cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "approval") : NULL;
        if (!cJSON_IsObject(approval)) {
                gc_error_set(err, "invalid_envelope", "", "approval", NULL, "is missing or not an object");
                return -EINVAL;
        }

        _cleanup_(cJSON_Deletep) cJSON *copy = cJSON_Duplicate(doc, true);
        if (!copy)
                return -ENOMEM;
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "approval"), "signature");

        struct gc_buf b = GC_BUF_INIT(APPROVAL_DOC_MAX);
        int r = jcs_serialize(copy, &b);
        if (r < 0) {
                gc_buf_free(&b);
                gc_error_set(err, "invalid_document", "", "", NULL,
                             r == -ENOBUFS ? "is larger than %u bytes" : "cannot be put in canonical form",
                             APPROVAL_DOC_MAX);
                return r;
        }
        *ret = gc_buf_steal(&b, ret_len);
        return 0;
}

int approval_sign(cJSON *doc, EVP_PKEY *key, struct gc_error *err) {
        _cleanup_free_ char *bytes = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t len, siglen;
        int r;

        r = approval_signed_bytes(doc, &bytes, &len, err);
        if (r < 0)
                return r;
        r = crypto_sign(key, bytes, len, &sig, &siglen);
        if (r < 0) {
                gc_error_set(err, "sign_failed", "", "", NULL, "cannot sign: %s", strerror(-r));
                return r;
        }
        _cleanup_free_ char *b64 = crypto_base64(sig, siglen);
        cJSON *approval = cJSON_GetObjectItemCaseSensitive(doc, "approval");
        cJSON_DeleteItemFromObjectCaseSensitive(approval, "signature");
        cJSON_AddStringToObject(approval, "signature", b64);
        return 0;
}
