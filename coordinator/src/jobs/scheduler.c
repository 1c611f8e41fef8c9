/*
 * scheduler.c - assigning pending jobs to workers (see jc_schedule in
 * apply.h).
 *
 * Two queries and one flush per pass, whatever the number of jobs: lock the
 * workers that can take work (online, not draining, not held back for
 * unacknowledged assigns, free slots counted from the jobs they hold, not
 * from what they claim) with SKIP LOCKED; lock the
 * best pending jobs of the types those workers can run, by priority then
 * age, again with SKIP LOCKED; match them in memory, spreading jobs over the
 * workers with the most free slots, but never to a worker that refused
 * that job within jobs.refusal_skip_s; write the assignments and their
 * assign commands through jobwrite. Another coordinator running the same pass at
 * the same time skips what this one locked, so nothing is assigned twice
 * and no worker gets more than its slots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/apply.h"
#include "core/buf.h"
#include "core/db.h"
#include "jobs/jobwrite.h"
#include "jobs/workerstate.h"

typedef struct free_worker {
    char id[JC_MAX_PRINCIPAL_LEN + 1];
    char caps[4096]; /* ",a,b," for cheap matching */
    int free;
} free_worker;

/* A worker that refused a job is not offered it again until skip_until
 * (job_refusals, written by apply_jobs.c). */
typedef struct skip_pair {
    uint8_t job[JC_ID_LEN];
    char worker[JC_MAX_PRINCIPAL_LEN + 1];
} skip_pair;

// load_skips reads the refusals still in force for the loaded jobs that
// have any (*out: caller frees). Jobs never refused cost no query.
static int load_skips(PGconn *db, jc_jobwrite *jw, skip_pair **out, int *n_out, char *errstr,
                      size_t errstr_size)
{
    static const char sql[] = "SELECT job_id, worker_id FROM job_refusals"
                              " WHERE job_id = ANY($1::uuid[]) AND skip_until > now()";
    jc_buf ids;
    const char *params[1];
    PGresult *r;
    int any = 0, rc = -1;

    *out = NULL;
    *n_out = 0;
    jc_buf_init(&ids, 1u << 24);
    jc_buf_addstr(&ids, "{");
    for (size_t j = 0; j < jw->n; j++)
        if (jw->rows[j].refusals > 0) {
            jc_buf_add_array_elem(&ids, jw->rows[j].idtext, 36);
            any = 1;
        }
    jc_buf_addstr(&ids, "}");
    if (!any) {
        jc_buf_free(&ids);
        return 0;
    }
    params[0] = jc_buf_str(&ids);
    r = PQexecParams(db, sql, 1, NULL, params, NULL, NULL, 0);
    jc_buf_free(&ids);
    if (!jc_db_ok(db, r, errstr, errstr_size))
        goto out;
    *out = calloc((size_t)PQntuples(r) + 1, sizeof **out);
    if (!*out) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (jc_id_parse(PQgetvalue(r, i, 0), (*out)[*n_out].job) == 0) {
            snprintf((*out)[*n_out].worker, sizeof (*out)[*n_out].worker, "%s",
                     PQgetvalue(r, i, 1));
            (*n_out)++;
        }
    rc = 0;
out:
    PQclear(r);
    return rc;
}

static int skipped(const skip_pair *skips, int n, const jc_jobrow *row, const char *worker)
{
    for (int i = 0; i < n; i++)
        if (memcmp(skips[i].job, row->id, JC_ID_LEN) == 0 && strcmp(skips[i].worker, worker) == 0)
            return 1;
    return 0;
}

static int has_cap(const free_worker *w, const char *type)
{
    char needle[JC_MAX_NAME_LEN + 3];
    snprintf(needle, sizeof needle, ",%s,", type);
    return strstr(w->caps, needle) != NULL;
}

int jc_schedule(PGconn *db, jc_jobwrite *jw, int max, int *assigned, char *errstr,
                size_t errstr_size)
{
    /* Two statements, on purpose. The first locks the candidate workers
     * (SKIP LOCKED: another instance scheduling them keeps them); the
     * second counts their held jobs. In READ COMMITTED a statement reads a
     * snapshot taken when it starts, and a row lock re-checks only the
     * locked row: counting in the locking statement could read a snapshot
     * from before another instance's assignments to a worker committed and
     * released its lock, and overfill that worker's slots. The second
     * statement starts after the locks are held, so every assignment to
     * these workers is committed and counted. */
    static const char lock_sql[] =
        "SELECT w.id FROM workers w"
        "  LEFT JOIN (SELECT worker_id, count(*) AS n FROM jobs"
        "             WHERE state IN ('assigned', 'running', 'canceling')"
        "               AND worker_id IS NOT NULL GROUP BY worker_id) l ON l.worker_id = w.id"
        " WHERE w.status = " JC_SQL_WORKER_ONLINE
        "   AND NOT w.drain_requested AND w.slots > coalesce(l.n, 0)"
        "   AND w.held_back_since IS NULL" /* unacknowledged assigns: holdback.h */
        " FOR UPDATE OF w SKIP LOCKED";
    static const char workers_sql[] =
        "SELECT w.id, array_to_string(w.capabilities, ','), w.slots - coalesce(l.n, 0)"
        "  FROM workers w LEFT JOIN (SELECT worker_id, count(*) AS n FROM jobs"
        "                             WHERE state IN ('assigned', 'running', 'canceling')"
        "                               AND worker_id = ANY($1::text[]) GROUP BY worker_id) l"
        "       ON l.worker_id = w.id"
        " WHERE w.id = ANY($1::text[])";
    static const char jobs_tail[] =
        "WHERE state = 'pending' AND run_after <= now() AND type = ANY($1::text[])"
        " ORDER BY priority DESC, created_at LIMIT $2::int FOR UPDATE SKIP LOCKED";
    free_worker *ws = NULL;
    skip_pair *skips = NULL;
    int n_skips = 0;
    PGresult *r = NULL;
    jc_buf types;
    const char *params[2];
    char limit[16];
    int n_ws = 0, total_free = 0, rc = -1;

    *assigned = 0;
    jw_reset(jw);
    jc_buf_init(&types, 1 << 20);
    r = PQexec(db, lock_sql);
    if (!jc_db_ok(db, r, errstr, errstr_size))
        goto out;
    if (PQntuples(r) == 0) {
        rc = 0;
        goto out;
    }
    jc_buf_addstr(&types, "{");
    for (int i = 0; i < PQntuples(r); i++)
        jc_buf_add_array_elem(&types, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
    jc_buf_addstr(&types, "}");
    if (types.failed) {
        snprintf(errstr, errstr_size, "too many workers to schedule at once");
        goto out;
    }
    PQclear(r);
    params[0] = jc_buf_str(&types);
    r = PQexecParams(db, workers_sql, 1, NULL, params, NULL, NULL, 0);
    jc_buf_reset(&types);
    if (!jc_db_ok(db, r, errstr, errstr_size))
        goto out;
    ws = calloc((size_t)PQntuples(r), sizeof *ws);
    if (!ws) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    jc_buf_addstr(&types, "{");
    for (int i = 0; i < PQntuples(r); i++) {
        free_worker *w = &ws[n_ws];
        char *save = NULL, *tok, caps[4096];
        snprintf(w->id, sizeof w->id, "%s", PQgetvalue(r, i, 0));
        snprintf(w->caps, sizeof w->caps, ",%s,", PQgetvalue(r, i, 1));
        w->free = atoi(PQgetvalue(r, i, 2));
        if (w->free <= 0)
            continue;
        snprintf(caps, sizeof caps, "%s", PQgetvalue(r, i, 1));
        for (tok = strtok_r(caps, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            jc_buf_add_array_elem(&types, tok, strlen(tok));
        total_free += w->free;
        n_ws++;
    }
    jc_buf_addstr(&types, "}");
    if (n_ws == 0) {
        rc = 0;
        goto out;
    }
    snprintf(limit, sizeof limit, "%d", total_free < max ? total_free : max);
    params[0] = jc_buf_str(&types);
    params[1] = limit;
    if (jw_load(jw, db, jobs_tail, 2, params, errstr, errstr_size) < 0 ||
        load_skips(db, jw, &skips, &n_skips, errstr, errstr_size) != 0)
        goto out;
    for (size_t j = 0; j < jw->n; j++) {
        jc_jobrow *row = &jw->rows[j];
        free_worker *best = NULL;
        for (int i = 0; i < n_ws; i++)
            if (ws[i].free > 0 && has_cap(&ws[i], row->type) &&
                (!best || ws[i].free > best->free) && !skipped(skips, n_skips, row, ws[i].id))
                best = &ws[i];
        if (!best)
            continue; /* its lock is released at commit; another pass takes it */
        jw_assign(jw, row, best->id);
        best->free--;
        (*assigned)++;
    }
    if (jw_flush(jw, db, errstr, errstr_size) != 0)
        goto out;
    rc = 0;
out:
    PQclear(r);
    free(ws);
    free(skips);
    jc_buf_free(&types);
    return rc;
}
