/*
 * kafka.h - what every SDK handle needs from its conf: a librdkafka producer
 * configuration, the principal's identity and key, the topic prefix.
 */
#ifndef JC_SDK_KAFKA_H
#define JC_SDK_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "jobcoord/jobcoord.h"
#include "proto.h"

typedef struct jc_identity {
    char principal[JC_MAX_PRINCIPAL_LEN + 1];
    char key_id[JC_MAX_KEY_ID_LEN + 1];
    uint8_t key[JC_KEY_LEN];
} jc_identity;

/* jc_sdk_identity reads principal, key.id and key or key.file from conf. */
jc_err_t jc_sdk_identity(const jc_conf_t *conf, jc_identity *id, char *errstr,
                         size_t errstr_size);

/* jc_sdk_kafka_conf builds a librdkafka configuration: every "kafka.*" key,
 * and bootstrap.servers from bootstrap.file when not given directly. */
jc_err_t jc_sdk_kafka_conf(const jc_conf_t *conf, rd_kafka_conf_t **out, char *errstr,
                           size_t errstr_size);

/* jc_sdk_producer makes the idempotent producer every SDK handle signs
 * through: the conf's kafka.* keys, murmur2 partitioning (PROTOCOL.md
 * section 2) unless kafka.partitioner is set, the given linger.ms, delivery
 * reports to dr_cb with opaque. NULL with errstr on failure. */
rd_kafka_t *jc_sdk_producer(const jc_conf_t *conf, const char *linger_ms, void *opaque,
                            void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                            char *errstr, size_t errstr_size);

/* jc_sdk_topic writes topic.prefix (default "jobcoord.") + name into out. */
void jc_sdk_topic(const jc_conf_t *conf, const char *name, char *out, size_t out_size);

#endif
