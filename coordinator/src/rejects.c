/*
 * rejects.c - what happens to a message that failed a check: it is counted
 * in the rejections table (in the batch's transaction), logged once with
 * its reason (at most 20 lines a second, then a count of what was not
 * logged), and copied with the reason to the dead-letter topic.
 */
#include "rejects.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"

// log_rejection logs one rejected message, at most 20 lines a second.
static void log_rejection(jc_rejects *rj, const jc_inmsg *m)
{
    time_t now = time(NULL);
    if (now != rj->log_second) {
        if (rj->suppressed)
            LOG_WARN("ingest", "%u more rejections not logged in the last second", rj->suppressed);
        rj->log_second = now;
        rj->logged_this_second = 0;
        rj->suppressed = 0;
    }
    if (rj->logged_this_second++ >= 20) {
        rj->suppressed++;
        return;
    }
    LOG_WARN("ingest", "rejected %s[%" PRId32 "]@%" PRId64 " reason=%s: %s",
             rd_kafka_topic_name(m->rkm->rkt), m->rkm->partition, m->rkm->offset, m->reason,
             m->detail);
}

// store_rejections adds this range's rejections to the rejections table.
int jc_rejects_store(PGconn *db, const jc_batch *b, size_t from, size_t to, char *errstr,
                     size_t errstr_size)
{
    static const char sql[] =
        "INSERT INTO rejections AS r (topic, reason, count, last_at, last_detail)"
        " SELECT u.t, u.r, count(*), now(), max(u.d)"
        "   FROM unnest($1::text[], $2::text[], $3::text[]) AS u(t, r, d) GROUP BY u.t, u.r"
        " ON CONFLICT (topic, reason) DO UPDATE SET count = r.count + excluded.count,"
        "   last_at = now(), last_detail = excluded.last_detail";
    jc_buf a[3];
    const char *params[3];
    PGresult *r;
    int n = 0, rc;

    for (int i = 0; i < 3; i++) {
        jc_buf_init(&a[i], 16u << 20);
        jc_buf_addstr(&a[i], "{");
    }
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        const char *topic = rd_kafka_topic_name(m->rkm->rkt);
        if (!m->reason)
            continue;
        jc_buf_add_array_elem(&a[0], topic, strlen(topic));
        jc_buf_add_array_elem(&a[1], m->reason, strlen(m->reason));
        jc_buf_add_array_elem(&a[2], m->detail, strlen(m->detail));
        n++;
    }
    for (int i = 0; i < 3; i++) {
        jc_buf_addstr(&a[i], "}");
        params[i] = jc_buf_str(&a[i]);
    }
    rc = 0;
    if (n) {
        r = PQexecParams(db, sql, 3, NULL, params, NULL, NULL, 0);
        rc = jc_db_ok(db, r, errstr, errstr_size) ? 0 : -1;
        PQclear(r);
    }
    for (int i = 0; i < 3; i++)
        jc_buf_free(&a[i]);
    return rc;
}

// dead_letter copies this range's rejected messages to the dead-letter
// topic and waits for them, before the transaction commits.
void jc_rejects_dead_letter(jc_rejects *rj, jc_batch *b, size_t from, size_t to)
{
    int queued = 0, failed;
    for (size_t i = from; i < to; i++) {
        jc_inmsg *m = &b->msgs[i];
        if (!m->reason || m->dead_lettered)
            continue;
        log_rejection(rj, m);
        if (jc_deadletter_send(rj->dl, m->rkm, m->reason, m->detail) == 0)
            queued++;
        m->dead_lettered = 1;
    }
    if (queued && (failed = jc_deadletter_flush(rj->dl, 10000)) > 0)
        LOG_ERROR("rejects", "%d of %d dead-letter copies were not delivered", failed, queued);
}
