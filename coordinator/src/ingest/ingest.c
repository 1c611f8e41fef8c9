/*
 * ingest.c - the ingest loop.
 *
 * Exactly-once application rests on one rule: the effects of the messages
 * of a batch and the consumer positions after them (consumer_offsets) are
 * committed in ONE PostgreSQL transaction. Kafka's own committed offsets are
 * never used (enable.auto.commit=false, enable.auto.offset.store=false): on
 * partition assignment we read the positions from PostgreSQL and assign
 * those. A crash anywhere therefore replays exactly the messages whose
 * effects were not committed.
 *
 * Offsets are written as a compare-and-set on the position this process
 * last stored or read, so if two coordinators ever both believe they own a
 * partition (a zombie after a rebalance), the second to commit fails, rolls
 * back, and re-reads its positions instead of applying messages twice.
 *
 * A batch is built from rd_kafka_consumer_poll() (not consume_batch, which
 * loses or duplicates messages around seeks and rebalances in 2.0.2) up to
 * batch_max_messages or batch_max_ms. Checks that need no database run
 * first; the key lookup for unknown signers is one query per batch.
 *
 * Failure handling: if the database connection is lost, the batch is kept
 * and retried after reconnecting. If a statement fails on a live connection
 * (a message the checks let through but PostgreSQL refuses), the batch is
 * re-applied one message per transaction and the message that still fails
 * is rejected (apply_error), so one bad message can never stall the stream.
 */
#include "ingest/ingest.h"

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

#define MAX_TOPICS JC_INGEST_TOPICS
/* Partition numbers from 0 up to this one (excluded) are consumed; the
 * per-partition arrays below grow to the highest number assigned. Kafka sets
 * no limit of its own; past this one an assignment is refused, loudly
 * (parts_grow). */
#define MAX_PARTITION_ID (1 << 20)

struct jc_ingest {
    const jc_config *cfg;
    jc_runtime *rt;
    rd_kafka_t *rk;
    PGconn *db;
    char db_err[512];
    jc_keycache *kc;
    jc_deadletter *dl;
    jc_jobwrite jw;
    char topics[MAX_TOPICS][256];
    /* Per partition p of topic t, for p < n_parts[t] (parts_grow; p beyond
     * that was never assigned):
     * position[t][p]: the next_offset PostgreSQL holds for (t, p) as far as
     * this process knows; -1: no row yet; -2: not assigned. */
    int n_parts[MAX_TOPICS];
    int64_t *position[MAX_TOPICS];
    unsigned char *at_eof[MAX_TOPICS];
    /* expect[t][p]: the offset the next record of (t, p) must have, -1 when
     * not known (reading from the beginning); a record past it means records
     * left the log unread. lost[t][p]: such records not yet stored.
     * next[t][p]: apply_range's scratch, the position a batch moves to. */
    int64_t *expect[MAX_TOPICS];
    int64_t *lost[MAX_TOPICS];
    int64_t *next[MAX_TOPICS];
    char cluster_id[512]; /* the log's identity: the cluster's id, "" when the broker
                           * did not say; see log_identity() */
    char brokers[256];
    /* log_is_new: the cluster was created empty by this process; checked[t][p]:
     * (t, p)'s stored position was judged once since then */
    int log_is_new;
    unsigned char *checked[MAX_TOPICS];
    int assigned;
    int drop_batch; /* a rebalance happened while the batch was built */
    jc_batch batch;
    jc_rejects rejects;
    int64_t lag_refreshed_ms; /* refresh_lag's last run; 0: due */
    int64_t answers_logged_ms; /* the last log line about dropped answers */
    uint64_t answers_unlogged;  /* answers dropped since that line */
    int jobs_assigned;          /* jobs the batch's transactions assigned (debug log) */
    int64_t behind_at_ms;       /* note_behind: its last call, and the records */
    uint64_t behind_done;       /* applied or rejected by then */
};

/* ---- small helpers ---- */

static int64_t now_ms(void) { return (int64_t)jc_now_ms(); }

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int topic_index(jc_ingest *ig, const char *name)
{
    for (int i = 0; i < MAX_TOPICS; i++)
        if (strcmp(ig->topics[i], name) == 0)
            return i;
    return -1;
}

// known says whether partition p of topic t has its entries in the arrays.
static int known(const jc_ingest *ig, int t, int p)
{
    return t >= 0 && p >= 0 && p < ig->n_parts[t];
}

// grow_array reallocs a from n to want elements of size each, the new ones
// set to fill (a byte pattern: 0, or 0xff that is -1). Returns the new array,
// or NULL (a is left as it was).
static void *grow_array(void *a, size_t size, int n, int want, int fill)
{
    unsigned char *grown = realloc(a, (size_t)want * size);
    if (grown)
        memset(grown + (size_t)n * size, fill, (size_t)(want - n) * size);
    return grown;
}

/* GROW(arr, fill) grows ig's array arr in parts_grow; 0 or -1. */
#define GROW(arr, fill) \
    ((grown = grow_array((arr), sizeof *(arr), n, want, (fill))) ? ((arr) = grown, 0) : -1)

// parts_grow makes room for partition p of topic t (not assigned, never
// checked). Returns 0, or -1 (logged): p is past MAX_PARTITION_ID or memory
// ran out, and the partition must not be consumed.
static int parts_grow(jc_ingest *ig, int t, int p)
{
    int n = ig->n_parts[t], want = p + 1;
    void *grown;
    if (p < n)
        return 0;
    if (p >= MAX_PARTITION_ID || GROW(ig->position[t], 0xff) != 0 ||
        GROW(ig->expect[t], 0xff) != 0 || GROW(ig->next[t], 0xff) != 0 ||
        GROW(ig->lost[t], 0) != 0 || GROW(ig->at_eof[t], 0) != 0 || GROW(ig->checked[t], 0) != 0) {
        LOG_ERROR("ingest",
                  "%s[%d]: partition refused, not consumed (partition numbers up to %d are"
                  " consumed%s): its records wait for a coordinator that takes it",
                  ig->topics[t], p, MAX_PARTITION_ID - 1,
                  p >= MAX_PARTITION_ID ? "" : "; out of memory");
        return -1;
    }
    for (int i = n; i < want; i++)
        ig->position[t][i] = -2; /* not assigned (0xff.. filled: -1) */
    ig->n_parts[t] = want;
    return 0;
}

/* ---- database connection ---- */

// db_ensure (re)connects, backing off, until connected or asked to stop.
static int db_ensure(jc_ingest *ig)
{
    int delay_ms = 100;
    while (!ig->db || PQstatus(ig->db) != CONNECTION_OK) {
        if (*ig->rt->stop)
            return -1;
        if (ig->db) {
            PQfinish(ig->db);
            ig->db = NULL;
            atomic_store(&ig->rt->caught_up_at_ms, 0);
        }
        ig->db = jc_db_connect(ig->cfg->db_conninfo, ig->db_err, sizeof ig->db_err);
        if (ig->db)
            break;
        LOG_ERROR("ingest", "%s (retrying in %d ms)", ig->db_err, delay_ms);
        struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (delay_ms < 5000)
            delay_ms *= 2;
    }
    return 0;
}

/* ---- batch ---- */

static void batch_clear(jc_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->msgs[i].decoded)
            jc_msg_release(&b->msgs[i].msg);
        rd_kafka_message_destroy(b->msgs[i].rkm);
    }
    b->n = 0;
}

/* ---- rebalance: positions come from PostgreSQL ---- */

// note_log_change records in PostgreSQL (outside the batch: it must survive
// a rollback) that partition (topic, p) was judged v, and says so loudly.
static void note_log_change(jc_ingest *ig, const char *topic, int p, int64_t pos, jc_log_verdict v,
                            int64_t lost)
{
    static const char sql[] =
        "UPDATE consumer_offsets SET cluster_id = nullif($4, ''),"
        " reset_at = CASE WHEN $5 = 'truncated' THEN reset_at ELSE now() END,"
        " reset_reason = CASE WHEN $5 = 'truncated' THEN reset_reason ELSE $5 END,"
        " lost_records = lost_records + $6::bigint,"
        " lost_at = CASE WHEN $6::bigint > 0 THEN now() ELSE lost_at END"
        " WHERE consumer_group = $1 AND topic = $2 AND kpartition = $3::int";
    char part[16], n[32];
    const char *params[6] = {ig->cfg->group_id, topic, part, ig->cluster_id,
                             jc_log_verdict_name(v), n};
    PGresult *r;

    snprintf(part, sizeof part, "%d", p);
    snprintf(n, sizeof n, "%" PRId64, lost);
    if (v == JC_LOG_TRUNCATED) {
        LOG_ERROR("ingest",
                  "%s[%d]: %" PRId64 " records were removed from the log before ingest read them"
                  " (stored position %" PRId64 "); they are lost. The embedded Kafka cluster keeps"
                  " about 5 MiB per partition: use a real cluster in production",
                  topic, p, lost, pos);
        atomic_fetch_add(&ig->rt->records_lost, (uint_fast64_t)lost);
    } else {
        LOG_ERROR("ingest",
                  "%s[%d]: the stored position %" PRId64 " belongs to another log (%s; cluster"
                  " now '%s'); reading this partition again from its beginning",
                  topic, p, pos, jc_log_verdict_name(v), ig->cluster_id);
        atomic_fetch_add(&ig->rt->position_resets, 1);
    }
    r = PQexecParams(ig->db, sql, 6, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(ig->db, r, ig->db_err, sizeof ig->db_err))
        LOG_WARN("ingest", "cannot record the log change of %s[%d]: %s", topic, p, ig->db_err);
    PQclear(r);
}

// judge_position decides where partition tp starts from its stored position
// pos and the cluster id stored with it (see logcheck.c).
static void judge_position(jc_ingest *ig, rd_kafka_topic_partition_t *tp, int t, int64_t pos,
                           const char *stored_cluster)
{
    int64_t lo = -1, hi = -1, start, lost;
    jc_log_verdict v;

    if (pos >= 0 && rd_kafka_query_watermark_offsets(ig->rk, tp->topic, tp->partition, &lo, &hi,
                                                     5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        lo = hi = -1; /* unknown: trust the position, as before */
    v = jc_log_judge(pos, stored_cluster, ig->cluster_id, lo, hi, &start, &lost);
    if (ig->log_is_new && !ig->checked[t][tp->partition] && pos >= 0) {
        v = JC_LOG_NEW_CLUSTER; /* stored by an earlier process, for a cluster now gone */
        start = -2;
        lost = 0;
    }
    ig->checked[t][tp->partition] = 1;
    tp->offset = start == -2 ? RD_KAFKA_OFFSET_BEGINNING : start;
    ig->expect[t][tp->partition] = start == -2 ? (v == JC_LOG_SAME ? -1 : lo) : start;
    if (v != JC_LOG_SAME)
        note_log_change(ig, tp->topic, tp->partition, pos, v, lost);
}

// log_identity stores in ig->cluster_id what names the log the positions
// belong to: the cluster's id. librdkafka's mock cluster derives its id from
// memory addresses, which repeat from one start to the next where address
// space randomisation is off; a mock's id is therefore qualified with its
// listener address, an ephemeral port that a restarted mock does not share.
static void log_identity(jc_ingest *ig)
{
    char *cid = rd_kafka_clusterid(ig->rk, 2000);
    if (cid && strncmp(cid, "mockCluster", 11) == 0)
        snprintf(ig->cluster_id, sizeof ig->cluster_id, "%s@%s", cid, ig->brokers);
    else
        snprintf(ig->cluster_id, sizeof ig->cluster_id, "%s", cid ? cid : "");
    if (cid)
        rd_kafka_mem_free(ig->rk, cid);
}

// load_positions reads stored positions for parts and sets each partition's
// start offset, after judging that each still points into the log it was
// stored for. Returns 0, -1 on database trouble.
static int load_positions(jc_ingest *ig, rd_kafka_topic_partition_list_t *parts)
{
    static const char sql[] = "SELECT topic, kpartition, next_offset, coalesce(cluster_id, '')"
                              " FROM consumer_offsets"
                              " WHERE consumer_group = $1 AND topic = ANY($2::text[])";
    const char *params[2];
    jc_buf topics;
    PGresult *r;
    int rc = -1;

    log_identity(ig);
    jc_buf_init(&topics, 1 << 16);
    jc_buf_addstr(&topics, "{");
    for (int t = 0; t < MAX_TOPICS; t++)
        jc_buf_add_array_elem(&topics, ig->topics[t], strlen(ig->topics[t]));
    jc_buf_addstr(&topics, "}");
    params[0] = ig->cfg->group_id;
    params[1] = jc_buf_str(&topics);
    r = PQexecParams(ig->db, sql, 2, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(ig->db, r, ig->db_err, sizeof ig->db_err))
        goto out;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int t = topic_index(ig, tp->topic), found = -1;
        tp->offset = RD_KAFKA_OFFSET_BEGINNING;
        if (!known(ig, t, tp->partition)) {
            LOG_ERROR("ingest", "%s[%d]: partition not consumed (unknown topic)", tp->topic,
                      tp->partition);
            continue;
        }
        ig->position[t][tp->partition] = -1;
        ig->at_eof[t][tp->partition] = 0;
        ig->lost[t][tp->partition] = 0;
        for (int row = 0; row < PQntuples(r); row++)
            if (strcmp(PQgetvalue(r, row, 0), tp->topic) == 0 &&
                atoi(PQgetvalue(r, row, 1)) == tp->partition)
                found = row;
        if (found >= 0)
            ig->position[t][tp->partition] = strtoll(PQgetvalue(r, found, 2), NULL, 10);
        judge_position(ig, tp, t, ig->position[t][tp->partition],
                       found >= 0 ? PQgetvalue(r, found, 3) : NULL);
    }
    rc = 0;
out:
    PQclear(r);
    jc_buf_free(&topics);
    return rc;
}

static void reset_positions(jc_ingest *ig)
{
    for (int t = 0; t < MAX_TOPICS; t++)
        for (int p = 0; p < ig->n_parts[t]; p++) {
            ig->position[t][p] = -2;
            ig->at_eof[t][p] = 0;
            ig->expect[t][p] = -1;
            ig->lost[t][p] = 0;
        }
    ig->assigned = 0;
    ig->lag_refreshed_ms = 0;
    atomic_store(&ig->rt->assigned_partitions, 0);
    atomic_store(&ig->rt->caught_up_at_ms, 0);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    jc_ingest *ig = opaque;
    ig->drop_batch = 1;
    reset_positions(ig);
    if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        LOG_INFO("ingest", "partitions revoked (%d)", parts->cnt);
        rd_kafka_assign(rk, NULL);
        return;
    }
    /* room for every partition assigned; one refused (parts_grow) is taken
     * out of the assignment, so that nothing is read without its position */
    for (int i = parts->cnt - 1; i >= 0; i--) {
        int t = topic_index(ig, parts->elems[i].topic);
        if (t >= 0 && parts_grow(ig, t, parts->elems[i].partition) != 0)
            rd_kafka_topic_partition_list_del_by_idx(parts, i);
    }
    for (;;) {
        if (db_ensure(ig) != 0)
            return; /* stopping */
        if (load_positions(ig, parts) == 0)
            break;
        LOG_ERROR("ingest", "cannot read stored offsets: %s (retrying)", ig->db_err);
        PQfinish(ig->db);
        ig->db = NULL;
    }
    rd_kafka_assign(rk, parts);
    ig->assigned = parts->cnt;
    atomic_store(&ig->rt->assigned_partitions, parts->cnt);
    LOG_INFO("ingest", "ingest ready: %d partitions assigned, positions from PostgreSQL",
             parts->cnt);
}

/* ---- collecting a batch ---- */

// note_eof records a partition at its end; when all are, ingest is caught up.
static void note_eof(jc_ingest *ig, const rd_kafka_message_t *m)
{
    int t = topic_index(ig, rd_kafka_topic_name(m->rkt)), all = 1;
    if (!known(ig, t, m->partition))
        return;
    ig->at_eof[t][m->partition] = 1;
    for (int i = 0; i < MAX_TOPICS; i++)
        for (int p = 0; p < ig->n_parts[i]; p++)
            if (ig->position[i][p] != -2 && !ig->at_eof[i][p])
                all = 0;
    if (all && ig->assigned > 0 && atomic_load(&ig->rt->caught_up_at_ms) == 0) {
        atomic_store(&ig->rt->caught_up_at_ms, now_ms());
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

// refresh_lag publishes each assigned partition's consumer lag (high
// watermark minus the consumer's position) and their sum, at most once a
// second. Both numbers are librdkafka's local state (the watermark comes with
// every fetch response), so this never waits on the network. A partition
// whose watermark or position is not known yet is left out.
static void refresh_lag(jc_ingest *ig)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    jc_metrics_lag *lags = NULL;
    int64_t now = now_ms(), total = 0;
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
        int t = topic_index(ig, tp->topic);
        int64_t lo, hi, pos = tp->offset;
        if (rd_kafka_get_watermark_offsets(ig->rk, tp->topic, tp->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
            continue;
        if (pos < 0 && known(ig, t, tp->partition)) {
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
    int t = topic_index(ig, rd_kafka_topic_name(m->rkt)), p = m->partition;
    if (!known(ig, t, p))
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

// collect builds a batch: it waits for a first message, then takes what is
// already fetched (poll with no wait) until the local queue is empty, the
// batch is full, batch_max_ms passed since its first message, or a stop was
// asked. So an idle coordinator applies a lone message at once, and a busy
// one applies bigger batches (the work of one batch is the time in which the
// next one gathers). Returns the number of messages.
static size_t collect(jc_ingest *ig)
{
    jc_batch *b = &ig->batch;
    int64_t deadline = 0;
    ig->drop_batch = 0;
    while (b->n < (size_t)ig->cfg->batch_max_messages && !*ig->rt->stop) {
        int wait = 100;
        rd_kafka_message_t *m;
        if (deadline) {
            if (deadline - now_ms() <= 0)
                break;
            wait = 0;
        }
        m = rd_kafka_consumer_poll(ig->rk, wait);
        if (ig->drop_batch) {
            batch_clear(b);
            deadline = 0;
            ig->drop_batch = 0;
        }
        if (!m) {
            if (b->n > 0)
                break;
            refresh_lag(ig); /* idle: the loop does not return to jc_ingest_run */
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
            deadline = now_ms() + ig->cfg->batch_max_ms;
    }
    if (ig->drop_batch) {
        batch_clear(b);
        ig->drop_batch = 0;
    }
    return b->n;
}

/* ---- the transaction ---- */

// store_offsets writes the positions after b->msgs[from, to) as
// compare-and-set on the known positions. Returns 0, -1 on SQL error, -2 if
// another consumer moved a position (we lost the partition).
static int store_offsets(jc_ingest *ig, size_t from, size_t to, int64_t *const *next)
{
    static const char update_sql[] =
        "UPDATE consumer_offsets c SET next_offset = u.n, updated_at = now(),"
        "       cluster_id = nullif($6, ''), lost_records = c.lost_records + u.l,"
        "       lost_at = CASE WHEN u.l > 0 THEN now() ELSE c.lost_at END"
        "  FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[], $7::bigint[])"
        "    AS u(t, p, e, n, l)"
        " WHERE c.consumer_group = $1 AND c.topic = u.t AND c.kpartition = u.p"
        "   AND c.next_offset = u.e";
    static const char insert_sql[] =
        "INSERT INTO consumer_offsets (consumer_group, topic, kpartition, next_offset,"
        "                              cluster_id)"
        " SELECT $1, u.t, u.p, u.n, nullif($5, '')"
        "   FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, n)"
        " ON CONFLICT DO NOTHING";
    jc_buf a[5], ins[3];
    int n_upd = 0, n_ins = 0, rc = -1;
    PGresult *r = NULL;
    const char *params[7];

    for (int i = 0; i < 5; i++) {
        jc_buf_init(&a[i], 1 << 20);
        jc_buf_addstr(&a[i], "{");
    }
    for (int i = 0; i < 3; i++) {
        jc_buf_init(&ins[i], 1 << 20);
        jc_buf_addstr(&ins[i], "{");
    }
    for (int t = 0; t < MAX_TOPICS; t++)
        for (int p = 0; p < ig->n_parts[t]; p++)
            next[t][p] = -1;
    for (size_t i = from; i < to; i++) {
        const rd_kafka_message_t *m = ig->batch.msgs[i].rkm;
        int t = topic_index(ig, rd_kafka_topic_name(m->rkt));
        if (known(ig, t, m->partition) && m->offset + 1 > next[t][m->partition])
            next[t][m->partition] = m->offset + 1;
    }
    for (int t = 0; t < MAX_TOPICS; t++)
        for (int p = 0; p < ig->n_parts[t]; p++) {
            char num[32];
            if (next[t][p] < 0)
                continue;
            if (ig->position[t][p] >= 0) {
                jc_buf_add_array_elem(&a[0], ig->topics[t], strlen(ig->topics[t]));
                snprintf(num, sizeof num, "%d", p);
                jc_buf_add_array_elem(&a[1], num, strlen(num));
                snprintf(num, sizeof num, "%" PRId64, ig->position[t][p]);
                jc_buf_add_array_elem(&a[2], num, strlen(num));
                snprintf(num, sizeof num, "%" PRId64, next[t][p]);
                jc_buf_add_array_elem(&a[3], num, strlen(num));
                snprintf(num, sizeof num, "%" PRId64, ig->lost[t][p]);
                jc_buf_add_array_elem(&a[4], num, strlen(num));
                n_upd++;
            } else {
                jc_buf_add_array_elem(&ins[0], ig->topics[t], strlen(ig->topics[t]));
                snprintf(num, sizeof num, "%d", p);
                jc_buf_add_array_elem(&ins[1], num, strlen(num));
                snprintf(num, sizeof num, "%" PRId64, next[t][p]);
                jc_buf_add_array_elem(&ins[2], num, strlen(num));
                n_ins++;
            }
        }
    for (int i = 0; i < 5; i++)
        jc_buf_addstr(&a[i], "}");
    for (int i = 0; i < 3; i++)
        jc_buf_addstr(&ins[i], "}");
    params[0] = ig->cfg->group_id;
    if (n_upd) {
        for (int i = 0; i < 4; i++)
            params[i + 1] = jc_buf_str(&a[i]);
        params[5] = ig->cluster_id;
        params[6] = jc_buf_str(&a[4]);
        r = PQexecParams(ig->db, update_sql, 7, NULL, params, NULL, NULL, 0);
        if (!jc_db_ok(ig->db, r, ig->db_err, sizeof ig->db_err))
            goto out;
        if (atoi(PQcmdTuples(r)) != n_upd) {
            rc = -2;
            goto out;
        }
        PQclear(r);
        r = NULL;
    }
    if (n_ins) {
        for (int i = 0; i < 3; i++)
            params[i + 1] = jc_buf_str(&ins[i]);
        params[4] = ig->cluster_id;
        r = PQexecParams(ig->db, insert_sql, 5, NULL, params, NULL, NULL, 0);
        if (!jc_db_ok(ig->db, r, ig->db_err, sizeof ig->db_err))
            goto out;
        if (atoi(PQcmdTuples(r)) != n_ins) {
            rc = -2;
            goto out;
        }
    }
    rc = 0;
out:
    PQclear(r);
    for (int i = 0; i < 5; i++)
        jc_buf_free(&a[i]);
    for (int i = 0; i < 3; i++)
        jc_buf_free(&ins[i]);
    return rc;
}

static void rollback(jc_ingest *ig)
{
    char ignored[128];
    if (PQstatus(ig->db) == CONNECTION_OK)
        jc_db_exec(ig->db, "ROLLBACK", ignored, sizeof ignored);
}

// note_answers counts a committed transaction's answers to clients, and
// says at most every 10 s how many the rate bound dropped.
static void note_answers(jc_ingest *ig, size_t answered, size_t dropped)
{
    int64_t now = now_ms();
    atomic_fetch_add(&ig->rt->answers_queued, answered);
    atomic_fetch_add(&ig->rt->answers_dropped, dropped);
    ig->answers_unlogged += dropped;
    if (ig->answers_unlogged && now - ig->answers_logged_ms >= 10000) {
        LOG_WARN("ingest",
                 "%llu answers to clients' requests dropped: the same job answered within"
                 " answers.interval_s, or a principal over answers.max_per_interval",
                 (unsigned long long)ig->answers_unlogged);
        ig->answers_unlogged = 0;
        ig->answers_logged_ms = now;
    }
}

// apply_range applies b->msgs[from, to) and its positions in one
// transaction. Returns 0 committed, -1 SQL error on a live connection,
// -2 connection trouble, -3 lost a partition to another consumer.
static int apply_range(jc_ingest *ig, size_t from, size_t to)
{
    int64_t *const *next = ig->next;
    int rc, schedule, assigned = 0;
    size_t answered = 0, dropped = 0;
    double started = monotonic_s();

    if (jc_db_exec(ig->db, "BEGIN", ig->db_err, sizeof ig->db_err) != 0)
        goto fail;
    if (jc_apply_heartbeats(ig->db, &ig->batch, from, to, ig->db_err, sizeof ig->db_err) < 0)
        goto fail;
    schedule = 0;
    if (jc_apply_jobs(ig->db, &ig->jw, &ig->batch, from, to, &schedule, ig->db_err,
                      sizeof ig->db_err) != 0)
        goto fail;
    /* after the job events (which may still reject some), before scheduling
     * (a worker released here can be given work at once) */
    if (jc_replykey_record(ig->db, &ig->batch, from, to, now_ms(), ig->db_err,
                           sizeof ig->db_err) != 0 ||
        jc_replykey_record_version(ig->db, &ig->batch, from, to, ig->db_err,
                                   sizeof ig->db_err) != 0 ||
        jc_holdback_release(ig->db, &ig->batch, from, to, ig->db_err, sizeof ig->db_err) != 0)
        goto fail;
    if (schedule && jc_schedule(ig->db, &ig->jw, ig->cfg->schedule_batch, &assigned, ig->db_err,
                                sizeof ig->db_err) != 0)
        goto fail;
    if (jc_answers_queue(ig->db, ig->cfg, &ig->batch, from, to, &answered, &dropped, ig->db_err,
                         sizeof ig->db_err) != 0)
        goto fail;
    rc = store_offsets(ig, from, to, next);
    if (rc == -2) {
        rollback(ig);
        return -3;
    }
    if (rc != 0 ||
        jc_rejects_store(ig->db, &ig->batch, from, to, ig->db_err, sizeof ig->db_err) != 0)
        goto fail;
    jc_rejects_dead_letter(&ig->rejects, &ig->batch, from, to);
    if (jc_db_exec(ig->db, "COMMIT", ig->db_err, sizeof ig->db_err) != 0)
        goto fail;
    jc_metrics_ingest_transaction(to - from, monotonic_s() - started);
    ig->jobs_assigned += assigned;
    jc_replykey_committed(ig->kc, &ig->batch, from, to, now_ms());
    jc_replykey_version_committed(ig->kc, &ig->batch, from, to);
    note_answers(ig, answered, dropped);
    for (int t = 0; t < MAX_TOPICS; t++)
        for (int p = 0; p < ig->n_parts[t]; p++)
            if (next[t][p] >= 0) {
                ig->position[t][p] = next[t][p];
                ig->lost[t][p] = 0; /* stored with the position */
            }
    return 0;
fail:
    rollback(ig);
    return PQstatus(ig->db) == CONNECTION_OK ? -1 : -2;
}

// apply_one_by_one isolates a message PostgreSQL refuses: each message gets
// its own transaction, and one that fails alone is rejected (apply_error).
// *done counts the messages committed so far; a retry starts from there.
static int apply_one_by_one(jc_ingest *ig, size_t *done)
{
    for (size_t i = *done; i < ig->batch.n; i++) {
        int rc = apply_range(ig, i, i + 1);
        if (rc == -1 && !ig->batch.msgs[i].reason) {
            jc_inmsg_reject(&ig->batch.msgs[i], JC_R_APPLY_ERROR, "%s", ig->db_err);
            rc = apply_range(ig, i, i + 1);
        }
        if (rc != 0)
            return rc;
        *done = i + 1;
    }
    return 0;
}

// process checks and applies the batch in hand, retrying through database
// outages. Returns 0 when done (applied or to be re-read), -1 when stopping.
static int process(jc_ingest *ig)
{
    jc_batch *b = &ig->batch;
    int64_t now = now_ms();
    size_t applied = 0, rejected = 0, done = 0;
    jc_metrics_tally tally;
    int rc, delay_ms = 100;

    ig->jobs_assigned = 0;
    jc_keycache_begin_batch(ig->kc);
    for (size_t i = 0; i < b->n; i++) {
        b->msgs[i].topic = topic_index(ig, rd_kafka_topic_name(b->msgs[i].rkm->rkt));
        jc_check_envelope(ig->cfg, ig->kc, &b->msgs[i], now);
        if (b->msgs[i].record_ts_ms >= 0)
            atomic_store(&ig->rt->record_time, b->msgs[i].ts_trusted ? JC_RECORD_TIME_LOG_APPEND
                                                                      : JC_RECORD_TIME_CREATE);
    }
    for (;;) {
        if (db_ensure(ig) != 0)
            return -1;
        if (jc_keycache_fetch(ig->kc, ig->db, now, ig->db_err, sizeof ig->db_err) == 0)
            break;
        LOG_ERROR("ingest", "key lookup: %s", ig->db_err);
        PQfinish(ig->db);
        ig->db = NULL;
    }
    for (size_t i = 0; i < b->n; i++)
        if (!b->msgs[i].reason)
            jc_check_signed(ig->cfg, ig->kc, &b->msgs[i], ig->topics[b->msgs[i].topic]);

    for (;;) {
        rc = apply_range(ig, done, b->n);
        if (rc == -1) {
            LOG_WARN("ingest", "batch of %zu failed (%s); applying one message at a time",
                     b->n - done, ig->db_err);
            rc = apply_one_by_one(ig, &done);
        }
        if (rc == 0)
            break;
        if (rc == -3) {
            LOG_WARN("ingest", "another consumer moved our stored offsets; re-reading positions");
            rd_kafka_topic_partition_list_t *parts = NULL;
            if (rd_kafka_assignment(ig->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (db_ensure(ig) == 0 && load_positions(ig, parts) == 0)
                    rd_kafka_assign(ig->rk, parts);
                rd_kafka_topic_partition_list_destroy(parts);
            }
            return 0; /* drop the batch: its messages are read again */
        }
        LOG_ERROR("ingest", "batch of %zu not applied: %s (retrying in %d ms)", b->n, ig->db_err,
                  delay_ms);
        atomic_store(&ig->rt->caught_up_at_ms, 0);
        if (*ig->rt->stop)
            return -1;
        struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (delay_ms < 5000)
            delay_ms *= 2;
        if (db_ensure(ig) != 0)
            return -1;
    }
    memset(&tally, 0, sizeof tally);
    for (size_t i = 0; i < b->n; i++) {
        const jc_inmsg *m = &b->msgs[i];
        jc_metrics_tally_message(&tally, m->decoded ? m->msg.type : JC_MSG_NONE, m->reason);
        if (m->reason)
            rejected++;
        else
            applied++;
    }
    jc_metrics_add_tally(&tally);
    atomic_fetch_add(&ig->rt->applied, applied);
    atomic_fetch_add(&ig->rt->rejected, rejected);
    atomic_fetch_add(&ig->rt->batches, 1);
    LOG_DEBUG("ingest", "batch: %zu applied, %zu rejected, %d jobs assigned in %lld ms", applied,
              rejected, ig->jobs_assigned, (long long)(now_ms() - now));
    return 0;
}

/* ---- lifecycle ---- */

jc_ingest *jc_ingest_new(const jc_config *cfg, const char *brokers, const jc_keyring *kr,
                         jc_runtime *rt, char *errstr, size_t errstr_size)
{
    jc_ingest *ig = calloc(1, sizeof *ig);
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *subs = NULL;
    char kerr[256], num[32], fetch_wait[32];
    rd_kafka_resp_err_t err;

    if (!ig) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    ig->cfg = cfg;
    ig->rt = rt;
    snprintf(ig->brokers, sizeof ig->brokers, "%s", brokers ? brokers : "");
    jw_init(&ig->jw, cfg);
    reset_positions(ig);
    for (int t = 0; t < MAX_TOPICS; t++)
        jc_config_topic(cfg, jc_ingest_topic(t), ig->topics[t], sizeof ig->topics[t]);
    ig->kc = jc_keycache_new(kr, cfg->key_cache_ttl_ms);
    if (!ig->kc) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    ig->db = jc_db_connect(cfg->db_conninfo, errstr, errstr_size);
    if (!ig->db)
        goto fail;
    ig->dl = jc_deadletter_new(cfg, brokers, errstr, errstr_size);
    if (!ig->dl)
        goto fail;
    ig->rejects.dl = ig->dl;
    jc_rejlog_init(&ig->rejects.log, cfg->log_rejection_interval_s);

    conf = jc_kafka_conf(cfg, brokers, errstr, errstr_size);
    if (!conf)
        goto fail;
    snprintf(num, sizeof num, "%d", cfg->session_timeout_ms);
    snprintf(fetch_wait, sizeof fetch_wait, "%d", cfg->fetch_wait_max_ms);
    if (jc_kafka_set(conf, "group.id", cfg->group_id, errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "enable.auto.commit", "false", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "enable.partition.eof", "true", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "auto.offset.reset", "earliest", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "session.timeout.ms", num, errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "fetch.wait.max.ms", fetch_wait, errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "client.id", "jobcoord-ingest", errstr, errstr_size) != 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, ig);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    ig->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof kerr);
    if (!ig->rk) {
        snprintf(errstr, errstr_size, "consumer: %s", kerr);
        goto fail;
    }
    conf = NULL;
    rd_kafka_poll_set_consumer(ig->rk);
    subs = rd_kafka_topic_partition_list_new(MAX_TOPICS);
    for (int t = 0; t < MAX_TOPICS; t++)
        rd_kafka_topic_partition_list_add(subs, ig->topics[t], RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(ig->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
        goto fail;
    }
    return ig;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    jc_ingest_free(ig);
    return NULL;
}

void jc_ingest_log_is_new(jc_ingest *ig) { ig->log_is_new = 1; }

int jc_ingest_run(jc_ingest *ig)
{
    while (!*ig->rt->stop) {
        if (collect(ig) == 0)
            continue;
        if (process(ig) != 0)
            break;
        batch_clear(&ig->batch);
        refresh_lag(ig);
    }
    batch_clear(&ig->batch);
    LOG_INFO("ingest", "stopping: leaving the consumer group");
    rd_kafka_consumer_close(ig->rk);
    return 0;
}

void jc_ingest_free(jc_ingest *ig)
{
    if (!ig)
        return;
    batch_clear(&ig->batch);
    free(ig->batch.msgs);
    if (ig->rk)
        rd_kafka_destroy(ig->rk);
    jc_deadletter_free(ig->dl);
    if (ig->db)
        PQfinish(ig->db);
    jc_keycache_free(ig->kc);
    jw_free(&ig->jw);
    for (int t = 0; t < MAX_TOPICS; t++) {
        free(ig->position[t]);
        free(ig->at_eof[t]);
        free(ig->expect[t]);
        free(ig->lost[t]);
        free(ig->next[t]);
        free(ig->checked[t]);
    }
    free(ig);
}
