/*
 * inbox.h - reading the one partition of a coordinator-to-principal topic
 * (commands for a worker, job-updates for a client) that the principal's id
 * hashes to, and verifying what arrives there.
 */
#ifndef JC_SDK_INBOX_H
#define JC_SDK_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "kafka.h"
#include "jcproto/partition.h"
#include "jcproto/proto.h"

typedef enum jc_inbox_start {
    /* The committed offset of the consumer group, else the end; offsets are
     * committed automatically (a worker's commands). */
    JC_INBOX_FROM_STORED,
    /* The end of the partition when jc_inbox_assign runs; nothing is
     * committed (a client's job updates: it waits only for jobs it submits
     * after it started). */
    JC_INBOX_FROM_END
} jc_inbox_start;

typedef struct jc_inbox jc_inbox;

/* jc_inbox_new creates the consumer (group id group_prefix + principal) for
 * topic. Nothing is assigned until jc_inbox_assign. id must outlive the
 * inbox. */
jc_inbox *jc_inbox_new(const jc_conf_t *conf, const jc_identity *id, const char *topic,
                       jc_inbox_start start, const char *group_prefix, char *errstr,
                       size_t errstr_size);

/* jc_inbox_assign learns the topic's partition count from the brokers (up
 * to timeout_ms) and assigns the principal's partition; when the count
 * changed since the last call it moves to the new partition. */
jc_err_t jc_inbox_assign(jc_inbox *ib, int timeout_ms, char *errstr, size_t errstr_size);

/* jc_inbox_assigned returns 1 once a partition is assigned. */
int jc_inbox_assigned(const jc_inbox *ib);

/* jc_inbox_poll returns the next record (the caller destroys it with
 * rd_kafka_message_destroy), or NULL after timeout_ms. Consumer errors are
 * swallowed (librdkafka retries by itself). */
rd_kafka_message_t *jc_inbox_poll(jc_inbox *ib, int timeout_ms);

/* jc_inbox_open verifies a record as PROTOCOL.md section 5.2 asks of a
 * worker or client: envelope, "p" is our id, MAC with the held key that
 * "k" names (identity.h: after a rotation, the new or the previous one),
 * payload decode, type (want; JC_MSG_NONE: any). On success the caller releases m
 * (its slices point into rec, which must outlive it). */
jc_err_t jc_inbox_open(jc_identity *id, const rd_kafka_message_t *rec, jc_msg_type want,
                       jc_msg *m, char *errstr, size_t errstr_size);

/* jc_inbox_destroy closes the consumer (committing for JC_INBOX_FROM_STORED)
 * and frees it. NULL allowed. */
void jc_inbox_destroy(jc_inbox *ib);

#endif
