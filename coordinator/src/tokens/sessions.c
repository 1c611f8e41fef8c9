/* sessions.c - revoking a principal's sessions (see sessions.h). */
#include "tokens/sessions.h"

#include <stdio.h>
#include <stdlib.h>

jc_pr_status jc_sessions_revoke(PGconn *db, const char *principal, const char *family,
                                const char *except, int skew_s, long *families, long *tokens,
                                char *err, size_t err_size)
{
    /* the family must be the principal's: counted whatever its state */
    static const char sql[] =
        "WITH f AS (UPDATE refresh_tokens SET revoked_at = now()"
        "            WHERE principal_id = $1 AND revoked_at IS NULL"
        "              AND ($2::uuid IS NULL OR family = $2::uuid)"
        "              AND ($3::uuid IS NULL OR family <> $3::uuid)"
        "            RETURNING family, used_at IS NULL AND expires_at > now() AS live),"
        "     a AS (INSERT INTO revoked_tokens (jti, principal_id, expires_at)"
        "            SELECT jti, principal_id, expires_at + make_interval(secs => $4::int)"
        "              FROM family_access_tokens"
        "             WHERE principal_id = $1 AND expires_at > now()"
        "               AND ($2::uuid IS NULL OR family = $2::uuid)"
        "               AND ($3::uuid IS NULL OR family <> $3::uuid)"
        "            ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(DISTINCT family) FROM f WHERE live), (SELECT count(*) FROM a),"
        "   $2::uuid IS NULL OR EXISTS (SELECT 1 FROM refresh_tokens"
        "                               WHERE principal_id = $1 AND family = $2::uuid)";
    char skew[16];
    const char *params[4] = {principal, family, except, skew};
    PGresult *r;
    jc_pr_status st = JC_PR_OK;

    *families = 0;
    *tokens = 0;
    snprintf(skew, sizeof skew, "%d", skew_s);
    r = PQexecParams(db, sql, 4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "cannot revoke the sessions of '%s': %s", principal,
                 PQresultErrorMessage(r));
        st = JC_PR_ERROR;
    } else if (PQgetvalue(r, 0, 2)[0] != 't') {
        snprintf(err, err_size, "'%s' has no session %s", principal, family);
        st = JC_PR_NOT_FOUND;
    } else {
        *families = atol(PQgetvalue(r, 0, 0));
        *tokens = atol(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return st;
}
