/* rejects.h - counting, logging and dead-lettering rejected messages. */
#ifndef JC_REJECTS_H
#define JC_REJECTS_H

#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "batch.h"
#include "deadletter.h"

typedef struct jc_rejects {
    jc_deadletter *dl;
    time_t log_second; /* the rate limit of rejection log lines */
    int logged_this_second;
    unsigned suppressed;
} jc_rejects;

/* jc_rejects_store adds the rejections of b->msgs[from, to) to the
 * rejections table (one statement). Returns 0 or -1 with errstr. */
int jc_rejects_store(PGconn *db, const jc_batch *b, size_t from, size_t to, char *errstr,
                     size_t errstr_size);

/* jc_rejects_dead_letter logs and copies the range's rejected messages to
 * the dead-letter topic, once each, and waits for the copies. */
void jc_rejects_dead_letter(jc_rejects *r, jc_batch *b, size_t from, size_t to);

#endif
