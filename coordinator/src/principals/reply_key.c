/*
 * reply_key.c - recording the key each principal last proved it holds, and
 * the protocol version it last used (see reply_key.h). The outbox reads both
 * (outbox.c: keys_fetch, and the recipient's version in the due rows). The
 * statement that records the key also stamps the key's last use
 * (principal_keys.last_used_at, shown by `jobcoord-admin user show`).
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
    "             RETURNING w.id),"
    /* the keys' last use (024_principal_fleet.sql), at most once a minute
     * per key like the rest of this statement; a row another instance is
     * stamping right now is skipped, not waited for */
    "     used AS (SELECT pk.principal_id, pk.key_id FROM principal_keys pk"
    "               JOIN (SELECT DISTINCT x.p, x.k FROM unnest($1::text[], $2::text[]) AS x(p, k)) d"
    "                 ON pk.principal_id = d.p AND pk.key_id = d.k"
    "              ORDER BY 1, 2 FOR NO KEY UPDATE OF pk SKIP LOCKED),"
    "     stamp AS (UPDATE principal_keys pk SET last_used_at = now() FROM used"
    "                WHERE pk.principal_id = used.principal_id AND pk.key_id = used.key_id)"
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

/* ---- the protocol version each principal last used ---- */

/* Per principal, the batch's accepted message with the greatest signed ts
 * sets the version when it differs and is newer than the message that set
 * the recorded one (a message delayed on another topic does not switch it
 * back). */
static const char version_sql[] =
    "WITH u AS (SELECT DISTINCT ON (x.p) x.p, x.v, x.ts"
    "             FROM unnest($1::text[], $2::smallint[], $3::bigint[]) AS x(p, v, ts)"
    "            ORDER BY x.p, x.ts DESC)"
    " UPDATE principals pr SET proto_version = u.v, proto_version_ts_ms = u.ts FROM u"
    "  WHERE pr.id = u.p AND pr.proto_version <> u.v AND pr.proto_version_ts_ms < u.ts"
    " RETURNING pr.id, u.v";

// version_news tells whether accepted message m would change its
// principal's recorded version, as far as this instance knows.
static int version_news(const jc_inmsg *m)
{
    return !m->reason && m->signer && m->env.version != m->signer->proto_version &&
           (int64_t)m->msg.ts_ms > m->signer->proto_version_ts_ms;
}

int jc_replykey_record_version(PGconn *db, const jc_batch *b, size_t from, size_t to,
                               char *errstr, size_t errstr_size)
{
    jc_buf ps, vs, ts;
    const char *params[3];
    PGresult *r;
    int any = 0, rc = -1;

    for (size_t i = from; i < to && !any; i++)
        any = version_news(&b->msgs[i]);
    if (!any)
        return 0; /* the usual case: nobody changed versions */
    /* every accepted message goes in, so that the latest of each principal
     * decides, not only the ones that differ */
    jc_buf_init(&ps, ARRAY_MAX);
    jc_buf_init(&vs, ARRAY_MAX);
    jc_buf_init(&ts, ARRAY_MAX);
    jc_buf_addstr(&ps, "{");
    jc_buf_addstr(&vs, "{");
    jc_buf_addstr(&ts, "{");
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        char num[24];
        if (m->reason || !m->signer)
            continue;
        jc_buf_add_array_elem(&ps, m->signer->principal, strlen(m->signer->principal));
        snprintf(num, sizeof num, "%u", (unsigned)m->env.version);
        jc_buf_add_array_elem(&vs, num, strlen(num));
        snprintf(num, sizeof num, "%llu", (unsigned long long)m->msg.ts_ms);
        jc_buf_add_array_elem(&ts, num, strlen(num));
    }
    jc_buf_addstr(&ps, "}");
    jc_buf_addstr(&vs, "}");
    jc_buf_addstr(&ts, "}");
    if (ps.failed || vs.failed || ts.failed) {
        snprintf(errstr, errstr_size, "protocol versions: too many messages in one batch");
        goto out;
    }
    params[0] = jc_buf_str(&ps);
    params[1] = jc_buf_str(&vs);
    params[2] = jc_buf_str(&ts);
    r = PQexecParams(db, version_sql, 3, NULL, params, NULL, NULL, 0);
    if (jc_db_ok(db, r, errstr, errstr_size)) {
        for (int i = 0; i < PQntuples(r); i++)
            LOG_INFO("replykey", "%s now speaks protocol version %s: commands, job updates and"
                     " refusals to it are written in version %s", PQgetvalue(r, i, 0),
                     PQgetvalue(r, i, 1), PQgetvalue(r, i, 1));
        rc = 0;
    }
    PQclear(r);
out:
    jc_buf_free(&ps);
    jc_buf_free(&vs);
    jc_buf_free(&ts);
    return rc;
}

void jc_replykey_version_committed(jc_keycache *kc, const jc_batch *b, size_t from, size_t to)
{
    /* in batch order, by the rule of version_sql: the cache ends where the
     * table did (for the entries of the keys these messages used) */
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        if (version_news(m))
            jc_keycache_set_version(kc, m->signer, m->env.version, (int64_t)m->msg.ts_ms);
    }
}
