/*
 * apply_submits.c - job submissions inside the ingest transaction: one
 * INSERT over arrays per chunk, then the answers to submissions of a known
 * job id (same content: the job's state; else job_exists) and to repeated
 * idempotency keys (see apply_jobs.c for the rest of the job messages).
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

// insert_submits inserts one chunk; marks inserted messages in done[].
// One statement over arrays (unnest): its text is the same whatever the
// chunk's size, so PostgreSQL parses a few hundred bytes instead of a
// VALUES list of SUBMIT_COLS parameters per row (which cost as much as the
// insert itself); payloads and digests travel as binary bytea[] arrays.
static int insert_submits(PGconn *db, jc_batch *b, const size_t *idx, size_t n, char *done,
                          int default_timeout_ms, char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO jobs (id, submitter, ikey, type, payload, priority, max_attempts, run_after,"
        "                  timeout_ms, submit_digest, submit_msg_id, state)"
        " SELECT u.id, u.sub, u.ikey, u.type, u.payload, u.prio, u.max_att,"
        "        CASE WHEN u.ra = 0 THEN now() ELSE to_timestamp(u.ra / 1000.0) END,"
        "        u.tmo, u.digest, u.msg, 'pending'"
        "   FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::int[],"
        "               $7::int[], $8::bigint[], $9::int[], $10::bytea[], $11::uuid[])"
        "        AS u(id, sub, ikey, type, payload, prio, max_att, ra, tmo, digest, msg)"
        " ON CONFLICT DO NOTHING RETURNING id";
    jc_buf a[SUBMIT_COLS];
    const char *values[SUBMIT_COLS];
    int lengths[SUBMIT_COLS], formats[SUBMIT_COLS];
    PGresult *r = NULL;
    int rc = -1;

    for (int c = 0; c < SUBMIT_COLS; c++) {
        jc_buf_init(&a[c], ARRAY_MAX);
        if (c == 4 || c == 9)
            jc_buf_bytea_array_begin(&a[c]);
        else
            jc_buf_addstr(&a[c], "{");
    }
    for (size_t k = 0; k < n; k++) {
        jc_inmsg *m = &b->msgs[idx[k]];
        const jc_job_submit *s = &m->msg.u.submit;
        uint8_t digest[JC_SUBMIT_DIGEST_LEN];
        char run_after[24];
        add_id(&a[0], s->job);
        jc_buf_add_array_elem(&a[1], (const char *)m->msg.principal.p, m->msg.principal.n);
        if (s->ikey.n)
            jc_buf_add_array_elem(&a[2], (const char *)s->ikey.p, s->ikey.n);
        else
            jc_buf_add_array_null(&a[2]);
        jc_buf_add_array_elem(&a[3], (const char *)s->type.p, s->type.n);
        jc_buf_bytea_array_add(&a[4], s->payload.n ? (const void *)s->payload.p : "",
                               s->payload.n);
        jc_buf_add_array_num(&a[5], s->priority);
        jc_buf_add_array_num(&a[6], s->max_attempts ? s->max_attempts : 3);
        snprintf(run_after, sizeof run_after, "%" PRIu64, s->has_run_after ? s->run_after_ms : 0);
        jc_buf_add_array_elem(&a[7], run_after, strlen(run_after));
        jc_buf_add_array_num(&a[8], s->has_timeout ? (long long)s->timeout_ms
                                                   : (long long)default_timeout_ms);
        jc_submit_digest(s, digest);
        jc_buf_bytea_array_add(&a[9], digest, sizeof digest);
        add_id(&a[10], m->msg.id);
    }
    for (int c = 0; c < SUBMIT_COLS; c++) {
        if (c != 4 && c != 9)
            jc_buf_addstr(&a[c], "}");
        if (a[c].failed) {
            snprintf(errstr, errstr_size, "submissions too large for one statement");
            goto out;
        }
        values[c] = jc_buf_str(&a[c]);
        lengths[c] = (int)a[c].len;
        formats[c] = c == 4 || c == 9;
    }
    r = PQexecParams(db, sql, SUBMIT_COLS, NULL, values, lengths, formats, 0);
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
    for (int c = 0; c < SUBMIT_COLS; c++)
        jc_buf_free(&a[c]);
    return rc;
}


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

int aj_apply_submits(PGconn *db, jc_jobwrite *jw, jc_batch *b, size_t from, size_t to,
                         int *schedule, char *errstr, size_t errstr_size)
{
    size_t idx[SUBMIT_CHUNK];
    char done[SUBMIT_CHUNK];
    size_t n = 0;
    for (size_t i = from; i <= to; i++) {
        if (i < to && accepted(&b->msgs[i], JC_MSG_JOB_SUBMIT)) {
            idx[n++] = i;
            if (n < SUBMIT_CHUNK)
                continue;
        }
        if (n == 0)
            continue;
        memset(done, 0, n);
        if (insert_submits(db, b, idx, n, done, jw->cfg->default_timeout_ms, errstr,
                           errstr_size) != 0 ||
            answer_duplicates(db, b, idx, done, n, errstr, errstr_size) != 0)
            return -1;
        *schedule = 1;
        n = 0;
    }
    return 0;
}

