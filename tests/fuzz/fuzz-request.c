/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request parser: strict JSON, the envelope, the approval time and
 * signature, the signed bytes, and the kind's schema (intake's checks 1
 * and 2, which see bytes from outside before anything is verified).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jcs.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct request *req = NULL;
        struct gc_error err = {};

        int r = request_parse((const char *) data, size, &req, &err);
        /* A request or a refusal with a code, never both, never neither. */
        fuzz_assert((r >= 0) == (req != NULL));
        fuzz_assert(r >= 0 || err.code[0]);
        if (req) {
                /* The signed bytes are canonical: canonicalizing them changes nothing. */
                char *again = NULL;
                size_t len = 0;
                fuzz_assert(jcs_canonicalize(req->signed_bytes, req->signed_len, &again, &len, NULL) >= 0);
                fuzz_assert(len == req->signed_len && memcmp(again, req->signed_bytes, len) == 0);
                free(again);
                /* They are the document without approval.signature. */
                cJSON *signed_doc = cJSON_ParseWithLength(req->signed_bytes, req->signed_len);
                fuzz_assert(signed_doc);
                fuzz_assert(!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(signed_doc, "approval"), "signature"));
                cJSON_Delete(signed_doc);
                struct gc_error err2 = {};
                r = request_check_schema(req, &err2);
                fuzz_assert(r >= 0 || err2.code[0]);
                request_free(req);
        }
        return 0;
}
