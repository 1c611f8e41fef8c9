/* rejects.h - counting, logging and dead-lettering rejected messages. */
#ifndef JC_REJECTS_H
#define JC_REJECTS_H

#include <stddef.h>

#include <libpq-fe.h>

#include "ingest/batch.h"
#include "kafka/deadletter.h"
#include "ingest/rejlog.h"

typedef struct jc_rejects {
    jc_deadletter *dl;
    jc_rejlog log; /* the rate limit of rejection log lines */
} jc_rejects;

/* jc_rejects_store adds the rejections of b->msgs[from, to) to the
 * rejections table (one statement). Returns 0 or -1 with errstr. */
int jc_rejects_store(PGconn *db, const jc_batch *b, size_t from, size_t to, char *errstr,
                     size_t errstr_size);

/* jc_rejects_dead_letter logs (rate-limited, see rejlog.h) and copies the
 * range's rejected messages to the dead-letter topic, once each, and waits
 * for the copies. r->log must have been set up with jc_rejlog_init. */
void jc_rejects_dead_letter(jc_rejects *r, jc_batch *b, size_t from, size_t to);

#endif
