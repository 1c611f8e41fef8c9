/*
 * http_bearer.c - bearer authentication of every route but the token
 * endpoints: the access token verified, its principal still enabled with the
 * same role and token generation, its jti not revoked, and the route's scope
 * in its scopes (the caller's own routes, /v1/me..., need none).
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


/* ---- bearer authentication ---- */

int jc_req_authenticate(jc_req *r, enum MHD_Result *ret)
{
    const jc_config *cfg = jc_http_config(r->h);
    const char *auth = jc_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    jc_token_claims cl;
    char why[160];
    PGconn *db;
    PGresult *res;
    const char *vals[3];
    char gen[24];
    int ok;

    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !auth[7]) {
        *ret = jc_reply_error(r, 401, "unauthorized", "a bearer token is required");
        return -1;
    }
    db = jc_http_db(r->h);
    if (!db) {
        *ret = jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
        return -1;
    }
    jc_signkeys_refresh(jc_http_signkeys(r->h), db, 0);
    if (jc_token_verify(jc_http_signkeys(r->h), jc_http_issuer(r->h), cfg->token_audience,
                        cfg->clock_skew_s, auth + 7, strlen(auth + 7), &cl, why,
                        sizeof why) != 0) {
        *ret = jc_reply_error(r, 401, "unauthorized", "invalid token: %s", why);
        return -1;
    }
    snprintf(gen, sizeof gen, "%lld", (long long)cl.gen);
    vals[0] = cl.sub;
    vals[1] = cl.jti;
    vals[2] = gen;
    /* the token generation: a token issued before the principal's sessions
     * were ended (password, role, scopes, disabled) no longer matches */
    res = PQexecParams(db,
                       "SELECT p.role, p.disabled,"
                       " EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2),"
                       " p.token_generation = $3::bigint"
                       " FROM principals p WHERE p.id = $1",
                       3, NULL, vals, NULL, NULL, 0);
    if (!tok_pg_ok(res)) {
        *ret = tok_unavailable(r, res);
        return -1;
    }
    ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), cl.role) == 0 &&
         PQgetvalue(res, 0, 1)[0] == 'f' && PQgetvalue(res, 0, 2)[0] == 'f' &&
         PQgetvalue(res, 0, 3)[0] == 't';
    PQclear(res);
    if (!ok) {
        *ret = jc_reply_error(r, 401, "unauthorized",
                              "invalid token: revoked, its principal is gone or disabled, or"
                              " its sessions were ended (password, role or scopes changed)");
        return -1;
    }
    {
        /* the route's scope (scopes.c) must be in the token; a token
         * without scopes predates their enforcement: its role's defaults */
        int s = jc_scope_of_route(r->route);
        unsigned have = cl.scope[0] ? jc_scopes_effective(cl.role, cl.scope)
                                    : jc_scopes_of_role(cl.role);
        /* the caller's own routes (http_me.c) need no scope: who it is,
         * its own password and second factor */
        int own = r->route && strncmp(r->route, "/v1/me", 6) == 0;
        if (!own && (s < 0 || !(have & (1u << s)))) {
            *ret = jc_reply_error(r, 403, "forbidden", "the token lacks scope '%s', needed for %s",
                                  s < 0 ? "?" : jc_scope_get(s)->name,
                                  r->route ? r->route : r->path);
            return -1;
        }
    }
    r->caller.authenticated = 1;
    snprintf(r->caller.sub, sizeof r->caller.sub, "%s", cl.sub);
    snprintf(r->caller.role, sizeof r->caller.role, "%s", cl.role);
    snprintf(r->caller.scope, sizeof r->caller.scope, "%s", cl.scope);
    snprintf(r->caller.jti, sizeof r->caller.jti, "%s", cl.jti);
    r->caller.exp = cl.exp;
    return 0;
}
