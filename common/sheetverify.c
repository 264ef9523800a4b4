/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Offline verification of a sheet export bundle (sheet.h): the document is
 * its own canonical form, the hash is the document's by the pack's
 * algorithm, every signature verifies with the key the bundle carries,
 * and the three parties (R-LC3, R-LC4, R-LC5) each signed once with a
 * trusted key of the algorithm the document names (R-SC4).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "jcs.h"
#include "json.h"
#include "sheet.h"
#include "utf8.h"

/* Copy a string into a report field, shortened on a UTF-8 boundary. */
static void copy_field(char *dst, size_t size, const char *src) {
        size_t n;

        if (!src)
                src = "";
        n = strlen(src);
        if (n >= size)
                n = utf8_truncate(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
}

/* The first problem wins: report->message is set once. */
static void problem(struct sheet_report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct sheet_report *rep, const char *fmt, ...) {
        va_list ap;

        if (rep->message[0])
                return;
        va_start(ap, fmt);
        vsnprintf(rep->message, sizeof rep->message, fmt, ap);
        va_end(ap);
}

/* A signature's problem, also the report's first problem. */
static void sig_problem(struct sheet_report *rep, struct sheet_signature_report *s, const char *who,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void sig_problem(struct sheet_report *rep, struct sheet_signature_report *s, const char *who,
                        const char *fmt, ...) {
        char text[sizeof s->problem];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        if (!s->problem[0])
                copy_field(s->problem, sizeof s->problem, text);
        problem(rep, "%s: %s", who, text);
}

static int not_a_bundle(struct sheet_report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int not_a_bundle(struct sheet_report *rep, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(rep->message, sizeof rep->message, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static bool is_trusted(const char *fingerprint, const char *const *trusted, size_t n_trusted) {
        if (!trusted || n_trusted == 0)
                return true;
        for (size_t i = 0; i < n_trusted; i++)
                if (trusted[i] && strcasecmp(trusted[i], fingerprint) == 0)
                        return true;
        return false;
}

/* The document's bytes against their canonical form. */
static void check_canonical(const cJSON *doc, const char *bytes, size_t len, struct sheet_report *rep) {
        struct gc_buf b = GC_BUF_INIT(SHEET_DOCUMENT_MAX * 2);
        size_t at = 0;

        if (jcs_serialize(doc, &b) < 0) {
                problem(rep, "document: cannot be put in canonical form (RFC 8785)");
                gc_buf_free(&b);
                return;
        }
        rep->canonical = b.len == len && memcmp(b.data, bytes, len) == 0;
        if (!rep->canonical) {
                while (at < len && at < b.len && b.data[at] == bytes[at])
                        at++;
                problem(rep, "document: not in canonical form (RFC 8785): it differs from its canonical bytes "
                        "at byte %zu, so the bytes signed are not the ones every party sees", at);
        }
        gc_buf_free(&b);
}

/* "hash": "<alg>:<hex>" of the bytes, with the algorithm the document names. */
static void check_hash(const cJSON *bundle, const cJSON *doc, const char *bytes, size_t len,
                       struct sheet_report *rep) {
        const char *hash = str_at(bundle, "hash");
        const char *doc_alg = str_at(json_get(doc, "crypto"), "hash");
        const char *colon = hash ? strchr(hash, ':') : NULL;
        _cleanup_free_ char *alg_name = NULL, *hex = NULL;
        enum gc_hash_alg alg;
        uint8_t md[GC_HASH_MAX];

        if (!colon) {
                problem(rep, "hash: \"%s\" is not <alg>:<hex>", hash ? hash : "");
                return;
        }
        alg_name = xstrndup(hash, colon - hash);
        if (crypto_hash_from_string(alg_name, &alg) < 0 || strcmp(alg_name, crypto_hash_to_string(alg)) != 0) {
                problem(rep, "hash: \"%s\" is not sm3 or sha256", alg_name);
                return;
        }
        if (crypto_digest(alg, bytes, len, md) < 0) {
                problem(rep, "hash: cannot compute %s", alg_name);
                return;
        }
        hex = crypto_hex(md, sizeof md);
        if (strcmp(colon + 1, hex) != 0) {
                problem(rep, "hash: \"%s\" is not the document's %s hash %s:%s", hash, alg_name, alg_name, hex);
                return;
        }
        /* R-SC4: the pack decides the algorithm, and the document records it. */
        if (!doc_alg || strcmp(doc_alg, alg_name) != 0) {
                problem(rep, "hash: the bundle's hash is %s, but the document's crypto.hash is %s (R-SC4)",
                        alg_name, doc_alg ? doc_alg : "missing");
                return;
        }
        rep->hash_matches = true;
}

/* One entry of "signatures"; returns whether it is valid and trusted. */
static bool check_signature(const cJSON *sig, const char *doc_sig_alg, const char *bytes, size_t len,
                            const char *const *trusted, size_t n_trusted, size_t index,
                            struct sheet_report *rep, struct sheet_signature_report *s) {
        const char *party = str_at(sig, "party"), *pem = str_at(sig, "public_key");
        const char *claimed_fp = str_at(sig, "fingerprint"), *claimed_type = str_at(sig, "key_type");
        const char *sig_b64 = str_at(sig, "signature");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *fp = NULL, *who = NULL;
        _cleanup_free_ uint8_t *raw = NULL;
        enum gc_key_type type;
        size_t rawlen = 0;
        int r;

        copy_field(s->holder, sizeof s->holder, str_at(sig, "holder"));
        copy_field(s->fingerprint, sizeof s->fingerprint, claimed_fp);
        copy_field(s->key_type, sizeof s->key_type, claimed_type);
        copy_field(s->time, sizeof s->time, str_at(sig, "time"));

        if (sheet_party_from_string(party, &s->party) < 0) {
                s->party = _SHEET_PARTY_MAX;    /* no party */
                who = xasprintf("signatures[%zu]", index);
                sig_problem(rep, s, who, "party \"%s\" is not tenant, provider or authority", party ? party : "");
                return false;
        }
        who = s->holder[0] ? xasprintf("%s (%s)", party, s->holder) : xstrdup(party);

        if (!pem || crypto_key_public_from_pem(pem, strlen(pem), &key) < 0) {
                sig_problem(rep, s, who, "public_key is not an SM2 or Ed25519 public key in PEM");
                return false;
        }
        r = crypto_key_fingerprint(key, &fp);
        if (r < 0 || crypto_key_type(key, &type) < 0) {
                sig_problem(rep, s, who, "cannot read the public key");
                return false;
        }
        copy_field(s->fingerprint, sizeof s->fingerprint, fp);
        if (!claimed_fp || strcmp(claimed_fp, fp) != 0) {
                sig_problem(rep, s, who, "fingerprint %s is not that of its public_key, %s",
                            claimed_fp ? claimed_fp : "(missing)", fp);
                return false;
        }
        if (!claimed_type || strcmp(claimed_type, crypto_key_type_to_string(type)) != 0) {
                sig_problem(rep, s, who, "key_type \"%s\" but the public key is %s",
                            claimed_type ? claimed_type : "", crypto_key_type_to_string(type));
                return false;
        }
        /* R-SC4: a signature of the algorithm the pack chose, and no other. */
        if (!doc_sig_alg || strcmp(doc_sig_alg, crypto_key_type_to_string(type)) != 0) {
                sig_problem(rep, s, who, "an %s signature, but the document's crypto.signature is %s (R-SC4)",
                            crypto_key_type_to_string(type), doc_sig_alg ? doc_sig_alg : "missing");
                return false;
        }
        if (!sig_b64 || crypto_unbase64(sig_b64, &raw, &rawlen) < 0) {
                sig_problem(rep, s, who, "signature is not base64");
                return false;
        }
        r = crypto_verify(key, bytes, len, raw, rawlen);
        if (r < 0) {
                sig_problem(rep, s, who, "the signature does not verify over the document's bytes%s",
                            r == -EBADMSG ? "" : " (it cannot be checked)");
                return false;
        }
        s->valid = true;

        s->trusted = is_trusted(fp, trusted, n_trusted);
        if (!s->trusted) {
                sig_problem(rep, s, who, "key %s is not one of the trusted keys", fp);
                return false;
        }
        return true;
}

int sheet_bundle_verify(const cJSON *bundle, const char *const *trusted, size_t n_trusted, struct sheet_report *rep) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        const char *format, *bytes, *doc_format, *doc_sig_alg;
        const cJSON *sigs, *sig;
        size_t len, index = 0, count[_SHEET_PARTY_MAX] = {};
        struct gc_error err = {};
        bool twice = false;

        *rep = (struct sheet_report) {};

        if (!cJSON_IsObject(bundle))
                return not_a_bundle(rep, "not a sheet export bundle: not a JSON object");
        format = str_at(bundle, "format");
        if (!format || strcmp(format, SHEET_EXPORT_FORMAT) != 0)
                return not_a_bundle(rep, "format: \"%s\" is not \"%s\"", format ? format : "",
                                    SHEET_EXPORT_FORMAT);
        bytes = str_at(bundle, "document");
        if (!bytes)
                return not_a_bundle(rep, "document: missing or not a string");
        len = strlen(bytes);
        if (len > SHEET_DOCUMENT_MAX)
                return not_a_bundle(rep, "document: larger than %d MiB", SHEET_DOCUMENT_MAX / (1024 * 1024));
        if (!cJSON_IsString(json_get(bundle, "hash")))
                return not_a_bundle(rep, "hash: missing or not a string");
        sigs = json_get(bundle, "signatures");
        if (!cJSON_IsArray(sigs))
                return not_a_bundle(rep, "signatures: missing or not an array");

        if (json_parse(bytes, len, &doc, &err) < 0 || !cJSON_IsObject(doc)) {
                problem(rep, "document: not a strict JSON object%s%s", err.field[0] ? " at " : "", err.field);
                return -EBADMSG;
        }
        copy_field(rep->kind, sizeof rep->kind, str_at(doc, "kind"));
        rep->id = int_at(doc, "id", 0);
        doc_format = str_at(doc, "format");
        rep->format_ok = doc_format && strcmp(doc_format, SHEET_FORMAT) == 0;
        if (!rep->format_ok)
                problem(rep, "document: format \"%s\" is not \"%s\"", doc_format ? doc_format : "", SHEET_FORMAT);

        check_canonical(doc, bytes, len, rep);
        check_hash(bundle, doc, bytes, len, rep);

        doc_sig_alg = str_at(json_get(doc, "crypto"), "signature");
        cJSON_ArrayForEach(sig, sigs) {
                struct sheet_signature_report *s;
                bool ok;

                if (rep->n_sigs >= ELEMENTSOF(rep->sigs)) {
                        problem(rep, "signatures: more than %zu", ELEMENTSOF(rep->sigs));
                        twice = true;
                        break;
                }
                s = &rep->sigs[rep->n_sigs++];
                ok = check_signature(sig, doc_sig_alg, bytes, len, trusted, n_trusted, index++, rep, s);
                if (s->party >= _SHEET_PARTY_MAX)
                        continue;
                if (++count[s->party] > 1) {
                        twice = true;
                        if (!s->problem[0])
                                copy_field(s->problem, sizeof s->problem, "a second signature of this party");
                        problem(rep, "%s signed twice: one signature per party", sheet_party_to_string(s->party));
                }
                if (ok)
                        rep->parties[s->party] = true;
        }

        rep->complete = rep->format_ok && rep->canonical && rep->hash_matches && !twice;
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                if (!rep->parties[p]) {
                        rep->complete = false;
                        if (count[p] == 0)
                                problem(rep, "%s (%s) has not signed", sheet_party_to_string(p),
                                        sheet_party_title(p));
                }
        if (!rep->complete) {
                problem(rep, "the sheet is not complete");
                return -EBADMSG;
        }
        return 0;
}
