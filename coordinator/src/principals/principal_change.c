/*
 * principal_change.c - role, scopes, disabled flag and sessions of a
 * principal (see principal_change.h).
 */
#include "principals/principal_change.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"

static void rollback(PGconn *c)
{
    char ignored[128];

    jc_db_exec(c, "ROLLBACK", ignored, sizeof ignored);
}

/* query runs sql with n text parameters; NULL with errstr on failure. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params,
                       char *errstr, size_t errstr_size)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

    if (!jc_db_ok(c, r, errstr, errstr_size)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* leave_worker_role checks that id holds no live job and removes its
 * worker record (locked first, so that no scheduler assigns it a job
 * meanwhile). Inside the caller's transaction. */
static jc_pr_status leave_worker_role(PGconn *c, const char *id, char *errstr,
                                      size_t errstr_size)
{
    const char *params[1] = {id};
    PGresult *r;
    long held;

    r = query(c, "SELECT 1 FROM workers WHERE id = $1 FOR UPDATE", 1, params, errstr,
              errstr_size);
    if (!r)
        return JC_PR_ERROR;
    PQclear(r);
    r = query(c,
              "SELECT count(*) FROM jobs WHERE worker_id = $1"
              " AND state IN ('assigned', 'running', 'canceling')",
              1, params, errstr, errstr_size);
    if (!r)
        return JC_PR_ERROR;
    held = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (held > 0) {
        snprintf(errstr, errstr_size,
                 "worker '%s' holds %ld live job%s: drain it and wait for them to end (or"
                 " delete it with --force); nothing changed",
                 id, held, held == 1 ? "" : "s");
        return JC_PR_BUSY;
    }
    r = query(c, "DELETE FROM workers WHERE id = $1", 1, params, errstr, errstr_size);
    if (!r)
        return JC_PR_ERROR;
    PQclear(r);
    return JC_PR_OK;
}

jc_pr_status jc_principal_set_access(PGconn *c, const char *id, const char *role,
                                     const char *scopes, char *errstr, size_t errstr_size)
{
    const char *params[3];
    char old_role[16], old_scopes[1024];
    PGresult *r = NULL;
    jc_pr_status st = JC_PR_ERROR;

    if (!jc_principal_name_valid(id)) {
        snprintf(errstr, errstr_size, "invalid principal id '%s'", id);
        return JC_PR_INVALID;
    }
    if (role && !jc_principal_role_valid(role)) {
        snprintf(errstr, errstr_size, "invalid role '%s' (" JC_PRINCIPAL_ROLES ")", role);
        return JC_PR_INVALID;
    }
    if (jc_db_exec(c, "BEGIN", errstr, errstr_size) != 0)
        return JC_PR_ERROR;
    params[0] = id;
    r = query(c, "SELECT role, array_to_string(scopes, ',') FROM principals WHERE id = $1"
              " FOR UPDATE", 1, params, errstr, errstr_size);
    if (!r)
        goto fail;
    if (PQntuples(r) != 1) {
        snprintf(errstr, errstr_size, "no principal '%s'", id);
        st = JC_PR_NOT_FOUND;
        goto fail;
    }
    snprintf(old_role, sizeof old_role, "%s", PQgetvalue(r, 0, 0));
    if (strlen(PQgetvalue(r, 0, 1)) >= sizeof old_scopes) {
        snprintf(errstr, errstr_size, "principal '%s' has too many scopes", id);
        st = JC_PR_INVALID;
        goto fail;
    }
    if (!role)
        role = old_role;
    if (!scopes) {
        /* a copy: r is cleared before the UPDATE that uses it */
        snprintf(old_scopes, sizeof old_scopes, "%s", PQgetvalue(r, 0, 1));
        scopes = old_scopes;
    }
    if (!jc_principal_scopes_valid(role, scopes, errstr, errstr_size)) {
        st = JC_PR_INVALID;
        goto fail;
    }
    if (strcmp(old_role, "worker") == 0 && strcmp(role, "worker") != 0) {
        st = leave_worker_role(c, id, errstr, errstr_size);
        if (st != JC_PR_OK)
            goto fail;
        st = JC_PR_ERROR;
    }
    params[1] = role;
    params[2] = scopes;
    PQclear(r);
    r = query(c,
              "UPDATE principals SET role = $2, scopes = string_to_array($3, ','),"
              " " JC_SQL_END_SESSIONS("'role or scopes changed'") " WHERE id = $1",
              3, params, errstr, errstr_size);
    if (!r)
        goto fail;
    PQclear(r);
    r = NULL;
    if (jc_db_exec(c, "COMMIT", errstr, errstr_size) != 0)
        return JC_PR_ERROR;
    return JC_PR_OK;
fail:
    PQclear(r);
    rollback(c);
    return st;
}

jc_pr_status jc_principal_set_disabled(PGconn *c, const char *id, int disabled, int *changed,
                                       char *errstr, size_t errstr_size)
{
    const char *params[1] = {id};
    PGresult *r;
    jc_pr_status st = JC_PR_ERROR;

    *changed = 0;
    if (!jc_principal_name_valid(id)) {
        snprintf(errstr, errstr_size, "invalid principal id '%s'", id);
        return JC_PR_INVALID;
    }
    /* disabling ends the sessions even when it was disabled already: a
     * token minted by a grant that raced the first disable dies too */
    r = query(c,
              disabled ? "UPDATE principals p SET disabled = true,"
                         " " JC_SQL_END_SESSIONS("'disabled'")
                         " FROM principals o WHERE p.id = $1 AND o.id = p.id"
                         " RETURNING NOT o.disabled"
                       : "UPDATE principals p SET disabled = false"
                         " FROM principals o WHERE p.id = $1 AND o.id = p.id"
                         " RETURNING o.disabled",
              1, params, errstr, errstr_size);
    if (!r)
        return JC_PR_ERROR;
    if (PQntuples(r) == 0) {
        snprintf(errstr, errstr_size, "no principal '%s'", id);
        st = JC_PR_NOT_FOUND;
    } else {
        *changed = PQgetvalue(r, 0, 0)[0] == 't';
        st = JC_PR_OK;
    }
    PQclear(r);
    return st;
}

jc_pr_status jc_principal_end_sessions(PGconn *c, const char *id, const char *why, char *errstr,
                                       size_t errstr_size)
{
    const char *params[2] = {id, why};
    PGresult *r;
    jc_pr_status st;

    if (!jc_principal_name_valid(id)) {
        snprintf(errstr, errstr_size, "invalid principal id '%s'", id);
        return JC_PR_INVALID;
    }
    r = query(c, "UPDATE principals SET " JC_SQL_END_SESSIONS("$2") " WHERE id = $1", 2, params,
              errstr, errstr_size);
    if (!r)
        return JC_PR_ERROR;
    st = strcmp(PQcmdTuples(r), "0") == 0 ? JC_PR_NOT_FOUND : JC_PR_OK;
    if (st == JC_PR_NOT_FOUND)
        snprintf(errstr, errstr_size, "no principal '%s'", id);
    PQclear(r);
    return st;
}
