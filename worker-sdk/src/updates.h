/*
 * updates.h - what a client knows of its jobs: the latest job update of
 * each (bounded in count and bytes), and the idempotency key each of its
 * submissions carried.
 */
#ifndef JC_SDK_UPDATES_H
#define JC_SDK_UPDATES_H

#include <stddef.h>
#include <stdint.h>

#include "jcproto/proto.h"

typedef struct jc_updates jc_updates;

/* jc_update_view is a final state found by jc_updates_final. Its pointers
 * belong to the table and stay valid until the table changes. */
typedef struct jc_update_view {
    const uint8_t *job; /* the job the update is about (another one than asked
                         * for when a repeated idempotency key answered) */
    const char *state;  /* "refused" when the coordinator refused the submission:
                         * error then holds "<reason>: <text>" */
    const uint8_t *result; /* NULL when none */
    size_t result_len;
    const char *error; /* "" when none */
    const char *reason; /* the cancel reason (protocol version 2); "" when none */
} jc_update_view;

/* jc_updates_new makes a table of at most max_jobs jobs whose results,
 * errors and keys take at most max_bytes; past either, the jobs heard of
 * least recently are forgotten. NULL when out of memory. */
jc_updates *jc_updates_new(uint32_t max_jobs, size_t max_bytes);

/* jc_updates_submitted notes that job was submitted with ikey (NULL for
 * none), so that an update for another job that carries the same ikey
 * answers a wait for this one, in the message req: a refusal of that
 * message answers a wait for job. */
jc_err_t jc_updates_submitted(jc_updates *t, const uint8_t job[JC_ID_LEN], const char *ikey,
                              const uint8_t req[JC_ID_LEN]);

/* jc_updates_cancel_sent notes that job's cancel was sent in message req:
 * what answers it is a refusal of req, or an update putting the job in
 * canceling or canceled (jc_updates_cancel_answer). */
jc_err_t jc_updates_cancel_sent(jc_updates *t, const uint8_t job[JC_ID_LEN],
                                const uint8_t req[JC_ID_LEN]);

/* jc_updates_refused records a verified refusal; one whose "req" is not the
 * latest submission or cancel of its job noted here is ignored. */
jc_err_t jc_updates_refused(jc_updates *t, const jc_job_refusal *r);

/* jc_updates_cancel_answer says what answered the latest cancel of job:
 * 1 accepted (state gets the job's state, 16 bytes), 2 refused (*refusal
 * points to "<reason>: <text>", valid until the table changes), 0 nothing
 * yet, -1 no cancel of job was noted. */
int jc_updates_cancel_answer(jc_updates *t, const uint8_t job[JC_ID_LEN], char state[16],
                             const char **refusal);

/* jc_updates_put records a verified update (copying what it keeps). */
jc_err_t jc_updates_put(jc_updates *t, const jc_job_update *u);

/* jc_updates_final finds a final state (succeeded, failed, canceled) of job
 * or, when job was submitted with an idempotency key, of any job whose
 * update carried that key; or the refusal of job's submission (state
 * "refused"). 1 and *out filled, or 0. */
int jc_updates_final(jc_updates *t, const uint8_t job[JC_ID_LEN], jc_update_view *out);

/* jc_updates_latest finds the latest update of job itself, final or not
 * (no idempotency key followed, refusals aside). 1 and *out filled, or 0. */
int jc_updates_latest(jc_updates *t, const uint8_t job[JC_ID_LEN], jc_update_view *out);

/* jc_updates_count returns how many jobs the table holds. */
uint32_t jc_updates_count(const jc_updates *t);

/* jc_updates_destroy frees t. NULL allowed. */
void jc_updates_destroy(jc_updates *t);

#endif
