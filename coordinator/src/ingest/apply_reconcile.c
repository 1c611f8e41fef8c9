/*
 * apply_reconcile.c - heartbeat reconciliation: comparing the jobs a
 * worker's heartbeat lists with the jobs it holds, inside the ingest
 * transaction (called by jc_apply_jobs once the batch's job events are
 * applied in memory).
 *
 * Heartbeats and job events travel on different topics, so either can be
 * applied first (PROTOCOL.md section 12, "Heartbeat reconciliation"):
 *  - a heartbeat may stop listing a job whose final event is still on its
 *    way: a running job missing from the heartbeats of the worker holding
 *    it is taken back only once it has been missing for
 *    jobs.reconcile_grace_ms (jobs.unlisted_since, coordinator's clock);
 *    the final event arriving in that time ends the job as usual;
 *  - a heartbeat may still list a job whose final event was applied (the
 *    worker lists it until the event is delivered): a listed job attempt
 *    the worker does not hold is answered with a cancel only when the
 *    attempt ended more than jobs.reconcile_grace_ms ago (or the worker
 *    never held it, or the job is unknown).
 * Amplification: a heartbeat may list 1024 jobs. Each (worker, job,
 * attempt) is answered at most once per grace interval (an earlier cancel
 * still being sent, or created within the interval, suppresses it), at most
 * MAX_ANSWERS cancels per heartbeat, and the log line is rate-limited.
 *
 * Set-based: one UPDATE records and clears "missing since" marks, one
 * SELECT decides which listings are answered; the changes go through
 * jobwrite.c with the rest of the batch.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/apply.h"
#include "core/buf.h"
#include "core/db.h"
#include "jobs/jobwrite.h"
#include "core/log.h"
#include "jobs/cmdstate.h"

#define ARRAY_MAX (64u << 20)
#define MAX_ANSWERS 64 /* cancels answering one heartbeat (PROTOCOL.md section 12) */

/* A listed job attempt the worker does not hold: heartbeat and entry. */
typedef struct listing {
    size_t hb;  /* index into hbs */
    uint32_t i; /* index into its running list */
} listing;

/* The ingest loop is the only caller: one limiter, no locking. */
static jc_log_limit answer_log, requeue_log;

static int held_live(const jc_jobrow *row, const char *worker, uint32_t attempt)
{
    return row && strcmp(row->worker, worker) == 0 && row->attempt == (int)attempt &&
           !jc_job_state_final(row->state) && row->state != JS_PENDING;
}

static int listed(const jc_heartbeat *hb, const jc_jobrow *row)
{
    for (uint32_t i = 0; i < hb->n_running; i++)
        if (memcmp(hb->running[i].job, row->id, JC_ID_LEN) == 0 &&
            (int)hb->running[i].attempt == row->attempt)
            return 1;
    return 0;
}

static void worker_of(const jc_inmsg *m, char *out, size_t size)
{
    size_t n = m->msg.principal.n < size - 1 ? m->msg.principal.n : size - 1;
    memcpy(out, m->msg.principal.p, n);
    out[n] = '\0';
}

// mark_unlisted records which held running jobs the heartbeats omit (the
// first time: now) and clears the mark of those listed again; requeues the
// jobs missing for longer than the grace period.
static int mark_unlisted(PGconn *db, jc_jobwrite *jw, jc_buf *ids, jc_buf *missing,
                         char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "UPDATE jobs j SET unlisted_attempt = CASE WHEN u.missing THEN j.attempt END,"
        "  unlisted_since = CASE WHEN NOT u.missing THEN NULL"
        "                        WHEN j.unlisted_attempt = j.attempt"
        "                             AND j.unlisted_since IS NOT NULL THEN j.unlisted_since"
        "                        ELSE now() END"
        "  FROM unnest($1::uuid[], $2::bool[]) AS u(id, missing)"
        " WHERE j.id = u.id AND (u.missing OR j.unlisted_since IS NOT NULL)"
        " RETURNING j.id, u.missing AND j.unlisted_since <= now() - $3::bigint * interval '1 ms'";
    const char *params[3];
    char grace[24];
    PGresult *r;

    jc_buf_addstr(ids, "}");
    jc_buf_addstr(missing, "}");
    if (ids->failed || missing->failed) {
        snprintf(errstr, errstr_size, "reconciliation: too many jobs for one statement");
        return -1;
    }
    snprintf(grace, sizeof grace, "%d", jw->cfg->reconcile_grace_ms);
    params[0] = jc_buf_str(ids);
    params[1] = jc_buf_str(missing);
    params[2] = grace;
    r = PQexecParams(db, sql, 3, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(db, r, errstr, errstr_size)) {
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        uint8_t id[JC_ID_LEN];
        jc_jobrow *row;
        jc_job_input_args args;
        char worker[JC_MAX_PRINCIPAL_LEN + 1];
        jc_job_state was;
        if (strcmp(PQgetvalue(r, i, 1), "t") != 0 || jc_id_parse(PQgetvalue(r, i, 0), id) != 0 ||
            !(row = jw_find(jw, id)))
            continue;
        memset(&args, 0, sizeof args);
        args.text = jc_slice_str("the worker no longer lists the job in its heartbeats");
        snprintf(worker, sizeof worker, "%s", row->worker);
        was = row->state;
        if (jw_apply(jw, row, JI_REQUEUE, &args) != JS_INVALID &&
            jc_log_allow(&requeue_log, 10, "ingest", "reconciliation requeues"))
            LOG_INFO("ingest", "job %s (attempt %d, %s on %s): %s -> %s", row->idtext, row->attempt,
                     jc_job_state_name(was), worker, (const char *)args.text.p,
                     jc_job_state_name(row->state));
    }
    PQclear(r);
    return 0;
}

// answer_listings sends cancels for the listed job attempts the workers do
// not hold, unless the attempt ended within the grace period (the worker
// may list a job until its final event is delivered) or the listing was
// answered within it. At most MAX_ANSWERS per heartbeat.
static int answer_listings(PGconn *db, jc_jobwrite *jw, jc_batch *b, const size_t *hbs,
                           size_t n_hbs, const listing *ls, size_t n, char *errstr,
                           size_t errstr_size)
{
    static const char sql[] =
        "SELECT DISTINCT ON (u.w, u.id, u.att) u.k, j.id IS NOT NULL"
        "  FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[]) AS u(id, att, w, k)"
        "  LEFT JOIN jobs j ON j.id = u.id"
        " WHERE NOT EXISTS (SELECT 1 FROM commands c"
        "                    WHERE c.job_id = u.id AND c.kind = 'cancel' AND c.recipient = u.w"
        "                      AND c.attempt = u.att AND (c.status IN " JC_SQL_CMD_OPEN
        "                      OR c.created_at > now() - $5::bigint * interval '1 ms'))"
        "   AND coalesce(CASE WHEN j.attempt > u.att THEN j.assigned_at"
        "                     WHEN j.attempt = u.att AND j.state IN ('succeeded', 'failed',"
        "                          'canceled') THEN j.finished_at"
        "                     WHEN j.attempt = u.att AND j.state = 'pending' THEN j.updated_at"
        "                END, '-infinity') <= now() - $5::bigint * interval '1 ms'"
        " ORDER BY u.w, u.id, u.att, u.k";
    jc_buf a[4];
    const char *params[5];
    char grace[24];
    unsigned *answered = calloc(n_hbs + 1, sizeof *answered);
    PGresult *r = NULL;
    int rc = -1;

    for (int c = 0; c < 4; c++) {
        jc_buf_init(&a[c], ARRAY_MAX);
        jc_buf_addstr(&a[c], "{");
    }
    if (!answered) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        const jc_inmsg *m = &b->msgs[hbs[ls[k].hb]];
        const jc_running_job *e = &m->msg.u.hb.running[ls[k].i];
        char id[37];
        jc_id_format(e->job, id);
        jc_buf_add_array_elem(&a[0], id, 36);
        jc_buf_add_array_num(&a[1], e->attempt);
        jc_buf_add_array_elem(&a[2], (const char *)m->msg.principal.p, m->msg.principal.n);
        jc_buf_add_array_num(&a[3], (long long)k);
    }
    for (int c = 0; c < 4; c++) {
        jc_buf_addstr(&a[c], "}");
        if (a[c].failed) {
            snprintf(errstr, errstr_size, "reconciliation: too many jobs for one statement");
            goto out;
        }
        params[c] = jc_buf_str(&a[c]);
    }
    snprintf(grace, sizeof grace, "%d", jw->cfg->reconcile_grace_ms);
    params[4] = grace;
    r = PQexecParams(db, sql, 5, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(db, r, errstr, errstr_size))
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        size_t k = (size_t)strtoul(PQgetvalue(r, i, 0), NULL, 10);
        int known = strcmp(PQgetvalue(r, i, 1), "t") == 0;
        const jc_inmsg *m;
        const jc_running_job *e;
        char worker[JC_MAX_PRINCIPAL_LEN + 1], id[37];
        if (k >= n || answered[ls[k].hb] >= MAX_ANSWERS)
            continue;
        answered[ls[k].hb]++;
        m = &b->msgs[hbs[ls[k].hb]];
        e = &m->msg.u.hb.running[ls[k].i];
        worker_of(m, worker, sizeof worker);
        jc_id_format(e->job, id);
        jw_command(jw, "cancel", worker, id, (int)e->attempt, NULL,
                   known ? "the job attempt is not held by this worker"
                         : "the coordinator has no such job");
        if (jc_log_allow(&answer_log, 10, "ingest", "reconciliation cancels"))
            LOG_WARN("ingest", "worker %s lists job %s attempt %u, which %s: cancel sent", worker,
                     id, (unsigned)e->attempt,
                     known ? "it does not hold" : "does not exist");
    }
    rc = 0;
out:
    PQclear(r);
    free(answered);
    for (int c = 0; c < 4; c++)
        jc_buf_free(&a[c]);
    return rc;
}

int jc_reconcile(PGconn *db, jc_jobwrite *jw, jc_batch *b, const size_t *hbs, size_t n_hbs,
                 char *errstr, size_t errstr_size)
{
    jc_buf ids, missing;
    listing *ls = NULL;
    size_t n_ls = 0, cap = 0, n_marks = 0;
    int rc = -1;

    jc_buf_init(&ids, ARRAY_MAX);
    jc_buf_init(&missing, ARRAY_MAX);
    jc_buf_addstr(&ids, "{");
    jc_buf_addstr(&missing, "{");
    for (size_t k = 0; k < n_hbs; k++)
        cap += b->msgs[hbs[k]].msg.u.hb.n_running;
    ls = malloc((cap + 1) * sizeof *ls);
    if (!ls) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < n_hbs; k++) {
        const jc_inmsg *m = &b->msgs[hbs[k]];
        const jc_heartbeat *hb = &m->msg.u.hb;
        char worker[JC_MAX_PRINCIPAL_LEN + 1];
        worker_of(m, worker, sizeof worker);
        for (uint32_t i = 0; i < hb->n_running; i++) {
            jc_jobrow *row = jw_find(jw, hb->running[i].job);
            if (held_live(row, worker, hb->running[i].attempt)) {
                /* listed again: a "missing since" mark is cleared */
                jc_buf_add_array_elem(&ids, row->idtext, 36);
                jc_buf_add_array_elem(&missing, "f", 1);
                n_marks++;
                continue;
            }
            /* the attempt changed in this batch (its final event, say):
             * it ended just now, well within the grace period */
            if (row && row->dirty && row->attempt == (int)hb->running[i].attempt)
                continue;
            ls[n_ls].hb = k;
            ls[n_ls].i = i;
            n_ls++;
        }
        for (size_t r = 0; r < jw->n; r++) {
            jc_jobrow *row = &jw->rows[r];
            /* a job started less than a second before the heartbeat may
             * not be in its list yet */
            if (strcmp(row->worker, worker) != 0 ||
                (row->state != JS_RUNNING && row->state != JS_CANCELING) ||
                row->last_event_ts + 1000 >= (int64_t)m->msg.ts_ms || listed(hb, row))
                continue;
            jc_buf_add_array_elem(&ids, row->idtext, 36);
            jc_buf_add_array_elem(&missing, "t", 1);
            n_marks++;
        }
    }
    if (n_marks && mark_unlisted(db, jw, &ids, &missing, errstr, errstr_size) != 0)
        goto out;
    if (n_ls && answer_listings(db, jw, b, hbs, n_hbs, ls, n_ls, errstr, errstr_size) != 0)
        goto out;
    rc = 0;
out:
    free(ls);
    jc_buf_free(&ids);
    jc_buf_free(&missing);
    return rc;
}
