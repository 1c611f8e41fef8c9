/*
 * apply_heartbeat.c - applying a batch of heartbeats in set-based SQL.
 *
 * Replay rule (PROTOCOL.md): a worker's heartbeat timestamps strictly
 * increase, so a heartbeat whose ts is not newer than the last one applied
 * for that worker (in the database, or earlier in this batch) is a replay
 * or a duplicate and is rejected. The worker rows are locked (FOR UPDATE)
 * while this is decided, so two coordinators can never both apply one.
 *
 * Three statements per batch whatever its size: lock and read the workers'
 * last timestamps, insert every heartbeat (unnest of arrays), upsert each
 * worker's row from its newest heartbeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/apply.h"
#include "core/buf.h"
#include "core/db.h"
#include "jobs/workerstate.h"

#define ARRAY_MAX (64u << 20)

typedef struct hb_ref {
    size_t idx;       /* into b->msgs */
    const jc_slice *worker;
} hb_ref;

static int same_worker(const jc_slice *a, const jc_slice *b)
{
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

static int cmp_ref(const void *a, const void *b)
{
    const hb_ref *x = a, *y = b;
    uint32_t n = x->worker->n < y->worker->n ? x->worker->n : y->worker->n;
    int c = memcmp(x->worker->p, y->worker->p, n);
    if (c)
        return c;
    if (x->worker->n != y->worker->n)
        return x->worker->n < y->worker->n ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

// last_ts_of finds worker w in the result of the lock query; -1 if absent.
static long long last_ts_of(PGresult *r, const jc_slice *w)
{
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0);
        if (strlen(id) == w->n && memcmp(id, w->p, w->n) == 0)
            return strtoll(PQgetvalue(r, i, 1), NULL, 10);
    }
    return -1;
}

// arrays holds the text array literals of one statement's parameters.
typedef struct arrays {
    jc_buf a[11];
    int n;
} arrays;

static void arrays_open(arrays *s, int n)
{
    s->n = n;
    for (int i = 0; i < n; i++) {
        jc_buf_init(&s->a[i], ARRAY_MAX);
        jc_buf_addstr(&s->a[i], "{");
    }
}

static int arrays_close(arrays *s, const char **params)
{
    int failed = 0;
    for (int i = 0; i < s->n; i++) {
        jc_buf_addstr(&s->a[i], "}");
        failed |= s->a[i].failed;
        params[i] = jc_buf_str(&s->a[i]);
    }
    return failed ? -1 : 0;
}

static void arrays_free(arrays *s)
{
    for (int i = 0; i < s->n; i++)
        jc_buf_free(&s->a[i]);
}

static void add_num(jc_buf *b, long long v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%lld", v);
    jc_buf_add_array_elem(b, t, (size_t)n);
}

static void add_slice(jc_buf *b, jc_slice s) { jc_buf_add_array_elem(b, (const char *)s.p, s.n); }

static const char lock_sql[] =
    "SELECT id, last_heartbeat_ts_ms FROM workers WHERE id = ANY($1::text[]) FOR UPDATE";

static const char insert_sql[] =
    "INSERT INTO heartbeats (msg_id, worker_id, seq, sent_at, slots, running_jobs,"
    "                        kafka_partition, kafka_offset)"
    " SELECT u.id, u.w, u.seq, to_timestamp(u.ts / 1000.0), u.slots, u.running, u.kp, u.ko"
    "   FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::int[],"
    "               $7::int[], $8::bigint[]) AS u(id, w, seq, ts, slots, running, kp, ko)";

static const char upsert_sql[] =
    "INSERT INTO workers AS w (id, status, capabilities, slots, running_jobs, version, host,"
    "                          uptime_s, config_version, heartbeat_seq, last_heartbeat_ts_ms,"
    "                          last_seen_at, status_changed_at)"
    " SELECT u.id, CASE WHEN u.drain THEN " JC_SQL_WORKER_DRAINING " ELSE " JC_SQL_WORKER_ONLINE
    " END,"
    "        string_to_array(u.caps, ','), u.slots, u.running, u.ver, u.host, u.up, u.cfgv,"
    "        u.seq, u.ts, now(), now()"
    "   FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[],"
    "               $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bool[])"
    "        AS u(id, caps, slots, running, ver, host, up, cfgv, seq, ts, drain)"
    /* only a principal that is a worker now: one that left the role (user
     * update) keeps its record offline even while a key cache still holds
     * its old role */
    "  WHERE EXISTS (SELECT 1 FROM principals p WHERE p.id = u.id AND p.role = 'worker')"
    " ON CONFLICT (id) DO UPDATE SET"
    "   status = CASE WHEN w.drain_requested THEN " JC_SQL_WORKER_DRAINING
    "            ELSE excluded.status END,"
    "   status_changed_at = CASE WHEN w.status = (CASE WHEN w.drain_requested"
    "                                             THEN " JC_SQL_WORKER_DRAINING
    "                                             ELSE excluded.status END)"
    "                            THEN w.status_changed_at ELSE now() END,"
    "   capabilities = excluded.capabilities, slots = excluded.slots,"
    "   running_jobs = excluded.running_jobs, version = excluded.version,"
    "   host = excluded.host, uptime_s = excluded.uptime_s,"
    "   config_version = coalesce(excluded.config_version, w.config_version),"
    "   heartbeat_seq = excluded.heartbeat_seq,"
    /* a new process (its counter started again) or a return from offline
     * ends a hold-back for unacknowledged assigns (holdback.h) */
    "   unacked_assigns = CASE WHEN excluded.heartbeat_seq < w.heartbeat_seq"
    "                            OR w.status = " JC_SQL_WORKER_OFFLINE
    "                          THEN 0 ELSE w.unacked_assigns END,"
    "   held_back_since = CASE WHEN excluded.heartbeat_seq < w.heartbeat_seq"
    "                            OR w.status = " JC_SQL_WORKER_OFFLINE
    "                          THEN NULL ELSE w.held_back_since END,"
    "   last_heartbeat_ts_ms = excluded.last_heartbeat_ts_ms, last_seen_at = now()";

// run executes one statement with text params; 0 or -1 with errstr.
static int run(PGconn *db, const char *sql, int n, const char **params, PGresult **out,
               char *errstr, size_t errstr_size)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(db, r, errstr, errstr_size)) {
        PQclear(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

int jc_apply_heartbeats(PGconn *db, jc_batch *b, size_t from, size_t to, char *errstr,
                        size_t errstr_size)
{
    hb_ref *refs = NULL;
    size_t n = 0, applied = 0;
    PGresult *locked = NULL;
    arrays ids, ins, ups;
    const char *params[11];
    int rc = -1;

    ids.n = ins.n = ups.n = 0;
    refs = malloc((to - from + 1) * sizeof *refs);
    if (!refs) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = from; i < to; i++)
        if (!b->msgs[i].reason && b->msgs[i].msg.type == JC_MSG_HEARTBEAT) {
            refs[n].idx = i;
            refs[n].worker = &b->msgs[i].msg.principal;
            n++;
        }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    qsort(refs, n, sizeof *refs, cmp_ref);

    /* 1. lock the workers' rows and read their last timestamps */
    arrays_open(&ids, 1);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !same_worker(refs[i - 1].worker, refs[i].worker))
            add_slice(&ids.a[0], *refs[i].worker);
    if (arrays_close(&ids, params) != 0 ||
        run(db, lock_sql, 1, params, &locked, errstr, errstr_size) != 0)
        goto out;

    /* 2. replay check in (worker, offset order), then the insert */
    arrays_open(&ins, 8);
    arrays_open(&ups, 11);
    for (size_t i = 0; i < n;) {
        const jc_slice *w = refs[i].worker;
        long long last = last_ts_of(locked, w);
        size_t newest = SIZE_MAX, j = i;
        for (; j < n && same_worker(refs[j].worker, w); j++) {
            jc_inmsg *m = &b->msgs[refs[j].idx];
            const jc_heartbeat *hb = &m->msg.u.hb;
            char id[37];
            if ((long long)m->msg.ts_ms <= last) {
                jc_inmsg_reject(m, JC_R_REPLAY,
                                "heartbeat ts %llu is not after the last applied (%lld)",
                                (unsigned long long)m->msg.ts_ms, last);
                continue;
            }
            last = (long long)m->msg.ts_ms;
            newest = refs[j].idx;
            jc_id_format(m->msg.id, id);
            jc_buf_add_array_elem(&ins.a[0], id, 36);
            add_slice(&ins.a[1], *w);
            add_num(&ins.a[2], (long long)hb->seq);
            add_num(&ins.a[3], (long long)m->msg.ts_ms);
            add_num(&ins.a[4], hb->slots);
            add_num(&ins.a[5], hb->n_running);
            add_num(&ins.a[6], m->rkm->partition);
            add_num(&ins.a[7], m->rkm->offset);
            applied++;
        }
        if (newest != SIZE_MAX) {
            const jc_inmsg *m = &b->msgs[newest];
            const jc_heartbeat *hb = &m->msg.u.hb;
            jc_buf caps;
            jc_buf_init(&caps, 8192);
            for (uint32_t c = 0; c < hb->n_caps; c++) {
                if (c)
                    jc_buf_add(&caps, ",", 1);
                jc_buf_add(&caps, hb->caps[c].p, hb->caps[c].n);
            }
            add_slice(&ups.a[0], *w);
            jc_buf_add_array_elem(&ups.a[1], jc_buf_str(&caps), caps.len);
            jc_buf_free(&caps);
            add_num(&ups.a[2], hb->slots);
            add_num(&ups.a[3], hb->n_running);
            add_slice(&ups.a[4], hb->version);
            add_slice(&ups.a[5], hb->host);
            add_num(&ups.a[6], (long long)hb->uptime_s);
            if (hb->has_config_version)
                add_num(&ups.a[7], (long long)hb->config_version);
            else
                jc_buf_addstr(&ups.a[7], ups.a[7].data[ups.a[7].len - 1] == '{' ? "NULL" : ",NULL");
            add_num(&ups.a[8], (long long)hb->seq);
            add_num(&ups.a[9], (long long)m->msg.ts_ms);
            jc_buf_add_array_elem(&ups.a[10], hb->draining ? "t" : "f", 1);
        }
        i = j;
    }
    if (applied == 0) {
        rc = 0;
        goto out;
    }
    if (arrays_close(&ins, params) != 0) {
        snprintf(errstr, errstr_size, "heartbeat batch too large for one statement");
        goto out;
    }
    if (run(db, insert_sql, 8, params, NULL, errstr, errstr_size) != 0)
        goto out;
    if (arrays_close(&ups, params) != 0) {
        snprintf(errstr, errstr_size, "heartbeat batch too large for one statement");
        goto out;
    }
    if (run(db, upsert_sql, 11, params, NULL, errstr, errstr_size) != 0)
        goto out;
    rc = (int)applied;
out:
    PQclear(locked);
    arrays_free(&ids);
    arrays_free(&ins);
    arrays_free(&ups);
    free(refs);
    return rc;
}
