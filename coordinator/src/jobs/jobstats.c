/*
 * jobstats.c - per-type and per-submitter statistics of finished jobs (see
 * jobstats.h).
 *
 * PostgreSQL does the work in one aggregate over the jobs that finished in
 * the window (counts with FILTER, percentiles with percentile_cont over the
 * durations in milliseconds); this file only copies the rows out.
 */
#include "jobs/jobstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"

#define DURATION_MS "extract(epoch FROM finished_at - created_at) * 1000"

/* STATS_SQL(key): the statistics grouped by column key. */
#define STATS_SQL(key)                                                                \
    "SELECT " key                                                                     \
    ","                                                                               \
    " count(*) FILTER (WHERE state = 'succeeded'),"                                   \
    " count(*) FILTER (WHERE state = 'failed'),"                                      \
    " count(*) FILTER (WHERE state = 'canceled'),"                                    \
    " count(*),"                                                                      \
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY " DURATION_MS                       \
    "),"                                                                              \
    " percentile_cont(0.9) WITHIN GROUP (ORDER BY " DURATION_MS                       \
    "),"                                                                              \
    " percentile_cont(0.99) WITHIN GROUP (ORDER BY " DURATION_MS                      \
    ")"                                                                               \
    " FROM jobs"                                                                      \
    " WHERE state IN ('succeeded', 'failed', 'canceled') AND finished_at IS NOT NULL" \
    " AND finished_at >= now() - $1::bigint * interval '1 s'"                         \
    " GROUP BY " key " ORDER BY " key " COLLATE \"C\""

/* run_stats runs one of the STATS_SQL statements (see jobstats.h). */
static int run_stats(PGconn *c, const char *stats_sql, long window_s, jc_jobstats_row **rows,
                     size_t *n, char *err, size_t errsz)
{
    char window[32];
    const char *params[1] = {window};
    jc_jobstats_row *out = NULL;
    PGresult *r;
    size_t count;
    int rc = -1;

    *rows = NULL;
    *n = 0;
    if (window_s < 1 || window_s > JC_JOBSTATS_WINDOW_MAX) {
        snprintf(err, errsz, "window must be 1..%ld seconds", JC_JOBSTATS_WINDOW_MAX);
        return -1;
    }
    snprintf(window, sizeof window, "%ld", window_s);
    r = PQexecParams(c, stats_sql, 1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, r, err, errsz))
        goto out;
    count = (size_t)PQntuples(r);
    if (count > 0) {
        out = calloc(count, sizeof *out);
        if (!out) {
            snprintf(err, errsz, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        jc_jobstats_row *s = &out[i];
        int row = (int)i;

        snprintf(s->type, sizeof s->type, "%s", PQgetvalue(r, row, 0));
        s->succeeded = strtoll(PQgetvalue(r, row, 1), NULL, 10);
        s->failed = strtoll(PQgetvalue(r, row, 2), NULL, 10);
        s->canceled = strtoll(PQgetvalue(r, row, 3), NULL, 10);
        s->total = strtoll(PQgetvalue(r, row, 4), NULL, 10);
        s->success_rate = s->total > 0 ? (double)s->succeeded / (double)s->total : -1.0;
        s->has_durations = !PQgetisnull(r, row, 5);
        if (s->has_durations) {
            s->p50_ms = strtod(PQgetvalue(r, row, 5), NULL);
            s->p90_ms = strtod(PQgetvalue(r, row, 6), NULL);
            s->p99_ms = strtod(PQgetvalue(r, row, 7), NULL);
        }
    }
    *rows = out;
    *n = count;
    out = NULL;
    rc = 0;
out:
    PQclear(r);
    free(out);
    return rc;
}

int jc_jobstats_query(PGconn *c, long window_s, jc_jobstats_row **rows, size_t *n, char *err,
                      size_t errsz)
{
    return run_stats(c, STATS_SQL("type"), window_s, rows, n, err, errsz);
}

int jc_jobstats_by_submitter(PGconn *c, long window_s, jc_jobstats_row **rows, size_t *n, char *err,
                             size_t errsz)
{
    return run_stats(c, STATS_SQL("submitter"), window_s, rows, n, err, errsz);
}
