/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcctl: one binary, a table of verbs. A verb either runs or holds a table
 * of sub-verbs; `--help` works on every level.
 *
 * Exit status: 0 success, 1 the thing checked is bad or the operation was
 * refused, 2 usage error (bad options, unknown verb).
 */
#pragma once

#include <sys/types.h>

#include <stdbool.h>

#include <cJSON.h>

#define GCCTL_EXIT_OK 0
#define GCCTL_EXIT_FAIL 1
#define GCCTL_EXIT_USAGE 2

struct gcctl_verb {
        const char *name;
        const char *summary;            /* one line, for the parent's --help */
        const char *usage;              /* full help text of a leaf verb */
        int (*run)(int argc, char **argv);      /* argv[0] is the verb's full name, "gcctl doc sign" */
        const struct gcctl_verb *sub;   /* NULL-name-terminated table */
};

/* Options every verb understands. */
struct gcctl_global {
        bool json;                      /* --json: machine-readable output on stdout */
};
extern struct gcctl_global gcctl_global;

int gcctl_dispatch(const struct gcctl_verb *table, const char *path, int argc, char **argv);

/* Parse a leaf verb's options: --json and --help are handled here; extra
 * long options come in opts (may be NULL) and are handed to handle(). Returns
 * the index of the first operand, or -1 after printing help (exit 0) or a
 * usage error (exit 2) with *ret_exit set. */
struct option;
int gcctl_parse_options(int argc, char **argv, const char *usage, const struct option *opts,
                        int (*handle)(int opt, const char *arg, void *userdata), void *userdata,
                        int *ret_exit);

/* The same, but options may also follow the operands ("gcctl unit add NAME
 * --contact TEXT"); "--" ends the options. */
int gcctl_parse_options_any_order(int argc, char **argv, const char *usage, const struct option *opts,
                                  int (*handle)(int opt, const char *arg, void *userdata), void *userdata,
                                  int *ret_exit);

/* Print usage error "gcctl VERB: msg" and return GCCTL_EXIT_USAGE. */
int gcctl_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a JSON document to stdout (pretty, UTF-8, newline). */
void gcctl_print_json(const cJSON *doc);

/* A copy of s for a terminal or a text file: control characters (a
 * newline too) as '?'. */
char *gcctl_printable(const char *s);

/* Write len bytes to path, or to standard output for NULL or "-". A regular
 * file is written under a temporary name in its directory and renamed into
 * place, so that it is either complete or not there; a device, a pipe or a
 * symbolic link is written through. Negative errno. */
int gcctl_write_file(const char *path, const void *data, size_t len);
/* The same with the mode a new file gets (before the umask): 0600 for a
 * secret. */
int gcctl_write_file_mode(const char *path, const void *data, size_t len, mode_t mode);

/* Tables: text columns aligned by display width (CJK counts 2). */
struct gcctl_table;
struct gcctl_table *gcctl_table_new(unsigned ncols, const char *const *headers);
void gcctl_table_add(struct gcctl_table *t, const char *const *cells);
void gcctl_table_print(const struct gcctl_table *t);
void gcctl_table_free(struct gcctl_table *t);
/* Display width of a UTF-8 string in terminal columns. */
int gcctl_display_width(const char *s);

/* Verb tables of each area. */
extern const struct gcctl_verb gcctl_policy_verbs[];
extern const struct gcctl_verb gcctl_doc_verbs[];
/* Verbs that talk to the orchestrator's API (cli/remote.h), and request sign. */
extern const struct gcctl_verb gcctl_request_verbs[];
/* A signed request document (cli/request.c), for request and tunnel submit:
 * FILE ('-' standard input) read and parsed strictly, with an "approval"
 * object; and approval.signature set with the approval system's key. */
struct remote;
int gcctl_request_load(const struct remote *rm, const char *path, char **ret_data, size_t *ret_len,
                       cJSON **ret_doc);
int gcctl_request_sign(const struct remote *rm, cJSON *doc, const char *key_path);
/* What a submit sends: FILE loaded, signed with key_path when given, else
 * refused without approval.signature; *ret_body malloc()ed. */
int gcctl_request_body(const struct remote *rm, const char *path, const char *key_path, char **ret_body, size_t *ret_len);
extern const struct gcctl_verb gcctl_system_verbs[];
/* The system verbs of its VPC (cli/network.c). */
extern const char gcctl_network_usage[], gcctl_egress_usage[], gcctl_isolate_usage[], gcctl_restore_usage[];
int gcctl_run_network(int argc, char **argv);
int gcctl_run_egress(int argc, char **argv);
int gcctl_run_isolate(int argc, char **argv);
int gcctl_run_restore(int argc, char **argv);
/* The system verbs of its exit (cli/exit.c, R-EX1..R-EX3). */
extern const char gcctl_exit_usage[], gcctl_statement_usage[], gcctl_order_usage[], gcctl_reclaim_usage[];
int gcctl_run_exit(int argc, char **argv);
int gcctl_run_statement(int argc, char **argv);
int gcctl_run_order(int argc, char **argv);
int gcctl_run_reclaim(int argc, char **argv);
/* The exit's block of gcctl system show / exit. */
struct cJSON;
void gcctl_print_exit(const struct cJSON *exit);
extern const struct gcctl_verb gcctl_unit_verbs[];
extern const struct gcctl_verb gcctl_key_verbs[];
extern const struct gcctl_verb gcctl_host_verbs[];
extern const struct gcctl_verb gcctl_pool_verbs[];
extern const struct gcctl_verb gcctl_audit_verbs[];
extern const struct gcctl_verb gcctl_vm_verbs[];
extern const struct gcctl_verb gcctl_clock_verbs[];
extern const struct gcctl_verb gcctl_sheet_verbs[];
extern const struct gcctl_verb gcctl_tunnel_verbs[];
/* Utilization samples, the monthly report and recommendations (cli/usage.c, R-RS1..R-RS7). */
extern const struct gcctl_verb gcctl_metrics_verbs[];
extern const struct gcctl_verb gcctl_report_verbs[];
extern const struct gcctl_verb gcctl_recommendations_verbs[];
