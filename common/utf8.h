/* SPDX-License-Identifier: Apache-2.0 */
/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode one code point at s (n bytes available); returns its length, or -EILSEQ. */
int utf8_decode(const char *s, size_t n, uint32_t *ret_cp);
bool utf8_is_valid(const char *s, size_t n);
/* Number of code points in a valid string; -EILSEQ if invalid. */
long utf8_length(const char *s, size_t n);
/* The longest prefix of s of at most max bytes that ends on a sequence boundary. */
size_t utf8_truncate(const char *s, size_t max);
/* Compare two valid UTF-8 strings by their UTF-16 code units (RFC 8785 §3.2.3). */
int utf8_cmp_utf16(const char *a, size_t alen, const char *b, size_t blen);
