/*
 * positions.c - ingest's consumer positions, which live in PostgreSQL
 * (consumer_offsets) rather than in Kafka: loaded on assignment and judged
 * against the log they were stored for (kafka/logcheck.c), reset on
 * revocation, and stored in the transaction that applies the records they
 * pass (store_offsets), so a record is applied exactly once.
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

/* ---- rebalance: positions come from PostgreSQL ---- */

// note_log_change records in PostgreSQL (outside the batch: it must survive
// a ig_rollback) that partition (topic, p) was judged v, and says so loudly.
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
        v = JC_LOG_NEW_CLUSTER; /* stored by an earlier ig_process, for a cluster now gone */
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

// ig_load_positions reads stored positions for parts and sets each partition's
// start offset, after judging that each still points into the log it was
// stored for. Returns 0, -1 on database trouble.
int ig_load_positions(jc_ingest *ig, rd_kafka_topic_partition_list_t *parts)
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
        int t = ig_topic_index(ig, tp->topic), found = -1;
        tp->offset = RD_KAFKA_OFFSET_BEGINNING;
        if (!ig_known(ig, t, tp->partition)) {
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

void ig_reset_positions(jc_ingest *ig)
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

void ig_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    jc_ingest *ig = opaque;
    ig->drop_batch = 1;
    ig_reset_positions(ig);
    if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        LOG_INFO("ingest", "partitions revoked (%d)", parts->cnt);
        rd_kafka_assign(rk, NULL);
        return;
    }
    /* room for every partition assigned; one refused (ig_parts_grow) is taken
     * out of the assignment, so that nothing is read without its position */
    for (int i = parts->cnt - 1; i >= 0; i--) {
        int t = ig_topic_index(ig, parts->elems[i].topic);
        if (t >= 0 && ig_parts_grow(ig, t, parts->elems[i].partition) != 0)
            rd_kafka_topic_partition_list_del_by_idx(parts, i);
    }
    for (;;) {
        if (ig_db_ensure(ig) != 0)
            return; /* stopping */
        if (ig_load_positions(ig, parts) == 0)
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


// ig_store_offsets writes the positions after b->msgs[from, to) as
// compare-and-set on the known positions. Returns 0, -1 on SQL error, -2 if
// another consumer moved a position (we lost the partition).
int ig_store_offsets(jc_ingest *ig, size_t from, size_t to, int64_t *const *next)
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
        int t = ig_topic_index(ig, rd_kafka_topic_name(m->rkt));
        if (ig_known(ig, t, m->partition) && m->offset + 1 > next[t][m->partition])
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

