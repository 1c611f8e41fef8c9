/*
 * http_meta.c - the routes anyone may call: liveness, readiness, the JWKS
 * and the authorization server metadata (RFC 8414).
 */
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"
#include "principals/scopes.h"
#include "jobcoord/jobcoord.h"
#include "tokens/access_tokens.h"

enum MHD_Result jc_http_healthz(jc_req *r)
{
    static const char ok[] = "{\"status\":\"alive\"}\n";
    return jc_reply(r, 200, "application/json", ok, sizeof ok - 1);
}

enum MHD_Result jc_http_readyz(jc_req *r)
{
    char body[512];
    int db_ok = 0, keys_ok, assigned, n, ready;
    PGconn *db = jc_http_db(r->h);

    assigned = atomic_load(&jc_http_runtime(r->h)->assigned_partitions) > 0;
    if (db) {
        PGresult *res = PQexec(db, "SELECT 1");
        db_ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (db_ok)
            jc_signkeys_refresh(jc_http_signkeys(r->h), db, 0);
    }
    keys_ok = jc_signkeys_ready(jc_http_signkeys(r->h));
    ready = db_ok && assigned && keys_ok;
    n = snprintf(body, sizeof body,
                 "{\"status\":\"%s\",\"postgresql\":%s,\"consumer_assigned\":%s,"
                 "\"signing_key\":%s,\"version\":\"%s\"}\n",
                 ready ? "ready" : "not ready", db_ok ? "true" : "false",
                 assigned ? "true" : "false", keys_ok ? "true" : "false", JC_VERSION_STR);
    return jc_reply(r, ready ? 200 : 503, "application/json", body, (size_t)n);
}

enum MHD_Result jc_http_jwks(jc_req *r)
{
    jc_buf b;
    enum MHD_Result ret;
    PGconn *db = jc_http_db(r->h);
    if (db)
        jc_signkeys_refresh(jc_http_signkeys(r->h), db, 0);
    if (!jc_signkeys_ready(jc_http_signkeys(r->h)))
        return jc_reply_error(r, 503, "unavailable", "the signing keys are not loaded yet");
    jc_buf_init(&b, 65536);
    jc_signkeys_jwks(jc_http_signkeys(r->h), &b);
    if (b.failed) {
        ret = jc_reply_error(r, 500, "internal", "the key set does not fit");
    } else {
        /* verifiers may cache the key set briefly (a rotation keeps the
         * retired key published for its grace, far longer than this) */
        static const char *const headers[] = {"Cache-Control", "max-age=60", NULL};
        ret = jc_reply_with_headers(r, 200, "application/json", jc_buf_str(&b), b.len, headers);
    }
    jc_buf_free(&b);
    return ret;
}

enum MHD_Result jc_http_oauth_metadata(jc_req *r)
{
    const char *base = jc_http_public_url(r->h);
    json_t *doc, *scopes = json_array();
    enum MHD_Result ret;
    jc_buf b, u, j, v;

    for (int i = 0; jc_scope_get(i); i++)
        json_array_append_new(scopes, json_string(jc_scope_get(i)->name));
    jc_buf_init(&b, 8192);
    jc_buf_init(&u, 1024);
    jc_buf_init(&j, 1024);
    jc_buf_init(&v, 1024);
    jc_buf_printf(&u, "%s/v1/token", base);
    jc_buf_printf(&j, "%s/.well-known/jwks.json", base);
    jc_buf_printf(&v, "%s/v1/revoke", base);
    /* access_token_audience is not in RFC 8414: the aud of the access tokens
     * issued here, so that a client or another service can verify them
     * (PROTOCOL.md 15.6) */
    doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[sss],s:[s],s:[s],s:[ss],s:[],s:o}", "issuer",
                    jc_http_issuer(r->h), "access_token_audience",
                    jc_http_config(r->h)->token_audience, "token_endpoint", jc_buf_str(&u),
                    "jwks_uri", jc_buf_str(&j), "revocation_endpoint", jc_buf_str(&v),
                    "grant_types_supported", "client_credentials", "password", "refresh_token",
                    "token_endpoint_auth_methods_supported", "client_secret_jwt",
                    "token_endpoint_auth_signing_alg_values_supported", "HS256",
                    "revocation_endpoint_auth_methods_supported", "client_secret_jwt", "none",
                    "response_types_supported", "scopes_supported", scopes);
    if (jc_json_dump(&b, doc) != 0 || jc_buf_addstr(&b, "\n") != 0)
        ret = jc_reply_error(r, 500, "internal", "the metadata does not fit");
    else
        ret = jc_reply_json(r, 200, &b);
    jc_buf_free(&b);
    jc_buf_free(&u);
    jc_buf_free(&j);
    jc_buf_free(&v);
    return ret;
}
