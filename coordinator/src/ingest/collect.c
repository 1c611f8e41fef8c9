/*
 * collect.c - collecting one batch from the consumer for ingest: records up
 * to ingest.batch_max_messages or ingest.batch_max_ms, end-of-partition and
 * lag bookkeeping, and records lost before ingest read them (a record past
 * the offset expected).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "ingest/answers.h"
#include "ingest/apply.h"
#include "ingest/batch.h"
#include "ingest/checks.h"
#include "ingest/rejects.h"
#include "jobs/jobwrite.h"
#include "core/buf.h"
#include "core/db.h"
#include "kafka/deadletter.h"
#include "jobs/holdback.h"
#include "kafka/kconf.h"
#include "principals/hmac_keycache.h"
#include "core/log.h"
#include "kafka/logcheck.h"
#include "core/metrics.h"
#include "principals/reply_key.h"
#include "jcproto/topics.h"

#include "ingest/ingest_int.h"

/* ---- collecting a batch ---- */

// note_eof records a partition at its end; when all are, ingest is caught up.
static void note_eof(jc_ingest *ig, const rd_kafka_message_t *m)
{
    int t = ig_topic_index(ig, rd_kafka_topic_name(m->rkt)), all = 1;
    if (!ig_known(ig, t, m->partition))
        return;
    ig->at_eof[t][m->partition] = 1;
    for (int i = 0; i < MAX_TOPICS; i++)
        for (int p = 0; p < ig->n_parts[i]; p++)
            if (ig->position[i][p] != -2 && !ig->at_eof[i][p])
                all = 0;
    if (all && ig->assigned > 0 && atomic_load(&ig->rt->caught_up_at_ms) == 0) {
        atomic_store(&ig->rt->caught_up_at_ms, ig_now_ms());
        LOG_INFO("ingest", "caught up on all %d partitions", ig->assigned);
    }
}

// note_behind publishes how far behind the log ingest is, in time: the
// records not read yet divided by the rate it applied records at since the
// last refresh (records waiting and none applied: behind by the whole
// interval, at least). Measured by ingest itself, from no timestamp a
// producer chose. The relay holds re-sends back while answers may still be
// unread (outbox.c).
static void note_behind(jc_ingest *ig, int64_t lag, int64_t now)
{
    uint64_t done = atomic_load(&ig->rt->applied) + atomic_load(&ig->rt->rejected);
    int64_t dt = now - ig->behind_at_ms, behind = 0;
    if (ig->behind_at_ms > 0 && dt > 0 && lag > 0) {
        uint64_t n = done - ig->behind_done;
        behind = n > 0 ? (int64_t)((double)lag * (double)dt / (double)n) : dt;
        if (behind > 3600000)
            behind = 3600000;
    }
    atomic_store(&ig->rt->behind_ms, behind);
    ig->behind_at_ms = now;
    ig->behind_done = done;
}

// ig_refresh_lag publishes each assigned partition's consumer lag (high
// watermark minus the consumer's position) and their sum, at most once a
// second. Both numbers are librdkafka's local state (the watermark comes with
// every fetch response), so this never waits on the network. A partition
// whose watermark or position is not known yet is left out.
void ig_refresh_lag(jc_ingest *ig)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    jc_metrics_lag *lags = NULL;
    int64_t now = ig_now_ms(), total = 0;
    size_t n = 0;

    if (ig->lag_refreshed_ms && now - ig->lag_refreshed_ms < 1000)
        return;
    ig->lag_refreshed_ms = now;
    if (ig->assigned == 0 || rd_kafka_assignment(ig->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        jc_metrics_set_lag(NULL, 0);
        atomic_store(&ig->rt->lag_at_ms, 0);
        return;
    }
    rd_kafka_position(ig->rk, parts);
    lags = calloc(parts->cnt > 0 ? (size_t)parts->cnt : 1, sizeof *lags);
    for (int i = 0; lags && i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int t = ig_topic_index(ig, tp->topic);
        int64_t lo, hi, pos = tp->offset;
        if (rd_kafka_get_watermark_offsets(ig->rk, tp->topic, tp->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
            continue;
        if (pos < 0 && ig_known(ig, t, tp->partition)) {
            if (ig->position[t][tp->partition] >= 0)
                pos = ig->position[t][tp->partition]; /* nothing consumed yet */
            else if (ig->at_eof[t][tp->partition])
                pos = hi;
        }
        if (pos < 0)
            continue;
        snprintf(lags[n].topic, sizeof lags[n].topic, "%s", tp->topic);
        lags[n].partition = tp->partition;
        lags[n].lag = hi > pos ? hi - pos : 0;
        total += lags[n].lag;
        n++;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    jc_metrics_set_lag(lags, n);
    note_behind(ig, total, now);
    atomic_store(&ig->rt->lag_total, total);
    atomic_store(&ig->rt->lag_at_ms, lags ? now : 0); /* out of memory: unknown */
    free(lags);
}

// note_record notes that partition (t, p) is not at its end, and finds
// records that left the log unread: a record past the offset expected next
// (the consumer's position fell below the log's start under a flood, and
// auto.offset.reset moved it to the first record still there).
static void note_record(jc_ingest *ig, const rd_kafka_message_t *m)
{
    int t = ig_topic_index(ig, rd_kafka_topic_name(m->rkt)), p = m->partition;
    if (!ig_known(ig, t, p))
        return;
    ig->at_eof[t][p] = 0;
    if (ig->expect[t][p] >= 0 && m->offset > ig->expect[t][p]) {
        int64_t gap = m->offset - ig->expect[t][p];
        LOG_ERROR("ingest",
                  "%s[%d]: records %" PRId64 " to %" PRId64 " left the log before ingest read"
                  " them; %" PRId64 " records lost. The embedded Kafka cluster keeps about 5 MiB"
                  " per partition: use a real cluster in production",
                  ig->topics[t], p, ig->expect[t][p], m->offset - 1, gap);
        atomic_fetch_add(&ig->rt->records_lost, (uint_fast64_t)gap);
        ig->lost[t][p] += gap;
    }
    ig->expect[t][p] = m->offset + 1;
}

// ig_collect builds a batch: it waits for a first message, then takes what is
// already fetched (poll with no wait) until the local queue is empty, the
// batch is full, batch_max_ms passed since its first message, or a stop was
// asked. So an idle coordinator applies a lone message at once, and a busy
// one applies bigger batches (the work of one batch is the time in which the
// next one gathers). Returns the number of messages.
size_t ig_collect(jc_ingest *ig)
{
    jc_batch *b = &ig->batch;
    int64_t deadline = 0;
    ig->drop_batch = 0;
    while (b->n < (size_t)ig->cfg->batch_max_messages && !*ig->rt->stop) {
        int wait = 100;
        rd_kafka_message_t *m;
        if (deadline) {
            if (deadline - ig_now_ms() <= 0)
                break;
            wait = 0;
        }
        m = rd_kafka_consumer_poll(ig->rk, wait);
        if (ig->drop_batch) {
            ig_batch_clear(b);
            deadline = 0;
            ig->drop_batch = 0;
        }
        if (!m) {
            if (b->n > 0)
                break;
            ig_refresh_lag(ig); /* idle: the loop does not return to jc_ingest_run */
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                note_eof(ig, m);
            else
                LOG_WARN("ingest", "consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        note_record(ig, m);
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 256;
            jc_inmsg *p = realloc(b->msgs, cap * sizeof *p);
            if (!p) {
                /* keep what we have; this message is read again later */
                LOG_ERROR("ingest", "out of memory growing the batch");
                rd_kafka_message_destroy(m);
                ig->drop_batch = 1;
                break;
            }
            b->msgs = p;
            b->cap = cap;
        }
        memset(&b->msgs[b->n], 0, sizeof b->msgs[b->n]);
        b->msgs[b->n].rkm = m;
        b->n++;
        if (!deadline)
            deadline = ig_now_ms() + ig->cfg->batch_max_ms;
    }
    if (ig->drop_batch) {
        ig_batch_clear(b);
        ig->drop_batch = 0;
    }
    return b->n;
}

