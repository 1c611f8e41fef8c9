/*
 * token_password.c - the password grant of POST /v1/token: admins and
 * readers, Argon2id hash, lockout after auth.login_max_failures for
 * auth.lockout_s, TOTP when enabled. Unknown users, wrong passwords and
 * locked accounts cost the same hash and get the same answer. It runs on a
 * hashing thread (jc_req_defer, http_defer.c), never on an HTTP thread.
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


/* ---- grant: password ---- */

/* totp_required tells whether role is in auth.totp_required_roles. */
static int totp_required(const jc_config *cfg, const char *role)
{
    const char *p = cfg->totp_required_roles ? cfg->totp_required_roles : "";
    size_t n = strlen(role);

    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, role, n) == 0)
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

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
    res = tok_begin_select(db,
                           "SELECT role, disabled, password_hash, locked_until > now(),"
                           " totp_enabled, encode(totp_secret, 'hex'), totp_enc_key_id,"
                           " totp_last_step, array_to_string(scopes, ','), token_generation,"
                           " totp_algorithm FROM principals WHERE id = $1 FOR UPDATE",
                           vals, NULL, NULL);
    if (!res) {
        sodium_memzero(pw, sizeof pw);
        return tok_unavailable(r, NULL);
    }
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 2) && PQgetvalue(res, 0, 1)[0] == 'f' &&
        tok_role_may_login(PQgetvalue(res, 0, 0)))
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
            tok_abandon(db, res);
            LOG_INFO("auth", "login of '%s': TOTP code missing", user);
            jc_req_audit(r, db, user, "auth.login.password", user, JC_AUDIT_REFUSED,
                         "TOTP code missing");
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
            jc_totp_alg alg = JC_TOTP_SHA256;
            jc_totp_alg_parse(PQgetvalue(res, 0, 10), &alg);
            ok = jc_totp_check(alg, secret, sizeof secret, totp, (int64_t)time(NULL), 1,
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
        const char *why = !known      ? "unknown, disabled, no password or role"
                          : locked    ? "account locked"
                          : need_totp ? "wrong password or TOTP code"
                                      : "wrong password";
        PQclear(res);
        tok_exec(db, "COMMIT");
        LOG_INFO("auth", "login of '%s' refused (%s)", user, why);
        jc_req_audit(r, db, user, "auth.login.password", user, JC_AUDIT_REFUSED, why);
        return jc_reply_oauth_error(r, 400, "invalid_grant", GENERIC_LOGIN_ERROR);
    }
    if (!need_totp && totp_required(cfg, PQgetvalue(res, 0, 0))) {
        /* the password was right: saying why does not help a guesser */
        tok_abandon(db, res);
        LOG_INFO("auth", "login of '%s' refused: TOTP is required for its role", user);
        jc_req_audit(r, db, user, "auth.login.password", user, JC_AUDIT_REFUSED,
                     "TOTP required for the role (auth.totp_required_roles) but not confirmed");
        return jc_reply_oauth_error(
            r, 400, "invalid_grant",
            "a confirmed TOTP second factor is required for this role: an operator runs"
            " `jobcoord-admin user totp enable`, then the code of the enrolled device confirms it"
            " (`jobcoord-admin user totp confirm`)");
    }
    if (!tok_effective_pg(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 8), eff, sizeof eff) ||
        tok_grant_scope(eff, scope_req, scope, sizeof scope) < 0) {
        tok_abandon(db, res);
        jc_req_audit(r, db, user, "auth.login.password", user, JC_AUDIT_REFUSED,
                     "a requested scope is not granted");
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
        char address[64];
        jc_req_address(r, address, sizeof address);
        if (tok_issue_refresh(db, cfg, family, user, scope,
                              strtoll(PQgetvalue(res, 0, 9), NULL, 10), address, refresh,
                              sizeof refresh) < 0) {
            tok_abandon(db, res);
            return jc_reply_error(r, 503, "unavailable", "cannot store the refresh token");
        }
    }
    n = tok_mint_and_commit(r, db, user, PQgetvalue(res, 0, 0), scope,
                        strtoll(PQgetvalue(res, 0, 9), NULL, 10), family, access, sizeof access,
                        jti, "login", &ret);
    PQclear(res);
    if (n < 0)
        return ret;
    LOG_INFO("auth", "'%s' logged in with a password (token %s)", user, jti);
    {
        char detail[96];
        snprintf(detail, sizeof detail, "session (refresh-token family) %s", family);
        jc_req_audit(r, db, user, "auth.login.password", user, JC_AUDIT_OK, detail);
    }
    ret = tok_answer(r, access, cfg->access_ttl_s, scope, refresh);
    sodium_memzero(refresh, sizeof refresh);
    return ret;
}

/* tok_grant_password_deferred is the password grant as it runs on a hashing
 * thread (jc_req_defer), with that thread's own PostgreSQL connection. */
enum MHD_Result tok_grant_password_deferred(jc_req *r)
{
    PGconn *db = jc_http_db(r->h);
    if (!db)
        return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
    jc_signkeys_refresh(jc_http_signkeys(r->h), db, 0);
    return grant_password(r, db);
}
