/*
 * admin_job_purge.c - `jobcoord-admin job delete|purge`: removing finished
 * jobs before the janitor's retention (jobs.retention_s) would, with what
 * belongs to them: their history (job_events), refusals (job_refusals) and
 * outbox rows (commands about them).
 *
 * Only finished jobs (succeeded, failed, canceled) go: a live job is refused
 * (cancel it first), and so is a finished job whose outbox still holds a
 * row being sent (pending or sent: its final job update to the submitter),
 * so that deleting never swallows a message the relay has yet to deliver.
 * The write is one statement, in delete_jobs, the same for both commands
 * and the same as the janitor's prune: the jobs are locked (SKIP LOCKED) and
 * re-checked by the DELETE itself. A purge runs it in batches of
 * PURGE_BATCH jobs, each its own short transaction, so that it never holds
 * many rows locked for long, and stops when a batch comes back short.
 */
#include "admin.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/cmdstate.h"

#define PURGE_BATCH "1000"
#define BEFORE_MAX 315360000L /* ten years of seconds */

/* FINISHED_NOT_SENDING(j) holds for a finished job of row j whose outbox
 * rows are all settled. */
#define FINISHED_NOT_SENDING(j)                                      \
    j ".state IN ('succeeded', 'failed', 'canceled') AND NOT EXISTS" \
      " (SELECT 1 FROM commands c WHERE c.job_id = " j               \
      ".id"                                                          \
      "   AND c.status IN " JC_SQL_CMD_OPEN ")"

/* The jobs a purge takes: $1 state, $2 finished before, $3 type or NULL. */
#define PURGE_WHERE(j)               \
    " WHERE " j ".state = $1 AND " j \
    ".finished_at < $2::timestamptz" \
    "   AND ($3::text IS NULL OR " j ".type = $3) AND " FINISHED_NOT_SENDING(j)

typedef struct purge_counts {
    long jobs, events, commands;
} purge_counts;

/* delete_jobs deletes the jobs whose ids select_sql (with params) returns,
 * if they are still finished and settled, with their events, refusals and
 * outbox rows, in one statement; adds what it deleted to *n. */
static int delete_jobs(admin_ctx *ctx, const char *select_sql, int nparams,
                       const char *const *params, purge_counts *n)
{
    char sql[1536];
    PGresult *r;

    snprintf(sql, sizeof sql,
             "WITH d AS (DELETE FROM jobs j WHERE j.id = ANY (ARRAY(%s))"
             "             AND " FINISHED_NOT_SENDING("j") " RETURNING j.id),"
             "     e AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM d) RETURNING 1),"
             "     x AS (DELETE FROM job_refusals WHERE job_id IN (SELECT id FROM d)),"
             "     c AS (DELETE FROM commands WHERE job_id IN (SELECT id FROM d) RETURNING 1)"
             " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM e),"
             "        (SELECT count(*) FROM c)",
             select_sql);
    r = admin_query(ctx, sql, nparams, params);
    if (!r)
        return ADMIN_SYSERR;
    n->jobs += atol(PQgetvalue(r, 0, 0));
    n->events += atol(PQgetvalue(r, 0, 1));
    n->commands += atol(PQgetvalue(r, 0, 2));
    PQclear(r);
    return ADMIN_OK;
}

/* cmd_job_delete deletes one finished job. */
static int cmd_job_delete(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0];
    purge_counts n = {0, 0, 0};
    PGresult *j = NULL;
    int rc;

    if (!jc_id_text_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid job id '%s' (a UUID)", id);
    rc = admin_lock_row(ctx,
                        "SELECT j.state, " FINISHED_NOT_SENDING("j") " FROM jobs j"
                        " WHERE j.id = $1 FOR UPDATE",
                        id, "job", &j);
    if (rc)
        goto out;
    if (strcmp(PQgetvalue(j, 0, 1), "t") != 0) {
        const char *state = PQgetvalue(j, 0, 0);
        int live =
            strcmp(state, "succeeded") && strcmp(state, "failed") && strcmp(state, "canceled");
        rc = admin_fail(ADMIN_REFUSED, "job %s is %s: %s; nothing deleted", id, state,
                        live ? "only a finished job is deleted (job cancel ends a live one)"
                             : "its last job update is still being sent to its submitter;"
                               " try again shortly");
        goto out;
    }
    rc = delete_jobs(ctx, "SELECT $1::uuid", 1, &id, &n);
    if (rc)
        goto out;
    rc = admin_end_tx(ctx, ADMIN_OK);
    if (rc)
        goto out;
    if (ctx->json) {
        fputc('{', stdout);
        admin_json_kv(stdout, 1, "id", id);
        printf(",\"deleted\":true,\"events\":%ld,\"commands\":%ld}\n", n.events, n.commands);
    } else {
        printf("deleted job %s with %ld event%s and %ld outbox row%s\n", id, n.events,
               n.events == 1 ? "" : "s", n.commands, n.commands == 1 ? "" : "s");
    }
out:
    rc = admin_end_tx(ctx, rc);
    PQclear(j);
    return rc;
}

/* before_arg turns --before into a timestamp PostgreSQL reads: a duration
 * back from now ("30d") or a date/time ("2026-01-15", "2026-01-15T10:00:00Z",
 * with an optional +HH:MM offset). */
static int before_arg(const char *text, char *out, size_t out_size)
{
    static const char pattern[] =
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}))?$";
    regex_t re;
    long secs;
    int match;

    if (text[0] >= '0' && text[0] <= '9' && strlen(text) < 24 && !strchr(text, '-')) {
        if (admin_parse_duration("--before", text, BEFORE_MAX, &secs))
            return ADMIN_REFUSED;
        snprintf(out, out_size, "-%ld", secs); /* seconds back from now */
        return ADMIN_OK;
    }
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return admin_fail(ADMIN_SYSERR, "cannot compile a regular expression");
    match = strlen(text) < 40 && regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    if (!match)
        return admin_fail(ADMIN_REFUSED,
                          "--before must be a duration back from now (30d, 12h) or a date"
                          " (2026-01-15, 2026-01-15T10:00:00Z), not '%s'",
                          text);
    snprintf(out, out_size, "%s", text);
    return ADMIN_OK;
}

/* cmd_job_purge deletes finished jobs of one state finished before a time,
 * in batches; --dry-run counts them. */
static int cmd_job_purge(admin_ctx *ctx, const admin_args *a)
{
    const char *state = admin_opt_value(a, "state"), *before = admin_opt_value(a, "before");
    const char *type = admin_opt_value(a, "type");
    int dry = admin_opt_value(a, "dry-run") != NULL;
    char at[48];
    const char *p[3];
    purge_counts n = {0, 0, 0};
    long batches = 0, got;
    PGresult *r;
    int rc;

    if (!state || !before)
        return admin_usage(a, "--state and --before are required");
    if (strcmp(state, "succeeded") && strcmp(state, "failed") && strcmp(state, "canceled"))
        return admin_fail(ADMIN_REFUSED,
                          "--state must be succeeded, failed or canceled, not '%s' (live jobs"
                          " are never purged)",
                          state);
    if (type && (!*type || strlen(type) > JC_MAX_NAME_LEN || !jc_principal_name_valid(type)))
        return admin_fail(ADMIN_REFUSED, "invalid job type '%s'", type);
    rc = before_arg(before, at, sizeof at);
    if (rc)
        return rc;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    /* a duration becomes a time now, once: every batch uses the same one */
    p[0] = at;
    r = admin_query(ctx,
                    at[0] == '-' ? "SELECT (now() + $1::bigint * interval '1 s')::text"
                                 : "SELECT $1::timestamptz::text",
                    1, p);
    if (!r)
        return ADMIN_SYSERR;
    snprintf(at, sizeof at, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    p[0] = state;
    p[1] = at;
    p[2] = type;
    if (dry) {
        r = admin_query(
            ctx,
            "SELECT count(*),"
            " coalesce(sum((SELECT count(*) FROM job_events e WHERE e.job_id = j.id)), 0),"
            " coalesce(sum((SELECT count(*) FROM commands c WHERE c.job_id = j.id)), 0)"
            " FROM jobs j" PURGE_WHERE("j"),
            3, p);
        if (!r)
            return ADMIN_SYSERR;
        n.jobs = atol(PQgetvalue(r, 0, 0));
        n.events = atol(PQgetvalue(r, 0, 1));
        n.commands = atol(PQgetvalue(r, 0, 2));
        PQclear(r);
    } else {
        do {
            long before_batch = n.jobs;
            rc = delete_jobs(ctx,
                             "SELECT j.id FROM jobs j" PURGE_WHERE(
                                 "j") " ORDER BY j.finished_at LIMIT " PURGE_BATCH
                                      " FOR UPDATE SKIP LOCKED",
                             3, p, &n);
            if (rc)
                break;
            got = n.jobs - before_batch;
            batches++;
        } while (got == atol(PURGE_BATCH));
    }
    if (ctx->json) {
        printf("{\"dry_run\":%s", dry ? "true" : "false");
        admin_json_kv(stdout, 0, "state", state);
        admin_json_kv(stdout, 0, "before", at);
        admin_json_kv(stdout, 0, "type", type);
        printf(",\"jobs\":%ld,\"events\":%ld,\"commands\":%ld,\"batches\":%ld}\n", n.jobs, n.events,
               n.commands, batches);
    } else {
        printf("%s %ld %s job%s finished before %s%s%s, with %ld event%s and %ld outbox row%s%s\n",
               dry ? "would purge" : "purged", n.jobs, state, n.jobs == 1 ? "" : "s", at,
               type ? " of type " : "", type ? type : "", n.events, n.events == 1 ? "" : "s",
               n.commands, n.commands == 1 ? "" : "s", dry ? " (dry run: nothing deleted)" : "");
    }
    return rc;
}

static const admin_cmd job_purge_commands[] = {
    {"job",
     "delete",
     "<id>",
     "Delete a finished job with its history and outbox rows.",
     "Deletes a succeeded, failed or canceled job, its events (job logs), refusals and\n"
     "the outbox rows about it, in one transaction. Refused (exit 1, nothing deleted)\n"
     "for a live job (pending, assigned, running, canceling: job cancel ends it) and\n"
     "for a finished job whose last job update is still being sent to its submitter.",
     1,
     {{NULL, NULL, NULL}},
     cmd_job_delete},
    {"job",
     "purge",
     "--state S --before T [--type TYPE] [--dry-run]",
     "Delete finished jobs of one state that finished before a time.",
     "Deletes the jobs in state S (succeeded, failed or canceled: live jobs are never\n"
     "purged) that finished before T, of type TYPE if given, with their events,\n"
     "refusals and outbox rows, as job delete does, in batches of " PURGE_BATCH " jobs, each\n"
     "its own short transaction; jobs whose last job update is still being sent are\n"
     "left for a later run. T is a duration back from now (seconds, or with s, m, h or\n"
     "d: 30d) or a date or time (2026-01-15, 2026-01-15T10:00:00Z, +HH:MM offsets).\n"
     "--dry-run counts what would go and deletes nothing. The janitor deletes finished\n"
     "jobs anyway after jobs.retention_s.",
     0,
     {{"state", "S", "succeeded, failed or canceled (required)"},
      {"before", "T", "finished before this time or this long ago (required)"},
      {"type", "TYPE", "only jobs of this type"},
      {"dry-run", NULL, "count, delete nothing"}},
     cmd_job_purge},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_job_purge_commands(void)
{
    return job_purge_commands;
}
