/*
 * admin_job_control.c - `jobcoord-admin job cancel|retry`: an operator's
 * transitions of a job.
 *
 * Each is one transaction: read the job under FOR UPDATE, look the move up
 * in the tables below, apply it as a compare-and-set on the state and
 * attempt read, record it in job_events, and queue what must be told (the
 * worker holding the job, or the submitter) as a row of the outbox
 * (commands) followed by NOTIFY jobcoord_outbox; the coordinator's relay
 * sends it after the commit. Nothing is sent if the transaction fails.
 *
 * The whole state machine is coordinator/src/jobs/jobstate.c; cancel follows its
 * JI_CANCEL column. Retry is an operator's move only, outside the machine:
 * a failed or canceled job starts over as pending, keeping its attempt
 * count (the fencing token) and gaining one attempt if it had none left.
 */
#include "admin.h"
#include "jobs/jobstate.h"
#include "jobs/jobwrite.h"

#include <stdio.h>
#include <string.h>

#define REASON_MAX 1024

static const char *const retry_from[] = {"failed", "canceled"};

/* The columns lock_job reads. */
enum { COL_STATE, COL_ATTEMPT, COL_WORKER, COL_SUBMITTER };

/* lock_job starts the transaction and reads the job under FOR UPDATE. On
 * success *job holds one row (caller PQclears). Returns an exit code, with
 * the transaction still open in every case (admin_end_tx closes it). */
static int lock_job(admin_ctx *ctx, const char *id, PGresult **job)
{
    *job = NULL;
    if (!jc_id_text_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid job id '%s' (a UUID)", id);
    return admin_lock_row(ctx,
                          "SELECT state, attempt, worker_id, submitter FROM jobs WHERE id = $1"
                          " FOR UPDATE",
                          id, "job", job);
}

/* update_job runs a compare-and-set UPDATE whose WHERE ends with the
 * expected state and attempt; refuses when no row matched. */
static int update_job(admin_ctx *ctx, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = admin_query(ctx, sql, nparams, params);
    int rc = ADMIN_OK;

    if (!r)
        return ADMIN_SYSERR;
    if (strcmp(PQcmdTuples(r), "1") != 0)
        rc = admin_fail(ADMIN_REFUSED, "job '%s' changed meanwhile; try again", params[0]);
    PQclear(r);
    return rc;
}

/* add_state_event records a transition in the job's history. */
static int add_state_event(admin_ctx *ctx, const char *id, const char *attempt, const char *from,
                           const char *to, const char *text)
{
    const char *p[5] = {id, attempt, from, to, text};
    PGresult *r = admin_query(ctx,
                              "INSERT INTO job_events (job_id, attempt, kind, from_state,"
                              " to_state, text) VALUES ($1, $2::integer, 'state', $3, $4, $5)",
                              5, p);

    if (!r)
        return ADMIN_SYSERR;
    PQclear(r);
    return ADMIN_OK;
}

/* queue_command inserts an outbox row about the job and NOTIFYs the relay;
 * the new command id goes to cmd_id. */
static int queue_command(admin_ctx *ctx, const char *const p[6], char *cmd_id, size_t cmd_id_size)
{
    PGresult *r = admin_query(ctx,
                              "INSERT INTO commands (id, kind, recipient, job_id, attempt, state,"
                              " reason) VALUES (gen_random_uuid(), $1, $2, $3, $4::integer, $5,"
                              " $6) RETURNING id",
                              6, p);

    if (!r)
        return ADMIN_SYSERR;
    snprintf(cmd_id, cmd_id_size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return admin_exec(ctx, "NOTIFY " JC_OUTBOX_CHANNEL);
}

/* print_move reports a transition; extra (text only) says what follows. */
static void print_move(const admin_ctx *ctx, const char *id, const char *from, const char *to,
                       const PGresult *job, const char *cmd_kind, const char *cmd_id,
                       const char *recipient, const char *extra)
{
    if (ctx->json) {
        fputc('{', stdout);
        admin_json_kv(stdout, 1, "id", id);
        admin_json_kv(stdout, 0, "from", from);
        admin_json_kv(stdout, 0, "to", to);
        printf(",\"attempt\":%s", PQgetvalue(job, 0, COL_ATTEMPT));
        if (cmd_kind) {
            fputs(",\"command\":{", stdout);
            admin_json_kv(stdout, 1, "id", cmd_id);
            admin_json_kv(stdout, 0, "kind", cmd_kind);
            admin_json_kv(stdout, 0, "recipient", recipient);
            fputc('}', stdout);
        }
        fputs("}\n", stdout);
    } else {
        printf("job %s: %s -> %s%s\n", id, from, to, extra);
        if (cmd_kind)
            printf("queued %s command %s for %s\n", cmd_kind, cmd_id, recipient);
    }
}

/* cmd_job_cancel cancels a pending job at once, or asks the worker holding
 * it to stop. */
static int cmd_job_cancel(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0], *reason = admin_opt_value(a, "reason");
    const char *from, *to, *recipient, *attempt;
    char text[REASON_MAX + 64], cmd_id[64];
    PGresult *job = NULL;
    const char *command;
    char confirm_ms[16];
    jc_job_state next;
    int rc;

    if (reason && (!*reason || !admin_text_valid(reason, REASON_MAX)))
        return admin_fail(ADMIN_REFUSED, "--reason must be 1 to %d bytes of UTF-8", REASON_MAX);
    rc = lock_job(ctx, id, &job);
    if (rc)
        goto out;
    from = PQgetvalue(job, 0, COL_STATE);
    attempt = PQgetvalue(job, 0, COL_ATTEMPT);
    /* the daemon's transition table decides (jobstate.c): a pending job is
     * canceled at once and its submitter told; a job a worker holds waits for
     * the worker, which is sent a cancel */
    next = jc_job_next(jc_job_state_parse(from), JI_CANCEL);
    if (next == JS_INVALID) {
        rc = strcmp(from, "canceling") == 0
                 ? admin_fail(ADMIN_REFUSED, "job %s is already being canceled", id)
                 : admin_fail(ADMIN_REFUSED,
                              "job %s is %s: only a pending, assigned or running job can be "
                              "canceled",
                              id, from);
        goto out;
    }
    to = jc_job_state_name(next);
    command = next == JS_CANCELING ? "cancel" : "job.update";
    snprintf(confirm_ms, sizeof confirm_ms, "%d", ctx->cfg.cancel_timeout_ms);
    recipient = strcmp(command, "cancel") == 0
                    ? (PQgetisnull(job, 0, COL_WORKER) ? NULL : PQgetvalue(job, 0, COL_WORKER))
                    : PQgetvalue(job, 0, COL_SUBMITTER);
    if (!recipient) {
        rc = admin_fail(ADMIN_REFUSED, "job %s is %s but held by no worker", id, from);
        goto out;
    }
    {
        const char *p[6] = {id, from, attempt, to, reason, confirm_ms};
        rc = update_job(ctx,
                        "UPDATE jobs SET state = $4::text, cancel_reason = $5, updated_at = now(),"
                        " finished_at = CASE WHEN $4::text = 'canceled' THEN now()"
                        "  ELSE finished_at END,"
                        " lease_expires_at = CASE WHEN $4::text = 'canceling'"
                        "  THEN now() + $6::integer * interval '1 ms' END"
                        " WHERE id = $1 AND state = $2 AND attempt = $3::integer",
                        6, p);
    }
    if (rc)
        goto out;
    snprintf(text, sizeof text, "canceled by an operator%s%s", reason ? ": " : "",
             reason ? reason : "");
    rc = add_state_event(ctx, id, attempt, from, to, text);
    if (rc)
        goto out;
    {
        int is_cancel = strcmp(command, "cancel") == 0;
        const char *p[6] = {command, recipient, id, attempt,
                            is_cancel ? NULL : to, is_cancel ? reason : NULL};
        rc = queue_command(ctx, p, cmd_id, sizeof cmd_id);
    }
    if (rc)
        goto out;
    rc = admin_end_tx(ctx, ADMIN_OK);
    if (rc)
        goto out;
    print_move(ctx, id, from, to, job, command, cmd_id, recipient,
               strcmp(to, "canceling") == 0
                   ? " (canceled when the worker confirms, or by the janitor after"
                     " jobs.cancel_timeout_ms)"
                   : "");
out:
    rc = admin_end_tx(ctx, rc);
    PQclear(job);
    return rc;
}

/* cmd_job_retry puts a failed or canceled job back to pending. */
static int cmd_job_retry(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0], *from, *attempt;
    PGresult *job = NULL;
    size_t s, n_from = sizeof retry_from / sizeof retry_from[0];
    int rc;

    rc = lock_job(ctx, id, &job);
    if (rc)
        goto out;
    from = PQgetvalue(job, 0, COL_STATE);
    attempt = PQgetvalue(job, 0, COL_ATTEMPT);
    for (s = 0; s < n_from; s++) {
        if (strcmp(retry_from[s], from) == 0)
            break;
    }
    if (s == n_from) {
        rc = admin_fail(ADMIN_REFUSED,
                        "job %s is %s: only a failed or canceled job can be retried", id, from);
        goto out;
    }
    {
        const char *p[3] = {id, from, attempt};
        rc = update_job(ctx,
                        "UPDATE jobs SET state = 'pending', run_after = now(), error = NULL,"
                        " result = NULL, worker_id = NULL, finished_at = NULL, progress = NULL,"
                        " lease_expires_at = NULL, cancel_reason = NULL,"
                        " max_attempts = greatest(max_attempts, attempt + 1), updated_at = now()"
                        " WHERE id = $1 AND state = $2 AND attempt = $3::integer",
                        3, p);
    }
    if (rc)
        goto out;
    rc = add_state_event(ctx, id, attempt, from, "pending", "retried by an operator");
    if (rc)
        goto out;
    rc = admin_end_tx(ctx, ADMIN_OK);
    if (rc)
        goto out;
    print_move(ctx, id, from, "pending", job, NULL, NULL, NULL,
               " (assigned again by the scheduler)");
out:
    rc = admin_end_tx(ctx, rc);
    PQclear(job);
    return rc;
}

static const admin_cmd job_control_commands[] = {
    {"job", "cancel", "<id> [--reason TEXT]", "Cancel a job.",
     "A pending job is canceled at once and its submitter is sent a job update. A job\n"
     "a worker holds (assigned or running) becomes canceling and the worker is sent a\n"
     "cancel command; the job is canceled when the worker confirms, or by the janitor\n"
     "once its lease, cut to jobs.cancel_timeout_ms, expires. Refused (exit 1) for a job "
     "already\ncanceling, succeeded, failed or canceled.",
     1, {{"reason", "TEXT", "why (stored in cancel_reason, sent to the worker)"}},
     cmd_job_cancel},
    {"job", "retry", "<id>", "Put a failed or canceled job back to pending.",
     "The job is assigned again as soon as possible: error, result, worker, progress\n"
     "and finish time are cleared, and it gets one more attempt if it had used them\n"
     "all. Refused (exit 1) in any other state.",
     1, {{NULL, NULL, NULL}}, cmd_job_retry},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_job_control_commands(void)
{
    return job_control_commands;
}
