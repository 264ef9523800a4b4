/* SPDX-License-Identifier: Apache-2.0 */
/* Text for the HTML pages the project renders (sheet-html.c, report.c). */
#pragma once

#include "buf.h"

/* Append s as HTML text or an attribute value (SVG text too: the pages are
 * HTML5): the five specials as references; bytes that are not UTF-8 and
 * control characters other than tab and newline as U+FFFD, so that no
 * input can open a tag or break the page. -ENOBUFS past b's cap, with what
 * fitted before appended. */
int html_escape(struct gc_buf *b, const char *s);
