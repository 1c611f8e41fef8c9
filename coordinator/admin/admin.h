/*
 * admin.h - jobcoord-admin, the operators' command-line tool.
 *
 * Each command is a row of a table (admin_cmd): its words, synopsis,
 * options and handler. admin_main.c parses the command line against these
 * tables and generates every --help from them; the handlers live in one file
 * per command group, views apart from changes (admin_user.c,
 * admin_user_change.c, admin_credentials.c, admin_worker.c, admin_worker_control.c,
 * admin_worker_delete.c, admin_command.c, admin_job.c, admin_job_purge.c,
 * admin_job_control.c, admin_security.c) and share three files of helpers:
 * admin_args.c (options, usage and failures with their exit codes, strict
 * numbers), admin_db.c (the connection with the schema check, transactions,
 * row locks, keyring loading) and admin_output.c (JSON and aligned tables).
 *
 * Exit codes (s6 convention): 0 ok, 1 refused (not found, already exists,
 * invalid value), 100 usage error, 111 system error (configuration,
 * PostgreSQL, keys file).
 */
#ifndef JC_ADMIN_H
#define JC_ADMIN_H

#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/config.h"
#include "jcproto/proto.h"
#include "secrets/keyring.h"
#include "principals/principals.h"

#define ADMIN_OK 0
#define ADMIN_REFUSED 1
#define ADMIN_USAGE 100
#define ADMIN_SYSERR 111

#define ADMIN_MAX_POS 4
#define ADMIN_MAX_OPTS 8
#define ADMIN_MAX_GIVEN 64 /* options on one command line, repeats included */

/* ADMIN_TS formats a timestamptz column as ISO 8601 in UTC; ADMIN_TS_MS
 * with milliseconds, for events. */
#define ADMIN_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define ADMIN_TS_MS(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* ADMIN_ONE_LINE is a text column on one line (control characters as
 * spaces), for tables. */
#define ADMIN_ONE_LINE(col) "regexp_replace(" col ", '[[:cntrl:]]', ' ', 'g')"

typedef struct admin_opt {
    const char *name; /* long name without dashes: "grace" */
    const char *arg;  /* placeholder of its value ("SECONDS"); NULL: a flag */
    const char *help;
} admin_opt;

typedef struct admin_ctx {
    jc_config cfg;
    int json;        /* --json */
    PGconn *db;      /* opened by admin_db */
    jc_keyring *kr;  /* loaded by admin_keyring */
} admin_ctx;

typedef struct admin_cmd admin_cmd;

typedef struct admin_args {
    const admin_cmd *cmd;
    const char *pos[ADMIN_MAX_POS]; /* positional arguments after the command words */
    int npos;
    const char *val[ADMIN_MAX_OPTS]; /* by index in cmd->opts, the last given; a flag is "" */
    struct {
        int opt;           /* index in cmd->opts */
        const char *value; /* "" for a flag */
    } given[ADMIN_MAX_GIVEN]; /* every option in command-line order, for repeatable ones */
    int ngiven;
} admin_args;

struct admin_cmd {
    const char *group;    /* "user", or NULL for a one-word command */
    const char *name;     /* "add" */
    const char *synopsis; /* what follows the words: "<id> --role ROLE" */
    const char *summary;  /* one line */
    const char *details;  /* more of --help, may be NULL */
    int nargs;            /* positional arguments required (-1: the handler checks) */
    admin_opt opts[ADMIN_MAX_OPTS]; /* ends at the first without a name */
    int (*run)(admin_ctx *ctx, const admin_args *a);
};

/* Command tables, each ending with an entry whose name is NULL. */
const admin_cmd *admin_user_commands(void);
const admin_cmd *admin_user_change_commands(void);
const admin_cmd *admin_credentials_commands(void);
const admin_cmd *admin_sessions_commands(void);
const admin_cmd *admin_worker_commands(void);
const admin_cmd *admin_worker_control_commands(void);
const admin_cmd *admin_worker_delete_commands(void);
const admin_cmd *admin_command_commands(void);
const admin_cmd *admin_job_commands(void);
const admin_cmd *admin_job_control_commands(void);
const admin_cmd *admin_job_purge_commands(void);
const admin_cmd *admin_security_commands(void);
const admin_cmd *admin_audit_commands(void);

/* admin_opt_value returns the value of option name, NULL if not given. */
const char *admin_opt_value(const admin_args *a, const char *name);

/* admin_usage prints a usage error about a's command and returns
 * ADMIN_USAGE. */
int admin_usage(const admin_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* admin_fail prints "jobcoord-admin: <message>" and returns code. */
int admin_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* admin_last_failure holds the message admin_usage or admin_fail printed
 * last (without the program's name), for the audit entry of the command. */
extern char admin_last_failure[512];

/* admin_audit_after appends the audit entry of the command that ran (rc:
 * its exit code) when it is one that writes and it reached the database
 * (admin_audit.c). Prints a warning when the entry cannot be written. */
void admin_audit_after(admin_ctx *ctx, const admin_args *a, int rc);

/* admin_pr_exit maps a data-layer status to an exit code, printing err
 * unless the status is JC_PR_OK. */
int admin_pr_exit(jc_pr_status st, const char *err);

/* admin_parse_long reads a whole decimal number in min..max; on error it
 * prints why, naming what, and returns ADMIN_REFUSED. */
int admin_parse_long(const char *what, const char *text, long min, long max, long *out);

/* admin_parse_duration reads a duration: whole seconds, or a number with
 * s, m, h or d ("300", "5m", "2h", "1d") into *out seconds, 1..max; on
 * error it prints why, naming what, and returns ADMIN_REFUSED. */
int admin_parse_duration(const char *what, const char *text, long max, long *out);

/* admin_db connects to database.conninfo and checks that the schema is
 * migrated (unless check_schema is 0). Returns an exit code. */
int admin_db(admin_ctx *ctx, int check_schema);

/* admin_exec runs a statement without parameters (BEGIN, COMMIT, NOTIFY...).
 * Returns an exit code, printing the server's message on error. */
int admin_exec(admin_ctx *ctx, const char *sql);

/* admin_end_tx ends the transaction open on ctx->db, if any: commits when
 * rc is ADMIN_OK (returning the commit's exit code), else rolls back and
 * returns rc. */
int admin_end_tx(admin_ctx *ctx, int rc);

/* admin_snapshot starts the read-only REPEATABLE READ transaction of a view,
 * so that the numbers it prints belong together. */
int admin_snapshot(admin_ctx *ctx);

/* admin_operator names who runs the CLI, "user@host" (the OS user and host
 * name), for the history of what an operator changes. */
const char *admin_operator(void);

/* admin_since_arg turns a --since value (an ISO 8601 time, or a number of
 * seconds ago) into a timestamptz text in out, as the server prints it;
 * anything else is refused naming the option. Returns an exit code. */
int admin_since_arg(admin_ctx *ctx, const char *text, char *out, size_t out_size);
/* admin_text_valid tells whether s is valid UTF-8 of at most max bytes. */
int admin_text_valid(const char *s, size_t max);

/* admin_keyring loads security.keys_file with default_id (NULL: the
 * configured security.encryption_key_id). Returns an exit code. */
int admin_keyring(admin_ctx *ctx, const char *default_id);

/* admin_db_keyring is admin_db (schema checked) then admin_keyring with the
 * configured sealing key: what a command that seals secrets needs. Returns
 * an exit code. */
int admin_db_keyring(admin_ctx *ctx);

/* admin_opt_grace reads --grace SECONDS (0..JC_PRINCIPAL_GRACE_MAX) into
 * *grace when given, leaving it alone otherwise. Returns an exit code. */
int admin_opt_grace(const admin_args *a, long *grace);

/* admin_print_done reports a change to principal id: with --json the
 * object {"id":id followed by json_rest (the other members, the closing
 * brace and the newline), else the text line of fmt. */
void admin_print_done(const admin_ctx *ctx, const char *id, const char *json_rest,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* admin_lock_row connects, starts a transaction and runs sql (one $1 = id,
 * ending in FOR UPDATE) into *row (caller PQclears). No row: refused with
 * "no <what> '<id>'". Returns an exit code; the transaction stays open in
 * every case (admin_end_tx closes it). */
int admin_lock_row(admin_ctx *ctx, const char *sql, const char *id, const char *what,
                   PGresult **row);

/* admin_query runs a parameterized query; on error it prints the server's
 * message and returns NULL. The caller PQclears the result. */
PGresult *admin_query(admin_ctx *ctx, const char *sql, int nparams, const char *const *params);

/* admin_b64 writes the standard base64 of len bytes into out (NUL ended). */
void admin_b64(const unsigned char *bin, size_t len, char *out, size_t out_size);

/* JSON output. admin_json_str writes s as a JSON string (null for NULL). */
void admin_json_str(FILE *f, const char *s);
/* admin_json_kv writes "key":"value" preceded by a comma unless first. */
void admin_json_kv(FILE *f, int first, const char *key, const char *value);
/* admin_json_fields writes the columns of row i as "name":value pairs
 * (no braces): numbers and booleans bare, text[] as arrays, NULL as null. */
void admin_json_fields(FILE *f, const PGresult *r, int i);
/* admin_json_rows writes the whole result as an array of objects. */
void admin_json_rows(FILE *f, const PGresult *r);
/* admin_json_list writes a comma-separated list as a JSON array. */
void admin_json_list(FILE *f, const char *csv);
/* JSON documents as jansson trees: admin_json_row returns row i as an
 * object (types as admin_json_fields), admin_json_result every row as an
 * array, admin_json_csv a comma-separated list as an array of strings;
 * each returns NULL when an allocation failed. admin_json_print writes doc
 * (taken; NULL allowed) compact on one line of stdout and returns
 * ADMIN_OK, or ADMIN_SYSERR after saying why. */
json_t *admin_json_row(const PGresult *r, int i);
json_t *admin_json_result(const PGresult *r);
json_t *admin_json_csv(const char *csv);
int admin_json_print(json_t *doc);
/* admin_json_print_row_with prints row 0 of row with the rows of list as
 * its member key (`job show`'s commands, `worker show`'s heartbeats). */
int admin_json_print_row_with(const PGresult *row, const char *key, const PGresult *list);

/* Text output. admin_table collects rows of cells and prints them aligned
 * under their headers. */
typedef struct admin_table admin_table;
admin_table *admin_table_new(int ncols, const char *const *headers);
void admin_table_add(admin_table *t, const char *const *cells);
void admin_table_print(FILE *f, const admin_table *t);
void admin_table_free(admin_table *t);
/* admin_print_result prints a result as a table (headers from the column
 * names, NULL as "-", arrays comma-separated), or "(none)". */
void admin_print_result(FILE *f, const PGresult *r);
/* admin_print_rows prints a result as JSON rows or as a table. */
void admin_print_rows(const admin_ctx *ctx, const PGresult *r);
/* admin_print_record prints row i as "name  value" lines. */
void admin_print_record(FILE *f, const PGresult *r, int i);
/* admin_record_width is the width of admin_print_record's name column;
 * admin_print_field prints one more line aligned with it. */
int admin_record_width(const PGresult *r);
void admin_print_field(FILE *f, int width, const char *name, const char *value);

#endif
