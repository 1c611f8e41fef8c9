/*
 * apply.h - the set-based SQL that applies a batch's accepted messages,
 * inside the ingest transaction. Each function handles the messages of its
 * type in b->msgs[from, to) that are still accepted, may reject some (replay
 * checks need the database), and never commits. One statement per kind of
 * effect per batch, never a round trip per message.
 */
#ifndef JC_APPLY_H
#define JC_APPLY_H

#include <stddef.h>

#include <libpq-fe.h>

#include "batch.h"

/* jc_apply_heartbeats records every accepted heartbeat and upserts the
 * workers' rows. Returns the number applied, or -1 with errstr. */
int jc_apply_heartbeats(PGconn *db, jc_batch *b, size_t from, size_t to, char *errstr,
                        size_t errstr_size);

#endif
