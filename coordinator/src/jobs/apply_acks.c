/*
 * apply_acks.c - command acks and worker events inside the ingest
 * transaction: acks one UPDATE (and the acks implied by a job event that
 * names its command), worker events one INSERT with their message ids, so a
 * replayed worker event is refused (see apply_jobs.c for the rest).
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
#include "jobs/cmdstate.h"

// aj_apply_acks marks acknowledged commands. A refused assignment's job is
// added to ids (to be loaded) and to *out (to be requeued; caller frees).
int aj_apply_acks(PGconn *db, jc_batch *b, size_t from, size_t to, jc_buf *ids,
                      refused **out, size_t *n_out, char *errstr, size_t errstr_size)
{
    static const char sql[] =
        "UPDATE commands c SET status = CASE WHEN u.ok THEN " JC_SQL_CMD_ACKED
        "                                    ELSE " JC_SQL_CMD_FAILED
        " END,"
        "  acked_at = now(), error = u.err"
        "  FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::text[]) AS u(id, r, ok, err)"
        " WHERE c.id = u.id AND c.recipient = u.r AND c.status IN " JC_SQL_CMD_OPEN
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

// aj_implied_acks marks the assign commands named by job events' "cmd".
int aj_implied_acks(PGconn *db, jc_buf *ids, jc_buf *recipients, char *errstr,
                        size_t errstr_size)
{
    static const char sql[] =
        "UPDATE commands c SET status = " JC_SQL_CMD_ACKED
        ", acked_at = now()"
        "  FROM unnest($1::uuid[], $2::text[]) AS u(id, r)"
        " WHERE c.id = u.id AND c.recipient = u.r AND c.status IN " JC_SQL_CMD_OPEN;
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

// aj_apply_worker_events stores the range's worker events, once each: a copy
// of a message earlier in the range, or of one already stored (the unique
// (worker_id, msg_id) index), is rejected as a replay.
int aj_apply_worker_events(PGconn *db, jc_batch *b, size_t from, size_t to, char *errstr,
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

