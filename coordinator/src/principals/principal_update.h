/*
 * principal_update.h - changing a principal in place: the data layer behind
 * `jobcoord-admin user update`.
 *
 * Unlike deleting and adding it again, an update keeps the principal's HMAC
 * keys (nothing new to hand over) and its worker record (its settings,
 * history and first-seen time). What changes:
 *   - the description: a note for operators, nothing else changes;
 *   - the role and/or scopes: what it may do, so its sessions end in the
 *     same statement (principal_change.h: every access and refresh token
 *     issued before stops working).
 * A worker that leaves the worker role keeps its worker record, marked
 * offline, so that no scheduler offers it a job (a record returns to online
 * only through a heartbeat, which ingest applies only for a principal whose
 * role is worker). While it holds live jobs (assigned, running, canceling)
 * leaving the role is refused (JC_PR_BUSY, nothing changed) unless force:
 * then the jobs are taken back through the job state machine in the same
 * transaction, as when a worker goes offline (jobwrite.h).
 */
#ifndef JC_PRINCIPAL_UPDATE_H
#define JC_PRINCIPAL_UPDATE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "core/config.h"
#include "principals/principals.h"

#define JC_PRINCIPAL_DESCRIPTION_MAX 256 /* bytes of UTF-8 (024_principal_fleet.sql) */

typedef struct jc_update_request {
    const char *role;        /* NULL: keep */
    const char *scopes;      /* NULL: keep; "": none (the role's defaults apply) */
    const char *description; /* NULL: keep */
    int force;               /* take back the jobs of a worker leaving the role */
} jc_update_request;

typedef struct jc_update_report {
    char role[8];                    /* after */
    char old_role[8];                /* before */
    char *scopes;                    /* after, comma-separated (caller frees) */
    int sessions_ended;              /* role or scopes changed */
    int left_worker;                 /* the worker record was kept and marked offline */
    long held;                       /* live jobs it held when leaving the worker role */
    long requeued, failed, canceled; /* what became of them (force) */
} jc_update_report;

/* jc_principal_description_valid tells whether s may be a description:
 * valid UTF-8 of at most JC_PRINCIPAL_DESCRIPTION_MAX bytes without control
 * characters. */
int jc_principal_description_valid(const char *s);

/* jc_principal_update applies req to principal id in one transaction and
 * fills rep (free rep->scopes in every case). Refusals: JC_PR_INVALID (bad
 * id, role, scopes or description), JC_PR_NOT_FOUND, JC_PR_BUSY (a worker
 * holding live jobs leaving the role without force); errstr says why. cfg
 * gives the retry backoff of the jobs taken back. */
jc_pr_status jc_principal_update(PGconn *c, const jc_config *cfg, const char *id,
                                 const jc_update_request *req, jc_update_report *rep, char *errstr,
                                 size_t errstr_size);

#endif
