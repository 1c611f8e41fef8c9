/*
 * deadletter.h - copies rejected messages, with the reason, to the
 * dead-letter topic (prefix + "rejected"). The value is the original bytes;
 * headers jc-reason, jc-detail, jc-topic, jc-partition, jc-offset say why
 * and where from. Owned by the ingest thread.
 *
 * Delivery is at least once: copies are flushed before the batch that
 * rejected them commits, so a crash between the two can copy a message
 * twice but never lose a copy of a message whose offset was stored.
 */
#ifndef JC_DEADLETTER_H
#define JC_DEADLETTER_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "core/config.h"

typedef struct jc_deadletter jc_deadletter;

jc_deadletter *jc_deadletter_new(const jc_config *cfg, const char *brokers, char *errstr,
                                 size_t errstr_size);

/* jc_deadletter_send queues a copy of m. Returns 0, or -1 if it could not
 * even be queued (the caller counts it as lost). */
int jc_deadletter_send(jc_deadletter *dl, const rd_kafka_message_t *m, const char *reason,
                       const char *detail);

/* jc_deadletter_flush waits up to timeout_ms for every queued copy; returns
 * the number of copies that failed or did not complete in time. */
int jc_deadletter_flush(jc_deadletter *dl, int timeout_ms);

void jc_deadletter_free(jc_deadletter *dl);

#endif
