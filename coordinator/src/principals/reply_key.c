/*
 * reply_key.c - recording the key each principal last proved it holds (see
 * reply_key.h). The outbox reads it (outbox.c, keys_fetch).
 */
#include "principals/reply_key.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/log.h"

#define ARRAY_MAX (16u << 20)
#define RECORD_AGAIN_MS 60000 /* a recorded pair is written again after this */

/* The newest key each principal used in the batch replaces the recorded one
 * when that is absent, gone, expired or older; the principals are locked in
 * id order. A worker that proved a newer key is released if it was held
 * back for unacknowledged assigns: it may now verify its commands. */
static const char sql[] =
    "WITH u AS (SELECT DISTINCT ON (x.p) x.p, x.k, nk.created_at"
    "             FROM unnest($1::text[], $2::text[]) AS x(p, k)"
    "             JOIN principal_keys nk ON nk.principal_id = x.p AND nk.key_id = x.k"
    "            ORDER BY x.p, nk.created_at DESC),"
    "     o AS (SELECT pr.id, u.k, pr.reply_key_id AS old FROM principals pr"
    "             JOIN u ON u.p = pr.id"
    "             LEFT JOIN principal_keys ok"
    "                    ON ok.principal_id = pr.id AND ok.key_id = pr.reply_key_id"
    "            WHERE pr.reply_key_id IS DISTINCT FROM u.k"
    "              AND (ok.key_id IS NULL OR ok.created_at < u.created_at"
    "                   OR ok.valid_until <= now())"
    "            ORDER BY pr.id FOR UPDATE OF pr),"
    "     rec AS (UPDATE principals pr SET reply_key_id = o.k FROM o WHERE pr.id = o.id"
    "             RETURNING pr.id, o.k, o.old),"
    "     rel AS (UPDATE workers w SET unacked_assigns = 0, held_back_since = NULL"
    "              WHERE w.id IN (SELECT id FROM rec WHERE old IS NOT NULL)"
    "                AND w.held_back_since IS NOT NULL"
    "             RETURNING w.id)"
    " SELECT rec.id, rec.k, coalesce(rec.old, ''), rel.id IS NOT NULL"
    "   FROM rec LEFT JOIN rel ON rel.id = rec.id";

// due tells whether m's key use must be written.
static int due(const jc_inmsg *m, int64_t now_ms)
{
    return !m->reason && m->signer &&
           (m->signer->recorded_at_ms == 0 || now_ms - m->signer->recorded_at_ms >= RECORD_AGAIN_MS);
}

int jc_replykey_record(PGconn *db, const jc_batch *b, size_t from, size_t to, int64_t now_ms,
                       char *errstr, size_t errstr_size)
{
    jc_buf ps, ks;
    const char *params[2];
    const jc_key_entry *last = NULL;
    PGresult *r;
    int n = 0, rc = -1;

    jc_buf_init(&ps, ARRAY_MAX);
    jc_buf_init(&ks, ARRAY_MAX);
    jc_buf_addstr(&ps, "{");
    jc_buf_addstr(&ks, "{");
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        if (!due(m, now_ms) || m->signer == last)
            continue;
        last = m->signer;
        jc_buf_add_array_elem(&ps, m->signer->principal, strlen(m->signer->principal));
        jc_buf_add_array_elem(&ks, m->signer->key_id, strlen(m->signer->key_id));
        n++;
    }
    jc_buf_addstr(&ps, "}");
    jc_buf_addstr(&ks, "}");
    if (n == 0) {
        rc = 0;
        goto out;
    }
    if (ps.failed || ks.failed) {
        snprintf(errstr, errstr_size, "replykey: too many principals in one batch");
        goto out;
    }
    params[0] = jc_buf_str(&ps);
    params[1] = jc_buf_str(&ks);
    r = PQexecParams(db, sql, 2, NULL, params, NULL, NULL, 0);
    if (jc_db_ok(db, r, errstr, errstr_size)) {
        for (int i = 0; i < PQntuples(r); i++) {
            if (!*PQgetvalue(r, i, 2))
                continue; /* the first key seen: nothing changed for the principal */
            LOG_INFO("replykey", "%s now signs with key %s (was %s): commands and job updates"
                     " to it are signed with %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                     PQgetvalue(r, i, 2), PQgetvalue(r, i, 1));
            if (strcmp(PQgetvalue(r, i, 3), "t") == 0)
                LOG_INFO("holdback", "worker %s proved a new key: it is no longer held back",
                         PQgetvalue(r, i, 0));
        }
        rc = 0;
    }
    PQclear(r);
out:
    jc_buf_free(&ps);
    jc_buf_free(&ks);
    return rc;
}

void jc_replykey_committed(jc_keycache *kc, const jc_batch *b, size_t from, size_t to,
                           int64_t now_ms)
{
    for (size_t i = from; i < to; i++)
        if (due(&b->msgs[i], now_ms))
            jc_keycache_set_recorded(kc, b->msgs[i].signer, now_ms);
}
