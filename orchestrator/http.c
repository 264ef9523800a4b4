/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS on libevent's evhttp over OpenSSL bufferevents: TLS 1.3 only, a
 * client certificate from the deployment's CA required on every
 * connection. The certificate's OU is the caller's role, its CN the
 * identity; api.c decides what that identity may do.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "alloc.h"
#include "api.h"
#include "cleanup.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "orch.h"

static const char *const role_names[] = { "approval", "tenant", "provider", "authority", "host", "operator" };

const char *role_name(unsigned role) {
        for (size_t i = 0; i < ELEMENTSOF(role_names); i++)
                if (role == 1u << i)
                        return role_names[i];
        return "none";
}

unsigned role_from_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(role_names); i++)
                if (strcmp(name, role_names[i]) == 0)
                        return 1u << i;
        return 0;
}

static struct bufferevent *make_bev(struct event_base *base, void *userdata) {
        SSL *ssl = SSL_new(userdata);
        if (!ssl)
                return NULL;
        struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                                 BEV_OPT_CLOSE_ON_FREE);
        if (bev)
                bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        return bev;
}

static void name_entry(X509_NAME *name, int nid, char *buf, size_t size) {
        buf[0] = 0;
        int i = X509_NAME_get_index_by_NID(name, nid, -1);
        if (i < 0)
                return;
        ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, s);
        if (n < 0)
                return;
        snprintf(buf, size, "%.*s", n, (const char *) utf8);
        OPENSSL_free(utf8);
}

static int peer_identity(struct evhttp_request *req, struct identity *ret) {
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
        SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
        if (!ssl)
                return -ENOTCONN;
        X509 *cert = SSL_get0_peer_certificate(ssl);
        if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
                return -EACCES;

        struct identity id = {};
        X509_NAME *subject = X509_get_subject_name(cert);
        name_entry(subject, NID_organizationalUnitName, id.ou, sizeof id.ou);
        name_entry(subject, NID_commonName, id.name, sizeof id.name);
        id.role = role_from_name(id.ou);

        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1) {
                _cleanup_free_ char *hex = crypto_hex(md, mdlen);
                snprintf(id.cert_sha256, sizeof id.cert_sha256, "%s", hex);
        }
        *ret = id;
        return 0;
}

static void on_request(struct evhttp_request *req, void *userdata) {
        struct orch *o = userdata;
        struct identity who;

        if (peer_identity(req, &who) < 0) {
                /* The handshake requires a verified certificate; this is a safety net. */
                evhttp_send_error(req, 403, "client certificate required");
                return;
        }
        api_dispatch(o, req, &who);
}

int http_start(struct orch *o) {
        const struct config *c = o->cfg;
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return log_openssl_errno(-ENOMEM, "SSL_CTX_new");
        o->ssl_ctx = ctx;

        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
        if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
                return log_openssl_errno(-EINVAL, "tls.cert %s", c->tls_cert);
        if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1)
                return log_openssl_errno(-EINVAL, "tls.key %s", c->tls_key);
        if (SSL_CTX_check_private_key(ctx) != 1)
                return log_openssl_errno(-EINVAL, "tls.key %s does not match tls.cert %s", c->tls_key, c->tls_cert);
        if (SSL_CTX_load_verify_locations(ctx, c->tls_ca, NULL) != 1)
                return log_openssl_errno(-EINVAL, "tls.ca %s", c->tls_ca);
        STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(c->tls_ca);
        if (cas)
                SSL_CTX_set_client_CA_list(ctx, cas);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        /* No resumption: every connection presents its certificate, so the
         * checks on it (a host's registered certificate, a revoked key) run
         * each time. Without tickets a client offering a session from an
         * earlier connection gets a full handshake; without a session id
         * context OpenSSL would answer such an offer with an internal error
         * alert, as it must when it verifies peers. */
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        static const unsigned char sid_ctx[] = "gc-orchestrator";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);

        o->http = evhttp_new(o->base);
        if (!o->http)
                return log_error_errno(-ENOMEM, "evhttp_new");
        evhttp_set_bevcb(o->http, make_bev, ctx);
        evhttp_set_gencb(o->http, on_request, o);
        evhttp_set_max_body_size(o->http, c->max_body);
        evhttp_set_max_headers_size(o->http, 64 * 1024);
        evhttp_set_timeout(o->http, c->timeout_seconds);
        evhttp_set_allowed_methods(o->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
        evhttp_set_default_content_type(o->http, "application/json");

        struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(o->http, c->listen_host, c->listen_port);
        if (!sock)
                return log_error_errno(-EADDRNOTAVAIL, "cannot listen on %s port %u", c->listen_host, c->listen_port);

        /* Replies go out as two writes (headers, body); without this, Nagle
         * holds the body until the client's delayed ACK, 40 ms a request.
         * Accepted sockets inherit the option from the listener on Linux. */
        int one = 1;
        if (setsockopt(evhttp_bound_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
                log_warning_errno(-errno, "TCP_NODELAY on the listening socket");

        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *) &ss, &sl) == 0)
                o->bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                               : ((struct sockaddr_in *) &ss)->sin_port);
        log_info("listening on https://%s:%u (TLS 1.3, client certificates from %s)", c->listen_host, o->bound_port,
                 c->tls_ca);
        return 0;
}

void http_stop(struct orch *o) {
        if (o->http)
                evhttp_free(o->http);
        o->http = NULL;
        if (o->ssl_ctx)
                SSL_CTX_free(o->ssl_ctx);
        o->ssl_ctx = NULL;
}
