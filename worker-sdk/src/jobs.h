/*
 * jobs.h - the jobs a worker runs: handlers by job type, the table of
 * running jobs (at most `slots`), the pool threads that run the handlers,
 * and the job events they send.
 */
#ifndef JC_SDK_JOBS_H
#define JC_SDK_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "jcproto/proto.h"
#include "send.h"

typedef struct jc_jobs jc_jobs;

typedef enum jc_assign_result {
    JC_ASSIGN_ACCEPTED, /* runs; its first job event carries the command id (the ack) */
    JC_ASSIGN_RUNNING,  /* that job attempt already runs here: acknowledge, nothing to do */
    JC_ASSIGN_REFUSED   /* acknowledge with ok=false and the reason */
} jc_assign_result;

/* jc_jobs_new makes the job table of a worker with slots slots. sender and
 * events_topic are copied; the sender's producer and identity must outlive
 * the table. NULL when out of memory. */
jc_jobs *jc_jobs_new(uint32_t slots, const jc_sender *sender, const char *events_topic);

/* jc_jobs_register sets the handler of a job type (replacing an earlier
 * one). Before jc_jobs_start only. */
jc_err_t jc_jobs_register(jc_jobs *jobs, const char *type, jc_job_handler_fn fn, void *opaque,
                          char *errstr, size_t errstr_size);

/* jc_jobs_start starts the pool threads. */
jc_err_t jc_jobs_start(jc_jobs *jobs);

/* jc_jobs_assign takes an assign command (copying what it needs): runs it on
 * a pool thread, or says why not in why. Command thread. */
jc_assign_result jc_jobs_assign(jc_jobs *jobs, const jc_command *c, char *why, size_t why_size);

/* jc_jobs_cancel marks job attempt att canceled and calls its cancel
 * callback (once). Returns 1 if it was running, else 0. Any thread. */
int jc_jobs_cancel(jc_jobs *jobs, const uint8_t job[JC_ID_LEN], uint32_t att);

/* jc_jobs_close refuses every later assign ("shutting down"). */
void jc_jobs_close(jc_jobs *jobs);

/* jc_jobs_closed returns 1 after jc_jobs_close. */
int jc_jobs_closed(jc_jobs *jobs);

/* jc_jobs_wait_idle waits up to timeout_ms until no job is running; 1 if
 * none is. */
int jc_jobs_wait_idle(jc_jobs *jobs, int timeout_ms);

/* jc_jobs_hand_back ends every running job: it is marked canceled, its
 * cancel callback is called, and it is reported failed (retryable) with
 * text. Handlers still running see their later reports refused. Returns
 * how many jobs were handed back. */
int jc_jobs_hand_back(jc_jobs *jobs, const char *text);

/* jc_jobs_snapshot writes the running jobs (not yet ended) into out, at most
 * max, and returns how many. For heartbeats. Any thread. */
uint32_t jc_jobs_snapshot(jc_jobs *jobs, jc_running_job *out, uint32_t max);

/* jc_jobs_running returns how many jobs hold a slot. Any thread. */
int jc_jobs_running(const jc_jobs *jobs);

/* jc_jobs_stop waits for the handlers to return and joins the pool. */
void jc_jobs_stop(jc_jobs *jobs);

/* jc_jobs_destroy stops and frees jobs. NULL allowed. */
void jc_jobs_destroy(jc_jobs *jobs);

#endif
