/*
 * jobstats.h - outcome and duration statistics of finished jobs, per job
 * type and per submitter, over a recent window: the data behind
 * `jobcoord-admin job stats` (and the HTTP status API).
 */
#ifndef JC_JOBSTATS_H
#define JC_JOBSTATS_H

#include <stddef.h>

#include <libpq-fe.h>

typedef struct jc_jobstats_row {
    char type[129]; /* the job type; the submitter for jc_jobstats_by_submitter */
    long long succeeded, failed, canceled, total; /* total: the three summed */
    double success_rate;                          /* succeeded / total; -1 when total is 0 */
    int has_durations;                            /* the percentiles are set */
    double p50_ms, p90_ms, p99_ms; /* of finished_at - created_at (queueing included) */
} jc_jobstats_row;

/* jc_jobstats_query counts, per job type, the jobs that finished
 * (succeeded, failed or canceled; finished_at set) within the last window_s
 * seconds (1..JC_JOBSTATS_WINDOW_MAX), with the continuous percentiles
 * (percentile_cont) of their durations from creation to end. *rows is
 * malloc'd (free() it; NULL when *n is 0), ordered by type (bytewise).
 * Returns 0, or -1 with err. One statement: one snapshot. */
int jc_jobstats_query(PGconn *c, long window_s, jc_jobstats_row **rows, size_t *n, char *err,
                      size_t errsz);

/* jc_jobstats_by_submitter is jc_jobstats_query per submitter (its id in
 * type): the same counts and percentiles of the jobs each principal
 * submitted that finished within the window. */
int jc_jobstats_by_submitter(PGconn *c, long window_s, jc_jobstats_row **rows, size_t *n, char *err,
                             size_t errsz);

#define JC_JOBSTATS_WINDOW_MAX 31536000L /* a year */

#endif
