/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tri-party confirmation sheets (R-LC3 go-live, R-LC4 change, R-LC5 exit):
 * the document the tenant unit, the provider and the authority sign, the
 * export bundle a party verifies offline, and its printable HTML.
 *
 * The document is a JSON object; what is hashed and signed is its
 * canonical bytes (RFC 8785). The orchestrator produces it once, when the
 * stage is reached, and never changes it:
 *
 *   {"format":"gc-sheet/1",
 *    "id":7, "kind":"golive"|"change"|"exit", "revision":1,
 *    "title":"政务云资源开通三方确认单",
 *    "produced":"2026-12-01T00:00:00Z",
 *    "system":{"id","name","unit","pool","mlps_level","availability"},
 *    "request":{"id","kind","approval"}          the apply or change behind it
 *    "crypto":{"hash":"sm3","signature":"sm2"}    by the pack (R-SC4)
 *    "network":{"vni","cidr","gateway"}
 *    -- golive (R-LC3, R-LC2):
 *    "opening_time":"...",                       the trial's start: resources opened
 *    "trial":{"start","end","length","unit":"days"|"months","extended"}
 *    "billing":{"starts":"on_confirmation","rule":"R-LC3"}
 *    "vms":[{"name","role","host","addresses":["10.0.0.2"],"special_ports":[],
 *            "arch","vcpus","memory_gib","system_disk_gib","data_disk_gib",
 *            "recommended":null | {"vcpus","memory_gib","figures":...,"rule"},
 *            "golive":{"vcpus","memory_gib","system_disk_gib","data_disk_gib"}}]
 *    "totals":{"vms","vcpus","memory_gib","system_disk_gib","data_disk_gib"}
 *    -- change (R-LC4):
 *    "changes":[{"name","action":"add"|"reduce"|"release"|"adjust"|"create",
 *                "before":null | {"address","name","vcpus","memory_gib","system_disk_gib","data_disk_gib"},
 *                "after": null | {the same}}]
 *    "totals_before":{...}, "totals_after":{...}
 *    "parties":{"tenant":"<unit name>","provider":"<provider name>","authority":"<authority name>"}}
 *
 * A change's action per VM: "create" a VM the change added, "release" one
 * it removed, "add" (核增) where CPU, memory or a disk grew and none
 * shrank, "reduce" (核减) where one shrank and none grew, "adjust" where
 * both happened. VMs the change did not touch are not listed.
 *
 * The export bundle (`gcctl sheet export`, GET /v1/sheets/{id}/export):
 *
 *   {"format":"gc-sheet-export/1",
 *    "sheet":{"id","kind","system","state":"open"|"complete","completed"},
 *    "document":"<the canonical bytes, as a JSON string>",
 *    "hash":"sm3:<hex>",                          of those bytes
 *    "signatures":[{"party":"tenant"|"provider"|"authority","holder",
 *                   "fingerprint","key_type":"sm2"|"ed25519",
 *                   "public_key":"<PEM>","signature":"<base64>",
 *                   "time":"RFC 3339"}]}
 *
 * An SM2 signature is DER over the document's bytes with SM3 and the
 * distinguishing id 1234567812345678; an Ed25519 signature is the raw 64
 * bytes (crypto.h). Either checks with `openssl pkeyutl -verify -rawin`.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "buf.h"
#include "crypto.h"

#define SHEET_FORMAT "gc-sheet/1"
#define SHEET_EXPORT_FORMAT "gc-sheet-export/1"
#define SHEET_DOCUMENT_MAX (4 * 1024 * 1024)
#define SHEET_BUNDLE_MAX (8 * 1024 * 1024)

enum sheet_party {
        SHEET_TENANT,
        SHEET_PROVIDER,
        SHEET_AUTHORITY,
        _SHEET_PARTY_MAX,
};

const char *sheet_party_to_string(enum sheet_party p);
int sheet_party_from_string(const char *s, enum sheet_party *ret);
/* 使用单位（甲方） / 云服务商（乙方） / 管理单位（丙方）, as the seeds' forms say */
const char *sheet_party_title(enum sheet_party p);
/* "golive" -> "政务云资源开通三方确认单", "change" -> "政务云资源变更确认单", "exit" -> "政务云资源退出确认单" */
const char *sheet_kind_title(const char *kind);
/* "add" -> "核增", "reduce" -> "核减", "release" -> "释放", "adjust" -> "调整", "create" -> "新增" */
const char *sheet_action_title(const char *action);

/* The action of one VM between before and after (either may be NULL):
 * see above. NULL when nothing of CPU, memory or disks changed. */
const char *sheet_change_action(const cJSON *before, const cJSON *after);

struct sheet_signature_report {
        enum sheet_party party;
        char holder[256];
        char fingerprint[80];
        char key_type[16];
        char time[32];
        bool valid;                     /* the signature verifies over the document's bytes */
        bool trusted;                   /* its fingerprint is one of the trusted keys (true when none given) */
        char problem[160];              /* why not valid or not trusted */
};

struct sheet_report {
        char kind[16];
        long id;
        bool canonical;                 /* "document" is its own canonical form */
        bool hash_matches;              /* "hash" is the hash of "document" */
        bool format_ok;                 /* document "format" is gc-sheet/1 */
        struct sheet_signature_report sigs[_SHEET_PARTY_MAX * 2];
        size_t n_sigs;
        bool parties[_SHEET_PARTY_MAX]; /* a valid, trusted signature of each party */
        bool complete;                  /* all three, each valid and trusted, no party twice */
        char message[256];              /* the first problem, for the caller's error line */
};

/* Verify an export bundle offline. trusted: fingerprints ("sha256:<hex>")
 * the verifier accepts, NULL or n_trusted 0 to accept the keys the bundle
 * carries. Returns 0 when the bundle is intact and complete, -EBADMSG when
 * it verifies as far as the report shows but is not (a bad signature, a
 * party missing or twice, an untrusted key, a hash or canonical form that
 * does not match), -EINVAL for a document that is not a bundle. */
int sheet_bundle_verify(const cJSON *bundle, const char *const *trusted, size_t n_trusted, struct sheet_report *report);

/* The printable page of a bundle (UTF-8 HTML5, self-contained: inline CSS,
 * no scripts, no external resources), laid out like the seeds' forms:
 * Chinese headings, one row per VM, three signature blocks with signer,
 * key fingerprint and time (blank lines for a party that has not signed).
 * -EINVAL for a bundle whose document does not parse. */
int sheet_html(const cJSON *bundle, struct gc_buf *out);
