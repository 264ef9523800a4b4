/* SPDX-License-Identifier: Apache-2.0 */
/* The offline verifier of sheet export bundles (sheet.h; R-LC3, R-SC4). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "jcs.h"
#include "sheet.h"

/* Keys made once: the three parties' SM2 keys, another SM2 key, three Ed25519 keys. */
static EVP_PKEY *sm2[_SHEET_PARTY_MAX], *sm2_other, *ed[_SHEET_PARTY_MAX];

static int setup(void **state) {
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++) {
                if (crypto_key_generate(GC_KEY_SM2, &sm2[p]) < 0 || crypto_key_generate(GC_KEY_ED25519, &ed[p]) < 0)
                        return -1;
        }
        return crypto_key_generate(GC_KEY_SM2, &sm2_other) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++) {
                EVP_PKEY_free(sm2[p]);
                EVP_PKEY_free(ed[p]);
        }
        EVP_PKEY_free(sm2_other);
        return 0;
}

/* A go-live document whose crypto names hash_alg and sig_alg. */
static cJSON *make_document(const char *hash_alg, const char *sig_alg) {
        cJSON *doc = cJSON_CreateObject(), *o, *vms, *vm;

        cJSON_AddStringToObject(doc, "format", SHEET_FORMAT);
        cJSON_AddNumberToObject(doc, "id", 7);
        cJSON_AddStringToObject(doc, "kind", "golive");
        cJSON_AddNumberToObject(doc, "revision", 1);
        cJSON_AddStringToObject(doc, "title", "政务云资源开通三方确认单");
        o = cJSON_AddObjectToObject(doc, "system");
        cJSON_AddNumberToObject(o, "id", 3);
        cJSON_AddStringToObject(o, "name", "协同办公OA");
        cJSON_AddStringToObject(o, "unit", "市xx局");
        o = cJSON_AddObjectToObject(doc, "crypto");
        cJSON_AddStringToObject(o, "hash", hash_alg);
        cJSON_AddStringToObject(o, "signature", sig_alg);
        vms = cJSON_AddArrayToObject(doc, "vms");
        vm = cJSON_CreateObject();
        cJSON_AddStringToObject(vm, "name", "市xx局-协同办公OA-应用服务器-01");
        cJSON_AddNumberToObject(vm, "vcpus", 4);
        cJSON_AddNumberToObject(vm, "memory_gib", 8);
        cJSON_AddItemToArray(vms, vm);
        o = cJSON_AddObjectToObject(doc, "parties");
        cJSON_AddStringToObject(o, "tenant", "市xx局");
        cJSON_AddStringToObject(o, "provider", "政务云服务商");
        cJSON_AddStringToObject(o, "authority", "市数据资源管理局");
        return doc;
}

static char *canonical(const cJSON *doc) {
        struct gc_buf b = GC_BUF_INIT(SHEET_DOCUMENT_MAX);

        assert_int_equal(jcs_serialize(doc, &b), 0);
        return gc_buf_steal(&b, NULL);
}

static char *hash_of(enum gc_hash_alg alg, const char *bytes) {
        uint8_t md[GC_HASH_MAX];
        _cleanup_free_ char *hex = NULL;

        assert_int_equal(crypto_digest(alg, bytes, strlen(bytes), md), 0);
        hex = crypto_hex(md, sizeof md);
        return xasprintf("%s:%s", crypto_hash_to_string(alg), hex);
}

/* A bundle of document bytes with their hash, no signatures yet. */
static cJSON *make_bundle(const char *bytes, enum gc_hash_alg alg) {
        cJSON *b = cJSON_CreateObject(), *sheet;
        _cleanup_free_ char *hash = hash_of(alg, bytes);

        cJSON_AddStringToObject(b, "format", SHEET_EXPORT_FORMAT);
        sheet = cJSON_AddObjectToObject(b, "sheet");
        cJSON_AddNumberToObject(sheet, "id", 7);
        cJSON_AddStringToObject(sheet, "kind", "golive");
        cJSON_AddStringToObject(b, "document", bytes);
        cJSON_AddStringToObject(b, "hash", hash);
        cJSON_AddArrayToObject(b, "signatures");
        return b;
}

/* party signs msg with key; the entry is appended and returned. */
static cJSON *add_signature(cJSON *bundle, const char *party, EVP_PKEY *key, const char *msg) {
        _cleanup_free_ char *pem = NULL, *fp = NULL, *b64 = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t siglen = 0;
        enum gc_key_type type;
        cJSON *s = cJSON_CreateObject();

        assert_int_equal(crypto_key_public_pem(key, &pem), 0);
        assert_int_equal(crypto_key_fingerprint(key, &fp), 0);
        assert_int_equal(crypto_key_type(key, &type), 0);
        assert_int_equal(crypto_sign(key, msg, strlen(msg), &sig, &siglen), 0);
        b64 = crypto_base64(sig, siglen);
        cJSON_AddStringToObject(s, "party", party);
        cJSON_AddStringToObject(s, "holder", "张三");
        cJSON_AddStringToObject(s, "fingerprint", fp);
        cJSON_AddStringToObject(s, "key_type", crypto_key_type_to_string(type));
        cJSON_AddStringToObject(s, "public_key", pem);
        cJSON_AddStringToObject(s, "signature", b64);
        cJSON_AddStringToObject(s, "time", "2026-12-01T08:00:00Z");
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(bundle, "signatures"), s);
        return s;
}

static const char *const party_names[] = { "tenant", "provider", "authority" };

/* The bundle of document bytes signed over those bytes by the given keys. */
static cJSON *signed_bundle(const char *bytes, enum gc_hash_alg alg, EVP_PKEY **keys) {
        cJSON *b = make_bundle(bytes, alg);

        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                add_signature(b, party_names[p], keys[p], bytes);
        return b;
}

static cJSON *complete_bundle(void) {
        _cleanup_(cJSON_Deletep) cJSON *doc = make_document("sm3", "sm2");
        _cleanup_free_ char *bytes = canonical(doc);
        return signed_bundle(bytes, GC_HASH_SM3, sm2);
}

static void assert_contains(const char *haystack, const char *needle) {
        if (!strstr(haystack, needle))
                fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void test_complete(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = complete_bundle();
        struct sheet_report rep;

        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), 0);
        assert_true(rep.complete);
        assert_true(rep.canonical);
        assert_true(rep.hash_matches);
        assert_true(rep.format_ok);
        assert_string_equal(rep.kind, "golive");
        assert_int_equal(rep.id, 7);
        assert_int_equal(rep.n_sigs, 3);
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++) {
                assert_true(rep.parties[p]);
                assert_int_equal(rep.sigs[p].party, p);
                assert_true(rep.sigs[p].valid);
                assert_true(rep.sigs[p].trusted);
                assert_string_equal(rep.sigs[p].problem, "");
                assert_string_equal(rep.sigs[p].holder, "张三");
                assert_string_equal(rep.sigs[p].key_type, "sm2");
        }
        assert_string_equal(rep.message, "");

        /* The order of the signatures does not matter. */
        cJSON *sigs = cJSON_GetObjectItemCaseSensitive(b, "signatures");
        cJSON *first = cJSON_DetachItemFromArray(sigs, 0);
        cJSON_AddItemToArray(sigs, first);
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), 0);
        assert_int_equal(rep.sigs[2].party, SHEET_TENANT);
}

/* Ed25519 where the document says so: the same checks pass. */
static void test_complete_ed25519(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = make_document("sha256", "ed25519");
        _cleanup_free_ char *bytes = canonical(doc);
        _cleanup_(cJSON_Deletep) cJSON *b = signed_bundle(bytes, GC_HASH_SHA256, ed);
        struct sheet_report rep;

        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), 0);
        assert_true(rep.complete);
        assert_string_equal(rep.sigs[0].key_type, "ed25519");
}

static void test_signature_over_other_bytes(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = make_document("sm3", "sm2");
        _cleanup_free_ char *bytes = canonical(doc);
        _cleanup_(cJSON_Deletep) cJSON *b = make_bundle(bytes, GC_HASH_SM3);
        _cleanup_free_ char *other = xasprintf("%s ", bytes);
        struct sheet_report rep;

        add_signature(b, "tenant", sm2[SHEET_TENANT], bytes);
        add_signature(b, "provider", sm2[SHEET_PROVIDER], other);
        add_signature(b, "authority", sm2[SHEET_AUTHORITY], bytes);
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_false(rep.complete);
        assert_true(rep.canonical);
        assert_true(rep.hash_matches);
        assert_true(rep.sigs[0].valid);
        assert_false(rep.sigs[1].valid);
        assert_true(rep.sigs[2].valid);
        assert_false(rep.parties[SHEET_PROVIDER]);
        assert_true(rep.parties[SHEET_TENANT]);
        assert_contains(rep.sigs[1].problem, "does not verify");
        assert_contains(rep.message, "provider (张三)");
        assert_contains(rep.message, "does not verify");
}

static void test_document_byte_changed(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = complete_bundle();
        cJSON *d = cJSON_GetObjectItemCaseSensitive(b, "document");
        char *at = strstr(d->valuestring, "\"vcpus\":4");
        struct sheet_report rep;

        assert_non_null(at);
        at[strlen("\"vcpus\":")] = '5';          /* still canonical, no longer what was hashed and signed */
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_true(rep.canonical);
        assert_false(rep.hash_matches);
        assert_false(rep.complete);
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++) {
                assert_false(rep.sigs[p].valid);
                assert_false(rep.parties[p]);
        }
        assert_contains(rep.message, "hash");
        assert_contains(rep.message, "is not the document's sm3 hash");
}

/* Hashed and signed, but not canonical: refused for that alone. */
static void test_not_canonical(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = make_document("sm3", "sm2");
        _cleanup_free_ char *text = cJSON_Print(doc);       /* white space, cJSON's member order */
        _cleanup_(cJSON_Deletep) cJSON *b = signed_bundle(text, GC_HASH_SM3, sm2);
        struct sheet_report rep;

        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_false(rep.canonical);
        assert_true(rep.hash_matches);
        assert_true(rep.format_ok);
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                assert_true(rep.sigs[p].valid);
        assert_false(rep.complete);
        assert_contains(rep.message, "not in canonical form");
}

static void test_party_twice(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = complete_bundle();
        const char *bytes = cJSON_GetObjectItemCaseSensitive(b, "document")->valuestring;
        struct sheet_report rep;

        add_signature(b, "tenant", sm2_other, bytes);
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_int_equal(rep.n_sigs, 4);
        assert_true(rep.sigs[3].valid);         /* a good signature, but the party's second */
        assert_contains(rep.sigs[3].problem, "second");
        assert_false(rep.complete);
        assert_contains(rep.message, "tenant signed twice");
}

static void test_party_missing(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = complete_bundle();
        struct sheet_report rep;

        cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(b, "signatures"), 2);
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_int_equal(rep.n_sigs, 2);
        assert_true(rep.parties[SHEET_TENANT]);
        assert_true(rep.parties[SHEET_PROVIDER]);
        assert_false(rep.parties[SHEET_AUTHORITY]);
        assert_false(rep.complete);
        assert_contains(rep.message, "authority");
        assert_contains(rep.message, "has not signed");
}

static void test_trusted(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = complete_bundle();
        char *fp[_SHEET_PARTY_MAX] = {};
        _cleanup_free_ char *other = NULL;
        struct sheet_report rep;

        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                assert_int_equal(crypto_key_fingerprint(sm2[p], &fp[p]), 0);
        assert_int_equal(crypto_key_fingerprint(sm2_other, &other), 0);

        const char *all[] = { fp[0], fp[1], fp[2] };
        assert_int_equal(sheet_bundle_verify(b, all, 3, &rep), 0);
        assert_true(rep.complete);

        const char *some[] = { other, fp[0], fp[1] };
        assert_int_equal(sheet_bundle_verify(b, some, 3, &rep), -EBADMSG);
        assert_true(rep.sigs[2].valid);
        assert_false(rep.sigs[2].trusted);
        assert_true(rep.sigs[0].trusted);
        assert_false(rep.parties[SHEET_AUTHORITY]);
        assert_false(rep.complete);
        assert_contains(rep.message, "authority");
        assert_contains(rep.message, "not one of the trusted keys");
        for (size_t p = 0; p < _SHEET_PARTY_MAX; p++)
                free(fp[p]);
}

static void test_fingerprint_mismatch(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = complete_bundle();
        cJSON *tenant = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "signatures"), 0);
        _cleanup_free_ char *fp = NULL;
        struct sheet_report rep;

        assert_int_equal(crypto_key_fingerprint(sm2_other, &fp), 0);
        cJSON_ReplaceItemInObjectCaseSensitive(tenant, "fingerprint", cJSON_CreateString(fp));
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_false(rep.sigs[0].valid);
        assert_false(rep.parties[SHEET_TENANT]);
        assert_false(rep.complete);
        assert_contains(rep.message, "tenant");
        assert_contains(rep.message, "is not that of its public_key");
}

static void test_wrong_algorithm(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = make_document("sm3", "sm2");
        _cleanup_free_ char *bytes = canonical(doc);
        _cleanup_(cJSON_Deletep) cJSON *b = make_bundle(bytes, GC_HASH_SM3);
        struct sheet_report rep;

        add_signature(b, "tenant", ed[SHEET_TENANT], bytes);   /* a good Ed25519 signature */
        add_signature(b, "provider", sm2[SHEET_PROVIDER], bytes);
        add_signature(b, "authority", sm2[SHEET_AUTHORITY], bytes);
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_false(rep.sigs[0].valid);
        assert_true(rep.sigs[1].valid);
        assert_false(rep.parties[SHEET_TENANT]);
        assert_false(rep.complete);
        assert_contains(rep.message, "tenant");
        assert_contains(rep.message, "ed25519");
        assert_contains(rep.message, "R-SC4");
}

/* The bundle's hash by an algorithm the document does not name. */
static void test_hash_algorithm(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = make_document("sm3", "sm2");
        _cleanup_free_ char *bytes = canonical(doc);
        _cleanup_(cJSON_Deletep) cJSON *b = signed_bundle(bytes, GC_HASH_SHA256, sm2);
        struct sheet_report rep;

        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_false(rep.hash_matches);
        assert_true(rep.sigs[0].valid);
        assert_false(rep.complete);
        assert_contains(rep.message, "crypto.hash is sm3");
}

/* Canonical, hashed and signed, but not a sheet. */
static void test_document_format(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *doc = make_document("sm3", "sm2");
        _cleanup_free_ char *bytes = NULL;
        struct sheet_report rep;

        cJSON_ReplaceItemInObjectCaseSensitive(doc, "format", cJSON_CreateString("gc-sheet/2"));
        bytes = canonical(doc);
        _cleanup_(cJSON_Deletep) cJSON *b = signed_bundle(bytes, GC_HASH_SM3, sm2);
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_false(rep.format_ok);
        assert_true(rep.canonical);
        assert_true(rep.hash_matches);
        assert_true(rep.sigs[0].valid);
        assert_false(rep.complete);
        assert_contains(rep.message, "gc-sheet/2");
}

static void test_not_a_bundle(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *b = complete_bundle();
        struct sheet_report rep;

        cJSON_ReplaceItemInObjectCaseSensitive(b, "format", cJSON_CreateString("gc-sheet-export/2"));
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EINVAL);
        assert_contains(rep.message, "format");

        cJSON_ReplaceItemInObjectCaseSensitive(b, "format", cJSON_CreateString(SHEET_EXPORT_FORMAT));
        cJSON_ReplaceItemInObjectCaseSensitive(b, "document", cJSON_CreateNumber(1));
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EINVAL);
        assert_contains(rep.message, "document");

        cJSON_ReplaceItemInObjectCaseSensitive(b, "document", cJSON_CreateString("{\"a\":1,\"a\":2}"));
        assert_int_equal(sheet_bundle_verify(b, NULL, 0, &rep), -EBADMSG);
        assert_contains(rep.message, "not a strict JSON object");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_complete),
                cmocka_unit_test(test_complete_ed25519),
                cmocka_unit_test(test_signature_over_other_bytes),
                cmocka_unit_test(test_document_byte_changed),
                cmocka_unit_test(test_not_canonical),
                cmocka_unit_test(test_party_twice),
                cmocka_unit_test(test_party_missing),
                cmocka_unit_test(test_trusted),
                cmocka_unit_test(test_fingerprint_mismatch),
                cmocka_unit_test(test_wrong_algorithm),
                cmocka_unit_test(test_hash_algorithm),
                cmocka_unit_test(test_document_format),
                cmocka_unit_test(test_not_a_bundle),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
