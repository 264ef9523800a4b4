/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The orchestrator's HTTPS API from the client side, over libcurl: TLS 1.3
 * only, a client certificate, the server checked against a CA. Answers are
 * read into a capped buffer and parsed with json_parse (strict).
 *
 *     _cleanup_(client_freep) struct client *c = NULL;
 *     r = client_open(&config, &c);
 *     r = client_request(c, "GET", "/v1/units", NULL, 0, &status, &doc);
 */
#pragma once

#include <stddef.h>

#include <cJSON.h>

#include "gc/error.h"

/* An answer body larger than this is refused (-EFBIG); exports, read with
 * client_request_raw(), have their own caps. */
#define CLIENT_BODY_MAX (16u * 1024 * 1024)
/* A profile file is a handful of paths. */
#define CLIENT_PROFILE_MAX (64u * 1024)

/* Where to connect and as whom. NULL means not set. */
struct client_config {
        char *server;           /* https://HOST[:PORT][/PREFIX] */
        char *cert;             /* client certificate, PEM */
        char *key;              /* its private key, PEM; NULL: in the cert file */
        char *cacert;           /* CA bundle for the server; NULL: the system's */
        char *profile;          /* the profile file read, if one was */
};

void client_config_done(struct client_config *cfg);

/*
 * Fill the settings cfg does not have yet: first from the environment
 * (GC_SERVER, GC_CERT, GC_KEY, GC_CACERT), then from one profile file, a JSON
 * object {"server", "cert", "key", "cacert"} (every member optional): the
 * file profile names, else $GC_PROFILE, else $XDG_CONFIG_HOME/govcloud/gcctl.json
 * (XDG_CONFIG_HOME defaults to ~/.config), else /etc/govcloud/gcctl.json,
 * whichever exists first. A relative path in a profile is relative to the
 * profile's directory. A profile is read when one is named or a setting is
 * still missing; cfg->profile then names it, also when it is refused.
 *
 * -ENOENT with err when a profile named by profile or $GC_PROFILE does not
 * exist; -EINVAL with err when the profile is not such an object.
 */
int client_config_resolve(struct client_config *cfg, const char *profile, struct gc_error *err);

struct client;

/* cfg->server must be set and start with https:// (-EPROTONOSUPPORT). The
 * configuration is copied. Nothing is sent before client_request(). */
int client_open(const struct client_config *cfg, struct client **ret);
void client_free(struct client *c);
static inline void client_freep(struct client **c) {
        client_free(*c);
}

/*
 * Send method (GET, POST, PUT) to path ("/v1/units?x=y", already escaped) on
 * the server; body (len bytes, may be NULL) goes as application/json.
 * Any HTTP answer is a success: its status in *ret_status and its body,
 * parsed strictly, in *ret_json (NULL when the body is empty).
 *
 * Fails, with client_error() saying why and naming the URL, when no answer
 * came (-ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -EPROTO for TLS and
 * certificate failures, -EIO otherwise), when the answer is larger than
 * CLIENT_BODY_MAX (-EFBIG), or when its body is not strict JSON (-EBADMSG).
 */
int client_request(struct client *c, const char *method, const char *path, const char *body, size_t len,
                   long *ret_status, cJSON **ret_json);

/*
 * The same for an answer kept as it came, an export: its body of at most max
 * bytes, not parsed, into *ret_body (malloc()ed, NUL-terminated, "" when
 * empty) and *ret_body_len. Such an answer may take longer than a call's
 * usual timeout as long as it keeps arriving (at least 1 KiB/s). Fails as
 * client_request() does, with -EFBIG past max.
 */
int client_request_raw(struct client *c, const char *method, const char *path, const char *body, size_t len,
                       size_t max, long *ret_status, char **ret_body, size_t *ret_body_len);

/* Why the last client_request() failed: "URL: message". */
const char *client_error(const struct client *c);

/* Percent-escape s for a query value: all but A-Z a-z 0-9 - . _ ~ (RFC 3986). */
char *client_escape(const char *s);
