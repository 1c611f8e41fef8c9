/*
 * batch.h - one ingest batch: the Kafka messages polled together, what the
 * checks made of each, and the verdict. A message keeps its
 * rd_kafka_message_t alive until the batch is done, because decoded slices
 * point into its payload.
 */
#ifndef JC_BATCH_H
#define JC_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "principals/hmac_keycache.h"
#include "jcproto/proto.h"
#include "jcproto/reasons.h"

typedef struct jc_inmsg {
    rd_kafka_message_t *rkm;
    int topic;            /* index into the ingest's topic table */
    /* Time. record_ts_ms is the record's timestamp as Kafka gives it (-1:
     * none); it is the broker's clock only when the topic stamps records
     * (LogAppendTime, ts_trusted), otherwise the producer chose it. at_ms is
     * the time the record is judged by (key validity, heartbeat bounds): the
     * broker's timestamp when trusted, else the time ingest received it. */
    int64_t record_ts_ms;
    int64_t at_ms;
    int ts_trusted;
    jc_envelope env;
    jc_msg msg;
    int decoded;         /* msg holds a decoded payload to release */
    const char *reason;  /* NULL: accepted (so far) */
    char detail[200];
    int dead_lettered;   /* copy already queued */
    const jc_key_entry *signer;
    /* authenticated: the MAC verified with a key of the signer the
     * coordinator knows and the payload decoded (msg is valid), even when
     * the message was then rejected (a rotated-out key, a disabled
     * principal, a role that may not send it...): a refused job.submit or
     * job.cancel is answered only then (answers.c). */
    int authenticated;
    /* An accepted request answered with a job.update (answers.c): the job
     * it reports (another one than the request named when a repeated
     * idempotency key answered), its state and attempt. answer == 0: none. */
    int answer;
    char answer_job[37];
    char answer_state[16];
    int answer_attempt;
} jc_inmsg;

typedef struct jc_batch {
    jc_inmsg *msgs;
    size_t n, cap;
} jc_batch;

/* jc_inmsg_reject marks m rejected with a stable reason and a detail; the
 * detail is sanitized to printable ASCII (it may quote network bytes). */
void jc_inmsg_reject(jc_inmsg *m, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
