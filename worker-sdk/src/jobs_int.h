/*
 * jobs_int.h - what jobs.c (the table of running jobs and the pool task)
 * and job_api.c (the handler's side: the public jc_job_* calls and the
 * sending of a job's events) share: the job and table structures and the
 * event helpers. Private to the SDK; the locking rules are at the top of
 * jobs.c.
 */
#ifndef JC_SDK_JOBS_INT_H
#define JC_SDK_JOBS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "jobs.h"
#include "pool.h"


typedef struct handler {
    char type[JC_MAX_NAME_LEN + 1];
    jc_job_handler_fn fn;
    void *opaque;
} handler;

struct jc_job_s {
    jc_jobs *owner;
    uint8_t id[JC_ID_LEN];
    char id_text[37];
    uint32_t attempt;
    uint8_t cmd[JC_ID_LEN];
    char type[JC_MAX_NAME_LEN + 1];
    uint8_t *payload; /* payload_len bytes and a NUL */
    size_t payload_len;
    const handler *h;
    int refs; /* under owner->mu */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* cancel_cb_running went to 0 */
    int cmd_sent;      /* an event carrying the command id went out */
    atomic_int ended;  /* succeeded, failed or canceled was sent (or handed back) */
    atomic_int canceled;
    jc_cancel_fn cancel_cb;
    void *cancel_opaque;
    int cancel_cb_called, cancel_cb_running;
};

struct jc_jobs {
    jc_sender sender;
    char topic[256];
    handler handlers[JC_MAX_CAPS];
    uint32_t n_handlers;
    jc_pool *pool;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* a job left the table */
    uint32_t slots, n;
    jc_job_t **table; /* n of slots entries */
    int closed;
    atomic_int running;
};


/* jc_job_send_locked sends one event of job; the first one sent carries the
 * assign's command id. job->mu held. */
jc_err_t jc_job_send_locked(jc_job_t *job, jc_job_event *ev);

/* jc_job_end_locked sends the final event ev unless the job already ended.
 * JC_ERR_STATE if it had. job->mu held. */
jc_err_t jc_job_end_locked(jc_job_t *job, jc_job_event *ev);

/* jc_job_clip_text copies in into out as valid UTF-8 of at most
 * JC_MAX_TEXT_LEN bytes ('?' for each byte that starts no valid character). */
void jc_job_clip_text(const char *in, char out[JC_MAX_TEXT_LEN + 1]);

/* jc_job_claim_cancel_locked takes the job's cancel callback for the caller
 * to run (with jc_job_run_cancel_cb, after unlocking) if cancellation was
 * asked and the callback is set and was not called yet; 1 if it did.
 * job->mu held. */
int jc_job_claim_cancel_locked(jc_job_t *job, jc_cancel_fn *cb, void **opaque);

/* jc_job_run_cancel_cb runs a claimed cancel callback. No lock held. */
void jc_job_run_cancel_cb(jc_job_t *job, jc_cancel_fn cb, void *opaque);

#endif
