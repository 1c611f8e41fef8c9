/*
 * token_refresh.c - the refresh-token store: the refresh_token grant of
 * POST /v1/token (rotating tokens, stored as BLAKE2b hashes; presenting a
 * used one revokes its whole family and the access tokens minted from it)
 * and revocation, POST /v1/revoke (RFC 7009), of refresh and access tokens.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "principals/passwords.h"
#include "http/http_int.h"
#include "jcproto/jwt.h"
#include "secrets/keyring.h"
#include "core/log.h"
#include "http/token_int.h"
#include "principals/principals.h"
#include "principals/scopes.h"
#include "tokens/access_tokens.h"


/* ---- grant: refresh_token ---- */

enum MHD_Result tok_grant_refresh(jc_req *r, PGconn *db)
{
    const jc_config *cfg = jc_http_config(r->h);
    char tok[128], scope_req[512] = "", scope[512], access[JC_JWT_MAX], jti[40], refresh[128];
    char family[40], sub[JC_HTTP_SUB_MAX + 1], role[16], address[64];
    int64_t gen;
    uint8_t hash[32];
    const char *vals[1];
    int lens[1], fmts[1] = {1};
    PGresult *res;
    int ft, fs;
    enum MHD_Result ret;

    ft = jc_req_form(r, "refresh_token", tok, sizeof tok);
    fs = jc_req_form(r, "scope", scope_req, sizeof scope_req);
    if (ft <= 0 || fs < 0)
        return jc_reply_oauth_error(r, 400, "invalid_request",
                                    "refresh_token is required, once");
    crypto_generichash(hash, sizeof hash, (const uint8_t *)tok, strlen(tok), NULL, 0);
    sodium_memzero(tok, sizeof tok);
    vals[0] = (const char *)hash;
    lens[0] = sizeof hash;
    res = tok_begin_select(db,
                       "SELECT t.family::text, t.principal_id, t.scope, t.used_at IS NOT NULL,"
                       " t.revoked_at IS NOT NULL, t.expires_at <= now(), p.role, p.disabled,"
                       " t.generation <> p.token_generation, p.token_generation"
                       " FROM refresh_tokens t JOIN principals p ON p.id = t.principal_id"
                       " WHERE t.token_hash = $1 FOR UPDATE OF t",
                       vals, lens, fmts);
    if (!res)
        return tok_unavailable(r, NULL);
    if (PQntuples(res) != 1) {
        tok_abandon(db, res);
        jc_req_audit(r, db, NULL, "auth.refresh", NULL, JC_AUDIT_REFUSED, "unknown refresh token");
        return jc_reply_oauth_error(r, 400, "invalid_grant", "unknown refresh token");
    }
    snprintf(family, sizeof family, "%s", PQgetvalue(res, 0, 0));
    snprintf(sub, sizeof sub, "%s", PQgetvalue(res, 0, 1));
    snprintf(role, sizeof role, "%s", PQgetvalue(res, 0, 6));
    if (PQgetvalue(res, 0, 3)[0] == 't') {
        /* reuse of a rotated token: revoke the family and its access tokens */
        char skew[16];
        const char *fv[2] = {family, skew};
        PGresult *rv;
        int revoked;
        snprintf(skew, sizeof skew, "%d", cfg->clock_skew_s);
        PQclear(res);
        rv = PQexecParams(db, tok_revoke_family_sql, 2, NULL, fv, NULL, NULL, 0);
        if (!tok_pg_ok(rv)) {
            tok_abandon(db, rv);
            return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not answering");
        }
        revoked = atoi(PQcmdTuples(rv));
        PQclear(rv);
        rv = PQexec(db, "COMMIT");
        if (!tok_pg_ok(rv))
            return tok_unavailable(r, rv);
        PQclear(rv);
        LOG_WARN("auth",
                 "refresh token of '%s' used twice: family %s revoked with %d access token(s)",
                 sub, family, revoked);
        {
            char detail[160];
            snprintf(detail, sizeof detail,
                     "a rotated refresh token was used again: session %s revoked with %d access"
                     " token(s)",
                     family, revoked);
            jc_req_audit(r, db, sub, "auth.family-revoked", sub, JC_AUDIT_OK, detail);
        }
        return jc_reply_oauth_error(r, 400, "invalid_grant",
                                    "refresh token already used; its family is revoked");
    }
    if (PQgetvalue(res, 0, 8)[0] == 't') { /* issued before the sessions were ended */
        tok_abandon(db, res);
        LOG_INFO("auth", "refresh token of '%s' refused: its sessions were ended", sub);
        jc_req_audit(r, db, sub, "auth.refresh", sub, JC_AUDIT_REFUSED,
                     "the principal's sessions were ended since it was issued");
        return jc_reply_oauth_error(r, 400, "invalid_grant",
                                    "refresh token revoked: the principal's password, role,"
                                    " scopes or state changed since it was issued");
    }
    if (PQgetvalue(res, 0, 4)[0] == 't' || PQgetvalue(res, 0, 5)[0] == 't' ||
        PQgetvalue(res, 0, 7)[0] == 't' || !tok_role_may_login(role)) {
        tok_abandon(db, res);
        jc_req_audit(r, db, sub, "auth.refresh", sub, JC_AUDIT_REFUSED,
                     "refresh token revoked or expired, or the principal disabled");
        return jc_reply_oauth_error(r, 400, "invalid_grant",
                                    "refresh token revoked or expired");
    }
    gen = strtoll(PQgetvalue(res, 0, 9), NULL, 10);
    {
        /* narrowing only: the requested scope must be within the granted one */
        char granted[600], stored[500];
        snprintf(stored, sizeof stored, "%s", PQgetvalue(res, 0, 2));
        if (!stored[0]) { /* issued before scopes were enforced: the role's defaults */
            tok_effective_pg(role, "", granted, sizeof granted);
            snprintf(stored, sizeof stored, "%.*s", (int)strlen(granted) - 2, granted + 1);
            for (char *p = stored; *p; p++)
                if (*p == ',')
                    *p = ' ';
        }
        snprintf(granted, sizeof granted, "{%s}", stored);
        for (char *p = granted; *p; p++)
            if (*p == ' ')
                *p = ',';
        if (tok_grant_scope(granted, scope_req, scope, sizeof scope) < 0) {
            tok_abandon(db, res);
            return jc_reply_oauth_error(r, 400, "invalid_scope",
                                        "a requested scope was not granted");
        }
        if (!scope_req[0])
            snprintf(scope, sizeof scope, "%.500s", stored);
    }
    PQclear(res);
    PQclear(PQexecParams(db, "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1", 1,
                         NULL, vals, lens, fmts, 0));
    jc_req_address(r, address, sizeof address);
    if (tok_issue_refresh(db, cfg, family, sub, scope, gen, address, refresh, sizeof refresh) < 0) {
        tok_exec(db, "ROLLBACK");
        return jc_reply_error(r, 503, "unavailable", "cannot store the refresh token");
    }
    if (tok_mint_and_commit(r, db, sub, role, scope, gen, family, access, sizeof access, jti, "refresh",
                        &ret) < 0)
        return ret;
    {
        char detail[96];
        snprintf(detail, sizeof detail, "session (refresh-token family) %s", family);
        jc_req_audit(r, db, sub, "auth.refresh", sub, JC_AUDIT_OK, detail);
    }
    ret = tok_answer(r, access, cfg->access_ttl_s, scope, refresh);
    sodium_memzero(refresh, sizeof refresh);
    return ret;
}


/* ---- revocation (RFC 7009) ---- */

enum MHD_Result jc_http_revoke(jc_req *r)
{
    const jc_config *cfg = jc_http_config(r->h);
    char tok[JC_JWT_MAX + 1], hint[32] = "";
    int ft = jc_req_form(r, "token", tok, sizeof tok);
    int fh = jc_req_form(r, "token_type_hint", hint, sizeof hint);
    char client[JC_HTTP_SUB_MAX + 1] = "", role[16], scopes[1024], probe[8];
    int64_t gen;
    PGconn *db;
    enum MHD_Result ret;
    static const char empty[] = "{}\n";

    if (ft < 0 || fh < 0 || ft == 0)
        return jc_reply_oauth_error(r, 400, "invalid_request", "token is required, once");
    db = jc_http_db(r->h);
    if (!db)
        return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
    if (jc_req_form(r, "client_assertion", probe, sizeof probe) != 0 &&
        tok_client_auth(r, db, client, sizeof client, role, sizeof role, scopes, sizeof scopes, &gen,
                    &ret) < 0)
        return ret;
    if (strncmp(tok, REFRESH_PREFIX, strlen(REFRESH_PREFIX)) == 0) {
        uint8_t hash[32];
        const char *vals[2] = {(const char *)hash, client};
        int lens[2] = {sizeof hash, (int)strlen(client)}, fmts[2] = {1, 0};
        PGresult *res;
        crypto_generichash(hash, sizeof hash, (const uint8_t *)tok, strlen(tok), NULL, 0);
        res = PQexecParams(db,
                           "SELECT family::text, principal_id FROM refresh_tokens"
                           " WHERE token_hash = $1"
                           " AND ($2 = '' OR principal_id = $2)",
                           2, NULL, vals, lens, fmts, 0);
        if (!tok_pg_ok(res))
            return tok_unavailable(r, res);
        if (PQntuples(res) == 1) {
            char family[40], skew[16], owner[JC_HTTP_SUB_MAX + 1], detail[120];
            const char *fv[2] = {family, skew};
            snprintf(family, sizeof family, "%s", PQgetvalue(res, 0, 0));
            snprintf(owner, sizeof owner, "%s", PQgetvalue(res, 0, 1));
            snprintf(skew, sizeof skew, "%d", cfg->clock_skew_s);
            PQclear(res);
            res = PQexecParams(db, tok_revoke_family_sql, 2, NULL, fv, NULL, NULL, 0);
            if (!tok_pg_ok(res))
                return tok_unavailable(r, res);
            LOG_INFO("auth", "refresh token family %s revoked with %s access token(s)", family,
                     PQcmdTuples(res));
            snprintf(detail, sizeof detail,
                     "refresh token: session %s revoked with %s access token(s)", family,
                     PQcmdTuples(res));
            jc_req_audit(r, db, client[0] ? client : owner, "auth.revoke", owner, JC_AUDIT_OK,
                         detail);
        }
        PQclear(res);
    } else {
        jc_token_claims cl;
        char why[160];
        jc_signkeys_refresh(jc_http_signkeys(r->h), db, 0);
        if (jc_token_verify(jc_http_signkeys(r->h), jc_http_issuer(r->h), cfg->token_audience,
                            cfg->clock_skew_s, tok, strlen(tok), &cl, why, sizeof why) == 0 &&
            (!client[0] || strcmp(client, cl.sub) == 0)) {
            char exp[24];
            const char *vals[3] = {cl.jti, cl.sub, exp};
            PGresult *res;
            snprintf(exp, sizeof exp, "%lld", (long long)(cl.exp + cfg->clock_skew_s));
            res = PQexecParams(db,
                               "INSERT INTO revoked_tokens (jti, principal_id, expires_at)"
                               " VALUES ($1, $2, to_timestamp($3::bigint))"
                               " ON CONFLICT DO NOTHING",
                               3, NULL, vals, NULL, NULL, 0);
            if (!tok_pg_ok(res))
                return tok_unavailable(r, res);
            PQclear(res);
            LOG_INFO("auth", "access token %s of '%s' revoked", cl.jti, cl.sub);
            {
                char detail[120];
                snprintf(detail, sizeof detail, "access token %s", cl.jti);
                jc_req_audit(r, db, client[0] ? client : cl.sub, "auth.revoke", cl.sub, JC_AUDIT_OK,
                             detail);
            }
        }
    }
    sodium_memzero(tok, sizeof tok);
    return jc_reply(r, 200, "application/json", empty, sizeof empty - 1);
}
