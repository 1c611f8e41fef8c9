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
 */
#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

// send_event_locked sends one event of job; the first one sent carries the
// assign's command id. job->mu held.
static jc_err_t send_event_locked(jc_job_t *job, jc_job_event *ev)
{
    jc_msg m;
    char errstr[256];
    jc_err_t err;

    memset(&m, 0, sizeof m);
    memcpy(ev->job, job->id, JC_ID_LEN);
    ev->attempt = job->attempt;
    if (!job->cmd_sent) {
        ev->has_command = 1;
        memcpy(ev->command, job->cmd, JC_ID_LEN);
    }
    m.type = JC_MSG_JOB_EVENT;
    m.u.event = *ev;
    err = jc_send(&job->owner->sender, job->owner->topic, job->id_text, strlen(job->id_text), &m,
                  NULL, errstr, sizeof errstr);
    if (err == JC_OK)
        job->cmd_sent = 1;
    return err;
}

// clip_text copies in into out (JC_MAX_TEXT_LEN + 1 bytes) as valid UTF-8:
// cut at a character boundary within JC_MAX_TEXT_LEN bytes, with '?' in
// place of each byte that does not start a valid character.
static void clip_text(const char *in, char out[JC_MAX_TEXT_LEN + 1])
{
    const uint8_t *p = (const uint8_t *)(in ? in : "");
    size_t n = strlen((const char *)p), i = 0, o = 0;

    while (i < n) {
        size_t len = p[i] < 0x80 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : p[i] >= 0xc0 ? 2 : 0;
        if (len == 0 || i + len > n || (len > 1 && !jc_utf8_valid(p + i, len))) {
            len = 1;
            if (o + 1 > JC_MAX_TEXT_LEN)
                break;
            out[o++] = '?';
        } else {
            if (o + len > JC_MAX_TEXT_LEN)
                break;
            memcpy(out + o, p + i, len);
            o += len;
        }
        i += len;
    }
    out[o] = '\0';
}

// end_job_locked sends the final event ev unless the job already ended.
// JC_ERR_STATE if it had. job->mu held.
static jc_err_t end_job_locked(jc_job_t *job, jc_job_event *ev)
{
    jc_err_t err;

    if (atomic_load(&job->ended))
        return JC_ERR_STATE;
    err = send_event_locked(job, ev);
    if (err == JC_OK)
        atomic_store(&job->ended, 1);
    return err;
}

// claim_cancel_cb_locked takes the job's cancel callback for the caller to
// run (with run_cancel_cb, after unlocking) if cancellation was asked and
// the callback is set and was not called yet; 1 if it did. job->mu held.
// The canceled flag is set under the same lock, so a handler that sees the
// flag and returns cannot slip between flag and claim: run_job then waits
// for the claimed callback instead of dropping it.
static int claim_cancel_cb_locked(jc_job_t *job, jc_cancel_fn *cb, void **opaque)
{
    if (!job->cancel_cb || job->cancel_cb_called || !atomic_load(&job->canceled))
        return 0;
    *cb = job->cancel_cb;
    *opaque = job->cancel_opaque;
    job->cancel_cb_called = 1;
    job->cancel_cb_running = 1;
    return 1;
}

// run_cancel_cb runs a claimed cancel callback. No lock held.
static void run_cancel_cb(jc_job_t *job, jc_cancel_fn cb, void *opaque)
{
    cb(job, opaque);
    pthread_mutex_lock(&job->mu);
    job->cancel_cb_running = 0;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
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
        run = send_event_locked(job, &ev) == JC_OK;
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
    end_job_locked(job, &ev);
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
    claimed = claim_cancel_cb_locked(job, &cb, &opaque);
    pthread_mutex_unlock(&job->mu);
    if (claimed)
        run_cancel_cb(job, cb, opaque);
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
        claimed = claim_cancel_cb_locked(held[i], &cb, &opaque);
        if (!atomic_load(&held[i]->ended)) {
            end_job_locked(held[i], &ev);
            atomic_store(&held[i]->ended, 1); /* even if the event was lost: it is not ours now */
            handed++;
        }
        pthread_mutex_unlock(&held[i]->mu);
        if (claimed)
            run_cancel_cb(held[i], cb, opaque);
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

/* ---- the public job API (handler side) ---- */

const char *jc_job_id(const jc_job_t *job) { return job ? job->id_text : NULL; }

const char *jc_job_type(const jc_job_t *job) { return job ? job->type : NULL; }

uint32_t jc_job_attempt(const jc_job_t *job) { return job ? job->attempt : 0; }

const void *jc_job_payload(const jc_job_t *job, size_t *len)
{
    if (len)
        *len = job ? job->payload_len : 0;
    return job ? job->payload : NULL;
}

jc_err_t jc_job_progress(jc_job_t *job, int percent)
{
    jc_job_event ev;
    jc_err_t err;

    if (!job || percent < 0 || percent > 100)
        return JC_ERR_INVALID_ARG;
    memset(&ev, 0, sizeof ev);
    ev.kind = JC_EV_PROGRESS;
    ev.has_progress = 1;
    ev.progress = (uint32_t)percent;
    pthread_mutex_lock(&job->mu);
    err = atomic_load(&job->ended) ? JC_ERR_STATE : send_event_locked(job, &ev);
    pthread_mutex_unlock(&job->mu);
    return err;
}

jc_err_t jc_job_log(jc_job_t *job, const char *stream, const char *line)
{
    char text[JC_MAX_TEXT_LEN + 1];
    jc_job_event ev;
    jc_err_t err;

    if (!job || !stream || (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0))
        return JC_ERR_INVALID_ARG;
    clip_text(line, text);
    memset(&ev, 0, sizeof ev);
    ev.kind = JC_EV_LOG;
    ev.stream = jc_slice_str(stream);
    ev.text = jc_slice_str(text);
    pthread_mutex_lock(&job->mu);
    err = atomic_load(&job->ended) ? JC_ERR_STATE : send_event_locked(job, &ev);
    pthread_mutex_unlock(&job->mu);
    return err;
}

jc_err_t jc_job_succeed(jc_job_t *job, const void *result, size_t len)
{
    jc_job_event ev;
    jc_err_t err;

    if (!job || (len > 0 && !result))
        return JC_ERR_INVALID_ARG;
    if (len > JC_MAX_PAYLOAD_BYTES)
        return JC_ERR_TOO_LARGE;
    memset(&ev, 0, sizeof ev);
    ev.kind = JC_EV_SUCCEEDED;
    ev.result.p = result;
    ev.result.n = (uint32_t)len;
    pthread_mutex_lock(&job->mu);
    err = end_job_locked(job, &ev);
    pthread_mutex_unlock(&job->mu);
    return err;
}

jc_err_t jc_job_fail(jc_job_t *job, int retryable, const char *error)
{
    char text[JC_MAX_TEXT_LEN + 1];
    jc_job_event ev;
    jc_err_t err;

    if (!job)
        return JC_ERR_INVALID_ARG;
    clip_text(error, text);
    memset(&ev, 0, sizeof ev);
    ev.kind = JC_EV_FAILED;
    ev.retryable = retryable != 0;
    ev.text = jc_slice_str(text);
    pthread_mutex_lock(&job->mu);
    err = end_job_locked(job, &ev);
    pthread_mutex_unlock(&job->mu);
    return err;
}

int jc_job_canceled(const jc_job_t *job)
{
    return job ? atomic_load(&((jc_job_t *)job)->canceled) : 0;
}

void jc_job_on_cancel(jc_job_t *job, jc_cancel_fn cb, void *opaque)
{
    jc_cancel_fn claimed_cb = NULL;
    void *claimed_opaque = NULL;
    int claimed;

    if (!job)
        return;
    pthread_mutex_lock(&job->mu);
    job->cancel_cb = cb;
    job->cancel_opaque = opaque;
    claimed = claim_cancel_cb_locked(job, &claimed_cb, &claimed_opaque);
    pthread_mutex_unlock(&job->mu);
    if (claimed) /* cancellation was asked already: at once, on this thread */
        run_cancel_cb(job, claimed_cb, claimed_opaque);
}
