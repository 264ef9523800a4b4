/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "log.h"

/* A PEM key file is a few hundred bytes; anything near this is not one. */
#define KEY_FILE_MAX (1024 * 1024)
/* Tokens are identifiers, not bulk data. */
#define TOKEN_BYTES_MAX 4096
#define ED25519_SIG_LEN 64

DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)

static void openssl_freep(void *p) {
        OPENSSL_free(*(void **) p);
}

/* --- names --- */

int crypto_hash_from_string(const char *s, enum gc_hash_alg *ret) {
        if (!s)
                return -EINVAL;
        if (strcasecmp(s, "sm3") == 0)
                *ret = GC_HASH_SM3;
        else if (strcasecmp(s, "sha256") == 0)
                *ret = GC_HASH_SHA256;
        else
                return -EINVAL;
        return 0;
}

const char *crypto_hash_to_string(enum gc_hash_alg alg) {
        switch (alg) {
        case GC_HASH_SM3:
                return "sm3";
        case GC_HASH_SHA256:
                return "sha256";
        }
        return NULL;
}

int crypto_key_type_from_string(const char *s, enum gc_key_type *ret) {
        if (!s)
                return -EINVAL;
        if (strcasecmp(s, "sm2") == 0)
                *ret = GC_KEY_SM2;
        else if (strcasecmp(s, "ed25519") == 0)
                *ret = GC_KEY_ED25519;
        else
                return -EINVAL;
        return 0;
}

const char *crypto_key_type_to_string(enum gc_key_type t) {
        switch (t) {
        case GC_KEY_SM2:
                return "sm2";
        case GC_KEY_ED25519:
                return "ed25519";
        }
        return NULL;
}

/* --- digests and MACs --- */

static const EVP_MD *hash_md(enum gc_hash_alg alg) {
        switch (alg) {
        case GC_HASH_SM3:
                return EVP_sm3();
        case GC_HASH_SHA256:
                return EVP_sha256();
        }
        return NULL;
}

static const char *hash_md_name(enum gc_hash_alg alg) {
        switch (alg) {
        case GC_HASH_SM3:
                return "SM3";
        case GC_HASH_SHA256:
                return "SHA256";
        }
        return NULL;
}

int crypto_digest(enum gc_hash_alg alg, const void *data, size_t len, uint8_t out[GC_HASH_MAX]) {
        const EVP_MD *md = hash_md(alg);
        unsigned char md_out[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (!md)
                return -EINVAL;
        if (!data && len > 0)
                return -EINVAL;

        if (EVP_Digest(data ? data : "", len, md_out, &n, md, NULL) != 1)
                return log_openssl_errno(-EIO, "%s digest", hash_md_name(alg));
        if (n != GC_HASH_MAX)
                return log_debug_errno(-EIO, "%s digest: unexpected length %u", hash_md_name(alg), n);

        memcpy(out, md_out, GC_HASH_MAX);
        OPENSSL_cleanse(md_out, sizeof md_out);
        return 0;
}

int crypto_hmac(enum gc_hash_alg alg, const void *key, size_t keylen,
                const void *data, size_t len, uint8_t out[GC_HASH_MAX]) {
        _cleanup_(EVP_MAC_freep) EVP_MAC *mac = NULL;
        _cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *ctx = NULL;
        const char *mdname = hash_md_name(alg);
        unsigned char mac_out[EVP_MAX_MD_SIZE];
        size_t n = 0;

        if (!mdname)
                return -EINVAL;
        if ((!key && keylen > 0) || (!data && len > 0))
                return -EINVAL;

        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) mdname, 0),
                OSSL_PARAM_construct_end(),
        };

        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (!mac)
                return log_openssl_errno(-EOPNOTSUPP, "fetch HMAC");
        ctx = EVP_MAC_CTX_new(mac);
        if (!ctx)
                return log_openssl_errno(-ENOMEM, "HMAC context");
        /* A NULL key would mean "keep the previous key"; an empty key is "". */
        if (EVP_MAC_init(ctx, key ? key : (const void *) "", keylen, params) != 1)
                return log_openssl_errno(-EIO, "HMAC-%s init", mdname);
        if (EVP_MAC_update(ctx, data ? data : (const void *) "", len) != 1)
                return log_openssl_errno(-EIO, "HMAC-%s update", mdname);
        if (EVP_MAC_final(ctx, mac_out, &n, sizeof mac_out) != 1)
                return log_openssl_errno(-EIO, "HMAC-%s final", mdname);
        if (n != GC_HASH_MAX)
                return log_debug_errno(-EIO, "HMAC-%s: unexpected length %zu", mdname, n);

        memcpy(out, mac_out, GC_HASH_MAX);
        OPENSSL_cleanse(mac_out, sizeof mac_out);
        return 0;
}

/* --- randomness --- */

int crypto_random(void *buf, size_t len) {
        uint8_t *p = buf;

        if (!buf && len > 0)
                return -EINVAL;
        while (len > 0) {
                int n = len > INT_MAX ? INT_MAX : (int) len;
                if (RAND_bytes(p, n) != 1)
                        return log_openssl_errno(-EIO, "random bytes");
                p += n;
                len -= n;
        }
        return 0;
}

static char *base64url_encode(const uint8_t *p, size_t n) {
        static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        char *s = xmalloc(n / 3 * 4 + 4 + 1), *o = s;
        size_t i = 0;

        for (; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
                *o++ = alphabet[v >> 18 & 63];
                *o++ = alphabet[v >> 12 & 63];
                *o++ = alphabet[v >> 6 & 63];
                *o++ = alphabet[v & 63];
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t) p[i] << 16;
                *o++ = alphabet[v >> 18 & 63];
                *o++ = alphabet[v >> 12 & 63];
        } else if (n - i == 2) {
                uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;
                *o++ = alphabet[v >> 18 & 63];
                *o++ = alphabet[v >> 12 & 63];
                *o++ = alphabet[v >> 6 & 63];
        }
        *o = '\0';
        return s;
}

int crypto_token(size_t nbytes, char **ret_token) {
        uint8_t raw[TOKEN_BYTES_MAX];
        int r;

        if (nbytes == 0 || nbytes > TOKEN_BYTES_MAX)
                return -EINVAL;

        r = crypto_random(raw, nbytes);
        if (r < 0)
                return r;
        *ret_token = base64url_encode(raw, nbytes);
        OPENSSL_cleanse(raw, nbytes);
        return 0;
}

bool crypto_equal(const void *a, const void *b, size_t len) {
        if (len == 0)
                return true;
        return CRYPTO_memcmp(a, b, len) == 0;
}

/* --- hex and base64 --- */

char *crypto_hex(const void *data, size_t len) {
        static const char digits[] = "0123456789abcdef";
        const uint8_t *p = data;
        char *s = xmalloc(len * 2 + 1);

        for (size_t i = 0; i < len; i++) {
                s[2 * i] = digits[p[i] >> 4];
                s[2 * i + 1] = digits[p[i] & 15];
        }
        s[len * 2] = '\0';
        return s;
}

static int unhex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int crypto_unhex(const char *hex, uint8_t **ret, size_t *ret_len) {
        size_t n;

        if (!hex)
                return -EINVAL;
        n = strlen(hex);
        if (n % 2 != 0)
                return -EINVAL;

        _cleanup_free_ uint8_t *out = xmalloc(n / 2 + 1);
        for (size_t i = 0; i < n / 2; i++) {
                int hi = unhex_digit(hex[2 * i]), lo = unhex_digit(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t) (hi << 4 | lo);
        }
        *ret = TAKE_PTR(out);
        *ret_len = n / 2;
        return 0;
}

char *crypto_base64(const void *data, size_t len) {
        /* EVP_EncodeBlock counts in int: encode in whole groups of 3 bytes. */
        const size_t chunk = 3 * 1024 * 1024;
        const unsigned char *p = data;
        char *s, *o;

        if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
                abort();
        s = o = xmalloc((len + 2) / 3 * 4 + 1);
        *o = '\0';
        while (len > 0) {
                size_t n = len > chunk ? chunk : len;
                int w = EVP_EncodeBlock((unsigned char *) o, p, (int) n);
                if (w < 0)
                        abort();
                o += w;
                p += n;
                len -= n;
        }
        *o = '\0';
        return s;
}

static bool base64_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
}

static unsigned base64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        return c == '+' ? 62 : 63;
}

int crypto_unbase64(const char *s, uint8_t **ret, size_t *ret_len) {
        size_t n, pad = 0;

        if (!s)
                return -EINVAL;
        n = strlen(s);

        /* Strict RFC 4648 §4: padded, nothing but the alphabet, and the
         * unused bits of the last group zero, so that each byte string has
         * exactly one encoding. EVP_DecodeBlock itself would skip white
         * space and count the padding as zero bytes. */
        if (n % 4 != 0 || n > INT_MAX)
                return -EINVAL;
        if (n > 0 && s[n - 1] == '=')
                pad = (n > 1 && s[n - 2] == '=') ? 2 : 1;
        for (size_t i = 0; i < n - pad; i++)
                if (!base64_char(s[i]))
                        return -EINVAL;
        if (pad == 2 && (base64_value(s[n - 3]) & 0x0f) != 0)
                return -EINVAL;
        if (pad == 1 && (base64_value(s[n - 2]) & 0x03) != 0)
                return -EINVAL;

        _cleanup_free_ uint8_t *out = xmalloc(n / 4 * 3 + 1);
        if (n > 0) {
                int w = EVP_DecodeBlock(out, (const unsigned char *) s, (int) n);
                if (w < 0 || (size_t) w != n / 4 * 3)
                        return log_openssl_errno(-EINVAL, "base64 decode");
        }
        *ret = TAKE_PTR(out);
        *ret_len = n / 4 * 3 - pad;
        return 0;
}

/* --- keys --- */

static bool key_is_ec_on_sm2_curve(EVP_PKEY *key) {
        char group[64];
        size_t len = 0;

        if (!EVP_PKEY_is_a(key, "EC"))
                return false;
        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
                return false;
        return strcasecmp(group, "SM2") == 0;
}

int crypto_key_type(EVP_PKEY *key, enum gc_key_type *ret) {
        if (!key)
                return -EINVAL;
        if (EVP_PKEY_is_a(key, "ED25519"))
                *ret = GC_KEY_ED25519;
        else if (EVP_PKEY_is_a(key, "SM2") || key_is_ec_on_sm2_curve(key))
                *ret = GC_KEY_SM2;
        else
                return -EOPNOTSUPP;
        return 0;
}

static bool key_has_private(EVP_PKEY *key) {
        BIGNUM *bn = NULL;
        size_t len = 0;
        bool found;

        ERR_set_mark();
        if (EVP_PKEY_is_a(key, "ED25519"))
                found = EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0, &len) == 1 &&
                        len > 0;
        else {
                found = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1;
                BN_clear_free(bn);
        }
        ERR_pop_to_mark();
        return found;
}

/*
 * An SM2 key as the SM2 signature implementation wants it. OpenSSL 3.0
 * decodes every PEM form of an SM2 key (PKCS#8, SEC1, SubjectPublicKeyInfo)
 * as key type SM2, but a key built with EVP_PKEY_fromdata() under the name
 * "EC" with group "SM2" stays an EC key, and EVP_DigestSign would then run
 * ECDSA over it. Such a key is re-imported as SM2; *ret gets a reference.
 */
static int key_as_sm2(EVP_PKEY *key, EVP_PKEY **ret) {
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *sm2 = NULL;
        int selection;

        if (EVP_PKEY_is_a(key, "SM2")) {
                if (EVP_PKEY_up_ref(key) != 1)
                        return log_openssl_errno(-EIO, "reference SM2 key");
                *ret = key;
                return 0;
        }
        if (!key_is_ec_on_sm2_curve(key))
                return -EOPNOTSUPP;

        selection = key_has_private(key) ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
        if (EVP_PKEY_todata(key, selection, &params) != 1)
                return log_openssl_errno(-EIO, "export EC key on curve SM2");
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
        if (!ctx)
                return log_openssl_errno(-EOPNOTSUPP, "SM2 key context");
        if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &sm2, selection, params) != 1)
                return log_openssl_errno(-EIO, "import EC key on curve SM2 as SM2");
        *ret = sm2;
        return 0;
}

/* Accept SM2 and Ed25519 keys; turn an EC key on curve SM2 into an SM2 key. */
static int key_check(EVP_PKEY *key, EVP_PKEY **ret) {
        enum gc_key_type t;
        int r;

        r = crypto_key_type(key, &t);
        if (r < 0)
                return log_debug_errno(r, "key type %s is neither SM2 nor Ed25519",
                                       EVP_PKEY_get0_type_name(key) ?: "(unknown)");
        if (t == GC_KEY_SM2)
                return key_as_sm2(key, ret);
        if (EVP_PKEY_up_ref(key) != 1)
                return log_openssl_errno(-EIO, "reference key");
        *ret = key;
        return 0;
}

/* OpenSSL's default callback would prompt on the terminal for an encrypted
 * key; refuse instead. */
static int no_password_cb(char *buf, int size, int rwflag, void *userdata) {
        return -1;
}

static int key_from_pem(const char *pem, size_t len, bool private, EVP_PKEY **ret) {
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        EVP_PKEY *checked = NULL;
        int r;

        if (!pem || len > INT_MAX)
                return -EINVAL;
        bio = BIO_new_mem_buf(pem, (int) len);
        if (!bio)
                return log_openssl_errno(-ENOMEM, "PEM buffer");

        if (private)
                key = PEM_read_bio_PrivateKey(bio, NULL, no_password_cb, NULL);
        else
                key = PEM_read_bio_PUBKEY(bio, NULL, no_password_cb, NULL);
        if (!key)
                return log_openssl_errno(-EINVAL, "parse %s key PEM", private ? "private" : "public");

        r = key_check(key, &checked);
        if (r < 0)
                return r;
        *ret = checked;
        return 0;
}

int crypto_key_private_from_pem(const char *pem, size_t len, EVP_PKEY **ret) {
        return key_from_pem(pem, len, true, ret);
}

int crypto_key_public_from_pem(const char *pem, size_t len, EVP_PKEY **ret) {
        return key_from_pem(pem, len, false, ret);
}

static int key_load(const char *path, bool private, EVP_PKEY **ret) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r;

        if (!path)
                return -EINVAL;
        r = gc_read_file(path, KEY_FILE_MAX, &data, &len);
        if (r < 0)
                return log_debug_errno(r, "read %s", path);
        r = key_from_pem(data, len, private, ret);
        OPENSSL_cleanse(data, len);
        if (r < 0)
                return log_debug_errno(r, "load %s key from %s", private ? "private" : "public", path);
        return 0;
}

int crypto_key_load_private(const char *path, EVP_PKEY **ret) {
        return key_load(path, true, ret);
}

int crypto_key_load_public(const char *path, EVP_PKEY **ret) {
        return key_load(path, false, ret);
}

int crypto_key_public_pem(EVP_PKEY *key, char **ret_pem) {
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        char *p = NULL;
        long n;

        if (!key)
                return -EINVAL;
        bio = BIO_new(BIO_s_mem());
        if (!bio)
                return log_openssl_errno(-ENOMEM, "PEM buffer");
        if (PEM_write_bio_PUBKEY(bio, key) != 1)
                return log_openssl_errno(-EIO, "write public key PEM");
        n = BIO_get_mem_data(bio, &p);
        if (n <= 0 || !p)
                return log_openssl_errno(-EIO, "write public key PEM");
        *ret_pem = xstrndup(p, (size_t) n);
        return 0;
}

int crypto_key_fingerprint(EVP_PKEY *key, char **ret) {
        _cleanup_(openssl_freep) unsigned char *der = NULL;
        _cleanup_free_ char *hex = NULL;
        uint8_t md[GC_HASH_MAX];
        int n, r;

        if (!key)
                return -EINVAL;
        /* i2d_PUBKEY writes only the public half, whatever the key holds. */
        n = i2d_PUBKEY(key, &der);
        if (n <= 0)
                return log_openssl_errno(-EIO, "encode SubjectPublicKeyInfo");
        r = crypto_digest(GC_HASH_SHA256, der, (size_t) n, md);
        if (r < 0)
                return r;
        hex = crypto_hex(md, sizeof md);
        *ret = xasprintf("sha256:%s", hex);
        return 0;
}

int crypto_key_generate(enum gc_key_type type, EVP_PKEY **ret) {
        EVP_PKEY *key;

        switch (type) {
        case GC_KEY_SM2:
                key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
                break;
        case GC_KEY_ED25519:
                key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
                break;
        default:
                return -EINVAL;
        }
        if (!key)
                return log_openssl_errno(-EIO, "generate %s key", crypto_key_type_to_string(type));
        *ret = key;
        return 0;
}

/* --- signatures --- */

/*
 * Set up mctx for signing or verifying. For SM2, pctx receives the key
 * context that carries the distinguishing id; the caller frees it after
 * mctx (EVP_MD_CTX_set_pkey_ctx does not hand it over).
 */
static int sig_init(EVP_MD_CTX *mctx, EVP_PKEY_CTX **pctx, EVP_PKEY *key, enum gc_key_type type,
                    const char *id, bool sign) {
        if (type == GC_KEY_SM2) {
                *pctx = EVP_PKEY_CTX_new(key, NULL);
                if (!*pctx)
                        return log_openssl_errno(-ENOMEM, "SM2 key context");
                /* GM/T 0009: the id enters Z_A = SM3(ENTL || ID || a || b || G || P). */
                if (EVP_PKEY_CTX_set1_id(*pctx, id, strlen(id)) <= 0)
                        return log_openssl_errno(-EIO, "set SM2 distinguishing id");
                EVP_MD_CTX_set_pkey_ctx(mctx, *pctx);
                if ((sign ? EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL, key)
                          : EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL, key)) != 1)
                        return log_openssl_errno(-EIO, "SM2 %s init", sign ? "sign" : "verify");
                return 0;
        }

        /* Pure Ed25519 (RFC 8032): no separate digest. */
        if ((sign ? EVP_DigestSignInit(mctx, NULL, NULL, NULL, key)
                  : EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key)) != 1)
                return log_openssl_errno(-EIO, "Ed25519 %s init", sign ? "sign" : "verify");
        return 0;
}

static int sign_with(EVP_PKEY *key, enum gc_key_type type, const char *id, const void *msg, size_t len,
                     uint8_t **ret_sig, size_t *ret_siglen) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mctx = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t siglen = 0;
        int r;

        if (!msg && len > 0)
                return -EINVAL;
        if (!msg)
                msg = "";
        if (!key_has_private(key))
                return log_debug_errno(-ENOKEY, "signing needs a private key");

        mctx = EVP_MD_CTX_new();
        if (!mctx)
                return log_openssl_errno(-ENOMEM, "digest context");
        r = sig_init(mctx, &pctx, key, type, id, true);
        if (r < 0)
                return r;

        /* SM2 signatures vary in length (DER); ask for the maximum first. */
        if (EVP_DigestSign(mctx, NULL, &siglen, msg, len) != 1 || siglen == 0)
                return log_openssl_errno(-EIO, "signature length");
        sig = xmalloc(siglen);
        if (EVP_DigestSign(mctx, sig, &siglen, msg, len) != 1)
                return log_openssl_errno(-EIO, "sign");

        *ret_sig = TAKE_PTR(sig);
        *ret_siglen = siglen;
        return 0;
}

static int verify_with(EVP_PKEY *key, enum gc_key_type type, const char *id, const void *msg, size_t len,
                       const uint8_t *sig, size_t siglen) {
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *mctx = NULL;
        int r;

        if (!msg && len > 0)
                return -EINVAL;
        if (!msg)
                msg = "";
        if (!sig || siglen == 0)
                return -EBADMSG;
        if (type == GC_KEY_ED25519 && siglen != ED25519_SIG_LEN)
                return -EBADMSG;

        mctx = EVP_MD_CTX_new();
        if (!mctx)
                return log_openssl_errno(-ENOMEM, "digest context");
        r = sig_init(mctx, &pctx, key, type, id, false);
        if (r < 0)
                return r;

        /* 1 is valid. 0 is a wrong signature; the SM2 code returns -1 for a
         * signature that is not strict DER, which is as wrong. The few other
         * failures possible past init (an allocation inside OpenSSL) read
         * as invalid too, which fails closed. */
        r = EVP_DigestVerify(mctx, sig, siglen, msg, len);
        if (r != 1) {
                (void) log_openssl_errno(-EBADMSG, "signature does not verify");
                return -EBADMSG;
        }
        return 0;
}

int crypto_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t **ret_sig, size_t *ret_siglen) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
        enum gc_key_type type;
        int r;

        if (!key)
                return -EINVAL;
        r = key_check(key, &k);
        if (r < 0)
                return r;
        r = crypto_key_type(k, &type);
        if (r < 0)
                return r;
        return sign_with(k, type, GC_SM2_DISTID, msg, len, ret_sig, ret_siglen);
}

int crypto_verify(EVP_PKEY *key, const void *msg, size_t len, const uint8_t *sig, size_t siglen) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
        enum gc_key_type type;
        int r;

        if (!key)
                return -EINVAL;
        r = key_check(key, &k);
        if (r < 0)
                return r;
        r = crypto_key_type(k, &type);
        if (r < 0)
                return r;
        return verify_with(k, type, GC_SM2_DISTID, msg, len, sig, siglen);
}

int crypto_sm2_sign_id(EVP_PKEY *key, const char *id, const void *msg, size_t len,
                       uint8_t **ret_sig, size_t *ret_siglen) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
        int r;

        if (!key || !id)
                return -EINVAL;
        r = key_as_sm2(key, &k);
        if (r < 0)
                return log_debug_errno(r, "not an SM2 key");
        return sign_with(k, GC_KEY_SM2, id, msg, len, ret_sig, ret_siglen);
}

int crypto_sm2_verify_id(EVP_PKEY *key, const char *id, const void *msg, size_t len,
                         const uint8_t *sig, size_t siglen) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
        int r;

        if (!key || !id)
                return -EINVAL;
        r = key_as_sm2(key, &k);
        if (r < 0)
                return log_debug_errno(r, "not an SM2 key");
        return verify_with(k, GC_KEY_SM2, id, msg, len, sig, siglen);
}
