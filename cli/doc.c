/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcctl doc: canonical JSON (RFC 8785), digests and signatures over it.
 * Signatures are SM2 with SM3 and the distinguishing id 1234567812345678,
 * or Ed25519, according to the key; the bytes signed are the canonical
 * bytes of the document unless --raw says to take the file as it is.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "gc/error.h"
#include "gcctl.h"
#include "jcs.h"

/* Documents are requests and policy packs, not bulk data. */
#define DOC_INPUT_MAX (16u * 1024 * 1024)
/* A signature file holds at most a DER SM2 signature in base64. */
#define SIG_FILE_MAX (64u * 1024)

enum {
        ARG_ALG = 0x100,
        ARG_RAW,
        ARG_KEY,
        ARG_PUBKEY,
        ARG_SIG,
        ARG_OUT,
};

struct doc_args {
        const char *verb;               /* "gcctl doc sign", for messages */
        bool raw;
        enum gc_hash_alg alg;
        const char *key;
        const char *pubkey;
        const char *sig;
        const char *out;
};

static int doc_handle(int opt, const char *arg, void *userdata) {
        struct doc_args *a = userdata;

        switch (opt) {
        case ARG_ALG:
                if (crypto_hash_from_string(arg, &a->alg) < 0) {
                        gcctl_usage_error(a->verb, "--alg: \"%s\" is not sm3 or sha256", arg);
                        return -EINVAL;
                }
                return 0;
        case ARG_RAW:
                a->raw = true;
                return 0;
        case ARG_KEY:
                a->key = arg;
                return 0;
        case ARG_PUBKEY:
                a->pubkey = arg;
                return 0;
        case ARG_SIG:
                a->sig = arg;
                return 0;
        case ARG_OUT:
                a->out = arg;
                return 0;
        }
        return -EINVAL;
}

static const char *display_name(const char *path) {
        return strcmp(path, "-") == 0 ? "(stdin)" : path;
}

/* "gcctl doc sign: doc.json: No such file or directory"; returns GCCTL_EXIT_FAIL. */
static int doc_fail(const struct doc_args *a, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int doc_fail(const struct doc_args *a, const char *path, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", a->verb);
        if (path)
                fprintf(stderr, "%s: ", display_name(path));
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return GCCTL_EXIT_FAIL;
}

static const char *read_error(int r, size_t max, char *buf, size_t size) {
        if (r == -EFBIG)
                snprintf(buf, size, "larger than %zu MiB", max / (1024 * 1024));
        else
                snprintf(buf, size, "%s", strerror(-r));
        return buf;
}

/*
 * The bytes a digest or signature covers: the canonical form of the JSON
 * document in path, or with --raw the file as it is. Prints the error and
 * returns GCCTL_EXIT_FAIL, or 0.
 */
static int doc_bytes(const struct doc_args *a, const char *path, char **ret, size_t *ret_len) {
        _cleanup_free_ char *data = NULL;
        char msg[128];
        size_t len = 0;
        int r;

        r = gc_read_file(path, DOC_INPUT_MAX, &data, &len);
        if (r < 0)
                return doc_fail(a, path, "%s", read_error(r, DOC_INPUT_MAX, msg, sizeof msg));

        if (!a->raw) {
                struct gc_error err = {};
                char *canon = NULL;
                size_t canon_len = 0;
                char buf[GC_ERROR_FORMAT_MAX];

                r = jcs_canonicalize(data, len, &canon, &canon_len, &err);
                if (r < 0) {
                        if (err.message[0])
                                return doc_fail(a, path, "not a JSON document that can be canonicalized: %s",
                                                gc_error_format(&err, buf, sizeof buf));
                        return doc_fail(a, path, "not a JSON document that can be canonicalized: %s", strerror(-r));
                }
                free(data);
                data = canon;
                len = canon_len;
        }
        *ret = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}

static int write_all(FILE *f, const void *p, size_t n) {
        if (n > 0 && fwrite(p, 1, n, f) != n)
                return -EIO;
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}

/* One operand, the file. */
static int one_operand(const struct doc_args *a, int argc, char **argv, int optind_, const char *what,
                       const char **ret) {
        if (optind_ >= argc)
                return gcctl_usage_error(a->verb, "missing %s (see --help)", what);
        if (argc - optind_ > 1)
                return gcctl_usage_error(a->verb, "one %s only, got also '%s' (options go before it)",
                                         what, argv[optind_ + 1]);
        *ret = argv[optind_];
        return 0;
}

/* Why a key file was refused. */
static const char *key_error(int r, bool private_only, char *buf, size_t size) {
        switch (r) {
        case -EINVAL:
                snprintf(buf, size, "%s", private_only
                         ? "not a PEM private key (PKCS#8 or SEC1; encrypted keys are not supported)"
                         : "not a PEM key (SubjectPublicKeyInfo, or a PKCS#8 or SEC1 private key; "
                           "encrypted keys are not supported)");
                break;
        case -EOPNOTSUPP:
                snprintf(buf, size, "not an SM2 or Ed25519 key");
                break;
        case -EFBIG:
                snprintf(buf, size, "too large for a key file");
                break;
        default:
                snprintf(buf, size, "%s", strerror(-r));
        }
        return buf;
}

static const char *sig_alg_name(EVP_PKEY *key) {
        enum gc_key_type t;

        if (crypto_key_type(key, &t) < 0)
                return "unknown";
        return t == GC_KEY_SM2 ? "sm2-sm3" : "ed25519";
}

static void json_add_key(cJSON *o, EVP_PKEY *key) {
        _cleanup_free_ char *fp = NULL;
        enum gc_key_type t;

        cJSON_AddStringToObject(o, "alg", sig_alg_name(key));
        if (crypto_key_type(key, &t) >= 0 && t == GC_KEY_SM2)
                cJSON_AddStringToObject(o, "distid", GC_SM2_DISTID);
        if (crypto_key_fingerprint(key, &fp) >= 0)
                cJSON_AddStringToObject(o, "key_fingerprint", fp);
}

/* --- canon --- */

static const char canon_usage[] =
        "Usage: gcctl doc canon [OPTIONS] FILE\n"
        "\n"
        "Print the canonical form (RFC 8785, JCS) of the JSON document in FILE:\n"
        "members sorted, no white space, numbers and strings as ECMAScript writes\n"
        "them. These are the bytes every govcloud digest and signature covers.\n"
        "There is no trailing newline, so the output can be piped to a signer.\n"
        "FILE '-' reads standard input. The input must be strict JSON (RFC 8259,\n"
        "I-JSON: no duplicate keys, no lone surrogates), at most 16 MiB.\n"
        "\n"
        "Options:\n"
        "  --json     accepted; the output is JSON already\n"
        "  --help     this text\n"
        "\n"
        "Example:\n"
        "  gcctl doc canon request.json > request.canon\n";

static int verb_canon(int argc, char **argv) {
        struct doc_args a = { .verb = "gcctl doc canon" };
        _cleanup_free_ char *bytes = NULL;
        const char *path;
        size_t len = 0;
        int ex, i, r;

        i = gcctl_parse_options(argc, argv, canon_usage, NULL, doc_handle, &a, &ex);
        if (i < 0)
                return ex;
        r = one_operand(&a, argc, argv, i, "FILE", &path);
        if (r != 0)
                return r;

        r = doc_bytes(&a, path, &bytes, &len);
        if (r != 0)
                return r;
        if (write_all(stdout, bytes, len) < 0)
                return doc_fail(&a, NULL, "writing to standard output: %s", strerror(errno ?: EIO));
        return GCCTL_EXIT_OK;
}

/* --- digest --- */

static const char digest_usage[] =
        "Usage: gcctl doc digest [OPTIONS] FILE\n"
        "\n"
        "Print the lowercase hex digest of the canonical form (RFC 8785) of the\n"
        "JSON document in FILE ('-' for standard input).\n"
        "\n"
        "Options:\n"
        "  --alg ALG  sm3 (the default) or sha256\n"
        "  --raw      hash the bytes of FILE as they are, not its canonical form;\n"
        "             FILE need not be JSON then\n"
        "  --json     print {\"file\", \"alg\", \"input\", \"digest\"}\n"
        "  --help     this text\n"
        "\n"
        "Examples:\n"
        "  gcctl doc digest request.json\n"
        "  gcctl doc digest --alg sm3 --raw image.tar    (same as openssl dgst -sm3)\n";

static const struct option digest_options[] = {
        { "alg", required_argument, NULL, ARG_ALG },
        { "raw", no_argument, NULL, ARG_RAW },
        {}
};

static int verb_digest(int argc, char **argv) {
        struct doc_args a = { .verb = "gcctl doc digest", .alg = GC_HASH_SM3 };
        _cleanup_free_ char *bytes = NULL, *hex = NULL;
        uint8_t md[GC_HASH_MAX];
        const char *path;
        size_t len = 0;
        int ex, i, r;

        i = gcctl_parse_options(argc, argv, digest_usage, digest_options, doc_handle, &a, &ex);
        if (i < 0)
                return ex;
        r = one_operand(&a, argc, argv, i, "FILE", &path);
        if (r != 0)
                return r;

        r = doc_bytes(&a, path, &bytes, &len);
        if (r != 0)
                return r;
        r = crypto_digest(a.alg, bytes, len, md);
        if (r < 0)
                return doc_fail(&a, path, "%s digest failed: %s", crypto_hash_to_string(a.alg), strerror(-r));
        hex = crypto_hex(md, sizeof md);

        if (gcctl_global.json) {
                _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "file", path);
                cJSON_AddStringToObject(o, "alg", crypto_hash_to_string(a.alg));
                cJSON_AddStringToObject(o, "input", a.raw ? "raw" : "canonical");
                cJSON_AddStringToObject(o, "digest", hex);
                gcctl_print_json(o);
        } else
                printf("%s\n", hex);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- sign --- */

static const char sign_usage[] =
        "Usage: gcctl doc sign --key KEY.pem [OPTIONS] FILE\n"
        "\n"
        "Sign the canonical form (RFC 8785) of the JSON document in FILE ('-' for\n"
        "standard input) with the private key in KEY.pem (PKCS#8 or SEC1 PEM, as\n"
        "`openssl genpkey` writes it; not encrypted). The key decides the\n"
        "algorithm:\n"
        "  SM2      SM2 with SM3 and the distinguishing id 1234567812345678\n"
        "           (GM/T 0009); the signature is DER, SEQUENCE { r, s }\n"
        "  Ed25519  pure Ed25519 (RFC 8032); the signature is 64 bytes\n"
        "\n"
        "Options:\n"
        "  --key KEY.pem  the private key (required)\n"
        "  --out SIG      write the binary signature to SIG ('-' for standard\n"
        "                 output); without it the signature is printed in base64\n"
        "  --raw          sign the bytes of FILE as they are, not its canonical form\n"
        "  --json         print {\"file\", \"alg\", \"distid\", \"key_fingerprint\",\n"
        "                 \"signature\"} with the signature in base64\n"
        "  --help         this text\n"
        "\n"
        "The result verifies with `gcctl doc verify`, and for SM2 with\n"
        "  openssl pkeyutl -verify -pubin -inkey PUB.pem -rawin -in CANON \\\n"
        "      -digest sm3 -pkeyopt distid:1234567812345678 -sigfile SIG\n"
        "\n"
        "Example:\n"
        "  gcctl doc sign --key signer.pem --out request.sig request.json\n";

static const struct option sign_options[] = {
        { "key", required_argument, NULL, ARG_KEY },
        { "out", required_argument, NULL, ARG_OUT },
        { "raw", no_argument, NULL, ARG_RAW },
        {}
};

static int write_file(const char *path, const void *p, size_t n) {
        _cleanup_fclose_ FILE *f = NULL;

        if (strcmp(path, "-") == 0)
                return write_all(stdout, p, n) < 0 ? -EIO : 0;
        f = fopen(path, "we");
        if (!f)
                return -errno;
        if (write_all(f, p, n) < 0)
                return -EIO;
        if (fclose(TAKE_PTR(f)) != 0)
                return -errno;
        return 0;
}

static int verb_sign(int argc, char **argv) {
        struct doc_args a = { .verb = "gcctl doc sign" };
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *bytes = NULL, *b64 = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        const char *path;
        size_t len = 0, siglen = 0;
        char msg[192];
        int ex, i, r;

        i = gcctl_parse_options(argc, argv, sign_usage, sign_options, doc_handle, &a, &ex);
        if (i < 0)
                return ex;
        r = one_operand(&a, argc, argv, i, "FILE", &path);
        if (r != 0)
                return r;
        if (!a.key)
                return gcctl_usage_error(a.verb, "--key KEY.pem is required");

        r = crypto_key_load_private(a.key, &key);
        if (r == -EINVAL && crypto_key_load_public(a.key, &key) >= 0)
                return doc_fail(&a, a.key, "a public key; signing needs the private key");
        if (r < 0)
                return doc_fail(&a, a.key, "%s", key_error(r, true, msg, sizeof msg));

        r = doc_bytes(&a, path, &bytes, &len);
        if (r != 0)
                return r;

        r = crypto_sign(key, bytes, len, &sig, &siglen);
        if (r < 0)
                return doc_fail(&a, a.key, "signing failed: %s", r == -ENOKEY ? "not a private key" : strerror(-r));

        if (a.out) {
                r = write_file(a.out, sig, siglen);
                if (r < 0)
                        return doc_fail(&a, a.out, "%s", strerror(-r));
        }
        b64 = crypto_base64(sig, siglen);
        if (gcctl_global.json) {
                _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "file", path);
                cJSON_AddStringToObject(o, "input", a.raw ? "raw" : "canonical");
                json_add_key(o, key);
                cJSON_AddStringToObject(o, "signature", b64);
                if (a.out)
                        cJSON_AddStringToObject(o, "out", a.out);
                /* --out - put the binary signature on stdout already. */
                if (!a.out || strcmp(a.out, "-") != 0)
                        gcctl_print_json(o);
        } else if (!a.out)
                printf("%s\n", b64);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- verify --- */

static const char verify_usage[] =
        "Usage: gcctl doc verify --pubkey PUB.pem --sig SIG [OPTIONS] FILE\n"
        "\n"
        "Check a signature over the canonical form (RFC 8785) of the JSON\n"
        "document in FILE ('-' for standard input). SIG is a file holding the\n"
        "signature, binary or in base64 (as `gcctl doc sign` writes it either\n"
        "way). The key decides the algorithm: SM2 with SM3 and the\n"
        "distinguishing id 1234567812345678, or Ed25519.\n"
        "\n"
        "Prints \"valid\" and exits 0 for a good signature; prints \"invalid\n"
        "signature\" on standard error and exits 1 for a wrong one.\n"
        "\n"
        "Options:\n"
        "  --pubkey PUB.pem  the public key (PEM SubjectPublicKeyInfo; a private\n"
        "                    key file works too) (required)\n"
        "  --sig SIG         the signature file (required)\n"
        "  --raw             the signature covers the bytes of FILE as they are\n"
        "  --json            print {\"file\", \"valid\", \"alg\", \"distid\",\n"
        "                    \"key_fingerprint\"}; the exit status is the same\n"
        "  --help            this text\n"
        "\n"
        "Example:\n"
        "  gcctl doc verify --pubkey signer.pub.pem --sig request.sig request.json\n";

static const struct option verify_options[] = {
        { "pubkey", required_argument, NULL, ARG_PUBKEY },
        { "sig", required_argument, NULL, ARG_SIG },
        { "raw", no_argument, NULL, ARG_RAW },
        {}
};

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_base64_text(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/' || c == '=' || is_space(c);
}

/* A signature file: base64 text (line breaks allowed, as `openssl base64`
 * wraps), or else the binary signature itself. */
static int sig_decode(const char *data, size_t len, uint8_t **ret, size_t *ret_len) {
        bool text = true;

        if (len == 0)
                return -ENODATA;
        for (size_t i = 0; i < len && text; i++)
                text = is_base64_text(data[i]);

        if (text) {
                _cleanup_free_ char *compact = xmalloc(len + 1);
                size_t n = 0;
                for (size_t i = 0; i < len; i++)
                        if (!is_space(data[i]))
                                compact[n++] = data[i];
                compact[n] = '\0';
                if (n > 0 && crypto_unbase64(compact, ret, ret_len) >= 0)
                        return 0;
        }
        *ret = xmemdup(data, len);
        *ret_len = len;
        return 0;
}

static int load_verify_key(const char *path, EVP_PKEY **ret) {
        int r;

        r = crypto_key_load_public(path, ret);
        if (r != -EINVAL)
                return r;
        /* Not a public key PEM: perhaps the private key, whose public half will do. */
        r = crypto_key_load_private(path, ret);
        return r == -EOPNOTSUPP ? r : (r < 0 ? -EINVAL : r);
}

static int verb_verify(int argc, char **argv) {
        struct doc_args a = { .verb = "gcctl doc verify" };
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *bytes = NULL, *sigdata = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        const char *path;
        size_t len = 0, sigdata_len = 0, siglen = 0;
        char msg[192];
        int ex, i, r;

        i = gcctl_parse_options(argc, argv, verify_usage, verify_options, doc_handle, &a, &ex);
        if (i < 0)
                return ex;
        r = one_operand(&a, argc, argv, i, "FILE", &path);
        if (r != 0)
                return r;
        if (!a.pubkey)
                return gcctl_usage_error(a.verb, "--pubkey PUB.pem is required");
        if (!a.sig)
                return gcctl_usage_error(a.verb, "--sig SIG is required");
        if (strcmp(a.sig, "-") == 0 && strcmp(path, "-") == 0)
                return gcctl_usage_error(a.verb, "the signature and the document cannot both be standard input");

        r = load_verify_key(a.pubkey, &key);
        if (r < 0)
                return doc_fail(&a, a.pubkey, "%s", key_error(r, false, msg, sizeof msg));

        r = gc_read_file(a.sig, SIG_FILE_MAX, &sigdata, &sigdata_len);
        if (r < 0)
                return doc_fail(&a, a.sig, "%s", r == -EFBIG ? "too large for a signature file" : strerror(-r));
        r = sig_decode(sigdata, sigdata_len, &sig, &siglen);
        if (r < 0)
                return doc_fail(&a, a.sig, "empty signature file");

        r = doc_bytes(&a, path, &bytes, &len);
        if (r != 0)
                return r;

        r = crypto_verify(key, bytes, len, sig, siglen);
        if (r < 0 && r != -EBADMSG)
                return doc_fail(&a, path, "cannot check the signature: %s", strerror(-r));

        if (gcctl_global.json) {
                _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "file", path);
                cJSON_AddBoolToObject(o, "valid", r == 0);
                cJSON_AddStringToObject(o, "input", a.raw ? "raw" : "canonical");
                json_add_key(o, key);
                gcctl_print_json(o);
        } else if (r == 0)
                printf("valid\n");
        if (r == -EBADMSG)
                return doc_fail(&a, path, "invalid signature");
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- fingerprint --- */

static const char fingerprint_usage[] =
        "Usage: gcctl doc fingerprint [OPTIONS] KEY.pem\n"
        "\n"
        "Print the fingerprint of an SM2 or Ed25519 key: \"sha256:\" and the hex\n"
        "SHA-256 of its DER SubjectPublicKeyInfo. A private key and its public\n"
        "half have the same fingerprint; it equals\n"
        "  openssl pkey -pubin -in PUB.pem -outform DER | sha256sum\n"
        "\n"
        "Options:\n"
        "  --json     print {\"file\", \"type\", \"fingerprint\"}\n"
        "  --help     this text\n"
        "\n"
        "Example:\n"
        "  gcctl doc fingerprint signer.pub.pem\n";

static int verb_fingerprint(int argc, char **argv) {
        struct doc_args a = { .verb = "gcctl doc fingerprint" };
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *fp = NULL;
        enum gc_key_type t;
        const char *path;
        char msg[192];
        int ex, i, r;

        i = gcctl_parse_options(argc, argv, fingerprint_usage, NULL, doc_handle, &a, &ex);
        if (i < 0)
                return ex;
        r = one_operand(&a, argc, argv, i, "KEY.pem", &path);
        if (r != 0)
                return r;

        r = load_verify_key(path, &key);
        if (r < 0)
                return doc_fail(&a, path, "%s", key_error(r, false, msg, sizeof msg));
        r = crypto_key_fingerprint(key, &fp);
        if (r < 0)
                return doc_fail(&a, path, "fingerprint failed: %s", strerror(-r));
        r = crypto_key_type(key, &t);
        if (r < 0)
                return doc_fail(&a, path, "%s", key_error(r, false, msg, sizeof msg));

        if (gcctl_global.json) {
                _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "file", path);
                cJSON_AddStringToObject(o, "type", crypto_key_type_to_string(t));
                cJSON_AddStringToObject(o, "fingerprint", fp);
                gcctl_print_json(o);
        } else
                printf("%s\n", fp);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

const struct gcctl_verb gcctl_doc_verbs[] = {
        { "canon", "print the canonical (RFC 8785) bytes of a JSON document", canon_usage, verb_canon, NULL },
        { "digest", "SM3 or SHA-256 digest of a document's canonical bytes", digest_usage, verb_digest, NULL },
        { "sign", "sign a document's canonical bytes (SM2/SM3 or Ed25519)", sign_usage, verb_sign, NULL },
        { "verify", "check a signature over a document's canonical bytes", verify_usage, verb_verify, NULL },
        { "fingerprint", "fingerprint of an SM2 or Ed25519 key", fingerprint_usage, verb_fingerprint, NULL },
        {}
};
