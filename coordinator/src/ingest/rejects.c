/*
 * rejects.c - what happens to a message that failed a check: it is counted
 * in the rejections table (in the batch's transaction), logged (once per
 * reason and principal per log.rejection_interval_s, then a count of what
 * was not logged; rejlog.c), and copied with the reason to the dead-letter
 * topic.
 */
#include "ingest/rejects.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/log.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// report_suppressed logs how many lines an interval left out.
static void report_suppressed(const char *reason, const char *principal, unsigned long n,
                              int64_t interval_ms, void *arg)
{
    (void)arg;
    if (reason)
        LOG_WARN("ingest", "%lu more rejections reason=%s from=%s not logged in the last %lld s", n,
                 reason, principal[0] ? principal : "-", (long long)(interval_ms / 1000));
    else
        LOG_WARN("ingest",
                 "%lu more rejections of other reasons and principals not logged in the last %lld s"
                 " (more than %d pairs at once)",
                 n, (long long)(interval_ms / 1000), JC_REJLOG_SLOTS);
}

// log_rejection logs one rejected message, once per reason and signer per
// interval. The signer is the envelope's principal when it is a valid name
// (not yet authenticated: it is what the message claims), else "-".
static void log_rejection(jc_rejects *rj, const jc_inmsg *m, int64_t now)
{
    char principal[JC_MAX_PRINCIPAL_LEN + 1] = "";
    unsigned long before = 0;
    const jc_slice p = m->env.principal;

    if (p.p && jc_name_valid(p.p, p.n, JC_MAX_PRINCIPAL_LEN)) {
        memcpy(principal, p.p, p.n);
        principal[p.n] = '\0';
    }
    if (!jc_rejlog_admit(&rj->log, m->reason, principal, now, &before))
        return;
    if (before)
        LOG_WARN("ingest", "rejected %s[%" PRId32 "]@%" PRId64 " from=%s reason=%s: %s"
                 " (and %lu more like it not logged in the last %lld s)",
                 rd_kafka_topic_name(m->rkm->rkt), m->rkm->partition, m->rkm->offset,
                 principal[0] ? principal : "-", m->reason, m->detail, before,
                 (long long)(rj->log.interval_ms / 1000));
    else
        LOG_WARN("ingest", "rejected %s[%" PRId32 "]@%" PRId64 " from=%s reason=%s: %s",
                 rd_kafka_topic_name(m->rkm->rkt), m->rkm->partition, m->rkm->offset,
                 principal[0] ? principal : "-", m->reason, m->detail);
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
    int64_t now = now_ms();
    jc_rejlog_expire(&rj->log, now, report_suppressed, NULL);
    for (size_t i = from; i < to; i++) {
        jc_inmsg *m = &b->msgs[i];
        if (!m->reason || m->dead_lettered)
            continue;
        log_rejection(rj, m, now);
        if (jc_deadletter_send(rj->dl, m->rkm, m->reason, m->detail) == 0)
            queued++;
        m->dead_lettered = 1;
    }
    if (queued && (failed = jc_deadletter_flush(rj->dl, 10000)) > 0)
        LOG_ERROR("rejects", "%d of %d dead-letter copies were not delivered", failed, queued);
}
