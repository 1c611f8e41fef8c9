/*
 * principal_change.h - changing what a principal is allowed to do (role,
 * scopes, disabled) and ending its sessions: the data layer behind
 * `jobcoord-admin user set|disable|enable|end-sessions`.
 *
 * Access and refresh tokens say who their holder is and what it may do, so
 * every change of the password, the role, the scopes or the disabled flag
 * ends the principal's sessions in the same statement: its
 * token_generation (schemas/sql/012_principal_sessions.sql) takes a new
 * value, and every token carrying the old one is refused from then on, by
 * bearer verification and by the refresh grant (http_token.c), on every
 * coordinator instance at once (both ask PostgreSQL). Messages signed with
 * the principal's HMAC keys are judged by ingest with the role, scopes and
 * disabled flag it caches for ingest.key_cache_ttl_ms.
 */
#ifndef JC_PRINCIPAL_CHANGE_H
#define JC_PRINCIPAL_CHANGE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "principals/principals.h"

/* JC_SQL_END_SESSIONS is the SET list of an UPDATE of principals that ends
 * the sessions of the rows it changes; why is a SQL string literal. */
#define JC_SQL_END_SESSIONS(why)                                                  \
    "token_generation = nextval('principal_token_generation'),"                   \
    " sessions_ended_at = now(), sessions_ended_why = " why

/* jc_principal_set_access changes id's role (role NULL: keep it) and scopes
 * (scopes NULL: keep them; "": none, so the role's defaults apply) in one
 * transaction, and ends its sessions. Leaving the worker role is refused
 * (JC_PR_BUSY) while it holds live jobs, and otherwise removes its worker
 * record, so that the scheduler no longer offers it jobs. */
jc_pr_status jc_principal_set_access(PGconn *c, const char *id, const char *role,
                                     const char *scopes, char *errstr, size_t errstr_size);

/* jc_principal_set_disabled disables (ending its sessions) or enables id.
 * *changed tells whether the flag changed. */
jc_pr_status jc_principal_set_disabled(PGconn *c, const char *id, int disabled, int *changed,
                                       char *errstr, size_t errstr_size);

/* jc_principal_end_sessions ends id's sessions (every access and refresh
 * token issued to it so far stops working); why is recorded. */
jc_pr_status jc_principal_end_sessions(PGconn *c, const char *id, const char *why, char *errstr,
                                       size_t errstr_size);

#endif
