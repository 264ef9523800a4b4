/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/crypto.c against published test vectors (GB/T 32905 SM3, FIPS
 * 180-2 SHA-256, RFC 4231 HMAC-SHA256, GM/T 0042 HMAC-SM3, RFC 8032
 * Ed25519, GB/T 32918.2 SM2) and keys and signatures made by the openssl
 * command, then the error paths.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "alloc.h"
#include "cleanup.h"
#include "crypto.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EC_GROUP *, EC_GROUP_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EC_POINT *, EC_POINT_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)

static void openssl_freep(void *p) {
        OPENSSL_free(*(void **) p);
}

/* Test helpers: hex in, bytes out; abort on bad hex (a defect in the test). */
static uint8_t *unhex(const char *hex, size_t *ret_len) {
        uint8_t *p = NULL;
        size_t n = 0;

        if (crypto_unhex(hex, &p, &n) < 0)
                abort();
        if (ret_len)
                *ret_len = n;
        return p;
}

static void assert_digest(enum gc_hash_alg alg, const void *data, size_t len, const char *hex) {
        uint8_t md[GC_HASH_MAX];

        assert_int_equal(crypto_digest(alg, data, len, md), 0);
        _cleanup_free_ char *got = crypto_hex(md, sizeof md);
        assert_string_equal(got, hex);
}

/* ------------------------------------------------------------------ */
/* Names */

static void test_names(void **state) {
        enum gc_hash_alg h;
        enum gc_key_type k;

        assert_int_equal(crypto_hash_from_string("sm3", &h), 0);
        assert_int_equal(h, GC_HASH_SM3);
        assert_int_equal(crypto_hash_from_string("sha256", &h), 0);
        assert_int_equal(h, GC_HASH_SHA256);
        assert_int_equal(crypto_hash_from_string("md5", &h), -EINVAL);
        assert_int_equal(crypto_hash_from_string("", &h), -EINVAL);
        assert_int_equal(crypto_hash_from_string(NULL, &h), -EINVAL);
        assert_string_equal(crypto_hash_to_string(GC_HASH_SM3), "sm3");
        assert_string_equal(crypto_hash_to_string(GC_HASH_SHA256), "sha256");

        assert_int_equal(crypto_key_type_from_string("sm2", &k), 0);
        assert_int_equal(k, GC_KEY_SM2);
        assert_int_equal(crypto_key_type_from_string("ed25519", &k), 0);
        assert_int_equal(k, GC_KEY_ED25519);
        assert_int_equal(crypto_key_type_from_string("rsa", &k), -EINVAL);
        assert_string_equal(crypto_key_type_to_string(GC_KEY_SM2), "sm2");
        assert_string_equal(crypto_key_type_to_string(GC_KEY_ED25519), "ed25519");
}

/* ------------------------------------------------------------------ */
/* Digests */

/* GB/T 32905-2016 Appendix A, examples 1 and 2. */
static void test_sm3_vectors(void **state) {
        char abcd16[65] = "";

        assert_digest(GC_HASH_SM3, "abc", 3, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
        for (int i = 0; i < 16; i++)
                strcat(abcd16, "abcd");
        assert_int_equal(strlen(abcd16), 64);
        assert_digest(GC_HASH_SM3, abcd16, 64, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
}

/* FIPS 180-2 Appendix B and the empty string. */
static void test_sha256_vectors(void **state) {
        assert_digest(GC_HASH_SHA256, "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_digest(GC_HASH_SHA256, "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_digest(GC_HASH_SHA256, NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_digest(GC_HASH_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
                      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

        _cleanup_free_ char *million = xmalloc(1000000);
        memset(million, 'a', 1000000);
        assert_digest(GC_HASH_SHA256, million, 1000000,
                      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_digest_errors(void **state) {
        uint8_t md[GC_HASH_MAX];

        assert_int_equal(crypto_digest((enum gc_hash_alg) 42, "x", 1, md), -EINVAL);
        assert_int_equal(crypto_digest(GC_HASH_SM3, NULL, 1, md), -EINVAL);
        assert_int_equal(crypto_hmac((enum gc_hash_alg) 42, "k", 1, "x", 1, md), -EINVAL);
        assert_int_equal(crypto_hmac(GC_HASH_SM3, NULL, 1, "x", 1, md), -EINVAL);
}

static void assert_hmac(enum gc_hash_alg alg, const char *key_hex, const void *data, size_t len,
                        const char *hex, size_t compare_bytes) {
        uint8_t mac[GC_HASH_MAX];
        size_t keylen;
        _cleanup_free_ uint8_t *key = unhex(key_hex, &keylen);

        assert_int_equal(crypto_hmac(alg, key, keylen, data, len, mac), 0);
        _cleanup_free_ char *got = crypto_hex(mac, compare_bytes);
        assert_string_equal(got, hex);
}

/* RFC 4231 section 4, test cases 1-7 (case 5 truncated to 128 bits). */
static void test_hmac_sha256_rfc4231(void **state) {
        char dd[50], cd[50];
        char aa131[131 * 2 + 1] = "";

        memset(dd, 0xdd, sizeof dd);
        memset(cd, 0xcd, sizeof cd);
        for (int i = 0; i < 131; i++)
                strcat(aa131, "aa");

        assert_hmac(GC_HASH_SHA256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", 8,
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32);
        assert_hmac(GC_HASH_SHA256, "4a656665", "what do ya want for nothing?", 28,
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32);
        assert_hmac(GC_HASH_SHA256, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", dd, sizeof dd,
                    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32);
        assert_hmac(GC_HASH_SHA256, "0102030405060708090a0b0c0d0e0f10111213141516171819", cd, sizeof cd,
                    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32);
        assert_hmac(GC_HASH_SHA256, "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "Test With Truncation", 20,
                    "a3b6167473100ee06e0c796c2955552b", 16);
        assert_hmac(GC_HASH_SHA256, aa131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
                    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32);
        const char *t7 = "This is a test using a larger than block-size key and a larger than block-size "
                         "data. The key needs to be hashed before being used by the HMAC algorithm.";
        assert_hmac(GC_HASH_SHA256, aa131, t7, strlen(t7),
                    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32);
}

/* HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), block 64 bytes, from the digest alone. */
static void hmac_by_definition(enum gc_hash_alg alg, const uint8_t *key, size_t keylen,
                               const void *data, size_t len, uint8_t out[GC_HASH_MAX]) {
        uint8_t k[64] = {}, inner[GC_HASH_MAX];

        if (keylen > 64)
                assert_int_equal(crypto_digest(alg, key, keylen, k), 0);
        else
                memcpy(k, key, keylen);

        _cleanup_free_ uint8_t *buf = xmalloc(64 + len + GC_HASH_MAX);
        for (int i = 0; i < 64; i++)
                buf[i] = k[i] ^ 0x36;
        memcpy(buf + 64, data, len);
        assert_int_equal(crypto_digest(alg, buf, 64 + len, inner), 0);
        for (int i = 0; i < 64; i++)
                buf[i] = k[i] ^ 0x5c;
        memcpy(buf + 64, inner, GC_HASH_MAX);
        assert_int_equal(crypto_digest(alg, buf, 64 + GC_HASH_MAX, out), 0);
}

/*
 * GM/T 0042-2015 Appendix D.3 (also in OpenSSL's
 * test/recipes/30-test_evp_data/evpmac_sm3.txt), then agreement with the
 * definition over SM3 for short, empty and longer-than-a-block keys.
 */
static void test_hmac_sm3(void **state) {
        const char *m1 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
                         "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        char cd[50];

        memset(cd, 0xcd, sizeof cd);
        assert_hmac(GC_HASH_SM3, "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
                    m1, strlen(m1), "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a", 32);
        assert_hmac(GC_HASH_SM3,
                    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425",
                    cd, sizeof cd, "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae", 32);

        uint8_t key[100], got[GC_HASH_MAX], want[GC_HASH_MAX];
        for (size_t i = 0; i < sizeof key; i++)
                key[i] = (uint8_t) (i * 7 + 1);
        const size_t keylens[] = { 0, 1, 32, 64, 65, 100 };
        for (size_t i = 0; i < ELEMENTSOF(keylens); i++) {
                assert_int_equal(crypto_hmac(GC_HASH_SM3, keylens[i] ? key : NULL, keylens[i],
                                             "govcloud", 8, got), 0);
                hmac_by_definition(GC_HASH_SM3, key, keylens[i], "govcloud", 8, want);
                assert_memory_equal(got, want, GC_HASH_MAX);
        }

        /* Same key and data, other hash: other MAC. */
        assert_int_equal(crypto_hmac(GC_HASH_SHA256, key, 32, "govcloud", 8, want), 0);
        assert_int_equal(crypto_hmac(GC_HASH_SM3, key, 32, "govcloud", 8, got), 0);
        assert_memory_not_equal(got, want, GC_HASH_MAX);
}

/* ------------------------------------------------------------------ */
/* Randomness, tokens, comparison */

static bool is_base64url(const char *s) {
        for (; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      *s == '-' || *s == '_'))
                        return false;
        return true;
}

static void test_random_and_tokens(void **state) {
        uint8_t a[32], b[32];
        char *tokens[200];

        assert_int_equal(crypto_random(a, sizeof a), 0);
        assert_int_equal(crypto_random(b, sizeof b), 0);
        assert_memory_not_equal(a, b, sizeof a);
        assert_int_equal(crypto_random(NULL, 0), 0);

        /* ceil(4n/3) characters, no padding. */
        const size_t sizes[][2] = { { 1, 2 }, { 2, 3 }, { 3, 4 }, { 16, 22 }, { 32, 43 }, { 33, 44 } };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_free_ char *t = NULL;
                assert_int_equal(crypto_token(sizes[i][0], &t), 0);
                assert_int_equal(strlen(t), sizes[i][1]);
                assert_true(is_base64url(t));
        }

        for (size_t i = 0; i < ELEMENTSOF(tokens); i++) {
                assert_int_equal(crypto_token(32, &tokens[i]), 0);
                assert_true(is_base64url(tokens[i]));
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(tokens[i], tokens[j]);
        }
        for (size_t i = 0; i < ELEMENTSOF(tokens); i++)
                free(tokens[i]);

        char *t = (char *) "untouched";
        assert_int_equal(crypto_token(0, &t), -EINVAL);
        assert_string_equal(t, "untouched");
}

static void test_equal(void **state) {
        assert_true(crypto_equal("abcdef", "abcdef", 6));
        assert_false(crypto_equal("abcdef", "abcdeg", 6));
        assert_false(crypto_equal("xbcdef", "abcdef", 6));
        assert_true(crypto_equal("abc", "abd", 2));
        assert_true(crypto_equal(NULL, NULL, 0));
}

/* ------------------------------------------------------------------ */
/* Hex and base64 */

static void test_hex(void **state) {
        const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
        uint8_t *p = NULL;
        size_t n = 0;

        _cleanup_free_ char *h = crypto_hex(bytes, sizeof bytes);
        assert_string_equal(h, "00017f80abff");
        assert_int_equal(crypto_unhex(h, &p, &n), 0);
        assert_int_equal(n, sizeof bytes);
        assert_memory_equal(p, bytes, n);
        free(p);

        assert_int_equal(crypto_unhex("00017F80ABfF", &p, &n), 0);
        assert_int_equal(n, sizeof bytes);
        assert_memory_equal(p, bytes, n);
        free(p);

        assert_int_equal(crypto_unhex("", &p, &n), 0);
        assert_int_equal(n, 0);
        free(p);
        _cleanup_free_ char *empty = crypto_hex(NULL, 0);
        assert_string_equal(empty, "");

        p = (uint8_t *) "untouched";
        n = 99;
        assert_int_equal(crypto_unhex("abc", &p, &n), -EINVAL);
        assert_int_equal(crypto_unhex("zz", &p, &n), -EINVAL);
        assert_int_equal(crypto_unhex("0g", &p, &n), -EINVAL);
        assert_int_equal(crypto_unhex(" 00", &p, &n), -EINVAL);
        assert_int_equal(crypto_unhex("00 ", &p, &n), -EINVAL);
        assert_int_equal(crypto_unhex("0x00", &p, &n), -EINVAL);
        assert_int_equal(crypto_unhex(NULL, &p, &n), -EINVAL);
        assert_string_equal((char *) p, "untouched");
        assert_int_equal(n, 99);
}

/* RFC 4648 section 10. */
static void test_base64(void **state) {
        static const char *const vectors[][2] = {
                { "", "" },
                { "f", "Zg==" },
                { "fo", "Zm8=" },
                { "foo", "Zm9v" },
                { "foob", "Zm9vYg==" },
                { "fooba", "Zm9vYmE=" },
                { "foobar", "Zm9vYmFy" },
        };
        uint8_t *p = NULL;
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
                _cleanup_free_ char *e = crypto_base64(vectors[i][0], strlen(vectors[i][0]));
                assert_string_equal(e, vectors[i][1]);
                assert_int_equal(crypto_unbase64(vectors[i][1], &p, &n), 0);
                assert_int_equal(n, strlen(vectors[i][0]));
                assert_memory_equal(p, vectors[i][0], n);
                free(p);
        }

        /* All byte values and every length class round-trip. */
        uint8_t all[256 + 2];
        for (size_t i = 0; i < sizeof all; i++)
                all[i] = (uint8_t) (i * 131 + 7);
        for (size_t len = 0; len <= sizeof all; len++) {
                _cleanup_free_ char *e = crypto_base64(all, len);
                assert_int_equal(strlen(e), (len + 2) / 3 * 4);
                assert_int_equal(crypto_unbase64(e, &p, &n), 0);
                assert_int_equal(n, len);
                assert_memory_equal(p, all, len);
                free(p);
        }

        static const char *const bad[] = {
                "Zg=",          /* length not a multiple of 4 */
                "Zg",           /* unpadded */
                "Zg===",
                "Z===",         /* three pad characters */
                "====",
                "Zm=v",         /* pad inside */
                "Zg==Zg==",     /* pad, then more */
                "Zh==",         /* non-zero unused bits */
                "Zm9=",         /* non-zero unused bits */
                "Zm9v\n",       /* white space */
                " Zm9v",
                "Zm9 v",
                "Zm9vYmE-",     /* base64url alphabet */
                "Zm9vYmF_",
                "Zm9vYm*y",
        };
        p = (uint8_t *) "untouched";
        n = 99;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (crypto_unbase64(bad[i], &p, &n) != -EINVAL)
                        fail_msg("accepted bad base64 \"%s\"", bad[i]);
        }
        assert_int_equal(crypto_unbase64(NULL, &p, &n), -EINVAL);
        assert_string_equal((char *) p, "untouched");
        assert_int_equal(n, 99);
}

/* ------------------------------------------------------------------ */
/* Keys from the openssl command */

/* openssl genpkey -algorithm SM2 */
static const char sm2_private_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgKLJgwPr0Gn7Kul2x\n"
        "jT/8t6zRb4gqdtSFpK90bsffp8uhRANCAAR5FDTY+wpSVOtUQDkF4hKVbrnJb8vN\n"
        "RMaLZv93XErdvpCWEan5pf+aVUNKWoW4+FpJFM8MZSmqREXEG7EyQUiz\n"
        "-----END PRIVATE KEY-----\n";
/* openssl pkey -pubout */
static const char sm2_public_pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEeRQ02PsKUlTrVEA5BeISlW65yW/L\n"
        "zUTGi2b/d1xK3b6QlhGp+aX/mlVDSlqFuPhaSRTPDGUpqkRFxBuxMkFIsw==\n"
        "-----END PUBLIC KEY-----\n";
/* The same key as openssl ec writes it (SEC1). */
static const char sm2_sec1_pem[] =
        "-----BEGIN SM2 PRIVATE KEY-----\n"
        "MHcCAQEEICiyYMD69Bp+yrpdsY0//Les0W+IKnbUhaSvdG7H36fLoAoGCCqBHM9V\n"
        "AYItoUQDQgAEeRQ02PsKUlTrVEA5BeISlW65yW/LzUTGi2b/d1xK3b6QlhGp+aX/\n"
        "mlVDSlqFuPhaSRTPDGUpqkRFxBuxMkFIsw==\n"
        "-----END SM2 PRIVATE KEY-----\n";
/* openssl pkey -pubin -outform DER | sha256sum */
static const char sm2_fingerprint[] = "sha256:cf673cba21fd3b424489e3ce225a3e4db5fd21840a4421c62e667e05b68d443c";
/* printf '{"a":1}' | openssl pkeyutl -sign -inkey sm2.pem -rawin -digest sm3
 *      -pkeyopt distid:1234567812345678 */
static const char sm2_openssl_sig_hex[] =
        "3046022100a47d158bb72c07773baecefd10324b5df3316ca06ebb4570ab1114a05f0fe51d"
        "022100ada0121c46a1731f559abc1f04f89deb21973da1be608b454614cabba33e8856";

/* openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret */
static const char sm2_encrypted_pem[] =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhnjVfNSoXlSAICCAAw\n"
        "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEIEgSKMPO7g/FlKE7KKCrcQEgZDa\n"
        "QDqAthDHYWpPBEsBzAbE24YP9NkCDPFKhI/rxy+VLLvJe23tRKJFGUaqWbu1wA0/\n"
        "vHjt0kAsDSyu5BCfPhriLfNZ+cbveglE1bvcmqUshu7J153xUYE7EuISQE8Umkt0\n"
        "ed1Fuo3AR2xe6uPAQFZXxa5Hd+yxqtBtUmldQggk+/NukAv+MGv322S9CKXlUPg=\n"
        "-----END ENCRYPTED PRIVATE KEY-----\n";

/* openssl genpkey -algorithm ed25519 */
static const char ed25519_private_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MC4CAQAwBQYDK2VwBCIEIEN5p8S0Tca57ZROB5l5p3zqSlqeho61whpZeDbAYrjD\n"
        "-----END PRIVATE KEY-----\n";
static const char ed25519_public_pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEAhXUYuQ0WBVtDxE+I7dMX+gRtQV6pGkwT56m7Lx/xPfM=\n"
        "-----END PUBLIC KEY-----\n";
static const char ed25519_fingerprint[] = "sha256:d79393459322b7495522922f0fd6148257ea239fa298eee6dc42ef1759505feb";

/* openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 */
static const char p256_private_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFPaVtitraDbsPky7\n"
        "s38IpAxhb6dCw2X0bjXcVYkfa16hRANCAARqJYTz76gJZlnqXJi9zcAJGnVVz62f\n"
        "2zdZSgYiUsJ968Ma/KkpoeEmChVq1dH7A1ueu+7faUjF9dXVY1O8stW2\n"
        "-----END PRIVATE KEY-----\n";
static const char p256_public_pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaiWE8++oCWZZ6lyYvc3ACRp1Vc+t\n"
        "n9s3WUoGIlLCfevDGvypKaHhJgoVatXR+wNbnrvu32lIxfXV1WNTvLLVtg==\n"
        "-----END PUBLIC KEY-----\n";

static EVP_PKEY *private_from_pem(const char *pem) {
        EVP_PKEY *k = NULL;
        assert_int_equal(crypto_key_private_from_pem(pem, strlen(pem), &k), 0);
        assert_non_null(k);
        return k;
}

static EVP_PKEY *public_from_pem(const char *pem) {
        EVP_PKEY *k = NULL;
        assert_int_equal(crypto_key_public_from_pem(pem, strlen(pem), &k), 0);
        assert_non_null(k);
        return k;
}

static void assert_fingerprint(EVP_PKEY *key, const char *want) {
        _cleanup_free_ char *fp = NULL;
        assert_int_equal(crypto_key_fingerprint(key, &fp), 0);
        assert_string_equal(fp, want);
}

static void assert_key_type(EVP_PKEY *key, enum gc_key_type want) {
        enum gc_key_type t;
        assert_int_equal(crypto_key_type(key, &t), 0);
        assert_int_equal(t, want);
}

static void test_pem_from_openssl(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *sm2 = private_from_pem(sm2_private_pem);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *sm2_pub = public_from_pem(sm2_public_pem);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *sm2_sec1 = private_from_pem(sm2_sec1_pem);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ed = private_from_pem(ed25519_private_pem);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ed_pub = public_from_pem(ed25519_public_pem);

        assert_key_type(sm2, GC_KEY_SM2);
        assert_key_type(sm2_pub, GC_KEY_SM2);
        assert_key_type(sm2_sec1, GC_KEY_SM2);
        assert_key_type(ed, GC_KEY_ED25519);
        assert_key_type(ed_pub, GC_KEY_ED25519);

        /* Private and public halves: one fingerprint, the one openssl gives. */
        assert_fingerprint(sm2, sm2_fingerprint);
        assert_fingerprint(sm2_pub, sm2_fingerprint);
        assert_fingerprint(sm2_sec1, sm2_fingerprint);
        assert_fingerprint(ed, ed25519_fingerprint);
        assert_fingerprint(ed_pub, ed25519_fingerprint);

        /* The public PEM we write is the one openssl wrote. */
        _cleanup_free_ char *pem = NULL;
        assert_int_equal(crypto_key_public_pem(sm2, &pem), 0);
        assert_string_equal(pem, sm2_public_pem);
        free(pem);
        pem = NULL;
        assert_int_equal(crypto_key_public_pem(ed, &pem), 0);
        assert_string_equal(pem, ed25519_public_pem);

        /* A signature by `openssl pkeyutl` with the distid verifies here. */
        size_t siglen;
        _cleanup_free_ uint8_t *sig = unhex(sm2_openssl_sig_hex, &siglen);
        assert_int_equal(crypto_verify(sm2_pub, "{\"a\":1}", 7, sig, siglen), 0);
        assert_int_equal(crypto_verify(sm2, "{\"a\":1}", 7, sig, siglen), 0);
        assert_int_equal(crypto_verify(sm2_pub, "{\"a\":2}", 7, sig, siglen), -EBADMSG);
        /* ... and only with that id. */
        assert_int_equal(crypto_sm2_verify_id(sm2_pub, "1234567812345679", "{\"a\":1}", 7, sig, siglen),
                         -EBADMSG);
}

static void test_pem_refused(void **state) {
        EVP_PKEY *k = (EVP_PKEY *) 0x1;
        const char *garbage = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";

        /* Other algorithms. */
        assert_int_equal(crypto_key_private_from_pem(p256_private_pem, strlen(p256_private_pem), &k), -EOPNOTSUPP);
        assert_int_equal(crypto_key_public_from_pem(p256_public_pem, strlen(p256_public_pem), &k), -EOPNOTSUPP);
        /* The wrong half. */
        assert_int_equal(crypto_key_public_from_pem(sm2_private_pem, strlen(sm2_private_pem), &k), -EINVAL);
        assert_int_equal(crypto_key_private_from_pem(sm2_public_pem, strlen(sm2_public_pem), &k), -EINVAL);
        /* Encrypted: refused, without asking for a password on the terminal. */
        assert_int_equal(crypto_key_private_from_pem(sm2_encrypted_pem, strlen(sm2_encrypted_pem), &k), -EINVAL);
        /* Not keys. */
        assert_int_equal(crypto_key_private_from_pem(garbage, strlen(garbage), &k), -EINVAL);
        assert_int_equal(crypto_key_private_from_pem("", 0, &k), -EINVAL);
        assert_int_equal(crypto_key_public_from_pem("hello", 5, &k), -EINVAL);
        /* Truncated. */
        assert_int_equal(crypto_key_private_from_pem(sm2_private_pem, strlen(sm2_private_pem) / 2, &k), -EINVAL);
        assert_ptr_equal(k, (EVP_PKEY *) 0x1);
}

static char *write_temp(const char *dir, const char *name, const char *text) {
        char *path = xasprintf("%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        return path;
}

static void test_pem_files(void **state) {
        char dir[] = "/tmp/test-crypto-XXXXXX";
        EVP_PKEY *k = NULL;

        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *priv = write_temp(dir, "sm2.pem", sm2_private_pem);
        _cleanup_free_ char *pub = write_temp(dir, "sm2.pub.pem", sm2_public_pem);
        _cleanup_free_ char *edpriv = write_temp(dir, "ed.pem", ed25519_private_pem);
        _cleanup_free_ char *edpub = write_temp(dir, "ed.pub.pem", ed25519_public_pem);
        _cleanup_free_ char *p256 = write_temp(dir, "p256.pem", p256_private_pem);
        _cleanup_free_ char *missing = xasprintf("%s/missing.pem", dir);

        assert_int_equal(crypto_key_load_private(priv, &k), 0);
        assert_fingerprint(k, sm2_fingerprint);
        EVP_PKEY_free(k);
        assert_int_equal(crypto_key_load_public(pub, &k), 0);
        assert_fingerprint(k, sm2_fingerprint);
        EVP_PKEY_free(k);
        assert_int_equal(crypto_key_load_private(edpriv, &k), 0);
        assert_fingerprint(k, ed25519_fingerprint);
        EVP_PKEY_free(k);
        assert_int_equal(crypto_key_load_public(edpub, &k), 0);
        assert_fingerprint(k, ed25519_fingerprint);
        EVP_PKEY_free(k);

        k = NULL;
        assert_int_equal(crypto_key_load_private(missing, &k), -ENOENT);
        assert_int_equal(crypto_key_load_public(priv, &k), -EINVAL);
        assert_int_equal(crypto_key_load_private(p256, &k), -EOPNOTSUPP);
        assert_null(k);

        /* Keys we make and write as PKCS#8 come back the same. */
        for (int t = GC_KEY_SM2; t <= GC_KEY_ED25519; t++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *gen = NULL;
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *back = NULL;
                _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
                _cleanup_free_ char *fp = NULL, *pem = NULL, *path = NULL;
                char *data = NULL;
                uint8_t *sig = NULL;
                size_t siglen = 0;

                assert_int_equal(crypto_key_generate((enum gc_key_type) t, &gen), 0);
                assert_key_type(gen, (enum gc_key_type) t);
                assert_int_equal(PEM_write_bio_PrivateKey(bio, gen, NULL, NULL, 0, NULL, NULL), 1);
                long n = BIO_get_mem_data(bio, &data);
                pem = xstrndup(data, (size_t) n);
                assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
                path = write_temp(dir, "gen.pem", pem);
                assert_int_equal(crypto_key_load_private(path, &back), 0);
                assert_int_equal(crypto_key_fingerprint(gen, &fp), 0);
                assert_fingerprint(back, fp);
                assert_int_equal(crypto_sign(back, "x", 1, &sig, &siglen), 0);
                assert_int_equal(crypto_verify(gen, "x", 1, sig, siglen), 0);
                free(sig);
                unlink(path);
        }

        unlink(priv);
        unlink(pub);
        unlink(edpriv);
        unlink(edpub);
        unlink(p256);
        assert_int_equal(rmdir(dir), 0);
}

/* ------------------------------------------------------------------ */
/* Ed25519: RFC 8032 section 7.1 */

static const struct {
        const char *secret, *public, *message, *signature;
} rfc8032[] = {
        {       /* TEST 1 */
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        },
        {       /* TEST 2 */
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        },
        {       /* TEST 3 */
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
                "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        },
        {       /* TEST SHA(abc) */
                "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
                "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
                "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
                "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        },
};

static void test_ed25519_rfc8032(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rfc8032); i++) {
                size_t sklen, pklen, msglen, wantlen, siglen = 0, rawlen = 32;
                _cleanup_free_ uint8_t *sk = unhex(rfc8032[i].secret, &sklen);
                _cleanup_free_ uint8_t *pk = unhex(rfc8032[i].public, &pklen);
                _cleanup_free_ uint8_t *msg = unhex(rfc8032[i].message, &msglen);
                _cleanup_free_ uint8_t *want = unhex(rfc8032[i].signature, &wantlen);
                _cleanup_free_ uint8_t *sig = NULL;
                uint8_t derived[32];

                _cleanup_(EVP_PKEY_freep) EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, sklen);
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, pklen);
                assert_non_null(priv);
                assert_non_null(pub);
                assert_key_type(priv, GC_KEY_ED25519);

                /* The public key follows from the secret. */
                assert_int_equal(EVP_PKEY_get_raw_public_key(priv, derived, &rawlen), 1);
                assert_memory_equal(derived, pk, 32);

                /* Deterministic: the very signature of the RFC. */
                assert_int_equal(crypto_sign(priv, msg, msglen, &sig, &siglen), 0);
                assert_int_equal(siglen, 64);
                assert_int_equal(wantlen, 64);
                assert_memory_equal(sig, want, 64);

                assert_int_equal(crypto_verify(pub, msg, msglen, want, wantlen), 0);
                assert_int_equal(crypto_verify(priv, msg, msglen, want, wantlen), 0);

                /* One more byte of message, one bit of signature: wrong. */
                _cleanup_free_ uint8_t *longer = xmalloc(msglen + 1);
                memcpy(longer, msg, msglen);
                longer[msglen] = 0;
                assert_int_equal(crypto_verify(pub, longer, msglen + 1, want, wantlen), -EBADMSG);
                if (msglen > 0) {
                        msg[0] ^= 0x01;
                        assert_int_equal(crypto_verify(pub, msg, msglen, want, wantlen), -EBADMSG);
                        msg[0] ^= 0x01;
                }
                for (size_t b = 0; b < 64; b += 7) {
                        want[b] ^= 0x80;
                        assert_int_equal(crypto_verify(pub, msg, msglen, want, wantlen), -EBADMSG);
                        want[b] ^= 0x80;
                }
                assert_int_equal(crypto_verify(pub, msg, msglen, want, 63), -EBADMSG);
                assert_int_equal(crypto_verify(pub, msg, msglen, want, 0), -EBADMSG);
                assert_int_equal(crypto_verify(pub, msg, msglen, NULL, 0), -EBADMSG);

                /* Signing needs the secret. */
                uint8_t *nosig = NULL;
                assert_int_equal(crypto_sign(pub, msg, msglen, &nosig, &siglen), -ENOKEY);
                assert_null(nosig);
        }
}

/* ------------------------------------------------------------------ */
/* SM2: the published example */

/*
 * GB/T 32918.2-2016 (= GM/T 0003.2-2012) Appendix A.2, the signature
 * example on the recommended curve sm2p256v1 of GB/T 32918.5 (GM/T
 * 0003.5-2012): user id "1234567812345678", message "message digest",
 * nonce k = 59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21.
 * The same numbers are openHiTLS's SM2 self-test vector
 * (openHiTLS/openHiTLS crypto/provider/src/cmvp/cmvp_utils/cmvp_selftest_sm2.c,
 * SM2_TEST_KEYS and SM2DSA_VECTOR).
 */
#define SM2_VEC_D  "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
#define SM2_VEC_X  "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
#define SM2_VEC_Y  "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
#define SM2_VEC_R  "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
#define SM2_VEC_S  "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
#define SM2_VEC_ID "1234567812345678"
#define SM2_VEC_MSG "message digest"

/* 04 || x || y */
static uint8_t *sm2_vector_point(size_t *ret_len) {
        return unhex("04" SM2_VEC_X SM2_VEC_Y, ret_len);
}

/* Build a key from the numbers. (OpenSSL 3.0's EC key manager refuses to
 * import a key on curve SM2 under the name "EC".) */
static EVP_PKEY *sm2_vector_key(bool with_private) {
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        _cleanup_(BN_freep) BIGNUM *d = NULL;
        size_t pointlen;
        _cleanup_free_ uint8_t *point = sm2_vector_point(&pointlen);
        EVP_PKEY *key = NULL;

        assert_non_null(bld);
        assert_int_not_equal(BN_hex2bn(&d, SM2_VEC_D), 0);
        assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0), 1);
        assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, pointlen), 1);
        if (with_private)
                assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
        params = OSSL_PARAM_BLD_to_param(bld);
        assert_non_null(params);

        ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
        assert_non_null(ctx);
        assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
        assert_int_equal(EVP_PKEY_fromdata(ctx, &key, with_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                                           params), 1);
        assert_true(EVP_PKEY_is_a(key, "SM2"));
        return key;
}

static void sm2_vector_signature(uint8_t **ret, size_t *ret_len) {
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = ECDSA_SIG_new();
        BIGNUM *r = NULL, *s = NULL;
        unsigned char *der = NULL;
        int n;

        assert_non_null(sig);
        assert_int_not_equal(BN_hex2bn(&r, SM2_VEC_R), 0);
        assert_int_not_equal(BN_hex2bn(&s, SM2_VEC_S), 0);
        assert_int_equal(ECDSA_SIG_set0(sig, r, s), 1);
        n = i2d_ECDSA_SIG(sig, &der);
        assert_true(n > 0);
        *ret = xmemdup(der, (size_t) n);
        *ret_len = (size_t) n;
        OPENSSL_free(der);
}

/* Check the numbers before trusting them: P = [d]G on sm2p256v1. */
static void test_sm2_vector_public_key(void **state) {
        _cleanup_(EC_GROUP_freep) EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
        _cleanup_(EC_POINT_freep) EC_POINT *p = NULL;
        _cleanup_(BN_freep) BIGNUM *d = NULL;
        _cleanup_(openssl_freep) unsigned char *oct = NULL;
        size_t wantlen;
        _cleanup_free_ uint8_t *want = sm2_vector_point(&wantlen);

        assert_non_null(group);
        p = EC_POINT_new(group);
        assert_non_null(p);
        assert_int_not_equal(BN_hex2bn(&d, SM2_VEC_D), 0);
        assert_int_equal(EC_POINT_mul(group, p, d, NULL, NULL, NULL), 1);
        size_t n = EC_POINT_point2buf(group, p, POINT_CONVERSION_UNCOMPRESSED, &oct, NULL);
        assert_int_equal(n, 65);
        assert_int_equal(wantlen, 65);
        assert_memory_equal(oct, want, 65);
}

static void test_sm2_vector_verify(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = sm2_vector_key(false);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *priv = sm2_vector_key(true);
        _cleanup_free_ uint8_t *sig = NULL;
        const size_t msglen = strlen(SM2_VEC_MSG);
        size_t siglen;

        sm2_vector_signature(&sig, &siglen);

        assert_int_equal(crypto_sm2_verify_id(pub, SM2_VEC_ID, SM2_VEC_MSG, msglen, sig, siglen), 0);
        assert_int_equal(crypto_sm2_verify_id(priv, SM2_VEC_ID, SM2_VEC_MSG, msglen, sig, siglen), 0);
        /* The example's id is GC_SM2_DISTID: crypto_verify sets it. */
        assert_int_equal(crypto_verify(pub, SM2_VEC_MSG, msglen, sig, siglen), 0);

        /* Other id (OpenSSL's default is the empty one), other message, other s. */
        assert_int_equal(crypto_sm2_verify_id(pub, "ALICE123@YAHOO.COM", SM2_VEC_MSG, msglen, sig, siglen),
                         -EBADMSG);
        assert_int_equal(crypto_sm2_verify_id(pub, "1234567812345677", SM2_VEC_MSG, msglen, sig, siglen),
                         -EBADMSG);
        assert_int_equal(crypto_sm2_verify_id(pub, SM2_VEC_ID, "message digesT", msglen, sig, siglen),
                         -EBADMSG);
        sig[siglen - 1] ^= 0x01;
        assert_int_equal(crypto_sm2_verify_id(pub, SM2_VEC_ID, SM2_VEC_MSG, msglen, sig, siglen), -EBADMSG);
        sig[siglen - 1] ^= 0x01;
        assert_int_equal(crypto_sm2_verify_id(pub, SM2_VEC_ID, SM2_VEC_MSG, msglen, sig, siglen), 0);

        _cleanup_free_ char *fp = NULL;
        assert_int_equal(crypto_key_fingerprint(pub, &fp), 0);
        assert_fingerprint(priv, fp);

        /* The vector's private key signs what the public key verifies, with any id. */
        uint8_t *s2 = NULL;
        size_t s2len = 0;
        assert_int_equal(crypto_sm2_sign_id(priv, "ALICE123@YAHOO.COM", SM2_VEC_MSG, msglen, &s2, &s2len), 0);
        assert_int_equal(crypto_sm2_verify_id(pub, "ALICE123@YAHOO.COM", SM2_VEC_MSG, msglen, s2, s2len), 0);
        assert_int_equal(crypto_sm2_verify_id(pub, SM2_VEC_ID, SM2_VEC_MSG, msglen, s2, s2len), -EBADMSG);
        free(s2);
}

/* ------------------------------------------------------------------ */
/* SM2 round trips */

/*
 * EVP_PKEY_Q_keygen(NULL, NULL, "EC", "SM2") makes a key of type EC on
 * curve SM2, which EVP_DigestSign would run through ECDSA. crypto_sign must
 * make an SM2 signature with it all the same: one that verifies under the
 * same key loaded back from PEM, which comes back as type SM2.
 */
static void test_sm2_ec_typed_key(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "SM2");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_free_ char *pem = NULL, *fp = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *sig2 = NULL;
        size_t siglen = 0, siglen2 = 0;

        assert_non_null(ec);
        assert_true(EVP_PKEY_is_a(ec, "EC"));
        assert_false(EVP_PKEY_is_a(ec, "SM2"));
        assert_key_type(ec, GC_KEY_SM2);

        assert_int_equal(crypto_key_public_pem(ec, &pem), 0);
        pub = public_from_pem(pem);
        assert_true(EVP_PKEY_is_a(pub, "SM2"));
        assert_int_equal(crypto_key_fingerprint(ec, &fp), 0);
        assert_fingerprint(pub, fp);

        assert_int_equal(crypto_sign(ec, "abc", 3, &sig, &siglen), 0);
        assert_int_equal(crypto_verify(pub, "abc", 3, sig, siglen), 0);
        assert_int_equal(crypto_verify(ec, "abc", 3, sig, siglen), 0);
        assert_int_equal(crypto_sm2_verify_id(pub, "1234567812345679", "abc", 3, sig, siglen), -EBADMSG);

        assert_int_equal(crypto_sm2_sign_id(ec, "ALICE123@YAHOO.COM", "abc", 3, &sig2, &siglen2), 0);
        assert_int_equal(crypto_sm2_verify_id(pub, "ALICE123@YAHOO.COM", "abc", 3, sig2, siglen2), 0);
        assert_int_equal(crypto_verify(pub, "abc", 3, sig2, siglen2), -EBADMSG);
}

static void test_sm2_sign_verify(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *other = NULL;
        _cleanup_free_ char *pem = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *sig2 = NULL;
        uint8_t msg[] = "{\"name\":\"gov-web-01\",\"vcpus\":4}";
        size_t len = sizeof msg - 1, siglen = 0, siglen2 = 0;

        assert_int_equal(crypto_key_generate(GC_KEY_SM2, &key), 0);
        assert_int_equal(crypto_key_generate(GC_KEY_SM2, &other), 0);
        assert_int_equal(crypto_key_public_pem(key, &pem), 0);
        pub = public_from_pem(pem);

        assert_int_equal(crypto_sign(key, msg, len, &sig, &siglen), 0);
        assert_in_range(siglen, 8, 72);
        assert_int_equal(sig[0], 0x30);         /* DER SEQUENCE */
        assert_int_equal(crypto_verify(pub, msg, len, sig, siglen), 0);
        assert_int_equal(crypto_verify(key, msg, len, sig, siglen), 0);
        assert_int_equal(crypto_sm2_verify_id(pub, GC_SM2_DISTID, msg, len, sig, siglen), 0);
        assert_int_equal(crypto_verify(other, msg, len, sig, siglen), -EBADMSG);

        /* The id is part of what is signed. */
        assert_int_equal(crypto_sm2_verify_id(pub, "1234567812345679", msg, len, sig, siglen), -EBADMSG);
        assert_int_equal(crypto_sm2_verify_id(pub, "ALICE123@YAHOO.COM", msg, len, sig, siglen), -EBADMSG);
        assert_int_equal(crypto_sm2_sign_id(key, "ALICE123@YAHOO.COM", msg, len, &sig2, &siglen2), 0);
        assert_int_equal(crypto_verify(pub, msg, len, sig2, siglen2), -EBADMSG);
        assert_int_equal(crypto_sm2_verify_id(pub, "ALICE123@YAHOO.COM", msg, len, sig2, siglen2), 0);

        /* Randomized: two signatures differ, both verify. */
        free(sig2);
        sig2 = NULL;
        assert_int_equal(crypto_sign(key, msg, len, &sig2, &siglen2), 0);
        assert_false(siglen == siglen2 && memcmp(sig, sig2, siglen) == 0);
        assert_int_equal(crypto_verify(pub, msg, len, sig2, siglen2), 0);

        /* Every changed message byte. */
        for (size_t i = 0; i < len; i++) {
                msg[i] ^= 0x20;
                assert_int_equal(crypto_verify(pub, msg, len, sig, siglen), -EBADMSG);
                msg[i] ^= 0x20;
        }
        assert_int_equal(crypto_verify(pub, msg, len - 1, sig, siglen), -EBADMSG);

        /* Every changed signature byte, header bytes included (malformed DER). */
        for (size_t i = 0; i < siglen; i++) {
                for (unsigned bit = 0; bit < 8; bit += 3) {
                        sig[i] ^= (uint8_t) (1u << bit);
                        if (crypto_verify(pub, msg, len, sig, siglen) != -EBADMSG)
                                fail_msg("signature with byte %zu bit %u flipped was not -EBADMSG", i, bit);
                        sig[i] ^= (uint8_t) (1u << bit);
                }
        }
        /* Truncated, extended, empty, raw r||s, garbage. */
        assert_int_equal(crypto_verify(pub, msg, len, sig, siglen - 1), -EBADMSG);
        _cleanup_free_ uint8_t *longer = xmalloc(siglen + 1);
        memcpy(longer, sig, siglen);
        longer[siglen] = 0;
        assert_int_equal(crypto_verify(pub, msg, len, longer, siglen + 1), -EBADMSG);
        assert_int_equal(crypto_verify(pub, msg, len, sig, 0), -EBADMSG);
        uint8_t raw64[64];
        memset(raw64, 0x5a, sizeof raw64);
        assert_int_equal(crypto_verify(pub, msg, len, raw64, sizeof raw64), -EBADMSG);
        assert_int_equal(crypto_verify(pub, msg, len, sig, siglen), 0);

        /* Empty message. */
        free(sig2);
        sig2 = NULL;
        assert_int_equal(crypto_sign(key, NULL, 0, &sig2, &siglen2), 0);
        assert_int_equal(crypto_verify(pub, "", 0, sig2, siglen2), 0);
        assert_int_equal(crypto_verify(pub, "x", 1, sig2, siglen2), -EBADMSG);

        /* A public key cannot sign. */
        uint8_t *nosig = NULL;
        assert_int_equal(crypto_sign(pub, msg, len, &nosig, &siglen2), -ENOKEY);
        assert_int_equal(crypto_sm2_sign_id(pub, GC_SM2_DISTID, msg, len, &nosig, &siglen2), -ENOKEY);
        assert_null(nosig);
}

static void test_ed25519_sign_verify(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        _cleanup_free_ char *pem = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *sig2 = NULL;
        uint8_t msg[] = "{\"a\":[1,2,3]}";
        size_t len = sizeof msg - 1, siglen = 0, siglen2 = 0;

        assert_int_equal(crypto_key_generate(GC_KEY_ED25519, &key), 0);
        assert_int_equal(crypto_key_public_pem(key, &pem), 0);
        pub = public_from_pem(pem);

        assert_int_equal(crypto_sign(key, msg, len, &sig, &siglen), 0);
        assert_int_equal(siglen, 64);
        assert_int_equal(crypto_verify(pub, msg, len, sig, siglen), 0);
        /* Deterministic. */
        assert_int_equal(crypto_sign(key, msg, len, &sig2, &siglen2), 0);
        assert_int_equal(siglen2, 64);
        assert_memory_equal(sig, sig2, 64);

        for (size_t i = 0; i < len; i++) {
                msg[i] ^= 0x01;
                assert_int_equal(crypto_verify(pub, msg, len, sig, siglen), -EBADMSG);
                msg[i] ^= 0x01;
        }
        for (size_t i = 0; i < siglen; i++) {
                sig[i] ^= 0x04;
                assert_int_equal(crypto_verify(pub, msg, len, sig, siglen), -EBADMSG);
                sig[i] ^= 0x04;
        }
        assert_int_equal(crypto_verify(pub, msg, len, sig, siglen), 0);
}

/* ------------------------------------------------------------------ */
/* Key types */

static void test_wrong_key_type(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ed = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *sm2 = NULL;
        _cleanup_free_ uint8_t *sm2sig = NULL, *edsig = NULL;
        uint8_t *sig = NULL;
        size_t siglen = 0, sm2siglen = 0, edsiglen = 0;
        enum gc_key_type t = (enum gc_key_type) 99;

        assert_non_null(p256);
        assert_int_equal(crypto_key_type(p256, &t), -EOPNOTSUPP);
        assert_int_equal(t, 99);
        assert_int_equal(crypto_sign(p256, "x", 1, &sig, &siglen), -EOPNOTSUPP);
        assert_int_equal(crypto_verify(p256, "x", 1, (const uint8_t *) "x", 1), -EOPNOTSUPP);
        assert_int_equal(crypto_sm2_sign_id(p256, GC_SM2_DISTID, "x", 1, &sig, &siglen), -EOPNOTSUPP);
        assert_null(sig);

        assert_int_equal(crypto_key_generate(GC_KEY_ED25519, &ed), 0);
        assert_int_equal(crypto_key_generate(GC_KEY_SM2, &sm2), 0);
        assert_int_equal(crypto_key_generate((enum gc_key_type) 99, &sm2), -EINVAL);

        /* SM2-only calls refuse Ed25519. */
        assert_int_equal(crypto_sm2_sign_id(ed, GC_SM2_DISTID, "x", 1, &sig, &siglen), -EOPNOTSUPP);
        assert_int_equal(crypto_sm2_verify_id(ed, GC_SM2_DISTID, "x", 1, (const uint8_t *) "x", 1), -EOPNOTSUPP);
        assert_null(sig);

        /* A signature of one kind under a key of the other is just wrong. */
        assert_int_equal(crypto_sign(sm2, "x", 1, &sm2sig, &sm2siglen), 0);
        assert_int_equal(crypto_sign(ed, "x", 1, &edsig, &edsiglen), 0);
        assert_int_equal(crypto_verify(ed, "x", 1, sm2sig, sm2siglen), -EBADMSG);
        assert_int_equal(crypto_verify(sm2, "x", 1, edsig, edsiglen), -EBADMSG);

        assert_int_equal(crypto_key_type(NULL, &t), -EINVAL);
        assert_int_equal(crypto_sign(NULL, "x", 1, &sig, &siglen), -EINVAL);
        assert_int_equal(crypto_sm2_verify_id(sm2, NULL, "x", 1, sm2sig, sm2siglen), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_sm3_vectors),
                cmocka_unit_test(test_sha256_vectors),
                cmocka_unit_test(test_digest_errors),
                cmocka_unit_test(test_hmac_sha256_rfc4231),
                cmocka_unit_test(test_hmac_sm3),
                cmocka_unit_test(test_random_and_tokens),
                cmocka_unit_test(test_equal),
                cmocka_unit_test(test_hex),
                cmocka_unit_test(test_base64),
                cmocka_unit_test(test_pem_from_openssl),
                cmocka_unit_test(test_pem_refused),
                cmocka_unit_test(test_pem_files),
                cmocka_unit_test(test_ed25519_rfc8032),
                cmocka_unit_test(test_sm2_vector_public_key),
                cmocka_unit_test(test_sm2_vector_verify),
                cmocka_unit_test(test_sm2_ec_typed_key),
                cmocka_unit_test(test_sm2_sign_verify),
                cmocka_unit_test(test_ed25519_sign_verify),
                cmocka_unit_test(test_wrong_key_type),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
