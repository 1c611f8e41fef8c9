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

#include "answers.h"
#include "apply.h"
#include "buf.h"
#include "db.h"
#include "jobwrite.h"
#include "keycache.h"

#define SUBMIT_CHUNK 500
#define SUBMIT_COLS 11
#define ARRAY_MAX (256u << 20)

static int accepted(const jc_inmsg *m, jc_msg_type t) { return !m->reason && m->msg.type == t; }

static void add_id(jc_buf *b, const uint8_t id[JC_ID_LEN])
{
    char t[37];
    jc_id_format(id, t);
    jc_buf_add_array_elem(b, t, 36);
}

/* ---- submissions ---- */

/* The parameters of one chunk's INSERT: about 220 KiB, allocated once per
 * writer (jc_jobwrite.submit_scratch, freed by jw_free) rather than put on
 * the stack of every call. */
typedef struct submit_scratch {
    const char *values[SUBMIT_CHUNK * SUBMIT_COLS];
    int lengths[SUBMIT_CHUNK * SUBMIT_COLS], formats[SUBMIT_CHUNK * SUBMIT_COLS];
    char text[SUBMIT_CHUNK][6][40];
    uint8_t digests[SUBMIT_CHUNK][JC_SUBMIT_DIGEST_LEN];
} submit_scratch;

// insert_submits inserts one chunk; marks inserted messages in done[].
static int insert_submits(PGconn *db, submit_scratch *sc, jc_batch *b, const size_t *idx, size_t n,
                          char *done, int default_timeout_ms, char *errstr, size_t errstr_size)
{
    const char **values = sc->values;
    int *lengths = sc->lengths, *formats = sc->formats;
    char(*text)[6][40] = sc->text;
    uint8_t(*digests)[JC_SUBMIT_DIGEST_LEN] = sc->digests;
    jc_buf sql;
    PGresult *r;
    int np = 0, rc = -1;

    jc_buf_init(&sql, 1 << 20);
    jc_buf_addstr(&sql, "INSERT INTO jobs (id, submitter, ikey, type, payload, priority,"
                        " max_attempts, run_after, timeout_ms, submit_digest, submit_msg_id, state)"
                        " VALUES ");
    for (size_t k = 0; k < n; k++) {
        jc_inmsg *m = &b->msgs[idx[k]];
        const jc_job_submit *s = &m->msg.u.submit;
        int base = np;
        jc_id_format(s->job, text[k][0]);
        snprintf(text[k][1], 40, "%d", s->priority);
        snprintf(text[k][2], 40, "%u", s->max_attempts ? s->max_attempts : 3);
        snprintf(text[k][3], 40, "%" PRIu64, s->has_run_after ? s->run_after_ms : 0);
        snprintf(text[k][4], 40, "%u",
                 s->has_timeout ? s->timeout_ms : (unsigned)default_timeout_ms);
        values[np] = text[k][0];
        values[np + 1] = (const char *)m->msg.principal.p;
        lengths[np + 1] = (int)m->msg.principal.n;
        values[np + 2] = s->ikey.n ? (const char *)s->ikey.p : NULL;
        lengths[np + 2] = (int)s->ikey.n;
        values[np + 3] = (const char *)s->type.p;
        lengths[np + 3] = (int)s->type.n;
        values[np + 4] = s->payload.n ? (const char *)s->payload.p : "";
        lengths[np + 4] = (int)s->payload.n;
        values[np + 5] = text[k][1];
        values[np + 6] = text[k][2];
        values[np + 7] = text[k][3];
        values[np + 8] = text[k][4];
        jc_submit_digest(&s[0], digests[k]);
        values[np + 9] = (const char *)digests[k];
        lengths[np + 9] = JC_SUBMIT_DIGEST_LEN;
        jc_id_format(m->msg.id, text[k][5]);
        values[np + 10] = text[k][5];
        lengths[np + 10] = 0;
        for (int c = 0; c < SUBMIT_COLS; c++)
            formats[np + c] = 0;
        /* binary: the raw bytes, no NUL terminator needed */
        formats[np + 1] = formats[np + 2] = formats[np + 3] = formats[np + 4] = 1;
        formats[np + 9] = 1;
        lengths[np] = lengths[np + 5] = lengths[np + 6] = lengths[np + 7] = lengths[np + 8] = 0;
        jc_buf_printf(&sql,
                      "%s($%d::uuid, $%d::text, $%d::text, $%d::text, $%d::bytea, $%d::int, $%d::int,"
                      " CASE WHEN $%d::bigint = 0 THEN now() ELSE to_timestamp($%d::bigint / 1000.0) END,"
                      " $%d::int, $%d::bytea, $%d::uuid, 'pending')",
                      k ? "," : "", base + 1, base + 2, base + 3, base + 4, base + 5, base + 6,
                      base + 7, base + 8, base + 8, base + 9, base + 10, base + 11);
        np += SUBMIT_COLS;
    }
    jc_buf_addstr(&sql, " ON CONFLICT DO NOTHING RETURNING id");
    r = PQexecParams(db, jc_buf_str(&sql), np, NULL, values, lengths, formats, 0);
    if (!jc_db_ok(db, r, errstr, errstr_size))
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        uint8_t id[JC_ID_LEN];
        if (jc_id_parse(PQgetvalue(r, i, 0), id) != 0)
            continue;
        /* one row per id: a second copy of the id in this chunk was not
         * inserted, and is answered as a replay by answer_duplicates */
        for (size_t k = 0; k < n; k++)
            if (memcmp(b->msgs[idx[k]].msg.u.submit.job, id, JC_ID_LEN) == 0) {
                done[k] = 1;
                break;
            }
    }
    rc = 0;
out:
    PQclear(r);
    jc_buf_free(&sql);
    return rc;
}

static int same_message(const jc_inmsg *x, const jc_inmsg *y);

// answer_duplicates handles the submissions that created no job: an exact
// copy of a message earlier in the batch (same signer, same message id) is a
// replay; otherwise a known
// job id repeated with the same content by its submitter, or a repeated
// idempotency key, is answered with the existing job's state; a known job id
// with other content is refused (job_exists).
static int answer_duplicates(PGconn *db, jc_batch *b, const size_t *idx, const char *done,
                             size_t n, char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "SELECT j.id, j.submitter, coalesce(j.ikey, ''), j.state, j.attempt,"
        "       coalesce(encode(j.submit_digest, 'hex'), ''), coalesce(j.submit_msg_id::text, '')"
        "  FROM jobs j"
        " WHERE j.id = ANY($1::uuid[])"
        "    OR (j.ikey IS NOT NULL AND (j.submitter, j.ikey) IN"
        "        (SELECT * FROM unnest($2::text[], $3::text[])))";
    jc_buf a[3];
    const char *params[3];
    PGresult *r;
    size_t dups = 0;
    int rc = -1;

    for (int i = 0; i < 3; i++) {
        jc_buf_init(&a[i], ARRAY_MAX);
        jc_buf_addstr(&a[i], "{");
    }
    for (size_t k = 0; k < n; k++) {
        jc_inmsg *m = &b->msgs[idx[k]];
        if (done[k])
            continue;
        for (size_t e = 0; e < k; e++)
            if (same_message(&b->msgs[idx[e]], m)) {
                char id[37];
                jc_id_format(m->msg.id, id);
                jc_inmsg_reject(m, JC_R_REPLAY, "job.submit %s repeated in one batch", id);
                break;
            }
        if (m->reason)
            continue;
        dups++;
        add_id(&a[0], m->msg.u.submit.job);
        if (m->msg.u.submit.ikey.n) {
            jc_buf_add_array_elem(&a[1], (const char *)m->msg.principal.p, m->msg.principal.n);
            jc_buf_add_array_elem(&a[2], (const char *)m->msg.u.submit.ikey.p,
                                  m->msg.u.submit.ikey.n);
        }
    }
    for (int i = 0; i < 3; i++) {
        jc_buf_addstr(&a[i], "}");
        params[i] = jc_buf_str(&a[i]);
    }
    if (dups == 0) {
        rc = 0;
        goto done;
    }
    r = PQexecParams(db, sql, 3, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(db, r, errstr, errstr_size)) {
        PQclear(r);
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        jc_inmsg *m = &b->msgs[idx[k]];
        char id[37], digest[2 * JC_SUBMIT_DIGEST_LEN + 1];
        uint8_t raw[JC_SUBMIT_DIGEST_LEN];
        int answered = 0;
        if (done[k] || m->reason)
            continue;
        jc_id_format(m->msg.u.submit.job, id);
        jc_submit_digest(&m->msg.u.submit, raw);
        sodium_bin2hex(digest, sizeof digest, raw, sizeof raw);
        for (int i = 0; i < PQntuples(r) && !answered; i++) {
            const char *sub = PQgetvalue(r, i, 1), *ikey = PQgetvalue(r, i, 2);
            if (strcmp(PQgetvalue(r, i, 0), id) == 0) {
                char msgid[37];
                jc_id_format(m->msg.id, msgid);
                if (jc_slice_eq(m->msg.principal, sub) && strcmp(PQgetvalue(r, i, 6), msgid) == 0)
                    /* the very message that created the job, read again */
                    jc_inmsg_reject(m, JC_R_REPLAY, "job.submit %s was already applied", msgid);
                else if (jc_slice_eq(m->msg.principal, sub) &&
                         strcmp(PQgetvalue(r, i, 5), digest) == 0)
                    /* the same request again: tell the client where its job is */
                    jc_answer_set(m, id, PQgetvalue(r, i, 3), atoi(PQgetvalue(r, i, 4)));
                else
                    jc_inmsg_reject(m, JC_R_JOB_EXISTS,
                                    "job %s already exists with other content", id);
                answered = 1;
            } else if (m->msg.u.submit.ikey.n && jc_slice_eq(m->msg.principal, sub) &&
                       jc_slice_eq(m->msg.u.submit.ikey, ikey)) {
                /* a retried submission: tell the client which job it is */
                jc_answer_set(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 3), atoi(PQgetvalue(r, i, 4)));
                answered = 1;
            }
        }
        if (!answered)
            jc_inmsg_reject(m, JC_R_REPLAY, "job %s was not created (conflict)", id);
    }
    PQclear(r);
    rc = 0;
done:
    for (int i = 0; i < 3; i++)
        jc_buf_free(&a[i]);
    return rc;
}

static int apply_submits(PGconn *db, jc_jobwrite *jw, jc_batch *b, size_t from, size_t to,
                         int *schedule, char *errstr, size_t errstr_size)
{
    size_t idx[SUBMIT_CHUNK];
    char done[SUBMIT_CHUNK];
    size_t n = 0;
    if (!jw->submit_scratch && !(jw->submit_scratch = malloc(sizeof(submit_scratch)))) {
        snprintf(errstr, errstr_size, "out of memory for a chunk of submissions");
        return -1;
    }
    for (size_t i = from; i <= to; i++) {
        if (i < to && accepted(&b->msgs[i], JC_MSG_JOB_SUBMIT)) {
            idx[n++] = i;
            if (n < SUBMIT_CHUNK)
                continue;
        }
        if (n == 0)
            continue;
        memset(done, 0, n);
        if (insert_submits(db, jw->submit_scratch, b, idx, n, done, jw->cfg->default_timeout_ms,
                           errstr, errstr_size) != 0 ||
            answer_duplicates(db, b, idx, done, n, errstr, errstr_size) != 0)
            return -1;
        *schedule = 1;
        n = 0;
    }
    return 0;
}

/* ---- acks ---- */

typedef struct refused {
    uint8_t job[JC_ID_LEN];
    int attempt;
    char worker[JC_MAX_PRINCIPAL_LEN + 1];
    char error[JC_MAX_TEXT_LEN + 1]; /* the worker's reason; "" when it gave none */
} refused;

// apply_acks marks acknowledged commands. A refused assignment's job is
// added to ids (to be loaded) and to *out (to be requeued; caller frees).
static int apply_acks(PGconn *db, jc_batch *b, size_t from, size_t to, jc_buf *ids,
                      refused **out, size_t *n_out, char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "UPDATE commands c SET status = CASE WHEN u.ok THEN 'acked' ELSE 'failed' END,"
        "  acked_at = now(), error = u.err"
        "  FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::text[]) AS u(id, r, ok, err)"
        " WHERE c.id = u.id AND c.recipient = u.r AND c.status IN ('pending', 'sent')"
        " RETURNING c.kind, c.job_id, u.ok, c.attempt, c.recipient, coalesce(u.err, '')";
    jc_buf a[4];
    const char *params[4];
    PGresult *r;
    int n = 0, rc = -1;

    for (int i = 0; i < 4; i++) {
        jc_buf_init(&a[i], ARRAY_MAX);
        jc_buf_addstr(&a[i], "{");
    }
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        if (!accepted(m, JC_MSG_COMMAND_ACK))
            continue;
        add_id(&a[0], m->msg.u.ack.command);
        jc_buf_add_array_elem(&a[1], (const char *)m->msg.principal.p, m->msg.principal.n);
        jc_buf_add_array_elem(&a[2], m->msg.u.ack.ok ? "t" : "f", 1);
        if (m->msg.u.ack.error.n)
            jc_buf_add_array_elem(&a[3], (const char *)m->msg.u.ack.error.p, m->msg.u.ack.error.n);
        else
            jc_buf_add_array_null(&a[3]);
        n++;
    }
    for (int i = 0; i < 4; i++) {
        jc_buf_addstr(&a[i], "}");
        params[i] = jc_buf_str(&a[i]);
    }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    r = PQexecParams(db, sql, 4, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(db, r, errstr, errstr_size)) {
        PQclear(r);
        goto out;
    }
    *out = calloc((size_t)PQntuples(r) + 1, sizeof **out);
    if (!*out) {
        snprintf(errstr, errstr_size, "out of memory");
        PQclear(r);
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), "assign") == 0 && strcmp(PQgetvalue(r, i, 2), "f") == 0 &&
            jc_id_parse(PQgetvalue(r, i, 1), (*out)[*n_out].job) == 0) {
            (*out)[*n_out].attempt = atoi(PQgetvalue(r, i, 3));
            snprintf((*out)[*n_out].worker, sizeof (*out)[*n_out].worker, "%s",
                     PQgetvalue(r, i, 4));
            snprintf((*out)[*n_out].error, sizeof (*out)[*n_out].error, "%s",
                     PQgetvalue(r, i, 5));
            (*n_out)++;
            jc_buf_add_array_elem(ids, PQgetvalue(r, i, 1), 36);
        }
    PQclear(r);
    rc = 0;
out:
    for (int i = 0; i < 4; i++)
        jc_buf_free(&a[i]);
    return rc;
}

// implied_acks marks the assign commands named by job events' "cmd".
static int implied_acks(PGconn *db, jc_buf *ids, jc_buf *recipients, char *errstr,
                        size_t errstr_size)
{
    static const char sql[] =
        "UPDATE commands c SET status = 'acked', acked_at = now()"
        "  FROM unnest($1::uuid[], $2::text[]) AS u(id, r)"
        " WHERE c.id = u.id AND c.recipient = u.r AND c.status IN ('pending', 'sent')";
    const char *params[2];
    PGresult *r;
    int ok;
    jc_buf_addstr(ids, "}");
    jc_buf_addstr(recipients, "}");
    params[0] = jc_buf_str(ids);
    params[1] = jc_buf_str(recipients);
    r = PQexecParams(db, sql, 2, NULL, params, NULL, NULL, 0);
    ok = jc_db_ok(db, r, errstr, errstr_size);
    PQclear(r);
    return ok ? 0 : -1;
}

/* ---- worker events ---- */

// same_message tells whether two accepted messages have the same signer
// and message id (an exact replay carries both).
static int same_message(const jc_inmsg *x, const jc_inmsg *y)
{
    return memcmp(x->msg.id, y->msg.id, JC_ID_LEN) == 0 &&
           x->msg.principal.n == y->msg.principal.n &&
           memcmp(x->msg.principal.p, y->msg.principal.p, x->msg.principal.n) == 0;
}

// reject_stored_replays rejects, as replays, the worker events of the
// range whose (worker, message id) the INSERT found already stored: those
// it did not return.
static void reject_stored_replays(jc_batch *b, size_t from, size_t to, PGresult *r)
{
    for (size_t i = from; i < to; i++) {
        jc_inmsg *m = &b->msgs[i];
        char id[37];
        int stored = 0;
        if (!accepted(m, JC_MSG_WORKER_EVENT))
            continue;
        jc_id_format(m->msg.id, id);
        for (int k = 0; k < PQntuples(r) && !stored; k++)
            stored = strcmp(PQgetvalue(r, k, 0), id) == 0 &&
                     jc_slice_eq(m->msg.principal, PQgetvalue(r, k, 1));
        if (!stored)
            jc_inmsg_reject(m, JC_R_REPLAY, "worker.event %s was already applied", id);
    }
}

// apply_worker_events stores the range's worker events, once each: a copy
// of a message earlier in the range, or of one already stored (the unique
// (worker_id, msg_id) index), is rejected as a replay.
static int apply_worker_events(PGconn *db, jc_batch *b, size_t from, size_t to, char *errstr,
                               size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO worker_events (worker_id, level, kind, text, meta_keys, meta_values, sent_at,"
        "                           msg_id)"
        " SELECT u.w, u.l, u.k, u.t, u.mk::text[], u.mv::text[], to_timestamp(u.ts / 1000.0), u.id"
        "   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        "               $7::bigint[], $8::uuid[]) AS u(w, l, k, t, mk, mv, ts, id)"
        " ON CONFLICT (worker_id, msg_id) DO NOTHING RETURNING msg_id, worker_id";
    jc_buf a[8];
    const char *params[8];
    int n = 0, rc = -1;

    for (size_t i = from; i < to; i++) {
        jc_inmsg *m = &b->msgs[i];
        if (!accepted(m, JC_MSG_WORKER_EVENT))
            continue;
        for (size_t j = from; j < i; j++)
            if (accepted(&b->msgs[j], JC_MSG_WORKER_EVENT) && same_message(&b->msgs[j], m)) {
                char id[37];
                jc_id_format(m->msg.id, id);
                jc_inmsg_reject(m, JC_R_REPLAY, "worker.event %s repeated in one batch", id);
                break;
            }
    }
    for (int i = 0; i < 8; i++) {
        jc_buf_init(&a[i], ARRAY_MAX);
        jc_buf_addstr(&a[i], "{");
    }
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        const jc_worker_event_body *w = &m->msg.u.wevent;
        jc_buf mk, mv;
        if (!accepted(m, JC_MSG_WORKER_EVENT))
            continue;
        jc_buf_add_array_elem(&a[0], (const char *)m->msg.principal.p, m->msg.principal.n);
        jc_buf_add_array_elem(&a[1], (const char *)w->level.p, w->level.n);
        jc_buf_add_array_elem(&a[2], (const char *)w->kind.p, w->kind.n);
        jc_buf_add_array_elem(&a[3], (const char *)w->text.p, w->text.n);
        jc_buf_init(&mk, 1 << 20);
        jc_buf_init(&mv, 1 << 20);
        jc_buf_addstr(&mk, "{");
        jc_buf_addstr(&mv, "{");
        for (uint32_t k = 0; k < w->n_meta; k++) {
            jc_buf_add_array_elem(&mk, (const char *)w->meta[k].key.p, w->meta[k].key.n);
            jc_buf_add_array_elem(&mv, (const char *)w->meta[k].value.p, w->meta[k].value.n);
        }
        jc_buf_addstr(&mk, "}");
        jc_buf_addstr(&mv, "}");
        jc_buf_add_array_elem(&a[4], jc_buf_str(&mk), mk.len);
        jc_buf_add_array_elem(&a[5], jc_buf_str(&mv), mv.len);
        jc_buf_free(&mk);
        jc_buf_free(&mv);
        jc_buf_add_array_num(&a[6], (long long)m->msg.ts_ms);
        add_id(&a[7], m->msg.id);
        n++;
    }
    for (int i = 0; i < 8; i++) {
        jc_buf_addstr(&a[i], "}");
        params[i] = jc_buf_str(&a[i]);
    }
    rc = 0;
    if (n) {
        PGresult *r = PQexecParams(db, sql, 8, NULL, params, NULL, NULL, 0);
        rc = jc_db_ok(db, r, errstr, errstr_size) ? 0 : -1;
        if (rc == 0)
            reject_stored_replays(b, from, to, r);
        PQclear(r);
    }
    for (int i = 0; i < 8; i++)
        jc_buf_free(&a[i]);
    return rc;
}

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

    if (apply_submits(db, jw, b, from, to, schedule, errstr, errstr_size) != 0 ||
        apply_acks(db, b, from, to, &ids, &refusals, &n_refused, errstr, errstr_size) != 0 ||
        apply_worker_events(db, b, from, to, errstr, errstr_size) != 0)
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
    if (ack_ids.len > 1 && implied_acks(db, &ack_ids, &ack_recipients, errstr, errstr_size) != 0)
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
