/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libvirt backend of hv.h, through the libvirt C API only.
 *
 * A domain is ours when it carries the metadata element in GC_WIRE_XMLNS or
 * is named GC_WIRE_DOMAIN_PREFIX + its own UUID. Every operation by UUID
 * refuses any other domain with -EPERM and leaves it as it is; list and
 * stats see only domains with the metadata element.
 *
 * Disks: one raw, sparse (allocation 0) volume per disk in the pool given
 * to open, named gc-UUID-NAME.img, attached as <disk type='volume'> on vda,
 * vdb, ... in the order of the spec. Disks of 0 GiB are left out. An
 * encrypted spec makes new volumes in qemu's LUKS format instead, each with
 * a libvirt secret whose usage is the volume's path (hv.h); undefine removes
 * the secrets of the volumes it deletes.
 *
 * get reports the running domain's vCPUs and the memory of the persistent
 * definition (<currentMemory>): the balloon target that set_memory sets.
 * What a guest really holds is in stats (balloon.current), which needs a
 * guest balloon driver to follow the target.
 *
 * Libvirt's text comes back re-serialised by libxml2; hv_xml_walk() below
 * reads the few shapes used here (domain XML, capabilities, our metadata
 * element): elements, attributes, text, CDATA, comments, entity and
 * character references.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "gc/wire.h"

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "crypto.h"
#include "hv.h"
#include "log.h"
#include "utf8.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(virConnectPtr, virConnectClose)
DEFINE_TRIVIAL_CLEANUP_FUNC(virDomainPtr, virDomainFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virStoragePoolPtr, virStoragePoolFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virStorageVolPtr, virStorageVolFree)
DEFINE_TRIVIAL_CLEANUP_FUNC(virSecretPtr, virSecretFree)

#define HV_XML_MAX (1024 * 1024)        /* any XML this file writes or decodes */
#define HV_XML_DEPTH_MAX 64
#define HV_DEF_DISKS_MAX 16
#define HV_GIB (UINT64_C(1) << 30)
#define HV_SECRET_LEN 32                /* random bytes in a LUKS volume's passphrase */
#define HV_LUKS_CREATE_TRIES 5

struct hv {
        virConnectPtr conn;
        virStoragePoolPtr pool;
        char *pool_name;
        bool test_driver;               /* <domain type='test'> rather than 'qemu' */
};

/* --- errors --------------------------------------------------------------- */

static int hv_libvirt_errno_of(int code) {
        switch (code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_STORAGE_POOL:
        case VIR_ERR_NO_STORAGE_VOL:
        case VIR_ERR_NO_DOMAIN_METADATA:
        case VIR_ERR_NO_SECRET:
                return -ENOENT;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
                return -EOPNOTSUPP;
        case VIR_ERR_INVALID_ARG:
                return -EINVAL;
        case VIR_ERR_DOM_EXIST:
        case VIR_ERR_STORAGE_VOL_EXIST:
                return -EEXIST;
        case VIR_ERR_NO_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

static int hv_libvirt_errno(void) {
        return hv_libvirt_errno_of(virGetLastErrorCode());
}

struct hv_libvirt_error {
        int code;
        char message[512];
};

static struct hv_libvirt_error hv_libvirt_error_save(void) {
        struct hv_libvirt_error e = { .code = virGetLastErrorCode() };
        snprintf(e.message, sizeof e.message, "%s", virGetLastErrorMessage());
        return e;
}

static int hv_libvirt_fail_with(const struct hv_libvirt_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int hv_libvirt_fail_with(const struct hv_libvirt_error *e, const char *fmt, ...) {
        int r = hv_libvirt_errno_of(e->code);
        char what[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        return log_full_errno(r == -ENOENT ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING, r, "%s: %s", what, e->message);
}

/* One log line with libvirt's own message; returns its errno. The error is
 * taken before the arguments are evaluated: every libvirt call, even
 * virDomainGetName(), resets it. Callers expect "not found" often (lookups,
 * idempotent deletes): that goes to debug. */
#define hv_libvirt_fail(...)                                                    \
        ({                                                                      \
                const struct hv_libvirt_error _saved_ = hv_libvirt_error_save();\
                hv_libvirt_fail_with(&_saved_, __VA_ARGS__);                    \
        })

/* Libvirt would print every error to stderr by itself; the failing call's
 * wrapper logs it once, so here it only goes to debug. */
static void hv_libvirt_on_error(void *userdata, virErrorPtr err) {
        log_debug("libvirt: %s", err && err->message ? err->message : "(no message)");
}

/* --- XML out -------------------------------------------------------------- */

/* A document being written; the first failure sticks and later appends do nothing. */
struct hv_xml_out {
        struct gc_buf buf;
        int error;
};

static void hv_xml_out_done(struct hv_xml_out *o) {
        gc_buf_free(&o->buf);
}

static void hv_xml_raw(struct hv_xml_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hv_xml_raw(struct hv_xml_out *o, const char *fmt, ...) {
        char small[256];
        va_list ap;
        int n;

        if (o->error < 0)
                return;
        va_start(ap, fmt);
        n = vsnprintf(small, sizeof small, fmt, ap);
        va_end(ap);
        if (n < 0) {
                o->error = -EINVAL;
                return;
        }
        if ((size_t) n < sizeof small) {
                o->error = gc_buf_append(&o->buf, small, n);
                return;
        }
        _cleanup_free_ char *big = xmalloc((size_t) n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t) n + 1, fmt, ap);
        va_end(ap);
        o->error = gc_buf_append(&o->buf, big, n);
}

/* Escape UTF-8 text for element content or a quoted attribute. Refuses what
 * XML 1.0 cannot carry (invalid UTF-8, control characters but tab and line
 * feed, U+FFFE, U+FFFF). */
static int hv_xml_escape(struct gc_buf *b, const char *s) {
        size_t n = strlen(s);
        int r;

        for (size_t i = 0; i < n;) {
                const char *rep = NULL;
                uint32_t cp;
                int l = utf8_decode(s + i, n - i, &cp);
                if (l < 0)
                        return -EILSEQ;
                switch (cp) {
                case '<':  rep = "&lt;"; break;
                case '>':  rep = "&gt;"; break;
                case '&':  rep = "&amp;"; break;
                case '\'': rep = "&apos;"; break;
                case '"':  rep = "&quot;"; break;
                case '\r': rep = "&#13;"; break;
                case '\t':
                case '\n':
                        break;
                default:
                        if (cp < 0x20 || cp == 0xfffe || cp == 0xffff)
                                return -EINVAL;
                }
                r = rep ? gc_buf_append_str(b, rep) : gc_buf_append(b, s + i, l);
                if (r < 0)
                        return r;
                i += l;
        }
        return 0;
}

/* Whether XML can carry s as text (see hv_xml_escape). */
static bool hv_xml_valid(const char *s) {
        struct gc_buf b = GC_BUF_INIT(HV_XML_MAX);
        int r = hv_xml_escape(&b, s);
        gc_buf_free(&b);
        return r >= 0;
}

/* Append escaped text; field names the value in the log line if refused. */
static void hv_xml_text(struct hv_xml_out *o, const char *field, const char *s) {
        if (o->error < 0)
                return;
        int r = hv_xml_escape(&o->buf, s ? s : "");
        if (r == -EILSEQ || r == -EINVAL)
                r = log_warning_errno(-EINVAL, "%s: not valid UTF-8 text for XML (control character or bad sequence)", field);
        o->error = r;
}

static void hv_xml_element(struct hv_xml_out *o, const char *prefix, const char *name, const char *field, const char *text) {
        hv_xml_raw(o, "<%s%s>", prefix, name);
        hv_xml_text(o, field, text);
        hv_xml_raw(o, "</%s%s>", prefix, name);
}

/* The labels element. prefix "gc:" inside a domain definition; "" for
 * virDomainSetMetadata, which puts the element into the namespace itself
 * (and refuses a prefixed one). */
static void hv_xml_labels(struct hv_xml_out *o, const char *prefix, const struct hv_labels *l) {
        if (*prefix)
                hv_xml_raw(o, "<%svm xmlns:%s='%s'>", prefix, GC_WIRE_XMLNS_PREFIX, GC_WIRE_XMLNS);
        else
                hv_xml_raw(o, "<vm>");
        hv_xml_element(o, prefix, "unit", "labels.unit", l->unit);
        hv_xml_element(o, prefix, "system", "labels.system", l->system);
        hv_xml_element(o, prefix, "role", "labels.role", l->role);
        hv_xml_raw(o, "<%snumber>%u</%snumber>", prefix, l->number, prefix);
        hv_xml_raw(o, "<%srequest>%" PRId64 "</%srequest>", prefix, l->request, prefix);
        hv_xml_element(o, prefix, "pool", "labels.pool", l->pool);
        hv_xml_raw(o, "</%svm>", prefix);
}

/* --- XML in --------------------------------------------------------------- */

enum hv_xml_event {
        HV_XML_START,           /* body: the attributes */
        HV_XML_END,
        HV_XML_TEXT,            /* body: text, still escaped */
        HV_XML_CDATA,           /* body: text, literal */
};

struct hv_xml_node {
        enum hv_xml_event event;
        unsigned depth;         /* the root element is 0; its text is 1 */
        const char *name;       /* local name, without a prefix */
        size_t name_len;
        const char *body;
        size_t body_len;
};

static bool hv_xml_is(const struct hv_xml_node *n, enum hv_xml_event event, unsigned depth, const char *name) {
        return n->event == event && n->depth == depth &&
                strlen(name) == n->name_len && memcmp(n->name, name, n->name_len) == 0;
}

static bool hv_xml_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Calls cb for each event; cb returns 0 to go on, 1 to stop (success) or a
 * negative errno. Malformed input: -EBADMSG. */
static int hv_xml_walk(const char *xml, int (*cb)(const struct hv_xml_node *n, void *userdata), void *userdata) {
        const char *open_names[HV_XML_DEPTH_MAX];
        size_t open_lens[HV_XML_DEPTH_MAX];
        unsigned depth = 0;
        bool seen_root = false;
        const char *p = xml;
        int r;

        while (*p) {
                struct hv_xml_node n = { .depth = depth };
                const char *q;

                if (*p != '<') {
                        q = strchrnul(p, '<');
                        if (depth > 0) {
                                n.event = HV_XML_TEXT;
                                n.body = p;
                                n.body_len = q - p;
                                r = cb(&n, userdata);
                                if (r != 0)
                                        return r < 0 ? r : 0;
                        } else {
                                for (; p < q; p++)
                                        if (!hv_xml_is_space(*p))
                                                return -EBADMSG;
                        }
                        p = q;
                        continue;
                }
                if (strncmp(p, "<?", 2) == 0) {
                        q = strstr(p + 2, "?>");
                        if (!q)
                                return -EBADMSG;
                        p = q + 2;
                        continue;
                }
                if (strncmp(p, "<!--", 4) == 0) {
                        q = strstr(p + 4, "-->");
                        if (!q)
                                return -EBADMSG;
                        p = q + 3;
                        continue;
                }
                if (strncmp(p, "<![CDATA[", 9) == 0) {
                        q = strstr(p + 9, "]]>");
                        if (!q || depth == 0)
                                return -EBADMSG;
                        n.event = HV_XML_CDATA;
                        n.body = p + 9;
                        n.body_len = q - (p + 9);
                        r = cb(&n, userdata);
                        if (r != 0)
                                return r < 0 ? r : 0;
                        p = q + 3;
                        continue;
                }
                if (strncmp(p, "<!", 2) == 0) {
                        /* A document type declaration; an internal subset could
                         * define entities: not for us. */
                        q = strchr(p, '>');
                        if (!q || memchr(p, '[', q - p) || depth > 0 || seen_root)
                                return -EBADMSG;
                        p = q + 1;
                        continue;
                }

                bool closing = p[1] == '/';
                const char *name = p + 1 + closing;
                size_t name_len = strcspn(name, " \t\r\n/>");
                char quote = 0;

                if (name_len == 0)
                        return -EBADMSG;
                for (q = name + name_len; *q; q++) {
                        if (quote) {
                                if (*q == quote)
                                        quote = 0;
                        } else if (*q == '\'' || *q == '"')
                                quote = *q;
                        else if (*q == '>')
                                break;
                        else if (*q == '<')
                                return -EBADMSG;
                }
                if (*q != '>')
                        return -EBADMSG;

                bool empty = !closing && q[-1] == '/';
                const char *colon = memchr(name, ':', name_len);
                n.name = colon ? colon + 1 : name;
                n.name_len = name_len - (n.name - name);

                if (closing) {
                        if (depth == 0)
                                return -EBADMSG;
                        depth--;
                        if (open_lens[depth] != name_len || memcmp(open_names[depth], name, name_len) != 0)
                                return -EBADMSG;
                        n.event = HV_XML_END;
                        n.depth = depth;
                        r = cb(&n, userdata);
                        if (r != 0)
                                return r < 0 ? r : 0;
                } else {
                        if (depth == 0 && seen_root)
                                return -EBADMSG;
                        if (depth >= HV_XML_DEPTH_MAX)
                                return -EBADMSG;
                        seen_root = true;
                        n.event = HV_XML_START;
                        n.body = name + name_len;
                        n.body_len = q - n.body - (empty ? 1 : 0);
                        r = cb(&n, userdata);
                        if (r != 0)
                                return r < 0 ? r : 0;
                        if (empty) {
                                n.event = HV_XML_END;
                                n.body = NULL;
                                n.body_len = 0;
                                r = cb(&n, userdata);
                                if (r != 0)
                                        return r < 0 ? r : 0;
                        } else {
                                open_names[depth] = name;
                                open_lens[depth] = name_len;
                                depth++;
                        }
                }
                p = q + 1;
        }
        return depth == 0 && seen_root ? 0 : -EBADMSG;
}

static int hv_xml_put_utf8(struct gc_buf *b, uint32_t cp) {
        char u[4];
        size_t l;

        if (cp < 0x80) {
                u[0] = cp;
                l = 1;
        } else if (cp < 0x800) {
                u[0] = 0xc0 | (cp >> 6);
                u[1] = 0x80 | (cp & 0x3f);
                l = 2;
        } else if (cp < 0x10000) {
                u[0] = 0xe0 | (cp >> 12);
                u[1] = 0x80 | ((cp >> 6) & 0x3f);
                u[2] = 0x80 | (cp & 0x3f);
                l = 3;
        } else {
                u[0] = 0xf0 | (cp >> 18);
                u[1] = 0x80 | ((cp >> 12) & 0x3f);
                u[2] = 0x80 | ((cp >> 6) & 0x3f);
                u[3] = 0x80 | (cp & 0x3f);
                l = 4;
        }
        return gc_buf_append(b, u, l);
}

/* Decode the predefined entities and character references of s[0..n). */
static int hv_xml_unescape(struct gc_buf *b, const char *s, size_t n) {
        static const struct {
                const char *name;
                char c;
        } entities[] = {
                { "lt", '<' }, { "gt", '>' }, { "amp", '&' }, { "apos", '\'' }, { "quot", '"' },
        };
        int r;

        for (size_t i = 0; i < n;) {
                if (s[i] != '&') {
                        const char *amp = memchr(s + i, '&', n - i);
                        size_t j = amp ? (size_t) (amp - s) : n;
                        r = gc_buf_append(b, s + i, j - i);
                        if (r < 0)
                                return r;
                        i = j;
                        continue;
                }

                const char *ent = s + i + 1;
                const char *semi = memchr(ent, ';', n - i - 1);
                if (!semi)
                        return -EBADMSG;
                size_t len = semi - ent;
                bool done = false;

                for (size_t k = 0; k < ELEMENTSOF(entities); k++)
                        if (strlen(entities[k].name) == len && memcmp(ent, entities[k].name, len) == 0) {
                                r = gc_buf_append_char(b, entities[k].c);
                                if (r < 0)
                                        return r;
                                done = true;
                                break;
                        }
                if (!done) {
                        bool hex = len > 1 && ent[0] == '#' && ent[1] == 'x';
                        size_t start = hex ? 2 : 1;
                        uint32_t cp = 0;

                        if (len <= start || ent[0] != '#' || len - start > 8)
                                return -EBADMSG;
                        for (size_t k = start; k < len; k++) {
                                char c = ent[k];
                                unsigned d;
                                if (c >= '0' && c <= '9')
                                        d = c - '0';
                                else if (hex && c >= 'a' && c <= 'f')
                                        d = c - 'a' + 10;
                                else if (hex && c >= 'A' && c <= 'F')
                                        d = c - 'A' + 10;
                                else
                                        return -EBADMSG;
                                cp = cp * (hex ? 16 : 10) + d;
                                if (cp > 0x10ffff)
                                        return -EBADMSG;
                        }
                        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
                            (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
                                return -EBADMSG;
                        r = hv_xml_put_utf8(b, cp);
                        if (r < 0)
                                return r;
                }
                i = semi - s + 1;
        }
        return 0;
}

static int hv_xml_append_text(struct gc_buf *b, const struct hv_xml_node *n) {
        if (n->event == HV_XML_CDATA)
                return gc_buf_append(b, n->body, n->body_len);
        return hv_xml_unescape(b, n->body, n->body_len);
}

/* The decoded value of attribute key of a start tag; NULL if absent or malformed. */
static char *hv_xml_attr(const struct hv_xml_node *n, const char *key) {
        const char *p = n->body, *end = n->body + n->body_len;
        size_t key_len = strlen(key);

        for (;;) {
                while (p < end && hv_xml_is_space(*p))
                        p++;
                if (p >= end)
                        return NULL;
                const char *name = p;
                while (p < end && *p != '=' && !hv_xml_is_space(*p))
                        p++;
                size_t name_len = p - name;
                while (p < end && hv_xml_is_space(*p))
                        p++;
                if (p >= end || *p != '=')
                        return NULL;
                p++;
                while (p < end && hv_xml_is_space(*p))
                        p++;
                if (p >= end || (*p != '\'' && *p != '"'))
                        return NULL;
                char quote = *p++;
                const char *value = p;
                while (p < end && *p != quote)
                        p++;
                if (p >= end)
                        return NULL;
                if (name_len == key_len && memcmp(name, key, key_len) == 0) {
                        struct gc_buf b = GC_BUF_INIT(HV_XML_MAX);
                        if (hv_xml_unescape(&b, value, p - value) < 0) {
                                gc_buf_free(&b);
                                return NULL;
                        }
                        return gc_buf_steal(&b, NULL);
                }
                p++;
        }
}

/* --- names ---------------------------------------------------------------- */

/* 8-4-4-4-12 hex digits; written lower case (as libvirt prints UUIDs). */
static int hv_libvirt_uuid(const char *uuid, char ret[static HV_UUID_LEN + 1]) {
        char u[HV_UUID_LEN + 1];

        if (!uuid || strlen(uuid) != HV_UUID_LEN)
                goto bad;
        for (size_t i = 0; i < HV_UUID_LEN; i++) {
                char c = uuid[i];
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash != (c == '-'))
                        goto bad;
                if (dash || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
                        u[i] = c;
                else if (c >= 'A' && c <= 'F')
                        u[i] = c - 'A' + 'a';
                else
                        goto bad;
        }
        u[HV_UUID_LEN] = 0;
        memcpy(ret, u, sizeof u);
        return 0;
bad:
        return log_warning_errno(-EINVAL, "uuid \"%.64s\": not a UUID (8-4-4-4-12 hex digits)", uuid ? uuid : "");
}

/* Disk names become part of volume names: [a-z0-9_] only. */
static int hv_libvirt_disk_name(const char *name) {
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n >= sizeof(((struct hv_disk *) NULL)->name))
                goto bad;
        for (size_t i = 0; i < n; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
                        goto bad;
        return 0;
bad:
        return log_warning_errno(-EINVAL, "disk \"%.32s\": a disk name is 1 to %zu of [a-z0-9_]",
                                 name ? name : "", sizeof(((struct hv_disk *) NULL)->name) - 1);
}

static char *hv_libvirt_volume_name(const char *uuid, const char *disk) {
        return xasprintf("%s%s-%s.img", GC_WIRE_DOMAIN_PREFIX, uuid, disk);
}

/* The disk name in a volume name or path of ours ("/x/gc-UUID-data.img" ->
 * "data"); false if it is not one of this domain's volumes. */
static bool hv_libvirt_volume_disk(const char *volume, const char *uuid, char ret[static 16]) {
        const char *base = strrchr(volume, '/');
        base = base ? base + 1 : volume;

        size_t plen = strlen(GC_WIRE_DOMAIN_PREFIX);
        if (strncmp(base, GC_WIRE_DOMAIN_PREFIX, plen) != 0 ||
            strncmp(base + plen, uuid, HV_UUID_LEN) != 0 || base[plen + HV_UUID_LEN] != '-')
                return false;
        const char *disk = base + plen + HV_UUID_LEN + 1;
        size_t n = strlen(disk);
        if (n <= 4 || strcmp(disk + n - 4, ".img") != 0 || n - 4 >= 16)
                return false;
        memcpy(ret, disk, n - 4);
        ret[n - 4] = 0;
        return true;
}

static enum hv_state hv_libvirt_state(int state) {
        switch (state) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
                return HV_STATE_RUNNING;
        case VIR_DOMAIN_SHUTOFF:
                return HV_STATE_SHUTOFF;
        case VIR_DOMAIN_PAUSED:
                return HV_STATE_PAUSED;
        default:
                return HV_STATE_OTHER;
        }
}

/* --- domain lookups ------------------------------------------------------- */

/* 1 and the element's XML if the domain carries our metadata element, 0 if
 * not; negative errno. */
static int hv_libvirt_metadata(virDomainPtr dom, char **ret_xml) {
        char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, GC_WIRE_XMLNS, 0);

        if (!xml) {
                if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_METADATA)
                        return 0;
                return hv_libvirt_fail("metadata of %s", virDomainGetName(dom));
        }
        if (ret_xml)
                *ret_xml = xml;
        else
                free(xml);
        return 1;
}

/* 1 if the domain is ours (see the top of this file), 0 if not. */
static int hv_libvirt_is_ours(virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        const char *name;
        int r;

        r = hv_libvirt_metadata(dom, NULL);
        if (r != 0)
                return r;
        name = virDomainGetName(dom);
        if (!name || virDomainGetUUIDString(dom, uuid) < 0)
                return hv_libvirt_fail("name and UUID of a domain");
        return strncmp(name, GC_WIRE_DOMAIN_PREFIX, strlen(GC_WIRE_DOMAIN_PREFIX)) == 0 &&
                strcmp(name + strlen(GC_WIRE_DOMAIN_PREFIX), uuid) == 0;
}

/* Our domain with this UUID: -ENOENT if there is none, -EPERM if the domain
 * with this UUID is not ours. */
static int hv_libvirt_lookup(struct hv *hv, const char *uuid_in, char ret_uuid[static HV_UUID_LEN + 1], virDomainPtr *ret_dom) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        char uuid[HV_UUID_LEN + 1];
        int r;

        r = hv_libvirt_uuid(uuid_in, uuid);
        if (r < 0)
                return r;
        dom = virDomainLookupByUUIDString(hv->conn, uuid);
        if (!dom)
                return hv_libvirt_fail("domain %s", uuid);
        r = hv_libvirt_is_ours(dom);
        if (r < 0)
                return r;
        if (r == 0)
                return log_warning_errno(-EPERM, "domain %s (%s) was not created by govcloud: not touched",
                                         virDomainGetName(dom), uuid);
        memcpy(ret_uuid, uuid, sizeof uuid);
        *ret_dom = TAKE_PTR(dom);
        return 0;
}

static int hv_libvirt_is_active(virDomainPtr dom) {
        int r = virDomainIsActive(dom);
        if (r < 0)
                return hv_libvirt_fail("state of %s", virDomainGetName(dom));
        return r;
}

/* --- what the domain definition says --------------------------------------- */

struct hv_def_disk {
        char *pool, *volume, *file, *block;     /* the source: a pool's volume, a file or a block device */
        char *dev;                              /* the target ("vda") */
        char *secret;                           /* <encryption>'s secret UUID */
        bool is_disk;
};

struct hv_def {
        uint64_t current_memory_kib;            /* 0: not found */
        struct hv_def_disk disks[HV_DEF_DISKS_MAX];
        size_t n_disks;

        /* parse state */
        bool in_devices, in_disk, in_encryption, in_current_memory, memory_in_kib;
        struct hv_def_disk disk;
        struct gc_buf text;
};

static void hv_def_disk_done(struct hv_def_disk *d) {
        free(d->pool);
        free(d->volume);
        free(d->file);
        free(d->block);
        free(d->dev);
        free(d->secret);
        *d = (struct hv_def_disk) { 0 };
}

static void hv_def_done(struct hv_def *def) {
        for (size_t i = 0; i < def->n_disks; i++)
                hv_def_disk_done(&def->disks[i]);
        def->n_disks = 0;
        hv_def_disk_done(&def->disk);
        gc_buf_free(&def->text);
}

static int hv_def_on_node(const struct hv_xml_node *n, void *userdata) {
        struct hv_def *def = userdata;

        if (hv_xml_is(n, HV_XML_START, 1, "currentMemory")) {
                _cleanup_free_ char *unit = hv_xml_attr(n, "unit");
                def->in_current_memory = true;
                def->memory_in_kib = !unit || strcmp(unit, "KiB") == 0 || strcmp(unit, "k") == 0;
                gc_buf_reset(&def->text);
        } else if (def->in_current_memory && (n->event == HV_XML_TEXT || n->event == HV_XML_CDATA)) {
                return hv_xml_append_text(&def->text, n);
        } else if (hv_xml_is(n, HV_XML_END, 1, "currentMemory")) {
                char *end;
                def->in_current_memory = false;
                errno = 0;
                unsigned long long v = strtoull(def->text.data ? def->text.data : "", &end, 10);
                if (def->memory_in_kib && errno == 0 && end != def->text.data && *end == 0)
                        def->current_memory_kib = v;
        } else if (hv_xml_is(n, HV_XML_START, 1, "devices")) {
                def->in_devices = true;
        } else if (hv_xml_is(n, HV_XML_END, 1, "devices")) {
                def->in_devices = false;
        } else if (def->in_devices && hv_xml_is(n, HV_XML_START, 2, "disk")) {
                _cleanup_free_ char *device = hv_xml_attr(n, "device");
                hv_def_disk_done(&def->disk);
                def->in_disk = true;
                def->disk.is_disk = !device || strcmp(device, "disk") == 0;
        } else if (def->in_disk && hv_xml_is(n, HV_XML_START, 3, "source")) {
                free(def->disk.pool);
                free(def->disk.volume);
                free(def->disk.file);
                free(def->disk.block);
                def->disk.pool = hv_xml_attr(n, "pool");
                def->disk.volume = hv_xml_attr(n, "volume");
                def->disk.file = hv_xml_attr(n, "file");
                def->disk.block = hv_xml_attr(n, "dev");
        } else if (def->in_disk && n->event == HV_XML_START && (n->depth == 3 || n->depth == 4) &&
                   hv_xml_is(n, HV_XML_START, n->depth, "encryption")) {
                /* Under <disk> (the older place) or under its <source>. */
                def->in_encryption = true;
        } else if (def->in_encryption && n->event == HV_XML_END && hv_xml_is(n, HV_XML_END, n->depth, "encryption")) {
                def->in_encryption = false;
        } else if (def->in_encryption && n->event == HV_XML_START && hv_xml_is(n, HV_XML_START, n->depth, "secret")) {
                free(def->disk.secret);
                def->disk.secret = hv_xml_attr(n, "uuid");
        } else if (def->in_disk && hv_xml_is(n, HV_XML_START, 3, "target")) {
                free(def->disk.dev);
                def->disk.dev = hv_xml_attr(n, "dev");
        } else if (def->in_disk && hv_xml_is(n, HV_XML_END, 2, "disk")) {
                def->in_disk = false;
                def->in_encryption = false;
                if (def->disk.is_disk && def->n_disks < HV_DEF_DISKS_MAX) {
                        def->disks[def->n_disks++] = def->disk;
                        def->disk = (struct hv_def_disk) { 0 };
                } else
                        hv_def_disk_done(&def->disk);
        }
        return 0;
}

/* The persistent definition (the live one for a transient domain). */
static int hv_libvirt_def(virDomainPtr dom, struct hv_def *ret) {
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        struct hv_def def = { .text = GC_BUF_INIT(HV_XML_MAX) };
        int r;

        if (!xml)
                return hv_libvirt_fail("definition of %s", virDomainGetName(dom));
        r = hv_xml_walk(xml, hv_def_on_node, &def);
        gc_buf_free(&def.text);
        if (r < 0) {
                hv_def_done(&def);
                return log_warning_errno(r, "definition of %s: cannot read its XML", virDomainGetName(dom));
        }
        *ret = def;
        return 0;
}

/* The volume behind a disk of the definition. */
static int hv_libvirt_def_volume(struct hv *hv, const struct hv_def_disk *d, virStorageVolPtr *ret) {
        virStorageVolPtr vol;

        if (d->volume) {
                _cleanup_(virStoragePoolFreep) virStoragePoolPtr other = NULL;
                virStoragePoolPtr pool = hv->pool;
                if (d->pool && strcmp(d->pool, hv->pool_name) != 0) {
                        other = virStoragePoolLookupByName(hv->conn, d->pool);
                        if (!other)
                                return hv_libvirt_fail("storage pool %s", d->pool);
                        pool = other;
                }
                vol = virStorageVolLookupByName(pool, d->volume);
                if (!vol)
                        return hv_libvirt_fail("volume %s", d->volume);
        } else if (d->file || d->block) {
                const char *path = d->file ? d->file : d->block;
                vol = virStorageVolLookupByPath(hv->conn, path);
                if (!vol)
                        return hv_libvirt_fail("volume %s", path);
        } else
                return -ENOENT;
        *ret = vol;
        return 0;
}

/* --- pools, volumes and secrets -------------------------------------------- */

struct hv_pool_parse {
        bool in_target, in_path;
        struct gc_buf text;
};

static int hv_pool_on_node(const struct hv_xml_node *n, void *userdata) {
        struct hv_pool_parse *p = userdata;

        if (hv_xml_is(n, HV_XML_START, 1, "target"))
                p->in_target = true;
        else if (hv_xml_is(n, HV_XML_END, 1, "target"))
                p->in_target = false;
        else if (p->in_target && hv_xml_is(n, HV_XML_START, 2, "path"))
                p->in_path = true;
        else if (p->in_path && (n->event == HV_XML_TEXT || n->event == HV_XML_CDATA))
                return hv_xml_append_text(&p->text, n);
        else if (p->in_path && hv_xml_is(n, HV_XML_END, 2, "path"))
                return 1;
        return 0;
}

/* <pool><target><path>: the directory (or device directory) of its volumes. */
static int hv_libvirt_pool_dir(virStoragePoolPtr pool, char **ret) {
        _cleanup_free_ char *xml = virStoragePoolGetXMLDesc(pool, 0);
        struct hv_pool_parse p = { .text = GC_BUF_INIT(4096) };
        int r;

        if (!xml)
                return hv_libvirt_fail("definition of storage pool %s", virStoragePoolGetName(pool));
        r = hv_xml_walk(xml, hv_pool_on_node, &p);
        if (r >= 0 && (!p.text.data || p.text.len == 0 || p.text.data[0] != '/'))
                r = -EBADMSG;
        if (r < 0) {
                gc_buf_free(&p.text);
                return log_warning_errno(r, "storage pool %s: no target path in its definition",
                                         virStoragePoolGetName(pool));
        }
        *ret = gc_buf_steal(&p.text, NULL);
        return 0;
}

struct hv_vol_parse {
        char format[16];
        char *secret;
        bool luks;                      /* <encryption format='luks'>: qemu's LUKS, whatever <format> says */
        bool in_target, in_encryption;
};

static int hv_vol_on_node(const struct hv_xml_node *n, void *userdata) {
        struct hv_vol_parse *p = userdata;

        if (hv_xml_is(n, HV_XML_START, 1, "target"))
                p->in_target = true;
        else if (hv_xml_is(n, HV_XML_END, 1, "target"))
                p->in_target = false;
        else if (p->in_target && hv_xml_is(n, HV_XML_START, 2, "format")) {
                _cleanup_free_ char *type = hv_xml_attr(n, "type");
                if (type && strlen(type) < sizeof p->format)
                        memcpy(p->format, type, strlen(type) + 1);
        } else if (p->in_target && hv_xml_is(n, HV_XML_START, 2, "encryption")) {
                _cleanup_free_ char *format = hv_xml_attr(n, "format");
                p->in_encryption = true;
                p->luks = format && strcmp(format, "luks") == 0;
        }
        else if (hv_xml_is(n, HV_XML_END, 2, "encryption"))
                p->in_encryption = false;
        else if (p->in_encryption && hv_xml_is(n, HV_XML_START, 3, "secret") && !p->secret)
                p->secret = hv_xml_attr(n, "uuid");
        return 0;
}

/* The volume's format ("raw", "qcow2", "luks") and, for an encrypted one,
 * its secret's UUID as the volume's definition gives them. */
static int hv_libvirt_vol_parse(virStorageVolPtr vol, struct hv_vol_parse *ret) {
        _cleanup_free_ char *xml = virStorageVolGetXMLDesc(vol, 0);
        struct hv_vol_parse p = { 0 };
        int r;

        if (!xml)
                return hv_libvirt_fail("definition of volume %s", virStorageVolGetName(vol));
        r = hv_xml_walk(xml, hv_vol_on_node, &p);
        if (r < 0) {
                free(p.secret);
                return log_warning_errno(r, "volume %s: cannot read its definition", virStorageVolGetName(vol));
        }
        /* libvirt's dir pools call a LUKS file "raw" with an <encryption>. */
        if (p.luks)
                snprintf(p.format, sizeof p.format, "luks");
        *ret = p;
        return 0;
}

/* The secret whose usage is the volume at path: its UUID, or NULL (none,
 * or a driver without secrets). */
static char *hv_libvirt_secret_by_usage(struct hv *hv, const char *path) {
        _cleanup_(virSecretFreep) virSecretPtr sec = virSecretLookupByUsage(hv->conn, VIR_SECRET_USAGE_TYPE_VOLUME, path);
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (!sec || virSecretGetUUIDString(sec, uuid) < 0)
                return NULL;
        return xstrdup(uuid);
}

/* A secret for a new LUKS volume at path: the one that names it already
 * (left by an interrupted define, whose volume was never made) or a new
 * one; in both cases with a fresh random value. */
static int hv_libvirt_secret_make(struct hv *hv, const char *path, char ret_uuid[static VIR_UUID_STRING_BUFLEN],
                                  bool *ret_made) {
        _cleanup_(virSecretFreep) virSecretPtr sec = NULL;
        _cleanup_(hv_xml_out_done) struct hv_xml_out o = { .buf = GC_BUF_INIT(HV_XML_MAX) };
        uint8_t value[HV_SECRET_LEN];
        bool made = false;
        char *hex;
        int r;

        sec = virSecretLookupByUsage(hv->conn, VIR_SECRET_USAGE_TYPE_VOLUME, path);
        if (!sec) {
                r = hv_libvirt_errno();
                if (r == -EOPNOTSUPP)
                        return log_warning_errno(r, "encrypted volume %s: this hypervisor has no libvirt secrets to hold "
                                                 "its passphrase (%s)", path, virGetLastErrorMessage());
                if (r != -ENOENT)
                        return hv_libvirt_fail("secret of volume %s", path);
                /* private: libvirt never gives the value out again. */
                hv_xml_raw(&o, "<secret ephemeral='no' private='yes'><description>govcloud: passphrase of ");
                hv_xml_text(&o, "volume", path);
                hv_xml_raw(&o, "</description><usage type='volume'><volume>");
                hv_xml_text(&o, "volume", path);
                hv_xml_raw(&o, "</volume></usage></secret>");
                if (o.error < 0)
                        return log_warning_errno(o.error, "encrypted volume %s: cannot write its secret's definition", path);
                sec = virSecretDefineXML(hv->conn, o.buf.data, 0);
                if (!sec) {
                        r = hv_libvirt_errno();
                        if (r == -EOPNOTSUPP)
                                return log_warning_errno(r, "encrypted volume %s: this hypervisor has no libvirt secrets "
                                                         "to hold its passphrase (%s)", path, virGetLastErrorMessage());
                        return hv_libvirt_fail("define the secret of volume %s", path);
                }
                made = true;
        }
        if (virSecretGetUUIDString(sec, ret_uuid) < 0) {
                r = hv_libvirt_fail("UUID of the secret of volume %s", path);
                goto undo;
        }
        r = crypto_random(value, sizeof value);
        if (r < 0) {
                log_warning_errno(r, "encrypted volume %s: no randomness for its passphrase", path);
                goto undo;
        }
        /* qemu takes a passphrase only as UTF-8 text: the bytes in hex. */
        hex = crypto_hex(value, sizeof value);
        OPENSSL_cleanse(value, sizeof value);
        r = virSecretSetValue(sec, (const unsigned char *) hex, strlen(hex), 0);
        OPENSSL_cleanse(hex, strlen(hex));
        free(hex);
        if (r < 0) {
                r = hv_libvirt_fail("set the secret of volume %s", path);
                goto undo;
        }
        *ret_made = made;
        return 0;
undo:
        if (made)
                (void) virSecretUndefine(sec);
        return r;
}

static int hv_libvirt_secret_undefine(struct hv *hv, const char *secret_uuid) {
        _cleanup_(virSecretFreep) virSecretPtr sec = NULL;

        if (!secret_uuid || strlen(secret_uuid) != HV_UUID_LEN)
                return log_warning_errno(-EINVAL, "secret \"%.64s\": not a UUID", secret_uuid ? secret_uuid : "");
        sec = virSecretLookupByUUIDString(hv->conn, secret_uuid);
        if (!sec)
                return hv_libvirt_fail("secret %s", secret_uuid);
        if (virSecretUndefine(sec) < 0)
                return hv_libvirt_fail("undefine secret %s", secret_uuid);
        log_debug("undefined secret %s", secret_uuid);
        return 0;
}

/* --- labels read back ------------------------------------------------------ */

struct hv_labels_parse {
        struct hv_labels labels;
        char field[16];
        bool in_field;
        struct gc_buf text;
};

static int hv_labels_on_node(const struct hv_xml_node *n, void *userdata) {
        struct hv_labels_parse *p = userdata;

        if (n->event == HV_XML_START && n->depth == 1) {
                p->in_field = n->name_len < sizeof p->field;
                if (p->in_field) {
                        memcpy(p->field, n->name, n->name_len);
                        p->field[n->name_len] = 0;
                }
                gc_buf_reset(&p->text);
        } else if (p->in_field && n->depth == 2 && (n->event == HV_XML_TEXT || n->event == HV_XML_CDATA)) {
                return hv_xml_append_text(&p->text, n);
        } else if (p->in_field && n->event == HV_XML_END && n->depth == 1) {
                const char *t = p->text.data ? p->text.data : "";
                char **s = NULL;

                p->in_field = false;
                if (strcmp(p->field, "unit") == 0)
                        s = &p->labels.unit;
                else if (strcmp(p->field, "system") == 0)
                        s = &p->labels.system;
                else if (strcmp(p->field, "role") == 0)
                        s = &p->labels.role;
                else if (strcmp(p->field, "pool") == 0)
                        s = &p->labels.pool;
                if (s) {
                        free(*s);
                        *s = xstrdup(t);
                        return 0;
                }

                char *end;
                errno = 0;
                if (strcmp(p->field, "number") == 0) {
                        unsigned long v = strtoul(t, &end, 10);
                        if (errno != 0 || end == t || *end != 0 || t[0] == '-' || v > UINT_MAX)
                                log_debug("labels: number \"%.32s\" is not a number", t);
                        else
                                p->labels.number = v;
                } else if (strcmp(p->field, "request") == 0) {
                        long long v = strtoll(t, &end, 10);
                        if (errno != 0 || end == t || *end != 0)
                                log_debug("labels: request \"%.32s\" is not a number", t);
                        else
                                p->labels.request = v;
                }
        }
        return 0;
}

static int hv_labels_parse(const char *xml, struct hv_labels *ret) {
        struct hv_labels_parse p = { .text = GC_BUF_INIT(HV_XML_MAX) };
        int r;

        r = hv_xml_walk(xml, hv_labels_on_node, &p);
        gc_buf_free(&p.text);
        if (r < 0) {
                hv_labels_done(&p.labels);
                return r;
        }
        *ret = p.labels;
        return 0;
}

static void hv_labels_fill_empty(struct hv_labels *l) {
        char **fields[] = { &l->unit, &l->system, &l->role, &l->pool };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (!*fields[i])
                        *fields[i] = xstrdup("");
}

/* --- open, close, capacity ------------------------------------------------- */

static void hv_libvirt_close(struct hv *hv) {
        if (!hv)
                return;
        if (hv->pool)
                virStoragePoolFree(hv->pool);
        if (hv->conn)
                virConnectClose(hv->conn);
        free(hv->pool_name);
        free(hv);
}

static int hv_libvirt_open(const char *uri, const char *pool_name, struct hv **ret) {
        _cleanup_(virConnectClosep) virConnectPtr conn = NULL;
        _cleanup_(virStoragePoolFreep) virStoragePoolPtr pool = NULL;
        const char *type;
        int r;

        if (!pool_name || !*pool_name)
                return log_warning_errno(-EINVAL, "hypervisor: no storage pool named");

        virSetErrorFunc(NULL, hv_libvirt_on_error);

        conn = virConnectOpen(uri);
        if (!conn)
                return hv_libvirt_fail("connect to %s", uri ? uri : "(default)");
        virConnSetErrorFunc(conn, NULL, hv_libvirt_on_error);

        type = virConnectGetType(conn);
        if (!type)
                return hv_libvirt_fail("hypervisor type of %s", uri ? uri : "(default)");

        pool = virStoragePoolLookupByName(conn, pool_name);
        if (!pool)
                return log_warning_errno(hv_libvirt_errno(), "storage pool %s of %s: %s",
                                         pool_name, uri ? uri : "(default)", virGetLastErrorMessage());
        r = virStoragePoolIsActive(pool);
        if (r < 0)
                return hv_libvirt_fail("storage pool %s", pool_name);
        if (r == 0)
                return log_warning_errno(-EIO, "storage pool %s of %s: not active", pool_name, uri ? uri : "(default)");

        struct hv *hv = xnew(struct hv, 1);
        hv->conn = TAKE_PTR(conn);
        hv->pool = TAKE_PTR(pool);
        hv->pool_name = xstrdup(pool_name);
        hv->test_driver = strcasecmp(type, "test") == 0;
        *ret = hv;
        return 0;
}

struct hv_caps_parse {
        bool in_host, in_cpu, in_arch, done;
        struct gc_buf text;
};

static int hv_caps_on_node(const struct hv_xml_node *n, void *userdata) {
        struct hv_caps_parse *p = userdata;

        if (hv_xml_is(n, HV_XML_START, 1, "host"))
                p->in_host = true;
        else if (hv_xml_is(n, HV_XML_END, 1, "host"))
                p->in_host = false;
        else if (p->in_host && hv_xml_is(n, HV_XML_START, 2, "cpu"))
                p->in_cpu = true;
        else if (p->in_host && hv_xml_is(n, HV_XML_END, 2, "cpu"))
                p->in_cpu = false;
        else if (p->in_cpu && hv_xml_is(n, HV_XML_START, 3, "arch"))
                p->in_arch = true;
        else if (p->in_arch && (n->event == HV_XML_TEXT || n->event == HV_XML_CDATA))
                return hv_xml_append_text(&p->text, n);
        else if (p->in_arch && hv_xml_is(n, HV_XML_END, 3, "arch")) {
                p->done = true;
                return 1;
        }
        return 0;
}

/* <capabilities><host><cpu><arch> */
static int hv_libvirt_host_arch(struct hv *hv, char ret[static 16]) {
        _cleanup_free_ char *caps = virConnectGetCapabilities(hv->conn);
        struct hv_caps_parse p = { .text = GC_BUF_INIT(4096) };
        int r;

        if (!caps)
                return hv_libvirt_fail("capabilities");
        r = hv_xml_walk(caps, hv_caps_on_node, &p);
        if (r >= 0 && (!p.done || !p.text.data || p.text.len == 0 || p.text.len >= 16))
                r = -EBADMSG;
        if (r < 0) {
                gc_buf_free(&p.text);
                return log_warning_errno(r, "capabilities: no host architecture");
        }
        memcpy(ret, p.text.data, p.text.len + 1);
        gc_buf_free(&p.text);
        return 0;
}

static int hv_libvirt_capacity(struct hv *hv, struct hv_capacity *ret) {
        struct hv_capacity c = { 0 };
        virStoragePoolInfo pool_info;
        virNodeInfo node;
        int r;

        if (virNodeGetInfo(hv->conn, &node) < 0)
                return hv_libvirt_fail("node information");
        if (virStoragePoolGetInfo(hv->pool, &pool_info) < 0)
                return hv_libvirt_fail("storage pool %s", hv->pool_name);
        r = hv_libvirt_host_arch(hv, c.arch);
        if (r < 0)
                return r;
        c.vcpus = node.cpus;
        c.memory_mib = node.memory / 1024;
        c.storage_gib = pool_info.capacity / HV_GIB;
        *ret = c;
        return 0;
}

/* --- define ---------------------------------------------------------------- */

static int hv_libvirt_check_spec(const struct hv_spec *spec) {
        int r;

        if (spec->vcpus == 0 || (spec->max_vcpus && spec->vcpus > spec->max_vcpus))
                return log_warning_errno(-EINVAL, "vcpus: %u is not within 1 and max_vcpus %u", spec->vcpus, spec->max_vcpus);
        if (spec->memory_mib == 0 || (spec->max_memory_mib && spec->memory_mib > spec->max_memory_mib))
                return log_warning_errno(-EINVAL, "memory_mib: %" PRIu64 " is not within 1 and max_memory_mib %" PRIu64,
                                         spec->memory_mib, spec->max_memory_mib);
        if (spec->n_disks > HV_DISKS_MAX)
                return log_warning_errno(-EINVAL, "disks: %zu disks, at most %d", spec->n_disks, HV_DISKS_MAX);
        for (size_t i = 0; i < spec->n_disks; i++) {
                r = hv_libvirt_disk_name(spec->disks[i].name);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(spec->disks[i].name, spec->disks[j].name) == 0)
                                return log_warning_errno(-EINVAL, "disks[%zu].name: \"%s\" appears twice", i, spec->disks[i].name);
                if (spec->disks[i].gib > UINT64_MAX / HV_GIB)
                        return log_warning_errno(-EINVAL, "disks[%zu].gib: %" PRIu64 " is too large", i, spec->disks[i].gib);
        }
        for (const char *a = spec->arch; *a; a++)
                if (!((*a >= 'a' && *a <= 'z') || (*a >= '0' && *a <= '9') || *a == '_'))
                        return log_warning_errno(-EINVAL, "arch: \"%.16s\" is not an architecture name", spec->arch);
        if (spec->title && strpbrk(spec->title, "\r\n"))
                return log_warning_errno(-EINVAL, "title: a title is one line");
        return 0;
}

/* The volume of one disk, created sparse unless it exists; encrypted: a
 * new one in LUKS format with its own secret (hv.h). ret_secret: the
 * secret's UUID for the disk's <encryption>, "" for a volume without one;
 * ret_secret_made: a secret this call defined (undone with the volume). */
static int hv_libvirt_volume_ensure(struct hv *hv, const char *name, uint64_t gib, bool encrypted, bool *ret_created,
                                    char ret_secret[static VIR_UUID_STRING_BUFLEN], bool *ret_secret_made) {
        _cleanup_(virStorageVolFreep) virStorageVolPtr vol = NULL;
        _cleanup_free_ char *xml = NULL, *dir = NULL, *path = NULL;
        char secret[VIR_UUID_STRING_BUFLEN] = "";
        bool secret_made = false;
        int r;

        vol = virStorageVolLookupByName(hv->pool, name);
        if (vol) {
                /* As it is (encrypted or not); a LUKS one needs its secret named on the disk. */
                struct hv_vol_parse p = { 0 };
                if (hv_libvirt_vol_parse(vol, &p) >= 0 && strcmp(p.format, "luks") == 0) {
                        _cleanup_free_ char *vpath = virStorageVolGetPath(vol);
                        _cleanup_free_ char *by_usage = vpath && !p.secret ? hv_libvirt_secret_by_usage(hv, vpath) : NULL;
                        const char *u = p.secret ? p.secret : by_usage;
                        if (u && strlen(u) == HV_UUID_LEN)
                                memcpy(secret, u, HV_UUID_LEN + 1);
                        else
                                log_warning("volume %s is in LUKS format but no libvirt secret names it: qemu cannot open it",
                                            name);
                }
                free(p.secret);
                memcpy(ret_secret, secret, sizeof secret);
                *ret_created = false;
                *ret_secret_made = false;
                return 0;
        }
        if (virGetLastErrorCode() != VIR_ERR_NO_STORAGE_VOL)
                return hv_libvirt_fail("volume %s", name);

        if (encrypted) {
                r = hv_libvirt_pool_dir(hv->pool, &dir);
                if (r < 0)
                        return r;
                path = xasprintf("%s/%s", dir, name);
                r = hv_libvirt_secret_make(hv, path, secret, &secret_made);
                if (r < 0)
                        return r;
                /* qemu's LUKS format: libvirt's dir pools write it as "raw" with an <encryption>. */
                xml = xasprintf("<volume><name>%s</name>"
                                "<capacity unit='bytes'>%" PRIu64 "</capacity>"
                                "<allocation unit='bytes'>0</allocation>"
                                "<target><format type='raw'/>"
                                "<encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption>"
                                "</target></volume>",
                                name, gib * HV_GIB, secret);
        } else
                xml = xasprintf("<volume><name>%s</name>"
                                "<capacity unit='bytes'>%" PRIu64 "</capacity>"
                                "<allocation unit='bytes'>0</allocation>"
                                "<target><format type='raw'/></target></volume>",
                                name, gib * HV_GIB);
        vol = virStorageVolCreateXML(hv->pool, xml, 0);
        /* qemu-img times its PBKDF2 rounds by thread CPU time and gives up
         * ("Unable to get accurate CPU usage") when one measures 0 ms, which
         * happens now and then on a virtual machine: try again. */
        for (int i = 1; !vol && encrypted && i < HV_LUKS_CREATE_TRIES &&
                        virGetLastErrorCode() == VIR_ERR_INTERNAL_ERROR &&
                        strstr(virGetLastErrorMessage(), "accurate CPU usage"); i++) {
                log_debug("create encrypted volume %s: qemu-img could not time its key derivation; again", name);
                vol = virStorageVolCreateXML(hv->pool, xml, 0);
        }
        if (!vol) {
                r = hv_libvirt_fail("create %svolume %s in %s", encrypted ? "encrypted " : "", name, hv->pool_name);
                if (secret_made)
                        (void) hv_libvirt_secret_undefine(hv, secret);
                return r;
        }
        memcpy(ret_secret, secret, sizeof secret);
        *ret_created = true;
        *ret_secret_made = secret_made;
        return 0;
}

static void hv_libvirt_volume_delete(struct hv *hv, const char *name) {
        _cleanup_(virStorageVolFreep) virStorageVolPtr vol = virStorageVolLookupByName(hv->pool, name);

        if (!vol || virStorageVolDelete(vol, 0) < 0)
                (void) hv_libvirt_fail("delete volume %s", name);
}

static int hv_libvirt_define(struct hv *hv, const struct hv_spec *spec) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(hv_xml_out_done) struct hv_xml_out o = { .buf = GC_BUF_INIT(HV_XML_MAX) };
        char *volumes[HV_DISKS_MAX] = { 0 };
        bool created[HV_DISKS_MAX] = { 0 }, secret_made[HV_DISKS_MAX] = { 0 };
        char secrets[HV_DISKS_MAX][VIR_UUID_STRING_BUFLEN] = { { 0 } };
        char uuid[HV_UUID_LEN + 1], name[sizeof GC_WIRE_DOMAIN_PREFIX + HV_UUID_LEN];
        char arch[16];
        unsigned max_vcpus;
        uint64_t max_memory_mib;
        int r;

        r = hv_libvirt_uuid(spec->uuid, uuid);
        if (r < 0)
                return r;
        r = hv_libvirt_check_spec(spec);
        if (r < 0)
                return r;
        snprintf(name, sizeof name, "%s%s", GC_WIRE_DOMAIN_PREFIX, uuid);

        /* Idempotent: a domain of ours with this UUID is the one asked for. */
        dom = virDomainLookupByUUIDString(hv->conn, uuid);
        if (dom) {
                r = hv_libvirt_is_ours(dom);
                if (r < 0)
                        return r;
                if (r == 0)
                        return log_warning_errno(-EEXIST, "define %s: domain %s has this UUID and was not created by govcloud",
                                                 name, virDomainGetName(dom));
                log_debug("define %s: defined already", name);
                return 0;
        }
        if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN)
                return hv_libvirt_fail("define %s", name);
        dom = virDomainLookupByName(hv->conn, name);
        if (dom) {
                char other[VIR_UUID_STRING_BUFLEN] = "";
                (void) virDomainGetUUIDString(dom, other);
                return log_warning_errno(-EEXIST, "define %s: a domain of that name exists with UUID %s", name, other);
        }
        if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN)
                return hv_libvirt_fail("define %s", name);

        if (spec->arch[0])
                snprintf(arch, sizeof arch, "%s", spec->arch);
        else {
                r = hv_libvirt_host_arch(hv, arch);
                if (r < 0)
                        return r;
        }
        max_vcpus = spec->max_vcpus ? spec->max_vcpus : spec->vcpus;
        max_memory_mib = spec->max_memory_mib ? spec->max_memory_mib : spec->memory_mib;

        /* The volumes first: an encrypted one's secret is named on its disk. */
        for (size_t i = 0; i < spec->n_disks; i++) {
                if (spec->disks[i].gib == 0)
                        continue;
                volumes[i] = hv_libvirt_volume_name(uuid, spec->disks[i].name);
                r = hv_libvirt_volume_ensure(hv, volumes[i], spec->disks[i].gib, spec->encrypted, &created[i], secrets[i],
                                             &secret_made[i]);
                if (r < 0)
                        goto undo;
        }

        hv_xml_raw(&o, "<domain type='%s'>", hv->test_driver ? "test" : "qemu");
        hv_xml_raw(&o, "<name>%s</name><uuid>%s</uuid>", name, uuid);
        if (spec->title && *spec->title)
                hv_xml_element(&o, "", "title", "title", spec->title);
        hv_xml_raw(&o, "<metadata>");
        hv_xml_labels(&o, GC_WIRE_XMLNS_PREFIX ":", &spec->labels);
        hv_xml_raw(&o, "</metadata>");
        hv_xml_raw(&o, "<memory unit='MiB'>%" PRIu64 "</memory>", max_memory_mib);
        hv_xml_raw(&o, "<currentMemory unit='MiB'>%" PRIu64 "</currentMemory>", spec->memory_mib);
        hv_xml_raw(&o, "<vcpu current='%u'>%u</vcpu>", spec->vcpus, max_vcpus);
        hv_xml_raw(&o, "<os><type arch='%s'>hvm</type></os>", arch);
        hv_xml_raw(&o, "<features><acpi/></features>");
        hv_xml_raw(&o, "<devices>");
        for (size_t i = 0, j = 0; i < spec->n_disks; i++) {
                if (!volumes[i])
                        continue;
                hv_xml_raw(&o, "<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='");
                hv_xml_text(&o, "pool", hv->pool_name);
                hv_xml_raw(&o, "' volume='%s'/><target dev='vd%c' bus='virtio'/>", volumes[i], (char) ('a' + j++));
                /* qemu opens a LUKS volume with the passphrase from its secret. */
                if (secrets[i][0])
                        hv_xml_raw(&o, "<encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption>",
                                   secrets[i]);
                hv_xml_raw(&o, "</disk>");
        }
        for (size_t i = 0; i < spec->n_nics; i++) {
                if (!spec->nics[i].bridge[0])
                        continue;
                /* R-NW1: on its VPC's bridge, with the MAC the orchestrator assigned (R-NW2). */
                hv_xml_raw(&o, "<interface type='bridge'><mac address='");
                hv_xml_text(&o, "nics.mac", spec->nics[i].mac);
                hv_xml_raw(&o, "'/><source bridge='");
                hv_xml_text(&o, "nics.bridge", spec->nics[i].bridge);
                hv_xml_raw(&o, "'/><model type='virtio'/></interface>");
        }
        hv_xml_raw(&o, "</devices></domain>");
        if (o.error < 0) {
                r = log_warning_errno(o.error, "define %s: cannot write its definition", name);
                goto undo;
        }

        dom = virDomainDefineXML(hv->conn, o.buf.data);
        if (!dom) {
                r = hv_libvirt_fail("define %s", name);
                goto undo;
        }
        log_debug("defined %s", name);
        r = 0;
        goto out;

undo:
        for (size_t i = 0; i < spec->n_disks; i++) {
                if (created[i])
                        hv_libvirt_volume_delete(hv, volumes[i]);
                if (secret_made[i])
                        (void) hv_libvirt_secret_undefine(hv, secrets[i]);
        }
out:
        for (size_t i = 0; i < spec->n_disks; i++)
                free(volumes[i]);
        return r;
}

/* --- start, shutdown, undefine ---------------------------------------------- */

static int hv_libvirt_start(struct hv *hv, const char *uuid_in) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        char uuid[HV_UUID_LEN + 1];
        int r;

        r = hv_libvirt_lookup(hv, uuid_in, uuid, &dom);
        if (r < 0)
                return r;
        r = hv_libvirt_is_active(dom);
        if (r != 0)
                return r < 0 ? r : 0;
        if (virDomainCreate(dom) < 0) {
                r = hv_libvirt_fail("start %s", virDomainGetName(dom));
                return virDomainIsActive(dom) == 1 ? 0 : r;
        }
        return 0;
}

static int hv_libvirt_shutdown(struct hv *hv, const char *uuid_in, bool force) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        char uuid[HV_UUID_LEN + 1];
        int r;

        r = hv_libvirt_lookup(hv, uuid_in, uuid, &dom);
        if (r < 0)
                return r;
        r = hv_libvirt_is_active(dom);
        if (r <= 0)
                return r;
        if ((force ? virDomainDestroy(dom) : virDomainShutdown(dom)) < 0) {
                r = hv_libvirt_fail("%s %s", force ? "destroy" : "shut down", virDomainGetName(dom));
                return virDomainIsActive(dom) == 0 ? 0 : r;
        }
        return 0;
}

/* Every volume gc-UUID-* in the pool. */
static int hv_libvirt_volumes_delete(struct hv *hv, const char *uuid) {
        _cleanup_free_ char *prefix = xasprintf("%s%s-", GC_WIRE_DOMAIN_PREFIX, uuid);
        virStorageVolPtr *vols = NULL;
        int n, r = 0;

        n = virStoragePoolListAllVolumes(hv->pool, &vols, 0);
        if (n < 0)
                return hv_libvirt_fail("volumes of %s", hv->pool_name);
        for (int i = 0; i < n; i++) {
                const char *name = virStorageVolGetName(vols[i]);
                if (name && strncmp(name, prefix, strlen(prefix)) == 0) {
                        /* An encrypted volume's secret goes with it: nothing else can use it. */
                        _cleanup_free_ char *path = virStorageVolGetPath(vols[i]);
                        _cleanup_free_ char *secret = path ? hv_libvirt_secret_by_usage(hv, path) : NULL;
                        if (secret)
                                (void) hv_libvirt_secret_undefine(hv, secret);
                        if (virStorageVolDelete(vols[i], 0) < 0) {
                                int k = hv_libvirt_fail("delete volume %s", name);
                                if (r == 0)
                                        r = k;
                        } else
                                log_debug("deleted volume %s", name);
                }
                virStorageVolFree(vols[i]);
        }
        free(vols);
        return r;
}

static int hv_libvirt_undefine(struct hv *hv, const char *uuid_in) {
        /* What each driver allows: qemu all of these, the test driver the first two. */
        static const unsigned flag_sets[] = {
                VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                        VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM,
                VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
                0,
        };
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        char uuid[HV_UUID_LEN + 1];
        int r;

        r = hv_libvirt_uuid(uuid_in, uuid);
        if (r < 0)
                return r;
        r = hv_libvirt_lookup(hv, uuid, uuid, &dom);
        if (r == -ENOENT)
                /* Gone already; volumes left by an interrupted define go too. */
                return hv_libvirt_volumes_delete(hv, uuid);
        if (r < 0)
                return r;

        r = hv_libvirt_is_active(dom);
        if (r < 0)
                return r;
        if (r > 0 && virDomainDestroy(dom) < 0) {
                r = hv_libvirt_fail("destroy %s", virDomainGetName(dom));
                if (virDomainIsActive(dom) != 0)
                        return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(flag_sets); i++) {
                if (virDomainUndefineFlags(dom, flag_sets[i]) == 0)
                        break;
                r = hv_libvirt_errno();
                if (r == -ENOENT)
                        break;
                if ((r != -EINVAL && r != -EOPNOTSUPP) || i + 1 == ELEMENTSOF(flag_sets))
                        return hv_libvirt_fail("undefine %s", virDomainGetName(dom));
        }
        return hv_libvirt_volumes_delete(hv, uuid);
}

/* --- setters ---------------------------------------------------------------- */

static int hv_libvirt_set_vcpus(struct hv *hv, const char *uuid_in, unsigned vcpus) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        char uuid[HV_UUID_LEN + 1];
        int r, max, active;

        r = hv_libvirt_lookup(hv, uuid_in, uuid, &dom);
        if (r < 0)
                return r;
        max = virDomainGetVcpusFlags(dom, VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_VCPU_MAXIMUM);
        if (max < 0)
                return hv_libvirt_fail("vcpus of %s", virDomainGetName(dom));
        if (vcpus == 0 || vcpus > (unsigned) max)
                return log_warning_errno(-EINVAL, "vcpus: %u is not within 1 and the maximum %d of %s",
                                         vcpus, max, virDomainGetName(dom));
        active = hv_libvirt_is_active(dom);
        if (active < 0)
                return active;
        /* Separately: some drivers refuse LIVE | CONFIG in one call. */
        if (active && virDomainSetVcpusFlags(dom, vcpus, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return hv_libvirt_fail("set %u vcpus of running %s", vcpus, virDomainGetName(dom));
        if (virDomainSetVcpusFlags(dom, vcpus, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                return hv_libvirt_fail("set %u vcpus of %s", vcpus, virDomainGetName(dom));
        return 0;
}

static int hv_libvirt_set_memory(struct hv *hv, const char *uuid_in, uint64_t mib) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        char uuid[HV_UUID_LEN + 1];
        unsigned long max_kib;
        int r, active;

        r = hv_libvirt_lookup(hv, uuid_in, uuid, &dom);
        if (r < 0)
                return r;
        max_kib = virDomainGetMaxMemory(dom);
        if (max_kib == 0)
                return hv_libvirt_fail("maximum memory of %s", virDomainGetName(dom));
        if (mib == 0 || mib > max_kib / 1024)
                return log_warning_errno(-EINVAL, "memory_mib: %" PRIu64 " is not within 1 and the maximum %lu of %s",
                                         mib, max_kib / 1024, virDomainGetName(dom));
        active = hv_libvirt_is_active(dom);
        if (active < 0)
                return active;
        /* Separately: the test driver refuses LIVE | CONFIG in one call. */
        if (active && virDomainSetMemoryFlags(dom, mib * 1024, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return hv_libvirt_fail("set %" PRIu64 " MiB of running %s", mib, virDomainGetName(dom));
        if (virDomainSetMemoryFlags(dom, mib * 1024, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                return hv_libvirt_fail("set %" PRIu64 " MiB of %s", mib, virDomainGetName(dom));
        return 0;
}

static int hv_libvirt_resize_disk(struct hv *hv, const char *uuid_in, const char *disk, uint64_t gib) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(virStorageVolFreep) virStorageVolPtr vol = NULL;
        _cleanup_(hv_def_done) struct hv_def def = { 0 };
        const struct hv_def_disk *d = NULL;
        virStorageVolInfo info;
        char uuid[HV_UUID_LEN + 1];
        bool grown = false;
        int r, active;

        r = hv_libvirt_lookup(hv, uuid_in, uuid, &dom);
        if (r < 0)
                return r;
        r = hv_libvirt_disk_name(disk);
        if (r < 0)
                return r;
        if (gib == 0 || gib > UINT64_MAX / HV_GIB)
                return log_warning_errno(-EINVAL, "disk %s: %" PRIu64 " GiB is not a size", disk, gib);
        uint64_t bytes = gib * HV_GIB;

        r = hv_libvirt_def(dom, &def);
        if (r < 0)
                return r;
        for (size_t i = 0; i < def.n_disks && !d; i++) {
                char name[16];
                const char *v = def.disks[i].volume ? def.disks[i].volume : def.disks[i].file;
                if (v && hv_libvirt_volume_disk(v, uuid, name) && strcmp(name, disk) == 0)
                        d = &def.disks[i];
        }
        if (!d || !d->dev)
                return log_warning_errno(-ENOENT, "disk %s: %s has no such disk", disk, virDomainGetName(dom));
        r = hv_libvirt_def_volume(hv, d, &vol);
        if (r < 0)
                return r;
        if (virStorageVolGetInfo(vol, &info) < 0)
                return hv_libvirt_fail("volume %s", virStorageVolGetName(vol));
        if (bytes < info.capacity)
                return log_warning_errno(-EINVAL, "disk %s: %" PRIu64 " GiB is less than its %llu bytes: disks only grow",
                                         disk, gib, info.capacity);
        if (bytes > info.capacity) {
                if (virStorageVolResize(vol, bytes, 0) < 0)
                        return hv_libvirt_fail("resize volume %s", virStorageVolGetName(vol));
                grown = true;
        }

        active = hv_libvirt_is_active(dom);
        if (active <= 0)
                return active;
        if (!grown) {
                /* The volume has the size already; the guest's view may not. */
                virDomainBlockInfo block;
                if (virDomainGetBlockInfo(dom, d->dev, &block, 0) < 0 || block.capacity >= bytes)
                        return 0;
        }
        if (virDomainBlockResize(dom, d->dev, bytes, VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0)
                return hv_libvirt_fail("resize %s of running %s", d->dev, virDomainGetName(dom));
        return 0;
}

static int hv_libvirt_set_labels(struct hv *hv, const char *uuid_in, const char *title, const struct hv_labels *labels) {
        static const struct hv_labels no_labels = { 0 };
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(hv_xml_out_done) struct hv_xml_out o = { .buf = GC_BUF_INIT(HV_XML_MAX) };
        char uuid[HV_UUID_LEN + 1];
        unsigned flags[2];
        size_t n_flags = 0;
        int r, active;

        r = hv_libvirt_lookup(hv, uuid_in, uuid, &dom);
        if (r < 0)
                return r;
        if (!labels)
                labels = &no_labels;
        if (title && strpbrk(title, "\r\n"))
                return log_warning_errno(-EINVAL, "title: a title is one line");
        if (title && !hv_xml_valid(title))
                return log_warning_errno(-EINVAL, "title: not valid UTF-8 text for XML (control character or bad sequence)");
        hv_xml_labels(&o, "", labels);
        if (o.error < 0)
                return log_warning_errno(o.error, "labels of %s: cannot write them", virDomainGetName(dom));

        active = hv_libvirt_is_active(dom);
        if (active < 0)
                return active;
        if (active)
                flags[n_flags++] = VIR_DOMAIN_AFFECT_LIVE;
        flags[n_flags++] = VIR_DOMAIN_AFFECT_CONFIG;
        for (size_t i = 0; i < n_flags; i++) {
                /* An empty or NULL title removes it. */
                if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_TITLE, title && *title ? title : NULL,
                                         NULL, NULL, flags[i]) < 0)
                        return hv_libvirt_fail("set title of %s", virDomainGetName(dom));
                if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, o.buf.data,
                                         GC_WIRE_XMLNS_PREFIX, GC_WIRE_XMLNS, flags[i]) < 0)
                        return hv_libvirt_fail("set labels of %s", virDomainGetName(dom));
        }
        return 0;
}

/* --- get, list, stats ------------------------------------------------------- */

/* metadata: the labels element as read already; NULL to read it here. */
static int hv_libvirt_fill(struct hv *hv, virDomainPtr dom, const char *metadata, struct hv_domain *ret) {
        _cleanup_(hv_domain_done) struct hv_domain d = { 0 };
        _cleanup_(hv_def_done) struct hv_def def = { 0 };
        _cleanup_free_ char *own_metadata = NULL;
        virDomainInfo info;
        const char *name;
        int r;

        name = virDomainGetName(dom);
        if (!name || virDomainGetUUIDString(dom, d.uuid) < 0)
                return hv_libvirt_fail("name and UUID of a domain");
        d.name = xstrdup(name);
        if (virDomainGetInfo(dom, &info) < 0)
                return hv_libvirt_fail("state of %s", name);
        d.state = hv_libvirt_state(info.state);
        d.vcpus = info.nrVirtCpu;

        d.title = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_TITLE, NULL, 0);
        if (!d.title && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA)
                return hv_libvirt_fail("title of %s", name);

        if (!metadata) {
                r = hv_libvirt_metadata(dom, &own_metadata);
                if (r < 0)
                        return r;
                metadata = own_metadata;
        }
        if (metadata) {
                r = hv_labels_parse(metadata, &d.labels);
                if (r < 0)
                        return log_warning_errno(r, "labels of %s: cannot read them", name);
                d.has_labels = true;
        }
        hv_labels_fill_empty(&d.labels);

        r = hv_libvirt_def(dom, &def);
        if (r < 0)
                return r;
        d.memory_mib = (def.current_memory_kib ? def.current_memory_kib : info.memory) / 1024;
        for (size_t i = 0; i < def.n_disks && d.n_disks < HV_DISKS_MAX; i++) {
                _cleanup_(virStorageVolFreep) virStorageVolPtr vol = NULL;
                const char *v = def.disks[i].volume ? def.disks[i].volume : def.disks[i].file;
                virStorageVolInfo vi;
                char disk[16];

                if (!v || !hv_libvirt_volume_disk(v, d.uuid, disk))
                        continue;
                if (hv_libvirt_def_volume(hv, &def.disks[i], &vol) < 0 || virStorageVolGetInfo(vol, &vi) < 0) {
                        log_debug("%s: the volume of disk %s is missing", name, disk);
                        continue;
                }
                struct hv_disk *out = &d.disks[d.n_disks++];
                memcpy(out->name, disk, sizeof out->name);
                out->gib = (vi.capacity + HV_GIB - 1) / HV_GIB;
        }

        *ret = d;
        d = (struct hv_domain) { 0 };
        return 0;
}

static int hv_libvirt_get(struct hv *hv, const char *uuid_in, struct hv_domain *ret) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        char uuid[HV_UUID_LEN + 1];
        int r;

        r = hv_libvirt_lookup(hv, uuid_in, uuid, &dom);
        if (r < 0)
                return r;
        return hv_libvirt_fill(hv, dom, NULL, ret);
}

struct hv_domain_list {
        virDomainPtr *doms;             /* NULL-terminated */
        char **metadata;
        size_t n;
};

static void hv_domain_list_done(struct hv_domain_list *l) {
        for (size_t i = 0; i < l->n; i++) {
                virDomainFree(l->doms[i]);
                free(l->metadata[i]);
        }
        free(l->doms);
        free(l->metadata);
        *l = (struct hv_domain_list) { 0 };
}

/* Every domain with our metadata element. */
static int hv_libvirt_list_ours(struct hv *hv, struct hv_domain_list *ret) {
        virDomainPtr *all = NULL;
        struct hv_domain_list l = { 0 };
        int n, r = 0;

        n = virConnectListAllDomains(hv->conn, &all, 0);
        if (n < 0)
                return hv_libvirt_fail("list domains");
        l.doms = xnew(virDomainPtr, n + 1);
        l.metadata = xnew(char *, n + 1);
        for (int i = 0; i < n; i++) {
                char *xml = NULL;
                if (r >= 0) {
                        r = hv_libvirt_metadata(all[i], &xml);
                        if (r == -ENOENT)       /* gone meanwhile */
                                r = 0;
                }
                if (r > 0) {
                        l.doms[l.n] = all[i];
                        l.metadata[l.n++] = xml;
                        r = 0;
                } else
                        virDomainFree(all[i]);
        }
        free(all);
        if (r < 0) {
                hv_domain_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}

static int hv_libvirt_list(struct hv *hv, struct hv_domain **ret, size_t *ret_n) {
        _cleanup_(hv_domain_list_done) struct hv_domain_list l = { 0 };
        struct hv_domain *out;
        size_t n = 0;
        int r;

        r = hv_libvirt_list_ours(hv, &l);
        if (r < 0)
                return r;
        out = xnew(struct hv_domain, l.n ? l.n : 1);
        for (size_t i = 0; i < l.n; i++) {
                r = hv_libvirt_fill(hv, l.doms[i], l.metadata[i], &out[n]);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        hv_domains_free(out, n);
                        return r;
                }
                n++;
        }
        *ret = out;
        *ret_n = n;
        return 0;
}

static int64_t hv_stat_ullong(const virDomainStatsRecord *rec, const char *field) {
        unsigned long long v;
        if (virTypedParamsGetULLong(rec->params, rec->nparams, field, &v) != 1)
                return -1;
        return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

static int64_t hv_stat_uint(const virDomainStatsRecord *rec, const char *field) {
        unsigned v;
        if (virTypedParamsGetUInt(rec->params, rec->nparams, field, &v) != 1)
                return -1;
        return v;
}

/* Sum of block.N.<what> over the disks; -1 if any is missing. */
static int64_t hv_stat_block_sum(const virDomainStatsRecord *rec, const char *what) {
        int64_t count = hv_stat_uint(rec, "block.count"), sum = 0;

        if (count < 0)
                return -1;
        for (int64_t i = 0; i < count; i++) {
                char field[64];
                snprintf(field, sizeof field, "block.%" PRId64 ".%s", i, what);
                int64_t v = hv_stat_ullong(rec, field);
                if (v < 0)
                        return -1;
                sum = v > INT64_MAX - sum ? INT64_MAX : sum + v;
        }
        return sum;
}

static int hv_libvirt_stats(struct hv *hv, struct hv_stat **ret, size_t *ret_n) {
        _cleanup_(hv_domain_list_done) struct hv_domain_list l = { 0 };
        virDomainStatsRecordPtr *recs = NULL;
        struct hv_stat *out;
        int n, r;

        r = hv_libvirt_list_ours(hv, &l);
        if (r < 0)
                return r;
        if (l.n == 0) {
                *ret = xnew(struct hv_stat, 1);
                *ret_n = 0;
                return 0;
        }
        n = virDomainListGetStats(l.doms,
                                  VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
                                  VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BLOCK,
                                  &recs, 0);
        if (n < 0)
                return hv_libvirt_fail("domain statistics");

        out = xnew(struct hv_stat, n ? n : 1);
        for (int i = 0; i < n; i++) {
                const virDomainStatsRecord *rec = recs[i];
                struct hv_stat *s = &out[i];
                int state;

                if (virDomainGetUUIDString(rec->dom, s->uuid) < 0) {
                        r = hv_libvirt_fail("UUID of a domain");
                        virDomainStatsRecordListFree(recs);
                        free(out);
                        return r;
                }
                s->state = virTypedParamsGetInt(rec->params, rec->nparams, "state.state", &state) == 1 ?
                        hv_libvirt_state(state) : HV_STATE_OTHER;
                s->vcpus = hv_stat_uint(rec, "vcpu.current");
                s->memory_kib = hv_stat_ullong(rec, "balloon.current");
                s->memory_unused_kib = hv_stat_ullong(rec, "balloon.unused");
                s->memory_available_kib = hv_stat_ullong(rec, "balloon.available");
                if (s->state == HV_STATE_SHUTOFF) {
                        /* For a domain that is off, libvirt 9.0 (qemu) gives the
                         * daemon's own CPU time and "block.count" 0: no
                         * figures, not zeros. vCPUs and balloon.current are
                         * the definition's. */
                        s->cpu_time_ns = -1;
                        s->disk_allocation_bytes = -1;
                        s->disk_capacity_bytes = -1;
                } else {
                        s->cpu_time_ns = hv_stat_ullong(rec, "cpu.time");
                        s->disk_allocation_bytes = hv_stat_block_sum(rec, "allocation");
                        s->disk_capacity_bytes = hv_stat_block_sum(rec, "capacity");
                }
        }
        virDomainStatsRecordListFree(recs);
        *ret = out;
        *ret_n = n;
        return 0;
}

/* --- volumes, for the wipe ---------------------------------------------------- */

/* Whether two paths name the same file: equal, or equal once resolved. */
static bool hv_same_path(const char *a, const char *b) {
        char ra[PATH_MAX], rb[PATH_MAX];

        if (!a || !b)
                return false;
        if (strcmp(a, b) == 0)
                return true;
        return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* The file or block device a disk of a definition names; NULL when none
 * (a network disk, a volume that is gone). */
static char *hv_libvirt_disk_path(struct hv *hv, const struct hv_def_disk *d) {
        if (d->volume) {
                _cleanup_(virStorageVolFreep) virStorageVolPtr vol = NULL;
                if (hv_libvirt_def_volume(hv, d, &vol) < 0)
                        return NULL;
                return virStorageVolGetPath(vol);
        }
        if (d->file)
                return xstrdup(d->file);
        if (d->block)
                return xstrdup(d->block);
        return NULL;
}

/* What libvirt says about one disk of domain uuid (hv_volume). */
static int hv_libvirt_volume_describe(struct hv *hv, const char *uuid, const char *managed_uuid, const struct hv_def_disk *d,
                                      size_t index, struct hv_volume *ret) {
        _cleanup_(hv_volume_done) struct hv_volume v = { 0 };
        _cleanup_(virStorageVolFreep) virStorageVolPtr vol = NULL;
        _cleanup_(virStoragePoolFreep) virStoragePoolPtr pool = NULL;
        struct hv_vol_parse p = { 0 };
        virStorageVolInfo info;
        char pool_uuid[VIR_UUID_STRING_BUFLEN];
        const char *src = d->volume ? d->volume : d->file ? d->file : d->block;
        int r;

        if (!src || !hv_libvirt_volume_disk(src, uuid, v.disk)) {
                if (d->dev && strlen(d->dev) < sizeof v.disk)
                        memcpy(v.disk, d->dev, strlen(d->dev) + 1);
                else
                        snprintf(v.disk, sizeof v.disk, "disk%u", (unsigned) (index % 1000u));
        }
        v.path = hv_libvirt_disk_path(hv, d);
        if (!v.path)
                goto done;
        vol = virStorageVolLookupByPath(hv->conn, v.path);
        if (!vol) {
                if (virGetLastErrorCode() != VIR_ERR_NO_STORAGE_VOL)
                        return hv_libvirt_fail("volume %s", v.path);
                goto done;      /* in no pool: the caller refuses it */
        }
        pool = virStoragePoolLookupByVolume(vol);
        if (!pool)
                return hv_libvirt_fail("the pool of volume %s", v.path);
        if (virStoragePoolGetUUIDString(pool, pool_uuid) < 0)
                return hv_libvirt_fail("UUID of storage pool %s", virStoragePoolGetName(pool));
        v.pool = xstrdup(virStoragePoolGetName(pool));
        v.managed = strcmp(pool_uuid, managed_uuid) == 0;
        r = hv_libvirt_pool_dir(pool, &v.pool_dir);
        if (r < 0)
                return r;
        const char *key = virStorageVolGetKey(vol), *vname = virStorageVolGetName(vol);
        v.key = key ? xstrdup(key) : NULL;
        v.name = vname ? xstrdup(vname) : NULL;

        /* What a wipe covers is the file's own size (st_size: a qcow2 or
         * LUKS file is larger or smaller than its capacity), or the device's. */
        if (virStorageVolGetInfoFlags(vol, &info, VIR_STORAGE_VOL_GET_PHYSICAL) == 0)
                v.size = info.allocation;
        else if (virStorageVolGetInfo(vol, &info) == 0)
                v.size = info.capacity;
        else
                log_debug("volume %s: no size from libvirt: %s", v.path, virGetLastErrorMessage());

        if (hv_libvirt_vol_parse(vol, &p) >= 0) {
                memcpy(v.format, p.format, sizeof v.format);
                v.secret = TAKE_PTR(p.secret);
        }
        if (strcmp(v.format, "luks") == 0 && !v.secret) {
                /* After a pool refresh the volume may not name it; the disk or the usage does. */
                v.secret = d->secret ? xstrdup(d->secret) : hv_libvirt_secret_by_usage(hv, v.path);
        }
done:
        *ret = v;
        v = (struct hv_volume) { 0 };
        return 0;
}

/* For each volume, the first running domain other than uuid whose disks
 * include its path. */
static int hv_libvirt_attached(struct hv *hv, const char *uuid, struct hv_volume *v, size_t n) {
        virDomainPtr *doms = NULL;
        int k;

        k = virConnectListAllDomains(hv->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (k < 0)
                return hv_libvirt_fail("list running domains");
        for (int i = 0; i < k; i++) {
                char other[VIR_UUID_STRING_BUFLEN];
                _cleanup_free_ char *xml = NULL;
                struct hv_def def = { .text = GC_BUF_INIT(HV_XML_MAX) };

                if (virDomainGetUUIDString(doms[i], other) < 0 || strcmp(other, uuid) == 0)
                        goto next;
                xml = virDomainGetXMLDesc(doms[i], 0);
                if (!xml || hv_xml_walk(xml, hv_def_on_node, &def) < 0) {
                        log_debug("running domain %s: its disks cannot be read; gone meanwhile?", virDomainGetName(doms[i]));
                        goto next;
                }
                for (size_t j = 0; j < def.n_disks; j++) {
                        _cleanup_free_ char *path = hv_libvirt_disk_path(hv, &def.disks[j]);
                        for (size_t m = 0; path && m < n; m++)
                                if (!v[m].attached && hv_same_path(v[m].path, path))
                                        v[m].attached = xstrdup(virDomainGetName(doms[i]));
                }
next:
                hv_def_done(&def);
                virDomainFree(doms[i]);
        }
        free(doms);
        return 0;
}

static int hv_libvirt_volumes(struct hv *hv, const char *uuid_in, struct hv_volume **ret, size_t *ret_n) {
        _cleanup_(virDomainFreep) virDomainPtr dom = NULL;
        _cleanup_(hv_def_done) struct hv_def def = { 0 };
        char uuid[HV_UUID_LEN + 1], managed[VIR_UUID_STRING_BUFLEN];
        struct hv_volume *v;
        int r;

        r = hv_libvirt_lookup(hv, uuid_in, uuid, &dom);
        if (r < 0)
                return r;
        r = hv_libvirt_def(dom, &def);
        if (r < 0)
                return r;
        if (virStoragePoolGetUUIDString(hv->pool, managed) < 0)
                return hv_libvirt_fail("UUID of storage pool %s", hv->pool_name);
        v = xnew(struct hv_volume, def.n_disks ? def.n_disks : 1);
        for (size_t i = 0; i < def.n_disks; i++) {
                r = hv_libvirt_volume_describe(hv, uuid, managed, &def.disks[i], i, &v[i]);
                if (r < 0)
                        goto fail;
        }
        r = hv_libvirt_attached(hv, uuid, v, def.n_disks);
        if (r < 0)
                goto fail;
        *ret = v;
        *ret_n = def.n_disks;
        return 0;
fail:
        hv_volumes_free(v, def.n_disks);
        return r;
}

const struct hv_ops hv_libvirt_ops = {
        .name = "libvirt",
        .open = hv_libvirt_open,
        .close = hv_libvirt_close,
        .capacity = hv_libvirt_capacity,
        .define = hv_libvirt_define,
        .start = hv_libvirt_start,
        .set_vcpus = hv_libvirt_set_vcpus,
        .set_memory = hv_libvirt_set_memory,
        .resize_disk = hv_libvirt_resize_disk,
        .set_labels = hv_libvirt_set_labels,
        .get = hv_libvirt_get,
        .shutdown = hv_libvirt_shutdown,
        .undefine = hv_libvirt_undefine,
        .list = hv_libvirt_list,
        .stats = hv_libvirt_stats,
        .volumes = hv_libvirt_volumes,
        .secret_undefine = hv_libvirt_secret_undefine,
};
