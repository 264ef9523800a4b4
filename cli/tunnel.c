/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcctl tunnel submit | list | show | close | connect
 *
 * Operations tunnels (R-OP1..R-OP4): an approved, time-boxed way for a named
 * operator to reach one port of one VM. submit, list, show and close are
 * calls to the orchestrator (/v1/tunnels). connect is the operator's end of
 * the "gc-tunnel/1" channel (include/gc/wire.h, "Tunnels"): one local
 * connection, from a listening port or standard input and output, forwarded
 * over TLS 1.3 to the tunnel's listener on its host, which forwards to the
 * VM. The tunnel is single-use: one local connection, one session.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "alloc.h"
#include "buf.h"
#include "cleanup.h"
#include "gc/error.h"
#include "gc/wire.h"
#include "gcctl.h"
#include "json.h"
#include "remote.h"

/* connect's exit status beyond gcctl's 0, 1 and 2. */
#define TUNNEL_EXIT_REFUSED 3           /* the agent answered {"ok": false, ...} */
#define TUNNEL_EXIT_CUT 4               /* the connection ended without close_notify, or a TLS error */

#define TUNNEL_TOKEN_LEN 43             /* 32 random bytes, base64url without padding */
#define TUNNEL_TOKEN_FILE_MAX 4096
#define TUNNEL_WAIT_DEFAULT_S 30
#define TUNNEL_WAIT_MAX_S 86400
#define TUNNEL_CONNECT_TIMEOUT_MS 10000 /* TCP connect to the listener */
#define TUNNEL_ANSWER_TIMEOUT_MS 60000  /* handshake, preamble and answer: the agent dials the VM first */
#define TUNNEL_BUF (64u * 1024)         /* each direction's buffer while forwarding */

enum {
        ARG_SIGN = 0x100,
        ARG_TOKEN_OUT,
        ARG_STATE,
        ARG_SYSTEM,
        ARG_TOKEN,
        ARG_TOKEN_FILE,
        ARG_LISTEN,
        ARG_STDIO,
        ARG_ENDPOINT,
        ARG_HOST,
        ARG_WAIT,
};

struct tunnel_args {
        const char *verb;
        const char *sign;
        const char *token_out;
        const char *state;
        const char *system;
        const char *token;
        const char *token_file;
        const char *listen;
        bool stdio;
        const char *endpoint;
        const char *host;
        const char *wait;
};

static const char *const tunnel_states[] = { "opening", "open", "in_session", "closed", "failed", NULL };

static int tunnel_handle(int opt, const char *arg, void *userdata) {
        struct tunnel_args *a = userdata;
        const char **slot;
        const char *name;

        switch (opt) {
        case ARG_STDIO:
                a->stdio = true;
                return 0;
        case ARG_SIGN:
                slot = &a->sign, name = "--sign";
                break;
        case ARG_TOKEN_OUT:
                slot = &a->token_out, name = "--token-out";
                break;
        case ARG_STATE:
                slot = &a->state, name = "--state";
                break;
        case ARG_SYSTEM:
                slot = &a->system, name = "--system";
                break;
        case ARG_TOKEN:
                slot = &a->token, name = "--token";
                break;
        case ARG_TOKEN_FILE:
                slot = &a->token_file, name = "--token-file";
                break;
        case ARG_LISTEN:
                slot = &a->listen, name = "--listen";
                break;
        case ARG_ENDPOINT:
                slot = &a->endpoint, name = "--endpoint";
                break;
        case ARG_HOST:
                slot = &a->host, name = "--host";
                break;
        case ARG_WAIT:
                slot = &a->wait, name = "--wait";
                break;
        default:
                return -EINVAL;
        }
        if (!*arg) {
                gcctl_usage_error(a->verb, "%s: empty value", name);
                return -EINVAL;
        }
        *slot = arg;
        return 0;
}

/* --- rendering --- */

static const cJSON *member(const cJSON *obj, const char *key) {
        return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* "192.0.2.11:40123" for {"address", "port"}; null as "-". */
static char *render_endpoint(const cJSON *v) {
        if (!cJSON_IsObject(v))
                return remote_render(v);
        _cleanup_free_ char *address = remote_render(member(v, "address"));
        _cleanup_free_ char *port = remote_render(member(v, "port"));
        return strchr(address, ':') ? xasprintf("[%s]:%s", address, port) : xasprintf("%s:%s", address, port);
}

/* The TUNNEL's few lines a person needs after submit or close. */
static void tunnel_print_summary(const char *word, const cJSON *t) {
        _cleanup_free_ char *id = remote_render(member(t, "id"));
        _cleanup_free_ char *state = remote_render(member(t, "state"));
        _cleanup_free_ char *unit = remote_render(member(t, "unit"));
        _cleanup_free_ char *system = remote_render(json_get(member(t, "system"), "name"));
        _cleanup_free_ char *vm = remote_render(json_get(member(t, "vm"), "name"));
        _cleanup_free_ char *address = remote_render(json_get(member(t, "vm"), "address"));
        _cleanup_free_ char *port = remote_render(member(t, "port"));
        _cleanup_free_ char *minutes = remote_render(member(t, "minutes"));
        _cleanup_free_ char *deadline = remote_render(member(t, "deadline"));
        _cleanup_free_ char *approval = remote_render(member(t, "approval"));
        _cleanup_free_ char *operator = remote_render(json_get(member(t, "operator"), "name"));
        _cleanup_free_ char *org = remote_render(json_get(member(t, "operator"), "organization"));
        _cleanup_free_ char *host = remote_render(member(t, "host"));
        _cleanup_free_ char *endpoint = render_endpoint(member(t, "endpoint"));

        printf("%s: tunnel %s → %s\n", word, id, state);
        printf("approval: %s\n", approval);
        printf("to: %s %s, VM %s (%s) port %s\n", unit, system, vm, address, port);
        printf("operator: %s (%s)\n", operator, org);
        printf("minutes: %s, deadline %s\n", minutes, deadline);
        printf("host: %s, endpoint %s\n", host, endpoint);
}

/* --- submit --- */

static const char submit_usage[] =
        "Usage: gcctl tunnel submit FILE [--token-out TOKEN-FILE] [--sign KEY.pem] [OPTIONS]\n"
        "\n"
        "Submit an approved operations tunnel (POST /v1/tunnels), as the approval\n"
        "system: the client certificate's role must be approval (R-OP1). FILE\n"
        "('-' for standard input) is the signed request of kind \"tunnel\" (see\n"
        "scripts/samples/tunnel.json), sent as it is, or, with --sign, signed first\n"
        "as `gcctl request sign` does and sent compact.\n"
        "\n"
        "The orchestrator answers with the tunnel and its one-time token:\n"
        "  accepted: tunnel 7 → opening      (HTTP 201) and the token\n"
        "  existing: tunnel 7 → ...          (HTTP 200: this approval was submitted\n"
        "                                     before with the same content; the token\n"
        "                                     is not shown again)\n"
        "The token is shown only once (the orchestrator keeps only its hash): hand\n"
        "it to the operator, who connects with `gcctl tunnel connect ID\n"
        "--token-file FILE`. A refusal prints the field, the value and the rule,\n"
        "exit status 1.\n"
        "\n"
        "Options:\n"
        "  --token-out TOKEN-FILE\n"
        "                  write the token to TOKEN-FILE (mode 0600) instead of\n"
        "                  printing it\n"
        "  --sign KEY.pem  sign with the approval system's private key first\n"
        "  --json          print the orchestrator's answer (also a refusal) as JSON;\n"
        "                  with --token-out, \"token\" is left out and \"token_file\"\n"
        "                  names the file\n"
        "  --help          this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl tunnel submit tunnel.signed.json --token-out t7.token --profile approval-oa.json\n";

static const struct option submit_options[] = {
        { "sign", required_argument, NULL, ARG_SIGN },
        { "token-out", required_argument, NULL, ARG_TOKEN_OUT },
        {}
};

static int run_submit(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl tunnel submit" };
        struct tunnel_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *body = NULL;
        const cJSON *tunnel, *token;
        bool existing;
        size_t len = 0;
        long status = 0;
        int ex, i, r;

        i = remote_parse_options(&rm, argc, argv, submit_usage, submit_options, tunnel_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 1, "FILE");
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = gcctl_request_body(&rm, argv[i], a.sign, &body, &len);
        if (ex != GCCTL_EXIT_OK)
                return ex;

        ex = remote_call(&rm, "POST", "/v1/tunnels", body, len, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        ex = remote_member(&rm, answer, "tunnel", cJSON_Object, &tunnel);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        token = member(answer, "token");
        existing = status == 200 || cJSON_IsTrue(member(answer, "existing"));
        _cleanup_free_ char *id = remote_render(member(tunnel, "id"));

        if (!existing && (!cJSON_IsString(token) || strlen(token->valuestring) != TUNNEL_TOKEN_LEN))
                return remote_fail(&rm, "unexpected answer: tunnel %s was created, but \"token\" is not a "
                                   "%d-character string", id, TUNNEL_TOKEN_LEN);

        /* The token first: it is shown once, so it must land somewhere. */
        if (a.token_out && cJSON_IsString(token)) {
                _cleanup_free_ char *line = xasprintf("%s\n", token->valuestring);
                r = gcctl_write_file_mode(a.token_out, line, strlen(line), 0600);
                if (r < 0) {
                        fprintf(stderr, "%s: --token-out %s: %s; tunnel %s's token, shown only this once: %s\n",
                                rm.verb, a.token_out, strerror(-r), id, token->valuestring);
                        return GCCTL_EXIT_FAIL;
                }
        }

        if (gcctl_global.json) {
                if (a.token_out && cJSON_IsString(token)) {
                        cJSON_DeleteItemFromObjectCaseSensitive(answer, "token");
                        cJSON_AddStringToObject(answer, "token_file", a.token_out);
                }
                gcctl_print_json(answer);
                return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
        }

        tunnel_print_summary(existing ? "existing" : "accepted", tunnel);
        if (existing)
                printf("token: not shown again (it was shown when tunnel %s was first submitted)%s\n", id,
                       a.token_out ? "; --token-out not written" : "");
        else if (a.token_out)
                printf("token: written to %s (mode 0600); it is shown nowhere else\n", a.token_out);
        else
                printf("token: %s\n"
                       "The token is shown only this once: hand it to the operator for\n"
                       "`gcctl tunnel connect %s --token-file FILE`.\n", token->valuestring, id);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- list --- */

static const char list_usage[] =
        "Usage: gcctl tunnel list [--state STATE] [--system ID] [OPTIONS]\n"
        "\n"
        "List operations tunnels, by id (GET /v1/tunnels): each with its\n"
        "state, system, VM and port, operator, host and listener, and deadline.\n"
        "STATE is opening (the host has not opened the listener yet), open,\n"
        "in_session (its one session is live or used), closed or failed.\n"
        "\n"
        "Options:\n"
        "  --state STATE  only tunnels in this state\n"
        "  --system ID    only this system's tunnels\n"
        "  --json         print the orchestrator's answer as JSON\n"
        "  --help         this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl tunnel list --state open --system 3\n";

static const struct option list_options[] = {
        { "state", required_argument, NULL, ARG_STATE },
        { "system", required_argument, NULL, ARG_SYSTEM },
        {}
};

static const struct remote_column tunnel_columns[] = {
        { "ID", "id", NULL },
        { "STATE", "state", NULL },
        { "UNIT", "unit", NULL },
        { "SYSTEM", "system.name", NULL },
        { "VM", "vm.name", NULL },
        { "PORT", "port", NULL },
        { "OPERATOR", "operator.name", NULL },
        { "HOST", "host", NULL },
        { "ENDPOINT", "endpoint", render_endpoint },
        { "DEADLINE", "deadline", NULL },
        { "APPROVAL", "approval", NULL },
};

static bool is_tunnel_state(const char *s) {
        for (const char *const *p = tunnel_states; *p; p++)
                if (strcmp(s, *p) == 0)
                        return true;
        return false;
}

static int run_list(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl tunnel list" };
        struct tunnel_args a = { .verb = rm.verb };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = NULL, *state_q = NULL, *system_q = NULL;
        const cJSON *rows;
        uint64_t system = 0;
        long status;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, list_usage, list_options, tunnel_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_operands(&rm, argc, argv, i, 0, "nothing");
        if (ex == GCCTL_EXIT_OK && a.system)
                ex = remote_parse_uint(&rm, "--system", a.system, 1, INT64_MAX, &system);
        if (ex == GCCTL_EXIT_OK && a.state && !is_tunnel_state(a.state)) {
                _cleanup_free_ char *s = gcctl_printable(a.state);
                ex = gcctl_usage_error(rm.verb, "--state: \"%s\" is not a tunnel state (opening, open, "
                                       "in_session, closed, failed)", s);
        }
        if (ex != GCCTL_EXIT_OK)
                return ex;

        /* The state is one of the names above: nothing to escape. */
        state_q = a.state ? xasprintf("state=%s", a.state) : NULL;
        system_q = a.system ? xasprintf("system=%llu", (unsigned long long) system) : NULL;
        path = xasprintf("/v1/tunnels%s%s%s%s", state_q || system_q ? "?" : "", state_q ? state_q : "",
                         state_q && system_q ? "&" : "", system_q ? system_q : "");
        ex = remote_call(&rm, "GET", path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json) {
                gcctl_print_json(answer);
                return GCCTL_EXIT_OK;
        }
        ex = remote_member(&rm, answer, "tunnels", cJSON_Array, &rows);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        remote_print_table(rows, tunnel_columns, ELEMENTSOF(tunnel_columns));
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- show --- */

static const char show_usage[] =
        "Usage: gcctl tunnel show ID [OPTIONS]\n"
        "\n"
        "Show one operations tunnel (GET /v1/tunnels/ID): its state, approval,\n"
        "system, VM and port, purpose, deadline, host and listener, operator, and\n"
        "its session as the host reported it (opened, first byte, closed and why,\n"
        "bytes each way; '-' until known) and how many connections were refused.\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl tunnel show 7\n";

/* GET or POST /v1/tunnels/ID[/what] and its "tunnel". */
static int tunnel_call(struct remote *rm, const char *method, uint64_t id, const char *what, cJSON **ret_answer,
                       const cJSON **ret_tunnel) {
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        _cleanup_free_ char *path = xasprintf("/v1/tunnels/%llu%s", (unsigned long long) id, what ? what : "");
        long status;
        int ex;

        ex = remote_call(rm, method, path, NULL, 0, &status, &answer);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        ex = remote_member(rm, answer, "tunnel", cJSON_Object, ret_tunnel);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        *ret_answer = TAKE_PTR(answer);
        return GCCTL_EXIT_OK;
}

static int run_show(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl tunnel show" };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        const cJSON *tunnel;
        uint64_t id;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, show_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        ex = ex ?: tunnel_call(&rm, "GET", id, NULL, &answer, &tunnel);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json)
                gcctl_print_json(answer);
        else
                remote_print_fields(tunnel, NULL);
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- close --- */

static const char close_usage[] =
        "Usage: gcctl tunnel close ID [OPTIONS]\n"
        "\n"
        "Cut operations tunnel ID now (POST /v1/tunnels/ID/close; the provider's\n"
        "or the authority's role): the orchestrator orders its host to cut a live\n"
        "session and close the listener (close reason \"revoked\"); the token is\n"
        "good for nothing after. Prints the tunnel as the orchestrator holds it\n"
        "then; `gcctl tunnel show ID` tells when the host has closed it. A tunnel\n"
        "already closed or failed is refused (HTTP 409).\n"
        "\n"
        "Options:\n"
        "  --json     print the orchestrator's answer as JSON\n"
        "  --help     this text\n"
        REMOTE_OPTIONS_HELP
        "\n"
        "Example:\n"
        "  gcctl tunnel close 7 --profile provider.json\n";

static int run_close(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl tunnel close" };
        _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
        const cJSON *tunnel;
        uint64_t id;
        int ex, i;

        i = remote_parse_options(&rm, argc, argv, close_usage, NULL, NULL, NULL, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        ex = ex ?: tunnel_call(&rm, "POST", id, "/close", &answer, &tunnel);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (gcctl_global.json)
                gcctl_print_json(answer);
        else {
                _cleanup_free_ char *reason = remote_render(json_get(member(tunnel, "session"), "close_reason"));
                tunnel_print_summary("close ordered", tunnel);
                printf("close reason: %s\n", reason);
        }
        return fflush(stdout) == 0 ? GCCTL_EXIT_OK : GCCTL_EXIT_FAIL;
}

/* --- connect --- */

static const char connect_usage[] =
        "Usage: gcctl tunnel connect ID (--token-file FILE | --token TOKEN)\n"
        "                           [--listen [ADDR:]PORT | --stdio]\n"
        "                           [--endpoint ADDR:PORT --host NAME] [--wait SECONDS] [OPTIONS]\n"
        "\n"
        "Connect to the VM through approved operations tunnel ID, as its operator:\n"
        "the client certificate (--cert, --key) must be the operator's named in the\n"
        "approval, and TOKEN the one-time token `gcctl tunnel submit` printed\n"
        "(R-OP1, R-OP2).\n"
        "\n"
        "Unless --endpoint and --host are given, the tunnel is looked up first\n"
        "(GET /v1/tunnels/ID) for its listener and host; while it is opening this\n"
        "is repeated for up to --wait seconds; a closed or failed tunnel is an\n"
        "error naming its close reason.\n"
        "\n"
        "The tunnel is single-use: one local connection, one session. By default\n"
        "gcctl listens on 127.0.0.1 on a port the kernel chooses, prints\n"
        "  listening on 127.0.0.1:PORT\n"
        "on standard error, accepts exactly one connection and closes the port.\n"
        "With --stdio, standard input and output are the connection, for ssh:\n"
        "  ssh -o ProxyCommand='gcctl tunnel connect 7 --token-file t7.token --stdio' user@vm\n"
        "\n"
        "The connection to the listener is TLS 1.3 with the client certificate;\n"
        "the listener's certificate must chain to the CA (--cacert) and name the\n"
        "tunnel's host in its subject: OU=host, CN=<host> (host names and\n"
        "addresses in it are not what is checked). gcctl then sends the\n"
        "\"gc-tunnel/1\" line with the tunnel and the token (include/gc/wire.h) and\n"
        "forwards bytes both ways until both sides have closed; an end of input on\n"
        "one side is passed on as a half-close. At the end it prints on standard\n"
        "error\n"
        "  tunnel ID: closed after X s, N bytes sent, M bytes received\n"
        "(with --json and --listen also one JSON object on standard output).\n"
        "\n"
        "Options:\n"
        "  --token-file FILE  the token, the first line of FILE\n"
        "  --token TOKEN      the token itself (visible to other users in the\n"
        "                     process list: prefer --token-file); without either,\n"
        "                     the environment variable GC_TUNNEL_TOKEN\n"
        "  --listen [ADDR:]PORT\n"
        "                     the local port (default 127.0.0.1:0, any free port;\n"
        "                     PORT alone listens on 127.0.0.1; [ADDR]:PORT for IPv6)\n"
        "  --stdio            standard input and output are the local connection\n"
        "  --endpoint ADDR:PORT\n"
        "                     the listener, without asking the orchestrator (needs\n"
        "                     --host)\n"
        "  --host NAME        the host whose certificate the listener must present\n"
        "                     (CN=NAME, OU=host)\n"
        "  --wait SECONDS     how long to wait for an opening tunnel (default 30)\n"
        "  --json             the summary as JSON on standard output (--listen only)\n"
        "  --help             this text\n"
        REMOTE_OPTIONS_HELP_WITH(
        "  --key FILE       its private key, PEM, not encrypted (GC_KEY; default:\n"
        "                   the --cert file)\n")
        "--server is not needed with --endpoint and --host.\n"
        "\n"
        "Exit status of connect: 0 the session ended normally (both sides closed);\n"
        "1 failed (the tunnel is not open, the listener cannot be reached, its\n"
        "certificate is wrong, ...); 2 usage error; 3 the agent refused the\n"
        "connection (\"gcctl: tunnel ID refused: CODE: MESSAGE\"; CODE as in\n"
        "include/gc/wire.h: wrong_operator, wrong_token, in_use, target_unreachable,\n"
        "...); 4 the agent cut the session (the connection ended without a TLS\n"
        "close_notify, or a TLS error: the deadline passed, the tunnel was closed,\n"
        "the host's agent stopped).\n"
        "\n"
        "Examples:\n"
        "  gcctl tunnel connect 7 --token-file t7.token --cert zhangsan.crt --key zhangsan.key \\\n"
        "      --cacert ca.crt --server https://orchestrator:8443\n"
        "  gcctl tunnel connect 7 --token-file t7.token --listen 2222 --endpoint 192.0.2.11:40123 \\\n"
        "      --host host-1 --cert zhangsan.crt --key zhangsan.key --cacert ca.crt\n";

static const struct option connect_options[] = {
        { "token", required_argument, NULL, ARG_TOKEN },
        { "token-file", required_argument, NULL, ARG_TOKEN_FILE },
        { "listen", required_argument, NULL, ARG_LISTEN },
        { "stdio", no_argument, NULL, ARG_STDIO },
        { "endpoint", required_argument, NULL, ARG_ENDPOINT },
        { "host", required_argument, NULL, ARG_HOST },
        { "wait", required_argument, NULL, ARG_WAIT },
        {}
};

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The milliseconds left until deadline (a now_ms() value), for poll(). */
static int ms_left(int64_t deadline) {
        int64_t left = deadline - now_ms();
        return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int) left;
}

/* "ADDR:PORT", "[ADDR]:PORT", or with port_only "PORT" (ADDR then NULL). */
static int parse_host_port(const char *s, bool port_only, char **ret_addr, char **ret_port) {
        const char *colon, *port;
        _cleanup_free_ char *addr = NULL;
        size_t n;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                addr = xstrndup(s + 1, close - s - 1);
                port = close + 2;
        } else if ((colon = strrchr(s, ':'))) {
                if (strchr(s, ':') != colon)
                        return -EINVAL;         /* IPv6 needs brackets */
                addr = xstrndup(s, colon - s);
                port = colon + 1;
        } else if (port_only)
                port = s;
        else
                return -EINVAL;
        n = strlen(port);
        if (n == 0 || n > 5 || strspn(port, "0123456789") != n || atoi(port) > 65535)
                return -EINVAL;
        if (addr && !*addr)
                return -EINVAL;
        *ret_addr = TAKE_PTR(addr);
        *ret_port = xstrdup(port);
        return 0;
}

static bool is_token(const char *s) {
        size_t n = strlen(s);
        return n == TUNNEL_TOKEN_LEN &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* The token from --token, --token-file or GC_TUNNEL_TOKEN; never printed. */
static int connect_token(const struct remote *rm, const struct tunnel_args *a, char **ret) {
        _cleanup_free_ char *data = NULL;
        const char *env = getenv("GC_TUNNEL_TOKEN");
        size_t len = 0;
        int r;

        if (a->token && a->token_file)
                return gcctl_usage_error(rm->verb, "--token and --token-file: give one of them");
        if (a->token) {
                if (!is_token(a->token))
                        return gcctl_usage_error(rm->verb, "--token: a value of %zu characters is not a tunnel "
                                                 "token (%d characters of base64url)", strlen(a->token),
                                                 TUNNEL_TOKEN_LEN);
                *ret = xstrdup(a->token);
                return GCCTL_EXIT_OK;
        }
        if (a->token_file) {
                r = gc_read_file(a->token_file, TUNNEL_TOKEN_FILE_MAX, &data, &len);
                if (r == -EFBIG)
                        return remote_fail(rm, "--token-file %s: larger than %u bytes: not a token file",
                                           a->token_file, TUNNEL_TOKEN_FILE_MAX);
                if (r < 0)
                        return remote_fail(rm, "--token-file %s: %s", a->token_file, strerror(-r));
                (void) len;
                data[strcspn(data, "\r\n")] = '\0';     /* the first line */
                if (!is_token(data))
                        return remote_fail(rm, "--token-file %s: its first line (%zu characters) is not a tunnel "
                                           "token (%d characters of base64url)", a->token_file, strlen(data),
                                           TUNNEL_TOKEN_LEN);
                *ret = TAKE_PTR(data);
                return GCCTL_EXIT_OK;
        }
        if (env && *env) {
                if (!is_token(env))
                        return gcctl_usage_error(rm->verb, "GC_TUNNEL_TOKEN: a value of %zu characters is not a "
                                                 "tunnel token (%d characters of base64url)", strlen(env),
                                                 TUNNEL_TOKEN_LEN);
                *ret = xstrdup(env);
                return GCCTL_EXIT_OK;
        }
        return gcctl_usage_error(rm->verb, "no token: give --token-file FILE or --token TOKEN, or set "
                                 "GC_TUNNEL_TOKEN");
}

/* Where to connect: the listener and the host that must serve it. */
struct tunnel_target {
        char *address, *port;
        char *host;
};

static void tunnel_target_done(struct tunnel_target *t) {
        free(t->address);
        free(t->port);
        free(t->host);
}

/* GET /v1/tunnels/ID until it is open (or wait_s have passed). */
static int tunnel_locate(struct remote *rm, uint64_t id, uint64_t wait_s, struct tunnel_target *ret) {
        int64_t deadline = now_ms() + (int64_t) wait_s * 1000;
        bool told = false;

        for (;;) {
                _cleanup_(cJSON_Deletep) cJSON *answer = NULL;
                const cJSON *tunnel, *endpoint;
                const char *state, *host, *address;
                int ex;

                ex = tunnel_call(rm, "GET", id, NULL, &answer, &tunnel);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
                state = str_at(tunnel, "state");
                endpoint = member(tunnel, "endpoint");
                host = str_at(tunnel, "host");
                address = str_at(endpoint, "address");
                if (!state)
                        return remote_fail(rm, "unexpected answer: tunnel %llu has no \"state\"",
                                           (unsigned long long) id);
                _cleanup_free_ char *st = gcctl_printable(state);

                if (strcmp(state, "closed") == 0 || strcmp(state, "failed") == 0) {
                        _cleanup_free_ char *reason = remote_render(json_get(member(tunnel, "session"),
                                                                             "close_reason"));
                        return remote_fail(rm, "tunnel %llu is %s (close reason: %s): a tunnel is never reopened",
                                           (unsigned long long) id, st, reason);
                }
                if (strcmp(state, "in_session") == 0)
                        return remote_fail(rm, "tunnel %llu is in_session: its one session is live or has been "
                                           "used (a tunnel is single-use)", (unsigned long long) id);
                if (strcmp(state, "open") == 0 && address && host && *host) {
                        const cJSON *port = member(endpoint, "port");
                        if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535 ||
                            port->valuedouble != (int) port->valuedouble)
                                return remote_fail(rm, "unexpected answer: tunnel %llu: endpoint.port is not a "
                                                   "port number", (unsigned long long) id);
                        ret->address = xstrdup(address);
                        ret->port = xasprintf("%d", (int) port->valuedouble);
                        ret->host = xstrdup(host);
                        return GCCTL_EXIT_OK;
                }
                if (strcmp(state, "opening") != 0 && strcmp(state, "open") != 0)
                        return remote_fail(rm, "tunnel %llu: unexpected state \"%s\"", (unsigned long long) id, st);
                if (ms_left(deadline) == 0)
                        return remote_fail(rm, "tunnel %llu is still %s after --wait %llu s: its host has not "
                                           "reported the listener", (unsigned long long) id, st,
                                           (unsigned long long) wait_s);
                if (!told) {
                        fprintf(stderr, "%s: tunnel %llu is %s; waiting up to %llu s for its listener\n", rm->verb,
                                (unsigned long long) id, st, (unsigned long long) wait_s);
                        told = true;
                }
                int wait = ms_left(deadline);
                (void) poll(NULL, 0, wait < 1000 ? wait : 1000);
        }
}

/* The last OpenSSL error as text (or fallback), and the queue emptied. */
static const char *ssl_error_text(const char *fallback, char *buf, size_t size) {
        unsigned long e = ERR_peek_last_error();

        if (e == 0)
                snprintf(buf, size, "%s", fallback);
        else
                ERR_error_string_n(e, buf, size);
        ERR_clear_error();
        return buf;
}

static int no_password(char *buf, int size, int rwflag, void *userdata) {
        (void) buf, (void) size, (void) rwflag, (void) userdata;
        return -1;      /* keys are never prompted for */
}

/* What the verify callback checks and found. */
struct peer_check {
        const char *host;       /* CN the listener's certificate must have */
        char subject[512];      /* its subject, RFC 2253 */
        char problem[800];      /* why it was refused; "" while fine */
};

static int peer_check_idx = -1;

static void name_rfc2253(X509_NAME *name, char *buf, size_t size) {
        _cleanup_(BIO_free_allp) BIO *b = BIO_new(BIO_s_mem());
        char *p;
        long n;

        buf[0] = '\0';
        if (!b || X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return;
        n = BIO_get_mem_data(b, &p);
        snprintf(buf, size, "%.*s", (int) (n < 0 ? 0 : n), p);
        for (char *c = buf; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
}

/* The one entry nid of name equals want exactly (UTF-8, no embedded NUL). */
static bool name_entry_is(X509_NAME *name, int nid, const char *want) {
        int i = X509_NAME_get_index_by_NID(name, nid, -1);
        unsigned char *utf8 = NULL;
        bool ok;
        int n;

        if (i < 0 || X509_NAME_get_index_by_NID(name, nid, i) >= 0)
                return false;           /* none, or more than one */
        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (n < 0)
                return false;
        ok = (size_t) n == strlen(want) && memcmp(utf8, want, n) == 0;
        OPENSSL_free(utf8);
        return ok;
}

/* The chain as OpenSSL verified it, then the leaf's subject: OU=host,
 * CN=<the tunnel's host>. Refusing here stops the handshake, so nothing is
 * sent to a listener that is not the tunnel's host. */
static int verify_peer(int preverify_ok, X509_STORE_CTX *ctx) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
        struct peer_check *pc = ssl ? SSL_get_ex_data(ssl, peer_check_idx) : NULL;
        X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
        int depth = X509_STORE_CTX_get_error_depth(ctx);

        if (!pc)
                return 0;
        if (!preverify_ok) {
                if (!pc->problem[0])
                        snprintf(pc->problem, sizeof pc->problem, "certificate chain (depth %d): %s", depth,
                                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
                return 0;
        }
        if (depth != 0 || !cert)
                return 1;
        X509_NAME *subject = X509_get_subject_name(cert);
        name_rfc2253(subject, pc->subject, sizeof pc->subject);
        if (!name_entry_is(subject, NID_organizationalUnitName, "host") ||
            !name_entry_is(subject, NID_commonName, pc->host)) {
                _cleanup_free_ char *host = gcctl_printable(pc->host);
                snprintf(pc->problem, sizeof pc->problem,
                         "the listener's certificate subject is \"%s\", not OU=host, CN=%s", pc->subject, host);
                X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
                return 0;
        }
        return 1;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(SSL *, SSL_free)

/* TLS 1.3 client context with the operator's certificate and the CA. */
static int tls_context(const struct remote *rm, const struct client_config *cfg, SSL_CTX **ret) {
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        const char *key = cfg->key ? cfg->key : cfg->cert;
        char buf[256];

        if (!ctx)
                return remote_fail(rm, "TLS: %s", ssl_error_text("cannot create a context", buf, sizeof buf));
        SSL_CTX_set_default_passwd_cb(ctx, no_password);
        if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
            SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
                return remote_fail(rm, "TLS 1.3: %s", ssl_error_text("not available", buf, sizeof buf));
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1)
                return remote_fail(rm, "client certificate %s: %s", cfg->cert,
                                   ssl_error_text("not a PEM certificate", buf, sizeof buf));
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
                return remote_fail(rm, "client key %s: %s", key,
                                   ssl_error_text("not a PEM private key (encrypted keys are not supported)",
                                                  buf, sizeof buf));
        if (SSL_CTX_check_private_key(ctx) != 1)
                return remote_fail(rm, "client key %s: does not match the certificate %s: %s", key, cfg->cert,
                                   ssl_error_text("mismatch", buf, sizeof buf));
        if (cfg->cacert ? SSL_CTX_load_verify_locations(ctx, cfg->cacert, NULL) != 1
                        : SSL_CTX_set_default_verify_paths(ctx) != 1)
                return remote_fail(rm, "CA file %s: %s", cfg->cacert ? cfg->cacert : "(the system's)",
                                   ssl_error_text("no certificates", buf, sizeof buf));
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_peer);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        *ret = TAKE_PTR(ctx);
        return GCCTL_EXIT_OK;
}

static int set_nonblock(int fd, bool on, int *ret_old) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0)
                return -errno;
        if (ret_old)
                *ret_old = flags;
        if (fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static void set_nodelay(int fd) {
        int one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* "192.0.2.11:40123", "[::1]:22" */
static char *sockaddr_text(const struct sockaddr *sa, socklen_t len) {
        char host[NI_MAXHOST], port[NI_MAXSERV];

        if (getnameinfo(sa, len, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
                return xstrdup("?");
        return sa->sa_family == AF_INET6 ? xasprintf("[%s]:%s", host, port) : xasprintf("%s:%s", host, port);
}

/* TCP to the listener, non-blocking, within TUNNEL_CONNECT_TIMEOUT_MS. */
static int dial(const struct remote *rm, const struct tunnel_target *t, int *ret_fd) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *res = NULL;
        int r, err = 0;

        r = getaddrinfo(t->address, t->port, &hints, &res);
        if (r != 0)
                return remote_fail(rm, "endpoint %s: %s", t->address, gai_strerror(r));
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
                if (fd < 0) {
                        err = errno;
                        continue;
                }
                if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        err = errno;
                        close(fd);
                        continue;
                }
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                socklen_t len = sizeof err;
                r = poll(&p, 1, TUNNEL_CONNECT_TIMEOUT_MS);
                if (r == 0)
                        err = ETIMEDOUT;
                else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err == 0) {
                        freeaddrinfo(res);
                        set_nodelay(fd);
                        *ret_fd = fd;
                        return GCCTL_EXIT_OK;
                }
                close(fd);
        }
        freeaddrinfo(res);
        _cleanup_free_ char *a = gcctl_printable(t->address);
        return remote_fail(rm, "endpoint %s%s%s:%s: %s", strchr(a, ':') ? "[" : "", a, strchr(a, ':') ? "]" : "",
                           t->port, strerror(err ? err : EHOSTUNREACH));
}

/* Wait until the socket is ready for what SSL_get_error() said. */
static int ssl_wait(int fd, int ssl_err, int64_t deadline) {
        struct pollfd p = { .fd = fd, .events = ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN };
        int r;

        do
                r = poll(&p, 1, ms_left(deadline));
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

/* Why an SSL call failed, for messages. */
static const char *ssl_fail_text(SSL *ssl, int ret, char *buf, size_t size) {
        int e = SSL_get_error(ssl, ret);

        if (e == SSL_ERROR_ZERO_RETURN)
                snprintf(buf, size, "the agent closed the TLS connection");
        else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                snprintf(buf, size, "%s", errno ? strerror(errno) : "the connection was closed");
        else
                ssl_error_text("TLS error", buf, size);
        return buf;
}

/* The session's state while bytes are forwarded. */
struct fwd_buf {
        char data[TUNNEL_BUF];
        size_t start, end;
};

static size_t fwd_len(const struct fwd_buf *b) {
        return b->end - b->start;
}

/* Room at the end, after moving what is left to the front if need be. */
static size_t fwd_room(struct fwd_buf *b) {
        if (b->start == b->end)
                b->start = b->end = 0;
        else if (b->end == sizeof b->data && b->start > 0) {
                memmove(b->data, b->data + b->start, fwd_len(b));
                b->end -= b->start;
                b->start = 0;
        }
        return sizeof b->data - b->end;
}

struct forward {
        SSL *ssl;
        int tls_fd;
        int in_fd, out_fd;              /* the local side: one socket, or standard input and output */
        bool stdio;
        struct fwd_buf up, down;        /* local -> agent, agent -> local */
        int write_pending;              /* length of an SSL_write to repeat; 0: none */
        short read_wants, write_wants, shutdown_wants;  /* POLLIN / POLLOUT the TLS calls wait for */
        short tls_ready;                /* what poll() last said of the TLS socket */
        bool in_ready, out_ready;
        bool local_eof;                 /* the local input ended */
        bool local_broken;              /* the local side cannot take bytes any more */
        bool notify_sent;               /* our close_notify */
        bool agent_eof;                 /* the agent's close_notify */
        bool local_out_closed;          /* shutdown(SHUT_WR), or standard output closed */
        bool cut;                       /* ended without close_notify, or a TLS error */
        char cut_reason[256];
        uint64_t sent, received;
};

static void forward_cut(struct forward *f, int ret) {
        if (!f->cut)
                ssl_fail_text(f->ssl, ret, f->cut_reason, sizeof f->cut_reason);
        f->cut = true;
}

/* End the local output: the agent's side has no more to say. */
static void forward_close_local_out(struct forward *f) {
        if (f->stdio) {
                /* A socket (inetd style) gets its half-close; a pipe is closed,
                 * and /dev/null takes its place so fd 1 stays taken. */
                if (shutdown(f->out_fd, SHUT_WR) < 0) {
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                        if (null >= 0) {
                                (void) dup2(null, f->out_fd);
                                close(null);
                        } else
                                (void) close(f->out_fd);
                }
        } else
                (void) shutdown(f->out_fd, SHUT_WR);
        f->local_out_closed = true;
}

/* One pass over every direction: true when something moved. */
static bool forward_step(struct forward *f) {
        bool progress = false;
        ssize_t n;
        int r;

        /* local -> up */
        if (f->in_ready && !f->local_eof && fwd_room(&f->up) > 0) {
                n = read(f->in_fd, f->up.data + f->up.end, fwd_room(&f->up));
                if (n > 0) {
                        f->up.end += (size_t) n;
                        progress = true;
                } else if (n == 0) {
                        f->local_eof = true;
                        progress = true;
                } else if (errno == EAGAIN || errno == EWOULDBLOCK)
                        f->in_ready = false;
                else if (errno != EINTR) {
                        /* A reset: the local side is gone both ways. */
                        f->local_eof = f->local_broken = true;
                        progress = true;
                }
        }

        /* up -> TLS */
        if (fwd_len(&f->up) > 0 && !f->notify_sent && (f->tls_ready & f->write_wants)) {
                int len = f->write_pending ? f->write_pending
                                           : (int) (fwd_len(&f->up) > INT32_MAX ? INT32_MAX : fwd_len(&f->up));
                ERR_clear_error();
                r = SSL_write(f->ssl, f->up.data + f->up.start, len);
                if (r > 0) {
                        f->up.start += (size_t) r;
                        f->sent += (uint64_t) r;
                        f->write_pending = 0;
                        f->write_wants = POLLOUT;
                        progress = true;
                } else {
                        int e = SSL_get_error(f->ssl, r);
                        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                                f->write_pending = len;
                                f->write_wants = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
                                f->tls_ready &= (short) ~f->write_wants;
                        } else {
                                forward_cut(f, r);
                                return true;
                        }
                }
        }

        /* Local EOF and everything sent: close_notify; keep reading. */
        if (f->local_eof && fwd_len(&f->up) == 0 && !f->notify_sent && (f->tls_ready & f->shutdown_wants)) {
                ERR_clear_error();
                r = SSL_shutdown(f->ssl);
                if (r >= 0) {
                        f->notify_sent = true;
                        progress = true;
                } else {
                        int e = SSL_get_error(f->ssl, r);
                        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                                f->shutdown_wants = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
                                f->tls_ready &= (short) ~f->shutdown_wants;
                        } else {
                                forward_cut(f, r);
                                return true;
                        }
                }
        }

        /* TLS -> down; SSL_has_pending: records read but not yet handed out. */
        if (!f->agent_eof && fwd_room(&f->down) > 0 &&
            ((f->tls_ready & f->read_wants) || SSL_has_pending(f->ssl))) {
                size_t room = fwd_room(&f->down);
                ERR_clear_error();
                r = SSL_read(f->ssl, f->down.data + f->down.end, room > INT32_MAX ? INT32_MAX : (int) room);
                if (r > 0) {
                        f->down.end += (size_t) r;
                        f->received += (uint64_t) r;
                        f->read_wants = POLLIN;
                        progress = true;
                } else {
                        int e = SSL_get_error(f->ssl, r);
                        if (e == SSL_ERROR_ZERO_RETURN) {
                                f->agent_eof = true;
                                progress = true;
                        } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                                f->read_wants = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
                                f->tls_ready &= (short) ~f->read_wants;
                        } else {
                                forward_cut(f, r);
                                return true;
                        }
                }
        }

        /* down -> local */
        if (fwd_len(&f->down) > 0 && f->local_broken) {
                f->down.start = f->down.end = 0;
                progress = true;
        } else if (fwd_len(&f->down) > 0 && f->out_ready) {
                n = write(f->out_fd, f->down.data + f->down.start, fwd_len(&f->down));
                if (n > 0) {
                        f->down.start += (size_t) n;
                        progress = true;
                } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        f->out_ready = false;
                else if (n < 0 && errno != EINTR) {
                        f->local_broken = true;
                        progress = true;
                }
        }

        /* The agent's EOF and everything written: half-close the local side. */
        if (f->agent_eof && fwd_len(&f->down) == 0 && !f->local_out_closed && !f->local_broken) {
                forward_close_local_out(f);
                progress = true;
        }
        return progress;
}

static bool forward_done(const struct forward *f) {
        bool up_done = f->local_eof && fwd_len(&f->up) == 0 && f->notify_sent;
        /* A local side that cannot take bytes ends the session with our
         * close_notify: the agent's remaining bytes have nowhere to go. */
        bool down_done = (f->agent_eof && fwd_len(&f->down) == 0 && f->local_out_closed) || f->local_broken;
        return f->cut || (up_done && down_done);
}

/* Forward until both directions have ended or the connection is cut. */
static int forward_run(struct forward *f) {
        f->read_wants = POLLIN;
        f->write_wants = POLLOUT;
        f->shutdown_wants = POLLOUT;
        f->tls_ready = POLLIN | POLLOUT;
        f->in_ready = f->out_ready = true;

        for (;;) {
                while (forward_step(f) && !forward_done(f))
                        ;
                if (forward_done(f))
                        return 0;

                struct pollfd p[3];
                nfds_t np = 0;
                int in_i = -1, out_i = -1, tls_i;
                short tls_events = 0;

                if (!f->local_eof && fwd_room(&f->up) > 0) {
                        p[np] = (struct pollfd) { .fd = f->in_fd, .events = POLLIN };
                        in_i = (int) np++;
                }
                if (fwd_len(&f->down) > 0 && !f->local_broken) {
                        if (in_i >= 0 && f->out_fd == f->in_fd)
                                p[in_i].events |= POLLOUT, out_i = in_i;
                        else {
                                p[np] = (struct pollfd) { .fd = f->out_fd, .events = POLLOUT };
                                out_i = (int) np++;
                        }
                }
                if (!f->agent_eof && fwd_room(&f->down) > 0)
                        tls_events |= f->read_wants;
                if (fwd_len(&f->up) > 0 && !f->notify_sent)
                        tls_events |= f->write_wants;
                if (f->local_eof && fwd_len(&f->up) == 0 && !f->notify_sent)
                        tls_events |= f->shutdown_wants;
                p[np] = (struct pollfd) { .fd = f->tls_fd, .events = tls_events };
                tls_i = (int) np++;

                if (poll(p, np, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (in_i >= 0 && (p[in_i].revents & (POLLIN | POLLHUP | POLLERR)))
                        f->in_ready = true;
                if (out_i >= 0 && (p[out_i].revents & (POLLOUT | POLLHUP | POLLERR)))
                        f->out_ready = true;
                if (p[tls_i].revents & (POLLHUP | POLLERR))
                        f->tls_ready = POLLIN | POLLOUT;
                else
                        f->tls_ready |= p[tls_i].revents & (POLLIN | POLLOUT);
        }
}

/* Handshake, preamble, answer line: before a byte is forwarded. Leftover
 * bytes after the answer line (the VM may speak first) go to down. */
enum { HELLO_OK, HELLO_REFUSED, HELLO_FAILED };

static int tunnel_hello(const struct remote *rm, struct forward *f, struct peer_check *pc, uint64_t id,
                        const char *token, const char *where) {
        int64_t deadline = now_ms() + TUNNEL_ANSWER_TIMEOUT_MS;
        _cleanup_(cJSON_Deletep) cJSON *preamble = cJSON_CreateObject(), *answer = NULL;
        _cleanup_free_ char *line = NULL;
        struct gc_error err = {};
        char buf[GC_WIRE_TUNNEL_LINE_MAX + 1], msg[GC_ERROR_FORMAT_MAX];
        size_t len = 0, sent = 0, line_len;
        char *nl = NULL;
        int r;

        for (;;) {
                ERR_clear_error();
                r = SSL_connect(f->ssl);
                if (r == 1)
                        break;
                int e = SSL_get_error(f->ssl, r);
                if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
                    (r = ssl_wait(f->tls_fd, e, deadline)) == 0)
                        continue;
                if (pc->problem[0])
                        remote_fail(rm, "%s: %s", where, pc->problem);
                else if (r == -ETIMEDOUT)
                        remote_fail(rm, "%s: TLS handshake: no answer within %d s", where,
                                    TUNNEL_ANSWER_TIMEOUT_MS / 1000);
                else
                        remote_fail(rm, "%s: TLS handshake: %s", where, ssl_fail_text(f->ssl, r, msg, sizeof msg));
                return HELLO_FAILED;
        }
        /* The callback ran and accepted; this is the belt to its braces. */
        if (SSL_get_verify_result(f->ssl) != X509_V_OK || !SSL_get0_peer_certificate(f->ssl)) {
                remote_fail(rm, "%s: the listener's certificate was not verified", where);
                return HELLO_FAILED;
        }

        cJSON_AddStringToObject(preamble, "protocol", GC_WIRE_TUNNEL_PROTOCOL);
        cJSON_AddNumberToObject(preamble, "tunnel", (double) id);
        cJSON_AddStringToObject(preamble, "token", token);
        _cleanup_free_ char *compact = cJSON_PrintUnformatted(preamble);
        if (!compact)
                abort();
        line = xasprintf("%s\n", compact);
        line_len = strlen(line);
        assert(line_len <= GC_WIRE_TUNNEL_LINE_MAX);
        while (sent < line_len) {
                ERR_clear_error();
                r = SSL_write(f->ssl, line + sent, (int) (line_len - sent));
                if (r > 0) {
                        sent += (size_t) r;
                        continue;
                }
                int e = SSL_get_error(f->ssl, r);
                if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && ssl_wait(f->tls_fd, e, deadline) == 0)
                        continue;
                remote_fail(rm, "%s: sending the tunnel line: %s", where, ssl_fail_text(f->ssl, r, msg, sizeof msg));
                return HELLO_FAILED;
        }
        explicit_bzero(line, line_len);

        while (!nl) {
                if (len == GC_WIRE_TUNNEL_LINE_MAX) {
                        remote_fail(rm, "%s: the agent's answer is longer than %d bytes without a newline", where,
                                    GC_WIRE_TUNNEL_LINE_MAX);
                        return HELLO_FAILED;
                }
                ERR_clear_error();
                r = SSL_read(f->ssl, buf + len, (int) (GC_WIRE_TUNNEL_LINE_MAX - len));
                if (r > 0) {
                        nl = memchr(buf + len, '\n', (size_t) r);
                        len += (size_t) r;
                        continue;
                }
                int e = SSL_get_error(f->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                        r = ssl_wait(f->tls_fd, e, deadline);
                        if (r == 0)
                                continue;
                        remote_fail(rm, "%s: no answer to the tunnel line within %d s", where,
                                    TUNNEL_ANSWER_TIMEOUT_MS / 1000);
                        return HELLO_FAILED;
                }
                remote_fail(rm, "%s: no answer to the tunnel line: %s", where,
                            ssl_fail_text(f->ssl, r, msg, sizeof msg));
                return HELLO_FAILED;
        }

        r = json_parse(buf, (size_t) (nl - buf), &answer, &err);
        if (r < 0 || !cJSON_IsBool(member(answer, "ok"))) {
                remote_fail(rm, "%s: the agent's answer is not {\"ok\": true|false, ...}%s%s", where,
                            r < 0 ? ": " : "", r < 0 ? gc_error_format(&err, msg, sizeof msg) : "");
                return HELLO_FAILED;
        }
        if (!cJSON_IsTrue(member(answer, "ok"))) {
                _cleanup_free_ char *code = gcctl_printable(str_at(answer, "code") ? str_at(answer, "code") : "-");
                _cleanup_free_ char *message = gcctl_printable(str_at(answer, "message") ? str_at(answer, "message")
                                                                                        : "(no message)");
                fprintf(stderr, "gcctl: tunnel %llu refused: %s: %s\n", (unsigned long long) id, code, message);
                return HELLO_REFUSED;
        }
        /* Bytes after the line are the VM's first words. */
        len -= (size_t) (nl + 1 - buf);
        memcpy(f->down.data, nl + 1, len);
        f->down.end = len;
        f->received = len;
        return HELLO_OK;
}

/* Listen on [ADDR:]PORT and print where. */
static int local_listen(const struct remote *rm, const char *spec, int *ret_fd) {
        _cleanup_free_ char *addr = NULL, *port = NULL, *where = NULL;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
        struct addrinfo *res = NULL;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd, one = 1, r;

        if (parse_host_port(spec ? spec : "127.0.0.1:0", true, &addr, &port) < 0)
                return gcctl_usage_error(rm->verb, "--listen: \"%s\" is not [ADDR:]PORT", spec);
        r = getaddrinfo(addr ? addr : "127.0.0.1", port, &hints, &res);
        if (r != 0)
                return gcctl_usage_error(rm->verb, "--listen: \"%s\": %s", spec, gai_strerror(r));
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1) < 0 ||
            getsockname(fd, (struct sockaddr *) &ss, &sl) < 0) {
                int e = errno;
                freeaddrinfo(res);
                if (fd >= 0)
                        close(fd);
                return remote_fail(rm, "--listen %s: %s", spec ? spec : "127.0.0.1:0", strerror(e));
        }
        freeaddrinfo(res);
        where = sockaddr_text((struct sockaddr *) &ss, sl);
        fprintf(stderr, "listening on %s\n", where);
        fflush(stderr);
        *ret_fd = fd;
        return GCCTL_EXIT_OK;
}

static int run_connect(int argc, char **argv) {
        _cleanup_(remote_done) struct remote rm = { .verb = "gcctl tunnel connect" };
        struct tunnel_args a = { .verb = rm.verb };
        _cleanup_(tunnel_target_done) struct tunnel_target target = {};
        _cleanup_(SSL_CTX_freep) SSL_CTX *ctx = NULL;
        _cleanup_(SSL_freep) SSL *ssl = NULL;
        _cleanup_free_ char *token = NULL, *where = NULL;
        _cleanup_free_ struct forward *f = NULL;
        _cleanup_close_ int listen_fd = -1, tls_fd = -1, local_fd = -1;
        struct peer_check pc = {};
        struct gc_error err = {};
        char buf[GC_ERROR_FORMAT_MAX];
        uint64_t id, wait_s = TUNNEL_WAIT_DEFAULT_S;
        int ex, i, r, in_flags = -1, out_flags = -1;
        bool json;

        i = remote_parse_options(&rm, argc, argv, connect_usage, connect_options, tunnel_handle, &a, &ex);
        if (i < 0)
                return ex;
        ex = remote_parse_id(&rm, argc, argv, i, 1, "ID", &id);
        if (ex == GCCTL_EXIT_OK && a.wait)
                ex = remote_parse_uint(&rm, "--wait", a.wait, 0, TUNNEL_WAIT_MAX_S, &wait_s);
        if (ex == GCCTL_EXIT_OK && a.stdio && a.listen)
                ex = gcctl_usage_error(rm.verb, "--listen and --stdio: give one of them");
        if (ex == GCCTL_EXIT_OK && !!a.endpoint != !!a.host)
                ex = gcctl_usage_error(rm.verb, a.endpoint ? "--endpoint needs --host NAME too (the host whose "
                                                             "certificate the listener presents)"
                                                           : "--host needs --endpoint ADDR:PORT too");
        if (ex == GCCTL_EXIT_OK && a.endpoint &&
            parse_host_port(a.endpoint, false, &target.address, &target.port) < 0) {
                _cleanup_free_ char *s = gcctl_printable(a.endpoint);
                ex = gcctl_usage_error(rm.verb, "--endpoint: \"%s\" is not ADDR:PORT ([ADDR]:PORT for IPv6)", s);
        }
        if (ex == GCCTL_EXIT_OK && a.host)
                ex = remote_check_text(&rm, "--host", a.host);
        if (ex == GCCTL_EXIT_OK && a.listen) {
                _cleanup_free_ char *la = NULL, *lp = NULL;
                if (parse_host_port(a.listen, true, &la, &lp) < 0) {
                        _cleanup_free_ char *s = gcctl_printable(a.listen);
                        ex = gcctl_usage_error(rm.verb, "--listen: \"%s\" is not [ADDR:]PORT", s);
                }
        }
        ex = ex ?: connect_token(&rm, &a, &token);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        /* With --stdio, standard output is the connection: nothing else goes there. */
        json = gcctl_global.json && !a.stdio;
        gcctl_global.json = false;
        signal(SIGPIPE, SIG_IGN);

        if (a.endpoint)
                target.host = xstrdup(a.host);
        else {
                ex = tunnel_locate(&rm, id, wait_s, &target);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
        }

        /* The operator's identity: the same settings as every call. */
        r = client_config_resolve(&rm.config, rm.profile, &err);
        if (r < 0)
                return gcctl_usage_error(rm.verb, "profile %s: %s", rm.config.profile ? rm.config.profile : "?",
                                         gc_error_format(&err, buf, sizeof buf));
        if (!rm.config.cert)
                return gcctl_usage_error(rm.verb, "no client certificate: give --cert FILE or set GC_CERT "
                                         "(the operator's certificate named in the approval)");
        ex = tls_context(&rm, &rm.config, &ctx);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        if (peer_check_idx < 0)
                peer_check_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);

        f = xnew(struct forward, 1);
        f->stdio = a.stdio;
        if (a.stdio) {
                f->in_fd = STDIN_FILENO;
                f->out_fd = STDOUT_FILENO;
        } else {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof ss;

                ex = local_listen(&rm, a.listen, &listen_fd);
                if (ex != GCCTL_EXIT_OK)
                        return ex;
                do
                        local_fd = accept4(listen_fd, (struct sockaddr *) &ss, &sl, SOCK_CLOEXEC);
                while (local_fd < 0 && errno == EINTR);
                if (local_fd < 0)
                        return remote_fail(&rm, "accepting the local connection: %s", strerror(errno));
                /* Single-use: nobody else gets in. */
                close(listen_fd);
                listen_fd = -1;
                set_nodelay(local_fd);
                f->in_fd = f->out_fd = local_fd;
        }

        ex = dial(&rm, &target, &tls_fd);
        if (ex != GCCTL_EXIT_OK)
                return ex;
        where = xasprintf("tunnel %llu at %s%s%s:%s", (unsigned long long) id, strchr(target.address, ':') ? "[" : "",
                          target.address, strchr(target.address, ':') ? "]" : "", target.port);
        ssl = SSL_new(ctx);
        pc.host = target.host;
        if (!ssl || SSL_set_fd(ssl, tls_fd) != 1 || SSL_set_ex_data(ssl, peer_check_idx, &pc) != 1)
                return remote_fail(&rm, "TLS: %s", ssl_error_text("cannot set up the connection", buf, sizeof buf));
        f->ssl = ssl;
        f->tls_fd = tls_fd;

        r = tunnel_hello(&rm, f, &pc, id, token, where);
        explicit_bzero(token, strlen(token));
        if (r == HELLO_REFUSED)
                return TUNNEL_EXIT_REFUSED;
        if (r != HELLO_OK)
                return GCCTL_EXIT_FAIL;

        int64_t start = now_ms();
        if ((a.stdio && (set_nonblock(STDIN_FILENO, true, &in_flags) < 0 ||
                         set_nonblock(STDOUT_FILENO, true, &out_flags) < 0)) ||
            (!a.stdio && set_nonblock(local_fd, true, NULL) < 0))
                return remote_fail(&rm, "local connection: %s", strerror(errno));
        r = forward_run(f);
        double seconds = (double) (now_ms() - start) / 1000.0;
        if (in_flags >= 0)
                (void) fcntl(STDIN_FILENO, F_SETFL, in_flags);
        if (out_flags >= 0 && !f->local_out_closed)
                (void) fcntl(STDOUT_FILENO, F_SETFL, out_flags);
        if (r < 0)
                return remote_fail(&rm, "forwarding: %s", strerror(-r));

        if (f->cut)
                fprintf(stderr, "tunnel %llu: cut by the agent after %.1f s (%s), %llu bytes sent, %llu bytes "
                        "received\n", (unsigned long long) id, seconds, f->cut_reason, (unsigned long long) f->sent,
                        (unsigned long long) f->received);
        else
                fprintf(stderr, "tunnel %llu: closed after %.1f s, %llu bytes sent, %llu bytes received\n",
                        (unsigned long long) id, seconds, (unsigned long long) f->sent,
                        (unsigned long long) f->received);
        if (json) {
                _cleanup_(cJSON_Deletep) cJSON *sum = cJSON_CreateObject();
                cJSON_AddNumberToObject(sum, "tunnel", (double) id);
                cJSON_AddStringToObject(sum, "end", f->cut ? "cut" : "closed");
                if (f->cut)
                        cJSON_AddStringToObject(sum, "reason", f->cut_reason);
                cJSON_AddNumberToObject(sum, "seconds", seconds);
                cJSON_AddNumberToObject(sum, "bytes_sent", (double) f->sent);
                cJSON_AddNumberToObject(sum, "bytes_received", (double) f->received);
                gcctl_print_json(sum);
                if (fflush(stdout) != 0)
                        return GCCTL_EXIT_FAIL;
        }
        return f->cut ? TUNNEL_EXIT_CUT : GCCTL_EXIT_OK;
}

const struct gcctl_verb gcctl_tunnel_verbs[] = {
        { "submit", "submit an approved tunnel; prints its one-time token", submit_usage, run_submit, NULL },
        { "list", "operations tunnels and their state", list_usage, run_list, NULL },
        { "show", "one tunnel, its session and refusals", show_usage, run_show, NULL },
        { "close", "cut a tunnel now", close_usage, run_close, NULL },
        { "connect", "connect through a tunnel as its operator (one session)", connect_usage, run_connect, NULL },
        {}
};
