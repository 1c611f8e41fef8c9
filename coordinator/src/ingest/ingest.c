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

#include "ingest/ingest_int.h"

/* ---- small helpers ---- */

int64_t ig_now_ms(void) { return (int64_t)jc_now_ms(); }

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ig_topic_index(jc_ingest *ig, const char *name)
{
    for (int i = 0; i < MAX_TOPICS; i++)
        if (strcmp(ig->topics[i], name) == 0)
            return i;
    return -1;
}

// ig_known says whether partition p of topic t has its entries in the arrays.
int ig_known(const jc_ingest *ig, int t, int p)
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

/* GROW(arr, fill) grows ig's array arr in ig_parts_grow; 0 or -1. */
#define GROW(arr, fill) \
    ((grown = grow_array((arr), sizeof *(arr), n, want, (fill))) ? ((arr) = grown, 0) : -1)

// ig_parts_grow makes room for partition p of topic t (not assigned, never
// checked). Returns 0, or -1 (logged): p is past MAX_PARTITION_ID or memory
// ran out, and the partition must not be consumed.
int ig_parts_grow(jc_ingest *ig, int t, int p)
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

// ig_db_ensure (re)connects, backing off, until connected or asked to stop.
int ig_db_ensure(jc_ingest *ig)
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

void ig_batch_clear(jc_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->msgs[i].decoded)
            jc_msg_release(&b->msgs[i].msg);
        rd_kafka_message_destroy(b->msgs[i].rkm);
    }
    b->n = 0;
}

/* ---- the transaction ---- */

void ig_rollback(jc_ingest *ig)
{
    char ignored[128];
    if (PQstatus(ig->db) == CONNECTION_OK)
        jc_db_exec(ig->db, "ROLLBACK", ignored, sizeof ignored);
}

// note_answers counts a committed transaction's answers to clients, and
// says at most every 10 s how many the rate bound dropped.
static void note_answers(jc_ingest *ig, size_t answered, size_t dropped)
{
    int64_t now = ig_now_ms();
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
    if (jc_replykey_record(ig->db, &ig->batch, from, to, ig_now_ms(), ig->db_err,
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
    rc = ig_store_offsets(ig, from, to, next);
    if (rc == -2) {
        ig_rollback(ig);
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
    jc_replykey_committed(ig->kc, &ig->batch, from, to, ig_now_ms());
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
    ig_rollback(ig);
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

// ig_process checks and applies the batch in hand, retrying through database
// outages. Returns 0 when done (applied or to be re-read), -1 when stopping.
int ig_process(jc_ingest *ig)
{
    jc_batch *b = &ig->batch;
    int64_t now = ig_now_ms();
    size_t applied = 0, rejected = 0, done = 0;
    jc_metrics_tally tally;
    int rc, delay_ms = 100;

    ig->jobs_assigned = 0;
    jc_keycache_begin_batch(ig->kc);
    for (size_t i = 0; i < b->n; i++) {
        b->msgs[i].topic = ig_topic_index(ig, rd_kafka_topic_name(b->msgs[i].rkm->rkt));
        jc_check_envelope(ig->cfg, ig->kc, &b->msgs[i], now);
        if (b->msgs[i].record_ts_ms >= 0)
            atomic_store(&ig->rt->record_time, b->msgs[i].ts_trusted ? JC_RECORD_TIME_LOG_APPEND
                                                                      : JC_RECORD_TIME_CREATE);
    }
    for (;;) {
        if (ig_db_ensure(ig) != 0)
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
                if (ig_db_ensure(ig) == 0 && ig_load_positions(ig, parts) == 0)
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
        if (ig_db_ensure(ig) != 0)
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
              rejected, ig->jobs_assigned, (long long)(ig_now_ms() - now));
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
    ig_reset_positions(ig);
    for (int t = 0; t < MAX_TOPICS; t++)
        jc_config_topic(cfg, jc_ingest_topic(t), ig->topics[t], sizeof ig->topics[t]);
    ig->kc = jc_keycache_new(kr, cfg->key_cache_ttl_ms);
    if (!ig->kc) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    jc_keycache_set_max_age(ig->kc, cfg->max_key_age_s);
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
    jc_kafka_conf_bind(conf, &ig->kafka); /* opaque: ig itself */
    rd_kafka_conf_set_rebalance_cb(conf, ig_on_rebalance);
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
        if (ig_collect(ig) == 0)
            continue;
        if (ig_process(ig) != 0)
            break;
        ig_batch_clear(&ig->batch);
        ig_refresh_lag(ig);
    }
    ig_batch_clear(&ig->batch);
    LOG_INFO("ingest", "stopping: leaving the consumer group");
    rd_kafka_consumer_close(ig->rk);
    return 0;
}

void jc_ingest_free(jc_ingest *ig)
{
    if (!ig)
        return;
    ig_batch_clear(&ig->batch);
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
