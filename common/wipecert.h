/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates of sanitization (agent/wipe.h makes them; R-EX3): the
 * host signs one with its wipe key, and the orchestrator verifies it with
 * the key the host announced in its hello before listing it on the exit
 * sheet (R-LC5), which the provider countersigns.
 *
 * The signature ("signature": {"key_type": "sm2"|"ed25519", "fingerprint",
 * "public_key": PEM, "value": base64}) covers the canonical bytes (RFC
 * 8785, common/jcs.h) of the certificate without "signature"; SM2 with SM3
 * and the GM/T 0009 id, Ed25519 pure (common/crypto.h).
 */
#pragma once

#include <stddef.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "gc/error.h"

#define WIPE_CERTIFICATE_FORMAT "gc-wipe-certificate/1"
#define WIPE_CERTIFICATE_MAX (1024 * 1024)

/* The canonical bytes a signature covers: the certificate without "signature". */
int wipe_certificate_signed_bytes(const cJSON *cert, char **ret, size_t *ret_len, struct gc_error *err);
/* Sign with key (SM2 or Ed25519), replacing a signature that is there. */
int wipe_certificate_sign(cJSON *cert, EVP_PKEY *key, struct gc_error *err);
/* 0 valid; -EBADMSG when the signature or its fingerprint does not match
 * key (the host key the caller trusts) or any signed field was changed;
 * -EINVAL with err when the certificate is malformed. */
int wipe_certificate_verify(const cJSON *cert, EVP_PKEY *key, struct gc_error *err);
