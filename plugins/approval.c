/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Approval verifier (include/gc/plugin.h): checks an approval system's
 * signature over the canonical bytes of a request with the public key the
 * authority registered for that system. Built once per key type:
 * -DAPPROVAL_SM2 gives approval-sm2 (SM2 with SM3 and the GM/T 0009 id,
 * R-SC4), -DAPPROVAL_ED25519 gives approval-ed25519. Asymmetric only: there
 * is no shared-secret mode, so whoever holds the orchestrator cannot mint
 * an approval.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/plugin.h"
#include "options.h"

#if defined(APPROVAL_SM2)
#define APPROVAL_KEY GC_KEY_SM2
#define APPROVAL_KEY_NAME "sm2"
#elif defined(APPROVAL_ED25519)
#define APPROVAL_KEY GC_KEY_ED25519
#define APPROVAL_KEY_NAME "ed25519"
#else
#error "build with -DAPPROVAL_SM2 or -DAPPROVAL_ED25519"
#endif

#define APPROVAL_NAME "approval-" APPROVAL_KEY_NAME

/* A PEM public key is a few hundred bytes. */
#define APPROVAL_PEM_MAX (64 * 1024)

struct approval {
        const struct gc_plugin_host *host;
};

static int approval_init(const struct gc_plugin_host *host, const char *config_json,
                         void **ret_state, char *reason, size_t reason_size) {
        static const char *const known[] = { NULL };
        _cleanup_(cJSON_Deletep) cJSON *config = NULL;
        struct approval *a;
        int r;

        /* No options: the key comes with each call. */
        r = options_parse(config_json, known, &config, reason, reason_size);
        if (r < 0)
                return r;

        a = xnew(struct approval, 1);
        a->host = host;
        *ret_state = a;
        return 0;
}

static void approval_fini(void *state) {
        free(state);
}

static int approval_verify(void *state, const char *public_key_pem,
                           const void *msg, size_t len, const uint8_t *sig, size_t siglen,
                           char *reason, size_t reason_size) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        enum gc_key_type type;
        size_t pem_len;
        int r;

        if (!public_key_pem) {
                options_reason(reason, reason_size, "no public key");
                return -EINVAL;
        }
        pem_len = strnlen(public_key_pem, APPROVAL_PEM_MAX + 1);
        if (pem_len > APPROVAL_PEM_MAX) {
                options_reason(reason, reason_size, "public key PEM is larger than %d bytes", APPROVAL_PEM_MAX);
                return -EINVAL;
        }

        /* A key that does not parse, or of a type crypto.c does not take at
         * all (RSA, ECDSA on another curve), could not be checked. */
        r = crypto_key_public_from_pem(public_key_pem, pem_len, &key);
        if (r < 0) {
                options_reason(reason, reason_size, "public key is not a PEM SubjectPublicKeyInfo of an %s key",
                              APPROVAL_KEY_NAME);
                return -EINVAL;
        }
        r = crypto_key_type(key, &type);
        if (r < 0 || type != APPROVAL_KEY) {
                options_reason(reason, reason_size, "public key is an %s key, %s verifies %s keys only",
                              r < 0 ? "unsupported" : crypto_key_type_to_string(type),
                              APPROVAL_NAME, APPROVAL_KEY_NAME);
                return -EINVAL;
        }

        r = crypto_verify(key, msg, len, sig, siglen);
        if (r == -EBADMSG) {
                options_reason(reason, reason_size, "%s signature does not verify", APPROVAL_KEY_NAME);
                return r;
        }
        if (r < 0) {
                options_reason(reason, reason_size, "%s signature cannot be checked: %s",
                              APPROVAL_KEY_NAME, strerror(-r));
                return r;
        }
        return 0;
}

__attribute__((visibility("default"))) const struct gc_plugin_ops gc_plugin = {
        .abi_version = GC_PLUGIN_ABI_VERSION,
        .kind = GC_PLUGIN_APPROVAL,
        .name = APPROVAL_NAME,
        .description = "Verifies " APPROVAL_KEY_NAME " approval signatures over canonical request bytes",
        .init = approval_init,
        .fini = approval_fini,
        .key_type = APPROVAL_KEY_NAME,
        .verify = approval_verify,
};
