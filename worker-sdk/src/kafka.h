/*
 * kafka.h - what every SDK handle needs from its conf: a librdkafka producer
 * configuration and the topic prefix (the principal's identity and keys:
 * identity.h).
 */
#ifndef JC_SDK_KAFKA_H
#define JC_SDK_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "identity.h"
#include "jobcoord/jobcoord.h"
#include "jcproto/proto.h"


/* jc_sdk_kafka_conf builds a librdkafka configuration: every "kafka.*" key,
 * and bootstrap.servers from bootstrap.file when not given directly. */
jc_err_t jc_sdk_kafka_conf(const jc_conf_t *conf, rd_kafka_conf_t **out, char *errstr,
                           size_t errstr_size);

/* jc_sdk_producer makes the idempotent producer every SDK handle signs
 * through: the conf's kafka.* keys, murmur2 partitioning (PROTOCOL.md
 * section 2) unless kafka.partitioner is set, the given linger.ms, delivery
 * reports to dr_cb with opaque. NULL with errstr on failure. Destroy it
 * with jc_sdk_kafka_destroy. */
rd_kafka_t *jc_sdk_producer(const jc_conf_t *conf, const char *linger_ms, void *opaque,
                            void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                            char *errstr, size_t errstr_size);

/* jc_sdk_kafka_new creates a librdkafka handle from rconf, which it always
 * consumes. opaque goes to dr_cb (producers; may be NULL): use it instead
 * of rd_kafka_opaque(), which belongs to kafka.c. When rconf asks for
 * SASL/OAUTHBEARER (sasl.mechanism OAUTHBEARER, not sasl.oauthbearer.method
 * oidc nor the unsecured test tokens), a token source made from conf's
 * token.* keys answers librdkafka's token refresh callback, on librdkafka's
 * background thread (so it fires however the handle is polled). NULL with
 * errstr on failure. Destroy the handle with jc_sdk_kafka_destroy. */
rd_kafka_t *jc_sdk_kafka_new(rd_kafka_type_t type, const jc_conf_t *conf, rd_kafka_conf_t *rconf,
                             void *opaque,
                             void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                             char *errstr, size_t errstr_size);

/* jc_sdk_kafka_destroy destroys a handle made by jc_sdk_kafka_new or
 * jc_sdk_producer, then what kafka.c attached to it. NULL allowed. */
void jc_sdk_kafka_destroy(rd_kafka_t *rk);

/* jc_sdk_kafka_oauth_counts tells how many tokens the refresh callback of
 * rk handed to librdkafka, and how many refreshes failed (for tests). */
void jc_sdk_kafka_oauth_counts(rd_kafka_t *rk, uint64_t *set, uint64_t *failed);

/* jc_sdk_topic writes topic.prefix (default "jobcoord.") + name into out. */
void jc_sdk_topic(const jc_conf_t *conf, const char *name, char *out, size_t out_size);

#endif
