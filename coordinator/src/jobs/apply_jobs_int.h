/*
 * apply_jobs_int.h - what the job-message apply files share (apply_jobs.c,
 * apply_submits.c, apply_acks.c). Private to them.
 */
#ifndef JC_JOBS_APPLY_JOBS_INT_H
#define JC_JOBS_APPLY_JOBS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/buf.h"
#include "ingest/apply.h"
#include "ingest/batch.h"
#include "jobs/jobwrite.h"

#define SUBMIT_CHUNK 1000
#define SUBMIT_COLS 11
#define ARRAY_MAX (256u << 20)

/* An assignment a worker refused (command.ack ok:false), to be requeued. */
typedef struct refused {
    uint8_t job[JC_ID_LEN];
    int attempt;
    char worker[JC_MAX_PRINCIPAL_LEN + 1];
    char error[JC_MAX_TEXT_LEN + 1]; /* the worker's reason; "" when it gave none */
} refused;

static inline int accepted(const jc_inmsg *m, jc_msg_type t) { return !m->reason && m->msg.type == t; }

static inline void add_id(jc_buf *b, const uint8_t id[JC_ID_LEN])
{
    char t[37];
    jc_id_format(id, t);
    jc_buf_add_array_elem(b, t, 36);
}


// same_message tells whether two accepted messages have the same signer
// and message id (an exact replay carries both).
static inline int same_message(const jc_inmsg *x, const jc_inmsg *y)
{
    return memcmp(x->msg.id, y->msg.id, JC_ID_LEN) == 0 &&
           x->msg.principal.n == y->msg.principal.n &&
           memcmp(x->msg.principal.p, y->msg.principal.p, x->msg.principal.n) == 0;
}

int aj_apply_submits(PGconn *db, jc_jobwrite *jw, jc_batch *b, size_t from, size_t to,
                         int *schedule, char *errstr, size_t errstr_size);
/* aj_apply_worker_events stores the range's worker events, once each: a copy
 * of a message earlier in the range, or of one already stored (the unique
 * (worker_id, msg_id) index), is rejected as a replay. */
int aj_apply_worker_events(PGconn *db, jc_batch *b, size_t from, size_t to, char *errstr,
                               size_t errstr_size);
/* aj_apply_acks marks acknowledged commands. A refused assignment's job is
 * added to ids (to be loaded) and to *out (to be requeued; caller frees). */
int aj_apply_acks(PGconn *db, jc_batch *b, size_t from, size_t to, jc_buf *ids,
                      refused **out, size_t *n_out, char *errstr, size_t errstr_size);
/* aj_implied_acks marks the assign commands named by job events' "cmd". */
int aj_implied_acks(PGconn *db, jc_buf *ids, jc_buf *recipients, char *errstr,
                        size_t errstr_size);

#endif
