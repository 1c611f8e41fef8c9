/*
 * holdback.c - counting unacknowledged assigns and holding back the
 * workers that leave too many in a row (see holdback.h).
 */
#include "jobs/holdback.h"

#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "jobs/cmdstate.h"

#define ARRAY_MAX (16u << 20)

int jc_holdback_release(PGconn *db, const jc_batch *b, size_t from, size_t to, char *errstr,
                        size_t errstr_size)
{
    /* The subquery locks the rows in id order, like every other statement
     * that locks several workers, and keeps the old held_back_since for the
     * log line. Nothing is written for a worker with nothing to clear. */
    static const char sql[] =
        "UPDATE workers w SET unacked_assigns = 0, held_back_since = NULL"
        "  FROM (SELECT id, held_back_since AS was FROM workers"
        "         WHERE id = ANY($1::text[])"
        "           AND (unacked_assigns > 0 OR held_back_since IS NOT NULL)"
        "         ORDER BY id FOR UPDATE) o"
        " WHERE w.id = o.id"
        " RETURNING w.id, o.was IS NOT NULL";
    jc_buf ids;
    const char *params[1];
    PGresult *r;
    const char *last = NULL;
    size_t last_n = 0;
    int n = 0, rc = -1;

    jc_buf_init(&ids, ARRAY_MAX);
    jc_buf_addstr(&ids, "{");
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        if (m->reason || (m->msg.type != JC_MSG_COMMAND_ACK && m->msg.type != JC_MSG_JOB_EVENT))
            continue;
        /* consecutive messages of one worker are common: name it once */
        if (last && last_n == m->msg.principal.n && memcmp(last, m->msg.principal.p, last_n) == 0)
            continue;
        last = (const char *)m->msg.principal.p;
        last_n = m->msg.principal.n;
        jc_buf_add_array_elem(&ids, last, last_n);
        n++;
    }
    jc_buf_addstr(&ids, "}");
    if (n == 0) {
        rc = 0;
        goto out;
    }
    if (ids.failed) {
        snprintf(errstr, errstr_size, "holdback: too many workers in one batch");
        goto out;
    }
    params[0] = jc_buf_str(&ids);
    r = PQexecParams(db, sql, 1, NULL, params, NULL, NULL, 0);
    if (jc_db_ok(db, r, errstr, errstr_size)) {
        for (int i = 0; i < PQntuples(r); i++)
            if (strcmp(PQgetvalue(r, i, 1), "t") == 0)
                LOG_INFO("holdback", "worker %s acknowledged a command again: it is no longer"
                         " held back", PQgetvalue(r, i, 0));
        rc = 0;
    }
    PQclear(r);
out:
    jc_buf_free(&ids);
    return rc;
}

int jc_holdback_note(PGconn *db, jc_buf *jobs, jc_buf *attempts, jc_buf *workers, int limit,
                     jc_runtime *rt, char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "WITH t AS (SELECT u.w, count(*) AS n"
        "             FROM unnest($1::uuid[], $2::int[], $3::text[]) AS u(j, a, w)"
        "            WHERE NOT EXISTS (SELECT 1 FROM commands c"
        "                               WHERE c.job_id = u.j AND c.attempt = u.a"
        "                                 AND c.kind = 'assign' AND c.status = " JC_SQL_CMD_ACKED
        ")"
        "            GROUP BY u.w),"
        "     o AS (SELECT w.id, t.n FROM workers w JOIN t ON t.w = w.id"
        "            ORDER BY w.id FOR UPDATE OF w)"
        " UPDATE workers w SET unacked_assigns = w.unacked_assigns + o.n,"
        "   held_back_since = CASE WHEN $4::int > 0 AND w.unacked_assigns + o.n >= $4::int"
        "                          THEN coalesce(w.held_back_since, now())"
        "                          ELSE w.held_back_since END"
        "  FROM o WHERE w.id = o.id"
        " RETURNING w.id, w.unacked_assigns, o.n,"
        "   w.held_back_since IS NOT NULL AND w.unacked_assigns - o.n < $4::int";
    const char *params[4];
    char lim[16];
    PGresult *r;
    int ok;

    if (jobs->len <= 1)
        return 0;
    jc_buf_addstr(jobs, "}");
    jc_buf_addstr(attempts, "}");
    jc_buf_addstr(workers, "}");
    snprintf(lim, sizeof lim, "%d", limit);
    params[0] = jc_buf_str(jobs);
    params[1] = jc_buf_str(attempts);
    params[2] = jc_buf_str(workers);
    params[3] = lim;
    r = PQexecParams(db, sql, 4, NULL, params, NULL, NULL, 0);
    ok = jc_db_ok(db, r, errstr, errstr_size);
    for (int i = 0; ok && i < PQntuples(r); i++) {
        atomic_fetch_add(&rt->assigns_unacked, (uint_fast64_t)atoll(PQgetvalue(r, i, 2)));
        if (strcmp(PQgetvalue(r, i, 3), "t") == 0)
            LOG_WARN("holdback",
                     "worker %s left %s assigns in a row unacknowledged (jobs.unacked_assign_limit"
                     " %d): it is held back, no job is given to it until it acknowledges a"
                     " command, proves a new key or restarts. Does it hold its current key"
                     " (jobcoord-admin user show %s)? Does it read its commands partition?",
                     PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), limit, PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return ok ? 0 : -1;
}
