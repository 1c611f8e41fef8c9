/*
 * job_api.c - the handler's side of a running job: the public jc_job_*
 * calls (id, payload, progress, log lines, the final event, cancellation)
 * and the sending of a job's events, which the pool task in jobs.c uses
 * too. Every event of a job is sent under job->mu (see the locking rules at
 * the top of jobs.c), so the events of one job keep their timestamp order
 * in their partition; the first one carries the assign's command id.
 */
#include "jobs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// jc_job_send_locked sends one event of job; the first one sent carries the
// assign's command id. job->mu held.
jc_err_t jc_job_send_locked(jc_job_t *job, jc_job_event *ev)
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

// jc_job_clip_text copies in into out (JC_MAX_TEXT_LEN + 1 bytes) as valid UTF-8:
// cut at a character boundary within JC_MAX_TEXT_LEN bytes, with '?' in
// place of each byte that does not start a valid character.
void jc_job_clip_text(const char *in, char out[JC_MAX_TEXT_LEN + 1])
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

// jc_job_end_locked sends the final event ev unless the job already ended.
// JC_ERR_STATE if it had. job->mu held.
jc_err_t jc_job_end_locked(jc_job_t *job, jc_job_event *ev)
{
    jc_err_t err;

    if (atomic_load(&job->ended))
        return JC_ERR_STATE;
    err = jc_job_send_locked(job, ev);
    if (err == JC_OK)
        atomic_store(&job->ended, 1);
    return err;
}

// jc_job_claim_cancel_locked takes the job's cancel callback for the caller to
// run (with jc_job_run_cancel_cb, after unlocking) if cancellation was asked and
// the callback is set and was not called yet; 1 if it did. job->mu held.
// The canceled flag is set under the same lock, so a handler that sees the
// flag and returns cannot slip between flag and claim: run_job then waits
// for the claimed callback instead of dropping it.
int jc_job_claim_cancel_locked(jc_job_t *job, jc_cancel_fn *cb, void **opaque)
{
    if (!job->cancel_cb || job->cancel_cb_called || !atomic_load(&job->canceled))
        return 0;
    *cb = job->cancel_cb;
    *opaque = job->cancel_opaque;
    job->cancel_cb_called = 1;
    job->cancel_cb_running = 1;
    return 1;
}

// jc_job_run_cancel_cb runs a claimed cancel callback. No lock held.
void jc_job_run_cancel_cb(jc_job_t *job, jc_cancel_fn cb, void *opaque)
{
    cb(job, opaque);
    pthread_mutex_lock(&job->mu);
    job->cancel_cb_running = 0;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

/* ---- the public job API (handler side) ---- */

const char *jc_job_id(const jc_job_t *job)
{
    return job ? job->id_text : NULL;
}

const char *jc_job_type(const jc_job_t *job)
{
    return job ? job->type : NULL;
}

uint32_t jc_job_attempt(const jc_job_t *job)
{
    return job ? job->attempt : 0;
}

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
    err = atomic_load(&job->ended) ? JC_ERR_STATE : jc_job_send_locked(job, &ev);
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
    jc_job_clip_text(line, text);
    memset(&ev, 0, sizeof ev);
    ev.kind = JC_EV_LOG;
    ev.stream = jc_slice_str(stream);
    ev.text = jc_slice_str(text);
    pthread_mutex_lock(&job->mu);
    err = atomic_load(&job->ended) ? JC_ERR_STATE : jc_job_send_locked(job, &ev);
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
    err = jc_job_end_locked(job, &ev);
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
    jc_job_clip_text(error, text);
    memset(&ev, 0, sizeof ev);
    ev.kind = JC_EV_FAILED;
    ev.retryable = retryable != 0;
    ev.text = jc_slice_str(text);
    pthread_mutex_lock(&job->mu);
    err = jc_job_end_locked(job, &ev);
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
    claimed = jc_job_claim_cancel_locked(job, &claimed_cb, &claimed_opaque);
    pthread_mutex_unlock(&job->mu);
    if (claimed) /* cancellation was asked already: at once, on this thread */
        jc_job_run_cancel_cb(job, claimed_cb, claimed_opaque);
}
