/*
 * send.h - signing and producing the SDK's own messages (heartbeats, job
 * events, command acks, worker events, job submissions and cancels).
 */
#ifndef JC_SDK_SEND_H
#define JC_SDK_SEND_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "kafka.h"
#include "jcproto/proto.h"

/* jc_sender is what signs and produces: an idempotent producer and the
 * principal's identity. Both are owned by the handle that made it. */
typedef struct jc_sender {
    rd_kafka_t *rk;
    jc_identity *id;
    uint32_t version; /* the protocol version it writes (jc_sender_version) */
} jc_sender;

/* jc_sender_version returns the protocol version the handle configured by
 * conf sends in: protocol.version, else JC_PROTO_VERSION_MAX (PROTOCOL.md
 * section 14: the coordinator answers in the version it last received). */
uint32_t jc_sender_version(const jc_conf_t *conf);

/* jc_clock_next_ms returns the timestamp of the next message this process
 * signs: max(wall clock, previous + 1). Any thread. */
uint64_t jc_clock_next_ms(void);

/* jc_send gives m a fresh message id (unless the caller set a non-zero one),
 * the next timestamp, the sender's protocol version and the sender's
 * principal, seals it with the sender's key and produces it to topic under
 * key (copied). msg_opaque is handed to the delivery report callback. When
 * librdkafka's queue is full it polls and retries for up to a second.
 *
 * Order: the coordinator wants the messages of one record key to carry
 * increasing timestamps in partition order. jc_send takes the timestamp
 * just before producing, so callers that send several messages under one
 * key from several threads must hold a lock of their own across jc_send
 * (jobs.c holds the job's mutex; heartbeats come from one thread). */
jc_err_t jc_send(const jc_sender *s, const char *topic, const char *key, size_t key_len,
                 jc_msg *m, void *msg_opaque, char *errstr, size_t errstr_size);

#endif
