/*
 * sdk_mock.h - what the SDK tests share to play the coordinator over
 * librdkafka's mock cluster: keys, a producer that partitions like the
 * coordinator (murmur2_random), a consumer of whole topics, and sealing.
 */
#ifndef JC_TEST_SDK_MOCK_H
#define JC_TEST_SDK_MOCK_H

#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sodium.h>

#include "jcproto/proto.h"

/* mock_key makes a random key and its base64 form (b64 of 64 bytes). */
static inline void mock_key(uint8_t key[JC_KEY_LEN], char b64[64])
{
    randombytes_buf(key, JC_KEY_LEN);
    sodium_bin2base64(b64, 64, key, JC_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

/* mock_producer is the coordinator's producer: records go where
 * murmur2(key) says, as the coordinator's relay sends them. */
static inline rd_kafka_t *mock_producer(rd_kafka_mock_cluster_t *mc)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];

    rd_kafka_conf_set(c, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                      sizeof err);
    rd_kafka_conf_set(c, "partitioner", "murmur2_random", err, sizeof err);
    rd_kafka_conf_set(c, "linger.ms", "0", err, sizeof err);
    return rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
}

/* mock_consumer reads every partition of the given topics from the start. */
static inline rd_kafka_t *mock_consumer(rd_kafka_mock_cluster_t *mc, const char *const *topics,
                                        const int *partitions, int n)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    rd_kafka_t *rk;
    char err[256];

    rd_kafka_conf_set(c, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                      sizeof err);
    rd_kafka_conf_set(c, "group.id", "test-coordinator", err, sizeof err);
    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err);
    /* the mock answers an empty fetch only after this long, even when data
     * arrives meanwhile (a real broker answers at once) */
    rd_kafka_conf_set(c, "fetch.wait.max.ms", "10", err, sizeof err);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < partitions[i]; p++)
            rd_kafka_topic_partition_list_add(parts, topics[i], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
}

/* mock_send_kid seals m as principal p with key, under key id kid, and
 * produces it to topic under record key p (partition -1: murmur2), waiting
 * until it is written. 0 on success. */
static inline int mock_send_kid(rd_kafka_t *prod, const char *topic, const char *p,
                                int32_t partition, jc_msg *m, const char *kid,
                                const uint8_t key[JC_KEY_LEN])
{
    msgpack_sbuffer out;
    jc_slice key_id = jc_slice_str(kid);
    char err[256];
    int rc = -1;

    msgpack_sbuffer_init(&out);
    jc_id_random(m->id);
    m->ts_ms = jc_now_ms();
    m->principal = jc_slice_str(p);
    if (jc_msg_seal(m, &key_id, key, &out, err, sizeof err) != JC_OK) {
        fprintf(stderr, "mock_send: %s\n", err);
        goto out;
    }
    if (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(p, strlen(p)),
                          RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                          RD_KAFKA_V_VALUE(out.data, out.size),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) != 0)
        goto out;
    rc = rd_kafka_flush(prod, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
out:
    msgpack_sbuffer_destroy(&out);
    return rc;
}

/* mock_send: mock_send_kid with key id "k1". */
static inline int mock_send(rd_kafka_t *prod, const char *topic, const char *p, int32_t partition,
                            jc_msg *m, const uint8_t key[JC_KEY_LEN])
{
    return mock_send_kid(prod, topic, p, partition, m, "k1", key);
}

/* mock_send_raw produces bytes that are not a message at all. */
static inline int mock_send_raw(rd_kafka_t *prod, const char *topic, const char *key,
                                const void *bytes, size_t len)
{
    if (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE((void *)bytes, len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) != 0)
        return -1;
    return rd_kafka_flush(prod, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

#endif
