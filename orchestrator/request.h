/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing an approved request (schemas/request.json): the first two of
 * intake's checks, which need nothing but the bytes. Used by intake and by
 * the fuzz target tests/fuzz/fuzz-request.c.
 *
 *   request_parse         strict JSON, the envelope (schema version, kind,
 *                         approval fields), the approval time, the signature
 *                         decoded, the signed bytes (RFC 8785, without
 *                         approval.signature) and their digest
 *   request_check_schema  the whole document against its kind's schema
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "gc/error.h"

#define REQUEST_MAX (4u * 1024 * 1024)

struct request {
        cJSON *doc;
        const char *kind;               /* "apply", "change", "exit" */
        const char *approval_system;
        const char *approval_id;
        int64_t approval_time;          /* Unix seconds */
        const char *change_exception;   /* R-RQ3, NULL when absent */
        bool major_change_review;       /* R-RQ2 */
        uint8_t *signature;
        size_t signature_len;
        char *signed_bytes;             /* canonical, without approval.signature */
        size_t signed_len;
        char digest[80];                /* "sm3:<hex>" of signed_bytes */
};

int request_parse(const char *body, size_t len, struct request **ret, struct gc_error *err);
int request_check_schema(const struct request *req, struct gc_error *err);
void request_free(struct request *req);
static inline void request_freep(struct request **req) {
        request_free(*req);
}

/* RFC 3339 with an offset ("2026-11-20T09:30:00+08:00", fraction ignored). */
int request_parse_time(const char *s, int64_t *ret);
