/*
 * http_token.c - the token endpoint (POST /v1/token), revocation
 * (POST /v1/revoke, RFC 7009) and bearer authentication of the other routes.
 *
 * Grants (RFC 6749; answers and errors in its section 5 form):
 *   client_credentials  the principal authenticates with a JWT it signs
 *                       HS256 with its HMAC key (client_secret_jwt, RFC 7523
 *                       section 2.2); each assertion's jti is stored until
 *                       it expires, so it is accepted once, on any instance.
 *   password            admins and readers: Argon2id hash, lockout after
 *                       auth.login_max_failures for auth.lockout_s, TOTP
 *                       when enabled. Unknown users, wrong passwords and
 *                       locked accounts cost the same hash and get the same
 *                       answer. Hashes run on auth.max_concurrent_hashes
 *                       threads of their own (64 MiB each), never on the
 *                       HTTP threads, after a queue of auth.max_queued_logins
 *                       (jc_req_defer; full: 503).
 *   refresh_token       rotating refresh tokens, stored as BLAKE2b hashes;
 *                       presenting a used one (or revoking one) revokes its
 *                       whole family and the access tokens minted from it
 *                       (family_access_tokens -> revoked_tokens).
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
#include "principals/principals.h"
#include "principals/scopes.h"
#include "tokens/access_tokens.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define REFRESH_PREFIX "jcr_"
#define GENERIC_LOGIN_ERROR "invalid username or password"

/* ---- helpers ---- */

static int pg_ok(PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);
    return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

static void exec_simple(PGconn *db, const char *sql)
{
    PQclear(PQexec(db, sql));
}

/* not_answering clears res (NULL: nothing to clear) and answers 503 for a
 * failed statement. */
static enum MHD_Result not_answering(jc_req *r, PGresult *res)
{
    PQclear(res);
    return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not answering");
}

/* abandon clears res and rolls back the grant's transaction. */
static void abandon(PGconn *db, PGresult *res)
{
    PQclear(res);
    exec_simple(db, "ROLLBACK");
}

/* begin_select starts the grant's transaction and runs sql, a SELECT of one
 * parameter locking its rows. Returns its rows, or NULL when PostgreSQL
 * failed (rolled back). */
static PGresult *begin_select(PGconn *db, const char *sql, const char *const *vals,
                              const int *lens, const int *fmts)
{
    PGresult *res;

    exec_simple(db, "BEGIN");
    res = PQexecParams(db, sql, 1, NULL, vals, lens, fmts, 0);
    if (!pg_ok(res)) {
        abandon(db, res);
        return NULL;
    }
    return res;
}

/* revoke_family_sql revokes refresh-token family $1 and every access token
 * minted from it that has not expired ($2: tokens.clock_skew_s, as the
 * expiry revoked_tokens keeps them until). Runs in the caller's
 * transaction; one statement, so both happen or neither. */
static const char revoke_family_sql[] =
    "WITH f AS (UPDATE refresh_tokens SET revoked_at = now()"
    "           WHERE family = $1::uuid AND revoked_at IS NULL RETURNING 1)"
    " INSERT INTO revoked_tokens (jti, principal_id, expires_at)"
    " SELECT jti, principal_id, expires_at + make_interval(secs => $2::int)"
    " FROM family_access_tokens WHERE family = $1::uuid AND expires_at > now()"
    " ON CONFLICT DO NOTHING";

/* mint_and_commit mints the access token of sub (role, scope, token
 * generation gen) into access (jti gets its id), records it as a token of
 * refresh-token family (when not NULL) so that revoking the family revokes
 * it, commits the grant's transaction and marks the caller authenticated.
 * Returns 0; or -1 after answering 503 (*ret): no signing key (rolled
 * back), or COMMIT refused ("PostgreSQL refused the <what>"). */
static int mint_and_commit(jc_req *r, PGconn *db, const char *sub, const char *role,
                           const char *scope, int64_t gen, const char *family, char *access,
                           size_t access_size, char *jti, const char *what, enum MHD_Result *ret)
{
    const jc_config *cfg = jc_http_config(r->h);
    PGresult *res;
    int64_t exp;
    int ok;

    if (jc_token_mint(jc_http_signkeys(r->h), jc_http_issuer(r->h), cfg->token_audience, sub, role,
                      scope, gen, cfg->access_ttl_s, access, access_size, jti, &exp) < 0) {
        exec_simple(db, "ROLLBACK");
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
        ok = pg_ok(res);
        PQclear(res);
        if (!ok) {
            exec_simple(db, "ROLLBACK");
            *ret = jc_reply_error(r, 503, "unavailable", "PostgreSQL refused the %s", what);
            return -1;
        }
    }
    res = PQexec(db, "COMMIT");
    ok = pg_ok(res);
    PQclear(res);
    if (!ok) {
        *ret = jc_reply_error(r, 503, "unavailable", "PostgreSQL refused the %s", what);
        return -1;
    }
    r->caller.authenticated = 1;
    snprintf(r->caller.sub, sizeof r->caller.sub, "%s", sub);
    return 0;
}

/* token_answer writes the RFC 6749 5.1 success answer. */
static enum MHD_Result token_answer(jc_req *r, const char *access, int ttl, const char *scope,
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

/* grant_scope computes the scope to grant: the principal's scopes (a
 * PostgreSQL text[] literal) when nothing is requested, else the requested
 * space-separated scopes, each of which must be among them (or the
 * principal has "*"). Returns 0, -1 when a requested scope is not allowed. */
static int grant_scope(const char *allowed_pg, const char *requested, char *out, size_t out_size)
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

/* effective_pg writes the scopes a principal of role with stored scopes
 * (comma-separated, optionally in braces: a text[] literal; empty: the
 * role's defaults) holds, as a text[] literal for grant_scope. Returns
 * their mask (0: none usable). */
static unsigned effective_pg(const char *role, const char *stored, char *out, size_t out_size)
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

static int role_may_login(const char *role)
{
    return strcmp(role, "admin") == 0 || strcmp(role, "reader") == 0;
}

/* issue_refresh stores a new refresh token of family (a uuid text) for
 * the principal's token generation gen and writes it to out. Runs inside the caller's transaction. */
static int issue_refresh(PGconn *db, const jc_config *cfg, const char *family, const char *sub,
                         const char *scope, int64_t gen, char *out, size_t out_size)
{
    uint8_t raw[32], hash[32];
    char ttl[16], gentext[24];
    const char *vals[6];
    int lens[6] = {0}, fmts[6] = {0};
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
    res = PQexecParams(db,
                       "INSERT INTO refresh_tokens (token_hash, family, principal_id, scope,"
                       " expires_at, generation) VALUES ($1, $2::uuid, $3, $4,"
                       " now() + make_interval(secs => $5::int), $6::bigint)",
                       6, NULL, vals, lens, fmts, 0);
    ok = pg_ok(res);
    PQclear(res);
    return ok ? 0 : -1;
}

/* ---- grant: password ---- */

static enum MHD_Result grant_password(jc_req *r, PGconn *db)
{
    const jc_config *cfg = jc_http_config(r->h);
    char user[JC_HTTP_SUB_MAX + 1], pw[JC_PASSWORD_MAX + 1], totp[16] = "", scope_req[512] = "";
    char scope[512], access[JC_JWT_MAX], jti[40], refresh[128], eff[600], family[37];
    const char *vals[4];
    PGresult *res = NULL;
    int fu, fp, ft, fs, n, ok = 0, locked = 0, known = 0, need_totp = 0;
    int64_t matched = 0;
    enum MHD_Result ret;

    fu = jc_req_form(r, "username", user, sizeof user);
    fp = jc_req_form(r, "password", pw, sizeof pw);
    ft = jc_req_form(r, "totp", totp, sizeof totp);
    fs = jc_req_form(r, "scope", scope_req, sizeof scope_req);
    if (fu < 0 || fp < 0 || ft < 0 || fs < 0 || fu == 0 || fp == 0) {
        sodium_memzero(pw, sizeof pw);
        return jc_reply_oauth_error(r, 400, "invalid_request",
                                    "username and password are required, once each");
    }
    vals[0] = user;
    res = begin_select(db,
                       "SELECT role, disabled, password_hash, locked_until > now(),"
                       " totp_enabled, encode(totp_secret, 'hex'), totp_enc_key_id,"
                       " totp_last_step, array_to_string(scopes, ','), token_generation"
                       " FROM principals WHERE id = $1 FOR UPDATE",
                       vals, NULL, NULL);
    if (!res) {
        sodium_memzero(pw, sizeof pw);
        return not_answering(r, NULL);
    }
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 2) && PQgetvalue(res, 0, 1)[0] == 'f' &&
        role_may_login(PQgetvalue(res, 0, 0)))
        known = 1;
    /* the same hash work whatever the case */
    ok = jc_password_check(known ? PQgetvalue(res, 0, 2) : NULL, pw) == 0;
    sodium_memzero(pw, sizeof pw);
    if (known)
        locked = PQgetvalue(res, 0, 3)[0] == 't';
    if (known && ok && !locked && PQgetvalue(res, 0, 4)[0] == 't') {
        uint8_t sealed[256], secret[JC_TOTP_SECRET_LEN];
        size_t hexlen = strlen(PQgetvalue(res, 0, 5));
        size_t slen = 0;
        need_totp = 1;
        if (!totp[0]) {
            abandon(db, res);
            LOG_INFO("auth", "login of '%s': TOTP code missing", user);
            return jc_reply_oauth_error(r, 400, "invalid_grant", "a TOTP code is required");
        }
        if (hexlen / 2 > sizeof sealed ||
            sodium_hex2bin(sealed, sizeof sealed, PQgetvalue(res, 0, 5), hexlen, NULL, &slen,
                           NULL) != 0 ||
            jc_totp_secret_open(jc_http_keyring(r->h), user, sealed, slen,
                                PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6),
                                secret) != 0) {
            LOG_ERROR("auth", "TOTP secret of '%s' cannot be opened (keys file?)", user);
            ok = 0;
        } else {
            ok = jc_totp_check(secret, sizeof secret, totp, (int64_t)time(NULL), 1,
                               strtoll(PQgetvalue(res, 0, 7), NULL, 10), &matched) == 0;
        }
        sodium_memzero(secret, sizeof secret);
    }
    if (!known || locked || !ok) {
        if (known && !locked) {
            char maxf[16], lock_s[16];
            const char *v2[3] = {user, maxf, lock_s};
            snprintf(maxf, sizeof maxf, "%d", cfg->login_max_failures);
            snprintf(lock_s, sizeof lock_s, "%d", cfg->lockout_s);
            PQclear(PQexecParams(
                db,
                "UPDATE principals SET"
                " locked_until = CASE WHEN failed_logins + 1 >= $2::int"
                "   THEN now() + make_interval(secs => $3::int) ELSE locked_until END,"
                " failed_logins = CASE WHEN failed_logins + 1 >= $2::int THEN 0"
                "   ELSE failed_logins + 1 END"
                " WHERE id = $1",
                3, NULL, v2, NULL, NULL, 0));
        }
        PQclear(res);
        exec_simple(db, "COMMIT");
        LOG_INFO("auth", "login of '%s' refused (%s)", user,
                 !known ? "unknown, disabled, no password or role" : locked ? "account locked"
                 : need_totp ? "wrong password or TOTP code" : "wrong password");
        return jc_reply_oauth_error(r, 400, "invalid_grant", GENERIC_LOGIN_ERROR);
    }
    if (!effective_pg(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 8), eff, sizeof eff) ||
        grant_scope(eff, scope_req, scope, sizeof scope) < 0) {
        abandon(db, res);
        return jc_reply_oauth_error(r, 400, "invalid_scope", "a requested scope is not granted");
    }
    {
        char step[24];
        const char *v2[2] = {user, step};
        uint8_t fam[16];
        snprintf(step, sizeof step, "%lld", (long long)matched);
        PQclear(PQexecParams(db,
                             "UPDATE principals SET failed_logins = 0, locked_until = NULL,"
                             " totp_last_step = greatest(totp_last_step, $2::bigint)"
                             " WHERE id = $1",
                             2, NULL, v2, NULL, NULL, 0));
        randombytes_buf(fam, sizeof fam);
        fam[6] = (uint8_t)((fam[6] & 0x0f) | 0x40);
        fam[8] = (uint8_t)((fam[8] & 0x3f) | 0x80);
        snprintf(family, sizeof family,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", fam[0],
                 fam[1], fam[2], fam[3], fam[4], fam[5], fam[6], fam[7], fam[8], fam[9], fam[10],
                 fam[11], fam[12], fam[13], fam[14], fam[15]);
        if (issue_refresh(db, cfg, family, user, scope, strtoll(PQgetvalue(res, 0, 9), NULL, 10),
                          refresh, sizeof refresh) < 0) {
            abandon(db, res);
            return jc_reply_error(r, 503, "unavailable", "cannot store the refresh token");
        }
    }
    n = mint_and_commit(r, db, user, PQgetvalue(res, 0, 0), scope,
                        strtoll(PQgetvalue(res, 0, 9), NULL, 10), family, access, sizeof access,
                        jti, "login", &ret);
    PQclear(res);
    if (n < 0)
        return ret;
    LOG_INFO("auth", "'%s' logged in with a password (token %s)", user, jti);
    ret = token_answer(r, access, cfg->access_ttl_s, scope, refresh);
    sodium_memzero(refresh, sizeof refresh);
    return ret;
}

/* grant_password_deferred is the password grant as it runs on a hashing
 * thread (jc_req_defer), with that thread's own PostgreSQL connection. */
static enum MHD_Result grant_password_deferred(jc_req *r)
{
    PGconn *db = jc_http_db(r->h);
    if (!db)
        return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
    jc_signkeys_refresh(jc_http_signkeys(r->h), db, 0);
    return grant_password(r, db);
}

/* ---- grant: refresh_token ---- */

static enum MHD_Result grant_refresh(jc_req *r, PGconn *db)
{
    const jc_config *cfg = jc_http_config(r->h);
    char tok[128], scope_req[512] = "", scope[512], access[JC_JWT_MAX], jti[40], refresh[128];
    char family[40], sub[JC_HTTP_SUB_MAX + 1], role[16];
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
    res = begin_select(db,
                       "SELECT t.family::text, t.principal_id, t.scope, t.used_at IS NOT NULL,"
                       " t.revoked_at IS NOT NULL, t.expires_at <= now(), p.role, p.disabled,"
                       " t.generation <> p.token_generation, p.token_generation"
                       " FROM refresh_tokens t JOIN principals p ON p.id = t.principal_id"
                       " WHERE t.token_hash = $1 FOR UPDATE OF t",
                       vals, lens, fmts);
    if (!res)
        return not_answering(r, NULL);
    if (PQntuples(res) != 1) {
        abandon(db, res);
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
        rv = PQexecParams(db, revoke_family_sql, 2, NULL, fv, NULL, NULL, 0);
        if (!pg_ok(rv)) {
            abandon(db, rv);
            return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not answering");
        }
        revoked = atoi(PQcmdTuples(rv));
        PQclear(rv);
        rv = PQexec(db, "COMMIT");
        if (!pg_ok(rv))
            return not_answering(r, rv);
        PQclear(rv);
        LOG_WARN("auth",
                 "refresh token of '%s' used twice: family %s revoked with %d access token(s)",
                 sub, family, revoked);
        return jc_reply_oauth_error(r, 400, "invalid_grant",
                                    "refresh token already used; its family is revoked");
    }
    if (PQgetvalue(res, 0, 8)[0] == 't') { /* issued before the sessions were ended */
        abandon(db, res);
        LOG_INFO("auth", "refresh token of '%s' refused: its sessions were ended", sub);
        return jc_reply_oauth_error(r, 400, "invalid_grant",
                                    "refresh token revoked: the principal's password, role,"
                                    " scopes or state changed since it was issued");
    }
    if (PQgetvalue(res, 0, 4)[0] == 't' || PQgetvalue(res, 0, 5)[0] == 't' ||
        PQgetvalue(res, 0, 7)[0] == 't' || !role_may_login(role)) {
        abandon(db, res);
        return jc_reply_oauth_error(r, 400, "invalid_grant",
                                    "refresh token revoked or expired");
    }
    gen = strtoll(PQgetvalue(res, 0, 9), NULL, 10);
    {
        /* narrowing only: the requested scope must be within the granted one */
        char granted[600], stored[500];
        snprintf(stored, sizeof stored, "%s", PQgetvalue(res, 0, 2));
        if (!stored[0]) { /* issued before scopes were enforced: the role's defaults */
            effective_pg(role, "", granted, sizeof granted);
            snprintf(stored, sizeof stored, "%.*s", (int)strlen(granted) - 2, granted + 1);
            for (char *p = stored; *p; p++)
                if (*p == ',')
                    *p = ' ';
        }
        snprintf(granted, sizeof granted, "{%s}", stored);
        for (char *p = granted; *p; p++)
            if (*p == ' ')
                *p = ',';
        if (grant_scope(granted, scope_req, scope, sizeof scope) < 0) {
            abandon(db, res);
            return jc_reply_oauth_error(r, 400, "invalid_scope",
                                        "a requested scope was not granted");
        }
        if (!scope_req[0])
            snprintf(scope, sizeof scope, "%.500s", stored);
    }
    PQclear(res);
    PQclear(PQexecParams(db, "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1", 1,
                         NULL, vals, lens, fmts, 0));
    if (issue_refresh(db, cfg, family, sub, scope, gen, refresh, sizeof refresh) < 0) {
        exec_simple(db, "ROLLBACK");
        return jc_reply_error(r, 503, "unavailable", "cannot store the refresh token");
    }
    if (mint_and_commit(r, db, sub, role, scope, gen, family, access, sizeof access, jti, "refresh",
                        &ret) < 0)
        return ret;
    ret = token_answer(r, access, cfg->access_ttl_s, scope, refresh);
    sodium_memzero(refresh, sizeof refresh);
    return ret;
}

/* ---- client authentication: client_secret_jwt ---- */

/* principal_key fetches and opens principal's HMAC key kid ("" = current)
 * if it is valid now. Returns 0, 1 when there is no such valid key, -1 on a
 * PostgreSQL or keyring error. role/scopes/gen get the principal's. */
static int principal_key(jc_req *r, PGconn *db, const char *principal, const char *kid,
                         uint8_t key[32], char *role, size_t role_size, char *scopes,
                         size_t scopes_size, int64_t *gen)
{
    const char *vals[2] = {principal, kid};
    PGresult *res = PQexecParams(
        db,
        "SELECT k.key_id, k.secret, k.enc_key_id, p.role, array_to_string(p.scopes, ','),"
        " p.token_generation::text" /* the result is binary: read the number as text */
        " FROM principal_keys k JOIN principals p ON p.id = k.principal_id"
        " WHERE k.principal_id = $1 AND NOT p.disabled"
        "   AND (k.key_id = $2 OR ($2 = '' AND k.valid_until IS NULL))"
        "   AND (k.valid_until IS NULL OR k.valid_until > now())",
        2, NULL, vals, NULL, NULL, 1);
    uint8_t ad[256];
    size_t ad_len, out_len = 0;
    int rc;

    if (!pg_ok(res)) {
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 1;
    }
    snprintf(role, role_size, "%.*s", PQgetlength(res, 0, 3), PQgetvalue(res, 0, 3));
    snprintf(scopes, scopes_size, "{%.*s}", PQgetlength(res, 0, 4), PQgetvalue(res, 0, 4));
    *gen = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    if (PQgetisnull(res, 0, 2)) {
        rc = PQgetlength(res, 0, 1) == 32 ? 0 : -1;
        if (rc == 0)
            memcpy(key, PQgetvalue(res, 0, 1), 32);
    } else {
        char enc[80], keyid[80];
        uint8_t plain[64];
        snprintf(enc, sizeof enc, "%.*s", PQgetlength(res, 0, 2), PQgetvalue(res, 0, 2));
        snprintf(keyid, sizeof keyid, "%.*s", PQgetlength(res, 0, 0), PQgetvalue(res, 0, 0));
        ad_len = jc_keyring_principal_ad(principal, keyid, ad, sizeof ad);
        rc = (size_t)PQgetlength(res, 0, 1) <= sizeof plain + JC_KEYRING_OVERHEAD &&
                     jc_keyring_open(jc_http_keyring(r->h), enc, ad, ad_len,
                                     (const uint8_t *)PQgetvalue(res, 0, 1),
                                     (size_t)PQgetlength(res, 0, 1), plain, &out_len) == 0 &&
                     out_len == 32
                 ? 0
                 : -1;
        if (rc == 0)
            memcpy(key, plain, 32);
        sodium_memzero(plain, sizeof plain);
        if (rc != 0)
            LOG_ERROR("auth", "key %s of '%s' cannot be opened (keys file?)", keyid, principal);
    }
    PQclear(res);
    return rc;
}

/* client_auth authenticates the client_assertion of the form. Returns 0
 * with sub/role/scopes/gen filled, or -1 after answering. */
static int client_auth(jc_req *r, PGconn *db, char *sub, size_t sub_size, char *role,
                       size_t role_size, char *scopes, size_t scopes_size, int64_t *gen,
                       enum MHD_Result *ret)
{
    const jc_config *cfg = jc_http_config(r->h);
    char type[128], assertion[JC_JWT_MAX + 1], client_id[JC_HTTP_SUB_MAX + 1] = "";
    char iss[JC_HTTP_SUB_MAX + 2], jti[130], why[160], endpoint[600], aud[600], nbf_s[24];
    jc_jws *j = NULL;
    uint8_t key[32];
    int64_t exp, iat, nbf, now = (int64_t)time(NULL);
    int fa, ft, fc, rc, aud_ok = 0, a;
    const char *reason = NULL;

    ft = jc_req_form(r, "client_assertion_type", type, sizeof type);
    fa = jc_req_form(r, "client_assertion", assertion, sizeof assertion);
    fc = jc_req_form(r, "client_id", client_id, sizeof client_id);
    if (ft <= 0 || fa <= 0 || fc < 0 || strcmp(type, ASSERTION_TYPE) != 0) {
        *ret = jc_reply_oauth_error(r, 401, "invalid_client",
                                    "client_assertion_type '" ASSERTION_TYPE
                                    "' and client_assertion are required");
        return -1;
    }
    j = malloc(sizeof *j);
    if (!j) {
        *ret = jc_reply_error(r, 500, "internal", "out of memory");
        return -1;
    }
    if (jc_jws_parse(assertion, strlen(assertion), j, why, sizeof why) < 0) {
        reason = why;
        goto refuse;
    }
    if (strcmp(j->alg, "HS256") != 0) {
        reason = "the assertion must be signed HS256 (client_secret_jwt)";
        goto refuse;
    }
    if (jc_json_member_string(&j->cl, 0, "iss", iss, sizeof iss) <= 0 ||
        jc_json_member_string(&j->cl, 0, "sub", sub, sub_size) <= 0 || strcmp(iss, sub) != 0 ||
        (client_id[0] && strcmp(client_id, sub) != 0)) {
        reason = "iss and sub must both name the client (and client_id, if given)";
        goto refuse;
    }
    snprintf(endpoint, sizeof endpoint, "%s/v1/token", jc_http_public_url(r->h));
    a = jc_json_find(&j->cl, 0, "aud");
    if (a >= 0 && j->cl.toks[a].type == JC_JSON_STRING) {
        aud_ok = jc_json_string(&j->cl, a, aud, sizeof aud) >= 0 &&
                 (strcmp(aud, endpoint) == 0 || strcmp(aud, jc_http_issuer(r->h)) == 0);
    } else if (a >= 0 && j->cl.toks[a].type == JC_JSON_ARRAY) {
        uint32_t e = (uint32_t)a + 1;
        for (uint32_t m = 0; m < j->cl.toks[a].count && !aud_ok; m++) {
            aud_ok = jc_json_string(&j->cl, (int)e, aud, sizeof aud) >= 0 &&
                     (strcmp(aud, endpoint) == 0 || strcmp(aud, jc_http_issuer(r->h)) == 0);
            e = j->cl.toks[e].next;
        }
    }
    if (!aud_ok) {
        reason = "aud must name the token endpoint or the issuer";
        goto refuse;
    }
    if (jc_json_int64(&j->cl, jc_json_find(&j->cl, 0, "exp"), &exp) < 0 ||
        jc_json_int64(&j->cl, jc_json_find(&j->cl, 0, "iat"), &iat) < 0) {
        reason = "exp and iat are required numbers";
        goto refuse;
    }
    if (exp + cfg->clock_skew_s <= now) {
        reason = "the assertion has expired";
        goto refuse;
    }
    if (iat - cfg->clock_skew_s > now || exp < iat || exp - iat > cfg->assertion_max_lifetime_s) {
        reason = "iat is in the future, or exp - iat exceeds the longest lifetime allowed";
        goto refuse;
    }
    if (jc_json_find(&j->cl, 0, "nbf") >= 0 &&
        (jc_json_int64(&j->cl, jc_json_find(&j->cl, 0, "nbf"), &nbf) < 0 ||
         nbf - cfg->clock_skew_s > now)) {
        reason = "the assertion is not valid yet (nbf)";
        goto refuse;
    }
    rc = jc_json_member_string(&j->cl, 0, "jti", jti, sizeof jti);
    if (rc <= 0 || rc > 128) {
        reason = "jti is required (1-128 characters)";
        goto refuse;
    }
    rc = principal_key(r, db, sub, j->kid, key, role, role_size, scopes, scopes_size, gen);
    if (rc < 0) {
        free(j);
        *ret = jc_reply_error(r, 503, "unavailable", "cannot read the client's key");
        return -1;
    }
    if (rc > 0 || jc_jws_verify_hs256(j, key) != 0) {
        sodium_memzero(key, sizeof key);
        reason = "client authentication failed";
        goto refuse;
    }
    sodium_memzero(key, sizeof key);
    {
        PGresult *res;
        const char *vals[3] = {sub, jti, nbf_s};
        snprintf(nbf_s, sizeof nbf_s, "%lld", (long long)(exp + cfg->clock_skew_s));
        res = PQexecParams(db,
                           "INSERT INTO token_assertions (principal_id, jti, expires_at)"
                           " VALUES ($1, $2, to_timestamp($3::bigint)) ON CONFLICT DO NOTHING",
                           3, NULL, vals, NULL, NULL, 0);
        rc = pg_ok(res) ? (strcmp(PQcmdTuples(res), "1") == 0 ? 0 : 1) : -1;
        PQclear(res);
        if (rc < 0) {
            free(j);
            *ret = not_answering(r, NULL);
            return -1;
        }
        if (rc > 0) {
            reason = "this assertion was already used (jti)";
            goto refuse;
        }
    }
    free(j);
    r->caller.authenticated = 1;
    snprintf(r->caller.sub, sizeof r->caller.sub, "%s", sub);
    return 0;
refuse:
    LOG_INFO("auth", "client assertion refused: %s", reason);
    free(j);
    sodium_memzero(assertion, sizeof assertion);
    *ret = jc_reply_oauth_error(r, 401, "invalid_client", "%s", reason);
    return -1;
}

static enum MHD_Result grant_client_credentials(jc_req *r, PGconn *db)
{
    const jc_config *cfg = jc_http_config(r->h);
    char sub[JC_HTTP_SUB_MAX + 1], role[16], scopes[1024], scope_req[512] = "", scope[512];
    char access[JC_JWT_MAX], jti[40];
    int64_t exp, gen = 0;
    enum MHD_Result ret;

    if (jc_req_form(r, "scope", scope_req, sizeof scope_req) < 0)
        return jc_reply_oauth_error(r, 400, "invalid_request", "scope is malformed");
    if (client_auth(r, db, sub, sizeof sub, role, sizeof role, scopes, sizeof scopes, &gen,
                    &ret) < 0)
        return ret;
    {
        char eff[600];
        if (!effective_pg(role, scopes, eff, sizeof eff) ||
            grant_scope(eff, scope_req, scope, sizeof scope) < 0)
            return jc_reply_oauth_error(r, 400, "invalid_scope",
                                        "a requested scope is not granted");
    }
    if (jc_token_mint(jc_http_signkeys(r->h), jc_http_issuer(r->h), cfg->token_audience, sub, role,
                      scope, gen, cfg->access_ttl_s, access, sizeof access, jti, &exp) < 0)
        return jc_reply_error(r, 503, "unavailable", "no signing key is loaded");
    LOG_INFO("auth", "token %s issued to '%s' (client credentials)", jti, sub);
    return token_answer(r, access, cfg->access_ttl_s, scope, NULL);
}

enum MHD_Result jc_http_token(jc_req *r)
{
    char grant[64];
    int g = jc_req_form(r, "grant_type", grant, sizeof grant);
    PGconn *db;

    if (g < 0)
        return jc_reply_oauth_error(r, 400, "invalid_request",
                                    "the form is malformed (a parameter repeated, too long, or"
                                    " too many)");
    if (g == 0)
        return jc_reply_oauth_error(r, 400, "invalid_request", "grant_type is required");
    if (strcmp(grant, "client_credentials") != 0 && strcmp(grant, "password") != 0 &&
        strcmp(grant, "refresh_token") != 0)
        return jc_reply_oauth_error(r, 400, "unsupported_grant_type",
                                    "grant_type must be client_credentials, password or"
                                    " refresh_token");
    if (strcmp(grant, "password") == 0)
        return jc_req_defer(r, grant_password_deferred);
    db = jc_http_db(r->h);
    if (!db)
        return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
    jc_signkeys_refresh(jc_http_signkeys(r->h), db, 0);
    if (strcmp(grant, "refresh_token") == 0)
        return grant_refresh(r, db);
    return grant_client_credentials(r, db);
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
        client_auth(r, db, client, sizeof client, role, sizeof role, scopes, sizeof scopes, &gen,
                    &ret) < 0)
        return ret;
    if (strncmp(tok, REFRESH_PREFIX, strlen(REFRESH_PREFIX)) == 0) {
        uint8_t hash[32];
        const char *vals[2] = {(const char *)hash, client};
        int lens[2] = {sizeof hash, (int)strlen(client)}, fmts[2] = {1, 0};
        PGresult *res;
        crypto_generichash(hash, sizeof hash, (const uint8_t *)tok, strlen(tok), NULL, 0);
        res = PQexecParams(db,
                           "SELECT family::text FROM refresh_tokens WHERE token_hash = $1"
                           " AND ($2 = '' OR principal_id = $2)",
                           2, NULL, vals, lens, fmts, 0);
        if (!pg_ok(res))
            return not_answering(r, res);
        if (PQntuples(res) == 1) {
            char family[40], skew[16];
            const char *fv[2] = {family, skew};
            snprintf(family, sizeof family, "%s", PQgetvalue(res, 0, 0));
            snprintf(skew, sizeof skew, "%d", cfg->clock_skew_s);
            PQclear(res);
            res = PQexecParams(db, revoke_family_sql, 2, NULL, fv, NULL, NULL, 0);
            if (!pg_ok(res))
                return not_answering(r, res);
            LOG_INFO("auth", "refresh token family %s revoked with %s access token(s)", family,
                     PQcmdTuples(res));
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
            if (!pg_ok(res))
                return not_answering(r, res);
            PQclear(res);
            LOG_INFO("auth", "access token %s of '%s' revoked", cl.jti, cl.sub);
        }
    }
    sodium_memzero(tok, sizeof tok);
    return jc_reply(r, 200, "application/json", empty, sizeof empty - 1);
}

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
    if (!pg_ok(res)) {
        *ret = not_answering(r, res);
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
        if (s < 0 || !(have & (1u << s))) {
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
