/*
 * token_common.c - what the grants of the token endpoint share (see
 * token_int.h): their transaction, minting and committing an access token,
 * the RFC 6749 answer, scope computation and storing a refresh token.
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


int tok_pg_ok(PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);
    return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

void tok_exec(PGconn *db, const char *sql)
{
    PQclear(PQexec(db, sql));
}

/* tok_unavailable clears res (NULL: nothing to clear) and answers 503 for a
 * failed statement. */
enum MHD_Result tok_unavailable(jc_req *r, PGresult *res)
{
    PQclear(res);
    return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not answering");
}

/* tok_abandon clears res and rolls back the grant's transaction. */
void tok_abandon(PGconn *db, PGresult *res)
{
    PQclear(res);
    tok_exec(db, "ROLLBACK");
}

/* tok_begin_select starts the grant's transaction and runs sql, a SELECT of one
 * parameter locking its rows. Returns its rows, or NULL when PostgreSQL
 * failed (rolled back). */
PGresult *tok_begin_select(PGconn *db, const char *sql, const char *const *vals,
                              const int *lens, const int *fmts)
{
    PGresult *res;

    tok_exec(db, "BEGIN");
    res = PQexecParams(db, sql, 1, NULL, vals, lens, fmts, 0);
    if (!tok_pg_ok(res)) {
        tok_abandon(db, res);
        return NULL;
    }
    return res;
}

/* tok_revoke_family_sql revokes refresh-token family $1 and every access token
 * minted from it that has not expired ($2: tokens.clock_skew_s, as the
 * expiry revoked_tokens keeps them until). Runs in the caller's
 * transaction; one statement, so both happen or neither. */
const char tok_revoke_family_sql[] =
    "WITH f AS (UPDATE refresh_tokens SET revoked_at = now()"
    "           WHERE family = $1::uuid AND revoked_at IS NULL RETURNING 1)"
    " INSERT INTO revoked_tokens (jti, principal_id, expires_at)"
    " SELECT jti, principal_id, expires_at + make_interval(secs => $2::int)"
    " FROM family_access_tokens WHERE family = $1::uuid AND expires_at > now()"
    " ON CONFLICT DO NOTHING";

/* tok_mint_and_commit mints the access token of sub (role, scope, token
 * generation gen) into access (jti gets its id), records it as a token of
 * refresh-token family (when not NULL) so that revoking the family revokes
 * it, commits the grant's transaction and marks the caller authenticated.
 * Returns 0; or -1 after answering 503 (*ret): no signing key (rolled
 * back), or COMMIT refused ("PostgreSQL refused the <what>"). */
int tok_mint_and_commit(jc_req *r, PGconn *db, const char *sub, const char *role,
                           const char *scope, int64_t gen, const char *family, char *access,
                           size_t access_size, char *jti, const char *what, enum MHD_Result *ret)
{
    const jc_config *cfg = jc_http_config(r->h);
    PGresult *res;
    int64_t exp;
    int ok;

    if (jc_token_mint(jc_http_signkeys(r->h), jc_http_issuer(r->h), cfg->token_audience, sub, role,
                      scope, gen, cfg->access_ttl_s, access, access_size, jti, &exp) < 0) {
        tok_exec(db, "ROLLBACK");
        *ret = jc_reply_error(r, 503, "unavailable", "no signing key is loaded");
        return -1;
    }
    if (family) {
        char exp_s[24];
        const char *vals[4] = {jti, family, sub, exp_s};
        snprintf(exp_s, sizeof exp_s, "%lld", (long long)exp);
        res = PQexecParams(db,
                           "INSERT INTO family_access_tokens (jti, family, principal_id,"
                           " expires_at) VALUES ($1, $2::uuid, $3, to_timestamp($4::bigint))",
                           4, NULL, vals, NULL, NULL, 0);
        ok = tok_pg_ok(res);
        PQclear(res);
        if (!ok) {
            tok_exec(db, "ROLLBACK");
            *ret = jc_reply_error(r, 503, "unavailable", "PostgreSQL refused the %s", what);
            return -1;
        }
    }
    res = PQexec(db, "COMMIT");
    ok = tok_pg_ok(res);
    PQclear(res);
    if (!ok) {
        *ret = jc_reply_error(r, 503, "unavailable", "PostgreSQL refused the %s", what);
        return -1;
    }
    r->caller.authenticated = 1;
    snprintf(r->caller.sub, sizeof r->caller.sub, "%s", sub);
    return 0;
}

/* tok_answer writes the RFC 6749 5.1 success answer, by hand on a buffer
 * it wipes after sending: jansson would leave copies of the tokens in
 * memory it frees without wiping (json_out.h). */
enum MHD_Result tok_answer(jc_req *r, const char *access, int ttl, const char *scope,
                                    const char *refresh)
{
    jc_buf b;
    enum MHD_Result ret;
    jc_buf_init(&b, 16384);
    jc_buf_addstr(&b, "{\"access_token\":");
    jc_json_str(&b, access);
    jc_buf_printf(&b, ",\"token_type\":\"Bearer\",\"expires_in\":%d,\"scope\":", ttl);
    jc_json_str(&b, scope);
    if (refresh) {
        jc_buf_addstr(&b, ",\"refresh_token\":");
        jc_json_str(&b, refresh);
    }
    jc_buf_addstr(&b, "}\n");
    ret = jc_reply_json(r, 200, &b);
    sodium_memzero(b.data, b.cap);
    jc_buf_free(&b);
    return ret;
}

/* tok_grant_scope computes the scope to grant: the principal's scopes (a
 * PostgreSQL text[] literal) when nothing is requested, else the requested
 * space-separated scopes, each of which must be among them (or the
 * principal has "*"). Returns 0, -1 when a requested scope is not allowed. */
int tok_grant_scope(const char *allowed_pg, const char *requested, char *out, size_t out_size)
{
    char allowed[1024];
    char req[512];
    char *save = NULL, *tok;
    size_t o = 0;
    int all;

    /* {a,b,c} -> " a b c " for whole-word lookups (scopes never need quoting) */
    snprintf(allowed, sizeof allowed, " %s ", allowed_pg[0] == '{' ? allowed_pg + 1 : allowed_pg);
    for (char *p = allowed; *p; p++)
        if (*p == ',' || *p == '}' || *p == '"')
            *p = ' ';
    all = strstr(allowed, " * ") != NULL;
    out[0] = '\0';
    if (!requested || !requested[0]) {
        char *p = allowed;
        while (*p == ' ')
            p++;
        o = strlen(p);
        if (o >= out_size)
            return -1; /* never grant a truncated scope */
        memcpy(out, p, o + 1);
        while (o && out[o - 1] == ' ')
            out[--o] = '\0';
        for (char *q = out; *q; q++) /* collapse spaces */
            if (q[0] == ' ' && q[1] == ' ')
                memmove(q, q + 1, strlen(q));
        return 0;
    }
    snprintf(req, sizeof req, "%s", requested);
    for (tok = strtok_r(req, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char word[600];
        snprintf(word, sizeof word, " %s ", tok);
        if (!all && !strstr(allowed, word))
            return -1;
        if (o + strlen(tok) + 2 >= out_size)
            return -1;
        o += (size_t)snprintf(out + o, out_size - o, "%s%s", o ? " " : "", tok);
    }
    return 0;
}

/* tok_effective_pg writes the scopes a principal of role with stored scopes
 * (comma-separated, optionally in braces: a text[] literal; empty: the
 * role's defaults) holds, as a text[] literal for tok_grant_scope. Returns
 * their mask (0: none usable). */
unsigned tok_effective_pg(const char *role, const char *stored, char *out, size_t out_size)
{
    char list[1024], names[512];
    unsigned mask;
    size_t n;

    snprintf(list, sizeof list, "%s", stored[0] == '{' ? stored + 1 : stored);
    n = strlen(list);
    if (n && list[n - 1] == '}')
        list[n - 1] = '\0';
    mask = jc_scopes_effective(role, list);
    jc_scopes_names(mask, ',', names, sizeof names);
    snprintf(out, out_size, "{%s}", names);
    return mask;
}

int tok_role_may_login(const char *role)
{
    return strcmp(role, "admin") == 0 || strcmp(role, "reader") == 0;
}

/* tok_issue_refresh stores a new refresh token of family (a uuid text) for
 * the principal's token generation gen and writes it to out. Runs inside the caller's transaction. */
int tok_issue_refresh(PGconn *db, const jc_config *cfg, const char *family, const char *sub,
                      const char *scope, int64_t gen, const char *address, char *out,
                      size_t out_size)
{
    uint8_t raw[32], hash[32];
    char ttl[16], gentext[24];
    const char *vals[7];
    int lens[7] = {0}, fmts[7] = {0};
    PGresult *res;
    int ok;

    randombytes_buf(raw, sizeof raw);
    memcpy(out, REFRESH_PREFIX, sizeof REFRESH_PREFIX);
    if (jc_b64url_encode(raw, sizeof raw, out + strlen(REFRESH_PREFIX),
                         out_size - strlen(REFRESH_PREFIX)) < 0)
        return -1;
    sodium_memzero(raw, sizeof raw);
    crypto_generichash(hash, sizeof hash, (const uint8_t *)out, strlen(out), NULL, 0);
    snprintf(ttl, sizeof ttl, "%d", cfg->refresh_ttl_s);
    vals[0] = (const char *)hash;
    lens[0] = sizeof hash;
    fmts[0] = 1;
    vals[1] = family;
    vals[2] = sub;
    vals[3] = scope;
    vals[4] = ttl;
    snprintf(gentext, sizeof gentext, "%lld", (long long)gen);
    vals[5] = gentext;
    vals[6] = address && address[0] ? address : NULL;
    res = PQexecParams(db,
                       "INSERT INTO refresh_tokens (token_hash, family, principal_id, scope,"
                       " expires_at, generation, client_address) VALUES ($1, $2::uuid, $3, $4,"
                       " now() + make_interval(secs => $5::int), $6::bigint, $7)",
                       7, NULL, vals, lens, fmts, 0);
    ok = tok_pg_ok(res);
    PQclear(res);
    return ok ? 0 : -1;
}
