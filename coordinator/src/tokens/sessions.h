/*
 * sessions.h - a principal's sessions: its refresh-token families (one per
 * password login, carried on by each refresh), listed and revoked by
 * `jobcoord-admin user sessions|revoke-sessions`, and revoked by POST
 * /v1/me/password (all but the caller's own). Revoking a family revokes
 * its refresh tokens and every access token minted from it that has not
 * expired (family_access_tokens -> revoked_tokens, migration 017), so the
 * session ends at once on every coordinator. In jccore: the admin CLI and
 * the daemon share it.
 */
#ifndef JC_TOKENS_SESSIONS_H
#define JC_TOKENS_SESSIONS_H

#include <stddef.h>

#include <libpq-fe.h>

#include "principals/principals.h"

/* JC_SQL_SESSIONS lists the sessions of principal $1, newest first:
 * family, created (the login), last_used (the latest refresh, else the
 * login), login_address, last_address (of the latest refresh), expires_at
 * (of its newest refresh token) and state (active, expired, revoked, or
 * ended: the principal's sessions were ended since). Times are
 * timestamptz. */
#define JC_SQL_SESSIONS                                                                 \
    "SELECT t.family::text AS family, min(t.created_at) AS created,"                    \
    " max(t.created_at) AS last_used,"                                                  \
    " (array_agg(t.client_address ORDER BY t.created_at))[1] AS login_address,"         \
    " (array_agg(t.client_address ORDER BY t.created_at DESC))[1] AS last_address,"     \
    " max(t.expires_at) AS expires_at,"                                                 \
    " CASE WHEN bool_or(t.revoked_at IS NOT NULL) THEN 'revoked'"                       \
    "      WHEN max(t.generation) <> p.token_generation THEN 'ended'"                   \
    "      WHEN NOT bool_or(t.used_at IS NULL AND t.expires_at > now()) THEN 'expired'" \
    "      ELSE 'active' END AS state"                                                  \
    " FROM refresh_tokens t JOIN principals p ON p.id = t.principal_id"                 \
    " WHERE t.principal_id = $1 GROUP BY t.family, p.token_generation ORDER BY created DESC"

/* jc_sessions_revoke revokes principal's sessions: only family when not
 * NULL (JC_PR_NOT_FOUND when the principal has no such session), else all
 * of them but except (NULL: none). The access tokens of those families
 * are revoked until their expiry plus skew_s. *families gets how many
 * sessions were still active, *tokens how many access tokens were revoked.
 * One statement: runs in the caller's transaction, or on its own. */
jc_pr_status jc_sessions_revoke(PGconn *db, const char *principal, const char *family,
                                const char *except, int skew_s, long *families, long *tokens,
                                char *err, size_t err_size);

#endif
