/*
 * admin_job_control.c - `jobcoord-admin job cancel|retry`: an operator's
 * transitions of a job.
 *
 * Each is one transaction through the daemon's own writer (jobs/jobwrite.c):
 * the job is loaded under FOR UPDATE, the move runs through the job state
 * machine (jobs/jobstate.c: JI_CANCEL, JI_RETRY), and jw_flush writes the
 * row as a compare-and-set, its history (job_events) and what must be told
 * (the worker holding the job, or the submitter) as a row of the outbox
 * (commands) followed by NOTIFY on JC_OUTBOX_CHANNEL; the coordinator's
 * relay sends it after the commit. Nothing is sent if the transaction
 * fails. So a cancel from here and one from a client's message leave the
 * same rows, the same lease and the same notice; the history names the
 * operator (OS user@host) as the cause.
 */
#include "admin.h"
#include "jobs/jobstate.h"
#include "jobs/jobwrite.h"

#include <stdio.h>
#include <string.h>

#define REASON_MAX 1024

/* lock_job starts the transaction and loads the job under FOR UPDATE into
 * jw (one row). Returns an exit code, with the transaction open in every
 * case (admin_end_tx closes it). */
static int lock_job(admin_ctx *ctx, jc_jobwrite *jw, const char *id)
{
    char err[512];
    int rc, n;

    if (!jc_id_text_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid job id '%s' (a UUID)", id);
    rc = admin_db(ctx, 1);
    if (!rc)
        rc = admin_exec(ctx, "BEGIN");
    if (rc)
        return rc;
    n = jw_load(jw, ctx->db, "WHERE id = $1 FOR UPDATE", 1, &id, err, sizeof err);
    if (n < 0)
        return admin_fail(ADMIN_SYSERR, "%s", err);
    if (n == 0)
        return admin_fail(ADMIN_REFUSED, "no job '%s'", id);
    return ADMIN_OK;
}

/* flush writes what jw recorded and commits. */
static int flush(admin_ctx *ctx, jc_jobwrite *jw)
{
    char err[512];

    if (jw_flush(jw, ctx->db, err, sizeof err) != 0)
        return admin_fail(ADMIN_SYSERR, "%s", err);
    return admin_end_tx(ctx, ADMIN_OK);
}

/* print_move reports a transition; extra (text only) says what follows. */
static void print_move(const admin_ctx *ctx, const char *id, const char *from, const char *to,
                       int attempt, const char *cmd_kind, const char *cmd_id, const char *recipient,
                       const char *extra)
{
    if (ctx->json) {
        json_t *doc =
            json_pack("{s:s,s:s,s:s,s:i}", "id", id, "from", from, "to", to, "attempt", attempt);
        if (cmd_kind && json_object_set_new(doc, "command",
                                            json_pack("{s:s?,s:s,s:s?}", "id", cmd_id, "kind",
                                                      cmd_kind, "recipient", recipient)) != 0) {
            json_decref(doc);
            doc = NULL;
        }
        admin_json_print(doc);
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
    char cause[300], from[16], recipient[JC_MAX_PRINCIPAL_LEN + 1];
    jc_job_input_args args;
    jc_job_state next;
    jc_jobwrite jw;
    jc_jobrow *row;
    int rc;

    if (reason && (!*reason || !admin_text_valid(reason, REASON_MAX)))
        return admin_fail(ADMIN_REFUSED, "--reason must be 1 to %d bytes of UTF-8", REASON_MAX);
    jw_init(&jw, &ctx->cfg);
    rc = lock_job(ctx, &jw, id);
    if (rc)
        goto out;
    row = &jw.rows[0];
    snprintf(from, sizeof from, "%s", jc_job_state_name(row->state));
    /* the transition table decides: a pending job is canceled at once and
     * its submitter told; a job a worker holds waits for the worker, which
     * is sent a cancel */
    next = jc_job_next(row->state, JI_CANCEL);
    if (next == JS_INVALID) {
        rc = row->state == JS_CANCELING
                 ? admin_fail(ADMIN_REFUSED, "job %s is already being canceled", id)
                 : admin_fail(ADMIN_REFUSED,
                              "job %s is %s: only a pending, assigned or running job can be "
                              "canceled",
                              id, from);
        goto out;
    }
    if (next == JS_CANCELING && !row->worker[0]) {
        rc = admin_fail(ADMIN_REFUSED, "job %s is %s but held by no worker", id, from);
        goto out;
    }
    snprintf(recipient, sizeof recipient, "%s",
             next == JS_CANCELING ? row->worker : row->submitter);
    snprintf(cause, sizeof cause, "canceled by operator %s", admin_operator());
    memset(&args, 0, sizeof args);
    args.cause = jc_slice_str(cause);
    if (reason)
        args.text = jc_slice_str(reason);
    if (jw_apply(&jw, row, JI_CANCEL, &args) != next) {
        rc = admin_fail(ADMIN_SYSERR, "job %s: the state machine refused the cancel", id);
        goto out;
    }
    rc = flush(ctx, &jw);
    if (rc)
        goto out;
    print_move(ctx, id, from, jc_job_state_name(next), row->attempt,
               next == JS_CANCELING ? "cancel" : "job.update", jw.last_cmd_id, recipient,
               next == JS_CANCELING ? " (canceled when the worker confirms, or by the janitor"
                                      " after jobs.cancel_timeout_ms)"
                                    : "");
out:
    rc = admin_end_tx(ctx, rc);
    jw_free(&jw);
    return rc;
}

/* cmd_job_retry puts a failed or canceled job back to pending. */
static int cmd_job_retry(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0];
    char cause[300], from[16];
    jc_job_input_args args;
    jc_jobwrite jw;
    jc_jobrow *row;
    int rc;

    jw_init(&jw, &ctx->cfg);
    rc = lock_job(ctx, &jw, id);
    if (rc)
        goto out;
    row = &jw.rows[0];
    snprintf(from, sizeof from, "%s", jc_job_state_name(row->state));
    if (jc_job_next(row->state, JI_RETRY) == JS_INVALID) {
        rc = admin_fail(ADMIN_REFUSED,
                        "job %s is %s: only a failed or canceled job can be retried", id, from);
        goto out;
    }
    snprintf(cause, sizeof cause, "retried by operator %s", admin_operator());
    memset(&args, 0, sizeof args);
    args.cause = jc_slice_str(cause);
    if (jw_apply(&jw, row, JI_RETRY, &args) != JS_PENDING) {
        rc = admin_fail(ADMIN_REFUSED,
                        "job %s has used the %d attempts a job can have; submit it again", id,
                        JC_MAX_ATTEMPTS);
        goto out;
    }
    rc = flush(ctx, &jw);
    if (rc)
        goto out;
    print_move(ctx, id, from, "pending", row->attempt, NULL, NULL, NULL,
               " (assigned again by the scheduler)");
out:
    rc = admin_end_tx(ctx, rc);
    jw_free(&jw);
    return rc;
}

// clang-format off
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
     "all. Refused (exit 1) in any other state, and for a job that used every attempt\n"
     "the protocol can number.",
     1, {{NULL, NULL, NULL}}, cmd_job_retry},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};
// clang-format on

const admin_cmd *admin_job_control_commands(void)
{
    return job_control_commands;
}
