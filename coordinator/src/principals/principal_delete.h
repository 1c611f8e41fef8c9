/*
 * principal_delete.h - deleting a principal without orphaning its work: the
 * data layer behind `jobcoord-admin user delete`.
 *
 * A deleted worker can no longer be heard (its messages are rejected as
 * unknown_principal) and no longer has a row for offline detection, so the
 * jobs it holds would stay assigned or running until their lease ends; a
 * deleted client can no longer be told how its jobs ended. Deleting
 * therefore settles them in the same transaction, through the job state
 * machine (jobstate.c, written by jobwrite.c) like every other change of a
 * job:
 *   - jobs the principal holds (assigned, running, canceling) are taken back
 *     as when a worker goes offline: pending again while attempts remain,
 *     else failed; a canceling job ends canceled;
 *   - jobs it submitted that have not ended are canceled (a pending one at
 *     once, one a worker holds through a cancel command to that worker);
 *   - commands still to be sent to it (pending or sent, not acknowledged)
 *     are marked failed, so the relay stops trying;
 * each with a reason naming the operator's action. The principal's row goes
 * last, and its keys, worker row, settings and refresh tokens with it.
 */
#ifndef JC_PRINCIPAL_DELETE_H
#define JC_PRINCIPAL_DELETE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "core/config.h"
#include "principals/principals.h"

#define JC_DELETE_REPORT_JOBS 1000 /* jobs listed one by one; the counts cover all */

typedef struct jc_deleted_job {
    char id[37];
    char from[16]; /* state before */
    char to[16];   /* state after */
    int held;      /* 1: the principal held it (worker); 0: it submitted it */
} jc_deleted_job;

typedef struct jc_delete_report {
    char role[8];
    long held;              /* live jobs it held */
    long submitted;         /* jobs it submitted that had not ended */
    long requeued;          /* held jobs pending again */
    long failed;            /* held jobs failed (no attempts left) */
    long held_canceled;     /* held jobs that were canceling, now canceled */
    long canceled;          /* submitted jobs canceled at once (they were pending) */
    long canceling;         /* submitted jobs whose worker was sent a cancel */
    long commands_canceled; /* commands to it that will not be sent */
    jc_deleted_job *jobs;   /* the first JC_DELETE_REPORT_JOBS, by id */
    size_t n_jobs;
} jc_delete_report;

/* jc_principal_delete deletes principal id in one transaction. Without
 * force it refuses (JC_PR_BUSY, nothing changed, rep counts what it holds
 * and submitted) while the principal holds or submitted live jobs; with
 * force it settles them as described above and reports what it did in rep.
 * cfg gives the retry backoff and the cancel timeout; by names the operator
 * (user@host) in the reasons the settled jobs record. rep is filled in
 * every case; free it with jc_delete_report_free. */
jc_pr_status jc_principal_delete(PGconn *c, const jc_config *cfg, const char *id, int force,
                                 const char *by, jc_delete_report *rep, char *errstr,
                                 size_t errstr_size);

void jc_delete_report_free(jc_delete_report *rep);

#endif
