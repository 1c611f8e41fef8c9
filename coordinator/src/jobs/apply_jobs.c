/*
 * apply_jobs.c - applying job submissions, cancels, job events, command
 * acks and worker events inside the ingest transaction, then handing the
 * newest heartbeat of each worker to reconciliation (apply_reconcile.c).
 *
 * Fencing: a job event is applied only when its attempt is the job's
 * current attempt and its sender is the worker holding the job; a worker
 * that lost its job (a zombie) is rejected with stale_attempt. Replays: a
 * job event whose signed ts is not after the last one applied for that
 * attempt is rejected (replay). A submission of a known job id creates
 * nothing: with the same content (its digest) from the same submitter it is
 * answered with the job's state, otherwise refused (job_exists); a
 * submission repeating an idempotency key is answered with the existing job
 * (a job update carrying the key). Answers are queued by answers.c.
 *
 * Set-based: submissions are one multi-row INSERT (payloads as binary
 * parameters), acks one UPDATE, worker events one INSERT, and all job
 * changes go through jobwrite.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ingest/answers.h"
#include "ingest/apply.h"
#include "core/buf.h"
#include "core/db.h"
#include "jobs/jobwrite.h"
#include "principals/hmac_keycache.h"

#include "jobs/apply_jobs_int.h"

/* ---- job events, cancels, heartbeat reconciliation ---- */

static jc_job_input input_of(jc_job_event_kind k)
{
    switch (k) {
    case JC_EV_ACCEPTED: return JI_ACCEPTED;
    case JC_EV_STARTED: return JI_STARTED;
    case JC_EV_PROGRESS: return JI_PROGRESS;
    case JC_EV_LOG: return JI_LOG;
    case JC_EV_SUCCEEDED: return JI_SUCCEEDED;
    case JC_EV_FAILED: return JI_FAILED;
    default: return JI_CANCELED;
    }
}

// apply_event runs one job event through the state machine, or rejects it.
static void apply_event(jc_jobwrite *jw, jc_inmsg *m, jc_buf *ack_ids, jc_buf *ack_recipients)
{
    const jc_job_event *e = &m->msg.u.event;
    jc_jobrow *row = jw_find(jw, e->job);
    jc_job_input_args args;
    char id[37];

    jc_id_format(e->job, id);
    if (!row) {
        jc_inmsg_reject(m, JC_R_UNKNOWN_JOB, "job %s does not exist", id);
        return;
    }
    if (!jc_slice_eq(m->msg.principal, row->worker) || (int)e->attempt != row->attempt) {
        jc_inmsg_reject(m, JC_R_STALE_ATTEMPT,
                        "job %s attempt %u from %.*s, but attempt %d is held by '%s'", id,
                        e->attempt, (int)m->msg.principal.n, (const char *)m->msg.principal.p,
                        row->attempt, row->worker);
        return;
    }
    if ((int64_t)m->msg.ts_ms <= row->last_event_ts) {
        jc_inmsg_reject(m, JC_R_REPLAY, "job %s event ts %" PRIu64 " not after %" PRId64, id,
                        m->msg.ts_ms, row->last_event_ts);
        return;
    }
    memset(&args, 0, sizeof args);
    args.retryable = e->retryable;
    args.text = e->text;
    args.result = e->result;
    args.progress = e->has_progress ? (int)e->progress : 0;
    args.stream = e->stream;
    args.event_ts = (int64_t)m->msg.ts_ms;
    if (jw_apply(jw, row, input_of(e->kind), &args) == JS_INVALID) {
        jc_inmsg_reject(m, JC_R_INVALID_TRANSITION, "job %s is %s: '%s' is not valid", id,
                        jc_job_state_name(row->state), jc_job_event_kind_name(e->kind));
        return;
    }
    if (e->has_command) {
        add_id(ack_ids, e->command);
        jc_buf_add_array_elem(ack_recipients, row->worker, strlen(row->worker));
    }
}

// apply_cancel cancels a job for its submitter (or an admin).
static void apply_cancel(jc_jobwrite *jw, jc_inmsg *m)
{
    const jc_job_cancel *c = &m->msg.u.cancel;
    jc_jobrow *row = jw_find(jw, c->job);
    jc_job_input_args args;
    char id[37];

    jc_id_format(c->job, id);
    if (!row) {
        jc_inmsg_reject(m, JC_R_UNKNOWN_JOB, "job %s does not exist", id);
        return;
    }
    if (!jc_slice_eq(m->msg.principal, row->submitter) &&
        !(m->signer && m->signer->role == JC_ROLE_ADMIN)) {
        jc_inmsg_reject(m, JC_R_NOT_OWNER, "job %s belongs to '%s'", id, row->submitter);
        return;
    }
    memset(&args, 0, sizeof args);
    args.text = c->reason.n ? c->reason : jc_slice_str("canceled by the submitter");
    if (jw_apply(jw, row, JI_CANCEL, &args) == JS_INVALID) {
        jc_inmsg_reject(m, JC_R_INVALID_TRANSITION, "job %s is already %s", id,
                        jc_job_state_name(row->state));
        return;
    }
    /* The canceller hears where the job went. A job canceled at once has
     * told its submitter already (its final job.update). */
    if (!(jc_job_state_final(row->state) && jc_slice_eq(m->msg.principal, row->submitter)))
        jc_answer_set(m, id, jc_job_state_name(row->state), row->attempt);
}

// newest_heartbeats returns, per worker, the index of its newest accepted
// heartbeat in the range (an array of n indices, caller frees).
static size_t *newest_heartbeats(jc_batch *b, size_t from, size_t to, size_t *n)
{
    size_t *out = malloc((to - from + 1) * sizeof *out), k = 0;
    if (!out)
        return NULL;
    for (size_t i = from; i < to; i++) {
        size_t j;
        if (!accepted(&b->msgs[i], JC_MSG_HEARTBEAT))
            continue;
        for (j = 0; j < k; j++)
            if (b->msgs[out[j]].msg.principal.n == b->msgs[i].msg.principal.n &&
                memcmp(b->msgs[out[j]].msg.principal.p, b->msgs[i].msg.principal.p,
                       b->msgs[i].msg.principal.n) == 0)
                break;
        if (j == k)
            out[k++] = i;
        else if (b->msgs[i].msg.ts_ms > b->msgs[out[j]].msg.ts_ms)
            out[j] = i;
    }
    *n = k;
    return out;
}

// apply_refusals puts refused assignments back to pending without using an
// attempt (jobstate: JI_REFUSED; past jobs.max_refusals the job fails),
// keeps the worker's reason in the job's error and history, and records in
// job_refusals that the scheduler skips that worker for that job until
// jobs.refusal_skip_s has passed.
static int apply_refusals(PGconn *db, jc_jobwrite *jw, const refused *refusals, size_t n,
                          char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO job_refusals AS x (job_id, worker_id, refused_at, skip_until, error)"
        " SELECT u.j, u.w, now(), now() + make_interval(secs => $4::int), u.e"
        "   FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(j, w, e)"
        " ON CONFLICT (job_id, worker_id) DO UPDATE SET refused_at = now(),"
        "   skip_until = excluded.skip_until, error = excluded.error";
    jc_buf a[3];
    const char *params[4];
    char skip[16];
    int rows = 0, rc = -1;

    for (int i = 0; i < 3; i++) {
        jc_buf_init(&a[i], ARRAY_MAX);
        jc_buf_addstr(&a[i], "{");
    }
    for (size_t k = 0; k < n; k++) {
        const refused *f = &refusals[k];
        jc_jobrow *row = jw_find(jw, f->job);
        jc_job_input_args args;
        char text[JC_MAX_TEXT_LEN + 256]; /* room for the prefix; cut to the limit below */
        size_t len;
        if (!row || (row->state != JS_ASSIGNED && row->state != JS_CANCELING) ||
            row->attempt != f->attempt || strcmp(row->worker, f->worker) != 0)
            continue;
        if (row->refusals + 1 > jw->cfg->max_refusals)
            snprintf(text, sizeof text,
                     "refused %d times (jobs.max_refusals is %d); the last refusal, by worker"
                     " %s: %s",
                     row->refusals + 1, jw->cfg->max_refusals, f->worker,
                     f->error[0] ? f->error : "(no reason given)");
        else
            snprintf(text, sizeof text, "worker %s refused the assignment: %s", f->worker,
                     f->error[0] ? f->error : "(no reason given)");
        /* an error text travels in job.update's err (at most JC_MAX_TEXT_LEN
         * bytes): cut there, on a UTF-8 character boundary */
        len = strlen(text);
        if (len > JC_MAX_TEXT_LEN) {
            len = JC_MAX_TEXT_LEN;
            while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
                len--;
            text[len] = '\0';
        }
        memset(&args, 0, sizeof args);
        args.text = jc_slice_str(text);
        if (jw_apply(jw, row, JI_REFUSED, &args) == JS_INVALID)
            continue;
        add_id(&a[0], f->job);
        jc_buf_add_array_elem(&a[1], f->worker, strlen(f->worker));
        if (f->error[0])
            jc_buf_add_array_elem(&a[2], f->error, strlen(f->error));
        else
            jc_buf_add_array_null(&a[2]);
        rows++;
    }
    for (int i = 0; i < 3; i++) {
        jc_buf_addstr(&a[i], "}");
        params[i] = jc_buf_str(&a[i]);
    }
    snprintf(skip, sizeof skip, "%d", jw->cfg->refusal_skip_s);
    params[3] = skip;
    rc = 0;
    if (rows && jw->cfg->refusal_skip_s > 0) {
        PGresult *r = PQexecParams(db, sql, 4, NULL, params, NULL, NULL, 0);
        rc = jc_db_ok(db, r, errstr, errstr_size) ? 0 : -1;
        PQclear(r);
    }
    for (int i = 0; i < 3; i++)
        jc_buf_free(&a[i]);
    return rc;
}

int jc_apply_jobs(PGconn *db, jc_jobwrite *jw, jc_batch *b, size_t from, size_t to,
                  int *schedule, char *errstr, size_t errstr_size)
{
    static const char load_tail[] =
        "WHERE id = ANY($1::uuid[])"
        "   OR (worker_id = ANY($2::text[]) AND state IN ('assigned', 'running', 'canceling'))"
        " ORDER BY id FOR UPDATE";
    jc_buf ids, workers, ack_ids, ack_recipients;
    size_t *hbs = NULL, n_hbs = 0, n_refused = 0;
    refused *refusals = NULL;
    const char *params[2];
    int rc = -1, any = 0;

    jw_reset(jw);
    for (size_t i = from; i < to; i++)
        b->msgs[i].answer = 0; /* decided again by this transaction */
    jc_buf_init(&ids, ARRAY_MAX);
    jc_buf_init(&workers, ARRAY_MAX);
    jc_buf_init(&ack_ids, ARRAY_MAX);
    jc_buf_init(&ack_recipients, ARRAY_MAX);
    jc_buf_addstr(&ids, "{");
    jc_buf_addstr(&workers, "{");
    jc_buf_addstr(&ack_ids, "{");
    jc_buf_addstr(&ack_recipients, "{");

    if (aj_apply_submits(db, jw, b, from, to, schedule, errstr, errstr_size) != 0 ||
        aj_apply_acks(db, b, from, to, &ids, &refusals, &n_refused, errstr, errstr_size) != 0 ||
        aj_apply_worker_events(db, b, from, to, errstr, errstr_size) != 0)
        goto out;
    /* every job this range touches, locked in id order (no deadlocks) */
    any = ids.len > 1;
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        if (accepted(m, JC_MSG_JOB_EVENT))
            add_id(&ids, m->msg.u.event.job);
        else if (accepted(m, JC_MSG_JOB_CANCEL))
            add_id(&ids, m->msg.u.cancel.job);
        else
            continue;
        any = 1;
    }
    hbs = newest_heartbeats(b, from, to, &n_hbs);
    if (!hbs) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < n_hbs; k++) {
        const jc_inmsg *m = &b->msgs[hbs[k]];
        jc_buf_add_array_elem(&workers, (const char *)m->msg.principal.p, m->msg.principal.n);
        for (uint32_t j = 0; j < m->msg.u.hb.n_running; j++)
            add_id(&ids, m->msg.u.hb.running[j].job);
        any = 1;
        *schedule = 1; /* capacity may have appeared */
    }
    jc_buf_addstr(&ids, "}");
    jc_buf_addstr(&workers, "}");
    if (any) {
        params[0] = jc_buf_str(&ids);
        params[1] = jc_buf_str(&workers);
        if (jw_load(jw, db, load_tail, 2, params, errstr, errstr_size) < 0)
            goto out;
    }
    if (n_refused && apply_refusals(db, jw, refusals, n_refused, errstr, errstr_size) != 0)
        goto out;
    *schedule |= n_refused > 0;
    for (size_t i = from; i < to; i++) {
        jc_inmsg *m = &b->msgs[i];
        if (accepted(m, JC_MSG_JOB_EVENT)) {
            apply_event(jw, m, &ack_ids, &ack_recipients);
            *schedule = 1;
        } else if (accepted(m, JC_MSG_JOB_CANCEL)) {
            apply_cancel(jw, m);
        }
    }
    if (n_hbs && jc_reconcile(db, jw, b, hbs, n_hbs, errstr, errstr_size) != 0)
        goto out;
    if (ack_ids.len > 1 && aj_implied_acks(db, &ack_ids, &ack_recipients, errstr, errstr_size) != 0)
        goto out;
    if (jw_flush(jw, db, errstr, errstr_size) != 0)
        goto out;
    rc = 0;
out:
    free(hbs);
    free(refusals);
    jc_buf_free(&ids);
    jc_buf_free(&workers);
    jc_buf_free(&ack_ids);
    jc_buf_free(&ack_recipients);
    return rc;
}
