/*
 * bench_kafka.c - the benchmark's Kafka clients: one throughput-tuned
 * producer, and consumers that read chosen partitions from "now" on
 * without a consumer group (a simulated worker reads the one partition of
 * commands its id hashes to, PROTOCOL.md section 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *errstr,
               size_t errstr_size)
{
    char kerr[256];
    if (rd_kafka_conf_set(conf, k, v, kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "%s=%s: %s", k, v, kerr);
        return -1;
    }
    return 0;
}

rd_kafka_t *bk_producer(const bench_opts *o, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    char kerr[256];
    if (set(conf, "bootstrap.servers", o->brokers, errstr, errstr_size) != 0 ||
        set(conf, "client.id", "jobcoord-bench", errstr, errstr_size) != 0 ||
        set(conf, "partitioner", "murmur2_random", errstr, errstr_size) != 0 ||
        set(conf, "linger.ms", "2", errstr, errstr_size) != 0 ||
        set(conf, "batch.num.messages", "10000", errstr, errstr_size) != 0 ||
        set(conf, "queue.buffering.max.messages", "200000", errstr, errstr_size) != 0 ||
        set(conf, "log_level", "3", errstr, errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    if (!rk) {
        snprintf(errstr, errstr_size, "producer: %s", kerr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

rd_kafka_t *bk_consumer(const bench_opts *o, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    char kerr[256];
    if (set(conf, "bootstrap.servers", o->brokers, errstr, errstr_size) != 0 ||
        set(conf, "group.id", "jobcoord-bench", errstr, errstr_size) != 0 ||
        set(conf, "enable.auto.commit", "false", errstr, errstr_size) != 0 ||
        set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) != 0 ||
        set(conf, "fetch.wait.max.ms", "5", errstr, errstr_size) != 0 ||
        set(conf, "log_level", "3", errstr, errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof kerr);
    if (!rk) {
        snprintf(errstr, errstr_size, "consumer: %s", kerr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

int bk_partitions(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (!t)
        return -1;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n;
}

int bk_assign_from_end(rd_kafka_t *rk, const char *topic, int n_parts, const int *want)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n_parts);
    int rc = -1;
    for (int p = 0; p < n_parts; p++) {
        int64_t lo, hi;
        if (want && !want[p])
            continue;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            goto out;
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
    }
    rc = rd_kafka_assign(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
out:
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int64_t bk_end_offsets(rd_kafka_t *rk, const char *topic, int n_parts)
{
    int64_t sum = 0;
    for (int p = 0; p < n_parts; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            return -1;
        sum += hi;
    }
    return sum;
}

int bk_produce(rd_kafka_t *rk, rd_kafka_topic_t *t, const char *key, const void *value,
               size_t len, int timeout_ms)
{
    double give_up = bench_now() + timeout_ms / 1000.0;
    for (;;) {
        if (rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value, len,
                             key, strlen(key), NULL) == 0)
            return 0;
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL || bench_now() > give_up)
            return -1;
        rd_kafka_poll(rk, 1);
    }
}
