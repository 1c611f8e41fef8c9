/*
 * jobwrite.h - changes to jobs, computed in C and written set-based.
 *
 * Whoever changes jobs (the ingest loop for job events, cancels and lost
 * jobs; the scheduler for assignments; the janitor for expired leases and
 * offline workers; jobcoord-admin when an operator cancels or retries a
 * job, or deletes a principal that has live jobs) does it the same way: load the rows with FOR UPDATE
 * (jw_load), run each input through the state machine (jw_apply and
 * friends) in memory, then write everything with a handful of statements
 * (jw_flush): one UPDATE of the changed jobs, one INSERT of their history
 * (job_events), one INSERT into the outbox (commands) followed by NOTIFY.
 * Never a round trip per job.
 */
#ifndef JC_JOBWRITE_H
#define JC_JOBWRITE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/buf.h"
#include "core/config.h"
#include "jobs/jobstate.h"
#include "jcproto/proto.h"

/* The channel the outbox relay LISTENs on: whoever queues a command or a job
 * update NOTIFYs it in the same transaction (jw_flush, the admin CLI's
 * worker commands). */
#define JC_OUTBOX_CHANNEL "jobcoord_outbox"

typedef struct jc_jobrow {
    uint8_t id[JC_ID_LEN];
    char idtext[37];
    jc_job_state state;
    int attempt, max_attempts, timeout_ms;
    int refusals; /* refused assignments: attempt - refusals attempts count */
    char worker[JC_MAX_PRINCIPAL_LEN + 1];    /* "": none */
    char submitter[JC_MAX_PRINCIPAL_LEN + 1];
    char type[JC_MAX_NAME_LEN + 1];
    int64_t last_event_ts;
    /* pending changes, written by jw_flush */
    int dirty;
    char lease[24];     /* "keep", "null" or milliseconds from now */
    int progress;       /* -1: keep */
    int has_result;
    jc_slice result;    /* points into a message kept alive until the flush */
    int has_error;
    char error[JC_MAX_TEXT_LEN + 1];
    int64_t run_after_ms; /* -1: keep; else delay from now */
    char flags[8];        /* a: assigned_at=now, s: started_at, f: finished_at, w: worker set,
                      c: the error text is a cancel reason (-> cancel_reason),
                      r: restart (clears error, cancel reason, result, progress and
                         finished_at: an operator's retry) */
} jc_jobrow;

typedef struct jc_jobwrite {
    const jc_config *cfg;
    jc_jobrow *rows;
    size_t n, cap;
    jc_buf ev[9]; /* job_events columns */
    size_t n_events;
    jc_buf cmd[7]; /* commands columns */
    size_t n_cmds;
    char last_cmd_id[37]; /* the id jw_command gave the last row it queued */
} jc_jobwrite;

void jw_init(jc_jobwrite *jw, const jc_config *cfg);
void jw_reset(jc_jobwrite *jw);
void jw_free(jc_jobwrite *jw);

/* jw_load runs "SELECT <job columns> FROM jobs " + tail with params and adds
 * the rows (tail should lock them: FOR UPDATE [SKIP LOCKED]). Rows already
 * loaded are not added twice. Returns rows added or -1 with errstr. */
int jw_load(jc_jobwrite *jw, PGconn *db, const char *tail, int n_params, const char *const *params,
            char *errstr, size_t errstr_size);

/* jw_find returns the loaded row of job id, or NULL. */
jc_jobrow *jw_find(jc_jobwrite *jw, const uint8_t id[JC_ID_LEN]);

/* What an input carries besides its kind. */
typedef struct jc_job_input_args {
    int retryable;      /* JI_FAILED */
    jc_slice text;      /* error (JI_FAILED), reason (JI_CANCEL, JI_REQUEUE, JI_REFUSED) */
    jc_slice result;    /* JI_SUCCEEDED */
    int progress;       /* JI_PROGRESS */
    jc_slice stream;    /* JI_LOG */
    int64_t event_ts;   /* worker events: the signed ts (replay fence); 0 otherwise */
    /* who caused the input when it is neither the job's worker nor its
     * submitter, for the job's history: "canceled by operator alice@ops1".
     * The history's text is then "cause: text" (text alone still goes to
     * cancel_reason and the worker's cancel command). */
    jc_slice cause;
} jc_job_input_args;

/* jw_apply runs input through the state machine for row and records every
 * effect (row changes, history, job updates to the submitter, cancel
 * commands). Returns the new state, or JS_INVALID (nothing recorded).
 * JI_RETRY starts a failed or canceled job over: pending at once, its
 * attempt count (the fencing token) kept, one more attempt if it had none
 * left; refused (JS_INVALID) when the protocol's JC_MAX_ATTEMPTS are used. */
jc_job_state jw_apply(jc_jobwrite *jw, jc_jobrow *row, jc_job_input input,
                      const jc_job_input_args *args);

/* jw_assign records the assignment of a pending row to worker. */
void jw_assign(jc_jobwrite *jw, jc_jobrow *row, const char *worker);

/* jw_command queues an outbox row, under a new id (jw->last_cmd_id). job may
 * be NULL; attempt < 0: none. */
void jw_command(jc_jobwrite *jw, const char *kind, const char *recipient, const char *job,
                int attempt, const char *state, const char *reason);

/* jw_flush writes every recorded change; returns 0 or -1 with errstr. The
 * caller owns the transaction. */
int jw_flush(jc_jobwrite *jw, PGconn *db, char *errstr, size_t errstr_size);

#endif
