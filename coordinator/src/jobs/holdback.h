/*
 * holdback.h - workers that do not acknowledge their assigns are held back.
 *
 * A worker can heartbeat (its messages verify) and still not act on its
 * commands: it cannot verify them (a key it does not hold), it reads the
 * wrong partition, it is broken. Each assign then times out
 * (jobs.assign_timeout_ms), the job is requeued and often given straight
 * back to the same worker, and every round burns one of the job's attempts.
 * So the janitor counts, per worker, the assigns in a row that timed out
 * without any answer (workers.unacked_assigns); at
 * jobs.unacked_assign_limit the worker is held back (held_back_since): the
 * scheduler stops choosing it, a warning is logged, and the status API,
 * `jobcoord-admin worker list/show` and the jobcoord_workers_held_back
 * gauge show it. Anything that shows the worker hears its commands again
 * releases it: a command.ack or a job event (ingest, below), a new key
 * proven (reply_key.c), a restart or a return from offline (heartbeats).
 */
#ifndef JC_HOLDBACK_H
#define JC_HOLDBACK_H

#include <stddef.h>

#include <libpq-fe.h>

#include "ingest/batch.h"
#include "core/buf.h"
#include "core/runtime.h"

/* jc_holdback_release clears the count of every worker that sent an
 * accepted command.ack or job.event in b->msgs[from, to), inside the
 * ingest transaction; one statement, and only rows with something to clear
 * are written. Logs the workers it releases. 0, or -1 with errstr. */
int jc_holdback_release(PGconn *db, const jc_batch *b, size_t from, size_t to, char *errstr,
                        size_t errstr_size);

/* jc_holdback_note counts timed-out assigns: jobs, attempts and workers are
 * array literals being built ("{..." without the closing brace) of the
 * assigned jobs the janitor just took back that had no job event for the
 * attempt. Those whose assign command was not acknowledged either are
 * added to their worker's count; a worker reaching limit (> 0) is held
 * back and logged. Inside the caller's transaction. 0, or -1 with errstr. */
int jc_holdback_note(PGconn *db, jc_buf *jobs, jc_buf *attempts, jc_buf *workers, int limit,
                     jc_runtime *rt, char *errstr, size_t errstr_size);

#endif
