/*
 * jobstate.h - the job state machine, as a table (s6-supervise's
 * actions[state][event] is the model).
 *
 *   pending -> assigned -> running -> succeeded | failed
 *   pending|assigned|running -> canceling -> canceled (pending cancels at once)
 *   assigned|running -> pending on requeue (lease expired, worker offline or
 *                     lost the job, retryable failure with attempts left)
 *   failed|canceled -> pending when an operator retries the job
 *
 * The table says which events are valid in which state and where they lead;
 * the SQL that applies a transition is a compare-and-set on the state and
 * attempt read under FOR UPDATE (jobwrite.c).
 */
#ifndef JC_JOBSTATE_H
#define JC_JOBSTATE_H

#include "jobs/workerstate.h"

typedef enum jc_job_state {
    JS_PENDING = 0,
    JS_ASSIGNED,
    JS_RUNNING,
    JS_SUCCEEDED,
    JS_FAILED,
    JS_CANCELING,
    JS_CANCELED,
    JS__COUNT,
    JS_INVALID = -1
} jc_job_state;

typedef enum jc_job_input {
    JI_ACCEPTED = 0,  /* worker: job.event accepted */
    JI_STARTED,       /* worker: started */
    JI_PROGRESS,      /* worker: progress */
    JI_LOG,           /* worker: log line */
    JI_SUCCEEDED,     /* worker: succeeded */
    JI_FAILED,        /* worker: failed (retry decided by the caller) */
    JI_CANCELED,      /* worker: canceled */
    JI_CANCEL,        /* client or admin asks to cancel */
    JI_REQUEUE,       /* lease expired, worker offline, job lost */
    JI_REFUSED,       /* the worker refused the assignment (no attempt used) */
    JI_UNSCHEDULABLE, /* pending, and no online worker advertises its type */
    JI_RETRY,         /* an operator starts a failed or canceled job over */
    JI__COUNT
} jc_job_input;

/* jc_job_next returns the state input leads to from state, or JS_INVALID.
 * JI_FAILED and JI_REQUEUE lead to JS_PENDING: the caller turns that into
 * JS_FAILED when no attempts are left (and JS_CANCELING + JI_REQUEUE leads
 * to JS_CANCELED). */
jc_job_state jc_job_next(jc_job_state state, jc_job_input input);

/* Why a pending job waits, as every view shows it (status API, admin CLI,
 * metrics): JC_SQL_WAITING(alias) is an SQL expression over a jobs row,
 * JC_WAITING_NO_WORKER when the job is pending and no online (or draining)
 * worker advertises its type, else NULL. */
#define JC_WAITING_NO_WORKER "no worker can run this type"
// clang-format off
#define JC_SQL_NO_WORKER(j)                                                                 \
    "(" j ".state = 'pending' AND NOT EXISTS (SELECT 1 FROM workers w"                       \
    " WHERE w.status <> " JC_SQL_WORKER_OFFLINE " AND " j ".type = ANY(w.capabilities)))"
#define JC_SQL_WAITING(j) "CASE WHEN " JC_SQL_NO_WORKER(j) " THEN '" JC_WAITING_NO_WORKER "' END"
// clang-format on

const char *jc_job_state_name(jc_job_state s);
jc_job_state jc_job_state_parse(const char *s);
int jc_job_state_final(jc_job_state s);

#endif
