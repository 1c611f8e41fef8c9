/*
 * ingest.h - the ingest loop: consume, check, apply, store offsets, all in
 * one PostgreSQL transaction per batch. It owns its consumer, its database
 * connection, the key cache and the dead-letter producer; it runs on the
 * thread that calls jc_ingest_run.
 */
#ifndef JC_INGEST_H
#define JC_INGEST_H

#include <stddef.h>

#include "core/config.h"
#include "secrets/keyring.h"
#include "core/runtime.h"

typedef struct jc_ingest jc_ingest;

/* jc_ingest_new connects to PostgreSQL and Kafka (brokers) and subscribes.
 * NULL with errstr on failure. kr and rt must outlive the ingest. */
jc_ingest *jc_ingest_new(const jc_config *cfg, const char *brokers, const jc_keyring *kr,
                         jc_runtime *rt, char *errstr, size_t errstr_size);

/* jc_ingest_log_is_new tells ingest that the cluster was created empty by
 * this process (the embedded cluster): a position stored by an earlier
 * process points into a log that no longer exists, whatever the cluster's
 * id says (the embedded cluster's id is not guaranteed to change). */
void jc_ingest_log_is_new(jc_ingest *ig);

/* jc_ingest_run loops until *rt->stop, finishing the batch in hand first,
 * then leaves the consumer group. Returns 0 on a clean stop. */
int jc_ingest_run(jc_ingest *ig);

void jc_ingest_free(jc_ingest *ig);

#endif
