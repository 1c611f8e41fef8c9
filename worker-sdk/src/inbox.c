/*
 * inbox.c - a principal's own partition of a coordinator-to-principal topic.
 *
 * The coordinator keys commands and job updates by the recipient's id and
 * lets librdkafka's murmur2_random partitioner place them. The recipient
 * computes the same partition from the topic's partition count (metadata)
 * and assigns only that one partition, by hand: no consumer-group
 * rebalancing, so a worker never reads another worker's partition and
 * never stalls while a group rebalances. Records of other principals that
 * hash to the same partition are skipped by jc_inbox_open's "p" check.
 */
#include "inbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jc_inbox {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    const jc_identity *id;
    char topic[256];
    jc_inbox_start start;
    int32_t partition_cnt;
    int32_t partition; /* -1 until assigned */
};

// set_kafka sets one librdkafka property, filling errstr on failure.
static int set_kafka(rd_kafka_conf_t *rconf, const char *name, const char *value, char *errstr,
                     size_t errstr_size)
{
    char kerr[256];

    if (rd_kafka_conf_set(rconf, name, value, kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka: %s: %s", name, kerr);
        return -1;
    }
    return 0;
}

jc_inbox *jc_inbox_new(const jc_conf_t *conf, const jc_identity *id, const char *topic,
                       jc_inbox_start start, const char *group_prefix, char *errstr,
                       size_t errstr_size)
{
    jc_inbox *ib = calloc(1, sizeof *ib);
    rd_kafka_conf_t *rconf = NULL;
    char group[JC_MAX_PRINCIPAL_LEN + 64];
    int from_stored = start == JC_INBOX_FROM_STORED;

    if (!ib) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    ib->id = id;
    ib->start = start;
    ib->partition = -1;
    snprintf(ib->topic, sizeof ib->topic, "%s", topic);
    snprintf(group, sizeof group, "%s%s", group_prefix, id->principal);
    if (jc_sdk_kafka_conf(conf, &rconf, errstr, errstr_size) != JC_OK)
        goto fail;
    if (set_kafka(rconf, "group.id", group, errstr, errstr_size) ||
        set_kafka(rconf, "enable.auto.commit", from_stored ? "true" : "false", errstr,
                  errstr_size) ||
        set_kafka(rconf, "auto.offset.reset", "latest", errstr, errstr_size) ||
        set_kafka(rconf, "enable.partition.eof", "false", errstr, errstr_size))
        goto fail;
    /* commands and job updates are latency-sensitive: do not let a fetch
     * sit at the broker for librdkafka's default 500 ms (brokers that
     * answer early are unaffected), unless the user chose a value */
    if (!jc_conf_get(conf, "kafka.fetch.wait.max.ms") &&
        set_kafka(rconf, "fetch.wait.max.ms", "50", errstr, errstr_size))
        goto fail;
    ib->rk = jc_sdk_kafka_new(RD_KAFKA_CONSUMER, conf, rconf, NULL, NULL, errstr, errstr_size);
    rconf = NULL; /* consumed */
    if (!ib->rk)
        goto fail;
    ib->rkt = rd_kafka_topic_new(ib->rk, ib->topic, NULL);
    if (!ib->rkt) {
        snprintf(errstr, errstr_size, "kafka: topic %s: %s", ib->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    return ib;
fail:
    if (rconf)
        rd_kafka_conf_destroy(rconf);
    jc_inbox_destroy(ib);
    return NULL;
}

// partition_count asks the brokers how many partitions the topic has.
static jc_err_t partition_count(jc_inbox *ib, int timeout_ms, int32_t *cnt, char *errstr,
                                size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(ib->rk, 0, ib->rkt, &md, timeout_ms);
    jc_err_t err = JC_OK;

    if (kerr) {
        snprintf(errstr, errstr_size, "kafka: metadata of %s: %s", ib->topic,
                 rd_kafka_err2str(kerr));
        err = kerr == RD_KAFKA_RESP_ERR__TIMED_OUT ? JC_ERR_TIMED_OUT : JC_ERR_KAFKA;
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
        snprintf(errstr, errstr_size, "kafka: topic %s: %s", ib->topic,
                 md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                         : "no partitions");
        err = JC_ERR_KAFKA;
        goto out;
    }
    *cnt = md->topics[0].partition_cnt;
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    return err;
}

jc_err_t jc_inbox_assign(jc_inbox *ib, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int32_t cnt = 0, partition;
    int64_t offset = RD_KAFKA_OFFSET_STORED, low = 0, high = 0;
    rd_kafka_resp_err_t kerr;
    jc_err_t err = partition_count(ib, timeout_ms, &cnt, errstr, errstr_size);

    if (err)
        goto out;
    if (cnt == ib->partition_cnt && ib->partition >= 0)
        goto out; /* nothing changed */
    partition = jc_murmur2_partition(ib->id->principal, strlen(ib->id->principal), cnt);
    if (ib->start == JC_INBOX_FROM_END) {
        kerr = rd_kafka_query_watermark_offsets(ib->rk, ib->topic, partition, &low, &high,
                                                timeout_ms);
        if (kerr) {
            snprintf(errstr, errstr_size, "kafka: end offset of %s [%d]: %s", ib->topic,
                     (int)partition, rd_kafka_err2str(kerr));
            err = kerr == RD_KAFKA_RESP_ERR__TIMED_OUT ? JC_ERR_TIMED_OUT : JC_ERR_KAFKA;
            goto out;
        }
        offset = high;
    }
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, ib->topic, partition)->offset = offset;
    kerr = rd_kafka_assign(ib->rk, parts);
    if (kerr) {
        snprintf(errstr, errstr_size, "kafka: assign %s [%d]: %s", ib->topic, (int)partition,
                 rd_kafka_err2str(kerr));
        err = JC_ERR_KAFKA;
        goto out;
    }
    ib->partition_cnt = cnt;
    ib->partition = partition;
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    return err;
}

int jc_inbox_assigned(const jc_inbox *ib) { return ib->partition >= 0; }

rd_kafka_message_t *jc_inbox_poll(jc_inbox *ib, int timeout_ms)
{
    rd_kafka_message_t *rec = rd_kafka_consumer_poll(ib->rk, timeout_ms);

    if (rec && rec->err) {
        rd_kafka_message_destroy(rec);
        rec = NULL;
    }
    return rec;
}

jc_err_t jc_inbox_open(jc_identity *id, const rd_kafka_message_t *rec, jc_msg_type want,
                       jc_msg *m, char *errstr, size_t errstr_size)
{
    jc_envelope env;
    jc_err_t err;

    memset(m, 0, sizeof *m);
    err = jc_envelope_parse(rec->payload, rec->len, JC_MAX_MESSAGE_BYTES, &env, errstr,
                            errstr_size);
    if (err)
        goto out;
    err = jc_identity_verify(id, &env, errstr, errstr_size);
    if (err)
        goto out;
    err = jc_msg_decode(&env, m, errstr, errstr_size);
    if (err)
        goto out;
    if (want != JC_MSG_NONE && m->type != want) {
        snprintf(errstr, errstr_size, "a %s where a %s belongs", jc_msg_type_name(m->type),
                 jc_msg_type_name(want));
        jc_msg_release(m);
        err = JC_ERR_SCHEMA;
    }
out:
    return err;
}

void jc_inbox_destroy(jc_inbox *ib)
{
    if (!ib)
        return;
    if (ib->rkt)
        rd_kafka_topic_destroy(ib->rkt);
    if (ib->rk) {
        rd_kafka_consumer_close(ib->rk);
        jc_sdk_kafka_destroy(ib->rk);
    }
    free(ib);
}
