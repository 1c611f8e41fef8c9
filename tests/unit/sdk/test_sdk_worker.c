/*
 * test_sdk_worker: a worker handle against librdkafka's mock cluster: its
 * heartbeats arrive on the heartbeats topic, keyed by the worker, and verify
 * and decode with the worker's key, with the configured capabilities and
 * slots, strictly increasing timestamps and sequence numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobcoord/jobcoord.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sodium.h>

#include "check.h"
#include "jcproto/proto.h"

int main(void)
{
    char err[512], key_b64[64];
    uint8_t key[JC_KEY_LEN];
    rd_kafka_conf_t *hc = rd_kafka_conf_new(), *cc = rd_kafka_conf_new();
    rd_kafka_t *host, *consumer;
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_topic_partition_list_t *parts;
    jc_conf_t *conf = jc_conf_new();
    jc_worker_t *w;
    uint64_t last_ts = 0, last_seq = 0;
    int seen = 0;

    CHECK(sodium_init() >= 0);
    rd_kafka_conf_set(hc, "log_level", "3", err, sizeof err);
    host = rd_kafka_new(RD_KAFKA_PRODUCER, hc, err, sizeof err);
    mc = rd_kafka_mock_cluster_new(host, 1);
    CHECK(mc != NULL);
    rd_kafka_mock_topic_create(mc, "t.heartbeats", 1, 1);

    randombytes_buf(key, sizeof key);
    sodium_bin2base64(key_b64, sizeof key_b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    jc_conf_set(conf, "principal", "worker-7", err, sizeof err);
    jc_conf_set(conf, "key.id", "k7", err, sizeof err);
    jc_conf_set(conf, "key", key_b64, err, sizeof err);
    jc_conf_set(conf, "kafka.bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                sizeof err);
    jc_conf_set(conf, "topic.prefix", "t.", err, sizeof err);
    jc_conf_set(conf, "capabilities", "transcode, ocr", err, sizeof err);
    jc_conf_set(conf, "slots", "3", err, sizeof err);
    jc_conf_set(conf, "heartbeat.interval.ms", "100", err, sizeof err);
    jc_conf_set(conf, "host", "testhost", err, sizeof err);
    /* a worker for a coordinator of protocol version 1 (the default is 2:
     * test_sdk_client) */
    CHECK_EQ_INT(jc_conf_set(conf, "protocol.version", "3", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(conf, "protocol.version", "0", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(conf, "protocol.version", "1", err, sizeof err), JC_OK);
    w = jc_worker_new(conf, err, sizeof err);
    CHECK_MSG(w != NULL, "jc_worker_new: %s", err);
    if (!w)
        return check_done("test_sdk_worker");
    CHECK_EQ_INT(jc_worker_start(w, err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_worker_start(w, err, sizeof err), JC_ERR_STATE);
    for (int i = 0; i < 50 && jc_worker_heartbeats_sent(w) < 5; i++)
        usleep(100000);
    CHECK(jc_worker_heartbeats_sent(w) >= 5);
    CHECK_EQ_INT(jc_worker_stop(w, 5000), JC_OK);

    rd_kafka_conf_set(cc, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                      sizeof err);
    rd_kafka_conf_set(cc, "group.id", "test", err, sizeof err);
    consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, "t.heartbeats", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    for (int i = 0; i < 100 && seen < 5; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
        jc_envelope env;
        jc_msg msg;
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        CHECK(m->key_len == 8 && memcmp(m->key, "worker-7", 8) == 0);
        CHECK_EQ_INT(jc_envelope_parse(m->payload, m->len, JC_MAX_MESSAGE_BYTES, &env, err,
                                       sizeof err), JC_OK);
        CHECK_EQ_INT(jc_envelope_verify(&env, key), JC_OK);
        CHECK(jc_slice_eq(env.key_id, "k7"));
        CHECK_EQ_INT(env.version, 1); /* protocol.version = 1 */
        memset(&msg, 0, sizeof msg);
        CHECK_EQ_INT(jc_msg_decode(&env, &msg, err, sizeof err), JC_OK);
        CHECK_EQ_INT(msg.type, JC_MSG_HEARTBEAT);
        CHECK(jc_slice_eq(msg.principal, "worker-7"));
        CHECK_EQ_INT(msg.u.hb.n_caps, 2);
        if (msg.u.hb.n_caps == 2) {
            CHECK(jc_slice_eq(msg.u.hb.caps[0], "transcode"));
            CHECK(jc_slice_eq(msg.u.hb.caps[1], "ocr"));
        }
        CHECK_EQ_INT(msg.u.hb.slots, 3);
        CHECK(jc_slice_eq(msg.u.hb.host, "testhost"));
        CHECK(jc_slice_eq(msg.u.hb.version, JC_VERSION_STR));
        CHECK(msg.ts_ms > last_ts);
        CHECK(msg.u.hb.seq == last_seq + 1);
        last_ts = msg.ts_ms;
        last_seq = msg.u.hb.seq;
        jc_msg_release(&msg);
        rd_kafka_message_destroy(m);
        seen++;
    }
    CHECK_EQ_INT(seen, 5);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    jc_worker_destroy(w);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    return check_done("test_sdk_worker");
}
