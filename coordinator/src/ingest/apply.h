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

#include "ingest/batch.h"

/* jc_apply_heartbeats records every accepted heartbeat and upserts the
 * workers' rows. Returns the number applied, or -1 with errstr. */
int jc_apply_heartbeats(PGconn *db, jc_batch *b, size_t from, size_t to, char *errstr,
                        size_t errstr_size);

/* jc_apply_jobs applies the accepted job submissions and cancels, job
 * events, command acks and worker events of b->msgs[from, to), and
 * reconciles the running-job lists of the newest heartbeat of each worker.
 * Changes go through jw (flushed here). *schedule is set when capacity or
 * pending work may have changed. Returns 0, or -1 with errstr. */
struct jc_jobwrite;
int jc_apply_jobs(PGconn *db, struct jc_jobwrite *jw, jc_batch *b, size_t from, size_t to,
                  int *schedule, char *errstr, size_t errstr_size);

/* jc_reconcile compares the running lists of the heartbeats b->msgs[hbs[k]]
 * (the newest of each worker) with the jobs their workers hold, once the
 * batch's job events are applied in jw (which must hold, locked, every
 * listed job and every live job of those workers): held running jobs
 * missing for jobs.reconcile_grace_ms are taken back, listed attempts the
 * worker does not hold are answered with a cancel (bounded). Returns 0, or
 * -1 with errstr. */
int jc_reconcile(PGconn *db, struct jc_jobwrite *jw, jc_batch *b, const size_t *hbs,
                 size_t n_hbs, char *errstr, size_t errstr_size);

/* jc_schedule assigns pending jobs whose time has come to online,
 * non-draining workers with the capability and free slots (counted from the
 * jobs they hold), by priority then age, at most max; FOR UPDATE SKIP LOCKED
 * on workers and jobs, so several coordinators can schedule at once. The
 * changes are recorded in jw (flushed here). *assigned gets the count. */
int jc_schedule(PGconn *db, struct jc_jobwrite *jw, int max, int *assigned, char *errstr,
                size_t errstr_size);

#endif
