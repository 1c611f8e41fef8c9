/*
 * ingest_int.h - what ingest's files share (ingest.c: the loop and the
 * transaction; positions.c: consumer positions; collect.c: one batch).
 * Private to them.
 */
#ifndef JC_INGEST_INT_H
#define JC_INGEST_INT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>

#include "core/runtime.h"
#include "ingest/batch.h"
#include "ingest/ingest.h"
#include "ingest/rejects.h"
#include "jobs/jobwrite.h"
#include "kafka/deadletter.h"
#include "kafka/kafka_oauth.h"
#include "kafka/logcheck.h"
#include "principals/hmac_keycache.h"

#define MAX_TOPICS JC_INGEST_TOPICS
/* Partition numbers from 0 up to this one (excluded) are consumed; the
 * per-partition arrays below grow to the highest number assigned. Kafka sets
 * no limit of its own; past this one an assignment is refused, loudly
 * (parts_grow). */
#define MAX_PARTITION_ID (1 << 20)

struct jc_ingest {
    jc_kafka_client kafka; /* first: the conf opaque's (kafka_oauth.h) */
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

/* ig_known says whether partition p of topic t has its entries in the arrays. */
int ig_known(const jc_ingest *ig, int t, int p);
/* ig_process checks and applies the batch in hand, retrying through database
 * outages. Returns 0 when done (applied or to be re-read), -1 when stopping. */
int ig_process(jc_ingest *ig);
void ig_rollback(jc_ingest *ig);
int ig_topic_index(jc_ingest *ig, const char *name);
void ig_batch_clear(jc_batch *b);
/* ig_db_ensure (re)connects, backing off, until connected or asked to stop. */
int ig_db_ensure(jc_ingest *ig);
/* ig_parts_grow makes room for partition p of topic t (not assigned, never
 * checked). Returns 0, or -1 (logged): p is past MAX_PARTITION_ID or memory
 * ran out, and the partition must not be consumed. */
int ig_parts_grow(jc_ingest *ig, int t, int p);
int64_t ig_now_ms(void);
/* ig_load_positions reads stored positions for parts and sets each partition's
 * start offset, after judging that each still points into the log it was
 * stored for. Returns 0, -1 on database trouble. */
int ig_load_positions(jc_ingest *ig, rd_kafka_topic_partition_list_t *parts);
void ig_reset_positions(jc_ingest *ig);
/* ig_store_offsets writes the positions after b->msgs[from, to) as
 * compare-and-set on the known positions. Returns 0, -1 on SQL error, -2 if
 * another consumer moved a position (we lost the partition). */
int ig_store_offsets(jc_ingest *ig, size_t from, size_t to, int64_t *const *next);
void ig_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);
/* ig_refresh_lag publishes each assigned partition's consumer lag (high
 * watermark minus the consumer's position) and their sum, at most once a
 * second. Both numbers are librdkafka's local state (the watermark comes with
 * every fetch response), so this never waits on the network. A partition
 * whose watermark or position is not known yet is left out. */
void ig_refresh_lag(jc_ingest *ig);
/* ig_collect builds a batch: it waits for a first message, then takes what is
 * already fetched (poll with no wait) until the local queue is empty, the
 * batch is full, batch_max_ms passed since its first message, or a stop was
 * asked. So an idle coordinator applies a lone message at once, and a busy
 * one applies bigger batches (the work of one batch is the time in which the
 * next one gathers). Returns the number of messages. */
size_t ig_collect(jc_ingest *ig);

#endif
