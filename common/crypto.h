/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crypto over OpenSSL EVP: SM3 and SHA-256, HMAC, random tokens, SM2 and
 * Ed25519 keys, signatures. R-SC4: SM2/SM3 by default.
 *
 * SM2 signatures use SM3 and the distinguishing id of GM/T 0009,
 * "1234567812345678", set explicitly on both sides (OpenSSL's default is
 * empty). They are DER-encoded (SEQUENCE { r, s }) as OpenSSL and the
 * `openssl pkeyutl` command produce them; Ed25519 signatures are the raw
 * 64 bytes (RFC 8032, pure Ed25519).
 *
 * Errors: negative errno, with the library's message logged at debug level.
 * -EBADMSG means "verified, and the signature is wrong"; -ENOKEY signing
 * with a public key; -EOPNOTSUPP a key that is neither SM2 nor Ed25519
 * (or not SM2 for the _sm2_ functions); -EINVAL a PEM that does not parse
 * or is encrypted (keys are never prompted for). Name lookups ignore case.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define GC_SM2_DISTID "1234567812345678"
#define GC_HASH_MAX 32

enum gc_hash_alg {
        GC_HASH_SM3,
        GC_HASH_SHA256,
};

enum gc_key_type {
        GC_KEY_SM2,
        GC_KEY_ED25519,
};

/* "sm3" / "sha256" */
int crypto_hash_from_string(const char *s, enum gc_hash_alg *ret);
const char *crypto_hash_to_string(enum gc_hash_alg alg);
/* "sm2" / "ed25519" */
int crypto_key_type_from_string(const char *s, enum gc_key_type *ret);
const char *crypto_key_type_to_string(enum gc_key_type t);

/* out receives 32 bytes. */
int crypto_digest(enum gc_hash_alg alg, const void *data, size_t len, uint8_t out[GC_HASH_MAX]);
int crypto_hmac(enum gc_hash_alg alg, const void *key, size_t keylen,
                const void *data, size_t len, uint8_t out[GC_HASH_MAX]);

int crypto_random(void *buf, size_t len);
/* nbytes (1..4096, else -EINVAL) of randomness as unpadded base64url (RFC 4648 §5). */
int crypto_token(size_t nbytes, char **ret_token);
/* Constant-time comparison. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* Lowercase hex; unhex accepts either case, -EINVAL on bad input. */
char *crypto_hex(const void *data, size_t len);
int crypto_unhex(const char *hex, uint8_t **ret, size_t *ret_len);
/* Standard base64 with padding, no newlines. unbase64 is strict: padding
 * required, no white space, unused bits of the last group zero. */
char *crypto_base64(const void *data, size_t len);
int crypto_unbase64(const char *s, uint8_t **ret, size_t *ret_len);

/* PEM: private keys as PKCS#8 ("PRIVATE KEY", as `openssl genpkey` writes),
 * public keys as SubjectPublicKeyInfo ("PUBLIC KEY"). Only SM2 and Ed25519
 * keys are accepted (-EOPNOTSUPP otherwise). */
int crypto_key_load_private(const char *path, EVP_PKEY **ret);
int crypto_key_load_public(const char *path, EVP_PKEY **ret);
int crypto_key_private_from_pem(const char *pem, size_t len, EVP_PKEY **ret);
int crypto_key_public_from_pem(const char *pem, size_t len, EVP_PKEY **ret);
int crypto_key_type(EVP_PKEY *key, enum gc_key_type *ret);
int crypto_key_public_pem(EVP_PKEY *key, char **ret_pem);
/* "sha256:<hex>" of the DER SubjectPublicKeyInfo: the same for a private
 * key and its public half. */
int crypto_key_fingerprint(EVP_PKEY *key, char **ret);
/* A fresh key, for tests and tools. */
int crypto_key_generate(enum gc_key_type type, EVP_PKEY **ret);

int crypto_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t **ret_sig, size_t *ret_siglen);
/* 0 valid, -EBADMSG invalid, other negative errno on failure to check. */
int crypto_verify(EVP_PKEY *key, const void *msg, size_t len, const uint8_t *sig, size_t siglen);
/* SM2 with an explicit distinguishing id (published test vectors use others). */
int crypto_sm2_sign_id(EVP_PKEY *key, const char *id, const void *msg, size_t len,
                       uint8_t **ret_sig, size_t *ret_siglen);
int crypto_sm2_verify_id(EVP_PKEY *key, const char *id, const void *msg, size_t len,
                         const uint8_t *sig, size_t siglen);
