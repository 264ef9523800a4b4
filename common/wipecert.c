/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "jcs.h"
#include "json.h"
#include "wipecert.h"

static void wc_add(cJSON *o, const char *k, cJSON *v) {
        if (!v || !cJSON_AddItemToObject(o, k, v))
                abort();
}

int wipe_certificate_signed_bytes(const cJSON *cert, char **ret, size_t *ret_len, struct gc_error *err) {
        if (!cJSON_IsObject(cert) || !cJSON_IsString(json_get(cert, "format")) ||
            strcmp(str_at(cert, "format"), WIPE_CERTIFICATE_FORMAT) != 0)
                return json_field_error(err, "invalid_certificate", "format", json_get(cert, "format"),
                                        "is not %s", WIPE_CERTIFICATE_FORMAT);
        _cleanup_(cJSON_Deletep) cJSON *copy = cJSON_Duplicate(cert, true);
        if (!copy)
                abort();
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "signature");
        struct gc_buf b = GC_BUF_INIT(WIPE_CERTIFICATE_MAX);
        int r = jcs_serialize(copy, &b);
        if (r < 0) {
                gc_buf_free(&b);
                gc_error_set(err, "invalid_certificate", "", "", NULL, "cannot be put in canonical form");
                return r;
        }
        *ret = gc_buf_steal(&b, ret_len);
        return 0;
}

int wipe_certificate_sign(cJSON *cert, EVP_PKEY *key, struct gc_error *err) {
        _cleanup_free_ char *bytes = NULL, *fp = NULL, *pem = NULL, *b64 = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        enum gc_key_type type;
        size_t len, siglen;
        int r;

        r = wipe_certificate_signed_bytes(cert, &bytes, &len, err);
        if (r < 0)
                return r;
        r = crypto_key_type(key, &type);
        r = r < 0 ? r : crypto_key_fingerprint(key, &fp);
        r = r < 0 ? r : crypto_key_public_pem(key, &pem);
        r = r < 0 ? r : crypto_sign(key, bytes, len, &sig, &siglen);
        if (r < 0) {
                gc_error_set(err, "sign_failed", "", "signature", NULL, "cannot sign: %s", strerror(-r));
                return r;
        }
        b64 = crypto_base64(sig, siglen);
        cJSON *s = cJSON_CreateObject();
        if (!s)
                abort();
        wc_add(s, "key_type", cJSON_CreateString(crypto_key_type_to_string(type)));
        wc_add(s, "fingerprint", cJSON_CreateString(fp));
        wc_add(s, "public_key", cJSON_CreateString(pem));
        wc_add(s, "value", cJSON_CreateString(b64));
        cJSON_DeleteItemFromObjectCaseSensitive(cert, "signature");
        wc_add(cert, "signature", s);
        return 0;
}

int wipe_certificate_verify(const cJSON *cert, EVP_PKEY *key, struct gc_error *err) {
        _cleanup_free_ char *bytes = NULL, *fp = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        const cJSON *s = cJSON_IsObject(cert) ? json_get(cert, "signature") : NULL;
        const char *value, *fingerprint;
        size_t len, siglen;
        int r;

        if (!cJSON_IsObject(s))
                return json_field_error(err, "unsigned_certificate", "signature", s, "is missing or not an object");
        value = str_at(s, "value");
        fingerprint = str_at(s, "fingerprint");
        if (!value || crypto_unbase64(value, &sig, &siglen) < 0)
                return json_field_error(err, "invalid_certificate", "signature.value", json_get(s, "value"),
                                        "is not base64");
        r = wipe_certificate_signed_bytes(cert, &bytes, &len, err);
        if (r < 0)
                return r;
        r = crypto_key_fingerprint(key, &fp);
        if (r < 0)
                return r;
        if (!fingerprint || strcmp(fingerprint, fp) != 0) {
                gc_error_set(err, "wrong_signer", "", "signature.fingerprint", fingerprint,
                             "is not the fingerprint of the host key %s", fp);
                return -EBADMSG;
        }
        r = crypto_verify(key, bytes, len, sig, siglen);
        if (r == -EBADMSG)
                gc_error_set(err, "bad_signature", "R-EX3", "signature.value", NULL,
                             "does not verify: the certificate was changed or not signed by this key");
        return r;
}
