/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bytes an approval system signs: the canonical JSON (RFC 8785) of the
 * whole request document without approval.signature. The orchestrator's
 * approval verifiers and `gcctl request sign` both go through here, so the
 * two sides can never disagree about what was signed.
 */
#pragma once

#include <stddef.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "gc/error.h"

#define APPROVAL_DOC_MAX (4u * 1024 * 1024)

/* -EINVAL with err when doc is not an object with an "approval" object. */
int approval_signed_bytes(const cJSON *doc, char **ret, size_t *ret_len, struct gc_error *err);

/* Sign doc with key (SM2 or Ed25519) and set approval.signature to the
 * base64 of the signature, replacing one that is there. */
int approval_sign(cJSON *doc, EVP_PKEY *key, struct gc_error *err);
