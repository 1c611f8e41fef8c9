/*
 * http_me.c - the caller's own routes (the contract: docs/http-api.md):
 *   GET  /v1/me           who the bearer token says the caller is
 *   POST /v1/me/password  change its own password with the current one;
 *                         its other sessions end
 *   POST /v1/me/totp      confirm its pending TOTP secret with a code
 * Any authenticated token may call them (no scope needed). Changing a
 * password hashes twice (Argon2id), so it runs on the hashing threads
 * (jc_req_defer), like the password grant, after the bearer token was
 * checked on the HTTP thread. A wrong current password counts toward the
 * login lockout exactly like a failed login, and a locked account cannot
 * change its password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/json_out.h"
#include "core/log.h"
#include "http/http_int.h"
#include "http/token_int.h"
#include "principals/passwords.h"
#include "tokens/sessions.h"

/* caller_family writes the session (refresh-token family) the caller's
 * access token was minted from into family ("" when none: a client
 * credentials token). Returns 0, -1 when PostgreSQL failed. */
static int caller_family(PGconn *db, const jc_req *r, char *family, size_t size)
{
    const char *p[1] = {r->caller.jti};
    PGresult *res = PQexecParams(db, "SELECT family::text FROM family_access_tokens WHERE jti = $1",
                                 1, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    family[0] = '\0';
    if (ok && PQntuples(res) == 1)
        snprintf(family, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return ok ? 0 : -1;
}

// reply_doc answers 200 with doc (jansson, written through jc_json_dump),
// or 500 when doc could not be made or written. Takes doc.
static enum MHD_Result reply_doc(jc_req *r, json_t *doc)
{
    enum MHD_Result ret;
    jc_buf b;

    jc_buf_init(&b, 4096);
    if (jc_json_dump(&b, doc) != 0) {
        jc_buf_free(&b);
        return jc_reply_error(r, 500, "internal", "out of memory");
    }
    ret = jc_reply_json(r, 200, &b);
    jc_buf_free(&b);
    return ret;
}

enum MHD_Result jc_http_me(jc_req *r)
{
    static const char *const none[] = {NULL};
    char family[40], exp[40];
    struct tm tm;
    time_t t;
    enum MHD_Result ret;
    PGconn *db;
    json_t *scopes;
    const char *p;

    if (jc_req_authenticate(r, &ret) != 0 || jc_query_check_or_reply(r, none, &ret) != 0)
        return ret;
    db = jc_http_db(r->h);
    if (!db || caller_family(db, r, family, sizeof family) != 0)
        return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
    t = (time_t)r->caller.exp;
    gmtime_r(&t, &tm);
    strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    scopes = json_array();
    p = r->caller.scope;
    while (scopes && *p) {
        size_t n = strcspn(p, " ");
        if (n && json_array_append_new(scopes, json_stringn(p, n)) != 0) {
            json_decref(scopes);
            scopes = NULL;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return reply_doc(r, json_pack("{s:o,s:o,s:o,s:o,s:s,s:o}", "principal",
                                  jc_json_text(r->caller.sub), "role", jc_json_text(r->caller.role),
                                  "scopes", scopes, "token_id", jc_json_text(r->caller.jti),
                                  "expires_at", exp, "family",
                                  family[0] ? jc_json_text(family) : json_null()));
}

/* ---- POST /v1/me/password ---- */

/* count_failure counts a wrong current password toward the lockout, as a
 * failed login does (token_password.c). */
static void count_failure(PGconn *db, const jc_config *cfg, const char *id)
{
    char maxf[16], lock_s[16];
    const char *v[3] = {id, maxf, lock_s};
    snprintf(maxf, sizeof maxf, "%d", cfg->login_max_failures);
    snprintf(lock_s, sizeof lock_s, "%d", cfg->lockout_s);
    PQclear(PQexecParams(db,
                         "UPDATE principals SET"
                         " locked_until = CASE WHEN failed_logins + 1 >= $2::int"
                         "   THEN now() + make_interval(secs => $3::int) ELSE locked_until END,"
                         " failed_logins = CASE WHEN failed_logins + 1 >= $2::int THEN 0"
                         "   ELSE failed_logins + 1 END"
                         " WHERE id = $1",
                         3, NULL, v, NULL, NULL, 0));
}

static enum MHD_Result change_password(jc_req *r)
{
    const jc_config *cfg = jc_http_config(r->h);
    char cur[JC_PASSWORD_MAX + 1], pw[JC_PASSWORD_MAX + 1], hash[crypto_pwhash_STRBYTES];
    char family[40], detail[160], err[256];
    const char *id = r->caller.sub, *p1[1] = {id};
    PGconn *db = jc_http_db(r->h);
    PGresult *res;
    long families = 0, tokens = 0;
    int fc, fn, known, locked, ok;
    enum MHD_Result ret;

    fc = jc_req_form(r, "current_password", cur, sizeof cur);
    fn = jc_req_form(r, "new_password", pw, sizeof pw);
    if (fc <= 0 || fn <= 0) {
        ret = jc_reply_error(r, 400, "bad_request",
                             fc < 0 || fn < 0
                                 ? "the form is malformed (a field repeated, or longer than %d"
                                   " bytes)"
                                 : "current_password and new_password are required, once each"
                                   " (at most %d bytes)",
                             JC_PASSWORD_MAX);
        goto wipe;
    }
    if (strlen(pw) < JC_PASSWORD_MIN) {
        ret = jc_reply_error(r, 400, "bad_request", "new_password must be %d..%d bytes",
                             JC_PASSWORD_MIN, JC_PASSWORD_MAX);
        goto wipe;
    }
    if (!db) {
        ret = jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
        goto wipe;
    }
    res = tok_begin_select(db,
                           "SELECT password_hash, coalesce(locked_until > now(), false)"
                           " FROM principals WHERE id = $1 FOR UPDATE",
                           p1, NULL, NULL);
    if (!res) {
        ret = tok_unavailable(r, NULL);
        goto wipe;
    }
    known = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
    ok = jc_password_check(known ? PQgetvalue(res, 0, 0) : NULL, cur) == 0;
    locked = known && PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    if (!known) {
        tok_exec(db, "ROLLBACK");
        jc_req_audit(r, db, id, "me.password", id, JC_AUDIT_REFUSED, "no password login");
        ret = jc_reply_error(r, 403, "forbidden", "'%s' has no password to change", id);
        goto wipe;
    }
    if (!ok || locked) {
        if (!locked)
            count_failure(db, cfg, id);
        tok_exec(db, "COMMIT");
        LOG_INFO("auth", "password change of '%s' refused (%s)", id,
                 locked ? "account locked" : "wrong current password");
        jc_req_audit(r, db, id, "me.password", id, JC_AUDIT_REFUSED,
                     locked ? "account locked" : "wrong current password");
        ret = jc_reply_error(r, 403, "forbidden",
                             "the current password is wrong, or the account is locked");
        goto wipe;
    }
    if (jc_password_hash(pw, hash) != 0) {
        tok_exec(db, "ROLLBACK");
        ret = jc_reply_error(r, 503, "unavailable", "out of memory hashing the password");
        goto wipe;
    }
    {
        const char *p2[2] = {id, hash};
        res = PQexecParams(db,
                           "UPDATE principals SET password_hash = $2, password_changed_at = now(),"
                           " failed_logins = 0, locked_until = NULL WHERE id = $1",
                           2, NULL, p2, NULL, NULL, 0);
        ok = tok_pg_ok(res);
        PQclear(res);
    }
    sodium_memzero(hash, sizeof hash);
    if (!ok || caller_family(db, r, family, sizeof family) != 0 ||
        jc_sessions_revoke(db, id, NULL, family[0] ? family : NULL, cfg->clock_skew_s, &families,
                           &tokens, err, sizeof err) != JC_PR_OK) {
        tok_exec(db, "ROLLBACK");
        ret = tok_unavailable(r, NULL);
        goto wipe;
    }
    res = PQexec(db, "COMMIT");
    ok = tok_pg_ok(res);
    PQclear(res);
    if (!ok) {
        ret = tok_unavailable(r, NULL);
        goto wipe;
    }
    LOG_INFO("auth", "'%s' changed its password (%ld other session(s) revoked)", id, families);
    snprintf(detail, sizeof detail, "%ld other session(s) revoked with %ld access token(s)",
             families, tokens);
    jc_req_audit(r, db, id, "me.password", id, JC_AUDIT_OK, detail);
    ret =
        reply_doc(r, json_pack("{s:b,s:I,s:I}", "password_changed", 1, "sessions_revoked",
                               (json_int_t)families, "access_tokens_revoked", (json_int_t)tokens));
wipe:
    sodium_memzero(cur, sizeof cur);
    sodium_memzero(pw, sizeof pw);
    return ret;
}

enum MHD_Result jc_http_me_password(jc_req *r)
{
    enum MHD_Result ret;

    if (jc_req_authenticate(r, &ret) != 0)
        return ret;
    return jc_req_defer(r, change_password);
}

/* ---- POST /v1/me/totp ---- */

enum MHD_Result jc_http_me_totp(jc_req *r)
{
    const jc_config *cfg = jc_http_config(r->h);
    char code[16], err[256];
    const char *id, *p1[1];
    enum MHD_Result ret;
    PGconn *db;
    PGresult *res;
    jc_pr_status st;
    int fc, wrong = 0, locked;

    if (jc_req_authenticate(r, &ret) != 0)
        return ret;
    id = r->caller.sub;
    p1[0] = id;
    fc = jc_req_form(r, "code", code, sizeof code);
    if (fc <= 0)
        return jc_reply_error(r, 400, "bad_request",
                              fc < 0 ? "the form is malformed (code repeated or too long)"
                                     : "code is required, once");
    if (strlen(code) != JC_TOTP_DIGITS || strspn(code, "0123456789") != JC_TOTP_DIGITS)
        return jc_reply_error(r, 400, "bad_request", "code must be %d digits", JC_TOTP_DIGITS);
    db = jc_http_db(r->h);
    if (!db)
        return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
    res = PQexecParams(db,
                       "SELECT coalesce(locked_until > now(), false) FROM principals WHERE id = $1",
                       1, NULL, p1, NULL, NULL, 0);
    if (!tok_pg_ok(res))
        return tok_unavailable(r, res);
    locked = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (locked) {
        jc_req_audit(r, db, id, "me.totp", id, JC_AUDIT_REFUSED, "account locked");
        return jc_reply_error(r, 403, "forbidden", "the account is locked");
    }
    st = jc_principal_totp_confirm(db, jc_http_keyring(r->h), id, code, &wrong, err, sizeof err);
    sodium_memzero(code, sizeof code);
    if (st == JC_PR_OK) {
        LOG_INFO("auth", "'%s' confirmed its TOTP secret", id);
        jc_req_audit(r, db, id, "me.totp", id, JC_AUDIT_OK, "TOTP secret confirmed");
        return reply_doc(r, json_pack("{s:b,s:b}", "totp_enabled", 1, "totp_pending", 0));
    }
    if (st == JC_PR_ERROR) {
        LOG_ERROR("auth", "%s", err);
        return jc_reply_error(r, 503, "unavailable", "the TOTP secret cannot be read");
    }
    if (wrong) { /* counts toward the lockout, like a failed login */
        count_failure(db, cfg, id);
        jc_req_audit(r, db, id, "me.totp", id, JC_AUDIT_REFUSED, "wrong code");
        return jc_reply_error(r, 403, "forbidden", "wrong code");
    }
    jc_req_audit(r, db, id, "me.totp", id, JC_AUDIT_REFUSED, "no pending TOTP secret");
    return jc_reply_error(r, 409, "conflict", "%s", err);
}
