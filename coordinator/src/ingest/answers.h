/*
 * answers.h - answers to clients' requests (PROTOCOL.md section 7.9): a
 * refused job.submit or job.cancel whose signer is authenticated is answered
 * with a job.refusal, an accepted request that asks for one with a
 * job.update; both are queued in the outbox inside the ingest transaction,
 * rate-bounded per principal (see answers.c).
 */
#ifndef JC_ANSWERS_H
#define JC_ANSWERS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ingest/batch.h"
#include "core/config.h"

#define JC_SUBMIT_DIGEST_LEN 32

/* jc_submit_digest is the BLAKE2b-256 of what a submission asks for (type,
 * payload and every option as sent). Two submissions of one job id with the
 * same digest are the same request repeated. */
void jc_submit_digest(const jc_job_submit *s, uint8_t out[JC_SUBMIT_DIGEST_LEN]);

/* jc_answer_set marks m, an accepted request, as answered with a job.update
 * reporting job (UUID text) in state at attempt. */
void jc_answer_set(jc_inmsg *m, const char *job, const char *state, int attempt);

/* jc_answers_queue inserts into the outbox the answers of b->msgs[from, to):
 * a job.refusal for each rejected, authenticated job.submit or job.cancel,
 * a job.update for each accepted message marked by jc_answer_set. The
 * same answer (reason or state) per (principal, job, request type) at most
 * once, and at most cfg->answers_max answers per principal, within
 * cfg->answers_interval_s; the rest are dropped. One statement; the caller owns the transaction. *queued and *dropped get the
 * counts. Returns 0, or -1 with errstr. */
int jc_answers_queue(PGconn *db, const jc_config *cfg, const jc_batch *b, size_t from, size_t to,
                     size_t *queued, size_t *dropped, char *errstr, size_t errstr_size);

#endif
