/*
 * runtime.h - the little state the daemon's threads share. Everything here
 * is an atomic written by one owner; other threads only read it.
 */
#ifndef JC_RUNTIME_H
#define JC_RUNTIME_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

/* What the timestamps of consumed records are: only the broker's own stamp
 * (a topic with message.timestamp.type=LogAppendTime) is trusted. */
enum { JC_RECORD_TIME_UNKNOWN = 0, JC_RECORD_TIME_CREATE = 1, JC_RECORD_TIME_LOG_APPEND = 2 };

typedef struct jc_runtime {
    atomic_int *stop;                    /* set by the signal handler; read by every thread */
    atomic_int_fast64_t caught_up_at_ms; /* ingest: 0 until every assigned partition hit EOF */
    atomic_int assigned_partitions;      /* ingest */
    atomic_uint_fast64_t applied;        /* ingest: messages applied */
    atomic_uint_fast64_t rejected;       /* ingest: messages rejected */
    atomic_uint_fast64_t batches;        /* ingest: transactions committed */
    atomic_int_fast64_t lag_total;       /* ingest: consumer lag summed over partitions */
    atomic_int_fast64_t lag_at_ms;       /* ingest: when lag_total was computed; 0: unknown */
    atomic_int_fast64_t behind_ms;       /* ingest: records unread / rate applied, in ms;
                                            0 when nothing is waiting */
    atomic_uint_fast64_t position_resets; /* ingest: stored positions found to be another log's */
    atomic_uint_fast64_t records_lost;    /* ingest: records that left the log unread */
    atomic_uint_fast64_t assigns_unacked; /* janitor: assigns taken back unacknowledged */
    atomic_int record_time;               /* ingest: the last record's timestamp type,
                                             JC_RECORD_TIME_* */
    atomic_uint_fast64_t answers_queued;  /* ingest: answers to clients queued (answers.c) */
    atomic_uint_fast64_t answers_dropped; /* ingest: answers dropped by their rate bound */
    char instance_id[160];
    int64_t started_at_ms;
} jc_runtime;

#endif
