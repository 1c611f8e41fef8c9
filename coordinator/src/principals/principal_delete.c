/*
 * principal_delete.c - deleting a principal and settling its live jobs and
 * pending commands in the same transaction (see principal_delete.h).
 *
 * Locks first, in the order the daemon takes them: the principal's row, its
 * worker row (so that no scheduler assigns it a job meanwhile: schedulers
 * skip locked workers), then its jobs in id order (as ingest and the
 * janitor do). The jobs are then read and changed through jobwrite, whose
 * statements start after the locks are held and so see every assignment
 * committed before them.
 */
#include "principals/principal_delete.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "jobs/jobstate.h"
#include "jobs/jobwrite.h"
#include "jobs/cmdstate.h"

static const char live_jobs_tail[] =
    "WHERE (worker_id = $1 AND state IN ('assigned', 'running', 'canceling'))"
    "   OR (submitter = $1 AND state IN ('pending', 'assigned', 'running', 'canceling'))"
    " ORDER BY id FOR UPDATE";

static void rollback(PGconn *c)
{
    char ignored[128];

    jc_db_exec(c, "ROLLBACK", ignored, sizeof ignored);
}

/* run executes one statement of one parameter (id); returns its result or
 * NULL with errstr. */
static PGresult *run(PGconn *c, const char *sql, const char *id, char *errstr,
                     size_t errstr_size)
{
    const char *params[1] = {id};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);

    if (!jc_db_ok(c, r, errstr, errstr_size)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* note_job adds one settled job to the report's list. */
static void note_job(jc_delete_report *rep, const jc_jobrow *row, jc_job_state from, int held)
{
    jc_deleted_job *j;

    if (!rep->jobs || rep->n_jobs >= JC_DELETE_REPORT_JOBS)
        return;
    j = &rep->jobs[rep->n_jobs++];
    snprintf(j->id, sizeof j->id, "%s", row->idtext);
    snprintf(j->from, sizeof j->from, "%s", jc_job_state_name(from));
    snprintf(j->to, sizeof j->to, "%s", jc_job_state_name(row->state));
    j->held = held;
}

/* settle runs each loaded job through the state machine: held jobs are
 * taken back (JI_REQUEUE), submitted ones canceled (JI_CANCEL). */
static void settle(jc_jobwrite *jw, const char *id, const char *by, jc_delete_report *rep)
{
    char held_why[512], submitted_why[512];

    snprintf(held_why, sizeof held_why,
             "its worker '%s' was deleted by operator %s (jobcoord-admin user delete --force)", id,
             by);
    snprintf(submitted_why, sizeof submitted_why,
             "its submitter '%s' was deleted by operator %s (jobcoord-admin user delete --force)",
             id, by);
    for (size_t i = 0; i < jw->n; i++) {
        jc_jobrow *row = &jw->rows[i];
        jc_job_state from = row->state, to;
        int held = strcmp(row->worker, id) == 0 && !jc_job_state_final(from) &&
                   from != JS_PENDING;
        jc_job_input_args args;

        memset(&args, 0, sizeof args);
        args.text = jc_slice_str(held ? held_why : submitted_why);
        to = jw_apply(jw, row, held ? JI_REQUEUE : JI_CANCEL, &args);
        if (to == JS_INVALID) /* a submitted job already canceling: it ends as it is */
            continue;
        if (to == JS_PENDING)
            rep->requeued++;
        else if (to == JS_FAILED)
            rep->failed++;
        else if (to == JS_CANCELING)
            rep->canceling++;
        else if (to == JS_CANCELED && held)
            rep->held_canceled++;
        else if (to == JS_CANCELED)
            rep->canceled++;
        note_job(rep, row, from, held);
    }
}

/* count_live fills rep->held and rep->submitted from the loaded rows. */
static void count_live(const jc_jobwrite *jw, const char *id, jc_delete_report *rep)
{
    for (size_t i = 0; i < jw->n; i++) {
        const jc_jobrow *row = &jw->rows[i];
        if (strcmp(row->worker, id) == 0 && row->state != JS_PENDING)
            rep->held++;
        else
            rep->submitted++;
    }
}

jc_pr_status jc_principal_delete(PGconn *c, const jc_config *cfg, const char *id, int force,
                                 const char *by, jc_delete_report *rep, char *errstr,
                                 size_t errstr_size)
{
    const char *params[1] = {id};
    jc_jobwrite jw;
    PGresult *r = NULL;
    jc_pr_status st = JC_PR_ERROR;

    memset(rep, 0, sizeof *rep);
    jw_init(&jw, cfg);
    if (!jc_principal_name_valid(id)) {
        snprintf(errstr, errstr_size, "invalid principal id '%s'", id);
        st = JC_PR_INVALID;
        goto out;
    }
    rep->jobs = calloc(JC_DELETE_REPORT_JOBS, sizeof *rep->jobs);
    if (!rep->jobs) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (jc_db_exec(c, "BEGIN", errstr, errstr_size) != 0)
        goto out;
    r = run(c, "SELECT role FROM principals WHERE id = $1 FOR UPDATE", id, errstr, errstr_size);
    if (!r)
        goto fail;
    if (PQntuples(r) != 1) {
        snprintf(errstr, errstr_size, "no principal '%s'", id);
        st = JC_PR_NOT_FOUND;
        goto fail;
    }
    snprintf(rep->role, sizeof rep->role, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = run(c, "SELECT 1 FROM workers WHERE id = $1 FOR UPDATE", id, errstr, errstr_size);
    if (!r)
        goto fail;
    PQclear(r);
    r = NULL;
    if (jw_load(&jw, c, live_jobs_tail, 1, params, errstr, errstr_size) < 0)
        goto fail;
    count_live(&jw, id, rep);
    if ((rep->held || rep->submitted) && !force) {
        snprintf(errstr, errstr_size,
                 "principal '%s' holds %ld live job%s and submitted %ld that %s not ended;"
                 " nothing deleted (--force takes back the jobs it holds, cancels the ones it"
                 " submitted and its pending commands)",
                 id, rep->held, rep->held == 1 ? "" : "s", rep->submitted,
                 rep->submitted == 1 ? "has" : "have");
        st = JC_PR_BUSY;
        goto fail;
    }
    settle(&jw, id, by && *by ? by : "unknown", rep);
    if (jw_flush(&jw, c, errstr, errstr_size) != 0)
        goto fail;
    /* after the flush: job updates it just queued for itself go too */
    r = run(c,
            "UPDATE commands SET status = " JC_SQL_CMD_FAILED
            ", next_send_at = now(),"
            " error = 'not sent: the recipient was deleted by an operator'"
            " WHERE recipient = $1 AND status IN " JC_SQL_CMD_OPEN,
            id, errstr, errstr_size);
    if (!r)
        goto fail;
    rep->commands_canceled = atol(PQcmdTuples(r));
    PQclear(r);
    r = run(c, "DELETE FROM principals WHERE id = $1", id, errstr, errstr_size);
    if (!r)
        goto fail;
    PQclear(r);
    r = NULL;
    if (jc_db_exec(c, "COMMIT", errstr, errstr_size) != 0)
        goto out;
    st = JC_PR_OK;
    goto out;
fail:
    PQclear(r);
    r = NULL;
    rollback(c);
out:
    jw_free(&jw);
    return st;
}

void jc_delete_report_free(jc_delete_report *rep)
{
    free(rep->jobs);
    rep->jobs = NULL;
    rep->n_jobs = 0;
}
