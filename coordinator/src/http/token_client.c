/*
 * token_client.c - client authentication at the token endpoint
 * (client_secret_jwt, RFC 7523 section 2.2: a JWT the principal signs HS256
 * with its HMAC key; each assertion's jti is stored until it expires, so it
 * is accepted once, on any instance) and the client_credentials grant.
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
#include "principals/key_age.h"
#include "principals/principals.h"
#include "principals/scopes.h"
#include "tokens/access_tokens.h"


/* ---- client authentication: client_secret_jwt ---- */

/* principal_key fetches and opens principal's HMAC key kid ("" = current)
 * if it is valid now. Returns 0, 1 when there is no such valid key, -1 on a
 * PostgreSQL or keyring error. role/scopes/gen get the principal's. */
static int principal_key(jc_req *r, PGconn *db, const char *principal, const char *kid,
                         uint8_t key[32], char *role, size_t role_size, char *scopes,
                         size_t scopes_size, int64_t *gen, char *key_id, size_t key_id_size)
{
    char max_age[16];
    const char *vals[3] = {principal, kid, max_age};
    PGresult *res;
    uint8_t ad[256];
    size_t ad_len, out_len = 0;
    int rc;

    snprintf(max_age, sizeof max_age, "%d", jc_http_config(r->h)->max_key_age_s);
    /* a key older than auth.max_key_age_s is refused like an expired one
     * (key_age.h) */
    res = PQexecParams(
        db,
        "SELECT k.key_id, k.secret, k.enc_key_id, p.role, array_to_string(p.scopes, ','),"
        " p.token_generation::text" /* the result is binary: read the number as text */
        " FROM principal_keys k JOIN principals p ON p.id = k.principal_id"
        " WHERE k.principal_id = $1 AND NOT p.disabled"
        "   AND (k.key_id = $2 OR ($2 = '' AND k.valid_until IS NULL))"
        "   AND (k.valid_until IS NULL OR k.valid_until > now())"
        "   AND coalesce(" JC_SQL_KEY_AGE_END("k", "$3::int") " > now(), true)",
        3, NULL, vals, NULL, NULL, 1);
    if (!tok_pg_ok(res)) {
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
    snprintf(key_id, key_id_size, "%.*s", PQgetlength(res, 0, 0), PQgetvalue(res, 0, 0));
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

/* tok_client_auth authenticates the client_assertion of the form. Returns 0
 * with sub/role/scopes/gen filled, or -1 after answering. */
int tok_client_auth(jc_req *r, PGconn *db, char *sub, size_t sub_size, char *role,
                       size_t role_size, char *scopes, size_t scopes_size, int64_t *gen,
                       enum MHD_Result *ret)
{
    const jc_config *cfg = jc_http_config(r->h);
    char type[128], assertion[JC_JWT_MAX + 1], client_id[JC_HTTP_SUB_MAX + 1] = "";
    char iss[JC_HTTP_SUB_MAX + 2], jti[130], why[160], endpoint[600], aud[600], nbf_s[24];
    char key_id[80];
    jc_jws *j = NULL;
    uint8_t key[32];
    int64_t exp, iat, nbf, now = (int64_t)time(NULL);
    int fa, ft, fc, rc, aud_ok = 0;
    const json_t *a;
    const char *reason = NULL;

    sub[0] = '\0';
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
    if (jc_json_member_string(j->cl, "iss", iss, sizeof iss) <= 0 ||
        jc_json_member_string(j->cl, "sub", sub, sub_size) <= 0 || strcmp(iss, sub) != 0 ||
        (client_id[0] && strcmp(client_id, sub) != 0)) {
        reason = "iss and sub must both name the client (and client_id, if given)";
        goto refuse;
    }
    snprintf(endpoint, sizeof endpoint, "%s/v1/token", jc_http_public_url(r->h));
    a = json_object_get(j->cl, "aud");
    if (json_is_string(a)) {
        aud_ok = jc_json_string(a, aud, sizeof aud) >= 0 &&
                 (strcmp(aud, endpoint) == 0 || strcmp(aud, jc_http_issuer(r->h)) == 0);
    } else if (json_is_array(a)) {
        const json_t *e;
        size_t m;
        json_array_foreach (a, m, e) {
            aud_ok = jc_json_string(e, aud, sizeof aud) >= 0 &&
                     (strcmp(aud, endpoint) == 0 || strcmp(aud, jc_http_issuer(r->h)) == 0);
            if (aud_ok)
                break;
        }
    }
    if (!aud_ok) {
        reason = "aud must name the token endpoint or the issuer";
        goto refuse;
    }
    if (jc_json_int64(json_object_get(j->cl, "exp"), &exp) < 0 ||
        jc_json_int64(json_object_get(j->cl, "iat"), &iat) < 0) {
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
    if (json_object_get(j->cl, "nbf") &&
        (jc_json_int64(json_object_get(j->cl, "nbf"), &nbf) < 0 || nbf - cfg->clock_skew_s > now)) {
        reason = "the assertion is not valid yet (nbf)";
        goto refuse;
    }
    rc = jc_json_member_string(j->cl, "jti", jti, sizeof jti);
    if (rc <= 0 || rc > 128) {
        reason = "jti is required (1-128 characters)";
        goto refuse;
    }
    rc = principal_key(r, db, sub, j->kid, key, role, role_size, scopes, scopes_size, gen, key_id,
                       sizeof key_id);
    if (rc < 0) {
        jc_jws_free(j);
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
        const char *vals[4] = {sub, jti, nbf_s, key_id};
        snprintf(nbf_s, sizeof nbf_s, "%lld", (long long)(exp + cfg->clock_skew_s));
        /* the key's last use is written with the assertion, at most once a
         * minute (024_principal_fleet.sql) */
        res = PQexecParams(db,
                           "WITH a AS (INSERT INTO token_assertions (principal_id, jti, expires_at)"
                           "           VALUES ($1, $2, to_timestamp($3::bigint))"
                           "           ON CONFLICT DO NOTHING RETURNING 1),"
                           "     u AS (UPDATE principal_keys SET last_used_at = now()"
                           "            WHERE principal_id = $1 AND key_id = $4"
                           "              AND EXISTS (SELECT 1 FROM a)"
                           "              AND (last_used_at IS NULL"
                           "                   OR last_used_at < now() - interval '1 minute'))"
                           " SELECT count(*) FROM a",
                           4, NULL, vals, NULL, NULL, 0);
        rc = tok_pg_ok(res) ? (strcmp(PQgetvalue(res, 0, 0), "1") == 0 ? 0 : 1) : -1;
        PQclear(res);
        if (rc < 0) {
            jc_jws_free(j);
            free(j);
            *ret = tok_unavailable(r, NULL);
            return -1;
        }
        if (rc > 0) {
            reason = "this assertion was already used (jti)";
            goto refuse;
        }
    }
    jc_jws_free(j);
    free(j);
    r->caller.authenticated = 1;
    snprintf(r->caller.sub, sizeof r->caller.sub, "%s", sub);
    return 0;
refuse:
    LOG_INFO("auth", "client assertion refused: %s", reason);
    {
        char detail[200];
        const char *who = client_id[0] ? client_id : sub;
        snprintf(detail, sizeof detail, "client authentication refused: %s", reason);
        jc_req_audit(r, db, who, "auth.login.client", who, JC_AUDIT_REFUSED, detail);
    }
    jc_jws_free(j);
    free(j);
    sodium_memzero(assertion, sizeof assertion);
    *ret = jc_reply_oauth_error(r, 401, "invalid_client", "%s", reason);
    return -1;
}

enum MHD_Result tok_grant_client_credentials(jc_req *r, PGconn *db)
{
    const jc_config *cfg = jc_http_config(r->h);
    char sub[JC_HTTP_SUB_MAX + 1], role[16], scopes[1024], scope_req[512] = "", scope[512];
    char access[JC_JWT_MAX], jti[40];
    int64_t exp, gen = 0;
    enum MHD_Result ret;

    if (jc_req_form(r, "scope", scope_req, sizeof scope_req) < 0)
        return jc_reply_oauth_error(r, 400, "invalid_request", "scope is malformed");
    if (tok_client_auth(r, db, sub, sizeof sub, role, sizeof role, scopes, sizeof scopes, &gen,
                    &ret) < 0)
        return ret;
    {
        char eff[600];
        if (!tok_effective_pg(role, scopes, eff, sizeof eff) ||
            tok_grant_scope(eff, scope_req, scope, sizeof scope) < 0) {
            jc_req_audit(r, db, sub, "auth.login.client", sub, JC_AUDIT_REFUSED,
                         "a requested scope is not granted");
            return jc_reply_oauth_error(r, 400, "invalid_scope",
                                        "a requested scope is not granted");
        }
    }
    if (jc_token_mint(jc_http_signkeys(r->h), jc_http_issuer(r->h), cfg->token_audience, sub, role,
                      scope, gen, cfg->access_ttl_s, access, sizeof access, jti, &exp) < 0)
        return jc_reply_error(r, 503, "unavailable", "no signing key is loaded");
    LOG_INFO("auth", "token %s issued to '%s' (client credentials)", jti, sub);
    jc_req_audit(r, db, sub, "auth.login.client", sub, JC_AUDIT_OK, "client credentials");
    return tok_answer(r, access, cfg->access_ttl_s, scope, NULL);
}
