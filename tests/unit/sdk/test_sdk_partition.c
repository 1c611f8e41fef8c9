/*
 * test_sdk_partition: the SDK's murmur2 partitioner (which partition of
 * commands or job-updates a principal reads) against Kafka's Java test
 * vectors and against librdkafka's own murmur2_random partitioner, the one
 * the coordinator produces with.
 */
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <sodium.h>

#include "check.h"
#include "inbox.h"

int main(void)
{
    /* org.apache.kafka.common.utils.UtilsTest#testMurmur2 */
    static const struct {
        const char *key;
        int32_t hash;
    } java[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char err[256];
    uint8_t key[128];

    CHECK(sodium_init() >= 0);
    for (size_t i = 0; i < sizeof java / sizeof java[0]; i++)
        CHECK_EQ_INT((int32_t)jc_murmur2(java[i].key, strlen(java[i].key)), java[i].hash);

    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    CHECK(rk != NULL);
    if (!rk)
        return check_done("test_sdk_partition");
    rkt = rd_kafka_topic_new(rk, "t.commands", NULL);
    for (int32_t cnt = 1; cnt <= 64; cnt++) {
        int mismatches = 0;
        for (size_t len = 0; len <= sizeof key; len++) {
            randombytes_buf(key, len);
            if (jc_murmur2_partition(key, len, cnt) !=
                rd_kafka_msg_partitioner_murmur2_random(rkt, key, len, cnt, NULL, NULL))
                mismatches++;
        }
        CHECK_EQ_INT(mismatches, 0);
    }
    CHECK_EQ_INT(jc_murmur2_partition("worker-1", 8, 0), -1);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return check_done("test_sdk_partition");
}
