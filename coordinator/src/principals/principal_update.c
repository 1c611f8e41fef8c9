/*
 * principal_update.c - role, scopes and description of a principal changed
 * in place, keeping its keys and worker record (see principal_update.h).
 *
 * Locks in the order the daemon takes them: the principal's row, its worker
 * row (schedulers skip locked workers, so none assigns it a job meanwhile),
 * then its live jobs in id order, loaded and changed through jobwrite. The
 * writes of this action are each one statement here: the worker record
 * marked offline (mark_worker_left), its commands not yet acknowledged
 * marked failed (fail_commands), the principal's row (write_principal);
 * the jobs go through jw_flush.
 */
#include "principals/principal_update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "jobs/cmdstate.h"
#include "jobs/jobstate.h"
#include "jobs/jobwrite.h"
#include "jobs/workerstate.h"
#include "principals/principal_change.h"

static const char held_jobs_tail[] =
    "WHERE worker_id = $1 AND state IN ('assigned', 'running', 'canceling')"
    " ORDER BY id FOR UPDATE";

int jc_principal_description_valid(const char *s)
{
    size_t len = strlen(s);

    if (len > JC_PRINCIPAL_DESCRIPTION_MAX || !jc_utf8_valid((const uint8_t *)s, len))
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static void rollback(PGconn *c)
{
    char ignored[128];

    jc_db_exec(c, "ROLLBACK", ignored, sizeof ignored);
}

/* query runs sql with n text parameters; NULL with errstr on failure. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params, char *errstr,
                       size_t errstr_size)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

    if (!jc_db_ok(c, r, errstr, errstr_size)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* exec1 runs a statement of one parameter (id) whose result is not needed. */
static int exec1(PGconn *c, const char *sql, const char *id, char *errstr, size_t errstr_size)
{
    const char *params[1] = {id};
    PGresult *r = query(c, sql, 1, params, errstr, errstr_size);

    PQclear(r);
    return r ? 0 : -1;
}

/* mark_worker_left marks the worker record of a principal leaving the
 * worker role offline, so that no scheduler offers it a job. */
static int mark_worker_left(PGconn *c, const char *id, char *errstr, size_t errstr_size)
{
    return exec1(c,
                 "UPDATE workers SET status = " JC_SQL_WORKER_OFFLINE
                 ", status_changed_at = now(),"
                 " running_jobs = 0 WHERE id = $1 AND status <> " JC_SQL_WORKER_OFFLINE,
                 id, errstr, errstr_size);
}

/* fail_commands marks the commands not yet acknowledged by a principal
 * leaving the worker role failed, so that the relay stops sending them. */
static int fail_commands(PGconn *c, const char *id, char *errstr, size_t errstr_size)
{
    return exec1(c,
                 "UPDATE commands SET status = " JC_SQL_CMD_FAILED
                 ", next_send_at = now(),"
                 " error = 'not sent: the recipient left the worker role'"
                 " WHERE recipient = $1 AND status IN " JC_SQL_CMD_OPEN,
                 id, errstr, errstr_size);
}

/* leave_worker takes back (force) the live jobs of a worker leaving its
 * role, or refuses while it holds some. Inside the caller's transaction. */
static jc_pr_status leave_worker(PGconn *c, const jc_config *cfg, const char *id, int force,
                                 jc_update_report *rep, char *errstr, size_t errstr_size)
{
    const char *params[1] = {id};
    char why[160];
    jc_jobwrite jw;
    jc_pr_status st = JC_PR_ERROR;

    jw_init(&jw, cfg);
    if (exec1(c, "SELECT 1 FROM workers WHERE id = $1 FOR UPDATE", id, errstr, errstr_size) != 0)
        goto out;
    if (jw_load(&jw, c, held_jobs_tail, 1, params, errstr, errstr_size) < 0)
        goto out;
    rep->held = (long)jw.n;
    if (jw.n > 0 && !force) {
        snprintf(errstr, errstr_size,
                 "worker '%s' holds %ld live job%s: drain it and wait for them to end, or give"
                 " --force to take them back; nothing changed",
                 id, rep->held, rep->held == 1 ? "" : "s");
        st = JC_PR_BUSY;
        goto out;
    }
    snprintf(why, sizeof why,
             "its worker '%s' left the worker role (jobcoord-admin user update --force)", id);
    for (size_t i = 0; i < jw.n; i++) {
        jc_job_input_args args;
        jc_job_state to;

        memset(&args, 0, sizeof args);
        args.text = jc_slice_str(why);
        to = jw_apply(&jw, &jw.rows[i], JI_REQUEUE, &args);
        if (to == JS_PENDING)
            rep->requeued++;
        else if (to == JS_FAILED)
            rep->failed++;
        else if (to == JS_CANCELED)
            rep->canceled++;
    }
    if (jw_flush(&jw, c, errstr, errstr_size) != 0)
        goto out;
    /* after the flush: what it queued for this worker goes too */
    if (fail_commands(c, id, errstr, errstr_size) != 0 ||
        mark_worker_left(c, id, errstr, errstr_size) != 0)
        goto out;
    rep->left_worker = 1;
    st = JC_PR_OK;
out:
    jw_free(&jw);
    return st;
}

/* write_principal stores the new role, scopes and description; a change of
 * role or scopes ends the sessions in the same statement. */
static int write_principal(PGconn *c, const char *id, const char *role, const char *scopes,
                           const char *description, int end_sessions, char *errstr,
                           size_t errstr_size)
{
    const char *params[4] = {id, description, role, scopes};
    PGresult *r =
        query(c,
              end_sessions ? "UPDATE principals SET description = $2, role = $3,"
                             " scopes = string_to_array($4, ','),"
                             " " JC_SQL_END_SESSIONS("'role or scopes changed'") " WHERE id = $1"
                           : "UPDATE principals SET description = $2 WHERE id = $1",
              end_sessions ? 4 : 2, params, errstr, errstr_size);

    PQclear(r);
    return r ? 0 : -1;
}

/* check_request refuses what is invalid whatever the principal is. */
static jc_pr_status check_request(const char *id, const jc_update_request *req, char *errstr,
                                  size_t errstr_size)
{
    if (!jc_principal_name_valid(id)) {
        snprintf(errstr, errstr_size, "invalid principal id '%s'", id);
        return JC_PR_INVALID;
    }
    if (req->role && !jc_principal_role_valid(req->role)) {
        snprintf(errstr, errstr_size, "invalid role '%s' (" JC_PRINCIPAL_ROLES ")", req->role);
        return JC_PR_INVALID;
    }
    if (req->description && !jc_principal_description_valid(req->description)) {
        snprintf(errstr, errstr_size,
                 "invalid description: at most %d bytes of UTF-8 without control characters",
                 JC_PRINCIPAL_DESCRIPTION_MAX);
        return JC_PR_INVALID;
    }
    return JC_PR_OK;
}

jc_pr_status jc_principal_update(PGconn *c, const jc_config *cfg, const char *id,
                                 const jc_update_request *req, jc_update_report *rep, char *errstr,
                                 size_t errstr_size)
{
    const char *params[1] = {id};
    const char *role, *scopes, *description;
    char *old_scopes = NULL, *old_description = NULL;
    PGresult *r = NULL;
    jc_pr_status st;

    memset(rep, 0, sizeof *rep);
    st = check_request(id, req, errstr, errstr_size);
    if (st != JC_PR_OK)
        return st;
    st = JC_PR_ERROR;
    if (jc_db_exec(c, "BEGIN", errstr, errstr_size) != 0)
        return JC_PR_ERROR;
    r = query(c,
              "SELECT role, array_to_string(scopes, ','), description FROM principals"
              " WHERE id = $1 FOR UPDATE",
              1, params, errstr, errstr_size);
    if (!r)
        goto fail;
    if (PQntuples(r) != 1) {
        snprintf(errstr, errstr_size, "no principal '%s'", id);
        st = JC_PR_NOT_FOUND;
        goto fail;
    }
    snprintf(rep->old_role, sizeof rep->old_role, "%s", PQgetvalue(r, 0, 0));
    old_scopes = strdup(PQgetvalue(r, 0, 1));
    old_description = strdup(PQgetvalue(r, 0, 2));
    if (!old_scopes || !old_description) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    role = req->role ? req->role : rep->old_role;
    scopes = req->scopes ? req->scopes : old_scopes;
    description = req->description ? req->description : old_description;
    if (!jc_principal_scopes_valid(role, scopes, errstr, errstr_size)) {
        st = JC_PR_INVALID;
        goto fail;
    }
    rep->sessions_ended = strcmp(role, rep->old_role) != 0 || strcmp(scopes, old_scopes) != 0;
    if (strcmp(rep->old_role, "worker") == 0 && strcmp(role, "worker") != 0) {
        st = leave_worker(c, cfg, id, req->force, rep, errstr, errstr_size);
        if (st != JC_PR_OK)
            goto fail;
        st = JC_PR_ERROR;
    }
    if (write_principal(c, id, role, scopes, description, rep->sessions_ended, errstr,
                        errstr_size) != 0)
        goto fail;
    snprintf(rep->role, sizeof rep->role, "%s", role);
    rep->scopes = strdup(scopes);
    if (!rep->scopes) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (jc_db_exec(c, "COMMIT", errstr, errstr_size) != 0)
        goto out;
    st = JC_PR_OK;
    goto out;
fail:
    rollback(c);
out:
    PQclear(r);
    free(old_scopes);
    free(old_description);
    return st;
}
