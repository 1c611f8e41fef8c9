/*
 * jobs.c - running jobs on a worker.
 *
 * An accepted assign becomes a jc_job_t in the table (at most `slots` of
 * them) and a task on the pool. The pool thread sends `started` (carrying
 * the assign's command id: that is the assign's acknowledgement), runs the
 * handler, and when the handler returns without ending the job sends
 * `canceled` (it was canceled) or `failed` (retryable, "handler returned
 * without a result"). Whatever event of a job goes out first carries the
 * command id, so a job canceled or handed back before its handler started
 * still acknowledges its assign.
 *
 * Locks, always taken in this order:
 *   jobs->mu   the table, each job's refs, closed;
 *   job->mu    ended, the cancel callback, and the sending of the job's
 *              events: holding it across jc_send keeps the events of one
 *              job in timestamp order in their partition.
 * User callbacks (cancel callbacks) run with no lock held. A job is freed
 * when its last reference goes: the table's (dropped when the pool thread
 * is done with it) or a temporary one taken by cancel or hand-back. Before
 * the pool thread lets go, it waits for a cancel callback in progress, so
 * no callback runs after its handler returned.
 *
 * This file is the table (assign, cancel, hand back, snapshot) and the pool
 * task; job_api.c is the handler's side (the public jc_job_* calls) and the
 * sending of a job's events; jobs_int.h is what they share.
 */
#include "jobs_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"

jc_jobs *jc_jobs_new(uint32_t slots, const jc_sender *sender, const char *events_topic)
{
    jc_jobs *jobs = calloc(1, sizeof *jobs);

    if (!jobs)
        return NULL;
    jobs->sender = *sender;
    snprintf(jobs->topic, sizeof jobs->topic, "%s", events_topic);
    jobs->slots = slots;
    jobs->table = calloc(slots ? slots : 1, sizeof *jobs->table);
    jobs->pool = jc_pool_new(slots);
    if (!jobs->table || !jobs->pool) {
        free(jobs->table);
        jc_pool_destroy(jobs->pool);
        free(jobs);
        return NULL;
    }
    pthread_mutex_init(&jobs->mu, NULL);
    pthread_cond_init(&jobs->idle, NULL);
    return jobs;
}

jc_err_t jc_jobs_register(jc_jobs *jobs, const char *type, jc_job_handler_fn fn, void *opaque,
                          char *errstr, size_t errstr_size)
{
    uint32_t i;

    for (i = 0; i < jobs->n_handlers; i++)
        if (strcmp(jobs->handlers[i].type, type) == 0)
            break;
    if (i == JC_MAX_CAPS) {
        snprintf(errstr, errstr_size, "more than %d job types", JC_MAX_CAPS);
        return JC_ERR_INVALID_ARG;
    }
    snprintf(jobs->handlers[i].type, sizeof jobs->handlers[i].type, "%s", type);
    jobs->handlers[i].fn = fn;
    jobs->handlers[i].opaque = opaque;
    if (i == jobs->n_handlers)
        jobs->n_handlers++;
    return JC_OK;
}

jc_err_t jc_jobs_start(jc_jobs *jobs) { return jc_pool_start(jobs->pool); }

// find_handler returns the handler of a job type, or NULL.
static const handler *find_handler(const jc_jobs *jobs, jc_slice type)
{
    for (uint32_t i = 0; i < jobs->n_handlers; i++)
        if (jc_slice_eq(type, jobs->handlers[i].type))
            return &jobs->handlers[i];
    return NULL;
}

// find_locked returns the running job attempt, or NULL. jobs->mu held.
static jc_job_t *find_locked(jc_jobs *jobs, const uint8_t id[JC_ID_LEN], uint32_t att)
{
    for (uint32_t i = 0; i < jobs->n; i++)
        if (jobs->table[i]->attempt == att && memcmp(jobs->table[i]->id, id, JC_ID_LEN) == 0)
            return jobs->table[i];
    return NULL;
}

// job_free frees a job nobody refers to any more.
static void job_free(jc_job_t *job)
{
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cv);
    free(job->payload);
    free(job);
}

// job_unref drops one reference; the last one frees the job.
static void job_unref(jc_job_t *job)
{
    jc_jobs *jobs = job->owner;
    int last;

    pthread_mutex_lock(&jobs->mu);
    last = --job->refs == 0;
    pthread_mutex_unlock(&jobs->mu);
    if (last)
        job_free(job);
}

// run_job is the pool task of one job: started, the handler, the final event
// if the handler sent none, then the job leaves the table.
static void run_job(void *arg)
{
    jc_job_t *job = arg;
    jc_jobs *jobs = job->owner;
    jc_job_event ev;
    int run = 0;

    pthread_mutex_lock(&job->mu);
    if (!atomic_load(&job->ended) && !atomic_load(&job->canceled)) {
        memset(&ev, 0, sizeof ev);
        ev.kind = JC_EV_STARTED;
        run = jc_job_send_locked(job, &ev) == JC_OK;
    }
    pthread_mutex_unlock(&job->mu);
    if (run)
        job->h->fn(job, job->h->opaque);

    pthread_mutex_lock(&job->mu);
    memset(&ev, 0, sizeof ev);
    if (atomic_load(&job->canceled)) {
        ev.kind = JC_EV_CANCELED;
    } else {
        ev.kind = JC_EV_FAILED;
        ev.retryable = 1;
        ev.text = jc_slice_str(run ? "handler returned without a result"
                                   : "the worker could not report the job's start");
    }
    jc_job_end_locked(job, &ev);
    job->cancel_cb = NULL; /* the handler's callback state may be gone now */
    while (job->cancel_cb_running)
        pthread_cond_wait(&job->cv, &job->mu);
    pthread_mutex_unlock(&job->mu);

    pthread_mutex_lock(&jobs->mu);
    for (uint32_t i = 0; i < jobs->n; i++)
        if (jobs->table[i] == job) {
            jobs->table[i] = jobs->table[--jobs->n];
            break;
        }
    atomic_fetch_sub(&jobs->running, 1);
    pthread_cond_broadcast(&jobs->idle);
    pthread_mutex_unlock(&jobs->mu);
    job_unref(job);
}

// job_new copies an assign command into a new job with one reference.
static jc_job_t *job_new(jc_jobs *jobs, const jc_command *c, const handler *h)
{
    jc_job_t *job = calloc(1, sizeof *job);

    if (!job)
        return NULL;
    job->payload = malloc((size_t)c->payload.n + 1);
    if (!job->payload) {
        free(job);
        return NULL;
    }
    if (c->payload.n)
        memcpy(job->payload, c->payload.p, c->payload.n);
    job->payload[c->payload.n] = '\0';
    job->payload_len = c->payload.n;
    job->owner = jobs;
    memcpy(job->id, c->job, JC_ID_LEN);
    jc_id_format(c->job, job->id_text);
    job->attempt = c->attempt;
    memcpy(job->cmd, c->command, JC_ID_LEN);
    snprintf(job->type, sizeof job->type, "%s", h->type);
    job->h = h;
    job->refs = 1;
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cv, NULL);
    return job;
}

jc_assign_result jc_jobs_assign(jc_jobs *jobs, const jc_command *c, char *why, size_t why_size)
{
    const handler *h = find_handler(jobs, c->type);
    jc_job_t *job = NULL;
    jc_assign_result res = JC_ASSIGN_REFUSED;

    if (!h) {
        snprintf(why, why_size, "no handler for job type '%.*s'", (int)c->type.n,
                 (const char *)c->type.p);
        goto out;
    }
    job = job_new(jobs, c, h);
    if (!job) {
        snprintf(why, why_size, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&jobs->mu);
    if (jobs->closed) {
        snprintf(why, why_size, "shutting down");
    } else if (find_locked(jobs, c->job, c->attempt)) {
        res = JC_ASSIGN_RUNNING;
    } else if (jobs->n >= jobs->slots) {
        snprintf(why, why_size, "no free slot (%u of %u busy)", jobs->n, jobs->slots);
    } else if (jc_pool_submit(jobs->pool, run_job, job) != JC_OK) {
        snprintf(why, why_size, "no free handler thread");
    } else {
        jobs->table[jobs->n++] = job;
        atomic_fetch_add(&jobs->running, 1);
        job = NULL; /* the table's now */
        res = JC_ASSIGN_ACCEPTED;
    }
    pthread_mutex_unlock(&jobs->mu);
out:
    if (job)
        job_free(job);
    return res;
}

int jc_jobs_cancel(jc_jobs *jobs, const uint8_t id[JC_ID_LEN], uint32_t att)
{
    jc_job_t *job;
    jc_cancel_fn cb = NULL;
    void *opaque = NULL;
    int claimed;

    pthread_mutex_lock(&jobs->mu);
    job = find_locked(jobs, id, att);
    if (job)
        job->refs++;
    pthread_mutex_unlock(&jobs->mu);
    if (!job)
        return 0;
    pthread_mutex_lock(&job->mu);
    atomic_store(&job->canceled, 1);
    claimed = jc_job_claim_cancel_locked(job, &cb, &opaque);
    pthread_mutex_unlock(&job->mu);
    if (claimed)
        jc_job_run_cancel_cb(job, cb, opaque);
    job_unref(job);
    return 1;
}

void jc_jobs_close(jc_jobs *jobs)
{
    pthread_mutex_lock(&jobs->mu);
    jobs->closed = 1;
    pthread_mutex_unlock(&jobs->mu);
}

int jc_jobs_closed(jc_jobs *jobs)
{
    int closed;

    pthread_mutex_lock(&jobs->mu);
    closed = jobs->closed;
    pthread_mutex_unlock(&jobs->mu);
    return closed;
}

int jc_jobs_wait_idle(jc_jobs *jobs, int timeout_ms)
{
    struct timespec until;
    int idle, rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&jobs->mu);
    while (jobs->n > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&jobs->idle, &jobs->mu, &until);
    idle = jobs->n == 0;
    pthread_mutex_unlock(&jobs->mu);
    return idle;
}

int jc_jobs_hand_back(jc_jobs *jobs, const char *text)
{
    jc_job_t **held;
    uint32_t n = 0;
    int handed = 0;

    held = calloc(jobs->slots ? jobs->slots : 1, sizeof *held);
    if (!held)
        return 0;
    pthread_mutex_lock(&jobs->mu);
    for (uint32_t i = 0; i < jobs->n; i++) {
        jobs->table[i]->refs++;
        held[n++] = jobs->table[i];
    }
    pthread_mutex_unlock(&jobs->mu);
    for (uint32_t i = 0; i < n; i++) {
        jc_job_event ev;
        jc_cancel_fn cb = NULL;
        void *opaque = NULL;
        int claimed;
        memset(&ev, 0, sizeof ev);
        ev.kind = JC_EV_FAILED;
        ev.retryable = 1;
        ev.text = jc_slice_str(text);
        pthread_mutex_lock(&held[i]->mu);
        atomic_store(&held[i]->canceled, 1);
        claimed = jc_job_claim_cancel_locked(held[i], &cb, &opaque);
        if (!atomic_load(&held[i]->ended)) {
            jc_job_end_locked(held[i], &ev);
            atomic_store(&held[i]->ended, 1); /* even if the event was lost: it is not ours now */
            handed++;
        }
        pthread_mutex_unlock(&held[i]->mu);
        if (claimed)
            jc_job_run_cancel_cb(held[i], cb, opaque);
        job_unref(held[i]);
    }
    free(held);
    return handed;
}

uint32_t jc_jobs_snapshot(jc_jobs *jobs, jc_running_job *out, uint32_t max)
{
    uint32_t k = 0;

    pthread_mutex_lock(&jobs->mu);
    for (uint32_t i = 0; i < jobs->n && k < max; i++) {
        if (atomic_load(&jobs->table[i]->ended))
            continue;
        memcpy(out[k].job, jobs->table[i]->id, JC_ID_LEN);
        out[k].attempt = jobs->table[i]->attempt;
        k++;
    }
    pthread_mutex_unlock(&jobs->mu);
    return k;
}

int jc_jobs_running(const jc_jobs *jobs)
{
    return atomic_load(&((jc_jobs *)jobs)->running);
}

void jc_jobs_stop(jc_jobs *jobs) { jc_pool_stop(jobs->pool); }

void jc_jobs_destroy(jc_jobs *jobs)
{
    if (!jobs)
        return;
    jc_pool_destroy(jobs->pool);
    pthread_mutex_destroy(&jobs->mu);
    pthread_cond_destroy(&jobs->idle);
    free(jobs->table);
    free(jobs);
}
