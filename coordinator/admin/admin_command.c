/*
 * admin_command.c - `jobcoord-admin command list|show|resend`: the worker
 * commands and job updates in the outbox (commands), which the relay sends
 * and re-sends until acknowledged (or outbox.max_tries sends, then failed).
 *
 * list and show read; resend writes, in one function (requeue): a failed
 * drain, undrain, config or cancel command goes out again as a new outbox
 * row copying it (new command id, resent_from naming the old one) followed
 * by NOTIFY, as every producer of outbox rows does (jobwrite.c), in a
 * transaction that first locks the recipient's worker record (or the job of
 * a cancel) and checks the command still says what is wanted: a drain only
 * while the worker should be drained, a config only for the worker's
 * current settings version, a cancel only while its job is still canceling
 * on that worker and attempt. Assigns are never sent again (the job was
 * taken back: `job retry`), job updates are not worker commands, and a
 * pending, sent or acknowledged command needs nothing.
 */
#include "admin.h"

#include <string.h>

#include "jobs/cmdstate.h"
#include "jobs/jobwrite.h"

#define LIMIT_DEFAULT "100"
#define LIMIT_MAX 10000L

static const char *const statuses[] = {"pending", "sent", "acked", "failed", "done", NULL};
static const char *const kinds[] = {"assign", "cancel",     "drain", "undrain",
                                    "config", "job.update", NULL};

/* The columns of a command in both views. */
#define COMMAND_COLUMNS \
    "id, kind, recipient, job_id, attempt, status, tries,"                                   \
    " " ADMIN_TS("created_at") " AS created_at, " ADMIN_TS("sent_at") " AS sent_at,"          \
    " " ADMIN_TS("acked_at") " AS acked_at, " ADMIN_TS("next_send_at") " AS next_send_at,"   \
    " error"

/* $1 recipient, $2 status, $3 kind, $4 limit; newest first (by seq, its
 * unique index: no scan of the whole outbox). */
static const char list_sql[] =
    "SELECT " COMMAND_COLUMNS
    " FROM commands"
    " WHERE ($1::text IS NULL OR recipient = $1) AND ($2::text IS NULL OR status = $2)"
    "   AND ($3::text IS NULL OR kind = $3)"
    " ORDER BY seq DESC LIMIT $4::int";

static const char show_sql[] =
    "SELECT " COMMAND_COLUMNS
    ", seq, state, reason, config_version,"
    " array_to_string(settings, ',') AS settings, answers_type, resent_from,"
    " (SELECT string_agg(r.id::text, ',' ORDER BY r.seq) FROM commands r"
    "   WHERE r.resent_from = c.id) AS resent_as"
    " FROM commands c WHERE id = $1";

/* one_of tells whether s is in the NULL-ended list. */
static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* command_id_arg checks a command id argument. */
static int command_id_arg(const char *id)
{
    if (!jc_id_text_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid command id '%s' (a UUID)", id);
    return ADMIN_OK;
}

/* cmd_command_list lists outbox rows, newest first. */
static int cmd_command_list(admin_ctx *ctx, const admin_args *a)
{
    const char *p[4] = {admin_opt_value(a, "worker"), admin_opt_value(a, "status"),
                        admin_opt_value(a, "kind"), admin_opt_value(a, "limit")};
    PGresult *r;
    long n;
    int rc;

    if (p[0] && !jc_principal_name_valid(p[0]))
        return admin_fail(ADMIN_REFUSED, "invalid worker id '%s'", p[0]);
    if (p[1] && !one_of(p[1], statuses))
        return admin_fail(ADMIN_REFUSED,
                          "unknown status '%s' (pending, sent, acked, failed or done)", p[1]);
    if (p[2] && !one_of(p[2], kinds))
        return admin_fail(ADMIN_REFUSED,
                          "unknown kind '%s' (assign, cancel, drain, undrain, config or"
                          " job.update)",
                          p[2]);
    if (!p[3])
        p[3] = LIMIT_DEFAULT;
    else if (admin_parse_long("--limit", p[3], 1, LIMIT_MAX, &n))
        return ADMIN_REFUSED;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    r = admin_query(ctx, list_sql, 4, p);
    if (!r)
        return ADMIN_SYSERR;
    admin_print_rows(ctx, r);
    PQclear(r);
    return ADMIN_OK;
}

/* cmd_command_show prints every column of one outbox row. */
static int cmd_command_show(admin_ctx *ctx, const admin_args *a)
{
    PGresult *r;
    int rc = command_id_arg(a->pos[0]);

    if (rc)
        return rc;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    r = admin_query(ctx, show_sql, 1, &a->pos[0]);
    if (!r)
        return ADMIN_SYSERR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return admin_fail(ADMIN_REFUSED, "no command '%s'", a->pos[0]);
    }
    if (ctx->json) {
        fputc('{', stdout);
        admin_json_fields(stdout, r, 0);
        fputs("}\n", stdout);
    } else {
        admin_print_record(stdout, r, 0);
    }
    PQclear(r);
    return ADMIN_OK;
}

/* still_wanted checks, under the lock of what the command is about, that
 * sending failed command c (kind, recipient, job_id, attempt,
 * config_version) again still does what it did: returns ADMIN_OK, or
 * refuses saying why. Inside the caller's transaction. */
static int still_wanted(admin_ctx *ctx, const PGresult *c)
{
    const char *id = PQgetvalue(c, 0, 0), *kind = PQgetvalue(c, 0, 1);
    const char *p[3] = {PQgetvalue(c, 0, 2), NULL, NULL};
    const char *sql, *why;
    PGresult *r;
    int n = 1, rc;

    if (strcmp(kind, "cancel") == 0) {
        sql =
            "SELECT state = 'canceling' AND worker_id = $1 AND attempt = $3::int"
            " FROM jobs WHERE id = $2::uuid FOR UPDATE";
        why = "its job is no longer canceling on that worker and attempt";
        p[1] = PQgetvalue(c, 0, 3);
        p[2] = PQgetvalue(c, 0, 4);
        n = 3;
    } else if (strcmp(kind, "config") == 0) {
        sql = "SELECT desired_config_version = $2::bigint FROM workers WHERE id = $1 FOR UPDATE";
        why = "newer settings were sent since (worker config sends the current ones)";
        p[1] = PQgetvalue(c, 0, 5);
        n = 2;
    } else {
        sql = strcmp(kind, "drain") == 0
                  ? "SELECT drain_requested FROM workers WHERE id = $1 FOR UPDATE"
                  : "SELECT NOT drain_requested FROM workers WHERE id = $1 FOR UPDATE";
        why = "the worker's drain flag changed since (worker drain or undrain sends it)";
    }
    r = admin_query(ctx, sql, n, p);
    if (!r)
        return ADMIN_SYSERR;
    rc = ADMIN_OK;
    if (PQntuples(r) == 0)
        rc = admin_fail(ADMIN_REFUSED, "command %s: its %s no longer exists; nothing sent", id,
                        strcmp(kind, "cancel") == 0 ? "job" : "worker record");
    else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        rc = admin_fail(ADMIN_REFUSED, "command %s is not sent again: %s; nothing sent", id, why);
    PQclear(r);
    return rc;
}

/* requeue writes the copy of failed command id as a new outbox row and
 * wakes the relay; *new_id gets its id (caller PQclears). */
static int requeue(admin_ctx *ctx, const char *id, PGresult **new_id)
{
    *new_id = admin_query(ctx,
                          "INSERT INTO commands (id, kind, recipient, job_id, attempt, state,"
                          "                      reason, config_version, settings, resent_from)"
                          " SELECT gen_random_uuid(), kind, recipient, job_id, attempt, state,"
                          "        reason, config_version, settings, id"
                          "   FROM commands WHERE id = $1 AND status = " JC_SQL_CMD_FAILED
                          " RETURNING id",
                          1, &id);
    if (!*new_id)
        return ADMIN_SYSERR;
    if (PQntuples(*new_id) != 1)
        return admin_fail(ADMIN_REFUSED, "command %s changed meanwhile; try again", id);
    return admin_exec(ctx, "NOTIFY " JC_OUTBOX_CHANNEL);
}

/* cmd_command_resend sends a failed worker command again (see the top). */
static int cmd_command_resend(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0], *kind, *status;
    PGresult *c = NULL, *new_id = NULL;
    int rc = command_id_arg(id);

    if (rc)
        return rc;
    rc = admin_lock_row(ctx,
                        "SELECT id, kind, recipient, job_id, attempt, config_version, status"
                        " FROM commands WHERE id = $1 FOR UPDATE",
                        id, "command", &c);
    if (rc)
        goto out;
    kind = PQgetvalue(c, 0, 1);
    status = PQgetvalue(c, 0, 6);
    if (strcmp(kind, "job.update") == 0 || strcmp(kind, "assign") == 0) {
        rc = admin_fail(ADMIN_REFUSED, "command %s is %s: %s; nothing sent", id,
                        strcmp(kind, "assign") == 0 ? "an assign" : "a job update",
                        strcmp(kind, "assign") == 0
                            ? "an assign is never sent again (its job was taken back; job retry"
                              " runs a failed job again)"
                            : "job updates are sent once, not worker commands");
        goto out;
    }
    if (strcmp(status, "failed") != 0) {
        rc = admin_fail(ADMIN_REFUSED, "command %s is %s: only a failed command is sent again%s",
                        id, status,
                        strcmp(status, "acked") == 0 ? " (the worker acknowledged it)"
                                                     : " (the relay is still sending it)");
        goto out;
    }
    rc = still_wanted(ctx, c);
    if (rc)
        goto out;
    rc = requeue(ctx, id, &new_id);
    if (rc)
        goto out;
    rc = admin_end_tx(ctx, ADMIN_OK);
    if (rc)
        goto out;
    if (ctx->json) {
        fputc('{', stdout);
        admin_json_kv(stdout, 1, "id", PQgetvalue(new_id, 0, 0));
        admin_json_kv(stdout, 0, "resent_from", id);
        admin_json_kv(stdout, 0, "kind", kind);
        admin_json_kv(stdout, 0, "recipient", PQgetvalue(c, 0, 2));
        fputs("}\n", stdout);
    } else {
        printf("queued %s command %s for %s (a copy of failed command %s)\n", kind,
               PQgetvalue(new_id, 0, 0), PQgetvalue(c, 0, 2), id);
    }
out:
    rc = admin_end_tx(ctx, rc);
    PQclear(c);
    PQclear(new_id);
    return rc;
}

static const admin_cmd command_commands[] = {
    {"command",
     "list",
     "[--worker W] [--status S] [--kind K] [--limit N]",
     "List worker commands and job updates (the outbox), newest first.",
     "Columns: id, kind, recipient, job, attempt, status (pending: not sent yet;\n"
     "sent: waiting for the worker's acknowledgement, re-sent with backoff; acked;\n"
     "failed: refused by the worker, taken back, or not acknowledged after\n"
     "outbox.max_tries sends; done: a job update sent), sends so far, times, error.",
     0,
     {{"worker", "W", "only commands to this recipient (a worker, or a client's job updates)"},
      {"status", "S", "pending, sent, acked, failed or done"},
      {"kind", "K", "assign, cancel, drain, undrain, config or job.update"},
      {"limit", "N", "at most N rows (1-10000, default 100)"}},
     cmd_command_list},
    {"command",
     "show",
     "<id>",
     "Show every column of a command.",
     "Adds to the list's columns its relay order (seq), what it carries (state,\n"
     "reason, config_version, settings), the command it copies (resent_from) and the\n"
     "copies made of it (resent_as).",
     1,
     {{NULL, NULL, NULL}},
     cmd_command_show},
    {"command",
     "resend",
     "<id>",
     "Send a failed worker command again.",
     "A failed drain, undrain, config or cancel command is queued again as a new\n"
     "command (new id; resent_from names the old one), which the relay sends and\n"
     "re-sends like any other. Refused (exit 1, nothing sent) for a command that is\n"
     "not failed (pending or sent: still being sent; acked), for an assign (never\n"
     "sent again: job retry runs a failed job again), a job update, and a command\n"
     "that no longer says what is wanted: a drain or undrain whose worker's drain\n"
     "flag changed since, a config whose worker was sent newer settings since, a\n"
     "cancel whose job is no longer canceling on that worker and attempt.",
     1,
     {{NULL, NULL, NULL}},
     cmd_command_resend},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_command_commands(void)
{
    return command_commands;
}
